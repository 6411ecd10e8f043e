#!/usr/bin/env python3
"""bench/run_scan.py BUILD - the `tapsift scan` benchmark (make bench).

For each rule-set size (BENCH_SIZES, default 10k,100k,1m) on a
generated capture of >= 100 MB of mixed Chinese/English text traffic:
  - rule parse + compile time and peak RSS (`tapsift rules check`)
  - the pipeline: payload MB/s over the whole run and over the scan phase
    (fastest of BENCH_SCAN_REPS runs, default 3),
    with 1..N worker threads, and with normalization off
  - the ceiling: raw Hyperscan block mode, same payload bytes, same literals
    (best of 3 passes), and the same on the normalized form of those bytes
    (what the pipeline hands to Hyperscan), in payload MB/s
  - pairs: BENCH_PAIRS (default 7) back-to-back runs of the pipeline (1
    worker) and one raw Hyperscan pass, in alternating order; the median
    of their ratios
  - the baseline: LC_ALL=C grep -F -c -f on the same text
Prints a table and writes bench/results/scan.json.
"""
import json, os, re, subprocess, sys, time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("BENCH_DATA", os.path.join(ROOT, BUILD, "bench-data"))
SIZES = os.environ.get("BENCH_SIZES", "10k,100k,1m").split(",")  # labels of gen_bench.py
NPROC = os.cpu_count() or 1
TSF = os.path.join(ROOT, BUILD, "tapsift")


