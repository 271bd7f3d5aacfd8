//! Every word a moderator reads about why a photo was held: the one place reason text is made.
//! Each function takes typed data (which student, which source, which box, which score) and gives
//! a [`Reason`] whose `kind`, `student`, `source` and `face` are data, so nothing downstream ever
//! parses `detail`.

use serde::{Deserialize, Serialize};

use crate::captions::{CaptionHit, Severity, TextSource};
use crate::findings::{FormatProblem, FormatProblemKind, Unread};
use crate::formats::Device;

/// Why a photo was held, in a form scripts can filter on (`kind`) and people can read (`detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub kind: ReasonKind,
    pub detail: String,
    /// The student concerned, when there is one (register id).
    pub student: Option<String>,
    /// Where the text that named the student came from (caption reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TextSource>,
    /// Which face (0-based, in the photo's face list) the reason is about (face reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<usize>,
    /// Which line of text in the picture (0-based, in the photo's `texts` list) the reason is
    /// about (in-picture text reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<usize>,
}

/// A reason's weight for the moderator, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Publishing it would break the policy (a named or no-publish child, a rejected photo).
    MustNotPublish,
    /// Maybe fine: a person should look (a possible name, an unknown face).
    NeedsALook,
    /// The gate could not read the file or a part of it: nothing is known.
    CannotRead,
}

impl Urgency {
    /// The words and the CSS class the review page shows.
    pub fn label(self) -> &'static str {
        match self {
            Urgency::MustNotPublish => "must not be published as it is",
            Urgency::NeedsALook => "needs a look",
            Urgency::CannotRead => "could not be read",
        }
    }
    pub fn class(self) -> &'static str {
        match self {
            Urgency::MustNotPublish => "sev-block",
            Urgency::NeedsALook => "sev-look",
            Urgency::CannotRead => "sev-unread",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Caption, embedded text or file name names a student.
    CaptionNamesStudent,
    /// A weaker caption hit: a common-word first name, a surname alone, a nickname.
    CaptionMayNameStudent,
    /// A caption sidecar exists but cannot be read as text.
    CaptionUnreadable,
    UnsupportedFormat,
    DamagedFile,
    TooLarge,
    Unreadable,
    /// A symbolic link in staging: never followed.
    SymbolicLink,
    UnregisteredDevice,
    /// A face matches a student on the no-publish (safeguarding) list.
    #[serde(alias = "no_publish_face")]
    FaceNoPublish,
    /// A face matches a student without valid consent for the channel (none, expired, withdrawn, left).
    FaceNoConsent,
    /// A face is near a student's template but not clearly them.
    FaceAmbiguous,
    /// A face matches nobody enrolled (config `unknown_faces = "review"`).
    FaceUnknown,
    /// Faces too small for recognition to clear them (config `small_faces = "review"`).
    SmallFaces,
    /// The photo is (nearly) a photo a moderator rejected before, or its mirror image.
    NearDuplicateOfRejected,
    /// Faces could not be checked (model or decoding failure): fail closed.
    FacesUnchecked,
    /// Text written in the picture (certificate, badge, bib, label, board) names a student.
    PictureTextNamesStudent,
    /// Text in the picture may name a student (a weaker hit, as for captions).
    PictureTextMayNameStudent,
    /// Text in the picture could not be read (model or decoding failure): fail closed.
    PictureTextUnchecked,
}

