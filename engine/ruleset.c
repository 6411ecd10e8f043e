/* ruleset.c - the rule file parser.
 *
 * Hand-written and single-pass because rule sets run into the millions: a
 * file is read whole, split on '\n' with memchr, and each line parsed in
 * place; pattern bytes and messages go to an arena, so loading 1M rules is a
 * few large allocations, not millions of small ones.
 *
 * Errors carry file:line:col (1-based, columns in bytes) of the offending
 * token.  A file either loads completely or not at all: on error the rule
 * count, id table and category table are rolled back.
 */
#include "ruleset.h"

#include "utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <hs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARENA_CHUNK (1u << 20)
#define MAX_CATEGORY 32
#define MAX_MSG 256

struct rs_arena {
	struct rs_arena *next;
	size_t used, cap;
	uint8_t data[];
};

static void *arena_alloc(struct ruleset *rs, size_t n)
{
	struct rs_arena *a = rs->arena;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct rs_arena *na = malloc(sizeof(*na) + cap);
		if (!na)
			return NULL;
		na->next = a;
		na->used = 0;
		na->cap = cap;
		rs->arena = a = na;
	}
	void *p = a->data + a->used;
	a->used += n;
	return p;
}

_Static_assert(sizeof(struct rule) == 24, "struct rule grew: millions are held twice in a swap");

/* Shrinks the last allocation p to its first n bytes. */
static void arena_trim(struct ruleset *rs, const void *p, size_t n)
{
	struct rs_arena *a = rs->arena;
	a->used = (size_t)((const uint8_t *)p - a->data) + n;
}

void ruleset_init(struct ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
}

void ruleset_free(struct ruleset *rs)
{
	for (struct rs_arena *a = rs->arena, *n; a; a = n) {
		n = a->next;
		free(a);
	}
	for (size_t i = 0; i < rs->ncats; i++)
		free(rs->cats[i]);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->cats);
	free(rs->files);
	free(rs->rules);
	free(rs->pos);
	free(rs->idtab);
	free(rs->cattab);
	free(rs->blob);
	memset(rs, 0, sizeof(*rs));
}

/* ---- hash tables: open addressing, value = index + 1, 0 = empty ---- */

static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352d;
	x ^= x >> 15;
	x *= 0x846ca68b;
	x ^= x >> 16;
	return x;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int idtab_rebuild(struct ruleset *rs, size_t cap)
{
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < rs->n; i++) {
		size_t h = mix32(rs->rules[i].id) & (cap - 1);
		while (t[h])
			h = (h + 1) & (cap - 1);
		t[h] = (uint32_t)i + 1;
	}
	free(rs->idtab);
	rs->idtab = t;
	rs->idcap = cap;
	return 0;
}

/* Returns the index of the rule with this id, or -1. */
static long idtab_find(const struct ruleset *rs, uint32_t id, size_t *slot)
{
	size_t h = mix32(id) & (rs->idcap - 1);
	while (rs->idtab[h]) {
		if (rs->rules[rs->idtab[h] - 1].id == id)
			return (long)rs->idtab[h] - 1;
		h = (h + 1) & (rs->idcap - 1);
	}
	*slot = h;
	return -1;
}

static int cattab_rebuild(struct ruleset *rs, size_t cap)
{
	uint32_t *t = calloc(cap, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < rs->ncats; i++) {
		size_t h =
		    fnv1a(0xcbf29ce484222325ull, rs->cats[i], strlen(rs->cats[i])) & (cap - 1);
		while (t[h])
			h = (h + 1) & (cap - 1);
		t[h] = (uint32_t)i + 1;
	}
	free(rs->cattab);
	rs->cattab = t;
	rs->cattabcap = cap;
	return 0;
}

static long cat_intern(struct ruleset *rs, const char *s, size_t n)
{
	if (rs->ncats * 2 >= rs->cattabcap &&
	    cattab_rebuild(rs, rs->cattabcap ? rs->cattabcap * 2 : 64))
		return -1;
	size_t h = fnv1a(0xcbf29ce484222325ull, s, n) & (rs->cattabcap - 1);
	while (rs->cattab[h]) {
		const char *c = rs->cats[rs->cattab[h] - 1];
		if (strlen(c) == n && !memcmp(c, s, n))
			return (long)rs->cattab[h] - 1;
		h = (h + 1) & (rs->cattabcap - 1);
	}
	if (rs->ncats == rs->catcap) {
		size_t nc = rs->catcap ? rs->catcap * 2 : 16;
		char **nv = realloc(rs->cats, nc * sizeof(*nv));
		if (!nv)
			return -1;
		rs->cats = nv;
		rs->catcap = nc;
	}
	char *c = strndup(s, n);
	if (!c)
		return -1;
	rs->cats[rs->ncats] = c;
	rs->cattab[h] = (uint32_t)++rs->ncats;
	return (long)rs->ncats - 1;
}

