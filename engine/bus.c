/* bus.c - topics, protobuf <-> tsf_verdict, CURVE keys, ZAP, sequence
 * tracking and the relay loop: everything the publisher and the bus
 * subcommands share. */
#include "bus.h"
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

uint64_t bus_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bus_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t bus_topic(char *buf, size_t cap, const char *category)
{
	size_t n = 0, pre = sizeof(BUS_TOPIC_VERDICT) - 1;
	if (cap < pre + 2)
		return 0;
	memcpy(buf, BUS_TOPIC_VERDICT, pre);
	n = pre;
	for (const char *p = category ? category : ""; *p && n + 2 < cap; p++) {
		unsigned char c = (unsigned char)*p;
		buf[n++] = (c > 0x20 && c < 0x7f && c != '.') ? (char)c : '_';
	}
	buf[n++] = '.';
	buf[n] = 0;
	return n;
}

static char *pb_str(const char *s)
{
	/* protobuf-c writes empty strings for the shared empty-string pointer. */
	return (char *)(s ? s : protobuf_c_empty_string);
}

void bus_verdict_to_pb(const struct tsf_verdict *v, uint64_t seq, uint64_t cat_seq,
                       Tsf__Verdict *pb)
{
	tsf__verdict__init(pb);
	size_t alen = v->ipver == 4 ? 4 : v->ipver == 6 ? 16 : 0;
	pb->seq = seq;
	pb->cat_seq = cat_seq;
	pb->ts_ns = v->ts_ns;
	pb->ipver = v->ipver;
	pb->proto = v->proto;
	pb->src.len = alen;
	pb->src.data = (uint8_t *)v->src;
	pb->dst.len = alen;
	pb->dst.data = (uint8_t *)v->dst;
	pb->sport = v->sport;
	pb->dport = v->dport;
	pb->dir = v->dir;
	pb->rule_id = v->rule_id;
	pb->category = pb_str(v->category);
	pb->sev = v->sev;
	pb->msg = pb_str(v->msg);
	pb->file = pb_str(v->file);
	pb->ruleset = pb_str(v->ruleset);
	pb->ruleset_version = v->ruleset_version;
	pb->offset = v->offset;
	pb->excerpt.len = v->excerpt_len <= TSF_EXCERPT_MAX ? v->excerpt_len : TSF_EXCERPT_MAX;
	pb->excerpt.data = (uint8_t *)v->excerpt;
}

int bus_verdict_from_pb(const Tsf__Verdict *pb, struct tsf_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (pb->ipver != 0 && pb->ipver != 4 && pb->ipver != 6)
		return -1;
	size_t alen = pb->ipver == 4 ? 4 : pb->ipver == 6 ? 16 : 0;
	if (pb->src.len != alen || pb->dst.len != alen)
		return -1;
	if (pb->sport > 0xffff || pb->dport > 0xffff || pb->proto > 0xff || pb->sev > 0xff ||
	    pb->dir > 1)
		return -1;
	v->ts_ns = pb->ts_ns;
	v->ipver = (uint8_t)pb->ipver;
	v->proto = (uint8_t)pb->proto;
	if (alen) {
		memcpy(v->src, pb->src.data, alen);
		memcpy(v->dst, pb->dst.data, alen);
	}
	v->sport = (uint16_t)pb->sport;
	v->dport = (uint16_t)pb->dport;
	v->dir = (uint8_t)pb->dir;
	v->rule_id = pb->rule_id;
	v->sev = (uint8_t)pb->sev;
	v->category = pb->category ? pb->category : "";
	v->msg = pb->msg && pb->msg[0] ? pb->msg : NULL;
	v->file = pb->file && pb->file[0] ? pb->file : NULL;
	v->ruleset = pb->ruleset ? pb->ruleset : "";
	v->ruleset_version = pb->ruleset_version;
	v->offset = pb->offset;
	/* A longer excerpt than ours is cut (on a character boundary) rather
	 * than refused: a newer sensor may send more. */
	size_t n = pb->excerpt.len < TSF_EXCERPT_MAX ? pb->excerpt.len : TSF_EXCERPT_MAX;
	if (n < pb->excerpt.len)
		while (n > 0 && (pb->excerpt.data[n] & 0xc0) == 0x80)
			n--;
	if (n)
		memcpy(v->excerpt, pb->excerpt.data, n);
	v->excerpt_len = (uint16_t)n;
	return 0;
}

