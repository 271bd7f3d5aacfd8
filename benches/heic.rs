//! HEIC speed on a real 12-megapixel iPhone photo (4032×3024, a grid of 512×512 HEVC tiles, EXIF,
//! ICC profile, thumbnail) from the shared corpus (`../shared/corpus/metadata`; the bench says
//! SKIP without it — the project does not commit third-party photos).
//!
//! - `strip`: the lossless container rewrite alone (target ≥ 300 MB/s), and `clean` with the
//!   re-parse check (libheif reads the output's headers).
//! - `decode_for_faces_heic` vs `decode_for_faces_jpeg`: the face stage's decode of the clean
//!   HEIC, and of the same picture as a 12 MP JPEG (quality 92) — the baseline for the ≤ 2× target.

use std::hint::black_box;
use std::path::Path;

use consentgate::formats::{clean, decode_rgb, strip_unverified, Limits};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::ImageEncoder;

const PHOTO: &str = "../shared/corpus/metadata/exifr/exifr__test_fixtures_heic-iphone.heic";

fn bench(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(PHOTO);
    let Ok(input) = std::fs::read(&path) else {
        eprintln!("SKIP heic bench: {} is absent", path.display());
        return;
    };
    let limits = Limits::default();
    let cleaned = clean(&input, &limits).expect("the corpus HEIC cleans");
    let rgb = decode_rgb(&cleaned.bytes).expect("decode");
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode");
    eprintln!(
        "bench input: {:.2} MB HEIC {}x{}, clean {:.2} MB; same picture as JPEG q92 {:.2} MB",
        input.len() as f64 / 1e6,
        cleaned.width,
        cleaned.height,
        cleaned.bytes.len() as f64 / 1e6,
        jpeg.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group("heic_12mp");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("strip", |b| {
        b.iter(|| strip_unverified(black_box(&input), &limits).expect("strip"))
    });
    g.bench_function("clean", |b| {
        b.iter(|| clean(black_box(&input), &limits).expect("clean"))
    });
    g.finish();

    let mut g = c.benchmark_group("decode_for_faces_12mp");
    g.sample_size(10);
    g.bench_function("heic", |b| {
        b.iter(|| {
            consentgate::faces::decode_upright_at_least(black_box(&cleaned.bytes), 2048)
                .expect("decode")
        })
    });
    g.bench_function("jpeg_baseline", |b| {
        b.iter(|| {
            consentgate::faces::decode_upright_at_least(black_box(&jpeg), 2048).expect("decode")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
