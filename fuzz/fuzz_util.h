/* fuzz_util.h - shared by the fuzz targets: a growing output buffer and the
 * UTF-8 validity oracle (well-formed, shortest form, no surrogates, nothing
 * above U+10FFFF), written apart from the engine's own UTF-8 code. */
#ifndef TSF_FUZZ_UTIL_H
#define TSF_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

struct out {
	uint8_t *p;
	size_t n, cap;
};

static inline void out_put(struct out *o, const uint8_t *p, size_t n)
{
	if (o->n + n > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 4096;
		while (cap < o->n + n)
			cap *= 2;
		o->p = realloc(o->p, cap);
		if (!o->p)
			abort();
		o->cap = cap;
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static inline int utf8_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t b = s[i];
		size_t k;
		uint32_t cp;
		if (b < 0x80) {
			i++;
			continue;
		} else if (b >= 0xC2 && b <= 0xDF) {
			k = 1;
			cp = b & 0x1F;
		} else if (b >= 0xE0 && b <= 0xEF) {
			k = 2;
			cp = b & 0x0F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			k = 3;
			cp = b & 0x07;
		} else {
			return 0;
		}
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A decoder sink for the decode targets: all text with a marker at each
 * reset, and the current segment (between resets), which must be valid
 * UTF-8 on its own. */
struct run {
	struct out all;
	struct out seg;
};

static inline void on_text(void *ud, const uint8_t *p, size_t n)
{
	struct run *r = ud;
	out_put(&r->all, p, n);
	out_put(&r->seg, p, n);
}

static inline void on_reset(void *ud)
{
	struct run *r = ud;
	if (!utf8_ok(r->seg.p, r->seg.n))
		abort();
	r->seg.n = 0;
	out_put(&r->all, (const uint8_t *)"\0RESET\0", 7);
}

/* Decodes s[0..n) fed piece bytes at a time, with a gap at gap_at (none
 * when past n), into r; aborts if the decoder holds more than maxmem or
 * the last segment is not valid UTF-8. */
static inline void fuzz_decode(const struct dec_limits *lim, const uint8_t *s, size_t n,
                               size_t piece, size_t gap_at, size_t maxmem, struct run *r,
                               struct tsf_stats *st)
{
	struct dec_sink sink = {on_text, on_reset, r};
	memset(st, 0, sizeof(*st));
	struct decoder *d = dec_new(lim, &sink, st);
	if (!d)
		abort();
	size_t i = 0;
	while (i < n) {
		size_t k = n - i < piece ? n - i : piece;
		if (i < gap_at && i + k > gap_at)
			k = gap_at - i;
		dec_feed(d, s + i, k);
		i += k;
		if (i == gap_at)
			dec_gap(d);
		if (dec_memsize(d) > maxmem)
			abort();
	}
	dec_finish(d);
	dec_free(d);
	if (!utf8_ok(r->seg.p, r->seg.n))
		abort();
}

#endif
