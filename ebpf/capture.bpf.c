// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* capture.bpf.c - tapsift's kernel side: TC (or XDP) programs that pick the
 * packets worth inspecting and copy their L4 payload into a ring buffer.
 *
 * Everything cheap is decided here so userspace only sees what it must:
 * port allow/deny lists, a bypass map of flows userspace has given up on,
 * 1-in-N flow sampling by a direction-independent hash (never per packet:
 * that would punch holes into every stream), a per-flow-direction byte
 * budget (the first K bytes, like a stream depth) and a per-CPU token bucket
 * as an overload guard.  IP fragments are copied whole from the IP header
 * on (TSF_CAP_F_IPFRAG) for userspace to reassemble.  The program never
 * changes or drops a packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "capture.h"

/* uapi macros do not survive into BTF, so vmlinux.h lacks them. */
#define TC_ACT_OK 0
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_DSTOPTS 60
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04

/* Set by the loader before load; the verifier then prunes disabled features. */
const volatile __u32 sample_n = 1;    /* keep 1 in sample_n flows */
const volatile __u32 sample_seed = 0; /* varies which flows are kept */
const volatile __u64 flow_bytes = 0;  /* per-flow-direction budget, 0 = unlimited */
const volatile __u64 wake_bytes = 0;  /* force a wakeup once this much is queued; 0 = per record */
const volatile __u64 tb_rate = 0;     /* token bucket, payload bytes/s per CPU; 0 = off */
const volatile __u64 tb_burst = 0;
const volatile __u8 ports_allow = 0; /* port_flags[] allow bits are in use */
const volatile __u8 ports_deny = 0;
/* Copy IP fragments raw for userspace reassembly; 0: skip them. */
const volatile __u8 ip_frags = 1;
/* TC_ACT_OK for a clsact filter; TCX_NEXT (-1) under tcx so that programs
 * attached after ours still run. */
const volatile __s32 tc_ret = TC_ACT_OK;

/* Indexed by port (host order); TSF_CAP_PORT_* bits.  A global array
 * rather than a map: userspace fills it through the mmap'ed .bss and the
 * program reads it without a helper call. */
__u8 port_flags[65536];

/* Set by userspace on its first bypass entry: until then the per-packet
 * hash lookup in the bypass map is skipped. */
volatile __u32 bypass_used;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* the loader sets --ring-size */
} rb SEC(".maps");

struct counters {
	__u64 c[TSF_CAP_NR_COUNTERS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* A record is assembled here and copied into the ring with
 * bpf_ringbuf_output, so its size follows the payload; a reservation would
 * need a size known to the verifier, i.e. always the largest. */
struct scratch {
	struct tsf_cap_rec rec;
	__u8 data[TSF_CAP_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Bytes copied so far per flow direction.  LRU: old flows fall out on their
 * own; a flow evicted while still running gets a fresh budget. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsf_cap_key);
	__type(value, __u64);
} budget SEC(".maps");

/* Flows userspace has decided about (verdict given, or not text): not
 * copied any more.  Value: when userspace added it (CLOCK_MONOTONIC ns). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tsf_cap_key);
	__type(value, __u64);
} bypass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tsf_cap_tb);
} tbucket SEC(".maps");

struct vlanh {
	__be16 tci;
	__be16 proto;
};

/* What parsing found; src/dst/ports/seq go straight into the record. */
struct pinfo {
	__u32 payload_off; /* from the start of the frame (a fragment: of the IP header) */
	__u32 payload_len; /* (a fragment: of the IP packet) */
};

enum { P_SKIP = -1, P_PAYLOAD = 0, P_FRAG = 1 };

/* An IP fragment: the record will carry the IP packet from l3off to l3_end. */
static __always_inline int frag_info(struct tsf_cap_rec *r, struct pinfo *pi, __u8 proto,
				     __u32 l3off, __u32 l3_end)
{
	r->proto = proto;
	r->sport = 0;
	r->dport = 0;
	r->seq = 0;
	r->tcp_flags = 0;
	pi->payload_off = l3off;
	pi->payload_len = l3_end > l3off ? l3_end - l3off : 0;
	return pi->payload_len ? P_FRAG : P_SKIP;
}

/* Parses Ethernet [VLAN [VLAN]] IPv4/IPv6 TCP/UDP from linear packet data.
 * pkt_len is the full frame length (non-linear parts included), used when
 * the IP length field is 0 (BIG TCP, jumbograms).  Returns P_PAYLOAD when
 * the packet has a payload worth looking at, P_FRAG for an IP fragment
 * (IPv6: any packet with a Fragment header), else P_SKIP. */
static __always_inline int parse(void *data, void *data_end, __u32 pkt_len, struct tsf_cap_rec *r,
				 struct pinfo *pi)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth), l3_end, l4off;
	__u16 proto;
	__u8 l4proto;
	int frag = 0;

