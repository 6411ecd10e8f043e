#!/bin/bash
# CLI contract tests for the tapsift binary: help, exit codes, rule errors
# reported as file:line:col: message, damaged captures.
# Env: TSF_BUILD (default build).  Prints "ok - x" / "not ok - x".
set -u
BUILD=${TSF_BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
TSF=$BUILD/tapsift
PY=python3
fails=0
ok() { echo "ok - cli:$1"; }
nok() { echo "not ok - cli:$1 ($2)"; fails=$((fails + 1)); }
check() { # name condition-exit-status detail
	if [ "$2" -eq 0 ]; then ok "$1"; else nok "$1" "$3"; fi
}
if [ ! -x "$TSF" ]; then
	nok binary "$TSF not built"
	exit 1
fi
T=$(mktemp -d /tmp/tsf-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

# run CMD...: sets rc, out, err
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# ---- help
run "$TSF" --help
check help "$([ $rc -eq 0 ] && grep -q scan "$T/out"; echo $?)" "exit $rc"
for c in scan run rules normalize watch relay replay; do
	run "$TSF" "$c" --help
	check "help-$c" "$([ $rc -eq 0 ] && [ -n "$out" ]; echo $?)" "exit $rc, stdout ${#out} bytes"
done
run "$TSF" rules check --help
check help-rules-check "$([ $rc -eq 0 ]; echo $?)" "exit $rc"
run "$TSF"
check no-args-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" frobnicate
check unknown-command-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" scan --rules rules/sample.rules --bogus-flag
check scan-unknown-option-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" scan --rules rules/sample.rules --pcap rules/sample.pcap --format yaml
check scan-bad-format-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" scan --pcap rules/sample.pcap
check scan-no-rules-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" scan --rules rules/sample.rules
check scan-no-input-exit-2 "$([ $rc -eq 2 ]; echo $?)" "exit $rc"
run "$TSF" rules check rules/sample.rules
check rules-check-sample "$([ $rc -eq 0 ]; echo $?)" "exit $rc: $err"

# ---- good rules
cat >"$T/good.rules" <<'EOF'
# a comment, then a blank line

101 fraud "免费领取" sev=4 msg="free \"gift\" claim"
102 scam_en "verify your wallet"
103 deepfake_ad "\u{58F0}音克隆"
104 marker "X-Probe\x3a 1\t2\\" raw
105 regex /deep\s*fake\s*(voice|video)/i sev=5
106 aigc-template "一键生成" sev=1
4294967295 fraud "max id"
EOF
run "$TSF" rules check "$T/good.rules"
check rules-check-good "$([ $rc -eq 0 ] && grep -q '[0-9]' "$T/out"; echo $?)" "exit $rc: $out $err"
check rules-check-counts "$(grep -qE '\b7\b' "$T/out"; echo $?)" "count 7 not in: $out"

# ---- bad rules: bad LINE expected_col, placed on line 3 of a file
bad() { # name expected_col line
	local name=$1 col=$2 line=$3 f=$T/bad-$1.rules
	printf '# bad rule test\n1 fraud "ok one"\n%s\n2 fraud "ok two"\n' "$line" >"$f"
	run "$TSF" rules check "$f"
	if [ $rc -ne 2 ]; then
		nok "bad-$name" "exit $rc, want 2; stderr: $err"
	elif ! grep -qE "^$(printf '%s' "$f" | sed 's/[.[\*^$/]/\\&/g'):3:$col: .+" "$T/err"; then
		nok "bad-$name" "want $f:3:$col: message; got: $err"
	else
		ok "bad-$name"
	fi
}
bad escape-q 12 '5 fraud "ab\qc"'
bad escape-xZ 11 '5 fraud "a\xZ1"'
bad escape-u 11 '5 fraud "a\u{110000}"'
bad empty-literal 9 '5 fraud ""'
bad regex-paren 9 '5 regex /(a/'
bad regex-range 9 '5 regex /a{2,1}/'
bad id-zero 1 '0 fraud "x"'
bad id-too-big 1 '4294967296 fraud "x"'
bad id-not-number 1 'x12 fraud "x"'
bad category-chars 3 '5 Bad! "x"'
bad category-long 3 '5 abcdefghijklmnopqrstuvwxyz0123456 "x"'
bad sev-9 13 '5 fraud "x" sev=9'
bad sev-0 13 '5 fraud "x" sev=0'
bad unknown-option 13 '5 fraud "x" bogus'
bad unterminated-quote 9 '5 fraud "abc'
bad unterminated-regex 9 '5 regex /abc'
bad regex-flag 14 '5 regex /abc/x'
bad missing-pattern 9 '5 fraud sev=3'

# duplicate id across two files: reported at the second definition
printf '# a\n7 fraud "alpha"\n' >"$T/a.rules"
printf '# b\n7 fraud "beta"\n' >"$T/b.rules"
run "$TSF" rules check "$T/a.rules" "$T/b.rules"
if [ $rc -eq 2 ] && grep -qE "^$T/b\.rules:2:1: .+" "$T/err"; then ok dup-id-two-files; else
	nok dup-id-two-files "exit $rc; got: $err"; fi
run "$TSF" rules check "$T/nonexistent.rules"
check rules-check-missing-file-exit-1 "$([ $rc -eq 1 ]; echo $?)" "exit $rc"
# scan refuses bad rules with the same message and exit 2
run "$TSF" scan --rules "$T/bad-sev-9.rules" --text "$T/good.rules"
check scan-bad-rules-exit-2 "$([ $rc -eq 2 ] && grep -q 'bad-sev-9.rules:3:13: ' "$T/err"; echo $?)" "exit $rc: $err"

# ---- captures: one small clean capture, then damaged copies
$PY - "$T" <<'EOF'
import sys, os, random
sys.path.insert(0, "tests/gen")
import pcapgen as pg
t = sys.argv[1]
rng = random.Random(5)
net = pg.Net()
frames = []
s = pg.TcpSession(("10.1.2.3", 40000), ("192.0.2.7", 80), rng)
msgs = [(0, "你好，今天天气不错\n".encode()), (1, "今天我们免费领取礼品，明天开会\n".encode())]
frames += s.render(net, pg.segment_messages(msgs, 1400))
s2 = pg.TcpSession(("10.1.2.4", 40001), ("192.0.2.8", 25), rng)
msgs2 = [(0, b"hello\n"), (1, b"the meeting notes: verify your wallet now please\n")]
frames += s2.render(net, pg.segment_messages(msgs2, 1400))
with open(os.path.join(t, "ok.pcap"), "wb") as f:
    w = pg.PcapWriter(f)
    for i, fr in enumerate(frames):
        w.write(1_700_000_000_000_000_000 + i * 1000_000, fr)
data = open(os.path.join(t, "ok.pcap"), "rb").read()
# truncated tail: cut inside the last record (a FIN of flow 2, after both hits)
open(os.path.join(t, "trunc.pcap"), "wb").write(data[:-30])
# truncated record header
open(os.path.join(t, "trunc-hdr.pcap"), "wb").write(data + b"\x01\x02\x03\x04\x05")
open(os.path.join(t, "garbage.pcap"), "wb").write(b"this is not a capture file at all\n" * 3)
open(os.path.join(t, "short.pcap"), "wb").write(data[:10])
open(os.path.join(t, "empty.pcap"), "wb").write(b"")
# a record claiming a huge caplen
import struct
bad = data[:24] + struct.pack("<IIII", 1, 0, 0x7fffffff, 0x7fffffff) + b"x" * 64
open(os.path.join(t, "hugecap.pcap"), "wb").write(bad)
EOF
run "$TSF" scan --rules "$T/good.rules" --pcap "$T/ok.pcap" --format json
check scan-ok-exit-0 "$([ $rc -eq 0 ]; echo $?)" "exit $rc: $err"
$PY - "$T/out" >"$T/jsoncheck" 2>&1 <<'EOF'
import json, sys
need = "ts proto src_ip src_port dst_ip dst_port rule_id category sev offset excerpt ruleset".split()
got = {}
for line in open(sys.argv[1], encoding="utf-8"):
    v = json.loads(line)
    miss = [k for k in need if k not in v]
    if miss:
        print("missing keys", miss); sys.exit(1)
    got[v["rule_id"]] = v
want = {101: ("192.0.2.7", 80, "10.1.2.3", 40000, "fraud", 4),
        102: ("192.0.2.8", 25, "10.1.2.4", 40001, "scam_en", 3)}
if set(got) != set(want):
    print("rule ids", sorted(got)); sys.exit(1)
for rid, (si, sp, di, dp, cat, sev) in want.items():
    v = got[rid]
    if (v["src_ip"], v["src_port"], v["dst_ip"], v["dst_port"], v["category"], v["sev"], v["proto"]) != \
       (si, sp, di, dp, cat, sev, "tcp"):
        print("verdict", v); sys.exit(1)
print("fine")
EOF
check scan-json-verdicts "$(grep -q fine "$T/jsoncheck"; echo $?)" "$(head -c 300 "$T/jsoncheck")"
run "$TSF" scan --rules "$T/good.rules" --pcap "$T/ok.pcap" --format text
check scan-text-format "$([ $rc -eq 0 ] && [ "$(grep -c . "$T/out")" -eq 2 ] && ! grep -q '^{' "$T/out"; echo $?)" "exit $rc, out: $out"

for f in trunc trunc-hdr; do
	run "$TSF" scan --rules "$T/good.rules" --pcap "$T/$f.pcap" --format json
	n=$(grep -c '"rule_id"' "$T/out")
	check "pcap-$f-keeps-verdicts" "$([ $rc -le 1 ] && [ "$n" -eq 2 ]; echo $?)" "exit $rc, $n verdicts: $err"
	check "pcap-$f-reported" "$(grep -q "$f.pcap" "$T/err"; echo $?)" "stderr does not name the file: $err"
done
for f in garbage short empty; do
	run "$TSF" scan --rules "$T/good.rules" --pcap "$T/$f.pcap" --format json
	check "pcap-$f-exit-1" "$([ $rc -eq 1 ] && [ -n "$err" ]; echo $?)" "exit $rc: $err"
done
run "$TSF" scan --rules "$T/good.rules" --pcap "$T/hugecap.pcap" --format json
check pcap-huge-caplen-no-crash "$([ $rc -le 1 ]; echo $?)" "exit $rc: $err"
run "$TSF" scan --rules "$T/good.rules" --pcap "$T/missing.pcap"
check pcap-missing-exit-1 "$([ $rc -eq 1 ]; echo $?)" "exit $rc"
run "$TSF" scan --rules "$T/missing.rules" --pcap "$T/ok.pcap"
check rules-missing-exit-1 "$([ $rc -eq 1 ]; echo $?)" "exit $rc"
# a bad capture among good ones: the good ones are still scanned, exit 1
run "$TSF" scan --rules "$T/good.rules" --pcap "$T/garbage.pcap" --pcap "$T/ok.pcap" --format json
n=$(grep -c '"rule_id"' "$T/out")
check pcap-bad-then-good "$([ $rc -eq 1 ] && [ "$n" -eq 2 ]; echo $?)" "exit $rc, $n verdicts"
run "$TSF" scan --rules "$T/good.rules" --text "$T/missing.txt"
check text-missing-exit-1 "$([ $rc -eq 1 ]; echo $?)" "exit $rc"
printf '今天我们免费领取礼品\n' | "$TSF" scan --rules "$T/good.rules" --text - --format json >"$T/out" 2>"$T/err"
rc=$?
check text-stdin "$([ $rc -eq 0 ] && grep -q '"rule_id": *101' "$T/out"; echo $?)" "exit $rc: $(cat "$T/out" "$T/err" | head -c 300)"

[ $fails -eq 0 ]
