/* bench_bus.c - verdict bus throughput, CPU cost and latency, end to end:
 * producer thread -> publisher sink (queue, numbering, protobuf, XPUB) ->
 * subscriber thread (receive, unpack, convert every verdict).
 *
 * Baseline measured in the same run: raw ZeroMQ PUB/SUB of one pre-encoded
 * 64-verdict batch repeated (no queue, no encoding, no decoding): the
 * transport's ceiling for the same bytes.
 *
 *   bench_bus                  the table; writes bench/results/bench_bus.json
 *   bench_bus --quick          smaller counts (smoke test)
 *   bench_bus --burst N        only the lossless burst check with N verdicts
 *   bench_bus --sensor EP ...  a synthetic sensor for scripts (see usage())
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "publish.h"

static double now_s(void)
{
	return (double)bus_mono_ns() / 1e9;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *cats[] = {"fraud", "phishing", "malware", "spam"};

static struct tsf_verdict mkv(uint64_t i)
{
	struct tsf_verdict v;
	memset(&v, 0, sizeof(v));
	v.ts_ns = bus_mono_ns();
	v.ipver = 4;
	v.proto = 6;
	v.sev = (uint8_t)(1 + i % 5);
	v.src[0] = 10, v.src[2] = (uint8_t)(i >> 8), v.src[3] = (uint8_t)i;
	v.dst[0] = 192, v.dst[1] = 168, v.dst[3] = 7;
	v.sport = (uint16_t)(1024 + i % 60000);
	v.dport = 443;
	v.rule_id = (uint32_t)(1000 + i % 977);
	v.category = cats[(i / 16) % 4]; /* runs of 16: realistic mixing */
	v.msg = "wire transfer to unknown beneficiary";
	v.ruleset = "9f2c41d0";
	v.ruleset_version = 7;
	v.offset = 4096 + i % 100000;
	memcpy(v.excerpt, "please wire the money to account 12345678 today", 47);
	v.excerpt_len = 47;
	return v;
}

/* --- subscriber ----------------------------------------------------------- */

struct sub {
	void *ctx;
	const char *ep;
	const char *server_pub; /* CURVE */
	uint64_t expect;        /* stop after this many verdicts ... */
	atomic_int stop;        /* ... or when told */
	atomic_int ready;
	uint64_t got, batches, bad, missing;
	uint64_t cpu_ns;
	double t_last;
	uint64_t *lat;      /* latency samples (ns) when non-NULL */
	uint64_t (*gap)[2]; /* missing ranges seen, like watch */
	size_t ngap, capgap;
	uint64_t first_seq, last_seq;
	size_t nlat, cap;
	int rcvhwm;
};

static void *sub_main(void *a)
{
	struct sub *s = a;
	void *sock = zmq_socket(s->ctx, ZMQ_SUB);
	int zero = 0, hwm = s->rcvhwm ? s->rcvhwm : 100000;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (s->server_pub)
		bus_curve_client(sock, s->server_pub, NULL);
	zmq_setsockopt(sock, ZMQ_SUBSCRIBE, BUS_TOPIC_VERDICT, strlen(BUS_TOPIC_VERDICT));
	zmq_connect(sock, s->ep);
	atomic_store(&s->ready, 1);
	uint64_t c0 = thread_cpu_ns();
	struct bus_seq seq = {0};
	zmq_msg_t t, m;
	zmq_msg_init(&t);
	zmq_msg_init(&m);
	struct bus_arena arena;
	bus_arena_init(&arena);
	while (s->got < s->expect && !atomic_load(&s->stop)) {
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		while (zmq_msg_recv(&t, sock, ZMQ_DONTWAIT) >= 0) {
			zmq_msg_recv(&m, sock, 0);
			bus_arena_reset(&arena);
			Tsf__VerdictBatch *b =
			    bus_batch_unpack(&arena, zmq_msg_data(&m), zmq_msg_size(&m));
			if (!b) {
				s->bad++;
				continue;
			}
			uint64_t now = s->lat ? bus_mono_ns() : 0;
			for (size_t i = 0; i < b->n_verdicts; i++) {
				struct tsf_verdict v;
				if (bus_verdict_from_pb(b->verdicts[i], &v))
					s->bad++;
				uint64_t sq = b->verdicts[i]->seq,
				         miss = bus_seq_see(&seq, b->epoch, sq);
				if (!s->first_seq)
					s->first_seq = sq;
				s->last_seq = sq;
				if (miss && s->ngap < s->capgap) {
					s->gap[s->ngap][0] = sq - miss;
					s->gap[s->ngap++][1] = sq - 1;
				}
				if (s->lat && s->nlat < s->cap)
					s->lat[s->nlat++] = now - v.ts_ns;
			}
			s->got += b->n_verdicts;
			s->batches++;
		}
	}
	s->t_last = now_s();
	s->missing = seq.missing;
	s->cpu_ns = thread_cpu_ns() - c0;
	bus_arena_free(&arena);
	zmq_msg_close(&t);
	zmq_msg_close(&m);
	zmq_close(sock);
	return NULL;
}

