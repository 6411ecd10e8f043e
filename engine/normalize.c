/* normalize.c - text -> matching form, from tables generated at build time.
 *
 * The tables come from engine/gen/gen_normtab.c (ICU data); nothing here
 * calls ICU.  Two paths:
 *   - flags == NORM_ALL (every rule literal and the scan path): one lookup per
 *     code point in a table holding the composed result of all steps;
 *   - any other flags: the steps are composed per code point from the
 *     per-step tables (norm_slow_cp, which mirrors the generator's compose()).
 * ASCII goes through a 128-entry table per flag combination; on the NORM_ALL
 * path eight bytes at a time (SWAR) while the input stays ASCII, and 16 at a
 * time (SSSE3, ascii_blocks) when no offset map is filled.  Without an
 * offset map and with AVX2, run_all_avx2 replaces run_all: the ASCII bytes
 * before the first other one of every 16 in one branch-free step, and runs
 * of 3-byte characters (CJK) five at a time (five3).
 */
#include <string.h>

#include "normalize.h"
#include "normtab.h"
#include "utf8.h"

_Static_assert(NT_MAX_EXPANSION_NUM <= NORM_MAX_EXPANSION * NT_MAX_EXPANSION_DEN,
               "generated data expands more than NORM_MAX_EXPANSION");
/* The 4-byte stores below rely on every non-ASCII character (>= 2 input
 * bytes) being allowed at least 4 output bytes. */
_Static_assert(NORM_MAX_EXPANSION >= 2, "NORM_MAX_EXPANSION too small");
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "inline table entries are stored little endian"
#endif

/* Entry encoding, see gen_normtab.c. */
#define TAG_ID 0xffu
#define AUX_T2S(a) ((a)&0x1fffffu)
#define AUX_IGN 0x200000u
#define AUX_SEP 0x400000u
#define AUX_CONF(a) (((a) >> 24) & 0x7fu)
#define MAXSEQ 40
/* The loops are written once and specialised by constant arguments. */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

static inline uint32_t lookup(const uint16_t *l1, const uint32_t *l2, uint32_t cp)
{
	return l2[(uint32_t)l1[cp >> 8] << 8 | (cp & 0xff)];
}

int norm_simd = 2;

void norm_init(struct norm_state *st, unsigned flags)
{
	memset(st, 0, sizeof(*st));
	st->flags = flags;
}

/* Decodes one UTF-8 character.  Returns its length, 0 if p[0..avail) is a
 * valid but incomplete prefix, -1 if p[0] starts no valid sequence (the
 * caller drops that one byte and resynchronises on the next). */
