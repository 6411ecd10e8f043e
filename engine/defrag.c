/* defrag.c - IPv4 and IPv6 fragment reassembly (see defrag.h).
 *
 * A datagram in reassembly is a buffer that grows to the highest fragment
 * end seen (at most 65535 bytes) and a bitmap of the 8-byte blocks filled.
 * Fragment offsets count in 8-byte units and every fragment but the last
 * has a length that is a multiple of 8, so blocks describe holes and
 * overlaps exactly: a fragment copies only the blocks not filled yet (first
 * copy wins), and the datagram is complete when the last fragment has been
 * seen and every block up to it is filled.  Work per fragment is linear in
 * its length whatever the arrival order, so tiny or shuffled fragments cost
 * no more than large ordered ones.
 *
 * Datagrams live in a hash table and on an age list (oldest first, by
 * first fragment) that serves both the timeout and eviction when the table
 * is full.  Memory held (buffers plus bookkeeping) is capped: a fragment
 * that would pass the cap is dropped with its datagram, which could not
 * complete any more.
 */
#include "defrag.h"

#include <sys/random.h>

#include <stdlib.h>
#include <string.h>

#define DF_MAX 65535u                /* IP's 16-bit length field */
#define DF_BLOCKS ((DF_MAX + 8) / 8) /* 8-byte blocks of the largest payload */
#define DF_WORDS ((DF_BLOCKS + 63) / 64)

struct dgram {
	struct dgram *hnext;
	struct dgram *older, *newer; /* age list */
	uint64_t hash;
	uint64_t first_ns;
	uint32_t id;
	uint8_t ipver, proto, have_last;
	uint8_t src[16], dst[16];
	uint32_t total;   /* payload length, once the last fragment was seen */
	uint32_t max_end; /* highest fragment end held */
	uint32_t nblocks; /* blocks filled */
	uint32_t cap;     /* bytes allocated in buf */
	uint8_t *buf;
	uint64_t map[DF_WORDS]; /* filled blocks */
};

struct defrag {
	struct defrag_config cfg;
	struct tsf_stats *st;
	struct dgram **buckets;
	size_t nbuckets, count, used;
	struct dgram *oldest, *newest;
	struct dgram *done; /* handed out by the last defrag_add, freed on the next call */
	uint64_t now_ns;
	uint64_t seed; /* random per instance: ids and addresses are the
	                  sender's choice, chains must not be */
};

void defrag_config_default(struct defrag_config *c)
{
	c->timeout_s = 30;
	c->memcap = 32u << 20;
	c->max_datagrams = 65536;
}

struct defrag *defrag_new(const struct defrag_config *c, struct tsf_stats *st)
{
	struct defrag *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->cfg = *c;
	if (!d->cfg.max_datagrams)
		d->cfg.max_datagrams = 1;
	d->st = st;
	d->nbuckets = 16;
	while (d->nbuckets < d->cfg.max_datagrams && d->nbuckets < (1u << 20))
		d->nbuckets <<= 1;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return NULL;
	}
	if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != sizeof(d->seed))
		d->seed = (uint64_t)(uintptr_t)d ^ 0x9E3779B97F4A7C15ull;
	return d;
}

static uint64_t key_hash(const struct defrag *d, const struct tsf_frag *f)
{
	uint8_t k[4 + 4 + 32];
	uint64_t h = 0xcbf29ce484222325ull ^ d->seed;
	k[0] = f->ipver;
	/* IPv6: the Next Header of the Fragment headers may differ between
	 * fragments, only the offset-0 one counts (RFC 8200 4.5; Linux keys
	 * on id and addresses only) */
	k[1] = f->ipver == 6 ? 0 : f->proto;
	k[2] = k[3] = 0;
	memcpy(k + 4, &f->id, 4);
	memcpy(k + 8, f->src, 16);
	memcpy(k + 24, f->dst, 16);
	for (size_t i = 0; i < sizeof(k); i++)
		h = (h ^ k[i]) * 0x100000001b3ull;
	return h ^ h >> 31;
}

static int key_eq(const struct dgram *g, const struct tsf_frag *f)
{
	return g->id == f->id && g->ipver == f->ipver && (f->ipver == 6 || g->proto == f->proto) &&
	       !memcmp(g->src, f->src, 16) && !memcmp(g->dst, f->dst, 16);
}

