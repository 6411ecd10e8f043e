/* test_defrag.c - IP fragment reassembly: arrival orders, duplicates and
 * overlaps (first copy wins), holes and the timeout, the memcap, the size
 * limit, invalid fragments, eviction, and real IPv4/IPv6 frames through
 * pkt_parse_frag -> defrag -> pkt_parse_l4. */
#include <stdlib.h>
#include <string.h>

#include "defrag.h"
#include "packet.h"
#include "unit.h"

#define SEC 1000000000ull

static struct tsf_stats st;

static struct defrag *mk(size_t memcap, size_t maxd)
{
	struct defrag_config c;
	defrag_config_default(&c);
	if (memcap)
		c.memcap = memcap;
	if (maxd)
		c.max_datagrams = maxd;
	memset(&st, 0, sizeof(st));
	return defrag_new(&c, &st);
}

static struct tsf_frag frag(uint32_t id, const uint8_t *payload, uint32_t off, uint32_t len,
                            int more)
{
	struct tsf_frag f;
	memset(&f, 0, sizeof(f));
	f.ipver = 4;
	f.proto = TSF_PROTO_UDP;
	f.id = id;
	f.more = (uint8_t)more;
	f.offset = off;
	f.hdr_len = 20;
	f.src[0] = 10, f.src[3] = 1;
	f.dst[0] = 192, f.dst[2] = 2, f.dst[3] = 7;
	f.data = payload + off;
	f.len = len;
	return f;
}

static void fill_payload(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* Splits [0,n) into pieces of `piece` bytes (8-aligned) and feeds them in
 * the order given by perm; returns how many outputs came, checks the one
 * that came matches payload. */
static int feed_order(struct defrag *d, const uint8_t *payload, uint32_t n, uint32_t piece,
                      const uint32_t *perm, uint32_t nperm, uint32_t id)
{
	int outputs = 0;
	for (uint32_t k = 0; k < nperm; k++) {
		uint32_t i = perm[k];
		uint32_t off = i * piece, len = off + piece < n ? piece : n - off;
		struct tsf_frag f = frag(id, payload, off, len, off + len < n);
		struct defrag_dgram g;
		if (defrag_add(d, &f, (k + 1) * 1000ull, 0, &g)) {
			outputs++;
			CHECK_EQ_INT(g.len, n);
			CHECK(!memcmp(g.data, payload, n));
			CHECK_EQ_INT(g.ts_ns, (k + 1) * 1000ull); /* the last fragment's time */
			CHECK_EQ_INT(g.proto, TSF_PROTO_UDP);
			CHECK_EQ_INT(g.ipver, 4);
			CHECK_EQ_INT(g.src[0], 10);
			CHECK_EQ_INT(k, nperm - 1); /* only the last fragment completes */
		}
	}
	return outputs;
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void shuffle(uint32_t *a, uint32_t n)
{
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rnd() % i, t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static void test_in_order(void)
{
	uint8_t p[3000];
	uint32_t perm[3] = {0, 1, 2};
	fill_payload(p, sizeof(p), 1);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 1480, perm, 3, 1), 1);
	CHECK_EQ_INT(st.frag_packets, 3);
	CHECK_EQ_INT(st.frag_reassembled, 1);
	CHECK_EQ_INT(st.frag_overlaps, 0);
	CHECK_EQ_INT(defrag_count(d), 0);
	defrag_free(d);
}

static void test_reverse(void)
{
	uint8_t p[5001];
	uint32_t perm[4] = {3, 2, 1, 0};
	fill_payload(p, sizeof(p), 2);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 1480, perm, 4, 2), 1);
	CHECK_EQ_INT(st.frag_reassembled, 1);
	defrag_free(d);
}

