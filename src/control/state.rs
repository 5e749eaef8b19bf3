//! The state file: API changes kept across restarts, in `state_dir/state.json`.
//!
//! A change is acknowledged only once it is on disk: written to a temporary file, flushed with
//! fsync, renamed over the old file (atomic on POSIX file systems), and the directory fsynced so
//! the rename itself survives a crash. A `kill -9` at any moment leaves either the old file or
//! the new one, whole. A file that cannot be read or parsed is never overwritten or deleted:
//! it is renamed aside for the operator, and the server goes on with its configuration.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Overlay;
use crate::config::names::plain_serde;

/// The name of the state file inside `state_dir`.
pub const STATE_FILE: &str = "state.json";
/// The lock file inside `state_dir`: held for the life of the serving process, so that a
/// second process on the same directory is refused instead of overwriting the first's changes.
pub const LOCK_FILE: &str = "state.json.lock";
/// What the start-up check writes, syncs and renames to prove the directory usable.
const PROBE_FILE: &str = "state.json.probe";
/// The format this build writes; a newer one is refused rather than misread.
pub const FORMAT: u32 = 1;
/// Failover events kept in the history.
pub const HISTORY_LEN: usize = 200;

/// What the state file holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    pub format: u32,
    #[serde(default)]
    pub changes: Overlay,
    /// The highest change id ever given in this state: the next change gets the one after,
    /// so an id is never given twice, not even after its change is reverted.
    #[serde(default)]
    pub last_change_id: u64,
    /// Manual failovers triggered and cleared, oldest first.
    #[serde(default)]
    pub failover_history: Vec<FailoverEvent>,
    /// With `[cluster]`: the revision of the shared log these changes are (absent in the
    /// log's own values, and for a standalone instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

impl Persisted {
    /// Gives an id to every saved change that has none (one saved by a build from before
    /// changes had ids), after the highest given so far.
    pub fn number_changes(&mut self) {
        self.changes.number_unnumbered(&mut self.last_change_id);
    }
}

/// A manual failover triggered or cleared, as the state file keeps it (the API writes its time
/// as RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverEvent {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub pool: String,
    /// "trigger" or "clear".
    pub action: String,
    pub from_region: String,
    pub to_region: String,
}

/// Why the state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create the state directory {}: {source}", .dir.display())]
    Dir { dir: PathBuf, source: io::Error },
    #[error("cannot reach the state directory {} (can every directory above it be entered?): {source}", .dir.display())]
    Unreachable { dir: PathBuf, source: io::Error },
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a valid state file: {message}", .path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} could not be read at start and is kept as it is; changes are not saved until it is moved away", .path.display())]
    Blocked { path: PathBuf },
    #[error("the state directory {} cannot be used by {user}: {reason}", .dir.display())]
    Unusable { dir: PathBuf, user: String, reason: String },
    #[error("the state directory {} is in use by another meridian process (it holds {LOCK_FILE}); two servers on one state_dir would overwrite each other's changes", .dir.display())]
    InUse { dir: PathBuf },
    /// What went wrong, and as which user (after root was dropped, the serving user's
    /// rights are what count).
    #[error("{source}; the server runs as {user}")]
    As { user: String, source: Box<StateError> },
}

/// The exclusive lock on a state directory; released when dropped (or the process ends).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// The state file of one `state_dir`.
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
    /// Set when a file that could not be read could not be moved aside either: saving would
    /// overwrite what the operator may need, so changes are refused instead.
    blocked: bool,
}

