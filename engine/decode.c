/* decode.c - the per-direction stream decoder (see decode.h).
 *
 * Pipeline of one body:
 *   transfer framing (Content-Length / chunked / until close)
 *   -> decompress (Content-Encoding / Transfer-Encoding layers)
 *   -> sniff buffer (first 1 KiB, only when the type or an HTML charset
 *      must be found: <meta charset>, HTML sniffing, TLS)
 *   -> HTML:  charset -> html (tags dropped, references decoded)
 *      form:  urldec  -> charset (escapes carry bytes in the page charset)
 *      JSON / JavaScript: charset -> jsesc (\uXXXX escapes are code points)
 *      text:  charset
 *   (an unlabelled charset stage guesses UTF-8 vs GB18030 itself, on the
 *   first non-ASCII bytes: CS_GUESS)
 *   -> output buffer -> sink->text()
 *
 * Plain (non-HTTP) streams go through the mail reader (mime.c) first: it
 * hands back the bytes that are not mail (m_plain -> the plain body), and
 * emits decoded mail text itself, after a boundary that ends the plain
 * body.
 *
 * Output goes through one thread-local buffer that is always flushed before
 * a public call returns, so idle decoders hold no output memory (and the
 * sink sees runs, not single characters).  Per-body state (zlib, brotli,
 * iconv, the sniff buffer) is allocated when a body starts and freed when
 * it ends; the header buffer is freed between messages when it grew large.
 *
 * HEAD: only the other direction knows that a response answers HEAD and
 * has no body despite its Content-Length / chunked framing.  A response
 * body that starts with "HTTP/1." is therefore taken as the next response
 * (D_PEEK).  A HEAD response with Content-Length under 7 is still misread:
 * its "body" swallows the start of the next response, which then fails to
 * parse (http_errors) and the rest of the stream is plain text.
 */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "decompress.h"
#include "html.h"
#include "http.h"
#include "mime.h"
#include "urldec.h"

#define SNIFF_MAX 1024
#define HBUF_MIN 256
#define HBUF_KEEP 2048 /* a header buffer larger than this is freed after use */
#define CHUNK_MAX (1ull << 60)
#define PEEK_LEN 7 /* "HTTP/1." */

#define CNT(d, f)                                                                                  \
	do {                                                                                       \
		if ((d)->stats)                                                                    \
			(d)->stats->f++;                                                           \
	} while (0)

enum {
	D_START, /* start line of a message (or of the stream) */
	D_HEAD,  /* header lines */
	D_BODY_CL,
	D_CH_SIZE,
	D_CH_EXT, /* chunk extension, up to LF */
	D_CH_LF,  /* CR after the chunk size seen */
	D_CH_DATA,
	D_CH_DATA_END, /* CRLF after chunk data */
	D_CH_TRAILER,
	D_BODY_CLOSE, /* response without length: until the end of the stream */
	D_PLAIN,      /* not HTTP (any more): everything is text */
	D_SKIPLINE,   /* resynchronising: text up to the next LF */
	D_PEEK,       /* start of a response body: is it really the next response? */
	D_DONE,
};

enum { B_PLAIN, B_HTML, B_FORM, B_JS, B_SKIP };

struct body {
	uint8_t active;
	uint8_t kind;
	uint8_t sniff;      /* collecting sbuf */
	uint8_t ctype_none; /* no Content-Type: decide HTML vs text from sbuf */
	int8_t label;       /* charset id from the header, -1 none */
	uint16_t slen;
	uint8_t *sbuf;
	struct dcmp *dc;
	struct charset cs;
	struct html html;
	struct urldec ud;
	struct jsesc js;
};

struct decoder {
	struct dec_limits lim;
	struct dec_sink sink;
	struct tsf_stats *stats;
	uint8_t st;
	uint8_t resync;     /* after a gap: look for a start line at each line */
	uint8_t seen_http;  /* a message was parsed on this stream */
	uint8_t dirty;      /* text was emitted since the last reset */
	uint8_t crseen;     /* D_CH_DATA_END: CR seen */
	uint8_t after_peek; /* D_PEEK: the framing state to go on with */
	unsigned digits;
	struct http_sl sl;
	uint8_t *hbuf;
	size_t hlen, hcap, lstart;
	uint64_t remain; /* Content-Length or chunk bytes left */
	size_t linelen;  /* chunk extension / trailer bytes */
	struct body b;
	struct mime *m; /* D_PLAIN: mail decoding (allocated on first use) */
};

