/* test_normalize.c - the normalizer: each step alone and combined, flags off,
 * streaming (byte-by-byte feeds, split UTF-8), invalid input, offset map,
 * output bound, and the table path against the per-step path for every
 * code point. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "unit.h"
#include "utf8.h"

#define ALL NORM_ALL

/* Normalizes a C string; the result is NUL-terminated in a static buffer. */
static const char *N(unsigned flags, const char *s)
{
	static uint8_t out[NORM_MAX_EXPANSION * 4096 + 1];
	size_t len = strlen(s);
	if (len > 4096)
		return "(too long)";
	size_t n = norm_string(flags, (const uint8_t *)s, len, out);
	out[n] = 0;
	return (const char *)out;
}

static void test_nfkc_fullwidth_and_case(void)
{
	CHECK_STR(N(NORM_NFKC_CF, "ＶＥＲＩＦＹ　ＮＯＷ"), "verify now"); /* U+3000 -> space */
	CHECK_STR(N(NORM_NFKC_CF, "VeRiFy"), "verify");
	CHECK_STR(N(NORM_NFKC_CF, "𝐅𝐑𝐄𝐄 𝕞𝕠𝕟𝕖𝕪"), "free money");
	CHECK_STR(N(NORM_NFKC_CF, "ﬁle ﬂow"), "file flow"); /* ligatures split */
	CHECK_STR(N(NORM_NFKC_CF, "Straße"), "strasse");
	CHECK_STR(N(NORM_NFKC_CF, "①②③"), "123");
	CHECK_STR(N(NORM_NFKC_CF, "ⓑⓐⓝⓚ"), "bank");
	CHECK_STR(N(NORM_NFKC_CF, "ΣΊΣΥΦΟΣ"), "σισυφοσ"); /* casefold + accent dropped */
	/* off: nothing changes */
	CHECK_STR(N(0, "ＶＥＲＩＦＹ VeRiFy ﬁle"), "ＶＥＲＩＦＹ VeRiFy ﬁle");
	CHECK_STR(N(ALL & ~(NORM_NFKC_CF | NORM_CONFUSABLES), "ＶＥＲＩＦＹ"), "ＶＥＲＩＦＹ");
	CHECK_STR(N(ALL & ~NORM_NFKC_CF, "VeRiFy"), "VeRiFy");
	/* without NFKC the skeleton still catches some full-width letters */
	CHECK_STR(N(NORM_CONFUSABLES, "ＶＥＲＩＦＹ"), "ＶEＲlＦY");
}

static void test_accents(void)
{
	/* precomposed and decomposed agree: marks are dropped */
	CHECK_STR(N(NORM_NFKC_CF, "vérify"), "verify");
	CHECK_STR(N(NORM_NFKC_CF, "ve\xcc\x81rify"), "verify");
	CHECK_STR(N(NORM_NFKC_CF, "ÀÉÎÕÜ ñ ç"), "aeiou n c");
	CHECK_STR(N(NORM_NFKC_CF, "İstanbul"), "istanbul");
	/* a stray combining mark alone */
	CHECK_STR(N(NORM_NFKC_CF, "\xcc\x81"), "");
	/* Hangul syllables stay whole (no decomposition into jamo) */
	CHECK_STR(N(ALL, "대출"), "대출");
	CHECK_STR(N(0, "ve\xcc\x81rify"), "ve\xcc\x81rify");
}

static void test_ignorable(void)
{
	const char *zw = "o\u200bk\u200c \u200dv\ufeffe\u2060r\u00adi\u202ef\u2066y\ufe0f!";
	CHECK_STR(N(NORM_IGNORABLE, zw), "ok verify!");
	CHECK_STR(N(NORM_IGNORABLE, "a\363\240\200\201b"), "ab"); /* tag character */
	CHECK_STR(N(NORM_IGNORABLE, "\u3164\u115fx"), "x");       /* Hangul fillers */
	/* off: the invisibles stay, even with NFKC on (NFKC_Casefold would
	 * remove them; the ignorable step alone decides) */
	CHECK_STR(N(ALL & ~NORM_IGNORABLE, "o\u200bk"), "o\u200bk");
	CHECK_STR(N(NORM_NFKC_CF, "o\u200bk\ufeff"), "o\u200bk\ufeff");
	CHECK_STR(N(ALL, zw), "okverify");
}

