//! The gate: one photo's way through the stages, and a whole run over staging.
//!
//! `assess` is pure (bytes and caption in, decision and clean copy out), so `check` explains exactly
//! what `run` would do. `run` adds intake, the durable release or hold, and the journal. Each file
//! move is preceded by a write-ahead journal record, and `recover` finishes any record a killed run
//! left pending, so a re-run ends in the same state as an uninterrupted run.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{Local, NaiveDate, Utc};
use rayon::prelude::*;
use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::captions::{NameMatcher, TextSource};
use crate::config::{Config, FaceAction};
use crate::decide::{self, Decision, FaceFinding, FacePolicy, Reason, ReasonKind, Template};
use crate::faces::{FaceEngine, FaceError};
use crate::formats::{self, Cleaned};
use crate::intake::{self, Candidate, Found, SidecarRead};
use crate::journal::{self, JournalError, NewPhoto, PhotoRecord, PhotoState};
use crate::lock::{LockError, WorkspaceLock};
use crate::outbox::{self, OutboxError};
use crate::register::{SchoolDevice, Student};
use crate::workspace::{Workspace, WorkspaceError};

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("unknown channel {0:?}; the channels in consentgate.toml are: {1}")]
    UnknownChannel(String, String),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Faces(#[from] FaceError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Everything a photo is judged against, built once per run and shared by all threads.
pub struct Context {
    pub channel: String,
    pub config: Config,
    matcher: NameMatcher,
    names: HashMap<String, String>,
    devices: Vec<SchoolDevice>,
    limits: formats::Limits,
    /// Today, for consent expiry and neutral names.
    pub today: NaiveDate,
    /// The face models; `None` when `[faces] enabled = false`. Shared so a refreshed context
    /// (register changed under a running `watch`) does not load them again.
    engine: Option<Arc<FaceEngine>>,
    templates: Vec<Template>,
    students: HashMap<String, Student>,
    face_policy: FacePolicy,
    /// Whole-image hashes of rejected photos (trusted quality only), for re-upload detection.
    rejected: Vec<RejectedHash>,
}

/// A rejected photo's PDQ hash and that of its mirror image.
#[derive(Debug, Clone)]
pub struct RejectedHash {
    pub photo_id: i64,
    pub hash: [u8; 32],
    pub mirror: [u8; 32],
}

/// The eight dihedral PDQ hashes of a clean photo (JPEG: fast reduced decode).
pub fn photo_pdq(clean: &Cleaned) -> Result<crate::pdq::Dihedrals, String> {
    if clean.format == formats::Format::Jpeg {
        return crate::pdq::hash_jpeg(&clean.bytes).map_err(|e| e.to_string());
    }
    let img = formats::decode_rgb(&clean.bytes).map_err(|e| e.to_string())?;
    Ok(crate::pdq::hash_dihedral(&img))
}

impl Context {
    pub fn new(
        config: &Config,
        channel: &str,
        students: &[Student],
        devices: Vec<SchoolDevice>,
        templates: Vec<Template>,
    ) -> Result<Context, GateError> {
        Context::with_engine(config, channel, students, devices, templates, None)
    }

    fn with_engine(
        config: &Config,
        channel: &str,
        students: &[Student],
        devices: Vec<SchoolDevice>,
        templates: Vec<Template>,
        engine: Option<Arc<FaceEngine>>,
    ) -> Result<Context, GateError> {
        if !config.gate.channels.iter().any(|c| c == channel) {
            return Err(GateError::UnknownChannel(
                channel.to_string(),
                config.gate.channels.join(", "),
            ));
        }
        let people: Vec<_> = students.iter().map(Student::person_name).collect();
        Ok(Context {
            channel: channel.to_string(),
            config: config.clone(),
            matcher: NameMatcher::new(&people),
            names: students
                .iter()
                .map(|s| (s.id.clone(), s.display_name()))
                .collect(),
            devices,
            limits: config.format_limits(),
            today: Local::now().date_naive(),
            engine: match (config.faces.enabled, engine) {
                (false, _) => None,
                (true, Some(e)) => Some(e),
                (true, None) => Some(Arc::new(FaceEngine::load()?)),
            },
            templates,
            students: students.iter().map(|s| (s.id.clone(), s.clone())).collect(),
            rejected: Vec::new(),
            face_policy: face_policy(config),
        })
    }

    /// Build from a workspace's register (read-only use of `conn`).
    pub fn from_workspace(
        ws: &Workspace,
        conn: &Connection,
        channel: &str,
    ) -> Result<Context, GateError> {
        Context::load(ws, conn, channel, None)
    }

    /// The same context rebuilt from the register and configuration as they are now, keeping the
    /// loaded face models (loading them is the slow part). A stale register would be a leak: a
    /// withdrawal or a newly enrolled no-publish face must apply to the very next photo.
    pub fn refreshed(&self, ws: &Workspace, conn: &Connection) -> Result<Context, GateError> {
        Context::load(ws, conn, &self.channel, self.engine.clone())
    }

    fn load(
        ws: &Workspace,
        conn: &Connection,
        channel: &str,
        engine: Option<Arc<FaceEngine>>,
    ) -> Result<Context, GateError> {
        let students = crate::register::all_students(conn)?;
        let devices = crate::register::devices(conn)?;
        let templates = crate::register::templates(conn)?;
        let mut ctx =
            Context::with_engine(&ws.config, channel, &students, devices, templates, engine)?;
        ctx.rejected = crate::journal::rejected_hashes(conn)?
            .into_iter()
            .filter_map(|(photo_id, hash, mirror, quality)| {
                let (hash, mirror) = (
                    crate::pdq::Pdq::from_hex(&hash)?,
                    crate::pdq::Pdq::from_hex(&mirror)?,
                );
                (quality >= crate::pdq::MIN_QUALITY).then_some(RejectedHash {
                    photo_id,
                    hash,
                    mirror,
                })
            })
            .collect();
        Ok(ctx)
    }
}

/// What the gate concluded about one photo.
#[derive(Debug)]
pub struct Assessment {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    pub cleaned: Option<Cleaned>,
    /// The sidecar caption, when it was read and named nobody: the only caption that may travel.
    pub clean_caption: Option<String>,
    /// (student id, how) for every student linked to the photo.
    pub students: Vec<(String, String)>,
    /// Every face found, with how it was judged.
    pub faces: Vec<FaceFinding>,
    /// How many faces were blurred in the released copy (config `action = "redact"`).
    pub redacted: usize,
}

/// Judge one photo. `name` is its path relative to staging (folder names are captions too).
pub fn assess(
    ctx: &Context,
    name: &str,
    bytes: &[u8],
    sidecar: Option<Result<String, String>>,
) -> Assessment {
    let mut reasons = Vec::new();
    let mut cleaned = match formats::clean_file(name, bytes, &ctx.limits) {
        Ok(c) => Some(c),
        Err(e) => {
            reasons.push(decide::format_reason(&e));
            None
        }
    };

    let mut texts: Vec<(TextSource, String)> = Vec::new();
    let mut sidecar_text = None;
    match sidecar {
        Some(Ok(t)) => {
            sidecar_text = Some(t.trim().to_string());
            texts.push((TextSource::Sidecar, t));
        }
        Some(Err(e)) => reasons.push(Reason {
            kind: ReasonKind::CaptionUnreadable,
            detail: format!("the caption file cannot be read ({e}); save it as plain text (UTF-8) and drop both files again"),
            student: None,
        }),
        None => {}
    }
    if let Some(c) = &cleaned {
        texts.extend(
            c.embedded_text
                .iter()
                .map(|t| (TextSource::Embedded(t.field.clone()), t.text.clone())),
        );
    }
    if ctx.config.gate.check_file_names {
        let path = Path::new(name);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let folders = path
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        texts.extend(
            folders
                .chain(std::iter::once(stem))
                .map(|t| (TextSource::FileName, t)),
        );
    }

    let mut students = Vec::new();
    let mut sidecar_named_someone = false;
    for (source, text) in &texts {
        for hit in ctx.matcher.scan(text, source) {
            sidecar_named_someone |= *source == TextSource::Sidecar;
            students.push((hit.student_id.clone(), format!("caption ({})", hit.source)));
            reasons.push(decide::caption_reason(
                &hit,
                ctx.names.get(&hit.student_id).map(String::as_str),
            ));
        }
    }

    if ctx.config.gate.require_school_devices {
        if let Some(c) = &cleaned {
            let d = &c.device;
            if !ctx
                .devices
                .iter()
                .any(|reg| reg.matches(d.make.as_deref(), d.model.as_deref(), d.serial.as_deref()))
            {
                reasons.push(decide::device_reason(d));
            }
        }
    }

    let mut faces = Vec::new();
    if let (Some(engine), Some(c)) = (&ctx.engine, &cleaned) {
        match engine.faces_in(&c.bytes) {
            Ok(found) => {
                let (findings, face_reasons) = decide::judge_faces(
                    &found,
                    &ctx.templates,
                    &ctx.students,
                    &ctx.channel,
                    ctx.today,
                    &ctx.face_policy,
                );
                for f in &findings {
                    if let (decide::Band::Match, Some(id), Some(d)) = (f.band, &f.student, f.score)
                    {
                        students.push((id.clone(), format!("face (distance {d:.2})")));
                    }
                }
                reasons.extend(face_reasons);
                faces = findings;
            }
            Err(e) => reasons.push(Reason {
                kind: ReasonKind::FacesUnchecked,
                detail: format!("{e}; the photo is held because its faces could not be checked"),
                student: None,
            }),
        }
    }

    // Re-upload of a rejected photo (resized, re-encoded, mirrored or rotated).
    if let (false, Some(c)) = (ctx.rejected.is_empty(), &cleaned) {
        match photo_pdq(c) {
            Ok(d) if d.quality >= crate::pdq::MIN_QUALITY => {
                let limit = ctx.config.faces.reupload_distance;
                let hit = ctx
                    .rejected
                    .iter()
                    .map(|r| (r, d.min_distance(&r.hash).min(d.min_distance(&r.mirror))))
                    .min_by_key(|(_, dist)| *dist);
                if let Some((r, dist)) = hit.filter(|(_, dist)| *dist <= limit) {
                    reasons.push(Reason {
                        kind: ReasonKind::NearDuplicateOfRejected,
                        detail: format!("near-duplicate of rejected photo #{} (PDQ distance {dist} of 256, limit {limit}); `consentgate review show {}` says why it was rejected", r.photo_id, r.photo_id),
                        student: None,
                    });
                }
            }
            // Too flat to hash reliably (PDQ quality < 50): nothing to compare.
            Ok(_) => {}
            Err(e) => reasons.push(Reason {
                kind: ReasonKind::FacesUnchecked,
                detail: format!("the photo could not be compared with rejected photos ({e})"),
                student: None,
            }),
        }
    }

    // Redaction instead of a hold, when every reason is a face that blurring removes.
    let mut redacted = 0;
    if ctx.face_policy.action == FaceAction::Redact
        && !reasons.is_empty()
        && reasons.iter().all(|r| decide::redactable(r.kind))
    {
        if let Some(c) = &mut cleaned {
            match redact_copy(c, &faces) {
                Ok(n) => {
                    redacted = n;
                    reasons.clear();
                }
                Err(e) => reasons.push(Reason {
                    kind: ReasonKind::FacesUnchecked,
                    detail: format!("redaction failed ({e}); held instead"),
                    student: None,
                }),
            }
        }
    }

    let (decision, reasons) = decide::decide(reasons);
    students.sort();
    students.dedup();
    Assessment {
        decision,
        reasons,
        cleaned,
        clean_caption: sidecar_text.filter(|t| !sidecar_named_someone && !t.is_empty()),
        students,
        faces,
        redacted,
    }
}

/// Crop-hash bits within which a face is the same picture as an enrolment photo.
const SAME_PICTURE_BITS: u32 = 20;

/// How faces are judged under this config; the moderator's re-assessment uses the same rules.
pub fn face_policy(config: &Config) -> FacePolicy {
    FacePolicy {
        match_distance: config.faces.match_distance,
        ambiguous_distance: config.faces.ambiguous_distance,
        unknown_faces: config.faces.unknown_faces,
        action: config.faces.action,
        same_picture_bits: SAME_PICTURE_BITS,
    }
}

/// Replace the clean copy with one whose non-publishable faces are blurred. Returns how many.
pub fn redact_copy(clean: &mut Cleaned, faces: &[FaceFinding]) -> Result<usize, String> {
    let boxes: Vec<[f32; 4]> = faces
        .iter()
        .filter(|f| !f.may_publish)
        .map(|f| f.bbox)
        .collect();
    let mut img = crate::faces::decode_upright(&clean.bytes).map_err(|e| e.to_string())?;
    crate::redact::redact(&mut img, &boxes);
    clean.bytes = crate::redact::encode_jpeg(&img).map_err(|e| e.to_string())?;
    clean.extension = "jpg";
    clean.format = formats::Format::Jpeg;
    clean
        .removed
        .push(format!("{} face(s) blurred", boxes.len()));
    Ok(boxes.len())
}

/// What happened to one file, as `run --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct PhotoOutcome {
    pub file: String,
    pub decision: Outcome,
    /// Where the clean copy went (relative to the workspace), when released.
    pub outbox: Option<String>,
    /// The journal id a moderator uses with `review`, when held.
    pub id: Option<i64>,
    pub reasons: Vec<Reason>,
    /// Identifying metadata found and removed.
    pub removed: Vec<String>,
    /// Anything else staff should know (left in staging, already processed...).
    pub note: Option<String>,
    /// Every face found and how it was judged (also when released).
    pub faces: Vec<FaceFinding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Released,
    Held,
    /// Not taken this time (still being written, changed while read, or an error writing).
    LeftInStaging,
}

