//! Identity embeddings with dlib's ResNet face recogniser (128-d; same person when the L2
//! distance is below about 0.6), converted to ONNX. Input: NCHW float32 [n, 3, 150, 150], RGB
//! 0–255 (the graph normalises); output [n, 128].
//!
//! One optimized plan for a batch of one, reused for every face.

use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;

use super::align::CHIP_SIZE;
use super::{FaceError, EMBEDDING_LEN};

pub(crate) struct Embedder {
    plan: Arc<TypedRunnableModel>,
}

impl Embedder {
    pub fn new(onnx: &[u8]) -> Result<Embedder, FaceError> {
        let err = |e: TractError| FaceError::Model(format!("face recognition: {e}"));
        let s = CHIP_SIZE as usize;
        let plan = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(onnx))
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, s, s]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Embedder { plan })
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
        let input = Tensor::from_shape(&[1, 3, s, s], &data)
            .map_err(|e| FaceError::Inference(e.to_string()))?;
        let out = self
            .plan
            .run(tvec!(input.into()))
            .map_err(|e| FaceError::Inference(format!("face recognition: {e}")))?;
        let first = out
            .first()
            .ok_or_else(|| FaceError::Inference("no output".into()))?;
        let view = first
            .to_plain_array_view::<f32>()
            .map_err(|e| FaceError::Inference(format!("face recognition output: {e}")))?;
        let v: Vec<f32> = view.iter().copied().collect();
        if v.len() != EMBEDDING_LEN {
            return Err(FaceError::Inference(format!(
                "embedding has {} values",
                v.len()
            )));
        }
        Ok(v)
    }
}
