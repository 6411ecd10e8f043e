#!/bin/bash
# bench/run.sh BUILD - every benchmark; each prints a table and saves JSON
# under bench/results/.  BENCH_ONLY=name limits the run to one of them.
set -e
BUILD=${1:-build}
cd "$(dirname "$0")/.."
only=${BENCH_ONLY:-}
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
for b in "$BUILD"/bench/bench_*; do
	name=$(basename "$b")
	[ "$name" = bench_hs ] && continue # a baseline tool used by run_scan.py
	[ -x "$b" ] || continue
	want "${name#bench_}" || continue
	echo "== $name"
	"$b"
done
for s in bench/run_*.py bench/run_*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s"); name=${name#run_}; name=${name%.*}
	want "$name" || continue
	echo "== $s"
	case $s in *.py) python3 "$s" "$BUILD" ;; *) bash "$s" "$BUILD" ;; esac
done