int bus_attach(void *sock, const char *ep, int default_bind)
{
	int bind = default_bind;
	if (ep[0] == '@') {
		bind = 1;
		ep++;
	} else if (ep[0] == '>') {
		bind = 0;
		ep++;
	} else if (strchr(ep, '*')) {
		bind = 1;
	}
	return bind ? zmq_bind(sock, ep) : zmq_connect(sock, ep);
}

/* --- keys -------------------------------------------------------------- */

int bus_key_load(const char *path, char z85[41], char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[256];
	size_t n = 0;
	int ok = -1;
	const char *p = keyfile_word(f, line, sizeof(line), &n, NULL);
	if (p && n == 40) {
		uint8_t bin[32];
		memcpy(z85, p, 40);
		z85[40] = 0;
		if (zmq_z85_decode(bin, z85))
			ok = 0;
	}
	fclose(f);
	if (ok)
		snprintf(err, errlen, "%s: no Z85 key (40 characters) found", path);
	return ok;
}

int bus_keygen(const char *path, char *err, size_t errlen)
{
	char pub[41], sec[41], pubpath[4096];
	if (zmq_curve_keypair(pub, sec)) {
		snprintf(err, errlen, "zmq_curve_keypair: %s (libzmq without CURVE?)",
		         zmq_strerror(errno));
		return -1;
	}
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "# tapsift CURVE secret key (Z85)\n%s\n", sec);
	int bad = write(fd, buf, (size_t)n) != n;
	close(fd);
	FILE *f = fopen(pubpath, "w");
	if (bad || !f) {
		snprintf(err, errlen, "%s: %s", bad ? path : pubpath, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fprintf(f, "# tapsift CURVE public key (Z85)\n%s\n", pub);
	if (fclose(f)) {
		snprintf(err, errlen, "%s: %s", pubpath, strerror(errno));
		return -1;
	}
	return 0;
}

int bus_curve_server(void *sock, const char *secret_z85)
{
	int one = 1;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)))
		return -1;
	return zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret_z85, 40);
}

int bus_curve_client(void *sock, const char *server_pub_z85, const char *secret_z85)
{
	char pub[41], sec[41];
	if (secret_z85) {
		memcpy(sec, secret_z85, 41);
		if (zmq_curve_public(pub, sec))
			return -1;
	} else if (zmq_curve_keypair(pub, sec)) {
		return -1;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_pub_z85, 40) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40))
		return -1;
	return 0;
}

/* --- ZAP --------------------------------------------------------------- */

struct bus_zap {
	void *sock;
	pthread_t th;
	atomic_int stop;
	atomic_uint_fast64_t denied, allowed;
	uint8_t (*keys)[32];
	size_t nkeys;
	int any; /* no allow-list: every CURVE client that knows the server key */
};

static int zap_allowed(const struct bus_zap *z, const uint8_t *key, size_t len)
{
	if (len != 32)
		return 0;
	if (z->any)
		return 1;
	for (size_t i = 0; i < z->nkeys; i++)
		if (!memcmp(z->keys[i], key, 32))
			return 1;
	return 0;
}

static void zap_send(void *s, const char *str, size_t len, int more)
{
	zmq_send(s, str, len, more ? ZMQ_SNDMORE : 0);
}

