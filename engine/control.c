/* control.c - control socket, directory watch, pending-swap slot (control.h). */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"

#define TOPIC_BUNDLE "v1.bundle"
#define TOPIC_STATUS "v1.status"
#define TOPIC_BEGIN "v1.bundle.begin"
#define TOPIC_PART "v1.bundle.part"
#define TOPIC_END "v1.bundle.end"
#define MAX_FRAMES 8

/* Serializes "check the live version again, hand over, update it" across
 * every control server and watcher of the process: two sources loading in
 * parallel must not both pass the version check against the same old set. */
static pthread_mutex_t handover_mu = PTHREAD_MUTEX_INITIALIZER;

static void default_log(void *ud, const char *line)
{
	fprintf(stderr, "tapsift: %s: %s\n", (const char *)ud, line);
}

static void logf_(control_log_fn fn, void *ud, const char *fmt, ...)
{
	char line[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fn(ud, line);
}

/* Loads buf and hands it over.  Returns 0 (accepted), 1 (already live),
 * -1 (rejected); the answer line in reply. */
/* buf/len, or fd >= 0: an open file (read, not mapped: bundle_load_fd). */
static int load_and_hand_over(const void *buf, size_t len, int fd, const char *name,
                              const struct bundle_trust *trust, int allow_rollback,
                              int allow_recompile, struct control_live *live, control_matcher_fn fn,
                              void *ud, char *reply, size_t replylen)
{
	struct bundle_load_opts o = {.trust = trust,
	                             .min_version =
	                                 __atomic_load_n(&live->version, __ATOMIC_ACQUIRE),
	                             .allow_rollback = allow_rollback,
	                             .allow_recompile = allow_recompile};
	struct bundle_info info;
	char err[1024];
	/* the upload's parts are freed by now; give their memory back before
	 * the new set is built next to the live one */
	malloc_trim(0);
	struct matcher *m = fd >= 0 ? bundle_load_fd(fd, name, &o, &info, err, sizeof(err))
	                            : bundle_load(buf, len, &o, &info, err, sizeof(err));
	if (!m) {
		if (info.status == BUNDLE_E_SAME) {
			snprintf(reply, replylen, "ok %llu %s already live",
			         (unsigned long long)info.version, info.hash);
			return 1;
		}
		snprintf(reply, replylen, "error %s: %s", bundle_status_name(info.status), err);
		return -1;
	}
	pthread_mutex_lock(&handover_mu);
	uint64_t cur = __atomic_load_n(&live->version, __ATOMIC_ACQUIRE);
	int rc = 0;
	if (!allow_rollback && cur && m->version <= cur) {
		/* Another source got a newer (or this very) set live meanwhile. */
		if (m->version == cur) {
			snprintf(reply, replylen, "ok %llu %s already live",
			         (unsigned long long)m->version, info.hash);
			rc = 1;
		} else {
			snprintf(reply, replylen,
			         "error rollback: version %llu is older than the live version %llu",
			         (unsigned long long)m->version, (unsigned long long)cur);
			rc = -1;
		}
		matcher_unref(m);
	} else {
		__atomic_store_n(&live->version, m->version, __ATOMIC_RELEASE);
		memcpy(live->hash, info.hash, sizeof(live->hash));
		snprintf(reply, replylen, "ok %llu %s", (unsigned long long)m->version, info.hash);
		fn(ud, m);
	}
	pthread_mutex_unlock(&handover_mu);
	return rc;
}

/* ------------------------------------------------------------------------
 * Control server
 * ---------------------------------------------------------------------- */

struct control {
	struct control_config cfg;
	control_matcher_fn fn;
	void *ud;
	struct control_live own_live;
	struct control_live *live;
	void *ctx, *sock;
	struct bus_zap *zap;
	pthread_t th;
	int running;
	volatile int stop;
	char endpoint[256];
	struct control_counts n;
	/* one chunked upload at a time (v1.bundle.begin/part/end), spooled to
	 * an unlinked file so a large bundle never sits in memory next to the
	 * set it becomes */
	int up_fd;
	uint64_t up_total, up_got;
	uint8_t up_owner[256];
	size_t up_owner_len;
	double up_last;
};

static double mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void upload_reset(struct control *c)
{
	if (c->up_fd >= 0)
		close(c->up_fd);
	c->up_fd = -1;
	c->up_total = c->up_got = 0;
	c->up_owner_len = 0;
}

static int spool_open(const char *dir)
{
	const char *d = dir ? dir : getenv("TMPDIR");
	if (!d || !*d)
		d = "/tmp";
	int fd = open(d, O_TMPFILE | O_RDWR | O_EXCL, 0600);
	if (fd >= 0)
		return fd;
	/* file systems without O_TMPFILE */
	char path[4200];
	snprintf(path, sizeof(path), "%s/tapsift-upload.XXXXXX", d);
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static uint64_t ld64le(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static int is_topic(const uint8_t *f, size_t fl, const char *t)
{
	return fl == strlen(t) && !memcmp(f, t, fl);
}

static void count_result(struct control *c, int r)
{
	if (r == 0)
		__atomic_add_fetch(&c->n.accepted, 1, __ATOMIC_RELAXED);
	else if (r == 1)
		__atomic_add_fetch(&c->n.already_live, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&c->n.rejected, 1, __ATOMIC_RELAXED);
}

/* begin / part / end of a chunked upload.  Returns 0, or -1 with the
 * answer in reply (the upload is abandoned). */
static int handle_upload(struct control *c, const uint8_t *id, size_t idlen, int nframes,
                         const uint8_t *const *f, const size_t *fl, char *reply, size_t replylen)
{
	double now = mono_s();
	uint64_t max = c->cfg.max_bundle ? c->cfg.max_bundle : (uint64_t)4 << 30;
	int mine = c->up_fd >= 0 && c->up_owner_len == idlen && !memcmp(c->up_owner, id, idlen);
	if (is_topic(f[0], fl[0], TOPIC_BEGIN)) {
		/* another client's upload blocks us until it has been idle 60 s */
		if (c->up_fd >= 0 && !mine && now - c->up_last < 60) {
			snprintf(reply, replylen, "error busy: another upload is in progress");
			return -1;
		}
		upload_reset(c);
		if (nframes != 2 || fl[1] != 8 || idlen > sizeof(c->up_owner)) {
			snprintf(reply, replylen,
			         "error request: begin needs the total size (u64)");
			return -1;
		}
		uint64_t total = ld64le(f[1]);
		if (total == 0 || total > max) {
			snprintf(reply, replylen, "error request: size %llu out of range (1..%llu)",
			         (unsigned long long)total, (unsigned long long)max);
			return -1;
		}
		if ((c->up_fd = spool_open(c->cfg.spool_dir)) < 0) {
			snprintf(reply, replylen, "error io: cannot create a spool file: %s",
			         strerror(errno));
			return -1;
		}
		c->up_total = total;
		memcpy(c->up_owner, id, idlen);
		c->up_owner_len = idlen;
		c->up_last = now;
		snprintf(reply, replylen, "more 0");
		return 0;
	}
	if (!mine) {
		snprintf(reply, replylen, "error request: no upload in progress for this client");
		return -1;
	}
	if (is_topic(f[0], fl[0], TOPIC_PART)) {
		if (nframes != 3 || fl[1] != 8 || ld64le(f[1]) != c->up_got ||
		    fl[2] > c->up_total - c->up_got) {
			snprintf(reply, replylen,
			         "error request: part out of sequence or too long");
			upload_reset(c);
			return -1;
		}
		for (size_t o = 0; o < fl[2];) {
			ssize_t w = pwrite(c->up_fd, f[2] + o, fl[2] - o, (off_t)(c->up_got + o));
			if (w <= 0 && errno != EINTR) {
				snprintf(reply, replylen, "error io: spool file: %s",
				         strerror(errno));
				upload_reset(c);
				return -1;
			}
			if (w > 0)
				o += (size_t)w;
		}
		c->up_got += fl[2];
		c->up_last = now;
		snprintf(reply, replylen, "more %llu", (unsigned long long)c->up_got);
		return 0;
	}
	/* end */
	if (nframes != 1 || c->up_got != c->up_total) {
		snprintf(reply, replylen, "error request: end after %llu of %llu bytes",
		         (unsigned long long)c->up_got, (unsigned long long)c->up_total);
		upload_reset(c);
		return -1;
	}
	int r = load_and_hand_over(NULL, 0, c->up_fd, "upload", c->cfg.trust, c->cfg.allow_rollback,
	                           c->cfg.allow_recompile, c->live, c->fn, c->ud, reply, replylen);
	upload_reset(c);
	count_result(c, r);
	logf_(c->cfg.log, c->cfg.log_ud, "%s", reply);
	return r >= 0 ? 0 : -1;
}

static int handle_id(struct control *c, const uint8_t *id, size_t idlen, int nframes,
                     const uint8_t *const *f, const size_t *fl, char *reply, size_t replylen)
{
	__atomic_add_fetch(&c->n.requests, 1, __ATOMIC_RELAXED);
	if (nframes >= 1 && is_topic(f[0], fl[0], TOPIC_STATUS)) {
		pthread_mutex_lock(&handover_mu);
		snprintf(reply, replylen, "ok %llu %s",
		         (unsigned long long)__atomic_load_n(&c->live->version, __ATOMIC_ACQUIRE),
		         c->live->hash[0] ? c->live->hash : "-");
		pthread_mutex_unlock(&handover_mu);
		return 0;
	}
	if (nframes >= 1 &&
	    (is_topic(f[0], fl[0], TOPIC_BEGIN) || is_topic(f[0], fl[0], TOPIC_PART) ||
	     is_topic(f[0], fl[0], TOPIC_END))) {
		int r = handle_upload(c, id, idlen, nframes, f, fl, reply, replylen);
		if (r && strncmp(reply, "error", 5) == 0 && !strstr(reply, "error busy"))
			__atomic_add_fetch(&c->n.rejected, 1, __ATOMIC_RELAXED);
		return r;
	}
	if (nframes != 2 || !is_topic(f[0], fl[0], TOPIC_BUNDLE)) {
		snprintf(reply, replylen,
		         "error request: expected two frames \"" TOPIC_BUNDLE "\" + bundle");
		__atomic_add_fetch(&c->n.rejected, 1, __ATOMIC_RELAXED);
		return -1;
	}
	int r = load_and_hand_over(f[1], fl[1], -1, NULL, c->cfg.trust, c->cfg.allow_rollback,
	                           c->cfg.allow_recompile, c->live, c->fn, c->ud, reply, replylen);
	count_result(c, r);
	logf_(c->cfg.log, c->cfg.log_ud, "%s", reply);
	return r >= 0 ? 0 : -1;
}

int control_handle(struct control *c, int nframes, const uint8_t *const *f, const size_t *fl,
                   char *reply, size_t replylen)
{
	return handle_id(c, (const uint8_t *)"", 0, nframes, f, fl, reply, replylen);
}

/* One ROUTER message: [identity] [empty delimiter, from REQ] frames... */
static void serve_one(struct control *c)
{
	zmq_msg_t m[MAX_FRAMES + 2];
	int n = 0, more = 1, overflow = 0;
	while (more) {
		zmq_msg_t tmp;
		zmq_msg_init(&tmp);
		if (zmq_msg_recv(&tmp, c->sock, 0) < 0) {
			zmq_msg_close(&tmp);
			break;
		}
		more = zmq_msg_more(&tmp);
		if (n < MAX_FRAMES + 2) {
			m[n++] = tmp;
		} else {
			overflow = 1;
			zmq_msg_close(&tmp);
		}
	}
	if (n < 1)
		goto out;
	int delim = n >= 2 && zmq_msg_size(&m[1]) == 0;
	int first = delim ? 2 : 1;
	const uint8_t *fr[MAX_FRAMES];
	size_t fl[MAX_FRAMES];
	int nf = 0;
	for (int i = first; i < n && nf < MAX_FRAMES; i++) {
		fr[nf] = zmq_msg_data(&m[i]);
		fl[nf++] = zmq_msg_size(&m[i]);
	}
	char reply[1400];
	if (overflow)
		snprintf(reply, sizeof(reply), "error request: too many frames");
	else
		handle_id(c, zmq_msg_data(&m[0]), zmq_msg_size(&m[0]), nf, fr, fl, reply,
		          sizeof(reply));
	/* Answer along the same envelope; a client that went away is not an
	 * error (ROUTER drops the reply). */
	zmq_send(c->sock, zmq_msg_data(&m[0]), zmq_msg_size(&m[0]), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (delim)
		zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(c->sock, reply, strlen(reply), ZMQ_DONTWAIT);
out:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&m[i]);
}

static void *control_thread(void *arg)
{
	struct control *c = arg;
	while (!c->stop) {
		zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
		int r = zmq_poll(&it, 1, 100);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			logf_(c->cfg.log, c->cfg.log_ud, "poll: %s", zmq_strerror(errno));
			break;
		}
		if (r > 0 && (it.revents & ZMQ_POLLIN))
			serve_one(c);
	}
	return NULL;
}

struct control *control_start(const struct control_config *cfg, control_matcher_fn on_matcher,
                              void *ud, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->up_fd = -1;
	c->fn = on_matcher;
	c->ud = ud;
	c->live = cfg->live ? cfg->live : &c->own_live;
	if (!c->cfg.log) {
		c->cfg.log = default_log;
		c->cfg.log_ud = (void *)"control";
	}
	if (!cfg->endpoint)
		return c;
	int64_t max = cfg->max_bundle ? (int64_t)cfg->max_bundle : (int64_t)4 << 30;
	int zero = 0;
	c->ctx = zmq_ctx_new();
	if (!c->ctx) {
		snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
		goto bad;
	}
	char z85[41];
	if (cfg->curve_secret_file) {
		if (bus_key_load(cfg->curve_secret_file, z85, err, errlen))
			goto bad;
		/* ZAP before bind: a handshake racing the handler would pass. */
		if (!(c->zap = bus_zap_start(c->ctx, cfg->curve_allow_file, err, errlen)))
			goto bad;
	}
	c->sock = zmq_socket(c->ctx, ZMQ_ROUTER);
	if (!c->sock || zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) ||
	    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero))) {
		snprintf(err, errlen, "control socket: %s", zmq_strerror(errno));
		goto bad;
	}
	if (cfg->curve_secret_file && bus_curve_server(c->sock, z85)) {
		snprintf(err, errlen, "control CURVE key: %s", zmq_strerror(errno));
		goto bad;
	}
	if (zmq_bind(c->sock, cfg->endpoint)) {
		snprintf(err, errlen, "%s: %s", cfg->endpoint, zmq_strerror(errno));
		goto bad;
	}
	size_t el = sizeof(c->endpoint);
	if (zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, c->endpoint, &el))
		snprintf(c->endpoint, sizeof(c->endpoint), "%s", cfg->endpoint);
	if (pthread_create(&c->th, NULL, control_thread, c)) {
		snprintf(err, errlen, "cannot start the control thread");
		goto bad;
	}
	c->running = 1;
	return c;
