/* match_lit.c - the literal-index tier (see match_lit.h for the design).
 *
 * Serialized: struct lit_outer (magic, part sizes, checksum), the
 * first-pass filter shared by both classes (struct lit_pfh, then its
 * words), then one image per length class.  Each class ("sub-index",
 * struct lsub) is one allocation laid out exactly like its image
 * (little-endian):
 *   struct lit_hdr                 128 bytes
 *   bitmap    uint32_t[]           1 << bm_bits bits (at least 16 bytes)
 *   starts    uint32_t[nb + 1]     bucket b = entries [starts[b], starts[b+1])
 *   (pad to 8)
 *   entries   struct lit_ent[n]    grouped by bucket
 *   arena     len byte, anchor offset byte, id (4 bytes), then the literal
 *             bytes; in entry order (so validating an image reads it
 *             sequentially)
 *   (pad to 8)
 */
#include "match_lit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LIT_MAGIC "TSFLIDX1"
#define LIT_VERSION                                                                                \
	5u /* 2: mix() of 32-bit multiplies; 3: entry extra bytes, id in the                       \
	      arena; 4: 32-bit filter words; 5: one first-pass filter for both                     \
	      classes, class bitmaps behind it */
#define LIT_ENDIAN 0x01020304u
#define LIT_BM_SHIFT 4 /* bitmap bits per bucket, log2 */

struct lit_hdr {
	char magic[8];
	uint32_t version, endian;
	uint32_t k, minlen, maxlen, nb_bits, bm_bits, zero; /* zero: must be 0 */
	uint64_t n, arena_len, total_len, checksum;
	uint8_t startok[32]; /* bitset: bytes some anchor starts with */
	uint8_t reserved[24];
};
_Static_assert(sizeof(struct lit_hdr) == 128, "header size is part of the format");

/* key: the 8 literal bytes from the anchor offset (little-endian), which
 * rejects most text that merely contains the k-byte anchor without a trip
 * to the arena.  Literals under 8 bytes ("short": anchor at offset 0) keep
 * all their bytes, zero above, and their length in the top byte: they are
 * confirmed from the entry alone (they are the hot ones: two CJK
 * characters).  The hash is always over key & kmask.
 * x: for short entries the id; for the others up to 3 more literal bytes
 * after the key (low bytes, how many in the top byte), so that most text
 * that holds the anchor but not the literal is rejected here too: at 10M
 * literals ~0.08 positions per byte match a key, under half of them are
 * hits, and each arena trip is a DRAM miss.  The id of a long literal is
 * in the arena, read only for a confirmed hit. */
struct lit_ent {
	uint64_t key;
	uint32_t off; /* arena offset of the length byte | LIT_SHORT */
	uint32_t x;
};
/* Arena record: length, anchor offset, id (4 bytes), literal bytes. */
#define LIT_AREC 6
#define LIT_SHORT 0x80000000u
#define LIT_ARENA_MAX 0x7fffffffu
_Static_assert(sizeof(struct lit_ent) == 16, "entry size is part of the format");

struct lsub {
	uint8_t *img;
	size_t img_len;
	int img_mmap;
	struct lit_hdr *h;
	const uint32_t *bitmap;
	const uint32_t *starts;
	const struct lit_ent *ent;
	const uint8_t *arena;
	uint64_t kmask;
	unsigned k, maxlen, bw_shift, nb_shift;
	uint8_t startok[256];
	int cont_ok; /* some anchor starts with a UTF-8 continuation byte */
};

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

/* The anchor's hash: two 32-bit multilinear hashes of the key's halves
 * (mod 2^32, only their top bits are used), hA in the high word (bucket
 * and bitmap word indexes), hB in the low one (bitmap bits, see bm_mask).
 * 32-bit multiplies so that the AVX2 scan computes it for 8 positions in
 * one vector (vpmulld); the scalar code computes the same function. */
#define LIT_KA1 0x9E3779B1u
#define LIT_KA2 0x85EBCA77u
#define LIT_KB1 0xC2B2AE3Du
#define LIT_KB2 0x27D4EB2Fu
static inline uint64_t mix(uint64_t w)
{
	uint32_t lo = (uint32_t)w, hi = (uint32_t)(w >> 32);
	uint32_t a = lo * LIT_KA1 + hi * LIT_KA2, b = lo * LIT_KB1 + hi * LIT_KB2;
	return (uint64_t)a << 32 | b;
}

static uint64_t kmask_of(unsigned k)
{
	return k >= 8 ? ~0ull : (1ull << (8 * k)) - 1;
}

/* The k-gram of lit[0..len) at offset d. */
static uint64_t anchor_of(const uint8_t *lit, uint32_t len, uint32_t d, uint64_t kmask)
{
	uint64_t w = 0;
	memcpy(&w, lit + d, len - d < 8 ? len - d : 8);
	return w & kmask;
}

/* UTF-8 continuation bytes never start an anchor (when the literal has
 * another choice), so the scan can skip them: 1/3 of Chinese text. */
static inline int is_cont(uint8_t c)
{
	return (c & 0xC0) == 0x80;
}

/* Bytes an anchor at offset d needs: 8 for a full key when the literal
 * has 8, else the whole (short) literal. */
static inline uint32_t anchor_span(unsigned k, uint32_t len)
{
	(void)k;
	return len >= 8 ? 8 : len;
}

#define LIT_LOW56 0x00ffffffffffffffull

static inline uint64_t key_of(const uint8_t *lit, uint32_t len, uint32_t d, uint64_t kmask)
{
	(void)kmask;
	if (len - d >= 8)
		return anchor_of(lit, len, d, ~0ull);
	return anchor_of(lit, len, d, LIT_LOW56) | (uint64_t)(len - d) << 56;
}

/* The entry's extra bytes of a long literal: up to 3 literal bytes after
 * the 8-byte key, and their count in the top byte. */
static inline uint32_t ext_of(const uint8_t *lit, uint32_t len, uint32_t d)
{
	uint32_t n = len - d - 8 < 3 ? len - d - 8 : 3, v = 0;
	memcpy(&v, lit + d + 8, n);
	return v | n << 24;
}

/* Section offsets from the header fields (all bounded by the caller). */
struct lit_layout {
	size_t bm_off, bm_bytes, st_off, ent_off, arena_off, total;
};

static void layout_of(unsigned nb_bits, unsigned bm_bits, uint64_t n, uint64_t arena_len,
                      struct lit_layout *l)
{
	uint64_t nb = 1ull << nb_bits;
	l->bm_off = sizeof(struct lit_hdr);
	l->bm_bytes = bm_bits >= 6 ? (size_t)1 << (bm_bits - 3) : 8;
	l->st_off = l->bm_off + l->bm_bytes;
	l->ent_off = l->st_off + (((nb + 1) * 4 + 7) & ~(uint64_t)7);
	l->arena_off = l->ent_off + n * sizeof(struct lit_ent);
	l->total = l->arena_off + ((arena_len + 7) & ~(uint64_t)7);
}

/* A 4-lane multiply-rotate hash: catches corruption of a bundle section at
 * several GB/s (authenticity is the bundle signature's job).  Streamable:
 * ck_blocks() takes any number of whole 32-byte blocks, so a large source
 * can be hashed window by window (outer_checksum). */
struct ck {
	uint64_t a, b, c, d;
};
#define CK_P1 0x9E3779B185EBCA87ull
#define CK_P2 0xC2B2AE3D27D4EB4Full

static void ck_init(struct ck *s)
{
	s->a = CK_P1;
	s->b = CK_P2;
	s->c = 0;
	s->d = ~CK_P1;
}

static inline uint64_t ck_lane(uint64_t x, uint64_t w)
{
	x = (x ^ w) * CK_P2;
	return x << 31 | x >> 33;
}

/* Returns how many bytes it consumed: len rounded down to 32. */
static size_t ck_blocks(struct ck *s, const uint8_t *p, size_t len)
{
	uint64_t a = s->a, b = s->b, c = s->c, d = s->d;
	size_t i = 0;
	for (; i + 32 <= len; i += 32) {
		a = ck_lane(a, load64(p + i));
		b = ck_lane(b, load64(p + i + 8));
		c = ck_lane(c, load64(p + i + 16));
		d = ck_lane(d, load64(p + i + 24));
	}
	s->a = a, s->b = b, s->c = c, s->d = d;
	return i;
}

/* tail: the last total % 32 bytes. */
static uint64_t ck_final(const struct ck *s, const uint8_t *tail, size_t total)
{
	uint64_t h =
	    s->a ^ (s->b << 1 | s->b >> 63) ^ (s->c << 7 | s->c >> 57) ^ (s->d << 12 | s->d >> 52);
	h ^= total * CK_P1;
	for (size_t i = 0; i < total % 32; i++)
		h = (h ^ tail[i]) * CK_P1;
	h ^= h >> 29;
	h *= CK_P2;
	h ^= h >> 32;
	return h;
}

static uint64_t checksum(const uint8_t *p, size_t len)
{
	struct ck s;
	ck_init(&s);
	size_t i = ck_blocks(&s, p, len);
	return ck_final(&s, p + i, len);
}

/* The checksum field counts as zero.  img may be unaligned (a part of a
 * serialized outer image). */
static uint64_t image_checksum(uint8_t *img, size_t len)
{
	const size_t at = offsetof(struct lit_hdr, checksum);
	uint64_t saved, zero = 0;
	memcpy(&saved, img + at, 8);
	memcpy(img + at, &zero, 8);
	uint64_t c = checksum(img, len);
	memcpy(img + at, &saved, 8);
	return c;
}