static void test_shuffled(void)
{
	static uint8_t p[65000];
	static uint32_t perm[8192];
	struct defrag *d = mk(0, 0);
	for (int round = 0; round < 50; round++) {
		uint32_t n = 1 + rnd() % (uint32_t)sizeof(p);
		uint32_t piece = 8 * (1 + rnd() % 200);
		uint32_t np = (n + piece - 1) / piece;
		fill_payload(p, n, (unsigned)round);
		for (uint32_t i = 0; i < np; i++)
			perm[i] = i;
		shuffle(perm, np);
		CHECK_EQ_INT(feed_order(d, p, n, piece, perm, np, 100 + (uint32_t)round), 1);
	}
	CHECK_EQ_INT(st.frag_reassembled, 50);
	CHECK_EQ_INT(st.frag_overlaps, 0);
	CHECK_EQ_INT(defrag_count(d), 0);
	defrag_free(d);
	/* everything released: a fresh instance has only its own struct */
}

static void test_tiny(void)
{
	static uint8_t p[1001];
	static uint32_t perm[126];
	fill_payload(p, sizeof(p), 3);
	for (uint32_t i = 0; i < 126; i++)
		perm[i] = i;
	shuffle(perm, 126);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 8, perm, 126, 3), 1);
	CHECK_EQ_INT(st.frag_packets, 126);
	defrag_free(d);
}

static void test_first_last(void)
{
	/* Every other fragment, then the first one completes the datagram. */
	uint8_t p[4000];
	uint32_t perm[5] = {1, 4, 2, 3, 0};
	fill_payload(p, sizeof(p), 4);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 1000, perm, 5, 4), 1);
	defrag_free(d);
}

static void test_duplicate(void)
{
	uint8_t p[3000];
	uint32_t perm[5] = {0, 1, 1, 0, 2};
	fill_payload(p, sizeof(p), 5);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 1480, perm, 5, 5), 1);
	CHECK_EQ_INT(st.frag_overlaps, 2);
	CHECK_EQ_INT(st.frag_reassembled, 1);
	defrag_free(d);
}

static void test_overlap_first_wins(void)
{
	uint8_t a[32], b[32];
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	struct defrag *d = mk(0, 0);
	struct defrag_dgram g;
	/* A covers [0,16); B covers [8,32) and is last: B's [8,16) loses. */
	struct tsf_frag f1 = frag(7, a, 0, 16, 1);
	struct tsf_frag f2 = frag(7, b, 8, 24, 0);
	CHECK_EQ_INT(defrag_add(d, &f1, 1, 0, &g), 0);
	CHECK_EQ_INT(defrag_add(d, &f2, 2, 0, &g), 1);
	CHECK_EQ_INT(g.len, 32);
	for (int i = 0; i < 32; i++)
		CHECK_EQ_INT(g.data[i], i < 16 ? 'A' : 'B');
	CHECK_EQ_INT(st.frag_overlaps, 1);
	/* The other way round: the later fragment's bytes lose again. */
	struct tsf_frag f3 = frag(8, b, 8, 24, 0);
	struct tsf_frag f4 = frag(8, a, 0, 16, 1);
	CHECK_EQ_INT(defrag_add(d, &f3, 3, 0, &g), 0);
	CHECK_EQ_INT(defrag_add(d, &f4, 4, 0, &g), 1);
	for (int i = 0; i < 32; i++)
		CHECK_EQ_INT(g.data[i], i < 8 ? 'A' : 'B');
	CHECK_EQ_INT(st.frag_overlaps, 2);
	defrag_free(d);
}

