/* test_packet.c - L2..L4 parsing of built frames, including every
 * malformed/truncated case (each byte-prefix of a valid frame). */
#include <string.h>

#include "packet.h"
#include "unit.h"

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t tcp_hdr(uint8_t *p, uint16_t sp, uint16_t dp, uint32_t seq, uint8_t flags)
{
	memset(p, 0, 20);
	put16(p, sp);
	put16(p + 2, dp);
	p[4] = (uint8_t)(seq >> 24), p[5] = (uint8_t)(seq >> 16), p[6] = (uint8_t)(seq >> 8);
	p[7] = (uint8_t)seq;
	p[12] = 5 << 4;
	p[13] = flags;
	return 20;
}

static size_t ipv4_hdr(uint8_t *p, uint8_t proto, size_t l4len, uint16_t frag)
{
	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	p[12] = 10, p[13] = 0, p[14] = 0, p[15] = 1;
	p[16] = 192, p[17] = 0, p[18] = 2, p[19] = 7;
	return 20;
}

static size_t ether(uint8_t *p, uint16_t type)
{
	memset(p, 0xaa, 12);
	return put16(p + 12, type) + 12;
}

static size_t build_v4_tcp(uint8_t *f, const char *payload, int vlans)
{
	size_t o = 0, pl = strlen(payload);
	if (vlans == 0) {
		o += ether(f, 0x0800);
	} else {
		o += ether(f, vlans == 2 ? 0x88a8 : 0x8100);
		if (vlans == 2) {
			put16(f + o, 100);
			put16(f + o + 2, 0x8100);
			o += 4;
		}
		put16(f + o, 200);
		put16(f + o + 2, 0x0800);
		o += 4;
	}
	o += ipv4_hdr(f + o, 6, 20 + pl, 0x4000);
	o += tcp_hdr(f + o, 40000, 80, 1000, TSF_TCP_ACK | TSF_TCP_PSH);
	memcpy(f + o, payload, pl);
	return o + pl;
}

static void test_ipv4_tcp(void)
{
	uint8_t f[256];
	struct tsf_pkt p;
	for (int vlans = 0; vlans <= 2; vlans++) {
		size_t n = build_v4_tcp(f, "hello", vlans);
		CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_OK);
		CHECK_EQ_INT(p.ipver, 4);
		CHECK_EQ_INT(p.proto, TSF_PROTO_TCP);
		CHECK_EQ_INT(p.sport, 40000);
		CHECK_EQ_INT(p.dport, 80);
		CHECK_EQ_INT(p.seq, 1000);
		CHECK_EQ_INT(p.len, 5);
		CHECK(!memcmp(p.payload, "hello", 5));
		CHECK(p.src[0] == 10 && p.dst[3] == 7);
		char buf[46];
		CHECK_STR(pkt_addr_str(4, p.dst, buf, sizeof(buf)), "192.0.2.7");
		/* every truncation is malformed, never a read past the end */
		for (size_t cut = 0; cut < n - 5; cut++)
			CHECK(pkt_parse(f, cut, TSF_LINK_ETHERNET, &p) != PKT_OK);
	}
	/* Ethernet padding after the IP datagram is not payload */
	size_t n = build_v4_tcp(f, "hi", 0);
	memset(f + n, 0, 20);
	CHECK_EQ_INT(pkt_parse(f, n + 20, TSF_LINK_ETHERNET, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 2);
}

static void test_ipv4_bad(void)
{
	uint8_t f[256];
	struct tsf_pkt p;
	size_t n = build_v4_tcp(f, "x", 0);
	f[14] = 0x44; /* IHL 16 bytes */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_MALFORMED);
	n = build_v4_tcp(f, "x", 0);
	f[14 + 20 + 12] = 0xf0; /* TCP data offset 60 > packet */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_MALFORMED);
	n = build_v4_tcp(f, "x", 0);
	put16(f + 14 + 6, 0x2000); /* MF: a fragment */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_FRAGMENT);
	put16(f + 14 + 6, 0x0010); /* non-zero offset */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_FRAGMENT);
	n = build_v4_tcp(f, "x", 0);
	f[14 + 9] = 1; /* ICMP */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_NOT_TCPUDP);
	put16(f + 12, 0x0806); /* ARP */
	CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_NOT_IP);
	CHECK_EQ_INT(pkt_parse(f, n, 9999, &p), PKT_LINKTYPE);
	/* five VLAN tags: more than we follow */
	size_t o = ether(f, 0x8100);
	for (int i = 0; i < 5; i++) {
		put16(f + o, 1);
		put16(f + o + 2, 0x8100);
		o += 4;
	}
	CHECK_EQ_INT(pkt_parse(f, o + 40, TSF_LINK_ETHERNET, &p), PKT_MALFORMED);
}