static inline int u8_decode(const uint8_t *p, size_t avail, uint32_t *cp)
{
	uint8_t b0 = p[0], lo = 0x80, hi = 0xbf;
	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	if (b0 < 0xc2)
		return -1;
	if (b0 < 0xe0) {
		if (avail < 2)
			return 0;
		if ((p[1] & 0xc0) != 0x80)
			return -1;
		*cp = (uint32_t)(b0 & 0x1f) << 6 | (p[1] & 0x3f);
		return 2;
	}
	if (b0 < 0xf0) {
		/* no overlongs (E0 80..9F), no surrogates (ED A0..BF) */
		if (b0 == 0xe0)
			lo = 0xa0;
		else if (b0 == 0xed)
			hi = 0x9f;
		if (avail < 2)
			return 0;
		if (p[1] < lo || p[1] > hi)
			return -1;
		if (avail < 3)
			return 0;
		if ((p[2] & 0xc0) != 0x80)
			return -1;
		*cp = (uint32_t)(b0 & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
		return 3;
	}
	if (b0 > 0xf4)
		return -1;
	if (b0 == 0xf0)
		lo = 0x90;
	else if (b0 == 0xf4)
		hi = 0x8f;
	if (avail < 2)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return -1;
	if (avail < 3)
		return 0;
	if ((p[2] & 0xc0) != 0x80)
		return -1;
	if (avail < 4)
		return 0;
	if ((p[3] & 0xc0) != 0x80)
		return -1;
	*cp = (uint32_t)(b0 & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	      (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
	return 4;
}

static int u8_width(uint32_t c)
{
	return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

/* The steps composed for one code point of inlen input bytes; must match
 * compose() in gen_normtab.c.  buf holds at least NORM_MAX_EXPANSION * 4. */
static int norm_slow_cp(unsigned flags, uint32_t cp, int inlen, uint8_t *buf)
{
	uint32_t seq[MAXSEQ];
	int n = 0, len = 0;
	if (flags & NORM_NFKC_CF) {
		uint32_t e = lookup(nt_nfkc_l1, nt_nfkc_l2, cp), tag = e & 0xff;
		if (tag == TAG_ID) {
			seq[n++] = cp;
		} else {
			uint8_t tmp[4];
			const uint8_t *s = tmp;
			if (tag <= 3)
				memcpy(tmp, (const uint8_t *)&e + 1, 3);
			else
				s = nt_pool + (e >> 8);
			/* generated data: valid UTF-8 of at most MAXSEQ characters */
			for (uint32_t i = 0; i < tag && n < MAXSEQ;)
				i += (uint32_t)u8_decode(s + i, tag - i, &seq[n++]);
		}
	} else {
		seq[n++] = cp;
	}
	for (int i = 0; i < n; i++) {
		uint32_t c = seq[i], a = lookup(nt_aux_l1, nt_aux_l2, c);
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
		/* The per-character cap that keeps NORM_MAX_EXPANSION true (it cuts
		 * U+FDFA only, see NT_CAPPED). */
		if (len + u8_width(c) > NORM_MAX_EXPANSION * inlen)
			break;
		len += (int)utf8_encode(buf + len, c);
	}
	return len;
}

/* Emits one non-ASCII character src[0..n) = cp.  See the bounds note in
 * norm_feed for the unconditional 4-byte stores. */
ALWAYS_INLINE size_t emit_cp(unsigned flags, int fast, uint32_t cp, const uint8_t *src, int n,
                             int src4, uint8_t *out, size_t o, uint64_t *offmap, uint64_t endoff)
{
	uint32_t len;
	if (fast) {
		uint32_t e = lookup(nt_all_l1, nt_all_l2, cp), tag = e & 0xff;
		if (tag <= 3) {
			uint32_t v = e >> 8;
			memcpy(out + o, &v, 4);
			len = tag;
		} else if (tag == TAG_ID) {
			if (src4)
				memcpy(out + o, src, 4);
			else
				memcpy(out + o, src, (size_t)n);
			len = (uint32_t)n;
		} else {
			memcpy(out + o, nt_pool + (e >> 8), tag);
			len = tag;
		}
	} else {
		uint8_t buf[NORM_MAX_EXPANSION * 4];
		len = (uint32_t)norm_slow_cp(flags, cp, n, buf);
		memcpy(out + o, buf, len);
	}
	if (offmap)
		for (uint32_t k = 0; k < len; k++)
			offmap[o + k] = endoff;
	return len;
}

/* The loop over in[0..len), specialised by the constant arguments.
 * Returns output bytes; an incomplete character at the end goes to st. */
ALWAYS_INLINE size_t run(struct norm_state *st, unsigned flags, int fast, const uint8_t *in,
                         size_t len, uint8_t *out, uint64_t *offmap, uint64_t base)
{
	const uint8_t *ao = nt_ascii_out[flags & NORM_ALL], *ak = nt_ascii_keep[flags & NORM_ALL];
	size_t i = 0, o = 0;
	while (i < len) {
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, in + i, 8);
			if (w & 0x8080808080808080ull)
				break;
#pragma GCC unroll 8
			for (int k = 0; k < 8; k++) {
				uint8_t b = in[i + k];
				out[o] = ao[b];
				if (offmap)
					offmap[o] = base + i + k + 1;
				o += ak[b];
			}
			i += 8;
		}
		/* Up to the next 8-byte ASCII stretch: byte by byte, and a run
		 * of 2- and 3-byte characters without leaving the loop. */
		while (i < len) {
			uint8_t b = in[i];
			if (b < 0x80) {
				out[o] = ao[b];
				if (offmap)
					offmap[o] = base + i + 1;
				o += ak[b];
				i++;
				if (i + 8 <= len &&
				    (in[i] | in[i + 1] | in[i + 2] | in[i + 3]) < 0x80)
					break;
				continue;
			}
			if (fast && i + 4 <= len) {
				uint32_t cp, n;
				uint8_t b1 = in[i + 1], b2 = in[i + 2];
				if ((b & 0xf0) == 0xe0) {
					cp = (uint32_t)(b & 0x0f) << 12 |
					     (uint32_t)(b1 & 0x3f) << 6 | (b2 & 0x3f);
					n = 3;
					if (!(((b1 & 0xc0) == 0x80) & ((b2 & 0xc0) == 0x80) &
					      (cp >= 0x800) & (cp - 0xd800 >= 0x800)))
						goto generic;
				} else if ((b & 0xe0) == 0xc0) {
					cp = (uint32_t)(b & 0x1f) << 6 | (b1 & 0x3f);
					n = 2;
					if (!(((b1 & 0xc0) == 0x80) & (b >= 0xc2)))
						goto generic;
				} else {
					goto generic;
				}
				uint32_t e = lookup(nt_all_l1, nt_all_l2, cp), tag = e & 0xff;
				if (__builtin_expect(tag <= 3, 1)) {
					/* 4-byte stores, see the bounds note in norm_feed */
					uint32_t v = e >> 8;
					memcpy(out + o, &v, 4);
					if (offmap) {
						uint64_t end = base + i + n;
						offmap[o] = end;
						offmap[o + 1] = end;
						offmap[o + 2] = end;
						offmap[o + 3] = end;
					}
					o += tag;
				} else {
					memcpy(out + o, nt_pool + (e >> 8), tag);
					if (offmap)
						for (uint32_t k = 0; k < tag; k++)
							offmap[o + k] = base + i + n;
					o += tag;
				}
				i += n;
				continue;
			}
		generic:;
			uint32_t cp;
			int n = u8_decode(in + i, len - i, &cp);
			if (n > 0) {
				o += emit_cp(flags, fast, cp, in + i, n, i + 4 <= len, out, o,
				             offmap, base + i + (size_t)n);
				i += (size_t)n;
			} else if (n < 0) {
				i++;
			} else {
				memcpy(st->pend, in + i, len - i);
				st->npend = (uint8_t)(len - i);
				return o;
			}
		}
	}
	return o;
}

/* One 2- or 3-byte character of the NORM_ALL path at in[0..4).  Returns its
 * length, or 0 for anything else (4-byte, invalid: the caller's general
 * path).  Stores 4 output bytes (and offsets), advancing *o by the real
 * count: see the bounds note in norm_feed. */
ALWAYS_INLINE uint32_t all_char(const uint8_t *in, uint8_t *out, size_t *o, uint64_t *offmap,
                                uint64_t end0)
{
	uint32_t b = in[0], b1 = in[1], b2 = in[2], cp, n;
	if ((b & 0xf0) == 0xe0) {
		cp = (b & 0x0f) << 12 | (b1 & 0x3f) << 6 | (b2 & 0x3f);
		n = 3;
		if (!(((b1 & 0xc0) == 0x80) & ((b2 & 0xc0) == 0x80) & (cp >= 0x800) &
		      (cp - 0xd800 >= 0x800)))
			return 0;
	} else if ((b & 0xe0) == 0xc0) {
		cp = (b & 0x1f) << 6 | (b1 & 0x3f);
		n = 2;
		if (!(((b1 & 0xc0) == 0x80) & (b >= 0xc2)))
			return 0;
	} else {
		return 0;
	}
	uint32_t e = lookup(nt_all_l1, nt_all_l2, cp), tag = e & 0xff;
	uint64_t end = end0 + n;
	if (__builtin_expect(tag <= 3, 1)) {
		uint32_t v = e >> 8;
		memcpy(out + *o, &v, 4);
		if (offmap) {
			offmap[*o] = end;
			offmap[*o + 1] = end;
			offmap[*o + 2] = end;
			offmap[*o + 3] = end;
		}
	} else {
		memcpy(out + *o, nt_pool + (e >> 8), tag);
		if (offmap)
			for (uint32_t k = 0; k < tag; k++)
				offmap[*o + k] = end;
	}
	*o += tag;
	return n;
}

/* All-ASCII stretches of the NORM_ALL path without an offset map, 16
 * bytes a step where SSSE3 is there: fold A-Z, keep letters and digits,
 * then compact each 8-byte half with one pshufb (ascii_compact[half][keep
 * mask] lists the kept positions).  Stops before the first block holding a
 * non-ASCII byte.  Writes up to 16 bytes past out + *o (the output bound
 * below allows it: ASCII never expands). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NORM_SSSE3 1
static uint64_t ascii_compact[2][256]; /* [1]: for the high half, +8 */
static int have_ssse3, have_avx2;

__attribute__((constructor)) static void ascii_compact_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		uint64_t v = 0;
		unsigned k = 0;
		for (unsigned b = 0; b < 8; b++)
			if (m >> b & 1)
				v |= (uint64_t)b << (8 * k++);
		uint64_t hi = 0;
		for (unsigned j = 0; j < k; j++)
			hi |= ((v >> (8 * j) & 0xff) + 8) << (8 * j);
		for (; k < 8; k++) {
			v |= (uint64_t)0x80 << (8 * k); /* pshufb: zero */
			hi |= (uint64_t)0x80 << (8 * k);
		}
		ascii_compact[0][m] = v;
		ascii_compact[1][m] = hi;
	}
	have_ssse3 = __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt");
	have_avx2 = have_ssse3 && __builtin_cpu_supports("avx2");
}