static void test_missing_middle(void)
{
	uint8_t p[3000];
	uint32_t perm[2] = {0, 2};
	fill_payload(p, sizeof(p), 6);
	struct defrag *d = mk(0, 0);
	CHECK_EQ_INT(feed_order(d, p, sizeof(p), 1480, perm, 2, 6), 0);
	CHECK_EQ_INT(defrag_count(d), 1);
	CHECK(defrag_used(d) >= 3000);
	defrag_expire(d, 29 * SEC);
	CHECK_EQ_INT(st.frag_timeouts, 0);
	defrag_expire(d, 31 * SEC);
	CHECK_EQ_INT(st.frag_timeouts, 1);
	CHECK_EQ_INT(defrag_count(d), 0);
	CHECK_EQ_INT(defrag_used(d), 0);
	CHECK_EQ_INT(st.frag_reassembled, 0);
	/* The middle fragment alone, late: a new datagram, never complete. */
	struct defrag_dgram g;
	struct tsf_frag f = frag(6, p, 1480, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &f, 32 * SEC, 0, &g), 0);
	defrag_flush(d);
	CHECK_EQ_INT(st.frag_timeouts, 2);
	defrag_free(d);
}

static void test_memcap(void)
{
	static uint8_t p[60000];
	fill_payload(p, sizeof(p), 7);
	struct defrag *d = mk(20000, 0);
	struct defrag_dgram g;
	/* A datagram that would need 60000 bytes: dropped at the cap. */
	struct tsf_frag f = frag(9, p, 59000, 1000, 0);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_memcap_drops, 1);
	CHECK_EQ_INT(defrag_count(d), 0);
	CHECK_EQ_INT(defrag_used(d), 0);
	/* Small datagrams still fit and complete... */
	uint32_t perm[2] = {1, 0};
	CHECK_EQ_INT(feed_order(d, p, 3000, 1504, perm, 2, 10), 1);
	/* ... and many open ones stay under the cap: the oldest make room. */
	for (uint32_t id = 20; id < 60; id++) {
		struct tsf_frag h = frag(id, p, 0, 1480, 1);
		defrag_add(d, &h, 2, 0, &g);
		CHECK(defrag_used(d) <= 20000);
	}
	CHECK(st.frag_evicted > 0);
	CHECK(defrag_count(d) < 40);
	defrag_free(d);
}

/* Tiny fragments at high offsets (each needs a buffer up to its offset)
 * fill the memcap; a real datagram arriving after them must still be
 * reassembled, the oldest of them evicted, not it refused. */
static void test_memcap_flood(void)
{
	static uint8_t p[65536];
	fill_payload(p, sizeof(p), 9);
	struct defrag *d = mk(200000, 0);
	struct defrag_dgram g;
	for (uint32_t id = 100; id < 110; id++) {
		struct tsf_frag t = frag(id, p, 60000, 8, 1);
		CHECK_EQ_INT(defrag_add(d, &t, 1, 0, &g), 0);
		CHECK(defrag_used(d) <= 200000);
	}
	uint32_t perm[3] = {2, 0, 1};
	CHECK_EQ_INT(feed_order(d, p, 4000, 1480, perm, 3, 7), 1);
	CHECK(st.frag_evicted > 0);
	CHECK(defrag_used(d) <= 200000);
	defrag_free(d);

	/* A memcap smaller than one datagram's bookkeeping, table empty:
	 * nothing to evict, the fragment is dropped. */
	d = mk(100, 0);
	struct tsf_frag one = frag(5, p, 0, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &one, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_memcap_drops, 1);
	CHECK_EQ_INT(defrag_count(d), 0);
	defrag_free(d);
}

static void test_too_big(void)
{
	static uint8_t p[65536];
	struct defrag *d = mk(0, 0);
	struct defrag_dgram g;
	struct tsf_frag a = frag(11, p, 0, 1480, 1);
	struct tsf_frag b = frag(11, p, 65528 - 8, 8, 1); /* 20 + 65528 > 65535 */
	CHECK_EQ_INT(defrag_add(d, &a, 1, 0, &g), 0);
	CHECK_EQ_INT(defrag_count(d), 1);
	CHECK_EQ_INT(defrag_add(d, &b, 2, 0, &g), 0);
	CHECK_EQ_INT(st.frag_too_big, 1);
	CHECK_EQ_INT(defrag_count(d), 0); /* the datagram went with it */
	/* The largest legal one: 65515 bytes after a 20-byte header. */
	uint32_t perm[45];
	for (uint32_t i = 0; i < 45; i++)
		perm[i] = 44 - i;
	fill_payload(p, 65515, 8);
	CHECK_EQ_INT(feed_order(d, p, 65515, 1480, perm, 45, 12), 1);
	defrag_free(d);
}

