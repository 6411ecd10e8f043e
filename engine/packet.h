/* packet.h - L2..L4 parsing: a captured frame becomes a tsf_pkt.
 *
 * tsf_pkt is also what the eBPF capture path produces directly from its ring
 * buffer records, so everything after this point does not care where a
 * packet came from.  An IP fragment has no L4 header of its own: the parser
 * describes it as a tsf_frag for the reassembler (defrag.h), and the
 * reassembled datagram comes back through pkt_parse_l4().
 */
#ifndef TSF_PACKET_H
#define TSF_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* Link types (pcap DLT_/LINKTYPE_ numbers). */
#define TSF_LINK_ETHERNET 1
#define TSF_LINK_RAW 101    /* raw IPv4/IPv6, no link header */
#define TSF_LINK_RAW_ALT 12 /* DLT_RAW on some BSDs/OpenBSD */
#define TSF_LINK_SLL 113    /* Linux cooked v1 */
#define TSF_LINK_SLL2 276   /* Linux cooked v2 */
#define TSF_LINK_IPV4 228
#define TSF_LINK_IPV6 229

#define TSF_PROTO_TCP 6
#define TSF_PROTO_UDP 17

#define TSF_TCP_FIN 0x01
#define TSF_TCP_SYN 0x02
#define TSF_TCP_RST 0x04
#define TSF_TCP_PSH 0x08
#define TSF_TCP_ACK 0x10

struct tsf_pkt {
	uint64_t ts_ns; /* capture time, ns since the epoch */
	uint8_t ipver;  /* 4 or 6 */
	uint8_t proto;  /* TSF_PROTO_TCP or TSF_PROTO_UDP */
	uint8_t tcp_flags;
	uint8_t ifindex_dir; /* live capture: 0 ingress, 1 egress; pcap: 0 */
	uint8_t src[16];     /* IPv4 addresses use the first 4 bytes, rest zero */
	uint8_t dst[16];
	uint16_t sport, dport;
	uint32_t seq; /* TCP sequence number of payload[0] */
	const uint8_t *payload;
	uint32_t len;
};

enum pkt_result {
	PKT_OK = 0,
	PKT_MALFORMED,  /* truncated or inconsistent header */
	PKT_NOT_IP,     /* ARP, LLDP, ... */
	PKT_NOT_TCPUDP, /* ICMP, ... */
	PKT_FRAGMENT,   /* IP fragment: goes to defrag.h (tsf_frag) */
	PKT_LINKTYPE,   /* unsupported link type */
};

/* One IP fragment as the reassembler needs it (pkt_parse_frag). */
struct tsf_frag {
	uint8_t ipver;     /* 4 or 6 */
	uint8_t proto;     /* IPv4 protocol; IPv6: the Fragment header's Next Header */
	uint8_t more;      /* more fragments follow (IPv4 MF, IPv6 M) */
	uint8_t truncated; /* captured short of the length the IP header gives */
	uint32_t id;       /* IPv4: 16 bits; IPv6: 32 */
	uint32_t offset;   /* of data[0] in the datagram's payload, bytes */
	/* Bytes besides data that count against the 16-bit length field
	 * (IPv4: the header; IPv6: extension headers before the Fragment
	 * header, which is not in the reassembled packet):
	 * hdr_len + offset + len may not pass 65535. */
	uint32_t hdr_len;
	uint8_t src[16], dst[16]; /* IPv4: first 4 bytes, rest zero */
	const uint8_t *data;      /* the fragment's share of the payload, in the frame */
	uint32_t len;
};

/* Parse one frame of the given link type.  payload points into frame. */
enum pkt_result pkt_parse(const uint8_t *frame, size_t caplen, int linktype, struct tsf_pkt *out);

/* The same; when the frame is an IP fragment (PKT_FRAGMENT) and frag is not
 * NULL, *frag describes it.  frag->data points into frame. */
enum pkt_result pkt_parse_frag(const uint8_t *frame, size_t caplen, int linktype,
                               struct tsf_pkt *out, struct tsf_frag *frag);

/* The transport part of a reassembled datagram: p is its payload (what
 * followed the IPv4 header or the IPv6 Fragment header), proto the
 * protocol the fragments named.  IPv6 extension headers at the start of p
 * are skipped (a second Fragment header is malformed).  Fills the L4 fields
 * of out (ports, seq, flags, payload, len, proto); the caller sets the
 * addresses, ipver and time. */
enum pkt_result pkt_parse_l4(int ipver, uint8_t proto, const uint8_t *p, size_t len,
                             struct tsf_pkt *out);

/* Formats an address of pkt (src or dst) as text; buf needs 46 bytes. */
const char *pkt_addr_str(int ipver, const uint8_t addr[16], char *buf, size_t buflen);

#endif
