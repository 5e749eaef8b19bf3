//! Dropping root: a server started as root (to bind port 53) serves as an unprivileged user,
//! so that a bug in the answer path cannot become control of the machine. An edge: the
//! process's identity is changed once, when every socket is bound and every file needing
//! root has been read, before any task that serves or probes starts (`app::start_as`).
//!
//! The alternative, which needs no root at all, is systemd's `AmbientCapabilities=
//! CAP_NET_BIND_SERVICE` (see README, "Running on port 53"); then there is nothing to drop.

use std::ffi::CString;
use std::path::Path;

use tracing::{info, warn};

/// The user a server started as root serves as when the configuration names none: present
/// on every Unix, owning nothing.
pub const DEFAULT_USER: &str = "nobody";

/// Why privileges could not be dropped; the server then refuses to serve.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("server.user {0:?}: no such user")]
    NoSuchUser(String),
    #[error("server.user {0:?} is root (uid or primary gid 0): Meridian never serves as root")]
    Root(String),
    #[error("cannot hand the state directory {path} to {user}: {source}")]
    Chown { path: String, user: String, source: std::io::Error },
    #[error("cannot become {user}: {call} failed: {source}")]
    Call { user: String, call: &'static str, source: std::io::Error },
    #[error("still able to become root after dropping to {0}: refusing to serve")]
    NotDropped(String),
}

/// Who the process serves as after [`drop_root`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Not started as root: nothing to drop.
    Unchanged {
        uid: u32,
    },
    Dropped {
        user: String,
        uid: u32,
        gid: u32,
    },
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unchanged { uid } => write!(f, "uid {uid}"),
            Self::Dropped { user, uid, .. } => write!(f, "user {user} (uid {uid})"),
        }
    }
}

/// Whom a server started as root serves as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeAs {
    /// `server.user`, or [`DEFAULT_USER`].
    Named(String),
    /// The developer who ran it from a checkout, by uid, and why.
    Invoker { uid: u32, why: String },
}

/// How the process was started, as far as choosing its user goes: read by
/// [`Invocation::read`], decided on by [`choose_user`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The state directory is the embedded default configuration's (`./state`).
    pub embedded_state_dir: bool,
    /// The state directory lies inside the working directory.
    pub state_dir_in_working_dir: bool,
    /// A service manager started the process (systemd sets `INVOCATION_ID`).
    pub service_manager: bool,
    /// `SUDO_UID`, when sudo started the process.
    pub sudo_uid: Option<u32>,
    /// The owner of the working directory.
    pub working_dir_owner: Option<u32>,
}

impl Invocation {
    /// Reads the environment and the working directory: an edge. `state_dir` is absolute.
    pub fn read(state_dir: Option<&Path>, embedded: bool) -> Self {
        use std::os::unix::fs::MetadataExt;
        let cwd = std::env::current_dir().ok();
        let inside = match (state_dir, &cwd) {
            (Some(dir), Some(cwd)) => dir.starts_with(cwd),
            _ => false,
        };
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            embedded_state_dir: embedded && state_dir.is_some(),
            state_dir_in_working_dir: inside,
            service_manager: var("INVOCATION_ID").is_some() || var("NOTIFY_SOCKET").is_some(),
            sudo_uid: var("SUDO_UID").and_then(|v| v.parse().ok()),
            working_dir_owner: cwd.and_then(|d| std::fs::metadata(d).ok()).map(|m| m.uid()),
        }
    }
}

