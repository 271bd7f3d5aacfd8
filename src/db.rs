//! The workspace database: one SQLite file holding the register, the journal and the audit trail.
//!
//! Schema changes are versioned migrations (SQLite `user_version`), so a newer consentgate opens an
//! older workspace and upgrades it in place; an older consentgate refuses a newer one.

use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the workspace database {path}: {source}; is this a consentgate workspace (run `consentgate init`)?")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("cannot upgrade the workspace database: {0}; restore it from backup or use the consentgate version that created it")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// Every schema version, oldest first. Never edit a released migration; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: register, journal, audit.
    r#"
    CREATE TABLE students (
        id             TEXT PRIMARY KEY,
        first_name     TEXT NOT NULL,
        middle_names   TEXT NOT NULL DEFAULT '',
        last_name      TEXT NOT NULL,
        preferred_name TEXT,
        nicknames      TEXT NOT NULL DEFAULT '',
        year_group     TEXT NOT NULL DEFAULT '',
        status         TEXT NOT NULL CHECK (status IN ('on_roll', 'left')),
        no_publish     INTEGER NOT NULL DEFAULT 0,
        updated_at     TEXT NOT NULL
    );
    CREATE TABLE consents (
        student_id   TEXT NOT NULL REFERENCES students(id) ON DELETE CASCADE,
        channel      TEXT NOT NULL,
        granted      INTEGER NOT NULL,
        given_on     TEXT,
        expires_on   TEXT,
        withdrawn_on TEXT,
        PRIMARY KEY (student_id, channel)
    );
    CREATE TABLE devices (
        id     INTEGER PRIMARY KEY,
        make   TEXT NOT NULL DEFAULT '',
        model  TEXT NOT NULL DEFAULT '',
        serial TEXT NOT NULL DEFAULT '',
        note   TEXT NOT NULL DEFAULT '',
        UNIQUE (make, model, serial)
    );
    -- The journal: one row per photo content and channel. `state` moves
    -- pending -> released | held, and held -> approved | rejected.
    CREATE TABLE photos (
        id            INTEGER PRIMARY KEY,
        content_hash  TEXT NOT NULL,
        channel       TEXT NOT NULL,
        source_name   TEXT NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('pending_release', 'pending_hold', 'released', 'held', 'approved', 'rejected')),
        reasons       TEXT NOT NULL DEFAULT '[]',
        removed       TEXT NOT NULL DEFAULT '[]',
        caption       TEXT,
        outbox_path   TEXT,
        held_dir      TEXT,
        clean_ext     TEXT,
        created_at    TEXT NOT NULL,
        decided_at    TEXT,
        UNIQUE (content_hash, channel)
    );
    -- Which students were linked to which photo, for the takedown list.
    CREATE TABLE appearances (
        photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        student_id TEXT NOT NULL,
        via        TEXT NOT NULL
    );
    CREATE INDEX appearances_student ON appearances(student_id);
    -- Append-only, hash-chained audit trail.
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    "#,
    // 2: faces. Templates are biometric data: only what matching needs (embedding + crop hash),
    // never the enrolment photo; `register forget` deletes them.
    r#"
    CREATE TABLE face_templates (
        id         INTEGER PRIMARY KEY,
        student_id TEXT NOT NULL REFERENCES students(id) ON DELETE CASCADE,
        embedding  BLOB NOT NULL,
        crop_hash  BLOB NOT NULL,
        source     TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX face_templates_student ON face_templates(student_id);
    -- Whole-image perceptual hashes (PDQ) of photos a moderator rejected, for re-upload detection.
    CREATE TABLE rejected_hashes (
        photo_id INTEGER NOT NULL REFERENCES photos(id),
        hash     TEXT NOT NULL,
        mirror   TEXT NOT NULL,
        quality  INTEGER NOT NULL
    );
    ALTER TABLE photos ADD COLUMN faces TEXT NOT NULL DEFAULT '[]';
    "#,
    // 3: watch and status. `register_version` counts every change to what a photo is judged
    // against (students, consent, devices, face templates, rejected photos), whoever makes it, so a
    // long-running `watch` knows when to reload; `runs` records each `run` and `watch` for `status`.
    r#"
    CREATE TABLE register_version (
        only    INTEGER PRIMARY KEY CHECK (only = 1),
        version INTEGER NOT NULL
    );
    INSERT INTO register_version (only, version) VALUES (1, 0);
    CREATE TRIGGER students_insert_bumps_register AFTER INSERT ON students
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER students_update_bumps_register AFTER UPDATE ON students
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER students_delete_bumps_register AFTER DELETE ON students
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER consents_insert_bumps_register AFTER INSERT ON consents
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER consents_update_bumps_register AFTER UPDATE ON consents
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER consents_delete_bumps_register AFTER DELETE ON consents
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER devices_insert_bumps_register AFTER INSERT ON devices
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER devices_update_bumps_register AFTER UPDATE ON devices
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER devices_delete_bumps_register AFTER DELETE ON devices
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER face_templates_insert_bumps_register AFTER INSERT ON face_templates
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER face_templates_update_bumps_register AFTER UPDATE ON face_templates
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER face_templates_delete_bumps_register AFTER DELETE ON face_templates
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER rejected_hashes_insert_bumps_register AFTER INSERT ON rejected_hashes
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER rejected_hashes_update_bumps_register AFTER UPDATE ON rejected_hashes
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TRIGGER rejected_hashes_delete_bumps_register AFTER DELETE ON rejected_hashes
        BEGIN UPDATE register_version SET version = version + 1; END;
    CREATE TABLE runs (
        id              INTEGER PRIMARY KEY,
        command         TEXT NOT NULL CHECK (command IN ('run', 'watch')),
        channel         TEXT NOT NULL,
        actor           TEXT NOT NULL,
        pid             INTEGER NOT NULL,
        started_at      TEXT NOT NULL,
        last_pass_at    TEXT,
        -- NULL while running, and after a crash (status tells the two apart by the lock).
        finished_at     TEXT,
        outcome         TEXT CHECK (outcome IN ('finished', 'stopped', 'failed')),
        passes          INTEGER NOT NULL DEFAULT 0,
        released        INTEGER NOT NULL DEFAULT 0,
        held            INTEGER NOT NULL DEFAULT 0,
        left_in_staging INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 4: crash safety. The write-ahead record names the photo's staged path as raw bytes (names
    // need not be UTF-8) and its caption file with the hash of the caption judged, so recovery
    // can finish a hold forward and clear a released photo's caption from staging.
    r#"
    ALTER TABLE photos ADD COLUMN staged_path BLOB;
    ALTER TABLE photos ADD COLUMN sidecar_path BLOB;
    ALTER TABLE photos ADD COLUMN sidecar_hash TEXT;
    "#,
    // 5: MIS exports. The surname a student goes by (captions are matched against it too), and
    // the registration group kept apart from the year group.
    r#"
    ALTER TABLE students ADD COLUMN preferred_surname TEXT;
    ALTER TABLE students ADD COLUMN reg_group TEXT NOT NULL DEFAULT '';
    "#,
    // 6: accounts (issue 13). Named moderators with argon2id password hashes, their review-page
    // sessions (only a hash of each session id is kept), first approvals waiting for a second
    // opinion, and "ask a senior" marks. A workspace without accounts keeps its shared token.
    r#"
    CREATE TABLE accounts (
        id                INTEGER PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role              TEXT NOT NULL CHECK (role IN ('staff', 'moderator', 'senior')),
        -- argon2id PHC string (algorithm, parameters, per-user salt, hash); NULL until set up.
        password_hash     TEXT,
        -- SHA-256 of the one-time set-up code, until it is used or expires.
        setup_code_sha256 TEXT,
        setup_expires_at  TEXT,
        disabled_at       TEXT,
        created_at        TEXT NOT NULL,
        last_login_at     TEXT
    );
    CREATE TABLE sessions (
        id           INTEGER PRIMARY KEY,
        sid_sha256   TEXT NOT NULL UNIQUE,
        -- NULL: a shared-token session of a workspace that has no accounts yet.
        account_id   INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        token_sha256 TEXT,
        csrf         TEXT NOT NULL,
        source       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE TABLE first_approvals (
        photo_id    INTEGER PRIMARY KEY REFERENCES photos(id),
        action      TEXT NOT NULL CHECK (action IN ('approve', 'redact')),
        -- NULL: given through the shared token (before accounts); never a second opinion.
        account_id  INTEGER REFERENCES accounts(id),
        name        TEXT NOT NULL,
        note        TEXT NOT NULL,
        -- SHA-256 of the photo's record when approved: a changed photo needs a new approval.
        fingerprint TEXT NOT NULL,
        at          TEXT NOT NULL
    );
    CREATE TABLE senior_requests (
        id         INTEGER PRIMARY KEY,
        photo_id   INTEGER NOT NULL REFERENCES photos(id),
        account_id INTEGER REFERENCES accounts(id),
        name       TEXT NOT NULL,
        note       TEXT NOT NULL,
        at         TEXT NOT NULL
    );
    CREATE INDEX senior_requests_photo ON senior_requests(photo_id);
    "#,
    // 7: text in the picture. Every line read (box, text, whom it names), so the review page can
    // draw the text boxes and a moderator's redact-and-release can blur the named ones.
    r#"
    ALTER TABLE photos ADD COLUMN texts TEXT NOT NULL DEFAULT '[]';
    "#,
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// The schema version this build writes.
pub fn schema_version() -> usize {
    MIGRATIONS.len()
}

/// Open (creating if needed) and upgrade the database.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let mut conn = Connection::open(path).map_err(|source| DbError::Open {
        path: path.display().to_string(),
        source,
    })?;
    configure(&conn)?;
    migrations().to_latest(&mut conn)?;
    Ok(conn)
}

