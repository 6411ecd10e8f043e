/* fuzz_bundle.c - the bundle loader and `rules info` must never crash, leak
 * or read out of bounds on any input.  Each input is tried as given (the
 * content hash rejects nearly all mutations early) and again with its hash
 * recomputed, so mutated section tables, rule records, strings and database
 * tags reach the deeper checks.  Seed: any small bundle (`tapsift rules
 * compile`), e.g. the one fuzz/README-style runs put in the corpus. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	struct bundle_info info;
	struct bundle_load_opts o = {.min_version = 0};
	struct matcher *m = bundle_load(data, size, &o, &info, err, sizeof(err));
	matcher_unref(m);
	uint8_t *c = malloc(size ? size : 1);
	if (!c)
		return 0;
	memcpy(c, data, size);
	bundle_fix_hash(c, size);
	m = bundle_load(c, size, &o, &info, err, sizeof(err));
	if (m) {
		/* a loaded set must be usable: scratch for every database */
		hs_scratch_t *s = matcher_scratch_new(m);
		hs_free_scratch(s);
		matcher_unref(m);
	}
	FILE *f = fopen("/dev/null", "w");
	if (f) {
		bundle_describe(f, c, size, NULL, err, sizeof(err));
		fclose(f);
	}
	free(c);
	return 0;
}
