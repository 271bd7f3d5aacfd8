//! The workspace configuration, `consentgate.toml`: one file, every key documented, safe defaults.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}; fix that line or restore the default with `consentgate init` in a new folder")]
    Parse { path: String, message: String },
}

/// Settings for the gate. Missing keys take the defaults below.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub gate: Gate,
    pub faces: Faces,
    pub text: Text,
    pub limits: Limits,
    pub watch: Watch,
    pub register: Register,
    pub serve: Serve,
    pub formats: Formats,
    pub review: Review,
}

/// Moderator decisions (issue 13: "when in doubt, get a second opinion").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Review {
    /// Approving a photo held for any of these reason kinds records a first approval; it stays
    /// held until a different senior account approves too.
    pub second_opinion: Vec<crate::decide::ReasonKind>,
}

impl Default for Review {
    fn default() -> Self {
        use crate::decide::ReasonKind;
        Review {
            second_opinion: vec![
                ReasonKind::FaceNoPublish,
                ReasonKind::CaptionNamesStudent,
                ReasonKind::NearDuplicateOfRejected,
            ],
        }
    }
}

/// How pictures are released.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Formats {
    /// "heic": a HEIC is released as HEIC, its container rewritten without metadata (lossless);
    /// "jpeg": decoded, turned upright and released as JPEG (quality 92, colour profile kept).
    pub heic_output: crate::formats::HeicOutput,
}

/// How `consentgate register import` reads an MIS export: which columns record photo consent
/// (and for which channels), and which cell values mean yes, no, on roll or left. Headers and
/// values match with case, spacing, punctuation and a `[Required]` suffix ignored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Register {
    /// Consent cells that mean "granted" (besides an expiry date).
    pub yes_values: Vec<String>,
    /// Consent cells that mean "not granted". An empty consent cell is "no" too.
    pub no_values: Vec<String>,
    /// Status cells that mean the student is on roll (an empty status cell is on roll).
    pub on_roll_values: Vec<String>,
    /// Status cells that mean the student has left.
    pub left_values: Vec<String>,
    /// Extra header spellings per field, tried before the built-in ones.
    pub columns: RegisterColumns,
    /// MIS consent column header → the channels it covers (`"all"`: every `[gate]` channel).
    /// A `consent_<channel>` column needs no entry.
    pub consent_columns: std::collections::BTreeMap<String, Vec<String>>,
}

/// `[register.columns]`: header spellings of an export the built-in list does not know.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterColumns {
    pub id: Vec<String>,
    pub first_name: Vec<String>,
    pub middle_names: Vec<String>,
    pub last_name: Vec<String>,
    pub preferred_name: Vec<String>,
    pub preferred_surname: Vec<String>,
    pub nicknames: Vec<String>,
    pub year: Vec<String>,
    pub reg_group: Vec<String>,
    pub status: Vec<String>,
    pub no_publish: Vec<String>,
}

/// Channel list meaning "every channel in `[gate] channels`".
pub const ALL_CHANNELS: &str = "all";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl Default for Register {
    fn default() -> Self {
        Register {
            yes_values: strings(&[
                "yes",
                "y",
                "true",
                "1",
                "granted",
                "given",
                "confirmed",
                "accepted",
            ]),
            no_values: strings(&[
                "no",
                "n",
                "false",
                "0",
                "not granted",
                "declined",
                "refused",
                "withdrawn",
                "pending",
                "requested",
                "not asked",
                "no response",
            ]),
            on_roll_values: strings(&[
                "on_roll",
                "current",
                "enrolled",
                "active",
                "yes",
                "C",
                "M",
                "S",
                "G",
                "Single Registration",
                "Main - Dual Registration",
                "Subsidiary - Dual Registration",
                "Guest",
                "Guest Pupil",
            ]),
            left_values: strings(&["left", "leaver", "former", "past", "inactive", "L", "no"]),
            columns: RegisterColumns::default(),
            consent_columns: [
                "Photo consent",
                "Photograph consent",
                "Photography consent",
                "Photographs consent",
                "Media consent",
                "Image consent",
                "Consent: Photographs",
                "Consent: Photography",
                "Consent: Media",
                "Photograph Student",
                "Photographs",
            ]
            .iter()
            .map(|h| (h.to_string(), vec![ALL_CHANNELS.to_string()]))
            .collect(),
        }
    }
}

/// `consentgate watch`: the long-running service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Watch {
    /// Look through staging this often even without a file-system event (events can be missed,
    /// e.g. on network shares).
    pub rescan_seconds: u64,
}

