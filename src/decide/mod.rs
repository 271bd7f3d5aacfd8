//! Decide: every rule of the gate, in one place. Findings and the school's policy in, a
//! [`Verdict`] out: release, hold (with reasons), or redact then release. Pure — no I/O — so
//! `check`, `run` and a moderator's re-assessment decide identically, and the decision table of
//! SPEC is unit-tested here without a file system (`tests.rs`). The words live in [`reasons`].

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::captions::TextSource;
use crate::config::{Config, FaceAction, SmallFaces, UnknownFaces};
use crate::findings::{FaceMatch, Finding};
use crate::register::{Status, Student};

pub mod reasons;
#[cfg(test)]
mod tests;

pub use reasons::{Reason, ReasonKind, Urgency};

/// The register's students by id, as the rules need them (consent, no-publish, status, names).
pub type Students = HashMap<String, Student>;

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
    /// unknown under `unknown_faces = "review"`, too small to recognise under `small_faces =
    /// "review"`. Redaction blurs exactly these.
    pub may_publish: bool,
    /// Shorter than recognition can clear (`FacePolicy::recognisable_px`): the review page
    /// draws it in its own colour.
    #[serde(default)]
    pub small: bool,
}

/// One line of text read in the picture (printed in `--json` even when the photo is released).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextFinding {
    /// `[x, y, width, height]` in pixels of the photo as displayed.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub text: String,
    /// The register ids of the students the line names or may name (empty: nobody).
    pub named: Vec<String>,
}

/// The box to hand the blur (`redact`, an ellipse reaching `redact::GROW` beyond the box it is
/// given) so that its ellipse covers the whole text rectangle, corners included, while reaching
/// little above and below it (where the neighbouring lines are): semi-axes 1.81 × and 1.2 × the
/// rectangle's half sides, since (1/1.81)² + (1/1.2)² ≤ 1.
pub fn text_blur_box(b: &[f32; 4]) -> [f32; 4] {
    let g = 1.0 + crate::redact::GROW;
    let (w, h) = (b[2] * 1.81 / g, b[3] * 1.2 / g);
    [b[0] + (b[2] - w) / 2.0, b[1] + (b[3] - h) / 2.0, w, h]
}

/// The thresholds and policy for faces (from `[faces]` in the config).
#[derive(Debug, Clone, Copy)]
pub struct FacePolicy {
    pub match_distance: f32,
    pub ambiguous_distance: f32,
    pub unknown_faces: UnknownFaces,
    pub action: FaceAction,
    pub small_faces: SmallFaces,
    /// Faces shorter than this (pixels) cannot be recognised reliably (measured:
    /// [`crate::faces::RECOGNISABLE_FACE_PX`]).
    pub recognisable_px: f32,
}

/// The school's policy for one channel on one day: everything the rules depend on but findings.
#[derive(Debug, Clone)]
pub struct Policy {
    pub channel: String,
    /// For consent expiry.
    pub today: NaiveDate,
    pub faces: FacePolicy,
    pub require_school_devices: bool,
    /// PDQ distance (of 256) within which a photo is a re-upload of a rejected one.
    pub reupload_distance: u32,
}

impl Policy {
    pub fn new(config: &Config, channel: &str, today: NaiveDate) -> Policy {
        Policy {
            channel: channel.to_string(),
            today,
            faces: FacePolicy {
                match_distance: config.faces.match_distance,
                ambiguous_distance: config.faces.ambiguous_distance,
                unknown_faces: config.faces.unknown_faces,
                action: config.faces.action,
                small_faces: config.faces.small_faces,
                recognisable_px: crate::faces::RECOGNISABLE_FACE_PX,
            },
            require_school_devices: config.gate.require_school_devices,
            reupload_distance: config.faces.reupload_distance,
        }
    }
}

/// What becomes of the photo.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Release,
    /// Held for a moderator; reasons most serious first.
    Hold(Vec<Reason>),
    /// Release a copy with these face boxes blurred (`action = "redact"`, every reason a face that
    /// blurring removes). `reasons` are what the photo is held for if blurring fails.
    RedactThenRelease {
        boxes: Vec<[f32; 4]>,
        reasons: Vec<Reason>,
    },
}

