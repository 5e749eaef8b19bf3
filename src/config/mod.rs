//! Validated configuration: the meaning of the TOML in `file.rs`.
//!
//! `Config::read` is the only function here that touches the disk; `Config::from_toml` is pure,
//! so `check-config`, `serve` and the tests run the same validation. Every problem is collected
//! with the path of the offending key, and all of them are reported at once.

pub mod api;
pub mod changes;
pub mod cluster;
pub mod dnssec;
pub mod dnstap;
mod file;
pub mod health;
pub mod keys;
pub mod load;
pub mod names;
pub mod overlay;
pub mod ramp;
pub mod rrl;
mod stamp;
pub mod steering;
pub mod tls;
pub mod transfer;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;

pub use api::{ApiConfig, ApiLimits, DEFAULT_API_LISTEN, DEFAULT_TOKEN_NAME, NamedToken, TlsFiles, TokenSource};
pub use file::{FileCheck, FileConfig, FileCoordinates, FileDuration, FileEndpoint, FileRegion, FileStatus};
use file::{FileServer, FileZone};
pub use health::{CheckConfig, CheckKind, ManualState, WhenAllDown};
pub use keys::{Algorithm, KeyConfig, SecretSource};
use names::shown;
pub use overlay::Overlay;
pub use rrl::RrlConfig;
pub use steering::{EndpointConfig, PolicyKind, PoolConfig, RegionConfig};

/// The configuration used when `--config` is not given; paths in it resolve against the
/// working directory.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// The UDP response size we stay within by default: the DNS Flag Day 2020 value, which avoids
/// IP fragmentation on practically every path (RFC 9715 gives the reasoning).
pub const DEFAULT_MAX_UDP_PAYLOAD: u16 = 1232;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    /// Zone files and directories, in the order written.
    pub zones: Vec<ZoneSource>,
    /// Each zone source's transfer settings, by the index of its source in `zones`.
    pub zone_settings: Vec<transfer::ZoneSettings>,
    /// The catalog zone's name (RFC 9432), when one is served.
    pub catalog: Option<Name>,
    /// The geo database, if configured.
    pub geoip: Option<PathBuf>,
    /// The autonomous-system database (`[geoip] asn_database`), if configured.
    pub asn_database: Option<PathBuf>,
    pub regions: Vec<RegionConfig>,
    pub pools: Vec<PoolConfig>,
    /// Where API changes are kept; `None`: they last until the process ends.
    pub state_dir: Option<PathBuf>,
    pub api: Option<ApiConfig>,
    pub rrl: RrlConfig,
    /// `[cluster]`: `None` for a standalone instance.
    pub cluster: Option<cluster::ClusterConfig>,
    /// `[[key]]`: the TSIG keys requests may be signed with.
    pub keys: Vec<KeyConfig>,
    /// `[dnstap]`: `None` when queries are not logged.
    pub dnstap: Option<dnstap::DnstapConfig>,
}

/// `[server]` after validation.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub identity: Option<String>,
    pub max_udp_payload: u16,
    pub tcp: TcpLimits,
    pub shutdown_grace: Duration,
    /// UDP worker threads (one socket each per listen address, SO_REUSEPORT).
    pub workers: usize,
    /// Who to serve as when started as root (`None`: `privileges::DEFAULT_USER`).
    pub user: Option<String>,
    /// The local address health probes are sent from.
    pub probe_source: Option<std::net::IpAddr>,
}

/// What one TCP client may hold, and for how long (RFC 7766 sections 6.2 and 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections open at once, from all clients.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_client: usize,
    /// How long a connection may wait with no query begun before the server closes it.
    pub idle_timeout: Duration,
    /// How long a begun query may take to arrive, and its response to be written.
    pub query_timeout: Duration,
}

/// Where zone data comes from. `at` is the configuration path, for error messages.
#[derive(Debug, Clone)]
pub enum ZoneSource {
    /// `dnssec`: the zone's signing, when it is signed.
    File {
        at: String,
        path: PathBuf,
        origin: Option<Name>,
        dnssec: Option<dnssec::DnssecConfig>,
    },
    Dir {
        at: String,
        path: PathBuf,
    },
}