void dec_limits_default(struct dec_limits *l)
{
	l->max_header = 16 << 10;
	l->max_body_out = 16 << 20;
	l->max_ratio = 100;
	l->max_layers = 3;
}

/* ---- output ---- */

static _Thread_local uint8_t tl_out[16384];
static _Thread_local size_t tl_n;

static void out_flush(struct decoder *d)
{
	if (tl_n)
		d->sink.text(d->sink.ud, tl_out, tl_n);
	tl_n = 0;
}

static void emit(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	if (!n)
		return;
	d->dirty = 1;
	if (tl_n + n > sizeof(tl_out) || n >= sizeof(tl_out) / 2)
		out_flush(d);
	if (n >= sizeof(tl_out) / 2) {
		d->sink.text(d->sink.ud, p, n); /* large runs: no copy */
		return;
	}
	memcpy(tl_out + tl_n, p, n);
	tl_n += n;
}

/* A point no match may span.  Consecutive boundaries collapse into one. */
static void boundary(struct decoder *d)
{
	out_flush(d);
	if (d->dirty && d->sink.reset)
		d->sink.reset(d->sink.ud);
	d->dirty = 0;
}

/* ---- body pipeline ---- */

static void cs_to_html(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	html_feed(&d->b.html, p, n, emit, d);
}

static void ud_to_cs(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	cs_feed(&d->b.cs, p, n, emit, d);
}

static void cs_to_js(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	jsesc_feed(&d->b.js, p, n, emit, d);
}

static void stage2(struct decoder *d, const uint8_t *p, size_t n)
{
	switch (d->b.kind) {
	case B_HTML:
		cs_feed(&d->b.cs, p, n, cs_to_html, d);
		break;
	case B_FORM:
		urldec_feed(&d->b.ud, p, n, ud_to_cs, d);
		break;
	case B_JS:
		cs_feed(&d->b.cs, p, n, cs_to_js, d);
		break;
	case B_PLAIN:
		cs_feed(&d->b.cs, p, n, emit, d);
		break;
	}
}

static void body_setup(struct decoder *d, int id)
{
	struct body *b = &d->b;
	if (cs_begin(&b->cs, id < 0 ? CS_GUESS : id, 1, d->stats) < 0)
		CNT(d, charset_unknown);
	html_init(&b->html);
	urldec_init(&b->ud, 1);
	jsesc_init(&b->js);
}

/* HTML sniffing also for UTF-16 with a BOM (ASCII markup is every other
 * byte there). */
static int sniff_html(const uint8_t *b, size_t n)
{
	if (n >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF))) {
		uint8_t tmp[SNIFF_MAX / 2];
		size_t k = 0;
		for (size_t i = b[0] == 0xFF ? 2 : 3; i < n; i += 2)
			tmp[k++] = b[i];
		return html_sniff(tmp, k);
	}
	return html_sniff(b, n);
}

/* The first SNIFF_MAX bytes (or the whole short body) are in: settle the
 * type and charset, then decode them. */
