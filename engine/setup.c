/* setup.c - options, config files, rule loading and sinks shared by the
 * commands that run the engine. */
#include "setup.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "cli.h"
#include "control.h"
#include "normalize.h"
#include "publish.h"

const char setup_common_help[] =
    "  -r, --rules FILE        rule file (repeatable; at least one)\n"
    "  -f, --format json|text  verdict output format (default json)\n"
    "  -q, --quiet             no verdicts on stdout\n"
    "      --no-stats          no statistics on stderr at the end\n"
    "      --rule-stats N      with the statistics, the N rules with the most verdicts\n"
    "  -t, --threads N         worker threads (default: one per CPU)\n"
    "      --normalize STEPS   nfkc,ignorable,separators,t2s,confusables | all | none\n"
    "      --matcher M         tiered (default: literals in the index from 20k on),\n"
    "                          index (every literal of 6-255 bytes in the index), hs\n"
    "      --max-flows N       flows per worker before the oldest is evicted\n"
    "      --stream-depth N    bytes inspected per flow direction (0 = all)\n"
    "      --reasm-memcap N    out-of-order bytes buffered per flow direction\n"
    "      --reasm-memcap-global N  ... per worker\n"
    "      --tcp-timeout S     idle timeout of TCP flows (seconds)\n"
    "      --udp-timeout S     idle timeout of UDP flows (seconds)\n"
    "      --frag-timeout S    drop an IP datagram still incomplete S seconds after its\n"
    "                          first fragment (default 30)\n"
    "      --frag-memcap N     bytes held by IP fragment reassembly (default 32 MiB)\n"
    "      --no-defrag         count and skip IP fragments instead of reassembling\n"
    "      --publish EP        publish verdicts on a ZeroMQ endpoint (tcp://, ipc://)\n"
    "      --publish-wait N    wait (up to 5 s) for N subscribers before publishing\n"
    "      --publish-hwm N     send high-water mark, batches per subscriber (100000)\n"
    "      --journal DIR       keep published verdicts in a journal for replay\n"
    "      --journal-max BYTES journal size cap (default 1 GiB)\n"
    "      --journal-fsync none|batch|always  (default batch)\n"
    "      --replay-endpoint EP  serve journal replay requests on EP\n"
    "      --sensor ID         sensor id in published verdicts (default host name)\n"
    "      --curve-secret FILE CURVE secret key of this sensor (encrypts --publish)\n"
    "      --curve-allow FILE  public keys of admitted subscribers\n"
    "      --bundle FILE       a compiled rule bundle instead of --rules (docs/bundles.md)\n"
    "      --trust PATH        trusted author keys (.pub file or directory; repeatable):\n"
    "                          with any, only bundles signed by one of them load\n"
    "      --allow-recompile   recompile a bundle built for another Hyperscan/CPU\n"
    "  -c, --config FILE       read options from FILE (\"key value\" lines)\n";

void setup_opts_default(struct setup_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fmt = VFMT_JSON;
	o->norm_flags = NORM_ALL;
	engine_config_default(&o->ecfg);
}

static int parse_u64(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x > max || v[0] == '-') {
		fprintf(stderr, "tapsift: %s: invalid number '%s'\n", opt, v);
		return -1;
	}
	*out = x;
	return 0;
}

