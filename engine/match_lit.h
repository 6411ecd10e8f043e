/* match_lit.h - the literal-index tier: millions of normalized literals.
 *
 * Hyperscan slows down roughly linearly with the number of literals in one
 * database (issue 6: ~280 MiB/s at 10k, ~16 at 1M) and cannot compile more
 * than 8M.  This index handles the bulk of plain literal rules instead.
 *
 *   classes  literals of >= 8 bytes use 8-byte anchors; shorter ones
 *            (LITIDX_MIN_LEN..7) anchors of their own length, in a second,
 *            small table.  Both are probed in one pass over the text.
 *   anchor   per literal, the k-gram (starting on a non-continuation byte,
 *            for 8-byte anchors at offset <= len-8) that is rarest among
 *            all literals' k-grams: shared prefixes ("免费领取...") and
 *            whole common words are avoided, word-boundary grams win
 *   hash     two 32-bit multilinear hashes of the key's halves (hA: bucket
 *            and class-bitmap word, hB: the first-pass filter's bits; the
 *            class bitmap's bits come from a re-hash), so that AVX2
 *            computes them for 8 positions per vector (vpmulld)
 *   filters  blocked Bloom filters, 2 bits in one 32-bit word.  The
 *            first-pass filter, probed at every position, is shared by
 *            both classes: its word comes from the hash of the first kc
 *            bytes (the shortest anchor, 6) and each class tests its own
 *            two bits from the hash of its whole anchor, so a position
 *            costs one random load, not one per class (the loads are the
 *            scan's cost).  ~16 bits per literal, at most 4 MB.  The long
 *            class's anchor choice counts its kc-byte prefix's rarity
 *            too, so the words of common prefixes do not fill up.  A
 *            position that passes tests its class's own bitmap (~16 bits
 *            per bucket) before any bucket is touched.
 *   buckets  CSR: starts[bucket] -> 16-byte entries {8-byte key = literal
 *            bytes from the anchor, arena offset, id (short literals) or up
 *            to 3 more literal bytes after the key}: most text that holds
 *            an anchor but not its literal is rejected without touching the
 *            literal bytes
 *   arena    length, anchor offset, id, literal bytes; exact memcmp
 *   scan     chunks of 512 positions, software-pipelined across chunks:
 *            (0) the first-pass filter for every position, AVX2 (hash +
 *            prefetch 8 groups of 8 ahead, then one gather + two bit
 *            tests; scalar fallback computes the same), passes to a list;
 *            (1) the class bitmap; (2) bucket bounds; (3) keys; (4)
 *            literal bytes -- each stage one chunk after the previous one,
 *            whose misses it prefetched.  Positions on a UTF-8
 *            continuation byte (when no anchor starts with one) test word
 *            0 and are masked.
 *
 * Measured on bench_lit's 1M mixed Chinese/English set (with the earlier
 * per-class filters: prefilter passes per text byte, bucket entries visited
 * per byte), with one anchor length k for every literal: k=4 0.78 / 11.0,
 * k=5 0.34 / 0.85, k=6 0.14 / 0.33, k=7 0.063 / 0.10; with the two classes
 * (8 and 6) 0.029 / 0.041.  Hence LITIDX_MIN_LEN 6: a 4-5 byte literal is
 * one CJK character and a bit, hot in any Chinese text, and belongs in
 * Hyperscan.
 *
 * Scan speed (bench_lit, one core of a 2-core VM whose speed drifts +-30%
 * over minutes, so variants are compared in alternating runs).  History,
 * MiB/s: 100k 108 -> 271 -> ~380 (median of 5 in the latest full run);
 * 1M 75-96 -> 100-170 -> ~210-240; 10M 28-47 -> 45-57 -> ~45-60.  The
 * last step (one first-pass filter for both classes, prefix-aware anchor
 * choice, the end of each buffer through AVX2) measured in 12 alternating
 * runs on 16 MiB: 100k 144 -> 222, 1M 120 -> 212 (medians).  Per text
 * byte (-DLIT_STATS), first-pass filter passes / class-bitmap passes /
 * bucket entries visited / key matches / hits: 100k 0.020 / 0.003 /
 * 0.005 / 0.0015 / 0.0005; 1M 0.038 / 0.010 / 0.018 / 0.006 / 0.003
 * (before: 0.032 positions reached the buckets); 10M 0.40 / 0.065 / 0.12
 * / 0.052 / 0.031.  With the word taken from the 6-byte prefix but
 * anchors still chosen by 8-gram rarity alone, 1M passed 0.12 per byte:
 * the words of prefixes many anchors share fill up.
 * Where the time goes at 1M: stage 0 ~60%, the rest ~40%, most of both
 * waiting on memory.  At 10M the text is dense with real matches (one hit
 * per 32 bytes in bench_lit's data), each key match and arena trip a DRAM
 * miss, and the 4 MB first-pass filter passes 0.4 positions per byte to
 * the 32 MB class bitmap: issue 6's 150 MiB/s at 10M is not reached, nor
 * reliably its 250 at 1M.  A perf profile at 10M spreads the stalls over
 * the dependent memory stages (class bitmap ~25%, bucket bounds ~11%,
 * entries ~25%, arena ~11% of scan_core's samples): with huge pages in
 * use, the misses already overlap as far as this VM allows.  A 2^27-bit
 * first-pass filter halves the class-bitmap probes (0.40 -> 0.18 per
 * byte) and scans no faster (64 vs 67 MiB/s; 2^28: 58); text with 1/5 of
 * the chance hits (a second vocabulary) scans at ~80-115 MiB/s, still
 * short of 150.  What would be left: fewer probed positions (anchors
 * sampled at a stride, each literal indexed under several offsets), a
 * redesign not attempted here.
 * Tried and dropped (alternating runs): queueing only the lanes that may
 * start an anchor before gathering (a microbenchmark ran half-CJK text
 * 1.24x faster; in the index no gain at 100k, 1M slower 229 -> 179);
 * scanning carry + input as one copied buffer (no clear difference);
 * prefetching an L2-resident filter; a prefetch distance of 16 groups; a
 * first-pass filter of +-1 bit (within the noise).
 * The scalar fallback (no AVX2, ARM, TAPSIFT_LIT_NOSIMD=1) hashes and
 * tests one position at a time through a 16-deep prefetch ring.
 *
 * The index is immutable once built and shared by all threads.  One flat
 * image holds everything, so serializing is a memcpy and loading is a
 * memcpy plus a full validation pass (image from a rule bundle = hostile).
 *
 * Semantics: every occurrence (id, end) of every literal is reported, like
 * Hyperscan streaming mode with the literals compiled case-sensitively
 * without flags.  Bytes are compared exactly: the caller normalizes both
 * literals and text.  Matches spanning litidx_scan() calls are found once
 * (the stream keeps the last maxlen-1 bytes); none spans a reset.  Within
 * one call, callbacks are NOT in end-offset order (matches that started in
 * an earlier call come first, then roughly by anchor position): sort or
 * dedup in the caller if order matters.  Duplicate literals with different
 * ids each report.  Limits: < 2^32 literals, < 2 GiB of literal bytes.
 */
