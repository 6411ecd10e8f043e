/* html.c - HTML -> visible text.
 *
 * Rules (the README copies these):
 *  - Tags, comments (<!-- -->), doctype / <!...> / <?...> declarations are
 *    removed WITHOUT inserting anything in their place, so "免<b>费</b>"
 *    becomes "免费": splitting a phrase with markup must not hide it.  Block
 *    tags (<br>, <p>) are removed the same way; the normalizer ignores
 *    separators anyway.
 *  - Attribute values are dropped with their tag (quoted values may contain
 *    '>', which does not end the tag).
 *  - <script> contents are KEPT as text (scam text is often injected by
 *    JavaScript: document.write, string literals); the script is not
 *    executed or unescaped, and references inside it are not decoded (raw
 *    text, as in HTML).  <style> contents are DROPPED (no reader sees CSS).
 *  - Character references are decoded: decimal (&#25442;), hex (&#x6362;),
 *    and the HTML 4 named set plus &apos;.  The ';' may be missing.  Numeric
 *    references to 0, surrogates or beyond U+10FFFF become U+FFFD; 0x80-0x9F
 *    map through Windows-1252 as browsers do.  Unknown names stay as they
 *    were ("&foo;").
 *  - A '<' that cannot start a tag ("a < b") is text.
 */
#include "html.h"

#include <string.h>

enum {
	H_TEXT,
	H_LT,      /* after '<' */
	H_ENDOPEN, /* after "</" */
	H_NAME,    /* tag name */
	H_TAG,     /* attributes, up to '>' */
	H_BANG,    /* after "<!" */
	H_BANGDASH,
	H_COMMENT,
	H_DECL, /* <!doctype ...>, <?...>, bogus comments: up to '>' */
	H_ENT,  /* after '&' */
	H_RAW,  /* <script> / <style> contents */
};

#define RAW_SCRIPT 1
#define RAW_STYLE 2