impl PhotoOutcome {
    fn left(file: &str, note: String) -> PhotoOutcome {
        PhotoOutcome {
            file: file.to_string(),
            decision: Outcome::LeftInStaging,
            outbox: None,
            id: None,
            reasons: vec![],
            removed: vec![],
            note: Some(note),
            faces: vec![],
        }
    }
}

/// A run's totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub released: usize,
    pub held: usize,
    pub held_by_reason: BTreeMap<String, usize>,
    /// Files left in staging because they were still being written.
    pub waiting: usize,
    /// Files left in staging because of an error (disk full, read-only outbox...).
    pub errors: usize,
    /// Files whose content had already been gated (removed from staging).
    pub already_processed: usize,
    /// Unfinished work from an interrupted run, finished now.
    pub recovered: usize,
    /// Settled files not started (or judged but not recorded, because the register changed
    /// meanwhile) because the gate was asked to stop; they stay in staging, untouched.
    pub not_started: usize,
    pub seconds: f64,
    pub images_per_second: f64,
    /// When the earliest file still settling will be ready (for `watch` to come back then).
    #[serde(skip)]
    pub next_ready: Option<SystemTime>,
}

impl Summary {
    /// 0 all released, 1 something held, 2 an error (or stopped before everything was gated).
    pub fn exit_code(&self) -> u8 {
        if self.errors > 0 || self.not_started > 0 {
            2
        } else if self.held > 0 {
            1
        } else {
            0
        }
    }
}