/* --- one end-to-end run ---------------------------------------------------- */

struct run {
	const char *name;
	const char *transport; /* "ipc" | "tcp" */
	int batch_max;
	int curve;
	int relay;
	uint64_t n;
	double rate; /* verdicts/s to pace at; 0: as fast as possible */
	/* results */
	double secs, vps, ns_prod, ns_pub, ns_sub, p50_us, p99_us;
	uint64_t got, unsent, qdrop;
};

static char tmpdir[256];
static int ep_n;

static void mk_ep(const char *transport, char *buf, size_t cap)
{
	if (!strcmp(transport, "ipc"))
		snprintf(buf, cap, "ipc://%s/b%d", tmpdir, ep_n++);
	else
		snprintf(buf, cap, "tcp://127.0.0.1:*");
}

struct relay_th {
	void *ctx;
	struct bus_relay_config c;
	volatile int stop;
	struct bus_relay_stats st;
};

static void *relay_main(void *a)
{
	struct relay_th *r = a;
	char err[256];
	if (bus_relay_run(r->ctx, &r->c, &r->stop, &r->st, err, sizeof(err)))
		fprintf(stderr, "relay: %s\n", err);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_one(struct run *r)
{
	char ep[300], err[256], key[300];
	struct publish_config c;
	publish_config_default(&c);
	mk_ep(r->transport, ep, sizeof(ep));
	c.endpoint = ep;
	c.sensor = "bench";
	c.batch_max = r->batch_max;
	c.block_when_full = 1; /* measure the pipeline, not the queue's drops */
	c.stats_ms = (unsigned)-1;
	char pub_z85[41] = "";
	if (r->curve) {
		snprintf(key, sizeof(key), "%s/srv%d.key", tmpdir, ep_n++);
		bus_keygen(key, err, sizeof(err));
		char pp[320];
		snprintf(pp, sizeof(pp), "%s.pub", key);
		bus_key_load(pp, pub_z85, err, sizeof(err));
		c.curve_secret_file = key;
	}
	struct vsink *s = vsink_publish_new(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "bench_bus: %s\n", err);
		return -1;
	}
	struct relay_th rt = {0};
	pthread_t rth;
	char rout[300];
	const char *ins[1] = {publish_endpoint(s, 0)};
	struct sub sb = {0};
	sb.ctx = zmq_ctx_new();
	sb.ep = publish_endpoint(s, 0);
	if (r->relay) {
		mk_ep(r->transport, rout, sizeof(rout));
		if (!strcmp(r->transport, "tcp")) /* the relay needs a fixed port here */
			snprintf(rout, sizeof(rout), "tcp://127.0.0.1:%d",
			         45000 + (getpid() % 10000));
		rt.ctx = zmq_ctx_new();
		rt.c.in = ins;
		rt.c.n_in = 1;
		rt.c.out = rout;
		pthread_create(&rth, NULL, relay_main, &rt);
		sb.ep = rout;
	}
	sb.server_pub = r->curve ? pub_z85 : NULL;
	sb.expect = r->n;
	if (r->rate > 0) {
		sb.cap = r->n;
		sb.lat = malloc(sizeof(uint64_t) * sb.cap);
	}
	pthread_t th;
	pthread_create(&th, NULL, sub_main, &sb);
	pthread_setname_np(th, "bench-sub");
	/* Wait for the subscription to reach the publisher (bounded). */
	for (int i = 0; i < 20000; i++) {
		struct tsf_stats st = {0};
		publish_stats(s, &st);
		if (st.bus_subscriptions >= 1)
			break;
		usleep(1000);
	}
	uint64_t p0 = proc_cpu_ns(), c0 = thread_cpu_ns();
	double t0 = now_s();
	for (uint64_t i = 0; i < r->n; i++) {
		if (r->rate > 0) {
			/* Sleep, don't spin: on 2 vCPU a spinning producer takes the
			 * core the publisher and ZeroMQ need, and latency measures that.
			 * Verdicts then leave in small bursts, as they do from a capture. */
			double due = t0 + (double)i / r->rate, now = now_s();
			if (due > now) {
				struct timespec ts = {0, (long)((due - now) * 1e9)};
				nanosleep(&ts, NULL);
			}
		}
		struct tsf_verdict v = mkv(i);
		s->emit(s, &v);
	}
	uint64_t prod_cpu = thread_cpu_ns() - c0;
	s->flush(s);
	/* Everything was handed to ZeroMQ; wait for the subscriber (bounded). */
	struct tsf_stats st = {0};
	publish_stats(s, &st);
	double deadline = now_s() + 60;
	while (sb.got + st.bus_unsent < r->n && now_s() < deadline) {
		usleep(1000);
		publish_stats(s, &st);
	}
	atomic_store(&sb.stop, 1);
	pthread_join(th, NULL);
	uint64_t total_cpu = proc_cpu_ns() - p0;
	r->got = sb.got;
	r->unsent = st.bus_unsent;
	r->qdrop = st.bus_queue_dropped;
	r->secs = sb.t_last - t0;
	r->vps = (double)sb.got / r->secs;
	r->ns_prod = (double)prod_cpu / (double)r->n;
	r->ns_sub = (double)sb.cpu_ns / (double)r->n;
	r->ns_pub = ((double)total_cpu - (double)prod_cpu - (double)sb.cpu_ns) / (double)r->n;
	if (sb.lat && sb.nlat) {
		qsort(sb.lat, sb.nlat, sizeof(uint64_t), cmp_u64);
		r->p50_us = (double)sb.lat[sb.nlat / 2] / 1e3;
		r->p99_us = (double)sb.lat[sb.nlat * 99 / 100] / 1e3;
	}
	free(sb.lat);
	s->destroy(s);
	if (r->relay) {
		rt.stop = 1;
		pthread_join(rth, NULL);
		zmq_ctx_term(rt.ctx);
	}
	zmq_ctx_term(sb.ctx);
	return 0;
}

