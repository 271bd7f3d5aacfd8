//! The review page's login token: 128 random bits from the operating system's CSPRNG, shown once
//! when created and stored only as its SHA-256 hash in `consentgate.toml` (mode 0600). A random
//! token of that strength needs no slow password hash; a copy of the config does not let anyone in.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::workspace::CONFIG_FILE;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the operating system's random number generator failed ({0}); try again")]
    Random(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} cannot be updated ({message}); fix the file, then run `consentgate serve --new-token` again")]
    Edit { path: String, message: String },
    #[error("cannot write {path}: {source}; check the folder's permissions and free space")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the new token could not be recorded in the audit trail ({0}); run `consentgate serve --new-token` again")]
    Audit(String),
    #[error("this workspace has accounts, so the shared login token is no longer used: everyone logs in with their own account (a senior makes them with `consentgate users add NAME --role moderator`, and `consentgate users reset NAME` gives a forgotten password a new set-up code)")]
    AccountsExist,
}

/// Replace the login token (every session ends) and record who did it. Returns the new token.
pub fn replace(ws: &crate::workspace::Workspace, actor: &str) -> Result<String, TokenError> {
    let conn = ws.db().map_err(|e| TokenError::Audit(e.to_string()))?;
    if crate::accounts::any_accounts(&conn).map_err(|e| TokenError::Audit(e.to_string()))? {
        return Err(TokenError::AccountsExist);
    }
    let token = create(&ws.root)?;
    crate::audit::record(
        &conn,
        actor,
        "login-token-created",
        "review page",
        &serde_json::json!({}),
        chrono::Utc::now(),
    )
    .map_err(|e| TokenError::Audit(e.to_string()))?;
    Ok(token)
}

/// `bytes` random bytes from the OS CSPRNG, as hex (session ids, CSRF tokens, login tokens).
pub fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

/// Whether `offered` is the token whose hash is `stored_hex`, compared in constant time.
pub fn matches(stored_hex: &str, offered: &str) -> bool {
    match hex::decode(stored_hex) {
        Ok(stored) if stored.len() == 32 => stored.ct_eq(&hash(offered)).into(),
        _ => false,
    }
}

/// Create a new login token, store its hash in the workspace's config (replacing any earlier
/// one; comments and other keys are kept), and return the token so it can be shown once.
pub fn create(ws_root: &Path) -> Result<String, TokenError> {
    let path = ws_root.join(CONFIG_FILE);
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| TokenError::Read {
        path: shown.clone(),
        source,
    })?;
    let edit_err = |message: String| TokenError::Edit {
        path: shown.clone(),
        message,
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| edit_err(format!("{e}")))?;
    let token = random_hex(16)?;
    if !doc.contains_key("serve") {
        doc["serve"] = toml_edit::table();
    }
    let serve = doc["serve"]
        .as_table_mut()
        .ok_or_else(|| edit_err("[serve] is not a table".into()))?;
    serve["login_token_sha256"] = toml_edit::value(hex::encode(hash(&token)));
    let new_text = doc.to_string();
    // Never leave a config behind that consentgate itself would refuse to load.
    Config::parse(&new_text).map_err(edit_err)?;
    let write_err = |source| TokenError::Write {
        path: shown.clone(),
        source,
    };
    // tempfile creates the file owner-only (0600); the rename keeps that mode.
    let mut tmp = tempfile::Builder::new()
        .prefix(".consentgate.toml.")
        .tempfile_in(ws_root)
        .map_err(write_err)?;
    tmp.write_all(new_text.as_bytes()).map_err(write_err)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(&path).map_err(|e| write_err(e.error))?;
    crate::outbox::sync_dir(ws_root).map_err(write_err)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_stored_only_as_its_hash_and_the_config_keeps_its_comments() {
        let dir = tempfile::tempdir().unwrap();
        let ws = crate::workspace::Workspace::init(&dir.path().join("ws"), "test").unwrap();
        let first = create(&ws.root).unwrap();
        let second = create(&ws.root).unwrap();
        assert_eq!(second.len(), 32);
        assert_ne!(first, second);
        let path = ws.root.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&second), "the token itself is never written");
        assert!(
            text.contains("# Decompression-bomb guards"),
            "comments kept"
        );
        let config = Config::load(&path).unwrap();
        let stored = config.serve.login_token_sha256.unwrap();
        assert!(matches(&stored, &second));
        assert!(
            matches(&stored, &format!(" {second}\n")),
            "pasted whitespace"
        );
        assert!(!matches(&stored, &first), "the old token no longer works");
        assert!(!matches(&stored, ""));
        assert!(!matches("not hex", &second));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
