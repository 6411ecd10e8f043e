/* cmd_run.c - `tapsift run`: live capture through eBPF into the engine.
 *
 * The kernel program (ebpf/capture.bpf.c) samples and copies payloads; this
 * command loads it, polls its ring buffer on the main thread, hands every
 * record to the engine as a tsf_pkt and prints verdicts and stats.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture_bpf.h"
#include "cli.h"
#include "stats.h"

enum debug_mode { DBG_NONE, DBG_COUNT, DBG_DUMP };

struct run {
	struct capture_bpf *cap;
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
		"usage: tapsift run --iface IF [--iface IF ...] --rules PATH [options]\n"
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
		"                      direction (suffixes k, m; default unlimited)\n"
		"  --ports LIST        only flows with a port in LIST, e.g. 80,8080,8000-8100;\n"
		"                      !P excludes port P (e.g. --ports '!22,!443')\n"
		"  --ring-size BYTES   ring buffer size, power of two (default 4m)\n"
		"  --rate BYTES        per-CPU token bucket: payload bytes/s copied (default off)\n"
		"  --burst BYTES       token bucket depth (default rate/10)\n"
		"  --wake BYTES        wake userspace once this much is queued (default ring/4)\n"
		"  --poll-ms N         poll timeout, bounds latency at low rates (default 100)\n"
		"  --max-flows N       entries in the kernel's budget and bypass maps (65536)\n"
		"  --xdp[=MODE]        capture ingress with XDP, MODE native (default) or generic\n"
		"  --attach MODE       auto (default), tcx or clsact\n"
		"  --no-bypass         do not bypass TLS flows (by default a TCP flow that\n"
		"                      starts with a TLS record is put in the bypass map)\n"
		"  --duration S        stop after S seconds\n"
		"  --prog-stats        measure the BPF program's ns per packet\n"
		"\n"
		"matching:\n"
		"  --rules PATH        rules file or directory\n"
		"  --format json|text  verdict output (default json)\n"
		"  --threads N         engine workers (default: one per CPU)\n"
		"\n"
		"debugging (no engine, no rules):\n"
		"  --debug count|dump  count records, or print one line per record\n"
		"  --slow-us N         sleep N us per record (tests the overload accounting)\n"
		"\n"
		"exit status: 0 ok, 1 runtime failure, 2 usage or rule error\n",
		CAPTURE_BPF_MAX_IFACES);
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
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
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
	printf("rec if=%u %s %s %s%s%s:%u > %s%s%s:%u seq=%u flags=0x%02x off=%u len=%u pkt=%u%s%s ",
	       r->ifindex, r->dir ? "egress" : "ingress", p->proto == TSF_PROTO_TCP ? "tcp" : "udp",
	       p->ipver == 6 ? "[" : "", s, p->ipver == 6 ? "]" : "", p->sport,
	       p->ipver == 6 ? "[" : "", d, p->ipver == 6 ? "]" : "", p->dport, p->seq,
	       p->tcp_flags, r->off, r->len, r->pkt_len,
	       r->rec_flags & TSF_CAP_F_BUDGET_CUT ? " budget-cut" : "",
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
	if (run->debug == DBG_DUMP)
		dump_rec(p, r, run->dump_max);
	if (run->slow_us)
		usleep(run->slow_us);
}

static void print_stats(struct run *run, FILE *f)
{
	struct tsf_stats st;
	uint64_t cnt, ns;

	memset(&st, 0, sizeof(st));
	capture_bpf_stats(run->cap, &st);
	/* Capture counters always (tests and scripts read them), engine
	 * counters when non-zero. */
