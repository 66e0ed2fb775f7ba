#!/usr/bin/env bash
# bench/profile.sh [BUILD_DIR] [SUBS] [SIZE] [rest|server] — where sigrid's time goes under
# fan-out load.
# Starts BUILD_DIR/sigrid serve (default build/, built by `make build`), pinned to core 0, runs
# the fan-out load (SUBS subscribers, default 1000, SIZE-byte payloads, default 64; REST
# publisher by default, or one app-server connection with "server"; 32 in flight) from core 1,
# and while it runs:
#   - perf stat: syscalls, context switches and CPU of the server -> per delivery
#   - perf record (DWARF call graphs) -> the hottest functions, self and with children
# Prints a short report; perf data is left in $OUT (default /tmp/sigrid-profile).
# Needs perf (Debian: linux-perf). Bounded: about 15 s. Stops sigrid by PID.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
SUBS=${2:-1000}
SIZE=${3:-64}
PUB=${4:-rest}
OUT=${OUT:-/tmp/sigrid-profile}
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)"; exit 1; }
[ -x "$BUILD/sigrid" ] && [ -x "$BUILD/bench/loadgen" ] || { echo "profile: build $BUILD first"; exit 1; }

D=$(mktemp -d /tmp/sigrid-prof.XXXXXX)
SPID=""
cleanup() {
    [ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && { for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$SPID" 2>/dev/null; }
    [ -n "${LPID:-}" ] && kill "$LPID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
CP=$(free_port); SP=$(free_port)
taskset -c 0 "$BUILD/sigrid" serve --data-dir "$D" --cloud-port "$CP" --signalr-port "$SP" --cloud-http \
    --identity-port-base $((20000 + RANDOM % 20000)) --log-level warn >"$D/out" 2>"$D/err" &
SPID=$!
for _ in $(seq 1 100); do [ -s "$D/endpoints.json" ] && break; sleep 0.1; done
CS=$("$BUILD/sigrid" signalr key list -g local -n default --data-dir "$D" 2>/dev/null |
    node -e 'try{console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).primaryConnectionString)}catch{}')
[ -n "$CS" ] || CS=$(sed -n 's/^ *connection string *//p' "$D/out" | head -1)
[ -n "$CS" ] || { echo "profile: no connection string"; cat "$D/err"; exit 1; }

taskset -c 1 "$BUILD/bench/loadgen" --mode fanout --target sigrid --conn-str "$CS" --port "$SP" \
    --conns "$SUBS" --size "$SIZE" --window 32 --pub-conns 32 --publish "$PUB" --warmup 2 --duration 8 \
    --server-pid "$SPID" --timeout 40 --label profile >"$OUT/loadgen.json" 2>"$OUT/loadgen.err" &
LPID=$!
# wait until the subscribers are connected and publishing runs
for _ in $(seq 1 200); do grep -q "subscribers connected" "$OUT/loadgen.err" && break; sleep 0.1; done
sleep 2.5
EVENTS=task-clock,context-switches,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvfrom
perf stat -x, -e "$EVENTS" -p "$SPID" -- sleep 2 2>"$OUT/stat.csv" >/dev/null
perf record -q -F 999 --call-graph dwarf,8192 -p "$SPID" -o "$OUT/perf.data" -- sleep 2 >/dev/null 2>&1
wait "$LPID"
LPID=""
R=$(cat "$OUT/loadgen.json")
echo "$R"
RATE=$(echo "$R" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(j.deliveries_per_s||0)')
echo
echo "== server syscalls under load (2 s of perf stat; per delivery at $RATE deliveries/s)"
awk -F, -v rate="$RATE" '$1 ~ /^[0-9.]+$/ {
    per = ($3 ~ /task-clock/) ? "" : sprintf("%.4f per delivery", ($1 / 2) / (rate > 0 ? rate : 1));
    if ($3 ~ /task-clock/) per = sprintf("%.0f ns CPU per delivery", ($1 * 1e6 / 2) / (rate > 0 ? rate : 1));
    printf "  %-34s %14s   %s\n", $3, $1, per }' "$OUT/stat.csv"
echo
echo "== hottest functions (self time)"
perf report -i "$OUT/perf.data" --no-children --stdio --sort symbol -g none --percent-limit 1.2 2>/dev/null |
    grep -E '^ +[0-9]' | head -30
echo
echo "== sigrid functions including callees"
perf report -i "$OUT/perf.data" --children --stdio --sort symbol -g none --percent-limit 3 2>/dev/null |
    grep -E '^ +[0-9]' | grep -vE '\[k\]' | head -25