/// Whom to serve as once root is dropped. `server.user` when set; otherwise, run by hand from
/// a checkout (the embedded default's `./state`, or a state directory inside the working
/// directory with no service manager), the developer who ran it (sudo's invoker, else the
/// owner of the working directory), so that their checkout's files are not handed to
/// `nobody`; else [`DEFAULT_USER`]. Never root. Pure.
pub fn choose_user(configured: Option<&str>, how: &Invocation) -> ServeAs {
    if let Some(name) = configured {
        return ServeAs::Named(name.to_owned());
    }
    let by_hand = how.embedded_state_dir || (how.state_dir_in_working_dir && !how.service_manager);
    let invoker = how.sudo_uid.filter(|&uid| uid != 0).or(how.working_dir_owner.filter(|&uid| uid != 0));
    match invoker {
        Some(uid) if by_hand => {
            let why = if how.sudo_uid == Some(uid) { "who ran sudo" } else { "who owns the working directory" };
            ServeAs::Invoker { uid, why: why.to_owned() }
        }
        _ => ServeAs::Named(DEFAULT_USER.to_owned()),
    }
}

/// When running as root, becomes `user` (or [`DEFAULT_USER`]): its primary group only, then
/// its uid, and checks that root cannot be had back. The state directory, created by root
/// with mode 0700, is handed to the user first, so that API changes can still be saved.
///
/// # Errors
/// An unknown user, a user with uid 0, or a failed call; the caller must not serve then.
pub fn drop_root(user: Option<&str>, state_dir: Option<&Path>, embedded: bool) -> Result<Identity, PrivilegeError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        if let Some(user) = user {
            warn!(user, uid = euid, "server.user is only used when started as root; serving as the current user");
        }
        return Ok(Identity::Unchanged { uid: euid });
    }
    let (name, uid, gid) = match choose_user(user, &Invocation::read(state_dir, embedded)) {
        ServeAs::Named(name) => {
            let (uid, gid) = lookup(&name)?;
            (name, uid, gid)
        }
        ServeAs::Invoker { uid, why } => match lookup_uid(uid) {
            Some((name, gid)) if gid != 0 => {
                info!(
                    user = %name,
                    uid,
                    "started as root by hand from a checkout: serving as {name}, {why}, rather than handing the \
                     checkout's state directory to {DEFAULT_USER} (set server.user to choose)"
                );
                (name, uid, gid)
            }
            _ => {
                let (uid, gid) = lookup(DEFAULT_USER)?;
                (DEFAULT_USER.to_owned(), uid, gid)
            }
        },
    };
    let name = name.as_str();
    // The root group is as good as root on most systems (RHEL's `operator` has gid 0).
    if uid == 0 || gid == 0 {
        return Err(PrivilegeError::Root(name.to_owned()));
    }
    if let Some(dir) = state_dir {
        hand_over(dir, uid, gid).map_err(|(path, source)| PrivilegeError::Chown {
            path,
            user: name.to_owned(),
            source,
        })?;
    }
    let call = |call: &'static str, result: libc::c_int| {
        if result == 0 {
            Ok(())
        } else {
            Err(PrivilegeError::Call { user: name.to_owned(), call, source: std::io::Error::last_os_error() })
        }
    };
    // Supplementary groups first (root's would otherwise stay), then the group, then the
    // user: after setuid there is no permission left to change the others. glibc applies
    // each to every thread of the process.
    // SAFETY: plain system calls; the group list is one valid gid_t.
    unsafe {
        call("setgroups", libc::setgroups(1, &gid))?;
        call("setgid", libc::setgid(gid))?;
        call("setuid", libc::setuid(uid))?;
    }
    // SAFETY: as above; setuid(0) must now fail, and if it does not we are root again.
    let regained = unsafe { libc::setuid(0) } == 0 || unsafe { libc::geteuid() } == 0;
    if regained {
        return Err(PrivilegeError::NotDropped(name.to_owned()));
    }
    info!(user = name, uid, gid, "started as root: serving as an unprivileged user");
    Ok(Identity::Dropped { user: name.to_owned(), uid, gid })
}

