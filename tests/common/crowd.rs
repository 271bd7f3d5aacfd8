//! Crowds of real faces at controlled heights, and photos with no face at all, for measuring
//! detection recall by face size (issue 10). Shared by the integration tests (`common::crowd`)
//! and the benches (`#[path]`), so both measure the same thing.
//!
//! - [`mosaic`]: whole real photos shrunk so their faces are `face_px` tall, packed side by side
//!   into one large canvas (the realistic case: a class photo taken from further away).
//! - [`pasted_crowd`]: the faces alone (head and shoulders, feathered edges) shrunk to
//!   `face_px` and set in rows, like a choir or an assembly, over a background picture.
//! - [`faceless`]: landscapes, artwork, text pages and patterned backgrounds (false faces).
//!
//! Everything is deterministic for a seed (`fastrand`'s seeded generator). The face boxes come
//! from the caller ([`Source::faces`]: what the detector finds at the source's own, large size),
//! scaled and moved with the pixels; a face's height is its box height.

#![allow(dead_code)] // each user (test crate, benches) uses part of it

use image::{imageops, Rgb, RgbImage};

/// The face heights the issue reports recall for, pixels.
pub const HEIGHTS: [u32; 9] = [12, 16, 20, 24, 32, 40, 56, 80, 160];

/// A real photo and its faces (`[x1, y1, x2, y2]`, in its pixels).
pub struct Source {
    pub name: String,
    pub image: RgbImage,
    pub faces: Vec<[f32; 4]>,
}

impl Source {
    /// Median face height (what shrinking to a target height scales by).
    pub fn face_height(&self) -> f32 {
        let mut h: Vec<f32> = self.faces.iter().map(|f| f[3] - f[1]).collect();
        h.sort_by(f32::total_cmp);
        h.get(h.len() / 2).copied().unwrap_or(0.0)
    }
}

/// A generated picture and where its faces are (`[x1, y1, x2, y2]`).
pub struct Scene {
    pub image: RgbImage,
    pub faces: Vec<[f32; 4]>,
}

fn resize(image: &RgbImage, w: u32, h: u32) -> RgbImage {
    // Triangle widens its support when shrinking, so a strong reduction averages (no aliasing),
    // as a camera further away would.
    imageops::resize(image, w.max(1), h.max(1), imageops::FilterType::Triangle)
}

/// `background` covering a `w`×`h` canvas (scaled to fill, centre-cropped), or mid grey.
pub fn canvas(background: Option<&RgbImage>, w: u32, h: u32) -> RgbImage {
    let Some(bg) = background else {
        return RgbImage::from_pixel(w, h, Rgb([118, 118, 112]));
    };
    let s = (w as f32 / bg.width() as f32).max(h as f32 / bg.height() as f32);
    let (sw, sh) = (
        (bg.width() as f32 * s).ceil() as u32,
        (bg.height() as f32 * s).ceil() as u32,
    );
    let big = resize(bg, sw.max(w), sh.max(h));
    imageops::crop_imm(&big, (big.width() - w) / 2, (big.height() - h) / 2, w, h).to_image()
}

/// Every JPEG/PNG in `dir` as a [`Source`], its faces what `engine` finds at the photo's own
/// size with a score of at least 0.5 and 24 px or more (large, clear faces: the truth that
/// shrinking then moves with the pixels).
pub fn load_sources(dir: &std::path::Path, engine: &consentgate::faces::FaceEngine) -> Vec<Source> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("faces folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "jpg" || e == "png" || e == "jpeg")
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).expect("read face photo");
            let image = consentgate::faces::decode_upright(&bytes).expect("decode face photo");
            let faces = engine
                .faces_in_image(&image)
                .expect("faces")
                .iter()
                .filter(|f| f.score >= 0.5 && f.bbox.height >= 24.0)
                .map(|f| corners(&f.bbox))
                .collect();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Source { name, image, faces }
        })
        .collect()
}

/// Sources usable at `face_px`: their faces are at least that tall already (shrinking only; an
/// enlarged small face would be a blur no camera makes).
fn usable(sources: &[Source], face_px: u32) -> Vec<&Source> {
    sources
        .iter()
        .filter(|s| !s.faces.is_empty() && s.face_height() >= face_px as f32 * 0.95)
        .collect()
}

