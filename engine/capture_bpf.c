/* capture_bpf.c - loader and ring-buffer consumer for ebpf/capture.bpf.c. */
#include "capture_bpf.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "capture.skel.h"

/* Debian 12's uapi headers predate tcx (Linux 6.6); the values are ABI. */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
#define TSF_TCX_NEXT (-1)

_Static_assert(sizeof(struct tsf_cap_rec) == 72, "record layout changed: check capture.bpf.c");

enum attached_kind { ATT_NONE, ATT_LINK, ATT_CLSACT };

struct iface {
	char name[IF_NAMESIZE];
	int ifindex;
	/* tcx or XDP links: closing the fd detaches */
	int link_in, link_out;
	enum attached_kind in_kind, out_kind;
	/* clsact fallback */
	int created_qdisc;
	struct bpf_tc_opts tc_in, tc_out;
};

struct capture_bpf {
	struct tsf_capture *skel;
	struct ring_buffer *rb;
	capture_bpf_cb cb;
	capture_bpf_frag_cb frag_cb;
	void *ctx;
	int64_t mono_to_real; /* add to CLOCK_MONOTONIC ns for epoch ns */
	struct iface ifs[CAPTURE_BPF_MAX_IFACES];
	int n_ifs;
	int stats_fd;
	uint64_t received, received_bytes;
	uint64_t frag_malformed; /* fragment records that did not parse */
	char mode[32];
};

static int libbpf_verbose = -1;

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Warnings carry the verifier log on a failed load: worth showing.
	 * TSF_BPF_DEBUG=1 shows libbpf's debug chatter too. */
	if (libbpf_verbose < 0) {
		const char *e = getenv("TSF_BPF_DEBUG");
		libbpf_verbose = e && *e && *e != '0';
	}
	if (level == LIBBPF_DEBUG && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

void capture_bpf_opts_default(struct capture_bpf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sample_n = 1;
	o->ring_size = 4u << 20;
}

static int64_t mono_to_real_offset(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + (r.tv_nsec - m.tv_nsec);
}

/* Does the running kernel know BPF_TCX_INGRESS?  Asked of its BTF rather
 * than of the version number, so backports count. */
static int kernel_has_tcx(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int found = 0;

	if (!btf)
		return 0;
	int id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	if (id > 0) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_enum *e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++, e++)
			if (!strcmp(btf__name_by_offset(btf, e->name_off), "BPF_TCX_INGRESS"))
				found = 1;
	}
	btf__free(btf);
	return found;
}

static int iface_is_ether(const char *name)
{
	char path[64 + IF_NAMESIZE], buf[16];
	FILE *f;
	int type = -1;

	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	f = fopen(path, "r");
	if (!f)
		return 1; /* cannot tell: let the parser decide */
	if (fgets(buf, sizeof(buf), f))
		type = atoi(buf);
	fclose(f);
	/* ARPHRD_ETHER, ARPHRD_LOOPBACK (carries a zeroed Ethernet header) */
	return type == 1 || type == 772;
}

/* A fragment record carries the IP packet: parse it as raw IP. */
static int frag_rec(struct capture_bpf *c, const struct tsf_cap_rec *r, struct tsf_pkt *p)
{
	struct tsf_frag f;
	uint64_t ts = r->ts_ns + c->mono_to_real;
	enum pkt_result res = pkt_parse_frag((const uint8_t *)(r + 1), r->len, TSF_LINK_RAW, p, &f);

	if (res == PKT_FRAGMENT) {
		/* The kernel copies at most TSF_CAP_CHUNK bytes of it. */
		if (r->rec_flags & TSF_CAP_F_TRUNCATED)
			f.truncated = 1;
		if (c->frag_cb)
			c->frag_cb(c->ctx, &f, ts, r);
	} else if (res == PKT_OK) {
		p->ts_ns = ts;
		p->ifindex_dir = r->dir;
		c->cb(c->ctx, p, r);
	} else {
		c->frag_malformed++;
	}
	return 0;
}