/* Images of a huge page or more go to their own mapping, aligned to 2 MB,
 * with transparent huge pages asked for: the filter, bitmap and bucket
 * probes are random, so TLB misses matter (a 2 MB first-pass filter on 4 KB
 * pages is 512 TLB entries).  The last partial huge page stays in small
 * pages (no memory rounded up).  The mapping is zero-filled, like calloc. */
#define LIT_HUGE ((size_t)2 << 20)
static size_t img_map_len(size_t len)
{
	return (len + 4095) & ~(size_t)4095;
}

static uint8_t *img_alloc(size_t len, int *mapped)
{
	*mapped = 0;
	if (len >= LIT_HUGE) {
		size_t ml = img_map_len(len), over = ml + LIT_HUGE;
		uint8_t *p =
		    mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			uint8_t *a = (uint8_t *)(((uintptr_t)p + LIT_HUGE - 1) & ~(LIT_HUGE - 1));
			if (a > p)
				munmap(p, (size_t)(a - p));
			if (a + ml < p + over)
				munmap(a + ml, (size_t)(p + over - (a + ml)));
			madvise(a, ml, MADV_HUGEPAGE);
			*mapped = 1;
			return a;
		}
	}
	return calloc(1, len);
}

static void img_release(uint8_t *img, size_t len, int mapped)
{
	if (mapped)
		munmap(img, img_map_len(len));
	else
		free(img);
}

static void attach(struct lsub *x)
{
	struct lit_hdr *h = (struct lit_hdr *)x->img;
	struct lit_layout l;
	layout_of(h->nb_bits, h->bm_bits, h->n, h->arena_len, &l);
	x->h = h;
	x->bitmap = (const uint32_t *)(x->img + l.bm_off);
	x->starts = (const uint32_t *)(x->img + l.st_off);
	x->ent = (const struct lit_ent *)(x->img + l.ent_off);
	x->arena = x->img + l.arena_off;
	x->k = h->k;
	x->kmask = kmask_of(h->k);
	x->maxlen = h->maxlen;
	x->bw_shift = 64 - (h->bm_bits - 5);
	x->nb_shift = 64 - h->nb_bits;
	x->cont_ok = 0;
	for (int c = 0; c < 256; c++) {
		x->startok[c] = (h->startok[c >> 3] >> (c & 7)) & 1;
		x->cont_ok |= x->startok[c] && is_cont((uint8_t)c);
	}
}

/* The filters are blocked Bloom filters: two bits in one 32-bit word (one
 * cache line per probe).  32-bit words so that one AVX2 gather fetches the
 * words of 8 positions and the bit tests run on 8 lanes; against 64-bit
 * words this passed ~10% more positions at 1M literals but scanned faster.
 *
 * Two levels.  The first-pass filter (struct lit_pf) is probed at every
 * position, once for both classes: its word comes from the hash of the
 * first kc bytes (kc: the shortest anchor, 6 in practice), which both
 * classes' anchors start with, and each class tests its own two bits from
 * hB of its whole anchor (hh bits 22..31).  Probing it is most of the scan
 * (the random loads, not the hashing: in a microbenchmark with both tables
 * in L2, two loads per position ran at ~1/3 the speed of none, one load at
 * ~1.6x two), hence one word per position instead of one per class.  The
 * positions that pass test their class's own bitmap (word from hA, bits
 * from a re-hash, f_hash), which keeps the bucket probes few. */
static inline uint32_t bm_mask(uint64_t hh)
{
	return (1u << ((hh >> 22) & 31)) | (1u << ((hh >> 27) & 31));
}

#define LIT_KC 0xD6E8FEB9u
#define LIT_KD 0x165667B1u
static inline uint64_t f_hash(uint64_t hh)
{
	uint32_t a = (uint32_t)(hh >> 32), b = (uint32_t)hh;
	uint32_t fa = (b ^ (a >> 16)) * LIT_KC, fb = (a ^ (b >> 16)) * LIT_KD;
	return (uint64_t)fa << 32 | fb;
}

/* A class bitmap's bits for the anchor hash hh. */
static inline uint32_t bm2_mask(uint64_t hh)
{
	return bm_mask(f_hash(hh));
}

/* The first-pass filter: bits = ceil_log2(literals) + LIT_PF_SHIFT, at most
 * LIT_PF_MAX (4 MB: stays in L3 at 10M literals). */
#define LIT_PF_SHIFT 4
#define LIT_PF_MIN 7
#define LIT_PF_MAX 25
#define LIT_PF_LIMIT 30 /* largest accepted (forced, or in an image): 128 MB */
/* Filters of more than 2^16 words (256 KB, past L2 in practice) are
 * prefetched ahead of their tests; smaller ones are not (no gain at 100k). */
#define LIT_PF_PREFETCH_LOG 16
#define LIT_PF_MAGIC "TSFLIPF1"
struct lit_pfh {
	char magic[8];
	uint32_t version, bits, kc, zero;
	uint64_t words;
};
_Static_assert(sizeof(struct lit_pfh) == 32, "filter header size is part of the format");

struct lit_pf {
	uint8_t *img; /* header, then the words */
	size_t img_len;
	int img_mmap;
	const uint32_t *w;
	unsigned bits, kc, sh; /* word index: hA >> sh (32-bit) */
	uint64_t kcmask;
};

static unsigned ceil_log2(uint64_t n)
{
	unsigned b = 0;
	while ((1ull << b) < n)
		b++;
	return b;
}

/* An anchor candidate's score, lower is better: how many literals share
 * its k-gram plus how many share its kc-byte prefix (the first-pass filter
 * word), so that neither the buckets nor the filter words crowd.  (Ranked
 * by the prefix first, or by the k-gram first, 1M literals passed ~the same
 * / 2.5x as many positions through the filter.) */
static inline uint32_t anchor_score(uint32_t gram, uint32_t prefix)
{
	return gram + prefix;
}

/* The anchor length of a class whose shortest literal has minlen bytes:
 * the option (default LITIDX_ANCHOR), at most 8, at most minlen.  The
 * first-pass filter's prefix kc is this for the shortest literal of all. */
static unsigned anchor_k(const struct litidx_opts *o, unsigned minlen)
{
	unsigned k = o && o->anchor_len ? o->anchor_len : LITIDX_ANCHOR;
	k = k > 8 ? 8 : k;
	return k > minlen ? minlen : k;
}

static void sub_free(struct lsub *x);

