//! Decoding pictures upright, at full or just-enough resolution.
//!
//! JPEGs are decoded with `jpeg-decoder`, which can scale during the inverse DCT (1/2, 1/4, 1/8):
//! a 12-megapixel photo decoded at 1/4 costs a fraction of a full decode and still has more pixels
//! than the detector looks at. The EXIF Orientation tag (the only EXIF `formats::clean` keeps) is
//! applied after decoding, so every coordinate this module hands out is in the displayed frame.
//! PNG and WebP are decoded in full by `image` (they are upright by construction).

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

use super::FaceError;

/// A picture decoded upright, possibly at reduced resolution.
pub struct Decoded {
    /// Upright pixels, the displayed size or a DCT-scaled fraction of it.
    pub image: RgbImage,
    /// Displayed (upright, full-resolution) width and height.
    pub full_width: u32,
    pub full_height: u32,
}

/// Decode an encoded picture upright at full resolution (EXIF Orientation applied for JPEG).
pub fn decode_upright(encoded: &[u8]) -> Result<RgbImage, FaceError> {
    Ok(decode_at_least(encoded, u32::MAX)?.image)
}

/// True when the bytes start like a JPEG.
fn is_jpeg(encoded: &[u8]) -> bool {
    encoded.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Decode upright with the smallest DCT scale whose longer side is still ≥ `min_long_side`
/// (or full resolution when the picture is smaller). Non-JPEG pictures are decoded in full.
pub(crate) fn decode_at_least(encoded: &[u8], min_long_side: u32) -> Result<Decoded, FaceError> {
    // The decoders validate their input, but a decoder panic must never take the run down.
    match std::panic::catch_unwind(|| {
        if is_jpeg(encoded) {
            decode_jpeg(encoded, min_long_side)
        } else {
            decode_full(encoded)
        }
    }) {
        Ok(result) => result,
        Err(_) => Err(FaceError::Decode("the decoder failed".into())),
    }
}

/// Full-resolution decode with `image` (zune-jpeg for JPEG: faster than jpeg-decoder at full
/// size), orientation applied.
fn decode_full(encoded: &[u8]) -> Result<Decoded, FaceError> {
    use image::ImageDecoder;
    if crate::formats::detect(encoded) == crate::formats::Format::Heic {
        return rgb_decoded(
            crate::formats::decode_rgb(encoded).map_err(|e| FaceError::Decode(e.to_string()))?,
        );
    }
    let err = |e: image::ImageError| FaceError::Decode(e.to_string());
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(encoded))
        .with_guessed_format()
        .map_err(|e| FaceError::Decode(e.to_string()))?
        .into_decoder()
        .map_err(err)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(err)?;
    image.apply_orientation(orientation);
    let image = image.into_rgb8();
    let (full_width, full_height) = image.dimensions();
    if full_width == 0 || full_height == 0 {
        return Err(FaceError::Decode("empty picture".into()));
    }
    Ok(Decoded {
        image,
        full_width,
        full_height,
    })
}

/// A full-resolution upright picture as a [`Decoded`].
fn rgb_decoded(image: RgbImage) -> Result<Decoded, FaceError> {
    let (full_width, full_height) = image.dimensions();
    if full_width == 0 || full_height == 0 {
        return Err(FaceError::Decode("empty picture".into()));
    }
    Ok(Decoded {
        image,
        full_width,
        full_height,
    })
}

