/* buf.h - a growable byte buffer and a collecting decoder sink for the
 * decoder tests (test_decode.c, test_mime.c): text as it comes, '|' where
 * reset() was called (a point no match may span). */
#ifndef TSF_TEST_BUF_H
#define TSF_TEST_BUF_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	uint8_t *p;
	size_t n, cap;
};

/* Always NUL-terminated past n, so p can be compared as a string. */
static inline void bput(struct buf *b, const void *d, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
	b->p[b->n] = 0;
}

static inline void bputs(struct buf *b, const char *s)
{
	bput(b, s, strlen(s));
}

static inline void bprintf(struct buf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	bput(b, tmp, (size_t)n);
}

static inline void c_text(void *ud, const uint8_t *p, size_t n)
{
	bput(ud, p, n);
}

static inline void c_reset(void *ud)
{
	bput(ud, "|", 1);
}

#endif
