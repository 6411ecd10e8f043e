/* test_bus.c - the verdict bus on real ZeroMQ sockets (ipc and loopback TCP):
 * round trip, category filter, batching, gaps, HWM with a stalled
 * subscriber, journal rotation and repair, replay (good and bad requests),
 * restart numbering, CURVE with an allow-list, relay, garbage on the wire.
 *
 * Waits are bounded (a few seconds) only so that a bug cannot hang the
 * suite; no check depends on timing. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "journal.h"
#include "publish.h"
#include "unit.h"

#define WAIT_MS 20000 /* only to avoid hanging */

static char tmpdir[256];
static int ipc_n;

static const char *ipc_ep(char *buf, size_t cap)
{
	snprintf(buf, cap, "ipc://%s/s%d", tmpdir, ipc_n++);
	return buf;
}

static struct tsf_verdict mkv(uint32_t rule, const char *cat)
{
	struct tsf_verdict v;
	memset(&v, 0, sizeof(v));
	v.ts_ns = 1700000000000000000ull + rule;
	v.ipver = 4;
	v.proto = 6;
	v.sev = 3;
	v.src[0] = 10, v.src[3] = 1;
	v.dst[0] = 192, v.dst[1] = 168, v.dst[3] = 7;
	v.sport = 40000;
	v.dport = 80;
	v.rule_id = rule;
	v.category = cat;
	v.msg = "test message";
	v.ruleset = "abc123";
	v.ruleset_version = 42;
	v.offset = 1000 + rule;
	memcpy(v.excerpt, "h\xc3\xa9llo", 6);
	v.excerpt_len = 6;
	return v;
}

static struct vsink *pub_new(struct publish_config *c)
{
	char err[256] = "";
	struct vsink *s = vsink_publish_new(c, err, sizeof(err));
	if (!s)
		fprintf(stderr, "  publish: %s\n", err);
	return s;
}

static uint64_t counter(struct vsink *s, int which)
{
	struct tsf_stats st;
	memset(&st, 0, sizeof(st));
	publish_stats(s, &st);
	switch (which) {
	case 0:
		return st.bus_subscriptions;
	case 1:
		return st.bus_published;
	case 2:
		return st.bus_unsent;
	case 3:
		return st.bus_auth_denied;
	case 4:
		return st.bus_queue_dropped;
	default:
		return st.bus_journaled;
	}
}

/* Bounded wait for a counter to reach n (the publisher sees subscriptions
 * asynchronously; sending before it does would lose messages by design). */
static int wait_counter(struct vsink *s, int which, uint64_t n)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (counter(s, which) >= n)
			return 1;
		usleep(1000);
	}
	return 0;
}

static void *sub_new(void *ctx, const char *ep, const char *topic)
{
	void *s = zmq_socket(ctx, ZMQ_SUB);
	int t = WAIT_MS, zero = 0;
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof(t));
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (topic)
		zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic));
	zmq_connect(s, ep);
	return s;
}

/* One message: topic into topic[], batch decoded (NULL on timeout). */
static Tsf__VerdictBatch *recv_batch(void *sub, char *topic, size_t cap, int flags)
{
	int n = zmq_recv(sub, topic, cap - 1, flags);
	if (n < 0)
		return NULL;
	topic[n < (int)cap - 1 ? n : (int)cap - 1] = 0;
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sub, 0) < 0) {
		zmq_msg_close(&m);
		return NULL;
	}
	Tsf__VerdictBatch *b = tsf__verdict_batch__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
	zmq_msg_close(&m);
	return b;
}

static void test_roundtrip_ipc(void)
{
	char ep[300];
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(ep, sizeof(ep));
	c.sensor = "gw1";
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sub = sub_new(ctx, ep, BUS_TOPIC_VERDICT);
	CHECK(wait_counter(s, 0, 1));
	for (uint32_t i = 1; i <= 10; i++) {
		struct tsf_verdict v = mkv(i, "fraud");
		s->emit(s, &v);
	}
	s->flush(s);
	uint64_t got = 0;
	while (got < 10) {
		char topic[200];
		Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
		CHECK(b != NULL);
		if (!b)
			break;
		CHECK_STR(topic, "v1.verdict.fraud.");
		CHECK_EQ_INT(b->schema, BUS_SCHEMA);
		CHECK_STR(b->sensor, "gw1");
		CHECK(b->epoch > 0);
		for (size_t i = 0; i < b->n_verdicts; i++) {
			Tsf__Verdict *pv = b->verdicts[i];
			struct tsf_verdict v, want = mkv((uint32_t)(got + 1), "fraud");
			CHECK_EQ_INT(pv->seq, got + 1);
			CHECK_EQ_INT(pv->cat_seq, got + 1);
			CHECK_EQ_INT(bus_verdict_from_pb(pv, &v), 0);
			CHECK_EQ_INT(v.rule_id, want.rule_id);
			CHECK_EQ_INT(v.ts_ns, want.ts_ns);
			CHECK(!memcmp(v.src, want.src, 16) && !memcmp(v.dst, want.dst, 16));
			CHECK_EQ_INT(v.sport, 40000);
			CHECK_EQ_INT(v.dport, 80);
			CHECK_EQ_INT(v.sev, 3);
			CHECK_EQ_INT(v.offset, want.offset);
			CHECK_EQ_INT(v.ruleset_version, 42);
			CHECK_STR(v.category, "fraud");
			CHECK_STR(v.msg, "test message");
			CHECK_STR(v.ruleset, "abc123");
			CHECK(v.file == NULL);
			CHECK_EQ_INT(v.excerpt_len, 6);
			CHECK(!memcmp(v.excerpt, "h\xc3\xa9llo", 6));
			got++;
		}
		tsf__verdict_batch__free_unpacked(b, NULL);
	}
	CHECK_EQ_INT(got, 10);
	CHECK_EQ_INT(publish_last_seq(s), 10);
	CHECK_EQ_INT(counter(s, 1), 10);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	s->destroy(s);
}

