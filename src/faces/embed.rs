//! Identity embeddings with dlib's ResNet face recogniser (128-d; same person when the L2
//! distance is below about 0.6), converted to ONNX. Input: NCHW float32 [n, 3, 150, 150], RGB
//! 0–255 (the graph normalises); output [n, 128].

use image::RgbImage;

use super::align::CHIP_SIZE;
use super::{FaceError, EMBEDDING_LEN};
use crate::infer::Model;

pub(crate) struct Embedder {
    model: Model,
}

impl Embedder {
    pub fn new(onnx: &'static [u8]) -> Result<Embedder, FaceError> {
        let model = Model::new("face recognition", onnx)?;
        Ok(Embedder { model })
    }

    /// The embedding of one aligned chip.
    pub fn embed(&self, chip: &RgbImage) -> Result<Vec<f32>, FaceError> {
        let s = CHIP_SIZE as usize;
        if chip.dimensions() != (CHIP_SIZE, CHIP_SIZE) {
            return Err(FaceError::Inference("face chip has the wrong size".into()));
        }
        let plane = s * s;
        let mut data = vec![0f32; 3 * plane];
        for (i, p) in chip.pixels().enumerate() {
            for c in 0..3 {
                data[c * plane + i] = f32::from(p.0[c]);
            }
        }
        let out = self.model.run(&[1, 3, s, s], data)?;
        let v = out
            .into_iter()
            .next()
            .ok_or_else(|| FaceError::Inference("no output".into()))?
            .data;
        if v.len() != EMBEDDING_LEN {
            return Err(FaceError::Inference(format!(
                "embedding has {} values",
                v.len()
            )));
        }
        Ok(v)
    }
}
