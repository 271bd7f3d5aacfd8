//! The pages, as `maud` templates: every interpolated value (captions, names, file names, notes,
//! audit details) is HTML-escaped by the template engine at compile-checked sites; nothing is
//! marked pre-escaped. No inline script or style (the Content-Security-Policy forbids both):
//! face boxes are SVG attributes, behaviour is in `/static/app.js`.

use std::collections::{BTreeSet, HashMap};

use axum::http::StatusCode;
use chrono::{DateTime, Local, Utc};
use maud::{html, Markup, DOCTYPE};

use super::auth::Moderator;
use super::filter::{param, FilterParams};
use super::history;
use crate::audit::{AuditEntry, Verification};
use crate::captions::{CaptionHit, Severity};
use crate::decide::{Band, FaceFinding, Reason, ReasonKind, Urgency};
use crate::journal::{PhotoRecord, PhotoState, Takedown};
use crate::review::{note_presets, Caption, HeldItem, NoteFor, MAX_CAPTION_CHARS};

fn layout(title: &str, who: Option<&Moderator>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " — consentgate" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    span.brand { "consentgate" }
                    @if let Some(who) = who {
                        nav {
                            @if who.role() >= crate::accounts::Role::Moderator {
                                a href="/queue" { "Held photos" }
                                a href="/audit" { "Audit trail" }
                                a href="/takedown" { "Takedown list" }
                            }
                            @if who.is_senior() {
                                a href="/users" { "Accounts" }
                            }
                        }
                        form.logout method="post" action="/logout" {
                            span.who { "Signed in as " strong #moderator { (who.name) } " (" (who.role().as_str()) ")" }
                            input type="hidden" name="csrf" value=(who.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main {
                    @if let Some(flash) = who.and_then(|w| w.flash.as_deref()) {
                        p.flash role="status" #flash { (flash) }
                    }
                    (body)
                }
            }
        }
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    layout(
        "Refused",
        None,
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.error #error { (message) }
            p { a href="/queue" { "Back to the held photos" } " · " a href="/login" { "Log in" } }
        },
    )
}

pub fn login(error: Option<&str>, accounts: bool) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            h1 { "Review held photos" }
            @if let Some(e) = error {
                p.error #error role="alert" { (e) }
            }
            @if accounts {
                form.login method="post" action="/login" {
                    label for="name" { "Your account name" }
                    input #name type="text" name="name" required maxlength="60" autocomplete="username";
                    label for="password" { "Password" }
                    input #password type="password" name="password" required autocomplete="current-password";
                    button #login type="submit" { "Log in" }
                }
                p.hint {
                    "First time, or your password was reset? "
                    a #setup-link href="/setup" { "Choose your password with your one-time code" }
                    ". No account? Ask a senior leader (" code { "consentgate users add NAME --role moderator" } ")."
                }
            } @else {
                form.login method="post" action="/login" {
                    label for="name" { "Your name (recorded with every decision you make)" }
                    input #name type="text" name="name" required maxlength="80" autocomplete="name";
                    label for="token" { "Login token" }
                    input #token type="password" name="token" required autocomplete="current-password";
                    button #login type="submit" { "Log in" }
                }
                p.hint {
                    "This workspace has no accounts yet, so it still uses the shared login token. "
                    "Make the first (senior) account with " code { "consentgate users add NAME --role senior" }
                    "; from then on everyone logs in with their own account."
                }
            }
        },
    )
}

pub fn setup(error: Option<&str>) -> Markup {
    layout(
        "Choose your password",
        None,
        html! {
            h1 { "Choose your password" }
            @if let Some(e) = error {
                p.error #error role="alert" { (e) }
            }
            form.login method="post" action="/setup" {
                label for="name" { "Your account name" }
                input #name type="text" name="name" required maxlength="60" autocomplete="username";
                label for="code" { "One-time set-up code (printed when your account was made or reset)" }
                input #code type="text" name="code" required autocomplete="one-time-code";
                label for="password" { "New password (at least " (crate::accounts::MIN_PASSWORD_CHARS) " characters; a few words make a good one)" }
                input #password type="password" name="password" required autocomplete="new-password";
                label for="again" { "The same password again" }
                input #again type="password" name="again" required autocomplete="new-password";
                button #set-password type="submit" { "Set password and log in" }
            }
        },
    )
}

pub fn me(who: &Moderator) -> Markup {
    layout(
        "Your account",
        Some(who),
        html! {
            h1 { "Signed in as " (who.name) }
            p #role { "Role: " strong { (who.role().as_str()) } "." }
            @if who.role() < crate::accounts::Role::Moderator {
                p { "Staff accounts drop photos into staging; reviewing held photos needs a moderator or senior account." }
            }
        },
    )
}

