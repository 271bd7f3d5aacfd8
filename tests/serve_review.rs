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
    let r = s.act(1, "redact", &[("note", "the others are visitors")]);
    assert_eq!(r.status, 303, "{}", r.text());
    let rec = record(&ws, 1);
    assert_eq!(rec["state"], "approved");
    assert_eq!(ws.files_under("outbox/website").len(), 1);

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
            "<form class=\"action recommended\" method=\"post\" action=\"/photo/{id}/reject\""
        )),
        "{page}"
    );
    assert!(page.contains("class=\"sev-unread\""), "{page}");
    let queue = s.page("/queue");
    assert!(queue.contains("<li class=\"sev-unread\""), "{queue}");
}
