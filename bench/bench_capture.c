/* bench_capture.c - live capture: tapsift's eBPF ring buffer against a
 * libpcap (TPACKET_V3) capture, on the same veth traffic.
 *
 * Creates two network namespaces joined by a veth pair (removed at exit),
 * enters side a, and for each workload (UDP with 64/512/1400-byte payloads
 * over 64 flows, bulk TCP over 4 connections) runs the same generator in
 * side b for a fixed time while one capture method consumes on side a:
 * libpcap, the BPF ring buffer, and the BPF ring buffer sampling 1/8 of the
 * flows.  Reports packets/s and payload MB/s delivered to userspace, loss,
 * the consumer's CPU per delivered packet and the BPF program's ns per run
 * (kernel run-time stats).  Writes bench/results/capture.json.
 *
 * usage: bench_capture [seconds-per-case] (needs root; skips otherwise)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "capture_bpf.h"
#include "packet.h"

#define NSA "tsfbench-a"
#define NSB "tsfbench-b"
#define IFA "tsfbencha"
#define IFB "tsfbenchb"
#define A4 "10.200.0.1"
#define B4 "10.200.0.2"
#define UDP_FLOWS 64
#define TCP_FLOWS 16

static double secs_per_case = 3.0;
/* Client ports are fixed per case, so which flows 1/8 keeps is the same
 * from run to run (the sampling hash covers the ports). */
static int port_base = 20000;

static int bind_port(int s, int port)
{
	struct sockaddr_in b = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;

	inet_pton(AF_INET, B4, &b.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	return bind(s, (struct sockaddr *)&b, sizeof(b));
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);
	return rc == 0 ? 0 : -1;
}

static void net_down(void)
{
	if (system("ip netns del " NSA " 2>/dev/null; ip netns del " NSB " 2>/dev/null")) {
	}
}

static void on_sig(int sig)
{
	net_down();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Traffic processes give back the consumer's priority (see main). */
static void child_prio(void)
{
	if (setpriority(PRIO_PROCESS, 0, 0)) {
	}
}

static int enter_ns(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int rc = setns(fd, CLONE_NEWNET);
	close(fd);
	return rc;
}

/* ---- traffic (children) ---- */

static void udp_gen(size_t size, double secs, int report_fd)
{
	int s[UDP_FLOWS];
	char buf[2048];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9000)};
	uint64_t sent = 0;

	inet_pton(AF_INET, A4, &a.sin_addr);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "bench payload ", 14);
	for (int i = 0; i < UDP_FLOWS; i++) {
		s[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (s[i] < 0 || bind_port(s[i], port_base + i) ||
		    connect(s[i], (struct sockaddr *)&a, sizeof(a)))
			_exit(1);
	}
	double end = now_s() + secs;
	for (uint64_t n = 0;; n++) {
		if ((n & 255) == 0 && now_s() >= end)
			break;
		if (send(s[n % UDP_FLOWS], buf, size, 0) == (ssize_t)size)
			sent++;
	}
	if (write(report_fd, &sent, sizeof(sent))) {
	}
	_exit(0);
}

