//! `consentgate eval faces DIR`: measure detection recall and identity match rates on a labelled
//! folder, so the match thresholds in the config are chosen from numbers, not guesses.
//!
//! Layout: `DIR/<person>/<photo>` — every photo in a person's folder shows that person (the
//! largest face is taken as theirs). Optional `DIR/faces.tsv`: `<relative path>\t<number of faces>`
//! for detection recall (every face counted, e.g. group photos).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::faces::{distance, FaceEngine};
use crate::formats;

#[derive(Debug, Serialize)]
pub struct DetectionRow {
    pub file: String,
    pub expected: usize,
    pub found: usize,
}

#[derive(Debug, Serialize)]
pub struct ThresholdRow {
    pub threshold: f32,
    /// Share of same-person pairs within the threshold (true match rate).
    pub true_match_rate: f64,
    /// Share of different-person pairs within the threshold (false match rate).
    pub false_match_rate: f64,
}

#[derive(Debug, Serialize)]
pub struct FaceEval {
    pub photos: usize,
    pub detection: Vec<DetectionRow>,
    /// Faces found / faces expected, over `faces.tsv` (None without it).
    pub detection_recall: Option<f64>,
    pub same_person_pairs: usize,
    pub different_person_pairs: usize,
    pub same_person_distances: Vec<f32>,
    pub different_person_min_distance: Option<f32>,
    pub thresholds: Vec<ThresholdRow>,
    pub problems: Vec<String>,
}

pub fn eval_faces(
    engine: &FaceEngine,
    dir: &Path,
    thresholds: &[f32],
) -> Result<FaceEval, std::io::Error> {
    let limits = formats::Limits::default();
    let mut per_person: BTreeMap<String, Vec<(String, Vec<f32>)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut photos = 0;
    let expected: BTreeMap<String, usize> = std::fs::read_to_string(dir.join("faces.tsv"))
        .map(|t| {
            t.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(|l| {
                    l.split_once('\t')
                        .and_then(|(f, n)| Some((f.trim().to_string(), n.trim().parse().ok()?)))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .min_depth(2)
        .max_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for path in files {
        let rel = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let person = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let clean = match formats::clean(&bytes, &limits) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{rel}: {e}"));
                continue;
            }
        };
        photos += 1;
        match engine.faces_in(&clean.bytes) {
            Ok(faces) => {
                counts.insert(rel.clone(), faces.len());
                if let Some(largest) = faces.iter().max_by(|a, b| {
                    (a.bbox.width * a.bbox.height).total_cmp(&(b.bbox.width * b.bbox.height))
                }) {
                    per_person
                        .entry(person)
                        .or_default()
                        .push((rel, largest.embedding.clone()));
                } else {
                    problems.push(format!("{rel}: no face found"));
                }
            }
            Err(e) => problems.push(format!("{rel}: {e}")),
        }
    }
    let detection: Vec<DetectionRow> = expected
        .iter()
        .map(|(f, n)| DetectionRow {
            file: f.clone(),
            expected: *n,
            found: counts.get(f).copied().unwrap_or(0),
        })
        .collect();
    let detection_recall = (!detection.is_empty()).then(|| {
        let found: usize = detection.iter().map(|d| d.found.min(d.expected)).sum();
        let total: usize = detection.iter().map(|d| d.expected).sum();
        found as f64 / total.max(1) as f64
    });

    let all: Vec<(&str, &Vec<f32>)> = per_person
        .iter()
        .flat_map(|(p, v)| v.iter().map(move |(_, e)| (p.as_str(), e)))
        .collect();
    let mut same = Vec::new();
    let mut different = Vec::new();
    for i in 0..all.len() {
        for j in i + 1..all.len() {
            let d = distance(all[i].1, all[j].1);
            if all[i].0 == all[j].0 {
                same.push(d);
            } else {
                different.push(d);
            }
        }
    }
    let rate = |v: &[f32], t: f32| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().filter(|&&d| d <= t).count() as f64 / v.len() as f64
        }
    };
    let thresholds = thresholds
        .iter()
        .map(|&t| ThresholdRow {
            threshold: t,
            true_match_rate: rate(&same, t),
            false_match_rate: rate(&different, t),
        })
        .collect();
    same.sort_by(f32::total_cmp);
    Ok(FaceEval {
        photos,
        detection,
        detection_recall,
        same_person_pairs: same.len(),
        different_person_pairs: different.len(),
        different_person_min_distance: different.iter().copied().min_by(f32::total_cmp),
        same_person_distances: same,
        thresholds,
        problems,
    })
}

