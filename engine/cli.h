/* cli.h - subcommands of the tapsift binary (main.c dispatches). */
#ifndef TSF_CLI_H
#define TSF_CLI_H

/* Exit codes shared by all subcommands. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* runtime failure: unreadable input, socket, kernel */
#define EXIT_USAGE 2 /* bad flags, bad rules, bad config */

int cmd_scan(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_normalize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_relay(int argc, char **argv);
int cmd_replay(int argc, char **argv);

/* `tapsift rules SUB ...` for bundle subcommands: argv[0] is SUB.  Returns
 * an exit code, or -1 when SUB is not one of them. */
int cmd_rules_bundle(int argc, char **argv);
/* Lines for `tapsift rules --help`, one "  sub ARGS   what" per subcommand. */
extern const char cmd_rules_bundle_help[];

#endif