#ifndef TSF_MATCH_LIT_H
#define TSF_MATCH_LIT_H

#include <stddef.h>
#include <stdint.h>

/* Literals shorter than this stay in Hyperscan (measurements above). */
#define LITIDX_MIN_LEN 6
/* Longer literals stay in Hyperscan too; the length is kept in one byte and
 * the per-stream carry is maxlen-1 bytes. */
#define LITIDX_MAX_LEN 255
/* Anchor of the long class (bytes of one 64-bit load). */
#define LITIDX_ANCHOR 8

struct litidx;

/* Tuning knobs for measurements; zeros mean the defaults. */
struct litidx_opts {
	unsigned anchor_len;   /* 1..8, capped per class by its shortest literal;
	                          default LITIDX_ANCHOR */
	unsigned bitmap_shift; /* class bitmap bits = buckets << shift; default 4 */
	unsigned filter_bits;  /* log2 bits of the first-pass filter (7..30);
	                          default log2(literals) + 4, at most 25 */
};

/* Builds an index over n literals (already normalized bytes, each of
 * LITIDX_MIN_LEN..LITIDX_MAX_LEN bytes; n may be 0).  ids are reported as
 * given.  Returns NULL with a message in err on a bad literal or no memory. */
struct litidx *litidx_build(const uint8_t *const *lits, const uint32_t *lens, const uint32_t *ids,
                            size_t n, char *err, size_t errlen);