static void tcp_sink(int ls, int conns)
{
	static char buf[1 << 16];
	for (int i = 0; i < conns; i++) {
		if (fork() == 0) {
			child_prio();
			int c = accept(ls, NULL, NULL);
			while (c >= 0 && read(c, buf, sizeof(buf)) > 0)
				;
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void tcp_gen(double secs, int report_fd)
{
	static char buf[1 << 16];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9001)};
	uint64_t sent = 0;

	inet_pton(AF_INET, A4, &a.sin_addr);
	memset(buf, 'y', sizeof(buf));
	for (int i = 0; i < TCP_FLOWS; i++) {
		if (fork() == 0) {
			child_prio();
			int s = socket(AF_INET, SOCK_STREAM, 0);
			uint64_t n = 0;
			if (bind_port(s, port_base + i) ||
			    connect(s, (struct sockaddr *)&a, sizeof(a)))
				_exit(1);
			double end = now_s() + secs;
			while (now_s() < end) {
				ssize_t w = write(s, buf, sizeof(buf));
				if (w <= 0)
					break;
				n += (uint64_t)w;
			}
			close(s);
			if (write(report_fd, &n, sizeof(n))) {
			}
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	(void)sent;
	_exit(0);
}

/* ---- consumers ---- */

struct result {
	const char *workload, *method;
	double secs, cpu;
	uint64_t gen_sent;    /* datagrams (UDP) or bytes (TCP) the generator sent */
	uint64_t pkts, bytes; /* payload-carrying packets / payload bytes delivered */
	uint64_t kernel_seen; /* packets the capture point saw */
	uint64_t drops;       /* counted losses (ring full / pcap drops) */
	int64_t unaccounted;  /* BPF: seen - sum of outcomes; pcap: n/a (-1) */
	double prog_ns;       /* BPF ns per program run */
	uint64_t records;
	uint64_t wakeups; /* BPF forced wakeups */
};

struct count {
	uint64_t pkts, bytes;
};

static void bpf_cb(void *ctx, const struct tsf_pkt *p, const struct tsf_cap_rec *r)
{
	struct count *c = ctx;
	if (r->off == 0 && r->len)
		c->pkts++;
	c->bytes += p->len;
}

static void pcap_cb(u_char *ctx, const struct pcap_pkthdr *h, const u_char *data)
{
	struct count *c = (struct count *)ctx;
	struct tsf_pkt p;
	if (pkt_parse(data, h->caplen, TSF_LINK_ETHERNET, &p) == PKT_OK && p.len) {
		c->pkts++;
		c->bytes += p.len;
	}
}

/* Starts the generator for one workload; returns the pipe the children
 * report to. */
static pid_t start_traffic(const char *workload, int *rfd, pid_t *sink)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	*sink = -1;
	if (!strcmp(workload, "tcp_bulk")) {
		int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9001)};
		inet_pton(AF_INET, A4, &a.sin_addr);
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16))
			return -1;
		*sink = fork();
		if (*sink == 0) {
			child_prio();
			tcp_sink(ls, TCP_FLOWS);
		}
		close(ls);
	}
	pid_t g = fork();
	if (g == 0) {
		child_prio();
		close(pfd[0]);
		if (enter_ns(NSB))
			_exit(1);
		if (!strcmp(workload, "tcp_bulk"))
			tcp_gen(secs_per_case, pfd[1]);
		else
			udp_gen((size_t)atoi(workload + 4), secs_per_case, pfd[1]);
	}
	close(pfd[1]);
	*rfd = pfd[0];
	return g;
}

static uint64_t finish_traffic(pid_t g, int rfd, pid_t sink)
{
	uint64_t total = 0, v;
	while (read(rfd, &v, sizeof(v)) == sizeof(v))
		total += v;
	close(rfd);
	waitpid(g, NULL, 0);
	if (sink > 0)
		waitpid(sink, NULL, 0);
	return total;
}

