#!/usr/bin/env python3
"""bench/run_swap.py BUILD - a hot swap under live traffic (make bench; issue #6).

For each generated literal set (BENCH_SWAP_SIZES, default 100k,1m,10m; with
BENCH_QUICK=1 or CI set, 100k,1m), two signed bundles of the same size are
built from it (the literals and regexes of run_bundle.py, plus one marker rule
of their own: set A version 1, set B version 2).  Then, in a throwaway pair of
network namespaces joined by a veth (as tests/live_lib.sh builds it):
  - `tapsift run --bundle A --trust --control ipc://...` captures side a
  - side b sends steady UDP to side a (tests/live_tool.py udp-flood,
    BENCH_SWAP_RATE datagrams/s, default 20000, text that hits no rule, 16
    flows replaced every second; tapsift runs with --udp-timeout 1 so the
    flows that hold the old set end during the run) plus a probe every 10 ms
    from a new flow, carrying literal 1 (in both sets) and both markers
  - after BENCH_SWAP_PRE seconds (default 2) `tapsift rules push B` while the
    traffic flows; swap time = push start -> tapsift's "version 2 is live"
    line (the moment the capture loop hands the set to the workers); the
    push's own answer time is reported too
  - first a control window of BENCH_SWAP_IDLE seconds (default POST + 1)
    with the same traffic and no push: the gateway's own RSS swing (flows,
    buffers, arenas still growing), reported as "idle swing"; it also
    warms the gateway up, so the swap's window starts from a steady RSS
  - the gateway's RSS: VmRSS before the push, then its peak during the swap
    (VmHWM, reset with /proc/PID/clear_refs just before the push, and
    sampled every 10 ms), VmRSS at the "live" line (old + new set: the
    flows that started under A still hold it) and BENCH_SWAP_POST seconds
    later (default 4: the old set freed); extra = peak - before, next to
    bundle B's size
  - packets: sent by the generator vs received in userspace (tapsift's
    bpf_received: one record per datagram here) vs the kernel's counters;
    lost = sent - received, ring drops = bpf_ringbuf_full (both must be 0)
  - verdicts: each probe must get exactly one marker verdict, marker A with
    ruleset_version 1 if it was sent before the push, marker B with version 2
    if sent after the "live" line (either one in between)
Prints a table and writes bench/results/swap.json.  Namespaces, processes and
BPF programs are removed on exit, also on Ctrl-C.  Root only (skips
otherwise).  10m: compiling needs ~3 GB, the gateway ~2.5 GB during the
swap; ~2 minutes in all the first time, ~40 s once the bundles exist (they
are kept in the data directory while newer than their inputs).
"""
import json, os, re, signal, subprocess, sys, threading, time

from bundle_lib import save_results, ROOT, Bench, progress

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
B = Bench(BUILD)
QUICK = os.environ.get("BENCH_QUICK") or os.environ.get("CI")
SIZES = os.environ.get("BENCH_SWAP_SIZES", "100k,1m" if QUICK else "100k,1m,10m").split(",")
RATE = int(os.environ.get("BENCH_SWAP_RATE", "20000"))
PRE = float(os.environ.get("BENCH_SWAP_PRE", "2"))
POST = float(os.environ.get("BENCH_SWAP_POST", "4"))
IDLE = float(os.environ.get("BENCH_SWAP_IDLE", str(POST + 1)))
PROBE_MS = 10
FLOWS = 16
FLOW_LIFE = 1  # seconds; tapsift runs with --udp-timeout 1
MARK_A, MARK_B = 91000001, 92000001
MARK_A_TEXT, MARK_B_TEXT = "zzswapsetalpha", "zzswapsetbravo"
TOOL = [sys.executable, os.path.join(ROOT, "tests", "live_tool.py")]
ID = os.getpid() % 100000
NSA, NSB = f"tsfsw{ID}-a", f"tsfsw{ID}-b"
IFA, IFB = f"tsfsw{ID}a", f"tsfsw{ID}b"
A4, B4 = "10.201.0.1", "10.201.0.2"
PORT = 9999
# no word of gen_bench.py's literals or of the regexes: no verdicts
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod 0123456789 " * 2

