/* journal.h - the publisher's local record of recent verdict batches.
 *
 * Append-only segment files in one directory, named by the first sequence
 * number they hold (%020llu.tsj).  Each record is one packed VerdictBatch,
 * exactly the bytes sent on the bus, behind a 24-byte header:
 *   u32 magic "TSJ1" | u32 payload length | u64 first seq | u32 count | u32 crc32
 * (little endian).  A batch holds the consecutive numbers first..first+count-1.
 * Segments rotate at segment_bytes; the oldest are deleted while the total is
 * over max_bytes.  On open, the newest segment is scanned and a torn or
 * corrupt tail (crash mid-write) is cut off, so numbering resumes after the
 * last intact batch.
 *
 * One thread appends; any number of threads may read concurrently (replay).
 */
#ifndef TSF_JOURNAL_H
#define TSF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

enum journal_fsync {
	JOURNAL_FSYNC_NONE,   /* leave it to the kernel: lost on power failure */
	JOURNAL_FSYNC_BATCH,  /* fdatasync at most every sync_ms (default 200 ms) */
	JOURNAL_FSYNC_ALWAYS, /* fdatasync after every batch (slow) */
};

struct journal_config {
	const char *dir;        /* created if missing */
	uint64_t segment_bytes; /* 0: 64 MiB */
	uint64_t max_bytes;     /* 0: 1 GiB; never fewer than the current segment */
	enum journal_fsync fsync;
	unsigned sync_ms; /* JOURNAL_FSYNC_BATCH interval; 0: 200 */
	int readonly;     /* read another process's journal: no repair, no appends */
};

struct journal_counters {
	uint64_t appended, bytes, write_errors, sync_errors, segments_deleted, tail_repaired;
};

struct journal;

/* Parses "none" | "batch" | "always"; -1 when unknown. */
int journal_fsync_parse(const char *s);

struct journal *journal_open(const struct journal_config *c, char *err, size_t errlen);
void journal_close(struct journal *j);

/* Oldest and newest sequence numbers held (0, 0 when empty). */
void journal_range(struct journal *j, uint64_t *first, uint64_t *last);

/* Appends one batch.  Returns 0, or -1 (counted) on a write error. */
int journal_append(struct journal *j, uint64_t first_seq, uint32_t count, const void *batch,
                   size_t len);
/* Called by the appending thread when idle: applies the BATCH policy. */
void journal_tick(struct journal *j);

void journal_counters(struct journal *j, struct journal_counters *out);

/* Calls fn for each intact record overlapping [from, to] (to 0 = newest) in
 * order, until fn returns non-zero.  Returns 0, or -1 when a segment could
 * not be read (records before the error were delivered). */
typedef int (*journal_fn)(void *ud, uint64_t first_seq, uint32_t count, const uint8_t *batch,
                          size_t len);
int journal_read(struct journal *j, uint64_t from, uint64_t to, journal_fn fn, void *ud);

/* Answers one ReplayRequest (packed) with a packed ReplayReply in *out
 * (malloc'ed, caller frees) and its status in *status.  Never fails on bad
 * input: a malformed request gets a BAD_REQUEST reply.  j may be NULL
 * (UNAVAILABLE).  Returns the reply length, or 0 when out of memory. */
size_t journal_replay_answer(struct journal *j, const uint8_t *req, size_t len, uint8_t **out,
                             int *status);

#endif