static void sniff_done(struct decoder *d)
{
	struct body *b = &d->b;
	int id = b->label;
	if (b->slen >= 3 && b->sbuf[0] >= 0x14 && b->sbuf[0] <= 0x17 && b->sbuf[1] == 3 &&
	    b->sbuf[2] <= 4) {
		/* A TLS record (CONNECT tunnel, TLS on any port): no text in
		 * it, and decoding it would only produce U+FFFD noise. */
		b->kind = B_SKIP;
		goto out;
	}
	if (b->ctype_none)
		b->kind = sniff_html(b->sbuf, b->slen) ? B_HTML : B_PLAIN;
	if (b->kind == B_HTML && id < 0) {
		const char *lab;
		size_t ll;
		if (html_meta_charset(b->sbuf, b->slen, &lab, &ll)) {
			id = cs_lookup(lab, ll);
			if (id < 0)
				CNT(d, charset_unknown);
			/* A meta tag claiming UTF-16 in an ASCII-readable
			 * document is wrong by definition (HTML spec). */
			if (id == CS_UTF16 || id == CS_UTF16LE || id == CS_UTF16BE)
				id = CS_UTF8;
		}
	}
	/* Unlabelled (id < 0): the charset stage guesses UTF-8 vs GB18030
	 * from the first non-ASCII bytes, wherever they come (CS_GUESS). */
	body_setup(d, id);
	if (b->slen)
		stage2(d, b->sbuf, b->slen);
out:
	b->sniff = 0;
	free(b->sbuf);
	b->sbuf = NULL;
	b->slen = 0;
}

static void stage1(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	struct body *b = &d->b;
	if (b->sniff) {
		size_t k = SNIFF_MAX - b->slen;
		if (k > n)
			k = n;
		memcpy(b->sbuf + b->slen, p, k);
		b->slen = (uint16_t)(b->slen + k);
		p += k;
		n -= k;
		if (b->slen < SNIFF_MAX)
			return;
		sniff_done(d);
	}
	if (n)
		stage2(d, p, n);
}

static void body_data(struct decoder *d, const uint8_t *p, size_t n)
{
	struct body *b = &d->b;
	if (!b->active || b->kind == B_SKIP || !n)
		return;
	if (b->dc)
		dc_feed(b->dc, p, n, stage1, d); /* stopped: the rest is dropped */
	else
		stage1(d, p, n);
}

static void body_begin(struct decoder *d, int kind, int ctype_none, int label,
                       const uint8_t *codings, int nc)
{
	struct body *b = &d->b;
	memset(b, 0, sizeof(*b));
	b->active = 1;
	b->kind = (uint8_t)kind;
	b->label = (int8_t)label;
	if (kind == B_SKIP)
		return;
	if (nc) {
		b->dc = dc_new(codings, nc, d->lim.max_body_out, d->lim.max_ratio, d->stats);
		if (!b->dc) {
			b->kind = B_SKIP;
			return;
		}
	}
	if (ctype_none || (kind == B_HTML && label < 0)) {
		b->sbuf = malloc(SNIFF_MAX);
		if (b->sbuf) {
			b->sniff = 1;
			b->ctype_none = (uint8_t)ctype_none;
			return;
		}
	}
	body_setup(d, label);
}

/* graceful: the body ended normally (flush carried bytes, count truncated
 * compressed data); otherwise a gap cut it and partial state is dropped. */
static void body_end(struct decoder *d, int graceful)
{
	struct body *b = &d->b;
	if (!b->active)
		return;
	if (b->dc) {
		if (graceful)
			dc_end(b->dc);
		dc_free(b->dc);
		b->dc = NULL;
	}
	if (b->sniff)
		sniff_done(d);
	if (b->kind != B_SKIP) {
		if (!graceful) {
			cs_abort(&b->cs);
		} else if (b->kind == B_HTML) {
			cs_end(&b->cs, cs_to_html, d);
			html_end(&b->html, emit, d);
		} else if (b->kind == B_FORM) {
			urldec_finish(&b->ud, ud_to_cs, d);
			cs_end(&b->cs, emit, d);
		} else if (b->kind == B_JS) {
			cs_end(&b->cs, cs_to_js, d);
			jsesc_finish(&b->js, emit, d);
		} else {
			cs_end(&b->cs, emit, d);
		}
	}
	b->active = 0;
	boundary(d);
}

/* ---- plain streams: lines through the mail decoder (mime.h) ---- */

static void m_plain(void *ud, const uint8_t *p, size_t n)
{
	struct decoder *d = ud;
	if (!d->b.active)
		body_begin(d, B_PLAIN, 0, -1, NULL, 0);
	body_data(d, p, n);
}

static void m_boundary(void *ud)
{
	struct decoder *d = ud;
	body_end(d, 1); /* the plain text before mail text */
	boundary(d);
}

/* D_PLAIN input: mail is decoded, everything else reaches the plain body
 * (d->b) as it came. */