/* Stores the bytes of w whose bit is set in keep (16 bits), in order, at
 * out; writes 16 bytes.  Returns the count. */
__attribute__((target("ssse3,popcnt"), always_inline)) static inline unsigned
compact16(__m128i w, unsigned keep, uint8_t *out)
{
	__m128i sh = _mm_set_epi64x((long long)ascii_compact[1][keep >> 8],
	                            (long long)ascii_compact[0][keep & 0xff]);
	__m128i c = _mm_shuffle_epi8(w, sh);
	unsigned nl = (unsigned)__builtin_popcount(keep & 0xff);
	_mm_storel_epi64((__m128i *)out, c);
	_mm_storel_epi64((__m128i *)(out + nl), _mm_srli_si128(c, 8));
	return nl + (unsigned)__builtin_popcount(keep >> 8);
}

/* NORM_ALL's ASCII mapping of the bytes of v: folded A-Z in *lw, a mask of
 * the letters and digits (the bytes kept) returned. */
__attribute__((target("ssse3,popcnt"), always_inline)) static inline __m128i ascii_fold(__m128i v,
                                                                                        __m128i *lw)
{
	const __m128i A = _mm_set1_epi8('A' - 1), Z = _mm_set1_epi8('Z' + 1);
	const __m128i a = _mm_set1_epi8('a' - 1), z = _mm_set1_epi8('z' + 1);
	const __m128i d0 = _mm_set1_epi8('0' - 1), d9 = _mm_set1_epi8('9' + 1);
	__m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, A), _mm_cmplt_epi8(v, Z));
	__m128i lo = _mm_and_si128(_mm_cmpgt_epi8(v, a), _mm_cmplt_epi8(v, z));
	__m128i dg = _mm_and_si128(_mm_cmpgt_epi8(v, d0), _mm_cmplt_epi8(v, d9));
	*lw = _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20)));
	return _mm_or_si128(_mm_or_si128(up, lo), dg);
}

