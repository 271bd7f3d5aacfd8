//! The journal and the audit trail.
//!
//! The journal (`photos`) records every photo's content hash, source name, state, reasons and
//! where its copies are, so a re-run never processes the same content twice and a killed run can
//! be finished. The audit trail is append-only and hash-chained: each row carries the hash of the
//! one before, so an edited or removed row breaks the chain and `audit verify` says where.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::decide::{FaceFinding, Reason, TextFinding};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the journal holds a record it cannot read ({0}); run `consentgate audit verify`")]
    Corrupt(String),
    #[error("no photo #{0} in the journal; `consentgate review list` shows held photos")]
    NoSuchPhoto(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoState {
    PendingRelease,
    PendingHold,
    Released,
    Held,
    Approved,
    Rejected,
}

impl PhotoState {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoState::PendingRelease => "pending_release",
            PhotoState::PendingHold => "pending_hold",
            PhotoState::Released => "released",
            PhotoState::Held => "held",
            PhotoState::Approved => "approved",
            PhotoState::Rejected => "rejected",
        }
    }
    fn parse(s: &str) -> Result<PhotoState, JournalError> {
        Ok(match s {
            "pending_release" => PhotoState::PendingRelease,
            "pending_hold" => PhotoState::PendingHold,
            "released" => PhotoState::Released,
            "held" => PhotoState::Held,
            "approved" => PhotoState::Approved,
            "rejected" => PhotoState::Rejected,
            other => return Err(JournalError::Corrupt(format!("state {other:?}"))),
        })
    }
}

/// One photo's journal record.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoRecord {
    pub id: i64,
    pub content_hash: String,
    pub channel: String,
    pub source_name: String,
    pub state: PhotoState,
    pub reasons: Vec<Reason>,
    pub removed: Vec<String>,
    pub caption: Option<String>,
    pub outbox_path: Option<String>,
    pub held_dir: Option<String>,
    pub clean_ext: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub faces: Vec<FaceFinding>,
    /// Every line of text read in the picture (empty in records older than migration 6).
    pub texts: Vec<TextFinding>,
    /// The photo's path in staging relative to the staging folder, as raw bytes (a name need not
    /// be UTF-8); `None` in records older than migration 4 (then `source_name` is the path).
    #[serde(skip)]
    pub staged_path: Option<Vec<u8>>,
    /// Its caption file's path in staging (raw bytes), and the SHA-256 of the caption judged.
    #[serde(skip)]
    pub sidecar_path: Option<Vec<u8>>,
    #[serde(skip)]
    pub sidecar_hash: Option<String>,
}

const PHOTO_COLUMNS: &str =
    "id, content_hash, channel, source_name, state, reasons, removed, caption, outbox_path, held_dir, clean_ext, created_at, decided_at, faces, staged_path, sidecar_path, sidecar_hash, texts";

fn parse_time(s: &str) -> Result<DateTime<Utc>, JournalError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| JournalError::Corrupt(format!("time {s:?}: {e}")))
}

fn record_from_row(r: &rusqlite::Row<'_>) -> Result<PhotoRecord, JournalError> {
    let reasons: String = r.get(5)?;
    let removed: String = r.get(6)?;
    let created: String = r.get(11)?;
    let decided: Option<String> = r.get(12)?;
    Ok(PhotoRecord {
        id: r.get(0)?,
        content_hash: r.get(1)?,
        channel: r.get(2)?,
        source_name: r.get(3)?,
        state: PhotoState::parse(&r.get::<_, String>(4)?)?,
        reasons: serde_json::from_str(&reasons)
            .map_err(|e| JournalError::Corrupt(e.to_string()))?,
        removed: serde_json::from_str(&removed)
            .map_err(|e| JournalError::Corrupt(e.to_string()))?,
        caption: r.get(7)?,
        outbox_path: r.get(8)?,
        held_dir: r.get(9)?,
        clean_ext: r.get(10)?,
        created_at: parse_time(&created)?,
        decided_at: decided.as_deref().map(parse_time).transpose()?,
        faces: serde_json::from_str(&r.get::<_, String>(13)?)
            .map_err(|e| JournalError::Corrupt(e.to_string()))?,
        staged_path: r.get(14)?,
        sidecar_path: r.get(15)?,
        sidecar_hash: r.get(16)?,
        texts: serde_json::from_str(&r.get::<_, String>(17)?)
            .map_err(|e| JournalError::Corrupt(e.to_string()))?,
    })
}

