//! Accuracy on the labelled caption set, and one focused test per matching rule.

use consentgate::captions::{CaptionHit, NameMatcher, PersonName, Severity, TextSource};
use std::collections::BTreeMap;

const REGISTER: &str = include_str!("../fixtures/captions/register.csv");
const LABELLED: &str = include_str!("../fixtures/captions/labelled.tsv");

fn register() -> Vec<PersonName> {
    let mut rdr = csv::Reader::from_reader(REGISTER.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.expect("register row");
            PersonName {
                id: r[0].to_string(),
                first_name: r[1].to_string(),
                middle_names: r[2].to_string(),
                last_name: r[3].to_string(),
                preferred_name: Some(r[4].to_string()).filter(|s| !s.is_empty()),
                preferred_surname: None,
                nicknames: r[5]
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            }
        })
        .collect()
}

/// Decodes \n, \t, \\ and \u{XXXX} escapes.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                assert_eq!(it.next(), Some('{'));
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                out.push(
                    char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("char"),
                );
            }
            other => panic!("bad escape \\{other:?} in {s}"),
        }
    }
    out
}

struct Case {
    line: usize,
    text: String,
    source: TextSource,
    expected: BTreeMap<String, Severity>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (n, line) in LABELLED.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with("text\t") {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "line {}: {line:?}", n + 1);
        let source = match cols[1] {
            "sidecar" => TextSource::Sidecar,
            "filename" => TextSource::FileName,
            "embedded" => TextSource::Embedded("XMP dc:description".into()),
            s => panic!("line {}: unknown source {s}", n + 1),
        };
        let mut expected = BTreeMap::new();
        if cols[2] != "none" {
            for e in cols[2].split(',') {
                let (sev, id) = e
                    .split_once(':')
                    .unwrap_or_else(|| panic!("line {}: bad label {e}", n + 1));
                let sev = match sev {
                    "block" => Severity::Block,
                    "review" => Severity::Review,
                    s => panic!("line {}: bad severity {s}", n + 1),
                };
                expected.insert(id.to_string(), sev);
            }
        }
        out.push(Case {
            line: n + 1,
            text: unescape(cols[0]),
            source,
            expected,
        });
    }
    out
}

