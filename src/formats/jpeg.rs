//! JPEG (incl. MPO and Ultra HDR): lossless metadata strip by copying segments.
//!
//! **Kept, and why:** SOI; DQT, DHT, DAC, SOFn, DRI, DNL, DHP/EXP and every SOS with its
//! entropy-coded data (progressive files: all scans and the tables between them) — the picture
//! itself, byte for byte, so nothing is re-encoded; EOI. APP2 `ICC_PROFILE` chunks (colours would be
//! wrong without them; an ICC profile describes a device's colours, not the person or the place) and
//! APP14 `Adobe` (its transform flag says whether CMYK/YCCK data must be inverted/converted; without
//! it such files decode with wrong colours). APP0 JFIF is rewritten to its 16-byte minimum
//! (version, density) with no thumbnail: it says "this is YCbCr", which some decoders need to
//! pick the colour space, and a thumbnail could show an older, unedited crop of the photo.
//!
//! **Orientation:** browsers apply EXIF orientation to JPEG by default, and turning the pixels
//! would need a re-encode (lossy) or a lossless transform that fails for sizes that are not a whole
//! number of MCUs. So when the original orientation is not 1 we write a minimal EXIF APP1 holding
//! only IFD0 Orientation (32 bytes, nothing else) after JFIF.
//!
//! **Dropped:** APP1 EXIF/XMP/ExtendedXMP, APP13 Photoshop/IPTC, APP2 MPF/FPXR/ISO 21496-1 gain
//! map metadata, APP3–APP15 (maker data, Ultra HDR), other APP0 (JFXX thumbnails), COM, and all
//! bytes after EOI (MPO frames, Ultra HDR gain maps, phone trailers).
//!
//! Hand-rolled rather than img-parts: img-parts does not expose or remove data after EOI in a way
//! we can report, and scanning entropy-coded data with memchr keeps the strip well above 300 MB/s.

use super::{
    check_dimensions, displayed, human_size, Cleaned, Findings, Format, FormatError, Limits,
};

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP13: u8 = 0xED;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

const EXIF_ID: &[u8] = b"Exif\0";
const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXT_ID: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";
const ICC_ID: &[u8] = b"ICC_PROFILE\0";
const PHOTOSHOP_ID: &[u8] = b"Photoshop 3.0\0";

/// One marker segment: `start` is its 0xFF, `end` is one past its last byte (for SOS: past the
/// entropy-coded data that follows it).
#[derive(Debug, Clone, Copy)]
struct Segment {
    marker: u8,
    start: usize,
    end: usize,
}

impl Segment {
    /// Bytes after the length field.
    fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        if has_length(self.marker) {
            &bytes[(self.start + 4).min(self.end)..self.end]
        } else {
            &[]
        }
    }
}

