/* http.c - start lines and header fields (see http.h). */
#include "http.h"

#include <string.h>
#include <strings.h>

enum {
	SL_START,
	SL_METHOD,  /* [A-Z] token, also "HTTP" of a status line */
	SL_TARGET0, /* first byte of the request target */
	SL_TARGET,
	SL_VER,  /* "HTTP/1.d" after the target */
	SL_RVER, /* "1.d" of a status line after "HTTP/" */
	SL_RSP,  /* space after the version */
	SL_CODE, /* three digits */
	SL_REASON,
	SL_CR, /* CR seen, LF must follow */
};

#define MAX_METHOD 20

void http_sl_init(struct http_sl *s)
{
	memset(s, 0, sizeof(*s));
}

int http_sl_step(struct http_sl *s, uint8_t c)
{
	static const char http[] = "HTTP/1.";
	switch (s->st) {
	case SL_START:
		if (c < 'A' || c > 'Z')
			return SL_BAD;
		s->st = SL_METHOD;
		s->n = 1;
		s->resp = c == 'H';
		return SL_MORE;
	case SL_METHOD:
		if (c == '/' && s->resp && s->n == 4) {
			s->st = SL_RVER;
			s->n = 0;
			return SL_MORE;
		}
		if (c == ' ') {
			s->resp = 0;
			s->st = SL_TARGET0;
			return SL_MORE;
		}
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_') || ++s->n > MAX_METHOD)
			return SL_BAD;
		if (s->resp && (s->n > 4 || c != (uint8_t)http[s->n - 1]))
			s->resp = 0;
		return SL_MORE;
	case SL_TARGET0:
	case SL_TARGET:
		if (c == ' ' && s->st == SL_TARGET) {
			s->st = SL_VER;
			s->n = 0;
			return SL_MORE;
		}
		if (c <= ' ' || c == 0x7f)
			return SL_BAD;
		s->st = SL_TARGET;
		return SL_MORE;
	case SL_VER:
		if (s->n < 7) {
			if (c != (uint8_t)http[s->n])
				return SL_BAD;
			s->n++;
			return SL_MORE;
		}
		if (s->n == 7) {
			if (c < '0' || c > '9')
				return SL_BAD;
			s->n++;
			return SL_MORE;
		}
		if (c == '\r') {
			s->st = SL_CR;
			return SL_MORE;
		}
		return c == '\n' ? SL_OK : SL_BAD;
	case SL_RVER:
		/* after "HTTP/": "1." digit */
		if (s->n < 2) {
			if (c != (uint8_t)http[5 + s->n])
				return SL_BAD;
			s->n++;
			return SL_MORE;
		}
		if (c < '0' || c > '9')
			return SL_BAD;
		s->st = SL_RSP;
		return SL_MORE;
	case SL_RSP:
		if (c != ' ')
			return SL_BAD;
		s->st = SL_CODE;
		s->n = 0;
		return SL_MORE;
	case SL_CODE:
		if (s->n < 3) {
			if (c < '0' || c > '9')
				return SL_BAD;
			s->n++;
			return SL_MORE;
		}
		if (c != ' ' && c != '\r' && c != '\n')
			return SL_BAD;
		s->st = SL_REASON;
		/* fall through */
	case SL_REASON:
		if (c == '\r') {
			s->st = SL_CR;
			return SL_MORE;
		}
		if (c == '\n')
			return SL_OK;
		if (c < ' ' && c != '\t')
			return SL_BAD;
		return SL_MORE;
	case SL_CR:
		return c == '\n' ? SL_OK : SL_BAD;
	}
	return SL_BAD;
}

static int is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int http_header_line_ok(const uint8_t *line, size_t len)
{
	if (len == 0)
		return 0;
	if (line[0] == ' ' || line[0] == '\t')
		return 1; /* obs-fold continuation */
	size_t i = 0;
	while (i < len && is_tchar(line[i]))
		i++;
	return i > 0 && i < len && line[i] == ':';
}

