/* cmd_rules.c - `tapsift rules check`: validate rule files. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "match.h"
#include "match_lit.h"
#include "normalize.h"
#include "ruleset.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tapsift rules check [--normalize STEPS] FILE...\n\n"
	           "Parses and compiles the rule files exactly as scan/run would and prints\n"
	           "counts.  The first error is printed as file:line:col: message.\n"
	           "Exit status: 0 valid, 2 invalid (nothing loaded), 1 unreadable.\n");
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int rules_check(int argc, char **argv)
{
	unsigned flags = NORM_ALL;
	struct ruleset rs;
	char err[1024];
	int nfiles = 0;
	ruleset_init(&rs);
	double t0 = now_s();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			ruleset_free(&rs);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--normalize") && i + 1 < argc) {
			const char *bad = NULL;
			if (norm_parse_flags(argv[++i], &flags, &bad)) {
				fprintf(stderr, "tapsift: --normalize: unknown step '%s'\n",
				        bad ? bad : argv[i]);
				ruleset_free(&rs);
				return EXIT_USAGE;
			}
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "tapsift rules check: unknown option '%s'\n", argv[i]);
			ruleset_free(&rs);
			return EXIT_USAGE;
		}
		nfiles++;
		int r = ruleset_add_file(&rs, argv[i], err, sizeof(err));
		if (r) {
			fprintf(stderr, "%s\n", err);
			ruleset_free(&rs);
			return r == -2 ? EXIT_FAIL : EXIT_USAGE; /* unreadable is not invalid */
		}
	}
	if (!nfiles) {
		usage(stderr);
		ruleset_free(&rs);
		return EXIT_USAGE;
	}
	ruleset_finish(&rs);
	double t1 = now_s();
	struct matcher *m = matcher_build(&rs, flags, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "%s\n", err);
		ruleset_free(&rs);
		return EXIT_USAGE;
	}
	printf("ok: %zu rules in %d file(s): %zu literal (%zu in the literal index, %zu in "
	       "Hyperscan), %zu regex, %zu raw; %zu categories\n",
	       rs.n, nfiles, m->nrules[MATCH_NORM] + m->nlit, m->nlit, m->nrules[MATCH_NORM],
	       m->nrules[MATCH_TEXT], m->nrules[MATCH_RAW], rs.ncats);
	printf("ruleset %s; parsed in %.3f s, compiled in %.3f s, databases %zu bytes\n", rs.hash,
	       t1 - t0, m->compile_s, matcher_db_size(m) + (m->lit ? litidx_memsize(m->lit) : 0));
	matcher_free(m);
	ruleset_free(&rs);
	return EXIT_OK;
}

/* Bundle subcommands (compile, info, keygen, sign, push) live in
 * cmd_bundle.c; this weak fallback answers when that module is not built. */
__attribute__((weak)) int cmd_rules_bundle(int argc, char **argv)
{
	(void)argc, (void)argv;
	return -1;
}

__attribute__((weak)) const char cmd_rules_bundle_help[] = "";

int cmd_rules(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(
		    argc < 2 ? stderr : stdout,
		    "usage: tapsift rules <subcommand>\n\n"
		    "  check FILE...   validate rule files (see 'tapsift rules check --help')\n%s",
		    cmd_rules_bundle_help);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "check"))
		return rules_check(argc - 1, argv + 1);
	int rc = cmd_rules_bundle(argc - 1, argv + 1);
	if (rc >= 0)
		return rc;
	fprintf(stderr, "tapsift rules: unknown subcommand '%s'\n", argv[1]);
	return EXIT_USAGE;
}
