/* cmd_bus.c - the verdict bus subcommands: watch, relay, replay.
 * Flags only and printing; the protocol lives in bus.c / journal.c. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "cli.h"
#include "journal.h"
#include "verdict.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* "--name VALUE" or "--name=VALUE"; advances *i past the value. */
static const char *optval(int argc, char **argv, int *i, const char *name, const char *cmd)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, name, n))
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n])
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "tapsift %s: %s needs a value\n", cmd, name);
		exit(EXIT_USAGE);
	}
	return argv[++*i];
}

static uint64_t parse_u64(const char *s, const char *what, const char *cmd)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "tapsift %s: %s: not a number: '%s'\n", cmd, what, s);
		exit(EXIT_USAGE);
	}
	return v;
}

/* A key option: a file holding a Z85 key, or the 40-character key itself. */
static int key_arg(const char *arg, char z85[41], const char *cmd)
{
	char err[512];
	if (access(arg, R_OK) && strlen(arg) == 40) {
		uint8_t bin[32];
		memcpy(z85, arg, 41);
		if (zmq_z85_decode(bin, z85))
			return 0;
	}
	if (bus_key_load(arg, z85, err, sizeof(err))) {
		fprintf(stderr, "tapsift %s: %s\n", cmd, err);
		return -1;
	}
	return 0;
}

static void print_verdict(const Tsf__Verdict *pv, enum verdict_format fmt, uint64_t *bad)
{
	struct tsf_verdict v;
	char line[8192];
	if (bus_verdict_from_pb(pv, &v)) {
		(*bad)++;
		return;
	}
	int n = fmt == VFMT_JSON ? verdict_to_json(&v, line, sizeof(line))
	                         : verdict_to_text(&v, line, sizeof(line));
	if (n > 0)
		fwrite(line, 1, (size_t)n, stdout);
	else
		(*bad)++;
}

/* --- watch ------------------------------------------------------------- */

struct sensor_track {
	char name[128];
	uint64_t epoch, qdrop;
	struct bus_seq seq;
	int caught_up; /* --from handled for this sensor */
};

struct cat_track {
	int sensor;
	char cat[128];
	struct bus_seq seq;
	uint64_t last_seq; /* global number of the last verdict seen in it */
};

struct watch {
	enum verdict_format fmt;
	const char **cats;
	int ncats;
	struct sensor_track sensors[256];
	int nsensors;
	struct cat_track ctrack[1024];
	int nctrack;
	uint64_t verdicts, batches, stats_msgs, bad, gaps, missing, recovered, qdrop, lost;
	int show_stats;
	uint64_t from;          /* --from: replay [from, first seen) for each sensor */
	const char *replay_for; /* the sensor whose gap is being filled */
	uint64_t foreign;       /* replayed verdicts of another sensor, skipped */
	const char *replay_ep;
	struct bus_client_keys keys;
	void *ctx;
};

static int sensor_idx(struct watch *w, const char *name)
{
	for (int i = 0; i < w->nsensors; i++)
		if (!strcmp(w->sensors[i].name, name))
			return i;
	if (w->nsensors == 256)
		return -1;
	struct sensor_track *s = &w->sensors[w->nsensors];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return w->nsensors++;
}

static struct cat_track *cat_idx(struct watch *w, int sensor, const char *cat)
{
	for (int i = 0; i < w->nctrack; i++)
		if (w->ctrack[i].sensor == sensor && !strcmp(w->ctrack[i].cat, cat))
			return &w->ctrack[i];
	if (w->nctrack == 1024)
		return NULL;
	struct cat_track *c = &w->ctrack[w->nctrack++];
	memset(c, 0, sizeof(*c));
	c->sensor = sensor;
	snprintf(c->cat, sizeof(c->cat), "%s", cat);
	return c;
}

static int wanted(const struct watch *w, const char *cat)
{
	if (!w->ncats)
		return 1;
	for (int i = 0; i < w->ncats; i++)
		if (!strcmp(w->cats[i], cat))
			return 1;
	return 0;
}

