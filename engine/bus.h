/* bus.h - shared pieces of the verdict bus (publisher, watch, relay, replay).
 *
 * Wire format: two frames per message, a topic then a protobuf (see
 * proto/tapsift.proto and docs/bus.md):
 *   "v1.verdict.<category>."  VerdictBatch
 *   "v1.stats."               Stats
 * The trailing dot makes a subscription to one category never match a longer
 * one ("v1.verdict.fraud." does not match "v1.verdict.fraudulent.").
 */
#ifndef TSF_BUS_H
#define TSF_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "tapsift.pb-c.h"
#include "verdict.h"

#define BUS_SCHEMA 1 /* highest schema this code writes and fully understands */
#define BUS_TOPIC_VERDICT "v1.verdict."
#define BUS_TOPIC_STATS "v1.stats."
#define BUS_BATCH_MAX 64
#define BUS_TOPIC_MAX 160         /* bytes, including the NUL */
#define BUS_FRAME_MAX (16u << 20) /* larger frames are refused by every reader */

uint64_t bus_now_ns(void);  /* CLOCK_REALTIME */
uint64_t bus_mono_ns(void); /* CLOCK_MONOTONIC */

/* "v1.verdict.<category>." into buf (cap >= BUS_TOPIC_MAX).  Dots and bytes
 * outside printable ASCII in the category become '_' so that a category can
 * never forge a deeper topic; the Verdict itself carries the exact name. */
size_t bus_topic(char *buf, size_t cap, const char *category);

/* Points pb's fields at v's data (no copies): pb is valid while v is. */
void bus_verdict_to_pb(const struct tsf_verdict *v, uint64_t seq, uint64_t cat_seq,
                       Tsf__Verdict *pb);
/* Fills v from a decoded Verdict; strings point into pb.  Returns -1 when pb
 * is inconsistent (address length does not match ipver, ...): count and skip. */
int bus_verdict_from_pb(const Tsf__Verdict *pb, struct tsf_verdict *v);

/* A VerdictBatch encoder for the publisher's hot path: byte for byte what
 * protobuf-c produces (tests check it) at a fraction of the cost (protobuf-c's
 * reflective packer took ~500 ns per verdict).  v[i] gets sequence number
 * first_seq + i and cat_seq[i] (cat_seq may be NULL: 0).  bus_batch_size
 * gives the exact length bus_batch_pack writes. */
struct bus_batch_hdr {
	const char *sensor;
	uint64_t epoch, queue_dropped;
};
size_t bus_batch_size(const struct bus_batch_hdr *h, const struct tsf_verdict *v,
                      const uint64_t *cat_seq, uint64_t first_seq, size_t n);
size_t bus_batch_pack(uint8_t *out, const struct bus_batch_hdr *h, const struct tsf_verdict *v,
                      const uint64_t *cat_seq, uint64_t first_seq, size_t n);

/* Attaches a socket: "@ep" binds, ">ep" connects, otherwise bind when
 * default_bind (or when ep contains '*').  Returns zmq's result. */
int bus_attach(void *sock, const char *ep, int default_bind);

/* --- CURVE keys ----------------------------------------------------------
 * Key files hold one Z85 key (40 characters) on the first line that is not
 * empty or a '#' comment.  A secret key file is all a side needs: its public
 * key is derived.  bus_keygen writes PATH (secret, mode 0600) and PATH.pub. */
int bus_key_load(const char *path, char z85[41], char *err, size_t errlen);
int bus_keygen(const char *path, char *err, size_t errlen);
/* Makes sock a CURVE server with the given secret key (Z85). */
int bus_curve_server(void *sock, const char *secret_z85);
/* Makes sock a CURVE client of server_pub; own secret NULL = ephemeral key. */
int bus_curve_client(void *sock, const char *server_pub_z85, const char *secret_z85);

/* A ZAP handler for ctx: admits CURVE clients whose public key is listed in
 * allow_file (one Z85 key per line), refuses all others; NULL/empty path
 * admits any client that completes the CURVE handshake.  Must be started
 * before the server sockets bind. */
