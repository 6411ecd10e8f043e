/* bench_decode.c - decoder throughput, and the libraries alone as baselines.
 *
 *   bench_decode        prints a table; writes bench/results/decode.json
 *
 * Cases (all fed in 1460-byte pieces, like TCP segments, to a sink that
 * only counts bytes):
 *   plain     keep-alive HTTP responses, text/plain UTF-8 bodies
 *   html      the same text as text/html with markup and references
 *   gzip      chunked + gzip text/html responses; baseline: zlib inflate
 *             alone over the same gzip bodies (the decoder also strips HTML)
 *   gzip_text Content-Length + gzip text/plain: decompression overhead alone
 *   gbk       text/plain; charset=gbk bodies; baseline: iconv GB18030 ->
 *             UTF-8 alone over the same body bytes, same 1460-byte pieces
 *             (characters cut by a piece boundary are skipped there, so the
 *             baseline does slightly less work than the decoder)
 *   chat      the plain text as a non-HTTP stream of lines (no mail in it:
 *             what the mail line reader costs on ordinary plain streams)
 *   mail_8bit an SMTP session: the same text as text/plain UTF-8 mail
 *             bodies, 8bit, CRLF lines of at most ~76 bytes
 *   mail_b64  the same mails with base64 bodies; baseline: the mail_8bit
 *             row (same text, not encoded), so the two compare directly
 * MB/s is input bytes (what the decoder was fed) per second, 1 MB = 1e6 B;
 * "out MB/s" is UTF-8 text produced.  Best of 5 runs, measured in thread
 * CPU time (one core).
 */
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "decode.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1 << 16;
		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

static double now(void)
{
	struct timespec ts;
	/* Thread CPU time, not wall time: the build machine is shared, and
	 * preemption would otherwise dominate the noise. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Synthetic scam-ish prose: English words and Chinese phrases. */
static const char *words[] = {"guaranteed", "profit",   "crypto", "doubling", "免费",
                              "领取",       "deepfake", "video",  "service",  "投资",
                              "回报",       "lottery",  "winner", "claim",    "账户",
                              "verify",     "account",  "客服",   "refund",   "today"};

static void gen_text(struct buf *b, size_t n, uint32_t *seed, int markup)
{
	size_t start = b->n;
	while (b->n - start < n) {
		*seed = *seed * 1103515245u + 12345u;
		const char *w = words[(*seed >> 16) % 20];
		if (markup && (*seed & 0x700) == 0)
			putf(b, "<b class=\"x\">%s</b> ", w);
		else if (markup && (*seed & 0x700) == 0x100)
			putf(b, "&amp;%s&#x6362; ", w);
		else
			putf(b, "%s ", w);
		if ((*seed & 0x3f00) == 0)
			put(b, "\n", 1);
	}
}

static struct buf gzip_buf(const uint8_t *p, size_t n)
{
	struct buf o = {0};
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	uint8_t tmp[65536];
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	int r;
	do {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		r = deflate(&z, Z_FINISH);
		put(&o, tmp, sizeof(tmp) - z.avail_out);
	} while (r != Z_STREAM_END);
	deflateEnd(&z);
	return o;
}

static size_t counted;

static void count_text(void *ud, const uint8_t *p, size_t n)
{
	(void)ud;
	(void)p;
	counted += n;
}

static void count_reset(void *ud)
{
	(void)ud;
}

/* Returns seconds of the best run; *out gets the text bytes of one run. */
static double run_decoder(const struct buf *stream, size_t *out)
{
	double best = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		struct dec_sink sink = {count_text, count_reset, NULL};
		struct tsf_stats st;
		memset(&st, 0, sizeof(st));
		counted = 0;
		double t0 = now();
		struct decoder *d = dec_new(NULL, &sink, &st);
		for (size_t i = 0; i < stream->n; i += 1460) {
			size_t k = stream->n - i < 1460 ? stream->n - i : 1460;
			dec_feed(d, stream->p + i, k);
		}
		dec_finish(d);
		dec_free(d);
		double t = now() - t0;
		if (t < best)
			best = t;
		if (st.http_errors || st.decomp_errors || st.charset_invalid) {
			fprintf(stderr, "bench_decode: unexpected errors in the stream\n");
			exit(1);
		}
	}
	*out = counted;
	return best;
}

/* Text as mail body lines: CRLF in place of a space past 70 bytes. */
static void wrap_crlf(struct buf *o, const struct buf *t)
{
	size_t col = 0;
	for (size_t i = 0; i < t->n; i++) {
		uint8_t c = t->p[i];
		if (c == '\n' || (c == ' ' && col >= 70)) {
			put(o, "\r\n", 2);
			col = 0;
			continue;
		}
		put(o, &c, 1);
		col++;
	}
	put(o, "\r\n", 2);
}

