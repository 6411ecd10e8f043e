/* normalize.h - text -> matching form.
 *
 * One function serves rule literals at compile time and traffic at scan
 * time, so both sides agree by construction.  Steps (each can be switched
 * off with the flags):
 *   NORM_NFKC_CF     Unicode NFKC + case folding (full-width -> ASCII, ...)
 *   NORM_IGNORABLE   drop default-ignorable/format characters (ZWSP, BOM, ...)
 *   NORM_SEPARATORS  drop whitespace, punctuation and symbols
 *   NORM_T2S         traditional -> simplified Chinese, per character
 *   NORM_CONFUSABLES Latin look-alikes (Cyrillic, Greek, ...) -> skeleton
 *
 * The steps run in that order on each code point; the tables come from ICU
 * data at build time (engine/gen/gen_normtab.c), never ICU calls at run time.
 * Details of the matching form:
 *   - NORM_NFKC_CF also strips nonspacing/enclosing marks (Mn, Me) after a
 *     canonical decomposition, so "verify" == "ve\u0301rify" == "vérify"
 *     (accent-insensitive).  Work is per code point: no composition across
 *     characters (conjoining Hangul jamo stay jamo).
 *   - Ignorable = Default_Ignorable_Code_Point or category Cf; the NFKC step
 *     leaves these alone so NORM_IGNORABLE alone decides about them.
 *   - Separators = categories Z*, P*, S*, Cc of the (NFKC-mapped) character.
 *   - NORM_T2S: one-to-one character mappings of ICU's Traditional-Simplified.
 *   - NORM_CONFUSABLES maps a non-ASCII, non-Han character whose UTS #39
 *     skeleton is one ASCII letter or digit to it (lowercased when
 *     NORM_NFKC_CF is on); ASCII itself is never remapped.
 *
 * The normalizer is streaming: a UTF-8 character split across two feeds is
 * held in the state.  Invalid UTF-8 bytes are dropped (one at a time, then
 * decoding resumes at the next byte); an incomplete character at the very
 * end of the stream is never emitted.  Each input character emits at most
 * NORM_MAX_EXPANSION bytes per input byte: true of the data for every code
 * point but U+FDFA, whose 18-character expansion is cut to that bound.
 */
#ifndef TSF_NORMALIZE_H
#define TSF_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#define NORM_NFKC_CF 0x01u
#define NORM_IGNORABLE 0x02u
#define NORM_SEPARATORS 0x04u
#define NORM_T2S 0x08u
#define NORM_CONFUSABLES 0x10u
#define NORM_ALL 0x1fu
/* Testing only: compose the steps per code point even for NORM_ALL (the
 * result must equal the table path's). */
#define NORM_FORCE_SLOW 0x100u

/* The widest SIMD path of NORM_ALL to use where the CPU has it: 2 AVX2
 * (default), 1 SSSE3 ASCII blocks, 0 the portable code (what ARM runs);
 * tests compare them. */
extern int norm_simd;

/* Upper bound of output bytes per input byte, over all flag combinations.
 * U+3316 (3 bytes) -> "キロメートル" (18 bytes) reaches it. */
#define NORM_MAX_EXPANSION 6

struct norm_state {
	unsigned flags;
	uint64_t in_pos; /* absolute offset in the input stream of the next byte fed */
	uint8_t pend[4]; /* incomplete UTF-8 sequence carried to the next feed */
	uint8_t npend;
};

void norm_init(struct norm_state *st, unsigned flags);

/* Normalizes in[0..len).  out must hold NORM_MAX_EXPANSION * (len + 4) bytes.
 * If offmap is not NULL, offmap[i] receives, for every output byte i, the
 * absolute input offset just past the source character that produced it
 * (so offmap[end-1] is the "end of match" offset in the input stream).
 * Returns the number of output bytes. */
size_t norm_feed(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out,
                 uint64_t *offmap);

/* The offset map on demand: offmap[k] of the feed norm_feed(before, in, len)
 * makes, computed by normalizing in again from a copy of the state as it was
 * before that feed (struct copy; *before is not changed).  Matches are rare,
 * and filling the map costs 8 bytes written per output byte on every feed
 * (norm+offmap vs norm in bench_normalize), so a scanner can feed with
 * offmap NULL, keep the state copy and the input, and ask here per match.
 * Returns UINT64_MAX if that feed made no output byte k. */
uint64_t norm_offset(const struct norm_state *before, const uint8_t *in, size_t len, size_t k);

/* Normalizes a complete string (rule literals, `tapsift normalize`).
 * out must hold NORM_MAX_EXPANSION * len bytes.  Returns output length. */
size_t norm_string(unsigned flags, const uint8_t *in, size_t len, uint8_t *out);

/* Parses "nfkc,ignorable,separators,t2s,confusables" / "all" / "none" into
 * flags.  Returns 0, or -1 naming the bad word in *bad. */
int norm_parse_flags(const char *spec, unsigned *flags, const char **bad);

#endif
