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

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// Little-endian EXIF: IFD0 (Make, Model, ImageDescription, Orientation, GPS pointer) + GPS IFD.
fn exif() -> Vec<u8> {
    let mut t = b"Exif\0\0II*\0\x08\0\0\0".to_vec();
    let base = 6;
    let ifd0_entries = 5u16;
    let gps_at = 8 + 2 + 12 * ifd0_entries as u32 + 4;
    let gps_entries = 2u16;
    let data_at = gps_at + 2 + 12 * gps_entries as u32 + 4;
    let make = b"BenchCam\0";
    let model = b"Model 12MP\0";
    let desc = b"Sports day, class 4 relay race\0";
    let lat: Vec<u8> = [(51u32, 1u32), (30, 1), (1234, 100)]
        .iter()
        .flat_map(|(a, b)| a.to_le_bytes().into_iter().chain(b.to_le_bytes()))
        .collect();
    let mut data = Vec::new();
    let mut entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, v: &[u8]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&typ.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        if v.len() <= 4 {
            let mut x = v.to_vec();
            x.resize(4, 0);
            t.extend_from_slice(&x);
        } else {
            t.extend_from_slice(&(data_at + data.len() as u32).to_le_bytes());
            data.extend_from_slice(v);
        }
    };
    t.extend_from_slice(&ifd0_entries.to_le_bytes());
    entry(&mut t, 0x010E, 2, desc.len() as u32, desc);
    entry(&mut t, 0x010F, 2, make.len() as u32, make);
    entry(&mut t, 0x0110, 2, model.len() as u32, model);
    entry(&mut t, 0x0112, 3, 1, &6u16.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, &gps_at.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() - base, gps_at as usize);
    t.extend_from_slice(&gps_entries.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, b"N\0");
    entry(&mut t, 0x0002, 5, 3, &lat);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(&data);
    segment(0xE1, &t)
}

fn xmp() -> Vec<u8> {
    let mut p = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    p.extend_from_slice(
        br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description><rdf:Alt><rdf:li xml:lang="x-default">Relay race</rdf:li></rdf:Alt></dc:description><dc:subject><rdf:Bag><rdf:li>sports</rdf:li><rdf:li>school</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"#,
    );
    segment(0xE1, &p)
}

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
    out.extend(exif());
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
