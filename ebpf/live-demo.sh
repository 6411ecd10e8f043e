#!/bin/bash
# ebpf/live-demo.sh [BUILD] - the whole live pipeline on a throwaway veth
# pair: two network namespaces, `tapsift run` on one end, the bundled sample
# traffic (rules/sample.pcap, addresses rewritten into test ranges) replayed
# onto the other end, verdicts printed as text; the namespaces are removed on
# exit whatever happens.  Needs root.  For `make run` (scripts/run-demo.sh).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD:-build}}
if [ "$(id -u)" != 0 ]; then
	echo "live demo: needs root (eBPF and network namespaces); skipped" >&2
	exit 0
fi
ID=$$
NSA=tsfdemo$ID-a NSB=tsfdemo$ID-b IFA=tsfd${ID}a IFB=tsfd${ID}b
TMP=$(mktemp -d /tmp/tsf-demo.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NSA" && ip netns add "$NSB" &&
	ip link add "$IFA" type veth peer name "$IFB" &&
	ip link set "$IFA" netns "$NSA" && ip link set "$IFB" netns "$NSB" &&
	ip -n "$NSA" link set "$IFA" up && ip -n "$NSB" link set "$IFB" up || {
	echo "live demo: cannot create the veth pair" >&2
	exit 1
}
echo "== tapsift run --iface $IFA --rules rules/sample.rules --format text (in netns $NSA)" >&2
ip netns exec "$NSA" "$BUILD/tapsift" run --iface "$IFA" ${DEMO_ARGS:---rules rules/sample.rules} \
	--format text --poll-ms 20 --duration 60 >"$TMP/out" 2>"$TMP/err" &
PID=$!
for _ in $(seq 400); do
	grep -q "capturing on" "$TMP/err" && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.025
done
if ! grep -q "capturing on" "$TMP/err"; then
	cat "$TMP/err" >&2
	exit 1
fi
ip netns exec "$NSB" python3 tests/live_replay.py rules/sample.pcap "$IFB"
sleep 0.3 # one poll period for the last records; SIGINT then drains the rest anyway
kill -INT "$PID"
wait "$PID"
rc=$?
PID=""
cat "$TMP/out"
cat "$TMP/err" >&2
echo "== $(wc -l <"$TMP/out") verdicts from live capture" >&2
exit $rc