static void test_separators(void)
{
	CHECK_STR(N(NORM_SEPARATORS, "免*费·领 取"), "免费领取");
	CHECK_STR(N(NORM_SEPARATORS, "v.e.r.i.f.y"), "verify");
	CHECK_STR(N(NORM_SEPARATORS, "free\t\r\n$$$ money!!! (now) 100% 🎁★"), "freemoneynow100");
	CHECK_STR(N(NORM_SEPARATORS, "a\u00a0b\u3000c\u2028d"), "abcd");
	CHECK_STR(N(NORM_SEPARATORS, "a\001\177b"), "ab");
	/* letters, digits and marks stay; case stays without NFKC */
	CHECK_STR(N(NORM_SEPARATORS, "Ab9é"), "Ab9é");
	/* full-width punctuation is a separator with or without NFKC */
	CHECK_STR(N(NORM_SEPARATORS, "a！b"), "ab");
	CHECK_STR(N(ALL & ~NORM_SEPARATORS, "免*费 v.e"), "免*费 v.e");
	CHECK_STR(N(0, "a\001b"), "a\001b");
}

static void test_t2s(void)
{
	CHECK_STR(N(NORM_T2S, "免費領取"), "免费领取");
	CHECK_STR(N(NORM_T2S, "賬戶"), "账户");
	CHECK_STR(N(NORM_T2S, "詐騙"), "诈骗");
	CHECK_STR(N(NORM_T2S, "銀行轉賬"), "银行转账");
	CHECK_STR(N(NORM_T2S, "免费领取 abc"), "免费领取 abc"); /* simplified unchanged */
	CHECK_STR(N(ALL & ~NORM_T2S, "免費領取"), "免費領取");
	/* a CJK compatibility ideograph goes through NFKC first */
	CHECK_STR(N(ALL, "\uf900"), N(ALL, "\u8c48"));
}

static void test_confusables(void)
{
	/* Cyrillic а е о р с х у і and Greek ο α ν in English words */
	CHECK_STR(N(NORM_CONFUSABLES, "p\u0430yp\u0430l"), "paypal");
	CHECK_STR(N(NORM_CONFUSABLES, "\u0441\u043e\u0440\u0435 \u0445\u0443\u0456"), "cope xyi");
	CHECK_STR(N(NORM_CONFUSABLES, "g\u03bf\u03bfgle \u03b1\u03bd"), "google av");
	/* ASCII is never remapped (the skeleton would map m -> rn, 1 -> l, 0 -> o) */
	CHECK_STR(N(NORM_CONFUSABLES, "rn m 1 l 0 O I"), "rn m 1 l 0 O I");
	/* without NFKC the skeleton keeps its case; with it, lowercase */
	CHECK_STR(N(NORM_CONFUSABLES, "\u0410\u0412\u0421"), "ABC");
	CHECK_STR(N(ALL, "\u0410\u0415\u0421 \u0430\u0435\u0441"), "aecaec");
	/* casefolded first: в (U+0432) looks like no ASCII letter */
	CHECK_STR(N(ALL, "\u0412"), "\u0432");
	CHECK_STR(N(ALL, "Р\u0430ур\u0430l"), "paypal");
	CHECK_STR(N(ALL & ~NORM_CONFUSABLES, "p\u0430yp\u0430l"), "p\u0430yp\u0430l");
	/* Han is left to t2s, not the skeleton */
	CHECK_STR(N(NORM_CONFUSABLES, "丨〇"), "丨〇");
}

static void test_combined(void)
{
	CHECK_STR(
	    N(ALL, "【免*費·領 取】 ＶＥＲＩＦＹ y\u043eur \u200bаcс\u043eunt: vérify-now! 賬戶"),
	    "免费领取verifyyouraccountverifynow账户");
	CHECK_STR(N(ALL, "D\u0435\u0435pf\u0430ke  v\u0456d\u0435\u043e — ￥99 only"),
	          "deepfakevideo99only");
	CHECK_STR(N(ALL, "詐 騙 ＰＡＹＰＡＬ"), "诈骗paypal");
	CHECK_STR(N(ALL, ""), "");
	CHECK_STR(N(ALL, "  ...!!!  "), "");
	/* steps compose in pairs too */
	CHECK_STR(N(NORM_NFKC_CF | NORM_SEPARATORS, "Ｆ.Ｒ.Ｅ.Ｅ"), "free");
	CHECK_STR(N(NORM_T2S | NORM_SEPARATORS, "詐-騙"), "诈骗");
	CHECK_STR(N(NORM_IGNORABLE | NORM_SEPARATORS, "a\u200b.b"), "ab");
}

