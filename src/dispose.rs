//! The disposer: the one place a photo's fate becomes durable on disk, for the gate (release,
//! hold) and for the moderator (approve, redact-and-release), and the one place that finishes
//! what a killed process left half-done.
//!
//! The contract, step by step (each step is a named crash point, `crash_point!`, that the kill
//! tests abort the real binary at):
//!
//! - **Release**: write-ahead record (`pending_release`, naming the outbox file and the staged
//!   caption with its hash) → caption `.txt` → photo (each: temp, fsync, rename, fsync dir) →
//!   state `released` + audit row, one transaction → caption, then original, removed from
//!   staging (only if still the content judged; a staged duplicate of released content and its
//!   caption are removed by the next run). Recovery: the photo in the outbox means released
//!   (finish the removals); no photo means nothing was published (remove a lone `.txt`, forget
//!   the record, gate it again).
//! - **Hold**: write-ahead record (`pending_hold`, naming `held/<id>`, the staged photo and its
//!   caption) → `clean.<ext>` → `reasons.json` → photo moved → caption moved → state `held` +
//!   audit. Recovery always completes a hold forward — once a hold has begun, the photo is never
//!   gated again, so a caption that named a student can never be separated from its photo.
//!   Only when the judged content is gone from both staging and `held/` (replaced by a new file
//!   mid-hold) is the hold undone, and the new content gated as what it is.
//! - **Publish a held photo** (moderator: approve, redact-and-release): inside the action's
//!   `BEGIN IMMEDIATE` transaction, an intent file `held/<id>/publishing.json` naming source and
//!   destination → a blurred copy kept in `held/<id>/` (redaction) → the journal transition and
//!   audit row, committed → caption and photo into the outbox → intent removed. The decision is
//!   durable before anything reaches the outbox, so the outbox never holds a photo the journal
//!   says is held, not even for an instant. Recovery (under the same database write lock): an
//!   intent whose photo was approved is finished; one whose photo is still held is dropped.
//! - **Edit a held photo's caption**: the new text is staged beside the photo, the change
//!   committed, then the staged text becomes the caption; recovery keeps a staged text only if
//!   its audit row was committed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use chrono::Utc;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::decide::{FaceFinding, Reason, TextFinding};
use crate::formats::Cleaned;
use crate::gate::{LeftReason, Outcome, PhotoOutcome, Warning};
use crate::journal::{self, JournalError, NewPhoto, PhotoRecord, PhotoState};
use crate::outbox::{self, OutboxError};
use crate::workspace::Workspace;

/// Abort the process here when a test asks (`FAILPOINTS=<name>=return`): a real death at a
/// durable step. Compiled in only when the `fail` crate's `failpoints` feature is on, which the
/// dev-dependency turns on for `cargo test` builds and nothing turns on for a release build.
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        fail::fail_point!($name, |_| std::process::abort())
    };
}

#[derive(Debug, thiserror::Error)]
pub enum DisposeError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    #[error("the decision is recorded, but its outbox file could not be written yet ({0}); it is written the next time `consentgate run`, `watch` or a review command runs")]
    Unfinished(String),
    #[error(
        "the register changed after the photo was judged; it is judged again with the new register"
    )]
    RegisterChanged,
    #[error("cannot finish photo #{id} left by an interrupted run ({what}); check {path}, then run again")]
    Recover { id: i64, what: String, path: String },
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A photo in staging, as it was read and judged.
pub struct Staged<'a> {
    /// Where it is.
    pub path: &'a Path,
    /// Its path relative to staging, as shown to people.
    pub name: &'a str,
    /// SHA-256 of the bytes judged, or (a file the gate did not read) an [`unread_key`].
    pub hash: &'a str,
}

/// The journal key of a file held unread (a link, too large, unreadable): not a content hash,
/// so nothing checks file content against it.
pub fn unread_key(what: &str) -> String {
    format!("unread:{}", sha256_hex(what.as_bytes()))
}

fn is_content_hash(h: &str) -> bool {
    !h.starts_with("unread:")
}

