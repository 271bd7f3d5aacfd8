//! `consentgate status`: the workspace at a glance — what waits in staging, what waits for a
//! moderator (and whether the oldest is overdue), what was released, the last run, and whether a
//! gate is running now. Reads only; never takes the workspace lock for longer than a probe.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, Days, Local, NaiveTime, TimeZone, Utc, Weekday};
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
    /// When the policy says a moderator must have responded (see [`response_due`]).
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

/// The policy's deadline for a held photo (appendix A: "responded to within 24 hours, or on the
/// next working day if received at a weekend"): 24 hours after it arrived on Monday to Friday; by
/// the end of the following Monday when it arrived on a Saturday or Sunday. Bank holidays are not
/// known to consentgate.
pub fn response_due<Tz: TimeZone>(received: &DateTime<Tz>) -> DateTime<Tz> {
    let days_to_monday = match received.weekday() {
        Weekday::Sat => 2,
        Weekday::Sun => 1,
        _ => return received.clone() + chrono::Duration::hours(24),
    };
    // End of Monday = the start of Tuesday, local time.
    let tuesday = received
        .date_naive()
        .checked_add_days(Days::new(days_to_monday + 1));
    tuesday
        .and_then(|d| {
            received
                .timezone()
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
        })
        .unwrap_or_else(|| {
            received.clone() + chrono::Duration::hours(24 * (days_to_monday as i64 + 1))
        })
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
            let due = response_due(&r.created_at.with_timezone(&Local)).with_timezone(&Utc);
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn weekday_holds_are_due_in_24_hours_weekend_ones_by_the_end_of_monday() {
        // 2026-11-20 is a Friday.
        let cases = [
            ("2026-11-18T09:30:00+00:00", "2026-11-19T09:30:00+00:00"), // Wed
            ("2026-11-20T16:00:00+00:00", "2026-11-21T16:00:00+00:00"), // Fri: 24 h, as written
            ("2026-11-21T10:00:00+00:00", "2026-11-24T00:00:00+00:00"), // Sat -> end of Mon
            ("2026-11-22T23:59:00+00:00", "2026-11-24T00:00:00+00:00"), // Sun -> end of Mon
            ("2026-11-23T00:01:00+01:00", "2026-11-24T00:01:00+01:00"), // Mon
        ];
        for (received, due) in cases {
            assert_eq!(response_due(&at(received)), at(due), "received {received}");
        }
    }
}