fn query_records(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<PhotoRecord>, JournalError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {PHOTO_COLUMNS} FROM photos {filter}"))?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(record_from_row(row)?);
    }
    Ok(out)
}

pub fn find(
    conn: &Connection,
    content_hash: &str,
    channel: &str,
) -> Result<Option<PhotoRecord>, JournalError> {
    Ok(query_records(
        conn,
        "WHERE content_hash = ?1 AND channel = ?2",
        params![content_hash, channel],
    )?
    .pop())
}

pub fn get(conn: &Connection, id: i64) -> Result<PhotoRecord, JournalError> {
    query_records(conn, "WHERE id = ?1", [id])?
        .pop()
        .ok_or(JournalError::NoSuchPhoto(id))
}

pub fn in_state(
    conn: &Connection,
    states: &[PhotoState],
) -> Result<Vec<PhotoRecord>, JournalError> {
    let list = states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",");
    query_records(conn, &format!("WHERE state IN ({list}) ORDER BY id"), [])
}

/// What a new journal record starts with.
pub struct NewPhoto<'a> {
    pub content_hash: &'a str,
    pub channel: &'a str,
    pub source_name: &'a str,
    pub state: PhotoState,
    pub reasons: &'a [Reason],
    pub removed: &'a [String],
    pub caption: Option<&'a str>,
    pub clean_ext: Option<&'a str>,
    pub faces: &'a [FaceFinding],
    pub texts: &'a [TextFinding],
    /// Raw bytes of the staged path (relative to staging), of its sidecar, and the sidecar's hash.
    pub staged_path: &'a [u8],
    pub sidecar_path: Option<&'a [u8]>,
    pub sidecar_hash: Option<&'a str>,
}