static int rec_cb(void *ctx, void *data, size_t size)
{
	struct capture_bpf *c = ctx;
	const struct tsf_cap_rec *r = data;
	struct tsf_pkt p;

	c->received++;
	if (size < sizeof(*r) || size < sizeof(*r) + r->len)
		return 0; /* cannot happen: the kernel writes whole records */
	c->received_bytes += r->len;
	memset(&p, 0, sizeof(p));
	if (r->rec_flags & TSF_CAP_F_IPFRAG)
		return frag_rec(c, r, &p);
	p.ts_ns = r->ts_ns + c->mono_to_real;
	p.ipver = r->ipver;
	p.proto = r->proto;
	p.tcp_flags = r->tcp_flags;
	p.ifindex_dir = r->dir;
	memcpy(p.src, r->src, 16);
	memcpy(p.dst, r->dst, 16);
	p.sport = r->sport;
	p.dport = r->dport;
	/* A chunk of a GSO super-packet starts off bytes into its payload. */
	p.seq = r->proto == TSF_PROTO_TCP ? r->seq + r->off : 0;
	p.payload = (const uint8_t *)(r + 1);
	p.len = r->len;
	c->cb(c->ctx, &p, r);
	return 0;
}

static int attach_clsact(struct capture_bpf *c, struct iface *f, char *err, size_t errlen)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = f->ifindex,
	                    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int rc = bpf_tc_hook_create(&hook);

	if (rc && rc != -EEXIST) {
		seterr(err, errlen, "%s: creating clsact qdisc: %s", f->name, strerror(-rc));
		return rc;
	}
	f->created_qdisc = rc == 0;
	struct {
		int enabled;
		struct bpf_program *prog;
		enum bpf_tc_attach_point point;
		struct bpf_tc_opts *opts;
		enum attached_kind *kind;
	} legs[2] = {
	    {f->in_kind == ATT_NONE, c->skel->progs.tsf_tc_ingress, BPF_TC_INGRESS, &f->tc_in,
	     &f->in_kind},
	    {f->out_kind == ATT_NONE, c->skel->progs.tsf_tc_egress, BPF_TC_EGRESS, &f->tc_out,
	     &f->out_kind},
	};
	for (int i = 0; i < 2; i++) {
		if (!legs[i].enabled)
			continue;
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = f->ifindex,
		                    .attach_point = legs[i].point);
		memset(legs[i].opts, 0, sizeof(*legs[i].opts));
		legs[i].opts->sz = sizeof(*legs[i].opts);
		legs[i].opts->prog_fd = bpf_program__fd(legs[i].prog);
		rc = bpf_tc_attach(&h, legs[i].opts);
		if (rc) {
			seterr(err, errlen, "%s: attaching tc %s filter: %s", f->name,
			       i ? "egress" : "ingress", strerror(-rc));
			return rc;
		}
		*legs[i].kind = ATT_CLSACT;
	}
	return 0;
}

static void detach_iface(struct iface *f)
{
	if (f->in_kind == ATT_LINK)
		close(f->link_in);
	if (f->out_kind == ATT_LINK)
		close(f->link_out);
	struct {
		enum attached_kind kind;
		enum bpf_tc_attach_point point;
		struct bpf_tc_opts *opts;
	} legs[2] = {{f->in_kind, BPF_TC_INGRESS, &f->tc_in},
	             {f->out_kind, BPF_TC_EGRESS, &f->tc_out}};
	for (int i = 0; i < 2; i++) {
		if (legs[i].kind != ATT_CLSACT)
			continue;
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = f->ifindex,
		                    .attach_point = legs[i].point);
		/* bpf_tc_detach wants only handle and priority set. */
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = legs[i].opts->handle,
		                    .priority = legs[i].opts->priority);
		bpf_tc_detach(&h, &o);
	}
	if (f->created_qdisc) {
		/* Only a qdisc we created: another tool's filters may live on
		 * a pre-existing one. */
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = f->ifindex,
		                    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		bpf_tc_hook_destroy(&h);
	}
	f->in_kind = f->out_kind = ATT_NONE;
	f->created_qdisc = 0;
}

