/*-------------------------------------------------------------------------
 *
 * netguard.c
 *	  Address classification and the per-service private address policy
 *	  of the worker's HTTP requests (see netguard.h).
 *
 * http.c asks netguard_allowed() twice for every request: when curl opens
 * a socket and again, from the address the connection actually has, just
 * before each request is sent (so a kept-alive connection is checked too).
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netguard.h"

/* IPv4 ranges that are not public unicast (RFC 6890 and friends) */
static const struct
{
	uint32_t	net;
	int			bits;
}			v4_private_ranges[] =
{
	{0x00000000, 8},			/* "this network", 0.0.0.0 */
	{0x0a000000, 8},			/* RFC 1918 */
	{0x64400000, 10},			/* CGNAT 100.64/10 */
	{0x7f000000, 8},			/* loopback */
	{0xa9fe0000, 16},			/* link-local 169.254/16 */
	{0xac100000, 12},			/* RFC 1918 172.16/12 */
	{0xc0000000, 24},			/* IETF protocol assignments 192.0.0/24 */
	{0xc0000200, 24},			/* TEST-NET-1 */
	{0xc0586300, 24},			/* 6to4 relay anycast 192.88.99/24 */
	{0xc0a80000, 16},			/* RFC 1918 192.168/16 */
	{0xc6120000, 15},			/* benchmarking 198.18/15 */
	{0xc6336400, 24},			/* TEST-NET-2 */
	{0xcb007100, 24},			/* TEST-NET-3 */
	{0xe0000000, 4},			/* multicast */
	{0xf0000000, 4},			/* reserved, broadcast */
};

/*
 * v4_in
 *		Is a inside net/bits?
 */
static bool
v4_in(uint32_t a, uint32_t net, int bits)
{
	uint32_t	mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);

	return (a & mask) == (net & mask);
}

/*
 * bytes_in
 *		Is the first bits bits of a equal to those of net?
 */
static bool
bytes_in(const uint8_t *a, const uint8_t *net, int bits)
{
	int			full = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/*
 * get_v4
 *		The big-endian 32-bit value at b.
 */
static uint32_t
get_v4(const uint8_t *b)
{
	return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		((uint32_t) b[2] << 8) | (uint32_t) b[3];
}

/*
 * all_zero
 *		Are the n bytes at b zero?
 */
static bool
all_zero(const uint8_t *b, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/*
 * netguard_v4_private
 *		Is the IPv4 address (host order) outside public unicast space?
 */
bool
netguard_v4_private(uint32_t a)
{
	for (size_t i = 0; i < sizeof(v4_private_ranges) / sizeof(v4_private_ranges[0]); i++)
		if (v4_in(a, v4_private_ranges[i].net, v4_private_ranges[i].bits))
			return true;
	return false;
}

/*
 * netguard_v6_embedded_v4
 *		Decode the IPv4 address carried by an IPv6 address: IPv4-mapped
 *		::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, IPv4-compatible
 *		::a.b.c.d, NAT64 64:ff9b::a.b.c.d and 64:ff9b:1::a.b.c.d (the /96
 *		layout), 6to4 2002:AABB:CCDD::/48 and Teredo 2001:0::/32 (client
 *		address = last 32 bits inverted).
 */
bool
netguard_v6_embedded_v4(const uint8_t b[16], uint32_t *v4)
{
	static const uint8_t nat64[4] = {0x00, 0x64, 0xff, 0x9b};
	static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};

	if (all_zero(b, 10) && b[10] == 0xff && b[11] == 0xff)
		*v4 = get_v4(b + 12);	/* mapped */
	else if (all_zero(b, 8) && b[8] == 0xff && b[9] == 0xff &&
			 b[10] == 0 && b[11] == 0)
		*v4 = get_v4(b + 12);	/* translated */
	else if (all_zero(b, 12))
		*v4 = get_v4(b + 12);	/* compatible (also :: and ::1) */
	else if (memcmp(b, nat64, 4) == 0 && all_zero(b + 4, 8))
		*v4 = get_v4(b + 12);	/* NAT64 well-known prefix */
	else if (memcmp(b, nat64_local, 6) == 0 && all_zero(b + 6, 6))
		*v4 = get_v4(b + 12);	/* NAT64 local-use prefix, /96 layout */
	else if (b[0] == 0x20 && b[1] == 0x02)
		*v4 = get_v4(b + 2);	/* 6to4 */
	else if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
		*v4 = get_v4(b + 12) ^ 0xffffffffu;	/* Teredo client */
	else
		return false;
	return true;
}

/*
 * netguard_v6_private
 *		Is the IPv6 address outside public unicast space?  Only 2000::/3 is
 *		global unicast; inside it documentation, ORCHID and benchmarking
 *		ranges are not public, and addresses embedding IPv4 are judged by
 *		that address (a Teredo address by its server and its client).
 *		Site-local fec0::/10, unique local fc00::/7, link-local fe80::/10,
 *		multicast and the NAT64 local-use prefix 64:ff9b:1::/48 are outside
 *		2000::/3 or refused explicitly.
 */
bool
netguard_v6_private(const uint8_t b[16])
{
	static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01};
	static const uint8_t doc[4] = {0x20, 0x01, 0x0d, 0xb8};
	static const uint8_t orchid[4] = {0x20, 0x01, 0x00, 0x10};
	static const uint8_t bench[6] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00};
	static const uint8_t doc2[3] = {0x3f, 0xff, 0x00};
	uint32_t	v4;

	if (bytes_in(b, nat64_local, 48))
		return true;			/* local-use: whatever it embeds */
	if (netguard_v6_embedded_v4(b, &v4))
	{
		if (netguard_v4_private(v4))
			return true;
		/* Teredo: the server address too */
		if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
			return netguard_v4_private(get_v4(b + 4));
		return false;
	}
	if ((b[0] & 0xe0) != 0x20)
		return true;			/* not global unicast 2000::/3 */
	return bytes_in(b, doc, 32) || bytes_in(b, orchid, 28) ||
		bytes_in(b, bench, 48) || bytes_in(b, doc2, 20);
}