bad:
	control_stop(c);
	return NULL;
}

const char *control_endpoint(const struct control *c)
{
	return c->endpoint;
}

void control_counts(const struct control *c, struct control_counts *out)
{
	out->requests = __atomic_load_n(&c->n.requests, __ATOMIC_RELAXED);
	out->accepted = __atomic_load_n(&c->n.accepted, __ATOMIC_RELAXED);
	out->rejected = __atomic_load_n(&c->n.rejected, __ATOMIC_RELAXED);
	out->already_live = __atomic_load_n(&c->n.already_live, __ATOMIC_RELAXED);
}

void control_stop(struct control *c)
{
	if (!c)
		return;
	c->stop = 1;
	if (c->running)
		pthread_join(c->th, NULL);
	if (c->sock)
		zmq_close(c->sock);
	if (c->zap)
		bus_zap_stop(c->zap);
	if (c->ctx)
		zmq_ctx_term(c->ctx);
	upload_reset(c);
	free(c);
}

/* ------------------------------------------------------------------------
 * Client
 * ---------------------------------------------------------------------- */

struct client {
	void *ctx, *s;
	int timeout;
};

static void client_close(struct client *cl)
{
	if (cl->s)
		zmq_close(cl->s);
	/* waits until the I/O thread has let go of every zero-copy frame */
	if (cl->ctx)
		zmq_ctx_term(cl->ctx);
	memset(cl, 0, sizeof(*cl));
}