/* Takes g out of the table and the age list; memory stays counted. */
static void unlink_dgram(struct defrag *d, struct dgram *g)
{
	struct dgram **pp = &d->buckets[g->hash & (d->nbuckets - 1)];
	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	if (g->older)
		g->older->newer = g->newer;
	else
		d->oldest = g->newer;
	if (g->newer)
		g->newer->older = g->older;
	else
		d->newest = g->older;
	d->count--;
}

static void free_dgram(struct defrag *d, struct dgram *g)
{
	d->used -= sizeof(*g) + g->cap;
	free(g->buf);
	free(g);
}

static void drop_dgram(struct defrag *d, struct dgram *g)
{
	unlink_dgram(d, g);
	free_dgram(d, g);
}

static void release_done(struct defrag *d)
{
	if (d->done) {
		free_dgram(d, d->done);
		d->done = NULL;
	}
}

void defrag_expire(struct defrag *d, uint64_t now_ns)
{
	uint64_t tmo = (uint64_t)d->cfg.timeout_s * 1000000000ull;
	release_done(d);
	if (now_ns > d->now_ns)
		d->now_ns = now_ns;
	while (d->oldest && d->oldest->first_ns + tmo < d->now_ns) {
		d->st->frag_timeouts++;
		drop_dgram(d, d->oldest);
	}
}

static struct dgram *find(struct defrag *d, const struct tsf_frag *f, uint64_t h)
{
	for (struct dgram *g = d->buckets[h & (d->nbuckets - 1)]; g; g = g->hnext)
		if (g->hash == h && key_eq(g, f))
			return g;
	return NULL;
}

/* Drops the oldest datagrams but keep until need more bytes fit under the
 * memcap.  Returns 0 if they fit.  Without this, a few hundred tiny
 * fragments at high offsets (each allocating up to its offset) would hold
 * the memcap for a whole timeout and every new datagram, real ones too,
 * would be refused: the oldest go first instead, counted as evicted. */
static int make_room(struct defrag *d, size_t need, const struct dgram *keep)
{
	while (d->used + need > d->cfg.memcap) {
		struct dgram *v = d->oldest;
		if (v && v == keep)
			v = v->newer;
		if (!v)
			return -1;
		d->st->frag_evicted++;
		drop_dgram(d, v);
	}
	return 0;
}

static struct dgram *create(struct defrag *d, const struct tsf_frag *f, uint64_t h, uint64_t ts)
{
	if (make_room(d, sizeof(struct dgram), NULL)) {
		d->st->frag_memcap_drops++;
		return NULL;
	}
	if (d->count >= d->cfg.max_datagrams && d->oldest) {
		d->st->frag_evicted++;
		drop_dgram(d, d->oldest);
	}
	struct dgram *g = calloc(1, sizeof(*g));
	if (!g) {
		d->st->frag_memcap_drops++;
		return NULL;
	}
	g->hash = h;
	g->first_ns = ts;
	g->id = f->id;
	g->ipver = f->ipver;
	g->proto = f->proto;
	memcpy(g->src, f->src, 16);
	memcpy(g->dst, f->dst, 16);
	size_t b = h & (d->nbuckets - 1);
	g->hnext = d->buckets[b];
	d->buckets[b] = g;
	g->older = d->newest;
	if (d->newest)
		d->newest->newer = g;
	else
		d->oldest = g;
	d->newest = g;
	d->count++;
	d->used += sizeof(*g);
	return g;
}

/* Makes room for bytes [0, end) in g's buffer.  -1: over the memcap. */
static int grow(struct defrag *d, struct dgram *g, uint32_t end)
{
	if (end <= g->cap)
		return 0;
	/* Known final size: exactly that; else double (fewer copies for
	 * in-order arrival), never past what IP allows. */
	uint32_t cap = g->have_last ? g->total : g->cap * 2;
	if (cap < end)
		cap = end;
	if (cap > DF_MAX)
		cap = DF_MAX;
	if (d->used + (cap - g->cap) > d->cfg.memcap) {
		if (make_room(d, end - g->cap, g))
			return -1;
		if (d->used + (cap - g->cap) > d->cfg.memcap)
			cap = end; /* no slack, but it fits */
	}
	uint8_t *nb = realloc(g->buf, cap);
	if (!nb)
		return -1;
	d->used += cap - g->cap;
	g->buf = nb;
	g->cap = cap;
	return 0;
}

