//! WebP: lossless metadata strip by copying RIFF chunks.
//!
//! **Kept, and why:** VP8 /VP8L (the picture), ALPH (transparency), ANIM/ANMF (animation), ICCP
//! (colours), VP8X (the extended header, with its EXIF and XMP flags cleared and the ICC flag set
//! only if ICCP is kept). **Dropped:** EXIF, XMP and every unknown chunk, and bytes after the RIFF
//! size. The RIFF size is rewritten.
//!
//! **Orientation:** browsers ignore EXIF orientation in WebP, so a photo whose EXIF says "turn me"
//! shows sideways anyway; once EXIF is gone nothing could turn it. When the orientation is not 1 we
//! decode within the limits, turn the pixels upright and encode a lossless WebP (the `image`
//! crate's WebP encoder is lossless: decoded pixels are kept exactly) with the ICC profile.
//! Animated WebPs with an orientation are `Unsupported`.
//!
//! Hand-rolled RIFF walker: img-parts would do for the chunks, but we also need the VP8/VP8L
//! frame headers for the size check before anything is decoded, and to report trailing data.

use std::io::Cursor;

use super::{
    apply_orientation, check_dimensions, displayed, human_size, Cleaned, Findings, Format,
    FormatError, Limits,
};

const KEEP: &[&[u8; 4]] = &[
    b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

const FLAG_ICC: u8 = 0x20;
const FLAG_EXIF: u8 = 0x08;
const FLAG_XMP: u8 = 0x04;
const FLAG_ANIM: u8 = 0x02;

fn corrupt(what: impl Into<String>) -> FormatError {
    FormatError::Corrupt(what.into())
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    kind: [u8; 4],
    data: (usize, usize),
}

struct Parsed {
    chunks: Vec<Chunk>,
    riff_end: usize,
    width: u32,
    height: u32,
    animated: bool,
}

fn u24(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// Size of a VP8 or VP8L bitstream, from its frame header.
fn frame_size(kind: &[u8; 4], d: &[u8]) -> Result<(u32, u32), FormatError> {
    match kind {
        b"VP8 " => {
            if d.len() < 10 || d[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(corrupt("the WebP picture data has a damaged header"));
            }
            let w = u32::from(u16::from_le_bytes([d[6], d[7]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([d[8], d[9]]) & 0x3FFF);
            Ok((w, h))
        }
        _ => {
            if d.len() < 5 || d[0] != 0x2F {
                return Err(corrupt("the WebP picture data has a damaged header"));
            }
            let bits = u32::from_le_bytes([d[1], d[2], d[3], d[4]]);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
    }
}

fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return Err(corrupt("not a WebP file"));
    }
    let size = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let riff_end = 8 + size;
    if size < 4 || riff_end > bytes.len() {
        return Err(corrupt(
            "the WebP is cut off (its size says it is longer than the file)",
        ));
    }
    let mut pos = 12;
    let mut chunks = Vec::new();
    while pos < riff_end {
        let head = bytes
            .get(pos..pos + 8)
            .filter(|_| pos + 8 <= riff_end)
            .ok_or_else(|| corrupt("the WebP is cut off inside a chunk header"))?;
        let kind = [head[0], head[1], head[2], head[3]];
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data_end = (pos + 8)
            .checked_add(len)
            .filter(|&e| e <= riff_end)
            .ok_or_else(|| {
                corrupt(format!(
                    "the WebP chunk '{}' is longer than the file says it is",
                    String::from_utf8_lossy(&kind)
                ))
            })?;
        if (&kind == b"VP8X" && len != 10) || (&kind == b"ANIM" && len != 6) {
            return Err(corrupt(format!(
                "the WebP chunk '{}' has the wrong size",
                String::from_utf8_lossy(&kind)
            )));
        }
        chunks.push(Chunk {
            kind,
            data: (pos + 8, data_end),
        });
        // Chunks are padded to even sizes; a missing final pad byte is tolerated.
        pos = (data_end + (len & 1)).min(riff_end);
    }
    let first = chunks
        .first()
        .ok_or_else(|| corrupt("the WebP holds no picture"))?;
    if chunks.iter().skip(1).any(|c| &c.kind == b"VP8X") {
        return Err(corrupt("the WebP has a second extended header"));
    }
    let d = |c: &Chunk| &bytes[c.data.0..c.data.1];
    let (width, height, animated) = match &first.kind {
        b"VP8X" => {
            let x = d(first);
            if x.len() < 10 {
                return Err(corrupt("the WebP extended header is damaged"));
            }
            let (w, h) = (u24(&x[4..7]) + 1, u24(&x[7..10]) + 1);
            check_dimensions(w, h, limits)?;
            let animated = x[0] & FLAG_ANIM != 0;
            if animated {
                if !chunks.iter().any(|c| &c.kind == b"ANMF") {
                    return Err(corrupt("the animated WebP holds no frames"));
                }
            } else {
                let frame = chunks
                    .iter()
                    .find(|c| &c.kind == b"VP8 " || &c.kind == b"VP8L")
                    .ok_or_else(|| corrupt("the WebP holds no picture data"))?;
                if frame_size(&frame.kind, d(frame))? != (w, h) {
                    return Err(corrupt("the WebP's sizes are inconsistent"));
                }
            }
            (w, h, animated)
        }
        k @ (b"VP8 " | b"VP8L") => {
            let (w, h) = frame_size(k, d(first))?;
            check_dimensions(w, h, limits)?;
            (w, h, false)
        }
        _ => return Err(corrupt("the WebP does not start with a picture header")),
    };
    Ok(Parsed {
        chunks,
        riff_end,
        width,
        height,
        animated,
    })
}

/// Strip a WebP. See the module documentation for what is kept.
pub(crate) fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    let parsed = parse(bytes, limits)?;
    let mut f = Findings::default();
    let mut keep = Vec::with_capacity(parsed.chunks.len());
    for c in &parsed.chunks {
        let d = &bytes[c.data.0..c.data.1];
        match &c.kind {
            k if KEEP.contains(&k) => keep.push(*c),
            b"EXIF" => {
                let tiff = d.strip_prefix(b"Exif\0\0").unwrap_or(d);
                super::exif::read(tiff, super::exif::Kind::Exif, &mut f)?;
            }
            b"XMP " => {
                f.removed("XMP");
                super::xmp::read(d, &mut f)?;
            }
            k => f.removed(format!(
                "WebP chunk '{}'",
                String::from_utf8_lossy(k).trim_end()
            )),
        }
    }
    let trailer = bytes.len() - parsed.riff_end;
    if trailer > 0 {
        f.removed(format!("data after end of image ({})", human_size(trailer)));
    }
    let icc = keep
        .iter()
        .find(|c| &c.kind == b"ICCP")
        .map(|c| &bytes[c.data.0..c.data.1]);
    let orientation = f.orientation();
    let out = if orientation == 1 {
        let mut out = Vec::with_capacity(parsed.riff_end);
        out.extend_from_slice(b"RIFF\0\0\0\0WEBP");
        for c in &keep {
            let d = &bytes[c.data.0..c.data.1];
            out.extend_from_slice(&c.kind);
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            if &c.kind == b"VP8X" {
                let first = d
                    .first()
                    .copied()
                    .ok_or_else(|| corrupt("the WebP extended header is damaged"))?;
                let mut flags = first & !(FLAG_EXIF | FLAG_XMP | FLAG_ICC);
                if icc.is_some() {
                    flags |= FLAG_ICC;
                }
                out.push(flags);
                out.extend_from_slice(&d[1..]);
            } else {
                out.extend_from_slice(d);
            }
            if d.len() % 2 == 1 {
                out.push(0);
            }
        }
        let size = u32::try_from(out.len() - 8).map_err(|_| corrupt("the WebP is too large"))?;
        out[4..8].copy_from_slice(&size.to_le_bytes());
        out
    } else {
        if parsed.animated {
            return Err(FormatError::Unsupported(
                "animated WebP with a rotation tag; save it upright without the tag".into(),
            ));
        }
        f.removed("rotation tag (the picture was turned upright instead)");
        let dec = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|e| {
            super::map_image_error(e, "WebP", (parsed.width, parsed.height), limits)
        })?;
        let mut img = super::decode_image(dec, limits, "WebP")?;
        apply_orientation(&mut img, orientation);
        encode_lossless(&img, icc.map(<[u8]>::to_vec))?
    };
    let (width, height) = displayed(parsed.width, parsed.height, orientation);
    Ok(f.into_cleaned(Format::Webp, out, "webp", (width, height)))
}

fn encode_lossless(
    img: &image::DynamicImage,
    icc: Option<Vec<u8>>,
) -> Result<Vec<u8>, FormatError> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let mut enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc).map_err(|e| {
            FormatError::Unsupported(format!("cannot keep the colour profile ({e})"))
        })?;
    }
    let img = if img.color().has_alpha() {
        image::DynamicImage::ImageRgba8(img.to_rgba8())
    } else {
        image::DynamicImage::ImageRgb8(img.to_rgb8())
    };
    img.write_with_encoder(enc).map_err(|e| {
        FormatError::Unsupported(format!("the turned picture cannot be saved as WebP ({e})"))
    })?;
    Ok(out)
}