procs = []  # every process we started, killed by pid on exit


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def net_up():
    """Two namespaces joined by a veth, as net_up in tests/live_lib.sh."""
    sh("ip", "netns", "add", NSA)
    sh("ip", "netns", "add", NSB)
    sh("ip", "link", "add", IFA, "type", "veth", "peer", "name", IFB)
    sh("ip", "link", "set", IFA, "netns", NSA)
    sh("ip", "link", "set", IFB, "netns", NSB)
    for ns, ifc, addr in ((NSA, IFA, A4), (NSB, IFB, B4)):
        sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", ifc)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", ifc, "up")


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    procs.clear()
    for ns in (NSA, NSB):
        sh("ip", "netns", "del", ns, check=False)


def leftovers():
    """Kernel state this benchmark could have left behind: [] when clean."""
    left = [ns for ns in sh("ip", "netns", "list").stdout.split() if ns in (NSA, NSB)]
    links = sh("ip", "-o", "link").stdout
    left += [i for i in (IFA, IFB) if i + "@" in links or i + ":" in links]
    progs = sh("bpftool", "prog", "show", check=False).stdout
    left += re.findall(r"name (tsf_(?:tc_ingress|tc_egress|xdp)) ", progs)
    return left


def start(cmd, out, err, ns=None):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd  # execs cmd: the pid is cmd's
    p = subprocess.Popen(cmd, stdout=open(out, "w"), stderr=open(err, "w"))
    procs.append(p)
    return p


def wait_for(pred, timeout, what, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return time.monotonic()
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.005)
    raise SystemExit(f"timed out or exited waiting for {what}")


def grep(path, text):
    with open(path, errors="replace") as f:
        return text in f.read()


def proc_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def first_literal(rules):
    with open(rules, encoding="utf-8") as f:
        for line in f:
            m = re.match(r'^1 \S+ "(.*)"$', line.rstrip("\n"))
            if m:
                return m.group(1)
    raise SystemExit(f"no rule 1 in {rules}")


def bundles(n, rx, key):
    """Signed bundles A (version 1) and B (version 2) of set n; kept in the
    data directory while newer than their inputs."""
    out = []
    rules = B.rules(n)
    cache = os.path.join(B.data, "swap-cache")
    for tag, ver, mid, text in (("A", 1, MARK_A, MARK_A_TEXT), ("B", 2, MARK_B, MARK_B_TEXT)):
        mark = os.path.join(B.data, f"swap-mark-{tag}.rules")
        with open(mark, "w") as f:
            f.write(f'{mid} swap_marker_{tag.lower()} "{text}"\n')
        tsb = os.path.join(B.data, f"swap-{n}-{tag}.tsb")
        newest = max(os.path.getmtime(p) for p in (rules, rx, key + ".key", B.tsf))
        if not os.path.exists(tsb) or os.path.getmtime(tsb) < newest:
            progress(f"{n}: compiling and signing bundle {tag} (version {ver})")
            B.run_rss([B.tsf, "rules", "compile", rules, rx, mark, "-o", tsb, "--version",
                       str(ver), "--cache", cache, "-q"])
            B.run_rss([B.tsf, "rules", "sign", tsb, "--key", key + ".key"])
        out.append(tsb)
    return out


def stats(path):
    """The counters tapsift printed at exit: name -> number."""
    st = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^\s+([a-z_]+)\s+([0-9.]+)$", line)
            if m:
                st[m.group(1)] = float(m.group(2)) if "." in m.group(2) else int(m.group(2))
    return st


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop, self.trace = pid, 0, False, []

    def run(self):
        last = 0
        while not self.stop:
            try:
                kb = proc_kb(self.pid, "VmRSS")
            except OSError:
                return
            self.peak = max(self.peak, kb)
            now = time.monotonic()
            if now - last >= 0.1:  # a coarse timeline for the JSON
                self.trace.append((now, kb))
                last = now
            time.sleep(0.01)