impl StateFile {
    /// Opens `dir`, creating it (mode 0700: the state is the operator's) if it is missing.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        Self::create_dir(dir)?;
        Ok(Self { dir: dir.to_path_buf(), blocked: false })
    }

    /// Creates `dir` (mode 0700, and its parents) when it is missing; reads nothing in it.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn create_dir(dir: &Path) -> Result<(), StateError> {
        match fs::symlink_metadata(dir) {
            Ok(_) => return Ok(()),
            // It may well exist: one that cannot be reached is not one to create.
            Err(source) if source.kind() != io::ErrorKind::NotFound => {
                return Err(StateError::Unreachable { dir: dir.into(), source });
            }
            Err(_) => {}
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| StateError::Dir { dir: dir.into(), source })
    }

    /// The state file of a directory that exists, without touching it (`check-config`).
    pub fn existing(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), blocked: false }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Reads the state; a missing file is an empty state.
    ///
    /// # Errors
    /// The file exists but cannot be read, or is not a state file this build understands.
    pub fn load(&self) -> Result<Persisted, StateError> {
        let path = self.path();
        let text = match read_limited(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Persisted { format: FORMAT, ..Default::default() });
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let state: Persisted = serde_json::from_slice(&text).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            message: plain_serde(&e.to_string(), "an object"),
        })?;
        if state.format != FORMAT {
            return Err(StateError::Corrupt {
                path,
                message: format!("format {} is not {FORMAT}, the one this build reads", state.format),
            });
        }
        let mut state = state;
        state.number_changes();
        Ok(state)
    }

    /// Moves the state file aside as `state.json.<reason>-<unix seconds>`, for the operator;
    /// returns where it went. If it cannot be moved, later saves are refused.
    ///
    /// # Errors
    /// The rename failed.
    pub fn set_aside(&mut self, reason: &str, unix_secs: u64) -> Result<PathBuf, StateError> {
        let from = self.path();
        let to = self.dir.join(format!("{STATE_FILE}.{reason}-{unix_secs}"));
        match fs::rename(&from, &to) {
            Ok(()) => Ok(to),
            Err(source) => {
                self.blocked = true;
                Err(StateError::Write { path: to, source })
            }
        }
    }

    /// Before serving: proves that this process (the serving user, once root is dropped) can
    /// create, fsync and rename a file in the directory, then takes an exclusive lock on it
    /// for as long as the returned value lives. `user` names the serving user in messages.
    ///
    /// # Errors
    /// The directory cannot be written (`Unusable`, naming the directory, user and reason),
    /// or another process holds it (`InUse`).
    pub fn claim(&self, user: &str, unix_secs: u64) -> Result<StateLock, StateError> {
        let unusable = |what: &str, e: io::Error| StateError::Unusable {
            dir: self.dir.clone(),
            user: user.to_owned(),
            reason: format!("{what}: {e}"),
        };
        let lock =
            open_no_follow(&self.dir.join(LOCK_FILE), false).map_err(|e| unusable("cannot open the lock file", e))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor this function owns; no memory is passed.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Err(StateError::As {
                        user: user.to_owned(),
                        source: Box::new(StateError::InUse { dir: self.dir.clone() }),
                    });
                }
                return Err(unusable("cannot lock the lock file", e));
            }
        }
        self.clear_temporary(unix_secs).map_err(|e| unusable("cannot clear state.json.tmp", e))?;
        let probe = self.dir.join(PROBE_FILE);
        let mut file = open_no_follow(&probe, true).map_err(|e| unusable("cannot create a file", e))?;
        file.write_all(b"meridian\n").and_then(|()| file.sync_all()).map_err(|e| unusable("cannot write a file", e))?;
        drop(file);
        let renamed = self.dir.join(format!("{PROBE_FILE}.renamed"));
        fs::rename(&probe, &renamed).map_err(|e| unusable("cannot rename a file", e))?;
        File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(|e| unusable("cannot fsync the directory", e))?;
        fs::remove_file(&renamed).map_err(|e| unusable("cannot remove a file", e))?;
        Ok(StateLock { _file: lock })
    }

    /// What a save left behind at `state.json.tmp` when the process died or the disk filled
    /// up: a regular file is a partial save and is removed (the state file itself is whole);
    /// anything else there (a directory, a link, a FIFO) would make every save fail, so it is
    /// moved aside as `state.json.tmp.unusable-<unix seconds>` for the operator, as an
    /// unreadable state file is. Only once the directory is locked: it is ours.
    fn clear_temporary(&self, unix_secs: u64) -> io::Result<()> {
        let temporary = self.dir.join(format!("{STATE_FILE}.tmp"));
        match fs::symlink_metadata(&temporary) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
            Ok(meta) if meta.is_file() => fs::remove_file(&temporary),
            Ok(_) => {
                let aside = self.dir.join(format!("{STATE_FILE}.tmp.unusable-{unix_secs}"));
                tracing::error!(path = %temporary.display(), aside = %aside.display(), "not a file where saves write: moved aside");
                fs::rename(&temporary, &aside)
            }
        }
    }

    /// Keeps the state file aside as `rejected` (saved changes the configuration file no
    /// longer allows) and saves `persisted`, the changes still in force, in its place. Logs
    /// what fails: the server goes on with what it has.
    pub fn replace_rejected(&mut self, persisted: &Persisted, unix_secs: u64) {
        match self.set_aside("rejected", unix_secs) {
            Ok(path) => tracing::warn!(path = %path.display(), "the state file is kept aside for the operator"),
            Err(error) => tracing::error!(%error, "the state file cannot be moved aside; API changes will be refused"),
        }
        if let Err(error) = self.save(persisted) {
            tracing::error!(%error, "the saved API changes that are still valid could not be saved again");
        }
    }

    /// Writes the state durably: temporary file, fsync, rename, fsync of the directory.
    ///
    /// # Errors
    /// Any step failed (the old file is then still whole), or saving is blocked.
    pub fn save(&self, state: &Persisted) -> Result<(), StateError> {
        let path = self.path();
        if self.blocked {
            return Err(StateError::Blocked { path });
        }
        let temporary = self.dir.join(format!("{STATE_FILE}.tmp"));
        let write = |e| StateError::Write { path: temporary.clone(), source: e };
        let mut text = serde_json::to_vec_pretty(state).map_err(|e| write(io::Error::other(e)))?;
        text.push(b'\n');
        let mut file = open_no_follow(&temporary, true).map_err(write)?;
        if let Err(e) = file.write_all(&text).and_then(|()| file.sync_all()) {
            // A disk that filled up mid-write leaves half a file: remove it (the old state
            // file is still whole), so that nothing partial lingers for the operator to find.
            drop(file);
            let _ = fs::remove_file(&temporary);
            return Err(write(e));
        }
        drop(file);
        fs::rename(&temporary, &path).map_err(|source| StateError::Write { path: path.clone(), source })?;
        // The rename is durable only once the directory entry is.
        File::open(&self.dir).and_then(|dir| dir.sync_all()).map_err(|source| StateError::Write { path, source })
    }
}

