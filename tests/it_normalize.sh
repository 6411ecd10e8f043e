#!/bin/bash
# `tapsift normalize`: the matching form on stdout, --steps, --lines, files,
# exit codes.  Env: TSF_BUILD (default build).  Prints "ok - x" / "not ok - x".
set -u
BUILD=${TSF_BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
TSF=$BUILD/tapsift
fails=0
T=$(mktemp -d /tmp/tsf-norm.XXXXXX)
trap 'rm -rf "$T"' EXIT
if [ ! -x "$TSF" ]; then
	echo "not ok - normalize:binary ($TSF not built)"
	exit 1
fi

# expect NAME WANT-STDOUT WANT-EXIT CMD...
expect() {
	local name=$1 want=$2 wantrc=$3
	shift 3
	local got rc
	got=$("$@" 2>"$T/err")
	rc=$?
	if [ "$got" = "$want" ] && [ "$rc" -eq "$wantrc" ]; then
		echo "ok - normalize:$name"
	else
		echo "not ok - normalize:$name (exit $rc, got '$got', want '$want')"
		sed 's/^/  | /' "$T/err"
		fails=$((fails + 1))
	fi
}

in='【免*費·領 取】 ＶＥＲＩＦＹ y​оur аcсount: vérify! 賬戶'
expect all-steps '免费领取verifyyouraccountverify账户' 0 \
	sh -c "printf '%s' '$in' | '$TSF' normalize"
expect stdin-dash '免费领取verifyyouraccountverify账户' 0 \
	sh -c "printf '%s' '$in' | '$TSF' normalize -"
printf '%s' "$in" >"$T/in.txt"
expect file '免费领取verifyyouraccountverify账户' 0 "$TSF" normalize "$T/in.txt"
expect steps-none "$in" 0 "$TSF" normalize --steps none "$T/in.txt"
expect steps-nfkc-t2s '【免*费·领 取】 verify y​оur аcсount: verify! 账户' 0 \
	"$TSF" normalize --steps nfkc,t2s "$T/in.txt"
expect steps-equals 'a.b' 0 sh -c "printf 'A.B' | '$TSF' normalize --steps=nfkc"
printf 'Line One!\n\nP\xd0\xb0y N\xd0\xbeW\n' >"$T/lines.txt"
expect lines "$(printf 'lineone\n\npaynow')" 0 "$TSF" normalize --lines "$T/lines.txt"
expect invalid-utf8 'ab' 0 sh -c "printf 'a\377\300b' | '$TSF' normalize"
expect empty '' 0 sh -c "'$TSF' normalize </dev/null"
expect bad-step '' 2 "$TSF" normalize --steps nfkc,bogus "$T/in.txt"
grep -q "bogus" "$T/err" || { echo "not ok - normalize:bad-step-names-it"; fails=$((fails + 1)); }
expect bad-option '' 2 "$TSF" normalize --frob
expect missing-file '' 1 "$TSF" normalize "$T/nope.txt"
help=$("$TSF" normalize --help)
if [ $? -eq 0 ] && printf '%s' "$help" | grep -q -- '--steps'; then
	echo "ok - normalize:help"
else
	echo "not ok - normalize:help"
	fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