impl Default for Watch {
    fn default() -> Self {
        Watch { rescan_seconds: 30 }
    }
}

/// The review page (`consentgate serve`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Serve {
    /// SHA-256 (hex) of the shared login token of a workspace made before accounts. Only the
    /// hash is kept, so a copy of this file does not let anyone in. Refused once an account exists.
    pub login_token_sha256: Option<String>,
    /// A review-page session unused for this many minutes ends.
    pub session_idle_minutes: u64,
}

impl Default for Serve {
    fn default() -> Self {
        Serve {
            login_token_sha256: None,
            session_idle_minutes: 30,
        }
    }
}

/// What an unknown face (one that matches no enrolled student) does to a photo.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnknownFaces {
    /// Hold for a moderator: the face may be a student who is not enrolled.
    Review,
    /// Release: every student is enrolled, so an unknown face is a parent, visitor or member of staff.
    Allow,
}

/// What a face too small to recognise does to a photo (recognition cannot clear it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmallFaces {
    /// Hold for a moderator (or blur it, with `action = "redact"`): it may be a child on the
    /// no-publish list.
    Review,
    /// Judge it like any face (its match is unreliable; use only where no child may be hidden).
    Allow,
}

/// Where the face detector looks at a large photo at its own resolution, for faces too small
/// for the reduced passes (the back rows of a class photo, a crowd).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CloseLookSetting {
    /// Only around candidates a first look at half size sees (same recall on the crowds bench,
    /// a fraction of the cost on photos of a few people).
    Cued,
    /// Over the whole picture, in tiles (the most thorough and slowest).
    Everywhere,
}

impl Faces {
    /// The face engine's options for this configuration. Every engine that numbers a photo's
    /// faces (the gate, face attribution in review) is built from these, so face 3 of a held
    /// photo is the same face for the moderator as it was for the gate.
    pub fn engine_options(&self) -> crate::faces::EngineOptions {
        crate::faces::EngineOptions {
            close_look: match self.close_look {
                CloseLookSetting::Cued => crate::faces::CloseLook::CUED,
                CloseLookSetting::Everywhere => crate::faces::CloseLook::Everywhere,
            },
            ..crate::faces::EngineOptions::default()
        }
    }
}

/// What happens to a face that may not be published (no-publish list, no valid consent).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaceAction {
    Hold,
    /// Blur those faces irreversibly and release the rest of the photo.
    Redact,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faces {
    /// Look for faces at all.
    pub enabled: bool,
    /// A face this close (embedding distance) to a student's template is that student.
    pub match_distance: f32,
    /// Closer than this but not a match: ambiguous, held for review.
    pub ambiguous_distance: f32,
    pub unknown_faces: UnknownFaces,
    pub action: FaceAction,
    /// Faces too small to recognise: held for review (or blurred) or judged like any face.
    pub small_faces: SmallFaces,
    /// Where large photos are looked at at their own resolution (faces under ~56 px).
    pub close_look: CloseLookSetting,
    /// Perceptual-hash distance (PDQ, 0-256) at which a photo counts as a re-upload of a rejected one.
    pub reupload_distance: u32,
}

impl Default for Faces {
    fn default() -> Self {
        Faces {
            enabled: true,
            match_distance: 0.55,
            ambiguous_distance: 0.65,
            unknown_faces: UnknownFaces::Review,
            action: FaceAction::Hold,
            small_faces: SmallFaces::Review,
            close_look: CloseLookSetting::Cued,
            reupload_distance: 31,
        }
    }
}

/// Text in the picture (certificates, badges, bibs, labels, boards).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Text {
    /// Read text in the picture and hold photos where it names a student.
    pub enabled: bool,
}

impl Default for Text {
    fn default() -> Self {
        Text { enabled: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    /// The publishing channels the school uses; `run --channel` must name one of them.
    pub channels: Vec<String>,
    /// A file is taken only when its size and modification time have not changed for this long.
    pub settle_seconds: u64,
    /// Hold photos whose EXIF names a camera that is not in `consentgate devices list`.
    pub require_school_devices: bool,
    /// Also read the photo's file name as a caption.
    pub check_file_names: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest picture accepted, in megapixels (decompression-bomb guard).
    pub max_megapixels: u64,
    /// Largest width or height accepted, in pixels.
    pub max_dimension: u32,
    /// Largest file accepted, in megabytes.
    pub max_file_megabytes: u64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            channels: ["website", "social", "newsletter", "prospectus", "press"]
                .map(String::from)
                .to_vec(),
            settle_seconds: 5,
            require_school_devices: false,
            check_file_names: true,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_megapixels: 100,
            max_dimension: 30_000,
            max_file_megabytes: 200,
        }
    }
}

