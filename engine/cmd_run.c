/* cmd_run.c - `tapsift run`: live capture through eBPF into the engine.
 *
 * The kernel program (ebpf/capture.bpf.c) samples and copies payloads; this
 * command loads it, polls its ring buffer on the main thread, hands every
 * record to the engine as a tsf_pkt and prints verdicts and stats.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture_bpf.h"
#include "cli.h"
#include "engine.h"
#include "setup.h"
#include "stats.h"

enum debug_mode { DBG_NONE, DBG_COUNT, DBG_DUMP };

struct run {
	struct capture_bpf *cap;
	struct engine *engine; /* NULL in --debug modes */
	struct setup *setup;
	enum debug_mode debug;
	unsigned slow_us;
	int bypass_tls;
	uint64_t tls_bypassed;
	uint64_t dump_max; /* payload bytes shown per record in dump mode */
};

static volatile sig_atomic_t stop_flag, usr1_flag;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		usr1_flag = 1;
	else
		stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapsift run --iface IF [--iface IF ...] --rules FILE [options]\n"
	        "\n"
	        "Live capture: an eBPF program on TC ingress+egress of each interface (tcx\n"
	        "link on Linux >= 6.6, else a clsact qdisc) samples TCP/UDP payloads into a\n"
	        "ring buffer; tapsift reassembles, decodes and matches them.  Needs root\n"
	        "(CAP_BPF + CAP_NET_ADMIN).  SIGUSR1 prints stats; SIGINT/SIGTERM stop and\n"
	        "detach.  See docs/live.md.\n"
	        "\n"
	        "capture:\n"
	        "  --iface IF          interface to capture on (repeatable, up to %d)\n"
	        "  --sample 1/N        keep 1 in N flows, both directions (default 1/1)\n"
	        "  --seed N            sampling hash seed: which flows 1/N keeps\n"
	        "  --flow-bytes K      copy only the first K payload bytes of each flow\n"
	        "                      direction (suffixes k, m; default: --stream-depth)\n"
	        "  --ports LIST        only flows with a port in LIST, e.g. 80,8080,8000-8100;\n"
	        "                      !P excludes port P (e.g. --ports '!22,!443')\n"
	        "  --ring-size BYTES   ring buffer size, power of two (default 4m)\n"
	        "  --rate BYTES        per-CPU token bucket: payload bytes/s copied (default off)\n"
	        "  --burst BYTES       token bucket depth (default rate/10)\n"
	        "  --wake BYTES        wake userspace once this much is queued (default ring/4)\n"
	        "  --poll-ms N         poll timeout, bounds latency at low rates (default 100)\n"
	        "  --bpf-flows N       entries in the kernel's budget and bypass maps (65536)\n"
	        "  --xdp[=MODE]        capture ingress with XDP, MODE native (default) or generic\n"
	        "  --attach MODE       auto (default), tcx or clsact\n"
	        "  --no-bypass         do not bypass TLS flows (by default a TCP flow that\n"
	        "                      starts with a TLS record is put in the bypass map)\n"
	        "  --duration S        stop after S seconds\n"
	        "  --prog-stats        measure the BPF program's ns per packet\n"
	        "\n"
	        "engine and verdicts:\n%s"
	        "\n"
	        "live rule updates (docs/bundles.md):\n"
	        "  --control EP        accept pushed bundles (tapsift rules push) on EP\n"
	        "  --rules-dir DIR     load a new or changed *.tsb dropped into DIR\n"
	        "  --allow-rollback    accept a bundle older than the live one\n"
	        "  --control-curve-secret FILE, --control-curve-allow FILE  CURVE on --control\n"
	        "\n"
	        "debugging (no engine, no rules):\n"
	        "  --debug count|dump  count records, or print one line per record\n"
	        "  --slow-us N         sleep N us per record (tests the overload accounting)\n"
	        "\n"
	        "exit status: 0 ok, 1 runtime failure, 2 usage or rule error\n",
	        CAPTURE_BPF_MAX_IFACES, setup_common_help);
}

/* "123", "4k", "16m", "1g" (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* "1/8" or "8". */
static int parse_sample(const char *s, uint32_t *n)
{
	unsigned long v;
	char *end;

	if (!strncmp(s, "1/", 2))
		s += 2;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 1000000)
		return -1;
	*n = (uint32_t)v;
	return 0;
}

