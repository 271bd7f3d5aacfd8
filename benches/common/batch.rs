//! Whole-batch wall clock: `consentgate run` against `exiftool -all=` over the same photos.
//!
//! Target (from the issue): `run` over 48 twelve-megapixel JPEGs in no more than 2× the wall time
//! of `exiftool -all=` over the same files, on the machine the bench runs on.
//!
//! Once per invocation, 48 distinct 4000×3000 JPEGs (quality 90, noise + gradients seeded by the
//! file's index) are generated into a temporary folder, each carrying an EXIF APP1 (GPS, Make,
//! Model, ImageDescription with a caption that names nobody) and an XMP APP1. Then, per repetition:
//!
//! - **consentgate**: a fresh workspace (`consentgate init`, `settle_seconds = 0`, a register of
//!   a few hundred synthetic students so caption matching does real work), the photos copied into
//!   `staging/` and flushed to disk (`sync`) before the timer; timed: only
//!   `consentgate -w DIR run --channel website --json`.
//! - **exiftool** (headline baseline): the photos copied into a fresh folder and synced; timed:
//!   `exiftool -q -all= -overwrite_original FILES…` (one process over every file).
//! - **exiftool -o** (second reference): `exiftool -q -all= -o OUTDIR/ DIR/`.
//!
//! Both tools read from a warm page cache. consentgate fsyncs every file it releases (and the
//! folders), exiftool does not; that is part of the comparison.
//!
//! `cargo bench --bench gate_batch` runs the full batch. Set `GATE_BATCH_REPS` to change the
//! number of repetitions (default 5, at least 3). Without `--bench` (e.g. `cargo test
//! --all-targets`) it runs a tiny smoke version: 4 small photos, one repetition, no target check.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::metadata::{exif, xmp};
use image::ImageEncoder;
use rayon::prelude::*;

/// The binary under test: this build's, or `GATE_BIN` (a saved build, for before/after runs
/// interleaved in one session).
fn bin() -> String {
    std::env::var("GATE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_consentgate").to_string())
}

/// Built twice (Cargo.toml): `gate_batch` (no faces, against exiftool) and `gate_people` (photos of
/// people through the whole gate with faces on: target >= 5 photos/s, reported with recall).
fn people_mode() -> bool {
    env!("CARGO_CRATE_NAME") == "gate_people"
}

/// Face fixtures pasted into each people photo, with how many faces each shows.
const FACE_PATCHES: &[(&str, usize)] = &[
    ("obama_portrait.jpg", 1),
    ("obama_blue_room.jpg", 1),
    ("group_of_four.jpg", 4),
];

/// Paste two face fixtures (scaled up ~2x, as a phone at a school event would frame people) into
/// the photo. Returns the number of faces pasted.
fn paste_faces(rgb: &mut [u8], w: u32, h: u32, i: usize) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/faces");
    let mut faces = 0;
    for k in 0..2 {
        let (name, n) = FACE_PATCHES[(i + k) % FACE_PATCHES.len()];
        let patch = image::open(dir.join(name)).expect("face fixture").to_rgb8();
        let scale = 2.0 + (i % 3) as f32 * 0.4;
        let (pw, ph) = (
            (patch.width() as f32 * scale) as u32,
            (patch.height() as f32 * scale) as u32,
        );
        // The smoke run's 400x300 photos are covered wall to wall by their clamped patches, so
        // photos 1 and 4 (same patches, same scale) came out byte-identical and shared one outbox
        // file: leave them a strip of their own background. The full-size photos are unchanged.
        let room = if w < 1000 { 16 } else { 0 };
        let patch = image::imageops::resize(
            &patch,
            pw.min(w / 2 - room),
            ph.min(h - room),
            image::imageops::FilterType::Triangle,
        );
        let (ox, oy) = (
            k as u32 * w / 2 + (i as u32 * 37) % (w / 2 - patch.width() + 1),
            (i as u32 * 53) % (h - patch.height() + 1),
        );
        for (x, y, px) in patch.enumerate_pixels() {
            let o = (((oy + y) * w + ox + x) * 3) as usize;
            rgb[o..o + 3].copy_from_slice(&px.0);
        }
        faces += n;
    }
    faces
}
const TARGET_RATIO: f64 = 2.0;

