//! Text detection with PaddleOCR's PP-OCRv4 mobile DB detector (Apache-2.0).
//!
//! The network takes BGR NCHW float32 normalised as `(v/255 - 0.5) / 0.5` (rapidocr's settings)
//! with sides that are multiples of 32, and returns a per-pixel text probability map of the same
//! size. Post-processing follows DB / rapidocr `DBPostProcess`: threshold 0.3, 2×2 dilation,
//! one minimum-area rectangle per region, kept when the mean probability inside it is ≥ 0.5,
//! then expanded by `area × 1.6 / perimeter` on every side ("unclip").
//!
//! The input is letterboxed into a bucket (long side 160, 320, 640, 960 or 1280; landscape 4:3,
//! portrait 3:4 or square): a thumbnail is read at 160 px for a few milliseconds, a 12 MP photo
//! at 1280×960.
//!
//! The region geometry (connected components, convex hull, rotating calipers) is written here
//! rather than taken from `imageproc`: these are three short textbook routines, and `imageproc`
//! would add nalgebra and its dependencies to every build for them.

use image::RgbImage;

use super::TextError;
use crate::infer::Model;

/// Long sides of the input buckets (multiples of 32).
const BUCKETS: [u32; 5] = [160, 320, 640, 960, super::DETECT_LONG_SIDE];
/// DB binarisation threshold on the probability map.
const THRESH: f32 = 0.3;
/// Minimum mean probability inside a region's rectangle.
const BOX_THRESH: f32 = 0.5;
/// DB's unclip ratio.
const UNCLIP: f32 = 1.6;
/// Regions whose rectangle is thinner than this (input pixels) are noise.
const MIN_SIDE: f32 = 3.0;
/// At most this many regions per photo (DB's `max_candidates`).
const MAX_CANDIDATES: usize = 1000;

pub struct Detector {
    model: Model,
    /// `[bucket][landscape, portrait, square]`.
    shapes: Vec<DetectShape>,
}

pub(crate) struct DetectShape {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

fn round32(v: u32) -> u32 {
    v.div_ceil(32).max(1) * 32
}

impl Detector {
    pub fn new(onnx: &'static [u8]) -> Result<Detector, TextError> {
        let model = Model::new("text detector", onnx)?;
        let mut shapes = Vec::new();
        for long in BUCKETS {
            let short = round32(long * 3 / 4);
            for (width, height) in [(long, short), (short, long), (short, short)] {
                shapes.push(DetectShape { width, height });
            }
        }
        Ok(Detector { model, shapes })
    }

    /// The smallest bucket holding the picture (the largest for big pictures), in the
    /// orientation that keeps the most of its pixels.
    pub(crate) fn shape_for(&self, width: u32, height: u32) -> &DetectShape {
        let long = width.max(height).min(super::DETECT_LONG_SIDE);
        let bucket = BUCKETS
            .iter()
            .position(|&b| b >= long)
            .unwrap_or(BUCKETS.len() - 1);
        let candidates = &self.shapes[bucket * 3..bucket * 3 + 3];
        let fit = |s: &DetectShape| {
            (s.width as f32 / width as f32).min(s.height as f32 / height as f32)
                * (width * height) as f32
                / (s.width * s.height) as f32
        };
        let mut best = &candidates[0];
        for s in &candidates[1..] {
            if fit(s) > fit(best) {
                best = s;
            }
        }
        best
    }

    /// Text regions in `image`: each a rotated rectangle (top-left, top-right, bottom-right,
    /// bottom-left along the text's direction) in `image`'s pixels.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<[[f32; 2]; 4]>, TextError> {
        let (w, h) = image.dimensions();
        if w < 4 || h < 4 {
            return Ok(Vec::new());
        }
        let shape = self.shape_for(w, h);
        let r = (shape.width as f32 / w as f32).min(shape.height as f32 / h as f32);
        let input = letterbox(image, shape.width, shape.height, r);
        let dims = [1, 3, shape.height as usize, shape.width as usize];
        let map = self
            .model
            .run(&dims, input)?
            .into_iter()
            .next()
            .ok_or_else(|| TextError::Inference("text detector gave no output".into()))?;
        if map.shape[..] != [1, 1, shape.height as usize, shape.width as usize] {
            return Err(TextError::Inference(format!(
                "text detector output shape {:?}",
                map.shape
            )));
        }
        // Only the picture's part of the letterbox counts.
        let cw = ((w as f32 * r).round() as usize).min(shape.width as usize);
        let ch = ((h as f32 * r).round() as usize).min(shape.height as usize);
        let stride = shape.width as usize;
        let regions = regions(&map.data, stride, cw, ch);
        Ok(regions
            .into_iter()
            .map(|q| q.map(|[x, y]| [(x / r).clamp(0.0, w as f32), (y / r).clamp(0.0, h as f32)]))
            .collect())
    }
}

