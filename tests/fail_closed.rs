//! Every way a photo can fail to be verified ends held (or left in staging) with a clear reason,
//! the original intact, and nothing partial in the outbox.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::workspace::*;

fn assert_held(lines: &[serde_json::Value], file: &str, kind: &str, ws: &Ws, original: &[u8]) {
    let o = outcome_for(lines, file);
    assert_eq!(o["decision"], "held", "{o}");
    assert_eq!(o["reasons"][0]["kind"], kind, "{o}");
    assert!(!o["reasons"][0]["detail"].as_str().unwrap().is_empty());
    let id = o["id"].as_i64().unwrap();
    assert_eq!(
        fs::read(ws.root.join(format!("held/{id}/original/{file}"))).unwrap(),
        original,
        "original intact"
    );
}

#[test]
fn damaged_fake_and_bomb_files_are_held() {
    let ws = Ws::new();
    let good = jpeg(320, 240, 7);
    let truncated = good[..good.len() / 2].to_vec();
    let text = b"Dear parents, the trip is on Friday.\n".to_vec();
    // A PNG that declares 60000 x 60000 pixels: a decompression bomb.
    let bomb = png_bomb();
    let empty: Vec<u8> = Vec::new();
    let cases: [(&str, &Vec<u8>, &str); 4] = [
        ("truncated.jpg", &truncated, "damaged_file"),
        ("letter.jpg", &text, "damaged_file"),
        ("bomb.png", &bomb, "too_large"),
        ("empty.jpg", &empty, "damaged_file"),
    ];
    for (name, bytes, _) in &cases {
        ws.drop_file(name, bytes);
    }
    let started = std::time::Instant::now();
    let (lines, summary, code) = ws.run_json("website");
    assert!(
        started.elapsed().as_secs() < 20,
        "the bomb must be refused before decoding"
    );
    assert_eq!(code, 1);
    for (name, bytes, kind) in &cases {
        assert_held(&lines, name, kind, &ws, bytes);
    }
    assert_eq!(summary["held"], 4);
    assert!(
        ws.files_under("outbox").is_empty(),
        "nothing reaches the outbox"
    );
}

fn png_bomb() -> Vec<u8> {
    // A real, tiny PNG whose header claims 60000 x 60000 pixels.
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, 1, 1);
        enc.set_color(png::ColorType::Grayscale);
        enc.write_header().unwrap().write_image_data(&[0]).unwrap();
    }
    png[16..20].copy_from_slice(&60000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A zlib stream unpacking to `mib` MiB of zeros (a byte-aligned 1 MiB segment repeated; see
/// tests/formats.rs `zeros_zlib`).
fn zeros_zlib(mib: usize) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    };
    let mut d = CompressorOxide::new(create_comp_flags_from_zip_params(6, -15, 0));
    let mut seg = vec![0u8; 64 << 10];
    let (_, _, n) = compress(&mut d, &vec![0u8; 1 << 20], &mut seg, TDEFLFlush::Sync);
    seg.truncate(n);
    let mut out = vec![0x78, 0x01];
    for _ in 0..mib {
        out.extend_from_slice(&seg);
    }
    out.extend_from_slice(&[0x03, 0x00]);
    let total = (mib as u64) << 20;
    out.extend_from_slice(&((((total % 65521) as u32) << 16) | 1).to_be_bytes());
    out
}

#[test]
fn a_png_colour_profile_bomb_is_held_and_never_released() {
    let ws = Ws::new();
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, 8, 8);
        enc.set_color(png::ColorType::Rgb);
        enc.write_header()
            .unwrap()
            .write_image_data(&[90; 8 * 8 * 3])
            .unwrap();
    }
    // An iCCP chunk unpacking to 3 GiB, right after IHDR.
    let mut data = b"sRGB\0\0".to_vec();
    data.extend(zeros_zlib(3 << 10));
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"iCCP");
    chunk.extend_from_slice(&data);
    chunk.extend_from_slice(&crc32fast::hash(&chunk[4..]).to_be_bytes());
    let bomb = [&png[..33], &chunk, &png[33..]].concat();
    ws.drop_file("profile.png", &bomb);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);
    assert_held(&lines, "profile.png", "damaged_file", &ws, &bomb);
    let detail = outcome_for(&lines, "profile.png")["reasons"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("decompression bomb"), "{detail}");
    assert!(ws.files_under("outbox").is_empty(), "nothing released");
}