/// The caption file a photo was judged with: where it was and what it held.
pub struct StagedSidecar {
    pub path: PathBuf,
    pub bytes: Result<Vec<u8>, String>,
    /// When it last changed as it was read (`None` when it could not be read).
    pub changed: Option<std::time::SystemTime>,
}

impl StagedSidecar {
    /// Is the photo's sidecar still this one, with the same content?
    pub fn unchanged(&self, photo: &Path) -> bool {
        crate::intake::sidecar_for(photo).as_deref() == Some(self.path.as_path())
            && match &self.bytes {
                Ok(judged) => {
                    crate::intake::changed_at(&self.path) == self.changed
                        && std::fs::read(&self.path).is_ok_and(|now| &now == judged)
                        && crate::intake::changed_at(&self.path) == self.changed
                }
                // Unreadable then: still unreadable or not, it holds the photo (never releases).
                Err(_) => true,
            }
    }
    fn hash(&self) -> Option<String> {
        self.bytes.as_ref().ok().map(|b| sha256_hex(b))
    }
}

/// What the gate decided to do with a photo, and what the journal keeps about it.
pub struct Fate<'a> {
    pub channel: &'a str,
    pub cleaned: Option<&'a Cleaned>,
    pub clean_caption: Option<&'a str>,
    pub students: &'a [(String, String)],
    pub faces: &'a [FaceFinding],
    /// Every line of text read in the picture.
    pub texts: &'a [TextFinding],
    pub redacted: usize,
}

/// What a release was judged with: recorded only while both are still current.
#[derive(Debug, Clone, Copy)]
pub struct JudgedUnder {
    /// The day the consent in the register was read for (consent can end at midnight).
    pub today: chrono::NaiveDate,
    /// The register's version; `None` for a context built from parts (tests, benches).
    pub register_version: Option<i64>,
}

/// The gate's disposer: one per pass, shared by its threads.
pub struct Disposer<'a> {
    pub ws: &'a Workspace,
    /// Who started the run or watch (audited as `started_by`; the actor is [`crate::audit::GATE`]).
    pub actor: &'a str,
    db: Mutex<Connection>,
}

fn rel_bytes(staging: &Path, p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.strip_prefix(staging)
        .unwrap_or(p)
        .as_os_str()
        .as_bytes()
        .to_vec()
}

fn from_bytes(base: &Path, b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    base.join(std::ffi::OsStr::from_bytes(b))
}

/// Where a held original lives: `held/<id>/original/<its file name>`.
pub fn held_original(dir: &Path, staged: &Path) -> PathBuf {
    let name = staged
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "original".into());
    outbox::held_original_dir(dir).join(name)
}

/// The file name of a held photo's original: from the raw staged path when the record has one.
pub fn held_original_of(ws: &Workspace, rec: &PhotoRecord, dir: &Path) -> PathBuf {
    let staged = staged_path(ws, rec);
    held_original(dir, &staged)
}

fn staged_path(ws: &Workspace, rec: &PhotoRecord) -> PathBuf {
    match &rec.staged_path {
        Some(b) => from_bytes(&ws.staging(), b),
        None => ws.staging().join(&rec.source_name),
    }
}

fn file_hash(p: &Path) -> Option<String> {
    std::fs::read(p).ok().map(|b| sha256_hex(&b))
}