	if ((void *)(eth + 1) > data_end)
		return -1;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlanh *vh = data + off;
		if ((void *)(vh + 1) > data_end)
			return -1;
		proto = vh->proto;
		off += sizeof(*vh);
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u32 ihl, tot;

		if ((void *)(ip + 1) > data_end)
			return -1;
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip))
			return -1;
		/* MF or an offset: userspace reassembles it. */
		if (ip->frag_off & bpf_htons(0x3fff))
			frag = 1;
		tot = bpf_ntohs(ip->tot_len);
		l3_end = tot ? off + tot : pkt_len;
		l4proto = ip->protocol;
		l4off = off + ihl;
		__builtin_memset(r->src, 0, sizeof(r->src));
		__builtin_memset(r->dst, 0, sizeof(r->dst));
		__builtin_memcpy(r->src, &ip->saddr, 4);
		__builtin_memcpy(r->dst, &ip->daddr, 4);
		r->ipver = 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u32 plen;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		plen = bpf_ntohs(ip6->payload_len);
		l3_end = plen ? off + sizeof(*ip6) + plen : pkt_len;
		l4proto = ip6->nexthdr;
		l4off = off + sizeof(*ip6);
		__builtin_memcpy(r->src, &ip6->saddr, 16);
		__builtin_memcpy(r->dst, &ip6->daddr, 16);
		r->ipver = 6;
		/* A few extension headers, then perhaps a Fragment header. */
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (l4proto != IPPROTO_HOPOPTS && l4proto != IPPROTO_ROUTING &&
			    l4proto != IPPROTO_DSTOPTS)
				break;
			__u8 *eh = data + l4off;
			if ((void *)(eh + 2) > data_end)
				return -1;
			l4proto = eh[0];
			l4off += (eh[1] + 1) * 8;
			if (l4off > 0xffff)
				return -1;
		}
		if (l4proto == IPPROTO_FRAGMENT) {
			__u8 *fh = data + l4off;

			if ((void *)(fh + 8) > data_end)
				return -1;
			l4proto = fh[0];
			frag = 1;
		}
	} else {
		return -1;
	}

	if (l3_end > pkt_len)
		l3_end = pkt_len;
	if (frag)
		return ip_frags ? frag_info(r, pi, l4proto, off, l3_end) : P_SKIP;
	if (l4off > 0xffff)
		return -1;

	if (l4proto == IPPROTO_TCP) {
		struct tcphdr *th = data + l4off;
		__u32 doff;

		if ((void *)(th + 1) > data_end)
			return -1;
		doff = th->doff * 4;
		if (doff < sizeof(*th))
			return -1;
		r->sport = bpf_ntohs(th->source);
		r->dport = bpf_ntohs(th->dest);
		r->seq = bpf_ntohl(th->seq);
		r->tcp_flags = ((__u8 *)th)[13];
		pi->payload_off = l4off + doff;
	} else if (l4proto == IPPROTO_UDP) {
		struct udphdr *uh = data + l4off;

		if ((void *)(uh + 1) > data_end)
			return -1;
		r->sport = bpf_ntohs(uh->source);
		r->dport = bpf_ntohs(uh->dest);
		r->seq = 0;
		r->tcp_flags = 0;
		pi->payload_off = l4off + sizeof(*uh);
	} else {
		return -1;
	}
	r->proto = l4proto;
	pi->payload_len = l3_end > pi->payload_off ? l3_end - pi->payload_off : 0;
	/* TCP SYN, FIN and RST matter without payload: the engine learns the
	 * initial sequence number (so segments that arrive out of order
	 * before the first in-order one are not lost) and when a flow ends.
	 * Pure ACKs carry nothing for it. */
	if (!pi->payload_len &&
	    !(l4proto == IPPROTO_TCP && (r->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST))))
		return -1;
	return 0;
}

