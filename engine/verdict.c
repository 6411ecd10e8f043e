/* verdict.c - verdict formatting (JSON lines, text) and the stdio/tee sinks. */
#include "verdict.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"

/* Length of the valid UTF-8 sequence at s[0..len), or 0 if invalid. */
static size_t utf8_seq(const uint8_t *s, size_t len)
{
	uint8_t c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlongs, surrogates and > U+10FFFF are invalid. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t utf8_trim_tail(const uint8_t *s, size_t len)
{
	/* Back off at most 3 bytes so the string does not end mid-character. */
	size_t i = len;
	for (size_t k = 0; k < 4 && i > 0; k++) {
		size_t start = i - 1;
		if ((s[start] & 0xc0) != 0x80) {
			size_t n = utf8_seq(s + start, len - start);
			return n && start + n == len ? len : start;
		}
		i--;
	}
	return len;
}

size_t json_escape(char *buf, size_t cap, const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		if (o + 8 >= cap)
			break;
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			buf[o++] = (char)c;
			i++;
		} else {
			size_t n = utf8_seq(s + i, len - i);
			if (n == 0) {
				memcpy(buf + o, "\xef\xbf\xbd", 3); /* U+FFFD */
				o += 3;
				i++;
			} else {
				memcpy(buf + o, s + i, n);
				o += n;
				i += n;
			}
		}
	}
	buf[o] = 0;
	return o;
}

static void addr_pair(const struct tsf_verdict *v, char *src, char *dst)
{
	pkt_addr_str(v->ipver, v->src, src, 46);
	pkt_addr_str(v->ipver, v->dst, dst, 46);
}

