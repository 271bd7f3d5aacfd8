//! Text recognition with PaddleOCR's PP-OCRv4 mobile recogniser (SVTR-LCNet, CTC; Apache-2.0).
//!
//! Input: one line cut out along its rotated rectangle, 48 px high, BGR NCHW float32 normalised
//! as `(v/255 - 0.5) / 0.5`, padded on the right with 0 to its width bucket (as PaddleOCR pads a
//! batch). Output `[1, T, 6625]` per-step character probabilities; greedy CTC decoding (argmax,
//! repeats collapsed, blanks dropped) over the dictionary `models/ppocr_keys.txt` with index 0
//! the blank and the last index a space, as rapidocr's `CTCLabelDecode` reads it.
//! Lines are padded to a few width buckets, so a line of any length costs about what its
//! bucket does and the runtime sees few distinct shapes.

use image::RgbImage;

use super::TextError;
use crate::infer::Model;

/// The recogniser's input height.
pub const HEIGHT: u32 = 48;
/// Input width buckets; a line wider than the last at 48 px high is squeezed into it.
const WIDTHS: [u32; 5] = [96, 192, 320, 640, 1280];

pub struct Recognizer {
    model: Model,
    /// Index 0 is the CTC blank.
    chars: Vec<String>,
}

impl Recognizer {
    pub fn new(onnx: &'static [u8], keys: &str) -> Result<Recognizer, TextError> {
        let model = Model::new("text recogniser", onnx)?;
        let mut chars = vec![String::new()];
        chars.extend(keys.lines().map(str::to_string));
        chars.push(" ".into());
        Ok(Recognizer { model, chars })
    }

    /// Read the line inside `quad` (top-left, top-right, bottom-right, bottom-left) of `image`.
    pub fn read(&self, image: &RgbImage, quad: &[[f32; 2]; 4]) -> Result<Reading, TextError> {
        let (len, thick) = super::detect::quad_sides(quad);
        if thick < 1.0 || len < 1.0 {
            return Ok(Reading {
                text: String::new(),
                confidence: 0.0,
                alternates: Vec::new(),
            });
        }
        let want = ((HEIGHT as f32 * len / thick).ceil() as u32).max(1);
        let bucket = WIDTHS
            .iter()
            .position(|&w| w >= want)
            .unwrap_or(WIDTHS.len() - 1);
        let width = WIDTHS[bucket];
        let content = want.min(width);
        let data = cut_out(image, quad, width, content);
        let dims = [1, 3, HEIGHT as usize, width as usize];
        let probs = self
            .model
            .run(&dims, data)?
            .into_iter()
            .next()
            .ok_or_else(|| TextError::Inference("text recogniser gave no output".into()))?;
        let classes = self.chars.len();
        let steps = match probs.shape[..] {
            [1, steps, c] if c == classes && probs.data.len() == steps * classes => steps,
            _ => {
                return Err(TextError::Inference(format!(
                    "text recogniser output shape {:?} for {classes} characters",
                    probs.shape
                )))
            }
        };
        let steps: Vec<Step> = (0..steps)
            .map(|t| Step::of(&probs.data[t * classes..(t + 1) * classes]))
            .collect();
        let best: Vec<usize> = steps.iter().map(|s| s.best).collect();
        let (text, confidence) = collapse(&self.chars, &best, &steps);
        let alternates = alternates(&self.chars, &steps, &text);
        Ok(Reading {
            text,
            confidence,
            alternates,
        })
    }
}

/// Greedy CTC decoding of a path (repeats collapsed, blanks dropped) and the mean probability
/// of its characters.
fn collapse(chars: &[String], path: &[usize], steps: &[Step]) -> (String, f32) {
    let mut text = String::new();
    let (mut sum, mut n) = (0f32, 0u32);
    let mut last = 0usize;
    for (t, &k) in path.iter().enumerate() {
        if k != 0 && k != last {
            text.push_str(chars.get(k).map_or("", String::as_str));
            sum += if k == steps[t].best {
                steps[t].p
            } else {
                steps[t].p2
            };
            n += 1;
        }
        last = k;
    }
    (text, if n == 0 { 0.0 } else { sum / n as f32 })
}

/// Other readings of the line: the greedy path with the runner-up taken at some of the
/// [`MAX_UNSURE`] steps where the reader was least sure (runner-up probability at least
/// [`UNSURE_P`]), in every combination. A blurred "Frank" read as "Fran" has "k" as the
/// runner-up of a blank; a name matched only in such a reading is worth a moderator's look.
fn alternates(chars: &[String], steps: &[Step], text: &str) -> Vec<String> {
    let mut unsure: Vec<usize> = (0..steps.len())
        .filter(|&t| steps[t].p2 >= UNSURE_P)
        .collect();
    unsure.sort_by(|&a, &b| steps[b].p2.total_cmp(&steps[a].p2));
    unsure.truncate(MAX_UNSURE);
    let mut out: Vec<String> = Vec::new();
    let mut path: Vec<usize> = steps.iter().map(|s| s.best).collect();
    for mask in 1u32..(1 << unsure.len()) {
        for (i, &t) in unsure.iter().enumerate() {
            path[t] = if mask & (1 << i) != 0 {
                steps[t].second
            } else {
                steps[t].best
            };
        }
        let (alt, _) = collapse(chars, &path, steps);
        let alt = alt.trim().to_string();
        if !alt.is_empty() && alt != text.trim() && !out.contains(&alt) {
            out.push(alt);
        }
    }
    out
}

/// What the recogniser made of a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub text: String,
    /// Mean probability of the characters read (0..1).
    pub confidence: f32,
    /// Other readings where the reader was unsure of some characters ([`Recognizer::read`]).
    pub alternates: Vec<String>,
}