fn has_length(marker: u8) -> bool {
    !matches!(marker, SOI | EOI | 0x01 | 0xD0..=0xD7)
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

fn corrupt(what: impl Into<String>) -> FormatError {
    FormatError::Corrupt(what.into())
}

struct Parsed {
    segments: Vec<Segment>,
    /// One past EOI.
    end: usize,
    width: u32,
    height: u32,
    /// Stray bytes skipped between segments.
    stray: usize,
}

/// Most stray bytes tolerated between two segments.
const MAX_STRAY: usize = 16;

/// Split a JPEG into segments up to EOI, checking the structure and the declared size.
fn parse(bytes: &[u8], limits: &Limits) -> Result<Parsed, FormatError> {
    if !bytes.starts_with(&[0xFF, SOI, 0xFF]) {
        return Err(corrupt("not a JPEG file"));
    }
    let len = bytes.len();
    let mut segments = Vec::with_capacity(32);
    let mut pos = 2;
    let mut size = None;
    let mut saw_sos = false;
    let mut stray = 0;
    loop {
        if pos + 1 >= len {
            return Err(corrupt("the JPEG is cut off (no end-of-image marker)"));
        }
        if bytes[pos] != 0xFF {
            // A few stray bytes after a segment whose length is one short (seen in Photoshop
            // files) are skipped like libjpeg does; they are not copied. More is damage.
            match bytes[pos..len.min(pos + MAX_STRAY + 1)]
                .iter()
                .position(|&b| b == 0xFF)
            {
                Some(n) => {
                    stray += n;
                    pos += n;
                }
                None => {
                    return Err(corrupt(format!(
                        "unexpected bytes between JPEG segments at offset {pos}"
                    )))
                }
            }
        }
        // Fill bytes: any number of 0xFF before the marker.
        let mut m = pos + 1;
        while m < len && bytes[m] == 0xFF {
            m += 1;
        }
        if m >= len {
            return Err(corrupt("the JPEG is cut off (no end-of-image marker)"));
        }
        let marker = bytes[m];
        let start = m - 1;
        match marker {
            SOI | 0x00 => return Err(corrupt(format!("unexpected JPEG marker at offset {start}"))),
            EOI => {
                segments.push(Segment { marker, start, end: m + 1 });
                if !saw_sos {
                    return Err(corrupt("the JPEG has no image data (no start-of-scan)"));
                }
                let (width, height) = size.ok_or_else(|| corrupt("the JPEG has no frame header"))?;
                return Ok(Parsed { segments, end: m + 1, width, height, stray });
            }
            0x01 | 0xD0..=0xD7 => {
                segments.push(Segment { marker, start, end: m + 1 });
                pos = m + 1;
                continue;
            }
            0xC8 | 0xF0..=0xFD => {
                return Err(FormatError::Unsupported(format!(
                    "JPEG extension (marker 0xFF{marker:02X}, e.g. JPEG-LS or JPEG XT) that browsers cannot show"
                )))
            }
            _ => {}
        }
        let l = bytes
            .get(m + 1..m + 3)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(|| corrupt("the JPEG is cut off inside a segment header"))?;
        if l < 2 {
            return Err(corrupt(format!(
                "a JPEG segment at offset {start} has an impossible length"
            )));
        }
        let mut end = m + 1 + l;
        if end > len {
            return Err(corrupt("the JPEG is cut off inside a segment"));
        }
        if is_sof(marker) {
            let p = &bytes[m + 3..end];
            if p.len() < 6 {
                return Err(corrupt("the JPEG frame header is too short"));
            }
            let h = u32::from(u16::from_be_bytes([p[1], p[2]]));
            let w = u32::from(u16::from_be_bytes([p[3], p[4]]));
            if h == 0 {
                return Err(FormatError::Unsupported(
                    "JPEG whose height is given only after the image data (DNL), which browsers do not show".into(),
                ));
            }
            check_dimensions(w, h, limits)?;
            if size.is_none() {
                size = Some((w, h));
            }
        }
        check_table(marker, &bytes[m + 3..end])
            .map_err(|what| corrupt(format!("the JPEG {what} at offset {start} is malformed")))?;
        if marker == SOS {
            if size.is_none() {
                return Err(corrupt(
                    "the JPEG image data starts before its frame header",
                ));
            }
            saw_sos = true;
            end = scan_entropy(bytes, end)?;
        }
        segments.push(Segment { marker, start, end });
        pos = end;
    }
}

/// Markers that make up the picture itself (copied as they are).
fn is_image_structure(m: u8) -> bool {
    is_sof(m) || matches!(m, 0xC4 | 0xCC | SOS | 0xDB..=0xDF)
}

/// Check that a kept table/header segment holds exactly what its syntax says and nothing more, so
/// that no text can ride along in a segment we copy. Returns what was malformed.
fn check_table(marker: u8, p: &[u8]) -> Result<(), &'static str> {
    let exact = |ok: bool, what| if ok { Ok(()) } else { Err(what) };
    match marker {
        m if is_sof(m) || m == 0xDE => {
            let nf = usize::from(*p.get(5).ok_or("frame header")?);
            exact(nf >= 1 && p.len() == 6 + 3 * nf, "frame header")
        }
        0xDB => {
            // DQT: (Pq/Tq, 64 or 128 bytes)+
            let mut r = p;
            while let Some(&pq) = r.first() {
                let n = 1 + 64 * (1 + usize::from(pq >> 4));
                r = r.get(n..).ok_or("quantisation table")?;
            }
            exact(!p.is_empty() && pq_ok(p), "quantisation table")
        }
        0xC4 => {
            // DHT: (Tc/Th, 16 counts, symbols)+
            let mut r = p;
            while !r.is_empty() {
                let counts = r.get(1..17).ok_or("Huffman table")?;
                let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                r = r.get(17 + n..).ok_or("Huffman table")?;
            }
            exact(!p.is_empty(), "Huffman table")
        }
        0xCC => exact(!p.is_empty() && p.len() % 2 == 0, "arithmetic-coding table"),
        0xDD | 0xDC => exact(p.len() == 2, "restart interval"),
        0xDF => exact(p.len() == 1, "expansion header"),
        SOS => {
            let ns = usize::from(*p.first().ok_or("scan header")?);
            exact(ns >= 1 && p.len() == 4 + 2 * ns, "scan header")
        }
        _ => Ok(()),
    }
}

