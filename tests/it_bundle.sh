#!/bin/bash
# Rule bundles through the CLI: compile (and the cache), info, keygen, sign,
# verify with every rejection reason, push to a gateway's control socket
# (`rules serve`, ipc and CURVE over tcp loopback) and pickup from a watched
# directory.  Env: TSF_BUILD (default build).  Prints "ok - x" / "not ok - x".
# Compiles use --matcher index: test-sized sets would otherwise stay in
# Hyperscan alone and the literal-index section would not be exercised.
set -u
BUILD=${TSF_BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
TSF=$root/$BUILD/tapsift
[ -x "$TSF" ] || TSF=$BUILD/tapsift
fails=0
ok() { echo "ok - bundle:$1"; }
nok() { echo "not ok - bundle:$1 ($2)"; fails=$((fails + 1)); }
check() { # name condition-exit-status detail
	if [ "$2" -eq 0 ]; then ok "$1"; else nok "$1" "$3"; fi
}
if [ ! -x "$TSF" ]; then
	nok binary "$TSF not built"
	exit 1
fi
T=$(mktemp -d /tmp/tsf-itb.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
export XDG_CACHE_HOME=$T/cache

run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# Waits (bounded, 20 s) until file $1 contains $2.
wait_for() {
	for _ in $(seq 1 400); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

cat >"$T/a.rules" <<'EOF'
1 fraud "免费领取" sev=4 msg="free gift"
2 scam_en "verify wallet"
3 phishing /pass(word)?\s*reset/i
4 marker "RAWMARK" raw
6 fraud "骗"
EOF
cp "$T/a.rules" "$T/b.rules"
echo '5 phishing /seed\s+phrase/' >>"$T/b.rules"

# ---- compile, cache, info
run "$TSF" rules compile --matcher index "$T/a.rules" -o "$T/v1.tsb" --version 1
check compile "$([ $rc -eq 0 ] && [ -s "$T/v1.tsb" ] && grep -q "4 layer(s) compiled, 0 from cache" <<<"$out"; echo $?)" "exit $rc: $out $err"
run "$TSF" rules compile --matcher index "$T/a.rules" -o "$T/v1b.tsb" --version 1 -q
check compile-cached "$([ $rc -eq 0 ] && grep -q "0 layer(s) compiled, 4 from cache" <<<"$out"; echo $?)" "$out"
run "$TSF" rules compile --matcher index "$T/b.rules" -o "$T/v2.tsb" --version 2 -q
check compile-one-layer "$([ $rc -eq 0 ] && grep -q "1 layer(s) compiled, 3 from cache" <<<"$out"; echo $?)" "$out"
run "$TSF" rules compile --matcher index "$T/a.rules" -o "$T/v3.tsb" --version 3 --no-cache -q
check compile-no-cache "$([ $rc -eq 0 ] && grep -q "4 layer(s) compiled" <<<"$out"; echo $?)" "$out"
ls "$T"/*.tmp.* >/dev/null 2>&1
check no-temp-files "$([ $? -ne 0 ]; echo $?)" "temporary files left"
printf '1 fraud "x"\n1 fraud "y"\n' >"$T/bad.rules"
run "$TSF" rules compile --matcher index "$T/bad.rules" -o "$T/bad.tsb"
check compile-bad-rules "$([ $rc -eq 2 ] && grep -q "bad.rules:2:1: duplicate rule id" <<<"$err" && [ ! -e "$T/bad.tsb" ]; echo $?)" "exit $rc: $err"
run "$TSF" rules compile --matcher index "$T/a.rules" -o "$T/nodir/x.tsb" -q
check compile-unwritable "$([ $rc -eq 1 ] && grep -q "No such file" <<<"$err"; echo $?)" "exit $rc: $err"
echo '# no rules yet' >"$T/empty.rules"
run "$TSF" rules compile --matcher index "$T/empty.rules" -o "$T/empty.tsb" -q
check compile-empty "$([ $rc -eq 0 ] && "$TSF" rules verify "$T/empty.tsb" | grep -q "(0 rules"; echo $?)" "exit $rc: $out $err"
run "$TSF" rules info "$T/a.rules"
check info-not-a-bundle "$([ $rc -eq 2 ] && grep -q "not a tapsift rule bundle" <<<"$err"; echo $?)" "exit $rc: $err"
run "$TSF" rules info "$T/v1.tsb"
check info "$([ $rc -eq 0 ] && grep -q "^version    1" <<<"$out" && grep -q "signature  unsigned" <<<"$out" && grep -q "hyperscan  norm" <<<"$out" && grep -q "literal-index .*2 literals" <<<"$out" && grep -q "fraud(2)" <<<"$out"; echo $?)" "$out $err"
run "$TSF" rules info "$T/v1.tsb" --load
check info-load "$([ $rc -eq 0 ] && grep -q "^load " <<<"$out"; echo $?)" "$out $err"

# ---- keys and signatures
run "$TSF" rules keygen -o "$T/author"
check keygen "$([ $rc -eq 0 ] && [ "$(stat -c %a "$T/author.key")" = 600 ] && [ -s "$T/author.pub" ]; echo $?)" "exit $rc $err"
kid=$(sed -n 's/^ok: key id //p' <<<"$out")
run "$TSF" rules keygen -o "$T/author"
check keygen-no-overwrite "$([ $rc -ne 0 ]; echo $?)" "exit $rc"
mkdir -p "$T/other" "$T/trust"
"$TSF" rules keygen -o "$T/other/mallory" >/dev/null
cp "$T/author.pub" "$T/trust/"
for v in 1 2 3; do "$TSF" rules sign "$T/v$v.tsb" --key "$T/author.key" >/dev/null; done
run "$TSF" rules info "$T/v2.tsb" --trust "$T/trust"
check info-signed "$([ $rc -eq 0 ] && grep -q "signature  $kid (Ed25519, trusted, verified)" <<<"$out"; echo $?)" "$out $err"
run "$TSF" rules verify "$T/v2.tsb" --trust "$T/trust"
check verify-ok "$([ $rc -eq 0 ] && grep -q "^ok 2 " <<<"$out"; echo $?)" "$out $err"
run "$TSF" rules verify "$T/v1b.tsb" --trust "$T/trust"
check reject-unsigned "$([ $rc -eq 2 ] && grep -q "^error unsigned" <<<"$out"; echo $?)" "$out"
cp "$T/v1b.tsb" "$T/mal.tsb"
"$TSF" rules sign "$T/mal.tsb" --key "$T/other/mallory.key" >/dev/null
run "$TSF" rules verify "$T/mal.tsb" --trust "$T/trust"
check reject-wrong-key "$([ $rc -eq 2 ] && grep -q "^error untrusted" <<<"$out"; echo $?)" "$out"
cp "$T/v2.tsb" "$T/corrupt.tsb"
printf '\x55' | dd of="$T/corrupt.tsb" bs=1 seek=1000 conv=notrunc 2>/dev/null
run "$TSF" rules verify "$T/corrupt.tsb" --trust "$T/trust"
check reject-corrupt "$([ $rc -eq 2 ] && grep -q "^error hash" <<<"$out"; echo $?)" "$out"
printf '\x55' | dd of="$T/corrupt.tsb" bs=1 seek=20 conv=notrunc 2>/dev/null
run "$TSF" rules verify "$T/corrupt.tsb" --trust "$T/trust"
check reject-corrupt-header "$([ $rc -eq 2 ] && grep -q "^error signature" <<<"$out"; echo $?)" "$out"
head -c 5000 "$T/v2.tsb" >"$T/trunc.tsb"
run "$TSF" rules verify "$T/trunc.tsb" --trust "$T/trust"
check reject-truncated "$([ $rc -eq 2 ] && grep -q "^error format: .*truncated" <<<"$out"; echo $?)" "$out"
run "$TSF" rules verify "$T/v1.tsb" --trust "$T/trust" --min-version 2
check reject-rollback "$([ $rc -eq 2 ] && grep -q "^error rollback" <<<"$out"; echo $?)" "$out"
run "$TSF" rules verify "$T/nonexistent.tsb"
check missing-file "$([ $rc -eq 1 ]; echo $?)" "exit $rc"

# ---- push to a gateway (rules serve) over ipc
"$TSF" rules serve --control "ipc://$T/ctl" --trust "$T/trust" --bundle "$T/v2.tsb" \
	>"$T/serve.out" 2>"$T/serve.err" &
pids+=($!)
wait_for "$T/serve.err" "control socket on"
run "$TSF" rules push "$T/v3.tsb" --to "ipc://$T/ctl" --timeout 20
check push-accepted "$([ $rc -eq 0 ] && grep -q "ipc://$T/ctl: ok 3 " <<<"$out"; echo $?)" "exit $rc: $out $err"
wait_for "$T/serve.out" "^live 3 "
check push-live "$?" "$(cat "$T/serve.out")"
"$TSF" rules compile --matcher index "$T/b.rules" -o "$T/v4.tsb" --version 4 -q >/dev/null
"$TSF" rules sign "$T/v4.tsb" --key "$T/author.key" >/dev/null
run "$TSF" rules push "$T/v4.tsb" --to "ipc://$T/ctl" --timeout 20 --chunk-bytes 2000
check push-chunked "$([ $rc -eq 0 ] && grep -q ": ok 4 " <<<"$out"; echo $?)" "exit $rc: $out $err"
wait_for "$T/serve.out" "^live 4 "
check push-chunked-live "$?" "$(cat "$T/serve.out")"
run "$TSF" rules push "$T/v1.tsb" --to "ipc://$T/ctl" --timeout 20
check push-rollback "$([ $rc -eq 1 ] && grep -q ": error rollback" <<<"$out"; echo $?)" "exit $rc: $out"
run "$TSF" rules push "$T/v1b.tsb" --to "ipc://$T/ctl" --timeout 20
check push-unsigned "$([ $rc -eq 1 ] && grep -q ": error unsigned" <<<"$out"; echo $?)" "exit $rc: $out"
run "$TSF" rules push "$T/v4.tsb" --to "ipc://$T/ctl" --to "ipc://$T/nobody" --timeout 1
check push-partial "$([ $rc -eq 1 ] && grep -q "ctl: ok 4 .* already live" <<<"$out" && grep -q "nobody: error timeout" <<<"$out"; echo $?)" "exit $rc: $out"
check push-live-unchanged "$([ "$(grep -c '^live' "$T/serve.out")" -eq 3 ]; echo $?)" "$(cat "$T/serve.out")"

# ---- CURVE over tcp loopback
"$TSF" watch --gen-key "$T/gw" >/dev/null 2>&1
if [ -s "$T/gw.pub" ]; then
	"$TSF" rules serve --control "tcp://127.0.0.1:*" --curve-secret "$T/gw" \
		>"$T/cs.out" 2>"$T/cs.err" &
	pids+=($!)
	wait_for "$T/cs.err" "control socket on"
	ep=$(sed -n 's/.*control socket on //p' "$T/cs.err")
	run "$TSF" rules push "$T/v2.tsb" --to "$ep" --curve-server-key "$T/gw.pub" --timeout 20
	check push-curve "$([ $rc -eq 0 ] && grep -q ": ok 2 " <<<"$out"; echo $?)" "exit $rc: $out $err"
	run "$TSF" rules push "$T/v3.tsb" --to "$ep" --timeout 1
	check push-curve-plain-refused "$([ $rc -eq 1 ] && grep -q "error timeout" <<<"$out"; echo $?)" "exit $rc: $out"
else
	echo "skip - bundle:push-curve (no CURVE key tool in this build)"
fi

# ---- directory watch
mkdir -p "$T/drop"
"$TSF" rules serve --rules-dir "$T/drop" --trust "$T/trust" --interval-ms 50 \
	>"$T/w.out" 2>"$T/w.err" &
pids+=($!)
cp "$T/v2.tsb" "$T/drop/.incoming" && mv "$T/drop/.incoming" "$T/drop/set.tsb"
wait_for "$T/w.out" "^live 2 "
check watch-pickup "$?" "$(cat "$T/w.out" "$T/w.err")"
cp "$T/corrupt.tsb" "$T/drop/bad.tsb"
wait_for "$T/w.err" "bad.tsb: error signature"
check watch-reject "$?" "$(cat "$T/w.err")"
cp "$T/v3.tsb" "$T/drop/.incoming" && mv "$T/drop/.incoming" "$T/drop/set.tsb"
wait_for "$T/w.out" "^live 3 "
check watch-replace "$?" "$(cat "$T/w.out" "$T/w.err")"

[ "$fails" -eq 0 ]
