//! Face detection with CenterFace (MIT; WIDER FACE val AP 0.935 / 0.924 / 0.875).
//!
//! The network takes RGB NCHW float32 in 0–255 and returns, at 1/4 of the input resolution, a face
//! centre heatmap, log box sizes, centre offsets and five landmarks relative to the box. Decoding
//! and non-maximum suppression follow deface's `centerface.py`. The coarse pass letterboxes each
//! picture into one of three shapes (landscape, portrait, square), the one that wastes the fewest
//! pixels.

use image::RgbImage;

use super::FaceError;
use crate::infer::{Model, Output};

/// A face as the detector sees it, in the coordinates of the image passed to [`Detector::detect`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Detection {
    /// x1, y1, x2, y2.
    pub rect: [f32; 4],
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

pub(crate) struct Detector {
    model: Model,
    shapes: Vec<DetectShape>,
    threshold: f32,
}

pub(crate) struct DetectShape {
    pub width: u32,
    pub height: u32,
}

/// Round up to a multiple of 32 (the network downsamples five times).
fn round32(v: u32) -> u32 {
    v.div_ceil(32).max(1) * 32
}

impl Detector {
    /// Load the ONNX model; the coarse pass's shapes fit `long_side` (landscape 4:3, portrait
    /// 3:4, square).
    pub fn new(onnx: &'static [u8], long_side: u32, threshold: f32) -> Result<Detector, FaceError> {
        let model = Model::new("CenterFace", onnx)?;
        let long = round32(long_side);
        let short = round32(long_side * 3 / 4);
        let shape = |width, height| DetectShape { width, height };
        Ok(Detector {
            model,
            shapes: vec![shape(long, short), shape(short, long), shape(short, short)],
            threshold,
        })
    }

    /// The shape that keeps the most of the picture's pixels when letterboxed.
    fn shape_for(&self, width: u32, height: u32) -> &DetectShape {
        let fit = |s: &DetectShape| {
            (s.width as f32 / width as f32).min(s.height as f32 / height as f32)
                * (width * height) as f32
                / (s.width * s.height) as f32
        };
        let mut best = &self.shapes[0];
        for s in &self.shapes[1..] {
            if fit(s) > fit(best) {
                best = s;
            }
        }
        best
    }

