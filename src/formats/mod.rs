//! Formats: decide what a file is from its content, and produce a metadata-free copy of it.
//!
//! This stage knows containers (JPEG/MPO, PNG, WebP, TIFF, HEIC); it does not know students,
//! consent or captions' meaning. It hands the caption stage the embedded text it found, and the
//! decide stage the capture device, and says in plain words what identifying metadata it removed.

use serde::Serialize;

/// What a file is, decided from its first bytes (never from its extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Tiff,
    Heic,
    Unknown,
}

/// Guards against decompression bombs and absurd inputs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest width × height accepted (default 100 megapixels).
    pub max_pixels: u64,
    /// Largest width or height accepted.
    pub max_dimension: u32,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_pixels: 100_000_000, max_dimension: 30_000, max_alloc: 1 << 30 }
    }
}

/// One piece of text embedded in the file (a caption, title, keyword list...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmbeddedText {
    /// Where it was found, in words a moderator understands, e.g. "EXIF ImageDescription", "XMP dc:subject".
    pub field: String,
    pub text: String,
}

/// The capture device the file's EXIF names, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Device {
    pub make: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

/// A photo with every identifying piece of metadata removed.
#[derive(Debug, Clone)]
pub struct Cleaned {
    pub format: Format,
    /// The clean file, ready to write to the outbox.
    pub bytes: Vec<u8>,
    /// File extension for the clean file ("jpg", "png", "webp").
    pub extension: &'static str,
    /// What identifying metadata was found and removed, in plain words (e.g. "EXIF GPS position").
    pub removed: Vec<String>,
    /// Text found in the file's metadata, for the caption check.
    pub embedded_text: Vec<EmbeddedText>,
    /// The capture device named in EXIF.
    pub device: Device,
    /// Pixel size as displayed (after orientation).
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("unsupported format ({0}); convert it to JPEG, PNG or WebP and drop it in again")]
    Unsupported(String),
    #[error("the file is damaged or incomplete ({0}); copy it again from the camera or re-export it")]
    Corrupt(String),
    #[error("the picture is too large ({width}×{height} pixels, limit {limit} megapixels); resize it before dropping it in")]
    TooLarge { width: u32, height: u32, limit: u64 },
}

/// Decide the format from the file's first bytes.
pub fn detect(_bytes: &[u8]) -> Format {
    Format::Unknown
}

/// Produce a metadata-free copy of `bytes`, losslessly where the format allows.
pub fn clean(bytes: &[u8], _limits: &Limits) -> Result<Cleaned, FormatError> {
    Err(FormatError::Unsupported(format!("{:?}", detect(bytes))))
}
