/* main.c - the tapsift binary: dispatches to subcommands, nothing else. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
    {"scan", cmd_scan, "scan pcap captures or text files against rules"},
    {"run", cmd_run, "live capture: eBPF ring buffer on interfaces"},
    {"rules", cmd_rules, "check, compile, inspect rule sets"},
    {"normalize", cmd_normalize, "print the matching form of a text"},
    {"watch", cmd_watch, "subscribe to a sensor's verdicts"},
    {"relay", cmd_relay, "forward verdicts from many sensors to many consumers"},
    {"replay", cmd_replay, "fetch missed verdicts from a sensor's journal"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: tapsift <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'tapsift <command> --help' describes a command.\n"
	           "exit status: 0 ok, 1 runtime failure, 2 usage or rule error\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("tapsift 0.1\n");
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tapsift: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