static void put_b64(struct buf *o, const uint8_t *p, size_t n)
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
		put(o, q, 4);
		if ((col += 4) >= 76) {
			put(o, "\r\n", 2);
			col = 0;
		}
	}
	put(o, "\r\n", 2);
}

static double run_inflate(struct buf *bodies, int nb, size_t *out)
{
	double best = 1e9;
	static uint8_t tmp[16384];
	for (int rep = 0; rep < 5; rep++) {
		size_t total = 0;
		double t0 = now();
		for (int i = 0; i < nb; i++) {
			z_stream z;
			memset(&z, 0, sizeof(z));
			inflateInit2(&z, 15 + 32);
			z.next_in = bodies[i].p;
			z.avail_in = (uInt)bodies[i].n;
			int r;
			do {
				z.next_out = tmp;
				z.avail_out = sizeof(tmp);
				r = inflate(&z, Z_NO_FLUSH);
				total += sizeof(tmp) - z.avail_out;
			} while (r == Z_OK);
			inflateEnd(&z);
		}
		double t = now() - t0;
		if (t < best)
			best = t;
		*out = total;
	}
	return best;
}

static double run_iconv(struct buf *bodies, int nb, size_t *out)
{
	double best = 1e9;
	static char tmp[16384];
	for (int rep = 0; rep < 5; rep++) {
		size_t total = 0;
		double t0 = now();
		for (int i = 0; i < nb; i++) {
			iconv_t cd = iconv_open("UTF-8", "GB18030");
			/* Same 1460-byte pieces as the decoder gets: glibc's
			 * multi-step converters are slower on one huge input
			 * with a small output buffer (E2BIG restarts). */
			for (size_t k = 0; k < bodies[i].n; k += 1460) {
				char *ip = (char *)bodies[i].p + k;
				size_t il = bodies[i].n - k < 1460 ? bodies[i].n - k : 1460;
				while (il) {
					char *op = tmp;
					size_t ol = sizeof(tmp);
					if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1 &&
					    op == tmp)
						break; /* a character cut by the piece */
					total += (size_t)(op - tmp);
				}
			}
			iconv_close(cd);
		}
		double t = now() - t0;
		if (t < best)
			best = t;
		*out = total;
	}
	return best;
}

#define NB 400
#define BODY 32768

struct row {
	const char *name;
	size_t in, out;
	double t;
	const char *base;
	size_t bin, bout;
	double bt;
};

