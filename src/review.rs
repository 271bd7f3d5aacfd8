//! Review: the moderator's side. A held photo is approved (its clean copy released), or rejected,
//! always with a note and the acting account in the audit trail. Policy: a second opinion before
//! anything doubtful goes out, and a record of who gave it — a photo held for a reason in
//! `[review] second_opinion` is released only by a second approval from a different senior
//! account ([`approve`]); staff accounts review nothing.

use std::path::PathBuf;

use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeZone, Utc, Weekday};
use serde::Serialize;

use crate::accounts::{Actor, Role};
use crate::captions::{CaptionHit, TextSource};
use crate::decide::{self, FaceFinding, Policy, Reason, ReasonKind};
use crate::dispose::{self, DisposeError};
use crate::enrol::{self, EnrolError};
use crate::faces::{FaceEngine, FaceError};
use crate::findings::Finding;
use crate::journal::{self, JournalError, PhotoRecord, PhotoState};
use crate::judge::Judge;
use crate::outbox::{self, OutboxError};
use crate::register;
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
    #[error(transparent)]
    Dispose(#[from] DisposeError),
    #[error("photo #{id} is {state}, not held; `consentgate review list` shows what is waiting")]
    NotHeld { id: i64, state: &'static str },
    #[error("photo #{id} was {state} by someone else while you were deciding, so your action was not applied; `consentgate review show {id}` shows who and why")]
    DecidedMeanwhile { id: i64, state: &'static str },
    #[error("photo #{0} was changed by someone else (its caption or faces) while you were deciding, so nothing was released; look at it again with `consentgate review show {0}`")]
    ChangedMeanwhile(i64),
    #[error("photo #{0} cannot be approved: the gate could not make a clean copy ({1}); re-export it as JPEG, PNG or WebP and drop it in again")]
    NoCleanCopy(i64, String),
    #[error("photo #{0} has no face or named text to blur (it was held for another reason); approve or reject it instead")]
    NothingToRedact(i64),
    #[error("the faces could not be blurred ({0}); reject the photo or edit it by hand")]
    Redaction(String),
    #[error("a note is required: say why (it goes in the audit trail); on the review page a ready-made note will do")]
    NoteRequired,
    #[error("photo #{0} changed since its blur preview (its faces or text were judged again), so nothing was released; look at the new preview and confirm again")]
    PreviewOutdated(i64),
    #[error("{0:?} is not one of the ready-made notes for this action; choose one from the list or write your own note")]
    UnknownPreset(String),
    #[error("the clean copy of photo #{0} is missing from {1}; the held folder was changed by hand — restore it, or reject the photo")]
    CleanCopyMissing(i64, String),
    #[error("photo #{0}'s held folder is not inside this workspace's held/ folder; the journal or the folder was changed by hand — run `consentgate audit verify` and restore held/{0}")]
    OutsideHeld(i64),
    #[error("photo #{id} has no face {face} (it has {count}); `consentgate review show {id}` lists them")]
    NoSuchFace { id: i64, face: usize, count: usize },
    #[error("no student {0:?} in the register; `consentgate register list` shows the ids")]
    UnknownStudent(String),
    #[error("face {face} of photo #{id} was recognised as {other} (distance {distance:.2}); it cannot also be taught as {student}. If the recognition is wrong, `consentgate register forget {other}` and re-enrol {other} from a good photo, then try again")]
    FaceIsSomeoneElse {
        id: i64,
        face: usize,
        other: String,
        distance: f32,
        student: String,
    },
    #[error("the caption is {0} characters long; the limit is {MAX_CAPTION_CHARS}")]
    CaptionTooLong(usize),
    #[error(transparent)]
    Enrol(#[from] EnrolError),
    #[error("{0}; the face cannot be attributed now — try again, or reject the photo")]
    Faces(#[from] FaceError),
    #[error(
        "{0} has a staff account, which cannot review photos; ask a moderator or a senior leader"
    )]
    NotAReviewer(String),
    #[error("photo #{id} needs a second opinion and you gave its first approval (at {at}); a different senior must approve it")]
    SameApprover { id: i64, at: String },
    #[error("photo #{id} already has its first approval (by {by} at {at}); the second must come from a senior account")]
    SecondNeedsSenior { id: i64, by: String, at: String },
}

/// The longest caption the moderator may write (a caption, not an article).
pub const MAX_CAPTION_CHARS: usize = 2000;

/// When a photo that arrived at `received` (local time) must have an answer. The school's policy
/// (appendix A, section 4) asks for a response within 24 hours, or on the next working day when
/// it arrives at a weekend: so Monday to Friday the deadline is 24 hours later (a Friday evening
/// photo is due on Saturday evening), and a Saturday or Sunday photo is due by the end of Monday.
/// Bank holidays are not known to consentgate.
pub fn due_at(received: NaiveDateTime) -> NaiveDateTime {
    match received.weekday() {
        Weekday::Sat | Weekday::Sun => {
            let mut day = received.date();
            while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                match day.succ_opt() {
                    Some(next) => day = next,
                    None => break,
                }
            }
            // The end of that working day.
            day.succ_opt()
                .unwrap_or(day)
                .and_time(chrono::NaiveTime::MIN)
        }
        _ => received + chrono::Duration::hours(24),
    }
}

/// [`due_at`] for a UTC arrival time, in this machine's time zone.
pub fn due_at_utc(received: DateTime<Utc>) -> DateTime<Utc> {
    let due = due_at(received.with_timezone(&Local).naive_local());
    Local
        .from_local_datetime(&due)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| due.and_utc())
}

/// A held photo as the moderator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldItem {
    #[serde(flatten)]
    pub record: PhotoRecord,
    /// How long it has waited, in hours.
    pub waiting_hours: f64,
    /// When the policy wants an answer by ([`due_at`]).
    pub due_at: DateTime<Utc>,
    pub overdue: bool,
}

