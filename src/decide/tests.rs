//! SPEC's decision table, row by row: findings in, verdict out — no files, no models.

use chrono::NaiveDate;

use super::*;
use crate::captions::{CaptionHit, Severity, TextSource};
use crate::findings::{FaceMatch, Finding, FormatProblem, FormatProblemKind, Unread};
use crate::formats::Device;
use crate::register::{Consent, Status, Student};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn student(id: &str, no_publish: bool, consents: Vec<Consent>) -> Student {
    Student {
        year: "5".into(),
        no_publish,
        consents,
        ..Student::on_roll(id, "Olivia", "Smith")
    }
}

fn consent(
    granted: bool,
    expires_on: Option<NaiveDate>,
    withdrawn_on: Option<NaiveDate>,
) -> Consent {
    Consent {
        channel: "website".into(),
        granted,
        given_on: None,
        expires_on,
        withdrawn_on,
    }
}

fn register() -> Students {
    let mut left = student("LEFT", false, vec![consent(true, None, None)]);
    left.status = Status::Left;
    [
        student("OK", false, vec![consent(true, None, None)]),
        student("NOPUB", true, vec![consent(true, None, None)]),
        student("NONE", false, vec![]),
        student(
            "EXPIRED",
            false,
            vec![consent(true, Some(day(2026, 1, 1)), None)],
        ),
        student(
            "WITHDRAWN",
            false,
            vec![consent(false, None, Some(day(2026, 3, 1)))],
        ),
        left,
    ]
    .into_iter()
    .map(|s| (s.id.clone(), s))
    .collect()
}

fn policy() -> Policy {
    Policy {
        channel: "website".into(),
        today: day(2026, 6, 1),
        faces: FacePolicy {
            match_distance: 0.55,
            ambiguous_distance: 0.65,
            unknown_faces: UnknownFaces::Review,
            action: FaceAction::Hold,
            small_faces: SmallFaces::Review,
            recognisable_px: 40.0,
        },
        require_school_devices: true,
        reupload_distance: 31,
    }
}

fn face(nearest: Option<(&str, f32)>) -> Finding {
    Finding::Face(FaceMatch {
        bbox: [10.0, 20.0, 30.0, 40.0],
        detection: 0.9,
        nearest: nearest.map(|(id, d)| (id.to_string(), d)),
        same_picture: None,
    })
}

fn caption(id: &str, severity: Severity, source: TextSource) -> Finding {
    Finding::Caption {
        hit: CaptionHit {
            student_id: id.into(),
            severity,
            form: "full name".into(),
            part: false,
            matched: "Olivia Smith".into(),
            source: source.label(),
            note: None,
        },
        source,
    }
}

fn kinds(v: &Verdict) -> Vec<ReasonKind> {
    v.reasons().iter().map(|r| r.kind).collect()
}

fn verdict(findings: &[Finding], policy: &Policy) -> Verdict {
    decide(findings, policy, &register()).verdict
}

#[test]
fn nothing_found_releases() {
    assert_eq!(verdict(&[], &policy()), Verdict::Release);
    let cleared = [face(Some(("OK", 0.3)))];
    assert_eq!(verdict(&cleared, &policy()), Verdict::Release);
}

#[test]
fn a_no_publish_face_is_held_naming_the_student_and_the_face() {
    let v = verdict(&[face(Some(("NOPUB", 0.3)))], &policy());
    assert_eq!(kinds(&v), [ReasonKind::FaceNoPublish]);
    let r = &v.reasons()[0];
    assert_eq!((r.student.as_deref(), r.face), (Some("NOPUB"), Some(0)));
    assert!(
        r.detail.contains("no-publish") && r.detail.contains("distance 0.30"),
        "{}",
        r.detail
    );
}

