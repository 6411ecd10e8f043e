/* charset.c - charset labels, UTF-8 validation and iconv streaming. */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

static const uint8_t FFFD[3] = {0xEF, 0xBF, 0xBD};

/* glibc keeps a small struct plus one step per conversion; the modules
 * themselves are shared.  Measured roughly, rounded up. */
#define ICONV_MEM_EST 1024

static const char *const iconv_names[CS_COUNT] = {
    [CS_UTF8] = "UTF-8",           [CS_GB18030] = "GB18030",  [CS_BIG5] = "BIG5-HKSCS",
    [CS_UTF16LE] = "UTF-16LE",     [CS_UTF16BE] = "UTF-16BE", [CS_UTF16] = "UTF-16LE",
    [CS_WIN1252] = "WINDOWS-1252",
};

static const struct {
	const char *label;
	uint8_t id;
} labels[] = {
    {"utf-8", CS_UTF8},
    {"utf8", CS_UTF8},
    {"unicode-1-1-utf-8", CS_UTF8},
    {"x-unicode20utf8", CS_UTF8},
    {"gbk", CS_GB18030},
    {"x-gbk", CS_GB18030},
    {"gb2312", CS_GB18030},
    {"gb_2312", CS_GB18030},
    {"gb_2312-80", CS_GB18030},
    {"csgb2312", CS_GB18030},
    {"chinese", CS_GB18030},
    {"iso-ir-58", CS_GB18030},
    {"csiso58gb231280", CS_GB18030},
    {"cp936", CS_GB18030},
    {"ms936", CS_GB18030},
    {"windows-936", CS_GB18030},
    {"euc-cn", CS_GB18030},
    {"gb18030", CS_GB18030},
    {"big5", CS_BIG5},
    {"big5-hkscs", CS_BIG5},
    {"cn-big5", CS_BIG5},
    {"csbig5", CS_BIG5},
    {"x-x-big5", CS_BIG5},
    {"cp950", CS_BIG5},
    {"utf-16le", CS_UTF16LE},
    {"utf-16be", CS_UTF16BE},
    {"utf-16", CS_UTF16},
    {"unicodefffe", CS_UTF16BE},
    {"unicode", CS_UTF16},
    {"csunicode", CS_UTF16},
    {"iso-10646-ucs-2", CS_UTF16},
    {"ucs-2", CS_UTF16},
    {"iso-8859-1", CS_WIN1252},
    {"iso8859-1", CS_WIN1252},
    {"iso_8859-1", CS_WIN1252},
    {"iso88591", CS_WIN1252},
    {"latin1", CS_WIN1252},
    {"l1", CS_WIN1252},
    {"cp819", CS_WIN1252},
    {"ibm819", CS_WIN1252},
    {"csisolatin1", CS_WIN1252},
    {"iso-ir-100", CS_WIN1252},
    {"us-ascii", CS_WIN1252},
    {"ascii", CS_WIN1252},
    {"ansi_x3.4-1968", CS_WIN1252},
    {"windows-1252", CS_WIN1252},
    {"cp1252", CS_WIN1252},
    {"x-cp1252", CS_WIN1252},
};

int cs_lookup(const char *label, size_t len)
{
	while (len && (*label == ' ' || *label == '\t' || *label == '"' || *label == '\'')) {
		label++;
		len--;
	}
	while (len && (label[len - 1] == ' ' || label[len - 1] == '\t' || label[len - 1] == '"' ||
	               label[len - 1] == '\'' || label[len - 1] == ';'))
		len--;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strlen(labels[i].label) == len && !strncasecmp(labels[i].label, label, len))
			return labels[i].id;
	return -1;
}

const char *cs_name(int id)
{
	return id >= 0 && id < CS_COUNT ? iconv_names[id] : "?";
}

static void bad(struct charset *c, tsf_out_fn out, void *ud)
{
	if (c->stats)
		c->stats->charset_invalid++;
	out(ud, FFFD, 3);
}

