//! The gate: one photo's way through the stages, and a whole run over staging.
//!
//! The gate only sequences. A photo's judgement is [`SEQUENCE`] run in order over one [`Sheet`]:
//!
//! ```text
//! formats (clean copy) → texts (every caption source) → captions → device → faces
//!   → text in the picture → re-upload
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
use crate::decide::{self, FaceFinding, Reason, TextFinding, Verdict};
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
    /// The clean copy decoded upright by the faces stage, kept for the stages after it (a
    /// second decode of a 12 MP photo costs ~0.1-0.2 s of CPU, of a HEIC ~0.9 s). A cache only:
    /// a stage that finds it empty decodes for itself.
    pub decoded: Option<crate::faces::Decoded>,
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
    stages::picture_text::run,
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
    /// Every line of text read in the picture, with whom it names.
    pub texts: Vec<TextFinding>,
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
        decoded: None,
    };
    for stage in SEQUENCE {
        stage(ctx, &mut sheet);
    }
    let judgement = decide::decide(&sheet.findings, &ctx.policy, &ctx.judge.students);
    let mut cleaned = sheet.clean;
    let mut redacted = 0;
    let faces_to_blur = judgement.faces.iter().filter(|f| !f.may_publish).count();
    let verdict = match judgement.verdict {
        Verdict::RedactThenRelease { boxes, reasons } => match &mut cleaned {
            Some(c) => match crate::redact::blur(&c.bytes, &boxes) {
                Ok(bytes) => {
                    redacted = boxes.len();
                    c.bytes = bytes;
                    c.format = Format::Jpeg;
                    c.extension = "jpg";
                    if faces_to_blur > 0 {
                        c.removed.push(format!("{faces_to_blur} face(s) blurred"));
                    }
                    if redacted > faces_to_blur {
                        c.removed.push(format!(
                            "{} line(s) of text naming a student blurred",
                            redacted - faces_to_blur
                        ));
                    }
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
        texts: judgement.texts,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::ReasonKind;
    use crate::judge::Judge;
    use crate::register::Student;

    fn ctx() -> Context {
        let mut config = crate::config::Config::default();
        config.faces.enabled = false;
        let olivia = Student {
            year: "5".into(),
            ..Student::on_roll("A1001", "Olivia", "Smith")
        };
        Context::new(
            &config,
            "website",
            Judge::new(&[olivia], vec![], vec![], vec![]),
        )
        .unwrap()
    }

    fn jpeg() -> Vec<u8> {
        let img =
            image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 7, y as u8 * 9, 90]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn photo<'a>(name: &'a str, bytes: &'a [u8], caption: Option<&str>) -> Photo<'a> {
        Photo {
            name,
            bytes,
            format: crate::formats::detect(bytes),
            sidecar: caption.map(|c| Ok(c.to_string())),
        }
    }

    /// The whole sequence in memory: a caption and a file name naming a student hold the photo,
    /// each reason saying where the name was; that caption never travels.
    #[test]
    fn a_named_caption_and_file_name_hold_with_their_sources() {
        let ctx = ctx();
        let bytes = jpeg();
        let a = assess(
            &ctx,
            photo(
                "trip/olivia-smith.jpg",
                &bytes,
                Some("Well done Olivia Smith!"),
            ),
        );
        let sources: Vec<_> = a
            .reasons()
            .iter()
            .map(|r| (r.kind, r.source.clone()))
            .collect();
        assert!(sources.contains(&(ReasonKind::CaptionNamesStudent, Some(TextSource::Sidecar))));
        assert!(sources.contains(&(ReasonKind::CaptionNamesStudent, Some(TextSource::FileName))));
        assert!(a.clean_caption.is_none());
        assert!(a.cleaned.is_some(), "the clean copy is kept for approval");
    }

    #[test]
    fn a_clean_photo_is_released_with_its_caption_and_damage_is_held() {
        let ctx = ctx();
        let bytes = jpeg();
        let a = assess(
            &ctx,
            photo("IMG_0001.jpg", &bytes, Some("Sports day relay")),
        );
        assert_eq!(a.verdict, Verdict::Release);
        assert_eq!(a.clean_caption.as_deref(), Some("Sports day relay"));
        let damaged = &bytes[..bytes.len() / 2];
        let a = assess(&ctx, photo("IMG_0002.jpg", damaged, None));
        assert_eq!(
            a.reasons().iter().map(|r| r.kind).collect::<Vec<_>>(),
            [ReasonKind::DamagedFile]
        );
        let a = assess(
            &ctx,
            photo("IMG_0003.jpg", &bytes, None).with_unreadable_caption(),
        );
        assert!(a
            .reasons()
            .iter()
            .any(|r| r.kind == ReasonKind::CaptionUnreadable));
    }

    impl Photo<'_> {
        fn with_unreadable_caption(mut self) -> Self {
            self.sidecar = Some(Err("not text".into()));
            self
        }
    }
}
