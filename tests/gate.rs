//! End-to-end: the real binary on a real workspace, with the bundled demo photos and generated ones.

use crate::common;

use std::fs;

use common::workspace::*;

/// The bundled demo: each photo ends where fixtures/demo/README.md says, the outbox is clean.
#[test]
fn demo_photos_are_released_or_held_as_documented() {
    let ws = Ws::with_demo_register();
    let photos = fixtures().join("demo/photos");
    let mut originals = std::collections::HashMap::new();
    for e in fs::read_dir(&photos).unwrap().flatten() {
        fs::copy(e.path(), ws.staging().join(e.file_name())).unwrap();
        originals.insert(
            e.file_name().to_string_lossy().into_owned(),
            fs::read(e.path()).unwrap(),
        );
    }
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(code, 1, "something is held, so exit 1");

    let released = [
        "sports-day-relay.jpg",
        "nativity.webp",
        "art-week.jpg",
        "trip-photo.jpg",
    ];
    let held = [
        ("IMG_2041.jpg", "caption_names_student", Some("A1001")),
        (
            "olivia-smith-100m.jpg",
            "caption_names_student",
            Some("A1001"),
        ),
        ("science-fair.png", "caption_names_student", None),
        ("choir.jpg", "caption_may_name_student", None),
        ("football_liamvanderberg.jpg", "caption_names_student", None),
        ("damaged.jpg", "damaged_file", None),
        ("notes.jpg", "damaged_file", None),
    ];
    for f in released {
        let o = outcome_for(&lines, f);
        assert_eq!(o["decision"], "released", "{f}: {o}");
        let out = ws.root.join(o["outbox"].as_str().unwrap());
        let bytes = fs::read(&out).unwrap();
        // Neutral name: nothing of the original name survives.
        let name = out.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(f.split('.').next().unwrap()), "{name}");
        // No GPS, no serial, no camera owner in the released bytes.
        for needle in [
            "GPS",
            "183052004417",
            "Fletcher",
            "Canon",
            "iPhone",
            "Art week collage",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{f}: {needle} survived in {}",
                out.display()
            );
        }
        assert!(
            !ws.staging().join(f).exists(),
            "{f} released, so removed from staging"
        );
    }
    for (f, kind, student) in held {
        let o = outcome_for(&lines, f);
        assert_eq!(o["decision"], "held", "{f}: {o}");
        let kinds: Vec<_> = o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap().to_string())
            .collect();
        assert!(kinds.iter().any(|k| k == kind), "{f}: {kinds:?}");
        if let Some(s) = student {
            assert!(
                o["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["student"] == s),
                "{f}: {o}"
            );
        }
        // The original is intact in held/, byte for byte.
        let id = o["id"].as_i64().unwrap();
        let kept = fs::read(ws.root.join(format!("held/{id}/original/{f}"))).unwrap();
        assert_eq!(&kept, &originals[f], "{f} original must be intact");
        assert!(!ws.staging().join(f).exists());
    }
    // The sidecar caption that named nobody travels with its photo; the one that named a student does not.
    let relay = ws.root.join(
        outcome_for(&lines, "sports-day-relay.jpg")["outbox"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(
        fs::read_to_string(relay.with_extension("txt"))
            .unwrap()
            .trim(),
        fs::read_to_string(photos.join("sports-day-relay.txt"))
            .unwrap()
            .trim()
    );
    assert!(ws
        .files_under("outbox")
        .iter()
        .all(|p| !fs::read(p).unwrap().windows(5).any(|w| w == b"Olivi")));
    assert!(ws
        .root
        .join(format!(
            "held/{}/original/IMG_2041.txt",
            outcome_for(&lines, "IMG_2041.jpg")["id"]
        ))
        .exists());
    assert_eq!(summary["released"], 4);
    assert_eq!(summary["held"], 7);
    // Every photo left staging (caption files with them).
    assert_eq!(ws.files_under("staging"), Vec::<std::path::PathBuf>::new());

    // The same content dropped again is not processed twice.
    fs::copy(
        photos.join("sports-day-relay.jpg"),
        ws.staging().join("again.jpg"),
    )
    .unwrap();
    fs::copy(
        photos.join("notes.jpg"),
        ws.staging().join("again-notes.jpg"),
    )
    .unwrap();
    let (lines2, summary2, _) = ws.run_json("website");
    assert_eq!(summary2["already_processed"], 2, "{lines2:#?}");
    assert_eq!(outcome_for(&lines2, "again.jpg")["decision"], "released");
    assert_eq!(outcome_for(&lines2, "again-notes.jpg")["decision"], "held");
    assert_eq!(
        ws.files_under("outbox/website").len(),
        6,
        "4 photos + 2 captions that named nobody, no new copies"
    );

    // The audit trail has every decision and verifies.
    let v = ws.cg(&["audit", "verify"]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn exit_code_is_zero_when_everything_is_released() {
    let ws = Ws::with_demo_register();
    ws.drop_file("a.jpg", &jpeg(64, 48, 1));
    ws.drop_file("b.jpg", &jpeg(64, 48, 2));
    let (lines, summary, code) = ws.run_json("website");
    assert_eq!(
        (code, summary["released"].as_u64()),
        (0, Some(2)),
        "{lines:#?}"
    );
    assert!(lines
        .iter()
        .all(|l| l["decision"] == "released" && l["reasons"].as_array().unwrap().is_empty()));
}

#[test]
fn an_unknown_channel_is_an_error_naming_the_channels() {
    let ws = Ws::new();
    let out = ws.cg(&["run", "--channel", "webiste"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("webiste") && err.contains("website"), "{err}");
}

#[test]
fn check_explains_and_touches_nothing() {
    let ws = Ws::with_demo_register();
    let p = ws.drop_file("team.jpg", &jpeg(64, 48, 3));
    let audit_before = ws.cg(&["audit", "--json"]).stdout;
    let out = ws.cg(&[
        "check",
        p.to_str().unwrap(),
        "--caption",
        "Go team! Well done Olivia Smith",
        "--channel",
        "website",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"], "held");
    assert_eq!(v["reasons"][0]["student"], "A1001");
    let ok = ws.cg(&[
        "check",
        p.to_str().unwrap(),
        "--caption",
        "Go team!",
        "--channel",
        "website",
        "--json",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(p.exists(), "check never moves the file");
    assert!(ws.files_under("outbox").is_empty() && ws.files_under("held").is_empty());
    assert_eq!(
        ws.cg(&["audit", "--json"]).stdout,
        audit_before,
        "check writes no audit entry"
    );
}

#[test]
fn moderator_approves_and_rejects_with_notes_and_names() {
    let ws = Ws::with_demo_register();
    ws.drop_file("olivia-smith-race.jpg", &jpeg(64, 48, 4));
    ws.drop_file("IMG_7.jpg", &jpeg(64, 48, 5));
    fs::write(ws.staging().join("IMG_7.txt"), "Aarav Patel and friends").unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);
    let a = outcome_for(&lines, "olivia-smith-race.jpg")["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let b = outcome_for(&lines, "IMG_7.jpg")["id"]
        .as_i64()
        .unwrap()
        .to_string();

    let list = String::from_utf8(ws.cg(&["review", "list"]).stdout).unwrap();
    assert!(
        list.contains("olivia-smith-race.jpg") && list.contains("IMG_7.jpg"),
        "{list}"
    );
    let no_note = ws.cg(&["review", "approve", &a, "--note", " "]);
    assert_eq!(no_note.status.code(), Some(2), "a note is required");

    ws.add_user("Ms Moderator", "moderator");
    let ok = ws.cg(&[
        "review",
        "approve",
        &a,
        "--note",
        "renamed; parents agreed",
        "--as",
        "Ms Moderator",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Its file name names a student: the moderator's approval is the first of two.
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("First approval"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    assert!(ws.files_under("outbox/website").is_empty());
    let ok = ws.cg(&["review", "approve", &a, "--note", "second opinion: agreed"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let published = ws.files_under("outbox/website");
    assert_eq!(
        published.len(),
        1,
        "the clean copy, without the caption that named a student"
    );
    assert!(!published[0].to_string_lossy().contains("olivia"));
    let again = ws.cg(&["review", "approve", &a, "--note", "twice"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "an approved photo is not held any more"
    );

    assert!(ws
        .cg(&[
            "review",
            "reject",
            &b,
            "--note",
            "names a child",
            "--as",
            "Ms Moderator"
        ])
        .status
        .success());
    assert!(
        ws.root
            .join(format!("held/{b}/original/IMG_7.jpg"))
            .exists(),
        "rejected originals stay as the record"
    );
    let audit = String::from_utf8(ws.cg(&["audit", "--json"]).stdout).unwrap();
    let entries: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = entries
        .iter()
        .find(|e| e["action"] == "first-approval")
        .unwrap();
    assert_eq!(first["actor"], "Ms Moderator (account 2)");
    assert_eq!(first["detail"]["note"], "renamed; parents agreed");
    let approved = entries.iter().find(|e| e["action"] == "approved").unwrap();
    assert_eq!(approved["actor"], "head (account 1)");
    assert_eq!(
        approved["detail"]["second_opinion"]["first_approval"]["note"],
        "renamed; parents agreed"
    );
    assert!(entries
        .iter()
        .any(|e| e["action"] == "rejected" && e["subject"] == format!("photo #{b}")));
    assert!(ws.cg(&["audit", "verify"]).status.success());
    assert!(String::from_utf8(ws.cg(&["review", "list"]).stdout)
        .unwrap()
        .contains("Nothing is waiting"));
}

#[test]
fn unregistered_devices_are_held_when_the_school_requires_its_own() {
    let ws = Ws::with_demo_register();
    ws.set_config("gate.require_school_devices", true);
    fs::copy(
        fixtures().join("demo/photos/nativity.webp"),
        ws.staging().join("nativity.webp"),
    )
    .unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);
    let o = outcome_for(&lines, "nativity.webp");
    assert_eq!(o["reasons"][0]["kind"], "unregistered_device", "{o}");
    assert!(
        o["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("iPhone"),
        "{o}"
    );
}

#[test]
fn register_import_with_bad_rows_changes_nothing_and_names_lines() {
    let ws = Ws::new();
    let csv = ws.root.join("bad.csv");
    fs::write(&csv, "UPN,Legal Forename,Legal Surname,no_publish\nA1,Ann,Lee,no\nA2,Bob,,no\nA3,Cy,Oak,perhaps\n").unwrap();
    let out = ws.cg(&["register", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("line 4") && err.contains("perhaps"),
        "{err}"
    );
    let list = String::from_utf8(ws.cg(&["register", "list"]).stdout).unwrap();
    assert!(list.contains("0 students"), "{list}");
}

#[test]
fn withdrawing_consent_lists_what_to_take_down() {
    let ws = Ws::with_demo_register();
    ws.set_config("review.second_opinion", toml_edit::Array::new());
    // A photo naming a student, approved by the moderator, is linked to that student.
    ws.drop_file("IMG_9.jpg", &jpeg(64, 48, 9));
    fs::write(ws.staging().join("IMG_9.txt"), "Well done Aarav Patel!").unwrap();
    let (lines, _, _) = ws.run_json("website");
    let id = outcome_for(&lines, "IMG_9.jpg")["id"]
        .as_i64()
        .unwrap()
        .to_string();
    assert!(ws
        .cg(&["review", "approve", &id, "--note", "parent asked for it"])
        .status
        .success());
    let aarav = String::from_utf8(ws.cg(&["register", "list", "--json"]).stdout).unwrap();
    let students: Vec<serde_json::Value> = serde_json::from_str(&aarav).unwrap();
    let aarav_id = students
        .iter()
        .find(|s| s["first_name"] == "Aarav")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ws.cg(&[
        "register",
        "withdraw",
        &aarav_id,
        "--channel",
        "website",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let takedown = v["take_down"].as_array().unwrap();
    assert_eq!(takedown.len(), 1, "{v}");
    assert!(ws
        .root
        .join(takedown[0]["outbox_path"].as_str().unwrap())
        .exists());
}

/// A rejected photo, re-saved smaller, re-encoded and mirrored under an innocent name, is held.
#[test]
fn a_reupload_of_a_rejected_photo_is_held() {
    let ws = Ws::with_demo_register();
    let original = fs::read(fixtures().join("pdq/images/astronaut-384.jpg")).unwrap();
    ws.drop_file("olivia-smith-assembly.jpg", &original);
    let (lines, _, _) = ws.run_json("website");
    let id = outcome_for(&lines, "olivia-smith-assembly.jpg")["id"]
        .as_i64()
        .unwrap()
        .to_string();
    assert!(ws
        .cg(&["review", "reject", &id, "--note", "named child"])
        .status
        .success());

    let img = image::load_from_memory(&original).unwrap();
    let altered = image::imageops::flip_horizontal(
        &img.resize(300, 300, image::imageops::FilterType::Triangle)
            .to_rgb8(),
    );
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 70)
        .encode_image(&altered)
        .unwrap();
    ws.drop_file("IMG_0001.jpg", &bytes);
    ws.drop_file("unrelated.jpg", &jpeg(300, 300, 42));
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);
    let o = outcome_for(&lines, "IMG_0001.jpg");
    let r = o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "near_duplicate_of_rejected")
        .unwrap_or_else(|| panic!("{o}"));
    assert!(
        r["detail"].as_str().unwrap().contains(&format!("#{id}")),
        "{r}"
    );
    let u = outcome_for(&lines, "unrelated.jpg");
    assert!(
        u["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["kind"] != "near_duplicate_of_rejected"),
        "{u}"
    );
}