impl<'a> Disposer<'a> {
    pub fn new(ws: &'a Workspace, actor: &'a str) -> Result<Disposer<'a>, DisposeError> {
        Ok(Disposer {
            ws,
            actor,
            db: Mutex::new(ws.db()?),
        })
    }

    pub fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_record<'r>(
        &self,
        s: &'r Staged<'r>,
        f: &'r Fate<'r>,
        state: PhotoState,
        reasons: &'r [Reason],
        staged_path: &'r [u8],
        sidecar: Option<(&'r [u8], Option<&'r str>)>,
    ) -> NewPhoto<'r> {
        NewPhoto {
            content_hash: s.hash,
            channel: f.channel,
            source_name: s.name,
            state,
            reasons,
            removed: f.cleaned.map(|c| c.removed.as_slice()).unwrap_or(&[]),
            caption: f.clean_caption,
            clean_ext: f.cleaned.map(|c| c.extension),
            faces: f.faces,
            texts: f.texts,
            staged_path,
            sidecar_path: sidecar.map(|(p, _)| p),
            sidecar_hash: sidecar.and_then(|(_, h)| h),
        }
    }

    /// Write-ahead record: the intended fate and where its files will go. With `judged_under`,
    /// the record is written only if the register is still at that version and the day has not
    /// turned: the check and the write are one immediate transaction, so a register change that
    /// commits while a photo is judged can never be overtaken by that photo's release.
    fn begin(
        &self,
        rec: &NewPhoto<'_>,
        outbox_path: Option<&str>,
        students: &[(String, String)],
        judged_under: Option<JudgedUnder>,
    ) -> Result<i64, DisposeError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Some(j) = judged_under {
            let current = j.register_version.map_or(Ok(true), |v| {
                journal::register_version(&tx).map(|now| now == v)
            })?;
            if !current || chrono::Local::now().date_naive() != j.today {
                return Err(DisposeError::RegisterChanged);
            }
        }
        let id = journal::insert_pending(&tx, rec, Utc::now())?;
        let held_dir = (rec.state == PhotoState::PendingHold).then(|| format!("held/{id}"));
        journal::set_paths(&tx, id, outbox_path, held_dir.as_deref())?;
        for (student, via) in students {
            journal::record_appearance(&tx, id, student, via)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// The fate is on disk: record it, with its audit row, in one transaction.
    fn finalise(
        &self,
        rec: &PhotoRecord,
        state: PhotoState,
        recovered: bool,
    ) -> Result<(), DisposeError> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = Utc::now();
        journal::set_state(&tx, rec.id, state, now)?;
        let detail = serde_json::json!({
            "file": rec.source_name, "channel": rec.channel, "content_hash": rec.content_hash,
            "outbox": rec.outbox_path, "held": rec.held_dir, "reasons": rec.reasons, "recovered": recovered,
            "started_by": self.actor,
        });
        // The decision is the gate's, not the person's who started it (recorded as `started_by`).
        crate::audit::record(
            &tx,
            crate::audit::GATE,
            state.as_str(),
            &format!("photo #{}", rec.id),
            &detail,
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn finalise_id(&self, id: i64, state: PhotoState) -> Result<(), DisposeError> {
        let rec = journal::get(&self.db(), id)?;
        self.finalise(&rec, state, false)
    }

    /// Release a judged photo: its clean copy (and a caption that named nobody) into the outbox.
    pub fn release(
        &self,
        s: &Staged<'_>,
        sidecar: Option<&StagedSidecar>,
        f: &Fate<'_>,
        judged_under: JudgedUnder,
    ) -> PhotoOutcome {
        let Some(clean) = f.cleaned else {
            return PhotoOutcome::left(
                s.name,
                LeftReason::WriteFailed {
                    held: false,
                    error: "internal error: released without a clean copy".into(),
                },
            );
        };
        let file_name = outbox::neutral_name(judged_under.today, &clean.bytes, clean.extension);
        let rel = Path::new("outbox").join(f.channel).join(&file_name);
        let dest = self.ws.root.join(&rel);
        let rel_s = rel.to_string_lossy().into_owned();
        let staging = self.ws.staging();
        let staged_path = rel_bytes(&staging, s.path);
        let side_path = sidecar.map(|j| rel_bytes(&staging, &j.path));
        let side_hash = sidecar.and_then(StagedSidecar::hash);
        let rec = self.new_record(
            s,
            f,
            PhotoState::PendingRelease,
            &[],
            &staged_path,
            side_path.as_deref().map(|p| (p, side_hash.as_deref())),
        );
        let id = match self.begin(&rec, Some(&rel_s), f.students, Some(judged_under)) {
            Ok(id) => id,
            Err(DisposeError::RegisterChanged) => {
                return PhotoOutcome::left(s.name, LeftReason::RegisterChanged)
            }
            Err(e) => {
                return PhotoOutcome::left(s.name, LeftReason::JournalUnavailable(e.to_string()))
            }
        };
        crash_point!("release.journaled");
        let caption_dest = dest.with_extension("txt");
        let written = (|| -> Result<(), OutboxError> {
            if let Some(caption) = f.clean_caption {
                outbox::write_durably(&self.ws.root, &caption_dest, caption.as_bytes())?;
                crash_point!("release.caption-written");
            }
            outbox::write_durably(&self.ws.root, &dest, &clean.bytes)
        })();
        if let Err(e) = written {
            if f.clean_caption.is_some() {
                let _ = std::fs::remove_file(&caption_dest);
            }
            let _ = journal::delete_pending(&self.db(), id);
            return PhotoOutcome::left(
                s.name,
                LeftReason::WriteFailed {
                    held: false,
                    error: e.to_string(),
                },
            );
        }
        crash_point!("release.photo-written");
        let mut warning = None;
        if let Err(e) = self.finalise_id(id, PhotoState::Released) {
            // The file is durable where it went; the next run's recovery records it.
            warning = Some(Warning::JournalNotUpdated(e.to_string()));
        } else {
            crash_point!("release.recorded");
            // The caption first: a photo still in staging is recognised as already released
            // (and removed, with its caption) by the next run, but a lone caption would wait
            // for a photo forever. The staff's caption goes only if it is still the one judged;
            // one rewritten since stays in staging for them to see.
            if let Some(j) = sidecar {
                if j.unchanged(s.path) {
                    let _ = std::fs::remove_file(&j.path);
                    crash_point!("release.caption-removed");
                } else {
                    warning = Some(Warning::CaptionChanged(crate::intake::display_name(
                        j.path.as_os_str(),
                    )));
                }
            }
            if let Err(e) = outbox::remove_original(s.path, s.hash) {
                warning = Some(Warning::OriginalNotRemoved(e.to_string()));
            }
            crash_point!("release.original-removed");
        }
        PhotoOutcome {
            file: s.name.to_string(),
            outcome: Outcome::Released {
                redacted: f.redacted,
                warning,
            },
            outbox: Some(rel_s),
            id: Some(id),
            reasons: vec![],
            removed: clean.removed.clone(),
            faces: f.faces.to_vec(),
            texts: f.texts.to_vec(),
        }
    }

    /// Hold a photo: `held/<id>/` gets the clean copy (if any), `reasons.json`, and the original
    /// with its caption file.
    pub fn hold(
        &self,
        s: &Staged<'_>,
        sidecar: Option<&StagedSidecar>,
        f: &Fate<'_>,
        reasons: Vec<Reason>,
    ) -> PhotoOutcome {
        let staging = self.ws.staging();
        let staged_path = rel_bytes(&staging, s.path);
        let side_path = sidecar.map(|j| rel_bytes(&staging, &j.path));
        let side_hash = sidecar.and_then(StagedSidecar::hash);
        let rec = self.new_record(
            s,
            f,
            PhotoState::PendingHold,
            &reasons,
            &staged_path,
            side_path.as_deref().map(|p| (p, side_hash.as_deref())),
        );
        let id = match self.begin(&rec, None, f.students, None) {
            Ok(id) => id,
            Err(e) => {
                return PhotoOutcome::left(s.name, LeftReason::JournalUnavailable(e.to_string()))
            }
        };
        crash_point!("hold.journaled");
        let dir = outbox::held_dir(&self.ws.held(), id);
        let original = held_original(&dir, s.path);
        let mut photo_moved = false;
        let stored = (|| -> Result<bool, OutboxError> {
            if let Some(clean) = f.cleaned {
                outbox::write_durably(
                    &self.ws.root,
                    &outbox::held_clean_path(&dir, clean.extension),
                    &clean.bytes,
                )?;
                crash_point!("hold.clean-written");
            }
            write_reasons(&self.ws.root, &dir, s.name, f.channel, &reasons)?;
            crash_point!("hold.reasons-written");
            outbox::move_durably(&self.ws.root, s.path, &original)?;
            photo_moved = true;
            crash_point!("hold.photo-moved");
            // Replaced between the read and the move: the file held is not the one judged.
            if is_content_hash(s.hash) && file_hash(&original).as_deref() != Some(s.hash) {
                return Ok(false);
            }
            if let Some(j) = sidecar {
                if let Some(n) = j.path.file_name() {
                    outbox::move_durably(
                        &self.ws.root,
                        &j.path,
                        &outbox::held_original_dir(&dir).join(n),
                    )?;
                    crash_point!("hold.sidecar-moved");
                }
            }
            Ok(true)
        })();
        let rel = dir
            .strip_prefix(&self.ws.root)
            .unwrap_or(&dir)
            .to_string_lossy()
            .into_owned();
        match stored {
            Ok(true) => {}
            Ok(false) | Err(_) => {
                // Put back what moved, so nothing is lost and the next run starts clean.
                if photo_moved {
                    let _ = std::fs::rename(&original, s.path);
                }
                let _ = std::fs::remove_dir_all(&dir);
                let _ = journal::delete_pending(&self.db(), id);
                let why = match stored {
                    Err(e) => LeftReason::WriteFailed {
                        held: true,
                        error: e.to_string(),
                    },
                    _ => LeftReason::ChangedWhileRead,
                };
                return PhotoOutcome::left(s.name, why);
            }
        }
        let warning = self
            .finalise_id(id, PhotoState::Held)
            .err()
            .map(|e| Warning::JournalNotUpdated(e.to_string()));
        crash_point!("hold.recorded");
        PhotoOutcome {
            file: s.name.to_string(),
            outcome: Outcome::Held { dir: rel, warning },
            outbox: None,
            id: Some(id),
            reasons,
            removed: f.cleaned.map(|c| c.removed.clone()).unwrap_or_default(),
            faces: f.faces.to_vec(),
            texts: f.texts.to_vec(),
        }
    }

    /// Finish everything a killed process left pending: the gate's releases and holds, and
    /// moderators' publications. Returns how many photos were finished.
    pub fn recover(&self, limits: &crate::formats::Limits) -> Result<usize, DisposeError> {
        recover_publications(self.ws, &mut self.db())?;
        let pending = journal::in_state(
            &self.db(),
            &[PhotoState::PendingRelease, PhotoState::PendingHold],
        )?;
        let mut n = 0;
        for rec in pending {
            let finished = match rec.state {
                PhotoState::PendingRelease => self.recover_release(&rec)?,
                _ => self.recover_hold(&rec, limits)?,
            };
            n += usize::from(finished);
        }
        crash_point!("recover.done");
        Ok(n)
    }

    /// Remove a released photo's caption from staging, if it is still the caption judged.
    pub fn remove_staged_caption(&self, rec: &PhotoRecord) {
        if let (Some(p), Some(h)) = (&rec.sidecar_path, &rec.sidecar_hash) {
            let path = from_bytes(&self.ws.staging(), p);
            let _ = outbox::remove_original(&path, h);
        }
    }

    fn recover_release(&self, rec: &PhotoRecord) -> Result<bool, DisposeError> {
        let dest = rec.outbox_path.as_ref().map(|p| self.ws.root.join(p));
        if dest.as_ref().is_some_and(|d| d.is_file()) {
            self.finalise(rec, PhotoState::Released, true)?;
            crash_point!("recover.release-recorded");
            let _ = outbox::remove_original(&staged_path(self.ws, rec), &rec.content_hash);
            self.remove_staged_caption(rec);
            return Ok(true);
        }
        // Nothing was published: a caption written just before the photo goes too, and the
        // photo (still in staging) is gated again.
        if let (Some(d), Some(_)) = (&dest, &rec.caption) {
            let txt = d.with_extension("txt");
            if txt.exists() {
                std::fs::remove_file(&txt).map_err(|e| DisposeError::Recover {
                    id: rec.id,
                    what: e.to_string(),
                    path: txt.display().to_string(),
                })?;
                if let Some(dir) = txt.parent() {
                    let _ = outbox::sync_dir(dir);
                }
            }
        }
        journal::delete_pending(&self.db(), rec.id)?;
        Ok(false)
    }

    fn recover_hold(
        &self,
        rec: &PhotoRecord,
        limits: &crate::formats::Limits,
    ) -> Result<bool, DisposeError> {
        let dir = self.ws.root.join(
            rec.held_dir
                .clone()
                .unwrap_or_else(|| format!("held/{}", rec.id)),
        );
        let staged = staged_path(self.ws, rec);
        let original = held_original(&dir, &staged);
        let err = |what: String, p: &Path| DisposeError::Recover {
            id: rec.id,
            what,
            path: p.display().to_string(),
        };
        let by_content = is_content_hash(&rec.content_hash);
        let is_judged = |p: &Path| {
            if by_content {
                file_hash(p).as_deref() == Some(rec.content_hash.as_str())
            } else {
                std::fs::symlink_metadata(p).is_ok()
            }
        };
        let mut held_ok = is_judged(&original);
        if std::fs::symlink_metadata(&original).is_ok() && !held_ok {
            if std::fs::symlink_metadata(&staged).is_err() {
                // A replacement was moved in mid-hold: back to staging, to be gated as itself.
                std::fs::rename(&original, &staged).map_err(|e| err(e.to_string(), &original))?;
            } else {
                // Nowhere to put it back: it stays held (never published, never lost).
                held_ok = true;
            }
        }
        let staged_ok = is_judged(&staged);
        let side_staged = rec
            .sidecar_path
            .as_ref()
            .map(|p| from_bytes(&self.ws.staging(), p));
        let side_held = side_staged
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| outbox::held_original_dir(&dir).join(n));
        if !held_ok && !staged_ok {
            // The judged content is nowhere any more: undo, and what is in staging now is new.
            if let (Some(h), Some(s)) = (&side_held, &side_staged) {
                if h.exists() && !s.exists() {
                    std::fs::rename(h, s).map_err(|e| err(e.to_string(), h))?;
                }
            }
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| err(e.to_string(), &dir))?;
            }
            journal::delete_pending(&self.db(), rec.id)?;
            return Ok(false);
        }
        // Complete the hold forward: the photo and its caption go to held/, whatever step the
        // killed run had reached.
        if !held_ok {
            outbox::move_durably(&self.ws.root, &staged, &original)?;
            held_ok = true;
        }
        if let (Some(s), Some(h)) = (&side_staged, &side_held) {
            if std::fs::symlink_metadata(s).is_ok() {
                outbox::move_durably(&self.ws.root, s, h)?;
            }
        }
        if let Some(ext) = &rec.clean_ext {
            let clean_path = outbox::held_clean_path(&dir, ext);
            if !clean_path.is_file() {
                let remade = std::fs::read(&original)
                    .ok()
                    .and_then(|b| crate::formats::clean(&b, limits).ok())
                    .filter(|c| c.extension == ext.as_str());
                match remade {
                    Some(c) => outbox::write_durably(&self.ws.root, &clean_path, &c.bytes)?,
                    None => journal::clear_clean_copy(&self.db(), rec.id)?,
                }
            }
        }
        if !dir.join("reasons.json").is_file() {
            write_reasons(
                &self.ws.root,
                &dir,
                &rec.source_name,
                &rec.channel,
                &rec.reasons,
            )?;
        }
        debug_assert!(held_ok);
        self.finalise(rec, PhotoState::Held, true)?;
        Ok(true)
    }
}

