/*
 * test_netguard.c: the SSRF guard's address classifier and the
 * flowdb.allow_private_hosts policy (src/netguard.c).
 */
#include <arpa/inet.h>

#include "unit.h"
#include "netguard.h"

/*
 * v6_private
 *		Classify an IPv6 address written as text (test helper).
 */
static int
v6_private(const char *text)
{
	uint8_t		b[16];

	if (inet_pton(AF_INET6, text, b) != 1)
	{
		fprintf(stderr, "bad test vector %s\n", text);
		return -1;
	}
	return netguard_v6_private(b) ? 1 : 0;
}

/*
 * v4_private
 *		Classify an IPv4 address written as text (test helper).
 */
static int
v4_private(const char *text)
{
	struct in_addr in;

	if (inet_pton(AF_INET, text, &in) != 1)
	{
		fprintf(stderr, "bad test vector %s\n", text);
		return -1;
	}
	return netguard_v4_private(ntohl(in.s_addr)) ? 1 : 0;
}

/*
 * policy
 *		Parse a policy that must be valid.
 */
static NetGuardPolicy
policy(const char *spec)
{
	NetGuardPolicy p;
	char		err[256] = "";

	if (!netguard_parse_policy(spec, &p, err, sizeof(err)))
	{
		fprintf(stderr, "policy \"%s\" refused: %s\n", spec, err);
		unit_failed++;
	}
	return p;
}

TEST(ipv4_ranges)
{
	static const char *const private[] = {
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1",
		"100.127.255.254", "127.0.0.1", "127.1.2.3", "169.254.169.254",
		"172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1",
		"192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250",
		"240.0.0.1", "255.255.255.255", NULL
	};
	static const char *const public[] = {
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255",
		"100.128.0.0", "126.255.255.255", "128.0.0.1", "169.253.1.1",
		"172.15.255.255", "172.32.0.0", "192.0.1.1", "192.167.1.1",
		"192.169.0.1", "198.17.255.255", "198.20.0.0", "203.0.114.1",
		"223.255.255.255", NULL
	};

	for (int i = 0; private[i]; i++)
		CHECK_INT(v4_private(private[i]), 1);
	for (int i = 0; public[i]; i++)
		CHECK_INT(v4_private(public[i]), 0);
}

TEST(ipv6_ranges)
{
	static const char *const private[] = {
		"::", "::1", "fe80::1", "febf::1", "fec0::1", "feff::1", "fc00::1",
		"fd12:3456::1", "ff02::1", "100::1", "2001:db8::1", "2001:10::1",
		"2001:2::1", "3fff::1", "64:ff9b:1::1", "64:ff9b:1:ffff::8.8.8.8",
		"64:ff9b::1:0:0", "1::1", "4000::1", "e000::1", NULL
	};
	static const char *const public[] = {
		"2001:4860:4860::8888", "2606:4700::1111", "2a00:1450::1",
		"2001:db9::1", "3ffe::1", NULL
	};

	for (int i = 0; private[i]; i++)
		CHECK_INT(v6_private(private[i]), 1);
	for (int i = 0; public[i]; i++)
		CHECK_INT(v6_private(public[i]), 0);
}

TEST(ipv6_embedded_ipv4)
{
	/* private IPv4 inside every IPv6 form */
	static const char *const private[] = {
		"::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
		"::ffff:169.254.169.254", "::ffff:0:127.0.0.1", "::ffff:0:10.1.2.3",
		"::127.0.0.1", "::10.0.0.1", "::192.168.0.1",
		"64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::a9fe:a9fe",
		"2002:7f00:1::", "2002:7f00:0001:1234::1", "2002:c0a8:0101::1",
		"2002:a00:1::",
		/* Teredo: client 127.0.0.1 = ~0x7f000001 = 0x80fffffe */
		"2001:0:4136:e378:8000:63bf:80ff:fffe",
		/* Teredo: public client 8.8.8.8 (~ = f7f7:f7f7), private server 10.0.0.1 */
		"2001:0:a00:1:8000:63bf:f7f7:f7f7",
		NULL
	};
	/* public IPv4 inside them */
	static const char *const public[] = {
		"::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "::8.8.8.8",
		"64:ff9b::8.8.8.8", "2002:808:808::1",
		/* Teredo: server 65.54.227.120, client 8.8.8.8 */
		"2001:0:4136:e378:8000:63bf:f7f7:f7f7",
		NULL
	};
	uint8_t		b[16];
	uint32_t	v4 = 0;

	for (int i = 0; private[i]; i++)
		CHECK_INT(v6_private(private[i]), 1);
	for (int i = 0; public[i]; i++)
		CHECK_INT(v6_private(public[i]), 0);

	/* the decoded values */
	inet_pton(AF_INET6, "64:ff9b::c000:221", b);
	CHECK(netguard_v6_embedded_v4(b, &v4));
	CHECK_INT(v4, 0xc0000221);
	inet_pton(AF_INET6, "2002:c000:221::1", b);
	CHECK(netguard_v6_embedded_v4(b, &v4));
	CHECK_INT(v4, 0xc0000221);
	inet_pton(AF_INET6, "2001:0:4136:e378:8000:63bf:3fff:fdd2", b);
	CHECK(netguard_v6_embedded_v4(b, &v4));
	CHECK_INT(v4, 0xc000022d);	/* RFC 4380's example client 192.0.2.45 */
	inet_pton(AF_INET6, "::ffff:0:1.2.3.4", b);
	CHECK(netguard_v6_embedded_v4(b, &v4));
	CHECK_INT(v4, 0x01020304);
	inet_pton(AF_INET6, "2606:4700::1111", b);
	CHECK(!netguard_v6_embedded_v4(b, &v4));
}

