/* mime.c - mail decoding in plain text streams (see mime.h).
 *
 * Modes (what a complete line means):
 *   M_TEXT  outside mail: a line that starts like "Name:" begins a
 *           candidate header block (M_HOLD), anything else is plain.
 *   M_HOLD  candidate header block, held in hb: a continuation line is
 *           added, each completed field is parsed; once a field makes the
 *           block MIME (Content-Type, Content-Transfer-Encoding,
 *           MIME-Version) the held lines become header text (M_HEAD); a
 *           line that is no header line (the blank line included) sends
 *           the held lines and itself on as plain text.
 *   M_HEAD  header block of a message or part: hb holds the field being
 *           read; the blank line ends it and the body begins (M_BODY).
 *   M_BODY  a part's body: boundary lines, then the part's transfer
 *           decoding (base64 / quoted-printable / as is) -> charset ->
 *           HTML or text.
 *   M_OFF   not mail at all (a TLS stream): everything is plain.
 * In a message (inmsg), dot-stuffing is undone first and a lone "." ends
 * the message.
 *
 * Every decision is taken on complete lines, or on a line's first
 * MIME_LINE_MAX bytes, or (M_TEXT) on a prefix that already shows the line
 * cannot be a header line; so the result does not depend on input cuts.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "html.h"

#define NAME_MAX_LEN 76 /* longest header field name recognised */
#define BUF_KEEP 2048   /* buffers larger than this are freed when empty */
#define EW_CHARSET_MAX 40

#define CNT(m, f)                                                                                  \
	do {                                                                                       \
		if ((m)->stats)                                                                    \
			(m)->stats->f++;                                                           \
	} while (0)

enum { M_TEXT, M_HOLD, M_HEAD, M_BODY, M_OFF };
enum { PT_TEXT, PT_HTML, PT_SKIP, PT_MULTI, PT_MSG };
enum { CTE_ID, CTE_B64, CTE_QP };

/* What a header block said. */
struct hinfo {
	uint8_t mime; /* a MIME field was seen (or the block is a part's) */
	uint8_t ptype;
	uint8_t cte;
	uint8_t blen;
	int8_t cs; /* charset id, -1 none */
	char bnd[MIME_BOUNDARY_MAX];
};

/* The part whose body is being decoded. */
struct part {
	uint8_t active;
	uint8_t kind; /* PT_TEXT, PT_HTML, PT_SKIP */
	uint8_t cte;
	uint8_t nq;      /* base64: sextets in acc */
	uint8_t padded;  /* base64: '=' ended the last quantum */
	uint8_t qst;     /* quoted-printable: 0, 1 after '=', 2 after "=H", 3 after "=\r",
	                    4 after '=' and blanks */
	uint8_t qh;      /* quoted-printable: the first hex digit */
	uint8_t qws;     /* quoted-printable: blanks after '=' (state 4) */
	uint8_t b64seen; /* base64: a line of base64 data came already */
	uint32_t acc;
	struct charset cs;
	struct html html;
};

struct mime {
	struct mime_sink sink;
	struct tsf_stats *stats;
	uint8_t mode;
	uint8_t started;    /* the TLS check at the start is done */
	uint8_t pass;       /* the rest of the current line goes to plain() */
	uint8_t cont;       /* the rest of the current (overlong) line streams to the body */
	uint8_t inmsg;      /* in a mail message: dot-stuffing, "." ends it */
	uint8_t plain_open; /* plain() had bytes since the last boundary */
	uint8_t depth;      /* open multiparts */
	uint8_t *lb;        /* current line */
	size_t ln, lcap;
	uint8_t *hb; /* held header lines */
	size_t hn, hcap, fstart;
	struct hinfo hi;
	struct part pt;
	uint8_t blen[MIME_DEPTH];
	char bnd[MIME_DEPTH][MIME_BOUNDARY_MAX];
};

/* ---- output ---- */

static void bnd_out(struct mime *m)
{
	m->plain_open = 0;
	m->sink.boundary(m->sink.ud);
}

static void to_plain(struct mime *m, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	m->plain_open = 1;
	m->sink.plain(m->sink.ud, p, n);
}

/* Mail text never continues plain text without a boundary in between. */
static void o_text(void *ud, const uint8_t *p, size_t n)
{
	struct mime *m = ud;
	if (!n)
		return;
	if (m->plain_open)
		bnd_out(m);
	m->sink.text(m->sink.ud, p, n);
}

static void o_html(void *ud, const uint8_t *p, size_t n)
{
	struct mime *m = ud;
	html_feed(&m->pt.html, p, n, o_text, m);
}

/* ---- buffers ---- */

