/* inspect.h - one direction of one flow through decode -> normalize -> match.
 *
 * The flow engine hands reassembled bytes to insp_data(); this module runs
 * the three matching layers (see match.h) over them, drops duplicate
 * matches (one verdict per flow direction and rule) and emits verdicts.
 * Per-thread state (scratch, buffers, sink) is in struct insp_worker;
 * per-direction state in struct insp_dir, which lives in the flow record.
 */
#ifndef TSF_INSPECT_H
#define TSF_INSPECT_H

#include <hs.h>
#include <stdint.h>

#include "decode.h"
#include "match.h"
#include "match_lit.h"
#include "normalize.h"
#include "stats.h"
#include "verdict.h"

#define INSP_TAIL 64 /* bytes of history kept for excerpts */

#define INSP_MAX_SETS 4 /* rule sets alive at once in one worker (hot swaps) */

/* One rule set as a worker uses it: its scratch, and how many flows (plus
 * one if it is the current set) still use it. */
struct insp_set {
	struct matcher *m;
	hs_scratch_t *scratch;
	unsigned users;
};

struct insp_worker {
	struct insp_set *sets[INSP_MAX_SETS];
	struct insp_set *cur; /* new flows bind to it */
	struct vsink *sink;
	struct tsf_stats *st;
	const struct dec_limits *dec;
	uint64_t stream_depth; /* 0 = unlimited */
	uint64_t now_ns;       /* capture time of the packet being processed */
	uint8_t *nbuf;         /* normalized text of one slice */
};

/* Who is talking, for verdicts: addresses of this direction. */
struct insp_meta {
	uint8_t ipver, proto, dir;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	const char *file; /* text input */
};

struct insp_dir {
	struct insp_set *set; /* bound at first data: the rule set of this flow */
	hs_stream_t *hs[MATCH_LAYERS];
	uint64_t base[MATCH_LAYERS]; /* stream offset where each HS stream (re)started */
	struct decoder *dec;
	struct norm_state norm;
	struct norm_state norm_before; /* state before the current slice (offsets) */
	uint64_t raw_off;              /* raw bytes inspected */
	uint64_t text_off;             /* decoded bytes produced */
	uint64_t norm_off;             /* normalized bytes scanned since the NORM stream started */
	uint8_t tail[INSP_TAIL], rtail[INSP_TAIL];
	uint8_t tail_len, rtail_len;
	uint8_t depth_hit;
	/* dedup: open-addressed set of rule indexes + 1 */
	uint32_t *hits;
	uint32_t nhits, caphits;
	/* set during a call, for callbacks */
	struct insp_worker *w;
	const struct insp_meta *meta;
	const uint8_t *cur;
	size_t cur_len;
	uint64_t cur_off;
	const uint8_t *rcur;
	size_t rcur_len;
	uint64_t cur_norm_start;
	size_t cur_norm_len;
	struct litidx_stream lit; /* the literal index's carry */
	uint64_t lit_slice_pos;   /* lit.pos at the start of the current slice */
};

/* Takes a reference on m. */
int insp_worker_init(struct insp_worker *w, struct matcher *m, struct vsink *sink,
                     struct tsf_stats *st, const struct dec_limits *dec);
void insp_worker_free(struct insp_worker *w);

/* Flows that start from now on use m (a reference is taken); flows in
 * progress finish with the set they started with, which is released when
 * the last of them ends.  Returns -1 (and keeps the old set) when no
 * scratch could be allocated or too many sets are still alive. */
int insp_set_matcher(struct insp_worker *w, struct matcher *m);

void insp_dir_init(struct insp_dir *d);
void insp_data(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta,
               const uint8_t *p, size_t len);
/* Lost bytes: matches must not span the hole. */
void insp_gap(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta);
/* End of this stream (flush decoders, end-anchored matches).  The dedup set
 * survives, so a UDP flow's next datagram does not repeat verdicts. */
void insp_end(struct insp_worker *w, struct insp_dir *d, const struct insp_meta *meta);
/* Releases everything (after insp_end), including the flow's hold on its
 * rule set. */
void insp_dir_free(struct insp_worker *w, struct insp_dir *d);

#endif
