//! Face engine: detection, orientation, alignment, identity embeddings, crop hashes, bad input.
//!
//! Fixtures (`fixtures/faces/`, provenance in its NOTICE.tsv) are small photos from MIT-licensed
//! packages; the corpus test at the end uses `../shared/corpus/faces` when it is present.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use consentgate::faces::{decode_upright, distance, Face, FaceEngine, FaceError};
use image::codecs::jpeg::JpegEncoder;
use image::{imageops, RgbImage};

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| FaceEngine::load().expect("bundled models load"))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/faces")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn faces(bytes: &[u8]) -> Vec<Face> {
    engine().faces_in(bytes).expect("faces_in")
}

fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .expect("encode");
    out
}

/// A JPEG with a minimal big-endian EXIF (IFD0: Orientation only), as `formats::clean` leaves it.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn inside(p: [f32; 2], f: &Face, slack: f32) -> bool {
    let b = f.bbox;
    p[0] >= b.x - slack
        && p[0] <= b.x + b.width + slack
        && p[1] >= b.y - slack
        && p[1] <= b.y + b.height + slack
}

fn plausible(f: &Face, width: u32, height: u32) {
    let b = f.bbox;
    assert!(f.score > 0.3 && f.score <= 1.0, "score {}", f.score);
    assert!(b.x >= 0.0 && b.y >= 0.0, "{b:?}");
    assert!(
        b.x + b.width <= width as f32 + 0.5 && b.y + b.height <= height as f32 + 0.5,
        "{b:?}"
    );
    assert!(b.width > 10.0 && b.height > 10.0, "{b:?}");
    let aspect = b.height / b.width;
    assert!(
        (0.8..2.0).contains(&aspect),
        "face box aspect {aspect}: {b:?}"
    );
    let slack = 0.1 * b.width;
    for p in f.landmarks {
        assert!(inside(p, f, slack), "landmark {p:?} outside {b:?}");
    }
    let [le, re, nose, lm, rm] = f.landmarks;
    assert!(le[0] < re[0], "left eye left of right eye");
    assert!(nose[1] > le[1].min(re[1]), "nose below the eyes");
    assert!(lm[1] > nose[1] && rm[1] > nose[1], "mouth below the nose");
    assert_eq!(f.embedding.len(), consentgate::faces::EMBEDDING_LEN);
    assert!(f.embedding.iter().all(|v| v.is_finite()));
    assert!(!f.crop_hash.is_empty());
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

fn one_face(name: &str) -> Face {
    let found = faces(&fixture(name));
    assert_eq!(found.len(), 1, "{name}: {} faces", found.len());
    found.into_iter().next().unwrap()
}

#[test]
fn finds_every_face_of_a_group_with_plausible_boxes_and_landmarks() {
    let bytes = fixture("group_of_four.jpg");
    let img = decode_upright(&bytes).unwrap();
    let found = faces(&bytes);
    assert_eq!(found.len(), 4, "{found:#?}");
    for f in &found {
        plausible(f, img.width(), img.height());
    }
    // Four different people.
    for (i, a) in found.iter().enumerate() {
        for b in &found[i + 1..] {
            let d = distance(&a.embedding, &b.embedding);
            assert!(d > 0.6, "two people of the group at distance {d}");
        }
    }
}

#[test]
fn same_person_matches_across_photos_and_different_people_do_not() {
    let a = one_face("obama_blue_room.jpg");
    let b = one_face("obama_portrait.jpg");
    for (f, name) in [(&a, "obama_blue_room.jpg"), (&b, "obama_portrait.jpg")] {
        let img = decode_upright(&fixture(name)).unwrap();
        plausible(f, img.width(), img.height());
    }
    let same = distance(&a.embedding, &b.embedding);
    assert!(same < 0.6, "same person at distance {same}");
    for other in faces(&fixture("group_of_four.jpg")) {
        for f in [&a, &b] {
            let d = distance(&f.embedding, &other.embedding);
            assert!(d > 0.6, "different people at distance {d}");
        }
    }
}

#[test]
fn no_faces_in_a_gradient() {
    let img = RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([
            (x * 255 / 1200) as u8,
            (y * 255 / 900) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    assert!(faces(&jpeg(&img, 90)).is_empty());
    assert!(engine().faces_in_image(&img).unwrap().is_empty());
    let flat = RgbImage::from_pixel(64, 48, image::Rgb([128, 128, 128]));
    assert!(engine().faces_in_image(&flat).unwrap().is_empty());
    for (w, h) in [(1, 1), (3, 2), (1, 700), (5000, 2)] {
        let tiny = RgbImage::from_pixel(w, h, image::Rgb([200, 10, 10]));
        assert!(
            engine().faces_in_image(&tiny).unwrap().is_empty(),
            "{w}x{h}"
        );
        assert!(faces(&jpeg(&tiny, 90)).is_empty(), "{w}x{h} JPEG");
    }
}

#[test]
fn grayscale_jpeg_works() {
    let gray =
        image::DynamicImage::ImageRgb8(decode_upright(&fixture("obama_portrait.jpg")).unwrap())
            .into_luma8();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&gray)
        .unwrap();
    assert_eq!(faces(&bytes).len(), 1);
}

/// A photo large enough for the DCT-scaled decode (jpeg-decoder at 1/4 reads the EXIF itself).
#[test]
fn exif_orientation_on_a_large_photo() {
    let small = decode_upright(&fixture("obama_portrait.jpg")).unwrap();
    let upright = imageops::resize(
        &small,
        small.width() * 7,
        small.height() * 7,
        imageops::FilterType::Triangle,
    );
    let reference = faces(&jpeg(&upright, 85));
    assert_eq!(reference.len(), 1);
    let bytes = with_orientation(&jpeg(&imageops::rotate270(&upright), 85), 6);
    let found = faces(&bytes);
    assert_eq!(found.len(), 1);
    let (got, want) = (found[0].bbox, reference[0].bbox);
    let tol = 0.08 * want.width;
    for (g, e) in [
        (got.x, want.x),
        (got.y, want.y),
        (got.width, want.width),
        (got.height, want.height),
    ] {
        assert!((g - e).abs() < tol, "{got:?} vs {want:?}");
    }
    let d = distance(&found[0].embedding, &reference[0].embedding);
    assert!(d < 0.3, "embedding moved by {d}");
}

#[test]
fn exif_orientation_gives_boxes_in_the_displayed_frame() {
    let upright = decode_upright(&fixture("obama_portrait.jpg")).unwrap();
    let (w, h) = upright.dimensions();
    let reference = faces(&jpeg(&upright, 92));
    assert_eq!(reference.len(), 1);
    let want = reference[0].bbox;
    // Stored pixels are the inverse of the transform the tag asks the viewer to apply.
    let cases: [(u16, RgbImage); 3] = [
        (3, imageops::rotate180(&upright)),
        (6, imageops::rotate270(&upright)),
        (8, imageops::rotate90(&upright)),
    ];
    for (orientation, stored) in cases {
        let bytes = with_orientation(&jpeg(&stored, 92), orientation);
        let shown = decode_upright(&bytes).unwrap();
        assert_eq!(shown.dimensions(), (w, h), "orientation {orientation}");
        let found = faces(&bytes);
        assert_eq!(found.len(), 1, "orientation {orientation}");
        let got = found[0].bbox;
        let tol = 0.08 * want.width;
        for (g, e) in [
            (got.x, want.x),
            (got.y, want.y),
            (got.width, want.width),
            (got.height, want.height),
        ] {
            assert!(
                (g - e).abs() < tol,
                "orientation {orientation}: {got:?} vs {want:?}"
            );
        }
        let d = distance(&found[0].embedding, &reference[0].embedding);
        assert!(d < 0.3, "orientation {orientation}: embedding moved by {d}");
    }
}

#[test]
fn png_and_decoded_input_agree_with_jpeg_path() {
    let img = decode_upright(&fixture("obama_portrait.jpg")).unwrap();
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let from_png = faces(&png);
    let from_image = engine().faces_in_image(&img).unwrap();
    assert_eq!(from_png.len(), 1);
    assert_eq!(from_image.len(), 1);
    assert_eq!(from_png[0].bbox, from_image[0].bbox);
    assert!(distance(&from_png[0].embedding, &from_image[0].embedding) < 1e-4);
}

#[test]
fn crop_hash_survives_reencoding_but_not_a_different_photo() {
    let original = one_face("obama_portrait.jpg");
    let img = decode_upright(&fixture("obama_portrait.jpg")).unwrap();
    let smaller = imageops::resize(
        &img,
        img.width() * 9 / 10,
        img.height() * 9 / 10,
        imageops::FilterType::Triangle,
    );
    let again = faces(&jpeg(&smaller, 70));
    assert_eq!(again.len(), 1);
    let bits = original.crop_hash.len() as u32 * 8;
    let same_picture = hamming(&original.crop_hash, &again[0].crop_hash);
    let other = one_face("obama_blue_room.jpg");
    let other_picture = hamming(&original.crop_hash, &other.crop_hash);
    println!("crop hash ({bits} bits): re-encoded {same_picture}, other photo {other_picture}");
    assert!(
        same_picture <= bits / 8,
        "re-encoded copy differs by {same_picture} bits"
    );
    assert!(
        other_picture > 2 * same_picture.max(bits / 16),
        "other photo only {other_picture} bits away"
    );
}

#[test]
fn corrupt_input_is_a_decode_error_not_a_panic() {
    let good = fixture("group_of_four.jpg");
    let mut flipped = good.clone();
    for b in flipped.iter_mut().skip(600).step_by(7) {
        *b ^= 0x5A;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("text", b"this is not a picture".to_vec()),
        ("jpeg header only", good[..400].to_vec()),
        ("png signature only", b"\x89PNG\r\n\x1a\n".to_vec()),
        (
            "jpeg soi then junk",
            [&[0xFF, 0xD8, 0xFF][..], &[0x00; 64]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        match engine().faces_in(&bytes) {
            Err(FaceError::Decode(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
        assert!(
            matches!(decode_upright(&bytes), Err(FaceError::Decode(_))),
            "{what}"
        );
    }
    // Damaged entropy-coded data may decode to garbage or fail; either way, no panic.
    let _ = engine().faces_in(&flipped);
    let _ = engine().faces_in(&good[..good.len() / 2]);
}

/// The shared corpus (not committed here); skipped with a note when absent.
#[test]
fn corpus_faces() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/faces");
    if !dir.join("solvay-1927.png").exists() {
        println!("skipped: {} is not present", dir.display());
        return;
    }
    let read = |name: &str| faces(&std::fs::read(dir.join(name)).unwrap());
    let solvay = read("solvay-1927.png");
    assert_eq!(solvay.len(), 29, "solvay: {} faces", solvay.len());
    let obama = read("obama.jpg");
    let obama2 = read("obama2.jpg");
    let biden = read("biden.jpg");
    let sample1 = read("sample1.jpg");
    let astronaut = read("astronaut.png");
    assert_eq!(
        (obama.len(), obama2.len(), biden.len(), astronaut.len()),
        (1, 1, 1, 1)
    );
    assert_eq!(sample1.len(), 3);
    let d = distance(&obama[0].embedding, &obama2[0].embedding);
    assert!(d < 0.6, "obama/obama2 {d}");
    let d = distance(&obama[0].embedding, &biden[0].embedding);
    assert!(d > 0.6, "obama/biden {d}");
    for f in &sample1 {
        let d = distance(&obama[0].embedding, &f.embedding);
        assert!(d > 0.6, "obama/sample1 {d}");
    }
    // mask_black.jpg is insightface's mask texture (a black surgical mask on its own, no face):
    // it must not produce a face.
    assert!(read("mask_black.jpg").is_empty());
}
