//! Text in the picture through the whole gate, with the real OCR models on rendered pictures
//! (fixtures/text, made by its make-fixtures.py): a certificate or badge naming a student is held
//! with where the name is written; a school sign and a text-free picture are released; the text
//! boxes are listed, drawn on the review page and blurred on redaction; failures hold.

use crate::common;

use std::fs;

use common::serve::{get, login, Extra, Server};
use common::workspace::*;

fn text_fixture(name: &str) -> std::path::PathBuf {
    fixtures().join("text").join(name)
}

/// The demo register, faces off (these pictures have none; the face stage is tested elsewhere).
fn ws() -> Ws {
    let ws = Ws::with_demo_register();
    ws.set_config("faces.enabled", false);
    ws
}

fn stage(ws: &Ws, fixture: &str, as_name: &str) {
    fs::copy(text_fixture(fixture), ws.staging().join(as_name)).unwrap();
}

fn reasons_of<'a>(o: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == kind)
        .collect()
}

/// A certificate "awarded to Olivia Smith" and a badge "Aarav Patel" are held naming the right
/// student and saying where the name is written; "Sports Day 2026 / Greenfield Primary School"
/// and a picture with no text are released. Every line read is listed with whom it names.
#[test]
fn named_text_in_the_picture_holds_and_signs_do_not() {
    let ws = ws();
    stage(&ws, "certificate.jpg", "IMG_0101.jpg");
    stage(&ws, "badge.jpg", "IMG_0102.jpg");
    stage(&ws, "sign.jpg", "IMG_0103.jpg");
    stage(&ws, "plain.jpg", "IMG_0104.jpg");
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");

    let cert = outcome_for(&lines, "IMG_0101.jpg");
    assert_eq!(cert["decision"], "held", "{cert}");
    let r = reasons_of(cert, "picture_text_names_student");
    assert_eq!(r.len(), 1, "{cert}");
    assert_eq!(r[0]["student"], "A1001");
    assert_eq!(r[0]["source"], "in_picture");
    let detail = r[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(
            "text in the picture names Olivia Rose Smith (A1001): \"Olivia Smith\" at "
        ) || detail
            .starts_with("text in the picture names Olivia Smith (A1001): \"Olivia Smith\" at "),
        "{detail}"
    );
    // ...at x, y (w×h) where the name is drawn (make-fixtures.py: around x 580, y 490).
    let at = detail.split(" at ").nth(1).unwrap();
    let x: f64 = at.split(',').next().unwrap().parse().unwrap();
    assert!((540.0..620.0).contains(&x), "{detail}");
    assert!(at.contains('\u{d7}'), "{detail}");
    // Every line is listed; the named one points at the student.
    let texts = cert["texts"].as_array().unwrap();
    let read: Vec<&str> = texts.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert!(read.contains(&"awarded to"), "{read:?}");
    let name_line = &texts[r[0]["text"].as_u64().unwrap() as usize];
    assert_eq!(name_line["text"], "Olivia Smith");
    assert_eq!(name_line["named"], serde_json::json!(["A1001"]));
    assert_eq!(name_line["box"].as_array().unwrap().len(), 4);
    assert!(texts
        .iter()
        .filter(|t| t["text"] != "Olivia Smith")
        .all(|t| t["named"] == serde_json::json!([])));

    let badge = outcome_for(&lines, "IMG_0102.jpg");
    let r = reasons_of(badge, "picture_text_names_student");
    assert_eq!(
        r.iter().map(|r| r["student"].clone()).collect::<Vec<_>>(),
        ["A1002"],
        "{badge}"
    );

    let sign = outcome_for(&lines, "IMG_0103.jpg");
    assert_eq!(sign["decision"], "released", "{sign}");
    let read: Vec<&str> = sign["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(
        read.contains(&"Sports Day 2026"),
        "the sign was read: {read:?}"
    );
    assert_eq!(outcome_for(&lines, "IMG_0104.jpg")["decision"], "released");

    let held = ws.files_under("held");
    assert!(
        held.iter().any(|p| p.ends_with("original/IMG_0101.jpg")),
        "the original is held intact: {held:?}"
    );
    assert_eq!(
        fs::read(
            held.iter()
                .find(|p| p.ends_with("original/IMG_0101.jpg"))
                .unwrap()
        )
        .unwrap(),
        fs::read(text_fixture("certificate.jpg")).unwrap()
    );
}