TEST(parse_addr)
{
	int			family = 0;
	uint8_t		a[16];

	CHECK(netguard_parse_addr("10.0.0.5", &family, a));
	CHECK_INT(family, 4);
	CHECK_INT(a[0], 10);
	CHECK_INT(a[3], 5);
	CHECK(netguard_parse_addr("::1", &family, a));
	CHECK_INT(family, 6);
	CHECK_INT(a[15], 1);
	CHECK(netguard_parse_addr("[fe80::2]", &family, a));
	CHECK_INT(family, 6);
	CHECK(!netguard_parse_addr("127.1", &family, a));
	CHECK(!netguard_parse_addr("localhost", &family, a));
	CHECK(!netguard_parse_addr("", &family, a));
	CHECK(!netguard_parse_addr("[::1", &family, a));
	CHECK(!netguard_parse_addr("1.2.3.4.5", &family, a));
}

TEST(host_literal)
{
	int			family = 0;
	uint8_t		a[16];
	NetGuardPolicy off = policy("off");

	/* every IPv4 spelling of 127.0.0.1 a URL may use */
	static const char *const loop[] = {
		"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001",
		"127.0.1", NULL
	};

	for (int i = 0; loop[i]; i++)
	{
		CHECK(netguard_host_literal(loop[i], &family, a));
		CHECK_INT(family, 4);
		CHECK(!netguard_allowed(&off, "http", family, a));
	}
	CHECK(netguard_host_literal("[::ffff:127.0.0.1]", &family, a));
	CHECK_INT(family, 6);
	CHECK(!netguard_allowed(&off, "http", family, a));
	CHECK(netguard_host_literal("[fe80::1%25eth0]", &family, a));
	CHECK(netguard_host_literal("[64:ff9b::7f00:1]", &family, a));
	CHECK(!netguard_allowed(&off, "http", family, a));
	CHECK(netguard_host_literal("8.8.8.8", &family, a));
	CHECK(netguard_allowed(&off, "http", family, a));
	CHECK(!netguard_host_literal("example.com", &family, a));
	CHECK(!netguard_host_literal("", &family, a));
	CHECK(!netguard_host_literal(NULL, &family, a));
	CHECK(!netguard_host_literal("[::1", &family, a));
}

TEST(policy_booleans)
{
	NetGuardPolicy p;
	char		err[256];
	char		text[256];
	static const char *const on[] = {"on", "ON", "true", "yes", "1", NULL};
	static const char *const off[] = {"off", "false", "no", "0", "", "  ", NULL};

	for (int i = 0; on[i]; i++)
	{
		CHECK(netguard_parse_policy(on[i], &p, err, sizeof(err)));
		CHECK_INT(p.nrules, 1);
		CHECK(netguard_allowed_text(&p, "http", "127.0.0.1"));
		CHECK(netguard_allowed_text(&p, "llm", "::1"));
	}
	for (int i = 0; off[i]; i++)
	{
		CHECK(netguard_parse_policy(off[i], &p, err, sizeof(err)));
		CHECK_INT(p.nrules, 0);
		CHECK(!netguard_allowed_text(&p, "http", "127.0.0.1"));
		CHECK(netguard_allowed_text(&p, "http", "8.8.8.8"));
	}
	CHECK(netguard_parse_policy(NULL, &p, err, sizeof(err)));
	CHECK_INT(p.nrules, 0);
	p = policy("on");
	netguard_policy_text(&p, text, sizeof(text));
	CHECK_STR(text, "*:*");
}

