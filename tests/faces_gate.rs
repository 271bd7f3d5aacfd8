//! Faces through the whole gate, with real inference on real photos (fixtures/faces: provenance in
//! its NOTICE): enrolment, the per-channel decision table, redaction, takedown, forgetting.

use crate::common;

use std::fs;

use common::workspace::*;

fn face(name: &str) -> std::path::PathBuf {
    fixtures().join("faces").join(name)
}

fn enrol(ws: &Ws, id: &str, photo: &str) -> std::process::Output {
    ws.cg(&["register", "enrol", id, face(photo).to_str().unwrap()])
}

fn kinds(o: &serde_json::Value) -> Vec<String> {
    o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The person enrolled as a no-publish student is held in another photo, named; nobody else is
/// attributed to them; a photo without faces passes the face stage.
#[test]
fn a_no_publish_student_is_recognised_in_another_photo() {
    let ws = Ws::with_demo_register();
    let out = enrol(&ws, "A1009", "obama_portrait.jpg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::copy(
        face("obama_blue_room.jpg"),
        ws.staging().join("assembly.jpg"),
    )
    .unwrap();
    fs::copy(face("group_of_four.jpg"), ws.staging().join("team.jpg")).unwrap();
    ws.drop_file("field.jpg", &jpeg(640, 480, 3));
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1);

    let o = outcome_for(&lines, "assembly.jpg");
    assert_eq!(o["decision"], "held");
    let r = o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "face_no_publish")
        .unwrap_or_else(|| panic!("{o}"));
    assert_eq!(r["student"], "A1009");
    let detail = r["detail"].as_str().unwrap();
    assert!(
        detail.contains("Zainab Hussain")
            && detail.contains("distance")
            && detail.contains("face at"),
        "{detail}"
    );
    assert_eq!(o["faces"][0]["student"], "A1009");
    assert_eq!(o["faces"][0]["band"], "match");
    assert_eq!(o["faces"][0]["box"].as_array().unwrap().len(), 4);

    let team = outcome_for(&lines, "team.jpg");
    assert_eq!(team["faces"].as_array().unwrap().len(), 4, "{team}");
    assert!(
        team["faces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["student"] != "A1009"),
        "{team}"
    );
    assert!(
        kinds(team).iter().all(|k| k == "face_unknown"),
        "unknown faces are held for review by default: {team}"
    );

    let field = outcome_for(&lines, "field.jpg");
    assert_eq!(
        field["decision"], "released",
        "no faces: nothing to hold: {field}"
    );
    assert!(field["faces"].as_array().unwrap().is_empty());

    // A moderator cannot re-label a face the gate recognised as someone else: one mis-click would
    // file the no-publish student's face under a student with consent.
    let id = o["id"].as_i64().unwrap().to_string();
    let templates = |ws: &Ws, student: &str| -> i64 {
        let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM face_templates WHERE student_id = ?1",
            [student],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = templates(&ws, "A1001");
    let out = ws.cg(&[
        "review",
        "face",
        &id,
        "1",
        "A1001",
        "--note",
        "looks like A1001",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("recognised as A1009") && err.contains("register forget A1009"),
        "{err}"
    );
    assert_eq!(templates(&ws, "A1001"), before, "no template was added");
    let show = ws.cg(&["review", "show", &id]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("A1009"));
}

/// Consent decides per channel; withdrawing it lists the published photo for takedown.
#[test]
fn consent_is_per_channel_and_withdrawal_lists_what_to_take_down() {
    let ws = Ws::with_demo_register();
    ws.set_config("faces.unknown_faces", "allow");
    // A1001 consents to website and newsletter, not social.
    assert!(enrol(&ws, "A1001", "obama_portrait.jpg").status.success());
    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("a.jpg")).unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    let o = outcome_for(&lines, "a.jpg");
    assert_eq!(
        o["faces"][0]["student"], "A1001",
        "the JSON shows who was seen even when released: {o}"
    );

    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("b.jpg")).unwrap();
    let (lines, _, code) = ws.run_json("social");
    assert_eq!(code, 1);
    assert!(kinds(outcome_for(&lines, "b.jpg")).contains(&"face_no_consent".to_string()));

    let out = ws.cg(&[
        "register",
        "withdraw",
        "A1001",
        "--channel",
        "website",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v["take_down"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["outbox_path"], o["outbox"]);
    assert!(list[0]["via"].as_str().unwrap().contains("face"), "{v}");
}

/// With `action = "redact"`, a no-publish face is blurred and the rest of the photo released.
#[test]
fn redaction_blurs_the_face_and_releases_the_photo() {
    let ws = Ws::with_demo_register();
    ws.set_config("faces.action", "redact");
    assert!(enrol(&ws, "A1009", "obama_portrait.jpg").status.success());
    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("a.jpg")).unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    let o = outcome_for(&lines, "a.jpg");
    assert!(o["note"].as_str().unwrap().contains("blurred"), "{o}");
    let [x, y, w, h] = [0, 1, 2, 3].map(|i| o["faces"][0]["box"][i].as_f64().unwrap() as u32);
    let released = image::open(ws.root.join(o["outbox"].as_str().unwrap()))
        .unwrap()
        .to_luma8();
    let original = image::open(face("obama_blue_room.jpg")).unwrap().to_luma8();
    // Detail (mean absolute horizontal gradient) inside the face box is gone.
    let detail = |img: &image::GrayImage| {
        let mut sum = 0u64;
        for py in y + h / 4..y + 3 * h / 4 {
            for px in x + w / 4..x + 3 * w / 4 {
                sum += (img.get_pixel(px, py).0[0] as i64 - img.get_pixel(px + 1, py).0[0] as i64)
                    .unsigned_abs();
            }
        }
        sum as f64 / ((w / 2) * (h / 2)) as f64
    };
    assert!(
        detail(&released) < detail(&original) / 4.0,
        "face detail survived: {} vs {}",
        detail(&released),
        detail(&original)
    );
}

/// The moderator redacts a held photo; the original stays held.
#[test]
fn moderator_redacts_a_held_photo() {
    let ws = Ws::with_demo_register();
    assert!(enrol(&ws, "A1009", "obama_portrait.jpg").status.success());
    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("a.jpg")).unwrap();
    let (lines, _, _) = ws.run_json("website");
    let id = outcome_for(&lines, "a.jpg")["id"]
        .as_i64()
        .unwrap()
        .to_string();
    ws.add_user("Ms Moderator", "moderator");
    let out = ws.cg(&[
        "review",
        "redact",
        &id,
        "--note",
        "blur Zainab",
        "--as",
        "Ms Moderator",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ws.files_under("outbox/website").len(), 1);
    assert!(
        ws.root.join(format!("held/{id}/original/a.jpg")).exists(),
        "the original stays held"
    );
    let audit = String::from_utf8(ws.cg(&["audit", "--json"]).stdout).unwrap();
    assert!(audit.contains("redacted-and-released") && audit.contains("Ms Moderator"));
}

/// Enrolment needs exactly one face; forgetting erases the templates.
#[test]
fn enrolment_needs_one_face_and_forget_erases_it() {
    let ws = Ws::with_demo_register();
    let out = enrol(&ws, "A1002", "group_of_four.jpg");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("found 4 faces"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blank = ws.root.join("blank.jpg");
    fs::write(&blank, jpeg(320, 240, 1)).unwrap();
    let out = ws.cg(&["register", "enrol", "A1002", blank.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("found 0 faces"));
    let out = enrol(&ws, "NOBODY", "obama_portrait.jpg");
    assert_eq!(out.status.code(), Some(2));

    // Enrol from a folder named by student id, as MIS photo exports are.
    let dir = ws.root.join("mis-photos");
    fs::create_dir(&dir).unwrap();
    fs::copy(face("obama_portrait.jpg"), dir.join("A1009.jpg")).unwrap();
    fs::copy(face("group_of_four.jpg"), dir.join("A1002.jpg")).unwrap();
    fs::copy(face("obama_portrait.jpg"), dir.join("Z9999.jpg")).unwrap();
    let out = ws.cg(&["register", "enrol-dir", dir.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Enrolled 1 student") && text.contains("Z9999") && text.contains("A1002.jpg"),
        "{text}"
    );

    assert!(ws.cg(&["register", "forget", "A1009"]).status.success());
    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("a.jpg")).unwrap();
    let (lines, _, _) = ws.run_json("website");
    let o = outcome_for(&lines, "a.jpg");
    assert_eq!(
        kinds(o),
        vec!["face_unknown"],
        "forgotten: no longer recognised: {o}"
    );
}

/// Blurring removes the no-publish child, so one moderator may blur and release; but a caption
/// that also names a student still needs a second opinion: the first redaction is recorded, the
/// same person cannot give the second, a different senior's releases the blurred copy.
#[test]
fn a_redaction_needs_a_second_opinion_only_for_reasons_blurring_does_not_remove() {
    let ws = Ws::with_demo_register();
    assert!(enrol(&ws, "A1009", "obama_portrait.jpg").status.success());
    fs::copy(face("obama_blue_room.jpg"), ws.staging().join("a.jpg")).unwrap();
    fs::write(ws.staging().join("a.txt"), "Well done Olivia Smith!").unwrap();
    let (lines, _, _) = ws.run_json("website");
    let o = outcome_for(&lines, "a.jpg");
    let k = kinds(o);
    assert!(
        k.contains(&"face_no_publish".to_string())
            && k.contains(&"caption_names_student".to_string()),
        "{o}"
    );
    let id = o["id"].as_i64().unwrap().to_string();
    ws.add_user("sam", "senior");
    let out = ws.cg(&["review", "redact", &id, "--note", "blur her"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("First approval of blurring"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(ws.files_under("outbox").is_empty());
    // Approving instead is another decision: it needs its own two approvals.
    let out = ws.cg(&["--as", "sam", "review", "approve", &id, "--note", "as is"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("First approval"));
    assert!(ws.files_under("outbox").is_empty());
    let out = ws.cg(&["review", "redact", &id, "--note", "again"]);
    assert!(
        out.status.success(),
        "the approve replaced head's redaction as the first"
    );
    assert!(ws.files_under("outbox").is_empty());
    let out = ws.cg(&[
        "--as",
        "sam",
        "review",
        "redact",
        &id,
        "--note",
        "agreed, blurred",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("face(s) blurred"));
    assert_eq!(ws.files_under("outbox/website").len(), 1);
}