/// Real photos shrunk so that their median face is `face_px` tall, packed in rows (shelf
/// packing, seeded order) into a `w`×`h` canvas over `background`. A shrunk photo larger than
/// the canvas is cropped to it; only faces wholly inside what is placed count.
pub fn mosaic(
    sources: &[Source],
    background: Option<&RgbImage>,
    face_px: u32,
    w: u32,
    h: u32,
    seed: u64,
) -> Scene {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut image = canvas(background, w, h);
    let mut faces = Vec::new();
    let pool = usable(sources, face_px);
    if pool.is_empty() {
        return Scene { image, faces };
    }
    let gap = 4 + face_px / 2;
    let (mut x, mut y, mut row_h) = (gap, gap, 0u32);
    let mut misses = 0;
    while misses < 2 * pool.len() {
        let src = pool[rng.usize(..pool.len())];
        let s = face_px as f32 / src.face_height();
        // A little size variation, as in a real crowd (±8%).
        let s = s * (0.92 + 0.16 * rng.f32()).min(1.0 / s.max(1e-6));
        let (sw, sh) = (
            ((src.image.width() as f32 * s).round() as u32).max(1),
            ((src.image.height() as f32 * s).round() as u32).max(1),
        );
        let (cw, ch) = (sw.min(w - 2 * gap), sh.min(h - 2 * gap));
        if x + cw + gap > w {
            x = gap;
            y += row_h + gap;
            row_h = 0;
        }
        if y + ch + gap > h {
            misses += 1;
            if misses >= 2 * pool.len() || row_h == 0 {
                break;
            }
            continue;
        }
        let scaled = resize(&src.image, sw, sh);
        let (ox, oy) = (rng.u32(0..=sw - cw), rng.u32(0..=sh - ch));
        let part = imageops::crop_imm(&scaled, ox, oy, cw, ch).to_image();
        imageops::replace(&mut image, &part, i64::from(x), i64::from(y));
        for f in &src.faces {
            let b = [
                f[0] * s - ox as f32,
                f[1] * s - oy as f32,
                f[2] * s - ox as f32,
                f[3] * s - oy as f32,
            ];
            if b[0] >= 0.0 && b[1] >= 0.0 && b[2] <= cw as f32 && b[3] <= ch as f32 {
                faces.push([
                    b[0] + x as f32,
                    b[1] + y as f32,
                    b[2] + x as f32,
                    b[3] + y as f32,
                ]);
            }
        }
        x += cw + gap;
        row_h = row_h.max(ch);
    }
    Scene { image, faces }
}

