//! The review page under test: the real binary serving a real workspace, and a plain HTTP/1.1
//! client on a TcpStream (so requests can carry raw, un-normalised paths like `/photo/../x`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::workspace::{Ws, BIN};

/// `consentgate serve --port 0` on a workspace; killed (by its own pid) when dropped.
pub struct Server {
    child: Child,
    /// "127.0.0.1:PORT"
    pub addr: String,
}

impl Server {
    pub fn start(ws: &Ws) -> Server {
        Server::start_with(ws, &[])
    }

    pub fn start_with(ws: &Ws, args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("-w")
            .arg(&ws.root)
            .args(["--as", "test-runner", "serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn consentgate serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(rest) = line.split("http://").nth(1) else {
            let mut err = String::new();
            let _ = child.kill();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("serve did not start: stdout {line:?}, stderr {err}");
        };
        let addr = rest.split('/').next().unwrap().to_string();
        Server { child, addr }
    }

    /// What the server printed on stderr so far (kills it first).
    pub fn stop_and_stderr(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        err
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh login token for a workspace without accounts (`serve --new-token`).
pub fn new_token(ws: &Ws) -> String {
    let out = ws.cg(&["serve", "--new-token"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("token")).unwrap();
    line.split_whitespace().last().unwrap().to_string()
}

/// A workspace (demo register) whose gate run held photos:
/// #1 `relay.jpg` with a sidecar caption that names Olivia Smith and carries a script tag,
/// #2 a file whose *name* is an HTML tag, with a caption that names Aarav Patel.
pub fn held_workspace() -> Ws {
    let ws = Ws::with_demo_register();
    ws.drop_file("relay.jpg", &super::workspace::jpeg(640, 480, 7));
    ws.drop_file(
        "relay.txt",
        b"<script>window.__xss = 1; alert('xss')</script> Well done Olivia Smith!",
    );
    std::thread::sleep(Duration::from_millis(20));
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    ws.drop_file(
        "<img src=x onerror=alert(1)>.jpg",
        &super::workspace::jpeg(320, 240, 99),
    );
    ws.drop_file("<img src=x onerror=alert(1)>.txt", b"Aarav Patel, 100m");
    let (lines, _, code) = ws.run_json("website");
    assert_eq!(code, 1, "{lines:#?}");
    ws.head_ready();
    ws
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send raw request bytes and read the whole response (`Connection: close`).
pub fn raw(addr: &str, request: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
        "this test client reads only sized bodies"
    );
    Resp {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

/// Optional request headers.
#[derive(Default, Clone)]
pub struct Extra<'a> {
    pub cookie: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub fetch_site: Option<&'a str>,
    pub host: Option<&'a str>,
}

fn request(addr: &str, method: &str, path: &str, x: &Extra, body: &str) -> Resp {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        x.host.unwrap_or(addr)
    );
    for (name, value) in [
        ("Cookie", x.cookie),
        ("Origin", x.origin),
        ("Referer", x.referer),
        ("Sec-Fetch-Site", x.fetch_site),
    ] {
        if let Some(v) = value {
            req.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    raw(addr, req.as_bytes())
}

pub fn get(addr: &str, path: &str, x: &Extra) -> Resp {
    request(addr, "GET", path, x, "")
}

pub fn post(addr: &str, path: &str, x: &Extra, body: &str) -> Resp {
    request(addr, "POST", path, x, body)
}

/// Form encoding for a request body.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Log in with the shared token (a workspace without accounts); returns the cookie pair.
pub fn login_token(server: &Server, name: &str, token: &str) -> String {
    login_form(server, &[("name", name), ("token", token)])
}

/// Log in as account `name` with its test password; returns the `cg_session=...` cookie pair.
pub fn login(server: &Server, name: &str) -> String {
    login_form(
        server,
        &[
            ("name", name),
            ("password", &super::workspace::password(name)),
        ],
    )
}

fn login_form(server: &Server, fields: &[(&str, &str)]) -> String {
    let origin = format!("http://{}", server.addr);
    let r = post(
        &server.addr,
        "/login",
        &Extra {
            origin: Some(&origin),
            ..Extra::default()
        },
        &form(fields),
    );
    assert_eq!(r.status, 303, "login: {}", r.text());
    let cookie = r.header("set-cookie").expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

/// Turn `ws` into a workspace made before accounts (schema version 5, no accounts), as an
/// older consentgate left it.
pub fn make_legacy(ws: &Ws) {
    let conn = rusqlite::Connection::open(ws.root.join("consentgate.db")).unwrap();
    conn.execute_batch(
        "DROP TABLE senior_requests; DROP TABLE first_approvals; DROP TABLE sessions; DROP TABLE accounts;
         ALTER TABLE photos DROP COLUMN texts; PRAGMA user_version = 5;",
    )
    .unwrap();
}

/// The CSRF token in a page's forms.
pub fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}