/// The crowd mix (issue 10): 1–4 group shots per photo, faces of these heights (cycled; about
/// a third under 40 px), over the same generated backgrounds.
const CROWD_HEIGHTS: [u32; 12] = [20, 64, 28, 96, 48, 36, 120, 24, 56, 72, 32, 88];

/// Group photos with their truth, for the crowd mix: the shared corpus's real faces (never
/// copied into the repository) and the committed fixtures.
fn crowd_sources() -> Vec<crate::crowd::Source> {
    use consentgate::faces::{EngineOptions, FaceEngine, FinePass};
    let engine = FaceEngine::with_options(EngineOptions {
        embed: false,
        fine_pass: FinePass::Always,
        ..EngineOptions::default()
    })
    .expect("face engine");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = crate::crowd::load_sources(&root.join("fixtures/faces"), &engine);
    let corpus = root.join("../shared/corpus/faces");
    if corpus.is_dir() {
        v.extend(crate::crowd::load_sources(&corpus, &engine));
    } else {
        eprintln!("gate_people: ../shared/corpus/faces absent; crowd mix from fixtures/faces only");
    }
    v
}

struct Params {
    files: usize,
    width: u32,
    height: u32,
    reps: usize,
}

/// One photo-like JPEG: smooth gradients (direction and phase vary with `i`) plus pixel noise
/// seeded by `i`, so every file has different content. EXIF and XMP follow the SOI marker.
fn photo(
    i: usize,
    w: u32,
    h: u32,
    crowd: Option<&[crate::crowd::Source]>,
) -> (Vec<u8>, usize, Vec<[f32; 4]>) {
    let seed = (i as u32 + 1).wrapping_mul(0x9E37_79B9);
    let (fx, fy) = (1 + i as u32 % 5, 1 + (i as u32 / 5) % 7);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    rgb.par_chunks_exact_mut(w as usize * 3)
        .enumerate()
        .for_each(|(y, row)| {
            let y = y as u32;
            let mut n = seed ^ y.wrapping_mul(0x85EB_CA6B);
            for (x, px) in row.chunks_exact_mut(3).enumerate() {
                let x = x as u32;
                // xorshift32: cheap per-pixel noise.
                n ^= n << 13;
                n ^= n >> 17;
                n ^= n << 5;
                let g = (x * fx * 256 / w + y * fy * 256 / h + seed) & 0xFF;
                let r = ((x * 512 / w) ^ (y * 384 / h)).wrapping_add(i as u32 * 7) & 0xFF;
                let b = (255 - g + (x ^ y) / 64) & 0xFF;
                let noise = |s: u32| ((((n >> s) & 0xFF) * 18) >> 8) as i32 - 9;
                px[0] = (r as i32 + noise(0)).clamp(0, 255) as u8;
                px[1] = (g as i32 + noise(8)).clamp(0, 255) as u8;
                px[2] = (b as i32 + noise(16)).clamp(0, 255) as u8;
            }
        });
    let mut truth = Vec::new();
    let faces = if let Some(sources) = crowd {
        let mut canvas = image::RgbImage::from_raw(w, h, rgb).expect("canvas");
        let shots: Vec<u32> = (0..1 + i % 4)
            .map(|j| CROWD_HEIGHTS[(i * 4 + j) % CROWD_HEIGHTS.len()])
            .collect();
        truth = crate::crowd::group_shots(sources, &mut canvas, &shots, i as u64);
        rgb = canvas.into_raw();
        truth.len()
    } else if people_mode() {
        paste_faces(&mut rgb, w, h, i)
    } else {
        0
    };
    let mut jpeg = Vec::with_capacity(6 << 20);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .expect("encode");
    let mut out = Vec::with_capacity(jpeg.len() + 2048);
    out.extend_from_slice(&jpeg[..2]);
    out.extend(exif(
        &format!("Sports day, class 4 relay race, heat {}", i % 6 + 1),
        1,
        i as u32,
    ));
    out.extend(xmp());
    out.extend_from_slice(&jpeg[2..]);
    (out, faces, truth)
}

