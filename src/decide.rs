//! Decide: turn what the earlier stages found into release or hold, with reasons a moderator
//! understands. Pure: no I/O, so `check` and `run` decide identically.

use serde::{Deserialize, Serialize};

use crate::captions::{CaptionHit, Severity};
use crate::config::{FaceAction, UnknownFaces};
use crate::faces::{Face, FaceBox};
use crate::formats::{Device, FormatError};
use crate::register::{Status, Student};

/// Why a photo was held, in a form scripts can filter on (`kind`) and people can read (`detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub kind: ReasonKind,
    pub detail: String,
    /// The student concerned, when there is one (register id).
    pub student: Option<String>,
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
    FaceNoPublish,
    /// A face matches a student without valid consent for the channel (none, expired, withdrawn, left).
    FaceNoConsent,
    /// A face is near a student's template but not clearly them.
    FaceAmbiguous,
    /// A face matches nobody enrolled (config `unknown_faces = "review"`).
    FaceUnknown,
    /// The photo is (nearly) a photo a moderator rejected before, or its mirror image.
    NearDuplicateOfRejected,
    /// Faces could not be checked (model or decoding failure): fail closed.
    FacesUnchecked,
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
            ReasonKind::NearDuplicateOfRejected => "re-upload of a rejected photo",
            ReasonKind::FacesUnchecked => "faces could not be checked",
        }
    }
}

/// How a caption hit is described: who, which form, which words, where.
pub fn caption_reason(hit: &CaptionHit, student_name: Option<&str>) -> Reason {
    let who = student_name.map_or_else(
        || hit.student_id.clone(),
        |n| format!("{n} ({})", hit.student_id),
    );
    let (kind, verb) = match hit.severity {
        Severity::Block => (ReasonKind::CaptionNamesStudent, "names"),
        Severity::Review => (ReasonKind::CaptionMayNameStudent, "may name"),
    };
    Reason {
        kind,
        detail: match &hit.note {
            None => format!(
                "{} {verb} {who}: \"{}\" ({})",
                hit.source, hit.matched, hit.form
            ),
            Some(note) => format!(
                "{} {verb} {who}: \"{}\" ({}; {note})",
                hit.source, hit.matched, hit.form
            ),
        },
        student: Some(hit.student_id.clone()),
    }
}

pub fn format_reason(err: &FormatError) -> Reason {
    let kind = match err {
        FormatError::Unsupported(_) => ReasonKind::UnsupportedFormat,
        FormatError::Corrupt(_) => ReasonKind::DamagedFile,
        FormatError::TooLarge { .. } => ReasonKind::TooLarge,
    };
    Reason {
        kind,
        detail: err.to_string(),
        student: None,
    }
}

/// The device check's verdict, when the school requires its own devices.
pub fn device_reason(device: &Device) -> Reason {
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
    Reason {
        kind: ReasonKind::UnregisteredDevice,
        detail,
        student: None,
    }
}

/// An enrolled face: one template of one student.
#[derive(Debug, Clone)]
pub struct Template {
    pub student_id: String,
    pub embedding: Vec<f32>,
    pub crop_hash: Vec<u8>,
}

/// How close a face is to its nearest student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Match,
    Ambiguous,
    None,
}

/// One face as the gate judged it (printed in `--json` even when the photo is released).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaceFinding {
    /// `[x, y, width, height]` in pixels of the photo as displayed.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Embedding distance to the nearest enrolled student (smaller = more alike); null when nobody is enrolled.
    pub score: Option<f32>,
    /// The nearest student when the band is match or ambiguous.
    pub student: Option<String>,
    pub band: Band,
    /// Detector confidence.
    pub detection: f32,
    /// False when this face is not cleared for the channel: no-publish, no consent, ambiguous, or
    /// unknown under `unknown_faces = "review"`. Redaction blurs exactly these.
    pub may_publish: bool,
}

/// The thresholds and policy for faces (from `[faces]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct FacePolicy {
    pub match_distance: f32,
    pub ambiguous_distance: f32,
    pub unknown_faces: UnknownFaces,
    pub action: FaceAction,
    /// Crop-hash Hamming distance at which a face is the same picture as an enrolment template.
    pub same_picture_bits: u32,
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    if a.len() != b.len() || a.is_empty() {
        return u32::MAX;
    }
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

fn describe_box(b: &FaceBox) -> String {
    format!(
        "face at x {:.0}, y {:.0} ({:.0}x{:.0} px)",
        b.x, b.y, b.width, b.height
    )
}