static void plain_feed(struct decoder *d, const uint8_t *p, size_t n)
{
	if (!d->m) {
		struct mime_sink ms = {m_plain, emit, m_boundary, d};
		d->m = mime_new(&ms, d->stats);
		if (!d->m) {
			body_data(d, p, n);
			return;
		}
	}
	mime_feed(d->m, p, n);
}

/* ---- header buffer ---- */

static int hreserve(struct decoder *d, size_t n)
{
	if (d->hlen + n <= d->hcap)
		return 0;
	size_t cap = d->hcap ? d->hcap : HBUF_MIN;
	while (cap < d->hlen + n)
		cap *= 2;
	uint8_t *nb = realloc(d->hbuf, cap);
	if (!nb)
		return -1;
	d->hbuf = nb;
	d->hcap = cap;
	return 0;
}

static void hdone(struct decoder *d)
{
	d->hlen = 0;
	d->lstart = 0;
	http_sl_init(&d->sl);
	if (d->hcap > HBUF_KEEP) {
		free(d->hbuf);
		d->hbuf = NULL;
		d->hcap = 0;
	}
}

/* Not HTTP (any more): the buffered head and everything after is text. */
static void go_plain(struct decoder *d)
{
	/* At the start of a stream the text is sniffed like an unlabelled
	 * body (TLS, HTML, GB18030); later on it is plain UTF-8. */
	int start = !d->seen_http && !d->resync && !d->b.active;
	body_end(d, 1);
	boundary(d);
	d->resync = 0;
	body_begin(d, B_PLAIN, start, -1, NULL, 0);
	plain_feed(d, d->hbuf, d->hlen);
	hdone(d);
	d->st = D_PLAIN;
}

/* ---- message head ---- */

static void emit_head(struct decoder *d, const struct http_head *h)
{
	if (h->resp || !h->target_len) {
		cs_utf8_once(d->hbuf, d->hlen, emit, d, d->stats);
		return;
	}
	size_t t0 = h->target_off, tl = h->target_len;
	uint8_t *tmp = malloc(tl);
	cs_utf8_once(d->hbuf, t0, emit, d, d->stats);
	if (tmp) {
		size_t n = urldec_buf(d->hbuf + t0, tl, tmp, 1, 1);
		cs_utf8_once(tmp, n, emit, d, d->stats);
		free(tmp);
	} else {
		cs_utf8_once(d->hbuf + t0, tl, emit, d, d->stats);
	}
	cs_utf8_once(d->hbuf + t0 + tl, d->hlen - t0 - tl, emit, d, d->stats);
}

static void on_head(struct decoder *d)
{
	struct http_head h;
	http_parse_head(d->hbuf, d->hlen, d->lim.max_layers, &h);
	CNT(d, http_messages);
	d->seen_http = 1;
	emit_head(d, &h);
	boundary(d);

	enum { NONE, CL, CHUNKED, CLOSE, BAD } framing;
	if ((h.resp && h.status == 101) ||
	    (!h.resp && h.target_off == 8 && !memcmp(d->hbuf, "CONNECT ", 8))) {
		/* Protocol switch or tunnel: what follows is not HTTP. */
		hdone(d);
		body_begin(d, B_PLAIN, 1, -1, NULL, 0);
		d->st = D_PLAIN;
		return;
	}
	if (h.resp && (h.status / 100 == 1 || h.status == 204 || h.status == 304))
		framing = NONE;
	else if (h.chunked)
		framing = CHUNKED;
	else if (h.bad_clen)
		framing = BAD;
	else if (h.te)
		framing = h.resp ? CLOSE : BAD;
	else if (h.clen >= 0)
		framing = h.clen ? CL : NONE;
	else
		framing = h.resp ? CLOSE : NONE;

	int kind = B_PLAIN, label = -1;
	if (h.ctype == CT_HTML)
		kind = B_HTML;
	else if (h.ctype == CT_FORM)
		kind = B_FORM;
	else if (h.ctype == CT_JS)
		kind = B_JS;
	else if (h.ctype == CT_BINARY)
		kind = B_SKIP;
	if (h.charset) {
		label = cs_lookup(h.charset, h.charset_len);
		if (label < 0) {
			CNT(d, charset_unknown);
			label = CS_UTF8;
		}
	}
	if (h.coding_err && framing != NONE && framing != BAD) {
		CNT(d, decomp_errors); /* unknown coding or too many layers */
		kind = B_SKIP;
	}
	hdone(d);

	switch (framing) {
	case NONE:
		d->st = D_START;
		return;
	case BAD:
		/* Unknown body length: nothing after this can be framed. */
		CNT(d, http_errors);
		go_plain(d);
		return;
	case CL:
		d->st = D_BODY_CL;
		d->remain = (uint64_t)h.clen;
		break;
	case CHUNKED:
		d->st = D_CH_SIZE;
		d->remain = 0;
		d->digits = 0;
		break;
	case CLOSE:
		d->st = D_BODY_CLOSE;
		break;
	}
	/* A response to HEAD has Content-Length or chunked framing but no
	 * body; only the other direction knows the method.  A body that
	 * starts with "HTTP/1." is taken to be the next response. */
	if (h.resp && (framing == CHUNKED || (framing == CL && h.clen >= PEEK_LEN))) {
		d->after_peek = d->st;
		d->st = D_PEEK;
	}
	body_begin(d, kind, h.ctype == CT_NONE, label, h.codings, h.ncodings);
}

