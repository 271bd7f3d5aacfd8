//! Findings: what the stages saw, as typed data — never prose, never a decision.
//!
//! Every stage of the gate answers with findings ([`Finding`]); [`crate::decide`] alone turns them
//! into a verdict and into the words a moderator reads. So a new check is a new variant here, a
//! stage that emits it, and one rule in `decide`.

use serde::{Deserialize, Serialize};

use crate::captions::{CaptionHit, TextSource};
use crate::formats::{Device, FormatError};

/// One thing a stage found about a photo.
#[derive(Debug, Clone)]
pub enum Finding {
    /// Intake could not, or must not, read the file.
    Unread(Unread),
    /// The file is not a photo the gate can clean (unsupported, damaged, too large in pixels).
    Format(FormatProblem),
    /// The photo has a caption file that cannot be read as text.
    CaptionUnreadable { error: String },
    /// A caption, embedded text or file name names (or may name) a student.
    Caption { hit: CaptionHit, source: TextSource },
    /// The capture device the photo names, and whether it is one of the school's.
    Device { device: Device, registered: bool },
    /// A face, and the enrolled template nearest to it.
    Face(FaceMatch),
    /// Faces could not be looked for (model or decoding failure).
    FacesUnchecked { error: String },
    /// A line of text read in the picture, and every student it names (matched like a caption).
    PictureText(PictureText),
    /// Text in the picture could not be read (model or decoding failure).
    PictureTextUnchecked { error: String },
    /// The rejected photo nearest to this one (only looked for when something was rejected).
    Reupload { photo_id: i64, distance: u32 },
    /// The photo could not be compared with rejected photos.
    ReuploadUnchecked { error: String },
}

/// Why intake did not read a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// A symbolic link: never followed.
    SymbolicLink { target: String },
    /// Larger than `[limits] max_file_megabytes`.
    TooLarge { bytes: u64, limit: u64 },
    /// The file system refused to give its bytes.
    Unreadable { error: String },
}

/// A [`FormatError`] as data: its kind, and the format stage's own words for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatProblem {
    pub kind: FormatProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatProblemKind {
    Unsupported,
    Damaged,
    TooLarge,
}

impl From<&FormatError> for FormatProblem {
    fn from(e: &FormatError) -> Self {
        let kind = match e {
            FormatError::Unsupported(_) => FormatProblemKind::Unsupported,
            FormatError::Corrupt(_) => FormatProblemKind::Damaged,
            FormatError::TooLarge { .. } => FormatProblemKind::TooLarge,
        };
        FormatProblem {
            kind,
            message: e.to_string(),
        }
    }
}

/// A line of text in the picture as the text stage read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureText {
    /// `[x, y, width, height]` in pixels of the photo as displayed.
    pub bbox: [f32; 4],
    /// What was read.
    pub text: String,
    /// Every student the line names or may name, as the caption matcher found them.
    pub hits: Vec<CaptionHit>,
    /// The hits are in another reading of the line (letters the reader was unsure of, or
    /// look-alike letters: "Marphy" for "Murphy"), not in `text` as read.
    pub unsure: bool,
}

/// A face as the faces stage measured it: where, how sure, and who it is nearest to. Whether it
/// is *a match* (the bands) and whether it may be published are rules, so `decide` says them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceMatch {
    /// `[x, y, width, height]` in pixels of the photo as displayed.
    pub bbox: [f32; 4],
    /// Detector confidence.
    pub detection: f32,
    /// The nearest enrolled student and the embedding distance to them.
    pub nearest: Option<(String, f32)>,
    /// A student whose enrolment photo is this very picture (crop hash), if any.
    pub same_picture: Option<String>,
}