pub fn users(
    who: &Moderator,
    list: &[crate::accounts::Account],
    sessions: &[crate::accounts::SessionRow],
) -> Markup {
    layout(
        "Accounts",
        Some(who),
        html! {
            h1 { "Accounts" }
            p.hint { "Add, disable and reset accounts with " code { "consentgate users" } " on the school's computer." }
            table #accounts {
                thead { tr { th { "name" } th { "role" } th { "state" } th { "last login" } } }
                tbody {
                    @for a in list {
                        tr {
                            td { (a.name) }
                            td { (a.role.as_str()) }
                            td { @if a.disabled { "disabled" } @else if !a.set_up { "waiting for set-up" } @else { "active" } }
                            td { (a.last_login_at.as_deref().unwrap_or("never")) }
                        }
                    }
                }
            }
            h2 { "Sessions" }
            table #sessions {
                thead { tr { th { "#" } th { "who" } th { "from" } th { "since" } th { "last seen" } th {} } }
                tbody {
                    @for s in sessions {
                        tr data-session=(s.number) {
                            td { (s.number) }
                            td { (s.name) @if s.number == who.session { " (you)" } }
                            td { (s.source) }
                            td { (s.created_at) }
                            td { (s.last_seen_at) }
                            td {
                                form method="post" action=(format!("/sessions/{}/revoke", s.number)) {
                                    input type="hidden" name="csrf" value=(who.csrf);
                                    button.danger type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn when(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// "3 days 4 h", "5 h 12 min", "12 min".
pub fn waited(minutes: i64) -> String {
    let m = minutes.max(0);
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} day{} {h} h", if d == 1 { "" } else { "s" }),
    }
}

/// What the queue page shows: the held photos the filter lets through, and what it can filter by.
pub struct QueuePage<'a> {
    /// Held photos the filter lets through, in queue order.
    pub items: Vec<&'a HeldItem>,
    /// All held photos.
    pub total: usize,
    /// Photo id → who gave the first approval it waits on (a second opinion).
    pub awaiting: HashMap<i64, String>,
    pub filter: FilterParams,
    /// What the held photos can be filtered by, with how many photos each has.
    pub urgencies: Vec<(Urgency, usize)>,
    pub kinds: Vec<(ReasonKind, usize)>,
    pub channels: Vec<(String, usize)>,
    pub folders: Vec<(String, usize)>,
    /// Photo id → full upright size, for the boxes drawn over its thumbnail.
    pub sizes: HashMap<i64, (u32, u32)>,
    /// Student id → display name.
    pub names: HashMap<String, String>,
}

fn options(selected: &str, list: impl IntoIterator<Item = (String, String, usize)>) -> Markup {
    html! {
        @for (value, label, n) in list {
            option value=(value) selected[value == selected] { (label) " (" (n) ")" }
        }
    }
}

pub fn queue(who: &Moderator, q: &QueuePage<'_>, now: DateTime<Utc>) -> Markup {
    let overdue = q.items.iter().filter(|i| i.overdue).count();
    let query = q.filter.query();
    layout(
        "Held photos",
        Some(who),
        html! {
            h1 { "Held photos" }
            form.filter #filter method="get" action="/queue" {
                div {
                    label for="filter-reason" { "Reason" }
                    select #filter-reason name="reason" {
                        option value="" { "any reason" }
                        optgroup label="How urgent" {
                            (options(&q.filter.reason, q.urgencies.iter().map(|(u, n)| (param(u), u.label().to_string(), *n))))
                        }
                        optgroup label="Reason" {
                            (options(&q.filter.reason, q.kinds.iter().map(|(k, n)| (param(k), k.label().to_string(), *n))))
                        }
                    }
                }
                div {
                    label for="filter-channel" { "Channel" }
                    select #filter-channel name="channel" {
                        option value="" { "any channel" }
                        (options(&q.filter.channel, q.channels.iter().map(|(c, n)| (c.clone(), c.clone(), *n))))
                    }
                }
                div {
                    label for="filter-folder" { "Event folder" }
                    select #filter-folder name="folder" {
                        option value="" { "any folder" }
                        (options(&q.filter.folder, q.folders.iter().map(|(f, n)| {
                            if f.is_empty() {
                                ("/".to_string(), "(top of staging)".to_string(), *n)
                            } else {
                                (f.clone(), f.clone(), *n)
                            }
                        })))
                    }
                }
                button #apply-filter type="submit" { "Show" }
                @if !q.filter.is_empty() { a #clear-filter href="/queue" { "Show all" } }
            }
            p.summary #summary {
                @if q.total == 0 {
                    "Nothing is waiting for review."
                } @else {
                    @if q.filter.is_empty() {
                        (q.total) " waiting, oldest first. "
                    } @else {
                        (q.items.len()) " of " (q.total) " waiting match the filter, oldest first. "
                    }
                    @if overdue > 0 {
                        strong.overdue-text { (overdue) " overdue" }
                        " (policy: answer within 24 hours, or on the next working day when a photo arrives at a weekend). "
                    }
                    @if let Some(first) = q.items.first() {
                        a #start href=(format!("/photo/{}{query}", first.record.id)) { "Start with the oldest" }
                        " (then each action takes you to the next one)."
                    }
                }
            }
            ol.queue {
                @for item in &q.items {
                    @let rec = &item.record;
                    @let href = format!("/photo/{}{query}", rec.id);
                    li.card.overdue[item.overdue] data-id=(rec.id) {
                        a.thumb href=(href) {
                            @if rec.clean_ext.is_some() {
                                span.stage.tstage {
                                    img src=(format!("/photo/{}/thumb", rec.id)) alt=(format!("photo #{}", rec.id)) loading="lazy";
                                    @if let Some(&(w, h)) = q.sizes.get(&rec.id) {
                                        (boxes(rec, w, h, &q.names, true))
                                    }
                                }
                            } @else {
                                span.nothumb { "no preview" }
                            }
                        }
                        div.info {
                            a.title href=(href) {
                                "#" (rec.id) " " span.filename { (rec.source_name) }
                            }
                            p.meta {
                                "for " strong { (rec.channel) } " · waited " (waited((now - rec.created_at).num_minutes()))
                                " · due " (when(item.due_at))
                                @if item.overdue { " " span.badge { "OVERDUE" } }
                            }
                            @if let Some(by) = q.awaiting.get(&rec.id) {
                                p.awaiting { "Awaiting second opinion (approved by " (by) ")" }
                            }
                            @let kinds: BTreeSet<(Urgency, &str)> = rec.reasons.iter().map(|r| (r.kind.urgency(), r.kind.label())).collect();
                            ul.kinds {
                                @for (u, k) in kinds { li class=(u.class()) title=(u.label()) { (k) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The face and text boxes drawn over a photo (`w` × `h`: its full upright size, the frame the
/// boxes are recorded in). On a thumbnail (`thumb`) the labels are bigger and shorter (who, not
/// how closely) and the boxes are not clickable.
fn boxes(
    rec: &PhotoRecord,
    w: u32,
    h: u32,
    names: &HashMap<String, String>,
    thumb: bool,
) -> Markup {
    let font = if thumb {
        (w.max(h) as f32 / 16.0).max(10.0)
    } else {
        (w.max(h) as f32 / 45.0).max(10.0)
    };
    html! {
        svg.faces.thumb[thumb] viewBox=(format!("0 0 {w} {h}")) preserveAspectRatio="none" role="img" aria-label="face and text boxes" {
            @for (i, f) in rec.faces.iter().enumerate() {
                @let [x, y, bw, bh] = f.bbox;
                @let label_y = if y > font * 1.2 { y - font * 0.3 } else { y + bh + font };
                @let label = if thumb { thumb_label(i, f, names) } else { face_label(i, f, names) };
                g.face.ok[f.may_publish].flag[!f.may_publish].small[f.small] data-face=[(!thumb).then_some(i + 1)] {
                    title { "Face " (i + 1) ": " (face_who(f, names)) ", distance " (score(f)) }
                    rect x=(x) y=(y) width=(bw) height=(bh) vector-effect="non-scaling-stroke" {}
                    text x=(x) y=(label_y) font-size=(font) { (label) }
                }
            }
            // Text read in the picture: dashed boxes; a line naming a student in red, with who.
            @for (i, t) in rec.texts.iter().enumerate() {
                @let [x, y, bw, bh] = t.bbox;
                g.text.hit[!t.named.is_empty()] data-text=(i + 1) {
                    title { "Text " (i + 1) ": \u{201c}" (t.text) "\u{201d}" @if !t.named.is_empty() { " names " (text_who(&t.named, names)) } }
                    rect x=(x) y=(y) width=(bw) height=(bh) vector-effect="non-scaling-stroke" {}
                    @if thumb && !t.named.is_empty() {
                        @let label_y = if y > font * 1.2 { y - font * 0.3 } else { y + bh + font };
                        text x=(x) y=(label_y) font-size=(font) { "text: " (short_names(&t.named, names)) }
                    }
                }
            }
        }
    }
}

/// "Olivia Smith, Aarav Patel": the students a line of text names, by name only.
fn short_names(ids: &[String], names: &HashMap<String, String>) -> String {
    ids.iter()
        .map(|id| names.get(id).cloned().unwrap_or_else(|| id.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A face's label on a thumbnail: who, briefly.
fn thumb_label(i: usize, f: &FaceFinding, names: &HashMap<String, String>) -> String {
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    match (f.band, &f.student) {
        (Band::Match, Some(id)) => name(id),
        (Band::Ambiguous, Some(id)) => format!("{}?", name(id)),
        _ if f.small => format!("{} small", i + 1),
        _ => format!("{} ?", i + 1),
    }
}

/// Everything a photo's page shows.
pub struct PhotoPage {
    pub rec: PhotoRecord,
    pub caption: Caption,
    /// What the register's names find in the caption and in the file name.
    pub caption_hits: Vec<CaptionHit>,
    pub name_hits: Vec<CaptionHit>,
    /// Student id → display name.
    pub names: HashMap<String, String>,
    /// Full upright size of the photo, when a preview could be made.
    pub size: Option<(u32, u32)>,
    pub preview_error: Option<String>,
    pub history: Vec<AuditEntry>,
    pub due_at: DateTime<Utc>,
    /// The first approval waiting for a second opinion, if any.
    pub awaiting: Option<crate::review::FirstApproval>,
    /// "Ask a senior" marks.
    pub asked: Vec<crate::review::SeniorRequest>,
    /// The photo's reason kinds that need a second opinion to approve it.
    pub needs_second: Vec<crate::decide::ReasonKind>,
    /// Where this photo is in the (filtered) queue.
    pub nav: Nav,
}

/// A photo's place in the queue the moderator is working through.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub filter: FilterParams,
    pub previous: Option<i64>,
    pub next: Option<i64>,
    /// 1-based position and length of the filtered queue, when the photo is in it.
    pub position: Option<(usize, usize)>,
}

/// The keyboard shortcuts, as the page lists them (app.js implements them).
const KEYS: &[(&str, &str)] = &[
    ("a", "approve (with the chosen note)"),
    ("b", "blur: preview, then b again to release"),
    ("r", "reject"),
    ("c", "edit the caption"),
    ("s", "ask a senior"),
    ("n or j", "next held photo"),
    ("k", "previous held photo"),
    ("q", "back to the queue"),
    ("?", "show or hide this list"),
];

fn keys_help() -> Markup {
    html! {
        details.keys #keys {
            summary { "Keyboard: " kbd { "a" } " approve · " kbd { "b" } " blur · " kbd { "r" } " reject · " kbd { "n" } " next · " kbd { "?" } " all keys" }
            p.hint { "Press a key once to go to that action and choose a note (arrow keys), then the same key again to do it. Keys do nothing while you type in a text box (Esc leaves it)." }
            dl #keys-list {
                @for (k, what) in KEYS { dt { kbd { (k) } } dd { (what) } }
            }
        }
    }
}

fn nav_bar(id: i64, nav: &Nav) -> Markup {
    let q = nav.filter.query();
    html! {
        nav.photo-nav #photo-nav {
            a #to-queue href=(format!("/queue{q}")) { "\u{2190} Queue" }
            @if let Some((i, n)) = nav.position {
                span.position { (i) " of " (n) @if !nav.filter.is_empty() { " (filtered)" } }
            }
            @if let Some(p) = nav.previous.filter(|p| *p != id) {
                a #previous href=(format!("/photo/{p}{q}")) rel="prev" { "\u{2039} Previous" }
            }
            @if let Some(n) = nav.next.filter(|n| *n != id) {
                a #next href=(format!("/photo/{n}{q}")) rel="next" { "Next \u{203a}" }
            }
        }
    }
}

/// `text` with every place a student's name was found marked.
fn highlighted(text: &str, hits: &[CaptionHit], names: &HashMap<String, String>) -> Markup {
    let mut spans: Vec<(usize, usize, &CaptionHit)> = hits
        .iter()
        .filter(|h| !h.matched.is_empty())
        .flat_map(|h| {
            text.match_indices(h.matched.as_str())
                .map(move |(i, m)| (i, i + m.len(), h))
        })
        .collect();
    spans.sort_by_key(|&(start, end, h)| (start, std::cmp::Reverse(end), h.severity));
    let mut parts: Vec<(&str, Option<&CaptionHit>)> = Vec::new();
    let mut pos = 0;
    for (start, end, h) in spans {
        if start < pos {
            continue;
        }
        parts.push((&text[pos..start], None));
        parts.push((&text[start..end], Some(h)));
        pos = end;
    }
    parts.push((&text[pos..], None));
    html! {
        @for (part, hit) in parts {
            @if let Some(h) = hit {
                @let who = names.get(&h.student_id).map_or(h.student_id.clone(), |n| format!("{n} ({})", h.student_id));
                @let verb = if h.severity == Severity::Block { "names" } else { "may name" };
                mark.block[h.severity == Severity::Block].maybe[h.severity == Severity::Review]
                    title=(format!("{verb} {who}: {}", h.form)) { (part) }
            } @else {
                (part)
            }
        }
    }
}

fn face_who(f: &FaceFinding, names: &HashMap<String, String>) -> String {
    let name = |id: &String| {
        names
            .get(id)
            .map_or_else(|| id.clone(), |n| format!("{n} ({id})"))
    };
    let who = match (f.band, &f.student) {
        (Band::Match, Some(id)) => name(id),
        (Band::Ambiguous, Some(id)) => format!("might be {}", name(id)),
        _ => "matches nobody enrolled".to_string(),
    };
    if f.small && !f.may_publish {
        format!(
            "too small to recognise ({:.0} px tall; nearest: {who})",
            f.bbox[3]
        )
    } else {
        who
    }
}

/// The short label drawn on a face box: its number, who it matched and how closely.
fn face_label(i: usize, f: &FaceFinding, names: &HashMap<String, String>) -> String {
    let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    match (f.band, &f.student, f.score) {
        (Band::Match, Some(id), Some(d)) => format!("{} · {} {d:.2}", i + 1, name(id)),
        (Band::Match, Some(id), None) => format!("{} · {}", i + 1, name(id)),
        (Band::Ambiguous, Some(id), Some(d)) => format!("{} · {}? {d:.2}", i + 1, name(id)),
        _ if f.small => format!("{} · small", i + 1),
        _ => format!("{} · unknown", i + 1),
    }
}

fn score(f: &FaceFinding) -> String {
    f.score.map_or("—".into(), |d| format!("{d:.2}"))
}

/// A note: a ready-made one for the action (those fitting the photo's reasons first) and/or the
/// moderator's own words. One of the two is required (checked by the server; app.js says so
/// before posting).
fn note_field(id: &str, action: NoteFor, reasons: &[Reason]) -> Markup {
    let preset = format!("{id}-preset");
    html! {
        div.note {
            label for=(preset) { "Note (required; recorded with your name)" }
            select.preset id=(preset) name="preset" {
                option value="" { "\u{2014} choose a ready-made note \u{2014}" }
                @for text in note_presets(action, reasons) {
                    option value=(text) { (text) }
                }
            }
            label for=(id) { "…and/or in your own words" }
            textarea id=(id) name="note" rows="2" maxlength="2000" {}
        }
    }
}

/// The action the page puts first for a held photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recommend {
    Approve,
    /// A child who may not be published is in it: blurring removes them.
    Redact,
    /// The caption names a student: edit it (the photo itself may be fine).
    Caption,
    /// Nothing can be released: the file could not be read or cleaned.
    Reject,
}

fn recommend(rec: &PhotoRecord, releasable: bool, flagged: bool) -> Recommend {
    let has = |k: ReasonKind| rec.reasons.iter().any(|r| r.kind == k);
    if !releasable {
        Recommend::Reject
    } else if flagged && rec.reasons.iter().any(|r| r.kind.is_redactable()) {
        Recommend::Redact
    } else if has(ReasonKind::CaptionNamesStudent) || has(ReasonKind::CaptionMayNameStudent) {
        Recommend::Caption
    } else {
        Recommend::Approve
    }
}

pub fn photo(who: &Moderator, p: &PhotoPage, now: DateTime<Utc>) -> Markup {
    let rec = &p.rec;
    let id = rec.id;
    let held = rec.state == PhotoState::Held;
    let overdue = held && now > p.due_at;
    let named_text = rec.texts.iter().any(|t| !t.named.is_empty());
    let flagged = rec.faces.iter().any(|f| !f.may_publish) || named_text;
    // No clean copy (damaged, unsupported, too large...): approving or blurring cannot work.
    let releasable = rec.clean_ext.is_some();
    let recommend = recommend(rec, releasable, flagged);
    let filter = &p.nav.filter;
    let mut student_list: Vec<(&String, &String)> = p.names.iter().collect();
    student_list.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    layout(
        &format!("Photo #{id}"),
        Some(who),
        html! {
            h1 {
                "Photo #" (id) " "
                span.filename #filename { (highlighted(&rec.source_name, &p.name_hits, &p.names)) }
            }
            (nav_bar(id, &p.nav))
            @if held { (keys_help()) }
            p.meta {
                span.state { (state_words(rec.state)) }
                " · for " strong { (rec.channel) }
                " · arrived " (when(rec.created_at))
                @if held {
                    " · waited " (waited((now - rec.created_at).num_minutes()))
                    " · due " (when(p.due_at))
                    @if overdue { " " span.badge { "OVERDUE" } }
                }
                @if let Some(o) = &rec.outbox_path { " · released as " code { (o) } }
            }
            div.photo-layout {
                section.picture {
                    @if let Some((w, h)) = p.size {
                        div.stage {
                            img #preview src=(format!("/photo/{id}/preview")) alt=(format!("photo #{id}, metadata removed"));
                            (boxes(rec, w, h, &p.names, false))
                        }
                        p.hint { a href=(format!("/photo/{id}/full")) target="_blank" rel="noopener" { "Open the clean copy at full size" } }
                    } @else {
                        div.nothumb.big {
                            "No preview: "
                            (p.preview_error.as_deref().unwrap_or("the gate could not make a clean copy of this file"))
                        }
                    }
                }
                section.findings {
                    h2 { "Why it was held" }
                    @if rec.reasons.is_empty() {
                        p { "No reasons remain." }
                    }
                    ul.reasons #reasons {
                        @for r in &rec.reasons {
                            li class=(r.kind.urgency().class()) title=(r.kind.urgency().label()) {
                                strong { (r.kind.label()) } ": " (r.detail)
                            }
                        }
                    }
                    h2 { "Caption" }
                    @if let Some(text) = &p.caption.text {
                        blockquote.caption #caption { (highlighted(text, &p.caption_hits, &p.names)) }
                        p.hint {
                            @if p.caption.edited { "Edited by a moderator. " }
                            @if rec.caption.is_some() {
                                "It names nobody, so it is released with the photo."
                            } @else if !p.caption_hits.is_empty() {
                                "It names or may name a student, so it is not released with the photo."
                            }
                        }
                    } @else if let Some(e) = &p.caption.unreadable {
                        p.error { "The caption file cannot be read: " (e) }
                    } @else {
                        p.hint { "No caption came with this photo." }
                    }
                    @if !rec.faces.is_empty() {
                        h2 { "Faces" }
                        table.faces #faces {
                            thead { tr { th { "#" } th { "who" } th { "where" } th { "distance" } th { "detector" } th { "may be published on " (rec.channel) } } }
                            tbody {
                                @for (i, f) in rec.faces.iter().enumerate() {
                                    tr.flag[!f.may_publish].small[f.small] data-face=(i + 1) {
                                        td { (i + 1) }
                                        td { (face_who(f, &p.names)) }
                                        td.nowrap { (format!("x {:.0}, y {:.0}", f.bbox[0], f.bbox[1])) }
                                        td { (score(f)) }
                                        td { (format!("{:.2}", f.detection)) }
                                        td { @if f.may_publish { "yes" } @else { strong { "no" } } }
                                    }
                                }
                            }
                        }
                        p.hint { "Distance: smaller is more alike; a face counts as a student up to the match threshold in consentgate.toml." }
                        @if rec.faces.iter().any(|f| f.small) {
                            p.hint.small-faces { "Orange dashed boxes: faces too small to recognise; look at each one at full size." }
                        }
                    }
                    @if !rec.texts.is_empty() {
                        h2 { "Text in the picture" }
                        table.texts #texts {
                            thead { tr { th { "#" } th { "text read" } th { "where" } th { "names" } } }
                            tbody {
                                @for (i, t) in rec.texts.iter().enumerate() {
                                    tr.flag[!t.named.is_empty()] data-text=(i + 1) {
                                        td { (i + 1) }
                                        td { (t.text) }
                                        td.nowrap { (format!("x {:.0}, y {:.0}", t.bbox[0], t.bbox[1])) }
                                        td { @if t.named.is_empty() { "nobody" } @else { strong { (text_who(&t.named, &p.names)) } } }
                                    }
                                }
                            }
                        }
                    }
                    @if !rec.removed.is_empty() {
                        h2 { "Metadata removed" }
                        p { (rec.removed.join(", ")) }
                    }
                }
            }
            @if held {
                @if let Some(a) = &p.awaiting {
                    p.awaiting #awaiting role="status" {
                        "Awaiting second opinion (approved by " (a.name) " at " (a.at.get(..16).unwrap_or(&a.at).replace('T', " ")) ")"
                        @if a.action == "redact" { " — to blur and release" }
                        ": " (a.note)
                    }
                }
                @for r in &p.asked {
                    p.asked.awaiting { "Ask a senior (" (r.name) ", " (r.at.get(..16).unwrap_or(&r.at).replace('T', " ")) "): " (r.note) }
                }
                section.actions #actions {
                    h2 { "Decide" }
                    @if !releasable {
                        p.hint.wide #no-clean-copy {
                            "The gate could not make a clean copy of this file, so it cannot be released: reject it, "
                            "or ask the photographer to re-export it as JPEG and drop it in again."
                        }
                    }
                    @if releasable {
                    form.action.recommended[recommend == Recommend::Approve] #approve-form data-key="a" method="post" action=(format!("/photo/{id}/approve")) {
                        h3 { "Approve" }
                        @if p.needs_second.is_empty() {
                            p.hint { "Releases the clean copy to " code { "outbox/" (rec.channel) "/" } "." }
                        } @else if p.awaiting.as_ref().is_some_and(|a| a.action == "approve") {
                            p.hint { "This is the second opinion: a senior other than the first approver releases the clean copy to " code { "outbox/" (rec.channel) "/" } "." }
                        } @else {
                            p.hint { "Held for " (p.needs_second.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) ": your approval is the first; a different senior must approve it too before it is released." }
                        }
                        input type="hidden" name="csrf" value=(who.csrf);
                        (filter.hidden())
                        (note_field("approve-note", NoteFor::Approve, &rec.reasons))
                        button #approve type="submit" { "Approve and release " kbd { "a" } }
                    }
                    }
                    @if flagged && releasable {
                        form.action.recommended[recommend == Recommend::Redact] #redact-form data-key="b" method="post" action=(format!("/photo/{id}/redact")) {
                            h3 { "Blur and release" }
                            p.hint { "Blurs every face and every line of text marked in red. You see the blurred result first and confirm it; the original stays held." }
                            input type="hidden" name="csrf" value=(who.csrf);
                            (filter.hidden())
                            (note_field("redact-note", NoteFor::Redact, &rec.reasons))
                            button #redact type="submit" { "Preview the blur " kbd { "b" } }
                        }
                    }
                    form.action #ask-form data-key="s" method="post" action=(format!("/photo/{id}/ask")) {
                        h3 { "Ask a senior" }
                        p.hint { "Marks the photo for a senior leader to look at, with your note. It stays held." }
                        input type="hidden" name="csrf" value=(who.csrf);
                        (filter.hidden())
                        (note_field("ask-note", NoteFor::Ask, &rec.reasons))
                        button #ask type="submit" { "Ask a senior " kbd { "s" } }
                    }
                    form.action.recommended[recommend == Recommend::Reject] #reject-form data-key="r" method="post" action=(format!("/photo/{id}/reject")) {
                        h3 { "Reject" }
                        p.hint { "Never released; a re-upload of this picture will be held too." }
                        input type="hidden" name="csrf" value=(who.csrf);
                        (filter.hidden())
                        (note_field("reject-note", NoteFor::Reject, &rec.reasons))
                        button.danger #reject type="submit" { "Reject " kbd { "r" } }
                    }
                    @if !rec.faces.is_empty() {
                        form.action method="post" action=(format!("/photo/{id}/face")) {
                            h3 { "This face is…" }
                            p.hint { "Adds a face template for the student (from this face only) and checks every face again. The photo stays held." }
                            input type="hidden" name="csrf" value=(who.csrf);
                            label for="face-number" { "Face" }
                            select #face-number name="face" {
                                @for (i, f) in rec.faces.iter().enumerate() {
                                    option value=(i + 1) { (i + 1) " — " (face_who(f, &p.names)) }
                                }
                            }
                            label for="face-student" { "is the student" }
                            select #face-student name="student" required {
                                option value="" { "choose…" }
                                @for (sid, name) in &student_list {
                                    option value=(sid) { (name) " (" (sid) ")" }
                                }
                            }
                            (filter.hidden())
                            (note_field("face-note", NoteFor::Face, &rec.reasons))
                            button #attribute type="submit" { "Record who this is" }
                        }
                    }
                    form.action.recommended[recommend == Recommend::Caption] #caption-form data-key="c" method="post" action=(format!("/photo/{id}/caption")) {
                        h3 { "Edit the caption" }
                        p.hint { "Checked again against the register: a caption that still names a student is not released with the photo. The original caption is kept." }
                        input type="hidden" name="csrf" value=(who.csrf);
                        label for="caption-text" { "Caption" }
                        textarea #caption-text name="caption" rows="3" maxlength=(MAX_CAPTION_CHARS) {
                            (p.caption.text.as_deref().unwrap_or(""))
                        }
                        (filter.hidden())
                        (note_field("caption-note", NoteFor::Caption, &rec.reasons))
                        button #edit-caption type="submit" { "Save caption" }
                    }
                }
            }
            section.history {
                h2 { "History" }
                (history::trail(&p.history, &p.names, false))
            }
        },
    )
}

