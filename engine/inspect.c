/* inspect.c - per-direction matching pipeline (see inspect.h).
 *
 * Data flow for one direction:
 *   bytes --> RAW stream (raw rules)
 *         --> decoder --> text --> TEXT stream (regex rules)
 *                              --> normalizer --> NORM stream (literal rules)
 * Offsets reported in verdicts: RAW in the byte stream, TEXT and NORM in
 * the decoded text (NORM via the normalizer's offset map), so an author can
 * find the match in what `tapsift normalize` and the decoders show.
 */
#include "inspect.h"

#include "match_lit.h"

#include <stdlib.h>
#include <string.h>

#define SLICE 16384 /* text is normalized in slices, bounding the buffers */

static struct insp_set *set_new(struct insp_worker *w, struct matcher *m)
{
	int slot = -1;
	for (int i = 0; i < INSP_MAX_SETS; i++)
		if (!w->sets[i]) {
			slot = i;
			break;
		}
	if (slot < 0)
		return NULL;
	struct insp_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->scratch = matcher_scratch_new(m);
	if (!s->scratch && (m->db[0] || m->db[1] || m->db[2])) {
		free(s);
		return NULL;
	}
	matcher_ref(m);
	s->m = m;
	s->users = 1; /* the worker's "current" hold */
	w->sets[slot] = s;
	return s;
}

static void set_release(struct insp_worker *w, struct insp_set *s)
{
	if (!s || --s->users)
		return;
	for (int i = 0; i < INSP_MAX_SETS; i++)
		if (w->sets[i] == s)
			w->sets[i] = NULL;
	hs_free_scratch(s->scratch);
	matcher_unref(s->m);
	free(s);
}

int insp_worker_init(struct insp_worker *w, struct matcher *m, struct vsink *sink,
                     struct tsf_stats *st, const struct dec_limits *dec)
{
	memset(w, 0, sizeof(*w));
	w->sink = sink;
	w->st = st;
	w->dec = dec;
	w->cur = set_new(w, m);
	w->nbuf = malloc((size_t)NORM_MAX_EXPANSION * (SLICE + 4));
	if (!w->cur || !w->nbuf) {
		insp_worker_free(w);
		return -1;
	}
	return 0;
}

int insp_set_matcher(struct insp_worker *w, struct matcher *m)
{
	if (w->cur && w->cur->m == m)
		return 0;
	struct insp_set *s = set_new(w, m);
	if (!s)
		return -1;
	set_release(w, w->cur);
	w->cur = s;
	return 0;
}

void insp_worker_free(struct insp_worker *w)
{
	set_release(w, w->cur); /* flows hold the others; they are gone by now */
	w->cur = NULL;
	for (int i = 0; i < INSP_MAX_SETS; i++)
		if (w->sets[i]) { /* a flow leaked its hold: free anyway */
			w->sets[i]->users = 1;
			set_release(w, w->sets[i]);
		}
	free(w->nbuf);
	w->nbuf = NULL;
}

/* The rule set of a direction: fixed at its first use. */
static void bind(struct insp_worker *w, struct insp_dir *d)
{
	if (!d->set) {
		d->set = w->cur;
		d->set->users++;
	}
}

void insp_dir_init(struct insp_dir *d)
{
	memset(d, 0, sizeof(*d));
	litidx_stream_init(&d->lit);
}

/* ---- dedup ---- */

static int seen_before(struct insp_dir *d, uint32_t idx)
{
	if (d->nhits * 2 >= d->caphits) {
		uint32_t nc = d->caphits ? d->caphits * 2 : 8;
		uint32_t *t = calloc(nc, sizeof(*t));
		if (!t)
			return 0; /* better a duplicate than a lost verdict */
		for (uint32_t i = 0; i < d->caphits; i++) {
			if (!d->hits[i])
				continue;
			uint32_t h = (d->hits[i] * 2654435761u) & (nc - 1);
			while (t[h])
				h = (h + 1) & (nc - 1);
			t[h] = d->hits[i];
		}
		free(d->hits);
		d->hits = t;
		d->caphits = nc;
	}
	uint32_t key = idx + 1, h = (key * 2654435761u) & (d->caphits - 1);
	while (d->hits[h]) {
		if (d->hits[h] == key)
			return 1;
		h = (h + 1) & (d->caphits - 1);
	}
	d->hits[h] = key;
	d->nhits++;
	return 0;
}

/* ---- excerpts ---- */

/* Copies up to TSF_EXCERPT_MAX bytes ending at stream offset `end` from
 * tail (history before the current chunk) + chunk; cut on UTF-8 boundaries. */
