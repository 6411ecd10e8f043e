/* bench_defrag.c - IP fragment reassembly throughput, with the same bytes
 * unfragmented as the baseline in the same run.
 *
 *   bench_defrag [MB]   prints a table; writes bench/results/defrag.json
 *
 * MB (default 64) of UDP payload in 4000-byte datagrams, built in memory as
 * raw IP packets.  Rows (one thread, best of 5 runs):
 *   whole          pkt_parse of each datagram as one IPv4 packet (baseline:
 *                  what the capture path does without fragments)
 * Every row ends with the copy of the UDP payload that engine_packet makes
 * of any packet, so the baseline touches the same bytes.
 *   v4 1480        IPv4 fragments as a 1500-byte MTU makes them, in order:
 *                  pkt_parse_frag + defrag_add + pkt_parse_l4 of the result
 *   v4 shuffled    the same fragments, each datagram's in random order
 *   v4 interleaved the same fragments, 64 datagrams in flight at once
 *   v4 64-byte     tiny fragments (63 per datagram)
 *   v6 1448        IPv6 Fragment headers, in order
 * Reported: fragments (packets) per second, MB/s of UDP payload (1 MB = 1e6
 * B) and ns per fragment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "defrag.h"
#include "packet.h"

#define DGRAM 4000
#define RUNS 5

struct set {
	const char *name;
	uint8_t *buf; /* frames back to back, each preceded by its u32 length */
	size_t used, cap, nframes;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t *add(struct set *s, size_t len)
{
	if (s->used + 4 + len > s->cap) {
		s->cap = (s->cap + 4 + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			exit(1);
	}
	uint32_t l = (uint32_t)len;
	memcpy(s->buf + s->used, &l, 4);
	s->used += 4 + len;
	s->nframes++;
	return s->buf + s->used - len;
}

/* One IP packet of datagram k (UDP header + payload in dg) carrying bytes
 * [off, off+len) of it; whole: not a fragment. */
static void emit(struct set *s, int v6, uint32_t k, const uint8_t *dg, uint32_t dlen, uint32_t off,
                 uint32_t len, int whole)
{
	uint32_t hl = v6 ? 48 : 20;
	uint8_t *p = add(s, hl + len);
	memset(p, 0, hl);
	if (v6) {
		p[0] = 0x60;
		put16(p + 4, 8 + len);
		p[6] = 44;
		p[7] = 64;
		p[8] = 0x20, p[9] = 0x01, p[23] = (uint8_t)(k >> 8);
		p[24] = 0x20, p[25] = 0x01, p[39] = 2;
		p[40] = 17;
		put16(p + 42, off | (off + len < dlen ? 1 : 0));
		memcpy(p + 44, &k, 4);
	} else {
		p[0] = 0x45;
		put16(p + 2, 20 + len);
		put16(p + 4, k);
		if (!whole)
			put16(p + 6, (off + len < dlen ? 0x2000 : 0) | off / 8);
		p[8] = 64;
		p[9] = 17;
		p[12] = 10, p[14] = (uint8_t)(k >> 16), p[15] = 1;
		p[16] = 192, p[18] = 2, p[19] = 7;
	}
	memcpy(p + hl, dg + off, len);
}

static void build(struct set *s, int v6, uint32_t ndg, uint32_t piece, int mode)
{
	static uint8_t dg[8 + DGRAM];
	uint32_t nf = (8 + DGRAM + piece - 1) / piece;
	uint32_t *order = malloc(sizeof(uint32_t) * nf * 64);
	for (uint32_t k = 0; k < ndg; k += (mode == 2 ? 64 : 1)) {
		uint32_t group = mode == 2 ? (ndg - k < 64 ? ndg - k : 64) : 1, n = 0;
		for (uint32_t g = 0; g < group; g++)
			for (uint32_t i = 0; i < nf; i++)
				order[n++] = g << 16 | i;
		if (mode) /* shuffled (per datagram) or interleaved (64 at once) */
			for (uint32_t i = n; i > 1; i--) {
				uint32_t j = rnd(i), t = order[i - 1];
				order[i - 1] = order[j];
				order[j] = t;
			}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t kk = k + (order[i] >> 16), f = order[i] & 0xffff;
			put16(dg, 40000), put16(dg + 2, 53), put16(dg + 4, 8 + DGRAM);
			for (uint32_t b = 8; b < 8 + DGRAM; b += 4)
				memcpy(dg + b, &kk, 4);
			uint32_t off = f * piece,
			         len = off + piece < 8 + DGRAM ? piece : 8 + DGRAM - off;
			emit(s, v6, kk, dg, 8 + DGRAM, off, len, 0);
		}
	}
	free(order);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t sink;
static uint8_t copy[65536]; /* engine_packet copies every payload into a batch */

/* One pass; returns seconds, counts UDP payload bytes that came out. */
static double pass(const struct set *s, int whole, uint64_t *payload)
{
	static struct tsf_stats st;
	struct defrag_config c;
	defrag_config_default(&c);
	struct defrag *d = whole ? NULL : defrag_new(&c, &st);
	uint64_t bytes = 0;
	double t0 = now();
	for (size_t o = 0; o < s->used;) {
		uint32_t len;
		memcpy(&len, s->buf + o, 4);
		const uint8_t *p = s->buf + o + 4;
		o += 4 + len;
		struct tsf_pkt pk;
		struct tsf_frag f;
		struct defrag_dgram g;
		enum pkt_result r = pkt_parse_frag(p, len, TSF_LINK_RAW, &pk, &f);
		if (r == PKT_FRAGMENT) {
			if (!d || !defrag_add(d, &f, 1, 0, &g) ||
			    pkt_parse_l4(g.ipver, g.proto, g.data, g.len, &pk) != PKT_OK)
				continue;
		} else if (r != PKT_OK) {
			continue;
		}
		memcpy(copy, pk.payload, pk.len);
		bytes += pk.len;
		sink += copy[pk.len - 1];
	}
	double t = now() - t0;
	defrag_free(d);
	*payload = bytes;
	return t;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 64;
	if (!mb) {
		fprintf(stderr, "usage: bench_defrag [MB]\n");
		return 2;
	}
	uint32_t ndg = (uint32_t)(mb * 1000000 / DGRAM);
	struct set sets[6] = {{.name = "whole"},       {.name = "v4 1480"},
	                      {.name = "v4 shuffled"}, {.name = "v4 interleaved"},
	                      {.name = "v4 64-byte"},  {.name = "v6 1448"}};
	static uint8_t dg[8 + DGRAM];
	for (uint32_t k = 0; k < ndg; k++) {
		put16(dg, 40000), put16(dg + 2, 53), put16(dg + 4, 8 + DGRAM);
		for (uint32_t b = 8; b < 8 + DGRAM; b += 4)
			memcpy(dg + b, &k, 4);
		emit(&sets[0], 0, k, dg, 8 + DGRAM, 0, 8 + DGRAM, 1);
	}
	build(&sets[1], 0, ndg, 1480, 0);
	build(&sets[2], 0, ndg, 1480, 1);
	build(&sets[3], 0, ndg, 1480, 2);
	build(&sets[4], 0, ndg, 64, 0);
	build(&sets[5], 1, ndg, 1448, 0);

	double best[6], mbs[6], pps[6], ns[6];
	uint64_t got[6];
	for (int i = 0; i < 6; i++) {
		best[i] = 1e30;
		for (int r = 0; r < RUNS; r++) {
			double t = pass(&sets[i], i == 0, &got[i]);
			if (t < best[i])
				best[i] = t;
		}
		if (got[i] != (uint64_t)ndg * DGRAM) {
			fprintf(stderr, "%s: %llu payload bytes out, want %llu\n", sets[i].name,
			        (unsigned long long)got[i], (unsigned long long)ndg * DGRAM);
			return 1;
		}
		mbs[i] = (double)got[i] / 1e6 / best[i];
		pps[i] = (double)sets[i].nframes / best[i];
		ns[i] = best[i] * 1e9 / (double)sets[i].nframes;
	}
	printf("IP reassembly, %u UDP datagrams of %d bytes (%zu MB payload), one thread, "
	       "best of %d\n",
	       ndg, DGRAM, mb, RUNS);
	printf("%-16s %10s %12s %10s %8s %12s\n", "", "packets", "packets/s", "MB/s", "ns/pkt",
	       "vs whole MB/s");
	for (int i = 0; i < 6; i++)
		printf("%-16s %10zu %12.0f %10.0f %8.1f %12.2f\n", sets[i].name, sets[i].nframes,
		       pps[i], mbs[i], ns[i], mbs[i] / mbs[0]);

	FILE *js = fopen("bench/results/defrag.json", "w");
	if (!js) {
		perror("bench/results/defrag.json");
		return 1;
	}
	fprintf(js,
	        "{\n  \"unit\": \"MB/s of UDP payload (1 MB = 1e6 B), packets/s\",\n"
	        "  \"datagram_bytes\": %d,\n  \"datagrams\": %u,\n  \"runs\": %d,\n"
	        "  \"cases\": [\n",
	        DGRAM, ndg, RUNS);
	for (int i = 0; i < 6; i++)
		fprintf(js,
		        "    {\"case\": \"%s\", \"packets\": %zu, \"packets_per_s\": %.0f, "
		        "\"mb_per_s\": %.1f, \"ns_per_packet\": %.1f}%s\n",
		        sets[i].name, sets[i].nframes, pps[i], mbs[i], ns[i], i < 5 ? "," : "");
	fprintf(js, "  ]\n}\n");
	fclose(js);
	for (int i = 0; i < 6; i++)
		free(sets[i].buf);
	return sink == 42 ? 3 : 0; /* keep the sink alive */
}
