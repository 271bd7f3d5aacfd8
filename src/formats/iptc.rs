//! Photoshop image resources (8BIM) and IPTC-IIM records.
//!
//! Hand-rolled: no crate in our tree reads IIM, and the format is a few lines (tag marker 0x1C,
//! record, dataset, length). A damaged IPTC block may hold the caption, so it is `Corrupt`.

use super::{decode_8bit, Findings, FormatError};

fn corrupt(what: &str) -> FormatError {
    FormatError::Corrupt(format!("{what}, so its captions cannot be checked"))
}

/// Read a Photoshop image-resource block (the payload of APP13 after "Photoshop 3.0\0", possibly
/// several segments concatenated, or TIFF tag 34377).
pub(crate) fn read_photoshop(mut data: &[u8], f: &mut Findings) -> Result<(), FormatError> {
    while !data.is_empty() {
        // Trailing zero padding after the last resource is common and harmless.
        if data.iter().all(|&b| b == 0) {
            break;
        }
        if data.len() < 12
            || !matches!(&data[0..4], b"8BIM" | b"PHUT" | b"AgHg" | b"DCSR" | b"MeSa")
        {
            return Err(corrupt("the Photoshop/IPTC block is damaged"));
        }
        let id = u16::from_be_bytes([data[4], data[5]]);
        let name_len = usize::from(data[6]);
        // Pascal name (length byte + text) padded to an even size.
        let name_total = (1 + name_len + 1) & !1;
        let size_at = 6 + name_total;
        let size_bytes = data
            .get(size_at..size_at + 4)
            .ok_or_else(|| corrupt("the Photoshop/IPTC block is cut off"))?;
        let size = u32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]])
            as usize;
        let start = size_at + 4;
        let body = data
            .get(start..start.saturating_add(size))
            .ok_or_else(|| corrupt("the Photoshop/IPTC block is cut off"))?;
        match id {
            0x0404 => {
                f.removed("IPTC");
                read_iim(body, f)?;
            }
            0x0409 | 0x040C => f.removed("embedded thumbnail"),
            0x0422 => {
                f.removed("EXIF");
                super::exif::read(body, super::exif::Kind::Exif, f)?;
            }
            0x0424 => {
                f.removed("XMP");
                super::xmp::read(body, f)?;
            }
            0x040F => f.removed("ICC profile copy in Photoshop data"),
            _ => {}
        }
        let next = start + size + (size & 1);
        data = data.get(next..).unwrap_or(&[]);
    }
    Ok(())
}

/// Read IPTC-IIM datasets.
pub(crate) fn read_iim(data: &[u8], f: &mut Findings) -> Result<(), FormatError> {
    let mut utf8 = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] != 0x1C {
            // Zero padding at the end is harmless; anything else is damage.
            if data[i..].iter().all(|&b| b == 0) {
                break;
            }
            return Err(corrupt("the IPTC block is damaged"));
        }
        let head = data
            .get(i..i + 5)
            .ok_or_else(|| corrupt("the IPTC block is cut off"))?;
        let (record, dataset) = (head[1], head[2]);
        let mut len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        let mut start = i + 5;
        if len & 0x8000 != 0 {
            // Extended dataset: the low bits give how many bytes hold the length.
            let n = len & 0x7FFF;
            if n == 0 || n > 4 {
                return Err(corrupt("the IPTC block is damaged"));
            }
            let lb = data
                .get(start..start + n)
                .ok_or_else(|| corrupt("the IPTC block is cut off"))?;
            len = lb
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            start += n;
        }
        let value = data
            .get(start..start.saturating_add(len))
            .ok_or_else(|| corrupt("the IPTC block is cut off"))?;
        let text = || {
            if utf8 {
                String::from_utf8_lossy(value).into_owned()
            } else {
                decode_8bit(value)
            }
        };
        match (record, dataset) {
            // CodedCharacterSet: ESC % G means UTF-8.
            (1, 90) => utf8 = value == b"\x1b%G",
            (2, 5) => f.text("IPTC ObjectName", &text()),
            (2, 25) => f.text("IPTC Keywords", &text()),
            (2, 105) => f.text("IPTC Headline", &text()),
            (2, 120) => f.text("IPTC Caption-Abstract", &text()),
            (2, 80) => f.removed("IPTC photographer name"),
            (2, 90..=101) => f.removed("IPTC location"),
            _ => {}
        }
        i = start + len;
    }
    Ok(())
}