#[test]
fn a_symbolic_link_out_of_staging_is_held_and_never_followed() {
    let ws = Ws::new();
    let secret = ws.root.join("secret.jpg");
    fs::write(&secret, jpeg(32, 32, 1)).unwrap();
    std::os::unix::fs::symlink(&secret, ws.staging().join("innocent.jpg")).unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);
    let o = outcome_for(&lines, "innocent.jpg");
    assert_eq!(o["reasons"][0]["kind"], "symbolic_link", "{o}");
    assert!(secret.exists(), "the link's target is untouched");
    assert!(ws.files_under("outbox").is_empty());
    let held_link = ws
        .root
        .join(format!("held/{}/original/innocent.jpg", o["id"]));
    assert!(
        fs::symlink_metadata(&held_link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link itself was moved, not its target"
    );
}

#[test]
fn a_caption_that_cannot_be_read_holds_the_photo() {
    let ws = Ws::new();
    let photo = jpeg(64, 48, 2);
    ws.drop_file("IMG_1.jpg", &photo);
    ws.drop_file("IMG_1.txt", &[0xFF, 0xD8, 0x00, 0x9F, 0x92, 0x96]);
    let (lines, _, _) = ws.run_json("website");
    assert_held(&lines, "IMG_1.jpg", "caption_unreadable", &ws, &photo);
}

