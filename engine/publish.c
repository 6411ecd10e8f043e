/* publish.c - the verdict bus publisher (see publish.h and docs/bus.md). */
#include "publish.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"

/* Strings are copied into the queue slot: the rule set that owns them may be
 * swapped out before the publisher thread gets to the verdict. */
#define SLOT_STR 512
#define CAT_MAX 120
#define RULESET_MAX 64
#define MSG_MAX 200
#define CATMAP_SLOTS 8192 /* power of two; at most half used */
/* Verdicts taken from the queue per round: up to 64 per batch and category,
 * so a mix of categories still makes full batches under load. */
#define TAKE_MAX 256

struct slot {
	struct tsf_verdict v; /* string pointers are not used; see str */
	uint16_t off[4];      /* category, msg, file, ruleset: offset into str */
	uint8_t present;      /* bit i: string i was not NULL */
	char str[SLOT_STR];
};

struct catent {
	char *name;
	uint64_t seq;
};

struct pub {
	struct vsink vs; /* first: the vsink pointer is the pub pointer */
	char *sensor, *endpoint, *replay_ep;
	int sndhwm, block, batch_max;
	unsigned stats_ms;
	void (*stats_fn)(void *, struct tsf_stats *);
	void *stats_ud;
	uint64_t epoch;
	char bound[256], rbound[256];

	void *ctx, *xpub, *router;
	struct bus_zap *zap;
	struct journal *j;
	pthread_t th, rth;
	int have_rth;
	atomic_int rstop;

	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull, drained;
	struct slot *ring;
	size_t cap, head, tail, count;
	int stop, hold, waiting;
	int full_waiters, flush_waiters; /* wake only who waits: futex calls add up */

	/* publisher thread only */
	uint64_t seq;
	struct catent *cats;
	size_t ncats;
	uint8_t *buf;
	size_t bufcap;

	atomic_uint_fast64_t queued, qdropped, published, unsent, batches, subs, rreq, rerr,
	    last_seq;
};

void publish_config_default(struct publish_config *c)
{
	memset(c, 0, sizeof(*c));
	c->journal.fsync = JOURNAL_FSYNC_BATCH;
}

/* Copies at most max bytes of s into dst, cut on a UTF-8 boundary. */
static size_t put_str(char *dst, size_t room, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (max > room - 1)
		max = room - 1;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
	return n + 1;
}

static void slot_fill(struct slot *sl, const struct tsf_verdict *v)
{
	sl->v = *v;
	const char *s[4] = {v->category, v->msg, v->file, v->ruleset};
	size_t max[4] = {CAT_MAX, MSG_MAX, SLOT_STR, RULESET_MAX};
	/* category, ruleset and msg are reserved first so a long file name is
	 * what gets cut. */
	int order[4] = {0, 3, 1, 2};
	size_t pos = 0;
	sl->present = 0;
	for (int k = 0; k < 4; k++) {
		int i = order[k];
		sl->off[i] = (uint16_t)pos;
		if (s[i])
			sl->present |= 1u << i;
		pos += put_str(sl->str + pos, SLOT_STR - pos, s[i] ? s[i] : "", max[i]);
	}
}

static void slot_view(struct slot *sl, struct tsf_verdict *v)
{
	*v = sl->v;
	const char **p[4] = {&v->category, &v->msg, &v->file, &v->ruleset};
	for (int i = 0; i < 4; i++)
		*p[i] = (sl->present & (1u << i)) ? sl->str + sl->off[i] : NULL;
	if (!v->category)
		v->category = "";
}

static void pub_emit(struct vsink *vs, const struct tsf_verdict *v)
{
	struct pub *p = (struct pub *)vs;
	pthread_mutex_lock(&p->mu);
	while (p->count == p->cap) {
		if (!p->block || p->stop) {
			pthread_mutex_unlock(&p->mu);
			atomic_fetch_add_explicit(&p->qdropped, 1, memory_order_relaxed);
			return;
		}
		p->full_waiters++;
		pthread_cond_wait(&p->nonfull, &p->mu);
		p->full_waiters--;
	}
	slot_fill(&p->ring[p->head], v);
	p->head = p->head + 1 == p->cap ? 0 : p->head + 1;
	p->count++;
	if (p->waiting) {
		/* Once: until the publisher runs again, more signals are only
		 * futex calls that wake nobody. */
		p->waiting = 0;
		pthread_cond_signal(&p->nonempty);
	}
	pthread_mutex_unlock(&p->mu);
	atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed);
}

