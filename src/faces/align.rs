//! Aligning a face to the 150×150 chip dlib's ResNet face recogniser expects.
//!
//! dlib crops with `get_face_chip_details(shape, 150, 0.25)`: a similarity transform (rotation,
//! uniform scale, translation) that maps landmarks onto dlib's mean face shape, padded by 25% of
//! the face size on every side. dlib fits its own 5-point landmarks (eye corners and nose base);
//! CenterFace gives eye centres, nose tip and mouth corners, so the template below takes those
//! five points from the same dlib mean face (`mean_face_shape_x/y` in dlib's
//! `image_transforms/interpolation.h`, the 68-point iBUG layout in a unit square):
//!
//! | point          | iBUG points | x        | y        |
//! |----------------|-------------|----------|----------|
//! | left eye (img) | mean 36–41  | 0.225492 | 0.215990 |
//! | right eye      | mean 42–47  | 0.754761 | 0.215990 |
//! | nose tip       | 30          | 0.490127 | 0.515625 |
//! | mouth left     | 48          | 0.254149 | 0.780233 |
//! | mouth right    | 54          | 0.726104 | 0.780233 |
//!
//! and pads it like dlib: `p' = (p + padding) / (1 + 2·padding) · size`. The transform is the
//! least-squares similarity from the template to the landmarks; each chip pixel is sampled from the
//! picture with bilinear interpolation, averaging 2×2 samples when the picture has more than one
//! pixel per chip pixel (little aliasing when the face is large). Outside the picture is black, as in
//! dlib's `extract_image_chip`.

use image::RgbImage;

/// Side of the chip the recogniser takes.
pub const CHIP_SIZE: u32 = 150;
/// dlib's padding for the ResNet recogniser.
pub const CHIP_PADDING: f32 = 0.25;

const MEAN_FACE: [[f32; 2]; 5] = [
    [0.225492, 0.215990],
    [0.754761, 0.215990],
    [0.490127, 0.515625],
    [0.254149, 0.780233],
    [0.726104, 0.780233],
];

/// The five template points in chip pixels.
pub fn template(size: u32, padding: f32) -> [[f32; 2]; 5] {
    MEAN_FACE.map(|[x, y]| {
        let s = size as f32 / (1.0 + 2.0 * padding);
        [(x + padding) * s, (y + padding) * s]
    })
}

/// A similarity transform `q = [a −b; b a]·p + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares similarity taking `from[i]` to `to[i]` (closed form, no reflection).
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<Similarity> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |pts: &[[f32; 2]]| {
            let (sx, sy) = pts[..n]
                .iter()
                .fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
            [sx / n as f32, sy / n as f32]
        };
        let (mp, mq) = (mean(from), mean(to));
        let (mut num_a, mut num_b, mut den) = (0.0f32, 0.0f32, 0.0f32);
        for (p, q) in from[..n].iter().zip(&to[..n]) {
            let (px, py) = (p[0] - mp[0], p[1] - mp[1]);
            let (qx, qy) = (q[0] - mq[0], q[1] - mq[1]);
            num_a += px * qx + py * qy;
            num_b += px * qy - py * qx;
            den += px * px + py * py;
        }
        if den <= f32::EPSILON || !num_a.is_finite() || !num_b.is_finite() {
            return None;
        }
        let (a, b) = (num_a / den, num_b / den);
        let tx = mq[0] - (a * mp[0] - b * mp[1]);
        let ty = mq[1] - (b * mp[0] + a * mp[1]);
        Some(Similarity { a, b, tx, ty })
    }

    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [
            self.a * p[0] - self.b * p[1] + self.tx,
            self.b * p[0] + self.a * p[1] + self.ty,
        ]
    }

    /// Scale factor (length ratio).
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }
}

