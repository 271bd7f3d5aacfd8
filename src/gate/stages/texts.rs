//! Texts: collect every caption a photo carries — its sidecar file, the text embedded in its
//! metadata (from the clean step), and its file and folder names — for the caption stage.

use std::path::Path;

use crate::captions::TextSource;
use crate::findings::Finding;
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    match &sheet.photo.sidecar {
        Some(Ok(t)) => sheet.texts.push((TextSource::Sidecar, t.clone())),
        Some(Err(e)) => sheet
            .findings
            .push(Finding::CaptionUnreadable { error: e.clone() }),
        None => {}
    }
    if let Some(c) = &sheet.clean {
        sheet.texts.extend(
            c.embedded_text
                .iter()
                .map(|t| (TextSource::Embedded(t.field.clone()), t.text.clone())),
        );
    }
    if ctx.config.gate.check_file_names {
        let path = Path::new(sheet.photo.name);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let folders = path
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        sheet.texts.extend(
            folders
                .chain(std::iter::once(stem))
                .map(|t| (TextSource::FileName, t)),
        );
    }
}
