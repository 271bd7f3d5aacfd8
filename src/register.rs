//! The register: students, their consent per channel, the no-publish list, school devices.
//!
//! Imported from the CSV exports school MIS systems produce. Import is an idempotent upsert in one
//! transaction: a file with any bad row changes nothing, and the report names every bad line.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::captions::PersonName;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot read the CSV file: {0}")]
    Csv(#[from] csv::Error),
    #[error("the CSV has no column for {0}; expected headers like id,first_name,last_name (or UPN/Adno, Legal Forename, Legal Surname)")]
    MissingColumn(&'static str),
    #[error("nothing was imported; fix these rows and import again:\n{}", .0.join("\n"))]
    BadRows(Vec<String>),
    #[error(
        "no student with id {0} in the register; `consentgate register list` shows who is there"
    )]
    UnknownStudent(String),
    #[error("unknown channel {0:?}; the channels in consentgate.toml are: {1}")]
    UnknownChannel(String, String),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OnRoll,
    Left,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::OnRoll => "on_roll",
            Status::Left => "left",
        }
    }
    fn from_db(s: &str) -> Status {
        if s == "left" {
            Status::Left
        } else {
            Status::OnRoll
        }
    }
}

/// A student's consent for one channel, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    pub channel: String,
    pub granted: bool,
    pub given_on: Option<NaiveDate>,
    pub expires_on: Option<NaiveDate>,
    pub withdrawn_on: Option<NaiveDate>,
}

impl Consent {
    /// Valid on `today`: granted, not withdrawn, not expired.
    pub fn is_valid_on(&self, today: NaiveDate) -> bool {
        self.granted && self.withdrawn_on.is_none() && self.expires_on.is_none_or(|e| today <= e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Student {
    pub id: String,
    pub first_name: String,
    pub middle_names: String,
    pub last_name: String,
    pub preferred_name: Option<String>,
    pub nicknames: Vec<String>,
    pub year: String,
    pub status: Status,
    pub no_publish: bool,
    pub consents: Vec<Consent>,
}

impl Student {
    pub fn display_name(&self) -> String {
        let first = self.preferred_name.as_deref().unwrap_or(&self.first_name);
        format!("{first} {}", self.last_name)
    }

    pub fn consent(&self, channel: &str) -> Option<&Consent> {
        self.consents.iter().find(|c| c.channel == channel)
    }

    pub fn person_name(&self) -> PersonName {
        PersonName {
            id: self.id.clone(),
            first_name: self.first_name.clone(),
            middle_names: self.middle_names.clone(),
            last_name: self.last_name.clone(),
            preferred_name: self.preferred_name.clone(),
            nicknames: self.nicknames.clone(),
        }
    }
}

/// What a re-import changed.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: usize,
    /// (student id, channel) whose consent was valid before this import and is not now.
    pub consent_withdrawn: Vec<(String, String)>,
    /// (student id, channel) granted by this import that were not valid before.
    pub consent_granted: Vec<(String, String)>,
    /// Channels found in the CSV that are not in consentgate.toml (imported all the same).
    pub unknown_channels: Vec<String>,
}

/// One CSV row, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    student: Student,
}

/// Which CSV column holds which field. Header spellings from MIS exports are accepted
/// (case, spaces and punctuation ignored).
struct Columns {
    id: usize,
    first: usize,
    middle: Option<usize>,
    last: usize,
    preferred: Option<usize>,
    nicknames: Option<usize>,
    year: Option<usize>,
    status: Option<usize>,
    no_publish: Option<usize>,
    consents: Vec<(String, usize)>,
}

fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

impl Columns {
    fn from_headers(headers: &csv::StringRecord) -> Result<Columns, RegisterError> {
        let squashed: Vec<String> = headers.iter().map(squash).collect();
        let find = |aliases: &[&str]| squashed.iter().position(|h| aliases.contains(&h.as_str()));
        let id = find(&[
            "id",
            "upn",
            "adno",
            "admissionnumber",
            "admissionno",
            "studentid",
            "pupilid",
            "misid",
            "uln",
        ])
        .ok_or(RegisterError::MissingColumn("the student id"))?;
        let first = find(&[
            "firstname",
            "forename",
            "legalforename",
            "givenname",
            "legalfirstname",
            "firstnames",
        ])
        .ok_or(RegisterError::MissingColumn("the first name"))?;
        let last = find(&[
            "lastname",
            "surname",
            "legalsurname",
            "familyname",
            "legallastname",
        ])
        .ok_or(RegisterError::MissingColumn("the last name"))?;
        let consents = headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let lower = h.trim().to_lowercase();
                let rest = lower.strip_prefix("consent")?;
                let channel: String = rest
                    .trim_start_matches(|c: char| !c.is_alphanumeric())
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!channel.is_empty()).then_some((channel, i))
            })
            .collect();
        Ok(Columns {
            id,
            first,
            last,
            middle: find(&[
                "middlenames",
                "middlename",
                "middleforenames",
                "middleforename",
            ]),
            preferred: find(&[
                "preferredname",
                "preferredforename",
                "knownas",
                "preferredfirstname",
                "chosenname",
            ]),
            nicknames: find(&["nicknames", "nickname", "aliases"]),
            year: find(&[
                "year",
                "yeargroup",
                "ncyear",
                "form",
                "reggroup",
                "registrationgroup",
                "tutorgroup",
                "class",
            ]),
            status: find(&["status", "enrolmentstatus", "onroll"]),
            no_publish: find(&["nopublish", "donotpublish", "photorestriction", "nophotos"]),
            consents,
        })
    }
}