static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
    /* Generated from Python's html.entities.name2codepoint (the HTML 4 set)
     * plus apos; sorted by strcmp for bsearch. */
    {"AElig", 0xC6},     {"Aacute", 0xC1},   {"Acirc", 0xC2},     {"Agrave", 0xC0},
    {"Alpha", 0x391},    {"Aring", 0xC5},    {"Atilde", 0xC3},    {"Auml", 0xC4},
    {"Beta", 0x392},     {"Ccedil", 0xC7},   {"Chi", 0x3A7},      {"Dagger", 0x2021},
    {"Delta", 0x394},    {"ETH", 0xD0},      {"Eacute", 0xC9},    {"Ecirc", 0xCA},
    {"Egrave", 0xC8},    {"Epsilon", 0x395}, {"Eta", 0x397},      {"Euml", 0xCB},
    {"Gamma", 0x393},    {"Iacute", 0xCD},   {"Icirc", 0xCE},     {"Igrave", 0xCC},
    {"Iota", 0x399},     {"Iuml", 0xCF},     {"Kappa", 0x39A},    {"Lambda", 0x39B},
    {"Mu", 0x39C},       {"Ntilde", 0xD1},   {"Nu", 0x39D},       {"OElig", 0x152},
    {"Oacute", 0xD3},    {"Ocirc", 0xD4},    {"Ograve", 0xD2},    {"Omega", 0x3A9},
    {"Omicron", 0x39F},  {"Oslash", 0xD8},   {"Otilde", 0xD5},    {"Ouml", 0xD6},
    {"Phi", 0x3A6},      {"Pi", 0x3A0},      {"Prime", 0x2033},   {"Psi", 0x3A8},
    {"Rho", 0x3A1},      {"Scaron", 0x160},  {"Sigma", 0x3A3},    {"THORN", 0xDE},
    {"Tau", 0x3A4},      {"Theta", 0x398},   {"Uacute", 0xDA},    {"Ucirc", 0xDB},
    {"Ugrave", 0xD9},    {"Upsilon", 0x3A5}, {"Uuml", 0xDC},      {"Xi", 0x39E},
    {"Yacute", 0xDD},    {"Yuml", 0x178},    {"Zeta", 0x396},     {"aacute", 0xE1},
    {"acirc", 0xE2},     {"acute", 0xB4},    {"aelig", 0xE6},     {"agrave", 0xE0},
    {"alefsym", 0x2135}, {"alpha", 0x3B1},   {"amp", 0x26},       {"and", 0x2227},
    {"ang", 0x2220},     {"apos", 0x27},     {"aring", 0xE5},     {"asymp", 0x2248},
    {"atilde", 0xE3},    {"auml", 0xE4},     {"bdquo", 0x201E},   {"beta", 0x3B2},
    {"brvbar", 0xA6},    {"bull", 0x2022},   {"cap", 0x2229},     {"ccedil", 0xE7},
    {"cedil", 0xB8},     {"cent", 0xA2},     {"chi", 0x3C7},      {"circ", 0x2C6},
    {"clubs", 0x2663},   {"cong", 0x2245},   {"copy", 0xA9},      {"crarr", 0x21B5},
    {"cup", 0x222A},     {"curren", 0xA4},   {"dArr", 0x21D3},    {"dagger", 0x2020},
    {"darr", 0x2193},    {"deg", 0xB0},      {"delta", 0x3B4},    {"diams", 0x2666},
    {"divide", 0xF7},    {"eacute", 0xE9},   {"ecirc", 0xEA},     {"egrave", 0xE8},
    {"empty", 0x2205},   {"emsp", 0x2003},   {"ensp", 0x2002},    {"epsilon", 0x3B5},
    {"equiv", 0x2261},   {"eta", 0x3B7},     {"eth", 0xF0},       {"euml", 0xEB},
    {"euro", 0x20AC},    {"exist", 0x2203},  {"fnof", 0x192},     {"forall", 0x2200},
    {"frac12", 0xBD},    {"frac14", 0xBC},   {"frac34", 0xBE},    {"frasl", 0x2044},
    {"gamma", 0x3B3},    {"ge", 0x2265},     {"gt", 0x3E},        {"hArr", 0x21D4},
    {"harr", 0x2194},    {"hearts", 0x2665}, {"hellip", 0x2026},  {"iacute", 0xED},
    {"icirc", 0xEE},     {"iexcl", 0xA1},    {"igrave", 0xEC},    {"image", 0x2111},
    {"infin", 0x221E},   {"int", 0x222B},    {"iota", 0x3B9},     {"iquest", 0xBF},
    {"isin", 0x2208},    {"iuml", 0xEF},     {"kappa", 0x3BA},    {"lArr", 0x21D0},
    {"lambda", 0x3BB},   {"lang", 0x2329},   {"laquo", 0xAB},     {"larr", 0x2190},
    {"lceil", 0x2308},   {"ldquo", 0x201C},  {"le", 0x2264},      {"lfloor", 0x230A},
    {"lowast", 0x2217},  {"loz", 0x25CA},    {"lrm", 0x200E},     {"lsaquo", 0x2039},
    {"lsquo", 0x2018},   {"lt", 0x3C},       {"macr", 0xAF},      {"mdash", 0x2014},
    {"micro", 0xB5},     {"middot", 0xB7},   {"minus", 0x2212},   {"mu", 0x3BC},
    {"nabla", 0x2207},   {"nbsp", 0xA0},     {"ndash", 0x2013},   {"ne", 0x2260},
    {"ni", 0x220B},      {"not", 0xAC},      {"notin", 0x2209},   {"nsub", 0x2284},
    {"ntilde", 0xF1},    {"nu", 0x3BD},      {"oacute", 0xF3},    {"ocirc", 0xF4},
    {"oelig", 0x153},    {"ograve", 0xF2},   {"oline", 0x203E},   {"omega", 0x3C9},
    {"omicron", 0x3BF},  {"oplus", 0x2295},  {"or", 0x2228},      {"ordf", 0xAA},
    {"ordm", 0xBA},      {"oslash", 0xF8},   {"otilde", 0xF5},    {"otimes", 0x2297},
    {"ouml", 0xF6},      {"para", 0xB6},     {"part", 0x2202},    {"permil", 0x2030},
    {"perp", 0x22A5},    {"phi", 0x3C6},     {"pi", 0x3C0},       {"piv", 0x3D6},
    {"plusmn", 0xB1},    {"pound", 0xA3},    {"prime", 0x2032},   {"prod", 0x220F},
    {"prop", 0x221D},    {"psi", 0x3C8},     {"quot", 0x22},      {"rArr", 0x21D2},
    {"radic", 0x221A},   {"rang", 0x232A},   {"raquo", 0xBB},     {"rarr", 0x2192},
    {"rceil", 0x2309},   {"rdquo", 0x201D},  {"real", 0x211C},    {"reg", 0xAE},
    {"rfloor", 0x230B},  {"rho", 0x3C1},     {"rlm", 0x200F},     {"rsaquo", 0x203A},
    {"rsquo", 0x2019},   {"sbquo", 0x201A},  {"scaron", 0x161},   {"sdot", 0x22C5},
    {"sect", 0xA7},      {"shy", 0xAD},      {"sigma", 0x3C3},    {"sigmaf", 0x3C2},
    {"sim", 0x223C},     {"spades", 0x2660}, {"sub", 0x2282},     {"sube", 0x2286},
    {"sum", 0x2211},     {"sup", 0x2283},    {"sup1", 0xB9},      {"sup2", 0xB2},
    {"sup3", 0xB3},      {"supe", 0x2287},   {"szlig", 0xDF},     {"tau", 0x3C4},
    {"there4", 0x2234},  {"theta", 0x3B8},   {"thetasym", 0x3D1}, {"thinsp", 0x2009},
    {"thorn", 0xFE},     {"tilde", 0x2DC},   {"times", 0xD7},     {"trade", 0x2122},
    {"uArr", 0x21D1},    {"uacute", 0xFA},   {"uarr", 0x2191},    {"ucirc", 0xFB},
    {"ugrave", 0xF9},    {"uml", 0xA8},      {"upsih", 0x3D2},    {"upsilon", 0x3C5},
    {"uuml", 0xFC},      {"weierp", 0x2118}, {"xi", 0x3BE},       {"yacute", 0xFD},
    {"yen", 0xA5},       {"yuml", 0xFF},     {"zeta", 0x3B6},     {"zwj", 0x200D},
    {"zwnj", 0x200C},
};

