#!/bin/sh
# What `make run` executes after building: scans the bundled sample capture
# with the bundled sample rules, prints the verdicts as text (stdout) and the
# statistics (stderr).  BUILD selects the build directory (default build).
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
echo "== tapsift scan --rules rules/sample.rules --pcap rules/sample.pcap --format text" >&2
exec "$BUILD/tapsift" scan --rules rules/sample.rules --pcap rules/sample.pcap --format text "$@"