#[test]
fn a_read_only_outbox_leaves_the_photo_in_staging_with_a_clear_message() {
    let ws = Ws::new();
    let photo = jpeg(64, 48, 3);
    let p = ws.drop_file("a.jpg", &photo);
    // Root ignores permission bits, so make the channel's outbox impossible to write into for
    // anyone: a file where the folder should be. Non-root also gets a read-only outbox folder.
    let outbox = ws.root.join("outbox/website");
    if is_root() {
        fs::write(&outbox, b"not a folder").unwrap();
    } else {
        fs::create_dir_all(&outbox).unwrap();
        fs::set_permissions(&outbox, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(code, 2, "an error is exit 2");
    let o = outcome_for(&lines, "a.jpg");
    assert_eq!(o["decision"], "left_in_staging");
    assert!(o["note"].as_str().unwrap().contains("cannot write"), "{o}");
    assert_eq!(summary["errors"], 1);
    assert_eq!(fs::read(&p).unwrap(), photo, "original intact in staging");
    if outbox.is_dir() {
        assert_eq!(
            fs::read_dir(&outbox).unwrap().count(),
            0,
            "nothing partial in the outbox"
        );
        fs::set_permissions(&outbox, fs::Permissions::from_mode(0o755)).unwrap();
    } else {
        fs::remove_file(&outbox).unwrap();
    }
    // Once the disk is fixed, the next run releases it.
    let (_, summary, code) = ws.run_json("website");
    assert_eq!((code, summary["released"].as_u64()), (0, Some(1)));
}

/// Unreadable as the user who runs the gate: as root, run the gate as `nobody` with setpriv.
#[test]
fn an_unreadable_file_is_held_without_being_read() {
    let ws = Ws::new();
    let photo = jpeg(64, 48, 4);
    let p = ws.drop_file("locked.jpg", &photo);
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    let out = if is_root() {
        // The workspace belongs to nobody; the photo stays root's and unreadable to nobody.
        let chown = std::process::Command::new("chown")
            .args(["-R", "nobody:nogroup"])
            .arg(&ws.root)
            .status()
            .unwrap();
        assert!(chown.success());
        std::process::Command::new("chown")
            .args(["root:root"])
            .arg(&p)
            .status()
            .unwrap();
        let parent = ws.root.parent().unwrap();
        fs::set_permissions(parent, fs::Permissions::from_mode(0o755)).unwrap();
        std::process::Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "-w",
            ])
            .arg(&ws.root)
            .args(["run", "--channel", "website", "--json"])
            .output()
            .unwrap()
    } else {
        ws.cg(&["run", "--channel", "website", "--json"])
    };
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let o = outcome_for(&lines, "locked.jpg");
    assert_eq!(
        o["decision"],
        "held",
        "{o} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(o["reasons"][0]["kind"], "unreadable", "{o}");
    let held = ws
        .root
        .join(format!("held/{}/original/locked.jpg", o["id"]));
    fs::set_permissions(&held, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(fs::read(&held).unwrap(), photo, "original intact");
}

#[test]
fn a_file_still_being_written_is_left_until_it_settles() {
    let ws = Ws::new();
    ws.set_config("gate.settle_seconds", 30);
    let p = ws.drop_file("copying.jpg", &jpeg(64, 48, 5));
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(code, 0, "waiting is not an error");
    assert_eq!(
        outcome_for(&lines, "copying.jpg")["decision"],
        "left_in_staging"
    );
    assert_eq!(summary["waiting"], 1);
    assert!(p.exists());
}

/// A file that changes between being found and being read is not the file that was judged:
/// it is left in staging for a later run. (The hook fires after the scan, before any read.)
#[test]
fn a_file_that_changes_while_being_read_is_left_in_staging() {
    struct Tamper(std::path::PathBuf);
    impl consentgate::gate::Progress for Tamper {
        fn start(&self, _total: usize) {
            let mut bytes = fs::read(&self.0).unwrap();
            bytes.extend_from_slice(b"appended by a slow copy");
            fs::write(&self.0, bytes).unwrap();
        }
    }
    let ws = Ws::new();
    let p = ws.drop_file("slow.jpg", &jpeg(64, 48, 6));
    let workspace = consentgate::workspace::Workspace::open(&ws.root).unwrap();
    let opts = consentgate::gate::RunOptions {
        channel: "website",
        actor: "test",
    };
    let (outcomes, summary) =
        consentgate::gate::run(&workspace, &opts, &Tamper(p.clone())).unwrap();
    assert_eq!(
        outcomes[0].outcome,
        consentgate::gate::Outcome::Left(consentgate::gate::LeftReason::ChangedWhileRead)
    );
    assert!(
        outcomes[0].note().unwrap().contains("changed while"),
        "{:?}",
        outcomes[0].note()
    );
    // Still being copied is waiting, not an error: exit 0, and it is taken once settled.
    assert_eq!(
        (summary.waiting, summary.errors, summary.exit_code()),
        (1, 0, 0)
    );
    assert!(p.exists());
    assert!(ws.files_under("outbox").is_empty() && ws.files_under("held").is_empty());
}

/// A run killed after writing the outbox copy but before recording it is finished by the next
/// run, ending exactly as an uninterrupted run would: one outbox copy, original gone, journal says released.
#[test]
fn a_run_killed_midway_is_finished_by_the_next() {
    use consentgate::journal::{self, NewPhoto, PhotoState};
    let ws = Ws::new();
    let photo = jpeg(64, 48, 8);
    let staged = ws.drop_file("party.jpg", &photo);
    let workspace = consentgate::workspace::Workspace::open(&ws.root).unwrap();
    // Reproduce the state at the instant of the kill: write-ahead row + durable outbox file.
    let clean = consentgate::formats::clean(&photo, &Default::default()).unwrap();
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo));
    let rel = format!(
        "outbox/website/{}",
        consentgate::outbox::neutral_name(
            chrono::Local::now().date_naive(),
            &clean.bytes,
            clean.extension
        )
    );
    {
        let conn = workspace.db().unwrap();
        let rec = NewPhoto {
            content_hash: &hash,
            channel: "website",
            source_name: "party.jpg",
            state: PhotoState::PendingRelease,
            reasons: &[],
            removed: &[],
            caption: None,
            clean_ext: Some("jpg"),
            faces: &[],
            texts: &[],
            staged_path: b"party.jpg",
            sidecar_path: None,
            sidecar_hash: None,
        };
        let id = journal::insert_pending(&conn, &rec, chrono::Utc::now()).unwrap();
        journal::set_paths(&conn, id, Some(&rel), None).unwrap();
    }
    consentgate::outbox::write_durably(&ws.root, &ws.root.join(&rel), &clean.bytes).unwrap();

    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(summary["recovered"], 1, "{lines:#?}");
    assert_eq!(code, 0);
    assert!(
        !staged.exists(),
        "the original is removed once its release is recorded"
    );
    assert_eq!(ws.files_under("outbox/website"), vec![ws.root.join(&rel)]);
    let conn = workspace.db().unwrap();
    assert_eq!(
        journal::find(&conn, &hash, "website")
            .unwrap()
            .unwrap()
            .state,
        PhotoState::Released
    );
    assert!(ws.cg(&["audit", "verify"]).status.success());
}

