//! The audit trail in words: each entry as a sentence ("Approved by Sam Moderator (account 3) —
//! released to outbox/website/… — note: …"), with "photo #N" a link to the photo. Only
//! translation: the entries are the trail's own fields, printed; every value is escaped by maud.

use std::collections::HashMap;

use chrono::{DateTime, Local};
use maud::{html, Markup};
use serde_json::Value;

use crate::audit::AuditEntry;
use crate::decide::{Reason, ReasonKind};

/// Local time of an audit timestamp ("Tue 1 Dec 2026, 14:02"), or the stamp itself if unreadable.
fn at(e: &AuditEntry) -> String {
    DateTime::parse_from_rfc3339(&e.at).map_or_else(
        |_| e.at.clone(),
        |t| {
            t.with_timezone(&Local)
                .format("%a %-d %b %Y, %H:%M")
                .to_string()
        },
    )
}

/// Who did it: a person as recorded, the gate as the service (with who started it).
fn actor(e: &AuditEntry) -> String {
    let started = e.detail.get("started_by").and_then(Value::as_str);
    let gate_decision = matches!(e.action.as_str(), "held" | "released");
    match (e.actor == crate::audit::GATE, started) {
        (true, Some(by)) => format!("the gate ({}, started by {by})", crate::audit::GATE),
        (true, None) => format!("the gate ({})", crate::audit::GATE),
        // Rows written before the gate was named: the account that started the run.
        (false, _) if gate_decision => format!("the gate (started by {})", e.actor),
        _ => e.actor.clone(),
    }
}

fn text(d: &Value, key: &str) -> Option<String> {
    match d.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        _ => None,
    }
}

fn count(d: &Value, key: &str) -> u64 {
    d.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The reason labels of a `reasons` list in an entry's detail.
fn reason_labels(d: &Value) -> Vec<&'static str> {
    let reasons: Vec<Reason> = d
        .get("reasons")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    let mut kinds: Vec<ReasonKind> = reasons.iter().map(|r| r.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds.into_iter().map(ReasonKind::label).collect()
}

/// A value of a detail we have no sentence for, in words: text as it is, lists joined, nested
/// fields as "key: value".
fn plain(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// What the entry says happened, in words (without who and when).
fn what(e: &AuditEntry, names: &HashMap<String, String>) -> String {
    let d = &e.detail;
    let who = actor(e);
    let outbox = text(d, "outbox");
    let to = |o: &Option<String>| o.as_ref().map_or(String::new(), |o| format!(" to {o}"));
    let student = |id: &str| {
        names
            .get(id)
            .map_or_else(|| id.to_string(), |n| format!("{n} ({id})"))
    };
    match e.action.as_str() {
        "held" => {
            let labels = reason_labels(d);
            if labels.is_empty() {
                format!("Held for review by {who}")
            } else {
                format!("Held for review by {who}: {}", labels.join(", "))
            }
        }
        "released" => format!("Released by {who}{}", to(&outbox)),
        "approved" => {
            let mut s = format!("Approved by {who} and released{}", to(&outbox));
            if let Some(first) = d
                .get("second_opinion")
                .and_then(|s| s.get("first_approval"))
            {
                s.push_str(&format!(
                    " (the second opinion; first approval by {})",
                    text(first, "by").unwrap_or_default()
                ));
            }
            s
        }
        "first-approval" => {
            let what = if text(d, "action").as_deref() == Some("redact") {
                "to blur and release"
            } else {
                "to release"
            };
            format!("First approval by {who} {what}; it waits for a second opinion from a different senior")
        }
        "redacted-and-released" => format!(
            "Blurred by {who} ({} and {}) and released{}",
            plural(count(d, "faces_blurred"), "face", "faces"),
            plural(count(d, "texts_blurred"), "line of text", "lines of text"),
            to(&outbox)
        ),
        "rejected" => format!("Rejected by {who}; a re-upload of it will be held too"),
        "senior-asked" => format!("{who} asked a senior to look at it"),
        "caption-edited" => {
            let before = text(d, "before").unwrap_or_else(|| "(none)".into());
            let after = text(d, "after").unwrap_or_default();
            let travels = d
                .get("caption_released_on_approval")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            format!(
                "Caption edited by {who} from \u{201c}{before}\u{201d} to \u{201c}{after}\u{201d}; {}",
                if travels {
                    "it names nobody, so it is released with the photo"
                } else {
                    "it is not released with the photo"
                }
            )
        }
        "face-attributed" => format!(
            "Face {} recorded by {who} as {}",
            text(d, "face").unwrap_or_default(),
            student(&text(d, "student").unwrap_or_default())
        ),
        "face-enrolled" => format!(
            "Face template for {} added by {who} (from {})",
            student(&e.subject),
            text(d, "source").unwrap_or_else(|| "an enrolment photo".into())
        ),
        _ => {
            let rest: Vec<String> = d
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| k.as_str() != "note")
                        .map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v)))
                        .collect()
                })
                .unwrap_or_default();
            let mut s = format!("{} by {who}", capitalised(&e.action.replace('-', " ")));
            if !rest.is_empty() {
                s.push_str(&format!(" ({})", rest.join("; ")));
            }
            s
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// The photo a subject names ("photo #12" → 12).
fn photo_of(subject: &str) -> Option<i64> {
    subject
        .strip_prefix("photo #")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
}

