"""CenterFace in 8-bit integers, for the close look on CPUs that multiply 8-bit integers exactly
(x86-64 VNNI): 1.5x faster than float there per 1120x1120 tile (onnxruntime 1.22.1, one thread).
Only the close look runs it; fully quantised it finds the same faces as float (corpus faces tiled
at 12-32 px) and no more peaks on text. (The RetinaFace cue is quantised by
quantize_retinaface.py; its candidates that decide something are scored again in float.)
Static QDQ quantisation (opset 13, for per-channel weights), weights int8 per channel, activations
uint8, ranges by min/max over calibration pictures the repository holds (fixtures/demo,
fixtures/faces and fixtures/text at the tile size, and fixtures/faces shrunk to half and a quarter
so crowd-sized faces are in the ranges), each range rounded to 3 significant digits so the file
does not depend on the last bits of the CPU's float arithmetic. consentgate picks this model only
where VNNI is present (src/faces/mod.rs).

Usage: quantize_centerface.py centerface.onnx OUT.onnx REPO_ROOT"""
import sys, tempfile
from pathlib import Path
import numpy as np
import onnx
from onnx import version_converter
from PIL import Image
from quantize_common import face_calibration_pictures, quantize

src, dst, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
T = 1120  # a tile of the close look
PICTURES = face_calibration_pictures(T)


def tile(path, long_side):
    """The picture at `long_side`, top-left in a T x T tile of zeros, as CenterFace takes it (RGB
    0-255)."""
    im = Image.open(path).convert("RGB")
    s = long_side / max(im.size)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BILINEAR)
    canvas = Image.new("RGB", (T, T))
    canvas.paste(im.crop((0, 0, min(T, im.width), min(T, im.height))), (0, 0))
    a = np.asarray(canvas, np.float32)
    return a.transpose(2, 0, 1)[None].copy()


model = onnx.load(src)
for i, n in enumerate(model.graph.node):  # CenterFace's nodes have no names
    n.name = n.name or f"node{i}"
with tempfile.TemporaryDirectory() as tmp:
    onnx.save(version_converter.convert_version(model, 13), f"{tmp}/m13.onnx")
    quantize(f"{tmp}/m13.onnx", dst, [(root / p, side) for p, side in PICTURES], lambda x: tile(*x))
print(f"ok  quantised centerface written ({len(PICTURES)} calibration pictures)")