static void *zap_thread(void *arg)
{
	struct bus_zap *z = arg;
	while (!atomic_load(&z->stop)) {
		zmq_pollitem_t it = {z->sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		/* version, request id, domain, address, identity, mechanism, credentials */
		zmq_msg_t f[8];
		int n = 0, more = 1;
		while (more) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, z->sock, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			more = zmq_msg_more(&m);
			if (n < 8)
				f[n++] = m;
			else
				zmq_msg_close(&m);
		}
		int ok = 0;
		if (n >= 7 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5))
			ok = zap_allowed(z, zmq_msg_data(&f[6]), zmq_msg_size(&f[6]));
		if (ok)
			atomic_fetch_add(&z->allowed, 1);
		else
			atomic_fetch_add(&z->denied, 1);
		zap_send(z->sock, "1.0", 3, 1);
		if (n >= 2)
			zmq_send(z->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
		else
			zap_send(z->sock, "", 0, 1);
		zap_send(z->sock, ok ? "200" : "400", 3, 1);
		zap_send(z->sock, ok ? "OK" : "client key not allowed",
		         ok ? 2 : strlen("client key not allowed"), 1);
		zap_send(z->sock, "", 0, 1);
		zap_send(z->sock, "", 0, 0);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
	return NULL;
}

struct bus_zap *bus_zap_start(void *ctx, const char *allow_file, char *err, size_t errlen)
{
	struct bus_zap *z = calloc(1, sizeof(*z));
	if (!z) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!allow_file || !*allow_file) {
		z->any = 1;
	} else {
		FILE *f = fopen(allow_file, "r");
		if (!f) {
			snprintf(err, errlen, "%s: %s", allow_file, strerror(errno));
			free(z);
			return NULL;
		}
		char line[256], *p;
		size_t n;
		int lineno = 0;
		while ((p = keyfile_word(f, line, sizeof(line), &n, &lineno))) {
			p[n] = 0;
			uint8_t(*k)[32] = realloc(z->keys, (z->nkeys + 1) * sizeof(*k));
			if (!k || n != 40 || !zmq_z85_decode(k[z->nkeys], p)) {
				snprintf(err, errlen, "%s:%d: not a Z85 public key", allow_file,
				         lineno);
				free(k ? k : z->keys);
				free(z);
				fclose(f);
				return NULL;
			}
			z->keys = k;
			z->nkeys++;
		}
		fclose(f);
	}
	z->sock = zmq_socket(ctx, ZMQ_REP);
	int linger = 0;
	zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(z->sock, "inproc://zeromq.zap.01")) {
		snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
		zmq_close(z->sock);
		free(z->keys);
		free(z);
		return NULL;
	}
	if (pthread_create(&z->th, NULL, zap_thread, z)) {
		snprintf(err, errlen, "ZAP handler: cannot start thread");
		zmq_close(z->sock);
		free(z->keys);
		free(z);
		return NULL;
	}
	return z;
}

uint64_t bus_zap_denied(const struct bus_zap *z)
{
	return z ? atomic_load(&((struct bus_zap *)z)->denied) : 0;
}

uint64_t bus_zap_allowed(const struct bus_zap *z)
{
	return z ? atomic_load(&((struct bus_zap *)z)->allowed) : 0;
}

void bus_zap_stop(struct bus_zap *z)
{
	if (!z)
		return;
	atomic_store(&z->stop, 1);
	pthread_join(z->th, NULL);
	zmq_close(z->sock);
	free(z->keys);
	free(z);
}

/* --- sequence tracking ------------------------------------------------- */

uint64_t bus_seq_see(struct bus_seq *t, uint64_t epoch, uint64_t seq)
{
	if (t->next == 0 || epoch != t->epoch) {
		/* First sight, or the sensor restarted: nothing to compare with. */
		t->epoch = epoch;
		t->next = seq + 1;
		return 0;
	}
	if (seq < t->next) {
		t->dups++;
		return 0;
	}
	uint64_t miss = seq - t->next;
	if (miss) {
		t->gaps++;
		t->missing += miss;
	}
	t->next = seq + 1;
	return miss;
}

/* --- relay ------------------------------------------------------------- */

