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
