//! Enrolment: turn a student's photo into a face template (embedding + crop hash).
//! Only the template is stored; the photo is read and forgotten.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::faces::{FaceEngine, FaceError};
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
    Ok(Enrolment {
        embedding: face.embedding,
        crop_hash: face.crop_hash,
    })
}

/// Enrol one student from one or more photos. All photos must succeed or nothing is stored.
pub fn enrol(
    conn: &mut rusqlite::Connection,
    engine: &FaceEngine,
    id: &str,
    photos: &[PathBuf],
    limits: &formats::Limits,
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
    let tx = conn.transaction().map_err(RegisterError::from)?;
    for t in &templates {
        register::add_template(&tx, id, &t.embedding, &t.crop_hash, "enrolment")?;
    }
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
        match enrol(conn, engine, &id, std::slice::from_ref(&path), limits) {
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