static void test_category_filter_tcp(void)
{
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = "tcp://127.0.0.1:*";
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sub = sub_new(ctx, publish_endpoint(s, 0), "v1.verdict.fraud.");
	CHECK(wait_counter(s, 0, 1));
	const char *cats[] = {"fraud", "fraudulent", "spam", "fraud.x"};
	for (uint32_t i = 1; i <= 100; i++) {
		struct tsf_verdict v = mkv(i, cats[i % 4]);
		s->emit(s, &v);
	}
	struct tsf_verdict last = mkv(999, "fraud");
	s->emit(s, &last);
	s->flush(s);
	uint64_t n = 0, done = 0, prev_seq = 0;
	struct bus_seq cs = {0};
	while (!done) {
		char topic[200];
		Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
		CHECK(b != NULL);
		if (!b)
			break;
		CHECK_STR(topic, "v1.verdict.fraud.");
		for (size_t i = 0; i < b->n_verdicts; i++) {
			CHECK_STR(b->verdicts[i]->category, "fraud");
			CHECK(b->verdicts[i]->seq > prev_seq);
			prev_seq = b->verdicts[i]->seq;
			CHECK_EQ_INT(bus_seq_see(&cs, b->epoch, b->verdicts[i]->cat_seq), 0);
			n++;
			done |= b->verdicts[i]->rule_id == 999;
		}
		tsf__verdict_batch__free_unpacked(b, NULL);
	}
	CHECK_EQ_INT(n, 26); /* 25 with i % 4 == 0, and the last one */
	CHECK_EQ_INT(cs.gaps, 0);
	/* "fraud.x" must not forge a deeper topic. */
	char t[BUS_TOPIC_MAX];
	bus_topic(t, sizeof(t), "fraud.x");
	CHECK_STR(t, "v1.verdict.fraud_x.");
	bus_topic(t, sizeof(t), "a b\n");
	CHECK_STR(t, "v1.verdict.a_b_.");
	zmq_close(sub);
	zmq_ctx_term(ctx);
	s->destroy(s);
}

static void test_batching(void)
{
	char ep[300];
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(ep, sizeof(ep));
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sub = sub_new(ctx, ep, "");
	CHECK(wait_counter(s, 0, 1));
	publish_hold(s, 1);
	for (uint32_t i = 1; i <= 200; i++) {
		struct tsf_verdict v = mkv(i, "a");
		s->emit(s, &v);
	}
	publish_hold(s, 0);
	s->flush(s);
	int sizes[8] = {0}, nb = 0;
	uint64_t seq = 0;
	while (seq < 200 && nb < 8) {
		char topic[200];
		Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
		CHECK(b != NULL);
		if (!b)
			break;
		if (!strcmp(topic, BUS_TOPIC_STATS)) {
			tsf__verdict_batch__free_unpacked(b, NULL);
			continue;
		}
		sizes[nb++] = (int)b->n_verdicts;
		for (size_t i = 0; i < b->n_verdicts; i++)
			CHECK_EQ_INT(b->verdicts[i]->seq, ++seq);
		tsf__verdict_batch__free_unpacked(b, NULL);
	}
	CHECK_EQ_INT(nb, 4);
	CHECK_EQ_INT(sizes[0], 64);
	CHECK_EQ_INT(sizes[1], 64);
	CHECK_EQ_INT(sizes[2], 64);
	CHECK_EQ_INT(sizes[3], 8);
	/* Mixed categories in one take: one batch per category, each a run of
	 * consecutive numbers. */
	publish_hold(s, 1);
	for (uint32_t i = 0; i < 20; i++) {
		struct tsf_verdict v = mkv(i, i % 2 ? "b" : "a");
		s->emit(s, &v);
	}
	publish_hold(s, 0);
	s->flush(s);
	for (int k = 0; k < 2; k++) {
		char topic[200];
		Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
		CHECK(b != NULL);
		if (!b)
			break;
		CHECK_STR(topic, k ? "v1.verdict.b." : "v1.verdict.a.");
		CHECK_EQ_INT(b->n_verdicts, 10);
		for (size_t i = 0; i < b->n_verdicts; i++) {
			CHECK_EQ_INT(b->verdicts[i]->seq, ++seq);
			CHECK_EQ_INT(b->verdicts[i]->cat_seq, (k ? 0 : 200) + i + 1);
		}
		tsf__verdict_batch__free_unpacked(b, NULL);
	}
	zmq_close(sub);
	zmq_ctx_term(ctx);
	s->destroy(s);
}

