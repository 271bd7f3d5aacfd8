//! Formats: decide what a file is from its content, and produce a metadata-free copy of it.
//!
//! This stage knows containers (JPEG/MPO, PNG, WebP, TIFF, HEIC); it does not know students,
//! consent or captions' meaning. It hands the caption stage the embedded text it found, and the
//! decide stage the capture device, and says in plain words what identifying metadata it removed.

use serde::Serialize;

pub use heic::HeicOutput;

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
    /// What a HEIC is released as (`[formats] heic_output`). Not a limit, but carried here so
    /// that every caller of [`clean`] gets the configured output without another parameter.
    pub heic_output: HeicOutput,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: 100_000_000,
            max_dimension: 30_000,
            max_alloc: 1 << 30,
            heic_output: HeicOutput::default(),
        }
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
    /// Format of `bytes` (a TIFF is released as PNG).
    pub format: Format,
    /// The clean file, ready to write to the outbox.
    pub bytes: Vec<u8>,
    /// File extension for the clean file ("jpg", "png", "webp").
    pub extension: &'static str,
    /// What identifying metadata was found and removed, in plain words (e.g. "EXIF GPS position").
    pub removed: Vec<String>,
    /// Text found in the file's metadata, for the caption check: trimmed, non-empty, each text
    /// once (under the first field it was found in).
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
    #[error(
        "the file is damaged or incomplete ({0}); copy it again from the camera or re-export it"
    )]
    Corrupt(String),
    #[error("the picture is too large ({width}×{height} pixels, limit {limit} megapixels); resize it before dropping it in")]
    TooLarge { width: u32, height: u32, limit: u64 },
}

mod exif;
mod heic;
mod iptc;
mod jpeg;
mod png;
mod tiff;
mod webp;
mod xmp;

impl Format {
    /// Lower-case name for messages and tables ("jpeg", "png"...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Tiff => "tiff",
            Format::Heic => "heic",
            Format::Unknown => "unknown",
        }
    }
}

/// ISO-BMFF brands that mean HEIF/HEIC (still images coded with HEVC, or the generic HEIF brands).
const HEIF_BRANDS: &[&[u8; 4]] = &[
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
];

/// Decide the format from the file's first bytes.
pub fn detect(bytes: &[u8]) -> Format {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Format::Jpeg;
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Format::Png;
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Format::Webp;
    }
    if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        return Format::Tiff;
    }
    if bytes.len() >= 16 && &bytes[4..8] == b"ftyp" {
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let end = size.clamp(16, bytes.len().min(4096));
        let major = &bytes[8..12];
        // AVIF also lists `mif1`; it is not HEIC, so do not tell staff to change an iPhone setting.
        if major == b"avif" || major == b"avis" {
            return Format::Unknown;
        }
        let is_heif = |b: &[u8]| HEIF_BRANDS.iter().any(|h| &h[..] == b);
        if is_heif(major) || bytes[16..end].chunks_exact(4).any(is_heif) {
            return Format::Heic;
        }
    }
    Format::Unknown
}

/// Produce a metadata-free copy of `bytes`, losslessly where the format allows.
///
/// The output is verified before it is returned (see each format's `verify`): it is re-parsed
/// and must contain only the structures we chose to keep, and its headers must decode to the
/// same picture size. Anything we cannot verify is an error; the caller holds the photo.
pub fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    let cleaned = strip_unverified(bytes, limits)?;
    match cleaned.format {
        Format::Jpeg => jpeg::verify(&cleaned)?,
        Format::Png => png::verify(&cleaned, limits)?,
        Format::Webp => webp::verify(&cleaned, limits)?,
        Format::Heic => heic::verify(&cleaned, limits)?,
        other => {
            return Err(FormatError::Corrupt(format!(
                "internal error: no verification for {} output",
                other.name()
            )))
        }
    }
    Ok(cleaned)
}

/// Strip metadata WITHOUT verifying the output. Only for benchmarks and tests that measure the
/// lossless part on its own; the gate must call [`clean`].
#[doc(hidden)]
pub fn strip_unverified(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    match detect(bytes) {
        Format::Jpeg => jpeg::clean(bytes, limits),
        Format::Png => png::clean(bytes, limits),
        Format::Webp => webp::clean(bytes, limits),
        Format::Tiff => tiff::clean(bytes, limits),
        Format::Heic => heic::clean(bytes, limits),
        Format::Unknown => Err(unknown(bytes)),
    }
}

