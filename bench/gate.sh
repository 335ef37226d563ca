#!/usr/bin/env bash
# Push-gate benchmark (issue #14): `skopeo copy` of a large image straight to
# a registry, and through `portcullis gate` in front of an identical one,
# interleaved, N rounds, each push into fresh registry storage with a fresh
# gate (cold verdict and layer caches) and a fresh client blob cache (so no
# blob is skipped or mounted). Prints the medians and the targets:
#   - total push wall time through the gate / direct        (target <= 1.15x)
#   - the tag push's time to a verdict after speculative scanning (<= 50 ms)
#   - the gate's peak RSS over the push                      (target <= 150 MB)
#   - a re-push of the admitted digest under a new tag       (target <= 10 ms)
#
#   bash bench/gate.sh [IMAGE_OCI_DIR] [ROUNDS]
#
# IMAGE defaults to the debian-fat image that ../shared/images/build-images.sh
# builds (run it from a writable copy: it writes next to itself). The policy
# is the default pack with every rule at `warn`, so that the image is
# admitted and both pushes do the same work. PORTCULLIS_BIN: a prebuilt
# release binary (default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-/tmp/bench/images/oci/debian-fat}
ROUNDS=${2:-3}
[ -d "$IMAGE" ] || { echo "no image at $IMAGE: build debian-fat with ../shared/images/build-images.sh first" >&2; exit 2; }
for tool in docker-registry skopeo curl jq; do
    command -v "$tool" >/dev/null || { echo "$tool is needed (Debian package)" >&2; exit 2; }
done
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    cargo build --release -q --bin portcullis
    PORTCULLIS_BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
fi
REF=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"] // "latest"' "$IMAGE/index.json")
MANIFEST_DIGEST=$(jq -r '.manifests[0].digest' "$IMAGE/index.json")
MANIFEST_FILE="$IMAGE/blobs/sha256/${MANIFEST_DIGEST#sha256:}"
MANIFEST_TYPE=$(jq -r '.mediaType' "$MANIFEST_FILE")

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
sed 's/^enforcement = "enforce"$/enforcement = "warn"/' policies/go-container-baseline.toml > "$WORK/policy.toml"
export PORTCULLIS_CACHE_DIR="$WORK/components"   # plugins compiled once, before the first round

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 200); do curl -s -o /dev/null "http://$1$2" && return 0; sleep 0.05; done; echo "nothing on $1" >&2; exit 1; }

start_registry() { # dir -> prints addr; the pid is in dir/pid
    local dir=$1 addr="127.0.0.1:$(port)"
    mkdir -p "$dir"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n' "$dir" "$addr" > "$dir/config.yml"
    docker-registry serve "$dir/config.yml" >/dev/null 2>&1 &
    echo $! > "$dir/pid"
    wait_http "$addr" /v2/
    echo "$addr"
}

push() { # dest-addr -> seconds
    local home start end
    home=$(mktemp -d -p "$WORK")
    start=$(date +%s.%N)
    HOME=$home skopeo copy -q --insecure-policy --preserve-digests --dest-tls-verify=false \
        "oci:$IMAGE:$REF" "docker://$1/bench/image:$REF" >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

metric() { # addr name -> value (summed over label sets)
    curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.6f\n", s }'
}

"$PORTCULLIS_BIN" policy check "$WORK/policy.toml" >/dev/null
: > "$WORK/direct"; : > "$WORK/gate"; : > "$WORK/verdict"; : > "$WORK/rss"; : > "$WORK/repush"
for i in $(seq "$ROUNDS"); do
    # Straight to the registry.
    up=$(start_registry "$WORK/direct-$i")
    push "$up" >> "$WORK/direct"
    kill "$(cat "$WORK/direct-$i/pid")"; rm -rf "$WORK/direct-$i"

    # Through a fresh gate.
    up=$(start_registry "$WORK/gated-$i")
    gate="127.0.0.1:$(port)"
    "$PORTCULLIS_BIN" gate --upstream "http://$up" --listen "$gate" --policy "$WORK/policy.toml" \
        --registry-cache "$WORK/gate-cache-$i" 2>/dev/null &
    gate_pid=$!
    wait_http "$gate" /readyz
    push "$gate" >> "$WORK/gate"
    # The tag push's time to its verdict (one tag push this round).
    awk -v s="$(metric "$gate" portcullis_gate_evaluation_seconds_sum)" 'BEGIN { printf "%.1f\n", s * 1000 }' >> "$WORK/verdict"
    # A re-push of the admitted digest under a new tag.
    curl -s -o /dev/null -w '%{time_total}\n' -X PUT -H "Content-Type: $MANIFEST_TYPE" --data-binary "@$MANIFEST_FILE" \
        "http://$gate/v2/bench/image/manifests/repush-$i" | awk '{ printf "%.1f\n", $1 * 1000 }' >> "$WORK/repush"
    awk '/VmHWM/ { printf "%d\n", $2 / 1024 }' "/proc/$gate_pid/status" >> "$WORK/rss"
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $MANIFEST_TYPE" "http://$up/v2/bench/image/manifests/$REF")" = 200 ] \
        || { echo "round $i: the image was not admitted through the gate" >&2; exit 1; }
    kill "$gate_pid" "$(cat "$WORK/gated-$i/pid")"; wait "$gate_pid" 2>/dev/null || true
    rm -rf "$WORK/gated-$i" "$WORK/gate-cache-$i"
done

median() { sort -n "$WORK/$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
D=$(median direct); G=$(median gate); V=$(median verdict); R=$(median rss); P=$(median repush)
echo "image: $IMAGE ($(du -sh "$IMAGE" | cut -f1) on disk), $ROUNDS interleaved rounds, $(nproc) cores"
printf '%-48s %8s s\n' "skopeo copy straight to docker-registry" "$D"
printf '%-48s %8s s\n' "skopeo copy through portcullis gate" "$G"
awk -v g="$G" -v d="$D" 'BEGIN { printf "gate / direct = %.2fx (target <= 1.15x)\n", g / d }'
echo "tag push to verdict after speculative scanning: $V ms (target <= 50 ms)"
echo "re-push of the admitted digest under a new tag: $P ms (target <= 10 ms)"
echo "gate peak RSS: $R MB (target <= 150 MB)"
