/* test_capture_bpf.c - the kernel side of live capture, run for real: the
 * BPF program is loaded (not attached) and fed hand-made frames through
 * BPF_PROG_TEST_RUN; records come back through the real ring buffer and the
 * loader's conversion to tsf_pkt.  Needs root (prints "skip" otherwise). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture_bpf.h"
#include "unit.h"

#define MAXREC 4096

struct got {
	struct tsf_pkt p;
	struct tsf_cap_rec r;
	uint8_t data[64];
};
static struct got recs[MAXREC];
static int nrec;

static void collect(void *ctx, const struct tsf_pkt *p, const struct tsf_cap_rec *r)
{
	(void)ctx;
	if (nrec < MAXREC) {
		recs[nrec].p = *p;
		recs[nrec].r = *r;
		memcpy(recs[nrec].data, p->payload, p->len < 64 ? p->len : 64);
		nrec++;
	}
}

/* Fragment records, as the loader parsed them. */
struct gotfrag {
	struct tsf_frag f;
	struct tsf_cap_rec r;
	uint8_t data[64];
};
static struct gotfrag frecs[64];
static int nfrec;

static void collect_frag(void *ctx, const struct tsf_frag *f, uint64_t ts_ns,
                         const struct tsf_cap_rec *r)
{
	(void)ctx;
	(void)ts_ns;
	if (nfrec < 64) {
		frecs[nfrec].f = *f;
		frecs[nfrec].r = *r;
		memcpy(frecs[nfrec].data, f->data, f->len < 64 ? f->len : 64);
		nfrec++;
	}
}

static struct capture_bpf *open_cap(struct capture_bpf_opts *o)
{
	char err[256];
	struct capture_bpf *c = capture_bpf_open(o, collect, NULL, err, sizeof(err));
	if (!c)
		fprintf(stderr, "  capture_bpf_open: %s\n", err);
	else
		capture_bpf_on_fragment(c, collect_frag);
	nrec = 0;
	nfrec = 0;
	return c;
}

static void drain(struct capture_bpf *c)
{
	while (capture_bpf_poll(c, 0) > 0)
		;
}

/* ---- frames ---- */

static size_t eth(uint8_t *f, uint16_t etype, int vlans)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	size_t n = 12;
	memcpy(f, macs, 12);
	for (int i = 0; i < vlans; i++) {
		f[n++] = 0x81, f[n++] = 0x00, f[n++] = 0, f[n++] = (uint8_t)(100 + i);
	}
	f[n++] = (uint8_t)(etype >> 8), f[n++] = (uint8_t)etype;
	return n;
}

/* IPv4 + UDP or TCP; a, b: last octet of 10.200.0.x.  Returns the length. */
static size_t ip4(uint8_t *f, int vlans, uint8_t proto, uint8_t a, uint8_t b, uint16_t sport,
                  uint16_t dport, uint32_t seq, uint8_t flags, size_t plen, uint16_t frag)
{
	size_t n = eth(f, 0x0800, vlans), l4 = proto == 6 ? 20 : 8;
	uint8_t *ip = f + n, *th = ip + 20;
	uint16_t tot = (uint16_t)(20 + l4 + plen);

	memset(ip, 0, 20 + l4);
	ip[0] = 0x45, ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip[6] = (uint8_t)(frag >> 8), ip[7] = (uint8_t)frag;
	ip[8] = 64, ip[9] = proto;
	ip[12] = 10, ip[13] = 200, ip[15] = a;
	ip[16] = 10, ip[17] = 200, ip[19] = b;
	th[0] = (uint8_t)(sport >> 8), th[1] = (uint8_t)sport;
	th[2] = (uint8_t)(dport >> 8), th[3] = (uint8_t)dport;
	if (proto == 6) {
		uint32_t s = htonl(seq);
		memcpy(th + 4, &s, 4);
		th[12] = 5 << 4, th[13] = flags;
	} else {
		th[4] = (uint8_t)((8 + plen) >> 8), th[5] = (uint8_t)(8 + plen);
	}
	for (size_t i = 0; i < plen; i++)
		th[l4 + i] = (uint8_t)('a' + i % 26);
	return n + 20 + l4 + plen;
}

