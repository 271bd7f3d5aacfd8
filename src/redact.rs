//! Redaction: make flagged faces unrecognisable, irreversibly, as deface does: the region is an
//! ellipse grown ~30% beyond the detector's box, pixelated into coarse blocks and then blurred, so
//! neither the face nor its outline survives. The result is re-encoded at high quality; the
//! encoder writes no metadata.

use image::RgbImage;

/// How far the ellipse reaches beyond the face box, as a fraction of the box size.
pub const GROW: f32 = 0.3;

/// Blur every box (`[x, y, width, height]`, pixels) in place.
pub fn redact(img: &mut RgbImage, boxes: &[[f32; 4]]) {
    for b in boxes {
        redact_one(img, *b);
    }
}

fn redact_one(img: &mut RgbImage, [x, y, w, h]: [f32; 4]) {
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (rx, ry) = (w * (1.0 + GROW) / 2.0, h * (1.0 + GROW) / 2.0);
    if rx < 0.5 || ry < 0.5 {
        return;
    }
    let x0 = (cx - rx).floor().clamp(0.0, iw) as u32;
    let x1 = (cx + rx).ceil().clamp(0.0, iw) as u32;
    let y0 = (cy - ry).floor().clamp(0.0, ih) as u32;
    let y1 = (cy + ry).ceil().clamp(0.0, ih) as u32;
    if x1 <= x0 || y1 <= y0 {
        return;
    }
    // Coarse blocks: about 8 across the face, whatever its size.
    let block = ((rx.max(ry) * 2.0 / 8.0).ceil() as u32).max(2);
    let inside = |px: u32, py: u32| {
        let dx = (px as f32 + 0.5 - cx) / rx;
        let dy = (py as f32 + 0.5 - cy) / ry;
        dx * dx + dy * dy <= 1.0
    };
    let mut by = y0;
    while by < y1 {
        let mut bx = x0;
        while bx < x1 {
            let (ex, ey) = ((bx + block).min(x1), (by + block).min(y1));
            let mut sum = [0u64; 3];
            let mut n = 0u64;
            for py in by..ey {
                for px in bx..ex {
                    let p = img.get_pixel(px, py).0;
                    for c in 0..3 {
                        sum[c] += u64::from(p[c]);
                    }
                    n += 1;
                }
            }
            let mean = image::Rgb([(sum[0] / n) as u8, (sum[1] / n) as u8, (sum[2] / n) as u8]);
            for py in by..ey {
                for px in bx..ex {
                    if inside(px, py) {
                        img.put_pixel(px, py, mean);
                    }
                }
            }
            bx += block;
        }
        by += block;
    }
    // Soften block edges inside the ellipse so the pixelation does not keep a face's outline.
    let blurred = image::imageops::blur(
        &image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image(),
        block as f32 / 2.0,
    );
    for py in y0..y1 {
        for px in x0..x1 {
            if inside(px, py) {
                img.put_pixel(px, py, *blurred.get_pixel(px - x0, py - y0));
            }
        }
    }
}

/// Blur `boxes` in an encoded (clean) photo: decoded upright, blurred, re-encoded as JPEG with no
/// metadata. The stage-level entry point used by the gate and by a moderator's redact-and-release.
pub fn blur(encoded: &[u8], boxes: &[[f32; 4]]) -> Result<Vec<u8>, String> {
    let mut img = crate::faces::decode_upright(encoded).map_err(|e| e.to_string())?;
    redact(&mut img, boxes);
    encode_jpeg(&img).map_err(|e| e.to_string())
}

/// Encode as a high-quality JPEG with no metadata at all.
pub fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(img)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_destroys_detail_inside_the_ellipse_and_leaves_the_rest() {
        // A checkerboard "face": maximal detail.
        let mut img = RgbImage::from_fn(200, 200, |x, y| {
            if (x / 2 + y / 2) % 2 == 0 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let before = img.clone();
        redact(&mut img, &[[80.0, 80.0, 40.0, 40.0]]);
        // Centre: the checkerboard's local contrast is gone.
        let contrast = |im: &RgbImage, x: u32, y: u32| {
            (im.get_pixel(x, y).0[0] as i32 - im.get_pixel(x + 1, y).0[0] as i32).abs()
        };
        let centre: i32 = (90..110).map(|x| contrast(&img, x, 100)).sum();
        assert!(centre < 20 * 40, "detail survived: {centre}");
        // The ellipse reaches ~30% beyond the box...
        assert_ne!(img.get_pixel(76, 100), before.get_pixel(76, 100));
        // ...but not the corners of the image.
        assert_eq!(img.get_pixel(5, 5), before.get_pixel(5, 5));
        assert_eq!(img.get_pixel(190, 190), before.get_pixel(190, 190));
    }

    #[test]
    fn boxes_at_the_edge_do_not_panic() {
        let mut img = RgbImage::new(50, 40);
        redact(
            &mut img,
            &[
                [-10.0, -10.0, 30.0, 30.0],
                [45.0, 35.0, 30.0, 30.0],
                [0.0, 0.0, 0.0, 0.0],
            ],
        );
        assert!(!encode_jpeg(&img).unwrap().is_empty());
    }
}
