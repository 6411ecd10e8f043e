/* test_mime.c - mail decoding in plain streams (engine/mime.c through the
 * whole decoder): base64, quoted-printable, RFC 2047 encoded-words,
 * charsets, multipart, dot-stuffing, hostile input, and non-mail streams
 * that must come out exactly as they went in.
 *
 * Every input is a fixture; test_every_cut then decodes each again cut at
 * every byte position (and fed 1, 2, 3, 7 bytes at a time and in random
 * pieces) and requires identical text, reset positions and counters.
 * Encoded fixtures are produced here (glibc iconv for GBK/Big5, a base64
 * and a quoted-printable encoder written for the test).
 */
#include <iconv.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "buf.h"
#include "unit.h"

/* Decodes with cuts: piece > 0 fixed pieces, 0 whole, -1 random 1..300,
 * < -1: two pieces cut at -(piece + 2). */
static struct buf decode(const struct buf *in, long piece, struct tsf_stats *st)
{
	struct buf out = {0};
	struct dec_sink sink = {c_text, c_reset, &out};
	memset(st, 0, sizeof(*st));
	struct decoder *d = dec_new(NULL, &sink, st);
	uint32_t rnd = 777;
	size_t i = 0, len = in->n;
	while (i < len) {
		size_t n = len - i;
		if (piece > 0 && (size_t)piece < n)
			n = (size_t)piece;
		if (piece == -1) {
			rnd = rnd * 1103515245u + 12345u;
			size_t r = 1 + (rnd >> 8) % 300;
			if (r < n)
				n = r;
		}
		if (piece < -1) {
			size_t cut = (size_t)(-(piece + 2));
			if (i < cut && cut < len)
				n = cut - i;
		}
		dec_feed(d, in->p + i, n);
		i += n;
	}
	dec_finish(d);
	dec_free(d);
	bput(&out, "", 0);
	return out;
}

/* ---- encoders ---- */

static struct buf conv(const char *utf8, const char *to)
{
	struct buf b = {0};
	iconv_t cd = iconv_open(to, "UTF-8");
	if (cd == (iconv_t)-1)
		abort();
	char *ip = (char *)utf8;
	size_t il = strlen(utf8);
	char tmp[4096], *op = tmp;
	size_t ol = sizeof(tmp);
	if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
		abort();
	iconv_close(cd);
	bput(&b, tmp, sizeof(tmp) - ol);
	return b;
}

/* base64 with CRLF every `line` output characters (0: one line). */
static void b64(struct buf *o, const uint8_t *p, size_t n, size_t line)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {al[v >> 18], al[(v >> 12) & 63], i + 1 < n ? al[(v >> 6) & 63] : '=',
		             i + 2 < n ? al[v & 63] : '='};
		bput(o, q, 4);
		col += 4;
		if (line && col >= line && i + 3 < n) {
			bputs(o, "\r\n");
			col = 0;
		}
	}
	bputs(o, "\r\n");
}

/* quoted-printable: bytes >= 0x80 and '=' escaped, soft breaks every ~20 */
static void qp(struct buf *o, const uint8_t *p, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		char t[8];
		if (p[i] >= 0x80 || p[i] == '=') {
			snprintf(t, sizeof(t), "=%02X", p[i]);
			bputs(o, t);
			col += 3;
		} else {
			bput(o, p + i, 1);
			col = p[i] == '\n' ? 0 : col + 1;
		}
		if (col >= 20 && i + 1 < n && p[i + 1] != '\r') {
			bputs(o, "=\r\n");
			col = 0;
		}
	}
	bputs(o, "\r\n");
}

