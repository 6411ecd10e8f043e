/* cmd_normalize.c - `tapsift normalize`: print the matching form of a text,
 * the same form rule literals and scanned traffic are reduced to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "normalize.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tapsift normalize [--steps LIST] [--lines] [FILE|-]\n"
	           "\n"
	           "Prints the matching form of FILE (or standard input): the text as the\n"
	           "matcher sees it after normalization.\n"
	           "\n"
	           "  --steps LIST  comma-separated steps: nfkc, ignorable, separators, t2s,\n"
	           "                confusables, or all / none (default: all)\n"
	           "  --lines       normalize each input line on its own, one output line each\n"
	           "                (default: the whole input as one stream, then a newline)\n"
	           "  -h, --help    this text\n");
}

#define CHUNK 65536

static int put(const uint8_t *b, size_t n)
{
	return n && fwrite(b, 1, n, stdout) != n ? -1 : 0;
}

int cmd_normalize(int argc, char **argv)
{
	unsigned flags = NORM_ALL;
	int lines = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--steps") || !strncmp(a, "--steps=", 8)) {
			const char *spec = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
			const char *bad;
			if (!spec) {
				fprintf(stderr, "tapsift normalize: --steps needs a list\n");
				return EXIT_USAGE;
			}
			if (norm_parse_flags(spec, &flags, &bad)) {
				fprintf(stderr, "tapsift normalize: unknown step '%s'\n", bad);
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--lines")) {
			lines = 1;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "tapsift normalize: unknown option '%s'\n", a);
			usage(stderr);
			return EXIT_USAGE;
		} else if (path) {
			fprintf(stderr, "tapsift normalize: one input only\n");
			return EXIT_USAGE;
		} else {
			path = a;
		}
	}
	FILE *in = stdin;
	if (path && strcmp(path, "-")) {
		in = fopen(path, "rb");
		if (!in) {
			fprintf(stderr, "tapsift normalize: %s: %s\n", path, strerror(errno));
			return EXIT_FAIL;
		}
	}
	uint8_t *buf = malloc(CHUNK);
	uint8_t *out = malloc((size_t)NORM_MAX_EXPANSION * (CHUNK + 4));
	int rc = EXIT_OK;
	if (!buf || !out) {
		fprintf(stderr, "tapsift normalize: out of memory\n");
		rc = EXIT_FAIL;
		goto done;
	}
	struct norm_state st;
	norm_init(&st, flags);
	size_t n;
	while ((n = fread(buf, 1, CHUNK, in)) > 0) {
		size_t s = 0;
		for (size_t i = 0; lines && i < n; i++) {
			if (buf[i] != '\n')
				continue;
			/* A newline ends the line: what is pending is dropped. */
			if (put(out, norm_feed(&st, buf + s, i - s, out, NULL)) ||
			    put((const uint8_t *)"\n", 1))
				goto werr;
			norm_init(&st, flags);
			s = i + 1;
		}
		if (put(out, norm_feed(&st, buf + s, n - s, out, NULL)))
			goto werr;
	}
	if (ferror(in)) {
		fprintf(stderr, "tapsift normalize: %s: %s\n", path ? path : "stdin",
		        strerror(errno));
		rc = EXIT_FAIL;
		goto done;
	}
	if ((!lines || st.in_pos) && put((const uint8_t *)"\n", 1))
		goto werr;
	if (fflush(stdout))
		goto werr;
	goto done;
werr:
	fprintf(stderr, "tapsift normalize: write error: %s\n", strerror(errno));
	rc = EXIT_FAIL;
done:
	if (in != stdin)
		fclose(in);
	free(buf);
	free(out);
	return rc;
}