static int reserve(uint8_t **b, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 128;
	while (c < need)
		c *= 2;
	uint8_t *nb = realloc(*b, c);
	if (!nb)
		return -1;
	*b = nb;
	*cap = c;
	return 0;
}

static void shrink(uint8_t **b, size_t *cap)
{
	if (*cap > BUF_KEEP) {
		free(*b);
		*b = NULL;
		*cap = 0;
	}
}

static void hb_clear(struct mime *m)
{
	m->hn = m->fstart = 0;
	shrink(&m->hb, &m->hcap);
}

static int hb_add(struct mime *m, const uint8_t *p, size_t n)
{
	if (m->hn + n > MIME_HOLD_MAX || reserve(&m->hb, &m->hcap, m->hn + n) < 0)
		return -1;
	memcpy(m->hb + m->hn, p, n);
	m->hn += n;
	return 0;
}

/* ---- small parsers ---- */

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Base64 value of a byte: 0..63, -1 '=', -2 whitespace, -3 anything else. */
static const int8_t b64tab[256] = {
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -2, -2, -3, -3, -2, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -2, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, 62, -3, -3, -3, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -3, -3, -3, -1, -3, -3, -3, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -3, -3, -3, -3, -3,
    -3, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
    -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3, -3,
};

static inline int b64v(uint8_t c)
{
	return b64tab[c];
}

/* Length without the line end (LF, CRLF) and trailing blanks. */
static size_t trimmed(const uint8_t *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || wsp(s[n - 1])))
		n--;
	return n;
}

static int blank_line(const uint8_t *s, size_t n)
{
	size_t k = n;
	if (k && s[k - 1] == '\n')
		k--;
	if (k && s[k - 1] == '\r')
		k--;
	return k == 0;
}

/* 1: "Name:" (field name of printable ASCII), 0: not a header line,
 * -1: cannot tell yet (s is a prefix). */
static int hdr_shape(const uint8_t *s, size_t n)
{
	size_t blanks = 0; /* "Name :" (obsolete syntax, RFC 5322 4.5) */
	for (size_t i = 0; i < n && i <= NAME_MAX_LEN; i++) {
		uint8_t c = s[i];
		if (c == ':')
			return i > blanks;
		if (c == ' ' || c == '\t') {
			if (i == 0)
				return 0;
			blanks++;
			continue;
		}
		if (c < 33 || c > 126 || blanks)
			return 0;
	}
	return n > NAME_MAX_LEN ? 0 : -1;
}

static int tls_start(const uint8_t *s)
{
	return s[0] >= 0x14 && s[0] <= 0x17 && s[1] == 3 && s[2] <= 4;
}

/* ---- header fields ---- */

static int name_is(const uint8_t *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n != k)
		return 0;
	for (size_t i = 0; i < k; i++)
		if (lc(s[i]) != name[i])
			return 0;
	return 1;
}

static int tspecial_end(uint8_t c)
{
	return c == ';' || c == ' ' || c == '\t' || c == '(' || c == '"';
}

/* Content-Type value (unfolded): type/subtype and the charset and
 * boundary parameters. */
