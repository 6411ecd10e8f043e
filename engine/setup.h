/* setup.h - what `scan` and `run` share: common flags and config file,
 * loading rules, building the matcher, making the verdict sink, stats. */
#ifndef TSF_SETUP_H
#define TSF_SETUP_H

#include <stdio.h>

#include "engine.h"
#include "match.h"
#include "ruleset.h"
#include "verdict.h"

#define SETUP_MAX_RULES 256

struct setup_opts {
	const char *rules[SETUP_MAX_RULES];
	int nrules;
	enum verdict_format fmt;
	int quiet;      /* no verdict lines on stdout (stats only) */
	int no_stats;   /* no end-of-run stats on stderr */
	int rule_stats; /* print the N rules with the most verdicts (0 = none) */
	unsigned norm_flags;
	unsigned match_opts; /* MATCH_HS_ONLY: --matcher hs */
	struct engine_config ecfg;
	/* verdict bus */
	const char *publish, *journal_dir, *replay_ep, *sensor, *curve_secret, *curve_allow;
	int publish_wait, publish_hwm, journal_fsync;
	uint64_t journal_max;
	/* rule bundles instead of rule files, and live updates (run only) */
	const char *bundle;
	const char *trust[SETUP_MAX_RULES];
	int ntrust, allow_recompile, allow_rollback;
	const char *control_ep, *rules_dir, *control_curve_secret, *control_curve_allow;
};

struct setup {
	struct ruleset rs;
	struct matcher *m;
	struct vsink *out;     /* stdout sink (may be NULL when quiet) */
	struct vsink *pub;     /* publisher (may be NULL) */
	struct vsink *sink;    /* what the engine gets */
	struct engine *engine; /* for the publisher's stats callback */
	int rule_stats;
	struct gateway_rules *gw; /* control socket / rules directory (run) */
	uint64_t swaps;
};

void setup_opts_default(struct setup_opts *o);

/* Help text of the common options, for each command's --help. */
extern const char setup_common_help[];

/* Tries to consume argv[*i] (and its value) as a common option.  Returns 1
 * if consumed, 0 if not a common option, -1 on a bad value (message printed). */
int setup_parse_opt(struct setup_opts *o, int argc, char **argv, int *i);

/* Reads "key value" / "key = value" lines (keys are long option names
 * without dashes, '#' comments) and applies them as options. */
int setup_load_config(struct setup_opts *o, const char *path);

/* Loads rules, builds the matcher and the sinks.  Prints errors; returns an
 * exit code (0 ok). */
int setup_init(struct setup *s, const struct setup_opts *o, int for_offline);
void setup_free(struct setup *s);

/* Live rule updates (--control, --rules-dir): starts the listeners.
 * Returns an exit code.  Then setup_poll_swap() from the capture thread
 * applies a pushed or dropped-in bundle to the engine (no-op otherwise). */
int setup_gateway_start(struct setup *s, const struct setup_opts *o);
void setup_poll_swap(struct setup *s, struct engine *e);

/* End-of-run statistics (stderr). */
void setup_print_stats(FILE *f, struct setup *s, const struct tsf_stats *st, double secs);

#endif
