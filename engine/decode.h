/* decode.h - one direction of a reassembled stream -> UTF-8 text.
 *
 * The decoder recognises HTTP/1.x by content (any port): request/response
 * lines, headers, Content-Length, chunked transfer coding, Content-Encoding
 * (gzip, deflate, br, stacked), charsets (Content-Type charset, <meta
 * charset>), HTML tag stripping and character references, percent/plus
 * decoding of form bodies and request-target query strings, and \uXXXX
 * escapes in JSON / JavaScript bodies and <script>.  Image, audio, video
 * and font bodies are skipped.  Anything that is not HTTP is passed on as
 * text (charset sniffed: BOM, else UTF-8, else GB18030 if the 64 bytes
 * from the first non-ASCII byte on are not UTF-8 but decode cleanly as
 * GB18030 -- the same guess as for any unlabelled HTTP body, form or
 * JSON included; HTML is sniffed too; a TLS record at the start produces
 * no text at all).  After 101 Switching Protocols or a CONNECT
 * request the rest of the direction is treated the same way.
 *
 * Mail in such a plain stream (SMTP DATA, POP3, IMAP, .eml; mime.h): lines
 * are passed on unchanged until a header block holds Content-Type,
 * Content-Transfer-Encoding or MIME-Version; then text() gets that block
 * with RFC 2047 encoded-words decoded, reset(), the body transfer-decoded
 * (base64, quoted-printable), charset-converted and HTML-stripped, and
 * reset(); multipart bodies part by part (a reset() between parts),
 * dot-stuffing undone, a lone "." ends the message and is not text.
 * Plain streams without such a block are passed on exactly as before.
 *
 * Output is pushed to a sink as it is produced, so a match can span chunks,
 * packets and decompressor output blocks.  reset() marks a boundary that
 * matches must not span: between a message's head and its body, after each
 * body, and after a gap.  Consecutive boundaries are collapsed into one.
 * All decoded text (headers included) goes to text(); raw bytes are not
 * repeated here - the raw matcher sees the reassembled stream itself.
 *
 * What text() receives for an HTTP message: the head as sent (start line,
 * header lines, CRLFs), except that a request-target is percent-decoded
 * (and '+' -> ' ' in its query); then reset(); then the body text; then
 * reset().  text() only ever receives valid UTF-8, and the byte sequence
 * (and reset positions) does not depend on how the input was cut into
 * dec_feed() calls.  Counters go to the stats given to dec_new().
 *
 * Threading: a decoder is used by one thread at a time.  Output is staged
 * in a thread-local buffer that is flushed before every dec_* call
 * returns, so a sink callback must not feed another decoder on the same
 * thread from inside text()/reset().
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
	/* A field left 0 takes its default.  Over a cap: counted, see below. */
	size_t max_header;   /* bytes of one header block (default 16 KiB):
	                        http_header_overflow, the rest is plain text */
	size_t max_body_out; /* decompressed bytes per body and coding layer
	                        (default 16 MiB): decomp_bombs, rest dropped.
	                        Identity bodies are bounded by stream_depth. */
	unsigned max_ratio;  /* decompressed/compressed bytes, checked once a
	                        layer has produced 1 MiB (default 100) */
	unsigned max_layers; /* stacked codings (default 3, at most 8); more:
	                        decomp_errors, the body is skipped */
};

void dec_limits_default(struct dec_limits *l);

struct decoder;

/* stats may be NULL.  Returns NULL on allocation failure. */
struct decoder *dec_new(const struct dec_limits *lim, const struct dec_sink *sink,
                        struct tsf_stats *stats);
void dec_feed(struct decoder *d, const uint8_t *data, size_t len);
/* Bytes were lost: drop partial state, resynchronise on the next message
 * (lines until an HTTP start line are passed on as plain text). */
void dec_gap(struct decoder *d);
/* End of stream: flush what is decodable.  Then free. */
void dec_finish(struct decoder *d);
void dec_free(struct decoder *d);

/* Heap bytes held by d (for memcaps): exact for the decoder, header
 * buffer and zlib/brotli state (counted allocator); iconv state is an
 * estimate.  An idle decoder between messages holds only itself (~250 B)
 * and a header buffer of at most 2 KiB; a plain (non-HTTP) stream also
 * holds the mail reader (~0.6 KiB, plus up to 8 KiB for a line and 16 KiB
 * for held header lines while it reads them). */
size_t dec_memsize(const struct decoder *d);

#endif
