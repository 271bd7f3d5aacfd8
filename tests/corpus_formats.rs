//! Every real-world file in ../shared/corpus/metadata through `formats::clean`, checked by exiftool.
//!
//! For each cleaned file: zero identifying tags (exiftool allowlist), ICC profile kept byte for
//! byte, orientation kept (JPEG: same EXIF Orientation; PNG/WebP/TIFF: pixels turned upright),
//! decoded pixels identical to the input's (HEIC: libheif's decode of input and output identical, the
//! `colr` colour profile copied). Files that must be held
//! are listed in EXPECTED_ERRORS with the reason; any other error is a failure too.

use crate::common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use common::exiftool;
use consentgate::formats::{clean, detect, Format, FormatError, Limits};

/// Files that must NOT be released, and why (substring of the file name, error kind).
const EXPECTED_ERRORS: &[(&str, &str, &str)] = &[
    (
        "Tests_images_ultrahdr.jpg",
        "corrupt",
        "Pillow's test file is cut off right after the primary image's scan header: it holds no image data at all",
    ),
    (
        "t_images_QuickTime.heic",
        "unsupported",
        "exiftool's 623-byte test file: an item list (iinf) of version 2, which ISO 23008-12 does not define, and no picture data",
    ),
    (
        "t_images_GeoTiff.tif",
        "unsupported",
        "8-bit palette TIFF, which the image crate's TIFF decoder does not read; held rather than guessed",
    ),
];

fn decode(bytes: &[u8]) -> Result<(image::DynamicImage, Option<Vec<u8>>), String> {
    use image::ImageDecoder;
    let reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut dec = reader.into_decoder().map_err(|e| e.to_string())?;
    let icc = dec.icc_profile().map_err(|e| e.to_string())?;
    let img = image::DynamicImage::from_decoder(dec).map_err(|e| e.to_string())?;
    Ok((img, icc))
}

fn same_pixels(a: &image::DynamicImage, b: &image::DynamicImage) -> bool {
    if a.dimensions_eq(b) && a.color() == b.color() {
        return a.as_bytes() == b.as_bytes();
    }
    a.width() == b.width()
        && a.height() == b.height()
        && a.to_rgba16().as_raw() == b.to_rgba16().as_raw()
}

trait DimEq {
    fn dimensions_eq(&self, o: &Self) -> bool;
}
impl DimEq for image::DynamicImage {
    fn dimensions_eq(&self, o: &Self) -> bool {
        self.width() == o.width() && self.height() == o.height()
    }
}

fn kind(e: &FormatError) -> &'static str {
    match e {
        FormatError::Unsupported(_) => "unsupported",
        FormatError::Corrupt(_) => "corrupt",
        FormatError::TooLarge { .. } => "too large",
    }
}