/* Encoding and decoding alone, 64-verdict batches: protobuf-c (the baseline)
 * against the hand-written encoder/decoder the bus uses. */
static void run_codec(FILE *json, int quick)
{
	struct tsf_verdict v[64];
	Tsf__Verdict pv[64], *pp[64];
	for (int i = 0; i < 64; i++) {
		v[i] = mkv((uint64_t)i);
		bus_verdict_to_pb(&v[i], (uint64_t)i + 1, (uint64_t)i + 1, &pv[i]);
		pp[i] = &pv[i];
	}
	Tsf__VerdictBatch b = TSF__VERDICT_BATCH__INIT;
	b.schema = 1;
	b.sensor = "bench";
	b.n_verdicts = 64;
	b.verdicts = pp;
	static uint8_t buf[65536];
	struct bus_batch_hdr h = {"bench", 0, 0};
	uint64_t cs[64];
	for (int i = 0; i < 64; i++)
		cs[i] = (uint64_t)i + 1;
	int iters = quick ? 2000 : 20000;
	double ns[5];
	size_t len = 0;
	struct bus_arena a;
	bus_arena_init(&a);
	for (int k = 0; k < 5; k++) {
		uint64_t t0 = thread_cpu_ns(), sink = 0;
		for (int it = 0; it < iters; it++) {
			struct tsf_verdict o;
			Tsf__VerdictBatch *d = NULL;
			switch (k) {
			case 0:
				len = tsf__verdict_batch__get_packed_size(&b);
				sink += tsf__verdict_batch__pack(&b, buf);
				break;
			case 1:
				len = bus_batch_size(&h, v, cs, 1, 64);
				sink += bus_batch_pack(buf, &h, v, cs, 1, 64);
				break;
			case 2:
				d = tsf__verdict_batch__unpack(NULL, len, buf);
				for (size_t i = 0; d && i < d->n_verdicts; i++)
					sink += (uint64_t)bus_verdict_from_pb(d->verdicts[i], &o);
				tsf__verdict_batch__free_unpacked(d, NULL);
				break;
			case 3:
				d = tsf__verdict_batch__unpack(bus_arena_allocator(&a), len, buf);
				for (size_t i = 0; d && i < d->n_verdicts; i++)
					sink += (uint64_t)bus_verdict_from_pb(d->verdicts[i], &o);
				bus_arena_reset(&a);
				break;
			case 4:
				d = bus_batch_unpack(&a, buf, len);
				for (size_t i = 0; d && i < d->n_verdicts; i++)
					sink += (uint64_t)bus_verdict_from_pb(d->verdicts[i], &o);
				bus_arena_reset(&a);
				break;
			}
		}
		ns[k] = (double)(thread_cpu_ns() - t0) / iters / 64;
		if (sink == 42)
			printf(" ");
	}
	bus_arena_free(&a);
	printf("\ncodec, CPU ns per verdict (64-verdict batches, %.0f bytes/verdict):\n"
	       "  encode: protobuf-c %.0f (baseline), bus_batch_pack %.0f\n"
	       "  decode+convert: protobuf-c malloc %.0f (baseline), protobuf-c arena %.0f, "
	       "bus_batch_unpack %.0f\n",
	       (double)len / 64, ns[0], ns[1], ns[2], ns[3], ns[4]);
	if (json)
		fprintf(
		    json,
		    "  \"codec_ns_per_verdict\": {\"pack_protobuf_c\": %.1f, \"pack_bus\": %.1f, "
		    "\"unpack_protobuf_c\": %.1f, \"unpack_protobuf_c_arena\": %.1f, "
		    "\"unpack_bus\": %.1f},\n",
		    ns[0], ns[1], ns[2], ns[3], ns[4]);
}

