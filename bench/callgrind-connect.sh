#!/usr/bin/env bash
# bench/callgrind-connect.sh BUILD N key|entra [loadgen args...] — user-space instructions of
# `sigrid serve` per full SignalR connect (negotiate + upgrade + handshake), repeatable even on a
# busy machine. Starts BUILD/sigrid under valgrind --tool=callgrind in a fresh data dir (killed
# by its PID at the end), runs 50 warm-up connects, zeroes the counters, runs N connects
# (BUILD/bench/loadgen --mode conns, 16 in flight), dumps and prints Ir / N. `entra` signs the
# client tokens with a temporary key fetched with a VM identity's Entra token (role 'SignalR App
# Server'), as bench/run's Entra row. Example:
#   bench/callgrind-connect.sh build 2000 key --token-per-conn
# LG=path overrides the load generator (e.g. an A/B against an older server build).
set -u
B=$1; N=$2; MODE=${3:-key}; shift 3 || shift $#
LG=${LG:-$B/bench/loadgen}
T=$(mktemp -d /tmp/cgconn.XXXX)
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(fp); sport=$(fp); idb=$((40000 + RANDOM % 20000))
valgrind --tool=callgrind --callgrind-out-file=$T/cg.out "$B/sigrid" serve --data-dir "$T/d" \
  --cloud-port $cport --signalr-port $sport --cloud-http --identity-port-base $idb --log-level warn \
  >$T/out 2>$T/err &
VPID=$!
for _ in $(seq 1 600); do [ -s "$T/d/endpoints.json" ] && break; kill -0 $VPID 2>/dev/null || { echo "serve died"; cat $T/out; exit 1; }; sleep 0.2; done
CS=$("$B/sigrid" signalr key list -g local -n default --data-dir "$T/d" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).primaryConnectionString))')
EXTRA=()
if [ "$MODE" = entra ]; then
  S="$B/sigrid"
  $S vm create -g local -n cgvm --assign-identity --data-dir "$T/d" >/dev/null
  pr=$($S vm show -g local -n cgvm --data-dir "$T/d" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).identity.principalId))')
  rid=$($S signalr show -g local -n default --data-dir "$T/d" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
  $S role assignment create --assignee "$pr" --role "SignalR App Server" --scope "$rid" --data-dir "$T/d" >/dev/null
  tok=$($S --data-dir "$T/d" exec --vm cgvm -g local -- $S account get-access-token --resource https://signalr.azure.com --managed-identity | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).accessToken))')
  kj=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$sport/api/v1/auth/accessKey")
  key=$(echo "$kj" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).AccessKey))')
  kid=$(echo "$kj" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).KeyId))')
  EXTRA=(--key "$key" --kid "$kid")
fi
# warm-up (first-use allocations, OpenSSL init), then zero and measure
"$LG" --mode conns --target sigrid --conn-str "$CS" --port $sport --conns 50 --concurrency 8 --settle 0 --timeout 120 "${EXTRA[@]}" "$@" >/dev/null 2>$T/lg0.err
callgrind_control -z $VPID >/dev/null
"$LG" --mode conns --target sigrid --conn-str "$CS" --port $sport --conns $N --concurrency 16 --settle 0 --timeout 300 "${EXTRA[@]}" "$@" >$T/lg.out 2>$T/lg.err
callgrind_control -d $VPID >/dev/null
sleep 1
kill $VPID; wait $VPID 2>/dev/null
f=$T/cg.out.1
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1; exit}')
echo "build=$B mode=$MODE n=$N Ir=$ir Ir/connect=$((ir / N)) dump=$f"
grep -o '"opened":[0-9]*\|"failed":[0-9]*\|"errors":[0-9]*' $T/lg.out | tr '\n' ' '; echo
