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
    #[error("cannot read the CSV file: {0}; save it from the spreadsheet as \"CSV UTF-8\" and import again")]
    Csv(#[from] csv::Error),
    #[error("cannot import this file: {0}; open it in the spreadsheet and save it as \"CSV UTF-8 (Comma delimited)\", then import that")]
    NotCsv(String),
    #[error("the CSV has no column for {0}; expected headers like id,first_name,last_name (or UPN/Adno/Admission Number/SIS ID/sourcedId/upi/Person ID, Legal Forename/First Name/givenName, Legal Surname/Last Name/familyName); see README \"The register CSV\"")]
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
    /// The surname the student goes by, when it differs from the legal one (caption matching
    /// looks for both).
    pub preferred_surname: Option<String>,
    pub nicknames: Vec<String>,
    /// Year group ("Y6", "6", a grade).
    pub year: String,
    /// Registration (form, tutor) group, kept apart from the year.
    pub reg_group: String,
    pub status: Status,
    pub no_publish: bool,
    pub consents: Vec<Consent>,
}

impl Student {
    /// An on-roll student known by one first name and one surname, with no consent recorded
    /// and not on the no-publish list (the rest as a register row with only those columns).
    pub fn on_roll(id: &str, first: &str, last: &str) -> Student {
        Student {
            id: id.into(),
            first_name: first.into(),
            middle_names: String::new(),
            last_name: last.into(),
            preferred_name: None,
            preferred_surname: None,
            nicknames: vec![],
            year: String::new(),
            reg_group: String::new(),
            status: Status::OnRoll,
            no_publish: false,
            consents: vec![],
        }
    }

    pub fn display_name(&self) -> String {
        let first = self.preferred_name.as_deref().unwrap_or(&self.first_name);
        let last = self.preferred_surname.as_deref().unwrap_or(&self.last_name);
        format!("{first} {last}")
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
            preferred_surname: self.preferred_surname.clone(),
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
    /// The file's character encoding as detected, e.g. "UTF-8", "UTF-16LE with a byte-order
    /// mark", "Windows-1252, ...".
    pub encoding: String,
    /// What a person must look at although the import went through: no consent column, a
    /// column that looks like consent but is not read, no no-publish column.
    pub warnings: Vec<String>,
    /// Nothing was written (`register import --dry-run`).
    pub dry_run: bool,
}

/// How to read an export: the school's channels (`[gate] channels`), the column and value
/// mapping (`[register]`), and whether to write at all.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions<'a> {
    pub channels: &'a [String],
    pub mapping: &'a crate::config::Register,
    /// Work out and report every change, then roll it back: nothing is written.
    pub dry_run: bool,
}

/// One CSV row, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    student: Student,
}

/// Which CSV column holds which field. Header spellings from MIS exports are accepted (case,
/// spaces, punctuation and a `[Required]` suffix ignored); see [`Columns::from_headers`].
struct Columns {
    id: usize,
    first: usize,
    middle: Option<usize>,
    last: usize,
    preferred: Option<usize>,
    preferred_surname: Option<usize>,
    nicknames: Option<usize>,
    year: Option<usize>,
    reg_group: Option<usize>,
    status: Option<usize>,
    no_publish: Option<usize>,
    /// Channel → the columns recording consent for it (several are combined: all must grant).
    consents: BTreeMap<String, Vec<usize>>,
    /// Channels read from `consent_<name>` columns that are not in `[gate] channels`.
    unknown_channels: Vec<String>,
    warnings: Vec<String>,
    /// The file's headers as written, for messages.
    headers: Vec<String>,
}

fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// A header as compared: bracketed notes at the end dropped (Google Admin's "First Name
/// [Required]"), then case, spacing and punctuation ignored.
fn header_key(header: &str) -> String {
    let mut h = header.trim();
    while h.ends_with(']') {
        match h.rfind('[') {
            Some(open) => h = h[..open].trim_end(),
            None => break,
        }
    }
    squash(h)
}

