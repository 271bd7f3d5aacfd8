//! Re-upload: the rejected photo nearest to this one by PDQ hash (resized, re-encoded, mirrored
//! or rotated copies included). Looked for only when something has been rejected.

use crate::findings::Finding;
use crate::gate::{Context, Sheet};

pub fn run(ctx: &Context, sheet: &mut Sheet<'_>) {
    let (false, Some(c)) = (ctx.judge.rejected.is_empty(), &sheet.clean) else {
        return;
    };
    match crate::pdq::hash(&c.bytes, c.format) {
        Ok(d) if d.quality >= crate::pdq::MIN_QUALITY => {
            let nearest = ctx
                .judge
                .rejected
                .iter()
                .map(|r| {
                    (
                        r.photo_id,
                        d.min_distance(&r.hash).min(d.min_distance(&r.mirror)),
                    )
                })
                .min_by_key(|(_, dist)| *dist);
            if let Some((photo_id, distance)) = nearest {
                sheet
                    .findings
                    .push(Finding::Reupload { photo_id, distance });
            }
        }
        // Too flat to hash reliably (PDQ quality < 50): nothing to compare.
        Ok(_) => {}
        Err(e) => sheet.findings.push(Finding::ReuploadUnchecked { error: e }),
    }
}