/// One thing wrong with the configuration, at a key path such as `zone[1].file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: String,
    pub message: String,
}

impl Problem {
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self { at: at.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    /// Not a `source`: an error chain would print toml's own message, token line and all.
    #[error("{} is not valid TOML: {}", .origin, redacted(.error))]
    Toml { origin: String, error: toml::de::Error },
    #[error("{} problem(s) in {}:\n{}", .problems.len(), .origin, lines(.problems))]
    Invalid { origin: String, problems: Vec<Problem> },
}

/// A TOML error without the text of a `token = ...` line it may quote (the API token must
/// never reach a log line or an API answer), and in the file's words rather than Rust's.
fn redacted(error: &toml::de::Error) -> String {
    let text = names::plain_serde(&error.to_string(), "a table");
    text.lines()
        .map(|line| match line.find("token") {
            Some(at) if line[at..].contains('=') => format!("{}token = <redacted>", &line[..at]),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn lines(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    lines.join("\n")
}

/// A configuration as written, parsed but not yet validated: what API changes are laid over.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: FileConfig,
    /// The directory relative paths resolve against.
    pub base: PathBuf,
    /// Names the text in messages: a path, or "the embedded default configuration".
    pub origin: String,
    /// The machine's CPU count: the default number of UDP workers. Set by the edge that
    /// reads the machine ([`Source::set_cpus`]); one until then, so that validation depends
    /// on nothing but its inputs.
    cpus: usize,
}

impl Source {
    /// Reads and parses a file; relative paths in it resolve against its directory.
    ///
    /// # Errors
    /// The file cannot be read or is not TOML with known keys.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::files::read_to_string(path, crate::files::SMALL_FILE)
            .map_err(|e| ConfigError::Read { path: path.into(), source: e.into() })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_toml(&text, &base, &path.display().to_string())
    }

    /// The embedded default configuration, with paths relative to the working directory.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::from_toml(DEFAULT_TOML, Path::new(""), "the embedded default configuration")
    }

    /// Parses TOML text. `origin` names the text in messages.
    ///
    /// # Errors
    /// Not TOML, or an unknown key.
    pub fn from_toml(text: &str, base: &Path, origin: &str) -> Result<Self, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|error| ConfigError::Toml { origin: origin.to_owned(), error })?;
        Ok(Self { file, base: base.to_path_buf(), origin: origin.to_owned(), cpus: 1 })
    }

    /// Validates the file as written.
    ///
    /// # Errors
    /// Every invalid value, all reported together.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        validate(self.file.clone(), &self.base, self.cpus).map_err(|problems| self.invalid(problems))
    }

    /// Validates the file with `overlay`'s changes laid over it, so that API changes get
    /// exactly the checks the file gets. Changes the file no longer fits are left out and
    /// returned beside the configuration, for a warning.
    ///
    /// # Errors
    /// Every invalid value, all reported together.
    pub fn validate_with(&self, overlay: &Overlay) -> Result<(Config, Vec<Problem>), ConfigError> {
        let mut skipped = Vec::new();
        let file = overlay.apply(self.file.clone(), &mut skipped);
        let mut config = validate(file, &self.base, self.cpus).map_err(|problems| self.invalid(problems))?;
        overlay.apply_failovers(&mut config, &mut skipped);
        overlay.apply_ramps(&mut config);
        Ok((config, skipped))
    }

    /// The state directory the file names, resolved against its directory.
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.file.state_dir.as_ref().map(|dir| self.base.join(dir))
    }

    /// Replaces the listeners, as `--listen` does (checked with the rest by `validate`).
    pub fn set_listen(&mut self, addrs: &[String]) {
        self.file.server.listen = Some(addrs.to_vec());
    }

    /// Sets the machine's CPU count, which `server.workers` defaults to (capped at 256). The
    /// edges that load a configuration to serve or check it pass
    /// `std::thread::available_parallelism()`.
    pub fn set_cpus(&mut self, cpus: usize) {
        self.cpus = cpus.max(1);
    }

    /// Replaces the admin API's address (turning the API on), as `--api` does.
    pub fn set_api_listen(&mut self, addr: &str) {
        self.file.api.get_or_insert_default().listen = Some(addr.to_owned());
    }

    fn invalid(&self, problems: Vec<Problem>) -> ConfigError {
        ConfigError::Invalid { origin: self.origin.clone(), problems }
    }
}