#define RUN_STATS_PRINT(name, desc)                                                                \
	if (!strncmp(#name, "bpf_", 4) || st.name)                                                 \
		fprintf(f, "  %-22s %12" PRIu64 "\n", #name, st.name);
	TSF_STATS(RUN_STATS_PRINT)
#undef RUN_STATS_PRINT
	fprintf(f, "  %-22s %12" PRIu64 "\n", "tls_flows_bypassed", run->tls_bypassed);
	if (capture_bpf_prog_runtime(run->cap, &cnt, &ns) == 0 && cnt)
		fprintf(f, "  %-22s %12" PRIu64 "\n  %-22s %12.1f\n", "bpf_prog_runs", cnt,
			"bpf_prog_ns_per_run", (double)ns / (double)cnt);
	fflush(f);
}

int cmd_run(int argc, char **argv)
{
	static struct capture_bpf_opts o; /* 16 KiB of port bitmaps: not on the stack */
	struct run run = {.bypass_tls = 1, .dump_max = 64};
	const char *rules = NULL;
	uint64_t v;
	double duration = 0;
	int poll_ms = 100;
	char err[256];

	enum {
		O_IFACE = 256, O_RULES, O_SAMPLE, O_SEED, O_FLOW_BYTES, O_PORTS, O_FORMAT,
		O_RING, O_THREADS, O_XDP, O_ATTACH, O_RATE, O_BURST, O_WAKE, O_POLL, O_MAXFLOWS,
		O_NOBYPASS, O_DURATION, O_PROGSTATS, O_DEBUG, O_SLOW, O_HELP,
	};
	static const struct option lopts[] = {
		{"iface", required_argument, 0, O_IFACE},
		{"rules", required_argument, 0, O_RULES},
		{"sample", required_argument, 0, O_SAMPLE},
		{"seed", required_argument, 0, O_SEED},
		{"flow-bytes", required_argument, 0, O_FLOW_BYTES},
		{"ports", required_argument, 0, O_PORTS},
		{"format", required_argument, 0, O_FORMAT},
		{"ring-size", required_argument, 0, O_RING},
		{"threads", required_argument, 0, O_THREADS},
		{"xdp", optional_argument, 0, O_XDP},
		{"attach", required_argument, 0, O_ATTACH},
		{"rate", required_argument, 0, O_RATE},
		{"burst", required_argument, 0, O_BURST},
		{"wake", required_argument, 0, O_WAKE},
		{"poll-ms", required_argument, 0, O_POLL},
		{"max-flows", required_argument, 0, O_MAXFLOWS},
		{"no-bypass", no_argument, 0, O_NOBYPASS},
		{"duration", required_argument, 0, O_DURATION},
		{"prog-stats", no_argument, 0, O_PROGSTATS},
		{"debug", required_argument, 0, O_DEBUG},
		{"slow-us", required_argument, 0, O_SLOW},
		{"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};

	capture_bpf_opts_default(&o);
	optind = 1;
	for (;;) {
		int c = getopt_long(argc, argv, "h", lopts, NULL);
		if (c == -1)
			break;
		switch (c) {
		case O_IFACE:
			if (o.n_ifaces >= CAPTURE_BPF_MAX_IFACES) {
				fprintf(stderr, "tapsift run: at most %d --iface\n",
					CAPTURE_BPF_MAX_IFACES);
				return EXIT_USAGE;
			}
			o.ifaces[o.n_ifaces++] = optarg;
			break;
		case O_RULES:
			rules = optarg;
			break;
		case O_SAMPLE:
			if (parse_sample(optarg, &o.sample_n))
				goto bad;
			break;
		case O_SEED:
			o.sample_seed = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case O_FLOW_BYTES:
			if (parse_size(optarg, &o.flow_bytes))
				goto bad;
			break;
		case O_PORTS:
			if (parse_ports(optarg, &o))
				goto bad;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				goto bad;
			break;
		case O_RING:
			if (parse_size(optarg, &v) || v > (1u << 30))
				goto bad;
			o.ring_size = (uint32_t)v;
			break;
		case O_THREADS:
			break;
		case O_XDP:
			if (!optarg || !strcmp(optarg, "native"))
				o.xdp = CAPTURE_XDP_NATIVE;
			else if (!strcmp(optarg, "generic"))
				o.xdp = CAPTURE_XDP_GENERIC;
			else
				goto bad;
			break;
		case O_ATTACH:
			if (!strcmp(optarg, "auto"))
				o.attach = CAPTURE_ATTACH_AUTO;
			else if (!strcmp(optarg, "tcx"))
				o.attach = CAPTURE_ATTACH_TCX;
			else if (!strcmp(optarg, "clsact"))
				o.attach = CAPTURE_ATTACH_CLSACT;
			else
				goto bad;
			break;
		case O_RATE:
			if (parse_size(optarg, &o.tb_rate))
				goto bad;
			break;
		case O_BURST:
			if (parse_size(optarg, &o.tb_burst))
				goto bad;
			break;
		case O_WAKE:
			if (parse_size(optarg, &o.wake_bytes))
				goto bad;
			break;
		case O_POLL:
			poll_ms = atoi(optarg);
			if (poll_ms < 1 || poll_ms > 10000)
				goto bad;
			break;
		case O_MAXFLOWS:
			if (parse_size(optarg, &v) || v < 1 || v > (1u << 24))
				goto bad;
			o.max_flows = (uint32_t)v;
			break;
		case O_NOBYPASS:
			run.bypass_tls = 0;
			break;
		case O_DURATION:
			duration = atof(optarg);
			if (duration <= 0)
				goto bad;
			break;
		case O_PROGSTATS:
			o.prog_stats = 1;
			break;
		case O_DEBUG:
			if (!strcmp(optarg, "count"))
				run.debug = DBG_COUNT;
			else if (!strcmp(optarg, "dump"))
				run.debug = DBG_DUMP;
			else
				goto bad;
			break;
		case O_SLOW:
			run.slow_us = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tapsift run: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (!o.n_ifaces) {
		fprintf(stderr, "tapsift run: --iface is required\n");
		return EXIT_USAGE;
	}
	if (run.debug == DBG_NONE) {
		if (!rules) {
			fprintf(stderr, "tapsift run: --rules is required (or --debug)\n");
			return EXIT_USAGE;
		}
		fprintf(stderr, "tapsift run: the engine is not in this build yet; use --debug\n");
		return EXIT_FAIL;
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
		return EXIT_FAIL;
	}
	fprintf(stderr, "tapsift run: capturing on");
	for (int i = 0; i < o.n_ifaces; i++)
		fprintf(stderr, " %s", o.ifaces[i]);
	fprintf(stderr, " (%s)\n", capture_bpf_mode(run.cap));

	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = EXIT_OK;
	while (!stop_flag) {
		int n = capture_bpf_poll(run.cap, poll_ms);
		if (n < 0) {
			fprintf(stderr, "tapsift run: ring buffer: %s\n", strerror(-n));
			rc = EXIT_FAIL;
			break;
		}
		if (usr1_flag) {
			usr1_flag = 0;
			print_stats(&run, stderr);
		}
		if (duration > 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 >=
			    duration)
				break;
		}
	}
	/* Whatever the kernel queued before we stop is still counted as
	 * delivered: consume it so delivered == received. */
	while (capture_bpf_poll(run.cap, 0) > 0)
		;
	print_stats(&run, stderr);
	capture_bpf_close(run.cap);
	return rc;
bad:
	fprintf(stderr, "tapsift run: bad value for %s: '%s'\n", argv[optind - 1], optarg);
	return EXIT_USAGE;
}