static int attach_iface(struct capture_bpf *c, const struct capture_bpf_opts *o, struct iface *f,
                        int use_tcx, char *err, size_t errlen)
{
	if (o->xdp != CAPTURE_XDP_OFF) {
		DECLARE_LIBBPF_OPTS(bpf_link_create_opts, lo,
		                    .flags = o->xdp == CAPTURE_XDP_GENERIC ? XDP_FLAGS_SKB_MODE
		                                                           : XDP_FLAGS_DRV_MODE);
		/* A BPF link, not the netlink attach: it dies with our fd. */
		int fd = bpf_link_create(bpf_program__fd(c->skel->progs.tsf_xdp), f->ifindex,
		                         BPF_XDP, &lo);
		if (fd < 0) {
			seterr(err, errlen, "%s: attaching XDP (%s mode): %s", f->name,
			       o->xdp == CAPTURE_XDP_GENERIC ? "generic" : "native",
			       strerror(errno));
			return -errno;
		}
		f->link_in = fd;
		f->in_kind = ATT_LINK;
	}
	if (use_tcx) {
		if (f->in_kind == ATT_NONE) {
			int fd = bpf_link_create(bpf_program__fd(c->skel->progs.tsf_tc_ingress),
			                         f->ifindex, BPF_TCX_INGRESS, NULL);
			if (fd < 0)
				goto tcx_failed;
			f->link_in = fd;
			f->in_kind = ATT_LINK;
		}
		int fd = bpf_link_create(bpf_program__fd(c->skel->progs.tsf_tc_egress), f->ifindex,
		                         BPF_TCX_EGRESS, NULL);
		if (fd < 0)
			goto tcx_failed;
		f->link_out = fd;
		f->out_kind = ATT_LINK;
		return 0;
	tcx_failed:
		if (o->attach == CAPTURE_ATTACH_TCX) {
			seterr(err, errlen, "%s: attaching tcx link: %s", f->name, strerror(errno));
			return -errno;
		}
		/* The program returns TCX_NEXT, which a clsact filter also
		 * treats as "pass, continue": fall back per interface. */
	}
	return attach_clsact(c, f, err, errlen);
}

static void set_port_bits(struct tsf_capture *skel, const struct capture_bpf_opts *o)
{
	for (int port = 0; port < 65536; port++) {
		uint8_t v = 0;

		if (o->have_allow && (o->port_allow[port / 8] >> (port % 8) & 1))
			v |= TSF_CAP_PORT_ALLOW;
		if (o->have_deny && (o->port_deny[port / 8] >> (port % 8) & 1))
			v |= TSF_CAP_PORT_DENY;
		skel->bss->port_flags[port] = v;
	}
}