#[test]
fn every_kind_of_missing_consent_holds() {
    for (id, words) in [
        ("NONE", "has no consent for website"),
        ("EXPIRED", "expired"),
        ("WITHDRAWN", "withdrew consent"),
        ("LEFT", "has left the school"),
        ("GONE", "not in the register"),
    ] {
        let v = verdict(&[face(Some((id, 0.3)))], &policy());
        assert_eq!(kinds(&v), [ReasonKind::FaceNoConsent], "{id}");
        assert!(
            v.reasons()[0].detail.contains(words),
            "{id}: {:?}",
            v.reasons()
        );
    }
}

#[test]
fn a_face_between_the_thresholds_is_ambiguous_and_held() {
    let v = verdict(&[face(Some(("OK", 0.6)))], &policy());
    assert_eq!(kinds(&v), [ReasonKind::FaceAmbiguous]);
}

#[test]
fn an_unknown_face_is_held_for_review_unless_the_config_allows_it() {
    for nearest in [None, Some(("OK", 0.9))] {
        let v = verdict(&[face(nearest)], &policy());
        assert_eq!(kinds(&v), [ReasonKind::FaceUnknown]);
        let mut allow = policy();
        allow.faces.unknown_faces = UnknownFaces::Allow;
        assert_eq!(verdict(&[face(nearest)], &allow), Verdict::Release);
    }
}

#[test]
fn the_same_picture_as_an_enrolment_photo_is_that_student_whatever_the_distance() {
    let f = Finding::Face(FaceMatch {
        bbox: [0.0; 4],
        detection: 0.9,
        nearest: Some(("OK".into(), 0.9)),
        same_picture: Some("NOPUB".into()),
    });
    let j = decide(&[f], &policy(), &register());
    assert_eq!(kinds(&j.verdict), [ReasonKind::FaceNoPublish]);
    assert_eq!(j.faces[0].band, Band::Match);
}

#[test]
fn caption_names_hold_and_weaker_hits_are_held_as_possible() {
    let v = verdict(
        &[caption("OK", Severity::Block, TextSource::Sidecar)],
        &policy(),
    );
    assert_eq!(kinds(&v), [ReasonKind::CaptionNamesStudent]);
    assert_eq!(v.reasons()[0].source, Some(TextSource::Sidecar));
    let v = verdict(
        &[caption("OK", Severity::Review, TextSource::FileName)],
        &policy(),
    );
    assert_eq!(kinds(&v), [ReasonKind::CaptionMayNameStudent]);
    assert!(v.reasons()[0]
        .detail
        .starts_with("filename may name Olivia Smith (OK)"));
}

#[test]
fn a_sidecar_that_names_someone_never_travels_other_sources_do_not_stop_it() {
    let j = decide(
        &[caption("OK", Severity::Review, TextSource::Sidecar)],
        &policy(),
        &register(),
    );
    assert!(j.sidecar_names_someone);
    let j = decide(
        &[caption("OK", Severity::Block, TextSource::FileName)],
        &policy(),
        &register(),
    );
    assert!(!j.sidecar_names_someone);
    assert_eq!(
        j.students,
        [("OK".to_string(), "caption (filename)".to_string())]
    );
}

#[test]
fn a_near_duplicate_of_a_rejected_photo_is_held_within_the_limit_only() {
    let near = Finding::Reupload {
        photo_id: 7,
        distance: 31,
    };
    let v = verdict(&[near], &policy());
    assert_eq!(kinds(&v), [ReasonKind::NearDuplicateOfRejected]);
    assert!(v.reasons()[0].detail.contains("#7"));
    let far = Finding::Reupload {
        photo_id: 7,
        distance: 32,
    };
    assert_eq!(verdict(&[far], &policy()), Verdict::Release);
}

#[test]
fn an_unregistered_device_is_held_only_when_school_devices_are_required() {
    let d = Finding::Device {
        device: Device {
            make: Some("Apple".into()),
            model: Some("iPhone 15".into()),
            serial: None,
        },
        registered: false,
    };
    let v = verdict(std::slice::from_ref(&d), &policy());
    assert_eq!(kinds(&v), [ReasonKind::UnregisteredDevice]);
    assert!(v.reasons()[0].detail.contains("Apple iPhone 15"));
    let mut relaxed = policy();
    relaxed.require_school_devices = false;
    assert_eq!(verdict(&[d], &relaxed), Verdict::Release);
}

