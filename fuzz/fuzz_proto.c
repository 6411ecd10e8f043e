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

static int bin_eq(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
	return a.len == b.len && (!a.len || !memcmp(a.data, b.data, a.len));
}

static int str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* The fast decoder (bus_batch_unpack) against protobuf-c: same verdict on
 * validity, same fields. */
static void diff(const Tsf__VerdictBatch *x, const Tsf__VerdictBatch *y)
{
	if (!x != !y)
		__builtin_trap();
	if (!x)
		return;
	if (x->schema != y->schema || !str_eq(x->sensor, y->sensor) || x->epoch != y->epoch ||
	    x->queue_dropped != y->queue_dropped || x->n_verdicts != y->n_verdicts)
		__builtin_trap();
	for (size_t i = 0; i < x->n_verdicts; i++) {
		const Tsf__Verdict *a = x->verdicts[i], *b = y->verdicts[i];
		if (a->seq != b->seq || a->ts_ns != b->ts_ns || a->ipver != b->ipver ||
		    a->proto != b->proto || !bin_eq(a->src, b->src) || !bin_eq(a->dst, b->dst) ||
		    a->sport != b->sport || a->dport != b->dport || a->dir != b->dir ||
		    a->rule_id != b->rule_id || !str_eq(a->category, b->category) ||
		    a->sev != b->sev || !str_eq(a->msg, b->msg) || !str_eq(a->file, b->file) ||
		    !str_eq(a->ruleset, b->ruleset) || a->ruleset_version != b->ruleset_version ||
		    a->offset != b->offset || !bin_eq(a->excerpt, b->excerpt) ||
		    a->cat_seq != b->cat_seq || !str_eq(a->sensor, b->sensor))
			__builtin_trap();
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
	diff(b, bus_batch_unpack(&arena, data, size));
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