/* Every flag switched off changes exactly its own step on a sample. */
static void test_each_flag_off(void)
{
	static const struct {
		unsigned flag;
		const char *in, *with, *without;
	} c[] = {
	    {NORM_NFKC_CF, "Xﬁ", "xfi", "Xﬁ"},
	    {NORM_IGNORABLE, "a\u200bb", "ab", "a\u200bb"},
	    {NORM_SEPARATORS, "a.b", "ab", "a.b"},
	    {NORM_T2S, "詐騙", "诈骗", "詐騙"},
	    {NORM_CONFUSABLES, "\u0430\u0435", "ae", "\u0430\u0435"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		CHECK_STR(N(ALL, c[i].in), c[i].with);
		CHECK_STR(N(ALL & ~c[i].flag, c[i].in), c[i].without);
		CHECK_STR(N(c[i].flag, c[i].in), c[i].with);
		CHECK_STR(N(0, c[i].in), c[i].in);
	}
}

static void test_parse_flags(void)
{
	unsigned f = 123;
	const char *bad = NULL;
	CHECK_EQ_INT(norm_parse_flags("all", &f, &bad), 0);
	CHECK_EQ_INT(f, NORM_ALL);
	CHECK_EQ_INT(norm_parse_flags("none", &f, &bad), 0);
	CHECK_EQ_INT(f, 0);
	CHECK_EQ_INT(norm_parse_flags("nfkc,t2s", &f, &bad), 0);
	CHECK_EQ_INT(f, NORM_NFKC_CF | NORM_T2S);
	CHECK_EQ_INT(norm_parse_flags("ignorable,separators,confusables", &f, &bad), 0);
	CHECK_EQ_INT(f, NORM_IGNORABLE | NORM_SEPARATORS | NORM_CONFUSABLES);
	f = 7;
	CHECK_EQ_INT(norm_parse_flags("nfkc,bogus", &f, &bad), -1);
	CHECK_STR(bad, "bogus");
	CHECK_EQ_INT(f, 7);
	CHECK_EQ_INT(norm_parse_flags("nfkc,", &f, &bad), -1);
	CHECK_STR(bad, "");
	CHECK_EQ_INT(norm_parse_flags("", &f, &bad), -1);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* A mix of ASCII, Chinese (traditional and simplified), homoglyphs,
 * invisibles, expanding characters, marks and invalid bytes. */
static size_t random_text(uint8_t *buf, size_t n)
{
	static const uint32_t pick[] = {
	    'a',     'Z',     '.',    ' ',    '9',    0x514d, 0x8cbb, 0x9818, 0x8d26, 0x200b,
	    0xfeff,  0x0430,  0x03bf, 0xff36, 0xfb01, 0x0301, 0x00e9, 0x3316, 0xfdfa, 0x1d400,
	    0x1f381, 0xe0001, 0x00df, 0x0130, 0xac00, 0x3000, 0x00ad, 0xf900,
	};
	static const char *junk[] = {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf5",
	                             "\xe4", "\xf0\x9f", "\xff",         "\xe0\x80"};
	size_t o = 0;
	while (o + 8 < n) {
		uint32_t r = rnd() % 40;
		if (r < 28) {
			o += utf8_encode(buf + o, pick[r]);
		} else if (r < 36) {
			const char *j = junk[r - 28];
			memcpy(buf + o, j, strlen(j));
			o += strlen(j);
		} else {
			buf[o++] = (uint8_t)rnd();
		}
	}
	return o;
}

/* Feeds in chunks of the given sizes (0 = random 0..9) and checks output and
 * offset map equal the single-feed result. */
static void check_chunked(unsigned flags, const uint8_t *in, size_t len, size_t chunk)
{
	size_t cap = NORM_MAX_EXPANSION * (len + 4);
	uint8_t *o1 = malloc(cap), *o2 = malloc(cap);
	uint64_t *m1 = malloc(cap * 8), *m2 = malloc(cap * 8);
	struct norm_state st;
	norm_init(&st, flags);
	size_t n1 = norm_feed(&st, in, len, o1, m1);
	CHECK_EQ_INT(st.in_pos, len);
	norm_init(&st, flags);
	size_t n2 = 0;
	for (size_t i = 0; i < len;) {
		size_t k = chunk ? chunk : rnd() % 10;
		if (k > len - i)
			k = len - i;
		n2 += norm_feed(&st, in + i, k, o2 + n2, m2 + n2);
		i += k;
	}
	CHECK_EQ_INT(n2, n1);
	CHECK_EQ_INT(st.in_pos, len);
	CHECK(n1 == n2 && !memcmp(o1, o2, n1));
	CHECK(n1 == n2 && !memcmp(m1, m2, n1 * 8));
	CHECK(n1 <= NORM_MAX_EXPANSION * len);
	/* offsets never decrease and never pass the input */
	for (size_t i = 0; i < n1; i++) {
		CHECK(m1[i] >= 1 && m1[i] <= len);
		if (i)
			CHECK(m1[i] >= m1[i - 1]);
		if (unit_failed_checks)
			break;
	}
	free(o1), free(o2), free(m1), free(m2);
}

static void test_byte_feeds(void)
{
	static uint8_t buf[20000];
	size_t n = random_text(buf, sizeof(buf));
	unsigned flags[] = {ALL,
	                    0,
	                    NORM_NFKC_CF,
	                    NORM_SEPARATORS | NORM_T2S,
	                    ALL & ~NORM_IGNORABLE,
	                    ALL | NORM_FORCE_SLOW};
	for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
		check_chunked(flags[f], buf, n, 1);
		check_chunked(flags[f], buf, n, 2);
		check_chunked(flags[f], buf, n, 3);
		check_chunked(flags[f], buf, n, 0);
	}
}

static void test_split_utf8(void)
{
	/* 免 (3 bytes) and 🎁/𝐀 (4 bytes) split at every position */
	const char *s = "x免費𝐀\u0430y";
	size_t len = strlen(s);
	for (size_t cut = 0; cut <= len; cut++) {
		for (size_t cut2 = cut; cut2 <= len; cut2++) {
			uint8_t out[256];
			struct norm_state st;
			norm_init(&st, ALL);
			size_t n = norm_feed(&st, (const uint8_t *)s, cut, out, NULL);
			n += norm_feed(&st, (const uint8_t *)s + cut, cut2 - cut, out + n, NULL);
			n += norm_feed(&st, (const uint8_t *)s + cut2, len - cut2, out + n, NULL);
			out[n] = 0;
			CHECK_STR((char *)out, "x免费aay");
		}
	}
	/* k ASCII bytes, then a character cut at the very end of an exactly
	 * sized buffer (ASan catches a read past it); whole == byte feeds */
	static const char *tails[] = {"\xe8\x81",     "\xe8",     "\xf0\x9f\x8e",
	                              "\xe8\x81\x94", "\xd0\xb0", "\xf0\x9f\x8e\x81"};
	for (size_t k = 0; k < 20; k++) {
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			size_t tl = strlen(tails[t]), len = k + tl;
			uint8_t *in = malloc(len);
			memset(in, 'a', k);
			memcpy(in + k, tails[t], tl);
			check_chunked(ALL, in, len, 1);
			check_chunked(ALL & ~NORM_T2S, in, len, 1);
			free(in);
		}
	}
	/* empty feeds change nothing, also with a character pending */
	uint8_t o0[16];
	struct norm_state s0;
	norm_init(&s0, ALL);
	CHECK_EQ_INT(norm_feed(&s0, NULL, 0, o0, NULL), 0);
	CHECK_EQ_INT(norm_feed(&s0, (const uint8_t *)"\xe5", 1, o0, NULL), 0);
	CHECK_EQ_INT(norm_feed(&s0, NULL, 0, o0, NULL), 0);
	CHECK_EQ_INT(s0.npend, 1);
	CHECK_EQ_INT(norm_feed(&s0, (const uint8_t *)"\x85\x8d", 2, o0, NULL), 3);
	CHECK_EQ_INT(s0.in_pos, 3);
	CHECK_EQ_INT(norm_string(ALL, NULL, 0, o0), 0);
	/* an incomplete character at the end of the stream is not emitted */
	CHECK_STR(N(ALL, "ab\xe5\x85"), "ab");
	uint8_t out[64];
	struct norm_state st;
	norm_init(&st, ALL);
	CHECK_EQ_INT(norm_feed(&st, (const uint8_t *)"\xf0\x9d", 2, out, NULL), 0);
	CHECK_EQ_INT(st.npend, 2);
	CHECK_EQ_INT(norm_feed(&st, (const uint8_t *)"\x90", 1, out, NULL), 0);
	CHECK_EQ_INT(st.npend, 3);
	CHECK_EQ_INT(norm_feed(&st, (const uint8_t *)"\x80Q", 2, out, NULL), 2); /* 𝐀 Q */
	CHECK(!memcmp(out, "aq", 2));
	CHECK_EQ_INT(st.npend, 0);
	CHECK_EQ_INT(st.in_pos, 5);
}

