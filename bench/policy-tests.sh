#!/usr/bin/env bash
# Policy-test benchmark (issue #17), printed: the wall time of the project's
# whole policy-test suite, `portcullis test policies/tests
# --require-coverage` (target <= 5 s on 2 cores), cold (no compiled-plugin
# cache: every plugin compiled first) and warm (median of 5), with peak RSS.
#
#   bash bench/policy-tests.sh
#
# PORTCULLIS_BIN: a prebuilt release binary (default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${PORTCULLIS_SHARED:-../shared}
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    cargo build --release -q --bin portcullis
    PORTCULLIS_BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # prints "seconds maxrss_kb" of one run
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1 || { cat "$work/t" >&2; echo "failed: $*" >&2; exit 1; }
    cat "$work/t"
}

cases=$("$PORTCULLIS_BIN" test policies/tests --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')
echo "== portcullis test policies/tests --require-coverage ($cases cases, $(nproc) cores)"
rm -rf "$XDG_CACHE_HOME"
read -r cold cold_rss < <(timed "$PORTCULLIS_BIN" test policies/tests --require-coverage)
printf "cold (plugins compiled first): %s s, peak RSS %s MB\n" "$cold" $((cold_rss / 1024))
for _ in 1 2 3 4 5; do timed "$PORTCULLIS_BIN" test policies/tests --require-coverage; done > "$work/warm"
warm=$(cut -d' ' -f1 "$work/warm" | median)
rss=$(cut -d' ' -f2 "$work/warm" | median)
printf "warm: %s s median of 5 (target <= 5 s), peak RSS %s MB\n" "$warm" $((rss / 1024))

python3 -c "print(f'ratio suite/target: {float(\"$warm\") / 5.0:.2f} (<= 1 meets the target)')"