/// Check the output: it must re-parse with consistent sizes, hold only kept chunks with the EXIF
/// and XMP flags clear, have no trailing bytes, and its header must decode to the reported size.
pub(crate) fn verify(c: &Cleaned, limits: &Limits) -> Result<(), FormatError> {
    let parsed = parse(&c.bytes, limits)
        .map_err(|e| corrupt(format!("the cleaned WebP does not re-read ({e})")))?;
    if parsed.riff_end != c.bytes.len() {
        return Err(corrupt("the cleaned WebP has data after its end"));
    }
    for ch in &parsed.chunks {
        if !KEEP.contains(&&ch.kind) {
            return Err(corrupt(format!(
                "internal check failed: the cleaned WebP still holds a '{}' chunk",
                String::from_utf8_lossy(&ch.kind)
            )));
        }
        if &ch.kind == b"VP8X" && c.bytes[ch.data.0] & (FLAG_EXIF | FLAG_XMP) != 0 {
            return Err(corrupt(
                "internal check failed: the cleaned WebP still announces metadata",
            ));
        }
    }
    let dec = image::codecs::webp::WebPDecoder::new(Cursor::new(c.bytes.as_slice()))
        .map_err(|e| corrupt(format!("the cleaned WebP header cannot be decoded ({e})")))?;
    if image::ImageDecoder::dimensions(&dec) != (c.width, c.height) {
        return Err(corrupt("the cleaned WebP's size is not the expected one"));
    }
    Ok(())
}
