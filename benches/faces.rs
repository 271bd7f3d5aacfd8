//! Speed of the face engine on 12-megapixel JPEGs (4000×3000), built from the committed fixtures:
//!
//! - `people`: the group fixture upscaled to fill the frame plus two portraits pasted in
//!   (6 faces, 300–1000 px): the everyday event photo.
//! - `crowd`: the group fixture tiled 4×4 at 1000×750 (64 faces of ~90 px): an assembly photo,
//!   where the coarse pass sees small faces and the tiled fine pass runs.
//!
//! Reports decode at each DCT scale, detection per input size (single pass), and the whole
//! `faces_in` per photo with its breakdown; then photos/s with one engine shared by 2 threads.
//! Plain `main` (no criterion): these are 0.1–2 s operations; medians of a few runs.

use std::time::{Duration, Instant};

use consentgate::faces::{
    decode_upright, CloseLook, Cue, EngineOptions, FaceEngine, FaceTimings, FinePass,
};
use image::codecs::jpeg::JpegEncoder;
use image::{imageops, RgbImage};
use rayon::prelude::*;

fn fixture(name: &str) -> RgbImage {
    let path = format!("{}/fixtures/faces/{name}", env!("CARGO_MANIFEST_DIR"));
    decode_upright(&std::fs::read(&path).expect("fixture")).expect("decode fixture")
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(image)
        .expect("encode");
    out
}

fn people() -> Vec<u8> {
    let group = fixture("group_of_four.jpg");
    let mut canvas = imageops::resize(&group, 4000, 3017, imageops::FilterType::Triangle);
    let canvas = imageops::crop(&mut canvas, 0, 0, 4000, 3000).to_image();
    let mut canvas = canvas;
    let portrait = fixture("obama_portrait.jpg");
    imageops::overlay(&mut canvas, &portrait, 3400, 2400);
    let blue = imageops::resize(
        &fixture("obama_blue_room.jpg"),
        720,
        720,
        imageops::FilterType::Triangle,
    );
    imageops::overlay(&mut canvas, &blue, 40, 2200);
    jpeg(&canvas)
}