def verdict_check(vpath, plog, t_push, t_live):
    """Probe verdicts around the switch."""
    probes = {}
    with open(plog) as f:
        for line in f:
            port, t = line.split()
            probes[int(port)] = float(t)
    marks = {p: [] for p in probes}
    lit1 = other = flood = 0
    with open(vpath, errors="replace") as f:
        for line in f:
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if v.get("dst_port") != PORT:
                other += 1
                continue
            sp = v.get("src_port")
            if sp not in probes:
                flood += 1
                continue
            if v["rule_id"] == 1:
                lit1 += 1
            elif v["rule_id"] in (MARK_A, MARK_B):
                marks[sp].append((v["rule_id"], v.get("ruleset_version")))
            else:
                other += 1
    r = {"probes": len(probes), "by_A": 0, "by_B": 0, "during_swap_A": 0, "during_swap_B": 0,
         "literal_1_verdicts": lit1, "no_verdict": 0, "wrong": 0, "flood_verdicts": flood,
         "other_verdicts": other}
    for port, t in probes.items():
        m = marks[port]
        if not m:
            r["no_verdict"] += 1
            continue
        if len(m) != 1 or m[0] not in ((MARK_A, 1), (MARK_B, 2)):
            r["wrong"] += 1
            continue
        is_a = m[0][0] == MARK_A
        r["by_A" if is_a else "by_B"] += 1
        if t < t_push and not is_a or t > t_live and is_a:
            r["wrong"] += 1  # judged by the set that was not live
        elif t_push <= t <= t_live:
            r["during_swap_A" if is_a else "during_swap_B"] += 1
    r["ok"] = (r["wrong"] == 0 and r["no_verdict"] == 0 and r["flood_verdicts"] == 0
               and r["by_A"] > 0 and r["by_B"] > 0 and lit1 == len(probes))
    return r


