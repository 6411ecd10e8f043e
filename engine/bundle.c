/* bundle.c - rule bundles: writing, signing, verifying, loading (bundle.h).
 *
 * Every multi-byte field is little-endian and read with memcpy: a bundle is
 * hostile input until its signature and hash check out, and even then its
 * fields are range-checked before anything indexes with them.  A file is
 * read with pread, window by window or straight into the set's own
 * allocations (struct bsrc says why it is not mapped), so loading a 1 GB
 * bundle costs what stays resident plus one window, and for each Hyperscan
 * database one transient copy of its serialized bytes.
 */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "match_lit.h"
#include "normalize.h"

#define SIG_DOMAIN "tapsift bundle signature v1"
#define SEC_ENTRY_LEN 24
#define MAX_SECTIONS 64
#define RULE_REC_LEN 40
#define META_LEN 56
#define HSTAG_LEN 256
#define HSTAG_VERSION 64 /* hs_version() string, NUL-padded */
#define HSTAG_INFO 128   /* hs_database_info() string, NUL-padded */
#define NO_MSG 0xffffffffu
#define MAX_MSG 256
#define MAX_CAT 32

/* Header offsets. */
#define H_FORMAT 8
#define H_HDRLEN 12
#define H_VERSION 16
#define H_CREATED 24
#define H_CONTENT 32
#define H_NSECT 40
#define H_NORM 44
#define H_HASH 48
#define H_NRULES 80

