/* engine.c - worker threads, flow table, TCP state: packets in, verdicts out.
 *
 * The producer (capture thread) appends packets to a per-worker batch and
 * hands full batches over through a small mutex/condvar queue: one lock
 * round trip per ~256 KiB, not per packet.  A full queue blocks the
 * producer, which is the right back-pressure for a file and, for live
 * capture, turns into ring-buffer drops that the kernel side counts.
 *
 * Each worker owns its flows outright (flow table, LRU, reassembly,
 * inspection), so the packet path takes no locks.  Time is packet time: the
 * producer broadcasts a tick every second of capture time and workers expire
 * idle flows against it, which keeps results identical for any thread count.
 */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "defrag.h"
#include "inspect.h"
#include "match.h"
#include "reasm.h"

#define BATCH_BYTES (256u << 10)
#define QUEUE_MAX 32 /* batches in flight per worker */
#define TICK_NS 1000000000ull
#define EXPIRE_SCAN 4096 /* flows examined per tick at most */

enum { M_PKT = 1, M_TICK, M_TEXT, M_SWAP };

struct msg {
	uint32_t type;
	uint32_t size; /* of the whole entry, 8-aligned */
	union {
		struct tsf_pkt pkt; /* payload follows the entry header */
		uint64_t now_ns;
		struct matcher *m;
		struct {
			char *name;
			uint8_t *data;
			size_t len;
		} text;
	} u;
};

struct batch {
	struct batch *next;
	size_t used;
	uint8_t buf[BATCH_BYTES];
};

enum { F_OPEN = 0, F_CLOSED = 1 };

struct flow {
	struct flow *hnext;
	struct flow *lprev, *lnext; /* LRU: head = least recently seen */
	uint64_t hash;
	uint64_t last_ns;     /* the worker's clock at the last packet (expiry) */
	uint64_t last_pkt_ns; /* that packet's own capture time (verdicts at the end) */
	uint8_t proto, ipver, state;
	uint8_t fin[2];
	uint32_t fin_seq[2];
	struct reasm r[2];
	struct insp_dir d[2];
	struct insp_meta meta[2]; /* meta[0]: initiator -> responder */
};

struct worker {
	pthread_t th;
	struct engine *e;
	/* queue */
	pthread_mutex_t mu;
	pthread_cond_t cv_nonempty, cv_nonfull;
	struct batch *qhead, *qtail;
	struct batch *spare; /* processed batches, reused by the producer */
	int nspare;
	int qlen, done;
	struct batch *fill; /* producer side: batch being filled */
	/* owned by the worker thread */
	struct flow **buckets;
	size_t nbuckets, nflows;
	struct flow *lru_head, *lru_tail;
	uint64_t now_ns;
	size_t reasm_used;
	struct reasm_limits lim;
	struct insp_worker insp;
	struct tsf_stats st;
};

struct engine {
	struct engine_config cfg;
	struct vsink *sink;
	int nworkers;
	struct worker *w;
	uint64_t last_tick_ns;
	struct tsf_stats st; /* producer-side counters */
	struct defrag *df;   /* IP reassembly, producer side (NULL: --no-defrag) */
	int finished;
	char **names; /* text input names: verdicts point at them until the end */
	size_t nnames;
};

void engine_config_default(struct engine_config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 0;
	c->max_flows = 1u << 18;
	c->reasm_memcap_flow = 1u << 20;
	c->reasm_memcap_global = 256u << 20;
	c->stream_depth = 0;
	c->tcp_timeout_s = 600;
	c->tcp_closed_timeout_s = 10;
	c->udp_timeout_s = 60;
	struct defrag_config dc;
	defrag_config_default(&dc);
	c->frag_timeout_s = dc.timeout_s;
	c->frag_memcap = dc.memcap;
	dec_limits_default(&c->dec);
}

