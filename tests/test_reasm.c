/* test_reasm.c - TCP reassembly: in order, split, out of order, retransmitted,
 * overlapping (first copy wins), gaps, memcaps, sequence wraparound, and a
 * randomized property: any delivery order yields the stream exactly once. */
#include <stdlib.h>
#include <string.h>

#include "reasm.h"
#include "unit.h"

struct sink {
	char buf[1 << 16];
	size_t len;
	int gaps;
	uint64_t lost;
};

static void on_data(void *ud, const uint8_t *p, size_t len)
{
	struct sink *s = ud;
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = 0;
}

static void on_gap(void *ud, uint64_t lost)
{
	struct sink *s = ud;
	s->gaps++;
	s->lost += lost;
	s->buf[s->len++] = '|'; /* make gaps visible in the text */
	s->buf[s->len] = 0;
}

struct fixture {
	struct reasm r;
	struct sink s;
	struct reasm_out out;
	struct reasm_limits lim;
	size_t used;
	struct tsf_stats st;
};

static struct fixture *fx_new(uint32_t isn, size_t cap_flow, size_t cap_global)
{
	struct fixture *f = calloc(1, sizeof(*f));
	reasm_init(&f->r);
	reasm_syn(&f->r, isn);
	f->out = (struct reasm_out){on_data, on_gap, &f->s};
	f->lim.memcap_flow = cap_flow;
	f->lim.memcap_global = cap_global;
	f->lim.global_used = &f->used;
	return f;
}

static void seg(struct fixture *f, uint32_t seq, const char *data)
{
	reasm_segment(&f->r, seq, (const uint8_t *)data, strlen(data), &f->lim, &f->out, &f->st);
}

static void fx_end(struct fixture *f)
{
	reasm_flush(&f->r, &f->lim, &f->out, &f->st);
	reasm_free(&f->r, &f->lim);
}

static void test_in_order(void)
{
	struct fixture *f = fx_new(1000, 1 << 20, 1 << 20);
	seg(f, 1001, "hello ");
	seg(f, 1007, "world");
	fx_end(f);
	CHECK_STR(f->s.buf, "hello world");
	CHECK_EQ_INT(f->st.reasm_inorder, 2);
	CHECK_EQ_INT(f->used, 0);
	free(f);
}

static void test_out_of_order(void)
{
	struct fixture *f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 7, "world");
	seg(f, 4, "lo ");
	CHECK_EQ_INT(f->s.len, 0);
	seg(f, 1, "hel");
	CHECK_STR(f->s.buf, "hello world");
	CHECK_EQ_INT(f->st.reasm_ooo, 2);
	CHECK_EQ_INT(f->r.ooo_bytes, 0);
	fx_end(f);
	CHECK_EQ_INT(f->s.gaps, 0);
	free(f);
}

static void test_retrans(void)
{
	struct fixture *f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 1, "abc");
	seg(f, 1, "abc");
	seg(f, 4, "def");
	seg(f, 1, "abcdef");
	fx_end(f);
	CHECK_STR(f->s.buf, "abcdef");
	CHECK_EQ_INT(f->st.reasm_retrans, 2);
	free(f);
}

/* Overlaps: the first copy of every byte wins, delivered or buffered. */
static void test_overlap_first_wins(void)
{
	struct fixture *f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 1, "abc");
	seg(f, 2, "XYZde"); /* "XY" (offsets 1-2) overlaps delivered "bc": trimmed */
	CHECK_STR(f->s.buf, "abcZde");
	free(f);

	f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 5, "EF");      /* buffered [5,7) */
	seg(f, 9, "IJ");      /* buffered [9,11) */
	seg(f, 3, "cdXYghZ"); /* [3,10): fills holes 3-5 and 7-9 only */
	CHECK_EQ_INT(f->s.len, 0);
	seg(f, 1, "ab");
	CHECK_STR(f->s.buf, "abcdEFghIJ");
	CHECK(f->st.reasm_overlap >= 1);
	fx_end(f);
	free(f);

	/* in-order segment running into buffered data */
	f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 4, "DEF");
	seg(f, 1, "abcxyzghi");
	CHECK_STR(f->s.buf, "abcDEFghi");
	fx_end(f);
	free(f);
}

static void test_gap_at_end(void)
{
	struct fixture *f = fx_new(0, 1 << 20, 1 << 20);
	seg(f, 1, "abc");
	seg(f, 7, "ghi"); /* 4..6 never arrives */
	fx_end(f);
	CHECK_STR(f->s.buf, "abc|ghi");
	CHECK_EQ_INT(f->s.gaps, 1);
	CHECK_EQ_INT(f->s.lost, 3);
	CHECK_EQ_INT(f->st.reasm_gaps, 1);
	free(f);
}