static int block_set(const struct dgram *g, uint32_t b)
{
	return (int)(g->map[b / 64] >> (b % 64) & 1);
}

/* Copies the blocks of [off, end) not filled yet, run by run (a run of
 * free blocks is one memcpy).  Returns 1 if any block was filled already:
 * an overlap, which keeps the first copy. */
static int fill(struct dgram *g, const uint8_t *data, uint32_t off, uint32_t end)
{
	uint32_t b = off / 8, bend = (end + 7) / 8;
	int overlap = 0;
	while (b < bend) {
		if (block_set(g, b)) {
			overlap = 1;
			b++;
			continue;
		}
		uint32_t r = b;
		while (r < bend && !block_set(g, r)) {
			/* a whole free word at once: in-order bulk */
			if (r % 64 == 0 && r + 64 <= bend && !g->map[r / 64]) {
				g->map[r / 64] = ~0ull;
				r += 64;
				continue;
			}
			g->map[r / 64] |= 1ull << (r % 64);
			r++;
		}
		g->nblocks += r - b;
		/* only the datagram's last block can be partial */
		uint32_t from = b * 8, to = r * 8 < end ? r * 8 : end;
		memcpy(g->buf + from, data + (from - off), to - from);
		b = r;
	}
	return overlap;
}

int defrag_add(struct defrag *d, const struct tsf_frag *f, uint64_t ts_ns, uint8_t dir,
               struct defrag_dgram *out)
{
	defrag_expire(d, ts_ns);
	d->st->frag_packets++;
	uint64_t end = (uint64_t)f->offset + f->len;
	uint64_t h = key_hash(d, f);
	struct dgram *g = find(d, f, h);
	if (f->hdr_len + end > DF_MAX) {
		/* No valid datagram is this long (Linux drops the queue too). */
		d->st->frag_too_big++;
		if (g)
			drop_dgram(d, g);
		return 0;
	}
	if (f->truncated || (f->more && (f->len == 0 || f->len % 8)) || f->offset % 8) {
		/* Cut short by the capture, or a non-last fragment that is
		 * empty or not a multiple of 8 bytes (RFC 791/8200): skipped. */
		d->st->frag_invalid++;
		return 0;
	}
	if (g && ((!f->more && ((g->have_last && g->total != end) || g->max_end > end)) ||
	          (f->more && g->have_last && end > g->total))) {
		/* Two different ends, or data past the end: an inconsistent
		 * datagram, dropped whole as a receiver would. */
		d->st->frag_invalid++;
		drop_dgram(d, g);
		return 0;
	}
	if (!g && !(g = create(d, f, h, ts_ns)))
		return 0;
	if (f->offset == 0)
		g->proto = f->proto;
	if (!f->more) {
		g->have_last = 1;
		g->total = (uint32_t)end;
	}
	if (grow(d, g, (uint32_t)end)) {
		d->st->frag_memcap_drops++;
		drop_dgram(d, g);
		return 0;
	}
	uint32_t e32 = (uint32_t)end;
	int overlap = fill(g, f->data, f->offset, e32);
	if (overlap)
		d->st->frag_overlaps++;
	if (e32 > g->max_end)
		g->max_end = e32;
	if (!g->have_last || g->nblocks != (g->total + 7) / 8)
		return 0;
	d->st->frag_reassembled++;
	unlink_dgram(d, g);
	d->done = g;
	out->ipver = g->ipver;
	out->proto = g->proto;
	out->dir = dir;
	memcpy(out->src, g->src, 16);
	memcpy(out->dst, g->dst, 16);
	out->ts_ns = ts_ns;
	out->data = g->buf;
	out->len = g->total;
	return 1;
}

void defrag_flush(struct defrag *d)
{
	release_done(d);
	while (d->oldest) {
		d->st->frag_timeouts++;
		drop_dgram(d, d->oldest);
	}
}

size_t defrag_used(const struct defrag *d)
{
	return d->used;
}

size_t defrag_count(const struct defrag *d)
{
	return d->count;
}

void defrag_free(struct defrag *d)
{
	if (!d)
		return;
	release_done(d);
	while (d->oldest)
		drop_dgram(d, d->oldest);
	free(d->buckets);
	free(d);
}
