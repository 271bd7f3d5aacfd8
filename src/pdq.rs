//! PDQ perceptual hashing (Meta/Facebook ThreatExchange), for re-upload detection of rejected photos.
//!
//! This is a faithful port of the reference C++ (`pdq/cpp/hashing/pdqhashing.cpp`,
//! `pdq/cpp/downscaling/downscaling.cpp`, `pdq/cpp/hashing/torben.cpp`): every floating-point
//! operation is done in the same precision and the same order as the reference, so that, given the
//! same pixels, the hash is bit-for-bit the reference's (checked against the `pdqhash` Python
//! bindings of the reference C++ in `tests/pdq.rs`, see `fixtures/pdq/`).
//!
//! The pipeline:
//! 1. RGB → luminance `0.299 R + 0.587 G + 0.114 B` in `f32` (8-bit grey is taken as is).
//! 2. Jarosz filter: two passes of (box filter along rows, box filter along columns), window
//!    `ceil(dim / 128)` per axis — two box passes make a tent that covers one 64th of the image.
//!    Skipped when the input is already 64×64, as in the reference.
//! 3. Decimate to 64×64 by sampling the centres of 64 equal cells.
//! 4. Quality: the sum of quantised neighbour gradients of the 64×64 image, `/ 90`, capped at 100.
//! 5. 2-D DCT-II of the 64×64 block, keeping coefficients 1..=16 on each axis (16×16, no DC).
//! 6. Median (Torben's algorithm) of the 256 coefficients; bit `16·i + j` is set when
//!    coefficient `(i, j)` is strictly above it.
//!
//! The eight dihedral variants (rotations and flips) are derived from the 16×16 DCT by sign
//! changes and transposition, as the reference does, so hashing the mirror image costs nothing.
//!
//! Bit order and hex format are the reference's: the hash is a 256-bit big-endian number whose bit
//! `k` is DCT slot `k`; `to_hex` prints its 64 hex digits (the reference prints 16 words
//! `w[15]..w[0]` as `%04hx`, which is the same string).
//!
//! Pre-downscaling: the reference algorithm itself hashes whatever pixels it is given (the
//! `pdqhash` bindings and `pdqHash256FromFloatLuma` work at full resolution); the reference
//! *file* tools shrink large inputs first (C++ `pdq-photo-hasher`: CImg resize to 512×512; the
//! Python tool: PIL `thumbnail((512, 512))`), because PDQ only keeps a 64×64 tent-filtered
//! image. [`hash_jpeg`] does the equivalent cheaply: it decodes a JPEG with the decoder's DCT
//! scaling so that both sides stay ≥ [`DOWNSAMPLE_DIMS`] (a 4000×3000 photo decodes at
//! 1000×750), then hashes those pixels exactly. That changes a hash by a few bits at most
//! compared to a full-resolution decode, far inside [`MATCH_THRESHOLD`].

use image::{DynamicImage, GrayImage, ImageBuffer, Luma, RgbImage};

/// The reference's match threshold: two hashes match when their Hamming distance is ≤ 31.
pub const MATCH_THRESHOLD: u32 = 31;
/// Hashes with quality below this are not trusted (the reference's recommendation): the image is
/// too flat for its hash to say anything.
pub const MIN_QUALITY: u8 = 50;
/// Images with a side shorter than this hash to all zeros with quality 0, as in the reference.
pub const MIN_HASHABLE_DIM: u32 = 5;
/// The reference file tools shrink inputs larger than this (per side) before hashing.
pub const DOWNSAMPLE_DIMS: u32 = 512;

/// An `f32` image, row-major: the luminance input of the PDQ core.
pub type LumaF32 = ImageBuffer<Luma<f32>, Vec<f32>>;

/// A PDQ hash and its quality (0–100).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Pdq {
    /// 32 bytes in the reference's order: `hex::encode(hash)` is the reference's hex string.
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
    pub quality: u8,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::Pdq::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("not a 64-hex-digit PDQ hash"))
    }
}

impl Pdq {
    /// The reference's 64-hex-digit lowercase form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// Parses the reference's 64-hex-digit form (either case). `None` for anything else.
    pub fn from_hex(s: &str) -> Option<[u8; 32]> {
        let s = s.trim();
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(out)
    }

    /// Whether the hash is good enough to act on (quality ≥ [`MIN_QUALITY`]).
    pub fn is_trusted(&self) -> bool {
        self.quality >= MIN_QUALITY
    }