static void test_invalid(void)
{
	uint8_t p[3000];
	fill_payload(p, sizeof(p), 9);
	struct defrag *d = mk(0, 0);
	struct defrag_dgram g;
	struct tsf_frag f = frag(13, p, 0, 0, 1); /* empty, not last */
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(13, p, 0, 100, 1); /* not a multiple of 8, not last */
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(13, p, 0, 1480, 1);
	f.truncated = 1; /* cut by the capture */
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_invalid, 3);
	CHECK_EQ_INT(defrag_count(d), 0);
	/* Inconsistent ends: two last fragments that disagree. */
	f = frag(14, p, 0, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(14, p, 2960, 40, 0);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(14, p, 2960, 24, 0);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_invalid, 4);
	CHECK_EQ_INT(defrag_count(d), 0);
	/* Data past a known end. */
	f = frag(15, p, 1480, 40, 0);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(15, p, 1480, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_invalid, 5);
	/* A last fragment that ends before data already held. */
	f = frag(16, p, 1480, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	f = frag(16, p, 800, 40, 0);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	CHECK_EQ_INT(st.frag_invalid, 6);
	CHECK_EQ_INT(defrag_count(d), 0);
	CHECK_EQ_INT(defrag_used(d), 0);
	CHECK_EQ_INT(st.frag_reassembled, 0);
	defrag_free(d);
}

static void test_evict(void)
{
	uint8_t p[3000];
	fill_payload(p, sizeof(p), 10);
	struct defrag *d = mk(0, 2);
	struct defrag_dgram g;
	for (uint32_t id = 1; id <= 3; id++) {
		struct tsf_frag f = frag(id, p, 0, 1480, 1);
		defrag_add(d, &f, id, 0, &g);
	}
	CHECK_EQ_INT(st.frag_evicted, 1);
	CHECK_EQ_INT(defrag_count(d), 2);
	/* id 2 and 3 are still there; 1 (the oldest) is gone. */
	struct tsf_frag t = frag(3, p, 1480, 1520, 0);
	CHECK_EQ_INT(defrag_add(d, &t, 4, 0, &g), 1);
	t = frag(2, p, 1480, 1520, 0);
	CHECK_EQ_INT(defrag_add(d, &t, 5, 0, &g), 1);
	t = frag(1, p, 1480, 1520, 0);
	CHECK_EQ_INT(defrag_add(d, &t, 6, 0, &g), 0);
	CHECK_EQ_INT(st.frag_evicted, 1);
	defrag_free(d);
}

static void test_keys(void)
{
	/* A fragment with the same id but another protocol, address or IP
	 * version belongs to a different datagram. */
	uint8_t p[3000];
	fill_payload(p, sizeof(p), 11);
	struct defrag *d = mk(0, 0);
	struct defrag_dgram g;
	struct tsf_frag f = frag(3, p, 0, 1480, 1);
	CHECK_EQ_INT(defrag_add(d, &f, 1, 0, &g), 0);
	struct tsf_frag t = frag(3, p, 1480, 1520, 0);
	t.proto = TSF_PROTO_TCP;
	CHECK_EQ_INT(defrag_add(d, &t, 2, 0, &g), 0);
	t = frag(3, p, 1480, 1520, 0);
	t.src[3] = 99;
	CHECK_EQ_INT(defrag_add(d, &t, 3, 0, &g), 0);
	t = frag(3, p, 1480, 1520, 0);
	t.ipver = 6;
	CHECK_EQ_INT(defrag_add(d, &t, 4, 0, &g), 0);
	t = frag(4, p, 1480, 1520, 0);
	CHECK_EQ_INT(defrag_add(d, &t, 5, 0, &g), 0);
	CHECK_EQ_INT(defrag_count(d), 5);
	t = frag(3, p, 1480, 1520, 0);
	CHECK_EQ_INT(defrag_add(d, &t, 6, 1, &g), 1);
	CHECK(!memcmp(g.data, p, 3000));
	CHECK_EQ_INT(g.dir, 1);
	defrag_free(d);
}

