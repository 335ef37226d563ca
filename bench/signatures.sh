#!/usr/bin/env bash
# Signature benchmark (issue #4): Sigstore bundles verified per second,
# offline, next to the reference Python client on the same bundle
# (happy-path-v0.3 of sigstore-conformance, public-good production root):
# `sigstore verify identity --offline` per invocation (what a CI step pays),
# and its Verifier in-process (interpreter start excluded). Prints the ratio.
#
#   bash bench/signatures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${PORTCULLIS_SHARED:-../shared}
CASE="$SHARED/corpus/sigstore-conformance/test/assets"
BUNDLE="$CASE/bundle-verify/happy-path-v0.3/bundle.sigstore.json"
ID="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
ISSUER="https://token.actions.githubusercontent.com"
VENV=${SIGSTORE_VENV:-/tmp/sigstore-venv}
[ -x "$VENV/bin/sigstore" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q sigstore; }

echo "== portcullis (cargo bench --bench signatures)"
cargo bench -q --bench signatures 2>/dev/null | tee /tmp/bench-sig-portcullis
ours=$(grep "Rekor v1 hashedrekord" /tmp/bench-sig-portcullis | awk '{for(i=1;i<=NF;i++) if ($(i+1)=="bundles/s") print $i}')

echo "== sigstore-python $("$VENV/bin/pip" show sigstore | awk '/^Version/{print $2}') on the same bundle"
start=$(date +%s.%N)
for _ in 1 2 3 4 5; do
    "$VENV/bin/sigstore" verify identity --offline --bundle "$BUNDLE" --cert-identity "$ID" --cert-oidc-issuer "$ISSUER" "$CASE/a.txt" >/dev/null 2>&1
done
cli=$(python3 -c "import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / 5)" "$start" "$(date +%s.%N)")
inproc=$("$VENV/bin/python" - "$BUNDLE" "$CASE/a.txt" "$ID" "$ISSUER" <<'PY'
import sys, time
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity
from sigstore.models import Bundle
bundle_path, artifact, ident, issuer = sys.argv[1:5]
v = Verifier.production(offline=True)
data = open(artifact, "rb").read()
text = open(bundle_path).read()
policy = Identity(identity=ident, issuer=issuer)
v.verify_artifact(data, Bundle.from_json(text), policy)
n, start = 0, time.perf_counter()
while time.perf_counter() - start < 3:
    v.verify_artifact(data, Bundle.from_json(text), policy)
    n += 1
print(n / (time.perf_counter() - start))
PY
)
python3 - "$ours" "$cli" "$inproc" <<'PY'
import sys
ours, cli, inproc = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"  sigstore verify identity --offline: {cli*1e3:.0f} ms per invocation = {1/cli:.1f} bundles/s -> portcullis {ours*cli:.0f}x")
print(f"  sigstore-python Verifier in-process (1 thread): {inproc:.0f} bundles/s -> portcullis {ours/inproc:.1f}x")
print(f"  target >= 2,000 bundles/s on 2 cores: {'met' if ours >= 2000 else 'MISSED'} ({ours:.0f}/s)")
PY
