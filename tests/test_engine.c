/* test_engine.c - the flow engine end to end on built packets: matches
 * spanning segments, dedup per flow direction and rule, no match across
 * directions, flows, datagrams or gaps, offsets and excerpts, stream depth,
 * text input, and identical verdicts for any number of workers. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "match.h"
#include "normalize.h"
#include "ruleset.h"
#include "unit.h"

#define MAXV 4096

struct collect {
	struct vsink base;
	pthread_mutex_t mu;
	int n;
	struct tsf_verdict v[MAXV];
};

static void collect_emit(struct vsink *s, const struct tsf_verdict *v)
{
	struct collect *c = (struct collect *)s;
	pthread_mutex_lock(&c->mu);
	if (c->n < MAXV)
		c->v[c->n++] = *v;
	pthread_mutex_unlock(&c->mu);
}

static struct collect *collect_new(void)
{
	struct collect *c = calloc(1, sizeof(*c));
	c->base.emit = collect_emit;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static const char *RULES = "1 fraud \"免费领取\"\n"
                           "2 scam_en \"verify wallet\"\n"
                           "3 regex /recovery\\s+phrase\\s*:\\s*\\d{4}/i\n"
                           "4 marker \"RAWMARK\" raw\n";

struct env {
	struct ruleset rs;
	struct matcher *m;
	struct collect *c;
	struct engine *e;
};

static void env_start(struct env *v, int threads, uint64_t depth)
{
	char err[512];
	ruleset_init(&v->rs);
	if (ruleset_add_buffer(&v->rs, "t.rules", RULES, strlen(RULES), err, sizeof(err)))
		fprintf(stderr, "%s\n", err);
	ruleset_finish(&v->rs);
	v->m = matcher_build(&v->rs, NORM_ALL, err, sizeof(err));
	if (!v->m)
		fprintf(stderr, "%s\n", err);
	v->c = collect_new();
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = threads;
	cfg.stream_depth = depth;
	v->e = engine_new(&cfg, v->m, &v->c->base);
}

static void env_stop(struct env *v)
{
	engine_finish(v->e);
}

static void env_free(struct env *v)
{
	engine_free(v->e);
	matcher_free(v->m);
	ruleset_free(&v->rs);
	free(v->c);
}

static uint64_t clock_ns = 1700000000000000000ull;

static void pkt(struct engine *e, int client, int flow, int dir, uint32_t seq, uint8_t flags,
                const char *data, size_t len, uint8_t proto)
{
	struct tsf_pkt p;
	memset(&p, 0, sizeof(p));
	p.ts_ns = clock_ns += 1000;
	p.ipver = 4;
	p.proto = proto;
	p.tcp_flags = flags;
	uint8_t a[4] = {10, 0, (uint8_t)client, 1}, b[4] = {192, 0, 2, 1};
	memcpy(dir ? p.dst : p.src, a, 4);
	memcpy(dir ? p.src : p.dst, b, 4);
	uint16_t cport = (uint16_t)(30000 + flow), sport = 80;
	p.sport = dir ? sport : cport;
	p.dport = dir ? cport : sport;
	p.seq = seq;
	p.payload = (const uint8_t *)data;
	p.len = (uint32_t)len;
	engine_packet(e, &p);
}

/* A TCP connection: handshake, then the caller's segments. ISNs 1000/5000. */
static void handshake(struct engine *e, int client, int flow)
{
	pkt(e, client, flow, 0, 1000, TSF_TCP_SYN, NULL, 0, TSF_PROTO_TCP);
	pkt(e, client, flow, 1, 5000, TSF_TCP_SYN | TSF_TCP_ACK, NULL, 0, TSF_PROTO_TCP);
}

static void send_split(struct engine *e, int client, int flow, int dir, uint32_t *seq,
                       const char *s, size_t step)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		pkt(e, client, flow, dir, *seq, TSF_TCP_ACK, s + i, k, TSF_PROTO_TCP);
		*seq += (uint32_t)k;
	}
}

static void fin_both(struct engine *e, int client, int flow, uint32_t cseq, uint32_t sseq)
{
	pkt(e, client, flow, 0, cseq, TSF_TCP_FIN | TSF_TCP_ACK, NULL, 0, TSF_PROTO_TCP);
	pkt(e, client, flow, 1, sseq, TSF_TCP_FIN | TSF_TCP_ACK, NULL, 0, TSF_PROTO_TCP);
}

