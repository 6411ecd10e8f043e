/* test_match_lit.c - the literal index against hand-made cases, a naive
 * reference and Hyperscan streaming mode (the differential test), plus the
 * serialized image (round trip, corruption, truncation). */
#include <hs.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match_lit.h"
#include "unit.h"

struct hit {
	uint32_t id;
	uint64_t end;
};

struct hits {
	struct hit *v;
	size_t n, cap;
};

static void hits_add(struct hits *h, uint32_t id, uint64_t end)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
	}
	h->v[h->n++] = (struct hit){id, end};
}

static void on_lit(uint32_t id, uint64_t end, void *ctx)
{
	hits_add(ctx, id, end);
}

static int on_hs(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                 void *ctx)
{
	(void)from, (void)fl;
	hits_add(ctx, id, to);
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void hits_sort(struct hits *h)
{
	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), hit_cmp);
}

/* Same multiset?  Prints the first difference. */
static int hits_same(struct hits *a, struct hits *b, const char *what)
{
	hits_sort(a);
	hits_sort(b);
	size_t i = 0;
	for (; i < a->n && i < b->n; i++)
		if (a->v[i].id != b->v[i].id || a->v[i].end != b->v[i].end)
			break;
	if (i == a->n && i == b->n)
		return 1;
	fprintf(stderr, "  %s: %zu vs %zu hits; first difference at %zu: ", what, a->n, b->n, i);
	if (i < a->n)
		fprintf(stderr, "(%u,%llu) ", a->v[i].id, (unsigned long long)a->v[i].end);
	if (i < b->n)
		fprintf(stderr, "vs (%u,%llu)", b->v[i].id, (unsigned long long)b->v[i].end);
	fprintf(stderr, "\n");
	return 0;
}

struct set {
	const uint8_t **lits;
	uint32_t *lens, *ids;
	size_t n;
};

static struct litidx *build_strs(const char *const *s, const uint32_t *ids, size_t n,
                                 const struct litidx_opts *o)
{
	const uint8_t *lits[64];
	uint32_t lens[64];
	char err[256];
	for (size_t i = 0; i < n; i++) {
		lits[i] = (const uint8_t *)s[i];
		lens[i] = (uint32_t)strlen(s[i]);
	}
	struct litidx *x = litidx_build_opts(lits, lens, ids, n, o, err, sizeof(err));
	if (!x)
		fprintf(stderr, "  build: %s\n", err);
	return x;
}

/* Feeds text in chunks of the given sizes (cycled); a size of 0 is a reset. */
static void scan_chunks(const struct litidx *x, const char *text, const size_t *sizes,
                        size_t nsizes, struct hits *out)
{
	struct litidx_stream s;
	litidx_stream_init(&s);
	size_t len = strlen(text), off = 0, k = 0;
	while (off < len) {
		size_t c = sizes[k++ % nsizes];
		if (!c) {
			litidx_stream_reset(&s);
			continue;
		}
		c = c > len - off ? len - off : c;
		litidx_scan(x, &s, (const uint8_t *)text + off, c, on_lit, out);
		off += c;
	}
	CHECK_EQ_INT(s.pos, len);
	litidx_stream_free(&s);
}

static int expect(struct hits *h, const struct hit *want, size_t n)
{
	struct hits w = {0};
	for (size_t i = 0; i < n; i++)
		hits_add(&w, want[i].id, want[i].end);
	int ok = hits_same(h, &w, "expected");
	free(w.v);
	return ok;
}

static const char *const basic_lits[] = {"abcdef", "bcdefg", "abcdefgh",
                                         "abcdef", "aaaaaa", "xyzxyzxyzxyzxyzxyzxy"};
static const uint32_t basic_ids[] = {1, 2, 3, 4, 5, 6};

static void test_basic_whole(void)
{
	struct litidx *x = build_strs(basic_lits, basic_ids, 6, NULL);
	CHECK(x != NULL);
	if (!x)
		return;
	CHECK_EQ_INT(litidx_count(x), 6);
	CHECK_EQ_INT(litidx_maxlen(x), 20);
	CHECK_EQ_INT(litidx_anchor(x), 6);
	struct hits h = {0};
	size_t whole = 1000;
	scan_chunks(x, "--abcdefgh--aaaaaaaa", &whole, 1, &h);
	/* duplicates (1 and 4), overlaps, a prefix of a longer literal,
	 * self-overlapping runs (aaaaaa x3 in 8 a's) */
	const struct hit want[] = {{1, 8}, {4, 8}, {2, 9}, {3, 10}, {5, 18}, {5, 19}, {5, 20}};
	CHECK(expect(&h, want, 7));
	free(h.v);
	litidx_free(x);
}

