//! HEIC/HEIF: cleaned losslessly (or converted to JPEG), captions and device read, faces found,
//! every structure we cannot vouch for held. Fixtures: fixtures/heic (see its README.md).

use crate::common;

use std::fs;

use common::workspace::*;
use consentgate::formats::{clean, decode_rgb, detect, Format, FormatError, HeicOutput, Limits};

fn fixture(name: &str) -> Vec<u8> {
    fs::read(fixtures().join("heic").join(name)).unwrap()
}

/// Tags exiftool finds that could identify someone, in a file holding `bytes`.
fn identifying(bytes: &[u8], ext: &str) -> Option<Vec<String>> {
    if !common::exiftool::available() {
        println!("SKIP exiftool check: exiftool is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(format!("out.{ext}"));
    fs::write(&p, bytes).unwrap();
    Some(common::exiftool::identifying_tags(&p))
}

/// Byte offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_grid_heic_is_cleaned_losslessly_keeping_colour_and_dropping_thumbnail_gain_map_and_exif() {
    let input = fixture("grid.heic");
    assert_eq!(detect(&input), Format::Heic);
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!(c.format, Format::Heic);
    assert_eq!(c.extension, "heic");
    assert_eq!((c.width, c.height), (480, 360));
    for r in [
        "EXIF",
        "EXIF GPS position",
        "EXIF camera serial number",
        "embedded thumbnail",
        "HDR gain-map image",
        "XMP",
        "item names",
    ] {
        assert!(
            c.removed.iter().any(|x| x == r),
            "{r} not in {:?}",
            c.removed
        );
    }
    assert_eq!(c.device.make.as_deref(), Some("Apple"));
    assert_eq!(c.device.model.as_deref(), Some("iPhone 13 Pro"));
    assert_eq!(c.device.serial.as_deref(), Some("F2LXK0Q1JC6M"));
    // Same pixels, and smaller: the thumbnail, gain map and metadata are gone.
    assert_eq!(decode_rgb(&input).unwrap(), decode_rgb(&c.bytes).unwrap());
    assert!(c.bytes.len() < input.len());
    for gone in [
        &b"F2LXK0Q1JC6M"[..],
        b"Staff iPad",
        b"iPhone",
        b"Exif",
        b"mime",
        b"thmb",
    ] {
        assert!(
            find(&c.bytes, gone).is_none(),
            "{}",
            String::from_utf8_lossy(gone)
        );
    }
    // The ICC profile is kept byte for byte.
    let icc_at = find(&input, b"colr").unwrap();
    let icc_len = u32::from_be_bytes(input[icc_at - 4..icc_at].try_into().unwrap()) as usize;
    assert!(find(&c.bytes, &input[icc_at - 4..icc_at - 4 + icc_len]).is_some());
    if let Some(bad) = identifying(&c.bytes, "heic") {
        assert!(bad.is_empty(), "identifying tags remain: {bad:?}");
    }
    // Cleaning the clean copy again changes nothing.
    let again = clean(&c.bytes, &Limits::default()).unwrap();
    assert_eq!(again.bytes, c.bytes);
    assert!(again.removed.is_empty(), "{:?}", again.removed);
}

#[test]
fn a_rotated_and_mirrored_heic_keeps_its_irot_and_imir() {
    let input = fixture("rotated.heic");
    let c = clean(&input, &Limits::default()).unwrap();
    // Stored 320x240, shown turned: 240x320.
    assert_eq!((c.width, c.height), (240, 320));
    let a = decode_rgb(&input).unwrap();
    let b = decode_rgb(&c.bytes).unwrap();
    assert_eq!(b.dimensions(), (240, 320));
    assert_eq!(a, b);
    assert!(find(&c.bytes, b"irot").is_some() && find(&c.bytes, b"imir").is_some());
    assert_eq!(c.device.model.as_deref(), Some("iPad (9th generation)"));
}

#[test]
fn heic_output_jpeg_decodes_turns_upright_and_keeps_the_colour_profile() {
    let limits = Limits {
        heic_output: HeicOutput::Jpeg,
        ..Limits::default()
    };
    let c = clean(&fixture("rotated.heic"), &limits).unwrap();
    assert_eq!((c.format, c.extension), (Format::Jpeg, "jpg"));
    let img = image::load_from_memory(&c.bytes).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
    assert_eq!((c.width, c.height), (240, 320));
    // Close to the HEIC's own decode (JPEG quality 92).
    let heic = decode_rgb(&fixture("rotated.heic")).unwrap();
    let jpg = img.to_rgb8();
    let diff: u64 = heic
        .as_raw()
        .iter()
        .zip(jpg.as_raw())
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    assert!(
        diff / heic.as_raw().len() as u64 <= 3,
        "mean difference {diff}"
    );

    let g = clean(&fixture("grid.heic"), &limits).unwrap();
    assert_eq!(g.format, Format::Jpeg);
    assert_eq!(g.device.serial.as_deref(), Some("F2LXK0Q1JC6M"));
    assert!(g.removed.iter().any(|r| r == "EXIF GPS position"));
    let icc = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&g.bytes))
        .and_then(|mut d| image::ImageDecoder::icc_profile(&mut d))
        .unwrap()
        .expect("the ICC profile is kept");
    assert!(find(&fixture("grid.heic"), &icc).is_some());
    if let Some(bad) = identifying(&g.bytes, "jpg") {
        assert!(bad.is_empty(), "identifying tags remain: {bad:?}");
    }
}