/// The aligned `CHIP_SIZE`² chip for a face with `landmarks` (in `image` pixels).
/// `None` when the landmarks are degenerate.
pub fn chip(image: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<RgbImage> {
    let tpl = template(CHIP_SIZE, CHIP_PADDING);
    let t = Similarity::fit(&tpl, landmarks)?;
    // Collapsed landmarks (all on one point) or absurd ones fit a useless transform.
    if !(t.scale() > 1e-3 && t.scale() < 1e4 && t.tx.is_finite() && t.ty.is_finite()) {
        return None;
    }
    Some(sample(image, &t, CHIP_SIZE))
}

/// Sample a `size`² chip whose pixel (u, v) shows `image` at `t(u, v)`.
pub fn sample(image: &RgbImage, t: &Similarity, size: u32) -> RgbImage {
    // k×k bilinear samples per chip pixel when the picture is larger than the chip. Capped at 2:
    // each bilinear sample already spans two pixels, so 2×2 of them cover a footprint of up to
    // ~3.5 picture pixels; larger faces alias slightly, which the recogniser does not mind, and
    // the cost stays at 4 samples per chip pixel (~2 ms a face).
    let k = (t.scale().ceil() as u32).clamp(1, 2) as usize;
    let step = 1.0 / k as f32;
    let norm = 1.0 / (k * k) as f32;
    let (w, h) = (image.width() as i64, image.height() as i64);
    let raw = image.as_raw();
    let px = |xi: i64, yi: i64| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            [0.0; 3]
        } else {
            let i = (yi * w + xi) as usize * 3;
            [raw[i] as f32, raw[i + 1] as f32, raw[i + 2] as f32]
        }
    };
    let mut out = vec![0u8; (size * size * 3) as usize];
    for v in 0..size as usize {
        for u in 0..size as usize {
            let mut acc = [0f32; 3];
            for j in 0..k {
                for i in 0..k {
                    // Sample points spread over the chip pixel; pixel centres sit at +0.5.
                    let p = t.apply([
                        u as f32 + (i as f32 + 0.5) * step,
                        v as f32 + (j as f32 + 0.5) * step,
                    ]);
                    let (x, y) = (p[0] - 0.5, p[1] - 0.5);
                    if !(x.is_finite() && y.is_finite()) {
                        continue;
                    }
                    let (x0, y0) = (floor(x), floor(y));
                    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
                    if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                        // All four taps inside: index directly.
                        let i = (y0 * w + x0) as usize * 3;
                        let j = i + w as usize * 3;
                        for c in 0..3 {
                            let (a, b) = (raw[i + c] as f32, raw[i + 3 + c] as f32);
                            let (d, e) = (raw[j + c] as f32, raw[j + 3 + c] as f32);
                            let top = a + (b - a) * fx;
                            let bottom = d + (e - d) * fx;
                            acc[c] += top + (bottom - top) * fy;
                        }
                        continue;
                    }
                    let (p00, p10) = (px(x0, y0), px(x0 + 1, y0));
                    let (p01, p11) = (px(x0, y0 + 1), px(x0 + 1, y0 + 1));
                    for c in 0..3 {
                        let top = p00[c] + (p10[c] - p00[c]) * fx;
                        let bottom = p01[c] + (p11[c] - p01[c]) * fx;
                        acc[c] += top + (bottom - top) * fy;
                    }
                }
            }
            let o = (v * size as usize + u) * 3;
            for c in 0..3 {
                out[o + c] = (acc[c] * norm + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    RgbImage::from_raw(size, size, out).unwrap_or_else(|| RgbImage::new(size, size))
}

/// `x.floor()` without a libm call (baseline x86-64 has no SSE4.1 `roundss`); saturates.
#[inline]
fn floor(x: f32) -> i64 {
    let t = x as i64;
    if (t as f32) > x {
        t - 1
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_similarity() {
        let t = Similarity {
            a: 1.5,
            b: 0.4,
            tx: 12.0,
            ty: -3.0,
        };
        let from = template(150, 0.25);
        let to = from.map(|p| t.apply(p));
        let got = Similarity::fit(&from, &to).unwrap();
        assert!((got.a - t.a).abs() < 1e-4 && (got.b - t.b).abs() < 1e-4);
        assert!((got.tx - t.tx).abs() < 1e-2 && (got.ty - t.ty).abs() < 1e-2);
    }

    #[test]
    fn degenerate_landmarks_give_no_chip() {
        let img = RgbImage::new(10, 10);
        assert!(chip(&img, &[[3.0, 3.0]; 5]).is_none());
        assert!(chip(&img, &[[f32::NAN, 3.0]; 5]).is_none());
    }

    #[test]
    fn template_eyes_are_level_and_centred() {
        let t = template(150, 0.25);
        assert_eq!(t[0][1], t[1][1]);
        assert!(((t[0][0] + t[1][0]) / 2.0 - 75.0).abs() < 1.0);
    }
}