/// `image` scaled by `r` (bilinear) into the top-left of a `width`×`height` canvas, as normalised
/// BGR planes; the rest of the canvas is 0 (mid-grey after normalisation).
pub(crate) fn letterbox(image: &RgbImage, width: u32, height: u32, r: f32) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let (cw, chh) = (width as usize, height as usize);
    let plane = cw * chh;
    let mut data = vec![0f32; 3 * plane];
    let tw = ((w as f32 * r).round() as usize).min(cw);
    let th = ((h as f32 * r).round() as usize).min(chh);
    let src = image.as_raw();
    let stride = w as usize * 3;
    let xs: Vec<(usize, usize, f32)> = (0..tw)
        .map(|x| {
            let sx = ((x as f32 + 0.5) / r - 0.5).clamp(0.0, (w - 1) as f32);
            let x0 = sx.floor() as usize;
            let x1 = (x0 + 1).min(w as usize - 1);
            (x0 * 3, x1 * 3, sx - x0 as f32)
        })
        .collect();
    for y in 0..th {
        let sy = ((y as f32 + 0.5) / r - 0.5).clamp(0.0, (h - 1) as f32);
        let y0 = sy.floor() as usize;
        let y1 = (y0 + 1).min(h as usize - 1);
        let fy = sy - y0 as f32;
        let row0 = &src[y0 * stride..(y0 + 1) * stride];
        let row1 = &src[y1 * stride..(y1 + 1) * stride];
        // One plane row at a time (RGB → BGR planes), (v/255 - 0.5)/0.5 as one multiply-add.
        for c in 0..3 {
            let start = (2 - c) * plane + y * cw;
            for (out, &(x0, x1, fx)) in data[start..start + tw].iter_mut().zip(&xs) {
                let (a, b) = (row0[x0 + c] as f32, row0[x1 + c] as f32);
                let top = a + (b - a) * fx;
                let (a, b) = (row1[x0 + c] as f32, row1[x1 + c] as f32);
                let bottom = a + (b - a) * fx;
                *out = (top + (bottom - top) * fy) * (2.0 / 255.0) - 1.0;
            }
        }
    }
    data
}

/// DB post-processing over the `cw`×`ch` top-left part of a probability map with row `stride`.
fn regions(prob: &[f32], stride: usize, cw: usize, ch: usize) -> Vec<[[f32; 2]; 4]> {
    // Binarise, then dilate with a 2×2 kernel (anchor at its centre: up and left).
    let on = |x: usize, y: usize| prob[y * stride + x] > THRESH;
    let mut mask = vec![false; cw * ch];
    for y in 0..ch {
        for x in 0..cw {
            mask[y * cw + x] = on(x, y)
                || (x > 0 && on(x - 1, y))
                || (y > 0 && on(x, y - 1))
                || (x > 0 && y > 0 && on(x - 1, y - 1));
        }
    }
    let mut label = vec![0u32; cw * ch];
    let mut out = Vec::new();
    let mut next = 0u32;
    let mut stack = Vec::new();
    for start in 0..cw * ch {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        // Flood fill (4-connected), keeping the region's boundary pixels for the hull.
        let mut boundary: Vec<[f32; 2]> = Vec::new();
        stack.push(start);
        label[start] = next;
        while let Some(i) = stack.pop() {
            let (x, y) = (i % cw, i / cw);
            let mut edge = false;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx < 0 || ny < 0 || nx >= cw as i64 || ny >= ch as i64 {
                    edge = true;
                    continue;
                }
                let j = ny as usize * cw + nx as usize;
                if !mask[j] {
                    edge = true;
                } else if label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            }
            if edge {
                boundary.push([x as f32, y as f32]);
            }
        }
        if out.len() >= MAX_CANDIDATES {
            break;
        }
        let hull = convex_hull(boundary);
        let Some(rect) = min_area_rect(&hull) else {
            continue;
        };
        if rect.w.min(rect.h) < MIN_SIDE {
            continue;
        }
        if mean_inside(prob, stride, cw, ch, &rect) < BOX_THRESH {
            continue;
        }
        let d = rect.w * rect.h * UNCLIP / (2.0 * (rect.w + rect.h));
        let grown = Rect {
            w: rect.w + 2.0 * d,
            h: rect.h + 2.0 * d,
            ..rect
        };
        if grown.w.min(grown.h) < MIN_SIDE + 2.0 {
            continue;
        }
        out.push(grown.corners());
    }
    out
}