/* One all-ASCII 16-byte block v to out; returns the bytes kept. */
__attribute__((target("ssse3,popcnt"), always_inline)) static inline unsigned
ascii_block(__m128i v, uint8_t *out)
{
	__m128i lw, keep = ascii_fold(v, &lw);
	return compact16(lw, (unsigned)_mm_movemask_epi8(keep), out);
}

__attribute__((target("ssse3,popcnt"))) static size_t ascii_blocks(const uint8_t *in, size_t len,
                                                                   size_t *ip, uint8_t *out)
{
	size_t i = *ip, o = 0;
	while (i + 16 <= len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));
		if (_mm_movemask_epi8(v))
			break;
		o += ascii_block(v, out + o);
		i += 16;
	}
	*ip = i;
	return o;
}

/* Five valid 3-byte characters at in[0..15) whose entries are inline:
 * the pattern checked with one compare (and E0/ED's narrower second
 * bytes), the code points decoded in 16-bit lanes, five lookups, 4-byte
 * stores (the bounds note in norm_feed).  Returns 0 and advances nothing
 * otherwise.  Reads in[0..16). */
__attribute__((target("avx2,popcnt"), always_inline)) static inline int
five3(const uint8_t *in, uint8_t *out, size_t *o)
{
	const __m128i pm = _mm_setr_epi8(-16, -64, -64, -16, -64, -64, -16, -64, -64, -16, -64, -64,
	                                 -16, -64, -64, 0);
	const __m128i ex = _mm_setr_epi8(-32, -128, -128, -32, -128, -128, -32, -128, -128, -32,
	                                 -128, -128, -32, -128, -128, 0);
	__m128i v = _mm_loadu_si128((const __m128i *)in);
	unsigned ok = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_and_si128(v, pm), ex));
	/* E0 80..9F (overlong) and ED A0..BF (surrogates) are invalid */
	__m128i nx = _mm_srli_si128(v, 1);
	unsigned bad = (unsigned)_mm_movemask_epi8(
	    _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xe0)),
	                               _mm_cmplt_epi8(nx, _mm_set1_epi8((char)0xa0))),
	                 _mm_and_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xed)),
	                               _mm_cmpgt_epi8(nx, _mm_set1_epi8((char)0x9f)))));
	if (ok != 0xffff || (bad & 0x1249))
		return 0;
	/* 16-bit lanes b0 << 8 | b1 and b2, then the code points */
	__m128i x = _mm_shuffle_epi8(
	    v, _mm_setr_epi8(1, 0, 4, 3, 7, 6, 10, 9, 13, 12, -1, -1, -1, -1, -1, -1));
	__m128i y = _mm_shuffle_epi8(
	    v, _mm_setr_epi8(2, -1, 5, -1, 8, -1, 11, -1, 14, -1, -1, -1, -1, -1, -1, -1));
	__m128i cp =
	    _mm_or_si128(_mm_or_si128(_mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x0f00)), 4),
	                              _mm_slli_epi16(_mm_and_si128(x, _mm_set1_epi16(0x3f)), 6)),
	                 _mm_and_si128(y, _mm_set1_epi16(0x3f)));
	uint64_t c = (uint64_t)_mm_cvtsi128_si64(cp);
	uint32_t e0 = lookup(nt_all_l1, nt_all_l2, (uint32_t)c & 0xffff);
	uint32_t e1 = lookup(nt_all_l1, nt_all_l2, (uint32_t)(c >> 16) & 0xffff);
	uint32_t e2 = lookup(nt_all_l1, nt_all_l2, (uint32_t)(c >> 32) & 0xffff);
	uint32_t e3 = lookup(nt_all_l1, nt_all_l2, (uint32_t)(c >> 48));
	uint32_t e4 = lookup(nt_all_l1, nt_all_l2, (uint32_t)_mm_extract_epi16(cp, 4));
	if ((e0 | e1 | e2 | e3 | e4) & 0xfc)
		return 0;
	uint32_t w;
	size_t k = *o;
	w = e0 >> 8, memcpy(out + k, &w, 4), k += e0 & 0xff;
	w = e1 >> 8, memcpy(out + k, &w, 4), k += e1 & 0xff;
	w = e2 >> 8, memcpy(out + k, &w, 4), k += e2 & 0xff;
	w = e3 >> 8, memcpy(out + k, &w, 4), k += e3 & 0xff;
	w = e4 >> 8, memcpy(out + k, &w, 4), k += e4 & 0xff;
	*o = k;
	return 1;
}