static int run_bpf(const char *workload, uint32_t sample_n, struct result *r)
{
	static struct capture_bpf_opts o;
	struct count c = {0};
	char err[256];
	int rfd;
	pid_t sink;

	capture_bpf_opts_default(&o);
	o.ifaces[0] = IFA;
	o.n_ifaces = 1;
	o.sample_n = sample_n;
	o.ring_size = 8u << 20;
	o.prog_stats = 1;
	struct capture_bpf *cap = capture_bpf_open(&o, bpf_cb, &c, err, sizeof(err));
	if (!cap) {
		fprintf(stderr, "bench_capture: %s\n", err);
		return -1;
	}
	double c0 = cpu_s(), t0 = now_s();
	pid_t g = start_traffic(workload, &rfd, &sink);
	double end = t0 + secs_per_case;
	while (now_s() < end + 0.2)
		capture_bpf_poll(cap, 100);
	capture_bpf_detach(cap);
	while (capture_bpf_poll(cap, 0) > 0)
		;
	r->cpu = cpu_s() - c0;
	r->secs = now_s() - t0;
	r->gen_sent = finish_traffic(g, rfd, sink);
	uint64_t v[TSF_CAP_NR_COUNTERS], runs, ns;
	capture_bpf_counters(cap, v);
	r->pkts = c.pkts;
	r->bytes = c.bytes;
	r->records = v[TSF_CAP_CTR_records];
	r->kernel_seen = v[TSF_CAP_CTR_seen];
	r->drops = v[TSF_CAP_CTR_ringbuf_full];
	r->wakeups = v[TSF_CAP_CTR_wakeups];
	r->unaccounted = (int64_t)v[TSF_CAP_CTR_seen] -
	                 (int64_t)(v[TSF_CAP_CTR_skipped] + v[TSF_CAP_CTR_port_filtered] +
	                           v[TSF_CAP_CTR_bypassed] + v[TSF_CAP_CTR_unsampled] +
	                           v[TSF_CAP_CTR_over_budget] + v[TSF_CAP_CTR_throttled] +
	                           v[TSF_CAP_CTR_sampled]);
	r->unaccounted += (int64_t)v[TSF_CAP_CTR_sampled] -
	                  (int64_t)(v[TSF_CAP_CTR_delivered] + v[TSF_CAP_CTR_ringbuf_full]);
	if (v[TSF_CAP_CTR_records] != r->records)
		r->unaccounted = -999;
	r->prog_ns =
	    capture_bpf_prog_runtime(cap, &runs, &ns) == 0 && runs ? (double)ns / (double)runs : -1;
	capture_bpf_close(cap);
	return 0;
}

