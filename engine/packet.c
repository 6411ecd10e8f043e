/* packet.c - L2..L4 parsing.
 *
 * Everything is bounds-checked against caplen: captures are hostile input.
 * Supported: Ethernet (+ any number of 802.1Q/802.1ad tags, capped), Linux
 * cooked v1/v2, raw IP; IPv4 (options), IPv6 (extension headers skipped);
 * TCP and UDP.  Fragments are described (struct tsf_frag) for defrag.c,
 * which hands the reassembled datagram back to pkt_parse_l4().
 */
#include "packet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define MAX_VLAN_TAGS 4
#define MAX_IPV6_EXT 8

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum pkt_result parse_l4(const uint8_t *p, size_t len, uint8_t proto, struct tsf_pkt *out)
{
	if (proto == TSF_PROTO_TCP) {
		if (len < 20)
			return PKT_MALFORMED;
		size_t doff = (size_t)(p[12] >> 4) * 4;
		if (doff < 20 || doff > len)
			return PKT_MALFORMED;
		out->sport = rd16(p);
		out->dport = rd16(p + 2);
		out->seq = rd32(p + 4);
		out->tcp_flags = p[13];
		out->payload = p + doff;
		out->len = (uint32_t)(len - doff);
	} else if (proto == TSF_PROTO_UDP) {
		if (len < 8)
			return PKT_MALFORMED;
		size_t ulen = rd16(p + 4);
		/* A UDP length shorter than the header is malformed; a longer one
		 * than captured means a snaplen cut: inspect what we have. */
		if (ulen < 8)
			return PKT_MALFORMED;
		if (ulen < len)
			len = ulen;
		out->sport = rd16(p);
		out->dport = rd16(p + 2);
		out->seq = 0;
		out->tcp_flags = 0;
		out->payload = p + 8;
		out->len = (uint32_t)(len - 8);
	} else {
		return PKT_NOT_TCPUDP;
	}
	out->proto = proto;
	return PKT_OK;
}

static enum pkt_result parse_ipv4(const uint8_t *p, size_t len, struct tsf_pkt *out,
                                  struct tsf_frag *frag)
{
	if (len < 20 || (p[0] >> 4) != 4)
		return PKT_MALFORMED;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	size_t tot = rd16(p + 2);
	if (ihl < 20 || ihl > len || tot < ihl)
		return PKT_MALFORMED;
	int cut = tot > len; /* snaplen */
	if (tot < len)       /* Ethernet padding after the datagram */
		len = tot;
	uint16_t fo = rd16(p + 6);
	out->ipver = 4;
	memset(out->src, 0, 32);
	memcpy(out->src, p + 12, 4);
	memcpy(out->dst, p + 16, 4);
	if ((fo & 0x3fff) != 0) { /* MF set or a non-zero offset */
		if (frag) {
			frag->ipver = 4;
			frag->proto = p[9];
			frag->more = (fo & 0x2000) != 0;
			frag->truncated = (uint8_t)cut;
			frag->id = rd16(p + 4);
			frag->offset = (uint32_t)(fo & 0x1fff) * 8;
			frag->hdr_len = (uint32_t)ihl;
			memcpy(frag->src, out->src, 16);
			memcpy(frag->dst, out->dst, 16);
			frag->data = p + ihl;
			frag->len = (uint32_t)(len - ihl);
		}
		return PKT_FRAGMENT;
	}
	return parse_l4(p + ihl, len - ihl, p[9], out);
}

/* Walks IPv6 extension headers from p + off (next header nh) to TCP/UDP.
 * base is where the IPv6 payload starts (frag->hdr_len is counted from it);
 * frag NULL: a Fragment header other than an atomic one is malformed (a
 * datagram reassembled once cannot hold another fragment). */
static enum pkt_result ipv6_chain(const uint8_t *p, size_t len, size_t off, size_t base, uint8_t nh,
                                  int cut, struct tsf_pkt *out, struct tsf_frag *frag, int nested)
{
	for (int i = 0; i < MAX_IPV6_EXT; i++) {
		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
			if (off + 8 > len)
				return PKT_MALFORMED;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			if (off > len)
				return PKT_MALFORMED;
			continue;
		case 51: /* AH: length in 4-octet units minus 2 */
			if (off + 8 > len)
				return PKT_MALFORMED;
			nh = p[off];
			off += ((size_t)p[off + 1] + 2) * 4;
			if (off > len)
				return PKT_MALFORMED;
			continue;
		case 44: /* fragment */
			if (off + 8 > len)
				return PKT_MALFORMED;
			uint16_t fo = rd16(p + off + 2);
			/* An atomic fragment (offset 0, M=0) carries a whole datagram. */
			if ((fo & 0xfff9) != 0) {
				if (nested)
					return PKT_MALFORMED;
				if (frag) {
					frag->ipver = 6;
					frag->proto = p[off];
					frag->more = fo & 1;
					frag->truncated = (uint8_t)cut;
					frag->id = rd32(p + off + 4);
					frag->offset = (uint32_t)(fo & 0xfff8);
					/* the Fragment header is not in the reassembled packet */
					frag->hdr_len = (uint32_t)(off - base);
					memcpy(frag->src, out->src, 16);
					memcpy(frag->dst, out->dst, 16);
					frag->data = p + off + 8;
					frag->len = (uint32_t)(len - off - 8);
				}
				return PKT_FRAGMENT;
			}
			nh = p[off];
			off += 8;
			continue;
		default:
			return parse_l4(p + off, len - off, nh, out);
		}
	}
	return PKT_MALFORMED;
}