fn parse_yes_no(cell: &str) -> Result<bool, String> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" | "" => Ok(false),
        other => Err(format!("{other:?} is not yes or no")),
    }
}

/// `yes`, `no`, empty (= no), or an expiry date (= yes until then), ISO or UK day/month/year.
fn parse_consent(cell: &str) -> Result<(bool, Option<NaiveDate>), String> {
    let t = cell.trim();
    if let Ok(b) = parse_yes_no(t) {
        return Ok((b, None));
    }
    parse_date(t)
        .map(|d| (true, Some(d)))
        .ok_or_else(|| format!("{t:?} is not yes, no, empty or a date YYYY-MM-DD"))
}

fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .ok()
}

fn parse_status(cell: &str) -> Result<Status, String> {
    match squash(cell).as_str() {
        "onroll" | "" | "current" | "active" | "yes" => Ok(Status::OnRoll),
        "left" | "leaver" | "former" | "no" => Ok(Status::Left),
        _ => Err(format!("status {:?} is not on_roll or left", cell.trim())),
    }
}

fn parse_row(cols: &Columns, rec: &csv::StringRecord) -> Result<Row, Vec<String>> {
    let get = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
    let opt = |i: Option<usize>| i.map(get).unwrap_or_default();
    let mut errors = Vec::new();
    let id = get(cols.id);
    if id.is_empty() {
        errors.push("the id is empty".to_string());
    }
    let first_name = get(cols.first);
    let last_name = get(cols.last);
    if first_name.is_empty() || last_name.is_empty() {
        errors.push("first and last name are both required".to_string());
    }
    let status = parse_status(&opt(cols.status)).unwrap_or_else(|e| {
        errors.push(e);
        Status::OnRoll
    });
    let no_publish = parse_yes_no(&opt(cols.no_publish)).unwrap_or_else(|e| {
        errors.push(format!("no_publish: {e}"));
        // Fail closed: an unreadable safeguarding flag never means "may publish".
        true
    });
    let mut consents = Vec::new();
    for (channel, i) in &cols.consents {
        match parse_consent(&get(*i)) {
            Ok((granted, expires_on)) => consents.push(Consent {
                channel: channel.clone(),
                granted,
                given_on: None,
                expires_on,
                withdrawn_on: None,
            }),
            Err(e) => errors.push(format!("consent_{channel}: {e}")),
        }
    }
    let preferred = opt(cols.preferred);
    let student = Student {
        id,
        preferred_name: (!preferred.is_empty() && preferred != first_name).then_some(preferred),
        first_name,
        middle_names: opt(cols.middle),
        last_name,
        nicknames: opt(cols.nicknames)
            .split([';', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        year: opt(cols.year),
        status,
        no_publish,
        consents,
    };
    if errors.is_empty() {
        Ok(Row { student })
    } else {
        Err(errors)
    }
}

/// Import (upsert) students from a CSV export. All or nothing.
/// The import and its audit row (by `actor`) are one transaction.
pub fn import_csv(
    conn: &mut Connection,
    input: impl Read,
    known_channels: &[String],
    today: NaiveDate,
    actor: &str,
) -> Result<ImportReport, RegisterError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader.headers()?.clone();
    let cols = Columns::from_headers(&headers)?;
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!(
                    "line {}: {e}",
                    e.position().map_or(0, |p| p.line())
                ));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match parse_row(&cols, &rec) {
            Ok(row) => {
                if let Some(first) = seen.insert(row.student.id.clone(), line) {
                    bad.push(format!(
                        "line {line}: id {} appears again (first on line {first})",
                        row.student.id
                    ));
                }
                rows.push(row);
            }
            Err(errs) => bad.push(format!("line {line}: {}", errs.join("; "))),
        }
    }
    if !bad.is_empty() {
        return Err(RegisterError::BadRows(bad));
    }

    let mut report = ImportReport::default();
    let mut unknown: Vec<String> = cols
        .consents
        .iter()
        .map(|(c, _)| c.clone())
        .filter(|c| !known_channels.contains(c))
        .collect();
    unknown.dedup();
    report.unknown_channels = unknown;

    let tx = conn.transaction()?;
    for Row { student } in rows {
        let before = get_student(&tx, &student.id)?;
        match &before {
            None => report.added.push(student.id.clone()),
            Some(old) if same_record(old, &student) => report.unchanged += 1,
            Some(_) => report.updated.push(student.id.clone()),
        }
        upsert_student(&tx, &student, today)?;
        for c in &student.consents {
            let old = before.as_ref().and_then(|o| o.consent(&c.channel));
            let was_valid = old.is_some_and(|o| o.is_valid_on(today));
            let now_valid = c.is_valid_on(today);
            if was_valid && !now_valid {
                report
                    .consent_withdrawn
                    .push((student.id.clone(), c.channel.clone()));
            } else if !was_valid && now_valid {
                report
                    .consent_granted
                    .push((student.id.clone(), c.channel.clone()));
            }
            let given_on = if c.granted {
                old.filter(|o| o.granted)
                    .and_then(|o| o.given_on)
                    .or(Some(today))
            } else {
                None
            };
            let withdrawn_on = if !c.granted && old.is_some_and(|o| o.granted) {
                Some(today)
            } else if c.granted {
                None
            } else {
                old.and_then(|o| o.withdrawn_on)
            };
            tx.execute(
                "INSERT INTO consents (student_id, channel, granted, given_on, expires_on, withdrawn_on) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (student_id, channel) DO UPDATE SET granted = excluded.granted, given_on = excluded.given_on,
                     expires_on = excluded.expires_on, withdrawn_on = excluded.withdrawn_on",
                params![student.id, c.channel, c.granted, given_on.map(|d| d.to_string()), c.expires_on.map(|d| d.to_string()), withdrawn_on.map(|d| d.to_string())],
            )?;
        }
    }
    crate::audit::record(
        &tx,
        actor,
        "register-import",
        "register",
        &serde_json::to_value(&report).unwrap_or_default(),
        chrono::Utc::now(),
    )?;
    tx.commit()?;
    Ok(report)
}

