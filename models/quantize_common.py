"""What the int8 models share: ONNX Runtime's static QDQ quantisation (weights int8 per output
channel, activations uint8, ranges by min/max over calibration pictures the repository holds),
with every calibrated range rounded to 3 significant digits so the file does not depend on the
last bits of the CPU's float arithmetic (fetch-models.sh --check rebuilds it byte for byte)."""
import importlib, tempfile
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

# The module, not the function of the same name the package exports.
qz = importlib.import_module("onnxruntime.quantization.quantize")


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


def face_calibration_pictures(tile):
    """(path, long side) of what the face detectors are calibrated on: the demo photos, the face
    and the text fixtures at `tile`, and the face fixtures at half and a quarter of it, so
    crowd-sized faces are in the ranges."""
    demo = ["IMG_2041.jpg", "art-week.jpg", "choir.jpg", "football_liamvanderberg.jpg",
            "olivia-smith-100m.jpg", "sports-day-relay.jpg", "trip-photo.jpg"]
    faces = ["group_of_four.jpg", "obama_blue_room.jpg", "obama_portrait.jpg"]
    text = ["badge.jpg", "certificate.jpg", "look-alike.jpg", "plain.jpg", "sign.jpg"]
    return [(f"fixtures/demo/photos/{n}", tile) for n in demo] + \
        [(f"fixtures/faces/{n}", tile) for n in faces] + \
        [(f"fixtures/text/{n}", tile) for n in text] + \
        [(f"fixtures/faces/{n}", side) for n in faces for side in (tile // 2, tile // 4)]


class Pictures(CalibrationDataReader):
    """Each item through `load`, as the model's one input."""
    def __init__(self, name, items, load):
        self.name, self.left, self.load = name, list(items), load

    def get_next(self):
        return {self.name: self.load(self.left.pop(0))} if self.left else None


def quantize(src, dst, items, load, keep_float=()):
    """Quantise the model at `src` into `dst`, calibrated on `load(item)` for each of `items`;
    the nodes named in `keep_float` stay float."""
    with tempfile.TemporaryDirectory() as tmp:
        pre = f"{tmp}/pre.onnx"
        quant_pre_process(src, pre, skip_symbolic_shape=True)
        name = ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()[0].name
        quantize_static(pre, dst, Pictures(name, items, load), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_exclude=list(keep_float),
                        calibration_providers=["CPUExecutionProvider"])
