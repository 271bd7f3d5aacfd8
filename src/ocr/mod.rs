//! In-picture text: find every line of text in a photo and read it, offline, in-process.
//!
//! Certificates ("awarded to Olivia Smith"), name badges, lanyards, bibs, artwork labels,
//! whiteboards and cakes link a child's name to a photo as surely as a caption does. This module
//! knows pixels and models only; the gate's `picture_text` stage matches what it reads against the
//! register like a caption.
//!
//! # Pipeline ([`TextEngine::lines_in`])
//!
//! 1. **Decode** upright at the smallest JPEG DCT scale that keeps ≥ [`DETECT_LONG_SIDE`] px
//!    (the faces' decoder: EXIF Orientation applied, so boxes are in the displayed frame).
//! 2. **Detect** ([`detect`], PaddleOCR PP-OCRv4 mobile DB detector): the picture letterboxed into
//!    at most 1280 px on its long side (smaller pictures into the smallest bucket that holds them,
//!    so a thumbnail costs milliseconds). The probability map is
//!    binarised, each connected region becomes its minimum-area rotated rectangle, expanded as DB
//!    does ("unclip"), and kept in the photo's full-resolution pixels.
//! 3. **Skip** regions that cannot hold a name: narrower than tall (one glyph) or under
//!    [`MIN_LINE_PX`] tall in the full photo (no reader gets a name out of them).
//! 4. **Recognise** ([`recognize`], PP-OCRv4 mobile SVTR-LCNet + CTC greedy decoding) each line,
//!    cut out along its rotated rectangle at 48 px high, from the reduced decode when it is sharp
//!    enough there and otherwise from a full-resolution decode (made once, only when needed).
//!
//! Models: `models/ppocr_det.onnx`, `models/ppocr_rec.onnx`, `models/ppocr_keys.txt` (Apache-2.0,
//! from the `rapidocr-onnxruntime` wheel; see `models/PROVENANCE.md`), and the detector in 8-bit
//! integers, `models/ppocr_det_int8.onnx`, which CPUs with VNNI run ([`DetectorModel`]). They are
//! built into the binary and parsed on first use, so a run whose photos never reach this stage
//! does not pay for them.

use std::sync::OnceLock;

use image::RgbImage;

pub mod detect;
pub mod recognize;

/// Long side of the detector's input for large photos (pixels).
pub const DETECT_LONG_SIDE: u32 = 1280;
/// Lines shorter than this in the full photo are not read (a name there is not legible).
pub const MIN_LINE_PX: f32 = 6.0;

static DET_ONNX: &[u8] = include_bytes!("../../models/ppocr_det.onnx");
static DET_INT8_ONNX: &[u8] = include_bytes!("../../models/ppocr_det_int8.onnx");
static REC_ONNX: &[u8] = include_bytes!("../../models/ppocr_rec.onnx");
static KEYS: &str = include_str!("../../models/ppocr_keys.txt");

#[derive(Debug, Clone, thiserror::Error)]
pub enum TextError {
    #[error("the text model could not be loaded ({0}); reinstall consentgate")]
    Model(String),
    #[error("the picture could not be decoded for reading text ({0})")]
    Decode(String),
    #[error("reading text failed ({0})")]
    Inference(String),
    /// The model runtime itself (the message says what to do).
    #[error("{0}")]
    Runtime(String),
}

impl From<crate::infer::InferError> for TextError {
    fn from(e: crate::infer::InferError) -> TextError {
        match e {
            crate::infer::InferError::Run { .. } => TextError::Inference(e.to_string()),
            crate::infer::InferError::Runtime(_) => TextError::Runtime(e.to_string()),
            crate::infer::InferError::Model { .. } => TextError::Model(e.to_string()),
        }
    }
}

/// A line of text read in a photo.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    /// `[x, y, width, height]`: the axis-aligned box around the line, in pixels of the photo as
    /// displayed (orientation applied).
    pub bbox: [f32; 4],
    /// The line's rotated rectangle (top-left, top-right, bottom-right, bottom-left), same pixels.
    pub quad: [[f32; 2]; 4],
    pub text: String,
    /// Mean probability of the characters read (0..1).
    pub confidence: f32,
    /// Other readings, where the reader was unsure of some letters (`recognize::Reading`).
    pub alternates: Vec<String>,
}

