/* match.h - the compiled rule set: Hyperscan databases per matching layer.
 *
 * Three layers, each a streaming database so matches span packets:
 *   MATCH_RAW   raw rules, on the reassembled byte stream
 *   MATCH_TEXT  regex rules, on decoded UTF-8 text
 *   MATCH_NORM  literal rules, normalized at compile time, on normalized text
 * Hyperscan ids are rule indexes into the rule set.  A layer with no rules
 * has no database and costs nothing at scan time.
 */
#ifndef TSF_MATCH_H
#define TSF_MATCH_H

#include <hs.h>
#include <stddef.h>

#include "ruleset.h"

enum match_layer { MATCH_RAW = 0, MATCH_TEXT = 1, MATCH_NORM = 2, MATCH_LAYERS = 3 };

struct matcher {
	const struct ruleset *rs;
	unsigned norm_flags;
	hs_database_t *db[MATCH_LAYERS];
	size_t nrules[MATCH_LAYERS];
	double compile_s;
};

/* Compiles rs (which must outlive the matcher).  On error returns NULL with
 * "file:line:col: message" (or a plain message) in err. */
struct matcher *matcher_build(const struct ruleset *rs, unsigned norm_flags, char *err,
			      size_t errlen);
void matcher_free(struct matcher *m);

/* A scratch space good for every database of m (one per thread). */
hs_scratch_t *matcher_scratch_new(const struct matcher *m);

/* Total bytes of the compiled databases. */
size_t matcher_db_size(const struct matcher *m);

#endif