// Header spellings, most specific first (the first alias found in the file wins; for the id,
// the first id-like column of the file). From the
// export column lists of Arbor, SIMS, Bromcom, Wonde, Microsoft School Data Sync (v1 `SIS ID`,
// v2 OneRoster `sourcedId`/`givenName`/`familyName`/`grade`) and Google Admin.
const ID: &[&str] = &[
    "id",
    "upn",
    "adno",
    "admissionnumber",
    "admissionsnumber",
    "admissionno",
    "sisid",
    "sourcedid",
    "studentid",
    "pupilid",
    "personid",
    "misid",
    "upi",
    "studentnumber",
    "uln",
    "employeeid",
];
const FIRST: &[&str] = &[
    "firstname",
    "legalforename",
    "legalfirstname",
    "forename",
    "givenname",
    "firstnames",
];
const LAST: &[&str] = &[
    "lastname",
    "legalsurname",
    "legallastname",
    "surname",
    "familyname",
];
const MIDDLE: &[&str] = &[
    "middlenames",
    "middlename",
    "middleforenames",
    "middleforename",
];
const PREFERRED: &[&str] = &[
    "preferredname",
    "preferredforename",
    "preferredfirstname",
    "knownas",
    "chosenname",
];
const PREFERRED_SURNAME: &[&str] = &[
    "preferredsurname",
    "preferredlastname",
    "preferredfamilyname",
    "knownassurname",
    "chosensurname",
];
const NICKNAMES: &[&str] = &["nicknames", "nickname", "aliases"];
const YEAR: &[&str] = &[
    "year",
    "yeargroup",
    "ncyear",
    "nationalcurriculumyear",
    "curriculumyear",
    "grade",
    "yr",
];
const REG_GROUP: &[&str] = &[
    "reggroup",
    "registrationgroup",
    "regform",
    "registrationform",
    "formtutorgroup",
    "tutorgroup",
    "form",
    "formgroup",
    "reg",
    "class",
    "homeroom",
];
const STATUS: &[&str] = &[
    "status",
    "enrolmentstatus",
    "enrollmentstatus",
    "studentstatus",
    "onroll",
];
const NO_PUBLISH: &[&str] = &[
    "nopublish",
    "donotpublish",
    "photorestriction",
    "nophotos",
    "donotphotograph",
];
/// Words that make an unread column look like it might record consent.
const CONSENTISH: &[&str] = &[
    "consent",
    "permission",
    "photo",
    "media",
    "image",
    "picture",
    "video",
    "publish",
];

