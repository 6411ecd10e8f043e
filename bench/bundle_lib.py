"""bench/bundle_lib.py - what the rule bundle benchmarks share (run_bundle.py,
run_swap.py): paths, the generated literal sets, the regexes added to them,
the signing key, and running a command while measuring it."""
import json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NREGEX = 300


class Bench:
    """Paths for BUILD: the tapsift binary and the data directory
    (BENCH_BUNDLE_DATA, default BUILD/bench-data-bundle)."""

    def __init__(self, build):
        self.build = build if os.path.isabs(build) else os.path.join(ROOT, build)
        self.data = os.environ.get("BENCH_BUNDLE_DATA",
                                   os.path.join(self.build, "bench-data-bundle"))
        self.tsf = os.path.join(self.build, "tapsift")
        os.makedirs(self.data, exist_ok=True)

    def rules(self, n):
        return os.path.join(self.data, f"rules-{n}.rules")

    def ensure_sets(self, sizes):
        """The generated literal sets (gen_bench.py labels: 100k, 1m, 10m)."""
        missing = [n for n in sizes if not os.path.exists(self.rules(n))]
        if missing:
            progress(f"generating literal sets {','.join(missing)} in {self.data}")
            subprocess.check_call([sys.executable, os.path.join(ROOT, "bench", "gen_bench.py"),
                                   self.data, "--sizes", ",".join(missing), "--mb", "1"])

    def regexes(self):
        """The regex rule file added to every set; returns its path."""
        path = os.path.join(self.data, "regexes.rules")
        write_regexes(path)
        return path

    def key(self):
        """The signing key pair: returns the path without .key / .pub."""
        keys = os.path.join(self.data, "keys")
        os.makedirs(keys, exist_ok=True)
        key = os.path.join(keys, "bench")
        if not os.path.exists(key + ".key"):
            subprocess.check_call([self.tsf, "rules", "keygen", "-o", key],
                                  stdout=subprocess.DEVNULL)
        return key

    def run_rss(self, cmd, env=None):
        """Runs cmd; returns stdout, stderr, wall seconds, peak RSS (MiB) of
        the child; its CPU seconds in self.cpu."""
        t0 = time.monotonic()
        outp, errp = os.path.join(self.data, "cmd.out"), os.path.join(self.data, "cmd.err")
        pid = os.fork()
        if pid == 0:
            try:
                out = os.open(outp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                err = os.open(errp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                os.dup2(out, 1)
                os.dup2(err, 2)
                if env:
                    os.execvpe(cmd[0], cmd, env)
                os.execvp(cmd[0], cmd)
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
        wall = time.monotonic() - t0
        out = open(outp, errors="replace").read()
        err = open(errp, errors="replace").read()
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            sys.stderr.write(out + err)
            raise SystemExit(f"failed: {' '.join(cmd)} (exit {code})")
        self.cpu = ru.ru_utime + ru.ru_stime
        return out, err, wall, ru.ru_maxrss / 1024.0


def save_results(name, results):
    """Writes bench/results/NAME.json."""
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", name + ".json"), "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")


def progress(msg):
    print(f"  .. {msg}", flush=True)


def write_regexes(path):
    """A few hundred regexes in the style of real fraud signatures (the file
    is rewritten only when they change: run_swap.py keeps bundles newer
    than their inputs)."""
    words = ["wallet", "bitcoin", "password", "account", "refund", "verify", "prize", "gift",
             "免费", "领取", "中奖", "验证", "账户", "客服", "退款"]
    lines = []
    for i in range(NREGEX):
        a, b = words[i % len(words)], words[(i * 7 + 3) % len(words)]
        kind = i % 3
        if kind == 0:
            rx = f"/{a}\\s*[:：]?\\s*{b}\\d{{{2 + i % 4}}}/i"
        elif kind == 1:
            rx = f"/{a}.{{0,{8 + i % 16}}}{b}/"
        else:
            rx = f"/(?:{a}|{b})[a-z0-9]{{{3 + i % 5}}}-{i}/i"
        lines.append(f"{90000000 + i} regex_{i % 7} {rx}\n")
    text = "".join(lines)
    if os.path.exists(path) and open(path, encoding="utf-8").read() == text:
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
