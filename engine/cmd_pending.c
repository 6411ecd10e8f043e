/* cmd_pending.c - weak fallbacks for subcommands whose module is not built.
 * Each real subcommand (cmd_*.c) overrides its fallback at link time. */
#include <stdio.h>

#include "cli.h"

static int pending(const char *name)
{
	fprintf(stderr, "tapsift: '%s' is not available in this build\n", name);
	return EXIT_FAIL;
}

__attribute__((weak)) int cmd_normalize(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("normalize");
}
__attribute__((weak)) int cmd_run(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("run");
}
__attribute__((weak)) int cmd_watch(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("watch");
}
__attribute__((weak)) int cmd_relay(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("relay");
}
__attribute__((weak)) int cmd_replay(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("replay");
}
__attribute__((weak)) int cmd_scan(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("scan");
}
__attribute__((weak)) int cmd_rules(int argc, char **argv)
{
	(void)argc, (void)argv;
	return pending("rules");
}