static void parse_ctype(struct mime *m, const uint8_t *v, size_t n)
{
	struct hinfo *h = &m->hi;
	size_t i = 0, t0, t1, s0, s1;
	while (i < n && wsp(v[i]))
		i++;
	t0 = i;
	while (i < n && v[i] != '/' && !tspecial_end(v[i]))
		i++;
	t1 = i;
	if (i < n && v[i] == '/')
		i++;
	s0 = i;
	while (i < n && !tspecial_end(v[i]))
		i++;
	s1 = i;
	const uint8_t *t = v + t0, *s = v + s0;
	size_t tl = t1 - t0, sl = s1 - s0;
	if (name_is(t, tl, "multipart"))
		h->ptype = PT_MULTI;
	else if (name_is(t, tl, "text"))
		h->ptype = name_is(s, sl, "html") ? PT_HTML : PT_TEXT;
	else if (name_is(t, tl, "message"))
		h->ptype = name_is(s, sl, "rfc822") || name_is(s, sl, "global") ? PT_MSG : PT_TEXT;
	else if (name_is(t, tl, "application"))
		h->ptype = name_is(s, sl, "xhtml+xml") ? PT_HTML
		           : name_is(s, sl, "json") || name_is(s, sl, "xml") ||
		                   name_is(s, sl, "javascript") || name_is(s, sl, "x-javascript")
		               ? PT_TEXT
		               : PT_SKIP;
	else if (name_is(t, tl, "image") || name_is(t, tl, "audio") || name_is(t, tl, "video") ||
	         name_is(t, tl, "font") || name_is(t, tl, "model"))
		h->ptype = PT_SKIP;
	else
		h->ptype = PT_TEXT;
	/* parameters: ; attr = value | "quoted value" */
	while (i < n) {
		while (i < n && v[i] != ';')
			i++;
		if (i >= n)
			break;
		i++;
		while (i < n && wsp(v[i]))
			i++;
		size_t a0 = i;
		while (i < n && v[i] != '=' && v[i] != ';' && !wsp(v[i]))
			i++;
		size_t al = i - a0;
		while (i < n && wsp(v[i]))
			i++;
		if (i >= n || v[i] != '=')
			continue;
		i++;
		while (i < n && wsp(v[i]))
			i++;
		char val[MIME_BOUNDARY_MAX + 1];
		size_t vl = 0;
		int over = 0;
		if (i < n && v[i] == '"') {
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					i++;
				if (vl < sizeof(val))
					val[vl++] = (char)v[i];
				else
					over = 1;
			}
			if (i < n)
				i++;
		} else {
			for (; i < n && v[i] != ';' && !wsp(v[i]); i++) {
				if (vl < sizeof(val))
					val[vl++] = (char)v[i];
				else
					over = 1;
			}
		}
		if (name_is(v + a0, al, "charset")) {
			int id = over ? -1 : cs_lookup(val, vl);
			if (id < 0) {
				CNT(m, charset_unknown);
				id = CS_UTF8;
			}
			h->cs = (int8_t)id;
		} else if (name_is(v + a0, al, "boundary")) {
			/* Over 70 characters is no valid boundary: the multipart
			 * is then read as text. */
			h->blen = 0;
			if (!over && vl && vl <= MIME_BOUNDARY_MAX) {
				memcpy(h->bnd, val, vl);
				h->blen = (uint8_t)vl;
			}
		}
	}
}

/* The field hb[fstart..hn) is complete: take what it says. */
static void field_done(struct mime *m)
{
	const uint8_t *f = m->hb + m->fstart;
	size_t n = m->hn - m->fstart;
	m->fstart = m->hn;
	const uint8_t *colon = n ? memchr(f, ':', n) : NULL;
	if (!colon)
		return;
	size_t nl = (size_t)(colon - f);
	while (nl && wsp(f[nl - 1])) /* "Name :" */
		nl--;
	int ct = name_is(f, nl, "content-type");
	int te = !ct && name_is(f, nl, "content-transfer-encoding");
	if (!ct && !te) {
		if (name_is(f, nl, "mime-version"))
			m->hi.mime = 1;
		return;
	}
	m->hi.mime = 1;
	/* unfold: CR and LF dropped (the blanks after them stay) */
	/* as long as a held block can be: a boundary= or charset= after KiBs
	 * of other parameters must not fall off the end */
	uint8_t tmp[MIME_HOLD_MAX];
	size_t k = 0;
	for (const uint8_t *q = colon + 1; q < f + n && k < sizeof(tmp); q++)
		if (*q != '\r' && *q != '\n')
			tmp[k++] = *q;
	if (ct) {
		parse_ctype(m, tmp, k);
		return;
	}
	size_t i = 0;
	while (i < k && wsp(tmp[i]))
		i++;
	size_t j = i;
	while (j < k && !tspecial_end(tmp[j]))
		j++;
	if (name_is(tmp + i, j - i, "base64"))
		m->hi.cte = CTE_B64;
	else if (name_is(tmp + i, j - i, "quoted-printable"))
		m->hi.cte = CTE_QP;
	else
		m->hi.cte = CTE_ID;
}

static void hinfo_reset(struct mime *m, int mime)
{
	memset(&m->hi, 0, sizeof(m->hi));
	m->hi.cs = -1;
	m->hi.mime = (uint8_t)mime;
}

/* ---- RFC 2047 encoded-words in header text ---- */

/* =?charset?B|Q?text?= at s: its length, charset id and payload, or 0. */
static size_t parse_ew(const uint8_t *s, size_t n, int *id, int *b64, const uint8_t **t, size_t *tl)
{
	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	size_t i = 2;
	while (i < n && s[i] != '?' && s[i] > 32 && s[i] < 127 && i - 2 <= EW_CHARSET_MAX)
		i++;
	if (i >= n || s[i] != '?' || i == 2)
		return 0;
	size_t cl = i - 2;
	const uint8_t *star = memchr(s + 2, '*', cl); /* RFC 2231 language */
	if (star)
		cl = (size_t)(star - (s + 2));
	if (i + 3 >= n || s[i + 2] != '?')
		return 0;
	int e = lc(s[i + 1]);
	if (e != 'b' && e != 'q')
		return 0;
	size_t t0 = i + 3, j = t0;
	while (j < n && s[j] != '?' && s[j] > 32 && s[j] < 127)
		j++;
	if (j + 1 >= n || s[j] != '?' || s[j + 1] != '=')
		return 0;
	int cs = cs_lookup((const char *)s + 2, cl);
	if (cs < 0)
		return 0;
	*id = cs;
	*b64 = e == 'b';
	*t = s + t0;
	*tl = j - t0;
	return j + 2;
}