static struct lsub *sub_build(const uint8_t *const *lits, const uint32_t *lens, const uint32_t *ids,
                              size_t n, const struct litidx_opts *o, unsigned kc, char *err,
                              size_t errlen)
{
	unsigned minlen = n ? LITIDX_MAX_LEN : 0, maxlen = 0;
	uint64_t arena_len = 0;
	if (n > UINT32_MAX - 1) {
		snprintf(err, errlen, "literal index: too many literals (%zu)", n);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (lens[i] < LITIDX_MIN_LEN || lens[i] > LITIDX_MAX_LEN || !lits[i]) {
			snprintf(err, errlen,
			         "literal index: literal %zu (id %u) has %u bytes, outside %u..%u",
			         i, ids[i], lens[i], LITIDX_MIN_LEN, LITIDX_MAX_LEN);
			return NULL;
		}
		minlen = lens[i] < minlen ? lens[i] : minlen;
		maxlen = lens[i] > maxlen ? lens[i] : maxlen;
		arena_len += LIT_AREC + (uint64_t)lens[i];
	}
	if (arena_len > LIT_ARENA_MAX) {
		snprintf(err, errlen, "literal index: %llu bytes of literals (max 2 GiB)",
		         (unsigned long long)arena_len);
		return NULL;
	}
	unsigned k = anchor_k(o, n ? minlen : 8);
	unsigned shift = o && o->bitmap_shift ? o->bitmap_shift : LIT_BM_SHIFT;
	unsigned nb_bits = ceil_log2(n);
	nb_bits = nb_bits < 8 ? 8 : nb_bits > 31 ? 31 : nb_bits;
	unsigned bm_bits = nb_bits + shift > 32 ? 32 : nb_bits + shift;
	struct lit_layout l;
	layout_of(nb_bits, bm_bits, n, arena_len, &l);

	uint8_t *dsel = NULL;
	struct lsub *x = calloc(1, sizeof(*x));
	uint32_t *bkt = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!x || !bkt)
		goto oom;
	x->img_len = l.total;
	x->img = img_alloc(l.total, &x->img_mmap);
	if (!x->img)
		goto oom;
	struct lit_hdr *h = (struct lit_hdr *)x->img;
	memcpy(h->magic, LIT_MAGIC, 8);
	h->version = LIT_VERSION;
	h->endian = LIT_ENDIAN;
	h->k = k;
	h->minlen = minlen;
	h->maxlen = maxlen;
	h->nb_bits = nb_bits;
	h->bm_bits = bm_bits;
	h->n = n;
	h->arena_len = arena_len;
	h->total_len = l.total;
	attach(x);
	uint32_t *bitmap = (uint32_t *)(x->img + l.bm_off);
	uint32_t *starts = (uint32_t *)(x->img + l.st_off);
	struct lit_ent *ent = (struct lit_ent *)(x->img + l.ent_off);
	uint8_t *arena = x->img + l.arena_off;

	/* Anchor choice: a literal's anchor is its k-gram (starting on a
	 * non-continuation byte) that is rarest among all k-grams of all
	 * literals, counted per bucket.  Prefixes are shared by whole
	 * families of signatures ("免费领取..."), and a k-gram that is a
	 * common word is common in text too; a gram across a word boundary
	 * is rare in both.  Ties go to the earliest offset.  The counts are
	 * saturating bytes in a table of at most 8 MB, so that they stay in
	 * cache at 10M literals (a collision only blurs the choice). */
	uint64_t nb = 1ull << nb_bits;
	unsigned cshift = 64 - (nb_bits + 1 < 23 ? nb_bits + 1 : 23);
	int pre = kc < k; /* also count the kc-byte prefixes */
	uint64_t pmask = kmask_of(kc);
	uint8_t *cnt = calloc((size_t)1 << (64 - cshift), 1);
	uint8_t *pcnt = pre ? calloc((size_t)1 << (64 - cshift), 1) : NULL;
	dsel = malloc(n ? n : 1);
	if (!cnt || !dsel || (pre && !pcnt)) {
		free(cnt);
		free(pcnt);
		goto oom;
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *lit = lits[i];
		for (uint32_t d = 0; d + anchor_span(k, lens[i]) <= lens[i]; d++)
			if (!is_cont(lit[d]) || d == 0) {
				uint64_t a = anchor_of(lit, lens[i], d, x->kmask);
				uint8_t *c = &cnt[mix(a) >> cshift];
				*c += *c != UINT8_MAX;
				if (pre) {
					c = &pcnt[mix(a & pmask) >> cshift];
					*c += *c != UINT8_MAX;
				}
			}
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *lit = lits[i];
		uint32_t best = UINT32_MAX, bd = 0;
		for (uint32_t d = 0; d + anchor_span(k, lens[i]) <= lens[i]; d++) {
			if (is_cont(lit[d]) && d)
				continue;
			uint64_t a = anchor_of(lit, lens[i], d, x->kmask);
			uint32_t c = cnt[mix(a) >> cshift];
			if (pre)
				c = anchor_score(c, pcnt[mix(a & pmask) >> cshift]);
			if (c < best)
				best = c, bd = d;
		}
		dsel[i] = (uint8_t)bd;
	}
	free(cnt);
	free(pcnt);

	/* Counting sort by bucket: count, prefix sum, place with starts[] as
	 * cursors (which leaves starts[b] = end of b), shift back by one. */
	for (size_t i = 0; i < n; i++) {
		uint64_t a = anchor_of(lits[i], lens[i], dsel[i], x->kmask);
		uint64_t hh = mix(a);
		bkt[i] = (uint32_t)(hh >> x->nb_shift);
		starts[bkt[i]]++;
		bitmap[hh >> x->bw_shift] |= bm2_mask(hh);
		uint8_t c0 = lits[i][dsel[i]];
		h->startok[c0 >> 3] |= (uint8_t)(1u << (c0 & 7));
	}
	uint32_t sum = 0;
	for (uint64_t b = 0; b < nb; b++) {
		uint32_t c = starts[b];
		starts[b] = sum;
		sum += c;
	}
	starts[nb] = sum;
	for (size_t i = 0; i < n; i++) {
		struct lit_ent *e = &ent[starts[bkt[i]]++];
		e->key = key_of(lits[i], lens[i], dsel[i], x->kmask);
		e->off = (uint32_t)i; /* literal index until the arena pass */
		e->x = lens[i] - dsel[i] < 8 ? ids[i] : ext_of(lits[i], lens[i], dsel[i]);
	}
	memmove(starts + 1, starts, nb * sizeof(uint32_t));
	starts[0] = 0;
	uint32_t off = 0;
	for (size_t j = 0; j < n; j++) {
		uint32_t i = ent[j].off;
		arena[off] = (uint8_t)lens[i];
		arena[off + 1] = dsel[i];
		memcpy(arena + off + 2, &ids[i], 4);
		memcpy(arena + off + LIT_AREC, lits[i], lens[i]);
		ent[j].off = off | (lens[i] - dsel[i] < 8 ? LIT_SHORT : 0);
		off += LIT_AREC + lens[i];
	}
	free(bkt);
	free(dsel);
	attach(x); /* startok */
	return x;
oom:
	snprintf(err, errlen, "literal index: out of memory (%zu literals)", n);
	free(bkt);
	free(dsel);
	sub_free(x);
	return NULL;
}

static void sub_free(struct lsub *x)
{
	if (!x)
		return;
	if (x->img)
		img_release(x->img, x->img_len, x->img_mmap);
	free(x);
}

/* ---- scanning ---- */

#ifdef LIT_STATS /* -DLIT_STATS: probe counts for tuning (bench_lit prints them) */
unsigned long long lit_st_pos, lit_st_pf, lit_st_bit, lit_st_ent, lit_st_anchor, lit_st_hit;
#define ST(x) (x++)
#else
#define ST(x) ((void)0)
#endif

/* Verifies entry en at anchor position a: reports it if the literal
 * starts in [from, to), fits in buf, ends past min_end and is equal. */
static inline void verify(const struct lsub *x, const struct lit_ent *en, const uint8_t *buf,
                          size_t buflen, size_t a, size_t from, size_t to, size_t min_end,
                          uint64_t base, litidx_cb cb, void *ctx)
{
	const uint8_t *lit = x->arena + (en->off & ~LIT_SHORT);
	size_t L = lit[0], d = lit[1];
	if (d > a || a - d < from || a - d >= to)
		return;
	size_t st = a - d;
	if (L > buflen - st || st + L <= min_end)
		return;
	if (memcmp(lit + LIT_AREC, buf + st, L) == 0) {
		uint32_t id;
		memcpy(&id, lit + 2, 4);
		ST(lit_st_hit), cb(id, base + st + L, ctx);
	}
}

/* w: the 8 text bytes at anchor position a of buf[0..buflen). */
static inline int key_eq(const struct lit_ent *e, uint64_t w, const uint8_t *buf, size_t buflen,
                         size_t a)
{
	if (!(e->off & LIT_SHORT)) {
		if (w != e->key)
			return 0;
		unsigned n = e->x >> 24; /* 0..3 bytes after the key */
		size_t at = a + 8;
		if (!n)
			return 1;
		if (at > buflen || buflen - at < n)
			return 0; /* the literal does not fit */
		uint32_t t = 0;
		memcpy(&t, buf + at, buflen - at >= 4 ? 4 : n);
		uint32_t m = (1u << (8 * n)) - 1;
		return (t & m) == (e->x & m);
	}
	unsigned L = (unsigned)(e->key >> 56); /* 1..7 */
	return (w & ((1ull << (8 * L)) - 1)) == (e->key & LIT_LOW56);
}

/* The unbatched path (w: 8 bytes from a, zero-padded): checks every entry of anchor position a's
 * bucket. */
static inline void confirm(const struct lsub *x, const uint8_t *buf, size_t buflen, size_t a,
                           uint64_t w, uint64_t hh, size_t from, size_t to, size_t min_end,
                           uint64_t base, litidx_cb cb, void *ctx)
{
	size_t b = (size_t)(hh >> x->nb_shift);
	for (uint32_t s = x->starts[b], e = x->starts[b + 1]; s < e; s++)
		if (key_eq(&x->ent[s], w, buf, buflen, a))
			verify(x, &x->ent[s], buf, buflen, a, from, to, min_end, base, cb, ctx);
}

static inline int bit_set(const struct lsub *x, uint64_t hh)
{
	uint32_t m = bm2_mask(hh);
	return (x->bitmap[hh >> x->bw_shift] & m) == m;
}

/* The first-pass filter's word for the anchor bytes w (bytes past kc are
 * ignored) and its test for a class's anchor hash hh. */
static inline uint32_t pf_word(const struct lit_pf *pf, uint64_t w)
{
	return (uint32_t)(mix(w & pf->kcmask) >> 32) >> pf->sh;
}

static inline int pf_set(const struct lit_pf *pf, uint64_t w, uint64_t hh)
{
	uint32_t m = bm_mask(hh);
	return (pf->w[pf_word(pf, w)] & m) == m;
}

/* The scan works on chunks of LIT_CHUNK positions, software-pipelined
 * across chunks so that each stage's misses were prefetched one whole
 * chunk of work earlier.  In step t:
 *   0. chunk t, every position: hash its bytes and test the first-pass
 *      filter word for both classes; the (position, class) pairs that
 *      pass go to a list (prefetch: their class bitmap word).
 *      Branch-free, AVX2 where available.
 *   1. chunk t-1: test the class bitmap, prefetch bucket bounds.
 *   2. chunk t-2: bucket bounds, prefetch entries.
 *   3. chunk t-3: compare keys; short literals are confirmed here, long
 *      ones go to a candidate list (prefetch their literal bytes).
 *   4. chunk t-4: compare the candidates' literal bytes, report.
 * At 1M literals ~0.03 positions per byte reach stage 2, so the lists are
 * short but each entry costs 2-3 DRAM-latency misses: overlapping them
 * with a chunk of stage-0 work is what keeps them off the critical path.
 */
#define LIT_NSUB 2
#ifndef LIT_CHUNK
#define LIT_CHUNK 512
#endif
#define LIT_STAGES 5
#define LIT_PLISTS 4 /* lists live from stage 0 to stage 3 */
/* Key-equal entries of one chunk, waiting for their literal bytes. */
#define LIT_CAND 256