fn crowd() -> Vec<u8> {
    let tile = imageops::resize(
        &fixture("group_of_four.jpg"),
        1000,
        750,
        imageops::FilterType::Triangle,
    );
    let mut canvas = RgbImage::new(4000, 3000);
    for y in 0..4 {
        for x in 0..4 {
            imageops::overlay(&mut canvas, &tile, x * 1000, y * 750);
        }
    }
    jpeg(&canvas)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let _ = f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let photos = [("people", people()), ("crowd", crowd())];
    println!(
        "faces bench: 4000x3000 JPEG q90 ({} and {} KB)",
        photos[0].1.len() / 1024,
        photos[1].1.len() / 1024
    );

    println!("\n## decode (people), median ms");
    let bytes = &photos[0].1;
    println!(
        "full (image crate / zune-jpeg): {}",
        ms(time(5, || image::load_from_memory(bytes).unwrap()))
    );
    println!(
        "full (decode_upright):          {}",
        ms(time(5, || decode_upright(bytes).unwrap()))
    );
    for (label, long) in [("1/2", 2000u32), ("1/4", 1000), ("1/8", 500)] {
        let d = time(5, || {
            let mut dec = jpeg_decoder::Decoder::new(&bytes[..]);
            dec.scale(long as u16, (long * 3 / 4) as u16).unwrap();
            dec.decode().unwrap()
        });
        println!("DCT-scaled {label} ({long} px):       {}", ms(d));
    }

    println!(
        "\n## detection only, single pass, no embedding (people / crowd faces found, median ms)"
    );
    for long in [640u32, 960, 1280] {
        let engine = FaceEngine::with_options(EngineOptions {
            detect_long_side: long,
            embed: false,
            fine_pass: FinePass::Never,
            ..EngineOptions::default()
        })
        .expect("engine");
        let mut row = format!("{long:>5}:");
        for (name, bytes) in &photos {
            let mut found = 0;
            let d = median(
                (0..3)
                    .map(|_| {
                        let (faces, t) = engine.faces_in_timed(bytes).unwrap();
                        found = faces.len();
                        t.detect
                    })
                    .collect(),
            );
            row += &format!("  {name} {found} faces detect {} ms", ms(d));
        }
        println!("{row}");
    }

    println!("\n## faces_in, default engine (640 coarse + fine pass when needed), median of 3");
    let engine = FaceEngine::load().expect("engine");
    for (name, bytes) in &photos {
        let mut runs: Vec<(Duration, FaceTimings, usize)> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let (faces, timings) = engine.faces_in_timed(bytes).unwrap();
                (t.elapsed(), timings, faces.len())
            })
            .collect();
        runs.sort_by_key(|r| r.0);
        let (total, t, n) = runs[1];
        let per = |d: Duration| ms(d / n.max(1) as u32);
        println!(
            "{name}: {n} faces, total {} ms = decode {} + detect {} + fine {} + 2nd decode {} + align/hash {} ({} per face) + embed {} ({} per face)",
            ms(total),
            ms(t.decode),
            ms(t.detect),
            ms(t.fine_detect),
            ms(t.second_decode),
            ms(t.align_hash),
            per(t.align_hash),
            ms(t.embed),
            per(t.embed)
        );
    }

    // The close look by cue, runs interleaved (the machine is noisy): its time (cue + the tiles
    // the cue asked for) and the tiles asked, out of 12.
    println!(
        "\n## close look by cue (median of 5 interleaved runs; ms, tiles asked of 12, MP run)"
    );
    let cued = |cue, scale, threshold, reach| CloseLook::WhereCued {
        cue,
        scale,
        threshold,
        reach,
    };
    let looks = [
        ("everywhere", CloseLook::Everywhere),
        (
            "centerface-0.5-t0.05",
            cued(Cue::CenterFace, 0.5, 0.05, None),
        ),
        (
            "retinaface-0.7-t0.05",
            cued(Cue::RetinaFace, 0.7, 0.05, None),
        ),
        (
            "retinaface-0.7-t0.05-r8",
            cued(Cue::RetinaFace, 0.7, 0.05, Some(8.0)),
        ),
        (
            "retinaface-0.5-t0.02",
            cued(Cue::RetinaFace, 0.5, 0.02, None),
        ),
    ];
    let engines: Vec<FaceEngine> = looks
        .iter()
        .map(|(_, close_look)| {
            FaceEngine::with_options(EngineOptions {
                close_look: *close_look,
                embed: false,
                ..EngineOptions::default()
            })
            .expect("engine")
        })
        .collect();
    for (name, bytes) in &photos {
        let mut runs = vec![Vec::new(); looks.len()];
        for _ in 0..5 {
            for (k, engine) in engines.iter().enumerate() {
                let (faces, t) = engine.faces_in_timed(bytes).unwrap();
                let mp = t.close_pixels as f64 / 1e6;
                runs[k].push((t.fine_detect, t.close_tiles, mp, faces.len()));
            }
        }
        for ((look, _), mut r) in looks.iter().zip(runs) {
            r.sort_by_key(|x| x.0);
            let (d, tiles, mp, n) = r[r.len() / 2];
            println!(
                "{name:>6} {look:<24} close look {:>7} ms, {tiles:>2} tiles, {mp:>5.2} MP, {n} faces",
                ms(d)
            );
        }
    }

    println!("\n## throughput: 8 x people on 2 threads, one shared engine");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    let t = Instant::now();
    pool.install(|| {
        (0..8).into_par_iter().for_each(|_| {
            engine.faces_in(&photos[0].1).unwrap();
        })
    });
    let el = t.elapsed();
    println!(
        "{} ms per photo wall, {:.2} photos/s (faces stage alone)",
        ms(el / 8),
        8.0 / el.as_secs_f64()
    );
}
