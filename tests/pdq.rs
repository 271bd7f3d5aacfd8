//! PDQ: agreement with the reference implementation, and the robustness the gate relies on.
//!
//! `fixtures/pdq/reference.tsv` holds the hashes that Meta's reference C++ (through the `pdqhash`
//! Python bindings) gives for the images in `fixtures/pdq/images/`; `make-reference.py` beside it
//! made both. The bindings compute luminance in f64 (numpy) before handing f32 luma to the C++
//! core, while the C++ tools (and `pdq::hash_image`) compute it in f32; so the core is checked
//! bit-for-bit on the bindings' luma, and `hash_image` on the f32 luma.

use std::path::{Path, PathBuf};

use consentgate::pdq::{
    self, hamming, hash_image, hash_jpeg, hash_luma_dihedral, hash_with_mirror, Dihedral, LumaF32,
    Pdq, MATCH_THRESHOLD, MIN_QUALITY,
};
use image::{imageops, ImageEncoder, RgbImage};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pdq")
}

fn load_rgb(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Luma exactly as the `pdqhash` bindings compute it: numpy f64 `R*0.299 + G*0.587 + B*0.114`,
/// then cast to f32.
fn bindings_luma(img: &RgbImage) -> LumaF32 {
    let (w, h) = img.dimensions();
    let v = img
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0.map(f64::from);
            (r * 0.299 + g * 0.587 + b * 0.114) as f32
        })
        .collect();
    LumaF32::from_raw(w, h, v).expect("dimensions")
}

struct RefRow {
    file: String,
    width: u32,
    height: u32,
    quality: u8,
    hashes: [[u8; 32]; 8],
}

fn read_reference(tsv: &Path) -> Vec<RefRow> {
    let text = std::fs::read_to_string(tsv).expect("reference.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t") && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 12, "bad row {l}");
            let mut hashes = [[0u8; 32]; 8];
            for (k, h) in hashes.iter_mut().enumerate() {
                *h = Pdq::from_hex(f[4 + k]).expect("hex");
            }
            RefRow {
                file: f[0].to_string(),
                width: f[1].parse().unwrap(),
                height: f[2].parse().unwrap(),
                quality: f[3].parse().unwrap(),
                hashes,
            }
        })
        .collect()
}

/// Checks every row of a reference TSV; returns (rows, rows exact via f32 luma, worst distance
/// via f32 luma) and prints a line per image.
fn check_reference(tsv: &Path, image_dir: &Path) -> (usize, usize, u32) {
    let rows = read_reference(tsv);
    assert!(!rows.is_empty());
    let (mut exact, mut worst) = (0, 0);
    for row in &rows {
        let img = load_rgb(&image_dir.join(&row.file));
        assert_eq!(img.dimensions(), (row.width, row.height), "{}", row.file);

        // The core, bit for bit, on the bindings' luma: all eight dihedral hashes and quality.
        let d = hash_luma_dihedral(&bindings_luma(&img));
        assert_eq!(d.quality, row.quality, "{}: quality", row.file);
        for (k, dih) in Dihedral::ALL.iter().enumerate() {
            assert_eq!(
                hex::encode(d.hashes[k]),
                hex::encode(row.hashes[k]),
                "{}: {dih:?} differs from the reference",
                row.file
            );
        }

        // The public entry point (f32 luma, as the reference C++ tools).
        let p = hash_image(&img);
        let dist = hamming(&p.hash, &row.hashes[0]);
        assert_eq!(
            p.quality, row.quality,
            "{}: quality via hash_image",
            row.file
        );
        if let Some((_, cpp)) = CPP_F32_WHERE_DIFFERENT.iter().find(|(f, _)| *f == row.file) {
            assert_eq!(
                p.to_hex(),
                *cpp,
                "{}: hash_image vs the reference C++ (f32 luma)",
                row.file
            );
        } else {
            assert_eq!(
                dist, 0,
                "{}: hash_image differs from the reference",
                row.file
            );
        }
        exact += usize::from(dist == 0);
        worst = worst.max(dist);
        println!(
            "{:<50} q={:>3} core=exact hash_image d={dist}",
            row.file, p.quality
        );
    }
    (rows.len(), exact, worst)
}

#[test]
fn agrees_with_reference_on_fixture_images() {
    let dir = fixtures();
    let (n, exact, worst) = check_reference(&dir.join("reference.tsv"), &dir.join("images"));
    println!("{n} images: core exact on all; hash_image exact on {exact}, worst distance {worst}");
    assert!(n >= 14);
}

