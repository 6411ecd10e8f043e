/* journal.c - append-only segment files of verdict batches, and the replay
 * request handler that serves ranges out of them (see journal.h). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bus.h"

#define REC_MAGIC 0x314a5354u /* "TSJ1" little endian */
#define REC_HDR 24
#define REPLAY_DEFAULT_MAX 1024
#define REPLAY_HARD_MAX 8192
#define REPLAY_SCAN_BUDGET (8u << 20)  /* bytes of journal examined per request */
#define REPLAY_REPLY_BUDGET (1u << 20) /* bytes of batches per reply (one record more at most) */

#define IDX_EVERY 65536 /* bytes between sparse index entries */

/* Sparse index of a segment: where to start reading for a sequence number
 * without walking every record header from the start of the file. */
struct idx {
	uint64_t first, off;
};

struct seg {
	uint64_t first, last; /* last < first: empty */
	uint64_t size;
	struct idx *ix; /* owned; only touched under the journal mutex */
	size_t nix, cix;
	uint64_t start; /* journal_read's snapshot: where to begin */
};

struct journal {
	char dir[PATH_MAX - 32];
	uint64_t segment_bytes, max_bytes, total;
	enum journal_fsync fsync;
	unsigned sync_ms;
	pthread_mutex_t mu; /* segs, nsegs, total, counters: shared with readers */
	struct seg *segs;
	size_t nsegs, cap;
	int fd; /* the newest segment, opened for append; -1 before the first */
	int readonly;
	int dirty;
	uint64_t last_sync_ns;
	struct journal_counters ctr;
};

int journal_fsync_parse(const char *s)
{
	if (!strcmp(s, "none"))
		return JOURNAL_FSYNC_NONE;
	if (!strcmp(s, "batch"))
		return JOURNAL_FSYNC_BATCH;
	if (!strcmp(s, "always"))
		return JOURNAL_FSYNC_ALWAYS;
	return -1;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void seg_path(const struct journal *j, uint64_t first, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%020" PRIu64 ".tsj", j->dir, first);
}

static int mkdirs(const char *dir)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0750) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(tmp, 0750) && errno != EEXIST)
		return -1;
	return 0;
}

static int cmp_seg(const void *a, const void *b)
{
	uint64_t x = ((const struct seg *)a)->first, y = ((const struct seg *)b)->first;
	return x < y ? -1 : x > y;
}

static void idx_add(struct seg *s, uint64_t first, uint64_t off)
{
	if (s->nix && off - s->ix[s->nix - 1].off < IDX_EVERY)
		return;
	if (s->nix == s->cix) {
		size_t nc = s->cix ? s->cix * 2 : 16;
		struct idx *n = realloc(s->ix, nc * sizeof(*n));
		if (!n)
			return; /* the index is an optimisation: reads still work */
		s->ix = n;
		s->cix = nc;
	}
	s->ix[s->nix++] = (struct idx){first, off};
}

/* Offset of the last indexed record starting at or before seq. */
static uint64_t idx_find(const struct seg *s, uint64_t seq)
{
	size_t lo = 0, hi = s->nix;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->ix[mid].first <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? s->ix[lo - 1].off : 0;
}

/* Walks the records of an open segment file, indexing them; stops at the
 * first torn or corrupt one (payload CRCs are checked when crc is set: the
 * newest segment, the one a crash can have torn).  Returns the length of the
 * intact prefix; *last gets the last sequence number seen (unchanged when
 * there is none). */