static size_t ew_decode(const uint8_t *t, size_t n, int b64, uint8_t *o)
{
	size_t k = 0;
	if (!b64) {
		for (size_t i = 0; i < n; i++) {
			int h, l;
			if (t[i] == '_') {
				o[k++] = ' ';
			} else if (t[i] == '=' && i + 2 < n && (h = tsf_hexval(t[i + 1])) >= 0 &&
			           (l = tsf_hexval(t[i + 2])) >= 0) {
				o[k++] = (uint8_t)(h << 4 | l);
				i += 2;
			} else {
				o[k++] = t[i];
			}
		}
		return k;
	}
	uint32_t acc = 0;
	int nq = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64v(t[i]);
		if (v < 0)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++nq == 4) {
			o[k++] = (uint8_t)(acc >> 16);
			o[k++] = (uint8_t)(acc >> 8);
			o[k++] = (uint8_t)acc;
			nq = 0;
			acc = 0;
		}
	}
	if (nq >= 2)
		o[k++] = (uint8_t)(acc >> (nq == 2 ? 4 : 10));
	if (nq == 3)
		o[k++] = (uint8_t)(acc >> 2);
	return k;
}

static int all_wsp(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!wsp(s[i]) && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Header text out, encoded-words decoded; the blanks (and folding)
 * between two adjacent encoded-words are dropped, and adjacent words in
 * one charset are converted as one run (a character may be split between
 * them). */
static void emit_hdr(struct mime *m, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	struct charset ec;
	int ecs = -1;
	size_t seg = 0, last = (size_t)-1;
	uint8_t tmp[MIME_LINE_MAX];
	for (size_t i = 0; i + 1 < n;) {
		int id, b64;
		const uint8_t *t;
		size_t tl, len;
		if (p[i] != '=' || p[i + 1] != '?' ||
		    !(len = parse_ew(p + i, n - i, &id, &b64, &t, &tl))) {
			i++;
			continue;
		}
		if (!(last == seg && all_wsp(p + seg, i - seg))) {
			if (ecs >= 0) {
				cs_end(&ec, o_text, m);
				ecs = -1;
			}
			cs_utf8_once(p + seg, i - seg, o_text, m, m->stats);
		}
		if (ecs != id) {
			if (ecs >= 0)
				cs_end(&ec, o_text, m);
			if (cs_begin(&ec, id, 0, m->stats) < 0)
				CNT(m, charset_unknown);
			ecs = id;
		}
		size_t k = ew_decode(t, tl < sizeof(tmp) ? tl : sizeof(tmp), b64, tmp);
		cs_feed(&ec, tmp, k, o_text, m);
		CNT(m, mime_encoded_words);
		i += len;
		seg = last = i;
	}
	if (ecs >= 0)
		cs_end(&ec, o_text, m);
	cs_utf8_once(p + seg, n - seg, o_text, m, m->stats);
}

/* ---- part bodies ---- */

static void part_begin(struct mime *m, int kind, int cte, int cs)
{
	struct part *pt = &m->pt;
	memset(pt, 0, sizeof(*pt));
	pt->active = 1;
	pt->kind = (uint8_t)kind;
	pt->cte = (uint8_t)cte;
	if (kind == PT_SKIP)
		return;
	/* unlabelled: UTF-8 vs GB18030 guessed, as for any other text */
	if (cs_begin(&pt->cs, cs < 0 ? CS_GUESS : cs, 1, m->stats) < 0)
		CNT(m, charset_unknown);
	html_init(&pt->html);
}

/* Transfer-decoded bytes of the part. */
static void part_data(struct mime *m, const uint8_t *p, size_t n)
{
	struct part *pt = &m->pt;
	if (!n || pt->kind == PT_SKIP)
		return;
	if (pt->kind == PT_HTML)
		cs_feed(&pt->cs, p, n, o_html, m);
	else
		cs_feed(&pt->cs, p, n, o_text, m);
}

static void b64_feed(struct mime *m, const uint8_t *p, size_t n)
{
	struct part *pt = &m->pt;
	uint8_t o[3 * 1024 + 3];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		/* room for the 3 bytes one step may write ('=' writes up to 2
		 * without completing a quantum, so check every step) */
		if (k > sizeof(o) - 3) {
			part_data(m, o, k);
			k = 0;
		}
		int v = b64v(p[i]);
		if (v == -2)
			continue;
		if (v == -3) {
			CNT(m, mime_b64_errors);
			continue;
		}
		if (v == -1) {
			if (pt->nq >= 2) {
				o[k++] = (uint8_t)(pt->acc >> (pt->nq == 2 ? 4 : 10));
				if (pt->nq == 3)
					o[k++] = (uint8_t)(pt->acc >> 2);
				pt->padded = 1;
			} else if (pt->nq == 1 || !pt->padded) {
				CNT(m, mime_b64_errors); /* once for a run of '=' */
			}
			pt->padded = 1;
			pt->nq = 0;
			pt->acc = 0;
			continue;
		}
		pt->padded = 0;
		pt->acc = pt->acc << 6 | (uint32_t)v;
		if (++pt->nq == 4) {
			o[k++] = (uint8_t)(pt->acc >> 16);
			o[k++] = (uint8_t)(pt->acc >> 8);
			o[k++] = (uint8_t)pt->acc;
			pt->nq = 0;
			pt->acc = 0;
		}
	}
	part_data(m, o, k);
}