/* IPv6 + hop-by-hop options + UDP. */
static size_t ip6_hbh_udp(uint8_t *f, size_t plen)
{
	size_t n = eth(f, 0x86DD, 0);
	uint8_t *ip = f + n, *hbh = ip + 40, *uh = hbh + 8;
	uint16_t pl = (uint16_t)(8 + 8 + plen);

	memset(ip, 0, 40 + 8 + 8);
	ip[0] = 0x60, ip[4] = (uint8_t)(pl >> 8), ip[5] = (uint8_t)pl, ip[6] = 0, ip[7] = 64;
	ip[8] = 0xfd, ip[23] = 2;  /* fd00::2 */
	ip[24] = 0xfd, ip[39] = 1; /* fd00::1 */
	hbh[0] = 17, hbh[1] = 0, hbh[2] = 1, hbh[3] = 4;
	uh[0] = 0x9c, uh[1] = 0x40, uh[2] = 0, uh[3] = 53;
	uh[4] = (uint8_t)((8 + plen) >> 8), uh[5] = (uint8_t)(8 + plen);
	memset(uh + 8, 'v', plen);
	return n + 40 + 8 + 8 + plen;
}

static int adds_up(struct capture_bpf *c)
{
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	uint64_t sum = v[TSF_CAP_CTR_skipped] + v[TSF_CAP_CTR_port_filtered] +
	               v[TSF_CAP_CTR_bypassed] + v[TSF_CAP_CTR_unsampled] +
	               v[TSF_CAP_CTR_over_budget] + v[TSF_CAP_CTR_throttled] +
	               v[TSF_CAP_CTR_sampled];
	struct tsf_stats st;
	memset(&st, 0, sizeof(st));
	capture_bpf_stats(c, &st);
	return v[TSF_CAP_CTR_seen] == sum &&
	       v[TSF_CAP_CTR_sampled] == v[TSF_CAP_CTR_delivered] + v[TSF_CAP_CTR_ringbuf_full] &&
	       st.bpf_records == st.bpf_received;
}

static uint8_t frame[16384];