/// Where the bindings' f64 luma and the C++ tools' f32 luma give different hashes: only on
/// untrusted (near-flat) images, whose coefficients all sit near the median. The expected value
/// is what the reference C++ core (ThreatExchange pdq/cpp, `fillFloatLumaFromRGB` +
/// `pdqHash256FromFloatLuma`, built locally with g++ -O3) printed for this PNG.
const CPP_F32_WHERE_DIFFERENT: &[(&str, &str)] = &[(
    "gradient-rgb.png", // quality 12; 12 bits from the bindings' hash
    "0d4d8baa050080802aa87fffd5057f8bd5157f805528607fd8d7787f40d57c7f",
)];

/// Images that must not be committed (e.g. ThreatExchange's pdq/data): hash them with
/// `make-reference.py --hash DIR OUT.tsv`, then
/// `PDQ_REFERENCE_TSV=OUT.tsv cargo test --test pdq -- --ignored --nocapture`.
#[test]
#[ignore = "needs PDQ_REFERENCE_TSV from make-reference.py --hash"]
fn agrees_with_reference_on_external_images() {
    let tsv = PathBuf::from(std::env::var("PDQ_REFERENCE_TSV").expect("PDQ_REFERENCE_TSV"));
    let dir = tsv.parent().unwrap().to_path_buf();
    let (n, exact, worst) = check_reference(&tsv, &dir);
    println!("{n} images: core exact on all; hash_image exact on {exact}, worst distance {worst}");
}

// ---------------------------------------------------------------------------------------------
// Robustness: what the gate relies on.

fn astronaut() -> RgbImage {
    load_rgb(&fixtures().join("images/astronaut-384.jpg"))
}

fn photo_like() -> RgbImage {
    load_rgb(&fixtures().join("images/photo-like.png"))
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

fn reencode(img: &RgbImage, quality: u8) -> RgbImage {
    image::load_from_memory(&jpeg(img, quality))
        .unwrap()
        .to_rgb8()
}

/// Crops `left`, `top`, `right`, `bottom` (fractions of the width/height) off the image.
fn crop(img: &RgbImage, left: f64, top: f64, right: f64, bottom: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let px = |f: f64, n: u32| (f * f64::from(n)).round() as u32;
    let (x0, y0) = (px(left, w), px(top, h));
    let (x1, y1) = (w - px(right, w), h - px(bottom, h));
    imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image()
}

fn brighten(img: &RgbImage, delta: i32) -> RgbImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (i32::from(*c) + delta).clamp(0, 255) as u8;
        }
    }
    out
}

fn edits(img: &RgbImage) -> Vec<(&'static str, RgbImage)> {
    let (w, h) = img.dimensions();
    vec![
        ("jpeg q60", reencode(img, 60)),
        (
            "resize 50%",
            imageops::resize(img, w / 2, h / 2, imageops::FilterType::Triangle),
        ),
        ("crop 1% each side", crop(img, 0.01, 0.01, 0.01, 0.01)),
        ("crop 2% right", crop(img, 0.0, 0.0, 0.02, 0.0)),
        ("crop 2% bottom", crop(img, 0.0, 0.0, 0.0, 0.02)),
        ("crop 2% left+top", crop(img, 0.02, 0.02, 0.0, 0.0)),
        ("crop 2% each side", crop(img, 0.02, 0.02, 0.02, 0.02)),
        ("brightness +30", brighten(img, 30)),
        ("brightness -30", brighten(img, -30)),
        (
            "resize 50% + jpeg q60",
            reencode(
                &imageops::resize(img, w / 2, h / 2, imageops::FilterType::CatmullRom),
                60,
            ),
        ),
    ]
}

/// Edits that must still match (≤ 31) — asserted.
const MUST_MATCH: &[&str] = &[
    "jpeg q60",
    "resize 50%",
    "crop 1% each side",
    "brightness +30",
    "brightness -30",
    "resize 50% + jpeg q60",
];

fn edit_distances(img: &RgbImage) -> Vec<(&'static str, u32)> {
    let orig = hash_image(img);
    edits(img)
        .into_iter()
        .map(|(edit, edited)| (edit, orig.distance(&hash_image(&edited).hash)))
        .collect()
}