static int run_pcap(const char *workload, struct result *r)
{
	char err[PCAP_ERRBUF_SIZE];
	struct count c = {0};
	struct pcap_stat ps;
	int rfd;
	pid_t sink;

	pcap_t *p = pcap_create(IFA, err);
	if (!p)
		return -1;
	pcap_set_snaplen(p, 65535);
	pcap_set_buffer_size(p, 8 << 20); /* the same memory as the BPF ring */
	pcap_set_timeout(p, 100);
	if (pcap_activate(p) < 0) {
		fprintf(stderr, "bench_capture: pcap: %s\n", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_setdirection(p, PCAP_D_INOUT);
	/* Non-blocking plus our own poll: with TPACKET_V3 a blocking read
	 * waits for a block to fill or retire, and an idle link retires none. */
	pcap_setnonblock(p, 1, err);
	struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
	double c0 = cpu_s(), t0 = now_s();
	pid_t g = start_traffic(workload, &rfd, &sink);
	double end = t0 + secs_per_case;
	while (now_s() < end + 0.2) {
		if (pcap_dispatch(p, -1, pcap_cb, (u_char *)&c) == 0)
			poll(&pfd, 1, 100);
	}
	while (pcap_dispatch(p, -1, pcap_cb, (u_char *)&c) > 0)
		;
	r->cpu = cpu_s() - c0;
	r->secs = now_s() - t0;
	r->gen_sent = finish_traffic(g, rfd, sink);
	if (pcap_stats(p, &ps) == 0) {
		r->kernel_seen = ps.ps_recv;
		r->drops = ps.ps_drop;
	}
	r->pkts = c.pkts;
	r->bytes = c.bytes;
	r->records = c.pkts;
	r->unaccounted = -1;
	r->prog_ns = -1;
	pcap_close(p);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *workloads[] = {"udp_64", "udp_512", "udp_1400", "tcp_bulk"};
	struct result res[16];
	int nres = 0;

	if (argc > 1)
		secs_per_case = atof(argv[1]);
	if (geteuid() != 0) {
		printf("bench_capture: skipped (needs root)\n");
		return 0;
	}
	/* On 2 CPUs the traffic processes would otherwise starve the consumer
	 * under the fair scheduler; a capture box gives its capture thread
	 * priority too.  Both methods get the same treatment. */
	if (setpriority(PRIO_PROCESS, 0, -10)) {
	}
	net_down();
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGPIPE, SIG_IGN);
	if (sh("ip netns add " NSA " && ip netns add " NSB " && ip link add " IFA
	       " type veth peer name " IFB " && ip link set " IFA " netns " NSA
	       " && ip link set " IFB " netns " NSB " && ip -n " NSA " addr add " A4 "/24 dev " IFA
	       " && ip -n " NSB " addr add " B4 "/24 dev " IFB " && ip -n " NSA " link set " IFA
	       " up && ip -n " NSB " link set " IFB " up && ip -n " NSA
	       " link set lo up && ip -n " NSB " link set lo up")) {
		fprintf(stderr, "bench_capture: cannot create the veth pair\n");
		net_down();
		return 1;
	}
	if (enter_ns(NSA)) {
		perror("setns");
		net_down();
		return 1;
	}
	/* Warm the neighbour caches so the first case does not pay for ARP. */
	if (sh("ping -c1 -W1 " B4 " >/dev/null 2>&1")) {
	}

	printf("%-9s %-10s %10s %10s %9s %8s %9s %10s %8s\n", "workload", "method", "gen_sent",
	       "pkts/s", "MB/s", "drops", "unacct", "us_cpu_ns", "bpf_ns");
	for (size_t w = 0; w < sizeof(workloads) / sizeof(workloads[0]); w++) {
		for (int m = 0; m < 3; m++) {
			struct result *r = &res[nres];
			memset(r, 0, sizeof(*r));
			r->workload = workloads[w];
			port_base = 20000 + 100 * nres;
			r->method = m == 0 ? "pcap" : m == 1 ? "bpf" : "bpf_1/8";
			int rc = m == 0 ? run_pcap(r->workload, r)
			                : run_bpf(r->workload, m == 1 ? 1 : 8, r);
			if (rc)
				continue;
			nres++;
			printf("%-9s %-10s %10" PRIu64 " %10.0f %9.1f %8" PRIu64 " %9" PRId64
			       " %10.0f %8.0f\n",
			       r->workload, r->method, r->gen_sent, (double)r->pkts / r->secs,
			       (double)r->bytes / r->secs / 1e6, r->drops, r->unaccounted,
			       r->pkts ? r->cpu * 1e9 / (double)r->pkts : 0.0, r->prog_ns);
			fflush(stdout);
		}
	}
	net_down();

	FILE *f = fopen("bench/results/capture.json", "w");
	if (!f) {
		perror("bench/results/capture.json");
		return 1;
	}
	fprintf(f,
	        "{\n \"bench\": \"capture\",\n \"seconds_per_case\": %.1f,\n"
	        " \"note\": \"same generator per case, run one method at a time; pkts = payload "
	        "packets delivered to userspace (BPF: whole packets, GSO chunks merged); "
	        "gen_sent = UDP datagrams or TCP bytes sent; us_cpu_ns = consumer CPU per "
	        "delivered packet; unaccounted = BPF seen minus the sum of its outcomes (-1: "
	        "pcap has no such count)\",\n \"cases\": [\n",
	        secs_per_case);
	for (int i = 0; i < nres; i++) {
		struct result *r = &res[i];
		fprintf(f,
		        "  {\"workload\": \"%s\", \"method\": \"%s\", \"seconds\": %.3f, "
		        "\"gen_sent\": %" PRIu64 ", \"kernel_seen\": %" PRIu64
		        ", \"delivered_pkts\": %" PRIu64 ", \"records\": %" PRIu64
		        ", \"payload_bytes\": %" PRIu64 ", \"pkts_per_s\": %.0f, "
		        "\"payload_MB_per_s\": %.2f, \"drops\": %" PRIu64
		        ", \"unaccounted\": %" PRId64
		        ", \"consumer_cpu_s\": %.3f, \"consumer_cpu_ns_per_pkt\": %.0f, "
		        "\"bpf_ns_per_run\": %.1f, \"bpf_wakeups\": %" PRIu64 "}%s\n",
		        r->workload, r->method, r->secs, r->gen_sent, r->kernel_seen, r->pkts,
		        r->records, r->bytes, (double)r->pkts / r->secs,
		        (double)r->bytes / r->secs / 1e6, r->drops, r->unaccounted, r->cpu,
		        r->pkts ? r->cpu * 1e9 / (double)r->pkts : 0.0, r->prog_ns, r->wakeups,
		        i + 1 < nres ? "," : "");
	}
	fprintf(f, " ]\n}\n");
	fclose(f);
	printf("wrote bench/results/capture.json\n");
	return 0;
}
