# tests/live_lib.sh - shared setup of the live-capture tests (sourced by
# tests/it_live*.sh).  Creates two network namespaces joined by a veth pair
# (10.200.0.1 / fd00:200::1 on side a, .2 / ::2 on side b) and always
# removes them on exit, even when a test fails or is interrupted.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${TSF_BIN:-$ROOT/${TSF_BUILD:-build}/tapsift}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
TOOL="python3 $ROOT/tests/live_tool.py"
FAILS=0
ID=$(( $$ % 100000 ))
NSA=tsf$ID-a NSB=tsf$ID-b
IFA=tsf${ID}a IFB=tsf${ID}b
A4=10.200.0.1 B4=10.200.0.2 A6=fd00:200::1 B6=fd00:200::2
TMP=$(mktemp -d /tmp/tsf-live.XXXXXX)
BG_PIDS=""
TS_PID=""
WD_PID=""

ok() { echo "ok - $1"; }
nok() { echo "not ok - $1"; FAILS=$((FAILS + 1)); }
# check NAME CMD...: one result line from a command's status.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else nok "$name"; fi
}

live_cleanup() {
	local p
	[ -n "$WD_PID" ] && kill -TERM "$WD_PID" 2>/dev/null
	for p in $TS_PID $BG_PIDS; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	[ -n "${LIVE_KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}

# live_require NAME: skips the whole script where it cannot run.
live_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "skip - $1 (needs root)"
		exit 0
	fi
	for t in ip bpftool python3 tc; do
		if ! command -v $t >/dev/null; then
			echo "skip - $1 (no $t)"
			exit 0
		fi
	done
	if [ ! -x "$BIN" ]; then
		echo "not ok - $1: no binary $BIN"
		exit 1
	fi
	trap live_cleanup EXIT
	trap 'exit 130' INT TERM
	# Bounded time whatever happens: the watchdog ends the script, and
	# the EXIT trap still removes the namespaces.
	# The sleep must not hold our stdout open after we exit.
	(
		trap 'kill $sp 2>/dev/null; exit 0' TERM
		sleep "${LIVE_TIMEOUT:-240}" >/dev/null 2>&1 &
		sp=$!
		wait $sp
		echo "not ok - $1: timed out"
		kill -TERM $$
	) &
	WD_PID=$!
}

nsa() { ip netns exec "$NSA" "$@"; }
nsb() { ip netns exec "$NSB" "$@"; }

net_up() {
	ip netns add "$NSA" && ip netns add "$NSB" &&
		ip link add "$IFA" type veth peer name "$IFB" &&
		ip link set "$IFA" netns "$NSA" && ip link set "$IFB" netns "$NSB" &&
		nsa ip addr add $A4/24 dev "$IFA" && nsb ip addr add $B4/24 dev "$IFB" &&
		nsa ip -6 addr add $A6/64 dev "$IFA" nodad && nsb ip -6 addr add $B6/64 dev "$IFB" nodad &&
		nsa ip link set lo up && nsb ip link set lo up &&
		nsa ip link set "$IFA" up && nsb ip link set "$IFB" up
}

# start_tapsift NAME ARGS...: tapsift run on side a, output in $TMP/NAME.{out,err};
# returns once it has attached (or failed).
start_tapsift() {
	local name=$1
	shift
	# ip netns exec execs tapsift: $! is tapsift itself, signals reach it.
	ip netns exec "$NSA" "$BIN" run --iface "$IFA" --duration 120 "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	TS_PID=$!
	for _ in $(seq 200); do
		grep -q "capturing on" "$TMP/$name.err" && return 0
		kill -0 "$TS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "  tapsift did not start:" >&2
	sed 's/^/  | /' "$TMP/$name.err" >&2
	return 1
}

# stop_tapsift [SIGNAL]: sets TS_RC.
stop_tapsift() {
	kill -"${1:-INT}" "$TS_PID" 2>/dev/null
	wait "$TS_PID" 2>/dev/null
	TS_RC=$?
	TS_PID=""
}

# stat NAME COUNTER: a counter from the stats tapsift printed at exit.
stat() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$TMP/$1.err"; }

# accounting NAME: the kernel's counters add up exactly, and userspace
# received every record the kernel wrote.
accounting() {
	local n=$1 seen sum
	seen=$(stat "$n" bpf_seen)
	sum=$(( $(stat "$n" bpf_skipped) + $(stat "$n" bpf_port_filtered) + $(stat "$n" bpf_bypassed) +
		$(stat "$n" bpf_unsampled) + $(stat "$n" bpf_over_budget) + $(stat "$n" bpf_throttled) +
		$(stat "$n" bpf_sampled) ))
	[ "$seen" -gt 0 ] && [ "$seen" -eq "$sum" ] &&
		[ "$(stat "$n" bpf_sampled)" -eq $(( $(stat "$n" bpf_delivered) + $(stat "$n" bpf_ringbuf_full) )) ] &&
		[ "$(stat "$n" bpf_records)" -eq "$(stat "$n" bpf_received)" ] || {
		echo "  accounting of $n does not add up:" >&2
		grep bpf_ "$TMP/$n.err" | sed 's/^/  | /' >&2
		return 1
	}
}

# udp_server ADDR PORT: a one-datagram receiver in side a, bound when this
# returns; its pid in UDP_PID.
udp_server() {
	local r=$TMP/ready.$2
	rm -f "$r"
	nsa $TOOL udp-server "$1" "$2" --count 1 --ready "$r" &
	UDP_PID=$!
	for _ in $(seq 400); do
		[ -e "$r" ] && return 0
		sleep 0.025
	done
	return 1
}

# summary NAME: per-flow JSON summary of a --debug dump.
summary() { $TOOL summary "$TMP/$1.out"; }

# jq-less JSON query: jget FILE PYTHON-EXPR (f is the parsed summary).
jget() { python3 -c "import json,re,sys; f=json.load(open(sys.argv[1])); print($2)" "$1"; }

# no_program_left: none of tapsift's BPF programs is loaded any more (an
# attached program is always loaded, so this also means nothing attached).
no_program_left() {
	local n
	for _ in $(seq 100); do
		n=$(bpftool prog show 2>/dev/null | grep -cE 'name tsf_(tc_ingress|tc_egress|xdp) ')
		[ "$n" -eq 0 ] && return 0
		sleep 0.05
	done
	bpftool prog show | grep -E 'name tsf_' >&2
	return 1
}

live_done() {
	[ "$FAILS" -eq 0 ]
	exit $?
}