static int parse_ports(const char *list, struct capture_bpf_opts *o)
{
	char *dup = strdup(list), *save = NULL;

	if (!dup)
		return -1;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int deny = *tok == '!';
		unsigned long lo, hi;
		char *end;

		if (deny)
			tok++;
		lo = strtoul(tok, &end, 10);
		hi = lo;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (end == tok || *end || lo > 65535 || hi > 65535 || lo > hi) {
			free(dup);
			return -1;
		}
		for (unsigned long p = lo; p <= hi; p++) {
			if (deny)
				o->port_deny[p / 8] |= (uint8_t)(1u << (p % 8));
			else
				o->port_allow[p / 8] |= (uint8_t)(1u << (p % 8));
		}
		if (deny)
			o->have_deny = 1;
		else
			o->have_allow = 1;
	}
	free(dup);
	return 0;
}

static void dump_rec(const struct tsf_pkt *p, const struct tsf_cap_rec *r, uint64_t max)
{
	char s[48], d[48];

	pkt_addr_str(p->ipver, p->src, s, sizeof(s));
	pkt_addr_str(p->ipver, p->dst, d, sizeof(d));
	printf(
	    "rec if=%u %s %s %s%s%s:%u > %s%s%s:%u seq=%u flags=0x%02x off=%u len=%u pkt=%u%s%s ",
	    r->ifindex, r->dir ? "egress" : "ingress", p->proto == TSF_PROTO_TCP ? "tcp" : "udp",
	    p->ipver == 6 ? "[" : "", s, p->ipver == 6 ? "]" : "", p->sport,
	    p->ipver == 6 ? "[" : "", d, p->ipver == 6 ? "]" : "", p->dport, p->seq, p->tcp_flags,
	    r->off, r->len, r->pkt_len, r->rec_flags & TSF_CAP_F_BUDGET_CUT ? " budget-cut" : "",
	    r->rec_flags & TSF_CAP_F_TRUNCATED ? " truncated" : "");
	putchar('"');
	for (uint32_t i = 0; i < p->len && i < max; i++) {
		uint8_t c = p->payload[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\"\n");
}

static void on_pkt(void *ctx, const struct tsf_pkt *p, const struct tsf_cap_rec *r)
{
	struct run *run = ctx;

	/* A TCP flow that opens with a TLS record is ciphertext from here on:
	 * tell the kernel to stop copying it (both directions). */
	if (run->bypass_tls && r->off == 0 && p->proto == TSF_PROTO_TCP && p->len >= 3 &&
	    p->payload[0] == 0x16 && p->payload[1] == 0x03 && p->payload[2] <= 0x04 &&
	    capture_bpf_bypass(run->cap, p) == 0)
		run->tls_bypassed++;
	if (run->engine)
		engine_packet(run->engine, p);
	else if (run->debug == DBG_DUMP)
		dump_rec(p, r, run->dump_max);
	if (run->slow_us)
		usleep(run->slow_us);
}

/* IP fragment records go to the engine's reassembly (defrag.h). */
static void on_frag(void *ctx, const struct tsf_frag *f, uint64_t ts_ns,
                    const struct tsf_cap_rec *r)
{
	struct run *run = ctx;
	char s[48], d[48];

	if (run->engine) {
		engine_fragment(run->engine, f, ts_ns, r->dir);
	} else if (run->debug == DBG_DUMP) {
		pkt_addr_str(f->ipver, f->src, s, sizeof(s));
		pkt_addr_str(f->ipver, f->dst, d, sizeof(d));
		printf("frag if=%u %s ipv%u proto=%u %s > %s id=%u off=%u len=%u%s%s\n", r->ifindex,
		       r->dir ? "egress" : "ingress", f->ipver, f->proto, s, d, f->id, f->offset,
		       f->len, f->more ? " more" : "", f->truncated ? " truncated" : "");
	}
	if (run->slow_us)
		usleep(run->slow_us);
}

static double since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void print_stats(struct run *run, FILE *f, const struct timespec *t0)
{
	struct tsf_stats st;
	uint64_t cnt, ns;

	memset(&st, 0, sizeof(st));
	if (run->engine)
		engine_stats(run->engine, &st); /* approximate while running: fine */
	capture_bpf_stats(run->cap, &st);
	if (run->setup) {
		setup_print_stats(f, run->setup, &st, since(t0));
	} else {
		/* Debug modes: every capture counter, even zero (scripts read them). */
#define RUN_STATS_PRINT(name, desc)                                                                \
	if (!strncmp(#name, "bpf_", 4) || st.name)                                                 \
		fprintf(f, "  %-22s %12" PRIu64 "\n", #name, st.name);
		TSF_STATS(RUN_STATS_PRINT)
#undef RUN_STATS_PRINT
	}
	fprintf(f, "  %-22s %12" PRIu64 "\n", "tls_flows_bypassed", run->tls_bypassed);
	if (capture_bpf_prog_runtime(run->cap, &cnt, &ns) == 0 && cnt)
		fprintf(f, "  %-22s %12" PRIu64 "\n  %-22s %12.1f\n", "bpf_prog_runs", cnt,
		        "bpf_prog_ns_per_run", (double)ns / (double)cnt);
	fflush(f);
}

/* Matches "--name value" and "--name=value"; *val gets the value. */
static int opt_val(const char *name, int argc, char **argv, int *i, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, "--", 2) || strncmp(a + 2, name, n))
		return 0;
	if (a[2 + n] == '=') {
		*val = a + 3 + n;
		return 1;
	}
	if (a[2 + n])
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "tapsift run: %s needs a value\n", a);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

/* Parses the options only `run` has.  1 consumed, 0 not ours, -1 bad. */
static int run_opt(struct capture_bpf_opts *o, struct run *run, int argc, char **argv, int *i,
                   double *duration, int *poll_ms)
{
	const char *a = argv[*i], *v = NULL;
	uint64_t x;
	int r;

	if (!strcmp(a, "--xdp") || !strcmp(a, "--xdp=native")) {
		o->xdp = CAPTURE_XDP_NATIVE;
		return 1;
	}
	if (!strcmp(a, "--xdp=generic")) {
		o->xdp = CAPTURE_XDP_GENERIC;
		return 1;
	}
	if (!strcmp(a, "--no-bypass")) {
		run->bypass_tls = 0;
		return 1;
	}
	if (!strcmp(a, "--prog-stats")) {
		o->prog_stats = 1;
		return 1;
	}
#define VAL(name)                                                                                  \
	if ((r = opt_val(name, argc, argv, i, &v)) < 0)                                            \
		return -1;                                                                         \
	if (r)
#define BAD()                                                                                      \
	do {                                                                                       \
		fprintf(stderr, "tapsift run: bad value for %s: '%s'\n", a, v);                    \
		return -1;                                                                         \
	} while (0)
	VAL("iface")
	{
		if (o->n_ifaces >= CAPTURE_BPF_MAX_IFACES) {
			fprintf(stderr, "tapsift run: at most %d --iface\n",
			        CAPTURE_BPF_MAX_IFACES);
			return -1;
		}
		o->ifaces[o->n_ifaces++] = v;
		return 1;
	}
	VAL("sample")
	{
		if (parse_sample(v, &o->sample_n))
			BAD();
		return 1;
	}
	VAL("seed")
	{
		o->sample_seed = (uint32_t)strtoul(v, NULL, 0);
		return 1;
	}
	VAL("flow-bytes")
	{
		if (parse_size(v, &o->flow_bytes))
			BAD();
		return 1;
	}
	VAL("ports")
	{
		if (parse_ports(v, o))
			BAD();
		return 1;
	}
	VAL("ring-size")
	{
		if (parse_size(v, &x) || x > (1u << 30))
			BAD();
		o->ring_size = (uint32_t)x;
		return 1;
	}
	VAL("attach")
	{
		if (!strcmp(v, "auto"))
			o->attach = CAPTURE_ATTACH_AUTO;
		else if (!strcmp(v, "tcx"))
			o->attach = CAPTURE_ATTACH_TCX;
		else if (!strcmp(v, "clsact"))
			o->attach = CAPTURE_ATTACH_CLSACT;
		else
			BAD();
		return 1;
	}
	VAL("rate")
	{
		if (parse_size(v, &o->tb_rate))
			BAD();
		return 1;
	}
	VAL("burst")
	{
		if (parse_size(v, &o->tb_burst))
			BAD();
		return 1;
	}
	VAL("wake")
	{
		if (parse_size(v, &o->wake_bytes))
			BAD();
		return 1;
	}
	VAL("poll-ms")
	{
		*poll_ms = atoi(v);
		if (*poll_ms < 1 || *poll_ms > 10000)
			BAD();
		return 1;
	}
	VAL("bpf-flows")
	{
		if (parse_size(v, &x) || x < 1 || x > (1u << 24))
			BAD();
		o->max_flows = (uint32_t)x;
		return 1;
	}
	VAL("duration")
	{
		*duration = atof(v);
		if (*duration <= 0)
			BAD();
		return 1;
	}
	VAL("debug")
	{
		if (!strcmp(v, "count"))
			run->debug = DBG_COUNT;
		else if (!strcmp(v, "dump"))
			run->debug = DBG_DUMP;
		else
			BAD();
		return 1;
	}
	VAL("slow-us")
	{
		run->slow_us = (unsigned)strtoul(v, NULL, 10);
		return 1;
	}
#undef VAL
#undef BAD
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static struct capture_bpf_opts o; /* 16 KiB of port bitmaps: not on the stack */
	struct run run = {.bypass_tls = 1, .dump_max = 64};
	struct setup_opts so;
	struct setup s;
	double duration = 0;
	int poll_ms = 100, rc = EXIT_OK;
	char err[256];

	capture_bpf_opts_default(&o);
	setup_opts_default(&so);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		}
		r = run_opt(&o, &run, argc, argv, &i, &duration, &poll_ms);
		if (r == 0)
			r = setup_parse_opt(&so, argc, argv, &i);
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0) {
			fprintf(stderr, "tapsift run: unknown option '%s' (see --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (!o.n_ifaces) {
		fprintf(stderr, "tapsift run: --iface is required\n");
		return EXIT_USAGE;
	}
	/* Bytes past the engine's stream depth would be copied only to be
	 * ignored: the kernel's budget stops them at the source. */
	if (!o.flow_bytes && so.ecfg.stream_depth)
		o.flow_bytes = so.ecfg.stream_depth;
	/* No reassembly: the kernel need not copy fragments either. */
	o.no_ip_frags = so.ecfg.no_defrag;

	memset(&s, 0, sizeof(s));
	if (run.debug == DBG_NONE) {
		/* Live traffic must never wait for a slow subscriber: for_offline 0. */
		rc = setup_init(&s, &so, 0);
		if (rc) {
			setup_free(&s);
			return rc;
		}
		run.setup = &s;
		run.engine = engine_new(&so.ecfg, s.m, s.sink);
		if (!run.engine) {
			fprintf(stderr, "tapsift run: cannot start the engine (out of memory?)\n");
			setup_free(&s);
			return EXIT_FAIL;
		}
		s.engine = run.engine;
		rc = setup_gateway_start(&s, &so);
		if (rc) {
			s.engine = NULL;
			engine_free(run.engine);
			setup_free(&s);
			return rc;
		}
	} else if (run.debug == DBG_DUMP) {
		setvbuf(stdout, NULL, _IOLBF, 0); /* tests watch the dump as it grows */
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the poll must return so the loop sees the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	run.cap = capture_bpf_open(&o, on_pkt, &run, err, sizeof(err));
	if (!run.cap) {
		fprintf(stderr, "tapsift run: %s\n", err);
		rc = EXIT_FAIL;
		goto out;
	}
	capture_bpf_on_fragment(run.cap, on_frag);
	fprintf(stderr, "tapsift run: capturing on");
	for (int i = 0; i < o.n_ifaces; i++)
		fprintf(stderr, " %s", o.ifaces[i]);
	fprintf(stderr, " (%s)\n", capture_bpf_mode(run.cap));

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop_flag) {
		int n = capture_bpf_poll(run.cap, poll_ms);
		if (n < 0) {
			fprintf(stderr, "tapsift run: ring buffer: %s\n", strerror(-n));
			rc = EXIT_FAIL;
			break;
		}
		if (usr1_flag) {
			usr1_flag = 0;
			print_stats(&run, stderr, &t0);
		}
		/* A pushed or dropped-in bundle goes live between two polls: the
		 * swap is a message to the workers, no packet waits for it. */
		if (run.engine)
			setup_poll_swap(&s, run.engine);
		if (duration > 0 && since(&t0) >= duration)
			break;
	}
	/* Detach first, then take what the kernel queued before: everything
	 * it counted as delivered is then received. */
	capture_bpf_detach(run.cap);
	while (capture_bpf_poll(run.cap, 0) > 0)
		;
	if (run.engine) {
		engine_finish(run.engine);
		if (s.sink->flush)
			s.sink->flush(s.sink);
	}
	if (!so.no_stats)
		print_stats(&run, stderr, &t0);
	capture_bpf_close(run.cap);
out:
	if (run.engine) {
		s.engine = NULL;
		engine_free(run.engine);
		setup_free(&s);
	}
	return rc;
}