static size_t excerpt(char *out, const uint8_t *tail, size_t tail_len, const uint8_t *chunk,
                      size_t chunk_len, uint64_t chunk_off, uint64_t end)
{
	uint8_t buf[INSP_TAIL + TSF_EXCERPT_MAX];
	size_t n = 0;
	uint64_t in_chunk = end > chunk_off ? end - chunk_off : 0;
	if (in_chunk > chunk_len)
		in_chunk = chunk_len;
	size_t from_chunk = in_chunk > TSF_EXCERPT_MAX ? TSF_EXCERPT_MAX : (size_t)in_chunk;
	size_t from_tail = TSF_EXCERPT_MAX - from_chunk;
	if (end < chunk_off) /* match ended before the chunk: only history */
		from_tail = 0;
	if (from_tail > tail_len)
		from_tail = tail_len;
	memcpy(buf, tail + tail_len - from_tail, from_tail);
	n = from_tail;
	memcpy(buf + n, chunk + in_chunk - from_chunk, from_chunk);
	n += from_chunk;
	size_t s = 0;
	while (s < n && s < 3 && (buf[s] & 0xc0) == 0x80)
		s++;
	size_t e = utf8_trim_tail(buf + s, n - s);
	memcpy(out, buf + s, e);
	return e;
}

static void keep_tail(uint8_t *tail, uint8_t *tail_len, const uint8_t *p, size_t len)
{
	if (len >= INSP_TAIL) {
		memcpy(tail, p + len - INSP_TAIL, INSP_TAIL);
		*tail_len = INSP_TAIL;
		return;
	}
	size_t keep = (size_t)*tail_len + len > INSP_TAIL ? INSP_TAIL - len : *tail_len;
	memmove(tail, tail + *tail_len - keep, keep);
	memcpy(tail + keep, p, len);
	*tail_len = (uint8_t)(keep + len);
}

/* ---- match callbacks ---- */

struct cbctx {
	struct insp_dir *d;
	enum match_layer layer;
};

/* A match of rule index id on layer l ending at `to` in that layer's
 * coordinates (NORM: index + 1 of the last byte in the current normalized
 * slice): dedup, then a verdict. */
static void report(struct insp_dir *d, enum match_layer l, unsigned id, uint64_t to)
{
	struct insp_worker *w = d->w;
	const struct matcher *m = d->set->m;
	const struct ruleset *rs = m->rs;
	if (id >= rs->n)
		return;
	if (seen_before(d, id)) {
		w->st->verdicts_dup++;
		return;
	}
	const struct rule *r = &rs->rules[id];
	const struct insp_meta *mt = d->meta;
	struct tsf_verdict v;
	memset(&v, 0, sizeof(v));
	v.ts_ns = w->now_ns;
	v.ipver = mt->ipver;
	v.proto = mt->proto;
	v.dir = mt->dir;
	memcpy(v.src, mt->src, 16);
	memcpy(v.dst, mt->dst, 16);
	v.sport = mt->sport;
	v.dport = mt->dport;
	v.file = mt->file;
	v.rule_id = r->id;
	v.category = rs->cats[r->cat];
	v.msg = rule_msg(r);
	v.sev = r->sev;
	v.ruleset = rs->hash;
	v.ruleset_version = m->version;
	if (l == MATCH_RAW) {
		v.offset = d->base[MATCH_RAW] + to;
		v.excerpt_len = (uint16_t)excerpt(v.excerpt, d->rtail, d->rtail_len, d->rcur,
		                                  d->rcur_len, d->raw_off, v.offset);
	} else {
		if (l == MATCH_TEXT) {
			v.offset = d->base[MATCH_TEXT] + to;
		} else {
			/* Offsets are recomputed per verdict rather than mapped for
			 * every byte: filling a map costs 25-45% of normalization. */
			uint64_t off =
			    to - 1 < d->cur_norm_len
			        ? norm_offset(&d->norm_before, d->cur, d->cur_len, to - 1)
			        : UINT64_MAX;
			v.offset = off != UINT64_MAX ? off : d->text_off;
		}
		v.excerpt_len = (uint16_t)excerpt(v.excerpt, d->tail, d->tail_len, d->cur,
		                                  d->cur_len, d->cur_off, v.offset);
	}
	w->st->verdicts++;
	__atomic_add_fetch(&m->hits[id], 1, __ATOMIC_RELAXED);
	w->sink->emit(w->sink, &v);
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
	(void)from, (void)flags;
	struct cbctx *c = ctx;
	if (c->layer == MATCH_NORM)
		to -= c->d->cur_norm_start; /* HS stream offset -> slice offset */
	report(c->d, c->layer, id, to);
	return 0;
}

static void on_lit(uint32_t id, uint64_t end, void *ctx)
{
	struct insp_dir *d = ctx;
	report(d, MATCH_NORM, id, end - d->lit_slice_pos);
}

static void scan(struct insp_dir *d, enum match_layer l, const uint8_t *p, size_t len)
{
	struct insp_worker *w = d->w;
	const struct matcher *m = d->set->m;
	if (!m->db[l] || len == 0)
		return;
	if (!d->hs[l]) {
		if (hs_open_stream(m->db[l], 0, &d->hs[l]) != HS_SUCCESS) {
			w->st->hs_errors++;
			return;
		}
		d->base[l] = l == MATCH_RAW ? d->raw_off : l == MATCH_TEXT ? d->cur_off : 0;
		if (l == MATCH_NORM)
			d->norm_off = 0;
	}
	struct cbctx c = {d, l};
	if (hs_scan_stream(d->hs[l], (const char *)p, (unsigned)len, 0, d->set->scratch, on_match,
	                   &c) != HS_SUCCESS)
		w->st->hs_errors++;
}