static size_t build_v6(uint8_t *f, int ext, const char *payload, uint8_t l4)
{
	size_t o = ether(f, 0x86dd), pl = strlen(payload);
	uint8_t *ip = f + o;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[6] = ext ? 0 : l4; /* hop-by-hop first when ext */
	ip[7] = 64;
	ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8, ip[23] = 1;
	ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8, ip[39] = 2;
	o += 40;
	size_t extlen = 0;
	if (ext) {
		/* hop-by-hop (8) -> destination options (16) -> L4 */
		memset(f + o, 0, 24);
		f[o] = 60;
		f[o + 1] = 0;
		f[o + 8] = l4;
		f[o + 9] = 1;
		extlen = 24;
		o += 24;
	}
	size_t l4len;
	if (l4 == 17) {
		memset(f + o, 0, 8);
		put16(f + o, 5353);
		put16(f + o + 2, 9999);
		put16(f + o + 4, (uint16_t)(8 + pl));
		l4len = 8;
	} else {
		l4len = tcp_hdr(f + o, 1234, 443, 77, TSF_TCP_ACK);
	}
	o += l4len;
	memcpy(f + o, payload, pl);
	put16(ip + 4, (uint16_t)(extlen + l4len + pl));
	return o + pl;
}

static void test_ipv6(void)
{
	uint8_t f[256];
	struct tsf_pkt p;
	for (int ext = 0; ext <= 1; ext++) {
		size_t n = build_v6(f, ext, "v6data", 6);
		CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_OK);
		CHECK_EQ_INT(p.ipver, 6);
		CHECK_EQ_INT(p.dport, 443);
		CHECK_EQ_INT(p.len, 6);
		char buf[46];
		CHECK_STR(pkt_addr_str(6, p.src, buf, sizeof(buf)), "2001:db8::1");
		for (size_t cut = 0; cut < n - 6; cut++)
			CHECK(pkt_parse(f, cut, TSF_LINK_ETHERNET, &p) != PKT_OK);
		n = build_v6(f, ext, "udp!", 17);
		CHECK_EQ_INT(pkt_parse(f, n, TSF_LINK_ETHERNET, &p), PKT_OK);
		CHECK_EQ_INT(p.proto, TSF_PROTO_UDP);
		CHECK_EQ_INT(p.sport, 5353);
		CHECK_EQ_INT(p.len, 4);
	}
	/* a fragment header with offset != 0 */
	size_t n = build_v6(f, 0, "frag", 6);
	uint8_t g[256];
	memcpy(g, f, 54);
	g[14 + 6] = 44;
	memset(g + 54, 0, 8);
	g[54] = 6;
	put16(g + 56, 0x0009); /* offset 1, M=1 */
	memcpy(g + 62, f + 54, n - 54);
	put16(g + 14 + 4, (uint16_t)(n - 54 + 8));
	CHECK_EQ_INT(pkt_parse(g, n + 8, TSF_LINK_ETHERNET, &p), PKT_FRAGMENT);
	put16(g + 56, 0x0000); /* atomic fragment: parsed */
	CHECK_EQ_INT(pkt_parse(g, n + 8, TSF_LINK_ETHERNET, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 4);
}

static void test_cooked_and_raw(void)
{
	uint8_t f[256], g[256];
	struct tsf_pkt p;
	size_t n = build_v4_tcp(f, "sll", 0);
	/* SLL v1: 16-byte header, protocol at 14 */
	memset(g, 0, 16);
	put16(g + 14, 0x0800);
	memcpy(g + 16, f + 14, n - 14);
	CHECK_EQ_INT(pkt_parse(g, n + 2, TSF_LINK_SLL, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 3);
	CHECK_EQ_INT(pkt_parse(g, 10, TSF_LINK_SLL, &p), PKT_MALFORMED);
	/* SLL v2: 20-byte header, protocol at 0 */
	memset(g, 0, 20);
	put16(g, 0x0800);
	memcpy(g + 20, f + 14, n - 14);
	CHECK_EQ_INT(pkt_parse(g, n + 6, TSF_LINK_SLL2, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 3);
	/* raw IP */
	CHECK_EQ_INT(pkt_parse(f + 14, n - 14, TSF_LINK_RAW, &p), PKT_OK);
	CHECK_EQ_INT(pkt_parse(f + 14, n - 14, TSF_LINK_IPV4, &p), PKT_OK);
	uint8_t junk[3] = {0x10, 0, 0};
	CHECK_EQ_INT(pkt_parse(junk, 3, TSF_LINK_RAW, &p), PKT_NOT_IP);
}

static void test_udp_lengths(void)
{
	uint8_t f[256];
	struct tsf_pkt p;
	size_t o = ether(f, 0x0800);
	o += ipv4_hdr(f + o, 17, 8 + 4, 0);
	put16(f + o, 53);
	put16(f + o + 2, 53);
	put16(f + o + 4, 6); /* shorter than the header */
	put16(f + o + 6, 0);
	memcpy(f + o + 8, "abcd", 4);
	CHECK_EQ_INT(pkt_parse(f, o + 12, TSF_LINK_ETHERNET, &p), PKT_MALFORMED);
	put16(f + o + 4, 10); /* covers 2 of the 4 bytes */
	CHECK_EQ_INT(pkt_parse(f, o + 12, TSF_LINK_ETHERNET, &p), PKT_OK);
	CHECK_EQ_INT(p.len, 2);
}

int main(void)
{
	RUN(test_ipv4_tcp);
	RUN(test_ipv4_bad);
	RUN(test_ipv6);
	RUN(test_cooked_and_raw);
	RUN(test_udp_lengths);
	return UNIT_DONE();
}
