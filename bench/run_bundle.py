#!/usr/bin/env python3
"""bench/run_bundle.py BUILD - the rule bundle benchmark (make bench).

For each generated literal set (BENCH_BUNDLE_SIZES, default 100k,1m; labels
of gen_bench.py, Chinese and English literals) plus 300 regexes:
  - `tapsift rules compile` cold (--no-cache): wall time, peak RSS, bundle size
  - the same again with a warm cache (every layer a load, not a compile)
  - `tapsift rules sign`: wall time
  - loading as a gateway does (`tapsift rules info --load --trust`): load
    time, resident memory after the load, peak RSS of the process
  - pushing it to a gateway (`tapsift rules serve --control ipc://...`):
    wall time from send to the "ok" answer (transfer, verify, load)
Prints a table and writes bench/results/bundle.json.  10m needs ~3 GB while
compiling and ~4 minutes (generating the literals takes 100 s of that).
"""
import json, os, re, subprocess, sys

from bundle_lib import save_results, NREGEX, ROOT, Bench, progress

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
B = Bench(BUILD)
DATA, TSF = B.data, B.tsf
SIZES = os.environ.get("BENCH_BUNDLE_SIZES", "100k,1m,10m").split(",")
# sizes also compiled with every literal in Hyperscan (--matcher hs), for comparison;
# Hyperscan refuses more than 8M patterns and needs ~2.4 GB and ~1 min at 1M
HS_SIZES = os.environ.get("BENCH_BUNDLE_HS_SIZES", "100k,1m").split(",")
run_rss = B.run_rss