static enum pkt_result parse_ipv6(const uint8_t *p, size_t len, struct tsf_pkt *out,
                                  struct tsf_frag *frag)
{
	if (len < 40 || (p[0] >> 4) != 6)
		return PKT_MALFORMED;
	size_t plen = rd16(p + 4);
	int cut = plen && plen + 40 > len; /* 0: a jumbogram, never fragmented */
	if (plen + 40 < len)
		len = plen + 40;
	out->ipver = 6;
	memcpy(out->src, p + 8, 16);
	memcpy(out->dst, p + 24, 16);
	return ipv6_chain(p, len, 40, 40, p[6], cut, out, frag, 0);
}

static enum pkt_result parse_ethertype(uint16_t type, const uint8_t *p, size_t len,
                                       struct tsf_pkt *out, struct tsf_frag *frag)
{
	if (type == 0x0800)
		return parse_ipv4(p, len, out, frag);
	if (type == 0x86dd)
		return parse_ipv6(p, len, out, frag);
	return PKT_NOT_IP;
}

static enum pkt_result parse_ether(const uint8_t *p, size_t len, struct tsf_pkt *out,
                                   struct tsf_frag *frag)
{
	if (len < 14)
		return PKT_MALFORMED;
	uint16_t type = rd16(p + 12);
	size_t off = 14;
	for (int tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
		if (tags == MAX_VLAN_TAGS || off + 4 > len)
			return PKT_MALFORMED;
		type = rd16(p + off + 2);
		off += 4;
	}
	return parse_ethertype(type, p + off, len - off, out, frag);
}

static enum pkt_result parse_raw(const uint8_t *p, size_t len, struct tsf_pkt *out,
                                 struct tsf_frag *frag)
{
	if (len < 1)
		return PKT_MALFORMED;
	if ((p[0] >> 4) == 4)
		return parse_ipv4(p, len, out, frag);
	if ((p[0] >> 4) == 6)
		return parse_ipv6(p, len, out, frag);
	return PKT_NOT_IP;
}

enum pkt_result pkt_parse_frag(const uint8_t *frame, size_t caplen, int linktype,
                               struct tsf_pkt *out, struct tsf_frag *frag)
{
	switch (linktype) {
	case TSF_LINK_ETHERNET:
		return parse_ether(frame, caplen, out, frag);
	case TSF_LINK_RAW:
	case TSF_LINK_RAW_ALT:
		return parse_raw(frame, caplen, out, frag);
	case TSF_LINK_IPV4:
		return parse_ipv4(frame, caplen, out, frag);
	case TSF_LINK_IPV6:
		return parse_ipv6(frame, caplen, out, frag);
	case TSF_LINK_SLL: /* 16-byte header, protocol at 14 */
		if (caplen < 16)
			return PKT_MALFORMED;
		return parse_ethertype(rd16(frame + 14), frame + 16, caplen - 16, out, frag);
	case TSF_LINK_SLL2: /* 20-byte header, protocol at 0 */
		if (caplen < 20)
			return PKT_MALFORMED;
		return parse_ethertype(rd16(frame), frame + 20, caplen - 20, out, frag);
	default:
		return PKT_LINKTYPE;
	}
}

enum pkt_result pkt_parse(const uint8_t *frame, size_t caplen, int linktype, struct tsf_pkt *out)
{
	return pkt_parse_frag(frame, caplen, linktype, out, NULL);
}

enum pkt_result pkt_parse_l4(int ipver, uint8_t proto, const uint8_t *p, size_t len,
                             struct tsf_pkt *out)
{
	if (ipver == 6)
		return ipv6_chain(p, len, 0, 0, proto, 0, out, NULL, 1);
	return parse_l4(p, len, proto, out);
}

const char *pkt_addr_str(int ipver, const uint8_t addr[16], char *buf, size_t buflen)
{
	if (!inet_ntop(ipver == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)buflen))
		snprintf(buf, buflen, "?");
	return buf;
}