/* =?cs?B?...?= or =?cs?Q?...?= of the UTF-8 text converted to cs */
static void ew(struct buf *o, const char *utf8, const char *cs, int bq)
{
	struct buf raw = conv(utf8, cs);
	bputs(o, "=?");
	bputs(o, cs);
	bputs(o, bq ? "?B?" : "?Q?");
	if (bq) {
		struct buf t = {0};
		b64(&t, raw.p, raw.n, 0);
		bput(o, t.p, t.n - 2);
		free(t.p);
	} else {
		for (size_t i = 0; i < raw.n; i++) {
			char t[8];
			if (raw.p[i] == ' ')
				bputs(o, "_");
			else if (raw.p[i] >= 0x80 || raw.p[i] == '=' || raw.p[i] == '?' ||
			         raw.p[i] == '_')
				snprintf(t, sizeof(t), "=%02X", raw.p[i]), bputs(o, t);
			else
				bput(o, raw.p + i, 1);
		}
	}
	bputs(o, "?=");
	free(raw.p);
}

/* ---- fixtures ---- */

struct fx {
	const char *name;
	struct buf in, out;
	struct tsf_stats st;
};

static struct fx fxs[64];
static int nfx;

static struct fx *add(const char *name, struct buf in)
{
	struct fx *f = &fxs[nfx++];
	f->name = name;
	f->in = in;
	f->out = decode(&in, 0, &f->st);
	return f;
}

#define OUT(f) ((const char *)(f)->out.p)

static void show(const struct fx *f, const char *want)
{
	if (strcmp(OUT(f), want))
		fprintf(stderr, "  %s:\n   got  [%s]\n   want [%s]\n", f->name, OUT(f), want);
}

#define CHECK_OUT(f, want)                                                                         \
	do {                                                                                       \
		show(f, want);                                                                     \
		CHECK_STR(OUT(f), want);                                                           \
	} while (0)

static const char *SMTP_HELLO = "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n"
                                "RCPT TO:<b@example.org>\r\nDATA\r\n";
#define HELLO_OUT                                                                                  \
	"EHLO client.example\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"

#define SCAM "免费领取AI换脸软件，点击验证你的钱包"
#define SCAM_TW "免費領取AI換臉軟體，點擊驗證你的錢包"

/* ================= tests ================= */