fn decode_jpeg(encoded: &[u8], min_long_side: u32) -> Result<Decoded, FaceError> {
    use jpeg_decoder::{Decoder, PixelFormat};
    let err = |e: jpeg_decoder::Error| FaceError::Decode(format!("JPEG: {e}"));
    let mut decoder = Decoder::new(encoded);
    decoder.set_max_decoding_buffer_size(MAX_DECODED_BYTES);
    decoder.read_info().map_err(err)?;
    let info = decoder
        .info()
        .ok_or_else(|| FaceError::Decode("JPEG: no frame".into()))?;
    let (stored_w, stored_h) = (u32::from(info.width), u32::from(info.height));
    if stored_w == 0 || stored_h == 0 {
        return Err(FaceError::Decode("JPEG: empty picture".into()));
    }
    // jpeg-decoder at 1/2 is hardly faster than zune-jpeg at full size (measured on 12 MP:
    // 50 vs 52 ms; 1/4: 32 ms; 1/8: 28 ms), so only 1/4 and 1/8 go through jpeg-decoder.
    if min_long_side.saturating_mul(4) > stored_w.max(stored_h) {
        return decode_full(encoded);
    }
    {
        // The decoder picks the smallest scale giving at least the requested size on one axis;
        // ask for the long side on both axes' proportions so the long side stays ≥ min_long_side.
        let f = min_long_side as f64 / stored_w.max(stored_h) as f64;
        let req_w = ((stored_w as f64 * f).ceil() as u32).clamp(1, u32::from(u16::MAX)) as u16;
        let req_h = ((stored_h as f64 * f).ceil() as u32).clamp(1, u32::from(u16::MAX)) as u16;
        decoder.scale(req_w, req_h).map_err(err)?;
    }
    let pixels = decoder.decode().map_err(err)?;
    let info = decoder
        .info()
        .ok_or_else(|| FaceError::Decode("JPEG: no frame".into()))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let n = w as usize * h as usize;
    let rgb: Vec<u8> = match info.pixel_format {
        PixelFormat::RGB24 => pixels,
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0]])
            .collect(),
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                // jpeg-decoder hands out ink amounts (Adobe's inverted storage undone).
                let k = 255 - u16::from(p[3]);
                let ch = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
                [ch(p[0]), ch(p[1]), ch(p[2])]
            })
            .collect(),
    };
    if rgb.len() < n * 3 {
        return Err(FaceError::Decode("JPEG: truncated pixel data".into()));
    }
    let image = RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| FaceError::Decode("JPEG: inconsistent size".into()))?;
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let image = orient(image, orientation);
    let swapped = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (full_width, full_height) = if swapped {
        (stored_h, stored_w)
    } else {
        (stored_w, stored_h)
    };
    Ok(Decoded {
        image,
        full_width,
        full_height,
    })
}

/// When `image` is at least twice `detect_long_side` on its longer side, a copy shrunk by an integer
/// factor with a box filter (still ≥ `detect_long_side`), so the detector's bilinear resize does not
/// alias. `None` when the picture is small enough already.
pub(crate) fn reduce_for_detection(image: &RgbImage, detect_long_side: u32) -> Option<RgbImage> {
    let long = image.width().max(image.height());
    box_reduce(image, long / detect_long_side.max(1))
}

/// The picture shrunk by the largest power of two that keeps its longer side ≥ `min_long_side`
/// (what a DCT-scaled JPEG decode would give), box-filtered. `None` when that is no reduction.
///
/// Faces are chipped from the smallest picture that is large enough for them: sampling a large
/// face from the full decode would alias (the chip sampler takes at most 2×2 samples a pixel).
pub(crate) fn reduce_pow2(image: &RgbImage, min_long_side: u32) -> Option<RgbImage> {
    let long = image.width().max(image.height());
    let mut n = 1;
    while long / (2 * n) >= min_long_side.max(1) {
        n *= 2;
    }
    box_reduce(image, n)
}