/// One face height of [`eval_faces_by_size`].
#[derive(Debug, Serialize)]
pub struct SizeRow {
    /// Face height the labelled photos were shrunk to, pixels.
    pub height: u32,
    /// Labelled faces shrunk to this height (photos whose face is at least this tall).
    pub faces: usize,
    /// Of those, found again by the detector (detection recall at this height).
    pub found: usize,
    /// Same-person pairs (the shrunk face against the person's full-size faces, the same photo's
    /// included) and different-person pairs (against everyone else's full-size faces).
    pub same_pairs: usize,
    pub different_pairs: usize,
    /// Share of same-person pairs closer than the closest different-person pair (true match
    /// rate at zero false matches).
    pub true_match_rate_at_zero_false: f64,
    /// The same, counting only pairs of different photos of the person.
    pub cross_photo_true_match_rate_at_zero_false: Option<f64>,
    /// True and false match rates at `match_distance`.
    pub true_match_rate: f64,
    pub false_match_rate: f64,
}

/// Recognition and detection by face height: every labelled photo (the `eval_faces` layout)
/// shrunk so that its person's face is `height` px tall and set on a 1600×1200 grey canvas (so
/// the detector works as on a photo, with its close look), its faces found and embedded again,
/// and compared with the full-size embeddings. Photos whose face is under 80 px at full size are
/// no reference and are skipped.
pub fn eval_faces_by_size(
    engine: &FaceEngine,
    dir: &Path,
    heights: &[u32],
    match_distance: f32,
) -> Result<Vec<SizeRow>, std::io::Error> {
    use image::{imageops, Rgb, RgbImage};
    let limits = formats::Limits::default();
    // (person, photo index, picture, face box, full-size embedding)
    let mut refs: Vec<(String, RgbImage, crate::faces::FaceBox, Vec<f32>)> = Vec::new();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .min_depth(2)
        .max_depth(2)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    for path in files {
        let person = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(clean) = formats::clean(&bytes, &limits) else {
            continue;
        };
        let Ok(image) = crate::faces::decode_upright(&clean.bytes) else {
            continue;
        };
        let Ok(faces) = engine.faces_in_image(&image) else {
            continue;
        };
        if let Some(f) = faces
            .into_iter()
            .max_by(|a, b| (a.bbox.height).total_cmp(&b.bbox.height))
            .filter(|f| f.bbox.height >= 80.0 && !f.embedding.is_empty())
        {
            refs.push((person, image, f.bbox, f.embedding));
        }
    }
    let mut rows = Vec::new();
    for &height in heights {
        let (mut faces, mut found) = (0, 0);
        let (mut same, mut cross, mut different) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (person, image, bbox, _)) in refs.iter().enumerate() {
            let s = height as f32 / bbox.height;
            if s > 1.0 {
                continue;
            }
            // At most 1500×1100 of the shrunk photo, around its face.
            let (w, h) = (
                ((image.width() as f32 * s).round() as u32).max(1),
                ((image.height() as f32 * s).round() as u32).max(1),
            );
            let small = imageops::resize(image, w, h, imageops::FilterType::Triangle);
            let (cx, cy) = (
                (bbox.x + bbox.width / 2.0) * s,
                (bbox.y + bbox.height / 2.0) * s,
            );
            let (cw, ch) = (w.min(1500), h.min(1100));
            let x0 = ((cx - cw as f32 / 2.0).max(0.0) as u32).min(w - cw);
            let y0 = ((cy - ch as f32 / 2.0).max(0.0) as u32).min(h - ch);
            let part = imageops::crop_imm(&small, x0, y0, cw, ch).to_image();
            let mut canvas = RgbImage::from_pixel(1600, 1200, Rgb([120, 120, 120]));
            imageops::replace(&mut canvas, &part, 50, 50);
            let (fx, fy) = (cx - x0 as f32 + 50.0, cy - y0 as f32 + 50.0);
            faces += 1;
            let Ok(found_faces) = engine.faces_in_image(&canvas) else {
                continue;
            };
            let Some(probe) = found_faces.iter().find(|f| {
                let b = f.bbox;
                fx >= b.x && fx <= b.x + b.width && fy >= b.y && fy <= b.y + b.height
            }) else {
                continue;
            };
            found += 1;
            if probe.embedding.is_empty() {
                continue;
            }
            for (j, (other, _, _, reference)) in refs.iter().enumerate() {
                let d = distance(&probe.embedding, reference);
                if other == person {
                    same.push(d);
                    if i != j {
                        cross.push(d);
                    }
                } else {
                    different.push(d);
                }
            }
        }
        let closest = different.iter().copied().fold(f32::INFINITY, f32::min);
        let rate = |v: &[f32], t: f32, strict: bool| {
            let n = v
                .iter()
                .filter(|&&d| if strict { d < t } else { d <= t })
                .count();
            n as f64 / v.len().max(1) as f64
        };
        rows.push(SizeRow {
            height,
            faces,
            found,
            same_pairs: same.len(),
            different_pairs: different.len(),
            true_match_rate_at_zero_false: rate(&same, closest, true),
            cross_photo_true_match_rate_at_zero_false: (!cross.is_empty())
                .then(|| rate(&cross, closest, true)),
            true_match_rate: rate(&same, match_distance, false),
            false_match_rate: rate(&different, match_distance, false),
        });
    }
    Ok(rows)
}