/// Re-saved, resized, lightly cropped or brightened copies of a rejected photo must match.
/// PDQ is not crop-invariant: 2% off one or two edges lands at 24–38 bits on these images,
/// around the threshold, so those rows are printed, not asserted (see the module report).
#[test]
fn near_duplicates_match() {
    for (name, img) in [("astronaut", astronaut()), ("photo-like", photo_like())] {
        assert!(hash_image(&img).is_trusted());
        for (edit, d) in edit_distances(&img) {
            let must = MUST_MATCH.contains(&edit);
            println!(
                "{name:<11} {edit:<22} distance {d:>3}{}",
                if must { "" } else { "  (not asserted)" }
            );
            if must {
                assert!(d <= MATCH_THRESHOLD, "{name} {edit}: distance {d}");
            }
        }
    }
}

/// The same edits on any images in `PDQ_ROBUSTNESS_DIR` (e.g. ThreatExchange's test photos,
/// which must not be committed): prints the distances.
#[test]
#[ignore = "needs PDQ_ROBUSTNESS_DIR"]
fn robustness_report_on_directory() {
    let dir = PathBuf::from(std::env::var("PDQ_ROBUSTNESS_DIR").expect("PDQ_ROBUSTNESS_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        if !matches!(
            f.extension().and_then(|e| e.to_str()),
            Some("png" | "jpg" | "jpeg")
        ) {
            continue;
        }
        let img = load_rgb(&f);
        let row: Vec<String> = edit_distances(&img)
            .iter()
            .map(|(e, d)| format!("{e}={d}"))
            .collect();
        println!(
            "{}: {}",
            f.file_name().unwrap().to_string_lossy(),
            row.join(", ")
        );
    }
}

#[test]
fn mirror_image_matches_through_mirror_hash() {
    for (name, img) in [("astronaut", astronaut()), ("photo-like", photo_like())] {
        let (orig, mirror) = hash_with_mirror(&img);
        let flipped = hash_image(&imageops::flip_horizontal(&img));
        let d_plain = orig.distance(&flipped.hash);
        let d_mirror = mirror.distance(&flipped.hash);
        println!(
            "{name:<11} mirrored upload: vs original hash {d_plain}, vs mirror hash {d_mirror}"
        );
        // Not 0: decimation samples cell centres rounded down, and even box windows are not
        // symmetric, so the DCT of the flipped image is not exactly the flipped DCT. Small images
        // (photo-like is 200×150) show it most.
        assert!(
            d_mirror <= MATCH_THRESHOLD,
            "{name}: mirror hash is {d_mirror} from the mirrored image's hash"
        );
        assert!(
            d_plain > MATCH_THRESHOLD,
            "{name}: a mirror should need the mirror hash"
        );
        // Mirror + re-encode still matches through the mirror hash.
        let d = mirror.distance(&hash_image(&reencode(&imageops::flip_horizontal(&img), 60)).hash);
        assert!(d <= MATCH_THRESHOLD, "{name}: mirrored + jpeg q60: {d}");
        // The other dihedral variants too.
        let dih = pdq::hash_dihedral(&img);
        let checks = [
            (Dihedral::Rotate90, imageops::rotate270(&img)),
            (Dihedral::Rotate180, imageops::rotate180(&img)),
            (Dihedral::Rotate270, imageops::rotate90(&img)),
            (Dihedral::FlipX, imageops::flip_vertical(&img)),
            (Dihedral::FlipPlus1, transpose(&img)),
            (Dihedral::FlipMinus1, imageops::rotate180(&transpose(&img))),
        ];
        for (which, transformed) in checks {
            let d = dih.get(which).distance(&hash_image(&transformed).hash);
            println!("{name:<11} {which:?}: derived hash vs hash of transformed image {d}");
            // The small (200×150) photo-like image strays furthest (Rotate180: 44); the
            // reference derives the same hashes (checked bit-for-bit above), so only the
            // photo-sized astronaut is held to the threshold here.
            if name == "astronaut" {
                assert!(d <= MATCH_THRESHOLD, "{name} {which:?}: {d}");
            }
        }
    }
}