/* Closes (flushes) every stream; they reopen lazily on the next data. */
static void close_streams(struct insp_dir *d, int only_text)
{
	for (int l = only_text ? MATCH_TEXT : MATCH_RAW; l < MATCH_LAYERS; l++) {
		if (!d->hs[l])
			continue;
		struct cbctx c = {d, (enum match_layer)l};
		hs_close_stream(d->hs[l], d->set->scratch, on_match, &c);
		d->hs[l] = NULL;
	}
}

/* ---- text from the decoder ---- */

static void text_slice(struct insp_dir *d, const uint8_t *p, size_t len)
{
	struct insp_worker *w = d->w;
	d->cur = p;
	d->cur_len = len;
	w->st->scanned_text += len;
	scan(d, MATCH_TEXT, p, len);
	const struct matcher *m = d->set->m;
	if (m->db[MATCH_NORM] || m->lit) {
		if (!d->hs[MATCH_NORM])
			d->norm_off = 0;
		d->norm_before = d->norm;
		size_t n = norm_feed(&d->norm, p, len, w->nbuf, NULL);
		d->cur_norm_start = d->norm_off;
		d->cur_norm_len = n;
		w->st->scanned_norm += n;
		scan(d, MATCH_NORM, w->nbuf, n);
		d->norm_off += n;
		if (m->lit && n) {
			d->lit_slice_pos = d->lit.pos;
			litidx_scan(m->lit, &d->lit, w->nbuf, n, on_lit, d);
		}
	}
	keep_tail(d->tail, &d->tail_len, p, len);
	d->text_off += len;
	d->cur_off = d->text_off;
	d->cur = NULL;
	d->cur_len = 0;
}

static void on_text(void *ud, const uint8_t *p, size_t len)
{
	struct insp_dir *d = ud;
	while (len) {
		size_t n = len > SLICE ? SLICE : len;
		text_slice(d, p, n);
		p += n;
		len -= n;
	}
}

static void norm_restart(struct insp_dir *d)
{
	norm_init(&d->norm, d->set->m->norm_flags);
	d->norm.in_pos = d->text_off;
}

/* A boundary matches must not span: end of an HTTP message, a gap. */
static void on_reset(void *ud)
{
	struct insp_dir *d = ud;
	close_streams(d, 1);
	norm_restart(d);
	litidx_stream_reset(&d->lit);
	d->tail_len = 0;
}

static void ensure_decoder(struct insp_worker *w, struct insp_dir *d)
{
	if (d->dec || !(d->set->m->db[MATCH_TEXT] || d->set->m->db[MATCH_NORM] || d->set->m->lit))
		return;
	struct dec_sink sink = {on_text, on_reset, d};
	d->dec = dec_new(w->dec, &sink, w->st);
	norm_restart(d);
}

void insp_data(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta,
               const uint8_t *p, size_t len)
{
	d->w = w;
	d->meta = meta;
	bind(w, d);
	if (w->stream_depth) {
		if (d->raw_off >= w->stream_depth) {
			w->st->reasm_depth += len;
			return;
		}
		if (d->raw_off + len > w->stream_depth) {
			w->st->reasm_depth += d->raw_off + len - w->stream_depth;
			len = (size_t)(w->stream_depth - d->raw_off);
		}
	}
	d->rcur = p;
	d->rcur_len = len;
	w->st->scanned_raw += len;
	scan(d, MATCH_RAW, p, len);
	keep_tail(d->rtail, &d->rtail_len, p, len);
	d->raw_off += len;
	d->rcur = NULL;
	d->rcur_len = 0;
	ensure_decoder(w, d);
	if (d->dec)
		dec_feed(d->dec, p, len);
}

void insp_gap(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta)
{
	d->w = w;
	d->meta = meta;
	bind(w, d);
	close_streams(d, 0);
	d->rtail_len = 0;
	if (d->dec)
		dec_gap(d->dec);
	on_reset(d);
}

void insp_end(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta)
{
	d->w = w;
	d->meta = meta;
	if (!d->set)
		return; /* never saw data */
	if (d->dec) {
		dec_finish(d->dec);
		dec_free(d->dec);
		d->dec = NULL;
	}
	close_streams(d, 0);
	litidx_stream_reset(&d->lit);
	d->raw_off = d->text_off = d->norm_off = 0;
	d->cur_off = 0;
	d->tail_len = d->rtail_len = 0;
}

void insp_dir_free(struct insp_worker *w, struct insp_dir *d)
{
	/* Streams must already be closed by insp_end (it needs the scratch). */
	if (d->dec)
		dec_free(d->dec);
	free(d->hits);
	d->hits = NULL;
	d->dec = NULL;
	litidx_stream_free(&d->lit);
	set_release(w, d->set);
	d->set = NULL;
}