static int count_rule(struct collect *c, uint32_t id)
{
	int n = 0;
	for (int i = 0; i < c->n; i++)
		n += c->v[i].rule_id == id;
	return n;
}

static void test_split_dedup_directions(void)
{
	struct env v;
	env_start(&v, 2, 0);
	uint32_t cs = 1001, ss = 5001;
	handshake(v.e, 1, 1);
	/* 1-byte segments, the signature twice in the same direction */
	send_split(v.e, 1, 1, 0, &cs, "hello 免费领取 and again 免费领取", 1);
	/* the same signature in the other direction: a verdict of its own */
	send_split(v.e, 1, 1, 1, &ss, "reply: 免 费 领 取", 5);
	fin_both(v.e, 1, 1, cs, ss);
	/* a late retransmission after both FINs is not scanned again */
	pkt(v.e, 1, 1, 0, 1001, TSF_TCP_ACK, "hello 免费领取", 16, TSF_PROTO_TCP);
	env_stop(&v);
	CHECK_EQ_INT(count_rule(v.c, 1), 2);
	int dirs = 0;
	for (int i = 0; i < v.c->n; i++)
		if (v.c->v[i].rule_id == 1)
			dirs |= 1 << v.c->v[i].dir;
	CHECK_EQ_INT(dirs, 3);
	for (int i = 0; i < v.c->n; i++) {
		struct tsf_verdict *x = &v.c->v[i];
		if (x->rule_id == 1 && x->dir == 0) {
			CHECK_EQ_INT(x->sport, 30001);
			CHECK_EQ_INT(x->dport, 80);
			CHECK_EQ_INT(x->offset, strlen("hello 免费领取"));
			CHECK(x->excerpt_len >= strlen("免费领取"));
			CHECK(!memcmp(x->excerpt + x->excerpt_len - strlen("免费领取"), "免费领取",
			              strlen("免费领取")));
		}
		if (x->rule_id == 1 && x->dir == 1) {
			CHECK_EQ_INT(x->sport, 80);
			CHECK_EQ_INT(x->dport, 30001);
		}
	}
	struct tsf_stats st;
	engine_stats(v.e, &st);
	CHECK(st.verdicts_dup >= 1);
	env_free(&v);
}

static void test_no_cross_matches(void)
{
	struct env v;
	env_start(&v, 1, 0);
	uint32_t cs = 1001, ss = 5001;
	/* half in each direction of one flow */
	handshake(v.e, 2, 1);
	send_split(v.e, 2, 1, 0, &cs, "verify ", 100);
	send_split(v.e, 2, 1, 1, &ss, "wallet now", 100);
	fin_both(v.e, 2, 1, cs, ss);
	/* halves in two flows */
	uint32_t c1 = 1001, c2 = 1001;
	handshake(v.e, 2, 2);
	handshake(v.e, 2, 3);
	send_split(v.e, 2, 2, 0, &c1, "免费", 100);
	send_split(v.e, 2, 3, 0, &c2, "领取", 100);
	/* halves in two UDP datagrams of one flow */
	pkt(v.e, 2, 4, 0, 0, 0, "verify ", 7, TSF_PROTO_UDP);
	pkt(v.e, 2, 4, 0, 0, 0, "wallet", 6, TSF_PROTO_UDP);
	/* a signature straddling a lost segment */
	uint32_t g = 1001;
	handshake(v.e, 2, 5);
	pkt(v.e, 2, 5, 0, g, TSF_TCP_ACK, "xx免费", 8, TSF_PROTO_TCP);
	pkt(v.e, 2, 5, 0, g + 8 + 3, TSF_TCP_ACK, "领取yy", 8, TSF_PROTO_TCP);
	env_stop(&v);
	CHECK_EQ_INT(v.c->n, 0);
	struct tsf_stats st;
	engine_stats(v.e, &st);
	CHECK_EQ_INT(st.reasm_gaps, 1);
	env_free(&v);
}

