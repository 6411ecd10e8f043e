/* control.h - getting new rule bundles into a running gateway.
 *
 * Two sources, one hand-over:
 *   control   a ZeroMQ ROUTER socket (own thread) that receives a bundle as
 *             a two-frame request "v1.bundle" + bytes (REQ or DEALER
 *             clients), verifies and loads it in that thread and answers
 *             "ok <version> <hash>" or "error <reason>"; "v1.status"
 *             answers "ok <live version> <hash>".  Large bundles come in
 *             chunks ("v1.bundle.begin" + u64 size, "v1.bundle.part" + u64
 *             offset + bytes, each answered "more <bytes so far>", then
 *             "v1.bundle.end"), spooled to an unlinked file and loaded from
 *             there: the gateway never holds the bundle bytes in memory
 *             next to the set they become.  One upload at a time (another
 *             client gets "error busy" until it has been idle 60 s).
 *             CURVE (bus key files) for endpoints that leave the host.
 *   watch     a directory scanned every interval for new or changed *.tsb
 *             files (a file must be unchanged for one interval before it is
 *             read, so a slow copy is not loaded half-written).
 * Both call on_matcher(ud, m) with a loaded matcher whose single reference
 * now belongs to the callee; a rejected bundle never reaches it and the
 * live set stays.  Versions: a bundle older than the live one is refused
 * (rollback) unless allow_rollback; the live one again is answered "ok ...
 * already live" without a hand-over.  control and watch may share one live
 * version (live_version pointer) so a pushed set is not replaced by an
 * older file in the directory.
 *
 * The capture loop must apply the set itself (engine_set_matcher is called
 * from the producer thread): matcher_slot is a ready-made mailbox for that.
 */
#ifndef TSF_CONTROL_H
#define TSF_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "match.h"
#include "sign.h"

typedef void (*control_matcher_fn)(void *ud, struct matcher *m);
/* Optional: one line per event (accepted, rejected + reason), no newline. */
typedef void (*control_log_fn)(void *ud, const char *line);

/* Shared by control and watch: the live version (0: none known). */
struct control_live {
	uint64_t version; /* atomic access */
	char hash[BUNDLE_HASH_HEX];
};

struct control_config {
	const char *endpoint;             /* ROUTER, bound ("tcp://127.0.0.1:*" allowed); NULL: no
	                                     socket, requests only through control_handle (fuzzing) */
	const struct bundle_trust *trust; /* NULL/empty: unsigned bundles accepted */
	int allow_rollback, allow_recompile;
	const char *curve_secret_file; /* serve CURVE with this secret key (bus key file) */
	const char *curve_allow_file;  /* admitted client public keys; NULL: any */
	size_t max_bundle;             /* bytes; 0: 4 GiB */
	const char *spool_dir;         /* chunked uploads; NULL: $TMPDIR or /tmp */
	struct control_live *live;     /* NULL: private */
	control_log_fn log;            /* NULL: stderr */
	void *log_ud;
};

struct control;

struct control *control_start(const struct control_config *c, control_matcher_fn on_matcher,
                              void *ud, char *err, size_t errlen);
/* The endpoint actually bound ("" without a socket). */
const char *control_endpoint(const struct control *c);
void control_stop(struct control *c);

struct control_counts {
	uint64_t requests, accepted, rejected, already_live;
};
void control_counts(const struct control *c, struct control_counts *out);

/* Handles one request given as frames (without routing envelope): what the
 * socket thread does per message.  Writes the answer into reply.  Exposed
 * for fuzzing.  Returns 0 if accepted (or status), -1 otherwise. */
int control_handle(struct control *c, int nframes, const uint8_t *const *frames, const size_t *lens,
                   char *reply, size_t replylen);

/* Client side of `tapsift rules push`: sends buf to ep, waits for the
 * answer.  Returns 0 if the gateway accepted ("ok ..."), -1 otherwise; the
 * answer or the failure ("error timeout ...") is in reply. */
struct control_push_opts {
	int timeout_ms;              /* 0: 30 s */
	const char *server_key_file; /* gateway's CURVE public key file; NULL: plain */
	const char *client_key_file; /* own secret key file; NULL: ephemeral */
	size_t chunk_bytes;          /* larger bundles go in chunks; 0: 4 MiB */
};
int control_push(const char *ep, const struct control_push_opts *o, const void *buf, size_t len,
                 char *reply, size_t replylen);
