/* cmd_bundle.c - `tapsift rules compile|info|keygen|sign|verify|push`.
 *
 * Thin wrappers: the work is in bundle.c, sign.c and control.c.  Exit codes
 * follow cli.h: 0 ok, 1 runtime failure (I/O, a gateway refused), 2 usage or
 * invalid input (bad rules, rejected bundle).
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bundle.h"
#include "cli.h"
#include "control.h"
#include "match_lit.h"
#include "normalize.h"
#include "ruleset.h"
#include "sign.h"

const char cmd_rules_bundle_help[] =
    "  compile FILE... -o OUT.tsb   compile rule files into a bundle\n"
    "  info BUNDLE                  describe a bundle (verifies its hash)\n"
    "  verify BUNDLE --trust K      load a bundle exactly as a gateway would\n"
    "  keygen -o NAME               new Ed25519 signing key: NAME.key, NAME.pub\n"
    "  sign BUNDLE --key NAME.key   add or replace a bundle's signature\n"
    "  push BUNDLE --to EP...       send a bundle to gateways' control sockets\n"
    "  serve --control EP           accept pushed bundles like a gateway (no capture)\n";

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Prints the usage to stdout if -h or --help is among the arguments. */
static int want_help(int argc, char **argv, const char *use)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(use, stdout);
			return 1;
		}
	return 0;
}

/* An option of a rules subcommand: a flag sets the int at dst to 1; the
 * others take the next argument, which a string keeps at dst, a list adds to
 * the struct arglist at dst, and a call hands to set(dst, value) (nonzero:
 * refused, and set said why).  Without its value an option matches nothing,
 * so it is refused like any other unknown argument. */
struct opt {
	const char *name, *alias;
	enum { OPT_FLAG, OPT_STR, OPT_LIST, OPT_CALL } kind;
	void *dst;
	int (*set)(void *dst, const char *val);
};

struct arglist {
	const char **v; /* room for argc entries */
	int n;
};

/* Parses the arguments of `tapsift rules SUB` by opts (ended by {0}).
 * Other arguments are operands: any number of them, added to files, when
 * files is given (then an unknown option is one that starts with '-' but is
 * not "-"); else one at most, kept in *operand (no operands when NULL).
 * Returns 0, or -1 after a message: a usage error. */
static int parse_opts(const char *sub, const char *use, const struct opt *opts, int argc,
                      char **argv, const char **operand, struct arglist *files)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const struct opt *o = opts;
		while (o->name && strcmp(a, o->name) && !(o->alias && !strcmp(a, o->alias)))
			o++;
		if (o->name && o->kind == OPT_FLAG) {
			*(int *)o->dst = 1;
		} else if (o->name && i + 1 < argc) {
			const char *v = argv[++i];
			if (o->kind == OPT_STR) {
				*(const char **)o->dst = v;
			} else if (o->kind == OPT_LIST) {
				struct arglist *l = o->dst;
				l->v[l->n++] = v;
			} else if (o->set(o->dst, v)) {
				return -1;
			}
		} else if (files && !(a[0] == '-' && a[1])) {
			files->v[files->n++] = a;
		} else if (files) {
			fprintf(stderr, "tapsift rules %s: unknown option '%s'\n%s", sub, a, use);
			return -1;
		} else if (operand && a[0] != '-' && !*operand) {
			*operand = a;
		} else {
			fprintf(stderr, "tapsift rules %s: unexpected '%s'\n%s", sub, a, use);
			return -1;
		}
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *e;
	errno = 0;
	unsigned long long x = strtoull(s, &e, 10);
	if (errno || !*s || *e || *s == '-')
		return -1;
	*v = x;
	return 0;
}

static int set_version(void *version, const char *v)
{
	if (parse_u64(v, version) || !*(uint64_t *)version) {
		fprintf(stderr, "tapsift: --version needs a positive integer\n");
		return -1;
	}
	return 0;
}