static int client_open(struct client *cl, const char *ep, const struct control_push_opts *o,
                       char *reply, size_t replylen)
{
	int zero = 0;
	char z85[41], sec[41], err[512];
	memset(cl, 0, sizeof(*cl));
	cl->timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 30000;
	if (!(cl->ctx = zmq_ctx_new())) {
		snprintf(reply, replylen, "error %s", zmq_strerror(errno));
		return -1;
	}
	cl->s = zmq_socket(cl->ctx, ZMQ_REQ);
	if (!cl->s || zmq_setsockopt(cl->s, ZMQ_LINGER, &zero, sizeof(zero)) ||
	    zmq_setsockopt(cl->s, ZMQ_RCVTIMEO, &cl->timeout, sizeof(cl->timeout)) ||
	    zmq_setsockopt(cl->s, ZMQ_SNDTIMEO, &cl->timeout, sizeof(cl->timeout))) {
		snprintf(reply, replylen, "error socket: %s", zmq_strerror(errno));
		goto bad;
	}
	if (o && o->server_key_file) {
		if (bus_key_load(o->server_key_file, z85, err, sizeof(err)) ||
		    (o->client_key_file &&
		     bus_key_load(o->client_key_file, sec, err, sizeof(err)))) {
			snprintf(reply, replylen, "error CURVE key: %s", err);
			goto bad;
		}
		if (bus_curve_client(cl->s, z85, o->client_key_file ? sec : NULL)) {
			snprintf(reply, replylen, "error CURVE: %s", zmq_strerror(errno));
			goto bad;
		}
	}
	if (zmq_connect(cl->s, ep)) {
		snprintf(reply, replylen, "error %s: %s", ep, zmq_strerror(errno));
		goto bad;
	}
	return 0;
bad:
	client_close(cl);
	return -1;
}