/// Which build of the text detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorModel {
    /// Float32, as PaddleOCR trained it (after the exact rewrites of `fuse_ppocr_det.py`).
    Float,
    /// 8-bit integers (`models/quantize_ppocr_det.py`): ~1.5× faster where the CPU multiplies
    /// 8-bit integers exactly (x86-64 VNNI). Without VNNI, ONNX Runtime's 8-bit products can
    /// saturate, so the float model runs there.
    Int8,
}

impl DetectorModel {
    /// The int8 model where this CPU has VNNI, else the float one.
    pub fn for_this_cpu() -> DetectorModel {
        if crate::infer::int8_is_exact() {
            DetectorModel::Int8
        } else {
            DetectorModel::Float
        }
    }

    fn onnx(self) -> &'static [u8] {
        match self {
            DetectorModel::Float => DET_ONNX,
            DetectorModel::Int8 => DET_INT8_ONNX,
        }
    }
}

/// The text models, parsed on first use and shared by every thread of a run.
///
/// The detector and the recogniser are parsed separately, each when first needed: most photos
/// of a run have text, but a test suite's tiny pictures mostly do not.
pub struct TextEngine {
    model: DetectorModel,
    detector: OnceLock<Result<detect::Detector, TextError>>,
    recognizer: OnceLock<Result<recognize::Recognizer, TextError>>,
}

impl Default for TextEngine {
    fn default() -> TextEngine {
        TextEngine::with_detector(DetectorModel::for_this_cpu())
    }
}

impl TextEngine {
    pub fn new() -> TextEngine {
        TextEngine::default()
    }

    /// With a given build of the detector (tests and benches compare the two).
    pub fn with_detector(model: DetectorModel) -> TextEngine {
        TextEngine {
            model,
            detector: OnceLock::new(),
            recognizer: OnceLock::new(),
        }
    }

    /// The build of the detector this engine runs.
    pub fn detector_model(&self) -> DetectorModel {
        self.model
    }