/// The uid and primary gid of `name`, from the system's user database.
fn lookup(name: &str) -> Result<(u32, u32), PrivilegeError> {
    let missing = || PrivilegeError::NoSuchUser(name.to_owned());
    let c_name = CString::new(name).map_err(|_| missing())?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is a plain C struct for which zeroes are valid; getpwnam_r writes into
    // it and `buffer`, both alive for the call, and sets `found` to it or to null.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let status = libc::getpwnam_r(c_name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found);
        if status != 0 || found.is_null() {
            return Err(missing());
        }
        Ok((entry.pw_uid, entry.pw_gid))
    }
}

/// The name and primary gid of `uid`, from the system's user database.
fn lookup_uid(uid: u32) -> Option<(String, u32)> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: as in `lookup`: getpwuid_r writes into `entry` and `buffer`, both alive for the
    // call, and sets `found` to `entry` or to null; pw_name then points into `buffer`.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let status = libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found);
        if status != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(entry.pw_name).to_str().ok()?.to_owned();
        Some((name, entry.pw_gid))
    }
}

/// Whether a directory entry is one of the state files (`state.json`, its temporary file and
/// its set-aside copies).
fn is_state_file(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n == "state.json" || n.starts_with("state.json."))
}

/// Gives the state directory and its state files to `uid`/`gid`, and makes the directory
/// 0700.
///
/// Carefully, since the directory may have been writable by the user since the last run: a
/// symbolic link is never followed (one planted as `state.json` pointing at /etc/shadow
/// would otherwise be handed over by root), nor a hard link (a second name of a file that
/// lives elsewhere); only `state.json` and its set-aside copies are touched; a directory
/// owned by anyone but root or the user is refused, and so is a root-owned one that holds
/// anything but state files (`state_dir` naming /var/lib, or the directory of the
/// configuration, by mistake must not give it away).
fn hand_over(dir: &Path, uid: u32, gid: u32) -> Result<(), (String, std::io::Error)> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |path: &Path, why: &str| (path.display().to_string(), std::io::Error::other(why.to_owned()));
    let chown = |path: &Path| {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|e| (path.display().to_string(), e))
    };
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err((dir.display().to_string(), e)),
    };
    if !meta.is_dir() {
        return Err(refuse(dir, "not a directory (a symbolic link is not followed)"));
    }
    if meta.uid() != 0 && meta.uid() != uid {
        return Err(refuse(dir, "owned by another user: not handed over"));
    }
    let mut state_files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| (dir.display().to_string(), e))? {
        let entry = entry.map_err(|e| (dir.display().to_string(), e))?;
        if !is_state_file(&entry.file_name()) {
            if meta.uid() == 0 {
                return Err(refuse(dir, "owned by root and holds more than state files: not handed over"));
            }
            continue;
        }
        // symlink_metadata does not follow links: a link named like a state file is left alone.
        let file = std::fs::symlink_metadata(entry.path()).map_err(|e| (entry.path().display().to_string(), e))?;
        if !file.is_file() {
            continue;
        }
        if file.nlink() > 1 {
            return Err(refuse(&entry.path(), "a state file with another name (a hard link): not handed over"));
        }
        if file.uid() != 0 && file.uid() != uid {
            return Err(refuse(&entry.path(), "a state file owned by another user: not handed over"));
        }
        state_files.push(entry.path());
    }
    chown(dir)?;
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .map_err(|e| (dir.display().to_string(), e))?;
    state_files.iter().try_for_each(|path| chown(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand_from_a_checkout_serves_as_the_developer_never_root() {
        let named = |name: &str| ServeAs::Named(name.to_owned());
        let checkout =
            Invocation { state_dir_in_working_dir: true, working_dir_owner: Some(1000), ..Default::default() };
        assert_eq!(
            choose_user(None, &checkout),
            ServeAs::Invoker { uid: 1000, why: "who owns the working directory".into() }
        );
        let sudo = Invocation { sudo_uid: Some(1001), ..checkout.clone() };
        assert_eq!(choose_user(None, &sudo), ServeAs::Invoker { uid: 1001, why: "who ran sudo".into() });
        // server.user always wins; a service manager's start is not by hand...
        assert_eq!(choose_user(Some("meridian"), &sudo), named("meridian"));
        let service = Invocation { service_manager: true, ..checkout.clone() };
        assert_eq!(choose_user(None, &service), named(DEFAULT_USER));
        // ... unless the state directory is the embedded default's ./state, a checkout's.
        let embedded = Invocation { embedded_state_dir: true, ..service };
        assert!(matches!(choose_user(None, &embedded), ServeAs::Invoker { uid: 1000, .. }));
        // A state directory elsewhere, or a checkout root owns: nobody, as before.
        let elsewhere = Invocation { state_dir_in_working_dir: false, ..checkout.clone() };
        assert_eq!(choose_user(None, &elsewhere), named(DEFAULT_USER));
        let roots = Invocation { working_dir_owner: Some(0), sudo_uid: Some(0), ..checkout };
        assert_eq!(choose_user(None, &roots), named(DEFAULT_USER));
    }

    #[test]
    fn users_are_looked_up_and_unknown_ones_named() {
        assert_eq!(lookup("root").unwrap(), (0, 0));
        assert!(lookup(DEFAULT_USER).is_ok(), "every Unix has {DEFAULT_USER}");
        let error = lookup("no-such-user-meridian").unwrap_err();
        assert_eq!(error.to_string(), "server.user \"no-such-user-meridian\": no such user");
        assert!(matches!(lookup("nul\0byte"), Err(PrivilegeError::NoSuchUser(_))));
    }

    #[test]
    fn a_state_directory_that_is_a_link_is_not_handed_over() {
        let base = std::env::temp_dir().join(format!("meridian-privileges-{}", std::process::id()));
        std::fs::create_dir_all(base.join("real")).unwrap();
        let link = base.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(base.join("real"), &link).unwrap();
        // SAFETY: getuid and getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let (path, error) = hand_over(&link, uid, gid).unwrap_err();
        assert!(path.ends_with("link") && error.to_string().contains("symbolic link"), "{path}: {error}");
        assert!(hand_over(&base.join("real"), uid, gid).is_ok());
        assert!(hand_over(&base.join("absent"), uid, gid).is_ok(), "nothing to hand over yet");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_state_file_with_a_second_name_is_not_handed_over_and_the_directory_becomes_0700() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("meridian-privileges-links-{}", std::process::id()));
        let state = base.join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(base.join("elsewhere"), "secret").unwrap();
        std::fs::write(state.join("state.json"), "{}").unwrap();
        // SAFETY: getuid and getgid have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        assert!(hand_over(&state, uid, gid).is_ok());
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the state directory is made 0700 when handed over");
        std::fs::hard_link(base.join("elsewhere"), state.join("state.json.rejected-1")).unwrap();
        let (path, error) = hand_over(&state, uid, gid).unwrap_err();
        assert!(path.ends_with("state.json.rejected-1") && error.to_string().contains("hard link"), "{path}: {error}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_root_owned_directory_with_more_than_state_files_is_refused() {
        use std::os::unix::fs::MetadataExt;
        // As root (CI runs as root), a directory we create is root's: it may be handed over
        // while it holds only state files, and not once it holds anything else.
        let base = std::env::temp_dir().join(format!("meridian-privileges-root-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        if std::fs::metadata(&base).unwrap().uid() != 0 {
            eprintln!("not root: the root-owned case cannot be made here");
            std::fs::remove_dir_all(&base).unwrap();
            return;
        }
        std::fs::write(base.join("state.json"), "{}").unwrap();
        assert!(hand_over(&base, 0, 0).is_ok(), "only state files");
        std::fs::write(base.join("meridian.toml"), "").unwrap();
        let (path, error) = hand_over(&base, 0, 0).unwrap_err();
        assert!(error.to_string().contains("more than state files"), "{path}: {error}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