static void test_parse(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	size_t n;
	n = ip4(frame, 0, 17, 2, 1, 40000, 53, 0, 0, 64, 0);
	int rv = capture_bpf_test_run(c, 0, frame, n);
	CHECK(rv == 0 || rv == -1); /* TC_ACT_OK or TCX_NEXT: passed on either way */
	n = ip4(frame, 1, 17, 2, 1, 40001, 53, 0, 0, 10, 0); /* 802.1Q */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 2, 17, 2, 1, 40002, 53, 0, 0, 11, 0); /* QinQ */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 17, 2, 1, 40003, 53, 0, 0, 100, 0x2000); /* first fragment: raw */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 6, 2, 1, 40004, 80, 1000, TSF_TCP_ACK, 0, 0); /* pure ACK: skipped */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 6, 2, 1, 40004, 80, 999, TSF_TCP_SYN, 0, 0); /* SYN: header only */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 1, 2, 1, 0, 0, 0, 0, 30, 0) - 8; /* ICMP: skipped */
	frame[14 + 9] = 1;
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	/* TCP header cut short (the IP header claims more): skipped */
	n = ip4(frame, 0, 6, 2, 1, 40005, 80, 1, TSF_TCP_ACK, 100, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, 14 + 20 + 6) >= -1);
	n = ip6_hbh_udp(frame, 33);
	CHECK(capture_bpf_test_run(c, 1, frame, n) >= -1);
	/* BPF_PROG_TEST_RUN takes at most about a page: payloads over one
	 * 4 KiB chunk (GSO) are covered by tests/it_live.sh instead. */
	n = ip4(frame, 0, 6, 2, 1, 40004, 80, 1000, TSF_TCP_ACK | TSF_TCP_PSH, 3000, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);

	CHECK_EQ_INT(nrec, 6);
	if (nrec == 6) {
		CHECK_EQ_INT(recs[0].p.len, 64);
		CHECK_EQ_INT(recs[0].p.sport, 40000);
		CHECK_EQ_INT(recs[0].p.dport, 53);
		CHECK_EQ_INT(recs[0].p.proto, TSF_PROTO_UDP);
		CHECK_EQ_INT(recs[0].p.ipver, 4);
		CHECK(recs[0].p.src[0] == 10 && recs[0].p.src[3] == 2 && recs[0].p.dst[3] == 1);
		CHECK(recs[0].p.ts_ns > 1600000000ULL * 1000000000ULL);
		CHECK(!memcmp(recs[0].data, "abcdefghij", 10));
		CHECK_EQ_INT(recs[1].p.sport, 40001);
		CHECK_EQ_INT(recs[1].p.len, 10);
		CHECK_EQ_INT(recs[2].p.sport, 40002);
		CHECK_EQ_INT(recs[2].p.len, 11);
		CHECK_EQ_INT(recs[3].p.tcp_flags, TSF_TCP_SYN);
		CHECK_EQ_INT(recs[3].p.len, 0);
		CHECK_EQ_INT(recs[3].p.seq, 999);
		CHECK_EQ_INT(recs[4].p.ipver, 6);
		CHECK_EQ_INT(recs[4].p.ifindex_dir, 1);
		CHECK_EQ_INT(recs[4].p.len, 33);
		CHECK_EQ_INT(recs[4].p.sport, 40000);
		CHECK_EQ_INT(recs[4].p.dport, 53);
		CHECK(recs[4].p.src[0] == 0xfd && recs[4].p.src[15] == 2);
		CHECK_EQ_INT(recs[5].p.seq, 1000);
		CHECK_EQ_INT(recs[5].p.len, 3000);
		CHECK_EQ_INT(recs[5].r.pkt_len, 3000);
		CHECK_EQ_INT(recs[5].p.tcp_flags, TSF_TCP_ACK | TSF_TCP_PSH);
	}
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_seen], 10);
	CHECK_EQ_INT(v[TSF_CAP_CTR_skipped], 3);
	CHECK_EQ_INT(v[TSF_CAP_CTR_delivered], 7);
	CHECK_EQ_INT(v[TSF_CAP_CTR_fragments], 1);
	CHECK_EQ_INT(v[TSF_CAP_CTR_records], 7);
	/* the fragment's record is its IP packet: 20 + 8 + 100 */
	CHECK_EQ_INT(v[TSF_CAP_CTR_bytes], 64 + 10 + 11 + 128 + 33 + 3000);
	CHECK_EQ_INT(nfrec, 1);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

/* IPv6 + Fragment header + (first fragment: UDP header) payload. */
static size_t ip6_frag(uint8_t *f, uint16_t off, int more, size_t plen)
{
	size_t n = eth(f, 0x86DD, 0);
	uint8_t *ip = f + n, *fh = ip + 40, *d = fh + 8;
	uint16_t pl = (uint16_t)(8 + plen);

	memset(ip, 0, 40 + 8);
	ip[0] = 0x60, ip[4] = (uint8_t)(pl >> 8), ip[5] = (uint8_t)pl, ip[6] = 44, ip[7] = 64;
	ip[8] = 0xfd, ip[23] = 2;
	ip[24] = 0xfd, ip[39] = 1;
	fh[0] = 17;
	fh[2] = (uint8_t)(off >> 8), fh[3] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
	fh[4] = 0xca, fh[5] = 0xfe, fh[6] = 0xba, fh[7] = 0xbe;
	for (size_t i = 0; i < plen; i++)
		d[i] = (uint8_t)('A' + i % 26);
	return n + 40 + 8 + plen;
}

/* Fragments skip ports, bypass, sampling and budget, and arrive raw; with
 * no_ip_frags they are skipped.  An IPv6 atomic fragment is a packet. */
