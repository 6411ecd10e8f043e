#!/usr/bin/env python3
"""Integration test: generated labelled corpora through `tapsift scan`.

For every case of tests/gen/corpus.py: all expected verdicts present, none on
the negative flow directions, none that the corpus does not expect (exact
set).  Also: --threads 1 and --threads 4 agree, and text-file mode (--text).
Env: TSF_BUILD (default "build"), TSF_CORPUS_KEEP=dir keeps the corpora.
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "gen"))
import corpus  # noqa: E402

BUILD = os.environ.get("TSF_BUILD", "build")
TSF = os.path.join(BUILD, "tapsift")
results = []
OFFSET_BAD, OFFSET_N = [], [0]


def report(ok, name, detail=""):
    results.append(ok)
    print(("ok - %s" % name) if ok else ("not ok - %s (%s)" % (name, detail)))
    sys.stdout.flush()


def key5(d):
    return (str(d["proto"]).lower(), ipaddress.ip_address(d["src_ip"]).compressed, int(d["src_port"]),
            ipaddress.ip_address(d["dst_ip"]).compressed, int(d["dst_port"]))


def flowkey(k):
    a, b = (k[1], k[2]), (k[3], k[4])
    return (k[0],) + (a + b if a <= b else b + a)


def scan(args, timeout=600):
    p = subprocess.run([TSF, "scan"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    verdicts, bad = [], 0
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            verdicts.append(json.loads(line))
        except ValueError:
            bad += 1
    return p.returncode, verdicts, bad, p.stderr.decode("utf-8", "replace")


def check_corpus(label, d, extra_args=(), want_cases=None):
    exp = [json.loads(x) for x in open(os.path.join(d, "expected.jsonl"), encoding="utf-8")]
    neg = [json.loads(x) for x in open(os.path.join(d, "negatives.jsonl"), encoding="utf-8")]
    rc, vs, bad, err = scan(["--rules", os.path.join(d, "rules.rules"), "--pcap",
                             os.path.join(d, "traffic.pcap"), "--format", "json"] + list(extra_args))
    if rc != 0 or bad:
        report(False, "%s:scan" % label, "exit %d, %d unparsable lines, stderr: %s" %
               (rc, bad, err.strip().splitlines()[-1:] if err.strip() else ""))
    else:
        report(True, "%s:scan" % label)
    got = set()
    for v in vs:
        try:
            got.add(key5(v) + (int(v["rule_id"]),))
        except (KeyError, ValueError, TypeError):
            pass
    case_of_flow = {}
    for e in exp + neg:
        case_of_flow.setdefault(flowkey(key5(e)), e["case"])
    want = defaultdict(set)
    for e in exp:
        want[e["case"]].add(key5(e) + (int(e["rule_id"]),))
    negdirs = defaultdict(set)
    for n in neg:
        negdirs[n["case"]].add(key5(n))
    # offsets: where the corpus knows the end of the match (plain text flows, raw rules)
    offs = {}
    for v in vs:
        try:
            offs.setdefault(key5(v) + (int(v["rule_id"]),), v.get("offset"))
        except (KeyError, ValueError, TypeError):
            pass
    for e in exp:
        if "offset" in e:
            k = key5(e) + (int(e["rule_id"]),)
            if k in offs and offs[k] != e["offset"]:
                OFFSET_BAD.append("%s %s rule %s: offset %s, want %s" % (label, e["case"], e["rule_id"],
                                                                        offs[k], e["offset"]))
            OFFSET_N[0] += 1
    allwant = set().union(*want.values()) if want else set()
    extra_by_case = defaultdict(set)
    for g in got - allwant:
        extra_by_case[case_of_flow.get(flowkey(g[:5]), "unattributed")].add(g)
    per_case = {}
    for case in sorted(set(want) | set(negdirs) | set(extra_by_case)):
        missing = want.get(case, set()) - got
        extra = extra_by_case.get(case, set())
        onneg = {g for g in got if g[:5] in negdirs.get(case, set())}
        per_case[case] = (missing, extra | onneg, len(want.get(case, ())), len(negdirs.get(case, ())))
    return per_case, got


def fmt(items, n=3):
    items = sorted(items)
    s = "; ".join("%s %s:%s>%s:%s rule %s" % g for g in items[:n])
    return s + (" ..." if len(items) > n else "")


def merge_report(prefix, per_cases):
    merged = defaultdict(lambda: [set(), set(), 0, 0])
    for pc in per_cases:
        for case, (mi, ex, nw, nn) in pc.items():
            m = merged[case]
            m[0] |= mi
            m[1] |= ex
            m[2] += nw
            m[3] += nn
    for case in sorted(merged):
        mi, ex, nw, nn = merged[case]
        if not mi and not ex:
            report(True, "%s:%s" % (prefix, case))
        else:
            det = []
            if mi:
                det.append("missing %d/%d: %s" % (len(mi), nw, fmt(mi)))
            if ex:
                det.append("extra %d: %s" % (len(ex), fmt(ex)))
            report(False, "%s:%s" % (prefix, case), "; ".join(det))


def text_mode(tmp, d):
    rules = os.path.join(d, "rules.rules")
    gen = corpus.Gen(11)  # same seed as corpus A -> same rules
    r = [x for x in gen.rules if x.kind == "lit" and x.lang == "cn"][7]
    en = [x for x in gen.rules if x.kind == "lit" and x.lang == "en"][3]
    f1 = os.path.join(tmp, "doc1.txt")
    f2 = os.path.join(tmp, "doc2.txt")
    f3 = os.path.join(tmp, "doc3-utf16.txt")
    with open(f1, "w", encoding="utf-8") as fh:
        fh.write("今天天气很好，我们去公园散步。\n" + r.pat + "，详情请看。\n")
    with open(f2, "w", encoding="utf-8") as fh:
        fh.write("the meeting agenda is on the table. nothing to see here.\n")
    with open(f3, "wb") as fh:
        fh.write(b"\xff\xfe" + ("notes: " + en.pat.upper() + " !\n").encode("utf-16-le"))
    rc, vs, bad, err = scan(["--rules", rules, "--text", f1, f2, f3, "--format", "json"])
    hits = {(os.path.basename(str(v.get("file", ""))), int(v.get("rule_id", 0))) for v in vs}
    want = {("doc1.txt", r.id), ("doc3-utf16.txt", en.id)}
    ok = rc == 0 and hits == want
    report(ok, "corpus:text-files", "exit %d, got %s, want %s; %s" % (rc, sorted(hits), sorted(want),
                                                                       err.strip()[-200:]))


def pcap_time_range(path):
    import struct
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    ns = struct.unpack(e + "I", data[:4])[0] == 0xA1B23C4D
    pos, lo, hi = 24, None, None
    while pos + 16 <= len(data):
        sec, frac, cl, _ = struct.unpack(e + "IIII", data[pos:pos + 16])
        t = sec + frac / (1e9 if ns else 1e6)
        lo = t if lo is None else min(lo, t)
        hi = t if hi is None else max(hi, t)
        pos += 16 + cl
    return lo, hi


def verdict_fields(d):
    """Every verdict carries the contract's keys; category and sev are the rule's;
    ts lies inside the capture."""
    import re
    rules = {}
    for line in open(os.path.join(d, "rules.rules"), encoding="utf-8"):
        if not line.strip() or line.startswith("#"):
            continue
        t = line.split()
        m = re.search(r" sev=(\d)", line)
        rules[int(t[0])] = (t[1], int(m.group(1)) if m else 3)
    rc, vs, bad, err = scan(["--rules", os.path.join(d, "rules.rules"), "--pcap",
                             os.path.join(d, "traffic.pcap"), "--format", "json"])
    lo, hi = pcap_time_range(os.path.join(d, "traffic.pcap"))
    need = "ts proto src_ip src_port dst_ip dst_port rule_id category sev offset excerpt ruleset".split()
    probs = []
    for v in vs:
        miss = [k for k in need if k not in v]
        if miss:
            probs.append("missing %s" % miss)
            continue
        cat, sev = rules.get(int(v["rule_id"]), (None, None))
        if (v["category"], v["sev"]) != (cat, sev):
            probs.append("rule %s: category/sev %s/%s, want %s/%s" % (v["rule_id"], v["category"], v["sev"],
                                                                     cat, sev))
        if v["proto"] not in ("tcp", "udp"):
            probs.append("proto %r" % v["proto"])
        try:
            ts = float(v["ts"])
            if not (lo - 1e-3 <= ts <= hi + 1e-3):
                probs.append("ts %s outside %.6f..%.6f" % (v["ts"], lo, hi))
        except (TypeError, ValueError):
            probs.append("ts %r" % v["ts"])
        if not isinstance(v["offset"], int) or v["offset"] < 0:
            probs.append("offset %r" % v["offset"])
        if not isinstance(v["excerpt"], str):
            probs.append("excerpt %r" % v["excerpt"])
    report(rc == 0 and vs and not probs, "corpus:verdict-fields",
           "%d verdicts, %d problems: %s" % (len(vs), len(probs), "; ".join(sorted(set(probs))[:4])))


def no_defrag_check(d):
    """The fragments case is found only through reassembly: with --no-defrag
    every one of its verdicts is gone (and the fragments counted), with it
    they are there and the frag_* counters add up; other cases do not care."""
    exp = [json.loads(x) for x in open(os.path.join(d, "expected.jsonl"), encoding="utf-8")]
    frag = {key5(e) + (int(e["rule_id"]),) for e in exp if e["case"] == "fragments"}
    other = {key5(e) + (int(e["rule_id"]),) for e in exp if e["case"] != "fragments"}
    args = ["--rules", os.path.join(d, "rules.rules"), "--pcap", os.path.join(d, "traffic.pcap"),
            "--format", "json"]

    def run(extra):
        rc, vs, bad, err = scan(args + extra)
        got = {key5(v) + (int(v["rule_id"]),) for v in vs if "rule_id" in v}
        st = {}
        for line in err.splitlines():
            t = line.split()
            if len(t) == 2 and t[1].isdigit():
                st[t[0]] = int(t[1])
        return rc, got, st

    rc0, got0, st0 = run([])
    rc1, got1, st1 = run(["--no-defrag"])
    ok = (rc0 == 0 and rc1 == 0 and frag and frag <= got0 and not (frag & got1) and
          other <= got1 and st1.get("pkt_fragment", 0) > 0 and "frag_packets" not in st1 and
          st0.get("frag_reassembled", 0) >= len(frag) and "pkt_fragment" not in st0)
    report(ok, "corpus:no-defrag", "exit %d/%d, %d fragment verdicts, with defrag %d, without %d; "
           "other cases lost %d; stats %s / %s" % (
               rc0, rc1, len(frag), len(frag & got0), len(frag & got1), len(other - got1),
               {k: v for k, v in st0.items() if "frag" in k}, {k: v for k, v in st1.items() if "frag" in k}))


def sample_check(tmp):
    """rules/sample.pcap (what `make run` shows) gives exactly the verdicts
    tests/gen/sample.py says it was made for."""
    root = os.path.dirname(HERE)
    p = subprocess.run([sys.executable, os.path.join(HERE, "gen", "sample.py"),
                        os.path.join(tmp, "sample.pcap"), "--expected"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    want = sorted(int(x.split()[0]) for x in p.stdout.decode().splitlines() if x.strip())
    rc, vs, bad, err = scan(["--rules", os.path.join(root, "rules", "sample.rules"), "--pcap",
                             os.path.join(root, "rules", "sample.pcap"), "--format", "json"])
    got = sorted(int(v["rule_id"]) for v in vs if "rule_id" in v)
    report(rc == 0 and got == want and len(want) > 20, "corpus:sample-pcap",
           "exit %d, missing %s, extra %s" % (rc, sorted(set(want) - set(got)), sorted(set(got) - set(want))))


def main():
    if not os.access(TSF, os.X_OK):
        report(False, "corpus:binary", "%s not built" % TSF)
        return 1
    keep = os.environ.get("TSF_CORPUS_KEEP")
    tmp = keep or tempfile.mkdtemp(prefix="tsf-corpus-")
    try:
        # name, seed, link, per-case, format, nanosecond, endian
        specs = [("A", 11, "ethernet", 4, "pcap", False, "<"),
                 ("B", 12, "ethernet", 3, "pcap", True, "<")]
        others = [("sll", 13, "sll", 2, "pcap", False, ">"),
                  ("sll2", 15, "sll2", 1, "pcap", True, "<"),
                  ("rawip", 14, "raw", 2, "pcap", False, "<"),
                  ("pcapng", 16, "ethernet", 1, "pcapng", False, "<")]
        dirs = {}
        for name, seed, link, per, fmt_, ns, endian in specs + others:
            dirs[name] = os.path.join(tmp, name)
            corpus.generate(dirs[name], seed=seed, link=link, per_case=per, fmt=fmt_, nanos=ns,
                            endian=endian)
        pcs = []
        for name, *_ in specs:
            pc, _ = check_corpus("corpus[%s]" % name, dirs[name])
            pcs.append(pc)
        merge_report("corpus", pcs)
        report(not OFFSET_BAD and OFFSET_N[0] > 0, "corpus:offsets",
               "%d of %d wrong: %s" % (len(OFFSET_BAD), OFFSET_N[0], "; ".join(OFFSET_BAD[:4])))
        # other link types / file formats: one line each unless something fails
        for name, *_ in others:
            pc, _ = check_corpus("corpus-%s" % name, dirs[name])
            bad = {c: v for c, v in pc.items() if v[0] or v[1]}
            if not bad:
                report(True, "corpus-%s:all-cases" % name)
            else:
                merge_report("corpus-%s" % name, [bad])
        # thread count must not change results: whole verdicts, ts and
        # excerpt included
        rules = os.path.join(dirs["A"], "rules.rules")
        pcap = os.path.join(dirs["A"], "traffic.pcap")
        sets = []
        for t in ("1", "4"):
            rc, vs, bad, err = scan(["--rules", rules, "--pcap", pcap, "--format", "json",
                                     "--threads", t])
            sets.append((rc, {json.dumps(v, sort_keys=True) for v in vs if "rule_id" in v}))
        same = sets[0] == sets[1] and sets[0][0] == 0
        report(same, "corpus:threads-1-vs-4", "exit %d/%d, only-1: %d, only-4: %d" % (
            sets[0][0], sets[1][0], len(sets[0][1] - sets[1][1]), len(sets[1][1] - sets[0][1])))
        verdict_fields(dirs["A"])
        no_defrag_check(dirs["A"])
        text_mode(tmp, dirs["A"])
        sample_check(tmp)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