#[test]
fn labelled_set_accuracy() {
    let people = register();
    let m = NameMatcher::new(&people);
    let cases = cases();
    assert!(cases.len() >= 150, "only {} labelled captions", cases.len());
    let (mut tp, mut fp, mut fneg, mut sev_agree) = (0usize, 0usize, 0usize, 0usize);
    let (mut block_labelled, mut block_found, mut block_as_block) = (0usize, 0usize, 0usize);
    let (mut review_labelled, mut review_found) = (0usize, 0usize);
    let mut report = Vec::new();
    for c in &cases {
        let hits = m.scan(&c.text, &c.source);
        let got: BTreeMap<String, &CaptionHit> =
            hits.iter().map(|h| (h.student_id.clone(), h)).collect();
        assert_eq!(got.len(), hits.len(), "one hit per student: {:?}", hits);
        for (id, sev) in &c.expected {
            match *sev {
                Severity::Block => block_labelled += 1,
                Severity::Review => review_labelled += 1,
            }
            match got.get(id) {
                Some(h) => {
                    tp += 1;
                    if h.severity == *sev {
                        sev_agree += 1;
                    } else {
                        report.push(format!(
                            "  severity  line {:>3}: {:?} {id}: labelled {sev:?}, got {:?} ({}, {:?})",
                            c.line, c.text, h.severity, h.form, h.matched
                        ));
                    }
                    match *sev {
                        Severity::Block => {
                            block_found += 1;
                            block_as_block += (h.severity == Severity::Block) as usize;
                        }
                        Severity::Review => review_found += 1,
                    }
                }
                None => {
                    fneg += 1;
                    report.push(format!(
                        "  MISS      line {:>3}: {:?} {id} ({sev:?})",
                        c.line, c.text
                    ));
                }
            }
        }
        for (id, h) in &got {
            if !c.expected.contains_key(id) {
                fp += 1;
                report.push(format!(
                    "  FALSE     line {:>3}: {:?} {id}: {:?} {} {:?}",
                    c.line, c.text, h.severity, h.form, h.matched
                ));
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    println!(
        "captions labelled set: {} captions, {} labelled student mentions",
        cases.len(),
        tp + fneg
    );
    println!("  block-labelled {block_labelled}, review-labelled {review_labelled}, none-labelled captions {}", cases.iter().filter(|c| c.expected.is_empty()).count());
    println!("  true positives {tp}, false alarms {fp}, misses {fneg}");
    println!("  precision {precision:.4}  recall {recall:.4}");
    println!(
        "  block recall {block_found}/{block_labelled} (as Block: {block_as_block}); review recall {review_found}/{review_labelled}"
    );
    println!("  severity agreement {sev_agree}/{tp}");
    for r in &report {
        println!("{r}");
    }
    assert_eq!(
        block_found, block_labelled,
        "a block-labelled child slipped through"
    );
    assert_eq!(
        block_as_block, block_labelled,
        "a block-labelled child was only flagged for review"
    );
    assert!(precision >= 0.95, "precision {precision:.4} below 0.95");
}

// ---- focused rule tests ----

fn person(id: &str, first: &str, last: &str) -> PersonName {
    PersonName {
        id: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        ..Default::default()
    }
}

fn one(m: &NameMatcher, text: &str) -> Option<(Severity, String)> {
    let hits = m.scan(text, &TextSource::Sidecar);
    assert!(hits.len() <= 1, "{text:?}: {hits:?}");
    hits.into_iter().next().map(|h| (h.severity, h.form))
}

fn sev(m: &NameMatcher, text: &str) -> Option<Severity> {
    one(m, text).map(|h| h.0)
}

fn olivia() -> NameMatcher {
    NameMatcher::new(&[PersonName {
        nicknames: vec!["Liv".into()],
        ..person("S1", "Olivia", "Smith")
    }])
}

#[test]
fn full_name_any_order_case_separator() {
    let m = olivia();
    for t in [
        "Olivia Smith",
        "olivia smith",
        "OLIVIA SMITH",
        "Smith, Olivia",
        "Smith Olivia",
        "Olivia-Smith",
        "olivia_smith",
        "Olivia Smith's medal",
    ] {
        assert_eq!(
            one(&m, t),
            Some((Severity::Block, "full name".into())),
            "{t}"
        );
    }
}

#[test]
fn run_together_filenames_tags_handles() {
    let m = olivia();
    for (t, src) in [
        ("oliviasmith.jpg", TextSource::FileName),
        ("olivia2smith.jpg", TextSource::FileName),
        ("#OliviaSmith", TextSource::Sidecar),
        ("@oliviasmith", TextSource::Sidecar),
        ("OliviaSmith_SportsDay.jpg", TextSource::FileName),
    ] {
        let h = m.scan(t, &src);
        assert_eq!(h.len(), 1, "{t}");
        assert_eq!(h[0].severity, Severity::Block, "{t}");
        assert_eq!(h[0].form, "full name run together", "{t}");
        assert_eq!(h[0].source, src.label());
    }
}

#[test]
fn initials_both_orders() {
    let m = olivia();
    for t in [
        "O. Smith",
        "O Smith",
        "Olivia S.",
        "Olivia S",
        "Smith O.",
        "Smith, O.",
    ] {
        assert_eq!(sev(&m, t), Some(Severity::Block), "{t}");
    }
    assert_eq!(one(&m, "Olivia S.").unwrap().1, "first name + initial");
    assert_eq!(one(&m, "O. Smith").unwrap().1, "initial + surname");
    // "O" alone never matches; a lowercase "a smith" is not an initial.
    assert_eq!(sev(&m, "O came first"), None);
    let a = NameMatcher::new(&[person("S2", "Ava", "Smith")]);
    assert_eq!(
        sev(&a, "A Smith came to fix the boiler"),
        Some(Severity::Block)
    );
    assert_eq!(sev(&a, "a smith came to fix the boiler"), None);
}

#[test]
fn possessives() {
    let m = olivia();
    for t in [
        "Olivia's painting",
        "Olivias painting",
        "Olivia\u{2019}s painting",
    ] {
        assert_eq!(
            one(&m, t),
            Some((Severity::Block, "first name alone".into())),
            "{t}"
        );
    }
    let s = NameMatcher::new(&[person("S3", "Aarav", "Kowalski")]);
    assert_eq!(
        one(&s, "The Kowalskis' stall"),
        Some((Severity::Review, "surname alone".into()))
    );
    assert_eq!(
        one(&s, "Kowalski's stall"),
        Some((Severity::Review, "surname alone".into()))
    );
}

#[test]
fn multi_part_surnames() {
    let m = NameMatcher::new(&[
        person("A", "Rose", "O'Neill"),
        person("B", "Amelia", "Smith-Jones"),
        person("C", "Oliver", "van der Berg"),
        person("D", "Siobhan", "McDonald"),
        person("E", "Ruby", "MacDonald"),
    ]);
    let check = |t: &str, id: &str| {
        let h = m.scan(t, &TextSource::Sidecar);
        assert!(
            h.iter()
                .any(|h| h.student_id == id && h.severity == Severity::Block),
            "{t}: {h:?}"
        );
    };
    for t in [
        "Rose O'Neill",
        "Rose ONeill",
        "Rose O Neill",
        "Rose O\u{2019}Neill",
        "rose-oneill.jpg",
        "R. O'Neill",
    ] {
        check(t, "A");
    }
    for t in [
        "Amelia Smith-Jones",
        "Amelia Smith Jones",
        "amelia_smithjones",
    ] {
        check(t, "B");
    }
    for t in [
        "Oliver van der Berg",
        "Oliver Van Der Berg",
        "Oliver vanderberg",
        "olivervanderberg.jpg",
    ] {
        check(t, "C");
    }
    for t in ["Siobhan McDonald", "Siobhan Mc Donald", "siobhan mcdonald"] {
        check(t, "D");
    }
    for t in ["Ruby MacDonald", "Ruby Mac Donald", "#RubyMacDonald"] {
        check(t, "E");
    }
}

#[test]
fn known_as_and_nicknames() {
    let m = NameMatcher::new(&[PersonName {
        preferred_name: Some("Will".into()),
        nicknames: vec!["Billy".into()],
        ..person("W", "William", "Carter")
    }]);
    assert_eq!(
        one(&m, "Will Carter scored"),
        Some((Severity::Block, "known-as name + surname".into()))
    );
    assert_eq!(
        one(&m, "Billy Carter scored"),
        Some((Severity::Block, "nickname + surname".into()))
    );
    assert_eq!(
        one(&m, "Billy scored"),
        Some((Severity::Review, "nickname alone".into()))
    );
    assert_eq!(
        one(&m, "Well done Will!"),
        Some((Severity::Review, "known-as name alone".into()))
    );
    assert_eq!(sev(&m, "We will walk to the park"), None);
    assert_eq!(
        one(&m, "William won"),
        Some((Severity::Block, "first name alone".into()))
    );
}

#[test]
fn typos_and_leetspeak_in_full_names() {
    let m = olivia();
    for t in [
        "Olivai Smith",
        "Olivia Smiht",
        "Olvia Smith",
        "Oliviaa Smith",
        "Olivia Smyth",
    ] {
        assert_eq!(
            one(&m, t),
            Some((Severity::Block, "full name with a typo".into())),
            "{t}"
        );
    }
    assert_eq!(
        one(&m, "oliviasmiht.jpg").map(|h| h.0),
        Some(Severity::Block)
    );
    for t in ["0l1v1a 5m1th", "0livia $mith", "Ol1via Sm1th", "Gr@ce"] {
        let _ = t;
    }
    assert_eq!(
        one(&m, "0l1v1a 5m1th"),
        Some((Severity::Block, "full name in leetspeak".into()))
    );
    assert_eq!(
        one(&m, "0livia $mith"),
        Some((Severity::Block, "full name in leetspeak".into()))
    );
    // Not for names of three letters or fewer; not when the other part does not match.
    let short = NameMatcher::new(&[person("J", "Jo", "Lee")]);
    assert_eq!(sev(&short, "Ja Lee"), None);
    assert_eq!(sev(&m, "Olivai Jones"), None);
    // A dictionary word is not a misspelt name.
    let d = NameMatcher::new(&[person("D", "Dona", "Smith")]);
    assert_eq!(sev(&d, "Well done Smith"), Some(Severity::Review));
}

#[test]
fn folding_confusables_and_zero_width() {
    let m = olivia();
    for t in [
        "\u{041E}livia Smith",          // Cyrillic O
        "Olivi\u{0430} Smith",          // Cyrillic a
        "\u{039F}livia Smith",          // Greek Omicron
        "Oli\u{200B}via Smi\u{200D}th", // zero-width
        "Ol\u{00AD}ivia Sm\u{FEFF}ith", // soft hyphen, BOM
        "ＯＬＩＶＩＡ ＳＭＩＴＨ",      // fullwidth
        "Olívia Smïth",                 // accents
    ] {
        assert_eq!(sev(&m, t), Some(Severity::Block), "{t}");
    }
    let z = NameMatcher::new(&[person("Z", "Zoë", "Brown")]);
    assert_eq!(sev(&z, "Zoe Brown"), Some(Severity::Block));
    assert_eq!(sev(&z, "Zoe\u{0308} Brown"), Some(Severity::Block));
}

#[test]
fn first_name_alone_common_word_or_not() {
    let m = NameMatcher::new(&[
        person("O", "Olivia", "Smith"),
        person("G", "Grace", "Thompson"),
        person("M", "May", "Chen"),
        person("R", "Rose", "Patel"),
        person("A", "Aarav", "Shah"),
    ]);
    let ids = |t: &str| -> Vec<(String, Severity)> {
        m.scan(t, &TextSource::Sidecar)
            .into_iter()
            .map(|h| (h.student_id, h.severity))
            .collect()
    };
    assert_eq!(
        ids("Well done Olivia!"),
        [("O".to_string(), Severity::Block)]
    );
    assert_eq!(ids("aarav.jpg"), [("A".to_string(), Severity::Block)]);
    assert_eq!(
        ids("Well done Grace!"),
        [("G".to_string(), Severity::Review)]
    );
    assert_eq!(
        ids("Thanks to Grace for tidying up"),
        [("G".to_string(), Severity::Review)]
    );
    assert_eq!(
        ids("Photos from Grace and May"),
        [
            ("G".to_string(), Severity::Review),
            ("M".to_string(), Severity::Review)
        ]
    );
    assert_eq!(
        ids("WELL DONE GRACE"),
        [("G".to_string(), Severity::Review)]
    );
    assert!(ids("The grace period ends soon").is_empty());
    assert!(ids("Reports go home in May").is_empty());
    assert!(ids("Year 3 planted a rose garden").is_empty());
    assert!(ids("We visited the Rose Garden").is_empty());
    assert!(ids("Grace Darling saved sailors").is_empty());
}

#[test]
fn staff_titles_are_not_students() {
    let m = NameMatcher::new(&[person("S", "James", "Smith"), person("P", "Aarav", "Patel")]);
    for t in [
        "Mrs Smith's class",
        "Mrs. Smith's class",
        "Mr Smith",
        "Ms Smith",
        "Miss Smith",
        "Mx Smith",
        "Dr Smith",
        "Sir James",
        "Mr James",
        "Mr James Smith",
        "MR SMITH",
        "Mr and Mrs Patel",
    ] {
        assert!(m.scan(t, &TextSource::Sidecar).is_empty(), "{t}");
    }
    // "miss" the verb is no title.
    let g = NameMatcher::new(&[person("G", "Aarav", "Patel")]);
    assert_eq!(sev(&g, "We will miss Aarav"), Some(Severity::Block));
    // The title covers its own name only.
    assert_eq!(sev(&g, "Mrs Patel and Aarav"), Some(Severity::Block));
}

#[test]
fn short_names_need_context() {
    let m = NameMatcher::new(&[person("J", "Jo", "Lee")]);
    assert_eq!(sev(&m, "Jo Lee"), Some(Severity::Block));
    assert_eq!(sev(&m, "J. Lee"), Some(Severity::Block));
    assert_eq!(sev(&m, "Well done Jo!"), Some(Severity::Review));
    assert_eq!(sev(&m, "jo jo the clown"), None);
    assert_eq!(sev(&m, "Jo went home"), Some(Severity::Review));
    assert_eq!(sev(&m, "jo went home"), None);
}

#[test]
fn hits_carry_source_and_words_as_written() {
    let m = olivia();
    let h = m.scan(
        "Well done OLIVIA  smith!",
        &TextSource::Embedded("XMP dc:description".into()),
    );
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].matched, "OLIVIA  smith");
    assert_eq!(h[0].source, "embedded XMP dc:description");
    assert_eq!(h[0].student_id, "S1");
}

#[test]
fn one_hit_per_student_most_severe() {
    let m = olivia();
    let h = m.scan("Liv! Olivia Smith and Liv again", &TextSource::Sidecar);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].severity, Severity::Block);
}