    fn detector(&self) -> Result<&detect::Detector, TextError> {
        self.detector
            .get_or_init(|| {
                // Tests make the bundled model unloadable with FAILPOINTS=text.model-load=return.
                fail::fail_point!("text.model-load", |_| Err(TextError::Model(
                    "failpoint text.model-load".into()
                )));
                detect::Detector::new(self.model.onnx())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn recognizer(&self) -> Result<&recognize::Recognizer, TextError> {
        self.recognizer
            .get_or_init(|| recognize::Recognizer::new(REC_ONNX, KEYS))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parse both models now (benches: so the first photo does not pay for it).
    pub fn warm(&self) -> Result<(), TextError> {
        let (d, r) = rayon::join(|| self.detector().map(drop), || self.recognizer().map(drop));
        d.and(r)
    }

    /// Every line of text in an encoded image (as `formats::clean` produced it), in displayed
    /// full-resolution pixels, top to bottom.
    pub fn lines_in(&self, encoded: &[u8]) -> Result<Vec<TextLine>, TextError> {
        self.lines_in_decoded(encoded, None)
    }

    /// [`TextEngine::lines_in`], starting from a decode of `encoded` made already (the faces'),
    /// when there is one: a second decode of a 12 MP photo is ~0.1-0.2 s (a HEIC's ~0.9 s).
    pub fn lines_in_decoded(
        &self,
        encoded: &[u8],
        shared: Option<&crate::faces::Decoded>,
    ) -> Result<Vec<TextLine>, TextError> {
        fail::fail_point!("text.inference", |_| Err(TextError::Inference(
            "failpoint text.inference".into()
        )));
        let detector = self.detector()?;
        let own;
        let given = match shared {
            Some(d) => d,
            None => {
                own = crate::faces::decode_at_least(encoded, DETECT_LONG_SIDE)
                    .map_err(|e| TextError::Decode(e.to_string()))?;
                &own
            }
        };
        // A 12 MP JPEG is decoded in full either way (a DCT-scaled decode saves little there).
        let picture = &given.image;
        let (dw, dh) = picture.dimensions();
        let (full_w, full_h) = (given.full_width, given.full_height);
        let is_full = (dw, dh) == (full_w, full_h);
        let regions = detector.detect(picture)?;
        // Decoded pixels → full-resolution pixels.
        let (fx, fy) = (
            full_w as f32 / dw.max(1) as f32,
            full_h as f32 / dh.max(1) as f32,
        );
        let mut full: Option<RgbImage> = None;
        let mut lines = Vec::new();
        for quad in regions {
            let full_quad = quad.map(|[x, y]| [x * fx, y * fy]);
            let (len, height) = detect::quad_sides(&full_quad);
            if height < MIN_LINE_PX || len < height {
                continue;
            }
            // Read from the reduced decode when the line is at least ~0.75 of the reader's
            // 48 px there; else from the full-resolution picture.
            let (_, reduced_height) = detect::quad_sides(&quad);
            let sharp_enough = reduced_height >= 36.0 || is_full;
            let (source, q) = if sharp_enough {
                (picture, quad)
            } else {
                if full.is_none() {
                    full = Some(
                        crate::faces::decode_at_least(encoded, u32::MAX)
                            .map_err(|e| TextError::Decode(e.to_string()))?
                            .image,
                    );
                }
                let img = full.as_ref().unwrap_or(picture);
                let (sx, sy) = (
                    img.width() as f32 / full_w.max(1) as f32,
                    img.height() as f32 / full_h.max(1) as f32,
                );
                (img, full_quad.map(|[x, y]| [x * sx, y * sy]))
            };
            let reading = self.recognizer()?.read(source, &q)?;
            let text = reading.text.trim().to_string();
            if text.is_empty() {
                continue;
            }
            lines.push(TextLine {
                bbox: detect::bounding_box(&full_quad, full_w as f32, full_h as f32),
                quad: full_quad,
                text,
                confidence: reading.confidence,
                alternates: reading.alternates,
            });
        }
        lines.sort_by(|a, b| {
            a.bbox[1]
                .total_cmp(&b.bbox[1])
                .then(a.bbox[0].total_cmp(&b.bbox[0]))
        });
        Ok(lines)
    }
}

impl TextLine {
    /// Other readings of the line, most likely first: the recogniser's own alternatives where
    /// it was unsure of a letter, then `text` with one letter swapped for one it is commonly
    /// misread as ([`LOOK_ALIKES`]: a blurred "Ivy" read as "Iuy", "Grace" as "Crace"), then
    /// `text` without a stray stroke read as a letter before a capital ("lKing").
    pub fn other_readings(&self) -> impl Iterator<Item = String> + '_ {
        let text = self.text.as_str();
        let swaps = LOOK_ALIKES.iter().flat_map(move |&(a, b)| {
            [(a, b), (b, a)].into_iter().flat_map(move |(from, to)| {
                text.match_indices(from)
                    .map(move |(i, _)| format!("{}{to}{}", &text[..i], &text[i + from.len()..]))
            })
        });
        // A border or a lanyard's edge read as a letter glued to a name: "lKing".
        let strays = text
            .char_indices()
            .filter(move |&(i, c)| {
                matches!(c, 'l' | 'I' | '|' | '1')
                    && text[..i]
                        .chars()
                        .next_back()
                        .is_none_or(|p| !p.is_alphanumeric())
                    && text[i + 1..].chars().next().is_some_and(char::is_uppercase)
            })
            .map(move |(i, _)| format!("{}{}", &text[..i], &text[i + 1..]));
        self.alternates.iter().cloned().chain(swaps).chain(strays)
    }
}

/// Letters (and letter pairs) OCR commonly reads one for the other in Latin print and
/// handwriting, each pair tried both ways.
const LOOK_ALIKES: [(&str, &str); 12] = [
    ("u", "v"),
    ("v", "y"),
    ("n", "h"),
    ("c", "e"),
    ("C", "G"),
    ("O", "Q"),
    ("O", "D"),
    ("l", "I"),
    ("rn", "m"),
    ("cl", "d"),
    ("vv", "w"),
    ("q", "g"),
];

/// Groups of letters a reader takes one for another in print and handwriting (round letters,
/// humps and stems, forks, tails, and capitals "G"/"C", "O"/"D"), compared in lower case; a swap
/// within a group costs half an edit in [`misread_cost`].
const CONFUSABLE: [&str; 7] = ["aceo", "hmnru", "ijlt1", "uvy", "gqy", "cg", "od"];

/// The one-for-two look-alikes of [`LOOK_ALIKES`] ("cl" for "d"...) as (pair, letter), worked
/// out once: [`misread_cost`] runs for every given name of the register on a misread line.
fn one_for_two() -> &'static [(Vec<char>, char)] {
    static PAIRS: OnceLock<Vec<(Vec<char>, char)>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        LOOK_ALIKES
            .iter()
            .filter_map(|&(x, y)| match (x.len(), y.len()) {
                (2, 1) => Some((x, y)),
                (1, 2) => Some((y, x)),
                _ => None,
            })
            .filter_map(|(two, one)| Some((two.chars().collect(), one.chars().next()?)))
            .collect()
    })
}