/* Baseline: the same batch bytes over raw PUB/SUB, no publisher, no decode. */
static void run_baseline(struct run *r)
{
	Tsf__Verdict pv[64], *pp[64];
	struct tsf_verdict v[64];
	for (int i = 0; i < 64; i++) {
		v[i] = mkv((uint64_t)i);
		v[i].category = "fraud";
		bus_verdict_to_pb(&v[i], (uint64_t)i + 1, (uint64_t)i + 1, &pv[i]);
		pp[i] = &pv[i];
	}
	Tsf__VerdictBatch b = TSF__VERDICT_BATCH__INIT;
	b.schema = 1;
	b.sensor = "bench";
	b.n_verdicts = 64;
	b.verdicts = pp;
	uint8_t buf[16384];
	size_t len = tsf__verdict_batch__pack(&b, buf);
	char ep[300];
	mk_ep("ipc", ep, sizeof(ep));
	void *ctx = zmq_ctx_new();
	void *pub = zmq_socket(ctx, ZMQ_XPUB), *sub = zmq_socket(ctx, ZMQ_SUB);
	int hwm = 100000, one = 1, zero = 0;
	zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(pub, ZMQ_XPUB_NODROP, &one, sizeof(one));
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_bind(pub, ep);
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	zmq_connect(sub, ep);
	char sb[64];
	zmq_recv(pub, sb, sizeof(sb), 0); /* the subscription */
	uint64_t batches = r->n / 64, got = 0;
	uint64_t p0 = proc_cpu_ns();
	double t0 = now_s();
	zmq_msg_t m;
	zmq_msg_init(&m);
	for (uint64_t i = 0; i < batches; i++) {
		while (zmq_send(pub, "v1.verdict.fraud.", 17, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
			/* at the HWM: receive some (single thread keeps it simple) */
			while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0)
				got += !zmq_msg_more(&m);
		}
		zmq_send(pub, buf, len, 0);
	}
	while (got < batches && zmq_msg_recv(&m, sub, 0) >= 0)
		got += !zmq_msg_more(&m);
	r->secs = now_s() - t0;
	r->got = got * 64;
	r->vps = (double)r->got / r->secs;
	r->ns_pub = (double)(proc_cpu_ns() - p0) / (double)r->got;
	zmq_msg_close(&m);
	zmq_close(pub);
	zmq_close(sub);
	zmq_ctx_term(ctx);
}