/* run_all without an offset map where AVX2 is there (the intrinsics are
 * SSSE3/SSE4.1 ones; the VEX encoding measured faster).  Each step maps the
 * ASCII bytes of 16 before the first other one (ascii_fold, compact16:
 * branch-free for any count, so short English words between Chinese ones
 * cost no mispredicted exit), then converts the run of other characters
 * that follows: five3 while it matches, all_char otherwise; five3 is tried
 * again after a character that was not a plain 3-byte one (a short run
 * of CJK does not pay for the failed tries). */
__attribute__((target("avx2,popcnt"))) static size_t
run_all_avx2(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out, uint64_t base)
{
	size_t i = 0, o = 0;
	while (i + 16 <= len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i)), lw;
		unsigned na = (unsigned)__builtin_ctz((unsigned)_mm_movemask_epi8(v) | 1u << 16);
		unsigned keep = (unsigned)_mm_movemask_epi8(ascii_fold(v, &lw)) & ((1u << na) - 1);
		/* 16-byte store: see the bounds note in norm_feed */
		o += compact16(lw, keep, out + o);
		i += na;
		int try5 = 1;
		while (i + 4 <= len && in[i] >= 0x80) {
			if (try5 && i + 16 <= len && five3(in + i, out, &o)) {
				i += 15;
				continue;
			}
			uint32_t n = all_char(in + i, out, &o, NULL, 0);
			if (!n) {
				uint32_t cp;
				int m = u8_decode(in + i, len - i, &cp);
				if (m > 0)
					o +=
					    emit_cp(NORM_ALL, 1, cp, in + i, m, 1, out, o, NULL, 0);
				n = m > 0 ? (uint32_t)m : 1;
			}
			try5 = n != 3;
			i += n;
		}
	}
	return o + run(st, NORM_ALL, 1, in + i, len - i, out + o, NULL, base + i);
}
#endif

