/* defrag.h - IPv4 and IPv6 fragment reassembly.
 *
 * A signature split over IP fragments must still match: fragmenting a
 * datagram is the oldest way around a filter that looks at packets one by
 * one.  Fragments (struct tsf_frag from pkt_parse_frag) are gathered per
 * (IP version, source, destination, IP id, and for IPv4 the protocol: an
 * IPv6 Fragment header's Next Header may differ between fragments, only
 * the first fragment's counts, RFC 8200 4.5, as Linux matches them);
 * when the last hole is
 * filled the datagram's payload comes out whole and goes through the same
 * L4 parsing as any packet (pkt_parse_l4).
 *
 * Overlaps: the first copy wins, at the 8-byte granularity fragments have
 * (Suricata's and Snort's "first" policy, and the rule of our own TCP
 * reassembly).  Linux receivers drop an overlapping datagram altogether
 * (RFC 5722 for IPv6, and IPv4 since 4.19), so there is nothing to
 * inspect for them; first-wins covers the stacks that keep the old bytes.
 *
 * At the memcap the oldest datagrams are evicted (frag_evicted) to make
 * room, so fragments that never complete cannot hold the memory against
 * real datagrams for a whole timeout; a datagram that does not fit alone
 * is dropped (frag_memcap_drops).
 *
 * One instance belongs to one thread (the capture thread of the engine);
 * time is packet time.  Every fragment not used is counted in tsf_stats
 * (frag_*).
 */
#ifndef TSF_DEFRAG_H
#define TSF_DEFRAG_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"
#include "stats.h"

struct defrag_config {
	uint32_t timeout_s;   /* a datagram still incomplete this long after its first
	                       * fragment is dropped (packet time) */
	size_t memcap;        /* bytes held over all datagrams, bookkeeping included */
	size_t max_datagrams; /* datagrams in reassembly; the oldest is evicted past it */
};

/* 30 s (Linux's ipfrag_time), 32 MiB, 65536 datagrams. */
void defrag_config_default(struct defrag_config *c);

/* A completed datagram. */
struct defrag_dgram {
	uint8_t ipver, proto;
	uint8_t dir;              /* of the fragment that completed it */
	uint8_t src[16], dst[16]; /* IPv4: first 4 bytes, rest zero */
	uint64_t ts_ns;           /* capture time of the fragment that completed it */
	const uint8_t *data;      /* the reassembled payload (after the IPv4 header / the
	                           * IPv6 Fragment header); valid until the next call */
	uint32_t len;
};

struct defrag;

/* st receives the frag_* counters; it must outlive the instance. */
struct defrag *defrag_new(const struct defrag_config *c, struct tsf_stats *st);

/* Adds one fragment captured at ts_ns.  Returns 1 when it completed its
 * datagram (*out filled), else 0 (held, or dropped and counted).  Expires
 * datagrams past the timeout first. */
int defrag_add(struct defrag *d, const struct tsf_frag *f, uint64_t ts_ns, uint8_t dir,
               struct defrag_dgram *out);

/* Drops datagrams older than the timeout at packet time now_ns (counted in
 * frag_timeouts). */
void defrag_expire(struct defrag *d, uint64_t now_ns);

/* End of input: drops every incomplete datagram (counted in frag_timeouts). */
void defrag_flush(struct defrag *d);

/* Bytes held now, and datagrams in reassembly (for tests and stats). */
size_t defrag_used(const struct defrag *d);
size_t defrag_count(const struct defrag *d);

void defrag_free(struct defrag *d);

#endif
