#!/bin/sh
# What `make run` executes after building:
#  1. the main job: scan the bundled sample capture with the bundled sample
#     rules, verdicts as text on stdout, statistics on stderr;
#  2. the live pipeline (as root): the same traffic replayed over a throwaway
#     veth pair in network namespaces, captured by `tapsift run` through the
#     eBPF ring buffer, verdicts printed, everything removed afterwards.
# BUILD selects the build directory (default build).  LIVE=0 skips step 2.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "== tapsift scan --rules rules/sample.rules --pcap rules/sample.pcap --format text" >&2
"$BUILD/tapsift" scan --rules rules/sample.rules --pcap rules/sample.pcap --format text "$@"
if [ "${LIVE:-1}" != 0 ]; then
	echo >&2
	echo "== live: tapsift run on a veth pair, sample traffic replayed (ebpf/live-demo.sh)" >&2
	bash ebpf/live-demo.sh "$BUILD"
fi