static int print_replayed(void *ud, const Tsf__VerdictBatch *b, const Tsf__Verdict *v)
{
	struct watch *w = ud;
	/* Through a relay, --replay names one sensor's journal: never print
	 * another sensor's verdicts as if they were the missing ones. */
	if (w->replay_for && strcmp(b->sensor, w->replay_for)) {
		w->foreign++;
		return 0;
	}
	print_verdict(v, w->fmt, &w->bad);
	w->recovered++;
	return 0;
}

/* Fetches (from, to) exclusive of both ends for one category (or all). */
static void fill_gap(struct watch *w, const char *sensor, uint64_t from, uint64_t to,
                     const char *cat)
{
	char err[512];
	uint64_t gone = 0, before = w->recovered, foreign = w->foreign;
	w->replay_for = sensor;
	if (bus_replay_fetch(w->ctx, w->replay_ep, &w->keys, from, to, cat, 10000, print_replayed,
	                     w, &gone, err, sizeof(err)))
		fprintf(stderr, "watch: replay from %s failed: %s\n", sensor, err);
	else
		fprintf(stderr, "watch: %s: recovered %" PRIu64 " verdicts from the journal\n",
		        sensor, w->recovered - before);
	if (gone) {
		w->lost += gone;
		fprintf(stderr, "watch: %s: %" PRIu64 " verdicts no longer in the journal\n",
		        sensor, gone);
	}
	if (w->foreign > foreign)
		fprintf(stderr,
		        "watch: %s: the replay endpoint serves another sensor's journal "
		        "(%" PRIu64 " verdicts ignored)\n",
		        sensor, w->foreign - foreign);
	w->replay_for = NULL;
}

/* --from: what a sensor published before we were subscribed (a subscriber
 * only gets what is sent after its subscription reached the sensor) comes
 * from the journal, once per sensor, before anything live is printed. */
static void catch_up(struct watch *w, struct sensor_track *s, uint64_t upto)
{
	if (s->caught_up || !w->from || !w->replay_ep)
		return;
	s->caught_up = 1;
	if (upto < w->from)
		return;
	if (!w->ncats) {
		fill_gap(w, s->name, w->from, upto, NULL);
		return;
	}
	for (int i = 0; i < w->ncats; i++)
		fill_gap(w, s->name, w->from, upto, w->cats[i]);
}

static void on_batch(struct watch *w, const Tsf__VerdictBatch *b)
{
	w->batches++;
	if (b->schema > BUS_SCHEMA && w->batches == 1)
		fprintf(stderr,
		        "watch: sensor schema %u is newer than ours (%d): unknown fields "
		        "ignored\n",
		        b->schema, BUS_SCHEMA);
	int si = sensor_idx(w, b->sensor);
	struct sensor_track *s = si >= 0 ? &w->sensors[si] : NULL;
	if (s && s->epoch && s->epoch != b->epoch)
		fprintf(stderr, "watch: sensor %s restarted\n", b->sensor);
	if (s && b->queue_dropped > s->qdrop) {
		if (s->epoch == b->epoch) {
			uint64_t d = b->queue_dropped - s->qdrop;
			w->qdrop += d;
			fprintf(stderr,
			        "watch: %s: %" PRIu64 " verdicts lost in the sensor's queue "
			        "(never numbered, not recoverable)\n",
			        b->sensor, d);
		}
		s->qdrop = b->queue_dropped;
	}
	if (s)
		s->epoch = b->epoch;
	if (s && b->n_verdicts)
		catch_up(w, s, b->verdicts[0]->seq - 1);
	for (size_t i = 0; i < b->n_verdicts; i++) {
		const Tsf__Verdict *v = b->verdicts[i];
		/* A topic prefix may cover more than asked (sanitized names):
		 * the category field is what counts. */
		if (!wanted(w, v->category))
			continue;
		uint64_t miss = 0, prev = 0;
		if (s && !w->ncats) {
			prev = s->seq.next;
			miss = bus_seq_see(&s->seq, b->epoch, v->seq);
		} else if (s) {
			struct cat_track *c = cat_idx(w, si, v->category);
			if (c) {
				uint64_t e0 = c->seq.epoch;
				miss = bus_seq_see(&c->seq, b->epoch, v->cat_seq);
				prev = e0 == b->epoch ? c->last_seq + 1 : 0;
				c->last_seq = v->seq;
			}
		}
		if (miss) {
			w->gaps++;
			w->missing += miss;
			fprintf(stderr,
			        "watch: gap: %s: %" PRIu64 " verdicts missing before seq %" PRIu64
			        "%s%s\n",
			        b->sensor, miss, v->seq, w->ncats ? " in category " : "",
			        w->ncats ? v->category : "");
			if (w->replay_ep && prev && prev < v->seq)
				fill_gap(w, b->sensor, prev, v->seq - 1,
				         w->ncats ? v->category : NULL);
		}
		print_verdict(v, w->fmt, &w->bad);
		w->verdicts++;
	}
}

