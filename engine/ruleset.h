/* ruleset.h - rule files -> an in-memory rule list.
 *
 * Syntax (one rule per line, UTF-8, '#' comments, blank lines ignored):
 *     <id> <category> <pattern> [sev=1..5] [raw] [msg="..."]
 * pattern: "literal" with escapes \" \\ \n \r \t \xHH \u{H..}, or
 *          /regex/flags (flags i s m; \/ for a slash).
 * Errors are reported as "file:line:col: message" and nothing is loaded.
 */
#ifndef TSF_RULESET_H
#define TSF_RULESET_H

#include <stddef.h>
#include <stdint.h>

enum rule_kind { RULE_LITERAL = 0, RULE_REGEX = 1 };

#define RULE_F_CASELESS 0x1u
#define RULE_F_DOTALL 0x2u
#define RULE_F_MULTILINE 0x4u

/* 24 bytes: a gateway holds millions of these twice during a hot swap, so
 * the message lives after the pattern (rule_msg) and the source position
 * in a side array that only parsed sets carry (ruleset.pos). */
struct rule {
	uint32_t id;
	uint8_t kind : 2;    /* enum rule_kind */
	uint8_t raw : 1;     /* match reassembled bytes, not decoded text */
	uint8_t has_msg : 1; /* pat[patlen] is followed by the NUL-terminated msg */
	uint8_t sev;         /* 1..5 */
	uint8_t flags;       /* RULE_F_* (regex) */
	uint8_t spare;
	uint32_t cat; /* index into ruleset.cats */
	uint32_t patlen;
	const uint8_t *pat; /* literal bytes (unescaped) or regex source, NUL, [msg, NUL] */
};

static inline const char *rule_msg(const struct rule *r)
{
	return r->has_msg ? (const char *)r->pat + r->patlen + 1 : NULL;
}

/* Where a parsed rule came from, for error messages. */
struct rule_pos {
	uint32_t file;      /* index into ruleset.files */
	uint32_t line, col; /* position of the pattern */
};

struct ruleset {
	struct rule *rules;
	struct rule_pos *pos; /* parallel to rules; NULL for a set loaded from a bundle */
	size_t n, cap;
	char **cats;
	size_t ncats, catcap;
	char **files;
	size_t nfiles;
	char hash[17]; /* hex of a 64-bit hash over all rules, set by ruleset_finish */
	void *blob;    /* bundles: one allocation that pat/msg point into; freed by ruleset_free */
	/* private */
	struct rs_arena *arena;
	uint32_t *idtab; /* open-addressed id -> index+1 (duplicate detection) */
	size_t idcap;
	uint32_t *cattab;
	size_t cattabcap;
};

void ruleset_init(struct ruleset *rs);
void ruleset_free(struct ruleset *rs);

/* Parses a file / a buffer and appends its rules.  On a rule error returns
 * -1 with "file:line:col: message" in err; on an I/O error -2 with
 * "file: reason".  Either way rs holds exactly what it held before. */
int ruleset_add_file(struct ruleset *rs, const char *path, char *err, size_t errlen);
int ruleset_add_buffer(struct ruleset *rs, const char *name, const char *buf, size_t len, char *err,
                       size_t errlen);

/* Computes rs->hash.  Call once all files are added. */
void ruleset_finish(struct ruleset *rs);

/* "file:line:col" of a rule (or "rule id N" without positions), for
 * messages. */
void ruleset_where(const struct ruleset *rs, const struct rule *r, char *buf, size_t len);

#endif