def main():
    B.ensure_sets(SIZES)
    rx = B.regexes()
    key = B.key()
    cache = os.path.join(DATA, "cache")
    subprocess.run(["rm", "-rf", cache])
    results = {"cpus": os.cpu_count(), "regexes": NREGEX, "sizes": []}
    for n in SIZES:
        rules = os.path.join(DATA, f"rules-{n}.rules")
        out_tsb = os.path.join(DATA, f"set-{n}.tsb")
        r = {"literals": n}
        progress(f"{n}: rules compile, cold (no cache)")
        out, err, wall, rss = run_rss([TSF, "rules", "compile", rules, rx, "-o", out_tsb,
                                       "--version", "1", "--no-cache", "-q"])
        r["rules"] = int(re.search(r": (\d+) rules", out).group(1))
        r["compile_cold_s"] = round(wall, 2)
        r["compile_cold_cpu_s"] = round(B.cpu, 2)  # wall inflates on a busy host
        r["compile_peak_rss_MiB"] = round(rss)
        r["bundle_MB"] = round(os.path.getsize(out_tsb) / 1e6, 1)
        progress(f"{n}: rules compile, filling the cache")
        run_rss([TSF, "rules", "compile", rules, rx, "-o", out_tsb, "--version", "2",
                 "--cache", cache, "-q"])
        progress(f"{n}: rules compile, warm cache")
        out, err, wall, rss = run_rss([TSF, "rules", "compile", rules, rx, "-o", out_tsb,
                                       "--version", "3", "--cache", cache, "-q"])
        if "0 layer(s) compiled" not in out:
            raise SystemExit(f"warm compile did not use the cache: {out}")
        r["compile_warm_s"] = round(wall, 2)
        r["compile_warm_peak_rss_MiB"] = round(rss)
        progress(f"{n}: rules sign")
        out, err, wall, rss = run_rss([TSF, "rules", "sign", out_tsb, "--key", key + ".key"])
        r["sign_s"] = round(wall, 2)
        progress(f"{n}: load as a gateway (verify signature + hash, deserialize)")
        out, err, wall, rss = run_rss([TSF, "rules", "info", out_tsb, "--load", "--trust",
                                       key + ".pub"])
        m = re.search(r"^load\s+([0-9.]+) s, databases (\d+) bytes, literal index (\d+) bytes, "
                      r"resident (\d+) MB", out, re.M)
        r["load_s"] = float(m.group(1))
        r["hs_db_MB"] = round(int(m.group(2)) / 1e6, 1)
        r["lit_index_MB"] = round(int(m.group(3)) / 1e6, 1)
        r["resident_after_load_MiB"] = int(m.group(4))
        # CPU of the whole `rules info --load` process (describe + load): wall
        # is inflated when other jobs share the two cores
        r["info_load_process_cpu_s"] = round(B.cpu, 2)
        r["load_process_peak_rss_MiB"] = round(rss)
        r["load_process_wall_s"] = round(wall, 2)
        if n in HS_SIZES:
            hs_tsb = os.path.join(DATA, f"set-{n}-hs.tsb")
            progress(f"{n}: rules compile --matcher hs (Hyperscan only, for comparison)")
            out, err, wall, rss = run_rss([TSF, "rules", "compile", rules, rx, "-o", hs_tsb,
                                           "--version", "1", "--no-cache", "-q", "--matcher", "hs"])
            r["hs_only"] = {"compile_s": round(wall, 2), "compile_cpu_s": round(B.cpu, 2),
                            "compile_peak_rss_MiB": round(rss),
                            "bundle_MB": round(os.path.getsize(hs_tsb) / 1e6, 1)}
            out, err, wall, rss = run_rss([TSF, "rules", "info", hs_tsb, "--load"])
            m = re.search(r"^load\s+([0-9.]+) s, .* resident (\d+) MB", out, re.M)
            r["hs_only"]["load_s"] = float(m.group(1))
            r["hs_only"]["resident_after_load_MiB"] = int(m.group(2))
            os.unlink(hs_tsb)
        progress(f"{n}: push to a gateway over ipc (transfer + verify + load)")
        ep = "ipc://" + os.path.join(DATA, "ctl.sock")
        srv = subprocess.Popen([TSF, "rules", "serve", "--control", ep, "--trust", key + ".pub"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            srv.stderr.readline()  # "control socket on ..."
            out, err, wall, rss = run_rss([TSF, "rules", "push", out_tsb, "--to", ep,
                                           "--timeout", "120"])
            if ": ok 3 " not in out:
                raise SystemExit(f"push failed: {out}")
            r["push_to_live_s"] = round(wall, 2)
            # the gateway's peak: the received message plus the loaded set
            with open(f"/proc/{srv.pid}/status") as st:
                hwm = [l for l in st if l.startswith("VmHWM:")]
            r["push_gateway_peak_rss_MiB"] = int(hwm[0].split()[1]) // 1024 if hwm else 0
        finally:
            srv.terminate()
            srv.wait()
        results["sizes"].append(r)
        print(json.dumps(r), flush=True)

    hdr = ("literals", "rules", "compile s", "cpu s", "peak RSS MiB", "bundle MB", "index MB", "warm s",
           "sign s", "load s", "resident MiB", "push s")
    print()
    print("rule bundles (%d regexes added to each set; compile --no-cache; load = verify + "
          "deserialize)" % NREGEX)
    print("%-9s %9s %10s %8s %13s %10s %9s %7s %7s %7s %13s %7s" % hdr)
    for r in results["sizes"]:
        print("%-9s %9d %10.2f %8.2f %13d %10.1f %9.1f %7.2f %7.2f %7.3f %13d %7.2f" % (
            r["literals"], r["rules"], r["compile_cold_s"], r["compile_cold_cpu_s"],
            r["compile_peak_rss_MiB"], r["bundle_MB"], r["lit_index_MB"],
            r["compile_warm_s"], r["sign_s"], r["load_s"],
            r["resident_after_load_MiB"], r["push_to_live_s"]))
    hs_rows = [r for r in results["sizes"] if "hs_only" in r]
    if hs_rows:
        print()
        print("the same sets with every literal in Hyperscan (--matcher hs)")
        print("%-9s %10s %8s %13s %10s %7s %13s" % ("literals", "compile s", "cpu s",
                                                   "peak RSS MiB", "bundle MB", "load s",
                                                   "resident MiB"))
        for r in hs_rows:
            h = r["hs_only"]
            print("%-9s %10.2f %8.2f %13d %10.1f %7.3f %13d" % (
                r["literals"], h["compile_s"], h["compile_cpu_s"], h["compile_peak_rss_MiB"],
                h["bundle_MB"], h["load_s"], h["resident_after_load_MiB"]))
    save_results("bundle", results)


if __name__ == "__main__":
    main()
