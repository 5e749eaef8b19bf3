//! The configuration file as written: serde structs that mirror the TOML, with no meaning yet.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than a silently
//! ignored setting. Validation into [`super::Config`] happens in `mod.rs`.

use serde::Deserialize;

/// The whole TOML document.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// A directory whose every `*.zone` file is served (relative to the configuration file).
    pub zones_dir: Option<String>,
    #[serde(default)]
    pub server: FileServer,
    /// `[[zone]]` tables, one per zone file.
    #[serde(default)]
    pub zone: Vec<FileZone>,
}

/// `[server]`: listeners and protocol limits.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServer {
    /// `ADDR:PORT` strings; each gets a UDP socket and a TCP listener.
    pub listen: Option<Vec<String>>,
    /// Identity for NSID (RFC 5001) and CH TXT `id.server` / `hostname.bind`.
    pub identity: Option<String>,
    /// Largest UDP response we send to an EDNS client (RFC 6891 section 6.2.5).
    pub max_udp_payload: Option<u64>,
    /// Seconds an idle TCP connection is kept open (RFC 7766 section 6.2.3).
    pub tcp_idle_timeout_secs: Option<u64>,
    /// Seconds to finish in-flight work after SIGTERM/SIGINT.
    pub shutdown_grace_secs: Option<u64>,
}

/// `[[zone]]`: one RFC 1035 master file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileZone {
    pub file: Option<String>,
    /// Instead of `file`: every `*.zone` file in this directory.
    pub zones_dir: Option<String>,
    /// Overrides the origin; otherwise `$ORIGIN` or the owner of the first (SOA) record.
    pub origin: Option<String>,
}
