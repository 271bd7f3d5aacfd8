//! The page's stylesheet and script, compiled into the binary (no CDN, no files at run time).

use axum::http::header;
use axum::response::IntoResponse;

static CSS: &str = include_str!("assets/style.css");
static JS: &str = include_str!("assets/app.js");

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

pub async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}