/// A caption (re)written after the scan, while a long pass is under way, is read at judging time:
/// one changed less than the settle time ago is not judged half-written (cut before the student's
/// name) — the photo waits in staging with its caption, nothing released, nothing journalled — and
/// once the caption has settled, the photo is held for the student it names.
#[test]
fn a_caption_written_during_the_pass_is_judged_only_once_settled() {
    // Writes the first half of the caption after the scan, before any photo is read.
    struct HalfCaption(std::path::PathBuf);
    impl consentgate::gate::Progress for HalfCaption {
        fn start(&self, _total: usize) {
            fs::write(&self.0, "Well done ").unwrap();
        }
    }
    let ws = Ws::with_demo_register();
    ws.set_config("gate.settle_seconds", 1);
    let photo = ws.drop_file("sports.jpg", &jpeg(64, 48, 8));
    let caption = ws.staging().join("sports.txt");
    // The photo has settled (its change time, which nobody can set back, is over 1 s old).
    std::thread::sleep(std::time::Duration::from_millis(1300));

    let workspace = consentgate::workspace::Workspace::open(&ws.root).unwrap();
    let opts = consentgate::gate::RunOptions {
        channel: "website",
        actor: "test",
    };
    let (outcomes, _) =
        consentgate::gate::run(&workspace, &opts, &HalfCaption(caption.clone())).unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes[0].decision(),
        consentgate::gate::Decision::LeftInStaging,
        "{outcomes:?}"
    );
    let note = outcomes[0].note().unwrap_or_default();
    assert!(note.contains("still being written"), "{note}");
    assert!(photo.exists(), "the photo waits in staging");
    assert_eq!(
        fs::read_to_string(&caption).unwrap(),
        "Well done ",
        "the staff's caption is kept"
    );
    assert!(ws.files_under("outbox").is_empty(), "nothing released");
    assert!(ws.files_under("held").is_empty());
    let conn = workspace.db().unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM photos", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "no journal record for a photo left waiting");

    // The caption is finished and settles: now it is judged, whole.
    fs::write(&caption, "Well done Olivia Smith!").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    let o = outcome_for(&lines, "sports.jpg");
    assert_eq!(o["decision"], "held", "{o}");
    assert!(
        o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "caption_names_student" && r["student"] == "A1001"),
        "{o}"
    );
    assert!(ws.files_under("outbox").is_empty(), "nothing released");
}

