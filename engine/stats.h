/* stats.h - every counter tapsift keeps, in one place.
 *
 * The list is an X-macro so that printing, summing across workers and the
 * protobuf Stats message all come from the same table: a counter added here
 * shows up everywhere.  Counters are plain uint64_t owned by one thread
 * (each worker has its own struct; totals are summed at report time).
 */
#ifndef TSF_STATS_H
#define TSF_STATS_H

#include <stdint.h>
#include <stdio.h>

#define TSF_STATS(X)                                                                               \
	X(packets, "packets read from the source")                                                 \
	X(bytes, "bytes read from the source (captured length)")                                   \
	X(pkt_malformed, "packets dropped: truncated or malformed headers")                        \
	X(pkt_not_ip, "packets skipped: not IPv4/IPv6")                                            \
	X(pkt_not_tcpudp, "packets skipped: not TCP/UDP")                                          \
	X(pkt_fragment, "packets skipped: IP fragments, reassembly off (--no-defrag)")             \
	X(frag_packets, "IP fragments given to reassembly")                                        \
	X(frag_reassembled, "datagrams reassembled from fragments (then parsed as a packet)")      \
	X(frag_overlaps, "fragments overlapping data held (first copy wins; duplicates too)")      \
	X(frag_timeouts, "incomplete datagrams dropped: timeout, or still open at the end")        \
	X(frag_evicted, "incomplete datagrams evicted: reassembly table full")                     \
	X(frag_memcap_drops, "fragments dropped with their datagram: reassembly memcap")           \
	X(frag_too_big, "fragments dropped with their datagram: past 65535 bytes")                 \
	X(frag_invalid, "fragments dropped: cut short, empty/unaligned, or inconsistent end")      \
	X(pkt_linktype, "packets dropped: unsupported link type")                                  \
	X(capture_errors, "corrupt capture records (reading stopped or skipped)")                  \
	X(tcp_segments, "TCP segments with payload")                                               \
	X(udp_datagrams, "UDP datagrams with payload")                                             \
	X(payload_bytes, "L4 payload bytes")                                                       \
	X(flows, "flows created")                                                                  \
	X(flows_timeout, "flows ended by idle timeout")                                            \
	X(flows_closed, "flows ended by FIN/RST")                                                  \
	X(flows_evicted, "flows evicted: flow table full")                                         \
	X(reasm_inorder, "segments delivered in order")                                            \
	X(reasm_ooo, "segments buffered out of order")                                             \
	X(reasm_retrans, "segments fully retransmitted (dropped, first copy wins)")                \
	X(reasm_overlap, "segments partly overlapping (trimmed, first copy wins)")                 \
	X(reasm_gaps, "reassembly gaps skipped (missing data)")                                    \
	X(reasm_memcap_flow, "out-of-order segments dropped: per-flow memcap")                     \
	X(reasm_memcap_global, "out-of-order segments dropped: global memcap")                     \
	X(reasm_depth, "bytes not inspected: stream depth reached")                                \
	X(scanned_raw, "bytes scanned by the raw matcher")                                         \
	X(scanned_text, "decoded text bytes scanned")                                              \
	X(scanned_norm, "normalized text bytes scanned")                                           \
	X(hs_errors, "Hyperscan scan errors")                                                      \
	X(http_messages, "HTTP messages parsed")                                                   \
	X(http_errors, "HTTP parse errors (stream treated as plain text)")                         \
	X(http_header_overflow, "HTTP header blocks over the size limit")                          \
	X(decomp_streams, "compressed bodies decoded")                                             \
	X(decomp_errors, "corrupt or truncated compressed data")                                   \
	X(decomp_bombs, "compressed bodies cut off at the ratio/output cap")                       \
	X(charset_invalid, "invalid byte sequences replaced by U+FFFD")                            \
	X(charset_unknown, "unknown charset labels (decoded as UTF-8)")                            \
	X(mime_parts, "mail parts decoded (MIME header block, then body)")                         \
	X(mime_b64_errors, "corrupt base64 in mail bodies (bad characters, padding, cut quantum)") \
	X(mime_qp_errors, "broken quoted-printable escapes in mail bodies (kept as they were)")    \
	X(mime_encoded_words, "RFC 2047 encoded-words decoded in mail headers")                    \
	X(mime_line_overflow, "mail lines or held header blocks over the buffer caps (as is)")     \
	X(verdicts, "verdicts emitted")                                                            \
	X(verdicts_dup, "matches suppressed as duplicates (same flow direction and rule)")         \
	X(swap_failed, "rule set swaps a worker refused (old set kept)")                           \
	X(bus_queued, "verdicts handed to the bus publisher")                                      \
	X(bus_queue_dropped, "verdicts lost: publisher queue full (never numbered)")               \
	X(bus_published, "verdicts sent on the bus")                                               \
	X(bus_unsent, "verdicts not sent: subscriber at its high-water mark (in the journal)")     \
	X(bus_batches, "verdict batches sent on the bus")                                          \
	X(bus_journaled, "verdicts written to the journal")                                        \
	X(bus_journal_errors, "journal write or sync errors")                                      \
	X(bus_replay_requests, "replay requests answered")                                         \
	X(bus_replay_errors, "replay requests refused (malformed, out of range)")                  \
	X(bus_subscriptions, "subscribe/unsubscribe messages from subscribers")                    \
	X(bus_auth_denied, "CURVE clients refused by the allow-list")                              \
	X(bpf_seen, "live: packets the BPF program ran on")                                        \
	X(bpf_skipped, "live: packets without TCP/UDP payload, or not IP")                         \
	X(bpf_port_filtered, "live: packets refused by the port allow/deny lists")                 \
	X(bpf_bypassed, "live: packets of flows in the bypass map")                                \
	X(bpf_unsampled, "live: packets of flows outside the 1/N sample")                          \
	X(bpf_over_budget, "live: packets past their flow direction's byte budget")                \
	X(bpf_throttled, "live: packets refused by the per-CPU token bucket")                      \
	X(bpf_sampled, "live: packets selected for copying (= delivered + ringbuf_full)")          \
	X(bpf_fragments, "live: IP fragments copied raw for reassembly (part of bpf_sampled)")     \
	X(bpf_delivered, "live: sampled packets written to the ring in full")                      \
	X(bpf_ringbuf_full, "live: sampled packets lost because the ring buffer was full")         \
	X(bpf_records, "live: ring records written by the kernel")                                 \
	X(bpf_bytes, "live: payload bytes written to the ring")                                    \
	X(bpf_wakeups, "live: forced consumer wakeups (ring fill over the threshold)")             \
	X(bpf_received, "live: ring records consumed by userspace")

struct tsf_stats {
#define TSF_STATS_FIELD(name, desc) uint64_t name;
	TSF_STATS(TSF_STATS_FIELD)
#undef TSF_STATS_FIELD
};

/* dst += src, field by field. */
void stats_add(struct tsf_stats *dst, const struct tsf_stats *src);
/* One "name value" line per non-zero counter (all counters when all != 0). */
void stats_print(FILE *f, const struct tsf_stats *s, int all);

#endif
