//! The command line (binary only): clap definitions, handlers, and human or JSON output. It only
//! translates arguments into library calls and results into text; every rule, write and audit row
//! is the library's. Exit codes: 0 all released, 1 something held, 2 error.

mod demo;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use chrono::{Local, Utc};
use clap::{Args, Parser, Subcommand};

use consentgate::accounts::{self, Actor};
use consentgate::gate::{self, Decision, Outcome, PhotoOutcome, Progress, RunOptions, Summary};
use consentgate::journal;
use consentgate::register::{self, SchoolDevice};
use consentgate::review;
use consentgate::workspace::Workspace;

#[derive(Parser, Debug)]
#[command(
    name = "consentgate",
    version,
    about = "A school's photo gate: strips identifying metadata, holds photos whose captions name a student, releases the rest to the outbox."
)]
pub struct Cli {
    /// The workspace folder (made by `consentgate init`).
    #[arg(
        short = 'w',
        long,
        global = true,
        env = "CONSENTGATE_WORKSPACE",
        default_value = "."
    )]
    pub workspace: PathBuf,
    /// Who is acting: for `review` and `users`, your account's name (you are asked for its
    /// password); elsewhere a name for the audit trail (default: the logged-in user).
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub actor: Option<String>,
    /// Read the password (for `users setup`: the one-time code, then the new password), one per
    /// line, from standard input instead of asking on the terminal (scripts, tests).
    #[arg(long, global = true)]
    pub password_stdin: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a workspace: config, staging/, outbox/, held/, the register database, and its first
    /// (senior) account, whose one-time set-up code is printed.
    Init {
        dir: PathBuf,
        /// The first senior account's name (default: your login name).
        #[arg(long, value_name = "NAME")]
        senior: Option<String>,
    },
    /// Accounts: who may review (moderator), who manages and gives second opinions (senior).
    #[command(subcommand)]
    Users(UsersCmd),
    /// The register: students, consent, enrolment.
    #[command(subcommand)]
    Register(RegisterCmd),
    /// School-owned cameras (policy: no personal devices).
    #[command(subcommand)]
    Devices(DevicesCmd),
    /// Gate every photo in staging for one channel.
    Run {
        #[arg(long)]
        channel: String,
        /// JSON Lines: one object per photo, then a summary object.
        #[arg(long)]
        json: bool,
    },
    /// Keep staging gated: each photo is gated once it has settled, until SIGTERM or Ctrl-C.
    /// Logs to stderr (RUST_LOG=debug for more). One gate per workspace: a second is refused.
    Watch {
        #[arg(long)]
        channel: String,
        /// Print a systemd unit that runs this watch as a service, and exit.
        #[arg(long)]
        systemd_unit: bool,
        /// With --systemd-unit: the account the service runs as (it must own the workspace).
        #[arg(long, requires = "systemd_unit")]
        user: Option<String>,
    },
    /// The workspace at a glance: staging, held (oldest, overdue?), released, last run, running gate.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Explain what the gate would do with one file. Touches nothing.
    Check {
        file: PathBuf,
        /// Judge this caption instead of the file's sidecar.
        #[arg(long)]
        caption: Option<String>,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        json: bool,
    },
    /// The moderator's queue of held photos.
    #[command(subcommand)]
    Review(ReviewCmd),
    /// Print the audit trail, or verify that it has not been tampered with.
    Audit(AuditArgs),
    /// The moderator's review page in a browser (this computer only, unless --bind says otherwise).
    Serve {
        /// Port to listen on (0: any free port; the address is printed).
        #[arg(long, default_value_t = 8470)]
        port: u16,
        /// Address to listen on. Anything but 127.0.0.1 or ::1 shows children's photos to the network.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Make a new login token (the old one stops working), print it once and exit.
        #[arg(long)]
        new_token: bool,
    },
    /// Measure the face stage on a labelled folder, to choose thresholds from numbers.
    #[command(subcommand)]
    Eval(EvalCmd),
    /// Build a throwaway workspace from the bundled samples, run the gate and show what happened.
    Demo {
        /// Keep the demo workspace here instead of a temporary folder.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Where the sample register and photos are.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo"))]
        fixtures: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegisterCmd {
    /// Import (upsert) students from an MIS CSV export.
    Import {
        file: PathBuf,
        /// Show what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List every student.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one student with consent per channel.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Enrol a student's face from one or more photos (exactly one face each). Only templates are kept.
    Enrol {
        id: String,
        #[arg(required = true)]
        photos: Vec<PathBuf>,
    },
    /// Enrol from a folder of photos named by student id (MIS photo export: A1001.jpg).
    EnrolDir { dir: PathBuf },
    /// Erase a student's biometric data (every face template).
    Forget { id: String },
    /// Withdraw a student's consent for a channel and print what to take down.
    Withdraw {
        id: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EvalCmd {
    /// DIR/<person>/<photo>: detection recall (with DIR/faces.tsv) and true/false match rates.
    Faces {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Also shrink each labelled face to these heights (px, comma-separated) and report
        /// detection recall and recognition by size, e.g. `--sizes 16,20,24,32,40,56,80`.
        #[arg(long, value_delimiter = ',')]
        sizes: Vec<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum DevicesCmd {
    /// Register a school-owned camera or tablet.
    Add {
        #[arg(long)]
        make: String,
        #[arg(long)]
        model: String,
        #[arg(long, default_value = "")]
        serial: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List registered devices.
    List,
}

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Make an account; prints its one-time set-up code (senior only).
    Add {
        name: String,
        #[arg(long, value_parser = ["staff", "moderator", "senior"])]
        role: String,
    },
    /// Every account, its role and state (senior only).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable an account: it cannot log in, its sessions end at once (senior only).
    Disable { name: String },
    /// Reset an account's password: prints a new one-time set-up code, ends its sessions (senior only).
    Reset { name: String },
    /// Choose your password with your one-time set-up code.
    Setup { name: String },
    /// Review-page sessions that are live (senior only).
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// End a review-page session by its number (senior only).
    Revoke { session: i64 },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// Held photos, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One photo's record and every reason.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Release a held photo's clean copy.
    Approve {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Blur every face not cleared for the channel and release the result (the original stays held).
    Redact {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Refuse a held photo.
    Reject {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Mark a held photo "ask a senior", with a note (it stays held).
    Ask {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Replace a held photo's caption; it is checked again and travels only if it names nobody.
    Caption {
        id: i64,
        #[arg(long)]
        text: String,
        #[arg(long)]
        note: String,
    },
    /// "Face N is student ID": adds a face template from it and re-checks the photo's faces.
    Face {
        id: i64,
        /// The face's number, as `review show` lists them (from 1).
        face: usize,
        student: String,
        #[arg(long)]
        note: String,
    },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub verify: Option<AuditCmd>,
    /// Only entries about this subject, e.g. "photo #3", a student id, or "user:NAME" (what was
    /// done to that account and everything it did).
    #[arg(long)]
    pub subject: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute the hash chain and report the first tampered row, if any.
    Verify,
}

/// Entry point used by `main`: parse, run, map the outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Watch { .. } | Command::Serve { .. }) {
        restore_sigpipe();
    }
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A printing command whose reader went away (`review list | head -1`) ends quietly, as every
/// Unix tool does, instead of panicking in `println!` (Rust ignores SIGPIPE by default). Not for
/// the long-running `watch` and `serve`, which must survive a log reader going away.
fn restore_sigpipe() {
    // SAFETY: called once at start-up, before any other thread exists; it only resets one
    // signal's disposition to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn os_user() -> String {
    std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(whoami::username)
}

/// Run a parsed command; returns the exit code.
pub fn execute(cli: Cli) -> Result<u8> {
    let actor = cli.actor.clone().unwrap_or_else(os_user);
    let open = || Workspace::open(&cli.workspace).map_err(anyhow::Error::from);
    match cli.command {
        Command::Init { dir, senior } => {
            let ws = Workspace::init(&dir, &actor)?;
            println!("Created a consentgate workspace in {}", dir.display());
            println!(
                "  config   {}",
                ws.root.join(consentgate::workspace::CONFIG_FILE).display()
            );
            println!("  drop photos into {}", ws.staging().display());
            let senior = senior.unwrap_or_else(os_user);
            let code = accounts::add(
                &mut ws.db()?,
                &senior,
                accounts::Role::Senior,
                &Actor::Unverified(actor.clone()),
            )?;
            print_setup_code(&ws, &code, "Senior account");
            println!(
                "Next: consentgate -w {} register import students.csv",
                dir.display()
            );
            Ok(0)
        }
        Command::Users(cmd) => {
            let mut secrets = Secrets::new(cli.password_stdin);
            users_cmd(&open()?, cmd, cli.actor.as_deref(), &mut secrets)
        }
        Command::Register(cmd) => register_cmd(&open()?, cmd, &actor),
        Command::Devices(cmd) => devices_cmd(&open()?, cmd, &actor),
        Command::Run { channel, json } => {
            let ws = open()?;
            let (_, summary) = run_and_print(&ws, &channel, &actor, json)?;
            Ok(summary.exit_code())
        }
        Command::Watch {
            channel,
            systemd_unit,
            user,
        } => {
            let ws = open()?;
            if !ws.config.gate.channels.contains(&channel) {
                bail!(gate::GateError::UnknownChannel(
                    channel,
                    ws.config.gate.channels.join(", ")
                ));
            }
            let root = std::fs::canonicalize(&ws.root)
                .with_context(|| format!("cannot resolve {}", ws.root.display()))?;
            if systemd_unit {
                let user = user.unwrap_or_else(os_user);
                let unit = consentgate::service::systemd_unit(
                    &consentgate::watch::current_exe(),
                    &root,
                    &channel,
                    &user,
                )?;
                print!("{unit}");
                return Ok(0);
            }
            init_logging();
            let stop = consentgate::watch::stop_on_signals()?;
            let opts = consentgate::watch::WatchOptions {
                channel: &channel,
                actor: &actor,
            };
            consentgate::watch::watch(&root, &opts, &stop)?;
            Ok(0)
        }
        Command::Status { json } => {
            let ws = open()?;
            let s = consentgate::status::status(&ws)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print_status(&mut std::io::stdout().lock(), &ws, &s)?;
            }
            Ok(0)
        }
        Command::Check {
            file,
            caption,
            channel,
            json,
        } => {
            let ws = open()?;
            let conn = ws.db_read_only()?;
            let ctx = gate::Context::from_workspace(&ws, &conn, &channel)?;
            let (a, name) = gate::check_file(&ctx, &file, caption.as_deref())?;
            let held = a.is_held();
            let outcome = PhotoOutcome {
                file: name,
                outcome: Outcome::Checked { held },
                outbox: None,
                id: None,
                reasons: a.reasons().to_vec(),
                faces: a.faces,
                texts: a.texts,
                removed: a.cleaned.map(|c| c.removed).unwrap_or_default(),
            };
            if json {
                println!("{}", serde_json::to_string(&outcome)?);
            } else {
                print_outcome(&mut std::io::stdout(), &outcome)?;
            }
            Ok(u8::from(held))
        }
        Command::Review(cmd) => {
            let ws = open()?;
            let mut secrets = Secrets::new(cli.password_stdin);
            let who = cli_actor(&ws, cli.actor.as_deref(), &mut secrets)?;
            review_cmd(&ws, cmd, &who)
        }
        Command::Audit(args) => audit_cmd(&open()?, args),
        Command::Serve {
            port,
            bind,
            new_token,
        } => serve_cmd(&open()?, port, bind, new_token, &actor),
        Command::Eval(EvalCmd::Faces { dir, json, sizes }) => {
            eval_faces(&cli.workspace, &dir, json, &sizes)
        }
        Command::Demo { dir, fixtures } => demo::run(dir.as_deref(), &fixtures, &actor),
    }
}

/// Progress on a terminal: a bar on stderr (silent when piped or with --json), and the stop flag
/// SIGTERM/Ctrl-C set: photos in hand finish, no new one starts.
struct Bar(indicatif::ProgressBar, Option<Arc<AtomicBool>>);

impl Progress for Bar {
    fn start(&self, total: usize) {
        self.0.set_length(total as u64);
    }
    fn photo_done(&self, _o: &PhotoOutcome) {
        self.0.inc(1);
    }
    fn should_stop(&self) -> bool {
        self.1.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// Timestamped log lines on stderr (the system journal under systemd). `RUST_LOG` adjusts.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Run the gate and print per-photo lines and the summary. Shared by `run` and `demo`.
pub fn run_and_print(
    ws: &Workspace,
    channel: &str,
    actor: &str,
    json: bool,
) -> Result<(Vec<PhotoOutcome>, Summary)> {
    let bar = if !json && std::io::stderr().is_terminal() {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} gating {pos}/{len} photos [{bar:30}] {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Without handlers a signal would kill the run mid-photo (safe, thanks to the journal, but
    // the next run would have to finish it); with them, the photos in hand finish first.
    let stop = consentgate::watch::stop_on_signals().ok();
    let (outcomes, summary) =
        gate::run(ws, &RunOptions { channel, actor }, &Bar(bar.clone(), stop))?;
    bar.finish_and_clear();
    if summary.not_started > 0 {
        eprintln!(
            "stopped: {} photo(s) were not started and stay in staging; run again to gate them",
            summary.not_started
        );
    }
    let mut out = std::io::stdout().lock();
    if json {
        for o in &outcomes {
            writeln!(out, "{}", serde_json::to_string(o)?)?;
        }
        writeln!(out, "{}", serde_json::json!({ "summary": summary }))?;
    } else {
        for o in &outcomes {
            print_outcome(&mut out, o)?;
        }
        print_summary(&mut out, channel, &summary)?;
    }
    Ok((outcomes, summary))
}

fn print_outcome(out: &mut impl Write, o: &PhotoOutcome) -> Result<()> {
    match o.decision() {
        Decision::Released => {
            let dest = o.outbox.as_deref().unwrap_or("(check only)");
            writeln!(out, "  released  {}  ->  {dest}", o.file)?;
            if !o.removed.is_empty() {
                writeln!(out, "            removed: {}", o.removed.join(", "))?;
            }
        }
        Decision::Held => {
            let id = o.id.map(|i| format!("#{i}")).unwrap_or_default();
            writeln!(out, "  HELD {id:<5}{}", o.file)?;
            for r in &o.reasons {
                writeln!(out, "            - {}: {}", r.kind.label(), r.detail)?;
            }
        }
        Decision::LeftInStaging => writeln!(out, "  left      {}", o.file)?,
    }
    if !o.faces.is_empty() {
        let named: Vec<String> = o.faces.iter().filter_map(|f| f.student.clone()).collect();
        let who = if named.is_empty() {
            String::new()
        } else {
            format!(" ({})", named.join(", "))
        };
        writeln!(out, "            faces: {}{who}", o.faces.len())?;
    }
    let explained = o.decision() != Decision::Held
        || matches!(
            o.outcome,
            Outcome::AlreadyProcessed { .. } | Outcome::Checked { .. }
        );
    if let (true, Some(n)) = (explained, o.note()) {
        writeln!(out, "            ({n})")?;
    }
    Ok(())
}

fn print_summary(out: &mut impl Write, channel: &str, s: &Summary) -> Result<()> {
    writeln!(out)?;
    writeln!(out, "Summary for channel {channel}")?;
    writeln!(out, "  {:<32}{:>6}", "released", s.released)?;
    writeln!(out, "  {:<32}{:>6}", "held for review", s.held)?;
    for (reason, n) in &s.held_by_reason {
        writeln!(out, "    {:<30}{:>6}", reason, n)?;
    }
    if s.waiting > 0 {
        writeln!(
            out,
            "  {:<32}{:>6}",
            "still being written (left)", s.waiting
        )?;
    }
    if s.errors > 0 {
        writeln!(out, "  {:<32}{:>6}", "errors (left in staging)", s.errors)?;
    }
    if s.already_processed > 0 {
        writeln!(
            out,
            "  {:<32}{:>6}",
            "already processed", s.already_processed
        )?;
    }
    if s.recovered > 0 {
        writeln!(
            out,
            "  {:<32}{:>6}",
            "finished from interrupted run", s.recovered
        )?;
    }
    writeln!(
        out,
        "  {:<32}{:>6.2} s ({:.1} images/s)",
        "time", s.seconds, s.images_per_second
    )?;
    if s.held > 0 {
        writeln!(
            out,
            "Held photos wait for a moderator: consentgate --as NAME review list"
        )?;
    }
    Ok(())
}

fn print_status(
    out: &mut impl Write,
    ws: &Workspace,
    s: &consentgate::status::Status,
) -> Result<()> {
    let local = |t: &chrono::DateTime<Utc>| t.with_timezone(&Local).format("%a %Y-%m-%d %H:%M");
    writeln!(out, "Workspace {}", ws.root.display())?;
    writeln!(
        out,
        "  staging     {} waiting to be gated, {} still being copied",
        s.staging_ready, s.staging_settling
    )?;
    if s.pending > 0 && s.running.is_some() {
        writeln!(
            out,
            "  in hand     {} (being recorded by the running gate)",
            s.pending
        )?;
    } else if s.pending > 0 {
        writeln!(
            out,
            "  unfinished  {} (left by a run that was killed; the next run or watch finishes them)",
            s.pending
        )?;
    }
    match &s.oldest_held {
        None => writeln!(out, "  held        {} waiting for a moderator", s.held)?,
        Some(o) => writeln!(
            out,
            "  held        {} waiting for a moderator; oldest #{} ({}) for {:.1} h, respond by {}{}",
            s.held,
            o.id,
            o.channel,
            o.age_hours,
            local(&o.respond_by),
            if o.overdue { "  OVERDUE" } else { "" }
        )?,
    }
    let released: Vec<String> = s.released.iter().map(|(c, n)| format!("{c} {n}")).collect();
    writeln!(
        out,
        "  released    {}",
        if released.is_empty() {
            "none yet".to_string()
        } else {
            released.join(", ")
        }
    )?;
    if s.rejected > 0 {
        writeln!(out, "  rejected    {}", s.rejected)?;
    }
    match &s.last_run {
        None => writeln!(out, "  last run    never")?,
        Some(l) => {
            let r = &l.run;
            let last = r
                .last_pass_at
                .map(|t| format!(", last pass {}", local(&t)))
                .unwrap_or_default();
            writeln!(
                out,
                "  last run    {} for {} by {}, started {}{last}: {} released, {} held, {} left in staging — {}",
                r.command, r.channel, r.actor, local(&r.started_at), r.released, r.held, r.left_in_staging, l.state
            )?;
        }
    }
    match &s.running {
        Some(h) => writeln!(
            out,
            "  gate now    {} for {} (pid {}, since {} by {} on {})",
            h.command,
            h.channel,
            h.pid,
            local(&h.since),
            h.user,
            h.host
        )?,
        None => writeln!(
            out,
            "  gate now    none: photos in staging wait for `consentgate run` or `consentgate watch`"
        )?,
    }
    Ok(())
}

fn register_cmd(ws: &Workspace, cmd: RegisterCmd, actor: &str) -> Result<u8> {
    let today = Local::now().date_naive();
    match cmd {
        RegisterCmd::Import { file, dry_run } => {
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let mut conn = ws.db()?;
            let options = register::ImportOptions {
                channels: &ws.config.gate.channels,
                mapping: &ws.config.register,
                dry_run,
            };
            let report = register::import_csv(&mut conn, f, &options, today, actor)?;
            println!(
                "{} {} (encoding {}): {} added, {} updated, {} unchanged",
                if dry_run {
                    "Dry run, nothing written; importing would change"
                } else {
                    "Imported"
                },
                file.display(),
                report.encoding,
                report.added.len(),
                report.updated.len(),
                report.unchanged
            );
            for (id, ch) in &report.consent_withdrawn {
                println!("  consent WITHDRAWN: {id} for {ch}  (takedown list: consentgate register withdraw {id} --channel {ch})");
                for t in journal::takedown_list(&conn, id, Some(ch))? {
                    println!(
                        "      take down {}  (published {})",
                        t.outbox_path,
                        t.published_at.map(|d| d.to_rfc3339()).unwrap_or_default()
                    );
                }
            }
            for (id, ch) in &report.consent_granted {
                println!("  consent granted: {id} for {ch}");
            }
            for ch in &report.unknown_channels {
                println!("  note: channel {ch:?} is not in consentgate.toml; add it to [gate] channels to publish to it");
            }
            // Last, and on stderr, so they are what the person importing sees.
            for w in &report.warnings {
                eprintln!("WARNING: {w}");
            }
            Ok(0)
        }
        RegisterCmd::List { json } => {
            let students = register::all_students(&ws.db()?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&students)?);
                return Ok(0);
            }
            println!(
                "{:<10} {:<28} {:<6} {:<8} {:<10} consent",
                "id", "name", "year", "status", "no-publish"
            );
            for s in &students {
                let consents: Vec<String> = s
                    .consents
                    .iter()
                    .filter(|c| c.is_valid_on(today))
                    .map(|c| c.channel.clone())
                    .collect();
                let status = if s.status == register::Status::Left {
                    "left"
                } else {
                    "on roll"
                };
                println!(
                    "{:<10} {:<28} {:<6} {:<8} {:<10} {}",
                    s.id,
                    s.display_name(),
                    s.year,
                    status,
                    if s.no_publish { "YES" } else { "" },
                    consents.join(",")
                );
            }
            println!("{} students", students.len());
            Ok(0)
        }
        RegisterCmd::Show { id, json } => {
            let conn = ws.db()?;
            let s = register::get_student(&conn, &id)?
                .ok_or_else(|| register::RegisterError::UnknownStudent(id.clone()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(0);
            }
            println!(
                "{} — {} {} {}",
                s.id, s.first_name, s.middle_names, s.last_name
            );
            if s.preferred_name.is_some() || s.preferred_surname.is_some() {
                println!("  known as     {}", s.display_name());
            }
            if !s.nicknames.is_empty() {
                println!("  nicknames    {}", s.nicknames.join(", "));
            }
            println!("  year         {}", s.year);
            println!("  reg group    {}", s.reg_group);
            println!(
                "  status       {}",
                if s.status == register::Status::Left {
                    "left"
                } else {
                    "on roll"
                }
            );
            println!(
                "  no-publish   {}",
                if s.no_publish {
                    "YES — never publish"
                } else {
                    "no"
                }
            );
            for c in &s.consents {
                let state = if c.is_valid_on(today) {
                    c.expires_on
                        .map(|e| format!("yes, until {e}"))
                        .unwrap_or_else(|| "yes".into())
                } else if let Some(w) = c.withdrawn_on {
                    format!("withdrawn on {w}")
                } else if c.expires_on.is_some_and(|e| e < today) {
                    format!(
                        "expired on {}",
                        c.expires_on.map(|e| e.to_string()).unwrap_or_default()
                    )
                } else {
                    "no".into()
                };
                println!("  consent {:<12} {state}", c.channel);
            }
            Ok(0)
        }
        RegisterCmd::Enrol { id, photos } => {
            let engine = consentgate::faces::FaceEngine::load()?;
            let mut conn = ws.db()?;
            let n = consentgate::enrol::enrol(
                &mut conn,
                &engine,
                &id,
                &photos,
                &ws.config.limits.to_format_limits(),
                actor,
            )?;
            println!("Enrolled {id} from {n} photo(s); {} face template(s) in total. The photos were not stored.", register::template_count(&conn, &id)?);
            Ok(0)
        }
        RegisterCmd::EnrolDir { dir } => {
            let engine = consentgate::faces::FaceEngine::load()?;
            let mut conn = ws.db()?;
            let report = consentgate::enrol::enrol_dir(
                &mut conn,
                &engine,
                &dir,
                &ws.config.limits.to_format_limits(),
                actor,
            )?;
            println!(
                "Enrolled {} student(s) from {}.",
                report.enrolled.len(),
                dir.display()
            );
            for (file, why) in &report.skipped {
                println!("  skipped {file}: {why}");
            }
            Ok(u8::from(!report.skipped.is_empty()))
        }
        RegisterCmd::Forget { id } => {
            let n = register::forget(&mut ws.db()?, &id, actor)?;
            println!(
                "Erased {n} face template(s) of {id}. Their photos will no longer be recognised."
            );
            Ok(0)
        }
        RegisterCmd::Withdraw { id, channel, json } => {
            if !ws.config.gate.channels.contains(&channel) {
                bail!(register::RegisterError::UnknownChannel(
                    channel,
                    ws.config.gate.channels.join(", ")
                ));
            }
            let mut conn = ws.db()?;
            register::withdraw(&mut conn, &id, &channel, today, actor)?;
            let list = journal::takedown_list(&conn, &id, Some(&channel))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"student": id, "channel": channel, "take_down": list})
                );
                return Ok(0);
            }
            println!("Consent for {channel} withdrawn for {id}.");
            if list.is_empty() {
                println!("No released photo on {channel} is linked to {id}.");
            } else {
                println!("Take these down from {channel}:");
                for t in &list {
                    println!(
                        "  {}  published {}  ({})",
                        t.outbox_path,
                        t.published_at
                            .map(|d| d.format("%Y-%m-%d").to_string())
                            .unwrap_or_default(),
                        t.via
                    );
                }
            }
            Ok(0)
        }
    }
}

fn devices_cmd(ws: &Workspace, cmd: DevicesCmd, actor: &str) -> Result<u8> {
    let mut conn = ws.db()?;
    match cmd {
        DevicesCmd::Add {
            make,
            model,
            serial,
            note,
        } => {
            let d = SchoolDevice {
                make,
                model,
                serial,
                note,
            };
            register::add_device(&mut conn, &d, actor)?;
            println!("Registered {} {} {}", d.make, d.model, d.serial);
        }
        DevicesCmd::List => {
            for d in register::devices(&conn)? {
                println!("{:<16} {:<24} {:<16} {}", d.make, d.model, d.serial, d.note);
            }
        }
    }
    Ok(0)
}

/// Passwords and codes for this command: asked on the terminal (not echoed), or read one per
/// line from standard input with `--password-stdin`.
struct Secrets {
    stdin: bool,
}

impl Secrets {
    fn new(stdin: bool) -> Secrets {
        Secrets { stdin }
    }

    fn next(&mut self, prompt: &str) -> Result<String> {
        if self.stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading standard input")?;
            return Ok(line.trim_end_matches(['\r', '\n']).to_string());
        }
        rpassword::prompt_password(prompt).map_err(|e| {
            anyhow::anyhow!("cannot ask for the password on a terminal ({e}); run this in a terminal, or pass --password-stdin and write it on standard input")
        })
    }
}

/// Who runs a `review` or `users` command. With accounts: the account `--as` names, after its
/// password is checked (so the command line is no back door past the review page's login; a
/// wrong password waits a second and is recorded). Without accounts (a workspace made before
/// them): the name given, unverified, as before.
fn cli_actor(ws: &Workspace, name: Option<&str>, secrets: &mut Secrets) -> Result<Actor> {
    let conn = ws.db()?;
    if !accounts::any_accounts(&conn)? {
        return Ok(Actor::Unverified(name.map_or_else(os_user, str::to_string)));
    }
    let Some(name) = name else {
        bail!("this workspace has accounts: say who you are with --as NAME (you are then asked for your password)");
    };
    let password = secrets.next(&format!("Password for {name}: "))?;
    let source = format!(
        "{}@{}",
        os_user(),
        whoami::fallible::hostname().unwrap_or_default()
    );
    match accounts::authenticate(&conn, name, &password, "command line", &source) {
        Ok(a) => Ok(Actor::Account(a)),
        Err(e) => {
            // Slows a guessing script down; the review page slows guessing per account and source.
            std::thread::sleep(std::time::Duration::from_secs(1));
            Err(e.into())
        }
    }
}

fn print_setup_code(ws: &Workspace, code: &accounts::SetupCode, what: &str) {
    println!(
        "{what} {:?}: one-time set-up code (shown only now; give it to its owner, it works once until {}): {}",
        code.name,
        code.expires_at.with_timezone(&Local).format("%Y-%m-%d %H:%M"),
        code.code
    );
    println!(
        "  to choose the password: consentgate -w {} users setup {:?}   (or `consentgate serve` and open /setup)",
        ws.root.display(),
        code.name
    );
}

fn require_senior(who: &Actor, conn: &rusqlite::Connection) -> Result<()> {
    let ok = match who {
        Actor::Account(a) => a.role == accounts::Role::Senior,
        Actor::Unverified(_) => !accounts::any_accounts(conn)?,
    };
    if !ok {
        bail!(accounts::AccountError::NeedsSenior(format!(
            "{} is a {} account",
            who.name(),
            who.role().as_str()
        )));
    }
    Ok(())
}

fn users_cmd(
    ws: &Workspace,
    cmd: UsersCmd,
    name: Option<&str>,
    secrets: &mut Secrets,
) -> Result<u8> {
    if let UsersCmd::Setup { name } = &cmd {
        let code = secrets.next(&format!("One-time set-up code for {name}: "))?;
        let password = secrets.next("New password: ")?;
        if !secrets.stdin && secrets.next("The same password again: ")? != password {
            bail!(accounts::AccountError::PasswordsDiffer);
        }
        let a = accounts::complete_setup(
            &mut ws.db()?,
            name,
            &code,
            &password,
            &format!("command line ({})", os_user()),
        )?;
        println!(
            "Password set for {} ({}). Log in on the review page with it; `--as {}` on the command line.",
            a.name,
            a.role.as_str(),
            a.name
        );
        return Ok(0);
    }
    let who = cli_actor(ws, name, secrets)?;
    let mut conn = ws.db()?;
    let limits = accounts::SessionLimits {
        idle: std::time::Duration::from_secs(ws.config.serve.session_idle_minutes * 60),
        max_age: std::time::Duration::from_secs(12 * 3600),
    };
    match cmd {
        UsersCmd::Add { name, role } => {
            let role =
                accounts::Role::parse(&role).context("role is staff, moderator or senior")?;
            let code = accounts::add(&mut conn, &name, role, &who)?;
            print_setup_code(ws, &code, &format!("Account ({})", role.as_str()));
        }
        UsersCmd::List { json } => {
            require_senior(&who, &conn)?;
            let list = accounts::list(&conn)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            for a in &list {
                let state = if a.disabled {
                    "disabled"
                } else if !a.set_up {
                    "waiting for set-up"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<10} {:<20} last login {}",
                    a.name,
                    a.role.as_str(),
                    state,
                    a.last_login_at.as_deref().unwrap_or("never")
                );
            }
        }
        UsersCmd::Disable { name } => {
            accounts::disable(&mut conn, &name, &who)?;
            println!("Disabled {name}; its sessions ended. `consentgate users reset {name}` enables it again with a new set-up code.");
        }
        UsersCmd::Reset { name } => {
            let code = accounts::reset(&mut conn, &name, &who)?;
            print_setup_code(ws, &code, "Account");
        }
        UsersCmd::Sessions { json } => {
            require_senior(&who, &conn)?;
            let list = accounts::sessions(&conn, limits)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            for s in &list {
                println!(
                    "{:>4}  {:<24} from {:<16} since {}  last seen {}",
                    s.number, s.name, s.source, s.created_at, s.last_seen_at
                );
            }
        }
        UsersCmd::Revoke { session } => {
            if accounts::revoke_session(&conn, session, &who)? {
                println!("Session {session} ended.");
            } else {
                println!("There is no live session {session}.");
            }
        }
        UsersCmd::Setup { .. } => {}
    }
    Ok(0)
}

fn review_cmd(ws: &Workspace, cmd: ReviewCmd, actor: &Actor) -> Result<u8> {
    // Even the queue shows children's names: staff accounts see none of it.
    review::require_reviewer(actor)?;
    match cmd {
        ReviewCmd::List { json } => {
            let items = review::held(ws)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(0);
            }
            if items.is_empty() {
                println!("Nothing is waiting for review.");
            }
            for i in &items {
                let overdue = if i.overdue { "  OVERDUE" } else { "" };
                let kinds: std::collections::BTreeSet<_> =
                    i.record.reasons.iter().map(|r| r.kind.label()).collect();
                println!(
                    "#{:<5} {:<9} {:>6.1} h{overdue}  {}  — {}",
                    i.record.id,
                    i.record.channel,
                    i.waiting_hours,
                    i.record.source_name,
                    kinds.into_iter().collect::<Vec<_>>().join("; ")
                );
            }
            Ok(0)
        }
        ReviewCmd::Show { id, json } => {
            let r = review::show(ws, id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(0);
            }
            println!("Photo #{} — {} ({})", r.id, r.source_name, r.state.as_str());
            println!("  channel   {}", r.channel);
            println!(
                "  arrived   {}",
                r.created_at.with_timezone(&Local).format("%Y-%m-%d %H:%M")
            );
            if let Some(d) = &r.held_dir {
                println!("  files     {}", ws.root.join(d).display());
            }
            if let Some(o) = &r.outbox_path {
                println!("  outbox    {o}");
            }
            for reason in &r.reasons {
                println!("  - {}: {}", reason.kind.label(), reason.detail);
            }
            let conn = ws.db()?;
            if let Some(a) = review::awaiting_second_opinion(ws, &conn, &r)? {
                println!(
                    "  AWAITING SECOND OPINION (approved by {} at {}; a different senior must {} it too)",
                    a.name, a.at, a.action
                );
            }
            for q in review::senior_requests(&conn, id)? {
                println!("  ask a senior ({}, {}): {}", q.name, q.at, q.note);
            }
            if !r.removed.is_empty() {
                println!("  metadata removed: {}", r.removed.join(", "));
            }
            for e in consentgate::audit::trail(&ws.db()?, Some(&format!("photo #{id}")))? {
                println!(
                    "  {}  {:<10} by {}  {}",
                    e.at,
                    e.action,
                    e.actor,
                    e.detail.get("note").and_then(|n| n.as_str()).unwrap_or("")
                );
            }
            Ok(0)
        }
        ReviewCmd::Approve { id, note } => {
            match review::approve(ws, id, &note, actor)? {
                review::Decision::Released(dest) => println!("Approved #{id}: released to {dest}"),
                review::Decision::FirstApproval(a) => println!(
                    "First approval of #{id} recorded (held for {}): it stays held until a different senior approves it too.",
                    a.reasons.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")
                ),
            }
            Ok(0)
        }
        ReviewCmd::Redact { id, note } => {
            match review::redact(ws, id, &note, actor)? {
                (review::Decision::Released(dest), n) => println!("Redacted #{id}: {n} face(s) blurred, released to {dest}; the original stays in held/."),
                (review::Decision::FirstApproval(a), _) => println!(
                    "First approval of blurring and releasing #{id} recorded (held for {}): it stays held until a different senior does the same.",
                    a.reasons.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")
                ),
            }
            Ok(0)
        }
        ReviewCmd::Ask { id, note } => {
            review::ask_senior(ws, id, &note, actor)?;
            println!("#{id} is marked \"ask a senior\"; it stays held.");
            Ok(0)
        }
        ReviewCmd::Reject { id, note } => {
            review::reject(ws, id, &note, actor)?;
            println!("Rejected #{id}; its files stay in held/ as the record.");
            Ok(0)
        }
        ReviewCmd::Caption { id, text, note } => {
            let e = review::edit_caption(ws, id, &text, &note, actor)?;
            let names: Vec<&str> = e.names.iter().map(|h| h.student_id.as_str()).collect();
            match (e.travels, names.is_empty()) {
                (true, _) => println!("Caption of #{id} saved; it names nobody and is released with the photo when approved."),
                (false, true) => println!("Caption of #{id} removed."),
                (false, false) => println!("Caption of #{id} saved, but it names or may name {}: it will not be released with the photo.", names.join(", ")),
            }
            Ok(0)
        }
        ReviewCmd::Face {
            id,
            face,
            student,
            note,
        } => {
            let n = face.checked_sub(1).context("faces are numbered from 1")?;
            let engine =
                consentgate::faces::FaceEngine::with_options(ws.config.faces.engine_options())?;
            let a = review::attribute_face(ws, &engine, id, n, &student, &note, actor)?;
            println!(
                "Face {face} of #{id} recorded as {student}; a face template was added. #{id} stays held with {} reason(s):",
                a.reasons.len()
            );
            for r in &a.reasons {
                println!("  - {}: {}", r.kind.label(), r.detail);
            }
            Ok(0)
        }
    }
}

fn serve_cmd(
    ws: &Workspace,
    port: u16,
    bind: std::net::IpAddr,
    new_token: bool,
    actor: &str,
) -> Result<u8> {
    if new_token {
        let token = consentgate::serve::token::replace(ws, actor)?;
        println!(
            "New review page login token (shown only now; the old one no longer works): {token}"
        );
        println!(
            "Start the page with: consentgate -w {} serve",
            ws.root.display()
        );
        return Ok(0);
    }
    if !consentgate::serve::is_loopback(bind) {
        eprintln!("WARNING: --bind {bind} makes the review page, with children's photos and names, reachable from other computers, over plain HTTP (no encryption). Use it only on a trusted school network, behind its firewall.");
    }
    consentgate::serve::run(
        ws.clone(),
        consentgate::serve::Options { bind, port },
        |addr| {
            println!("consentgate review page: http://{addr}/  (log in with your account; Ctrl-C stops it)");
            let _ = std::io::stdout().flush();
        },
    )?;
    Ok(0)
}

fn eval_faces(
    workspace: &std::path::Path,
    dir: &std::path::Path,
    json: bool,
    sizes: &[u32],
) -> Result<u8> {
    let engine = consentgate::faces::FaceEngine::load()?;
    let config = Workspace::open(workspace)
        .map(|w| w.config)
        .unwrap_or_default();
    // t / 20 rounds exactly as the literal in the config does, so equal thresholds dedup.
    let mut thresholds: Vec<f32> = (8..=14).map(|t| t as f32 / 20.0).collect();
    thresholds.extend([config.faces.match_distance, config.faces.ambiguous_distance]);
    thresholds.sort_by(f32::total_cmp);
    thresholds.dedup();
    let e = consentgate::eval::eval_faces(&engine, dir, &thresholds)?;
    let by_size = if sizes.is_empty() {
        Vec::new()
    } else {
        consentgate::eval::eval_faces_by_size(&engine, dir, sizes, config.faces.match_distance)?
    };
    if json {
        let mut v = serde_json::to_value(&e)?;
        if !by_size.is_empty() {
            v["by_size"] = serde_json::to_value(&by_size)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    if !by_size.is_empty() {
        println!(
            "by face height (each labelled face shrunk; recognition against the full-size faces):"
        );
        println!(
            "{:>7} {:>6} {:>17} {:>12} {:>20} {:>16} {:>6} {:>6}",
            "height",
            "faces",
            "detection recall",
            "same pairs",
            "TMR at zero false",
            "cross-photo TMR",
            "TMR",
            "FMR"
        );
        for r in &by_size {
            println!(
                "{:>5}px {:>6} {:>17.3} {:>12} {:>20.3} {:>16} {:>6.3} {:>6.3}",
                r.height,
                r.faces,
                r.found as f64 / r.faces.max(1) as f64,
                r.same_pairs,
                r.true_match_rate_at_zero_false,
                r.cross_photo_true_match_rate_at_zero_false
                    .map_or("n/a".into(), |v| format!("{v:.3}")),
                r.true_match_rate,
                r.false_match_rate
            );
        }
        println!(
            "(TMR/FMR at match_distance {:.2}; faces under {:.0} px are held as too small to recognise)",
            config.faces.match_distance,
            consentgate::faces::RECOGNISABLE_FACE_PX
        );
    }
    println!("{} photos", e.photos);
    for d in &e.detection {
        println!(
            "  {:<40} expected {:>3}  found {:>3}",
            d.file, d.expected, d.found
        );
    }
    if let Some(r) = e.detection_recall {
        println!("detection recall {:.3}", r);
    }
    println!(
        "{} same-person pairs, {} different-person pairs",
        e.same_person_pairs, e.different_person_pairs
    );
    if let Some(m) = e.different_person_min_distance {
        println!(
            "closest different-person pair: {m:.3}; farthest same-person pair: {:.3}",
            e.same_person_distances.last().copied().unwrap_or(0.0)
        );
    }
    println!(
        "{:>10} {:>18} {:>18}",
        "threshold", "true match rate", "false match rate"
    );
    for t in &e.thresholds {
        let mark = if (t.threshold - config.faces.match_distance).abs() < 1e-6 {
            "  <- match_distance"
        } else if (t.threshold - config.faces.ambiguous_distance).abs() < 1e-6 {
            "  <- ambiguous_distance"
        } else {
            ""
        };
        println!(
            "{:>10.2} {:>18.3} {:>18.3}{mark}",
            t.threshold, t.true_match_rate, t.false_match_rate
        );
    }
    for p in &e.problems {
        println!("  problem: {p}");
    }
    Ok(0)
}

fn audit_cmd(ws: &Workspace, args: AuditArgs) -> Result<u8> {
    let conn = ws.db()?;
    if args.verify.is_some() {
        let v = consentgate::audit::verify(&conn)?;
        if args.json {
            println!("{}", serde_json::to_string(&v)?);
        }
        return match v.broken_at {
            None => {
                if !args.json {
                    println!("Audit trail intact: {} entries, head {}", v.rows, v.head);
                }
                Ok(0)
            }
            Some((seq, why)) => {
                if !args.json {
                    println!("AUDIT TRAIL TAMPERED at entry {seq}: {why}");
                }
                Ok(2)
            }
        };
    }
    let entries = match args
        .subject
        .as_deref()
        .and_then(|s| s.strip_prefix("user:"))
    {
        Some(name) => {
            let actor = accounts::get(&conn, name)?.map(|a| accounts::account_actor(&a));
            consentgate::audit::trail_by(&conn, &accounts::subject(name), actor.as_deref())?
        }
        None => consentgate::audit::trail(&conn, args.subject.as_deref())?,
    };
    if args.json {
        for e in &entries {
            println!("{}", serde_json::to_string(e)?);
        }
        return Ok(0);
    }
    for e in &entries {
        let mut detail = e.detail.to_string();
        if detail.len() > 100 {
            detail = format!("{}…", detail.chars().take(100).collect::<String>());
        }
        println!(
            "{:>5}  {}  {:<12} {:<18} {:<12} {}",
            e.seq, e.at, e.actor, e.action, e.subject, detail
        );
    }
    Ok(0)
}