/// A name the reader gets a letter wrong in ("Olivia Srnith" for "Smith": the picture writes it
/// with the look-alike "rn", as a blurred "m" is misread) is still held, as a possible mention
/// that quotes what was read, for a moderator to look at.
#[test]
fn a_name_read_with_look_alike_letters_is_held_for_a_look() {
    let ws = ws();
    let o = check_json(&ws, &text_fixture("look-alike.jpg"));
    assert_eq!(o["decision"], "held", "{o}");
    let texts = o["texts"].as_array().unwrap();
    assert!(
        texts.iter().any(|t| t["text"] == "Olivia Srnith"),
        "the line is listed as read: {texts:?}"
    );
    let r = reasons_of(&o, "picture_text_may_name_student");
    let full: Vec<&str> = r
        .iter()
        .map(|r| r["detail"].as_str().unwrap())
        .filter(|d| d.contains("; full name; read as \"Olivia Srnith\""))
        .collect();
    assert_eq!(full.len(), 1, "{o}");
    assert!(
        full[0].contains("(A1001): \"Olivia Smith\" at "),
        "{}",
        full[0]
    );
    assert!(
        reasons_of(&o, "picture_text_names_student").is_empty(),
        "{o}"
    );
}

/// `check --json` lists every line read with its box, text and whom it names, and touches nothing.
#[test]
fn check_lists_every_line_read() {
    let ws = ws();
    let out = ws.cg(&[
        "check",
        text_fixture("sign.jpg").to_str().unwrap(),
        "--channel",
        "website",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts = v["texts"].as_array().unwrap();
    let read: Vec<&str> = texts.iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert_eq!(read, ["Sports Day 2026", "Greenfield Primary School"]);
    for t in texts {
        assert_eq!(t["named"], serde_json::json!([]));
        let b: Vec<f64> = t["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!(b[2] > 200.0 && b[3] > 20.0, "{t}");
    }
    assert!(ws.files_under("held").is_empty() && ws.files_under("outbox").is_empty());
}

/// The text models cannot load, or reading fails: held, "text in the picture could not be
/// checked", the original intact — never released unread.
#[test]
fn an_ocr_failure_holds_the_photo() {
    for point in ["text.model-load", "text.inference"] {
        let ws = ws();
        stage(&ws, "plain.jpg", "IMG_0201.jpg");
        let out = std::process::Command::new(BIN)
            .arg("-w")
            .arg(&ws.root)
            .args(["run", "--channel", "website", "--json"])
            .env("FAILPOINTS", format!("{point}=return"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{point}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let o: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        assert_eq!(o["decision"], "held", "{point}: {o}");
        let r = reasons_of(&o, "picture_text_unchecked");
        assert_eq!(r.len(), 1, "{point}: {o}");
        assert!(
            r[0]["detail"]
                .as_str()
                .unwrap()
                .starts_with("text in the picture could not be checked"),
            "{o}"
        );
        assert!(ws.files_under("outbox").is_empty());
        let held = ws.files_under("held");
        assert!(
            held.iter().any(|p| p.ends_with("original/IMG_0201.jpg")),
            "{held:?}"
        );
    }
}

/// `[text] enabled = false` turns the stage off (documented; the certificate is then released).
#[test]
fn the_text_stage_can_be_turned_off() {
    let ws = ws();
    ws.set_config("text.enabled", false);
    stage(&ws, "certificate.jpg", "IMG_0301.jpg");
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!(
        outcome_for(&lines, "IMG_0301.jpg")["texts"],
        serde_json::json!([])
    );
}

/// Mean absolute horizontal gradient inside `b` (`[x, y, w, h]`): how much detail is left.
fn detail(img: &image::GrayImage, b: [u32; 4]) -> f64 {
    let [x, y, w, h] = b;
    let mut sum = 0u64;
    for py in y..y + h {
        for px in x..x + w - 1 {
            sum += (img.get_pixel(px, py).0[0] as i64 - img.get_pixel(px + 1, py).0[0] as i64)
                .unsigned_abs();
        }
    }
    sum as f64 / (w * h) as f64
}

fn check_json(ws: &Ws, file: &std::path::Path) -> serde_json::Value {
    let out = ws.cg(&[
        "check",
        file.to_str().unwrap(),
        "--channel",
        "website",
        "--json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// With `action = "redact"` and a name in the picture as the only reason, the name is blurred
/// and the photo released; the released copy names nobody any more (checked again).
#[test]
fn redaction_blurs_the_named_text_and_releases() {
    let ws = ws();
    ws.set_config("faces.action", "redact");
    stage(&ws, "certificate.jpg", "IMG_0401.jpg");
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    let o = outcome_for(&lines, "IMG_0401.jpg");
    assert_eq!(o["decision"], "released", "{o}");
    let removed = o["removed"].to_string();
    assert!(
        removed.contains("1 line(s) of text naming a student blurred"),
        "{o}"
    );
    let line = o["texts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["text"] == "Olivia Smith")
        .unwrap_or_else(|| panic!("{o}"));
    let b = [0, 1, 2, 3].map(|i| line["box"][i].as_f64().unwrap() as u32);
    let released_path = ws.root.join(o["outbox"].as_str().unwrap());
    let released = image::open(&released_path).unwrap().to_luma8();
    let original = image::open(text_fixture("certificate.jpg"))
        .unwrap()
        .to_luma8();
    assert!(
        detail(&released, b) < detail(&original, b) / 4.0,
        "text detail survived: {} vs {}",
        detail(&released, b),
        detail(&original, b)
    );
    let again = check_json(&ws, &released_path);
    assert!(
        reasons_of(&again, "picture_text_names_student").is_empty(),
        "the blurred copy still names her: {again}"
    );
    // The rest of the certificate is untouched enough to read.
    let read: Vec<&str> = again["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert!(read.contains(&"awarded to"), "{read:?}");
}

/// Held for its text (`action = "hold"`), the review page draws every text box and marks the
/// named one; the moderator's redact-and-release blurs the named text and releases.
#[test]
fn the_moderator_sees_the_text_boxes_and_can_blur_the_name() {
    let ws = ws();
    stage(&ws, "certificate.jpg", "IMG_0501.jpg");
    let (lines, _, _) = ws.run_json("website");
    let o = outcome_for(&lines, "IMG_0501.jpg");
    assert_eq!(o["decision"], "held");
    let id = o["id"].as_i64().unwrap().to_string();
    let n_texts = o["texts"].as_array().unwrap().len();

    let server = Server::start(&ws);
    ws.add_user("Ms Moderator", "moderator");
    let cookie = login(&server, "Ms Moderator");
    let page = get(
        &server.addr,
        &format!("/photo/{id}"),
        &Extra {
            cookie: Some(&cookie),
            ..Extra::default()
        },
    )
    .text();
    assert_eq!(
        page.matches("<g class=\"text").count(),
        n_texts,
        "every text box is drawn: {page}"
    );
    assert_eq!(page.matches("<g class=\"text hit\"").count(), 1, "{page}");
    assert!(page.contains("Text in the picture"), "{page}");
    assert!(
        page.contains("id=\"redact\""),
        "the blur action is offered: {page}"
    );
    drop(server);

    let out = ws.cg(&[
        "review",
        "redact",
        &id,
        "--note",
        "blur the certificate",
        "--as",
        "Ms Moderator",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let released = ws.files_under("outbox/website");
    assert_eq!(released.len(), 1);
    let again = check_json(&ws, &released[0]);
    assert!(
        reasons_of(&again, "picture_text_names_student").is_empty(),
        "{again}"
    );
}