static uint64_t seg_scan(int fd, struct seg *sg, int crc, uint64_t *last)
{
	uint64_t off = 0, size = sg->size;
	uint8_t h[REC_HDR];
	uint8_t *buf = NULL;
	size_t bcap = 0;
	while (off + REC_HDR <= size) {
		if (pread(fd, h, REC_HDR, (off_t)off) != REC_HDR || get32(h) != REC_MAGIC)
			break;
		uint32_t len = get32(h + 4), count = get32(h + 16);
		if (len > BUS_FRAME_MAX || off + REC_HDR + len > size || count == 0)
			break;
		if (crc) {
			if (len > bcap) {
				uint8_t *nb = realloc(buf, len);
				if (!nb)
					break;
				buf = nb;
				bcap = len;
			}
			if (pread(fd, buf, len, (off_t)(off + REC_HDR)) != (ssize_t)len ||
			    (uint32_t)crc32(0, buf, len) != get32(h + 20))
				break;
		}
		idx_add(sg, get64(h + 8), off);
		*last = get64(h + 8) + count - 1;
		off += REC_HDR + len;
	}
	free(buf);
	return off;
}

static int segs_push(struct journal *j, struct seg s)
{
	if (j->nsegs == j->cap) {
		size_t nc = j->cap ? j->cap * 2 : 16;
		struct seg *n = realloc(j->segs, nc * sizeof(*n));
		if (!n)
			return -1;
		j->segs = n;
		j->cap = nc;
	}
	j->segs[j->nsegs++] = s;
	return 0;
}

struct journal *journal_open(const struct journal_config *c, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof(*j));
	if (!j) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (strlen(c->dir) >= sizeof(j->dir)) {
		snprintf(err, errlen, "journal directory name too long");
		free(j);
		return NULL;
	}
	snprintf(j->dir, sizeof(j->dir), "%s", c->dir);
	j->segment_bytes = c->segment_bytes ? c->segment_bytes : 64u << 20;
	j->max_bytes = c->max_bytes ? c->max_bytes : 1u << 30;
	j->fsync = c->fsync;
	j->sync_ms = c->sync_ms ? c->sync_ms : 200;
	j->fd = -1;
	pthread_mutex_init(&j->mu, NULL);
	j->readonly = c->readonly;
	if (!j->readonly && mkdirs(j->dir)) {
		snprintf(err, errlen, "journal %s: %s", j->dir, strerror(errno));
		goto fail;
	}
	DIR *d = opendir(j->dir);
	if (!d) {
		snprintf(err, errlen, "journal %s: %s", j->dir, strerror(errno));
		goto fail;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (strlen(n) != 24 || strcmp(n + 20, ".tsj") || strspn(n, "0123456789") != 20)
			continue;
		struct seg s = {.first = strtoull(n, NULL, 10)};
		char p[PATH_MAX];
		struct stat st;
		seg_path(j, s.first, p, sizeof(p));
		if (s.first == 0 || stat(p, &st))
			continue;
		s.size = (uint64_t)st.st_size;
		if (segs_push(j, s)) {
			closedir(d);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	closedir(d);
	if (j->nsegs)
		qsort(j->segs, j->nsegs, sizeof(*j->segs), cmp_seg);
	/* Older segments: headers only, for the index (their last number is
	 * implied by the next segment's name). */
	for (size_t i = 0; i + 1 < j->nsegs; i++) {
		struct seg *sg = &j->segs[i];
		char p[PATH_MAX];
		uint64_t last = 0;
		seg_path(j, sg->first, p, sizeof(p));
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			seg_scan(fd, sg, 0, &last);
			close(fd);
		}
		sg->last = j->segs[i + 1].first - 1;
	}
	/* The newest segment decides where numbering resumes; a segment whose
	 * every record is torn is removed and the one before it is rescanned. */
	while (j->nsegs) {
		struct seg *s = &j->segs[j->nsegs - 1];
		char p[PATH_MAX];
		seg_path(j, s->first, p, sizeof(p));
		int fd = open(p, (j->readonly ? O_RDONLY : O_RDWR | O_APPEND) | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			goto fail;
		}
		uint64_t last = s->first - 1;
		s->nix = 0;
		uint64_t good = seg_scan(fd, s, 1, &last);
		if (good < s->size && j->readonly) {
			/* A reader never cuts: the tail may be a record being written. */
			s->size = good;
		} else if (good < s->size) {
			if (ftruncate(fd, (off_t)good)) {
				snprintf(err, errlen, "%s: %s", p, strerror(errno));
				close(fd);
				goto fail;
			}
			j->ctr.tail_repaired++;
			s->size = good;
		}
		s->last = last;
		if (good == 0) {
			close(fd);
			if (!j->readonly)
				unlink(p);
			free(s->ix);
			j->nsegs--;
			continue;
		}
		if (j->readonly)
			close(fd);
		else
			j->fd = fd;
		break;
	}
	for (size_t i = 0; i < j->nsegs; i++)
		j->total += j->segs[i].size;
	return j;
fail:
	pthread_mutex_destroy(&j->mu);
	for (size_t i = 0; i < j->nsegs; i++)
		free(j->segs[i].ix);
	free(j->segs);
	free(j);
	return NULL;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0) {
		if (j->fsync != JOURNAL_FSYNC_NONE && j->dirty)
			fdatasync(j->fd);
		close(j->fd);
	}
	pthread_mutex_destroy(&j->mu);
	for (size_t i = 0; i < j->nsegs; i++)
		free(j->segs[i].ix);
	free(j->segs);
	free(j);
}

