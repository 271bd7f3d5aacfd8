//! `consentgate status`: the workspace at a glance — what waits in staging, what waits for a
//! moderator (and whether the oldest is overdue), what was released, the last run, and whether a
//! gate is running now. Reads only; never takes the workspace lock for longer than a probe.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::intake::{self, Found};
use crate::journal::{self, JournalError, PhotoState, RunRecord};
use crate::lock::{self, Holder, LockError};
use crate::workspace::{Workspace, WorkspaceError};

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Files in staging that have settled and wait for a gate.
    pub staging_ready: usize,
    /// Files in staging still being written (or whose caption is).
    pub staging_settling: usize,
    /// Journal records a killed run left unfinished; the next `run` or `watch` finishes them.
    pub pending: i64,
    /// Photos waiting for a moderator.
    pub held: i64,
    pub oldest_held: Option<OldestHeld>,
    /// Released or approved photos, per channel.
    pub released: BTreeMap<String, i64>,
    pub rejected: i64,
    pub last_run: Option<LastRun>,
    /// The gate holding the workspace lock now (a `watch`, or a `run` in progress).
    pub running: Option<Holder>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OldestHeld {
    pub id: i64,
    pub channel: String,
    pub held_since: DateTime<Utc>,
    pub age_hours: f64,
    /// When the policy says a moderator must have responded (see [`crate::review::due_at`]).
    pub respond_by: DateTime<Utc>,
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    #[serde(flatten)]
    pub run: RunRecord,
    /// `running`, `finished`, `stopped`, `failed`, or `ended unexpectedly` (no outcome recorded
    /// and nobody holds the lock: the process was killed or crashed).
    pub state: String,
}

/// Gather the workspace's status.
pub fn status(ws: &Workspace) -> Result<Status, StatusError> {
    let conn = ws.db()?;
    let now = Utc::now();
    let settle = Duration::from_secs(ws.config.gate.settle_seconds);
    let (mut ready, mut settling) = (0, 0);
    for c in intake::scan(&ws.staging(), settle, SystemTime::now()) {
        match c.found {
            Found::Settling { .. } => settling += 1,
            _ => ready += 1,
        }
    }
    let counts = journal::state_counts(&conn)?;
    let count = |s: PhotoState| counts.get(s.as_str()).copied().unwrap_or(0);
    let oldest_held = journal::in_state(&conn, &[PhotoState::Held])?
        .into_iter()
        .min_by_key(|r| (r.created_at, r.id))
        .map(|r| {
            let due = crate::review::due_at_utc(r.created_at);
            OldestHeld {
                id: r.id,
                channel: r.channel,
                held_since: r.created_at,
                age_hours: (now - r.created_at).num_minutes() as f64 / 60.0,
                respond_by: due,
                overdue: now > due,
            }
        });
    let running = lock::probe(&ws.root)?;
    let last_run = journal::last_run(&conn)?.map(|run| {
        let state = match (&run.outcome, &running) {
            (Some(o), _) => o.clone(),
            (None, Some(h)) if i64::from(h.pid) == run.pid => "running".to_string(),
            (None, _) => "ended unexpectedly".to_string(),
        };
        LastRun { run, state }
    });
    Ok(Status {
        staging_ready: ready,
        staging_settling: settling,
        pending: count(PhotoState::PendingRelease) + count(PhotoState::PendingHold),
        held: count(PhotoState::Held),
        oldest_held,
        released: journal::released_per_channel(&conn)?,
        rejected: count(PhotoState::Rejected),
        last_run,
        running,
    })
}
