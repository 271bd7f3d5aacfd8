//! The register as the gate judges against it: name matcher, students, face templates, school
//! devices and rejected photos, loaded once. One `Judge` serves the gate, the moderator's actions
//! and the review page, so a caption is checked the same way everywhere.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::captions::{CaptionHit, NameMatcher, TextSource};
use crate::decide::Students;
use crate::journal::{self, JournalError};
use crate::register::{self, SchoolDevice, Student, Template};

/// A rejected photo's PDQ hash and that of its mirror image.
#[derive(Debug, Clone)]
pub struct RejectedHash {
    pub photo_id: i64,
    pub hash: [u8; 32],
    pub mirror: [u8; 32],
}

pub struct Judge {
    matcher: NameMatcher,
    pub students: Students,
    pub templates: Vec<Template>,
    pub devices: Vec<SchoolDevice>,
    /// Whole-image hashes of rejected photos (trusted quality only), for re-upload detection.
    pub rejected: Vec<RejectedHash>,
}

impl Judge {
    pub fn new(
        students: &[Student],
        devices: Vec<SchoolDevice>,
        templates: Vec<Template>,
        rejected: Vec<RejectedHash>,
    ) -> Judge {
        let people: Vec<_> = students.iter().map(Student::person_name).collect();
        Judge {
            matcher: NameMatcher::new(&people),
            students: students
                .iter()
                .map(|s| (s.id.clone(), s.clone()))
                .collect::<HashMap<_, _>>(),
            templates,
            devices,
            rejected,
        }
    }

    /// Everything from the workspace database, as it is now.
    pub fn load(conn: &Connection) -> Result<Judge, JournalError> {
        let students = register::all_students(conn)?;
        let devices = register::devices(conn)?;
        let templates = register::templates(conn)?;
        let rejected = journal::rejected_hashes(conn)?
            .into_iter()
            .filter_map(|(photo_id, hash, mirror, quality)| {
                let (hash, mirror) = (
                    crate::pdq::Pdq::from_hex(&hash)?,
                    crate::pdq::Pdq::from_hex(&mirror)?,
                );
                (quality >= crate::pdq::MIN_QUALITY).then_some(RejectedHash {
                    photo_id,
                    hash,
                    mirror,
                })
            })
            .collect();
        Ok(Judge::new(&students, devices, templates, rejected))
    }

    /// Every student `text` names (or may name).
    pub fn scan(&self, text: &str, source: &TextSource) -> Vec<CaptionHit> {
        self.matcher.scan(text, source)
    }
}
