//! URLs and handlers. Pages are GET and change nothing; actions are POST through [`Action`].
//! Photo ids in URLs are parsed as positive integers and looked up in the journal; files are
//! read only through `review` (inside `held/`), so no URL text ever becomes part of a path.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

use super::auth::{self, Action, Moderator, Page, Refusal, ANY, SENIOR};
use super::{assets, html, images, App, Peer};
use crate::accounts::{self, Actor, Role};
use crate::captions::TextSource;
use crate::faces::FaceEngine;
use crate::journal::{self, JournalError};
use crate::register;
use crate::review::{self, ReviewError};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/setup", get(setup_page).post(setup))
        .route("/me", get(me))
        .route("/users", get(users))
        .route("/sessions/{n}/revoke", post(revoke_session))
        .route("/photo/{id}/ask", post(ask_senior))
        .route("/queue", get(queue))
        .route("/photo/{id}", get(photo))
        .route("/photo/{id}/thumb", get(thumb))
        .route("/photo/{id}/preview", get(preview))
        .route("/photo/{id}/full", get(full))
        .route("/photo/{id}/approve", post(approve))
        .route("/photo/{id}/reject", post(reject))
        .route("/photo/{id}/redact", post(redact))
        .route("/photo/{id}/caption", post(edit_caption))
        .route("/photo/{id}/face", post(attribute_face))
        .route("/audit", get(audit))
        .route("/takedown", get(takedown))
        .route("/static/style.css", get(assets::css))
        .route("/static/app.js", get(assets::js))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(auth::FORM_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// Headers on every response: no framing, no sniffing, no referrer to other sites, no caching of
/// children's data, scripts and styles only from this server, nothing readable by other origins.
async fn security_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

async fn not_found() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "there is no such page here")
}

impl From<ReviewError> for Refusal {
    fn from(e: ReviewError) -> Refusal {
        let status = match &e {
            ReviewError::Journal(JournalError::NoSuchPhoto(_))
            | ReviewError::CleanCopyMissing(..)
            | ReviewError::NoCleanCopy(..) => StatusCode::NOT_FOUND,
            ReviewError::NotHeld { .. }
            | ReviewError::DecidedMeanwhile { .. }
            | ReviewError::ChangedMeanwhile(_)
            | ReviewError::NothingToRedact(_) => StatusCode::CONFLICT,
            ReviewError::NoteRequired
            | ReviewError::NoSuchFace { .. }
            | ReviewError::UnknownStudent(_)
            | ReviewError::CaptionTooLong(_) => StatusCode::BAD_REQUEST,
            ReviewError::OutsideHeld(_)
            | ReviewError::NotAReviewer(_)
            | ReviewError::SameApprover { .. }
            | ReviewError::SecondNeedsSenior { .. } => StatusCode::FORBIDDEN,
            ReviewError::Enrol(crate::enrol::EnrolError::FaceNotFound { .. })
            | ReviewError::Enrol(crate::enrol::EnrolError::NoTemplate { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refusal::new(status, e.to_string())
    }
}

impl From<crate::workspace::WorkspaceError> for Refusal {
    fn from(e: crate::workspace::WorkspaceError) -> Refusal {
        Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<JournalError> for Refusal {
    fn from(e: JournalError) -> Refusal {
        ReviewError::from(e).into()
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Refusal {
        ReviewError::from(e).into()
    }
}

/// Run blocking work (SQLite, decoding, models) off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request failed ({e}); try again"),
        )
    })?
}

/// A photo id from a URL: digits only, a positive number that fits the journal's ids.
fn photo_id(raw: &str) -> Result<i64, Refusal> {
    let bad = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "a photo is named by its number, e.g. /photo/12",
        )
    };
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(bad)
}

async fn login_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::check_host(&app, &headers) {
        return r.into_response();
    }
    if app.has_session(&headers).await {
        return Redirect::to("/queue").into_response();
    }
    match app.has_accounts().await {
        Ok(accounts) => Html(html::login(None, accounts).into_string()).into_response(),
        Err(r) => r.into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
}

/// Where a new session starts: staff have no review pages.
fn landing(role: Role) -> &'static str {
    if role >= Role::Moderator {
        "/queue"
    } else {
        "/me"
    }
}

