//! Who may do what: login, sessions, CSRF tokens, same-origin and Host checks.
//!
//! Every page handler takes a [`Moderator`] (a live session, else a redirect to the login page)
//! and every action handler an [`Action`] (same origin, a live session and the session's CSRF
//! token, checked in that order, before the form is even parsed), so no handler can forget one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::token::random_hex;
use super::{html, App, Session};

/// The session cookie's name.
pub const COOKIE: &str = "cg_session";
/// A session unused for this long ends.
const IDLE: Duration = Duration::from_secs(2 * 3600);
/// No session lasts longer than a working day.
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// After this many failed logins in `FAILURE_WINDOW`, every attempt waits `GUESSING_DELAY`.
const MAX_FAILURES: usize = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Extra wait for every login attempt while `MAX_FAILURES` wrong tokens are in the window.
const GUESSING_DELAY: Duration = Duration::from_secs(2);
/// Forms are small; anything larger is refused before it is parsed.
pub const FORM_LIMIT: usize = 64 * 1024;
/// Longest moderator name (it goes into every audit entry).
const MAX_NAME_CHARS: usize = 80;

/// A refused request, shown as a small page that says what to do next.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::response::Html(html::error_page(self.status, &self.message).into_string()),
        )
            .into_response()
    }
}

/// On loopback, the `Host` header must name loopback: a page on another site whose name was
/// re-pointed at 127.0.0.1 (DNS rebinding) is refused.
pub fn check_host(app: &App, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(allowed) = &app.hosts else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this review page only answers to its own address; open it as http://127.0.0.1:PORT/",
        ))
    }
}

/// A state-changing request must come from a page of this site: a browser says so in `Origin`
/// (or, failing that, `Referer`) and `Sec-Fetch-Site`. A request that says nothing is refused.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refuse = |why: &str| {
        Refusal::new(
            StatusCode::FORBIDDEN,
            format!("refused: {why}. Actions are only accepted from the review page itself; reload it and try again"),
        )
    };
    let host = get(header::HOST.as_str()).ok_or_else(|| refuse("the request names no host"))?;
    let own = format!("http://{host}");
    if let Some(site) = get("sec-fetch-site") {
        if site != "same-origin" {
            return Err(refuse("the request came from another site"));
        }
    }
    if let Some(origin) = get(header::ORIGIN.as_str()) {
        return if origin.eq_ignore_ascii_case(&own) {
            Ok(())
        } else {
            Err(refuse("the request came from another site"))
        };
    }
    match get(header::REFERER.as_str()) {
        Some(r) if r.len() > own.len() && r[..own.len()].eq_ignore_ascii_case(&own) => {
            if r.as_bytes()[own.len()] == b'/' {
                Ok(())
            } else {
                Err(refuse("the request came from another site"))
            }
        }
        Some(_) => Err(refuse("the request came from another site")),
        None => Err(refuse("the request does not say where it came from")),
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .flatten()
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
}

/// A logged-in moderator, for one request.
#[derive(Debug, Clone)]
pub struct Moderator {
    sid: String,
    /// Their name as they gave it at login: it goes into every audit entry.
    pub name: String,
    /// The session's CSRF token, for the forms on the page.
    pub csrf: String,
    /// A message left by the previous action.
    pub flash: Option<String>,
}

impl App {
    /// The login token's current hash. When `consentgate.toml` has changed since it was read, it
    /// is read again; a new token (or a config that no longer loads, or has no token) ends every
    /// session, so rotating a leaked token shuts out whoever had it.
    fn current_token(&self) -> Option<String> {
        let path = self.ws.root.join(crate::workspace::CONFIG_FILE);
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mut token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if modified.is_none() || modified != token.modified {
            let fresh = crate::config::Config::load(&path)
                .ok()
                .and_then(|c| c.serve.login_token_sha256);
            if fresh.is_none() || fresh != token.sha256 {
                self.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
            }
            token.sha256 = fresh;
            token.modified = modified;
        }
        token.sha256.clone()
    }

    /// The live session the request's cookie names (refreshing its idle timer).
    fn moderator(&self, headers: &HeaderMap, take_flash: bool) -> Option<Moderator> {
        let sid = session_id(headers)?;
        self.current_token()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let s = sessions.get_mut(&sid)?;
        if now.duration_since(s.last_seen) > IDLE || now.duration_since(s.created) > MAX_AGE {
            sessions.remove(&sid);
            return None;
        }
        s.last_seen = now;
        Some(Moderator {
            name: s.name.clone(),
            csrf: s.csrf.clone(),
            flash: if take_flash { s.flash.take() } else { None },
            sid,
        })
    }

    /// Whether the request's cookie names a live session.
    pub fn has_session(&self, headers: &HeaderMap) -> bool {
        self.moderator(headers, false).is_some()
    }

