//! Two moderators deciding the same held photo at the same moment (two `serve`s, or the page and
//! the CLI): exactly one decision wins, the other is refused and writes nothing, and the journal,
//! the outbox and the audit trail agree afterwards.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use common::workspace::*;
use consentgate::journal::{self, PhotoState};
use consentgate::review::{self, ReviewError};
use consentgate::workspace::Workspace;

const PHOTOS: u8 = 20;

/// `PHOTOS` held photos, each with a caption naming a student (so no caption travels).
fn held_photos() -> (Ws, Vec<i64>) {
    let ws = Ws::with_demo_register();
    // Single approvals race here; second opinions are raced in `serve_security`'s claim.
    ws.set_config("review.second_opinion", toml_edit::Array::new());
    for i in 0..PHOTOS {
        ws.drop_file(
            &format!("race-{i}.jpg"),
            &jpeg(160, 120, i.wrapping_mul(11)),
        );
        ws.drop_file(&format!("race-{i}.txt"), b"Well done Olivia Smith!");
    }
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    let workspace = Workspace::open(&ws.root).unwrap();
    let ids: Vec<i64> = review::held(&workspace)
        .unwrap()
        .iter()
        .map(|h| h.record.id)
        .collect();
    assert_eq!(ids.len(), PHOTOS as usize, "{lines:#?}");
    (ws, ids)
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Approve,
    Reject,
}

/// Run both actions on photo `id` at once, each on its own connection, as two processes would.
fn race(root: &Path, id: i64, acts: [(Act, &'static str); 2]) -> Vec<Result<(), ReviewError>> {
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = acts
        .into_iter()
        .map(|(act, actor)| {
            let barrier = Arc::clone(&barrier);
            let ws = Workspace::open(root).unwrap();
            let actor = consentgate::accounts::Actor::Unverified(actor.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                match act {
                    Act::Approve => review::approve(&ws, id, "fine", &actor).map(|_| ()),
                    Act::Reject => review::reject(&ws, id, "no", &actor),
                }
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn racing_moderators_decide_each_photo_exactly_once() {
    let (ws, ids) = held_photos();
    for (n, &id) in ids.iter().enumerate() {
        // Approve against reject, and (double-click, two tabs) approve against approve.
        let acts = if n % 2 == 0 {
            [(Act::Approve, "Alice"), (Act::Reject, "Bob")]
        } else {
            [(Act::Approve, "Alice"), (Act::Approve, "Bob")]
        };
        let results = race(&ws.root, id, acts);
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            wins, 1,
            "photo #{id}: exactly one decision wins: {results:?}"
        );
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                matches!(
                    e,
                    ReviewError::DecidedMeanwhile { .. } | ReviewError::NotHeld { .. }
                ),
                "photo #{id}: the loser is told someone else decided: {e:?}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("review show {id}")) || msg.contains("review list"),
                "{msg}"
            );
        }
    }

    // The journal and the outbox agree: every approved photo's file is there, nothing else is.
    let workspace = Workspace::open(&ws.root).unwrap();
    let conn = workspace.db().unwrap();
    let mut expected = BTreeSet::new();
    for &id in &ids {
        let rec = journal::get(&conn, id).unwrap();
        match rec.state {
            PhotoState::Approved => {
                let rel = rec
                    .outbox_path
                    .clone()
                    .expect("approved has an outbox path");
                assert!(ws.root.join(&rel).is_file(), "#{id}: {rel} missing");
                expected.insert(ws.root.join(rel));
            }
            PhotoState::Rejected => assert!(rec.outbox_path.is_none(), "#{id}: {rec:?}"),
            other => panic!("photo #{id} is {other:?} after the race"),
        }
        let decisions: Vec<_> = consentgate::audit::trail(&conn, Some(&format!("photo #{id}")))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "approved" || e.action == "rejected")
            .collect();
        assert_eq!(
            decisions.len(),
            1,
            "photo #{id}: exactly one decision in the audit trail: {decisions:#?}"
        );
        let want = match rec.state {
            PhotoState::Approved => "approved",
            _ => "rejected",
        };
        assert_eq!(decisions[0].action, want, "photo #{id}");
    }
    let in_outbox: BTreeSet<PathBuf> = ws.files_under("outbox").into_iter().collect();
    assert_eq!(
        in_outbox, expected,
        "the outbox holds exactly the approved photos"
    );
    let v = consentgate::audit::verify(&conn).unwrap();
    assert!(
        v.broken_at.is_none(),
        "the audit chain is intact: {:?}",
        v.broken_at
    );
}
