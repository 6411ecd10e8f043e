/* fuzz_decompress.c - stacked gzip/deflate/br layers on hostile data.
 *
 * Input: [layers][piece][data...]: the first byte picks 1..3 codings, the
 * second the feed size.  Oracles: ASan/UBSan, output never beyond the cap,
 * counted memory within DC_MEM_CAP per layer.
 */
#include <stdint.h>
#include <stdlib.h>

#include "decompress.h"

static size_t total;

static void out(void *ud, const uint8_t *p, size_t n)
{
	(void)ud;
	(void)p;
	total += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t codings[3];
	int n = 1 + data[0] % 3;
	for (int i = 0; i < n; i++)
		codings[i] = (uint8_t)(DC_GZIP + (data[0] >> (2 + 2 * i)) % 3);
	size_t piece = 1 + data[1] % 64;
	const size_t cap = 1 << 20;
	struct tsf_stats st = {0};
	struct dcmp *d = dc_new(codings, n, cap, 50, &st);
	if (!d)
		abort();
	total = 0;
	for (size_t i = 2; i < size; i += piece) {
		size_t k = size - i < piece ? size - i : piece;
		dc_feed(d, data + i, k, out, NULL);
		if (dc_memsize(d) > (size_t)n * DC_MEM_CAP + 4096)
			abort();
	}
	dc_end(d);
	dc_free(d);
	if (total > cap)
		abort();
	return 0;
}
