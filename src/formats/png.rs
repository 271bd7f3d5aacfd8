//! PNG: lossless metadata strip by copying whitelisted chunks.
//!
//! **Kept, and why:** the critical chunks (IHDR, PLTE, IDAT, IEND) and the chunks that change how
//! the pixels are rendered — tRNS, gAMA, cHRM, sRGB, iCCP, sBIT, bKGD, pHYs, cICP, mDCV, cLLI — and
//! APNG animation (acTL, fcTL, fdAT). None of them can carry free text or a place.
//!
//! **Dropped:** tEXt/zTXt/iTXt (including XMP and ImageMagick "Raw profile" EXIF/IPTC), eXIf, tIME,
//! every other ancillary chunk (private chunks may hold anything), and all bytes after IEND.
//!
//! **Orientation:** browser support for eXIf orientation in PNG is uneven, and any later pipeline
//! that drops eXIf would show the child sideways. PNG re-encoding is pixel-lossless, so when the
//! orientation (eXIf, a Raw-profile EXIF, or XMP tiff:Orientation) is not 1 we decode within the
//! limits, turn the pixels upright and encode a new PNG with the ICC profile and the colour chunks
//! (gAMA, cHRM, sRGB, cICP, mDCV, cLLI, pHYs) copied over. Animated PNGs with an orientation are
//! `Unsupported` (turning every frame is not worth the risk).
//!
//! **Bombs:** every compressed chunk (zTXt, iTXt, iCCP) is unpacked here within a per-chunk
//! limit and a per-file total, and a file over either is held as damaged. The colour profile is
//! unpacked too although it is copied as it is: otherwise a bomb would ride into the outbox and
//! be inflated by every decoder that reads the released copy (ours included).
//!
//! Hand-rolled chunk walker: the `png` crate would decode IDAT, which the lossless path never needs,
//! and it does not tell us about bytes after IEND.

use std::io::Cursor;

use super::{
    apply_orientation, check_dimensions, decode_8bit, displayed, human_size, png_chunk, Cleaned,
    Findings, Format, FormatError, Limits,
};

pub(crate) const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

const KEEP: &[&[u8; 4]] = &[
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"bKGD", b"pHYs", b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT",
];

/// Colour chunks copied into a re-encoded PNG (they do not depend on the pixel layout).
const COLOUR: &[&[u8; 4]] = &[b"gAMA", b"cHRM", b"sRGB", b"cICP", b"mDCV", b"cLLI"];

/// Largest decompressed text chunk we read (a bigger one is treated as a bomb).
const MAX_TEXT: usize = 16 << 20;

/// Largest unpacked colour profile accepted. Real profiles are a few KB (sRGB, Adobe RGB) to a
/// few MB (printer profiles), and JPEG's APP2 chunks cannot carry more than ~16 MB; a bigger one
/// is a decompression bomb (it would also be inflated again by every decoder that reads the
/// released copy).
const MAX_ICC: usize = 16 << 20;

/// What all compressed chunks of one PNG together may unpack to, so that many chunks each
/// under their own limit cannot add up to a bomb.
const MAX_INFLATED: usize = 32 << 20;

#[derive(Debug, Clone, Copy)]
struct Chunk {
    kind: [u8; 4],
    /// Position of the length field.
    start: usize,
    /// Data range.
    data: (usize, usize),
    /// One past the CRC.
    end: usize,
}

fn corrupt(what: impl Into<String>) -> FormatError {
    FormatError::Corrupt(what.into())
}

struct Parsed {
    chunks: Vec<Chunk>,
    end: usize,
    width: u32,
    height: u32,
}

fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    if !bytes.starts_with(SIGNATURE) {
        return Err(corrupt("not a PNG file"));
    }
    let mut pos = SIGNATURE.len();
    let mut chunks = Vec::new();
    let mut size = None;
    loop {
        let head = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| corrupt("the PNG is cut off (no end chunk)"))?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        if len > 0x7FFF_FFFF {
            return Err(corrupt("a PNG chunk has an impossible length"));
        }
        let kind = [head[4], head[5], head[6], head[7]];
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(corrupt(format!("damaged PNG chunk at offset {pos}")));
        }
        let data_start = pos + 8;
        let data_end = data_start + len as usize;
        let end = data_end + 4;
        if end > bytes.len() {
            return Err(corrupt("the PNG is cut off inside a chunk"));
        }
        if chunks.is_empty() {
            if &kind != b"IHDR" || len != 13 {
                return Err(corrupt("the PNG does not start with a header chunk"));
            }
            let d = &bytes[data_start..data_end];
            let w = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            let h = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            // Before anything else is read: a tiny file may declare a gigantic picture.
            check_dimensions(w, h, limits)?;
            size = Some((w, h));
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&bytes[pos + 4..data_end]);
        let stored = u32::from_be_bytes([
            bytes[data_end],
            bytes[data_end + 1],
            bytes[data_end + 2],
            bytes[data_end + 3],
        ]);
        if crc.finalize() != stored {
            return Err(corrupt(format!(
                "the PNG chunk '{}' at offset {pos} is damaged (checksum mismatch)",
                String::from_utf8_lossy(&kind)
            )));
        }
        if !length_ok(&kind, len as usize) {
            return Err(corrupt(format!(
                "the PNG chunk '{}' at offset {pos} has the wrong size",
                String::from_utf8_lossy(&kind)
            )));
        }
        chunks.push(Chunk {
            kind,
            start: pos,
            data: (data_start, data_end),
            end,
        });
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    if !chunks.iter().any(|c| &c.kind == b"IDAT") {
        return Err(corrupt("the PNG has no image data"));
    }
    let (width, height) = size.ok_or_else(|| corrupt("the PNG has no header"))?;
    Ok(Parsed {
        chunks,
        end: pos,
        width,
        height,
    })
}

/// Kept rendering chunks have fixed or bounded sizes: a chunk we copy cannot carry extra bytes.
fn length_ok(kind: &[u8; 4], len: usize) -> bool {
    match kind {
        b"IHDR" => len == 13,
        b"PLTE" => len % 3 == 0 && len <= 768,
        b"IEND" => len == 0,
        b"tRNS" => len <= 256,
        b"gAMA" | b"cICP" => len == 4,
        b"cHRM" => len == 32,
        b"sRGB" => len == 1,
        b"sBIT" => (1..=4).contains(&len),
        b"bKGD" => matches!(len, 1 | 2 | 6),
        b"pHYs" => len == 9,
        b"mDCV" => len == 24,
        b"cLLI" | b"acTL" => len == 8,
        b"fcTL" => len == 26,
        _ => true,
    }
}

/// Inflate one zlib stream, stopping at `limit` bytes and at what is left of the file's
/// `budget` (decremented). Stopping early means a bomb: the file is held, never copied out.
fn inflate(
    data: &[u8],
    what: &str,
    limit: usize,
    budget: &mut usize,
) -> Result<Vec<u8>, FormatError> {
    use miniz_oxide::inflate::{decompress_to_vec_zlib_with_limit, TINFLStatus};
    let bound = limit.min(*budget);
    match decompress_to_vec_zlib_with_limit(data, bound) {
        Ok(out) => {
            *budget -= out.len();
            Ok(out)
        }
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Err(corrupt(if bound < limit {
            format!(
                "the PNG's compressed chunks unpack to more than {} in all, far more than any \
                 photo needs; it looks like a decompression bomb",
                human_size(MAX_INFLATED)
            )
        } else {
            format!(
                "the PNG's compressed {what} unpacks to more than {}, far more than any photo \
                 needs; it looks like a decompression bomb",
                human_size(limit)
            )
        })),
        Err(_) => Err(corrupt(format!(
            "the PNG's compressed {what} cannot be read, so it cannot be checked"
        ))),
    }
}

/// Unpack an iCCP chunk's profile (keyword, method 0, zlib stream) within the limits, so a
/// profile we copy into the clean file is known to be sound and bounded.
fn icc_profile(d: &[u8], budget: &mut usize) -> Result<Vec<u8>, FormatError> {
    let (_, rest) = keyword(d)?;
    match rest.split_first() {
        Some((0, comp)) => inflate(comp, "colour profile", MAX_ICC, budget),
        _ => Err(corrupt("the PNG colour profile is damaged")),
    }
}

/// Split "keyword\0rest".
fn keyword(d: &[u8]) -> Result<(String, &[u8]), FormatError> {
    let n = d
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| corrupt("a PNG text chunk is damaged"))?;
    Ok((decode_8bit(&d[..n]), &d[n + 1..]))
}