impl Limits {
    pub fn to_format_limits(&self) -> crate::formats::Limits {
        let max_pixels = self.max_megapixels.saturating_mul(1_000_000);
        crate::formats::Limits {
            max_pixels,
            max_dimension: self.max_dimension,
            // RGBA at 8 bits per channel plus decoder working space.
            max_alloc: max_pixels.saturating_mul(8),
            ..crate::formats::Limits::default()
        }
    }
}

impl Config {
    /// The limits and output choices `formats::clean` works with.
    pub fn format_limits(&self) -> crate::formats::Limits {
        crate::formats::Limits {
            heic_output: self.formats.heic_output,
            ..self.limits.to_format_limits()
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(h) = &c.serve.login_token_sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err("[serve] login_token_sha256 must be 64 hex digits; make a new token with `consentgate serve --new-token`".into());
            }
        }
        if !(1..=720).contains(&c.serve.session_idle_minutes) {
            return Err(format!(
                "[serve] session_idle_minutes must be 1 to 720 (found {})",
                c.serve.session_idle_minutes
            ));
        }
        c.check_register()?;
        let f = &c.faces;
        // Inverted bands would silently turn "might be this child" into "nobody": refuse them.
        if !(0.0..=2.0).contains(&f.match_distance) || f.ambiguous_distance < f.match_distance {
            return Err(format!(
                "[faces] needs 0 <= match_distance <= ambiguous_distance (found {} and {})",
                f.match_distance, f.ambiguous_distance
            ));
        }
        Ok(c)
    }

    /// A mapping to a channel the school does not use, or a value that means both yes and no,
    /// would record consent nobody gave: refuse it.
    fn check_register(&self) -> Result<(), String> {
        let r = &self.register;
        for (column, channels) in &r.consent_columns {
            if channels.is_empty() {
                return Err(format!(
                    "[register] consent_columns: {column:?} maps to no channel; give it [\"all\"] or channel names, or remove it"
                ));
            }
            for ch in channels {
                if ch != ALL_CHANNELS && !self.gate.channels.contains(ch) {
                    return Err(format!(
                        "[register] consent_columns: {column:?} maps to channel {ch:?}, which is not in [gate] channels; use \"all\" or one of: {}",
                        self.gate.channels.join(", ")
                    ));
                }
            }
        }
        let key = |v: &str| -> String {
            v.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        for (a, an, b, bn) in [
            (&r.yes_values, "yes_values", &r.no_values, "no_values"),
            (
                &r.on_roll_values,
                "on_roll_values",
                &r.left_values,
                "left_values",
            ),
        ] {
            if let Some(both) = a.iter().find(|v| b.iter().any(|w| key(w) == key(v))) {
                return Err(format!(
                    "[register] {both:?} is in both {an} and {bn}; keep it in one"
                ));
            }
        }
        Ok(())
    }

    /// The file `init` writes: every key present, with its default and a comment saying what it does.
    pub fn documented_default() -> String {
        let d = Config::default();
        let channels = d
            .gate
            .channels
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let second = format!(
            "[{}]",
            d.review
                .second_opinion
                .iter()
                .map(|k| serde_json::to_string(k).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        );
        format!(
            r#"# consentgate configuration. Every key is shown with its default value.
# Edit and save; the next `consentgate run` uses it, and a running `consentgate watch` reloads it.

[gate]
# The publishing channels the school uses. `consentgate run --channel NAME` must name one of these,
# and register CSV columns `consent_NAME` record each student's consent for it.
channels = [{channels}]

# A photo is taken from staging only when its size and modification time have not changed
# for this many seconds (so half-copied files are never processed).
settle_seconds = {settle}

# School policy: photos must be taken on school devices. When true, a photo whose EXIF names a
# camera that is not registered (`consentgate devices add`) is held for review, and so is a
# photo that names no camera at all.
require_school_devices = {devices}

# Also treat the photo's file name as a caption (e.g. "olivia-smith-100m.jpg" is held).
check_file_names = {names}

[faces]
# Find faces and match them against enrolled students (`consentgate register enrol`).
enabled = {faces_enabled}

# Embedding distance bands (dlib ResNet, smaller = more alike): up to match_distance the face IS
# the student; up to ambiguous_distance it MIGHT be (held for review); beyond, no match.
# Chosen from `consentgate eval faces` measurements; see README "Faces".
match_distance = {match_d}
ambiguous_distance = {amb_d}

# A face that matches nobody: "review" holds the photo for a moderator (a student who is not
# enrolled looks like nobody); "allow" releases it (use only when every student is enrolled).
unknown_faces = "{unknown}"

# A face that may not be published (no-publish list, no valid consent for the channel, left the
# school): "hold" the photo, or "redact" (blur those faces irreversibly and release the rest).
action = "{action}"

# A face too small for recognition to tell who it is (under {small_px} px tall, e.g. the back rows
# of a class photo): "review" holds the photo (with action = "redact": blurs those faces), since
# any of them may be a child on the no-publish list; "allow" judges it like any other face.
small_faces = "{small}"

# Where a large photo is looked at at its own resolution for small faces: "cued" only around
# candidates a quick first look sees, whose own small faces count too (more thorough on the
# crowds bench, much faster on photos of a few people); "everywhere" over the whole picture.
close_look = "{close_look}"

# Re-upload detection: a photo within this PDQ distance (of 256 bits) of a rejected photo, or of
# its mirror image, is held. 31 is PDQ's published match threshold.
reupload_distance = {reupload}

[text]
# Read text written in the picture (certificates, name badges, lanyards, bibs, artwork labels,
# whiteboards, cakes) with the built-in OCR models and match every line against the register
# like a caption: a photo whose pictured text names a student is held (with `action = "redact"`
# above, the named text is blurred instead when that is the only reason). Off, a certificate
# "awarded to" a student is released.
enabled = {text_enabled}

[limits]
# Decompression-bomb guards: pictures larger than this are held, not decoded.
max_megapixels = {mp}
max_dimension = {dim}
# Files larger than this many megabytes are held without being read into memory.
max_file_megabytes = {mb}

[watch]
# `consentgate watch` reacts to new files at once (file-system events) and also looks through
# staging this often, in case an event was missed (network shares often send none).
rescan_seconds = {rescan}

[register]
# How `consentgate register import` reads an MIS export. Column headers and cell values match
# with case, spacing, punctuation and a "[Required]" suffix ignored. See README "The register CSV".

# Consent cells that mean granted (a date means granted until that date). An empty consent cell
# means not granted.
yes_values = {yes}
# Consent cells that mean not granted ("pending" and "requested" are not consent yet).
no_values = {no}

# Enrolment status cells that mean on roll (SIMS codes C, M, S, G included; empty is on roll)...
on_roll_values = {on_roll}
# ...and that mean the student has left (a left student is never published).
left_values = {left}

# Header spellings for each field that the built-in list (README "The register CSV") does not
# know, tried first, e.g. id = ["Pupil Ref"].
[register.columns]
id = []
first_name = []
middle_names = []
last_name = []
preferred_name = []
preferred_surname = []
nicknames = []
year = []
reg_group = []
status = []
no_publish = []

# MIS consent columns and the channels each one covers; "all" means every channel in [gate]
# channels. A column named consent_<channel> (e.g. "Consent Website") needs no entry. Add your
# MIS's column here if an import warns that a column "looks like consent but is not read".
[register.consent_columns]
{consent_columns}

[formats]
# What a HEIC/HEIF photo (iPhone, iPad) is released as: "heic" keeps it HEIC, the container
# rewritten without its metadata (lossless, the picture data byte for byte); "jpeg" converts it
# (quality 92, colour profile kept) for channels whose platforms do not take HEIC.
heic_output = "{heic_output}"

# The review page (`consentgate serve`). Moderators log in with their own accounts
# (`consentgate users add NAME --role moderator`).
[serve]
# A session unused for this many minutes ends (the moderator logs in again).
session_idle_minutes = {idle}

[review]
# Approving a photo held for any of these reasons records a first approval; the photo stays held
# until a different senior account approves it too (four eyes). Reason kinds as `--json` prints
# them; [] turns second opinions off.
second_opinion = {second}
"#,
            idle = d.serve.session_idle_minutes,
            second = second,
            settle = d.gate.settle_seconds,
            faces_enabled = d.faces.enabled,
            match_d = d.faces.match_distance,
            amb_d = d.faces.ambiguous_distance,
            unknown = if d.faces.unknown_faces == UnknownFaces::Review {
                "review"
            } else {
                "allow"
            },
            action = if d.faces.action == FaceAction::Hold {
                "hold"
            } else {
                "redact"
            },
            reupload = d.faces.reupload_distance,
            small = if d.faces.small_faces == SmallFaces::Review {
                "review"
            } else {
                "allow"
            },
            close_look = if d.faces.close_look == CloseLookSetting::Cued {
                "cued"
            } else {
                "everywhere"
            },
            small_px = crate::faces::RECOGNISABLE_FACE_PX,
            text_enabled = d.text.enabled,
            devices = d.gate.require_school_devices,
            names = d.gate.check_file_names,
            mp = d.limits.max_megapixels,
            dim = d.limits.max_dimension,
            mb = d.limits.max_file_megabytes,
            rescan = d.watch.rescan_seconds,
            yes = toml_list(&d.register.yes_values),
            no = toml_list(&d.register.no_values),
            on_roll = toml_list(&d.register.on_roll_values),
            left = toml_list(&d.register.left_values),
            consent_columns = d
                .register
                .consent_columns
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_str(k), toml_list(v)))
                .collect::<Vec<_>>()
                .join("\n"),
            heic_output = match d.formats.heic_output {
                crate::formats::HeicOutput::Heic => "heic",
                crate::formats::HeicOutput::Jpeg => "jpeg",
            },
        )
    }
}

