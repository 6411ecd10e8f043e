/* mime.h - mail (RFC 5322 / MIME) decoding inside a plain text stream.
 *
 * Used by the decoder on streams that are not HTTP (SMTP DATA, POP3 RETR,
 * IMAP FETCH, .eml files).  Input is read line by line.  Lines pass on
 * unchanged to plain() (the caller's plain-text pipeline) until a header
 * block turns out to be a MIME one: a run of "Name: value" lines (with
 * folded continuation lines) that holds Content-Type,
 * Content-Transfer-Encoding or MIME-Version (a block without one goes on
 * as it came, unless it holds encoded-words: then it goes to text() with
 * them decoded, between boundaries).  From there on:
 *
 *   - the header block goes to text() with RFC 2047 encoded-words
 *     (=?charset?B|Q?...?=) decoded in place, then boundary();
 *   - a body in base64 or quoted-printable is decoded, converted from the
 *     part's charset (charset.h) to UTF-8, HTML parts reduced to their text
 *     (html.h), and goes to text(); then boundary();
 *   - multipart bodies: "--boundary" starts a part with its own header
 *     block, "--boundary--" ends the multipart (nesting up to MIME_DEPTH;
 *     deeper multiparts are text as they are); message/rfc822 parts are
 *     decoded as a message of their own; image, audio, video, font and
 *     binary application parts give no text;
 *   - SMTP/POP3 dot-stuffing: ".." at the start of a line is "."; a lone
 *     "." ends the message (it is not text), back to plain lines.
 *
 * Holding: a line is held until its start shows it cannot be a header
 * line (a few bytes in practice); candidate header lines are held until
 * the block is decided (MIME_HOLD_MAX bytes; over it the held lines go
 * out as they are and are counted in mime_line_overflow).  Lines are read
 * up to MIME_LINE_MAX bytes; a longer line is counted, and goes on as plain
 * text (outside mail) or streams into the body decoder (inside a body).
 * The bytes given to plain(), the text, and the boundary() positions do
 * not depend on how the input was cut into mime_feed() calls.
 *
 * A stream that starts with a TLS record is passed through untouched.
 */
#ifndef TSF_MIME_H
#define TSF_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "urldec.h" /* tsf_out_fn */

#define MIME_LINE_MAX 8192
#define MIME_HOLD_MAX 16384
#define MIME_DEPTH 4
#define MIME_BOUNDARY_MAX 70 /* RFC 2046 */

struct mime_sink {
	tsf_out_fn plain;           /* bytes as they came (not mail) */
	tsf_out_fn text;            /* decoded mail text, valid UTF-8 */
	void (*boundary)(void *ud); /* a point no match may span */
	void *ud;
};

struct mime;

/* stats may be NULL.  Returns NULL on allocation failure. */
struct mime *mime_new(const struct mime_sink *sink, struct tsf_stats *stats);
void mime_feed(struct mime *m, const uint8_t *p, size_t n);
/* Bytes were lost: held plain bytes go out, a mail part in progress is
 * dropped (then boundary()), and reading starts again outside mail. */
void mime_gap(struct mime *m);
/* End of stream: the last line is read, the part in progress flushed. */
void mime_finish(struct mime *m);
void mime_free(struct mime *m);
size_t mime_memsize(const struct mime *m);

#endif
