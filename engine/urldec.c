/* urldec.c - percent / plus decoding (see urldec.h). */
#include "urldec.h"

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void urldec_init(struct urldec *u, int plus)
{
	u->plus = plus ? 1 : 0;
	u->npend = 0;
}

/* Output is collected in a small stack buffer so that the callback sees runs,
 * not single bytes. */
void urldec_feed(struct urldec *u, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	uint8_t buf[1024];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (n + 3 > sizeof(buf)) {
			out(ud, buf, n);
			n = 0;
		}
		if (u->npend) {
			u->pend[u->npend++] = c;
			if (hexval(c) < 0) {
				/* Not an escape: the bytes stand for themselves, but the
				 * offending byte may itself start a new escape. */
				buf[n++] = '%';
				if (u->npend == 3)
					buf[n++] = u->pend[1];
				u->npend = 0;
				i--; /* reprocess c (unsigned wrap at 0 is defined) */
				continue;
			}
			if (u->npend == 3) {
				buf[n++] = (uint8_t)(hexval(u->pend[1]) << 4 | hexval(u->pend[2]));
				u->npend = 0;
			}
			continue;
		}
		if (c == '%') {
			u->pend[0] = c;
			u->npend = 1;
		} else if (c == '+' && u->plus) {
			buf[n++] = ' ';
		} else {
			buf[n++] = c;
		}
	}
	if (n)
		out(ud, buf, n);
}

void urldec_finish(struct urldec *u, tsf_out_fn out, void *ud)
{
	if (u->npend)
		out(ud, u->pend, u->npend);
	u->npend = 0;
}

size_t urldec_buf(const uint8_t *in, size_t len, uint8_t *out, int target, int plus)
{
	size_t n = 0;
	int inquery = !target;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (c == '?' && !inquery) {
			inquery = 1;
			plus = 1;
		}
		if (c == '%' && i + 2 < len && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
			out[n++] = (uint8_t)(hexval(in[i + 1]) << 4 | hexval(in[i + 2]));
			i += 2;
		} else if (c == '+' && inquery && plus) {
			out[n++] = ' ';
		} else {
			out[n++] = c;
		}
	}
	return n;
}