/// Issue 8's reproduction: 60 captioned photos whose captions are rewritten while the run judges
/// them. None is decided on a caption that is not the one judged, and they count as *waiting*
/// (exit 0), not as errors.
#[test]
fn captions_rewritten_mid_run_count_as_waiting_not_errors() {
    struct Rewrite(std::path::PathBuf, std::sync::Mutex<u32>);
    impl consentgate::gate::Progress for Rewrite {
        // Called after each photo is judged and before its fate is written: staff are still
        // editing every caption.
        fn register_changed(&self) -> bool {
            let mut n = self.1.lock().unwrap();
            *n += 1;
            for e in fs::read_dir(&self.0).unwrap().flatten() {
                // Saved as editors save (a new file renamed over the old), so the gate never
                // reads a half-truncated caption: a reader racing two in-place truncations can
                // see "" twice, which is the same empty caption, not a rewrite.
                if e.path().extension().is_some_and(|x| x == "txt") {
                    let tmp = self.0.with_file_name("caption.saving");
                    fs::write(&tmp, format!("Sports day, edit {n}")).unwrap();
                    fs::rename(&tmp, e.path()).unwrap();
                }
            }
            false
        }
    }
    let ws = Ws::with_demo_register();
    ws.set_config("faces.enabled", false);
    for i in 0..60u8 {
        ws.drop_file(&format!("p{i}.jpg"), &jpeg(64, 48, i));
        ws.drop_file(&format!("p{i}.txt"), b"Sports day");
    }
    let workspace = consentgate::workspace::Workspace::open(&ws.root).unwrap();
    let opts = consentgate::gate::RunOptions {
        channel: "website",
        actor: "test",
    };
    let (outcomes, summary) = consentgate::gate::run(
        &workspace,
        &opts,
        &Rewrite(ws.staging(), Default::default()),
    )
    .unwrap();
    assert_eq!(
        (summary.waiting, summary.errors, summary.exit_code()),
        (60, 0, 0),
        "{summary:?}"
    );
    assert!(outcomes.iter().all(|o| matches!(
        o.outcome,
        consentgate::gate::Outcome::Left(consentgate::gate::LeftReason::CaptionSettling { .. })
    )));
    assert!(ws.files_under("outbox").is_empty() && ws.files_under("held").is_empty());
    assert_eq!(fs::read_dir(ws.staging()).unwrap().count(), 120);
}

/// A name that is not valid UTF-8 (`caf\xe9.jpg`, as an old Windows share writes it) keeps its
/// caption: a caption naming a student holds the photo, both files move to `held/` under their
/// own names, and the name is shown escaped, never dropped.
#[test]
fn a_file_name_that_is_not_utf8_keeps_its_caption() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let ws = Ws::with_demo_register();
    let photo = ws.staging().join(OsStr::from_bytes(b"caf\xe9.jpg"));
    let caption = ws.staging().join(OsStr::from_bytes(b"caf\xe9.txt"));
    fs::write(&photo, jpeg(64, 48, 3)).unwrap();
    fs::write(&caption, "Well done Olivia Smith!").unwrap();
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(summary["held"], 1);
    let o = &lines[0];
    assert_eq!(o["file"], "caf\\xE9.jpg", "the name is shown escaped");
    assert!(
        o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "caption_names_student" && r["source"] == "sidecar"),
        "{o:#}"
    );
    assert!(!photo.exists() && !caption.exists(), "both left staging");
    let held: Vec<Vec<u8>> = ws
        .files_under("held")
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.as_bytes().to_vec()))
        .collect();
    assert!(held.contains(&b"caf\xe9.jpg".to_vec()) && held.contains(&b"caf\xe9.txt".to_vec()));
    assert!(ws.files_under("outbox").is_empty());
}

/// `review list | head -1`, `audit | head`: a closed pipe ends the command quietly, as any
/// Unix tool, never with a panic (exit 101).
#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    let ws = Ws::with_demo_register();
    for i in 0..20 {
        ws.drop_file(&format!("olivia-smith-{i}.jpg"), &jpeg(64, 48, i));
    }
    ws.set_config("faces.enabled", false);
    let _ = ws.cg(&["run", "--channel", "website"]);
    for args in [&["review", "list"][..], &["audit"], &["register", "list"]] {
        let (mut cmd, input) = ws.command(args, None);
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        }
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code() != Some(101) && !err.contains("panicked"),
            "{args:?}: {:?} {err}",
            out.status
        );
    }
}

