//! The whole gate over every real-world file in ../shared/corpus/metadata, through the CLI:
//! every file ends released or held (never lost, never left), every released file is clean by
//! exiftool's reading (`exiftool -j -G1 -a -u`, allowlist oracle), every held original is intact.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::PathBuf;

use common::exiftool;
use common::workspace::*;
use sha2::{Digest, Sha256};

#[test]
fn corpus_through_the_gate_releases_only_clean_files() {
    let Some(corpus) = common::corpus("metadata", "corpus_gate") else {
        return;
    };
    let ws = Ws::with_demo_register();
    // This test is about metadata: faces are still detected (a face-stage failure would hold the
    // photo), but the corpus's unknown people (and faces too small to recognise, which the
    // close look now finds in its phone photos) are let through so every clean file is checked.
    ws.set_config("faces.unknown_faces", "allow");
    ws.set_config("faces.small_faces", "allow");
    let mut originals: HashMap<String, Vec<u8>> = HashMap::new();
    for e in walkdir::WalkDir::new(&corpus)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        if e.file_name() == "NOTICE.tsv" {
            continue;
        }
        // Keep the corpus's sub-folders: staging may have folders too.
        let rel = e.path().strip_prefix(&corpus).unwrap().to_path_buf();
        let dest = ws.staging().join(&rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(e.path(), &dest).unwrap();
        originals.insert(
            rel.to_string_lossy().into_owned(),
            fs::read(e.path()).unwrap(),
        );
    }
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(code, 1, "damaged files are held, so exit 1: {summary}");
    assert_eq!(lines.len(), originals.len(), "one outcome per file");

    let mut released: Vec<PathBuf> = Vec::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for o in &lines {
        let file = o["file"].as_str().unwrap();
        match o["decision"].as_str().unwrap() {
            "released" => released.push(ws.root.join(o["outbox"].as_str().unwrap())),
            "held" => {
                let reasons = o["reasons"].as_array().unwrap();
                assert!(!reasons.is_empty(), "{file} held without a reason");
                for r in reasons {
                    *by_reason
                        .entry(r["kind"].as_str().unwrap().to_string())
                        .or_default() += 1;
                }
                let name = std::path::Path::new(file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let kept =
                    fs::read(ws.root.join(format!("held/{}/original/{name}", o["id"]))).unwrap();
                assert!(
                    Sha256::digest(&kept) == Sha256::digest(&originals[file]),
                    "{file}: held original must be intact"
                );
                // HEIC is gated like JPEG now; only exiftool's malformed test file is held.
                if file.to_lowercase().ends_with(".heic") || file.to_lowercase().ends_with(".heif")
                {
                    assert!(
                        file.ends_with("QuickTime.heic")
                            && reasons.iter().any(|r| r["kind"] == "unsupported_format"),
                        "{file}: {o}"
                    );
                }
            }
            other => panic!("{file}: {other}: {o}"),
        }
    }
    let leftovers: Vec<_> = ws.files_under("staging");
    assert!(
        leftovers.is_empty(),
        "nothing left in staging: {leftovers:?}"
    );

    let heics = released
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "heic"))
        .count();
    assert!(
        heics >= 6,
        "the corpus's HEICs are released as HEIC ({heics})"
    );
    let tags = exiftool::read_many(&released, false);
    let mut dirty = Vec::new();
    for (path, t) in released.iter().zip(&tags) {
        let bad = exiftool::identifying(t);
        if !bad.is_empty() {
            dirty.push(format!("{}: {}", path.display(), bad.join(", ")));
        }
    }
    println!(
        "corpus through the gate: {} files, {} released, {} held",
        originals.len(),
        released.len(),
        lines.len() - released.len()
    );
    for (k, n) in &by_reason {
        println!("  held: {k:<28} {n}");
    }
    assert!(
        dirty.is_empty(),
        "identifying metadata reached the outbox:\n{}",
        dirty.join("\n")
    );
    assert!(
        released.len() >= 140,
        "most of the corpus is releasable ({} released)",
        released.len()
    );
}