/* Canonical flow key: the (address, port) side that compares lower first.
 * Any total order will do; it only has to be the same for both directions.
 * Returns 1 when the packet's source is side b. */
static __always_inline int make_key(const struct tsf_cap_rec *r, struct tsf_cap_key *k)
{
	const __u64 *s = (const __u64 *)r->src, *d = (const __u64 *)r->dst;
	int rev;

	if (s[0] != d[0])
		rev = s[0] > d[0];
	else if (s[1] != d[1])
		rev = s[1] > d[1];
	else
		rev = r->sport > r->dport;
	__builtin_memset(k, 0, sizeof(*k));
	if (rev) {
		__builtin_memcpy(k->a, r->dst, 16);
		__builtin_memcpy(k->b, r->src, 16);
		k->pa = r->dport;
		k->pb = r->sport;
	} else {
		__builtin_memcpy(k->a, r->src, 16);
		__builtin_memcpy(k->b, r->dst, 16);
		k->pa = r->sport;
		k->pb = r->dport;
	}
	k->proto = r->proto;
	k->ipver = r->ipver;
	return rev;
}

static __always_inline __u32 key_hash(const struct tsf_cap_key *k)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h = sample_seed ^ 0x9e3779b9;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*k) / 4); i++) {
		h ^= w[i];
		h *= 0x85ebca6b;
		h ^= h >> 13;
	}
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* Per-CPU token bucket over payload bytes.  Returns 1 when n may pass. */
static __always_inline int tb_take(__u64 n)
{
	__u32 zero = 0;
	struct tsf_cap_tb *tb = bpf_map_lookup_elem(&tbucket, &zero);
	__u64 now = bpf_ktime_get_ns(), dt;

	if (!tb)
		return 1;
	dt = now - tb->last_ns;
	if (!tb->last_ns || dt >= 1000000000ULL)
		tb->tokens = tb_burst;
	else {
		tb->tokens += dt * tb_rate / 1000000000ULL;
		if (tb->tokens > tb_burst)
			tb->tokens = tb_burst;
	}
	tb->last_ns = now;
	if (tb->tokens < n)
		return 0;
	tb->tokens -= n;
	return 1;
}

struct emit_ctx {
	void *ctx; /* struct __sk_buff * or struct xdp_md * */
	struct scratch *s;
	struct counters *cnt;
	__u32 base;  /* payload offset in the frame */
	__u32 total; /* bytes to copy */
	__u32 failed;
};