    /// Hamming distance to another hash.
    pub fn distance(&self, other: &[u8; 32]) -> u32 {
        hamming(&self.hash, other)
    }

    /// Whether `other` is within the reference match threshold of this hash.
    pub fn matches(&self, other: &[u8; 32]) -> bool {
        self.distance(other) <= MATCH_THRESHOLD
    }

    /// Whether bit `k` (0..256, DCT slot `16·row + col`) is set.
    pub fn bit(&self, k: usize) -> bool {
        k < 256 && self.hash[31 - k / 8] & (1 << (k % 8)) != 0
    }
}

/// Number of differing bits.
pub fn hamming(a: &[u8; 32], b: &[u8; 32]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// The eight dihedral transforms, in the reference's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dihedral {
    Original = 0,
    Rotate90 = 1,
    Rotate180 = 2,
    Rotate270 = 3,
    /// Flipped about the horizontal axis (upside down).
    FlipX = 4,
    /// Flipped about the vertical axis: the left–right mirror image.
    FlipY = 5,
    /// Transposed (flipped about the main diagonal).
    FlipPlus1 = 6,
    /// Flipped about the anti-diagonal.
    FlipMinus1 = 7,
}

impl Dihedral {
    pub const ALL: [Dihedral; 8] = [
        Dihedral::Original,
        Dihedral::Rotate90,
        Dihedral::Rotate180,
        Dihedral::Rotate270,
        Dihedral::FlipX,
        Dihedral::FlipY,
        Dihedral::FlipPlus1,
        Dihedral::FlipMinus1,
    ];
}

/// The hashes of an image's eight dihedral variants (all share one quality).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dihedrals {
    pub hashes: [[u8; 32]; 8],
    pub quality: u8,
}

impl Dihedrals {
    pub fn get(&self, d: Dihedral) -> Pdq {
        Pdq {
            hash: self.hashes[d as usize],
            quality: self.quality,
        }
    }