static void test_invalid_utf8(void)
{
	CHECK_STR(N(ALL, "a\200b"), "ab");             /* stray continuation */
	CHECK_STR(N(ALL, "a\300\200\301\277b"), "ab"); /* overlong 2-byte */
	CHECK_STR(N(ALL, "a\340\200\257b"), "ab");     /* overlong 3-byte */
	CHECK_STR(N(ALL, "a\355\240\200b"), "ab");     /* surrogate */
	CHECK_STR(N(ALL, "a\364\220\200\200b"), "ab"); /* > U+10FFFF */
	CHECK_STR(N(ALL, "a\365\377\376b"), "ab");
	CHECK_STR(N(ALL, "\345A\345\205B"), "ab");   /* truncated, resync on ASCII */
	CHECK_STR(N(ALL, "\xe5\xe5\x85\x8d"), "免"); /* truncated, resync on a lead */
	CHECK_STR(N(0, "a\377b\xc3\xa9"), "abé");    /* dropped with every flag off too */
	/* the same across 1-byte feeds */
	const char *s = "\345A\345\205B\xf0\x9f\x8e\xe5\x85\x8d\xed\xa0\x80z";
	uint8_t out[256];
	struct norm_state st;
	norm_init(&st, ALL);
	size_t n = 0;
	for (size_t i = 0; s[i]; i++)
		n += norm_feed(&st, (const uint8_t *)s + i, 1, out + n, NULL);
	out[n] = 0;
	CHECK_STR((char *)out, "ab免z");
	CHECK_STR(N(ALL, s), "ab免z");
}