struct lit_pass {
	uint64_t hh;
	uint64_t ac; /* buffer offset of the anchor << 1 | class */
	uint32_t sb, se;
};

struct lit_plist {
	unsigned n;
	struct lit_pass p[LIT_NSUB * LIT_CHUNK];
};

struct lit_clist {
	unsigned n;
	uint64_t ac[LIT_CAND];
	uint32_t e[LIT_CAND];
};

struct lit_work {
	struct lit_plist pl[LIT_PLISTS];
	struct lit_clist cl[2];
	uint16_t grp[LIT_CHUNK / 8];
};

/* What pass 1 needs, set up once per scan call. */
struct lit_p1 {
	const uint32_t *pfw; /* first-pass filter words */
	unsigned sh;         /* word index: hA(kc bytes) >> sh */
	int big;             /* over 2^16 words (256 KB): prefetch ahead */
	int nx;              /* classes */
	int share;           /* every low-half mask whole: one lo * KB1 */
	int any_cont;        /* some anchor starts on a continuation byte */
	uint32_t plo, phi;   /* kcmask halves */
	uint32_t klo[LIT_NSUB], khi[LIT_NSUB];
	const uint8_t *startok[LIT_NSUB];
};

static void lit_p1_of(const struct lit_pf *pf, const struct lsub *const *xs, int nx,
                      struct lit_p1 *p)
{
	p->pfw = pf->w;
	p->sh = pf->sh;
	p->big = pf->bits - 5 > LIT_PF_PREFETCH_LOG;
	p->nx = nx;
	p->plo = (uint32_t)pf->kcmask;
	p->phi = (uint32_t)(pf->kcmask >> 32);
	p->share = 1;
	p->any_cont = 0;
	for (int c = 0; c < LIT_NSUB; c++) {
		const struct lsub *x = xs[c < nx ? c : 0];
		p->klo[c] = (uint32_t)x->kmask;
		p->khi[c] = (uint32_t)(x->kmask >> 32);
		p->startok[c] = x->startok;
		p->share &= p->klo[c] == ~0u;
		p->any_cont |= x->cont_ok;
	}
}

/* Pass 1 over [s, e): per group of 8 positions (from s) a 16-bit mask,
 * bit i set if class 0's bits are in the filter word of position s+8g+i,
 * bit 8+i for class 1.  The stores go to fixed addresses (not to a list
 * whose length depends on the loads), so nothing waits on a filter load
 * but its own bit.  Positions that cannot start an anchor test word 0 and
 * are masked off, with no data-dependent branches: in the scalar pass
 * those whose byte starts no anchor of the class, in the AVX2 pass UTF-8
 * continuation bytes (unless some anchor starts with one).  Extra passes
 * cost time, never a match.
 *
 * The scalar version (no AVX2, ARM, TAPSIFT_LIT_NOSIMD=1) goes one
 * position at a time through a ring: step A hashes position i+LIT_SAHEAD
 * (word index, masked to word 0 where the byte starts no anchor, the
 * classes' two-bit masks) and, for a filter past L2, prefetches its word;
 * step B tests position i. */
#ifndef LIT_SAHEAD
#define LIT_SAHEAD 16
#endif
#define LIT_SRING (2 * LIT_SAHEAD)

struct lit_sslot {
	uint32_t wi, m0, m1, ok;
};

static inline __attribute__((always_inline)) void lit_shash(const struct lit_p1 *p,
                                                            const uint8_t *q, struct lit_sslot *o)
{
	uint64_t w = load64(q);
	uint32_t lo = (uint32_t)w, hi = (uint32_t)(w >> 32);
	uint32_t ok0 = p->startok[0][q[0]], ok1 = p->nx > 1 ? p->startok[1][q[0]] : 0;
	uint32_t a = (lo & p->plo) * LIT_KA1 + (hi & p->phi) * LIT_KA2;
	uint32_t lb = (lo & p->klo[0]) * LIT_KB1;
	o->wi = (a >> p->sh) & (0u - (ok0 | ok1));
	o->m0 = bm_mask(lb + (hi & p->khi[0]) * LIT_KB2);
	if (!p->share)
		lb = (lo & p->klo[1]) * LIT_KB1;
	o->m1 = bm_mask(lb + (hi & p->khi[1]) * LIT_KB2);
	o->ok = ok0 | ok1 << 1;
	if (p->big)
		__builtin_prefetch(&p->pfw[o->wi]);
}

static inline __attribute__((always_inline)) unsigned lit_stest(const struct lit_p1 *p,
                                                                const struct lit_sslot *o)
{
	uint32_t W = p->pfw[o->wi];
	unsigned t = ((W & o->m0) == o->m0) | ((W & o->m1) == o->m1) << 1;
	return t & o->ok;
}

static void lit_filter_scalar(const struct lit_p1 *p, const uint8_t *buf, size_t s, size_t j,
                              size_t e, uint16_t *restrict grp)
{
	struct lit_sslot r[LIT_SRING];
	size_t n = j < e ? e - j : 0;
	/* the groups from j on are this function's (the AVX2 pass stores
	 * every group it covers; j - s is a multiple of 8) */
	if (n)
		memset(grp + (j - s) / 8, 0, ((n + 7) / 8) * sizeof(*grp));
	for (size_t i = 0; i < n + LIT_SAHEAD; i++) {
		if (i < n)
			lit_shash(p, buf + j + i, &r[i % LIT_SRING]);
		if (i >= LIT_SAHEAD) {
			size_t q = i - LIT_SAHEAD, at = j + q - s;
			unsigned t = lit_stest(p, &r[q % LIT_SRING]);
			grp[at >> 3] |=
			    (uint16_t)(((t & 1) << (at & 7)) | ((t >> 1) << (8 + (at & 7))));
		}
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LIT_AVX2 1

/* The AVX2 pass 1 is software-pipelined over groups of 8 positions: step A
 * hashes group g+LIT_AHEAD (the filter word index, masked to word 0 where
 * the byte starts no anchor, and each class's bit-selecting hash) into a
 * ring and, for a filter past L2, prefetches the words; step B gathers
 * group g's words (by then in cache) and tests both classes' bits in them.
 * Without the prefetch distance the gathers stall the core on L3/DRAM
 * (the window holds only ~3 groups of gathers). */
#ifndef LIT_AHEAD
#define LIT_AHEAD 8
#endif
#define LIT_RING (2 * LIT_AHEAD)
struct lit_ring {
	uint32_t idx[LIT_RING][8];
	uint32_t hb[LIT_RING][LIT_NSUB][8];
	uint8_t okm[LIT_RING];
};

__attribute__((target("avx2"))) static inline unsigned lit_avx2_bits(__m256i W, const uint32_t *hbi)
{
	__m256i hb = _mm256_loadu_si256((const __m256i *)hbi);
	__m256i s1 = _mm256_srli_epi32(hb, 27);
	__m256i s2 = _mm256_and_si256(_mm256_srli_epi32(hb, 22), _mm256_set1_epi32(31));
	__m256i t = _mm256_and_si256(_mm256_srlv_epi32(W, s1), _mm256_srlv_epi32(W, s2));
	t = _mm256_and_si256(t, _mm256_set1_epi32(1));
	return (unsigned)_mm256_movemask_ps(
	    _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(1))));
}

static inline __m256i lit_set1(uint32_t v) __attribute__((target("avx2")));
static inline __m256i lit_set1(uint32_t v)
{
	return _mm256_set1_epi32((int)v);
}

/* Pass 1, 8 positions per step while 24 bytes are readable; returns where
 * it stopped. */