def one_size(n, rx, key):
    tsb_a, tsb_b = bundles(n, rx, key)
    lit1 = first_literal(B.rules(n))
    tmp = os.path.join(B.data, "swap-run")
    os.makedirs(tmp, exist_ok=True)
    for old in os.listdir(tmp):
        os.unlink(os.path.join(tmp, old))
    f = lambda name: os.path.join(tmp, name)  # noqa: E731
    r = {"literals": n, "rate_pps": RATE, "bundle_A_MiB": round(os.path.getsize(tsb_a) / 2**20, 1),
         "new_set_MiB": round(os.path.getsize(tsb_b) / 2**20, 1)}
    try:
        net_up()
        ep = "ipc://" + f("ctl.sock")
        progress(f"{n}: tapsift run with bundle A (version 1)")
        t0 = time.monotonic()
        ts = start([B.tsf, "run", "--iface", IFA, "--bundle", tsb_a, "--trust", key + ".pub",
                    "--control", ep, "--format", "json", "--udp-timeout", str(FLOW_LIFE)],
                   f("run.out"), f("run.err"), NSA)
        wait_for(lambda: grep(f("run.err"), "capturing on"), 600, "tapsift run to attach", ts)
        r["start_s"] = round(time.monotonic() - t0, 2)
        sink = start(TOOL + ["udp-sink", A4, str(PORT), "--ready", f("sink.ready")],
                     f("sink.out"), f("sink.err"), NSA)
        wait_for(lambda: os.path.exists(f("sink.ready")), 20, "the udp sink", sink)
        probe = f"probe {lit1} {MARK_A_TEXT} {MARK_B_TEXT} " + FILLER[:60]
        progress(f"{n}: traffic at {RATE} datagrams/s (+ a probe every {PROBE_MS} ms)")
        gen = start(TOOL + ["udp-flood", A4, str(PORT), "--rate", str(RATE), "--flows",
                            str(FLOWS), "--data", FILLER, "--probe", probe, "--probe-ms",
                            str(PROBE_MS), "--probe-log", f("probes.log"), "--probe-port", "20000",
                            "--flood-port", "40000", "--flow-life", str(FLOW_LIFE), "--stop-file",
                            f("stop"), "--max-seconds", "900"],
                    f("gen.out"), f("gen.err"), NSB)
        time.sleep(PRE)
        if gen.poll() is not None:
            raise SystemExit("the traffic generator stopped: " + open(f("gen.err")).read())
        # the control window: the same gateway and traffic, no push, as long
        # as the swap's window; its own swing (flows, buffers) is not the
        # swap's doing
        with open(f"/proc/{ts.pid}/clear_refs", "w") as cr:
            cr.write("5")
        idle_before = proc_kb(ts.pid, "VmRSS")
        idle = RssSampler(ts.pid)
        idle.start()
        time.sleep(IDLE)
        idle.stop = True
        idle.join()
        idle_peak = max(proc_kb(ts.pid, "VmHWM"), idle.peak)
        r["idle_swing_MiB"] = round((idle_peak - idle_before) / 1024, 2)
        # the peak during the swap: VmHWM from here on
        with open(f"/proc/{ts.pid}/clear_refs", "w") as cr:
            cr.write("5")
        rss_before = proc_kb(ts.pid, "VmRSS")
        sampler = RssSampler(ts.pid)
        sampler.start()
        progress(f"{n}: pushing bundle B (version 2, {r['new_set_MiB']} MiB) under traffic")
        t_push = time.monotonic()
        push = start([B.tsf, "rules", "push", tsb_b, "--to", ep, "--timeout", "600"],
                     f("push.out"), f("push.err"))
        replied = []

        def live():
            if not replied and push.poll() is not None:
                replied.append(time.monotonic())
            return grep(f("run.err"), "version 2 is live")

        t_live = wait_for(live, 900, "version 2 to go live", ts)
        rss_live = proc_kb(ts.pid, "VmRSS")
        push.wait(timeout=600)
        t_reply = replied[0] if replied else time.monotonic()
        if push.returncode != 0 or ": ok 2 " not in open(f("push.out")).read():
            raise SystemExit("push failed: " + open(f("push.out")).read()
                             + open(f("push.err")).read())
        r["swap_s"] = round(t_live - t_push, 3)
        r["push_reply_s"] = round(t_reply - t_push, 3)
        time.sleep(POST)
        sampler.stop = True
        sampler.join()
        peak = max(proc_kb(ts.pid, "VmHWM"), sampler.peak)
        rss_after = proc_kb(ts.pid, "VmRSS")
        r["rss_before_MiB"] = round(rss_before / 1024)
        r["rss_peak_MiB"] = round(peak / 1024)
        r["rss_after_MiB"] = round(rss_after / 1024)
        r["rss_at_live_MiB"] = round(rss_live / 1024)
        r["extra_MiB"] = round((peak - rss_before) / 1024, 1)
        # at the "live" line the old set is still held by the flows that
        # started under it: RSS = base + old + new, the load's own transient
        # memory is gone
        r["new_set_resident_MiB"] = round((rss_live - rss_before) / 1024)
        r["load_transient_MiB"] = round((peak - rss_live) / 1024)
        r["rss_timeline"] = [(round(t - t_push, 2), round(kb / 1024)) for t, kb in sampler.trace]
        # unrounded on both sides
        r["extra_le_set"] = (peak - rss_before) / 1024 <= os.path.getsize(tsb_b) / 2**20
        open(f("stop"), "w").close()
        gen.wait(timeout=60)
        g = json.loads(open(f("gen.out")).read())
        time.sleep(0.5)  # the last datagrams reach the sink and the ring
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=20)
        ts.send_signal(signal.SIGTERM)
        ts.wait(timeout=120)
        if ts.returncode != 0:
            raise SystemExit(f"tapsift run exited {ts.returncode}: " + open(f("run.err")).read())
        st = stats(f("run.err"))
        sent = g["sent"] + g["probes"]
        r.update(sent=sent, probes_sent=g["probes"], traffic_s=g["seconds"],
                 sink_received=int(open(f("sink.out")).read() or 0),
                 bpf_seen=st.get("bpf_seen", 0), bpf_sampled=st.get("bpf_sampled", 0),
                 bpf_delivered=st.get("bpf_delivered", 0), received=st.get("bpf_received", 0),
                 ring_drops=st.get("bpf_ringbuf_full", 0),
                 engine_udp_datagrams=st.get("udp_datagrams", 0))
        r["lost"] = sent - r["received"]
        r["verdicts"] = verdict_check(f("run.out"), f("probes.log"), t_push, t_live)
    finally:
        cleanup()
    r["leftovers"] = leftovers()
    return r


