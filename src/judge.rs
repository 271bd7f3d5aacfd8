//! The register as the gate judges against it: name matcher, students, face templates, school
//! devices and rejected photos, loaded once. One `Judge` serves the gate, the moderator's actions
//! and the review page, so a caption is checked the same way everywhere.

use std::collections::HashMap;
use std::sync::OnceLock;

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
    /// Full names by given name, built on the first misread line ([`Judge::misread_full_names`]).
    given: OnceLock<HashMap<String, Vec<FullName>>>,
}

/// One way a student's full name is written: a given name (first or known-as) and a surname.
struct FullName {
    given: String,
    last: String,
}

/// A misread full name may be this far from the name, in [`crate::ocr::misread_cost`] edits per
/// letter of the name, in all and in each of its two words: "Cecrge Adeyeni" (1.5 over 13
/// letters) is George Adeyemi; "Happy Birthday" is no Harry.
const MISREAD_PER_LETTER: f32 = 0.25;
const MISREAD_PER_WORD_LETTER: f32 = 0.35;

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
            given: OnceLock::new(),
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

    /// Readings of a line of text read off a picture in which two neighbouring words the reader
    /// may have misread, letter by letter ([`crate::ocr::misread_cost`]), are a student's full
    /// name written out: "Cecrge Adeyeni" gives "George Adeyemi". Nearest first; the line as
    /// read is left to [`Judge::scan`], and what a reading names is `scan`'s to say.
    pub fn misread_full_names(&self, text: &str) -> Vec<String> {
        let given = self.given.get_or_init(|| {
            let mut by: HashMap<String, Vec<FullName>> = HashMap::new();
            for st in self.students.values() {
                let last = st.preferred_surname.as_deref().unwrap_or(&st.last_name);
                for g in [Some(st.first_name.as_str()), st.preferred_name.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    let list = by.entry(g.to_lowercase()).or_default();
                    if !list.iter().any(|n| n.last == last) {
                        list.push(FullName {
                            given: g.to_string(),
                            last: last.to_string(),
                        });
                    }
                }
            }
            by
        });
        let words: Vec<(usize, usize)> = text
            .split_whitespace()
            .map(|w| {
                let start = w.as_ptr() as usize - text.as_ptr() as usize;
                let t = w.trim_matches(|c: char| !c.is_alphanumeric());
                let s = start + w.find(t).unwrap_or(0);
                (s, s + t.len())
            })
            .collect();
        let fits = |cost: f32, letters: usize, per: f32| cost <= per * letters as f32;
        let mut found: Vec<(f32, String)> = Vec::new();
        for pair in words.windows(2) {
            let (a, b) = (&text[pair[0].0..pair[0].1], &text[pair[1].0..pair[1].1]);
            let word = |w: &str| w.chars().count() >= 2 && w.chars().all(char::is_alphabetic);
            if !word(a) || !word(b) {
                continue;
            }
            let (la, lb) = (a.chars().count(), b.chars().count());
            for (g, names) in given {
                let gl = g.chars().count();
                if gl.abs_diff(la) as f32 > MISREAD_PER_WORD_LETTER * gl as f32 {
                    continue;
                }
                let cg = crate::ocr::misread_cost(a, g);
                if !fits(cg, gl, MISREAD_PER_WORD_LETTER) {
                    continue;
                }
                for n in names {
                    let ll = n.last.chars().count();
                    if ll.abs_diff(lb) as f32 > MISREAD_PER_WORD_LETTER * ll as f32 {
                        continue;
                    }
                    let cl = crate::ocr::misread_cost(b, &n.last);
                    let cost = cg + cl;
                    if cost > 0.0
                        && fits(cl, ll, MISREAD_PER_WORD_LETTER)
                        && fits(cost, gl + ll, MISREAD_PER_LETTER)
                    {
                        let reading = format!(
                            "{}{} {}{}",
                            &text[..pair[0].0],
                            n.given,
                            n.last,
                            &text[pair[1].1..]
                        );
                        found.push((cost, reading));
                    }
                }
            }
        }
        found.sort_by(|x, y| x.0.total_cmp(&y.0));
        found.into_iter().map(|(_, r)| r).collect()
    }
}
