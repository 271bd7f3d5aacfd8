//! `consentgate serve`: the moderator's review page, in a browser, on the school's own machine.
//!
//! **Server.** `axum` on a single-threaded `tokio` runtime: a well-kept HTTP stack (hyper) with
//! typed extractors, so every request passes the same authentication, CSRF and origin checks
//! before a handler sees it, and nothing here parses HTTP by hand. Work that blocks (SQLite,
//! decoding photos, the face models) runs on tokio's blocking pool. Moderator actions are
//! serialised by one lock so two moderators cannot approve the same photo twice.
//!
//! **Security.** Bound to 127.0.0.1 unless `--bind` says otherwise (with a warning). Login with
//! the moderator's own account (name and password, argon2id; see [`crate::accounts`]), or, in a
//! workspace made before accounts and until its first account exists, the shared login token.
//! Failed logins are slowed per account and per source address, never blocked. A session is a
//! random id in an `HttpOnly`, `SameSite=Strict` cookie, kept (as a hash) in the database with
//! an idle (config) and an absolute expiry; every route checks the account's role. Every
//! state-changing request is a POST that must carry the session's CSRF token and come from this
//! origin (`Origin`/`Referer`/`Sec-Fetch-Site`); GET never changes anything. On loopback the
//! `Host` header must name loopback (DNS rebinding). Every page is HTML-escaped by `maud`, sent
//! with a strict Content-Security-Policy, `nosniff`, `no-store` and `Referrer-Policy: same-origin`
//! (no URL ever goes to another site; `no-referrer` would make browsers send `Origin: null` on
//! our own forms, defeating the origin check). Photos are
//! served only by journal id, from inside `held/` ([`crate::review::held_folder`]); URL text is
//! never joined to a path. Every asset is compiled into the binary; no network is used.

mod assets;
mod auth;
mod filter;
mod history;
mod html;
mod images;
mod routes;
pub mod token;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

use crate::faces::FaceEngine;
use crate::workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("this workspace has no accounts and no login token for the review page; make the first (senior) account with `consentgate users add NAME --role senior` (it prints a one-time set-up code), then start `consentgate serve` again")]
    NoToken,
    #[error("cannot read the workspace's accounts: {0}")]
    Accounts(String),
    #[error("cannot listen on {addr}: {source}; choose another port with --port, or stop the program using it")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the review page stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Where to listen.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub bind: IpAddr,
    /// 0 picks a free port (the bound address is reported to `ready`).
    pub port: u16,
}

/// The login token's hash as last read from the config, and when the config last changed
/// (a workspace made before accounts; refused once an account exists).
struct TokenState {
    sha256: Option<String>,
    modified: Option<std::time::SystemTime>,
}

/// Everything the handlers share. Sessions live in the database ([`crate::accounts`]), so a
/// `users disable` or `users reset` from the command line ends them at once.
struct App {
    ws: Workspace,
    /// Re-read when `consentgate.toml` changes, so `serve --new-token` takes effect at once.
    token: Mutex<TokenState>,
    /// `Host` header values accepted (loopback binding only; `None`: any).
    hosts: Option<Vec<String>>,
    limits: crate::accounts::SessionLimits,
    /// Failed logins per account and per source, for slowing guessing down.
    throttle: Mutex<crate::accounts::Throttle>,
    /// One login attempt at a time per source address (parallel guesses queue up).
    source_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// A message for a session's next page ("Photo #3 approved ..."), by session number.
    flashes: Mutex<HashMap<i64, String>>,
    images: images::Cache,
    /// Loaded on the first "this face is" action (loading takes about a second).
    engine: OnceLock<Result<FaceEngine, String>>,
    /// Serialises moderator actions.
    actions: Mutex<()>,
}

/// The address a request came from (set per connection).
#[derive(Debug, Clone, Copy)]
struct Peer(IpAddr);

/// Whether `ip` is on this machine only.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// Serve the review page until Ctrl-C or SIGTERM. `ready` is called with the bound address once
/// the page is reachable.
pub fn run(
    ws: Workspace,
    options: Options,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let has_accounts = ws
        .db()
        .map_err(|e| ServeError::Accounts(e.to_string()))
        .and_then(|c| {
            crate::accounts::any_accounts(&c).map_err(|e| ServeError::Accounts(e.to_string()))
        })?;
    if !has_accounts && ws.config.serve.login_token_sha256.is_none() {
        return Err(ServeError::NoToken);
    }
    let token = TokenState {
        sha256: ws.config.serve.login_token_sha256.clone(),
        modified: std::fs::metadata(ws.root.join(crate::workspace::CONFIG_FILE))
            .and_then(|m| m.modified())
            .ok(),
    };
    let limits = crate::accounts::SessionLimits {
        idle: std::time::Duration::from_secs(ws.config.serve.session_idle_minutes * 60),
        max_age: auth::MAX_AGE,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(options.bind, options.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        let bound = listener.local_addr()?;
        let hosts = is_loopback(bound.ip()).then(|| {
            let p = bound.port();
            vec![
                format!("127.0.0.1:{p}"),
                format!("localhost:{p}"),
                format!("[::1]:{p}"),
                bound.to_string(),
            ]
        });
        let app = Arc::new(App {
            ws,
            token: Mutex::new(token),
            hosts,
            limits,
            throttle: Mutex::new(crate::accounts::Throttle::default()),
            source_locks: Mutex::new(HashMap::new()),
            flashes: Mutex::new(HashMap::new()),
            images: images::Cache::default(),
            engine: OnceLock::new(),
            actions: Mutex::new(()),
        });
        ready(bound);
        serve_connections(listener, routes::router(app)).await;
        Ok(())
    })
}

/// How long a client may take to send a request's head (request line and headers). A browser
/// sends it in one go; without a limit a client that never finishes holds a connection (and its
/// memory) open for ever.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accept connections and serve each with hyper's HTTP/1 server until Ctrl-C or SIGTERM, then
/// let open requests finish. Not `axum::serve`: it gives hyper no timer, so hyper's header-read
/// timeout never runs (a half-open request stayed open for good) and it cannot be configured.
async fn serve_connections(listener: tokio::net::TcpListener, router: axum::Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin or stop.
                    tracing::warn!("cannot accept a connection to the review page: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(
            router.clone().layer(axum::Extension(Peer(peer.ip()))),
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("review page connection ended: {e}");
            }
        });
    }
    drop(listener);
    // Open requests get a moment to finish; idle and half-open connections are closed.
    let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, graceful.shutdown()).await;
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