/// Held photos, oldest first.
pub fn held(ws: &Workspace) -> Result<Vec<HeldItem>, ReviewError> {
    let conn = ws.db()?;
    let now = Utc::now();
    Ok(journal::in_state(&conn, &[PhotoState::Held])?
        .into_iter()
        .map(|record| {
            let due_at = due_at_utc(record.created_at);
            HeldItem {
                waiting_hours: (now - record.created_at).num_minutes() as f64 / 60.0,
                due_at,
                overdue: now > due_at,
                record,
            }
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

/// Begin the write transaction a moderator's action on a held photo runs in, and read the photo
/// again inside it. The transaction is `BEGIN IMMEDIATE`: it takes the database's write lock
/// before reading, so across every process (each `serve`, every CLI command) only one action on a
/// held photo runs at a time, and a photo another moderator decided meanwhile is refused here,
/// before anything is written.
fn claim_held<'c>(
    ws: &Workspace,
    conn: &'c mut rusqlite::Connection,
    id: i64,
) -> Result<(rusqlite::Transaction<'c>, PhotoRecord), ReviewError> {
    // A publication a killed action left half-done is undone first (see `dispose`).
    dispose::recover_publications(ws, conn)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let rec = journal::get(&tx, id)?;
    if rec.state != PhotoState::Held {
        return Err(ReviewError::DecidedMeanwhile {
            id,
            state: rec.state.as_str(),
        });
    }
    Ok((tx, rec))
}

/// Move a claimed photo out of `held`; it cannot fail to move while the claim's transaction is
/// open, but if it did, nothing is recorded.
fn leave_held(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    to: PhotoState,
    now: DateTime<Utc>,
) -> Result<(), ReviewError> {
    if journal::transition(tx, id, PhotoState::Held, to, now)? {
        return Ok(());
    }
    let state = journal::get(tx, id)?.state.as_str();
    Err(ReviewError::DecidedMeanwhile { id, state })
}

/// What an approval did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Released to this outbox path.
    Released(String),
    /// Recorded as the first approval; the photo stays held for a second opinion.
    FirstApproval(FirstApproval),
}

/// A first approval of a photo that needs a second opinion.
#[derive(Debug, Clone, Serialize)]
pub struct FirstApproval {
    pub photo_id: i64,
    /// `approve` or `redact`: the second approval must be the same action.
    pub action: String,
    pub account: Option<i64>,
    pub name: String,
    pub note: String,
    pub at: String,
    /// The reason kinds that ask for a second opinion.
    pub reasons: Vec<ReasonKind>,
    #[serde(skip)]
    fingerprint: String,
}

/// The photo record as approved: if anything about it changes (caption, faces, reasons), the
/// first approval no longer counts.
fn fingerprint(rec: &PhotoRecord) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(rec).unwrap_or_default(),
    ))
}