    /// Leave a message for the moderator's next page.
    pub fn flash(&self, who: &Moderator, message: String) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sessions.get_mut(&who.sid) {
            s.flash = Some(message);
        }
    }

    /// End a session.
    pub fn logout(&self, who: &Moderator) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.remove(&who.sid);
    }

    /// Check a login; on success start a session and return its cookie.
    pub async fn login(&self, name: &str, token: &str) -> Result<String, Refusal> {
        // After many wrong tokens every attempt is slowed down, but the right token still gets
        // in: a 128-bit token cannot be guessed anyway, and refusing it would let anyone who can
        // reach the port lock the moderator out.
        let guessing = {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            while failures
                .front()
                .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
            {
                failures.pop_front();
            }
            failures.len() >= MAX_FAILURES
        };
        if guessing {
            tokio::time::sleep(GUESSING_DELAY).await;
        }
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("give your name (1 to {MAX_NAME_CHARS} characters): it is recorded with everything you do"),
            ));
        }
        let Some(stored) = self.current_token() else {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this workspace has no valid login token; create one with `consentgate serve --new-token`",
            ));
        };
        if !super::token::matches(&stored, token) {
            self.failures
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back(Instant::now());
            // Slow guessing down without holding up anyone else.
            tokio::time::sleep(Duration::from_millis(500)).await;
            if guessing {
                return Err(Refusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many wrong login tokens; every attempt is now slowed down for ten minutes. Check the token, or create a new one with `consentgate serve --new-token`",
                ));
            }
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "that login token is not right; ask whoever runs consentgate for the current one",
            ));
        }
        let internal = |e: super::token::TokenError| {
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        };
        let sid = random_hex(32).map_err(internal)?;
        let csrf = random_hex(32).map_err(internal)?;
        let now = Instant::now();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| {
            now.duration_since(s.last_seen) <= IDLE && now.duration_since(s.created) <= MAX_AGE
        });
        sessions.insert(
            sid.clone(),
            Session {
                name: name.to_string(),
                csrf,
                created: now,
                last_seen: now,
                flash: None,
            },
        );
        Ok(session_cookie(&sid))
    }
}

/// `Set-Cookie` for a session: script cannot read it, no other site's request carries it.
fn session_cookie(sid: &str) -> String {
    Cookie::build((COOKIE, sid.to_string()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .build()
        .to_string()
}

/// `Set-Cookie` that removes the session cookie.
pub fn expired_cookie() -> String {
    let mut c = Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .build();
    c.make_removal();
    c.to_string()
}

impl FromRequestParts<Arc<App>> for Moderator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        check_host(app, &parts.headers).map_err(IntoResponse::into_response)?;
        app.moderator(&parts.headers, true)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// A state-changing request: from this site, by a logged-in moderator, with the session's CSRF
/// token; `form` is the rest of the submitted form.
pub struct Action<T> {
    pub who: Moderator,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<Arc<App>> for Action<T> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let refuse = |r: Refusal| r.into_response();
        check_host(app, &parts.headers).map_err(refuse)?;
        check_same_origin(&parts.headers).map_err(refuse)?;
        let who = app.moderator(&parts.headers, false).ok_or_else(|| {
            refuse(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "you are not logged in (or your session ended); log in again",
            ))
        })?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| {
            refuse(Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is too large",
            ))
        })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| refuse(Refusal::new(StatusCode::BAD_REQUEST, e.to_string())))?;
        let offered = fields
            .iter()
            .find(|(k, _)| k == "csrf")
            .map_or("", |(_, v)| v.as_str());
        if !bool::from(offered.as_bytes().ct_eq(who.csrf.as_bytes())) {
            return Err(refuse(Refusal::new(
                StatusCode::FORBIDDEN,
                "refused: the form's security token is missing or out of date; reload the page and try again",
            )));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            refuse(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("the form is incomplete ({e}); reload the page and try again"),
            ))
        })?;
        Ok(Action { who, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_is_required_for_actions() {
        let host = ("host", "127.0.0.1:8470");
        let ok = [
            headers(&[host, ("origin", "http://127.0.0.1:8470")]),
            headers(&[
                host,
                ("origin", "http://127.0.0.1:8470"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[host, ("referer", "http://127.0.0.1:8470/photo/3")]),
        ];
        for h in &ok {
            assert!(check_same_origin(h).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[host]),
            headers(&[host, ("origin", "http://evil.example")]),
            headers(&[host, ("origin", "null")]),
            headers(&[host, ("origin", "http://127.0.0.1:8470.evil.example")]),
            headers(&[host, ("referer", "http://127.0.0.1:8470.evil.example/")]),
            headers(&[
                host,
                ("referer", "http://evil.example/http://127.0.0.1:8470/"),
            ]),
            headers(&[
                host,
                ("origin", "http://127.0.0.1:8470"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[("origin", "http://127.0.0.1:8470")]),
        ];
        for h in &refused {
            assert_eq!(
                check_same_origin(h).err().map(|r| r.status),
                Some(StatusCode::FORBIDDEN),
                "{h:?}"
            );
        }
    }

    #[test]
    fn the_session_cookie_is_http_only_and_strict() {
        let c = session_cookie("abc");
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
            "{c}"
        );
        assert!(expired_cookie().contains("Max-Age=0"));
    }
}