/* Matches "--name value", "--name=value" and the short form "-x value". */
static int opt_val(const char *name, char shortc, int argc, char **argv, int *i, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, name, n)) {
		if (a[2 + n] == '=') {
			*val = a + 3 + n;
			return 1;
		}
		if (a[2 + n] != 0)
			return 0;
	} else if (!(shortc && a[0] == '-' && a[1] == shortc && a[2] == 0)) {
		return 0;
	}
	if (*i + 1 >= argc) {
		fprintf(stderr, "tapsift: option %s needs a value\n", a);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

/* Options that only set a flag, or only keep their string value. */
static const struct {
	const char *name;
	size_t off;
} flag_opts[] =
    {
        {"quiet", offsetof(struct setup_opts, quiet)},
        {"no-stats", offsetof(struct setup_opts, no_stats)},
        {"allow-recompile", offsetof(struct setup_opts, allow_recompile)},
        {"allow-rollback", offsetof(struct setup_opts, allow_rollback)},
        {"no-defrag", offsetof(struct setup_opts, ecfg.no_defrag)},
},
  str_opts[] = {
      {"publish", offsetof(struct setup_opts, publish)},
      {"journal", offsetof(struct setup_opts, journal_dir)},
      {"replay-endpoint", offsetof(struct setup_opts, replay_ep)},
      {"sensor", offsetof(struct setup_opts, sensor)},
      {"curve-secret", offsetof(struct setup_opts, curve_secret)},
      {"curve-allow", offsetof(struct setup_opts, curve_allow)},
      {"bundle", offsetof(struct setup_opts, bundle)},
      {"control", offsetof(struct setup_opts, control_ep)},
      {"rules-dir", offsetof(struct setup_opts, rules_dir)},
      {"control-curve-secret", offsetof(struct setup_opts, control_curve_secret)},
      {"control-curve-allow", offsetof(struct setup_opts, control_curve_allow)},
};

int setup_parse_opt(struct setup_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL;
	uint64_t x;
	int r;
	if (!strcmp(a, "-q")) {
		o->quiet = 1;
		return 1;
	}
	for (size_t k = 0; k < sizeof(flag_opts) / sizeof(flag_opts[0]); k++)
		if (a[0] == '-' && a[1] == '-' && !strcmp(a + 2, flag_opts[k].name)) {
			*(int *)((char *)o + flag_opts[k].off) = 1;
			return 1;
		}
	for (size_t k = 0; k < sizeof(str_opts) / sizeof(str_opts[0]); k++) {
		if ((r = opt_val(str_opts[k].name, 0, argc, argv, i, &v)) < 0)
			return -1;
		if (r) {
			*(const char **)((char *)o + str_opts[k].off) = v;
			return 1;
		}
	}
/* VAL(name, c) { ... }: the block runs when argv[*i] is that option. */
#define VAL(name, c)                                                                               \
	if ((r = opt_val(name, c, argc, argv, i, &v)) < 0)                                         \
		return -1;                                                                         \
	if (r)
	VAL("rules", 'r')
	{
		if (o->nrules == SETUP_MAX_RULES) {
			fprintf(stderr, "tapsift: too many --rules (max %d)\n", SETUP_MAX_RULES);
			return -1;
		}
		o->rules[o->nrules++] = v;
		return 1;
	}
	VAL("format", 'f')
	{
		if (!strcmp(v, "json"))
			o->fmt = VFMT_JSON;
		else if (!strcmp(v, "text"))
			o->fmt = VFMT_TEXT;
		else {
			fprintf(stderr, "tapsift: --format must be json or text\n");
			return -1;
		}
		return 1;
	}
	VAL("threads", 't')
	{
		if (parse_u64("--threads", v, 256, &x))
			return -1;
		o->ecfg.threads = (int)x;
		return 1;
	}
	VAL("matcher", 0)
	{
		o->match_opts &= ~(MATCH_HS_ONLY | MATCH_INDEX_ALL);
		if (!strcmp(v, "hs"))
			o->match_opts |= MATCH_HS_ONLY;
		else if (!strcmp(v, "index"))
			o->match_opts |= MATCH_INDEX_ALL;
		else if (strcmp(v, "tiered")) {
			fprintf(stderr, "tapsift: --matcher must be tiered, index or hs\n");
			return -1;
		}
		return 1;
	}
	VAL("rule-stats", 0)
	{
		if (parse_u64("--rule-stats", v, 1000000, &x))
			return -1;
		o->rule_stats = (int)x;
		return 1;
	}
	VAL("normalize", 0)
	{
		const char *bad = NULL;
		if (norm_parse_flags(v, &o->norm_flags, &bad)) {
			fprintf(stderr, "tapsift: --normalize: unknown step '%s'\n", bad ? bad : v);
			return -1;
		}
		return 1;
	}
	VAL("max-flows", 0)
	{
		if (parse_u64("--max-flows", v, 1u << 30, &x) || x == 0)
			return -1;
		o->ecfg.max_flows = x;
		return 1;
	}
	VAL("stream-depth", 0)
	{
		if (parse_u64("--stream-depth", v, UINT64_MAX, &x))
			return -1;
		o->ecfg.stream_depth = x;
		return 1;
	}
	VAL("reasm-memcap", 0)
	{
		if (parse_u64("--reasm-memcap", v, SIZE_MAX, &x))
			return -1;
		o->ecfg.reasm_memcap_flow = x;
		return 1;
	}
	VAL("reasm-memcap-global", 0)
	{
		if (parse_u64("--reasm-memcap-global", v, SIZE_MAX, &x))
			return -1;
		o->ecfg.reasm_memcap_global = x;
		return 1;
	}
	VAL("tcp-timeout", 0)
	{
		if (parse_u64("--tcp-timeout", v, 86400 * 7, &x))
			return -1;
		o->ecfg.tcp_timeout_s = (uint32_t)x;
		return 1;
	}
	VAL("udp-timeout", 0)
	{
		if (parse_u64("--udp-timeout", v, 86400 * 7, &x))
			return -1;
		o->ecfg.udp_timeout_s = (uint32_t)x;
		return 1;
	}
	VAL("frag-timeout", 0)
	{
		if (parse_u64("--frag-timeout", v, 86400, &x))
			return -1;
		o->ecfg.frag_timeout_s = (uint32_t)x;
		return 1;
	}
	VAL("frag-memcap", 0)
	{
		if (parse_u64("--frag-memcap", v, SIZE_MAX, &x))
			return -1;
		o->ecfg.frag_memcap = x;
		return 1;
	}
	VAL("journal-max", 0)
	{
		if (parse_u64("--journal-max", v, UINT64_MAX, &o->journal_max))
			return -1;
		return 1;
	}
	VAL("journal-fsync", 0)
	{
		int f = journal_fsync_parse(v);
		if (f < 0) {
			fprintf(stderr, "tapsift: --journal-fsync must be none, batch or always\n");
			return -1;
		}
		o->journal_fsync = f + 1; /* 0 = default */
		return 1;
	}
	VAL("publish-wait", 0)
	{
		if (parse_u64("--publish-wait", v, 1000, &x))
			return -1;
		o->publish_wait = (int)x;
		return 1;
	}
	VAL("publish-hwm", 0)
	{
		if (parse_u64("--publish-hwm", v, 100000000, &x) || x == 0)
			return -1;
		o->publish_hwm = (int)x;
		return 1;
	}
	VAL("trust", 0)
	{
		if (o->ntrust == SETUP_MAX_RULES)
			return -1;
		o->trust[o->ntrust++] = v;
		return 1;
	}
	VAL("config", 'c')
	{
		return setup_load_config(o, v) ? -1 : 1;
	}
#undef VAL
	return 0;
}

/* Config values outlive the file (options point at them) and are freed at
 * exit, so leak checkers see no leak. */
static char **cfg_kept;
static size_t cfg_nkept;

static void cfg_free(void)
{
	for (size_t i = 0; i < cfg_nkept; i++)
		free(cfg_kept[i]);
	free(cfg_kept);
	cfg_kept = NULL;
	cfg_nkept = 0;
}

static int cfg_keep(char *a, char *b)
{
	char **n = realloc(cfg_kept, (cfg_nkept + 2) * sizeof(*n));
	if (!n)
		return -1;
	if (!cfg_kept)
		atexit(cfg_free);
	cfg_kept = n;
	cfg_kept[cfg_nkept++] = a;
	cfg_kept[cfg_nkept++] = b;
	return 0;
}

int setup_load_config(struct setup_opts *o, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "tapsift: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[4096];
	unsigned ln = 0;
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		ln++;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "\r\n")] = 0;
		if (!*p || *p == '#')
			continue;
		char *key = p;
		p += strcspn(p, " \t=");
		char *val = p + strspn(p, " \t=");
		*p = 0;
		char *opt = malloc(strlen(key) + 3), *vcopy = strdup(val);
		if (!opt || !vcopy || cfg_keep(opt, vcopy)) {
			free(opt);
			free(vcopy);
			rc = -1;
			break;
		}
		sprintf(opt, "--%s", key);
		char *argv[3] = {opt, vcopy, NULL};
		int i = 0;
		int r = setup_parse_opt(o, *vcopy ? 2 : 1, argv, &i);
		if (r == 0) {
			fprintf(stderr, "tapsift: %s:%u: unknown option '%s'\n", path, ln, key);
			rc = -1;
		} else if (r < 0) {
			fprintf(stderr, "tapsift: %s:%u: bad value for '%s'\n", path, ln, key);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}