    /// The smallest distance from `other` to any of the eight variants.
    pub fn min_distance(&self, other: &[u8; 32]) -> u32 {
        self.hashes
            .iter()
            .map(|h| hamming(h, other))
            .min()
            .unwrap_or(256)
    }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/// PDQ of an RGB image, at the resolution given.
pub fn hash_image(img: &RgbImage) -> Pdq {
    let (w, h) = img.dimensions();
    hash_float_luma(luma_from_rgb(img), w, h)
}

/// PDQ of an 8-bit grey image (luma is the grey value, as in the reference).
pub fn hash_gray(img: &GrayImage) -> Pdq {
    let (w, h) = img.dimensions();
    hash_float_luma(img.as_raw().iter().map(|&v| f32::from(v)).collect(), w, h)
}

/// PDQ of a float luminance image (the reference core, `pdqHash256FromFloatLuma`).
pub fn hash_luma(luma: &LumaF32) -> Pdq {
    let (w, h) = luma.dimensions();
    hash_float_luma(luma.as_raw().clone(), w, h)
}

/// PDQ of any decoded image: grey images are hashed as grey, everything else as RGB
/// (alpha ignored, as the reference does).
pub fn hash_dynamic(img: &DynamicImage) -> Pdq {
    match img {
        DynamicImage::ImageLuma8(g) => hash_gray(g),
        DynamicImage::ImageRgb8(rgb) => hash_image(rgb),
        other => hash_image(&other.to_rgb8()),
    }
}

/// The hash of the image and of its left–right mirror image, from one pass.
pub fn hash_with_mirror(img: &RgbImage) -> (Pdq, Pdq) {
    let d = hash_dihedral(img);
    (d.get(Dihedral::Original), d.get(Dihedral::FlipY))
}

/// The hashes of all eight rotations/flips of the image, from one pass.
pub fn hash_dihedral(img: &RgbImage) -> Dihedrals {
    let (w, h) = img.dimensions();
    dihedral_from_float_luma(luma_from_rgb(img), w, h)
}

/// The eight dihedral hashes of a float luminance image.
pub fn hash_luma_dihedral(luma: &LumaF32) -> Dihedrals {
    let (w, h) = luma.dimensions();
    dihedral_from_float_luma(luma.as_raw().clone(), w, h)
}

/// Why a JPEG could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("cannot decode JPEG: {0}")]
    Decode(#[from] jpeg_decoder::Error),
    #[error("JPEG has no image information")]
    NoInfo,
    #[error("unsupported JPEG pixel format {0:?}")]
    PixelFormat(jpeg_decoder::PixelFormat),
    #[error("JPEG pixel buffer has the wrong size")]
    BadBuffer,
}

/// The eight dihedral hashes of an encoded photo as the gate cleaned it: a JPEG by the fast
/// reduced decode ([`hash_jpeg`]), anything else decoded in full.
pub fn hash(bytes: &[u8], format: crate::formats::Format) -> Result<Dihedrals, String> {
    if format == crate::formats::Format::Jpeg {
        return hash_jpeg(bytes).map_err(|e| e.to_string());
    }
    let img = crate::formats::decode_rgb(bytes).map_err(|e| e.to_string())?;
    Ok(hash_dihedral(&img))
}

/// Hashes a JPEG from a scaled decode: the decoder's DCT scaling (1/2, 1/4, 1/8) is used so that
/// both sides stay ≥ [`DOWNSAMPLE_DIMS`] where possible (see the module doc), then the decoded
/// pixels are hashed exactly. Returns the eight dihedral hashes (the mirror is `FlipY`).
///
/// EXIF orientation is not applied: the hash is of the stored pixels; the dihedral variants cover
/// a rotated or mirrored re-upload.
pub fn hash_jpeg(bytes: &[u8]) -> Result<Dihedrals, HashError> {
    let mut dec = jpeg_decoder::Decoder::new(bytes);
    dec.read_info()?;
    let info = dec.info().ok_or(HashError::NoInfo)?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let (tw, th) = scaled_request(w, h);
    let (sw, sh) = dec.scale(tw, th)?;
    let pixels = dec.decode()?;
    let info = dec.info().ok_or(HashError::NoInfo)?;
    let (sw, sh) = (u32::from(sw), u32::from(sh));
    let n = sw as usize * sh as usize;
    let luma: Vec<f32> = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            if pixels.len() != n {
                return Err(HashError::BadBuffer);
            }
            pixels.iter().map(|&v| f32::from(v)).collect()
        }
        jpeg_decoder::PixelFormat::RGB24 => {
            if pixels.len() != 3 * n {
                return Err(HashError::BadBuffer);
            }
            pixels
                .chunks_exact(3)
                .map(|p| luma_of(p[0], p[1], p[2]))
                .collect()
        }
        jpeg_decoder::PixelFormat::CMYK32 => {
            if pixels.len() != 4 * n {
                return Err(HashError::BadBuffer);
            }
            // jpeg-decoder returns inverted (Adobe) CMYK; convert naively to RGB.
            pixels
                .chunks_exact(4)
                .map(|p| {
                    let k = u16::from(p[3]);
                    let c = |v: u8| ((u16::from(v) * k) / 255) as u8;
                    luma_of(c(p[0]), c(p[1]), c(p[2]))
                })
                .collect()
        }
        other => return Err(HashError::PixelFormat(other)),
    };
    Ok(dihedral_from_float_luma(luma, sw, sh))
}

/// The size to ask the JPEG decoder for: it picks the smallest DCT scale whose output is at least
/// this, so ask for the scale that keeps the shorter side ≥ [`DOWNSAMPLE_DIMS`].
fn scaled_request(w: u32, h: u32) -> (u16, u16) {
    let short = w.min(h).max(1);
    let mut denom = 1u32;
    while denom < 8 && short / (denom * 2) >= DOWNSAMPLE_DIMS {
        denom *= 2;
    }
    let tw = w.div_ceil(denom).min(u32::from(u16::MAX)) as u16;
    let th = h.div_ceil(denom).min(u32::from(u16::MAX)) as u16;
    (tw, th)
}

// ---------------------------------------------------------------------------------------------
// The reference core

const LUMA_FROM_R: f32 = 0.299;
const LUMA_FROM_G: f32 = 0.587;
const LUMA_FROM_B: f32 = 0.114;
const NUM_JAROSZ_XY_PASSES: usize = 2;

#[inline]
fn luma_of(r: u8, g: u8, b: u8) -> f32 {
    // Same operation order as the reference: (R·cr + G·cg) + B·cb, all in f32.
    LUMA_FROM_R * f32::from(r) + LUMA_FROM_G * f32::from(g) + LUMA_FROM_B * f32::from(b)
}