__attribute__((target("avx2"))) static size_t lit_filter_avx2(const struct lit_p1 *p,
                                                              const uint8_t *buf, size_t buflen,
                                                              size_t s, size_t e,
                                                              uint16_t *restrict grp)
{
	const __m256i pat = _mm256_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6, 0, 1,
	                                     2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6);
	const __m256i c0 = _mm256_set1_epi32(0xC0), c8 = _mm256_set1_epi32(0x80);
	const __m256i ones = _mm256_set1_epi32(-1);
	const __m256i plo = lit_set1(p->plo), phi = lit_set1(p->phi);
	const __m256i klo0 = lit_set1(p->klo[0]), khi0 = lit_set1(p->khi[0]);
	const __m256i klo1 = lit_set1(p->klo[1]), khi1 = lit_set1(p->khi[1]);
	const __m256i ka1 = lit_set1(LIT_KA1), ka2 = lit_set1(LIT_KA2);
	const __m256i kb1 = lit_set1(LIT_KB1), kb2 = lit_set1(LIT_KB2);
	const __m128i sh = _mm_cvtsi32_si128((int)p->sh);
	const int nx = p->nx;
	if (e <= s || buflen < 24 || s + 8 > e || s + 24 > buflen)
		return s;
	size_t ng = (e - s) / 8, nb = (buflen - 24 - s) / 8 + 1;
	ng = ng < nb ? ng : nb;
	struct lit_ring r;
	for (size_t g = 0; g < ng + LIT_AHEAD; g++) {
		if (g < ng) { /* A */
			size_t j = s + 8 * g;
			unsigned ri = g % LIT_RING;
			__m128i a0 = _mm_loadu_si128((const __m128i *)(buf + j));
			__m128i a4 = _mm_loadu_si128((const __m128i *)(buf + j + 4));
			__m128i a8 = _mm_loadu_si128((const __m128i *)(buf + j + 8));
			__m256i LO = _mm256_shuffle_epi8(_mm256_set_m128i(a4, a0), pat);
			__m256i HI = _mm256_shuffle_epi8(_mm256_set_m128i(a8, a4), pat);
			/* lanes whose first byte is not a UTF-8 continuation byte */
			__m256i ok32 =
			    p->any_cont
			        ? ones
			        : _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_and_si256(LO, c0), c8),
			                           ones);
			r.okm[ri] = (uint8_t)_mm256_movemask_ps(_mm256_castsi256_ps(ok32));
			__m256i hA =
			    _mm256_add_epi32(_mm256_mullo_epi32(_mm256_and_si256(LO, plo), ka1),
			                     _mm256_mullo_epi32(_mm256_and_si256(HI, phi), ka2));
			__m256i idx = _mm256_and_si256(_mm256_srl_epi32(hA, sh), ok32);
			_mm256_storeu_si256((__m256i *)r.idx[ri], idx);
			__m256i lb = _mm256_mullo_epi32(_mm256_and_si256(LO, klo0), kb1);
			_mm256_storeu_si256(
			    (__m256i *)r.hb[ri][0],
			    _mm256_add_epi32(lb,
			                     _mm256_mullo_epi32(_mm256_and_si256(HI, khi0), kb2)));
			if (nx > 1) {
				if (!p->share)
					lb = _mm256_mullo_epi32(_mm256_and_si256(LO, klo1), kb1);
				_mm256_storeu_si256(
				    (__m256i *)r.hb[ri][1],
				    _mm256_add_epi32(
				        lb, _mm256_mullo_epi32(_mm256_and_si256(HI, khi1), kb2)));
			}
			if (p->big)
				for (int i = 0; i < 8; i++)
					__builtin_prefetch(&p->pfw[r.idx[ri][i]]);
		}
		if (g >= LIT_AHEAD) { /* B */
			size_t gb = g - LIT_AHEAD;
			unsigned ri = gb % LIT_RING;
			__m256i ix = _mm256_loadu_si256((const __m256i *)r.idx[ri]);
			__m256i W = _mm256_i32gather_epi32((const int *)p->pfw, ix, 4);
			unsigned m = lit_avx2_bits(W, r.hb[ri][0]) & r.okm[ri];
			if (nx > 1)
				m |= (lit_avx2_bits(W, r.hb[ri][1]) & r.okm[ri]) << 8;
			grp[gb] = (uint16_t)m;
		}
	}
	return s + 8 * ng;
}

/* The positions lit_filter_avx2 left at the end of a buffer (it reads 24
 * bytes per group of 8; at most 31 are left), from a zero-padded copy:
 * one call per scan, and short scans (packets, the carry window) would
 * otherwise spend a good part of their time in the scalar code.  Bits of
 * positions past e are cleared.  j - s is a multiple of 8.  Returns e. */
#define LIT_PAD 64
__attribute__((target("avx2"))) static size_t lit_filter_avx2_end(const struct lit_p1 *p,
                                                                  const uint8_t *buf, size_t buflen,
                                                                  size_t s, size_t j, size_t e,
                                                                  uint16_t *restrict grp)
{
	size_t n = e > j ? e - j : 0;
	if (!n || (n + 7) / 8 * 8 + 24 > LIT_PAD)
		return j;
	uint8_t pad[LIT_PAD];
	size_t have = buflen - j < LIT_PAD ? buflen - j : LIT_PAD;
	memcpy(pad, buf + j, have);
	memset(pad + have, 0, LIT_PAD - have);
	uint16_t *g = grp + (j - s) / 8;
	lit_filter_avx2(p, pad, LIT_PAD, 0, (n + 7) / 8 * 8, g);
	if (n % 8) {
		unsigned keep = (1u << (n % 8)) - 1;
		g[n / 8] &= (uint16_t)(keep | keep << 8);
	}
	return e;
}

static int lit_have_avx2(void)
{
	static int v = -1;
	if (v < 0)
		v = __builtin_cpu_supports("avx2") && !getenv("TAPSIFT_LIT_NOSIMD");
	return v;
}
#endif

static void scan_core(const struct lit_pf *pf, const struct lsub *const *xs, int nx,
                      const uint8_t *buf, size_t buflen, size_t from, size_t to, size_t min_end,
                      uint64_t base, litidx_cb cb, void *ctx)
{
	if (!nx || from >= to || buflen < 8)
		goto tail;
	/* Positions with 8 readable bytes take the chunked path (k <= 8, so
	 * every class's anchors fit there). */
	size_t fast_to = buflen - 7;
	struct lit_p1 p1;
	lit_p1_of(pf, xs, nx, &p1);
	struct lit_work wk;
#ifdef LIT_AVX2
	int simd = lit_have_avx2();
#endif
	size_t nch = fast_to > from ? (fast_to - from + LIT_CHUNK - 1) / LIT_CHUNK : 0;
	for (size_t t = 0; t < nch + LIT_STAGES - 1; t++) {
		if (t < nch) { /* stage 0: pass 1, list, prefetch bitmap or bounds */
			struct lit_plist *pl = &wk.pl[t % LIT_PLISTS];
			struct lit_pass *p = pl->p;
			size_t s = from + t * LIT_CHUNK;
			size_t e = fast_to - s > LIT_CHUNK ? s + LIT_CHUNK : fast_to;
			size_t j = s;
#ifdef LIT_AVX2
			if (simd) {
				j = lit_filter_avx2(&p1, buf, buflen, s, e, wk.grp);
				j = lit_filter_avx2_end(&p1, buf, buflen, s, j, e, wk.grp);
			}
#endif
			lit_filter_scalar(&p1, buf, s, j, e, wk.grp);
#ifdef LIT_STATS
			lit_st_pos += (e - s) * (unsigned)nx;
#endif
			unsigned n = 0;
			for (size_t g = 0; g < (e - s + 7) / 8; g++) {
				unsigned m = wk.grp[g];
				while (m) {
					unsigned bit = (unsigned)__builtin_ctz(m);
					m &= m - 1;
					size_t a = s + g * 8 + (bit & 7);
					unsigned c = bit >> 3;
					const struct lsub *x = xs[c];
					uint64_t hh = mix(load64(buf + a) & x->kmask);
					p[n].hh = hh;
					p[n].ac = (uint64_t)a << 1 | c;
					n++;
					__builtin_prefetch(&x->bitmap[hh >> x->bw_shift]);
				}
			}
			pl->n = n;
		}
		if (t >= 1 && t - 1 < nch) { /* stage 1: the class bitmap */
			struct lit_plist *pl = &wk.pl[(t - 1) % LIT_PLISTS];
			unsigned m = 0;
			for (unsigned q = 0; q < pl->n; q++) {
				struct lit_pass pp = pl->p[q];
				const struct lsub *x = xs[pp.ac & 1];
				pl->p[m] = pp;
				ST(lit_st_pf);
				if (!bit_set(x, pp.hh))
					continue;
				__builtin_prefetch(&x->starts[pp.hh >> x->nb_shift]);
				m++;
			}
			pl->n = m;
		}
		if (t >= 2 && t - 2 < nch) { /* stage 2: bounds, prefetch entries */
			struct lit_plist *pl = &wk.pl[(t - 2) % LIT_PLISTS];
			for (unsigned q = 0; q < pl->n; q++) {
				struct lit_pass *pp = &pl->p[q];
				const struct lsub *x = xs[pp->ac & 1];
				size_t bk = (size_t)(pp->hh >> x->nb_shift);
				pp->sb = x->starts[bk];
				pp->se = x->starts[bk + 1];
				__builtin_prefetch(&x->ent[pp->sb]);
				ST(lit_st_bit);
			}
		}
		if (t >= 3 && t - 3 < nch) { /* stage 3: keys, prefetch literals */
			struct lit_plist *pl = &wk.pl[(t - 3) % LIT_PLISTS];
			struct lit_clist *cl = &wk.cl[(t - 3) & 1];
			unsigned nc = 0;
			for (unsigned q = 0; q < pl->n; q++) {
				const struct lit_pass *pp = &pl->p[q];
				unsigned c = pp->ac & 1;
				const struct lsub *x = xs[c];
				size_t a = (size_t)(pp->ac >> 1);
				uint64_t w = load64(buf + a);
				for (uint32_t ei = pp->sb; ei < pp->se; ei++) {
					const struct lit_ent *en = &x->ent[ei];
					ST(lit_st_ent);
					if (!key_eq(en, w, buf, buflen, a))
						continue;
					ST(lit_st_anchor);
					if (en->off & LIT_SHORT) {
						/* the key is the literal, at offset 0,
						 * and 8 bytes are readable here */
						size_t L = (size_t)(en->key >> 56);
						if (a < to && a + L > min_end)
							ST(lit_st_hit),
							    cb(en->x, base + a + L, ctx);
						continue;
					}
					if (nc == LIT_CAND) { /* a crowded chunk */
						verify(x, en, buf, buflen, a, from, to, min_end,
						       base, cb, ctx);
						continue;
					}
					__builtin_prefetch(x->arena + (en->off & ~LIT_SHORT));
					cl->ac[nc] = pp->ac;
					cl->e[nc++] = ei;
				}
			}
			cl->n = nc;
		}
		if (t >= 4 && t - 4 < nch) { /* stage 4: confirm */
			struct lit_clist *cl = &wk.cl[(t - 4) & 1];
			for (unsigned q = 0; q < cl->n; q++) {
				const struct lsub *x = xs[cl->ac[q] & 1];
				verify(x, &x->ent[cl->e[q]], buf, buflen, (size_t)(cl->ac[q] >> 1),
				       from, to, min_end, base, cb, ctx);
			}
		}
	}
tail:
	/* The last positions (fewer than 8 bytes left), one at a time. */
	for (int c = 0; c < nx; c++) {
		const struct lsub *x = xs[c];
		if (buflen < x->k || from >= to)
			continue;
		size_t last = buflen - x->k + 1; /* anchor positions [.., last) */
		size_t i = buflen >= 8 && buflen - 7 > from ? buflen - 7 : from;
		for (; i < last; i++) {
			if (!x->startok[buf[i]])
				continue;
			uint64_t w = 0;
			memcpy(&w, buf + i, buflen - i < 8 ? buflen - i : 8);
			uint64_t hh = mix(w & x->kmask);
			if (bit_set(x, hh))
				confirm(x, buf, buflen, i, w, hh, from, to, min_end, base, cb, ctx);
		}
	}
}

