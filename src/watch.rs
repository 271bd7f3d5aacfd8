//! `consentgate watch`: keep a workspace's staging folder gated, as a long-running service.
//!
//! File-system events (`notify`) start a pass soon after something lands; a periodic rescan is the
//! safety net for events that never come (network shares, an overflowing event queue). Each pass is
//! the ordinary gate (`gate::pass`): only settled files are taken, in parallel, and the journal —
//! not this process's memory — decides what is already done, so a restart simply resumes. While
//! files are still settling, the next pass is scheduled for when the earliest will have settled.
//!
//! The register is re-read whenever it changes (SQLite triggers count changes), as is the
//! configuration and the date (consent expires at midnight): a stale register would publish a
//! child whose consent was just withdrawn. A stop request (SIGTERM/SIGINT) lets the photos in hand
//! finish, starts no new ones, and returns; the lock is released when the process ends.
//!
//! Log lines carry photo ids, reason kinds and neutral outbox names — never captions or reason
//! details, which name students, because logs end up in the system journal. File names (which
//! staff often make out of students' names) appear only at debug level; a file an error left in
//! staging is logged by a short reference.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chrono::{Local, NaiveDate, Utc};
use notify::{EventKind, RecursiveMode, Watcher};
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use tracing::{debug, error, info, warn};

use crate::gate::{
    self, Context, Decision, GateError, LeftReason, Outcome, PhotoOutcome, Progress, Summary,
};
use crate::journal::{self, JournalError};
use crate::lock::{LockError, WorkspaceLock};
use crate::workspace::{Workspace, WorkspaceError, CONFIG_FILE};

/// After the first event of a burst, wait this long before looking, so one pass sees many files.
const DEBOUNCE: Duration = Duration::from_millis(500);
/// How often the loop looks at the stop flag while idle.
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot watch {path} for new files: {source}; check that the folder exists and is readable, and on Linux that fs.inotify.max_user_watches is large enough")]
    Notify { path: String, source: notify::Error },
    #[error("cannot install the SIGTERM/SIGINT handlers: {0}")]
    Signals(std::io::Error),
}

pub struct WatchOptions<'a> {
    pub channel: &'a str,
    pub actor: &'a str,
}

/// Totals over a whole watch, for its last log line (and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchReport {
    pub passes: usize,
    pub released: usize,
    pub held: usize,
    pub left_in_staging: usize,
    /// Times the register or configuration changed and the context was rebuilt.
    pub reloads: usize,
}

/// A stop flag set by SIGTERM and SIGINT. A second signal of either kind ends the process at once
/// (what an impatient operator pressing Ctrl-C twice expects; the journal makes that safe too).
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, WatchError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // Exit code 2: "an error" in consentgate's convention (1 would read as "something held").
        signal_hook::flag::register_conditional_shutdown(sig, 2, Arc::clone(&stop))
            .map_err(WatchError::Signals)?;
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(WatchError::Signals)?;
    }
    Ok(stop)
}

/// `Progress` that ends a pass early — photos in hand still finish — when a stop is requested,
/// or when the register or the date changed under it: a withdrawal arriving during a long pass
/// must apply to the next photo, not the next pass. A photo judged while the register changed is
/// not recorded but judged again. The loop then reloads and carries on.
struct PassGuard<'a> {
    stop: &'a AtomicBool,
    /// A connection of its own (the pass's threads share it), to read the register's version.
    conn: std::sync::Mutex<Connection>,
    built_from: &'a Fingerprint,
    stale: AtomicBool,
}

impl Progress for PassGuard<'_> {
    /// One log line per photo, as soon as it is decided (a large pass takes minutes).
    fn photo_done(&self, outcome: &PhotoOutcome) {
        log_outcome(outcome);
    }

    fn should_stop(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.register_changed()
    }

    fn register_changed(&self) -> bool {
        if self.stale.load(Ordering::SeqCst) {
            return true;
        }
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Unreadable: treat as changed, so the loop looks again before gating more.
        let changed = journal::register_version(&conn)
            .map_or(true, |v| v != self.built_from.register)
            || Local::now().date_naive() != self.built_from.today;
        if changed {
            self.stale.store(true, Ordering::SeqCst);
        }
        changed
    }
}

/// What the context was built from; when any of it changes, the context is rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    register: i64,
    config: [u8; 32],
    today: NaiveDate,
}

impl Fingerprint {
    fn now(root: &Path, conn: &Connection) -> Result<Fingerprint, WatchError> {
        let config = std::fs::read(root.join(CONFIG_FILE)).unwrap_or_default();
        Ok(Fingerprint {
            register: journal::register_version(conn)?,
            config: Sha256::digest(&config).into(),
            today: Local::now().date_naive(),
        })
    }
}

