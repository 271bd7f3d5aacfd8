//! Intake: find the files in staging that are ready to be gated.
//!
//! Symbolic links are never followed (a link could point at anything on the machine); files still
//! being written are left until their size and modification time have settled; caption sidecars
//! (`NAME.txt`, `NAME.caption.txt`) travel with their photo rather than being gated themselves,
//! and a photo waits while its sidecar is still settling (captions often arrive just after).
//!
//! "Settled" is judged on the later of the modification time and the inode change time: copies
//! that preserve the original's mtime (`cp -p`, Explorer over SMB) set it to the past, but every
//! write and every `utime` moves the change time, which nobody can set back.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use walkdir::WalkDir;

/// What intake found at one path in staging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A regular file whose size and mtime have settled.
    Ready { size: u64, modified: SystemTime },
    /// Changed less than the settle time ago (it or its sidecar): probably still being copied.
    /// Taken no earlier than `ready_at`, if nothing changes before then.
    Settling { ready_at: SystemTime },
    /// A symbolic link (not followed).
    SymbolicLink { target: String },
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Path relative to staging, as staff see it.
    pub name: String,
    pub found: Found,
}

/// Is this file a caption sidecar rather than a photo?
pub fn is_sidecar(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

/// Files the gate should not touch: hidden files, and partial downloads/copies by common tools.
fn is_ignored(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || [".part", ".crdownload", ".tmp", ".partial", ".download"]
            .iter()
            .any(|s| lower.ends_with(s))
}

/// Walk staging (without following links) and classify every candidate photo.
pub fn scan(staging: &Path, settle: Duration, now: SystemTime) -> Vec<Candidate> {
    let mut out = Vec::new();
    for entry in WalkDir::new(staging)
        .follow_links(false)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .flatten()
    {
        let name = display_name(
            entry
                .path()
                .strip_prefix(staging)
                .unwrap_or(entry.path())
                .as_os_str(),
        );
        let file_name = entry.file_name().to_string_lossy();
        if is_ignored(&file_name) {
            continue;
        }
        let ft = entry.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            out.push(Candidate {
                path: entry.into_path(),
                name,
                found: Found::SymbolicLink { target },
            });
            continue;
        }
        if !ft.is_file() || is_sidecar(entry.path()) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(now);
        // The photo and its caption must both have settled.
        let changed = sidecar_for(entry.path())
            .and_then(|s| fs::symlink_metadata(s).ok())
            .map_or(last_change(&meta, now), |sm| {
                last_change(&meta, now).max(last_change(&sm, now))
            });
        let ready_at = changed + settle;
        let found = if ready_at > now {
            Found::Settling { ready_at }
        } else {
            Found::Ready {
                size: meta.len(),
                modified,
            }
        };
        out.push(Candidate {
            path: entry.into_path(),
            name,
            found,
        });
    }
    out
}

/// When a file last changed: the later of its mtime and its inode change time (see module docs).
/// An mtime in the future (a camera or server clock ahead, copied with `cp -p`) would hold the file
/// back until that date, so then the change time alone counts — when the file system has one.
/// When the file at `path` last changed (content or inode), if it can be seen.
pub fn changed_at(path: &Path) -> Option<SystemTime> {
    let now = SystemTime::now();
    fs::symlink_metadata(path)
        .ok()
        .map(|m| last_change(&m, now))
}

fn last_change(meta: &fs::Metadata, now: SystemTime) -> SystemTime {
    use std::os::unix::fs::MetadataExt;
    let modified = meta.modified().unwrap_or(now);
    let ctime = u64::try_from(meta.ctime())
        .ok()
        .filter(|&s| s > 0)
        .and_then(|s| {
            let nanos = u32::try_from(meta.ctime_nsec())
                .unwrap_or(0)
                .min(999_999_999);
            SystemTime::UNIX_EPOCH.checked_add(Duration::new(s, nanos))
        });
    match ctime {
        Some(c) if modified > now && c <= now => c,
        Some(c) => modified.max(c),
        None => modified,
    }
}

/// A caption sidecar as the gate reads it when it judges the photo (which may be minutes after the
/// scan, in a large pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SidecarRead {
    /// It changed less than the settle time ago, or while it was being read: probably still being
    /// written. The photo waits.
    Settling,
    /// Its bytes, unchanged while they were read, and when the file last changed: a rewrite
    /// between judging and deciding is seen even when it briefly leaves the same bytes (a
    /// truncated file read twice).
    Read { bytes: Vec<u8>, changed: SystemTime },
    /// It could not be read (the photo is held for it).
    Unreadable(String),
}

/// Read a photo's sidecar for judging: only once it has settled (as [`scan`] requires of a
/// sidecar that was there at scan time), and only if it did not change while being read, so a
/// caption being (re)written is never judged cut short — before the student's name.
pub fn read_sidecar(path: &Path, settle: Duration, now: SystemTime) -> SidecarRead {
    let before = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => return SidecarRead::Unreadable(e.to_string()),
    };
    if last_change(&before, now) + settle > now {
        return SidecarRead::Settling;
    }
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return SidecarRead::Unreadable(e.to_string()),
    };
    let unchanged = fs::symlink_metadata(path).is_ok_and(|after| {
        after.len() == before.len()
            && after.len() == bytes.len() as u64
            && last_change(&after, now) == last_change(&before, now)
    });
    if unchanged {
        SidecarRead::Read {
            bytes,
            changed: last_change(&before, now),
        }
    } else {
        SidecarRead::Settling
    }
}