#[test]
fn unrelated_images_are_far_apart() {
    let dir = fixtures().join("images");
    let names = [
        "astronaut-160",
        "photo-like",
        "shapes",
        "noise",
        "noise-smooth",
        "rings",
        "checker",
    ];
    let hashes: Vec<(&str, Pdq)> = names
        .iter()
        .map(|n| (*n, hash_image(&load_rgb(&dir.join(format!("{n}.png"))))))
        .collect();
    let mut dists = Vec::new();
    for (i, (a, ha)) in hashes.iter().enumerate() {
        assert!(ha.quality >= MIN_QUALITY, "{a}: quality {}", ha.quality);
        for (b, hb) in &hashes[i + 1..] {
            let d = ha.distance(&hb.hash);
            println!("{a:<14} vs {b:<14} distance {d}");
            dists.push(d);
            assert!(d > 2 * MATCH_THRESHOLD, "{a} vs {b}: {d}");
        }
    }
    dists.sort_unstable();
    println!(
        "unrelated pairs: min {} median {} max {}",
        dists[0],
        dists[dists.len() / 2],
        dists[dists.len() - 1]
    );
}

#[test]
fn flat_images_are_untrusted() {
    for (w, h, v) in [(100, 100, 128u8), (640, 480, 0), (333, 222, 255)] {
        let p = hash_image(&RgbImage::from_pixel(w, h, image::Rgb([v, v, v])));
        assert!(
            p.quality < MIN_QUALITY && !p.is_trusted(),
            "{w}x{h}: {}",
            p.quality
        );
    }
    // Nearly flat (a faint gradient) is untrusted too.
    let faint = RgbImage::from_fn(300, 200, |x, _| {
        let v = 100 + (x / 60) as u8;
        image::Rgb([v, v, v])
    });
    assert!(hash_image(&faint).quality < MIN_QUALITY);
}

#[test]
fn hex_round_trips_with_reference_strings() {
    // The Java reference test's expectation for bridge-1-original.jpg.
    let s = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    let h = Pdq::from_hex(s).unwrap();
    assert_eq!(
        Pdq {
            hash: h,
            quality: 100
        }
        .to_hex(),
        s
    );
    assert_eq!(Pdq::from_hex(&s.to_uppercase()), Some(h));
    assert_eq!(Pdq::from_hex(&s[1..]), None);
    let json = serde_json::to_string(&Pdq {
        hash: h,
        quality: 77,
    })
    .unwrap();
    assert_eq!(json, format!("{{\"hash\":\"{s}\",\"quality\":77}}"));
    assert_eq!(serde_json::from_str::<Pdq>(&json).unwrap().hash, h);
}

#[test]
fn scaled_jpeg_decode_matches_full_decode() {
    // A 2048×1536 photo (the astronaut stretched, plus the photo-like scene in a corner).
    let mut big = imageops::resize(&astronaut(), 2048, 1536, imageops::FilterType::Triangle);
    let inset = imageops::resize(&photo_like(), 600, 450, imageops::FilterType::Triangle);
    imageops::overlay(&mut big, &inset, 1300, 900);
    let bytes = jpeg(&big, 85);
    let full = hash_image(&image::load_from_memory(&bytes).unwrap().to_rgb8());
    let scaled = hash_jpeg(&bytes).unwrap();
    let d = full.distance(&scaled.hashes[Dihedral::Original as usize]);
    println!("2048x1536 JPEG: scaled decode (1/2) vs full decode: distance {d}");
    assert!(d <= 8, "scaled decode moved the hash by {d}");
    assert_eq!(scaled.quality, full.quality);
    // Grey JPEG path.
    let grey = image::DynamicImage::ImageRgb8(big).to_luma8();
    let mut gbytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut gbytes, 85)
        .write_image(
            grey.as_raw(),
            grey.width(),
            grey.height(),
            image::ExtendedColorType::L8,
        )
        .unwrap();
    let g = hash_jpeg(&gbytes).unwrap();
    assert!(full.distance(&g.hashes[0]) <= 16);
}

/// Prints `file<TAB>quality<TAB>hash` (`hash_image`, f32 luma) for every PNG/JPEG in
/// `PDQ_PRINT_DIR`, to compare with other implementations by hand.
#[test]
#[ignore = "needs PDQ_PRINT_DIR"]
fn print_hashes_of_directory() {
    let dir = PathBuf::from(std::env::var("PDQ_PRINT_DIR").expect("PDQ_PRINT_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        if matches!(
            f.extension().and_then(|e| e.to_str()),
            Some("png" | "jpg" | "jpeg")
        ) {
            let p = hash_image(&load_rgb(&f));
            println!(
                "PDQ\t{}\t{}\t{}",
                f.file_name().unwrap().to_string_lossy(),
                p.quality,
                p.to_hex()
            );
        }
    }
}

fn transpose(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    RgbImage::from_fn(h, w, |x, y| *img.get_pixel(y, x))
}
