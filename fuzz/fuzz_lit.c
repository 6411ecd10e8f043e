/* fuzz_lit.c - the literal index image loader must reject or safely load
 * any bytes: a rule bundle's image is hostile input.
 *
 * The first byte picks a mode:
 *   0  the rest is an image, as is (mostly exercises the checksum/header)
 *   1  the rest is an image whose checksums are recomputed first, so the
 *      structural validation behind the checksum gets mutated input
 *   2  the rest is literals (split at 0xff) plus, after a 0xfe, (offset,
 *      byte) mutations: the literals are built and serialized, the image
 *      mutated and re-checksummed, then loaded.  Reaches deep validation
 *      without a seed corpus.
 * An image that loads is scanned over the input in two pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match_lit.h"

static void on_match(uint32_t id, uint64_t end, void *ctx)
{
	(void)id, (void)end;
	++*(size_t *)ctx;
}

static void scan(const struct litidx *x, const uint8_t *data, size_t size)
{
	struct litidx_stream s;
	size_t hits = 0;
	litidx_stream_init(&s);
	litidx_scan(x, &s, data, size / 2, on_match, &hits);
	litidx_scan(x, &s, data + size / 2, size - size / 2, on_match, &hits);
	litidx_stream_reset(&s);
	litidx_scan(x, &s, (const uint8_t *)"abcdefgh 免费领取 abcdefgh", 29, on_match, &hits);
	litidx_stream_free(&s);
}

static struct litidx *mode2(const uint8_t *d, size_t n, uint8_t **img, size_t *ilen)
{
	const uint8_t *lits[64];
	uint32_t lens[64], ids[64];
	size_t nl = 0, i = 0;
	while (i < n && d[i] != 0xfe && nl < 64) {
		size_t j = i;
		while (j < n && d[j] != 0xff && d[j] != 0xfe)
			j++;
		if (j - i >= LITIDX_MIN_LEN && j - i <= 40) {
			lits[nl] = d + i;
			lens[nl] = (uint32_t)(j - i);
			ids[nl] = (uint32_t)nl;
			nl++;
		}
		i = j < n && d[j] == 0xff ? j + 1 : j;
	}
	char err[256];
	struct litidx_opts o = {.filter_bits = nl & 1 ? 8 : 0}; /* odd: a tiny first-pass filter */
	struct litidx *x = litidx_build_opts(lits, lens, ids, nl, &o, err, sizeof(err));
	if (!x)
		return NULL;
	if (litidx_serialize(x, img, ilen)) {
		litidx_free(x);
		return NULL;
	}
	litidx_free(x);
	for (i++; i + 3 <= n; i += 3) {
		size_t at = ((size_t)d[i] << 8 | d[i + 1]) % *ilen;
		(*img)[at] = d[i + 2];
	}
	litidx_image_fix_checksum(*img, *ilen);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char err[256];
	uint8_t *img = NULL;
	size_t ilen = 0;
	int mode = data[0] % 3;
	if (mode == 2) {
		mode2(data + 1, size - 1, &img, &ilen);
		if (!img)
			return 0;
	} else {
		ilen = size - 1;
		img = malloc(ilen ? ilen : 1);
		if (!img)
			return 0;
		memcpy(img, data + 1, ilen);
		if (mode == 1)
			litidx_image_fix_checksum(img, ilen);
	}
	struct litidx *x = litidx_deserialize(img, ilen, err, sizeof(err));
	if (x) {
		scan(x, data, size);
		litidx_free(x);
	}
	free(img);
	return 0;
}
