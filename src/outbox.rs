//! Outbox and held folder: where a photo's fate becomes durable on disk.
//!
//! Every file is written to a temporary name in the workspace, fsynced, renamed into place, and the
//! directory fsynced, so a crash leaves either the whole file or nothing in the outbox. Originals are
//! moved (rename, or copy + fsync + verify when crossing file systems), never rewritten.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Hidden workspace folder for temporary files, on the same file system as the outbox.
pub const TMP_DIR: &str = ".tmp";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("cannot write {path}: {source}; check that the disk is not full and the folder is writable, then run again")]
    Write { path: String, source: io::Error },
    #[error("cannot move {from} to {to}: {source}; check the folders' permissions and free space, then run again")]
    Move {
        from: String,
        to: String,
        source: io::Error,
    },
}

fn write_err(path: &Path) -> impl FnOnce(io::Error) -> OutboxError + '_ {
    move |source| OutboxError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// fsync a directory so a rename into it survives power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Write `bytes` to `dest` atomically and durably. An existing file of that name is replaced.
pub fn write_durably(tmp_root: &Path, dest: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    let tmp_dir = tmp_root.join(TMP_DIR);
    fs::create_dir_all(&tmp_dir).map_err(write_err(&tmp_dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&writer_prefix("write-"))
        .tempfile_in(&tmp_dir)
        .map_err(write_err(&tmp_dir))?;
    tmp.write_all(bytes).map_err(write_err(dest))?;
    tmp.as_file().sync_all().map_err(write_err(dest))?;
    crate::crash_point!("outbox.temp-written");
    match tmp.persist(dest) {
        Ok(_) => {}
        Err(e) if e.error.raw_os_error() == Some(18) => {
            // EXDEV: the outbox is on another file system; stage the temp file beside the destination.
            let mut near = tempfile::Builder::new()
                .prefix(&writer_prefix(NEAR_PREFIX))
                .tempfile_in(dir)
                .map_err(write_err(dir))?;
            near.write_all(bytes).map_err(write_err(dest))?;
            near.as_file().sync_all().map_err(write_err(dest))?;
            crate::crash_point!("outbox.near-temp-written");
            near.persist(dest).map_err(|e| OutboxError::Write {
                path: dest.display().to_string(),
                source: e.error,
            })?;
        }
        Err(e) => {
            return Err(OutboxError::Write {
                path: dest.display().to_string(),
                source: e.error,
            })
        }
    }
    crate::crash_point!("outbox.renamed");
    sync_dir(dir).map_err(write_err(dir))
}

/// A temporary staged beside its destination when the outbox is on another file system.
const NEAR_PREFIX: &str = ".cg-tmp-";

/// Temporary names carry the writer's process id, so the files of a writer that died (killed
/// mid-write) are recognised and removed at once, while a live writer's are left alone.
fn writer_prefix(base: &str) -> String {
    format!("{base}{}-", std::process::id())
}

/// Is this temporary's writer gone (its pid no longer runs), or the file too old to be live?
fn abandoned(name: &str, base: &str, modified: Option<std::time::SystemTime>) -> bool {
    let pid = name
        .strip_prefix(base)
        .and_then(|rest| rest.split('-').next())
        .and_then(|p| p.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    let dead = match pid {
        Some(p) if p == rustix::process::getpid() => false,
        Some(p) => matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    };
    let stale = modified
        .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= STALE_TEMPORARY);
    dead || stale
}

/// Move a file (or a symbolic link itself, never its target) into `dest`, durably.
pub fn move_durably(tmp_root: &Path, from: &Path, dest: &Path) -> Result<(), OutboxError> {
    let move_err = |source| OutboxError::Move {
        from: from.display().to_string(),
        to: dest.display().to_string(),
        source,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(move_err)?;
    match fs::rename(from, dest) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(18) => {
            // Different file systems: copy, verify, then remove the source.
            let bytes = fs::read(from).map_err(move_err)?;
            write_durably(tmp_root, dest, &bytes)?;
            let copied = fs::read(dest).map_err(move_err)?;
            if Sha256::digest(&copied) != Sha256::digest(&bytes) {
                return Err(move_err(io::Error::other(
                    "the copy does not match the original",
                )));
            }
            fs::remove_file(from).map_err(move_err)?;
        }
        Err(e) => return Err(move_err(e)),
    }
    sync_dir(dir).map_err(move_err)?;
    if let Some(src_dir) = from.parent() {
        sync_dir(src_dir).map_err(move_err)?;
    }
    Ok(())
}

/// Remove an original whose fate is durably recorded. Removes only if its content still has `hash`.
pub fn remove_original(path: &Path, hash: &str) -> io::Result<bool> {
    match fs::read(path) {
        Ok(bytes) if hex::encode(Sha256::digest(&bytes)) == hash => {
            fs::remove_file(path)?;
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok(true)
        }
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The neutral outbox name: release date and a short hash of the clean content. Says nothing
/// about who is in the photo or where it was taken.
pub fn neutral_name(date: chrono::NaiveDate, clean_bytes: &[u8], ext: &str) -> String {
    let hash = hex::encode(Sha256::digest(clean_bytes));
    format!("{}-{}.{ext}", date.format("%Y-%m-%d"), &hash[..12])
}

/// Remove temporary files a killed process left behind: in the workspace's temporary folder, and
/// (when the outbox is on another file system) beside the outbox files.
///
/// Only a dead writer's files, or files older than [`STALE_TEMPORARY`]: the review page and
/// `review` commands write through the same folders while `watch` runs, and removing one of their
/// files mid-write would make the moderator's action fail.
pub fn clean_temporaries(tmp_root: &Path) {
    let sweep = |dir: &Path, base: &str| {
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if !name.starts_with(base) {
                    continue;
                }
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                if abandoned(name, base, modified) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    };
    sweep(&tmp_root.join(TMP_DIR), "write-");
    if let Ok(channels) = fs::read_dir(tmp_root.join("outbox")) {
        for c in channels.flatten() {
            sweep(&c.path(), NEAR_PREFIX);
        }
    }
}

/// A durable write takes well under a second; a temporary this old belongs to no live writer.
pub const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(600);

/// Where a held photo's files live: `held/<id>/`.
pub fn held_dir(held_root: &Path, id: i64) -> PathBuf {
    held_root.join(id.to_string())
}

/// Within a held folder: the clean copy a moderator can approve.
pub fn held_clean_path(dir: &Path, ext: &str) -> PathBuf {
    dir.join(format!("clean.{ext}"))
}

/// Within a held folder: the original, under its own name.
pub fn held_original_dir(dir: &Path) -> PathBuf {
    dir.join("original")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary another process is writing right now survives; a killed process's old one goes.
    #[test]
    fn clean_temporaries_removes_only_stale_files() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path().join(TMP_DIR);
        fs::create_dir_all(&tmp).unwrap();
        let fresh = tmp.join("write-fresh");
        let old = tmp.join("write-old");
        fs::write(&fresh, b"being written").unwrap();
        let f = fs::File::create(&old).unwrap();
        f.set_modified(std::time::SystemTime::now() - STALE_TEMPORARY * 2)
            .unwrap();
        drop(f);
        // A writer that was killed: its process is gone, so its fresh file goes at once.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let killed = tmp.join(format!("write-{pid}-abc"));
        let mine = tmp.join(format!("write-{}-abc", std::process::id()));
        fs::write(&killed, b"half").unwrap();
        fs::write(&mine, b"being written").unwrap();
        let near_dir = root.path().join("outbox/website");
        fs::create_dir_all(&near_dir).unwrap();
        let near = near_dir.join(format!(".cg-tmp-{pid}-xyz"));
        fs::write(&near, b"half").unwrap();
        clean_temporaries(root.path());
        assert!(fresh.exists(), "a live writer's temporary was removed");
        assert!(mine.exists(), "this process's own temporary was removed");
        assert!(!old.exists(), "a stale temporary was left");
        assert!(!killed.exists(), "a killed writer's temporary was left");
        assert!(
            !near.exists(),
            "a killed writer's temporary in the outbox was left"
        );
    }

    #[test]
    fn write_durably_replaces_atomically_and_leaves_no_temporaries() {
        let ws = tempfile::tempdir().unwrap();
        let dest = ws.path().join("outbox/website/a.jpg");
        write_durably(ws.path(), &dest, b"one").unwrap();
        write_durably(ws.path(), &dest, b"two").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(
            fs::read_dir(ws.path().join("outbox/website"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(fs::read_dir(ws.path().join(TMP_DIR)).unwrap().count(), 0);
    }

    #[test]
    fn remove_original_refuses_when_content_changed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.jpg");
        fs::write(&p, b"new content").unwrap();
        let old_hash = hex::encode(Sha256::digest(b"old content"));
        assert!(!remove_original(&p, &old_hash).unwrap());
        assert!(p.exists());
        let hash = hex::encode(Sha256::digest(b"new content"));
        assert!(remove_original(&p, &hash).unwrap());
        assert!(!p.exists());
    }

    #[test]
    fn neutral_names_carry_no_source_name() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        let n = neutral_name(d, b"pixels", "jpg");
        assert!(
            n.starts_with("2026-07-01-")
                && n.ends_with(".jpg")
                && n.len() == "2026-07-01-".len() + 12 + 4,
            "{n}"
        );
    }
}