static void test_udp_and_layers(void)
{
	struct env v;
	env_start(&v, 1, 0);
	pkt(v.e, 3, 1, 0, 0, 0, "please verify wallet", 20, TSF_PROTO_UDP);
	pkt(v.e, 3, 1, 0, 0, 0, "again verify wallet", 19, TSF_PROTO_UDP); /* dedup */
	pkt(v.e, 3, 1, 1, 0, 0, "VERIFY WALLET", 13, TSF_PROTO_UDP);       /* other direction */
	uint32_t cs = 1001, ss = 5001;
	handshake(v.e, 3, 2);
	send_split(v.e, 3, 2, 0, &cs, "my Recovery  Phrase: 1234 and RAWMARK", 3);
	send_split(v.e, 3, 2, 1, &ss, "rawmark is not RAW", 100); /* raw is exact */
	fin_both(v.e, 3, 2, cs, ss);
	env_stop(&v);
	CHECK_EQ_INT(count_rule(v.c, 2), 2);
	CHECK_EQ_INT(count_rule(v.c, 3), 1);
	CHECK_EQ_INT(count_rule(v.c, 4), 1);
	for (int i = 0; i < v.c->n; i++) {
		if (v.c->v[i].rule_id == 3)
			CHECK_EQ_INT(v.c->v[i].offset, strlen("my Recovery  Phrase: 1234"));
		if (v.c->v[i].rule_id == 4)
			CHECK_EQ_INT(v.c->v[i].offset,
			             strlen("my Recovery  Phrase: 1234 and RAWMARK"));
	}
	env_free(&v);
}

static void test_stream_depth(void)
{
	struct env v;
	env_start(&v, 1, 32);
	uint32_t cs = 1001, ss = 5001;
	handshake(v.e, 4, 1);
	send_split(v.e, 4, 1, 0, &cs, "0123456789012345678901234567890123456789 verify wallet", 10);
	send_split(v.e, 4, 1, 1, &ss, "verify wallet", 10);
	fin_both(v.e, 4, 1, cs, ss);
	env_stop(&v);
	CHECK_EQ_INT(v.c->n, 1);
	CHECK_EQ_INT(v.c->v[0].dir, 1);
	struct tsf_stats st;
	engine_stats(v.e, &st);
	CHECK(st.reasm_depth > 0);
	env_free(&v);
}

static void test_text_input(void)
{
	struct env v;
	env_start(&v, 2, 0);
	const char *doc = "Ｖｅｒｉｆｙ ｗａｌｌｅｔ today";
	engine_text(v.e, "doc1.txt", (const uint8_t *)doc, strlen(doc));
	engine_text(v.e, "doc2.txt", (const uint8_t *)"nothing here", 12);
	env_stop(&v);
	CHECK_EQ_INT(v.c->n, 1);
	if (v.c->n == 1) {
		CHECK_STR(v.c->v[0].file, "doc1.txt");
		CHECK_EQ_INT(v.c->v[0].rule_id, 2);
	}
	env_free(&v);
}

static int cmp_verdict(const void *a, const void *b)
{
	const struct tsf_verdict *x = a, *y = b;
	if (x->sport != y->sport)
		return x->sport < y->sport ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir - y->dir;
	return x->rule_id < y->rule_id ? -1 : x->rule_id > y->rule_id;
}

static void run_many(struct env *v)
{
	for (int f = 0; f < 200; f++) {
		uint32_t cs = 1001, ss = 5001;
		handshake(v->e, 5, f);
		send_split(v->e, 5, f, 0, &cs, f % 3 ? "verify wallet 免费领取" : "nothing",
		           1 + f % 7);
		send_split(v->e, 5, f, 1, &ss, f % 2 ? "免费领取" : "none", 2);
		fin_both(v->e, 5, f, cs, ss);
	}
}

static void test_threads_equal(void)
{
	struct env a, b;
	env_start(&a, 1, 0);
	env_start(&b, 4, 0);
	run_many(&a);
	run_many(&b);
	env_stop(&a);
	env_stop(&b);
	CHECK(a.c->n > 0);
	CHECK_EQ_INT(a.c->n, b.c->n);
	qsort(a.c->v, (size_t)a.c->n, sizeof(a.c->v[0]), cmp_verdict);
	qsort(b.c->v, (size_t)b.c->n, sizeof(b.c->v[0]), cmp_verdict);
	for (int i = 0; i < a.c->n && i < b.c->n; i++)
		if (cmp_verdict(&a.c->v[i], &b.c->v[i]) || a.c->v[i].offset != b.c->v[i].offset) {
			CHECK(!"verdicts differ between 1 and 4 workers");
			break;
		}
	env_free(&a);
	env_free(&b);
}