#[test]
fn unsupported_damaged_unreadable_and_unchecked_files_are_held() {
    let problem = |kind| {
        Finding::Format(FormatProblem {
            kind,
            message: "what to do".into(),
        })
    };
    for (f, k) in [
        (
            problem(FormatProblemKind::Unsupported),
            ReasonKind::UnsupportedFormat,
        ),
        (problem(FormatProblemKind::Damaged), ReasonKind::DamagedFile),
        (problem(FormatProblemKind::TooLarge), ReasonKind::TooLarge),
        (
            Finding::Unread(Unread::SymbolicLink {
                target: "/etc/passwd".into(),
            }),
            ReasonKind::SymbolicLink,
        ),
        (
            Finding::Unread(Unread::Unreadable {
                error: "denied".into(),
            }),
            ReasonKind::Unreadable,
        ),
        (
            Finding::CaptionUnreadable {
                error: "bad bytes".into(),
            },
            ReasonKind::CaptionUnreadable,
        ),
        (
            Finding::FacesUnchecked {
                error: "model".into(),
            },
            ReasonKind::FacesUnchecked,
        ),
        (
            Finding::ReuploadUnchecked {
                error: "decode".into(),
            },
            ReasonKind::FacesUnchecked,
        ),
    ] {
        assert_eq!(kinds(&verdict(&[f], &policy())), [k]);
    }
}

#[test]
fn redaction_replaces_a_hold_only_when_blurring_removes_every_reason() {
    let mut redact = policy();
    redact.faces.action = FaceAction::Redact;
    let v = verdict(
        &[face(Some(("NOPUB", 0.3))), face(Some(("OK", 0.3)))],
        &redact,
    );
    match v {
        Verdict::RedactThenRelease { boxes, reasons } => {
            assert_eq!(boxes.len(), 1, "only the face that may not be published");
            assert_eq!(reasons.len(), 1);
        }
        other => panic!("expected a redaction, got {other:?}"),
    }
    // A caption naming a student is not removed by blurring a face: held.
    let mixed = [
        face(Some(("NOPUB", 0.3))),
        caption("OK", Severity::Block, TextSource::Sidecar),
    ];
    assert!(verdict(&mixed, &redact).is_hold());
    // Unknown faces are for a moderator, not for blurring.
    assert!(verdict(&[face(None)], &redact).is_hold());
    let failed = redaction_failed(vec![], "decoder");
    assert_eq!(kinds(&failed), [ReasonKind::FacesUnchecked]);
}

#[test]
fn reasons_come_most_serious_first_each_once() {
    let v = verdict(
        &[
            face(None),
            caption("OK", Severity::Block, TextSource::Sidecar),
            caption("OK", Severity::Block, TextSource::Sidecar),
        ],
        &policy(),
    );
    assert_eq!(
        kinds(&v),
        [ReasonKind::CaptionNamesStudent, ReasonKind::FaceUnknown]
    );
}

fn small_face(nearest: Option<(&str, f32)>, height: f32) -> Finding {
    Finding::Face(FaceMatch {
        bbox: [100.0, 200.0, height * 0.8, height],
        detection: 0.6,
        nearest: nearest.map(|(id, d)| (id.to_string(), d)),
        same_picture: None,
    })
}