struct capture_bpf *capture_bpf_open(const struct capture_bpf_opts *o, capture_bpf_cb cb, void *ctx,
                                     char *err, size_t errlen)
{
	struct capture_bpf *c;
	uint32_t ring = o->ring_size ? o->ring_size : 4u << 20;
	long page = sysconf(_SC_PAGESIZE);
	int rc, use_tcx;

	libbpf_set_print(print_fn);
	if (o->n_ifaces < 0 || o->n_ifaces > CAPTURE_BPF_MAX_IFACES) {
		seterr(err, errlen, "at most %d interfaces", CAPTURE_BPF_MAX_IFACES);
		return NULL;
	}
	if (ring < page || (ring & (ring - 1))) {
		seterr(err, errlen, "ring size %u: must be a power of two of at least %ld", ring,
		       page);
		return NULL;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		seterr(err, errlen,
		       "this kernel has no BTF (/sys/kernel/btf/vmlinux): "
		       "live capture needs CONFIG_DEBUG_INFO_BTF=y");
		return NULL;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		seterr(err, errlen,
		       "this kernel has no BPF ring buffer (Linux >= 5.8 needed), "
		       "or we lack CAP_BPF/CAP_NET_ADMIN");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	c->cb = cb;
	c->ctx = ctx;
	c->stats_fd = -1;
	c->mono_to_real = mono_to_real_offset();
	for (int i = 0; i < o->n_ifaces; i++) {
		struct iface *f = &c->ifs[i];

		snprintf(f->name, sizeof(f->name), "%s", o->ifaces[i]);
		f->ifindex = (int)if_nametoindex(o->ifaces[i]);
		if (!f->ifindex) {
			seterr(err, errlen, "no interface '%s'", o->ifaces[i]);
			free(c);
			return NULL;
		}
		if (!iface_is_ether(f->name)) {
			seterr(err, errlen,
			       "%s: not an Ethernet interface (only Ethernet framing "
			       "is parsed)",
			       f->name);
			free(c);
			return NULL;
		}
	}

	c->skel = tsf_capture__open();
	if (!c->skel) {
		seterr(err, errlen, "opening the BPF object: %s", strerror(errno));
		free(c);
		return NULL;
	}
	use_tcx = o->attach != CAPTURE_ATTACH_CLSACT && kernel_has_tcx();
	if (o->attach == CAPTURE_ATTACH_TCX && !use_tcx) {
		seterr(err, errlen, "this kernel has no tcx (Linux >= 6.6); try --attach clsact");
		goto fail;
	}
	struct tsf_capture *s = c->skel;
	s->rodata->sample_n = o->sample_n ? o->sample_n : 1;
	s->rodata->sample_seed = o->sample_seed;
	s->rodata->flow_bytes = o->flow_bytes;
	s->rodata->wake_bytes = o->wake_bytes ? o->wake_bytes : ring / 4;
	s->rodata->tb_rate = o->tb_rate;
	s->rodata->tb_burst =
	    o->tb_burst ? o->tb_burst : (o->tb_rate / 10 > 65536 ? o->tb_rate / 10 : 65536);
	s->rodata->ports_allow = o->have_allow;
	s->rodata->ports_deny = o->have_deny;
	s->rodata->ip_frags = !o->no_ip_frags;
	s->rodata->tc_ret = use_tcx ? TSF_TCX_NEXT : 0;
	bpf_map__set_max_entries(s->maps.rb, ring);
	if (o->max_flows) {
		bpf_map__set_max_entries(s->maps.budget, o->max_flows);
		bpf_map__set_max_entries(s->maps.bypass, o->max_flows);
	}
	bpf_program__set_autoload(s->progs.tsf_xdp, o->xdp != CAPTURE_XDP_OFF);
	bpf_program__set_autoload(s->progs.tsf_tc_ingress, o->xdp == CAPTURE_XDP_OFF);
	rc = tsf_capture__load(s);
	if (rc) {
		seterr(err, errlen, "loading the BPF program: %s (verifier log above)",
		       strerror(-rc));
		goto fail;
	}
	set_port_bits(s, o);
	c->rb = ring_buffer__new(bpf_map__fd(s->maps.rb), rec_cb, c, NULL);
	if (!c->rb) {
		seterr(err, errlen, "ring buffer: %s", strerror(errno));
		goto fail;
	}
	if (o->prog_stats) {
		c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		if (c->stats_fd < 0)
			fprintf(stderr, "tapsift: BPF run-time stats unavailable: %s\n",
			        strerror(errno));
	}
	for (int i = 0; i < o->n_ifaces; i++) {
		c->n_ifs = i + 1;
		if (attach_iface(c, o, &c->ifs[i], use_tcx, err, errlen))
			goto fail;
	}
	const struct iface *f0 = &c->ifs[0];
	if (!o->n_ifaces) {
		snprintf(c->mode, sizeof(c->mode), "detached");
		return c;
	}
	snprintf(c->mode, sizeof(c->mode), "%s%s",
	         o->xdp == CAPTURE_XDP_OFF       ? ""
	         : o->xdp == CAPTURE_XDP_GENERIC ? "xdp-generic+"
	                                         : "xdp+",
	         f0->out_kind == ATT_LINK ? "tcx" : "clsact");
	return c;
fail:
	capture_bpf_close(c);
	return NULL;
}

void capture_bpf_on_fragment(struct capture_bpf *c, capture_bpf_frag_cb cb)
{
	c->frag_cb = cb;
}

int capture_bpf_poll(struct capture_bpf *c, int timeout_ms)
{
	uint64_t before = c->received;
	int rc = ring_buffer__poll(c->rb, timeout_ms);

	if (rc < 0 && rc != -EINTR)
		return rc;
	/* The kernel side wakes us only past a fill threshold, so a timeout
	 * with no event may still leave records queued: take them now. */
	rc = ring_buffer__consume(c->rb);
	if (rc < 0 && rc != -EINTR)
		return rc;
	return (int)(c->received - before);
}

void capture_bpf_counters(struct capture_bpf *c, uint64_t out[TSF_CAP_NR_COUNTERS])
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t zero = 0;

	memset(out, 0, sizeof(uint64_t) * TSF_CAP_NR_COUNTERS);
	if (ncpu <= 0)
		return;
	uint64_t(*v)[TSF_CAP_NR_COUNTERS] = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	if (!bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.counters), &zero, v))
		for (int cpu = 0; cpu < ncpu; cpu++)
			for (int i = 0; i < TSF_CAP_NR_COUNTERS; i++)
				out[i] += v[cpu][i];
	free(v);
}

