/* html.h - HTML (UTF-8, already charset-decoded) -> the text a reader sees.
 *
 * Streaming: tags, comments, character references and </script> split
 * across feeds are handled by the state, so the output does not depend on
 * how the input was cut.  See html.c for the rules (what is dropped, what
 * is kept).
 */
#ifndef TSF_HTML_H
#define TSF_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "urldec.h" /* tsf_out_fn */

struct html {
	uint8_t st;     /* parser state */
	uint8_t endtag; /* current tag is an end tag */
	uint8_t q;      /* quote char inside a tag, or 0 */
	uint8_t eq;     /* last significant char in the tag was '=' */
	uint8_t dashes; /* '-' run inside a comment */
	uint8_t raw;    /* inside <script> (1) or <style> (2) */
	uint8_t nname;  /* bytes in name[] (tag name, lowercased) */
	uint8_t nent;   /* bytes in ent[] (reference after '&') */
	uint8_t nraw;   /* bytes of "</script" / "</style" matched so far */
	char name[16];
	char ent[34];
	char rawbuf[10];
	struct jsesc js; /* <script> text is JS-unescaped */
};

void html_init(struct html *h);
void html_feed(struct html *h, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);
/* End of document: a pending '<', '&...' or partial end tag is emitted as
 * the text it was. */
void html_end(struct html *h, tsf_out_fn out, void *ud);

/* Decodes one character reference name (without '&' and ';', e.g. "amp",
 * "#x6362", "#25442") to a code point; semi says whether ';' followed.
 * A few names expand to two code points: the second goes to *cp2 (else 0).
 * Returns -1 if it is not a reference. */
long html_entity(const char *name, size_t len, int semi, unsigned *cp2);

/* Prescan of the start of a document for <meta charset=...> or
 * <meta http-equiv content="...charset=...">.  Returns the label in
 * label in *label and *llen and 1, or 0 if there is none. */
int html_meta_charset(const uint8_t *buf, size_t len, const char **label, size_t *llen);

/* Content sniffing for bodies without a Content-Type: starts with '<'
 * (after blanks) and has <html or <!doctype in buf. */
int html_sniff(const uint8_t *buf, size_t len);

#endif