static int setup(struct charset *c, int id)
{
	if (c->cd) {
		iconv_close((iconv_t)c->cd);
		c->cd = NULL;
	}
	c->id = (uint8_t)id;
	c->need = 0;
	if (id == CS_UTF8)
		return 0;
	iconv_t cd = iconv_open("UTF-8", iconv_names[id]);
	if (cd == (iconv_t)-1) {
		c->id = CS_UTF8;
		return -1;
	}
	c->cd = cd;
	return 0;
}

int cs_begin(struct charset *c, int id, int bom, struct tsf_stats *stats)
{
	memset(c, 0, sizeof(*c));
	c->stats = stats;
	c->guess = id == CS_GUESS;
	if (id < 0 || id >= CS_COUNT)
		id = CS_UTF8;
	c->sniff = bom ? 1 : 0;
	return setup(c, id);
}

size_t cs_memsize(const struct charset *c)
{
	return c->cd ? ICONV_MEM_EST : 0;
}

/* ---- UTF-8 validation (WHATWG decoder: one U+FFFD per maximal subpart) ---- */

int cs_utf8_simd = 2;

/* Valid text is the common case and the per-byte checks below cost ~10% of
 * a scan, so where SSSE3 is there valid stretches are first checked 16
 * bytes a step with Keiser and Lemire's three-table method ("Validating
 * UTF-8 in less than one instruction per byte", 2021): every error shows
 * up in a pair (previous byte, byte) looked up by three nibbles, except a
 * missing 2nd/3rd continuation byte, found from the bytes 2 and 3 back.
 * It only says where valid text ends; invalid bytes still go through the
 * scalar code, which decides the replacements.  AVX2 where the CPU has it
 * (32 bytes a step), else SSSE3. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CS_SSSE3 1

enum {
	TOO_SHORT = 1 << 0,      /* 11______ 0_______ or 11______ 11______ */
	TOO_LONG = 1 << 1,       /* 0_______ 10______ */
	OVERLONG_3 = 1 << 2,     /* 11100000 100_____ */
	TOO_LARGE = 1 << 3,      /* 11110100 1001____ and up */
	SURROGATE = 1 << 4,      /* 11101101 101_____ */
	OVERLONG_2 = 1 << 5,     /* 1100000_ 10______ */
	TOO_LARGE_1000 = 1 << 6, /* 11110101 1000____ and up */
	OVERLONG_4 = 1 << 6,     /* 11110000 1000____ */
	TWO_CONTS = 1 << 7,      /* 10______ 10______ */
	CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
	TL = TOO_LARGE | TOO_LARGE_1000,
};

/* The three tables, indexed by a nibble: high nibble of the previous
 * byte, its low nibble, high nibble of the byte. */
static const uint8_t tab_hi1[16] = {TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TOO_LONG,
                                    TWO_CONTS,
                                    TWO_CONTS,
                                    TWO_CONTS,
                                    TWO_CONTS,
                                    TOO_SHORT | OVERLONG_2,
                                    TOO_SHORT,
                                    TOO_SHORT | OVERLONG_3 | SURROGATE,
                                    TOO_SHORT | TL | OVERLONG_4};
static const uint8_t tab_lo1[16] = {CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
                                    CARRY | OVERLONG_2,
                                    CARRY,
                                    CARRY,
                                    CARRY | TOO_LARGE,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL,
                                    CARRY | TL | SURROGATE,
                                    CARRY | TL,
                                    CARRY | TL};
static const uint8_t tab_hi2[16] = {TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 |
                                        TOO_LARGE_1000 | OVERLONG_4,
                                    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
                                    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
                                    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT,
                                    TOO_SHORT};

static int simd_level; /* 2 AVX2, 1 SSSE3, 0 none */
__attribute__((constructor)) static void cs_cpu_init(void)
{
	simd_level = __builtin_cpu_supports("avx2") ? 2 : __builtin_cpu_supports("ssse3") ? 1 : 0;
}

