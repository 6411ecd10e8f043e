#!/bin/bash
# it_live_cleanup.sh - tapsift leaves nothing attached: tcx and XDP links
# die with the process even on SIGKILL; the clsact fallback removes its
# filters, and the qdisc only when tapsift created it.
. "$(dirname "$0")/live_lib.sh"
live_require it_live_cleanup
net_up || { nok "cleanup: create namespaces and veth"; live_done; }

has_clsact() { nsa tc qdisc show dev "$IFA" | grep -q clsact; }
our_filters() { nsa tc filter show dev "$IFA" ingress; nsa tc filter show dev "$IFA" egress; }
no_filters() { ! our_filters 2>/dev/null | grep -q tsf_; }
udp_probe() { # one datagram, so each mode shows it captures something
	udp_server $A4 5353
	local u=$UDP_PID
	nsb $TOOL udp-send $A4 5353 --data "$1"
	wait $u
}

# --- tcx, SIGKILL: the links go with the process's file descriptors.
if start_tapsift tcx --debug dump --poll-ms 20; then
	udp_probe 'tcx probe'
	for _ in $(seq 100); do grep -q 'tcx probe' "$TMP/tcx.out" && break; sleep 0.05; done
	check "tcx: captures" grep -q '"tcx probe"' "$TMP/tcx.out"
	stop_tapsift KILL
	check "tcx: nothing attached after SIGKILL" no_program_left
	check "tcx: no qdisc created" sh -c "! ip netns exec $NSA tc qdisc show dev $IFA | grep -q clsact"
else
	nok "tcx: tapsift starts"
fi

# --- clsact fallback, qdisc created by tapsift: removed at exit.
if start_tapsift cls --debug dump --attach clsact --poll-ms 20; then
	check "clsact: attach mode reported" grep -q "(clsact)" "$TMP/cls.err"
	check "clsact: qdisc and filters present while running" sh -c "ip netns exec $NSA tc qdisc show dev $IFA | grep -q clsact && ip netns exec $NSA tc filter show dev $IFA ingress | grep -q tsf_tc_ingress && ip netns exec $NSA tc filter show dev $IFA egress | grep -q tsf_tc_egress"
	udp_probe 'clsact probe'
	stop_tapsift INT
	check "clsact: captures" grep -q '"clsact probe"' "$TMP/cls.out"
	check "clsact: counters add up" accounting cls
	check "clsact: our qdisc removed at exit" sh -c "! ip netns exec $NSA tc qdisc show dev $IFA | grep -q clsact"
	check "clsact: nothing attached after exit" no_program_left
else
	nok "clsact: tapsift starts"
fi

# --- clsact that existed before: our filters go, the qdisc (and another
# tool's filter on it) stays.
nsa tc qdisc add dev "$IFA" clsact
# classic BPF "return 0": another tool's filter, on the only classifier sure to exist
nsa tc filter add dev "$IFA" ingress prio 7 protocol all bpf bytecode '1,6 0 0 0,' classid 1:1
if start_tapsift cls2 --debug count --attach clsact --poll-ms 20; then
	stop_tapsift TERM
	check "clsact pre-existing: qdisc kept" has_clsact
	check "clsact pre-existing: the other filter kept" sh -c "ip netns exec $NSA tc filter show dev $IFA ingress | grep -q \"bytecode '1,6 0 0 0'\""
	check "clsact pre-existing: our filters removed" no_filters
	check "clsact pre-existing: nothing attached after exit" no_program_left
else
	nok "clsact pre-existing: tapsift starts"
fi
nsa tc qdisc del dev "$IFA" clsact

# --- clsact and SIGKILL: filters outlive the process (documented); deleting
# the qdisc, as docs/live.md says, releases them.
if start_tapsift cls3 --debug count --attach clsact --poll-ms 20; then
	stop_tapsift KILL
	check "clsact SIGKILL: filters remain (documented limitation)" sh -c "ip netns exec $NSA tc filter show dev $IFA ingress | grep -q tsf_tc_ingress"
	nsa tc qdisc del dev "$IFA" clsact
	check "clsact SIGKILL: tc qdisc del releases everything" no_program_left
else
	nok "clsact SIGKILL: tapsift starts"
fi

# --- XDP (generic and native), SIGKILL: the XDP link dies with the process.
for mode in generic native; do
	if start_tapsift xdp-$mode --debug dump --xdp=$mode --poll-ms 20; then
		check "xdp $mode: attach mode reported" grep -q "(xdp" "$TMP/xdp-$mode.err"
		check "xdp $mode: program on the interface" sh -c "ip netns exec $NSA ip link show dev $IFA | grep -q xdp"
		udp_probe "xdp $mode probe"
		for _ in $(seq 100); do grep -q "xdp $mode probe" "$TMP/xdp-$mode.out" && break; sleep 0.05; done
		check "xdp $mode: ingress captured by XDP" grep -q "ingress udp .*\"xdp $mode probe\"" "$TMP/xdp-$mode.out"
		# IP fragments through the XDP program's own copy path
		udp_server $A4 5355
		u=$UDP_PID
		nsb $TOOL udp-send $A4 5355 --data 'big' --pad-after 3000 --no-df
		wait $u
		for _ in $(seq 100); do grep -q "^frag .* off=2960 len=51\$" "$TMP/xdp-$mode.out" && break; sleep 0.05; done
		check "xdp $mode: IP fragments copied raw" grep -q "^frag if=[0-9]* ingress ipv4 proto=17 $B4 > $A4 id=[0-9]* off=1480 len=1480 more" "$TMP/xdp-$mode.out"
		stop_tapsift KILL
		check "xdp $mode: nothing attached after SIGKILL" no_program_left
		check "xdp $mode: interface has no XDP program" sh -c "! ip netns exec $NSA ip link show dev $IFA | grep -q xdp"
	else
		nok "xdp $mode: tapsift starts"
	fi
done

live_done