static int set_normalize(void *norm_flags, const char *v)
{
	const char *bad = NULL;
	if (norm_parse_flags(v, norm_flags, &bad)) {
		fprintf(stderr, "tapsift: --normalize: unknown step '%s'\n", bad ? bad : v);
		return -1;
	}
	return 0;
}

static int set_matcher(void *match_opts, const char *v)
{
	unsigned *m = match_opts;
	*m &= ~(MATCH_HS_ONLY | MATCH_INDEX_ALL);
	if (!strcmp(v, "hs")) {
		*m |= MATCH_HS_ONLY;
	} else if (!strcmp(v, "index")) {
		*m |= MATCH_INDEX_ALL;
	} else if (strcmp(v, "tiered")) {
		fprintf(stderr, "tapsift: --matcher must be tiered, index or hs\n");
		return -1;
	}
	return 0;
}

static int rules_compile(int argc, char **argv)
{
	static const char use[] =
	    "usage: tapsift rules compile FILE... -o OUT.tsb [--version N] [--normalize STEPS]\n"
	    "                             [--cache DIR | --no-cache] [--jobs N] [-q]\n\n"
	    "Parses and compiles the rule files as scan/run would and writes one bundle\n"
	    "(atomically).  --version defaults to the current UNIX time; gateways refuse\n"
	    "a version older than their live one.  Compiled databases are cached per\n"
	    "layer in --cache DIR (default $XDG_CACHE_HOME/tapsift or ~/.cache/tapsift):\n"
	    "recompiling an unchanged layer is a load.  Unsigned: see 'rules sign'.\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	struct bundle_compile_opts o = {.norm_flags = NORM_ALL};
	const char *out = NULL, *jobs = NULL;
	char cache[4096], err[1024];
	int no_cache = 0, quiet = 0;
	const char *cache_dir = NULL;
	struct ruleset rs;
	ruleset_init(&rs);
	struct arglist files = {calloc((size_t)argc, sizeof(*files.v)), 0};
	int rc = EXIT_USAGE;
	if (!files.v)
		return EXIT_FAIL;
	const struct opt opts[] = {
	    {"-o", "--output", OPT_STR, &out, NULL},
	    {"--version", NULL, OPT_CALL, &o.version, set_version},
	    {"--normalize", NULL, OPT_CALL, &o.norm_flags, set_normalize},
	    {"--matcher", NULL, OPT_CALL, &o.match_opts, set_matcher},
	    {"--cache", NULL, OPT_STR, &cache_dir, NULL},
	    {"--no-cache", NULL, OPT_FLAG, &no_cache, NULL},
	    {"--jobs", NULL, OPT_STR, &jobs, NULL},
	    {"-q", "--quiet", OPT_FLAG, &quiet, NULL},
	    {0},
	};
	if (parse_opts("compile", use, opts, argc, argv, NULL, &files))
		goto done;
	if (jobs)
		o.jobs = atoi(jobs);
	if (!files.n || !out) {
		fputs(use, stderr);
		goto done;
	}
	if (!no_cache)
		o.cache_dir =
		    cache_dir ? cache_dir : bundle_default_cache_dir(cache, sizeof(cache));
	o.progress = quiet ? NULL : stderr;
	double t0 = now_s();
	for (int i = 0; i < files.n; i++) {
		if (!quiet)
			fprintf(stderr, "parse: %s\n", files.v[i]);
		int r = ruleset_add_file(&rs, files.v[i], err, sizeof(err));
		if (r) {
			fprintf(stderr, "%s\n", err);
			rc = r == -2 ? EXIT_FAIL : EXIT_USAGE;
			goto done;
		}
	}
	ruleset_finish(&rs);
	double t1 = now_s();
	struct bundle_compile_stats st;
	memset(&st, 0, sizeof(st));
	/* compile and write separately: a bad rule is invalid input (2), an
	 * unwritable output a runtime failure (1) */
	struct matcher *m = bundle_build_matcher(&rs, &o, &st, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "%s\n", err);
		rc = EXIT_USAGE;
		goto done;
	}
	double tw = now_s();
	if (o.progress)
		fprintf(o.progress, "write: %s\n", out);
	int wr = bundle_write(m, o.version ? o.version : (uint64_t)time(NULL), out, &st.bytes, err,
	                      sizeof(err));
	st.write_s = now_s() - tw;
	matcher_free(m);
	if (wr) {
		fprintf(stderr, "tapsift: %s\n", err);
		rc = EXIT_FAIL;
		goto done;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("ok: %s: %zu rules, %zu bytes; parsed %.2f s, compiled %.2f s (%d layer(s) "
	       "compiled, %d from cache), written %.2f s; peak RSS %ld MB\n",
	       out, rs.n, st.bytes, t1 - t0, st.compile_s, st.layers_compiled, st.layers_cached,
	       st.write_s, ru.ru_maxrss / 1024);
	rc = EXIT_OK;
done:
	free(files.v);
	ruleset_free(&rs);
	return rc;
}

