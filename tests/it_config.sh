#!/bin/bash
# it_config.sh - options from a config file (--config) behave like flags;
# a bad key or value names the file and line and exits 2.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/${TSF_BUILD:-build}/tapsift
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
check() { if eval "$2"; then echo "ok - config: $1"; else echo "not ok - config: $1"; fails=$((fails + 1)); fi; }

printf '# sample\nrules %s\nformat = json\nthreads 1\nquiet\n' "$ROOT/rules/sample.rules" >"$T/a.conf"
"$BIN" scan --config "$T/a.conf" --pcap "$ROOT/rules/sample.pcap" >"$T/out" 2>"$T/err"
check "quiet from the file, stats still on stderr" '[ $? -eq 0 ] && [ ! -s "$T/out" ] && grep -q "verdicts *28" "$T/err"'
printf 'rules %s\nformat text\n' "$ROOT/rules/sample.rules" >"$T/b.conf"
"$BIN" scan -c "$T/b.conf" --pcap "$ROOT/rules/sample.pcap" --no-stats >"$T/out" 2>"$T/err"
check "values from the file (text format, 28 verdicts)" '[ "$(grep -c " rule " "$T/out")" -eq 28 ]'
"$BIN" scan -c "$T/b.conf" --format json --pcap "$ROOT/rules/sample.pcap" --no-stats >"$T/out" 2>&1
check "a later flag overrides the file" '[ "$(grep -c "^{" "$T/out")" -eq 28 ]'
printf 'threads 2\nbogus 1\n' >"$T/c.conf"
"$BIN" scan -c "$T/c.conf" --pcap x >"$T/out" 2>"$T/err"
rc=$?
check "unknown key: exit 2 with file:line" '[ $rc -eq 2 ] && grep -q "c.conf:2: unknown option .bogus." "$T/err"'
printf 'threads many\n' >"$T/d.conf"
"$BIN" scan -c "$T/d.conf" --pcap x >"$T/out" 2>"$T/err"
rc=$?
check "bad value: exit 2 with file:line" '[ $rc -eq 2 ] && grep -q "d.conf:1: bad value for .threads." "$T/err"'
"$BIN" scan -c "$T/missing.conf" --pcap x >"$T/out" 2>"$T/err"
check "missing file: exit 2 and the reason" '[ $? -eq 2 ] && grep -q "missing.conf: No such file" "$T/err"'
# IP reassembly options, from a file and as flags, on a capture of
# fragmented datagrams whose signatures only reassembly finds.
python3 "$ROOT/tests/gen/corpus.py" "$T/fc" --seed 3 --per-case 1 --cases fragments 2>/dev/null
want=$(wc -l <"$T/fc/expected.jsonl")
"$BIN" scan --rules "$T/fc/rules.rules" --pcap "$T/fc/traffic.pcap" >"$T/out" 2>"$T/err"
check "fragments reassembled by default ($want verdicts)" '[ "$want" -gt 0 ] && [ "$(grep -c "^{" "$T/out")" -eq "$want" ] && grep -q "frag_reassembled" "$T/err"'
printf 'rules %s\nno-defrag\n' "$T/fc/rules.rules" >"$T/e.conf"
"$BIN" scan -c "$T/e.conf" --pcap "$T/fc/traffic.pcap" >"$T/out" 2>"$T/err"
check "no-defrag from the file: fragments counted, nothing found" '[ ! -s "$T/out" ] && grep -q "pkt_fragment" "$T/err" && ! grep -q "frag_packets" "$T/err"'
"$BIN" scan --rules "$T/fc/rules.rules" --pcap "$T/fc/traffic.pcap" --frag-timeout 0 >"$T/out" 2>"$T/err"
check "--frag-timeout 0: every datagram times out" '[ ! -s "$T/out" ] && grep -q "frag_timeouts" "$T/err" && ! grep -q "frag_reassembled" "$T/err"'
"$BIN" scan --rules "$T/fc/rules.rules" --pcap "$T/fc/traffic.pcap" --frag-memcap 100 >"$T/out" 2>"$T/err"
check "--frag-memcap 100: memcap drops, nothing found" '[ ! -s "$T/out" ] && grep -q "frag_memcap_drops" "$T/err"'
"$BIN" scan --rules "$T/fc/rules.rules" --pcap "$T/fc/traffic.pcap" --frag-timeout soon >"$T/out" 2>"$T/err"
check "--frag-timeout soon: exit 2" '[ $? -eq 2 ]'
[ $fails -eq 0 ]
