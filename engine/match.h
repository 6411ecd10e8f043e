/* match.h - the compiled rule set: Hyperscan databases per matching layer,
 * plus the literal index for the bulk of the literals.
 *
 * Three layers, each a streaming database so matches span packets:
 *   MATCH_RAW   raw rules, on the reassembled byte stream
 *   MATCH_TEXT  regex rules, on decoded UTF-8 text
 *   MATCH_NORM  literal rules, normalized at compile time, on normalized text
 * Two tiers on normalized text: literals of LITIDX_MIN_LEN..LITIDX_MAX_LEN
 * normalized bytes go into the literal index (match_lit.h), which stays
 * fast at millions of literals; shorter or longer ones stay in Hyperscan.
 * Ids are rule indexes into the rule set.  A layer with no rules has no
 * database and costs nothing at scan time.
 */
#ifndef TSF_MATCH_H
#define TSF_MATCH_H

#include <hs.h>
#include <stddef.h>
#include <stdint.h>

#include "ruleset.h"

enum match_layer { MATCH_RAW = 0, MATCH_TEXT = 1, MATCH_NORM = 2, MATCH_LAYERS = 3 };

struct litidx;

/* Build options. */
#define MATCH_HS_ONLY 0x1u   /* every literal in Hyperscan (--matcher hs) */
#define MATCH_INDEX_ALL 0x2u /* every eligible literal in the index (--matcher index) */

/* Below this many eligible literals Hyperscan alone is as fast as the
 * index; above it the index wins, and it builds in milliseconds where
 * Hyperscan takes seconds.  Measured 2026-11-26 after the AVX2 filter
 * pass (`tapsift scan --threads 1 --matcher hs|index` on make bench's
 * 104 MB capture, scan-phase MB/s, two runs each): 10k 151/151 vs 144/147,
 * 30k 104/94 vs 128/129, 50k 71/80 vs 117/116, 100k 95/49 vs 114/118.
 * (Before that pass the crossover was near 300k.) */
#define MATCH_INDEX_THRESHOLD 20000

struct matcher {
	const struct ruleset *rs;
	unsigned norm_flags;
	hs_database_t *db[MATCH_LAYERS];
	size_t nrules[MATCH_LAYERS];
	double compile_s;
	uint64_t version;          /* rule set version (bundles); 0 when built from rule files */
	int owns_rs;               /* free rs (and the struct) with the matcher */
	int refs;                  /* matcher_ref/unref; 1 at creation */
	uint64_t *hits;            /* verdicts per rule index (atomic increments) */
	size_t nhits;              /* rs->n when hits was allocated */
	struct litidx *lit;        /* literal-index tier on normalized text (may be NULL) */
	size_t nlit;               /* literals in it */
	struct matcher *reap_next; /* queued for the reaper thread */
};

/* The input of each Hyperscan layer exactly as handed to the compiler, and
 * the literals of the index tier: what matcher_build compiles, exposed so
 * rule bundles can key a cache on it and compile the same thing. */
struct match_layer_src {
	size_t n;
	const char **expr;
	size_t *len;
	unsigned *flags;
	unsigned *ids;
	int literal; /* hs_compile_lit_multi rather than hs_compile_multi */
};

struct match_src {
	struct match_layer_src layer[MATCH_LAYERS];
	size_t nlit;
	const uint8_t **lit; /* normalized literal bytes */
	uint32_t *litlen;
	uint32_t *litid; /* rule indexes */
};

int match_src_build(const struct ruleset *rs, unsigned norm_flags, unsigned opts,
                    struct match_src *src, char *err, size_t errlen);
void match_src_free(struct match_src *src);
/* Compiles one layer (streaming mode); errors name the rule. */
int match_compile_layer(const struct ruleset *rs, const struct match_layer_src *b,
                        hs_database_t **db, char *err, size_t errlen);
/* A matcher with no databases yet (refs 1, hits allocated). */
struct matcher *matcher_new_empty(const struct ruleset *rs, unsigned norm_flags);
struct matcher *matcher_build_opts(const struct ruleset *rs, unsigned norm_flags, unsigned opts,
                                   char *err, size_t errlen);

/* Compiles rs (which must outlive the matcher).  On error returns NULL with
 * "file:line:col: message" (or a plain message) in err. */
struct matcher *matcher_build(const struct ruleset *rs, unsigned norm_flags, char *err,
                              size_t errlen);
void matcher_free(struct matcher *m);

/* Reference counting: a hot-swapped rule set is freed when the last flow
 * that started under it has ended.  unref at zero calls matcher_free, on
 * the reaper thread while one runs, else right there. */
void matcher_ref(struct matcher *m);
void matcher_unref(struct matcher *m);

/* The reaper: a thread that frees sets whose last reference was dropped,
 * so that a worker or the capture loop never spends the tens to hundreds
 * of milliseconds that unmapping a large set takes.  Gateways run one
 * (gateway_rules_start/stop); start/stop nest.  stop frees everything
 * queued before it returns.  start returns 0 or -1 (no thread: sets are
 * then freed inline, as without a reaper). */
int matcher_reaper_start(void);
void matcher_reaper_stop(void);
/* Sets handed to the reaper, and freed by it, since the process started. */
void matcher_reaper_counts(uint64_t *queued, uint64_t *freed);

/* Verdict count of a rule (index into m->rs->rules). */
uint64_t matcher_hits(const struct matcher *m, size_t rule_index);

/* A scratch space good for every database of m (one per thread). */
hs_scratch_t *matcher_scratch_new(const struct matcher *m);

/* Total bytes of the compiled databases. */
size_t matcher_db_size(const struct matcher *m);

#endif
