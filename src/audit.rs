//! The audit trail: append-only and hash-chained. Each row carries the hash of the one before,
//! so an edited or removed row breaks the chain and `audit verify` says where; SQLite triggers
//! refuse edits through SQL. Every module that changes something a school must account for
//! (the gate, the register, review, the review page's logins) appends its row here, in the same
//! transaction as the change. Depends on nothing but the database, so anything may record.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One row of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The actor of the gate's own decisions (held, released): the service, whoever started it.
pub const GATE: &str = "consentgate gate";

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn chain_hash(
    prev: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [prev, &seq.to_string(), at, actor, action, subject, detail] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Append one audit row. Call inside the transaction that makes the change it records.
pub fn record(
    conn: &Connection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), rusqlite::Error> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (seq, prev) = last.map_or((1, GENESIS.to_string()), |(s, h)| (s + 1, h));
    let at = now.to_rfc3339();
    let detail = detail.to_string();
    let hash = chain_hash(&prev, seq, &at, actor, action, subject, &detail);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at, actor, action, subject, detail, prev, hash],
    )?;
    Ok(())
}

pub fn trail(conn: &Connection, subject: Option<&str>) -> Result<Vec<AuditEntry>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit WHERE (?1 IS NULL OR subject = ?1) ORDER BY seq")?;
    let mut rows = stmt.query([subject])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(audit_row(r)?);
    }
    Ok(out)
}

/// Entries about `subject` or made by `actor` (an account's `audit --subject user:NAME`: what was
/// done to the account, and everything it did), oldest first.
pub fn trail_by(
    conn: &Connection,
    subject: &str,
    actor: Option<&str>,
) -> Result<Vec<AuditEntry>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit WHERE subject = ?1 OR actor = ?2 ORDER BY seq")?;
    let mut rows = stmt.query(rusqlite::params![subject, actor])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(audit_row(r)?);
    }
    Ok(out)
}

/// The newest `limit` audit entries, newest first.
pub fn recent(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>, rusqlite::Error> {
    let mut stmt = conn.prepare("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT ?1")?;
    let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(audit_row(r)?);
    }
    Ok(out)
}

fn audit_row(r: &rusqlite::Row<'_>) -> Result<AuditEntry, rusqlite::Error> {
    let detail: String = r.get(5)?;
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

/// The result of checking the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Verification {
    pub rows: usize,
    /// Hash of the newest row: write it down (or print it) to detect later truncation.
    pub head: String,
    /// The first row whose content or link does not match, with what is wrong.
    pub broken_at: Option<(i64, String)>,
}

pub fn verify(conn: &Connection) -> Result<Verification, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut count = 0;
    while let Some(r) = rows.next()? {
        let (seq, at, actor, action, subject, detail, prev_hash, hash): (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            String,
        ) = (
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        );
        count += 1;
        let problem = if seq != expected_seq {
            Some(format!("row {expected_seq} is missing"))
        } else if prev_hash != prev {
            Some("its link to the previous row does not match (a row before it was changed or removed)".to_string())
        } else if chain_hash(&prev_hash, seq, &at, &actor, &action, &subject, &detail) != hash {
            Some("its content was changed after it was written".to_string())
        } else {
            None
        };
        if let Some(p) = problem {
            return Ok(Verification {
                rows: count,
                head: hash,
                broken_at: Some((seq, p)),
            });
        }
        prev = hash;
        expected_seq += 1;
    }
    Ok(Verification {
        rows: count,
        head: prev,
        broken_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_with_any_audit_row_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::db::open(&dir.path().join("a.db")).unwrap();
        let now = Utc::now();
        for i in 0..5 {
            record(
                &conn,
                "alice",
                "released",
                &format!("photo {i}"),
                &serde_json::json!({"i": i}),
                now,
            )
            .unwrap();
        }
        let ok = verify(&conn).unwrap();
        assert_eq!((ok.rows, ok.broken_at.clone()), (5, None));

        // The triggers refuse edits through SQL...
        assert!(conn
            .execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3", [])
            .is_err());
        assert!(conn.execute("DELETE FROM audit WHERE seq = 3", []).is_err());
        // ...and someone who drops them is still caught by the chain.
        conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
            .unwrap();
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3", [])
            .unwrap();
        assert_eq!(verify(&conn).unwrap().broken_at.map(|b| b.0), Some(3));
        conn.execute("UPDATE audit SET actor = 'alice' WHERE seq = 3", [])
            .unwrap();
        assert_eq!(verify(&conn).unwrap().broken_at, None);
        conn.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
        assert!(verify(&conn).unwrap().broken_at.is_some());
    }
}