/// The caption sidecar for a photo, if one exists: `IMG_1.txt`, `IMG_1.caption.txt`,
/// `IMG_1.jpg.txt` or `IMG_1.jpg.caption.txt`. Paired on the raw bytes of the name, so a name
/// that is not valid UTF-8 (`caf\xe9.jpg` from an old Windows share) keeps its caption.
pub fn sidecar_for(photo: &Path) -> Option<PathBuf> {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = photo.parent()?;
    let name = photo.file_name()?.as_bytes();
    let stem = photo.file_stem()?.as_bytes();
    let with = |base: &[u8], suffix: &[u8]| {
        let mut n = base.to_vec();
        n.extend_from_slice(suffix);
        dir.join(OsString::from_vec(n))
    };
    [
        with(stem, b".txt"),
        with(stem, b".caption.txt"),
        with(name, b".txt"),
        with(name, b".caption.txt"),
    ]
    .into_iter()
    .find(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
}

/// A file name as people see it: the name itself when it is valid UTF-8, else with each byte
/// that is not shown as `\xNN` — escaped, never dropped or replaced by `?`.
pub fn display_name(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    match name.to_str() {
        Some(s) => s.to_string(),
        None => name
            .as_bytes()
            .utf8_chunks()
            .map(|c| {
                let bad: String = c.invalid().iter().map(|b| format!("\\x{b:02X}")).collect();
                format!("{}{bad}", c.valid())
            })
            .collect(),
    }
}

/// Read a sidecar as text: UTF-8 (with or without BOM) or UTF-16 with a BOM. Anything else is
/// unreadable, and an unreadable caption holds the photo.
pub fn decode_caption(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8(rest.to_vec()).map_err(|e| format!("not valid UTF-8 text: {e}"));
    }
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|e| format!("not valid UTF-16 text: {e}"))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not valid UTF-8 text: {e}"))?;
    if text.contains('\0') {
        return Err("contains NUL bytes: not a text file".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_skips_sidecars_hidden_and_partial_files_and_does_not_follow_links() {
        let d = tempfile::tempdir().unwrap();
        let s = d.path();
        fs::write(s.join("a.jpg"), b"x").unwrap();
        fs::write(s.join("a.txt"), b"caption").unwrap();
        fs::write(s.join(".hidden.jpg"), b"x").unwrap();
        fs::write(s.join("b.jpg.part"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", s.join("link.jpg")).unwrap();
        let later = SystemTime::now() + Duration::from_secs(60);
        let found = scan(s, Duration::from_secs(5), later);
        let names: Vec<_> = found.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a.jpg", "link.jpg"]);
        assert!(
            matches!(found[1].found, Found::SymbolicLink { ref target } if target == "/etc/passwd")
        );
        let now = scan(s, Duration::from_secs(5), SystemTime::now());
        assert!(matches!(now[0].found, Found::Settling { .. }));
    }

    #[test]
    fn a_copy_that_keeps_an_old_mtime_still_waits_and_so_does_a_photo_whose_caption_is_new() {
        let d = tempfile::tempdir().unwrap();
        let settle = Duration::from_secs(5);
        let p = d.path().join("copied.jpg");
        fs::write(&p, b"x").unwrap();
        // `cp -p` sets the mtime to the original's, days ago; the change time is now.
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
            .unwrap();
        let found = scan(d.path(), settle, SystemTime::now());
        let Found::Settling { ready_at } = found[0].found else {
            panic!("{:?}", found[0].found)
        };
        assert!(ready_at > SystemTime::now() + Duration::from_secs(3));
        let later = SystemTime::now() + Duration::from_secs(6);
        assert!(matches!(
            scan(d.path(), settle, later)[0].found,
            Found::Ready { .. }
        ));

        // A caption written after its photo holds the photo back until it too has settled.
        let q = d.path().join("b.jpg");
        fs::write(&q, b"y").unwrap();
        let t0 = SystemTime::now();
        std::thread::sleep(Duration::from_millis(1100));
        fs::write(d.path().join("b.txt"), b"caption").unwrap();
        let at = t0 + Duration::from_millis(5_500);
        let b = scan(d.path(), settle, at)
            .into_iter()
            .find(|c| c.name == "b.jpg")
            .unwrap();
        assert!(matches!(b.found, Found::Settling { .. }), "{:?}", b.found);
    }

    #[test]
    fn sidecar_names() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("IMG_1.jpg");
        fs::write(&p, b"x").unwrap();
        assert_eq!(sidecar_for(&p), None);
        fs::write(d.path().join("IMG_1.caption.txt"), b"hi").unwrap();
        assert_eq!(sidecar_for(&p), Some(d.path().join("IMG_1.caption.txt")));
    }

    #[test]
    fn captions_decode_utf8_and_utf16_but_not_binary() {
        assert_eq!(
            decode_caption("Sports day ☀".as_bytes()).unwrap(),
            "Sports day ☀"
        );
        assert_eq!(
            decode_caption(&[0xFF, 0xFE, b'h', 0, b'i', 0]).unwrap(),
            "hi"
        );
        assert!(decode_caption(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00]).is_err());
    }
}
