//! Thumbnails and previews, made only from a held photo's clean (metadata-free) copy, never from
//! the original, and turned upright so face boxes (recorded in the upright frame) line up.
//! Kept in memory: a held photo's clean copy never changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::review::{self, ReviewError};
use crate::workspace::Workspace;

/// Longest side of a queue thumbnail, pixels.
pub const THUMB: u32 = 360;
/// Longest side of the preview on a photo's page.
pub const PREVIEW: u32 = 1600;
/// Rendered images kept; beyond this the cache starts again (a few MB at most).
const CACHE_ENTRIES: usize = 200;

/// An upright JPEG rendition, with the full-size upright dimensions the face boxes refer to.
pub struct Rendered {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

#[derive(Default)]
pub struct Cache(Mutex<HashMap<(i64, u32), Arc<Rendered>>>);

impl Cache {
    /// Photo `id`'s clean copy at most `max_side` pixels long (blocking: call off the runtime).
    pub fn get(&self, ws: &Workspace, id: i64, max_side: u32) -> Result<Arc<Rendered>, String> {
        if let Some(r) = self.lock().get(&(id, max_side)) {
            return Ok(r.clone());
        }
        let (bytes, _) = review::clean_copy(ws, id).map_err(|e: ReviewError| e.to_string())?;
        let rendered = Arc::new(render(&bytes, max_side)?);
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert((id, max_side), rendered.clone());
        Ok(rendered)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, u32), Arc<Rendered>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn render(clean: &[u8], max_side: u32) -> Result<Rendered, String> {
    let (img, width, height) =
        crate::faces::decode_upright_at_least(clean, max_side).map_err(|e| e.to_string())?;
    let (w, h) = img.dimensions();
    let long = w.max(h).max(1);
    let small = if long > max_side {
        let scale = f64::from(max_side) / f64::from(long);
        let nw = ((f64::from(w) * scale).round() as u32).max(1);
        let nh = ((f64::from(h) * scale).round() as u32).max(1);
        image::imageops::thumbnail(&img, nw, nh)
    } else {
        img
    };
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&small)
        .map_err(|e| format!("the preview could not be made: {e}"))?;
    Ok(Rendered {
        jpeg,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_keep_the_aspect_and_report_the_full_size() {
        let img = image::RgbImage::from_fn(1000, 500, |x, _| image::Rgb([(x % 256) as u8, 0, 0]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let r = render(&jpeg, 200).unwrap();
        assert_eq!((r.width, r.height), (1000, 500));
        let small = image::load_from_memory(&r.jpeg).unwrap();
        assert_eq!((small.width(), small.height()), (200, 100));
        assert!(render(b"not a picture", 200).is_err());
    }
}