/* The replay callback counts every verdict handed back. */
static int count_cb(void *ud, const Tsf__VerdictBatch *b, const Tsf__Verdict *v)
{
	(void)b, (void)v;
	(*(uint64_t *)ud)++;
	return 0;
}

/* A burst far over the subscriber's high-water mark, nothing slowed down:
 * what the subscriber misses is counted as unsent and replayed from the
 * journal.  Lossless = received live + replayed == n. */
static int run_burst(uint64_t n, FILE *json)
{
	char ep[300], rep[300], jdir[300], err[256];
	mk_ep("ipc", ep, sizeof(ep));
	mk_ep("ipc", rep, sizeof(rep));
	snprintf(jdir, sizeof(jdir), "%s/journal", tmpdir);
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ep;
	c.replay_endpoint = rep;
	c.sensor = "burst";
	c.sndhwm = 1000; /* small on purpose: the burst must overflow it */
	c.block_when_full = 1;
	c.stats_ms = (unsigned)-1;
	c.journal.dir = jdir;
	c.journal.fsync = JOURNAL_FSYNC_NONE;
	c.journal.max_bytes = 4ull << 30;
	struct vsink *s = vsink_publish_new(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "bench_bus: %s\n", err);
		return -1;
	}
	struct sub sb = {0};
	sb.ctx = zmq_ctx_new();
	sb.ep = ep;
	sb.expect = n;
	sb.rcvhwm = 1000;
	sb.capgap = 1u << 20;
	sb.gap = malloc(sizeof(*sb.gap) * sb.capgap);
	pthread_t th;
	pthread_create(&th, NULL, sub_main, &sb);
	pthread_setname_np(th, "bench-sub");
	for (int i = 0; i < 20000; i++) {
		struct tsf_stats st = {0};
		publish_stats(s, &st);
		if (st.bus_subscriptions >= 1)
			break;
		usleep(1000);
	}
	double t0 = now_s();
	for (uint64_t i = 0; i < n; i++) {
		struct tsf_verdict v = mkv(i);
		s->emit(s, &v);
	}
	s->flush(s);
	double t_pub = now_s() - t0;
	struct tsf_stats st = {0};
	publish_stats(s, &st);
	double deadline = now_s() + 120;
	while (sb.got + st.bus_unsent < n && now_s() < deadline)
		usleep(1000);
	atomic_store(&sb.stop, 1);
	pthread_join(th, NULL);
	/* The subscriber's gaps (and a missing head or tail), fetched back the
	 * way `watch --replay` does it. */
	uint64_t got_back = 0, gone = 0;
	double t1 = now_s();
	int rr = 0;
	if (sb.first_seq > 1 && sb.ngap < sb.capgap) {
		sb.gap[sb.ngap][0] = 1;
		sb.gap[sb.ngap++][1] = sb.first_seq - 1;
	}
	if (sb.last_seq < n && sb.ngap < sb.capgap) {
		sb.gap[sb.ngap][0] = sb.last_seq + 1;
		sb.gap[sb.ngap++][1] = n;
	}
	for (size_t g = 0; g < sb.ngap && !rr; g++) {
		uint64_t gn = 0;
		rr = bus_replay_fetch(sb.ctx, rep, NULL, sb.gap[g][0], sb.gap[g][1], NULL, 30000,
		                      count_cb, &gn, &gone, err, sizeof(err));
		got_back += gn;
	}
	if (rr)
		fprintf(stderr, "bench_bus: replay: %s\n", err);
	double t_rep = now_s() - t1;
	uint64_t recovered = got_back;
	int lossless = rr == 0 && st.bus_queue_dropped == 0 && sb.got + recovered == n;
	printf("\nburst: %" PRIu64 " verdicts, subscriber HWM 1000: live %" PRIu64 " (%.1f%%), "
	       "unsent (HWM) %" PRIu64 ", replayed %" PRIu64 " in %.2f s; published in %.2f s; "
	       "%s\n",
	       n, sb.got, 100.0 * (double)sb.got / (double)n, st.bus_unsent, recovered, t_rep,
	       t_pub, lossless ? "LOSSLESS" : "LOSS");
	if (json)
		fprintf(
		    json,
		    "  \"burst\": {\"n\": %" PRIu64 ", \"live\": %" PRIu64 ", \"unsent\": %" PRIu64
		    ", \"replayed\": %" PRIu64 ", \"replay_s\": %.3f, \"publish_s\": %.3f, "
		    "\"lossless\": %s}\n",
		    n, sb.got, st.bus_unsent, recovered, t_rep, t_pub, lossless ? "true" : "false");
	s->destroy(s);
	zmq_ctx_term(sb.ctx);
	free(sb.gap);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", jdir);
	if (system(cmd)) {
	}
	return lossless ? 0 : 1;
}

