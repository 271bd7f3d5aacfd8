//! Formats: decide the format by content and make the metadata-free copy every later stage
//! looks at (and the outbox receives). A file it cannot clean is a finding; nothing later runs
//! on it but the text stages.

use crate::findings::Finding;
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    match crate::formats::clean_file(sheet.photo.name, sheet.photo.bytes, &ctx.limits) {
        Ok(c) => sheet.clean = Some(c),
        Err(e) => sheet.findings.push(Finding::Format((&e).into())),
    }
}