static void test_fragments(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	o.sample_n = 1000; /* no flow of ours would be sampled */
	o.flow_bytes = 1;
	o.have_allow = 1; /* allow list with port 1 only */
	o.port_allow[0] = 2;
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	size_t n = ip4(frame, 0, 17, 2, 1, 40000, 53, 0, 0, 1000, 0x2000 | 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 1, 17, 2, 1, 40000, 53, 0, 0, 200, 129); /* offset 1032, last */
	CHECK(capture_bpf_test_run(c, 1, frame, n) >= -1);
	n = ip6_frag(frame, 1456, 1, 64);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	/* atomic: offset 0, M=0, carries UDP (first 8 bytes as its header) */
	n = ip6_frag(frame, 0, 0, 40);
	frame[14 + 48 + 4] = 0, frame[14 + 48 + 5] = 40; /* UDP length */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);
	CHECK_EQ_INT(nfrec, 3);
	if (nfrec == 3) {
		CHECK_EQ_INT(frecs[0].f.ipver, 4);
		CHECK_EQ_INT(frecs[0].f.proto, 17);
		CHECK_EQ_INT(frecs[0].f.offset, 0);
		CHECK_EQ_INT(frecs[0].f.more, 1);
		CHECK_EQ_INT(frecs[0].f.len, 1008);
		CHECK_EQ_INT(frecs[0].f.truncated, 0);
		CHECK(frecs[0].r.rec_flags & TSF_CAP_F_IPFRAG);
		CHECK_EQ_INT(frecs[0].r.pkt_len, 20 + 1008);
		CHECK_EQ_INT(frecs[0].data[0], 40000 >> 8); /* the UDP header */
		CHECK_EQ_INT(frecs[1].f.offset, 1032);
		CHECK_EQ_INT(frecs[1].f.more, 0);
		CHECK_EQ_INT(frecs[1].f.len, 208);
		CHECK_EQ_INT(frecs[1].r.dir, 1);
		CHECK_EQ_INT(frecs[2].f.ipver, 6);
		CHECK_EQ_INT(frecs[2].f.id, 0xcafebabe);
		CHECK_EQ_INT(frecs[2].f.offset, 1456);
		CHECK_EQ_INT(frecs[2].f.len, 64);
		CHECK_EQ_INT(frecs[2].f.src[15], 2);
		CHECK_EQ_INT(frecs[2].data[0], 'A');
	}
	CHECK_EQ_INT(nrec, 1); /* the atomic fragment */
	if (nrec == 1)
		CHECK_EQ_INT(recs[0].p.len, 32);
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_fragments], 4);
	CHECK_EQ_INT(v[TSF_CAP_CTR_sampled], 4);
	CHECK_EQ_INT(v[TSF_CAP_CTR_port_filtered] + v[TSF_CAP_CTR_unsampled], 0);
	CHECK(adds_up(c));
	capture_bpf_close(c);

	/* Delivery off: skipped. */
	capture_bpf_opts_default(&o);
	o.no_ip_frags = 1;
	c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	n = ip6_frag(frame, 1456, 1, 64);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_skipped], 1);
	CHECK_EQ_INT(v[TSF_CAP_CTR_fragments], 0);
	CHECK_EQ_INT(nfrec, 0);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

/* 1/4 of 400 flows, each seen in both directions: a flow is kept whole or
 * not at all. */
static void test_sampling_symmetric(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	o.sample_n = 4;
	o.ring_size = 1 << 22;
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	static uint8_t dirs[400];
	memset(dirs, 0, sizeof(dirs));
	for (int i = 0; i < 400; i++) {
		size_t n = ip4(frame, 0, 17, 2, 1, (uint16_t)(30000 + i), 53, 0, 0, 20, 0);
		CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
		n = ip4(frame, 0, 17, 1, 2, 53, (uint16_t)(30000 + i), 0, 0, 20, 0);
		CHECK(capture_bpf_test_run(c, 1, frame, n) >= -1);
	}
	drain(c);
	for (int i = 0; i < nrec; i++) {
		int port = recs[i].p.sport == 53 ? recs[i].p.dport : recs[i].p.sport;
		if (port >= 30000 && port < 30400)
			dirs[port - 30000] |= recs[i].p.sport == 53 ? 2 : 1;
	}
	int kept = 0, half = 0;
	for (int i = 0; i < 400; i++) {
		kept += dirs[i] == 3;
		half += dirs[i] == 1 || dirs[i] == 2;
	}
	CHECK_EQ_INT(half, 0);
	/* Binomial(400, 1/4): mean 100, sd 8.7 */
	CHECK(kept >= 50 && kept <= 150);
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_unsampled], 800 - 2 * kept);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

