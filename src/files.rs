//! Reading the files a configuration names, safely when the reader is root.
//!
//! Meridian reads its configuration, the API's token and TLS files as root when started as
//! root (they may be root's alone), and `check-config` run as root reads everything. A file
//! may sit in a directory another user controls (the serving user's state directory, an
//! operator's home): there, a link planted in place of the file could point root at
//! `/etc/shadow` or `/dev/zero`, and a FIFO would block the read forever (STYLE.md section
//! 11). So every read here:
//!
//! - opens without following a symbolic link at the file's name when the reader is root and
//!   the directory holding the file is not root's alone (owned by another user, or writable
//!   by group or others), while links in root's own directories (certbot's `live/`, say) are
//!   followed as an operator expects;
//! - never blocks on a FIFO or device (`O_NONBLOCK` at open) and reads regular files only;
//! - reads at most a stated number of octets, checked before and while reading.
//!
//! The parent is the only directory checked: a path through a directory another user
//! controls higher up is the operator's to avoid, as it is for every daemon started as root.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// The configuration file, and the token file.
pub const SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error("{size} octets, larger than the {limit} octets allowed")]
    TooLarge { size: u64, limit: u64 },
    /// Its size or modification time moved while it was read: a copy still under way.
    #[error("changed while it was read (still being written?)")]
    Changed,
}

impl From<ReadError> for io::Error {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

/// Reads a regular file of at most `limit` octets whole (see the module's rules), in one
/// allocation whose failure is an error, and refuses a file that changed while it was read.
///
/// # Errors
/// The file cannot be opened or read, is a link where links are not followed, is not a
/// regular file, is larger than `limit`, or changed while read.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let before = file.metadata()?;
    if !before.is_file() {
        return Err(ReadError::NotAFile);
    }
    if before.len() > limit {
        return Err(ReadError::TooLarge { size: before.len(), limit });
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(usize::try_from(before.len()).unwrap_or(usize::MAX)).map_err(io::Error::other)?;
    (&file).take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: bytes.len() as u64, limit }); // it grew while being read
    }
    if !is_unchanged(&file, &before, bytes.len()) {
        return Err(ReadError::Changed);
    }
    Ok(bytes)
}

/// As [`read`], for a UTF-8 text file.
///
/// # Errors
/// As [`read`], and text that is not UTF-8.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")))
}

/// Whether `file` still has the size and modification time of `before`, and `read` octets
/// were read of it.
fn is_unchanged(file: &File, before: &Metadata, read: usize) -> bool {
    let Ok(after) = file.metadata() else { return false };
    read as u64 == before.len() && after.len() == before.len() && after.modified().ok() == before.modified().ok()
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let no_follow = if is_root() && !is_roots_alone(path.parent()) { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | no_follow);
    }
    options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a symbolic link in a directory root does not own alone: not followed",
            )
        } else {
            e
        }
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `dir` (the working directory when `None` or empty) is owned by root and writable
/// by nobody else: then no other user can have put a link in it.
#[cfg(unix)]
fn is_roots_alone(dir: Option<&Path>) -> bool {
    use std::os::unix::fs::MetadataExt;
    let dir = match dir {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::metadata(dir).is_ok_and(|meta| meta.uid() == 0 && meta.mode() & 0o022 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("meridian-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_files_are_read_up_to_the_limit() {
        let dir = temp("limit");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap(), b"0123456789");
        let error = read(&path, 9).unwrap_err();
        assert!(error.to_string().contains("larger than the 9 octets"), "{error}");
        assert!(read(&dir, 100).is_err(), "a directory is not a regular file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_that_grows_or_shrinks_while_read_counts_as_changed() {
        use std::io::Write;
        let dir = temp("changed");
        let path = dir.join("db.mmdb");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut file = OpenOptions::new().read(true).append(true).open(&path).unwrap();
        let before = file.metadata().unwrap();
        assert!(is_unchanged(&file, &before, 10));
        assert!(!is_unchanged(&file, &before, 4), "fewer octets read than the size said");
        file.write_all(b"more").unwrap();
        assert!(!is_unchanged(&file, &before, 10), "grown");
        file.set_len(3).unwrap();
        assert!(!is_unchanged(&file, &before, 10), "cut short");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_neither_blocks_nor_is_read() {
        let dir = temp("fifo");
        let path = dir.join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let error = read(&path, 100).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn as_root_a_link_is_followed_only_in_a_directory_root_owns_alone() {
        if !is_root() {
            eprintln!("not root: links are followed as the user's own (CI runs as root and checks this)");
            return;
        }
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("links");
        std::fs::write(dir.join("secret"), b"root's").unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), dir.join("link")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(read(&dir.join("link"), 100).unwrap(), b"root's", "root's own directory");
        // Another user's directory (or one others may write): the link is not followed.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = read(&dir.join("link"), 100).unwrap_err();
        assert!(error.to_string().contains("not followed"), "{error}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        assert!(read(&dir.join("link"), 100).is_err(), "owned by another user");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