/// An alpha plane (heif-enc's `auxl` alpha image) travels with the picture: the clean copy still
/// has it, byte for byte the same pixels, and no metadata.
#[test]
fn a_heic_with_alpha_keeps_its_alpha_plane_and_loses_its_metadata() {
    let input = fixture("alpha.heic");
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!((c.extension, c.width, c.height), ("heic", 320, 240));
    assert!(
        c.removed.iter().any(|r| r == "EXIF GPS position"),
        "{:?}",
        c.removed
    );
    let lib = libheif_rs::LibHeif::new();
    for bytes in [&input, &c.bytes] {
        let ctx = libheif_rs::HeifContext::read_from_bytes(bytes).unwrap();
        let h = ctx.primary_image_handle().unwrap();
        assert!(h.has_alpha_channel(), "the alpha plane is kept");
        let img = lib
            .decode(
                &h,
                libheif_rs::ColorSpace::Rgb(libheif_rs::RgbChroma::Rgba),
                None,
            )
            .unwrap();
        let p = img.planes().interleaved.unwrap();
        // The bottom-right corner was drawn transparent, the top-left opaque.
        let alpha = |x: usize, y: usize| p.data[y * p.stride + x * 4 + 3];
        assert!(alpha(300, 230) < 16 && alpha(10, 10) > 240);
    }
    assert_eq!(decode_rgb(&input).unwrap(), decode_rgb(&c.bytes).unwrap());
    if let Some(bad) = identifying(&c.bytes, "heic") {
        assert!(bad.is_empty(), "{bad:?}");
    }
}

/// A 10-bit HEIC (an iPhone's HDR photo) is cleaned losslessly, its bitstream kept at 10 bits,
/// and decoded to 8-bit RGB for faces, previews and `heic_output = "jpeg"`.
#[test]
fn a_ten_bit_heic_is_cleaned_and_decoded() {
    let input = fixture("tenbit.heic");
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!((c.extension, c.width, c.height), ("heic", 320, 240));
    let ctx = libheif_rs::HeifContext::read_from_bytes(&c.bytes).unwrap();
    let h = ctx.primary_image_handle().unwrap();
    assert_eq!(h.luma_bits_per_pixel(), 10, "still 10-bit after cleaning");
    let rgb = decode_rgb(&c.bytes).unwrap();
    assert_eq!(rgb, decode_rgb(&input).unwrap());
    // The grey ramp comes out as a ramp: dark on the left, light on the right.
    let (l, r) = (rgb.get_pixel(5, 120)[1], rgb.get_pixel(314, 120)[1]);
    assert!(l < 40 && r > 215, "{l} {r}");
    if let Some(bad) = identifying(&c.bytes, "heic") {
        assert!(bad.is_empty(), "{bad:?}");
    }
}

