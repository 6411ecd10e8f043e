/* publish.h - the verdict bus publisher: a vsink that puts verdicts on a
 * ZeroMQ XPUB socket, keeps them in a journal and serves replay requests.
 *
 * emit() never blocks a worker (unless block_when_full is set, for offline
 * input): it copies the verdict into a bounded queue and returns; a full
 * queue is counted (bus_queue_dropped).  One publisher thread owns the XPUB
 * socket: it takes whatever is queued (up to 64 per category, never waiting
 * for more), numbers the verdicts, writes each batch to the journal and
 * sends it without blocking; a send refused at the high-water mark is
 * counted (bus_unsent) and stays recoverable from the journal.  A second
 * thread owns the replay ROUTER socket and reads the journal directly.
 */
#ifndef TSF_PUBLISH_H
#define TSF_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "stats.h"
#include "verdict.h"

struct publish_config {
	const char *endpoint; /* XPUB, bound ("@"/">" prefixes: see bus_attach); required */
	const char *sensor;   /* sensor id in every message; NULL: the host name */
	int sndhwm;           /* messages (batches) per subscriber; 0: 100000 */
	size_t queue_len;     /* verdicts between workers and the publisher; 0: 65536 */
	int block_when_full;  /* offline input (pcap/text): wait instead of dropping */
	int batch_max;        /* 1..64; 0: 64 (1 = unbatched, for measurements) */
	unsigned stats_ms;    /* Stats message interval; 0: 10000; (unsigned)-1: never */
	/* Fetches the engine's counters for the Stats message (publisher thread;
	 * must be safe while workers run, e.g. engine_stats).  May be NULL. */
	void (*stats_fn)(void *ud, struct tsf_stats *out);
	void *stats_ud;
	/* Journal: NULL dir = none (then nothing missed can be replayed). */
	struct journal_config journal;
	const char *replay_endpoint; /* ROUTER serving ReplayRequest; needs the journal */
	/* CURVE: secret key file of this sensor (public key derived); enables
	 * encryption on endpoint and replay_endpoint.  curve_allow_file lists the
	 * client public keys admitted (NULL: any client that knows our key). */
	const char *curve_secret_file;
	const char *curve_allow_file;
	/* vsink_publish_new waits until this many subscribe messages arrived, at
	 * most wait_ms (0: 5000).  A subscriber only gets what is sent after its
	 * subscription reached the sensor, and a short offline scan can be over
	 * before that: `scan --publish` of a file wants 1 here. */
	int wait_subscribers;
	unsigned wait_ms;
};

void publish_config_default(struct publish_config *c);

/* Starts the publisher.  NULL on error (message in err): bad endpoint,
 * unreadable keys, journal directory.  destroy() drains the queue, sends a
 * last Stats message and lingers up to 2 s for subscribers to receive. */
struct vsink *vsink_publish_new(const struct publish_config *c, char *err, size_t errlen);

/* Writes the publisher's counters into the bus_* fields of st (the others
 * are left alone): call after engine_stats() and before stats_print(). */
void publish_stats(struct vsink *s, struct tsf_stats *st);

/* The endpoint actually bound (resolves "tcp://127.0.0.1:*" to its port);
 * replay != 0: the replay endpoint ("" when there is none). */
const char *publish_endpoint(struct vsink *s, int replay);

/* Last sequence number assigned (0: none). */
uint64_t publish_last_seq(struct vsink *s);

/* Stops (on != 0) or restarts taking from the queue.  For tests and the
 * benchmark: builds a backlog so batching is observable deterministically. */
void publish_hold(struct vsink *s, int on);

#endif
