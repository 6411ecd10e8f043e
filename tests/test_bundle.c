/* test_bundle.c - rule bundles: round trip (same verdicts as the rule
 * files), the compile cache, every rejection reason (corrupt byte anywhere,
 * truncation, unsigned, wrong key, rollback, other Hyperscan version/CPU,
 * rule fields out of range), keys and trust lists, push to a control socket
 * (ipc and CURVE over tcp loopback) and pickup from a watched directory. */
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "bus.h"
#include "control.h"
#include "engine.h"
#include "match.h"
#include "normalize.h"
#include "ruleset.h"
#include "sign.h"
#include "unit.h"

#define MAXV 4096

static char tmpdir[256];

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

static const char *RULES_A = "1 fraud \"免费领取\" sev=4 msg=\"free gift\"\n"
                             "2 scam_en \"verify wallet\"\n"
                             "3 phishing /pass(word)?\\s*reset/i msg=\"reset\"\n"
                             "4 marker \"RAW\\x00MARK\" raw\n"
                             "5 marker /ab+c\\d/ raw sev=1\n"
                             "6 fraud \"骗\"\n"; /* short: stays in Hyperscan */
static const char *RULES_B = "10 deepfake_ad \"一键换脸\"\n"
                             "11 scam_en \"double your bitcoin\" msg=\"\\u{263A} smile\"\n";

static const char *DOC = "hello 免 费 领 取 now, please Verify  Wallet and password reset "
                         "then abbbc7 and 骗 and 一键换脸 and DOUBLE your bitcoin!";

static char *path_in(const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ & 7];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

static void load_rules(struct ruleset *rs, const char *extra)
{
	char err[512];
	ruleset_init(rs);
	if (ruleset_add_buffer(rs, "a.rules", RULES_A, strlen(RULES_A), err, sizeof(err)) ||
	    ruleset_add_buffer(rs, "b.rules", RULES_B, strlen(RULES_B), err, sizeof(err)) ||
	    (extra && ruleset_add_buffer(rs, "c.rules", extra, strlen(extra), err, sizeof(err))))
		fprintf(stderr, "rules: %s\n", err);
	ruleset_finish(rs);
}

/* Verdicts of DOC under m, as sorted "id:offset:cat:msg:ruleset" lines. */
static int scan_doc(struct matcher *m, char out[][160], int max)
{
	struct collect *c = calloc(1, sizeof(*c));
	c->base.emit = collect_emit;
	pthread_mutex_init(&c->mu, NULL);
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = 1;
	struct engine *e = engine_new(&cfg, m, &c->base);
	engine_text(e, "doc.txt", (const uint8_t *)DOC, strlen(DOC));
	engine_text(e, "raw.bin", (const uint8_t *)"xxRAW\0MARKyy", 12);
	engine_finish(e);
	int n = 0;
	for (int i = 0; i < c->n && n < max; i++, n++)
		snprintf(out[n], 160, "%u:%llu:%s:%s:%s", c->v[i].rule_id,
		         (unsigned long long)c->v[i].offset, c->v[i].category,
		         c->v[i].msg ? c->v[i].msg : "-", c->v[i].ruleset);
	engine_free(e);
	free(c);
	qsort(out, (size_t)n, 160, (int (*)(const void *, const void *))strcmp);
	return n;
}

static int write_bundle(const char *extra, uint64_t version, const char *name, char *hash_out)
{
	struct ruleset rs;
	char err[512];
	load_rules(&rs, extra);
	struct matcher *m = matcher_build_opts(&rs, NORM_ALL, MATCH_INDEX_ALL, err, sizeof(err));
	int rc = m ? bundle_write(m, version, path_in(name), NULL, err, sizeof(err)) : -1;
	if (rc)
		fprintf(stderr, "write_bundle: %s\n", err);
	matcher_free(m);
	ruleset_free(&rs);
	if (hash_out) {
		struct bundle_info info;
		struct matcher *l = bundle_load_file(path_in(name), NULL, &info, err, sizeof(err));
		snprintf(hash_out, BUNDLE_HASH_HEX, "%s", info.hash);
		matcher_unref(l);
	}
	return rc;
}

