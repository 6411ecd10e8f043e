#!/bin/bash
# it_live_swap.sh - hot swap under live traffic: `tapsift run` starts with a
# signed bundle (version 1), traffic flows over the veth, a new signed bundle
# (version 2) is pushed to its control socket while traffic keeps flowing;
# flows before the swap are judged by set 1, flows after it by set 2, no
# packet is lost (the kernel's counters add up, ring-full drops are 0), and
# an unsigned or rolled-back bundle is refused while the live set stays.
. "$(dirname "$0")/live_lib.sh"
live_require it_live_swap
net_up || { nok "swap: create namespaces and veth"; live_done; }

printf '%s\n' '1 phishing "verify your wallet"' '2 phishing "claim your free bonus"' >"$TMP/v1.rules"
printf '%s\n' '11 phishing2 "verify your wallet"' '12 fraud2 "免费领取红包"' >"$TMP/v2.rules"
"$BIN" rules keygen -o "$TMP/author" >/dev/null &&
	"$BIN" rules compile "$TMP/v1.rules" -o "$TMP/v1.tsb" --version 1 >/dev/null 2>&1 &&
	"$BIN" rules compile "$TMP/v2.rules" -o "$TMP/v2.tsb" --version 2 >/dev/null 2>&1 &&
	cp "$TMP/v2.tsb" "$TMP/unsigned.tsb" &&
	"$BIN" rules sign "$TMP/v1.tsb" --key "$TMP/author.key" >/dev/null &&
	"$BIN" rules sign "$TMP/v2.tsb" --key "$TMP/author.key" >/dev/null
check "swap: bundles compiled and signed" [ -s "$TMP/v2.tsb" ]

CTL=ipc://$TMP/ctl
if start_tapsift swap --bundle "$TMP/v1.tsb" --trust "$TMP/author.pub" --control "$CTL" \
	--format json --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 --conns 40 --reply 'HTTP/1.1 204 No Content\r\n\r\n' >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	sleep 0.2
	body='please verify your wallet and claim your free bonus 免费领取红包'
	blen=$(printf %s "$body" | wc -c) # bytes, not characters
	# 20 flows under set 1 ...
	nsb $TOOL tcp-client $A4 8080 --flows 20 --data "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: $blen\r\n\r\n" \
		--tail "$body" >/dev/null
	# ... the push (the answer says the new version is live) ...
	if "$BIN" rules push "$TMP/v2.tsb" --to "$CTL" --timeout 10 >"$TMP/push.out" 2>&1; then
		ok "swap: push of version 2 accepted"
	else
		nok "swap: push of version 2 accepted"
		sed 's/^/  | /' "$TMP/push.out"
	fi
	for _ in $(seq 200); do grep -q "version 2 is live" "$TMP/swap.err" && break; sleep 0.025; done
	check "swap: tapsift reports version 2 live" grep -q "version 2 is live" "$TMP/swap.err"
	# ... and 20 flows under set 2.
	nsb $TOOL tcp-client $A4 8080 --flows 20 --data "POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: $blen\r\n\r\n" \
		--tail "$body" >/dev/null
	# Refusals leave version 2 live.
	check "swap: unsigned bundle refused" sh -c "! '$BIN' rules push '$TMP/unsigned.tsb' --to '$CTL' --timeout 10 >'$TMP/p2.out' 2>&1"
	check "swap: rollback to version 1 refused" sh -c "! '$BIN' rules push '$TMP/v1.tsb' --to '$CTL' --timeout 10 >'$TMP/p3.out' 2>&1"
	sleep 0.3
	stop_tapsift TERM
	check "swap: exit status 0" [ "$TS_RC" -eq 0 ]
	n1=$(grep -c '"rule_id":1,' "$TMP/swap.out")
	n2=$(grep -c '"rule_id":2,' "$TMP/swap.out")
	n11=$(grep -c '"rule_id":11,' "$TMP/swap.out")
	n12=$(grep -c '"rule_id":12,' "$TMP/swap.out")
	check "swap: 20 flows judged by set 1 ($n1, $n2)" [ "$n1" -eq 20 -a "$n2" -eq 20 ]
	check "swap: 20 flows judged by set 2 ($n11, $n12)" [ "$n11" -eq 20 -a "$n12" -eq 20 ]
	v2=$(grep '"rule_id":11,' "$TMP/swap.out" | grep -c '"ruleset_version":2')
	check "swap: set-2 verdicts carry ruleset_version 2" [ "$v2" -eq 20 ]
	check "swap: counters add up" accounting swap
	check "swap: no packet lost (ring full 0)" [ "$(stat swap bpf_ringbuf_full)" -eq 0 ]
	check "swap: one live swap counted" grep -q "1 live swap(s)" "$TMP/swap.err"
else
	nok "swap: tapsift run --bundle --control starts"
fi
check "swap: no program left after exit" no_program_left
live_done