/// Read a text chunk's keyword and value.
fn text_chunk(
    kind: &[u8; 4],
    d: &[u8],
    budget: &mut usize,
) -> Result<(String, String), FormatError> {
    let (kw, rest) = keyword(d)?;
    let value = match kind {
        b"tEXt" => rest.iter().map(|&b| char::from(b)).collect(),
        b"zTXt" => {
            let comp = rest
                .get(1..)
                .ok_or_else(|| corrupt("a PNG text chunk is damaged"))?;
            inflate(comp, "text", MAX_TEXT, budget)?
                .iter()
                .map(|&b| char::from(b))
                .collect()
        }
        _ => {
            // iTXt: flag, method, language\0, translated keyword\0, text
            if rest.len() < 2 {
                return Err(corrupt("a PNG text chunk is damaged"));
            }
            let compressed = rest[0] == 1;
            let r = &rest[2..];
            let lang_end = r
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| corrupt("a PNG text chunk is damaged"))?;
            let r = &r[lang_end + 1..];
            let tk_end = r
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| corrupt("a PNG text chunk is damaged"))?;
            let translated = String::from_utf8_lossy(&r[..tk_end]).into_owned();
            let t = &r[tk_end + 1..];
            let t = if compressed {
                inflate(t, "text", MAX_TEXT, budget)?
            } else {
                t.to_vec()
            };
            let mut s = String::from_utf8_lossy(&t).into_owned();
            if !translated.trim().is_empty() {
                s = format!("{translated}\n{s}");
            }
            s
        }
    };
    Ok((kw, value))
}