/// A photo replaced in staging after it was read and judged (staff saving over it) is not held
/// as the photo that was judged: it goes back to staging and is judged as itself next time.
#[test]
fn a_photo_replaced_after_it_was_read_is_not_held_unjudged() {
    struct Replace(std::path::PathBuf, Vec<u8>);
    impl consentgate::gate::Progress for Replace {
        // After judging, before the hold is written.
        fn register_changed(&self) -> bool {
            fs::write(&self.0, &self.1).unwrap();
            false
        }
    }
    let ws = Ws::with_demo_register();
    ws.set_config("faces.enabled", false);
    let photo = ws.drop_file("olivia-smith.jpg", &jpeg(64, 48, 1));
    let replacement = jpeg(64, 48, 2);
    let workspace = consentgate::workspace::Workspace::open(&ws.root).unwrap();
    let opts = consentgate::gate::RunOptions {
        channel: "website",
        actor: "test",
    };
    let replace = Replace(photo.clone(), replacement.clone());
    let (outcomes, _) = consentgate::gate::run(&workspace, &opts, &replace).unwrap();
    assert_eq!(
        outcomes[0].outcome,
        consentgate::gate::Outcome::Left(consentgate::gate::LeftReason::ChangedWhileRead),
        "{outcomes:?}"
    );
    assert_eq!(
        fs::read(&photo).unwrap(),
        replacement,
        "the new content is back in staging"
    );
    assert!(ws.files_under("held").is_empty() && ws.files_under("outbox").is_empty());
    // Next run: the new content is judged (and held for its name) as itself.
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    let held = ws.files_under("held");
    let original = held
        .iter()
        .find(|p| p.ends_with("original/olivia-smith.jpg"))
        .unwrap();
    assert_eq!(fs::read(original).unwrap(), replacement);
}

/// The model runtime (ONNX Runtime's shared library) is missing, or is some other file: nothing
/// with pixels is released unchecked. With faces on, the run refuses to start and says which
/// library and how to fix it; the photo stays in staging untouched. With only the text stage
/// needing a model, the photo is held, "text in the picture could not be checked", original intact.
#[test]
fn a_missing_or_wrong_model_runtime_releases_nothing() {
    let not_a_library = tempfile::NamedTempFile::new().unwrap();
    fs::write(not_a_library.path(), b"not a shared library").unwrap();
    let missing = not_a_library.path().with_extension("gone");
    for lib in [not_a_library.path(), missing.as_path()] {
        let run = |ws: &Ws| {
            std::process::Command::new(BIN)
                .arg("-w")
                .arg(&ws.root)
                .args(["run", "--channel", "website", "--json"])
                .env("CONSENTGATE_ONNXRUNTIME", lib)
                .output()
                .unwrap()
        };
        let photo = jpeg(320, 240, 9);

        let ws = Ws::new();
        let staged = ws.drop_file("IMG_0400.jpg", &photo);
        let out = run(&ws);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("ONNX Runtime library could not be loaded")
                && stderr.contains(&lib.display().to_string())
                && stderr.contains("CONSENTGATE_ONNXRUNTIME"),
            "{stderr}"
        );
        assert_eq!(fs::read(&staged).unwrap(), photo, "left in staging, intact");
        assert!(ws.files_under("outbox").is_empty() && ws.files_under("held").is_empty());

        let ws = Ws::new();
        ws.set_config("faces.enabled", false);
        ws.drop_file("IMG_0401.jpg", &photo);
        let out = run(&ws);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_held(
            &lines,
            "IMG_0401.jpg",
            "picture_text_unchecked",
            &ws,
            &photo,
        );
        let detail = outcome_for(&lines, "IMG_0401.jpg")["reasons"][0]["detail"].to_string();
        assert!(detail.contains("CONSENTGATE_ONNXRUNTIME"), "{detail}");
        assert!(ws.files_under("outbox").is_empty());
        assert_eq!(out.status.code(), Some(1), "{stdout}");
    }
}