impl Columns {
    fn from_headers(
        headers: &csv::StringRecord,
        channels: &[String],
        mapping: &crate::config::Register,
    ) -> Result<Columns, RegisterError> {
        let keys: Vec<String> = headers.iter().map(header_key).collect();
        let find = |aliases: &[&str]| {
            aliases
                .iter()
                .find_map(|a| keys.iter().position(|k| k == a))
        };
        // `[register.columns]` spellings first, then the built-in ones.
        let own = |names: &[String]| {
            names.iter().find_map(|n| {
                let k = header_key(n);
                keys.iter().position(|h| *h == k)
            })
        };
        let pick = |names: &[String], builtin: &[&str]| own(names).or_else(|| find(builtin));
        let c = &mapping.columns;
        // The id is the first id-like column of the file, as it always was: choosing another
        // one for the same export would make a re-import add every student again.
        let id = own(&c.id)
            .or_else(|| keys.iter().position(|k| ID.contains(&k.as_str())))
            .ok_or(RegisterError::MissingColumn("the student id"))?;
        let first =
            pick(&c.first_name, FIRST).ok_or(RegisterError::MissingColumn("the first name"))?;
        let last = pick(&c.last_name, LAST).ok_or(RegisterError::MissingColumn("the last name"))?;
        // SIMS and Wonde export both "Legal Forename" and "Forename": the plain one is then
        // the name the child goes by. Same for surnames.
        let plain = |legal: usize, plain: &[&str]| {
            keys[legal]
                .starts_with("legal")
                .then(|| find(plain))
                .flatten()
        };
        let preferred =
            pick(&c.preferred_name, PREFERRED).or_else(|| plain(first, &["forename", "firstname"]));
        let preferred_surname = pick(&c.preferred_surname, PREFERRED_SURNAME)
            .or_else(|| plain(last, &["surname", "lastname"]));
        let mut cols = Columns {
            id,
            first,
            last,
            middle: pick(&c.middle_names, MIDDLE),
            preferred,
            preferred_surname,
            nicknames: pick(&c.nicknames, NICKNAMES),
            year: pick(&c.year, YEAR),
            reg_group: pick(&c.reg_group, REG_GROUP),
            status: pick(&c.status, STATUS),
            no_publish: pick(&c.no_publish, NO_PUBLISH),
            consents: BTreeMap::new(),
            unknown_channels: Vec::new(),
            warnings: Vec::new(),
            headers: headers.iter().map(String::from).collect(),
        };
        let used: Vec<usize> = [
            Some(cols.id),
            Some(cols.first),
            Some(cols.last),
            cols.middle,
            cols.preferred,
            cols.preferred_surname,
            cols.nicknames,
            cols.year,
            cols.reg_group,
            cols.status,
            cols.no_publish,
        ]
        .into_iter()
        .flatten()
        .collect();
        let mapped: Vec<(String, &Vec<String>)> = mapping
            .consent_columns
            .iter()
            .map(|(k, v)| (header_key(k), v))
            .collect();
        for (i, header) in headers.iter().enumerate() {
            if used.contains(&i) || keys[i].is_empty() {
                continue;
            }
            let key = &keys[i];
            if let Some((_, to)) = mapped.iter().find(|(k, _)| k == key) {
                for ch in *to {
                    if ch == crate::config::ALL_CHANNELS {
                        for c in channels {
                            cols.consents.entry(c.clone()).or_default().push(i);
                        }
                    } else {
                        cols.consents.entry(ch.clone()).or_default().push(i);
                    }
                }
                continue;
            }
            if let Some(rest) = key.strip_prefix("consent").filter(|r| !r.is_empty()) {
                if let Some(ch) = channels.iter().find(|c| squash(c) == rest) {
                    cols.consents.entry(ch.clone()).or_default().push(i);
                    continue;
                }
                // `consent_<name>` for a channel the school does not use: kept under that name.
                let lower = header.trim().to_lowercase();
                let channel: String = lower
                    .strip_prefix("consent")
                    .unwrap_or(&lower)
                    .trim_start_matches(|c: char| !c.is_alphanumeric())
                    .chars()
                    .filter(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                cols.warnings.push(format!(
                    "column {header:?} was read as consent for a channel {channel:?}, which is not in [gate] channels, so no photo is published with it. If it is photo consent for the school's channels, map it in consentgate.toml under [register] consent_columns, e.g. {header:?} = [\"all\"]"
                ));
                cols.unknown_channels.push(channel.clone());
                cols.consents.entry(channel).or_default().push(i);
                continue;
            }
            if CONSENTISH.iter().any(|w| key.contains(w)) {
                cols.warnings.push(format!(
                    "column {header:?} looks like consent but is NOT read, so nobody's consent is taken from it. If it records photo consent, map it in consentgate.toml under [register] consent_columns, e.g. {header:?} = [\"all\"]"
                ));
            }
        }
        if cols.consents.is_empty() {
            cols.warnings.push(
                "no consent column was found, so this import records nobody's consent: every photo with a recognised student's face will be held. If the export has a consent column, map it in consentgate.toml under [register] consent_columns (e.g. \"Media consent\" = [\"all\"]), or name it consent_<channel>".into(),
            );
        }
        if cols.no_publish.is_none() {
            cols.warnings.push(
                "no no_publish column: this file puts nobody on the no-publish list, and students already on it stay on it".into(),
            );
        }
        Ok(cols)
    }
}

fn parse_yes_no(cell: &str) -> Result<bool, String> {
    match squash(cell).as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        "" => Err("is empty; write yes or no (an empty safeguarding flag is never read as \"may publish\")".into()),
        _ => Err(format!("{:?} is not yes or no", cell.trim())),
    }
}