/// The reference's RGB → luminance, in `f32`.
pub fn luma_from_rgb(img: &RgbImage) -> Vec<f32> {
    img.as_raw()
        .chunks_exact(3)
        .map(|p| luma_of(p[0], p[1], p[2]))
        .collect()
}

fn hash_float_luma(luma: Vec<f32>, w: u32, h: u32) -> Pdq {
    match float256_from_luma(luma, w, h) {
        Some((dct, quality)) => Pdq {
            hash: bits_of(&dct),
            quality,
        },
        None => Pdq {
            hash: [0; 32],
            quality: 0,
        },
    }
}

fn dihedral_from_float_luma(luma: Vec<f32>, w: u32, h: u32) -> Dihedrals {
    let Some((dct, quality)) = float256_from_luma(luma, w, h) else {
        return Dihedrals {
            hashes: [[0; 32]; 8],
            quality: 0,
        };
    };
    let mut hashes = [[0u8; 32]; 8];
    for d in Dihedral::ALL {
        hashes[d as usize] = bits_of(&transform(&dct, d));
    }
    Dihedrals { hashes, quality }
}

type Block16 = [[f32; 16]; 16];

/// Blur, decimate, quality and DCT: `pdqFloat256FromFloatLuma`. `None` when the image is too
/// small to hash (or the buffer does not match the dimensions).
fn float256_from_luma(mut buf1: Vec<f32>, w: u32, h: u32) -> Option<(Block16, u8)> {
    if w < MIN_HASHABLE_DIM || h < MIN_HASHABLE_DIM {
        return None;
    }
    let (cols, rows) = (w as usize, h as usize);
    if buf1.len() != cols.checked_mul(rows)? {
        return None;
    }
    let mut a64 = [[0f32; 64]; 64];
    if rows == 64 && cols == 64 {
        // As the reference: an input that is already 64×64 is used as is.
        for (i, row) in a64.iter_mut().enumerate() {
            row.copy_from_slice(&buf1[i * 64..i * 64 + 64]);
        }
    } else {
        let win_along_rows = jarosz_window(cols, 64);
        let win_along_cols = jarosz_window(rows, 64);
        let mut buf2 = vec![0f32; buf1.len()];
        for _ in 0..NUM_JAROSZ_XY_PASSES {
            box_along_rows(&buf1, &mut buf2, cols, win_along_rows);
            box_along_cols(&buf2, &mut buf1, rows, cols, win_along_cols);
        }
        decimate(&buf1, rows, cols, &mut a64);
    }
    let quality = quality_metric(&a64);
    Some((dct64_to_16(&a64), quality))
}

/// `computeJaroszFilterWindowSize`: `ceil(old / (2·new))`.
fn jarosz_window(old: usize, new: usize) -> usize {
    old.div_ceil(2 * new)
}

/// Phase lengths of the reference's `box1DFloat` for a vector of `len` and a window of `window`.
struct BoxPhases {
    p1: usize,
    p2: usize,
    p3: usize,
    p4: usize,
}

fn box_phases(len: usize, window: usize) -> BoxPhases {
    let half = (window + 2) / 2; // 7 -> 4, 8 -> 5
    BoxPhases {
        p1: half - 1,
        p2: window - half + 1,
        p3: len.saturating_sub(window),
        p4: half - 1,
    }
}