/* Hot swap: a flow that started under set A finishes under A (its match
 * completing after the swap is found); flows after the swap use B; A is
 * freed when its last flow ends. */
static void test_hot_swap(void)
{
	char err[256];
	struct ruleset ra, rb;
	ruleset_init(&ra);
	ruleset_init(&rb);
	const char *a = "10 old \"verify wallet\"\n",
	           *b = "20 new \"免费领取\"\n21 new2 \"verify wallet\"\n";
	ruleset_add_buffer(&ra, "a", a, strlen(a), err, sizeof(err));
	ruleset_add_buffer(&rb, "b", b, strlen(b), err, sizeof(err));
	ruleset_finish(&ra);
	ruleset_finish(&rb);
	struct matcher *ma = matcher_build(&ra, NORM_ALL, err, sizeof(err));
	struct matcher *mb = matcher_build(&rb, NORM_ALL, err, sizeof(err));
	mb->version = 2;
	struct collect *c = collect_new();
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = 2;
	struct engine *e = engine_new(&cfg, ma, &c->base);
	uint32_t cs = 1001, ss = 5001;
	handshake(e, 6, 1);
	send_split(e, 6, 1, 0, &cs, "please verify ", 100);
	CHECK_EQ_INT(engine_set_matcher(e, mb), 0);
	send_split(e, 6, 1, 0, &cs, "wallet 免费领取", 100); /* completes under A */
	fin_both(e, 6, 1, cs, ss);
	uint32_t c2 = 1001, s2 = 5001;
	handshake(e, 6, 2);
	send_split(e, 6, 2, 0, &c2, "verify wallet 免费领取", 3); /* B only */
	fin_both(e, 6, 2, c2, s2);
	engine_finish(e);
	int n10 = 0, n20 = 0, n21 = 0;
	for (int i = 0; i < c->n; i++) {
		struct tsf_verdict *v = &c->v[i];
		if (v->rule_id == 10) {
			n10++;
			CHECK_EQ_INT(v->sport, 30001);
			CHECK_STR(v->ruleset, ra.hash);
		}
		if (v->rule_id == 20 || v->rule_id == 21) {
			CHECK_EQ_INT(v->sport, 30002);
			CHECK_EQ_INT(v->ruleset_version, 2);
			n20 += v->rule_id == 20;
			n21 += v->rule_id == 21;
		}
	}
	CHECK_EQ_INT(n10, 1);
	CHECK_EQ_INT(n20, 1);
	CHECK_EQ_INT(n21, 1);
	CHECK_EQ_INT(c->n, 3);
	CHECK_EQ_INT(matcher_hits(mb, 0), 1);
	engine_free(e);
	CHECK_EQ_INT(ma->refs, 1); /* only ours left: the engine released A */
	CHECK_EQ_INT(mb->refs, 1);
	matcher_unref(ma);
	matcher_unref(mb);
	ruleset_free(&ra);
	ruleset_free(&rb);
	free(c);
}

/* With the reaper running, the set a worker drops last is freed on the
 * reaper thread (queued, not freed inline); stop frees the queue; after
 * the last stop, unref frees inline again. */