/// Faces alone (head and shoulders, feathered elliptical edge) shrunk to about `face_px` tall and
/// set in staggered rows over a region of `background`, like a choir or an assembly.
pub fn pasted_crowd(
    sources: &[Source],
    background: Option<&RgbImage>,
    face_px: u32,
    w: u32,
    h: u32,
    seed: u64,
) -> Scene {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5EED_C0DE);
    let mut image = canvas(background, w, h);
    let mut faces = Vec::new();
    // Head-and-shoulders cut-outs: the face box widened 2× and heightened 2.2× (hair above,
    // neck and collar below).
    let cutouts: Vec<(RgbImage, [f32; 4])> = usable(sources, face_px)
        .iter()
        .flat_map(|s| {
            s.faces.iter().filter_map(|f| {
                let (fw, fh) = (f[2] - f[0], f[3] - f[1]);
                let x1 = (f[0] - 0.5 * fw).max(0.0) as u32;
                let y1 = (f[1] - 0.5 * fh).max(0.0) as u32;
                let x2 = ((f[2] + 0.5 * fw) as u32).min(s.image.width());
                let y2 = ((f[3] + 0.7 * fh) as u32).min(s.image.height());
                (x2 > x1 + 4 && y2 > y1 + 4).then(|| {
                    let crop = imageops::crop_imm(&s.image, x1, y1, x2 - x1, y2 - y1).to_image();
                    let b = [
                        f[0] - x1 as f32,
                        f[1] - y1 as f32,
                        f[2] - x1 as f32,
                        f[3] - y1 as f32,
                    ];
                    (crop, b)
                })
            })
        })
        .collect();
    if cutouts.is_empty() {
        return Scene { image, faces };
    }
    // The crowd fills 50–90% of the width and 40–80% of the height.
    let (rw, rh) = (
        (w as f32 * (0.5 + 0.4 * rng.f32())) as u32,
        (h as f32 * (0.4 + 0.4 * rng.f32())) as u32,
    );
    let (rx, ry) = (rng.u32(0..=w - rw), rng.u32(0..=h - rh));
    let pitch_x = face_px as f32 * 1.9;
    let pitch_y = face_px as f32 * 2.3;
    let mut row = 0;
    let mut py = ry as f32;
    while py + pitch_y * 1.2 < (ry + rh) as f32 {
        let mut px = rx as f32 + if row % 2 == 1 { pitch_x / 2.0 } else { 0.0 };
        while px + pitch_x * 1.2 < (rx + rw) as f32 {
            let (cut, b) = &cutouts[rng.usize(..cutouts.len())];
            let s = face_px as f32 * (0.9 + 0.2 * rng.f32()) / (b[3] - b[1]);
            let (sw, sh) = (
                ((cut.width() as f32 * s).round() as u32).max(2),
                ((cut.height() as f32 * s).round() as u32).max(2),
            );
            let small = resize(cut, sw, sh);
            let jx = px + (rng.f32() - 0.5) * 0.2 * pitch_x;
            let jy = py + (rng.f32() - 0.5) * 0.2 * pitch_y;
            let (ox, oy) = (jx.max(0.0) as u32, jy.max(0.0) as u32);
            if ox + sw <= w && oy + sh <= h {
                feathered_paste(&mut image, &small, ox, oy);
                faces.push([
                    b[0] * s + ox as f32,
                    b[1] * s + oy as f32,
                    b[2] * s + ox as f32,
                    b[3] * s + oy as f32,
                ]);
            }
            px += pitch_x;
        }
        py += pitch_y;
        row += 1;
    }
    // Later (lower, nearer) rows overlap earlier ones; a face partly covered by a later cut-out
    // still counts: the cut-outs are wider than faces and overlap only at their feathered edges.
    Scene { image, faces }
}

/// Group shots pasted into `canvas`, one per quadrant (up to four), the `j`-th shrunk so its
/// faces are `heights[j]` tall (a source is chosen, seeded, among those with faces that tall;
/// a shot larger than its quadrant is cropped to it). Returns the faces placed.
pub fn group_shots(
    sources: &[Source],
    canvas: &mut RgbImage,
    heights: &[u32],
    seed: u64,
) -> Vec<[f32; 4]> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let (w, h) = canvas.dimensions();
    let (qw, qh) = (w / 2, h / 2);
    let mut faces = Vec::new();
    for (j, &px) in heights.iter().take(4).enumerate() {
        let pool: Vec<&Source> = usable(sources, px)
            .into_iter()
            .filter(|s| s.faces.len() >= 3)
            .collect();
        if pool.is_empty() {
            continue;
        }
        let src = pool[rng.usize(..pool.len())];
        let s = px as f32 / src.face_height();
        let (sw, sh) = (
            ((src.image.width() as f32 * s).round() as u32).max(1),
            ((src.image.height() as f32 * s).round() as u32).max(1),
        );
        let (cw, ch) = (sw.min(qw), sh.min(qh));
        let scaled = resize(&src.image, sw, sh);
        let (ox, oy) = (rng.u32(0..=sw - cw), rng.u32(0..=sh - ch));
        let part = imageops::crop_imm(&scaled, ox, oy, cw, ch).to_image();
        let (qx, qy) = ((j as u32 % 2) * qw, (j as u32 / 2) * qh);
        let (x, y) = (qx + rng.u32(0..=qw - cw), qy + rng.u32(0..=qh - ch));
        imageops::replace(canvas, &part, i64::from(x), i64::from(y));
        for f in &src.faces {
            let b = [
                f[0] * s - ox as f32,
                f[1] * s - oy as f32,
                f[2] * s - ox as f32,
                f[3] * s - oy as f32,
            ];
            if b[0] >= 0.0 && b[1] >= 0.0 && b[2] <= cw as f32 && b[3] <= ch as f32 {
                faces.push([
                    b[0] + x as f32,
                    b[1] + y as f32,
                    b[2] + x as f32,
                    b[3] + y as f32,
                ]);
            }
        }
    }
    faces
}

