/* fuzz_mime.c - mail decoding (engine/mime.c) on hostile streams.
 *
 * Input: [flags][piece][stream...].  flags picks a mail prefix put in
 * front of the stream (so the fuzzer starts inside a header block, a
 * base64 / quoted-printable body or a multipart), whether a gap cuts the
 * stream in the middle, and whether the small MIME_DEPTH-deep nesting
 * prefix is used.  The stream goes through the whole decoder twice: whole,
 * and cut into pieces of 1 + piece % 31 bytes.  Oracles besides
 * ASan/UBSan: valid UTF-8 between resets, identical text, resets and
 * counters in both runs, bounded memory; and through mime.c alone, a
 * stream without ':' is no mail: plain() gets it back byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "fuzz_util.h"
#include "mime.h"

static const char *const prefix[8] = {
    "",
    "MIME-Version: 1.0\r\nSubject: =?gb2312?B?w+K30Q==?=\r\n",
    "Content-Type: text/plain; charset=gbk\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    "Content-Type: text/html; charset=big5\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    "DATA\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n",
    "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; "
    "boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    "Content-Type: message/rfc822\r\n\r\nContent-Type: text/plain; charset=utf-16\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n",
    "MIME-Version: 1.0\r\n\r\n..\r\n",
};

static void decode(const uint8_t *s, size_t n, size_t piece, size_t gap_at, struct run *r,
                   struct tsf_stats *st)
{
	fuzz_decode(NULL, s, n, piece, gap_at, (size_t)1 << 20, r, st);
}

/* mime.c alone: plain bytes must come back unchanged when there is no
 * header line in the stream. */
static void m_plain(void *ud, const uint8_t *p, size_t n)
{
	out_put(ud, p, n);
}

static void m_text(void *ud, const uint8_t *p, size_t n)
{
	(void)ud;
	(void)p;
	if (n)
		abort();
}

static void m_boundary(void *ud)
{
	(void)ud;
}

static void plain_only(const uint8_t *s, size_t n, size_t piece)
{
	struct out o = {0};
	struct mime_sink ms = {m_plain, m_text, m_boundary, &o};
	struct mime *m = mime_new(&ms, NULL);
	if (!m)
		abort();
	for (size_t i = 0; i < n; i += piece)
		mime_feed(m, s + i, n - i < piece ? n - i : piece);
	mime_finish(m);
	mime_free(m);
	if (o.n != n || (n && memcmp(o.p, s, n)))
		abort();
	free(o.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t flags = data[0];
	size_t piece = 1 + data[1] % 31;
	const char *pre = prefix[flags & 7];
	size_t pl = strlen(pre), n = pl + size - 2;
	uint8_t *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, pre, pl);
	memcpy(s + pl, data + 2, size - 2);
	size_t gap_at = (flags & 8) ? pl + (size - 2) / 2 : (size_t)-1;

	struct run a = {0}, b = {0};
	struct tsf_stats sa, sb;
	decode(s, n, n ? n : 1, gap_at, &a, &sa);
	decode(s, n, piece, gap_at, &b, &sb);
	if (a.all.n != b.all.n || (a.all.n && memcmp(a.all.p, b.all.p, a.all.n)))
		abort();
	if (memcmp(&sa, &sb, sizeof(sa)))
		abort();
	if (!memchr(s, ':', n))
		plain_only(s, n, piece);
	free(a.all.p);
	free(a.seg.p);
	free(b.all.p);
	free(b.seg.p);
	free(s);
	return 0;
}