/* One request: topic + up to two frames (b zero-copy), one answer.
 * Returns 0 when answered (reply holds it), -1 on a send error or timeout. */
static int client_call(struct client *cl, const char *topic, const void *a, size_t al,
                       const void *b, size_t bl, char *reply, size_t replylen)
{
	int more_a = a ? ZMQ_SNDMORE : 0;
	if (zmq_send(cl->s, topic, strlen(topic), (a || b) ? ZMQ_SNDMORE : 0) < 0 ||
	    (a && zmq_send(cl->s, a, al, b ? more_a : 0) < 0)) {
		snprintf(reply, replylen, "error send: %s", zmq_strerror(errno));
		return -1;
	}
	if (b) {
		zmq_msg_t body;
		zmq_msg_init_data(&body, (void *)b, bl, NULL, NULL);
		if (zmq_msg_send(&body, cl->s, 0) < 0) {
			zmq_msg_close(&body);
			snprintf(reply, replylen, "error send: %s", zmq_strerror(errno));
			return -1;
		}
	}
	char ans[1400];
	int n = zmq_recv(cl->s, ans, sizeof(ans) - 1, 0);
	if (n < 0) {
		snprintf(reply, replylen, "error timeout: no answer within %.1f s",
		         cl->timeout / 1000.0);
		return -1;
	}
	if ((size_t)n > sizeof(ans) - 1)
		n = sizeof(ans) - 1;
	ans[n] = 0;
	snprintf(reply, replylen, "%s", ans);
	return 0;
}

