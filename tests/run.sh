#!/bin/bash
# tests/run.sh BUILD - runs every unit test binary and integration script,
# counts "ok -"/"not ok -" lines, prints one summary line, exits non-zero on
# any failure.  A program that exits non-zero without a "not ok" line counts
# as one failure (a crash must never pass).
set -u
BUILD=${1:-build}
export TSF_BUILD=$BUILD
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
pass=0 fail=0 skip=0
logdir=$BUILD/test-logs
mkdir -p "$logdir"
run_one() {
	local name=$1; shift
	local log=$logdir/$(basename "$name").log
	echo "== $name"
	"$@" >"$log" 2>&1
	local rc=$?
	local p f s
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	s=$(grep -c '^skip - ' "$log")
	grep -E '^(ok|not ok|skip) - ' "$log" | sed 's/^/   /'
	if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
		echo "   --- output of $name (exit $rc) ---"
		grep -vE '^(ok|skip) - ' "$log" | tail -40 | sed 's/^/   | /'
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "   not ok - $name exited with status $rc"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "$t" "$t"
done
# The literal index's portable pass (no AVX2: ARM gateways) once more, on
# hosts where the AVX2 one is taken.
if [ -x "$BUILD/tests/test_match_lit" ]; then
	run_one "$BUILD/tests/test_match_lit:portable" env TAPSIFT_LIT_NOSIMD=1 "$BUILD/tests/test_match_lit"
fi
for t in tests/it_*.sh tests/it_*.py; do
	[ -f "$t" ] || continue
	case $t in
	*.py) run_one "$t" python3 "$t" ;;
	*) run_one "$t" bash "$t" ;;
	esac
done
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
