//! Reading the geo database file: whole, into memory the process owns, and bounded.
//!
//! Never a memory map: a mapped file rewritten in place changes the bytes lookups walk, and
//! cut short it leaves pages that fault with SIGBUS at the next lookup that touches them.
//! Must not be called on the query path: it blocks on the disk.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

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
/// [`MAX_DATABASE_BYTES`] that keeps its size and modification time while it is read.
pub(super) fn read_database(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file_error = |source| ReadError::Io { path: path.into(), source };
    let mut options = OpenOptions::new();
    options.read(true);
    // A FIFO at the path would block the open, and with it the reload, until a writer came.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(file_error)?;
    let before = file.metadata().map_err(file_error)?;
    if !before.is_file() {
        return Err(ReadError::NotAFile { path: path.into() });
    }
    if before.len() > MAX_DATABASE_BYTES {
        return Err(ReadError::TooLarge { path: path.into(), size: before.len() });
    }
    let mut bytes = Vec::new();
    // The size is known and below the limit: one allocation, its failure an error.
    bytes.try_reserve_exact(before.len() as usize).map_err(|e| file_error(io::Error::other(e)))?;
    (&file).take(MAX_DATABASE_BYTES + 1).read_to_end(&mut bytes).map_err(file_error)?;
    if bytes.len() as u64 > MAX_DATABASE_BYTES {
        return Err(ReadError::TooLarge { path: path.into(), size: bytes.len() as u64 });
    }
    // A copy under way shows as a length or time that moved while the file was read.
    if !is_unchanged(&file, &before, bytes.len()) {
        return Err(ReadError::Changed { path: path.into() });
    }
    Ok(bytes)
}

/// Whether `file` still has the size and modification time of `before`, and `read` octets
/// were read of it.
fn is_unchanged(file: &File, before: &Metadata, read: usize) -> bool {
    let Ok(after) = file.metadata() else { return false };
    read as u64 == before.len() && after.len() == before.len() && after.modified().ok() == before.modified().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

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

    #[test]
    fn a_file_that_grows_or_shrinks_while_read_counts_as_changed() {
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
}
