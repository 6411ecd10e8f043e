/* urldec.h - escape decoders: percent / plus (URLs, forms) and backslash
 * escapes of JSON / JavaScript strings.  Streaming and split-safe.
 *
 * Percent decoding is used for application/x-www-form-urlencoded bodies and
 * request-target query strings.  Malformed escapes ("%4", "%zz") pass
 * through unchanged; the decoded bytes are not validated here (the charset
 * stage does that).
 *
 * JS decoding is used for JSON / JavaScript bodies and <script> text: many
 * serializers (PHP json_encode, Python json.dumps) write all non-ASCII text
 * as \uXXXX, so "\u514d\u8d39" must become "免费" to be matched.  Input and
 * output are UTF-8.  Handled: \uXXXX with surrogate pairs, \u{X..}, \xXX
 * (a code point, as in JS), \n \t \r, \b \f \v \0 (as a space), and
 * \<any> -> <any>.  Lone surrogates become U+FFFD; malformed escapes pass
 * through as written.
 */
#ifndef TSF_URLDEC_H
#define TSF_URLDEC_H

#include <stddef.h>
#include <stdint.h>

typedef void (*tsf_out_fn)(void *ud, const uint8_t *p, size_t n);

/* A hex digit's value, or -1 (shared by every escape decoder: percent,
 * JS, quoted-printable, chunk sizes). */
static inline int tsf_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct urldec {
	uint8_t plus;  /* '+' means space (form bodies, query strings) */
	uint8_t npend; /* bytes of an escape split across feeds: "%" [hex] */
	uint8_t pend[3];
};

void urldec_init(struct urldec *u, int plus);
void urldec_feed(struct urldec *u, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);
/* Emits a pending incomplete escape as the literal bytes it was. */
void urldec_finish(struct urldec *u, tsf_out_fn out, void *ud);

/* One-shot: decodes in[0..len) into out (which must hold len bytes).  The
 * part before the first '?' is decoded without plus, the query with it when
 * target != 0; when target == 0 plus decoding follows `plus`.  Returns the
 * output length. */
size_t urldec_buf(const uint8_t *in, size_t len, uint8_t *out, int target, int plus);

struct jsesc {
	uint8_t n;     /* bytes of an escape in pend, 0 if none */
	char pend[12]; /* "\\u{10FFFF}" at most */
	uint16_t hi;   /* high surrogate waiting for its low half, or 0 */
};

void jsesc_init(struct jsesc *j);
void jsesc_feed(struct jsesc *j, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);
void jsesc_finish(struct jsesc *j, tsf_out_fn out, void *ud);

#endif
