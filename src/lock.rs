//! The workspace lock: one gate (`run` or `watch`) at a time per workspace.
//!
//! Two gates racing on one staging folder would each judge the same photo against their own view
//! of the register and fight over the same files. An exclusive advisory lock (`flock`) on
//! `consentgate.lock` makes the second one refuse with a message naming the first. The kernel drops
//! the lock when its process dies, however it dies, so a crash never leaves a stale lock to clean
//! up by hand. The file's text (pid, command, user, host, start time) is only for that message and
//! for `status`; the lock itself is the `flock`, never the file's existence.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Local, Utc};
use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};

/// The lock file, in the workspace root.
pub const LOCK_FILE: &str = "consentgate.lock";

/// How long to keep trying before refusing: `status` holds a shared lock for microseconds while
/// it probes, and a gate starting at that instant must not be refused for it.
const PATIENCE: Duration = Duration::from_millis(750);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{0}")]
    Busy(Holder),
    #[error("another consentgate process holds {path} but did not say which; wait for it to finish, or find it with `fuser {path}`")]
    BusyUnknown { path: String },
    #[error("cannot open or lock {path}: {source}; check that the workspace folder is writable by this user")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Who holds the lock, as the holder wrote it into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// `run` or `watch`.
    pub command: String,
    /// The channel being gated.
    pub channel: String,
    pub user: String,
    pub host: String,
    pub since: DateTime<Utc>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = self.since.with_timezone(&Local).format("%Y-%m-%d %H:%M");
        write!(
            f,
            "a `{}` for channel {} (pid {}, started {since} by {} on {}) is already gating this workspace; ",
            self.command, self.channel, self.pid, self.user, self.host
        )?;
        if self.command == "watch" {
            write!(f, "stop it (`systemctl stop consentgate-watch` if it runs as a service, or `kill {}`) or let it do the work: photos dropped in staging are gated by it", self.pid)
        } else {
            write!(f, "wait for it to finish, then try again")
        }
    }
}

/// An exclusive lock on a workspace, held until dropped (or the process ends).
#[derive(Debug)]
pub struct WorkspaceLock {
    file: File,
    holder: Holder,
}

impl WorkspaceLock {
    /// Take the lock for `command` on `channel`, or say who has it.
    pub fn acquire(root: &Path, command: &str, channel: &str) -> Result<WorkspaceLock, LockError> {
        let path = root.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        // Never truncate on open: the file's text belongs to whoever holds the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(e) if e == rustix::io::Errno::WOULDBLOCK && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    return Err(match read_holder(&mut file) {
                        Some(h) => LockError::Busy(h),
                        None => LockError::BusyUnknown {
                            path: path.display().to_string(),
                        },
                    });
                }
                Err(e) => return Err(io(e.into())),
            }
        }
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            channel: channel.to_string(),
            user: whoami::username(),
            host: whoami::fallible::hostname().unwrap_or_else(|_| "this machine".into()),
            since: Utc::now(),
        };
        let text = serde_json::to_string(&holder).unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(WorkspaceLock { file, holder })
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl Drop for WorkspaceLock {
    fn drop(&mut self) {
        // Empty the note first so a reader never sees a released lock described as held; the
        // kernel releases the lock itself when the file is closed.
        let _ = self.file.set_len(0);
        let _ = flock(&self.file, FlockOperation::Unlock);
    }
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// Who holds the workspace's lock, without taking it for longer than the probe. `Ok(None)`: nobody.
pub fn probe(root: &Path) -> Result<Option<Holder>, LockError> {
    let path = root.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Io {
                path: path.display().to_string(),
                source,
            })
        }
    };
    // A shared lock succeeds only when no gate holds the exclusive one.
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&file, FlockOperation::Unlock);
            Ok(None)
        }
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
            // Held; the holder may not have written its note yet.
            Ok(Some(read_holder(&mut file).unwrap_or(Holder {
                pid: 0,
                command: "unknown".into(),
                channel: String::new(),
                user: String::new(),
                host: String::new(),
                since: Utc::now(),
            })))
        }
        Err(e) => Err(LockError::Io {
            path: path.display().to_string(),
            source: e.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_first_and_freed_on_drop() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(probe(d.path()).unwrap(), None);
        let first = WorkspaceLock::acquire(d.path(), "watch", "website").unwrap();
        // flock conflicts between open files even within one process, as between processes.
        let err = WorkspaceLock::acquire(d.path(), "run", "website").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("`watch`")
                && msg.contains(&format!("pid {}", std::process::id()))
                && msg.contains("systemctl stop"),
            "{msg}"
        );
        assert_eq!(probe(d.path()).unwrap().unwrap().command, "watch");
        drop(first);
        assert_eq!(probe(d.path()).unwrap(), None);
        let again = WorkspaceLock::acquire(d.path(), "run", "social").unwrap();
        assert_eq!(again.holder().channel, "social");
    }
}
