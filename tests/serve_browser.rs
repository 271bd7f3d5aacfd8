//! The review page in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, via `fantoccini`). A wrong token is refused; the moderator logs in, sees a held
//! photo with its face boxes and reasons, the `<script>` in its caption shown as text and never
//! run, approves it with a note, and the file appears in the outbox. A screenshot is saved and
//! must not be blank.
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
    ws
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
    let token = new_token(&ws);
    let server = Server::start(&ws);
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1100",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver");

    let result = async {
        // Not logged in: the queue sends us to the login page.
        c.goto(&server.url("/queue")).await?;
        assert!(c.current_url().await?.path().ends_with("/login"));

        // A wrong token is refused.
        c.find(Locator::Id("name"))
            .await?
            .send_keys("J. Moderator")
            .await?;
        c.find(Locator::Id("token"))
            .await?
            .send_keys("not-the-token")
            .await?;
        c.find(Locator::Id("login")).await?.click().await?;
        let error = c
            .wait()
            .for_element(Locator::Id("error"))
            .await?
            .text()
            .await?;
        assert!(error.contains("not right"), "{error}");
        assert!(c.current_url().await?.path().ends_with("/login"));

        // The right one lets us in, and the queue shows the held photo with its thumbnail.
        c.find(Locator::Id("name"))
            .await?
            .send_keys("J. Moderator")
            .await?;
        c.find(Locator::Id("token"))
            .await?
            .send_keys(&token)
            .await?;
        c.find(Locator::Id("login")).await?.click().await?;
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
        let reasons = c
            .wait()
            .for_element(Locator::Id("reasons"))
            .await?
            .text()
            .await?;
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

        // Approve with a note: back on the queue with a message, and the file is in the outbox.
        c.find(Locator::Id("approve-note"))
            .await?
            .send_keys("Parents asked; faces checked")
            .await?;
        c.find(Locator::Id("approve")).await?.click().await?;
        let flash = c
            .wait()
            .for_element(Locator::Id("flash"))
            .await?
            .text()
            .await?;
        assert!(flash.contains("released to outbox/website/"), "{flash}");
        assert!(c.current_url().await?.path().ends_with("/queue"));
        assert!(
            c.find(Locator::Css("li.card[data-id='1']")).await.is_err(),
            "no longer held"
        );
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let _ = c.close().await;
    drop(driver);
    result.expect("browser session");

    let released = ws.files_under("outbox/website");
    assert_eq!(
        released.len(),
        1,
        "the photo only; its caption named a student: {released:?}"
    );
    assert_eq!(released[0].extension().unwrap(), "jpg");
    let audit = ws.cg(&["audit", "--subject", "photo #1", "--json"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(
        audit.contains("\"actor\":\"J. Moderator\"") && audit.contains("Parents asked"),
        "{audit}"
    );
    drop(server);
}
