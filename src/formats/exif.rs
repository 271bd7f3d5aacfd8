//! EXIF / TIFF IFD reader for what the gate needs: captions, device, orientation, and a list of
//! what identifying data was present.
//!
//! Hand-rolled rather than kamadak-exif because we need to decide per tag what a broken offset
//! means: a broken pointer to a block that may hold a caption (IFD0, the Exif sub-IFD, a text tag)
//! means we cannot verify the photo (`Corrupt`), while a broken pointer elsewhere (a thumbnail IFD,
//! a maker-note offset, a rational) is a benign oddity that many old cameras produce and that cannot
//! leak anything, because the whole block is dropped anyway. kamadak-exif rejects or accepts the
//! whole block. The same walker reads whole TIFF files (they are one big IFD structure).

use super::{decode_8bit, decode_utf16, Findings, FormatError};

/// A TIFF-structured byte block (EXIF payload without the "Exif\0\0" prefix, or a TIFF file).
pub(crate) struct Tiff<'a> {
    data: &'a [u8],
    le: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u32,
    /// Where the value bytes are, if they lie inside the block.
    pub value: Option<(usize, usize)>,
}

fn type_size(typ: u16) -> Option<usize> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => return None,
    })
}

fn corrupt(what: &str) -> FormatError {
    FormatError::Corrupt(format!("{what}, so its captions cannot be checked"))
}

impl<'a> Tiff<'a> {
    pub fn new(data: &'a [u8]) -> Result<Self, FormatError> {
        let le = match data.get(0..4) {
            Some(b"II*\0") => true,
            Some(b"MM\0*") => false,
            _ => return Err(corrupt("the EXIF block has no valid header")),
        };
        Ok(Tiff { data, le })
    }