/* in[0..i) passed the block check; backs off from i to the start of a
 * character the block edge cut (its continuation bytes belong to the
 * block that stopped the check, which did not pass). */
static size_t back_off(const uint8_t *in, size_t i)
{
	if (i == 0)
		return 0;
	size_t p = i - 1;
	while (p > 0 && i - p < 4 && (in[p] & 0xc0) == 0x80)
		p--;
	uint8_t b = in[p];
	size_t need = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
	return p + need <= i ? i : p;
}

/* Length of the longest prefix of in[0..len) made of whole valid
 * characters that these find (in[0] starts a character); may stop early.
 * Read only in[0..len). */
__attribute__((target("ssse3"))) static size_t valid_prefix_ssse3(const uint8_t *in, size_t len)
{
	const __m128i hi1 = _mm_loadu_si128((const __m128i *)tab_hi1);
	const __m128i lo1 = _mm_loadu_si128((const __m128i *)tab_lo1);
	const __m128i hi2 = _mm_loadu_si128((const __m128i *)tab_hi2);
	const __m128i nib = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
	const __m128i third = _mm_set1_epi8(0xe0 - 0x80), fourth = _mm_set1_epi8(0xf0 - 0x80);
	const __m128i x80 = _mm_set1_epi8((char)0x80);
	__m128i prev = zero;
	size_t i = 0;
	for (; i + 16 <= len; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));
		__m128i p1 = _mm_alignr_epi8(v, prev, 15);
		__m128i sc = _mm_and_si128(
		    _mm_and_si128(_mm_shuffle_epi8(hi1, _mm_and_si128(_mm_srli_epi16(p1, 4), nib)),
		                  _mm_shuffle_epi8(lo1, _mm_and_si128(p1, nib))),
		    _mm_shuffle_epi8(hi2, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
		__m128i must = _mm_or_si128(_mm_subs_epu8(_mm_alignr_epi8(v, prev, 14), third),
		                            _mm_subs_epu8(_mm_alignr_epi8(v, prev, 13), fourth));
		__m128i err = _mm_xor_si128(_mm_and_si128(must, x80), sc);
		if (_mm_movemask_epi8(_mm_cmpeq_epi8(err, zero)) != 0xffff)
			break;
		prev = v;
	}
	return back_off(in, i);
}

/* The same 32 bytes a step; alignr works per 128-bit lane, so the bytes
 * before each lane come from a lane-swapped copy. */
__attribute__((target("avx2"))) static size_t valid_prefix_avx2(const uint8_t *in, size_t len)
{
	const __m256i hi1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab_hi1));
	const __m256i lo1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab_lo1));
	const __m256i hi2 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab_hi2));
	const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
	const __m256i third = _mm256_set1_epi8(0xe0 - 0x80);
	const __m256i fourth = _mm256_set1_epi8(0xf0 - 0x80);
	const __m256i x80 = _mm256_set1_epi8((char)0x80);
	__m256i prev = zero;
	size_t i = 0;
	for (; i + 32 <= len; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(in + i));
		__m256i pv = _mm256_permute2x128_si256(prev, v, 0x21); /* prev.hi, v.lo */
		__m256i p1 = _mm256_alignr_epi8(v, pv, 15);
		__m256i sc = _mm256_and_si256(
		    _mm256_and_si256(
		        _mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
		        _mm256_shuffle_epi8(lo1, _mm256_and_si256(p1, nib))),
		    _mm256_shuffle_epi8(hi2, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
		__m256i must =
		    _mm256_or_si256(_mm256_subs_epu8(_mm256_alignr_epi8(v, pv, 14), third),
		                    _mm256_subs_epu8(_mm256_alignr_epi8(v, pv, 13), fourth));
		__m256i err = _mm256_xor_si256(_mm256_and_si256(must, x80), sc);
		if (!_mm256_testz_si256(err, err))
			break;
		prev = v;
	}
	return back_off(in, i);
}
#endif

