/* fuzz_replay.c - replay requests from the network against a real journal
 * (a few hundred verdicts in small rotated segments): every request gets an
 * answer that decodes, whose verdicts lie in the requested range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "journal.h"

static struct journal *j;

static void build_journal(void)
{
	char dir[128], err[256];
	snprintf(dir, sizeof(dir), "/tmp/tsf-fuzz-replay-%d", (int)getpid());
	struct journal_config c = {
	    .dir = dir, .segment_bytes = 4096, .max_bytes = 1 << 20, .fsync = JOURNAL_FSYNC_NONE};
	j = journal_open(&c, err, sizeof(err));
	if (!j) {
		fprintf(stderr, "fuzz_replay: %s\n", err);
		abort();
	}
	uint64_t first, last;
	journal_range(j, &first, &last);
	if (last)
		return;
	static const char *cats[] = {"a", "b", "fraud"};
	uint64_t seq = 0;
	for (int k = 0; k < 60; k++) {
		Tsf__Verdict pv[8], *pp[8];
		struct tsf_verdict v;
		memset(&v, 0, sizeof(v));
		v.ipver = 4;
		v.category = cats[k % 3];
		v.ruleset = "r";
		for (int i = 0; i < 8; i++) {
			bus_verdict_to_pb(&v, seq + 1 + (uint64_t)i, 0, &pv[i]);
			pp[i] = &pv[i];
		}
		Tsf__VerdictBatch b = TSF__VERDICT_BATCH__INIT;
		b.schema = 1;
		b.sensor = "fz";
		b.n_verdicts = 8;
		b.verdicts = pp;
		uint8_t buf[4096];
		size_t len = tsf__verdict_batch__pack(&b, buf);
		journal_append(j, seq + 1, 8, buf, len);
		seq += 8;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!j)
		build_journal();
	uint8_t *out = NULL;
	int status;
	size_t n = journal_replay_answer(j, data, size, &out, &status);
	if (!n || !out) {
		free(out);
		return 0;
	}
	Tsf__ReplayReply *r = tsf__replay_reply__unpack(NULL, n, out);
	if (!r)
		__builtin_trap();
	Tsf__ReplayRequest *q = tsf__replay_request__unpack(NULL, size, data);
	size_t total = 0;
	for (size_t k = 0; q && r->status == TSF__REPLAY_REPLY__STATUS__OK && k < r->n_batches;
	     k++) {
		const Tsf__VerdictBatch *b = r->batches[k];
		for (size_t i = 0; i < b->n_verdicts; i++, total++) {
			uint64_t s = b->verdicts[i]->seq;
			if (s < q->from_seq || (q->to_seq && s > q->to_seq))
				__builtin_trap(); /* outside the requested range */
			if (q->category[0] && strcmp(q->category, b->verdicts[i]->category))
				__builtin_trap();
		}
	}
	if (q && total > (q->max ? (q->max < 8192 ? q->max : 8192) : 1024))
		__builtin_trap(); /* more than asked for */
	if (q)
		tsf__replay_request__free_unpacked(q, NULL);
	tsf__replay_reply__free_unpacked(r, NULL);
	free(out);
	return 0;
}
