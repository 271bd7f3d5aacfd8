//! Who may do what: login, sessions, roles, CSRF tokens, same-origin and Host checks.
//!
//! Every page handler takes a [`Moderator`] (a live session of a moderator or senior, else a
//! redirect to the login page), [`Senior`] or [`Signed`] (any role), and every action handler an
//! [`Action`] (same origin, a live session of the required role and the session's CSRF token,
//! checked in that order, before the form is even parsed), so no handler can forget one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::{html, App};
use crate::accounts::{self, Account, AccountError, Actor, Role};

/// The session cookie's name.
pub const COOKIE: &str = "cg_session";
/// No session lasts longer than a working day (the idle limit is `[serve] session_idle_minutes`).
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Forms are small; anything larger is refused before it is parsed.
pub const FORM_LIMIT: usize = 64 * 1024;
/// Longest self-declared name with the shared token (it goes into every audit entry).
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

/// A logged-in person, for one request.
#[derive(Debug, Clone)]
pub struct Moderator {
    /// The session's public number.
    pub session: i64,
    /// Their account's name (or, with the shared token, the name they gave).
    pub name: String,
    /// Who they are for checks and the audit trail.
    pub actor: Actor,
    /// The session's CSRF token, for the forms on the page.
    pub csrf: String,
    /// A message left by the previous action.
    pub flash: Option<String>,
}

impl Moderator {
    pub fn role(&self) -> Role {
        self.actor.role()
    }
    pub fn is_senior(&self) -> bool {
        self.role() == Role::Senior && self.actor.account_id().is_some()
    }
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}; try again"))
}

impl App {
    /// The shared login token's current hash. When `consentgate.toml` has changed since it was
    /// read, it is read again; sessions made with another token no longer count.
    fn current_token(&self) -> Option<String> {
        let path = self.ws.root.join(crate::workspace::CONFIG_FILE);
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let mut token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if modified.is_none() || modified != token.modified {
            token.sha256 = crate::config::Config::load(&path)
                .ok()
                .and_then(|c| c.serve.login_token_sha256);
            token.modified = modified;
        }
        token.sha256.clone()
    }

    /// The live session the request's cookie names (refreshing its idle timer). A disabled
    /// account's session is dead at its next request.
    async fn moderator(
        self: &Arc<Self>,
        headers: &HeaderMap,
        take_flash: bool,
    ) -> Option<Moderator> {
        let sid = session_id(headers)?;
        let token = self.current_token();
        let app = self.clone();
        let info = tokio::task::spawn_blocking(move || {
            let conn = app.ws.db().ok()?;
            accounts::lookup_session(&conn, &sid, token.as_deref(), app.limits)
                .ok()
                .flatten()
        })
        .await
        .ok()??;
        let actor = match info.account {
            Some(a) => Actor::Account(a),
            None => Actor::Unverified(info.name.clone()),
        };
        let flash = if take_flash {
            self.flashes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&info.number)
        } else {
            None
        };
        Some(Moderator {
            session: info.number,
            name: info.name,
            actor,
            csrf: info.csrf,
            flash,
        })
    }

    /// Whether the request's cookie names a live session.
    pub async fn has_session(self: &Arc<Self>, headers: &HeaderMap) -> bool {
        self.moderator(headers, false).await.is_some()
    }

    /// Whether the workspace has accounts (then only they log in).
    pub async fn has_accounts(self: &Arc<Self>) -> Result<bool, Refusal> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = app.ws.db().map_err(internal)?;
            accounts::any_accounts(&conn).map_err(internal)
        })
        .await
        .map_err(internal)?
    }

    /// Leave a message for the moderator's next page.
    pub fn flash(&self, who: &Moderator, message: String) {
        self.flashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(who.session, message);
    }

    /// End a session.
    pub async fn logout(self: &Arc<Self>, who: &Moderator) {
        let app = self.clone();
        let n = who.session;
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(conn) = app.ws.db() {
                let _ = accounts::end_session(&conn, n);
            }
        })
        .await;
        self.flashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&n);
    }

    /// One attempt at a time per source: parallel guesses from one address queue up behind the
    /// slowing-down wait instead of running side by side.
    fn source_lock(&self, source: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.source_locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks.len() > 10_000 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(source.to_string()).or_default().clone()
    }

    /// Run `check` (name, secret) with guessing slowed down per account and per source: after a
    /// few failures every attempt waits first, but a right answer always gets in. Returns what
    /// `check` returned, or the refusal to show.
    async fn throttled<T: Send + 'static>(
        self: &Arc<Self>,
        name: &str,
        source: &str,
        check: impl FnOnce(&App) -> Result<T, Refusal> + Send + 'static,
    ) -> Result<T, Refusal> {
        let lock = self.source_lock(source);
        let _one_at_a_time = lock.lock().await;
        let wait = self
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait(name, source, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let app = self.clone();
        let result = tokio::task::spawn_blocking(move || check(&app))
            .await
            .map_err(internal)?;
        if let Err(r) = &result {
            if r.status == StatusCode::UNAUTHORIZED {
                self.throttle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .failed(name, source, Instant::now());
                if !wait.is_zero() || self.throttle_waits(name, source) {
                    return Err(Refusal::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!("{} Too many failed attempts for this account or from this computer: every attempt is now slowed down (for up to 15 minutes), but the right password still works.", r.message),
                    ));
                }
            }
        }
        result
    }

    fn throttle_waits(&self, name: &str, source: &str) -> bool {
        !self
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait(name, source, Instant::now())
            .is_zero()
    }

    /// Check a login; on success start a session and return its cookie and the account's role.
    /// With accounts: name and password. Without (a workspace made before accounts): the shared
    /// token with a self-declared name, until the first account exists.
    pub async fn login(
        self: &Arc<Self>,
        name: &str,
        password: &str,
        token: &str,
        source: &str,
    ) -> Result<(String, Role), Refusal> {
        let name = name.trim().to_string();
        if self.has_accounts().await? {
            if password.is_empty() && !token.trim().is_empty() {
                return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "the shared login token no longer works: this workspace has accounts now. Log in with your own name and password (the first time, choose your password with your one-time code at /setup); a senior leader makes accounts with `consentgate users add NAME --role moderator`",
                ));
            }
            let (password, src) = (password.to_string(), source.to_string());
            let n = name.clone();
            return self
                .throttled(&name, source, move |app| {
                    let conn = app.ws.db().map_err(internal)?;
                    let a = accounts::authenticate(&conn, &n, &password, "review page", &src)
                        .map_err(account_refusal)?;
                    start_session(&conn, &a, &src, "login")
                })
                .await;
        }
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
                "this workspace has no accounts and no valid login token; make the first account with `consentgate users add NAME --role senior`",
            ));
        };
        let (token, src) = (token.to_string(), source.to_string());
        self.throttled("shared token", source, move |app| {
            if !super::token::matches(&stored, &token) {
                return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "that login token is not right; ask whoever runs consentgate for the current one",
                ));
            }
            let conn = app.ws.db().map_err(internal)?;
            let (sid, _) = accounts::create_session(&conn, None, &name, Some(&stored), &src)
                .map_err(internal)?;
            Ok((session_cookie(&sid), Role::Moderator))
        })
        .await
    }

    /// Choose a password with a one-time set-up code, and log in.
    pub async fn setup(
        self: &Arc<Self>,
        name: &str,
        code: &str,
        password: &str,
        again: &str,
        source: &str,
    ) -> Result<(String, Role), Refusal> {
        if password != again {
            return Err(account_refusal(AccountError::PasswordsDiffer));
        }
        let (n, code, password, src) = (
            name.trim().to_string(),
            code.trim().to_string(),
            password.to_string(),
            source.to_string(),
        );
        self.throttled(name, source, move |app| {
            let mut conn = app.ws.db().map_err(internal)?;
            let a = accounts::complete_setup(&mut conn, &n, &code, &password, &src)
                .map_err(account_refusal)?;
            start_session(&conn, &a, &src, "login")
        })
        .await
    }
}