fn write_reasons(
    root: &Path,
    dir: &Path,
    file: &str,
    channel: &str,
    reasons: &[Reason],
) -> Result<(), OutboxError> {
    let record = serde_json::json!({"file": file, "channel": channel, "reasons": reasons});
    outbox::write_durably(
        root,
        &dir.join("reasons.json"),
        &serde_json::to_vec_pretty(&record).unwrap_or_default(),
    )
}

/// The intent file a moderator's publication writes before its decision is committed.
const PUBLISHING: &str = "publishing.json";

/// Where a redacted copy waits in `held/<id>/` between the decision and the outbox.
const REDACTED: &str = "redacted.jpg";

/// What a publication will write: the outbox photo (copied from a file in `held/<id>/`) and
/// the caption that travels with it (from the journal record).
#[derive(serde::Serialize, serde::Deserialize)]
struct Intent {
    /// The file in the held folder to publish (`clean.jpg`, `redacted.jpg`).
    from: String,
    /// Where it goes, relative to the workspace.
    to: String,
}

/// What a moderator releases.
pub enum Source<'a> {
    /// The held clean copy `clean.<ext>`, as read (and checked) by the caller.
    Clean { ext: &'a str, bytes: &'a [u8] },
    /// A blurred version of it, made now.
    Redacted(&'a [u8]),
}