/* Asks for the live version ("v1.status"). */
int control_status(const char *ep, const struct control_push_opts *o, char *reply, size_t replylen);

/* ---- directory watch ---- */

struct rules_watch_config {
	const char *dir;
	const struct bundle_trust *trust;
	int allow_rollback, allow_recompile;
	unsigned interval_ms;      /* 0: 1000 */
	struct control_live *live; /* NULL: private */
	control_log_fn log;
	void *log_ud;
};

struct rules_watch;
struct rules_watch *rules_watch_start(const struct rules_watch_config *c,
                                      control_matcher_fn on_matcher, void *ud, char *err,
                                      size_t errlen);
/* Bundles handed over so far / files rejected (for tests and stats). */
uint64_t rules_watch_loaded(const struct rules_watch *w);
uint64_t rules_watch_rejected(const struct rules_watch *w);
void rules_watch_stop(struct rules_watch *w);

/* ---- the pending-swap mailbox ----
 * on_matcher = matcher_slot_cb, ud = &slot; the capture loop calls
 * matcher_slot_take() each poll and, when it gets a matcher m:
 *     engine_set_matcher(e, m);  matcher_unref(live);  live = m;
 * A set put while another is still pending replaces it (the displaced one
 * is unreferenced): only the newest matters. */
struct matcher_slot {
	struct matcher *pending; /* atomic access */
};
void matcher_slot_cb(void *slot, struct matcher *m);
struct matcher *matcher_slot_take(struct matcher_slot *s);

/* ---- everything a gateway needs, in one object ----
 * Loads the trust list, starts the control socket and/or the directory
 * watch with one shared live version and one pending-swap slot.  `run`
 * (and `rules serve`) use it like this, from the producer thread:
 *     struct matcher *nm = gateway_rules_take(g);
 *     if (nm) {
 *         if (engine_set_matcher(e, nm) == 0) { matcher_unref(live); live = nm; }
 *         else { gateway_rules_swap_failed(g, live->version); matcher_unref(nm); }
 *     }
 */
struct gateway_rules_opts {
	const char *control_ep;   /* NULL: no control socket */
	const char *rules_dir;    /* NULL: no directory watch */
	const char *const *trust; /* .pub files or directories */
	int ntrust;               /* 0: unsigned bundles accepted */
	int allow_rollback, allow_recompile;
	const char *curve_secret_file; /* control socket CURVE (bus key files) */
	const char *curve_allow_file;
	unsigned dir_interval_ms; /* 0: 1000 */
	uint64_t live_version;    /* of the set live at start (0: rule files) */
	control_log_fn log;       /* NULL: stderr */
	void *log_ud;
};
struct gateway_rules;
/* The allocator policy of a process that takes live swaps: blocks of 1 MiB
 * and more get mappings of their own (glibc's threshold pinned, not raised
 * on the fly), so an upload part or a rule set goes back to the system the
 * moment it is freed.  Otherwise glibc, once a large mapped block has been
 * freed, carves such blocks from a thread's arena, whose top malloc_trim
 * never shrinks: a 4 MiB upload part received by ZeroMQ's I/O thread stayed
 * resident for good.  Call before the first set is loaded; idempotent
 * (gateway_rules_start calls it too). */
void gateway_malloc_policy(void);
struct gateway_rules *gateway_rules_start(const struct gateway_rules_opts *o, char *err,
                                          size_t errlen);
/* A new set to apply (the caller owns its reference), or NULL: one relaxed
 * load when nothing is pending. */
struct matcher *gateway_rules_take(struct gateway_rules *g);
/* The set taken last did not go live: the live version goes back, so the
 * same bundle can be pushed again. */
void gateway_rules_swap_failed(struct gateway_rules *g, uint64_t live_version);
/* The bound control endpoint ("" without one). */
const char *gateway_rules_endpoint(const struct gateway_rules *g);
/* Stops both sources; a set still pending is released. */
void gateway_rules_stop(struct gateway_rules *g);

#endif