/* ---- flow keys ---- */

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* The same for both directions: hash the two endpoints in a fixed order. */
static uint64_t flow_hash(const struct tsf_pkt *p)
{
	const uint8_t *a = p->src, *b = p->dst;
	uint16_t pa = p->sport, pb = p->dport;
	int c = memcmp(a, b, 16);
	if (c > 0 || (c == 0 && pa > pb)) {
		const uint8_t *t = a;
		a = b;
		b = t;
		uint16_t tp = pa;
		pa = pb;
		pb = tp;
	}
	uint8_t ports[5] = {(uint8_t)(pa >> 8), (uint8_t)pa, (uint8_t)(pb >> 8), (uint8_t)pb,
	                    p->proto};
	uint64_t h = 0xcbf29ce484222325ull;
	h = hash_bytes(h, a, 16);
	h = hash_bytes(h, b, 16);
	h = hash_bytes(h, ports, 5);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

/* 0: p travels initiator -> responder, 1: reverse, -1: not this flow. */
static int flow_dir(const struct flow *f, const struct tsf_pkt *p)
{
	const struct insp_meta *m = &f->meta[0];
	if (f->proto != p->proto || f->ipver != p->ipver)
		return -1;
	if (m->sport == p->sport && m->dport == p->dport && !memcmp(m->src, p->src, 16) &&
	    !memcmp(m->dst, p->dst, 16))
		return 0;
	if (m->sport == p->dport && m->dport == p->sport && !memcmp(m->src, p->dst, 16) &&
	    !memcmp(m->dst, p->src, 16))
		return 1;
	return -1;
}

/* ---- LRU ---- */

static void lru_unlink(struct worker *w, struct flow *f)
{
	if (f->lprev)
		f->lprev->lnext = f->lnext;
	else
		w->lru_head = f->lnext;
	if (f->lnext)
		f->lnext->lprev = f->lprev;
	else
		w->lru_tail = f->lprev;
	f->lprev = f->lnext = NULL;
}

static void lru_push(struct worker *w, struct flow *f)
{
	f->lprev = w->lru_tail;
	f->lnext = NULL;
	if (w->lru_tail)
		w->lru_tail->lnext = f;
	else
		w->lru_head = f;
	w->lru_tail = f;
}

/* ---- flow life cycle ---- */

struct gapctx {
	struct worker *w;
	struct flow *f;
	int dir;
};

static void on_data(void *ud, const uint8_t *p, size_t len)
{
	struct gapctx *g = ud;
	insp_data(&g->w->insp, &g->f->d[g->dir], &g->f->meta[g->dir], p, len);
}

static void on_gap(void *ud, uint64_t lost)
{
	(void)lost;
	struct gapctx *g = ud;
	insp_gap(&g->w->insp, &g->f->d[g->dir], &g->f->meta[g->dir]);
}

/* Flushes reassembly and inspection of both directions; the flow stays in
 * the table as F_CLOSED so late retransmissions are not scanned again. */
/* Matches completed by the flush (data held behind a gap, a decoder's or
 * Hyperscan's end of stream) carry the time of the flow's last packet: by
 * a timeout or at the end of a capture, the worker's current packet
 * belongs to another flow, and which one depends on how flows are spread
 * over workers. */
static void flow_end(struct worker *w, struct flow *f)
{
	if (f->state == F_CLOSED)
		return;
	uint64_t now = w->insp.now_ns;
	w->insp.now_ns = f->last_pkt_ns;
	for (int dir = 0; dir < 2; dir++) {
		struct gapctx g = {w, f, dir};
		struct reasm_out out = {on_data, on_gap, &g};
		reasm_flush(&f->r[dir], &w->lim, &out, &w->st);
		insp_end(&w->insp, &f->d[dir], &f->meta[dir]);
	}
	w->insp.now_ns = now;
	f->state = F_CLOSED;
}

static void flow_remove(struct worker *w, struct flow *f)
{
	flow_end(w, f);
	struct flow **pp = &w->buckets[f->hash & (w->nbuckets - 1)];
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	lru_unlink(w, f);
	for (int dir = 0; dir < 2; dir++) {
		reasm_free(&f->r[dir], &w->lim);
		insp_dir_free(&w->insp, &f->d[dir]);
	}
	free(f);
	w->nflows--;
}

static struct flow *flow_new(struct worker *w, const struct tsf_pkt *p, uint64_t h)
{
	if (w->nflows >= w->e->cfg.max_flows && w->lru_head) {
		w->st.flows_evicted++;
		flow_remove(w, w->lru_head);
	}
	struct flow *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->hash = h;
	f->proto = p->proto;
	f->ipver = p->ipver;
	/* The initiator sent the SYN; a SYN-ACK seen first comes from the responder. */
	int swap = p->proto == TSF_PROTO_TCP &&
	           (p->tcp_flags & (TSF_TCP_SYN | TSF_TCP_ACK)) == (TSF_TCP_SYN | TSF_TCP_ACK);
	for (int dir = 0; dir < 2; dir++) {
		struct insp_meta *m = &f->meta[dir];
		int fwd = (dir == 0) != swap;
		m->ipver = p->ipver;
		m->proto = p->proto;
		m->dir = (uint8_t)dir;
		memcpy(m->src, fwd ? p->src : p->dst, 16);
		memcpy(m->dst, fwd ? p->dst : p->src, 16);
		m->sport = fwd ? p->sport : p->dport;
		m->dport = fwd ? p->dport : p->sport;
		reasm_init(&f->r[dir]);
		insp_dir_init(&f->d[dir]);
	}
	size_t b = h & (w->nbuckets - 1);
	f->hnext = w->buckets[b];
	w->buckets[b] = f;
	lru_push(w, f);
	w->nflows++;
	w->st.flows++;
	return f;
}

static uint64_t flow_timeout_ns(const struct engine_config *c, const struct flow *f)
{
	uint32_t s = f->state == F_CLOSED        ? c->tcp_closed_timeout_s
	             : f->proto == TSF_PROTO_UDP ? c->udp_timeout_s
	                                         : c->tcp_timeout_s;
	return (uint64_t)s * 1000000000ull;
}

static void expire(struct worker *w)
{
	struct flow *f = w->lru_head;
	for (int i = 0; f && i < EXPIRE_SCAN; i++) {
		struct flow *next = f->lnext;
		if (f->last_ns + flow_timeout_ns(&w->e->cfg, f) < w->now_ns) {
			if (f->state != F_CLOSED)
				w->st.flows_timeout++;
			flow_remove(w, f);
		}
		f = next;
	}
}

/* Both directions ended with FIN and every byte before it was delivered. */
static int fins_complete(const struct flow *f)
{
	for (int dir = 0; dir < 2; dir++)
		if (!f->fin[dir] || f->r[dir].ooo ||
		    (f->r[dir].init && f->r[dir].next_seq != f->fin_seq[dir]))
			return 0;
	return 1;
}

/* The flow of p (hash h) and p's direction in it, or NULL. */
static struct flow *flow_find(struct worker *w, const struct tsf_pkt *p, uint64_t h, int *dir)
{
	for (struct flow *f = w->buckets[h & (w->nbuckets - 1)]; f; f = f->hnext)
		if (f->hash == h && (*dir = flow_dir(f, p)) >= 0)
			return f;
	return NULL;
}

static void handle_tcp(struct worker *w, const struct tsf_pkt *p)
{
	uint64_t h = flow_hash(p);
	int dir = -1;
	struct flow *f = flow_find(w, p, h, &dir);
	int syn_only = (p->tcp_flags & (TSF_TCP_SYN | TSF_TCP_ACK)) == TSF_TCP_SYN;
	if (f && f->state == F_CLOSED) {
		if (!syn_only) {
			f->last_ns = w->now_ns; /* late packet of an ended flow */
			lru_unlink(w, f);
			lru_push(w, f);
			return;
		}
		flow_remove(w, f); /* port reuse: a new connection */
		f = NULL;
	}
	if (!f) {
		if (!p->len && !(p->tcp_flags & TSF_TCP_SYN))
			return; /* a bare ACK/FIN/RST of a flow we never saw */
		f = flow_new(w, p, h);
		if (!f)
			return;
		dir = flow_dir(f, p);
	}
	f->last_ns = w->now_ns;
	f->last_pkt_ns = p->ts_ns;
	lru_unlink(w, f);
	lru_push(w, f);
	if (p->tcp_flags & TSF_TCP_SYN)
		reasm_syn(&f->r[dir], p->seq);
	if (p->len) {
		struct gapctx g = {w, f, dir};
		struct reasm_out out = {on_data, on_gap, &g};
		w->st.tcp_segments++;
		reasm_segment(&f->r[dir], (p->tcp_flags & TSF_TCP_SYN) ? p->seq + 1 : p->seq,
		              p->payload, p->len, &w->lim, &out, &w->st);
	}
	if (p->tcp_flags & TSF_TCP_FIN) {
		f->fin[dir] = 1;
		f->fin_seq[dir] = p->seq + p->len + ((p->tcp_flags & TSF_TCP_SYN) ? 1 : 0);
	}
	if (p->tcp_flags & TSF_TCP_RST) {
		w->st.flows_closed++;
		flow_end(w, f);
	} else if (fins_complete(f)) {
		w->st.flows_closed++;
		flow_end(w, f);
	}
}

static void handle_udp(struct worker *w, const struct tsf_pkt *p)
{
	if (!p->len)
		return;
	uint64_t h = flow_hash(p);
	int dir = -1;
	struct flow *f = flow_find(w, p, h, &dir);
	if (!f) {
		f = flow_new(w, p, h);
		if (!f)
			return;
		dir = 0;
	}
	f->last_ns = w->now_ns;
	f->last_pkt_ns = p->ts_ns;
	lru_unlink(w, f);
	lru_push(w, f);
	w->st.udp_datagrams++;
	/* Each datagram is a stream of its own; the dedup set is the flow's. */
	insp_data(&w->insp, &f->d[dir], &f->meta[dir], p->payload, p->len);
	insp_end(&w->insp, &f->d[dir], &f->meta[dir]);
}

static void handle_text(struct worker *w, struct msg *m)
{
	struct insp_meta meta;
	struct insp_dir d;
	memset(&meta, 0, sizeof(meta));
	meta.file = m->u.text.name;
	insp_dir_init(&d);
	insp_data(&w->insp, &d, &meta, m->u.text.data, m->u.text.len);
	insp_end(&w->insp, &d, &meta);
	insp_dir_free(&w->insp, &d);
	free(m->u.text.data);
	/* the name stays alive until the engine is freed: verdicts may still
	 * reference it in a sink's queue */
}

static void handle_batch(struct worker *w, struct batch *b)
{
	for (size_t off = 0; off < b->used;) {
		struct msg *m = (struct msg *)(b->buf + off);
		off += m->size;
		switch (m->type) {
		case M_PKT:
			m->u.pkt.payload = (const uint8_t *)(m + 1);
			if (m->u.pkt.ts_ns > w->now_ns)
				w->now_ns = m->u.pkt.ts_ns;
			w->insp.now_ns = m->u.pkt.ts_ns;
			if (m->u.pkt.proto == TSF_PROTO_TCP)
				handle_tcp(w, &m->u.pkt);
			else
				handle_udp(w, &m->u.pkt);
			break;
		case M_TICK:
			if (m->u.now_ns > w->now_ns)
				w->now_ns = m->u.now_ns;
			expire(w);
			break;
		case M_TEXT:
			w->insp.now_ns = w->now_ns;
			handle_text(w, m);
			break;
		case M_SWAP:
			if (insp_set_matcher(&w->insp, m->u.m))
				w->st.swap_failed++;
			matcher_unref(m->u.m); /* the producer's hold for this message */
			break;
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->qhead && !w->done)
			pthread_cond_wait(&w->cv_nonempty, &w->mu);
		struct batch *b = w->qhead;
		if (b) {
			w->qhead = b->next;
			if (!w->qhead)
				w->qtail = NULL;
			w->qlen--;
			pthread_cond_signal(&w->cv_nonfull);
		}
		pthread_mutex_unlock(&w->mu);
		if (!b)
			break;
		handle_batch(w, b);
		/* Recycle rather than free: freeing a 256 KiB chunk makes glibc
		 * consolidate its heap every time (13% of scan time, measured). */
		pthread_mutex_lock(&w->mu);
		if (w->nspare < QUEUE_MAX + 2) {
			b->next = w->spare;
			w->spare = b;
			w->nspare++;
			b = NULL;
		}
		pthread_mutex_unlock(&w->mu);
		free(b);
	}
	/* End of input: every flow ends, in LRU order (deterministic). */
	while (w->lru_head)
		flow_remove(w, w->lru_head);
	return NULL;
}

/* ---- producer side ---- */

static void push_batch(struct worker *w)
{
	struct batch *b = w->fill;
	if (!b || !b->used)
		return;
	w->fill = NULL;
	b->next = NULL;
	pthread_mutex_lock(&w->mu);
	while (w->qlen >= QUEUE_MAX)
		pthread_cond_wait(&w->cv_nonfull, &w->mu);
	if (w->qtail)
		w->qtail->next = b;
	else
		w->qhead = b;
	w->qtail = b;
	w->qlen++;
	pthread_cond_signal(&w->cv_nonempty);
	pthread_mutex_unlock(&w->mu);
}

static struct msg *reserve(struct worker *w, size_t extra)
{
	size_t need = (sizeof(struct msg) + extra + 7) & ~(size_t)7;
	if (need > BATCH_BYTES)
		return NULL;
	if (w->fill && w->fill->used + need > BATCH_BYTES)
		push_batch(w);
	if (!w->fill) {
		pthread_mutex_lock(&w->mu);
		w->fill = w->spare;
		if (w->fill) {
			w->spare = w->fill->next;
			w->nspare--;
		}
		pthread_mutex_unlock(&w->mu);
		if (!w->fill)
			w->fill = malloc(sizeof(struct batch));
		if (!w->fill)
			return NULL;
		w->fill->used = 0;
	}
	struct msg *m = (struct msg *)(w->fill->buf + w->fill->used);
	w->fill->used += need;
	m->size = (uint32_t)need;
	return m;
}

static void broadcast_tick(struct engine *e, uint64_t now)
{
	for (int i = 0; i < e->nworkers; i++) {
		struct msg *m = reserve(&e->w[i], 0);
		if (m) {
			m->type = M_TICK;
			m->u.now_ns = now;
		}
	}
}

/* Packet time on the producer side: once a second, workers expire idle
 * flows and reassembly drops stale datagrams. */
static void producer_clock(struct engine *e, uint64_t ts_ns)
{
	if (ts_ns >= e->last_tick_ns + TICK_NS) {
		e->last_tick_ns = ts_ns;
		broadcast_tick(e, ts_ns);
		if (e->df)
			defrag_expire(e->df, ts_ns);
	}
}

/* Hands p to its flow's worker (the clock has been advanced). */
static void enqueue_packet(struct engine *e, const struct tsf_pkt *p)
{
	e->st.payload_bytes += p->len;
	struct worker *w = &e->w[flow_hash(p) % (uint64_t)e->nworkers];
	struct msg *m = reserve(w, p->len);
	if (!m)
		return;
	m->type = M_PKT;
	m->u.pkt = *p;
	if (p->len)
		memcpy(m + 1, p->payload, p->len);
}

void engine_packet(struct engine *e, const struct tsf_pkt *p)
{
	producer_clock(e, p->ts_ns);
	enqueue_packet(e, p);
}

void engine_fragment(struct engine *e, const struct tsf_frag *f, uint64_t ts_ns, uint8_t dir)
{
	struct defrag_dgram g;
	if (!e->df) {
		e->st.pkt_fragment++;
		return;
	}
	producer_clock(e, ts_ns);
	if (!defrag_add(e->df, f, ts_ns, dir, &g))
		return;
	/* The whole datagram: its transport header is in its first bytes. */
	struct tsf_pkt p;
	memset(&p, 0, sizeof(p));
	enum pkt_result r = pkt_parse_l4(g.ipver, g.proto, g.data, g.len, &p);
	if (r != PKT_OK) {
		engine_count(e, r, g.len);
		return;
	}
	p.ipver = g.ipver;
	memcpy(p.src, g.src, 16);
	memcpy(p.dst, g.dst, 16);
	p.ts_ns = g.ts_ns;
	p.ifindex_dir = g.dir;
	/* not engine_packet: its clock tick could expire the defrag table,
	 * which frees the buffer p.payload points into */
	enqueue_packet(e, &p);
}

void engine_text(struct engine *e, const char *name, const uint8_t *data, size_t len)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ull, (const uint8_t *)name, strlen(name));
	struct worker *w = &e->w[h % (uint64_t)e->nworkers];
	uint8_t *copy = malloc(len ? len : 1);
	char *ncopy = strdup(name);
	struct msg *m = copy && ncopy ? reserve(w, 0) : NULL;
	if (!m) {
		free(copy);
		free(ncopy);
		return;
	}
	char **nn = realloc(e->names, (e->nnames + 1) * sizeof(*nn));
	if (!nn) {
		m->type = M_TICK; /* reserved entry becomes harmless */
		m->u.now_ns = 0;
		free(copy);
		free(ncopy);
		return;
	}
	e->names = nn;
	e->names[e->nnames++] = ncopy;
	memcpy(copy, data, len);
	m->type = M_TEXT;
	m->u.text.name = ncopy;
	m->u.text.data = copy;
	m->u.text.len = len;
	e->st.payload_bytes += len;
}

