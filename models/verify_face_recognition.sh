#!/usr/bin/env bash
# Prove models/face_recognition.onnx reproduces face-api's FaceRecognitionNet (TF.js) exactly.
# Needs: python3 (3.11) + pip, node 20 + npm, and access to PyPI + npm registries.
# Everything is installed into a temp dir; nothing in the repo is modified.
#   models/verify_face_recognition.sh [MODEL.onnx] [FACE.jpg]
# Steps: npm install face-api 1.7.15 + tfjs 4.22.0 (pure-JS CPU backend; no tfjs-node),
# build 3 inputs (noise, gradient, obama face crop), run face-api's computeFaceDescriptor,
# run the ONNX with onnxruntime, fail if max abs diff > 1e-4.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
model="${1:-$here/face_recognition.onnx}"
face="${2:-$here/../../shared/corpus/faces/obama.jpg}"
[ -f "$face" ] || face=/work/shared/corpus/faces/obama.jpg
model="$(cd "$(dirname "$model")" && pwd)/$(basename "$model")"
work="${VERIFY_WORKDIR:-$(mktemp -d /tmp/verify-fr.XXXXXX)}"
echo "work dir: $work"
mkdir -p "$work/node"
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q numpy==2.4.6 onnxruntime==1.32.0 pillow==13.0.0 2>/dev/null \
    || "$work/venv/bin/pip" install -q numpy onnxruntime pillow
fi
if [ ! -d "$work/node/node_modules/@vladmandic/face-api" ]; then
  (cd "$work/node" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent \
    @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0)
fi
rm -f "$work/ref_tfjs.json"
"$work/venv/bin/python" "$here/verify/make_inputs.py" "$face" "$work/inputs"
node "$here/verify/ref_tfjs.js" "$work/node" "$work/inputs" "$work/ref_tfjs.json" 2>&1 | grep -v -e '^=*$' -e 'tfjs-node' -e '^ *$' || true
[ -s "$work/ref_tfjs.json" ] || { echo "FAIL: no TF.js reference produced" >&2; exit 1; }
"$work/venv/bin/python" "$here/verify/compare_onnx.py" "$model" "$work/inputs" "$work/ref_tfjs.json" 1e-4