static void test_spanning(void)
{
	struct litidx *x = build_strs(basic_lits, basic_ids, 6, NULL);
	if (!x) {
		CHECK(0);
		return;
	}
	const char *text = "..xyzxyzxyzxyzxyzxyzxy..abcdefgh";
	const struct hit want[] = {{6, 22}, {1, 30}, {4, 30}, {2, 31}, {3, 32}};
	/* two chunks, three chunks (the 20-byte literal spans all three),
	 * 1-byte feeds, 2..9 byte feeds */
	const size_t two[] = {12, 100}, three[] = {5, 7, 8, 100}, one[] = {1};
	for (int mode = 0; mode < 4 + 8; mode++) {
		struct hits h = {0};
		if (mode == 0)
			scan_chunks(x, text, two, 2, &h);
		else if (mode == 1)
			scan_chunks(x, text, three, 4, &h);
		else if (mode == 2)
			scan_chunks(x, text, one, 1, &h);
		else {
			size_t c = (size_t)mode - 1;
			scan_chunks(x, text, &c, 1, &h);
		}
		if (!expect(&h, want, 5)) {
			fprintf(stderr, "  (mode %d)\n", mode);
			CHECK(0);
		}
		free(h.v);
	}
	litidx_free(x);
}

static void test_reset(void)
{
	struct litidx *x = build_strs(basic_lits, basic_ids, 6, NULL);
	if (!x) {
		CHECK(0);
		return;
	}
	/* "abc|def" split by a reset: nothing; positions keep counting. */
	const size_t sz[] = {5, 0, 100};
	struct hits h = {0};
	scan_chunks(x, "--abcdef--abcdef", sz, 3, &h);
	const struct hit want[] = {{1, 16}, {4, 16}};
	CHECK(expect(&h, want, 2));
	free(h.v);
	/* a reset right at a match end keeps the match */
	const size_t sz2[] = {8, 0, 100};
	h = (struct hits){0};
	scan_chunks(x, "--abcdef", sz2, 3, &h);
	const struct hit want2[] = {{1, 8}, {4, 8}};
	CHECK(expect(&h, want2, 2));
	free(h.v);
	litidx_free(x);
}

static void test_edges(void)
{
	struct litidx *x = build_strs(basic_lits, basic_ids, 6, NULL);
	if (!x) {
		CHECK(0);
		return;
	}
	struct litidx_stream s;
	litidx_stream_init(&s);
	struct hits h = {0};
	/* empty input: nothing, position unchanged */
	litidx_scan(x, &s, (const uint8_t *)"", 0, on_lit, &h);
	CHECK_EQ_INT(h.n, 0);
	CHECK_EQ_INT(s.pos, 0);
	/* a literal equal to the whole chunk (shorter than one 8-byte load) */
	litidx_scan(x, &s, (const uint8_t *)"abcdef", 6, on_lit, &h);
	CHECK_EQ_INT(h.n, 2);
	/* the chunk ends one byte short; the next byte completes it */
	litidx_scan(x, &s, (const uint8_t *)"zzzzzzzzzzzzzzzzzabcdefg", 24, on_lit, &h);
	CHECK_EQ_INT(h.n, 5); /* abcdef x2 and bcdefg, all inside the chunk */
	litidx_scan(x, &s, (const uint8_t *)"h", 1, on_lit, &h);
	const struct hit want[] = {{1, 6}, {4, 6}, {1, 29}, {4, 29}, {2, 30}, {3, 31}};
	CHECK(expect(&h, want, 6));
	litidx_stream_free(&s);
	free(h.v);
	/* matches ending exactly at every chunk end, across a sweep of sizes */
	for (size_t pad = 0; pad < 20; pad++) {
		char text[64];
		memset(text, '-', pad);
		strcpy(text + pad, "abcdef");
		for (size_t c = 1; c <= pad + 6; c++) {
			struct hits hh = {0};
			scan_chunks(x, text, &c, 1, &hh);
			const struct hit w2[] = {{1, pad + 6}, {4, pad + 6}};
			if (!expect(&hh, w2, 2)) {
				fprintf(stderr, "  pad %zu chunk %zu\n", pad, c);
				CHECK(0);
			}
			free(hh.v);
		}
	}
	litidx_free(x);
}

