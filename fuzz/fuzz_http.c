/* fuzz_http.c - the whole decoder on hostile streams.
 *
 * Input: [flags][piece][stream...].  The stream is decoded twice: whole,
 * and cut into pieces of 1 + piece % 23 bytes (with a gap in the middle
 * when flags says so, in both runs at the same offset).  Oracles besides
 * ASan/UBSan: the text must be valid UTF-8, and both runs must produce the
 * same text and resets (unless a bomb cap fired: its cut point may move by
 * design, see decompress.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

struct out {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct out *o, const uint8_t *p, size_t n)
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

static int utf8_ok(const uint8_t *s, size_t n)
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

/* Text is checked per segment (between resets): a segment is one unit. */
struct run {
	struct out all;
	struct out seg;
};

static void on_text(void *ud, const uint8_t *p, size_t n)
{
	struct run *r = ud;
	put(&r->all, p, n);
	put(&r->seg, p, n);
}

static void on_reset(void *ud)
{
	struct run *r = ud;
	if (!utf8_ok(r->seg.p, r->seg.n))
		abort();
	r->seg.n = 0;
	put(&r->all, (const uint8_t *)"\0RESET\0", 7);
}

static void decode(const uint8_t *s, size_t n, size_t piece, size_t gap_at, int small,
                   struct run *r, struct tsf_stats *st)
{
	struct dec_limits lim;
	dec_limits_default(&lim);
	if (small) {
		/* Tight limits reach the overflow and cap paths with small inputs. */
		lim.max_header = 200;
		lim.max_body_out = 3000;
		lim.max_ratio = 4;
		lim.max_layers = 2;
	}
	struct dec_sink sink = {on_text, on_reset, r};
	memset(st, 0, sizeof(*st));
	struct decoder *d = dec_new(&lim, &sink, st);
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
		if (dec_memsize(d) > (64u << 20))
			abort();
	}
	dec_finish(d);
	dec_free(d);
	if (!utf8_ok(r->seg.p, r->seg.n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t flags = data[0];
	size_t piece = 1 + data[1] % 23;
	const uint8_t *s = data + 2;
	size_t n = size - 2;
	size_t gap_at = (flags & 1) ? n / 2 : (size_t)-1;
	int small = (flags & 2) != 0;

	struct run a = {0}, b = {0};
	struct tsf_stats sa, sb;
	decode(s, n, n ? n : 1, gap_at, small, &a, &sa);
	decode(s, n, piece, gap_at, small, &b, &sb);
	if (!sa.decomp_bombs && !sb.decomp_bombs) {
		if (a.all.n != b.all.n || (a.all.n && memcmp(a.all.p, b.all.p, a.all.n)))
			abort();
		if (memcmp(&sa, &sb, sizeof(sa)))
			abort();
	}
	free(a.all.p);
	free(a.seg.p);
	free(b.all.p);
	free(b.seg.p);
	return 0;
}
