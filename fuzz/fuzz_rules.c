/* fuzz_rules.c - the rule parser (and, for inputs that parse, the matcher
 * build) must never crash, leak or read out of bounds on any input. */
#include <stddef.h>
#include <stdint.h>

#include "match.h"
#include "normalize.h"
#include "ruleset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset rs;
	char err[1024];
	ruleset_init(&rs);
	if (ruleset_add_buffer(&rs, "fuzz", (const char *)data, size, err, sizeof(err)) == 0 &&
	    rs.n > 0 && rs.n < 64) {
		ruleset_finish(&rs);
		struct matcher *m = matcher_build(&rs, NORM_ALL, err, sizeof(err));
		matcher_free(m);
	}
	ruleset_free(&rs);
	return 0;
}