impl Verdict {
    /// The reasons to hold (none for a release or a redaction).
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Hold(r) => r,
            _ => &[],
        }
    }
    pub fn is_hold(&self) -> bool {
        matches!(self, Verdict::Hold(_))
    }
}

/// The verdict and what the journal keeps about the photo whatever it is.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Every face with its band and whether it may be published.
    pub faces: Vec<FaceFinding>,
    /// Every line of text read in the picture, with whom it names.
    pub texts: Vec<TextFinding>,
    /// (student id, how) for every student linked to the photo: the takedown list.
    pub students: Vec<(String, String)>,
    /// Whether the sidecar caption named or may have named somebody (then it never travels).
    pub sidecar_names_someone: bool,
}

/// Apply every rule to a photo's findings.
pub fn decide(findings: &[Finding], policy: &Policy, students: &Students) -> Judgement {
    let mut reasons = Vec::new();
    let mut linked = Vec::new();
    let mut sidecar_names_someone = false;
    let mut matches = Vec::new();
    let mut texts: Vec<TextFinding> = Vec::new();
    let name = |id: &str| students.get(id).map(Student::display_name);
    for f in findings {
        match f {
            Finding::Unread(u) => reasons.push(reasons::unread(u)),
            Finding::Format(p) => reasons.push(reasons::format(p)),
            Finding::CaptionUnreadable { error } => {
                reasons.push(reasons::caption_unreadable(error))
            }
            Finding::Caption { hit, source } => {
                sidecar_names_someone |= *source == TextSource::Sidecar;
                linked.push((
                    hit.student_id.clone(),
                    format!("caption ({})", source.label()),
                ));
                reasons.push(reasons::caption(
                    hit,
                    source,
                    name(&hit.student_id).as_deref(),
                ));
            }
            Finding::Device { device, registered } => {
                if policy.require_school_devices && !registered {
                    reasons.push(reasons::device(device));
                }
            }
            Finding::Face(m) => matches.push(m.clone()),
            Finding::FacesUnchecked { error } => reasons.push(reasons::faces_unchecked(error)),
            Finding::Reupload { photo_id, distance } => {
                if *distance <= policy.reupload_distance {
                    reasons.push(reasons::near_duplicate(
                        *photo_id,
                        *distance,
                        policy.reupload_distance,
                    ));
                }
            }
            Finding::ReuploadUnchecked { error } => {
                reasons.push(reasons::reupload_unchecked(error))
            }
            Finding::PictureText(line) => {
                let index = texts.len();
                for hit in &line.hits {
                    linked.push((hit.student_id.clone(), "text in the picture".to_string()));
                    reasons.push(reasons::picture_text(
                        hit,
                        index,
                        &line.bbox,
                        name(&hit.student_id).as_deref(),
                        line.unsure.then_some(line.text.as_str()),
                    ));
                }
                let mut named: Vec<String> =
                    line.hits.iter().map(|h| h.student_id.clone()).collect();
                named.sort();
                named.dedup();
                texts.push(TextFinding {
                    bbox: line.bbox,
                    text: line.text.clone(),
                    named,
                });
            }
            Finding::PictureTextUnchecked { error } => {
                reasons.push(reasons::picture_text_unchecked(error))
            }
        }
    }
    let (faces, face_reasons) = judge_faces(&matches, policy, students);
    for f in &faces {
        if let (Band::Match, Some(id), Some(d)) = (f.band, &f.student, f.score) {
            linked.push((id.clone(), format!("face (distance {d:.2})")));
        }
    }
    reasons.extend(face_reasons);
    linked.sort();
    linked.dedup();
    let reasons = sorted(reasons);
    let verdict = if reasons.is_empty() {
        Verdict::Release
    } else if policy.faces.action == FaceAction::Redact
        && reasons.iter().all(|r| r.kind.is_redactable())
    {
        Verdict::RedactThenRelease {
            boxes: faces
                .iter()
                .filter(|f| !f.may_publish)
                .map(|f| f.bbox)
                .chain(
                    texts
                        .iter()
                        .filter(|t| !t.named.is_empty())
                        .map(|t| text_blur_box(&t.bbox)),
                )
                .collect(),
            reasons,
        }
    } else {
        Verdict::Hold(reasons)
    };
    Judgement {
        verdict,
        faces,
        texts,
        students: linked,
        sidecar_names_someone,
    }
}

