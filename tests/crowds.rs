//! Crowds (issue 10): small faces in group photos are found, and a photo whose faces are too
//! small to recognise is never released as if they had been checked. Real faces
//! (`fixtures/faces`), shrunk into generated scenes (`common::crowd`), real model inference.
//! The full-size measurement is `cargo bench --bench crowds`.

use crate::common;

use std::fs;
use std::sync::OnceLock;

use common::crowd::{self, Source, Tally};
use common::serve::*;
use common::workspace::*;
use consentgate::faces::{decode_upright, EngineOptions, FaceEngine};
use image::codecs::jpeg::JpegEncoder;
use image::{imageops, RgbImage};

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        FaceEngine::with_options(EngineOptions {
            embed: false,
            ..EngineOptions::default()
        })
        .expect("bundled models load")
    })
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(image)
        .expect("encode");
    out
}

fn boxes(bytes: &[u8]) -> Vec<[f32; 4]> {
    engine()
        .faces_in(bytes)
        .expect("faces_in")
        .iter()
        .map(|f| crowd::corners(&f.bbox))
        .collect()
}

/// The committed face fixtures, with the faces the detector finds at their own size (checked
/// against what each photo shows).
fn sources() -> &'static [Source] {
    static SOURCES: OnceLock<Vec<Source>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        [
            ("group_of_four.jpg", 4),
            ("obama_blue_room.jpg", 1),
            ("obama_portrait.jpg", 1),
        ]
        .into_iter()
        .map(|(name, n)| {
            let bytes = fs::read(fixtures().join("faces").join(name)).unwrap();
            let image = decode_upright(&bytes).unwrap();
            let faces: Vec<[f32; 4]> = boxes(&bytes);
            assert_eq!(faces.len(), n, "{name}: {faces:?}");
            Source {
                name: name.into(),
                image,
                faces,
            }
        })
        .collect()
    })
}

/// Faces of 16–32 px in 2 MP scenes (mosaics of whole photos and pasted rows), and no false
/// face in pictures with none: the close look finds what the 640 px first look cannot see.
#[test]
fn small_faces_are_found_and_faceless_pictures_stay_faceless() {
    let (w, h) = (1600, 1200);
    let bg = crowd::faceless(0, 800, 600, 3);
    // Mosaics (real photos shrunk: the realistic case) must meet the targets; pasted
    // rows of cut-out faces are harder for CenterFace (see README "Small faces") and are held to
    // what the close look measurably does with them.
    let (mut mosaics, mut pasted) = (Tally::default(), Tally::default());
    for (px, seed, mosaic) in [(16u32, 1u64, true), (24, 3, true), (32, 4, false)] {
        let scene = if mosaic {
            crowd::mosaic(sources(), Some(&bg), px, w, h, seed)
        } else {
            crowd::pasted_crowd(sources(), Some(&bg), px, w, h, seed)
        };
        assert!(
            scene.faces.len() >= 20,
            "{px} px: {} faces",
            scene.faces.len()
        );
        let found = boxes(&jpeg(&scene.image));
        let tally = if mosaic { &mut mosaics } else { &mut pasted };
        tally.add(&scene.faces, &found);
    }
    eprintln!(
        "recall by face height, mosaics:\n{}pasted crowd:\n{}",
        mosaics.table(),
        pasted.table()
    );
    let at = |t: &Tally, lo, hi| t.recall_between(lo, hi).unwrap_or(0.0);
    assert!(
        at(&mosaics, 24, 10_000) >= 0.97,
        "mosaics >= 24 px:\n{}",
        mosaics.table()
    );
    assert!(
        at(&mosaics, 16, 24) >= 0.90,
        "mosaics 16-23 px:\n{}",
        mosaics.table()
    );
    assert!(
        at(&pasted, 24, 10_000) >= 0.90,
        "pasted >= 24 px:\n{}",
        pasted.table()
    );

    let mut false_faces = 0;
    for kind in [1, 3] {
        let found = boxes(&jpeg(&crowd::faceless(kind, w, h, 11 + kind as u64)));
        eprintln!(
            "{}: {} false faces",
            crowd::FACELESS_KINDS[kind],
            found.len()
        );
        false_faces += found.len();
    }
    assert!(
        false_faces <= 1,
        "{false_faces} false faces in 4 faceless pictures"
    );
}

