#!/usr/bin/env bash
# Installs what sigrid needs to build and test on a fresh Debian 12 machine. Idempotent:
# apt runs only when a package is missing, npm ci only when the lockfile changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libuv1-dev node-llhttp libjansson-dev libmsgpack-dev libsqlite3-dev sqlite3 libssl-dev
      libcurl4-openssl-dev libcmocka-dev libhiredis-dev openssl ca-certificates curl
      nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        # node may come from elsewhere than Debian's package; accept a working binary
        if { [ "$p" = nodejs ] && command -v node >/dev/null; } || { [ "$p" = npm ] && command -v npm >/dev/null; }; then
            continue
        fi
        missing+=("$p")
    fi
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test clients (npm, locked). Only for tests and benchmarks, never linked into sigrid.
# Several people may run tests from this tree at once: install into a temporary directory and
# swap it in (under a lock), so a running test never sees a half-installed node_modules.
for dir in tests/e2e bench; do
    if [ -f "$dir/package-lock.json" ]; then
        stamp="$dir/node_modules/.lock-stamp"
        if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
            (
                flock 9
                if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then exit 0; fi
                echo "install-deps: npm ci in $dir"
                tmp=$(mktemp -d "$dir/.node_modules.new.XXXXXX")
                cp "$dir/package.json" "$dir/package-lock.json" "$tmp/"
                (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
                cp "$dir/package-lock.json" "$tmp/node_modules/.lock-stamp"
                old="$dir/.node_modules.old.$$"
                if [ -d "$dir/node_modules" ]; then mv -T "$dir/node_modules" "$old"; fi
                mv -T "$tmp/node_modules" "$dir/node_modules"
                rm -rf "$old" "$tmp"
            ) 9>"$dir/.npm-install.lock"
        fi
    fi
done