    pub fn u16_at(&self, off: usize) -> Option<u16> {
        let b = self.data.get(off..off.checked_add(2)?)?;
        Some(if self.le {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    pub fn u32_at(&self, off: usize) -> Option<u32> {
        let b = self.data.get(off..off.checked_add(4)?)?;
        let a = [b[0], b[1], b[2], b[3]];
        Some(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn first_ifd(&self) -> Option<usize> {
        self.u32_at(4).map(|o| o as usize)
    }

    /// Read one IFD: its entries and the offset of the next IFD (0 = none).
    pub fn ifd(&self, off: usize) -> Option<(Vec<Entry>, usize)> {
        let n = self.u16_at(off)? as usize;
        let end = off.checked_add(2 + 12 * n)?;
        if end > self.data.len() {
            return None;
        }
        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let e = off + 2 + 12 * i;
            let tag = self.u16_at(e)?;
            let typ = self.u16_at(e + 2)?;
            let count = self.u32_at(e + 4)?;
            let value = type_size(typ).and_then(|sz| {
                let len = sz.checked_mul(count as usize)?;
                let start = if len <= 4 {
                    e + 8
                } else {
                    self.u32_at(e + 8)? as usize
                };
                let stop = start.checked_add(len)?;
                (stop <= self.data.len()).then_some((start, len))
            });
            entries.push(Entry {
                tag,
                typ,
                count,
                value,
            });
        }
        let next = self.u32_at(end).unwrap_or(0) as usize;
        Some((entries, next))
    }

    pub fn bytes(&self, e: &Entry) -> Option<&'a [u8]> {
        e.value.map(|(s, l)| &self.data[s..s + l])
    }

    /// First value of a SHORT/LONG entry.
    pub fn uint(&self, e: &Entry) -> Option<u32> {
        let (s, _) = e.value?;
        match e.typ {
            3 => self.u16_at(s).map(u32::from),
            4 | 13 => self.u32_at(s),
            1 => self.data.get(s).map(|&b| u32::from(b)),
            _ => None,
        }
    }
}

/// Options for [`read`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An EXIF block from a JPEG/PNG/WebP: IFD1 is a thumbnail.
    Exif,
    /// A whole TIFF file: every IFD in the chain is an image (or a reduced-resolution copy).
    TiffFile,
}

/// What the walker found that the TIFF converter needs.
#[derive(Debug, Default)]
pub(crate) struct TiffInfo {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Full-resolution images after the first one (multi-page TIFF).
    pub extra_pages: usize,
}

const MAX_IFDS: usize = 64;

/// Read an EXIF/TIFF block into `f`. `label` prefixes the field names ("EXIF").
pub(crate) fn read(data: &[u8], kind: Kind, f: &mut Findings) -> Result<TiffInfo, FormatError> {
    let t = Tiff::new(data)?;
    let mut info = TiffInfo::default();
    let ifd0 = t
        .first_ifd()
        .ok_or_else(|| corrupt("the EXIF block is cut off"))?;
    if kind == Kind::Exif {
        f.removed("EXIF");
    }
    let mut next = ifd0;
    let mut seen = Vec::new();
    let mut index = 0;
    while next != 0 && seen.len() < MAX_IFDS && !seen.contains(&next) {
        seen.push(next);
        let parsed = t.ifd(next);
        let (entries, after) = match parsed {
            Some(p) => p,
            // IFD0 holds ImageDescription and the pointers to the caption-bearing blocks.
            None if index == 0 => {
                return Err(corrupt("the EXIF block's main directory is damaged"))
            }
            // A damaged thumbnail directory cannot hold a caption; the block is dropped anyway.
            None => break,
        };
        if index == 0 || kind == Kind::TiffFile {
            let reduced = entries
                .iter()
                .find(|e| e.tag == 0x00FE)
                .and_then(|e| t.uint(e))
                .is_some_and(|v| v & 1 == 1);
            if index > 0 && kind == Kind::TiffFile {
                if reduced {
                    f.removed("embedded thumbnail");
                } else {
                    info.extra_pages += 1;
                }
            }
            read_main_ifd(&t, &entries, index == 0, f, &mut info)?;
        } else if entries.iter().any(|e| e.tag == 0x0201 || e.tag == 0x0111) {
            f.removed("embedded thumbnail");
        }
        next = after;
        index += 1;
    }
    Ok(info)
}

fn ascii(t: &Tiff, e: &Entry, name: &str) -> Result<Option<String>, FormatError> {
    match t.bytes(e) {
        Some(b) => Ok(Some(decode_8bit(b))),
        None if e.count == 0 => Ok(None),
        None => Err(corrupt(&format!(
            "the EXIF {name} points outside the block"
        ))),
    }
}

fn read_main_ifd(
    t: &Tiff,
    entries: &[Entry],
    first: bool,
    f: &mut Findings,
    info: &mut TiffInfo,
) -> Result<(), FormatError> {
    for e in entries {
        match e.tag {
            0x0100 if first => info.width = t.uint(e),
            0x0101 if first => info.height = t.uint(e),
            0x010D => {
                if let Some(s) = ascii(t, e, "DocumentName")? {
                    f.text("EXIF DocumentName", &s);
                }
            }
            0x010E => {
                if let Some(s) = ascii(t, e, "ImageDescription")? {
                    f.text("EXIF ImageDescription", &s);
                }
            }
            0x010F => {
                f.removed("EXIF camera make and model");
                f.device.make = ascii(t, e, "Make")?
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
            }
            0x0110 => {
                f.removed("EXIF camera make and model");
                f.device.model = ascii(t, e, "Model")?
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
            }
            0x0112 if first => {
                if let Some(o) = t
                    .uint(e)
                    .and_then(|o| u16::try_from(o).ok())
                    .filter(|o| (1..=8).contains(o))
                {
                    f.exif_orientation = Some(o);
                }
            }
            0x0132 => f.removed("EXIF date and time"),
            0x013B => f.removed("EXIF artist name"),
            0x8298 => f.removed("EXIF copyright notice"),
            0xC62F => {
                f.removed("EXIF camera serial number");
                if f.device.serial.is_none() {
                    f.device.serial = ascii(t, e, "serial number")?
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty());
                }
            }
            0x9C9B..=0x9C9F => {
                let name = match e.tag {
                    0x9C9B => "XPTitle",
                    0x9C9C => "XPComment",
                    0x9C9D => "XPAuthor",
                    0x9C9E => "XPKeywords",
                    _ => "XPSubject",
                };
                let b = t
                    .bytes(e)
                    .ok_or_else(|| corrupt(&format!("the EXIF {name} points outside the block")))?;
                if e.tag == 0x9C9D {
                    f.removed("EXIF author name");
                } else {
                    f.text(format!("EXIF {name}"), &decode_utf16(b, true));
                }
            }
            0x02BC => {
                let b = t
                    .bytes(e)
                    .ok_or_else(|| corrupt("the TIFF XMP block points outside the file"))?;
                f.removed("XMP");
                super::xmp::read(b, f)?;
            }
            0x83BB => {
                let b = t
                    .bytes(e)
                    .ok_or_else(|| corrupt("the TIFF IPTC block points outside the file"))?;
                f.removed("IPTC");
                super::iptc::read_iim(b, f)?;
            }
            0x8649 => {
                let b = t
                    .bytes(e)
                    .ok_or_else(|| corrupt("the TIFF Photoshop block points outside the file"))?;
                f.removed("Photoshop data");
                super::iptc::read_photoshop(b, f)?;
            }
            0x8769 => {
                let off = t.uint(e).ok_or_else(|| {
                    corrupt("the EXIF block's camera directory pointer is damaged")
                })?;
                let (sub, _) = t
                    .ifd(off as usize)
                    .ok_or_else(|| corrupt("the EXIF block's camera directory is damaged"))?;
                read_exif_ifd(t, &sub, f)?;
            }
            0x8825 => {
                // The GPS block holds no caption: a damaged one is dropped like an intact one.
                let entries = t
                    .uint(e)
                    .and_then(|off| t.ifd(off as usize))
                    .map(|(g, _)| g)
                    .unwrap_or_default();
                if entries.iter().any(|g| matches!(g.tag, 0x0002 | 0x0004)) {
                    f.removed("EXIF GPS position");
                } else {
                    f.removed("EXIF GPS block");
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_exif_ifd(t: &Tiff, entries: &[Entry], f: &mut Findings) -> Result<(), FormatError> {
    for e in entries {
        match e.tag {
            0x9003 | 0x9004 => f.removed("EXIF date and time"),
            0x9286 => {
                let b = t
                    .bytes(e)
                    .ok_or_else(|| corrupt("the EXIF UserComment points outside the block"))?;
                if let Some(s) = user_comment(b, t.le)? {
                    f.text("EXIF UserComment", &s);
                }
            }
            0x927C => f.removed("EXIF MakerNotes"),
            0xA420 => f.removed("EXIF unique image ID"),
            0xA430 => f.removed("EXIF camera owner name"),
            0xA431 => {
                f.removed("EXIF camera serial number");
                f.device.serial = ascii(t, e, "BodySerialNumber")?
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
            }
            0xA435 => f.removed("EXIF lens serial number"),
            _ => {}
        }
    }
    Ok(())
}

/// UserComment: an 8-byte character-code prefix, then the text.
fn user_comment(b: &[u8], le: bool) -> Result<Option<String>, FormatError> {
    if b.len() < 8 {
        return Ok(Some(decode_8bit(b)));
    }
    let (code, rest) = b.split_at(8);
    let s = match code {
        b"ASCII\0\0\0" => decode_8bit(rest),
        b"UNICODE\0" => {
            // The spec leaves the byte order open; writers use the block's order or a BOM.
            match rest {
                [0xFF, 0xFE, r @ ..] => decode_utf16(r, true),
                [0xFE, 0xFF, r @ ..] => decode_utf16(r, false),
                _ => decode_utf16(rest, le),
            }
        }
        b"JIS\0\0\0\0\0" => {
            // JIS X 0208 is two 7-bit bytes per character: it looks like ASCII but is not, and
            // we have no decoder, so a non-blank JIS comment cannot be checked for names.
            if rest.iter().all(|&c| c == 0 || c == b' ') {
                String::new()
            } else {
                return Err(FormatError::Unsupported(
                    "the photo's EXIF comment is in a Japanese (JIS) encoding that cannot be checked for names; \
                     remove the comment in a photo editor or export the photo again"
                        .into(),
                ));
            }
        }
        c if c.iter().all(|&x| x == 0) => decode_8bit(rest),
        _ => decode_8bit(b),
    };
    Ok(Some(s))
}