#[test]
fn a_truncated_heic_is_damaged() {
    match clean(&fixture("truncated.heic"), &Limits::default()) {
        Err(FormatError::Corrupt(why)) => assert!(why.contains("cut off"), "{why}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|c| c.removed)),
    }
    assert!(decode_rgb(&fixture("truncated.heic")).is_err());
}

/// Replace the first `from` after the first `anchor` in `bytes`.
fn patch(bytes: &[u8], anchor: &[u8], offset: usize, with: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    let at = find(&b, anchor).unwrap() + offset;
    b[at..at + with.len()].copy_from_slice(with);
    b
}

#[test]
fn heic_structures_we_cannot_vouch_for_are_held() {
    let grid = fixture("grid.heic");
    let limits = Limits::default();
    let unsupported = |bytes: &[u8], what: &str| match clean(bytes, &limits) {
        Err(FormatError::Unsupported(why)) => assert!(why.contains(what), "{why}"),
        other => panic!(
            "{what}: expected Unsupported, got {:?}",
            other.map(|c| c.removed)
        ),
    };
    // A video in the same file (Live Photo saved as one file).
    let mut live = grid.clone();
    live.extend_from_slice(&[
        0, 0, 0, 16, b'm', b'o', b'o', b'v', 0, 0, 0, 8, b'f', b'r', b'e', b'e',
    ]);
    unsupported(&live, "video");
    // Picture data in another file: a `url ` entry that is not self-contained.
    unsupported(&patch(&grid, b"url ", 4, &[0, 0, 0, 0]), "another file");
    // An iloc version the standard does not define.
    unsupported(&patch(&grid, b"iloc", 4, &[3]), "version 3");
    // An unknown property a tile marks essential (the fixture's hvcC is essential).
    unsupported(&patch(&grid, b"hvcC", 0, b"zzzz"), "essential");
    // A HEIF file that is not a picture (another handler).
    unsupported(&patch(&grid, b"hdlr", 12, b"vide"), "not a picture");
    // Items in the old infe versions 0/1.
    unsupported(&patch(&grid, b"infe", 4, &[1]), "old item format");
    // An encrypted (protected) item: infe v2 item_protection_index after the item id.
    unsupported(&patch(&grid, b"infe", 10, &[0, 1]), "encrypted");
    // A picture coded with something else than HEVC (AVIF-in-HEIF).
    unsupported(&patch(&grid, b"grid", 0, b"av01"), "not HEVC");
    // No picture index at all: damaged.
    assert!(matches!(
        clean(&patch(&grid, b"meta", 0, b"zeta"), &limits),
        Err(FormatError::Corrupt(_))
    ));
    // An unknown property that is not essential is dropped.
    let renamed = patch(&grid, b"colr", 0, b"zzzz");
    let c = clean(&renamed, &limits).unwrap();
    assert!(
        c.removed.iter().any(|r| r.contains("zzzz")),
        "{:?}",
        c.removed
    );
    assert!(find(&c.bytes, b"zzzz").is_none());
}

#[test]
fn a_heic_declaring_a_huge_picture_is_too_large_before_decoding() {
    let grid = fixture("grid.heic");
    // The grid's ispe (first ispe) says 480x360; make it 40000x40000.
    let at = find(&grid, b"ispe").unwrap() + 8;
    let mut bomb = grid.clone();
    bomb[at..at + 8].copy_from_slice(&[0, 0, 0x9C, 0x40, 0, 0, 0x9C, 0x40]);
    assert!(matches!(
        clean(&bomb, &Limits::default()),
        Err(FormatError::TooLarge { .. })
    ));
    assert!(matches!(
        decode_rgb(&bomb),
        Err(FormatError::TooLarge { .. })
    ));
}

#[test]
fn heic_through_the_gate_released_clean_held_when_captioned_and_live_photo_video_held() {
    let ws = Ws::with_demo_register();
    let cfg = ws.root.join("consentgate.toml");
    fs::write(
        &cfg,
        fs::read_to_string(&cfg)
            .unwrap()
            .replace("unknown_faces = \"review\"", "unknown_faces = \"allow\""),
    )
    .unwrap();
    ws.drop_file("IMG_0001.HEIC", &fixture("grid.heic"));
    ws.drop_file("IMG_0001.MOV", &fixture("IMG_0001.MOV"));
    ws.drop_file("IMG_0002.HEIC", &fixture("caption.heic"));
    ws.drop_file("IMG_0003.HEIC", &fixture("truncated.heic"));
    ws.drop_file("IMG_0004.HEIC", &fixture("rotated.heic"));
    let (lines, _summary, code) = ws.run_json("website");
    assert_eq!(code, 1);

    for f in ["IMG_0001.HEIC", "IMG_0004.HEIC"] {
        let o = outcome_for(&lines, f);
        assert_eq!(o["decision"], "released", "{f}: {o}");
        let out = ws.root.join(o["outbox"].as_str().unwrap());
        assert_eq!(out.extension().unwrap(), "heic");
        let bytes = fs::read(&out).unwrap();
        assert!(decode_rgb(&bytes).is_ok());
        if let Some(bad) = identifying(&bytes, "heic") {
            assert!(bad.is_empty(), "{f}: identifying tags remain: {bad:?}");
        }
    }
    let caption = outcome_for(&lines, "IMG_0002.HEIC");
    assert_eq!(caption["decision"], "held");
    assert!(
        caption["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "caption_names_student" && r["student"] == "A1001"),
        "{caption}"
    );
    let damaged = outcome_for(&lines, "IMG_0003.HEIC");
    assert_eq!(damaged["decision"], "held");
    assert_eq!(damaged["reasons"][0]["kind"], "damaged_file", "{damaged}");
    let mov = outcome_for(&lines, "IMG_0001.MOV");
    assert_eq!(mov["decision"], "held");
    let r = &mov["reasons"][0];
    assert_eq!(r["kind"], "unsupported_format", "{mov}");
    let detail = r["detail"].as_str().unwrap();
    assert!(
        detail.contains("video") && detail.contains("IMG_0001.HEIC"),
        "{detail}"
    );
}

#[test]
fn heic_output_jpeg_in_the_config_releases_jpeg() {
    let ws = Ws::with_demo_register();
    let cfg = ws.root.join("consentgate.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("heic_output = \"heic\""),
        "documented default"
    );
    fs::write(
        &cfg,
        text.replace("heic_output = \"heic\"", "heic_output = \"jpeg\"")
            .replace("unknown_faces = \"review\"", "unknown_faces = \"allow\""),
    )
    .unwrap();
    ws.drop_file("IMG_0004.HEIC", &fixture("rotated.heic"));
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:?}");
    let o = outcome_for(&lines, "IMG_0004.HEIC");
    let out = ws.root.join(o["outbox"].as_str().unwrap());
    assert_eq!(out.extension().unwrap(), "jpg");
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (240, 320));
}

