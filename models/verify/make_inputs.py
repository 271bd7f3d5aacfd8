#!/usr/bin/env python3
"""Write the face-recognition verification inputs: N x 150 x 150 x 3 float32 (HWC, RGB, 0..255)
to OUT.bin (raw little-endian) + OUT.json (names). Needs numpy + Pillow.
Inputs: seeded uniform noise, a colour gradient, and the face crop from obama.jpg
(box chosen from a CenterFace detection: x 340..640, y 130..430, bilinear to 150x150)."""
import json, sys
import numpy as np
from PIL import Image

def main(face_jpg, out):
    rng = np.random.default_rng(1234)
    noise = rng.integers(0, 256, size=(150, 150, 3)).astype(np.float32)
    yy, xx = np.mgrid[0:150, 0:150].astype(np.float32)
    grad = np.stack([xx * 255 / 149, yy * 255 / 149, (xx + yy) * 255 / 298], axis=-1).astype(np.float32)
    im = Image.open(face_jpg).convert("RGB").crop((340, 130, 640, 430)).resize((150, 150), Image.BILINEAR)
    face = np.asarray(im, dtype=np.float32)
    arr = np.stack([noise, grad, face]).astype("<f4")
    arr.tofile(out + ".bin")
    json.dump({"names": ["noise", "gradient", "obama_crop"], "shape": list(arr.shape)}, open(out + ".json", "w"))
    im.save(out + "_obama_crop.png")

if __name__ == "__main__":
    main(*sys.argv[1:])