static const char *layer_name[MATCH_LAYERS] = {"raw", "text", "norm"};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v; /* little-endian hosts only (x86-64, arm64); see docs */
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *bundle_status_name(enum bundle_status s)
{
	static const char *names[] = {"ok",        "io",       "format", "unsigned", "untrusted",
	                              "signature", "rollback", "same",   "hash",     "section",
	                              "platform",  "rule",     "nomem",  "compile"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *bundle_default_cache_dir(char *buf, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME");
	const char *h = getenv("HOME");
	if (x && *x)
		snprintf(buf, len, "%s/tapsift", x);
	else
		snprintf(buf, len, "%s/.cache/tapsift", h && *h ? h : "/tmp");
	return buf;
}

/* ------------------------------------------------------------------------
 * Compiling with a cache
 *
 * match_src_build (match.c) yields exactly what matcher_build hands to
 * Hyperscan and to the literal index; the cache key is computed over that,
 * so a cached build is the same matcher as a fresh one.
 * ---------------------------------------------------------------------- */

/* Which layer a rule belongs to (as in match.c); the norm layer's literals
 * are split between Hyperscan and the literal index. */
static enum match_layer layer_of(const struct rule *r)
{
	if (r->raw)
		return MATCH_RAW;
	return r->kind == RULE_REGEX ? MATCH_TEXT : MATCH_NORM;
}

struct layer_job {
	const struct ruleset *rs;
	const struct match_layer_src *src;
	unsigned norm_flags;
	int layer;
	const char *cache_dir;
	hs_database_t *db;
	int cached, rc;
	char err[1024];
};

static void key_begin(crypto_generichash_state *st, const char *what)
{
	const char *hv = hs_version();
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	crypto_generichash_init(st, NULL, 0, 32);
	crypto_generichash_update(st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(st, (const uint8_t *)hv, strlen(hv) + 1);
	crypto_generichash_update(st, (const uint8_t *)&plat, sizeof(plat));
}

/* Everything that determines the compiled database, and nothing else. */
static void job_key(const struct layer_job *j, char hex[65])
{
	crypto_generichash_state st;
	uint8_t w[16], key[32];
	const struct match_layer_src *b = j->src;
	key_begin(&st, "tapsift hs cache v1");
	st32(w, (uint32_t)j->layer);
	/* only the norm layer depends on the normalization steps (and its
	 * expressions are normalized bytes anyway) */
	st32(w + 4, j->layer == MATCH_NORM ? j->norm_flags : 0);
	st32(w + 8, (uint32_t)b->literal);
	st32(w + 12, (uint32_t)b->n);
	crypto_generichash_update(&st, w, 16);
	for (size_t i = 0; i < b->n; i++) {
		size_t len = b->literal ? b->len[i] : strlen(b->expr[i]);
		st32(w, b->ids[i]);
		st32(w + 4, b->flags[i]);
		st64(w + 8, len);
		crypto_generichash_update(&st, w, 16);
		crypto_generichash_update(&st, (const uint8_t *)b->expr[i], len);
	}
	crypto_generichash_final(&st, key, 32);
	sodium_bin2hex(hex, 65, key, 32);
}

static void lit_key(const struct match_src *src, char hex[65])
{
	crypto_generichash_state st;
	uint8_t w[16], key[32];
	key_begin(&st, "tapsift litidx cache v1");
	st64(w, src->nlit);
	crypto_generichash_update(&st, w, 8);
	for (size_t i = 0; i < src->nlit; i++) {
		st32(w, src->litid[i]);
		st32(w + 4, src->litlen[i]);
		crypto_generichash_update(&st, w, 8);
		crypto_generichash_update(&st, src->lit[i], src->litlen[i]);
	}
	crypto_generichash_final(&st, key, 32);
	sodium_bin2hex(hex, 65, key, 32);
}

static int mkdir_p(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

/* Cache file: BLAKE2b-256 of the payload, then the payload.  A torn or
 * damaged entry is rebuilt, never trusted. */
static uint8_t *cache_read(const char *dir, const char *hex, const char *ext, size_t *len)
{
	char path[4200], err[256];
	snprintf(path, sizeof(path), "%s/%s.%s", dir, hex, ext);
	uint8_t *buf = NULL, h[32];
	if (bundle_read_file(path, &buf, len, err, sizeof(err)))
		return NULL;
	if (*len > 32) {
		crypto_generichash(h, 32, buf + 32, *len - 32, NULL, 0);
		if (!memcmp(h, buf, 32)) {
			*len -= 32;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

static void cache_write(const char *dir, const char *hex, const char *ext, const void *bytes,
                        size_t len)
{
	if (mkdir_p(dir))
		return;
	uint8_t h[32];
	crypto_generichash(h, 32, bytes, len, NULL, 0);
	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/%s.%s", dir, hex, ext);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%lx", path, (int)getpid(),
	         (unsigned long)pthread_self());
	FILE *f = fopen(tmp, "wb");
	if (f) {
		int ok = fwrite(h, 1, 32, f) == 32 && fwrite(bytes, 1, len, f) == len;
		if (fclose(f) || !ok || rename(tmp, path))
			unlink(tmp);
	}
}

static void *job_run(void *arg)
{
	struct layer_job *j = arg;
	char hex[65];
	job_key(j, hex);
	size_t len = 0;
	uint8_t *c = j->cache_dir ? cache_read(j->cache_dir, hex, "hsdb", &len) : NULL;
	if (c) {
		if (hs_deserialize_database((const char *)c + 32, len, &j->db) == HS_SUCCESS)
			j->cached = 1;
		else
			j->db = NULL;
		free(c);
		if (j->cached)
			return NULL;
	}
	if (match_compile_layer(j->rs, j->src, &j->db, j->err, sizeof(j->err))) {
		j->rc = -1;
		j->db = NULL;
		return NULL;
	}
	char *bytes = NULL;
	if (j->cache_dir && hs_serialize_database(j->db, &bytes, &len) == HS_SUCCESS) {
		cache_write(j->cache_dir, hex, "hsdb", bytes, len);
		free(bytes);
	}
	return NULL;
}

static struct litidx *build_lit(const struct match_src *src, const char *cache_dir, int *cached,
                                char *err, size_t errlen)
{
	char hex[65];
	size_t len = 0;
	lit_key(src, hex);
	uint8_t *c = cache_dir ? cache_read(cache_dir, hex, "lit", &len) : NULL;
	if (c) {
		char e2[256];
		struct litidx *x = litidx_deserialize(c + 32, len, e2, sizeof(e2));
		free(c);
		if (x) {
			*cached = 1;
			return x;
		}
	}
	struct litidx *x = litidx_build((const uint8_t *const *)src->lit, src->litlen, src->litid,
	                                src->nlit, err, errlen);
	uint8_t *img = NULL;
	if (x && cache_dir && !litidx_serialize(x, &img, &len)) {
		cache_write(cache_dir, hex, "lit", img, len);
		free(img);
	}
	return x;
}

struct matcher *bundle_build_matcher(const struct ruleset *rs, const struct bundle_compile_opts *o,
                                     struct bundle_compile_stats *st, char *err, size_t errlen)
{
	double t0 = now_s();
	if (!o->cache_dir) {
		struct matcher *m =
		    matcher_build_opts(rs, o->norm_flags, o->match_opts, err, errlen);
		if (m && st) {
			st->compile_s = m->compile_s;
			for (int l = 0; l < MATCH_LAYERS; l++)
				st->layers_compiled += m->db[l] != NULL;
			st->layers_compiled += m->lit != NULL;
		}
		return m;
	}
	struct match_src src;
	if (o->progress)
		fprintf(o->progress, "compile: normalizing and splitting %zu rules\n", rs->n);
	if (match_src_build(rs, o->norm_flags, o->match_opts, &src, err, errlen))
		return NULL;
	struct matcher *m = matcher_new_empty(rs, o->norm_flags);
	if (!m) {
		match_src_free(&src);
		fail(err, errlen, "out of memory");
		return NULL;
	}
	struct layer_job jobs[MATCH_LAYERS];
	pthread_t th[MATCH_LAYERS];
	int started[MATCH_LAYERS] = {0};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int par = o->jobs > 0 ? o->jobs : (int)(ncpu > 0 ? ncpu : 1);
	memset(jobs, 0, sizeof(jobs));
	/* The norm layer (the bulk) first, so the small layers overlap with it;
	 * the calling thread builds the literal index meanwhile. */
	int order[MATCH_LAYERS] = {MATCH_NORM, MATCH_TEXT, MATCH_RAW};
	int running = 0;
	for (int k = 0; k < MATCH_LAYERS; k++) {
		int l = order[k];
		struct layer_job *j = &jobs[l];
		j->rs = rs;
		j->src = &src.layer[l];
		j->norm_flags = o->norm_flags;
		j->layer = l;
		j->cache_dir = o->cache_dir;
		m->nrules[l] = src.layer[l].n;
		if (!src.layer[l].n)
			continue;
		if (o->progress)
			fprintf(o->progress, "compile: Hyperscan layer %s, %zu expressions\n",
			        layer_name[l], src.layer[l].n);
		if (running + 1 < par && !pthread_create(&th[l], NULL, job_run, j)) {
			started[l] = 1;
			running++;
		} else {
			job_run(j);
		}
	}
	int bad = 0, lit_cached = 0;
	if (src.nlit) {
		if (o->progress)
			fprintf(o->progress, "compile: literal index, %zu literals\n", src.nlit);
		m->lit = build_lit(&src, o->cache_dir, &lit_cached, err, errlen);
		if (!m->lit)
			bad = 1;
		else
			m->nlit = src.nlit;
		if (st && m->lit) {
			st->layers_cached += lit_cached;
			st->layers_compiled += !lit_cached;
		}
		if (o->progress && m->lit)
			fprintf(o->progress, "compile: literal index %s\n",
			        lit_cached ? "loaded from cache" : "built");
	}
	for (int l = 0; l < MATCH_LAYERS; l++)
		if (started[l])
			pthread_join(th[l], NULL);
	for (int l = 0; l < MATCH_LAYERS; l++) {
		m->db[l] = jobs[l].db;
		if (jobs[l].rc && !bad) {
			bad = 1;
			snprintf(err, errlen, "%s", jobs[l].err);
		}
		if (st && m->db[l]) {
			st->layers_cached += jobs[l].cached;
			st->layers_compiled += !jobs[l].cached;
		}
		if (o->progress && m->db[l])
			fprintf(o->progress, "compile: Hyperscan layer %s %s\n", layer_name[l],
			        jobs[l].cached ? "loaded from cache" : "compiled");
	}
	match_src_free(&src);
	m->compile_s = now_s() - t0;
	if (st)
		st->compile_s = m->compile_s;
	if (bad) {
		matcher_free(m);
		return NULL;
	}
	return m;
}

/* ------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------- */

struct wr {
	FILE *f;
	crypto_generichash_state h;
	uint64_t off;
	int bad;
};

static void wr_put(struct wr *w, const void *p, size_t n)
{
	if (!n)
		return;
	if (fwrite(p, 1, n, w->f) != n)
		w->bad = 1;
	crypto_generichash_update(&w->h, p, n);
	w->off += n;
}

static void wr_pad(struct wr *w)
{
	static const uint8_t z[8];
	if (w->off & 7)
		wr_put(w, z, 8 - (w->off & 7));
}

struct sec {
	uint32_t type, arg;
	uint64_t off, len;
	uint8_t *data; /* owned; NULL for rules/blob (streamed) */
};

static uint64_t align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

static uint8_t *strings_section(char **v, size_t n, uint64_t *len)
{
	uint64_t l = 4;
	for (size_t i = 0; i < n; i++)
		l += strlen(v[i]) + 1;
	uint8_t *p = malloc(l), *q;
	if (!p)
		return NULL;
	st32(p, (uint32_t)n);
	q = p + 4;
	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(v[i]) + 1;
		memcpy(q, v[i], sl);
		q += sl;
	}
	*len = l;
	return p;
}

static int write_tmp_and_rename(const char *tmp, const char *path, FILE *f, char *err,
                                size_t errlen)
{
	int bad = fflush(f) || fsync(fileno(f));
	if (fclose(f) || bad) {
		unlink(tmp);
		return fail(err, errlen, "%s: %s", tmp, strerror(errno ? errno : EIO));
	}
	if (rename(tmp, path)) {
		int e = errno;
		unlink(tmp);
		return fail(err, errlen, "%s: %s", path, strerror(e));
	}
	return 0;
}

int bundle_write(const struct matcher *m, uint64_t version, const char *path, size_t *bytes,
                 char *err, size_t errlen)
{
	const struct ruleset *rs = m->rs;
	struct sec s[MAX_SECTIONS];
	int ns = 0, rc = -1;
	memset(s, 0, sizeof(s));
	if (sodium_init() < 0)
		return fail(err, errlen, "libsodium failed to initialize");

	/* META */
	s[ns].type = BSEC_META;
	s[ns].len = META_LEN;
	if (!(s[ns].data = calloc(1, META_LEN)))
		goto oom;
	memcpy(s[ns].data, rs->hash, 16);
	for (int l = 0; l < MATCH_LAYERS; l++)
		st64(s[ns].data + 24 + 8 * l, m->nrules[l]);
	/* compile time is informational: `rules info` shows what the build cost */
	uint64_t cns = (uint64_t)(m->compile_s * 1e9);
	memcpy(s[ns].data + 48, &cns, 8);
	ns++;
	/* RULES + BLOB are streamed from rs below */
	uint64_t bloblen = 0;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		const char *msg = rule_msg(r);
		bloblen += (uint64_t)r->patlen + 1 + (msg ? strlen(msg) + 1 : 0);
	}
	s[ns].type = BSEC_RULES;
	s[ns++].len = (uint64_t)rs->n * RULE_REC_LEN;
	s[ns].type = BSEC_BLOB;
	s[ns++].len = bloblen;
	s[ns].type = BSEC_CATS;
	if (!(s[ns].data = strings_section(rs->cats, rs->ncats, &s[ns].len)))
		goto oom;
	ns++;
	s[ns].type = BSEC_FILES;
	if (!(s[ns].data = strings_section(rs->files, rs->nfiles, &s[ns].len)))
		goto oom;
	ns++;
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	for (int l = 0; l < MATCH_LAYERS; l++) {
		if (!m->db[l])
			continue;
		char *ser = NULL, *info = NULL;
		size_t sl = 0;
		if (hs_serialize_database(m->db[l], &ser, &sl) != HS_SUCCESS) {
			fail(err, errlen, "hs_serialize_database failed for layer %s",
			     layer_name[l]);
			goto out;
		}
		s[ns].type = BSEC_HSDB;
		s[ns].arg = (uint32_t)l;
		s[ns].len = HSTAG_LEN + sl;
		s[ns].data = calloc(1, HSTAG_LEN + sl);
		if (!s[ns].data) {
			free(ser);
			goto oom;
		}
		uint8_t *t = s[ns].data;
		snprintf((char *)t, HSTAG_VERSION, "%s", hs_version());
		if (hs_database_info(m->db[l], &info) == HS_SUCCESS) {
			snprintf((char *)t + HSTAG_VERSION, HSTAG_INFO, "%s", info);
			free(info);
		}
		st64(t + 192, plat.cpu_features);
		st32(t + 200, plat.tune);
		st32(t + 204, HS_MODE_STREAM);
		memcpy(t + HSTAG_LEN, ser, sl);
		free(ser);
		ns++;
	}

	if (m->lit) {
		uint8_t *img = NULL;
		size_t il = 0;
		if (litidx_serialize(m->lit, &img, &il))
			goto oom;
		s[ns].type = BSEC_LIT;
		s[ns].len = il;
		s[ns++].data = img;
	}

	uint64_t off = align8(BUNDLE_HEADER_LEN + (uint64_t)ns * SEC_ENTRY_LEN);
	for (int i = 0; i < ns; i++) {
		s[i].off = off;
		off = align8(off + s[i].len);
	}
	uint64_t content_len = off;

	uint8_t hdr[BUNDLE_HEADER_LEN];
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, BUNDLE_MAGIC, 8);
	st32(hdr + H_FORMAT, BUNDLE_FORMAT);
	st32(hdr + H_HDRLEN, BUNDLE_HEADER_LEN);
	st64(hdr + H_VERSION, version);
	st64(hdr + H_CREATED, (uint64_t)time(NULL));
	st64(hdr + H_CONTENT, content_len);
	st32(hdr + H_NSECT, (uint32_t)ns);
	st32(hdr + H_NORM, m->norm_flags);
	st64(hdr + H_NRULES, rs->n);

	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	struct wr w = {0};
	w.f = fopen(tmp, "wb");
	if (!w.f) {
		fail(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	setvbuf(w.f, NULL, _IOFBF, 1 << 20);
	crypto_generichash_init(&w.h, NULL, 0, BUNDLE_HASH_LEN);
	wr_put(&w, hdr, sizeof(hdr));
	for (int i = 0; i < ns; i++) {
		uint8_t e[SEC_ENTRY_LEN];
		st32(e, s[i].type);
		st32(e + 4, s[i].arg);
		st64(e + 8, s[i].off);
		st64(e + 16, s[i].len);
		wr_put(&w, e, sizeof(e));
	}
	for (int i = 0; i < ns; i++) {
		wr_pad(&w);
		if (w.off != s[i].off) {
			w.bad = 1;
			break;
		}
		if (s[i].type == BSEC_RULES) {
			uint64_t po = 0;
			for (size_t k = 0; k < rs->n; k++) {
				const struct rule *r = &rs->rules[k];
				uint8_t rec[RULE_REC_LEN];
				const char *msg = rule_msg(r);
				size_t ml = msg ? strlen(msg) : 0;
				/* positions only exist for a set parsed from files */
				struct rule_pos pos = rs->pos ? rs->pos[k] : (struct rule_pos){0};
				st32(rec, r->id);
				rec[4] = r->kind;
				rec[5] = r->sev;
				rec[6] = r->raw;
				rec[7] = r->flags;
				st32(rec + 8, r->cat);
				st32(rec + 12, pos.file);
				st32(rec + 16, pos.line);
				st32(rec + 20, pos.col);
				st32(rec + 24, r->patlen);
				st32(rec + 28, msg ? (uint32_t)ml : NO_MSG);
				st64(rec + 32, po);
				wr_put(&w, rec, sizeof(rec));
				po += (uint64_t)r->patlen + 1 + (msg ? ml + 1 : 0);
			}
		} else if (s[i].type == BSEC_BLOB) {
			static const uint8_t z = 0;
			for (size_t k = 0; k < rs->n; k++) {
				const struct rule *r = &rs->rules[k];
				const char *msg = rule_msg(r);
				wr_put(&w, r->pat, r->patlen);
				wr_put(&w, &z, 1);
				if (msg)
					wr_put(&w, msg, strlen(msg) + 1);
			}
		} else {
			wr_put(&w, s[i].data, s[i].len);
		}
	}
	wr_pad(&w);
	uint8_t hash[BUNDLE_HASH_LEN];
	crypto_generichash_final(&w.h, hash, sizeof(hash));
	if (w.bad || w.off != content_len) {
		fclose(w.f);
		unlink(tmp);
		fail(err, errlen, "%s: write failed", tmp);
		goto out;
	}
	/* The hash covers the header with its own field zeroed: patch it in. */
	if (fflush(w.f) || pwrite(fileno(w.f), hash, sizeof(hash), H_HASH) != sizeof(hash)) {
		fclose(w.f);
		unlink(tmp);
		fail(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_tmp_and_rename(tmp, path, w.f, err, errlen))
		goto out;
	if (bytes)
		*bytes = content_len;
	rc = 0;
	goto out;
oom:
	fail(err, errlen, "out of memory");
out:
	for (int i = 0; i < ns + 1 && i < MAX_SECTIONS; i++)
		free(s[i].data);
	return rc;
}

int bundle_compile(const struct ruleset *rs, const struct bundle_compile_opts *o, const char *out,
                   struct bundle_compile_stats *st, char *err, size_t errlen)
{
	struct matcher *m = bundle_build_matcher(rs, o, st, err, errlen);
	if (!m)
		return -1;
	double t0 = now_s();
	size_t bytes = 0;
	uint64_t version = o->version ? o->version : (uint64_t)time(NULL);
	if (o->progress)
		fprintf(o->progress, "write: %s\n", out);
	int rc = bundle_write(m, version, out, &bytes, err, errlen);
	if (st) {
		st->write_s = now_s() - t0;
		st->bytes = bytes;
	}
	matcher_free(m);
	return rc;
}

/* ------------------------------------------------------------------------
 * Verifying
 * ---------------------------------------------------------------------- */

/* Where the bytes of a bundle being loaded come from: memory (a pushed
 * message) or a file.  A file is read with pread, window by window or
 * straight into the set's own allocations, and never mapped: a file mapping
 * makes whole page-cache folios resident (2 MiB on ext4/xfs with large
 * folios, whatever madvise says), which on a 10 MB bundle cost more than
 * the set's size on top of it.  The page cache is not the gateway's memory;
 * what is resident besides the set is one window. */
#define LOAD_WINDOW (256u << 10)

struct bsrc {
	const uint8_t *mem; /* the bundle in memory, or NULL: fd */
	int fd;
	uint64_t len;
	uint8_t *win; /* LOAD_WINDOW bytes (fd only; src_view) */
};

/* n bytes at off into dst: 0, or -1 (outside the bundle, read error, file
 * shorter than it was). */
static int src_read(const struct bsrc *s, uint64_t off, void *dst, uint64_t n)
{
	if (off > s->len || n > s->len - off)
		return -1;
	if (s->mem) {
		memcpy(dst, s->mem + off, n);
		return 0;
	}
	uint8_t *d = dst;
	while (n) {
		size_t k = n < ((size_t)1 << 30) ? (size_t)n : (size_t)1 << 30;
		ssize_t r = pread(s->fd, d, k, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		d += r;
		off += (uint64_t)r;
		n -= (uint64_t)r;
	}
	return 0;
}

/* n <= LOAD_WINDOW bytes at off: in place in memory, else read into the
 * window (allocated on first use).  NULL on a read error. */
static const uint8_t *src_view(struct bsrc *s, uint64_t off, uint64_t n)
{
	if (s->mem)
		return off <= s->len && n <= s->len - off ? s->mem + off : NULL;
	if (!s->win && !(s->win = malloc(LOAD_WINDOW)))
		return NULL;
	return src_read(s, off, s->win, n) ? NULL : s->win;
}

/* The window is not needed after the rule records: freed before the
 * literal index and the databases are allocated, so it never adds to the
 * peak of a load. */
static void src_window_free(struct bsrc *s)
{
	free(s->win);
	s->win = NULL;
}

/* litidx_read_fn over a section of the source */
struct sec_src {
	const struct bsrc *s;
	uint64_t off;
};

static int sec_read(void *ctx, uint64_t off, void *dst, size_t n)
{
	const struct sec_src *c = ctx;
	return src_read(c->s, c->off + off, dst, n);
}

/* BLAKE2b over the content with the hash field as zeros.  hdr: the
 * header's bytes.  -1 on a read error. */
static int content_hash_src(struct bsrc *s, const uint8_t *hdr, uint64_t content_len,
                            uint8_t out[BUNDLE_HASH_LEN])
{
	static const uint8_t z[BUNDLE_HASH_LEN];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, BUNDLE_HASH_LEN);
	crypto_generichash_update(&st, hdr, H_HASH);
	crypto_generichash_update(&st, z, BUNDLE_HASH_LEN);
	const uint64_t win = LOAD_WINDOW;
	for (uint64_t o = H_HASH + BUNDLE_HASH_LEN; o < content_len; o += win) {
		uint64_t n = content_len - o < win ? content_len - o : win;
		const uint8_t *v = src_view(s, o, n);
		if (!v)
			return -1;
		crypto_generichash_update(&st, v, n);
	}
	crypto_generichash_final(&st, out, BUNDLE_HASH_LEN);
	return 0;
}

static void content_hash(const uint8_t *buf, uint64_t content_len, uint8_t out[BUNDLE_HASH_LEN])
{
	struct bsrc s = {.mem = buf, .fd = -1, .len = content_len};
	content_hash_src(&s, buf, content_len, out);
}

void bundle_fix_hash(uint8_t *buf, size_t len)
{
	if (len < BUNDLE_HEADER_LEN || sodium_init() < 0)
		return;
	uint64_t cl = ld64(buf + H_CONTENT);
	if (cl < BUNDLE_HEADER_LEN || cl > len)
		return;
	uint8_t h[BUNDLE_HASH_LEN];
	content_hash(buf, cl, h);
	memcpy(buf + H_HASH, h, BUNDLE_HASH_LEN);
}

/* Sections by offset into the source (0: absent; a section never starts
 * at 0, the header is there). */
struct parsed {
	struct bsrc *src;
	uint64_t content_len;
	uint32_t nsect;
	uint64_t sec[8]; /* by type (0 unused), HSDB separately */
	uint64_t seclen[8];
	uint64_t hsdb[MATCH_LAYERS];
	uint64_t hsdblen[MATCH_LAYERS];
	uint8_t meta[META_LEN];
	int signed_;
};

#define ST(code) (info->status = (code), -1)

/* Steps 1-5 of docs/bundles.md: size, magic, format; signature; version;
 * content hash; section table. */
static int verify_envelope(struct bsrc *src, const struct bundle_load_opts *o, struct parsed *p,
                           struct bundle_info *info, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->src = src;
	const uint64_t len = src->len;
	uint8_t buf[BUNDLE_HEADER_LEN], sigb[BUNDLE_SIG_LEN];
	uint8_t tab[MAX_SECTIONS * SEC_ENTRY_LEN];
	if (len < BUNDLE_HEADER_LEN)
		return fail(err, errlen, "truncated: %llu bytes, a bundle header alone is %d",
		            (unsigned long long)len, BUNDLE_HEADER_LEN),
		       ST(BUNDLE_E_FORMAT);
	if (src_read(src, 0, buf, BUNDLE_HEADER_LEN))
		return fail(err, errlen, "read error"), ST(BUNDLE_E_IO);
	if (memcmp(buf, BUNDLE_MAGIC, 8))
		return fail(err, errlen, "not a tapsift rule bundle (bad magic)"),
		       ST(BUNDLE_E_FORMAT);
	uint32_t fmt = ld32(buf + H_FORMAT);
	if (fmt != BUNDLE_FORMAT || ld32(buf + H_HDRLEN) != BUNDLE_HEADER_LEN)
		return fail(err, errlen, "bundle format %u is not supported (this build reads %d)",
		            fmt, BUNDLE_FORMAT),
		       ST(BUNDLE_E_FORMAT);
	info->version = ld64(buf + H_VERSION);
	info->created = ld64(buf + H_CREATED);
	info->nrules = ld64(buf + H_NRULES);
	info->norm_flags = ld32(buf + H_NORM);
	sodium_bin2hex(info->hash, sizeof(info->hash), buf + H_HASH, BUNDLE_HASH_LEN);
	uint64_t cl = ld64(buf + H_CONTENT);
	p->nsect = ld32(buf + H_NSECT);
	if (p->nsect == 0 || p->nsect > MAX_SECTIONS)
		return fail(err, errlen, "bad section count %u", p->nsect), ST(BUNDLE_E_FORMAT);
	if (cl < BUNDLE_HEADER_LEN + (uint64_t)p->nsect * SEC_ENTRY_LEN || cl > len)
		return fail(err, errlen,
		            "truncated: header says %llu bytes of content, file has %llu",
		            (unsigned long long)cl, (unsigned long long)len),
		       ST(BUNDLE_E_FORMAT);
	p->content_len = cl;

	/* Signature block: exactly one, right after the content, or none. */
	uint64_t rest = len - cl;
	const uint8_t *sig = NULL;
	if (rest == BUNDLE_SIG_LEN && src_read(src, cl, sigb, BUNDLE_SIG_LEN))
		return fail(err, errlen, "read error"), ST(BUNDLE_E_IO);
	if (rest == BUNDLE_SIG_LEN && !memcmp(sigb, BUNDLE_SIG_MAGIC, 8)) {
		sig = sigb;
	} else if (rest) {
		return fail(err, errlen,
		            "%llu unexpected bytes after the content (damaged "
		            "signature block?)",
		            (unsigned long long)rest),
		       ST(BUNDLE_E_FORMAT);
	}
	int need = o && o->trust && o->trust->n;
	if (sig) {
		const uint8_t *pk = sig + 8;
		sign_keyid(pk, info->keyid);
		p->signed_ = 1;
		if (need && !trust_has(o->trust, pk))
			return fail(err, errlen, "signed by key %s, which is not in the trust list",
			            info->keyid),
			       ST(BUNDLE_E_UNTRUSTED);
		/* The header holds the content hash, so signing it signs the
		 * content; the hash is checked below. */
		if (sign_verify(pk, SIG_DOMAIN, buf, BUNDLE_HEADER_LEN, sig + 8 + SIGN_PK_LEN))
			return fail(err, errlen,
			            "bad signature (key %s): the bundle was modified "
			            "after signing",
			            info->keyid),
			       ST(BUNDLE_E_SIGNATURE);
	} else if (need) {
		return fail(err, errlen,
		            "unsigned bundle, and this gateway requires a signature "
		            "from its trust list"),
		       ST(BUNDLE_E_UNSIGNED);
	}

	if (o && o->min_version && !o->allow_rollback) {
		if (info->version < o->min_version)
			return fail(err, errlen,
			            "rollback refused: version %llu is older than the live version "
			            "%llu (--allow-rollback to force)",
			            (unsigned long long)info->version,
			            (unsigned long long)o->min_version),
			       ST(BUNDLE_E_ROLLBACK);
		if (info->version == o->min_version)
			return fail(err, errlen, "version %llu is already live",
			            (unsigned long long)info->version),
			       ST(BUNDLE_E_SAME);
	}

	/* The hash before parsing the table: a damaged table then reports
	 * "hash mismatch", not a puzzling bounds error. */
	uint8_t h[BUNDLE_HASH_LEN];
	if (content_hash_src(src, buf, cl, h))
		return fail(err, errlen, "read error"), ST(BUNDLE_E_IO);
	if (memcmp(h, buf + H_HASH, BUNDLE_HASH_LEN))
		return fail(err, errlen, "content hash mismatch: the bundle is damaged"),
		       ST(BUNDLE_E_HASH);

	uint64_t data0 = BUNDLE_HEADER_LEN + (uint64_t)p->nsect * SEC_ENTRY_LEN;
	if (src_read(src, BUNDLE_HEADER_LEN, tab, (uint64_t)p->nsect * SEC_ENTRY_LEN))
		return fail(err, errlen, "read error"), ST(BUNDLE_E_IO);
	for (uint32_t i = 0; i < p->nsect; i++) {
		const uint8_t *e = tab + (size_t)i * SEC_ENTRY_LEN;
		uint32_t type = ld32(e), arg = ld32(e + 4);
		uint64_t off = ld64(e + 8), sl = ld64(e + 16);
		if (off < data0 || off > cl || sl > cl - off || (off & 7))
			return fail(err, errlen,
			            "section %u (type %u) out of bounds: offset %llu length %llu",
			            i, type, (unsigned long long)off, (unsigned long long)sl),
			       ST(BUNDLE_E_SECTION);
		if (type == BSEC_HSDB) {
			if (arg >= MATCH_LAYERS || p->hsdb[arg])
				return fail(err, errlen,
				            "bad or duplicate database section (layer %u)", arg),
				       ST(BUNDLE_E_SECTION);
			p->hsdb[arg] = off;
			p->hsdblen[arg] = sl;
		} else if (type >= BSEC_META && type <= BSEC_LIT && type != BSEC_HSDB) {
			if (p->sec[type])
				return fail(err, errlen, "duplicate section type %u", type),
				       ST(BUNDLE_E_SECTION);
			p->sec[type] = off;
			p->seclen[type] = sl;
		} else {
			return fail(err, errlen,
			            "unknown section type %u (bundle from a newer "
			            "tapsift?)",
			            type),
			       ST(BUNDLE_E_SECTION);
		}
	}
	static const int required[] = {BSEC_META, BSEC_RULES, BSEC_BLOB, BSEC_CATS, BSEC_FILES};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!p->sec[required[i]])
			return fail(err, errlen, "missing section type %d", required[i]),
			       ST(BUNDLE_E_SECTION);
	if (p->seclen[BSEC_META] != META_LEN)
		return fail(err, errlen, "bad metadata section length"), ST(BUNDLE_E_SECTION);
	if (src_read(src, p->sec[BSEC_META], p->meta, META_LEN))
		return fail(err, errlen, "read error"), ST(BUNDLE_E_IO);
	if (info->nrules > 0xffffffffull || p->seclen[BSEC_RULES] != info->nrules * RULE_REC_LEN)
		return fail(err, errlen, "rule section length does not match %llu rules",
		            (unsigned long long)info->nrules),
		       ST(BUNDLE_E_SECTION);
	return 0;
}

/* count strings, each NUL-terminated, filling the whole section. */
static char **parse_strings(const uint8_t *s, uint64_t len, size_t *n, size_t maxlen,
                            const char *what, char *err, size_t errlen)
{
	if (len < 4) {
		fail(err, errlen, "%s section too short", what);
		return NULL;
	}
	uint32_t cnt = ld32(s);
	if (cnt > len - 4 || (cnt == 0 && len != 4)) {
		fail(err, errlen, "bad %s count %u", what, cnt);
		return NULL;
	}
	char **v = calloc(cnt ? cnt : 1, sizeof(*v));
	if (!v) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	uint64_t o = 4;
	for (uint32_t i = 0; i < cnt; i++) {
		const uint8_t *z = o < len ? memchr(s + o, 0, len - o) : NULL;
		size_t l = z ? (size_t)(z - (s + o)) : 0;
		if (!z || (maxlen && (l == 0 || l > maxlen)) ||
		    !(v[i] = strndup((const char *)s + o, l))) {
			fail(err, errlen, "bad %s entry %u", what, i);
			for (uint32_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
		o += l + 1;
	}
	if (o != len) {
		fail(err, errlen, "%s section has %llu trailing bytes", what,
		     (unsigned long long)(len - o));
		for (uint32_t k = 0; k < cnt; k++)
			free(v[k]);
		free(v);
		return NULL;
	}
	*n = cnt;
	return v;
}

static const char *feature_names(uint64_t f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", f & HS_CPU_FEATURES_AVX2 ? "AVX2 " : "",
	         f & HS_CPU_FEATURES_AVX512 ? "AVX512 " : "",
	         (f & ~(uint64_t)(HS_CPU_FEATURES_AVX2 | HS_CPU_FEATURES_AVX512)) ? "other " : "");
	size_t l = strlen(buf);
	if (l)
		buf[l - 1] = 0;
	else
		snprintf(buf, len, "baseline");
	return buf;
}

/* Checks a database section's tag against this gateway.  0 = usable,
 * 1 = built for another Hyperscan/CPU (reason in err), -1 = malformed. */
static int check_hstag(const uint8_t *sec, uint64_t len, int layer, char *err, size_t errlen)
{
	if (len <= HSTAG_LEN)
		return fail(err, errlen, "database section of layer %s too short",
		            layer_name[layer]);
	if (!memchr(sec, 0, HSTAG_VERSION) || !memchr(sec + HSTAG_VERSION, 0, HSTAG_INFO))
		return fail(err, errlen, "database tag of layer %s is not a string",
		            layer_name[layer]);
	if (ld32(sec + 204) != HS_MODE_STREAM)
		return fail(err, errlen, "database of layer %s is not a streaming database",
		            layer_name[layer]);
	if (strcmp((const char *)sec, hs_version())) {
		fail(err, errlen,
		     "database of layer %s was built for Hyperscan %s; this gateway has %s "
		     "(rebuild the bundle, or allow recompiling)",
		     layer_name[layer], (const char *)sec, hs_version());
		return 1;
	}
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	uint64_t need = ld64(sec + 192);
	if (need & ~plat.cpu_features) {
		char a[64], b[64];
		fail(err, errlen,
		     "database of layer %s needs CPU features %s; this CPU has %s (rebuild the "
		     "bundle on a matching host, or allow recompiling)",
		     layer_name[layer], feature_names(need, a, sizeof(a)),
		     feature_names(plat.cpu_features, b, sizeof(b)));
		return 1;
	}
	return 0;
}

/* parse_strings over section type t, read into a buffer of its own (these
 * sections are small: categories and file names). */
static char **read_strings(const struct parsed *p, int t, size_t *n, size_t maxlen,
                           const char *what, enum bundle_status *why, char *err, size_t errlen)
{
	uint64_t len = p->seclen[t];
	uint8_t *b = malloc(len ? len : 1);
	if (!b) {
		*why = BUNDLE_E_NOMEM;
		fail(err, errlen, "out of memory (%s section of %llu bytes)", what,
		     (unsigned long long)len);
		return NULL;
	}
	if (src_read(p->src, p->sec[t], b, len)) {
		free(b);
		*why = BUNDLE_E_IO;
		fail(err, errlen, "read error");
		return NULL;
	}
	char **v = parse_strings(b, len, n, maxlen, what, err, errlen);
	free(b);
	return v;
}

static struct ruleset *load_ruleset(const struct parsed *p, const struct bundle_info *info,
                                    size_t counts[MATCH_LAYERS], enum bundle_status *why, char *err,
                                    size_t errlen)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));
	if (!rs) {
		*why = BUNDLE_E_NOMEM;
		fail(err, errlen, "out of memory");
		return NULL;
	}
	ruleset_init(rs);
	*why = BUNDLE_E_SECTION;
	const uint8_t *meta = p->meta;
	/* 16 hex digits: it is printed verbatim in every verdict */
	int hexok = memchr(meta, 0, 17) == meta + 16;
	for (int i = 0; hexok && i < 16; i++)
		hexok = (meta[i] >= '0' && meta[i] <= '9') || (meta[i] >= 'a' && meta[i] <= 'f');
	if (!hexok) {
		fail(err, errlen, "bad ruleset hash in metadata");
		goto bad;
	}
	memcpy(rs->hash, meta, 17);
	if (!(rs->cats =
	          read_strings(p, BSEC_CATS, &rs->ncats, MAX_CAT, "category", why, err, errlen)))
		goto bad;
	rs->catcap = rs->ncats;
	/* the parser's alphabet: categories become bus topics and file names */
	for (size_t i = 0; i < rs->ncats; i++)
		for (const char *c = rs->cats[i]; *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
			      *c == '-')) {
				fail(err, errlen,
				     "category %zu has a character outside a-z 0-9 _ -", i);
				goto bad;
			}
	if (!(rs->files =
	          read_strings(p, BSEC_FILES, &rs->nfiles, 0, "file name", why, err, errlen)))
		goto bad;
	size_t n = (size_t)info->nrules;
	uint64_t bl = p->seclen[BSEC_BLOB];
	rs->rules = malloc((n ? n : 1) * sizeof(*rs->rules));
	rs->blob = malloc(bl ? bl : 1);
	if (!rs->rules || !rs->blob) {
		*why = BUNDLE_E_NOMEM;
		fail(err, errlen, "out of memory (%zu rules, %llu bytes of patterns)", n,
		     (unsigned long long)bl);
		goto bad;
	}
	/* The blob straight into its final place; the records window by window
	 * (the source's window): nothing of the bundle is resident twice. */
	if (src_read(p->src, p->sec[BSEC_BLOB], rs->blob, bl)) {
		*why = BUNDLE_E_IO;
		fail(err, errlen, "read error");
		goto bad;
	}
	const uint8_t *blob = rs->blob;
	*why = BUNDLE_E_RULE;
	const size_t per_window = LOAD_WINDOW / RULE_REC_LEN;
	const uint8_t *rec = NULL;
	for (size_t i = 0; i < n; i++, rec += RULE_REC_LEN) {
		if (i % per_window == 0) {
			size_t k = n - i < per_window ? n - i : per_window;
			rec = src_view(p->src, p->sec[BSEC_RULES] + (uint64_t)i * RULE_REC_LEN,
			               (uint64_t)k * RULE_REC_LEN);
			if (!rec) {
				*why = BUNDLE_E_IO;
				fail(err, errlen, "read error");
				goto bad;
			}
		}
		struct rule *r = &rs->rules[i];
		memset(r, 0, sizeof(*r));
		/* kind and raw are bit-fields: checked as bytes, stored after */
		uint8_t kind = rec[4], raw = rec[6];
		r->id = ld32(rec);
		r->sev = rec[5];
		r->flags = rec[7];
		r->cat = ld32(rec + 8);
		uint32_t file = ld32(rec + 12); /* line, col (+16, +20): not kept */
		r->patlen = ld32(rec + 24);
		uint32_t ml = ld32(rec + 28);
		uint64_t po = ld64(rec + 32);
		const char *why_s = NULL;
		if (r->id == 0)
			why_s = "id 0";
		else if (kind > RULE_REGEX)
			why_s = "unknown kind";
		else if (r->sev < 1 || r->sev > 5)
			why_s = "severity not 1..5";
		else if (raw > 1 || r->flags & ~7u || (kind == RULE_LITERAL && r->flags))
			why_s = "bad flags";
		else if (r->cat >= rs->ncats)
			why_s = "category out of range";
		else if (file >= rs->nfiles)
			why_s = "file out of range";
		else if (r->patlen == 0 || po > bl || r->patlen >= bl - po || blob[po + r->patlen])
			why_s = "pattern out of the blob or not terminated";
		else if (kind == RULE_REGEX && memchr(blob + po, 0, r->patlen))
			why_s = "NUL inside a regex";
		else if (ml != NO_MSG) {
			uint64_t mo = po + r->patlen + 1;
			if (ml > MAX_MSG || ml >= bl - mo || blob[mo + ml] ||
			    memchr(blob + mo, 0, ml))
				why_s = "message out of the blob or not terminated";
			else
				r->has_msg = 1; /* rule_msg(): right after the pattern */
		}
		if (why_s) {
			fail(err, errlen, "rule record %zu (id %u): %s", i, r->id, why_s);
			goto bad;
		}
		r->kind = kind & 1;
		r->raw = raw & 1;
		r->pat = blob + po;
		counts[layer_of(r)]++;
	}
	rs->n = rs->cap = n;
	*why = BUNDLE_OK;
	return rs;
bad:
	ruleset_free(rs);
	free(rs);
	return NULL;
}

static struct matcher *load_impl(struct bsrc *src, const struct bundle_load_opts *o,
                                 struct bundle_info *info, char *err, size_t errlen)
{
	struct bundle_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	double t0 = now_s();
	struct parsed p;
	if (sodium_init() < 0) {
		info->status = BUNDLE_E_NOMEM;
		fail(err, errlen, "libsodium failed to initialize");
		return NULL;
	}
	if (verify_envelope(src, o, &p, info, err, errlen))
		return NULL;
	size_t counts[MATCH_LAYERS] = {0};
	enum bundle_status why;
	struct ruleset *rs = load_ruleset(&p, info, counts, &why, err, errlen);
	src_window_free(src);
	if (!rs) {
		info->status = why;
		return NULL;
	}
	struct matcher *m = matcher_new_empty(rs, info->norm_flags);
	if (!m) {
		info->status = BUNDLE_E_NOMEM;
		fail(err, errlen, "out of memory");
		goto bad;
	}
	m->version = info->version;
	uint64_t cns;
	memcpy(&cns, p.meta + 48, 8);
	m->compile_s = (double)cns / 1e9;
	if (p.sec[BSEC_LIT]) {
		char e2[512];
		struct sec_src ls = {src, p.sec[BSEC_LIT]};
		m->lit = litidx_deserialize_read(sec_read, &ls, (size_t)p.seclen[BSEC_LIT], e2,
		                                 sizeof(e2));
		if (!m->lit) {
			fail(err, errlen, "literal index: %s", e2);
			info->status = BUNDLE_E_SECTION;
			goto bad_m;
		}
		m->nlit = litidx_count(m->lit);
	}
	/* Per layer: the metadata counts what Hyperscan holds; the norm layer's
	 * other literals are in the index. */
	int recompile = 0;
	for (int l = 0; l < MATCH_LAYERS; l++) {
		uint64_t hsn = ld64(p.meta + 24 + 8 * l);
		uint64_t want = hsn + (l == MATCH_NORM ? m->nlit : 0);
		if (counts[l] != want) {
			fail(err, errlen, "layer %s has %zu rules, metadata says %llu",
			     layer_name[l], counts[l], (unsigned long long)want);
			info->status = BUNDLE_E_RULE;
			goto bad_m;
		}
		m->nrules[l] = (size_t)hsn;
		if (!hsn != !p.hsdb[l]) {
			fail(err, errlen, "layer %s: %llu rules in Hyperscan but %s database",
			     layer_name[l], (unsigned long long)hsn, p.hsdb[l] ? "a" : "no");
			info->status = BUNDLE_E_SECTION;
			goto bad_m;
		}
		if (!p.hsdb[l] || recompile)
			continue;
		uint8_t tag[HSTAG_LEN];
		if (p.hsdblen[l] > HSTAG_LEN && src_read(src, p.hsdb[l], tag, HSTAG_LEN)) {
			fail(err, errlen, "read error");
			info->status = BUNDLE_E_IO;
			goto bad_m;
		}
		int t = check_hstag(tag, p.hsdblen[l], l, err, errlen);
		if (t < 0) {
			info->status = BUNDLE_E_SECTION;
			goto bad_m;
		}
		if (t > 0) {
			if (!o || !o->allow_recompile) {
				info->status = BUNDLE_E_PLATFORM;
				goto bad_m;
			}
			recompile = 1;
			continue;
		}
		/* in place in memory; from a file, read for Hyperscan to copy */
		size_t dl = (size_t)(p.hsdblen[l] - HSTAG_LEN);
		uint64_t doff = p.hsdb[l] + HSTAG_LEN;
		char *dbuf = src->mem ? NULL : malloc(dl);
		const char *db = src->mem ? (const char *)src->mem + doff : dbuf;
		if (!src->mem && (!dbuf || src_read(src, doff, dbuf, dl))) {
			fail(err, errlen,
			     dbuf ? "read error" : "out of memory (database of layer %s)",
			     layer_name[l]);
			info->status = dbuf ? BUNDLE_E_IO : BUNDLE_E_NOMEM;
			free(dbuf);
			goto bad_m;
		}
		char *dinfo = NULL;
		if (hs_serialized_database_info(db, dl, &dinfo) != HS_SUCCESS) {
			free(dbuf);
			fail(err, errlen, "database of layer %s is damaged", layer_name[l]);
			info->status = BUNDLE_E_SECTION;
			goto bad_m;
		}
		free(dinfo);
		hs_error_t e = hs_deserialize_database(db, dl, &m->db[l]);
		free(dbuf);
		if (e == HS_DB_VERSION_ERROR || e == HS_DB_PLATFORM_ERROR) {
			fail(err, errlen,
			     "database of layer %s was built for %s Hyperscan/CPU: %s "
			     "(rebuild the bundle, or allow recompiling)",
			     layer_name[l], e == HS_DB_VERSION_ERROR ? "another" : "a different",
			     e == HS_DB_VERSION_ERROR ? "version mismatch" : "platform mismatch");
			m->db[l] = NULL;
			if (!o || !o->allow_recompile) {
				info->status = BUNDLE_E_PLATFORM;
				goto bad_m;
			}
			recompile = 1;
		} else if (e != HS_SUCCESS) {
			m->db[l] = NULL;
			fail(err, errlen, "database of layer %s is damaged (Hyperscan error %d)",
			     layer_name[l], (int)e);
			info->status = BUNDLE_E_SECTION;
			goto bad_m;
		}
	}
	if (recompile) {
		/* Rebuild every layer from the rule metadata: slow (a compile), but
		 * a gateway configured for it keeps working after a Hyperscan
		 * upgrade. */
		matcher_free(m); /* owns_rs is 0: rs survives */
		char cerr[1024];
		m = matcher_build(rs, info->norm_flags, cerr, sizeof(cerr));
		if (!m) {
			fail(err, errlen, "recompiling the bundle's rules failed: %s", cerr);
			info->status = BUNDLE_E_COMPILE;
			goto bad;
		}
		m->version = info->version;
		info->recompiled = 1;
	}
	m->owns_rs = 1;
	info->status = BUNDLE_OK;
	info->load_s = now_s() - t0;
	return m;
bad_m:
	matcher_free(m);
bad:
	ruleset_free(rs);
	free(rs);
	return NULL;
}

struct matcher *bundle_load(const void *buf, size_t len, const struct bundle_load_opts *o,
                            struct bundle_info *info, char *err, size_t errlen)
{
	struct bsrc s = {.mem = buf ? buf : (const void *)"", .fd = -1, .len = buf ? len : 0};
	return load_impl(&s, o, info, err, errlen);
}

int bundle_read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "%s: not a regular file", path);
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *b = malloc(n ? n : 1);
	if (!b) {
		close(fd);
		return fail(err, errlen, "%s: out of memory", path);
	}
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			close(fd);
			return fail(err, errlen, "%s: read error", path);
		}
		got += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
}