/* The publisher's hand-written encoder must produce exactly what protobuf-c
 * produces, for every shape of verdict (zero fields, NULL strings, IPv6,
 * long strings, big numbers). */
static void test_fast_encoder_matches_protobuf_c(void)
{
	uint64_t rnd = 88172645463325252ull;
	static const char *strs[] = {NULL, "", "fraud",
	                             "a much longer message \xc3\xa9\xe4\xb8\xad", "x"};
	char big[700];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	for (int round = 0; round < 2000; round++) {
		struct tsf_verdict v[8];
		uint64_t cs[8];
		size_t n = 1 + round % 8;
		for (size_t i = 0; i < n; i++) {
			uint64_t r[8];
			for (int k = 0; k < 8; k++) {
				rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
				r[k] = rnd;
			}
			memset(&v[i], 0, sizeof(v[i]));
			v[i].ts_ns = r[0] >> (r[1] % 64);
			v[i].ipver = (uint8_t[]){0, 4, 6}[r[1] % 3];
			v[i].proto = (uint8_t)(r[2] % 3 ? 6 : 0);
			memcpy(v[i].src, &r[3], 8);
			memcpy(v[i].dst, &r[4], 8);
			v[i].sport = (uint16_t)r[2];
			v[i].dport = (uint16_t)(r[2] >> 16);
			v[i].dir = (uint8_t)(r[2] >> 32 & 1);
			v[i].rule_id = (uint32_t)(r[5] >> (r[5] % 32));
			v[i].sev = (uint8_t)(r[6] % 6);
			v[i].category = strs[r[6] >> 8 & 3];
			v[i].msg = r[6] >> 20 & 1 ? big : strs[(r[6] >> 10) % 5];
			v[i].file = strs[(r[6] >> 12) % 5];
			v[i].ruleset = strs[(r[6] >> 16) % 5];
			v[i].ruleset_version = r[7] >> (r[7] % 64);
			v[i].offset = r[7] % 3 ? r[0] : 0;
			v[i].excerpt_len = (uint16_t)(r[3] % (TSF_EXCERPT_MAX + 1));
			memset(v[i].excerpt, 'e', v[i].excerpt_len);
			cs[i] = r[4] % 4 ? r[4] >> (r[4] % 64) : 0;
		}
		struct bus_batch_hdr h = {round % 3 ? "gw-1" : NULL, round % 5 ? rnd : 0,
		                          round % 7 ? (uint64_t)round : 0};
		uint64_t first = round % 11 ? rnd >> (round % 64) : 0;
		Tsf__Verdict pv[8], *pp[8];
		for (size_t i = 0; i < n; i++) {
			bus_verdict_to_pb(&v[i], first + i, cs[i], &pv[i]);
			pp[i] = &pv[i];
		}
		Tsf__VerdictBatch b = TSF__VERDICT_BATCH__INIT;
		b.schema = BUS_SCHEMA;
		b.sensor = (char *)(h.sensor ? h.sensor : "");
		b.epoch = h.epoch;
		b.queue_dropped = h.queue_dropped;
		b.n_verdicts = n;
		b.verdicts = pp;
		static uint8_t want[16384], got[16384];
		size_t wl = tsf__verdict_batch__pack(&b, want);
		size_t sz = bus_batch_size(&h, v, cs, first, n);
		size_t gl = bus_batch_pack(got, &h, v, cs, first, n);
		if (wl != gl || sz != gl || memcmp(want, got, wl)) {
			CHECK_EQ_INT(gl, wl);
			CHECK_EQ_INT(sz, wl);
			CHECK(!memcmp(want, got, wl < gl ? wl : gl));
			fprintf(stderr, "  round %d differs\n", round);
			break;
		}
	}
}

static void test_seq_tracker(void)
{
	struct bus_seq t = {0};
	CHECK_EQ_INT(bus_seq_see(&t, 1, 5), 0); /* first sight */
	CHECK_EQ_INT(bus_seq_see(&t, 1, 6), 0);
	CHECK_EQ_INT(bus_seq_see(&t, 1, 9), 2);
	CHECK_EQ_INT(bus_seq_see(&t, 1, 9), 0); /* duplicate */
	CHECK_EQ_INT(t.dups, 1);
	CHECK_EQ_INT(bus_seq_see(&t, 2, 1), 0); /* sensor restarted */
	CHECK_EQ_INT(bus_seq_see(&t, 2, 3), 1);
	CHECK_EQ_INT(t.gaps, 2);
	CHECK_EQ_INT(t.missing, 3);
}

