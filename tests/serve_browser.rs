//! The review page in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, via `fantoccini`). A wrong password is refused; the moderator logs in, sees a held
//! photo with its face boxes and reasons, the `<script>` in its caption shown as text and never
//! run, and gives the first approval of a photo held for a no-publish child's face; a senior logs
//! in as a second user, sees "awaiting second opinion", gives the second approval, and the file
//! appears in the outbox. A screenshot is saved and must not be blank.
//!
//! Without chromium and chromedriver the test prints SKIP and passes, unless
//! CONSENTGATE_REQUIRE_BROWSER is set (as .ci/run does): then their absence fails it.

use crate::common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::*;
use common::workspace::*;
use fantoccini::{ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn browser_available(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    if std::env::var_os("CONSENTGATE_REQUIRE_BROWSER").is_some() {
        panic!("{test}: {why}, and CONSENTGATE_REQUIRE_BROWSER is set");
    }
    eprintln!("\n!!!! SKIP {test}: {why}; the review page was NOT tested in a browser !!!!\n");
    false
}

/// chromedriver on a free loopback port; killed (by its own pid) when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The photo's held file for the browser: four real faces (so the boxes show) and a caption that
/// names a student with a script in front of it.
fn workspace_with_held_group_photo() -> Ws {
    let ws = Ws::with_demo_register();
    std::fs::copy(
        fixtures().join("faces/group_of_four.jpg"),
        ws.staging().join("sports-day.jpg"),
    )
    .unwrap();
    ws.drop_file(
        "sports-day.txt",
        b"<script>window.__xss = 1; alert('xss')</script> Well done Olivia Smith!",
    );
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(lines[0]["id"], 1);
    // #2: a child on the no-publish list (A1009, enrolled from another photo of them).
    let out = ws.cg(&[
        "register",
        "enrol",
        "A1009",
        fixtures()
            .join("faces/obama_portrait.jpg")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        fixtures().join("faces/obama_blue_room.jpg"),
        ws.staging().join("assembly.jpg"),
    )
    .unwrap();
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    assert_eq!(lines[0]["id"], 2);
    assert!(
        lines[0]["reasons"].to_string().contains("face_no_publish"),
        "{lines:#?}"
    );
    ws.head_ready();
    ws.add_user("J. Moderator", "moderator");
    ws
}

/// Headless Chromium through `driver`, with its own profile folder and window size ("W,H").
async fn open_browser(
    driver: &Driver,
    profile: &std::path::Path,
    size: &str,
) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", format!("--window-size={size}"),
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver")
}

/// Nothing on the page reaches past the window's right edge (no sideways scrolling).
async fn assert_fits(
    c: &fantoccini::Client,
    page: &str,
) -> Result<(), fantoccini::error::CmdError> {
    let widths = c
        .execute(
            "const w = window.innerWidth;
             const wide = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1)
               .slice(0, 12)
               .map(e => e.tagName + ' ' + (e.getAttribute('class') || '') + ' ' +
                         Math.round(e.getBoundingClientRect().right));
             return [document.documentElement.scrollWidth, w, wide];",
            vec![],
        )
        .await?;
    let (scroll, inner) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
    assert!(
        scroll <= inner + 1.0,
        "{page} is {scroll} px wide in a {inner} px window; too wide: {}",
        widths[2]
    );
    Ok(())
}

/// Press one key, as a person at the keyboard would (to whatever has the focus).
async fn press(c: &fantoccini::Client, key: char) -> Result<(), fantoccini::error::CmdError> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await
}