impl ReasonKind {
    /// Short plain-words label for summaries.
    pub fn label(self) -> &'static str {
        match self {
            ReasonKind::CaptionNamesStudent => "caption names a student",
            ReasonKind::CaptionMayNameStudent => "caption may name a student",
            ReasonKind::CaptionUnreadable => "caption unreadable",
            ReasonKind::UnsupportedFormat => "unsupported format",
            ReasonKind::DamagedFile => "damaged file",
            ReasonKind::TooLarge => "too large",
            ReasonKind::Unreadable => "unreadable file",
            ReasonKind::SymbolicLink => "symbolic link",
            ReasonKind::UnregisteredDevice => "unregistered device",
            ReasonKind::FaceNoPublish => "face on the no-publish list",
            ReasonKind::FaceNoConsent => "face without consent",
            ReasonKind::FaceAmbiguous => "face may be a student",
            ReasonKind::FaceUnknown => "unknown face",
            ReasonKind::SmallFaces => "faces too small to recognise",
            ReasonKind::NearDuplicateOfRejected => "re-upload of a rejected photo",
            ReasonKind::FacesUnchecked => "faces could not be checked",
            ReasonKind::PictureTextNamesStudent => "text in the picture names a student",
            ReasonKind::PictureTextMayNameStudent => "text in the picture may name a student",
            ReasonKind::PictureTextUnchecked => "text in the picture could not be checked",
        }
    }

    /// How bad it is, for the moderator's eye: the review page colours and sorts by it.
    pub fn urgency(self) -> Urgency {
        use ReasonKind::*;
        match self {
            CaptionNamesStudent
            | FaceNoPublish
            | FaceNoConsent
            | NearDuplicateOfRejected
            | PictureTextNamesStudent => Urgency::MustNotPublish,
            CaptionMayNameStudent
            | UnregisteredDevice
            | FaceAmbiguous
            | FaceUnknown
            | SmallFaces
            | PictureTextMayNameStudent => Urgency::NeedsALook,
            CaptionUnreadable | UnsupportedFormat | DamagedFile | TooLarge | Unreadable
            | SymbolicLink | FacesUnchecked | PictureTextUnchecked => Urgency::CannotRead,
        }
    }

    /// Reasons about one face, which a moderator's "this face is student X" re-judges.
    pub fn is_face(self) -> bool {
        matches!(
            self,
            ReasonKind::FaceNoPublish
                | ReasonKind::FaceNoConsent
                | ReasonKind::FaceAmbiguous
                | ReasonKind::FaceUnknown
                | ReasonKind::SmallFaces
        )
    }

    /// Reasons that blurring removes (when the config asks for redaction): the face, or the
    /// named text's box.
    pub fn is_redactable(self) -> bool {
        matches!(
            self,
            ReasonKind::FaceNoPublish
                | ReasonKind::FaceNoConsent
                | ReasonKind::SmallFaces
                | ReasonKind::PictureTextNamesStudent
                | ReasonKind::PictureTextMayNameStudent
        )
    }

    /// Reasons about one line of text in the picture.
    pub fn is_picture_text(self) -> bool {
        matches!(
            self,
            ReasonKind::PictureTextNamesStudent | ReasonKind::PictureTextMayNameStudent
        )
    }
}

impl Reason {
    fn new(kind: ReasonKind, detail: String) -> Reason {
        Reason {
            kind,
            detail,
            student: None,
            source: None,
            face: None,
            text: None,
        }
    }

    /// A reason about the photo's sidecar caption (replaced when a moderator edits the caption).
    pub fn is_about_sidecar(&self) -> bool {
        self.kind == ReasonKind::CaptionUnreadable || self.source == Some(TextSource::Sidecar)
    }
}

/// "Olivia Smith (A1001)", or the bare id when the register no longer knows the name.
fn who(id: &str, name: Option<&str>) -> String {
    name.map_or_else(|| id.to_string(), |n| format!("{n} ({id})"))
}

/// A caption hit: who, which form, which words, where.
pub fn caption(hit: &CaptionHit, source: &TextSource, student_name: Option<&str>) -> Reason {
    let (kind, verb) = match hit.severity {
        Severity::Block => (ReasonKind::CaptionNamesStudent, "names"),
        Severity::Review => (ReasonKind::CaptionMayNameStudent, "may name"),
    };
    Reason {
        student: Some(hit.student_id.clone()),
        source: Some(source.clone()),
        ..Reason::new(
            kind,
            match &hit.note {
                // Why a hit is only a review (a famous person, a place...).
                Some(note) => format!(
                    "{} {verb} {}: \"{}\" ({}; {note})",
                    source.label(),
                    who(&hit.student_id, student_name),
                    hit.matched,
                    hit.form
                ),
                None => format!(
                    "{} {verb} {}: \"{}\" ({})",
                    source.label(),
                    who(&hit.student_id, student_name),
                    hit.matched,
                    hit.form
                ),
            },
        )
    }
}

