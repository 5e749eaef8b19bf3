//! Reading the geo database file: whole, into memory the process owns, and bounded.
//!
//! Never a memory map: a mapped file rewritten in place changes the bytes lookups walk, and
//! cut short it leaves pages that fault with SIGBUS at the next lookup that touches them.
//! Must not be called on the query path: it blocks on the disk.

use std::io;
use std::path::Path;

use crate::files;

/// Why the geo database file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read geo database {}: {source}", .path.display())]
    Io { path: std::path::PathBuf, source: io::Error },
    #[error("geo database {} is not a regular file", .path.display())]
    NotAFile { path: std::path::PathBuf },
    #[error("geo database {} is {size} octets, more than the {MAX_DATABASE_BYTES} a database may be", .path.display())]
    TooLarge { path: std::path::PathBuf, size: u64 },
    #[error("geo database {} changed while it was read (still being written?); reload once it is complete", .path.display())]
    Changed { path: std::path::PathBuf },
}

/// The largest geo database read: several times the largest published today (a City
/// database is 60 to 130 MB), and a bound on what a wrong path can make the server allocate.
pub const MAX_DATABASE_BYTES: u64 = 1 << 30;

/// Reads the file at `path` whole, if it is a regular file of at most
/// [`MAX_DATABASE_BYTES`] that keeps its size and modification time while it is read
/// (`crate::files`, which also keeps `check-config` run as root from following a planted link).
pub(super) fn read_database(path: &Path) -> Result<Vec<u8>, ReadError> {
    let path_buf = || path.to_path_buf();
    files::read(path, MAX_DATABASE_BYTES).map_err(|error| match error {
        files::ReadError::Io(source) => ReadError::Io { path: path_buf(), source },
        files::ReadError::NotAFile => ReadError::NotAFile { path: path_buf() },
        files::ReadError::TooLarge { size, .. } => ReadError::TooLarge { path: path_buf(), size },
        files::ReadError::Changed => ReadError::Changed { path: path_buf() },
    })
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("meridian-geo-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let dir = temp("whole");
        let path = dir.join("db.mmdb");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_database(&path).unwrap(), b"0123456789");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_over_the_limit_is_refused_unread() {
        let dir = temp("large");
        let path = dir.join("db.mmdb");
        // Sparse: its size is past the limit, its blocks are not on the disk.
        File::create(&path).unwrap().set_len(MAX_DATABASE_BYTES + 1).unwrap();
        let error = read_database(&path).unwrap_err();
        assert!(matches!(error, ReadError::TooLarge { size, .. } if size == MAX_DATABASE_BYTES + 1), "{error}");
        assert!(error.to_string().contains("db.mmdb"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_or_a_fifo_is_refused_without_blocking() {
        let dir = temp("special");
        assert!(matches!(read_database(&dir), Err(ReadError::NotAFile { .. })));
        let fifo = dir.join("db.mmdb");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that lives across the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
        assert!(matches!(read_database(&fifo), Err(ReadError::NotAFile { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