/// A rotated rectangle: centre, side lengths, and the unit direction of its `w` side.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    c: [f32; 2],
    w: f32,
    h: f32,
    u: [f32; 2],
}

impl Rect {
    /// Corners with the longer side as the text direction, pointing rightwards: top-left,
    /// top-right, bottom-right, bottom-left (y grows downwards).
    fn corners(&self) -> [[f32; 2]; 4] {
        let (mut len, mut thick, mut u) = (self.w, self.h, self.u);
        if thick > len {
            std::mem::swap(&mut len, &mut thick);
            u = [-u[1], u[0]];
        }
        if u[0] < 0.0 || (u[0] == 0.0 && u[1] < 0.0) {
            u = [-u[0], -u[1]];
        }
        let v = [-u[1], u[0]]; // perpendicular, pointing down when u points right
        let (a, b) = (len / 2.0, thick / 2.0);
        let p = |s: f32, t: f32| {
            [
                self.c[0] + s * a * u[0] + t * b * v[0],
                self.c[1] + s * a * u[1] + t * b * v[1],
            ]
        };
        [p(-1.0, -1.0), p(1.0, -1.0), p(1.0, 1.0), p(-1.0, 1.0)]
    }

    fn contains(&self, p: [f32; 2]) -> bool {
        let d = [p[0] - self.c[0], p[1] - self.c[1]];
        let s = d[0] * self.u[0] + d[1] * self.u[1];
        let t = -d[0] * self.u[1] + d[1] * self.u[0];
        s.abs() <= self.w / 2.0 + 0.5 && t.abs() <= self.h / 2.0 + 0.5
    }
}

