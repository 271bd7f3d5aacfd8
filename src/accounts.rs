//! Accounts: every moderator has their own name, role and password, so the audit trail's "who
//! approved" is an authenticated account, not a name someone typed (issue 13).
//!
//! **Passwords** are hashed with argon2id (the `argon2` crate, RustCrypto) at OWASP's minimum
//! parameters or above (19 MiB, 2 passes, 1 lane) with a fresh 128-bit salt per hash, stored as a
//! PHC string so the parameters travel with the hash. Verification is argon2's own constant-time
//! comparison; a name that has no account is checked against a dummy hash, so a wrong name costs
//! the same time as a wrong password.
//! **One-time set-up codes** (128 random bits, like the old login token) are what `init`,
//! `users add` and `users reset` print; only their SHA-256 is kept, compared in constant time, and
//! a code is used once, within [`SETUP_CODE_DAYS`].
//! **Sessions** of the review page live in the database (only the SHA-256 of each session id), so
//! `users disable` in another process ends a session at its next request, and a senior can list and
//! revoke them. A workspace made before accounts keeps its shared login token until the first
//! account is made ([`any_accounts`]); from then on the token is refused.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// argon2id memory cost in KiB: OWASP's minimum (19 MiB).
pub const ARGON2_MEMORY_KIB: u32 = 19 * 1024;
/// argon2id passes: OWASP's minimum with 19 MiB.
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;
/// Shortest password accepted (NIST SP 800-63B asks for at least 8; a passphrase is better).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (a bound on the work one login can cost).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest account name (it goes into every audit entry).
pub const MAX_NAME_CHARS: usize = 60;
/// How long a one-time set-up code works.
pub const SETUP_CODE_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the operating system's random number generator failed ({0}); try again")]
    Random(String),
    #[error("password hashing failed ({0}); try again")]
    Hash(String),
    #[error("an account name is 1 to {MAX_NAME_CHARS} letters, digits, spaces or . - _ ' (it is recorded with every decision)")]
    BadName,
    #[error("there is already an account called {0:?}; `consentgate users list` shows them")]
    Exists(String),
    #[error("no account called {0:?}; `consentgate users list` shows them")]
    NoSuchAccount(String),
    #[error("a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters (a few words make a good one)")]
    WeakPassword,
    #[error("the two passwords differ; type the same password twice")]
    PasswordsDiffer,
    #[error("wrong name or password (or the account is disabled); check both, or ask a senior leader for `consentgate users reset NAME`")]
    BadLogin,
    #[error("that set-up code is not right for this name, was already used, or expired; ask a senior leader for a new one (`consentgate users reset NAME`)")]
    BadSetupCode,
    #[error("{0} is the last senior account that is not disabled: disabling it would leave nobody to manage accounts or give second opinions; make another senior first")]
    LastSenior(String),
    #[error("the first account of a workspace must be a senior (it manages the others): `consentgate users add NAME --role senior`")]
    FirstMustBeSenior,
    #[error("this needs a senior account: {0}")]
    NeedsSenior(String),
    #[error("the account {0:?} is disabled")]
    Disabled(String),
    #[error("the account {0:?} has no password yet; set it with its one-time code: `consentgate users setup {0}` or the review page's /setup")]
    NotSetUp(String),
}

/// What an account may do. Ordered: each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Drops photos; no review access.
    Staff,
    /// Reviews held photos.
    Moderator,
    /// SLT: everything, account management, second opinions.
    Senior,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Moderator => "moderator",
            Role::Senior => "senior",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "staff" => Some(Role::Staff),
            "moderator" => Some(Role::Moderator),
            "senior" => Some(Role::Senior),
            _ => None,
        }
    }
}

/// One account, as read from the database (never with its password hash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// False until its one-time set-up code was used to choose a password.
    pub set_up: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

/// Who does something, as it is checked and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A logged-in account (password checked).
    Account(Account),
    /// A name nobody checked: the shared token's self-declared name or the OS user, in a
    /// workspace that has no accounts yet. Treated as a moderator, never as a senior.
    Unverified(String),
}