/// Entries as a list of sentences. `subjects`: show what each entry is about (the audit page;
/// a photo's own history leaves it out).
pub fn trail(entries: &[AuditEntry], names: &HashMap<String, String>, subjects: bool) -> Markup {
    html! {
        ol.trail {
            @for e in entries {
                li data-seq=(e.seq) title=(format!("entry {} · {}", e.seq, e.action)) {
                    span.when { (at(e)) }
                    " \u{2014} "
                    @if subjects {
                        @if let Some(id) = photo_of(&e.subject) {
                            a.subject href=(format!("/photo/{id}")) { "Photo #" (id) } ": "
                        } @else {
                            span.subject { (capitalised(&e.subject)) } ": "
                        }
                    }
                    span.what { (what(e, names)) }
                    @if let Some(note) = text(&e.detail, "note").filter(|n| !n.trim().is_empty()) {
                        " \u{2014} " span.note { "note: " q { (note) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str, action: &str, subject: &str, detail: Value) -> AuditEntry {
        AuditEntry {
            seq: 7,
            at: "2026-12-01T14:02:00+00:00".into(),
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn entries_read_as_sentences_with_photo_links_and_no_json() {
        let names = HashMap::from([("A1002".to_string(), "Aarav Patel".to_string())]);
        let list = [
            entry(
                "Sam Moderator (account 3)",
                "approved",
                "photo #12",
                serde_json::json!({"note": "Consent checked with parent", "outbox": "outbox/website/x.jpg", "reasons": []}),
            ),
            entry(
                crate::audit::GATE,
                "held",
                "photo #13",
                serde_json::json!({"started_by": "root", "reasons": [{"kind": "caption_names_student", "detail": "x", "student": "A1001"}]}),
            ),
            entry(
                "root",
                "released",
                "photo #14",
                serde_json::json!({"outbox": "outbox/website/y.jpg"}),
            ),
            entry(
                "head (account 1)",
                "face-attributed",
                "photo #15",
                serde_json::json!({"face": 2, "student": "A1002", "note": "<b>tutor</b>"}),
            ),
            entry(
                "head (account 1)",
                "user-added",
                "user:sam",
                serde_json::json!({"account": 3, "role": "moderator"}),
            ),
        ];
        let out = trail(&list, &names, true).into_string();
        assert!(
            out.contains("<a class=\"subject\" href=\"/photo/12\">Photo #12</a>"),
            "{out}"
        );
        assert!(
            out.contains(
                "Approved by Sam Moderator (account 3) and released to outbox/website/x.jpg"
            ),
            "{out}"
        );
        assert!(
            out.contains("note: <q>Consent checked with parent</q>"),
            "{out}"
        );
        assert!(out.contains("Held for review by the gate (consentgate gate, started by root): caption names a student"), "{out}");
        assert!(
            out.contains("Released by the gate (started by root) to outbox/website/y.jpg"),
            "{out}"
        );
        assert!(
            out.contains("Face 2 recorded by head (account 1) as Aarav Patel (A1002)"),
            "{out}"
        );
        assert!(out.contains("&lt;b&gt;tutor&lt;/b&gt;"), "escaped: {out}");
        assert!(
            out.contains("User added by head (account 1) (account: 3; role: moderator)"),
            "{out}"
        );
        assert!(!out.contains('{') && !out.contains("\":"), "no JSON: {out}");
    }
}
