//! The face stage on ../shared/corpus/faces, through the CLI (skips with a reason when absent).

use crate::common;

use std::fs;

use common::workspace::*;

#[test]
fn corpus_faces_through_the_gate() {
    let Some(dir) = common::corpus("faces", "corpus_faces") else {
        return;
    };
    let ws = Ws::with_demo_register();
    // The person in obama.jpg is enrolled as the no-publish student A1009.
    let out = ws.cg(&[
        "register",
        "enrol",
        "A1009",
        dir.join("obama.jpg").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "obama2.jpg",
        "biden.jpg",
        "sample1.jpg",
        "solvay-1927.png",
        "astronaut.png",
        "mask_black.jpg",
    ] {
        fs::copy(dir.join(f), ws.staging().join(f)).unwrap();
    }
    ws.drop_file("no-faces.jpg", &jpeg(800, 600, 9));
    let (lines, _, _) = ws.run_json("website");

    let o = outcome_for(&lines, "obama2.jpg");
    assert_eq!(o["decision"], "held");
    assert!(
        o["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "face_no_publish" && r["student"] == "A1009"),
        "{o}"
    );
    for f in ["biden.jpg", "sample1.jpg"] {
        let o = outcome_for(&lines, f);
        assert!(
            o["faces"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["student"] != "A1009"),
            "{f} attributed to A1009: {o}"
        );
        assert!(
            !o["faces"].as_array().unwrap().is_empty(),
            "{f}: a face must be found"
        );
    }
    let solvay = outcome_for(&lines, "solvay-1927.png");
    assert_eq!(
        solvay["faces"].as_array().unwrap().len(),
        29,
        "the 1927 Solvay photo has 29 people"
    );
    assert_eq!(
        outcome_for(&lines, "astronaut.png")["faces"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // mask_black.jpg is a surgical-mask texture on its own (insightface's overlay asset), not a
    // masked person: no face, so it passes the face stage.
    assert!(outcome_for(&lines, "mask_black.jpg")["faces"]
        .as_array()
        .unwrap()
        .is_empty());
    let none = outcome_for(&lines, "no-faces.jpg");
    assert_eq!(none["decision"], "released", "{none}");
    for o in &lines {
        println!(
            "{:<20} {:<9} faces {:>2}  {:?}",
            o["file"].as_str().unwrap(),
            o["decision"].as_str().unwrap(),
            o["faces"].as_array().unwrap().len(),
            o["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["kind"].as_str().unwrap())
                .collect::<Vec<_>>()
        );
    }
}