static int setup_sinks(struct setup *s, const struct setup_opts *o, int for_offline);

static void stats_cb(void *ud, struct tsf_stats *out)
{
	struct setup *s = ud;
	if (s->engine)
		engine_stats(s->engine, out);
	else
		memset(out, 0, sizeof(*out));
}

int setup_init(struct setup *s, const struct setup_opts *o, int for_offline)
{
	char err[1024];
	memset(s, 0, sizeof(*s));
	ruleset_init(&s->rs);
	s->rule_stats = o->rule_stats;
	if (!for_offline && (o->control_ep || o->rules_dir))
		gateway_malloc_policy(); /* before the first set is allocated */
	if (o->bundle) {
		if (o->nrules) {
			fprintf(stderr, "tapsift: --bundle and --rules exclude each other\n");
			return EXIT_USAGE;
		}
		int rc = EXIT_FAIL;
		/* A bundle carries its own normalization and matcher layout. */
		s->m =
		    bundle_open_for_setup(o->bundle, o->trust, o->ntrust, o->allow_recompile, &rc);
		if (!s->m)
			return rc;
		return setup_sinks(s, o, for_offline);
	}
	if (o->nrules == 0) {
		fprintf(stderr, "tapsift: no rules given (--rules FILE or --bundle FILE)\n");
		return EXIT_USAGE;
	}
	for (int i = 0; i < o->nrules; i++) {
		int r = ruleset_add_file(&s->rs, o->rules[i], err, sizeof(err));
		if (r) {
			fprintf(stderr, "%s\n", err);
			return r == -2 ? EXIT_FAIL : EXIT_USAGE;
		}
	}
	ruleset_finish(&s->rs);
	s->m = matcher_build_opts(&s->rs, o->norm_flags, o->match_opts, err, sizeof(err));
	if (!s->m) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	return setup_sinks(s, o, for_offline);
}