static int set_trust(void *t, const char *path)
{
	char err[1024];
	if (trust_add(t, path, err, sizeof(err))) {
		fprintf(stderr, "tapsift: --trust: %s\n", err);
		return -1;
	}
	return 0;
}

static int rules_info(int argc, char **argv)
{
	static const char use[] =
	    "usage: tapsift rules info BUNDLE [--trust DIR|FILE]... [--load]\n\n"
	    "Describes a bundle: version, hash, creation time, signature key id, rules per\n"
	    "layer, categories, section sizes, Hyperscan version and CPU features.  The\n"
	    "hash is always verified, the signature when present.  --load also loads it\n"
	    "the way a gateway does and reports the time and resident memory.\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	struct bundle_trust t;
	trust_init(&t);
	const char *path = NULL;
	int load = 0, rc = EXIT_USAGE;
	const struct opt opts[] = {
	    {"--trust", NULL, OPT_CALL, &t, set_trust},
	    {"--load", NULL, OPT_FLAG, &load, NULL},
	    {0},
	};
	if (parse_opts("info", use, opts, argc, argv, &path, NULL))
		goto done;
	if (!path) {
		fputs(use, stderr);
		goto done;
	}
	char err[1024];
	size_t len;
	const uint8_t *buf = bundle_map_file(path, &len, err, sizeof(err));
	if (!buf) {
		fprintf(stderr, "tapsift: %s\n", err);
		rc = EXIT_FAIL;
		goto done;
	}
	int r = bundle_describe(stdout, buf, len, &t, err, sizeof(err));
	bundle_unmap_file(buf, len);
	if (r) {
		fprintf(stderr, "tapsift: %s: %s\n", path, err);
		goto done;
	}
	rc = EXIT_OK;
	if (load) {
		struct bundle_load_opts o = {.trust = &t};
		struct bundle_info info;
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		struct matcher *m = bundle_load_file(path, &o, &info, err, sizeof(err));
		if (!m) {
			fprintf(stderr, "tapsift: load: %s\n", err);
			rc = EXIT_USAGE;
			goto done;
		}
		getrusage(RUSAGE_SELF, &r1);
		long rss = 0;
		FILE *f = fopen("/proc/self/statm", "r");
		if (f) {
			long size;
			if (fscanf(f, "%ld %ld", &size, &rss) != 2)
				rss = 0;
			fclose(f);
		}
		printf(
		    "load       %.3f s, databases %zu bytes, literal index %zu bytes, resident %ld "
		    "MB, peak %ld MB\n",
		    info.load_s, matcher_db_size(m), m->lit ? litidx_memsize(m->lit) : 0,
		    rss * 4096 / (1024 * 1024), r1.ru_maxrss / 1024);
		matcher_unref(m);
	}
done:
	trust_free(&t);
	return rc;
}

static int set_min_version(void *min_version, const char *v)
{
	if (parse_u64(v, min_version)) {
		fprintf(stderr, "tapsift: --min-version needs an integer\n");
		return -1;
	}
	return 0;
}