static void test_build_errors(void)
{
	char err[256];
	const uint8_t *l[1] = {(const uint8_t *)"abc"};
	uint32_t len = 3, id = 7;
	CHECK(litidx_build(l, &len, &id, 1, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "id 7") != NULL);
	static uint8_t big[LITIDX_MAX_LEN + 1];
	l[0] = big;
	len = sizeof(big);
	CHECK(litidx_build(l, &len, &id, 1, err, sizeof(err)) == NULL);
	len = LITIDX_MAX_LEN;
	memset(big, 'q', sizeof(big));
	struct litidx *x = litidx_build(l, &len, &id, 1, err, sizeof(err));
	CHECK(x != NULL);
	if (x) {
		struct hits h = {0};
		struct litidx_stream s;
		litidx_stream_init(&s);
		for (int i = 0; i < 300; i++)
			litidx_scan(x, &s, big, 1, on_lit, &h);
		CHECK_EQ_INT(h.n, 300 - LITIDX_MAX_LEN + 1);
		litidx_stream_free(&s);
		free(h.v);
		litidx_free(x);
	}
	/* empty index: scans nothing, round-trips */
	x = litidx_build(NULL, NULL, NULL, 0, err, sizeof(err));
	CHECK(x != NULL);
	if (x) {
		struct hits h = {0};
		struct litidx_stream s;
		litidx_stream_init(&s);
		litidx_scan(x, &s, big, 100, on_lit, &h);
		CHECK_EQ_INT(h.n, 0);
		uint8_t *img;
		size_t n;
		CHECK(litidx_serialize(x, &img, &n) == 0);
		struct litidx *y = litidx_deserialize(img, n, err, sizeof(err));
		CHECK(y != NULL);
		litidx_free(y);
		free(img);
		litidx_stream_free(&s);
		litidx_free(x);
	}
}

/* ---- random sets ---- */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}
static size_t rndn(size_t n)
{
	return (size_t)(rnd() % n);
}

/* A small alphabet of Chinese characters and ASCII letters makes literals
 * share anchors and overlap, and random text hit them by chance. */
