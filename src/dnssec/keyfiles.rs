//! `meridian keygen` and `meridian ds`: key pairs written in BIND's format, and the DS
//! records of a configured zone's keys printed for its parent. The edge of `dnssec` that
//! writes files (`load` reads them).

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use super::key::{Algorithm, SigningKey, bind_time};
use crate::config::Config;

/// Why a key could not be made or its DS printed.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{0:?} is not a domain name: {1}")]
    Zone(String, String),
    #[error("unknown algorithm {0:?}: give ecdsap256sha256 (13, the default) or ed25519 (15)")]
    Algorithm(String),
    #[error(transparent)]
    Key(#[from] super::key::KeyError),
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Config(String),
}

/// Makes a key pair for `zone` and writes `K<zone>.+<alg>+<tag>.key` (mode 0644) and
/// `.private` (mode 0600) into `out`, refusing to replace a file; returns the stem's path.
///
/// # Errors
/// A bad zone name or algorithm, or a file that cannot be written.
pub fn keygen(zone: &str, algorithm: &str, ksk: bool, out: &Path, unix_secs: u64) -> Result<PathBuf, KeyFileError> {
    let mut name = Name::from_ascii(zone).map_err(|e| KeyFileError::Zone(zone.into(), e.to_string()))?;
    name.set_fqdn(true);
    let algorithm = Algorithm::parse(algorithm).ok_or_else(|| KeyFileError::Algorithm(algorithm.into()))?;
    let key = SigningKey::generate(&name, algorithm, ksk)?;
    let created = bind_time(unix_secs);
    let stem = out.join(key.file_stem());
    let private = key.private_file(&created)?;
    write_new(&with_suffix(&stem, ".private"), private.as_bytes(), 0o600)?;
    write_new(&with_suffix(&stem, ".key"), key.key_file(&created).as_bytes(), 0o644)?;
    Ok(stem)
}

/// The DS records (SHA-256) of `zone`'s key-signing keys (its CSK) as configured, one per
/// line, then its DNSKEY records as comments: what the parent's registrar asks for.
///
/// # Errors
/// The zone is not signed in this configuration, or its keys cannot be read.
pub fn ds_lines(config: &Config, zone: &str) -> Result<String, KeyFileError> {
    let mut name = Name::from_ascii(zone).map_err(|e| KeyFileError::Zone(zone.into(), e.to_string()))?;
    name.set_fqdn(true);
    let all = super::load::load_all(&config.zones).map_err(|problems| {
        KeyFileError::Config(problems.iter().map(|p| format!("{}: {}", p.at, p.message)).collect::<Vec<_>>().join("\n"))
    })?;
    let wanted = crate::zone::name::key_of(&name);
    let keys = all
        .iter()
        .find(|z| z.origin == wanted)
        .ok_or_else(|| KeyFileError::Config(format!("no zone {name} with dnssec keys in this configuration")))?;
    let mut out = String::new();
    for zone_key in keys.keys.iter().filter(|k| k.key.is_sep()) {
        let note = if zone_key.publish_only { " ; publish_only: not signing yet" } else { "" };
        out.push_str(&format!("{}{note}\n", zone_key.key.ds_text(None)));
    }
    for zone_key in &keys.keys {
        out.push_str(&format!("; {}\n", zone_key.key.dnskey_text()));
    }
    Ok(out)
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut path = stem.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

/// Creates `path` with `mode` (never replacing a file, never through a link) and writes it.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let fail = |source| KeyFileError::Write { path: path.into(), source };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(fail)?;
    file.write_all(data).map_err(fail)?;
    file.sync_all().map_err(fail)
}
