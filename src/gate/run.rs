//! A whole run over staging: intake, the parallel sweep, one photo's way from staging to its
//! durable fate (through the [`Disposer`]), and the summary.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use rayon::prelude::*;

use super::{assess, Context, GateError, LeftReason, Outcome, Photo, PhotoOutcome, Summary};
use crate::decide::Verdict;
use crate::dispose::{sha256_hex, unread_key, Disposer, Fate, JudgedUnder, Staged, StagedSidecar};
use crate::findings::{Finding, Unread};
use crate::intake::{self, Candidate, Found, SidecarRead};
use crate::journal::{self, PhotoRecord, PhotoState};
use crate::lock::WorkspaceLock;
use crate::outbox;
use crate::workspace::Workspace;

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

impl Progress for () {}

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
        disposer: Disposer::new(ws, actor)?,
        claimed: Mutex::new(HashSet::new()),
    };
    outbox::clean_temporaries(&ws.root);
    let recovered = run.disposer.recover(&ctx.limits)?;

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
        Done(Box<PhotoOutcome>),
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
            let step = match run.process(&c) {
                Some(o) => Step::Done(Box::new(o)),
                None => Step::SameContent,
            };
            (c, step)
        })
        .collect();
    let mut s = Summary {
        recovered,
        next_ready,
        ..Summary::default()
    };
    // Files whose content another file in this run was handling: now that one is decided, these
    // are duplicates of decided content.
    let mut outcomes = Vec::with_capacity(results.len());
    for (c, step) in results {
        let o = match step {
            Step::Done(o) => *o,
            Step::NotStarted => {
                s.not_started += 1;
                continue;
            }
            Step::SameContent if progress.should_stop() => {
                s.not_started += 1;
                continue;
            }
            Step::SameContent => run
                .process(&c)
                .unwrap_or_else(|| PhotoOutcome::left(&c.name, LeftReason::DuplicateInRun)),
        };
        s.add(&o);
        // A photo put back because the register changed is not an outcome: it is judged again.
        if o.outcome != Outcome::Left(LeftReason::RegisterChanged) {
            progress.photo_done(&o);
            outcomes.push(o);
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

struct Run<'a> {
    ws: &'a Workspace,
    ctx: &'a Context,
    progress: &'a dyn Progress,
    disposer: Disposer<'a>,
    /// Content hashes being judged by some thread of this run.
    claimed: Mutex<HashSet<String>>,
}

impl Run<'_> {
    fn settle_seconds(&self) -> u64 {
        self.ws.config.gate.settle_seconds
    }

    /// Gate one candidate. `None` means another file in this run has the same content: try later.
    fn process(&self, c: &Candidate) -> Option<PhotoOutcome> {
        let settle_seconds = self.settle_seconds();
        let (size, modified) = match &c.found {
            Found::Settling { .. } => {
                return Some(PhotoOutcome::left(
                    &c.name,
                    LeftReason::Settling { settle_seconds },
                ))
            }
            Found::SymbolicLink { target } => {
                let u = Unread::SymbolicLink {
                    target: target.clone(),
                };
                return Some(self.hold_unread(c, &format!("symlink\0{}\0{target}", c.name), u));
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
            let u = Unread::TooLarge {
                bytes: size,
                limit: max,
            };
            let key = format!("large\0{}\0{size}\0{modified:?}", c.name);
            return Some(self.hold_unread(c, &key, u));
        }
        let bytes = match std::fs::read(&c.path) {
            Ok(b) => b,
            Err(e) => {
                let u = Unread::Unreadable {
                    error: e.to_string(),
                };
                let key = format!("unreadable\0{}\0{size}\0{modified:?}", c.name);
                return Some(self.hold_unread(c, &key, u));
            }
        };
        // A file that changed while we read it is not the file we judged.
        let unchanged = std::fs::symlink_metadata(&c.path).is_ok_and(|m| {
            m.len() == size && m.len() == bytes.len() as u64 && m.modified().ok() == Some(modified)
        });
        if !unchanged {
            return Some(PhotoOutcome::left(&c.name, LeftReason::ChangedWhileRead));
        }
        let hash = sha256_hex(&bytes);
        match journal::find(&self.disposer.db(), &hash, &self.ctx.channel) {
            Ok(Some(rec)) => return Some(self.already(c, rec)),
            Ok(None) => {}
            Err(e) => {
                return Some(PhotoOutcome::left(
                    &c.name,
                    LeftReason::JournalUnavailable(e.to_string()),
                ))
            }
        }
        // The sidecar as it is now, not as it was at the scan (which may be minutes ago): a caption
        // written or rewritten since is judged only once it has settled, never half-written.
        let caption_settling =
            PhotoOutcome::left(&c.name, LeftReason::CaptionSettling { settle_seconds });
        let judged = match intake::sidecar_for(&c.path) {
            None => None,
            Some(path) => match intake::read_sidecar(
                &path,
                Duration::from_secs(settle_seconds),
                SystemTime::now(),
            ) {
                SidecarRead::Settling => return Some(caption_settling),
                SidecarRead::Read { bytes, changed } => Some(StagedSidecar {
                    path,
                    bytes: Ok(bytes),
                    changed: Some(changed),
                }),
                SidecarRead::Unreadable(e) => Some(StagedSidecar {
                    path,
                    bytes: Err(e),
                    changed: None,
                }),
            },
        };
        if !self.claim(&hash) {
            return None;
        }
        let sidecar = judged
            .as_ref()
            .map(|j| j.bytes.clone().and_then(|b| intake::decode_caption(&b)));
        let photo = Photo {
            name: &c.name,
            bytes: &bytes,
            format: crate::formats::detect(&bytes),
            sidecar,
        };
        let a = assess(self.ctx, photo);
        // Tests widen the window between judging and recording here (`FAILPOINTS=gate.judged=sleep(ms)`).
        fail::fail_point!("gate.judged");
        if self.progress.register_changed() {
            self.unclaim(&hash);
            return Some(PhotoOutcome::left(&c.name, LeftReason::RegisterChanged));
        }
        // Judging takes a while (faces): a caption that arrived, changed or went meanwhile is not
        // the one judged, so nothing is decided on it; the photo is judged again later.
        if !judged.as_ref().map_or_else(
            || intake::sidecar_for(&c.path).is_none(),
            |j| j.unchanged(&c.path),
        ) {
            self.unclaim(&hash);
            return Some(caption_settling);
        }
        let staged = Staged {
            path: &c.path,
            name: &c.name,
            hash: &hash,
        };
        let fate = Fate {
            channel: &self.ctx.channel,
            cleaned: a.cleaned.as_ref(),
            clean_caption: a.clean_caption.as_deref(),
            students: &a.students,
            faces: &a.faces,
            texts: &a.texts,
            redacted: a.redacted,
        };
        Some(match &a.verdict {
            Verdict::Release => {
                let under = JudgedUnder {
                    today: self.ctx.today,
                    register_version: self.ctx.register_version,
                };
                let o = self
                    .disposer
                    .release(&staged, judged.as_ref(), &fate, under);
                if o.outcome == Outcome::Left(LeftReason::RegisterChanged) {
                    // Let a watching caller notice too, so it reloads before the next photo.
                    self.unclaim(&hash);
                    self.progress.register_changed();
                }
                o
            }
            v => self
                .disposer
                .hold(&staged, judged.as_ref(), &fate, v.reasons().to_vec()),
        })
    }

    fn claim(&self, hash: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash.to_string())
    }

    fn unclaim(&self, hash: &str) {
        self.claimed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }

    /// The same content was gated before: its fate stands; the staged copy is removed.
    fn already(&self, c: &Candidate, rec: PhotoRecord) -> PhotoOutcome {
        // A release killed between removing the caption and the photo: the caption it was
        // released with goes too (only if it is still that caption).
        if matches!(rec.state, PhotoState::Released | PhotoState::Approved) {
            self.disposer.remove_staged_caption(&rec);
        }
        let removed = outbox::remove_original(&c.path, &rec.content_hash);
        PhotoOutcome {
            file: c.name.clone(),
            outcome: Outcome::AlreadyProcessed {
                id: rec.id,
                state: rec.state,
                duplicate_removed: removed.map(|_| ()).map_err(|e| e.to_string()),
            },
            outbox: rec.outbox_path,
            id: Some(rec.id),
            reasons: rec.reasons,
            removed: rec.removed,
            faces: rec.faces,
            texts: rec.texts,
        }
    }

    /// Hold a file the gate must not or cannot read: move it (a link itself, never its target).
    fn hold_unread(&self, c: &Candidate, key: &str, u: Unread) -> PhotoOutcome {
        let hash = unread_key(key);
        if let Ok(Some(rec)) = journal::find(&self.disposer.db(), &hash, &self.ctx.channel) {
            return self.already(c, rec);
        }
        let judgement = crate::decide::decide(
            &[Finding::Unread(u)],
            &self.ctx.policy,
            &self.ctx.judge.students,
        );
        let staged = Staged {
            path: &c.path,
            name: &c.name,
            hash: &hash,
        };
        let fate = Fate {
            channel: &self.ctx.channel,
            cleaned: None,
            clean_caption: None,
            students: &[],
            faces: &[],
            texts: &[],
            redacted: 0,
        };
        let reasons = judgement.verdict.reasons().to_vec();
        self.disposer.hold(&staged, None, &fate, reasons)
    }
}