/// [`clean`], for a file called `name`: a QuickTime video (the moving part of an iPhone Live
/// Photo, copied with its `.HEIC`) is held with a reason that names its photo.
pub fn clean_file(name: &str, bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    if is_quicktime(bytes) {
        let stem = std::path::Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(FormatError::Unsupported(format!(
            "a video (QuickTime), such as the moving part of the iPhone Live Photo {stem}.HEIC; \
             videos are not gated yet and are never released: the photo {stem}.HEIC is gated on \
             its own, so delete this video or keep it off the shared drive"
        )));
    }
    clean(bytes, limits)
}

/// A QuickTime/MP4 video (`ftyp` with a video brand, or a bare `moov`/`mdat`/`wide` start).
fn is_quicktime(bytes: &[u8]) -> bool {
    let Some(kind) = bytes.get(4..8) else {
        return false;
    };
    match kind {
        b"ftyp" => {
            detect(bytes) == Format::Unknown
                && bytes.get(8..12).is_some_and(|b| {
                    matches!(
                        b,
                        b"qt  " | b"isom" | b"mp41" | b"mp42" | b"M4V " | b"3gp4" | b"3gp5"
                    )
                })
        }
        b"moov" | b"wide" | b"mdat" => true,
        _ => false,
    }
}

/// Decode a clean copy to upright 8-bit RGB. HEIC goes through libheif (transforms applied);
/// every other format through `image` (a clean PNG/WebP is upright by construction; JPEG
/// orientation is applied). The one decode entry point for HEIC: faces, PDQ, redaction and the
/// review page's previews all come here for it.
pub fn decode_rgb(bytes: &[u8]) -> Result<image::RgbImage, FormatError> {
    let limits = Limits::default();
    if detect(bytes) == Format::Heic {
        return heic::decode_rgb(bytes, &limits);
    }
    let what = detect(bytes).name();
    let err = |e| map_image_error(e, what, (0, 0), &limits);
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| FormatError::Corrupt(e.to_string()))?;
    let mut decoder = reader.into_decoder().map_err(err)?;
    let orientation = image::ImageDecoder::orientation(&mut decoder)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = decode_image(decoder, &limits, what)?;
    img.apply_orientation(orientation);
    Ok(img.into_rgb8())
}

/// Content that is no picture format we know. An empty file or text (a web page or an error
/// message saved under a `.jpg` name, a failed download) is damage: copying it again is the fix.
/// Anything else is some other picture format (GIF, AVIF, BMP...): converting it is the fix.
fn unknown(bytes: &[u8]) -> FormatError {
    if bytes.is_empty() {
        return FormatError::Corrupt("the file is empty".into());
    }
    let head = &bytes[..bytes.len().min(512)];
    let texty = head
        .iter()
        .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7F).contains(&b) || b >= 0x80);
    if texty {
        FormatError::Corrupt("the file holds text, not a picture, whatever its name says".into())
    } else {
        FormatError::Unsupported(
            "not a JPEG, PNG, WebP, TIFF or HEIC picture (the file's content is no picture format we know)"
                .into(),
        )
    }
}

/// What the metadata parsers found; shared by all formats.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub removed: Vec<String>,
    pub texts: Vec<EmbeddedText>,
    pub device: Device,
    /// EXIF IFD0 Orientation (1..=8) if present and valid.
    pub exif_orientation: Option<u16>,
    /// XMP tiff:Orientation (1..=8) if present and valid.
    pub xmp_orientation: Option<u16>,
}

impl Findings {
    pub fn removed(&mut self, what: impl Into<String>) {
        let what = what.into();
        if !self.removed.contains(&what) {
            self.removed.push(what);
        }
    }

    /// Record embedded text: trimmed, empty dropped, and the same text only once (the first field
    /// it was found in is kept; captions are usually copied into EXIF, XMP and IPTC alike).
    pub fn text(&mut self, field: impl Into<String>, text: &str) {
        let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if text.is_empty() || self.texts.iter().any(|t| t.text == text) {
            return;
        }
        self.texts.push(EmbeddedText {
            field: field.into(),
            text: text.to_string(),
        });
    }

