#!/bin/bash
# it_live.sh - tapsift run on a veth in a network namespace: real TCP (HTTP,
# bulk writes that travel as GSO super-packets) and UDP over IPv4 and IPv6
# from the peer namespace; every payload byte must come through the ring
# buffer, with counters that add up.
. "$(dirname "$0")/live_lib.sh"
live_require it_live
net_up || { nok "live: create namespaces and veth"; live_done; }

# --- capture side: debug dump (no engine), every record printed (IP
# fragments as "frag" lines: the dump does not reassemble).
if start_tapsift dump --debug dump --poll-ms 20; then
	ok "live: tapsift attaches"
else
	nok "live: tapsift attaches"
	# nothing else can run without an attached program
	live_done
fi
check "live: attached through a tcx link" grep -q "(tcx)" "$TMP/dump.err"
check "live: programs loaded while running" sh -c "bpftool prog show | grep -q 'name tsf_tc_ingress'"

BULK=300000
nsa $TOOL tcp-server $A4 8080 >"$TMP/srv4" &
BG_PIDS="$BG_PIDS $!"
nsb $TOOL tcp-client $A4 8080 --data 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\n\r\nSIGNATURE-V4 ' --bulk $BULK
nsa $TOOL tcp-server $A6 8081 >"$TMP/srv6" &
BG_PIDS="$BG_PIDS $!"
nsb $TOOL tcp-client $A6 8081 --data 'GET /v6 HTTP/1.1\r\nHost: b\r\n\r\nSIGNATURE-V6 ' --bulk 100000
udp_server $A4 5353
u4=$UDP_PID
udp_server $A6 5354
u6=$UDP_PID
nsb $TOOL udp-send $A4 5353 --data 'udp payload SIGNATURE-U4'
nsb $TOOL udp-send $A6 5354 --data 'udp payload SIGNATURE-U6'
wait $u4 $u6
# Datagrams over the veth's MTU (1500): the sender's stack fragments them.
udp_server $A4 5355
u4=$UDP_PID
udp_server $A6 5356
u6=$UDP_PID
nsb $TOOL udp-send $A4 5355 --data 'big' --pad-after 4000 --no-df
nsb $TOOL udp-send $A6 5356 --data 'big' --pad-after 4000
wait $u4 $u6
# Frame shapes the peer's stack would not send by itself, written raw onto
# its end of the veth: VLAN (802.1Q, QinQ), IPv6 hop-by-hop options, and an
# IPv4 first fragment, which comes through raw (an incomplete datagram).
# The fragment goes first so that waiting for the last frame covers it.
nsb $TOOL raw-send "$IFB" $B4 $A4 --frag --data 'a first fragment'
nsb $TOOL raw-send "$IFB" $B4 $A4 --vlan 100 --data 'vlan tagged'
nsb $TOOL raw-send "$IFB" $B4 $A4 --vlan 100 --vlan 200 --data 'double tagged'
nsb $TOOL raw-send "$IFB" $B6 $A6 --ipv6 --hbh --data 'after hop-by-hop'
for _ in $(seq 100); do grep -q 'after hop-by-hop' "$TMP/dump.out" && break; sleep 0.025; done
stop_tapsift INT
check "live: exit status 0 after SIGINT" [ "$TS_RC" -eq 0 ]
check "live: 802.1Q-tagged UDP parsed" grep -q '40000 > 10.200.0.1:5353 .*"vlan tagged"' "$TMP/dump.out"
check "live: QinQ-tagged UDP parsed" grep -q '"double tagged"' "$TMP/dump.out"
check "live: IPv6 with hop-by-hop options parsed" grep -q "\[$B6\]:40000 > \[$A6\]:5353 .*\"after hop-by-hop\"" "$TMP/dump.out"
check "live: IPv4 fragment delivered raw, not as a packet" sh -c "! grep -q 'a first fragment' '$TMP/dump.out' &&
	grep -q 'frag if=[0-9]* ingress ipv4 proto=17 $B4 > $A4 id=1 off=0 len=24 more' '$TMP/dump.out'"