/* End of base64 data: an incomplete quantum is decoded as far as it goes
 * and counted. */
static void b64_end(struct mime *m)
{
	struct part *pt = &m->pt;
	if (pt->nq) {
		uint8_t o[2];
		size_t k = 0;
		CNT(m, mime_b64_errors);
		if (pt->nq >= 2)
			o[k++] = (uint8_t)(pt->acc >> (pt->nq == 2 ? 4 : 10));
		if (pt->nq == 3)
			o[k++] = (uint8_t)(pt->acc >> 2);
		part_data(m, o, k);
	}
	pt->nq = 0;
	pt->acc = 0;
}

static void qp_feed(struct mime *m, const uint8_t *p, size_t n)
{
	struct part *pt = &m->pt;
	uint8_t o[4096 + 4];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (k >= sizeof(o) - 4) {
			part_data(m, o, k);
			k = 0;
		}
		switch (pt->qst) {
		case 0:
			if (c == '=')
				pt->qst = 1;
			else
				o[k++] = c;
			continue;
		case 1:
			if (tsf_hexval(c) >= 0) {
				pt->qh = c;
				pt->qst = 2;
				continue;
			}
			if (c == '\n' || c == '\r') { /* soft line break */
				pt->qst = c == '\r' ? 3 : 0;
				continue;
			}
			if (c == ' ' || c == '\t') {
				/* blanks a transport added before the line
				 * break are not part of it (RFC 2045 6.7) */
				pt->qst = 4;
				pt->qws = 1;
				continue;
			}
			o[k++] = '=';
			break;
		case 4:
			if ((c == ' ' || c == '\t') && pt->qws < 64) {
				pt->qws++;
				continue;
			}
			if (c == '\n' || c == '\r') { /* soft line break after all */
				pt->qst = c == '\r' ? 3 : 0;
				continue;
			}
			/* '=' and blanks inside a line: kept (blanks as spaces) */
			if (k + 1 + pt->qws > sizeof(o)) {
				part_data(m, o, k);
				k = 0;
			}
			o[k++] = '=';
			memset(o + k, ' ', pt->qws);
			k += pt->qws;
			break;
		case 2:
			if (tsf_hexval(c) >= 0) {
				o[k++] = (uint8_t)(tsf_hexval(pt->qh) << 4 | tsf_hexval(c));
				pt->qst = 0;
				continue;
			}
			o[k++] = '=';
			o[k++] = pt->qh;
			break;
		case 3:
			/* "=\r" and something else than LF: a soft break all the
			 * same, c is read again */
			pt->qst = 0;
			if (c != '\n')
				i--;
			continue;
		}
		/* a broken escape: kept as it was, c is read again */
		CNT(m, mime_qp_errors);
		pt->qst = 0;
		i--;
	}
	part_data(m, o, k);
}

static void qp_end(struct mime *m)
{
	struct part *pt = &m->pt;
	uint8_t o[2];
	size_t k = 0;
	/* state 4 at the end: '=' and padding blanks, a soft break */
	if (pt->qst == 1 || pt->qst == 2) {
		CNT(m, mime_qp_errors);
		o[k++] = '=';
		if (pt->qst == 2)
			o[k++] = pt->qh;
	}
	pt->qst = 0;
	part_data(m, o, k);
}