/// `patch` over `image` at (x, y) through an elliptical mask feathered over its outer fifth.
fn feathered_paste(image: &mut RgbImage, patch: &RgbImage, x: u32, y: u32) {
    let (pw, ph) = (patch.width() as f32, patch.height() as f32);
    for (px, py, p) in patch.enumerate_pixels() {
        let dx = (px as f32 + 0.5) / pw * 2.0 - 1.0;
        let dy = (py as f32 + 0.5) / ph * 2.0 - 1.0;
        let r = (dx * dx + dy * dy).sqrt();
        let a = ((1.0 - r) / 0.2).clamp(0.0, 1.0);
        if a <= 0.0 {
            continue;
        }
        let q = image.get_pixel_mut(x + px, y + py);
        for c in 0..3 {
            q.0[c] = (f32::from(p.0[c]) * a + f32::from(q.0[c]) * (1.0 - a)).round() as u8;
        }
    }
}

/// The kinds of [`faceless`] picture.
pub const FACELESS_KINDS: [&str; 4] = ["landscape", "artwork", "text", "pattern"];

/// A `w`×`h` picture with no face: `kind` indexes [`FACELESS_KINDS`].
pub fn faceless(kind: usize, w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ kind as u64);
    match kind % FACELESS_KINDS.len() {
        0 => landscape(&mut rng, w, h),
        1 => artwork(&mut rng, w, h),
        2 => text_page(&mut rng, w, h),
        _ => pattern(&mut rng, w, h),
    }
}

fn noise(rng: &mut fastrand::Rng, amp: i32) -> i32 {
    rng.i32(-amp..=amp)
}

fn shade(c: [u8; 3], d: i32) -> Rgb<u8> {
    Rgb(c.map(|v| (i32::from(v) + d).clamp(0, 255) as u8))
}

fn landscape(rng: &mut fastrand::Rng, w: u32, h: u32) -> RgbImage {
    let horizon = h as f32 * (0.35 + 0.25 * rng.f32());
    let waves: Vec<(f32, f32, f32)> = (0..5)
        .map(|k| {
            (
                (k as f32 + 1.0) * (1.0 + rng.f32()) * std::f32::consts::TAU / w as f32,
                rng.f32() * 6.3,
                h as f32 * 0.06 / (k as f32 + 1.0),
            )
        })
        .collect();
    let sun = (
        rng.f32() * w as f32,
        rng.f32() * horizon * 0.6,
        h as f32 * 0.04,
    );
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let ridge = horizon
            + waves
                .iter()
                .map(|(f, p, a)| (xf * f + p).sin() * a)
                .sum::<f32>();
        if yf < ridge {
            let t = yf / ridge.max(1.0);
            let d = ((xf - sun.0).powi(2) + (yf - sun.1).powi(2)).sqrt();
            if d < sun.2 {
                return Rgb([255, 244, 200]);
            }
            Rgb([
                (90.0 + 120.0 * t) as u8,
                (150.0 + 80.0 * t) as u8,
                (235.0 - 20.0 * t) as u8,
            ])
        } else {
            let t = (yf - ridge) / (h as f32 - ridge).max(1.0);
            Rgb([
                (60.0 + 50.0 * t) as u8,
                (120.0 - 30.0 * t) as u8,
                (50.0 + 10.0 * t) as u8,
            ])
        }
    });
    // Trees: dark triangles with trunks along the ground, and grass noise.
    for _ in 0..rng.usize(20..60) {
        let tx = rng.u32(0..w);
        let th = (h as f32 * (0.03 + 0.12 * rng.f32())) as u32;
        let ty = (horizon as u32 + rng.u32(0..h / 3)).min(h - 1);
        let green = [20 + rng.u8(0..40), 70 + rng.u8(0..60), 25 + rng.u8(0..30)];
        for dy in 0..th {
            let half = dy * th / 3 / th.max(1) + 1;
            let yy = ty.saturating_sub(th) + dy;
            for xx in tx.saturating_sub(half)..(tx + half).min(w) {
                img.put_pixel(xx, yy.min(h - 1), shade(green, noise(rng, 12)));
            }
        }
    }
    for p in img.pixels_mut() {
        let d = noise(rng, 6);
        *p = shade(p.0, d);
    }
    img
}