fn listed(values: &[String], key: &str) -> bool {
    values.iter().any(|v| squash(v) == key)
}

/// A `[register] yes_values` or `no_values` word, empty (= no), or an expiry date (= yes until
/// then), ISO or UK day/month/year.
fn parse_consent(
    cell: &str,
    mapping: &crate::config::Register,
) -> Result<(bool, Option<NaiveDate>), String> {
    let t = cell.trim();
    let key = squash(t);
    if key.is_empty() || listed(&mapping.no_values, &key) {
        return Ok((false, None));
    }
    if listed(&mapping.yes_values, &key) {
        return Ok((true, None));
    }
    parse_date(t).map(|d| (true, Some(d))).ok_or_else(|| {
        format!(
            "{t:?} is neither a yes nor a no value nor a date YYYY-MM-DD; add it to [register] yes_values or no_values in consentgate.toml"
        )
    })
}

fn parse_date(t: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d/%m/%Y"))
        .ok()
}

fn parse_status(cell: &str, mapping: &crate::config::Register) -> Result<Status, String> {
    let key = squash(cell);
    if key.is_empty() || key == "onroll" || listed(&mapping.on_roll_values, &key) {
        Ok(Status::OnRoll)
    } else if key == "left" || listed(&mapping.left_values, &key) {
        Ok(Status::Left)
    } else {
        Err(format!(
            "status {:?} is neither on roll nor left; add it to [register] on_roll_values or left_values in consentgate.toml",
            cell.trim()
        ))
    }
}