static int setup_sinks(struct setup *s, const struct setup_opts *o, int for_offline)
{
	char err[1024];
	struct vsink *sinks[2];
	int n = 0;
	if (!o->quiet) {
		s->out = vsink_stdio_new(stdout, o->fmt);
		if (!s->out)
			return EXIT_FAIL;
		sinks[n++] = s->out;
	}
	if (o->publish) {
		struct publish_config pc;
		publish_config_default(&pc);
		pc.endpoint = o->publish;
		pc.sensor = o->sensor;
		pc.block_when_full = for_offline;
		pc.stats_fn = stats_cb;
		pc.stats_ud = s;
		pc.journal.dir = o->journal_dir;
		if (o->journal_max)
			pc.journal.max_bytes = o->journal_max;
		if (o->journal_fsync)
			pc.journal.fsync = (enum journal_fsync)(o->journal_fsync - 1);
		pc.wait_subscribers = o->publish_wait;
		if (o->publish_hwm)
			pc.sndhwm = o->publish_hwm;
		pc.replay_endpoint = o->replay_ep;
		pc.curve_secret_file = o->curve_secret;
		pc.curve_allow_file = o->curve_allow;
		s->pub = vsink_publish_new(&pc, err, sizeof(err));
		if (!s->pub) {
			fprintf(stderr, "tapsift: --publish: %s\n", err);
			return EXIT_FAIL;
		}
		sinks[n++] = s->pub;
	}
	if (n == 1) {
		s->sink = sinks[0];
	} else {
		s->sink = vsink_tee_new(sinks, n); /* n == 0: a sink that drops */
		if (!s->sink)
			return EXIT_FAIL;
	}
	return EXIT_OK;
}