/// Open an existing database without creating or changing anything (for `check`).
pub fn open_read_only(path: &Path) -> Result<Connection, DbError> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| DbError::Open {
        path: path.display().to_string(),
        source,
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), DbError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(migrations().validate().is_ok());
    }

    /// A workspace made before migration 4 opens, keeps its students and gains the new columns.
    #[test]
    fn a_version_3_workspace_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(MIGRATIONS[..3].iter().map(|sql| M::up(sql)).collect())
                .to_latest(&mut conn)
                .unwrap();
            conn.execute(
                "INSERT INTO students (id, first_name, last_name, year_group, status, updated_at) VALUES ('A1', 'Zoë', 'Lee', 'Y6', 'on_roll', '2026-01-01')",
                [],
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        let (name, year, reg, psur): (String, String, String, Option<String>) = conn
            .query_row(
                "SELECT first_name, year_group, reg_group, preferred_surname FROM students WHERE id = 'A1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (name.as_str(), year.as_str(), reg.as_str(), psur),
            ("Zoë", "Y6", "", None)
        );
    }

    /// A workspace made before accounts (version 5) opens with its audit trail intact, gains the
    /// account tables and has no account, so its shared login token still works.
    #[test]
    fn a_version_5_workspace_gains_accounts_and_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(MIGRATIONS[..5].iter().map(|sql| M::up(sql)).collect())
                .to_latest(&mut conn)
                .unwrap();
            crate::audit::record(
                &conn,
                "old",
                "init",
                "workspace",
                &serde_json::json!({}),
                chrono::Utc::now(),
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        assert!(!crate::accounts::any_accounts(&conn).unwrap());
        for table in ["accounts", "sessions", "first_approvals", "senior_requests"] {
            let n: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }
        let v = crate::audit::verify(&conn).unwrap();
        assert_eq!((v.rows, v.broken_at), (1, None));
    }

    #[test]
    fn reopening_an_upgraded_database_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cg.db");
        {
            let conn = open(&path).unwrap();
            conn.execute(
                "INSERT INTO devices (make, model, serial) VALUES ('Canon', 'EOS', '1')",
                [],
            )
            .unwrap();
        }
        let conn = open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM devices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, schema_version());
    }
}