/// A 12 MP photo that is mostly landscape, with four small groups far apart (faces 18 and 20
/// px): the close look must be asked for around each group, by a first look that sees faces
/// that small (the half-size CenterFace cue saw a fifth of 16–20 px faces on the crowds bench).
#[test]
fn small_groups_far_apart_in_a_large_photo_are_all_found() {
    let (w, h) = (4032u32, 3024u32);
    let mut found = Tally::default();
    for (px, seed) in [(18u32, 21u64), (20, 22)] {
        let mut canvas = crowd::canvas(Some(&crowd::faceless(0, 1008, 756, seed)), w, h);
        let faces = crowd::group_shots(sources(), &mut canvas, &[px; 4], seed);
        assert!(faces.len() >= 12, "{px} px: {} faces placed", faces.len());
        let (seen, timings) = engine().faces_in_timed(&jpeg(&canvas)).expect("faces_in");
        let seen: Vec<[f32; 4]> = seen.iter().map(|f| crowd::corners(&f.bbox)).collect();
        found.add(&faces, &seen);
        // The close look runs near the groups the cue saw, not over whole tiles of background.
        let scale = f64::from(engine().options().close_scale);
        let share = timings.close_pixels as f64 / (f64::from(w * h) * scale * scale);
        assert!(
            share < 0.5,
            "{px} px: the close look ran over {share:.2} of the photo"
        );
    }
    eprintln!("sparse groups, recall by face height:\n{}", found.table());
    assert!(
        found.recall_between(16, 24).unwrap_or(0.0) >= 0.90,
        "{}",
        found.table()
    );
}

/// A photo with a class group at the back of a hall: 16 faces about 22 px tall, on a
/// landscape, nothing else in it. 3 MP rather than 12 (the rule is the same, and the debug build
/// looks at 12 MP slowly); `benches/gate_people` runs 12 MP crowds.
fn back_of_the_hall() -> (Vec<u8>, usize) {
    let (w, h) = (2016u32, 1512u32);
    let mut canvas = crowd::canvas(Some(&crowd::faceless(0, 1008, 756, 5)), w, h);
    let group = &sources()[0];
    let s = 22.0 / group.face_height();
    let small = imageops::resize(
        &group.image,
        (group.image.width() as f32 * s) as u32,
        (group.image.height() as f32 * s) as u32,
        imageops::FilterType::Triangle,
    );
    for k in 0..4 {
        imageops::replace(
            &mut canvas,
            &small,
            700 + k * (small.width() as i64 + 6),
            900,
        );
    }
    (jpeg(&canvas), 4 * group.faces.len())
}

