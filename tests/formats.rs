//! formats: metadata is stripped losslessly, captions and device are collected, and anything
//! that cannot be verified fails closed. Every input is generated here; no corpus needed.

use std::io::Cursor;
use std::time::{Duration, Instant};

use consentgate::formats::{clean, detect, Cleaned, Format, FormatError, Limits};
use image::{DynamicImage, ImageDecoder, ImageEncoder, RgbImage};

// ---------------------------------------------------------------- builders

/// A photo-like RGB picture (gradients + texture) so JPEG has real entropy-coded data.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(7919) ^ y.wrapping_mul(104729)) % 31;
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 200) as u8 + n as u8,
        ])
    })
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(picture(w, h).as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// Insert segments right after SOI (and after the encoder's JFIF APP0, if any).
fn insert_segments(jpeg: &[u8], segs: &[Vec<u8>]) -> Vec<u8> {
    let mut at = 2;
    if jpeg[2..4] == [0xFF, 0xE0] {
        at = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    }
    let mut out = jpeg[..at].to_vec();
    for s in segs {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[at..]);
    out
}

/// One IFD entry: tag, type, count, value bytes (little-endian).
#[derive(Clone)]
struct E(u16, u16, u32, Vec<u8>);

fn ascii(tag: u16, s: &str) -> E {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    E(tag, 2, v.len() as u32, v)
}
fn short(tag: u16, v: u16) -> E {
    E(tag, 3, 1, v.to_le_bytes().to_vec())
}
fn long(tag: u16, v: u32) -> E {
    E(tag, 4, 1, v.to_le_bytes().to_vec())
}
fn undefined(tag: u16, v: &[u8]) -> E {
    E(tag, 7, v.len() as u32, v.to_vec())
}
fn utf16(tag: u16, s: &str) -> E {
    let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    v.extend_from_slice(&[0, 0]);
    E(tag, 1, v.len() as u32, v)
}
fn rationals(tag: u16, r: &[(u32, u32)]) -> E {
    let v = r
        .iter()
        .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
        .collect();
    E(tag, 5, r.len() as u32, v)
}

/// A little-endian TIFF structure: `prefix` at offset 8 (pixel data), then IFD0, the Exif IFD and
/// the GPS IFD (pointers added automatically when non-empty), then the out-of-line values.
fn tiff(prefix: &[u8], mut ifd0: Vec<E>, exif: Vec<E>, gps: Vec<E>) -> Vec<u8> {
    let ifd_size = |n: usize| 2 + 12 * n + 4;
    let p = 8 + prefix.len() + prefix.len() % 2;
    let n0 = ifd0.len() + usize::from(!exif.is_empty()) + usize::from(!gps.is_empty());
    let exif_at = p + ifd_size(n0);
    let gps_at = exif_at
        + if exif.is_empty() {
            0
        } else {
            ifd_size(exif.len())
        };
    let data_at = gps_at
        + if gps.is_empty() {
            0
        } else {
            ifd_size(gps.len())
        };
    if !exif.is_empty() {
        ifd0.push(long(0x8769, exif_at as u32));
    }
    if !gps.is_empty() {
        ifd0.push(long(0x8825, gps_at as u32));
    }
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&(p as u32).to_le_bytes());
    out.extend_from_slice(prefix);
    out.resize(p, 0);
    let mut data = Vec::new();
    for ifd in [&ifd0, &exif, &gps] {
        if ifd.is_empty() {
            continue;
        }
        let mut ifd = ifd.clone();
        ifd.sort_by_key(|e| e.0);
        out.extend_from_slice(&(ifd.len() as u16).to_le_bytes());
        for E(tag, typ, count, v) in &ifd {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if v.len() <= 4 {
                let mut inline = v.clone();
                inline.resize(4, 0);
                out.extend_from_slice(&inline);
            } else {
                out.extend_from_slice(&((data_at + data.len()) as u32).to_le_bytes());
                data.extend_from_slice(v);
                if data.len() % 2 == 1 {
                    data.push(0);
                }
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    assert_eq!(out.len(), data_at);
    out.extend_from_slice(&data);
    out
}

// Values that must never come out the other side.
const MAKE: &str = "SnoopCam";
const MODEL: &str = "Spy 3000";
const SERIAL: &str = "SN-98765-XYZ";
const LAT: u32 = 51_234_567; // GPS latitude numerator, searched for as bytes
const DESCRIPTION: &str = "Anna Example at sports day";
const USER_COMMENT: &str = "Ben Sample wins the race";
const XP_COMMENT: &str = "Clara Muster on stage";
const XMP_DESCRIPTION: &str = "Dora Demo and friends";
const IPTC_CAPTION: &str = "Emil Beispiel in class 3b";
const COMMENT: &str = "COMMENT-SECRET Fred";

/// EXIF TIFF with GPS, make/model/serial, captions and the given orientation.
fn exif_tiff(orientation: u16) -> Vec<u8> {
    let mut user_comment = b"UNICODE\0".to_vec();
    user_comment.extend(USER_COMMENT.encode_utf16().flat_map(u16::to_le_bytes));
    tiff(
        &[],
        vec![
            ascii(0x010E, DESCRIPTION),
            ascii(0x010F, MAKE),
            ascii(0x0110, MODEL),
            short(0x0112, orientation),
            ascii(0x013B, "Photographer Person"),
            utf16(0x9C9C, XP_COMMENT),
            utf16(0x9C9E, "sports;day"),
        ],
        vec![
            undefined(0x9286, &user_comment),
            ascii(0xA431, SERIAL),
            undefined(0x927C, b"MAKERNOTE-SECRET"),
        ],
        vec![
            ascii(0x0001, "N"),
            rationals(0x0002, &[(LAT, 1_000_000), (0, 1), (0, 1)]),
            ascii(0x0003, "E"),
        ],
    )
}

fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    let mut p = b"Exif\0\0".to_vec();
    p.extend_from_slice(tiff);
    segment(0xE1, &p)
}

fn xmp_packet() -> String {
    format!(
        r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
  xmlns:ph="http://ns.adobe.com/photoshop/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/"
  ph:Headline="XMP headline Gustav &amp; co" exif:GPSLatitude="51,14.07N">
 <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{XMP_DESCRIPTION}</rdf:li></rdf:Alt></dc:description>
 <dc:subject><rdf:Bag><rdf:li>xmp-kw-one</rdf:li><rdf:li>xmp-kw-two</rdf:li></rdf:Bag></dc:subject>
 <dc:creator><rdf:Seq><rdf:li>XMP-CREATOR-SECRET</rdf:li></rdf:Seq></dc:creator>
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"#
    )
}

fn xmp_app1(packet: &str) -> Vec<u8> {
    let mut p = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    p.extend_from_slice(packet.as_bytes());
    segment(0xE1, &p)
}

fn iim(datasets: &[(u8, u8, &str)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (r, d, s) in datasets {
        v.extend_from_slice(&[0x1C, *r, *d]);
        v.extend_from_slice(&(s.len() as u16).to_be_bytes());
        v.extend_from_slice(s.as_bytes());
    }
    v
}

fn photoshop_app13(iim: &[u8]) -> Vec<u8> {
    let mut p = b"Photoshop 3.0\08BIM\x04\x04\0\0".to_vec();
    p.extend_from_slice(&(iim.len() as u32).to_be_bytes());
    p.extend_from_slice(iim);
    if iim.len() % 2 == 1 {
        p.push(0);
    }
    segment(0xED, &p)
}

/// A fake ICC profile: decoders hand it through untouched, which is all we check.
fn icc_profile() -> Vec<u8> {
    let mut v = b"\0\0\x02\x00ICC-TEST-PROFILE-BYTES".to_vec();
    v.extend((0..500u32).map(|i| (i * 37 % 251) as u8));
    v
}

fn icc_app2(icc: &[u8]) -> Vec<u8> {
    let mut p = b"ICC_PROFILE\0\x01\x01".to_vec();
    p.extend_from_slice(icc);
    segment(0xE2, &p)
}

fn mpf_app2(images: u32) -> Vec<u8> {
    let t = tiff(
        &[],
        vec![undefined(0xB000, b"0100"), long(0xB001, images)],
        vec![],
        vec![],
    );
    let mut p = b"MPF\0".to_vec();
    p.extend_from_slice(&t);
    segment(0xE2, &p)
}

/// A JPEG carrying every kind of metadata we strip, an MPO-style second frame after EOI and a
/// phone trailer.
fn loaded_jpeg(orientation: u16) -> Vec<u8> {
    let mut jfif_with_thumb = b"JFIF\0\x01\x02\x01\0\x48\0\x48\x01\x01".to_vec();
    jfif_with_thumb.extend_from_slice(b"THM"); // 1×1 RGB thumbnail
    let base = jpeg(64, 48);
    // Replace the encoder's JFIF with one carrying a thumbnail.
    let jfif_len = 2 + u16::from_be_bytes([base[4], base[5]]) as usize;
    let mut body = vec![0xFF, 0xD8];
    body.extend(segment(0xE0, &jfif_with_thumb));
    body.extend_from_slice(&base[2 + jfif_len..]);
    let mut app11 = b"JP\0\x01APP11-SECRET-GAINMAP".to_vec();
    app11.extend_from_slice(&[0; 8]);
    let mut gain_map = jpeg(16, 16);
    gain_map = insert_segments(&gain_map, &[segment(0xFE, b"TRAILER-SECRET second frame")]);
    let mut out = insert_segments(
        &body,
        &[
            exif_app1(&exif_tiff(orientation)),
            xmp_app1(&xmp_packet()),
            icc_app2(&icc_profile()),
            mpf_app2(2),
            photoshop_app13(&iim(&[
                (1, 90, "\x1b%G"),
                (2, 5, "IPTC object name"),
                (2, 25, "iptc-kw"),
                (2, 80, "IPTC-BYLINE-SECRET"),
                (2, 120, IPTC_CAPTION),
            ])),
            segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"),
            segment(0xEB, &app11),
            segment(0xFE, COMMENT.as_bytes()),
        ],
    );
    out.extend_from_slice(&gain_map);
    out.extend_from_slice(b"SAMSUNG-TRAILER-SECRET");
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Everything that must be gone from a cleaned file.
fn assert_no_secrets(out: &[u8]) {
    let mut needles: Vec<Vec<u8>> = [
        MAKE,
        MODEL,
        SERIAL,
        DESCRIPTION,
        USER_COMMENT,
        XMP_DESCRIPTION,
        IPTC_CAPTION,
        COMMENT,
        "MAKERNOTE-SECRET",
        "XMP-CREATOR-SECRET",
        "IPTC-BYLINE-SECRET",
        "APP11-SECRET",
        "TRAILER-SECRET",
        "Photographer Person",
        "http://ns.adobe.com",
        "Photoshop 3.0",
        "8BIM",
        "MPF\0",
        "THM",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    needles.push(utf16le(USER_COMMENT));
    needles.push(utf16le(XP_COMMENT));
    needles.push(LAT.to_le_bytes().to_vec());
    needles.push(LAT.to_be_bytes().to_vec());
    for n in &needles {
        assert!(
            !contains(out, n),
            "cleaned output still contains {:?}",
            String::from_utf8_lossy(n)
        );
    }
}

fn has_text(c: &Cleaned, field: &str, text: &str) -> bool {
    c.embedded_text
        .iter()
        .any(|t| t.field == field && t.text == text)
}

fn decode(bytes: &[u8]) -> (DynamicImage, Option<Vec<u8>>) {
    let mut dec = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    let icc = dec.icc_profile().unwrap();
    (DynamicImage::from_decoder(dec).unwrap(), icc)
}

/// EXIF fields of a cleaned JPEG, read by kamadak-exif (an independent reader).
fn exif_fields(jpeg: &[u8]) -> Vec<(exif::Tag, String)> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(jpeg)) {
        Ok(e) => e
            .fields()
            .map(|f| (f.tag, f.display_value().to_string()))
            .collect(),
        Err(exif::Error::NotFound(_)) => Vec::new(),
        Err(e) => panic!("cleaned JPEG has unreadable EXIF: {e}"),
    }
}

fn quick<T>(f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t.elapsed()
    );
    r
}

fn expect_corrupt(bytes: &[u8]) -> String {
    match quick(|| clean(bytes, &Limits::default())) {
        Err(FormatError::Corrupt(m)) => m,
        other => panic!("expected Corrupt, got {:?}", other.map(|c| c.removed)),
    }
}

// ---------------------------------------------------------------- detect

#[test]
fn detect_uses_magic_bytes_only() {
    assert_eq!(detect(&jpeg(8, 8)), Format::Jpeg);
    assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"), Format::Png);
    assert_eq!(detect(b"RIFF\x10\0\0\0WEBPVP8L"), Format::Webp);
    assert_eq!(detect(b"RIFF\x10\0\0\0AVI LIST"), Format::Unknown);
    assert_eq!(detect(b"II*\0\x08\0\0\0"), Format::Tiff);
    assert_eq!(detect(b"MM\0*\0\0\0\x08"), Format::Tiff);
    assert_eq!(detect(b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0"), Format::Tiff);
    assert_eq!(detect(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), Format::Heic);
    assert_eq!(detect(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heix"), Format::Heic);
    assert_eq!(
        detect(b"\0\0\0\x1cftypisom\0\0\0\0isommsf1hevc"),
        Format::Heic
    );
    assert_eq!(
        detect(b"\0\0\0\x18ftypisom\0\0\0\0isomiso2"),
        Format::Unknown,
        "an MP4 video is not HEIC"
    );
    assert_eq!(
        detect(b"\0\0\0\x18ftypavif\0\0\0\0mif1avif"),
        Format::Unknown
    );
    assert_eq!(detect(b"GIF89a"), Format::Unknown);
    assert_eq!(detect(b"hello, this is a .jpg"), Format::Unknown);
    assert_eq!(detect(b""), Format::Unknown);
    assert_eq!(detect(&[0xFF, 0xD8]), Format::Unknown);
}

// ---------------------------------------------------------------- JPEG

#[test]
fn jpeg_strips_every_identifying_item_and_keeps_the_picture() {
    let input = loaded_jpeg(6);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!(c.format, Format::Jpeg);
    assert_eq!(c.extension, "jpg");
    assert_no_secrets(&c.bytes);

    // Captions for the caption stage, with fields a moderator understands.
    for (field, text) in [
        ("EXIF ImageDescription", DESCRIPTION),
        ("EXIF UserComment", USER_COMMENT),
        ("EXIF XPComment", XP_COMMENT),
        ("EXIF XPKeywords", "sports;day"),
        ("XMP dc:description", XMP_DESCRIPTION),
        ("XMP dc:subject", "xmp-kw-one"),
        ("XMP dc:subject", "xmp-kw-two"),
        ("XMP photoshop:Headline", "XMP headline Gustav & co"),
        ("IPTC Caption-Abstract", IPTC_CAPTION),
        ("IPTC ObjectName", "IPTC object name"),
        ("IPTC Keywords", "iptc-kw"),
        ("JPEG comment", COMMENT),
    ] {
        assert!(
            has_text(&c, field, text),
            "missing {field}: {text}; got {:#?}",
            c.embedded_text
        );
    }
    assert!(
        !c.embedded_text
            .iter()
            .any(|t| t.text.contains("Photographer")),
        "Artist is not a caption"
    );
    assert!(
        !c.embedded_text
            .iter()
            .any(|t| t.text.contains("XMP-CREATOR")),
        "dc:creator is not a caption"
    );

    assert_eq!(c.device.make.as_deref(), Some(MAKE));
    assert_eq!(c.device.model.as_deref(), Some(MODEL));
    assert_eq!(c.device.serial.as_deref(), Some(SERIAL));
    for item in [
        "EXIF GPS position",
        "EXIF camera serial number",
        "EXIF MakerNotes",
        "EXIF artist name",
        "embedded thumbnail",
        "XMP",
        "XMP GPS position",
        "IPTC",
        "JPEG comment",
        "1 trailing image (MPO)",
    ] {
        assert!(
            c.removed.iter().any(|r| r == item),
            "removed lacks {item:?}: {:?}",
            c.removed
        );
    }
    assert!(
        c.removed
            .iter()
            .any(|r| r.starts_with("data after end of image (")),
        "{:?}",
        c.removed
    );

    // ICC profile and Adobe segment kept; ends at EOI.
    assert!(contains(&c.bytes, &icc_app2(&icc_profile())));
    assert!(contains(
        &c.bytes,
        &segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01")
    ));
    assert!(c.bytes.ends_with(&[0xFF, 0xD9]));

    // Orientation kept as a minimal EXIF: Orientation and nothing else.
    assert_eq!(
        exif_fields(&c.bytes),
        vec![(
            exif::Tag::Orientation,
            "row 0 at right and column 0 at top".to_string()
        )]
    );
    assert_eq!((c.width, c.height), (48, 64), "size as displayed (rotated)");

    // Lossless: same decoded pixels, same ICC.
    let (a, _) = decode(&input);
    let (b, icc) = decode(&c.bytes);
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_eq!(icc, Some(icc_profile()));
}

#[test]
fn jpeg_with_upright_orientation_gets_no_exif_at_all() {
    let input = loaded_jpeg(1);
    let c = clean(&input, &Limits::default()).unwrap();
    assert!(!contains(&c.bytes, b"Exif\0\0"));
    assert!(exif_fields(&c.bytes).is_empty());
    assert_eq!((c.width, c.height), (64, 48));
    // The JFIF segment is kept minimal: 16 bytes, no thumbnail.
    assert_eq!(&c.bytes[2..6], &[0xFF, 0xE0, 0, 16]);
    assert_eq!(&c.bytes[6..11], b"JFIF\0");
}

#[test]
fn jpeg_without_metadata_is_returned_unchanged_apart_from_trailer() {
    let input = jpeg(32, 32);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!(
        c.bytes, input,
        "a clean JPEG from our encoder is byte-identical"
    );
    assert!(c.removed.is_empty() && c.embedded_text.is_empty() && c.device == Default::default());
}

#[test]
fn jpeg_user_comment_charsets_and_xp_fields() {
    let mut ascii_uc = b"ASCII\0\0\0".to_vec();
    ascii_uc.extend_from_slice(b"  plain ascii comment  ");
    let t = tiff(
        &[],
        vec![
            utf16(0x9C9B, "xp title"),
            utf16(0x9C9F, "xp subject"),
            ascii(0x010E, "   "),
        ],
        vec![undefined(0x9286, &ascii_uc)],
        vec![],
    );
    let c = clean(
        &insert_segments(&jpeg(16, 16), &[exif_app1(&t)]),
        &Limits::default(),
    )
    .unwrap();
    assert!(
        has_text(&c, "EXIF UserComment", "plain ascii comment"),
        "{:?}",
        c.embedded_text
    );
    assert!(has_text(&c, "EXIF XPTitle", "xp title"));
    assert!(has_text(&c, "EXIF XPSubject", "xp subject"));
    assert_eq!(
        c.embedded_text.len(),
        3,
        "blank ImageDescription is not text: {:?}",
        c.embedded_text
    );

    // JIS X 0208 is 7-bit two-byte text we cannot decode: a non-blank JIS comment is held,
    // a blank one (what most cameras write) is fine.
    for (content, held) in [
        (&b"\x30\x21\x30\x22"[..], true),
        (&b"\0\0\0\0    "[..], false),
    ] {
        let mut jis = b"JIS\0\0\0\0\0".to_vec();
        jis.extend_from_slice(content);
        let t = tiff(&[], vec![], vec![undefined(0x9286, &jis)], vec![]);
        let r = clean(
            &insert_segments(&jpeg(16, 16), &[exif_app1(&t)]),
            &Limits::default(),
        );
        assert_eq!(
            matches!(r, Err(FormatError::Unsupported(_))),
            held,
            "{:?}",
            r.map(|c| c.embedded_text)
        );
    }

    // The same caption in EXIF and IPTC is reported once (first field wins).
    let t = tiff(&[], vec![ascii(0x010E, "Same caption")], vec![], vec![]);
    let input = insert_segments(
        &jpeg(16, 16),
        &[
            exif_app1(&t),
            photoshop_app13(&iim(&[(2, 120, "Same caption ")])),
        ],
    );
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!(
        c.embedded_text
            .iter()
            .filter(|t| t.text == "Same caption")
            .count(),
        1
    );
}

#[test]
fn jpeg_multi_segment_exif_and_extended_xmp_are_read() {
    // EXIF continued in a second APP1 (exiftool calls it multi-segment EXIF).
    let t = tiff(
        &[],
        vec![ascii(0x010E, "split across two segments")],
        vec![],
        vec![],
    );
    let (a, b) = t.split_at(20);
    let mut p1 = b"Exif\0\0".to_vec();
    p1.extend_from_slice(a);
    let mut p2 = b"Exif\0\0".to_vec();
    p2.extend_from_slice(b);
    let input = insert_segments(&jpeg(16, 16), &[segment(0xE1, &p1), segment(0xE1, &p2)]);
    let c = clean(&input, &Limits::default()).unwrap();
    assert!(
        has_text(&c, "EXIF ImageDescription", "split across two segments"),
        "{:?}",
        c.embedded_text
    );

    // ExtendedXMP: the description lives in the extension, split into two chunks.
    let ext = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li>Extended title Ida</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>"#;
    let guid = b"0123456789ABCDEF0123456789ABCDEF";
    let chunk = |off: usize, part: &[u8]| {
        let mut p = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
        p.extend_from_slice(guid);
        p.extend_from_slice(&(ext.len() as u32).to_be_bytes());
        p.extend_from_slice(&(off as u32).to_be_bytes());
        p.extend_from_slice(part);
        segment(0xE1, &p)
    };
    let (x, y) = ext.as_bytes().split_at(100);
    let input = insert_segments(&jpeg(16, 16), &[chunk(100, y), chunk(0, x)]);
    let c = clean(&input, &Limits::default()).unwrap();
    assert!(
        has_text(&c, "XMP dc:title", "Extended title Ida"),
        "{:?}",
        c.embedded_text
    );
    assert!(!contains(&c.bytes, b"Extended title"));
    // A missing chunk means the caption cannot be checked.
    let input = insert_segments(&jpeg(16, 16), &[chunk(100, y)]);
    expect_corrupt(&input);
}

#[test]
fn jpeg_fail_closed_cases() {
    let good = jpeg(64, 48);
    // Truncated in the middle of the entropy-coded data.
    let m = expect_corrupt(&good[..good.len() / 2]);
    assert!(m.contains("cut off"), "{m}");
    // No EOI.
    expect_corrupt(&good[..good.len() - 2]);
    // No SOS: headers then EOI.
    let sos = good.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let mut no_sos = good[..sos].to_vec();
    no_sos.extend_from_slice(&[0xFF, 0xD9]);
    let m = expect_corrupt(&no_sos);
    assert!(m.contains("no image data"), "{m}");
    // A segment length running past the end.
    let mut bad_len = good[..20].to_vec();
    bad_len.extend_from_slice(&[0xFF, 0xE1, 0xFF, 0xF0, b'E']);
    expect_corrupt(&bad_len);
    // Only SOI.
    expect_corrupt(&[0xFF, 0xD8, 0xFF]);
    // Text smuggled in a marker we would otherwise have to copy: an undefined marker, or a
    // quantisation table with bytes beyond its syntax.
    let m = expect_corrupt(&insert_segments(&good, &[segment(0x6D, b"Anna Example")]));
    assert!(m.contains("unknown marker"), "{m}");
    let mut dqt = vec![0u8; 65];
    dqt.extend_from_slice(b"Anna Example");
    let m = expect_corrupt(&insert_segments(&good, &[segment(0xDB, &dqt)]));
    assert!(m.contains("quantisation table"), "{m}");
}

#[test]
fn text_named_jpg_is_corrupt_and_other_formats_unsupported() {
    // A text file (an HTML error page saved as photo.jpg, a note) or an empty file: damaged copy.
    for bytes in [
        &b"Dear parents, the photos from sports day are attached."[..],
        b"<html><body>404</body></html>",
        b"",
    ] {
        let m = expect_corrupt(bytes);
        assert!(m.contains("text") || m.contains("empty"), "{m}");
    }
    // Another picture format: convert it.
    for bytes in [
        &b"GIF89a\x01\0\x01\0\x80\0\0"[..],
        &[0u8, 1, 2, 3, 0xFF, 0x00][..],
        b"BM\x8a\0\0\0\0\0",
    ] {
        match quick(|| clean(bytes, &Limits::default())) {
            Err(FormatError::Unsupported(m)) => {
                assert!(m.contains("no picture format we know"), "{m}")
            }
            other => panic!("expected Unsupported, got {:?}", other.map(|c| c.format)),
        }
    }
}

#[test]
fn a_heic_that_is_only_a_header_is_damaged() {
    // HEIC is cleaned now (tests/heic.rs); one that stops after its headers must be held.
    let e = clean(
        b"\0\0\0\x18ftypheic\0\0\0\0mif1heic\0\0\0\0meta",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, FormatError::Corrupt(_)), "{e}");
    assert!(e.to_string().contains("cut off"), "{e}");
}

#[test]
fn damaged_metadata_that_may_hold_a_caption_is_corrupt() {
    // ImageDescription pointing past the end of the EXIF block.
    let mut t = tiff(
        &[],
        vec![ascii(0x010E, "a caption that is long enough")],
        vec![],
        vec![],
    );
    let off_at = 8 + 2 + 8; // first entry's value offset
    t[off_at..off_at + 4].copy_from_slice(&5000u32.to_le_bytes());
    let m = expect_corrupt(&insert_segments(&jpeg(16, 16), &[exif_app1(&t)]));
    assert!(m.contains("ImageDescription"), "{m}");

    // Exif sub-IFD (where UserComment lives) pointing nowhere.
    let t = tiff(&[], vec![long(0x8769, 9000)], vec![], vec![]);
    expect_corrupt(&insert_segments(&jpeg(16, 16), &[exif_app1(&t)]));

    // EXIF with a broken header.
    expect_corrupt(&insert_segments(
        &jpeg(16, 16),
        &[exif_app1(b"XX*\0\x08\0\0\0")],
    ));

    // XMP that is not well-formed XML.
    expect_corrupt(&insert_segments(
        &jpeg(16, 16),
        &[xmp_app1("<x:xmpmeta><rdf:RDF><dc:description>oops")],
    ));

    // IPTC cut off in the middle of the caption.
    let mut cut = iim(&[(2, 120, "a long caption about a child")]);
    cut.truncate(12);
    expect_corrupt(&insert_segments(&jpeg(16, 16), &[photoshop_app13(&cut)]));
}

#[test]
fn benign_metadata_oddities_still_clean() {
    // GPS pointer into nowhere, a thumbnail IFD pointer into nowhere, an empty UserComment:
    // nothing there can hold a caption, and all of it is dropped.
    let mut t = tiff(
        &[],
        vec![ascii(0x010F, MAKE), long(0x8825, 60_000)],
        vec![undefined(0x9286, &[0; 16])],
        vec![],
    );
    let next_ifd_at = 8 + 2 + 12 * 3;
    t[next_ifd_at..next_ifd_at + 4].copy_from_slice(&70_000u32.to_le_bytes());
    // XMP padded with NULs and whitespace, as writers leave room to edit in place.
    let mut padded = xmp_packet();
    padded.push_str(&" ".repeat(200));
    let mut xmp = xmp_app1(&padded);
    let l = u16::from_be_bytes([xmp[2], xmp[3]]) + 10;
    xmp[2..4].copy_from_slice(&l.to_be_bytes());
    xmp.extend_from_slice(&[0; 10]);
    let input = insert_segments(&jpeg(16, 16), &[exif_app1(&t), xmp]);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!(c.device.make.as_deref(), Some(MAKE));
    assert!(has_text(&c, "XMP dc:description", XMP_DESCRIPTION));
    assert_no_secrets(&c.bytes);
}

#[test]
fn jpeg_bomb_is_too_large_before_anything_is_decoded() {
    let mut input = jpeg(16, 16);
    let sof = input.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    input[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    input[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    match quick(|| clean(&input, &Limits::default())) {
        Err(FormatError::TooLarge {
            width: 60_000,
            height: 60_000,
            ..
        }) => {}
        other => panic!("expected TooLarge, got {:?}", other.map(|c| c.width)),
    }
}

// ---------------------------------------------------------------- PNG

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    out.extend_from_slice(&h.finalize().to_be_bytes());
    out
}

fn png(w: u32, h: u32, icc: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new(&mut out);
    if icc {
        enc.set_icc_profile(icc_profile()).unwrap();
    }
    enc.write_image(picture(w, h).as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// Insert chunks after IHDR.
fn insert_chunks(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let at = 8 + 25;
    let mut out = png[..at].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[at..]);
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

fn loaded_png(orientation: u16) -> Vec<u8> {
    let mut ztxt = b"Comment\0\0".to_vec();
    ztxt.extend(zlib(COMMENT.as_bytes()));
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(xmp_packet().as_bytes());
    let mut out = insert_chunks(
        &png(40, 30, true),
        &[
            png_chunk(b"gAMA", &45455u32.to_be_bytes()),
            png_chunk(b"tEXt", format!("Description\0{DESCRIPTION}").as_bytes()),
            png_chunk(b"zTXt", &ztxt),
            png_chunk(b"iTXt", &itxt),
            png_chunk(b"eXIf", &exif_tiff(orientation)),
            png_chunk(b"tIME", &[7, 234, 1, 2, 3, 4, 5]),
            png_chunk(b"prIv", b"APP11-SECRET private chunk"),
        ],
    );
    out.extend_from_slice(b"TRAILER-SECRET after IEND");
    out
}

#[test]
fn png_strips_text_exif_and_trailer_losslessly() {
    let input = loaded_png(1);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!((c.format, c.extension), (Format::Png, "png"));
    assert_no_secrets(&c.bytes);
    assert!(
        !contains(&c.bytes, b"tEXt")
            && !contains(&c.bytes, b"eXIf")
            && !contains(&c.bytes, b"tIME")
    );
    assert!(
        has_text(&c, "PNG text 'Description'", DESCRIPTION),
        "{:?}",
        c.embedded_text
    );
    assert!(has_text(&c, "PNG text 'Comment'", COMMENT));
    assert!(has_text(&c, "XMP dc:description", XMP_DESCRIPTION));
    assert!(has_text(&c, "EXIF UserComment", USER_COMMENT));
    assert_eq!(c.device.serial.as_deref(), Some(SERIAL));
    assert!(c.removed.iter().any(|r| r == "EXIF GPS position"));
    assert!(c
        .removed
        .iter()
        .any(|r| r.starts_with("data after end of image")));
    assert!(contains(
        &c.bytes,
        &png_chunk(b"gAMA", &45455u32.to_be_bytes())
    ));
    let (a, _) = decode(&input);
    let (b, icc) = decode(&c.bytes);
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_eq!(icc, Some(icc_profile()));
}

#[test]
fn png_with_orientation_is_turned_upright_keeping_icc_and_gamma() {
    let input = loaded_png(6);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_no_secrets(&c.bytes);
    assert_eq!((c.width, c.height), (30, 40));
    let (mut a, _) = decode(&input);
    a.apply_orientation(image::metadata::Orientation::Rotate90);
    let (b, icc) = decode(&c.bytes);
    assert_eq!((b.width(), b.height()), (30, 40));
    assert_eq!(
        a.to_rgb8().as_raw(),
        b.to_rgb8().as_raw(),
        "pixels turned, not changed"
    );
    assert_eq!(icc, Some(icc_profile()));
    assert!(contains(
        &c.bytes,
        &png_chunk(b"gAMA", &45455u32.to_be_bytes())
    ));
    assert!(!contains(&c.bytes, b"eXIf"));
}

#[test]
fn png_fail_closed_cases() {
    let good = png(20, 20, false);
    // Truncated.
    expect_corrupt(&good[..good.len() - 30]);
    // No IEND.
    expect_corrupt(&good[..good.len() - 12]);
    // Bad CRC in IDAT.
    let mut bad = good.clone();
    let idat = bad.windows(4).position(|w| w == b"IDAT").unwrap();
    bad[idat + 6] ^= 0x55;
    let m = expect_corrupt(&bad);
    assert!(m.contains("checksum"), "{m}");
    // Bad CRC in a text chunk we would drop anyway: still damage, still held.
    let mut t = png_chunk(b"tEXt", b"Title\0x");
    let n = t.len();
    t[n - 1] ^= 1;
    expect_corrupt(&insert_chunks(&good, &[t]));
    // A rendering chunk we copy, carrying more bytes than its syntax allows.
    expect_corrupt(&insert_chunks(
        &good,
        &[png_chunk(b"gAMA", b"\0\0\xb1\x8fAnna Example")],
    ));
    // Compressed text that does not inflate.
    expect_corrupt(&insert_chunks(
        &good,
        &[png_chunk(b"zTXt", b"Comment\0\0not zlib at all")],
    ));
}

#[test]
fn png_bomb_is_too_large_quickly() {
    // A tiny file declaring 50000×50000 pixels.
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    bomb.extend(png_chunk(b"IHDR", &ihdr));
    bomb.extend(png_chunk(b"IDAT", &zlib(&[0; 1000])));
    bomb.extend(png_chunk(b"IEND", b""));
    assert!(bomb.len() < 200);
    match quick(|| clean(&bomb, &Limits::default())) {
        Err(FormatError::TooLarge {
            width: 50_000,
            height: 50_000,
            limit: 100,
        }) => {}
        other => panic!("expected TooLarge, got {:?}", other.map(|c| c.width)),
    }
    // Within the dimension limit but over the pixel limit.
    let small = Limits {
        max_pixels: 100,
        ..Limits::default()
    };
    assert!(matches!(
        clean(&png(20, 20, false), &small),
        Err(FormatError::TooLarge { .. })
    ));
}

/// A zlib stream that unpacks to `mib` MiB of zeros, about 1 KB per MiB: one sync-flushed
/// (byte-aligned) deflate segment for 1 MiB, repeated, then an empty final block and the
/// Adler-32 of n zeros (a = 1, b = n mod 65521). Builds a 3 GiB bomb in milliseconds.
fn zeros_zlib(mib: usize) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
    };
    let mut d = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut seg = vec![0u8; 64 << 10];
    let (status, used, n) = compress(&mut d, &vec![0u8; 1 << 20], &mut seg, TDEFLFlush::Sync);
    assert_eq!((status, used), (TDEFLStatus::Okay, 1 << 20));
    seg.truncate(n);
    assert!(
        seg.ends_with(&[0, 0, 0xFF, 0xFF]),
        "sync flush is byte-aligned"
    );
    let mut out = vec![0x78, 0x01];
    for _ in 0..mib {
        out.extend_from_slice(&seg);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    let total = (mib as u64) << 20;
    out.extend_from_slice(&((((total % 65521) as u32) << 16) | 1).to_be_bytes());
    out
}

/// A real PNG whose iCCP chunk holds a zlib stream unpacking to `mib` MiB.
fn png_with_icc_stream(mib: usize) -> Vec<u8> {
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend(zeros_zlib(mib));
    insert_chunks(&png(20, 20, false), &[png_chunk(b"iCCP", &iccp)])
}

#[test]
fn zeros_zlib_builds_a_sound_stream() {
    let z = zeros_zlib(3);
    let out = miniz_oxide::inflate::decompress_to_vec_zlib(&z).unwrap();
    assert_eq!(out.len(), 3 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

#[test]
fn png_colour_profile_bomb_is_held_not_copied() {
    // 3 GiB of colour profile in a ~3 MB file (issue 9: it used to be released, bomb inside).
    let bomb = png_with_icc_stream(3 << 10);
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let m = expect_corrupt(&bomb);
    assert!(
        m.contains("colour profile") && m.contains("decompression bomb"),
        "{m}"
    );
    // Also when the picture is turned upright (the re-encoding path).
    let mut exif = png_chunk(b"eXIf", &exif_tiff(6));
    let turned = insert_chunks(&bomb, std::slice::from_mut(&mut exif));
    let m = expect_corrupt(&turned);
    assert!(m.contains("decompression bomb"), "{m}");
    // A damaged profile stream is held too (it would be copied out unchecked).
    let mut broken = b"broken\0\0".to_vec();
    broken.extend_from_slice(b"not zlib at all");
    let m = expect_corrupt(&insert_chunks(
        &png(20, 20, false),
        &[png_chunk(b"iCCP", &broken)],
    ));
    assert!(m.contains("colour profile"), "{m}");
    // A large but plausible profile (4 MiB) is kept, byte for byte.
    let big = png_with_icc_stream(4);
    let c = clean(&big, &Limits::default()).unwrap();
    let (_, icc) = decode(&c.bytes);
    assert_eq!(icc.map(|p| p.len()), Some(4 << 20));
}

#[test]
fn png_compressed_chunks_cannot_add_up_to_a_bomb() {
    // Each chunk is under the per-chunk limit; together they are over the file's budget.
    let mut chunks = Vec::new();
    for i in 0..3 {
        let mut z = format!("profile{i}\0\0").into_bytes();
        z.extend(zeros_zlib(15));
        chunks.push(png_chunk(b"iCCP", &z));
    }
    let m = expect_corrupt(&insert_chunks(&png(20, 20, false), &chunks));
    assert!(
        m.contains("in all") && m.contains("decompression bomb"),
        "{m}"
    );
    // One text chunk over its own limit.
    let mut z = b"Comment\0\0".to_vec();
    z.extend(zeros_zlib(64));
    let m = expect_corrupt(&insert_chunks(
        &png(20, 20, false),
        &[png_chunk(b"zTXt", &z)],
    ));
    assert!(
        m.contains("compressed text") && m.contains("decompression bomb"),
        "{m}"
    );
}

/// Peak memory of cleaning a 3 GiB colour-profile bomb, measured in a child process (this test
/// binary re-run on this test alone) so other tests' allocations do not count.
#[test]
fn png_colour_profile_bomb_costs_little_memory() {
    const CHILD: &str = "CONSENTGATE_BOMB_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let bomb = png_with_icc_stream(3 << 10);
        let r = clean(&bomb, &Limits::default());
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .unwrap();
        println!("PEAK-KB {}", hwm.trim().trim_end_matches("kB").trim());
        assert!(matches!(r, Err(FormatError::Corrupt(_))), "held as damaged");
        return;
    }
    // This test's name as the test harness knows it (its module path within the test crate).
    let me = format!(
        "{}::png_colour_profile_bomb_costs_little_memory",
        module_path!().split_once("::").map_or("", |(_, m)| m)
    );
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &me, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let kb: u64 = text
        .lines()
        .find_map(|l| l.split("PEAK-KB ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no measurement in {text}"));
    // The bomb file is ~3 MB and the per-chunk limit 16 MiB; before the fix this was ~1 GB.
    assert!(kb < 100_000, "peak {kb} kB");
}

// ---------------------------------------------------------------- WebP

fn webp(w: u32, h: u32, icc: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::webp::WebPEncoder::new_lossless(&mut out);
    if icc {
        enc.set_icc_profile(icc_profile()).unwrap();
    }
    enc.write_image(picture(w, h).as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// Append chunks to a VP8X WebP, set the EXIF/XMP flags, fix the RIFF size.
fn webp_with(base: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    assert_eq!(
        &base[12..16],
        b"VP8X",
        "test WebP must be extended (it has an ICC profile)"
    );
    let mut out = base.to_vec();
    out[20] |= 0x08 | 0x04;
    for c in chunks {
        out.extend_from_slice(c);
    }
    let size = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&size.to_le_bytes());
    out
}

fn loaded_webp(orientation: u16) -> Vec<u8> {
    let mut out = webp_with(
        &webp(40, 30, true),
        &[
            riff_chunk(b"EXIF", &exif_tiff(orientation)),
            riff_chunk(b"XMP ", xmp_packet().as_bytes()),
            riff_chunk(b"prIv", b"APP11-SECRET unknown chunk"),
        ],
    );
    out.extend_from_slice(b"TRAILER-SECRET");
    out
}

#[test]
fn webp_strips_exif_xmp_and_unknown_chunks_losslessly() {
    let input = loaded_webp(1);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!((c.format, c.extension), (Format::Webp, "webp"));
    assert_no_secrets(&c.bytes);
    assert!(!contains(&c.bytes, b"EXIF") && !contains(&c.bytes, b"XMP "));
    assert_eq!(c.bytes[20] & (0x08 | 0x04), 0, "EXIF/XMP flags cleared");
    assert_ne!(c.bytes[20] & 0x20, 0, "ICC flag kept");
    assert_eq!(
        u32::from_le_bytes(c.bytes[4..8].try_into().unwrap()) as usize,
        c.bytes.len() - 8
    );
    assert!(has_text(&c, "EXIF ImageDescription", DESCRIPTION));
    assert!(has_text(&c, "XMP dc:description", XMP_DESCRIPTION));
    assert_eq!(c.device.model.as_deref(), Some(MODEL));
    let (a, _) = decode(&input);
    let (b, icc) = decode(&c.bytes);
    assert_eq!(a.as_bytes(), b.as_bytes());
    assert_eq!(icc, Some(icc_profile()));
}

#[test]
fn webp_with_orientation_has_its_pixels_turned() {
    for (o, turn) in [
        (3, image::metadata::Orientation::Rotate180),
        (6, image::metadata::Orientation::Rotate90),
        (8, image::metadata::Orientation::Rotate270),
        (2, image::metadata::Orientation::FlipHorizontal),
    ] {
        let input = loaded_webp(o);
        let c = clean(&input, &Limits::default()).unwrap();
        assert_no_secrets(&c.bytes);
        let (mut a, _) = decode(&input);
        a.apply_orientation(turn);
        let (b, icc) = decode(&c.bytes);
        assert_eq!((c.width, c.height), (b.width(), b.height()));
        assert_eq!(
            a.to_rgb8().as_raw(),
            b.to_rgb8().as_raw(),
            "orientation {o}"
        );
        assert_eq!(icc, Some(icc_profile()));
    }
}

#[test]
fn webp_fail_closed_cases() {
    let good = webp(20, 20, true);
    // Truncated: RIFF size says more than the file holds.
    expect_corrupt(&good[..good.len() - 10]);
    // A chunk longer than the RIFF.
    let mut bad = webp_with(&good, &[riff_chunk(b"EXIF", &exif_tiff(1))]);
    let at = bad.len() - exif_tiff(1).len() - 4;
    bad[at..at + 4].copy_from_slice(&100_000u32.to_le_bytes());
    expect_corrupt(&bad);
    // Canvas size and bitstream size disagree.
    let mut bad = good.clone();
    bad[24] = bad[24].wrapping_add(3);
    let m = expect_corrupt(&bad);
    assert!(m.contains("inconsistent"), "{m}");
    // A second VP8X after the picture.
    expect_corrupt(&webp_with(&good, &[riff_chunk(b"VP8X", b"")]));
    // RIFF header only.
    expect_corrupt(b"RIFF\x04\0\0\0WEBP");
}

// ---------------------------------------------------------------- TIFF

#[test]
fn tiff_becomes_an_upright_png_with_captions_collected() {
    // 3×2 RGB, uncompressed, one strip, orientation 6 and a caption.
    let px: Vec<u8> = (0..18u8).map(|i| i * 13).collect();
    let t = tiff(
        &px,
        vec![
            long(0x0100, 3),
            long(0x0101, 2),
            E(
                0x0102,
                3,
                3,
                [8u16, 8, 8].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            short(0x0103, 1),
            short(0x0106, 2),
            ascii(0x010E, "TIFF caption Hana"),
            ascii(0x010F, MAKE),
            long(0x0111, 8),
            short(0x0112, 6),
            short(0x0115, 3),
            long(0x0116, 2),
            long(0x0117, 18),
        ],
        vec![ascii(0xA431, SERIAL)],
        vec![rationals(0x0002, &[(LAT, 1_000_000), (0, 1), (0, 1)])],
    );
    let c = clean(&t, &Limits::default()).unwrap();
    assert_eq!((c.format, c.extension), (Format::Png, "png"));
    assert_no_secrets(&c.bytes);
    assert!(!contains(&c.bytes, b"TIFF caption"));
    assert!(has_text(&c, "EXIF ImageDescription", "TIFF caption Hana"));
    assert_eq!(c.device.serial.as_deref(), Some(SERIAL));
    assert!(c.removed.iter().any(|r| r == "EXIF GPS position"));
    let (b, _) = decode(&c.bytes);
    let mut a = DynamicImage::ImageRgb8(RgbImage::from_raw(3, 2, px).unwrap());
    a.apply_orientation(image::metadata::Orientation::Rotate90);
    assert_eq!((c.width, c.height), (2, 3));
    assert_eq!(b.to_rgb8().as_raw(), a.to_rgb8().as_raw());
}

#[test]
fn bigtiff_and_truncated_tiff_are_not_released() {
    assert!(matches!(
        clean(b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0", &Limits::default()),
        Err(FormatError::Unsupported(_))
    ));
    expect_corrupt(b"II*\0\x08\0\0\0\x05\0");
}

// ---------------------------------------------------------------- messages

#[test]
fn error_messages_say_what_to_do_next() {
    let corrupt = FormatError::Corrupt("x".into()).to_string();
    assert!(
        corrupt.contains("copy it again") || corrupt.contains("re-export"),
        "{corrupt}"
    );
    let unsupported = FormatError::Unsupported("x".into()).to_string();
    assert!(unsupported.contains("convert it"), "{unsupported}");
    let big = FormatError::TooLarge {
        width: 1,
        height: 1,
        limit: 100,
    }
    .to_string();
    assert!(big.contains("resize"), "{big}");
}

// ---------------------------------------------------------------- robustness

/// Every truncation and many single-byte changes of each loaded file: `clean` must never panic,
/// and whatever it releases must still hold none of the secrets.
#[test]
fn mangled_inputs_never_panic_and_never_leak() {
    let limits = Limits::default();
    let mut tiff_px = tiff(
        &[0; 12],
        vec![
            long(0x0100, 2),
            long(0x0101, 2),
            short(0x0106, 1),
            long(0x0111, 8),
            long(0x0117, 4),
        ],
        vec![],
        vec![],
    );
    tiff_px.extend(exif_tiff(1)[8..].iter()); // junk after: exercises offsets
    let inputs = [
        loaded_jpeg(6),
        loaded_png(1),
        loaded_webp(1),
        loaded_png(6),
        tiff_px,
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut released = 0;
    for input in &inputs {
        let check = |bytes: &[u8], released: &mut usize| {
            if let Ok(c) = clean(bytes, &limits) {
                *released += 1;
                if std::panic::catch_unwind(|| assert_no_secrets(&c.bytes)).is_err() {
                    let diff: Vec<_> = (0..bytes.len().min(input.len()))
                        .filter(|&i| bytes[i] != input[i])
                        .map(|i| (i, input[i], bytes[i]))
                        .collect();
                    panic!(
                        "leak: len {} of {}, diff {diff:?}; removed {:?}",
                        bytes.len(),
                        input.len(),
                        c.removed
                    );
                }
            }
        };
        for cut in (0..input.len()).step_by(7) {
            check(&input[..cut], &mut released);
        }
        for _ in 0..1500 {
            let mut m = input.clone();
            let at = (rand() as usize) % m.len();
            m[at] = match rand() % 4 {
                0 => 0xFF,
                1 => 0x00,
                2 => m[at] ^ (1 << (rand() % 8)),
                _ => rand() as u8,
            };
            check(&m, &mut released);
        }
    }
    assert!(
        released > 0,
        "some mangled files (e.g. changed pixel data) are still valid and released"
    );
}
