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
[ $fails -eq 0 ]