static void test_offmap(void)
{
	/* "A.b免ﬁ" : A@0 .@1 b@2 免@3..5 ﬁ@6..8 */
	const char *s = "A.b\xe5\x85\x8d\xef\xac\x81";
	uint8_t out[64];
	uint64_t map[64];
	struct norm_state st;
	norm_init(&st, ALL);
	size_t n = norm_feed(&st, (const uint8_t *)s, strlen(s), out, map);
	CHECK_EQ_INT(n, 7);
	CHECK(!memcmp(out, "ab\345\205\215fi", 7));
	const uint64_t want[] = {1, 3, 6, 6, 6, 9, 9};
	for (int i = 0; i < 7; i++)
		CHECK_EQ_INT(map[i], want[i]);
	/* offsets are absolute across feeds, also for a character split in two */
	n = norm_feed(&st, (const uint8_t *)"x\xe8", 2, out, map);
	CHECK_EQ_INT(n, 1);
	CHECK_EQ_INT(map[0], 10);
	n = norm_feed(&st, (const uint8_t *)"\262\273Y", 3, out, map); /* 費 completed */
	CHECK_EQ_INT(n, 4);
	CHECK(!memcmp(out, "费y", 4));
	CHECK_EQ_INT(map[0], 13);
	CHECK_EQ_INT(map[2], 13);
	CHECK_EQ_INT(map[3], 14);
	/* the slow path maps the same way */
	norm_init(&st, NORM_NFKC_CF | NORM_SEPARATORS);
	n = norm_feed(&st, (const uint8_t *)s, strlen(s), out, map);
	CHECK_EQ_INT(n, 7);
	for (int i = 0; i < 7; i++)
		CHECK_EQ_INT(map[i], want[i]);
}