static void test_reaper(void)
{
	char err[256];
	struct ruleset ra, rb, rc;
	ruleset_init(&ra);
	ruleset_init(&rb);
	ruleset_init(&rc);
	const char *a = "10 old \"verify wallet\"\n", *b = "20 new \"免费领取\"\n";
	ruleset_add_buffer(&ra, "a", a, strlen(a), err, sizeof(err));
	ruleset_add_buffer(&rb, "b", b, strlen(b), err, sizeof(err));
	ruleset_add_buffer(&rc, "c", b, strlen(b), err, sizeof(err));
	ruleset_finish(&ra);
	ruleset_finish(&rb);
	ruleset_finish(&rc);
	uint64_t q0, f0, q, f;
	matcher_reaper_counts(&q0, &f0);
	CHECK_EQ_INT(matcher_reaper_start(), 0);
	CHECK_EQ_INT(matcher_reaper_start(), 0); /* nested */
	struct matcher *ma = matcher_build(&ra, NORM_ALL, err, sizeof(err));
	struct matcher *mb = matcher_build(&rb, NORM_ALL, err, sizeof(err));
	struct collect *c = collect_new();
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = 2;
	struct engine *e = engine_new(&cfg, ma, &c->base);
	matcher_unref(ma); /* the engine holds A alone now */
	uint32_t cs = 1001, ss = 5001;
	handshake(e, 6, 1);
	send_split(e, 6, 1, 0, &cs, "please verify wallet", 5);
	fin_both(e, 6, 1, cs, ss);
	CHECK_EQ_INT(engine_set_matcher(e, mb), 0);
	uint32_t c2 = 1001, s2 = 5001;
	handshake(e, 6, 2);
	send_split(e, 6, 2, 0, &c2, "verify wallet 免费领取", 4);
	fin_both(e, 6, 2, c2, s2);
	engine_finish(e);
	CHECK_EQ_INT(c->n, 2); /* 10 under A, 20 under B */
	matcher_reaper_counts(&q, &f);
	CHECK_EQ_INT(q - q0, 1); /* A, dropped by a worker */
	engine_free(e);
	matcher_reaper_stop(); /* still running: started twice */
	matcher_unref(mb);
	matcher_reaper_counts(&q, &f);
	CHECK_EQ_INT(q - q0, 2);
	matcher_reaper_stop();
	matcher_reaper_counts(&q, &f);
	CHECK_EQ_INT(f - f0, 2); /* stop emptied the queue */
	struct matcher *mc = matcher_build(&rc, NORM_ALL, err, sizeof(err));
	matcher_unref(mc);     /* no reaper: inline */
	matcher_reaper_stop(); /* unbalanced: ignored */
	matcher_reaper_counts(&q, &f);
	CHECK_EQ_INT(q - q0, 2);
	CHECK_EQ_INT(f - f0, 2);
	ruleset_free(&ra);
	ruleset_free(&rb);
	ruleset_free(&rc);
	free(c);
}

/* Flows that never end: each holds "verify wallet" behind a gap (a lost
 * segment), so the match completes only when the end of the capture
 * flushes the flow.  Its ts is then that flow's last packet, whatever the
 * number of workers (not the last packet the flushing worker happened to
 * see, which belongs to another flow). */
static void run_unended(struct env *v, uint64_t *last)
{
	for (int f = 0; f < 40; f++) {
		handshake(v->e, 6, f);
		pkt(v->e, 6, f, 0, 1001 + 5, TSF_TCP_ACK, "verify wallet", 13, TSF_PROTO_TCP);
		last[f] = clock_ns;
	}
	for (int f = 40; f < 80; f++) { /* later traffic on every worker */
		uint32_t cs = 1001;
		handshake(v->e, 6, f);
		send_split(v->e, 6, f, 0, &cs, "nothing here", 4);
	}
}

static void test_flush_ts(void)
{
	for (int threads = 1; threads <= 4; threads += 3) {
		struct env v;
		uint64_t last[40];
		env_start(&v, threads, 0);
		run_unended(&v, last);
		env_stop(&v);
		CHECK_EQ_INT(v.c->n, 40);
		int right = 0;
		for (int i = 0; i < v.c->n; i++) {
			const struct tsf_verdict *x = &v.c->v[i];
			int f = x->sport - 30000;
			right += x->rule_id == 2 && f >= 0 && f < 40 && x->ts_ns == last[f];
		}
		CHECK_EQ_INT(right, 40);
		env_free(&v);
	}
}

int main(void)
{
	RUN(test_split_dedup_directions);
	RUN(test_no_cross_matches);
	RUN(test_udp_and_layers);
	RUN(test_stream_depth);
	RUN(test_text_input);
	RUN(test_threads_equal);
	RUN(test_flush_ts);
	RUN(test_hot_swap);
	RUN(test_reaper);
	return UNIT_DONE();
}