static void test_ipv6_next_header_differs(void)
{
	/* RFC 8200 4.5: the Fragment headers' Next Header may differ between
	 * fragments; the offset-0 one is the datagram's (Linux keys IPv6
	 * reassembly on addresses and id only). */
	uint8_t p[3000];
	fill_payload(p, sizeof(p), 12);
	struct defrag *d = mk(0, 0);
	struct defrag_dgram g;
	struct tsf_frag t = frag(9, p, 1480, 1520, 0);
	t.ipver = 6;
	t.proto = 59; /* no next header: ignored, not the first fragment */
	CHECK_EQ_INT(defrag_add(d, &t, 1, 0, &g), 0);
	struct tsf_frag f = frag(9, p, 0, 1480, 1);
	f.ipver = 6;
	CHECK_EQ_INT(defrag_add(d, &f, 2, 0, &g), 1);
	CHECK_EQ_INT(g.proto, TSF_PROTO_UDP);
	CHECK(!memcmp(g.data, p, 3000));
	defrag_free(d);
}

/* ---- real frames ---- */

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* An IPv4 fragment frame (raw IP) of the UDP datagram dg[0..n). */
static size_t v4_frag(uint8_t *f, const uint8_t *dg, uint32_t off, uint32_t len, int more)
{
	memset(f, 0, 20);
	f[0] = 0x45;
	put16(f + 2, (uint16_t)(20 + len));
	put16(f + 4, 0x1234);
	put16(f + 6, (uint16_t)((more ? 0x2000 : 0) | off / 8));
	f[8] = 64;
	f[9] = TSF_PROTO_UDP;
	f[12] = 10, f[15] = 1;
	f[16] = 192, f[18] = 2, f[19] = 7;
	memcpy(f + 20, dg + off, len);
	return 20 + len;
}

/* An IPv6 fragment frame with a destination-options header before the
 * Fragment header (unfragmentable part). */
static size_t v6_frag(uint8_t *f, const uint8_t *dg, uint32_t off, uint32_t len, int more)
{
	memset(f, 0, 40 + 8 + 8);
	f[0] = 0x60;
	put16(f + 4, (uint16_t)(8 + 8 + len));
	f[6] = 60; /* destination options */
	f[7] = 64;
	f[8] = 0x20, f[9] = 0x01, f[10] = 0x0d, f[11] = 0xb8, f[23] = 1;
	f[24] = 0x20, f[25] = 0x01, f[26] = 0x0d, f[27] = 0xb8, f[39] = 2;
	f[40] = 44; /* next: fragment; length 0 = 8 bytes */
	f[48] = TSF_PROTO_UDP;
	put16(f + 50, (uint16_t)(off | (more ? 1 : 0)));
	f[52] = 0xde, f[53] = 0xad, f[54] = 0xbe, f[55] = 0xef;
	memcpy(f + 56, dg + off, len);
	return 56 + len;
}

static size_t udp_dgram(uint8_t *dg, const char *text, size_t n)
{
	put16(dg, 40000);
	put16(dg + 2, 5353);
	put16(dg + 4, (uint16_t)(8 + n));
	dg[6] = dg[7] = 0;
	for (size_t i = 0; i < n; i++)
		dg[8 + i] = (uint8_t)text[i % strlen(text)];
	return 8 + n;
}