/* norm_offset equals the offset map of the same feed, for every output
 * byte, from states with and without a pending character, on both paths. */
static void test_offset_on_demand(void)
{
	static uint8_t buf[3000];
	size_t len = random_text(buf, sizeof(buf));
	size_t cap = NORM_MAX_EXPANSION * (len + 4);
	uint8_t *out = malloc(cap);
	uint64_t *map = malloc(cap * 8);
	unsigned flags[] = {ALL, NORM_NFKC_CF | NORM_SEPARATORS};
	for (size_t f = 0; f < 2; f++) {
		for (size_t cut = 0; cut < 40; cut += 3) {
			struct norm_state st, before;
			norm_init(&st, flags[f]);
			norm_feed(&st, buf, cut, out, NULL); /* may leave bytes pending */
			before = st;
			size_t n = norm_feed(&st, buf + cut, len - cut, out, map);
			int bad = 0;
			for (size_t k = 0; k < n; k++)
				bad += norm_offset(&before, buf + cut, len - cut, k) != map[k];
			CHECK_EQ_INT(bad, 0);
			CHECK(norm_offset(&before, buf + cut, len - cut, n) == UINT64_MAX);
			CHECK_EQ_INT(before.in_pos, cut); /* the copy is left alone */
		}
	}
	free(out);
	free(map);
}

/* For every code point and every flag combination the output stays within
 * NORM_MAX_EXPANSION per input byte, and the bound is reached. */
static void test_output_bound(void)
{
	uint8_t in[4], out[NORM_MAX_EXPANSION * 4 + 8];
	size_t worst = 0;
	for (unsigned f = 0; f <= NORM_ALL; f++) {
		for (uint32_t cp = 0; cp < 0x110000; cp++) {
			if (cp >= 0xd800 && cp <= 0xdfff)
				continue;
			int k = (int)utf8_encode(in, cp);
			size_t n = norm_string(f, in, (size_t)k, out);
			if (n > NORM_MAX_EXPANSION * (size_t)k) {
				CHECK_EQ_INT(cp, -1);
				return;
			}
			if (n * 4 / (size_t)k > worst)
				worst = n * 4 / (size_t)k;
		}
	}
	CHECK_EQ_INT(worst, NORM_MAX_EXPANSION * 4); /* U+3316 */
	CHECK_STR(N(NORM_NFKC_CF, "\u3316"), "キロメートル");
	CHECK(strlen(N(NORM_NFKC_CF, "\ufdfa")) <= NORM_MAX_EXPANSION * 3);
}

/* The composed table (NORM_ALL) equals the per-step composition for every
 * code point, and each non-separator code point survives an ASCII context. */
