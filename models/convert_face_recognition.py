#!/usr/bin/env python3
"""Convert face-api's FaceRecognitionNet (TF.js weights) to ONNX.

Source: npm package @vladmandic/face-api@1.7.15 (MIT), files
  model/face_recognition_model-weights_manifest.json
  model/face_recognition_model.bin
The network is dlib's ResNet-29 face descriptor (dlib_face_recognition_resnet_model_v1,
weights CC0), as re-implemented in face-api's src/faceRecognitionNet/*.ts.
This script reproduces that TS code op for op:

  x = (rgb - [122.782, 117.001, 104.298]) / 255          (FaceRecognitionNet.ts)
  convDown  = conv 7x7/2 'valid' + bias, scale (x*w+b), relu
  maxPool 3x3/2 'valid'
  residual(x)     = relu(convNoRelu(conv(x)) + x)          (3x3/1 'same')
  residualDown(x) = relu(pad_hw(convNoRelu(convDown(x))) + pad_c(avgPool2x2/2 'valid'(x)))
                    pad_c  = zero channels appended when channel count doubles
                    pad_hw = one zero row at the bottom + one zero column at the right
                             when the conv path is spatially smaller than the pooled path
  mean over H,W; matMul with fc [256,128]

ONNX I/O: input  "input"      float32 [1,3,150,150] NCHW, RGB, raw 0..255 (normalisation in graph)
          output "descriptor" float32 [1,128]  (not L2-normalised; same person if L2 dist < ~0.6)

Pinned (pip): numpy==2.4.6 onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.6.0 (fetch-models.sh installs exactly these;
verification adds onnxruntime==1.32.0). Output is byte-identical across runs with these pins.
Usage: convert_face_recognition.py MANIFEST.json WEIGHTS.bin OUT.onnx
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MEAN_RGB = [122.782, 117.001, 104.298]
INPUT_SIZE = 150
OPSET = 13


def load_weights(manifest_path, bin_path):
    """Decode a TF.js weights manifest the way tfjs-core's io.decodeWeights does."""
    with open(manifest_path) as f:
        manifest = json.load(f)
    bin_dir = os.path.dirname(bin_path)
    weights = {}
    for group in manifest:
        if len(group["paths"]) == 1:
            paths = [bin_path]
        else:  # sharded: shards live next to the given bin
            paths = [os.path.join(bin_dir, p) for p in group["paths"]]
        buf = b"".join(open(p, "rb").read() for p in paths)
        off = 0
        for spec in group["weights"]:
            name, shape, dtype = spec["name"], spec["shape"], spec["dtype"]
            n = int(np.prod(shape)) if shape else 1
            q = spec.get("quantization")
            if q:
                qdt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                nbytes = n * np.dtype(qdt).itemsize
                raw = np.frombuffer(buf, dtype=qdt, count=n, offset=off)
                if q["dtype"] == "float16":
                    vals = raw.astype(np.float32)
                else:
                    # tfjs: Float32Array[i] = q * scale + min, computed in JS doubles, stored as float32
                    vals = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                assert dtype == "float32", (name, dtype)
                nbytes = n * 4
                vals = np.frombuffer(buf, dtype="<f4", count=n, offset=off).copy()
            off += nbytes
            weights[name] = vals.reshape(shape)
        assert off == len(buf), f"manifest does not cover the whole bin: {off} != {len(buf)}"
    return weights


