//! Speed of the formats gate on a 12-megapixel JPEG (4000×3000) carrying EXIF with GPS, XMP,
//! a comment and a phone trailer.
//!
//! - `strip`: the lossless part alone (parse, collect captions, copy kept segments), in MB/s.
//! - `clean`: the whole gate, including verification of the output.
//! - `full_decode` (reference): what decoding the output's pixels would add if we verified that
//!   way; this is why `clean` verifies structure + headers instead.

use std::hint::black_box;

use consentgate::formats::{clean, strip_unverified, Limits};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::ImageEncoder;

#[path = "common/metadata.rs"]
mod metadata;
use metadata::{exif, segment, xmp};

/// A 12 MP photo-like JPEG with metadata and a trailer.
fn input() -> Vec<u8> {
    let (w, h) = (4000u32, 3000u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        image::Rgb([
            (x / 16) as u8 ^ n as u8,
            (y / 12) as u8,
            ((x + y) / 28) as u8 ^ (n as u8 * 3),
        ])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("encode");
    let mut out = jpeg[..2].to_vec();
    out.extend(exif("Sports day, class 4 relay race", 6, 0));
    out.extend(xmp());
    out.extend(segment(0xFE, b"Taken by the PE department"));
    out.extend_from_slice(&jpeg[2..]);
    out.extend_from_slice(&vec![0x5A; 200_000]); // phone trailer
    out
}

fn bench(c: &mut Criterion) {
    let input = input();
    let limits = Limits::default();
    let cleaned = clean(&input, &limits).expect("bench input cleans");
    assert!(cleaned.removed.iter().any(|r| r == "EXIF GPS position"));
    eprintln!(
        "bench input: {:.2} MB, output {:.2} MB",
        input.len() as f64 / 1e6,
        cleaned.bytes.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group("formats_12mp_jpeg");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("strip", |b| {
        b.iter(|| strip_unverified(black_box(&input), &limits).expect("strip"))
    });
    g.bench_function("clean", |b| {
        b.iter(|| clean(black_box(&input), &limits).expect("clean"))
    });
    g.sample_size(10);
    g.bench_function("full_decode_reference", |b| {
        b.iter(|| image::load_from_memory(black_box(&cleaned.bytes)).expect("decode"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