/// Equal as far as a CSV row can say (ignores dates the register adds itself).
fn same_record(old: &Student, new: &Student) -> bool {
    let strip = |s: &Student| {
        let mut s = s.clone();
        let mut consents: BTreeMap<String, (bool, Option<NaiveDate>)> = BTreeMap::new();
        for c in &s.consents {
            consents.insert(c.channel.clone(), (c.granted, c.expires_on));
        }
        s.consents.clear();
        (s, consents)
    };
    let (o, oc) = strip(old);
    let (n, nc) = strip(new);
    // Channels missing from the new file are left as they were, so compare only the new file's channels.
    o == n && nc.iter().all(|(ch, v)| oc.get(ch) == Some(v))
}

fn upsert_student(conn: &Connection, s: &Student, today: NaiveDate) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO students (id, first_name, middle_names, last_name, preferred_name, nicknames, year_group, status, no_publish, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, middle_names = excluded.middle_names,
             last_name = excluded.last_name, preferred_name = excluded.preferred_name, nicknames = excluded.nicknames,
             year_group = excluded.year_group, status = excluded.status, no_publish = excluded.no_publish,
             updated_at = excluded.updated_at",
        params![s.id, s.first_name, s.middle_names, s.last_name, s.preferred_name, s.nicknames.join(";"), s.year, s.status.as_str(), s.no_publish, today.to_string()],
    )?;
    Ok(())
}