/* ---- the stream state machine ---- */

static const uint8_t *start_failed(struct decoder *d, const uint8_t *next, uint8_t c)
{
	if (d->resync) {
		body_data(d, d->hbuf, d->hlen);
		d->hlen = 0;
		http_sl_init(&d->sl);
		d->st = c == '\n' ? D_START : D_SKIPLINE;
		return next;
	}
	if (d->seen_http)
		CNT(d, http_errors);
	go_plain(d);
	return next;
}

static const uint8_t *st_start(struct decoder *d, const uint8_t *p, const uint8_t *end)
{
	for (; p < end; p++) {
		uint8_t c = *p;
		/* Blank lines between messages are tolerated (RFC 9112 2.2). */
		if (d->hlen == 0 && (c == '\r' || c == '\n') && (d->seen_http || d->resync))
			continue;
		if (hreserve(d, 1) < 0) {
			go_plain(d);
			return p;
		}
		d->hbuf[d->hlen++] = c;
		int r = http_sl_step(&d->sl, c);
		if (r == SL_OK) {
			if (d->resync) {
				body_end(d, 1); /* the resync text before it */
				d->resync = 0;
			}
			d->st = D_HEAD;
			d->lstart = d->hlen;
			return p + 1;
		}
		if (r == SL_BAD)
			return start_failed(d, p + 1, c);
		if (d->hlen > d->lim.max_header) {
			if (d->resync)
				return start_failed(d, p + 1, c);
			CNT(d, http_header_overflow);
			go_plain(d);
			return p + 1;
		}
	}
	return p;
}

static const uint8_t *st_head(struct decoder *d, const uint8_t *p, const uint8_t *end)
{
	const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
	size_t n = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
	if (d->hlen + n > d->lim.max_header) {
		CNT(d, http_header_overflow);
		go_plain(d);
		return p;
	}
	if (hreserve(d, n) < 0) {
		go_plain(d);
		return p;
	}
	memcpy(d->hbuf + d->hlen, p, n);
	d->hlen += n;
	if (!lf)
		return end;
	const uint8_t *line = d->hbuf + d->lstart;
	size_t ll = d->hlen - d->lstart - 1;
	if (ll && line[ll - 1] == '\r')
		ll--;
	if (ll == 0) {
		on_head(d);
	} else if (!http_header_line_ok(line, ll)) {
		CNT(d, http_errors);
		go_plain(d);
	} else {
		d->lstart = d->hlen;
	}
	return lf + 1;
}

/* Broken chunked framing: keep what was decoded, the rest is text. */
static const uint8_t *chunk_error(struct decoder *d, const uint8_t *p)
{
	CNT(d, http_errors);
	go_plain(d);
	return p;
}