/// Publish a held photo's clean copy (or a redacted version of it) to its
/// channel's outbox, inside the moderator action's open `BEGIN IMMEDIATE` transaction `tx`.
///
/// The decision is made durable before anything reaches the outbox: a redacted copy is kept in
/// `held/<id>/`, an intent file names source and destination, `record` writes the journal
/// transition and audit row in `tx`, and only after the commit are the caption and photo written.
/// A kill before the commit leaves nothing in the outbox (the intent is dropped on recovery); a
/// kill after it is finished on recovery. So the outbox never holds a photo the journal says is
/// held, not even for an instant. Returns the outbox path.
#[allow(clippy::too_many_arguments)]
pub fn publish_held<E>(
    ws: &Workspace,
    tx: rusqlite::Transaction<'_>,
    rec: &PhotoRecord,
    held_dir: &Path,
    source: Source<'_>,
    record: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<(), E>,
) -> Result<String, E>
where
    E: From<DisposeError> + From<rusqlite::Error>,
{
    let (from, bytes, ext, redacted) = match source {
        Source::Clean { ext, bytes } => (format!("clean.{ext}"), bytes, ext, None),
        Source::Redacted(b) => (REDACTED.to_string(), b, "jpg", Some(b)),
    };
    let name = outbox::neutral_name(chrono::Local::now().date_naive(), bytes, ext);
    let rel = Path::new("outbox").join(&rec.channel).join(name);
    let rel_s = rel.to_string_lossy().into_owned();
    let intent_path = held_dir.join(PUBLISHING);
    let intent = Intent {
        from,
        to: rel_s.clone(),
    };
    let decided = (|| -> Result<(), E> {
        // The intent first: a blurred copy is never left behind by a publication not decided.
        let json = serde_json::to_vec(&intent).unwrap_or_default();
        outbox::write_durably(&ws.root, &intent_path, &json).map_err(DisposeError::from)?;
        crash_point!("publish.intent-written");
        if let Some(b) = redacted {
            outbox::write_durably(&ws.root, &held_dir.join(REDACTED), b)
                .map_err(DisposeError::from)?;
        }
        record(&tx, &rel_s)?;
        tx.commit()?;
        Ok(())
    })();
    if let Err(e) = decided {
        let _ = std::fs::remove_file(&intent_path);
        if redacted.is_some() {
            let _ = std::fs::remove_file(held_dir.join(REDACTED));
        }
        return Err(e);
    }
    crash_point!("publish.committed");
    finish_publication(ws, rec, held_dir, &intent)
        .map_err(|e| DisposeError::Unfinished(e.to_string()))?;
    Ok(rel_s)
}