struct collect {
	uint64_t n, next, bad;
	const char *cat;
};

static int collect_fn(void *ud, const Tsf__VerdictBatch *b, const Tsf__Verdict *v)
{
	struct collect *c = ud;
	(void)b;
	if (c->next && v->seq != c->next && !c->cat)
		c->bad++;
	if (c->cat && strcmp(c->cat, v->category))
		c->bad++;
	c->next = v->seq + 1;
	c->n++;
	return 0;
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[600];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* A subscriber that never reads: the publisher counts what it could not
 * send, keeps working, the subscriber sees the gaps when it reads at last,
 * and the journal gives every missing verdict back. */
static void test_hwm_stalled_subscriber(void)
{
	char ep[300], rep[300], jdir[300];
	snprintf(jdir, sizeof(jdir), "%s/j-hwm", tmpdir);
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(ep, sizeof(ep));
	c.replay_endpoint = ipc_ep(rep, sizeof(rep));
	c.journal.dir = jdir;
	c.journal.fsync = JOURNAL_FSYNC_NONE;
	c.sndhwm = 4;
	c.block_when_full = 1;
	c.batch_max = 8;
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sub = zmq_socket(ctx, ZMQ_SUB);
	int hwm = 4, buf = 4096, t = WAIT_MS, zero = 0;
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sub, ZMQ_RCVBUF, &buf, sizeof(buf));
	zmq_setsockopt(sub, ZMQ_RCVTIMEO, &t, sizeof(t));
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, BUS_TOPIC_VERDICT, strlen(BUS_TOPIC_VERDICT));
	zmq_connect(sub, ep);
	CHECK(wait_counter(s, 0, 1));
	const uint64_t N = 40000;
	for (uint32_t i = 1; i <= N; i++) {
		struct tsf_verdict v = mkv(i, i % 3 ? "x" : "y");
		s->emit(s, &v);
	}
	s->flush(s);
	uint64_t pub = counter(s, 1), unsent = counter(s, 2);
	CHECK_EQ_INT(pub + unsent, N);
	CHECK(unsent > 0);
	CHECK_EQ_INT(counter(s, 4), 0);
	CHECK_EQ_INT(counter(s, 5), N);
	/* Now read everything that was sent; the gaps are exactly what was not. */
	struct bus_seq tr = {0};
	uint64_t got = 0, first = 0;
	while (got < pub) {
		char topic[200];
		Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
		if (!b)
			break;
		for (size_t i = 0; i < b->n_verdicts; i++) {
			if (!first)
				first = b->verdicts[i]->seq;
			bus_seq_see(&tr, b->epoch, b->verdicts[i]->seq);
			got++;
		}
		tsf__verdict_batch__free_unpacked(b, NULL);
	}
	CHECK_EQ_INT(got, pub);
	uint64_t last_seen = tr.next - 1;
	/* Every number the subscriber never saw, before, inside and after. */
	CHECK_EQ_INT((first - 1) + tr.missing + (N - last_seen), unsent);
	CHECK(tr.gaps > 0 || first > 1 || last_seen < N);
	/* Replay all of it. */
	struct collect col = {0};
	char err[256] = "";
	uint64_t gone = 1;
	int rc = bus_replay_fetch(ctx, rep, NULL, 1, 0, NULL, WAIT_MS, collect_fn, &col, &gone, err,
	                          sizeof(err));
	if (rc)
		fprintf(stderr, "  replay: %s\n", err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(col.n, N);
	CHECK_EQ_INT(col.bad, 0);
	CHECK_EQ_INT(gone, 0);
	/* The publisher is still fine once the stalled subscriber goes away. */
	zmq_close(sub);
	/* The unsubscription first: XPUB passes on only the first subscriber
	 * of a topic, so sub2's would otherwise be swallowed. */
	CHECK(wait_counter(s, 0, 2));
	void *sub2 = sub_new(ctx, ep, BUS_TOPIC_VERDICT);
	CHECK(wait_counter(s, 0, 3)); /* sub, unsub, sub */
	struct tsf_verdict v = mkv(7, "x");
	s->emit(s, &v);
	s->flush(s);
	char topic[200];
	Tsf__VerdictBatch *b = recv_batch(sub2, topic, sizeof(topic), 0);
	CHECK(b && b->n_verdicts == 1 && b->verdicts[0]->seq == N + 1);
	if (b)
		tsf__verdict_batch__free_unpacked(b, NULL);
	zmq_close(sub2);
	zmq_ctx_term(ctx);
	s->destroy(s);
	rm_rf(jdir);
}