/// Faces too small to recognise are never cleared by their (unreliable) embedding: one reason
/// counts them, with the words; each is marked small and not publishable.
#[test]
fn faces_too_small_to_recognise_are_held_in_one_reason() {
    let findings = [
        small_face(None, 20.0),
        small_face(Some(("OK", 0.3)), 30.0),
        small_face(Some(("OK", 0.3)), 39.5),
        face(Some(("OK", 0.3))),
    ];
    let mut allow_unknown = policy();
    allow_unknown.faces.unknown_faces = UnknownFaces::Allow;
    for p in [policy(), allow_unknown] {
        let j = decide(&findings, &p, &register());
        assert_eq!(kinds(&j.verdict), [ReasonKind::SmallFaces]);
        let r = &j.verdict.reasons()[0];
        assert_eq!(
            r.detail,
            "3 faces too small to recognise (under 40 px); check the crowd for children on the no-publish list"
        );
        assert_eq!((r.student.as_deref(), r.face), (None, None));
        let small: Vec<_> = j.faces.iter().map(|f| (f.small, f.may_publish)).collect();
        assert_eq!(
            small,
            [(true, false), (true, false), (true, false), (false, true)]
        );
    }
    let one = decide(&[small_face(None, 12.0)], &policy(), &register());
    assert_eq!(
        one.verdict.reasons()[0].detail,
        "1 face too small to recognise (under 40 px); check the crowd for children on the no-publish list"
    );
}

/// A small face already held for who it may be keeps that reason (the more serious one); a
/// moderator's attribution (the same picture) is trusted whatever the size.
#[test]
fn a_small_face_matching_a_no_publish_student_stays_a_no_publish_hold() {
    let v = verdict(&[small_face(Some(("NOPUB", 0.3)), 20.0)], &policy());
    assert_eq!(kinds(&v), [ReasonKind::FaceNoPublish]);
    let attributed = Finding::Face(FaceMatch {
        bbox: [0.0, 0.0, 16.0, 20.0],
        detection: 0.6,
        nearest: Some(("OK".into(), 0.2)),
        same_picture: Some("OK".into()),
    });
    assert_eq!(verdict(&[attributed], &policy()), Verdict::Release);
}

/// `small_faces = "allow"` judges small faces like any face: cleared by a match, unknown ones
/// per `unknown_faces`.
#[test]
fn small_faces_allow_judges_them_like_any_face() {
    let mut allow = policy();
    allow.faces.small_faces = SmallFaces::Allow;
    assert_eq!(
        verdict(&[small_face(Some(("OK", 0.3)), 20.0)], &allow),
        Verdict::Release
    );
    assert_eq!(
        kinds(&verdict(&[small_face(None, 20.0)], &allow)),
        [ReasonKind::FaceUnknown]
    );
    allow.faces.unknown_faces = UnknownFaces::Allow;
    let j = decide(&[small_face(None, 20.0)], &allow, &register());
    assert_eq!(j.verdict, Verdict::Release);
    assert!(j.faces[0].small && j.faces[0].may_publish);
}

/// With `action = "redact"`, faces too small to recognise are blurred with the rest and the
/// photo released.
#[test]
fn redaction_blurs_small_faces_too() {
    let mut redact = policy();
    redact.faces.action = FaceAction::Redact;
    redact.faces.unknown_faces = UnknownFaces::Allow;
    let v = verdict(
        &[
            small_face(None, 20.0),
            face(Some(("NOPUB", 0.3))),
            face(Some(("OK", 0.3))),
        ],
        &redact,
    );
    match v {
        Verdict::RedactThenRelease { boxes, .. } => {
            assert_eq!(
                boxes,
                vec![[100.0, 200.0, 16.0, 20.0], [10.0, 20.0, 30.0, 40.0]]
            );
        }
        other => panic!("expected redaction, got {other:?}"),
    }
}

fn picture_text(text: &str, hit: Option<(&str, Severity)>) -> Finding {
    Finding::PictureText(crate::findings::PictureText {
        unsure: false,
        bbox: [580.0, 487.0, 445.0, 106.0],
        text: text.into(),
        hits: hit
            .into_iter()
            .map(|(id, severity)| CaptionHit {
                student_id: id.into(),
                severity,
                form: "full name".into(),
                part: false,
                matched: "Olivia Smith".into(),
                source: TextSource::InPicture.label(),
                note: None,
            })
            .collect(),
    })
}

