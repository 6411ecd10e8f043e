/* bench_hs.c - the ceiling for the pipeline: raw Hyperscan block-mode
 * scanning of the same payload bytes with the same literal set.
 *
 * usage: bench_hs RULES TEXTFILE [BLOCK]
 * Literals are normalized exactly as the matcher does (norm_string,
 * NORM_ALL) and compiled in block mode; the text file (the capture's
 * payloads, concatenated) is scanned in blocks of BLOCK bytes (default 1400,
 * one packet's worth), best of 3 passes.  Prints one JSON object.
 *
 * BENCH_HS_PASSES=n    passes (default 3)
 * BENCH_HS_DB=FILE     database cache: loaded from FILE when it exists
 *                      (compile_s is then 0), else compiled and saved there;
 *                      lets run_scan.py interleave single passes with
 *                      pipeline runs without recompiling (1M: 76 s)
 */
#include <hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "normalize.h"
#include "ruleset.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                    void *ctx)
{
	(void)id, (void)from, (void)to, (void)fl;
	++*(unsigned long long *)ctx;
	return 0;
}

static int load_db(const char *path, hs_database_t **db)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = n > 0 ? malloc((size_t)n) : NULL;
	int rc = -1;
	if (b && fread(b, 1, (size_t)n, f) == (size_t)n &&
	    hs_deserialize_database(b, (size_t)n, db) == HS_SUCCESS)
		rc = 0;
	free(b);
	fclose(f);
	return rc;
}

static void save_db(const char *path, const hs_database_t *db)
{
	char *b = NULL;
	size_t n = 0;
	if (hs_serialize_database(db, &b, &n) != HS_SUCCESS)
		return;
	FILE *f = fopen(path, "wb");
	if (f) {
		if (fwrite(b, 1, n, f) != n)
			fprintf(stderr, "bench_hs: cannot write %s\n", path);
		fclose(f);
	}
	free(b);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_hs RULES TEXTFILE [BLOCK]\n");
		return 2;
	}
	size_t block = argc > 3 ? (size_t)atol(argv[3]) : 1400;
	struct ruleset rs;
	char err[1024];
	ruleset_init(&rs);
	double t0 = now();
	if (ruleset_add_file(&rs, argv[1], err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	double t1 = now();
	const char **expr = calloc(rs.n, sizeof(*expr));
	size_t *lens = calloc(rs.n, sizeof(*lens));
	unsigned *flags = calloc(rs.n, sizeof(*flags)), *ids = calloc(rs.n, sizeof(*ids));
	size_t n = 0;
	for (size_t i = 0; i < rs.n; i++) {
		const struct rule *r = &rs.rules[i];
		if (r->kind != RULE_LITERAL || r->raw)
			continue;
		uint8_t *out = malloc((size_t)r->patlen * NORM_MAX_EXPANSION + 16);
		lens[n] = norm_string(NORM_ALL, r->pat, r->patlen, out);
		if (!lens[n]) {
			free(out);
			continue;
		}
		expr[n] = (const char *)out;
		flags[n] = HS_FLAG_CASELESS;
		ids[n] = (unsigned)i;
		n++;
	}
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	const char *cache = getenv("BENCH_HS_DB");
	int cached = cache && load_db(cache, &db) == 0;
	if (!cached) {
		if (hs_compile_lit_multi(expr, flags, ids, lens, (unsigned)n, HS_MODE_BLOCK, NULL,
		                         &db, &ce) != HS_SUCCESS) {
			fprintf(stderr, "compile: %s\n", ce ? ce->message : "?");
			return 1;
		}
		if (cache)
			save_db(cache, db);
	}
	double t2 = now();
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size_t len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	char *text = malloc(len ? len : 1);
	if (fread(text, 1, len, f) != len) {
		perror("read");
		return 1;
	}
	fclose(f);
	hs_scratch_t *scratch = NULL;
	hs_alloc_scratch(db, &scratch);
	/* Best of 3 passes: the figure is a ceiling, and this VM is noisy. */
	unsigned long long matches = 0;
	double best = 1e30, first = 0;
	int passes = getenv("BENCH_HS_PASSES") ? atoi(getenv("BENCH_HS_PASSES")) : 3;
	for (int pass = 0; pass < (passes > 0 ? passes : 1); pass++) {
		matches = 0;
		double t3 = now();
		for (size_t off = 0; off < len; off += block) {
			size_t k = len - off < block ? len - off : block;
			hs_scan(db, text + off, (unsigned)k, 0, scratch, on_match, &matches);
		}
		double dt = now() - t3;
		if (pass == 0)
			first = dt;
		if (dt < best)
			best = dt;
	}
	size_t dbsize = 0;
	hs_database_size(db, &dbsize);
	printf("{\"literals\":%zu,\"parse_s\":%.3f,\"compile_s\":%.3f,\"db_bytes\":%zu,"
	       "\"bytes\":%zu,\"scan_s\":%.3f,\"MBps\":%.1f,\"matches\":%llu,\"db_cached\":%s,"
	       "\"first_pass_s\":%.3f}\n",
	       n, t1 - t0, cached ? 0.0 : t2 - t1, dbsize, len, best, (double)len / 1e6 / best,
	       matches, cached ? "true" : "false", first);
	hs_free_scratch(scratch);
	hs_free_database(db);
	for (size_t i = 0; i < n; i++)
		free((void *)expr[i]);
	free(expr);
	free(lens);
	free(flags);
	free(ids);
	free(text);
	ruleset_free(&rs);
	return 0;
}
