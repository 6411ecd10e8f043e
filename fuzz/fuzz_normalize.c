/* fuzz_normalize.c - the normalizer on arbitrary bytes.
 *
 * Input: byte 0 picks the flags (incl. the forced per-step path), byte 1
 * seeds the feed sizes, the rest is the text.  Checks: no crash or
 * out-of-bounds access (ASan), output within NORM_MAX_EXPANSION per input
 * byte, chunked feeds equal one feed (output and offset map), offsets
 * non-decreasing and inside the input, and NORM_ALL equals the per-step
 * path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

static size_t feed_chunked(unsigned flags, const uint8_t *in, size_t len, uint8_t seed,
                           uint8_t *out, uint64_t *map)
{
	struct norm_state st;
	norm_init(&st, flags);
	size_t n = 0, i = 0, k = 0;
	while (i < len) {
		/* 0..7 bytes, zero-length feeds too, but progress every other feed */
		size_t c = (size_t)((seed >> (k % 8)) & 7) | (k & 1);
		k++;
		if (c > len - i)
			c = len - i;
		size_t before = n;
		n += norm_feed(&st, in + i, c, out + n, map + n);
		/* per feed: bound counts the bytes pending from the last feed */
		if (n - before > (size_t)NORM_MAX_EXPANSION * (c + 4))
			abort();
		i += c;
	}
	if (st.in_pos != len || st.npend > 3)
		abort();
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	unsigned flags = data[0] & NORM_ALL;
	if (data[0] & 0x20)
		flags |= NORM_FORCE_SLOW;
	uint8_t seed = data[1];
	const uint8_t *in = data + 2;
	size_t len = size - 2, cap = (size_t)NORM_MAX_EXPANSION * (len + 4);
	uint8_t *o1 = malloc(cap), *o2 = malloc(cap), *o3 = malloc(cap);
	uint64_t *m1 = malloc(cap * sizeof(uint64_t)), *m2 = malloc(cap * sizeof(uint64_t));
	if (!o1 || !o2 || !o3 || !m1 || !m2)
		abort();

	struct norm_state st;
	norm_init(&st, flags);
	size_t n1 = norm_feed(&st, in, len, o1, m1);
	if (n1 > (size_t)NORM_MAX_EXPANSION * len)
		abort();
	for (size_t i = 0; i < n1; i++)
		if (m1[i] < 1 || m1[i] > len || (i && m1[i] < m1[i - 1]))
			abort();

	size_t n2 = feed_chunked(flags, in, len, seed, o2, m2);
	if (n2 != n1 || memcmp(o1, o2, n1) || memcmp(m1, m2, n1 * sizeof(uint64_t)))
		abort();

	/* norm_string with its tighter E * len buffer, exactly sized */
	uint8_t *o4 = malloc((size_t)NORM_MAX_EXPANSION * len + 1);
	size_t n4 = norm_string(flags, in, len, o4);
	if (n4 != n1 || memcmp(o4, o1, n1))
		abort();
	free(o4);

	if ((flags & NORM_ALL) == NORM_ALL) {
		size_t n3 = norm_string(flags ^ NORM_FORCE_SLOW, in, len, o3);
		if (n3 != n1 || memcmp(o1, o3, n1))
			abort();
		/* the matching form is a fixed point */
		uint8_t *o5 = malloc((size_t)NORM_MAX_EXPANSION * n1 + 1);
		size_t n5 = norm_string(NORM_ALL, o1, n1, o5);
		if (n5 != n1 || memcmp(o5, o1, n1))
			abort();
		free(o5);
	}
	free(o1), free(o2), free(o3), free(m1), free(m2);
	return 0;
}