TEST(policy_lists)
{
	NetGuardPolicy p = policy("llm:10.0.0.5, http:127.0.0.1 ,slack, 192.168.0.0/16,"
							  "llm:[fd00::5],*:172.16.0.0/12, fd01::/16");
	NetGuardPolicy sub;
	char		text[512];

	CHECK_INT(p.nrules, 7);
	/* llm at its address only */
	CHECK(netguard_allowed_text(&p, "llm", "10.0.0.5"));
	CHECK(!netguard_allowed_text(&p, "llm", "10.0.0.6"));
	CHECK(!netguard_allowed_text(&p, "http", "10.0.0.5"));
	CHECK(netguard_allowed_text(&p, "llm", "fd00::5"));
	CHECK(!netguard_allowed_text(&p, "http", "fd00::5"));
	/* an IPv4 rule also covers the mapped form */
	CHECK(netguard_allowed_text(&p, "http", "::ffff:127.0.0.1"));
	CHECK(netguard_allowed_text(&p, "http", "127.0.0.1"));
	CHECK(!netguard_allowed_text(&p, "http", "127.0.0.2"));
	/* slack anywhere private */
	CHECK(netguard_allowed_text(&p, "slack", "169.254.169.254"));
	CHECK(netguard_allowed_text(&p, "slack", "::1"));
	/* ranges for every service */
	CHECK(netguard_allowed_text(&p, "whatsapp", "192.168.44.1"));
	CHECK(netguard_allowed_text(&p, "whatsapp", "172.20.0.1"));
	CHECK(netguard_allowed_text(&p, "whatsapp", "fd01:1::1"));
	CHECK(!netguard_allowed_text(&p, "whatsapp", "fd02::1"));
	CHECK(!netguard_allowed_text(&p, "whatsapp", "127.0.0.1"));
	CHECK(!netguard_allowed_text(NULL, "whatsapp", "127.0.0.1"));
	/* service NULL: only the rules for every service */
	CHECK(netguard_allowed_text(&p, NULL, "192.168.0.1"));
	CHECK(!netguard_allowed_text(&p, NULL, "10.0.0.5"));
	/* not an address */
	CHECK(!netguard_allowed_text(&p, "slack", "localhost"));
	CHECK(!netguard_allowed_text(&p, "slack", NULL));

	netguard_policy_text(&p, text, sizeof(text));
	CHECK_STR(text, "llm:10.0.0.5/32,http:127.0.0.1/32,slack:*,*:192.168.0.0/16,"
			  "llm:[fd00::5]/128,*:172.16.0.0/12,*:[fd01::]/16");

	netguard_for_service(&p, "llm", &sub);
	netguard_policy_text(&sub, text, sizeof(text));
	CHECK_STR(text, "*:10.0.0.5/32,*:192.168.0.0/16,*:[fd00::5]/128,*:172.16.0.0/12,*:[fd01::]/16");
	netguard_for_service(&p, "whatsapp", &sub);
	netguard_policy_text(&sub, text, sizeof(text));
	CHECK_STR(text, "*:192.168.0.0/16,*:172.16.0.0/12,*:[fd01::]/16");
	netguard_for_service(&p, "instagram", &sub);
	CHECK(netguard_allowed_text(&sub, "anything", "192.168.1.1"));
	CHECK(!netguard_allowed_text(&sub, "anything", "10.0.0.5"));

	/* host bits are cleared; a tiny buffer is cut, not overrun */
	p = policy("10.1.2.3/8");
	netguard_policy_text(&p, text, sizeof(text));
	CHECK_STR(text, "*:10.0.0.0/8");
	netguard_policy_text(&p, text, 5);
	CHECK_INT(strlen(text), 4);
	p = policy("*");
	CHECK(netguard_allowed_text(&p, "http", "10.9.9.9"));
	p = policy("HTTP:127.0.0.0/8");
	CHECK(netguard_allowed_text(&p, "http", "127.9.9.9"));
}

TEST(policy_errors)
{
	NetGuardPolicy p;
	char		err[256];
	char		many[2048] = "";
	static const char *const bad[] = {
		"llm:", "llm:10.0.0.300", "llm:10.0.0.0/33", "llm:fd00::/129",
		"llm:10.0.0.0/", "llm:10.0.0.0/x", "9llm", "ll-m:10.0.0.1", "-",
		"llm:localhost", "on,llm:10.0.0.1", "llm:10.0.0.1/8/8",
		"averyveryveryveryverylongservicename:10.0.0.1", NULL
	};

	for (int i = 0; bad[i]; i++)
	{
		err[0] = '\0';
		CHECK(!netguard_parse_policy(bad[i], &p, err, sizeof(err)) ||
			  /* "on,llm..." parses: "on" is a name, refused later as a service */
			  strcmp(bad[i], "on,llm:10.0.0.1") == 0);
	}
	CHECK(!netguard_parse_policy("llm:10.0.0.300", &p, err, sizeof(err)));
	CHECK_CONTAINS(err, "10.0.0.300");
	CHECK(!netguard_parse_policy("llm:10.0.0.0/33", &p, err, sizeof(err)));
	CHECK_CONTAINS(err, "prefix");
	for (int i = 0; i < NETGUARD_MAX_RULES + 1; i++)
		strcat(many, "10.0.0.1,");
	CHECK(!netguard_parse_policy(many, &p, err, sizeof(err)));
	CHECK_CONTAINS(err, "more than");
	memset(many, 'a', sizeof(many) - 1);
	many[sizeof(many) - 1] = '\0';
	CHECK(!netguard_parse_policy(many, &p, err, sizeof(err)));
	CHECK_CONTAINS(err, "too long");
}

int
main(void)
{
	RUN(ipv4_ranges);
	RUN(ipv6_ranges);
	RUN(ipv6_embedded_ipv4);
	RUN(parse_addr);
	RUN(host_literal);
	RUN(policy_booleans);
	RUN(policy_lists);
	RUN(policy_errors);
	return UNIT_SUMMARY();
}
