//! XMP (RDF/XML) reader: caption-like properties, tiff:Orientation, and whether GPS was present.
//!
//! Uses quick-xml's namespace-aware reader so that properties are matched by namespace URI, not by
//! whatever prefix the writer chose; a prefix that was never declared (seen in the wild) is matched
//! by its conventional name instead. XML that does not parse is `Corrupt`: it may hold a caption.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{Findings, FormatError};

const DC: &[u8] = b"http://purl.org/dc/elements/1.1/";
const PHOTOSHOP: &[u8] = b"http://ns.adobe.com/photoshop/1.0/";
const TIFF: &[u8] = b"http://ns.adobe.com/tiff/1.0/";
const EXIF: &[u8] = b"http://ns.adobe.com/exif/1.0/";
const IPTC_CORE: &[u8] = b"http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/";
const IPTC_EXT: &[u8] = b"http://iptc.org/std/Iptc4xmpExt/2008-02-29/";
const MWG_RS: &[u8] = b"http://www.metadataworkinggroup.com/schemas/regions/";
const MP_REG: &[u8] = b"http://ns.microsoft.com/photo/1.2/t/Region#";
const LR: &[u8] = b"http://ns.adobe.com/lightroom/1.0/";
const PDF: &[u8] = b"http://ns.adobe.com/pdf/1.3/";

/// (namespace, conventional prefix, local name, field shown to the moderator)
type Prop = (&'static [u8], &'static [u8], &'static [u8], &'static str);
const TEXT_PROPS: &[Prop] = &[
    (DC, b"dc", b"title", "XMP dc:title"),
    (DC, b"dc", b"description", "XMP dc:description"),
    (DC, b"dc", b"subject", "XMP dc:subject"),
    (
        PHOTOSHOP,
        b"photoshop",
        b"Headline",
        "XMP photoshop:Headline",
    ),
    (EXIF, b"exif", b"UserComment", "XMP exif:UserComment"),
    (
        TIFF,
        b"tiff",
        b"ImageDescription",
        "XMP tiff:ImageDescription",
    ),
    (
        IPTC_CORE,
        b"Iptc4xmpCore",
        b"ExtDescrAccessibility",
        "XMP extended description",
    ),
    (
        IPTC_CORE,
        b"Iptc4xmpCore",
        b"AltTextAccessibility",
        "XMP alt text",
    ),
    (
        IPTC_EXT,
        b"Iptc4xmpExt",
        b"PersonInImage",
        "XMP person shown",
    ),
    (MWG_RS, b"mwg-rs", b"Name", "XMP face region name"),
    (MP_REG, b"MPReg", b"PersonDisplayName", "XMP person tag"),
    (LR, b"lr", b"hierarchicalSubject", "XMP keywords"),
    (PDF, b"pdf", b"Title", "XMP pdf:Title"),
    (PDF, b"pdf", b"Keywords", "XMP pdf:Keywords"),
    (PDF, b"pdf", b"Subject", "XMP pdf:Subject"),
];

fn matches(
    ns: &ResolveResult,
    local: &[u8],
    want_ns: &[u8],
    want_prefix: &[u8],
    want_local: &[u8],
) -> bool {
    local == want_local
        && match ns {
            ResolveResult::Bound(n) => n.as_ref() == want_ns,
            ResolveResult::Unknown(p) => p.as_slice() == want_prefix,
            ResolveResult::Unbound => false,
        }
}

fn text_prop(ns: &ResolveResult, local: &[u8]) -> Option<&'static str> {
    TEXT_PROPS
        .iter()
        .find(|(n, p, l, _)| matches(ns, local, n, p, l))
        .map(|(_, _, _, field)| *field)
}

fn corrupt(why: impl std::fmt::Display) -> FormatError {
    FormatError::Corrupt(format!(
        "the XMP metadata is unreadable ({why}), so its captions cannot be checked"
    ))
}