pub fn caption_unreadable(error: &str) -> Reason {
    Reason::new(
        ReasonKind::CaptionUnreadable,
        format!("the caption file cannot be read ({error}); save it as plain text (UTF-8) and drop both files again"),
    )
}

/// The format stage's own message says what is wrong and what to do.
pub fn format(p: &FormatProblem) -> Reason {
    let kind = match p.kind {
        FormatProblemKind::Unsupported => ReasonKind::UnsupportedFormat,
        FormatProblemKind::Damaged => ReasonKind::DamagedFile,
        FormatProblemKind::TooLarge => ReasonKind::TooLarge,
    };
    Reason::new(kind, p.message.clone())
}

pub fn unread(u: &Unread) -> Reason {
    match u {
        Unread::SymbolicLink { target } => Reason::new(
            ReasonKind::SymbolicLink,
            format!("a symbolic link to {target}; links are never followed — copy the photo itself into staging"),
        ),
        Unread::TooLarge { bytes, limit } => Reason::new(
            ReasonKind::TooLarge,
            format!(
                "the file is {} MB, over the {} MB limit; export a smaller copy",
                bytes / 1_000_000,
                limit / 1_000_000
            ),
        ),
        Unread::Unreadable { error } => Reason::new(
            ReasonKind::Unreadable,
            format!("the file cannot be read ({error}); check its permissions and copy it again"),
        ),
    }
}

/// The device check's verdict, when the school requires its own devices.
pub fn device(device: &Device) -> Reason {
    let named = [device.make.as_deref(), device.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let detail = if named.is_empty() {
        "the photo does not say which camera took it; school policy requires school devices — a moderator must confirm".to_string()
    } else {
        let serial = device
            .serial
            .as_deref()
            .map(|s| format!(", serial {s}"))
            .unwrap_or_default();
        format!("taken on {named}{serial}, which is not a registered school device; register it with `consentgate devices add` if it is one")
    };
    Reason::new(ReasonKind::UnregisteredDevice, detail)
}

/// Where a face is, as a moderator finds it on the picture.
fn face_at(b: &[f32; 4]) -> String {
    format!(
        "face at x {:.0}, y {:.0} ({:.0}x{:.0} px)",
        b[0], b[1], b[2], b[3]
    )
}

fn score_text(score: Option<f32>) -> String {
    score
        .map(|d| format!("distance {d:.2}"))
        .unwrap_or_else(|| "nobody enrolled".into())
}

/// How a face was attributed, for the reason text.
pub struct FaceWho<'a> {
    pub index: usize,
    pub bbox: &'a [f32; 4],
    pub id: &'a str,
    pub name: Option<&'a str>,
    pub score: Option<f32>,
    pub same_picture: bool,
}

impl FaceWho<'_> {
    fn reason(&self, kind: ReasonKind, detail: String) -> Reason {
        Reason {
            student: Some(self.id.to_string()),
            face: Some(self.index),
            ..Reason::new(kind, detail)
        }
    }
    fn how(&self) -> String {
        let how = if self.same_picture {
            "the same picture as their enrolment photo"
        } else {
            "match"
        };
        format!("{how}, {}", score_text(self.score))
    }
}

pub fn face_no_publish(f: &FaceWho<'_>) -> Reason {
    f.reason(
        ReasonKind::FaceNoPublish,
        format!(
            "{} is {}, who is on the no-publish list ({})",
            face_at(f.bbox),
            who(f.id, f.name),
            f.how()
        ),
    )
}

/// Why a matched student may not appear on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoConsent {
    NotInRegister,
    Left,
    None,
    Withdrawn,
    Expired,
}

pub fn face_no_consent(f: &FaceWho<'_>, why: &NoConsent, channel: &str) -> Reason {
    let w = match why {
        NoConsent::NotInRegister => "is not in the register any more".to_string(),
        NoConsent::Left => "has left the school".to_string(),
        NoConsent::None => format!("has no consent for {channel}"),
        NoConsent::Withdrawn => format!("withdrew consent for {channel}"),
        NoConsent::Expired => format!("has consent for {channel} that expired"),
    };
    f.reason(
        ReasonKind::FaceNoConsent,
        format!(
            "{} is {}, who {w} ({})",
            face_at(f.bbox),
            who(f.id, f.name),
            f.how()
        ),
    )
}