/// Wait (up to a minute) until the page has loaded completely: its script has run, so the keys
/// work (a key pressed before that would be lost, and the test would wait for nothing).
async fn wait_ready(c: &fantoccini::Client) -> Result<(), fantoccini::error::CmdError> {
    let start = Instant::now();
    while c.execute("return document.readyState;", vec![]).await? != serde_json::json!("complete") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the page did not finish loading"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Wait (up to a minute: the machine may be busy) until the page's path is `path` and the page
/// has loaded.
async fn wait_path(c: &fantoccini::Client, path: &str) -> Result<(), fantoccini::error::CmdError> {
    let start = Instant::now();
    loop {
        let now = c.current_url().await?;
        if now.path() == path {
            c.wait().for_element(Locator::Css("main")).await?;
            return wait_ready(c).await;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still at {now} instead of {path}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The text of the element `loc`, once it is on the page.
async fn text_of(
    c: &fantoccini::Client,
    loc: Locator<'_>,
) -> Result<String, fantoccini::error::CmdError> {
    c.wait().for_element(loc).await?.text().await
}

/// Fill the login form and submit it.
async fn log_in(
    c: &fantoccini::Client,
    name: &str,
    password: &str,
) -> Result<(), fantoccini::error::CmdError> {
    c.find(Locator::Id("name")).await?.send_keys(name).await?;
    c.find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    c.find(Locator::Id("login")).await?.click().await
}

/// Mean and variance of a PNG's luma: a blank (single-colour) screenshot has none.
fn luma_variance(png: &[u8]) -> f64 {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let n = f64::from(img.width() * img.height());
    let mean = img.pixels().map(|p| f64::from(p.0[0])).sum::<f64>() / n;
    img.pixels()
        .map(|p| (f64::from(p.0[0]) - mean).powi(2))
        .sum::<f64>()
        / n
}

/// Whether the `<img>` matching `css` finishes loading a real picture within 30 seconds.
async fn image_loaded(
    c: &fantoccini::Client,
    css: &str,
) -> Result<bool, fantoccini::error::CmdError> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let state = c
            .execute(
                "const i = document.querySelector(arguments[0]); \
                 return i === null ? 'missing' : !i.complete ? 'loading' : i.naturalWidth > 0 ? 'ok' : 'broken';",
                vec![serde_json::json!(css)],
            )
            .await?;
        match state.as_str() {
            Some("ok") => return Ok(true),
            Some("loading") => tokio::time::sleep(Duration::from_millis(200)).await,
            _ => return Ok(false),
        }
    }
    Ok(false)
}

#[tokio::test]
async fn moderator_logs_in_sees_reasons_and_approves_in_a_real_browser() {
    if !browser_available("serve_browser") {
        return;
    }
    let ws = workspace_with_held_group_photo();
    let server = Server::start(&ws);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = open_browser(&driver, profile.path(), "1280,1100").await;

    let result = async {
        // Not logged in: the queue sends us to the login page.
        c.goto(&server.url("/queue")).await?;
        assert!(c.current_url().await?.path().ends_with("/login"));

        // A wrong password is refused.
        log_in(&c, "J. Moderator", "not the password").await?;
        let error = text_of(&c, Locator::Id("error")).await?;
        assert!(error.contains("wrong name or password"), "{error}");
        assert!(c.current_url().await?.path().ends_with("/login"));

        // The right one lets us in, and the queue shows the held photo with its thumbnail.
        log_in(&c, "J. Moderator", &password("J. Moderator")).await?;
        c.wait()
            .for_element(Locator::Css("li.card[data-id='1']"))
            .await?;
        assert!(c.current_url().await?.path().ends_with("/queue"));
        let card = c
            .find(Locator::Css("li.card[data-id='1']"))
            .await?
            .text()
            .await?;
        assert!(
            card.contains("sports-day.jpg") && card.contains("caption names a student"),
            "{card}"
        );
        assert!(
            image_loaded(&c, "li.card[data-id='1'] img").await?,
            "thumbnail loaded"
        );

        let queue_png = c.screenshot().await?;
        let shot =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve_browser_queue.png");
        std::fs::write(&shot, &queue_png).unwrap();
        assert!(
            luma_variance(&queue_png) > 100.0,
            "queue screenshot {} looks blank",
            shot.display()
        );

        // The photo's page: reasons in words, face boxes over the picture, the caption as text.
        c.find(Locator::Css("li.card[data-id='1'] a.title"))
            .await?
            .click()
            .await?;
        let reasons = text_of(&c, Locator::Id("reasons")).await?;
        assert!(reasons.contains("caption names a student"), "{reasons}");
        assert!(reasons.contains("Olivia Smith (A1001)"), "{reasons}");
        assert!(reasons.contains("unknown face"), "{reasons}");
        let boxes = c.find_all(Locator::Css("svg.faces g.face")).await?;
        assert_eq!(boxes.len(), 4, "one box per face");
        let caption = c.find(Locator::Id("caption")).await?.text().await?;
        assert!(
            caption.contains("<script>window.__xss = 1;"),
            "shown as text: {caption}"
        );
        let marked = c
            .find(Locator::Css("#caption mark.block"))
            .await?
            .text()
            .await?;
        assert_eq!(marked, "Olivia Smith");
        // The script in the caption never ran and made no element.
        let ran = c
            .execute(
                "return [window.__xss === undefined, document.scripts.length, \
                 document.querySelectorAll('#caption *').length];",
                vec![],
            )
            .await?;
        assert_eq!(
            ran,
            serde_json::json!([true, 1, 1]),
            "no script ran; only the <mark> inside"
        );
        assert!(c.get_alert_text().await.is_err(), "no alert is open");
        assert!(image_loaded(&c, "#preview").await?, "preview loaded");

        // The page's own script runs under the CSP: clicking face 3 (its row; boxes work the same) chooses it in the form.
        c.find(Locator::Css("table.faces tr[data-face='3']"))
            .await?
            .click()
            .await?;
        let chosen = c
            .execute(
                "return document.getElementById('face-number').value;",
                vec![],
            )
            .await?;
        assert_eq!(chosen, serde_json::json!("3"));

        // Screenshot: saved for people to look at, and not blank.
        let png = c.screenshot().await?;
        let shot =
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve_browser_photo.png");
        std::fs::write(&shot, &png).unwrap();
        let variance = luma_variance(&png);
        assert!(
            variance > 100.0,
            "screenshot {} looks blank (luma variance {variance})",
            shot.display()
        );
        eprintln!(
            "screenshot: {} (luma variance {variance:.0})",
            shot.display()
        );

        // The no-publish photo: the moderator's approval is only the first.
        c.goto(&server.url("/photo/2")).await?;
        let reasons = text_of(&c, Locator::Id("reasons")).await?;
        assert!(reasons.contains("face on the no-publish list"), "{reasons}");
        c.find(Locator::Id("approve-note"))
            .await?
            .send_keys("Parents asked; faces checked")
            .await?;
        c.find(Locator::Id("approve")).await?.click().await?;
        let flash = text_of(&c, Locator::Id("flash")).await?;
        assert!(flash.contains("first approval"), "{flash}");
        // On to the next held photo, not back to the queue.
        assert!(c.current_url().await?.path().ends_with("/photo/1"));
        c.goto(&server.url("/queue")).await?;
        assert!(
            c.wait()
                .for_element(Locator::Css("li.card[data-id='2']"))
                .await
                .is_ok(),
            "still held"
        );
        assert!(ws.files_under("outbox/website").is_empty());

        // A second user, a senior, logs in, sees who approved first, and gives the second opinion.
        c.find(Locator::Css("form.logout button"))
            .await?
            .click()
            .await?;
        c.wait().for_element(Locator::Id("password")).await?;
        log_in(&c, "head", &password("head")).await?;
        c.wait()
            .for_element(Locator::Css("li.card[data-id='2']"))
            .await?;
        c.goto(&server.url("/photo/2")).await?;
        let awaiting = text_of(&c, Locator::Id("awaiting")).await?;
        assert!(
            awaiting.contains("Awaiting second opinion (approved by J. Moderator at"),
            "{awaiting}"
        );
        c.find(Locator::Id("approve-note"))
            .await?
            .send_keys("Agreed with the parents' request")
            .await?;
        c.find(Locator::Id("approve")).await?.click().await?;
        let flash = text_of(&c, Locator::Id("flash")).await?;
        assert!(flash.contains("released to outbox/website/"), "{flash}");
        assert!(
            c.current_url().await?.path().ends_with("/photo/1"),
            "the next one"
        );
        c.goto(&server.url("/queue")).await?;
        c.wait()
            .for_element(Locator::Css("li.card[data-id='1']"))
            .await?;
        assert!(
            c.find(Locator::Css("li.card[data-id='2']")).await.is_err(),
            "no longer held"
        );

        // At phone width (390 px) nothing scrolls sideways, on the queue or on a photo's page;
        // the named caption's photo recommends editing the caption, and its reason is marked as
        // one that must not be published.
        c.set_window_size(390, 844).await?;
        for page in ["/queue", "/photo/1"] {
            c.goto(&server.url(page)).await?;
            c.wait().for_element(Locator::Css("main")).await?;
            assert_fits(&c, page).await?;
        }
        let phone_png = c.screenshot().await?;
        std::fs::write(
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve_browser_phone.png"),
            &phone_png,
        )
        .unwrap();
        let first = c
            .find(Locator::Css("section.actions form.recommended"))
            .await?
            .attr("action")
            .await?;
        assert_eq!(first.as_deref(), Some("/photo/1/caption"));
        assert!(c
            .find(Locator::Css("ul.reasons li.sev-block"))
            .await
            .is_ok());
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    drop(driver);
    result.expect("browser session");

    let released = ws.files_under("outbox/website");
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0].extension().unwrap(), "jpg");
    let audit = ws.cg(&["audit", "--subject", "photo #2", "--json"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    let rows: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = rows
        .iter()
        .find(|r| r["action"] == "first-approval")
        .unwrap();
    assert_eq!(first["actor"], "J. Moderator (account 2)");
    assert_eq!(first["detail"]["note"], "Parents asked; faces checked");
    let second = rows.iter().find(|r| r["action"] == "approved").unwrap();
    assert_eq!(second["actor"], "head (account 1)");
    assert_eq!(
        second["detail"]["second_opinion"]["first_approval"]["by"],
        "J. Moderator"
    );
    drop(server);
}

/// Issue 15 part 2, a moderator in a hurry, on a phone (390 px): the queue's thumbnails carry the
/// face boxes; the queue filters by reason; from the oldest photo the keys move on and back (but
/// not while typing in a note), `b` goes to "blur", the arrow keys choose a ready-made note, `b`
/// again shows the blurred file as it would be released, and `b` once more releases exactly that
/// file and goes on to the next photo; `r` rejects the last one and the queue is empty. No page
/// scrolls sideways.
#[tokio::test]
async fn moderator_works_through_the_queue_with_keys_next_and_a_blur_preview_on_a_phone() {
    if !browser_available("serve_browser keys") {
        return;
    }
    let ws = workspace_with_held_group_photo();
    let server = Server::start(&ws);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let c = open_browser(&driver, profile.path(), "390,844").await;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));

    let result = async {
        c.goto(&server.url("/login")).await?;
        c.wait().for_element(Locator::Id("password")).await?;
        log_in(&c, "J. Moderator", &password("J. Moderator")).await?;
        c.wait()
            .for_element(Locator::Css("li.card[data-id='2']"))
            .await?;
        // The thumbnail of the group photo carries its four face boxes, labelled.
        let boxes = c
            .find_all(Locator::Css("li.card[data-id='1'] svg.thumb g.face"))
            .await?;
        assert_eq!(boxes.len(), 4, "face boxes on the thumbnail");
        let label = c
            .find(Locator::Css("li.card[data-id='1'] svg.thumb g.face text"))
            .await?
            .text()
            .await?;
        assert_eq!(label, "1 ?");
        assert!(
            image_loaded(&c, "li.card[data-id='1'] img").await?,
            "thumbnail loaded"
        );
        assert_fits(&c, "the queue").await?;
        std::fs::write(
            shots.join("serve_browser_phone_queue.png"),
            c.screenshot().await?,
        )
        .unwrap();

        // The filter: only the photo with a no-publish child.
        c.find(Locator::Id("filter-reason"))
            .await?
            .select_by_value("face_no_publish")
            .await?;
        c.find(Locator::Id("apply-filter")).await?.click().await?;
        c.wait().for_element(Locator::Id("clear-filter")).await?;
        let url = c.current_url().await?;
        assert!(
            url.query_pairs()
                .any(|(k, v)| k == "reason" && v == "face_no_publish"),
            "{url}"
        );
        let cards = c.find_all(Locator::Css("li.card")).await?;
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0].attr("data-id").await?.as_deref(), Some("2"));
        c.find(Locator::Id("clear-filter")).await?.click().await?;
        c.wait()
            .for_element(Locator::Css("li.card[data-id='1']"))
            .await?;

        // Start with the oldest.
        c.find(Locator::Id("start")).await?.click().await?;
        wait_path(&c, "/photo/1").await?;
        assert_fits(&c, "/photo/1").await?;
        // Typing in a note types; the keys do not act meanwhile.
        let note = c.find(Locator::Id("approve-note")).await?;
        note.click().await?;
        press(&c, 'n').await?;
        press(&c, 'a').await?;
        assert_eq!(note.prop("value").await?.as_deref(), Some("na"));
        assert_eq!(c.current_url().await?.path(), "/photo/1");
        note.clear().await?;
        press(&c, '\u{e00c}').await?; // Escape: leaves the text box
                                      // ? shows every key.
        press(&c, '?').await?;
        let open = c
            .execute("return document.getElementById('keys').open;", vec![])
            .await?;
        assert_eq!(open, serde_json::json!(true));
        let keys = c.find(Locator::Id("keys-list")).await?.text().await?;
        assert!(keys.contains("next held photo"), "{keys}");
        // n: the next held photo; k: back; n again.
        press(&c, 'n').await?;
        wait_path(&c, "/photo/2").await?;
        press(&c, 'k').await?;
        wait_path(&c, "/photo/1").await?;
        press(&c, 'j').await?;
        wait_path(&c, "/photo/2").await?;

        // b: to "blur"; a ready-made note with the arrow key; b again: the preview.
        c.wait()
            .for_element(Locator::Id("redact-note-preset"))
            .await?;
        press(&c, 'b').await?;
        let focused = c.active_element().await?.attr("id").await?;
        assert_eq!(focused.as_deref(), Some("redact-note-preset"));
        press(&c, '\u{e015}').await?; // ArrowDown
        let chosen = c
            .find(Locator::Id("redact-note-preset"))
            .await?
            .prop("value")
            .await?;
        assert_eq!(
            chosen.as_deref(),
            Some("Blurred the child on the no-publish list"),
            "the note fitting the reason comes first"
        );
        press(&c, 'b').await?;
        let summary = text_of(&c, Locator::Id("blur-summary")).await?;
        wait_ready(&c).await?;
        assert!(
            summary.contains("1 face and 0 lines of text blurred"),
            "{summary}"
        );
        assert!(
            image_loaded(&c, "#blurred").await?,
            "the blurred file is shown"
        );
        assert_fits(&c, "the blur preview").await?;
        std::fs::write(
            shots.join("serve_browser_phone_blur_preview.png"),
            c.screenshot().await?,
        )
        .unwrap();
        assert!(
            ws.files_under("outbox").is_empty(),
            "nothing released by a preview"
        );
        // b once more: released as previewed, and on to the next photo.
        press(&c, 'b').await?;
        wait_path(&c, "/photo/1").await?;
        let flash = text_of(&c, Locator::Id("flash")).await?;
        assert!(flash.contains("blurred and released"), "{flash}");
        assert_eq!(ws.files_under("outbox/website").len(), 1);

        // r: reject the last one with a ready-made note; nothing is left, so the queue.
        c.wait()
            .for_element(Locator::Id("reject-note-preset"))
            .await?;
        press(&c, 'r').await?;
        press(&c, '\u{e015}').await?;
        press(&c, 'r').await?;
        wait_path(&c, "/queue").await?;
        let summary = text_of(&c, Locator::Id("summary")).await?;
        assert!(summary.contains("Nothing is waiting"), "{summary}");
        assert_fits(&c, "the empty queue").await?;
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    drop(driver);
    result.expect("browser session");

    // What was released is the file the preview showed, and the trail says who and with what note.
    let released = ws.files_under("outbox/website");
    assert_eq!(released.len(), 1, "{released:?}");
    let audit = ws.cg(&["audit", "--json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let blurred = rows
        .iter()
        .find(|r| r["action"] == "redacted-and-released")
        .unwrap();
    assert_eq!(blurred["actor"], "J. Moderator (account 2)");
    assert_eq!(
        blurred["detail"]["note"],
        "Blurred the child on the no-publish list"
    );
    use sha2::Digest;
    assert_eq!(
        blurred["detail"]["sha256"],
        hex::encode(sha2::Sha256::digest(std::fs::read(&released[0]).unwrap()))
    );
    let rejected = rows.iter().find(|r| r["action"] == "rejected").unwrap();
    assert_eq!(rejected["subject"], "photo #1");
    drop(server);
}