/// `image` shrunk by `n` in both directions, each output pixel the mean of an n×n block.
/// `None` when `n < 2` or the result would be empty.
fn box_reduce(image: &RgbImage, n: u32) -> Option<RgbImage> {
    if n < 2 {
        return None;
    }
    if n > 257 {
        // A column sum of n bytes must fit in u16; no picture within the limits gets here.
        return box_reduce(&box_reduce(image, 2)?, n / 2);
    }
    let (w, h) = (image.width() / n, image.height() / n);
    if w == 0 || h == 0 {
        return None;
    }
    let src = image.as_raw();
    let stride = image.width() as usize * 3;
    let (n, w) = (n as usize, w as usize);
    let used = w * n * 3;
    let area = (n * n) as u32;
    let mut out = vec![0u8; w * h as usize * 3];
    // Column sums of each band of n rows first (a straight pass over the bytes that vectorises
    // well in u16), then n neighbouring pixels of the sums: on 12 MP about twice as fast as
    // summing block by block.
    let mut columns = vec![0u16; used];
    for (band, dst) in src
        .chunks_exact(stride * n)
        .zip(out.chunks_exact_mut(w * 3))
    {
        columns.fill(0);
        for row in band.chunks_exact(stride) {
            for (c, &v) in columns.iter_mut().zip(&row[..used]) {
                *c += u16::from(v);
            }
        }
        for (d, block) in dst.chunks_exact_mut(3).zip(columns.chunks_exact(n * 3)) {
            let mut sum = [0u32; 3];
            for p in block.chunks_exact(3) {
                sum[0] += u32::from(p[0]);
                sum[1] += u32::from(p[1]);
                sum[2] += u32::from(p[2]);
            }
            for (d, s) in d.iter_mut().zip(sum) {
                *d = ((s + area / 2) / area) as u8;
            }
        }
    }
    RgbImage::from_raw(w as u32, h, out)
}

/// Refuse pictures whose decoded pixels would exceed this many bytes (about 130 megapixels RGB).
const MAX_DECODED_BYTES: usize = 400 * 1024 * 1024;

fn orient(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageRgb8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            decode_at_least(b"\xFF\xD8\xFF\xE0garbage", 100),
            Err(FaceError::Decode(_))
        ));
        assert!(matches!(
            decode_at_least(b"not a picture", 100),
            Err(FaceError::Decode(_))
        ));
        assert!(matches!(
            decode_at_least(b"", 100),
            Err(FaceError::Decode(_))
        ));
    }

    /// Every output pixel is the rounded mean of its n×n block; a ragged edge is dropped.
    #[test]
    fn box_reduce_is_the_block_mean() {
        let image = RgbImage::from_fn(23, 14, |x, y| {
            image::Rgb([
                (x * 11 + y * 7) as u8,
                (x * y % 256) as u8,
                (255 - x * 3) as u8,
            ])
        });
        for n in [2u32, 3, 4] {
            let out = box_reduce(&image, n).expect("reduced");
            assert_eq!(out.dimensions(), (23 / n, 14 / n));
            for (ox, oy, px) in out.enumerate_pixels() {
                for c in 0..3 {
                    let sum: u32 = (0..n)
                        .flat_map(|j| (0..n).map(move |i| (i, j)))
                        .map(|(i, j)| u32::from(image.get_pixel(ox * n + i, oy * n + j).0[c]))
                        .sum();
                    let mean = (sum + n * n / 2) / (n * n);
                    assert_eq!(u32::from(px.0[c]), mean, "n={n} at ({ox},{oy}) channel {c}");
                }
            }
        }
        assert!(box_reduce(&image, 1).is_none());
        assert!(box_reduce(&image, 24).is_none());
    }

    /// The pyramid level stops where one more halving would go below the wanted size.
    #[test]
    fn reduce_pow2_keeps_at_least_the_wanted_size() {
        let image = RgbImage::new(4000, 3000);
        assert_eq!(
            reduce_pow2(&image, 640).map(|i| i.dimensions()),
            Some((1000, 750))
        );
        assert_eq!(
            reduce_pow2(&image, 1000).map(|i| i.dimensions()),
            Some((1000, 750))
        );
        assert_eq!(
            reduce_pow2(&image, 1001).map(|i| i.dimensions()),
            Some((2000, 1500))
        );
        assert!(reduce_pow2(&image, 2001).is_none());
    }
}
