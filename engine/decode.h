/* decode.h - one direction of a reassembled stream -> UTF-8 text.
 *
 * The decoder recognises HTTP/1.x by content (any port): request/response
 * lines, headers, Content-Length, chunked transfer coding, Content-Encoding
 * (gzip, deflate, br, stacked), charsets (Content-Type charset, <meta
 * charset>), HTML tag stripping and character references, and
 * percent/plus decoding of form bodies and request-target query strings.
 * Anything that is not HTTP is passed on as text (charset sniffed: UTF-8
 * unless BOMs say UTF-16).
 *
 * Output is pushed to a sink as it is produced, so a match can span chunks,
 * packets and decompressor output blocks.  reset() marks a boundary that
 * matches must not span (end of one HTTP message body, a reassembly gap).
 * All decoded text (headers included) goes to text(); raw bytes are not
 * repeated here - the raw matcher sees the reassembled stream itself.
 */
#ifndef TSF_DECODE_H
#define TSF_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct dec_sink {
	void (*text)(void *ud, const uint8_t *utf8, size_t len);
	void (*reset)(void *ud);
	void *ud;
};

struct dec_limits {
	size_t max_header;   /* bytes of one header block (default 16 KiB) */
	size_t max_body_out; /* decoded bytes per HTTP body (default 16 MiB) */
	unsigned max_ratio;  /* decompression ratio cap (default 100) */
	unsigned max_layers; /* stacked Content-Encodings (default 3) */
};

void dec_limits_default(struct dec_limits *l);

struct decoder;

/* stats may be NULL.  Returns NULL on allocation failure. */
struct decoder *dec_new(const struct dec_limits *lim, const struct dec_sink *sink,
                        struct tsf_stats *stats);
void dec_feed(struct decoder *d, const uint8_t *data, size_t len);
/* Bytes were lost: drop partial state, resynchronise on the next message. */
void dec_gap(struct decoder *d);
/* End of stream: flush what is decodable.  Then free. */
void dec_finish(struct decoder *d);
void dec_free(struct decoder *d);

/* Approximate heap bytes held by d (for memcaps). */
size_t dec_memsize(const struct decoder *d);

#endif