fn student_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Student> {
    let nick: String = r.get(5)?;
    let status: String = r.get(7)?;
    Ok(Student {
        id: r.get(0)?,
        first_name: r.get(1)?,
        middle_names: r.get(2)?,
        last_name: r.get(3)?,
        preferred_name: r.get(4)?,
        nicknames: nick
            .split(';')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        year: r.get(6)?,
        status: Status::from_db(&status),
        no_publish: r.get(8)?,
        consents: Vec::new(),
    })
}

const STUDENT_COLUMNS: &str = "id, first_name, middle_names, last_name, preferred_name, nicknames, year_group, status, no_publish";

fn consents_of(conn: &Connection, id: &str) -> Result<Vec<Consent>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached("SELECT channel, granted, given_on, expires_on, withdrawn_on FROM consents WHERE student_id = ?1 ORDER BY channel")?;
    let date = |s: Option<String>| s.and_then(|s| parse_date(&s));
    let rows = stmt.query_map([id], |r| {
        Ok(Consent {
            channel: r.get(0)?,
            granted: r.get(1)?,
            given_on: date(r.get(2)?),
            expires_on: date(r.get(3)?),
            withdrawn_on: date(r.get(4)?),
        })
    })?;
    rows.collect()
}

pub fn get_student(conn: &Connection, id: &str) -> Result<Option<Student>, rusqlite::Error> {
    let student = conn
        .query_row(
            &format!("SELECT {STUDENT_COLUMNS} FROM students WHERE id = ?1"),
            [id],
            student_from_row,
        )
        .optional()?;
    match student {
        Some(mut s) => {
            s.consents = consents_of(conn, &s.id)?;
            Ok(Some(s))
        }
        None => Ok(None),
    }
}

/// Every student, on roll and left, with consents.
pub fn all_students(conn: &Connection) -> Result<Vec<Student>, rusqlite::Error> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {STUDENT_COLUMNS} FROM students ORDER BY last_name, first_name, id"
    ))?;
    let mut students = stmt
        .query_map([], student_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    for s in &mut students {
        s.consents = consents_of(conn, &s.id)?;
    }
    Ok(students)
}

/// Withdraw one student's consent for one channel (e.g. a parent's request), with its audit row.
pub fn withdraw(
    conn: &mut Connection,
    id: &str,
    channel: &str,
    today: NaiveDate,
    actor: &str,
) -> Result<(), RegisterError> {
    let tx = conn.transaction()?;
    if get_student(&tx, id)?.is_none() {
        return Err(RegisterError::UnknownStudent(id.to_string()));
    }
    tx.execute(
        "INSERT INTO consents (student_id, channel, granted, withdrawn_on) VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (student_id, channel) DO UPDATE SET granted = 0, withdrawn_on = excluded.withdrawn_on",
        params![id, channel, today.to_string()],
    )?;
    crate::audit::record(
        &tx,
        actor,
        "consent-withdrawn",
        id,
        &serde_json::json!({"channel": channel}),
        chrono::Utc::now(),
    )?;
    tx.commit()?;
    Ok(())
}

/// Store one face template (embedding + crop hash) for a student. Never the photo itself.
pub fn add_template(
    conn: &Connection,
    student_id: &str,
    embedding: &[f32],
    crop_hash: &[u8],
    source: &str,
) -> Result<(), RegisterError> {
    if get_student(conn, student_id)?.is_none() {
        return Err(RegisterError::UnknownStudent(student_id.to_string()));
    }
    let blob: Vec<u8> = embedding.iter().flat_map(|f| f.to_le_bytes()).collect();
    conn.execute(
        "INSERT INTO face_templates (student_id, embedding, crop_hash, source, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![student_id, blob, crop_hash, source, chrono::Utc::now().to_rfc3339()],
    )?;
    Ok(())
}