/// A TOML basic string (quotes and backslashes escaped).
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn toml_list(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter().map(|s| toml_str(s)).collect::<Vec<_>>().join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_default_parses_to_the_defaults() {
        assert_eq!(
            Config::parse(&Config::documented_default()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn a_config_written_before_watch_existed_still_loads() {
        let old = "[gate]\nsettle_seconds = 3\n[faces]\nenabled = false\n";
        let c = Config::parse(old).unwrap();
        assert_eq!(c.watch.rescan_seconds, 30);
        assert_eq!(c.gate.settle_seconds, 3);
    }

    /// The gate and face attribution in review build their engine from these options, so the
    /// key must reach the engine (and the default is the cued close look).
    #[test]
    fn close_look_reaches_the_face_engine() {
        use crate::faces::CloseLook;
        let d = Config::default().faces.engine_options();
        assert_eq!(d.close_look, CloseLook::CUED);
        assert_eq!(d, crate::faces::EngineOptions::default());
        let c = Config::parse("[faces]\nclose_look = \"everywhere\"\n").unwrap();
        assert_eq!(c.faces.engine_options().close_look, CloseLook::Everywhere);
        assert!(Config::parse("[faces]\nclose_look = \"never\"\n").is_err());
    }

    #[test]
    fn inverted_face_bands_are_refused() {
        let err =
            Config::parse("[faces]\nmatch_distance = 0.7\nambiguous_distance = 0.5\n").unwrap_err();
        assert!(err.contains("match_distance"), "{err}");
    }

    #[test]
    fn a_malformed_login_token_hash_is_refused_and_none_is_fine() {
        assert!(Config::parse("[serve]\nlogin_token_sha256 = \"abc\"\n").is_err());
        let ok = format!("[serve]\nlogin_token_sha256 = \"{}\"\n", "ab".repeat(32));
        assert!(Config::parse(&ok)
            .unwrap()
            .serve
            .login_token_sha256
            .is_some());
        assert_eq!(Config::parse("").unwrap().serve.login_token_sha256, None);
    }

    #[test]
    fn register_mappings_to_unknown_channels_or_contradictory_values_are_refused() {
        let err = Config::parse("[register.consent_columns]\n\"Photo OK\" = [\"webiste\"]\n")
            .unwrap_err();
        assert!(
            err.contains("webiste") && err.contains("[gate] channels"),
            "{err}"
        );
        let err = Config::parse("[register]\nno_values = [\"Granted\"]\n").unwrap_err();
        assert!(
            err.contains("yes_values") && err.contains("no_values"),
            "{err}"
        );
        let err = Config::parse("[register]\nconsent_column = {}\n").unwrap_err();
        assert!(err.contains("consent_column"), "{err}");
        let ok =
            Config::parse("[register.consent_columns]\n\"Photo OK\" = [\"website\"]\n").unwrap();
        assert_eq!(
            ok.register.consent_columns.len(),
            1,
            "a map replaces the defaults"
        );
    }

    #[test]
    fn unknown_keys_are_refused_so_typos_are_not_silently_ignored() {
        let err = Config::parse("[gate]\nrequire_school_device = true\n").unwrap_err();
        assert!(err.contains("require_school_device"), "{err}");
    }
}