    /// Coarse pass: `image` letterboxed whole into the best-fitting shape. Faces in `image`'s
    /// pixel coordinates, and whether a fine pass is advisable: some face is close to the
    /// detector's size limit at this scale, strong or only scoring over `WEAK_THRESHOLD`.
    pub fn detect(&self, image: &RgbImage) -> Result<(Vec<Detection>, bool), FaceError> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Ok((Vec::new(), false));
        }
        let shape = self.shape_for(w, h);
        let r = (shape.width as f32 / w as f32).min(shape.height as f32 / h as f32);
        let all = self.run_tile(image, shape, r, [0, 0], self.threshold.min(WEAK_THRESHOLD))?;
        // Faces, or weak candidates (crowds of small faces show up like that), small enough that
        // twice the resolution helps. Larger doubtful candidates do not call for it: at twice the
        // resolution they are no clearer to the detector, and on the people bench one such shape
        // (42 px, score 0.21, in a group photo) made the fine pass, ~4× the coarse cost, run on
        // photos without a single small face.
        let fine = all
            .iter()
            .any(|d| (d.rect[3] - d.rect[1]) * r < FINE_TRIGGER_FACE_PX);
        let strong = all
            .into_iter()
            .filter(|d| d.score > self.threshold)
            .collect();
        Ok((strong, fine))
    }

    /// Fine pass: `image` scaled to about twice the coarse pass's size and covered by 2×2
    /// overlapping tiles of the same shape. Faces cut by an inner tile edge are dropped (they lie
    /// whole in the neighbouring tile if they are smaller than the overlap, and larger ones are
    /// the coarse pass's). Faces in `image`'s pixel coordinates.
    pub fn detect_tiled(&self, image: &RgbImage) -> Result<Vec<Detection>, FaceError> {
        let (w, h) = image.dimensions();
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let shape = self.shape_for(w, h);
        let (pw, ph) = (shape.width as f32, shape.height as f32);
        let r = ((2.0 * pw - TILE_OVERLAP) / w as f32).min((2.0 * ph - TILE_OVERLAP) / h as f32);
        let (cw, ch) = (w as f32 * r, h as f32 * r);
        let origins = |content: f32, tile: f32| -> Vec<u32> {
            let last = (content - tile).ceil().max(0.0) as u32;
            if last == 0 {
                vec![0]
            } else {
                vec![0, last]
            }
        };
        let (xs, ys) = (origins(cw, pw), origins(ch, ph));
        // Each tile owns the faces whose centre lies on its side of the middle of the overlap.
        let split = |o: &[u32], tile: f32| o.get(1).map(|&last| (last as f32 + tile) / 2.0);
        let (split_x, split_y) = (split(&xs, pw), split(&ys, ph));
        let mut out = Vec::new();
        for &y0 in &ys {
            for &x0 in &xs {
                let dets = self.run_tile(image, shape, r, [x0, y0], self.threshold)?;
                let (x0f, y0f) = (x0 as f32, y0 as f32);
                let inner_left = x0 > 0;
                let inner_top = y0 > 0;
                let inner_right = x0f + pw < cw - 1.0;
                let inner_bottom = y0f + ph < ch - 1.0;
                for d in dets {
                    // `run_tile` returns image coordinates; judge in scaled (tile grid) pixels.
                    let [x1, y1, x2, y2] = d.rect.map(|v| v * r);
                    let cut = (inner_left && x1 - x0f <= SEAM_MARGIN)
                        || (inner_top && y1 - y0f <= SEAM_MARGIN)
                        || (inner_right && x2 - x0f >= pw - SEAM_MARGIN)
                        || (inner_bottom && y2 - y0f >= ph - SEAM_MARGIN);
                    let owns = |centre: f32, origin: u32, split: Option<f32>| match split {
                        None => true,
                        Some(m) if origin == 0 => centre < m,
                        Some(m) => centre >= m,
                    };
                    let mine =
                        owns((x1 + x2) / 2.0, x0, split_x) && owns((y1 + y2) / 2.0, y0, split_y);
                    if !cut && mine {
                        out.push(d);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A detector that runs on one window of a scaled picture (CenterFace here, RetinaFace in
/// `retina.rs`), so the close look's grid works with either. Each says how its input differs
/// from 0–255 RGB planes and how to read its outputs; [`Tiles::run_tile`] does the rest.
pub(crate) trait Tiles {
    fn model(&self) -> &Model;

    /// Turn the window's NCHW 0–255 RGB planes (`plane` values each) into the model's input.
    fn prepare(&self, _input: &mut [f32], _plane: usize) {}

    /// Detections above `threshold` in window pixels, NMS applied; `content` is the width and
    /// height of the picture inside the `shape`-sized window.
    fn decode_window(
        &self,
        outputs: &[Output],
        shape: &DetectShape,
        threshold: f32,
        content: [f32; 2],
    ) -> Result<Vec<Detection>, FaceError>;

    /// Run one input: `image` scaled by `r`, the `shape`-sized window at `origin` (in scaled
    /// pixels; black beyond the picture). Detections above `threshold`, NMS applied, in `image`'s
    /// pixel coordinates.
    fn run_tile(
        &self,
        image: &RgbImage,
        shape: &DetectShape,
        r: f32,
        origin: [u32; 2],
        threshold: f32,
    ) -> Result<Vec<Detection>, FaceError> {
        let mut input = letterbox(image, shape.width, shape.height, r, origin);
        self.prepare(&mut input, (shape.width * shape.height) as usize);
        let dims = [1, 3, shape.height as usize, shape.width as usize];
        let outputs = self.model().run(&dims, input)?;
        let (w, h) = image.dimensions();
        let content = [
            (w as f32 * r - origin[0] as f32).clamp(0.0, shape.width as f32),
            (h as f32 * r - origin[1] as f32).clamp(0.0, shape.height as f32),
        ];
        let mut dets = self.decode_window(&outputs, shape, threshold, content)?;
        to_image(&mut dets, r, origin);
        Ok(dets)
    }
}

impl Tiles for Detector {
    fn model(&self) -> &Model {
        &self.model
    }

    fn decode_window(
        &self,
        outputs: &[Output],
        _shape: &DetectShape,
        threshold: f32,
        content: [f32; 2],
    ) -> Result<Vec<Detection>, FaceError> {
        decode(outputs, threshold, content)
    }
}

/// Window coordinates → `image` coordinates.
fn to_image(dets: &mut [Detection], r: f32, origin: [u32; 2]) {
    let (ox, oy) = (origin[0] as f32, origin[1] as f32);
    for d in dets {
        d.rect = [
            (d.rect[0] + ox) / r,
            (d.rect[1] + oy) / r,
            (d.rect[2] + ox) / r,
            (d.rect[3] + oy) / r,
        ];
        for p in &mut d.landmarks {
            *p = [(p[0] + ox) / r, (p[1] + oy) / r];
        }
    }
}

/// The close look: `image` scaled by `r` and covered by a grid of overlapping tiles (see
/// [`Grid`]); `wanted[tile]` says which tiles to run (all, or where a cue saw something).
/// Each face is reported by the tile that owns its centre, unless it touches an inner tile
/// edge there (cut: it is larger than the overlap, and the coarse pass's). Faces scoring over
/// `threshold`, in `image`'s pixel coordinates, and the pixels run.
pub(crate) fn detect_grid(
    detector: &impl Tiles,
    image: &RgbImage,
    grid: &Grid,
    threshold: f32,
    wanted: &[bool],
) -> Result<(Vec<Detection>, u64), FaceError> {
    let shape = DetectShape {
        width: grid.tile[0],
        height: grid.tile[1],
    };
    let mut out = Vec::new();
    let mut pixels = 0;
    for (k, (x0, y0)) in grid.origins().enumerate() {
        if !wanted.get(k).copied().unwrap_or(false) {
            continue;
        }
        let dets = detector.run_tile(image, &shape, grid.r, [x0, y0], threshold)?;
        pixels += u64::from(shape.width) * u64::from(shape.height);
        let window = Window::new(grid, [x0, y0], [shape.width, shape.height]);
        let tile = window.rect;
        out.extend(
            dets.into_iter()
                .filter(|d| window.holds(d, grid.r, &tile) && grid.owner(centre(d, grid.r)) == k),
        );
    }
    Ok((out, pixels))
}

/// The close look around a cue's candidates: each of `parts` (rectangles of `image` scaled by
/// `r`, none overlapping another, each under [`GRID_MAX_TILE`] with its context) runs as one
/// window with [`PART_CONTEXT`] pixels of the picture around it, and only faces centred in the
/// part, not cut at the window's edge and no taller than [`GRID_OVERLAP`] count: the network's
/// zero padding at a window's edge makes false faces and cut-off chins there, and a larger face
/// is the coarse pass's. Faces in `image`'s pixels, and the pixels run.
pub(crate) fn detect_parts(
    detector: &impl Tiles,
    image: &RgbImage,
    r: f32,
    parts: &[[f32; 4]],
    threshold: f32,
) -> Result<(Vec<Detection>, u64), FaceError> {
    let content = [image.width() as f32 * r, image.height() as f32 * r];
    let mut out = Vec::new();
    let mut pixels = 0;
    for part in parts {
        let run = with_context(part, content);
        // The window's sides, a multiple of 32, inside the picture where it can be.
        let span = |lo: f32, hi: f32, len: f32| -> (u32, u32) {
            let lo = lo.floor().max(0.0) as u32;
            let want = round32((hi.ceil() as u32).saturating_sub(lo).max(1));
            (
                lo.min(round32(len.ceil() as u32).saturating_sub(want)),
                want,
            )
        };
        let (px, pw) = span(run[0], run[2], content[0]);
        let (py, ph) = span(run[1], run[3], content[1]);
        let shape = DetectShape {
            width: pw,
            height: ph,
        };
        let dets = detector.run_tile(image, &shape, r, [px, py], threshold)?;
        pixels += u64::from(pw) * u64::from(ph);
        let window = Window {
            rect: [px as f32, py as f32, (px + pw) as f32, (py + ph) as f32],
            content,
        };
        out.extend(dets.into_iter().filter(|d| {
            let [_, y1, _, y2] = d.rect.map(|v| v * r);
            window.holds(d, r, part) && y2 - y1 <= GRID_OVERLAP as f32
        }));
    }
    Ok((out, pixels))
}

/// What [`detect_around`] found and ran.
pub(crate) struct Around {
    /// Faces in `image`'s pixels.
    pub found: Vec<Detection>,
    /// Pixels run, at the grid's scale.
    pub pixels: u64,
    /// Whole tiles run.
    pub tiles: usize,
}

/// `detector` at `grid.r` around candidates: each `(square, near)` pair (scaled pixels) is the
/// square to look in and the candidate's own neighbourhood. Overlapping squares merge into
/// parts run as windows ([`detect_parts`]); a part too large for one window (a crowd, or
/// candidates strewn over the picture) runs instead as the tiles near each of its candidates,
/// together with the tiles already `wanted`.
pub(crate) fn detect_around(
    detector: &impl Tiles,
    image: &RgbImage,
    grid: &Grid,
    squares: &[([f32; 4], [f32; 4])],
    mut wanted: Vec<bool>,
    threshold: f32,
) -> Result<Around, FaceError> {
    let mut parts = Vec::new();
    for part in merge_overlapping(squares.iter().map(|s| s.0)) {
        let run = with_context(&part, grid.content);
        let max = GRID_MAX_TILE as f32;
        if run[2] - run[0] <= max && run[3] - run[1] <= max {
            parts.push(part);
            continue;
        }
        let inside =
            |s: &[f32; 4]| s[0] >= part[0] && s[1] >= part[1] && s[2] <= part[2] && s[3] <= part[3];
        for (_, near) in squares.iter().filter(|s| inside(&s.0)) {
            grid.tiles_touching(near)
                .into_iter()
                .for_each(|k| wanted[k] = true);
        }
    }
    let (mut found, pixels) = detect_grid(detector, image, grid, threshold, &wanted)?;
    let (in_parts, part_pixels) = detect_parts(detector, image, grid.r, &parts, threshold)?;
    found.extend(in_parts);
    Ok(Around {
        found,
        pixels: pixels + part_pixels,
        tiles: wanted.iter().filter(|&&w| w).count(),
    })
}

/// `part` widened by [`PART_CONTEXT`] on each side, inside the picture (`content`).
pub(crate) fn with_context(part: &[f32; 4], content: [f32; 2]) -> [f32; 4] {
    [
        (part[0] - PART_CONTEXT).max(0.0),
        (part[1] - PART_CONTEXT).max(0.0),
        (part[2] + PART_CONTEXT).min(content[0]),
        (part[3] + PART_CONTEXT).min(content[1]),
    ]
}

/// Picture around a part that the close look also runs over (see [`detect_parts`]).
pub(crate) const PART_CONTEXT: f32 = 64.0;

/// One window run at scale `r`, in scaled pixels, and the scaled picture's size.
struct Window {
    rect: [f32; 4],
    content: [f32; 2],
}

impl Window {
    fn new(grid: &Grid, origin: [u32; 2], shape: [u32; 2]) -> Window {
        let (x, y) = (origin[0] as f32, origin[1] as f32);
        Window {
            rect: [x, y, x + shape[0] as f32, y + shape[1] as f32],
            content: grid.content,
        }
    }

    /// Whether detection `d` (in picture pixels) counts: centred in `core` and not touching an
    /// edge of the window inside the picture (cut off there).
    fn holds(&self, d: &Detection, r: f32, core: &[f32; 4]) -> bool {
        let [x1, y1, x2, y2] = d.rect.map(|v| v * r);
        let w = &self.rect;
        let cut = (w[0] > 0.0 && x1 - w[0] <= SEAM_MARGIN)
            || (w[1] > 0.0 && y1 - w[1] <= SEAM_MARGIN)
            || (w[2] < self.content[0] - 1.0 && x2 >= w[2] - SEAM_MARGIN)
            || (w[3] < self.content[1] - 1.0 && y2 >= w[3] - SEAM_MARGIN);
        let c = [(x1 + x2) / 2.0, (y1 + y2) / 2.0];
        !cut && c[0] >= core[0] && c[0] <= core[2] && c[1] >= core[1] && c[1] <= core[3]
    }
}

fn centre(d: &Detection, r: f32) -> [f32; 2] {
    [
        (d.rect[0] + d.rect[2]) * r / 2.0,
        (d.rect[1] + d.rect[3]) * r / 2.0,
    ]
}

/// Squares merged into the rectangles that hold them: each rectangle grows to hold every
/// square it overlaps, until no two overlap.
pub(crate) fn merge_overlapping(squares: impl IntoIterator<Item = [f32; 4]>) -> Vec<[f32; 4]> {
    let overlap =
        |a: &[f32; 4], b: &[f32; 4]| a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
    let mut parts: Vec<[f32; 4]> = Vec::new();
    for square in squares {
        let mut part = square;
        loop {
            let before = parts.len();
            parts.retain(|q| {
                let merge = overlap(q, &part);
                if merge {
                    part = [
                        part[0].min(q[0]),
                        part[1].min(q[1]),
                        part[2].max(q[2]),
                        part[3].max(q[3]),
                    ];
                }
                !merge
            });
            if parts.len() == before {
                break;
            }
        }
        parts.push(part);
    }
    parts
}

/// A grid of overlapping detector tiles over a picture scaled by `r`: as few tiles as keep each
/// under [`GRID_MAX_TILE`] with at least [`GRID_OVERLAP`] between neighbours, all one shape
/// (one plan), so a 4032×3024 photo at native size is 4×3 tiles of 1120×1120.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grid {
    pub r: f32,
    /// The scaled picture's width and height.
    pub content: [f32; 2],
    pub tile: [u32; 2],
    /// Tiles across and down.
    pub count: [u32; 2],
}

/// Largest close-look tile side, detector pixels (memory and plan size stay modest).
pub(crate) const GRID_MAX_TILE: u32 = 1344;
/// Least overlap of neighbouring close-look tiles: every face up to this size lies whole in the
/// tile that owns its centre.
pub(crate) const GRID_OVERLAP: u32 = 128;

impl Grid {
    pub fn new(width: u32, height: u32, r: f32) -> Grid {
        let content = [width as f32 * r, height as f32 * r];
        let axis = |len: f32| -> (u32, u32) {
            let len = len.ceil().max(1.0) as u32;
            if len <= GRID_MAX_TILE {
                return (1, round32(len));
            }
            let n = (len - GRID_OVERLAP).div_ceil(GRID_MAX_TILE - GRID_OVERLAP);
            (n, round32((len + (n - 1) * GRID_OVERLAP).div_ceil(n)))
        };
        let (nx, tw) = axis(content[0]);
        let (ny, th) = axis(content[1]);
        Grid {
            r,
            content,
            tile: [tw, th],
            count: [nx, ny],
        }
    }

    fn origin(&self, axis: usize, i: u32) -> u32 {
        let n = self.count[axis];
        let span = (self.content[axis] - self.tile[axis] as f32).max(0.0);
        if n <= 1 {
            0
        } else {
            (span * i as f32 / (n - 1) as f32).round() as u32
        }
    }

    /// Tile origins (scaled pixels), row by row; tile k is the k-th.
    pub fn origins(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.count[1]).flat_map(move |j| {
            (0..self.count[0]).map(move |i| (self.origin(0, i), self.origin(1, j)))
        })
    }

    /// Number of tiles.
    pub fn len(&self) -> usize {
        (self.count[0] * self.count[1]) as usize
    }

    /// The tile owning a point (scaled pixels): neighbours split their overlap in the middle.
    pub fn owner(&self, p: [f32; 2]) -> usize {
        let index = |axis: usize| -> u32 {
            let n = self.count[axis];
            let t = self.tile[axis] as f32;
            (0..n.saturating_sub(1))
                .take_while(|&i| {
                    let split =
                        (self.origin(axis, i + 1) as f32 + self.origin(axis, i) as f32 + t) / 2.0;
                    p[axis] >= split
                })
                .count() as u32
        };
        (index(1) * self.count[0] + index(0)) as usize
    }

    /// Every tile.
    pub fn whole(&self) -> Vec<bool> {
        vec![true; self.len()]
    }

    /// Tiles (indices) that `rect` (scaled pixels) overlaps.
    pub fn tiles_touching(&self, rect: &[f32; 4]) -> Vec<usize> {
        let (tw, th) = (self.tile[0] as f32, self.tile[1] as f32);
        self.origins()
            .enumerate()
            .filter(|(_, (x0, y0))| {
                let (x0, y0) = (*x0 as f32, *y0 as f32);
                rect[0] <= x0 + tw && x0 <= rect[2] && rect[1] <= y0 + th && y0 <= rect[3]
            })
            .map(|(k, _)| k)
            .collect()
    }
}

/// Candidates scoring above this (but under the threshold) count for the fine-pass trigger.
const WEAK_THRESHOLD: f32 = 0.2;
/// A face or weak candidate shorter than this (detector input pixels) in the coarse pass calls for
/// a fine pass.
const FINE_TRIGGER_FACE_PX: f32 = 24.0;
/// Overlap of neighbouring fine-pass tiles, detector input pixels.
const TILE_OVERLAP: f32 = 64.0;
/// Detections this close to an inner tile edge are treated as cut.
const SEAM_MARGIN: f32 = 2.0;

/// The `width`×`height` window at `origin` of `image` resized by `r` (bilinear), black beyond the
/// picture, as NCHW float planes of 0–255 RGB values.
pub(crate) fn letterbox(
    image: &RgbImage,
    width: u32,
    height: u32,
    r: f32,
    origin: [u32; 2],
) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let (cw, ch) = (width as usize, height as usize);
    let plane = cw * ch;
    let mut data = vec![0f32; 3 * plane];
    let (ox, oy) = (origin[0] as usize, origin[1] as usize);
    let tw = ((w as f32 * r).round() as usize).saturating_sub(ox).min(cw);
    let th = ((h as f32 * r).round() as usize).saturating_sub(oy).min(ch);
    let src = image.as_raw();
    let stride = w as usize * 3;
    // Precompute horizontal taps.
    let xs: Vec<(usize, usize, f32)> = (0..tw)
        .map(|x| {
            let sx = (((x + ox) as f32 + 0.5) / r - 0.5).clamp(0.0, (w - 1) as f32);
            let x0 = sx.floor() as usize;
            let x1 = (x0 + 1).min(w as usize - 1);
            (x0 * 3, x1 * 3, sx - x0 as f32)
        })
        .collect();
    for y in 0..th {
        let sy = (((y + oy) as f32 + 0.5) / r - 0.5).clamp(0.0, (h - 1) as f32);
        let y0 = sy.floor() as usize;
        let y1 = (y0 + 1).min(h as usize - 1);
        let fy = sy - y0 as f32;
        let row0 = &src[y0 * stride..(y0 + 1) * stride];
        let row1 = &src[y1 * stride..(y1 + 1) * stride];
        let out = y * cw;
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let top = row0[x0 + c] as f32 * (1.0 - fx) + row0[x1 + c] as f32 * fx;
                let bottom = row1[x0 + c] as f32 * (1.0 - fx) + row1[x1 + c] as f32 * fx;
                data[c * plane + out + x] = top + (bottom - top) * fy;
            }
        }
    }
    data
}

/// Decode CenterFace outputs (heatmap, scale, offset, landmarks) like deface, then NMS at IoU 0.3.
/// `content` is the width and height of the picture inside the letterboxed input.
fn decode(
    outputs: &[Output],
    threshold: f32,
    content: [f32; 2],
) -> Result<Vec<Detection>, FaceError> {
    let bad = |what: &str| FaceError::Inference(format!("CenterFace output: {what}"));
    if outputs.len() != 4 {
        return Err(bad("expected four outputs"));
    }
    let (gh, gw) = match outputs[0].shape[..] {
        [1, 1, gh, gw] => (gh, gw),
        _ => return Err(bad("unexpected shape")),
    };
    let view = |i: usize, channels: usize| {
        let o = &outputs[i];
        if o.shape[..] != [1, channels, gh, gw] || o.data.len() != channels * gh * gw {
            return Err(bad("unexpected shape"));
        }
        Ok(Planes {
            data: &o.data,
            plane: gh * gw,
            width: gw,
        })
    };
    let heat = view(0, 1)?;
    let scale = view(1, 2)?;
    let offset = view(2, 2)?;
    let lms = view(3, 10)?;
    let mut dets = Vec::new();
    for r in 0..gh {
        for c in 0..gw {
            let s = heat.at(0, r, c);
            if s.is_nan() || s <= threshold {
                continue;
            }
            let s0 = scale.at(0, r, c).exp() * 4.0;
            let s1 = scale.at(1, r, c).exp() * 4.0;
            let (o0, o1) = (offset.at(0, r, c), offset.at(1, r, c));
            let x1 = ((c as f32 + o1 + 0.5) * 4.0 - s1 / 2.0)
                .max(0.0)
                .min(content[0]);
            let y1 = ((r as f32 + o0 + 0.5) * 4.0 - s0 / 2.0)
                .max(0.0)
                .min(content[1]);
            let x2 = (x1 + s1).min(content[0]);
            let y2 = (y1 + s0).min(content[1]);
            if !(x2 > x1 && y2 > y1) {
                continue;
            }
            let mut landmarks = [[0f32; 2]; 5];
            for (j, p) in landmarks.iter_mut().enumerate() {
                p[0] = lms.at(j * 2 + 1, r, c) * s1 + x1;
                p[1] = lms.at(j * 2, r, c) * s0 + y1;
            }
            dets.push(Detection {
                rect: [x1, y1, x2, y2],
                score: s,
                landmarks,
            });
        }
    }
    Ok(nms(dets, super::NMS_IOU))
}

/// One output's channels (batch of one), indexed by channel, row and column.
struct Planes<'a> {
    data: &'a [f32],
    plane: usize,
    width: usize,
}