pub fn face_ambiguous(f: &FaceWho<'_>, match_distance: f32, ambiguous_distance: f32) -> Reason {
    f.reason(
        ReasonKind::FaceAmbiguous,
        format!(
            "{} might be {}: {}, between the match ({match_distance:.2}) and ambiguous ({ambiguous_distance:.2}) thresholds",
            face_at(f.bbox),
            who(f.id, f.name),
            score_text(f.score)
        ),
    )
}

pub fn face_unknown(index: usize, bbox: &[f32; 4], score: Option<f32>) -> Reason {
    Reason {
        face: Some(index),
        ..Reason::new(
            ReasonKind::FaceUnknown,
            format!(
                "{} matches no enrolled student ({}); a moderator must check who it is",
                face_at(bbox),
                score_text(score)
            ),
        )
    }
}

/// `count` faces shorter than `under_px` that recognition cannot clear, in one reason.
pub fn small_faces(count: usize, under_px: f32) -> Reason {
    let faces = if count == 1 { "face" } else { "faces" };
    Reason::new(
        ReasonKind::SmallFaces,
        format!(
            "{count} {faces} too small to recognise (under {under_px:.0} px); check the crowd for children on the no-publish list"
        ),
    )
}

pub fn faces_unchecked(error: &str) -> Reason {
    Reason::new(
        ReasonKind::FacesUnchecked,
        format!("{error}; the photo is held because its faces could not be checked"),
    )
}

pub fn near_duplicate(photo_id: i64, distance: u32, limit: u32) -> Reason {
    Reason::new(
        ReasonKind::NearDuplicateOfRejected,
        format!("near-duplicate of rejected photo #{photo_id} (PDQ distance {distance} of 256, limit {limit}); `consentgate review show {photo_id}` says why it was rejected"),
    )
}

pub fn reupload_unchecked(error: &str) -> Reason {
    Reason::new(
        ReasonKind::FacesUnchecked,
        format!("the photo could not be compared with rejected photos ({error})"),
    )
}

pub fn redaction_failed(error: &str) -> Reason {
    Reason::new(
        ReasonKind::FacesUnchecked,
        format!("redaction failed ({error}); held instead"),
    )
}

/// A line of text in the picture names (or may name) a student: who, which words, where.
/// `read_as` is the line as read when the name is only in another reading of it (unsure or
/// look-alike letters): then it *may* name the student, for a moderator's eyes.
pub fn picture_text(
    hit: &CaptionHit,
    index: usize,
    bbox: &[f32; 4],
    student_name: Option<&str>,
    read_as: Option<&str>,
) -> Reason {
    let (kind, verb) = match (hit.severity, read_as) {
        (Severity::Block, None) => (ReasonKind::PictureTextNamesStudent, "names"),
        _ => (ReasonKind::PictureTextMayNameStudent, "may name"),
    };
    let mut note = hit
        .note
        .as_ref()
        .map(|n| format!("; {}; {n}", hit.form))
        .unwrap_or_else(|| format!("; {}", hit.form));
    if let Some(read) = read_as {
        note.push_str(&format!(
            "; read as \"{read}\", with letters the reader was unsure of or that look alike"
        ));
    }
    Reason {
        student: Some(hit.student_id.clone()),
        source: Some(TextSource::InPicture),
        text: Some(index),
        ..Reason::new(
            kind,
            format!(
                "text in the picture {verb} {}: \"{}\" at {:.0}, {:.0} ({:.0}\u{d7}{:.0}){note}",
                who(&hit.student_id, student_name),
                hit.matched,
                bbox[0],
                bbox[1],
                bbox[2],
                bbox[3]
            ),
        )
    }
}

pub fn picture_text_unchecked(error: &str) -> Reason {
    Reason::new(
        ReasonKind::PictureTextUnchecked,
        format!("text in the picture could not be checked ({error}); the photo is held because a name written in it would not be seen"),
    )
}
