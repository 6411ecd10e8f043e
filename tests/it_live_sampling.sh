#!/bin/bash
# it_live_sampling.sh - the kernel-side selection of tapsift run: 1/N flow
# sampling keeps whole flows (both directions), the per-flow byte budget
# stops after K bytes, the bypass map stops a flow, port lists filter.
. "$(dirname "$0")/live_lib.sh"
live_require it_live_sampling
net_up || { nok "sampling: create namespaces and veth"; live_done; }

# flows_by_port NAME: "client-port request-bytes reply-bytes" per connection to 8080.
flows_by_port() {
	summary "$1" | python3 -c '
import json, sys
f = json.load(sys.stdin)
ports = {}
for k, v in f.items():
    if not v["bytes"]:
        continue  # SYN/RST of a connect retry, FIN: no payload
    proto, rest = k.split(" ")
    src, dst = rest.split(">")
    sp, dp = int(src.rsplit(":", 1)[1]), int(dst.rsplit(":", 1)[1])
    if dp == 8080:
        ports.setdefault(sp, [0, 0])[0] += v["bytes"]
    elif sp == 8080:
        ports.setdefault(dp, [0, 0])[1] += v["bytes"]
for p, (q, r) in sorted(ports.items()):
    print(p, q, r)
'
}

# --- 1/4 of 64 flows, each a request and a reply.
NFLOWS=64
if start_tapsift sample --debug dump --sample 1/4 --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 --conns $NFLOWS --reply 'reply to the request' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A4 8080 --flows $NFLOWS --data 'request of flow {i}'
	stop_tapsift INT
	flows_by_port sample >"$TMP/sample.flows"
	n=$(wc -l <"$TMP/sample.flows")
	# Binomial(64, 1/4): mean 16; outside [4, 32] has probability < 1e-4.
	check "sampling 1/4: about a quarter of $NFLOWS flows kept ($n)" test "$n" -ge 4 -a "$n" -le 32
	# "request of flow N" is 17 or 18 bytes; the reply 20.
	check "sampling 1/4: every kept flow has both directions, complete" \
		awk '($2 != 17 && $2 != 18) || $3 != 20 { bad = 1 } END { exit bad }' "$TMP/sample.flows"
	check "sampling 1/4: unsampled packets counted" [ "$(stat sample bpf_unsampled)" -gt 0 ]
	check "sampling 1/4: counters add up" accounting sample
else
	nok "sampling 1/4: tapsift starts"
fi

# --- byte budget: only the first 10000 bytes of each flow direction.
if start_tapsift budget --debug dump --flow-bytes 10000 --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 --reply 'reply to the request' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A4 8080 --bulk 100000
	stop_tapsift INT
	summary budget >"$TMP/budget.json"
	check "budget: request direction stops at exactly 10000 bytes" \
		[ "$(jget "$TMP/budget.json" "[(v['bytes'], v['covered']) for k,v in f.items() if k.endswith(':8080') and v['bytes']]")" = "[(10000, [10000])]" ]
	check "budget: the reply direction has its own budget" \
		[ "$(jget "$TMP/budget.json" "[v['bytes'] for k,v in f.items() if k.startswith('tcp $A4:8080>') and v['bytes']]")" = "[20]" ]
	check "budget: the cut is marked" grep -q ' budget-cut ' "$TMP/budget.out"
	check "budget: packets past the budget counted" [ "$(stat budget bpf_over_budget)" -gt 0 ]
	check "budget: counters add up" accounting budget
else
	nok "budget: tapsift starts"
fi

# --- bypass: a flow that opens with a TLS record is bypassed by userspace;
# the kernel copies nothing more of it, in either direction.
if start_tapsift bypass --debug dump --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8443 --reply 'server bytes after the bypass' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A4 8443 --data '\x16\x03\x01\x00\x05hello' --go-file "$TMP/go" --after 50000 &
	cl=$!
	# Continue only once tapsift has seen the first record (it adds the
	# bypass entry before printing it): no race, no timing assumption.
	for _ in $(seq 200); do
		grep -q ':8443 .*"\\x16\\x03\\x01' "$TMP/bypass.out" && break
		sleep 0.05
	done
	touch "$TMP/go"
	wait $cl
	stop_tapsift INT
	summary bypass >"$TMP/bypass.json"
	check "bypass: only the first record of the TLS flow was copied" \
		[ "$(jget "$TMP/bypass.json" "sorted((k.split()[1].split('>')[1], v['bytes']) for k,v in f.items() if v['bytes'])")" = "[('$A4:8443', 10)]" ]
	check "bypass: later packets counted as bypassed" [ "$(stat bypass bpf_bypassed)" -gt 0 ]
	check "bypass: one TLS flow bypassed" [ "$(stat bypass tls_flows_bypassed)" -eq 1 ]
	check "bypass: counters add up" accounting bypass
else
	nok "bypass: tapsift starts"
fi

# --- ports: allow 8080 and 9090, deny 9090: only 8080 passes (7070 is not allowed).
if start_tapsift ports --debug dump --ports '8080,9090,!9090' --poll-ms 20; then
	for p in 8080 9090 7070; do
		nsa $TOOL tcp-server $A4 $p --reply "reply $p" >/dev/null &
		BG_PIDS="$BG_PIDS $!"
		nsb $TOOL tcp-client $A4 $p --data "request to $p"
	done
	stop_tapsift INT
	summary ports >"$TMP/ports.json"
	check "ports: only port 8080 captured, both directions" \
		[ "$(jget "$TMP/ports.json" "sorted((re.sub(r':\\d{5}', ':C', k), v['bytes']) for k, v in f.items() if v['bytes'])")" = "[('tcp $A4:8080>$B4:C', 10), ('tcp $B4:C>$A4:8080', 15)]" ]
	check "ports: filtered packets counted" [ "$(stat ports bpf_port_filtered)" -gt 0 ]
	check "ports: counters add up" accounting ports
else
	nok "ports: tapsift starts"
fi

live_done