static void frames(int v6)
{
	static uint8_t dg[4000], f[2000];
	size_t n = udp_dgram(dg, "free red packet ", 3500);
	struct defrag *d = mk(0, 0);
	uint32_t offs[3] = {2 * 1480, 0, 1480};
	int done = 0;
	for (int k = 0; k < 3; k++) {
		uint32_t off = offs[k], len = off + 1480 < n ? 1480 : (uint32_t)(n - off);
		size_t fl = v6 ? v6_frag(f, dg, off, len, off + len < n)
		               : v4_frag(f, dg, off, len, off + len < n);
		struct tsf_pkt p;
		struct tsf_frag fr;
		CHECK_EQ_INT(pkt_parse_frag(f, fl, TSF_LINK_RAW, &p, &fr), PKT_FRAGMENT);
		CHECK_EQ_INT(fr.ipver, v6 ? 6 : 4);
		CHECK_EQ_INT(fr.proto, TSF_PROTO_UDP);
		CHECK_EQ_INT(fr.id, v6 ? 0xdeadbeef : 0x1234);
		CHECK_EQ_INT(fr.offset, off);
		CHECK_EQ_INT(fr.len, len);
		CHECK_EQ_INT(fr.more, off + len < n);
		CHECK_EQ_INT(fr.hdr_len, v6 ? 8 : 20);
		CHECK_EQ_INT(fr.truncated, 0);
		/* a frame cut by the snaplen says so */
		struct tsf_frag cut;
		CHECK_EQ_INT(pkt_parse_frag(f, fl - 1, TSF_LINK_RAW, &p, &cut), PKT_FRAGMENT);
		CHECK_EQ_INT(cut.truncated, 1);
		struct defrag_dgram g;
		if (defrag_add(d, &fr, 1, 0, &g)) {
			done++;
			CHECK_EQ_INT(g.len, n);
			memset(&p, 0, sizeof(p));
			CHECK_EQ_INT(pkt_parse_l4(g.ipver, g.proto, g.data, g.len, &p), PKT_OK);
			CHECK_EQ_INT(p.sport, 40000);
			CHECK_EQ_INT(p.dport, 5353);
			CHECK_EQ_INT(p.len, 3500);
			CHECK(!memcmp(p.payload, dg + 8, 3500));
			CHECK_EQ_INT(g.src[v6 ? 15 : 3], 1);
		}
	}
	CHECK_EQ_INT(done, 1);
	defrag_free(d);
}

static void test_ipv4_frames(void)
{
	frames(0);
}

static void test_ipv6_frames(void)
{
	frames(1);
}

static void test_parse_l4_ipv6_ext(void)
{
	/* Reassembled IPv6 payload that starts with a destination-options
	 * header, then UDP; a nested Fragment header is malformed. */
	uint8_t b[64];
	struct tsf_pkt p;
	memset(b, 0, sizeof(b));
	b[0] = TSF_PROTO_UDP;
	udp_dgram(b + 8, "x", 4);
	CHECK_EQ_INT(pkt_parse_l4(6, 60, b, 8 + 12, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 4);
	b[0] = 44;
	put16(b + 10, 8 | 1); /* a real fragment inside */
	CHECK_EQ_INT(pkt_parse_l4(6, 60, b, 8 + 12, &p), PKT_MALFORMED);
	CHECK_EQ_INT(pkt_parse_l4(4, 1, b, 20, &p), PKT_NOT_TCPUDP);
}

int main(void)
{
	RUN(test_in_order);
	RUN(test_reverse);
	RUN(test_shuffled);
	RUN(test_tiny);
	RUN(test_first_last);
	RUN(test_duplicate);
	RUN(test_overlap_first_wins);
	RUN(test_missing_middle);
	RUN(test_memcap);
	RUN(test_memcap_flood);
	RUN(test_too_big);
	RUN(test_invalid);
	RUN(test_evict);
	RUN(test_keys);
	RUN(test_ipv6_next_header_differs);
	RUN(test_ipv4_frames);
	RUN(test_ipv6_frames);
	RUN(test_parse_l4_ipv6_ext);
	return UNIT_DONE();
}