/* ---- the line parser ---- */

struct pctx {
	struct ruleset *rs;
	const char *name;
	unsigned line;
	const char *ls; /* start of the current line */
	char *err;
	size_t errlen;
};

static int perr(struct pctx *c, const char *at, const char *fmt, ...)
{
	int n =
	    snprintf(c->err, c->errlen, "%s:%u:%u: ", c->name, c->line, (unsigned)(at - c->ls) + 1);
	if (n > 0 && (size_t)n < c->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && is_space(*p))
		p++;
	return p;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Parses a "..." string starting at *pp (on the quote) into out (which has
 * room for the raw length).  Escapes: \" \\ \n \r \t \xHH \u{H..}. */
static int parse_quoted(struct pctx *c, const char **pp, const char *e, uint8_t *out, size_t *olen)
{
	const char *p = *pp + 1;
	size_t o = 0;
	for (;;) {
		if (p >= e)
			return perr(c, *pp, "unterminated string");
		char ch = *p;
		if (ch == '"')
			break;
		if (ch != '\\') {
			out[o++] = (uint8_t)ch;
			p++;
			continue;
		}
		const char *esc = p;
		if (p + 1 >= e)
			return perr(c, esc, "unterminated string");
		switch (p[1]) {
		case '"':
		case '\\':
			out[o++] = (uint8_t)p[1];
			p += 2;
			break;
		case 'n':
			out[o++] = '\n';
			p += 2;
			break;
		case 'r':
			out[o++] = '\r';
			p += 2;
			break;
		case 't':
			out[o++] = '\t';
			p += 2;
			break;
		case 'x': {
			int h = p + 2 < e ? hexval(p[2]) : -1;
			int l = p + 3 < e ? hexval(p[3]) : -1;
			if (h < 0 || l < 0)
				return perr(c, esc, "bad escape: \\x needs two hex digits");
			out[o++] = (uint8_t)(h << 4 | l);
			p += 4;
			break;
		}
		case 'u': {
			const char *q = p + 2;
			if (q >= e || *q != '{')
				return perr(c, esc, "bad escape: expected \\u{HEX}");
			q++;
			uint32_t cp = 0;
			int nd = 0;
			while (q < e && hexval(*q) >= 0 && nd < 7) {
				cp = cp << 4 | (uint32_t)hexval(*q);
				q++, nd++;
			}
			if (q >= e || *q != '}' || nd == 0 || nd > 6)
				return perr(c, esc,
				            "bad escape: expected \\u{HEX} with 1 to 6 hex digits");
			if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				return perr(c, esc,
				            "bad escape: \\u{%X} is not a Unicode scalar value",
				            cp);
			o += utf8_encode(out + o, cp);
			p = q + 1;
			break;
		}
		default:
			return perr(c, esc, "bad escape '\\%c'", p[1]);
		}
	}
	*olen = o;
	*pp = p + 1;
	return 0;
}

static int parse_line(struct pctx *c, const char *p, const char *e)
{
	struct ruleset *rs = c->rs;
	struct rule r;
	memset(&r, 0, sizeof(r));
	r.sev = 3;

	/* id */
	const char *tok = p;
	uint64_t id = 0;
	while (p < e && *p >= '0' && *p <= '9') {
		id = id * 10 + (uint64_t)(*p - '0');
		if (id > 0xffffffffull) {
			while (p < e && *p >= '0' && *p <= '9')
				p++;
			return perr(c, tok, "rule id out of range (1..4294967295)");
		}
		p++;
	}
	if (p == tok || (p < e && !is_space(*p)))
		return perr(c, tok, "expected a numeric rule id");
	if (id == 0)
		return perr(c, tok, "rule id out of range (1..4294967295)");
	r.id = (uint32_t)id;
	size_t slot = 0;
	long prev = idtab_find(rs, r.id, &slot);
	if (prev >= 0) {
		char where[512];
		ruleset_where(rs, &rs->rules[prev], where, sizeof(where));
		return perr(c, tok, "duplicate rule id %u (first defined at %s)", r.id, where);
	}

	/* category */
	p = skip_ws(p, e);
	tok = p;
	while (p < e && !is_space(*p))
		p++;
	if (p == tok)
		return perr(c, tok, "expected a category");
	if (p - tok > MAX_CATEGORY)
		return perr(c, tok, "category longer than %d characters", MAX_CATEGORY);
	for (const char *q = tok; q < p; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_' ||
		      *q == '-'))
			return perr(c, q, "invalid character in category (allowed: a-z 0-9 _ -)");
	long cat = cat_intern(rs, tok, (size_t)(p - tok));
	if (cat < 0)
		return perr(c, tok, "out of memory");
	r.cat = (uint32_t)cat;

	/* pattern */
	p = skip_ws(p, e);
	if (p >= e)
		return perr(c, p, "expected a pattern (\"literal\" or /regex/)");
	struct rule_pos pos = {(uint32_t)rs->nfiles - 1, c->line, (uint32_t)(p - c->ls) + 1};
	/* Pattern, NUL, message, NUL: unescaping never lengthens text, so the
	 * rest of the line bounds all of it; the arena is trimmed below. */
	size_t bufcap = (size_t)(e - p) + 2;
	uint8_t *buf = arena_alloc(rs, bufcap);
	if (!buf)
		return perr(c, p, "out of memory");
	size_t plen = 0;
	if (*p == '"') {
		const char *start = p;
		if (parse_quoted(c, &p, e, buf, &plen))
			return -1;
		if (plen == 0)
			return perr(c, start, "empty pattern");
		r.kind = RULE_LITERAL;
	} else if (*p == '/') {
		const char *start = p++;
		for (;;) {
			if (p >= e)
				return perr(c, start, "unterminated regex (missing closing '/')");
			if (*p == '/')
				break;
			if (*p == '\\' && p + 1 < e) {
				if (p[1] == '/') {
					buf[plen++] = '/';
				} else {
					buf[plen++] = '\\';
					buf[plen++] = (uint8_t)p[1];
				}
				p += 2;
				continue;
			}
			buf[plen++] = (uint8_t)*p++;
		}
		if (plen == 0)
			return perr(c, start, "empty pattern");
		p++;
		while (p < e && !is_space(*p)) {
			if (*p == 'i')
				r.flags |= RULE_F_CASELESS;
			else if (*p == 's')
				r.flags |= RULE_F_DOTALL;
			else if (*p == 'm')
				r.flags |= RULE_F_MULTILINE;
			else
				return perr(c, p, "unknown regex flag '%c' (allowed: i s m)", *p);
			p++;
		}
		r.kind = RULE_REGEX;
	} else {
		return perr(c, p, "expected a pattern (\"literal\" or /regex/)");
	}
	buf[plen] = 0;
	r.pat = buf;
	r.patlen = (uint32_t)plen;
	size_t used = plen + 1;

	/* options */
	for (;;) {
		const char *q = skip_ws(p, e);
		if (q == e)
			break;
		if (q == p)
			return perr(c, q, "expected whitespace before option");
		p = q;
		tok = p;
		while (p < e && !is_space(*p) && *p != '=')
			p++;
		size_t n = (size_t)(p - tok);
		if (n == 3 && !memcmp(tok, "raw", 3) && (p == e || *p != '=')) {
			r.raw = 1;
		} else if (n == 3 && !memcmp(tok, "sev", 3) && p < e && *p == '=') {
			p++;
			if (p + 1 > e || *p < '1' || *p > '5' || (p + 1 < e && !is_space(p[1])))
				return perr(c, tok, "sev must be 1..5");
			r.sev = (uint8_t)(*p - '0');
			p++;
		} else if (n == 3 && !memcmp(tok, "msg", 3) && p < e && *p == '=') {
			p++;
			if (p >= e || *p != '"')
				return perr(c, p, "msg needs a quoted string");
			uint8_t *m = buf + plen + 1;
			size_t mlen = 0;
			const char *ms = p;
			if (parse_quoted(c, &p, e, m, &mlen))
				return -1;
			if (mlen > MAX_MSG)
				return perr(c, ms, "msg longer than %d bytes", MAX_MSG);
			if (memchr(m, 0, mlen))
				return perr(c, ms, "msg must not contain NUL");
			m[mlen] = 0;
			r.has_msg = 1;
			used = plen + 1 + mlen + 1; /* a later msg= replaces this one */
		} else {
			while (p < e && !is_space(*p))
				p++;
			return perr(c, tok, "unknown option '%.*s' (known: sev=N raw msg=\"...\")",
			            (int)(p - tok), tok);
		}
	}

	if (r.kind == RULE_REGEX) {
		/* Validate now so the error names this rule; compile happens later. */
		hs_expr_info_t *info = NULL;
		hs_compile_error_t *ce = NULL;
		unsigned fl = HS_FLAG_UTF8 | HS_FLAG_ALLOWEMPTY;
		if (r.flags & RULE_F_CASELESS)
			fl |= HS_FLAG_CASELESS;
		if (r.flags & RULE_F_DOTALL)
			fl |= HS_FLAG_DOTALL;
		if (r.flags & RULE_F_MULTILINE)
			fl |= HS_FLAG_MULTILINE;
		if (r.raw)
			fl &= ~(unsigned)HS_FLAG_UTF8;
		if (hs_expression_info((const char *)r.pat, fl, &info, &ce) != HS_SUCCESS) {
			perr(c, c->ls + pos.col - 1, "regex rejected by Hyperscan: %s",
			     ce ? ce->message : "unknown error");
			hs_free_compile_error(ce);
			return -1;
		}
		if (info && info->min_width == 0) {
			free(info);
			return perr(c, c->ls + pos.col - 1, "regex can match the empty string");
		}
		free(info);
	}

	arena_trim(rs, buf, used);
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 1024;
		struct rule *nr = realloc(rs->rules, nc * sizeof(*nr));
		if (!nr)
			return perr(c, tok, "out of memory");
		rs->rules = nr;
		struct rule_pos *np = realloc(rs->pos, nc * sizeof(*np));
		if (!np)
			return perr(c, tok, "out of memory");
		rs->pos = np;
		rs->cap = nc;
	}
	rs->rules[rs->n] = r;
	rs->pos[rs->n] = pos;
	rs->idtab[slot] = (uint32_t)++rs->n;
	if (rs->n * 2 >= rs->idcap && idtab_rebuild(rs, rs->idcap * 2))
		return perr(c, tok, "out of memory");
	return 0;
}

