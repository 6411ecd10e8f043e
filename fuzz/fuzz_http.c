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
#include "fuzz_util.h"

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
	fuzz_decode(&lim, s, n, piece, gap_at, (size_t)64 << 20, r, st);
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
