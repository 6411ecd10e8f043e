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
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "match_lit.h"
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

/* Maps a compile error (expression index) back to the rule's position. */
static void map_error(const struct ruleset *rs, const struct match_layer_src *b,
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

int match_compile_layer(const struct ruleset *rs, const struct match_layer_src *b,
                        hs_database_t **db, char *err, size_t errlen)
{
	hs_compile_error_t *ce = NULL;
	hs_error_t rc;
	*db = NULL;
	if (b->n == 0)
		return 0;
	if (b->literal)
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

void match_src_free(struct match_src *src)
{
	for (int l = 0; l < MATCH_LAYERS; l++) {
		struct match_layer_src *b = &src->layer[l];
		for (size_t i = 0; i < b->n; i++)
			free((void *)b->expr[i]);
		free(b->expr);
		free(b->len);
		free(b->flags);
		free(b->ids);
	}
	for (size_t i = 0; i < src->nlit; i++)
		free((void *)src->lit[i]);
	free(src->lit);
	free(src->litlen);
	free(src->litid);
	memset(src, 0, sizeof(*src));
}

int match_src_build(const struct ruleset *rs, unsigned norm_flags, unsigned opts,
                    struct match_src *src, char *err, size_t errlen)
{
	size_t cnt[MATCH_LAYERS] = {0};
	memset(src, 0, sizeof(*src));
	for (size_t i = 0; i < rs->n; i++)
		cnt[layer_of(&rs->rules[i])]++;
	/* Small sets: Hyperscan alone is faster (see MATCH_INDEX_THRESHOLD). */
	if (!(opts & MATCH_INDEX_ALL) && cnt[MATCH_NORM] < MATCH_INDEX_THRESHOLD)
		opts |= MATCH_HS_ONLY;
	for (int l = 0; l < MATCH_LAYERS; l++) {
		struct match_layer_src *b = &src->layer[l];
		size_t n = cnt[l];
		b->expr = calloc(n + 1, sizeof(*b->expr));
		b->len = calloc(n + 1, sizeof(*b->len));
		b->flags = calloc(n + 1, sizeof(*b->flags));
		b->ids = calloc(n + 1, sizeof(*b->ids));
		if (!b->expr || !b->len || !b->flags || !b->ids)
			goto oom;
	}
	src->lit = calloc(cnt[MATCH_NORM] + 1, sizeof(*src->lit));
	src->litlen = calloc(cnt[MATCH_NORM] + 1, sizeof(*src->litlen));
	src->litid = calloc(cnt[MATCH_NORM] + 1, sizeof(*src->litid));
	if (!src->lit || !src->litlen || !src->litid)
		goto oom;
	/* The raw layer mixes literals and regexes: literals there are escaped
	 * into regexes.  Text is regex only; norm is literal only. */
	src->layer[MATCH_NORM].literal = 1;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		enum match_layer l = layer_of(r);
		struct match_layer_src *b = &src->layer[l];
		size_t k = b->n;
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
			/* Bulk literals go to the index; short or very long ones,
			 * and all of them in HS-only mode, stay in Hyperscan. */
			if (!(opts & MATCH_HS_ONLY) && n >= LITIDX_MIN_LEN && n <= LITIDX_MAX_LEN &&
			    (norm_flags & NORM_NFKC_CF)) {
				src->lit[src->nlit] = out;
				src->litlen[src->nlit] = (uint32_t)n;
				src->litid[src->nlit] = (uint32_t)i;
				src->nlit++;
				continue;
			}
			b->expr[k] = (const char *)out;
			b->len[k] = n;
			b->flags[k] = HS_FLAG_CASELESS;
		} else if (r->kind == RULE_LITERAL) {
			/* raw literal -> \xHH regex, exact bytes */
			char *re = malloc((size_t)r->patlen * 4 + 1);
			if (!re)
				goto oom;
			for (uint32_t j = 0; j < r->patlen; j++)
				sprintf(re + j * 4, "\\x%02x", r->pat[j]);
			b->expr[k] = re;
			b->flags[k] = 0;
		} else {
			b->expr[k] = strdup((const char *)r->pat);
			if (!b->expr[k])
				goto oom;
			b->flags[k] = regex_flags(r);
		}
		b->ids[k] = (unsigned)i;
		b->n++;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory while compiling rules");
fail:
	match_src_free(src);
	return -1;
}

/* The per-rule verdict counters: mostly never touched (a rule that never
 * matches never writes its counter), so from 64 KiB on they get a mapping
 * of their own whose pages stay unallocated until a rule hits.  calloc
 * zeroes a chunk it reuses from an arena, which makes all of them resident
 * (8 bytes a rule). */
#define HITS_MAP_BYTES (64u << 10)

static uint64_t *hits_alloc(size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(uint64_t);
	if (bytes < HITS_MAP_BYTES)
		return calloc(n ? n : 1, sizeof(uint64_t));
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void hits_free(uint64_t *h, size_t n)
{
	size_t bytes = (n ? n : 1) * sizeof(uint64_t);
	if (bytes < HITS_MAP_BYTES)
		free(h);
	else if (h)
		munmap(h, bytes);
}

struct matcher *matcher_new_empty(const struct ruleset *rs, unsigned norm_flags)
{
	struct matcher *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->rs = rs;
	m->norm_flags = norm_flags;
	m->refs = 1;
	m->nhits = rs->n;
	m->hits = hits_alloc(m->nhits);
	if (!m->hits) {
		free(m);
		return NULL;
	}
	return m;
}

struct matcher *matcher_build_opts(const struct ruleset *rs, unsigned norm_flags, unsigned opts,
                                   char *err, size_t errlen)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct match_src src;
	struct matcher *m = matcher_new_empty(rs, norm_flags);
	if (!m) {
		snprintf(err, errlen, "out of memory while compiling rules");
		return NULL;
	}
	if (match_src_build(rs, norm_flags, opts, &src, err, errlen)) {
		matcher_free(m);
		return NULL;
	}
	for (int l = 0; l < MATCH_LAYERS; l++) {
		m->nrules[l] = src.layer[l].n;
		if (match_compile_layer(rs, &src.layer[l], &m->db[l], err, errlen))
			goto fail;
	}
	if (src.nlit) {
		/* Literal texts are normalized (case-folded) bytes: exact compare. */
		m->lit = litidx_build((const uint8_t *const *)src.lit, src.litlen, src.litid,
		                      src.nlit, err, errlen);
		if (!m->lit)
			goto fail;
		m->nlit = src.nlit;
	}
	match_src_free(&src);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	m->compile_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return m;
fail:
	match_src_free(&src);
	matcher_free(m);
	return NULL;
}

struct matcher *matcher_build(const struct ruleset *rs, unsigned norm_flags, char *err,
                              size_t errlen)
{
	return matcher_build_opts(rs, norm_flags, 0, err, errlen);
}

void matcher_free(struct matcher *m)
{
	if (!m)
		return;
	for (int l = 0; l < MATCH_LAYERS; l++)
		hs_free_database(m->db[l]);
	litidx_free(m->lit);
	hits_free(m->hits, m->nhits);
	if (m->owns_rs) {
		ruleset_free((struct ruleset *)m->rs);
		free((struct ruleset *)m->rs);
	}
	free(m);
	/* A set is hundreds of MB, partly in the heap: give it back to the
	 * system now, or the next swap starts from a higher RSS. */
	malloc_trim(0);
}

void matcher_ref(struct matcher *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
}

/* ---- deferred frees ----
 * The last reference to an old set is usually dropped by a worker (its
 * last flow ended) or by the capture loop (the swap), and freeing a set
 * means unmapping up to a GiB and trimming the heap: time during which
 * packets would queue up in the ring.  So a gateway hands such sets to a
 * thread of their own, as Redis's lazyfree thread does with big keys. */
static pthread_mutex_t reap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reap_cv = PTHREAD_COND_INITIALIZER;
static pthread_t reap_th;
static struct matcher *reap_list; /* through reap_next */
static int reap_users, reap_running;
static uint64_t reap_queued, reap_freed;

static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&reap_mu);
	for (;;) {
		while (reap_list) {
			struct matcher *m = reap_list;
			reap_list = m->reap_next;
			pthread_mutex_unlock(&reap_mu);
			matcher_free(m);
			pthread_mutex_lock(&reap_mu);
			reap_freed++;
		}
		if (!reap_running)
			break;
		pthread_cond_wait(&reap_cv, &reap_mu);
	}
	pthread_mutex_unlock(&reap_mu);
	return NULL;
}