static void test_round_trip(void)
{
	struct ruleset rs;
	char err[512];
	load_rules(&rs, NULL);
	struct matcher *m = matcher_build_opts(&rs, NORM_ALL, MATCH_INDEX_ALL, err, sizeof(err));
	CHECK(m != NULL);
	size_t bytes = 0;
	CHECK_EQ_INT(bundle_write(m, 42, path_in("rt.tsb"), &bytes, err, sizeof(err)), 0);
	CHECK(bytes > 0);
	struct bundle_info info;
	struct matcher *l = bundle_load_file(path_in("rt.tsb"), NULL, &info, err, sizeof(err));
	CHECK(l != NULL);
	if (!l) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ_INT(info.status, BUNDLE_OK);
	CHECK_EQ_INT(l->version, 42);
	CHECK_EQ_INT(l->refs, 1);
	CHECK_EQ_INT(l->owns_rs, 1);
	CHECK_EQ_INT(l->norm_flags, NORM_ALL);
	CHECK(info.keyid[0] == 0);
	CHECK(m->lit != NULL); /* the two long literals are in the index tier */
	CHECK(l->lit != NULL);
	CHECK_EQ_INT(l->nlit, m->nlit);
	CHECK_EQ_INT(l->nlit, 4);
	for (int i = 0; i < MATCH_LAYERS; i++) {
		CHECK_EQ_INT(l->nrules[i], m->nrules[i]);
		CHECK(!l->db[i] == !m->db[i]);
	}
	const struct ruleset *lr = l->rs;
	CHECK_EQ_INT(lr->n, rs.n);
	CHECK_STR(lr->hash, rs.hash);
	CHECK_EQ_INT(lr->ncats, rs.ncats);
	CHECK_EQ_INT(lr->nfiles, rs.nfiles);
	/* a loaded set keeps no source positions (24 bytes a rule in memory):
	 * messages name the rule id instead */
	CHECK(rs.pos != NULL && lr->pos == NULL);
	if (lr->n) {
		char w[64];
		ruleset_where(lr, &lr->rules[0], w, sizeof(w));
		char want[64];
		snprintf(want, sizeof(want), "rule id %u", lr->rules[0].id);
		CHECK_STR(w, want);
		ruleset_where(&rs, &rs.rules[0], w, sizeof(w));
		CHECK(strchr(w, ':') != NULL);
	}
	for (size_t i = 0; i < rs.n && i < lr->n; i++) {
		const struct rule *a = &rs.rules[i], *b = &lr->rules[i];
		CHECK_EQ_INT(a->id, b->id);
		CHECK_EQ_INT(a->kind, b->kind);
		CHECK_EQ_INT(a->sev, b->sev);
		CHECK_EQ_INT(a->raw, b->raw);
		CHECK_EQ_INT(a->flags, b->flags);
		CHECK_EQ_INT(a->patlen, b->patlen);
		CHECK(!memcmp(a->pat, b->pat, a->patlen + 1));
		CHECK_STR(rs.cats[a->cat], lr->cats[b->cat]);
		CHECK(!rule_msg(a) == !rule_msg(b));
		if (rule_msg(a) && rule_msg(b))
			CHECK_STR(rule_msg(a), rule_msg(b));
	}
	static char va[64][160], vb[64][160];
	int na = scan_doc(m, va, 64), nb = scan_doc(l, vb, 64);
	CHECK_EQ_INT(na, 8);
	CHECK_EQ_INT(nb, na);
	for (int i = 0; i < na && i < nb; i++)
		CHECK_STR(va[i], vb[i]);
	/* per-rule accounting of the loaded set */
	char *txt = NULL;
	size_t tl = 0;
	FILE *f = open_memstream(&txt, &tl);
	bundle_print_rule_hits(f, l, 3);
	fclose(f);
	CHECK(strstr(txt, "8 of 8 rules fired") != NULL);
	free(txt);
	matcher_unref(l);
	matcher_free(m);
	/* Hyperscan only (--matcher hs): no index section, same verdicts */
	struct bundle_compile_opts o = {
	    .norm_flags = NORM_ALL, .match_opts = MATCH_HS_ONLY, .version = 43};
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("hs.tsb"), NULL, err, sizeof(err)), 0);
	l = bundle_load_file(path_in("hs.tsb"), NULL, &info, err, sizeof(err));
	CHECK(l != NULL);
	if (l) {
		CHECK(l->lit == NULL);
		CHECK(l->db[MATCH_NORM] != NULL);
		CHECK_EQ_INT(scan_doc(l, vb, 64), na);
		for (int i = 0; i < na; i++)
			CHECK_STR(va[i], vb[i]);
		matcher_unref(l);
	}
	ruleset_free(&rs);
}

static uint8_t *slurp(const char *name, size_t *len);

/* A bundle spanning many load windows (256 KiB), loaded from its file
 * (pread, window by window) and from memory: the same set, the same
 * verdicts; a file cut short is refused. */
static void test_load_windows(void)
{
	enum { N = 60000 };
	size_t cap = (size_t)N * 64, len = 0;
	char *extra = malloc(cap);
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(extra + len, cap - len,
		                        "%d bulk \"windowlit%07dq%05x\" msg=\"m%d\"\n", 500000 + i,
		                        i, (unsigned)(i * 7919) & 0xfffff, i);
	char err[512], a[16][160], b[16][160];
	CHECK_EQ_INT(write_bundle(extra, 7, "win.tsb", NULL), 0);
	free(extra);
	size_t blen = 0;
	uint8_t *buf = slurp("win.tsb", &blen);
	CHECK(blen > ((size_t)8 << 20) / 4); /* several windows */
	struct bundle_info fi, mi;
	struct matcher *f = bundle_load_file(path_in("win.tsb"), NULL, &fi, err, sizeof(err));
	struct matcher *m = bundle_load(buf, blen, NULL, &mi, err, sizeof(err));
	CHECK(f != NULL && m != NULL);
	if (f && m) {
		CHECK(!strcmp(fi.hash, mi.hash));
		CHECK_EQ_INT(f->rs->n, m->rs->n);
		CHECK_EQ_INT(f->nlit, m->nlit);
		CHECK(f->nlit > N / 2);
		size_t bad = 0;
		for (size_t i = 0; i < f->rs->n; i++) {
			const struct rule *x = &f->rs->rules[i], *y = &m->rs->rules[i];
			const char *mx = rule_msg(x), *my = rule_msg(y);
			bad += x->id != y->id || x->patlen != y->patlen ||
			       memcmp(x->pat, y->pat, x->patlen) || !mx != !my ||
			       (mx && my && strcmp(mx, my));
		}
		CHECK_EQ_INT(bad, 0);
		int na = scan_doc(f, a, 16), nb = scan_doc(m, b, 16);
		CHECK_EQ_INT(na, nb);
		CHECK(na > 0);
		for (int i = 0; i < na && i < nb; i++)
			CHECK(!strcmp(a[i], b[i]));
	}
	matcher_unref(f);
	matcher_unref(m);
	/* cut in the middle of the literal index: refused, nothing leaks */
	FILE *o = fopen(path_in("win-cut.tsb"), "wb");
	fwrite(buf, 1, blen - 1000, o);
	fclose(o);
	f = bundle_load_file(path_in("win-cut.tsb"), NULL, &fi, err, sizeof(err));
	CHECK(f == NULL && fi.status == BUNDLE_E_FORMAT);
	free(buf);
}

