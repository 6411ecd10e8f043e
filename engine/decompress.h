/* decompress.h - streaming, stacked Content-Encoding decoding with limits.
 *
 * Layers are applied in decode order (the reverse of the header's list):
 * each layer's output feeds the next and the last one's goes to the
 * callback as it is produced, so text spans decompressor blocks.  Every
 * layer is capped on output bytes and on output/input ratio (decomp_bombs);
 * corrupt or truncated data stops decoding, keeps what came out, and counts
 * decomp_errors.  zlib/brotli memory goes through a counting allocator, so
 * dc_memsize() is exact, and is capped (DC_MEM_CAP).
 */
#ifndef TSF_DECOMPRESS_H
#define TSF_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "urldec.h" /* tsf_out_fn */

enum dc_coding {
	DC_GZIP = 1, /* gzip, x-gzip */
	DC_DEFLATE,  /* zlib-wrapped or raw.  Either label accepts gzip, zlib
	                and raw data, told apart by the first two bytes. */
	DC_BR,
};

#define DC_MAX_LAYERS 8
/* zlib/brotli heap per body; brotli's largest standard window is 16 MiB. */
#define DC_MEM_CAP (24u << 20)
/* Output below this is never called a bomb on ratio alone: a short, highly
 * repetitive page can legitimately compress better than max_ratio. */
#define DC_RATIO_FLOOR (1u << 20)
#define DC_RATIO_STEP (64u << 10)

/* Parses a Content-Encoding / Transfer-Encoding value ("gzip, br").
 * Appends the codings in *decode* order to list (which holds *n, up to max),
 * skipping "identity" and, when skip_chunked, "chunked".
 * Returns 0, -1 for an unknown coding, -2 for more than max layers. */
int dc_parse(const char *v, size_t len, uint8_t *list, int *n, int max, int skip_chunked);

struct dcmp;

struct dcmp *dc_new(const uint8_t *codings, int n, size_t max_out, unsigned max_ratio,
                    struct tsf_stats *stats);
/* Returns 0, or -1 once decoding has stopped (error or bomb): later input
 * is ignored. */
int dc_feed(struct dcmp *d, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);
/* End of body: counts truncated streams (decomp_errors). */
void dc_end(struct dcmp *d);
void dc_free(struct dcmp *d);
size_t dc_memsize(const struct dcmp *d);

#endif
