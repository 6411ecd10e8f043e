/* packet.h - L2..L4 parsing: a captured frame becomes a tsf_pkt.
 *
 * tsf_pkt is also what the eBPF capture path produces directly from its ring
 * buffer records, so everything after this point does not care where a
 * packet came from.
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
	PKT_FRAGMENT,   /* IP fragment: not reassembled */
	PKT_LINKTYPE,   /* unsupported link type */
};

/* Parse one frame of the given link type.  payload points into frame. */
enum pkt_result pkt_parse(const uint8_t *frame, size_t caplen, int linktype, struct tsf_pkt *out);

/* Formats an address of pkt (src or dst) as text; buf needs 46 bytes. */
const char *pkt_addr_str(int ipver, const uint8_t addr[16], char *buf, size_t buflen);

#endif