/// Property kinds we act on besides text.
fn other_prop(ns: &ResolveResult, local: &[u8]) -> Option<Other> {
    if matches(ns, local, TIFF, b"tiff", b"Orientation") {
        Some(Other::Orientation)
    } else if matches(ns, local, EXIF, b"exif", b"GPSLatitude")
        || matches(ns, local, EXIF, b"exif", b"GPSLongitude")
    {
        Some(Other::Gps)
    } else {
        None
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Other {
    Orientation,
    Gps,
}

fn other_value(f: &mut Findings, what: Other, value: &str) {
    match what {
        Other::Orientation => {
            if let Ok(o) = value.trim().parse::<u16>() {
                if (1..=8).contains(&o) {
                    f.xmp_orientation = Some(o);
                }
            }
        }
        Other::Gps => {
            if !value.trim().is_empty() {
                f.removed("XMP GPS position");
            }
        }
    }
}

enum Capture {
    Text(&'static str),
    Other(Other),
}

/// Read an XMP packet into `f`.
pub(crate) fn read(data: &[u8], f: &mut Findings) -> Result<(), FormatError> {
    // Packets are often padded with NULs or spaces; a UTF-8 BOM may lead.
    let end = data
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    let mut data = &data[..end];
    if let Some(rest) = data.strip_prefix(b"\xEF\xBB\xBF") {
        data = rest;
    }
    if data.is_empty() {
        return Ok(());
    }
    // Some writers (old Adobe tools, exiftool's test files) store the packet as UTF-16.
    let utf16_le =
        data.starts_with(b"\xFF\xFE") || (data.len() > 1 && data[0] != 0 && data[1] == 0);
    let utf16_be =
        data.starts_with(b"\xFE\xFF") || (data.len() > 1 && data[0] == 0 && data[1] != 0);
    let converted;
    if utf16_le || utf16_be {
        let body = data
            .strip_prefix(b"\xFF\xFE")
            .or_else(|| data.strip_prefix(b"\xFE\xFF"))
            .unwrap_or(data);
        let units = body.chunks_exact(2).map(|c| {
            if utf16_le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        converted = char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|_| corrupt("bad UTF-16"))?
            .replace('\u{FEFF}', "");
        data = converted
            .trim_end_matches(['\0', ' ', '\n', '\r', '\t'])
            .as_bytes();
    }
    let mut reader = NsReader::from_reader(data);
    reader.config_mut().check_end_names = true;
    // Depth of the element that opened the capture, and the capture.
    let mut capture: Option<(usize, Capture)> = None;
    let mut depth = 0usize;
    let mut buf = String::new();
    let mut saw_element = false;
    loop {
        let (ns, ev) = reader.read_resolved_event().map_err(corrupt)?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                saw_element = true;
                let is_empty = matches!(ev, Event::Empty(_));
                let local = e.local_name();
                if capture.is_none() {
                    if let Some(field) = text_prop(&ns, local.as_ref()) {
                        capture = Some((depth, Capture::Text(field)));
                    } else if let Some(o) = other_prop(&ns, local.as_ref()) {
                        capture = Some((depth, Capture::Other(o)));
                    }
                }
                // Attribute-form properties: <rdf:Description photoshop:Headline="...">
                for attr in e.attributes().with_checks(false) {
                    let attr = attr.map_err(corrupt)?;
                    let (ans, alocal) = reader.resolve_attribute(attr.key);
                    let value = || {
                        attr.unescape_value()
                            .map(|v| v.into_owned())
                            .map_err(corrupt)
                    };
                    if let Some(field) = text_prop(&ans, alocal.as_ref()) {
                        f.text(field, &value()?);
                    } else if let Some(o) = other_prop(&ans, alocal.as_ref()) {
                        other_value(f, o, &value()?);
                    }
                }
                buf.clear();
                if is_empty {
                    if capture.as_ref().is_some_and(|(d, _)| *d == depth) {
                        capture = None;
                    }
                } else {
                    depth += 1;
                }
            }
            Event::Text(t) if capture.is_some() => buf.push_str(&t.xml_content().map_err(corrupt)?),
            Event::CData(t) if capture.is_some() => buf.push_str(&t.decode().map_err(corrupt)?),
            Event::GeneralRef(r) if capture.is_some() => {
                if let Some(c) = r.resolve_char_ref().map_err(corrupt)? {
                    buf.push(c);
                } else {
                    let name = r.decode().map_err(corrupt)?;
                    let c = match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(corrupt(format!("unknown entity &{other};"))),
                    };
                    buf.push(c);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                // Each leaf (an rdf:li, or the property itself) is one item.
                match &capture {
                    Some((_, Capture::Text(field))) => f.text(*field, &buf),
                    Some((_, Capture::Other(o))) => other_value(f, *o, &buf),
                    None => {}
                }
                buf.clear();
                if capture.as_ref().is_some_and(|(d, _)| *d == depth) {
                    capture = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(corrupt("it is cut off"));
    }
    if !saw_element {
        return Err(corrupt("it holds no XML"));
    }
    Ok(())
}