/* --- synthetic sensor (for tests/it_bus.sh) ------------------------------- */

static volatile int sensor_stop;
static void on_term(int sig)
{
	(void)sig;
	sensor_stop = 1;
}

static int sensor_mode(int argc, char **argv)
{
	struct publish_config c;
	publish_config_default(&c);
	uint64_t count = 100, subs = 0;
	double linger = 0, rate = 0;
	const char *catlist = NULL;
	c.stats_ms = 500;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--sensor"))
			c.endpoint = v;
		else if (!strcmp(a, "--count"))
			count = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--id"))
			c.sensor = v;
		else if (!strcmp(a, "--journal"))
			c.journal.dir = v;
		else if (!strcmp(a, "--replay"))
			c.replay_endpoint = v;
		else if (!strcmp(a, "--wait-subs"))
			subs = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--linger"))
			linger = atof(v);
		else if (!strcmp(a, "--hwm"))
			c.sndhwm = atoi(v);
		else if (!strcmp(a, "--curve-secret"))
			c.curve_secret_file = v;
		else if (!strcmp(a, "--curve-allow"))
			c.curve_allow_file = v;
		else if (!strcmp(a, "--category"))
			catlist = v;
		else if (!strcmp(a, "--rate"))
			rate = atof(v);
		else if (!strcmp(a, "--stats-ms"))
			c.stats_ms = (unsigned)atoi(v);
		else {
			fprintf(stderr, "bench_bus: unknown sensor option %s\n", a);
			return 2;
		}
	}
	c.block_when_full = 1;
	char err[256];
	struct vsink *s = vsink_publish_new(&c, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "bench_bus: %s\n", err);
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	double deadline = now_s() + 30;
	struct tsf_stats st = {0};
	while (subs && !sensor_stop && now_s() < deadline) {
		publish_stats(s, &st);
		if (st.bus_subscriptions >= subs)
			break;
		usleep(2000);
	}
	double t0 = now_s();
	for (uint64_t i = 0; i < count && !sensor_stop; i++) {
		if (rate > 0)
			while (now_s() < t0 + (double)i / rate && !sensor_stop)
				usleep(200);
		struct tsf_verdict v = mkv(i);
		if (catlist)
			v.category = catlist;
		s->emit(s, &v);
	}
	s->flush(s);
	printf("sensor: published through seq %" PRIu64 "\n", publish_last_seq(s));
	fflush(stdout);
	double end = now_s() + linger;
	while (!sensor_stop && now_s() < end)
		usleep(10000);
	memset(&st, 0, sizeof(st));
	publish_stats(s, &st);
	fprintf(stderr, "sensor: published %" PRIu64 " unsent %" PRIu64 "\n", st.bus_published,
	        st.bus_unsent);
	s->destroy(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--sensor"))
		return sensor_mode(argc, argv);
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tsf-bench-bus-%d", (int)getpid());
	mkdir(tmpdir, 0700);
	if (argc > 2 && !strcmp(argv[1], "--burst")) {
		int rc = run_burst(strtoull(argv[2], NULL, 10), NULL);
		rmdir(tmpdir);
		return rc;
	}
	uint64_t big = quick ? 200000 : 2000000, small = quick ? 50000 : 300000;
	struct run runs[] = {
	    {.name = "ipc batched", .transport = "ipc", .batch_max = 64, .n = big},
	    {.name = "ipc unbatched", .transport = "ipc", .batch_max = 1, .n = small},
	    {.name = "tcp batched", .transport = "tcp", .batch_max = 64, .n = big},
	    {.name = "tcp unbatched", .transport = "tcp", .batch_max = 1, .n = small},
	    {.name = "tcp batched CURVE",
	     .transport = "tcp",
	     .batch_max = 64,
	     .curve = 1,
	     .n = big},
	    {.name = "tcp unbatched CURVE",
	     .transport = "tcp",
	     .batch_max = 1,
	     .curve = 1,
	     .n = small},
	    {.name = "ipc batched via relay",
	     .transport = "ipc",
	     .batch_max = 64,
	     .relay = 1,
	     .n = big},
	    {.name = "tcp batched via relay",
	     .transport = "tcp",
	     .batch_max = 64,
	     .relay = 1,
	     .n = big},
	    {.name = "ipc latency @100k/s",
	     .transport = "ipc",
	     .batch_max = 64,
	     .n = quick ? 20000 : 200000,
	     .rate = 100000},
	    {.name = "tcp latency @100k/s",
	     .transport = "tcp",
	     .batch_max = 64,
	     .n = quick ? 20000 : 200000,
	     .rate = 100000},
	};
	struct run base = {.name = "baseline: raw XPUB/SUB, pre-encoded batches (ipc)", .n = big};
	run_baseline(&base);
	printf("%-52s %10s %12s %9s %9s %9s %9s %9s %8s\n", "case", "verdicts", "verdicts/s",
	       "prod ns", "pub ns", "sub ns", "p50 us", "p99 us", "unsent");
	printf("%-52s %10" PRIu64 " %12.0f %9s %9.0f %9s %9s %9s %8s\n", base.name, base.got,
	       base.vps, "-", base.ns_pub, "-", "-", "-", "-");
	FILE *json = fopen("bench/results/bench_bus.json", "w");
	if (json)
		fprintf(json,
		        "{\n  \"bench\": \"bench_bus\",\n  \"baseline\": {\"name\": \"%s\", "
		        "\"verdicts_per_s\": %.0f},\n  \"runs\": [\n",
		        base.name, base.vps);
	int nr = (int)(sizeof(runs) / sizeof(runs[0]));
	for (int i = 0; i < nr; i++) {
		struct run *r = &runs[i];
		if (run_one(r))
			continue;
		char p50[16] = "-", p99[16] = "-";
		if (r->rate > 0) {
			snprintf(p50, sizeof(p50), "%.0f", r->p50_us);
			snprintf(p99, sizeof(p99), "%.0f", r->p99_us);
		}
		printf("%-52s %10" PRIu64 " %12.0f %9.0f %9.0f %9.0f %9s %9s %8" PRIu64 "\n",
		       r->name, r->got, r->rate > 0 ? (double)r->got / r->secs : r->vps, r->ns_prod,
		       r->ns_pub, r->ns_sub, p50, p99, r->unsent);
		fflush(stdout);
		if (json)
			fprintf(
			    json,
			    "    {\"name\": \"%s\", \"n\": %" PRIu64 ", \"received\": %" PRIu64
			    ", \"verdicts_per_s\": %.0f, \"ns_producer\": %.1f, "
			    "\"ns_publisher\": %.1f, \"ns_subscriber\": %.1f, \"p50_us\": %.1f, "
			    "\"p99_us\": %.1f, \"unsent\": %" PRIu64 "}%s\n",
			    r->name, r->n, r->got, r->vps, r->ns_prod, r->ns_pub, r->ns_sub,
			    r->p50_us, r->p99_us, r->unsent, i + 1 < nr ? "," : "");
	}
	if (json)
		fprintf(json, "  ],\n");
	run_codec(json, quick);
	int rc = run_burst(quick ? 1000000 : 10000000, json);
	if (json) {
		fprintf(json, "}\n");
		fclose(json);
	}
	double la[3] = {0};
	if (getloadavg(la, 3) > 0)
		printf("\nload average at the end: %.1f (2 vCPU: other work skews these figures)\n",
		       la[0]);
	printf("\nns columns: CPU per verdict. prod = emit() in the producer thread; sub = receive"
	       " + unpack + convert; pub = the rest of the process (publisher thread, ZeroMQ I/O"
	       " threads, relay)\n");
	rmdir(tmpdir);
	return rc;
}