int bus_relay_run(void *ctx, const struct bus_relay_config *c, volatile int *stop,
                  struct bus_relay_stats *st, char *err, size_t errlen)
{
	void *in = zmq_socket(ctx, ZMQ_XSUB), *out = zmq_socket(ctx, ZMQ_XPUB);
	int rc = -1, hwm = c->hwm > 0 ? c->hwm : 100000, one = 1, linger = 1000;
	zmq_setsockopt(in, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(out, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(out, ZMQ_XPUB_NODROP, &one, sizeof(one));
	zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof(linger));
	int64_t max_in = BUS_FRAME_MAX, max_sub = 1024;
	zmq_setsockopt(in, ZMQ_MAXMSGSIZE, &max_in, sizeof(max_in));
	zmq_setsockopt(out, ZMQ_MAXMSGSIZE, &max_sub, sizeof(max_sub));
	if (c->in_server_key && bus_curve_client(in, c->in_server_key, c->in_client_key)) {
		snprintf(err, errlen, "upstream CURVE keys: %s", zmq_strerror(errno));
		goto out;
	}
	if (c->out_secret_key && bus_curve_server(out, c->out_secret_key)) {
		snprintf(err, errlen, "downstream CURVE key: %s", zmq_strerror(errno));
		goto out;
	}
	for (int i = 0; i < c->n_in; i++)
		if (bus_attach(in, c->in[i], 0)) {
			snprintf(err, errlen, "%s: %s", c->in[i], zmq_strerror(errno));
			goto out;
		}
	if (bus_attach(out, c->out, 1)) {
		snprintf(err, errlen, "%s: %s", c->out, zmq_strerror(errno));
		goto out;
	}
	zmq_msg_t m;
	zmq_msg_init(&m);
	while (!*stop) {
		zmq_pollitem_t it[2] = {{in, 0, ZMQ_POLLIN, 0}, {out, 0, ZMQ_POLLIN, 0}};
		int n = zmq_poll(it, 2, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "poll: %s", zmq_strerror(errno));
			break;
		}
		/* Subscriptions downstream -> upstream (XSUB sends them on). */
		for (int k = 0; k < 256 && (it[1].revents & ZMQ_POLLIN); k++) {
			if (zmq_msg_recv(&m, out, ZMQ_DONTWAIT) < 0)
				break;
			st->subscriptions++;
			zmq_msg_send(&m, in, ZMQ_DONTWAIT);
		}
		/* Verdicts upstream -> downstream, one whole message at a time.
		 * Bounded per round so subscriptions are never starved. */
		for (int k = 0; k < 4096 && (it[0].revents & ZMQ_POLLIN); k++) {
			if (zmq_msg_recv(&m, in, ZMQ_DONTWAIT) < 0)
				break;
			int more = zmq_msg_more(&m), dropped = 0;
			size_t len = zmq_msg_size(&m);
			/* First frame: if it cannot go, the whole message is dropped;
			 * later frames of a message never fail once the first went. */
			if (zmq_msg_send(&m, out, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) < 0)
				dropped = 1;
			while (more) {
				if (zmq_msg_recv(&m, in, 0) < 0)
					break;
				more = zmq_msg_more(&m);
				len += zmq_msg_size(&m);
				if (!dropped &&
				    zmq_msg_send(&m, out, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) <
				        0)
					st->errors++;
			}
			if (dropped) {
				st->dropped++;
			} else {
				st->messages++;
				st->bytes += len;
			}
		}
	}
	zmq_msg_close(&m);
	rc = 0;
out:
	zmq_close(in);
	zmq_close(out);
	return rc;
}

/* --- replay client ----------------------------------------------------- */

