/* fuzz_proto.c - every protobuf message tapsift decodes from the network
 * (watch: VerdictBatch and Stats; replay client: ReplayReply; sensor:
 * ReplayRequest), decoded the way the real readers do it (arena allocator,
 * then conversion to struct tsf_verdict and JSON/text formatting). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "journal.h"
#include "verdict.h"

static void use_batch(const Tsf__VerdictBatch *b)
{
	char line[8192];
	for (size_t i = 0; i < b->n_verdicts; i++) {
		struct tsf_verdict v;
		if (bus_verdict_from_pb(b->verdicts[i], &v))
			continue;
		verdict_to_json(&v, line, sizeof(line));
		verdict_to_text(&v, line, sizeof(line));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bus_arena arena;
	static int init;
	if (!init) {
		bus_arena_init(&arena);
		init = 1;
	}
	ProtobufCAllocator *a = bus_arena_allocator(&arena);
	Tsf__VerdictBatch *b = tsf__verdict_batch__unpack(a, size, data);
	if (b)
		use_batch(b);
	bus_arena_reset(&arena);

	Tsf__Stats *st = tsf__stats__unpack(a, size, data);
	if (st)
		for (size_t i = 0; i < st->n_counters; i++)
			(void)strlen(st->counters[i]->key);
	bus_arena_reset(&arena);

	Tsf__ReplayReply *r = tsf__replay_reply__unpack(a, size, data);
	if (r)
		for (size_t i = 0; i < r->n_batches; i++)
			use_batch(r->batches[i]);
	bus_arena_reset(&arena);

	/* The sensor's side, with no journal: must always answer. */
	uint8_t *out = NULL;
	int status;
	size_t n = journal_replay_answer(NULL, data, size, &out, &status);
	if (n && out) {
		Tsf__ReplayReply *rr = tsf__replay_reply__unpack(NULL, n, out);
		if (!rr)
			__builtin_trap(); /* our own answers must decode */
		tsf__replay_reply__free_unpacked(rr, NULL);
	}
	free(out);
	return 0;
}