static void chunk_size_done(struct decoder *d)
{
	d->linelen = 0;
	d->st = d->remain ? D_CH_DATA : D_CH_TRAILER;
}

static const uint8_t *st_chunked(struct decoder *d, const uint8_t *p, const uint8_t *end)
{
	uint8_t c = *p;
	switch (d->st) {
	case D_CH_SIZE: {
		int v = tsf_hexval(c);
		if (v >= 0) {
			if (d->remain >= CHUNK_MAX / 16)
				return chunk_error(d, p); /* chunk-size overflow */
			d->remain = d->remain * 16 + (unsigned)v;
			d->digits++;
			return p + 1;
		}
		if (!d->digits)
			return chunk_error(d, p);
		if (c == ';' || c == ' ' || c == '\t') {
			d->st = D_CH_EXT;
			d->linelen = 0;
		} else if (c == '\r') {
			d->st = D_CH_LF;
		} else if (c == '\n') {
			chunk_size_done(d);
		} else {
			return chunk_error(d, p);
		}
		return p + 1;
	}
	case D_CH_EXT: {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf ? (size_t)(lf - p) : (size_t)(end - p);
		d->linelen += n;
		if (d->linelen > d->lim.max_header)
			return chunk_error(d, p);
		if (!lf)
			return end;
		chunk_size_done(d);
		return lf + 1;
	}
	case D_CH_LF:
		if (c != '\n')
			return chunk_error(d, p);
		chunk_size_done(d);
		return p + 1;
	case D_CH_DATA: {
		size_t n = (size_t)(end - p);
		if (n > d->remain)
			n = (size_t)d->remain;
		body_data(d, p, n);
		d->remain -= n;
		if (!d->remain) {
			d->st = D_CH_DATA_END;
			d->crseen = 0;
		}
		return p + n;
	}
	case D_CH_DATA_END:
		if (c == '\r' && !d->crseen) {
			d->crseen = 1;
			return p + 1;
		}
		if (c != '\n')
			return chunk_error(d, p);
		d->st = D_CH_SIZE;
		d->remain = 0;
		d->digits = 0;
		return p + 1;
	case D_CH_TRAILER:
		/* Trailer fields are skipped; the empty line ends the message. */
		if (c == '\n') {
			if (d->linelen == 0) {
				body_end(d, 1);
				d->st = D_START;
				return p + 1;
			}
			d->linelen = 0;
		} else if (c != '\r') {
			if (++d->linelen > d->lim.max_header) {
				CNT(d, http_header_overflow);
				return chunk_error(d, p);
			}
		}
		return p + 1;
	}
	return end;
}

static const uint8_t *step(struct decoder *d, const uint8_t *p, const uint8_t *end);

/* Not a status line after all: the held bytes are body (or chunk-size)
 * bytes, and framing goes on as planned. */
static void peek_replay(struct decoder *d)
{
	uint8_t held[PEEK_LEN];
	size_t n = d->hlen;
	memcpy(held, d->hbuf, n);
	d->hlen = 0;
	d->st = d->after_peek;
	const uint8_t *q = held, *qe = held + n;
	while (q < qe && d->st != D_DONE)
		q = step(d, q, qe);
}

static const uint8_t *st_peek(struct decoder *d, const uint8_t *p, const uint8_t *end)
{
	static const char http[PEEK_LEN + 1] = "HTTP/1.";
	while (p < end && d->hlen < PEEK_LEN && *p == (uint8_t)http[d->hlen]) {
		if (hreserve(d, 1) < 0)
			break;
		d->hbuf[d->hlen++] = *p++;
	}
	if (d->hlen == PEEK_LEN) {
		/* The previous response had no body after all. */
		d->hlen = 0;
		body_end(d, 1);
		d->st = D_START;
		http_sl_init(&d->sl);
		st_start(d, (const uint8_t *)http, (const uint8_t *)http + PEEK_LEN);
		return p;
	}
	if (p < end)
		peek_replay(d);
	return p;
}