static void utf8_feed(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	size_t i = 0;

	/* Complete a sequence carried over from the previous feed. */
	while (c->need && i < len) {
		uint8_t b = in[i];
		if (b < c->lo || b > c->hi) {
			c->need = 0;
			c->ncarry = 0;
			bad(c, out, ud); /* b is not consumed: it may start something */
			break;
		}
		c->lo = 0x80;
		c->hi = 0xBF;
		c->carry[c->ncarry++] = b;
		i++;
		if (--c->need == 0) {
			out(ud, c->carry, c->ncarry);
			c->ncarry = 0;
		}
	}
	if (c->need)
		return;

	size_t start = i;
#ifdef CS_SSSE3
	int lv = cs_utf8_simd < simd_level ? cs_utf8_simd : simd_level;
#endif
	while (i < len) {
#ifdef CS_SSSE3
		if (len - i >= 32 && lv)
			i += lv == 2 ? valid_prefix_avx2(in + i, len - i)
			             : valid_prefix_ssse3(in + i, len - i);
#endif
		/* ASCII fast path, eight bytes at a time. */
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, in + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		/* Runs of valid 2- and 3-byte characters (CJK text), one
		 * branch-light step each; anything else takes the general path. */
		while (i + 3 <= len) {
			uint8_t b0 = in[i], b1 = in[i + 1], b2 = in[i + 2];
			if ((b0 & 0xF0) == 0xE0 && (b1 & 0xC0) == 0x80 && (b2 & 0xC0) == 0x80) {
				uint32_t cp = (uint32_t)(b0 & 0x0F) << 12 | (uint32_t)(b1 & 0x3F)
				                                                << 6;
				if (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))
					break; /* overlong or surrogate */
				i += 3;
			} else if ((b0 & 0xE0) == 0xC0 && b0 >= 0xC2 && (b1 & 0xC0) == 0x80) {
				i += 2;
			} else if (b0 < 0x80) {
				i++;
				if (i + 8 <= len &&
				    !((in[i] | in[i + 1] | in[i + 2] | in[i + 3]) & 0x80))
					break; /* back to the 8-byte ASCII loop */
			} else {
				break;
			}
		}
		if (i >= len)
			break;
		uint8_t b = in[i];
		if (b < 0x80) {
			i++;
			continue;
		}
		unsigned need;
		uint8_t lo = 0x80, hi = 0xBF;
		if (b >= 0xC2 && b <= 0xDF) {
			need = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			need = 2;
			if (b == 0xE0)
				lo = 0xA0;
			else if (b == 0xED)
				hi = 0x9F;
		} else if (b >= 0xF0 && b <= 0xF4) {
			need = 3;
			if (b == 0xF0)
				lo = 0x90;
			else if (b == 0xF4)
				hi = 0x8F;
		} else {
			if (i > start)
				out(ud, in + start, i - start);
			bad(c, out, ud);
			start = ++i;
			continue;
		}
		unsigned j = 1;
		for (; j <= need && i + j < len; j++) {
			uint8_t t = in[i + j];
			if (t < lo || t > hi)
				break;
			lo = 0x80;
			hi = 0xBF;
		}
		if (j > need) {
			i += need + 1;
			continue;
		}
		if (i > start)
			out(ud, in + start, i - start);
		if (i + j == len) {
			/* Valid so far but cut by the end of this feed. */
			memcpy(c->carry, in + i, j);
			c->ncarry = (uint8_t)j;
			c->need = (uint8_t)(need + 1 - j);
			c->lo = lo;
			c->hi = hi;
			return;
		}
		bad(c, out, ud);
		i += j;
		start = i;
	}
	if (i > start)
		out(ud, in + start, i - start);
}

void cs_utf8_once(const uint8_t *in, size_t len, tsf_out_fn out, void *ud, struct tsf_stats *stats)
{
	struct charset c;
	memset(&c, 0, sizeof(c));
	c.stats = stats;
	utf8_feed(&c, in, len, out, ud);
	if (c.need)
		bad(&c, out, ud);
}