/// Keep `root`'s staging folder gated for `opts.channel` until `stop` is set.
pub fn watch(
    root: &Path,
    opts: &WatchOptions<'_>,
    stop: &AtomicBool,
) -> Result<WatchReport, WatchError> {
    let ws = Workspace::open(root)?;
    let lock = WorkspaceLock::acquire(root, "watch", opts.channel)?;
    let conn = ws.db()?;
    let fingerprint = Fingerprint::now(root, &conn)?;
    let ctx = Context::from_workspace(&ws, &conn, opts.channel)?;
    let run_id = journal::begin_run(&conn, "watch", opts.channel, opts.actor, Utc::now())?;
    crate::audit::record(
        &conn,
        opts.actor,
        "watch-started",
        "gate",
        &serde_json::json!({"channel": opts.channel, "pid": std::process::id(),
            "settle_seconds": ws.config.gate.settle_seconds,
            "rescan_seconds": ws.config.watch.rescan_seconds}),
        Utc::now(),
    )?;
    let mut state = State {
        ws,
        ctx,
        fingerprint,
        report: WatchReport::default(),
    };
    let result = keep_gated(root, opts, stop, &lock, &conn, run_id, &mut state);
    let report = state.report;
    let outcome = if result.is_ok() { "stopped" } else { "failed" };
    info!(
        passes = report.passes,
        released = report.released,
        held = report.held,
        left_in_staging = report.left_in_staging,
        "{outcome}"
    );
    journal::end_run(&conn, run_id, outcome, Utc::now())?;
    crate::audit::record(
        &conn,
        opts.actor,
        &format!("watch-{outcome}"),
        "gate",
        &serde_json::json!({"channel": opts.channel, "pid": std::process::id(),
            "released": report.released, "held": report.held}),
        Utc::now(),
    )?;
    drop(lock);
    result.map(|()| report)
}

/// What the loop carries from pass to pass.
struct State {
    ws: Workspace,
    ctx: Context,
    fingerprint: Fingerprint,
    report: WatchReport,
}

/// The loop: wait for an event, a scheduled pass or the rescan; gate; until `stop` is set.
fn keep_gated(
    root: &Path,
    opts: &WatchOptions<'_>,
    stop: &AtomicBool,
    lock: &WorkspaceLock,
    conn: &Connection,
    run_id: i64,
    st: &mut State,
) -> Result<(), WatchError> {
    let rescan = |ws: &Workspace| Duration::from_secs(ws.config.watch.rescan_seconds.max(1));

    let staging = st.ws.staging();
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = tx.send(ev);
    })
    .map_err(|source| notify_err(&staging, source))?;
    watcher
        .watch(&staging, RecursiveMode::Recursive)
        .map_err(|source| notify_err(&staging, source))?;
    info!(
        workspace = %root.display(),
        channel = opts.channel,
        settle_seconds = st.ws.config.gate.settle_seconds,
        rescan_seconds = rescan(&st.ws).as_secs(),
        "watching staging"
    );

    if st.ws.config.gate.settle_seconds == 0 {
        warn!("settle_seconds = 0: a photo may be taken while it is still being copied (it would be held as damaged); use 2 or more for a watched folder");
    }

    // The first pass at once: finish what a previous run left pending and take what waited.
    let mut due: Option<Instant> = Some(Instant::now());
    let mut next_rescan = Instant::now() + rescan(&st.ws);
    let mut paused = false;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let wake = due.map_or(next_rescan, |d| d.min(next_rescan));
        if now < wake {
            match rx.recv_timeout((wake - now).min(TICK)) {
                Ok(Ok(event)) if matters(&event.kind) => {
                    let soon = Instant::now() + DEBOUNCE;
                    due = Some(due.map_or(soon, |d| d.min(soon)));
                }
                Ok(Ok(_)) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Ok(Err(e)) => {
                    warn!(error = %e, "file-system events may have been missed; looking now");
                    due = Some(Instant::now());
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The event thread is gone; the rescan alone keeps staging gated.
                    std::thread::sleep((wake - now).min(TICK));
                }
            }
            continue;
        }
        due = None;
        next_rescan = Instant::now() + rescan(&st.ws);

        // Judge with the register, configuration and date as they are now.
        let current = Fingerprint::now(root, conn)?;
        if current != st.fingerprint {
            match reload(root, conn, &st.ctx, opts.channel) {
                Ok((new_ws, new_ctx)) => {
                    info!(
                        register_version = current.register,
                        "register, configuration or date changed; reloaded"
                    );
                    st.ws = new_ws;
                    st.ctx = new_ctx;
                    st.fingerprint = current;
                    st.report.reloads += 1;
                    paused = false;
                    next_rescan = Instant::now() + rescan(&st.ws);
                }
                Err(e) => {
                    // Never gate with a register or configuration known to be out of date.
                    if !paused {
                        error!(error = %e, "cannot reload; no photo is gated until this is fixed");
                    }
                    paused = true;
                    continue;
                }
            }
        }

        let guard = PassGuard {
            stop,
            conn: std::sync::Mutex::new(st.ws.db()?),
            built_from: &st.fingerprint,
            stale: AtomicBool::new(false),
        };
        let result = gate::pass(&st.ws, lock, &st.ctx, opts.actor, &guard);
        if guard.stale.load(Ordering::SeqCst) {
            info!("the register changed during the pass; reloading before the rest");
            due = Some(Instant::now());
        }
        match result {
            Ok((_, summary)) => {
                let report = &mut st.report;
                report.passes += 1;
                report.released += summary.released;
                report.held += summary.held;
                report.left_in_staging += summary.errors;
                log_summary(&summary);
                if let Err(e) = journal::record_pass(
                    conn,
                    run_id,
                    summary.released,
                    summary.held,
                    summary.errors,
                    Utc::now(),
                ) {
                    warn!(error = %e, "could not record the pass for `status`");
                }
                if let Some(ready) = summary.next_ready {
                    let wait = ready
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO);
                    // A little after the settle time, so the file is past it when looked at.
                    let at = Instant::now() + wait + Duration::from_millis(100);
                    due = Some(due.map_or(at, |d| d.min(at)));
                }
            }
            Err(e) => {
                error!(error = %e, "the pass failed; trying again at the next rescan");
            }
        }
    }

    drop(watcher);
    Ok(())
}