static void trim(const char **v, size_t *len)
{
	while (*len && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t' || (*v)[*len - 1] == '\r'))
		(*len)--;
}

static int prefix_ci(const char *v, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && !strncasecmp(v, p, n);
}

int http_ctype(const char *v, size_t len, const char **charset, size_t *cslen)
{
	*charset = NULL;
	*cslen = 0;
	trim(&v, &len);
	size_t mlen = 0;
	while (mlen < len && v[mlen] != ';')
		mlen++;
	const char *m = v;
	size_t ml = mlen;
	trim(&m, &ml);
	/* Parameters: only charset matters. */
	for (size_t i = mlen; i < len;) {
		i++; /* ';' */
		size_t s = i;
		while (i < len && v[i] != ';')
			i++;
		const char *p = v + s;
		size_t pl = i - s;
		trim(&p, &pl);
		if (prefix_ci(p, pl, "charset=")) {
			*charset = p + 8;
			*cslen = pl - 8;
		}
	}
	if (ml == 0)
		return CT_NONE;
	if ((ml == 9 && !strncasecmp(m, "text/html", 9)) || prefix_ci(m, ml, "application/xhtml") ||
	    prefix_ci(m, ml, "image/svg"))
		return CT_HTML;
	if (ml == 33 && !strncasecmp(m, "application/x-www-form-urlencoded", 33))
		return CT_FORM;
	if (prefix_ci(m, ml, "application/json") || prefix_ci(m, ml, "text/json") ||
	    prefix_ci(m, ml, "application/javascript") || prefix_ci(m, ml, "text/javascript") ||
	    prefix_ci(m, ml, "application/x-javascript") ||
	    prefix_ci(m, ml, "application/ecmascript") ||
	    (ml > 5 && !strncasecmp(m + ml - 5, "+json", 5)))
		return CT_JS;
	if (prefix_ci(m, ml, "image/") || prefix_ci(m, ml, "audio/") ||
	    prefix_ci(m, ml, "video/") || prefix_ci(m, ml, "font/"))
		return CT_BINARY;
	return CT_TEXT;
}

/* Content-Length: digits only; a list of identical values is tolerated. */
static int64_t parse_clen(const char *v, size_t len)
{
	int64_t val = -1;
	size_t i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		int64_t x = 0;
		size_t s = i;
		while (i < len && v[i] >= '0' && v[i] <= '9') {
			if (x > (INT64_MAX - 9) / 10)
				return -2;
			x = x * 10 + (v[i] - '0');
			i++;
		}
		if (i == s)
			return -2;
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < len && v[i] != ',')
			return -2;
		if (val >= 0 && x != val)
			return -2;
		val = x;
	}
	return val < 0 ? -2 : val;
}

#define MAX_HDR_REPEAT 8

void http_parse_head(const uint8_t *buf, size_t len, unsigned max_layers, struct http_head *h)
{
	memset(h, 0, sizeof(*h));
	h->clen = -1;
	const uint8_t *lf = memchr(buf, '\n', len);
	size_t l1 = lf ? (size_t)(lf - buf) : len;
	h->line_end = lf ? l1 + 1 : len;
	h->resp = len >= 5 && !memcmp(buf, "HTTP/", 5);
	if (h->resp) {
		/* "HTTP/1.x NNN" (checked by http_sl_step) */
		h->status =
		    l1 >= 12 ? (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0') : 0;
	} else {
		const uint8_t *sp1 = memchr(buf, ' ', l1);
		size_t a = sp1 ? (size_t)(sp1 - buf) + 1 : 0;
		size_t b = a;
		while (b < l1 && buf[b] != ' ')
			b++;
		h->target_off = a;
		h->target_len = b - a;
	}

	const char *ce[MAX_HDR_REPEAT], *te[MAX_HDR_REPEAT];
	size_t cel[MAX_HDR_REPEAT], tel[MAX_HDR_REPEAT];
	int nce = 0, nte = 0;
	for (size_t i = h->line_end; i < len;) {
		const uint8_t *e = memchr(buf + i, '\n', len - i);
		size_t le = e ? (size_t)(e - buf) : len;
		const char *line = (const char *)buf + i;
		size_t ll = le - i;
		i = le + 1;
		const char *colon = memchr(line, ':', ll);
		if (!colon || line[0] == ' ' || line[0] == '\t')
			continue;
		size_t nl = (size_t)(colon - line);
		const char *v = colon + 1;
		size_t vl = ll - nl - 1;
		trim(&v, &vl);
		if (nl == 14 && !strncasecmp(line, "content-length", 14)) {
			int64_t x = parse_clen(v, vl);
			if (x < 0 || (h->clen >= 0 && x != h->clen))
				h->bad_clen = 1;
			else
				h->clen = x;
		} else if (nl == 17 && !strncasecmp(line, "transfer-encoding", 17)) {
			h->te = 1;
			if (nte < MAX_HDR_REPEAT) {
				te[nte] = v;
				tel[nte++] = vl;
			}
		} else if (nl == 16 && !strncasecmp(line, "content-encoding", 16)) {
			if (nce < MAX_HDR_REPEAT) {
				ce[nce] = v;
				cel[nce++] = vl;
			}
		} else if (nl == 12 && !strncasecmp(line, "content-type", 12)) {
			h->ctype = (uint8_t)http_ctype(v, vl, &h->charset, &h->charset_len);
		}
	}
	/* chunked is the framing when it is the last transfer coding. */
	if (nte) {
		const char *v = te[nte - 1];
		size_t vl = tel[nte - 1];
		size_t s = vl;
		while (s > 0 && v[s - 1] != ',')
			s--;
		const char *last = v + s;
		size_t ll = vl - s;
		trim(&last, &ll);
		h->chunked = ll == 7 && !strncasecmp(last, "chunked", 7);
	}
	if (max_layers > DC_MAX_LAYERS)
		max_layers = DC_MAX_LAYERS;
	/* Decode order: transfer codings first (last header first), then
	 * content codings. */
	for (int k = nte - 1; k >= 0 && !h->coding_err; k--)
		h->coding_err =
		    dc_parse(te[k], tel[k], h->codings, &h->ncodings, (int)max_layers, 1);
	for (int k = nce - 1; k >= 0 && !h->coding_err; k--)
		h->coding_err =
		    dc_parse(ce[k], cel[k], h->codings, &h->ncodings, (int)max_layers, 0);
}