int bus_replay_fetch(void *ctx, const char *ep, const struct bus_client_keys *k, uint64_t from,
                     uint64_t to, const char *category, int timeout_ms, bus_verdict_fn fn, void *ud,
                     uint64_t *gone, char *err, size_t errlen)
{
	void *s = zmq_socket(ctx, ZMQ_REQ);
	int zero = 0, rc = -1;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
	int64_t maxin = BUS_FRAME_MAX;
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxin, sizeof(maxin));
	if (k && k->server_pub && bus_curve_client(s, k->server_pub, k->secret)) {
		snprintf(err, errlen, "CURVE keys: %s", zmq_strerror(errno));
		goto out;
	}
	if (bus_attach(s, ep, 0)) {
		snprintf(err, errlen, "%s: %s", ep, zmq_strerror(errno));
		goto out;
	}
	if (gone)
		*gone = 0;
	uint64_t next = from;
	zmq_msg_t m;
	zmq_msg_init(&m);
	struct bus_arena arena;
	bus_arena_init(&arena);
	for (;;) {
		Tsf__ReplayRequest q = TSF__REPLAY_REQUEST__INIT;
		q.schema = BUS_SCHEMA;
		q.from_seq = next;
		q.to_seq = to;
		q.category = (char *)(category ? category : "");
		uint8_t qb[256];
		size_t ql = tsf__replay_request__pack(&q, qb);
		if (zmq_send(s, qb, ql, 0) < 0) {
			snprintf(err, errlen, "%s: send: %s", ep, zmq_strerror(errno));
			break;
		}
		int n = zmq_msg_recv(&m, s, 0);
		if (n < 0) {
			snprintf(err, errlen, "%s: no answer (%s)", ep,
			         errno == EAGAIN ? "timeout" : zmq_strerror(errno));
			break;
		}
		bus_arena_reset(&arena);
		Tsf__ReplayReply *r = tsf__replay_reply__unpack(bus_arena_allocator(&arena),
		                                                zmq_msg_size(&m), zmq_msg_data(&m));
		if (!r) {
			snprintf(err, errlen, "%s: undecodable reply", ep);
			break;
		}
		if (r->status == TSF__REPLAY_REPLY__STATUS__GONE && r->next_seq > next) {
			/* Older verdicts were rotated out: say how many, go on. */
			uint64_t upto = to && r->next_seq > to + 1 ? to + 1 : r->next_seq;
			if (gone)
				*gone += upto - next;
			next = r->next_seq;

			if (to && next > to) {
				rc = 0;
				break;
			}
			continue;
		}
		if (r->status != TSF__REPLAY_REPLY__STATUS__OK) {
			snprintf(err, errlen, "%s: %s", ep, r->error[0] ? r->error : "refused");

			break;
		}
		int stop = 0;
		for (size_t k = 0; k < r->n_batches && !stop; k++) {
			const Tsf__VerdictBatch *b = r->batches[k];
			for (size_t i = 0; i < b->n_verdicts && !stop; i++) {
				const Tsf__Verdict *v = b->verdicts[i];
				/* Trust but verify: only what was asked for. */
				if (v->seq < next || (to && v->seq > to) ||
				    (category && *category && strcmp(category, v->category)))
					continue;
				stop = fn(ud, b, v);
			}
		}
		int done = r->done || stop || r->next_seq <= next;
		next = r->next_seq;

		if (done) {
			rc = 0;
			break;
		}
	}
	zmq_msg_close(&m);
	bus_arena_free(&arena);
out:
	zmq_close(s);
	return rc;
}

/* --- decoding arena ---------------------------------------------------- */

#define ARENA_CHUNK (256u << 10)

struct bus_arena_chunk {
	struct bus_arena_chunk *next;
	size_t cap;
	max_align_t data[];
};

static void *arena_alloc(void *ud, size_t size)
{
	struct bus_arena *a = ud;
	size = (size + 15) & ~(size_t)15;
	struct bus_arena_chunk *c = a->head;
	if (!c || a->used + size > c->cap) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
		struct bus_arena_chunk *n = malloc(sizeof(*n) + cap);
		if (!n)
			return NULL;
		n->cap = cap;
		n->next = c;
		a->head = c = n;
		a->used = 0;
	}
	void *p = (char *)c->data + a->used;
	a->used += size;
	return p;
}

static void arena_free(void *ud, void *p)
{
	(void)ud, (void)p; /* released all at once by bus_arena_reset */
}

void bus_arena_init(struct bus_arena *a)
{
	memset(a, 0, sizeof(*a));
	a->pa.alloc = arena_alloc;
	a->pa.free = arena_free;
	a->pa.allocator_data = a;
}

ProtobufCAllocator *bus_arena_allocator(struct bus_arena *a)
{
	return &a->pa;
}

void bus_arena_reset(struct bus_arena *a)
{
	/* Keep the newest chunk (the one sized for recent messages). */
	struct bus_arena_chunk *c = a->head;
	if (!c)
		return;
	struct bus_arena_chunk *n = c->next;
	while (n) {
		struct bus_arena_chunk *x = n->next;
		free(n);
		n = x;
	}
	c->next = NULL;
	a->used = 0;
}

void bus_arena_free(struct bus_arena *a)
{
	bus_arena_reset(a);
	free(a->head);
	a->head = NULL;
}

/* --- fast VerdictBatch encoder ----------------------------------------- */