void litidx_stream_init(struct litidx_stream *s)
{
	memset(s, 0, sizeof(*s));
}

void litidx_stream_reset(struct litidx_stream *s)
{
	s->tail_len = 0;
}

static int tail_grow(struct litidx_stream *s, size_t need)
{
	if (need > LITIDX_MAX_LEN - 1)
		need = LITIDX_MAX_LEN - 1;
	if (need <= s->tail_cap)
		return 0;
	uint8_t *nt = realloc(s->tail, need);
	if (!nt)
		return -1;
	s->tail = nt;
	s->tail_cap = (uint32_t)need;
	return 0;
}

int litidx_stream_reserve(struct litidx_stream *s, size_t bytes)
{
	return tail_grow(s, bytes);
}

void litidx_stream_free(struct litidx_stream *s)
{
	free(s->tail);
	s->tail = NULL;
	s->tail_len = s->tail_cap = 0;
}

/* ---- serialization ---- */

/* Writes x's image (x->img_len bytes) to dst with its checksum. */
static void sub_serialize(const struct lsub *x, uint8_t *dst)
{
	memcpy(dst, x->img, x->img_len);
	uint64_t c = image_checksum(dst, x->img_len);
	memcpy(dst + offsetof(struct lit_hdr, checksum), &c, 8);
}

static void sub_fix_checksum(uint8_t *buf, size_t len)
{
	if (len < sizeof(struct lit_hdr))
		return;
	uint64_t c = image_checksum(buf, len);
	memcpy(buf + offsetof(struct lit_hdr, checksum), &c, sizeof(c));
}

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errlen, "literal index image: " __VA_ARGS__);                        \
		goto bad;                                                                          \
	} while (0)

/* The checksum pass reads the image in windows of this size (a multiple of
 * 32, see ck_blocks), so a loader reading from a file never holds more of it
 * than one window besides the index it builds. */
#define LIT_WINDOW ((size_t)256 << 10)

/* A sub-image of len bytes at off of the source. */
static struct lsub *sub_deserialize(litidx_read_fn rd, void *ctx, uint64_t at, size_t len,
                                    const struct lit_pf *pf, char *err, size_t errlen)
{
	struct lit_hdr h;
	struct lsub *x = NULL;
	if (len < sizeof(h)) {
		snprintf(err, errlen, "literal index image: truncated header (%zu bytes)", len);
		return NULL;
	}
	if (rd(ctx, at, &h, sizeof(h)))
		BAD("read error");
	if (memcmp(h.magic, LIT_MAGIC, 8))
		BAD("bad magic");
	if (h.version != LIT_VERSION)
		BAD("version %u, this build reads %u", h.version, LIT_VERSION);
	if (h.endian != LIT_ENDIAN)
		BAD("byte order of another machine");
	if (h.k < 1 || h.k > 8)
		BAD("anchor length %u", h.k);
	if (h.maxlen > LITIDX_MAX_LEN || h.minlen > h.maxlen)
		BAD("literal lengths %u..%u", h.minlen, h.maxlen);
	if (h.n && h.minlen < h.k)
		BAD("shortest literal %u below anchor %u", h.minlen, h.k);
	if (!h.n && h.maxlen)
		BAD("empty index with literal lengths");
	if (h.zero)
		BAD("reserved field %u", h.zero);
	if (h.nb_bits < 1 || h.nb_bits > 31 || h.bm_bits < 7 || h.bm_bits > 34)
		BAD("table sizes 2^%u / 2^%u", h.nb_bits, h.bm_bits);
	if (h.n > UINT32_MAX - 1 || h.arena_len > LIT_ARENA_MAX)
		BAD("counts %llu / %llu", (unsigned long long)h.n, (unsigned long long)h.arena_len);
	struct lit_layout l;
	layout_of(h.nb_bits, h.bm_bits, h.n, h.arena_len, &l);
	if (h.total_len != l.total || len != l.total)
		BAD("size %zu, header says %llu, layout needs %zu", len,
		    (unsigned long long)h.total_len, l.total);

	x = calloc(1, sizeof(*x));
	if (!x)
		goto oom;
	x->img_len = len;
	x->img = img_alloc(len, &x->img_mmap);
	if (!x->img)
		goto oom;
	/* straight into the index's own memory: no second copy */
	if (rd(ctx, at, x->img, len))
		BAD("read error");
	/* attach() trusts the header in the copy: it must be the one checked */
	if (memcmp(x->img, &h, sizeof(h)))
		BAD("changed while read");
	if (image_checksum(x->img, len) != h.checksum)
		BAD("checksum mismatch (corrupt or truncated)");
	attach(x);

	uint64_t nb = 1ull << h.nb_bits;
	const uint32_t *st = x->starts;
	if (st[0] != 0 || st[nb] != h.n)
		BAD("bucket table ends %u..%u for %llu literals", st[0], st[nb],
		    (unsigned long long)h.n);
	uint64_t off = 0;
	unsigned minlen = h.n ? LITIDX_MAX_LEN : 0, maxlen = 0;
	for (uint64_t b = 0; b < nb; b++) {
		if (st[b + 1] < st[b] || st[b + 1] > h.n)
			BAD("bucket %llu out of order", (unsigned long long)b);
		for (uint32_t j = st[b]; j < st[b + 1]; j++) {
			const struct lit_ent *e = &x->ent[j];
			/* Sequential arena: entry j's literal follows entry j-1's. */
			if ((e->off & ~LIT_SHORT) != off || off + LIT_AREC > h.arena_len)
				BAD("entry %u: arena offset %u", j, e->off);
			unsigned L = x->arena[off], d = x->arena[off + 1];
			if (L < h.minlen || L > h.maxlen || off + LIT_AREC + L > h.arena_len)
				BAD("entry %u: length %u", j, L);
			if (d + anchor_span(h.k, L) > L)
				BAD("entry %u: anchor offset %u in a %u-byte literal", j, d, L);
			const uint8_t *lit = x->arena + off + LIT_AREC;
			if (!(e->off & LIT_SHORT) != (L - d >= 8))
				BAD("entry %u: key kind", j);
			uint32_t aid;
			memcpy(&aid, x->arena + off + 2, 4);
			if (e->x != ((e->off & LIT_SHORT) ? aid : ext_of(lit, L, d)))
				BAD("entry %u: id or extra key bytes do not match its literal", j);
			if (e->key != key_of(lit, L, d, x->kmask))
				BAD("entry %u: key does not match its bytes", j);
			uint64_t hh = mix(e->key & x->kmask);
			if ((hh >> x->nb_shift) != b)
				BAD("entry %u: in bucket %llu, hashes elsewhere", j,
				    (unsigned long long)b);
			if (!bit_set(x, hh))
				BAD("entry %u: bitmap bit missing", j);
			if (!pf_set(pf, e->key, hh))
				BAD("entry %u: first-pass filter bit missing", j);
			if (!x->startok[lit[d]])
				BAD("entry %u: anchor byte not in the start table", j);
			minlen = L < minlen ? L : minlen;
			maxlen = L > maxlen ? L : maxlen;
			off += LIT_AREC + L;
		}
	}
	if (off != h.arena_len)
		BAD("arena has %llu bytes, entries use %llu", (unsigned long long)h.arena_len,
		    (unsigned long long)off);
	if (minlen != h.minlen || maxlen != h.maxlen)
		BAD("literal lengths %u..%u, header says %u..%u", minlen, maxlen, h.minlen,
		    h.maxlen);
	return x;
oom:
	snprintf(err, errlen, "literal index image: out of memory (%zu bytes)", len);
bad:
	sub_free(x);
	return NULL;
}

/* ---- the two-class index ----
 *
 * Literals of 8 bytes or more go into a sub-index with 8-byte anchors;
 * shorter ones (LITIDX_MIN_LEN..7) into one with anchors of their length.
 * A 6-byte anchor is two Chinese characters, which common text is full of:
 * at 1M literals 13% of positions hit some literal's anchor with k = 6 for
 * everyone, against ~2% with 8-byte anchors for the long ones.  The short
 * class is small (a few % of a signature set) so its tables stay in cache
 * and its extra probe per position is cheap.
 *
 * Outer image: struct lit_outer, the first-pass filter (struct lit_pfh and
 * its words), then the sub-images (each 8-aligned, with their own header
 * and checksum).  The outer checksum covers everything.
 */