/* The NORM_ALL path.  Mixed text switches between ASCII and other scripts
 * every few bytes, so instead of branching per byte it takes 8 bytes, runs
 * the ASCII table over all of them branch-free but only counts the bytes
 * before the first non-ASCII one (all 8 in an ASCII block), then converts
 * the following run of non-ASCII characters. */
ALWAYS_INLINE size_t run_all(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out,
                             uint64_t *offmap, uint64_t base)
{
	size_t i = 0, o = 0;
#ifdef NORM_SSSE3
	const int ssse3 = !offmap && have_ssse3 && norm_simd >= 1;
#endif
	while (i + 8 <= len) {
#ifdef NORM_SSSE3
		if (ssse3 && i + 16 <= len) {
			/* only worth the call at the start of a 16-byte ASCII run */
			uint64_t w0, w1;
			memcpy(&w0, in + i, 8);
			memcpy(&w1, in + i + 8, 8);
			if (!((w0 | w1) & 0x8080808080808080ull)) {
				o += ascii_blocks(in, len, &i, out + o);
				if (i + 8 > len)
					break;
			}
		}
#endif
		uint64_t w, hi;
		memcpy(&w, in + i, 8);
		hi = w & 0x8080808080808080ull;
		/* ASCII bytes before the first other one (8 in an ASCII block),
		 * mapped SWAR-style: fold A-Z, keep letters and digits, drop the
		 * rest (NORM_ALL's ASCII table; tests compare the two).  Each
		 * kept byte's output position is the prefix count of kept bytes
		 * before it (one multiply), so the 8 stores are independent; a
		 * dropped byte is stored where the next kept one overwrites it. */
		unsigned na = hi ? (unsigned)__builtin_ctzll(hi) >> 3 : 8;
		const uint64_t H = 0x8080808080808080ull, L = 0x0101010101010101ull;
		uint64_t x = w & ~H;
#define GE(c) ((x + (0x80 - (c)) * L) & H)
		uint64_t up = GE('A') & ~GE('Z' + 1), lo = GE('a') & ~GE('z' + 1);
		uint64_t keep = (up | lo | (GE('0') & ~GE('9' + 1))) & ((hi & -hi) - 1);
#undef GE
		uint64_t lw = x | up >> 2, ps = (keep >> 7) * L, pos = ps << 8, v = base + i + 1;
		/* shifting keeps few registers live (the offmap variant spilled) */
#pragma GCC unroll 8
		for (unsigned k = 0; k < 8; k++) {
			size_t at = o + (pos & 0xff);
			out[at] = (uint8_t)lw;
			if (offmap)
				offmap[at] = v++;
			pos >>= 8;
			lw >>= 8;
		}
		o += ps >> 56;
		i += na;
		/* i + 4 <= len: all_char reads 3 bytes, u8_decode never sees an
		 * incomplete character (the tail goes to run() below) */
		while (i + 4 <= len && in[i] >= 0x80) {
			uint32_t n = all_char(in + i, out, &o, offmap, base + i);
			if (!n) {
				uint32_t cp;
				int m = u8_decode(in + i, len - i, &cp);
				if (m > 0)
					o += emit_cp(NORM_ALL, 1, cp, in + i, m, 1, out, o, offmap,
					             base + i + (size_t)m);
				n = m > 0 ? (uint32_t)m : 1;
			}
			i += n;
		}
	}
	return o +
	       run(st, NORM_ALL, 1, in + i, len - i, out + o, offmap ? offmap + o : NULL, base + i);
}

