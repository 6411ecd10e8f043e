/* gen_normtab.c - build-time generator of the normalizer's lookup tables.
 *
 * Runs once per build with ICU and writes normtab.h: flat two-level tables so
 * that the runtime never calls ICU (ICU's nfkc_cf runs at ~300 MB/s and its
 * skeleton at ~26 MB/s, far below the scan path's budget).
 *
 * Per code point it derives the data of each step, then composes the steps
 * exactly as engine/normalize.c's slow path does (compose() below must stay
 * in sync with norm_slow_cp() there; tests compare the two for every code
 * point):
 *   nfkc   NFKC_Casefold (ICU nfkc_cf), then canonical decomposition, drop
 *          nonspacing/enclosing marks (Mn, Me), recompose (NFC).  Stripping
 *          marks makes matching accent-insensitive and makes "e"+U+0301 and
 *          U+00E9 agree without cross-character composition at run time.
 *          Ignorable code points map to themselves here so that the
 *          ignorable step alone decides about them.
 *   ign    Default_Ignorable_Code_Point or general category Cf.
 *   sep    general category Z*, P*, S* or Cc.
 *   t2s    ICU "Traditional-Simplified" on the single character (Han only),
 *          kept when the result is one different code point.
 *   conf   UTS #39 skeleton (uspoof_getSkeleton) of a non-ASCII, non-Han
 *          code point when it is one ASCII letter or digit.
 *
 * Usage: gen_normtab OUT.h
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>
#include <unicode/uversion.h>

#include "normalize.h"
#include "utf8.h"

#define NCP 0x110000
#define BLK 256
#define NBLK (NCP / BLK)
#define MAXSEQ 40

/* Entry encoding (uint32), shared with normalize.c:
 *   tag = e & 0xff: 0 drop, 1..3 inline bytes in e >> 8 (little endian),
 *   4..254 bytes at pool[e >> 8], 255 identity (copy the input bytes). */
#define TAG_ID 0xffu

/* aux entry: t2s target (21 bits) | ign << 21 | sep << 22 | conf << 24 */
#define AUX_T2S(a) ((a)&0x1fffffu)
#define AUX_IGN 0x200000u
#define AUX_SEP 0x400000u
#define AUX_CONF(a) (((a) >> 24) & 0x7fu)

static uint32_t *aux;               /* per code point */
static uint8_t (*nfkc)[MAXSEQ * 4]; /* UTF-8 of the nfkc step, per code point */
static uint8_t *nfkc_len;           /* 0xff: identity */

static void die(const char *what, UErrorCode st)
{
	fprintf(stderr, "gen_normtab: %s: %s\n", what, u_errorName(st));
	exit(1);
}

static int is_surrogate(uint32_t cp)
{
	return cp >= 0xd800 && cp <= 0xdfff;
}

static int utf8_get(const uint8_t *s, uint32_t *c)
{
	if (s[0] < 0x80) {
		*c = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*c = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0) {
		*c = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	}
	*c = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return 4;
}

static int u16_from_cp(UChar *u, uint32_t cp)
{
	int32_t n = 0;
	UBool err = 0;
	U16_APPEND(u, n, 4, (UChar32)cp, err);
	return err ? -1 : n;
}

/* UTF-16 -> code points */
static int u16_to_cps(const UChar *u, int32_t n, uint32_t *cps, int max)
{
	int k = 0;
	for (int32_t i = 0; i < n;) {
		UChar32 c;
		U16_NEXT(u, i, n, c);
		if (k == max) {
			fprintf(stderr, "gen_normtab: mapping longer than %d\n", max);
			exit(1);
		}
		cps[k++] = (uint32_t)c;
	}
	return k;
}