# 4011-byte UDP datagrams: IPv4 1480 + 1480 + 1051, IPv6 1448 + 1448 + 1115
check "live: kernel-fragmented IPv4 datagram, 3 fragments" [ "$(grep -cE "^frag if=[0-9]* ingress ipv4 proto=17 $B4 > $A4 id=[0-9]+ off=(0 len=1480 more|1480 len=1480 more|2960 len=1051)\$" "$TMP/dump.out")" -eq 3 ]
check "live: kernel-fragmented IPv6 datagram, 3 fragments" [ "$(grep -cE "^frag if=[0-9]* ingress ipv6 proto=17 $B6 > $A6 id=[0-9]+ off=(0 len=1448 more|1448 len=1448 more|2896 len=1115)\$" "$TMP/dump.out")" -eq 3 ]
check "live: fragments counted" [ "$(stat dump bpf_fragments)" -ge 7 ]
check "live: no program left after exit" no_program_left

summary dump >"$TMP/sum.json"
len4=$(( $(wc -c <"$TMP/srv4") > 0 ? $(cat "$TMP/srv4") : 0 ))
# The client->server stream: one contiguous range covering all it sent.
check "live: IPv4 TCP request stream complete ($len4 bytes)" \
	[ "$(jget "$TMP/sum.json" "[v['covered'] for k,v in f.items() if k.startswith('tcp $B4:') and k.endswith(':8080') and v['bytes']]")" = "[[$len4]]" ]
check "live: IPv4 TCP starts with the HTTP request" \
	[ "$(jget "$TMP/sum.json" "[v['text'][:12] for k,v in f.items() if k.endswith('>$A4:8080') and v['bytes']]")" = "['POST /upload']" ]
check "live: IPv4 TCP reply captured on egress" \
	[ "$(jget "$TMP/sum.json" "[(v['dirs'],v['bytes']) for k,v in f.items() if k.startswith('tcp $A4:8080>') and v['bytes']]")" = "[(['egress'], 40)]" ]
check "live: GSO super-packets arrive in several chunks" \
	[ "$(jget "$TMP/sum.json" "sum(v['multi_chunk'] for v in f.values())")" -gt 0 ]
len6=$(cat "$TMP/srv6")
check "live: IPv6 TCP request stream complete ($len6 bytes)" \
	[ "$(jget "$TMP/sum.json" "[v['covered'] for k,v in f.items() if k.endswith('>[$A6]:8081') and v['bytes']]")" = "[[$len6]]" ]
check "live: IPv4 UDP datagram" grep -q "udp $B4:[0-9]* > $A4:5353 .* len=24 pkt=24 \"udp payload SIGNATURE-U4\"" "$TMP/dump.out"
check "live: IPv6 UDP datagram" grep -q "udp \[$B6\]:[0-9]* > \[$A6\]:5354 .* len=24 pkt=24 \"udp payload SIGNATURE-U6\"" "$TMP/dump.out"
check "live: counters add up, every record received" accounting dump
check "live: nothing lost" [ "$(stat dump bpf_ringbuf_full)" -eq 0 ]