int control_push(const char *ep, const struct control_push_opts *o, const void *buf, size_t len,
                 char *reply, size_t replylen)
{
	struct client cl;
	/* small parts: the gateway holds one at a time, and its allocator may
	 * keep that much after the upload */
	size_t chunk = o && o->chunk_bytes ? o->chunk_bytes : (size_t)4 << 20;
	if (client_open(&cl, ep, o, reply, replylen))
		return -1;
	int rc = -1;
	if (len <= chunk) {
		if (client_call(&cl, TOPIC_BUNDLE, NULL, 0, buf ? buf : "", len, reply, replylen))
			goto out;
	} else {
		/* chunked: the gateway spools to a file and loads from there */
		uint8_t w[8];
		uint64_t total = len;
		memcpy(w, &total, 8);
		if (client_call(&cl, TOPIC_BEGIN, w, 8, NULL, 0, reply, replylen) ||
		    strncmp(reply, "more", 4))
			goto out;
		for (size_t off = 0; off < len; off += chunk) {
			uint64_t o64 = off;
			memcpy(w, &o64, 8);
			size_t n = len - off < chunk ? len - off : chunk;
			if (client_call(&cl, TOPIC_PART, w, 8, (const uint8_t *)buf + off, n, reply,
			                replylen) ||
			    strncmp(reply, "more", 4))
				goto out;
		}
		if (client_call(&cl, TOPIC_END, NULL, 0, NULL, 0, reply, replylen))
			goto out;
	}
	rc = strncmp(reply, "ok", 2) ? -1 : 0;
out:
	client_close(&cl);
	return rc;
}