static size_t put_unit(uint8_t *p)
{
	if (rndn(2)) {
		unsigned cp = 0x4E00 + (unsigned)rndn(24) * 37; /* 24 characters */
		p[0] = (uint8_t)(0xE0 | (cp >> 12));
		p[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		p[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	p[0] = (uint8_t)('a' + rndn(6));
	return 1;
}

static void gen_set(struct set *s, size_t n)
{
	s->n = n;
	s->lits = calloc(n, sizeof(*s->lits));
	s->lens = calloc(n, sizeof(*s->lens));
	s->ids = calloc(n, sizeof(*s->ids));
	for (size_t i = 0; i < n; i++) {
		uint8_t *b = malloc(64);
		size_t want = LITIDX_MIN_LEN + rndn(40 - LITIDX_MIN_LEN + 1), len = 0;
		if (i > 0 && rndn(4) == 0) {
			/* a prefix/extension of an earlier literal, or a duplicate */
			size_t j = rndn(i);
			len = s->lens[j];
			memcpy(b, s->lits[j], len);
			if (rndn(3) == 0)
				want = len;
		}
		while (len < want) {
			uint8_t u[3];
			size_t k = put_unit(u);
			if (len + k > 40)
				break;
			memcpy(b + len, u, k);
			len += k;
		}
		while (len < LITIDX_MIN_LEN)
			b[len++] = 'a';
		if (len > want && len > LITIDX_MIN_LEN && rndn(2))
			len = want > LITIDX_MIN_LEN ? want : LITIDX_MIN_LEN; /* may cut a char */
		/* now and then one that starts inside a character (a UTF-8
		 * continuation byte): the scan must not skip those positions */
		if (rndn(16) == 0 && b[0] >= 0xC0 && len >= LITIDX_MIN_LEN + 2) {
			size_t cut = 1 + rndn(2);
			memmove(b, b + cut, len - cut);
			len -= cut;
		}
		s->lits[i] = b;
		s->lens[i] = (uint32_t)len;
		s->ids[i] = (uint32_t)(i * 3 + 1);
	}
}

static void set_free(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free((void *)s->lits[i]);
	free(s->lits);
	free(s->lens);
	free(s->ids);
}

static uint8_t *gen_text(const struct set *s, size_t len)
{
	uint8_t *t = malloc(len + 64);
	size_t n = 0;
	while (n < len) {
		if (s->n && rndn(8) == 0) {
			size_t j = rndn(s->n);
			memcpy(t + n, s->lits[j], s->lens[j]);
			n += s->lens[j];
		} else if (rndn(16) == 0) {
			t[n++] = (uint8_t)rnd(); /* any byte, continuation bytes included */
		} else {
			n += put_unit(t + n);
		}
	}
	return t; /* len bytes used */
}

/* Chunk sizes: mostly small, sometimes large, sometimes a reset (0). */
static size_t *gen_chunks(size_t len, size_t *nc, int resets)
{
	size_t cap = len + 1, n = 0, sum = 0;
	size_t *c = malloc(cap * sizeof(*c));
	while (sum < len) {
		size_t r = rndn(10), sz;
		if (resets && rndn(50) == 0) {
			c[n++] = 0;
			continue;
		}
		sz = r < 4 ? 1 + rndn(8) : r < 8 ? 1 + rndn(64) : 1 + rndn(3000);
		sz = sz > len - sum ? len - sum : sz;
		c[n++] = sz;
		sum += sz;
		if (n == cap)
			break;
	}
	*nc = n;
	return c;
}

static void run_lit(const struct litidx *x, const uint8_t *t, const size_t *c, size_t nc,
                    struct hits *h)
{
	struct litidx_stream s;
	litidx_stream_init(&s);
	size_t off = 0;
	for (size_t i = 0; i < nc; i++) {
		if (!c[i])
			litidx_stream_reset(&s);
		else
			litidx_scan(x, &s, t + off, c[i], on_lit, h);
		off += c[i];
	}
	litidx_stream_free(&s);
}

/* Hyperscan streaming, one stream per reset segment; ends are made
 * absolute like the index's. */
struct hs_seg {
	struct hits *h;
	uint64_t base;
};
static int on_hs_seg(unsigned id, unsigned long long from, unsigned long long to, unsigned fl,
                     void *ctx)
{
	struct hs_seg *g = ctx;
	return on_hs(id, from, to + g->base, fl, g->h);
}

static int run_hs(const struct set *s, const uint8_t *t, const size_t *c, size_t nc, struct hits *h)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	unsigned *flags = calloc(s->n, sizeof(unsigned));
	size_t *lens = malloc(s->n * sizeof(size_t));
	for (size_t i = 0; i < s->n; i++)
		lens[i] = s->lens[i];
	hs_error_t rc = hs_compile_lit_multi((const char *const *)s->lits, flags, s->ids, lens,
	                                     (unsigned)s->n, HS_MODE_STREAM, NULL, &db, &ce);
	free(flags);
	free(lens);
	if (rc != HS_SUCCESS) {
		fprintf(stderr, "  hs compile: %s\n", ce ? ce->message : "?");
		hs_free_compile_error(ce);
		return -1;
	}
	hs_scratch_t *scr = NULL;
	hs_alloc_scratch(db, &scr);
	hs_stream_t *st = NULL;
	struct hs_seg g = {h, 0};
	hs_open_stream(db, 0, &st);
	size_t off = 0;
	for (size_t i = 0; i < nc; i++) {
		if (!c[i]) {
			hs_close_stream(st, scr, on_hs_seg, &g);
			hs_open_stream(db, 0, &st);
			g.base = off;
		} else {
			hs_scan_stream(st, (const char *)t + off, (unsigned)c[i], 0, scr, on_hs_seg,
			               &g);
		}
		off += c[i];
	}
	hs_close_stream(st, scr, on_hs_seg, &g);
	hs_free_scratch(scr);
	hs_free_database(db);
	return 0;
}

/* A naive reference for sets too awkward for Hyperscan (none so far) and a
 * cross-check of the harness itself. */
static void run_naive(const struct set *s, const uint8_t *t, const size_t *c, size_t nc,
                      struct hits *h)
{
	size_t off = 0, seg = 0;
	for (size_t i = 0; i <= nc; i++) {
		if (i == nc || !c[i]) {
			for (size_t p = seg; p < off; p++)
				for (size_t j = 0; j < s->n; j++)
					if (s->lens[j] <= off - p &&
					    !memcmp(t + p, s->lits[j], s->lens[j]))
						hits_add(h, s->ids[j], p + s->lens[j]);
			seg = off;
		}
		if (i < nc)
			off += c[i];
	}
}

static void test_differential(void)
{
	/* 4 tiny sets (also against the naive reference), 16 medium, 2 large
	 * enough for multi-level tables */
	for (int round = 0; round < 22; round++) {
		struct set s;
		size_t n = round < 4    ? 1 + rndn(20)
		           : round < 20 ? 500 + rndn(3000)
		                        : 10000 + rndn(10000);
		gen_set(&s, n);
		size_t len = round < 4 ? 20000 : round < 20 ? 200000 + rndn(200000) : 1000000;
		uint8_t *t = gen_text(&s, len);
		size_t nc, *c = gen_chunks(len, &nc, round % 3 == 2);
		/* odd rounds: every anchor length 1..8 (so kc, the first-pass
		 * filter's prefix, covers part of a 32-bit half too) and small
		 * first-pass filters (crowded words) */
		struct litidx_opts o = {.anchor_len = 1 + (unsigned)((round / 2) % 8),
		                        .filter_bits = 7 + (unsigned)(round % 5)};
		/* the large rounds: class bitmaps over 2^16 words, and a
		 * first-pass filter past L2, so that the passes prefetch */
		if (round == 20)
			o = (struct litidx_opts){.bitmap_shift = 12};
		else if (round == 21)
			o = (struct litidx_opts){
			    .anchor_len = 6, .bitmap_shift = 10, .filter_bits = 22};
		char err[256];
		struct litidx *x =
		    litidx_build_opts(s.lits, s.lens, s.ids, s.n,
		                      round % 2 || round == 20 ? &o : NULL, err, sizeof(err));
		CHECK(x != NULL);
		if (!x) {
			fprintf(stderr, "  %s\n", err);
			continue;
		}
		struct hits a = {0}, b = {0};
		run_lit(x, t, c, nc, &a);
		CHECK(run_hs(&s, t, c, nc, &b) == 0);
		char what[64];
		snprintf(what, sizeof(what), "round %d (%zu literals, k=%u)", round, n,
		         litidx_anchor(x));
		CHECK(hits_same(&a, &b, what));
		if (round < 4) {
			struct hits r = {0};
			run_naive(&s, t, c, nc, &r);
			CHECK(hits_same(&a, &r, "naive"));
			free(r.v);
		}
		CHECK(a.n > 100);
		/* round trip: the loaded index reports the same */
		uint8_t *img;
		size_t ilen;
		CHECK(litidx_serialize(x, &img, &ilen) == 0);
		struct litidx *y = litidx_deserialize(img, ilen, err, sizeof(err));
		CHECK(y != NULL);
		if (y) {
			struct hits d = {0};
			run_lit(y, t, c, nc, &d);
			CHECK(hits_same(&a, &d, "deserialized"));
			CHECK_EQ_INT(litidx_memsize(y), litidx_memsize(x));
			free(d.v);
			litidx_free(y);
		}
		free(img);
		free(a.v);
		free(b.v);
		free(c);
		free(t);
		litidx_free(x);
		set_free(&s);
	}
}

/* One stream, the index swapped mid-stream (hot swap): the carry is text,
 * so a match completing after the swap is found by the new index as long
 * as the carry held enough bytes: the old index's maxlen-1, or what
 * litidx_stream_reserve() asked for. */
static void test_swap(void)
{
	const char *a[] = {"abcdef"}, *b[] = {"bcdefghijk"};
	uint32_t ia = 1, ib = 2;
	struct litidx *x = build_strs(a, &ia, 1, NULL), *y = build_strs(b, &ib, 1, NULL);
	if (!x || !y) {
		CHECK(0);
		return;
	}
	for (int reserve = 0; reserve < 2; reserve++) {
		struct litidx_stream s;
		litidx_stream_init(&s);
		if (reserve)
			CHECK(litidx_stream_reserve(&s, LITIDX_MAX_LEN - 1) == 0);
		struct hits h = {0};
		litidx_scan(x, &s, (const uint8_t *)"--abcdefgh", 10, on_lit, &h);
		litidx_scan(y, &s, (const uint8_t *)"ijk", 3, on_lit, &h);
		/* without the reserve the carry was 5 bytes ("defgh"): the
		 * 10-byte literal starting at "b" cannot be seen */
		const struct hit want[] = {{1, 8}, {2, 13}};
		CHECK(expect(&h, want, reserve ? 2 : 1));
		free(h.v);
		litidx_stream_free(&s);
	}
	litidx_free(x);
	litidx_free(y);
}

static void test_image_rejects(void)
{
	struct set s;
	gen_set(&s, 300);
	char err[256];
	struct litidx *x = litidx_build(s.lits, s.lens, s.ids, s.n, err, sizeof(err));
	if (!x) {
		CHECK(0);
		return;
	}
	uint8_t *img;
	size_t n;
	CHECK(litidx_serialize(x, &img, &n) == 0);
	uint8_t *m = malloc(n);
	/* every truncation of the header and a sample beyond */
	for (size_t cut = 0; cut < n; cut += cut < 256 ? 1 : 1 + rndn(997)) {
		struct litidx *y = litidx_deserialize(img, cut, err, sizeof(err));
		CHECK(y == NULL);
		litidx_free(y);
	}
	/* one flipped bit anywhere: the checksum catches it */
	for (int i = 0; i < 2000; i++) {
		memcpy(m, img, n);
		m[rndn(n)] ^= (uint8_t)(1u << rndn(8));
		struct litidx *y = litidx_deserialize(m, n, err, sizeof(err));
		CHECK(y == NULL);
		litidx_free(y);
	}
	/* structural damage with a valid checksum: rejected by validation, or
	 * (if harmless, e.g. in padding or an unused bitmap bit) loads and
	 * scans without fault */
	uint8_t *t = gen_text(&s, 5000);
	int rejected = 0;
	for (int i = 0; i < 3000; i++) {
		memcpy(m, img, n);
		size_t at = i < 1000 ? rndn(128) : rndn(n);
		m[at] = (uint8_t)rnd();
		litidx_image_fix_checksum(m, n);
		struct litidx *y = litidx_deserialize(m, n, err, sizeof(err));
		if (!y) {
			rejected++;
			continue;
		}
		struct hits h = {0};
		size_t one = 5000;
		run_lit(y, t, &one, 1, &h);
		free(h.v);
		litidx_free(y);
	}
	CHECK(rejected > 1000);
	/* the first-pass filter (after the 64-byte outer header: its 32-byte
	 * header, then the words; its size at outer offset 48): emptied, it
	 * lacks the entries' bits; with another prefix length, it disagrees
	 * with the classes' anchors */
	uint64_t pf_len;
	memcpy(&pf_len, img + 48, 8);
	CHECK(pf_len > 32 && pf_len < n - 64);
	memcpy(m, img, n);
	memset(m + 64 + 32, 0, (size_t)pf_len - 32);
	litidx_image_fix_checksum(m, n);
	CHECK(litidx_deserialize(m, n, err, sizeof(err)) == NULL &&
	      strstr(err, "first-pass filter bit missing"));
	uint32_t was;
	memcpy(&was, img + 64 + 16, 4);
	for (uint32_t kc = 0; kc <= 9; kc++) {
		if (kc == was)
			continue;
		memcpy(m, img, n);
		memcpy(m + 64 + 16, &kc, 4);
		litidx_image_fix_checksum(m, n);
		struct litidx *z = litidx_deserialize(m, n, err, sizeof(err));
		CHECK(z == NULL);
		litidx_free(z);
		/* with every filter bit set, only the prefix check can tell */
		memset(m + 64 + 32, 0xff, (size_t)pf_len - 32);
		litidx_image_fix_checksum(m, n);
		z = litidx_deserialize(m, n, err, sizeof(err));
		CHECK(z == NULL && (kc < 1 || kc > 8 || strstr(err, "filter prefix")));
		litidx_free(z);
	}
	/* ... and with the right prefix it is merely a useless filter: the
	 * index loads and reports the same */
	memcpy(m, img, n);
	memset(m + 64 + 32, 0xff, (size_t)pf_len - 32);
	litidx_image_fix_checksum(m, n);
	struct litidx *full = litidx_deserialize(m, n, err, sizeof(err));
	CHECK(full != NULL);
	if (full) {
		struct hits h1 = {0}, h2 = {0};
		size_t one = 5000;
		run_lit(x, t, &one, 1, &h1);
		run_lit(full, t, &one, 1, &h2);
		CHECK(h1.n > 0 && hits_same(&h1, &h2, "all-ones filter"));
		free(h1.v);
		free(h2.v);
		litidx_free(full);
	}
	struct litidx *y = litidx_deserialize(img, n, err, sizeof(err));
	CHECK(y != NULL);
	litidx_free(y);
	free(t);
	free(m);
	free(img);
	litidx_free(x);
	set_free(&s);
}

/* Loading from a file mapping with a release callback that drops each
 * window's pages (what bundle.c does): every byte past the header is
 * handed back, in more than one window, and the index loaded that way
 * reports the same as the one built in memory.  A damaged file is still
 * refused. */
/* litidx_read_fn over a file (pread), logging what was read */
struct rel_log {
	int fd, fail_at;        /* fail_at: the call that fails (0: none) */
	size_t len, calls, big; /* big: reads above the 256 KiB window */
	uint8_t *seen;
};

static int log_read(void *ctx, uint64_t off, void *dst, size_t n)
{
	struct rel_log *r = ctx;
	CHECK(off + n <= r->len);
	if (off + n > r->len || (r->fail_at && (int)r->calls + 1 == r->fail_at))
		return -1;
	r->calls++;
	r->big += n > ((size_t)256 << 10);
	memset(r->seen + off, 1, n);
	return pread(r->fd, dst, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

static struct litidx *load_file_read(const uint8_t *img, size_t n, struct rel_log *r, int fail_at)
{
	char path[] = "/tmp/tsf-litimg-XXXXXX", err[256];
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return NULL;
	unlink(path);
	CHECK(write(fd, img, n) == (ssize_t)n);
	*r = (struct rel_log){.fd = fd, .fail_at = fail_at, .len = n, .seen = calloc(1, n)};
	struct litidx *y = litidx_deserialize_read(log_read, r, n, err, sizeof(err));
	if (fail_at)
		CHECK(y == NULL && strstr(err, "read error"));
	close(fd);
	return y;
}

/* Read through a reader: the checksum pass in windows, each part once,
 * straight into the index (the bundle loader's path). */
static void test_read_windows(void)
{
	struct set s;
	gen_set(&s, 400000);
	char err[256];
	struct litidx *x = litidx_build(s.lits, s.lens, s.ids, s.n, err, sizeof(err));
	if (!x) {
		CHECK(0);
		set_free(&s);
		return;
	}
	uint8_t *img;
	size_t n;
	CHECK(litidx_serialize(x, &img, &n) == 0);
	CHECK(n > ((size_t)16 << 20)); /* more than one window */
	struct rel_log r;
	struct litidx *y = load_file_read(img, n, &r, 0);
	CHECK(y != NULL);
	CHECK(r.calls > 2);
	CHECK(r.big <= 3); /* the filter and the two classes; the checksum pass reads windows */
	size_t missed = 0;
	for (size_t i = 0; i < n; i++)
		missed += !r.seen[i];
	CHECK_EQ_INT(missed, 0);
	free(r.seen);
	if (y) {
		uint8_t *t = gen_text(&s, 300000);
		size_t one = 300000;
		struct hits a = {0}, b = {0};
		run_lit(x, t, &one, 1, &a);
		run_lit(y, t, &one, 1, &b);
		CHECK(a.n > 0);
		CHECK(hits_same(&a, &b, "loaded through a reader"));
		free(a.v);
		free(b.v);
		free(t);
		litidx_free(y);
	}
	for (int at = 1; at <= 6; at++) { /* a read error anywhere: refused */
		y = load_file_read(img, n, &r, at);
		litidx_free(y);
		free(r.seen);
	}
	img[n / 2] ^= 0x10;
	y = load_file_read(img, n, &r, 0);
	CHECK(y == NULL);
	litidx_free(y);
	free(r.seen);
	free(img);
	litidx_free(x);
	set_free(&s);
}

int main(void)
{
	RUN(test_basic_whole);
	RUN(test_spanning);
	RUN(test_reset);
	RUN(test_edges);
	RUN(test_build_errors);
	RUN(test_swap);
	RUN(test_differential);
	RUN(test_image_rejects);
	RUN(test_read_windows);
	return UNIT_DONE();
}