static void test_replay_after_restart(void)
{
	char ep[300], rep[300], jdir[300];
	snprintf(jdir, sizeof(jdir), "%s/j-restart", tmpdir);
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(ep, sizeof(ep));
	c.replay_endpoint = ipc_ep(rep, sizeof(rep));
	c.journal.dir = jdir;
	c.journal.fsync = JOURNAL_FSYNC_ALWAYS;
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sub = sub_new(ctx, ep, BUS_TOPIC_VERDICT);
	CHECK(wait_counter(s, 0, 1));
	for (uint32_t i = 1; i <= 100; i++) {
		struct tsf_verdict v = mkv(i, i % 2 ? "odd" : "even");
		s->emit(s, &v);
		if (i == 50) {
			/* The subscriber leaves after 50 ... */
			s->flush(s);
			uint64_t got = 0;
			char topic[200];
			while (got < 50) {
				Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
				if (!b)
					break;
				got += b->n_verdicts;
				tsf__verdict_batch__free_unpacked(b, NULL);
			}
			CHECK_EQ_INT(got, 50);
			zmq_close(sub);
		}
	}
	s->flush(s);
	/* ... and comes back: it fetches 51..100 from the journal. */
	struct collect col = {0};
	char err[256] = "";
	uint64_t gone = 0;
	CHECK_EQ_INT(bus_replay_fetch(ctx, rep, NULL, 51, 100, NULL, WAIT_MS, collect_fn, &col,
	                              &gone, err, sizeof(err)),
	             0);
	CHECK_EQ_INT(col.n, 50);
	CHECK_EQ_INT(col.next, 101);
	CHECK_EQ_INT(col.bad, 0);
	/* Category filter on replay. */
	struct collect odd = {0};
	odd.cat = "odd";
	CHECK_EQ_INT(bus_replay_fetch(ctx, rep, NULL, 1, 0, "odd", WAIT_MS, collect_fn, &odd, &gone,
	                              err, sizeof(err)),
	             0);
	CHECK_EQ_INT(odd.n, 50);
	CHECK_EQ_INT(odd.bad, 0);
	s->destroy(s);
	/* A restarted sensor continues the numbering from its journal. */
	s = pub_new(&c);
	CHECK(s != NULL);
	if (s) {
		CHECK_EQ_INT(publish_last_seq(s), 100);
		struct tsf_verdict v = mkv(1, "odd");
		s->emit(s, &v);
		s->flush(s);
		CHECK_EQ_INT(publish_last_seq(s), 101);
		struct collect all = {0};
		CHECK_EQ_INT(bus_replay_fetch(ctx, rep, NULL, 1, 0, NULL, WAIT_MS, collect_fn, &all,
		                              &gone, err, sizeof(err)),
		             0);
		CHECK_EQ_INT(all.n, 101);
		CHECK_EQ_INT(all.bad, 0);
		s->destroy(s);
	}
	zmq_ctx_term(ctx);
	rm_rf(jdir);
}

static int status_of(struct journal *j, const void *req, size_t len, char *err, size_t cap)
{
	uint8_t *out = NULL;
	int st = -1;
	size_t n = journal_replay_answer(j, req, len, &out, &st);
	Tsf__ReplayReply *r = n ? tsf__replay_reply__unpack(NULL, n, out) : NULL;
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(r->status, st);
		snprintf(err, cap, "%s", r->error);
		tsf__replay_reply__free_unpacked(r, NULL);
	}
	free(out);
	return st;
}

static size_t pack_req(uint64_t from, uint64_t to, uint8_t *buf)
{
	Tsf__ReplayRequest q = TSF__REPLAY_REQUEST__INIT;
	q.schema = 1;
	q.from_seq = from;
	q.to_seq = to;
	return tsf__replay_request__pack(&q, buf);
}

static void append_batches(struct journal *j, uint64_t *seq, int nbatches, int per)
{
	for (int k = 0; k < nbatches; k++) {
		Tsf__Verdict pv[64], *pp[64];
		struct tsf_verdict v = mkv((uint32_t)k, "c");
		for (int i = 0; i < per; i++) {
			bus_verdict_to_pb(&v, *seq + 1 + (uint64_t)i, 0, &pv[i]);
			pp[i] = &pv[i];
		}
		Tsf__VerdictBatch b = TSF__VERDICT_BATCH__INIT;
		b.schema = 1;
		b.sensor = "j";
		b.n_verdicts = (size_t)per;
		b.verdicts = pp;
		uint8_t buf[16384];
		size_t len = tsf__verdict_batch__pack(&b, buf);
		CHECK_EQ_INT(journal_append(j, *seq + 1, (uint32_t)per, buf, len), 0);
		*seq += (uint64_t)per;
	}
}