/// "Blur and release", step two: the blurred file exactly as it would be released (made by the
/// redaction itself, [`crate::review::preview_redaction`]), and a button that releases that file
/// and no other (it names the file's SHA-256; a photo changed meanwhile is refused).
pub struct BlurPreview {
    pub rec: PhotoRecord,
    pub faces: usize,
    pub texts: usize,
    pub sha256: String,
    /// The note as submitted (carried to the confirmation) and as it will be recorded.
    pub preset: String,
    pub note: String,
    pub recorded_note: String,
    pub filter: FilterParams,
    /// The first approval this would be, when the photo needs a second opinion for other reasons.
    pub needs_second: Vec<ReasonKind>,
}

pub fn blur_preview(who: &Moderator, b: &BlurPreview) -> Markup {
    let id = b.rec.id;
    let q = b.filter.query();
    layout(
        &format!("Photo #{id}: check the blur"),
        Some(who),
        html! {
            h1 { "Photo #" (id) ": check the blur before it is released" }
            p #blur-summary {
                "This is the file that will be released to " code { "outbox/" (b.rec.channel) "/" } ": "
                (b.faces) @if b.faces == 1 { " face" } @else { " faces" } " and "
                (b.texts) @if b.texts == 1 { " line of text" } @else { " lines of text" } " blurred. "
                "Look at every blurred area: if anyone can still be recognised, go back and reject the photo instead."
            }
            div.stage.blurred {
                img #blurred src=(format!("/photo/{id}/blurred?sha256={}", b.sha256)) alt=(format!("photo #{id} with the flagged faces and text blurred"));
            }
            p #blur-note { "Your note: " q { (b.recorded_note) } }
            @if !b.needs_second.is_empty() {
                p.awaiting { "Held also for " (b.needs_second.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")) ": confirming records your approval; a different senior must confirm too before it is released." }
            }
            form.action.recommended #confirm-form data-key="b" method="post" action=(format!("/photo/{id}/redact")) {
                input type="hidden" name="csrf" value=(who.csrf);
                input type="hidden" name="preset" value=(b.preset);
                input type="hidden" name="note" value=(b.note);
                input type="hidden" name="confirm" value=(b.sha256);
                (b.filter.hidden())
                button #confirm-redact type="submit" autofocus { "Release this blurred copy " kbd { "b" } }
            }
            p { a #back data-key="Escape" href=(format!("/photo/{id}{q}")) { "Back to the photo: nothing is released" } " (" kbd { "Esc" } ")" }
        },
    )
}

fn state_words(s: PhotoState) -> &'static str {
    match s {
        PhotoState::Held => "held for review",
        PhotoState::Approved => "approved and released",
        PhotoState::Rejected => "rejected",
        PhotoState::Released => "released by the gate",
        PhotoState::PendingHold | PhotoState::PendingRelease => "being processed",
    }
}

