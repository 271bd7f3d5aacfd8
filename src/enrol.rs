//! Enrolment: turn a student's photo into a face template (embedding + crop hash).
//! Only the template is stored; the photo is read and forgotten.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::faces::{Face, FaceBox, FaceEngine, FaceError};
use crate::formats::{self, FormatError};
use crate::register::{self, RegisterError};

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Format { path: String, source: FormatError },
    #[error("{path}: {source}")]
    Faces { path: String, source: FaceError },
    #[error("{path}: found {found} faces; an enrolment photo must show exactly one face — crop it to the student and try again")]
    NotOneFace { path: String, found: usize },
    #[error("the face at x {x:.0}, y {y:.0} was not found again in the photo; the clean copy may have been changed — reload the page and try again")]
    FaceNotFound { x: f32, y: f32 },
    #[error("{path}: the face is too small or too close to the edge to make a template; choose a clearer photo")]
    NoTemplate { path: String },
    #[error(transparent)]
    Register(#[from] RegisterError),
}

/// One photo's template, ready to store.
pub struct Enrolment {
    pub embedding: Vec<f32>,
    pub crop_hash: Vec<u8>,
}

/// Read a photo and compute the template of its one face.
pub fn template_from_photo(
    engine: &FaceEngine,
    path: &Path,
    limits: &formats::Limits,
) -> Result<Enrolment, EnrolError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| EnrolError::Read {
        path: p.clone(),
        source,
    })?;
    let clean = formats::clean(&bytes, limits).map_err(|source| EnrolError::Format {
        path: p.clone(),
        source,
    })?;
    let mut faces = engine
        .faces_in(&clean.bytes)
        .map_err(|source| EnrolError::Faces {
            path: p.clone(),
            source,
        })?;
    if faces.len() != 1 {
        return Err(EnrolError::NotOneFace {
            path: p,
            found: faces.len(),
        });
    }
    let face = faces.remove(0);
    as_template(face, &p)
}

/// A face's template; a face the aligner could not crop (no embedding) makes none.
fn as_template(face: Face, path: &str) -> Result<Enrolment, EnrolError> {
    if face.embedding.is_empty() || face.crop_hash.is_empty() {
        return Err(EnrolError::NoTemplate {
            path: path.to_string(),
        });
    }
    Ok(Enrolment {
        embedding: face.embedding,
        crop_hash: face.crop_hash,
    })
}

/// The moderator's "this face is student X": the template of the face at `bbox` (`[x, y, w, h]`,
/// as the gate recorded it) among the faces found again in the same clean copy. Returns that
/// face's index in `faces` too. Detection is deterministic, so the same face overlaps itself;
/// anything below half overlap is refused rather than guessed.
pub fn template_for_face(
    faces: &[Face],
    bbox: [f32; 4],
    what: &str,
) -> Result<(usize, Enrolment), EnrolError> {
    let iou = |b: &FaceBox| {
        let (ax1, ay1) = (bbox[0] + bbox[2], bbox[1] + bbox[3]);
        let (bx1, by1) = (b.x + b.width, b.y + b.height);
        let w = (ax1.min(bx1) - bbox[0].max(b.x)).max(0.0);
        let h = (ay1.min(by1) - bbox[1].max(b.y)).max(0.0);
        let inter = w * h;
        let union = bbox[2] * bbox[3] + b.width * b.height - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    };
    let best = faces
        .iter()
        .enumerate()
        .map(|(i, f)| (i, iou(&f.bbox)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, overlap)| *overlap >= 0.5);
    let Some((index, _)) = best else {
        return Err(EnrolError::FaceNotFound {
            x: bbox[0],
            y: bbox[1],
        });
    };
    Ok((index, as_template(faces[index].clone(), what)?))
}

/// Store templates for one student, labelled with where they came from (for the audit and for
/// `register forget`). Call inside the transaction that records why.
pub fn store_templates(
    conn: &rusqlite::Connection,
    id: &str,
    templates: &[Enrolment],
    source: &str,
) -> Result<(), EnrolError> {
    for t in templates {
        register::add_template(conn, id, &t.embedding, &t.crop_hash, source)?;
    }
    Ok(())
}

/// Enrol one student from one or more photos. All photos must succeed or nothing is stored.
pub fn enrol(
    conn: &mut rusqlite::Connection,
    engine: &FaceEngine,
    id: &str,
    photos: &[PathBuf],
    limits: &formats::Limits,
    actor: &str,
) -> Result<usize, EnrolError> {
    if register::get_student(conn, id)
        .map_err(RegisterError::from)?
        .is_none()
    {
        return Err(RegisterError::UnknownStudent(id.to_string()).into());
    }
    let templates = photos
        .iter()
        .map(|p| template_from_photo(engine, p, limits))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(RegisterError::from)?;
    store_templates(&tx, id, &templates, "enrolment")?;
    crate::audit::record(
        &tx,
        actor,
        "face-enrolled",
        id,
        &serde_json::json!({"photos": templates.len()}),
        chrono::Utc::now(),
    )
    .map_err(RegisterError::from)?;
    tx.commit().map_err(RegisterError::from)?;
    Ok(templates.len())
}

/// What `enrol-dir` did.
#[derive(Debug, Default, Serialize)]
pub struct DirReport {
    pub enrolled: Vec<String>,
    /// (file, why) for every photo that was not enrolled.
    pub skipped: Vec<(String, String)>,
}

/// Enrol from a folder of photos named by student id (as MIS photo exports are: `A1001.jpg`).
pub fn enrol_dir(
    conn: &mut rusqlite::Connection,
    engine: &FaceEngine,
    dir: &Path,
    limits: &formats::Limits,
    actor: &str,
) -> Result<DirReport, EnrolError> {
    let mut report = DirReport::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| EnrolError::Read {
            path: dir.display().to_string(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().trim().to_string())
            .unwrap_or_default();
        match enrol(
            conn,
            engine,
            &id,
            std::slice::from_ref(&path),
            limits,
            actor,
        ) {
            Ok(_) => report.enrolled.push(id),
            Err(EnrolError::Register(RegisterError::UnknownStudent(_))) => report.skipped.push((
                name,
                format!(
                    "no student with id {id} in the register (files must be named by student id)"
                ),
            )),
            Err(e) => report.skipped.push((name, e.to_string())),
        }
    }
    Ok(report)
}