static void test_journal_rotation_and_errors(void)
{
	char jdir[300], err[256];
	snprintf(jdir, sizeof(jdir), "%s/j-rot", tmpdir);
	struct journal_config jc = {
	    .dir = jdir, .segment_bytes = 8192, .max_bytes = 32768, .fsync = JOURNAL_FSYNC_BATCH};
	struct journal *j = journal_open(&jc, err, sizeof(err));
	CHECK(j != NULL);
	if (!j)
		return;
	uint64_t seq = 0, first, last;
	append_batches(j, &seq, 300, 10);
	journal_range(j, &first, &last);
	CHECK_EQ_INT(last, 3000);
	CHECK(first > 1);
	CHECK((first - 1) % 10 == 0);
	int files = count_files(jdir);
	CHECK(files >= 4 && files <= 6); /* 32 KiB cap / 8 KiB segments (+ the open one) */
	struct journal_counters ctr;
	journal_counters(j, &ctr);
	CHECK(ctr.segments_deleted > 0);
	CHECK_EQ_INT(ctr.appended, 3000);
	/* Replay: bad requests get errors, an old range gets GONE. */
	uint8_t req[64];
	CHECK_EQ_INT(status_of(j, "\xff\xff\xff", 3, err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__BAD_REQUEST);
	CHECK(strstr(err, "undecodable") != NULL);
	CHECK_EQ_INT(status_of(j, req, pack_req(0, 0, req), err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__BAD_REQUEST);
	CHECK_EQ_INT(status_of(j, req, pack_req(10, 5, req), err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__BAD_REQUEST);
	CHECK_EQ_INT(status_of(j, req, pack_req(1, 0, req), err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__GONE);
	CHECK(strstr(err, "no longer") != NULL);
	CHECK_EQ_INT(status_of(NULL, req, pack_req(1, 0, req), err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__UNAVAILABLE);
	CHECK_EQ_INT(status_of(j, req, pack_req(last + 5, 0, req), err, sizeof(err)),
	             TSF__REPLAY_REPLY__STATUS__OK);
	journal_close(j);
	/* A torn tail (crash mid-write) is cut off on open. */
	char p[600];
	snprintf(p, sizeof(p), "%s/%020llu.tsj", jdir, 0ull);
	DIR *d = opendir(jdir);
	struct dirent *e;
	char newest[300] = "";
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && strcmp(e->d_name, newest) > 0)
			snprintf(newest, sizeof(newest), "%s", e->d_name);
	if (d)
		closedir(d);
	snprintf(p, sizeof(p), "%s/%s", jdir, newest);
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ_INT(write(fd, "TSJ1\x10\0\0\0garbage", 15), 15);
		close(fd);
	}
	/* A reader (replay --journal) sees the intact part and changes nothing. */
	struct stat st0, st1;
	CHECK_EQ_INT(stat(p, &st0), 0);
	struct journal_config ro = jc;
	ro.readonly = 1;
	struct journal *rj = journal_open(&ro, err, sizeof(err));
	CHECK(rj != NULL);
	if (rj) {
		uint64_t rf, rl;
		journal_range(rj, &rf, &rl);
		CHECK_EQ_INT(rl, 3000);
		CHECK_EQ_INT(rf, first);
		CHECK(journal_append(rj, 3001, 1, "x", 1) != 0);
		journal_counters(rj, &ctr);
		CHECK_EQ_INT(ctr.tail_repaired, 0);
		journal_close(rj);
	}
	CHECK_EQ_INT(stat(p, &st1), 0);
	CHECK_EQ_INT(st1.st_size, st0.st_size);
	j = journal_open(&jc, err, sizeof(err));
	CHECK(j != NULL);
	if (!j)
		return;
	journal_counters(j, &ctr);
	CHECK_EQ_INT(ctr.tail_repaired, 1);
	uint64_t f2, l2;
	journal_range(j, &f2, &l2);
	CHECK_EQ_INT(l2, 3000);
	CHECK_EQ_INT(f2, first);
	append_batches(j, &seq, 1, 5);
	journal_range(j, &f2, &l2);
	CHECK_EQ_INT(l2, 3005);
	journal_close(j);
	rm_rf(jdir);
}

static void test_replay_socket_garbage(void)
{
	char ep[300], rep[300], jdir[300];
	snprintf(jdir, sizeof(jdir), "%s/j-garbage", tmpdir);
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = "tcp://127.0.0.1:*";
	(void)ep;
	c.replay_endpoint = ipc_ep(rep, sizeof(rep));
	c.journal.dir = jdir;
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	/* Raw bytes that are not ZMTP at the XPUB's TCP port. */
	int port = atoi(strrchr(publish_endpoint(s, 0), ':') + 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	char junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	CHECK(write(fd, junk, sizeof(junk)) > 0);
	/* Multi-frame and undecodable replay requests through a DEALER. */
	void *d = zmq_socket(ctx, ZMQ_DEALER);
	int t = WAIT_MS, zero = 0;
	zmq_setsockopt(d, ZMQ_RCVTIMEO, &t, sizeof(t));
	zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(d, rep);
	zmq_send(d, "junk", 4, 0);
	for (int i = 0; i < 9; i++)
		zmq_send(d, "x", 1, i < 8 ? ZMQ_SNDMORE : 0);
	for (int k = 0; k < 2; k++) {
		uint8_t b[4096];
		int n = zmq_recv(d, b, sizeof(b), 0);
		CHECK(n > 0);
		Tsf__ReplayReply *r = n > 0 ? tsf__replay_reply__unpack(NULL, (size_t)n, b) : NULL;
		CHECK(r && r->status == TSF__REPLAY_REPLY__STATUS__BAD_REQUEST);
		if (r)
			tsf__replay_reply__free_unpacked(r, NULL);
	}
	/* Still publishing. */
	void *sub = sub_new(ctx, publish_endpoint(s, 0), "");
	CHECK(wait_counter(s, 0, 1));
	struct tsf_verdict v = mkv(1, "z");
	s->emit(s, &v);
	s->flush(s);
	char topic[200];
	Tsf__VerdictBatch *b = recv_batch(sub, topic, sizeof(topic), 0);
	CHECK(b && b->n_verdicts == 1);
	if (b)
		tsf__verdict_batch__free_unpacked(b, NULL);
	struct tsf_stats st;
	memset(&st, 0, sizeof(st));
	publish_stats(s, &st);
	CHECK_EQ_INT(st.bus_replay_errors, 2);
	close(fd);
	zmq_close(d);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	s->destroy(s);
	rm_rf(jdir);
}

static void test_curve_allow_list(void)
{
	char srv[300], ca[300], cb[300], allow[300], err[256];
	snprintf(srv, sizeof(srv), "%s/server.key", tmpdir);
	snprintf(ca, sizeof(ca), "%s/a.key", tmpdir);
	snprintf(cb, sizeof(cb), "%s/b.key", tmpdir);
	snprintf(allow, sizeof(allow), "%s/a.key.pub", tmpdir);
	CHECK_EQ_INT(bus_keygen(srv, err, sizeof(err)), 0);
	CHECK_EQ_INT(bus_keygen(ca, err, sizeof(err)), 0);
	CHECK_EQ_INT(bus_keygen(cb, err, sizeof(err)), 0);
	char srv_pub[41], a_sec[41], b_sec[41], p[320];
	snprintf(p, sizeof(p), "%s.pub", srv);
	CHECK_EQ_INT(bus_key_load(p, srv_pub, err, sizeof(err)), 0);
	CHECK_EQ_INT(bus_key_load(ca, a_sec, err, sizeof(err)), 0);
	CHECK_EQ_INT(bus_key_load(cb, b_sec, err, sizeof(err)), 0);
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = "tcp://127.0.0.1:*";
	c.curve_secret_file = srv;
	c.curve_allow_file = allow; /* only client a */
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	void *ctx = zmq_ctx_new();
	void *sa = zmq_socket(ctx, ZMQ_SUB), *sb = zmq_socket(ctx, ZMQ_SUB);
	int t = WAIT_MS, zero = 0;
	void *subs[2] = {sa, sb};
	for (int i = 0; i < 2; i++) {
		zmq_setsockopt(subs[i], ZMQ_RCVTIMEO, &t, sizeof(t));
		zmq_setsockopt(subs[i], ZMQ_LINGER, &zero, sizeof(zero));
		zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, "", 0);
	}
	CHECK_EQ_INT(bus_curve_client(sa, srv_pub, a_sec), 0);
	CHECK_EQ_INT(bus_curve_client(sb, srv_pub, b_sec), 0);
	zmq_connect(sa, publish_endpoint(s, 0));
	zmq_connect(sb, publish_endpoint(s, 0));
	CHECK(wait_counter(s, 0, 1)); /* only a's subscription can arrive */
	CHECK(wait_counter(s, 3, 1)); /* b was refused */
	struct tsf_verdict v = mkv(5, "secret");
	s->emit(s, &v);
	s->flush(s);
	char topic[200];
	Tsf__VerdictBatch *b = recv_batch(sa, topic, sizeof(topic), 0);
	CHECK(b && b->n_verdicts == 1 && b->verdicts[0]->rule_id == 5);
	if (b)
		tsf__verdict_batch__free_unpacked(b, NULL);
	b = recv_batch(sb, topic, sizeof(topic), ZMQ_DONTWAIT);
	CHECK(b == NULL);
	CHECK_EQ_INT(counter(s, 0), 1);
	zmq_close(sa);
	zmq_close(sb);
	zmq_ctx_term(ctx);
	s->destroy(s);
}

struct relay_arg {
	void *ctx;
	struct bus_relay_config c;
	volatile int stop;
	struct bus_relay_stats st;
	int rc;
};

static void *relay_main(void *a)
{
	struct relay_arg *r = a;
	char err[256];
	r->rc = bus_relay_run(r->ctx, &r->c, &r->stop, &r->st, err, sizeof(err));
	if (r->rc)
		fprintf(stderr, "  relay: %s\n", err);
	return NULL;
}

static void test_relay_two_by_two(void)
{
	char e1[300], e2[300], out[300];
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(e1, sizeof(e1));
	c.sensor = "s1";
	struct vsink *p1 = pub_new(&c);
	c.endpoint = ipc_ep(e2, sizeof(e2));
	c.sensor = "s2";
	struct vsink *p2 = pub_new(&c);
	CHECK(p1 && p2);
	if (!p1 || !p2)
		return;
	struct relay_arg r = {0};
	const char *ins[2] = {e1, e2};
	r.ctx = zmq_ctx_new();
	r.c.in = ins;
	r.c.n_in = 2;
	r.c.out = ipc_ep(out, sizeof(out));
	pthread_t th;
	pthread_create(&th, NULL, relay_main, &r);
	void *ctx = zmq_ctx_new();
	/* Distinct subscriptions, so each one is forwarded upstream and the
	 * sensors' counters prove both consumers are attached. */
	void *c1 = sub_new(ctx, out, BUS_TOPIC_VERDICT);
	void *c2 = sub_new(ctx, out, "v1.verdict.a.");
	zmq_setsockopt(c2, ZMQ_SUBSCRIBE, "v1.verdict.b.", 13);
	CHECK(wait_counter(p1, 0, 3));
	CHECK(wait_counter(p2, 0, 3));
	for (uint32_t i = 0; i < 20; i++) {
		struct tsf_verdict v = mkv(i, i % 2 ? "a" : "b");
		p1->emit(p1, &v);
		p2->emit(p2, &v);
	}
	p1->flush(p1);
	p2->flush(p2);
	void *cs[2] = {c1, c2};
	for (int k = 0; k < 2; k++) {
		struct bus_seq t1 = {0}, t2 = {0};
		uint64_t n1 = 0, n2 = 0;
		while (n1 + n2 < 40) {
			char topic[200];
			Tsf__VerdictBatch *b = recv_batch(cs[k], topic, sizeof(topic), 0);
			CHECK(b != NULL);
			if (!b)
				break;
			int one = !strcmp(b->sensor, "s1");
			for (size_t i = 0; i < b->n_verdicts; i++)
				bus_seq_see(one ? &t1 : &t2, b->epoch, b->verdicts[i]->seq);
			*(one ? &n1 : &n2) += b->n_verdicts;
			tsf__verdict_batch__free_unpacked(b, NULL);
		}
		CHECK_EQ_INT(n1, 20);
		CHECK_EQ_INT(n2, 20);
		CHECK_EQ_INT(t1.gaps + t2.gaps, 0);
		CHECK_EQ_INT(t1.next, 21);
		CHECK_EQ_INT(t2.next, 21);
	}
	r.stop = 1;
	pthread_join(th, NULL);
	CHECK_EQ_INT(r.rc, 0);
	CHECK(r.st.messages >= 4);
	CHECK_EQ_INT(r.st.dropped, 0);
	zmq_close(c1);
	zmq_close(c2);
	zmq_ctx_term(ctx);
	zmq_ctx_term(r.ctx);
	p1->destroy(p1);
	p2->destroy(p2);
}

static void test_queue_full_counted(void)
{
	char ep[300];
	struct publish_config c;
	publish_config_default(&c);
	c.endpoint = ipc_ep(ep, sizeof(ep));
	c.queue_len = 16;
	struct vsink *s = pub_new(&c);
	CHECK(s != NULL);
	if (!s)
		return;
	publish_hold(s, 1);
	for (uint32_t i = 0; i < 100; i++) {
		struct tsf_verdict v = mkv(i, "q");
		s->emit(s, &v);
	}
	CHECK_EQ_INT(counter(s, 4), 84);
	publish_hold(s, 0);
	s->flush(s);
	CHECK_EQ_INT(publish_last_seq(s), 16);
	/* Long strings are cut on a character boundary, never overflow. */
	char longname[2000];
	memset(longname, 'f', sizeof(longname));
	memcpy(longname + 500, "\xc3\xa9\xc3\xa9", 4);
	longname[sizeof(longname) - 1] = 0;
	struct tsf_verdict v = mkv(1, "q");
	v.file = longname;
	v.msg = longname;
	s->emit(s, &v);
	s->flush(s);
	CHECK_EQ_INT(publish_last_seq(s), 17);
	s->destroy(s);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tsf-test-bus-%d", (int)getpid());
	mkdir(tmpdir, 0700);
	RUN(test_fast_encoder_matches_protobuf_c);
	RUN(test_seq_tracker);
	RUN(test_roundtrip_ipc);
	RUN(test_category_filter_tcp);
	RUN(test_batching);
	RUN(test_queue_full_counted);
	RUN(test_journal_rotation_and_errors);
	RUN(test_replay_after_restart);
	RUN(test_hwm_stalled_subscriber);
	RUN(test_replay_socket_garbage);
	RUN(test_curve_allow_list);
	RUN(test_relay_two_by_two);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd)) {
		/* leftover temp files are harmless */
	}
	return UNIT_DONE();
}