/*
 * netguard_parse_addr
 *		A numeric IPv4 (dotted quad) or IPv6 address, IPv6 optionally in
 *		brackets.
 */
bool
netguard_parse_addr(const char *text, int *family, uint8_t addr[16])
{
	char		buf[64];
	size_t		len = strlen(text);

	memset(addr, 0, 16);
	if (len >= sizeof(buf))
		return false;
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
	{
		memcpy(buf, text + 1, len - 2);
		buf[len - 2] = '\0';
		*family = 6;
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	if (inet_pton(AF_INET, text, addr) == 1)
	{
		*family = 4;
		return true;
	}
	*family = 6;
	return inet_pton(AF_INET6, text, addr) == 1;
}

/*
 * mask_host_bits
 *		Zero the bits of addr after the first bits (nbytes long).
 */
static void
mask_host_bits(uint8_t *addr, int nbytes, int bits)
{
	for (int i = 0; i < nbytes; i++)
	{
		int			keep = bits - i * 8;

		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (uint8_t) (0xff << (8 - keep));
	}
}

/*
 * parse_range
 *		"ADDR", "ADDR/BITS", "[V6]", "[V6]/BITS" or "*" into a rule.
 */
static bool
parse_range(const char *text, NetGuardRule *r, char *err, size_t errlen)
{
	char		buf[80];
	char	   *slash;
	long		bits = -1;

	if (strcmp(text, "*") == 0)
	{
		r->any = true;
		return true;
	}
	if (strlen(text) >= sizeof(buf))
	{
		snprintf(err, errlen, "address \"%.40s...\" is too long", text);
		return false;
	}
	strcpy(buf, text);
	slash = strrchr(buf, '/');
	if (slash != NULL && strchr(slash, ']') == NULL)
	{
		char	   *end;

		*slash = '\0';
		if (!isdigit((unsigned char) slash[1]))
			bits = -2;
		else
		{
			bits = strtol(slash + 1, &end, 10);
			if (*end != '\0')
				bits = -2;
		}
	}
	if (!netguard_parse_addr(buf, &r->family, r->addr))
	{
		snprintf(err, errlen, "\"%s\" is not a numeric IPv4 or IPv6 address", buf);
		return false;
	}
	if (bits == -1)
		bits = r->family == 4 ? 32 : 128;
	if (bits < 0 || bits > (r->family == 4 ? 32 : 128))
	{
		snprintf(err, errlen, "bad prefix length in \"%s\"", text);
		return false;
	}
	r->prefix = (int) bits;
	mask_host_bits(r->addr, r->family == 4 ? 4 : 16, r->prefix);
	return true;
}

/*
 * parse_entry
 *		One list entry: an address range (every service), "service",
 *		"service:RANGE" or "*:RANGE".
 */
static bool
parse_entry(const char *e, NetGuardRule *r, char *err, size_t errlen)
{
	const char *colon;
	size_t		n;
	char		tmp[128];

	memset(r, 0, sizeof(*r));
	/* a whole address first: "10.0.0.5", "fd00::1", "[::1]/128" */
	if (isdigit((unsigned char) e[0]) || e[0] == '[' || e[0] == ':' ||
		(strchr(e, ':') && strchr(strchr(e, ':') + 1, ':')))
	{
		char		ignore[8];

		if (parse_range(e, r, ignore, sizeof(ignore)))
			return true;
		memset(r, 0, sizeof(*r));
	}
	colon = strchr(e, ':');
	n = colon ? (size_t) (colon - e) : strlen(e);
	if (n == 1 && e[0] == '*')
		r->service[0] = '\0';
	else
	{
		if (n == 0 || n >= NETGUARD_NAME_LEN || !isalpha((unsigned char) e[0]))
		{
			snprintf(err, errlen, "expected a service name or an address at \"%.40s\"", e);
			return false;
		}
		for (size_t i = 0; i < n; i++)
		{
			if (!isalnum((unsigned char) e[i]) && e[i] != '_')
			{
				snprintf(err, errlen, "expected a service name or an address at \"%.40s\"", e);
				return false;
			}
			r->service[i] = (char) tolower((unsigned char) e[i]);
		}
		r->service[n] = '\0';
	}
	if (colon == NULL)
	{
		r->any = true;
		return true;
	}
	snprintf(tmp, sizeof(tmp), "%s", colon + 1);
	if (tmp[0] == '\0')
	{
		snprintf(err, errlen, "missing address after \"%.*s:\"", (int) n, e);
		return false;
	}
	return parse_range(tmp, r, err, errlen);
}

/*
 * bool_word
 *		1 for on/true/yes/1, 0 for off/false/no/0/"", -1 otherwise.
 */
static int
bool_word(const char *s)
{
	static const char *const on[] = {"on", "true", "yes", "1", NULL};
	static const char *const off[] = {"off", "false", "no", "0", "", NULL};

	for (int i = 0; on[i]; i++)
		if (strcasecmp(s, on[i]) == 0)
			return 1;
	for (int i = 0; off[i]; i++)
		if (strcasecmp(s, off[i]) == 0)
			return 0;
	return -1;
}

/*
 * netguard_parse_policy
 *		Parse flowdb.allow_private_hosts (see netguard.h).
 */
bool
netguard_parse_policy(const char *spec, NetGuardPolicy *p, char *err, size_t errlen)
{
	const char *s = spec ? spec : "";

	memset(p, 0, sizeof(*p));
	while (*s)
	{
		char		entry[128];
		size_t		n = 0;
		size_t		len;
		int			b;

		while (*s == ' ' || *s == '\t')
			s++;
		while (s[n] != '\0' && s[n] != ',')
			n++;
		len = n;
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len >= sizeof(entry))
		{
			snprintf(err, errlen, "entry \"%.40s...\" is too long", s);
			return false;
		}
		memcpy(entry, s, len);
		entry[len] = '\0';
		s += n;
		if (*s == ',')
			s++;
		if (len == 0)
			continue;
		b = bool_word(entry);
		if (b >= 0 && spec != NULL && strchr(spec, ',') == NULL)
		{
			if (b == 1)
			{
				p->nrules = 1;
				p->rules[0].any = true;
			}
			return true;
		}
		if (p->nrules == NETGUARD_MAX_RULES)
		{
			snprintf(err, errlen, "more than %d entries", NETGUARD_MAX_RULES);
			return false;
		}
		if (!parse_entry(entry, &p->rules[p->nrules], err, errlen))
			return false;
		p->nrules++;
	}
	return true;
}

