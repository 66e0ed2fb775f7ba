#!/usr/bin/env bash
# Short lint for banned calls in src/ (CONVENTIONS.md): sprintf/vsprintf, strcpy/strcat, atoi/atol,
# gets, and raw malloc/calloc/realloc/free/strdup outside src/base/sg_alloc.c (use sg_malloc,
# sg_calloc, sg_realloc, sg_free, sg_strdup). Comment lines are skipped; a line may opt out
# with the marker `lint-ok: <reason>` (e.g. memory a library requires freeing with free()).
# Prints file:line: finding; exits 1 when anything was found.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-src}

found=0
report() { printf '%s\n' "$1"; found=$((found + 1)); }

while IFS= read -r -d '' f; do
    out=$(awk -v file="$f" '
        BEGIN { inc = 0 }
        {
            line = $0
            # drop block comments (single- and multi-line) and // comments
            if (inc) { e = index(line, "*/"); if (e == 0) next; line = substr(line, e + 2); inc = 0 }
            while ((s = index(line, "/*")) > 0) {
                rest = substr(line, s + 2); e = index(rest, "*/")
                if (e == 0) { line = substr(line, 1, s - 1); inc = 1; break }
                line = substr(line, 1, s - 1) " " substr(rest, e + 2)
            }
            sub(/\/\/.*/, "", line)
            # drop string literals
            gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
            if ($0 ~ /lint-ok:/) next
            if (line ~ /(^|[^A-Za-z0-9_])v?sprintf[ \t]*\(/) print file ":" NR ": sprintf( — use sg_snprintf or sg_buf_appendf"
            if (line ~ /(^|[^A-Za-z0-9_])(strcpy|strcat)[ \t]*\(/) print file ":" NR ": strcpy/strcat( — use sg_snprintf, memcpy with a checked length, or sg_buf"
            if (line ~ /(^|[^A-Za-z0-9_])(atoi|atol|atoll)[ \t]*\(/) print file ":" NR ": atoi( — use sg_parse_i64 / sg_parse_u64"
            if (line ~ /(^|[^A-Za-z0-9_])gets[ \t]*\(/) print file ":" NR ": gets("
            if (file != "src/base/sg_alloc.c" && line ~ /(^|[^A-Za-z0-9_.>])(malloc|calloc|realloc|free|strdup|strndup)[ \t]*\(/)
                print file ":" NR ": raw allocation — use sg_malloc/sg_calloc/sg_realloc/sg_free/sg_strdup"
        }' "$f")
    if [ -n "$out" ]; then
        while IFS= read -r l; do report "$l"; done <<<"$out"
    fi
done < <(find "$ROOT" -name '*.[ch]' -print0 | sort -z)

if [ "$found" -gt 0 ]; then
    echo "lint: $found finding(s)"
    exit 1
fi
echo "lint: clean"