/* Transfer-encoded bytes of the part body. */
static void body_bytes(struct mime *m, const uint8_t *p, size_t n)
{
	if (m->pt.cte == CTE_B64)
		b64_feed(m, p, n);
	else if (m->pt.cte == CTE_QP)
		qp_feed(m, p, n);
	else
		part_data(m, p, n);
}

/* graceful: flush what is carried; otherwise (a gap) drop it. */
static void part_end(struct mime *m, int graceful)
{
	struct part *pt = &m->pt;
	if (!pt->active)
		return;
	pt->active = 0;
	if (pt->kind != PT_SKIP) {
		if (!graceful) {
			cs_abort(&pt->cs);
		} else {
			if (pt->cte == CTE_B64)
				b64_end(m);
			else if (pt->cte == CTE_QP)
				qp_end(m);
			if (pt->kind == PT_HTML) {
				cs_end(&pt->cs, o_html, m);
				html_end(&pt->html, o_text, m);
			} else {
				cs_end(&pt->cs, o_text, m);
			}
		}
	}
	bnd_out(m);
}

/* ---- structure ---- */

static void text_line(struct mime *m, const uint8_t *s, size_t n);

static void hold_flush(struct mime *m)
{
	to_plain(m, m->hb, m->hn);
	hb_clear(m);
}

static int has_ew(const uint8_t *p, size_t n)
{
	int id, b64;
	const uint8_t *t;
	size_t tl;
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '=' && p[i + 1] == '?' && parse_ew(p + i, n - i, &id, &b64, &t, &tl))
			return 1;
	return 0;
}

/* A header block without a MIME field ended.  Encoded-words are decoded
 * all the same when it has any (mail clients show "Subject: =?..?=" of a
 * mail without MIME-Version decoded, and so does a phishing subject); a
 * block without one goes on as it came. */
static void hold_release(struct mime *m)
{
	if (!has_ew(m->hb, m->hn)) {
		hold_flush(m);
		return;
	}
	emit_hdr(m, m->hb, m->hn);
	bnd_out(m);
	hb_clear(m);
}

/* The header block just ended: the body begins. */
static void body_start(struct mime *m)
{
	struct hinfo *h = &m->hi;
	bnd_out(m);
	m->mode = M_BODY;
	if (h->ptype == PT_MULTI && h->blen && m->depth < MIME_DEPTH) {
		memcpy(m->bnd[m->depth], h->bnd, h->blen);
		m->blen[m->depth++] = h->blen;
		part_begin(m, PT_TEXT, CTE_ID, CS_UTF8); /* the preamble */
		return;
	}
	if (h->ptype == PT_MSG && h->cte == CTE_ID) {
		/* An enclosed message: its own header block follows. */
		m->mode = M_HEAD;
		hinfo_reset(m, 1);
		return;
	}
	CNT(m, mime_parts);
	int kind = h->ptype == PT_MULTI || h->ptype == PT_MSG ? PT_TEXT : h->ptype;
	part_begin(m, kind, h->cte, h->cs);
}

/* Pending field of an M_HEAD block out as header text. */
static void head_flush(struct mime *m)
{
	field_done(m);
	emit_hdr(m, m->hb, m->hn);
	hb_clear(m);
}

/* A multipart boundary line: ends the part, opens the next or closes. */
static int boundary_line(struct mime *m, const uint8_t *s, size_t n)
{
	if (!m->depth || n < 3 || s[0] != '-' || s[1] != '-')
		return 0;
	size_t l = trimmed(s, n);
	for (int k = m->depth - 1; k >= 0; k--) {
		size_t bl = m->blen[k];
		if (l < 2 + bl || memcmp(s + 2, m->bnd[k], bl))
			continue;
		int close;
		if (l == 2 + bl)
			close = 0;
		else if (l == 4 + bl && s[2 + bl] == '-' && s[3 + bl] == '-')
			close = 1;
		else
			continue;
		if (m->mode == M_HEAD)
			head_flush(m);
		part_end(m, 1);
		bnd_out(m);
		m->depth = (uint8_t)(close ? k : k + 1);
		if (!close) {
			m->mode = M_HEAD;
			hinfo_reset(m, 1);
		} else if (m->depth) {
			m->mode = M_BODY; /* epilogue of an inner multipart */
			part_begin(m, PT_TEXT, CTE_ID, CS_UTF8);
		} else {
			m->mode = M_TEXT; /* epilogue: plain lines again */
		}
		return 1;
	}
	return 0;
}

