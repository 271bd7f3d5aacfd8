//! Text in the picture: every line of text the photo shows (a certificate, a name badge, a bib, a
//! label, a whiteboard), read by the OCR models (`crate::ocr`), each matched against every
//! student's name forms exactly like a caption (`TextSource::InPicture`). Whether a hit holds the
//! photo, and the words for it, are `decide`'s.

use crate::captions::TextSource;
use crate::findings::{Finding, PictureText};
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let (Some(engine), Some(c)) = (&ctx.text, &sheet.clean) else {
        return;
    };
    match engine.lines_in(&c.bytes) {
        Ok(lines) => sheet.findings.extend(lines.into_iter().map(|line| {
            // A line of digits and punctuation ("2026", "10:30") cannot name anybody.
            let hits = if crate::ocr::may_hold_a_name(&line.text) {
                ctx.judge.scan(&line.text, &TextSource::InPicture)
            } else {
                Vec::new()
            };
            Finding::PictureText(PictureText {
                bbox: line.bbox,
                text: line.text,
                hits,
            })
        })),
        Err(e) => sheet.findings.push(Finding::PictureTextUnchecked {
            error: e.to_string(),
        }),
    }
}
