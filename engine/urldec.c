/* urldec.c - percent / plus and JSON / JavaScript escapes (see urldec.h). */
#include "urldec.h"

#include "utf8.h"

#include <string.h>

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
			if (tsf_hexval(c) < 0) {
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
				buf[n++] =
				    (uint8_t)(tsf_hexval(u->pend[1]) << 4 | tsf_hexval(u->pend[2]));
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
		if (c == '%' && i + 2 < len && tsf_hexval(in[i + 1]) >= 0 &&
		    tsf_hexval(in[i + 2]) >= 0) {
			out[n++] = (uint8_t)(tsf_hexval(in[i + 1]) << 4 | tsf_hexval(in[i + 2]));
			i += 2;
		} else if (c == '+' && inquery && plus) {
			out[n++] = ' ';
		} else {
			out[n++] = c;
		}
	}
	return n;
}

/* ---- JSON / JavaScript backslash escapes ---- */

struct jout {
	uint8_t b[512];
	size_t n;
	tsf_out_fn out;
	void *ud;
};

static void jflush(struct jout *o)
{
	if (o->n)
		o->out(o->ud, o->b, o->n);
	o->n = 0;
}

static void jput(struct jout *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		jflush(o);
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void jcp(struct jout *o, uint32_t cp)
{
	uint8_t u[4];
	jput(o, u, utf8_encode(u, cp));
}

void jsesc_init(struct jsesc *j)
{
	memset(j, 0, sizeof(*j));
}

/* A code point from an escape: pairs surrogates. */
static void jvalue(struct jsesc *j, struct jout *o, uint32_t cp)
{
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (j->hi)
			jcp(o, 0xFFFD);
		j->hi = (uint16_t)cp;
		return;
	}
	if (cp >= 0xDC00 && cp <= 0xDFFF) {
		if (j->hi)
			jcp(o, 0x10000 + ((uint32_t)(j->hi - 0xD800) << 10) + (cp - 0xDC00));
		else
			jcp(o, 0xFFFD);
		j->hi = 0;
		return;
	}
	if (j->hi)
		jcp(o, 0xFFFD);
	j->hi = 0;
	jcp(o, cp > 0x10FFFF ? 0xFFFD : cp);
}

/* Anything that is not an escape ends a pending high surrogate. */
static void jlone(struct jsesc *j, struct jout *o)
{
	if (j->hi)
		jcp(o, 0xFFFD);
	j->hi = 0;
}

/* Returns 1 when pend holds a complete escape (consumed), 0 if more bytes
 * are needed, -1 if it is malformed (the last byte is not part of it). */
static int jstep(struct jsesc *j, struct jout *o)
{
	const char *p = j->pend;
	size_t n = j->n;
	uint8_t c = (uint8_t)p[n - 1];
	if (n == 2) {
		switch (c) {
		case 'u':
		case 'x':
			return 0;
		case 'n':
			jvalue(j, o, '\n');
			return 1;
		case 't':
			jvalue(j, o, '\t');
			return 1;
		case 'r':
			jvalue(j, o, '\r');
			return 1;
		case 'b':
		case 'f':
		case 'v':
		case '0':
			jvalue(j, o, ' ');
			return 1;
		default:
			if (c >= 0x80) {
				/* A non-ASCII character: it stands for itself;
				 * its bytes pass through in order. */
				jlone(j, o);
				jput(o, &c, 1);
				return 1;
			}
			jvalue(j, o, c);
			return 1;
		}
	}
	if (p[1] == 'x') {
		if (tsf_hexval(c) < 0)
			return -1;
		if (n < 4)
			return 0;
		jvalue(j, o,
		       (uint32_t)(tsf_hexval((uint8_t)p[2]) << 4 | tsf_hexval((uint8_t)p[3])));
		return 1;
	}
	/* \u */
	if (n == 3 && c == '{')
		return 0;
	if (p[2] == '{') {
		if (c == '}' && n > 4) {
			uint32_t v = 0;
			for (size_t i = 3; i < n - 1; i++)
				v = v * 16 + (uint32_t)tsf_hexval((uint8_t)p[i]);
			jvalue(j, o, v);
			return 1;
		}
		if (tsf_hexval(c) < 0 || n > 9)
			return -1;
		return 0;
	}
	if (tsf_hexval(c) < 0)
		return -1;
	if (n < 6)
		return 0;
	uint32_t v = 0;
	for (size_t i = 2; i < 6; i++)
		v = v * 16 + (uint32_t)tsf_hexval((uint8_t)p[i]);
	jvalue(j, o, v);
	return 1;
}

void jsesc_feed(struct jsesc *j, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	struct jout o;
	o.n = 0;
	o.out = out;
	o.ud = ud;
	size_t i = 0;
	while (i < len) {
		if (!j->n) {
			/* Runs without a backslash pass through uncopied. */
			const uint8_t *bs = memchr(in + i, '\\', len - i);
			size_t k = bs ? (size_t)(bs - in) - i : len - i;
			if (k) {
				jlone(j, &o);
				jflush(&o);
				out(ud, in + i, k);
				i += k;
			}
			if (!bs)
				break;
			j->pend[0] = '\\';
			j->n = 1;
			i++;
			continue;
		}
		j->pend[j->n++] = (char)in[i];
		int r = jstep(j, &o);
		if (r == 0) {
			i++;
			continue;
		}
		if (r < 0) {
			/* Malformed: what came before stands as written; the
			 * offending byte is looked at again. */
			jlone(j, &o);
			jput(&o, j->pend, j->n - 1);
			j->n = 0;
			continue;
		}
		j->n = 0;
		i++;
	}
	jflush(&o);
}

void jsesc_finish(struct jsesc *j, tsf_out_fn out, void *ud)
{
	struct jout o;
	o.n = 0;
	o.out = out;
	o.ud = ud;
	jlone(j, &o);
	if (j->n)
		jput(&o, j->pend, j->n);
	jflush(&o);
	j->n = 0;
}