fn parse_row(
    cols: &Columns,
    rec: &csv::StringRecord,
    mapping: &crate::config::Register,
) -> Result<Row, Vec<String>> {
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
    let status = parse_status(&opt(cols.status), mapping).unwrap_or_else(|e| {
        errors.push(e);
        Status::OnRoll
    });
    let no_publish = match cols.no_publish {
        // No column: the caller keeps what the register already says.
        None => false,
        Some(i) => parse_yes_no(&get(i)).unwrap_or_else(|e| {
            errors.push(format!("no_publish {e}"));
            // Fail closed: an unreadable safeguarding flag never means "may publish".
            true
        }),
    };
    let mut consents = Vec::new();
    for (channel, columns) in &cols.consents {
        // Several columns for one channel: granted only if every one grants; earliest expiry.
        let mut granted = true;
        let mut expires_on: Option<NaiveDate> = None;
        let mut ok = true;
        for &i in columns {
            match parse_consent(&get(i), mapping) {
                Ok((g, e)) => {
                    granted &= g;
                    expires_on = match (expires_on, e) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Err(e) => {
                    ok = false;
                    let header = cols_header(cols, i);
                    errors.push(format!("{header}: {e}"));
                }
            }
        }
        if ok {
            consents.push(Consent {
                channel: channel.clone(),
                granted,
                given_on: None,
                expires_on: expires_on.filter(|_| granted),
                withdrawn_on: None,
            });
        }
    }
    let preferred = opt(cols.preferred);
    let preferred_surname = opt(cols.preferred_surname);
    let student = Student {
        id,
        preferred_name: (!preferred.is_empty() && preferred != first_name).then_some(preferred),
        preferred_surname: (!preferred_surname.is_empty() && preferred_surname != last_name)
            .then_some(preferred_surname),
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
        reg_group: opt(cols.reg_group),
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

/// How a consent column is named in error messages (set once the headers are read).
fn cols_header(cols: &Columns, i: usize) -> String {
    cols.headers
        .get(i)
        .map(|h| format!("column {h:?}"))
        .unwrap_or_else(|| format!("column {}", i + 1))
}

/// Decode an export to text, and name the encoding found. Excel's plain "CSV" is Windows-1252
/// (of which Latin-1 text is a subset), its "Unicode Text" UTF-16 with a byte-order mark, "CSV
/// UTF-8" UTF-8 with one; MIS downloads are mostly UTF-8. The decoding is `encoding_rs`'s; the
/// choice is by byte-order mark, then the NUL-byte pattern of UTF-16 without one, then whether
/// the bytes are valid UTF-8.
fn decode(bytes: &[u8]) -> Result<(String, String), RegisterError> {
    use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(RegisterError::NotCsv(
            "this is a spreadsheet workbook (Excel .xlsx/.xls), not a CSV file".into(),
        ));
    }
    let (enc, body, bom): (&'static Encoding, &[u8], bool) = match Encoding::for_bom(bytes) {
        Some((enc, n)) => (enc, &bytes[n..], true),
        None => {
            let head = &bytes[..bytes.len().min(4096) & !1];
            let even_nul = head.iter().step_by(2).filter(|&&b| b == 0).count();
            let odd_nul = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
            let half = head.len() / 4;
            if head.len() >= 4 && odd_nul > half && even_nul == 0 {
                (UTF_16LE, bytes, false)
            } else if head.len() >= 4 && even_nul > half && odd_nul == 0 {
                (UTF_16BE, bytes, false)
            } else if std::str::from_utf8(bytes).is_ok() {
                (UTF_8, bytes, false)
            } else {
                (WINDOWS_1252, bytes, false)
            }
        }
    };
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    if had_errors || text.contains('\0') {
        return Err(RegisterError::NotCsv(format!(
            "the file is not readable text in {} (it may be damaged or not a CSV file)",
            enc.name()
        )));
    }
    let name = if enc == WINDOWS_1252 {
        "Windows-1252, Excel's plain CSV; Latin-1 reads the same".to_string()
    } else if bom {
        format!("{} with a byte-order mark", enc.name())
    } else {
        enc.name().to_string()
    };
    Ok((text.into_owned(), name))
}

/// Comma unless the header line has none and tabs (Excel's "Unicode Text") or semicolons (Excel
/// in locales with a decimal comma) instead.
fn delimiter(text: &str) -> u8 {
    let head = text.lines().next().unwrap_or("");
    if head.contains(',') {
        b','
    } else if head.contains('\t') {
        b'\t'
    } else if head.contains(';') {
        b';'
    } else {
        b','
    }
}

/// Import (upsert) students from a CSV export. All or nothing; with `dry_run`, nothing at all.
/// The import and its audit row (by `actor`) are one transaction, `BEGIN IMMEDIATE` because it
/// reads before it writes: a deferred one fails with "database is locked" when a running gate
/// commits between the two, instead of waiting its turn.
pub fn import_csv(
    conn: &mut Connection,
    mut input: impl Read,
    options: &ImportOptions<'_>,
    today: NaiveDate,
    actor: &str,
) -> Result<ImportReport, RegisterError> {
    let mapping = options.mapping;
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| RegisterError::NotCsv(format!("it cannot be read ({e})")))?;
    let (text, encoding) = decode(&bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(delimiter(&text))
        .from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let mut cols = Columns::from_headers(&headers, options.channels, mapping)?;
    let width = headers.len();
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
        // A short or long row would put its cells under the wrong headers (a consent "yes"
        // read as someone's year, an empty no-publish flag): refuse it, never guess.
        let cells = rec.len();
        if cells < width || rec.iter().skip(width).any(|c| !c.trim().is_empty()) {
            bad.push(format!(
                "line {line}: has {cells} cells but the header has {width}; a cell is missing or extra (a stray comma, or a line break inside a cell?)"
            ));
            continue;
        }
        match parse_row(&cols, &rec, mapping) {
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

    let mut report = ImportReport {
        encoding,
        dry_run: options.dry_run,
        warnings: std::mem::take(&mut cols.warnings),
        ..ImportReport::default()
    };
    let mut unknown = std::mem::take(&mut cols.unknown_channels);
    unknown.sort();
    unknown.dedup();
    report.unknown_channels = unknown;

    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for Row { mut student } in rows {
        let before = get_student(&tx, &student.id)?;
        if cols.no_publish.is_none() {
            student.no_publish = before.as_ref().is_some_and(|b| b.no_publish);
        }
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
    if options.dry_run {
        tx.rollback()?;
    } else {
        crate::audit::record(
            &tx,
            actor,
            "register-import",
            "register",
            &serde_json::to_value(&report).unwrap_or_default(),
            chrono::Utc::now(),
        )?;
        tx.commit()?;
    }
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
        "INSERT INTO students (id, first_name, middle_names, last_name, preferred_name, nicknames, year_group, status, no_publish, updated_at, preferred_surname, reg_group)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET first_name = excluded.first_name, middle_names = excluded.middle_names,
             last_name = excluded.last_name, preferred_name = excluded.preferred_name, nicknames = excluded.nicknames,
             year_group = excluded.year_group, status = excluded.status, no_publish = excluded.no_publish,
             updated_at = excluded.updated_at, preferred_surname = excluded.preferred_surname,
             reg_group = excluded.reg_group",
        params![s.id, s.first_name, s.middle_names, s.last_name, s.preferred_name, s.nicknames.join(";"), s.year, s.status.as_str(), s.no_publish, today.to_string(), s.preferred_surname, s.reg_group],
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
        preferred_surname: r.get(9)?,
        reg_group: r.get(10)?,
        consents: Vec::new(),
    })
}

const STUDENT_COLUMNS: &str = "id, first_name, middle_names, last_name, preferred_name, nicknames, year_group, status, no_publish, preferred_surname, reg_group";

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
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

    fn import(conn: &mut Connection, csv: impl Read) -> Result<ImportReport, RegisterError> {
        let channels = channels();
        let mapping = crate::config::Register::default();
        let options = ImportOptions {
            channels: &channels,
            mapping: &mapping,
            dry_run: false,
        };
        import_csv(conn, csv, &options, today(), "test")
    }

    /// An import while a gate writes waits its turn and lands (a deferred transaction failed
    /// here with "database is locked": its read snapshot went stale when the gate committed).
    #[test]
    fn an_import_waits_for_a_gate_that_is_writing() {
        let (dir, mut conn) = db();
        let path = dir.path().join("r.db");
        let (writing, wait) = std::sync::mpsc::channel();
        let gate = std::thread::spawn(move || {
            let mut other = crate::db::open(&path).unwrap();
            let tx = other
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            tx.execute(
                "INSERT INTO devices (make, model, serial, note) VALUES ('a', 'b', 'c', 'd')",
                [],
            )
            .unwrap();
            writing.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(400));
            tx.commit().unwrap();
        });
        wait.recv().unwrap();
        let csv =
            "UPN,Legal Forename,Legal Surname,Year Group,Consent Website\nA1,Olivia,Smith,Y6,yes\n";
        let r = import(&mut conn, csv.as_bytes());
        gate.join().unwrap();
        assert_eq!(r.expect("the import waits, then lands").added, vec!["A1"]);
    }

    #[test]
    fn mis_header_spellings_are_understood() {
        let (_d, mut conn) = db();
        let csv = "UPN, Legal Forename ,Legal Surname,Preferred Forename,Year Group,Consent Website\nA123,Olivia,Smith,Liv,Y6,yes\n";
        let r = import(&mut conn, csv.as_bytes()).unwrap();
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
        import(&mut conn, v1.as_bytes()).unwrap();
        let v2 = "id,first_name,last_name,consent_website,consent_social\n1,Ann,Lee,yes,no\n2,Bob,Ray,no,yes\n3,Cy,Oak,2027-01-31,\n";
        let r = import(&mut conn, v2.as_bytes()).unwrap();
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
        let err = import(&mut conn, csv.as_bytes()).unwrap_err().to_string();
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
    fn id_and_name_headers_of_each_mis_are_understood() {
        for id in [
            "SIS ID",
            "sourcedId",
            "upi",
            "Admissions Number",
            "Admission Number",
            "Person ID",
            "Adno",
            "Employee ID",
        ] {
            let (_d, mut conn) = db();
            let csv = format!(
                "{id},First Name [Required],Last Name [Required],Preferred Lastname,Grade,Form/Tutor Group,no_publish\nX1,Ann,Lee,Leigh,6,6B,no\n"
            );
            let r = import(&mut conn, csv.as_bytes()).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(r.added, vec!["X1"], "{id}");
            let s = get_student(&conn, "X1").unwrap().unwrap();
            assert_eq!(
                (
                    s.first_name.as_str(),
                    s.last_name.as_str(),
                    s.preferred_surname.as_deref(),
                    s.year.as_str(),
                    s.reg_group.as_str()
                ),
                ("Ann", "Lee", Some("Leigh"), "6", "6B"),
                "{id}"
            );
            assert_eq!(s.display_name(), "Ann Leigh");
            assert!(s.person_name().preferred_surname.is_some());
        }
    }

    #[test]
    fn the_config_can_name_headers_the_built_in_list_does_not_know() {
        let (_d, mut conn) = db();
        let channels = channels();
        let mut mapping = crate::config::Register::default();
        mapping.columns.id = vec!["Pupil Ref".into()];
        mapping.columns.year = vec!["NC Yr Grp".into()];
        mapping.columns.no_publish = vec!["Safeguarding: no images".into()];
        let options = ImportOptions {
            channels: &channels,
            mapping: &mapping,
            dry_run: false,
        };
        let csv = "Row,Pupil Ref,Forename,Surname,NC Yr Grp,Safeguarding: no images\n1,P-9,Ann,Lee,6,yes\n";
        let r = import_csv(&mut conn, csv.as_bytes(), &options, today(), "test").unwrap();
        assert_eq!(r.added, vec!["P-9"]);
        let s = get_student(&conn, "P-9").unwrap().unwrap();
        assert_eq!((s.year.as_str(), s.no_publish), ("6", true));
    }

    #[test]
    fn a_re_import_without_a_no_publish_column_keeps_the_list() {
        let (_d, mut conn) = db();
        import(
            &mut conn,
            "id,first_name,last_name,no_publish\n1,Ann,Lee,yes\n".as_bytes(),
        )
        .unwrap();
        let r = import(&mut conn, "id,first_name,last_name\n1,Ann,Lee\n".as_bytes()).unwrap();
        assert!(get_student(&conn, "1").unwrap().unwrap().no_publish);
        assert_eq!(r.unchanged, 1);
        assert!(r
            .warnings
            .iter()
            .any(|w| w.contains("no no_publish column")));
    }

    #[test]
    fn two_columns_for_one_channel_grant_only_together() {
        let (_d, mut conn) = db();
        let csv = "id,first_name,last_name,no_publish,Media consent,consent_website\n1,Ann,Lee,no,Granted,no\n2,Bob,Ray,no,Granted,yes\n";
        import(&mut conn, csv.as_bytes()).unwrap();
        let ann = get_student(&conn, "1").unwrap().unwrap();
        assert!(!ann.consent("website").unwrap().granted);
        assert!(ann.consent("social").unwrap().granted);
        let bob = get_student(&conn, "2").unwrap().unwrap();
        assert!(bob.consent("website").unwrap().granted);
    }

    #[test]
    fn a_dry_run_rolls_everything_back() {
        let (_d, mut conn) = db();
        let channels = channels();
        let mapping = crate::config::Register::default();
        let options = ImportOptions {
            channels: &channels,
            mapping: &mapping,
            dry_run: true,
        };
        let csv = "id,first_name,last_name,no_publish,consent_website\n1,Ann,Lee,no,yes\n";
        let r = import_csv(&mut conn, csv.as_bytes(), &options, today(), "test").unwrap();
        assert_eq!(r.added, vec!["1"]);
        assert!(r.dry_run);
        assert!(all_students(&conn).unwrap().is_empty());
    }

    #[test]
    fn missing_name_column_is_a_clear_error() {
        let (_d, mut conn) = db();
        let err = import(&mut conn, "id,name\n1,Ann Lee\n".as_bytes()).unwrap_err();
        assert!(matches!(err, RegisterError::MissingColumn(_)));
    }

    #[test]
    fn withdraw_records_the_date() {
        let (_d, mut conn) = db();
        import(
            &mut conn,
            "id,first_name,last_name,consent_website\n1,Ann,Lee,yes\n".as_bytes(),
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