/// A runner-up this likely makes a step unsure.
const UNSURE_P: f32 = 0.08;
/// At most this many unsure steps are varied (2^n - 1 alternates).
const MAX_UNSURE: usize = 4;

/// One CTC step's two most likely classes (0 = blank) and their probabilities.
#[derive(Debug, Clone, Copy)]
struct Step {
    best: usize,
    p: f32,
    second: usize,
    p2: f32,
}

impl Step {
    fn of(probs: &[f32]) -> Step {
        let mut s = Step {
            best: 0,
            p: f32::MIN,
            second: 0,
            p2: f32::MIN,
        };
        for (k, &v) in probs.iter().enumerate() {
            if v > s.p {
                (s.second, s.p2) = (s.best, s.p);
                (s.best, s.p) = (k, v);
            } else if v > s.p2 {
                (s.second, s.p2) = (k, v);
            }
        }
        s
    }
}

/// The line inside `quad` sampled bilinearly into a `content`×48 strip at the left of a
/// `width`×48 canvas, as normalised BGR planes (0 beyond the strip).
fn cut_out(image: &RgbImage, quad: &[[f32; 2]; 4], width: u32, content: u32) -> Vec<f32> {
    let (w, h) = image.dimensions();
    let (cw, ch) = (width as usize, HEIGHT as usize);
    let plane = cw * ch;
    let mut data = vec![0f32; 3 * plane];
    if w == 0 || h == 0 {
        return data;
    }
    let [p0, p1, _, p3] = *quad;
    let ux = [
        (p1[0] - p0[0]) / content as f32,
        (p1[1] - p0[1]) / content as f32,
    ];
    let vy = [(p3[0] - p0[0]) / ch as f32, (p3[1] - p0[1]) / ch as f32];
    let src = image.as_raw();
    let px = |x: usize, y: usize, c: usize| src[(y * w as usize + x) * 3 + c] as f32;
    let bilinear = |sx: f32, sy: f32, out: &mut [f32; 3]| {
        let sx = (sx - 0.5).clamp(0.0, (w - 1) as f32);
        let sy = (sy - 0.5).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w as usize - 1), (y0 + 1).min(h as usize - 1));
        let (ax, ay) = (sx - x0 as f32, sy - y0 as f32);
        for (c, o) in out.iter_mut().enumerate() {
            let top = px(x0, y0, c) * (1.0 - ax) + px(x1, y0, c) * ax;
            let bottom = px(x0, y1, c) * (1.0 - ax) + px(x1, y1, c) * ax;
            *o += top + (bottom - top) * ay;
        }
    };
    // Lines much taller than 48 px are averaged over ss×ss samples a pixel, so they do not alias.
    let thick = (vy[0] * vy[0] + vy[1] * vy[1]).sqrt();
    let ss = (thick.ceil() as usize).clamp(1, 4);
    let n = (ss * ss) as f32;
    for y in 0..ch {
        for x in 0..content as usize {
            let mut acc = [0f32; 3];
            for j in 0..ss {
                for i in 0..ss {
                    let fx = x as f32 + (i as f32 + 0.5) / ss as f32;
                    let fy = y as f32 + (j as f32 + 0.5) / ss as f32;
                    bilinear(
                        p0[0] + fx * ux[0] + fy * vy[0],
                        p0[1] + fx * ux[1] + fy * vy[1],
                        &mut acc,
                    );
                }
            }
            for (c, v) in acc.iter().enumerate() {
                data[(2 - c) * plane + y * cw + x] = (v / n / 255.0 - 0.5) / 0.5;
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step sure of `best` (probability `p`) with runner-up `second` at `1 - p`.
    fn step(best: usize, p: f32, second: usize) -> Step {
        Step {
            best,
            p,
            second,
            p2: 1.0 - p,
        }
    }

    #[test]
    fn the_runner_up_is_read_where_the_reader_was_unsure() {
        // Index 0 is the blank. "Fran" with a doubtful blank whose runner-up is "k".
        let chars: Vec<String> = ["", "F", "r", "a", "n", "k"]
            .iter()
            .map(|c| c.to_string())
            .collect();
        let steps = [
            step(1, 0.99, 0),
            step(2, 0.99, 0),
            step(3, 0.98, 0),
            step(4, 0.97, 0),
            step(0, 0.6, 5),
            step(0, 0.99, 0),
        ];
        let best: Vec<usize> = steps.iter().map(|s| s.best).collect();
        let (text, confidence) = collapse(&chars, &best, &steps);
        assert_eq!(text, "Fran");
        assert!((confidence - 0.9825).abs() < 1e-4, "{confidence}");
        assert_eq!(alternates(&chars, &steps, &text), ["Frank"]);
        // Sure steps give no alternative; repeats still collapse ("aa" -> "a").
        let sure = [step(3, 0.99, 0), step(3, 0.99, 0), step(0, 0.99, 5)];
        let path: Vec<usize> = sure.iter().map(|s| s.best).collect();
        assert_eq!(collapse(&chars, &path, &sure).0, "a");
        assert!(alternates(&chars, &sure, "a").is_empty());
    }

    #[test]
    fn step_of_keeps_the_two_most_likely() {
        let s = Step::of(&[0.1, 0.6, 0.05, 0.25]);
        assert_eq!((s.best, s.second), (1, 3));
        assert!((s.p - 0.6).abs() < 1e-6 && (s.p2 - 0.25).abs() < 1e-6);
        let s = Step::of(&[0.7, 0.1, 0.2]);
        assert_eq!((s.best, s.second), (0, 2));
    }
}
