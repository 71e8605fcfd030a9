#!/usr/bin/env bash
# smoke_test.sh — milter_loadgen against the real null milter (libmilter), over a unix socket
# and TCP: every message accepted, no errors, the negotiated "no DATA" step honoured, header
# additions read, the memory mode holding its connections. Correctness only, never timing.
#   smoke_test.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: smoke_test.sh BUILD_DIR}
loadgen=$build/bench/loadgen/milter_loadgen
nullmilter=$build/bench/nullmilter/nullmilter
tmp=$(mktemp -d)
pid=""
# libmilter notices SIGTERM only at its next 5-second poll; the null milter keeps no state.
stop() { if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
cleanup() { stop; rm -rf "$tmp"; }
trap cleanup EXIT
# A port below the ephemeral range, so no client socket in TIME-WAIT holds it.
port=$((20000 + $$ % 10000))

start() {  # start SPEC [nullmilter options]
  local spec=$1; shift
  stop
  "$nullmilter" -p "$spec" "$@" 2>>"$tmp/nullmilter.log" &
  pid=$!
}

check() {  # check JSON_FILE EXPECTED_MESSAGES EXPECTED_LABEL [PROTOCOL_BIT]
  python3 - "$@" <<'PY'
import json, sys
path, want, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bit = int(sys.argv[4], 0) if len(sys.argv) > 4 else None
r = json.load(open(path))
assert r["errors"] == 0, r["first_errors"]
assert r["messages"] == want, (r["messages"], want)
for kind, k in r["kinds"].items():
    assert set(k["outcomes"]) == {label}, (kind, k["outcomes"])
if bit is not None:
    assert int(r["negotiated"]["protocol"], 16) & bit, r["negotiated"]
if "hold" in r:
    assert r["hold"]["held"] == r["hold"]["connections"], r["hold"]
print(f'ok {path.rsplit("/",1)[-1]}: {r["messages"]} messages, {r["msgs_per_s"]:.0f}/s')
PY
}

mix=plain=60,allowed=20,denied=10,invalid=5,pair_wrong=5
start "unix:$tmp/null.sock"
"$loadgen" -s "unix:$tmp/null.sock" --wait 10 -n 300 -c 4 -m 3 -d 60 --mix "$mix" --json "$tmp/unix.json" -q
check "$tmp/unix.json" 300 accept 0x400  # SMFIP_SKIP, as aamp-milter negotiates
"$loadgen" -s "unix:$tmp/null.sock" -c 1 --hold 20 -d 60 --mix "$mix" --pid "$pid" --json "$tmp/hold.json" -q
check "$tmp/hold.json" 20 accept

start "inet:$port@127.0.0.1"
"$loadgen" -s "inet:$port@127.0.0.1" --wait 10 -n 300 -c 4 -d 60 --mix "$mix" --json "$tmp/tcp.json" -q
check "$tmp/tcp.json" 300 accept

start "inet:$port@127.0.0.1" --add-header
"$loadgen" -s "inet:$port@127.0.0.1" --wait 10 -n 50 -c 2 -d 60 --mix "$mix" --json "$tmp/addhdr.json" -q
check "$tmp/addhdr.json" 50 "accept +hdr"

start "unix:$tmp/null.sock" --no-data
"$loadgen" -s "unix:$tmp/null.sock" --wait 10 -n 20 -c 2 -d 60 --mix "$mix" --json "$tmp/nodata.json" -q
check "$tmp/nodata.json" 20 accept 0x200