/* Over the per-flow cap the oldest hole is skipped so the stream moves on. */
static void test_memcap_flow(void)
{
	struct fixture *f = fx_new(0, 200, 1 << 20);
	char big[101];
	memset(big, 'x', 100);
	big[100] = 0;
	seg(f, 1, "a");
	seg(f, 10, big);  /* buffered: 100 + overhead */
	seg(f, 200, big); /* over the cap: gap before 10 is given up */
	CHECK(f->st.reasm_memcap_flow >= 1);
	CHECK(f->s.gaps >= 1);
	CHECK(f->s.len >= 101);
	CHECK(f->r.ooo_bytes <= 200);
	fx_end(f);
	CHECK_EQ_INT(f->used, 0);
	free(f);
}

static void test_memcap_global(void)
{
	size_t used = 0;
	struct fixture *a = fx_new(0, 1 << 20, 300), *b = fx_new(0, 1 << 20, 300);
	a->lim.global_used = b->lim.global_used = &used;
	char big[151];
	memset(big, 'y', 150);
	big[150] = 0;
	seg(a, 10, big);
	seg(b, 10, big); /* both together exceed the worker cap */
	CHECK(a->st.reasm_memcap_global + b->st.reasm_memcap_global >= 1);
	CHECK(used <= 300);
	fx_end(a);
	fx_end(b);
	CHECK_EQ_INT(used, 0);
	free(a);
	free(b);
}

static void test_wraparound(void)
{
	struct fixture *f = fx_new(0xfffffffdu, 1 << 20, 1 << 20);
	seg(f, 0xfffffffeu, "ab");
	seg(f, 0x00000002u, "ef");
	seg(f, 0x00000000u, "cd");
	fx_end(f);
	CHECK_STR(f->s.buf, "abcdef");
	free(f);
}

/* Midstream: no SYN seen, the first data starts the stream. */
static void test_midstream(void)
{
	struct fixture *f = calloc(1, sizeof(*f));
	reasm_init(&f->r);
	f->out = (struct reasm_out){on_data, on_gap, &f->s};
	seg(f, 5000, "mid");
	seg(f, 5003, "stream");
	fx_end(f);
	CHECK_STR(f->s.buf, "midstream");
	free(f);
}

/* Property: random segmentation, order, duplicates and overlaps of a
 * stream (same bytes) always deliver the stream once, with no gap. */
static void test_random_orders(void)
{
	char stream[2001];
	for (int i = 0; i < 2000; i++)
		stream[i] = (char)('a' + i % 26);
	stream[2000] = 0;
	srand(7);
	for (int round = 0; round < 300; round++) {
		struct fixture *f = fx_new(12345, 1 << 20, 1 << 20);
		struct {
			int off, len;
		} segs[400];
		int n = 0;
		for (int off = 0; off < 2000;) {
			int len = 1 + rand() % 40;
			if (off + len > 2000)
				len = 2000 - off;
			segs[n].off = off;
			segs[n].len = len;
			n++;
			off += len;
		}
		int total = n;
		for (int d = 0; d < 30 && total < 400; d++) { /* duplicates, overlapping */
			int k = rand() % n, o = segs[k].off > 5 ? segs[k].off - rand() % 5 : 0;
			segs[total].off = o;
			segs[total].len = segs[k].len + 3;
			if (segs[total].off + segs[total].len > 2000)
				segs[total].len = 2000 - segs[total].off;
			total++;
		}
		for (int i = total - 1; i > 0; i--) { /* shuffle */
			int j = rand() % (i + 1);
			int to = segs[i].off, tl = segs[i].len;
			segs[i] = segs[j];
			segs[j].off = to;
			segs[j].len = tl;
		}
		for (int i = 0; i < total; i++)
			reasm_segment(&f->r, 12346u + (uint32_t)segs[i].off,
			              (const uint8_t *)stream + segs[i].off, (size_t)segs[i].len,
			              &f->lim, &f->out, &f->st);
		fx_end(f);
		if (f->s.len != 2000 || memcmp(f->s.buf, stream, 2000) || f->s.gaps) {
			CHECK(!"random order round delivered a different stream");
			free(f);
			break;
		}
		free(f);
	}
}

int main(void)
{
	RUN(test_in_order);
	RUN(test_out_of_order);
	RUN(test_retrans);
	RUN(test_overlap_first_wins);
	RUN(test_gap_at_end);
	RUN(test_memcap_flow);
	RUN(test_memcap_global);
	RUN(test_wraparound);
	RUN(test_midstream);
	RUN(test_random_orders);
	return UNIT_DONE();
}