static void on_stats(struct watch *w, const Tsf__Stats *st)
{
	w->stats_msgs++;
	/* Stats follow the batches on the same pipe, so last_seq beyond what we
	 * saw means the tail of a burst was lost: no later verdict would show
	 * it.  (Not under a category filter: last_seq counts all categories.) */
	int si = sensor_idx(w, st->sensor);
	struct sensor_track *s = si >= 0 ? &w->sensors[si] : NULL;
	if (s && !s->seq.next && !s->caught_up && w->from) {
		/* Nothing live from it yet: everything up to last_seq is history. */
		catch_up(w, s, st->last_seq);
		if (!w->ncats) {
			s->seq.epoch = st->epoch;
			s->seq.next = st->last_seq + 1;
		}
		return;
	}
	if (w->ncats)
		s = NULL;
	if (s && s->seq.next && s->seq.epoch == st->epoch && st->last_seq >= s->seq.next) {
		uint64_t miss = st->last_seq - s->seq.next + 1, from = s->seq.next;
		w->gaps++;
		w->missing += miss;
		s->seq.gaps++;
		s->seq.missing += miss;
		s->seq.next = st->last_seq + 1;
		fprintf(stderr,
		        "watch: gap: %s: %" PRIu64 " verdicts missing up to seq %" PRIu64 "\n",
		        st->sensor, miss, st->last_seq);
		if (w->replay_ep)
			fill_gap(w, st->sensor, from, st->last_seq, NULL);
	}
	if (!w->show_stats)
		return;
	fprintf(stderr, "stats %s last_seq=%" PRIu64, st->sensor, st->last_seq);
	for (size_t i = 0; i < st->n_counters; i++)
		if (st->counters[i]->value)
			fprintf(stderr, " %s=%" PRIu64, st->counters[i]->key,
			        st->counters[i]->value);
	fputc('\n', stderr);
}

static void watch_usage(FILE *f)
{
	fprintf(f,
	        "usage: tapsift watch ENDPOINT... [options]\n"
	        "Subscribes to one or more sensors (or relays) and prints their verdicts as\n"
	        "`tapsift scan` does.  Sequence gaps are reported on stderr and in the exit\n"
	        "summary; with --replay they are fetched from the sensor's journal.\n\n"
	        "  --category C            only category C (repeatable)\n"
	        "  --format json|text      output format (default json lines)\n"
	        "  --stats                 print the sensors' Stats messages on stderr\n"
	        "  --count N               exit after N verdicts (live + recovered)\n"
	        "  --timeout SEC           exit after SEC seconds without a message (0: never)\n"
	        "  --replay EP             fill gaps from this replay endpoint\n"
	        "  --from SEQ              with --replay: also fetch what each sensor published\n"
	        "                          from SEQ on before we subscribed\n"
	        "  --hwm N                 receive high-water mark in messages (default 100000)\n"
	        "  --curve-server-key K    the sensor's public key (file or Z85): enables CURVE\n"
	        "  --curve-key FILE        our secret key (default: a fresh one per run)\n"
	        "  --gen-key PATH          write a new key pair to PATH and PATH.pub, then exit\n"
	        "  -h, --help              this help\n\n"
	        "ENDPOINT: tcp://host:port or ipc://path ('@' prefix binds instead of\n"
	        "connecting).  Exit status: 0 ok (gaps are reported, not fatal), 1 socket\n"
	        "error or --count not reached before --timeout, 2 usage.\n");
}