    /// The orientation to honour: EXIF first (what browsers use), else XMP.
    pub fn orientation(&self) -> u16 {
        self.exif_orientation.or(self.xmp_orientation).unwrap_or(1)
    }

    pub fn into_cleaned(
        self,
        format: Format,
        bytes: Vec<u8>,
        extension: &'static str,
        (width, height): (u32, u32),
    ) -> Cleaned {
        Cleaned {
            format,
            bytes,
            extension,
            removed: self.removed,
            embedded_text: self.texts,
            device: self.device,
            width,
            height,
        }
    }
}

/// Check declared dimensions against the limits, before anything is decoded.
pub(crate) fn check_dimensions(
    width: u32,
    height: u32,
    limits: &Limits,
) -> Result<(), FormatError> {
    if width == 0 || height == 0 {
        return Err(FormatError::Corrupt(format!(
            "the picture declares a size of {width}×{height} pixels"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    let too_large = width > limits.max_dimension
        || height > limits.max_dimension
        || pixels > limits.max_pixels
        // 4 channels × 2 bytes is the most any decoder we use allocates per pixel.
        || pixels.saturating_mul(8) > limits.max_alloc;
    if too_large {
        return Err(FormatError::TooLarge {
            width,
            height,
            limit: limits.max_pixels / 1_000_000,
        });
    }
    Ok(())
}

/// The `image` crate's limits matching ours.
pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_dimension);
    l.max_image_height = Some(limits.max_dimension);
    l.max_alloc = Some(limits.max_alloc);
    l
}

/// Displayed size: orientations 5..=8 swap width and height.
pub(crate) fn displayed(width: u32, height: u32, orientation: u16) -> (u32, u32) {
    if (5..=8).contains(&orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

/// Text in an unknown 8-bit encoding: UTF-8 if it is valid UTF-8, else Latin-1 (never lossy, so
/// a name cannot be hidden from the caption check by a replacement character).
pub(crate) fn decode_8bit(bytes: &[u8]) -> String {
    let bytes = match bytes.iter().position(|&b| b == 0) {
        Some(n) => &bytes[..n],
        None => bytes,
    };
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// UTF-16 text (up to the first NUL); unpaired surrogates become U+FFFD.
pub(crate) fn decode_utf16(bytes: &[u8], little_endian: bool) -> String {
    let units = bytes.chunks_exact(2).map(|c| {
        if little_endian {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units.take_while(|&u| u != 0))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// "1.2 MB", "340 KB", "12 bytes".
pub(crate) fn human_size(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1_000_000.0)
    } else if n >= 1_000 {
        format!("{} KB", n / 1_000)
    } else if n == 1 {
        "1 byte".into()
    } else {
        format!("{n} bytes")
    }
}

/// Decode a whole picture with the `image` crate inside our limits, mapping its errors to ours.
pub(crate) fn decode_image(
    mut decoder: impl image::ImageDecoder,
    limits: &Limits,
    what: &str,
) -> Result<image::DynamicImage, FormatError> {
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h, limits)?;
    decoder
        .set_limits(image_limits(limits))
        .map_err(|e| map_image_error(e, what, (w, h), limits))?;
    image::DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(e, what, (w, h), limits))
}

pub(crate) fn map_image_error(
    e: image::ImageError,
    what: &str,
    (width, height): (u32, u32),
    limits: &Limits,
) -> FormatError {
    match e {
        image::ImageError::Limits(_) => FormatError::TooLarge {
            width,
            height,
            limit: limits.max_pixels / 1_000_000,
        },
        image::ImageError::Unsupported(u) => {
            FormatError::Unsupported(format!("this kind of {what} cannot be read ({u})"))
        }
        other => FormatError::Corrupt(format!(
            "the {what} picture data cannot be decoded ({other})"
        )),
    }
}

/// Turn the pixels so that they display upright with no orientation tag.
pub(crate) fn apply_orientation(img: &mut image::DynamicImage, orientation: u16) {
    if let Some(o) = u8::try_from(orientation)
        .ok()
        .and_then(image::metadata::Orientation::from_exif)
    {
        img.apply_orientation(o);
    }
}

/// Build a PNG chunk (length, type, data, CRC).
pub(crate) fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
}