/* mmap, so the file's bytes are never a second resident copy. */
static const uint8_t *map_fd(int fd, const char *name, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fail(err, errlen, "%s: not a regular file", name);
		return NULL;
	}
	*len = (size_t)st.st_size;
	if (!*len)
		return (const uint8_t *)"";
	void *m = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		fail(err, errlen, "%s: %s", name, strerror(errno));
		return NULL;
	}
	madvise(m, *len, MADV_SEQUENTIAL);
	return m;
}

const uint8_t *bundle_map_file(const char *path, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	const uint8_t *m = map_fd(fd, path, len, err, errlen);
	close(fd);
	return m;
}

void bundle_unmap_file(const uint8_t *p, size_t len)
{
	if (len)
		munmap((void *)p, len);
}

struct matcher *bundle_load_fd(int fd, const char *name, const struct bundle_load_opts *o,
                               struct bundle_info *info, char *err, size_t errlen)
{
	char e2[1024];
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		fail(err, errlen, "%s: not a regular file", name);
		if (info) {
			memset(info, 0, sizeof(*info));
			info->status = BUNDLE_E_IO;
		}
		return NULL;
	}
	/* read, not mapped: see struct bsrc */
	struct bsrc s = {.fd = fd, .len = (uint64_t)st.st_size};
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	struct matcher *m = load_impl(&s, o, info, e2, sizeof(e2));
	src_window_free(&s);
	if (!m)
		snprintf(err, errlen, "%s: %s", name, e2);
	return m;
}