static int rules_verify(int argc, char **argv)
{
	static const char use[] =
	    "usage: tapsift rules verify BUNDLE [--trust DIR|FILE]... [--min-version N]\n"
	    "                            [--allow-recompile]\n\n"
	    "Verifies and loads a bundle exactly as a gateway would; prints 'ok VERSION\n"
	    "HASH' or the reason it would be rejected (exit 2).\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	struct bundle_trust t;
	trust_init(&t);
	struct bundle_load_opts o = {.trust = &t};
	const char *path = NULL;
	int rc = EXIT_USAGE;
	const struct opt opts[] = {
	    {"--trust", NULL, OPT_CALL, &t, set_trust},
	    {"--min-version", NULL, OPT_CALL, &o.min_version, set_min_version},
	    {"--allow-recompile", NULL, OPT_FLAG, &o.allow_recompile, NULL},
	    {0},
	};
	if (parse_opts("verify", use, opts, argc, argv, &path, NULL))
		goto done;
	if (!path) {
		fputs(use, stderr);
		goto done;
	}
	char err[1024];
	struct bundle_info info;
	struct matcher *m = bundle_load_file(path, &o, &info, err, sizeof(err));
	if (!m) {
		printf("error %s: %s\n", bundle_status_name(info.status), err);
		rc = info.status == BUNDLE_E_IO ? EXIT_FAIL : EXIT_USAGE;
		goto done;
	}
	printf("ok %llu %s%s (%zu rules, loaded in %.3f s)\n", (unsigned long long)info.version,
	       info.hash, info.recompiled ? " recompiled" : "", m->rs->n, info.load_s);
	matcher_unref(m);
	rc = EXIT_OK;
done:
	trust_free(&t);
	return rc;
}