static void test_cache(void)
{
	struct ruleset rs;
	char err[512], cache[600];
	snprintf(cache, sizeof(cache), "%s/cache/sub", tmpdir);
	load_rules(&rs, NULL);
	/* MATCH_INDEX_ALL: a test-sized set would otherwise stay in Hyperscan alone. */
	struct bundle_compile_opts o = {.norm_flags = NORM_ALL,
	                                .match_opts = MATCH_INDEX_ALL,
	                                .version = 7,
	                                .cache_dir = cache};
	struct bundle_compile_stats st;
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("c1.tsb"), &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.layers_compiled, 4);
	CHECK_EQ_INT(st.layers_cached, 0);
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("c2.tsb"), &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.layers_compiled, 0);
	CHECK_EQ_INT(st.layers_cached, 4);
	/* Other normalization: the norm layer differs, the others are reused. */
	o.norm_flags = NORM_NFKC_CF;
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("c3.tsb"), &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.layers_compiled, 2);
	CHECK_EQ_INT(st.layers_cached, 2);
	ruleset_free(&rs);
	/* One more regex: only the text layer is compiled. */
	load_rules(&rs, "20 phishing /seed\\s+phrase/\n");
	o.norm_flags = NORM_ALL;
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("c4.tsb"), &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.layers_compiled, 1);
	CHECK_EQ_INT(st.layers_cached, 3);
	/* A damaged cache entry is recompiled, not trusted. */
	DIR *d = opendir(cache);
	struct dirent *de;
	int damaged = 0;
	while (d && (de = readdir(d)))
		if (strstr(de->d_name, ".hsdb") || strstr(de->d_name, ".lit")) {
			char p[1200];
			snprintf(p, sizeof(p), "%s/%s", cache, de->d_name);
			FILE *f = fopen(p, "r+b");
			fseek(f, 100, SEEK_SET);
			fputc(0x5a, f);
			fclose(f);
			damaged++;
		}
	if (d)
		closedir(d);
	CHECK(damaged >= 4);
	memset(&st, 0, sizeof(st));
	CHECK_EQ_INT(bundle_compile(&rs, &o, path_in("c5.tsb"), &st, err, sizeof(err)), 0);
	CHECK_EQ_INT(st.layers_compiled, 4);
	CHECK_EQ_INT(st.layers_cached, 0);
	/* The cached build gives the same verdicts as matcher_build. */
	struct matcher *a = bundle_load_file(path_in("c5.tsb"), NULL, NULL, err, sizeof(err));
	struct matcher *b = matcher_build_opts(&rs, NORM_ALL, MATCH_INDEX_ALL, err, sizeof(err));
	CHECK(a && b);
	static char va[64][160], vb[64][160];
	int na = scan_doc(a, va, 64), nb = scan_doc(b, vb, 64);
	CHECK_EQ_INT(na, nb);
	for (int i = 0; i < na && i < nb; i++)
		CHECK_STR(va[i], vb[i]);
	matcher_unref(a);
	matcher_free(b);
	ruleset_free(&rs);
}

static uint8_t sk1[SIGN_SK_LEN], pk1[SIGN_PK_LEN], sk2[SIGN_SK_LEN], pk2[SIGN_PK_LEN];