fn artwork(rng: &mut fastrand::Rng, w: u32, h: u32) -> RgbImage {
    let mut img = RgbImage::from_pixel(w, h, Rgb([240, 232, 215]));
    // Ellipses, circles and rectangles in a painter's palette; some ellipses have dark "eyes"
    // in them, the classic false face.
    for _ in 0..rng.usize(40..120) {
        let c = [rng.u8(..), rng.u8(..), rng.u8(..)];
        let (cx, cy) = (rng.f32() * w as f32, rng.f32() * h as f32);
        let (rx, ry) = (
            w as f32 * (0.005 + 0.08 * rng.f32()),
            h as f32 * (0.005 + 0.08 * rng.f32()),
        );
        let rect = rng.bool();
        let x0 = (cx - rx).max(0.0) as u32;
        let y0 = (cy - ry).max(0.0) as u32;
        let x1 = ((cx + rx) as u32).min(w);
        let y1 = ((cy + ry) as u32).min(h);
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = (x as f32 - cx) / rx;
                let dy = (y as f32 - cy) / ry;
                if rect || dx * dx + dy * dy <= 1.0 {
                    img.put_pixel(x, y, Rgb(c));
                }
            }
        }
        if !rect && rng.u8(..) < 60 {
            for ex in [-0.35f32, 0.35] {
                let (ex, ey) = (cx + ex * rx, cy - 0.2 * ry);
                let er = rx.min(ry) * 0.12;
                for y in (ey - er).max(0.0) as u32..((ey + er) as u32).min(h) {
                    for x in (ex - er).max(0.0) as u32..((ex + er) as u32).min(w) {
                        img.put_pixel(x, y, Rgb([30, 25, 20]));
                    }
                }
            }
        }
    }
    for p in img.pixels_mut() {
        let d = noise(rng, 5);
        *p = shade(p.0, d);
    }
    img
}

fn text_page(rng: &mut fastrand::Rng, w: u32, h: u32) -> RgbImage {
    let paper = [245, 243, 236];
    let mut img = RgbImage::from_pixel(w, h, Rgb(paper));
    // Pseudo-letters: random 5×7 glyphs (a fixed alphabet of 40), in lines of words, at a few
    // sizes (body text, headings, a poster).
    let glyphs: Vec<u64> = (0..40).map(|_| rng.u64(..) & ((1 << 35) - 1)).collect();
    let mut y = h / 20;
    while y < h - h / 20 {
        let size = [3u32, 4, 6, 10, 18][rng.usize(..5)];
        let (gw, gh) = (5 * size, 7 * size);
        let mut x = w / 20;
        let ink = if rng.u8(..) < 40 {
            [rng.u8(..150), rng.u8(..150), rng.u8(..150)]
        } else {
            [25, 25, 30]
        };
        while x + gw < w - w / 20 {
            let word = rng.usize(2..9);
            for _ in 0..word {
                if x + gw >= w - w / 20 {
                    break;
                }
                let g = glyphs[rng.usize(..glyphs.len())];
                for gy in 0..7 {
                    for gx in 0..5 {
                        if g >> (gy * 5 + gx) & 1 == 1 {
                            for yy in 0..size {
                                for xx in 0..size {
                                    let (px, py) = (x + gx * size + xx, y + gy * size + yy);
                                    if px < w && py < h {
                                        img.put_pixel(px, py, Rgb(ink));
                                    }
                                }
                            }
                        }
                    }
                }
                x += gw + size;
            }
            x += 3 * size;
        }
        y += gh + gh / 2 + rng.u32(0..=gh);
    }
    img
}