impl Planes<'_> {
    fn at(&self, channel: usize, row: usize, col: usize) -> f32 {
        self.data[channel * self.plane + row * self.width + col]
    }
}

pub(crate) fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter).max(f32::MIN_POSITIVE)
}

/// Greedy NMS, highest score first (deface: suppress when IoU ≥ threshold).
pub(crate) fn nms(mut dets: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if keep.iter().all(|k| iou(&k.rect, &d.rect) < threshold) {
            keep.push(d);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12 MP photo at native size is 4×3 tiles; every point is owned by one tile that holds
    /// it with at least half the overlap to spare on each side (so a face up to the overlap lies
    /// whole in its owner), and the tiles cover the picture.
    #[test]
    fn grid_covers_and_owns_every_point_once() {
        for (w, h, r) in [
            (4032, 3024, 1.0),
            (3024, 4032, 1.0),
            (4000, 3000, 0.5),
            (900, 700, 1.0),
        ] {
            let g = Grid::new(w, h, r);
            assert!(g.tile[0] <= GRID_MAX_TILE + 31 && g.tile[1] <= GRID_MAX_TILE + 31);
            let origins: Vec<_> = g.origins().collect();
            assert_eq!(origins.len(), g.len());
            let (cw, ch) = (g.content[0], g.content[1]);
            let half = GRID_OVERLAP as f32 / 2.0;
            let mut y = 0.0;
            while y < ch {
                let mut x = 0.0;
                while x < cw {
                    let k = g.owner([x, y]);
                    let (x0, y0) = (origins[k].0 as f32, origins[k].1 as f32);
                    let (tw, th) = (g.tile[0] as f32, g.tile[1] as f32);
                    let room = |p: f32, o: f32, t: f32, len: f32| {
                        (p - o >= half - 1.0 || o == 0.0)
                            && (o + t - p >= half - 1.0 || o + t >= len)
                    };
                    assert!(
                        room(x, x0, tw, cw) && room(y, y0, th, ch),
                        "{w}x{h}@{r}: ({x},{y}) owned by tile {k} at ({x0},{y0})"
                    );
                    x += 7.0;
                }
                y += 7.0;
            }
        }
        let g = Grid::new(4032, 3024, 1.0);
        assert_eq!((g.count, g.tile), ([4, 3], [1120, 1120]));
    }

    /// Squares merge into the rectangles that hold them, again as a rectangle grows; a
    /// rectangle touches the tiles it overlaps.
    #[test]
    fn squares_around_candidates_merge_into_parts() {
        let sq = |x: f32, y: f32, h: f32| [x - h, y - h, x + h, y + h];
        let parts = merge_overlapping([
            sq(300.0, 200.0, 128.0),
            sq(1100.0, 500.0, 128.0),
            sq(900.0, 450.0, 128.0),
        ]);
        assert_eq!(
            parts,
            [[172.0, 72.0, 428.0, 328.0], [772.0, 322.0, 1228.0, 628.0]]
        );
        // One square over both: a single rectangle.
        let parts = merge_overlapping(parts.into_iter().chain([sq(600.0, 300.0, 200.0)]));
        assert_eq!(parts, [[172.0, 72.0, 1228.0, 628.0]]);
        let g = Grid::new(4032, 3024, 1.0);
        // In the overlap of tiles 0 (x 0–1120) and 1 (x 971–2091), top row.
        assert_eq!(g.tiles_touching(&sq(1100.0, 500.0, 128.0)), [0, 1]);
        assert_eq!(g.tiles_touching(&[0.0, 0.0, 4032.0, 3024.0]).len(), 12);
    }
}
