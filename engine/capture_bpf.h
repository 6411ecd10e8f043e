/* capture_bpf.h - live capture through the eBPF program in ebpf/.
 *
 * Loads ebpf/capture.bpf.c (embedded as a skeleton), attaches it to TC
 * ingress and egress of each interface (a tcx link on kernels >= 6.6, else
 * a clsact qdisc filter) or XDP for ingress, and turns ring-buffer records
 * into struct tsf_pkt for the engine.  One thread polls; the callback runs
 * on it, with the payload valid only during the call.
 *
 * Cleanup: tcx and XDP links belong to the process's file descriptors, so
 * even SIGKILL detaches them.  The clsact fallback is not fd-owned: close
 * removes our filters and the qdisc if we created it, but after SIGKILL
 * they stay until `tc qdisc del dev IF clsact` (see docs/live.md).
 */
#ifndef TSF_CAPTURE_BPF_H
#define TSF_CAPTURE_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "../ebpf/capture.h"
#include "packet.h"
#include "stats.h"

#define CAPTURE_BPF_MAX_IFACES 16

enum capture_attach {
	CAPTURE_ATTACH_AUTO = 0, /* tcx where the kernel has it, else clsact */
	CAPTURE_ATTACH_TCX,
	CAPTURE_ATTACH_CLSACT,
};

enum capture_xdp {
	CAPTURE_XDP_OFF = 0, /* TC ingress */
	CAPTURE_XDP_NATIVE,  /* driver mode; fails where the driver has none */
	CAPTURE_XDP_GENERIC, /* skb mode: any device, no speed gain */
};

struct capture_bpf_opts {
	const char *ifaces[CAPTURE_BPF_MAX_IFACES];
	int n_ifaces;
	uint32_t sample_n;    /* keep 1 in N flows; 0 or 1: all */
	uint32_t sample_seed; /* which flows; 0 is fine */
	uint64_t flow_bytes;  /* per flow direction; 0 = unlimited */
	uint32_t ring_size;   /* bytes; power of two, >= page size; 0 = 4 MiB */
	uint64_t wake_bytes;  /* forced wakeup threshold; 0 = ring_size / 4 */
	uint64_t tb_rate;     /* token bucket bytes/s per CPU; 0 = off */
	uint64_t tb_burst;    /* 0 = tb_rate / 10 (at least 64 KiB) */
	uint32_t max_flows;   /* entries of the budget and bypass maps; 0 = 65536 */
	enum capture_attach attach;
	enum capture_xdp xdp;
	int prog_stats;  /* enable the kernel's BPF run-time stats while open */
	int no_ip_frags; /* the kernel skips IP fragments instead of copying them */
	/* port filter: a packet passes the allow list when either port is in
	 * it (an empty list allows all); the deny list wins. */
	uint8_t port_allow[65536 / 8];
	uint8_t port_deny[65536 / 8];
	int have_allow, have_deny;
};

void capture_bpf_opts_default(struct capture_bpf_opts *o);

/* p is the packet as the engine wants it; r is the raw record (ifindex,
 * chunk offset, flags). */
typedef void (*capture_bpf_cb)(void *ctx, const struct tsf_pkt *p, const struct tsf_cap_rec *r);

/* An IP fragment record (TSF_CAP_F_IPFRAG), parsed: f->data is valid
 * during the call; ts_ns is epoch ns, r the raw record. */
typedef void (*capture_bpf_frag_cb)(void *ctx, const struct tsf_frag *f, uint64_t ts_ns,
                                    const struct tsf_cap_rec *r);

struct capture_bpf;

/* Loads and attaches.  NULL on failure with a message in err.  With no
 * interface, loads without attaching (tests feed capture_bpf_test_run). */
struct capture_bpf *capture_bpf_open(const struct capture_bpf_opts *o, capture_bpf_cb cb, void *ctx,
                                     char *err, size_t errlen);

/* Where fragment records go (the same ctx as the packet callback); without
 * one they are consumed and dropped.  An IPv6 atomic fragment (offset 0,
 * no more fragments) is a whole datagram: it goes to the packet callback.
 * A fragment record that does not parse counts in pkt_malformed. */
void capture_bpf_on_fragment(struct capture_bpf *c, capture_bpf_frag_cb cb);

/* Waits up to timeout_ms for records and consumes all that are queued.
 * Returns the number of records consumed, or -errno. */
int capture_bpf_poll(struct capture_bpf *c, int timeout_ms);

/* Kernel counters summed over CPUs, indexed by enum tsf_cap_counter. */
void capture_bpf_counters(struct capture_bpf *c, uint64_t out[TSF_CAP_NR_COUNTERS]);

/* Copies the kernel counters into the bpf_* fields of s. */
void capture_bpf_stats(struct capture_bpf *c, struct tsf_stats *s);

/* Adds p's flow (both directions) to the bypass map: the kernel stops
 * copying it.  Returns 0 or -errno. */
int capture_bpf_bypass(struct capture_bpf *c, const struct tsf_pkt *p);
int capture_bpf_unbypass(struct capture_bpf *c, const struct tsf_pkt *p);

/* Kernel run-time stats of our programs (needs opts.prog_stats): total
 * run count and ns, summed over the attached programs. */
int capture_bpf_prog_runtime(struct capture_bpf *c, uint64_t *run_cnt, uint64_t *run_ns);

/* Runs the TC program once on frame (an Ethernet frame) through the
 * kernel's BPF_PROG_TEST_RUN, as if it arrived (or left, egress != 0): the
 * real program and maps, records land in the ring.  Returns the program's
 * return value or -errno. */
int capture_bpf_test_run(struct capture_bpf *c, int egress, const void *frame, size_t len);

/* "tcx", "clsact", "xdp+tcx", ... for messages. */
const char *capture_bpf_mode(const struct capture_bpf *c);

/* Detaches from every interface (records already queued stay readable:
 * poll again to drain them).  Removes a clsact qdisc only if we created it. */
void capture_bpf_detach(struct capture_bpf *c);

/* Detaches if still attached, frees everything. */
void capture_bpf_close(struct capture_bpf *c);

#endif