impl Config {
    /// Every endpoint, with its index in the health table (configuration order) and its region.
    pub fn endpoints(&self) -> impl Iterator<Item = (usize, &RegionConfig, &EndpointConfig)> {
        self.regions
            .iter()
            .flat_map(|r| r.endpoints.iter().map(move |e| (r, e)))
            .enumerate()
            .map(|(i, (r, e))| (i, r, e))
    }

    /// The health-table index of the first endpoint of region `region` (index into `regions`).
    pub fn first_endpoint(&self, region: usize) -> usize {
        self.regions[..region].iter().map(|r| r.endpoints.len()).sum()
    }

    /// Reads and validates a file; relative paths in it resolve against its directory.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, or fails validation.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        Source::read(path)?.validate()
    }

    /// The embedded default configuration, with paths relative to the working directory.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Source::embedded_default()?.validate()
    }

    /// Parses and validates TOML text. `origin` names the text in messages.
    ///
    /// # Errors
    /// Not TOML, an unknown key, or any invalid value (all reported together).
    pub fn from_toml(text: &str, base: &Path, origin: &str) -> Result<Self, ConfigError> {
        Source::from_toml(text, base, origin)?.validate()
    }
}

fn validate(file: FileConfig, base: &Path, cpus: usize) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let server = validate_server(file.server, cpus, &mut problems);
    let (mut zones, mut zone_settings) = (Vec::new(), Vec::new());
    if file.zones_dir.is_none() && file.zone.is_empty() {
        problems.push(Problem::new("zone", "no zones configured: add [[zone]] file = \"...\" or zones_dir"));
    }
    if let Some(dir) = file.zones_dir {
        zones.push(ZoneSource::Dir { at: "zones_dir".into(), path: base.join(dir) });
        zone_settings.push(transfer::ZoneSettings::none());
    }
    for (i, mut zone) in file.zone.into_iter().enumerate() {
        let (acl, notify, serial) = (zone.transfer.take(), zone.notify.take(), zone.serial.take());
        let settings =
            transfer::validate_settings(&format!("zone[{i}]"), acl, notify, serial, zone.journal_max, &mut problems);
        if let Some(source) = validate_zone(i, zone, base, &mut problems) {
            zones.push(source);
            zone_settings.push(settings);
        }
    }
    let catalog = transfer::validate_catalog(file.catalog.as_deref(), &mut problems);
    let (database, asn_database) = file.geoip.map_or((None, None), |g| (g.database, g.asn_database));
    let geoip = steering::validate_geoip(database, base);
    let asn_database = steering::validate_geoip(asn_database, base);
    let mut regions = steering::validate_regions(file.region, &mut problems);
    if let Some(source) = server.probe_source {
        for check in regions.iter_mut().flat_map(|r| r.endpoints.iter_mut()).filter_map(|e| e.check.as_mut()) {
            check.source = Some(source);
        }
    }
    let pools = steering::validate_pools(file.pool, &regions, &mut problems);
    if geoip.is_none()
        && let Some(pool) = pools.iter().find(|p| p.policy.needs_geo())
    {
        problems.push(Problem::new(
            format!("{}.policy", pool.at),
            format!("{} needs a geo database: add [geoip] database = \"...\"", pool.policy.name()),
        ));
    }
    if asn_database.is_none() {
        steering::check_asns_have_database(&pools, &regions, &mut problems);
    }
    let state_dir = file.state_dir.map(|dir| base.join(dir));
    let api = file.api.and_then(|api| api::validate_api(api, base, &mut problems));
    let rrl = rrl::validate_rrl(file.rrl.unwrap_or_default(), &mut problems);
    let cluster =
        file.cluster.and_then(|c| cluster::validate_cluster(c, server.identity.as_deref(), base, &mut problems));
    let keys = keys::validate_keys(file.key, base, &mut problems);
    let dnstap = file.dnstap.and_then(|d| dnstap::validate_dnstap(d, base, &mut problems));
    if problems.is_empty() {
        Ok(Config {
            server,
            zones,
            zone_settings,
            catalog,
            geoip,
            asn_database,
            regions,
            pools,
            state_dir,
            api,
            rrl,
            cluster,
            keys,
            dnstap,
        })
    } else {
        Err(problems)
    }
}