static void body_line(struct mime *m, const uint8_t *s, size_t n)
{
	if (boundary_line(m, s, n))
		return;
	if (m->pt.cte == CTE_B64) {
		for (size_t i = 0; i < n; i++)
			if (b64v(s[i]) == -3)
				goto not_b64;
		if (!blank_line(s, n))
			m->pt.b64seen = 1;
		b64_feed(m, s, n);
		return;
	not_b64:
		if (m->depth || !m->pt.b64seen) {
			/* Inside a multipart (its boundary ends the part) or
			 * before any base64 data: a junk line, skipped as mail
			 * readers skip it, so that one line cannot hide the
			 * part. */
			CNT(m, mime_b64_errors);
			return;
		}
		/* The end of the base64 data (a footer, a new header block):
		 * outside a multipart the message body is over. */
		b64_end(m);
		part_end(m, 1);
		m->mode = M_TEXT;
		text_line(m, s, n);
		return;
	}
	body_bytes(m, s, n);
}

static void head_line(struct mime *m, const uint8_t *s, size_t n)
{
	if (boundary_line(m, s, n))
		return;
	int blank = blank_line(s, n);
	if (!blank && wsp(s[0]) && m->hn) {
		if (hb_add(m, s, n) < 0) {
			/* A folded field over the cap: out as it is, no longer read. */
			CNT(m, mime_line_overflow);
			emit_hdr(m, m->hb, m->hn);
			hb_clear(m);
			emit_hdr(m, s, n);
		}
		return;
	}
	head_flush(m);
	if (blank) {
		emit_hdr(m, s, n);
		body_start(m);
		return;
	}
	if (hdr_shape(s, n) == 1 || wsp(s[0])) {
		hb_add(m, s, n); /* a line fits: hb is empty */
		return;
	}
	/* Not a header line: the block ended without its blank line. */
	body_start(m);
	body_line(m, s, n);
}

/* The held block is MIME: it becomes the header of a new message. */
static void go_head(struct mime *m)
{
	bnd_out(m);
	m->inmsg = 1;
	m->depth = 0;
	m->mode = M_HEAD;
	emit_hdr(m, m->hb, m->hn);
	hb_clear(m);
}

static void hold_line(struct mime *m, const uint8_t *s, size_t n)
{
	int blank = blank_line(s, n);
	if (!blank && wsp(s[0])) {
		if (hb_add(m, s, n) < 0) {
			CNT(m, mime_line_overflow);
			hold_flush(m);
			m->mode = M_TEXT;
			to_plain(m, s, n);
		}
		return;
	}
	field_done(m);
	if (m->hi.mime) {
		go_head(m);
		head_line(m, s, n);
		return;
	}
	if (!blank && hdr_shape(s, n) == 1) {
		if (hb_add(m, s, n) < 0) {
			/* Over the cap: what is held goes out, a new block starts. */
			CNT(m, mime_line_overflow);
			hold_flush(m);
			m->mode = M_TEXT;
			text_line(m, s, n);
		}
		return;
	}
	hold_release(m);
	m->mode = M_TEXT;
	to_plain(m, s, n);
}

static void text_line(struct mime *m, const uint8_t *s, size_t n)
{
	if (hdr_shape(s, n) != 1) {
		to_plain(m, s, n);
		return;
	}
	m->mode = M_HOLD;
	hinfo_reset(m, 0);
	hb_clear(m);
	hb_add(m, s, n); /* a line fits */
}

/* The message is over (a lone "."): whatever is open ends. */
static void msg_end(struct mime *m)
{
	if (m->mode == M_HOLD)
		hold_flush(m);
	else if (m->mode == M_HEAD)
		head_flush(m);
	part_end(m, 1);
	bnd_out(m);
	hb_clear(m);
	m->depth = 0;
	m->inmsg = 0;
	m->mode = M_TEXT;
}

/* A line over MIME_LINE_MAX: s is its start, the rest follows. */
static void overflow(struct mime *m, const uint8_t *s, size_t n)
{
	CNT(m, mime_line_overflow);
	switch (m->mode) {
	case M_HOLD:
		hold_flush(m);
		m->mode = M_TEXT;
		/* fallthrough */
	case M_TEXT:
		to_plain(m, s, n);
		m->pass = 1;
		return;
	case M_HEAD:
		/* Not read as a header: out as plain text, as it came. */
		head_flush(m);
		to_plain(m, s, n);
		m->pass = 1;
		return;
	case M_BODY:
		/* Streams into the body decoder (base64 counts what is not
		 * base64 in it). */
		if (boundary_line(m, s, n))
			return;
		body_bytes(m, s, n);
		m->cont = 1;
		return;
	}
}

/* lb holds a line (complete: up to and with its LF, or at end of stream;
 * otherwise its first MIME_LINE_MAX bytes). */