int cmd_watch(int argc, char **argv)
{
	static struct watch w; /* big tables: not on the stack */
	memset(&w, 0, sizeof(w));
	w.fmt = VFMT_JSON;
	const char *eps[64], *cats[64];
	int neps = 0, hwm = 100000;
	uint64_t count = 0, timeout_s = 0;
	char srvkey[41], mykey[41];
	const char *v;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			watch_usage(stdout);
			return EXIT_OK;
		} else if ((v = optval(argc, argv, &i, "--category", "watch"))) {
			if (w.ncats < 64)
				cats[w.ncats++] = v;
		} else if ((v = optval(argc, argv, &i, "--format", "watch"))) {
			if (!strcmp(v, "json"))
				w.fmt = VFMT_JSON;
			else if (!strcmp(v, "text"))
				w.fmt = VFMT_TEXT;
			else {
				fprintf(stderr, "tapsift watch: --format json|text\n");
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--stats")) {
			w.show_stats = 1;
		} else if ((v = optval(argc, argv, &i, "--count", "watch"))) {
			count = parse_u64(v, "--count", "watch");
		} else if ((v = optval(argc, argv, &i, "--timeout", "watch"))) {
			timeout_s = parse_u64(v, "--timeout", "watch");
		} else if ((v = optval(argc, argv, &i, "--replay", "watch"))) {
			w.replay_ep = v;
		} else if ((v = optval(argc, argv, &i, "--from", "watch"))) {
			w.from = parse_u64(v, "--from", "watch");
			if (!w.from) {
				fprintf(stderr, "tapsift watch: --from must be >= 1\n");
				return EXIT_USAGE;
			}
		} else if ((v = optval(argc, argv, &i, "--hwm", "watch"))) {
			hwm = (int)parse_u64(v, "--hwm", "watch");
		} else if ((v = optval(argc, argv, &i, "--curve-server-key", "watch"))) {
			if (key_arg(v, srvkey, "watch"))
				return EXIT_USAGE;
			w.keys.server_pub = srvkey;
		} else if ((v = optval(argc, argv, &i, "--curve-key", "watch"))) {
			if (key_arg(v, mykey, "watch"))
				return EXIT_USAGE;
			w.keys.secret = mykey;
		} else if ((v = optval(argc, argv, &i, "--gen-key", "watch"))) {
			char err[512];
			if (bus_keygen(v, err, sizeof(err))) {
				fprintf(stderr, "tapsift watch: %s\n", err);
				return EXIT_FAIL;
			}
			printf("wrote %s (secret) and %s.pub (public)\n", v, v);
			return EXIT_OK;
		} else if (a[0] == '-') {
			fprintf(stderr, "tapsift watch: unknown option '%s' (see --help)\n", a);
			return EXIT_USAGE;
		} else if (neps < 64) {
			eps[neps++] = a;
		}
	}
	if (!neps) {
		watch_usage(stderr);
		return EXIT_USAGE;
	}
	if (w.from && !w.replay_ep) {
		fprintf(stderr, "tapsift watch: --from needs --replay\n");
		return EXIT_USAGE;
	}
	if (w.keys.secret && !w.keys.server_pub) {
		fprintf(stderr, "tapsift watch: --curve-key needs --curve-server-key\n");
		return EXIT_USAGE;
	}
	w.cats = cats;
	catch_signals();
	w.ctx = zmq_ctx_new();
	void *sub = zmq_socket(w.ctx, ZMQ_SUB);
	int zero = 0;
	int64_t maxin = BUS_FRAME_MAX;
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &maxin, sizeof(maxin));
	if (w.keys.server_pub && bus_curve_client(sub, w.keys.server_pub, w.keys.secret)) {
		fprintf(stderr, "tapsift watch: CURVE: %s\n", zmq_strerror(errno));
		return EXIT_USAGE;
	}
	if (w.ncats) {
		for (int i = 0; i < w.ncats; i++) {
			char t[BUS_TOPIC_MAX];
			size_t n = bus_topic(t, sizeof(t), cats[i]);
			zmq_setsockopt(sub, ZMQ_SUBSCRIBE, t, n);
		}
	} else {
		zmq_setsockopt(sub, ZMQ_SUBSCRIBE, BUS_TOPIC_VERDICT, strlen(BUS_TOPIC_VERDICT));
	}
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, BUS_TOPIC_STATS, strlen(BUS_TOPIC_STATS));
	for (int i = 0; i < neps; i++)
		if (bus_attach(sub, eps[i], 0)) {
			fprintf(stderr, "tapsift watch: %s: %s\n", eps[i], zmq_strerror(errno));
			zmq_close(sub);
			zmq_ctx_term(w.ctx);
			return EXIT_FAIL;
		}
	int rc = EXIT_OK;
	uint64_t idle_since = bus_mono_ns();
	zmq_msg_t topic, body;
	struct bus_arena arena;
	bus_arena_init(&arena);
	zmq_msg_init(&topic);
	zmq_msg_init(&body);
	while (!stop_flag && (!count || w.verdicts + w.recovered < count)) {
		zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
		int n = zmq_poll(&it, 1, 200);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "tapsift watch: %s\n", zmq_strerror(errno));
			rc = EXIT_FAIL;
			break;
		}
		if (n <= 0) {
			if (timeout_s && bus_mono_ns() - idle_since > timeout_s * 1000000000u) {
				if (count)
					rc = EXIT_FAIL;
				break;
			}
			continue;
		}
		idle_since = bus_mono_ns();
		if (zmq_msg_recv(&topic, sub, ZMQ_DONTWAIT) < 0)
			continue;
		if (!zmq_msg_more(&topic)) {
			w.bad++; /* a single frame: not ours */
			continue;
		}
		zmq_msg_recv(&body, sub, 0);
		while (zmq_msg_more(&body)) { /* extra frames: drain, count */
			w.bad++;
			zmq_msg_recv(&body, sub, 0);
		}
		const char *t = zmq_msg_data(&topic);
		size_t tl = zmq_msg_size(&topic);
		if (tl == strlen(BUS_TOPIC_STATS) && !memcmp(t, BUS_TOPIC_STATS, tl)) {
			Tsf__Stats *st =
			    tsf__stats__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
			if (st) {
				on_stats(&w, st);
				tsf__stats__free_unpacked(st, NULL);
			} else {
				w.bad++;
			}
			continue;
		}
		Tsf__VerdictBatch *b =
		    bus_batch_unpack(&arena, zmq_msg_data(&body), zmq_msg_size(&body));
		if (!b) {
			w.bad++;
			bus_arena_reset(&arena);
			continue;
		}
		on_batch(&w, b);
		bus_arena_reset(&arena);
		fflush(stdout);
	}
	fflush(stdout);
	zmq_msg_close(&topic);
	zmq_msg_close(&body);
	bus_arena_free(&arena);
	fprintf(stderr,
	        "watch: %" PRIu64 " verdicts in %" PRIu64
	        " batches from %d sensor(s); gaps %" PRIu64 " (%" PRIu64
	        " missing), recovered %" PRIu64 ", not recoverable %" PRIu64
	        ", sensor queue drops %" PRIu64 ", bad messages %" PRIu64 "\n",
	        w.verdicts, w.batches, w.nsensors, w.gaps, w.missing, w.recovered, w.lost, w.qdrop,
	        w.bad);
	zmq_close(sub);
	zmq_ctx_term(w.ctx);
	return rc;
}

