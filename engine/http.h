/* http.h - HTTP/1.x message heads: start-line recognition and the header
 * fields the decoder needs.  The byte stream state machine lives in
 * decode.c; this is the parsing of one buffered head.
 */
#ifndef TSF_HTTP_H
#define TSF_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "decompress.h" /* DC_MAX_LAYERS */

/* Incremental start-line check, one byte at a time, so that a stream that
 * is not HTTP is given up on within a few bytes. */
struct http_sl {
	uint8_t st;
	uint8_t n;
	uint8_t resp; /* status line (vs request line) */
};

enum { SL_MORE = 0, SL_OK = 1, SL_BAD = -1 };

void http_sl_init(struct http_sl *s);
/* Feeds one byte; SL_OK when the line (ending in LF) is complete and valid. */
int http_sl_step(struct http_sl *s, uint8_t c);

/* A header line (without its line end): "name: value" with a token name,
 * or an obsolete folded continuation.  Returns 1 if acceptable. */
int http_header_line_ok(const uint8_t *line, size_t len);

enum http_ctype {
	CT_NONE = 0, /* no Content-Type: sniff */
	CT_TEXT,     /* text/ *, json, xml, javascript, anything else not below */
	CT_HTML,     /* text/html, application/xhtml+xml, image/svg+xml */
	CT_FORM,     /* application/x-www-form-urlencoded */
	CT_JS,       /* JSON and JavaScript: backslash escapes decoded */
	CT_BINARY,   /* image, audio, video, font: not decoded */
};

struct http_head {
	uint8_t resp;
	int status;      /* responses */
	int64_t clen;    /* -1: none */
	uint8_t chunked; /* Transfer-Encoding ends in chunked */
	uint8_t te;      /* a Transfer-Encoding header was present */
	uint8_t bad_clen;
	int coding_err; /* dc_parse result: 0, -1 unknown coding, -2 too many layers */
	uint8_t codings[DC_MAX_LAYERS];
	int ncodings;
	uint8_t ctype;
	const char *charset; /* label inside the buffer, or NULL */
	size_t charset_len;
	/* Request line parts (offsets into the buffer). */
	size_t target_off, target_len;
	size_t line_end; /* offset just past the start line's LF */
};

/* Parses a complete head (start line through the empty line).  max_layers
 * bounds the codings. */
void http_parse_head(const uint8_t *buf, size_t len, unsigned max_layers, struct http_head *h);

/* Classifies a Content-Type value; sets charset from its parameters. */
int http_ctype(const char *v, size_t len, const char **charset, size_t *cslen);

#endif