def run_rss(cmd):
    """Like run(), measuring the child's peak RSS with wait4."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        out = os.open("/tmp/tsf-bench.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        err = os.open("/tmp/tsf-bench.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.close(fd)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    out = open("/tmp/tsf-bench.out", errors="replace").read()
    err = open("/tmp/tsf-bench.err", errors="replace").read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.stderr.write(err)
        raise SystemExit(f"failed: {' '.join(cmd)} (exit {code})")
    return out, err, wall, ru.ru_maxrss / 1024.0


def stat(err, name):
    m = re.search(rf"^\s+{name}\s+([0-9.]+)", err, re.M)
    return float(m.group(1)) if m else 0.0


def scan_MBps(err):
    """Payload MB/s over the scan phase, from `tapsift scan` stats."""
    scan_s = stat(err, "seconds")
    return stat(err, "payload_bytes") / 1e6 / scan_s if scan_s else 0.0


def progress(msg):
    print(f"  .. {msg}", flush=True)


# Pipeline runs are repeated and the fastest scan phase kept, as bench_hs
# keeps the best of 3 passes: this VM's run-to-run spread is +-30%.
REPS = int(os.environ.get("BENCH_SCAN_REPS", "3"))


def best_scan(cmd):
    best = None
    for _ in range(REPS):
        res = run_rss(cmd)
        if best is None or stat(res[1], "seconds") < stat(best[1], "seconds"):
            best = res
    return best


# The columns above take each figure's best run, but the runs happen
# minutes apart and this VM's speed drifts (other tenants share the L3), so
# the ratio of two bests can land anywhere in +-30%.  Pairs run the
# pipeline (1 worker) and one raw Hyperscan pass back to back, PAIRS
# times, and report the median of the per-pair ratios.
# The order alternates within pairs (a drift inside a pair favours neither).
PAIRS = int(os.environ.get("BENCH_PAIRS", "7"))


def paired(n, rules, pcap, text, hs_db):
    ratios, pipe, raw = [], [], []
    for k in range(PAIRS):
        progress(f"{n} rules: pair {k + 1}/{PAIRS}: pipeline (1 worker) and one raw Hyperscan pass")

        def pipeline():
            out, err, wall, rss = run_rss([TSF, "scan", "--rules", rules, "--pcap", pcap,
                                           "--quiet", "--threads", "1"])
            return scan_MBps(err)

        def raw_hs():
            env = dict(os.environ, BENCH_HS_DB=hs_db, BENCH_HS_PASSES="1")
            res = subprocess.run([os.path.join(ROOT, BUILD, "bench", "bench_hs"), rules, text],
                                 env=env, capture_output=True, text=True, check=True)
            return json.loads(res.stdout)["MBps"]

        if k % 2 == 0:
            p = pipeline()
            h = raw_hs()
        else:
            h = raw_hs()
            p = pipeline()
        pipe.append(round(p, 1))
        raw.append(h)
        ratios.append(round(p / h, 2) if h else 0)
    srt = sorted(ratios)
    return {"pipeline_MBps": pipe, "raw_hs_MBps": raw, "ratios": ratios,
            "median": srt[len(srt) // 2] if srt else 0,
            "min": srt[0] if srt else 0, "max": srt[-1] if srt else 0}


def main():
    os.makedirs(DATA, exist_ok=True)
    pcap = os.path.join(DATA, "traffic.pcap")
    text = os.path.join(DATA, "traffic.txt")
    if not os.path.exists(pcap) or not all(
        os.path.exists(os.path.join(DATA, f"rules-{n}.rules")) for n in SIZES
    ):
        progress(f"generating benchmark data in {DATA}")
        subprocess.check_call(
            [sys.executable, os.path.join(ROOT, "bench", "gen_bench.py"), DATA,
             "--sizes", ",".join(SIZES)])
    payload_mb = os.path.getsize(text) / 1e6
    # The text as the pipeline hands it to Hyperscan: a second ceiling.
    norm_text = os.path.join(DATA, "traffic.norm.txt")
    if not os.path.exists(norm_text) or os.path.getmtime(norm_text) < os.path.getmtime(TSF):
        progress("normalizing the payload text (tapsift normalize)")
        with open(norm_text, "wb") as f:
            subprocess.check_call([TSF, "normalize", text], stdout=f)
    results = {"payload_MB": round(payload_mb, 1), "cpus": NPROC, "reps": REPS, "sizes": []}
    for n in SIZES:
        rules = os.path.join(DATA, f"rules-{n}.rules")
        pats = os.path.join(DATA, f"patterns-{n}.txt")
        r = {"rules": n}
        progress(f"{n} rules: parse + compile")
        out, err, wall, rss = run_rss([TSF, "rules", "check", rules])
        m = re.search(r"parsed in ([0-9.]+) s, compiled in ([0-9.]+) s, databases (\d+)", out)
        r["parse_s"], r["compile_s"], r["db_MB"] = float(m.group(1)), float(m.group(2)), int(m.group(3)) / 1e6
        r["compile_peak_rss_MiB"] = round(rss)
        r["pipeline"] = {}
        for t in sorted({1, NPROC}):
            progress(f"{n} rules: tapsift scan, {t} thread(s)")
            out, err, wall, rss = best_scan([TSF, "scan", "--rules", rules, "--pcap", pcap, "--quiet",
                                             "--threads", str(t)])
            pb = stat(err, "payload_bytes") / 1e6
            r["pipeline"][t] = {"whole_run_MBps": round(pb / wall, 1),
                                "scan_phase_MBps": round(scan_MBps(err), 1),
                                "verdicts": int(stat(err, "verdicts")),
                                "peak_rss_MiB": round(rss), "wall_s": round(wall, 2)}
        progress(f"{n} rules: tapsift scan, Hyperscan-only matcher, 1 thread")
        out, err, wall, rss = best_scan([TSF, "scan", "--rules", rules, "--pcap", pcap, "--quiet",
                                         "--threads", "1", "--matcher", "hs"])
        r["pipeline_hs_only_scan_MBps"] = round(scan_MBps(err), 1)
        r["pipeline_hs_only_verdicts"] = int(stat(err, "verdicts"))
        progress(f"{n} rules: tapsift scan, normalization off, 1 thread")
        out, err, wall, rss = best_scan([TSF, "scan", "--rules", rules, "--pcap", pcap, "--quiet",
                                         "--threads", "1", "--normalize", "none"])
        r["pipeline_norm_off_scan_MBps"] = round(scan_MBps(err), 1)
        progress(f"{n} rules: raw Hyperscan block mode on the same bytes")
        hs_db = os.path.join(DATA, f"hs-{n}.db")  # compiled once, reused by the pairs below
        if os.path.exists(hs_db):
            os.unlink(hs_db)
        os.environ["BENCH_HS_DB"] = hs_db
        out, err, wall, rss = run_rss([os.path.join(ROOT, BUILD, "bench", "bench_hs"), rules, text])
        del os.environ["BENCH_HS_DB"]
        hs = json.loads(out)
        r["raw_hs_MBps"] = hs["MBps"]
        r["raw_hs_compile_s"] = hs["compile_s"]
        progress(f"{n} rules: raw Hyperscan block mode on the normalized bytes")
        out, err, wall, rss = run_rss([os.path.join(ROOT, BUILD, "bench", "bench_hs"), rules, norm_text])
        hsn = json.loads(out)
        # payload MB per second of scanning the normalized form of that payload
        r["raw_hs_norm_MBps"] = round(payload_mb / hsn["scan_s"], 1) if hsn["scan_s"] else 0
        progress(f"{n} rules: LC_ALL=C grep -F -c -f")
        env = dict(os.environ, LC_ALL="C")
        t0 = time.monotonic()
        subprocess.run(["grep", "-F", "-c", "-f", pats, text], env=env, stdout=subprocess.DEVNULL)
        r["grep_F_MBps"] = round(payload_mb / (time.monotonic() - t0), 1)
        r["paired"] = paired(n, rules, pcap, text, hs_db)
        os.unlink(hs_db)
        one = r["pipeline"][1]["scan_phase_MBps"]
        r["pipeline_vs_raw_hs"] = round(one / hs["MBps"], 2) if hs["MBps"] else 0
        alln = r["pipeline"][max(r["pipeline"])]["scan_phase_MBps"]
        r["pipeline_all_workers_vs_raw_hs"] = round(alln / hs["MBps"], 2) if hs["MBps"] else 0
        r["pipeline_vs_raw_hs_norm"] = round(one / r["raw_hs_norm_MBps"], 2) if r["raw_hs_norm_MBps"] else 0
        results["sizes"].append(r)
        print(json.dumps(r), flush=True)

    print()
    print(f"tapsift scan benchmark: {payload_mb:.0f} MB of payload, {NPROC} CPUs "
          "(MB/s of payload; pipeline = 1 worker unless noted)")
    hdr = ("| literals | parse s | compile s | compile RSS MiB | pipeline whole run | pipeline scan phase"
           f" | pipeline {NPROC} workers | HS-only pipeline | norm off | raw HS block | raw HS block, normalized bytes"
           f" | pipeline/raw HS | paired pipeline/raw HS, median (range) | {NPROC} workers/raw HS"
           " | pipeline/raw HS normalized | grep -F | scan RSS MiB |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in results["sizes"]:
        p1, pn, pr = r["pipeline"][1], r["pipeline"][max(r["pipeline"])], r["paired"]
        print(f"| {r['rules']} | {r['parse_s']:.2f} | {r['compile_s']:.1f} | {r['compile_peak_rss_MiB']} "
              f"| {p1['whole_run_MBps']} | {p1['scan_phase_MBps']} | {pn['scan_phase_MBps']} "
              f"| {r['pipeline_hs_only_scan_MBps']} | {r['pipeline_norm_off_scan_MBps']} | {r['raw_hs_MBps']} | {r['raw_hs_norm_MBps']} "
              f"| {r['pipeline_vs_raw_hs']} | {pr['median']} ({pr['min']}-{pr['max']})"
              f" | {r['pipeline_all_workers_vs_raw_hs']} | {r['pipeline_vs_raw_hs_norm']} "
              f"| {r['grep_F_MBps']} | {p1['peak_rss_MiB']} |")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "scan.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("saved bench/results/scan.json")


if __name__ == "__main__":
    main()