void capture_bpf_stats(struct capture_bpf *c, struct tsf_stats *s)
{
	uint64_t v[TSF_CAP_NR_COUNTERS];

	capture_bpf_counters(c, v);
	s->bpf_seen = v[TSF_CAP_CTR_seen];
	s->bpf_skipped = v[TSF_CAP_CTR_skipped];
	s->bpf_port_filtered = v[TSF_CAP_CTR_port_filtered];
	s->bpf_bypassed = v[TSF_CAP_CTR_bypassed];
	s->bpf_unsampled = v[TSF_CAP_CTR_unsampled];
	s->bpf_over_budget = v[TSF_CAP_CTR_over_budget];
	s->bpf_throttled = v[TSF_CAP_CTR_throttled];
	s->bpf_sampled = v[TSF_CAP_CTR_sampled];
	s->bpf_fragments = v[TSF_CAP_CTR_fragments];
	s->bpf_delivered = v[TSF_CAP_CTR_delivered];
	s->bpf_ringbuf_full = v[TSF_CAP_CTR_ringbuf_full];
	s->bpf_records = v[TSF_CAP_CTR_records];
	s->bpf_bytes = v[TSF_CAP_CTR_bytes];
	s->bpf_wakeups = v[TSF_CAP_CTR_wakeups];
	s->bpf_received = c->received;
	s->pkt_malformed += c->frag_malformed;
	/* What this source fed the engine: records (GSO chunks count apart). */
	s->packets = c->received;
	s->bytes = c->received_bytes;
}

static void pkt_key(const struct tsf_pkt *p, struct tsf_cap_key *k)
{
	/* Same canonical order as make_key() in capture.bpf.c. */
	uint64_t s[2], d[2];
	int rev;

	memcpy(s, p->src, 16);
	memcpy(d, p->dst, 16);
	if (s[0] != d[0])
		rev = s[0] > d[0];
	else if (s[1] != d[1])
		rev = s[1] > d[1];
	else
		rev = p->sport > p->dport;
	memset(k, 0, sizeof(*k));
	memcpy(k->a, rev ? p->dst : p->src, 16);
	memcpy(k->b, rev ? p->src : p->dst, 16);
	k->pa = rev ? p->dport : p->sport;
	k->pb = rev ? p->sport : p->dport;
	k->proto = p->proto;
	k->ipver = p->ipver;
}

int capture_bpf_bypass(struct capture_bpf *c, const struct tsf_pkt *p)
{
	struct tsf_cap_key k;
	struct timespec ts;
	uint64_t now;

	pkt_key(p, &k);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.bypass), &k, &now, BPF_ANY))
		return -errno;
	c->skel->bss->bypass_used = 1;
	return 0;
}

int capture_bpf_unbypass(struct capture_bpf *c, const struct tsf_pkt *p)
{
	struct tsf_cap_key k;

	pkt_key(p, &k);
	if (bpf_map_delete_elem(bpf_map__fd(c->skel->maps.bypass), &k))
		return -errno;
	return 0;
}

int capture_bpf_prog_runtime(struct capture_bpf *c, uint64_t *run_cnt, uint64_t *run_ns)
{
	struct bpf_program *progs[] = {c->skel->progs.tsf_tc_ingress, c->skel->progs.tsf_tc_egress,
	                               c->skel->progs.tsf_xdp};

	*run_cnt = *run_ns = 0;
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		int fd = bpf_program__fd(progs[i]);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		*run_cnt += info.run_cnt;
		*run_ns += info.run_time_ns;
	}
	return c->stats_fd >= 0 ? 0 : -ENOTSUP;
}

int capture_bpf_test_run(struct capture_bpf *c, int egress, const void *frame, size_t len)
{
	struct bpf_program *p =
	    egress ? c->skel->progs.tsf_tc_egress : c->skel->progs.tsf_tc_ingress;
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (__u32)len,
	                    .repeat = 1);

	if (bpf_program__fd(p) < 0)
		return -ENOENT;
	if (bpf_prog_test_run_opts(bpf_program__fd(p), &t))
		return -errno;
	return (int)t.retval;
}

const char *capture_bpf_mode(const struct capture_bpf *c)
{
	return c->mode;
}

void capture_bpf_detach(struct capture_bpf *c)
{
	for (int i = 0; i < c->n_ifs; i++)
		detach_iface(&c->ifs[i]);
	c->n_ifs = 0;
}

void capture_bpf_close(struct capture_bpf *c)
{
	if (!c)
		return;
	capture_bpf_detach(c);
	ring_buffer__free(c->rb);
	tsf_capture__destroy(c->skel);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c);
}
