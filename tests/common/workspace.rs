//! A real workspace driven through the real binary, and real generated images.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_consentgate");

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fresh workspace with files taken as soon as they are dropped (settle time 0).
pub struct Ws {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Ws {
    pub fn new() -> Ws {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ws");
        let out = Command::new(BIN).arg("init").arg(&root).output().unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ws = Ws { _tmp: tmp, root };
        ws.set_config("gate.settle_seconds", 0);
        ws
    }

    /// Set one key of `consentgate.toml` (`"section.key"`), through a TOML editor that keeps
    /// everything else, as a school's IT technician would edit it.
    pub fn set_config(&self, key: &str, value: impl Into<toml_edit::Value>) {
        let cfg = self.root.join("consentgate.toml");
        let mut doc: toml_edit::DocumentMut =
            std::fs::read_to_string(&cfg).unwrap().parse().unwrap();
        let (section, name) = key.split_once('.').expect("section.key");
        assert!(
            doc.get(section).and_then(|t| t.get(name)).is_some(),
            "{key} is not in the documented config"
        );
        doc[section][name] = toml_edit::value(value);
        std::fs::write(&cfg, doc.to_string()).unwrap();
    }

    pub fn with_demo_register() -> Ws {
        let ws = Ws::new();
        let out = ws.cg(&[
            "register",
            "import",
            fixtures().join("demo/register.csv").to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ws
    }

    pub fn cg(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("-w")
            .arg(&self.root)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    pub fn drop_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.staging().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// `run --json`: the per-photo objects and the summary.
    pub fn run_json(&self, channel: &str) -> (Vec<serde_json::Value>, serde_json::Value, i32) {
        let out = self.cg(&["run", "--channel", channel, "--json"]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let mut lines: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect();
        let summary = lines.pop().expect("a summary line");
        assert!(
            summary.get("summary").is_some(),
            "last line is the summary: {summary}"
        );
        (
            lines,
            summary["summary"].clone(),
            out.status.code().unwrap_or(-1),
        )
    }

    pub fn files_under(&self, sub: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = walkdir::WalkDir::new(self.root.join(sub))
            .into_iter()
            .flatten()
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.into_path())
            .collect();
        v.sort();
        v
    }
}

pub fn outcome_for<'a>(lines: &'a [serde_json::Value], file: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["file"] == file)
        .unwrap_or_else(|| panic!("no outcome for {file} in {lines:#?}"))
}

/// A real JPEG of the given size with a deterministic pattern (no metadata).
pub fn jpeg(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(3).wrapping_add(seed),
            (y as u8).wrapping_mul(5),
            ((x + y) as u8) ^ seed,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}
