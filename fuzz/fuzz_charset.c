/* fuzz_charset.c - charset conversion on hostile bytes.
 *
 * Input: [charset][piece][bytes...].  The bytes are converted whole and in
 * pieces of 1 + piece % 7 bytes; both outputs must be valid UTF-8 and
 * identical (carry-over of split sequences must not change anything).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"

struct out {
	uint8_t *p;
	size_t n, cap;
};

static void put(void *ud, const uint8_t *p, size_t n)
{
	struct out *o = ud;
	if (o->n + n > o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 1024;
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

static void conv(int id, int bom, const uint8_t *s, size_t n, size_t piece, struct out *o,
                 struct tsf_stats *st)
{
	struct charset c;
	memset(st, 0, sizeof(*st));
	cs_begin(&c, id, bom, st);
	for (size_t i = 0; i < n; i += piece)
		cs_feed(&c, s + i, n - i < piece ? n - i : piece, put, o);
	cs_end(&c, put, o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	int id = data[0] % CS_COUNT;
	int bom = (data[0] >> 4) & 1;
	size_t piece = 1 + data[1] % 7;
	struct out a = {0}, b = {0};
	struct tsf_stats sa, sb;
	conv(id, bom, data + 2, size - 2, size, &a, &sa);
	conv(id, bom, data + 2, size - 2, piece, &b, &sb);
	if (!utf8_ok(a.p, a.n) || !utf8_ok(b.p, b.n))
		abort();
	if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n)) ||
	    sa.charset_invalid != sb.charset_invalid)
		abort();
	free(a.p);
	free(b.p);
	return 0;
}