impl Actor {
    /// The name the audit trail records: an account as `NAME (account ID)`.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Account(a) => account_actor(a),
            Actor::Unverified(n) => n.clone(),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Actor::Account(a) => &a.name,
            Actor::Unverified(n) => n,
        }
    }
    pub fn role(&self) -> Role {
        match self {
            Actor::Account(a) => a.role,
            Actor::Unverified(_) => Role::Moderator,
        }
    }
    pub fn account_id(&self) -> Option<i64> {
        match self {
            Actor::Account(a) => Some(a.id),
            Actor::Unverified(_) => None,
        }
    }
}

/// The audit trail's actor for an account.
pub fn account_actor(a: &Account) -> String {
    format!("{} (account {})", a.name, a.id)
}

/// The audit subject for things done to an account (`audit --subject user:NAME`).
pub fn subject(name: &str) -> String {
    format!("user:{name}")
}

fn argon2() -> Result<Argon2<'static>, AccountError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AccountError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| AccountError::Random(e.to_string()))?;
    Ok(b)
}

/// A new argon2id hash of `password` with a fresh random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .to_string())
}

/// Whether `password` is the one `phc` was made from (argon2's constant-time comparison; the
/// parameters are read from the PHC string, so older hashes keep working).
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash nobody knows the password of, for names without an account: checking it costs what
/// checking a real one costs, so response time does not tell which names exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        random_bytes::<32>()
            .ok()
            .and_then(|b| hash_password(&hex::encode(b)).ok())
            .unwrap_or_else(|| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into())
    })
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.trim().as_bytes()))
}

/// Constant-time equality of two hex digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A checked account name.
pub fn clean_name(name: &str) -> Result<String, AccountError> {
    let n = name.trim();
    let ok_char = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '\'');
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS || !n.chars().all(ok_char) {
        return Err(AccountError::BadName);
    }
    Ok(n.to_string())
}

fn check_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(AccountError::WeakPassword);
    }
    Ok(())
}

const ACCOUNT_COLUMNS: &str =
    "id, name, role, password_hash IS NOT NULL, disabled_at IS NOT NULL, created_at, last_login_at";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(2)?;
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Staff),
        set_up: r.get(3)?,
        disabled: r.get(4)?,
        created_at: r.get(5)?,
        last_login_at: r.get(6)?,
    })
}

/// Whether the workspace has any account (then the shared login token no longer works).
pub fn any_accounts(conn: &Connection) -> Result<bool, AccountError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM accounts)", [], |r| r.get(0))?)
}

pub fn list(conn: &Connection) -> Result<Vec<Account>, AccountError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"
    ))?;
    let rows = stmt.query_map([], account_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn get(conn: &Connection, name: &str) -> Result<Option<Account>, AccountError> {
    Ok(conn
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?1"),
            [name.trim()],
            account_row,
        )
        .optional()?)
}

pub fn get_by_id(conn: &Connection, id: i64) -> Result<Option<Account>, AccountError> {
    Ok(conn
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"),
            [id],
            account_row,
        )
        .optional()?)
}

