//! `consentgate demo`: a throwaway workspace from the bundled samples, gated once, explained.

use std::path::Path;

use anyhow::{Context as _, Result};

use consentgate::workspace::Workspace;

pub fn run(dir: Option<&Path>, fixtures: &Path, actor: &str) -> Result<u8> {
    let register_csv = fixtures.join("register.csv");
    let photos = fixtures.join("photos");
    if !register_csv.is_file() || !photos.is_dir() {
        anyhow::bail!("the demo samples are not at {}; run the demo from the consentgate source folder or pass --fixtures DIR", fixtures.display());
    }
    let temp;
    let root = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("consentgate-demo-")
                .tempdir()?;
            temp.keep()
        }
    };
    let ws = Workspace::init(&root, actor)?;
    let mut conn = ws.db()?;
    let code = consentgate::accounts::add(
        &mut conn,
        "demo-senior",
        consentgate::accounts::Role::Senior,
        &consentgate::accounts::Actor::Unverified(actor.to_string()),
    )?;
    let today = chrono::Local::now().date_naive();
    let report = consentgate::register::import_csv(
        &mut conn,
        std::fs::File::open(&register_csv)?,
        &consentgate::register::ImportOptions {
            channels: &ws.config.gate.channels,
            mapping: &ws.config.register,
            dry_run: false,
        },
        today,
        actor,
    )?;
    println!("consentgate demo — workspace {}", root.display());
    println!(
        "Imported the sample register: {} students.",
        report.added.len()
    );
    // A face the register knows: one portrait enrolled for A1009 (on the no-publish list), and a
    // different photo of the same person dropped with the event photos.
    let faces = fixtures.join("../faces");
    let (portrait, event) = (
        faces.join("obama_portrait.jpg"),
        faces.join("obama_blue_room.jpg"),
    );
    if portrait.is_file() && event.is_file() {
        let engine = consentgate::faces::FaceEngine::load()?;
        consentgate::enrol::enrol(
            &mut conn,
            &engine,
            "A1009",
            std::slice::from_ref(&portrait),
            &ws.config.limits.to_format_limits(),
            actor,
        )?;
        std::fs::copy(&event, ws.staging().join("assembly-hall.jpg"))?;
        println!("Enrolled the face of A1009 (no-publish list) from {}; dropped another photo of them as assembly-hall.jpg.", portrait.display());
    }
    drop(conn);
    let mut n = 0;
    for entry in std::fs::read_dir(&photos)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), ws.staging().join(entry.file_name()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
            n += 1;
        }
    }
    // The samples were just copied: no need to wait for them to settle.
    let mut ws = ws;
    ws.config.gate.settle_seconds = 0;
    println!("Copied {n} sample files (photos and caption sidecars) into staging. Gating for channel \"website\":\n");
    let (_, summary) = super::run_and_print(&ws, "website", actor, false)?;
    println!();
    let exe =
        std::env::current_exe().map_or_else(|_| "consentgate".into(), |p| p.display().to_string());
    let root = root.display();
    println!("Look around:");
    println!("  ls {root}/outbox/website                 the clean photos, under neutral names");
    println!("  {exe} -w {root} --as demo-senior review list     what a moderator must look at (after `users setup`, below)");
    println!("  {exe} -w {root} --as demo-senior review show ID  every reason for one held photo");
    println!("  {exe} -w {root} audit           the tamper-evident trail");
    println!();
    println!("The review page, with the demo's senior account:");
    println!("  {exe} -w {root} users setup demo-senior     choose its password with this one-time code: {}", code.code);
    println!("  {exe} -w {root} serve                        then open http://127.0.0.1:8470/ and log in as demo-senior");
    println!("  (or open http://127.0.0.1:8470/setup, give the name demo-senior and the code, and choose the password there)");
    let _ = summary;
    Ok(0)
}