/// The second half of a publication whose decision is committed: caption and photo into the
/// outbox, then the intent goes. Idempotent (a rerun after a kill writes the same files).
fn finish_publication(
    ws: &Workspace,
    rec: &PhotoRecord,
    held_dir: &Path,
    intent: &Intent,
) -> Result<(), DisposeError> {
    let dest = ws.root.join(&intent.to);
    if let Some(caption) = &rec.caption {
        outbox::write_durably(&ws.root, &dest.with_extension("txt"), caption.as_bytes())?;
        crash_point!("publish.caption-written");
    }
    let src = held_dir.join(&intent.from);
    let bytes = std::fs::read(&src).map_err(|e| OutboxError::Write {
        path: src.display().to_string(),
        source: e,
    })?;
    outbox::write_durably(&ws.root, &dest, &bytes)?;
    crash_point!("publish.photo-written");
    let _ = std::fs::remove_file(held_dir.join(PUBLISHING));
    let _ = outbox::sync_dir(held_dir);
    Ok(())
}

/// Where a held photo's edited caption is kept (the original sidecar stays in `original/`).
pub const EDITED_CAPTION: &str = "caption-edited.txt";
/// The edit while its decision is not yet committed.
const EDITED_PENDING: &str = "caption-edited.txt.pending";