fn notify_err(path: &Path, source: notify::Error) -> WatchError {
    WatchError::Notify {
        path: path.display().to_string(),
        source,
    }
}

/// Events that may mean a new or changed file. Reads and removals (our own, mostly) do not.
fn matters(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Access(_) | EventKind::Remove(_))
}

/// Re-open the workspace (configuration) and rebuild the context, keeping the face models.
fn reload(
    root: &Path,
    conn: &Connection,
    ctx: &Context,
    channel: &str,
) -> Result<(Workspace, Context), WatchError> {
    let ws = Workspace::open(root)?;
    let fresh = if ws.config.faces.enabled == ctx.config.faces.enabled {
        ctx.refreshed(&ws, conn)?
    } else {
        Context::from_workspace(&ws, conn, channel)?
    };
    Ok((ws, fresh))
}

fn log_outcome(o: &PhotoOutcome) {
    let id = o.id.unwrap_or_default();
    match (&o.outcome, o.decision()) {
        (Outcome::AlreadyProcessed { .. }, _) => info!(
            photo = id,
            "duplicate of an earlier photo; removed from staging"
        ),
        (_, Decision::Released) => info!(
            photo = id,
            outbox = o.outbox.as_deref().unwrap_or(""),
            faces = o.faces.len(),
            "released"
        ),
        (_, Decision::Held) => {
            let mut kinds: Vec<String> = o.reasons.iter().map(|r| reason_kind(&r.kind)).collect();
            kinds.sort_unstable();
            kinds.dedup();
            info!(photo = id, reasons = %kinds.join(","), faces = o.faces.len(), "held for review");
        }
        (
            Outcome::Left(
                LeftReason::Settling { .. }
                | LeftReason::CaptionSettling { .. }
                | LeftReason::ChangedWhileRead,
            ),
            _,
        ) => debug!(file = %o.file, "still settling"),
        (_, Decision::LeftInStaging) => {
            // File names and the problem text (which quotes paths) may name a student, and
            // info/warn lines go to the system journal: a short reference here, the name at
            // debug level.
            let file_ref = &hex::encode(Sha256::digest(o.file.as_bytes()))[..12];
            warn!(
                file_ref,
                "left in staging by a disk or permission problem; it is retried on the next pass (RUST_LOG=debug shows the file and the problem)"
            );
            debug!(file_ref, file = %o.file, problem = o.note().unwrap_or_default(), "left in staging");
        }
    }
    debug!(photo = id, file = %o.file, decision = ?o.decision(), "file");
}

/// A reason's kind as its JSON name (`caption_names_student`), never its detail.
fn reason_kind(kind: &crate::decide::ReasonKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

fn log_summary(s: &Summary) {
    if s.released + s.held + s.errors + s.recovered + s.already_processed == 0 {
        debug!(waiting = s.waiting, "pass: nothing new");
        return;
    }
    info!(
        released = s.released,
        held = s.held,
        waiting = s.waiting,
        errors = s.errors,
        recovered = s.recovered,
        not_started = s.not_started,
        seconds = format!("{:.2}", s.seconds),
        "pass"
    );
}

/// Where the systemd unit expects the binary: this executable, resolved.
pub fn current_exe() -> PathBuf {
    std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .unwrap_or_else(|_| PathBuf::from("/usr/local/bin/consentgate"))
}
