//! The review page's own actions, over HTTP against the real binary: editing a caption (checked
//! again, kept back while it names a student), "this face is student X" (a template from that
//! face, every face judged again), redact-and-release, reject, and the audit and takedown views.

use crate::common;

use std::fs;

use common::serve::*;
use common::workspace::*;

struct Session<'a> {
    server: &'a Server,
    cookie: String,
    origin: String,
}

impl Session<'_> {
    fn page(&self, path: &str) -> String {
        let r = get(
            &self.server.addr,
            path,
            &Extra {
                cookie: Some(&self.cookie),
                ..Extra::default()
            },
        );
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.text()
    }

    /// Post a form from the photo's page, with its CSRF token; returns the response.
    fn act(&self, id: i64, action: &str, fields: &[(&str, &str)]) -> Resp {
        let token = csrf(&self.page(&format!("/photo/{id}")));
        let mut f = fields.to_vec();
        f.push(("csrf", &token));
        post(
            &self.server.addr,
            &format!("/photo/{id}/{action}"),
            &Extra {
                cookie: Some(&self.cookie),
                origin: Some(&self.origin),
                ..Extra::default()
            },
            &form(&f),
        )
    }
}

/// Log in as a new moderator account `name`.
fn session<'a>(ws: &Ws, server: &'a Server, name: &str) -> Session<'a> {
    ws.add_user(name, "moderator");
    Session {
        server,
        cookie: login(server, name),
        origin: format!("http://{}", server.addr),
    }
}