/// How far `read` is from `name` as a reader's misreading, in edits (letters compared without
/// case): a swap of look-alike letters ([`CONFUSABLE`]) or of a letter for a pair that looks like
/// it ("cl" for "d", "rn" for "m", "vv" for "w": [`LOOK_ALIKES`]) costs ½, any other swap,
/// missing or extra letter 1. "Cecrge" is 1.0 from "George", "Eilicln" 1.0 from "Eilidh".
///
/// Written here rather than taken from a crate: the edit-distance crates (`strsim`,
/// `triple_accel`) have no per-pair costs and no one-for-two swaps.
pub fn misread_cost(read: &str, name: &str) -> f32 {
    let a: Vec<char> = read.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    let sub = |x: char, y: char| {
        if x == y {
            0.0
        } else if CONFUSABLE.iter().any(|g| g.contains(x) && g.contains(y)) {
            0.5
        } else {
            1.0
        }
    };
    let pairs = one_for_two();
    let w = b.len() + 1;
    let mut d = vec![0f32; (a.len() + 1) * w];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            let mut best = if i == 0 && j == 0 { 0.0 } else { f32::MAX };
            if i > 0 {
                best = best.min(d[(i - 1) * w + j] + 1.0);
            }
            if j > 0 {
                best = best.min(d[i * w + j - 1] + 1.0);
            }
            if i > 0 && j > 0 {
                best = best.min(d[(i - 1) * w + j - 1] + sub(a[i - 1], b[j - 1]));
            }
            for (two, one) in pairs {
                if i > 1 && j > 0 && a[i - 2..i] == two[..] && b[j - 1] == *one {
                    best = best.min(d[(i - 2) * w + j - 1] + 0.5);
                }
                if i > 0 && j > 1 && b[j - 2..j] == two[..] && a[i - 1] == *one {
                    best = best.min(d[(i - 1) * w + j - 2] + 0.5);
                }
            }
            d[i * w + j] = best;
        }
    }
    d[a.len() * w + b.len()]
}