/* --- relay ------------------------------------------------------------- */

static void relay_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: tapsift relay --in EP [--in EP]... --out EP [options]\n"
	    "Forwards verdicts from many sensors to many consumers (XSUB -> XPUB);\n"
	    "subscriptions travel upstream, so sensors send only what someone wants.\n"
	    "Either side may restart: ZeroMQ reconnects.\n\n"
	    "  --in EP                 a sensor (connect) or, with '*' or '@', a bound\n"
	    "                          endpoint sensors connect to (--publish '>EP')\n"
	    "  --out EP                where consumers connect (bound)\n"
	    "  --hwm N                 high-water mark per peer (default 100000)\n"
	    "  --curve-server-key K    upstream sensors' public key (file or Z85)\n"
	    "  --curve-key FILE        our secret key towards upstream\n"
	    "  --curve-secret FILE     serve downstream with CURVE using this secret key\n"
	    "  --curve-allow FILE      downstream client public keys admitted\n"
	    "  -h, --help              this help\n\n"
	    "Drops at a stalled consumer are counted and reported on exit (consumers see\n"
	    "them as gaps and can replay from the sensor).  Exit: 0, 1 socket error, 2 usage.\n");
}

int cmd_relay(int argc, char **argv)
{
	const char *ins[64], *out = NULL, *allow = NULL, *v;
	int nin = 0, hwm = 0;
	char srvkey[41], mykey[41], outkey[41];
	struct bus_relay_config c;
	memset(&c, 0, sizeof(c));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			relay_usage(stdout);
			return EXIT_OK;
		} else if ((v = optval(argc, argv, &i, "--in", "relay"))) {
			if (nin < 64)
				ins[nin++] = v;
		} else if ((v = optval(argc, argv, &i, "--out", "relay"))) {
			out = v;
		} else if ((v = optval(argc, argv, &i, "--hwm", "relay"))) {
			hwm = (int)parse_u64(v, "--hwm", "relay");
		} else if ((v = optval(argc, argv, &i, "--curve-server-key", "relay"))) {
			if (key_arg(v, srvkey, "relay"))
				return EXIT_USAGE;
			c.in_server_key = srvkey;
		} else if ((v = optval(argc, argv, &i, "--curve-key", "relay"))) {
			if (key_arg(v, mykey, "relay"))
				return EXIT_USAGE;
			c.in_client_key = mykey;
		} else if ((v = optval(argc, argv, &i, "--curve-secret", "relay"))) {
			if (key_arg(v, outkey, "relay"))
				return EXIT_USAGE;
			c.out_secret_key = outkey;
		} else if ((v = optval(argc, argv, &i, "--curve-allow", "relay"))) {
			allow = v;
		} else {
			fprintf(stderr, "tapsift relay: unknown argument '%s' (see --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (!nin || !out) {
		relay_usage(stderr);
		return EXIT_USAGE;
	}
	if (allow && !c.out_secret_key) {
		fprintf(stderr, "tapsift relay: --curve-allow needs --curve-secret\n");
		return EXIT_USAGE;
	}
	c.in = ins;
	c.n_in = nin;
	c.out = out;
	c.hwm = hwm;
	catch_signals();
	void *ctx = zmq_ctx_new();
	char err[512];
	struct bus_zap *zap = NULL;
	if (c.out_secret_key && !(zap = bus_zap_start(ctx, allow, err, sizeof(err)))) {
		fprintf(stderr, "tapsift relay: %s\n", err);
		zmq_ctx_term(ctx);
		return EXIT_USAGE;
	}
	struct bus_relay_stats st = {0};
	int rc = bus_relay_run(ctx, &c, &stop_flag, &st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "tapsift relay: %s\n", err);
	fprintf(stderr,
	        "relay: %" PRIu64 " messages (%" PRIu64 " bytes), %" PRIu64
	        " dropped at a full consumer, %" PRIu64 " subscription messages, %" PRIu64
	        " denied\n",
	        st.messages, st.bytes, st.dropped, st.subscriptions, bus_zap_denied(zap));
	bus_zap_stop(zap);
	zmq_ctx_term(ctx);
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* --- replay ------------------------------------------------------------ */

struct replay_out {
	enum verdict_format fmt;
	uint64_t n, bad;
};

static int replay_print(void *ud, const Tsf__VerdictBatch *b, const Tsf__Verdict *v)
{
	struct replay_out *o = ud;
	(void)b;
	print_verdict(v, o->fmt, &o->bad);
	o->n++;
	return 0;
}

/* replay --journal: the same requests, answered in process from a journal
 * directory opened read-only (a stopped sensor's, or a running one's). */
static int replay_local(const char *dir, uint64_t from, uint64_t to, const char *cat,
                        struct replay_out *o, uint64_t *gone, char *err, size_t errlen)
{
	struct journal_config jc = {.dir = dir, .readonly = 1};
	struct journal *j = journal_open(&jc, err, errlen);
	if (!j)
		return -1;
	int rc = -1;
	uint64_t next = from;
	for (;;) {
		Tsf__ReplayRequest q = TSF__REPLAY_REQUEST__INIT;
		q.schema = BUS_SCHEMA;
		q.from_seq = next;
		q.to_seq = to;
		q.category = (char *)(cat ? cat : "");
		uint8_t qb[256], *ans = NULL;
		int status;
		size_t n =
		    journal_replay_answer(j, qb, tsf__replay_request__pack(&q, qb), &ans, &status);
		Tsf__ReplayReply *r = n ? tsf__replay_reply__unpack(NULL, n, ans) : NULL;
		free(ans);
		if (!r) {
			snprintf(err, errlen, "out of memory");
			break;
		}
		if (r->status == TSF__REPLAY_REPLY__STATUS__GONE && r->next_seq > next) {
			uint64_t upto = to && r->next_seq > to + 1 ? to + 1 : r->next_seq;
			*gone += upto - next;
			next = r->next_seq;
			tsf__replay_reply__free_unpacked(r, NULL);
			if (to && next > to) {
				rc = 0;
				break;
			}
			continue;
		}
		if (r->status != TSF__REPLAY_REPLY__STATUS__OK) {
			snprintf(err, errlen, "%s: %s", dir, r->error);
			tsf__replay_reply__free_unpacked(r, NULL);
			break;
		}
		for (size_t k = 0; k < r->n_batches; k++)
			for (size_t i = 0; i < r->batches[k]->n_verdicts; i++)
				replay_print(o, r->batches[k], r->batches[k]->verdicts[i]);
		int done = r->done || r->next_seq <= next;
		next = r->next_seq;
		tsf__replay_reply__free_unpacked(r, NULL);
		if (done) {
			rc = 0;
			break;
		}
	}
	journal_close(j);
	return rc;
}

static void replay_usage(FILE *f)
{
	fprintf(f,
	        "usage: tapsift replay ENDPOINT --from SEQ [options]\n"
	        "       tapsift replay --journal DIR --from SEQ [options]\n"
	        "Fetches verdicts by sequence number from a sensor's journal (its\n"
	        "--replay endpoint) and prints them as `tapsift scan` does.\n\n"
	        "  --from SEQ              first sequence number (>= 1)\n"
	        "  --to SEQ                last one, inclusive (default: the newest)\n"
	        "  --journal DIR           read a journal directory instead (read-only; the\n"
	        "                          sensor may be running or stopped)\n"
	        "  --category C            only this category\n"
	        "  --format json|text      output format (default json lines)\n"
	        "  --timeout SEC           give up when the sensor does not answer (default 10)\n"
	        "  --curve-server-key K    the sensor's public key (file or Z85): enables CURVE\n"
	        "  --curve-key FILE        our secret key (default: a fresh one)\n"
	        "  -h, --help              this help\n\n"
	        "Verdicts already rotated out of the journal are reported on stderr.\n"
	        "Exit: 0 served, 1 no answer / refused, 2 usage.\n");
}

int cmd_replay(int argc, char **argv)
{
	const char *ep = NULL, *cat = NULL, *jdir = NULL, *v;
	uint64_t from = 0, to = 0, timeout_s = 10;
	char srvkey[41], mykey[41];
	struct bus_client_keys keys = {NULL, NULL};
	struct replay_out o = {VFMT_JSON, 0, 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			replay_usage(stdout);
			return EXIT_OK;
		} else if ((v = optval(argc, argv, &i, "--from", "replay"))) {
			from = parse_u64(v, "--from", "replay");
		} else if ((v = optval(argc, argv, &i, "--to", "replay"))) {
			to = parse_u64(v, "--to", "replay");
		} else if ((v = optval(argc, argv, &i, "--category", "replay"))) {
			cat = v;
		} else if ((v = optval(argc, argv, &i, "--format", "replay"))) {
			if (!strcmp(v, "json"))
				o.fmt = VFMT_JSON;
			else if (!strcmp(v, "text"))
				o.fmt = VFMT_TEXT;
			else {
				fprintf(stderr, "tapsift replay: --format json|text\n");
				return EXIT_USAGE;
			}
		} else if ((v = optval(argc, argv, &i, "--timeout", "replay"))) {
			timeout_s = parse_u64(v, "--timeout", "replay");
		} else if ((v = optval(argc, argv, &i, "--curve-server-key", "replay"))) {
			if (key_arg(v, srvkey, "replay"))
				return EXIT_USAGE;
			keys.server_pub = srvkey;
		} else if ((v = optval(argc, argv, &i, "--curve-key", "replay"))) {
			if (key_arg(v, mykey, "replay"))
				return EXIT_USAGE;
			keys.secret = mykey;
		} else if ((v = optval(argc, argv, &i, "--journal", "replay"))) {
			jdir = v;
		} else if (a[0] == '-') {
			fprintf(stderr, "tapsift replay: unknown option '%s' (see --help)\n", a);
			return EXIT_USAGE;
		} else if (!ep) {
			ep = a;
		} else {
			fprintf(stderr, "tapsift replay: one endpoint only\n");
			return EXIT_USAGE;
		}
	}
	if (!!ep == !!jdir || !from) {
		replay_usage(stderr);
		return EXIT_USAGE;
	}
	if (to && to < from) {
		fprintf(stderr, "tapsift replay: --to is before --from\n");
		return EXIT_USAGE;
	}
	if (timeout_s == 0 || timeout_s > 86400)
		timeout_s = 10;
	signal(SIGPIPE, SIG_IGN);
	char err[512];
	uint64_t gone = 0;
	if (jdir) {
		int rc = replay_local(jdir, from, to, cat, &o, &gone, err, sizeof(err));
		fflush(stdout);
		if (rc)
			fprintf(stderr, "tapsift replay: %s\n", err);
		if (gone)
			fprintf(stderr,
			        "replay: %" PRIu64 " verdicts are no longer in the journal\n",
			        gone);
		fprintf(stderr, "replay: %" PRIu64 " verdicts\n", o.n);
		return rc ? EXIT_FAIL : EXIT_OK;
	}
	void *ctx = zmq_ctx_new();
	int rc = bus_replay_fetch(ctx, ep, &keys, from, to, cat, (int)timeout_s * 1000,
	                          replay_print, &o, &gone, err, sizeof(err));
	fflush(stdout);
	if (rc)
		fprintf(stderr, "tapsift replay: %s\n", err);
	if (gone)
		fprintf(stderr, "replay: %" PRIu64 " verdicts are no longer in the journal\n",
		        gone);
	fprintf(stderr, "replay: %" PRIu64 " verdicts\n", o.n);
	zmq_ctx_term(ctx);
	return rc ? EXIT_FAIL : EXIT_OK;
}