int ruleset_add_buffer(struct ruleset *rs, const char *name, const char *buf, size_t len, char *err,
                       size_t errlen)
{
	if (!rs->idtab && idtab_rebuild(rs, 1024)) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	char **nf = realloc(rs->files, (rs->nfiles + 1) * sizeof(*nf));
	if (!nf || !(nf[rs->nfiles] = strdup(name))) {
		if (nf)
			rs->files = nf;
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	rs->files = nf;
	rs->nfiles++;

	size_t n0 = rs->n, ncats0 = rs->ncats;
	struct pctx c = {.rs = rs, .name = name, .err = err, .errlen = errlen};
	const char *p = buf, *end = buf + len;
	int rc = 0;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) /* UTF-8 BOM */
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		c.line++;
		c.ls = c.line == 1 ? buf : p;
		if (memchr(p, 0, (size_t)(e - p))) {
			rc = perr(&c, (const char *)memchr(p, 0, (size_t)(e - p)),
			          "NUL byte in rule file");
			break;
		}
		const char *q = skip_ws(p, e);
		if (q < e && *q != '#' && parse_line(&c, q, e)) {
			rc = -1;
			break;
		}
		p = nl ? nl + 1 : end;
	}
	if (rc) {
		/* Roll back: nothing of this file stays loaded. */
		rs->n = n0;
		for (size_t i = ncats0; i < rs->ncats; i++)
			free(rs->cats[i]);
		rs->ncats = ncats0;
		idtab_rebuild(rs, rs->idcap);
		cattab_rebuild(rs, rs->cattabcap);
		free(rs->files[--rs->nfiles]);
	}
	return rc;
}