fn reasons_of(o: &serde_json::Value) -> Vec<(String, String)> {
    o["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The safety rule end to end: a crowd of faces too small to recognise holds the photo (even
/// with `unknown_faces = "allow"`), with the reason in the words; the review page draws
/// those boxes in their own colour; `small_faces = "allow"` releases it; and with `action =
/// "redact"` every small face is blurred in the released copy.
#[test]
fn a_crowd_too_small_to_recognise_is_held_shown_allowed_or_blurred() {
    let (photo, n) = back_of_the_hall();

    let ws = Ws::with_demo_register();
    ws.set_config("faces.unknown_faces", "allow");
    ws.drop_file("hall.jpg", &photo);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    let o = outcome_for(&lines, "hall.jpg");
    assert_eq!(o["decision"], "held", "{o}");
    let faces = o["faces"].as_array().unwrap();
    assert!(
        faces.len() + 1 >= n,
        "{} of {n} faces found: {o}",
        faces.len()
    );
    assert!(
        faces
            .iter()
            .all(|f| f["small"] == true && f["may_publish"] == false),
        "{o}"
    );
    let reasons = reasons_of(o);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, "small_faces");
    assert_eq!(
        reasons[0].1,
        format!(
            "{} faces too small to recognise (under 32 px); check the crowd for children on the no-publish list",
            faces.len()
        )
    );
    // The review page: every such box in the small-face colour, and the legend says why.
    let server = Server::start(&ws);
    ws.add_user("J. Moderator", "moderator");
    let cookie = login(&server, "J. Moderator");
    let page = get(
        &server.addr,
        "/photo/1",
        &Extra {
            cookie: Some(&cookie),
            ..Extra::default()
        },
    )
    .text();
    assert_eq!(
        page.matches("<g class=\"face flag small\"").count(),
        faces.len(),
        "{page}"
    );
    assert!(page.contains("faces too small to recognise"), "{page}");
    drop(server);

    // "allow": judged like any face; unknown faces are allowed here, so it is released.
    let ws = Ws::with_demo_register();
    ws.set_config("faces.unknown_faces", "allow");
    ws.set_config("faces.small_faces", "allow");
    ws.drop_file("hall.jpg", &photo);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    assert_eq!(outcome_for(&lines, "hall.jpg")["decision"], "released");

    // "redact": released with every small face blurred; the rest of the picture untouched.
    let ws = Ws::with_demo_register();
    ws.set_config("faces.unknown_faces", "allow");
    ws.set_config("faces.action", "redact");
    ws.drop_file("hall.jpg", &photo);
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 0, "{lines:#?}");
    let o = outcome_for(&lines, "hall.jpg");
    assert_eq!(o["decision"], "released", "{o}");
    let out = ws.files_under("outbox/website");
    assert_eq!(out.len(), 1);
    let released = decode_upright(&fs::read(&out[0]).unwrap()).unwrap();
    let original = decode_upright(&photo).unwrap();
    let diff = |b: [f32; 4]| {
        let (x0, y0, x1, y1) = (
            b[0] as u32,
            b[1] as u32,
            (b[0] + b[2]) as u32,
            (b[1] + b[3]) as u32,
        );
        let mut sum = 0u64;
        let mut count = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                let (p, q) = (original.get_pixel(x, y).0, released.get_pixel(x, y).0);
                sum += (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>();
                count += 3;
            }
        }
        sum as f64 / count.max(1) as f64
    };
    for f in o["faces"].as_array().unwrap() {
        let b: Vec<f32> = f["box"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let d = diff([b[0], b[1], b[2], b[3]]);
        assert!(
            d > 8.0,
            "face at {b:?} not blurred (mean difference {d:.1})"
        );
    }
    let corner = diff([100.0, 100.0, 300.0, 300.0]);
    assert!(
        corner < 4.0,
        "picture away from the faces changed ({corner:.1})"
    );
}

/// `eval faces --sizes`: detection and recognition by face height, from a labelled folder.
#[test]
fn eval_faces_reports_recall_and_recognition_by_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for (person, name) in [
        ("obama", "obama_blue_room.jpg"),
        ("obama", "obama_portrait.jpg"),
        ("group", "group_of_four.jpg"),
    ] {
        fs::create_dir_all(dir.join(person)).unwrap();
        fs::copy(
            fixtures().join("faces").join(name),
            dir.join(person).join(name),
        )
        .unwrap();
    }
    let ws = Ws::new();
    let out = ws.cg(&[
        "eval",
        "faces",
        dir.to_str().unwrap(),
        "--sizes",
        "24,96",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["by_size"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(rows[0]["height"], 24);
    assert_eq!(rows[1]["height"], 96);
    // At 96 px every labelled face is found and recognised, nobody else matched.
    let r = &rows[1];
    assert_eq!(r["faces"], 3, "{r}");
    assert_eq!(r["found"], 3, "{r}");
    assert_eq!(r["true_match_rate"], 1.0, "{r}");
    assert_eq!(r["false_match_rate"], 0.0, "{r}");
    assert!(rows[0]["found"].as_u64().unwrap() >= 2, "{}", rows[0]);
}