/// Match every face against the templates and apply the decision table for `channel`.
/// Returns one finding per face and the reasons to hold.
pub fn judge_faces(
    faces: &[Face],
    templates: &[Template],
    students: &std::collections::HashMap<String, Student>,
    channel: &str,
    today: chrono::NaiveDate,
    policy: &FacePolicy,
) -> (Vec<FaceFinding>, Vec<Reason>) {
    let mut findings = Vec::with_capacity(faces.len());
    let mut reasons = Vec::new();
    for face in faces {
        // Nearest template; the same picture as an enrolment photo is the student whatever the embedding says.
        let mut best: Option<(&Template, f32)> = None;
        let mut same_picture = None;
        for t in templates {
            let d = crate::faces::distance(&face.embedding, &t.embedding);
            if best.is_none_or(|(_, bd)| d < bd) {
                best = Some((t, d));
            }
            if same_picture.is_none()
                && hamming(&face.crop_hash, &t.crop_hash) <= policy.same_picture_bits
            {
                same_picture = Some(t);
            }
        }
        let b = face.bbox;
        let (band, student, score) = match (same_picture, best) {
            (Some(t), _) => (
                Band::Match,
                Some(t.student_id.clone()),
                best.map(|(_, d)| d),
            ),
            (None, Some((t, d))) if d <= policy.match_distance => {
                (Band::Match, Some(t.student_id.clone()), Some(d))
            }
            (None, Some((t, d))) if d <= policy.ambiguous_distance => {
                (Band::Ambiguous, Some(t.student_id.clone()), Some(d))
            }
            (None, best) => (Band::None, None, best.map(|(_, d)| d)),
        };
        let where_ = describe_box(&b);
        let score_text = score
            .map(|d| format!("distance {d:.2}"))
            .unwrap_or_else(|| "nobody enrolled".into());
        let mut may_publish = true;
        match band {
            Band::Match => {
                let id = student.clone().unwrap_or_default();
                let s = students.get(&id);
                let name = s.map(Student::display_name).unwrap_or_else(|| id.clone());
                let how = if same_picture.is_some() {
                    "the same picture as their enrolment photo"
                } else {
                    "match"
                };
                if s.is_some_and(|s| s.no_publish) {
                    may_publish = false;
                    reasons.push(Reason {
                        kind: ReasonKind::FaceNoPublish,
                        detail: format!("{where_} is {name} ({id}), who is on the no-publish list ({how}, {score_text})"),
                        student: Some(id),
                    });
                } else {
                    let consent = s.and_then(|s| s.consent(channel));
                    let why_not = match s {
                        None => Some("is not in the register any more".to_string()),
                        Some(s) if s.status == Status::Left => {
                            Some("has left the school".to_string())
                        }
                        Some(_) => match consent {
                            None => Some(format!("has no consent for {channel}")),
                            Some(c) if c.withdrawn_on.is_some() => {
                                Some(format!("withdrew consent for {channel}"))
                            }
                            Some(c) if !c.is_valid_on(today) && c.granted => {
                                Some(format!("has consent for {channel} that expired"))
                            }
                            Some(c) if !c.is_valid_on(today) => {
                                Some(format!("has no consent for {channel}"))
                            }
                            Some(_) => None,
                        },
                    };
                    if let Some(w) = why_not {
                        may_publish = false;
                        reasons.push(Reason {
                            kind: ReasonKind::FaceNoConsent,
                            detail: format!(
                                "{where_} is {name} ({id}), who {w} ({how}, {score_text})"
                            ),
                            student: Some(id),
                        });
                    }
                }
            }
            Band::Ambiguous => {
                may_publish = false;
                let id = student.clone().unwrap_or_default();
                let name = students
                    .get(&id)
                    .map(Student::display_name)
                    .unwrap_or_else(|| id.clone());
                reasons.push(Reason {
                    kind: ReasonKind::FaceAmbiguous,
                    detail: format!("{where_} might be {name} ({id}): {score_text}, between the match ({:.2}) and ambiguous ({:.2}) thresholds", policy.match_distance, policy.ambiguous_distance),
                    student: Some(id),
                });
            }
            Band::None => {
                if policy.unknown_faces == UnknownFaces::Review {
                    may_publish = false;
                    reasons.push(Reason {
                        kind: ReasonKind::FaceUnknown,
                        detail: format!("{where_} matches no enrolled student ({score_text}); a moderator must check who it is"),
                        student: None,
                    });
                }
            }
        }
        findings.push(FaceFinding {
            bbox: [b.x, b.y, b.width, b.height],
            score,
            student,
            band,
            detection: face.score,
            may_publish,
        });
    }
    (findings, reasons)
}

/// Reasons that blurring the face removes (when the config asks for redaction).
pub fn redactable(kind: ReasonKind) -> bool {
    matches!(kind, ReasonKind::FaceNoPublish | ReasonKind::FaceNoConsent)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Released,
    Held,
}

/// Release only when there is no reason to hold. Reasons are sorted most serious first.
pub fn decide(mut reasons: Vec<Reason>) -> (Decision, Vec<Reason>) {
    reasons.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.student.cmp(&b.student)));
    reasons.dedup();
    let decision = if reasons.is_empty() {
        Decision::Released
    } else {
        Decision::Held
    };
    (decision, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_reasons_releases_any_reason_holds() {
        assert_eq!(decide(vec![]).0, Decision::Released);
        let r = device_reason(&Device {
            make: Some("Apple".into()),
            model: Some("iPhone 15".into()),
            serial: None,
        });
        assert!(r.detail.contains("Apple iPhone 15"));
        assert_eq!(decide(vec![r]).0, Decision::Held);
    }

    #[test]
    fn caption_reason_names_student_form_and_source() {
        let hit = CaptionHit {
            student_id: "A1".into(),
            severity: Severity::Block,
            form: "full name".into(),
            matched: "Olivia Smith".into(),
            source: "sidecar".into(),
            note: None,
        };
        let r = caption_reason(&hit, Some("Olivia Smith"));
        assert_eq!(r.kind, ReasonKind::CaptionNamesStudent);
        assert_eq!(r.student.as_deref(), Some("A1"));
        assert!(
            r.detail.contains("sidecar")
                && r.detail.contains("full name")
                && r.detail.contains("(A1)"),
            "{}",
            r.detail
        );
    }
}