int verdict_to_json(const struct tsf_verdict *v, char *buf, size_t cap)
{
	char ex[TSF_EXCERPT_MAX * 6 + 8], src[46], dst[46], cat[80], msg[512], file[1024];
	json_escape(ex, sizeof(ex), v->excerpt, v->excerpt_len);
	json_escape(cat, sizeof(cat), v->category, strlen(v->category));
	int n;
	if (v->file) {
		json_escape(file, sizeof(file), v->file, strlen(v->file));
		n = snprintf(buf, cap, "{\"ts\":%.6f,\"file\":\"%s\"", (double)v->ts_ns / 1e9,
		             file);
	} else {
		addr_pair(v, src, dst);
		n = snprintf(buf, cap,
		             "{\"ts\":%.6f,\"proto\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,"
		             "\"dst_ip\":\"%s\",\"dst_port\":%u",
		             (double)v->ts_ns / 1e9, v->proto == TSF_PROTO_TCP ? "tcp" : "udp", src,
		             v->sport, dst, v->dport);
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	int m =
	    snprintf(buf + n, cap - (size_t)n,
	             ",\"rule_id\":%" PRIu32 ",\"category\":\"%s\",\"sev\":%u,\"offset\":%" PRIu64
	             ",\"excerpt\":\"%s\",\"ruleset\":\"%s\"",
	             v->rule_id, cat, v->sev, v->offset, ex, v->ruleset ? v->ruleset : "");
	if (m < 0 || (size_t)(n + m) >= cap)
		return -1;
	n += m;
	if (v->ruleset_version) {
		m = snprintf(buf + n, cap - (size_t)n, ",\"ruleset_version\":%" PRIu64,
		             v->ruleset_version);
		if (m < 0 || (size_t)(n + m) >= cap)
			return -1;
		n += m;
	}
	if (v->msg) {
		json_escape(msg, sizeof(msg), v->msg, strlen(v->msg));
		m = snprintf(buf + n, cap - (size_t)n, ",\"msg\":\"%s\"", msg);
		if (m < 0 || (size_t)(n + m) >= cap)
			return -1;
		n += m;
	}
	if ((size_t)n + 3 > cap)
		return -1;
	buf[n++] = '}';
	buf[n++] = '\n';
	buf[n] = 0;
	return n;
}

int verdict_to_text(const struct tsf_verdict *v, char *buf, size_t cap)
{
	char ex[TSF_EXCERPT_MAX * 6 + 8], src[46], dst[46], where[1200];
	json_escape(ex, sizeof(ex), v->excerpt, v->excerpt_len);
	if (v->file) {
		snprintf(where, sizeof(where), "%s", v->file);
	} else {
		addr_pair(v, src, dst);
		snprintf(where, sizeof(where),
		         v->ipver == 6 ? "%s [%s]:%u -> [%s]:%u" : "%s %s:%u -> %s:%u",
		         v->proto == TSF_PROTO_TCP ? "tcp" : "udp", src, v->sport, dst, v->dport);
	}
	int n =
	    snprintf(buf, cap, "%.6f rule %" PRIu32 " %s sev %u %s offset %" PRIu64 " \"%s\"%s%s\n",
	             (double)v->ts_ns / 1e9, v->rule_id, v->category, v->sev, where, v->offset, ex,
	             v->msg ? " msg: " : "", v->msg ? v->msg : "");
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

struct stdio_sink {
	struct vsink base;
	FILE *f;
	enum verdict_format fmt;
	pthread_mutex_t mu;
};

static void stdio_emit(struct vsink *s, const struct tsf_verdict *v)
{
	struct stdio_sink *ss = (struct stdio_sink *)s;
	char buf[4096];
	/* Format outside the lock: workers only serialise on the write itself. */
	int n = ss->fmt == VFMT_JSON ? verdict_to_json(v, buf, sizeof(buf))
	                             : verdict_to_text(v, buf, sizeof(buf));
	if (n < 0)
		return;
	pthread_mutex_lock(&ss->mu);
	fwrite(buf, 1, (size_t)n, ss->f);
	pthread_mutex_unlock(&ss->mu);
}

static void stdio_flush(struct vsink *s)
{
	struct stdio_sink *ss = (struct stdio_sink *)s;
	pthread_mutex_lock(&ss->mu);
	fflush(ss->f);
	pthread_mutex_unlock(&ss->mu);
}

static void stdio_destroy(struct vsink *s)
{
	struct stdio_sink *ss = (struct stdio_sink *)s;
	stdio_flush(s);
	pthread_mutex_destroy(&ss->mu);
	free(ss);
}

struct vsink *vsink_stdio_new(FILE *f, enum verdict_format fmt)
{
	struct stdio_sink *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return NULL;
	ss->base.emit = stdio_emit;
	ss->base.flush = stdio_flush;
	ss->base.destroy = stdio_destroy;
	ss->f = f;
	ss->fmt = fmt;
	pthread_mutex_init(&ss->mu, NULL);
	return &ss->base;
}

struct tee_sink {
	struct vsink base;
	struct vsink *to[4];
	int n;
};

static void tee_emit(struct vsink *s, const struct tsf_verdict *v)
{
	struct tee_sink *t = (struct tee_sink *)s;
	for (int i = 0; i < t->n; i++)
		t->to[i]->emit(t->to[i], v);
}

static void tee_flush(struct vsink *s)
{
	struct tee_sink *t = (struct tee_sink *)s;
	for (int i = 0; i < t->n; i++)
		if (t->to[i]->flush)
			t->to[i]->flush(t->to[i]);
}

static void tee_destroy(struct vsink *s)
{
	struct tee_sink *t = (struct tee_sink *)s;
	for (int i = 0; i < t->n; i++)
		if (t->to[i]->destroy)
			t->to[i]->destroy(t->to[i]);
	free(t);
}

struct vsink *vsink_tee_new(struct vsink **sinks, int n)
{
	if (n < 0 || n > 4)
		return NULL;
	struct tee_sink *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->base.emit = tee_emit;
	t->base.flush = tee_flush;
	t->base.destroy = tee_destroy;
	memcpy(t->to, sinks, sizeof(*sinks) * (size_t)n);
	t->n = n;
	return &t->base;
}