/*
 * netguard_for_service
 *		Keep the rules that apply to service; service names are dropped.
 */
void
netguard_for_service(const NetGuardPolicy *p, const char *service, NetGuardPolicy *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < p->nrules; i++)
	{
		const NetGuardRule *r = &p->rules[i];

		if (r->service[0] != '\0' && (service == NULL || strcmp(r->service, service) != 0))
			continue;
		out->rules[out->nrules] = *r;
		out->rules[out->nrules].service[0] = '\0';
		out->nrules++;
	}
}

/*
 * netguard_policy_text
 *		"svc:addr/bits,*:*,..." in rule order.
 */
void
netguard_policy_text(const NetGuardPolicy *p, char *buf, size_t len)
{
	size_t		used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < p->nrules && used < len; i++)
	{
		const NetGuardRule *r = &p->rules[i];
		char		a[INET6_ADDRSTRLEN] = "";
		int			w;

		if (!r->any)
			inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
		if (r->any)
			w = snprintf(buf + used, len - used, "%s%s:*", i ? "," : "",
						 r->service[0] ? r->service : "*");
		else
			w = snprintf(buf + used, len - used, "%s%s:%s%s%s/%d", i ? "," : "",
						 r->service[0] ? r->service : "*",
						 r->family == 6 ? "[" : "", a, r->family == 6 ? "]" : "",
						 r->prefix);
		if (w < 0)
			break;
		used += (size_t) w;
	}
}

