/* engine.h - the flow engine: packets in, verdicts out.
 *
 * One capture thread (pcap reader or BPF ring-buffer consumer) calls
 * engine_packet(); the engine hashes the flow key (the same for both
 * directions) to a worker, which owns that flow outright: flow table, TCP
 * reassembly, decoding, normalization, matching, verdict dedup.  Verdicts go
 * to the vsink given at creation.  Results do not depend on the number of
 * workers.
 */
#ifndef TSF_ENGINE_H
#define TSF_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "packet.h"
#include "stats.h"
#include "verdict.h"

struct matcher;

struct engine_config {
	int threads;                /* workers; <= 0: one per online CPU */
	size_t max_flows;           /* per worker; oldest idle flow evicted beyond it */
	size_t reasm_memcap_flow;   /* out-of-order bytes buffered per flow direction */
	size_t reasm_memcap_global; /* out-of-order bytes buffered per worker */
	uint64_t stream_depth;      /* bytes inspected per flow direction; 0 = unlimited */
	uint32_t tcp_timeout_s;     /* idle timeout of established TCP flows */
	uint32_t tcp_closed_timeout_s;
	uint32_t udp_timeout_s;
	int no_defrag;           /* IP fragments counted and skipped, not reassembled */
	uint32_t frag_timeout_s; /* incomplete datagrams dropped after this (packet time) */
	size_t frag_memcap;      /* bytes held by IP reassembly */
	struct dec_limits dec;
};

void engine_config_default(struct engine_config *c);

struct engine;

/* The engine takes references on m (see matcher_ref): the caller may
 * matcher_unref its own once the engine is freed. */
struct engine *engine_new(const struct engine_config *cfg, struct matcher *m, struct vsink *sink);

/* Hot swap, from the producer thread: packets after this call start new
 * flows under m; flows in progress finish under the set they started with
 * (no match that completes after the swap is lost, no packet is dropped),
 * and the old set is freed once its last flow has ended and the caller has
 * dropped its own reference.  Returns 0, or -1 if a worker refused (too many
 * sets still alive; the old set stays). */
int engine_set_matcher(struct engine *e, struct matcher *m);

/* Called from one producer thread.  The payload is copied. */
void engine_packet(struct engine *e, const struct tsf_pkt *p);

/* An IP fragment (pkt_parse_frag returned PKT_FRAGMENT), captured at ts_ns
 * in direction dir.  Reassembled on the producer thread (defrag.h): the
 * datagram it completes goes on like any packet, with this fragment's time.
 * With cfg.no_defrag it is only counted (pkt_fragment).  f->data is not
 * kept after the call. */
void engine_fragment(struct engine *e, const struct tsf_frag *f, uint64_t ts_ns, uint8_t dir);

/* Scans a whole text document (UTF-8 or with a BOM).  name is reported as
 * the verdict's file.  Called from the producer thread. */
void engine_text(struct engine *e, const char *name, const uint8_t *data, size_t len);

/* Hands partially filled batches to the workers now (live capture calls it
 * after each poll so verdicts are not held back on a quiet link). */
void engine_flush(struct engine *e);

/* Counts a packet the capture source could not parse (for stats). */
void engine_count(struct engine *e, enum pkt_result why, size_t caplen);

/* Drains queues, ends every flow (incomplete IP datagrams are dropped and
 * counted in frag_timeouts) (flushing reassembly), joins the workers. */
void engine_finish(struct engine *e);

/* Sum of all workers' counters (safe to call while running: approximate). */
void engine_stats(struct engine *e, struct tsf_stats *out);

void engine_free(struct engine *e);

#endif
