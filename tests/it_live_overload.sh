#!/bin/bash
# it_live_overload.sh - a ring of one page and a consumer that sleeps per
# record: the kernel must count every sampled packet it could not deliver,
# the counters must still add up exactly, and nothing may crash.  The same
# for the per-CPU token bucket.
. "$(dirname "$0")/live_lib.sh"
live_require it_live_overload
net_up || { nok "overload: create namespaces and veth"; live_done; }

if start_tapsift ring --debug count --ring-size 4096 --slow-us 20000 --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A4 8080 --bulk 2000000
	udp_server $A4 5353
	u=$UDP_PID
	nsb $TOOL udp-send $A4 5353 --data 'one datagram'
	wait $u
	stop_tapsift INT
	check "overload: clean exit with a full ring" [ "$TS_RC" -eq 0 ]
	check "overload: ring-full drops counted ($(stat ring bpf_ringbuf_full))" [ "$(stat ring bpf_ringbuf_full)" -gt 0 ]
	check "overload: some packets still delivered" [ "$(stat ring bpf_delivered)" -gt 0 ]
	check "overload: seen = sum of outcomes, sampled = delivered + dropped, records = received" accounting ring
else
	nok "overload: tapsift starts"
fi

# Token bucket: 20 KB/s per CPU, 20 KB deep, against a 1 MB burst.
if start_tapsift bucket --debug count --rate 20k --burst 20k --poll-ms 20; then
	nsa $TOOL tcp-server $A4 8080 >/dev/null &
	BG_PIDS="$BG_PIDS $!"
	nsb $TOOL tcp-client $A4 8080 --bulk 1000000
	stop_tapsift INT
	check "token bucket: throttled packets counted ($(stat bucket bpf_throttled))" [ "$(stat bucket bpf_throttled)" -gt 0 ]
	check "token bucket: copies bounded by rate x time + burst" \
		[ "$(stat bucket bpf_bytes)" -lt 1000000 ]
	check "token bucket: counters add up" accounting bucket
else
	nok "token bucket: tapsift starts"
fi

live_done
