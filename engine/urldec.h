/* urldec.h - percent / plus decoding, streaming and one-shot.
 *
 * Used for application/x-www-form-urlencoded bodies and request-target query
 * strings.  Malformed escapes ("%4", "%zz") pass through unchanged; the
 * decoded bytes are not validated here (the charset stage does that).
 */
#ifndef TSF_URLDEC_H
#define TSF_URLDEC_H

#include <stddef.h>
#include <stdint.h>

typedef void (*tsf_out_fn)(void *ud, const uint8_t *p, size_t n);

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

#endif
