/* keyfile.h - reading the small text files keys and allow-lists are kept in
 * (bus CURVE keys, Ed25519 signing keys): one key a line, '#' comments. */
#ifndef TSF_KEYFILE_H
#define TSF_KEYFILE_H

#include <stdio.h>
#include <string.h>

/* The first word of the next line of f that holds one (leading blanks, blank
 * lines and '#' comment lines passed over), its length in *len; NULL at the
 * end.  The word is in line; *lineno, when given, counts every line read. */
static inline char *keyfile_word(FILE *f, char *line, int size, size_t *len, int *lineno)
{
	while (fgets(line, size, f)) {
		if (lineno)
			(*lineno)++;
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
			continue;
		*len = strcspn(p, " \t\r\n");
		return p;
	}
	return NULL;
}

#endif