static size_t run_fast(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out,
                       uint64_t base)
{
#ifdef NORM_SSSE3
	if (have_avx2 && norm_simd >= 2)
		return run_all_avx2(st, in, len, out, base);
#endif
	return run_all(st, in, len, out, NULL, base);
}

static size_t run_fast_map(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out,
                           uint64_t *offmap, uint64_t base)
{
	return run_all(st, in, len, out, offmap, base);
}

static size_t run_slow(struct norm_state *st, unsigned flags, const uint8_t *in, size_t len,
                       uint8_t *out, uint64_t *offmap, uint64_t base)
{
	return run(st, flags, 0, in, len, out, offmap, base);
}

/* Output bound: every character (input n >= 1 bytes) emits at most
 * NORM_MAX_EXPANSION * n bytes, so after consuming c bytes o <= E * c.  The
 * unconditional 4-byte stores for a non-ASCII character (n >= 2) end at
 * o + 4 <= E * (c + n) with E >= 2, inside the caller's E * (len + 4)
 * (or E * len for norm_string) buffer; the characters completed from
 * st->pend count the pending bytes, at most 3, in c. */
size_t norm_feed(struct norm_state *st, const uint8_t *in, size_t len, uint8_t *out,
                 uint64_t *offmap)
{
	unsigned flags = st->flags;
	int fast = flags == NORM_ALL;
	size_t o = 0, skip = 0;
	uint64_t base = st->in_pos;

	if (!len) /* in may be NULL */
		return 0;
	if (st->npend) {
		/* Finish the character split across feeds in a small buffer. */
		uint8_t tmp[8];
		size_t np = st->npend, take = len < 3 ? len : 3, tl = np + take, j = 0;
		memcpy(tmp, st->pend, np);
		if (take)
			memcpy(tmp + np, in, take);
		st->npend = 0;
		while (j < np) {
			uint32_t cp;
			int n = u8_decode(tmp + j, tl - j, &cp);
			if (n < 0) {
				j++;
				continue;
			}
			if (n == 0) {
				/* Still incomplete: the whole input went into tmp. */
				memcpy(st->pend, tmp + j, tl - j);
				st->npend = (uint8_t)(tl - j);
				st->in_pos += len;
				return o;
			}
			uint64_t endoff = base - np + j + (size_t)n;
			if (cp < 0x80) {
				/* an ASCII byte after an invalid pending byte */
				const uint8_t *ao = nt_ascii_out[flags & NORM_ALL];
				out[o] = ao[cp];
				if (offmap)
					offmap[o] = endoff;
				o += nt_ascii_keep[flags & NORM_ALL][cp];
			} else if (fast) {
				o +=
				    emit_cp(NORM_ALL, 1, cp, tmp + j, n, 0, out, o, offmap, endoff);
			} else {
				o += emit_cp(flags, 0, cp, tmp + j, n, 0, out, o, offmap, endoff);
			}
			j += (size_t)n;
		}
		skip = j - np;
	}
	in += skip;
	len -= skip;
	base += skip;
	if (fast && !offmap)
		o += run_fast(st, in, len, out + o, base);
	else if (fast)
		o += run_fast_map(st, in, len, out + o, offmap + o, base);
	else
		o += run_slow(st, flags, in, len, out + o, offmap ? offmap + o : NULL, base);
	st->in_pos = base + len;
	return o;
}

