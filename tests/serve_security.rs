//! The review page's defences, over plain HTTP against the real binary: no action without a
//! session, the session's CSRF token and this site's origin; no file outside `held/` for any URL;
//! everything escaped; loopback only by default.

use crate::common;

use std::fs;

use common::serve::*;
use common::workspace::*;

fn state_of(ws: &Ws, id: i64) -> String {
    let out = ws.cg(&["review", "show", &id.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["state"].as_str().unwrap().to_string()
}

fn outbox_files(ws: &Ws) -> Vec<std::path::PathBuf> {
    ws.files_under("outbox")
}

/// Headers of a request made by this site's own page.
fn from_site<'a>(own: &'a str, cookie: Option<&'a str>) -> Extra<'a> {
    Extra {
        cookie,
        origin: Some(own),
        ..Extra::default()
    }
}

#[test]
fn actions_need_a_session_the_csrf_token_and_this_origin() {
    let ws = held_workspace();
    let token = new_token(&ws);
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    let own = format!("http://{addr}");
    let x = |cookie| from_site(&own, cookie);

    // Pages and pictures without a session: sent to the login page, nothing of the photo shown.
    for path in [
        "/queue",
        "/photo/1",
        "/photo/1/thumb",
        "/photo/1/full",
        "/audit",
    ] {
        let r = get(addr, path, &x(None));
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(r.header("location"), Some("/login"), "{path}");
        assert!(!r.text().contains("Olivia"), "{path}");
    }
    // Every response carries the security headers.
    let r = get(addr, "/login", &x(None));
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'self'")
            && csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // A wrong token is refused, and so is an empty name.
    let bad = post(
        addr,
        "/login",
        &x(None),
        &form(&[
            ("name", "Mallory"),
            ("token", "0123456789abcdef0123456789abcdef"),
        ]),
    );
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    let noname = post(
        addr,
        "/login",
        &x(None),
        &form(&[("name", " "), ("token", &token)]),
    );
    assert_eq!(noname.status, 400);
    // A login form posted from another site is refused even with the right token (login CSRF).
    let cross = post(
        addr,
        "/login",
        &Extra {
            origin: Some("http://evil.example"),
            ..Extra::default()
        },
        &form(&[("name", "M"), ("token", &token)]),
    );
    assert_eq!(cross.status, 403);
    assert!(cross.header("set-cookie").is_none());

    let cookie = login(&server, "J. Moderator", &token);
    let cookie = cookie.as_str();
    let page = get(addr, "/photo/1", &x(Some(cookie)));
    assert_eq!(page.status, 200);
    let token_field = csrf(&page.text());

    let actions = [
        "/photo/1/approve",
        "/photo/1/reject",
        "/photo/1/redact",
        "/photo/1/caption",
        "/photo/1/face",
        "/logout",
    ];
    let body = |csrf: Option<&str>| {
        let mut f = vec![
            ("note", "ok"),
            ("caption", "Sports day"),
            ("face", "1"),
            ("student", "A1001"),
        ];
        if let Some(c) = csrf {
            f.push(("csrf", c));
        }
        form(&f)
    };
    for path in actions {
        // No session.
        let r = post(addr, path, &x(None), &body(Some(&token_field)));
        assert_eq!(r.status, 401, "{path} without a session");
        // A session but no CSRF token, or another session's.
        let r = post(addr, path, &x(Some(cookie)), &body(None));
        assert_eq!(r.status, 403, "{path} without the CSRF token");
        let r = post(addr, path, &x(Some(cookie)), &body(Some(&"0".repeat(64))));
        assert_eq!(r.status, 403, "{path} with a wrong CSRF token");
        // The right session and token, but from another site, or saying nothing of where from.
        for (origin, referer, site) in [
            (Some("http://evil.example"), None, None),
            (Some("null"), None, None),
            (None, Some("http://evil.example/page"), None),
            (None, None, None),
            (Some(own.as_str()), None, Some("cross-site")),
        ] {
            let e = Extra {
                cookie: Some(cookie),
                origin,
                referer,
                fetch_site: site,
                host: None,
            };
            let r = post(addr, path, &e, &body(Some(&token_field)));
            assert_eq!(r.status, 403, "{path} from {origin:?} {referer:?} {site:?}");
        }
        // GET never acts.
        let r = get(addr, path, &x(Some(cookie)));
        assert!(
            r.status == 405 || r.status == 404,
            "GET {path}: {}",
            r.status
        );
    }
    assert_eq!(state_of(&ws, 1), "held", "nothing was acted on");
    assert!(outbox_files(&ws).is_empty(), "{:?}", outbox_files(&ws));
    let audit = ws.cg(&["audit", "--json"]);
    let audit = String::from_utf8_lossy(&audit.stdout);
    assert!(!audit.contains("approved") && !audit.contains("caption-edited"));

    // A note is required.
    let r = post(
        addr,
        "/photo/1/approve",
        &x(Some(cookie)),
        &form(&[("csrf", &token_field), ("note", "  ")]),
    );
    assert_eq!(r.status, 400);
    assert_eq!(state_of(&ws, 1), "held");

    // The same request done properly works (so the refusals above were the checks, not a broken
    // form), with the moderator's name in the audit trail.
    let r = post(
        addr,
        "/photo/1/approve",
        &Extra {
            cookie: Some(cookie),
            referer: Some(&format!("{own}/photo/1")),
            ..Extra::default()
        },
        &form(&[("csrf", &token_field), ("note", "checked with the parents")]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(state_of(&ws, 1), "approved");
    let files = outbox_files(&ws);
    assert_eq!(files.len(), 1, "{files:?}");
    let audit = ws.cg(&["audit", "--subject", "photo #1", "--json"]);
    let last: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&audit.stdout)
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["action"], "approved");
    assert_eq!(last["actor"], "J. Moderator");
    assert_eq!(last["detail"]["note"], "checked with the parents");
    // Approving again is a conflict, not a second release.
    let r = post(
        addr,
        "/photo/1/approve",
        &x(Some(cookie)),
        &form(&[("csrf", &token_field), ("note", "again")]),
    );
    assert_eq!(r.status, 409);
    assert_eq!(outbox_files(&ws).len(), 1);

    // Logging out ends the session.
    let r = post(
        addr,
        "/logout",
        &x(Some(cookie)),
        &form(&[("csrf", &token_field)]),
    );
    assert_eq!(r.status, 303);
    assert_eq!(get(addr, "/queue", &x(Some(cookie))).status, 303);

    // Guessing is slowed: after ten wrong tokens (one was Mallory's above) every attempt waits.
    for i in 0..10 {
        let r = post(
            addr,
            "/login",
            &x(None),
            &form(&[("name", "M"), ("token", "guess")]),
        );
        assert_eq!(r.status, if i < 9 { 401 } else { 429 }, "guess {i}");
    }
    let r = post(
        addr,
        "/login",
        &x(None),
        &form(&[("name", "M"), ("token", &token)]),
    );
    // Slowed down, but not locked out: whoever floods the login form cannot shut the moderator out.
    assert_eq!(
        r.status, 303,
        "the right token still logs in while guesses are slowed"
    );
}

#[test]
fn no_url_reaches_a_file_outside_held() {
    let ws = held_workspace();
    let token = new_token(&ws);
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    let cookie = login(&server, "J. Moderator", &token);
    let x = Extra {
        cookie: Some(&cookie),
        ..Extra::default()
    };
    let config = fs::read_to_string(ws.root.join("consentgate.toml")).unwrap();
    let forbidden = |body: &str| {
        body.contains("login_token_sha256")
            || body.contains("[limits]")
            || body.contains("root:x:0:0")
            || body.contains("SQLite format")
            || body.contains(&config[..40])
    };
    // The clean copy is served, so the refusals below are not a broken route.
    let ok = get(addr, "/photo/1/full", &x);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("image/jpeg"));
    assert_eq!(ok.body, fs::read(ws.root.join("held/1/clean.jpg")).unwrap());
    let thumb = get(addr, "/photo/1/thumb", &x);
    assert_eq!(thumb.status, 200);
    assert!(image::load_from_memory(&thumb.body).is_ok());

    for path in [
        "/photo/../../consentgate.toml",
        "/photo/..%2f..%2fconsentgate.toml",
        "/photo/%2e%2e/%2e%2e/consentgate.toml",
        "/photo/%2e%2e%2f%2e%2e%2fconsentgate.toml/full",
        "/photo/1/../../../consentgate.toml",
        "/photo/1%2f..%2f..%2fconsentgate.toml/full",
        "/photo/1/..%2f..%2f..%2fconsentgate.toml",
        "/photo/..%2F..%2Fconsentgate.db/full",
        "/photo/-1/full",
        "/photo/0/full",
        "/photo/1.0/full",
        "/photo/+1/full",
        "/photo/0x1/full",
        "/photo/99999999999999999999/full",
        "/photo/9223372036854775807/full",
        "/photo/%00/full",
        "/photo/1%00/full",
        "/static/../consentgate.toml",
        "/static/..%2fconsentgate.toml",
        "/static/%2e%2e/consentgate.toml",
        "/../../../../etc/passwd",
        "//etc/passwd",
        "/photo/1/full/../../../../etc/passwd",
        "/held/1/clean.jpg",
        "/consentgate.toml",
        "/consentgate.db",
        "/takedown?student=../../consentgate.toml",
    ] {
        let r = get(addr, path, &x);
        assert!(
            [400, 404, 405].contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(!forbidden(&r.text()), "{path} leaked a file");
    }

    // Even if the journal is edited to point elsewhere, or a link is planted in held/, the page
    // reads nothing outside held/<id>/.
    let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
    conn.execute("UPDATE photos SET held_dir = '.' WHERE id = 2", [])
        .unwrap();
    fs::write(ws.root.join("clean.jpg"), &config).unwrap();
    for path in ["/photo/2/full", "/photo/2/thumb", "/photo/2"] {
        let r = get(addr, path, &x);
        assert!([403, 404].contains(&r.status), "{path}: {}", r.status);
        assert!(!forbidden(&r.text()), "{path} leaked the config");
    }
    conn.execute("UPDATE photos SET held_dir = 'held/1' WHERE id = 2", [])
        .unwrap();
    let r = get(addr, "/photo/2/full", &x);
    assert!(
        [403, 404].contains(&r.status),
        "held/1 is not photo #2's folder"
    );
    conn.execute("UPDATE photos SET held_dir = 'held/2' WHERE id = 2", [])
        .unwrap();
    fs::remove_file(ws.root.join("held/2/clean.jpg")).unwrap();
    std::os::unix::fs::symlink(
        ws.root.join("consentgate.toml"),
        ws.root.join("held/2/clean.jpg"),
    )
    .unwrap();
    let r = get(addr, "/photo/2/full", &x);
    assert!([403, 404].contains(&r.status), "{}", r.status);
    assert!(!forbidden(&r.text()));
    // ...and approving it publishes nothing.
    let page = get(addr, "/photo/1", &x).text();
    let origin = format!("http://{addr}");
    let r = post(
        addr,
        "/photo/2/approve",
        &Extra {
            cookie: Some(&cookie),
            origin: Some(&origin),
            ..Extra::default()
        },
        &form(&[("csrf", &csrf(&page)), ("note", "try")]),
    );
    assert_ne!(r.status, 303);
    assert!(outbox_files(&ws).is_empty());
}

#[test]
fn captions_names_and_file_names_are_escaped() {
    let ws = held_workspace();
    let token = new_token(&ws);
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    let cookie = login(&server, "<b>Mod</b>", &token);
    let x = Extra {
        cookie: Some(&cookie),
        ..Extra::default()
    };
    for path in ["/queue", "/photo/1", "/photo/2", "/audit"] {
        let r = get(addr, path, &x);
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        assert!(!html.contains("<script>window"), "{path}: raw script");
        assert!(
            !html.contains("<img src=x"),
            "{path}: raw tag from the file name"
        );
        assert!(
            !html.contains("<b>Mod"),
            "{path}: raw tag from the moderator's name"
        );
        // Exactly one script element: the page's own.
        assert_eq!(html.matches("<script").count(), 1, "{path}");
    }
    let photo1 = get(addr, "/photo/1", &x).text();
    assert!(photo1.contains("&lt;script&gt;window.__xss"), "{photo1}");
    assert!(
        photo1.contains("<mark class=\"block\""),
        "the name is highlighted"
    );
    let photo2 = get(addr, "/photo/2", &x).text();
    assert!(photo2.contains("&lt;img src=x onerror=alert(1)&gt;.jpg"));
}

#[test]
fn loopback_by_default_other_hosts_refused_and_binding_elsewhere_warns() {
    let ws = held_workspace();
    let old_token = new_token(&ws);
    let server = Server::start(&ws);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);

    // A new token (`serve --new-token` while the page runs) ends every session and the old token.
    let cookie = login(&server, "J. Moderator", &old_token);
    let with_cookie = Extra {
        cookie: Some(&cookie),
        ..Extra::default()
    };
    assert_eq!(get(&server.addr, "/queue", &with_cookie).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let token = new_token(&ws);
    assert_eq!(get(&server.addr, "/queue", &with_cookie).status, 303);
    let origin = format!("http://{}", server.addr);
    let from_site = Extra {
        origin: Some(&origin),
        ..Extra::default()
    };
    let old = post(
        &server.addr,
        "/login",
        &from_site,
        &form(&[("name", "M"), ("token", &old_token)]),
    );
    assert_eq!(old.status, 401);
    login(&server, "J. Moderator", &token);
    // DNS rebinding: a page served as evil.example that resolves to 127.0.0.1.
    let port = server.addr.rsplit(':').next().unwrap();
    let evil = format!("evil.example:{port}");
    let r = get(
        &server.addr,
        "/login",
        &Extra {
            host: Some(&evil),
            ..Extra::default()
        },
    );
    assert_eq!(r.status, 421);
    let local = format!("localhost:{port}");
    let r = get(
        &server.addr,
        "/login",
        &Extra {
            host: Some(&local),
            ..Extra::default()
        },
    );
    assert_eq!(r.status, 200);
    drop(server);

    let wide = Server::start_with(&ws, &["--bind", "0.0.0.0"]);
    assert!(wide.addr.starts_with("0.0.0.0:"), "{}", wide.addr);
    let err = wide.stop_and_stderr();
    assert!(err.contains("WARNING"), "{err}");

    // Without a token the page does not start, and says how to make one.
    let bare = Ws::new();
    let cfg = bare.root.join("consentgate.toml");
    let text = fs::read_to_string(&cfg).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("login_token_sha256"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&cfg, text).unwrap();
    let out = bare.cg(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serve --new-token"));
}

#[test]
fn a_request_head_never_finished_is_closed_within_the_timeout() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let ws = Ws::new();
    new_token(&ws);
    let server = Server::start(&ws);
    // Half a request head: the request line and one header, never the blank line.
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server closing the connection ends the read (EOF, or a reset).
    let _ = s.read_to_end(&mut buf);
    let waited = started.elapsed();
    let timeout = Duration::from_secs(10);
    assert!(
        waited < timeout + Duration::from_secs(5),
        "connection held open for {waited:?}"
    );
    assert!(
        waited + Duration::from_secs(1) >= timeout,
        "closed after {waited:?}, before a slow client had its chance"
    );
    let answer = String::from_utf8_lossy(&buf);
    assert!(!answer.contains("200 OK"), "{answer}");
    // The page still answers complete requests.
    let r = get(&server.addr, "/login", &Extra::default());
    assert_eq!(r.status, 200, "{}", r.text());
}