/// DQT precision nibbles are 0 (8-bit) or 1 (16-bit).
fn pq_ok(p: &[u8]) -> bool {
    let mut r = p;
    while let Some(&pq) = r.first() {
        if pq >> 4 > 1 {
            return false;
        }
        r = r.get(1 + 64 * (1 + usize::from(pq >> 4))..).unwrap_or(&[]);
    }
    true
}

/// Find the end of entropy-coded data starting at `i`: the 0xFF of the next marker that is not a
/// stuffed zero or a restart marker.
fn scan_entropy(bytes: &[u8], mut i: usize) -> Result<usize, FormatError> {
    let len = bytes.len();
    loop {
        let off = memchr::memchr(0xFF, &bytes[i..])
            .ok_or_else(|| corrupt("the JPEG image data is cut off (no end-of-image marker)"))?;
        let mut q = i + off + 1;
        while q < len && bytes[q] == 0xFF {
            q += 1;
        }
        match bytes.get(q) {
            None => {
                return Err(corrupt(
                    "the JPEG image data is cut off (no end-of-image marker)",
                ))
            }
            Some(0x00 | 0xD0..=0xD7) => i = q + 1,
            Some(_) => return Ok(q - 1),
        }
    }
}

/// Minimal EXIF APP1 segment holding only IFD0 Orientation (big-endian TIFF).
pub(crate) fn orientation_app1(orientation: u16) -> [u8; 36] {
    let mut s = [0u8; 36];
    s[0] = 0xFF;
    s[1] = APP1;
    s[2..4].copy_from_slice(&34u16.to_be_bytes());
    s[4..10].copy_from_slice(b"Exif\0\0");
    s[10..14].copy_from_slice(b"MM\0*");
    s[14..18].copy_from_slice(&8u32.to_be_bytes());
    s[18..20].copy_from_slice(&1u16.to_be_bytes());
    s[20..22].copy_from_slice(&0x0112u16.to_be_bytes());
    s[22..24].copy_from_slice(&3u16.to_be_bytes());
    s[24..28].copy_from_slice(&1u32.to_be_bytes());
    s[28..30].copy_from_slice(&orientation.to_be_bytes());
    // s[30..32] value padding, s[32..36] next IFD = 0
    s
}

/// Minimal JFIF APP0: the original's version and density, no thumbnail.
fn minimal_jfif(payload: &[u8]) -> Option<[u8; 18]> {
    if payload.len() < 14 || !payload.starts_with(b"JFIF\0") {
        return None;
    }
    let mut s = [0u8; 18];
    s[0] = 0xFF;
    s[1] = APP0;
    s[2..4].copy_from_slice(&16u16.to_be_bytes());
    s[4..16].copy_from_slice(&payload[..12]);
    Some(s)
}