/// Who runs the gate and where the output goes.
pub struct RunOptions<'a> {
    pub channel: &'a str,
    pub actor: &'a str,
}

/// Callbacks for progress display and stopping; all may be called from several threads.
pub trait Progress: Sync {
    fn start(&self, _total: usize) {}
    fn photo_done(&self, _outcome: &PhotoOutcome) {}
    /// Asked before each photo is started: `true` starts no more (photos in hand are finished,
    /// never left half-done), e.g. after SIGTERM.
    fn should_stop(&self) -> bool {
        false
    }
    /// Asked after a photo is judged and before anything about it is written: `true` (the
    /// register changed meanwhile) leaves it untouched in staging, to be judged again.
    fn register_changed(&self) -> bool {
        false
    }
}

/// The note of a photo put back because the register changed while it was judged.
const REJUDGE: &str = "not recorded: the register changed while it was judged; judged again";

impl Progress for () {}

struct Run<'a> {
    ws: &'a Workspace,
    ctx: &'a Context,
    progress: &'a dyn Progress,
    db: Mutex<Connection>,
    actor: &'a str,
    claimed: Mutex<HashSet<String>>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Gate every settled file in staging once: take the workspace lock (refused if another `run` or
/// a `watch` has it), load the register and models, gate, record the run.
pub fn run(
    ws: &Workspace,
    opts: &RunOptions<'_>,
    progress: &dyn Progress,
) -> Result<(Vec<PhotoOutcome>, Summary), GateError> {
    let lock = WorkspaceLock::acquire(&ws.root, "run", opts.channel)?;
    let conn = ws.db()?;
    let ctx = Context::from_workspace(ws, &conn, opts.channel)?;
    let run_id = journal::begin_run(&conn, "run", opts.channel, opts.actor, Utc::now())?;
    let result = pass(ws, &lock, &ctx, opts.actor, progress);
    let (outcome, totals) = match &result {
        Ok((_, s)) if s.not_started > 0 => ("stopped", Some(s)),
        Ok((_, s)) => ("finished", Some(s)),
        Err(_) => ("failed", None),
    };
    if let Some(s) = totals {
        journal::record_pass(&conn, run_id, s.released, s.held, s.errors, Utc::now())?;
    }
    journal::end_run(&conn, run_id, outcome, Utc::now())?;
    result
}

/// One pass over staging with a prepared context, under a lock the caller holds (`watch` keeps
/// one context and one lock across many passes). Finishes what an interrupted run left pending,
/// then gates every settled file in parallel.
pub fn pass(
    ws: &Workspace,
    _lock: &WorkspaceLock,
    ctx: &Context,
    actor: &str,
    progress: &dyn Progress,
) -> Result<(Vec<PhotoOutcome>, Summary), GateError> {
    let started = Instant::now();
    let run = Run {
        ws,
        ctx,
        progress,
        db: Mutex::new(ws.db()?),
        actor,
        claimed: Mutex::new(HashSet::new()),
    };
    outbox::clean_temporaries(&ws.root);
    let recovered = run.recover()?;

    let settle = Duration::from_secs(ws.config.gate.settle_seconds);
    let candidates = intake::scan(&ws.staging(), settle, SystemTime::now());
    let next_ready = candidates
        .iter()
        .filter_map(|c| match c.found {
            Found::Settling { ready_at } => Some(ready_at),
            _ => None,
        })
        .min();
    progress.start(candidates.len());
    /// What became of a candidate in the parallel sweep.
    enum Step {
        Done(PhotoOutcome),
        /// Another file in this run has the same content: decided after it.
        SameContent,
        NotStarted,
    }
    let results: Vec<(Candidate, Step)> = candidates
        .into_par_iter()
        .map(|c| {
            if progress.should_stop() {
                return (c, Step::NotStarted);
            }
            match run.process(&c) {
                Some(o) if o.note.as_deref() == Some(REJUDGE) => (c, Step::NotStarted),
                Some(o) => {
                    progress.photo_done(&o);
                    (c, Step::Done(o))
                }
                None => (c, Step::SameContent),
            }
        })
        .collect();
    // Files whose content another file in this run was handling: now that one is decided, these
    // are duplicates of decided content.
    let mut outcomes = Vec::with_capacity(results.len());
    let mut not_started = 0;
    for (c, step) in results {
        let o = match step {
            Step::Done(o) => o,
            Step::NotStarted => {
                not_started += 1;
                continue;
            }
            Step::SameContent if progress.should_stop() => {
                not_started += 1;
                continue;
            }
            Step::SameContent => {
                let o = run.process(&c).unwrap_or_else(|| {
                    PhotoOutcome::left(&c.name, "duplicate of another photo in this run".into())
                });
                if o.note.as_deref() == Some(REJUDGE) {
                    not_started += 1;
                    continue;
                }
                progress.photo_done(&o);
                o
            }
        };
        outcomes.push(o);
    }

    let mut s = Summary {
        recovered,
        not_started,
        next_ready,
        ..Summary::default()
    };
    for o in &outcomes {
        match o.decision {
            Outcome::Released => s.released += 1,
            Outcome::Held => {
                s.held += 1;
                let kinds: std::collections::BTreeSet<_> =
                    o.reasons.iter().map(|r| r.kind.label()).collect();
                for k in kinds {
                    *s.held_by_reason.entry(k.to_string()).or_default() += 1;
                }
            }
            Outcome::LeftInStaging
                if o.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("still being written")) =>
            {
                s.waiting += 1
            }
            Outcome::LeftInStaging => s.errors += 1,
        }
        if o.note.as_deref().is_some_and(|n| n.starts_with("already")) {
            s.already_processed += 1;
        }
    }
    s.seconds = started.elapsed().as_secs_f64();
    s.images_per_second = if s.seconds > 0.0 {
        (s.released + s.held) as f64 / s.seconds
    } else {
        0.0
    };
    Ok((outcomes, s))
}