/// An enrolled face: one template of one student (biometric data: only what matching needs).
#[derive(Debug, Clone)]
pub struct Template {
    pub student_id: String,
    pub embedding: Vec<f32>,
    pub crop_hash: Vec<u8>,
}

/// Every enrolled face template.
pub fn templates(conn: &Connection) -> Result<Vec<Template>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT student_id, embedding, crop_hash FROM face_templates ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        let blob: Vec<u8> = r.get(1)?;
        Ok(Template {
            student_id: r.get(0)?,
            embedding: blob
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            crop_hash: r.get(2)?,
        })
    })?;
    rows.collect()
}

/// How many templates a student has.
pub fn template_count(conn: &Connection, student_id: &str) -> Result<usize, rusqlite::Error> {
    conn.query_row(
        "SELECT COUNT(*) FROM face_templates WHERE student_id = ?1",
        [student_id],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as usize)
}

/// Erase a student's biometric data (every face template), with its audit row. Returns how many
/// were deleted.
pub fn forget(
    conn: &mut Connection,
    student_id: &str,
    actor: &str,
) -> Result<usize, RegisterError> {
    let tx = conn.transaction()?;
    if get_student(&tx, student_id)?.is_none() {
        return Err(RegisterError::UnknownStudent(student_id.to_string()));
    }
    let n = tx.execute(
        "DELETE FROM face_templates WHERE student_id = ?1",
        [student_id],
    )?;
    crate::audit::record(
        &tx,
        actor,
        "biometric-data-erased",
        student_id,
        &serde_json::json!({"templates": n}),
        chrono::Utc::now(),
    )?;
    tx.commit()?;
    Ok(n)
}

/// A school-owned capture device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchoolDevice {
    pub make: String,
    pub model: String,
    pub serial: String,
    pub note: String,
}

impl SchoolDevice {
    /// Does a photo's EXIF device match this registered one? Make/model compare case-insensitively;
    /// a registered serial must match when the photo carries one.
    pub fn matches(&self, make: Option<&str>, model: Option<&str>, serial: Option<&str>) -> bool {
        let eq = |a: &str, b: Option<&str>| {
            a.is_empty() || b.is_some_and(|b| a.trim().eq_ignore_ascii_case(b.trim()))
        };
        eq(&self.make, make)
            && eq(&self.model, model)
            && (self.serial.is_empty() || serial.is_some_and(|s| s.trim() == self.serial.trim()))
    }
}

/// Register a school-owned device, with its audit row.
pub fn add_device(
    conn: &mut Connection,
    d: &SchoolDevice,
    actor: &str,
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO devices (make, model, serial, note) VALUES (?1, ?2, ?3, ?4)",
        params![d.make, d.model, d.serial, d.note],
    )?;
    crate::audit::record(
        &tx,
        actor,
        "device-added",
        "devices",
        &serde_json::to_value(d).unwrap_or_default(),
        chrono::Utc::now(),
    )?;
    tx.commit()
}