# --- the whole pipeline: engine, rules, verdicts (rules/sample.rules).
RULES=$ROOT/rules/sample.rules
if start_tapsift verdicts --rules "$RULES" --format json --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 --reply 'HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\ndouble your bitcoin' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	# The signature sits behind 200 KB: it arrives inside a GSO chunk.
	nsb $TOOL tcp-client $A4 8080 --data 'POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 200026\r\n\r\n' \
		--bulk 200000 --tail ' please verify your wallet'
	nsa $TOOL tcp-server $A6 8081 --reply 'HTTP/1.1 204 No Content\r\n\r\n' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A6 8081 --data 'POST /g HTTP/1.1\r\nHost: b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\n\r\nAI换脸定制'
	udp_server $A4 5353
	u4=$UDP_PID
	udp_server $A6 5354
	u6=$UDP_PID
	nsb $TOOL udp-send $A4 5353 --data 'claim your free bonus'
	nsb $TOOL udp-send $A6 5354 --data 'seed phrase airdrop'
	wait $u4 $u6
	# The same signatures in datagrams over the MTU, across the boundary
	# of the first two fragments (IPv4: UDP payload byte 1472; IPv6: 1440):
	# found only by reassembly.
	udp_server $A4 5355
	u4=$UDP_PID
	udp_server $A6 5356
	u6=$UDP_PID
	nsb $TOOL udp-send $A4 5355 --data 'claim your free bonus' --pad-before 1462 --pad-after 2000 --no-df
	nsb $TOOL udp-send $A6 5356 --data 'seed phrase airdrop' --pad-before 1430 --pad-after 2000
	wait $u4 $u6
	# SIGUSR1: statistics while running, and tapsift goes on.
	kill -USR1 "$TS_PID"
	for _ in $(seq 200); do grep -q bpf_seen "$TMP/verdicts.err" && break; sleep 0.025; done
	check "live verdicts: SIGUSR1 prints stats and keeps running" \
		sh -c "grep -q bpf_seen '$TMP/verdicts.err' && kill -0 $TS_PID"
	stop_tapsift TERM
	check "live verdicts: exit status 0 after SIGTERM" [ "$TS_RC" -eq 0 ]
	python3 - "$TMP/verdicts.out" >"$TMP/verdicts.got" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    v = json.loads(line)
    print(v["rule_id"], v["proto"], v["src_ip"], v["dst_port"] if v["dst_port"] < 9000 else v["src_port"])
PY
	sort -u "$TMP/verdicts.got" >"$TMP/verdicts.sorted"
	printf '%s\n' "2001 tcp $B4 8080" "2002 udp $B4 5353" "2005 tcp $A4 8080" "3001 tcp $B6 8081" \
		"2007 udp $B6 5354" "2002 udp $B4 5355" "2007 udp $B6 5356" | sort >"$TMP/verdicts.want"
	if cmp -s "$TMP/verdicts.want" "$TMP/verdicts.sorted"; then
		ok "live verdicts: TCP/HTTP and UDP, IPv4 and IPv6, both directions"
	else
		nok "live verdicts: TCP/HTTP and UDP, IPv4 and IPv6, both directions"
		diff "$TMP/verdicts.want" "$TMP/verdicts.sorted" | sed 's/^/  | /'
		sed 's/^/  | /' "$TMP/verdicts.err"
	fi
	check "live verdicts: capture counters in the stats" accounting verdicts
	check "live verdicts: two datagrams reassembled from fragments" [ "$(stat verdicts frag_reassembled)" -eq 2 ]
else
	nok "live verdicts: tapsift run --rules starts"
fi
check "live verdicts: no program left after exit" no_program_left

# --- the bundled sample capture replayed onto the veth (addresses rewritten
# into test ranges): live capture must find what `tapsift scan` finds in the
# file, including flows whose first segments arrive out of order (the kernel
# passes SYN/FIN/RST so reassembly knows where each stream starts).
if start_tapsift replay --rules "$RULES" --format text --poll-ms 20; then
	n=$(nsb python3 "$ROOT/tests/live_replay.py" "$ROOT/rules/sample.pcap" "$IFB" 2>&1 | awk '{print $2}')
	# Frames still in the receive backlog when tapsift detaches would be
	# missed: wait (bounded) until the program has seen them all.
	for _ in $(seq 200); do
		kill -USR1 "$TS_PID"
		sleep 0.05
		[ "$(stat replay bpf_seen)" -ge "${n:-1}" ] && break
	done
	stop_tapsift INT
	"$BIN" scan --rules "$RULES" --pcap "$ROOT/rules/sample.pcap" --format text 2>/dev/null |
		awk '{print $3}' | sort >"$TMP/scan.rules"
	awk '{print $3}' "$TMP/replay.out" | sort >"$TMP/replay.rules"
	if [ -s "$TMP/scan.rules" ] && cmp -s "$TMP/scan.rules" "$TMP/replay.rules"; then
		ok "live replay: same verdicts as tapsift scan on the same traffic ($(wc -l <"$TMP/scan.rules"))"
	else
		nok "live replay: same verdicts as tapsift scan on the same traffic"
		diff "$TMP/scan.rules" "$TMP/replay.rules" | sed 's/^/  | /'
	fi
	check "live replay: counters add up" accounting replay
else
	nok "live replay: tapsift starts"
fi

live_done