pub fn audit(
    who: &Moderator,
    v: &Verification,
    entries: &[AuditEntry],
    limit: usize,
    names: &HashMap<String, String>,
) -> Markup {
    layout(
        "Audit trail",
        Some(who),
        html! {
            h1 { "Audit trail" }
            @if let Some((seq, why)) = &v.broken_at {
                p.error #verify {
                    "THE TRAIL HAS BEEN TAMPERED WITH at entry " (seq) ": " (why)
                    ". Tell the school's data protection lead."
                }
            } @else {
                p.verified #verify {
                    "The trail is intact: " (v.rows) " entries, each linked to the one before. Head hash "
                    code { (v.head) } " — note it down to detect later removal of entries."
                }
            }
            p.hint { "The newest " (limit) " entries, newest first. Everything: " code { "consentgate audit" } }
            (history::trail(entries, names, true))
        },
    )
}

pub fn takedown(
    who: &Moderator,
    students: &[(String, String)],
    selected: Option<(&str, &str, &[Takedown])>,
) -> Markup {
    layout(
        "Takedown list",
        Some(who),
        html! {
            h1 { "Takedown list" }
            p.hint { "Every released photo a student was recognised or named in, for when consent is withdrawn. "
                "Recording the withdrawal itself: " code { "consentgate register withdraw ID --channel C" } }
            form.inline method="get" action="/takedown" {
                label for="student" { "Student" }
                select #student name="student" {
                    @for (sid, name) in students {
                        option value=(sid) selected[selected.is_some_and(|s| s.0 == sid)] { (name) " (" (sid) ")" }
                    }
                }
                button #show type="submit" { "Show" }
            }
            @if let Some((sid, name, list)) = selected {
                h2 { (name) " (" (sid) ")" }
                @if list.is_empty() {
                    p #takedown-empty { "No released photo is linked to this student." }
                } @else {
                    table.takedown #takedown {
                        thead { tr { th { "photo" } th { "channel" } th { "file in the outbox" } th { "released" } th { "how they were found" } } }
                        tbody {
                            @for t in list {
                                tr {
                                    td { a href=(format!("/photo/{}", t.photo_id)) { "#" (t.photo_id) } }
                                    td { (t.channel) }
                                    td { code { (t.outbox_path) } }
                                    td { (t.published_at.map(when).unwrap_or_default()) }
                                    td { (t.via) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// "Olivia Smith (A1001), ..." for the students a line of text names.
fn text_who(ids: &[String], names: &HashMap<String, String>) -> String {
    ids.iter()
        .map(|id| match names.get(id) {
            Some(n) => format!("{n} ({id})"),
            None => id.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_hits_are_marked_and_everything_is_escaped() {
        let hit = CaptionHit {
            student_id: "A1".into(),
            severity: Severity::Block,
            form: "full name".into(),
            part: false,
            matched: "Olivia Smith".into(),
            source: "sidecar".into(),
            note: None,
        };
        let names = HashMap::from([("A1".to_string(), "Olivia <b>Smith</b>".to_string())]);
        let out = highlighted(
            "<script>alert(1)</script> Olivia Smith & Olivia Smith",
            &[hit],
            &names,
        )
        .into_string();
        assert!(
            out.starts_with("&lt;script&gt;alert(1)&lt;/script&gt; "),
            "{out}"
        );
        assert_eq!(out.matches("<mark class=\"block\"").count(), 2, "{out}");
        assert!(
            out.contains("&amp;") && out.contains("Olivia &lt;b&gt;Smith"),
            "{out}"
        );
        assert!(!out.contains("<script>") && !out.contains("<b>"), "{out}");
    }

    #[test]
    fn waiting_times_read_naturally() {
        assert_eq!(waited(5), "5 min");
        assert_eq!(waited(125), "2 h 5 min");
        assert_eq!(waited(1440 + 60), "1 day 1 h");
        assert_eq!(waited(3 * 1440), "3 days 0 h");
    }

    /// The queue's thumbnails carry the face boxes and the boxes of text read in the picture,
    /// with who is in them or named, in the photo's full-size frame; every name is escaped.
    #[test]
    fn thumbnail_boxes_name_faces_and_written_names() {
        let face = |x: f32, student: Option<&str>, band, may_publish| FaceFinding {
            bbox: [x, 10.0, 50.0, 60.0],
            score: student.map(|_| 0.3),
            student: student.map(str::to_string),
            band,
            detection: 0.9,
            may_publish,
            small: false,
        };
        let rec = PhotoRecord {
            faces: vec![
                face(10.0, Some("A1001"), Band::Match, false),
                face(100.0, Some("A1002"), Band::Ambiguous, false),
                face(200.0, None, Band::None, false),
            ],
            texts: vec![
                crate::decide::TextFinding {
                    bbox: [20.0, 300.0, 200.0, 30.0],
                    text: "Awarded to Olivia Smith".into(),
                    named: vec!["A1001".into()],
                },
                crate::decide::TextFinding {
                    bbox: [20.0, 350.0, 200.0, 30.0],
                    text: "Sports day".into(),
                    named: vec![],
                },
            ],
            id: 5,
            content_hash: String::new(),
            channel: "website".into(),
            source_name: "a.jpg".into(),
            state: PhotoState::Held,
            reasons: vec![],
            removed: vec![],
            caption: None,
            outbox_path: None,
            held_dir: None,
            clean_ext: Some("jpg".into()),
            created_at: Utc::now(),
            decided_at: None,
            staged_path: None,
            sidecar_path: None,
            sidecar_hash: None,
        };
        let names = HashMap::from([
            ("A1001".to_string(), "Olivia <i>Smith</i>".to_string()),
            ("A1002".to_string(), "Aarav Patel".to_string()),
        ]);
        let out = boxes(&rec, 640, 480, &names, true).into_string();
        assert!(
            out.starts_with("<svg class=\"faces thumb\" viewBox=\"0 0 640 480\""),
            "{out}"
        );
        assert!(
            out.contains(">Olivia &lt;i&gt;Smith&lt;/i&gt;</text>"),
            "{out}"
        );
        assert!(out.contains(">Aarav Patel?</text>"), "{out}");
        assert!(out.contains(">3 ?</text>"), "{out}");
        assert_eq!(out.matches("<g class=\"text hit\"").count(), 1, "{out}");
        assert_eq!(out.matches("<g class=\"text\"").count(), 1, "{out}");
        assert!(
            out.contains(">text: Olivia &lt;i&gt;Smith&lt;/i&gt;</text>"),
            "the line naming her is labelled: {out}"
        );
        assert!(
            !out.contains("data-face"),
            "thumbnail boxes are not clickable: {out}"
        );
        // On the photo's page the boxes choose the face in the form, with scores.
        let page = boxes(&rec, 640, 480, &names, false).into_string();
        assert!(
            page.contains("data-face=\"1\"") && page.contains("0.30"),
            "{page}"
        );
    }
}
