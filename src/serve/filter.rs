//! The queue filter as URL query parameters (`?reason=face_no_publish&channel=website&folder=…`):
//! read from the queue's and a photo's URL, carried in every action form as hidden fields, so a
//! moderator working through one kind of photo stays in it from photo to photo.

use axum::http::StatusCode;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::auth::Refusal;
use crate::decide::{ReasonKind, Urgency};
use crate::review::QueueFilter;

/// The filter's raw parameters (empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterParams {
    /// A reason kind (`face_no_publish`) or an urgency (`must_not_publish`, `needs_a_look`,
    /// `cannot_read`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub folder: String,
}

/// Parse a snake_case name as one of serde's unit variants.
fn variant<T: serde::de::DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

impl FilterParams {
    /// The filter these parameters ask for; an unknown reason is refused (not silently "any").
    pub fn filter(&self) -> Result<QueueFilter, Refusal> {
        let reason = self.reason.trim();
        let (kind, urgency) = if reason.is_empty() {
            (None, None)
        } else if let Some(u) = variant::<Urgency>(reason) {
            (None, Some(u))
        } else if let Some(k) = variant::<ReasonKind>(reason) {
            (Some(k), None)
        } else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("there is no reason called {reason:?} to filter by; choose one from the list on the queue page"),
            ));
        };
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(QueueFilter {
            kind,
            urgency,
            channel: some(&self.channel),
            // "/": photos dropped at the top of staging, in no event folder.
            folder: some(&self.folder).map(|f| if f == "/" { String::new() } else { f }),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.reason.is_empty() && self.channel.is_empty() && self.folder.is_empty()
    }

    /// `?reason=…&…` for a URL, or "" without a filter.
    pub fn query(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        serde_urlencoded::to_string(self).map_or_else(|_| String::new(), |q| format!("?{q}"))
    }

    /// The same parameters as hidden fields of a form.
    pub fn hidden(&self) -> Markup {
        html! {
            @if !self.reason.is_empty() { input type="hidden" name="reason" value=(self.reason); }
            @if !self.channel.is_empty() { input type="hidden" name="channel" value=(self.channel); }
            @if !self.folder.is_empty() { input type="hidden" name="folder" value=(self.folder); }
        }
    }
}

/// The snake_case name of a reason kind or urgency, as the `reason` parameter takes it.
pub fn param<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_urgencies_channels_and_folders_round_trip() {
        let p = FilterParams {
            reason: "face_no_publish".into(),
            channel: "website".into(),
            folder: "Sports day/Year 6 & 7".into(),
        };
        let f = p.filter().unwrap();
        assert_eq!(f.kind, Some(ReasonKind::FaceNoPublish));
        assert_eq!(f.channel.as_deref(), Some("website"));
        assert_eq!(f.folder.as_deref(), Some("Sports day/Year 6 & 7"));
        let q = p.query();
        assert_eq!(
            q,
            "?reason=face_no_publish&channel=website&folder=Sports+day%2FYear+6+%26+7"
        );
        let back: FilterParams = serde_urlencoded::from_str(&q[1..]).unwrap();
        assert_eq!(back, p);

        let u = FilterParams {
            reason: param(&Urgency::CannotRead),
            ..FilterParams::default()
        };
        assert_eq!(u.reason, "cannot_read");
        assert_eq!(u.filter().unwrap().urgency, Some(Urgency::CannotRead));
        assert_eq!(FilterParams::default().query(), "");
        let top = FilterParams {
            folder: "/".into(),
            ..FilterParams::default()
        };
        assert_eq!(top.filter().unwrap().folder.as_deref(), Some(""));
        assert!(FilterParams::default().filter().unwrap().is_empty());
        let bad = FilterParams {
            reason: "nonsense".into(),
            ..FilterParams::default()
        };
        assert_eq!(
            bad.filter().err().map(|r| r.status),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