fn pattern(rng: &mut fastrand::Rng, w: u32, h: u32) -> RgbImage {
    let cell = [6u32, 12, 24, 48, 96][rng.usize(..5)];
    let a = [rng.u8(..), rng.u8(..), rng.u8(..)];
    let b = [rng.u8(..), rng.u8(..), rng.u8(..)];
    let style = rng.usize(..5);
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        let (cx, cy) = (x / cell, y / cell);
        let on = match style {
            0 => (cx + cy) % 2 == 0,      // checkers
            1 => (x + y) / cell % 2 == 0, // diagonal stripes
            2 => {
                // polka dots
                let (dx, dy) = (x % cell, y % cell);
                let (dx, dy) = (dx as i32 - cell as i32 / 2, dy as i32 - cell as i32 / 2);
                dx * dx + dy * dy < (cell * cell / 9) as i32
            }
            3 => {
                // brick
                let row = y / cell;
                let off = if row % 2 == 0 { 0 } else { cell };
                y % cell < 2 || (x + off) % (2 * cell) < 2
            }
            _ => (cx % 3 == 0) ^ (cy % 4 == 1), // plaid
        };
        Rgb(if on { a } else { b })
    });
    for p in img.pixels_mut() {
        let d = noise(rng, 8);
        *p = shade(p.0, d);
    }
    img
}

/// Index into [`HEIGHTS`] of the bucket a face of height `h` falls in (the largest ≤ h), or
/// `None` under the smallest.
pub fn bucket(h: f32) -> Option<usize> {
    HEIGHTS.iter().rposition(|&b| h >= b as f32 * 0.995)
}

/// Faces found and expected per [`HEIGHTS`] bucket.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub found: [usize; 9],
    pub total: [usize; 9],
    /// Detections that are no expected face (in scenes with faces; may be real background faces
    /// of the source photos that were too small to be in the truth).
    pub extra: usize,
}

impl Tally {
    /// Count a scene: a detection (`[x1, y1, x2, y2]`) finds a face when each one's centre lies in
    /// the other's box; each face and each detection is used once.
    pub fn add(&mut self, truth: &[[f32; 4]], found: &[[f32; 4]]) {
        let centre = |b: &[f32; 4]| [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        let inside = |p: [f32; 2], b: &[f32; 4]| {
            p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
        };
        let mut used = vec![false; found.len()];
        for t in truth {
            let Some(k) = bucket(t[3] - t[1]) else {
                continue;
            };
            self.total[k] += 1;
            let hit = found
                .iter()
                .enumerate()
                .position(|(i, d)| !used[i] && inside(centre(d), t) && inside(centre(t), d));
            if let Some(i) = hit {
                used[i] = true;
                self.found[k] += 1;
            }
        }
        self.extra += used.iter().filter(|u| !**u).count();
    }

    /// Recall of the faces whose height is in `lo..hi` px.
    pub fn recall_between(&self, lo: u32, hi: u32) -> Option<f64> {
        let (mut f, mut t) = (0, 0);
        for (k, &b) in HEIGHTS.iter().enumerate() {
            if b >= lo && b < hi {
                f += self.found[k];
                t += self.total[k];
            }
        }
        (t > 0).then(|| f as f64 / t as f64)
    }

    /// One line per bucket: `  16 px   123/130  0.946`.
    pub fn table(&self) -> String {
        let mut s = String::new();
        for (k, &b) in HEIGHTS.iter().enumerate() {
            if self.total[k] > 0 {
                s += &format!(
                    "  {b:>4} px {:>6}/{:<6} {:.3}\n",
                    self.found[k],
                    self.total[k],
                    self.found[k] as f64 / self.total[k] as f64
                );
            }
        }
        s
    }
}

/// A face box as its corners (x0, y0, x1, y1), as the tallies compare them.
pub fn corners(b: &consentgate::faces::FaceBox) -> [f32; 4] {
    [b.x, b.y, b.x + b.width, b.y + b.height]
}