static void pub_flush(struct vsink *vs)
{
	struct pub *p = (struct pub *)vs;
	pthread_mutex_lock(&p->mu);
	while (p->count > 0 && !p->hold) {
		p->flush_waiters++;
		pthread_cond_wait(&p->drained, &p->mu);
		p->flush_waiters--;
	}
	pthread_mutex_unlock(&p->mu);
}

static uint64_t cat_next(struct pub *p, const char *name)
{
	uint64_t h = 1469598103934665603u;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	for (size_t i = h & (CATMAP_SLOTS - 1);; i = (i + 1) & (CATMAP_SLOTS - 1)) {
		struct catent *e = &p->cats[i];
		if (!e->name) {
			/* Full (more categories than any rule set should have):
			 * cat_seq 0 means "not numbered". */
			if (p->ncats >= CATMAP_SLOTS / 2 || !(e->name = strdup(name)))
				return 0;
			p->ncats++;
		} else if (strcmp(e->name, name)) {
			continue;
		}
		return ++e->seq;
	}
}

static int send_msg(struct pub *p, const char *topic, size_t tlen, const void *b, size_t len)
{
	if (zmq_send(p->xpub, topic, tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	/* Once the first frame is accepted the rest of the message always is. */
	zmq_send(p->xpub, b, len, ZMQ_DONTWAIT);
	return 0;
}

static uint8_t *buf_need(struct pub *p, size_t n)
{
	if (n > p->bufcap) {
		uint8_t *b = realloc(p->buf, n);
		if (!b)
			return NULL;
		p->buf = b;
		p->bufcap = n;
	}
	return p->buf;
}

static void fill_bus_stats(struct pub *p, struct tsf_stats *st)
{
	st->bus_queued = atomic_load(&p->queued);
	st->bus_queue_dropped = atomic_load(&p->qdropped);
	st->bus_published = atomic_load(&p->published);
	st->bus_unsent = atomic_load(&p->unsent);
	st->bus_batches = atomic_load(&p->batches);
	st->bus_subscriptions = atomic_load(&p->subs);
	st->bus_replay_requests = atomic_load(&p->rreq);
	st->bus_replay_errors = atomic_load(&p->rerr);
	st->bus_auth_denied = bus_zap_denied(p->zap);
	if (p->j) {
		struct journal_counters jc;
		journal_counters(p->j, &jc);
		st->bus_journaled = jc.appended;
		st->bus_journal_errors = jc.write_errors + jc.sync_errors;
	}
}

static void send_stats(struct pub *p)
{
	struct tsf_stats st;
	memset(&st, 0, sizeof(st));
	if (p->stats_fn)
		p->stats_fn(p->stats_ud, &st);
	fill_bus_stats(p, &st);
	enum { N = sizeof(struct tsf_stats) / sizeof(uint64_t) };
	Tsf__Stats__CountersEntry ent[N], *ptr[N];
	size_t n = 0;
#define PUB_STATS_ENTRY(name, desc)                                                                \
	tsf__stats__counters_entry__init(&ent[n]);                                                 \
	ent[n].key = #name;                                                                        \
	ent[n].value = st.name;                                                                    \
	ptr[n] = &ent[n];                                                                          \
	n++;
	TSF_STATS(PUB_STATS_ENTRY)
#undef PUB_STATS_ENTRY
	Tsf__Stats m = TSF__STATS__INIT;
	m.schema = BUS_SCHEMA;
	m.sensor = p->sensor;
	m.epoch = p->epoch;
	m.ts_ns = bus_now_ns();
	m.last_seq = p->seq;
	m.n_counters = n;
	m.counters = ptr;
	size_t len = tsf__stats__get_packed_size(&m);
	if (!buf_need(p, len))
		return;
	tsf__stats__pack(&m, p->buf);
	/* Stats are periodic: one refused at the high-water mark is not retried. */
	send_msg(p, BUS_TOPIC_STATS, sizeof(BUS_TOPIC_STATS) - 1, p->buf, len);
}

static int cmp_cat(struct pub *p, size_t a, size_t b)
{
	const struct slot *x = &p->ring[a], *y = &p->ring[b];
	return strcmp(x->str + x->off[0], y->str + y->off[0]);
}

/* Publishes ring slots [t, t+n) (mod cap), n <= TAKE_MAX: grouped by
 * category (a batch has one topic), groups in order of first appearance,
 * arrival order kept inside a group; numbered in the order sent so each
 * batch is a run of consecutive sequence numbers. */
static void publish_slots(struct pub *p, size_t t, size_t n)
{
	size_t gid[TAKE_MAX], gcount[TAKE_MAX], gpos[TAKE_MAX], head[TAKE_MAX], order[TAKE_MAX];
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = (t + i) % p->cap, g = 0;
		/* Few categories per take: a linear search beats hashing here. */
		while (g < ng && cmp_cat(p, head[g], k))
			g++;
		if (g == ng) {
			head[ng] = k;
			gcount[ng++] = 0;
		}
		gid[i] = g;
		gcount[g]++;
	}
	for (size_t g = 0, pos = 0; g < ng; g++) {
		gpos[g] = pos;
		pos += gcount[g];
	}
	for (size_t i = 0; i < n; i++)
		order[gpos[gid[i]]++] = (t + i) % p->cap;
	struct tsf_verdict tv[BUS_BATCH_MAX];
	uint64_t cs[BUS_BATCH_MAX];
	size_t i = 0;
	while (i < n) {
		size_t e = i + 1;
		while (e < n && e - i < (size_t)p->batch_max && !cmp_cat(p, order[i], order[e]))
			e++;
		uint64_t first = p->seq + 1;
		for (size_t k = i; k < e; k++) {
			slot_view(&p->ring[order[k]], &tv[k - i]);
			cs[k - i] = cat_next(p, tv[k - i].category);
		}
		p->seq += e - i;
		struct bus_batch_hdr h = {p->sensor, p->epoch, atomic_load(&p->qdropped)};
		size_t len = bus_batch_size(&h, tv, cs, first, e - i);
		if (buf_need(p, len)) {
			bus_batch_pack(p->buf, &h, tv, cs, first, e - i);
			if (p->j)
				journal_append(p->j, first, (uint32_t)(e - i), p->buf, len);
			char topic[BUS_TOPIC_MAX];
			size_t tl = bus_topic(topic, sizeof(topic), tv[0].category);
			if (send_msg(p, topic, tl, p->buf, len) == 0) {
				atomic_fetch_add_explicit(&p->published, e - i,
				                          memory_order_relaxed);
				atomic_fetch_add_explicit(&p->batches, 1, memory_order_relaxed);
			} else {
				atomic_fetch_add_explicit(&p->unsent, e - i, memory_order_relaxed);
			}
		} else {
			atomic_fetch_add_explicit(&p->unsent, e - i, memory_order_relaxed);
		}
		atomic_store(&p->last_seq, p->seq);
		i = e;
	}
}

static void drain_subscriptions(struct pub *p)
{
	char b[256];
	while (zmq_recv(p->xpub, b, sizeof(b), ZMQ_DONTWAIT) >= 0)
		atomic_fetch_add_explicit(&p->subs, 1, memory_order_relaxed);
}

static void *pub_thread(void *arg)
{
	struct pub *p = arg;
	uint64_t next_stats = p->stats_ms == (unsigned)-1
	                          ? UINT64_MAX
	                          : bus_mono_ns() + (uint64_t)p->stats_ms * 1000000u;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!(p->count > 0 && !p->hold) && !p->stop) {
			uint64_t now = bus_mono_ns();
			if (now >= next_stats)
				break;
			/* Wake at least every 100 ms: subscriptions and the journal's
			 * sync timer need attention even when no verdict comes. */
			uint64_t until =
			    next_stats - now < 100000000u ? next_stats : now + 100000000u;
			struct timespec ts = {(time_t)(until / 1000000000u),
			                      (long)(until % 1000000000u)};
			p->waiting = 1;
			int rc = pthread_cond_timedwait(&p->nonempty, &p->mu, &ts);
			p->waiting = 0;
			if (rc == ETIMEDOUT)
				break;
		}
		size_t n = p->hold ? 0 : p->count;
		if (n > TAKE_MAX)
			n = TAKE_MAX;
		size_t t = p->tail;
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);

		/* Slots [t, t+n) are ours until tail moves: producers only write
		 * at head, and count keeps them from wrapping onto us. */
		if (n)
			publish_slots(p, t, n);

		pthread_mutex_lock(&p->mu);
		p->tail = (p->tail + n) % p->cap;
		p->count -= n;
		if (n && p->full_waiters)
			pthread_cond_broadcast(&p->nonfull);
		if ((p->count == 0 || p->hold) && p->flush_waiters)
			pthread_cond_broadcast(&p->drained);
		size_t left = p->count;
		pthread_mutex_unlock(&p->mu);

		drain_subscriptions(p);
		if (p->j && n == 0)
			journal_tick(p->j);
		if (bus_mono_ns() >= next_stats) {
			send_stats(p);
			next_stats = bus_mono_ns() + (uint64_t)p->stats_ms * 1000000u;
		}
		if (stop && left == 0)
			break;
	}
	send_stats(p);
	return NULL;
}