/// Mean probability over the pixels inside `rect` (DB's "fast" box score).
fn mean_inside(prob: &[f32], stride: usize, cw: usize, ch: usize, rect: &Rect) -> f32 {
    let corners = rect.corners();
    let lo = |i: usize| {
        corners
            .iter()
            .map(|p| p[i])
            .fold(f32::INFINITY, f32::min)
            .floor()
            .max(0.0) as usize
    };
    let hi = |i: usize, limit: usize| {
        (corners
            .iter()
            .map(|p| p[i])
            .fold(f32::NEG_INFINITY, f32::max)
            .ceil()
            .max(0.0) as usize)
            .min(limit.saturating_sub(1))
    };
    let (x0, x1, y0, y1) = (lo(0), hi(0, cw), lo(1), hi(1, ch));
    let (mut sum, mut n) = (0f64, 0u64);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if rect.contains([x as f32, y as f32]) {
                sum += f64::from(prob[y * stride + x]);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// Andrew's monotone chain; collinear points dropped.
fn convex_hull(mut pts: Vec<[f32; 2]>) -> Vec<[f32; 2]> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f32; 2], a: [f32; 2], b: [f32; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f32; 2]> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f32; 2]>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// The minimum-area rectangle around a convex polygon (one of its sides lies on a hull edge).
/// Points and lines (hull of < 3 points) give a rectangle of zero thickness.
fn min_area_rect(hull: &[[f32; 2]]) -> Option<Rect> {
    if hull.is_empty() {
        return None;
    }
    let n = hull.len();
    let mut best: Option<(f32, Rect)> = None;
    for i in 0..n.max(1) {
        let a = hull[i];
        let b = hull[(i + 1) % n];
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len = (dx * dx + dy * dy).sqrt();
        let u = if len > 0.0 {
            [dx / len, dy / len]
        } else {
            [1.0, 0.0]
        };
        let (mut s0, mut s1, mut t0, mut t1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in hull {
            let s = p[0] * u[0] + p[1] * u[1];
            let t = -p[0] * u[1] + p[1] * u[0];
            s0 = s0.min(s);
            s1 = s1.max(s);
            t0 = t0.min(t);
            t1 = t1.max(t);
        }
        let area = (s1 - s0) * (t1 - t0);
        if best.is_none_or(|(ba, _)| area < ba) {
            let (sc, tc) = ((s0 + s1) / 2.0, (t0 + t1) / 2.0);
            let c = [sc * u[0] - tc * u[1], sc * u[1] + tc * u[0]];
            best = Some((
                area,
                Rect {
                    c,
                    w: s1 - s0,
                    h: t1 - t0,
                    u,
                },
            ));
        }
    }
    best.map(|(_, r)| r)
}

/// Length along the text and thickness of a quad from [`Detector::detect`].
pub fn quad_sides(q: &[[f32; 2]; 4]) -> (f32, f32) {
    let d = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
    (d(q[0], q[1]), d(q[0], q[3]))
}

/// `[x, y, width, height]` around a quad, clipped to a `w`×`h` picture.
pub fn bounding_box(q: &[[f32; 2]; 4], w: f32, h: f32) -> [f32; 4] {
    let xs = q.iter().map(|p| p[0].clamp(0.0, w));
    let ys = q.iter().map(|p| p[1].clamp(0.0, h));
    let (x0, x1) = xs.fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (y0, y1) = ys.fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    [x0, y0, (x1 - x0).max(0.0), (y1 - y0).max(0.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilted_bar_becomes_one_rectangle_along_it() {
        // A 60×8 bar rotated by ~10° on a 100×60 map.
        let (w, h) = (100usize, 60usize);
        let a = 10f32.to_radians();
        let mut prob = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - 50.0, y as f32 - 30.0);
                let s = dx * a.cos() + dy * a.sin();
                let t = -dx * a.sin() + dy * a.cos();
                if s.abs() <= 30.0 && t.abs() <= 4.0 {
                    prob[y * w + x] = 0.9;
                }
            }
        }
        let r = regions(&prob, w, w, h);
        assert_eq!(r.len(), 1, "{r:?}");
        let q = r[0];
        let (len, thick) = quad_sides(&q);
        // Unclipped: grown by area*1.6/perimeter ≈ 5.6 on each side.
        assert!(
            (len - 72.0).abs() < 4.0 && (thick - 20.0).abs() < 4.0,
            "{len} {thick}"
        );
        let angle = (q[1][1] - q[0][1]).atan2(q[1][0] - q[0][0]).to_degrees();
        assert!((angle - 10.0).abs() < 2.0, "{angle}");
        assert!(
            q[0][0] < q[1][0] && q[0][1] < q[3][1],
            "top-left first: {q:?}"
        );
    }

    #[test]
    fn faint_and_tiny_regions_are_dropped() {
        let (w, h) = (40usize, 40usize);
        let mut prob = vec![0f32; w * h];
        prob[5 * w + 5] = 0.9; // one pixel
        for y in 20..30 {
            for x in 5..35 {
                prob[y * w + x] = 0.35; // over THRESH, under BOX_THRESH
            }
        }
        assert!(regions(&prob, w, w, h).is_empty());
    }

    #[test]
    fn hull_and_rectangle_of_an_axis_aligned_block() {
        let pts = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 4.0], [0.0, 4.0], [5.0, 2.0]];
        let hull = convex_hull(pts);
        assert_eq!(hull.len(), 4);
        let r = min_area_rect(&hull).unwrap();
        assert!((r.w * r.h - 40.0).abs() < 1e-3);
        assert_eq!(
            bounding_box(&r.corners(), 100.0, 100.0),
            [0.0, 0.0, 10.0, 4.0]
        );
    }
}
