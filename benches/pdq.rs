//! Cost of PDQ-hashing a 12-megapixel photo (4000×3000 JPEG, quality 90).
//!
//! - `jpeg_scaled_decode_and_hash`: what the gate would pay per photo — `pdq::hash_jpeg`
//!   (DCT-scaled decode to 1000×750, then the reference core, all eight dihedral hashes).
//! - `core_on_12mp_pixels`: the reference core alone on already-decoded full-resolution pixels.
//! - `full_decode_then_hash` (reference): decode at full size with `image`, then hash.

use std::hint::black_box;

use consentgate::pdq;
use criterion::{criterion_group, criterion_main, Criterion};
use image::{imageops, ImageEncoder, RgbImage};

fn photo_12mp() -> (RgbImage, Vec<u8>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pdq/images");
    let astro = image::open(dir.join("astronaut-384.jpg"))
        .unwrap()
        .to_rgb8();
    let scene = image::open(dir.join("photo-like.png")).unwrap().to_rgb8();
    let mut big = imageops::resize(&astro, 4000, 3000, imageops::FilterType::Triangle);
    let inset = imageops::resize(&scene, 1600, 1200, imageops::FilterType::Triangle);
    imageops::overlay(&mut big, &inset, 2200, 1600);
    // Sensor-like grain so the JPEG has realistic entropy.
    let mut s = 0x2545F491u32;
    for p in big.pixels_mut() {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let n = (s % 9) as i16 - 4;
        for c in p.0.iter_mut() {
            *c = (i16::from(*c) + n).clamp(0, 255) as u8;
        }
    }
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .write_image(big.as_raw(), 4000, 3000, image::ExtendedColorType::Rgb8)
        .unwrap();
    (big, bytes)
}

fn bench(c: &mut Criterion) {
    let (pixels, jpeg) = photo_12mp();
    let mut g = c.benchmark_group("pdq_12mp");
    g.sample_size(10);
    g.bench_function("jpeg_scaled_decode_and_hash", |b| {
        b.iter(|| pdq::hash_jpeg(black_box(&jpeg)).unwrap())
    });
    g.bench_function("core_on_12mp_pixels", |b| {
        b.iter(|| pdq::hash_image(black_box(&pixels)))
    });
    g.bench_function("full_decode_then_hash", |b| {
        b.iter(|| {
            let img = image::load_from_memory(black_box(&jpeg)).unwrap().to_rgb8();
            pdq::hash_image(&img)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