/*
 * rule_matches
 *		Does the rule's range hold the address (an IPv4 rule also holds the
 *		IPv6 forms embedding one of its addresses)?
 */
static bool
rule_matches(const NetGuardRule *r, int family, const uint8_t addr[16])
{
	if (r->any)
		return true;
	if (r->family == family)
		return bytes_in(addr, r->addr, r->prefix);
	if (r->family == 4 && family == 6)
	{
		uint32_t	v4;
		uint8_t		b[4];

		if (!netguard_v6_embedded_v4(addr, &v4))
			return false;
		b[0] = v4 >> 24;
		b[1] = (v4 >> 16) & 0xff;
		b[2] = (v4 >> 8) & 0xff;
		b[3] = v4 & 0xff;
		return bytes_in(b, r->addr, r->prefix);
	}
	return false;
}

/*
 * netguard_allowed
 *		Public addresses always; private ones when a rule for this service
 *		(or every service) covers them.
 */
bool
netguard_allowed(const NetGuardPolicy *p, const char *service, int family,
				 const uint8_t addr[16])
{
	bool		private;

	if (family == 4)
		private = netguard_v4_private(get_v4(addr));
	else if (family == 6)
		private = netguard_v6_private(addr);
	else
		return false;
	if (!private)
		return true;
	for (int i = 0; p != NULL && i < p->nrules; i++)
	{
		const NetGuardRule *r = &p->rules[i];

		if (r->service[0] != '\0' && (service == NULL || strcmp(r->service, service) != 0))
			continue;
		if (rule_matches(r, family, addr))
			return true;
	}
	return false;
}

/*
 * netguard_allowed_text
 *		netguard_allowed for a numeric address as text (curl's primary IP).
 */
bool
netguard_allowed_text(const NetGuardPolicy *p, const char *service, const char *ip)
{
	int			family;
	uint8_t		addr[16];

	if (ip == NULL || !netguard_parse_addr(ip, &family, addr))
		return false;
	return netguard_allowed(p, service, family, addr);
}

/*
 * netguard_host_literal
 *		A URL host that is a numeric address, in every IPv4 spelling
 *		inet_aton accepts or as a bracketed IPv6 address (zone id dropped).
 */
bool
netguard_host_literal(const char *host, int *family, uint8_t addr[16])
{
	struct in_addr in;
	size_t		len;

	memset(addr, 0, 16);
	if (host == NULL)
		return false;
	len = strlen(host);
	if (len >= 2 && host[0] == '[')
	{
		char		buf[64];
		char	   *pct;

		if (len - 2 >= sizeof(buf) || host[len - 1] != ']')
			return false;
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		pct = strchr(buf, '%');
		if (pct)
			*pct = '\0';
		*family = 6;
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	if (len > 0 && isdigit((unsigned char) host[0]) && inet_aton(host, &in) != 0)
	{
		*family = 4;
		memcpy(addr, &in.s_addr, 4);
		return true;
	}
	return false;
}