struct matcher *bundle_load_file(const char *path, const struct bundle_load_opts *o,
                                 struct bundle_info *info, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		if (info) {
			memset(info, 0, sizeof(*info));
			info->status = BUNDLE_E_IO;
		}
		return NULL;
	}
	struct matcher *m = bundle_load_fd(fd, path, o, info, err, errlen);
	close(fd);
	return m;
}

int bundle_sign(const char *path, const uint8_t sk[SIGN_SK_LEN], char keyid[SIGN_KEYID_HEX],
                char *err, size_t errlen)
{
	size_t len = 0;
	char e2[1024];
	const uint8_t *b = bundle_map_file(path, &len, err, errlen);
	if (!b)
		return -1;
	struct bundle_info info;
	struct parsed p;
	memset(&info, 0, sizeof(info));
	/* Never sign a damaged bundle: the signature would vouch for it.  An
	 * existing signature is replaced, so its validity does not matter:
	 * check the envelope of the unsigned content only. */
	uint64_t cl = len >= BUNDLE_HEADER_LEN ? ld64(b + H_CONTENT) : 0;
	if (cl < BUNDLE_HEADER_LEN || cl > len ||
	    verify_envelope(&(struct bsrc){.mem = b, .fd = -1, .len = cl}, NULL, &p, &info, e2,
	                    sizeof(e2))) {
		if (cl < BUNDLE_HEADER_LEN || cl > len)
			snprintf(e2, sizeof(e2), "not a tapsift rule bundle, or truncated");
		bundle_unmap_file(b, len);
		return fail(err, errlen, "%s: %s", path, e2);
	}
	uint8_t blk[BUNDLE_SIG_LEN];
	memcpy(blk, BUNDLE_SIG_MAGIC, 8);
	crypto_sign_ed25519_sk_to_pk(blk + 8, sk);
	sign_keyid(blk + 8, keyid);
	sign_detached(sk, SIG_DOMAIN, b, BUNDLE_HEADER_LEN, blk + 8 + SIGN_PK_LEN);
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		bundle_unmap_file(b, len);
		return fail(err, errlen, "%s: %s", tmp, strerror(errno));
	}
	int ok = fwrite(b, 1, (size_t)cl, f) == cl && fwrite(blk, 1, sizeof(blk), f) == sizeof(blk);
	bundle_unmap_file(b, len);
	if (!ok) {
		fclose(f);
		unlink(tmp);
		return fail(err, errlen, "%s: write failed", tmp);
	}
	return write_tmp_and_rename(tmp, path, f, err, errlen);
}

