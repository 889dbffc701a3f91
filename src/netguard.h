/*-------------------------------------------------------------------------
 *
 * netguard.h
 *	  Which addresses the worker's HTTP requests may reach (SSRF guard).
 *
 * Pure C (no PostgreSQL headers), unit-tested in test/unit/test_netguard.c.
 * An address is "private" when it is not a public unicast address:
 * loopback, RFC 1918, CGNAT, link-local, multicast, reserved and
 * documentation ranges, and IPv6 forms that embed such an IPv4 address
 * (IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64, 6to4, Teredo).
 * A policy (flowdb.allow_private_hosts) lists the private addresses each
 * service may still reach.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_NETGUARD_H
#define FLOWDB_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETGUARD_MAX_RULES 32
#define NETGUARD_NAME_LEN 32

/* one entry of the policy: service (or every service) may reach an address
 * range, or every private address */
typedef struct NetGuardRule
{
	char		service[NETGUARD_NAME_LEN];	/* "" = every service */
	bool		any;			/* every private address */
	int			family;			/* 4 or 6 when !any */
	uint8_t		addr[16];		/* network, 4 or 16 bytes used */
	int			prefix;			/* prefix length in bits */
} NetGuardRule;

typedef struct NetGuardPolicy
{
	int			nrules;
	NetGuardRule rules[NETGUARD_MAX_RULES];
} NetGuardPolicy;

/* Is the IPv4 address (host byte order) private? */
extern bool netguard_v4_private(uint32_t a);

/* The IPv4 address an IPv6 address embeds (mapped, compatible,
 * translated, NAT64, 6to4, Teredo client), host byte order.  false when
 * it embeds none. */
extern bool netguard_v6_embedded_v4(const uint8_t b[16], uint32_t *v4);

/* Is the IPv6 address private (including through an embedded IPv4)? */
extern bool netguard_v6_private(const uint8_t b[16]);

/* Parse a numeric address ("10.0.0.5", "::1", "[::1]") into family 4/6
 * and bytes.  false when it is not one. */
extern bool netguard_parse_addr(const char *text, int *family, uint8_t addr[16]);

/* Parse flowdb.allow_private_hosts: "on"/"off" (and boolean spellings),
 * or a comma-separated list of "service", "service:ADDR[/BITS]" and
 * "*:ADDR[/BITS]" (a bare IPv4 ADDR[/BITS] or [IPv6][/BITS] means every
 * service).  false with err on bad syntax. */
extern bool netguard_parse_policy(const char *spec, NetGuardPolicy *p,
								  char *err, size_t errlen);

/* The rules of p that apply to service, with the service name dropped. */
extern void netguard_for_service(const NetGuardPolicy *p, const char *service,
								 NetGuardPolicy *out);

/* Canonical text of a policy (equal policies give equal text). */
extern void netguard_policy_text(const NetGuardPolicy *p, char *buf, size_t len);

/* May a request of service connect to the address?  Public addresses
 * always; private ones when a rule allows it.  service NULL matches only
 * rules for every service. */
extern bool netguard_allowed(const NetGuardPolicy *p, const char *service,
							 int family, const uint8_t addr[16]);

/* The same for a numeric address given as text; false when the text is
 * not an address. */
extern bool netguard_allowed_text(const NetGuardPolicy *p, const char *service,
								  const char *ip);

/* Is the URL host a numeric IPv4 address in any form inet_aton accepts
 * ("127.1", "2130706433", "0x7f.1") or a bracketed IPv6 address?  Then
 * its address is stored.  For requests sent through a proxy, where the
 * guard does not see the connected address. */
extern bool netguard_host_literal(const char *host, int *family, uint8_t addr[16]);

#endif							/* FLOWDB_NETGUARD_H */
