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
use super::filter::FilterParams;
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
        .route("/photo/{id}/blurred", get(blurred))
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
            | ReviewError::PreviewOutdated(_)
            | ReviewError::NothingToRedact(_) => StatusCode::CONFLICT,
            ReviewError::NoteRequired
            | ReviewError::UnknownPreset(_)
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
    act(app, who, "/users".to_string(), move |app, actor| {
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

/// Student id → display name, for the pages.
fn student_names(conn: &rusqlite::Connection) -> Result<HashMap<String, String>, Refusal> {
    Ok(register::all_students(conn)?
        .into_iter()
        .map(|s| (s.id.clone(), s.display_name()))
        .collect())
}

/// How many held photos have each value.
fn counted<T: Ord>(values: impl Iterator<Item = T>) -> Vec<(T, usize)> {
    let mut m = std::collections::BTreeMap::new();
    for v in values {
        *m.entry(v).or_insert(0) += 1;
    }
    m.into_iter().collect()
}

async fn queue(
    State(app): State<Arc<App>>,
    Query(params): Query<FilterParams>,
    who: Moderator,
) -> Result<Html<String>, Refusal> {
    let filter = params.filter()?;
    let page = blocking(move || {
        let items = review::held(&app.ws)?;
        let conn = app.ws.db()?;
        let mut awaiting = HashMap::new();
        for i in &items {
            if let Some(a) = review::awaiting_second_opinion(&app.ws, &conn, &i.record)? {
                awaiting.insert(i.record.id, a.name);
            }
        }
        // The full size of each shown photo with boxes to draw (its thumbnail, made now, is
        // what the page asks for next).
        let mut sizes = HashMap::new();
        for i in items.iter().filter(|i| filter.matches(&i.record)) {
            let r = &i.record;
            if r.clean_ext.is_some() && !(r.faces.is_empty() && r.texts.is_empty()) {
                if let Ok(t) = app.images.get(&app.ws, r.id, images::THUMB) {
                    sizes.insert(r.id, (t.width, t.height));
                }
            }
        }
        let names = student_names(&conn)?;
        Ok((items, awaiting, sizes, names))
    })
    .await?;
    let (items, awaiting, sizes, names) = page;
    let filter = params.filter()?;
    let sets = |f: &dyn Fn(&review::HeldItem) -> Vec<String>| {
        counted(items.iter().flat_map(|i| {
            let mut v = f(i);
            v.sort();
            v.dedup();
            v
        }))
    };
    let urgencies = counted(items.iter().flat_map(|i| {
        let mut v: Vec<_> = i.record.reasons.iter().map(|r| r.kind.urgency()).collect();
        v.sort();
        v.dedup();
        v
    }));
    let kinds = counted(items.iter().flat_map(|i| {
        let mut v: Vec<_> = i.record.reasons.iter().map(|r| r.kind).collect();
        v.sort();
        v.dedup();
        v
    }));
    let channels = sets(&|i| vec![i.record.channel.clone()]);
    let folders = sets(&|i| vec![review::event_folder(&i.record).to_string()]);
    let page = html::QueuePage {
        items: items.iter().filter(|i| filter.matches(&i.record)).collect(),
        total: items.len(),
        awaiting,
        filter: params,
        urgencies,
        kinds,
        channels,
        folders,
        sizes,
        names,
    };
    Ok(Html(html::queue(&who, &page, Utc::now()).into_string()))
}

/// Photo `id`'s place in the held queue under `params`' filter.
fn nav_for(app: &App, id: i64, params: FilterParams) -> Result<html::Nav, Refusal> {
    let filter = params.filter()?;
    let queue: Vec<review::HeldItem> = review::held(&app.ws)?
        .into_iter()
        .filter(|i| filter.matches(&i.record))
        .collect();
    Ok(html::Nav {
        previous: review::previous_in_queue(&queue, id),
        next: review::next_in_queue(&queue, id),
        position: queue
            .iter()
            .position(|i| i.record.id == id)
            .map(|p| (p + 1, queue.len())),
        filter: params,
    })
}

/// Where a decided photo's moderator goes next: the next held photo of the same (filtered)
/// queue, or the queue when none is left.
fn next_page(app: &App, id: i64, params: &FilterParams) -> String {
    let q = params.query();
    match nav_for(app, id, params.clone()) {
        Ok(html::Nav { next: Some(n), .. }) if n != id => format!("/photo/{n}{q}"),
        _ => format!("/queue{q}"),
    }
}

async fn photo(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Query(params): Query<FilterParams>,
    who: Moderator,
) -> Result<Html<String>, Refusal> {
    let id = photo_id(&raw)?;
    params.filter()?;
    let page = blocking(move || photo_page(&app, id, params)).await?;
    Ok(Html(html::photo(&who, &page, Utc::now()).into_string()))
}

fn photo_page(app: &App, id: i64, params: FilterParams) -> Result<html::PhotoPage, Refusal> {
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
    let nav = nav_for(app, id, params)?;
    Ok(html::PhotoPage {
        nav,
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

/// The held photo blurred exactly as "blur and release" would release it (the same redaction,
/// [`review::preview_redaction`]); nothing is released or recorded.
async fn blurred(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    _who: Moderator,
) -> Result<Response, Refusal> {
    let id = photo_id(&raw)?;
    let r = blocking(move || Ok(review::preview_redaction(&app.ws, id)?)).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], r.bytes).into_response())
}

/// An action's note (a ready-made one and/or the moderator's words) and the queue filter the
/// moderator is working through.
#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    preset: String,
    #[serde(default)]
    note: String,
    #[serde(flatten)]
    filter: FilterParams,
}

impl NoteForm {
    fn note(&self, action: review::NoteFor) -> Result<String, Refusal> {
        Ok(review::compose_note(action, &self.preset, &self.note)?)
    }
}

/// Where to go once an action is done.
enum Then {
    To(String),
    /// The next held photo after this one in the moderator's (filtered) queue.
    Next(i64, FilterParams),
}

/// Run one moderator action (serialised with all others) and leave its outcome for the next page.
async fn act(
    app: Arc<App>,
    who: Moderator,
    then: impl Into<Then>,
    f: impl FnOnce(&App, &Actor) -> Result<String, Refusal> + Send + 'static,
) -> Result<Redirect, Refusal> {
    let app2 = app.clone();
    let actor = who.actor.clone();
    let then = then.into();
    let (message, to) = blocking(move || {
        let _one_at_a_time = app2.actions.lock().unwrap_or_else(|p| p.into_inner());
        let message = f(&app2, &actor)?;
        let to = match then {
            Then::To(url) => url,
            Then::Next(id, params) => next_page(&app2, id, &params),
        };
        Ok((message, to))
    })
    .await?;
    app.flash(&who, message);
    Ok(Redirect::to(&to))
}

impl From<String> for Then {
    fn from(url: String) -> Then {
        Then::To(url)
    }
}

async fn approve(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<NoteForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    let note = form.note(review::NoteFor::Approve)?;
    act(app, who, Then::Next(id, form.filter), move |app, actor| {
        Ok(match review::approve(&app.ws, id, &note, actor)? {
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
    let note = form.note(review::NoteFor::Ask)?;
    let then = format!("/photo/{id}{}", form.filter.query());
    act(app, who, then, move |app, actor| {
        review::ask_senior(&app.ws, id, &note, actor)?;
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
    let note = form.note(review::NoteFor::Reject)?;
    act(app, who, Then::Next(id, form.filter), move |app, actor| {
        review::reject(&app.ws, id, &note, actor)?;
        Ok(format!(
            "Photo #{id} rejected; a re-upload of it will be held too."
        ))
    })
    .await
}

#[derive(Deserialize)]
struct RedactForm {
    #[serde(flatten)]
    note: NoteForm,
    /// The SHA-256 of the blurred file the moderator saw; empty: show the preview first.
    #[serde(default)]
    confirm: String,
}

/// "Blur and release" in two steps: without `confirm`, the blurred result as it would be released
/// (nothing changes); with it, the release of exactly that file, then the next photo.
async fn redact(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<RedactForm>,
) -> Result<Response, Refusal> {
    let id = photo_id(&raw)?;
    let note = form.note.note(review::NoteFor::Redact)?;
    if note.trim().is_empty() {
        return Err(ReviewError::NoteRequired.into());
    }
    let confirm = form.confirm.trim().to_string();
    if confirm.is_empty() {
        let page = blocking(move || {
            let r = review::preview_redaction(&app.ws, id)?;
            let rec = journal::get(&app.ws.db()?, id)?;
            let needs_second = review::second_opinion_reasons(&app.ws, &rec, true);
            Ok(html::BlurPreview {
                rec,
                faces: r.faces,
                texts: r.texts,
                sha256: r.sha256,
                preset: form.note.preset,
                note: form.note.note,
                recorded_note: note,
                filter: form.note.filter,
                needs_second,
            })
        })
        .await?;
        return Ok(Html(html::blur_preview(&who, &page).into_string()).into_response());
    }
    let then = Then::Next(id, form.note.filter);
    act(app, who, then, move |app, actor| {
        Ok(match review::redact_as_previewed(&app.ws, id, &note, actor, &confirm)? {
            (review::Decision::Released(dest), n) => format!(
                "Photo #{id}: {n} face(s) blurred and released to {dest}, as previewed; the original stays held."
            ),
            (review::Decision::FirstApproval(_), _) => format!(
                "Photo #{id}: your first approval of blurring and releasing it is recorded. It stays held until a different senior does the same (second opinion)."
            ),
        })
    })
    .await
    .map(IntoResponse::into_response)
}

#[derive(Deserialize)]
struct CaptionForm {
    #[serde(default)]
    caption: String,
    #[serde(flatten)]
    note: NoteForm,
}

async fn edit_caption(
    State(app): State<Arc<App>>,
    Path(raw): Path<String>,
    Action { who, form }: Action<CaptionForm>,
) -> Result<Redirect, Refusal> {
    let id = photo_id(&raw)?;
    let note = form.note.note(review::NoteFor::Caption)?;
    let then = format!("/photo/{id}{}", form.note.filter.query());
    act(app, who, then, move |app, actor| {
        let edit = review::edit_caption(&app.ws, id, &form.caption, &note, actor)?;
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
    #[serde(flatten)]
    note: NoteForm,
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
    let note = form.note.note(review::NoteFor::Face)?;
    let then = format!("/photo/{id}{}", form.note.filter.query());
    act(app, who, then, move |app, actor| {
        let engine = app
            .engine
            .get_or_init(|| {
                FaceEngine::with_options(app.ws.config.faces.engine_options())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.clone()))?;
        let a = review::attribute_face(
            &app.ws,
            engine,
            id,
            face - 1,
            form.student.trim(),
            &note,
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
    let (v, entries, names) = blocking(move || {
        let conn = app.ws.db()?;
        Ok((
            crate::audit::verify(&conn)?,
            crate::audit::recent(&conn, AUDIT_PAGE)?,
            student_names(&conn)?,
        ))
    })
    .await?;
    Ok(Html(
        html::audit(&who, &v, &entries, AUDIT_PAGE, &names).into_string(),
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
