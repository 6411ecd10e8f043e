/* capture.h - what the kernel side (capture.bpf.c) and the loader
 * (engine/capture_bpf.c) share: the ring-buffer record layout, the flow key
 * of the bypass and byte-budget maps, and the counter indices.
 *
 * Fixed-width kernel types only, so the same header compiles against
 * vmlinux.h in BPF and against <linux/types.h> in userspace.
 */
#ifndef TSF_CAPTURE_H
#define TSF_CAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Payload bytes per ring record.  A GSO super-packet (up to 64 KiB, more
 * with BIG TCP) becomes several records, each sized to what it carries, so
 * small packets do not waste ring space on a fixed-size reservation. */
#define TSF_CAP_CHUNK 4096
/* Upper bound on chunks per packet: 256 KiB of payload (BIG TCP is 512 KiB
 * at most; anything past this is counted as truncated). */
#define TSF_CAP_MAX_CHUNKS 64

enum {
	TSF_CAP_DIR_INGRESS = 0,
	TSF_CAP_DIR_EGRESS = 1,
};

/* rec_flags */
#define TSF_CAP_F_BUDGET_CUT 0x01 /* payload cut short by the per-flow byte budget */
#define TSF_CAP_F_TRUNCATED 0x02  /* packet longer than TSF_CAP_MAX_CHUNKS chunks
                                   * (an IP fragment: longer than TSF_CAP_CHUNK) */
/* An IP fragment: the record carries the IP packet itself from the IP
 * header on (pkt_len: its length), one record of at most TSF_CAP_CHUNK
 * bytes; sport/dport/seq/tcp_flags are 0 and proto is the IPv4 protocol or
 * the IPv6 Fragment header's next header.  Userspace reassembles
 * (engine/defrag.c).  A fragment has no ports (only the first one carries
 * the L4 header), so the port lists, the bypass map, 1/N sampling and the
 * byte budget cannot apply: every fragment is copied, under the token
 * bucket when one is set. */
#define TSF_CAP_F_IPFRAG 0x04

/* One ring record: this header, then len payload bytes. */
struct tsf_cap_rec {
	__u64 ts_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC; userspace adds the epoch offset */
	__u32 ifindex; /* interface the program is attached to */
	__u32 seq;     /* TCP sequence number of the packet's first payload byte */
	__u32 pkt_len; /* L4 payload length of the whole packet (all chunks) */
	__u32 off;     /* offset of this chunk in the packet's payload */
	__u16 len;     /* payload bytes following this header */
	__u16 sport, dport; /* host byte order */
	__u8 dir;      /* TSF_CAP_DIR_* */
	__u8 ipver;    /* 4 or 6 */
	__u8 proto;    /* 6 or 17 */
	__u8 tcp_flags;
	__u8 rec_flags; /* TSF_CAP_F_* */
	__u8 pad[3];
	__u8 src[16]; /* IPv4: first 4 bytes, rest zero */
	__u8 dst[16];
};

/* Flow key of the bypass and byte-budget maps.  Canonical (the lower
 * address/port pair first) so both directions of a flow share one entry in
 * the bypass map; the budget map sets rev to tell the directions apart. */
struct tsf_cap_key {
	__u8 a[16];
	__u8 b[16];
	__u16 pa, pb;
	__u8 proto;
	__u8 ipver;
	__u8 rev; /* budget map: 1 when the packet's source is side b; bypass map: 0 */
	__u8 pad;
};

/* Token bucket state, one per CPU. */
struct tsf_cap_tb {
	__u64 tokens; /* bytes */
	__u64 last_ns;
};

/* Per-CPU counters (index into the "counters" map).  Packet-level and exact:
 *   seen = skipped + port_filtered + bypassed + unsampled + over_budget
 *          + throttled + sampled
 *   sampled = delivered + ringbuf_full
 *   fragments <= sampled (the IP fragments among them; a throttled
 *   fragment is in throttled, a fragment with delivery off in skipped)
 * records/bytes count what reached the ring (a dropped multi-chunk packet
 * may have delivered some of its chunks: they are in records/bytes). */
#define TSF_CAP_COUNTERS(X)                                                                        \
	X(seen, "packets the BPF program ran on")                                                  \
	X(skipped, "no TCP/UDP payload (bar TCP SYN/FIN/RST), not IP (or fragments, when off)")   \
	X(port_filtered, "packets dropped by the port allow/deny lists")                           \
	X(bypassed, "packets of flows in the bypass map")                                          \
	X(unsampled, "packets of flows outside the 1/N sample")                                    \
	X(over_budget, "packets past their flow direction's byte budget")                          \
	X(throttled, "packets refused by the per-CPU token bucket")                                \
	X(sampled, "packets selected for copying")                                                 \
	X(fragments, "IP fragments among sampled: copied raw from the IP header on")               \
	X(delivered, "sampled packets fully written to the ring")                                  \
	X(ringbuf_full, "sampled packets lost: ring buffer full")                                  \
	X(records, "ring records written")                                                         \
	X(bytes, "payload bytes written to the ring")                                              \
	X(wakeups, "forced consumer wakeups (ring fill over the threshold)")

enum tsf_cap_counter {
#define TSF_CAP_ENUM(name, desc) TSF_CAP_CTR_##name,
	TSF_CAP_COUNTERS(TSF_CAP_ENUM)
#undef TSF_CAP_ENUM
	TSF_CAP_NR_COUNTERS
};

/* port_flags[] bits */
#define TSF_CAP_PORT_ALLOW 0x01
#define TSF_CAP_PORT_DENY 0x02

#endif
