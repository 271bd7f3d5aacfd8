//! `cargo bench --bench crowds`: detection recall by face height and cost per 12 MP photo, for
//! each detection strategy (issue 10), on crowds built from real faces.
//!
//! Faces: `../shared/corpus/faces` (real photos from public test suites; never copied into the
//! repository), else the committed `fixtures/faces`. Their truth is what the detector finds on
//! each source at its own, large size (score ≥ 0.5). Scenes, 4032×3024 JPEG q90, deterministic:
//! per height in `crowd::HEIGHTS`, `CROWDS_SCENES` (default 2) mosaics of whole photos shrunk so
//! their faces have that height and as many pasted crowds (the faces alone, in rows, over a
//! background photo); plus 20 faceless photos (landscapes, artwork, text, patterns) for false
//! faces. Reports recall per height bucket, false faces per faceless photo, and detection
//! seconds per photo (one thread).
//!
//! `CROWDS_STRATEGIES=shipped,native` picks strategies by name. Without `--bench` (as
//! `cargo test --all-targets` runs it) a smoke version: one small scene, one strategy.
#[path = "../tests/common/crowd.rs"]
mod crowd;

use std::time::Instant;

use consentgate::faces::{CloseLook, EngineOptions, FaceEngine, FinePass};
use crowd::{Scene, Source, Tally};
use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;
use rayon::prelude::*;

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(image)
        .expect("encode");
    out
}

fn boxes(engine: &FaceEngine, bytes: &[u8]) -> (Vec<[f32; 4]>, f64) {
    let t = Instant::now();
    let faces = engine.faces_in(bytes).expect("faces_in");
    let s = t.elapsed().as_secs_f64();
    (
        faces
            .iter()
            .map(|f| {
                let b = f.bbox;
                [b.x, b.y, b.x + b.width, b.y + b.height]
            })
            .collect(),
        s,
    )
}

