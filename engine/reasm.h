/* reasm.h - TCP reassembly of one direction of one flow.
 *
 * Sequence numbers are unwrapped into 64-bit stream offsets, so all
 * comparisons are plain integer ones.  Bytes are delivered in order exactly
 * once: retransmissions are dropped, overlaps are trimmed with the first
 * copy winning (both against delivered data and against data waiting out of
 * order), and out-of-order data waits in a sorted list bounded by a per-flow
 * and a per-worker memory cap.  When a cap is hit, or the stream ends with a
 * hole, the hole is skipped and reported as a gap.
 */
#ifndef TSF_REASM_H
#define TSF_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

struct reasm_seg;

struct reasm {
	uint64_t next;         /* stream offset of the next byte to deliver */
	uint32_t next_seq;     /* TCP sequence number of that byte */
	uint8_t init;          /* next/next_seq valid */
	struct reasm_seg *ooo; /* out-of-order segments, sorted, non-overlapping */
	size_t ooo_bytes;
};

/* Delivery callbacks: data in order, or a hole of `lost` bytes. */
struct reasm_out {
	void (*data)(void *ud, const uint8_t *p, size_t len);
	void (*gap)(void *ud, uint64_t lost);
	void *ud;
};

struct reasm_limits {
	size_t memcap_flow;  /* per direction */
	size_t *global_used; /* shared by a worker's flows (may be NULL) */
	size_t memcap_global;
};

void reasm_init(struct reasm *r);
/* The SYN's sequence number: data starts at isn + 1. */
void reasm_syn(struct reasm *r, uint32_t isn);
/* A segment with payload. */
void reasm_segment(struct reasm *r, uint32_t seq, const uint8_t *p, size_t len,
                   const struct reasm_limits *lim, const struct reasm_out *out,
                   struct tsf_stats *st);
/* End of stream: deliver what waits, skipping holes.  Frees everything. */
void reasm_flush(struct reasm *r, const struct reasm_limits *lim, const struct reasm_out *out,
                 struct tsf_stats *st);
/* Frees buffered segments without delivering them. */
void reasm_free(struct reasm *r, const struct reasm_limits *lim);

#endif
