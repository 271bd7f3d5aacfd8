//! A workspace: the folder a school's gate lives in.
//!
//! ```text
//! DIR/consentgate.toml   configuration
//! DIR/consentgate.db     register, journal, audit (mode 0600: it holds children's names)
//! DIR/staging/           staff drop photos here
//! DIR/outbox/<channel>/  what passed, metadata-free, under neutral names
//! DIR/held/<id>/         what was held: the original, its caption, the clean copy, the reasons
//! ```

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::config::{Config, ConfigError};
use crate::db::{self, DbError};

pub const CONFIG_FILE: &str = "consentgate.toml";
pub const DB_FILE: &str = "consentgate.db";

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{0} is not a consentgate workspace (no {CONFIG_FILE}); create one with `consentgate init DIR` or pass -w DIR")]
    NotAWorkspace(String),
    #[error(
        "{0} already holds a consentgate workspace; use it with -w, or choose an empty folder"
    )]
    AlreadyExists(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// An opened workspace: its paths and configuration.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
}

impl Workspace {
    /// Create a new workspace in `root` (which may exist but must not hold one already).
    /// Create a workspace; `actor` is recorded in its first audit row.
    pub fn init(root: &Path, actor: &str) -> Result<Workspace, WorkspaceError> {
        let config_path = root.join(CONFIG_FILE);
        if config_path.exists() || root.join(DB_FILE).exists() {
            return Err(WorkspaceError::AlreadyExists(root.display().to_string()));
        }
        let create = |p: &Path| {
            fs::create_dir_all(p).map_err(|source| WorkspaceError::Create {
                path: p.display().to_string(),
                source,
            })
        };
        create(root)?;
        for sub in ["staging", "outbox", "held"] {
            create(&root.join(sub))?;
        }
        // Both files hold the school's settings or children's data: owner-only from the first byte.
        let db_path = root.join(DB_FILE);
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db_path)
            .map_err(|source| WorkspaceError::Create {
                path: db_path.display().to_string(),
                source,
            })?;
        fs::set_permissions(&db_path, fs::Permissions::from_mode(0o600)).map_err(|source| {
            WorkspaceError::Create {
                path: db_path.display().to_string(),
                source,
            }
        })?;
        let conn = db::open(&db_path)?;
        crate::audit::record(
            &conn,
            actor,
            "init",
            "workspace",
            &serde_json::json!({"dir": root.display().to_string()}),
            chrono::Utc::now(),
        )
        .map_err(db::DbError::from)?;
        drop(conn);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&config_path)
            .map_err(|source| WorkspaceError::Create {
                path: config_path.display().to_string(),
                source,
            })?;
        std::io::Write::write_all(&mut f, Config::documented_default().as_bytes()).map_err(
            |source| WorkspaceError::Create {
                path: config_path.display().to_string(),
                source,
            },
        )?;
        Workspace::open(root)
    }

    /// Open an existing workspace.
    pub fn open(root: &Path) -> Result<Workspace, WorkspaceError> {
        let config_path = root.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(WorkspaceError::NotAWorkspace(root.display().to_string()));
        }
        let config = Config::load(&config_path)?;
        Ok(Workspace {
            root: root.to_path_buf(),
            config,
        })
    }

    /// Open the database read-write, upgrading its schema if an older release made it.
    pub fn db(&self) -> Result<Connection, WorkspaceError> {
        Ok(db::open(&self.db_path())?)
    }

    /// Open the database without changing anything.
    pub fn db_read_only(&self) -> Result<Connection, WorkspaceError> {
        Ok(db::open_read_only(&self.db_path())?)
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }
    pub fn outbox(&self, channel: &str) -> PathBuf {
        self.root.join("outbox").join(channel)
    }
    pub fn held(&self) -> PathBuf {
        self.root.join("held")
    }
}
