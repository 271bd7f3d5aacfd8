//! Text in the picture: every line of text the photo shows (a certificate, a name badge, a bib, a
//! label, a whiteboard), read by the OCR models (`crate::ocr`), each matched against every
//! student's name forms exactly like a caption (`TextSource::InPicture`). Whether a hit holds the
//! photo, and the words for it, are `decide`'s.

use crate::captions::{CaptionHit, Severity, TextSource};
use crate::findings::{Finding, PictureText};
use crate::gate::{Context, Sheet};
use crate::judge::Judge;
use crate::ocr::TextLine;

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let (Some(engine), Some(c)) = (&ctx.text, &sheet.clean) else {
        return;
    };
    match engine.lines_in_decoded(&c.bytes, sheet.decoded.as_ref()) {
        Ok(lines) => sheet.findings.extend(lines.into_iter().map(|line| {
            let (hits, unsure) = names_on(&ctx.judge, &line);
            Finding::PictureText(PictureText {
                bbox: line.bbox,
                text: line.text,
                hits,
                unsure,
            })
        })),
        Err(e) => sheet.findings.push(Finding::PictureTextUnchecked {
            error: e.to_string(),
        }),
    }
}

/// Whom a line names, and whether only a second guess at its letters says so (`unsure`).
///
/// The reader's near misses ("Fran Marphy" for "Frank Murphy"): when the line as read names
/// nobody outright, the first other reading that *names someone in words* is kept, as a possible
/// mention. Other readings are the reader's own alternatives and single look-alike swaps
/// ([`TextLine::other_readings`]), then the full names two of its words may be misread from
/// letter by letter ([`Judge::misread_full_names`]: handwriting read "Cecrge Adeyeni").
fn names_on(judge: &Judge, line: &TextLine) -> (Vec<CaptionHit>, bool) {
    let scan = |text: &str| {
        // A line of digits and punctuation ("2026", "10:30") cannot name anybody.
        if crate::ocr::may_hold_a_name(text) {
            judge.scan(text, &TextSource::InPicture)
        } else {
            Vec::new()
        }
    };
    let hits = scan(&line.text);
    if hits.iter().any(|h| h.severity == Severity::Block) {
        return (hits, false);
    }
    // Worked out only if no other reading names anyone.
    let misread = std::iter::once(&line.text).flat_map(|t| judge.misread_full_names(t));
    match line
        .other_readings()
        .chain(misread)
        .map(|r| scan(&r))
        .find(|h| names_in_words(h))
    {
        Some(h) => (h, true),
        None => (hits, false),
    }
}

/// Whether a second guess's hits name someone in words: a combination of name parts (a full
/// name, a first name + initial), never one part alone, and no digits in it as in a code "BO0C".
/// Guessing a letter finds a lone "Sam" in "UXIDOSAM" and an "Ali" in "MLIS", and a register
/// holds every common first name.
fn names_in_words(hits: &[CaptionHit]) -> bool {
    !hits.is_empty()
        && hits.iter().all(|h| {
            h.severity == Severity::Block
                && !h.part
                && !h.matched.chars().any(|c| c.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Student;

    fn judge() -> Judge {
        let students = [
            Student::on_roll("G1", "George", "Adeyemi"),
            Student::on_roll("G2", "Eilidh", "Hopkins"),
            Student::on_roll("G3", "Mo", "Coleman"),
            Student::on_roll("G4", "Sam", "Allen"),
            Student::on_roll("G5", "Harry", "Baker"),
            Student::on_roll("G6", "Ali", "Shaw"),
        ];
        Judge::new(&students, vec![], vec![], vec![])
    }

    fn line(text: &str) -> TextLine {
        TextLine {
            bbox: [0.0; 4],
            quad: [[0.0; 2]; 4],
            text: text.into(),
            confidence: 0.9,
            alternates: vec![],
        }
    }

    fn named(judge: &Judge, text: &str) -> (Vec<String>, bool) {
        let (hits, unsure) = names_on(judge, &line(text));
        let ids = hits
            .iter()
            .filter(|h| h.severity == Severity::Block)
            .map(|h| h.student_id.clone())
            .collect();
        (ids, unsure)
    }

    #[test]
    fn handwriting_misread_in_both_words_still_names_the_student() {
        let j = judge();
        // Misreadings the text bench's whiteboards gave (two look-alike letters per word).
        assert_eq!(named(&j, "Cecrge Adeyeni"), (vec!["G1".to_string()], true));
        assert_eq!(named(&j, "Eilicln Mepkins"), (vec!["G2".to_string()], true));
        assert_eq!(named(&j, "Me Celeran"), (vec!["G3".to_string()], true));
        // Read right: named outright, not a guess.
        assert_eq!(named(&j, "Harry Baker"), (vec!["G5".to_string()], false));
    }

    #[test]
    fn a_guess_never_rests_on_a_lone_name_part_or_a_far_reading() {
        let j = judge();
        for text in [
            "UXIDOSAM",
            "MLIS",
            "Happy Birthday",
            "Star cf the week:",
            "Spellings en Fricay",
            "PE kits please",
        ] {
            assert_eq!(named(&j, text), (vec![], false), "{text}");
        }
        // Each word too far from the name, however near the other.
        assert_eq!(named(&j, "Gxxxge Adeyemi"), (vec![], false));
    }
}
