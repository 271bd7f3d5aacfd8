//! A real workspace driven through the real binary, and real generated images.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_consentgate");

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A fresh workspace with files taken as soon as they are dropped (settle time 0). `init` made
/// its senior account `head`; its password ([`password`]) is set with the printed one-time code
/// the first time a command needs it.
pub struct Ws {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    /// `head`'s one-time set-up code, until it is used.
    head_code: std::cell::RefCell<Option<String>>,
}

/// The test password of account `name`.
pub fn password(name: &str) -> String {
    format!("{name} password 1")
}

/// The one-time set-up code in `init`/`users add`/`users reset` output.
pub fn setup_code(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find(|l| l.contains("one-time set-up code"))
        .unwrap_or_else(|| panic!("no set-up code in {text}"));
    line.rsplit(": ").next().unwrap().trim().to_string()
}

impl Ws {
    pub fn new() -> Ws {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ws");
        let out = Command::new(BIN)
            .arg("init")
            .arg(&root)
            .args(["--senior", "head"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "init failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ws = Ws {
            _tmp: tmp,
            root,
            head_code: std::cell::RefCell::new(Some(setup_code(&out.stdout))),
        };
        ws.set_config("gate.settle_seconds", 0);
        ws
    }

    /// Set `head`'s password with its one-time code (once).
    pub fn head_ready(&self) {
        let code = self.head_code.borrow_mut().take();
        if let Some(code) = code {
            self.setup_user("head", &code);
        }
    }

    /// `users setup NAME` with `code` and the test password.
    pub fn setup_user(&self, name: &str, code: &str) {
        let out = self.cg_stdin(
            &["users", "setup", name, "--password-stdin"],
            &format!("{code}\n{}\n", password(name)),
        );
        assert!(
            out.status.success(),
            "users setup {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Make account `name` with `role` (as `head`) and set its test password. Returns the
    /// one-time code's output already used.
    pub fn add_user(&self, name: &str, role: &str) {
        let out = self.cg(&["users", "add", name, "--role", role]);
        assert!(
            out.status.success(),
            "users add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.setup_user(name, &setup_code(&out.stdout));
    }

    /// The binary with `args` and `stdin` as its standard input, no account added.
    pub fn cg_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.cg_with(args, Some(stdin), |_| {})
    }

    /// The binary with `args`; `configure` may add environment variables. `review` and `users`
    /// commands (but `users setup`) are run as `--as NAME` (default `head`) with that account's
    /// test password on standard input, unless `stdin` is given.
    pub fn cg_with(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        configure: impl FnOnce(&mut Command),
    ) -> Output {
        use std::io::Write;
        let (mut cmd, input) = self.command(args, stdin);
        configure(&mut cmd);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let _ = pipe.write_all(input.as_bytes());
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    /// The command [`Ws::cg_with`] runs, and what to write on its standard input.
    pub fn command(&self, args: &[&str], stdin: Option<&str>) -> (Command, String) {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut input = stdin.map(str::to_string);
        // The subcommand: the first argument that is neither an option nor `--as`'s value.
        let mut words = args
            .iter()
            .enumerate()
            .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--as"));
        let command = words.next().map(|(_, a)| *a);
        let sub = words.next().map(|(_, a)| *a);
        let authed = matches!(command, Some("review") | Some("users")) && sub != Some("setup");
        if authed && stdin.is_none() {
            let name = match args.iter().position(|a| *a == "--as") {
                Some(i) => args[i + 1].to_string(),
                None => {
                    full.splice(0..0, ["--as".to_string(), "head".to_string()]);
                    "head".to_string()
                }
            };
            if name == "head" {
                self.head_ready();
            }
            full.push("--password-stdin".into());
            input = Some(format!("{}\n", password(&name)));
        }
        let mut cmd = Command::new(BIN);
        cmd.arg("-w").arg(&self.root).args(&full);
        (cmd, input.unwrap_or_default())
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
        self.cg_with(args, None, |_| {})
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