static void test_table_equals_steps(void)
{
	uint8_t in[8], o1[64], o2[64];
	int bad = 0;
	for (uint32_t cp = 0; cp < 0x110000 && bad < 5; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		int k = (int)utf8_encode(in, cp);
		size_t n1 = norm_string(ALL, in, (size_t)k, o1);
		size_t n2 = norm_string(ALL | NORM_FORCE_SLOW, in, (size_t)k, o2);
		if (n1 != n2 || memcmp(o1, o2, n1)) {
			fprintf(stderr, "  U+%04X: table and steps differ\n", cp);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
}

/* Blocks of 8+ bytes take the NORM_ALL path's SWAR ASCII mapping: every
 * ASCII byte, at every position of a block and next to non-ASCII, must map
 * as in the per-step path (and offsets agree). */
static void test_ascii_blocks(void)
{
	uint8_t in[32], o1[NORM_MAX_EXPANSION * 36], o2[NORM_MAX_EXPANSION * 36];
	uint64_t m1[NORM_MAX_EXPANSION * 36], m2[NORM_MAX_EXPANSION * 36];
	int bad = 0;
	for (unsigned b = 0; b < 128; b++) {
		for (unsigned at = 0; at < 20; at++) {
			/* "xY7-" filler, the byte under test, and a 3-byte character */
			for (unsigned k = 0; k < sizeof(in); k++)
				in[k] = (uint8_t) "xY7-"[k % 4];
			in[at] = (uint8_t)b;
			memcpy(in + 24 - (at % 5), "\xe5\x85\x8d", 3);
			struct norm_state s1, s2;
			norm_init(&s1, ALL);
			norm_init(&s2, ALL | NORM_FORCE_SLOW);
			size_t n1 = norm_feed(&s1, in, sizeof(in), o1, m1);
			size_t n2 = norm_feed(&s2, in, sizeof(in), o2, m2);
			if (n1 != n2 || memcmp(o1, o2, n1) || memcmp(m1, m2, n1 * 8))
				bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_STR(N(ALL, "ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{ abcdefghijklmnopqrstuvwxyz 0123456789/:"),
	          "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789");
}

/* Without an offset map, all-ASCII 16-byte blocks take a SIMD path where
 * the CPU has one: random mixes of ASCII (letters, digits, punctuation,
 * runs of every length) and CJK, fed whole and in random pieces, must come
 * out as the per-step path makes them. */
static void test_ascii_simd_blocks(void)
{
	static const char *bits[] = {"Hello",
	                             " ",
	                             "WORLD",
	                             "-",
	                             "x7",
	                             "0123456789",
	                             ", ",
	                             "免费",
	                             "領取",
	                             "ＡＩ",
	                             "abcdefghijklmnopqrstuvwxyz",
	                             "ABCDEFGHIJKLMNOP",
	                             "\t\n",
	                             "@[`{/:",
	                             "é",
	                             "z"};
	uint8_t in[600], o1[NORM_MAX_EXPANSION * 600], o2[NORM_MAX_EXPANSION * 600];
	uint32_t r = 12345;
	int bad = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = 0;
		while (n < 500) {
			r = r * 1103515245u + 12345u;
			const char *b = bits[(r >> 16) % (sizeof(bits) / sizeof(bits[0]))];
			memcpy(in + n, b, strlen(b));
			n += strlen(b);
		}
		size_t cut = (r >> 8) % n;
		struct norm_state s1, s2;
		norm_init(&s1, ALL);
		norm_init(&s2, ALL | NORM_FORCE_SLOW);
		size_t n1 = norm_feed(&s1, in, round % 2 ? cut : n, o1, NULL);
		if (round % 2)
			n1 += norm_feed(&s1, in + cut, n - cut, o1 + n1, NULL);
		size_t n2 = norm_feed(&s2, in, n, o2, NULL);
		if (n1 != n2 || memcmp(o1, o2, n1))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
}

/* Without an offset map, runs of 3-byte characters go five at a time and
 * the ASCII before them 16 bytes a step where the CPU has the SIMD path:
 * random mixes of ASCII, 2-, 3- (CJK, E0 and ED leads, entries that
 * expand past 3 bytes, separators) and 4-byte characters and invalid
 * sequences (overlong, surrogate, stray and truncated), fed whole, split
 * in two at every position and in random pieces, must come out as the
 * per-step path makes them. */
static void test_cjk_runs(void)
{
	static const char *bits[] = {
	    /* valid 3-byte runs (E0 and ED leads too), overlong ("A", U+07FF),
	     * surrogate */
	    "免费领取", "詐騙", "银行转账账户", "，", "。", "ＡＩ", "\u0904", "\u0939\u093f",
	    "\ud4db", "\ud7a3\ud55c", "\xe0\x81\x81", "\xe0\x9f\xbf", "\xed\xa0\x80",
	    /* the rest */
	    "\u3316", "\ufdfa", "\u3000", "\u200b", "\uf900", "é", "\u0430", "\u00a0", "🎁", "𝐀",
	    "\x80", "\xe4\xb8", "\xf0\x9f", "\xc0\xaf", "\xff", "Hello", " ", "x7",
	    "ABCDEFGHIJKLMNOPQ", "-", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xef\xbf\xbf"};
	enum { N = 400 };
	uint8_t in[N + 64], o1[NORM_MAX_EXPANSION * (N + 64)], o2[NORM_MAX_EXPANSION * (N + 64)];
	int bad = 0;
	for (int round = 0; round < 400 && bad < 5; round++) {
		size_t n = 0;
		while (n < N) {
			uint32_t r = rnd();
			/* mostly 3-byte, so runs of every length and alignment occur */
			const char *b = bits[r / 3 % (r % 3 ? 13 : sizeof(bits) / sizeof(bits[0]))];
			memcpy(in + n, b, strlen(b));
			n += strlen(b);
		}
		struct norm_state s2;
		norm_init(&s2, ALL | NORM_FORCE_SLOW);
		size_t n2 = norm_feed(&s2, in, n, o2, NULL);
		size_t n1 = norm_string(ALL, in, n, o1);
		if (n1 != n2 || memcmp(o1, o2, n1))
			bad++;
		for (size_t cut = 0; cut <= n && round % 8 == 0; cut++) {
			struct norm_state s1;
			norm_init(&s1, ALL);
			n1 = norm_feed(&s1, in, cut, o1, NULL);
			n1 += norm_feed(&s1, in + cut, n - cut, o1 + n1, NULL);
			if (n1 != n2 || memcmp(o1, o2, n1))
				bad++;
		}
		struct norm_state s1;
		norm_init(&s1, ALL);
		n1 = 0;
		for (size_t i = 0; i < n;) {
			size_t k = 1 + rnd() % 40;
			if (k > n - i)
				k = n - i;
			n1 += norm_feed(&s1, in + i, k, o1 + n1, NULL);
			i += k;
		}
		if (n1 != n2 || memcmp(o1, o2, n1))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	/* a long run, ending at every offset of a 16-byte step */
	for (size_t k = 0; k < 40; k++) {
		size_t n = 0;
		memcpy(in, "ab", 2), n = 2;
		for (size_t j = 0; j < k; j++)
			memcpy(in + n, "領", 3), n += 3;
		memcpy(in + n, "xyz", 3), n += 3;
		char want[256];
		size_t w = 0;
		memcpy(want, "ab", 2), w = 2;
		for (size_t j = 0; j < k; j++)
			memcpy(want + w, "领", 3), w += 3;
		memcpy(want + w, "xyz", 4);
		CHECK(norm_string(ALL, in, n, o1) == w + 3 && !memcmp(o1, want, w + 3));
	}
}

/* The matching form is a fixed point: normalizing it again changes
 * nothing, so a rule written in normalized form matches itself. */
static void test_idempotent(void)
{
	uint8_t in[8], o1[64], o2[NORM_MAX_EXPANSION * 64];
	int bad = 0;
	for (uint32_t cp = 0x80; cp < 0x110000; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		int k = (int)utf8_encode(in, cp);
		size_t n1 = norm_string(ALL, in, (size_t)k, o1);
		size_t n2 = norm_string(ALL, o1, n1, o2);
		if (n1 != n2 || memcmp(o1, o2, n1)) {
			if (bad < 10)
				fprintf(stderr, "  U+%04X: not idempotent\n", cp);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
}

/* The same two differential tests on the narrower paths: SSSE3 ASCII
 * blocks with the 8-byte SWAR steps (x86 without AVX2), and the portable
 * code alone (what ARM gateways run). */
static void test_narrower_paths(void)
{
	for (int lv = 1; lv >= 0; lv--) {
		norm_simd = lv;
		test_ascii_simd_blocks();
		test_cjk_runs();
	}
	norm_simd = 2;
}

int main(void)
{
	RUN(test_nfkc_fullwidth_and_case);
	RUN(test_accents);
	RUN(test_ignorable);
	RUN(test_separators);
	RUN(test_t2s);
	RUN(test_confusables);
	RUN(test_combined);
	RUN(test_each_flag_off);
	RUN(test_parse_flags);
	RUN(test_byte_feeds);
	RUN(test_split_utf8);
	RUN(test_invalid_utf8);
	RUN(test_offmap);
	RUN(test_offset_on_demand);
	RUN(test_output_bound);
	RUN(test_table_equals_steps);
	RUN(test_ascii_blocks);
	RUN(test_ascii_simd_blocks);
	RUN(test_cjk_runs);
	RUN(test_narrower_paths);
	RUN(test_idempotent);
	return UNIT_DONE();
}