/// Write a moderator's caption edit beside the photo, before the transaction that records it
/// commits: it becomes the shown caption only in [`commit_caption_edit`], after the commit.
pub fn stage_caption_edit(ws: &Workspace, dir: &Path, text: &str) -> Result<(), DisposeError> {
    outbox::write_durably(&ws.root, &dir.join(EDITED_PENDING), text.as_bytes())?;
    crash_point!("caption.staged");
    Ok(())
}

/// The edit's transaction committed: it is now the photo's caption.
pub fn commit_caption_edit(dir: &Path) -> Result<(), DisposeError> {
    let (from, to) = (dir.join(EDITED_PENDING), dir.join(EDITED_CAPTION));
    std::fs::rename(&from, &to).map_err(|e| OutboxError::Move {
        from: from.display().to_string(),
        to: to.display().to_string(),
        source: e,
    })?;
    outbox::sync_dir(dir).map_err(|e| OutboxError::Write {
        path: dir.display().to_string(),
        source: e,
    })?;
    Ok(())
}

/// A staged caption edit left by a killed action: kept if its audit row was committed (the
/// latest edit recorded for the photo is this text), dropped if not.
fn recover_caption_edit(conn: &Connection, id: i64, dir: &Path) -> Result<(), DisposeError> {
    let pending = dir.join(EDITED_PENDING);
    let Ok(text) = std::fs::read_to_string(&pending) else {
        return Ok(());
    };
    let committed = crate::audit::trail(conn, Some(&format!("photo #{id}")))?
        .iter()
        .rev()
        .find(|e| e.action == "caption-edited")
        .is_some_and(|e| e.detail["after"].as_str() == Some(text.as_str()));
    if committed {
        commit_caption_edit(dir)
    } else {
        std::fs::remove_file(&pending).map_err(|e| DisposeError::Recover {
            id,
            what: e.to_string(),
            path: pending.display().to_string(),
        })
    }
}