/// A one-time set-up code, shown once.
#[derive(Debug, Clone)]
pub struct SetupCode {
    pub name: String,
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

fn new_code(
    conn: &Connection,
    id: i64,
    name: &str,
    now: DateTime<Utc>,
) -> Result<SetupCode, AccountError> {
    let code = hex::encode(random_bytes::<16>()?);
    let expires_at = now + chrono::Duration::days(SETUP_CODE_DAYS);
    conn.execute(
        "UPDATE accounts SET setup_code_sha256 = ?1, setup_expires_at = ?2 WHERE id = ?3",
        params![sha256_hex(&code), expires_at.to_rfc3339(), id],
    )?;
    Ok(SetupCode {
        name: name.to_string(),
        code,
        expires_at,
    })
}

/// Only a senior (or, in a workspace without accounts, whoever makes the first senior) manages
/// accounts.
fn require_manager(conn: &Connection, by: &Actor, what: &str) -> Result<(), AccountError> {
    match by {
        Actor::Account(a) if a.role == Role::Senior => Ok(()),
        Actor::Unverified(_) if !any_accounts(conn)? => Ok(()),
        _ => Err(AccountError::NeedsSenior(what.to_string())),
    }
}

/// Make an account with a one-time set-up code (its owner chooses the password with it).
/// The first account of a workspace must be a senior; making it ends every shared-token session.
pub fn add(
    conn: &mut Connection,
    name: &str,
    role: Role,
    by: &Actor,
) -> Result<SetupCode, AccountError> {
    let name = clean_name(name)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    require_manager(&tx, by, "only a senior makes accounts")?;
    let first = !any_accounts(&tx)?;
    if first && role != Role::Senior {
        return Err(AccountError::FirstMustBeSenior);
    }
    if get(&tx, &name)?.is_some() {
        return Err(AccountError::Exists(name));
    }
    let now = Utc::now();
    tx.execute(
        "INSERT INTO accounts (name, role, created_at) VALUES (?1, ?2, ?3)",
        params![name, role.as_str(), now.to_rfc3339()],
    )?;
    let id = tx.last_insert_rowid();
    let code = new_code(&tx, id, &name, now)?;
    if first {
        // The shared token stops working now: its sessions end with it.
        tx.execute("DELETE FROM sessions WHERE account_id IS NULL", [])?;
    }
    crate::audit::record(
        &tx,
        &by.audit_name(),
        "user-added",
        &subject(&name),
        &serde_json::json!({"account": id, "role": role.as_str(), "first_account": first}),
        now,
    )?;
    tx.commit()?;
    Ok(code)
}

/// Disable an account: it can no longer log in, and its sessions end at once.
pub fn disable(conn: &mut Connection, name: &str, by: &Actor) -> Result<(), AccountError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    require_manager(&tx, by, "only a senior disables accounts")?;
    let a = get(&tx, name)?.ok_or_else(|| AccountError::NoSuchAccount(name.to_string()))?;
    if a.role == Role::Senior && !a.disabled {
        let seniors: i64 = tx.query_row(
            "SELECT COUNT(*) FROM accounts WHERE role = 'senior' AND disabled_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        if seniors <= 1 {
            return Err(AccountError::LastSenior(a.name));
        }
    }
    let now = Utc::now();
    tx.execute(
        "UPDATE accounts SET disabled_at = ?1, setup_code_sha256 = NULL WHERE id = ?2",
        params![now.to_rfc3339(), a.id],
    )?;
    let ended = tx.execute("DELETE FROM sessions WHERE account_id = ?1", [a.id])?;
    crate::audit::record(
        &tx,
        &by.audit_name(),
        "user-disabled",
        &subject(&a.name),
        &serde_json::json!({"account": a.id, "sessions_ended": ended}),
        now,
    )?;
    tx.commit()?;
    Ok(())
}

/// Reset an account: its password stops working, its sessions end, it is enabled again, and a
/// new one-time set-up code is returned for its owner.
pub fn reset(conn: &mut Connection, name: &str, by: &Actor) -> Result<SetupCode, AccountError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    require_manager(&tx, by, "only a senior resets accounts")?;
    let a = get(&tx, name)?.ok_or_else(|| AccountError::NoSuchAccount(name.to_string()))?;
    let now = Utc::now();
    tx.execute(
        "UPDATE accounts SET password_hash = NULL, disabled_at = NULL WHERE id = ?1",
        [a.id],
    )?;
    let ended = tx.execute("DELETE FROM sessions WHERE account_id = ?1", [a.id])?;
    let code = new_code(&tx, a.id, &a.name, now)?;
    crate::audit::record(
        &tx,
        &by.audit_name(),
        "user-reset",
        &subject(&a.name),
        &serde_json::json!({"account": a.id, "sessions_ended": ended, "was_disabled": a.disabled}),
        now,
    )?;
    tx.commit()?;
    Ok(code)
}