#[test]
fn text_in_the_picture_naming_a_student_holds_saying_where() {
    let findings = [
        picture_text("awarded to", None),
        picture_text("Olivia Smith", Some(("OK", Severity::Block))),
    ];
    let j = decide(&findings, &policy(), &register());
    assert_eq!(kinds(&j.verdict), [ReasonKind::PictureTextNamesStudent]);
    let r = &j.verdict.reasons()[0];
    assert_eq!(
        r.detail,
        "text in the picture names Olivia Smith (OK): \"Olivia Smith\" at 580, 487 (445\u{d7}106); full name"
    );
    assert_eq!(
        (r.student.as_deref(), r.source.clone(), r.text),
        (Some("OK"), Some(TextSource::InPicture), Some(1))
    );
    // Every line is kept for `--json` and the review page, with whom it names.
    assert_eq!(j.texts.len(), 2);
    assert!(j.texts[0].named.is_empty());
    assert_eq!(j.texts[1].named, ["OK"]);
    assert!(j
        .students
        .contains(&("OK".to_string(), "text in the picture".to_string())));
    // A weaker hit is held as possible.
    let v = verdict(
        &[picture_text("Olivia", Some(("OK", Severity::Review)))],
        &policy(),
    );
    assert_eq!(kinds(&v), [ReasonKind::PictureTextMayNameStudent]);
    // A name found only in another reading of the line is possible, quoting what was read.
    let mut unsure = picture_text("Fran Marphy", Some(("OK", Severity::Block)));
    if let Finding::PictureText(line) = &mut unsure {
        line.unsure = true;
    }
    let v = verdict(&[unsure], &policy());
    assert_eq!(kinds(&v), [ReasonKind::PictureTextMayNameStudent]);
    assert!(
        v.reasons()[0].detail.starts_with(
            "text in the picture may name Olivia Smith (OK): \"Olivia Smith\" at 580, 487"
        ) && v.reasons()[0].detail.ends_with(
            "; full name; read as \"Fran Marphy\", with letters the reader was unsure of or that look alike"
        ),
        "{}",
        v.reasons()[0].detail
    );
}

#[test]
fn text_naming_nobody_releases_and_unreadable_text_holds() {
    let v = verdict(&[picture_text("Sports Day 2026", None)], &policy());
    assert_eq!(v, Verdict::Release);
    let v = verdict(
        &[Finding::PictureTextUnchecked {
            error: "reading text failed (x)".into(),
        }],
        &policy(),
    );
    assert_eq!(kinds(&v), [ReasonKind::PictureTextUnchecked]);
    assert!(v.reasons()[0]
        .detail
        .starts_with("text in the picture could not be checked"));
    // Unreadable text is never "redacted away".
    let mut redact = policy();
    redact.faces.action = FaceAction::Redact;
    let v = verdict(
        &[Finding::PictureTextUnchecked { error: "x".into() }],
        &redact,
    );
    assert!(v.is_hold());
}

#[test]
fn with_redaction_a_named_text_alone_is_blurred_and_released() {
    let mut redact = policy();
    redact.faces.action = FaceAction::Redact;
    let v = verdict(
        &[
            picture_text("awarded to", None),
            picture_text("Olivia Smith", Some(("OK", Severity::Block))),
        ],
        &redact,
    );
    let Verdict::RedactThenRelease { boxes, .. } = v else {
        panic!("{v:?}")
    };
    assert_eq!(boxes, [text_blur_box(&[580.0, 487.0, 445.0, 106.0])]);
    // The blur's ellipse (GROW beyond the box) covers the text rectangle's corners.
    let [x, y, w, h] = boxes[0];
    let g = 1.0 + crate::redact::GROW;
    let (cx, cy, rx, ry) = (x + w / 2.0, y + h / 2.0, w * g / 2.0, h * g / 2.0);
    let inside = |px: f32, py: f32| ((px - cx) / rx).powi(2) + ((py - cy) / ry).powi(2) <= 1.0;
    assert!(inside(580.0, 487.0) && inside(1025.0, 593.0));
    // A named text with another reason (a caption) is held, not blurred.
    let v = verdict(
        &[
            picture_text("Olivia Smith", Some(("OK", Severity::Block))),
            caption("OK", Severity::Block, TextSource::Sidecar),
        ],
        &redact,
    );
    assert!(v.is_hold());
}