fn source_of(peer: Option<axum::Extension<Peer>>) -> String {
    peer.map_or_else(|| "unknown".to_string(), |p| p.0 .0.to_string())
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// A form posted before anyone is logged in (login, set-up): this host, this origin, and a
/// well-formed body, or the refusal to send.
fn public_form<F: serde::de::DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<F, Refusal> {
    auth::check_host(app, headers).and_then(|()| auth::check_same_origin(headers))?;
    serde_urlencoded::from_bytes(body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))
}

async fn login(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: LoginForm = match public_form(&app, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let source = source_of(peer);
    match app
        .login(&form.name, &form.password, &form.token, &source)
        .await
    {
        Ok((cookie, role)) => with_cookie(Redirect::to(landing(role)).into_response(), &cookie),
        Err(r) => {
            let accounts = app.has_accounts().await.unwrap_or(true);
            (
                r.status,
                Html(html::login(Some(&r.message), accounts).into_string()),
            )
                .into_response()
        }
    }
}

async fn setup_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::check_host(&app, &headers) {
        return r.into_response();
    }
    Html(html::setup(None).into_string()).into_response()
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
}

async fn setup(
    State(app): State<Arc<App>>,
    peer: Option<axum::Extension<Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: SetupForm = match public_form(&app, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    let source = source_of(peer);
    match app
        .setup(&form.name, &form.code, &form.password, &form.again, &source)
        .await
    {
        Ok((cookie, role)) => with_cookie(Redirect::to(landing(role)).into_response(), &cookie),
        Err(r) => (r.status, Html(html::setup(Some(&r.message)).into_string())).into_response(),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(app): State<Arc<App>>, action: Action<Empty, ANY>) -> Response {
    app.logout(&action.who).await;
    with_cookie(
        Redirect::to("/login").into_response(),
        &auth::expired_cookie(),
    )
}

async fn me(Page(who): Page<ANY>) -> Html<String> {
    Html(html::me(&who).into_string())
}

async fn users(
    State(app): State<Arc<App>>,
    Page(who): Page<SENIOR>,
) -> Result<Html<String>, Refusal> {
    let limits = app.limits;
    let (list, sessions) = blocking(move || {
        let conn = app.ws.db()?;
        let list = accounts::list(&conn).map_err(auth::account_refusal)?;
        let sessions = accounts::sessions(&conn, limits).map_err(auth::account_refusal)?;
        Ok((list, sessions))
    })
    .await?;
    Ok(Html(html::users(&who, &list, &sessions).into_string()))
}

async fn revoke_session(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, .. }: Action<Empty, SENIOR>,
) -> Result<Redirect, Refusal> {
    let n = photo_id(&raw)?;
    act(app, who, "/users".into(), move |app, actor| {
        let conn = app.ws.db()?;
        Ok(
            if accounts::revoke_session(&conn, n, actor).map_err(auth::account_refusal)? {
                format!("Session {n} ended.")
            } else {
                format!("Session {n} had already ended.")
            },
        )
    })
    .await
}

async fn queue(State(app): State<Arc<App>>, who: Moderator) -> Result<Html<String>, Refusal> {
    let (items, awaiting) = blocking(move || {
        let items = review::held(&app.ws)?;
        let conn = app.ws.db()?;
        let mut awaiting = HashMap::new();
        for i in &items {
            if let Some(a) = review::awaiting_second_opinion(&app.ws, &conn, &i.record)? {
                awaiting.insert(i.record.id, a.name);
            }
        }
        Ok((items, awaiting))
    })
    .await?;
    Ok(Html(
        html::queue(&who, &items, &awaiting, Utc::now()).into_string(),
    ))
}

async fn photo(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    who: Moderator,
) -> Result<Html<String>, Refusal> {
    let id = photo_id(&raw)?;
    let page = blocking(move || photo_page(&app, id)).await?;
    Ok(Html(html::photo(&who, &page, Utc::now()).into_string()))
}

fn photo_page(app: &App, id: i64) -> Result<html::PhotoPage, Refusal> {
    let ws = &app.ws;
    let conn = ws.db()?;
    let rec = journal::get(&conn, id)?;
    let students = register::all_students(&conn)?;
    let checker = crate::judge::Judge::new(&students, vec![], vec![], vec![]);
    let caption = if rec.held_dir.is_some() {
        review::caption(ws, &rec)?
    } else {
        review::Caption::default()
    };
    let caption_hits = caption
        .text
        .as_deref()
        .map(|t| checker.scan(t, &TextSource::Sidecar))
        .unwrap_or_default();
    let name_hits = checker.scan(&rec.source_name, &TextSource::FileName);
    let (size, preview_error) = match rec.clean_ext {
        Some(_) => match app.images.get(ws, id, images::PREVIEW) {
            Ok(r) => (Some((r.width, r.height)), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let history = crate::audit::trail(&conn, Some(&format!("photo #{id}")))?;
    let awaiting = review::awaiting_second_opinion(ws, &conn, &rec)?;
    let asked = review::senior_requests(&conn, id)?;
    let needs_second = review::second_opinion_reasons(ws, &rec, false);
    Ok(html::PhotoPage {
        awaiting,
        asked,
        needs_second,
        due_at: review::due_at_utc(rec.created_at),
        rec,
        caption,
        caption_hits,
        name_hits,
        names: students
            .iter()
            .map(|s| (s.id.clone(), s.display_name()))
            .collect(),
        size,
        preview_error,
        history,
    })
}

async fn rendition(app: Arc<App>, raw: String, max_side: u32) -> Result<Response, Refusal> {
    let id = photo_id(&raw)?;
    let r = blocking(move || {
        app.images
            .get(&app.ws, id, max_side)
            .map_err(|e| Refusal::new(StatusCode::NOT_FOUND, e))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], r.jpeg.clone()).into_response())
}

async fn thumb(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    _who: Moderator,
) -> Result<Response, Refusal> {
    rendition(app, raw, images::THUMB).await
}

async fn preview(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    _who: Moderator,
) -> Result<Response, Refusal> {
    rendition(app, raw, images::PREVIEW).await
}

/// The clean copy itself, byte for byte (what approval releases).
async fn full(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    _who: Moderator,
) -> Result<Response, Refusal> {
    let id = photo_id(&raw)?;
    let (bytes, ext) = blocking(move || Ok(review::clean_copy(&app.ws, id)?)).await?;
    let mime = match ext {
        "png" => "image/png",
        "webp" => "image/webp",
        "heic" => "image/heic",
        _ => "image/jpeg",
    };
    let disposition = format!("inline; filename=\"photo-{id}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    note: String,
}

/// Run one moderator action (serialised with all others) and leave its outcome for the next page.
async fn act(
    app: Arc<App>,
    who: Moderator,
    then: String,
    f: impl FnOnce(&App, &Actor) -> Result<String, Refusal> + Send + 'static,
) -> Result<Redirect, Refusal> {
    let app2 = app.clone();
    let actor = who.actor.clone();
    let message = blocking(move || {
        let _one_at_a_time = app2.actions.lock().unwrap_or_else(|p| p.into_inner());
        f(&app2, &actor)
    })
    .await?;
    app.flash(&who, message);
    Ok(Redirect::to(&then))
}

async fn approve(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<NoteForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    act(app, who, "/queue".into(), move |app, actor| {
        Ok(match review::approve(&app.ws, id, &form.note, actor)? {
            review::Decision::Released(dest) => {
                format!("Photo #{id} approved and released to {dest}.")
            }
            review::Decision::FirstApproval(_) => format!(
                "Photo #{id}: your first approval is recorded. It stays held until a different senior approves it too (second opinion)."
            ),
        })
    })
    .await
}

async fn ask_senior(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<NoteForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    act(app, who, format!("/photo/{id}"), move |app, actor| {
        review::ask_senior(&app.ws, id, &form.note, actor)?;
        Ok(format!(
            "Photo #{id} is marked \"ask a senior\"; it stays held."
        ))
    })
    .await
}

async fn reject(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<NoteForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    act(app, who, "/queue".into(), move |app, actor| {
        review::reject(&app.ws, id, &form.note, actor)?;
        Ok(format!(
            "Photo #{id} rejected; a re-upload of it will be held too."
        ))
    })
    .await
}

async fn redact(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<NoteForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    act(app, who, "/queue".into(), move |app, actor| {
        Ok(match review::redact(&app.ws, id, &form.note, actor)? {
            (review::Decision::Released(dest), n) => format!(
                "Photo #{id}: {n} face(s) blurred and released to {dest}; the original stays held."
            ),
            (review::Decision::FirstApproval(_), _) => format!(
                "Photo #{id}: your first approval of blurring and releasing it is recorded. It stays held until a different senior does the same (second opinion)."
            ),
        })
    })
    .await
}

#[derive(Deserialize)]
struct CaptionForm {
    #[serde(default)]
    caption: String,
    #[serde(default)]
    note: String,
}

async fn edit_caption(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<CaptionForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    act(app, who, format!("/photo/{id}"), move |app, actor| {
        let edit = review::edit_caption(&app.ws, id, &form.caption, &form.note, actor)?;
        Ok(if edit.travels {
            format!("Caption of photo #{id} saved. It names nobody, so it is released with the photo when approved.")
        } else if edit.names.is_empty() {
            format!("Caption of photo #{id} removed.")
        } else {
            let who: Vec<&str> = edit.names.iter().map(|h| h.student_id.as_str()).collect();
            format!(
                "Caption of photo #{id} saved, but it still names or may name {}: it will not be released with the photo.",
                who.join(", ")
            )
        })
    })
    .await
}

#[derive(Deserialize)]
struct FaceForm {
    #[serde(default)]
    face: String,
    #[serde(default)]
    student: String,
    #[serde(default)]
    note: String,
}

async fn attribute_face(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<FaceForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    let face = form
        .face
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, "choose a face by its number"))?;
    act(app, who, format!("/photo/{id}"), move |app, actor| {
        let engine = app
            .engine
            .get_or_init(|| FaceEngine::load().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.clone()))?;
        let a = review::attribute_face(
            &app.ws,
            engine,
            id,
            face - 1,
            form.student.trim(),
            &form.note,
            actor,
        )?;
        Ok(format!(
            "Face {face} of photo #{id} recorded as {}; a face template was added. The photo stays held with {} reason(s) left.",
            form.student.trim(),
            a.reasons.len()
        ))
    })
    .await
}

/// How many audit entries the page shows.
const AUDIT_PAGE: usize = 200;

async fn audit(State(app): State<Arc<App>>, who: Moderator) -> Result<Html<String>, Refusal> {
    let (v, entries) = blocking(move || {
        let conn = app.ws.db()?;
        Ok((
            crate::audit::verify(&conn)?,
            crate::audit::recent(&conn, AUDIT_PAGE)?,
        ))
    })
    .await?;
    Ok(Html(
        html::audit(&who, &v, &entries, AUDIT_PAGE).into_string(),
    ))
}

#[derive(Deserialize)]
struct TakedownQuery {
    student: Option<String>,
}

async fn takedown(
    State(app): State<Arc<App>>,
    Query(q): Query<TakedownQuery>,
    who: Moderator,
) -> Result<Response, Refusal> {
    let (students, selected) = blocking(move || {
        let conn = app.ws.db()?;
        let students: Vec<(String, String)> = register::all_students(&conn)?
            .into_iter()
            .map(|s| (s.id.clone(), s.display_name()))
            .collect();
        let selected = match q.student.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(sid) => {
                let names: HashMap<&str, &str> = students
                    .iter()
                    .map(|(i, n)| (i.as_str(), n.as_str()))
                    .collect();
                let Some(name) = names.get(sid).map(|n| n.to_string()) else {
                    return Err(Refusal::new(
                        StatusCode::NOT_FOUND,
                        "no such student in the register",
                    ));
                };
                Some((
                    sid.to_string(),
                    name,
                    journal::takedown_list(&conn, sid, None)?,
                ))
            }
        };
        Ok((students, selected))
    })
    .await?;
    let page = html::takedown(
        &who,
        &students,
        selected
            .as_ref()
            .map(|(s, n, l)| (s.as_str(), n.as_str(), l.as_slice())),
    );
    Ok(Html(page.into_string()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_ids_are_positive_numbers_and_nothing_else() {
        assert_eq!(photo_id("12").ok(), Some(12));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1.0",
            "1/../..",
            "..",
            "%2e%2e",
            " 1",
            "99999999999999999999",
            "9223372036854775808",
            "１",
        ] {
            assert!(photo_id(bad).is_err(), "{bad:?}");
        }
    }
}