void journal_range(struct journal *j, uint64_t *first, uint64_t *last)
{
	pthread_mutex_lock(&j->mu);
	*first = *last = 0;
	if (j->nsegs && j->segs[j->nsegs - 1].last >= j->segs[0].first) {
		*first = j->segs[0].first;
		*last = j->segs[j->nsegs - 1].last;
	}
	pthread_mutex_unlock(&j->mu);
}

void journal_counters(struct journal *j, struct journal_counters *out)
{
	pthread_mutex_lock(&j->mu);
	*out = j->ctr;
	pthread_mutex_unlock(&j->mu);
}

static int rotate(struct journal *j, uint64_t first_seq)
{
	char p[PATH_MAX];
	seg_path(j, first_seq, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (j->fd >= 0) {
		if (j->fsync != JOURNAL_FSYNC_NONE)
			fdatasync(j->fd);
		close(j->fd);
	}
	j->fd = fd;
	pthread_mutex_lock(&j->mu);
	int rc = segs_push(j, (struct seg){.first = first_seq, .last = first_seq - 1});
	pthread_mutex_unlock(&j->mu);
	return rc;
}

static void sync_now(struct journal *j)
{
	if (j->fd >= 0 && fdatasync(j->fd)) {
		pthread_mutex_lock(&j->mu);
		j->ctr.sync_errors++;
		pthread_mutex_unlock(&j->mu);
	}
	j->dirty = 0;
	j->last_sync_ns = bus_mono_ns();
}

void journal_tick(struct journal *j)
{
	if (j->fsync == JOURNAL_FSYNC_BATCH && j->dirty &&
	    bus_mono_ns() - j->last_sync_ns >= (uint64_t)j->sync_ms * 1000000u)
		sync_now(j);
}

int journal_append(struct journal *j, uint64_t first_seq, uint32_t count, const void *batch,
                   size_t len)
{
	if (j->readonly)
		goto err;
	uint64_t rec = REC_HDR + len;
	struct seg *cur = j->nsegs ? &j->segs[j->nsegs - 1] : NULL;
	/* A new segment when the current one is full, and also when numbering
	 * does not follow on (it always should): segment names must stay true. */
	if (j->fd < 0 || !cur || (cur->size > 0 && cur->size + rec > j->segment_bytes) ||
	    (cur->last >= cur->first && cur->last + 1 != first_seq) ||
	    (cur->last < cur->first && cur->first != first_seq)) {
		if (rotate(j, first_seq))
			goto err;
		cur = &j->segs[j->nsegs - 1];
	}
	uint8_t h[REC_HDR];
	put32(h, REC_MAGIC);
	put32(h + 4, (uint32_t)len);
	put64(h + 8, first_seq);
	put32(h + 16, count);
	put32(h + 20, (uint32_t)crc32(0, batch, (uInt)len));
	struct iovec iov[2] = {{h, REC_HDR}, {(void *)batch, len}};
	ssize_t w = writev(j->fd, iov, 2);
	if (w != (ssize_t)rec) {
		/* Cut a partial record off so the segment stays readable. */
		if (w > 0 && ftruncate(j->fd, (off_t)cur->size)) {
			/* nothing more to do: the scan on open repairs it */
		}
		goto err;
	}
	pthread_mutex_lock(&j->mu);
	idx_add(cur, first_seq, cur->size);
	cur->size += rec;
	cur->last = first_seq + count - 1;
	j->total += rec;
	j->ctr.appended += count;
	j->ctr.bytes += rec;
	while (j->total > j->max_bytes && j->nsegs > 1) {
		char p[PATH_MAX];
		seg_path(j, j->segs[0].first, p, sizeof(p));
		unlink(p);
		j->total -= j->segs[0].size;
		free(j->segs[0].ix);
		memmove(j->segs, j->segs + 1, (j->nsegs - 1) * sizeof(*j->segs));
		j->nsegs--;
		j->ctr.segments_deleted++;
	}
	pthread_mutex_unlock(&j->mu);
	if (j->fsync == JOURNAL_FSYNC_ALWAYS) {
		sync_now(j);
	} else if (j->fsync == JOURNAL_FSYNC_BATCH) {
		j->dirty = 1;
		journal_tick(j);
	}
	return 0;
err:
	pthread_mutex_lock(&j->mu);
	j->ctr.write_errors++;
	pthread_mutex_unlock(&j->mu);
	return -1;
}

int journal_read(struct journal *j, uint64_t from, uint64_t to, journal_fn fn, void *ud)
{
	if (!to)
		to = UINT64_MAX;
	/* Snapshot under the lock, read without it: the sizes bound what is
	 * read, so a record being appended right now is never seen half-done. */
	pthread_mutex_lock(&j->mu);
	size_t n = 0;
	struct seg *snap = malloc((j->nsegs ? j->nsegs : 1) * sizeof(*snap));
	if (snap)
		for (size_t i = 0; i < j->nsegs; i++)
			if (j->segs[i].first <= to && j->segs[i].last >= from &&
			    j->segs[i].last >= j->segs[i].first) {
				snap[n] = j->segs[i];
				snap[n].ix = NULL; /* not ours: may move once unlocked */
				snap[n++].start = idx_find(&j->segs[i], from);
			}
	pthread_mutex_unlock(&j->mu);
	if (!snap)
		return -1;
	int rc = 0, stop = 0;
	uint8_t *buf = NULL;
	size_t bcap = 0;
	for (size_t i = 0; i < n && !stop; i++) {
		char p[PATH_MAX];
		seg_path(j, snap[i].first, p, sizeof(p));
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOENT) /* ENOENT: deleted by the size cap meanwhile */
				rc = -1;
			continue;
		}
		uint64_t off = snap[i].start;
		uint8_t h[REC_HDR];
		while (off + REC_HDR <= snap[i].size) {
			if (pread(fd, h, REC_HDR, (off_t)off) != REC_HDR || get32(h) != REC_MAGIC) {
				rc = -1;
				break;
			}
			uint32_t len = get32(h + 4), count = get32(h + 16);
			uint64_t first = get64(h + 8);
			if (len > BUS_FRAME_MAX || off + REC_HDR + len > snap[i].size || !count) {
				rc = -1;
				break;
			}
			off += REC_HDR + len;
			if (first > to) {
				stop = 1;
				break;
			}
			if (first + count - 1 < from)
				continue;
			if (len > bcap) {
				uint8_t *nb = realloc(buf, len);
				if (!nb) {
					rc = -1;
					stop = 1;
					break;
				}
				buf = nb;
				bcap = len;
			}
			if (pread(fd, buf, len, (off_t)(off - len)) != (ssize_t)len ||
			    (uint32_t)crc32(0, buf, len) != get32(h + 20)) {
				rc = -1;
				break;
			}
			if (fn(ud, first, count, buf, len)) {
				stop = 1;
				break;
			}
		}
		close(fd);
	}
	free(buf);
	free(snap);
	return rc;
}

