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

use consentgate::faces::{CloseLook, Cue, EngineOptions, FaceEngine, FinePass};
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
                    cue: Cue::CenterFace,
                    scale: 0.5,
                    threshold: 0.1,
                    reach: None,
                },
                ..base
            },
        ),
        (
            "cued-0.5-t0.15",
            EngineOptions {
                close_look: CloseLook::WhereCued {
                    cue: Cue::CenterFace,
                    scale: 0.5,
                    threshold: 0.15,
                    reach: None,
                },
                ..base
            },
        ),
        (
            "cued-0.33",
            EngineOptions {
                close_look: CloseLook::WhereCued {
                    cue: Cue::CenterFace,
                    scale: 0.34,
                    threshold: 0.03,
                    reach: None,
                },
                ..base
            },
        ),
    ];
    let pick = std::env::var("CROWDS_STRATEGIES").ok();
    let mut chosen: Vec<(String, EngineOptions)> = all
        .into_iter()
        .filter(|(n, _)| match &pick {
            Some(p) => p.split(',').any(|x| x == *n),
            None => bench || *n == "native",
        })
        .map(|(n, o)| (n.to_string(), o))
        .collect();
    // Any cue by name: `retinaface-0.7-t0.02`, `centerface-0.5-t0.05-r8` (cue, scale, threshold,
    // and the close look's reach around each candidate in its heights; whole tiles without it).
    for name in pick.iter().flat_map(|p| p.split(',')) {
        let mut parts = name.split('-');
        let cue = match parts.next() {
            Some("retinaface") => Cue::RetinaFace,
            Some("centerface") => Cue::CenterFace,
            _ => continue,
        };
        let scale = parts.next().and_then(|v| v.parse().ok());
        let threshold = parts
            .next()
            .and_then(|v| v.strip_prefix('t'))
            .and_then(|v| v.parse().ok());
        let (Some(scale), Some(threshold)) = (scale, threshold) else {
            panic!("strategy {name}: write cue-scale-tthreshold[-rREACH], e.g. retinaface-0.7-t0.02-r8");
        };
        let reach = parts
            .next()
            .and_then(|v| v.strip_prefix('r'))
            .and_then(|v| v.parse().ok());
        let close_look = CloseLook::WhereCued {
            cue,
            scale,
            threshold,
            reach,
        };
        // `-float`: the float close look where the int8 one would run (VNNI CPUs); `-c0.3`: the
        // close look's threshold; `-s1.25`: its scale; `-cue8`: the int8 cue (VNNI CPUs).
        let float = name.split('-').any(|p| p == "float");
        let cue8 = name.split('-').any(|p| p == "cue8");
        let close_threshold = name
            .split('-')
            .find_map(|p| p.strip_prefix('c').and_then(|v| v.parse().ok()))
            .unwrap_or(base.close_threshold);
        let close_scale = name
            .split('-')
            .find_map(|p| p.strip_prefix('s').and_then(|v| v.parse().ok()))
            .unwrap_or(base.close_scale);
        chosen.push((
            name.to_string(),
            EngineOptions {
                close_look,
                int8_close: base.int8_close && !float,
                int8_cue: cue8 && base.int8_close,
                close_threshold,
                close_scale,
                ..base
            },
        ));
    }
    // CROWDS_CUE=retinaface-0.7,centerface-0.5: the cue alone, per threshold: the share of faces
    // it sees (a face it sees gets the close look), and its candidates in faceless photos (each
    // asks for close-look tiles there: cost, not false faces).
    if let Ok(cues) = std::env::var("CROWDS_CUE") {
        for name in cues.split(',') {
            let (cue, scale) = match name.split_once('-') {
                Some(("retinaface", s)) => (Cue::RetinaFace, s.parse().expect("scale")),
                Some(("centerface", s)) => (Cue::CenterFace, s.parse().expect("scale")),
                _ => panic!("CROWDS_CUE: write retinaface-0.7 or centerface-0.5"),
            };
            let engine = FaceEngine::with_options(EngineOptions {
                embed: false,
                close_look: CloseLook::WhereCued {
                    cue,
                    scale,
                    threshold: 0.02,
                    reach: None,
                },
                ..EngineOptions::default()
            })
            .expect("engine");
            let t = Instant::now();
            let seen: Vec<Vec<([f32; 4], f32)>> = scenes
                .par_iter()
                .map(|s| &s.1)
                .chain(faceless.par_iter())
                .map(|b| {
                    engine
                        .cue_candidates(b)
                        .expect("cue")
                        .into_iter()
                        .map(|(f, score)| ([f.x, f.y, f.x + f.width, f.y + f.height], score))
                        .collect()
                })
                .collect();
            let secs =
                t.elapsed().as_secs_f64() * rayon::current_num_threads() as f64 / seen.len() as f64;
            println!("## cue {name}: ~{secs:.2} s/photo; seen by height at each threshold, candidates per faceless photo");
            for threshold in [
                0.02f32, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.9,
            ] {
                let mut tally = Tally::default();
                let keep = |v: &[([f32; 4], f32)]| -> Vec<[f32; 4]> {
                    v.iter().filter(|c| c.1 > threshold).map(|c| c.0).collect()
                };
                for (s, v) in scenes.iter().zip(&seen) {
                    tally.add(&s.2, &keep(v));
                }
                let ff: usize = seen[scenes.len()..].iter().map(|v| keep(v).len()).sum();
                let row: Vec<String> = tally
                    .table()
                    .lines()
                    .map(|l| {
                        let f: Vec<&str> = l.split_whitespace().collect();
                        format!("{}:{}", f[0], f.last().unwrap_or(&""))
                    })
                    .collect();
                println!(
                    "  t{threshold:<5} {}  faceless {:.1}",
                    row.join(" "),
                    ff as f64 / faceless.len().max(1) as f64
                );
            }
        }
        return;
    }
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
        println!(
            "## {name}: {secs:.2} s/photo, wall {wall:.0} s; false faces {ff} in {} faceless photos; boxes matching no placed face: {} in mosaics (may be real background faces), {} in pasted crowds",
            faceless.len(),
            mosaic.extra,
            pasted.extra
        );
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
