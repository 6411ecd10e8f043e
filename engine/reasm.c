/* reasm.c - per-direction TCP reassembly (see reasm.h). */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

struct reasm_seg {
	struct reasm_seg *next;
	uint64_t off; /* stream offset of data[0] */
	size_t len;
	uint8_t data[];
};

/* Overhead charged per buffered segment, so many tiny segments cannot
 * exhaust memory while staying under a byte cap. */
#define SEG_OVERHEAD (sizeof(struct reasm_seg) + 16)

void reasm_init(struct reasm *r)
{
	memset(r, 0, sizeof(*r));
}

void reasm_syn(struct reasm *r, uint32_t isn)
{
	if (r->init)
		return; /* a retransmitted SYN changes nothing */
	r->init = 1;
	r->next = 0;
	r->next_seq = isn + 1;
}

static void charge(const struct reasm_limits *lim, struct reasm *r, long delta)
{
	r->ooo_bytes = (size_t)((long)r->ooo_bytes + delta);
	if (lim && lim->global_used)
		*lim->global_used = (size_t)((long)*lim->global_used + delta);
}

static void deliver(struct reasm *r, const uint8_t *p, size_t len, const struct reasm_out *out)
{
	r->next += len;
	r->next_seq += (uint32_t)len;
	out->data(out->ud, p, len);
}

/* Delivers buffered segments that are now in order. */
static void drain(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out,
                  struct tsf_stats *st)
{
	while (r->ooo && r->ooo->off <= r->next) {
		struct reasm_seg *s = r->ooo;
		r->ooo = s->next;
		uint64_t end = s->off + s->len;
		if (end > r->next) {
			size_t skip = (size_t)(r->next - s->off);
			deliver(r, s->data + skip, s->len - skip, out);
			st->reasm_inorder++;
		}
		charge(lim, r, -(long)(s->len + SEG_OVERHEAD));
		free(s);
	}
}

/* Skips the hole before the first buffered segment. */
static void skip_gap(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out,
                     struct tsf_stats *st)
{
	if (!r->ooo)
		return;
	uint64_t lost = r->ooo->off - r->next;
	r->next_seq += (uint32_t)lost;
	r->next = r->ooo->off;
	st->reasm_gaps++;
	out->gap(out->ud, lost);
	drain(r, lim, out, st);
}

static int over_cap(const struct reasm *r, const struct reasm_limits *lim, size_t add)
{
	if (!lim)
		return 0;
	if (lim->memcap_flow && r->ooo_bytes + add > lim->memcap_flow)
		return 1;
	if (lim->global_used && lim->memcap_global && *lim->global_used + add > lim->memcap_global)
		return 2;
	return 0;
}

/* Inserts [off, off+len) into the sorted list, filling only holes: bytes
 * already buffered win (first copy wins).  Returns -1 when a memcap stopped
 * it (pieces before that point stay buffered). */
static int insert(struct reasm *r, uint64_t off, const uint8_t *p, size_t len,
                  const struct reasm_limits *lim, struct tsf_stats *st)
{
	struct reasm_seg **pp = &r->ooo;
	uint64_t cur = off, end = off + len;
	int overlapped = 0;
	while (cur < end) {
		struct reasm_seg *x = *pp;
		uint64_t piece_end = end;
		if (x && x->off + x->len <= cur) { /* entirely before cur */
			pp = &x->next;
			continue;
		}
		if (x && x->off <= cur) { /* cur is inside x: skip x's bytes */
			overlapped = 1;
			cur = x->off + x->len;
			pp = &x->next;
			continue;
		}
		if (x && x->off < piece_end) {
			piece_end = x->off;
			overlapped = 1;
		}
		size_t n = (size_t)(piece_end - cur);
		int cap = over_cap(r, lim, n + SEG_OVERHEAD);
		if (cap) {
			if (cap == 1)
				st->reasm_memcap_flow++;
			else
				st->reasm_memcap_global++;
			return -1;
		}
		struct reasm_seg *s = malloc(sizeof(*s) + n);
		if (!s) {
			st->reasm_memcap_global++;
			return -1;
		}
		s->off = cur;
		s->len = n;
		memcpy(s->data, p + (cur - off), n);
		s->next = x;
		*pp = s;
		pp = &s->next;
		charge(lim, r, (long)(n + SEG_OVERHEAD));
		cur = piece_end;
	}
	if (overlapped)
		st->reasm_overlap++;
	return 0;
}

void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *p, size_t len,
                   const struct reasm_limits *lim, const struct reasm_out *out,
                   struct tsf_stats *st)
{
	if (len == 0)
		return;
	if (!r->init) { /* midstream pickup: the first data seen starts the stream */
		r->init = 1;
		r->next = 0;
		r->next_seq = seq;
	}
	int32_t rel = (int32_t)(seq - r->next_seq);
	if (rel < 0) {
		size_t behind = (size_t)(-(int64_t)rel);
		if (behind >= len) {
			st->reasm_retrans++;
			return;
		}
		st->reasm_overlap++;
		p += behind;
		len -= behind;
		rel = 0;
	}
	if (rel == 0) {
		/* Buffered bytes that overlap this segment came first: deliver up
		 * to the first buffered segment, then let the rest fill holes. */
		size_t n = len;
		if (r->ooo && r->ooo->off < r->next + len)
			n = (size_t)(r->ooo->off - r->next);
		deliver(r, p, n, out);
		st->reasm_inorder++;
		if (n < len)
			insert(r, r->next, p + n, len - n, lim, st); /* counts the overlap */
		drain(r, lim, out, st);
		return;
	}
	st->reasm_ooo++;
	while (insert(r, r->next + (uint64_t)rel, p, len, lim, st) < 0) {
		/* Over a memcap: give up on the oldest hole so the stream moves
		 * on, then retry with what is left of this segment. */
		if (!r->ooo)
			return;
		skip_gap(r, lim, out, st);
		rel = (int32_t)(seq - r->next_seq);
		if (rel <= 0) {
			reasm_segment(r, seq, p, len, lim, out, st);
			return;
		}
	}
}

void reasm_flush(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out,
                 struct tsf_stats *st)
{
	while (r->ooo)
		skip_gap(r, lim, out, st);
}

void reasm_free(struct reasm *r, const struct reasm_limits *lim)
{
	while (r->ooo) {
		struct reasm_seg *s = r->ooo;
		r->ooo = s->next;
		charge(lim, r, -(long)(s->len + SEG_OVERHEAD));
		free(s);
	}
}