int engine_set_matcher(struct engine *e, struct matcher *m)
{
	for (int i = 0; i < e->nworkers; i++) {
		struct msg *msg = reserve(&e->w[i], 0);
		if (!msg)
			return -1;
		matcher_ref(m);
		msg->type = M_SWAP;
		msg->u.m = m;
	}
	/* Deliver now: a swap must not wait for a batch to fill. */
	engine_flush(e);
	return 0;
}

void engine_flush(struct engine *e)
{
	for (int i = 0; i < e->nworkers; i++)
		push_batch(&e->w[i]);
}

void engine_count(struct engine *e, enum pkt_result why, size_t caplen)
{
	(void)caplen;
	switch (why) {
	case PKT_OK:
		break;
	case PKT_MALFORMED:
		e->st.pkt_malformed++;
		break;
	case PKT_NOT_IP:
		e->st.pkt_not_ip++;
		break;
	case PKT_NOT_TCPUDP:
		e->st.pkt_not_tcpudp++;
		break;
	case PKT_FRAGMENT:
		e->st.pkt_fragment++;
		break;
	case PKT_LINKTYPE:
		e->st.pkt_linktype++;
		break;
	}
}

struct engine *engine_new(const struct engine_config *cfg, struct matcher *m, struct vsink *sink)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = *cfg;
	e->sink = sink;
	e->nworkers = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (e->nworkers < 1)
		e->nworkers = 1;
	if (e->nworkers > 256)
		e->nworkers = 256;
	if (!e->cfg.max_flows)
		e->cfg.max_flows = 1u << 18;
	if (!e->cfg.no_defrag) {
		struct defrag_config dc;
		defrag_config_default(&dc);
		dc.timeout_s = e->cfg.frag_timeout_s;
		dc.memcap = e->cfg.frag_memcap;
		e->df = defrag_new(&dc, &e->st);
	}
	e->w = calloc((size_t)e->nworkers, sizeof(*e->w));
	if ((!e->cfg.no_defrag && !e->df) || !e->w) {
		defrag_free(e->df);
		free(e->w);
		free(e);
		return NULL;
	}
	size_t nb = 1024;
	while (nb < e->cfg.max_flows && nb < (1u << 22))
		nb <<= 1;
	for (int i = 0; i < e->nworkers; i++) {
		struct worker *w = &e->w[i];
		w->e = e;
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv_nonempty, NULL);
		pthread_cond_init(&w->cv_nonfull, NULL);
		w->nbuckets = nb;
		w->buckets = calloc(nb, sizeof(*w->buckets));
		w->lim.memcap_flow = e->cfg.reasm_memcap_flow;
		w->lim.memcap_global = e->cfg.reasm_memcap_global;
		w->lim.global_used = &w->reasm_used;
		if (!w->buckets || insp_worker_init(&w->insp, m, sink, &w->st, &e->cfg.dec)) {
			e->nworkers = i + 1;
			engine_free(e);
			return NULL;
		}
		w->insp.stream_depth = e->cfg.stream_depth;
		if (pthread_create(&w->th, NULL, worker_main, w)) {
			insp_worker_free(&w->insp);
			free(w->buckets);
			w->buckets = NULL;
			e->nworkers = i;
			engine_free(e);
			return NULL;
		}
		char name[16];
		snprintf(name, sizeof(name), "tsf-worker%d", i % 1000);
		pthread_setname_np(w->th, name); /* for top -H and perf */
	}
	return e;
}