static void *replay_thread(void *arg)
{
	struct pub *p = arg;
	zmq_msg_t f[8];
	while (!atomic_load(&p->rstop)) {
		zmq_pollitem_t it = {p->router, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		int n = 0, more = 1, bad = 0;
		while (more) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, p->router, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				bad = 1;
				break;
			}
			more = zmq_msg_more(&m);
			if (n < 8)
				f[n++] = m;
			else {
				zmq_msg_close(&m);
				bad = 1; /* too many frames: not a request of ours */
			}
		}
		atomic_fetch_add(&p->rreq, 1);
		/* [identity][empty delimiter, from REQ clients][request]; anything
		 * else is answered BAD_REQUEST on the same envelope. */
		int env = (n >= 2 && zmq_msg_size(&f[1]) == 0) ? 2 : 1;
		if (n != env + 1)
			bad = 1;
		if (n >= 1) {
			uint8_t *ans = NULL;
			int status = 0;
			size_t alen;
			if (bad)
				alen = journal_replay_answer(NULL, (const uint8_t *)"\xff", 1, &ans,
				                             &status);
			else
				alen =
				    journal_replay_answer(p->j, zmq_msg_data(&f[n - 1]),
				                          zmq_msg_size(&f[n - 1]), &ans, &status);
			if (status != 0)
				atomic_fetch_add(&p->rerr, 1);
			int ok = 1;
			for (int i = 0; i < env && i < n && ok; i++)
				ok = zmq_send(p->router, zmq_msg_data(&f[i]), zmq_msg_size(&f[i]),
				              ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0;
			if (ok && ans)
				zmq_send(p->router, ans, alen, ZMQ_DONTWAIT);
			free(ans);
		}
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
	return NULL;
}

static void pub_free(struct pub *p)
{
	if (p->router)
		zmq_close(p->router);
	if (p->xpub)
		zmq_close(p->xpub);
	bus_zap_stop(p->zap);
	if (p->ctx)
		zmq_ctx_term(p->ctx);
	journal_close(p->j);
	if (p->cats)
		for (size_t i = 0; i < CATMAP_SLOTS; i++)
			free(p->cats[i].name);
	free(p->cats);
	free(p->ring);
	free(p->buf);
	free(p->sensor);
	free(p->endpoint);
	free(p->replay_ep);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->nonempty);
	pthread_cond_destroy(&p->nonfull);
	pthread_cond_destroy(&p->drained);
	free(p);
}