/// The value of the form field `name` on a page.
fn field(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&key)
        .unwrap_or_else(|| panic!("no field {name}: {page}"));
    let rest = &page[at + key.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn record(ws: &Ws, id: i64) -> serde_json::Value {
    let out = ws.cg(&["review", "show", &id.to_string(), "--json"]);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kinds(rec: &serde_json::Value) -> Vec<String> {
    rec["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_edited_caption_is_checked_again_and_travels_only_when_it_names_nobody() {
    let ws = held_workspace();
    let server = Server::start(&ws);
    let s = session(&ws, &server, "J. Moderator");
    let original = fs::read(ws.root.join("held/1/original/relay.txt")).unwrap();

    // Still naming her (initial + surname): saved, still a reason, not released with the photo.
    let r = s.act(
        1,
        "caption",
        &[("caption", "Well done O. Smith!"), ("note", "shortened")],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let rec = record(&ws, 1);
    assert!(
        kinds(&rec).contains(&"caption_names_student".to_string()),
        "{rec}"
    );
    assert_eq!(rec["caption"], serde_json::Value::Null);
    assert_eq!(rec["state"], "held");
    let page = s.page("/photo/1");
    assert!(
        page.contains("still names or may name A1001"),
        "flash: {page}"
    );
    assert!(page.contains("O. Smith"));

    // Naming nobody: the caption reason goes, the photo stays held until approved.
    let r = s.act(
        1,
        "caption",
        &[
            ("caption", "Sports day relay, Year 6"),
            ("note", "removed the name"),
        ],
    );
    assert_eq!(r.status, 303);
    let rec = record(&ws, 1);
    assert!(
        !kinds(&rec).iter().any(|k| k.starts_with("caption")),
        "{rec}"
    );
    assert_eq!(rec["caption"], "Sports day relay, Year 6");
    assert_eq!(rec["state"], "held");
    // The sidecar that came with the photo is kept as it was.
    assert_eq!(
        fs::read(ws.root.join("held/1/original/relay.txt")).unwrap(),
        original
    );

    // Approve: the edited caption travels beside the photo.
    let r = s.act(1, "approve", &[("note", "fine now")]);
    assert_eq!(r.status, 303);
    let out = ws.files_under("outbox/website");
    let txt = out
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "txt"))
        .expect("caption file");
    assert_eq!(fs::read_to_string(txt).unwrap(), "Sports day relay, Year 6");

    // The audit keeps the caption before and after, and who changed it.
    let audit = ws.cg(&["audit", "--subject", "photo #1", "--json"]);
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let edits: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "caption-edited")
        .collect();
    assert_eq!(edits.len(), 2);
    assert!(edits[0]["detail"]["before"]
        .as_str()
        .unwrap()
        .contains("Olivia Smith"));
    assert_eq!(edits[1]["detail"]["after"], "Sports day relay, Year 6");
    assert_eq!(edits[1]["actor"], "J. Moderator (account 2)");
    assert!(ws.cg(&["audit", "verify"]).status.success());
}

#[test]
fn this_face_is_student_x_adds_a_template_and_judges_the_faces_again() {
    let ws = Ws::with_demo_register();
    fs::copy(
        fixtures().join("faces/group_of_four.jpg"),
        ws.staging().join("group.jpg"),
    )
    .unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    let rec = record(&ws, 1);
    assert_eq!(rec["faces"].as_array().unwrap().len(), 4);
    assert_eq!(
        kinds(&rec).iter().filter(|k| *k == "face_unknown").count(),
        4
    );

    let server = Server::start(&ws);
    let s = session(&ws, &server, "J. Moderator");
    // The queue's thumbnail carries the four face boxes, numbered, over the whole picture.
    let queue = s.page("/queue");
    let card = &queue[queue.find("data-id=\"1\"").unwrap()..];
    assert!(
        card.contains("<svg class=\"faces thumb\" viewBox=\"0 0 "),
        "{queue}"
    );
    assert_eq!(card.matches("<g class=\"face flag\"").count(), 4, "{queue}");
    assert!(
        card.contains(">1 ?</text>") && card.contains(">4 ?</text>"),
        "{queue}"
    );
    // Faces are drawn with their numbers.
    let page = s.page("/photo/1");
    assert_eq!(page.matches("<g class=\"face flag\"").count(), 4, "{page}");

    // Unknown student, face out of range, no note: refused, nothing stored.
    assert_eq!(
        s.act(
            1,
            "face",
            &[("face", "1"), ("student", "NOBODY"), ("note", "x")]
        )
        .status,
        400
    );
    assert_eq!(
        s.act(
            1,
            "face",
            &[("face", "9"), ("student", "A1002"), ("note", "x")]
        )
        .status,
        400
    );
    assert_eq!(
        s.act(
            1,
            "face",
            &[("face", "1"), ("student", "A1002"), ("note", "")]
        )
        .status,
        400
    );

    // Face 2 is Aarav Patel (consent for the website): he is now recognised in it.
    let r = s.act(
        1,
        "face",
        &[
            ("face", "2"),
            ("student", "A1002"),
            ("note", "his form tutor knows him"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let rec = record(&ws, 1);
    let face = &rec["faces"][1];
    assert_eq!(face["student"], "A1002", "{rec}");
    assert_eq!(face["band"], "match");
    assert_eq!(face["may_publish"], true);
    assert_eq!(
        kinds(&rec)
            .iter()
            .filter(|k| *k == "face_unknown" || *k == "face_ambiguous")
            .count(),
        3,
        "the other three faces are still not cleared: {rec}"
    );
    assert_eq!(rec["state"], "held", "attribution does not release");
    let page = s.page("/photo/1");
    assert!(page.contains("Aarav Patel (A1002)"), "{page}");
    // ...and the thumbnail names him on his face, with its box cleared (not red).
    let queue = s.page("/queue");
    assert!(
        queue.contains("<g class=\"face ok\"><title>Face 2: Aarav Patel (A1002)"),
        "{queue}"
    );
    assert!(queue.contains(">Aarav Patel</text>"), "{queue}");
    // The history says it in words.
    assert!(
        page.contains("Face 2 recorded by J. Moderator (account 2) as Aarav Patel (A1002)"),
        "{page}"
    );

    // The template is in the register (biometric data: `register forget` erases it).
    let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
    let (n, source): (i64, String) = conn
        .query_row(
            "SELECT COUNT(*), MAX(source) FROM face_templates WHERE student_id = 'A1002'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, source.as_str()), (1, "moderator: photo #1 face 2"));
    let audit = String::from_utf8_lossy(&ws.cg(&["audit", "--json"]).stdout).into_owned();
    assert!(audit.contains("\"action\":\"face-attributed\""), "{audit}");
    assert!(
        audit.contains("\"action\":\"face-enrolled\",\"subject\":\"A1002\""),
        "{audit}"
    );

    // Blur the faces still not cleared, and release: face 2 stays sharp, the rest are blurred.
    // First the preview: the blurred file as it would be released; nothing is released yet.
    let r = s.act(
        1,
        "redact",
        &[("note", "the others are visitors"), ("channel", "website")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let preview = r.text();
    assert!(
        preview.contains("<input type=\"hidden\" name=\"channel\" value=\"website\">"),
        "the filter goes on to the confirmation: {preview}"
    );
    assert!(
        preview.contains("3 faces and 0 lines of text blurred"),
        "{preview}"
    );
    let sha = field(&preview, "confirm");
    let blurred = get(
        &server.addr,
        "/photo/1/blurred",
        &Extra {
            cookie: Some(&s.cookie),
            ..Extra::default()
        },
    );
    assert_eq!(blurred.status, 200);
    assert_eq!(blurred.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        sha256_hex(&blurred.body),
        sha,
        "the page names the file it shows"
    );
    assert_eq!(record(&ws, 1)["state"], "held");
    assert!(
        ws.files_under("outbox").is_empty(),
        "a preview releases nothing"
    );
    // A confirmation of another blur (the photo changed since) releases nothing.
    let r = s.act(
        1,
        "redact",
        &[
            ("note", "the others are visitors"),
            ("confirm", &"0".repeat(64)),
        ],
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains("changed since its blur preview"),
        "{}",
        r.text()
    );
    assert!(ws.files_under("outbox").is_empty());
    // Confirmed: exactly the previewed file is released, and the moderator goes on (the queue,
    // as nothing else is held).
    let r = s.act(
        1,
        "redact",
        &[
            ("note", "the others are visitors"),
            ("confirm", &sha),
            ("channel", "website"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/queue?channel=website"));
    let rec = record(&ws, 1);
    assert_eq!(rec["state"], "approved");
    let out = ws.files_under("outbox/website");
    assert_eq!(out.len(), 1);
    assert_eq!(
        fs::read(&out[0]).unwrap(),
        blurred.body,
        "released as previewed"
    );
    // Decided: there is nothing to preview any more.
    let gone = get(
        &server.addr,
        "/photo/1/blurred",
        &Extra {
            cookie: Some(&s.cookie),
            ..Extra::default()
        },
    );
    assert_eq!(gone.status, 409, "{}", gone.text());

    // The takedown view lists the released photo for Aarav, by face.
    let page = s.page("/takedown?student=A1002");
    assert!(page.contains("outbox/website/"), "{page}");
    assert!(page.contains("face (moderator)"), "{page}");
    let page = s.page("/takedown?student=A1001");
    assert!(page.contains("No released photo"), "{page}");
}

#[test]
fn the_queue_audit_and_reject_views_work() {
    let ws = held_workspace();
    let server = Server::start(&ws);
    let s = session(&ws, &server, "J. Moderator");
    let queue = s.page("/queue");
    assert!(queue.contains("2 waiting, oldest first"), "{queue}");
    assert!(
        queue.find("data-id=\"1\"") < queue.find("data-id=\"2\""),
        "oldest first"
    );

    // Make #1 look three days old: it is overdue whatever the weekday.
    let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
    let old = (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339();
    conn.execute("UPDATE photos SET created_at = ?1 WHERE id = 1", [&old])
        .unwrap();
    let queue = s.page("/queue");
    assert!(queue.contains("1 overdue"), "{queue}");
    assert!(
        queue.contains("<li class=\"card overdue\" data-id=\"1\""),
        "{queue}"
    );
    assert!(
        queue.contains("<li class=\"card\" data-id=\"2\""),
        "{queue}"
    );

    let r = s.act(2, "reject", &[("note", "name in the file name")]);
    assert_eq!(r.status, 303);
    assert_eq!(record(&ws, 2)["state"], "rejected");
    assert!(ws.files_under("outbox").is_empty());

    let queue = s.page("/queue");
    assert!(queue.contains("Photo #2 rejected"), "flash: {queue}");
    assert!(!queue.contains("data-id=\"2\""));
    let audit = s.page("/audit");
    assert!(audit.contains("The trail is intact"), "{audit}");
    assert!(audit.contains("rejected") && audit.contains("name in the file name"));
}

#[test]
fn the_cli_mirrors_the_caption_and_face_actions() {
    let ws = held_workspace();
    ws.add_user("J. Moderator", "moderator");
    let out = ws.cg(&[
        "--as",
        "J. Moderator",
        "review",
        "caption",
        "1",
        "--text",
        "Sports day",
        "--note",
        "name removed",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("names nobody"));
    assert_eq!(record(&ws, 1)["caption"], "Sports day");

    let out = ws.cg(&[
        "review",
        "caption",
        "2",
        "--text",
        "Aarav P. wins",
        "--note",
        "n",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("will not be released"));
    assert!(kinds(&record(&ws, 2)).contains(&"caption_names_student".to_string()));

    // No note, or a face the photo does not have: refused with what to do next.
    let out = ws.cg(&["review", "caption", "2", "--text", "x", "--note", " "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a note is required"));
    let out = ws.cg(&["review", "face", "1", "1", "A1001", "--note", "n"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has no face 1 (it has 0)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A damaged photo has no clean copy: its page offers no Approve (which could only fail) and
/// recommends Reject; its reason is marked as one the gate could not read, and the queue's chip
/// says so too.
#[test]
fn a_damaged_photo_offers_reject_not_approve() {
    let ws = Ws::with_demo_register();
    let mut broken = jpeg(64, 48, 1);
    broken.truncate(broken.len() / 2);
    ws.drop_file("broken.jpg", &broken);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(lines[0]["decision"], "held", "{lines:#?}");
    let id = lines[0]["id"].as_i64().unwrap();
    ws.head_ready();
    let server = Server::start(&ws);
    let s = session(&ws, &server, "J. Moderator");
    let page = s.page(&format!("/photo/{id}"));
    assert!(!page.contains("id=\"approve\""), "approve offered: {page}");
    assert!(!page.contains("id=\"redact\""));
    assert!(page.contains("id=\"no-clean-copy\""), "{page}");
    assert!(
        page.contains(&format!(
            "<form class=\"action recommended\" id=\"reject-form\" data-key=\"r\" method=\"post\" action=\"/photo/{id}/reject\""
        )),
        "{page}"
    );
    assert!(page.contains("class=\"sev-unread\""), "{page}");
    // Nothing to blur, no blurred preview, and a forged "blur" posts release nothing.
    let blurred = get(
        &server.addr,
        &format!("/photo/{id}/blurred"),
        &Extra {
            cookie: Some(&s.cookie),
            ..Extra::default()
        },
    );
    assert_eq!(blurred.status, 409, "{}", blurred.text());
    assert!(
        blurred.text().contains("no face or named text to blur"),
        "{}",
        blurred.text()
    );
    let r = s.act(
        id,
        "redact",
        &[("preset", "Blurred the child without consent")],
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let r = s.act(id, "redact", &[("note", "x"), ("confirm", &"0".repeat(64))]);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(ws.files_under("outbox").is_empty());
    let queue = s.page("/queue");
    assert!(queue.contains("<li class=\"sev-unread\""), "{queue}");
}

/// Issue 15 part 2: a moderator in a hurry works through the queue. The queue filters by reason
/// (kind or urgency), channel and event folder; a photo's page knows its place in that filtered
/// queue; a ready-made note is enough (a made-up "ready-made" one is not); approve and reject go
/// on to the next held photo of the same filter; history and the audit trail read as sentences
/// with links, and the gate's own decisions are the service's, not the account that started it.
#[test]
fn a_moderator_works_through_a_filtered_queue_with_ready_made_notes() {
    let ws = held_workspace();
    // This test is about moving through the queue, not about second opinions.
    ws.set_config("review.second_opinion", toml_edit::Array::new());
    // #3: a damaged photo in an event folder; #4: a named caption, for another channel.
    fs::create_dir_all(ws.staging().join("sports-day")).unwrap();
    let mut broken = jpeg(64, 48, 3);
    broken.truncate(broken.len() / 2);
    ws.drop_file("sports-day/broken.jpg", &broken);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!((code, lines[0]["id"].as_i64()), (1, Some(3)), "{lines:#?}");
    ws.drop_file("trip.jpg", &jpeg(320, 240, 5));
    ws.drop_file("trip.txt", b"Olivia Smith at the museum");
    let (lines, _, code) = ws.run_json("social");
    assert_eq!((code, lines[0]["id"].as_i64()), (1, Some(4)), "{lines:#?}");

    let server = Server::start(&ws);
    let s = session(&ws, &server, "J. Moderator");
    let shown = |page: &str| -> Vec<i64> {
        (1..=4)
            .filter(|id| page.contains(&format!("<li class=\"card\" data-id=\"{id}\"")))
            .collect()
    };
    assert_eq!(shown(&s.page("/queue")), [1, 2, 3, 4]);
    let queue = s.page("/queue");
    assert!(
        queue.contains("<option value=\"damaged_file\">damaged file (1)</option>"),
        "{queue}"
    );
    assert!(
        queue.contains(
            "<option value=\"caption_names_student\">caption names a student (3)</option>"
        ),
        "{queue}"
    );
    assert!(
        queue.contains("<option value=\"sports-day\">sports-day (1)</option>"),
        "{queue}"
    );
    assert!(
        queue.contains("<option value=\"social\">social (1)</option>"),
        "{queue}"
    );
    // By reason kind, by urgency, by channel, by folder; the links keep the filter.
    let damaged = s.page("/queue?reason=damaged_file");
    assert_eq!(shown(&damaged), [3]);
    assert!(
        damaged.contains("1 of 4 waiting match the filter"),
        "{damaged}"
    );
    assert!(
        damaged.contains("href=\"/photo/3?reason=damaged_file\""),
        "{damaged}"
    );
    assert!(
        damaged.contains("<option value=\"damaged_file\" selected>"),
        "{damaged}"
    );
    assert_eq!(shown(&s.page("/queue?reason=cannot_read")), [3]);
    assert_eq!(shown(&s.page("/queue?reason=must_not_publish")), [1, 2, 4]);
    assert_eq!(shown(&s.page("/queue?channel=social")), [4]);
    assert_eq!(shown(&s.page("/queue?folder=sports-day")), [3]);
    assert_eq!(
        shown(&s.page("/queue?folder=%2F")),
        [1, 2, 4],
        "the top of staging"
    );
    assert!(
        !s.page("/queue").contains(" selected>"),
        "no filter: nothing selected"
    );
    assert_eq!(
        shown(&s.page("/queue?channel=website&reason=caption_names_student")),
        [1, 2]
    );
    let bad = get(
        &server.addr,
        "/queue?reason=nonsense",
        &Extra {
            cookie: Some(&s.cookie),
            ..Extra::default()
        },
    );
    assert_eq!(bad.status, 400, "an unknown reason is not silently 'any'");

    // A photo's page: its place in the filtered queue, next and previous, the keys.
    let page = s.page("/photo/1?channel=website");
    assert!(page.contains("1 of 3 (filtered)"), "{page}");
    assert!(
        page.contains("id=\"next\" href=\"/photo/2?channel=website\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"previous\" href=\"/photo/3?channel=website\""),
        "wraps: {page}"
    );
    assert!(
        page.contains("<input type=\"hidden\" name=\"channel\" value=\"website\">"),
        "{page}"
    );
    assert!(
        page.contains("id=\"keys\"") && page.contains("<kbd>a</kbd>"),
        "{page}"
    );
    // Ready-made notes for each action, those for its reasons first.
    let approve = &page[page.find("id=\"approve-note-preset\"").unwrap()..];
    assert!(
        approve.starts_with("id=\"approve-note-preset\" name=\"preset\"><option value=\"\">")
            && approve.contains("</option><option value=\"Caption fixed\">Caption fixed</option>"),
        "{approve}"
    );

    // No note at all, or a "ready-made" note that is not one: refused, nothing happens.
    let r = s.act(2, "reject", &[("preset", ""), ("note", " ")]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("a note is required"), "{}", r.text());
    let r = s.act(2, "reject", &[("preset", "Consent checked with parent")]);
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("not one of the ready-made notes"),
        "{}",
        r.text()
    );
    assert_eq!(record(&ws, 2)["state"], "held");

    // Reject #2 with a ready-made note only: on to the next website photo, #3.
    let r = s.act(
        2,
        "reject",
        &[
            ("preset", "Not suitable for publication"),
            ("channel", "website"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/photo/3?channel=website"));
    assert_eq!(record(&ws, 2)["state"], "rejected");
    let page = s.page("/photo/3?channel=website");
    assert!(page.contains("Photo #2 rejected"), "flash: {page}");
    // Reject #3 (ready-made note and own words): the queue wraps round to #1.
    let r = s.act(
        3,
        "reject",
        &[
            ("preset", "Damaged or unreadable file: ask for a re-export"),
            ("note", "asked Mr Jones"),
            ("channel", "website"),
        ],
    );
    assert_eq!(r.header("location"), Some("/photo/1?channel=website"));
    // Approve #1: no website photo is left, so back to the (filtered) queue.
    let r = s.act(
        1,
        "approve",
        &[
            ("preset", "Checked: fine to publish"),
            ("channel", "website"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/queue?channel=website"));
    assert_eq!(record(&ws, 1)["state"], "approved");
    let queue = s.page("/queue?channel=website");
    assert!(queue.contains("0 of 1 waiting match the filter"), "{queue}");
    assert_eq!(shown(&queue), Vec::<i64>::new());

    // The notes are recorded as chosen.
    let audit = ws.cg(&["audit", "--json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |subject: &str, action: &str| {
        rows.iter()
            .find(|r| r["subject"] == subject && r["action"] == action)
            .unwrap_or_else(|| panic!("no {action} of {subject}"))
            .clone()
    };
    assert_eq!(
        row("photo #2", "rejected")["detail"]["note"],
        "Not suitable for publication"
    );
    assert_eq!(
        row("photo #3", "rejected")["detail"]["note"],
        "Damaged or unreadable file: ask for a re-export \u{2014} asked Mr Jones"
    );
    // The gate's own decisions are the service's; who started the run is kept beside it.
    for id in 1..=4 {
        let held = row(&format!("photo #{id}"), "held");
        assert_eq!(held["actor"], "consentgate gate", "{held}");
        assert!(
            held["detail"]["started_by"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{held}"
        );
    }

    // History in words on the photo's page; the audit view in words with links; no JSON.
    let page = s.page("/photo/3");
    assert!(
        page.contains("Rejected by J. Moderator (account 2); a re-upload of it will be held too"),
        "{page}"
    );
    assert!(
        page.contains(
            "note: <q>Damaged or unreadable file: ask for a re-export \u{2014} asked Mr Jones</q>"
        ),
        "{page}"
    );
    assert!(
        page.contains("Held for review by the gate (consentgate gate, started by "),
        "{page}"
    );
    let audit = s.page("/audit");
    assert!(
        audit.contains("<a class=\"subject\" href=\"/photo/1\">Photo #1</a>: <span class=\"what\">Approved by J. Moderator (account 2) and released to outbox/website/"),
        "{audit}"
    );
    assert!(audit.contains("User added by head (account 1)"), "{audit}");
    let trail = &audit[audit.find("<ol class=\"trail\">").unwrap()..];
    assert!(
        !trail.contains("{&quot;") && !trail.contains("&quot;:"),
        "no JSON: {trail}"
    );
}