static size_t vlen(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Proto3: zero scalars and empty strings/bytes are not written. */
#define TAGLEN(field) ((field) < 16 ? 1u : 2u)

static size_t sz_u(unsigned field, uint64_t v)
{
	return v ? TAGLEN(field) + vlen(v) : 0;
}

static size_t sz_b(unsigned field, size_t len)
{
	return len ? TAGLEN(field) + vlen(len) + len : 0;
}

static uint8_t *put_u(uint8_t *p, unsigned field, uint64_t v)
{
	if (!v)
		return p;
	p = put_varint(p, (uint64_t)field << 3);
	return put_varint(p, v);
}

static uint8_t *put_b(uint8_t *p, unsigned field, const void *b, size_t len)
{
	if (!len)
		return p;
	p = put_varint(p, (uint64_t)field << 3 | 2);
	p = put_varint(p, len);
	memcpy(p, b, len);
	return p + len;
}

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

static size_t alen_of(const struct tsf_verdict *v)
{
	return v->ipver == 4 ? 4 : v->ipver == 6 ? 16 : 0;
}

static size_t excerpt_len(const struct tsf_verdict *v)
{
	return v->excerpt_len <= TSF_EXCERPT_MAX ? v->excerpt_len : TSF_EXCERPT_MAX;
}

/* The Verdict fields in wire order, for the sizer and the writer alike:
 * U(number, value) a varint, B(number, data, length) bytes or a string. */
#define VERDICT_FIELDS(U, B, x, seq, cs)                                                           \
	U(1, seq)                                                                                  \
	U(2, (x)->ts_ns)                                                                           \
	U(3, (x)->ipver)                                                                           \
	U(4, (x)->proto)                                                                           \
	B(5, (x)->src, alen_of(x))                                                                 \
	B(6, (x)->dst, alen_of(x))                                                                 \
	U(7, (x)->sport)                                                                           \
	U(8, (x)->dport)                                                                           \
	U(9, (x)->dir)                                                                             \
	U(10, (x)->rule_id)                                                                        \
	B(11, (x)->category, slen((x)->category))                                                  \
	U(12, (x)->sev)                                                                            \
	B(13, (x)->msg, slen((x)->msg))                                                            \
	B(14, (x)->file, slen((x)->file))                                                          \
	B(15, (x)->ruleset, slen((x)->ruleset))                                                    \
	U(16, (x)->ruleset_version)                                                                \
	U(17, (x)->offset)                                                                         \
	B(18, (x)->excerpt, excerpt_len(x))                                                        \
	U(19, cs)

#define SIZE_U(f, val) +sz_u(f, val)
#define SIZE_B(f, b, len) +sz_b(f, len)
#define PUT_U(f, val) p = put_u(p, f, val);
#define PUT_B(f, b, len) p = put_b(p, f, b, len);

static size_t verdict_body(const struct tsf_verdict *v, uint64_t seq, uint64_t cs)
{
	return 0 VERDICT_FIELDS(SIZE_U, SIZE_B, v, seq, cs);
}

size_t bus_batch_size(const struct bus_batch_hdr *h, const struct tsf_verdict *v,
                      const uint64_t *cat_seq, uint64_t first_seq, size_t n)
{
	size_t t = sz_u(1, BUS_SCHEMA) + sz_b(2, slen(h->sensor)) + sz_u(3, h->epoch) +
	           sz_u(5, h->queue_dropped);
	for (size_t i = 0; i < n; i++) {
		size_t b = verdict_body(&v[i], first_seq + i, cat_seq ? cat_seq[i] : 0);
		t += 1 + vlen(b) + b; /* an empty embedded message is still written */
	}
	return t;
}

size_t bus_batch_pack(uint8_t *out, const struct bus_batch_hdr *h, const struct tsf_verdict *v,
                      const uint64_t *cat_seq, uint64_t first_seq, size_t n)
{
	uint8_t *p = out;
	p = put_u(p, 1, BUS_SCHEMA);
	p = put_b(p, 2, h->sensor, slen(h->sensor));
	p = put_u(p, 3, h->epoch);
	for (size_t i = 0; i < n; i++) {
		const struct tsf_verdict *x = &v[i];
		uint64_t seq = first_seq + i, cs = cat_seq ? cat_seq[i] : 0;
		*p++ = 4 << 3 | 2;
		p = put_varint(p, verdict_body(x, seq, cs));
		VERDICT_FIELDS(PUT_U, PUT_B, x, seq, cs)
	}
	p = put_u(p, 5, h->queue_dropped);
	return (size_t)(p - out);
}

/* --- fast VerdictBatch decoder ----------------------------------------- */

struct rd {
	const uint8_t *p, *end;
};

static int get_varint(struct rd *r, uint64_t *out)
{
	uint64_t v = 0;
	for (int i = 0; i < 10; i++) {
		if (r->p >= r->end)
			return -1;
		uint8_t c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1; /* more than 10 bytes */
}

/* A field key, read exactly as protobuf-c reads it (the fuzz target holds us
 * to the same accept/reject decisions): at most 5 bytes, a 32-bit tag, and a
 * first byte whose tag bits are all zero is refused even when more bytes
 * follow. */
static int get_key(struct rd *r, uint64_t *key)
{
	if (r->p >= r->end || (r->p[0] & 0xf8) == 0)
		return -1;
	const uint8_t *d = r->p;
	size_t max = r->end - r->p > 5 ? 5 : (size_t)(r->end - r->p);
	uint32_t tag = (d[0] & 0x7f) >> 3, wt = d[0] & 7;
	if (!(d[0] & 0x80)) {
		r->p++;
		*key = (uint64_t)tag << 3 | wt;
		return 0;
	}
	unsigned shift = 4;
	for (size_t i = 1; i < max; i++) {
		tag |= (uint32_t)(d[i] & 0x7f) << shift;
		if (!(d[i] & 0x80)) {
			r->p += i + 1;
			*key = (uint64_t)tag << 3 | wt;
			return 0;
		}
		shift += 7;
	}
	return -1;
}

/* A length prefix, read as protobuf-c reads it: at most 5 bytes, and no more
 * than what is left. */
static int get_prefix(struct rd *r, uint64_t *n)
{
	const uint8_t *start = r->p;
	if (get_varint(r, n) || r->p - start > 5 || *n > (uint64_t)(r->end - r->p))
		return -1;
	return 0;
}

/* Skips a field of an unknown number (groups are refused, as protobuf-c does
 * for proto3). */
static int skip_field(struct rd *r, unsigned wt)
{
	uint64_t n;
	switch (wt) {
	case 0:
		return get_varint(r, &n);
	case 1:
		if (r->end - r->p < 8)
			return -1;
		r->p += 8;
		return 0;
	case 2:
		if (get_prefix(r, &n))
			return -1;
		r->p += n;
		return 0;
	case 5:
		if (r->end - r->p < 4)
			return -1;
		r->p += 4;
		return 0;
	default:
		return -1;
	}
}

static int get_len(struct rd *r, const uint8_t **data, size_t *len)
{
	uint64_t n;
	if (get_prefix(r, &n))
		return -1;
	*data = r->p;
	*len = (size_t)n;
	r->p += n;
	return 0;
}

static char *arena_str(struct bus_arena *a, const uint8_t *s, size_t n)
{
	char *d = arena_alloc(a, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* A known field's value: length-delimited ones as data and length, the others
 * as a varint; -1 for the wrong wire type or a value cut short. */
static int get_value(struct rd *r, unsigned wt, int is_len, uint64_t *x, const uint8_t **d,
                     size_t *n)
{
	if (wt != (is_len ? 2u : 0u))
		return -1;
	return is_len ? get_len(r, d, n) : get_varint(r, x);
}

/* The Verdict fields by number: how each is read and where it is kept. */
enum { VF_UNKNOWN, VF_U64, VF_U32, VF_BYTES, VF_STR };
#define AT(member) offsetof(Tsf__Verdict, member)
static const struct {
	uint8_t kind;
	uint16_t off;
} verdict_fields[21] = {
    [1] = {VF_U64, AT(seq)},       [2] = {VF_U64, AT(ts_ns)},
    [3] = {VF_U32, AT(ipver)},     [4] = {VF_U32, AT(proto)},
    [5] = {VF_BYTES, AT(src)},     [6] = {VF_BYTES, AT(dst)},
    [7] = {VF_U32, AT(sport)},     [8] = {VF_U32, AT(dport)},
    [9] = {VF_U32, AT(dir)},       [10] = {VF_U32, AT(rule_id)},
    [11] = {VF_STR, AT(category)}, [12] = {VF_U32, AT(sev)},
    [13] = {VF_STR, AT(msg)},      [14] = {VF_STR, AT(file)},
    [15] = {VF_STR, AT(ruleset)},  [16] = {VF_U64, AT(ruleset_version)},
    [17] = {VF_U64, AT(offset)},   [18] = {VF_BYTES, AT(excerpt)},
    [19] = {VF_U64, AT(cat_seq)},  [20] = {VF_STR, AT(sensor)},
};
#undef AT

static int decode_verdict(struct bus_arena *a, const uint8_t *buf, size_t len, Tsf__Verdict *v)
{
	struct rd r = {buf, buf + len};
	tsf__verdict__init(v);
	while (r.p < r.end) {
		uint64_t key = 0, x = 0;
		if (get_key(&r, &key))
			return -1;
		unsigned f = (unsigned)(key >> 3), wt = key & 7;
		const uint8_t *d = NULL;
		size_t n = 0;
		unsigned kind = f < 21 ? verdict_fields[f].kind : VF_UNKNOWN;
		if (kind == VF_UNKNOWN) { /* protobuf-c skips field 0 too */
			if (skip_field(&r, wt))
				return -1;
			continue;
		}
		if (get_value(&r, wt, kind >= VF_BYTES, &x, &d, &n))
			return -1;
		char *at = (char *)v + verdict_fields[f].off;
		switch (kind) {
		case VF_U64:
			*(uint64_t *)at = x;
			break;
		case VF_U32:
			*(uint32_t *)at = (uint32_t)x;
			break;
		case VF_BYTES:
			((ProtobufCBinaryData *)at)->data = (uint8_t *)d;
			((ProtobufCBinaryData *)at)->len = n;
			break;
		case VF_STR:
			if (!(*(char **)at = arena_str(a, d, n)))
				return -1;
			break;
		}
	}
	return 0;
}

Tsf__VerdictBatch *bus_batch_unpack(struct bus_arena *a, const uint8_t *buf, size_t len)
{
	Tsf__VerdictBatch *b = arena_alloc(a, sizeof(*b));
	if (!b)
		return NULL;
	tsf__verdict_batch__init(b);
	/* First pass: count the verdicts, so the array is allocated once. */
	struct rd r = {buf, buf + len};
	size_t nv = 0;
	while (r.p < r.end) {
		uint64_t key = 0;
		if (get_key(&r, &key))
			return NULL;
		if (key >> 3 == 4 && (key & 7) == 2)
			nv++;
		if (skip_field(&r, key & 7))
			return NULL;
	}
	if (nv) {
		b->verdicts = arena_alloc(a, nv * (sizeof(Tsf__Verdict *) + sizeof(Tsf__Verdict)));
		if (!b->verdicts)
			return NULL;
	}
	Tsf__Verdict *store = nv ? (Tsf__Verdict *)(b->verdicts + nv) : NULL;
	r.p = buf;
	while (r.p < r.end) {
		uint64_t key = 0, x = 0;
		const uint8_t *d = NULL;
		size_t n = 0;
		get_key(&r, &key); /* checked by the first pass */
		unsigned f = (unsigned)(key >> 3), wt = key & 7;
		if (f == 0 || f > 5) {
			skip_field(&r, wt);
			continue;
		}
		if (get_value(&r, wt, f == 2 || f == 4, &x, &d, &n))
			return NULL;
		switch (f) {
		case 1:
			b->schema = (uint32_t)x;
			break;
		case 2:
			if (!(b->sensor = arena_str(a, d, n)))
				return NULL;
			break;
		case 3:
			b->epoch = x;
			break;
		case 4:
			if (decode_verdict(a, d, n, &store[b->n_verdicts]))
				return NULL;
			b->verdicts[b->n_verdicts] = &store[b->n_verdicts];
			b->n_verdicts++;
			break;
		case 5:
			b->queue_dropped = x;
			break;
		}
	}
	return b;
}