/* --- replay ------------------------------------------------------------ */

struct replay_ctx {
	uint64_t from, to;
	const char *cat;
	size_t max, n, scanned;
	uint64_t next; /* first sequence number not yet covered */
	struct bus_arena arena;
	uint8_t *buf; /* the reply's `batches` fields, already encoded */
	size_t len, cap;
	int oom;
};

/* Appends one `batches` field (4, length-delimited) holding msg. */
static int put_batch(struct replay_ctx *r, const uint8_t *msg, size_t len)
{
	if (r->len + len + 16 > r->cap) {
		size_t nc = (r->cap ? r->cap * 2 : 65536) + len + 16;
		uint8_t *n = realloc(r->buf, nc);
		if (!n)
			return -1;
		r->buf = n;
		r->cap = nc;
	}
	r->buf[r->len++] = (4 << 3) | 2;
	size_t v = len;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		r->buf[r->len++] = c | (v ? 0x80 : 0);
	} while (v);
	memcpy(r->buf + r->len, msg, len);
	r->len += len;
	return 0;
}

static int replay_cb(void *ud, uint64_t first, uint32_t count, const uint8_t *b, size_t len)
{
	struct replay_ctx *r = ud;
	if (r->n >= r->max || r->scanned >= REPLAY_SCAN_BUDGET || r->len >= REPLAY_REPLY_BUDGET)
		return 1;
	r->scanned += len;
	uint64_t last = first + count - 1;
	if (!r->cat[0] && first >= r->from && first == r->next && last <= r->to &&
	    r->n + count <= r->max) {
		/* The whole record is wanted: it already is a packed VerdictBatch,
		 * so it goes out as stored, without decoding and re-encoding. */
		if (put_batch(r, b, len)) {
			r->oom = 1;
			return 1;
		}
		r->n += count;
		r->next = last + 1;
		return 0;
	}
	bus_arena_reset(&r->arena);
	ProtobufCAllocator *a = bus_arena_allocator(&r->arena);
	Tsf__VerdictBatch *vb = bus_batch_unpack(&r->arena, b, len);
	if (!vb) {
		/* CRC-checked but undecodable: skip it rather than wedge replay. */
		r->next = first + count;
		return 0;
	}
	Tsf__Verdict **sel = a->alloc(a, (vb->n_verdicts + 1) * sizeof(*sel));
	size_t k = 0;
	int full = 0;
	if (!sel) {
		r->oom = 1;
		return 1;
	}
	for (size_t i = 0; i < vb->n_verdicts; i++) {
		Tsf__Verdict *v = vb->verdicts[i];
		if (v->seq < r->from || v->seq > r->to || v->seq < r->next)
			continue;
		if (r->n + k >= r->max) {
			full = 1; /* r->next stays at this verdict */
			break;
		}
		r->next = v->seq + 1;
		if (r->cat[0] && strcmp(r->cat, v->category))
			continue;
		sel[k++] = v;
	}
	if (k) {
		Tsf__VerdictBatch out = TSF__VERDICT_BATCH__INIT;
		out.schema = vb->schema;
		out.sensor = vb->sensor;
		out.epoch = vb->epoch;
		out.queue_dropped = vb->queue_dropped;
		out.n_verdicts = k;
		out.verdicts = sel;
		size_t n = tsf__verdict_batch__get_packed_size(&out);
		uint8_t *p = a->alloc(a, n ? n : 1);
		if (!p || (tsf__verdict_batch__pack(&out, p), put_batch(r, p, n))) {
			r->oom = 1;
			return 1;
		}
		r->n += k;
	}
	if (full)
		return 1;
	if (r->next < first + count && last <= r->to)
		r->next = first + count;
	return 0;
}

