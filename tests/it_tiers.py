#!/usr/bin/env python3
"""it_tiers.py - differential test of the two matcher tiers.

The literal index + Hyperscan (--matcher index: every literal of 6..255
normalized bytes in the index, whatever the set's size) must report exactly
the verdicts of a Hyperscan-only build (--matcher hs): same rule, flow direction, offset and
excerpt, on generated corpora (every evasion case of tests/gen/corpus.py)
and on a text corpus with thousands of literals sharing prefixes.
"""
import json, os, random, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("TSF_BUILD", "build")
TSF = os.path.join(ROOT, BUILD, "tapsift")
failed = 0


def check(name, ok, detail=""):
    global failed
    print(f"ok - {name}" if ok else f"not ok - {name} {detail}", flush=True)
    failed += not ok


def verdicts(args):
    out = subprocess.run([TSF, "scan", "--no-stats", "--format", "json"] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode != 0:
        raise SystemExit(out.stderr.decode(errors="replace"))
    keys = set()
    for line in out.stdout.decode().splitlines():
        v = json.loads(line)
        keys.add((v.get("file"), v.get("src_ip"), v.get("src_port"), v.get("dst_ip"), v.get("dst_port"),
                  v["rule_id"], v["offset"], v["excerpt"]))
    return keys


def compare(name, args):
    a = verdicts(args + ["--matcher", "index"])
    b = verdicts(args + ["--matcher", "hs"])
    check(f"tiers:{name} ({len(b)} verdicts)", a == b and len(b) > 0,
          f"only tiered: {sorted(a - b)[:3]} only hs: {sorted(b - a)[:3]}")


def text_corpus(d, seed):
    rnd = random.Random(seed)
    cn = "免费领取红包转账账户验证码返利刷单换脸声音克隆客服退款理赔安全保证金解冻高额回报日结导师带单"
    en = ["verify", "wallet", "bonus", "claim", "deepfake", "voice", "clone", "crypto", "refund", "gift"]
    lits = set()
    while len(lits) < 3000:
        if rnd.random() < 0.5:
            lits.add("".join(rnd.choice(cn) for _ in range(rnd.randint(2, 8))))
        else:
            lits.add(" ".join(rnd.choice(en) for _ in range(rnd.randint(1, 4))))
    lits = sorted(lits)
    with open(os.path.join(d, "t.rules"), "w") as f:
        for i, l in enumerate(lits):
            f.write(f'{i + 1} cat{i % 5} "{l}"\n')
    files = []
    for k in range(20):
        parts = []
        for _ in range(400):
            r = rnd.random()
            if r < 0.05:
                parts.append(rnd.choice(lits))  # a planted literal, maybe at a slice edge
            elif r < 0.5:
                parts.append(rnd.choice(cn))
            else:
                parts.append(rnd.choice(en) + rnd.choice(" ,.\u200b"))
        p = os.path.join(d, f"doc{k}.txt")
        with open(p, "w") as f:
            f.write("".join(parts) * (1 + k))  # long documents cross the 16 KiB slices
        files.append(p)
    return files


def main():
    with tempfile.TemporaryDirectory() as d:
        for seed in (301, 302):
            c = os.path.join(d, f"c{seed}")
            subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "corpus.py"), c,
                            "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
            compare(f"corpus-{seed}", ["--rules", os.path.join(c, "rules.rules"),
                                       "--pcap", os.path.join(c, "traffic.pcap")])
        compare("sample", ["--rules", os.path.join(ROOT, "rules", "sample.rules"),
                           "--pcap", os.path.join(ROOT, "rules", "sample.pcap")])
        files = text_corpus(d, 7)
        compare("text-3000-literals", ["--rules", os.path.join(d, "t.rules"), "--text"] + files)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