int control_status(const char *ep, const struct control_push_opts *o, char *reply, size_t replylen)
{
	struct client cl;
	if (client_open(&cl, ep, o, reply, replylen))
		return -1;
	int rc = client_call(&cl, TOPIC_STATUS, NULL, 0, NULL, 0, reply, replylen) ? -1
	         : strncmp(reply, "ok", 2)                                         ? -1
	                                                                           : 0;
	client_close(&cl);
	return rc;
}

/* ------------------------------------------------------------------------
 * Directory watch: a periodic stat scan.  inotify would react faster but
 * misses nothing a 1 s scan catches, and a scan also works on NFS and
 * after the directory is replaced.
 * ---------------------------------------------------------------------- */

struct seen {
	char name[256];
	uint64_t ino, size;
	int64_t mtime_ns;
	int state; /* 0 first sighting (wait one interval), 1 handled */
	int present;
};

struct rules_watch {
	struct rules_watch_config cfg;
	char dir[4096];
	control_matcher_fn fn;
	void *ud;
	struct control_live own_live, *live;
	struct seen *s;
	size_t n, cap;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	uint64_t loaded, rejected;
};

static struct seen *seen_find(struct rules_watch *w, const char *name)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->s[i].name, name))
			return &w->s[i];
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct seen *ns = realloc(w->s, nc * sizeof(*ns));
		if (!ns)
			return NULL;
		w->s = ns;
		w->cap = nc;
	}
	struct seen *e = &w->s[w->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->state = -1;
	return e;
}

