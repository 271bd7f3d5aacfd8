//! Register import from the exports schools really have, through the real binary: each MIS's
//! column shape (fixtures/register/), Windows-1252 and UTF-16 files, value synonyms, status
//! codes, loud warnings for consent the import cannot read, rows that must not import, and
//! `--dry-run`.

use crate::common;

use std::path::{Path, PathBuf};

use common::workspace::*;

fn sample(name: &str) -> PathBuf {
    fixtures().join("register").join(name)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn import(ws: &Ws, file: &Path, extra: &[&str]) -> Out {
    let mut args = vec!["register", "import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = ws.cg(&args);
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn imported(ws: &Ws, name: &str) -> Out {
    let o = import(ws, &sample(name), &[]);
    assert_eq!(o.code, 0, "{name}: {}\n{}", o.stdout, o.stderr);
    o
}

fn show(ws: &Ws, id: &str) -> serde_json::Value {
    let o = ws.cg(&["register", "show", id, "--json"]);
    assert!(
        o.status.success(),
        "{id}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn students(ws: &Ws) -> Vec<serde_json::Value> {
    let o = ws.cg(&["register", "list", "--json"]);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Channel → granted, for one student.
fn consent(s: &serde_json::Value, channel: &str) -> Option<bool> {
    s["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .map(|c| c["granted"].as_bool().unwrap())
}

const CHANNELS: [&str; 5] = ["website", "social", "newsletter", "prospectus", "press"];

fn consent_everywhere(s: &serde_json::Value) -> Option<bool> {
    let v: Vec<Option<bool>> = CHANNELS.iter().map(|c| consent(s, c)).collect();
    assert!(
        v.iter().all(|x| *x == v[0]),
        "one column, all channels: {s}"
    );
    v[0]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn arbor_media_consent_synonyms_and_names_are_read() {
    let ws = Ws::new();
    let o = imported(&ws, "arbor.csv");
    assert!(o.stdout.contains("4 added"), "{}", o.stdout);
    assert!(o.stdout.contains("(encoding UTF-8)"), "{}", o.stdout);
    assert!(
        !o.stderr.contains("consent"),
        "no consent warning: {}",
        o.stderr
    );
    let liv = show(&ws, "1001");
    assert_eq!(liv["first_name"], "Olivia");
    assert_eq!(liv["preferred_name"], "Liv");
    assert_eq!(liv["year"], "Year 6");
    assert_eq!(liv["reg_group"], "6R", "year and reg group kept apart");
    assert_eq!(liv["status"], "on_roll");
    assert_eq!(consent_everywhere(&liv), Some(true), "Granted");
    assert_eq!(
        consent_everywhere(&show(&ws, "1002")),
        Some(false),
        "Not Granted"
    );
    assert_eq!(
        consent_everywhere(&show(&ws, "1003")),
        Some(false),
        "Not asked"
    );
    let tom = show(&ws, "1004");
    assert_eq!(tom["status"], "left");
    assert_eq!(tom["preferred_surname"], "Novak");
    // No no-publish column: said, and nobody is put on or taken off the list.
    assert!(o.stderr.contains("no no_publish column"), "{}", o.stderr);
}

#[test]
fn sims_windows_1252_photograph_student_and_status_codes() {
    let ws = Ws::new();
    let o = imported(&ws, "sims.csv");
    assert!(o.stdout.contains("Windows-1252"), "{}", o.stdout);
    let zoe = show(&ws, "000231");
    assert_eq!(zoe["first_name"], "Zoë", "decoded, not mangled");
    assert_eq!(zoe["last_name"], "Brown");
    assert_eq!(zoe["preferred_surname"], "Green");
    assert_eq!(zoe["middle_names"], "Anne");
    assert_eq!(
        (zoe["year"].as_str(), zoe["reg_group"].as_str()),
        (Some("6"), Some("6H"))
    );
    assert_eq!(
        consent_everywhere(&zoe),
        Some(true),
        "Photograph Student: Yes"
    );
    assert_eq!(consent_everywhere(&show(&ws, "000232")), Some(false));
    let sorcha = show(&ws, "000233");
    assert_eq!(sorcha["last_name"], "Åberg");
    assert_eq!(sorcha["preferred_name"], "Sorcha");
    assert_eq!(sorcha["status"], "on_roll", "Guest");
    assert_eq!(consent_everywhere(&sorcha), Some(false), "empty = no");
    assert_eq!(
        show(&ws, "000232")["status"],
        "on_roll",
        "Single Registration"
    );
    assert_eq!(show(&ws, "000234")["status"], "left", "Leaver");
}

#[test]
fn school_data_sync_google_wonde_and_bromcom_shapes() {
    let ws = Ws::new();
    // SDS v1: no consent column at all, said loudly with the config key to use.
    let o = imported(&ws, "sds-v1-student.csv");
    assert!(
        o.stderr.contains("WARNING: no consent column")
            && o.stderr.contains("[register] consent_columns"),
        "{}",
        o.stderr
    );
    let ella = show(&ws, "S-5001");
    assert_eq!(
        (ella["first_name"].as_str(), ella["year"].as_str()),
        (Some("Ella"), Some("6"))
    );
    assert!(ella["consents"].as_array().unwrap().is_empty());

    imported(&ws, "sds-v2-users.csv");
    let hana = show(&ws, "U-7001");
    assert_eq!(
        (hana["last_name"].as_str(), hana["year"].as_str()),
        (Some("Sato"), Some("06"))
    );
    assert_eq!(consent_everywhere(&hana), Some(true));
    assert_eq!(
        consent_everywhere(&show(&ws, "U-7002")),
        Some(false),
        "Declined"
    );

    imported(&ws, "google-admin.csv");
    let maya = show(&ws, "G-3001");
    assert_eq!(
        (maya["first_name"].as_str(), maya["last_name"].as_str()),
        (Some("Maya"), Some("Singh"))
    );
    assert_eq!(consent_everywhere(&maya), Some(true), "Confirmed");
    assert_eq!(
        consent_everywhere(&show(&ws, "G-3002")),
        Some(false),
        "Refused"
    );

    imported(&ws, "wonde.csv");
    let amira = show(&ws, "d7f8e3b2c1a04f5e");
    assert_eq!(amira["first_name"], "Amira", "legal forename");
    assert_eq!(amira["preferred_name"], "Ami", "forename is the name used");
    assert_eq!(amira["reg_group"], "6W");
    assert_eq!(consent_everywhere(&amira), Some(true), "Given");
    let ben = show(&ws, "e1c2d3b4a5f60718");
    assert_eq!(ben["last_name"], "Lopez-Garcia");
    assert_eq!(ben["preferred_surname"], "Lopez");
    assert_eq!(consent_everywhere(&ben), Some(false), "Withdrawn");

    let o = imported(&ws, "bromcom.csv");
    assert!(!o.stderr.contains("no_publish"), "{}", o.stderr);
    let bella = show(&ws, "90011");
    assert_eq!(bella["preferred_name"], "Bella");
    assert_eq!(bella["reg_group"], "6 Oak");
    assert_eq!(consent_everywhere(&bella), Some(true), "Accepted");
    let noah = show(&ws, "90012");
    assert_eq!(noah["preferred_surname"], "Evans");
    assert_eq!(noah["no_publish"], true);
    assert_eq!(
        consent_everywhere(&noah),
        Some(false),
        "Pending is not consent"
    );
    assert_eq!(students(&ws).len(), 10);
}

#[test]
fn utf16_files_are_read_with_or_without_a_byte_order_mark_and_tabs() {
    let ws = Ws::new();
    let dir = tempfile::tempdir().unwrap();
    let text = "id,first_name,last_name,no_publish,consent_website\nZ1,Zoë,Ångström,no,yes\n";
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let o = import(&ws, &write(dir.path(), "le.csv", &le), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("UTF-16LE"), "{}", o.stdout);
    assert_eq!(show(&ws, "Z1")["last_name"], "Ångström");
    // Excel's "Unicode Text": UTF-16LE, tab-separated.
    let tabbed = text.replace(',', "\t").replace("Z1", "Z2");
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(tabbed.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let o = import(&ws, &write(dir.path(), "tabs.txt", &le), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(show(&ws, "Z2")["first_name"], "Zoë");
    // Big-endian without a byte-order mark.
    let be: Vec<u8> = text
        .replace("Z1", "Z3")
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let o = import(&ws, &write(dir.path(), "be.csv", &be), &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("UTF-16BE"), "{}", o.stdout);
    assert_eq!(show(&ws, "Z3")["first_name"], "Zoë");
    // A workbook saved under a .csv name: told what to do, not parser jargon.
    let o = import(
        &ws,
        &write(dir.path(), "book.csv", b"PK\x03\x04\x14\0\0\0"),
        &[],
    );
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("CSV UTF-8"), "{}", o.stderr);
}

#[test]
fn a_short_row_or_an_empty_no_publish_cell_imports_nothing() {
    let ws = Ws::new();
    let dir = tempfile::tempdir().unwrap();
    let header = "id,first_name,middle_names,last_name,preferred_name,nicknames,year,status,no_publish,consent_website,consent_social,consent_newsletter";
    let short = format!("{header}\nA1,Ann,,Lee,,,Y6,on_roll,no,yes,yes,yes\nA2,Bob,,Ray\n");
    let o = import(&ws, &write(dir.path(), "short.csv", short.as_bytes()), &[]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stderr.contains("line 3") && o.stderr.contains("has 4 cells but the header has 12"),
        "{}",
        o.stderr
    );
    assert!(students(&ws).is_empty(), "nothing half-imported");

    let empty = format!("{header}\nA1,Ann,,Lee,,,Y6,on_roll,,yes,yes,yes\n");
    let o = import(&ws, &write(dir.path(), "empty.csv", empty.as_bytes()), &[]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("line 2") && o.stderr.contains("no_publish is empty"),
        "{}",
        o.stderr
    );
    assert!(students(&ws).is_empty());

    // An unknown status or consent word names the config key that would accept it.
    let odd = format!("{header}\nA1,Ann,,Lee,,,Y6,Visiting,no,Maybe,yes,yes\n");
    let o = import(&ws, &write(dir.path(), "odd.csv", odd.as_bytes()), &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("on_roll_values"), "{}", o.stderr);
    assert!(o.stderr.contains("yes_values"), "{}", o.stderr);
}

#[test]
fn an_unmapped_consent_like_column_warns_and_the_config_can_map_it() {
    let ws = Ws::new();
    let dir = tempfile::tempdir().unwrap();
    let csv = "UPN,Forename,Surname,No Publish,Photo permission (parent)\nP1,Ann,Lee,no,Granted\n";
    let file = write(dir.path(), "odd.csv", csv.as_bytes());
    let o = import(&ws, &file, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("\"Photo permission (parent)\" looks like consent but is NOT read")
            && o.stderr.contains("[register] consent_columns"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("no consent column"), "{}", o.stderr);
    assert_eq!(consent(&show(&ws, "P1"), "website"), None);
    // Mapped in the config: read, for the channels named.
    let cfg = ws.root.join("consentgate.toml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[register.consent_columns]\n",
        "[register.consent_columns]\n\"Photo permission (parent)\" = [\"website\", \"newsletter\"]\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let o = import(&ws, &file, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("consent"), "{}", o.stderr);
    let ann = show(&ws, "P1");
    assert_eq!(consent(&ann, "website"), Some(true));
    assert_eq!(consent(&ann, "newsletter"), Some(true));
    assert_eq!(consent(&ann, "social"), None);
    // A mapping to a channel the school does not use is refused when the config is read.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[\"website\", \"newsletter\"]", "[\"webiste\"]");
    std::fs::write(&cfg, text).unwrap();
    let o = import(&ws, &file, &[]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("webiste"), "{}", o.stderr);
}

#[test]
fn dry_run_shows_the_changes_and_writes_nothing() {
    let ws = Ws::new();
    imported(&ws, "arbor.csv");
    let audit_before = ws.cg(&["audit", "--json"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let next = std::fs::read_to_string(sample("arbor.csv"))
        .unwrap()
        .replace("Enrolled,Granted", "Enrolled,Withdrawn")
        .replace("1004,Tomasz", "1005,Tomasz");
    let file = write(dir.path(), "next.csv", next.as_bytes());
    let o = import(&ws, &file, &["--dry-run"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("Dry run, nothing written"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("1 added, 1 updated"), "{}", o.stdout);
    assert!(
        o.stdout.contains("consent WITHDRAWN: 1001 for website"),
        "{}",
        o.stdout
    );
    assert_eq!(
        consent_everywhere(&show(&ws, "1001")),
        Some(true),
        "unchanged"
    );
    assert_eq!(students(&ws).len(), 4);
    assert_eq!(
        ws.cg(&["audit", "--json"]).stdout,
        audit_before,
        "no audit row"
    );
    // The same import for real does what the dry run said.
    let o = import(&ws, &file, &[]);
    assert!(o.stdout.contains("1 added, 1 updated"), "{}", o.stdout);
    assert_eq!(consent_everywhere(&show(&ws, "1001")), Some(false));
}

#[test]
fn init_writes_the_register_section_and_unknown_keys_are_refused() {
    let ws = Ws::new();
    let cfg = ws.root.join("consentgate.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    for key in [
        "[register]",
        "yes_values = [",
        "no_values = [",
        "on_roll_values = [",
        "left_values = [",
        "[register.consent_columns]",
        "[register.columns]",
        "reg_group = []",
        "\"Media consent\" = [\"all\"]",
        "\"Photograph Student\" = [\"all\"]",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    std::fs::write(&cfg, text.replace("left_values", "leaver_values")).unwrap();
    let o = ws.cg(&["register", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("leaver_values"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_caption_naming_the_preferred_surname_is_held() {
    let ws = Ws::new();
    imported(&ws, "sims.csv");
    imported(&ws, "wonde.csv");
    ws.drop_file("a.jpg", &jpeg(64, 48, 1));
    ws.drop_file("a.txt", b"Zoe Green on sports day");
    ws.drop_file("b.jpg", &jpeg(64, 48, 2));
    ws.drop_file("b.txt", b"Ben Lopez scores the winner");
    ws.drop_file("c.jpg", &jpeg(64, 48, 3));
    ws.drop_file("c.txt", b"The choir on stage");
    let (lines, _, _) = ws.run_json("website");
    for (file, id) in [("a.jpg", "000231"), ("b.jpg", "e1c2d3b4a5f60718")] {
        let o = outcome_for(&lines, file);
        assert_eq!(o["decision"], "held", "{o}");
        assert!(
            o["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == "caption_names_student"),
            "{o}"
        );
        assert!(o.to_string().contains(id), "names the student: {o}");
    }
    let c = outcome_for(&lines, "c.jpg");
    assert!(
        !c["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"].as_str().unwrap().starts_with("caption")),
        "{c}"
    );
}