/// A few hundred synthetic students (first × last names), none of whom the captions name.
fn register_csv(n: usize) -> String {
    const FIRST: [&str; 24] = [
        "Olivia", "Amelia", "Isla", "Aarav", "Oliver", "Theo", "Freya", "Priya", "Kwame",
        "Siobhan", "Mateusz", "Chidi", "Zara", "Elijah", "Florence", "Arjun", "Niamh", "Yusuf",
        "Ingrid", "Tomasz", "Aisha", "Dmitri", "Keira", "Lorcan",
    ];
    const LAST: [&str; 16] = [
        "Smith",
        "Okafor",
        "Patel",
        "Nowak",
        "Murphy",
        "Khan",
        "Evans",
        "Kowalski",
        "Oyelaran",
        "Fitzgerald",
        "Lindqvist",
        "Haddad",
        "Nakamura",
        "Achterberg",
        "Mensah",
        "Ferreira",
    ];
    let mut s = String::from("id,first_name,last_name,consent_website\n");
    for k in 0..n {
        let first = FIRST[k % FIRST.len()];
        let last = LAST[(k / FIRST.len() + k) % LAST.len()];
        let consent = if k % 7 == 3 { "no" } else { "yes" };
        s.push_str(&format!("S{:05},{first},{last},{consent}\n", 10_000 + k));
    }
    s
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Flush dirty pages (the copies just made) so their write-back does not land inside a timer.
fn sync() {
    let _ = Command::new("sync").status();
}

fn copy_all(files: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).expect("mkdir");
    files
        .iter()
        .map(|f| {
            let dest = dir.join(f.file_name().expect("file name"));
            fs::copy(f, &dest).expect("copy photo");
            dest
        })
        .collect()
}

fn jpegs_in(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
                .count()
        })
        .unwrap_or(0)
}