impl Run<'_> {
    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now() -> chrono::DateTime<Utc> {
        Utc::now()
    }

    /// Finish what a killed run left pending.
    fn recover(&self) -> Result<usize, GateError> {
        let pending = journal::in_state(
            &self.db(),
            &[PhotoState::PendingRelease, PhotoState::PendingHold],
        )?;
        let mut n = 0;
        for rec in pending {
            let staged = self.ws.staging().join(&rec.source_name);
            let done = match rec.state {
                PhotoState::PendingRelease => rec
                    .outbox_path
                    .as_ref()
                    .is_some_and(|p| self.ws.root.join(p).is_file()),
                _ => rec.held_dir.as_ref().is_some_and(|d| {
                    held_original(&self.ws.root.join(d), &rec.source_name).exists()
                }),
            };
            if done {
                let state = if rec.state == PhotoState::PendingRelease {
                    PhotoState::Released
                } else {
                    PhotoState::Held
                };
                self.finalise(&rec, state, true)?;
                let _ = outbox::remove_original(&staged, &rec.content_hash);
                n += 1;
            } else {
                // Nothing durable happened; the original is still in staging and is gated again now.
                if let Some(d) = &rec.held_dir {
                    let _ = std::fs::remove_dir_all(self.ws.root.join(d));
                }
                journal::delete_pending(&self.db(), rec.id)?;
            }
        }
        Ok(n)
    }

    fn finalise(
        &self,
        rec: &PhotoRecord,
        state: PhotoState,
        recovered: bool,
    ) -> Result<(), GateError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let now = Self::now();
        journal::set_state(&tx, rec.id, state, now)?;
        let detail = serde_json::json!({
            "file": rec.source_name, "channel": rec.channel, "content_hash": rec.content_hash,
            "outbox": rec.outbox_path, "held": rec.held_dir, "reasons": rec.reasons, "recovered": recovered,
        });
        journal::audit(
            &tx,
            self.actor,
            state.as_str(),
            &format!("photo #{}", rec.id),
            &detail,
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Gate one candidate. `None` means another file in this run has the same content: try later.
    fn process(&self, c: &Candidate) -> Option<PhotoOutcome> {
        let settle = self.ws.config.gate.settle_seconds;
        let (size, modified) = match &c.found {
            Found::Settling { .. } => {
                return Some(PhotoOutcome::left(
                    &c.name,
                    format!("still being written; it is taken once unchanged for {settle} s"),
                ))
            }
            Found::SymbolicLink { target } => {
                let r = Reason {
                    kind: ReasonKind::SymbolicLink,
                    detail: format!("a symbolic link to {target}; links are never followed — copy the photo itself into staging"),
                    student: None,
                };
                return Some(self.hold_unread(c, &format!("symlink\0{}\0{target}", c.name), r));
            }
            Found::Ready { size, modified } => (*size, *modified),
        };
        let max = self
            .ws
            .config
            .limits
            .max_file_megabytes
            .saturating_mul(1_000_000);
        if size > max {
            let r = Reason {
                kind: ReasonKind::TooLarge,
                detail: format!(
                    "the file is {} MB, over the {} MB limit; export a smaller copy",
                    size / 1_000_000,
                    max / 1_000_000
                ),
                student: None,
            };
            return Some(self.hold_unread(
                c,
                &format!("large\0{}\0{size}\0{modified:?}", c.name),
                r,
            ));
        }
        let bytes = match std::fs::read(&c.path) {
            Ok(b) => b,
            Err(e) => {
                let r = Reason {
                    kind: ReasonKind::Unreadable,
                    detail: format!(
                        "the file cannot be read ({e}); check its permissions and copy it again"
                    ),
                    student: None,
                };
                return Some(self.hold_unread(
                    c,
                    &format!("unreadable\0{}\0{size}\0{modified:?}", c.name),
                    r,
                ));
            }
        };
        // A file that changed while we read it is not the file we judged.
        let unchanged = std::fs::symlink_metadata(&c.path).is_ok_and(|m| {
            m.len() == size && m.len() == bytes.len() as u64 && m.modified().ok() == Some(modified)
        });
        if !unchanged {
            return Some(PhotoOutcome::left(
                &c.name,
                "changed while it was being read; it is taken on a later run, once settled".into(),
            ));
        }
        let hash = sha256_hex(&bytes);
        match journal::find(&self.db(), &hash, &self.ctx.channel) {
            Ok(Some(rec)) => return Some(self.already(c, rec)),
            Ok(None) => {}
            Err(e) => {
                return Some(PhotoOutcome::left(
                    &c.name,
                    format!("the journal could not be read: {e}"),
                ))
            }
        }
        // The sidecar as it is now, not as it was at the scan (which may be minutes ago): a caption
        // written or rewritten since is judged only once it has settled, never half-written.
        let caption_settling = || {
            PhotoOutcome::left(
                &c.name,
                format!("its caption file is still being written; it is taken once unchanged for {settle} s"),
            )
        };
        let judged = match intake::sidecar_for(&c.path) {
            None => None,
            Some(path) => {
                match intake::read_sidecar(&path, Duration::from_secs(settle), SystemTime::now()) {
                    SidecarRead::Settling => return Some(caption_settling()),
                    SidecarRead::Read(bytes) => Some(JudgedSidecar {
                        path,
                        bytes: Ok(bytes),
                    }),
                    SidecarRead::Unreadable(e) => Some(JudgedSidecar {
                        path,
                        bytes: Err(e),
                    }),
                }
            }
        };
        if !self
            .claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.clone())
        {
            return None;
        }
        let unclaim = || {
            self.claimed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&hash);
        };
        let sidecar = judged
            .as_ref()
            .map(|j| j.bytes.clone().and_then(|b| intake::decode_caption(&b)));
        let a = assess(self.ctx, &c.name, &bytes, sidecar);
        if self.progress.register_changed() {
            unclaim();
            return Some(PhotoOutcome::left(&c.name, REJUDGE.into()));
        }
        // Judging takes a while (faces): a caption that arrived, changed or went meanwhile is not
        // the one judged, so nothing is decided on it; the photo is judged again later.
        if !judged.as_ref().map_or_else(
            || intake::sidecar_for(&c.path).is_none(),
            |j| j.unchanged(&c.path),
        ) {
            unclaim();
            return Some(caption_settling());
        }
        Some(match a.decision {
            Decision::Released => self.release(c, &hash, a, judged.as_ref()),
            Decision::Held => self.hold(c, &hash, a, judged.as_ref().map(|j| j.path.as_path())),
        })
    }

    /// The same content was gated before: its fate stands; the staged copy is removed.
    fn already(&self, c: &Candidate, rec: PhotoRecord) -> PhotoOutcome {
        let removed = outbox::remove_original(&c.path, &rec.content_hash);
        let decision = match rec.state {
            PhotoState::Released | PhotoState::Approved | PhotoState::PendingRelease => {
                Outcome::Released
            }
            _ => Outcome::Held,
        };
        let note = match removed {
            Ok(_) => format!(
                "already processed as photo #{} ({}); the duplicate was removed from staging",
                rec.id,
                rec.state.as_str()
            ),
            Err(e) => format!(
                "already processed as photo #{} ({}); could not remove the duplicate: {e}",
                rec.id,
                rec.state.as_str()
            ),
        };
        PhotoOutcome {
            file: c.name.clone(),
            decision,
            outbox: rec.outbox_path,
            id: Some(rec.id),
            reasons: rec.reasons,
            removed: rec.removed,
            note: Some(note),
            faces: rec.faces,
        }
    }

    fn release(
        &self,
        c: &Candidate,
        hash: &str,
        a: Assessment,
        sidecar: Option<&JudgedSidecar>,
    ) -> PhotoOutcome {
        let Some(clean) = a.cleaned else {
            return PhotoOutcome::left(
                &c.name,
                "internal error: released without a clean copy".into(),
            );
        };
        let file_name = outbox::neutral_name(self.ctx.today, &clean.bytes, clean.extension);
        let rel = Path::new("outbox").join(&self.ctx.channel).join(&file_name);
        let dest = self.ws.root.join(&rel);
        let rel_s = rel.to_string_lossy().into_owned();
        let rec = NewPhoto {
            content_hash: hash,
            channel: &self.ctx.channel,
            source_name: &c.name,
            state: PhotoState::PendingRelease,
            reasons: &[],
            removed: &clean.removed,
            caption: a.clean_caption.as_deref(),
            clean_ext: Some(clean.extension),
            faces: &a.faces,
        };
        let id = match self.begin(&rec, Some(&rel_s), None, &a.students) {
            Ok(id) => id,
            Err(e) => {
                return PhotoOutcome::left(
                    &c.name,
                    format!("the journal could not be written: {e}"),
                )
            }
        };
        let written = (|| -> Result<(), OutboxError> {
            if let Some(caption) = &a.clean_caption {
                outbox::write_durably(
                    &self.ws.root,
                    &dest.with_extension("txt"),
                    caption.as_bytes(),
                )?;
            }
            outbox::write_durably(&self.ws.root, &dest, &clean.bytes)
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(dest.with_extension("txt"));
            let _ = journal::delete_pending(&self.db(), id);
            return PhotoOutcome::left(&c.name, format!("not released: {e}"));
        }
        let outcome = PhotoOutcome {
            file: c.name.clone(),
            decision: Outcome::Released,
            outbox: Some(rel_s),
            id: Some(id),
            reasons: vec![],
            removed: clean.removed,
            note: (a.redacted > 0)
                .then(|| format!("{} face(s) blurred before release", a.redacted)),
            faces: a.faces,
        };
        self.finish(c, hash, id, sidecar, outcome)
    }

    fn hold(
        &self,
        c: &Candidate,
        hash: &str,
        a: Assessment,
        sidecar: Option<&Path>,
    ) -> PhotoOutcome {
        let held = Held {
            reasons: a.reasons,
            cleaned: a.cleaned.as_ref(),
            clean_caption: a.clean_caption.as_deref(),
            students: &a.students,
            faces: &a.faces,
        };
        self.hold_parts(c, hash, held, sidecar)
    }

    /// Hold a file the gate must not or cannot read: move it (a link itself, never its target).
    fn hold_unread(&self, c: &Candidate, key: &str, reason: Reason) -> PhotoOutcome {
        let hash = sha256_hex(key.as_bytes());
        if let Ok(Some(rec)) = journal::find(&self.db(), &hash, &self.ctx.channel) {
            return self.already(c, rec);
        }
        let held = Held {
            reasons: vec![reason],
            cleaned: None,
            clean_caption: None,
            students: &[],
            faces: &[],
        };
        self.hold_parts(c, &hash, held, None)
    }

    /// Write-ahead record, then `held/<id>/`: the clean copy (if any), `reasons.json`, and last the
    /// original with its caption file.
    fn hold_parts(
        &self,
        c: &Candidate,
        hash: &str,
        h: Held<'_>,
        sidecar: Option<&Path>,
    ) -> PhotoOutcome {
        let removed = h.cleaned.map(|x| x.removed.clone()).unwrap_or_default();
        let rec = NewPhoto {
            content_hash: hash,
            channel: &self.ctx.channel,
            source_name: &c.name,
            state: PhotoState::PendingHold,
            reasons: &h.reasons,
            removed: &removed,
            caption: h.clean_caption,
            clean_ext: h.cleaned.map(|x| x.extension),
            faces: h.faces,
        };
        let id = match self.begin(&rec, None, None, h.students) {
            Ok(id) => id,
            Err(e) => {
                return PhotoOutcome::left(
                    &c.name,
                    format!("the journal could not be written: {e}"),
                )
            }
        };
        let dir = outbox::held_dir(&self.ws.held(), id);
        let stored = (|| -> Result<(), OutboxError> {
            if let Some(clean) = h.cleaned {
                outbox::write_durably(
                    &self.ws.root,
                    &outbox::held_clean_path(&dir, clean.extension),
                    &clean.bytes,
                )?;
            }
            let record = serde_json::json!({"file": c.name, "channel": self.ctx.channel, "reasons": h.reasons});
            outbox::write_durably(
                &self.ws.root,
                &dir.join("reasons.json"),
                &serde_json::to_vec_pretty(&record).unwrap_or_default(),
            )?;
            self.move_original(c, &dir, sidecar)
        })();
        let mut outcome = self.after_hold(c, hash, id, &dir, stored, h.reasons, removed, sidecar);
        outcome.faces = h.faces.to_vec();
        outcome
    }

    fn move_original(
        &self,
        c: &Candidate,
        dir: &Path,
        sidecar: Option<&Path>,
    ) -> Result<(), OutboxError> {
        let originals = outbox::held_original_dir(dir);
        if let Some(s) = sidecar {
            if let Some(n) = s.file_name() {
                outbox::move_durably(&self.ws.root, s, &originals.join(n))?;
            }
        }
        // Moved last: its presence in held/ is what marks the hold as durable.
        outbox::move_durably(&self.ws.root, &c.path, &held_original(dir, &c.name))
    }

    #[allow(clippy::too_many_arguments)]
    fn after_hold(
        &self,
        c: &Candidate,
        hash: &str,
        id: i64,
        dir: &Path,
        stored: Result<(), OutboxError>,
        reasons: Vec<Reason>,
        removed: Vec<String>,
        sidecar: Option<&Path>,
    ) -> PhotoOutcome {
        if let Err(e) = stored {
            // Put back what moved, so nothing is lost and the next run starts clean.
            let originals = outbox::held_original_dir(dir);
            if let (Some(s), Some(n)) = (sidecar, sidecar.and_then(Path::file_name)) {
                let _ = std::fs::rename(originals.join(n), s);
            }
            let _ = std::fs::remove_dir_all(dir);
            let _ = journal::delete_pending(&self.db(), id);
            return PhotoOutcome::left(
                &c.name,
                format!("should be held but could not be moved: {e}"),
            );
        }
        let rel = dir
            .strip_prefix(&self.ws.root)
            .unwrap_or(dir)
            .to_string_lossy()
            .into_owned();
        let outcome = PhotoOutcome {
            file: c.name.clone(),
            decision: Outcome::Held,
            outbox: None,
            id: Some(id),
            reasons,
            removed,
            note: Some(format!("held as #{id} in {rel}")),
            faces: vec![],
        };
        self.finish(c, hash, id, None, outcome)
    }

    /// Write-ahead record: the intended fate and where its files will go.
    fn begin(
        &self,
        rec: &NewPhoto<'_>,
        outbox_path: Option<&str>,
        held: Option<&str>,
        students: &[(String, String)],
    ) -> Result<i64, GateError> {
        let mut db = self.db();
        let tx = db.transaction()?;
        let id = journal::insert_pending(&tx, rec, Self::now())?;
        let held_dir = match rec.state {
            PhotoState::PendingHold => Some(
                held.map(String::from)
                    .unwrap_or_else(|| format!("held/{id}")),
            ),
            _ => None,
        };
        journal::set_paths(&tx, id, outbox_path, held_dir.as_deref())?;
        for (student, via) in students {
            journal::record_appearance(&tx, id, student, via)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Record the fate, then remove the original from staging if it is still there.
    fn finish(
        &self,
        c: &Candidate,
        hash: &str,
        id: i64,
        sidecar: Option<&JudgedSidecar>,
        mut outcome: PhotoOutcome,
    ) -> PhotoOutcome {
        let state = if outcome.decision == Outcome::Released {
            PhotoState::Released
        } else {
            PhotoState::Held
        };
        let rec = journal::get(&self.db(), id);
        let recorded = rec
            .map_err(GateError::from)
            .and_then(|rec| self.finalise(&rec, state, false));
        if let Err(e) = recorded {
            // The file is durable where it went; the next run's recovery records it.
            outcome.note = Some(format!(
                "{}; the journal could not be updated ({e}); run again to record it",
                outcome.note.unwrap_or_default()
            ));
            return outcome;
        }
        if state == PhotoState::Released {
            if let Err(e) = outbox::remove_original(&c.path, hash) {
                outcome.note = Some(format!(
                    "released, but the original could not be removed from staging: {e}"
                ));
            }
            // The staff's caption goes only if it is still the one judged; one rewritten since
            // stays in staging for them to see.
            if let Some(s) = sidecar {
                if s.unchanged(&c.path) {
                    let _ = std::fs::remove_file(&s.path);
                } else {
                    outcome.note = Some(format!(
                        "released, but its caption file changed just as it was released and was left in staging: check {}",
                        s.path.display()
                    ));
                }
            }
        }
        outcome
    }
}

/// The sidecar a photo was judged with: where it was and what it held.
struct JudgedSidecar {
    path: PathBuf,
    bytes: Result<Vec<u8>, String>,
}

impl JudgedSidecar {
    /// Is the photo's sidecar still this one, with the same content?
    fn unchanged(&self, photo: &Path) -> bool {
        intake::sidecar_for(photo).as_deref() == Some(self.path.as_path())
            && match &self.bytes {
                Ok(judged) => std::fs::read(&self.path).is_ok_and(|now| &now == judged),
                // Unreadable then: still unreadable or not, it holds the photo (never releases).
                Err(_) => true,
            }
    }
}

/// What a hold records and keeps.
struct Held<'a> {
    reasons: Vec<Reason>,
    cleaned: Option<&'a Cleaned>,
    clean_caption: Option<&'a str>,
    students: &'a [(String, String)],
    faces: &'a [FaceFinding],
}

/// Where a held original lives: `held/<id>/original/<its file name>`.
pub fn held_original(dir: &Path, source_name: &str) -> PathBuf {
    let name = Path::new(source_name)
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "original".into());
    outbox::held_original_dir(dir).join(name)
}

/// Read a file to `check` it, with its sidecar unless a caption is given.
pub fn check_file(
    ctx: &Context,
    path: &Path,
    caption: Option<&str>,
) -> Result<(Assessment, String), GateError> {
    let bytes = std::fs::read(path).map_err(|source| GateError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let sidecar = match caption {
        Some(t) => Some(Ok(t.to_string())),
        None => intake::sidecar_for(path).map(|p| {
            std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| intake::decode_caption(&b))
        }),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((assess(ctx, &name, &bytes, sidecar), name))
}