/* HTML5: numeric references 0x80..0x9F mean Windows-1252 characters. */
static const unsigned short c1_map[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178,
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(int c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

long html_entity(const char *name, size_t len, int semi)
{
	(void)semi; /* HTML4 names are accepted without ';' too */
	if (len == 0)
		return -1;
	if (name[0] == '#') {
		size_t i = 1;
		int hex = 0;
		unsigned long v = 0;
		if (i < len && (name[i] == 'x' || name[i] == 'X')) {
			hex = 1;
			i++;
		}
		if (i == len)
			return -1;
		for (; i < len; i++) {
			int d = hex ? hexval(name[i])
			            : (name[i] >= '0' && name[i] <= '9' ? name[i] - '0' : -1);
			if (d < 0)
				return -1;
			v = v * (hex ? 16 : 10) + (unsigned long)d;
			if (v > 0x10FFFF)
				v = 0x110000; /* clamp: stays invalid, cannot overflow */
		}
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return 0xFFFD;
		if (v >= 0x80 && v <= 0x9F)
			return c1_map[v - 0x80];
		return (long)v;
	}
	char key[16];
	if (len >= sizeof(key))
		return -1;
	memcpy(key, name, len);
	key[len] = 0;
	size_t lo = 0, hi = sizeof(entities) / sizeof(entities[0]);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, entities[mid].name);
		if (!c)
			return entities[mid].cp;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Small output buffer so the callback sees runs rather than single bytes. */
struct obuf {
	uint8_t b[512];
	size_t n;
	tsf_out_fn out;
	void *ud;
};

static void ob_flush(struct obuf *o)
{
	if (o->n)
		o->out(o->ud, o->b, o->n);
	o->n = 0;
}

static void ob_put(struct obuf *o, const void *p, size_t n)
{
	if (o->n + n > sizeof(o->b))
		ob_flush(o);
	if (n > sizeof(o->b)) {
		o->out(o->ud, p, n);
		return;
	}
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void ob_cp(struct obuf *o, unsigned long cp)
{
	uint8_t u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	ob_put(o, u, n);
}

void html_init(struct html *h)
{
	memset(h, 0, sizeof(*h));
}

/* The reference in h->ent ended (by ';' when semi).  Emits its expansion or
 * the literal text. */
static void ent_done(struct html *h, struct obuf *o, int semi)
{
	long cp = html_entity(h->ent, h->nent, semi);
	if (cp >= 0) {
		ob_cp(o, (unsigned long)cp);
	} else {
		ob_put(o, "&", 1);
		ob_put(o, h->ent, h->nent);
		if (semi)
			ob_put(o, ";", 1);
	}
	h->nent = 0;
}

static void tag_done(struct html *h)
{
	h->st = H_TEXT;
	if (h->endtag)
		return;
	if (h->nname == 6 && !memcmp(h->name, "script", 6)) {
		h->st = H_RAW;
		h->raw = RAW_SCRIPT;
		h->nraw = 0;
	} else if (h->nname == 5 && !memcmp(h->name, "style", 5)) {
		h->st = H_RAW;
		h->raw = RAW_STYLE;
		h->nraw = 0;
	}
}

void html_feed(struct html *h, const uint8_t *in, size_t len, tsf_out_fn out, void *ud)
{
	struct obuf o;
	o.n = 0;
	o.out = out;
	o.ud = ud;

	for (size_t i = 0; i < len; i++) {
		int c = in[i];
		switch (h->st) {
		case H_TEXT: {
			/* Pass runs of plain text through without copying. */
			size_t j = i;
			while (j < len && in[j] != '<' && in[j] != '&')
				j++;
			if (j > i) {
				ob_flush(&o);
				out(ud, in + i, j - i);
			}
			if (j == len)
				goto done;
			i = j;
			if (in[j] == '<') {
				h->st = H_LT;
			} else {
				h->st = H_ENT;
				h->nent = 0;
			}
			break;
		}
		case H_LT:
			if (c == '!') {
				h->st = H_BANG;
			} else if (c == '/') {
				h->st = H_ENDOPEN;
			} else if (c == '?') {
				h->st = H_DECL;
			} else if (is_alpha(c)) {
				h->st = H_NAME;
				h->endtag = 0;
				h->name[0] = (char)lower(c);
				h->nname = 1;
			} else {
				ob_put(&o, "<", 1);
				h->st = H_TEXT;
				i--;
			}
			break;
		case H_ENDOPEN:
			if (is_alpha(c)) {
				h->st = H_NAME;
				h->endtag = 1;
				h->name[0] = (char)lower(c);
				h->nname = 1;
			} else if (c == '>') {
				h->st = H_TEXT; /* "</>" is ignored */
			} else {
				h->st = H_DECL;
			}
			break;
		case H_NAME:
			if (c == '>') {
				tag_done(h);
			} else if (is_space(c) || c == '/') {
				h->st = H_TAG;
				h->q = 0;
				h->eq = 0;
			} else if (h->nname < sizeof(h->name)) {
				h->name[h->nname++] = (char)lower(c);
			} else {
				h->nname = sizeof(h->name); /* too long: no known tag */
			}
			break;
		case H_TAG:
			if (h->q) {
				if (c == h->q)
					h->q = 0;
			} else if (c == '>') {
				tag_done(h);
			} else if (c == '=') {
				h->eq = 1;
			} else if ((c == '"' || c == '\'') && h->eq) {
				h->q = (uint8_t)c;
				h->eq = 0;
			} else if (!is_space(c)) {
				h->eq = 0;
			}
			break;
		case H_BANG:
			if (c == '-') {
				h->st = H_BANGDASH;
			} else {
				h->st = H_DECL;
				i--;
			}
			break;
		case H_BANGDASH:
			if (c == '-') {
				h->st = H_COMMENT;
				h->dashes = 0;
			} else {
				h->st = H_DECL;
				i--;
			}
			break;
		case H_COMMENT:
			if (c == '-') {
				if (h->dashes < 2)
					h->dashes++;
			} else if (c == '>' && h->dashes >= 2) {
				h->st = H_TEXT;
			} else {
				h->dashes = 0;
			}
			break;
		case H_DECL:
			if (c == '>')
				h->st = H_TEXT;
			break;
		case H_ENT:
			if (c == ';') {
				ent_done(h, &o, 1);
				h->st = H_TEXT;
			} else if ((is_alnum(c) || (c == '#' && h->nent == 0)) &&
			           h->nent < sizeof(h->ent)) {
				h->ent[h->nent++] = (char)c;
			} else {
				ent_done(h, &o, 0);
				h->st = H_TEXT;
				i--;
			}
			break;
		case H_RAW: {
			const char *pat = h->raw == RAW_SCRIPT ? "</script" : "</style";
			size_t plen = h->raw == RAW_SCRIPT ? 8 : 7;
			if (h->nraw == plen) {
				if (is_space(c) || c == '/' || c == '>') {
					h->st = H_TAG;
					h->endtag = 1;
					h->q = 0;
					h->eq = 0;
					h->nraw = 0;
					h->raw = 0;
					i--;
					break;
				}
			} else if (lower(c) == pat[h->nraw]) {
				h->rawbuf[h->nraw++] = (char)c;
				break;
			}
			/* Mismatch: what was held back is script text after all. */
			if (h->raw == RAW_SCRIPT && h->nraw)
				ob_put(&o, h->rawbuf, h->nraw);
			h->nraw = 0;
			if (c == '<') {
				h->rawbuf[h->nraw++] = (char)c;
			} else if (h->raw == RAW_SCRIPT) {
				/* Runs up to the next '<' in one piece. */
				size_t j = i;
				while (j < len && in[j] != '<')
					j++;
				ob_put(&o, in + i, j - i);
				i = j - 1;
			} else {
				const uint8_t *lt = memchr(in + i, '<', len - i);
				i = lt ? (size_t)(lt - in) - 1 : len - 1;
			}
			break;
		}
		}
	}
done:
	ob_flush(&o);
}

void html_end(struct html *h, tsf_out_fn out, void *ud)
{
	struct obuf o;
	o.n = 0;
	o.out = out;
	o.ud = ud;
	if (h->st == H_LT)
		ob_put(&o, "<", 1);
	else if (h->st == H_ENT)
		ent_done(h, &o, 0);
	else if (h->st == H_RAW && h->raw == RAW_SCRIPT && h->nraw)
		ob_put(&o, h->rawbuf, h->nraw);
	ob_flush(&o);
	html_init(h);
}

/* ---- prescan ---- */

static const uint8_t *find_ci(const uint8_t *p, const uint8_t *end, const char *needle)
{
	size_t n = strlen(needle);
	for (; p + n <= end; p++) {
		size_t k = 0;
		while (k < n && lower(p[k]) == needle[k])
			k++;
		if (k == n)
			return p;
	}
	return NULL;
}

int html_meta_charset(const uint8_t *buf, size_t len, const char **label, size_t *llen)
{
	const uint8_t *p = buf, *end = buf + len;
	while ((p = find_ci(p, end, "<meta")) != NULL) {
		p += 5;
		const uint8_t *gt = memchr(p, '>', (size_t)(end - p));
		const uint8_t *tend = gt ? gt : end;
		const uint8_t *cs = find_ci(p, tend, "charset");
		if (!cs)
			continue;
		const uint8_t *v = cs + 7;
		while (v < tend && is_space(*v))
			v++;
		if (v >= tend || *v != '=')
			continue;
		v++;
		while (v < tend && (is_space(*v) || *v == '"' || *v == '\''))
			v++;
		const uint8_t *e = v;
		while (e < tend && !is_space(*e) && *e != '"' && *e != '\'' && *e != ';' &&
		       *e != '/' && *e != '>')
			e++;
		if (e > v) {
			*label = (const char *)v;
			*llen = (size_t)(e - v);
			return 1;
		}
	}
	return 0;
}

int html_sniff(const uint8_t *buf, size_t len)
{
	size_t i = 0;
	if (len >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF)
		i = 3;
	while (i < len && is_space(buf[i]))
		i++;
	if (i >= len || buf[i] != '<')
		return 0;
	return find_ci(buf + i, buf + len, "<html") || find_ci(buf + i, buf + len, "<!doctype");
}
