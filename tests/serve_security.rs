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
    // This test is about the checks every action passes, not about second opinions.
    ws.set_config("review.second_opinion", toml_edit::Array::new());
    ws.add_user("J. Moderator", "moderator");
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
        "/photo/1/blurred",
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

    // A wrong password is refused.
    let right = password("J. Moderator");
    let bad = post(
        addr,
        "/login",
        &x(None),
        &form(&[("name", "Mallory"), ("password", "0123456789abcdef")]),
    );
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    // A login form posted from another site is refused even with the right password (login CSRF).
    let cross = post(
        addr,
        "/login",
        &Extra {
            origin: Some("http://evil.example"),
            ..Extra::default()
        },
        &form(&[("name", "J. Moderator"), ("password", &right)]),
    );
    assert_eq!(cross.status, 403);
    assert!(cross.header("set-cookie").is_none());

    let cookie = login(&server, "J. Moderator");
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
    assert_eq!(last["actor"], "J. Moderator (account 2)");
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

    // Guessing is slowed (per account and per source), never blocked: after a few wrong
    // passwords every attempt waits and says so, and the right password still gets in.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = post(
            addr,
            "/login",
            &x(None),
            &form(&[("name", "J. Moderator"), ("password", "a guess at it")]),
        );
        assert!(r.header("set-cookie").is_none());
        if r.status == 429 {
            assert!(r.text().contains("slowed down"), "{}", r.text());
        }
        statuses.push(r.status);
    }
    assert!(
        statuses.iter().all(|s| [401, 429].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let r = post(
        addr,
        "/login",
        &x(None),
        &form(&[("name", "J. Moderator"), ("password", &right)]),
    );
    // Slowed down, but not locked out: whoever floods the login form cannot shut the moderator out.
    assert_eq!(
        r.status, 303,
        "the right password still logs in while guesses are slowed"
    );
    // Every failed login is in the audit trail, under the name that was tried.
    let audit = ws.cg(&["audit", "--subject", "user:J. Moderator", "--json"]);
    let text = String::from_utf8_lossy(&audit.stdout);
    assert_eq!(text.matches("\"login-failed\"").count(), 5, "{text}");
    assert!(text.contains("\"login\""), "{text}");
}

#[test]
fn no_url_reaches_a_file_outside_held() {
    let ws = held_workspace();
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    let cookie = login(&server, "head");
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
    make_legacy(&ws);
    let token = new_token(&ws);
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    // A self-declared name (the shared token of a workspace without accounts) is escaped too.
    let cookie = login_token(&server, "<b>Mod</b>", &token);
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
    let server = Server::start(&ws);
    assert!(server.addr.starts_with("127.0.0.1:"), "{}", server.addr);
    login(&server, "head");
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
}

/// Issue 13 part 6: a workspace made before accounts opens, its shared token works (and a new
/// token ends the old one's sessions) until the first account is made; from then on the token is
/// refused with a message that says how to log in, and `serve --new-token` is refused too.
#[test]
fn an_old_workspace_keeps_its_token_until_the_first_account_exists() {
    let ws = held_workspace();
    make_legacy(&ws);
    // Without accounts or a token the page does not start, and says how to make an account.
    let out = ws.cg(&["serve", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("users add"));

    let old_token = new_token(&ws);
    let server = Server::start(&ws);
    let cookie = login_token(&server, "J. Moderator", &old_token);
    let with_cookie = Extra {
        cookie: Some(&cookie),
        ..Extra::default()
    };
    assert_eq!(get(&server.addr, "/queue", &with_cookie).status, 200);
    // The review CLI works as before, unverified, without --as.
    let out = ws.cg_stdin(&["review", "list"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A new token ends the old one's sessions.
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
    let cookie = login_token(&server, "J. Moderator", &token);
    let with_cookie = Extra {
        cookie: Some(&cookie),
        ..Extra::default()
    };
    // A first approval given with the token is only a first approval: photo #1 names a student.
    let page = get(&server.addr, "/photo/1", &with_cookie).text();
    let r = post(
        &server.addr,
        "/photo/1/approve",
        &Extra {
            cookie: Some(&cookie),
            origin: Some(&origin),
            ..Extra::default()
        },
        &form(&[("csrf", &csrf(&page)), ("note", "looks fine")]),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(ws.files_under("outbox").is_empty());

    // The first account: made without --as (nobody to check yet), it must be a senior.
    let out = ws.cg_stdin(&["users", "add", "amy", "--role", "moderator"], "");
    assert!(!out.status.success());
    let out = ws.cg_stdin(&["users", "add", "sam", "--role", "senior"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws.setup_user("sam", &setup_code(&out.stdout));
    // The token's session ended, the token is refused with how to log in.
    assert_eq!(get(&server.addr, "/queue", &with_cookie).status, 303);
    let r = post(
        &server.addr,
        "/login",
        &from_site,
        &form(&[("name", "M"), ("token", &token)]),
    );
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains("no longer works") && r.text().contains("own name and password"),
        "{}",
        r.text()
    );
    let out = ws.cg(&["serve", "--new-token"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("users add"));
    // The CLI now needs an account.
    let out = ws.cg_stdin(&["review", "list"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--as NAME"));
    // The senior gives the second opinion on the token's first approval.
    let out = ws.cg(&["--as", "sam", "review", "approve", "1", "--note", "agreed"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("released to"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(ws.files_under("outbox").len(), 1);
    let audit = ws.cg(&["audit", "--subject", "photo #1", "--json"]);
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains("\"first-approval\"") && text.contains("\"actor\":\"sam (account 1)\""),
        "{text}"
    );
}

#[test]
fn a_request_head_never_finished_is_closed_within_the_timeout() {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    let ws = Ws::new();
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

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An action's POST with a session's CSRF token (read from `page`).
fn act(server: &Server, cookie: &str, page: &str, path: &str, note: &str) -> Resp {
    let own = format!("http://{}", server.addr);
    let x = from_site(&own, Some(cookie));
    let token = csrf(&get(&server.addr, page, &x).text());
    post(
        &server.addr,
        path,
        &x,
        &form(&[("csrf", &token), ("note", note)]),
    )
}

/// Issue 13 part 5: roles on every route and command, four eyes that one person cannot give
/// twice (not with two sessions, not with the page and the CLI), a disabled account's session
/// dead at once, sessions a senior lists and revokes.
#[test]
fn roles_second_opinions_and_sessions_are_enforced_on_the_page_and_the_cli() {
    // #1 and #2 are held because their captions name students: both need a second opinion.
    let ws = held_workspace();
    for (name, role) in [
        ("amy", "moderator"),
        ("bob", "moderator"),
        ("sam", "senior"),
        ("stu", "staff"),
    ] {
        ws.add_user(name, role);
    }
    let server = Server::start(&ws);
    let addr = server.addr.as_str();
    let own = format!("http://{addr}");
    let x = |cookie| from_site(&own, cookie);

    // Staff: logged in, but no review page, action or command.
    let stu = login(&server, "stu");
    for path in ["/queue", "/photo/1", "/photo/1/full", "/audit", "/users"] {
        let r = get(addr, path, &x(Some(&stu)));
        assert_eq!(r.status, 403, "staff GET {path}");
        assert!(!r.text().contains("Olivia"), "{path}");
    }
    let r = act(&server, &stu, "/me", "/photo/1/approve", "let me");
    assert_eq!(r.status, 403);
    let out = ws.cg(&["--as", "stu", "review", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("staff account"),
        "{}",
        stderr_of(&out)
    );

    // A moderator's approval of #1 is the first; the page says so and who gave it.
    let amy = login(&server, "amy");
    let r = act(
        &server,
        &amy,
        "/photo/1",
        "/photo/1/approve",
        "parent agreed",
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(state_of(&ws, 1), "held");
    assert!(outbox_files(&ws).is_empty());
    let page = get(addr, "/photo/1", &x(Some(&amy))).text();
    assert!(
        page.contains("Awaiting second opinion (approved by amy at"),
        "{page}"
    );
    let queue = get(addr, "/queue", &x(Some(&amy))).text();
    assert!(
        queue.contains("Awaiting second opinion (approved by amy)"),
        "{queue}"
    );
    // "Ask a senior", on the page and the command line: a note on the photo, which stays held.
    let r = act(
        &server,
        &amy,
        "/photo/1",
        "/photo/1/ask",
        "is the caption fine?",
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let page = get(addr, "/photo/1", &x(Some(&amy))).text();
    assert!(page.contains("Ask a senior (amy, "), "{page}");
    assert!(page.contains("is the caption fine?"));
    let out = ws.cg(&["--as", "bob", "review", "ask", "2", "--note", "please look"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let show = ws.cg(&["review", "show", "2"]);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.contains("ask a senior (bob") && show.contains("please look"),
        "{show}"
    );
    let show = ws.cg(&["review", "show", "1"]);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("AWAITING SECOND OPINION (approved by amy")
    );
    // Not again by amy: not in the same session, another session, or on the command line.
    let r = act(&server, &amy, "/photo/1", "/photo/1/approve", "again");
    assert_eq!(r.status, 403, "{}", r.text());
    let amy2 = login(&server, "amy");
    let r = act(&server, &amy2, "/photo/1", "/photo/1/approve", "again");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("a different senior"), "{}", r.text());
    let out = ws.cg(&["--as", "amy", "review", "approve", "1", "--note", "again"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("a different senior"),
        "{}",
        stderr_of(&out)
    );
    // Not by another moderator: the second opinion is a senior's.
    let bob = login(&server, "bob");
    let r = act(&server, &bob, "/photo/1", "/photo/1/approve", "fine by me");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("senior"), "{}", r.text());
    let out = ws.cg(&["--as", "bob", "review", "approve", "1", "--note", "fine"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(state_of(&ws, 1), "held");
    assert!(outbox_files(&ws).is_empty());

    // Moderators do not manage accounts or sessions.
    assert_eq!(get(addr, "/users", &x(Some(&amy))).status, 403);
    let r = act(&server, &amy, "/queue", "/sessions/1/revoke", "");
    assert_eq!(r.status, 403);
    for args in [
        &["--as", "amy", "users", "add", "eve", "--role", "senior"][..],
        &["--as", "amy", "users", "disable", "bob"],
        &["--as", "amy", "users", "reset", "head"],
        &["--as", "amy", "users", "list"],
        &["--as", "amy", "users", "sessions"],
    ] {
        let out = ws.cg(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_of(&out).contains("senior"),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    // A wrong password on the command line does nothing.
    let out = ws.cg_stdin(
        &[
            "--as",
            "sam",
            "--password-stdin",
            "review",
            "approve",
            "1",
            "--note",
            "x",
        ],
        "not sam's password\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("wrong name or password"));
    assert_eq!(state_of(&ws, 1), "held");

    // A senior gives the second opinion on the command line: released, both names recorded.
    let out = ws.cg(&["--as", "sam", "review", "approve", "1", "--note", "agreed"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(state_of(&ws, 1), "approved");
    assert_eq!(outbox_files(&ws).len(), 1);
    let audit = ws.cg(&["audit", "--subject", "photo #1", "--json"]);
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&audit.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let approved = rows.iter().find(|r| r["action"] == "approved").unwrap();
    assert_eq!(approved["actor"], "sam (account 4)");
    assert_eq!(
        approved["detail"]["second_opinion"]["first_approval"]["by"],
        "amy"
    );

    // A senior's own first approval (#2, on the page) needs a different senior too.
    let head = login(&server, "head");
    let r = act(&server, &head, "/photo/2", "/photo/2/approve", "ok");
    assert_eq!(r.status, 303);
    let head2 = login(&server, "head");
    let r = act(&server, &head2, "/photo/2", "/photo/2/approve", "ok again");
    assert_eq!(r.status, 403);
    let out = ws.cg(&["review", "approve", "2", "--note", "ok again"]);
    assert_eq!(out.status.code(), Some(2), "as head on the CLI");
    assert_eq!(state_of(&ws, 2), "held");
    let sam = login(&server, "sam");
    let r = act(&server, &sam, "/photo/2", "/photo/2/approve", "agreed");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(state_of(&ws, 2), "approved");

    // A senior sees the sessions and revokes one; the revoked session is dead at once.
    let users = get(addr, "/users", &x(Some(&head))).text();
    assert!(users.contains("amy") && users.contains("stu"), "{users}");
    let out = ws.cg(&["users", "sessions", "--json"]);
    let sessions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bob_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "bob")
        .unwrap()["number"]
        .as_i64()
        .unwrap();
    assert_eq!(get(addr, "/queue", &x(Some(&bob))).status, 200);
    let r = act(
        &server,
        &head,
        "/users",
        &format!("/sessions/{bob_session}/revoke"),
        "",
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(get(addr, "/queue", &x(Some(&bob))).status, 303);

    // Disabling an account ends its sessions at once, from another process.
    assert_eq!(get(addr, "/queue", &x(Some(&amy))).status, 200);
    let page = get(addr, "/queue", &x(Some(&amy))).text();
    let amy_csrf = csrf(&page);
    let out = ws.cg(&["users", "disable", "amy"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(get(addr, "/queue", &x(Some(&amy))).status, 303);
    assert_eq!(get(addr, "/queue", &x(Some(&amy2))).status, 303);
    let r = post(
        addr,
        "/logout",
        &x(Some(&amy)),
        &form(&[("csrf", &amy_csrf)]),
    );
    assert_eq!(r.status, 401);
    let r = post(
        addr,
        "/login",
        &x(None),
        &form(&[("name", "amy"), ("password", &password("amy"))]),
    );
    assert_eq!(r.status, 401, "a disabled account cannot log in");

    // Everything amy did and had done to her, with her account named.
    let out = ws.cg(&["audit", "--subject", "user:amy", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for action in [
        "user-added",
        "password-set",
        "login",
        "first-approval",
        "user-disabled",
    ] {
        assert!(
            text.contains(&format!("\"action\":\"{action}\"")),
            "{action}: {text}"
        );
    }
    assert!(!text.contains("\"actor\":\"bob"), "{text}");
    // The stored password hashes are argon2id at OWASP's minimum or above.
    let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM accounts WHERE name = 'sam'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let verify = ws.cg(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "the chain holds every account entry"
    );
}