/// The real face photos and their truth.
pub fn sources() -> Vec<Source> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/faces");
    let dir = if corpus.is_dir() {
        corpus
    } else {
        eprintln!("crowds: ../shared/corpus/faces absent; using fixtures/faces only");
        root.join("fixtures/faces")
    };
    let truth_engine = FaceEngine::with_options(EngineOptions {
        embed: false,
        fine_pass: FinePass::Always,
        ..EngineOptions::default()
    })
    .expect("engine");
    crowd::load_sources(&dir, &truth_engine)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    // CROWDS_CANVAS=2016x1512 explores faster: recall per face does not depend on the canvas
    // (the close look is local); false faces are then per quarter of a 12 MP photo.
    let (w, h) = std::env::var("CROWDS_CANVAS")
        .ok()
        .and_then(|v| {
            let (a, b) = v.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or(if bench { (4032, 3024) } else { (1344, 1008) });
    let per_height: u64 = std::env::var("CROWDS_SCENES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 2 } else { 1 });
    let t = Instant::now();
    let sources = sources();
    for s in &sources {
        eprintln!(
            "  source {:<24} {:>3} faces, median height {:.0} px",
            s.name,
            s.faces.len(),
            s.face_height()
        );
    }
    let backgrounds: Vec<RgbImage> = (0..4)
        .map(|k| crowd::faceless(0, 1600, 1200, 100 + k))
        .collect();
    let heights: Vec<u32> = match std::env::var("CROWDS_HEIGHTS") {
        Ok(v) => v.split(',').filter_map(|x| x.parse().ok()).collect(),
        Err(_) if bench => crowd::HEIGHTS.to_vec(),
        Err(_) => vec![24],
    };
    let scenes: Vec<(String, Vec<u8>, Vec<[f32; 4]>)> = heights
        .par_iter()
        .flat_map(|&px| {
            (0..per_height)
                .flat_map(|k| {
                    let bg = &backgrounds[(k as usize + px as usize) % backgrounds.len()];
                    let m: Scene =
                        crowd::mosaic(&sources, Some(bg), px, w, h, u64::from(px) * 100 + k);
                    let c: Scene =
                        crowd::pasted_crowd(&sources, Some(bg), px, w, h, u64::from(px) * 100 + k);
                    [
                        (format!("mosaic-{px}-{k}"), jpeg(&m.image), m.faces),
                        (format!("crowd-{px}-{k}"), jpeg(&c.image), c.faces),
                    ]
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let faceless: Vec<Vec<u8>> = (0..if bench { 20 } else { 2 })
        .into_par_iter()
        .map(|k| jpeg(&crowd::faceless(k, w, h, 7 + k as u64)))
        .collect();
    let faces: usize = scenes.iter().map(|s| s.2.len()).sum();
    eprintln!(
        "crowds: {} scenes ({faces} faces) + {} faceless photos, {w}x{h}, made in {:.1} s",
        scenes.len(),
        faceless.len(),
        t.elapsed().as_secs_f64()
    );

    // The whole-picture close look; `cued-0.5` is what consentgate ships (`[faces] close_look`).
    let base = EngineOptions {
        embed: false,
        close_look: CloseLook::Everywhere,
        ..EngineOptions::default()
    };
    let all: Vec<(&str, EngineOptions)> = vec![
        (
            "shipped",
            EngineOptions {
                close_look: CloseLook::Never,
                ..base
            },
        ),
        ("native", base),
        (
            "native-t0.3",
            EngineOptions {
                close_threshold: 0.3,
                ..base
            },
        ),
        (
            "native-t0.25",
            EngineOptions {
                close_threshold: 0.25,
                ..base
            },
        ),
        (
            "native-t0.2",
            EngineOptions {
                close_threshold: 0.2,
                ..base
            },
        ),
        (
            "x1.5-t0.3",
            EngineOptions {
                close_threshold: 0.3,
                close_scale: 1.5,
                ..base
            },
        ),
        (
            "x1.5-t0.35",
            EngineOptions {
                close_scale: 1.5,
                ..base
            },
        ),
        (
            "cued-0.5",
            EngineOptions {
                close_look: CloseLook::CUED,
                ..base
            },
        ),
        (
            "cued-0.5-t0.1",
            EngineOptions {
                close_look: CloseLook::WhereCued {
                    scale: 0.5,
                    threshold: 0.1,
                },
                ..base
            },
        ),
        (
            "cued-0.5-t0.15",
            EngineOptions {
                close_look: CloseLook::WhereCued {
                    scale: 0.5,
                    threshold: 0.15,
                },
                ..base
            },
        ),
        (
            "cued-0.33",
            EngineOptions {
                close_look: CloseLook::WhereCued {
                    scale: 0.34,
                    threshold: 0.03,
                },
                ..base
            },
        ),
    ];
    let pick = std::env::var("CROWDS_STRATEGIES").ok();
    let chosen: Vec<_> = all
        .into_iter()
        .filter(|(n, _)| match &pick {
            Some(p) => p.split(',').any(|x| x == *n),
            None => bench || *n == "native",
        })
        .collect();
    println!("\ncrowds: recall by face height (px), false faces, detection s/photo (1 thread)");
    for (name, options) in chosen {
        let engine = FaceEngine::with_options(options).expect("engine");
        let t = Instant::now();
        let results: Vec<(Vec<[f32; 4]>, f64)> =
            scenes.par_iter().map(|s| boxes(&engine, &s.1)).collect();
        let false_faces: Vec<(usize, f64)> = faceless
            .par_iter()
            .map(|b| {
                let (f, s) = boxes(&engine, b);
                (f.len(), s)
            })
            .collect();
        let wall = t.elapsed().as_secs_f64();
        let mut tally = Tally::default();
        let (mut mosaic, mut pasted) = (Tally::default(), Tally::default());
        for (s, (found, _)) in scenes.iter().zip(&results) {
            tally.add(&s.2, found);
            if s.0.starts_with("mosaic") {
                mosaic.add(&s.2, found);
            } else {
                pasted.add(&s.2, found);
            }
        }
        let secs: f64 = results
            .iter()
            .map(|r| r.1)
            .chain(false_faces.iter().map(|f| f.1))
            .sum::<f64>()
            / (results.len() + false_faces.len()) as f64;
        let ff: usize = false_faces.iter().map(|f| f.0).sum();
        println!("## {name}: {secs:.2} s/photo, wall {wall:.0} s; false faces {ff} in {} faceless photos", faceless.len());
        println!("  height   found/total  recall   (mosaics | pasted crowds)");
        let lines_m: Vec<String> = mosaic.table().lines().map(String::from).collect();
        let lines_p: Vec<String> = pasted.table().lines().map(String::from).collect();
        for (k, line) in tally.table().lines().enumerate() {
            println!(
                "{line}   | {} | {}",
                lines_m.get(k).map_or("", |l| l.trim()),
                lines_p.get(k).map_or("", |l| l.trim())
            );
        }
        let r = |lo, hi| {
            tally
                .recall_between(lo, hi)
                .map_or("n/a".to_string(), |v| format!("{v:.3}"))
        };
        println!(
            "  summary {name}: recall >=24 px {} (target 0.97), 16-23 px {} (target 0.90), false faces {:.2}/20 faceless (target <= 1), {secs:.2} s/photo",
            r(24, 10_000),
            r(16, 24),
            ff as f64 * 20.0 / faceless.len().max(1) as f64
        );
    }
}