/* ---- iconv ---- */

/* Converts as much as possible; returns bytes consumed.  Stops early only at
 * an incomplete sequence at the end of the input (EINVAL). */
static size_t conv(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	char obuf[4096];
	char *ip = (char *)in;
	size_t il = len;
	unsigned unit = (c->id == CS_UTF16LE || c->id == CS_UTF16BE || c->id == CS_UTF16) ? 2 : 1;

	while (il) {
		char *op = obuf;
		size_t ol = sizeof(obuf);
		size_t r = iconv((iconv_t)c->cd, &ip, &il, &op, &ol);
		int err = r == (size_t)-1 ? errno : 0;
		if (op > obuf)
			out(ud, (const uint8_t *)obuf, (size_t)(op - obuf));
		if (!err || err == E2BIG)
			continue;
		if (err == EINVAL)
			break;
		/* EILSEQ (or anything unexpected): replace one code unit. */
		bad(c, out, ud);
		size_t skip = il < unit ? il : unit;
		ip += skip;
		il -= skip;
	}
	return len - il;
}

static void iconv_feed(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	if (c->ncarry) {
		uint8_t tmp[sizeof(c->carry) + 16];
		size_t nc = c->ncarry;
		size_t k = len < 16 ? len : 16;
		memcpy(tmp, c->carry, nc);
		memcpy(tmp + nc, in, k);
		c->ncarry = 0;
		size_t used = conv(c, tmp, nc + k, out, ud);
		if (used >= nc) {
			in += used - nc;
			len -= used - nc;
		} else if (k == len && nc + k - used <= sizeof(c->carry)) {
			memcpy(c->carry, tmp + used, nc + k - used);
			c->ncarry = (uint8_t)(nc + k - used);
			return;
		} else {
			/* Longer than any charset's sequence: give up on it. */
			bad(c, out, ud);
			in += k;
			len -= k;
		}
	}
	size_t used = conv(c, in, len, out, ud);
	size_t left = len - used;
	while (left > sizeof(c->carry)) {
		bad(c, out, ud);
		used++;
		left--;
	}
	memcpy(c->carry, in + used, left);
	c->ncarry = (uint8_t)left;
}

/* ---- guessing ---- */

static void discard(void *ud, const uint8_t *p, size_t n)
{
	(void)ud;
	(void)p;
	(void)n;
}

