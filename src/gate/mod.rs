//! The gate: one photo's way through the stages, and a whole run over staging.
//!
//! The gate only sequences. A photo's judgement is [`SEQUENCE`] run in order over one [`Sheet`]:
//!
//! ```text
//! formats (clean copy) → texts (every caption source) → captions → device → faces → re-upload
//!   → decide (findings + policy → verdict) → [blur, when the verdict says so]
//! ```
//!
//! Each stage adds typed findings ([`crate::findings`]); [`crate::decide`] alone holds the rules
//! and the words. [`assess`] is pure (bytes and caption in, verdict and clean copy out), so `check`
//! explains exactly what `run` would do. [`run`]/[`pass`] add intake, the journal and the
//! [`crate::dispose`]r, which makes each release or hold durable and finishes whatever a killed run
//! left pending.

use std::path::Path;

use crate::captions::TextSource;
use crate::decide::{self, FaceFinding, Reason, Verdict};
use crate::faces::FaceError;
use crate::findings::Finding;
use crate::formats::{Cleaned, Format};
use crate::journal::JournalError;
use crate::lock::LockError;
use crate::workspace::WorkspaceError;

mod context;
mod outcome;
mod run;
pub mod stages;

pub use context::Context;
pub use outcome::{Decision, LeftReason, Outcome, PhotoOutcome, Summary, Warning};
pub use run::{pass, run, Progress, RunOptions};

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
    #[error(transparent)]
    Dispose(#[from] crate::dispose::DisposeError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// A photo as the stages see it.
pub struct Photo<'a> {
    /// Its path relative to staging, as staff see it (folder names are captions too).
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The format by content (a stage may still find the file damaged).
    pub format: Format,
    /// Its sidecar caption: the text, or why it could not be read.
    pub sidecar: Option<Result<String, String>>,
}

/// What the stages know about a photo so far: the clean copy, every text it carries, findings.
pub struct Sheet<'a> {
    pub photo: Photo<'a>,
    pub clean: Option<Cleaned>,
    pub texts: Vec<(TextSource, String)>,
    pub findings: Vec<Finding>,
}

/// One stage: reads the sheet, adds findings.
pub type Stage = fn(&Context, &mut Sheet<'_>);

/// The gate's sequence, in order. A new check is one module in `stages/` and one line here.
pub const SEQUENCE: &[Stage] = &[
    stages::formats::run,
    stages::texts::run,
    stages::captions::run,
    stages::device::run,
    stages::faces::run,
    stages::reupload::run,
];

/// What the gate concluded about one photo.
#[derive(Debug)]
pub struct Assessment {
    /// Release or hold (a redaction has been carried out: released, or held if it failed).
    pub verdict: Verdict,
    /// The copy to release (blurred when faces were redacted), when the file could be cleaned.
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

impl Assessment {
    pub fn reasons(&self) -> &[Reason] {
        self.verdict.reasons()
    }
    pub fn is_held(&self) -> bool {
        self.verdict.is_hold()
    }
}

/// Judge one photo: run every stage, decide, and carry out a redaction the verdict asks for.
pub fn assess(ctx: &Context, photo: Photo<'_>) -> Assessment {
    let mut sheet = Sheet {
        photo,
        clean: None,
        texts: Vec::new(),
        findings: Vec::new(),
    };
    for stage in SEQUENCE {
        stage(ctx, &mut sheet);
    }
    let judgement = decide::decide(&sheet.findings, &ctx.policy, &ctx.judge.students);
    let mut cleaned = sheet.clean;
    let mut redacted = 0;
    let verdict = match judgement.verdict {
        Verdict::RedactThenRelease { boxes, reasons } => match &mut cleaned {
            Some(c) => match crate::redact::blur(&c.bytes, &boxes) {
                Ok(bytes) => {
                    redacted = boxes.len();
                    c.bytes = bytes;
                    c.format = Format::Jpeg;
                    c.extension = "jpg";
                    c.removed.push(format!("{redacted} face(s) blurred"));
                    Verdict::Release
                }
                Err(e) => decide::redaction_failed(reasons, &e),
            },
            None => Verdict::Hold(reasons),
        },
        v => v,
    };
    let clean_caption = match &sheet.photo.sidecar {
        Some(Ok(t)) if !judgement.sidecar_names_someone && !t.trim().is_empty() => {
            Some(t.trim().to_string())
        }
        _ => None,
    };
    Assessment {
        verdict,
        cleaned,
        clean_caption,
        students: judgement.students,
        faces: judgement.faces,
        redacted,
    }
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
        None => crate::intake::sidecar_for(path).map(|p| {
            std::fs::read(&p)
                .map_err(|e| e.to_string())
                .and_then(|b| crate::intake::decode_caption(&b))
        }),
    };
    let name = path
        .file_name()
        .map(crate::intake::display_name)
        .unwrap_or_default();
    let photo = Photo {
        name: &name,
        bytes: &bytes,
        format: crate::formats::detect(&bytes),
        sidecar,
    };
    Ok((assess(ctx, photo), name))
}
