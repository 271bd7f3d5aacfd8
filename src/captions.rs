//! Captions: does any text that travels with a photo name a student?
//!
//! Text arrives already extracted (sidecar, embedded metadata, file name); this stage folds it,
//! tokenises it and matches it against every student's name forms. It knows names, not photos.

use serde::Serialize;

/// The name forms of one student, as the register holds them.
#[derive(Debug, Clone, Default)]
pub struct PersonName {
    pub id: String,
    pub first_name: String,
    pub middle_names: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub nicknames: Vec<String>,
}

/// Where a piece of text came from: sidecar file, embedded metadata field, or the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextSource {
    Sidecar,
    /// An embedded metadata field, e.g. "XMP dc:description".
    Embedded(String),
    FileName,
}

impl TextSource {
    /// "sidecar", "embedded XMP dc:description", "filename".
    pub fn label(&self) -> String {
        match self {
            TextSource::Sidecar => "sidecar".into(),
            TextSource::Embedded(f) => format!("embedded {f}"),
            TextSource::FileName => "filename".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A possible mention (a first name that is also a common word, a surname alone, a nickname).
    Review,
    /// The text names the student.
    Block,
}

/// One student named in one piece of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptionHit {
    pub student_id: String,
    pub severity: Severity,
    /// Which name form matched, in words: "full name", "first name + initial", "surname alone"...
    pub form: String,
    /// The words as written in the text.
    pub matched: String,
    /// `TextSource::label()` of where the text came from.
    pub source: String,
}

/// Matches text against every student's name forms. Build once per run; share across threads.
#[derive(Debug, Default)]
pub struct NameMatcher {}

impl NameMatcher {
    pub fn new(_people: &[PersonName]) -> Self {
        NameMatcher {}
    }

    /// Every student the text names, at most one hit per student (the most severe).
    pub fn scan(&self, _text: &str, _source: &TextSource) -> Vec<CaptionHit> {
        Vec::new()
    }
}