static const uint8_t *step(struct decoder *d, const uint8_t *p, const uint8_t *end)
{
	switch (d->st) {
	case D_START:
		return st_start(d, p, end);
	case D_HEAD:
		return st_head(d, p, end);
	case D_BODY_CL: {
		size_t n = (size_t)(end - p);
		if (n > d->remain)
			n = (size_t)d->remain;
		body_data(d, p, n);
		d->remain -= n;
		if (!d->remain) {
			body_end(d, 1);
			d->st = D_START;
		}
		return p + n;
	}
	case D_CH_SIZE:
	case D_CH_EXT:
	case D_CH_LF:
	case D_CH_DATA:
	case D_CH_DATA_END:
	case D_CH_TRAILER:
		return st_chunked(d, p, end);
	case D_BODY_CLOSE:
		body_data(d, p, (size_t)(end - p));
		return end;
	case D_PLAIN:
		plain_feed(d, p, (size_t)(end - p));
		return end;
	case D_PEEK:
		return st_peek(d, p, end);
	case D_SKIPLINE: {
		const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf ? (size_t)(lf - p) + 1 : (size_t)(end - p);
		body_data(d, p, n);
		if (lf)
			d->st = D_START;
		return p + n;
	}
	}
	return end;
}

/* ---- public ---- */

struct decoder *dec_new(const struct dec_limits *lim, const struct dec_sink *sink,
                        struct tsf_stats *stats)
{
	struct decoder *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	dec_limits_default(&d->lim);
	if (lim) {
		if (lim->max_header)
			d->lim.max_header = lim->max_header;
		if (lim->max_body_out)
			d->lim.max_body_out = lim->max_body_out;
		if (lim->max_ratio)
			d->lim.max_ratio = lim->max_ratio;
		if (lim->max_layers)
			d->lim.max_layers = lim->max_layers;
		if (d->lim.max_layers > DC_MAX_LAYERS)
			d->lim.max_layers = DC_MAX_LAYERS;
	}
	d->sink = *sink;
	d->stats = stats;
	d->st = D_START;
	http_sl_init(&d->sl);
	return d;
}

void dec_feed(struct decoder *d, const uint8_t *data, size_t len)
{
	const uint8_t *p = data, *end = data + len;
	if (!len)
		return;
	while (p < end && d->st != D_DONE)
		p = step(d, p, end);
	out_flush(d);
}

void dec_gap(struct decoder *d)
{
	if (d->st == D_DONE)
		return;
	if (d->st == D_PLAIN) {
		if (d->m)
			mime_gap(d->m);
		body_end(d, 0);
		body_begin(d, B_PLAIN, 0, -1, NULL, 0);
		return;
	}
	if (d->hlen) {
		/* A partial head before the gap is still text someone sent. */
		if (!d->b.active)
			body_begin(d, B_PLAIN, 0, -1, NULL, 0);
		body_data(d, d->hbuf, d->hlen);
	}
	body_end(d, 0);
	boundary(d);
	hdone(d);
	d->resync = 1;
	body_begin(d, B_PLAIN, 0, -1, NULL, 0);
	d->st = D_START;
	out_flush(d);
}

void dec_finish(struct decoder *d)
{
	if (d->st == D_DONE)
		return;
	if (d->st == D_PEEK)
		peek_replay(d);
	if (d->st == D_PLAIN && d->m)
		mime_finish(d->m);
	if (d->hlen) {
		/* An incomplete head at the end of the stream: keep it as text. */
		if (!d->b.active)
			body_begin(d, B_PLAIN, 0, -1, NULL, 0);
		body_data(d, d->hbuf, d->hlen);
		hdone(d);
	}
	body_end(d, 1);
	boundary(d);
	d->st = D_DONE;
}

void dec_free(struct decoder *d)
{
	if (!d)
		return;
	dc_free(d->b.dc);
	cs_abort(&d->b.cs);
	free(d->b.sbuf);
	free(d->hbuf);
	mime_free(d->m);
	free(d);
}

size_t dec_memsize(const struct decoder *d)
{
	return sizeof(*d) + d->hcap + (d->b.sbuf ? SNIFF_MAX : 0) + dc_memsize(d->b.dc) +
	       cs_memsize(&d->b.cs) + mime_memsize(d->m);
}
