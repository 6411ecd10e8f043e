/* fuzz_charset.c - charset conversion on hostile bytes.
 *
 * Input: [charset][piece][bytes...] (charset: an id or CS_GUESS).  The bytes are converted whole
 * and in pieces of 1 + piece % 7 bytes; both outputs must be valid UTF-8 and identical (carry-over
 * of split sequences must not change anything), and equal to the whole conversion without the SIMD
 * check of valid UTF-8 (pieces under 32 bytes never reach it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "fuzz_util.h"

static void put(void *ud, const uint8_t *p, size_t n)
{
	out_put(ud, p, n);
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
	/* CS_COUNT stands for CS_GUESS (unlabelled: UTF-8 vs GB18030) */
	int id = data[0] % (CS_COUNT + 1);
	if (id == CS_COUNT)
		id = CS_GUESS;
	int bom = (data[0] >> 4) & 1;
	size_t piece = 1 + data[1] % 7;
	struct out a = {0}, b = {0}, c = {0};
	struct tsf_stats sa, sb, sc;
	conv(id, bom, data + 2, size - 2, size, &a, &sa);
	conv(id, bom, data + 2, size - 2, piece, &b, &sb);
	cs_utf8_simd = 0;
	conv(id, bom, data + 2, size - 2, size, &c, &sc);
	cs_utf8_simd = 2;
	if (!utf8_ok(a.p, a.n) || !utf8_ok(b.p, b.n))
		abort();
	if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n)) ||
	    sa.charset_invalid != sb.charset_invalid)
		abort();
	if (a.n != c.n || (a.n && memcmp(a.p, c.p, a.n)) ||
	    sa.charset_invalid != sc.charset_invalid)
		abort();
	free(a.p);
	free(b.p);
	free(c.p);
	return 0;
}