static void pub_destroy(struct vsink *vs)
{
	struct pub *p = (struct pub *)vs;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	p->hold = 0;
	pthread_cond_broadcast(&p->nonempty);
	pthread_cond_broadcast(&p->nonfull);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	atomic_store(&p->rstop, 1);
	if (p->have_rth)
		pthread_join(p->rth, NULL);
	pub_free(p);
}

void publish_stats(struct vsink *s, struct tsf_stats *st)
{
	fill_bus_stats((struct pub *)s, st);
}

const char *publish_endpoint(struct vsink *s, int replay)
{
	struct pub *p = (struct pub *)s;
	return replay ? p->rbound : p->bound;
}

uint64_t publish_last_seq(struct vsink *s)
{
	return atomic_load(&((struct pub *)s)->last_seq);
}

void publish_hold(struct vsink *s, int on)
{
	struct pub *p = (struct pub *)s;
	pthread_mutex_lock(&p->mu);
	p->hold = on;
	pthread_cond_broadcast(&p->nonempty);
	pthread_cond_broadcast(&p->drained);
	pthread_mutex_unlock(&p->mu);
}

struct vsink *vsink_publish_new(const struct publish_config *c, char *err, size_t errlen)
{
	if (!c->endpoint || !*c->endpoint) {
		snprintf(err, errlen, "publish: no endpoint");
		return NULL;
	}
	if (c->replay_endpoint && !c->journal.dir) {
		snprintf(err, errlen, "publish: a replay endpoint needs a journal directory");
		return NULL;
	}
	struct pub *p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->nonempty, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->nonfull, NULL);
	pthread_cond_init(&p->drained, NULL);
	p->vs.emit = pub_emit;
	p->vs.flush = pub_flush;
	p->vs.destroy = pub_destroy;
	char host[256] = "tapsift";
	if (!c->sensor)
		gethostname(host, sizeof(host) - 1);
	p->sensor = strdup(c->sensor ? c->sensor : host);
	p->endpoint = strdup(c->endpoint);
	p->sndhwm = c->sndhwm > 0 ? c->sndhwm : 100000;
	p->cap = c->queue_len ? c->queue_len : 16384;
	p->block = c->block_when_full;
	p->batch_max =
	    c->batch_max > 0 && c->batch_max <= BUS_BATCH_MAX ? c->batch_max : BUS_BATCH_MAX;
	p->stats_ms = c->stats_ms ? c->stats_ms : 10000;
	p->stats_fn = c->stats_fn;
	p->stats_ud = c->stats_ud;
	p->epoch = bus_now_ns();
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->cats = calloc(CATMAP_SLOTS, sizeof(*p->cats));
	if (!p->sensor || !p->endpoint || !p->ring || !p->cats) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (c->journal.dir) {
		if (!(p->j = journal_open(&c->journal, err, errlen)))
			goto fail;
		uint64_t first, last;
		journal_range(p->j, &first, &last);
		p->seq = last; /* numbering continues across restarts */
		atomic_store(&p->last_seq, last);
	}
	p->ctx = zmq_ctx_new();
	char secret[41];
	if (c->curve_secret_file) {
		if (bus_key_load(c->curve_secret_file, secret, err, errlen))
			goto fail;
		/* ZAP before any bind: a CURVE server with no handler admits all. */
		if (!(p->zap = bus_zap_start(p->ctx, c->curve_allow_file, err, errlen)))
			goto fail;
	}
	p->xpub = zmq_socket(p->ctx, ZMQ_XPUB);
	int one = 1, linger = 2000;
	zmq_setsockopt(p->xpub, ZMQ_SNDHWM, &p->sndhwm, sizeof(p->sndhwm));
	zmq_setsockopt(p->xpub, ZMQ_XPUB_NODROP, &one, sizeof(one));
	zmq_setsockopt(p->xpub, ZMQ_LINGER, &linger, sizeof(linger));
	/* Only subscriptions come in: refuse anything bigger before libzmq
	 * allocates it (garbage on the port can announce any size). */
	int64_t maxin = 1024;
	zmq_setsockopt(p->xpub, ZMQ_MAXMSGSIZE, &maxin, sizeof(maxin));
	if (c->curve_secret_file && bus_curve_server(p->xpub, secret)) {
		snprintf(err, errlen, "publish: CURVE: %s", zmq_strerror(errno));
		goto fail;
	}
	if (bus_attach(p->xpub, c->endpoint, 1)) {
		snprintf(err, errlen, "publish: %s: %s", c->endpoint, zmq_strerror(errno));
		goto fail;
	}
	size_t bl = sizeof(p->bound);
	zmq_getsockopt(p->xpub, ZMQ_LAST_ENDPOINT, p->bound, &bl);
	if (c->replay_endpoint) {
		p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
		int hwm = 1000, zero = 0;
		zmq_setsockopt(p->router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(p->router, ZMQ_LINGER, &zero, sizeof(zero));
		int64_t maxreq = 65536;
		zmq_setsockopt(p->router, ZMQ_MAXMSGSIZE, &maxreq, sizeof(maxreq));
		if (c->curve_secret_file && bus_curve_server(p->router, secret)) {
			snprintf(err, errlen, "replay: CURVE: %s", zmq_strerror(errno));
			goto fail;
		}
		if (bus_attach(p->router, c->replay_endpoint, 1)) {
			snprintf(err, errlen, "replay: %s: %s", c->replay_endpoint,
			         zmq_strerror(errno));
			goto fail;
		}
		bl = sizeof(p->rbound);
		zmq_getsockopt(p->router, ZMQ_LAST_ENDPOINT, p->rbound, &bl);
		if (pthread_create(&p->rth, NULL, replay_thread, p)) {
			snprintf(err, errlen, "replay: cannot start thread");
			goto fail;
		}
		p->have_rth = 1;
		pthread_setname_np(p->rth, "tsf-replay");
	}
	if (pthread_create(&p->th, NULL, pub_thread, p)) {
		snprintf(err, errlen, "publish: cannot start thread");
		if (p->have_rth) {
			atomic_store(&p->rstop, 1);
			pthread_join(p->rth, NULL);
		}
		goto fail;
	}
	pthread_setname_np(p->th, "tsf-publish");
	if (c->wait_subscribers > 0) {
		uint64_t until =
		    bus_mono_ns() + (uint64_t)(c->wait_ms ? c->wait_ms : 5000) * 1000000u;
		while (atomic_load(&p->subs) < (uint64_t)c->wait_subscribers &&
		       bus_mono_ns() < until)
			usleep(1000);
	}
	return &p->vs;
fail:
	if (p->xpub) {
		int zero = 0;
		zmq_setsockopt(p->xpub, ZMQ_LINGER, &zero, sizeof(zero));
	}
	pub_free(p);
	return NULL;
}
