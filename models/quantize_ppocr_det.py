"""8-bit integer version of the (fused) PP-OCRv4 text detector, for CPUs that multiply 8-bit
integers exactly (x86-64 VNNI): ~1.5x faster than float there (onnxruntime 1.22.1, 1280x960, one
thread). Static QDQ quantisation, per-channel weights (int8), activations uint8, ranges by
min/max over calibration pictures the repository holds (fixtures/text and fixtures/demo, letterboxed
as the product does), each range rounded to 3 significant digits so the file does not depend on
the last bits of the CPU's float arithmetic. consentgate picks it only where VNNI is present
(src/ocr/mod.rs); elsewhere 8-bit products saturate and it runs the float model.

Usage: quantize_ppocr_det.py FUSED.onnx OUT.onnx REPO_ROOT"""
import importlib, sys, tempfile
from pathlib import Path
import numpy as np
from PIL import Image
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

# The module, not the function of the same name the package exports.
qz = importlib.import_module("onnxruntime.quantization.quantize")

src, dst, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
PICTURES = ["fixtures/text/" + n for n in ["badge.jpg", "certificate.jpg", "look-alike.jpg", "plain.jpg", "sign.jpg"]] + \
    ["fixtures/demo/photos/" + n for n in ["IMG_2041.jpg", "art-week.jpg", "choir.jpg",
     "football_liamvanderberg.jpg", "olivia-smith-100m.jpg", "sports-day-relay.jpg", "trip-photo.jpg"]]
W, H = 1280, 960

def letterbox(path):
    im = Image.open(path).convert("RGB")
    s = min(W / im.width, H / im.height)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.BILINEAR)
    canvas = Image.new("RGB", (W, H))
    canvas.paste(im, (0, 0))
    a = np.asarray(canvas, np.float32)[:, :, ::-1] / 255.0  # BGR, as rapidocr
    return ((a - 0.5) / 0.5).transpose(2, 0, 1)[None].copy()

class Pictures(CalibrationDataReader):
    def __init__(self, name):
        self.name, self.left = name, list(PICTURES)
    def get_next(self):
        return {self.name: letterbox(root / self.left.pop(0))} if self.left else None

def sig3(v):
    return np.asarray([float(f"{float(x):.3g}") for x in np.ravel(v)], np.float32).reshape(np.shape(v))

# Round every calibrated range (quantize_static computes them and quantises in one call).
make = qz.create_calibrator
def rounded_calibrator(*args, **kwargs):
    cal = make(*args, **kwargs)
    compute = cal.compute_data
    def compute_rounded():
        data = compute()
        for name in list(data.keys()):
            t = data[name]
            t.lowest, t.highest = sig3(t.lowest), sig3(t.highest)
        return data
    cal.compute_data = compute_rounded
    return cal
qz.create_calibrator = rounded_calibrator

with tempfile.TemporaryDirectory() as tmp:
    pre = f"{tmp}/pre.onnx"
    quant_pre_process(src, pre, skip_symbolic_shape=True)
    name = ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    quantize_static(pre, dst, Pictures(name), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibration_providers=["CPUExecutionProvider"])
print(f"ok  quantised text detector written ({len(PICTURES)} calibration pictures)")
