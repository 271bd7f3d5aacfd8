//! Captions: every collected text against every student's name forms.

use crate::findings::Finding;
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    for (source, text) in &sheet.texts {
        for hit in ctx.judge.scan(text, source) {
            sheet.findings.push(Finding::Caption {
                hit,
                source: source.clone(),
            });
        }
    }
}