int matcher_reaper_start(void)
{
	int rc = 0;
	pthread_mutex_lock(&reap_mu);
	if (reap_users++ == 0) {
		reap_running = 1;
		if (pthread_create(&reap_th, NULL, reaper_main, NULL)) {
			reap_running = 0;
			reap_users = 0;
			rc = -1;
		}
	}
	pthread_mutex_unlock(&reap_mu);
	return rc;
}

void matcher_reaper_stop(void)
{
	pthread_mutex_lock(&reap_mu);
	if (reap_users == 0 || --reap_users > 0) {
		pthread_mutex_unlock(&reap_mu);
		return;
	}
	reap_running = 0; /* from here on unref frees inline */
	pthread_cond_signal(&reap_cv);
	pthread_mutex_unlock(&reap_mu);
	pthread_join(reap_th, NULL); /* it empties the queue first */
}

void matcher_reaper_counts(uint64_t *queued, uint64_t *freed)
{
	pthread_mutex_lock(&reap_mu);
	*queued = reap_queued;
	*freed = reap_freed;
	pthread_mutex_unlock(&reap_mu);
}

void matcher_unref(struct matcher *m)
{
	if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_lock(&reap_mu);
	if (reap_running) {
		m->reap_next = reap_list;
		reap_list = m;
		reap_queued++;
		pthread_cond_signal(&reap_cv);
		m = NULL;
	}
	pthread_mutex_unlock(&reap_mu);
	if (m)
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