/// The largest state file read: far more than any set of API changes takes (each is a few
/// hundred octets), and a bound on what a file someone else put there can make us allocate.
pub const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a regular file of at most [`MAX_STATE_BYTES`], without following a symbolic link
/// at its name (nor blocking on a FIFO put there).
fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.len() > MAX_STATE_BYTES {
        return Err(io::Error::other(format!("larger than {MAX_STATE_BYTES} octets")));
    }
    let mut text = Vec::new();
    file.take(MAX_STATE_BYTES + 1).read_to_end(&mut text)?;
    if text.len() as u64 > MAX_STATE_BYTES {
        return Err(io::Error::other(format!("larger than {MAX_STATE_BYTES} octets")));
    }
    Ok(text)
}

/// Opens (creating, mode 0600) a file without following a symbolic link at its name: the
/// directory may be writable by the serving user (STYLE.md section 11).
fn open_no_follow(path: &Path, truncate: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("meridian-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_saved_state_loads_back_and_the_directory_is_private() {
        let dir = temp("roundtrip");
        let file = StateFile::open(&dir.join("nested")).unwrap();
        assert_eq!(file.load().unwrap(), Persisted { format: FORMAT, ..Default::default() });
        let mut state = Persisted { format: FORMAT, ..Default::default() };
        state.changes.regions_removed.push(crate::config::changes::RemovedRegion::new("spare".into()));
        state.number_changes();
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        assert!(!dir.join("nested").join("state.json.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("nested")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_state_file_from_before_change_ids_loads_with_ids_given() {
        let dir = temp("before-ids");
        let file = StateFile::open(&dir).unwrap();
        let saved = r#"{ "format": 1, "changes": { "regions_removed": ["spare"],
            "weights": [ { "region": "a", "endpoint": "192.0.2.1", "weight": 0 } ] } }"#;
        fs::write(file.path(), saved).unwrap();
        let state = file.load().unwrap();
        assert_eq!(state.last_change_id, 2);
        assert_eq!((state.changes.regions_removed[0].stamp.id, state.changes.weights[0].stamp.id), (1, 2));
        assert_eq!(state.changes.weights[0].stamp.summary, "weight of a/192.0.2.1 set to 0");
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state, "saved with them, read back the same");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_file_is_reported_and_kept_aside_never_deleted() {
        let dir = temp("corrupt");
        let mut file = StateFile::open(&dir).unwrap();
        fs::write(file.path(), b"{ \"format\": 1, \"changes\": ").unwrap();
        assert!(matches!(file.load(), Err(StateError::Corrupt { .. })));
        let aside = file.set_aside("corrupt", 42).unwrap();
        assert_eq!(aside.file_name().unwrap(), "state.json.corrupt-42");
        assert_eq!(fs::read(&aside).unwrap(), b"{ \"format\": 1, \"changes\": ");
        assert!(file.load().is_ok(), "a fresh state once it is aside");

        fs::write(file.path(), b"{ \"format\": 9 }").unwrap();
        assert!(matches!(file.load(), Err(StateError::Corrupt { .. })), "a format from a newer build");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_claimed_directory_is_refused_to_a_second_claim_until_released() {
        let dir = temp("claim");
        let file = StateFile::open(&dir).unwrap();
        let held = file.claim("tester", 1).unwrap();
        let error = StateFile::open(&dir).unwrap().claim("tester", 1).unwrap_err();
        assert!(
            matches!(&error, StateError::As { source, .. } if matches!(**source, StateError::InUse { .. })),
            "{error}"
        );
        assert!(error.to_string().contains(&dir.display().to_string()), "{error}");
        assert!(!dir.join(PROBE_FILE).exists() && !dir.join(format!("{PROBE_FILE}.renamed")).exists());
        drop(held);
        assert!(file.claim("tester", 1).is_ok(), "free once the first holder is gone");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_claim_clears_what_a_failed_save_left_at_the_temporary_name() {
        let dir = temp("temporary");
        let file = StateFile::open(&dir).unwrap();
        let temporary = dir.join(format!("{STATE_FILE}.tmp"));
        fs::write(&temporary, b"{ \"format\": 1, \"chan").unwrap();
        drop(file.claim("tester", 7).unwrap());
        assert!(!temporary.exists(), "a partial save is removed");
        fs::create_dir(&temporary).unwrap();
        let held = file.claim("tester", 7).unwrap();
        assert!(dir.join(format!("{STATE_FILE}.tmp.unusable-7")).is_dir(), "a directory is moved aside");
        file.save(&Persisted { format: FORMAT, ..Default::default() }).expect("saves work again");
        drop(held);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lock_file_that_is_a_link_is_not_followed() {
        let dir = temp("claim-link");
        let file = StateFile::open(&dir).unwrap();
        let target = dir.join("elsewhere");
        fs::write(&target, b"not ours").unwrap();
        std::os::unix::fs::symlink(&target, dir.join(LOCK_FILE)).unwrap();
        let error = file.claim("tester", 1).unwrap_err();
        assert!(matches!(error, StateError::Unusable { .. }), "{error}");
        assert_eq!(fs::read(&target).unwrap(), b"not ours");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_state_file_that_is_a_link_a_fifo_or_too_large_is_not_read() {
        let dir = temp("hostile");
        let file = StateFile::open(&dir).unwrap();
        std::os::unix::fs::symlink("/dev/zero", file.path()).unwrap();
        assert!(matches!(file.load(), Err(StateError::Read { .. })), "a link is not followed");
        fs::remove_file(file.path()).unwrap();
        let fifo = std::ffi::CString::new(file.path().to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(matches!(file.load(), Err(StateError::Read { .. })), "a FIFO neither blocks nor is read");
        fs::remove_file(file.path()).unwrap();
        let big = File::create(file.path()).unwrap();
        big.set_len(MAX_STATE_BYTES + 1).unwrap();
        assert!(matches!(file.load(), Err(StateError::Read { .. })), "past the limit");
        // A link planted as the temporary file is not written through either.
        let target = dir.join("target");
        fs::write(&target, b"keep").unwrap();
        fs::remove_file(file.path()).unwrap();
        std::os::unix::fs::symlink(&target, dir.join(format!("{STATE_FILE}.tmp"))).unwrap();
        assert!(file.save(&Persisted::default()).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn saves_are_refused_once_an_unreadable_file_could_not_be_moved() {
        let dir = temp("blocked");
        let mut file = StateFile::open(&dir).unwrap();
        assert!(file.set_aside("unreadable", 1).is_err(), "nothing to move");
        let error = file.save(&Persisted::default()).unwrap_err();
        assert!(matches!(error, StateError::Blocked { .. }), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