/* Ring flags for a record of size bytes. */
static __always_inline __u64 wake_flags(__u64 size, struct counters *cnt)
{
	if (!wake_bytes)
		return 0;
	/* No wakeup per record: userspace polls with a short timeout
	 * anyway.  Wake it early when this record carries the fill level
	 * across a multiple of wake_bytes - an edge, not a level: a
	 * consumer that is awake already re-checks the ring before it
	 * sleeps (the ring's poll reports any unread data), so repeating
	 * the wakeup for every record past the mark only burns CPU.
	 * Several marks rather than one so that two CPUs racing across the
	 * first cannot both miss it for good. */
	__u64 avail = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);

	if ((avail + size) / wake_bytes != avail / wake_bytes) {
		cnt->c[TSF_CAP_CTR_wakeups]++;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline long emit_chunk(__u32 i, struct emit_ctx *e, int xdp)
{
	struct scratch *s = e->s;
	__u64 off = (__u64)i * TSF_CAP_CHUNK, n;
	__u64 size, flags = 0;
	long err;

	if (off >= e->total)
		return 1;
	n = e->total - off;
	/* The barrier keeps clang from folding this check into the clamp
	 * above it and testing a copy: the verifier must see n itself
	 * bounded to [1, TSF_CAP_CHUNK] for the helper calls. */
	asm volatile("" : "+r"(n));
	if (n > TSF_CAP_CHUNK)
		n = TSF_CAP_CHUNK;
	asm volatile("" : "+r"(n));
	if (n == 0 || n > TSF_CAP_CHUNK)
		return 1;
	size = sizeof(s->rec) + n;
	flags = wake_flags(size, e->cnt);
	if (n == TSF_CAP_CHUNK) {
		/* A full chunk (bulk transfers, GSO): its size is a constant,
		 * so reserve it in the ring and load the payload straight into
		 * it - one copy instead of two, and nothing wasted. */
		struct scratch *out = bpf_ringbuf_reserve(&rb, sizeof(*out), 0);

		if (!out) {
			e->failed = 1;
			return 1;
		}
		__builtin_memcpy(&out->rec, &s->rec, sizeof(out->rec));
		out->rec.off = off;
		out->rec.len = TSF_CAP_CHUNK;
		if (xdp)
			err = bpf_xdp_load_bytes(e->ctx, e->base + off, out->data, TSF_CAP_CHUNK);
		else
			err = bpf_skb_load_bytes(e->ctx, e->base + off, out->data, TSF_CAP_CHUNK);
		if (err) {
			bpf_ringbuf_discard(out, BPF_RB_NO_WAKEUP);
			e->failed = 1;
			return 1;
		}
		bpf_ringbuf_submit(out, flags);
	} else {
		/* Partial chunk: assembled in the per-CPU scratch and copied
		 * with bpf_ringbuf_output, so the record is as long as its
		 * payload. */
		if (xdp)
			err = bpf_xdp_load_bytes(e->ctx, e->base + off, s->data, n);
		else
			err = bpf_skb_load_bytes(e->ctx, e->base + off, s->data, n);
		if (err) {
			e->failed = 1;
			return 1;
		}
		s->rec.off = off;
		s->rec.len = n;
		if (bpf_ringbuf_output(&rb, s, size, flags)) {
			e->failed = 1;
			return 1;
		}
	}
	e->cnt->c[TSF_CAP_CTR_records]++;
	e->cnt->c[TSF_CAP_CTR_bytes] += n;
	return 0;
}

static long emit_chunk_skb(__u32 i, void *data)
{
	return emit_chunk(i, data, 0);
}

static long emit_chunk_xdp(__u32 i, void *data)
{
	return emit_chunk(i, data, 1);
}

/* Writes the selected packet (r filled by parse) to the ring: copy bytes
 * from pi->payload_off, in chunks of TSF_CAP_CHUNK. */
static __always_inline void copy_out(void *ctx, struct scratch *s, struct counters *cnt,
				     const struct pinfo *pi, __u64 copy, __u32 ifindex, __u8 dir,
				     int xdp)
{
	struct tsf_cap_rec *r = &s->rec;
	struct emit_ctx e;
	__u32 nchunks;

	r->ts_ns = bpf_ktime_get_ns();
	r->ifindex = ifindex;
	r->dir = dir;
	r->pkt_len = pi->payload_len;
	e.ctx = ctx;
	e.s = s;
	e.cnt = cnt;
	e.base = pi->payload_off;
	e.total = copy;
	e.failed = 0;
	nchunks = (copy + TSF_CAP_CHUNK - 1) / TSF_CAP_CHUNK;
	if (nchunks == 0) {
		/* SYN/FIN/RST without payload: the header alone. */
		r->off = 0;
		r->len = 0;
		if (bpf_ringbuf_output(&rb, r, sizeof(*r), wake_flags(sizeof(*r), cnt)))
			e.failed = 1;
		else
			cnt->c[TSF_CAP_CTR_records]++;
	} else if (nchunks == 1)
		emit_chunk(0, &e, xdp); /* the common case: no loop setup */
	else if (xdp)
		bpf_loop(nchunks, emit_chunk_xdp, &e, 0);
	else
		bpf_loop(nchunks, emit_chunk_skb, &e, 0);
	if (e.failed)
		cnt->c[TSF_CAP_CTR_ringbuf_full]++;
	else
		cnt->c[TSF_CAP_CTR_delivered]++;
}

/* An IP fragment has no ports (only the first carries the L4 header), so
 * port lists, bypass, sampling and budget cannot apply: it is copied whole
 * (one record, at most TSF_CAP_CHUNK bytes), under the token bucket. */
static __always_inline void handle_frag(void *ctx, struct scratch *s, struct counters *cnt,
					const struct pinfo *pi, __u32 ifindex, __u8 dir, int xdp)
{
	__u64 copy = pi->payload_len;

	s->rec.rec_flags = TSF_CAP_F_IPFRAG;
	if (copy > TSF_CAP_CHUNK) {
		copy = TSF_CAP_CHUNK;
		s->rec.rec_flags |= TSF_CAP_F_TRUNCATED;
	}
	if (tb_rate && !tb_take(copy)) {
		cnt->c[TSF_CAP_CTR_throttled]++;
		return;
	}
	cnt->c[TSF_CAP_CTR_sampled]++;
	cnt->c[TSF_CAP_CTR_fragments]++;
	copy_out(ctx, s, cnt, pi, copy, ifindex, dir, xdp);
}

static __always_inline void handle(void *ctx, void *data, void *data_end, __u32 pkt_len,
				   __u32 ifindex, __u8 dir, int xdp)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct counters *cnt = bpf_map_lookup_elem(&counters, &zero);
	struct tsf_cap_rec *r;
	struct tsf_cap_key key;
	struct pinfo pi = {};
	__u64 copy;
	int rev, kind;

	if (!s || !cnt)
		return;
	r = &s->rec;
	cnt->c[TSF_CAP_CTR_seen]++;
	kind = parse(data, data_end, pkt_len, r, &pi);
	if (kind == P_FRAG) {
		handle_frag(ctx, s, cnt, &pi, ifindex, dir, xdp);
		return;
	}
	if (kind != P_PAYLOAD) {
		cnt->c[TSF_CAP_CTR_skipped]++;
		return;
	}
	if (ports_deny && ((port_flags[r->sport] | port_flags[r->dport]) & TSF_CAP_PORT_DENY)) {
		cnt->c[TSF_CAP_CTR_port_filtered]++;
		return;
	}
	if (ports_allow && !((port_flags[r->sport] | port_flags[r->dport]) & TSF_CAP_PORT_ALLOW)) {
		cnt->c[TSF_CAP_CTR_port_filtered]++;
		return;
	}
	rev = make_key(r, &key);
	if (bypass_used && bpf_map_lookup_elem(&bypass, &key)) {
		cnt->c[TSF_CAP_CTR_bypassed]++;
		return;
	}
	if (sample_n > 1 && key_hash(&key) % sample_n) {
		cnt->c[TSF_CAP_CTR_unsampled]++;
		return;
	}

	copy = pi.payload_len;
	r->rec_flags = 0;
	if (flow_bytes) {
		__u64 *used, init = 0;

		key.rev = rev;
		used = bpf_map_lookup_elem(&budget, &key);
		if (!used) {
			bpf_map_update_elem(&budget, &key, &init, BPF_NOEXIST);
			used = bpf_map_lookup_elem(&budget, &key);
		}
		if (used) {
			__u64 u = *used;

			/* A FIN or RST past the budget still goes through:
			 * it carries no bytes and ends the flow in the engine. */
			if (u >= flow_bytes && copy) {
				cnt->c[TSF_CAP_CTR_over_budget]++;
				return;
			}
			if (copy > flow_bytes - u) {
				copy = flow_bytes - u;
				r->rec_flags |= TSF_CAP_F_BUDGET_CUT;
			}
			/* Two CPUs may race on one flow; the sum stays right. */
			__sync_fetch_and_add(used, copy);
		}
	}
	if (copy > (__u64)TSF_CAP_CHUNK * TSF_CAP_MAX_CHUNKS) {
		copy = (__u64)TSF_CAP_CHUNK * TSF_CAP_MAX_CHUNKS;
		r->rec_flags |= TSF_CAP_F_TRUNCATED;
	}
	if (tb_rate && !tb_take(copy)) {
		cnt->c[TSF_CAP_CTR_throttled]++;
		return;
	}
	cnt->c[TSF_CAP_CTR_sampled]++;
	copy_out(ctx, s, cnt, &pi, copy, ifindex, dir, xdp);
}

SEC("tc")
int tsf_tc_ingress(struct __sk_buff *skb)
{
	handle(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, skb->ifindex,
	       TSF_CAP_DIR_INGRESS, 0);
	return tc_ret;
}

SEC("tc")
int tsf_tc_egress(struct __sk_buff *skb)
{
	handle(skb, (void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, skb->ifindex,
	       TSF_CAP_DIR_EGRESS, 0);
	return tc_ret;
}

SEC("xdp")
int tsf_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	handle(ctx, data, data_end, bpf_xdp_get_buff_len(ctx), ctx->ingress_ifindex,
	       TSF_CAP_DIR_INGRESS, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