class Builder:
    def __init__(self, w):
        self.w = w
        self.nodes = []
        self.inits = []
        self.used = set()
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def weight(self, key):
        self.used.add(key)
        return self.w[key]

    def op(self, op_type, inputs, base, **attrs):
        out = self.name(base)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv_layer(self, x, prefix, stride, relu, padding):
        f = self.weight(f"{prefix}/conv/filters")  # HWIO
        k = f.shape[0]
        wname = self.const(f"{prefix}/conv/filters", f.transpose(3, 2, 0, 1))  # OIHW
        if padding == "same":
            assert stride == 1 and k % 2 == 1
            pads = [k // 2] * 4
        else:
            pads = [0, 0, 0, 0]
        y = self.op("Conv", [x, wname], f"{prefix}/conv", kernel_shape=[k, k],
                    strides=[stride, stride], pads=pads)
        c = f.shape[3]
        bias = self.const(f"{prefix}/conv/bias", self.weight(f"{prefix}/conv/bias").reshape(1, c, 1, 1))
        y = self.op("Add", [y, bias], f"{prefix}/bias_add")
        sw = self.const(f"{prefix}/scale/weights", self.weight(f"{prefix}/scale/weights").reshape(1, c, 1, 1))
        sb = self.const(f"{prefix}/scale/biases", self.weight(f"{prefix}/scale/biases").reshape(1, c, 1, 1))
        y = self.op("Mul", [y, sw], f"{prefix}/scale_mul")
        y = self.op("Add", [y, sb], f"{prefix}/scale_add")
        if relu:
            y = self.op("Relu", [y], f"{prefix}/relu")
        return y

    def residual(self, x, prefix):
        y = self.conv_layer(x, f"{prefix}/conv1", 1, True, "same")
        y = self.conv_layer(y, f"{prefix}/conv2", 1, False, "same")
        y = self.op("Add", [y, x], f"{prefix}/add")
        return self.op("Relu", [y], f"{prefix}/relu")

    def residual_down(self, x, prefix, in_c, in_hw):
        out_c = self.w[f"{prefix}/conv1/conv/filters"].shape[3]
        y = self.conv_layer(x, f"{prefix}/conv1", 2, True, "valid")
        y = self.conv_layer(y, f"{prefix}/conv2", 1, False, "same")
        conv_hw = (in_hw - 3) // 2 + 1
        pool_hw = (in_hw - 2) // 2 + 1
        pooled = self.op("AveragePool", [x], f"{prefix}/avgpool", kernel_shape=[2, 2],
                         strides=[2, 2], pads=[0, 0, 0, 0])
        if pool_hw != conv_hw:
            # face-api: concat one zero row (axis H) then one zero column (axis W) to the conv path
            assert pool_hw == conv_hw + 1
            pads = self.const(f"{prefix}/pad_hw", np.array([0, 0, 0, 0, 0, 0, 1, 1], dtype=np.int64))
            y = self.op("Pad", [y, pads], f"{prefix}/pad_hw", mode="constant")
        if out_c != in_c:
            # face-api: concat zeros (same shape as pooled) on the channel axis, after pooled
            assert out_c == 2 * in_c
            pads = self.const(f"{prefix}/pad_c", np.array([0, 0, 0, 0, 0, in_c, 0, 0], dtype=np.int64))
            pooled = self.op("Pad", [pooled, pads], f"{prefix}/pad_c", mode="constant")
        y = self.op("Add", [pooled, y], f"{prefix}/add")
        return self.op("Relu", [y], f"{prefix}/relu"), out_c, pool_hw


def build(weights):
    b = Builder(weights)
    mean = b.const("mean_rgb", np.array(MEAN_RGB, dtype=np.float32).reshape(1, 3, 1, 1))
    div = b.const("div_255", np.array(255.0, dtype=np.float32))
    x = b.op("Sub", ["input", mean], "normalize/sub")
    x = b.op("Div", [x, div], "normalize/div")

    x = b.conv_layer(x, "conv32_down", 2, True, "valid")
    hw = (INPUT_SIZE - 7) // 2 + 1  # 72
    x = b.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0])
    hw = (hw - 3) // 2 + 1  # 35
    c = 32
    plan = [
        ("residual", "conv32_1"), ("residual", "conv32_2"), ("residual", "conv32_3"),
        ("down", "conv64_down"), ("residual", "conv64_1"), ("residual", "conv64_2"), ("residual", "conv64_3"),
        ("down", "conv128_down"), ("residual", "conv128_1"), ("residual", "conv128_2"),
        ("down", "conv256_down"), ("residual", "conv256_1"), ("residual", "conv256_2"),
        ("down", "conv256_down_out"),
    ]
    for kind, prefix in plan:
        if kind == "residual":
            x = b.residual(x, prefix)
        else:
            x, c, hw = b.residual_down(x, prefix, c, hw)
    assert c == 256 and hw == 2, (c, hw)
    x = b.op("GlobalAveragePool", [x], "global_avg")
    x = b.op("Flatten", [x], "flatten", axis=1)
    b.used.add("fc")
    fc = b.const("fc", weights["fc"])  # [256,128]; out = avg @ fc, as tf.matMul(globalAvg, fc)
    x = b.op("MatMul", [x, fc], "fc")
    b.nodes.append(helper.make_node("Identity", [x], ["descriptor"], name="descriptor"))

    unused = set(weights) - b.used
    assert not unused, f"unused weights: {sorted(unused)}"

    graph = helper.make_graph(
        b.nodes, "face_api_face_recognition_net",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, 128])],
        b.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="consentgate/models/convert_face_recognition.py",
        doc_string=("dlib ResNet face descriptor (CC0 weights) via @vladmandic/face-api@1.7.15 (MIT). "
                    "Input: float32 [1,3,150,150] NCHW RGB raw 0..255. Output: [1,128] descriptor; "
                    "same person if euclidean distance < ~0.6."),
    )
    model.ir_version = 7  # readable by older runtimes / tract
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    weights = load_weights(sys.argv[1], sys.argv[2])
    model = build(weights)
    onnx.save(model, sys.argv[3])
    print(f"wrote {sys.argv[3]}: {len(model.graph.node)} nodes, "
          f"{sum(int(np.prod(t.dims)) for t in model.graph.initializer)} parameters")


if __name__ == "__main__":
    main()
