//! Decide: turn what the earlier stages found into release or hold, with reasons a moderator
//! understands. Pure: no I/O, so `check` and `run` decide identically.

use serde::{Deserialize, Serialize};

use crate::captions::{CaptionHit, Severity};
use crate::formats::{Device, FormatError};

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
        detail: format!(
            "{} {verb} {who}: \"{}\" ({})",
            hit.source, hit.matched, hit.form
        ),
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