/// The `[server]` table. `cpus`, the machine's CPU count, is the default for `workers`.
fn validate_server(server: FileServer, cpus: usize, problems: &mut Vec<Problem>) -> ServerConfig {
    let listen = match &server.listen {
        Some(addrs) => parse_listen(addrs, "server.listen", problems),
        None => vec![SocketAddr::from(([127, 0, 0, 1], 1053)), SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 1053))],
    };
    if let Some(identity) = &server.identity {
        // It travels as one TXT character-string (RFC 1035 section 3.3), at most 255 octets.
        if identity.is_empty() || identity.len() > 255 {
            problems.push(Problem::new(
                "server.identity",
                format!(
                    "{} is {} bytes long: an identity is 1 to 255 bytes (one TXT string)",
                    shown(identity),
                    identity.len()
                ),
            ));
        }
    }
    let max_udp_payload = match server.max_udp_payload {
        None => DEFAULT_MAX_UDP_PAYLOAD,
        Some(n @ 512..=4096) => n as u16,
        Some(n) => {
            problems
                .push(Problem::new("server.max_udp_payload", format!("{n} is outside the range 512 to 4096 bytes")));
            DEFAULT_MAX_UDP_PAYLOAD
        }
    };
    let tcp = validate_tcp(&server, problems);
    let shutdown_grace = secs(server.shutdown_grace_secs, 5, 0..=600, "server.shutdown_grace_secs", problems);
    let workers = bounded(server.workers, cpus.min(256) as u64, 1..=256, "server.workers", problems) as usize;
    if server.user.as_deref().is_some_and(|u| u.is_empty() || u.contains('\0')) {
        problems.push(Problem::new("server.user", "must be a user name"));
    }
    let probe_source = server.probe_source.as_deref().and_then(|text| match text.parse() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(Problem::new(
                "server.probe_source",
                format!("{text:?} is not an IP address of this host, such as 192.0.2.10 or 2001:db8::10"),
            ));
            None
        }
    });
    ServerConfig {
        listen,
        identity: server.identity,
        max_udp_payload,
        tcp,
        shutdown_grace,
        workers,
        user: server.user,
        probe_source,
    }
}

/// The TCP limits. A per-client limit left unset follows a total set below it; one set above
/// the total is an error. The file descriptors the total needs are checked at start
/// (`dns::server::raise_fd_limit`).
fn validate_tcp(server: &FileServer, problems: &mut Vec<Problem>) -> TcpLimits {
    const AT: &str = "server.tcp_max_connections";
    let max_connections = bounded(server.tcp_max_connections, 1_000, 1..=1_000_000, AT, problems);
    // RFC 7766 section 6.2.2: per-client limits "SHOULD be much looser than the client
    // guidelines", since one address may be many resolvers, or many clients behind a NAT.
    let at = "server.tcp_max_connections_per_client";
    let mut per_client = bounded(server.tcp_max_connections_per_client, 100, 1..=1_000_000, at, problems);
    if per_client > max_connections {
        if server.tcp_max_connections_per_client.is_some() {
            problems.push(Problem::new(at, format!("{per_client} is above {AT} ({max_connections})")));
        }
        per_client = max_connections;
    }
    TcpLimits {
        max_connections: max_connections as usize,
        max_connections_per_client: per_client as usize,
        idle_timeout: secs(server.tcp_idle_timeout_secs, 10, 1..=3600, "server.tcp_idle_timeout_secs", problems),
        query_timeout: secs(server.tcp_query_timeout_secs, 5, 1..=300, "server.tcp_query_timeout_secs", problems),
    }
}