/// Blurring was asked for but failed: hold for what blurring would have removed, and say so.
pub fn redaction_failed(reasons: Vec<Reason>, error: &str) -> Verdict {
    let mut reasons = reasons;
    reasons.push(reasons::redaction_failed(error));
    Verdict::Hold(sorted(reasons))
}

/// Reasons most serious first, each once.
pub fn sorted(mut reasons: Vec<Reason>) -> Vec<Reason> {
    reasons.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.student.cmp(&b.student))
            .then_with(|| a.face.cmp(&b.face))
            .then_with(|| a.text.cmp(&b.text))
    });
    reasons.dedup();
    reasons
}

/// The decision table for faces: band each face, and say which may not be published on the
/// channel and why. Also used alone when a moderator says who a face is.
pub fn judge_faces(
    matches: &[FaceMatch],
    policy: &Policy,
    students: &Students,
) -> (Vec<FaceFinding>, Vec<Reason>) {
    let fp = &policy.faces;
    let mut findings = Vec::with_capacity(matches.len());
    let mut out = Vec::new();
    let mut small_count = 0;
    for (index, m) in matches.iter().enumerate() {
        let score = m.nearest.as_ref().map(|(_, d)| *d);
        let (band, student) = match (&m.same_picture, &m.nearest) {
            (Some(id), _) => (Band::Match, Some(id.clone())),
            (None, Some((id, d))) if *d <= fp.match_distance => (Band::Match, Some(id.clone())),
            (None, Some((id, d))) if *d <= fp.ambiguous_distance => {
                (Band::Ambiguous, Some(id.clone()))
            }
            (None, _) => (Band::None, None),
        };
        let reason = match (&band, &student) {
            (Band::Match, Some(id)) | (Band::Ambiguous, Some(id)) => {
                let s = students.get(id);
                let name = s.map(Student::display_name);
                let w = reasons::FaceWho {
                    index,
                    bbox: &m.bbox,
                    id,
                    name: name.as_deref(),
                    score,
                    same_picture: m.same_picture.is_some(),
                };
                if band == Band::Ambiguous {
                    Some(reasons::face_ambiguous(
                        &w,
                        fp.match_distance,
                        fp.ambiguous_distance,
                    ))
                } else if s.is_some_and(|s| s.no_publish) {
                    Some(reasons::face_no_publish(&w))
                } else {
                    no_consent(s, &policy.channel, policy.today)
                        .map(|why| reasons::face_no_consent(&w, &why, &policy.channel))
                }
            }
            _ => (fp.unknown_faces == UnknownFaces::Review)
                .then(|| reasons::face_unknown(index, &m.bbox, score)),
        };
        // A face too small for its embedding to be trusted is never cleared by it: unless it
        // is already held for who it may be, or a moderator said who it is (the same picture),
        // it counts towards one "too small to recognise" reason.
        let small = m.bbox[3] < fp.recognisable_px;
        let uncleared = small
            && fp.small_faces == SmallFaces::Review
            && m.same_picture.is_none()
            && reason
                .as_ref()
                .is_none_or(|r| r.kind == reasons::ReasonKind::FaceUnknown);
        let reason = if uncleared {
            small_count += 1;
            None
        } else {
            reason
        };
        findings.push(FaceFinding {
            bbox: m.bbox,
            score,
            student,
            band,
            detection: m.detection,
            may_publish: reason.is_none() && !uncleared,
            small,
        });
        out.extend(reason);
    }
    if small_count > 0 {
        out.push(reasons::small_faces(small_count, fp.recognisable_px));
    }
    (findings, out)
}

/// Why a student may not appear on `channel` today, if they may not.
fn no_consent(s: Option<&Student>, channel: &str, today: NaiveDate) -> Option<reasons::NoConsent> {
    use reasons::NoConsent;
    let s = match s {
        None => return Some(NoConsent::NotInRegister),
        Some(s) if s.status == Status::Left => return Some(NoConsent::Left),
        Some(s) => s,
    };
    match s.consent(channel) {
        None => Some(NoConsent::None),
        Some(c) if c.withdrawn_on.is_some() => Some(NoConsent::Withdrawn),
        Some(c) if !c.is_valid_on(today) && c.granted => Some(NoConsent::Expired),
        Some(c) if !c.is_valid_on(today) => Some(NoConsent::None),
        Some(_) => None,
    }
}
