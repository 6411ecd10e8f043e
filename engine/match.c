/* match.c - compiling a rule set into Hyperscan databases.
 *
 * Literals go through hs_compile_lit_multi (no regex escaping, NULs
 * allowed) after normalization, so "免 費" in a rule and "免费" on the wire
 * meet in the same form.  Streaming mode everywhere: TCP needs it, and a
 * UDP datagram or a text file is just a short stream.  We never set
 * HS_FLAG_SINGLEMATCH: in streaming mode it costs a bit of stream state per
 * pattern; duplicates are dropped in the engine's callback instead.
 */
#include "match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "normalize.h"

static unsigned regex_flags(const struct rule *r)
{
	unsigned f = HS_FLAG_ALLOWEMPTY;
	if (!r->raw)
		f |= HS_FLAG_UTF8;
	if (r->flags & RULE_F_CASELESS)
		f |= HS_FLAG_CASELESS;
	if (r->flags & RULE_F_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (r->flags & RULE_F_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	return f;
}

static enum match_layer layer_of(const struct rule *r)
{
	if (r->raw)
		return MATCH_RAW;
	return r->kind == RULE_REGEX ? MATCH_TEXT : MATCH_NORM;
}

struct layer_build {
	size_t n;
	const char **expr;
	size_t *len;
	unsigned *flags;
	unsigned *ids;
	int all_literal;
};

/* Maps a compile error (expression index) back to the rule's position. */
static void map_error(const struct ruleset *rs, const struct layer_build *b,
		      hs_compile_error_t *ce, char *err, size_t errlen)
{
	if (ce && ce->expression >= 0 && (size_t)ce->expression < b->n) {
		const struct rule *r = &rs->rules[b->ids[ce->expression]];
		char where[512];
		ruleset_where(rs, r, where, sizeof(where));
		snprintf(err, errlen, "%s: rule %u rejected by Hyperscan: %s", where, r->id,
			 ce->message);
	} else {
		snprintf(err, errlen, "Hyperscan compile failed: %s",
			 ce ? ce->message : "unknown error");
	}
}

static int compile_layer(const struct ruleset *rs, struct layer_build *b, hs_database_t **db,
			 char *err, size_t errlen)
{
	hs_compile_error_t *ce = NULL;
	hs_error_t rc;
	if (b->n == 0)
		return 0;
	if (b->all_literal)
		rc = hs_compile_lit_multi(b->expr, b->flags, b->ids, b->len, (unsigned)b->n,
					  HS_MODE_STREAM, NULL, db, &ce);
	else
		rc = hs_compile_multi(b->expr, b->flags, b->ids, (unsigned)b->n, HS_MODE_STREAM,
				      NULL, db, &ce);
	if (rc != HS_SUCCESS) {
		map_error(rs, b, ce, err, errlen);
		hs_free_compile_error(ce);
		return -1;
	}
	return 0;
}

static void layer_free(struct layer_build *b, int free_exprs)
{
	if (free_exprs)
		for (size_t i = 0; i < b->n; i++)
			free((void *)b->expr[i]);
	free(b->expr);
	free(b->len);
	free(b->flags);
	free(b->ids);
}

struct matcher *matcher_build(const struct ruleset *rs, unsigned norm_flags, char *err,
			      size_t errlen)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct matcher *m = calloc(1, sizeof(*m));
	struct layer_build b[MATCH_LAYERS];
	memset(b, 0, sizeof(b));
	if (!m)
		goto oom;
	m->rs = rs;
	m->norm_flags = norm_flags;
	m->refs = 1;
	m->hits = calloc(rs->n ? rs->n : 1, sizeof(*m->hits));
	if (!m->hits)
		goto oom;
	for (size_t i = 0; i < rs->n; i++)
		m->nrules[layer_of(&rs->rules[i])]++;
	for (int l = 0; l < MATCH_LAYERS; l++) {
		size_t n = m->nrules[l];
		b[l].expr = calloc(n + 1, sizeof(*b[l].expr));
		b[l].len = calloc(n + 1, sizeof(*b[l].len));
		b[l].flags = calloc(n + 1, sizeof(*b[l].flags));
		b[l].ids = calloc(n + 1, sizeof(*b[l].ids));
		if (!b[l].expr || !b[l].len || !b[l].flags || !b[l].ids)
			goto oom;
	}
	/* The raw layer mixes literals and regexes: literals there are escaped
	 * into regexes.  Text is regex only; norm is literal only. */
	b[MATCH_NORM].all_literal = 1;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		enum match_layer l = layer_of(r);
		struct layer_build *lb = &b[l];
		size_t k = lb->n;
		if (l == MATCH_NORM) {
			uint8_t *out = malloc((size_t)r->patlen * NORM_MAX_EXPANSION + 16);
			if (!out)
				goto oom;
			size_t n = norm_string(norm_flags, r->pat, r->patlen, out);
			if (n == 0) {
				char where[512];
				ruleset_where(rs, r, where, sizeof(where));
				snprintf(err, errlen,
					 "%s: pattern of rule %u is empty after normalization "
					 "(only separators or invisible characters)",
					 where, r->id);
				free(out);
				goto fail;
			}
			lb->expr[k] = (const char *)out;
			lb->len[k] = n;
			lb->flags[k] = HS_FLAG_CASELESS;
		} else if (r->kind == RULE_LITERAL) {
			/* raw literal -> \xHH regex, exact bytes */
			char *re = malloc((size_t)r->patlen * 4 + 1);
			if (!re)
				goto oom;
			for (uint32_t j = 0; j < r->patlen; j++)
				sprintf(re + j * 4, "\\x%02x", r->pat[j]);
			lb->expr[k] = re;
			lb->flags[k] = 0;
		} else {
			lb->expr[k] = strdup((const char *)r->pat);
			if (!lb->expr[k])
				goto oom;
			lb->flags[k] = regex_flags(r);
		}
		lb->ids[k] = (unsigned)i;
		lb->n++;
	}
	for (int l = 0; l < MATCH_LAYERS; l++)
		if (compile_layer(rs, &b[l], &m->db[l], err, errlen))
			goto fail;
	for (int l = 0; l < MATCH_LAYERS; l++)
		layer_free(&b[l], 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	m->compile_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return m;
oom:
	snprintf(err, errlen, "out of memory while compiling rules");
fail:
	for (int l = 0; l < MATCH_LAYERS; l++)
		layer_free(&b[l], 1);
	matcher_free(m);
	return NULL;
}

void matcher_free(struct matcher *m)
{
	if (!m)
		return;
	for (int l = 0; l < MATCH_LAYERS; l++)
		hs_free_database(m->db[l]);
	free(m->hits);
	if (m->owns_rs) {
		ruleset_free((struct ruleset *)m->rs);
		free((struct ruleset *)m->rs);
	}
	free(m);
}

void matcher_ref(struct matcher *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

void matcher_unref(struct matcher *m)
{
	if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0)
		matcher_free(m);
}

uint64_t matcher_hits(const struct matcher *m, size_t rule_index)
{
	return rule_index < m->rs->n ? __atomic_load_n(&m->hits[rule_index], __ATOMIC_RELAXED) : 0;
}

hs_scratch_t *matcher_scratch_new(const struct matcher *m)
{
	hs_scratch_t *s = NULL;
	for (int l = 0; l < MATCH_LAYERS; l++)
		if (m->db[l] && hs_alloc_scratch(m->db[l], &s) != HS_SUCCESS) {
			hs_free_scratch(s);
			return NULL;
		}
	return s;
}

size_t matcher_db_size(const struct matcher *m)
{
	size_t total = 0;
	for (int l = 0; l < MATCH_LAYERS; l++) {
		size_t sz = 0;
		if (m->db[l] && hs_database_size(m->db[l], &sz) == HS_SUCCESS)
			total += sz;
	}
	return total;
}
