/* cmd_scan.c - `tapsift scan`: capture files and text files, offline. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture_pcap.h"
#include "cli.h"
#include "engine.h"
#include "setup.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: tapsift scan --rules FILE [--rules FILE ...] (--pcap FILE ... | --text FILE "
	    "...)"
	    " [options]\n\n"
	    "Scans capture files (pcap/pcapng; Ethernet, VLAN/QinQ, Linux cooked, raw IP) or text\n"
	    "files against the rules and prints one verdict per line.\n\n"
	    "  -p, --pcap FILE         capture file (repeatable)\n"
	    "      --text FILE...      text files ('-' = stdin); takes every following\n"
	    "                          argument that does not start with '-'\n"
	    "%s  -h, --help              this help\n\n"
	    "Statistics go to stderr at the end.  Exit status: 0 ok, 1 an input could not be\n"
	    "read, 2 usage or rule error.\n",
	    setup_common_help);
}

static int read_all(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f)
		return -1;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		uint8_t *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!buf || err) {
		free(buf);
		errno = err ? EIO : ENOMEM;
		return -1;
	}
	*out = buf;
	*len = n;
	return 0;
}

int cmd_scan(int argc, char **argv)
{
	struct setup_opts o;
	setup_opts_default(&o);
	const char **pcaps = calloc((size_t)argc, sizeof(char *));
	const char **texts = calloc((size_t)argc, sizeof(char *));
	int npcap = 0, ntext = 0, rc = EXIT_OK;
	if (!pcaps || !texts) {
		free(pcaps);
		free(texts);
		return EXIT_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			goto out;
		}
		if (!strcmp(a, "--pcap") || !strcmp(a, "-p")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tapsift: %s needs a file\n", a);
				rc = EXIT_USAGE;
				goto out;
			}
			pcaps[npcap++] = argv[++i];
			continue;
		}
		if (!strncmp(a, "--pcap=", 7)) {
			pcaps[npcap++] = a + 7;
			continue;
		}
		if (!strcmp(a, "--text")) {
			while (i + 1 < argc && (argv[i + 1][0] != '-' || !strcmp(argv[i + 1], "-")))
				texts[ntext++] = argv[++i];
			continue;
		}
		int r = setup_parse_opt(&o, argc, argv, &i);
		if (r < 0) {
			rc = EXIT_USAGE;
			goto out;
		}
		if (r == 0) {
			fprintf(stderr, "tapsift scan: unknown option '%s' (see --help)\n", a);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (o.control_ep || o.rules_dir) {
		fprintf(stderr, "tapsift scan: --control and --rules-dir apply to 'tapsift run'\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (npcap == 0 && ntext == 0) {
		fprintf(stderr, "tapsift scan: nothing to scan (--pcap FILE or --text FILE)\n");
		rc = EXIT_USAGE;
		goto out;
	}

	struct setup s;
	rc = setup_init(&s, &o, 1);
	if (rc) {
		setup_free(&s);
		goto out;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct engine *e = engine_new(&o.ecfg, s.m, s.sink);
	if (!e) {
		fprintf(stderr, "tapsift: cannot start the engine (out of memory?)\n");
		setup_free(&s);
		rc = EXIT_FAIL;
		goto out;
	}
	s.engine = e;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct tsf_stats cap;
	memset(&cap, 0, sizeof(cap));
	for (int i = 0; i < npcap && !stop_flag; i++)
		if (capture_pcap_file(e, pcaps[i], &stop_flag, &cap))
			rc = EXIT_FAIL;
	for (int i = 0; i < ntext && !stop_flag; i++) {
		uint8_t *buf;
		size_t len;
		if (read_all(texts[i], &buf, &len)) {
			fprintf(stderr, "tapsift: %s: %s\n", texts[i], strerror(errno));
			rc = EXIT_FAIL;
			continue;
		}
		engine_text(e, texts[i], buf, len);
		free(buf);
	}
	engine_finish(e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct tsf_stats st;
	engine_stats(e, &st);
	stats_add(&st, &cap);
	s.engine = NULL;
	if (s.sink->flush)
		s.sink->flush(s.sink);
	if (!o.no_stats)
		setup_print_stats(stderr, &s, &st,
		                  (double)(t1.tv_sec - t0.tv_sec) +
		                      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	engine_free(e);
	setup_free(&s);
	if (stop_flag)
		fprintf(stderr, "tapsift: interrupted\n");
out:
	free(pcaps);
	free(texts);
	return rc;
}