void engine_finish(struct engine *e)
{
	if (e->finished)
		return;
	e->finished = 1;
	if (e->df)
		defrag_flush(e->df);
	engine_flush(e);
	for (int i = 0; i < e->nworkers; i++) {
		struct worker *w = &e->w[i];
		pthread_mutex_lock(&w->mu);
		w->done = 1;
		pthread_cond_signal(&w->cv_nonempty);
		pthread_mutex_unlock(&w->mu);
	}
	for (int i = 0; i < e->nworkers; i++)
		pthread_join(e->w[i].th, NULL);
	if (e->sink->flush)
		e->sink->flush(e->sink);
}

void engine_stats(struct engine *e, struct tsf_stats *out)
{
	*out = e->st;
	for (int i = 0; i < e->nworkers; i++)
		stats_add(out, &e->w[i].st);
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	engine_finish(e);
	for (int i = 0; i < e->nworkers; i++) {
		struct worker *w = &e->w[i];
		insp_worker_free(&w->insp);
		free(w->buckets);
		free(w->fill);
		while (w->spare) {
			struct batch *b = w->spare;
			w->spare = b->next;
			free(b);
		}
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv_nonempty);
		pthread_cond_destroy(&w->cv_nonfull);
	}
	defrag_free(e->df);
	for (size_t i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	free(e->w);
	free(e);
}