struct litidx *litidx_build_opts(const uint8_t *const *lits, const uint32_t *lens,
                                 const uint32_t *ids, size_t n, const struct litidx_opts *o,
                                 char *err, size_t errlen);
void litidx_free(struct litidx *x);

/* Facts about a built index (for stats and bundle info). */
size_t litidx_count(const struct litidx *x);    /* literals */
unsigned litidx_anchor(const struct litidx *x); /* shortest anchor in use (bytes) */
unsigned litidx_maxlen(const struct litidx *x); /* longest literal (0 if empty) */
size_t litidx_memsize(const struct litidx *x);  /* bytes held by the index */

/* end: absolute stream offset just past the last byte of the match. */
typedef void (*litidx_cb)(uint32_t id, uint64_t end, void *ctx);

/* Per flow direction.  pos counts every byte scanned since init (resets do
 * not rewind it).  The carry buffer is allocated on the first scan, sized
 * for the index's maxlen (grown if a later index has longer literals; if
 * that allocation fails the carry shrinks to what fits and a match spanning
 * that call may be missed). */
struct litidx_stream {
	uint64_t pos;
	uint8_t *tail;
	uint32_t tail_len, tail_cap;
};

void litidx_stream_init(struct litidx_stream *s);
/* Scans p[0..len) as the continuation of s; cb for each match that ends in
 * it.  x may change between calls (hot swap): the carry is plain text. */
void litidx_scan(const struct litidx *x, struct litidx_stream *s, const uint8_t *p, size_t len,
                 litidx_cb cb, void *ctx);
/* Makes the carry hold at least `bytes` (<= LITIDX_MAX_LEN-1) of history,
 * e.g. LITIDX_MAX_LEN-1 so that a swap to an index with longer literals
 * still finds matches that started before it.  Returns 0, or -1 (no
 * memory, carry unchanged). */
int litidx_stream_reserve(struct litidx_stream *s, size_t bytes);
/* A boundary (gap, new stream): no match spans it; pos keeps counting. */
void litidx_stream_reset(struct litidx_stream *s);
void litidx_stream_free(struct litidx_stream *s);

/* A flat byte image for rule bundles (little-endian hosts; the format has a
 * magic, a version and a 64-bit checksum).  *out is malloc'd.  Returns 0, or
 * -1 on no memory. */
int litidx_serialize(const struct litidx *x, uint8_t **out, size_t *outlen);
/* Loads an image: one copy plus a full validation (sizes, offsets, bucket
 * order, every entry's anchor, hash, bitmap bit and length, checksum), so a
 * hostile image is rejected with a reason, never trusted. */
struct litidx *litidx_deserialize(const uint8_t *buf, size_t len, char *err, size_t errlen);
/* The same, reading the image through rd(ctx, off, dst, n) (0 ok, -1 read
 * error): the checksum pass in windows of 256 KiB into a buffer of its own,
 * each part straight into the index's memory.  A loader reading a bundle
 * file with pread never holds the image twice, and never maps the file
 * (bundle.c). */
typedef int (*litidx_read_fn)(void *ctx, uint64_t off, void *dst, size_t n);
struct litidx *litidx_deserialize_read(litidx_read_fn rd, void *ctx, size_t len, char *err,
                                       size_t errlen);
/* Testing/fuzzing only: rewrites an image's checksum so that structural
 * validation (not just the checksum) sees mutated images.  No-op if len is
 * too short to hold a header. */
void litidx_image_fix_checksum(uint8_t *buf, size_t len);

#endif