#[test]
fn corpus_is_cleaned_and_verified_by_exiftool() {
    let Some(dir) = common::corpus("metadata", "corpus_formats") else {
        return;
    };
    let mut files: Vec<PathBuf> = walk(&dir);
    files.retain(|p| p.file_name().is_none_or(|n| n != "NOTICE.tsv"));
    files.sort();
    let tmp = tempfile::tempdir().unwrap();
    let limits = Limits::default();

    let in_tags = exiftool::read_many(&files, true);
    // The oracle must not be vacuous: most corpus inputs carry identifying tags.
    let flagged_inputs = in_tags
        .iter()
        .filter(|t| !exiftool::identifying(t).is_empty())
        .count();
    assert!(
        flagged_inputs * 2 > files.len(),
        "exiftool oracle flags only {flagged_inputs} of {} inputs",
        files.len()
    );
    let (mut kept_orientation, mut turned, mut with_icc, mut texts, mut heics) = (0, 0, 0, 0, 0);
    let mut table: BTreeMap<&'static str, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    // (input index, output path, cleaned)
    let mut outputs = Vec::new();

    let mut slowest = (String::new(), 0.0f64);
    for (i, path) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(path).unwrap();
        let fmt = detect(&bytes);
        let expected = EXPECTED_ERRORS.iter().find(|(n, _, _)| name.contains(n));
        let t = std::time::Instant::now();
        let result = clean(&bytes, &limits);
        // Speed is measured in benches/, not asserted here (a loaded machine is slow); the
        // slowest file is printed.
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if ms > slowest.1 {
            slowest = (name.clone(), ms);
        }
        match result {
            Err(e) => {
                *table
                    .entry(fmt.name())
                    .or_default()
                    .entry(kind(&e))
                    .or_default() += 1;
                match (fmt, expected) {
                    (_, Some((_, k, _))) if *k == kind(&e) => notes.push(format!("{name}: {e}")),
                    _ => failures.push(format!("{name}: unexpected error: {e}")),
                }
            }
            Ok(c) => {
                *table
                    .entry(fmt.name())
                    .or_default()
                    .entry("cleaned")
                    .or_default() += 1;
                if let Some((_, k, why)) = expected {
                    failures.push(format!("{name}: expected {k} ({why}) but it was cleaned"));
                }
                let out = tmp.path().join(format!("{i:03}.{}", c.extension));
                std::fs::write(&out, &c.bytes).unwrap();
                outputs.push((i, out, c, bytes));
            }
        }
    }

    let out_paths: Vec<PathBuf> = outputs.iter().map(|(_, p, _, _)| p.clone()).collect();
    let out_tags = exiftool::read_many(&out_paths, false);
    let out_tags_n = exiftool::read_many(&out_paths, true);
    for (k, (i, _, c, bytes)) in outputs.iter().enumerate() {
        let name = files[*i].file_name().unwrap().to_string_lossy().to_string();
        let bad = exiftool::identifying(&out_tags[k]);
        if !bad.is_empty() {
            failures.push(format!(
                "{name}: identifying tags remain: {}",
                bad.join("; ")
            ));
        }
        let in_orient = exiftool::orientation(&in_tags[*i]).unwrap_or(1);
        let out_orient = exiftool::orientation(&out_tags_n[k]).unwrap_or(1);
        let src_fmt = detect(bytes);
        texts += c.embedded_text.len();
        if src_fmt == Format::Heic {
            heics += 1;
            check_heic(&name, bytes, c, &mut failures);
            continue;
        }
        let rotated = src_fmt != Format::Jpeg && in_orient != 1;
        if in_orient != 1 {
            if rotated {
                turned += 1;
            } else {
                kept_orientation += 1;
            }
        }
        if src_fmt == Format::Jpeg {
            if out_orient != in_orient {
                failures.push(format!(
                    "{name}: orientation {in_orient} became {out_orient}"
                ));
            }
        } else if out_orient != 1 {
            failures.push(format!("{name}: output still has orientation {out_orient}"));
        }
        match (decode(bytes), decode(&c.bytes)) {
            (Ok((mut a, icc_in)), Ok((b, icc_out))) => {
                if rotated {
                    if let Some(o) = image::metadata::Orientation::from_exif(in_orient as u8) {
                        a.apply_orientation(o);
                    }
                }
                if !same_pixels(&a, &b) {
                    failures.push(format!("{name}: decoded pixels differ from the input's"));
                }
                with_icc += usize::from(icc_in.is_some());
                if icc_in.is_some() && icc_in != icc_out {
                    failures.push(format!("{name}: ICC profile not preserved"));
                }
                let shown = if src_fmt == Format::Jpeg && (5..=8).contains(&in_orient) {
                    (b.height(), b.width())
                } else {
                    (b.width(), b.height())
                };
                if shown != (c.width, c.height) {
                    failures.push(format!(
                        "{name}: reported size {}x{} but shows {}x{}",
                        c.width, c.height, shown.0, shown.1
                    ));
                }
            }
            (Err(ea), Err(eb)) => notes.push(format!(
                "{name}: neither input nor output decodes with `image` ({ea} / {eb})"
            )),
            (Ok(_), Err(e)) => failures.push(format!("{name}: output does not decode: {e}")),
            (Err(e), Ok(_)) => notes.push(format!(
                "{name}: input does not decode with `image` ({e}) but the output does"
            )),
        }
    }

    println!(
        "\n{:<8} {:>8} {:>12} {:>8} {:>10}",
        "format", "cleaned", "unsupported", "corrupt", "too large"
    );
    for (fmt, counts) in &table {
        let g = |k: &str| counts.get(k).copied().unwrap_or(0);
        println!(
            "{:<8} {:>8} {:>12} {:>8} {:>10}",
            fmt,
            g("cleaned"),
            g("unsupported"),
            g("corrupt"),
            g("too large")
        );
    }
    println!(
        "\n{flagged_inputs} of {} inputs had identifying tags; {kept_orientation} JPEG orientations kept, \
         {turned} pictures turned upright, {with_icc} ICC profiles kept, {texts} embedded texts collected",
        files.len()
    );
    println!("{heics} HEIC/HEIF files cleaned and decoded to the same pixels");
    println!("slowest clean(): {} in {:.0} ms", slowest.0, slowest.1);
    assert!(
        heics >= 6,
        "the corpus's iPhone, Nokia and test-suite HEICs are cleaned ({heics})"
    );
    println!("\nnotes:");
    for n in &notes {
        println!("  {n}");
    }
    println!("\nfailures: {}", failures.len());
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} corpus failures (see the list above)",
        failures.len()
    );
}

/// A HEIC's `colr` box holding an ICC profile (`prof`/`rICC`), whole.
fn heic_icc(bytes: &[u8]) -> Option<&[u8]> {
    let at = bytes
        .windows(8)
        .position(|w| w == b"colrprof" || w == b"colrrICC")?;
    let start = at.checked_sub(4)?;
    let len = u32::from_be_bytes(bytes[start..at].try_into().ok()?) as usize;
    bytes.get(start..start + len)
}

/// HEIC: same pixels as libheif decodes them (irot/imir applied to both), size as shown, and the
/// ICC profile copied byte for byte.
fn check_heic(
    name: &str,
    input: &[u8],
    c: &consentgate::formats::Cleaned,
    failures: &mut Vec<String>,
) {
    use consentgate::formats::decode_rgb;
    match (decode_rgb(input), decode_rgb(&c.bytes)) {
        (Ok(a), Ok(b)) => {
            if a != b {
                failures.push(format!("{name}: decoded pixels differ from the input's"));
            }
            if b.dimensions() != (c.width, c.height) {
                failures.push(format!(
                    "{name}: reported size {}x{} but shows {:?}",
                    c.width,
                    c.height,
                    b.dimensions()
                ));
            }
        }
        (a, b) => failures.push(format!(
            "{name}: HEIC decode failed: input {:?} / output {:?}",
            a.err(),
            b.err()
        )),
    }
    if let Some(icc) = heic_icc(input) {
        if !c.bytes.windows(icc.len()).any(|w| w == icc) {
            failures.push(format!("{name}: ICC profile not preserved"));
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