#[test]
fn no_panics_on_odd_text() {
    let m = olivia();
    for t in [
        "",
        " ",
        "'",
        "''s",
        "@",
        "#",
        "....",
        "\u{200B}",
        "O'",
        "'s'",
        "a\u{0301}\u{0301}",
        "\u{1F600}Olivia\u{1F600}",
        "Ǆ",
        "ﬁ",
        "\n\n",
        "x\u{10FFFF}y",
        "O. ",
        "Smith,",
    ] {
        let _ = m.scan(t, &TextSource::Sidecar);
        let _ = m.scan(t, &TextSource::FileName);
    }
    // Deterministic junk from a pool of awkward characters.
    let pool: Vec<char> =
        "aO1l0$@.'’ -_#&,\n\u{200B}\u{0301}\u{0308}\u{00AD}éЁоΟＯ😀ß\u{FB01}sSmithOlivia5"
            .chars()
            .collect();
    let mut x: u64 = 1;
    for _ in 0..3000 {
        let len = (x % 40) as usize;
        let t: String = (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                pool[(x >> 33) as usize % pool.len()]
            })
            .collect();
        let _ = m.scan(&t, &TextSource::Sidecar);
        let _ = m.scan(&t, &TextSource::FileName);
    }
    let empty = NameMatcher::new(&[]);
    assert!(empty.scan("Olivia Smith", &TextSource::Sidecar).is_empty());
    let blank = NameMatcher::new(&[person("X", "", "")]);
    let _ = blank.scan("anything at all", &TextSource::Sidecar);
}

#[test]
fn the_preferred_surname_is_matched_like_the_legal_one() {
    // "Grace" is a common word: alone it is only a possible hit, so each Block below comes
    // from the surname the student goes by.
    let m = NameMatcher::new(&[PersonName {
        preferred_surname: Some("Okafor".into()),
        ..person("G", "Grace", "Adeyemi-Okafor")
    }]);
    for text in [
        "Grace Okafor scores",
        "Okafor, Grace",
        "G. Okafor wins",
        "Grace Adeyemi-Okafor",
    ] {
        assert_eq!(sev(&m, text), Some(Severity::Block), "{text}");
    }
    assert_eq!(
        one(&m, "Okafor sings"),
        Some((Severity::Review, "surname alone".into()))
    );
    assert_eq!(sev(&m, "The choir sings"), None);
}