/// `box1DFloat` along one contiguous vector.
fn box_1d(input: &[f32], out: &mut [f32], window: usize) {
    let ph = box_phases(input.len(), window);
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut sum = 0f32;
    let mut cur = 0usize;
    for _ in 0..ph.p1 {
        sum += input[ri];
        cur += 1;
        ri += 1;
    }
    for _ in 0..ph.p2 {
        sum += input[ri];
        cur += 1;
        out[oi] = sum / cur as f32;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p3 {
        sum += input[ri];
        sum -= input[li];
        out[oi] = sum / cur as f32;
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p4 {
        sum -= input[li];
        cur -= 1;
        out[oi] = sum / cur as f32;
        li += 1;
        oi += 1;
    }
}

fn box_along_rows(input: &[f32], out: &mut [f32], cols: usize, window: usize) {
    for (src, dst) in input.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        box_1d(src, dst, window);
    }
}

/// `boxAlongColsFloat`, run over all columns at once (row by row) so that memory is read
/// sequentially. Each column sees exactly the reference's sequence of operations.
fn box_along_cols(input: &[f32], out: &mut [f32], rows: usize, cols: usize, window: usize) {
    let ph = box_phases(rows, window);
    let row = |i: usize| &input[i * cols..(i + 1) * cols];
    let mut sum = vec![0f32; cols];
    let (mut li, mut ri, mut oi) = (0usize, 0usize, 0usize);
    let mut cur = 0usize;
    for _ in 0..ph.p1 {
        sum.iter_mut().zip(row(ri)).for_each(|(s, &v)| *s += v);
        cur += 1;
        ri += 1;
    }
    for _ in 0..ph.p2 {
        sum.iter_mut().zip(row(ri)).for_each(|(s, &v)| *s += v);
        cur += 1;
        let c = cur as f32;
        out[oi * cols..(oi + 1) * cols]
            .iter_mut()
            .zip(&sum)
            .for_each(|(o, &s)| *o = s / c);
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p3 {
        let (add, sub) = (row(ri), row(li));
        sum.iter_mut()
            .zip(add.iter().zip(sub))
            .for_each(|(s, (&a, &b))| {
                *s += a;
                *s -= b;
            });
        let c = cur as f32;
        out[oi * cols..(oi + 1) * cols]
            .iter_mut()
            .zip(&sum)
            .for_each(|(o, &s)| *o = s / c);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.p4 {
        sum.iter_mut().zip(row(li)).for_each(|(s, &v)| *s -= v);
        cur -= 1;
        let c = cur as f32;
        out[oi * cols..(oi + 1) * cols]
            .iter_mut()
            .zip(&sum)
            .for_each(|(o, &s)| *o = s / c);
        li += 1;
        oi += 1;
    }
}

/// `decimateFloat` to 64×64: sample the centre of each of 64×64 equal cells.
fn decimate(input: &[f32], rows: usize, cols: usize, out: &mut [[f32; 64]; 64]) {
    let centre = |o: usize, n: usize| (((o as f64 + 0.5) * n as f64) / 64.0) as usize;
    for (oi, orow) in out.iter_mut().enumerate() {
        let ii = centre(oi, rows);
        for (oj, v) in orow.iter_mut().enumerate() {
            *v = input[ii * cols + centre(oj, cols)];
        }
    }
}

/// `pdqImageDomainQualityMetric`.
fn quality_metric(a: &[[f32; 64]; 64]) -> u8 {
    // `int d = ((u - v) * 100) / 255;` in f32, truncated toward zero.
    let grad = |u: f32, v: f32| (((u - v) * 100.0) / 255.0) as i32;
    let mut sum: i64 = 0;
    for (upper, lower) in a.iter().zip(&a[1..]) {
        for (&u, &v) in upper.iter().zip(lower) {
            sum += i64::from(grad(u, v).abs());
        }
    }
    for row in a.iter() {
        for j in 0..63 {
            sum += i64::from(grad(row[j], row[j + 1]).abs());
        }
    }
    (sum / 90).min(100) as u8
}

/// The 16×64 DCT-II matrix of the reference (rows 1..=16 of the 64-point DCT), computed as the
/// reference does: an `f32` scale times a `f64` cosine, rounded to `f32`.
fn dct_matrix() -> &'static [[f32; 64]; 16] {
    static M: std::sync::OnceLock<[[f32; 64]; 16]> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        let mut m = [[0f32; 64]; 16];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                *v = (f64::from(scale) * arg.cos()) as f32;
            }
        }
        m
    })
}

/// `dct64To16`: B = D A Dᵀ with the sums accumulated in the reference's order.
fn dct64_to_16(a: &[[f32; 64]; 64]) -> Block16 {
    let d = dct_matrix();
    let mut t = [[0f32; 64]; 16];
    for (i, trow) in t.iter_mut().enumerate() {
        for (j, tv) in trow.iter_mut().enumerate() {
            let mut s = 0f32;
            for k in 0..64 {
                s += d[i][k] * a[k][j];
            }
            *tv = s;
        }
    }
    let mut b = [[0f32; 16]; 16];
    for (i, brow) in b.iter_mut().enumerate() {
        for (j, bv) in brow.iter_mut().enumerate() {
            let mut s = 0f32;
            for k in 0..64 {
                s += t[i][k] * d[j][k];
            }
            *bv = s;
        }
    }
    b
}