/// Strip a JPEG. See the module documentation for what is kept.
pub(crate) fn clean(bytes: &[u8], limits: &Limits) -> Result<Cleaned, FormatError> {
    let parsed = parse(bytes, limits)?;
    let mut f = Findings::default();
    let mut jfif: Option<[u8; 18]> = None;
    let mut keep: Vec<Segment> = Vec::with_capacity(parsed.segments.len());
    let mut photoshop: Vec<u8> = Vec::new();
    let mut ext_xmp: Vec<(&[u8], u32, u32, &[u8])> = Vec::new();
    let mut mpf_images: Option<u32> = None;
    // EXIF blocks: a segment that does not start with a TIFF header continues the previous one
    // (multi-segment EXIF, as exiftool reads it).
    let mut exif_blocks: Vec<Vec<u8>> = Vec::new();

    for seg in &parsed.segments {
        let p = seg.payload(bytes);
        match seg.marker {
            APP0 if p.starts_with(b"JFIF\0") => {
                if p.len() >= 14 && (p[12] != 0 || p[13] != 0) {
                    f.removed("embedded thumbnail");
                }
                if jfif.is_none() {
                    jfif = minimal_jfif(p);
                }
            }
            APP0 if p.starts_with(b"JFXX\0") => f.removed("embedded thumbnail"),
            APP1 if p.starts_with(EXIF_ID) => {
                // "Exif\0\0" normally; some writers put another byte in the padding.
                let tiff = p.get(6..).unwrap_or(&[]);
                match exif_blocks.last_mut() {
                    Some(last) if !(tiff.starts_with(b"II*\0") || tiff.starts_with(b"MM\0*")) => {
                        last.extend_from_slice(tiff)
                    }
                    _ => exif_blocks.push(tiff.to_vec()),
                }
            }
            APP1 if p.starts_with(XMP_ID) => {
                f.removed("XMP");
                super::xmp::read(&p[XMP_ID.len()..], &mut f)?;
            }
            APP1 if p.starts_with(XMP_EXT_ID) => {
                f.removed("XMP");
                let r = &p[XMP_EXT_ID.len()..];
                if r.len() < 40 {
                    return Err(corrupt(
                        "an extended XMP block is cut off, so its captions cannot be checked",
                    ));
                }
                let total = u32::from_be_bytes([r[32], r[33], r[34], r[35]]);
                let offset = u32::from_be_bytes([r[36], r[37], r[38], r[39]]);
                ext_xmp.push((&r[..32], total, offset, &r[40..]));
            }
            APP2 if p.starts_with(ICC_ID) => keep.push(*seg),
            APP2 if p.starts_with(b"MPF\0") => {
                f.removed("multi-picture index (MPF)");
                mpf_images = mpf_count(&p[4..]);
            }
            APP2 if p.starts_with(b"FPXR\0") => f.removed("FlashPix data"),
            APP2 if p.starts_with(b"urn:iso:std:iso:ts:21496:-1\0") => {
                f.removed("HDR gain-map metadata")
            }
            APP13 if p.starts_with(PHOTOSHOP_ID) => {
                photoshop.extend_from_slice(&p[PHOTOSHOP_ID.len()..]);
            }
            // Adobe segments are exactly 12 bytes; decoders (libjpeg) ignore a shorter one, which
            // cannot hold its transform flag. A longer one would carry bytes we cannot vouch for.
            APP14 if p.starts_with(b"Adobe") && p.len() == 12 => keep.push(*seg),
            APP14 if p.starts_with(b"Adobe") => {
                f.removed("damaged Adobe colour segment (not the standard 12 bytes)")
            }
            0xE0..=0xEF => f.removed(format!(
                "camera or editor data (APP{} segment)",
                seg.marker - 0xE0
            )),
            COM => {
                f.removed("JPEG comment");
                f.text("JPEG comment", &super::decode_8bit(p));
            }
            SOI | 0x01 | 0xD0..=0xD7 => {}
            m if is_image_structure(m) || m == EOI => keep.push(*seg),
            m => {
                return Err(corrupt(format!(
                    "the JPEG holds an unknown marker 0xFF{m:02X}"
                )))
            }
        }
    }
    for (i, block) in exif_blocks.iter().enumerate() {
        // A second EXIF block: its text counts, but the first one's orientation is the one shown.
        let o = f.exif_orientation;
        super::exif::read(block, super::exif::Kind::Exif, &mut f)?;
        if i > 0 {
            f.exif_orientation = o;
        }
    }
    if parsed.stray > 0 {
        f.removed(format!(
            "stray bytes between segments ({})",
            human_size(parsed.stray)
        ));
    }
    if !photoshop.is_empty() {
        f.removed("Photoshop data");
        super::iptc::read_photoshop(&photoshop, &mut f)?;
    }
    if !ext_xmp.is_empty() {
        read_extended_xmp(&mut ext_xmp, &mut f)?;
    }

    let trailer = bytes.len() - parsed.end;
    if trailer > 0 {
        if let Some(n) = mpf_images.filter(|&n| n > 1) {
            let n = n - 1;
            f.removed(format!(
                "{n} trailing image{} (MPO)",
                if n == 1 { "" } else { "s" }
            ));
        }
        f.removed(format!("data after end of image ({})", human_size(trailer)));
    }

    let orientation = f.orientation();
    let mut out = Vec::with_capacity(parsed.end + 64);
    out.extend_from_slice(&[0xFF, SOI]);
    if let Some(j) = &jfif {
        out.extend_from_slice(j);
    }
    if orientation != 1 {
        out.extend_from_slice(&orientation_app1(orientation));
    }
    for seg in &keep {
        out.extend_from_slice(&bytes[seg.start..seg.end]);
    }
    let (width, height) = displayed(parsed.width, parsed.height, orientation);
    Ok(f.into_cleaned(Format::Jpeg, out, "jpg", (width, height)))
}

