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
#include <stdint.h>

#include "ruleset.h"

enum match_layer { MATCH_RAW = 0, MATCH_TEXT = 1, MATCH_NORM = 2, MATCH_LAYERS = 3 };

struct matcher {
	const struct ruleset *rs;
	unsigned norm_flags;
	hs_database_t *db[MATCH_LAYERS];
	size_t nrules[MATCH_LAYERS];
	double compile_s;
	uint64_t version;  /* rule set version (bundles); 0 when built from rule files */
	int owns_rs;       /* free rs (and the struct) with the matcher */
	int refs;          /* matcher_ref/unref; 1 at creation */
	uint64_t *hits;    /* verdicts per rule index (atomic increments) */
};

/* Compiles rs (which must outlive the matcher).  On error returns NULL with
 * "file:line:col: message" (or a plain message) in err. */
struct matcher *matcher_build(const struct ruleset *rs, unsigned norm_flags, char *err,
			      size_t errlen);
void matcher_free(struct matcher *m);

/* Reference counting: a hot-swapped rule set is freed when the last flow
 * that started under it has ended.  unref at zero calls matcher_free. */
void matcher_ref(struct matcher *m);
void matcher_unref(struct matcher *m);

/* Verdict count of a rule (index into m->rs->rules). */
uint64_t matcher_hits(const struct matcher *m, size_t rule_index);

/* A scratch space good for every database of m (one per thread). */
hs_scratch_t *matcher_scratch_new(const struct matcher *m);

/* Total bytes of the compiled databases. */
size_t matcher_db_size(const struct matcher *m);

#endif