/// The dihedral transforms of the 16×16 DCT (`dct16OriginalTo*`).
fn transform(a: &Block16, d: Dihedral) -> Block16 {
    let mut b = [[0f32; 16]; 16];
    for i in 0..16 {
        for j in 0..16 {
            let v = a[i][j];
            let neg = |flip: bool| if flip { -v } else { v };
            match d {
                Dihedral::Original => b[i][j] = v,
                Dihedral::Rotate90 => b[j][i] = neg(j & 1 == 0),
                Dihedral::Rotate180 => b[i][j] = neg((i + j) & 1 == 1),
                Dihedral::Rotate270 => b[j][i] = neg(i & 1 == 0),
                Dihedral::FlipX => b[i][j] = neg(i & 1 == 0),
                Dihedral::FlipY => b[i][j] = neg(j & 1 == 0),
                Dihedral::FlipPlus1 => b[j][i] = v,
                Dihedral::FlipMinus1 => b[j][i] = neg((i + j) & 1 == 1),
            }
        }
    }
    b
}

/// `pdqBuffer16x16ToBits`: bit `16·i + j` set when coefficient (i, j) is above the median.
fn bits_of(b: &Block16) -> [u8; 32] {
    let flat: Vec<f32> = b.iter().flatten().copied().collect();
    let median = torben(&flat);
    let mut out = [0u8; 32];
    for (k, &v) in flat.iter().enumerate() {
        if v > median {
            out[31 - k / 8] |= 1 << (k % 8);
        }
    }
    out
}

/// Torben Mogensen's median (N. Devillard's implementation), as used by the reference.
fn torben(m: &[f32]) -> f32 {
    let n = m.len();
    if n == 0 {
        return 0.0;
    }
    let (mut min, mut max) = (m[0], m[0]);
    for &v in &m[1..] {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let half = n.div_ceil(2);
    let (mut guess, mut less, mut greater, mut equal, mut maxlt, mut mingt);
    loop {
        guess = (min + max) / 2.0;
        less = 0;
        greater = 0;
        equal = 0;
        maxlt = min;
        mingt = max;
        for &v in m {
            if v < guess {
                less += 1;
                if v > maxlt {
                    maxlt = v;
                }
            } else if v > guess {
                greater += 1;
                if v < mingt {
                    mingt = v;
                }
            } else {
                equal += 1;
            }
        }
        if less <= half && greater <= half {
            break;
        } else if less > greater {
            max = maxlt;
        } else {
            min = mingt;
        }
        if !guess.is_finite() {
            // NaN/∞ input (only reachable through `hash_luma`): stop rather than spin.
            break;
        }
    }
    if less >= half {
        maxlt
    } else if less + equal >= half {
        guess
    } else {
        mingt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bit_order() {
        let mut p = Pdq {
            hash: [0; 32],
            quality: 100,
        };
        p.hash[31] = 1; // bit 0 is the last hex digit
        assert!(p.bit(0));
        assert!(p.to_hex().ends_with("01"));
        assert_eq!(Pdq::from_hex(&p.to_hex()), Some(p.hash));
        assert_eq!(Pdq::from_hex("xyz"), None);
        assert_eq!(Pdq::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn torben_is_the_lower_median() {
        let v: Vec<f32> = (0..256).map(|i| ((i * 37) % 256) as f32).collect();
        assert_eq!(torben(&v), 127.0);
    }

    #[test]
    fn tiny_and_mismatched_inputs_do_not_panic() {
        let p = hash_image(&RgbImage::new(4, 100));
        assert_eq!((p.hash, p.quality), ([0; 32], 0));
        assert_eq!(hash_float_luma(vec![0.0; 10], 10, 10).quality, 0);
        let nan = LumaF32::from_pixel(20, 20, Luma([f32::NAN]));
        let _ = hash_luma(&nan);
        let _ = hash_image(&RgbImage::new(1, 1));
        assert!(hash_jpeg(b"not a jpeg").is_err());
    }

    #[test]
    fn scaled_request_keeps_short_side_at_least_512() {
        assert_eq!(scaled_request(4000, 3000), (1000, 750));
        assert_eq!(scaled_request(800, 600), (800, 600));
        assert_eq!(scaled_request(1024, 1024), (512, 512));
        assert_eq!(scaled_request(16000, 9000), (2000, 1125));
    }
}