/// Number of images an MPF index declares (tag 0xB001), if readable.
fn mpf_count(tiff: &[u8]) -> Option<u32> {
    let t = super::exif::Tiff::new(tiff).ok()?;
    let (entries, _) = t.ifd(t.first_ifd()?)?;
    entries
        .iter()
        .find(|e| e.tag == 0xB001)
        .and_then(|e| t.uint(e))
}

/// Reassemble ExtendedXMP chunks (GUID, full length, offset) and read them.
fn read_extended_xmp(
    chunks: &mut [(&[u8], u32, u32, &[u8])],
    f: &mut Findings,
) -> Result<(), FormatError> {
    chunks.sort_by(|a, b| a.0.cmp(b.0).then(a.2.cmp(&b.2)));
    let mut i = 0;
    while i < chunks.len() {
        let guid = chunks[i].0;
        let total = chunks[i].1 as usize;
        let mut data = Vec::with_capacity(total.min(1 << 24));
        while i < chunks.len() && chunks[i].0 == guid {
            let (_, t, off, part) = chunks[i];
            if t as usize != total || off as usize != data.len() {
                return Err(corrupt(
                    "the extended XMP metadata is incomplete, so its captions cannot be checked",
                ));
            }
            data.extend_from_slice(part);
            i += 1;
        }
        if data.len() != total {
            return Err(corrupt(
                "the extended XMP metadata is incomplete, so its captions cannot be checked",
            ));
        }
        super::xmp::read(&data, f)?;
    }
    Ok(())
}

/// Check the output: it must re-parse, hold only the segments we keep, end at EOI, and its headers
/// must decode (zune-jpeg via `image`) to the size we parsed. The entropy-coded data is the input's,
/// byte for byte, so a full decode would only re-check the camera's encoder, at ~10× the cost.
pub(crate) fn verify(c: &Cleaned) -> Result<(), FormatError> {
    let bytes = &c.bytes;
    let no_limits = Limits {
        max_pixels: u64::MAX,
        max_dimension: u32::MAX,
        max_alloc: u64::MAX,
        ..Limits::default()
    };
    let parsed = parse(bytes, &no_limits)
        .map_err(|e| corrupt(format!("the cleaned JPEG does not re-read ({e})")))?;
    if parsed.end != bytes.len() {
        return Err(corrupt("the cleaned JPEG has data after its end"));
    }
    for seg in &parsed.segments {
        let p = seg.payload(bytes);
        let ok = match seg.marker {
            APP0 => p.len() == 14 && p.starts_with(b"JFIF\0") && p[12] == 0 && p[13] == 0,
            APP1 => (2..=8).any(|o| bytes[seg.start..seg.end] == orientation_app1(o)),
            APP2 => p.starts_with(ICC_ID),
            APP14 => p.starts_with(b"Adobe") && p.len() == 12,
            m => is_image_structure(m) || m == EOI,
        };
        if !ok {
            return Err(corrupt(format!(
                "internal check failed: the cleaned JPEG still holds a metadata segment (0xFF{:02X})",
                seg.marker
            )));
        }
    }
    let dec = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(bytes.as_slice()))
        .map_err(|e| corrupt(format!("the JPEG headers cannot be decoded ({e})")))?;
    let (w, h) = image::ImageDecoder::dimensions(&dec);
    if (w, h) != (parsed.width, parsed.height) {
        return Err(corrupt("the JPEG headers disagree about the picture size"));
    }
    Ok(())
}