static void test_budget(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	o.flow_bytes = 1000;
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 3; i++) {
		size_t n =
		    ip4(frame, 0, 6, 2, 1, 40000, 80, (uint32_t)(1 + 600 * i), TSF_TCP_ACK, 600, 0);
		CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	}
	size_t n = ip4(frame, 0, 6, 1, 2, 80, 40000, 1, TSF_TCP_ACK, 600, 0); /* reverse */
	CHECK(capture_bpf_test_run(c, 1, frame, n) >= -1);
	n = ip4(frame, 0, 6, 2, 1, 40000, 80, 1801, TSF_TCP_FIN | TSF_TCP_ACK, 0, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);
	uint64_t fwd = 0, rev = 0;
	int fin = 0, cut = 0;
	for (int i = 0; i < nrec; i++) {
		if (recs[i].p.sport == 40000)
			fwd += recs[i].p.len;
		else
			rev += recs[i].p.len;
		fin += (recs[i].p.tcp_flags & TSF_TCP_FIN) != 0;
		cut += (recs[i].r.rec_flags & TSF_CAP_F_BUDGET_CUT) != 0;
	}
	CHECK_EQ_INT(fwd, 1000);
	CHECK_EQ_INT(rev, 600);
	CHECK_EQ_INT(fin, 1); /* a FIN passes an exhausted budget */
	CHECK_EQ_INT(cut, 1);
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_over_budget], 1);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

static void test_ports_and_bypass(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	o.port_allow[80 / 8] |= 1 << (80 % 8);
	o.port_allow[8080 / 8] |= 1 << (8080 % 8);
	o.port_deny[8080 / 8] |= 1 << (8080 % 8);
	o.have_allow = o.have_deny = 1;
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	size_t n = ip4(frame, 0, 17, 2, 1, 40000, 80, 0, 0, 5, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 17, 2, 1, 40000, 81, 0, 0, 5, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 17, 2, 1, 40000, 8080, 0, 0, 5, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);
	CHECK_EQ_INT(nrec, 1);
	if (nrec == 1) {
		CHECK_EQ_INT(recs[0].p.dport, 80);
		/* bypass the flow: neither direction is copied any more */
		CHECK_EQ_INT(capture_bpf_bypass(c, &recs[0].p), 0);
	}
	n = ip4(frame, 0, 17, 2, 1, 40000, 80, 0, 0, 5, 0);
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	n = ip4(frame, 0, 17, 1, 2, 80, 40000, 0, 0, 5, 0);
	CHECK(capture_bpf_test_run(c, 1, frame, n) >= -1);
	n = ip4(frame, 0, 17, 2, 1, 40001, 80, 0, 0, 5, 0); /* another flow */
	CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	drain(c);
	CHECK_EQ_INT(nrec, 2);
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_port_filtered], 2);
	CHECK_EQ_INT(v[TSF_CAP_CTR_bypassed], 2);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

/* A one-page ring nobody reads: drops are counted, nothing is lost unseen. */
static void test_ring_full(void)
{
	struct capture_bpf_opts o;
	capture_bpf_opts_default(&o);
	o.ring_size = (uint32_t)sysconf(_SC_PAGESIZE);
	struct capture_bpf *c = open_cap(&o);
	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 10; i++) {
		size_t n = ip4(frame, 0, 17, 2, 1, 40000, 53, 0, 0, 1400, 0);
		CHECK(capture_bpf_test_run(c, 0, frame, n) >= -1);
	}
	uint64_t v[TSF_CAP_NR_COUNTERS];
	capture_bpf_counters(c, v);
	CHECK_EQ_INT(v[TSF_CAP_CTR_sampled], 10);
	CHECK(v[TSF_CAP_CTR_ringbuf_full] > 0);
	CHECK(v[TSF_CAP_CTR_delivered] > 0);
	drain(c);
	CHECK_EQ_INT(nrec, v[TSF_CAP_CTR_records]);
	CHECK(adds_up(c));
	capture_bpf_close(c);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skip - test_capture_bpf (needs root)\n");
		return 0;
	}
	RUN(test_parse);
	RUN(test_fragments);
	RUN(test_sampling_symmetric);
	RUN(test_budget);
	RUN(test_ports_and_bypass);
	RUN(test_ring_full);
	return UNIT_DONE();
}
