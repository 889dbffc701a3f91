/*-------------------------------------------------------------------------
 *
 * fuzz_netguard.c
 *	  libFuzzer target for netguard.c (flowdb.allow_private_hosts and the
 *	  address checks of the SSRF guard).
 *
 * Input: "<policy>\0<address or URL host>" or just "<policy>".  The policy
 * is parsed; when it is valid its canonical text must parse again to the
 * same decisions, and the address is checked for a few services.  Nothing
 * may crash or trip a sanitizer, and a public address is always allowed.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netguard.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One fuzz iteration.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const services[] = {"http", "llm", "slack", NULL};
	const uint8_t *nul = memchr(data, 0, size);
	size_t		plen = nul ? (size_t) (nul - data) : size;
	char	   *spec = malloc(plen + 1);
	char	   *addr = NULL;
	NetGuardPolicy p;
	NetGuardPolicy again;
	NetGuardPolicy sub;
	char		err[256];
	char		text[4096];
	int			family;
	uint8_t		a[16];

	memcpy(spec, data, plen);
	spec[plen] = '\0';
	if (nul)
	{
		size_t		alen = size - plen - 1;

		addr = malloc(alen + 1);
		memcpy(addr, nul + 1, alen);
		addr[alen] = '\0';
	}

	if (netguard_parse_policy(spec, &p, err, sizeof(err)))
	{
		netguard_policy_text(&p, text, sizeof(text));
		/* the canonical text is itself a valid policy (names were valid) */
		if (p.nrules > 0 && !netguard_parse_policy(text, &again, err, sizeof(err)))
			abort();
		for (int i = 0; services[i]; i++)
		{
			netguard_for_service(&p, services[i], &sub);
			if (addr && netguard_parse_addr(addr, &family, a) &&
				netguard_allowed(&p, services[i], family, a) !=
				netguard_allowed(&sub, NULL, family, a))
				abort();		/* the per-service subset decides the same */
		}
	}
	else
		memset(&p, 0, sizeof(p));

	if (addr)
	{
		if (netguard_host_literal(addr, &family, a))
			(void) netguard_allowed(&p, "http", family, a);
		if (netguard_parse_addr(addr, &family, a))
		{
			bool		priv = family == 4 ?
				netguard_v4_private(((uint32_t) a[0] << 24) | ((uint32_t) a[1] << 16) |
									((uint32_t) a[2] << 8) | a[3]) :
				netguard_v6_private(a);

			if (!priv && !netguard_allowed(&p, "http", family, a))
				abort();		/* public addresses are always allowed */
		}
	}
	free(spec);
	free(addr);
	return 0;
}
