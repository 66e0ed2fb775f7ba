#!/usr/bin/env bash
# bench/smoke.sh BUILD_DIR — the load generator's smoke run, part of `make test`.
# Builds nothing. Starts BUILD_DIR/sigrid serve on free ports with a temp data dir, runs
# BUILD_DIR/bench/loadgen twice for 1 s each (50 SignalR subscribers with a REST publisher;
# 300 MessagePack subscribers with an app-server connection publishing over the service
# protocol), checks that messages were delivered with no errors, stops sigrid by PID and checks
# that it exits 0.
# Exit 0 = pass, 1 = fail.
# No peers, no nginx, loopback only.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-test}
SIGRID=$BUILD/sigrid
LOADGEN=$BUILD/bench/loadgen
for f in "$SIGRID" "$LOADGEN"; do
    [ -x "$f" ] || { echo "smoke: $f is missing (build first)"; exit 1; }
done

D=$(mktemp -d /tmp/sigrid-smoke.XXXXXX)
SPID=""
cleanup() {
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
        kill -TERM "$SPID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SPID" 2>/dev/null
        wait "$SPID" 2>/dev/null
    fi
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
    echo "smoke: FAIL: $*"
    echo "--- sigrid stderr (last 20 lines)"; tail -n 20 "$D/serve.err" 2>/dev/null
    exit 1
}

# json FILE-OR-STRING EXPR: evaluates a JS expression over the parsed JSON `j`.
json() { node -e 'const s=require("fs").readFileSync(0,"utf8");const j=JSON.parse(s);const v=('"$1"');process.stdout.write(v===undefined||v===null?"":String(v))'; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
CLOUD_PORT=$(free_port)
SR_PORT=$(free_port)
ID_BASE=$((20000 + RANDOM % 20000))
"$SIGRID" serve --data-dir "$D" --cloud-port "$CLOUD_PORT" --signalr-port "$SR_PORT" --cloud-http \
    --identity-port-base "$ID_BASE" --log-level warn >"$D/serve.out" 2>"$D/serve.err" &
SPID=$!
for _ in $(seq 1 300); do
    [ -s "$D/endpoints.json" ] && break
    kill -0 "$SPID" 2>/dev/null || fail "sigrid serve exited early"
    sleep 0.1
done
[ -s "$D/endpoints.json" ] || fail "no endpoints.json after 30 s"

URL=$(json 'j.signalr.find(r => r.name === "default").url' <"$D/endpoints.json")
[ -n "$URL" ] || fail "no url for the default resource in endpoints.json"
# the access key: `sigrid signalr key list`, or (until that command exists) the banner
CS=$("$SIGRID" signalr key list -g local -n default --data-dir "$D" 2>"$D/cli.err" | json 'j.primaryConnectionString' 2>/dev/null)
[ -n "$CS" ] || CS=$(sed -n 's/^ *connection string *//p' "$D/serve.out" | head -1)
[ -n "$CS" ] || fail "no access key: sigrid signalr key list said $(head -c 300 "$D/cli.err")"
PORT=${URL##*:}
PORT=${PORT%%/*}
echo "smoke: sigrid pid $SPID at $URL"

# run LABEL ARGS...: one loadgen run that must deliver with no errors
TOTAL=0
run() {
    local label=$1; shift
    OUT=$("$LOADGEN" --mode fanout --target sigrid --conn-str "$CS" --port "$PORT" --warmup 0.5 \
        --duration 1 --timeout 30 --label "$label" "$@" 2>"$D/loadgen.err")
    RC=$?
    echo "$OUT"
    [ "$RC" -eq 0 ] || { cat "$D/loadgen.err"; fail "loadgen ($label) exited $RC"; }
    DEL=$(echo "$OUT" | json 'j.deliveries')
    ERR=$(echo "$OUT" | json 'j.errors + j.bad_status + j.unknown_msgs')
    [ "${DEL:-0}" -gt 0 ] 2>/dev/null || fail "no deliveries ($label)"
    [ "${ERR:-1}" -eq 0 ] 2>/dev/null || fail "$ERR errors ($label)"
    kill -0 "$SPID" 2>/dev/null || fail "sigrid died during the run ($label)"
    TOTAL=$((TOTAL + DEL))
}
# REST publisher, JSON subscribers
run smoke --conns 50 --pub-conns 4 --window 8
# an app-server connection (service protocol BroadcastData), MessagePack subscribers, enough of
# them (>= 256) that the fan-out batching of src/net/stream.c holds and releases streams
run smoke-server --conns 300 --window 32 --publish server --protocol messagepack
# a clean stop: SIGTERM -> exit 0 (in the ASan build a leak or a sanitizer report makes it non-zero)
kill -TERM "$SPID"
for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SPID" 2>/dev/null && fail "sigrid did not stop within 10 s of SIGTERM"
wait "$SPID"
SRC=$?
SPID=""
[ "$SRC" -eq 0 ] || { tail -n 40 "$D/serve.err"; fail "sigrid exited $SRC after SIGTERM"; }
echo "smoke: ok, $TOTAL deliveries, no errors, clean exit"
exit 0
