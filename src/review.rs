//! Review: the moderator's side. A held photo is approved (its clean copy released), or rejected,
//! always with a note and the moderator's name in the audit trail (policy: a second opinion before
//! anything doubtful goes out, and a record of who gave it).

use chrono::{Local, Utc};
use serde::Serialize;

use crate::journal::{self, JournalError, PhotoRecord, PhotoState};
use crate::outbox::{self, OutboxError};
use crate::workspace::{Workspace, WorkspaceError};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("photo #{id} is {state}, not held; `consentgate review list` shows what is waiting")]
    NotHeld { id: i64, state: &'static str },
    #[error("photo #{0} cannot be approved: the gate could not make a clean copy ({1}); re-export it as JPEG, PNG or WebP and drop it in again")]
    NoCleanCopy(i64, String),
    #[error("photo #{0} has no face to blur (it was held for another reason); approve or reject it instead")]
    NothingToRedact(i64),
    #[error("the faces could not be blurred ({0}); reject the photo or edit it by hand")]
    Redaction(String),
    #[error("a note is required: say why (it goes in the audit trail)")]
    NoteRequired,
    #[error("the clean copy of photo #{0} is missing from {1}; the held folder was changed by hand — restore it, or reject the photo")]
    CleanCopyMissing(i64, String),
}

/// A held photo as the moderator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldItem {
    #[serde(flatten)]
    pub record: PhotoRecord,
    /// How long it has waited, in hours.
    pub waiting_hours: f64,
}

pub fn held(ws: &Workspace) -> Result<Vec<HeldItem>, ReviewError> {
    let conn = ws.db()?;
    let now = Utc::now();
    Ok(journal::in_state(&conn, &[PhotoState::Held])?
        .into_iter()
        .map(|record| HeldItem {
            waiting_hours: (now - record.created_at).num_minutes() as f64 / 60.0,
            record,
        })
        .collect())
}

pub fn show(ws: &Workspace, id: i64) -> Result<PhotoRecord, ReviewError> {
    Ok(journal::get(&ws.db()?, id)?)
}

fn held_record(conn: &rusqlite::Connection, id: i64) -> Result<PhotoRecord, ReviewError> {
    let rec = journal::get(conn, id)?;
    if rec.state != PhotoState::Held {
        return Err(ReviewError::NotHeld {
            id,
            state: rec.state.as_str(),
        });
    }
    Ok(rec)
}

/// Release a held photo's clean copy to its channel's outbox. Returns the outbox path.
pub fn approve(ws: &Workspace, id: i64, note: &str, actor: &str) -> Result<String, ReviewError> {
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    let (bytes, ext) = held_clean_copy(ws, &rec)?;
    publish_held(
        ws,
        &mut conn,
        &rec,
        &bytes,
        ext,
        actor,
        "approved",
        serde_json::json!({"note": note}),
    )
}

/// The clean copy the gate kept for a held photo, and its extension.
fn held_clean_copy(
    ws: &Workspace,
    rec: &PhotoRecord,
) -> Result<(Vec<u8>, &'static str), ReviewError> {
    let (Some(ext), Some(dir)) = (rec.clean_ext.as_deref(), rec.held_dir.as_deref()) else {
        let why = rec
            .reasons
            .first()
            .map(|r| r.detail.clone())
            .unwrap_or_default();
        return Err(ReviewError::NoCleanCopy(rec.id, why));
    };
    let ext: &'static str = match ext {
        "jpg" => "jpg",
        "png" => "png",
        "webp" => "webp",
        other => {
            return Err(ReviewError::NoCleanCopy(
                rec.id,
                format!("unknown clean format {other}"),
            ))
        }
    };
    let clean_path = outbox::held_clean_path(&ws.root.join(dir), ext);
    let bytes = std::fs::read(&clean_path)
        .map_err(|_| ReviewError::CleanCopyMissing(rec.id, clean_path.display().to_string()))?;
    Ok((bytes, ext))
}

/// A held clean copy, as the gate's stages take it.
fn as_cleaned(bytes: Vec<u8>, ext: &'static str) -> crate::formats::Cleaned {
    crate::formats::Cleaned {
        format: crate::formats::detect(&bytes),
        bytes,
        extension: ext,
        removed: vec![],
        embedded_text: vec![],
        device: Default::default(),
        width: 0,
        height: 0,
    }
}