/// One timed `consentgate run` in a fresh workspace. Returns (wall seconds, the run's own
/// `summary.seconds`, its CPU seconds, faces found, its JSON output).
fn consentgate_once(
    root: &Path,
    rep: usize,
    files: &[PathBuf],
    register: &Path,
) -> (f64, f64, f64, usize, String) {
    let ws = root.join(format!("ws-{rep}"));
    run_ok(Command::new(bin()).arg("init").arg(&ws), "consentgate init");
    let toml_path = ws.join("consentgate.toml");
    let toml = fs::read_to_string(&toml_path).expect("read consentgate.toml");
    assert!(
        toml.contains("settle_seconds = 5"),
        "consentgate.toml no longer has `settle_seconds = 5`:\n{toml}"
    );
    // This bench measures the metadata-and-captions gate against exiftool ("no faces yet" in the
    // issue that set the target), so the face stage is switched off here; `benches/faces.rs`
    // measures the gate with faces.
    assert!(
        toml.contains("enabled = true"),
        "consentgate.toml no longer has [faces] enabled:\n{toml}"
    );
    let toml = toml.replace("settle_seconds = 5", "settle_seconds = 0");
    let toml = if people_mode() {
        // Faces on; the pasted people are not enrolled, so let unknown faces through to measure
        // the whole release path.
        // Small faces too: the crowd mix measures the release path, not the hold.
        let toml = toml
            .replace("unknown_faces = \"review\"", "unknown_faces = \"allow\"")
            .replace("small_faces = \"review\"", "small_faces = \"allow\"");
        // GATE_PEOPLE_TEXT=off: the gate without the text stage, for its before/after cost.
        if std::env::var("GATE_PEOPLE_TEXT").as_deref() == Ok("off") {
            let at = toml.find("[text]").expect("consentgate.toml has [text]");
            let (head, tail) = toml.split_at(at);
            format!(
                "{head}{}",
                tail.replacen("enabled = true", "enabled = false", 1)
            )
        } else {
            toml
        }
    } else {
        toml.replace("enabled = true", "enabled = false")
    };
    fs::write(&toml_path, toml).expect("write consentgate.toml");
    run_ok(
        Command::new(bin())
            .arg("-w")
            .arg(&ws)
            .args(["--as", "bench", "register", "import"])
            .arg(register),
        "consentgate register import",
    );
    copy_all(files, &ws.join("staging"));
    sync();

    let out_path = root.join(format!("run-{rep}.jsonl"));
    let stdout = fs::File::create(&out_path).expect("create run output");
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let status = Command::new(bin())
        .arg("-w")
        .arg(&ws)
        .args(["--as", "bench", "run", "--channel", "website", "--json"])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("start consentgate run");
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_cpu_seconds() - cpu_before;

    let json = fs::read_to_string(&out_path).unwrap_or_default();
    let released = jpegs_in(&ws.join("outbox").join("website"));
    if !status.status.success() || released != files.len() {
        panic!(
            "consentgate run must release all {} photos (exit 0); it exited {} with {released} in the outbox.\nstdout:\n{json}\nstderr:\n{}",
            files.len(),
            status.status,
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let summary: serde_json::Value = json
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("run --json ends with a summary line");
    let inner = summary["summary"]["seconds"].as_f64().unwrap_or(f64::NAN);
    let faces_found = json
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["faces"].as_array().map(Vec::len))
        .sum();
    let _ = fs::remove_dir_all(&ws);
    (wall, inner, cpu, faces_found, json)
}

/// The text stage's own cost (issue 11: at most 0.3 s of one core per 12 MP photo on average),
/// apart from the rest of the gate, whose run-to-run noise on a shared machine is larger than
/// the stage: `TextEngine::lines_in_decoded` on the faces' decode of each photo, as the gate
/// calls it, timed by this thread's CPU clock (the engine runs on the calling thread). Each
/// photo twice, its cheaper pass counted. Returns (mean, max) seconds per photo.
fn text_stage_cpu(files: &[PathBuf]) -> (f64, f64) {
    let faces =
        consentgate::faces::FaceEngine::with_options(Default::default()).expect("face engine");
    let text = consentgate::ocr::TextEngine::new();
    text.warm().expect("text models load");
    let mut per_photo = Vec::new();
    for f in files {
        let bytes = fs::read(f).expect("read photo");
        let decoded = faces.decode(&bytes).expect("decode photo");
        let mut best = f64::INFINITY;
        for _ in 0..2 {
            let t = thread_cpu_seconds();
            text.lines_in_decoded(&bytes, Some(&decoded))
                .expect("text stage");
            best = best.min(thread_cpu_seconds() - t);
        }
        per_photo.push(best);
    }
    let mean = per_photo.iter().sum::<f64>() / per_photo.len().max(1) as f64;
    (mean, per_photo.iter().copied().fold(0.0, f64::max))
}

/// Prints [`text_stage_cpu`] against its target (judged only in a `--bench` run).
fn report_text_stage(files: &[PathBuf], bench: bool) {
    let (mean, worst) = text_stage_cpu(files);
    let verdict = if !bench {
        "smoke run only, not judged"
    } else if mean <= 0.3 {
        "met"
    } else {
        "NOT MET"
    };
    println!("gate_people text stage: {mean:.3} s of one core per photo on average, at most {worst:.3} (target <= 0.3 s, {verdict})");
}

/// CPU seconds this thread has used.
fn thread_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime only writes the struct it is given.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime failed");
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// User + system CPU seconds of every child process waited for so far. On a shared machine the
/// wall clock also measures the neighbours; the CPU the run itself used does not.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    assert_eq!(rc, 0, "getrusage failed");
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// One timed `exiftool -q -all= -overwrite_original FILES…` over fresh copies.
fn exiftool_in_place_once(root: &Path, rep: usize, files: &[PathBuf]) -> f64 {
    let dir = root.join(format!("ex-{rep}"));
    let copies = copy_all(files, &dir);
    sync();
    let started = Instant::now();
    run_ok(
        Command::new("exiftool")
            .args(["-q", "-all=", "-overwrite_original"])
            .args(&copies),
        "exiftool -all= -overwrite_original",
    );
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(jpegs_in(&dir), files.len(), "exiftool left other files");
    let _ = fs::remove_dir_all(&dir);
    wall
}

/// One timed `exiftool -q -all= -o OUTDIR/ SRC/` (reads the originals, writes new files).
fn exiftool_to_dir_once(root: &Path, rep: usize, src: &Path, n: usize) -> f64 {
    let out = root.join(format!("exo-{rep}"));
    sync();
    let started = Instant::now();
    let mut out_arg = out.clone().into_os_string();
    out_arg.push("/");
    run_ok(
        Command::new("exiftool")
            .args(["-q", "-all=", "-o"])
            .arg(&out_arg)
            .arg(src),
        "exiftool -all= -o OUTDIR/",
    );
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(jpegs_in(&out), n, "exiftool -o wrote a different count");
    let _ = fs::remove_dir_all(&out);
    wall
}

fn have_exiftool() -> bool {
    Command::new("exiftool")
        .arg("-ver")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 0 {
        (s[m - 1] + s[m]) / 2.0
    } else {
        s[m]
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn main() {
    if !people_mode() {
        return run_mix(false);
    }
    // gate_people: today's mix and the crowd mix (GATE_PEOPLE_MIX=today|crowd picks one).
    let mix = std::env::var("GATE_PEOPLE_MIX").unwrap_or_default();
    if mix != "crowd" {
        run_mix(false);
    }
    if mix != "today" {
        run_mix(true);
    }
}

fn run_mix(crowd: bool) {
    let bench = std::env::args().any(|a| a == "--bench");
    let sources = crowd.then(crowd_sources);
    let p = if bench {
        let reps = std::env::var("GATE_BATCH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(5usize)
            .max(3);
        Params {
            files: 48,
            width: 4000,
            height: 3000,
            reps,
        }
    } else {
        Params {
            files: 4,
            width: 400,
            height: 300,
            reps: 1,
        }
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let tmp = tempfile::Builder::new()
        .prefix("gate_batch-")
        .tempdir()
        .expect("tempdir");
    let root = tmp.path();

    // The batch, generated once.
    let t = Instant::now();
    let src = root.join("photos");
    fs::create_dir_all(&src).expect("mkdir photos");
    let made: Vec<(PathBuf, usize, Vec<[f32; 4]>)> = (0..p.files)
        .into_par_iter()
        .map(|i| {
            let path = src.join(format!("photo-{:02}.jpg", i + 1));
            let (bytes, faces, truth) = photo(i, p.width, p.height, sources.as_deref());
            fs::write(&path, bytes).expect("write photo");
            (path, faces, truth)
        })
        .collect();
    let faces_pasted: usize = made.iter().map(|(_, n, _)| n).sum();
    let truth: std::collections::HashMap<String, Vec<[f32; 4]>> = made
        .iter()
        .map(|(p, _, t)| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                t.clone(),
            )
        })
        .collect();
    let files: Vec<PathBuf> = made.into_iter().map(|(p, _, _)| p).collect();
    let total_bytes: u64 = files
        .iter()
        .map(|f| fs::metadata(f).expect("stat").len())
        .sum();
    let mb = total_bytes as f64 / 1e6;
    let register = root.join("register.csv");
    let students = 384;
    fs::write(&register, register_csv(students)).expect("write register");
    eprintln!(
        "gate_batch: generated {} photos {}x{} ({mb:.1} MB, {:.2} MB each) in {:.1} s; register of {students} students; {} repetitions",
        p.files,
        p.width,
        p.height,
        mb / p.files as f64,
        t.elapsed().as_secs_f64(),
        p.reps
    );

    // GATE_PEOPLE_TEXT=stage: only the text stage's own cost, over the same photos.
    if people_mode() && std::env::var("GATE_PEOPLE_TEXT").as_deref() == Ok("stage") {
        report_text_stage(&files, bench);
        return;
    }
    let exiftool = have_exiftool() && !people_mode();
    if !exiftool && !people_mode() {
        eprintln!("gate_batch: NOTE: exiftool is not on PATH; timing consentgate only, no comparison (install libimage-exiftool-perl)");
    }
    let (mut gate, mut gate_inner, mut ex, mut exo) = (vec![], vec![], vec![], vec![]);
    let mut gate_cpu = vec![];
    let mut faces_found = 0;
    let mut last_json = String::new();
    for rep in 0..p.reps {
        let (wall, inner, cpu, found, json) = consentgate_once(root, rep, &files, &register);
        faces_found = found;
        last_json = json;
        gate.push(wall);
        gate_inner.push(inner);
        gate_cpu.push(cpu);
        let mut line = format!(
            "  rep {rep}: consentgate {wall:.3} s (own summary {inner:.3} s, CPU {cpu:.2} s)"
        );
        if exiftool {
            let a = exiftool_in_place_once(root, rep, &files);
            let b = exiftool_to_dir_once(root, rep, &src, files.len());
            ex.push(a);
            exo.push(b);
            line += &format!(", exiftool in place {a:.3} s, exiftool -o {b:.3} s");
        }
        eprintln!("{line}");
    }

    let n = p.files as f64;
    println!();
    println!(
        "gate_batch: {} JPEGs {}x{}, {mb:.1} MB total, {} repetitions, nproc {cores}",
        p.files, p.width, p.height, p.reps
    );
    println!(
        "  {:<44}{:>10}{:>10}{:>10}{:>10}",
        "", "median s", "min s", "photos/s", "MB/s"
    );
    let row = |name: &str, v: &[f64]| {
        let m = median(v);
        println!(
            "  {name:<44}{m:>10.3}{:>10.3}{:>10.1}{:>10.1}",
            min(v),
            n / m,
            mb / m
        );
    };
    row("consentgate run --channel website --json", &gate);
    row("  (its own summary.seconds)", &gate_inner);
    let cpu = median(&gate_cpu);
    println!(
        "  CPU: {cpu:.2} s per run, {:.3} s per photo; on {cores} idle cores at most {:.2} photos/s (load average now {})",
        cpu / n,
        n * cores as f64 / cpu,
        fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?")
    );
    if crowd {
        // Recall by face height: each photo's reported boxes against the faces placed in it.
        let mut tally = crate::crowd::Tally::default();
        for line in last_json.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (Some(file), Some(faces)) = (v["file"].as_str(), v["faces"].as_array()) else {
                continue;
            };
            let found: Vec<[f32; 4]> = faces
                .iter()
                .filter_map(|f| {
                    let b = f["box"].as_array()?;
                    let g = |k: usize| b.get(k).and_then(|x| x.as_f64()).map(|x| x as f32);
                    let (x, y, w, h) = (g(0)?, g(1)?, g(2)?, g(3)?);
                    Some([x, y, x + w, y + h])
                })
                .collect();
            tally.add(truth.get(file).map_or(&[][..], |t| &t[..]), &found);
        }
        let rate = n / median(&gate);
        let under40: usize = tally.total[..5].iter().sum();
        let total: usize = tally.total.iter().sum();
        println!(
            "  crowd mix: {total} faces placed ({under40} under 40 px), recall by height:\n{}",
            tally.table()
        );
        let judged = if !bench {
            "smoke run only, not judged"
        } else if rate >= 1.5 {
            "met"
        } else {
            "NOT MET"
        };
        let r = |lo, hi| {
            tally
                .recall_between(lo, hi)
                .map_or("n/a".into(), |v| format!("{v:.3}"))
        };
        println!(
            "gate_people crowd: {rate:.2} photos/s with faces, recall >=24 px {}, 16-23 px {} (target >= 1.5 photos/s, {judged})",
            r(24, 10_000),
            r(16, 24)
        );
        return;
    }
    if people_mode() {
        let rate = n / median(&gate);
        let recall = faces_found.min(faces_pasted) as f64 / faces_pasted.max(1) as f64;
        let verdict = if rate >= 5.0 { "met" } else { "NOT MET" };
        println!(
            "  faces pasted {faces_pasted}, found {faces_found} (detection recall {recall:.3})"
        );
        let judged = if bench {
            verdict
        } else {
            "smoke run only, not judged"
        };
        println!("gate_people: {rate:.2} photos/s with faces, recall {recall:.3} (target >= 5 photos/s, {judged})");
        if std::env::var("GATE_PEOPLE_TEXT").as_deref() != Ok("off") {
            report_text_stage(&files, bench);
        }
        return;
    }
    if exiftool {
        row("exiftool -all= -overwrite_original FILES", &ex);
        row("exiftool -all= -o OUTDIR/ DIR/", &exo);
        let ratio = median(&gate) / median(&ex);
        let ratio_min = min(&gate) / min(&ex);
        let ratio_o = median(&gate) / median(&exo);
        println!(
            "  ratio consentgate/exiftool (in place): median {ratio:.2}, min {ratio_min:.2}; vs exiftool -o: median {ratio_o:.2}"
        );
        let verdict = if ratio <= TARGET_RATIO {
            "met"
        } else {
            "NOT MET"
        };
        if bench {
            println!(
                "gate_batch: consentgate/exiftool = {ratio:.2} (target <= {TARGET_RATIO:.1}, {verdict})"
            );
        } else {
            println!("gate_batch: smoke run only (use cargo bench); ratio {ratio:.2} not judged");
        }
    } else {
        println!("gate_batch: consentgate/exiftool = n/a (exiftool not found; target <= {TARGET_RATIO:.1} not checked)");
    }
}
