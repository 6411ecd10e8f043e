/* charset.h - streaming conversion of a byte stream in a known charset to
 * valid UTF-8.
 *
 * UTF-8 input is validated by hand (the common case, no iconv); everything
 * else goes through glibc iconv.  Sequences split across feeds are carried
 * over, so the output does not depend on how the input was cut.  Invalid
 * sequences become U+FFFD (one per maximal invalid subpart for UTF-8, one
 * per skipped code unit for iconv charsets) and are counted in
 * charset_invalid.  A leading BOM may override the charset (WHATWG rule).
 */
#ifndef TSF_CHARSET_H
#define TSF_CHARSET_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "urldec.h" /* tsf_out_fn */

enum cs_id {
	CS_UTF8 = 0,
	CS_GB18030, /* also GBK, GB2312 and their aliases (GB18030 is a superset) */
	CS_BIG5,    /* BIG5-HKSCS (superset of Big5 as used on the web) */
	CS_UTF16LE,
	CS_UTF16BE,
	CS_UTF16,   /* byte order from the BOM, little-endian without one */
	CS_WIN1252, /* also ISO-8859-1 / US-ASCII labels, as browsers do */
	CS_COUNT,
};

/* Maps a charset label (case-insensitive, surrounding quotes and blanks
 * ignored) to an id.  Returns -1 for unknown labels. */
int cs_lookup(const char *label, size_t len);
const char *cs_name(int id);

/* Bytes an unlabelled stream holds back from its first non-ASCII byte on
 * before it settles UTF-8 vs GB18030 (CS_GUESS). */
#define CS_HOLD 64

struct charset {
	void *cd;      /* iconv_t, or NULL for UTF-8 */
	uint8_t id;    /* enum cs_id in use */
	uint8_t sniff; /* still looking for a BOM in the first bytes */
	uint8_t ncarry;
	uint8_t need;   /* UTF-8: continuation bytes still expected */
	uint8_t lo, hi; /* UTF-8: bounds of the next continuation byte */
	uint8_t carry[10];
	uint8_t guess; /* unlabelled: UTF-8 vs GB18030 still open */
	uint8_t nhold;
	uint8_t hold[CS_HOLD]; /* from the first non-ASCII byte on */
	struct tsf_stats *stats;
};

/* Starts a stream in charset id; bom != 0 lets a leading BOM override it.
 * id CS_GUESS: no label anywhere; a leading BOM decides, else the stream is
 * UTF-8 unless the CS_HOLD bytes from its first non-ASCII byte on (or fewer
 * at the end) are not UTF-8 but are GB18030 (cs_guess), then GB18030.  ASCII
 * before that byte passes at once; the held bytes wait for the decision.
 * The decision depends only on the bytes, not on how they were cut, and
 * comes wherever the first non-ASCII byte is (a page may open with KiBs of
 * ASCII markup).
 * Returns 0, or -1 if iconv could not be opened (then decodes as UTF-8). */
#define CS_GUESS (-2)
int cs_begin(struct charset *c, int id, int bom, struct tsf_stats *stats);
void cs_feed(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud);
/* Flushes: an incomplete trailing sequence becomes U+FFFD.  Releases iconv. */
void cs_end(struct charset *c, tsf_out_fn out, void *ud);
/* Drops any carried bytes and state without output (after a gap). */
void cs_abort(struct charset *c);

/* The widest SIMD check of valid UTF-8 stretches to use where the CPU has
 * it: 2 AVX2 (default), 1 SSSE3, 0 none (tests compare the paths). */
extern int cs_utf8_simd;

/* Validates a complete buffer as UTF-8 (no carry): convenience for headers. */
void cs_utf8_once(const uint8_t *in, size_t len, tsf_out_fn out, void *ud, struct tsf_stats *stats);

/* Guess for unlabelled text: returns CS_GB18030 if buf (the first bytes
 * of a document, possibly cut in the middle of a character) is not valid
 * UTF-8 but is valid GB18030, else -1.  A BOM always answers -1 (the BOM
 * decides). */
int cs_guess(const uint8_t *buf, size_t len);

/* Heap held for iconv state (an estimate: glibc does not report it). */
size_t cs_memsize(const struct charset *c);

#endif