int ruleset_add_file(struct ruleset *rs, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -2;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -2;
	}
	int rc;
	if (st.st_size == 0) {
		rc = ruleset_add_buffer(rs, path, "", 0, err, errlen);
	} else {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
		rc = ruleset_add_buffer(rs, path, m, (size_t)st.st_size, err, errlen);
		munmap(m, (size_t)st.st_size);
	}
	close(fd);
	return rc;
}

void ruleset_finish(struct ruleset *rs)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = &rs->rules[i];
		uint8_t hdr[8] = {(uint8_t)r->id,
		                  (uint8_t)(r->id >> 8),
		                  (uint8_t)(r->id >> 16),
		                  (uint8_t)(r->id >> 24),
		                  r->kind,
		                  r->sev,
		                  r->raw,
		                  r->flags};
		h = fnv1a(h, hdr, sizeof(hdr));
		h = fnv1a(h, rs->cats[r->cat], strlen(rs->cats[r->cat]) + 1);
		h = fnv1a(h, r->pat, r->patlen + 1);
	}
	snprintf(rs->hash, sizeof(rs->hash), "%016llx", (unsigned long long)h);
}

void ruleset_where(const struct ruleset *rs, const struct rule *r, char *buf, size_t len)
{
	size_t i = (size_t)(r - rs->rules);
	if (!rs->pos || i >= rs->n) {
		snprintf(buf, len, "rule id %u", r->id);
		return;
	}
	const struct rule_pos *q = &rs->pos[i];
	snprintf(buf, len, "%s:%u:%u", q->file < rs->nfiles ? rs->files[q->file] : "?", q->line,
	         q->col);
}