static int rules_keygen(int argc, char **argv)
{
	static const char use[] = "usage: tapsift rules keygen -o NAME\n\n"
	                          "Writes NAME.key (Ed25519 secret key, mode 0600, never "
	                          "overwritten) and NAME.pub\n"
	                          "(give it to gateways: --trust).\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	const char *out = NULL;
	const struct opt opts[] = {{"-o", "--output", OPT_STR, &out, NULL}, {0}};
	if (parse_opts("keygen", use, opts, argc, argv, &out, NULL))
		return EXIT_USAGE;
	if (!out) {
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	char err[1024], id[SIGN_KEYID_HEX];
	if (sign_keygen(out, id, err, sizeof(err))) {
		fprintf(stderr, "tapsift: %s\n", err);
		return EXIT_FAIL;
	}
	printf("ok: key id %s\n", id);
	return EXIT_OK;
}

static int rules_sign(int argc, char **argv)
{
	static const char use[] = "usage: tapsift rules sign BUNDLE --key NAME.key\n\n"
	                          "Adds (or replaces) the bundle's Ed25519 signature block, in "
	                          "place and atomically.\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	const char *path = NULL, *key = NULL;
	const struct opt opts[] = {{"--key", NULL, OPT_STR, &key, NULL}, {0}};
	if (parse_opts("sign", use, opts, argc, argv, &path, NULL))
		return EXIT_USAGE;
	if (!path || !key) {
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	uint8_t sk[SIGN_SK_LEN];
	char err[1024], id[SIGN_KEYID_HEX];
	if (sign_load_secret(key, sk, err, sizeof(err))) {
		fprintf(stderr, "tapsift: %s\n", err);
		return EXIT_USAGE;
	}
	int r = bundle_sign(path, sk, id, err, sizeof(err));
	memset(sk, 0, sizeof(sk));
	if (r) {
		fprintf(stderr, "tapsift: %s\n", err);
		return EXIT_FAIL;
	}
	printf("ok: %s signed by key %s\n", path, id);
	return EXIT_OK;
}

static int rules_push(int argc, char **argv)
{
	static const char use[] =
	    "usage: tapsift rules push BUNDLE --to EP [--to EP]... [--timeout S]\n"
	    "                          [--curve-server-key PUB] [--curve-key SECRET]\n"
	    "                          [--chunk-bytes N]\n\n"
	    "Sends the bundle to each gateway's control socket (tapsift run --control EP)\n"
	    "and prints each answer: 'EP: ok VERSION HASH' or 'EP: error REASON'.\n"
	    "--curve-server-key: the gateway's CURVE public key file (required for a\n"
	    "gateway serving CURVE); --curve-key: own secret key file (default: an\n"
	    "ephemeral key).  Bundles larger than --chunk-bytes (default 4 MiB) go in\n"
	    "chunks that the gateway spools to a file.  Exit 0 only if every gateway\n"
	    "accepted.\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	const char *path = NULL, *server_key = NULL, *client_key = NULL;
	const char *timeout_s = NULL, *chunk_s = NULL;
	struct arglist eps = {calloc((size_t)argc, sizeof(*eps.v)), 0};
	double timeout = 30;
	size_t chunk = 0;
	if (!eps.v)
		return EXIT_FAIL;
	const struct opt opts[] = {
	    {"--to", NULL, OPT_LIST, &eps, NULL},
	    {"--timeout", NULL, OPT_STR, &timeout_s, NULL},
	    {"--curve-server-key", NULL, OPT_STR, &server_key, NULL},
	    {"--curve-key", NULL, OPT_STR, &client_key, NULL},
	    {"--chunk-bytes", NULL, OPT_STR, &chunk_s, NULL},
	    {0},
	};
	if (parse_opts("push", use, opts, argc, argv, &path, NULL)) {
		free(eps.v);
		return EXIT_USAGE;
	}
	if (timeout_s)
		timeout = atof(timeout_s);
	if (chunk_s)
		chunk = (size_t)strtoull(chunk_s, NULL, 10);
	if (!path || !eps.n || timeout <= 0) {
		fputs(use, stderr);
		free(eps.v);
		return EXIT_USAGE;
	}
	char err[1024];
	size_t len;
	const uint8_t *buf = bundle_map_file(path, &len, err, sizeof(err));
	if (!buf) {
		fprintf(stderr, "tapsift: %s\n", err);
		free(eps.v);
		return EXIT_FAIL;
	}
	int ok = 0;
	for (int i = 0; i < eps.n; i++) {
		char reply[1024];
		struct control_push_opts po = {.timeout_ms = (int)(timeout * 1000),
		                               .server_key_file = server_key,
		                               .client_key_file = client_key,
		                               .chunk_bytes = chunk};
		int r = control_push(eps.v[i], &po, buf, len, reply, sizeof(reply));
		printf("%s: %s\n", eps.v[i], reply);
		fflush(stdout);
		ok += r == 0;
	}
	bundle_unmap_file(buf, len);
	free(eps.v);
	return ok == eps.n ? EXIT_OK : EXIT_FAIL;
}

static volatile sig_atomic_t serve_stop;

static void on_signal(int sig)
{
	(void)sig;
	serve_stop = 1;
}

static void serve_log(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "tapsift: rules: %s\n", line);
}

/* A gateway without capture: what `run` does with bundles (gateway_rules
 * plus the swap poll), so a push path (keys, CURVE, trust, versions) can be
 * tested before it matters. */
static int rules_serve(int argc, char **argv)
{
	static const char use[] =
	    "usage: tapsift rules serve [--control EP] [--rules-dir DIR] [--trust DIR|FILE]...\n"
	    "                           [--bundle FILE] [--allow-rollback] [--allow-recompile]\n"
	    "                           [--curve-secret F] [--curve-allow F] [--count N]\n"
	    "                           [--interval-ms MS]\n\n"
	    "Accepts bundles exactly like a gateway (control socket and/or watched\n"
	    "directory) and prints 'live VERSION RULESET RULES' for each set that becomes\n"
	    "live; stops on SIGINT/SIGTERM or after --count sets.  --bundle: the set live\n"
	    "at start (its version is the rollback floor).\n";
	if (want_help(argc, argv, use))
		return EXIT_OK;
	struct gateway_rules_opts go = {.log = serve_log};
	struct arglist trust = {calloc((size_t)argc, sizeof(*trust.v)), 0};
	const char *initial = NULL, *count_s = NULL, *interval_s = NULL;
	long count = 0;
	int rc = EXIT_USAGE;
	struct matcher *live = NULL;
	if (!trust.v)
		return EXIT_FAIL;
	const struct opt opts[] = {
	    {"--control", NULL, OPT_STR, &go.control_ep, NULL},
	    {"--rules-dir", NULL, OPT_STR, &go.rules_dir, NULL},
	    {"--trust", NULL, OPT_LIST, &trust, NULL},
	    {"--bundle", NULL, OPT_STR, &initial, NULL},
	    {"--allow-rollback", NULL, OPT_FLAG, &go.allow_rollback, NULL},
	    {"--allow-recompile", NULL, OPT_FLAG, &go.allow_recompile, NULL},
	    {"--curve-secret", NULL, OPT_STR, &go.curve_secret_file, NULL},
	    {"--curve-allow", NULL, OPT_STR, &go.curve_allow_file, NULL},
	    {"--count", NULL, OPT_STR, &count_s, NULL},
	    {"--interval-ms", NULL, OPT_STR, &interval_s, NULL},
	    {0},
	};
	if (parse_opts("serve", use, opts, argc, argv, NULL, NULL))
		goto done;
	go.trust = trust.v;
	go.ntrust = trust.n;
	if (count_s)
		count = atol(count_s);
	if (interval_s)
		go.dir_interval_ms = (unsigned)atoi(interval_s);
	if (!go.control_ep && !go.rules_dir) {
		fputs(use, stderr);
		goto done;
	}
	char err[1024];
	gateway_malloc_policy(); /* as `run` does */
	if (initial) {
		live = bundle_open_for_setup(initial, go.trust, go.ntrust, go.allow_recompile, &rc);
		if (!live)
			goto done;
		go.live_version = live->version;
		printf("live %llu %s %zu\n", (unsigned long long)live->version, live->rs->hash,
		       live->rs->n);
		fflush(stdout);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct gateway_rules *g = gateway_rules_start(&go, err, sizeof(err));
	if (!g) {
		fprintf(stderr, "tapsift: %s\n", err);
		rc = EXIT_FAIL;
		goto done;
	}
	if (go.control_ep) {
		fprintf(stderr, "tapsift: control socket on %s\n", gateway_rules_endpoint(g));
		fflush(stderr);
	}
	long n = 0;
	while (!serve_stop && (!count || n < count)) {
		/* what the capture loop does on each poll */
		struct matcher *m = gateway_rules_take(g);
		if (!m) {
			usleep(20000);
			continue;
		}
		matcher_unref(live);
		live = m;
		n++;
		printf("live %llu %s %zu\n", (unsigned long long)m->version, m->rs->hash, m->rs->n);
		fflush(stdout);
	}
	gateway_rules_stop(g);
	rc = EXIT_OK;
done:
	matcher_unref(live);
	free(trust.v);
	return rc;
}

int cmd_rules_bundle(int argc, char **argv)
{
	if (!strcmp(argv[0], "compile"))
		return rules_compile(argc, argv);
	if (!strcmp(argv[0], "info"))
		return rules_info(argc, argv);
	if (!strcmp(argv[0], "verify"))
		return rules_verify(argc, argv);
	if (!strcmp(argv[0], "keygen"))
		return rules_keygen(argc, argv);
	if (!strcmp(argv[0], "sign"))
		return rules_sign(argc, argv);
	if (!strcmp(argv[0], "push"))
		return rules_push(argc, argv);
	if (!strcmp(argv[0], "serve"))
		return rules_serve(argc, argv);
	return -1;
}
