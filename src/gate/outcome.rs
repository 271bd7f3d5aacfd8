//! What became of each file in a run, as data. The words (`note`) come from `Display`; the
//! summary, `watch`'s log lines and the CLI printer match on the variants, never on the words.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::decide::{FaceFinding, Reason, TextFinding};
use crate::journal::PhotoState;

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its clean copy is in the outbox.
    Released {
        /// Faces blurred in the released copy (`action = "redact"`).
        redacted: usize,
        warning: Option<Warning>,
    },
    /// It waits for a moderator in `dir` (relative to the workspace).
    Held {
        dir: String,
        warning: Option<Warning>,
    },
    /// The same content was gated before: its fate stands.
    AlreadyProcessed {
        id: i64,
        state: PhotoState,
        /// Whether the staged duplicate could be removed.
        duplicate_removed: Result<(), String>,
    },
    /// Not taken this time; it stays in staging and is tried again.
    Left(LeftReason),
    /// `check`: judged, nothing moved or recorded.
    Checked { held: bool },
}

/// Why a file stays in staging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftReason {
    /// It changed within the settle time: probably still being copied.
    Settling { settle_seconds: u64 },
    /// Its caption file is still being written (or changed while the photo was judged).
    CaptionSettling { settle_seconds: u64 },
    /// It changed while it was being read or moved: not the file that was judged.
    ChangedWhileRead,
    /// The journal could not be read or written.
    JournalUnavailable(String),
    /// Its release or hold could not be written to disk (disk full, permissions...).
    WriteFailed { held: bool, error: String },
    /// The register changed while it was judged: judged again with the new one.
    RegisterChanged,
    /// Another file in this run has the same content.
    DuplicateInRun,
}

/// Something staff should know about a photo whose fate is nonetheless recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Released, but the original could not be removed from staging.
    OriginalNotRemoved(String),
    /// Released, but its caption changed at the last moment and was left in staging.
    CaptionChanged(String),
    /// The files are durable, but the journal could not record it (the next run does).
    JournalNotUpdated(String),
}

impl fmt::Display for LeftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeftReason::Settling { settle_seconds } => write!(
                f,
                "still being written; it is taken once unchanged for {settle_seconds} s"
            ),
            LeftReason::CaptionSettling { settle_seconds } => write!(
                f,
                "its caption file is still being written; it is taken once unchanged for {settle_seconds} s"
            ),
            LeftReason::ChangedWhileRead => write!(
                f,
                "changed while it was being read; it is taken on a later run, once settled"
            ),
            LeftReason::JournalUnavailable(e) => {
                write!(f, "the journal could not be read or written: {e}")
            }
            LeftReason::WriteFailed { held: false, error } => write!(f, "not released: {error}"),
            LeftReason::WriteFailed { held: true, error } => {
                write!(f, "should be held but could not be moved: {error}")
            }
            LeftReason::RegisterChanged => write!(
                f,
                "not recorded: the register changed while it was judged; judged again"
            ),
            LeftReason::DuplicateInRun => write!(f, "duplicate of another photo in this run"),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::OriginalNotRemoved(e) => write!(
                f,
                "released, but the original could not be removed from staging: {e}"
            ),
            Warning::CaptionChanged(path) => write!(
                f,
                "released, but its caption file changed just as it was released and was left in staging: check {path}"
            ),
            Warning::JournalNotUpdated(e) => write!(
                f,
                "the journal could not be updated ({e}); run again to record it"
            ),
        }
    }
}

impl Outcome {
    /// released / held / left in staging, as `--json` prints `decision`.
    pub fn decision(&self) -> Decision {
        match self {
            Outcome::Released { .. } | Outcome::Checked { held: false } => Decision::Released,
            Outcome::Held { .. } | Outcome::Checked { held: true } => Decision::Held,
            Outcome::AlreadyProcessed { state, .. } => match state {
                PhotoState::Released | PhotoState::Approved | PhotoState::PendingRelease => {
                    Decision::Released
                }
                _ => Decision::Held,
            },
            Outcome::Left(_) => Decision::LeftInStaging,
        }
    }