static void derive(void)
{
	UErrorCode st = U_ZERO_ERROR;
	const UNormalizer2 *nkcf = unorm2_getNFKCCasefoldInstance(&st);
	const UNormalizer2 *nfd = unorm2_getNFDInstance(&st);
	const UNormalizer2 *nfc = unorm2_getNFCInstance(&st);
	if (U_FAILURE(st))
		die("normalizer", st);
	UChar tid[32];
	u_uastrcpy(tid, "Traditional-Simplified");
	UTransliterator *t2s = utrans_openU(tid, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
	if (U_FAILURE(st))
		die("transliterator Traditional-Simplified", st);
	USpoofChecker *sc = uspoof_open(&st);
	if (U_FAILURE(st))
		die("uspoof_open", st);

	for (uint32_t cp = 0; cp < NCP; cp++) {
		if (is_surrogate(cp))
			continue;
		UChar src[4], a[256], b[256];
		int32_t sn = u16_from_cp(src, cp), an, bn;
		int8_t gc = (int8_t)u_charType((UChar32)cp);
		int ign = u_hasBinaryProperty((UChar32)cp, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
		          gc == U_FORMAT_CHAR;
		uint32_t mask = U_MASK(gc);
		int sep = (mask & (U_GC_Z_MASK | U_GC_P_MASK | U_GC_S_MASK | U_GC_CC_MASK)) != 0;
		uint32_t x = (ign ? AUX_IGN : 0) | (sep ? AUX_SEP : 0);

		/* nfkc step */
		nfkc_len[cp] = 0xff;
		if (!ign) {
			st = U_ZERO_ERROR;
			an = unorm2_normalize(nkcf, src, sn, a, 256, &st);
			bn = unorm2_normalize(nfd, a, an, b, 256, &st);
			if (U_FAILURE(st))
				die("nfkc_cf/nfd", st);
			int32_t k = 0;
			for (int32_t i = 0; i < bn;) {
				UChar32 c;
				int32_t s = i;
				U16_NEXT(b, i, bn, c);
				uint32_t m = U_MASK(u_charType(c));
				if (m & (U_GC_MN_MASK | U_GC_ME_MASK))
					continue;
				while (s < i)
					b[k++] = b[s++];
			}
			an = unorm2_normalize(nfc, b, k, a, 256, &st);
			if (U_FAILURE(st))
				die("nfc", st);
			if (an != sn || memcmp(a, src, (size_t)sn * sizeof(UChar))) {
				uint32_t cps[MAXSEQ];
				int nc = u16_to_cps(a, an, cps, MAXSEQ), len = 0;
				for (int i = 0; i < nc; i++)
					len += (int)utf8_encode(nfkc[cp] + len, cps[i]);
				nfkc_len[cp] = (uint8_t)len;
			}
		}

		UScriptCode scr = uscript_getScript((UChar32)cp, &st);
		if (scr == USCRIPT_HAN) {
			int32_t len = sn, lim = sn;
			memcpy(a, src, (size_t)sn * sizeof(UChar));
			st = U_ZERO_ERROR;
			utrans_transUChars(t2s, a, &len, 256, 0, &lim, &st);
			if (U_FAILURE(st))
				die("t2s", st);
			uint32_t cps[MAXSEQ];
			int nc = u16_to_cps(a, len, cps, MAXSEQ);
			if (nc == 1 && cps[0] != cp)
				x |= cps[0];
		} else if (cp >= 0x80 && gc != U_UNASSIGNED) {
			st = U_ZERO_ERROR;
			an = uspoof_getSkeleton(sc, 0, src, sn, a, 256, &st);
			if (U_FAILURE(st))
				die("skeleton", st);
			if (an == 1 && a[0] < 0x80 &&
			    ((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z') ||
			     (a[0] >= '0' && a[0] <= '9')))
				x |= (uint32_t)a[0] << 24;
		}
		aux[cp] = x;
	}
	utrans_close(t2s);
	uspoof_close(sc);
}

/* ICU's per-character rules chain (U+85B4 -> U+82E7) and even cycle
 * (U+82E7 <-> U+82CE); follow each chain to its end, or to the smallest code
 * point of a cycle, so that t2s applied twice equals t2s once (the matching
 * form must be a fixed point: a rule written in it must match itself). */
static void t2s_close(void)
{
	uint32_t *fin = malloc(NCP * sizeof(uint32_t));
	for (uint32_t cp = 0; cp < NCP; cp++) {
		uint32_t c = cp, seen[64];
		int n = 0;
		fin[cp] = cp;
		while (AUX_T2S(aux[c])) {
			int i;
			for (i = 0; i < n && seen[i] != c; i++)
				;
			if (i < n) {
				for (c = seen[i]; i < n; i++)
					if (seen[i] < c)
						c = seen[i];
				break;
			}
			if (n == 64) {
				fprintf(stderr, "gen_normtab: t2s chain from U+%04X too long\n",
				        cp);
				exit(1);
			}
			seen[n++] = c;
			c = AUX_T2S(aux[c]);
		}
		fin[cp] = c;
	}
	for (uint32_t cp = 0; cp < NCP; cp++)
		aux[cp] = (aux[cp] & ~0x1fffffu) | (fin[cp] != cp ? fin[cp] : 0);
	free(fin);
}

/* The composition of the steps for one input code point under flags; must
 * match norm_slow_cp() in normalize.c.  Returns output bytes, capped to
 * NORM_MAX_EXPANSION * inlen at a character boundary. */
static int compose(unsigned flags, uint32_t cp, uint8_t *out, int *capped)
{
	uint32_t seq[MAXSEQ];
	int n = 0, len = 0, inlen = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	if ((flags & NORM_NFKC_CF) && nfkc_len[cp] != 0xff) {
		for (int i = 0; i < nfkc_len[cp];)
			i += utf8_get(nfkc[cp] + i, &seq[n++]);
	} else {
		seq[n++] = cp;
	}
	for (int i = 0; i < n; i++) {
		uint32_t c = seq[i], a = aux[c];
		if ((flags & NORM_IGNORABLE) && (a & AUX_IGN))
			continue;
		if ((flags & NORM_SEPARATORS) && (a & AUX_SEP))
			continue;
		if ((flags & NORM_T2S) && AUX_T2S(a)) {
			c = AUX_T2S(a);
		} else if ((flags & NORM_CONFUSABLES) && c >= 0x80 && AUX_CONF(a)) {
			c = AUX_CONF(a);
			if ((flags & NORM_NFKC_CF) && c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
		}
		int w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
		if (len + w > NORM_MAX_EXPANSION * inlen) {
			*capped = 1;
			break;
		}
		len += (int)utf8_encode(out + len, c);
	}
	return len;
}

/* Two-level tables with deduplicated 256-entry blocks. */
struct tab {
	uint16_t l1[NBLK];
	uint32_t *blocks;
	int nblocks;
};

static void tab_build(struct tab *t, const uint32_t *ent)
{
	t->blocks = malloc((size_t)NBLK * BLK * sizeof(uint32_t));
	t->nblocks = 0;
	for (int b = 0; b < NBLK; b++) {
		const uint32_t *blk = ent + (size_t)b * BLK;
		int j;
		for (j = 0; j < t->nblocks; j++)
			if (!memcmp(t->blocks + (size_t)j * BLK, blk, BLK * sizeof(uint32_t)))
				break;
		if (j == t->nblocks) {
			memcpy(t->blocks + (size_t)j * BLK, blk, BLK * sizeof(uint32_t));
			t->nblocks++;
		}
		t->l1[b] = (uint16_t)j;
	}
}

static void tab_emit(FILE *f, const char *name, const struct tab *t)
{
	fprintf(f, "static const uint16_t %s_l1[%d] = {", name, NBLK);
	for (int i = 0; i < NBLK; i++)
		fprintf(f, "%s%u,", i % 16 ? "" : "\n", t->l1[i]);
	fprintf(f, "\n};\n");
	fprintf(f, "static const uint32_t %s_l2[%d] = {", name, t->nblocks * BLK);
	for (int i = 0; i < t->nblocks * BLK; i++)
		fprintf(f, "%s0x%x,", i % 8 ? "" : "\n", t->blocks[i]);
	fprintf(f, "\n};\n");
}

static uint8_t *pool;
static uint32_t pool_len, pool_cap;

/* Byte strings go to the pool; identical strings are shared. */
static uint32_t pool_add(const uint8_t *s, int n)
{
	for (uint32_t i = 0; i + (uint32_t)n <= pool_len; i++)
		if (!memcmp(pool + i, s, (size_t)n))
			return i;
	if (pool_len + (uint32_t)n > pool_cap) {
		pool_cap = pool_cap ? pool_cap * 2 : 4096;
		pool = realloc(pool, pool_cap);
	}
	memcpy(pool + pool_len, s, (size_t)n);
	pool_len += (uint32_t)n;
	return pool_len - (uint32_t)n;
}

static uint32_t encode(const uint8_t *s, int n)
{
	if (n <= 3) {
		uint32_t e = (uint32_t)n;
		for (int i = 0; i < n; i++)
			e |= (uint32_t)s[i] << (8 * (i + 1));
		return e;
	}
	if (n >= (int)TAG_ID) {
		fprintf(stderr, "gen_normtab: output of %d bytes\n", n);
		exit(1);
	}
	return (uint32_t)n | pool_add(s, n) << 8;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_normtab OUT.h\n");
		return 2;
	}
	aux = calloc(NCP, sizeof(*aux));
	nfkc = calloc(NCP, sizeof(*nfkc));
	nfkc_len = calloc(NCP, 1);
	uint32_t *ent = calloc(NCP, sizeof(uint32_t));
	if (!aux || !nfkc || !nfkc_len || !ent)
		return 1;
	derive();
	t2s_close();

	/* Worst case over every flag combination, and how many code points the
	 * per-character cap cut (reported so a data change is noticed). */
	int maxnum = 0, maxden = 1, ncapped = 0;
	uint32_t maxcp = 0;
	uint8_t out[MAXSEQ * 4];
	static uint8_t ascii_out[32][128], ascii_keep[32][128];
	for (unsigned fl = 0; fl <= NORM_ALL; fl++) {
		for (uint32_t cp = 0; cp < NCP; cp++) {
			if (is_surrogate(cp))
				continue;
			int capped = 0, inlen = cp < 0x80      ? 1
			                        : cp < 0x800   ? 2
			                        : cp < 0x10000 ? 3
			                                       : 4;
			int n = compose(fl, cp, out, &capped);
			if (capped && fl == NORM_NFKC_CF)
				ncapped++;
			if (n * maxden > maxnum * inlen)
				maxnum = n, maxden = inlen, maxcp = cp;
			if (cp < 0x80) {
				if (n > 1 || (n == 1 && out[0] >= 0x80)) {
					fprintf(stderr, "gen_normtab: ASCII %#x maps to %d bytes\n",
					        cp, n);
					return 1;
				}
				ascii_out[fl][cp] = n ? out[0] : 0;
				ascii_keep[fl][cp] = (uint8_t)n;
			}
		}
	}

	/* The NORM_ALL table (fast path) and the nfkc step table (slow path). */
	struct tab tall, tnfkc, taux;
	uint8_t src[4];
	for (uint32_t cp = 0; cp < NCP; cp++) {
		if (is_surrogate(cp)) {
			ent[cp] = 0;
			continue;
		}
		int capped, n = compose(NORM_ALL, cp, out, &capped);
		int sl = (int)utf8_encode(src, cp);
		/* Up to 3 bytes inline even when unchanged: one branch-free store
		 * on the hot path for all of the BMP.  Identity is only used for
		 * unchanged 4-byte characters, whose blocks then deduplicate. */
		ent[cp] = (n == 4 && sl == 4 && !memcmp(out, src, 4)) ? TAG_ID : encode(out, n);
	}
	tab_build(&tall, ent);
	for (uint32_t cp = 0; cp < NCP; cp++)
		ent[cp] = is_surrogate(cp) || nfkc_len[cp] == 0xff ? TAG_ID
		                                                   : encode(nfkc[cp], nfkc_len[cp]);
	tab_build(&tnfkc, ent);
	tab_build(&taux, aux);

	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f,
	        "/* normtab.h - generated by engine/gen/gen_normtab.c from ICU %s (Unicode %s).\n"
	        " * Do not edit. */\n",
	        U_ICU_VERSION, U_UNICODE_VERSION);
	fprintf(f, "#define NT_ICU_VERSION \"%s\"\n#define NT_UNICODE_VERSION \"%s\"\n",
	        U_ICU_VERSION, U_UNICODE_VERSION);
	fprintf(f, "/* worst output/input bytes over all flags: %d/%d (U+%04X) */\n", maxnum,
	        maxden, maxcp);
	fprintf(f, "#define NT_MAX_EXPANSION_NUM %d\n#define NT_MAX_EXPANSION_DEN %d\n", maxnum,
	        maxden);
	fprintf(f, "/* code points whose nfkc output the cap of %d bytes per input byte cut */\n",
	        NORM_MAX_EXPANSION);
	fprintf(f, "#define NT_CAPPED %d\n", ncapped);
	tab_emit(f, "nt_all", &tall);
	tab_emit(f, "nt_nfkc", &tnfkc);
	tab_emit(f, "nt_aux", &taux);
	fprintf(f, "static const uint8_t nt_pool[%u] = {", pool_len + 1);
	for (uint32_t i = 0; i < pool_len; i++)
		fprintf(f, "%s%u,", i % 16 ? "" : "\n", pool[i]);
	fprintf(f, "0\n};\n");
	fprintf(f, "static const uint8_t nt_ascii_out[32][128] = {\n");
	for (int fl = 0; fl < 32; fl++) {
		fprintf(f, "{");
		for (int i = 0; i < 128; i++)
			fprintf(f, "%u,", ascii_out[fl][i]);
		fprintf(f, "},\n");
	}
	fprintf(f, "};\nstatic const uint8_t nt_ascii_keep[32][128] = {\n");
	for (int fl = 0; fl < 32; fl++) {
		fprintf(f, "{");
		for (int i = 0; i < 128; i++)
			fprintf(f, "%u,", ascii_keep[fl][i]);
		fprintf(f, "},\n");
	}
	fprintf(f, "};\n");
	if (fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	fprintf(stderr,
	        "gen_normtab: blocks all=%d nfkc=%d aux=%d pool=%u bytes, max expansion %d/%d "
	        "(U+%04X), capped %d\n",
	        tall.nblocks, tnfkc.nblocks, taux.nblocks, pool_len, maxnum, maxden, maxcp,
	        ncapped);
	return 0;
}