static void watch_file(struct rules_watch *w, const char *path)
{
	char reply[1400];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		logf_(w->cfg.log, w->cfg.log_ud, "%s: %s", path, strerror(errno));
		return;
	}
	int r =
	    load_and_hand_over(NULL, 0, fd, path, w->cfg.trust, w->cfg.allow_rollback,
	                       w->cfg.allow_recompile, w->live, w->fn, w->ud, reply, sizeof(reply));
	close(fd);
	if (r == 0)
		__atomic_add_fetch(&w->loaded, 1, __ATOMIC_RELAXED);
	else if (r < 0)
		__atomic_add_fetch(&w->rejected, 1, __ATOMIC_RELAXED);
	logf_(w->cfg.log, w->cfg.log_ud, "%s: %s", path, reply);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void watch_scan(struct rules_watch *w)
{
	DIR *d = opendir(w->dir);
	if (!d)
		return; /* may appear later */
	char *names[1024];
	int nn = 0;
	struct dirent *de;
	while ((de = readdir(d)) && nn < 1024) {
		size_t l = strlen(de->d_name);
		if (l < 5 || l >= 256 || strcmp(de->d_name + l - 4, ".tsb") || de->d_name[0] == '.')
			continue;
		names[nn] = strdup(de->d_name);
		if (names[nn])
			nn++;
	}
	closedir(d);
	/* Name order, so "set-0001.tsb, set-0002.tsb" dropped together load in
	 * order; versions decide anyway. */
	qsort(names, (size_t)nn, sizeof(*names), name_cmp);
	for (size_t i = 0; i < w->n; i++)
		w->s[i].present = 0;
	for (int i = 0; i < nn; i++) {
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", w->dir, names[i]);
		struct stat st;
		struct seen *e = seen_find(w, names[i]);
		if (!e || stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		e->present = 1;
		int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		int changed = e->ino != (uint64_t)st.st_ino || e->size != (uint64_t)st.st_size ||
		              e->mtime_ns != mt;
		if (changed) {
			e->ino = (uint64_t)st.st_ino;
			e->size = (uint64_t)st.st_size;
			e->mtime_ns = mt;
			e->state = 0; /* read once it has been stable for an interval */
			continue;
		}
		if (e->state == 0) {
			e->state = 1;
			watch_file(w, path);
		}
	}
	/* forget files that went away, so one put back is loaded again */
	size_t k = 0;
	for (size_t i = 0; i < w->n; i++)
		if (w->s[i].present)
			w->s[k++] = w->s[i];
	w->n = k;
	for (int i = 0; i < nn; i++)
		free(names[i]);
}

static void *watch_thread(void *arg)
{
	struct rules_watch *w = arg;
	unsigned iv = w->cfg.interval_ms ? w->cfg.interval_ms : 1000;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		pthread_mutex_unlock(&w->mu);
		watch_scan(w);
		pthread_mutex_lock(&w->mu);
		if (w->stop)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += iv / 1000;
		ts.tv_nsec += (long)(iv % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct rules_watch *rules_watch_start(const struct rules_watch_config *c,
                                      control_matcher_fn on_matcher, void *ud, char *err,
                                      size_t errlen)
{
	struct stat st;
	if (!c->dir || stat(c->dir, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", c->dir ? c->dir : "(null)",
		         c->dir && errno ? strerror(errno) : "not a directory");
		return NULL;
	}
	struct rules_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = *c;
	snprintf(w->dir, sizeof(w->dir), "%s", c->dir);
	w->fn = on_matcher;
	w->ud = ud;
	w->live = c->live ? c->live : &w->own_live;
	if (!w->cfg.log) {
		w->cfg.log = default_log;
		w->cfg.log_ud = (void *)"rules-dir";
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, watch_thread, w)) {
		snprintf(err, errlen, "cannot start the rules-dir thread");
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

uint64_t rules_watch_loaded(const struct rules_watch *w)
{
	return __atomic_load_n(&w->loaded, __ATOMIC_RELAXED);
}

uint64_t rules_watch_rejected(const struct rules_watch *w)
{
	return __atomic_load_n(&w->rejected, __ATOMIC_RELAXED);
}

void rules_watch_stop(struct rules_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->s);
	free(w);
}

/* ------------------------------------------------------------------------
 * Pending-swap slot
 * ---------------------------------------------------------------------- */

void matcher_slot_cb(void *slot, struct matcher *m)
{
	struct matcher_slot *s = slot;
	struct matcher *old = __atomic_exchange_n(&s->pending, m, __ATOMIC_ACQ_REL);
	if (old)
		matcher_unref(old);
}

struct matcher *matcher_slot_take(struct matcher_slot *s)
{
	if (!__atomic_load_n(&s->pending, __ATOMIC_RELAXED))
		return NULL; /* the common case: one relaxed load per poll */
	return __atomic_exchange_n(&s->pending, NULL, __ATOMIC_ACQ_REL);
}

/* ------------------------------------------------------------------------
 * Gateway bundle sources in one object
 * ---------------------------------------------------------------------- */

struct gateway_rules {
	struct bundle_trust trust;
	struct control_live live;
	struct matcher_slot slot;
	struct control *ctl;
	struct rules_watch *watch;
	int reaper; /* holds a matcher_reaper_start */
};

/* Large enough for the engine's 256 KiB batches and a flow's buffers to
 * stay in the arenas, small enough for every part of a set and every upload
 * part to be a mapping of its own. */
#define GATEWAY_MMAP_THRESHOLD (1 << 20)

void gateway_malloc_policy(void)
{
	mallopt(M_MMAP_THRESHOLD, GATEWAY_MMAP_THRESHOLD);
}

struct gateway_rules *gateway_rules_start(const struct gateway_rules_opts *o, char *err,
                                          size_t errlen)
{
	gateway_malloc_policy();
	struct gateway_rules *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* old sets are freed off the packet path (without the thread: inline) */
	g->reaper = matcher_reaper_start() == 0;
	trust_init(&g->trust);
	g->live.version = o->live_version;
	char e2[1024];
	for (int i = 0; i < o->ntrust; i++)
		if (trust_add(&g->trust, o->trust[i], e2, sizeof(e2))) {
			snprintf(err, errlen, "--trust: %s", e2);
			goto bad;
		}
	if (o->control_ep) {
		struct control_config cc = {.endpoint = o->control_ep,
		                            .trust = &g->trust,
		                            .allow_rollback = o->allow_rollback,
		                            .allow_recompile = o->allow_recompile,
		                            .curve_secret_file = o->curve_secret_file,
		                            .curve_allow_file = o->curve_allow_file,
		                            .live = &g->live,
		                            .log = o->log,
		                            .log_ud = o->log_ud};
		if (!(g->ctl = control_start(&cc, matcher_slot_cb, &g->slot, e2, sizeof(e2)))) {
			snprintf(err, errlen, "--control: %s", e2);
			goto bad;
		}
	}
	if (o->rules_dir) {
		struct rules_watch_config wc = {.dir = o->rules_dir,
		                                .trust = &g->trust,
		                                .allow_rollback = o->allow_rollback,
		                                .allow_recompile = o->allow_recompile,
		                                .interval_ms = o->dir_interval_ms,
		                                .live = &g->live,
		                                .log = o->log,
		                                .log_ud = o->log_ud};
		if (!(g->watch =
		          rules_watch_start(&wc, matcher_slot_cb, &g->slot, e2, sizeof(e2)))) {
			snprintf(err, errlen, "--rules-dir: %s", e2);
			goto bad;
		}
	}
	return g;
bad:
	gateway_rules_stop(g);
	return NULL;
}

struct matcher *gateway_rules_take(struct gateway_rules *g)
{
	return matcher_slot_take(&g->slot);
}

void gateway_rules_swap_failed(struct gateway_rules *g, uint64_t live_version)
{
	pthread_mutex_lock(&handover_mu);
	__atomic_store_n(&g->live.version, live_version, __ATOMIC_RELEASE);
	g->live.hash[0] = 0;
	pthread_mutex_unlock(&handover_mu);
}

const char *gateway_rules_endpoint(const struct gateway_rules *g)
{
	return g->ctl ? control_endpoint(g->ctl) : "";
}

void gateway_rules_stop(struct gateway_rules *g)
{
	if (!g)
		return;
	control_stop(g->ctl);
	rules_watch_stop(g->watch);
	matcher_unref(matcher_slot_take(&g->slot));
	trust_free(&g->trust);
	if (g->reaper)
		matcher_reaper_stop();
	free(g);
}