    /// The note staff read beside the file (`None` for a plain release).
    pub fn note(&self, id: Option<i64>) -> Option<String> {
        let with = |main: Option<String>, w: &Option<Warning>| match (main, w) {
            (m, None) => m,
            (None, Some(w)) => Some(w.to_string()),
            (Some(m), Some(w @ Warning::JournalNotUpdated(_))) => Some(format!("{m}; {w}")),
            (Some(_), Some(w)) => Some(w.to_string()),
        };
        match self {
            Outcome::Released { redacted, warning } => with(
                (*redacted > 0).then(|| format!("{redacted} face(s) blurred before release")),
                warning,
            ),
            Outcome::Held { dir, warning } => with(
                Some(format!("held as #{} in {dir}", id.unwrap_or_default())),
                warning,
            ),
            Outcome::AlreadyProcessed {
                id,
                state,
                duplicate_removed,
            } => Some(match duplicate_removed {
                Ok(()) => format!(
                    "already processed as photo #{id} ({}); the duplicate was removed from staging",
                    state.as_str()
                ),
                Err(e) => format!(
                    "already processed as photo #{id} ({}); could not remove the duplicate: {e}",
                    state.as_str()
                ),
            }),
            Outcome::Left(why) => Some(why.to_string()),
            Outcome::Checked { .. } => Some("check only: nothing was moved or recorded".into()),
        }
    }
}

/// `decision` in `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Released,
    Held,
    /// Not taken this time (still being written, changed while read, or an error writing).
    LeftInStaging,
}

/// What happened to one file, as `run --json` prints it.
#[derive(Debug, Clone)]
pub struct PhotoOutcome {
    pub file: String,
    pub outcome: Outcome,
    /// Where the clean copy went (relative to the workspace), when released.
    pub outbox: Option<String>,
    /// The journal id a moderator uses with `review`.
    pub id: Option<i64>,
    pub reasons: Vec<Reason>,
    /// Identifying metadata found and removed.
    pub removed: Vec<String>,
    /// Every face found and how it was judged (also when released).
    pub faces: Vec<FaceFinding>,
    /// Every line of text read in the picture and whom it names (also when released).
    pub texts: Vec<TextFinding>,
}

impl PhotoOutcome {
    pub fn left(file: &str, why: LeftReason) -> PhotoOutcome {
        PhotoOutcome {
            file: file.to_string(),
            outcome: Outcome::Left(why),
            outbox: None,
            id: None,
            reasons: vec![],
            removed: vec![],
            faces: vec![],
            texts: vec![],
        }
    }
    pub fn decision(&self) -> Decision {
        self.outcome.decision()
    }
    pub fn note(&self) -> Option<String> {
        self.outcome.note(self.id)
    }
}

impl Serialize for PhotoOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            file: &'a str,
            decision: Decision,
            outbox: &'a Option<String>,
            id: Option<i64>,
            reasons: &'a [Reason],
            removed: &'a [String],
            note: Option<String>,
            faces: &'a [FaceFinding],
            texts: &'a [TextFinding],
        }
        Json {
            file: &self.file,
            decision: self.decision(),
            outbox: &self.outbox,
            id: self.id,
            reasons: &self.reasons,
            removed: &self.removed,
            note: self.note(),
            faces: &self.faces,
            texts: &self.texts,
        }
        .serialize(s)
    }
}

/// A run's totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub released: usize,
    pub held: usize,
    pub held_by_reason: BTreeMap<String, usize>,
    /// Files left in staging because they (or their captions) were still being written.
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
    /// Count one outcome.
    pub fn add(&mut self, o: &PhotoOutcome) {
        match o.decision() {
            Decision::Released => self.released += 1,
            Decision::Held => {
                self.held += 1;
                let kinds: std::collections::BTreeSet<_> =
                    o.reasons.iter().map(|r| r.kind.label()).collect();
                for k in kinds {
                    *self.held_by_reason.entry(k.to_string()).or_default() += 1;
                }
            }
            Decision::LeftInStaging => {}
        }
        match &o.outcome {
            Outcome::AlreadyProcessed { .. } => self.already_processed += 1,
            Outcome::Left(
                LeftReason::Settling { .. }
                | LeftReason::CaptionSettling { .. }
                | LeftReason::ChangedWhileRead,
            ) => self.waiting += 1,
            Outcome::Left(LeftReason::RegisterChanged) => self.not_started += 1,
            Outcome::Left(
                LeftReason::JournalUnavailable(_)
                | LeftReason::WriteFailed { .. }
                | LeftReason::DuplicateInRun,
            ) => self.errors += 1,
            _ => {}
        }
    }

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