/// Whether a line read could hold a name at all (some letter); digits and punctuation cannot.
pub fn may_hold_a_name(text: &str) -> bool {
    text.chars().any(char::is_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, alternates: &[&str]) -> TextLine {
        TextLine {
            bbox: [0.0; 4],
            quad: [[0.0; 2]; 4],
            text: text.into(),
            confidence: 0.9,
            alternates: alternates.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn other_readings_try_the_readers_alternatives_then_look_alikes_then_strays() {
        let l = line("Fran Marphy", &["Frank Marphy"]);
        let r: Vec<String> = l.other_readings().collect();
        assert_eq!(r[0], "Frank Marphy", "the recogniser's own first: {r:?}");
        let iuy: Vec<String> = line("Iuy Shah", &[]).other_readings().collect();
        assert!(iuy.contains(&"Ivy Shah".to_string()), "{iuy:?}");
        assert!(
            iuy.contains(&"luy Shah".to_string()),
            "I/l both ways: {iuy:?}"
        );
        let crace: Vec<String> = line("Crace lKing", &[]).other_readings().collect();
        assert!(crace.contains(&"Grace lKing".to_string()), "{crace:?}");
        assert!(
            crace.contains(&"Crace King".to_string()),
            "a stray stroke: {crace:?}"
        );
        let smith: Vec<String> = line("Olivia Srnith", &[]).other_readings().collect();
        assert!(smith.contains(&"Olivia Smith".to_string()), "{smith:?}");
        // A lower-case letter inside a word is no stray, nor is one before a lower-case letter.
        let hello: Vec<String> = line("Hello lane", &[]).other_readings().collect();
        assert!(
            !hello.iter().any(|r| r == "Helo lane" || r == "Hello ane"),
            "{hello:?}"
        );
        // Every reading differs from the text as read.
        assert!(crace.iter().all(|r| r != "Crace lKing"));
    }

    #[test]
    fn misreadings_cost_less_than_other_edits() {
        assert_eq!(misread_cost("Olivia", "olivia"), 0.0);
        assert_eq!(misread_cost("Cecrge", "George"), 1.0);
        assert_eq!(misread_cost("Eilicln", "Eilidh"), 1.0);
        assert_eq!(misread_cost("Adeyeni", "Adeyemi"), 0.5);
        assert_eq!(misread_cost("Cars", "Carys"), 1.0);
        // Letters that look nothing alike cost a whole edit each.
        assert_eq!(misread_cost("Happy", "Harry"), 2.0);
        assert_eq!(misread_cost("", "Sam"), 3.0);
    }

    #[test]
    fn digits_and_punctuation_hold_no_name() {
        assert!(!may_hold_a_name("2026 - 07/14"));
        assert!(!may_hold_a_name("·"));
        assert!(may_hold_a_name("Olivia Smith"));
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/text")
                .join(name),
        )
        .unwrap()
    }

    /// The real models on a rendered certificate: every line is found and read, with its box
    /// where the words are, by either build of the detector (each CPU runs one of them).
    #[test]
    fn a_certificate_is_read_line_by_line() {
        for model in [DetectorModel::Float, DetectorModel::Int8] {
            certificate_read_by(TextEngine::with_detector(model));
        }
    }

    fn certificate_read_by(engine: TextEngine) {
        let lines = engine.lines_in(&fixture("certificate.jpg")).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        let name = lines
            .iter()
            .find(|l| l.text == "Olivia Smith")
            .unwrap_or_else(|| panic!("{:?}: {texts:?}", engine.detector_model()));
        // rapidocr-onnxruntime 1.4.4 (onnxruntime) puts it at (579..1024, 489..590).
        let [x, y, w, h] = name.bbox;
        assert!(
            (x - 579.0).abs() < 15.0 && (y - 489.0).abs() < 15.0,
            "{:?}",
            name.bbox
        );
        assert!(
            (w - 445.0).abs() < 25.0 && (h - 101.0).abs() < 20.0,
            "{:?}",
            name.bbox
        );
        assert!(texts.contains(&"awarded to"), "{texts:?}");
        assert!(name.confidence > 0.8);
    }

    #[test]
    fn a_picture_without_text_has_no_lines_and_garbage_is_an_error() {
        let engine = TextEngine::new();
        let lines = engine.lines_in(&fixture("plain.jpg")).unwrap();
        assert!(lines.iter().all(|l| !may_hold_a_name(&l.text)), "{lines:?}");
        assert!(matches!(
            engine.lines_in(b"\xFF\xD8\xFFnot a jpeg"),
            Err(TextError::Decode(_))
        ));
    }
}
