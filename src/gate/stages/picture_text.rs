//! Text in the picture: every line of text the photo shows (a certificate, a name badge, a bib, a
//! label, a whiteboard), read by the OCR models (`crate::ocr`), each matched against every
//! student's name forms exactly like a caption (`TextSource::InPicture`). Whether a hit holds the
//! photo, and the words for it, are `decide`'s.

use crate::captions::{CaptionHit, Severity, TextSource};
use crate::findings::{Finding, PictureText};
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let (Some(engine), Some(c)) = (&ctx.text, &sheet.clean) else {
        return;
    };
    match engine.lines_in_decoded(&c.bytes, sheet.decoded.as_ref()) {
        Ok(lines) => sheet.findings.extend(lines.into_iter().map(|line| {
            let scan = |text: &str| {
                // A line of digits and punctuation ("2026", "10:30") cannot name anybody.
                if crate::ocr::may_hold_a_name(text) {
                    ctx.judge.scan(text, &TextSource::InPicture)
                } else {
                    Vec::new()
                }
            };
            // The reader's near misses ("Fran Marphy" for "Frank Murphy"): when the line as
            // read names nobody outright, the first other reading that *names* someone in words
            // (a full name, not a lone surname, and no digits in it as in a code "BO0C":
            // guessing twice finds a name in any scribble) is kept, as a possible mention.
            let names = |h: &Vec<CaptionHit>| {
                !h.is_empty()
                    && h.iter().all(|h| {
                        h.severity == Severity::Block
                            && !h.matched.chars().any(|c| c.is_ascii_digit())
                    })
            };
            let mut hits = scan(&line.text);
            let mut unsure = false;
            if !hits.iter().any(|h| h.severity == Severity::Block) {
                if let Some(h) = line.other_readings().map(|r| scan(&r)).find(names) {
                    (hits, unsure) = (h, true);
                }
            }
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