int setup_gateway_start(struct setup *s, const struct setup_opts *o)
{
	char err[1024];
	if (!o->control_ep && !o->rules_dir)
		return EXIT_OK;
	struct gateway_rules_opts go = {
	    .control_ep = o->control_ep,
	    .rules_dir = o->rules_dir,
	    .trust = o->trust,
	    .ntrust = o->ntrust,
	    .allow_rollback = o->allow_rollback,
	    .allow_recompile = o->allow_recompile,
	    .curve_secret_file = o->control_curve_secret,
	    .curve_allow_file = o->control_curve_allow,
	    .live_version = s->m->version,
	};
	s->gw = gateway_rules_start(&go, err, sizeof(err));
	if (!s->gw) {
		fprintf(stderr, "tapsift: rule updates: %s\n", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

void setup_poll_swap(struct setup *s, struct engine *e)
{
	struct matcher *nm = s->gw ? gateway_rules_take(s->gw) : NULL;
	if (!nm)
		return;
	if (engine_set_matcher(e, nm) == 0) {
		/* The engine holds its own references; ours moves to the new set. */
		matcher_unref(s->m);
		s->m = nm;
		s->swaps++;
		fprintf(stderr, "tapsift: rule set %s version %llu is live\n", nm->rs->hash,
		        (unsigned long long)nm->version);
	} else {
		gateway_rules_swap_failed(s->gw, s->m->version);
		matcher_unref(nm);
	}
}

void setup_free(struct setup *s)
{
	gateway_rules_stop(s->gw);
	s->gw = NULL;
	if (s->sink && s->sink->destroy)
		s->sink->destroy(s->sink); /* the tee destroys what it holds */
	matcher_unref(s->m);
	ruleset_free(&s->rs);
	memset(s, 0, sizeof(*s));
}

/* Per-rule accounting: the rules with the most verdicts, so authors can
 * spot rules that fire on everything. */
static void print_rule_stats(FILE *f, const struct matcher *m, int top)
{
	const struct ruleset *rs = m->rs;
	size_t *best = calloc((size_t)top, sizeof(*best));
	int nbest = 0;
	if (!best)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		uint64_t h = matcher_hits(m, i);
		if (!h)
			continue;
		int k;
		if (nbest < top)
			k = nbest++;
		else if (matcher_hits(m, best[top - 1]) < h)
			k = top - 1;
		else
			continue;
		best[k] = i; /* insertion into the sorted top list */
		while (k > 0 && matcher_hits(m, best[k - 1]) < matcher_hits(m, best[k])) {
			size_t t = best[k - 1];
			best[k - 1] = best[k];
			best[k] = t;
			k--;
		}
	}
	fprintf(f, "  rules with the most verdicts:\n");
	for (int k = 0; k < nbest; k++) {
		const struct rule *r = &rs->rules[best[k]];
		fprintf(f, "    rule %-10u %-16s %12llu\n", r->id, rs->cats[r->cat],
		        (unsigned long long)matcher_hits(m, best[k]));
	}
	free(best);
}

void setup_print_stats(FILE *f, struct setup *s, const struct tsf_stats *st0, double secs)
{
	struct tsf_stats st = *st0;
	if (s->pub)
		publish_stats(s->pub, &st);
	fprintf(f,
	        "tapsift: ruleset %s version %llu, %zu rules (%zu literal of which %zu indexed, "
	        "%zu regex, %zu raw), compiled in %.2f s, %llu live swap(s)\n",
	        s->m->rs->hash, (unsigned long long)s->m->version, s->m->rs->n,
	        s->m->nrules[MATCH_NORM] + s->m->nlit, s->m->nlit, s->m->nrules[MATCH_TEXT],
	        s->m->nrules[MATCH_RAW], s->m->compile_s, (unsigned long long)s->swaps);
	stats_print(f, &st, 0);
	double mb = (double)st.payload_bytes / 1e6;
	fprintf(f, "  %-22s %12.3f\n  %-22s %12.1f\n", "seconds", secs, "payload_MB_per_s",
	        secs > 0 ? mb / secs : 0.0);
	if (s->rule_stats > 0)
		print_rule_stats(f, s->m, s->rule_stats);
}