uint64_t norm_offset(const struct norm_state *before, const uint8_t *in, size_t len, size_t k)
{
	/* Piece by piece with a small map: feeds in pieces give the same
	 * output and offsets as one feed (the streaming contract). */
	enum { PIECE = 512 };
	uint8_t out[NORM_MAX_EXPANSION * (PIECE + 4)];
	uint64_t map[NORM_MAX_EXPANSION * (PIECE + 4)];
	struct norm_state st = *before;
	size_t seen = 0;
	for (size_t i = 0; i < len; i += PIECE) {
		size_t n = norm_feed(&st, in + i, len - i < PIECE ? len - i : PIECE, out, map);
		if (k - seen < n)
			return map[k - seen];
		seen += n;
	}
	return UINT64_MAX;
}

size_t norm_string(unsigned flags, const uint8_t *in, size_t len, uint8_t *out)
{
	struct norm_state st;
	norm_init(&st, flags);
	/* A trailing incomplete character stays in st and is dropped. */
	return norm_feed(&st, in, len, out, NULL);
}

static const struct {
	const char *word;
	unsigned flags;
} norm_words[] = {
    {"nfkc", NORM_NFKC_CF},
    {"ignorable", NORM_IGNORABLE},
    {"separators", NORM_SEPARATORS},
    {"t2s", NORM_T2S},
    {"confusables", NORM_CONFUSABLES},
    {"all", NORM_ALL},
    {"none", 0},
};

int norm_parse_flags(const char *spec, unsigned *flags, const char **bad)
{
	static __thread char badword[32];
	unsigned f = 0;
	const char *p = spec;
	if (bad)
		*bad = NULL;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p), k;
		for (k = 0; k < sizeof(norm_words) / sizeof(norm_words[0]); k++)
			if (strlen(norm_words[k].word) == n && !memcmp(norm_words[k].word, p, n))
				break;
		if (k == sizeof(norm_words) / sizeof(norm_words[0])) {
			if (bad) {
				size_t m = n < sizeof(badword) - 1 ? n : sizeof(badword) - 1;
				memcpy(badword, p, m);
				badword[m] = 0;
				*bad = badword;
			}
			return -1;
		}
		f |= norm_words[k].flags;
		if (!e)
			break;
		p = e + 1;
	}
	*flags = f;
	return 0;
}