static void line(struct mime *m, int complete)
{
	const uint8_t *s = m->lb;
	size_t n = m->ln;
	m->ln = 0;
	if (!m->started) {
		m->started = 1;
		if (n >= 3 && tls_start(s)) {
			m->mode = M_OFF;
			to_plain(m, s, n);
			return;
		}
	}
	if (m->inmsg && n && s[0] == '.') {
		if (complete && blank_line(s + 1, n - 1)) {
			msg_end(m); /* the terminator is no text */
			return;
		}
		if (n > 1 && s[1] == '.') {
			s++;
			n--;
		}
	}
	if (!complete) {
		overflow(m, s, n);
		return;
	}
	switch (m->mode) {
	case M_TEXT:
		text_line(m, s, n);
		break;
	case M_HOLD:
		hold_line(m, s, n);
		break;
	case M_HEAD:
		head_line(m, s, n);
		break;
	case M_BODY:
		body_line(m, s, n);
		break;
	}
}

/* M_TEXT with a partial line: once its start shows it is no header line,
 * it goes on as plain text without waiting for its end. */
static void early(struct mime *m)
{
	if (!m->started) {
		if (m->ln < 3)
			return;
		m->started = 1;
		if (tls_start(m->lb)) {
			m->mode = M_OFF;
			to_plain(m, m->lb, m->ln);
			m->ln = 0;
			return;
		}
	}
	if (m->mode != M_TEXT || (m->inmsg && m->lb[0] == '.'))
		return;
	if (hdr_shape(m->lb, m->ln) == 0) {
		to_plain(m, m->lb, m->ln);
		m->ln = 0;
		m->pass = 1;
	}
}

/* ---- public ---- */

struct mime *mime_new(const struct mime_sink *sink, struct tsf_stats *stats)
{
	struct mime *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->sink = *sink;
	m->stats = stats;
	m->mode = M_TEXT;
	hinfo_reset(m, 0);
	return m;
}

void mime_feed(struct mime *m, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	while (p < end) {
		if (m->mode == M_OFF) {
			to_plain(m, p, (size_t)(end - p));
			return;
		}
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		size_t k = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		if (m->pass || m->cont) {
			if (m->pass)
				to_plain(m, p, k);
			else if (m->mode == M_BODY)
				body_bytes(m, p, k);
			if (lf)
				m->pass = m->cont = 0;
			p += k;
			continue;
		}
		size_t room = MIME_LINE_MAX - m->ln;
		int complete = lf != NULL;
		if (k > room) {
			k = room;
			complete = 0;
		}
		if (reserve(&m->lb, &m->lcap, m->ln + k) < 0) {
			/* No memory for the line: this much goes on as plain text. */
			to_plain(m, m->lb, m->ln);
			to_plain(m, p, k);
			m->ln = 0;
			p += k;
			continue;
		}
		memcpy(m->lb + m->ln, p, k);
		m->ln += k;
		p += k;
		if (complete || m->ln == MIME_LINE_MAX)
			line(m, complete);
		else
			early(m);
	}
	if (!m->ln)
		shrink(&m->lb, &m->lcap);
}

void mime_gap(struct mime *m)
{
	if (m->mode == M_OFF)
		return;
	if (m->mode == M_TEXT || m->mode == M_HOLD) {
		hold_flush(m);
		to_plain(m, m->lb, m->ln);
	} else {
		part_end(m, 0);
		hb_clear(m);
		bnd_out(m);
	}
	m->ln = 0;
	m->pass = m->cont = 0;
	m->inmsg = 0;
	m->depth = 0;
	m->mode = M_TEXT;
	m->plain_open = 0;
	shrink(&m->lb, &m->lcap);
}

void mime_finish(struct mime *m)
{
	if (m->mode == M_OFF)
		return;
	if (m->ln)
		line(m, 1);
	if (m->mode == M_HOLD) {
		field_done(m);
		if (m->hi.mime)
			go_head(m);
		else
			hold_release(m);
	}
	if (m->mode == M_HEAD)
		head_flush(m);
	if (m->mode == M_HEAD || m->mode == M_BODY) {
		part_end(m, 1);
		bnd_out(m);
	}
	m->pass = m->cont = 0;
	m->inmsg = 0;
	m->depth = 0;
	m->mode = M_TEXT;
}

void mime_free(struct mime *m)
{
	if (!m)
		return;
	if (m->pt.active && m->pt.kind != PT_SKIP)
		cs_abort(&m->pt.cs);
	free(m->lb);
	free(m->hb);
	free(m);
}

size_t mime_memsize(const struct mime *m)
{
	if (!m)
		return 0;
	return sizeof(*m) + m->lcap + m->hcap + (m->pt.active ? cs_memsize(&m->pt.cs) : 0);
}