#[test]
fn faces_pdq_and_previews_work_on_a_clean_heic() {
    let input = fixture("faces.heic");
    let c = clean(&input, &Limits::default()).unwrap();
    assert_eq!((c.width, c.height), (960, 724));
    let engine = consentgate::faces::FaceEngine::load().unwrap();
    let from_heic = engine.faces_in(&c.bytes).unwrap();
    let jpeg = fs::read(fixtures().join("faces/group_of_four.jpg")).unwrap();
    let from_jpeg = engine.faces_in(&jpeg).unwrap();
    assert_eq!(from_heic.len(), 4, "the group photo has four faces");
    assert_eq!(from_heic.len(), from_jpeg.len());
    // Upright decodes for previews and redaction.
    let up = consentgate::faces::decode_upright(&c.bytes).unwrap();
    assert_eq!(up.dimensions(), (960, 724));
    let (_, full_w, full_h) = consentgate::faces::decode_upright_at_least(&c.bytes, 360).unwrap();
    assert_eq!((full_w, full_h), (960, 724));
    // Re-upload detection: the HEIC and the JPEG of the same picture hash alike.
    let h = consentgate::pdq::hash(&c.bytes, c.format).unwrap();
    let j = {
        let j = clean(&jpeg, &Limits::default()).unwrap();
        consentgate::pdq::hash(&j.bytes, j.format).unwrap()
    };
    let d = consentgate::pdq::hamming(&h.hashes[0], &j.hashes[0]);
    assert!(d <= 31, "PDQ distance {d}");
}
