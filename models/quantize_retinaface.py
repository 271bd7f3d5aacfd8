"""RetinaFace-MobileNet0.25 in 8-bit integers, for the close look's cue on CPUs that multiply
8-bit integers exactly (x86-64 VNNI): ~1.3x faster than float there over a 12 MP photo's cue
tiles (onnxruntime 1.22.1, one thread). The first convolution, which reads the picture at full
resolution, stays float (quantised too, the cue lost 5-6% of 17-20 px faces). Its scores on
texture run higher than float's, so consentgate takes none of its small candidates as a face
before float RetinaFace has scored it again (src/faces/mod.rs).
Static QDQ quantisation as quantize_common.py does it (the calibration ranges rounded to 3
significant digits), calibrated on the pictures the repository holds at the cue's tile size:
fixtures/demo, fixtures/faces and fixtures/text, and fixtures/faces shrunk to half and a quarter
so crowd-sized faces are in the ranges. consentgate runs it only when asked to (EngineOptions::int8_cue; not the default), and
only makes sense where VNNI is present.

Usage: quantize_retinaface.py retinaface.onnx OUT.onnx REPO_ROOT"""
import sys, tempfile
from pathlib import Path
import numpy as np
import onnx
from onnx import version_converter
from PIL import Image
from quantize_common import face_calibration_pictures, quantize

src, dst, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
T = 1120  # a cue tile of a 12 MP photo at 0.7x (1024 x 1120)
PICTURES = face_calibration_pictures(T)
MEAN_BGR = np.array([104, 117, 127], np.float32)
FIRST_CONV = "/fx/stage1/stage1.0/stage1.0.0/Conv"


def tile(path, long_side):
    """The picture at `long_side`, top-left in a T x T tile of zeros, as RetinaFace takes it (BGR
    minus the mean, NCHW)."""
    im = Image.open(path).convert("RGB")
    s = long_side / max(im.size)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BILINEAR)
    canvas = Image.new("RGB", (T, T))
    canvas.paste(im.crop((0, 0, min(T, im.width), min(T, im.height))), (0, 0))
    a = np.asarray(canvas, np.float32)[:, :, ::-1] - MEAN_BGR
    return a.transpose(2, 0, 1)[None].copy()


model = onnx.load(src)
if not any(n.name == FIRST_CONV for n in model.graph.node):
    sys.exit(f"RetinaFace has no node {FIRST_CONV}: not the export this script was written for")
with tempfile.TemporaryDirectory() as tmp:
    onnx.save(version_converter.convert_version(model, 13), f"{tmp}/m13.onnx")
    quantize(f"{tmp}/m13.onnx", dst, [(root / p, side) for p, side in PICTURES],
             lambda x: tile(*x), keep_float=[FIRST_CONV])
print(f"ok  quantised retinaface written ({len(PICTURES)} calibration pictures)")