#define LIT_OUTER_MAGIC "TSFLITX1"

struct lit_outer {
	char magic[8];
	uint32_t version, nsub;
	uint64_t sub_len[LIT_NSUB];
	uint64_t total_len, checksum;
	uint64_t pf_len;
	uint8_t reserved[8];
};
_Static_assert(sizeof(struct lit_outer) == 64, "outer header size is part of the format");

struct litidx {
	struct lit_pf pf;
	struct lsub *sub[LIT_NSUB];
	size_t n;
	unsigned maxlen;
};

static size_t pf_img_len(unsigned bits)
{
	return sizeof(struct lit_pfh) + ((size_t)1 << (bits - 3));
}

static void pf_attach(struct lit_pf *pf)
{
	const struct lit_pfh *h = (const struct lit_pfh *)pf->img;
	pf->w = (const uint32_t *)(pf->img + sizeof(*h));
	pf->bits = h->bits;
	pf->kc = h->kc;
	pf->sh = 32 - (h->bits - 5);
	pf->kcmask = kmask_of(h->kc);
}

/* An empty filter of 2^bits bits (LIT_PF_MIN..30) for kc-byte prefixes. */
static int pf_alloc(struct lit_pf *pf, unsigned bits, unsigned kc)
{
	pf->img_len = pf_img_len(bits);
	pf->img = img_alloc(pf->img_len, &pf->img_mmap);
	if (!pf->img)
		return -1;
	struct lit_pfh *h = (struct lit_pfh *)pf->img;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, LIT_PF_MAGIC, 8);
	h->version = LIT_VERSION;
	h->bits = bits;
	h->kc = kc;
	h->words = (uint64_t)1 << (bits - 5);
	pf_attach(pf);
	return 0;
}

static void pf_free(struct lit_pf *pf)
{
	if (pf->img)
		img_release(pf->img, pf->img_len, pf->img_mmap);
	pf->img = NULL;
}

/* kc: the shortest anchor of a class that has literals (8 if none). */
static unsigned kc_of(struct lsub *const *sub)
{
	unsigned kc = 8;
	for (int i = 0; i < LIT_NSUB; i++)
		if (sub[i]->h->n && sub[i]->k < kc)
			kc = sub[i]->k;
	return kc;
}

static int pf_build(struct litidx *x, const struct litidx_opts *o, size_t n)
{
	unsigned bits = ceil_log2(n) + LIT_PF_SHIFT;
	bits = bits < LIT_PF_MIN ? LIT_PF_MIN : bits > LIT_PF_MAX ? LIT_PF_MAX : bits;
	if (o && o->filter_bits) /* forced (tests, tuning) */
		bits = o->filter_bits < LIT_PF_MIN     ? LIT_PF_MIN
		       : o->filter_bits > LIT_PF_LIMIT ? LIT_PF_LIMIT
		                                       : o->filter_bits;
	if (pf_alloc(&x->pf, bits, kc_of(x->sub)))
		return -1;
	uint32_t *w = (uint32_t *)(x->pf.img + sizeof(struct lit_pfh));
	for (int c = 0; c < LIT_NSUB; c++) {
		const struct lsub *s = x->sub[c];
		for (uint64_t j = 0; j < s->h->n; j++) {
			uint64_t key = s->ent[j].key;
			w[pf_word(&x->pf, key)] |= bm_mask(mix(key & s->kmask));
		}
	}
	return 0;
}

void litidx_free(struct litidx *x)
{
	if (!x)
		return;
	pf_free(&x->pf);
	for (int i = 0; i < LIT_NSUB; i++)
		sub_free(x->sub[i]);
	free(x);
}

static void finish(struct litidx *x)
{
	x->n = 0;
	x->maxlen = 0;
	for (int i = 0; i < LIT_NSUB; i++) {
		x->n += x->sub[i]->h->n;
		x->maxlen = x->sub[i]->maxlen > x->maxlen ? x->sub[i]->maxlen : x->maxlen;
	}
}

struct litidx *litidx_build_opts(const uint8_t *const *lits, const uint32_t *lens,
                                 const uint32_t *ids, size_t n, const struct litidx_opts *o,
                                 char *err, size_t errlen)
{
	struct litidx *x = calloc(1, sizeof(*x));
	const uint8_t **cl = malloc((n ? n : 1) * sizeof(*cl));
	uint32_t *clen = malloc((n ? n : 1) * sizeof(uint32_t));
	uint32_t *cid = malloc((n ? n : 1) * sizeof(uint32_t));
	if (!x || !cl || !clen || !cid) {
		snprintf(err, errlen, "literal index: out of memory (%zu literals)", n);
		goto fail;
	}
	/* kc, the shortest anchor (sub_build's choice of k, ahead of it): the
	 * long class's anchors are chosen with their kc-byte prefixes in mind */
	unsigned minlen = 8;
	for (size_t i = 0; i < n; i++)
		minlen = lens[i] < minlen ? lens[i] : minlen;
	unsigned kc = anchor_k(o, minlen);
	for (int c = 0; c < LIT_NSUB; c++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if ((lens[i] >= 8) == (c == 0)) {
				cl[m] = lits[i];
				clen[m] = lens[i];
				cid[m++] = ids[i];
			}
		x->sub[c] = sub_build(cl, clen, cid, m, o, kc, err, errlen);
		if (!x->sub[c])
			goto fail;
	}
	if (pf_build(x, o, n)) {
		snprintf(err, errlen, "literal index: out of memory (%zu literals)", n);
		goto fail;
	}
	free(cl);
	free(clen);
	free(cid);
	finish(x);
	return x;
fail:
	free(cl);
	free(clen);
	free(cid);
	litidx_free(x);
	return NULL;
}

struct litidx *litidx_build(const uint8_t *const *lits, const uint32_t *lens, const uint32_t *ids,
                            size_t n, char *err, size_t errlen)
{
	return litidx_build_opts(lits, lens, ids, n, NULL, err, errlen);
}

size_t litidx_count(const struct litidx *x)
{
	return x ? x->n : 0;
}

unsigned litidx_anchor(const struct litidx *x)
{
	if (!x)
		return 0;
	unsigned k = 0;
	for (int i = 0; i < LIT_NSUB; i++)
		if (x->sub[i]->h->n && (!k || x->sub[i]->k < k))
			k = x->sub[i]->k;
	return k;
}

unsigned litidx_maxlen(const struct litidx *x)
{
	return x ? x->maxlen : 0;
}

size_t litidx_memsize(const struct litidx *x)
{
	if (!x)
		return 0;
	size_t m = sizeof(*x) + x->pf.img_len;
	for (int i = 0; i < LIT_NSUB; i++)
		m += sizeof(struct lsub) + x->sub[i]->img_len;
	return m;
}

static void scan_all(const struct litidx *x, const uint8_t *buf, size_t buflen, size_t from,
                     size_t to, size_t min_end, uint64_t base, litidx_cb cb, void *ctx)
{
	const struct lsub *xs[LIT_NSUB];
	int nx = 0;
	for (int i = 0; i < LIT_NSUB; i++)
		if (x->sub[i]->h->n)
			xs[nx++] = x->sub[i];
	scan_core(&x->pf, xs, nx, buf, buflen, from, to, min_end, base, cb, ctx);
}

void litidx_scan(const struct litidx *x, struct litidx_stream *s, const uint8_t *p, size_t len,
                 litidx_cb cb, void *ctx)
{
	if (!len)
		return;
	size_t need = x->maxlen ? x->maxlen - 1 : 0;
	if (x->n && s->tail_len && need) {
		/* Matches starting in the carry and ending in p: scan a window
		 * of carry + the first need bytes of p, starts in the carry only,
		 * ends past it only (shorter ones were reported last time). */
		uint8_t win[2 * LITIDX_MAX_LEN];
		size_t t = s->tail_len < need ? s->tail_len : need;
		size_t add = len < need ? len : need;
		memcpy(win, s->tail + s->tail_len - t, t);
		memcpy(win + t, p, add);
		scan_all(x, win, t + add, 0, t, t, s->pos - t, cb, ctx);
	}
	if (x->n)
		scan_all(x, p, len, 0, len, 0, s->pos, cb, ctx);
	s->pos += len;
	tail_grow(s, need); /* on failure: a shorter carry, see match_lit.h */
	size_t cap = s->tail_cap;
	if (!cap)
		return;
	if (len >= cap) {
		memcpy(s->tail, p + len - cap, cap);
		s->tail_len = (uint32_t)cap;
	} else {
		size_t keep = s->tail_len < cap - len ? s->tail_len : cap - len;
		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		memcpy(s->tail + keep, p, len);
		s->tail_len = (uint32_t)(keep + len);
	}
}

/* Over the header (checksum field as zero) and the parts, of an image in
 * memory. */
static uint64_t outer_checksum(const uint8_t *img, size_t len)
{
	struct lit_outer h;
	memcpy(&h, img, sizeof(h));
	h.checksum = 0;
	uint64_t a = checksum((const uint8_t *)&h, sizeof(h));
	size_t n = len - sizeof(h);
	struct ck s;
	ck_init(&s);
	size_t i = ck_blocks(&s, img + sizeof(h), n);
	uint64_t b = ck_final(&s, img + sizeof(h) + i, n);
	return a ^ (b << 1 | b >> 63);
}

