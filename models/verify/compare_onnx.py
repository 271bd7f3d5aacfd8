#!/usr/bin/env python3
"""Run face_recognition.onnx with onnxruntime on the verification inputs and compare with the
TF.js reference descriptors. usage: compare_onnx.py MODEL.onnx INPUTS_PREFIX REF.json [TOL]
Exits 1 if max abs difference > TOL (default 1e-4). Also prints the descriptors' L2 norms and
distances so a reviewer can sanity-check them (face-api: same person if distance < 0.6)."""
import json, sys
import numpy as np
import onnxruntime as ort

def main(model, prefix, ref_path, tol="1e-4"):
    tol = float(tol)
    meta = json.load(open(prefix + ".json"))
    x = np.fromfile(prefix + ".bin", dtype="<f4").reshape(meta["shape"])
    ref = json.load(open(ref_path))
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    worst = 0.0
    outs = {}
    for i, name in enumerate(meta["names"]):
        inp = np.ascontiguousarray(x[i].transpose(2, 0, 1)[None])  # HWC -> NCHW
        (d,) = sess.run(["descriptor"], {"input": inp})
        r = np.asarray(ref["descriptors"][name], dtype=np.float32)
        diff = float(np.abs(d[0] - r).max())
        rel = diff / float(np.abs(r).max())
        worst = max(worst, diff)
        outs[name] = d[0]
        print(f"{name:12s} shape {d.shape} |ref|_2={np.linalg.norm(r):.4f} max|ref|={np.abs(r).max():.4f} "
              f"max abs diff={diff:.3e} (rel {rel:.1e}) L2 dist={np.linalg.norm(d[0] - r):.3e}")
    names = list(outs)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            print(f"dist({names[a]}, {names[b]}) = {np.linalg.norm(outs[names[a]] - outs[names[b]]):.4f}")
    print(f"reference: face-api {ref.get('faceapi')} tfjs {ref.get('tfjs')} backend {ref.get('backend')}")
    print(f"MAX ABS DIFF onnxruntime vs TF.js: {worst:.3e} (tolerance {tol:g})")
    if not worst <= tol:
        print("FAIL"); sys.exit(1)
    print("OK")

if __name__ == "__main__":
    main(*sys.argv[1:])