/// A setting in whole seconds within `range`, or `default` when unset (see [`bounded`]).
pub(crate) fn secs(
    value: Option<u64>,
    default: u64,
    range: RangeInclusive<u64>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Duration {
    Duration::from_secs(bounded_in(value, default, range, " seconds", at, problems))
}

/// A setting within `range`, or `default` when unset; one out of range is reported and the
/// default used, so validation goes on to find the other problems.
pub(crate) fn bounded<T: PartialOrd + Copy + fmt::Display>(
    value: Option<T>,
    default: T,
    range: RangeInclusive<T>,
    at: impl Into<String>,
    problems: &mut Vec<Problem>,
) -> T {
    bounded_in(value, default, range, "", at, problems)
}

/// [`bounded`], with the unit the range is in for the message: "0 is outside the range 1 to
/// 300 seconds".
pub(crate) fn bounded_in<T: PartialOrd + Copy + fmt::Display>(
    value: Option<T>,
    default: T,
    range: RangeInclusive<T>,
    unit: &str,
    at: impl Into<String>,
    problems: &mut Vec<Problem>,
) -> T {
    let value = value.unwrap_or(default);
    if !range.contains(&value) {
        let (start, end) = (range.start(), range.end());
        problems.push(Problem::new(at, format!("{value} is outside the range {start} to {end}{unit}")));
        return default;
    }
    value
}

fn parse_listen(addrs: &[String], at: &str, problems: &mut Vec<Problem>) -> Vec<SocketAddr> {
    let mut listen = Vec::new();
    for (i, text) in addrs.iter().enumerate() {
        match text.parse::<SocketAddr>() {
            Ok(addr) if listen.contains(&addr) => {
                problems.push(Problem::new(format!("{at}[{i}]"), format!("{} is listed twice", shown(text))))
            }
            Ok(addr) => listen.push(addr),
            Err(_) => problems.push(Problem::new(
                format!("{at}[{i}]"),
                format!("{} is not ADDR:PORT (IPv6 as [::1]:53)", shown(text)),
            )),
        }
    }
    if addrs.is_empty() {
        problems.push(Problem::new(at, "no listen address given"));
    }
    listen
}

fn validate_zone(i: usize, zone: FileZone, base: &Path, problems: &mut Vec<Problem>) -> Option<ZoneSource> {
    let at = format!("zone[{i}]");
    let origin = zone.origin.as_deref().and_then(|text| match Name::from_ascii(text) {
        Ok(mut name) => {
            name.set_fqdn(true);
            Some(name)
        }
        Err(e) => {
            problems.push(Problem::new(format!("{at}.origin"), names::not_a_domain_name(text, &e.to_string())));
            None
        }
    });
    let dnssec = match zone.dnssec {
        Some(_) if zone.zones_dir.is_some() => {
            problems
                .push(Problem::new(format!("{at}.dnssec"), "keys are a zone's: give dnssec with file, not zones_dir"));
            None
        }
        Some(table) => dnssec::validate(&at, table, base, problems),
        None => None,
    };
    match (zone.file, zone.zones_dir) {
        (Some(file), None) => {
            Some(ZoneSource::File { at: format!("{at}.file"), path: base.join(file), origin, dnssec })
        }
        (None, Some(dir)) if origin.is_none() => {
            Some(ZoneSource::Dir { at: format!("{at}.zones_dir"), path: base.join(dir) })
        }
        (None, Some(_)) => {
            problems.push(Problem::new(format!("{at}.origin"), "an origin applies to one file, not to zones_dir"));
            None
        }
        (Some(_), Some(_)) => {
            problems.push(Problem::new(at, "give either file or zones_dir, not both"));
            None
        }
        (None, None) => {
            problems.push(Problem::new(format!("{at}.file"), "missing: the zone file to serve (or zones_dir)"));
            None
        }
    }
}

#[cfg(test)]
mod tests;