pub fn devices(conn: &Connection) -> Result<Vec<SchoolDevice>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT make, model, serial, note FROM devices ORDER BY make, model, serial")?;
    let rows = stmt.query_map([], |r| {
        Ok(SchoolDevice {
            make: r.get(0)?,
            model: r.get(1)?,
            serial: r.get(2)?,
            note: r.get(3)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("r.db")).unwrap();
        (dir, conn)
    }

    fn channels() -> Vec<String> {
        vec!["website".into(), "social".into()]
    }

    #[test]
    fn mis_header_spellings_are_understood() {
        let (_d, mut conn) = db();
        let csv = "UPN, Legal Forename ,Legal Surname,Preferred Forename,Year Group,Consent Website\nA123,Olivia,Smith,Liv,Y6,yes\n";
        let r = import_csv(&mut conn, csv.as_bytes(), &channels(), today(), "test").unwrap();
        assert_eq!(r.added, vec!["A123"]);
        let s = get_student(&conn, "A123").unwrap().unwrap();
        assert_eq!(
            (
                s.first_name.as_str(),
                s.last_name.as_str(),
                s.preferred_name.as_deref(),
                s.year.as_str()
            ),
            ("Olivia", "Smith", Some("Liv"), "Y6")
        );
        assert!(s.consent("website").unwrap().is_valid_on(today()));
    }

    #[test]
    fn reimport_reports_added_updated_unchanged_and_withdrawn() {
        let (_d, mut conn) = db();
        let v1 = "id,first_name,last_name,consent_website,consent_social\n1,Ann,Lee,yes,yes\n2,Bob,Ray,no,yes\n";
        import_csv(&mut conn, v1.as_bytes(), &channels(), today(), "test").unwrap();
        let v2 = "id,first_name,last_name,consent_website,consent_social\n1,Ann,Lee,yes,no\n2,Bob,Ray,no,yes\n3,Cy,Oak,2027-01-31,\n";
        let r = import_csv(&mut conn, v2.as_bytes(), &channels(), today(), "test").unwrap();
        assert_eq!(r.added, vec!["3"]);
        assert_eq!(r.updated, vec!["1"]);
        assert_eq!(r.unchanged, 1);
        assert_eq!(
            r.consent_withdrawn,
            vec![("1".to_string(), "social".to_string())]
        );
        let ann = get_student(&conn, "1").unwrap().unwrap();
        assert_eq!(ann.consent("social").unwrap().withdrawn_on, Some(today()));
        let cy = get_student(&conn, "3").unwrap().unwrap();
        assert!(cy.consent("website").unwrap().is_valid_on(today()));
        assert!(!cy
            .consent("website")
            .unwrap()
            .is_valid_on(NaiveDate::from_ymd_opt(2027, 2, 1).unwrap()));
    }

    #[test]
    fn a_bad_row_imports_nothing_and_names_its_line() {
        let (_d, mut conn) = db();
        let csv = "id,first_name,last_name,no_publish,consent_website\n1,Ann,Lee,no,yes\n2,Bob,Ray,maybe,yes\n3,Cy,Oak,no,soon\n1,Ann,Again,no,no\n";
        let err = import_csv(&mut conn, csv.as_bytes(), &channels(), today(), "test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("maybe"), "{err}");
        assert!(err.contains("line 4") && err.contains("soon"), "{err}");
        assert!(
            err.contains("line 5") && err.contains("appears again"),
            "{err}"
        );
        assert!(
            all_students(&conn).unwrap().is_empty(),
            "nothing may be half-imported"
        );
    }

    #[test]
    fn missing_name_column_is_a_clear_error() {
        let (_d, mut conn) = db();
        let err = import_csv(
            &mut conn,
            "id,name\n1,Ann Lee\n".as_bytes(),
            &channels(),
            today(),
            "test",
        )
        .unwrap_err();
        assert!(matches!(err, RegisterError::MissingColumn(_)));
    }

    #[test]
    fn withdraw_records_the_date() {
        let (_d, mut conn) = db();
        import_csv(
            &mut conn,
            "id,first_name,last_name,consent_website\n1,Ann,Lee,yes\n".as_bytes(),
            &channels(),
            today(),
            "test",
        )
        .unwrap();
        withdraw(&mut conn, "1", "website", today(), "test").unwrap();
        let c = get_student(&conn, "1")
            .unwrap()
            .unwrap()
            .consent("website")
            .cloned()
            .unwrap();
        assert!(!c.is_valid_on(today()));
        assert!(matches!(
            withdraw(&mut conn, "nobody", "website", today(), "test"),
            Err(RegisterError::UnknownStudent(_))
        ));
    }

    #[test]
    fn device_matching() {
        let d = SchoolDevice {
            make: "Canon".into(),
            model: "EOS R50".into(),
            serial: String::new(),
            note: String::new(),
        };
        assert!(d.matches(Some("CANON"), Some("EOS R50"), Some("123")));
        assert!(!d.matches(Some("Apple"), Some("iPhone 15"), None));
        assert!(!d.matches(None, None, None));
    }
}