int cs_guess(const uint8_t *buf, size_t len)
{
	if (len >= 2 && ((buf[0] == 0xFF && buf[1] == 0xFE) || (buf[0] == 0xFE && buf[1] == 0xFF)))
		return -1;
	if (len >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
		return -1;
	struct tsf_stats st;
	struct charset c;
	memset(&st, 0, sizeof(st));
	memset(&c, 0, sizeof(c));
	c.stats = &st;
	utf8_feed(&c, buf, len, discard, NULL); /* a cut trailing sequence is no error */
	if (!st.charset_invalid)
		return -1;
	memset(&st, 0, sizeof(st));
	if (setup(&c, CS_GB18030) < 0)
		return -1;
	conv(&c, buf, len, discard, NULL);
	iconv_close((iconv_t)c.cd);
	return st.charset_invalid ? -1 : CS_GB18030;
}

/* ---- BOM sniffing and dispatch ---- */

static void convert(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	if (c->cd)
		iconv_feed(c, in, len, out, ud);
	else
		utf8_feed(c, in, len, out, ud);
}

/* Settles an unlabelled stream on what is held and decodes the held bytes. */
static void guess_settle(struct charset *c, tsf_out_fn out, void *ud)
{
	c->guess = 0;
	if (cs_guess(c->hold, c->nhold) == CS_GB18030)
		setup(c, CS_GB18030); /* on failure: stays UTF-8 */
	size_t n = c->nhold;
	c->nhold = 0;
	convert(c, c->hold, n, out, ud);
}

static void dispatch(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	if (c->guess) {
		if (!c->nhold) { /* ASCII reads the same either way: pass it on */
			size_t j = 0;
			while (j < len && in[j] < 0x80)
				j++;
			if (j)
				utf8_feed(c, in, j, out, ud);
			in += j;
			len -= j;
		}
		size_t room = (size_t)CS_HOLD - c->nhold;
		size_t k = room < len ? room : len;
		memcpy(c->hold + c->nhold, in, k);
		c->nhold = (uint8_t)(c->nhold + k);
		in += k;
		len -= k;
		if (c->nhold < CS_HOLD)
			return;
		guess_settle(c, out, ud);
	}
	if (len)
		convert(c, in, len, out, ud);
}

/* Returns 1 once the BOM question is settled (then the carry holds the bytes
 * to decode, BOM removed). */
static int sniff_decide(struct charset *c, int final)
{
	const uint8_t *b = c->carry;
	size_t n = c->ncarry;
	int id = -1, bomlen = 0;

	if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
		id = CS_UTF8;
		bomlen = 3;
	} else if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) {
		id = CS_UTF16LE;
		bomlen = 2;
	} else if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF) {
		id = CS_UTF16BE;
		bomlen = 2;
	} else if (!final) {
		/* Undecided while the bytes are still a BOM prefix. */
		if (n == 0)
			return 0;
		if (b[0] == 0xEF && (n == 1 || (n == 2 && b[1] == 0xBB)))
			return 0;
		if ((b[0] == 0xFF || b[0] == 0xFE) && n == 1)
			return 0;
	}
	c->sniff = 0;
	if (id >= 0) {
		c->guess = 0; /* the BOM decides */
		memmove(c->carry, c->carry + bomlen, n - bomlen);
		c->ncarry = (uint8_t)(n - bomlen);
		if (id != c->id || (id == CS_UTF16LE && c->cd == NULL))
			setup(c, id);
	} else if (c->id == CS_UTF16) {
		/* Label "utf-16" without a BOM: little-endian, as browsers do. */
	}
	return 1;
}

static void sniff_flush(struct charset *c, tsf_out_fn out, void *ud)
{
	uint8_t tmp[sizeof(c->carry)];
	size_t n = c->ncarry;
	memcpy(tmp, c->carry, n);
	c->ncarry = 0;
	dispatch(c, tmp, n, out, ud);
}

void cs_feed(struct charset *c, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	while (c->sniff && len) {
		c->carry[c->ncarry++] = *in++;
		len--;
		if (sniff_decide(c, 0))
			sniff_flush(c, out, ud);
	}
	if (len)
		dispatch(c, in, len, out, ud);
}

void cs_end(struct charset *c, tsf_out_fn out, void *ud)
{
	if (c->sniff) {
		sniff_decide(c, 1);
		sniff_flush(c, out, ud);
	}
	if (c->guess)
		guess_settle(c, out, ud);
	if (c->cd) {
		if (c->ncarry)
			bad(c, out, ud);
		char obuf[64];
		char *op = obuf;
		size_t ol = sizeof(obuf);
		/* Stateful decoders (BIG5-HKSCS) may hold one character back. */
		iconv((iconv_t)c->cd, NULL, NULL, &op, &ol);
		if (op > obuf)
			out(ud, (const uint8_t *)obuf, (size_t)(op - obuf));
		iconv_close((iconv_t)c->cd);
		c->cd = NULL;
	} else if (c->need) {
		bad(c, out, ud);
	}
	c->ncarry = 0;
	c->need = 0;
}

void cs_abort(struct charset *c)
{
	if (c->cd)
		iconv_close((iconv_t)c->cd);
	c->cd = NULL;
	c->ncarry = 0;
	c->need = 0;
	c->sniff = 0;
	c->guess = 0;
	c->nhold = 0;
}