/// Write a held photo's (possibly redacted) clean copy to its channel's outbox, durably, then
/// record it as approved with the moderator's name. Returns the outbox path.
#[allow(clippy::too_many_arguments)]
fn publish_held(
    ws: &Workspace,
    conn: &mut rusqlite::Connection,
    rec: &PhotoRecord,
    bytes: &[u8],
    ext: &str,
    actor: &str,
    action: &str,
    mut detail: serde_json::Value,
) -> Result<String, ReviewError> {
    let name = outbox::neutral_name(Local::now().date_naive(), bytes, ext);
    let rel = std::path::Path::new("outbox").join(&rec.channel).join(name);
    let dest = ws.root.join(&rel);
    if let Some(caption) = &rec.caption {
        outbox::write_durably(&ws.root, &dest.with_extension("txt"), caption.as_bytes())?;
    }
    outbox::write_durably(&ws.root, &dest, bytes)?;
    let rel_s = rel.to_string_lossy().into_owned();
    let tx = conn.transaction()?;
    let now = Utc::now();
    journal::set_paths(&tx, rec.id, Some(&rel_s), None)?;
    journal::set_state(&tx, rec.id, PhotoState::Approved, now)?;
    if let Some(d) = detail.as_object_mut() {
        d.insert("outbox".into(), rel_s.clone().into());
        d.insert("file".into(), rec.source_name.clone().into());
        d.insert(
            "reasons".into(),
            serde_json::to_value(&rec.reasons).unwrap_or_default(),
        );
    }
    journal::audit(
        &tx,
        actor,
        action,
        &format!("photo #{}", rec.id),
        &detail,
        now,
    )?;
    tx.commit()?;
    Ok(rel_s)
}

/// Blur every face that is not cleared for the channel and release the result; the held original
/// stays in `held/`. Returns the outbox path and how many faces were blurred.
pub fn redact(
    ws: &Workspace,
    id: i64,
    note: &str,
    actor: &str,
) -> Result<(String, usize), ReviewError> {
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    if rec.faces.iter().all(|f| f.may_publish) {
        return Err(ReviewError::NothingToRedact(id));
    }
    let (bytes, ext) = held_clean_copy(ws, &rec)?;
    let mut clean = as_cleaned(bytes, ext);
    let n = crate::gate::redact_copy(&mut clean, &rec.faces).map_err(ReviewError::Redaction)?;
    let detail = serde_json::json!({"note": note, "faces_blurred": n});
    let rel = publish_held(
        ws,
        &mut conn,
        &rec,
        &clean.bytes,
        clean.extension,
        actor,
        "redacted-and-released",
        detail,
    )?;
    Ok((rel, n))
}

/// Refuse a held photo for good. Its files stay in `held/` as the record of what was refused.
pub fn reject(ws: &Workspace, id: i64, note: &str, actor: &str) -> Result<(), ReviewError> {
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    // Remember what the picture looks like, so a re-saved, resized or mirrored copy is held too.
    let hash = held_clean_copy(ws, &rec)
        .ok()
        .and_then(|(bytes, ext)| crate::gate::photo_pdq(&as_cleaned(bytes, ext)).ok());
    let tx = conn.transaction()?;
    let now = Utc::now();
    journal::set_state(&tx, id, PhotoState::Rejected, now)?;
    if let Some(d) = &hash {
        use crate::pdq::Dihedral;
        journal::add_rejected_hash(
            &tx,
            id,
            &d.get(Dihedral::Original).to_hex(),
            &d.get(Dihedral::FlipY).to_hex(),
            d.quality,
        )?;
    }
    let detail = serde_json::json!({"note": note, "file": rec.source_name, "reasons": rec.reasons, "reupload_hash": hash.map(|d| d.quality >= crate::pdq::MIN_QUALITY)});
    journal::audit(
        &tx,
        actor,
        "rejected",
        &format!("photo #{id}"),
        &detail,
        now,
    )?;
    tx.commit()?;
    Ok(())
}
