//! `[dnstap]`: query logging in dnstap (see `crate::dnstap`). Off when the table is absent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::names::shown;
use super::{Problem, bounded};

/// `[dnstap]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDnstap {
    /// The collector's Unix socket (relative to the configuration file's directory).
    pub socket: Option<String>,
    /// Or the collector's TCP address, `ADDR:PORT`.
    pub tcp: Option<String>,
    /// Log queries as received (`AUTH_QUERY`); default true.
    pub log_queries: Option<bool>,
    /// Log responses as sent (`AUTH_RESPONSE`); default true.
    pub log_responses: Option<bool>,
    /// The `identity` of every message; default: `server.identity`, else the host name.
    pub identity: Option<String>,
    /// The `version` of every message; default "meridian <version>".
    pub version: Option<String>,
    /// Log one query in `sample`, chosen at random; default 1 (every query).
    pub sample: Option<u32>,
    /// Messages waiting for the writer; more are dropped (and counted). Default 4096.
    pub queue_size: Option<u32>,
}

/// Where the collector listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collector {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// `[dnstap]` after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnstapConfig {
    pub collector: Collector,
    pub log_queries: bool,
    pub log_responses: bool,
    /// `None`: `server.identity`, else the host name, found when the writer starts.
    pub identity: Option<String>,
    pub version: String,
    /// One query in `sample` is logged (1: all).
    pub sample: u32,
    pub queue_size: usize,
}

/// The default `queue_size`: tens of milliseconds of a busy server's queries, in about 8 MiB
/// of buffers (2 KiB each, more only while a larger message waits).
pub const DEFAULT_QUEUE_SIZE: u32 = 4096;

/// The table, with the socket path resolved against `base`; `None` (and problems) when it
/// names no collector, two, or one that cannot be read.
pub fn validate_dnstap(file: FileDnstap, base: &Path, problems: &mut Vec<Problem>) -> Option<DnstapConfig> {
    let before = problems.len();
    let collector = match (&file.socket, &file.tcp) {
        (Some(path), None) if path.is_empty() => {
            problems.push(Problem::new("dnstap.socket", "the path is empty"));
            None
        }
        (Some(path), None) => Some(Collector::Unix(base.join(path))),
        (None, Some(text)) => match text.parse::<SocketAddr>() {
            Ok(addr) if addr.port() != 0 && !addr.ip().is_unspecified() => Some(Collector::Tcp(addr)),
            _ => {
                let message = format!("{} is not a collector's address such as \"127.0.0.1:6000\"", shown(text));
                problems.push(Problem::new("dnstap.tcp", message));
                None
            }
        },
        (Some(_), Some(_)) => {
            problems.push(Problem::new("dnstap", "give the collector's socket or its tcp address, not both"));
            None
        }
        (None, None) => {
            let message = "no collector: add socket = \"/run/meridian/dnstap.sock\" or tcp = \"127.0.0.1:6000\"";
            problems.push(Problem::new("dnstap", message));
            None
        }
    };
    let (log_queries, log_responses) = (file.log_queries.unwrap_or(true), file.log_responses.unwrap_or(true));
    if !log_queries && !log_responses {
        problems.push(Problem::new("dnstap", "log_queries and log_responses are both false: nothing would be logged"));
    }
    for (at, text) in [("dnstap.identity", &file.identity), ("dnstap.version", &file.version)] {
        if text.as_ref().is_some_and(|t| t.len() > 255) {
            problems.push(Problem::new(at, "is longer than 255 bytes"));
        }
    }
    let sample = bounded(file.sample, 1, 1..=1_000_000, "dnstap.sample", problems);
    let queue_size = bounded(file.queue_size, DEFAULT_QUEUE_SIZE, 16..=1_048_576, "dnstap.queue_size", problems);
    let version = file.version.unwrap_or_else(|| concat!("meridian ", env!("CARGO_PKG_VERSION")).to_owned());
    if problems.len() > before {
        return None;
    }
    Some(DnstapConfig {
        collector: collector?,
        log_queries,
        log_responses,
        identity: file.identity,
        version,
        sample,
        queue_size: queue_size as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(file: FileDnstap) -> (Option<DnstapConfig>, Vec<String>) {
        let mut problems = Vec::new();
        let config = validate_dnstap(file, Path::new("/etc/meridian"), &mut problems);
        (config, problems.into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn defaults_log_queries_and_responses_of_every_query() {
        let (config, problems) = validated(FileDnstap { socket: Some("dnstap.sock".into()), ..Default::default() });
        assert!(problems.is_empty(), "{problems:?}");
        let config = config.unwrap();
        assert_eq!(config.collector, Collector::Unix("/etc/meridian/dnstap.sock".into()));
        assert!(config.log_queries && config.log_responses);
        assert_eq!((config.sample, config.queue_size), (1, 4096));
        assert_eq!(config.version, concat!("meridian ", env!("CARGO_PKG_VERSION")));
        assert_eq!(config.identity, None);
    }

    #[test]
    fn the_whole_file_is_checked_with_the_paths_named() {
        let check = |toml: &str| {
            let text = format!("zones_dir = \"z\"\n{toml}");
            crate::config::Config::from_toml(&text, Path::new("/etc/meridian"), "test").map(|c| c.dnstap)
        };
        let config = check("[dnstap]\ntcp = \"127.0.0.1:6000\"\nsample = 10\n").unwrap().unwrap();
        assert_eq!((config.collector, config.sample), (Collector::Tcp("127.0.0.1:6000".parse().unwrap()), 10));
        assert_eq!(check("").unwrap(), None, "off without the table");
        let error = check("[dnstap]\nsocket = \"s\"\nsample = 0\n").unwrap_err().to_string();
        assert!(error.contains("dnstap.sample: 0 is outside the range 1 to 1000000"), "{error}");
        let error = check("[dnstap]\nsockett = \"s\"\n").unwrap_err().to_string();
        assert!(error.contains("unknown field `sockett`"), "{error}");
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (FileDnstap::default(), "dnstap: no collector"),
            (
                FileDnstap { socket: Some("a".into()), tcp: Some("127.0.0.1:6000".into()), ..Default::default() },
                "dnstap: give the collector's socket or its tcp address, not both",
            ),
            (FileDnstap { tcp: Some("localhost:6000".into()), ..Default::default() }, "dnstap.tcp: \"localhost:6000\""),
            (FileDnstap { tcp: Some("127.0.0.1:0".into()), ..Default::default() }, "dnstap.tcp: \"127.0.0.1:0\""),
            (
                FileDnstap { tcp: Some("[::1]:6000".into()), sample: Some(0), ..Default::default() },
                "dnstap.sample: 0 is outside the range 1 to 1000000",
            ),
            (
                FileDnstap { socket: Some("s".into()), queue_size: Some(1), ..Default::default() },
                "dnstap.queue_size: 1 is outside",
            ),
            (
                FileDnstap {
                    socket: Some("s".into()),
                    log_queries: Some(false),
                    log_responses: Some(false),
                    ..Default::default()
                },
                "dnstap: log_queries and log_responses are both false",
            ),
            (
                FileDnstap { socket: Some("s".into()), identity: Some("x".repeat(256)), ..Default::default() },
                "dnstap.identity: is longer than 255 bytes",
            ),
        ];
        for (file, expected) in cases {
            let (config, problems) = validated(file);
            assert!(config.is_none());
            assert!(problems.iter().any(|p| p.starts_with(expected)), "{expected}: {problems:?}");
        }
    }
}