/* The same, read through rd window by window into win (LIT_WINDOW bytes).
 * -1 on a read error. */
static int outer_checksum_read(litidx_read_fn rd, void *ctx, size_t len, uint8_t *win,
                               uint64_t *out)
{
	struct lit_outer h;
	if (rd(ctx, 0, &h, sizeof(h)))
		return -1;
	h.checksum = 0;
	uint64_t a = checksum((const uint8_t *)&h, sizeof(h));
	size_t n = len - sizeof(h), i = 0, k = 0;
	struct ck s;
	ck_init(&s);
	while (i < n) {
		size_t w = n - i < LIT_WINDOW ? n - i : LIT_WINDOW;
		if (rd(ctx, sizeof(h) + i, win, w))
			return -1;
		k = ck_blocks(&s, win, w); /* all of it but the last window's tail */
		i += w;
	}
	uint64_t b = ck_final(&s, win + k, n); /* the tail: n % 32 bytes */
	*out = a ^ (b << 1 | b >> 63);
	return 0;
}

int litidx_serialize(const struct litidx *x, uint8_t **out, size_t *outlen)
{
	size_t total = sizeof(struct lit_outer) + x->pf.img_len;
	for (int i = 0; i < LIT_NSUB; i++)
		total += x->sub[i]->img_len; /* multiples of 8 */
	uint8_t *b = malloc(total);
	if (!b)
		return -1;
	struct lit_outer h;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, LIT_OUTER_MAGIC, 8);
	h.version = LIT_VERSION;
	h.nsub = LIT_NSUB;
	h.total_len = total;
	h.pf_len = x->pf.img_len;
	memcpy(b + sizeof(h), x->pf.img, x->pf.img_len);
	size_t off = sizeof(h) + x->pf.img_len;
	for (int i = 0; i < LIT_NSUB; i++) {
		h.sub_len[i] = x->sub[i]->img_len;
		sub_serialize(x->sub[i], b + off);
		off += x->sub[i]->img_len;
	}
	memcpy(b, &h, sizeof(h));
	((struct lit_outer *)b)->checksum = outer_checksum(b, total);
	*out = b;
	*outlen = total;
	return 0;
}

void litidx_image_fix_checksum(uint8_t *buf, size_t len)
{
	if (len < sizeof(struct lit_outer))
		return;
	struct lit_outer h;
	memcpy(&h, buf, sizeof(h));
	size_t off = sizeof(h);
	if (h.pf_len > len - off)
		return;
	off += (size_t)h.pf_len;
	for (int i = 0; i < LIT_NSUB; i++) {
		if (h.sub_len[i] > len - off)
			break;
		sub_fix_checksum(buf + off, (size_t)h.sub_len[i]);
		off += (size_t)h.sub_len[i];
	}
	uint64_t c = outer_checksum(buf, len);
	memcpy(buf + offsetof(struct lit_outer, checksum), &c, sizeof(c));
}

/* The first-pass filter part: len bytes at `at`.  Its words are any bits
 * (the entries' bits in it are checked with each class); the header must
 * describe exactly this size. */
static int pf_deserialize(litidx_read_fn rd, void *ctx, uint64_t at, size_t len, struct lit_pf *pf,
                          char *err, size_t errlen)
{
	struct lit_pfh h;
	if (len < sizeof(h)) {
		snprintf(err, errlen, "truncated header (%zu bytes)", len);
		return -1;
	}
	if (rd(ctx, at, &h, sizeof(h))) {
		snprintf(err, errlen, "read error");
		return -1;
	}
	if (memcmp(h.magic, LIT_PF_MAGIC, 8) || h.version != LIT_VERSION || h.zero) {
		snprintf(err, errlen, "bad magic, version or reserved field");
		return -1;
	}
	if (h.bits < LIT_PF_MIN || h.bits > LIT_PF_LIMIT || h.kc < 1 || h.kc > 8 ||
	    h.words != (uint64_t)1 << (h.bits - 5) || len != pf_img_len(h.bits)) {
		snprintf(err, errlen, "2^%u bits, %llu words, %u-byte prefixes in %zu bytes",
		         h.bits, (unsigned long long)h.words, h.kc, len);
		return -1;
	}
	pf->img_len = len;
	pf->img = img_alloc(len, &pf->img_mmap);
	if (!pf->img) {
		snprintf(err, errlen, "out of memory (%zu bytes)", len);
		return -1;
	}
	if (rd(ctx, at, pf->img, len)) {
		snprintf(err, errlen, "read error");
		pf_free(pf);
		return -1;
	}
	/* the header again from the copy: a reader must not see two versions */
	if (memcmp(pf->img, &h, sizeof(h))) {
		snprintf(err, errlen, "changed while read");
		pf_free(pf);
		return -1;
	}
	pf_attach(pf);
	return 0;
}

/* litidx_read_fn over an image in memory */
struct mem_src {
	const uint8_t *p;
	size_t len;
};

static int mem_read(void *ctx, uint64_t off, void *dst, size_t n)
{
	const struct mem_src *m = ctx;
	if (off > m->len || n > m->len - off)
		return -1;
	memcpy(dst, m->p + off, n);
	return 0;
}

struct litidx *litidx_deserialize(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct mem_src m = {buf, len};
	if (!buf) {
		snprintf(err, errlen, "literal index image: truncated header (%zu bytes)", len);
		return NULL;
	}
	return litidx_deserialize_read(mem_read, &m, len, err, errlen);
}

struct litidx *litidx_deserialize_read(litidx_read_fn rd, void *ctx, size_t len, char *err,
                                       size_t errlen)
{
	struct lit_outer h;
	if (len < sizeof(h)) {
		snprintf(err, errlen, "literal index image: truncated header (%zu bytes)", len);
		return NULL;
	}
	if (rd(ctx, 0, &h, sizeof(h))) {
		snprintf(err, errlen, "literal index image: read error");
		return NULL;
	}
	if (memcmp(h.magic, LIT_OUTER_MAGIC, 8)) {
		snprintf(err, errlen, "literal index image: bad magic");
		return NULL;
	}
	if (h.version != LIT_VERSION || h.nsub != LIT_NSUB) {
		snprintf(err, errlen,
		         "literal index image: version %u with %u parts, this build "
		         "reads version %u with %u",
		         h.version, h.nsub, LIT_VERSION, LIT_NSUB);
		return NULL;
	}
	if (h.pf_len > len - sizeof(h)) {
		snprintf(err, errlen,
		         "literal index image: filter of %llu bytes does not fit in %zu",
		         (unsigned long long)h.pf_len, len);
		return NULL;
	}
	uint64_t total = sizeof(h) + h.pf_len;
	for (int i = 0; i < LIT_NSUB; i++) {
		if (h.sub_len[i] > len || total + h.sub_len[i] > len) {
			snprintf(err, errlen,
			         "literal index image: part %d of %llu bytes does not "
			         "fit in %zu",
			         i, (unsigned long long)h.sub_len[i], len);
			return NULL;
		}
		total += h.sub_len[i];
	}
	if (total != len || h.total_len != len) {
		snprintf(err, errlen,
		         "literal index image: size %zu, parts make %llu, header "
		         "says %llu",
		         len, (unsigned long long)total, (unsigned long long)h.total_len);
		return NULL;
	}
	/* The whole-image checksum first: a damaged image is refused before
	 * anything is allocated for it. */
	uint8_t *win = malloc(LIT_WINDOW);
	uint64_t ck = 0;
	int rc = win ? outer_checksum_read(rd, ctx, len, win, &ck) : -1;
	free(win);
	if (rc) {
		snprintf(err, errlen, "literal index image: %s",
		         win ? "read error" : "out of memory");
		return NULL;
	}
	if (ck != h.checksum) {
		snprintf(err, errlen,
		         "literal index image: checksum mismatch (corrupt or truncated)");
		return NULL;
	}
	struct litidx *x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, errlen, "literal index image: out of memory");
		return NULL;
	}
	char e2[256];
	if (pf_deserialize(rd, ctx, sizeof(h), (size_t)h.pf_len, &x->pf, e2, sizeof(e2))) {
		snprintf(err, errlen, "literal index image, filter: %s", e2);
		litidx_free(x);
		return NULL;
	}
	size_t off = sizeof(h) + (size_t)h.pf_len;
	for (int i = 0; i < LIT_NSUB; i++) {
		x->sub[i] =
		    sub_deserialize(rd, ctx, off, (size_t)h.sub_len[i], &x->pf, e2, sizeof(e2));
		if (!x->sub[i]) {
			snprintf(err, errlen, "literal index image, part %d: %s", i, e2);
			litidx_free(x);
			return NULL;
		}
		/* Each part holds its own length class. */
		const struct lit_hdr *sh = x->sub[i]->h;
		if (sh->n && (i == 0 ? sh->minlen < 8 : sh->maxlen >= 8)) {
			snprintf(err, errlen,
			         "literal index image: part %d has literals of %u..%u "
			         "bytes",
			         i, x->sub[i]->h->minlen, x->sub[i]->h->maxlen);
			litidx_free(x);
			return NULL;
		}
		off += (size_t)h.sub_len[i];
	}
	if (x->pf.kc != kc_of(x->sub)) {
		snprintf(err, errlen,
		         "literal index image: filter prefix of %u bytes, shortest anchor %u",
		         x->pf.kc, kc_of(x->sub));
		litidx_free(x);
		return NULL;
	}
	finish(x);
	return x;
}