/// Choose a password with a one-time set-up code. The code works once.
pub fn complete_setup(
    conn: &mut Connection,
    name: &str,
    code: &str,
    password: &str,
    source: &str,
) -> Result<Account, AccountError> {
    check_password(password)?;
    let hash = hash_password(password)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(i64, Option<String>, Option<String>, bool)> = tx
        .query_row(
            "SELECT id, setup_code_sha256, setup_expires_at, disabled_at IS NOT NULL FROM accounts WHERE name = ?1",
            [name.trim()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let now = Utc::now();
    // The same comparison whether or not the name exists or has a code.
    let offered = sha256_hex(code);
    let (id, stored, expires, disabled) = row.unwrap_or((0, None, None, true));
    let code_ok = digests_match(stored.as_deref().unwrap_or(&"0".repeat(64)), &offered);
    let fresh = expires
        .as_deref()
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .is_some_and(|e| e.with_timezone(&Utc) > now);
    if !(code_ok && fresh && stored.is_some() && !disabled) {
        crate::audit::record(
            &tx,
            "review page",
            "setup-failed",
            &subject(name.trim()),
            &serde_json::json!({"source": source}),
            now,
        )?;
        tx.commit()?;
        return Err(AccountError::BadSetupCode);
    }
    tx.execute(
        "UPDATE accounts SET password_hash = ?1, setup_code_sha256 = NULL, setup_expires_at = NULL WHERE id = ?2",
        params![hash, id],
    )?;
    tx.execute("DELETE FROM sessions WHERE account_id = ?1", [id])?;
    let a = get_by_id(&tx, id)?.ok_or_else(|| AccountError::NoSuchAccount(name.to_string()))?;
    crate::audit::record(
        &tx,
        &account_actor(&a),
        "password-set",
        &subject(&a.name),
        &serde_json::json!({"account": a.id, "source": source}),
        now,
    )?;
    tx.commit()?;
    Ok(a)
}

/// Check a name and password. Every outcome costs one argon2 verification (a dummy one for an
/// unknown name). A failure is recorded in the audit trail; a success updates the last login.
/// `via` says where (review page, command line) and `source` from where (an address).
pub fn authenticate(
    conn: &Connection,
    name: &str,
    password: &str,
    via: &str,
    source: &str,
) -> Result<Account, AccountError> {
    let name = name.trim();
    let row: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT id, password_hash FROM accounts WHERE name = ?1 AND disabled_at IS NULL",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let phc = row
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let ok = verify_password(&phc, password) && row.as_ref().is_some_and(|(_, h)| h.is_some());
    count_verification();
    let now = Utc::now();
    let account = match (ok, row) {
        (true, Some((id, _))) => get_by_id(conn, id)?,
        _ => None,
    };
    let Some(a) = account else {
        crate::audit::record(
            conn,
            via,
            "login-failed",
            &subject(name),
            &serde_json::json!({"via": via, "source": source}),
            now,
        )?;
        return Err(AccountError::BadLogin);
    };
    conn.execute(
        "UPDATE accounts SET last_login_at = ?1 WHERE id = ?2",
        params![now.to_rfc3339(), a.id],
    )?;
    Ok(a)
}

#[cfg(test)]
static VERIFICATIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_verification() {
    #[cfg(test)]
    VERIFICATIONS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

// ---------------------------------------------------------------------------------------------
// Review-page sessions.

/// One live session, as a request sees it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// The public number (for listing and revoking; never the secret id).
    pub number: i64,
    /// `None`: a shared-token session (a workspace without accounts).
    pub account: Option<Account>,
    pub name: String,
    pub csrf: String,
}

/// A session as a senior sees it in the list.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub number: i64,
    pub name: String,
    pub account: Option<i64>,
    pub source: String,
    pub created_at: String,
    pub last_seen_at: String,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: Duration,
    pub max_age: Duration,
}

/// Whether a session created at `created` and last used at `last_seen` is still live at `now`.
pub fn session_live(
    created: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    now: DateTime<Utc>,
    limits: SessionLimits,
) -> bool {
    let age = |t: DateTime<Utc>| (now - t).to_std().unwrap_or(Duration::ZERO);
    now >= last_seen - chrono::Duration::minutes(1)
        && age(last_seen) <= limits.idle
        && age(created) <= limits.max_age
}

/// Start a session; returns the secret session id (for the cookie) and its CSRF token.
pub fn create_session(
    conn: &Connection,
    account: Option<&Account>,
    name: &str,
    token_sha256: Option<&str>,
    source: &str,
) -> Result<(String, String), AccountError> {
    let sid = hex::encode(random_bytes::<32>()?);
    let csrf = hex::encode(random_bytes::<32>()?);
    let now = Utc::now().to_rfc3339();
    conn.execute(
        "INSERT INTO sessions (sid_sha256, account_id, name, token_sha256, csrf, source, created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![sha256_hex(&sid), account.map(|a| a.id), name, token_sha256, csrf, source, now],
    )?;
    Ok((sid, csrf))
}

/// The live session `sid` names, refreshing its idle timer; an expired one is removed. A session
/// of a disabled account, or a token session once accounts exist or the token changed, is dead.
pub fn lookup_session(
    conn: &Connection,
    sid: &str,
    current_token: Option<&str>,
    limits: SessionLimits,
) -> Result<Option<SessionInfo>, AccountError> {
    type Row = (
        i64,
        Option<i64>,
        String,
        Option<String>,
        String,
        String,
        String,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT id, account_id, name, token_sha256, csrf, created_at, last_seen_at FROM sessions WHERE sid_sha256 = ?1",
            [sha256_hex(sid)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .optional()?;
    let Some((number, account_id, name, token, csrf, created, last_seen)) = row else {
        return Ok(None);
    };
    let now = Utc::now();
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    let live = match (parse(&created), parse(&last_seen)) {
        (Ok(c), Ok(l)) => session_live(c, l, now, limits),
        _ => false,
    };
    let account = match account_id {
        Some(id) => get_by_id(conn, id)?.filter(|a| !a.disabled && a.set_up),
        None => None,
    };
    let valid = live
        && match account_id {
            Some(_) => account.is_some(),
            None => {
                !any_accounts(conn)?
                    && matches!((token.as_deref(), current_token), (Some(t), Some(c)) if digests_match(t, c))
            }
        };
    if !valid {
        conn.execute("DELETE FROM sessions WHERE id = ?1", [number])?;
        return Ok(None);
    }
    // Refreshed at most every 15 seconds: a page and its thumbnails need not each write.
    if parse(&last_seen).is_ok_and(|l| (now - l).num_seconds() >= 15) {
        conn.execute(
            "UPDATE sessions SET last_seen_at = ?1 WHERE id = ?2",
            params![now.to_rfc3339(), number],
        )?;
    }
    Ok(Some(SessionInfo {
        number,
        name: account.as_ref().map_or(name, |a| a.name.clone()),
        account,
        csrf,
    }))
}

pub fn end_session(conn: &Connection, number: i64) -> Result<(), AccountError> {
    conn.execute("DELETE FROM sessions WHERE id = ?1", [number])?;
    Ok(())
}

/// Every session that has not expired (expired ones are removed first).
pub fn sessions(conn: &Connection, limits: SessionLimits) -> Result<Vec<SessionRow>, AccountError> {
    let now = Utc::now();
    let mut stmt = conn.prepare(
        "SELECT s.id, COALESCE(a.name, s.name), s.account_id, s.source, s.created_at, s.last_seen_at FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id ORDER BY s.id",
    )?;
    let rows: Vec<SessionRow> = stmt
        .query_map([], |r| {
            Ok(SessionRow {
                number: r.get(0)?,
                name: r.get(1)?,
                account: r.get(2)?,
                source: r.get(3)?,
                created_at: r.get(4)?,
                last_seen_at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc));
    let mut live = Vec::new();
    for row in rows {
        let ok = match (parse(&row.created_at), parse(&row.last_seen_at)) {
            (Ok(c), Ok(l)) => session_live(c, l, now, limits),
            _ => false,
        };
        if ok {
            live.push(row);
        } else {
            end_session(conn, row.number)?;
        }
    }
    Ok(live)
}

/// A senior ends someone's session.
pub fn revoke_session(conn: &Connection, number: i64, by: &Actor) -> Result<bool, AccountError> {
    if by.role() != Role::Senior || by.account_id().is_none() {
        return Err(AccountError::NeedsSenior(
            "only a senior revokes sessions".into(),
        ));
    }
    let name: Option<String> = conn
        .query_row(
            "SELECT COALESCE(a.name, s.name) FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = ?1",
            [number],
            |r| r.get(0),
        )
        .optional()?;
    let Some(name) = name else {
        return Ok(false);
    };
    end_session(conn, number)?;
    crate::audit::record(
        conn,
        &by.audit_name(),
        "session-revoked",
        &subject(&name),
        &serde_json::json!({"session": number}),
        Utc::now(),
    )?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Slowing password guessing.

/// Failed logins per account name and per source address, and how long the next attempt on each
/// must wait. Guessing is slowed, never blocked: the right password always gets in (a lock-out
/// would let anyone who can reach the page lock the moderators out). The per-account wait is
/// capped low, so someone guessing from elsewhere slows the real user by seconds at most; the
/// per-source wait grows further, and the review page also serialises each source's attempts.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: HashMap<String, VecDeque<Instant>>,
}

/// Failures older than this are forgotten.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures allowed in the window before attempts wait.
pub const FREE_FAILURES: usize = 3;
/// The first wait, doubled with every further failure, up to the caps.
const FIRST_WAIT: Duration = Duration::from_millis(250);
pub const ACCOUNT_WAIT_CAP: Duration = Duration::from_secs(4);
pub const SOURCE_WAIT_CAP: Duration = Duration::from_secs(16);
/// Keys kept at most (a flood of made-up names must not grow memory without bound).
const MAX_KEYS: usize = 10_000;

fn wait_for(failures: usize, cap: Duration) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES)
        .unwrap_or(u32::MAX)
        .min(16);
    (FIRST_WAIT * 2u32.pow(doublings)).min(cap)
}

impl Throttle {
    fn count(&mut self, key: &str, now: Instant) -> usize {
        let Some(q) = self.failures.get_mut(key) else {
            return 0;
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > THROTTLE_WINDOW)
        {
            q.pop_front();
        }
        q.len()
    }

    /// How long an attempt for `account` from `source` must wait before it is checked.
    pub fn wait(&mut self, account: &str, source: &str, now: Instant) -> Duration {
        let a = self.count(&format!("account:{}", account.trim().to_lowercase()), now);
        let s = self.count(&format!("source:{source}"), now);
        wait_for(a, ACCOUNT_WAIT_CAP).max(wait_for(s, SOURCE_WAIT_CAP))
    }

    pub fn failed(&mut self, account: &str, source: &str, now: Instant) {
        if self.failures.len() > MAX_KEYS {
            self.failures.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) <= THROTTLE_WINDOW)
            });
        }
        for key in [
            format!("account:{}", account.trim().to_lowercase()),
            format!("source:{source}"),
        ] {
            self.failures.entry(key).or_default().push_back(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("a.db")).unwrap();
        (dir, conn)
    }

    fn set_up(conn: &mut Connection, name: &str, role: Role, by: &Actor) -> Account {
        let code = add(conn, name, role, by).unwrap();
        complete_setup(
            conn,
            name,
            &code.code,
            &format!("{name} password 1"),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn password_hashes_are_argon2id_at_owasp_minimum_with_a_salt_per_user() {
        let (_d, mut conn) = db();
        let boot = Actor::Unverified("installer".into());
        let head = set_up(&mut conn, "head", Role::Senior, &boot);
        let by = Actor::Account(head);
        let c1 = add(&mut conn, "amy", Role::Moderator, &by).unwrap();
        let c2 = add(&mut conn, "bob", Role::Moderator, &by).unwrap();
        // The same password for both: the hashes still differ (per-user salt).
        complete_setup(&mut conn, "amy", &c1.code, "the same password", "t").unwrap();
        complete_setup(&mut conn, "bob", &c2.code, "the same password", "t").unwrap();
        let hashes: Vec<String> = conn
            .prepare("SELECT password_hash FROM accounts WHERE name IN ('amy', 'bob')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(hashes.len(), 2);
        assert_ne!(hashes[0], hashes[1]);
        let mut salts = Vec::new();
        for h in &hashes {
            assert!(!h.contains("the same password"));
            let p = PasswordHash::new(h).unwrap();
            assert_eq!(p.algorithm.as_str(), "argon2id", "{h}");
            let param = |k: &str| p.params.get_decimal(k).unwrap();
            assert!(param("m") >= 19 * 1024, "memory {h}");
            assert!(param("t") >= 2, "passes {h}");
            assert!(param("p") >= 1, "lanes {h}");
            let salt = p.salt.unwrap().as_str().to_string();
            assert!(salt.len() >= 22, "a 128-bit salt: {h}");
            salts.push(salt);
        }
        assert_ne!(salts[0], salts[1]);
        assert!(authenticate(&conn, "amy", "the same password", "t", "s").is_ok());
        assert!(matches!(
            authenticate(&conn, "amy", "the same passwordx", "t", "s"),
            Err(AccountError::BadLogin)
        ));
    }

    #[test]
    fn an_unknown_name_costs_one_hash_check_like_a_wrong_password() {
        let (_d, mut conn) = db();
        set_up(
            &mut conn,
            "head",
            Role::Senior,
            &Actor::Unverified("x".into()),
        );
        use std::sync::atomic::Ordering;
        let before = VERIFICATIONS.load(Ordering::SeqCst);
        assert!(authenticate(&conn, "nobody", "whatever it is", "t", "s").is_err());
        assert!(authenticate(&conn, "head", "whatever it is", "t", "s").is_err());
        // Other tests may run at the same time: at least these two checks happened.
        assert!(VERIFICATIONS.load(Ordering::SeqCst) - before >= 2);
        // Both failures are in the audit trail, under the name that was tried.
        let failed: Vec<String> = crate::audit::trail(&conn, None)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "login-failed")
            .map(|e| e.subject)
            .collect();
        assert_eq!(failed, ["user:nobody", "user:head"]);
        assert!(
            digests_match("ab", "ab") && !digests_match("ab", "ac") && !digests_match("ab", "abc")
        );
    }

    #[test]
    fn the_first_account_is_a_senior_and_only_seniors_manage_accounts() {
        let (_d, mut conn) = db();
        let boot = Actor::Unverified("installer".into());
        assert!(matches!(
            add(&mut conn, "amy", Role::Moderator, &boot),
            Err(AccountError::FirstMustBeSenior)
        ));
        let head = Actor::Account(set_up(&mut conn, "head", Role::Senior, &boot));
        // Once an account exists, an unverified name manages nothing.
        assert!(matches!(
            add(&mut conn, "eve", Role::Senior, &boot),
            Err(AccountError::NeedsSenior(_))
        ));
        let amy = Actor::Account(set_up(&mut conn, "amy", Role::Moderator, &head));
        assert!(matches!(
            add(&mut conn, "eve", Role::Senior, &amy),
            Err(AccountError::NeedsSenior(_))
        ));
        assert!(matches!(
            disable(&mut conn, "head", &amy),
            Err(AccountError::NeedsSenior(_))
        ));
        assert!(matches!(
            reset(&mut conn, "head", &amy),
            Err(AccountError::NeedsSenior(_))
        ));
        assert!(matches!(
            add(&mut conn, "Amy", Role::Staff, &head),
            Err(AccountError::Exists(_))
        ));
        assert!(matches!(
            add(&mut conn, "<b>x</b>", Role::Staff, &head),
            Err(AccountError::BadName)
        ));
        // The last senior cannot be disabled.
        assert!(matches!(
            disable(&mut conn, "head", &head),
            Err(AccountError::LastSenior(_))
        ));
        disable(&mut conn, "amy", &head).unwrap();
        assert!(authenticate(&conn, "amy", "amy password 1", "t", "s").is_err());
        // A reset gives a new code; the old password no longer works, the new one does.
        let code = reset(&mut conn, "amy", &head).unwrap();
        assert!(authenticate(&conn, "amy", "amy password 1", "t", "s").is_err());
        assert!(matches!(
            complete_setup(&mut conn, "amy", "0123", "a new password", "t"),
            Err(AccountError::BadSetupCode)
        ));
        complete_setup(&mut conn, "amy", &code.code, "a new password", "t").unwrap();
        // A code works once.
        assert!(matches!(
            complete_setup(&mut conn, "amy", &code.code, "another password", "t"),
            Err(AccountError::BadSetupCode)
        ));
        assert!(authenticate(&conn, "amy", "a new password", "t", "s").is_ok());
        let actions: Vec<(String, String)> = crate::audit::trail(&conn, Some("user:amy"))
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor))
            .collect();
        assert!(actions.contains(&("user-disabled".into(), "head (account 1)".into())));
        assert!(actions.contains(&("user-reset".into(), "head (account 1)".into())));
    }

    #[test]
    fn sessions_end_with_idle_time_age_disabling_and_the_first_account() {
        let limits = SessionLimits {
            idle: Duration::from_secs(30 * 60),
            max_age: Duration::from_secs(12 * 3600),
        };
        let t0 = Utc::now();
        let m = chrono::Duration::minutes;
        assert!(session_live(t0, t0, t0 + m(29), limits));
        assert!(!session_live(t0, t0, t0 + m(31), limits));
        assert!(session_live(t0, t0 + m(700), t0 + m(710), limits));
        assert!(!session_live(t0, t0 + m(725), t0 + m(730), limits));

        let (_d, mut conn) = db();
        // A shared-token session works while there is no account and the token is the same.
        let (tsid, _) = create_session(&conn, None, "J. Mod", Some(&"a".repeat(64)), "s").unwrap();
        assert!(lookup_session(&conn, &tsid, Some(&"a".repeat(64)), limits)
            .unwrap()
            .is_some());
        assert!(lookup_session(&conn, &tsid, Some(&"b".repeat(64)), limits)
            .unwrap()
            .is_none());
        let (tsid, _) = create_session(&conn, None, "J. Mod", Some(&"a".repeat(64)), "s").unwrap();
        let head = set_up(
            &mut conn,
            "head",
            Role::Senior,
            &Actor::Unverified("x".into()),
        );
        assert!(
            lookup_session(&conn, &tsid, Some(&"a".repeat(64)), limits)
                .unwrap()
                .is_none(),
            "the first account ends token sessions"
        );
        let by = Actor::Account(head.clone());
        let amy = set_up(&mut conn, "amy", Role::Moderator, &by);
        let (sid, _) = create_session(&conn, Some(&amy), &amy.name, None, "s").unwrap();
        let s = lookup_session(&conn, &sid, None, limits).unwrap().unwrap();
        assert_eq!(s.account.as_ref().map(|a| a.id), Some(amy.id));
        assert_eq!(sessions(&conn, limits).unwrap().len(), 1);
        disable(&mut conn, "amy", &by).unwrap();
        assert!(lookup_session(&conn, &sid, None, limits).unwrap().is_none());
        assert!(lookup_session(&conn, "made-up", None, limits)
            .unwrap()
            .is_none());
        // A senior revokes a session; a moderator cannot.
        let (hsid, _) = create_session(&conn, Some(&head), &head.name, None, "s").unwrap();
        let n = lookup_session(&conn, &hsid, None, limits)
            .unwrap()
            .unwrap()
            .number;
        assert!(revoke_session(&conn, n, &Actor::Unverified("x".into())).is_err());
        assert!(revoke_session(&conn, n, &by).unwrap());
        assert!(lookup_session(&conn, &hsid, None, limits)
            .unwrap()
            .is_none());
    }

    #[test]
    fn guessing_is_slowed_per_account_and_per_source_but_never_blocked() {
        let mut t = Throttle::default();
        let now = Instant::now();
        assert_eq!(t.wait("amy", "10.0.0.9", now), Duration::ZERO);
        for _ in 0..FREE_FAILURES {
            t.failed("amy", "10.0.0.9", now);
        }
        let w = t.wait("amy", "10.0.0.9", now);
        assert!(w > Duration::ZERO);
        // The same account from elsewhere: slowed, at most by the account cap.
        for _ in 0..50 {
            t.failed("Amy", "10.0.0.9", now);
        }
        assert_eq!(t.wait("amy", "10.0.0.1", now), ACCOUNT_WAIT_CAP);
        // The guessing source: up to the larger source cap, for every account it tries.
        assert_eq!(t.wait("bob", "10.0.0.9", now), SOURCE_WAIT_CAP);
        // Another account from another source is not slowed at all.
        assert_eq!(t.wait("bob", "10.0.0.1", now), Duration::ZERO);
        // After the window, everything is forgotten.
        let later = now + THROTTLE_WINDOW + Duration::from_secs(1);
        assert_eq!(t.wait("amy", "10.0.0.9", later), Duration::ZERO);
    }
}