/* ------------------------------------------------------------------------
 * Describing
 * ---------------------------------------------------------------------- */

static const char *sec_name(uint32_t t)
{
	switch (t) {
	case BSEC_META:
		return "meta";
	case BSEC_RULES:
		return "rules";
	case BSEC_BLOB:
		return "patterns";
	case BSEC_CATS:
		return "categories";
	case BSEC_FILES:
		return "files";
	case BSEC_HSDB:
		return "hyperscan";
	case BSEC_LIT:
		return "literal-index";
	}
	return "?";
}

int bundle_describe(FILE *out, const void *vbuf, size_t len, const struct bundle_trust *trust,
                    char *err, size_t errlen)
{
	const uint8_t *buf = vbuf;
	struct bundle_load_opts o = {.trust = trust};
	struct bundle_info info;
	struct parsed p;
	memset(&info, 0, sizeof(info));
	if (sodium_init() < 0)
		return fail(err, errlen, "libsodium failed to initialize");
	struct bsrc src = {.mem = buf, .fd = -1, .len = len};
	if (verify_envelope(&src, &o, &p, &info, err, errlen))
		return -1;
	size_t counts[MATCH_LAYERS] = {0};
	enum bundle_status why;
	struct ruleset *rs = load_ruleset(&p, &info, counts, &why, err, errlen);
	if (!rs)
		return -1;
	time_t ct = (time_t)info.created;
	struct tm tm;
	char when[64] = "?";
	if (gmtime_r(&ct, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	char steps[128] = "";
	static const char *sn[] = {"nfkc_cf", "ignorable", "separators", "t2s", "confusables"};
	for (int i = 0; i < 5; i++)
		if (info.norm_flags & (1u << i))
			snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%s%s",
			         *steps ? "," : "", sn[i]);
	fprintf(out, "bundle     format %d, %zu bytes\n", BUNDLE_FORMAT, len);
	fprintf(out, "version    %llu\n", (unsigned long long)info.version);
	fprintf(out, "hash       %s (BLAKE2b-256, verified)\n", info.hash);
	fprintf(out, "created    %s\n", when);
	fprintf(out, "signature  %s%s\n", p.signed_ ? info.keyid : "unsigned",
	        p.signed_ ? (trust && trust->n ? " (Ed25519, trusted, verified)"
	                                       : " (Ed25519, verified; no trust list given)")
	                  : "");
	fprintf(out, "ruleset    %s\n", rs->hash);
	fprintf(out, "normalize  %s\n", *steps ? steps : "none");
	uint64_t hs_norm = ld64(p.meta + 24 + 8 * MATCH_NORM);
	uint64_t in_lit = counts[MATCH_NORM] > hs_norm ? counts[MATCH_NORM] - hs_norm : 0;
	fprintf(out,
	        "rules      %zu: %zu literal (%llu in Hyperscan, %llu in the literal index), "
	        "%zu regex, %zu raw\n",
	        rs->n, counts[MATCH_NORM], (unsigned long long)hs_norm, (unsigned long long)in_lit,
	        counts[MATCH_TEXT], counts[MATCH_RAW]);
	uint64_t cns;
	memcpy(&cns, p.meta + 48, 8);
	fprintf(out, "compiled   in %.2f s\n", (double)cns / 1e9);
	size_t *per = calloc(rs->ncats, sizeof(*per));
	if (per)
		for (size_t i = 0; i < rs->n; i++)
			per[rs->rules[i].cat]++;
	fprintf(out, "categories %zu:", rs->ncats);
	for (size_t i = 0; i < rs->ncats; i++) {
		if (i == 32) {
			fprintf(out, " ...");
			break;
		}
		fprintf(out, " %s(%zu)", rs->cats[i], per ? per[i] : 0);
	}
	fprintf(out, "\n");
	free(per);
	fprintf(out, "sections   %u\n", p.nsect);
	for (uint32_t i = 0; i < p.nsect; i++) {
		const uint8_t *e = buf + BUNDLE_HEADER_LEN + (size_t)i * SEC_ENTRY_LEN;
		uint32_t type = ld32(e), arg = ld32(e + 4);
		uint64_t off = ld64(e + 8), sl = ld64(e + 16);
		fprintf(out, "  %-10s %-5s %12llu bytes at %llu", sec_name(type),
		        type == BSEC_HSDB ? layer_name[arg] : "", (unsigned long long)sl,
		        (unsigned long long)off);
		if (type == BSEC_HSDB && sl > HSTAG_LEN && memchr(buf + off, 0, HSTAG_VERSION) &&
		    memchr(buf + off + HSTAG_VERSION, 0, HSTAG_INFO)) {
			char a[64];
			fprintf(out, "  [Hyperscan %s; %s; needs %s]", (const char *)buf + off,
			        (const char *)buf + off + HSTAG_VERSION,
			        feature_names(ld64(buf + off + 192), a, sizeof(a)));
			char msg[512];
			if (check_hstag(buf + off, sl, (int)arg, msg, sizeof(msg)))
				fprintf(out, "\n    NOT LOADABLE HERE: %s", msg);
		}
		if (type == BSEC_LIT) {
			char msg[512];
			struct litidx *x =
			    litidx_deserialize(buf + off, (size_t)sl, msg, sizeof(msg));
			if (x)
				fprintf(out, "  [%zu literals, anchor %u bytes, longest %u]",
				        litidx_count(x), litidx_anchor(x), litidx_maxlen(x));
			else
				fprintf(out, "\n    DAMAGED: %s", msg);
			litidx_free(x);
		}
		fprintf(out, "\n");
	}
	ruleset_free(rs);
	free(rs);
	return 0;
}

/* ------------------------------------------------------------------------
 * For the commands
 * ---------------------------------------------------------------------- */

struct matcher *bundle_open_for_setup(const char *path, const char *const *trust_paths, int ntrust,
                                      int allow_recompile, int *exit_code)
{
	struct bundle_trust t;
	char err[1024];
	int dummy;
	if (!exit_code)
		exit_code = &dummy;
	*exit_code = 0;
	trust_init(&t);
	for (int i = 0; i < ntrust; i++)
		if (trust_add(&t, trust_paths[i], err, sizeof(err))) {
			fprintf(stderr, "tapsift: --trust: %s\n", err);
			trust_free(&t);
			*exit_code = 2;
			return NULL;
		}
	struct bundle_load_opts o = {.trust = &t, .allow_recompile = allow_recompile};
	struct bundle_info info;
	struct matcher *m = bundle_load_file(path, &o, &info, err, sizeof(err));
	trust_free(&t);
	if (!m) {
		fprintf(stderr, "tapsift: bundle rejected (%s): %s\n",
		        bundle_status_name(info.status), err);
		*exit_code = info.status == BUNDLE_E_IO ? 1 : 2;
	} else if (info.recompiled) {
		fprintf(stderr,
		        "tapsift: %s: recompiled from its rules (built for another "
		        "Hyperscan/CPU)\n",
		        path);
	}
	return m;
}

struct hitrow {
	uint64_t hits;
	size_t idx;
};

static int hit_cmp(const void *a, const void *b)
{
	const struct hitrow *x = a, *y = b;
	if (x->hits != y->hits)
		return x->hits < y->hits ? 1 : -1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void bundle_print_rule_hits(FILE *f, const struct matcher *m, int top)
{
	const struct ruleset *rs = m->rs;
	size_t cnt = 0, cap = 0;
	struct hitrow *v = NULL;
	for (size_t i = 0; i < rs->n; i++) {
		uint64_t h = matcher_hits(m, i);
		if (!h)
			continue;
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct hitrow *nv = realloc(v, nc * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		v[cnt].hits = h;
		v[cnt++].idx = i;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), hit_cmp);
	fprintf(f, "  top rules by hits (%zu of %zu rules fired):\n", cnt, rs->n);
	for (size_t i = 0; i < cnt && (int)i < top; i++) {
		const struct rule *r = &rs->rules[v[i].idx];
		fprintf(f, "    %10u  %-24s %12llu\n", r->id,
		        r->cat < rs->ncats ? rs->cats[r->cat] : "?", (unsigned long long)v[i].hits);
	}
	free(v);
}