/// The reason kinds of `rec` that need a second opinion before it is released. Blurring removes
/// the faces it blurs, so a redaction needs one only for the photo's other reasons.
pub fn second_opinion_reasons(ws: &Workspace, rec: &PhotoRecord, redact: bool) -> Vec<ReasonKind> {
    let mut kinds: Vec<ReasonKind> = rec
        .reasons
        .iter()
        .map(|r| r.kind)
        .filter(|k| ws.config.review.second_opinion.contains(k))
        .filter(|k| !(redact && k.is_face()))
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

fn read_first_approval(
    conn: &rusqlite::Connection,
    id: i64,
) -> Result<Option<FirstApproval>, ReviewError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT action, account_id, name, note, at, fingerprint FROM first_approvals WHERE photo_id = ?1",
            [id],
            |r| {
                Ok(FirstApproval {
                    photo_id: id,
                    action: r.get(0)?,
                    account: r.get(1)?,
                    name: r.get(2)?,
                    note: r.get(3)?,
                    at: r.get(4)?,
                    reasons: vec![],
                    fingerprint: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// The first approval photo `rec` is waiting on, if it still counts (the photo has not changed
/// since it was given).
pub fn awaiting_second_opinion(
    ws: &Workspace,
    conn: &rusqlite::Connection,
    rec: &PhotoRecord,
) -> Result<Option<FirstApproval>, ReviewError> {
    let Some(mut a) = read_first_approval(conn, rec.id)? else {
        return Ok(None);
    };
    if rec.state != PhotoState::Held || a.fingerprint != fingerprint(rec) {
        return Ok(None);
    }
    a.reasons = second_opinion_reasons(ws, rec, a.action == "redact");
    Ok(Some(a))
}

/// A moderator's "ask a senior" mark on a photo.
#[derive(Debug, Clone, Serialize)]
pub struct SeniorRequest {
    pub name: String,
    pub note: String,
    pub at: String,
}

pub fn senior_requests(
    conn: &rusqlite::Connection,
    id: i64,
) -> Result<Vec<SeniorRequest>, ReviewError> {
    let mut stmt =
        conn.prepare("SELECT name, note, at FROM senior_requests WHERE photo_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([id], |r| {
        Ok(SeniorRequest {
            name: r.get(0)?,
            note: r.get(1)?,
            at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Mark a held photo "ask a senior", with a note saying what to look at. The photo stays held.
pub fn ask_senior(ws: &Workspace, id: i64, note: &str, actor: &Actor) -> Result<(), ReviewError> {
    require_reviewer(actor)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    held_record(&conn, id)?;
    let (tx, _) = claim_held(ws, &mut conn, id)?;
    let now = Utc::now();
    tx.execute(
        "INSERT INTO senior_requests (photo_id, account_id, name, note, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![id, actor.account_id(), actor.name(), note.trim(), now.to_rfc3339()],
    )?;
    crate::audit::record(
        &tx,
        &actor.audit_name(),
        "senior-asked",
        &format!("photo #{id}"),
        &serde_json::json!({"note": note.trim()}),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

/// Staff accounts drop photos; only moderators and seniors review them.
pub fn require_reviewer(actor: &Actor) -> Result<(), ReviewError> {
    if actor.role() < Role::Moderator {
        return Err(ReviewError::NotAReviewer(actor.name().to_string()));
    }
    Ok(())
}

/// Release a held photo's clean copy to its channel's outbox, or, when it was held for a reason
/// that needs a second opinion (`[review] second_opinion`), record the first approval or give the
/// second.
pub fn approve(
    ws: &Workspace,
    id: i64,
    note: &str,
    actor: &Actor,
) -> Result<Decision, ReviewError> {
    require_reviewer(actor)?;
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
        dispose::Source::Clean { ext, bytes: &bytes },
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
    let (Some(ext), Some(_)) = (rec.clean_ext.as_deref(), rec.held_dir.as_deref()) else {
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
        "heic" => "heic",
        other => {
            return Err(ReviewError::NoCleanCopy(
                rec.id,
                format!("unknown clean format {other}"),
            ))
        }
    };
    let dir = held_folder(ws, rec)?;
    let clean_path = outbox::held_clean_path(&dir, ext);
    let missing = || ReviewError::CleanCopyMissing(rec.id, clean_path.display().to_string());
    // A symbolic link planted in held/ must not make consentgate read (or publish) another file.
    if !std::fs::symlink_metadata(&clean_path)
        .map_err(|_| missing())?
        .is_file()
    {
        return Err(missing());
    }
    let bytes = std::fs::read(&clean_path).map_err(|_| missing())?;
    Ok((bytes, ext))
}

/// Release a held photo's (possibly redacted) clean copy to its channel's outbox through the
/// disposer, and record it as approved with the moderator's name. Returns the outbox path.
///
/// The photo is claimed first ([`claim_held`]) and the outbox written while the claim is held, so a
/// moderator who loses a race writes nothing; a photo whose caption or faces changed since `rec`
/// was read (what `bytes` were made from) is refused. The disposer's intent file makes a kill at
/// any instant safe: the outbox never keeps a photo the journal says is held.
///
/// **Four eyes.** Inside the same claim (so across every process, web and CLI alike, one decision
/// at a time), a photo with a reason in `[review] second_opinion` is only released when a first
/// approval of the same action on the same (unchanged) photo exists, given by a different person,
/// and this one comes from a senior account; otherwise this approval is recorded as the first and
/// nothing reaches the disposer.
#[allow(clippy::too_many_arguments)]
fn publish_held(
    ws: &Workspace,
    conn: &mut rusqlite::Connection,
    rec: &PhotoRecord,
    source: dispose::Source<'_>,
    actor: &Actor,
    action: &str,
    mut detail: serde_json::Value,
) -> Result<Decision, ReviewError> {
    let dir = held_folder(ws, rec)?;
    let (tx, fresh) = claim_held(ws, conn, rec.id)?;
    if serde_json::to_value(&fresh).ok() != serde_json::to_value(rec).ok() {
        return Err(ReviewError::ChangedMeanwhile(rec.id));
    }
    let kind = if matches!(source, dispose::Source::Redacted(_)) {
        "redact"
    } else {
        "approve"
    };
    let needs = second_opinion_reasons(ws, &fresh, kind == "redact");
    let mut first = None;
    if !needs.is_empty() {
        let fp = fingerprint(&fresh);
        let pending =
            read_first_approval(&tx, rec.id)?.filter(|p| p.fingerprint == fp && p.action == kind);
        match pending {
            None => {
                let now = Utc::now();
                let note = detail
                    .get("note")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string();
                tx.execute(
                    "INSERT OR REPLACE INTO first_approvals (photo_id, action, account_id, name, note, fingerprint, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![rec.id, kind, actor.account_id(), actor.name(), note, fp, now.to_rfc3339()],
                )?;
                if let Some(d) = detail.as_object_mut() {
                    d.insert("action".into(), kind.into());
                    d.insert(
                        "second_opinion_for".into(),
                        serde_json::to_value(&needs).unwrap_or_default(),
                    );
                    d.insert("file".into(), rec.source_name.clone().into());
                }
                crate::audit::record(
                    &tx,
                    &actor.audit_name(),
                    "first-approval",
                    &format!("photo #{}", rec.id),
                    &detail,
                    now,
                )?;
                tx.commit()?;
                return Ok(Decision::FirstApproval(FirstApproval {
                    photo_id: rec.id,
                    action: kind.into(),
                    account: actor.account_id(),
                    name: actor.name().to_string(),
                    note,
                    at: now.to_rfc3339(),
                    reasons: needs,
                    fingerprint: fp,
                }));
            }
            Some(p) => {
                let same = match (p.account, actor.account_id()) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => p.name.eq_ignore_ascii_case(actor.name()),
                    _ => false,
                };
                if same {
                    return Err(ReviewError::SameApprover {
                        id: rec.id,
                        at: p.at,
                    });
                }
                if actor.role() != Role::Senior || actor.account_id().is_none() {
                    return Err(ReviewError::SecondNeedsSenior {
                        id: rec.id,
                        by: p.name,
                        at: p.at,
                    });
                }
                first = Some(p);
            }
        }
    }
    let actor_name = actor.audit_name();
    let rel = dispose::publish_held(ws, tx, rec, &dir, source, |tx, rel| {
        let now = Utc::now();
        leave_held(tx, rec.id, PhotoState::Approved, now)?;
        journal::set_paths(tx, rec.id, Some(rel), None)?;
        tx.execute("DELETE FROM first_approvals WHERE photo_id = ?1", [rec.id])?;
        if let Some(d) = detail.as_object_mut() {
            d.insert("outbox".into(), rel.into());
            d.insert("file".into(), rec.source_name.clone().into());
            d.insert(
                "reasons".into(),
                serde_json::to_value(&rec.reasons).unwrap_or_default(),
            );
            if let Some(p) = &first {
                d.insert(
                    "second_opinion".into(),
                    serde_json::json!({
                        "for": needs,
                        "first_approval": {"by": p.name, "account": p.account, "at": p.at, "note": p.note},
                    }),
                );
            }
        }
        crate::audit::record(
            tx,
            &actor_name,
            action,
            &format!("photo #{}", rec.id),
            &detail,
            now,
        )?;
        Ok::<(), ReviewError>(())
    })?;
    Ok(Decision::Released(rel))
}

/// A held photo blurred as "blur and release" would release it: the bytes, how many faces and
/// lines of text were blurred, and the bytes' SHA-256 (what the review page's preview shows and
/// its confirmation names, so what is released is exactly what was previewed).
#[derive(Debug, Clone)]
pub struct Redacted {
    pub bytes: Vec<u8>,
    pub faces: usize,
    pub texts: usize,
    pub sha256: String,
}

/// The one redaction of a held photo, shared by the preview and the release: every face not
/// cleared for the channel, and every line of text in the picture that names a student, blurred
/// in the held clean copy.
fn redacted_copy(ws: &Workspace, rec: &PhotoRecord) -> Result<Redacted, ReviewError> {
    let mut boxes: Vec<[f32; 4]> = rec
        .faces
        .iter()
        .filter(|f| !f.may_publish)
        .map(|f| f.bbox)
        .collect();
    let faces = boxes.len();
    boxes.extend(
        rec.texts
            .iter()
            .filter(|t| !t.named.is_empty())
            .map(|t| decide::text_blur_box(&t.bbox)),
    );
    if boxes.is_empty() {
        return Err(ReviewError::NothingToRedact(rec.id));
    }
    let (bytes, _) = held_clean_copy(ws, rec)?;
    let blurred = crate::redact::blur(&bytes, &boxes).map_err(ReviewError::Redaction)?;
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(&blurred));
    Ok(Redacted {
        texts: boxes.len() - faces,
        faces,
        bytes: blurred,
        sha256,
    })
}

/// What [`redact`] would release for held photo `id`, made by the same code, without releasing
/// or recording anything (the review page's "blur preview").
pub fn preview_redaction(ws: &Workspace, id: i64) -> Result<Redacted, ReviewError> {
    let rec = held_record(&ws.db()?, id)?;
    redacted_copy(ws, &rec)
}

/// Blur every face that is not cleared for the channel and release the result; the held original
/// stays in `held/`. Returns the outbox path and how many faces were blurred.
pub fn redact(
    ws: &Workspace,
    id: i64,
    note: &str,
    actor: &Actor,
) -> Result<(Decision, usize), ReviewError> {
    redact_checked(ws, id, note, actor, None)
}

/// [`redact`], released only if the blurred result is byte for byte the one previewed (its
/// SHA-256 from [`preview_redaction`]): a photo whose faces or text changed since the preview is
/// refused, so nobody releases a blur they did not see.
pub fn redact_as_previewed(
    ws: &Workspace,
    id: i64,
    note: &str,
    actor: &Actor,
    previewed_sha256: &str,
) -> Result<(Decision, usize), ReviewError> {
    redact_checked(ws, id, note, actor, Some(previewed_sha256))
}

fn redact_checked(
    ws: &Workspace,
    id: i64,
    note: &str,
    actor: &Actor,
    previewed: Option<&str>,
) -> Result<(Decision, usize), ReviewError> {
    require_reviewer(actor)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    let r = redacted_copy(ws, &rec)?;
    if previewed.is_some_and(|p| !p.eq_ignore_ascii_case(&r.sha256)) {
        return Err(ReviewError::PreviewOutdated(id));
    }
    let detail = serde_json::json!({"note": note, "faces_blurred": r.faces, "texts_blurred": r.texts, "sha256": r.sha256});
    let rel = publish_held(
        ws,
        &mut conn,
        &rec,
        dispose::Source::Redacted(&r.bytes),
        actor,
        "redacted-and-released",
        detail,
    )?;
    Ok((rel, r.faces))
}

/// Refuse a held photo for good. Its files stay in `held/` as the record of what was refused.
pub fn reject(ws: &Workspace, id: i64, note: &str, actor: &Actor) -> Result<(), ReviewError> {
    require_reviewer(actor)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    // Remember what the picture looks like, so a re-saved, resized or mirrored copy is held too.
    let hash = held_clean_copy(ws, &rec)
        .ok()
        .and_then(|(bytes, _)| crate::pdq::hash(&bytes, crate::formats::detect(&bytes)).ok());
    let (tx, rec) = claim_held(ws, &mut conn, id)?;
    let now = Utc::now();
    leave_held(&tx, id, PhotoState::Rejected, now)?;
    tx.execute("DELETE FROM first_approvals WHERE photo_id = ?1", [id])?;
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
    crate::audit::record(
        &tx,
        &actor.audit_name(),
        "rejected",
        &format!("photo #{id}"),
        &detail,
        now,
    )?;
    tx.commit()?;
    crate::crash_point!("review.decided");
    Ok(())
}

/// A held photo's folder, checked to be inside this workspace's `held/` (symbolic links resolved),
/// so nothing read on a moderator's behalf ever comes from elsewhere.
pub fn held_folder(ws: &Workspace, rec: &PhotoRecord) -> Result<PathBuf, ReviewError> {
    let outside = || ReviewError::OutsideHeld(rec.id);
    let dir = rec.held_dir.as_deref().ok_or_else(outside)?;
    let held = ws.held().canonicalize().map_err(|_| outside())?;
    let dir = ws.root.join(dir).canonicalize().map_err(|_| outside())?;
    let named_by_id = dir.file_name().and_then(|n| n.to_str()) == Some(&rec.id.to_string());
    if dir.parent() != Some(held.as_path()) || !named_by_id {
        return Err(outside());
    }
    Ok(dir)
}

/// The clean copy of photo `id` (what approval would release) and its extension, read only from
/// inside `held/`.
pub fn clean_copy(ws: &Workspace, id: i64) -> Result<(Vec<u8>, &'static str), ReviewError> {
    let rec = journal::get(&ws.db()?, id)?;
    held_clean_copy(ws, &rec)
}

/// Where the moderator's edited caption is kept; the original sidecar stays untouched in
/// `original/`.
const EDITED_CAPTION: &str = dispose::EDITED_CAPTION;

/// A held photo's caption as the moderator sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Caption {
    /// The text (the moderator's edit if there is one, else the sidecar that came with the photo).
    pub text: Option<String>,
    /// True when `text` is the moderator's edit.
    pub edited: bool,
    /// Why the sidecar could not be read, when it could not.
    pub unreadable: Option<String>,
}

/// The current caption of a held photo.
pub fn caption(ws: &Workspace, rec: &PhotoRecord) -> Result<Caption, ReviewError> {
    let dir = held_folder(ws, rec)?;
    let edited = dir.join(EDITED_CAPTION);
    if std::fs::symlink_metadata(&edited).is_ok_and(|m| m.is_file()) {
        return Ok(
            match std::fs::read(&edited)
                .map_err(|e| e.to_string())
                .and_then(|b| crate::intake::decode_caption(&b))
            {
                Ok(text) => Caption {
                    text: Some(text),
                    edited: true,
                    unreadable: None,
                },
                Err(e) => Caption {
                    unreadable: Some(e),
                    edited: true,
                    ..Caption::default()
                },
            },
        );
    }
    let original = dispose::held_original_of(ws, rec, &dir);
    let Some(sidecar) = crate::intake::sidecar_for(&original) else {
        return Ok(Caption::default());
    };
    Ok(
        match std::fs::read(&sidecar)
            .map_err(|e| e.to_string())
            .and_then(|b| crate::intake::decode_caption(&b))
        {
            Ok(text) => Caption {
                text: Some(text.trim().to_string()),
                ..Caption::default()
            },
            Err(e) => Caption {
                unreadable: Some(e),
                ..Caption::default()
            },
        },
    )
}

/// What an edited caption does.
#[derive(Debug, Clone, Serialize)]
pub struct CaptionEdit {
    /// The students the new caption names or may name (then it is not released with the photo).
    pub names: Vec<CaptionHit>,
    /// Whether approval would release the new caption beside the photo.
    pub travels: bool,
    /// The photo's reasons after the edit (it stays held either way; approval is a separate step).
    pub reasons: Vec<Reason>,
}

/// Replace a held photo's caption. The new text is checked exactly as the gate checks a sidecar:
/// the sidecar's caption reasons are replaced by the new text's, and only a caption that names
/// nobody is released with the photo on approval — editing "Olivia Smith" into "O. Smith" still
/// keeps the caption back. The photo stays held; the original sidecar is kept untouched, and the
/// caption before and after go into the audit trail.
pub fn edit_caption(
    ws: &Workspace,
    id: i64,
    text: &str,
    note: &str,
    actor: &Actor,
) -> Result<CaptionEdit, ReviewError> {
    require_reviewer(actor)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    let chars = text.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(ReviewError::CaptionTooLong(chars));
    }
    let mut conn = ws.db()?;
    held_record(&conn, id)?;
    // Claimed before anything is written: a photo approved or rejected meanwhile keeps its caption.
    let (tx, rec) = claim_held(ws, &mut conn, id)?;
    let dir = held_folder(ws, &rec)?;
    let before = caption(ws, &rec)?;
    let judge = Judge::load(&tx)?;
    let names = judge.scan(text, &TextSource::Sidecar);
    let findings: Vec<Finding> = names
        .iter()
        .map(|hit| Finding::Caption {
            hit: hit.clone(),
            source: TextSource::Sidecar,
        })
        .collect();
    let policy = Policy::new(&ws.config, &rec.channel, Local::now().date_naive());
    let judgement = decide::decide(&findings, &policy, &judge.students);
    let mut reasons: Vec<Reason> = rec
        .reasons
        .iter()
        .filter(|r| !r.is_about_sidecar())
        .cloned()
        .collect();
    reasons.extend(judgement.verdict.reasons().iter().cloned());
    let reasons = decide::sorted(reasons);
    let travels = names.is_empty() && !text.is_empty();
    dispose::stage_caption_edit(ws, &dir, text)?;
    let now = Utc::now();
    journal::set_caption(&tx, id, travels.then_some(text))?;
    journal::set_findings(&tx, id, &reasons, &rec.faces)?;
    for h in &names {
        journal::record_appearance(&tx, id, &h.student_id, "caption (edited)")?;
    }
    let detail = serde_json::json!({
        "note": note,
        "before": before.text,
        "after": text,
        "names": names.iter().map(|h| &h.student_id).collect::<Vec<_>>(),
        "caption_released_on_approval": travels,
    });
    crate::audit::record(
        &tx,
        &actor.audit_name(),
        "caption-edited",
        &format!("photo #{id}"),
        &detail,
        now,
    )?;
    tx.commit()?;
    crate::crash_point!("caption.committed");
    dispose::commit_caption_edit(&dir)?;
    Ok(CaptionEdit {
        names,
        travels,
        reasons,
    })
}

/// What "this face is student X" changed.
#[derive(Debug, Clone, Serialize)]
pub struct FaceAttribution {
    /// The face (0-based, in the re-assessed list) with its new judgement.
    pub index: usize,
    pub finding: FaceFinding,
    /// The photo's reasons after re-assessment (it stays held; approval is a separate step).
    pub reasons: Vec<Reason>,
}

/// The moderator's "face `face` (0-based) is student `student`": adds a template for the student
/// from that face (as enrolment does, from the held clean copy; the photo itself is not kept in
/// the register), then re-judges every face of the photo against the register as the gate would,
/// so the page shows the new attribution and the reasons it leaves. The photo stays held: a face
/// now known to be a student without consent is still a reason, and releasing is a separate,
/// deliberate step.
pub fn attribute_face(
    ws: &Workspace,
    engine: &FaceEngine,
    id: i64,
    face: usize,
    student: &str,
    note: &str,
    actor: &Actor,
) -> Result<FaceAttribution, ReviewError> {
    require_reviewer(actor)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired);
    }
    let mut conn = ws.db()?;
    let rec = held_record(&conn, id)?;
    held_folder(ws, &rec)?;
    let before = rec
        .faces
        .get(face)
        .ok_or(ReviewError::NoSuchFace {
            id,
            face: face + 1,
            count: rec.faces.len(),
        })?
        .clone();
    if register::get_student(&conn, student)?.is_none() {
        return Err(ReviewError::UnknownStudent(student.to_string()));
    }
    // A face the gate recognised as someone else is not re-labelled: one mis-click would file
    // that student's face under this one, and later photos of them (burst shots, the same photo
    // for another channel) would then match this student, and could be released automatically.
    if let (decide::Band::Match, Some(other)) = (before.band, &before.student) {
        if other != student {
            return Err(ReviewError::FaceIsSomeoneElse {
                id,
                face: face + 1,
                other: other.clone(),
                distance: before.score.unwrap_or(0.0),
                student: student.to_string(),
            });
        }
    }
    let (bytes, _) = held_clean_copy(ws, &rec)?;
    let found = engine.faces_in(&bytes)?;
    let what = format!("photo #{id} face {}", face + 1);
    let (index, template) = enrol::template_for_face(&found, before.bbox, &what)?;
    let source = format!("moderator: {what}");

    // Re-read inside the write lock: a photo decided meanwhile is refused, and a caption edited
    // meanwhile keeps its reasons.
    let (tx, rec) = claim_held(ws, &mut conn, id)?;
    enrol::store_templates(&tx, student, std::slice::from_ref(&template), &source)?;
    let judge = Judge::load(&tx)?;
    let policy = Policy::new(&ws.config, &rec.channel, Local::now().date_naive());
    let matches = crate::gate::stages::faces::match_faces(&found, &judge.templates);
    let (findings, face_reasons) = decide::judge_faces(&matches, &policy, &judge.students);
    let mut reasons: Vec<Reason> = rec
        .reasons
        .iter()
        .filter(|r| !r.kind.is_face())
        .cloned()
        .collect();
    reasons.extend(face_reasons);
    let reasons = decide::sorted(reasons);
    let finding = findings
        .get(index)
        .cloned()
        .ok_or(ReviewError::NoSuchFace {
            id,
            face: face + 1,
            count: findings.len(),
        })?;
    let now = Utc::now();
    journal::set_findings(&tx, id, &reasons, &findings)?;
    journal::record_appearance(&tx, id, student, "face (moderator)")?;
    let actor = actor.audit_name();
    crate::audit::record(
        &tx,
        &actor,
        "face-attributed",
        &format!("photo #{id}"),
        &serde_json::json!({"note": note, "face": face + 1, "student": student, "before": before, "after": finding}),
        now,
    )?;
    crate::audit::record(
        &tx,
        &actor,
        "face-enrolled",
        student,
        &serde_json::json!({"source": source, "note": note}),
        now,
    )?;
    tx.commit()?;
    Ok(FaceAttribution {
        index,
        finding,
        reasons,
    })
}

/// The moderator actions that take a note, for their ready-made notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteFor {
    Approve,
    Redact,
    Reject,
    Ask,
    Caption,
    Face,
}

/// A ready-made note, and the reasons it is most likely the answer to (empty: any photo).
struct Preset {
    text: &'static str,
    fits: &'static [ReasonKind],
}

const FACE_DOUBT: &[ReasonKind] = &[
    ReasonKind::FaceUnknown,
    ReasonKind::FaceAmbiguous,
    ReasonKind::SmallFaces,
];
const CAPTION: &[ReasonKind] = &[
    ReasonKind::CaptionNamesStudent,
    ReasonKind::CaptionMayNameStudent,
];
const MAYBE_NAME: &[ReasonKind] = &[
    ReasonKind::CaptionMayNameStudent,
    ReasonKind::PictureTextMayNameStudent,
];
const PICTURE_TEXT: &[ReasonKind] = &[
    ReasonKind::PictureTextNamesStudent,
    ReasonKind::PictureTextMayNameStudent,
];
const UNREAD: &[ReasonKind] = &[
    ReasonKind::DamagedFile,
    ReasonKind::Unreadable,
    ReasonKind::UnsupportedFormat,
    ReasonKind::TooLarge,
    ReasonKind::SymbolicLink,
    ReasonKind::CaptionUnreadable,
    ReasonKind::FacesUnchecked,
    ReasonKind::PictureTextUnchecked,
];

const fn p(text: &'static str, fits: &'static [ReasonKind]) -> Preset {
    Preset { text, fits }
}

const APPROVE_NOTES: &[Preset] = &[
    p(
        "Consent checked with parent",
        &[
            ReasonKind::FaceNoConsent,
            ReasonKind::FaceAmbiguous,
            ReasonKind::FaceUnknown,
        ],
    ),
    p("Not a student (staff, parent or visitor)", FACE_DOUBT),
    p("Nobody is identifiable at full size", FACE_DOUBT),
    p("Caption fixed", CAPTION),
    p("Not a student's name here", MAYBE_NAME),
    p(
        "School device; photographer known",
        &[ReasonKind::UnregisteredDevice],
    ),
    p("Checked: fine to publish", &[]),
];
const REDACT_NOTES: &[Preset] = &[
    p(
        "Blurred the child on the no-publish list",
        &[ReasonKind::FaceNoPublish],
    ),
    p(
        "Blurred the child without consent",
        &[ReasonKind::FaceNoConsent],
    ),
    p(
        "Blurred faces too small to check",
        &[ReasonKind::SmallFaces],
    ),
    p("Blurred the name written in the picture", PICTURE_TEXT),
    p("Blurred everyone not cleared for this channel", &[]),
];
const REJECT_NOTES: &[Preset] = &[
    p("Child on the no-publish list", &[ReasonKind::FaceNoPublish]),
    p(
        "No consent, and blurring would spoil the photo",
        &[ReasonKind::FaceNoConsent],
    ),
    p("Damaged or unreadable file: ask for a re-export", UNREAD),
    p(
        "Taken on a personal device",
        &[ReasonKind::UnregisteredDevice],
    ),
    p(
        "Re-upload of a photo we rejected",
        &[ReasonKind::NearDuplicateOfRejected],
    ),
    p("Not suitable for publication", &[]),
];
const ASK_NOTES: &[Preset] = &[
    p("Not sure who this is", FACE_DOUBT),
    p(
        "Consent unclear: please check with the parent",
        &[ReasonKind::FaceNoConsent, ReasonKind::FaceAmbiguous],
    ),
    p(
        "Possible safeguarding concern",
        &[ReasonKind::FaceNoPublish],
    ),
    p("Please take a second look", &[]),
];
const CAPTION_NOTES: &[Preset] = &[
    p("Caption fixed: name removed", CAPTION),
    p("Caption shortened", &[]),
];
const FACE_NOTES: &[Preset] = &[
    p("Recognised by their form tutor", &[]),
    p("Checked against their ID photo", &[]),
];

fn presets_for(action: NoteFor) -> &'static [Preset] {
    match action {
        NoteFor::Approve => APPROVE_NOTES,
        NoteFor::Redact => REDACT_NOTES,
        NoteFor::Reject => REJECT_NOTES,
        NoteFor::Ask => ASK_NOTES,
        NoteFor::Caption => CAPTION_NOTES,
        NoteFor::Face => FACE_NOTES,
    }
}

/// The ready-made notes for `action` on a photo held for `reasons`: those that fit its reasons
/// first, then the rest (a moderator picks one instead of typing; any may be chosen).
pub fn note_presets(action: NoteFor, reasons: &[Reason]) -> Vec<&'static str> {
    let all = presets_for(action);
    let fits = |p: &Preset| reasons.iter().any(|r| p.fits.contains(&r.kind));
    all.iter()
        .filter(|p| fits(p))
        .chain(all.iter().filter(|p| !fits(p)))
        .map(|p| p.text)
        .collect()
}

/// The note an action records: a ready-made note (which must be one of `action`'s), the
/// moderator's own words, or both ("Consent checked with parent — mum phoned at 9").
pub fn compose_note(action: NoteFor, preset: &str, text: &str) -> Result<String, ReviewError> {
    let (preset, text) = (preset.trim(), text.trim());
    if !preset.is_empty() && !presets_for(action).iter().any(|p| p.text == preset) {
        return Err(ReviewError::UnknownPreset(preset.to_string()));
    }
    Ok(match (preset.is_empty(), text.is_empty()) {
        (false, false) => format!("{preset} \u{2014} {text}"),
        (false, true) => preset.to_string(),
        _ => text.to_string(),
    })
}

/// The event folder a photo was dropped in: its folder inside `staging/` ("" at the top).
pub fn event_folder(rec: &PhotoRecord) -> &str {
    rec.source_name.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Which held photos the moderator is working through: by reason kind or urgency, channel and
/// event folder (all optional; `None` is any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub kind: Option<ReasonKind>,
    pub urgency: Option<decide::Urgency>,
    pub channel: Option<String>,
    /// An event folder ([`event_folder`]); a photo in a sub-folder of it matches too. `""`: only
    /// photos at the top of staging.
    pub folder: Option<String>,
}

impl QueueFilter {
    pub fn is_empty(&self) -> bool {
        *self == QueueFilter::default()
    }

    pub fn matches(&self, rec: &PhotoRecord) -> bool {
        let folder = event_folder(rec);
        self.kind
            .is_none_or(|k| rec.reasons.iter().any(|r| r.kind == k))
            && self
                .urgency
                .is_none_or(|u| rec.reasons.iter().any(|r| r.kind.urgency() == u))
            && self.channel.as_ref().is_none_or(|c| &rec.channel == c)
            && self.folder.as_ref().is_none_or(|f| {
                folder == f
                    || !f.is_empty()
                        && folder
                            .strip_prefix(f.as_str())
                            .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

/// The photo to go to after photo `id` in `queue` (held photos in queue order, already
/// filtered): the next one after it, else the first (the queue wraps round), never `id` itself.
pub fn next_in_queue(queue: &[HeldItem], id: i64) -> Option<i64> {
    queue
        .iter()
        .map(|i| i.record.id)
        .find(|&other| other > id)
        .or_else(|| queue.iter().map(|i| i.record.id).find(|&other| other != id))
}

/// The photo before `id` in `queue` (wrapping round), never `id` itself.
pub fn previous_in_queue(queue: &[HeldItem], id: i64) -> Option<i64> {
    queue
        .iter()
        .rev()
        .map(|i| i.record.id)
        .find(|&other| other < id)
        .or_else(|| {
            queue
                .iter()
                .rev()
                .map(|i| i.record.id)
                .find(|&other| other != id)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .unwrap()
    }

    #[test]
    fn weekday_photos_are_due_24_hours_later_weekend_photos_by_the_end_of_monday() {
        // 2026-03-02 is a Monday.
        assert_eq!(due_at(at(2026, 3, 2, 9, 30)), at(2026, 3, 3, 9, 30));
        // Friday evening: 24 hours, so Saturday evening (the policy says "within 24 hours").
        assert_eq!(due_at(at(2026, 3, 6, 18, 0)), at(2026, 3, 7, 18, 0));
        // Saturday and Sunday: the end of Monday.
        assert_eq!(due_at(at(2026, 3, 7, 10, 0)), at(2026, 3, 10, 0, 0));
        assert_eq!(due_at(at(2026, 3, 8, 23, 59)), at(2026, 3, 10, 0, 0));
    }

    #[test]
    fn only_sidecar_caption_reasons_are_replaced_by_an_edit() {
        use crate::captions::{CaptionHit, Severity};
        let hit = CaptionHit {
            student_id: "A1001".into(),
            severity: Severity::Block,
            form: "full name".into(),
            part: false,
            matched: "Olivia Smith".into(),
            source: "x".into(),
            note: None,
        };
        let r = |source| decide::reasons::caption(&hit, &source, Some("Olivia Smith"));
        assert!(r(TextSource::Sidecar).is_about_sidecar());
        assert!(!r(TextSource::FileName).is_about_sidecar());
        assert!(!r(TextSource::Embedded("XMP dc:description".into())).is_about_sidecar());
        assert!(decide::reasons::caption_unreadable("bad bytes").is_about_sidecar());
        assert!(!decide::reasons::face_unknown(0, &[0.0; 4], None).is_about_sidecar());
    }

    #[test]
    fn ready_made_notes_fit_the_reasons_first_and_only_listed_ones_are_taken() {
        let r = |kind| Reason {
            kind,
            detail: String::new(),
            student: None,
            source: None,
            face: None,
            text: None,
        };
        let approve = note_presets(NoteFor::Approve, &[r(ReasonKind::CaptionNamesStudent)]);
        assert_eq!(approve[0], "Caption fixed");
        assert_eq!(approve.len(), APPROVE_NOTES.len(), "all offered");
        let reject = note_presets(NoteFor::Reject, &[r(ReasonKind::DamagedFile)]);
        assert_eq!(reject[0], "Damaged or unreadable file: ask for a re-export");
        assert_eq!(
            compose_note(NoteFor::Approve, "Consent checked with parent", "").unwrap(),
            "Consent checked with parent"
        );
        assert_eq!(
            compose_note(
                NoteFor::Approve,
                "Consent checked with parent",
                " mum phoned "
            )
            .unwrap(),
            "Consent checked with parent \u{2014} mum phoned"
        );
        assert_eq!(
            compose_note(NoteFor::Reject, "", " own words ").unwrap(),
            "own words"
        );
        assert_eq!(compose_note(NoteFor::Reject, " ", "").unwrap(), "");
        // A preset of another action, or made up, is refused rather than recorded as if chosen.
        assert!(matches!(
            compose_note(NoteFor::Reject, "Consent checked with parent", ""),
            Err(ReviewError::UnknownPreset(_))
        ));
    }

    #[test]
    fn the_queue_filter_and_next_previous_follow_queue_order() {
        let item = |id: i64, channel: &str, name: &str, kind: ReasonKind| HeldItem {
            record: PhotoRecord {
                id,
                content_hash: String::new(),
                channel: channel.into(),
                source_name: name.into(),
                state: PhotoState::Held,
                reasons: vec![Reason {
                    kind,
                    detail: String::new(),
                    student: None,
                    source: None,
                    face: None,
                    text: None,
                }],
                removed: vec![],
                caption: None,
                outbox_path: None,
                held_dir: None,
                clean_ext: None,
                created_at: Utc::now(),
                decided_at: None,
                faces: vec![],
                texts: vec![],
                staged_path: None,
                sidecar_path: None,
                sidecar_hash: None,
            },
            waiting_hours: 0.0,
            due_at: Utc::now(),
            overdue: false,
        };
        let all = [
            item(1, "website", "sports/a.jpg", ReasonKind::FaceNoPublish),
            item(2, "social", "sports/day 2/b.jpg", ReasonKind::DamagedFile),
            item(4, "website", "sportsday/c.jpg", ReasonKind::FaceNoPublish),
            item(7, "website", "d.jpg", ReasonKind::FaceUnknown),
        ];
        let ids = |f: &QueueFilter| -> Vec<i64> {
            all.iter()
                .filter(|i| f.matches(&i.record))
                .map(|i| i.record.id)
                .collect()
        };
        assert_eq!(ids(&QueueFilter::default()), [1, 2, 4, 7]);
        let folder = QueueFilter {
            folder: Some("sports".into()),
            ..QueueFilter::default()
        };
        assert_eq!(
            ids(&folder),
            [1, 2],
            "sub-folders count, look-alike names do not"
        );
        let kind = QueueFilter {
            kind: Some(ReasonKind::FaceNoPublish),
            channel: Some("website".into()),
            ..QueueFilter::default()
        };
        assert_eq!(ids(&kind), [1, 4]);
        let unread = QueueFilter {
            urgency: Some(decide::Urgency::CannotRead),
            ..QueueFilter::default()
        };
        assert_eq!(ids(&unread), [2]);
        assert_eq!(event_folder(&all[3].record), "");
        let top = QueueFilter {
            folder: Some(String::new()),
            ..QueueFilter::default()
        };
        assert_eq!(ids(&top), [7]);

        let queue: Vec<HeldItem> = all
            .iter()
            .filter(|i| kind.matches(&i.record))
            .cloned()
            .collect();
        assert_eq!(next_in_queue(&queue, 1), Some(4));
        assert_eq!(next_in_queue(&queue, 4), Some(1), "wraps round");
        // A photo just decided (no longer in the queue) goes on to the one after it.
        assert_eq!(next_in_queue(&queue, 2), Some(4));
        assert_eq!(previous_in_queue(&queue, 4), Some(1));
        assert_eq!(previous_in_queue(&queue, 1), Some(4));
        assert_eq!(next_in_queue(&queue[..1], 1), None, "nothing else left");
    }
}