int main(void)
{
	uint32_t seed = 7;
	struct buf plain = {0}, html = {0}, gz = {0}, gbk = {0};
	struct buf gzt = {0}, chat = {0}, m8 = {0}, m64 = {0};
	static struct buf gzb[NB], gztb[NB], gbkb[NB];
	iconv_t to_gbk = iconv_open("GBK", "UTF-8");

	for (int i = 0; i < NB; i++) {
		struct buf t = {0};
		gen_text(&t, BODY, &seed, 0);
		putf(&plain,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     t.n);
		put(&plain, t.p, t.n);

		gztb[i] = gzip_buf(t.p, t.n);
		putf(&gzt,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "Content-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
		     gztb[i].n);
		put(&gzt, gztb[i].p, gztb[i].n);

		struct buf h = {0};
		put(&h, "<html><body><p>", 15);
		gen_text(&h, BODY, &seed, 1);
		put(&h, "</p></body></html>", 18);
		putf(&html,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     h.n);
		put(&html, h.p, h.n);

		gzb[i] = gzip_buf(h.p, h.n);
		putf(&gz, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
		          "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
		for (size_t k = 0; k < gzb[i].n; k += 4000) {
			size_t c = gzb[i].n - k < 4000 ? gzb[i].n - k : 4000;
			putf(&gz, "%zx\r\n", c);
			put(&gz, gzb[i].p + k, c);
			put(&gz, "\r\n", 2);
		}
		put(&gz, "0\r\n\r\n", 5);

		struct buf g = {0};
		g.cap = t.n * 2;
		g.p = malloc(g.cap);
		char *ip = (char *)t.p, *op = (char *)g.p;
		size_t il = t.n, ol = g.cap;
		iconv(to_gbk, &ip, &il, &op, &ol);
		g.n = g.cap - ol;
		gbkb[i] = g;
		putf(&gbk,
		     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=GBK\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     g.n);
		put(&gbk, g.p, g.n);
		put(&chat, t.p, t.n);
		put(&chat, "\n", 1);
		struct buf w = {0};
		wrap_crlf(&w, &t);
		static const char *env = "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"
		                         "DATA\r\nFrom: a@example.com\r\nSubject: bench\r\n"
		                         "MIME-Version: 1.0\r\n"
		                         "Content-Type: text/plain; charset=utf-8\r\n";
		putf(&m8, "%sContent-Transfer-Encoding: 8bit\r\n\r\n", env);
		put(&m8, w.p, w.n);
		put(&m8, ".\r\n", 3);
		putf(&m64, "%sContent-Transfer-Encoding: base64\r\n\r\n", env);
		put_b64(&m64, w.p, w.n);
		put(&m64, ".\r\n", 3);
		free(w.p);
		free(t.p);
		free(h.p);
	}
	iconv_close(to_gbk);

#define NROWS 8
	struct row rows[NROWS];
	memset(rows, 0, sizeof(rows));
	rows[0].name = "plain";
	rows[0].in = plain.n;
	rows[0].t = run_decoder(&plain, &rows[0].out);
	rows[1].name = "html";
	rows[1].in = html.n;
	rows[1].t = run_decoder(&html, &rows[1].out);
	rows[2].name = "gzip";
	rows[2].in = gz.n;
	rows[2].t = run_decoder(&gz, &rows[2].out);
	rows[2].base = "zlib inflate";
	for (int i = 0; i < NB; i++)
		rows[2].bin += gzb[i].n;
	rows[2].bt = run_inflate(gzb, NB, &rows[2].bout);
	rows[3].name = "gzip_text";
	rows[3].in = gzt.n;
	rows[3].t = run_decoder(&gzt, &rows[3].out);
	rows[3].base = "zlib inflate";
	for (int i = 0; i < NB; i++)
		rows[3].bin += gztb[i].n;
	rows[3].bt = run_inflate(gztb, NB, &rows[3].bout);
	rows[4].name = "gbk";
	rows[4].in = gbk.n;
	rows[4].t = run_decoder(&gbk, &rows[4].out);
	rows[4].base = "iconv GB18030";
	for (int i = 0; i < NB; i++)
		rows[4].bin += gbkb[i].n;
	rows[4].bt = run_iconv(gbkb, NB, &rows[4].bout);
	rows[5].name = "chat";
	rows[5].in = chat.n;
	rows[5].t = run_decoder(&chat, &rows[5].out);
	rows[6].name = "mail_8bit";
	rows[6].in = m8.n;
	rows[6].t = run_decoder(&m8, &rows[6].out);
	rows[7].name = "mail_b64";
	rows[7].in = m64.n;
	rows[7].t = run_decoder(&m64, &rows[7].out);
	rows[7].base = "mail_8bit";
	rows[7].bin = rows[6].in;
	rows[7].bt = rows[6].t;
	rows[7].bout = rows[6].out;

	printf("%-9s %9s %9s %9s %10s | %-14s %9s %9s\n", "case", "in MB", "in MB/s", "out MB/s",
	       "s", "baseline", "in MB/s", "out MB/s");
	FILE *js = fopen("bench/results/decode.json", "w");
	if (js)
		fprintf(js, "{\n  \"piece_bytes\": 1460,\n  \"messages\": %d,\n  \"cases\": [\n",
		        NB);
	for (int i = 0; i < NROWS; i++) {
		struct row *r = &rows[i];
		double mbs = r->in / r->t / 1e6, outs = r->out / r->t / 1e6;
		printf("%-9s %9.1f %9.1f %9.1f %10.4f | %-14s", r->name, r->in / 1e6, mbs, outs,
		       r->t, r->base ? r->base : "-");
		if (r->base)
			printf(" %9.1f %9.1f", r->bin / r->bt / 1e6, r->bout / r->bt / 1e6);
		printf("\n");
		if (js) {
			fprintf(js,
			        "    {\"case\": \"%s\", \"in_bytes\": %zu, \"out_bytes\": %zu, "
			        "\"seconds\": %.6f, \"in_MBps\": %.1f, \"out_MBps\": %.1f",
			        r->name, r->in, r->out, r->t, mbs, outs);
			if (r->base)
				fprintf(js,
				        ", \"baseline\": \"%s\", \"baseline_in_MBps\": %.1f, "
				        "\"baseline_out_MBps\": %.1f",
				        r->base, r->bin / r->bt / 1e6, r->bout / r->bt / 1e6);
			fprintf(js, "}%s\n", i < NROWS - 1 ? "," : "");
		}
	}
	if (js) {
		fprintf(js, "  ]\n}\n");
		fclose(js);
	}
	free(plain.p);
	free(html.p);
	free(gz.p);
	free(gzt.p);
	free(gbk.p);
	free(chat.p);
	free(m8.p);
	free(m64.p);
	for (int i = 0; i < NB; i++) {
		free(gzb[i].p);
		free(gztb[i].p);
		free(gbkb[i].p);
	}
	return 0;
}
