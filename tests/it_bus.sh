#!/bin/bash
# it_bus.sh - the bus subcommands end to end, on ipc and loopback TCP:
# watch (json shape, category filter, gap recovery), replay (ranges, bad
# requests), relay (2 sensors x 2 consumers, restart), CURVE with an
# allow-list.  A synthetic sensor (build/bench/bench_bus --sensor) publishes
# through the real publisher sink.  Timeouts only keep a failure from hanging.
set -u
B=${TSF_BUILD:-build}
T=$B/tapsift
S=$B/bench/bench_bus
fail=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fail=1; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
if [ ! -x "$T" ] || [ ! -x "$S" ]; then
	echo "not ok - it_bus needs $T and $S (make all)"
	exit 1
fi
D=$(mktemp -d /tmp/tsf-it-bus.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
W="timeout -k 5 60"

# 1. watch: every verdict, as JSON lines shaped like `scan --format json`.
$S --sensor "ipc://$D/s1" --count 200 --wait-subs 2 --journal "$D/j1" --replay "ipc://$D/r1" \
	--linger 30 --id gw1 >"$D/s1.out" 2>&1 &
pids+=($!)
s1=$!
$W $T watch "ipc://$D/s1" --count 200 --timeout 30 >"$D/w1.json" 2>"$D/w1.err"
check "watch receives 200 verdicts" '[ "$(wc -l <"$D/w1.json")" -eq 200 ]'
check "watch prints JSON lines with the scan fields" "python3 - \"$D/w1.json\" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
need = {'rule', 'category', 'excerpt'}
assert all(need & set(r) for r in rows), rows[0]
PY"
check "watch reports no gaps" 'grep -q "gaps 0 (0 missing)" "$D/w1.err"'

# 2. replay a range; refuse nonsense.
$W $T replay "ipc://$D/r1" --from 51 --to 150 >"$D/r1.json" 2>"$D/r1.err"
check "replay --from 51 --to 150 gives 100 verdicts" '[ "$(wc -l <"$D/r1.json")" -eq 100 ]'
check "replayed lines equal the live ones" 'cmp -s "$D/r1.json" <(sed -n 51,150p "$D/w1.json")'
$W $T replay "ipc://$D/r1" --from 0 >/dev/null 2>&1
check "replay --from 0 is a usage error" '[ $? -eq 2 ]'
$W $T replay "ipc://$D/r1" --from 10 --to 5 >/dev/null 2>&1
check "replay --to before --from is a usage error" '[ $? -eq 2 ]'
$W $T replay "ipc://$D/nothing-here" --from 1 --timeout 1 >/dev/null 2>"$D/r2.err"
rc=$?
check "replay without an answer fails cleanly" '[ $rc -eq 1 ] && grep -q "no answer" "$D/r2.err"'
$W $T replay "ipc://$D/r1" --from 1000 >"$D/r3.json" 2>&1
check "replay beyond the newest is empty, not an error" '[ $? -eq 0 ] && ! grep -q "^{" "$D/r3.json"'
$W $T watch --bogus >/dev/null 2>&1
check "watch rejects unknown options" '[ $? -eq 2 ]'
kill $s1 2>/dev/null

# 3. category filter.

port=$((20000 + RANDOM % 20000))
$S --sensor "tcp://127.0.0.1:$port" --count 200 --wait-subs 2 --linger 30 >/dev/null 2>&1 &
pids+=($!)
s2=$!
$W $T watch "tcp://127.0.0.1:$port" --category fraud --count 56 --timeout 30 >"$D/w2.json" 2>"$D/w2.err"
check "watch --category fraud gets exactly the fraud verdicts" \
	'[ "$(wc -l <"$D/w2.json")" -eq 56 ] && [ "$(grep -c "\"category\":\"fraud\"" "$D/w2.json")" -eq 56 ]'
kill $s2 2>/dev/null

# 4. relay: two sensors, two consumers with different subscriptions.
$T relay --in "ipc://$D/a" --in "ipc://$D/b" --out "ipc://$D/out" 2>"$D/relay.err" &
relay=$!
pids+=($relay)
$W $T watch "ipc://$D/out" --count 400 --timeout 30 >"$D/c1.json" 2>"$D/c1.err" &
c1=$!
$W $T watch "ipc://$D/out" --category fraud --category phishing --category malware \
	--category spam --count 400 --timeout 30 >"$D/c2.json" 2>"$D/c2.err" &
c2=$!
# 6 distinct subscriptions reach each sensor: v1.verdict., v1.stats. and 4 categories.
$S --sensor "ipc://$D/a" --id A --count 200 --wait-subs 6 --linger 20 >/dev/null 2>&1 &
sa=$!
pids+=($sa)
$S --sensor "ipc://$D/b" --id B --count 200 --wait-subs 6 --linger 20 >/dev/null 2>&1 &
sb=$!
pids+=($sb)
wait $c1
r1=$?
wait $c2
r2=$?
check "relay: consumer 1 gets 400 from 2 sensors" '[ $r1 -eq 0 ] && [ "$(wc -l <"$D/c1.json")" -eq 400 ] && grep -q "from 2 sensor" "$D/c1.err"'
check "relay: consumer 2 gets 400 from 2 sensors" '[ $r2 -eq 0 ] && [ "$(wc -l <"$D/c2.json")" -eq 400 ] && grep -q "gaps 0" "$D/c2.err"'
kill $sa $sb 2>/dev/null

# 5. relay restart: the sensor keeps publishing; the consumer sees the gap
#    (or the Stats message shows a lost tail) and fetches it from the journal.
$S --sensor "ipc://$D/c" --id C --count 3000 --rate 1000 --wait-subs 2 --stats-ms 300 \
	--journal "$D/jc" --replay "ipc://$D/rc" --linger 20 >/dev/null 2>&1 &
sc=$!
pids+=($sc)
$T relay --in "ipc://$D/c" --out "ipc://$D/out2" 2>/dev/null &
rl=$!
$W $T watch "ipc://$D/out2" --replay "ipc://$D/rc" --count 3000 --timeout 30 >"$D/c3.json" 2>"$D/c3.err" &
c3=$!
sleep 1
kill $rl
wait $rl 2>/dev/null
sleep 0.5
$T relay --in "ipc://$D/c" --out "ipc://$D/out2" 2>/dev/null &
rl=$!
pids+=($rl)
wait $c3
r3=$?
check "relay restart: all 3000 verdicts arrive (live or replayed)" \
	'[ $r3 -eq 0 ] && [ "$(wc -l <"$D/c3.json")" -eq 3000 ]'
check "relay restart: the gap was reported and recovered" 'grep -q "recovered" "$D/c3.err"'
kill $sc $rl 2>/dev/null

# 6. A late subscriber: everything published before it subscribed comes
#    from the journal with --from (the Stats message tells how far to go).
$S --sensor "ipc://$D/late" --id L --count 100 --stats-ms 300 --journal "$D/jl" \
	--replay "ipc://$D/rl" --linger 30 >"$D/late.out" 2>&1 &
sl=$!
pids+=($sl)
for _ in $(seq 100); do grep -q published "$D/late.out" && break; sleep 0.1; done
$W $T watch "ipc://$D/late" --replay "ipc://$D/rl" --from 1 --count 100 --timeout 30 \
	>"$D/late.json" 2>"$D/late.err"
check "watch --from 1 fetches what was published before it subscribed" \
	'[ "$(wc -l <"$D/late.json")" -eq 100 ] && grep -q "recovered 100" "$D/late.err"'
$W $T watch "ipc://$D/late" --replay "ipc://$D/rl" --from 1 --category spam --count 16 \
	--timeout 30 >"$D/late2.json" 2>/dev/null
check "... and under a category filter" \
	'[ "$(grep -c "\"category\":\"spam\"" "$D/late2.json")" -eq 16 ] && [ "$(wc -l <"$D/late2.json")" -eq 16 ]'
kill $sl 2>/dev/null

# 7. The real sensor: `scan --publish --journal` on the sample capture; the
#    journal, read back (replay --journal), gives exactly `scan --format json`.
if [ -f rules/sample.pcap ] && [ -f rules/sample.rules ]; then
	$T scan --rules rules/sample.rules --pcap rules/sample.pcap --format json \
		>"$D/scan.json" 2>/dev/null
	$T scan --rules rules/sample.rules --pcap rules/sample.pcap --quiet \
		--publish "ipc://$D/scanpub" --journal "$D/js" >/dev/null 2>"$D/scanpub.err"
	$W $T replay --journal "$D/js" --from 1 >"$D/js.json" 2>/dev/null
	check "scan --publish journals every verdict, identical to scan --format json" \
		'[ -s "$D/scan.json" ] && cmp -s <(sort "$D/scan.json") <(sort "$D/js.json")'
	check "scan reports the publisher counters" 'grep -q "bus_journaled" "$D/scanpub.err"'
else
	echo "skip - scan --publish end to end (no rules/sample.pcap)"
fi

# 8. CURVE with an allow-list.
$T watch --gen-key "$D/srv" >/dev/null && $T watch --gen-key "$D/cli" >/dev/null &&
	$T watch --gen-key "$D/other" >/dev/null
check "watch --gen-key writes key pairs" '[ -s "$D/srv" ] && [ -s "$D/srv.pub" ] && [ "$(stat -c %a "$D/srv")" = 600 ]'
port=$((20000 + RANDOM % 20000))
$S --sensor "tcp://127.0.0.1:$port" --count 50 --wait-subs 1 --linger 30 \
	--curve-secret "$D/srv" --curve-allow "$D/cli.pub" >/dev/null 2>&1 &
sk=$!
pids+=($sk)
$W $T watch "tcp://127.0.0.1:$port" --curve-server-key "$D/srv.pub" --curve-key "$D/other" \
	--count 1 --timeout 3 >"$D/k2.json" 2>/dev/null
rk=$?
check "CURVE: a client missing from the allow-list gets nothing" '[ $rk -eq 1 ] && [ ! -s "$D/k2.json" ]'
$W $T watch "tcp://127.0.0.1:$port" --curve-server-key "$D/srv.pub" --curve-key "$D/cli" \
	--count 50 --timeout 30 >"$D/k1.json" 2>/dev/null
check "CURVE: the allowed client receives everything" '[ "$(wc -l <"$D/k1.json")" -eq 50 ]'
kill $sk 2>/dev/null

# 9. CURVE on both sides of a relay: sensor -> relay (as an allowed client),
#    relay -> consumer (the relay's own key and allow-list).
$T watch --gen-key "$D/relay" >/dev/null
p1=$((20000 + RANDOM % 20000))
p2=$((p1 + 1))
$T relay --in "tcp://127.0.0.1:$p1" --curve-server-key "$D/srv.pub" --curve-key "$D/cli" \
	--out "tcp://127.0.0.1:$p2" --curve-secret "$D/relay" --curve-allow "$D/cli.pub" 2>/dev/null &
rk=$!
pids+=($rk)
$W $T watch "tcp://127.0.0.1:$p2" --curve-server-key "$D/relay.pub" --curve-key "$D/cli" \
	--count 30 --timeout 30 >"$D/k3.json" 2>/dev/null &
wk=$!
$S --sensor "tcp://127.0.0.1:$p1" --count 30 --wait-subs 2 --linger 10 \
	--curve-secret "$D/srv" --curve-allow "$D/cli.pub" >/dev/null 2>&1 &
pids+=($!)
wait $wk
check "CURVE through a relay, both hops encrypted and authenticated" \
	'[ "$(wc -l <"$D/k3.json")" -eq 30 ]'
kill $rk 2>/dev/null
exit $fail