/// Write-ahead: record the intended fate before touching any file, so a killed run can finish it.
pub fn insert_pending(
    conn: &Connection,
    p: &NewPhoto<'_>,
    now: DateTime<Utc>,
) -> Result<i64, JournalError> {
    conn.execute(
        "INSERT INTO photos (content_hash, channel, source_name, state, reasons, removed, caption, clean_ext, created_at, faces, staged_path, sidecar_path, sidecar_hash, texts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            p.content_hash,
            p.channel,
            p.source_name,
            p.state.as_str(),
            json(p.reasons),
            json(p.removed),
            p.caption,
            p.clean_ext,
            now.to_rfc3339(),
            json(p.faces),
            p.staged_path,
            p.sidecar_path,
            p.sidecar_hash,
            json(p.texts)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

fn json<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub fn set_paths(
    conn: &Connection,
    id: i64,
    outbox_path: Option<&str>,
    held_dir: Option<&str>,
) -> Result<(), JournalError> {
    conn.execute("UPDATE photos SET outbox_path = COALESCE(?2, outbox_path), held_dir = COALESCE(?3, held_dir) WHERE id = ?1", params![id, outbox_path, held_dir])?;
    Ok(())
}

pub fn set_state(
    conn: &Connection,
    id: i64,
    state: PhotoState,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    conn.execute(
        "UPDATE photos SET state = ?2, decided_at = ?3 WHERE id = ?1",
        params![id, state.as_str(), now.to_rfc3339()],
    )?;
    Ok(())
}

/// Move photo `id` from state `from` to `to`, only if it is still in `from`. Returns whether it
/// moved. Call it inside a `BEGIN IMMEDIATE` transaction that also read the state, so that two
/// moderators (or a moderator and the CLI) acting at once cannot both move the same photo: the one
/// that loses sees `false` and must undo whatever it did.
pub fn transition(
    conn: &Connection,
    id: i64,
    from: PhotoState,
    to: PhotoState,
    now: DateTime<Utc>,
) -> Result<bool, JournalError> {
    let changed = conn.execute(
        "UPDATE photos SET state = ?3, decided_at = ?4 WHERE id = ?1 AND state = ?2",
        params![id, from.as_str(), to.as_str(), now.to_rfc3339()],
    )?;
    Ok(changed == 1)
}

/// Replace a photo's reasons and face findings (a moderator's re-assessment of a held photo).
pub fn set_findings(
    conn: &Connection,
    id: i64,
    reasons: &[Reason],
    faces: &[FaceFinding],
) -> Result<(), JournalError> {
    conn.execute(
        "UPDATE photos SET reasons = ?2, faces = ?3 WHERE id = ?1",
        params![id, json(reasons), json(faces)],
    )?;
    Ok(())
}

/// A held photo's clean copy could not be kept (or re-made): approval is then refused.
pub fn clear_clean_copy(conn: &Connection, id: i64) -> Result<(), JournalError> {
    conn.execute("UPDATE photos SET clean_ext = NULL WHERE id = ?1", [id])?;
    Ok(())
}

/// Set the caption that travels with the photo on release (`None`: no caption is released).
pub fn set_caption(conn: &Connection, id: i64, caption: Option<&str>) -> Result<(), JournalError> {
    conn.execute(
        "UPDATE photos SET caption = ?2 WHERE id = ?1",
        params![id, caption],
    )?;
    Ok(())
}

/// Forget an unfinished record whose files never moved (the photo is still in staging).
pub fn delete_pending(conn: &Connection, id: i64) -> Result<(), JournalError> {
    conn.execute(
        "DELETE FROM photos WHERE id = ?1 AND state IN ('pending_release', 'pending_hold')",
        [id],
    )?;
    Ok(())
}

pub fn record_appearance(
    conn: &Connection,
    photo_id: i64,
    student_id: &str,
    via: &str,
) -> Result<(), JournalError> {
    conn.execute(
        "INSERT INTO appearances (photo_id, student_id, via) VALUES (?1, ?2, ?3)",
        params![photo_id, student_id, via],
    )?;
    Ok(())
}

/// A published photo a student appears in: what to take down when consent is withdrawn.
#[derive(Debug, Clone, Serialize)]
pub struct Takedown {
    pub photo_id: i64,
    pub channel: String,
    pub outbox_path: String,
    pub published_at: Option<DateTime<Utc>>,
    pub via: String,
}

pub fn takedown_list(
    conn: &Connection,
    student_id: &str,
    channel: Option<&str>,
) -> Result<Vec<Takedown>, JournalError> {
    let mut stmt = conn.prepare(
        "SELECT p.id, p.channel, p.outbox_path, p.decided_at, group_concat(DISTINCT a.via) FROM appearances a JOIN photos p ON p.id = a.photo_id
         WHERE a.student_id = ?1 AND p.state IN ('released', 'approved') AND p.outbox_path IS NOT NULL AND (?2 IS NULL OR p.channel = ?2)
         GROUP BY p.id ORDER BY p.decided_at",
    )?;
    let mut rows = stmt.query(params![student_id, channel])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let at: Option<String> = r.get(3)?;
        out.push(Takedown {
            photo_id: r.get(0)?,
            channel: r.get(1)?,
            outbox_path: r.get(2)?,
            published_at: at.as_deref().map(parse_time).transpose()?,
            via: r.get(4)?,
        });
    }
    Ok(out)
}

/// Record a rejected photo's whole-image hash (hex) and its mirror's, for re-upload detection.
pub fn add_rejected_hash(
    conn: &Connection,
    photo_id: i64,
    hash: &str,
    mirror: &str,
    quality: u8,
) -> Result<(), JournalError> {
    conn.execute(
        "INSERT INTO rejected_hashes (photo_id, hash, mirror, quality) VALUES (?1, ?2, ?3, ?4)",
        params![photo_id, hash, mirror, quality],
    )?;
    Ok(())
}

/// Every rejected photo's (id, hash, mirror hash, quality).
pub fn rejected_hashes(conn: &Connection) -> Result<Vec<(i64, String, String, u8)>, JournalError> {
    let mut stmt = conn
        .prepare("SELECT photo_id, hash, mirror, quality FROM rejected_hashes ORDER BY photo_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// How many times the register (students, consent, devices, face templates, rejected photos) has
/// changed; SQLite triggers count every change, so a long-running gate knows when to reload.
pub fn register_version(conn: &Connection) -> Result<i64, JournalError> {
    Ok(conn.query_row(
        "SELECT version FROM register_version WHERE only = 1",
        [],
        |r| r.get(0),
    )?)
}

/// One `run` or `watch`, as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: i64,
    pub command: String,
    pub channel: String,
    pub actor: String,
    pub pid: i64,
    pub started_at: DateTime<Utc>,
    pub last_pass_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `finished`, `stopped` (by a signal) or `failed`; `None` while running or after a crash.
    pub outcome: Option<String>,
    pub passes: i64,
    pub released: i64,
    pub held: i64,
    pub left_in_staging: i64,
}

/// Record that a `run` or `watch` started. Returns its id for [`record_pass`] and [`end_run`].
pub fn begin_run(
    conn: &Connection,
    command: &str,
    channel: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<i64, JournalError> {
    conn.execute(
        "INSERT INTO runs (command, channel, actor, pid, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            command,
            channel,
            actor,
            std::process::id(),
            now.to_rfc3339()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Add one pass over staging to a run's totals.
pub fn record_pass(
    conn: &Connection,
    run: i64,
    released: usize,
    held: usize,
    left_in_staging: usize,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    conn.execute(
        "UPDATE runs SET passes = passes + 1, released = released + ?2, held = held + ?3,
         left_in_staging = left_in_staging + ?4, last_pass_at = ?5 WHERE id = ?1",
        params![
            run,
            released as i64,
            held as i64,
            left_in_staging as i64,
            now.to_rfc3339()
        ],
    )?;
    Ok(())
}

/// Record how a run ended: `finished`, `stopped` or `failed`.
pub fn end_run(
    conn: &Connection,
    run: i64,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), JournalError> {
    conn.execute(
        "UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
        params![run, now.to_rfc3339(), outcome],
    )?;
    Ok(())
}

/// The most recent `run` or `watch`.
pub fn last_run(conn: &Connection) -> Result<Option<RunRecord>, JournalError> {
    let row = conn
        .query_row(
            "SELECT id, command, channel, actor, pid, started_at, last_pass_at, finished_at, outcome,
                    passes, released, held, left_in_staging
             FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    (
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                    ),
                    (
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                    ),
                    (
                        r.get::<_, i64>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, i64>(11)?,
                        r.get::<_, i64>(12)?,
                    ),
                ))
            },
        )
        .optional()?;
    let Some(((id, command, channel, actor, pid), times, counts)) = row else {
        return Ok(None);
    };
    let (started, last_pass, finished, outcome) = times;
    let (passes, released, held, left_in_staging) = counts;
    Ok(Some(RunRecord {
        id,
        command,
        channel,
        actor,
        pid,
        started_at: parse_time(&started)?,
        last_pass_at: last_pass.as_deref().map(parse_time).transpose()?,
        finished_at: finished.as_deref().map(parse_time).transpose()?,
        outcome,
        passes,
        released,
        held,
        left_in_staging,
    }))
}

/// How many journal rows are in each state.
pub fn state_counts(
    conn: &Connection,
) -> Result<std::collections::BTreeMap<String, i64>, JournalError> {
    let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM photos GROUP BY state")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Released (or approved) photos per channel.
pub fn released_per_channel(
    conn: &Connection,
) -> Result<std::collections::BTreeMap<String, i64>, JournalError> {
    let mut stmt = conn.prepare(
        "SELECT channel, COUNT(*) FROM photos WHERE state IN ('released', 'approved') GROUP BY channel",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