/// Finish or drop every publication (and caption edit) a killed moderator action left half-done,
/// under the database's write lock (so no live action is mid-way): a committed approval's files
/// are written; an intent whose photo is still `held` was never decided and is dropped.
pub fn recover_publications(ws: &Workspace, conn: &mut Connection) -> Result<usize, DisposeError> {
    let Ok(entries) = std::fs::read_dir(ws.held()) else {
        return Ok(0);
    };
    let unfinished: Vec<(i64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_str()?.parse::<i64>().ok()?;
            let p = e.path();
            (p.join(PUBLISHING).is_file() || p.join(EDITED_PENDING).is_file()).then_some((id, p))
        })
        .collect();
    if unfinished.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut n = 0;
    for (id, dir) in unfinished {
        recover_caption_edit(&tx, id, &dir)?;
        let path = dir.join(PUBLISHING);
        if !path.is_file() {
            continue;
        }
        let intent = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Intent>(&b).ok())
            .filter(|i| {
                // Only this workspace's outbox, from inside this held folder.
                i.to.starts_with("outbox/")
                    && !i.to.contains("..")
                    && !i.from.contains('/')
                    && !i.from.contains("..")
            });
        let rec = journal::get(&tx, id).ok();
        match (intent, rec) {
            (Some(intent), Some(rec)) if rec.state == PhotoState::Approved => {
                finish_publication(ws, &rec, &dir, &intent)?;
                n += 1;
            }
            (intent, _) => {
                // Never decided (or unreadable): nothing reached the outbox; drop the intent and
                // a blurred copy made for it.
                if intent.is_some_and(|i| i.from == REDACTED) {
                    let _ = std::fs::remove_file(dir.join(REDACTED));
                }
                crash_point!("recover.publication-dropped");
                std::fs::remove_file(&path).map_err(|e| DisposeError::Recover {
                    id,
                    what: e.to_string(),
                    path: path.display().to_string(),
                })?;
            }
        }
    }
    tx.commit()?;
    Ok(n)
}