def main():
    if os.geteuid() != 0:
        print("skip - run_swap.py needs root (network namespaces, BPF)")
        return
    for t in ("ip", "bpftool"):
        if subprocess.run(["which", t], stdout=subprocess.DEVNULL).returncode:
            print(f"skip - run_swap.py needs {t}")
            return
    # Ctrl-C or SIGTERM: unwind through the finally blocks (cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    B.ensure_sets(SIZES)
    rx = B.regexes()
    key = B.key()
    results = {"cpus": os.cpu_count(), "rate_pps": RATE, "pre_s": PRE, "post_s": POST,
               "probe_ms": PROBE_MS, "sizes": []}
    try:
        for n in SIZES:
            r = one_size(n, rx, key)
            results["sizes"].append(r)
            print(json.dumps(r), flush=True)
    except KeyboardInterrupt:
        cleanup()
        left = leftovers()
        raise SystemExit("interrupted; left behind: " + (", ".join(left) if left else "nothing"))

    print()
    print("hot swap under live traffic (%d datagrams/s over a veth + a probe flow every %d ms; "
          "bundle B pushed to tapsift run --control)" % (RATE, PROBE_MS))
    hdr = ("literals", "swap s", "reply s", "sent", "received", "lost", "ring drops",
           "RSS before", "peak", "at live", "after", "idle swing", "extra MiB", "new set MiB",
           "extra<=set",
           "set in RAM", "transient", "verdicts A/B", "verdicts ok")
    fmt = ("%-8s %6s %7s %7s %8s %4s %10s %10s %5s %7s %5s %10s %9s %11s %10s %10s %9s "
           "%12s %11s")
    print(fmt % hdr)
    for r in results["sizes"]:
        v = r["verdicts"]
        print(fmt % (r["literals"], "%.2f" % r["swap_s"], "%.2f" % r["push_reply_s"], r["sent"],
                     r["received"], r["lost"], r["ring_drops"], r["rss_before_MiB"],
                     r["rss_peak_MiB"], r["rss_at_live_MiB"], r["rss_after_MiB"],
                     r["idle_swing_MiB"], r["extra_MiB"],
                     r["new_set_MiB"], "yes" if r["extra_le_set"] else "NO",
                     r["new_set_resident_MiB"], r["load_transient_MiB"],
                     "%d/%d" % (v["by_A"], v["by_B"]), "yes" if v["ok"] else "NO"))
    print("(RSS in MiB: before the push, peak during it, at the \"live\" line, %g s later; "
          "idle swing = peak - start of the control window before the push (no swap); "
          "extra = peak - before; new set = bundle B's size; set in RAM = at live - before; "
          "transient = peak - at live)" % POST)
    bad = [r["literals"] for r in results["sizes"] if r["lost"] or r["ring_drops"]]
    if bad:
        print("packets lost during the swap at: " + ", ".join(bad))
    left = sorted({x for r in results["sizes"] for x in r["leftovers"]})
    print("left behind: " + (", ".join(left) if left else "nothing (netns, links, BPF programs)"))
    save_results("swap", results)


if __name__ == "__main__":
    main()