/// ImageMagick's "Raw profile type X": "\nX\n   <length>\n<hex...>".
fn raw_profile(value: &str) -> Result<Vec<u8>, FormatError> {
    let bad = || {
        corrupt("an ImageMagick metadata profile in the PNG is damaged, so it cannot be checked")
    };
    let mut lines = value.trim_start().splitn(3, '\n');
    let _name = lines.next().ok_or_else(bad)?;
    let len: usize = lines
        .next()
        .ok_or_else(bad)?
        .trim()
        .parse()
        .map_err(|_| bad())?;
    let hex: Vec<u8> = lines
        .next()
        .ok_or_else(bad)?
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let hex_len = len
        .checked_mul(2)
        .filter(|&n| n <= hex.len())
        .ok_or_else(bad)?;
    let digit = |c: u8| (c as char).to_digit(16).ok_or_else(bad);
    hex[..hex_len]
        .chunks_exact(2)
        .map(|p| Ok((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

fn read_text(kw: &str, value: &str, f: &mut Findings) -> Result<(), FormatError> {
    if kw == "XML:com.adobe.xmp" {
        f.removed("XMP");
        return super::xmp::read(value.as_bytes(), f);
    }
    if let Some(kind) = kw.strip_prefix("Raw profile type ") {
        let data = raw_profile(value)?;
        match kind.to_ascii_lowercase().as_str() {
            "exif" | "app1" => {
                let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(&data);
                if tiff.starts_with(b"http://ns.adobe.com/xap/1.0/\0") {
                    f.removed("XMP");
                    return super::xmp::read(&tiff[29..], f);
                }
                super::exif::read(tiff, super::exif::Kind::Exif, f)?;
            }
            "xmp" => {
                f.removed("XMP");
                super::xmp::read(&data, f)?;
            }
            "iptc" | "8bim" => {
                f.removed("IPTC");
                if data.starts_with(b"8BIM") {
                    super::iptc::read_photoshop(&data, f)?;
                } else {
                    super::iptc::read_iim(&data, f)?;
                }
            }
            "icc" | "icm" => f.removed("copy of the colour profile in a text chunk"),
            other => f.removed(format!("ImageMagick '{other}' profile")),
        }
        return Ok(());
    }
    f.removed(format!("PNG text '{kw}'"));
    f.text(format!("PNG text '{kw}'"), value);
    Ok(())
}

/// Strip a PNG. See the module documentation for what is kept.
pub(crate) fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    let parsed = parse(bytes, limits)?;
    let mut f = Findings::default();
    let mut keep = Vec::with_capacity(parsed.chunks.len());
    let mut budget = MAX_INFLATED;
    let mut icc = None;
    for c in &parsed.chunks {
        let d = &bytes[c.data.0..c.data.1];
        match &c.kind {
            b"iCCP" => {
                // Unpacked here, within limits, because it is copied out: an unchecked one would
                // carry a bomb into the outbox and into every decoder downstream.
                icc = Some(icc_profile(d, &mut budget)?);
                keep.push(*c);
            }
            k if KEEP.contains(&k) => keep.push(*c),
            k @ (b"tEXt" | b"zTXt" | b"iTXt") => {
                let (kw, value) = text_chunk(k, d, &mut budget)?;
                read_text(&kw, &value, &mut f)?;
            }
            b"eXIf" | b"exIf" => {
                let tiff = d.strip_prefix(b"Exif\0\0").unwrap_or(d);
                super::exif::read(tiff, super::exif::Kind::Exif, &mut f)?;
            }
            b"tIME" => f.removed("PNG modification time"),
            k => f.removed(format!("PNG chunk '{}'", String::from_utf8_lossy(k))),
        }
    }
    let trailer = bytes.len() - parsed.end;
    if trailer > 0 {
        f.removed(format!("data after end of image ({})", human_size(trailer)));
    }
    let orientation = f.orientation();
    let out = if orientation == 1 {
        let mut out = Vec::with_capacity(parsed.end);
        out.extend_from_slice(SIGNATURE);
        for c in &keep {
            out.extend_from_slice(&bytes[c.start..c.end]);
        }
        out
    } else {
        if keep.iter().any(|c| &c.kind == b"acTL") {
            return Err(FormatError::Unsupported(
                "animated PNG with a rotation tag; save it upright without the tag, or as a still picture".into(),
            ));
        }
        f.removed("rotation tag (the picture was turned upright instead)");
        reencode_upright(bytes, &keep, icc, orientation, limits)?
    };
    let (width, height) = displayed(parsed.width, parsed.height, orientation);
    Ok(f.into_cleaned(Format::Png, out, "png", (width, height)))
}

/// Decode, turn upright, encode a PNG with the ICC profile (`icc`, already unpacked) and the
/// colour chunks of `keep`.
fn reencode_upright(
    bytes: &[u8],
    keep: &[Chunk],
    icc: Option<Vec<u8>>,
    orientation: u16,
    limits: &Limits,
) -> Result<Vec<u8>, FormatError> {
    let dec = image::codecs::png::PngDecoder::with_limits(
        Cursor::new(bytes),
        super::image_limits(limits),
    )
    .map_err(|e| super::map_image_error(e, "PNG", (0, 0), limits))?;
    let mut img = super::decode_image(dec, limits, "PNG")?;
    apply_orientation(&mut img, orientation);
    let extra: Vec<Chunk> = keep
        .iter()
        .filter(|c| COLOUR.contains(&&c.kind) || &c.kind == b"pHYs")
        .copied()
        .collect();
    let mut with_icc = Vec::new();
    write_png(&img, icc, &mut with_icc)?;
    // Splice the colour chunks right after IHDR (they must come before PLTE/IDAT).
    let ihdr_end = SIGNATURE.len() + 8 + 13 + 4;
    let mut out = Vec::with_capacity(with_icc.len() + 256);
    out.extend_from_slice(&with_icc[..ihdr_end]);
    let swap = (5..=8).contains(&orientation);
    for c in &extra {
        let d = &bytes[c.data.0..c.data.1];
        if &c.kind == b"pHYs" && swap && d.len() == 9 {
            let mut p = [0u8; 9];
            p[..4].copy_from_slice(&d[4..8]);
            p[4..8].copy_from_slice(&d[..4]);
            p[8] = d[8];
            png_chunk(&mut out, b"pHYs", &p);
        } else {
            out.extend_from_slice(&bytes[c.start..c.end]);
        }
    }
    out.extend_from_slice(&with_icc[ihdr_end..]);
    Ok(out)
}

pub(crate) fn write_png(
    img: &image::DynamicImage,
    icc: Option<Vec<u8>>,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    use image::ImageEncoder;
    let mut enc = image::codecs::png::PngEncoder::new(&mut *out);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc).map_err(|e| {
            FormatError::Unsupported(format!("cannot keep the colour profile ({e})"))
        })?;
    }
    img.write_with_encoder(enc).map_err(|e| {
        FormatError::Unsupported(format!(
            "this picture's pixel format cannot be saved as PNG ({e})"
        ))
    })
}

/// Check the output: it must re-parse with valid checksums, hold only whitelisted chunks, end at
/// IEND, and its header must decode to the size we report.
pub(crate) fn verify(c: &Cleaned, limits: &Limits) -> Result<(), FormatError> {
    let parsed = parse(&c.bytes, limits)
        .map_err(|e| corrupt(format!("the cleaned PNG does not re-read ({e})")))?;
    if parsed.end != c.bytes.len() {
        return Err(corrupt("the cleaned PNG has data after its end"));
    }
    if let Some(bad) = parsed.chunks.iter().find(|ch| !KEEP.contains(&&ch.kind)) {
        return Err(corrupt(format!(
            "internal check failed: the cleaned PNG still holds a '{}' chunk",
            String::from_utf8_lossy(&bad.kind)
        )));
    }
    let dec = image::codecs::png::PngDecoder::with_limits(
        Cursor::new(c.bytes.as_slice()),
        super::image_limits(limits),
    )
    .map_err(|e| corrupt(format!("the cleaned PNG header cannot be decoded ({e})")))?;
    if image::ImageDecoder::dimensions(&dec) != (c.width, c.height) {
        return Err(corrupt("the cleaned PNG's size is not the expected one"));
    }
    check_dimensions(c.width, c.height, limits)
}