/* SMTP: a GBK body in base64 with a GB2312 B-encoded Subject. */
static void test_base64_gbk(void)
{
	struct buf in = {0};
	bputs(&in, SMTP_HELLO);
	bputs(&in, "From: a@example.com\r\nSubject: ");
	ew(&in, "免费领取", "GB2312", 1);
	bputs(&in, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"GBK\"\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n");
	struct buf g = conv(SCAM "\r\n" SCAM "\r\n", "GBK");
	b64(&in, g.p, g.n, 76);
	free(g.p);
	bputs(&in, ".\r\nQUIT\r\n");
	struct fx *f = add("base64_gbk", in);
	CHECK_OUT(f, HELLO_OUT
	          "|From: a@example.com\r\nSubject: 免费领取\r\nMIME-Version: 1.0\r\n"
	          "Content-Type: text/plain; charset=\"GBK\"\r\nContent-Transfer-Encoding: "
	          "base64\r\n\r\n|" SCAM "\r\n" SCAM "\r\n|QUIT\r\n|");
	CHECK_EQ_INT(f->st.mime_parts, 1);
	CHECK_EQ_INT(f->st.mime_encoded_words, 1);
	CHECK_EQ_INT(f->st.mime_b64_errors, 0);
	CHECK_EQ_INT(f->st.charset_invalid, 0);

	/* No charset label: the body's GBK is guessed, as in any text. */
	struct buf un = {0};
	bputs(&un, "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n");
	g = conv(SCAM "\r\n", "GBK");
	b64(&un, g.p, g.n, 76);
	free(g.p);
	f = add("base64_gbk_unlabelled", un);
	CHECK_OUT(f, "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\n|" SCAM "\r\n|");
	CHECK_EQ_INT(f->st.charset_invalid, 0);

	/* A junk line before the base64 data, and one inside a multipart's
	 * base64 part: skipped and counted; one line cannot hide a part. */
	struct buf jk = {0};
	bputs(&jk, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n!junk!\r\n");
	b64(&jk, (const uint8_t *)SCAM, strlen(SCAM), 76);
	bputs(&jk, "Content-Type: multipart/mixed; boundary=\"q\"\r\n\r\n--q\r\n"
	           "Content-Type: text/plain; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: base64\r\n\r\n");
	b64(&jk, (const uint8_t *)"abc ", 4, 76);
	bputs(&jk, "~~ not base64 ~~\r\n");
	b64(&jk, (const uint8_t *)SCAM, strlen(SCAM), 76);
	bputs(&jk, "--q--\r\n");
	f = add("base64_junk_lines", jk);
	CHECK(strstr(OUT(f), "|" SCAM "|") != NULL);
	CHECK(strstr(OUT(f), "|abc " SCAM "|") != NULL);
	CHECK(strstr(OUT(f), "junk") == NULL && strstr(OUT(f), "~~") == NULL);
	CHECK_EQ_INT(f->st.mime_b64_errors, 2);
}

/* quoted-printable, UTF-8 and Big5, soft line breaks and =HH. */
static void test_quoted_printable(void)
{
	struct buf in = {0};
	bputs(&in, "Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n"
	           "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	const char *t = SCAM " a=b\r\nsecond line\r\n";
	qp(&in, (const uint8_t *)t, strlen(t));
	struct fx *f = add("qp_utf8", in);
	CHECK_OUT(f, "Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n|" SCAM
	             " a=b\r\nsecond line\r\n\r\n|");
	CHECK_EQ_INT(f->st.mime_qp_errors, 0);

	struct buf in2 = {0};
	bputs(&in2, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=big5\r\n"
	            "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	struct buf b = conv(SCAM_TW, "BIG5");
	qp(&in2, b.p, b.n);
	free(b.p);
	f = add("qp_big5", in2);
	CHECK(strstr(OUT(f), "|" SCAM_TW "\r\n|") != NULL);
	CHECK_EQ_INT(f->st.charset_invalid, 0);

	/* Blanks between '=' and the line break are transport padding: still
	 * a soft break (RFC 2045 6.7).  Inside a line, '=' and blanks stay. */
	struct buf in3 = {0};
	bputs(&in3, "Content-Type: text/plain; charset=utf-8\r\n"
	            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	            "SIGNA= \t \r\nTURE a=  b\r\nend= ");
	f = add("qp_soft_break_blanks", in3);
	CHECK_OUT(f, "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	             "|SIGNATURE a=  b\r\nend|");
	CHECK_EQ_INT(f->st.mime_qp_errors, 1);
}

/* Encoded-words: B and Q, GBK/Big5/UTF-8, adjacent words joined (a
 * character split between two words), unknown charsets left alone. */
static void test_encoded_words(void)
{
	struct buf in = {0};
	bputs(&in, "Subject: [");
	ew(&in, "免费 领取", "GBK", 0);
	bputs(&in, "] and ");
	ew(&in, "換臉", "BIG5", 1);
	/* 免 (E5 85 8D) split over two adjacent words, folded */
	bputs(&in, "\r\nX-Note: =?UTF-8?B?5YU=?=\r\n =?utf-8?q?=8D?= =?x-unknown?Q?abc?= end\r\n"
	           "MIME-Version: 1.0\r\n\r\nbody\r\n");
	struct fx *f = add("encoded_words", in);
	CHECK_OUT(f, "Subject: [免费 领取] and 換臉\r\nX-Note: 免 =?x-unknown?Q?abc?= end\r\n"
	             "MIME-Version: 1.0\r\n\r\n|body\r\n|");
	CHECK_EQ_INT(f->st.mime_encoded_words, 4);

	/* A header block without a MIME field: its encoded-words are decoded
	 * all the same (the rest of such a mail is plain lines). */
	struct buf nm = {0};
	bputs(&nm, "Subject: =?UTF-8?B?5YWN6LS5?=\r\nFrom: a\r\n\r\nno MIME field\r\n");
	f = add("encoded_words_no_mime", nm);
	CHECK_OUT(f, "Subject: 免费\r\nFrom: a\r\n|\r\nno MIME field\r\n|");
	CHECK_EQ_INT(f->st.mime_encoded_words, 1);
	CHECK_EQ_INT(f->st.mime_parts, 0);
}

static void alt_body(struct buf *in, const char *bnd)
{
	bputs(in, "This is a multi-part message in MIME format.\r\n\r\n--");
	bputs(in, bnd);
	bputs(in, "\r\nContent-Type: text/plain; charset=gb2312\r\n"
	          "Content-Transfer-Encoding: base64\r\n\r\n");
	struct buf g = conv(SCAM, "GB2312");
	b64(in, g.p, g.n, 20);
	free(g.p);
	bputs(in, "\r\n--");
	bputs(in, bnd);
	bputs(in, "\r\nContent-Type: text/html; charset=UTF-8\r\n"
	          "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	const char *h =
	    "<html><body><p>免<b>费</b>领取 &amp; <style>x{}</style>换脸</p></body></html>";
	qp(in, (const uint8_t *)h, strlen(h));
	bputs(in, "--");
	bputs(in, bnd);
	bputs(in, "--\r\n");
}

static void test_multipart_alternative(void)
{
	struct buf in = {0};
	bputs(&in, SMTP_HELLO);
	bputs(&in, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n"
	           "\tboundary=\"----=_Part_1\"\r\n\r\n");
	alt_body(&in, "----=_Part_1");
	bputs(&in, "epilogue\r\n.\r\n");
	struct fx *f = add("multipart_alternative", in);
	CHECK_OUT(f, HELLO_OUT "|MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n"
	                       "\tboundary=\"----=_Part_1\"\r\n\r\n"
	                       "|This is a multi-part message in MIME format.\r\n\r\n"
	                       "|Content-Type: text/plain; charset=gb2312\r\n"
	                       "Content-Transfer-Encoding: base64\r\n\r\n|" SCAM
	                       "|Content-Type: text/html; charset=UTF-8\r\n"
	                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                       "|免费领取 & 换脸\r\n|epilogue\r\n|");
	CHECK_EQ_INT(f->st.mime_parts, 2);
	CHECK_EQ_INT(f->st.mime_b64_errors, 0);
	CHECK_EQ_INT(f->st.mime_qp_errors, 0);

	/* "Name :" (obsolete syntax), and boundary= after 1.5 KiB of other
	 * parameters: still the multipart (its boundary lines are framing,
	 * not text), its parts still decoded. */
	for (int v = 0; v < 2; v++) {
		struct buf o = {0};
		bputs(&o, v ? "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; x=\""
		            : "MIME-Version : 1.0\r\nContent-Type : multipart/alternative; x=\"");
		for (int i = 0; i < (v ? 1500 : 10); i++)
			bputs(&o, "x");
		bputs(&o, "\";\r\n\tboundary=\"bb\"\r\n\r\n");
		alt_body(&o, "bb");
		f = add(v ? "multipart_late_boundary" : "multipart_name_blank", o);
		CHECK(strstr(OUT(f), "|" SCAM "|") != NULL);
		CHECK(strstr(OUT(f), "--bb") == NULL);
		CHECK_EQ_INT(f->st.mime_parts, 2);
	}
}

/* mixed > alternative, a skipped image, an enclosed message with its own
 * base64 body; a multipart deeper than MIME_DEPTH is text as it is. */
static void test_nested(void)
{
	struct buf in = {0};
	bputs(&in, "Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n"
	           "Content-Type: multipart/alternative; boundary=inner\r\n\r\n");
	alt_body(&in, "inner");
	bputs(
	    &in,
	    "--outer\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\r\n--outer\r\n"
	    "Content-Type: message/rfc822\r\n\r\nSubject: fwd\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	b64(&in, (const uint8_t *)"verify your wallet", 18, 76);
	bputs(&in, "--outer--\r\n");
	struct fx *f = add("nested", in);
	CHECK_OUT(f, "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
	             "|Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
	             "|This is a multi-part message in MIME format.\r\n\r\n"
	             "|Content-Type: text/plain; charset=gb2312\r\n"
	             "Content-Transfer-Encoding: base64\r\n\r\n|" SCAM
	             "|Content-Type: text/html; charset=UTF-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	             "|免费领取 & 换脸\r\n"
	             "|Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	             "|Content-Type: message/rfc822\r\n\r\n|Subject: fwd\r\n"
	             "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
	             "base64\r\n\r\n|verify your wallet|");
	CHECK_EQ_INT(f->st.mime_parts, 4);

	/* six levels: the fifth multipart is read as text */
	struct buf d = {0};
	bputs(&d, "MIME-Version: 1.0\r\n");
	for (int i = 0; i < 6; i++) {
		char t[128];
		snprintf(t, sizeof(t),
		         "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
		bputs(&d, t);
	}
	bputs(&d, "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b0--\r\n");
	f = add("nested_deep", d);
	CHECK(strstr(OUT(f), "|Content-Type: multipart/mixed; boundary=b4\r\n\r\n|"
	                     "--b4\r\nContent-Type: multipart/mixed; boundary=b5\r\n\r\n--b5\r\n"
	                     "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n|") != NULL);
	CHECK(strstr(OUT(f), "ABC") == NULL);
}

/* ".." is "."; a lone "." ends the message and is no text; after it,
 * plain lines again (and dots in them are left alone). */
static void test_dot_stuffing(void)
{
	struct buf in = {0};
	bputs(&in, SMTP_HELLO);
	bputs(&in,
	      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	      "line one\r\n..hidden dot\r\n...\r\n. not the end\r\n.\r\nQUIT\r\n..kept\r\n.\r\n");
	struct fx *f = add("dot_stuffing", in);
	CHECK_OUT(f, HELLO_OUT "|MIME-Version: 1.0\r\nContent-Type: text/plain; "
	                       "charset=utf-8\r\n\r\n|line one\r\n.hidden dot\r\n..\r\n"
	                       ". not the end\r\n|QUIT\r\n..kept\r\n.\r\n|");
	CHECK_EQ_INT(f->st.mime_parts, 1);
}

static void test_corrupt(void)
{
	/* a cut quantum (5YWN6L: E5 85 8D E8), misplaced padding, a stray
	 * character in an overlong line */
	struct buf in = {0};
	bputs(&in, "Content-Transfer-Encoding: base64\r\n\r\n5YWN6L\r\n");
	struct fx *f = add("b64_cut", in);
	CHECK_OUT(f, "Content-Transfer-Encoding: base64\r\n\r\n|免\xEF\xBF\xBD|");
	CHECK_EQ_INT(f->st.mime_b64_errors, 1);
	CHECK_EQ_INT(f->st.charset_invalid, 1);

	struct buf p = {0};
	bputs(&p, "Content-Transfer-Encoding: base64\r\n\r\n=QUJD\r\nQ===\r\nQUJD\r\n");
	f = add("b64_padding", p);
	CHECK_OUT(f, "Content-Transfer-Encoding: base64\r\n\r\n|ABCABC|");
	CHECK_EQ_INT(f->st.mime_b64_errors, 2);

	/* base64 ends at a line that is not base64 (outside a multipart the
	 * rest is plain lines) */
	struct buf e = {0};
	bputs(&e, "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n-- \r\nfooter: x\r\n");
	f = add("b64_end", e);
	CHECK_OUT(f, "Content-Transfer-Encoding: base64\r\n\r\n|ABC|-- \r\nfooter: x\r\n|");

	/* padded quanta one after another on one long line: the output
	 * buffer must be flushed for them too (was a stack overflow) */
	struct buf pq = {0}, pqo = {0};
	bputs(&pq, "Content-Transfer-Encoding: base64\r\n\r\n");
	bputs(&pqo, "Content-Transfer-Encoding: base64\r\n\r\n|");
	for (int i = 0; i < 2000; i++) {
		bputs(&pq, "QUI=");
		bputs(&pqo, "AB");
	}
	bputs(&pq, "\r\n");
	bputs(&pqo, "|");
	f = add("b64_padded_run", pq);
	CHECK_OUT(f, (const char *)pqo.p);
	CHECK_EQ_INT(f->st.mime_b64_errors, 0);
	free(pqo.p);

	struct buf q = {0};
	/* (labelled UTF-8: unlabelled, the cut E5 85 would read as GB18030) */
	bputs(&q, "Content-Type: text/plain; charset=utf-8\r\n"
	          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	          "a=ZZb=4\r\nc=E5=85=8\r\nend=");
	f = add("qp_broken", q);
	CHECK_OUT(f, "Content-Type: text/plain; charset=utf-8\r\n"
	             "Content-Transfer-Encoding: quoted-printable"
	             "\r\n\r\n|a=ZZb=4\r\nc\xEF\xBF\xBD=8\r\nend=|");
	CHECK_EQ_INT(f->st.mime_qp_errors, 4);

	/* garbage that looks like mail structure */
	struct buf g = {0};
	bputs(&g, "Content-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\n--\r\n"
	          "Content-Type: multipart/mixed; boundary\r\n\r\n=?utf-8?B?\r\n"
	          "Subject: =?utf-8?Q?=E5=?= =?utf-8?B?====?= =?big5?b?"
	          "?=\r\nMIME-Version:\r\n\r\n"
	          "Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\r\n");
	f = add("garbage", g);
	CHECK(f->out.n > 0);
	CHECK(strstr(OUT(f), "Subject: =?utf-8?Q?=E5=?=") != NULL);
}

static void test_long_lines(void)
{
	/* a 20 KiB header-like line outside mail: as it is */
	struct buf in = {0};
	bputs(&in, "X-Long: ");
	for (int i = 0; i < 2000; i++)
		bputs(&in, "0123456789");
	bputs(&in, "\r\nnext: line\r\n");
	struct buf want = {0};
	bput(&want, in.p, in.n);
	bputs(&want, "|");
	struct fx *f = add("long_plain", in);
	CHECK(f->out.n == want.n && !memcmp(f->out.p, want.p, want.n));
	CHECK_EQ_INT(f->st.mime_line_overflow, 1);
	free(want.p);

	/* a 30 KB base64 body on one line: streamed into the decoder */
	struct buf b = {0};
	bputs(&b, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	struct buf txt = {0};
	for (int i = 0; i < 1000; i++)
		bputs(&txt, "verify your wallet ");
	b64(&b, txt.p, txt.n, 0);
	bputs(&b, ".\r\n");
	f = add("long_b64", b);
	CHECK(strstr(OUT(f), "|verify your wallet verify") != NULL);
	CHECK(f->out.n > txt.n);
	CHECK_EQ_INT(f->st.mime_line_overflow, 1);
	CHECK_EQ_INT(f->st.mime_b64_errors, 0);
	free(txt.p);

	/* held header lines over MIME_HOLD_MAX (not MIME): out as they came */
	struct buf h = {0};
	for (int i = 0; i < 400; i++)
		bputs(&h, "Received: from relay.example by mx.example; Mon, 1 Jan 2024\r\n");
	bputs(&h, "\r\nbody\r\n");
	struct buf hw = {0};
	bput(&hw, h.p, h.n);
	bputs(&hw, "|");
	f = add("hold_overflow", h);
	CHECK(f->out.n == hw.n && !memcmp(f->out.p, hw.p, hw.n));
	CHECK(f->st.mime_line_overflow >= 1);
	free(hw.p);
}

/* Streams that are not mail: byte for byte what they were, no counters. */
static void test_not_mail(void)
{
	static const char *const in[] = {
	    "hello 免费 world\nsecond line",
	    ":nick!u@h PRIVMSG #chan :verify your wallet\r\n:nick PRIVMSG #c :..dots\r\n.\r\n",
	    "Note: meeting at 10\nhttps://example.com/a?b=c\n\nQUJD\n=?utf-8?B?5YWN?=\n",
	    "Host: x\r\nUser-Agent: y\r\n\r\nbody=?utf-8?q?x?=\r\n--b\r\n--b--\r\n",
	    "Content-Type text/plain\r\n Content-Type: text/plain\r\n\r\nQUJD\r\n",
	    "a: b\r\n\tfolded\r\n",
	    "",
	    "\n\n\n:\n::\r\n",
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct buf b = {0};
		bputs(&b, in[i]);
		struct fx *f = add("not_mail", b);
		struct buf want = {0};
		bputs(&want, in[i]);
		if (want.n)
			bputs(&want, "|");
		CHECK_OUT(f, (const char *)want.p);
		CHECK_EQ_INT(f->st.mime_parts + f->st.mime_encoded_words +
		                 f->st.mime_line_overflow + f->st.mime_b64_errors +
		                 f->st.mime_qp_errors,
		             0);
		free(want.p);
	}
	/* a TLS stream stays silent */
	struct buf t = {0};
	bput(&t,
	     "\x16\x03\x01\x00\x30"
	     "Content-Type: text/plain\r\n\r\nabc\r\n",
	     39);
	struct fx *f = add("tls", t);
	CHECK_STR(OUT(f), "");
}

/* Mail after an HTTP exchange on the same stream, and a gap in a body. */
static void test_gap(void)
{
	struct buf out = {0};
	struct dec_sink sink = {c_text, c_reset, &out};
	struct tsf_stats st;
	memset(&st, 0, sizeof(st));
	struct decoder *d = dec_new(NULL, &sink, &st);
	const char *a = "hi\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\nRE";
	dec_feed(d, (const uint8_t *)a, strlen(a));
	dec_gap(d);
	const char *b = "VG\r\nplain again\r\n";
	dec_feed(d, (const uint8_t *)b, strlen(b));
	dec_finish(d);
	dec_free(d);
	CHECK_STR((const char *)out.p,
	          "hi\r\n|Content-Transfer-Encoding: base64\r\n\r\n|ABC|VG\r\nplain again\r\n|");
	free(out.p);
}

/* The property: text, resets and counters do not depend on the cuts. */
static void test_every_cut(void)
{
	static const long pieces[] = {1, 2, 3, 7, 100, -1};
	int checked = 0;
	for (int i = 0; i < nfx; i++) {
		struct fx *f = &fxs[i];
		long ncut = f->in.n <= 6000 ? (long)f->in.n : 0;
		for (long k = -(long)(sizeof(pieces) / sizeof(pieces[0])); k < ncut; k++) {
			long piece = k < 0 ? pieces[-k - 1] : -(k + 2);
			struct tsf_stats st;
			struct buf o = decode(&f->in, piece, &st);
			int same = o.n == f->out.n && !memcmp(o.p, f->out.p, o.n);
			int same_st = !memcmp(&st, &f->st, sizeof(st));
			if (!same || !same_st) {
				fprintf(stderr,
				        "  fixture %s, piece %ld: %s differs\n   [%s]\n   [%s]\n",
				        f->name, piece, !same ? "output" : "counters", (char *)o.p,
				        OUT(f));
				CHECK(same);
				CHECK(same_st);
				free(o.p);
				break;
			}
			free(o.p);
			checked++;
		}
	}
	CHECK(checked > 4000);
}

int main(void)
{
	RUN(test_base64_gbk);
	RUN(test_quoted_printable);
	RUN(test_encoded_words);
	RUN(test_multipart_alternative);
	RUN(test_nested);
	RUN(test_dot_stuffing);
	RUN(test_corrupt);
	RUN(test_long_lines);
	RUN(test_not_mail);
	RUN(test_gap);
	RUN(test_every_cut);
	for (int i = 0; i < nfx; i++) {
		free(fxs[i].in.p);
		free(fxs[i].out.p);
	}
	return UNIT_DONE();
}
