#!/usr/bin/env bash
# Admission-server benchmark (issue #6), on loopback: `wrk` (Debian) against
# `portcullis serve` (release build) with a real `docker-registry` holding the
# shared go-static-good image (pushed with skopeo).
#
#   bash bench/serve.sh [SOAK_SECONDS]     (default 600; 0 skips the soak)
#
# 1. cached verdicts: POST /v1/evaluate for one image, 2 wrk threads × 32
#    connections, 30 s (throughput), and paced at ~5,000 req/s (20
#    connections, 3 ms apart); target p99 <= 2 ms at >= 5,000 req/s on 2 cores.
#    Next to it, GET /healthz with the same load: the HTTP stack's ceiling on
#    this machine (the hardware limit for any verdict).
# 2. POST /validate with a Pod of that image (cached): the webhook path.
# 3. cold verdicts: a policy whose caches keep nothing (admit/deny/tag TTL 0),
#    one connection: every request resolves the tag at the registry, reads the
#    manifests and judges the image (blobs come from the content-addressed
#    cache, as on a warm node); target p99 <= 50 ms.
# 4. soak: SOAK_SECONDS at ~1,000 req/s (10 connections, 10 ms apart) on cached
#    verdicts; errors counted, resident memory sampled every 30 s.
# wrk, docker-registry and skopeo must be installed (apt-get install wrk
# docker-registry skopeo). wrk and portcullis share the 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK=${1:-600}
for p in wrk docker-registry skopeo; do command -v $p >/dev/null || { echo "bench/serve.sh needs $p" >&2; exit 2; }; done
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REG=127.0.0.1:$(port)
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$work/registry" "$REG" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 & pids+=($!)
until curl -sf "http://$REG/v2/" >/dev/null; do sleep 0.1; done
skopeo copy -q --insecure-policy --preserve-digests --dest-tls-verify=false \
    oci:../shared/images/oci/go-static-good:v1 "docker://$REG/go/app:v1"
IMAGE=$REG/go/app:v1

serve() { # policy file -> sets ADDR, SERVER_PID
    ADDR=127.0.0.1:$(port)
    PORTCULLIS_CACHE_DIR=$work/components "$BIN" serve --policy "$1" --listen "$ADDR" \
        --registry-cache "$work/blobs" --allow-private-registries 2>/dev/null & SERVER_PID=$!; pids+=($SERVER_PID)
    until curl -sf "http://$ADDR/readyz" >/dev/null; do sleep 0.1; done
}
post_lua() { # body -> lua file
    local f=$work/post-$RANDOM.lua
    printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n%s\n' "$1" "${2:-}" > "$f"
    echo "$f"
}
summary() { # name, wrk output file
    awk -v name="$1" '
        /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
        /Requests\/sec/ {rps=$2}
        /Non-2xx/ {non2xx=$NF} /Socket errors/ {sock=$0}
        END {printf "%-34s p50 %8s  p99 %8s  %10s req/s  non-2xx %s %s\n", name, p50, p99, rps, (non2xx==""?0:non2xx), sock}' "$2"
}
run_wrk() { # name, threads, conns, seconds, url, [lua]
    local out=$work/wrk-$RANDOM.txt
    wrk -t"$2" -c"$3" -d"$4"s --latency ${6:+-s "$6"} "$5" > "$out"
    summary "$1" "$out"
    cp "$out" "$work/last.txt"
}

cp policies/go-container-baseline.toml "$work/policy.toml"
serve "$work/policy.toml"
curl -sf -X POST -H 'Content-Type: application/json' -d "{\"image\":\"$IMAGE\"}" "http://$ADDR/v1/evaluate" >/dev/null
echo "== portcullis serve, $(nproc) cores, $(date -u +%FT%TZ)"
run_wrk "GET /healthz (HTTP ceiling)" 2 32 30 "http://$ADDR/healthz"
ceiling=$(awk '/Requests\/sec/ {print $2}' "$work/last.txt")
run_wrk "POST /v1/evaluate (cached)" 2 32 30 "http://$ADDR/v1/evaluate" "$(post_lua "{\"image\":\"$IMAGE\"}")"
cached=$(awk '/Requests\/sec/ {print $2}' "$work/last.txt")
# The target's operating point: ~5,000 req/s (20 connections, 3 ms apart).
run_wrk "POST /v1/evaluate (cached, ~5k/s)" 2 20 30 "http://$ADDR/v1/evaluate" \
    "$(post_lua "{\"image\":\"$IMAGE\"}" 'function delay() return 3 end')"
pod=$(python3 - "$IMAGE" <<'PY'
import json, sys
c = {"name": "app", "image": sys.argv[1],
     "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
     "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
     "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}}}
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE",
    "namespace": "default", "object": {"metadata": {"name": "app", "namespace": "default"}, "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [c]}}}}))
PY
)
run_wrk "POST /validate Pod (cached)" 2 32 30 "http://$ADDR/validate" "$(post_lua "$pod")"
awk -v c="$cached" -v h="$ceiling" 'BEGIN {printf "cached verdicts run at %.0f%% of the HTTP ceiling (%.0f of %.0f req/s)\n", 100*c/h, c, h}'

# Cold: nothing kept between requests.
sed -e 's/^admit-ttl-s = .*/admit-ttl-s = 0/' -e 's/^deny-ttl-s = .*/deny-ttl-s = 0/' \
    -e 's/^tag-ttl-s = .*/tag-ttl-s = 0/' policies/go-container-baseline.toml > "$work/cold.toml"
kill "$SERVER_PID"
serve "$work/cold.toml"
run_wrk "POST /v1/evaluate (cold, 1 conn)" 1 1 30 "http://$ADDR/v1/evaluate" "$(post_lua "{\"image\":\"$IMAGE\"}")"
kill "$SERVER_PID"

if [ "$SOAK" -gt 0 ]; then
    serve "$work/policy.toml"
    curl -sf -X POST -d "{\"image\":\"$IMAGE\"}" "http://$ADDR/v1/evaluate" >/dev/null
    lua=$(post_lua "{\"image\":\"$IMAGE\"}" 'function delay() return 10 end')
    wrk -t2 -c10 -d"${SOAK}"s --latency -s "$lua" "http://$ADDR/v1/evaluate" > "$work/soak.txt" &
    wrk_pid=$!
    echo "soak: ${SOAK}s at ~1,000 req/s; resident memory of the server (kB):"
    while kill -0 "$wrk_pid" 2>/dev/null; do
        printf '  t=%4ss  rss %s kB\n' "$SECONDS" "$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)"
        sleep 30
    done
    summary "soak POST /v1/evaluate (cached)" "$work/soak.txt"
    grep -E "requests in|Non-2xx|Socket errors" "$work/soak.txt" || echo "  no errors reported by wrk"
fi