struct bus_zap;
struct bus_zap *bus_zap_start(void *ctx, const char *allow_file, char *err, size_t errlen);
uint64_t bus_zap_denied(const struct bus_zap *z);
uint64_t bus_zap_allowed(const struct bus_zap *z);
void bus_zap_stop(struct bus_zap *z);

/* --- sequence tracking (watch) -------------------------------------------
 * Follows one sequence (a sensor's seq, or its per-category cat_seq).  The
 * first number seen starts it; afterwards a jump forward is a gap. */
struct bus_seq {
	uint64_t epoch;
	uint64_t next; /* 0: nothing seen yet */
	uint64_t gaps, missing, dups;
};
/* Returns the number of verdicts missing just before seq (0: in order). */
uint64_t bus_seq_see(struct bus_seq *t, uint64_t epoch, uint64_t seq);

/* --- relay ----------------------------------------------------------------
 * XSUB (connects or binds to every in) -> XPUB (out), subscriptions forwarded
 * upstream.  Sends downstream are non-blocking with ZMQ_XPUB_NODROP, so a
 * stalled consumer costs counted drops, not a stalled relay.  Runs until
 * *stop becomes non-zero (checked every 100 ms) or a socket fails. */
struct bus_relay_stats {
	uint64_t messages, bytes, dropped, subscriptions, errors;
};
struct bus_relay_config {
	const char **in;
	int n_in;
	const char *out;
	int hwm;                    /* 0: 100000 */
	const char *in_server_key;  /* Z85 public key of the upstream CURVE server(s) */
	const char *in_client_key;  /* own secret key for upstream (NULL: ephemeral) */
	const char *out_secret_key; /* serve downstream with CURVE */
};
int bus_relay_run(void *ctx, const struct bus_relay_config *c, volatile int *stop,
                  struct bus_relay_stats *st, char *err, size_t errlen);

/* --- replay client ---------------------------------------------------------
 * Fetches the verdicts numbered [from, to] (to 0 = up to the newest) from a
 * sensor's replay endpoint, calling fn for each in order (the batch gives the
 * sensor and epoch).  Verdicts no longer in the journal are skipped and
 * counted in *gone.  Returns 0 when the range was served, -1 on error (no
 * answer within timeout_ms, refused request: message in err).  fn returning
 * non-zero stops early (returns 0). */
typedef int (*bus_verdict_fn)(void *ud, const Tsf__VerdictBatch *b, const Tsf__Verdict *v);
struct bus_client_keys {
	const char *server_pub; /* Z85; NULL: no CURVE */
	const char *secret;     /* Z85; NULL: ephemeral */
};
int bus_replay_fetch(void *ctx, const char *ep, const struct bus_client_keys *k, uint64_t from,
                     uint64_t to, const char *category, int timeout_ms, bus_verdict_fn fn, void *ud,
                     uint64_t *gone, char *err, size_t errlen);

/* --- decoding arena -------------------------------------------------------
 * protobuf-c allocates every submessage, string and bytes field separately;
 * decoding into an arena that is reset per message turns those mallocs and
 * frees into pointer bumps.  Decode with bus_arena_allocator(a) and never
 * call *_free_unpacked on the result: bus_arena_reset() releases it all. */
struct bus_arena_chunk;
struct bus_arena {
	ProtobufCAllocator pa;
	struct bus_arena_chunk *head;
	size_t used;
};
void bus_arena_init(struct bus_arena *a);
ProtobufCAllocator *bus_arena_allocator(struct bus_arena *a);
void bus_arena_reset(struct bus_arena *a); /* keeps the first chunk */
void bus_arena_free(struct bus_arena *a);

/* A VerdictBatch decoder for our own readers (watch, replay client, bench):
 * the same result as tsf__verdict_batch__unpack(arena) - a fuzz target checks
 * them against each other - without protobuf-c's reflective parser (~500 ns
 * per verdict).  Bytes fields point into buf; strings are copied into the
 * arena (NUL-terminated).  NULL when buf is not a valid VerdictBatch. */
Tsf__VerdictBatch *bus_batch_unpack(struct bus_arena *a, const uint8_t *buf, size_t len);

#endif
