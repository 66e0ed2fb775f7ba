#!/usr/bin/env bash
# Runs every test against the test build and ends with "N passed, N failed".
#   unit tests + fuzz-corpus replays (ctest), end-to-end tests (node --test, real clients),
#   the load generator's smoke run.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-test}
ROOT=$(pwd)
pass=0
fail=0
skipped=0
LOG=$ROOT/$BUILD/test-logs
mkdir -p "$LOG"

echo "== lint (banned calls in src/)"
if bash scripts/lint.sh >"$LOG/lint.log" 2>&1; then
    pass=$((pass + 1)); tail -n 1 "$LOG/lint.log"
else
    fail=$((fail + 1)); head -n 30 "$LOG/lint.log"
fi

echo "== unit tests and fuzz-corpus replays (ctest)"
(cd "$BUILD" && ctest --output-on-failure -j2 >"$LOG/ctest.log" 2>&1)
tail -n 40 "$LOG/ctest.log" | grep -E "tests passed|Failed|\*\*\*|Test +#" | tail -n 30
read -r cp ct < <(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/p' "$LOG/ctest.log" | tail -1)
if [ -n "${ct:-}" ]; then
    pass=$((pass + ct - cp)); fail=$((fail + cp))
else
    echo "ctest produced no summary"; fail=$((fail + 1))
fi
grep -q "No tests were found" "$LOG/ctest.log" && echo "(no ctest tests yet)"

if ls tests/e2e/*.test.mjs >/dev/null 2>&1; then
    echo "== end-to-end tests (node --test, real clients)"
    export SIGRID_BIN="$ROOT/$BUILD/sigrid"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
    (cd tests/e2e && node --test --test-concurrency=1 --test-timeout="${E2E_TIMEOUT_MS:-300000}" --test-reporter=spec --test-reporter-destination=stdout \
        --test-reporter=tap --test-reporter-destination="$LOG/e2e.tap" *.test.mjs) >"$LOG/e2e.log" 2>&1
    grep -aE "^# (tests|pass|fail|cancelled|skipped)" "$LOG/e2e.tap" || true
    grep -aE "✖|not ok" "$LOG/e2e.log" | head -n 40
    ep=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$LOG/e2e.tap" | tail -1)
    ef=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$LOG/e2e.tap" | tail -1)
    ec=$(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$LOG/e2e.tap" | tail -1) # timed out = failed
    ef=$(( ${ef:-0} + ${ec:-0} ))
    skipped=$(sed -nE 's/^# skipped ([0-9]+)$/\1/p' "$LOG/e2e.tap" | tail -1)
    if [ -z "$ep" ]; then
        echo "e2e run produced no summary"; tail -n 30 "$LOG/e2e.log"; fail=$((fail + 1))
    else
        pass=$((pass + ep)); fail=$((fail + ${ef:-0}))
    fi
fi

if [ -x bench/smoke.sh ]; then
    echo "== load generator smoke (2 x 1 s)"
    if bash bench/smoke.sh "$BUILD" >"$LOG/bench-smoke.log" 2>&1; then
        pass=$((pass + 1)); tail -n 3 "$LOG/bench-smoke.log"
    else
        fail=$((fail + 1)); tail -n 20 "$LOG/bench-smoke.log"
    fi
fi

echo "logs: $LOG"
if [ "${skipped:-0}" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skipped skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