static void test_keys(void)
{
	char err[512], id[SIGN_KEYID_HEX], id2[SIGN_KEYID_HEX];
	CHECK_EQ_INT(sign_keygen(path_in("author"), id, err, sizeof(err)), 0);
	struct stat st;
	CHECK_EQ_INT(stat(path_in("author.key"), &st), 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	CHECK_EQ_INT(stat(path_in("author.pub"), &st), 0);
	/* never overwritten */
	CHECK(sign_keygen(path_in("author.key"), id2, err, sizeof(err)) != 0);
	CHECK_EQ_INT(sign_load_secret(path_in("author.key"), sk1, err, sizeof(err)), 0);
	CHECK_EQ_INT(sign_load_public(path_in("author.pub"), pk1, err, sizeof(err)), 0);
	char kid[SIGN_KEYID_HEX];
	sign_keyid(pk1, kid);
	CHECK_STR(kid, id);
	CHECK(sign_load_secret(path_in("author.pub"), sk2, err, sizeof(err)) != 0);
	/* a second key in its own directory: the trust dir */
	char d[600];
	snprintf(d, sizeof(d), "%s/trust2", tmpdir);
	mkdir(d, 0700);
	CHECK_EQ_INT(sign_keygen(path_in("trust2/other"), id2, err, sizeof(err)), 0);
	CHECK_EQ_INT(sign_load_secret(path_in("trust2/other.key"), sk2, err, sizeof(err)), 0);
	crypto_sign_ed25519_sk_to_pk(pk2, sk2);
	struct bundle_trust t;
	trust_init(&t);
	CHECK_EQ_INT(trust_add(&t, d, err, sizeof(err)), 0);
	CHECK_EQ_INT(t.n, 1);
	CHECK(trust_has(&t, pk2));
	CHECK(!trust_has(&t, pk1));
	CHECK_EQ_INT(trust_add(&t, path_in("author.pub"), err, sizeof(err)), 0);
	CHECK_EQ_INT(t.n, 2);
	trust_free(&t);
	/* an empty trust directory is an error, not "trust nothing/everything" */
	snprintf(d, sizeof(d), "%s/empty", tmpdir);
	mkdir(d, 0700);
	trust_init(&t);
	CHECK(trust_add(&t, d, err, sizeof(err)) != 0);
	CHECK(strstr(err, "no *.pub") != NULL);
	trust_free(&t);
	uint8_t sig[SIGN_SIG_LEN];
	sign_detached(sk1, "d", (const uint8_t *)"msg", 3, sig);
	CHECK_EQ_INT(sign_verify(pk1, "d", (const uint8_t *)"msg", 3, sig), 0);
	CHECK(sign_verify(pk1, "e", (const uint8_t *)"msg", 3, sig) != 0);
	CHECK(sign_verify(pk2, "d", (const uint8_t *)"msg", 3, sig) != 0);
}

static uint8_t *slurp(const char *name, size_t *len)
{
	uint8_t *b = NULL;
	char err[512];
	if (bundle_read_file(path_in(name), &b, len, err, sizeof(err)))
		fprintf(stderr, "%s\n", err);
	return b;
}

static enum bundle_status try_load(const uint8_t *b, size_t len, const struct bundle_load_opts *o,
                                   char *err, size_t errlen)
{
	struct bundle_info info;
	struct matcher *m = bundle_load(b, len, o, &info, err, errlen);
	if (m) {
		matcher_unref(m);
		return BUNDLE_OK;
	}
	return info.status;
}

static void test_sign_and_reject(void)
{
	char err[1024], id[SIGN_KEYID_HEX];
	CHECK_EQ_INT(write_bundle(NULL, 5, "s5.tsb", NULL), 0);
	CHECK_EQ_INT(bundle_sign(path_in("s5.tsb"), sk1, id, err, sizeof(err)), 0);
	struct bundle_trust t1, t2;
	trust_init(&t1);
	trust_init(&t2);
	trust_add_key(&t1, pk1);
	trust_add_key(&t2, pk2);
	size_t len;
	uint8_t *b = slurp("s5.tsb", &len);
	struct bundle_load_opts o = {.trust = &t1};
	struct bundle_info info;
	struct matcher *m = bundle_load(b, len, &o, &info, err, sizeof(err));
	CHECK(m != NULL);
	CHECK_STR(info.keyid, id);
	CHECK_EQ_INT(info.version, 5);
	matcher_unref(m);
	/* re-signing replaces the block (same length), with another key too */
	CHECK_EQ_INT(bundle_sign(path_in("s5.tsb"), sk2, id, err, sizeof(err)), 0);
	size_t len2;
	uint8_t *b2 = slurp("s5.tsb", &len2);
	CHECK_EQ_INT(len2, len);
	CHECK_EQ_INT(try_load(b2, len2, &o, err, sizeof(err)), BUNDLE_E_UNTRUSTED);
	CHECK(strstr(err, "not in the trust list") != NULL);
	o.trust = &t2;
	CHECK_EQ_INT(try_load(b2, len2, &o, err, sizeof(err)), BUNDLE_OK);
	free(b2);
	o.trust = &t1;

	/* unsigned, trust required */
	CHECK_EQ_INT(try_load(b, len - BUNDLE_SIG_LEN, &o, err, sizeof(err)), BUNDLE_E_UNSIGNED);
	CHECK(strstr(err, "unsigned") != NULL);
	CHECK_EQ_INT(try_load(b, len - BUNDLE_SIG_LEN, NULL, err, sizeof(err)), BUNDLE_OK);

	/* every byte flipped: rejected, by the signature or the hash (or the
	 * envelope for the few bytes that frame them) */
	int bad = 0;
	uint8_t *c = malloc(len);
	for (size_t i = 0; i < len; i++) {
		memcpy(c, b, len);
		c[i] ^= 0x20;
		enum bundle_status s = try_load(c, len, &o, err, sizeof(err));
		if (s != BUNDLE_E_SIGNATURE && s != BUNDLE_E_HASH && s != BUNDLE_E_FORMAT &&
		    s != BUNDLE_E_UNTRUSTED) {
			if (bad++ < 5)
				fprintf(stderr, "  byte %zu: status %s\n", i,
				        bundle_status_name(s));
		}
		/* without a trust list only the hash protects the content */
		if (i < len - BUNDLE_SIG_LEN && i >= 8 + 4) {
			s = try_load(c, len - BUNDLE_SIG_LEN, NULL, err, sizeof(err));
			if (s != BUNDLE_E_HASH && s != BUNDLE_E_FORMAT && bad++ < 5)
				fprintf(stderr, "  unsigned byte %zu: status %s (%s)\n", i,
				        bundle_status_name(s), err);
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* every truncation */
	for (size_t l = 0; l < len; l++) {
		enum bundle_status s = try_load(b, l, &o, err, sizeof(err));
		if (s != BUNDLE_E_FORMAT && !(l == len - BUNDLE_SIG_LEN && s == BUNDLE_E_UNSIGNED))
			if (bad++ < 5)
				fprintf(stderr, "  truncated to %zu: status %s\n", l,
				        bundle_status_name(s));
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(try_load(b, 100, &o, err, sizeof(err)), BUNDLE_E_FORMAT);
	CHECK(strstr(err, "truncated") != NULL);
	memcpy(c, b, len);
	c[len - 1] ^= 1; /* the signature itself */
	CHECK_EQ_INT(try_load(c, len, &o, err, sizeof(err)), BUNDLE_E_SIGNATURE);
	memcpy(c, b, len);
	c[200] ^= 1; /* content after the header: only the hash can tell */
	CHECK_EQ_INT(try_load(c, len, &o, err, sizeof(err)), BUNDLE_E_HASH);
	CHECK(strstr(err, "hash mismatch") != NULL);
	free(c);

	/* versions */
	o.min_version = 6;
	CHECK_EQ_INT(try_load(b, len, &o, err, sizeof(err)), BUNDLE_E_ROLLBACK);
	CHECK(strstr(err, "rollback") != NULL);
	o.min_version = 5;
	CHECK_EQ_INT(try_load(b, len, &o, err, sizeof(err)), BUNDLE_E_SAME);
	o.allow_rollback = 1;
	o.min_version = 6;
	CHECK_EQ_INT(try_load(b, len, &o, err, sizeof(err)), BUNDLE_OK);
	free(b);
	trust_free(&t1);
	trust_free(&t2);
}

/* Finds the first section of a type in an (unsigned) image. */
static uint8_t *find_sec(uint8_t *b, uint32_t type, uint32_t arg, uint64_t *sl)
{
	uint32_t ns;
	memcpy(&ns, b + 40, 4);
	for (uint32_t i = 0; i < ns; i++) {
		uint8_t *e = b + BUNDLE_HEADER_LEN + i * 24;
		uint32_t t, a;
		uint64_t off;
		memcpy(&t, e, 4);
		memcpy(&a, e + 4, 4);
		memcpy(&off, e + 8, 8);
		memcpy(sl, e + 16, 8);
		if (t == type && (type != BSEC_HSDB || a == arg))
			return b + off;
	}
	return NULL;
}

/* Writes an edited copy, fixes the hash and re-signs it: only the deeper
 * checks can catch the edit. */
static void save_signed(const uint8_t *b, size_t len, const char *name)
{
	char err[512], id[SIGN_KEYID_HEX];
	uint8_t *c = malloc(len);
	memcpy(c, b, len);
	bundle_fix_hash(c, len);
	FILE *f = fopen(path_in(name), "wb");
	fwrite(c, 1, len, f);
	fclose(f);
	free(c);
	CHECK_EQ_INT(bundle_sign(path_in(name), sk1, id, err, sizeof(err)), 0);
}

static void test_platform_and_fields(void)
{
	char err[1024];
	CHECK_EQ_INT(write_bundle(NULL, 9, "p.tsb", NULL), 0);
	size_t len;
	uint8_t *b = slurp("p.tsb", &len);
	struct bundle_trust t;
	trust_init(&t);
	trust_add_key(&t, pk1);
	struct bundle_load_opts o = {.trust = &t};
	uint64_t sl;

	/* another Hyperscan version */
	uint8_t *hs = find_sec(b, BSEC_HSDB, MATCH_NORM, &sl); /* the short literal */
	CHECK(hs != NULL);
	char saved[64];
	memcpy(saved, hs, 64);
	memset(hs, 0, 64);
	strcpy((char *)hs, "4.7.0 2018-01-24");
	save_signed(b, len, "p-hs.tsb");
	memcpy(hs, saved, 64);
	struct bundle_info info;
	struct matcher *m = bundle_load_file(path_in("p-hs.tsb"), &o, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK_EQ_INT(info.status, BUNDLE_E_PLATFORM);
	CHECK(strstr(err, "built for Hyperscan 4.7.0") != NULL);
	/* ... recompiled from the rules when allowed, with the same verdicts */
	o.allow_recompile = 1;
	m = bundle_load_file(path_in("p-hs.tsb"), &o, &info, err, sizeof(err));
	CHECK(m != NULL);
	CHECK_EQ_INT(info.recompiled, 1);
	if (m) {
		CHECK_EQ_INT(m->version, 9);
		CHECK_EQ_INT(m->owns_rs, 1);
		static char va[64][160];
		CHECK_EQ_INT(scan_doc(m, va, 64), 8);
		matcher_unref(m);
	}
	o.allow_recompile = 0;

	/* a CPU feature this host lacks */
	hs_platform_info_t plat;
	hs_populate_platform(&plat);
	uint64_t need =
	    (plat.cpu_features & HS_CPU_FEATURES_AVX512) ? (1ull << 40) : HS_CPU_FEATURES_AVX512;
	uint64_t savedf;
	memcpy(&savedf, hs + 192, 8);
	uint64_t nf = savedf | need;
	memcpy(hs + 192, &nf, 8);
	save_signed(b, len, "p-cpu.tsb");
	memcpy(hs + 192, &savedf, 8);
	m = bundle_load_file(path_in("p-cpu.tsb"), &o, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK_EQ_INT(info.status, BUNDLE_E_PLATFORM);
	CHECK(strstr(err, "needs CPU features") != NULL);

	/* the database bytes themselves claim another Hyperscan version: the
	 * library's own check (hs_deserialize_database) catches it */
	uint8_t *db = hs + 256;
	uint32_t v;
	memcpy(&v, db + 4, 4);
	uint32_t v2 = v ^ 0x00010000;
	memcpy(db + 4, &v2, 4);
	save_signed(b, len, "p-db.tsb");
	memcpy(db + 4, &v, 4);
	m = bundle_load_file(path_in("p-db.tsb"), &o, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK(info.status == BUNDLE_E_PLATFORM || info.status == BUNDLE_E_SECTION);

	/* rule fields out of range */
	uint8_t *rules = find_sec(b, BSEC_RULES, 0, &sl);
	struct {
		int off, width;
		uint64_t val;
		const char *why;
	} cases[] = {
	    {8, 4, 99, "category out of range"},
	    {12, 4, 99, "file out of range"},
	    {5, 1, 9, "severity"},
	    {4, 1, 7, "unknown kind"},
	    {24, 4, 1u << 30, "pattern out of the blob"},
	    {32, 8, 1ull << 40, "pattern out of the blob"},
	    {28, 4, 100000, "message out of the blob"},
	    {0, 4, 0, "id 0"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t keep[8];
		uint8_t *p = rules + 40 * 2 + cases[i].off;
		memcpy(keep, p, (size_t)cases[i].width);
		memcpy(p, &cases[i].val, (size_t)cases[i].width);
		save_signed(b, len, "p-rule.tsb");
		memcpy(p, keep, (size_t)cases[i].width);
		m = bundle_load_file(path_in("p-rule.tsb"), &o, &info, err, sizeof(err));
		CHECK(m == NULL);
		CHECK_EQ_INT(info.status, BUNDLE_E_RULE);
		if (!strstr(err, cases[i].why))
			fprintf(stderr, "  case %zu: %s\n", i, err);
		CHECK(strstr(err, cases[i].why) != NULL);
	}
	/* strings that end up verbatim in verdicts and topics */
	uint8_t *cats = find_sec(b, BSEC_CATS, 0, &sl);
	cats[4] = '"';
	save_signed(b, len, "p-cat.tsb");
	cats[4] = 'f';
	m = bundle_load_file(path_in("p-cat.tsb"), &o, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK(strstr(err, "category 0 has a character") != NULL);
	uint8_t *meta = find_sec(b, BSEC_META, 0, &sl);
	uint8_t keep0 = meta[3];
	meta[3] = '"';
	save_signed(b, len, "p-meta.tsb");
	meta[3] = keep0;
	m = bundle_load_file(path_in("p-meta.tsb"), &o, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK(strstr(err, "bad ruleset hash") != NULL);
	/* a damaged literal index image (hash fixed): its own validation */
	uint8_t *lit = find_sec(b, BSEC_LIT, 0, &sl);
	CHECK(lit != NULL);
	if (lit && sl > 64) {
		lit[sl / 2] ^= 0x40;
		save_signed(b, len, "p-lit.tsb");
		lit[sl / 2] ^= 0x40;
		m = bundle_load_file(path_in("p-lit.tsb"), &o, &info, err, sizeof(err));
		CHECK(m == NULL);
		CHECK_EQ_INT(info.status, BUNDLE_E_SECTION);
		CHECK(strstr(err, "literal index") != NULL);
	}
	/* a section pointing outside the file: bundle_sign refuses to vouch for
	 * it; unsigned with a fixed hash, the section check catches it */
	uint64_t huge = len * 2;
	uint8_t keep[8];
	memcpy(keep, b + BUNDLE_HEADER_LEN + 16, 8);
	memcpy(b + BUNDLE_HEADER_LEN + 16, &huge, 8);
	bundle_fix_hash(b, len);
	FILE *f = fopen(path_in("p-sec.tsb"), "wb");
	fwrite(b, 1, len, f);
	fclose(f);
	char id[SIGN_KEYID_HEX];
	CHECK(bundle_sign(path_in("p-sec.tsb"), sk1, id, err, sizeof(err)) != 0);
	CHECK(strstr(err, "out of bounds") != NULL);
	memcpy(b + BUNDLE_HEADER_LEN + 16, keep, 8);
	bundle_fix_hash(b, len);
	m = bundle_load_file(path_in("p-sec.tsb"), NULL, &info, err, sizeof(err));
	CHECK(m == NULL);
	CHECK_EQ_INT(info.status, BUNDLE_E_SECTION);
	CHECK(strstr(err, "out of bounds") != NULL);
	/* the original still loads */
	save_signed(b, len, "p-ok.tsb");
	m = bundle_load_file(path_in("p-ok.tsb"), &o, &info, err, sizeof(err));
	CHECK(m != NULL);
	matcher_unref(m);
	free(b);
	trust_free(&t);
}

static void test_describe(void)
{
	char err[512];
	size_t len;
	uint8_t *b = slurp("s5.tsb", &len);
	char *txt = NULL;
	size_t tl = 0;
	FILE *f = open_memstream(&txt, &tl);
	CHECK_EQ_INT(bundle_describe(f, b, len, NULL, err, sizeof(err)), 0);
	fclose(f);
	CHECK(strstr(txt, "version    5") != NULL);
	CHECK(strstr(txt, "hyperscan") != NULL);
	CHECK(strstr(txt, "Ed25519") != NULL);
	CHECK(strstr(txt, "deepfake_ad(1)") != NULL);
	free(txt);
	free(b);
	/* what scan/run call: trust files, exit codes */
	const char *trust[] = {path_in("author.pub")};
	const char *wrong[] = {path_in("trust2")};
	int rc = -1;
	struct matcher *m = bundle_open_for_setup(path_in("s5.tsb"), wrong, 1, 0, &rc);
	CHECK(m != NULL); /* s5 was re-signed with the trust2 key */
	CHECK_EQ_INT(rc, 0);
	matcher_unref(m);
	m = bundle_open_for_setup(path_in("s5.tsb"), trust, 1, 0, &rc);
	CHECK(m == NULL);
	CHECK_EQ_INT(rc, 2);
	m = bundle_open_for_setup(path_in("missing.tsb"), NULL, 0, 0, &rc);
	CHECK(m == NULL);
	CHECK_EQ_INT(rc, 1);
	m = bundle_open_for_setup(path_in("rt.tsb"), NULL, 0, 0, NULL);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 42);
	matcher_unref(m);
}

/* ---- control socket and directory watch ---- */

static void test_control(void)
{
	char err[1024], reply[1400], id[SIGN_KEYID_HEX], h6[BUNDLE_HASH_HEX];
	CHECK_EQ_INT(write_bundle(NULL, 6, "v6.tsb", h6), 0);
	CHECK_EQ_INT(write_bundle(NULL, 4, "v4.tsb", NULL), 0);
	CHECK_EQ_INT(write_bundle(NULL, 7, "v7u.tsb", NULL), 0);
	CHECK_EQ_INT(bundle_sign(path_in("v6.tsb"), sk1, id, err, sizeof(err)), 0);
	CHECK_EQ_INT(bundle_sign(path_in("v4.tsb"), sk1, id, err, sizeof(err)), 0);
	struct bundle_trust t;
	trust_init(&t);
	trust_add_key(&t, pk1);
	struct matcher_slot slot = {0};
	char ep[700];
	snprintf(ep, sizeof(ep), "ipc://%s/ctl.sock", tmpdir);
	struct control_config cc = {.endpoint = ep, .trust = &t};
	struct control *c = control_start(&cc, matcher_slot_cb, &slot, err, sizeof(err));
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	struct control_push_opts po = {.timeout_ms = 20000};
	size_t len;
	uint8_t *b = slurp("v6.tsb", &len);
	CHECK_EQ_INT(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)), 0);
	char want[200];
	snprintf(want, sizeof(want), "ok 6 %s", h6);
	CHECK_STR(reply, want);
	struct matcher *m = matcher_slot_take(&slot);
	CHECK(m != NULL);
	CHECK(matcher_slot_take(&slot) == NULL);
	if (m)
		CHECK_EQ_INT(m->version, 6);
	matcher_unref(m);
	/* the same again: already live, nothing handed over */
	CHECK_EQ_INT(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)), 0);
	CHECK(strstr(reply, "already live") != NULL);
	CHECK(matcher_slot_take(&slot) == NULL);
	free(b);
	/* older: rollback */
	b = slurp("v4.tsb", &len);
	CHECK(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error rollback", 14) == 0);
	/* damaged */
	b[20] ^= 1; /* the version field: covered by the signature */
	CHECK(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error signature", 15) == 0);
	free(b);
	/* unsigned */
	b = slurp("v7u.tsb", &len);
	CHECK(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error unsigned", 14) == 0);
	free(b);
	/* garbage and an empty body */
	CHECK(control_push(control_endpoint(c), &po, "hello", 5, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error format", 12) == 0);
	CHECK(control_push(control_endpoint(c), &po, NULL, 0, reply, sizeof(reply)) != 0);
	CHECK(matcher_slot_take(&slot) == NULL);
	CHECK_EQ_INT(control_status(control_endpoint(c), &po, reply, sizeof(reply)), 0);
	CHECK_STR(reply, want);
	struct control_counts n;
	control_counts(c, &n);
	CHECK_EQ_INT(n.accepted, 1);
	CHECK_EQ_INT(n.already_live, 1);
	CHECK_EQ_INT(n.rejected, 5);

	/* chunked upload (spooled to a file): a newer set in 1000-byte parts */
	CHECK_EQ_INT(write_bundle(NULL, 9, "v9.tsb", NULL), 0);
	CHECK_EQ_INT(bundle_sign(path_in("v9.tsb"), sk1, id, err, sizeof(err)), 0);
	b = slurp("v9.tsb", &len);
	struct control_push_opts chunked = {.timeout_ms = 20000, .chunk_bytes = 1000};
	CHECK_EQ_INT(control_push(control_endpoint(c), &chunked, b, len, reply, sizeof(reply)), 0);
	CHECK(strncmp(reply, "ok 9 ", 5) == 0);
	m = matcher_slot_take(&slot);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 9);
	matcher_unref(m);
	/* a damaged newer one through the same path is rejected with its reason */
	free(b);
	CHECK_EQ_INT(write_bundle(NULL, 10, "v10.tsb", NULL), 0);
	CHECK_EQ_INT(bundle_sign(path_in("v10.tsb"), sk1, id, err, sizeof(err)), 0);
	b = slurp("v10.tsb", &len);
	b[len / 2] ^= 1;
	CHECK(control_push(control_endpoint(c), &chunked, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error hash", 10) == 0);
	b[len / 2] ^= 1;
	/* protocol errors: part without begin, out of sequence, early end */
	uint64_t off = 0, total = len;
	const uint8_t *fr[3];
	size_t fl[3];
	fr[0] = (const uint8_t *)"v1.bundle.part";
	fl[0] = 14;
	fr[1] = (const uint8_t *)&off;
	fl[1] = 8;
	fr[2] = b;
	fl[2] = 10;
	CHECK(control_handle(c, 3, fr, fl, reply, sizeof(reply)) != 0);
	CHECK(strstr(reply, "no upload in progress") != NULL);
	fr[0] = (const uint8_t *)"v1.bundle.begin";
	fl[0] = 15;
	fr[1] = (const uint8_t *)&total;
	CHECK_EQ_INT(control_handle(c, 2, fr, fl, reply, sizeof(reply)), 0);
	CHECK_STR(reply, "more 0");
	/* while this (in-process) client holds the upload, a socket client is busy */
	CHECK(control_push(control_endpoint(c), &chunked, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error busy", 10) == 0);
	off = 5;
	fr[0] = (const uint8_t *)"v1.bundle.part";
	fl[0] = 14;
	fr[1] = (const uint8_t *)&off;
	CHECK(control_handle(c, 3, fr, fl, reply, sizeof(reply)) != 0);
	CHECK(strstr(reply, "out of sequence") != NULL);
	fr[0] = (const uint8_t *)"v1.bundle.begin";
	fl[0] = 15;
	fr[1] = (const uint8_t *)&total;
	CHECK_EQ_INT(control_handle(c, 2, fr, fl, reply, sizeof(reply)), 0);
	fr[0] = (const uint8_t *)"v1.bundle.end";
	fl[0] = 13;
	CHECK(control_handle(c, 1, fr, fl, reply, sizeof(reply)) != 0);
	CHECK(strstr(reply, "end after 0 of") != NULL);
	free(b);
	CHECK(matcher_slot_take(&slot) == NULL);
	control_stop(c);
	trust_free(&t);
}

static void test_control_curve(void)
{
	char err[1024], reply[1400];
	CHECK_EQ_INT(bus_keygen(path_in("server.curve"), err, sizeof(err)), 0);
	struct matcher_slot slot = {0};
	struct control_config cc = {.endpoint = "tcp://127.0.0.1:*",
	                            .curve_secret_file = path_in("server.curve")};
	struct control *c = control_start(&cc, matcher_slot_cb, &slot, err, sizeof(err));
	CHECK(c != NULL);
	if (!c) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	size_t len;
	uint8_t *b = slurp("v6.tsb", &len);
	struct control_push_opts po = {.timeout_ms = 20000,
	                               .server_key_file = path_in("server.curve.pub")};
	CHECK_EQ_INT(control_push(control_endpoint(c), &po, b, len, reply, sizeof(reply)), 0);
	CHECK(strncmp(reply, "ok 6 ", 5) == 0);
	struct matcher *m = matcher_slot_take(&slot);
	CHECK(m != NULL);
	matcher_unref(m);
	/* a plain client gets no answer from a CURVE server */
	struct control_push_opts plain = {.timeout_ms = 300};
	CHECK(control_push(control_endpoint(c), &plain, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error timeout", 13) == 0);
	CHECK(matcher_slot_take(&slot) == NULL);
	free(b);
	control_stop(c);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *b = slurp(from, &len);
	char tmp[700];
	snprintf(tmp, sizeof(tmp), "%s.part", to); /* not *.tsb: never picked up half-written */
	FILE *f = fopen(tmp, "wb");
	fwrite(b, 1, len, f);
	fclose(f);
	rename(tmp, to);
	free(b);
}

/* Waits (bounded) for a condition the watcher thread will make true. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		for (int _i = 0; _i < 2000 && !(cond); _i++)                                       \
			usleep(10000);                                                             \
	} while (0)

static void test_watch(void)
{
	char err[1024], d[600];
	snprintf(d, sizeof(d), "%s/drop", tmpdir);
	mkdir(d, 0700);
	struct bundle_trust t;
	trust_init(&t);
	trust_add_key(&t, pk1);
	struct matcher_slot slot = {0};
	struct control_live live = {0};
	struct rules_watch_config wc = {.dir = d, .trust = &t, .interval_ms = 20, .live = &live};
	struct rules_watch *w = rules_watch_start(&wc, matcher_slot_cb, &slot, err, sizeof(err));
	CHECK(w != NULL);
	if (!w)
		return;
	char dst[700];
	snprintf(dst, sizeof(dst), "%s/set.tsb", d);
	copy_file("v6.tsb", dst);
	struct matcher *m = NULL;
	WAIT_FOR((m = matcher_slot_take(&slot)) != NULL);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 6);
	matcher_unref(m);
	CHECK_EQ_INT(live.version, 6);
	/* an unsigned newer one is rejected; the live set stays */
	snprintf(dst, sizeof(dst), "%s/z-unsigned.tsb", d);
	copy_file("v7u.tsb", dst);
	WAIT_FOR(rules_watch_rejected(w) >= 1);
	CHECK_EQ_INT(rules_watch_rejected(w), 1);
	CHECK(matcher_slot_take(&slot) == NULL);
	CHECK_EQ_INT(live.version, 6);
	/* a newer signed one replaces set.tsb in place */
	char id[SIGN_KEYID_HEX];
	CHECK_EQ_INT(write_bundle(NULL, 8, "v8.tsb", NULL), 0);
	CHECK_EQ_INT(bundle_sign(path_in("v8.tsb"), sk1, id, err, sizeof(err)), 0);
	snprintf(dst, sizeof(dst), "%s/set.tsb", d);
	copy_file("v8.tsb", dst);
	m = NULL;
	WAIT_FOR((m = matcher_slot_take(&slot)) != NULL);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 8);
	matcher_unref(m);
	CHECK_EQ_INT(rules_watch_loaded(w), 2);
	rules_watch_stop(w);
	/* a matcher still pending in the slot is the caller's to drop */
	matcher_unref(matcher_slot_take(&slot));
	trust_free(&t);
}

/* The whole path: a bundle pushed over a real socket becomes live in a
 * running engine through the pending-swap slot, polled by the producer like
 * the capture loop does.  Every document is matched, each by exactly the set
 * that was live when it was fed. */
static void test_push_swap_engine(void)
{
	char err[1024], reply[1400], ep[700];
	const char *ra = "100 set_a \"alpha marker\"\n", *rb = "200 set_b \"alpha marker\"\n";
	struct ruleset a, b;
	ruleset_init(&a);
	ruleset_init(&b);
	ruleset_add_buffer(&a, "a.rules", ra, strlen(ra), err, sizeof(err));
	ruleset_add_buffer(&b, "b.rules", rb, strlen(rb), err, sizeof(err));
	ruleset_finish(&a);
	ruleset_finish(&b);
	struct matcher *ma = matcher_build(&a, NORM_ALL, err, sizeof(err));
	struct matcher *mb = matcher_build(&b, NORM_ALL, err, sizeof(err));
	CHECK(ma && mb);
	ma->version = 1;
	CHECK_EQ_INT(bundle_write(mb, 2, path_in("swap-b.tsb"), NULL, err, sizeof(err)), 0);
	matcher_free(mb);
	struct collect *c = calloc(1, sizeof(*c));
	c->base.emit = collect_emit;
	pthread_mutex_init(&c->mu, NULL);
	struct engine_config cfg;
	engine_config_default(&cfg);
	cfg.threads = 2;
	struct engine *e = engine_new(&cfg, ma, &c->base);
	struct matcher_slot slot = {0};
	struct control_live live = {.version = 1};
	snprintf(ep, sizeof(ep), "ipc://%s/swap.sock", tmpdir);
	struct control_config cc = {.endpoint = ep, .live = &live};
	struct control *ctl = control_start(&cc, matcher_slot_cb, &slot, err, sizeof(err));
	CHECK(ctl != NULL);
	size_t len;
	uint8_t *buf = slurp("swap-b.tsb", &len);
	struct matcher *live_m = ma;
	int swapped_at = -1, ndocs = 200;
	for (int i = 0; i < ndocs; i++) {
		char name[32], doc[64];
		snprintf(name, sizeof(name), "%d", i);
		snprintf(doc, sizeof(doc), "doc %d: alpha  marker here", i);
		if (i == 80) {
			struct control_push_opts po = {.timeout_ms = 20000};
			CHECK_EQ_INT(control_push(control_endpoint(ctl), &po, buf, len, reply,
			                          sizeof(reply)),
			             0);
		}
		/* the capture loop's poll */
		struct matcher *nm = matcher_slot_take(&slot);
		if (nm) {
			CHECK_EQ_INT(engine_set_matcher(e, nm), 0);
			if (live_m != ma)
				matcher_unref(live_m);
			live_m = nm;
			swapped_at = i;
		}
		engine_text(e, name, (const uint8_t *)doc, strlen(doc));
	}
	engine_finish(e);
	CHECK_EQ_INT(swapped_at, 80);
	CHECK_EQ_INT(c->n, ndocs);
	int bad = 0;
	for (int i = 0; i < c->n; i++) {
		int d = atoi(c->v[i].file);
		int want = d < swapped_at ? 100 : 200;
		if ((int)c->v[i].rule_id != want ||
		    c->v[i].ruleset_version != (uint64_t)(d < swapped_at ? 1 : 2))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	engine_free(e);
	control_stop(ctl);
	if (live_m != ma)
		matcher_unref(live_m);
	CHECK_EQ_INT(ma->refs, 1); /* the engine let go of the old set */
	matcher_free(ma);
	ruleset_free(&a);
	ruleset_free(&b);
	free(buf);
	free(c);
}

static int gw_rollbacks;

static void gw_log(void *ud, const char *line)
{
	(void)ud;
	if (strstr(line, "old.tsb: error rollback"))
		__atomic_add_fetch(&gw_rollbacks, 1, __ATOMIC_RELAXED);
}

/* The one-object API run uses: shared trust, live version, slot. */
static void test_gateway_rules(void)
{
	char err[1024], reply[1400], ep[700], d[600];
	snprintf(ep, sizeof(ep), "ipc://%s/gw.sock", tmpdir);
	snprintf(d, sizeof(d), "%s/gwdrop", tmpdir);
	mkdir(d, 0700);
	const char *trust[] = {path_in("author.pub")};
	struct gateway_rules_opts go = {.control_ep = ep,
	                                .rules_dir = d,
	                                .trust = trust,
	                                .ntrust = 1,
	                                .dir_interval_ms = 20,
	                                .live_version = 6,
	                                .log = gw_log};
	struct gateway_rules *g = gateway_rules_start(&go, err, sizeof(err));
	CHECK(g != NULL);
	if (!g) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_STR(gateway_rules_endpoint(g), ep);
	struct control_push_opts po = {.timeout_ms = 20000};
	size_t len;
	uint8_t *b = slurp("v4.tsb", &len);
	CHECK(control_push(ep, &po, b, len, reply, sizeof(reply)) != 0);
	CHECK(strncmp(reply, "error rollback", 14) == 0);
	free(b);
	b = slurp("v8.tsb", &len);
	CHECK_EQ_INT(control_push(ep, &po, b, len, reply, sizeof(reply)), 0);
	struct matcher *m = gateway_rules_take(g);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 8);
	/* the engine refused it: version 8 is not live, a second push works */
	gateway_rules_swap_failed(g, 6);
	matcher_unref(m);
	CHECK_EQ_INT(control_status(ep, &po, reply, sizeof(reply)), 0);
	CHECK(strncmp(reply, "ok 6 ", 5) == 0);
	CHECK_EQ_INT(control_push(ep, &po, b, len, reply, sizeof(reply)), 0);
	CHECK(strstr(reply, "already live") == NULL);
	free(b);
	/* the directory sees the same live version: an older file is refused */
	char dst[700];
	snprintf(dst, sizeof(dst), "%s/old.tsb", d);
	copy_file("v6.tsb", dst);
	WAIT_FOR(__atomic_load_n(&gw_rollbacks, __ATOMIC_RELAXED) >= 1);
	CHECK_EQ_INT(gw_rollbacks, 1);
	/* pending: the v8 from the second push; stop releases nothing else */
	m = gateway_rules_take(g);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->version, 8);
	matcher_unref(m);
	CHECK(gateway_rules_take(g) == NULL);
	gateway_rules_stop(g);
	/* bad trust path: a clear error */
	const char *bad[] = {path_in("nonexistent.pub")};
	go.trust = bad;
	CHECK(gateway_rules_start(&go, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "--trust") != NULL);
}

static void rm_rf(const char *dir)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tsf-bundle-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 2;
	RUN(test_round_trip);
	RUN(test_load_windows);
	RUN(test_cache);
	RUN(test_keys);
	RUN(test_sign_and_reject);
	RUN(test_platform_and_fields);
	RUN(test_describe);
	RUN(test_control);
	RUN(test_control_curve);
	RUN(test_watch);
	RUN(test_push_swap_engine);
	RUN(test_gateway_rules);
	rm_rf(tmpdir);
	return UNIT_DONE();
}