/// A session for a checked account, recorded in the audit trail.
fn start_session(
    conn: &rusqlite::Connection,
    a: &Account,
    source: &str,
    action: &str,
) -> Result<(String, Role), Refusal> {
    let (sid, _) =
        accounts::create_session(conn, Some(a), &a.name, None, source).map_err(internal)?;
    crate::audit::record(
        conn,
        &accounts::account_actor(a),
        action,
        &accounts::subject(&a.name),
        &serde_json::json!({"via": "review page", "source": source}),
        chrono::Utc::now(),
    )
    .map_err(internal)?;
    Ok((session_cookie(&sid), a.role))
}

/// An account error as a page.
pub fn account_refusal(e: AccountError) -> Refusal {
    let status = match &e {
        AccountError::BadLogin | AccountError::BadSetupCode => StatusCode::UNAUTHORIZED,
        AccountError::NeedsSenior(_) | AccountError::LastSenior(_) => StatusCode::FORBIDDEN,
        AccountError::Sql(_) | AccountError::Random(_) | AccountError::Hash(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    Refusal::new(status, e.to_string())
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

/// The roles, as numbers for the extractors' const parameters.
pub const ANY: u8 = 0;
pub const MODERATOR: u8 = 1;
pub const SENIOR: u8 = 2;

fn role_allows(role: Role, senior_account: bool, min: u8) -> bool {
    match min {
        ANY => true,
        MODERATOR => role >= Role::Moderator,
        _ => senior_account,
    }
}

fn role_refusal(who: &Moderator, min: u8) -> Refusal {
    let need = if min >= SENIOR {
        "a senior account"
    } else {
        "a moderator or senior account"
    };
    Refusal::new(
        StatusCode::FORBIDDEN,
        format!(
            "this needs {need}; you are signed in as {} ({}). Ask a senior leader if you need more",
            who.name,
            who.role().as_str()
        ),
    )
}

/// A page for a logged-in person whose role is at least `MIN`.
pub struct Page<const MIN: u8>(pub Moderator);

impl<const MIN: u8> FromRequestParts<Arc<App>> for Page<MIN> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        check_host(app, &parts.headers).map_err(IntoResponse::into_response)?;
        let who = app
            .moderator(&parts.headers, true)
            .await
            .ok_or_else(|| Redirect::to("/login").into_response())?;
        if !role_allows(who.role(), who.is_senior(), MIN) {
            return Err(role_refusal(&who, MIN).into_response());
        }
        Ok(Page(who))
    }
}

impl FromRequestParts<Arc<App>> for Moderator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        Page::<MODERATOR>::from_request_parts(parts, app)
            .await
            .map(|p| p.0)
    }
}

/// A state-changing request: from this site, by a logged-in person whose role is at least
/// `MIN`, with the session's CSRF token; `form` is the rest of the submitted form.
pub struct Action<T, const MIN: u8 = MODERATOR> {
    pub who: Moderator,
    pub form: T,
}

impl<T: DeserializeOwned + Send, const MIN: u8> FromRequest<Arc<App>> for Action<T, MIN> {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let refuse = |r: Refusal| r.into_response();
        check_host(app, &parts.headers).map_err(refuse)?;
        check_same_origin(&parts.headers).map_err(refuse)?;
        let who = app.moderator(&parts.headers, false).await.ok_or_else(|| {
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
        if !role_allows(who.role(), who.is_senior(), MIN) {
            return Err(refuse(role_refusal(&who, MIN)));
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
