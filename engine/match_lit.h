/* match_lit.h - the literal-index tier: millions of normalized literals.
 *
 * Hyperscan slows down roughly linearly with the number of literals in one
 * database (issue 6: ~280 MiB/s at 10k, ~16 at 1M) and cannot compile more
 * than 8M.  This index handles the bulk of plain literal rules instead:
 *
 *   anchor   the first `k` bytes of every literal (k = min(LITIDX_ANCHOR,
 *            shortest literal in the set)), read as one masked 64-bit word
 *   hash     one multiply; the top bits pick a bit in the prefilter bitmap
 *            (~8 bits per literal, so ~1 probe in 8-16 passes by chance) and
 *            a coarser prefix of the same bits picks the bucket
 *   buckets  CSR layout: starts[bucket] -> 16-byte entries {anchor word,
 *            arena offset, id}, so a hash collision is rejected by
 *            comparing one word, without touching the literal bytes
 *   arena    length byte + literal bytes, exact memcmp confirmation
 *   scan     positions are processed in blocks: hash + prefetch bitmap,
 *            then test bits + prefetch buckets, then confirm.  Positions
 *            whose byte cannot start any literal (typically UTF-8
 *            continuation bytes 0x80-0xBF) are skipped: a 256-entry table
 *            filled at build time.
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
 * an earlier call come first, then in start order).  Duplicate literals
 * with different ids each report.
 */
#ifndef TSF_MATCH_LIT_H
#define TSF_MATCH_LIT_H

#include <stddef.h>
#include <stdint.h>

/* Literals shorter than this stay in Hyperscan: they would force a short
 * anchor on the whole index (see the anchor measurements in
 * bench/results/lit.json and the report in issue 6). */
#define LITIDX_MIN_LEN 6
/* Longer literals stay in Hyperscan too; the length is kept in one byte and
 * the per-stream carry is maxlen-1 bytes. */
#define LITIDX_MAX_LEN 255
/* Longest anchor used (bytes of one 64-bit load). */
#define LITIDX_ANCHOR 8

struct litidx;

/* Tuning knobs for measurements; zeros mean the defaults. */
struct litidx_opts {
	unsigned anchor_len;   /* 1..8; capped by the shortest literal; default LITIDX_ANCHOR */
	unsigned bitmap_shift; /* bitmap bits = buckets << shift; default 3 (8 bits/literal) */
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
unsigned litidx_anchor(const struct litidx *x); /* anchor length k */
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
/* Testing/fuzzing only: rewrites an image's checksum so that structural
 * validation (not just the checksum) sees mutated images.  No-op if len is
 * too short to hold a header. */
void litidx_image_fix_checksum(uint8_t *buf, size_t len);

#endif