static size_t reply_pack(Tsf__ReplayReply *rep, uint8_t **out, int *status)
{
	*status = rep->status;
	size_t n = tsf__replay_reply__get_packed_size(rep);
	*out = malloc(n ? n : 1);
	if (!*out)
		return 0;
	tsf__replay_reply__pack(rep, *out);
	return n;
}

static size_t reply_error(Tsf__ReplayReply__Status st, const char *msg, uint8_t **out, int *status)
{
	Tsf__ReplayReply rep = TSF__REPLAY_REPLY__INIT;
	rep.schema = BUS_SCHEMA;
	rep.status = st;
	rep.error = (char *)msg;
	rep.done = 1;
	return reply_pack(&rep, out, status);
}

size_t journal_replay_answer(struct journal *j, const uint8_t *req, size_t len, uint8_t **out,
                             int *status)
{
	*out = NULL;
	Tsf__ReplayRequest *q = len <= 4096 ? tsf__replay_request__unpack(NULL, len, req) : NULL;
	if (!q)
		return reply_error(TSF__REPLAY_REPLY__STATUS__BAD_REQUEST,
		                   "undecodable ReplayRequest", out, status);
	char msg[160];
	size_t n;
	if (q->from_seq == 0) {
		n = reply_error(TSF__REPLAY_REPLY__STATUS__BAD_REQUEST, "from_seq must be >= 1",
		                out, status);
		goto done;
	}
	if (q->to_seq && q->to_seq < q->from_seq) {
		n = reply_error(TSF__REPLAY_REPLY__STATUS__BAD_REQUEST, "to_seq is before from_seq",
		                out, status);
		goto done;
	}
	if (!j) {
		n = reply_error(TSF__REPLAY_REPLY__STATUS__UNAVAILABLE,
		                "this sensor keeps no journal", out, status);
		goto done;
	}
	uint64_t first, last;
	journal_range(j, &first, &last);
	Tsf__ReplayReply rep = TSF__REPLAY_REPLY__INIT;
	rep.schema = BUS_SCHEMA;
	rep.first_seq = first;
	rep.last_seq = last;
	if (first && q->from_seq < first) {
		snprintf(msg, sizeof(msg),
		         "verdicts before %" PRIu64 " are no longer in the journal", first);
		rep.status = TSF__REPLAY_REPLY__STATUS__GONE;
		rep.error = msg;
		rep.next_seq = first;
		n = reply_pack(&rep, out, status);
		goto done;
	}
	struct replay_ctx r = {0};
	r.from = q->from_seq;
	r.to = q->to_seq ? q->to_seq : UINT64_MAX;
	r.cat = q->category;
	r.max = q->max ? q->max : REPLAY_DEFAULT_MAX;
	if (r.max > REPLAY_HARD_MAX)
		r.max = REPLAY_HARD_MAX;
	r.next = r.from;
	bus_arena_init(&r.arena);
	int rc = 0;
	if (r.from <= last)
		rc = journal_read(j, r.from, q->to_seq, replay_cb, &r);
	if (r.oom || (rc && r.n == 0 && r.next == r.from)) {
		n = reply_error(TSF__REPLAY_REPLY__STATUS__UNAVAILABLE,
		                r.oom ? "out of memory" : "journal read error", out, status);
	} else {
		rep.next_seq = r.next;
		rep.done = r.next > r.to || r.next > last;
		/* Fields may come in any order: the header, then the batches
		 * encoded while reading. */
		size_t hl = tsf__replay_reply__get_packed_size(&rep);
		*out = malloc(hl + r.len + 1);
		if (*out) {
			tsf__replay_reply__pack(&rep, *out);
			if (r.len)
				memcpy(*out + hl, r.buf, r.len);
			*status = rep.status;
			n = hl + r.len;
		} else {
			n = 0;
			*status = TSF__REPLAY_REPLY__STATUS__UNAVAILABLE;
		}
	}
	bus_arena_free(&r.arena);
	free(r.buf);
done:
	tsf__replay_request__free_unpacked(q, NULL);
	return n;
}
