//! The configuration file as written: serde structs that mirror the TOML, with no meaning yet.
//!
//! Every struct denies unknown fields, so a misspelt key is an error rather than a silently
//! ignored setting. Validation into [`super::Config`] happens in `mod.rs`.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::names::shown;

/// The whole TOML document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// A directory whose every `*.zone` file is served (relative to the configuration file).
    pub zones_dir: Option<String>,
    #[serde(default)]
    pub server: FileServer,
    /// `[[zone]]` tables, one per zone file.
    #[serde(default)]
    pub zone: Vec<FileZone>,
    pub geoip: Option<FileGeoip>,
    #[serde(default)]
    pub region: Vec<FileRegion>,
    #[serde(default)]
    pub pool: Vec<FilePool>,
    /// Where changes made through the API are kept across restarts.
    pub state_dir: Option<String>,
    /// `[api]`: the admin API; off when absent.
    pub api: Option<super::api::FileApi>,
    /// `[rrl]`: response rate limiting; off when absent.
    pub rrl: Option<super::rrl::FileRrl>,
    /// `[cluster]`: shared changes and health through NATS; off when absent.
    pub cluster: Option<FileCluster>,
    /// The name of the catalog zone (RFC 9432) listing every zone served; none when absent.
    pub catalog: Option<String>,
    /// `[[key]]`: TSIG keys (RFC 8945).
    #[serde(default)]
    pub key: Vec<super::keys::FileKey>,
    /// `[dnstap]`: query logging to a collector; off when absent.
    pub dnstap: Option<super::dnstap::FileDnstap>,
}

/// `[geoip]`: the MaxMind-format databases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGeoip {
    /// Countries, continents and positions (a Country or City database).
    pub database: Option<String>,
    /// Autonomous system numbers (`autonomous_system_number`, as GeoLite2-ASN).
    pub asn_database: Option<String>,
}

/// `{ lat = .., lon = .. }`
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileCoordinates {
    pub lat: f64,
    pub lon: f64,
}

/// `[[region]]`: a set of endpoints in one place.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRegion {
    pub name: String,
    pub location: Option<FileCoordinates>,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub continents: Vec<String>,
    /// Autonomous systems whose clients `geo` sends here, before countries and continents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asns: Vec<i64>,
    /// Kilometres subtracted from this region's distance for `nearest` (Route 53's bias).
    pub bias_km: Option<f64>,
    #[serde(default)]
    pub endpoints: Vec<FileEndpoint>,
    /// The health check its endpoints inherit.
    pub check: Option<FileCheck>,
    /// `"drain"` or `"force_up"`: a manual state for every endpoint of the region.
    pub state: Option<String>,
    /// Fewer servable endpoints than this (a count, or a fraction below 1) and the region
    /// counts as down as a whole.
    pub min_healthy: Option<f64>,
    /// Each endpoint that comes back (health, undrain, added) has its weight ramped up from a
    /// tenth to full over this time; an endpoint's own `slow_start` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_start: Option<FileDuration>,
    /// Where its endpoints' load is read, unless an endpoint has its own.
    pub load: Option<super::load::FileLoad>,
    /// Whether the API took out its last endpoint: a region left empty that way is down (its
    /// pools' clients fail over), not invalid. Never read from a file or a body.
    #[serde(skip)]
    #[schema(ignore)]
    pub emptied: bool,
}

/// A duration: seconds as a number, or text such as "500ms", "5s", "2m", "1h".
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum FileDuration {
    Secs(i64),
    Text(String),
}

/// An HTTP status code or a range of them: `200` or `"200-299"`.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
#[serde(untagged)]
pub enum FileStatus {
    Code(i64),
    Range(String),
}

/// As the operator wrote it: a number as it is, text quoted.
impl fmt::Display for FileDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secs(secs) => write!(f, "{secs}"),
            Self::Text(text) => f.write_str(&shown(text)),
        }
    }
}

/// As the operator wrote it: a number as it is, text quoted.
impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Range(text) => f.write_str(&shown(text)),
        }
    }
}

/// A number or a string, read by hand rather than as an untagged enum, whose error ("data did
/// not match any variant of untagged enum FileDuration") names a Rust type instead of what
/// the setting takes.
struct NumberOrText<T> {
    expecting: &'static str,
    number: fn(i64) -> T,
    text: fn(String) -> T,
}

impl<T> Visitor<'_> for NumberOrText<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        Ok((self.number)(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        i64::try_from(n).map(self.number).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok((self.text)(text.to_owned()))
    }
}

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberOrText {
            expecting: "a duration: a whole number of seconds, or text such as \"500ms\", \"5s\", \"2m\" or \"1h\"",
            number: Self::Secs,
            text: Self::Text,
        })
    }
}

impl<'de> Deserialize<'de> for FileStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NumberOrText {
            expecting: "an HTTP status code such as 200, or a range such as \"200-299\"",
            number: Self::Code,
            text: Self::Range,
        })
    }
}

/// `check = { type = "http", ... }`
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileCheck {
    #[serde(rename = "type")]
    pub kind: String,
    /// Probe this address instead of the endpoint's (a health URL behind it).
    pub address: Option<String>,
    pub port: Option<i64>,
    pub path: Option<String>,
    pub host: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    pub expect: Vec<FileStatus>,
    pub body: Option<String>,
    /// The most bytes of the body read to look for `body`; the default is 64 KiB.
    pub max_body_bytes: Option<i64>,
    pub verify_tls: Option<bool>,
    pub interval: Option<FileDuration>,
    pub timeout: Option<FileDuration>,
    pub rise: Option<i64>,
    pub fall: Option<i64>,
    /// `"up"` (the default) or `"down"`: the state before the first result.
    pub initial: Option<String>,
    /// Up but slower than this: degraded.
    pub degraded_rtt: Option<FileDuration>,
    #[serde(default)]
    pub degraded_status: Vec<FileStatus>,
    /// More than this many falls within `flap_window` hold the endpoint down for `hold_down`.
    pub flap_limit: Option<i64>,
    pub flap_window: Option<FileDuration>,
    pub hold_down: Option<FileDuration>,
}

/// One address, or one name, a region answers with.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileEndpoint {
    /// Empty for a name endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// A domain name answered as a CNAME instead of an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub weight: Option<i64>,
    /// Replaces the region's check for this endpoint.
    pub check: Option<FileCheck>,
    /// `"drain"` or `"force_up"`.
    pub state: Option<String>,
    /// Served only when every other endpoint of its region is down.
    #[serde(default)]
    pub backup: bool,
    /// When it comes back (health, undrain, added), its weight is ramped up from a tenth to
    /// full over this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_start: Option<FileDuration>,
    /// Replaces the region's load source for this endpoint.
    pub load: Option<super::load::FileLoad>,
}

/// `[[pool]]`: a load-balanced name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePool {
    pub name: String,
    pub policy: String,
    pub regions: Vec<String>,
    pub ttl: Option<i64>,
    pub max_answers: Option<i64>,
    #[serde(default)]
    pub overrides: Vec<FileOverride>,
    /// Where clients the database does not know are taken to be, for the fallback.
    pub fallback_location: Option<FileCoordinates>,
    pub hash_prefix_v4: Option<i64>,
    pub hash_prefix_v6: Option<i64>,
    pub ecs: Option<bool>,
    pub ecs_max_scope_v4: Option<i64>,
    pub ecs_max_scope_v6: Option<i64>,
    /// The TTL while the pool is not wholly healthy, or just after a change.
    pub failover_ttl: Option<i64>,
    pub failover_ttl_hold: Option<FileDuration>,
    /// `"fail_open"` (the default), `"servfail"` or `"nodata"`.
    pub when_all_down: Option<String>,
    pub latency_margin_pct: Option<i64>,
    pub latency_margin: Option<FileDuration>,
    /// `"next"` (the default) or `"spread"`.
    pub spill: Option<String>,
    /// `priority`: how long a recovered region must stay up before traffic fails back.
    pub failback_delay: Option<FileDuration>,
    pub spill_regions: Option<i64>,
    /// Endpoints above `high` leave the answers until below `low`.
    pub shed: Option<super::load::FileShed>,
}

/// `{ subnet = "198.51.100.0/24", region = "eu-west" }` or `{ asn = 64500, region = "eu-west" }`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOverride {
    pub subnet: Option<String>,
    /// An autonomous system number: its clients go to `region` (needs `asn_database`).
    pub asn: Option<i64>,
    pub region: String,
}

/// `[server]`: listeners and protocol limits.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Seconds a TCP query may take to arrive, or its response to be written, once begun.
    pub tcp_query_timeout_secs: Option<u64>,
    /// TCP connections open at once, from all clients (RFC 7766 section 10).
    pub tcp_max_connections: Option<u64>,
    /// TCP connections open at once from one client address (RFC 7766 section 6.2.2).
    pub tcp_max_connections_per_client: Option<u64>,
    /// Seconds to finish in-flight work after SIGTERM/SIGINT.
    pub shutdown_grace_secs: Option<u64>,
    /// UDP worker threads, each with its own socket per address (SO_REUSEPORT); default: the
    /// number of CPUs.
    pub workers: Option<u64>,
    /// The user to serve as when started as root (default "nobody"); never root itself.
    pub user: Option<String>,
    /// The local address health probes are sent from (default: the system's choice): on a
    /// host with several addresses, the one the targets should see.
    pub probe_source: Option<String>,
}

/// `[[zone]]`: one RFC 1035 master file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileZone {
    pub file: Option<String>,
    /// Instead of `file`: every `*.zone` file in this directory.
    pub zones_dir: Option<String>,
    /// Overrides the origin; otherwise `$ORIGIN` or the owner of the first (SOA) record.
    pub origin: Option<String>,
    /// Online signing of this zone's answers: its keys and signature validity.
    pub dnssec: Option<super::dnssec::FileDnssec>,
    /// Who may transfer the zone (AXFR, IXFR); nobody when absent.
    pub transfer: Option<super::transfer::FileTransfer>,
    /// Secondaries sent NOTIFY when the serial changes.
    pub notify: Option<Vec<String>>,
    /// `"auto"`: the server raises the serial when the data changes; `"file"` (the default).
    pub serial: Option<String>,
    /// Versions whose differences are kept for IXFR.
    pub journal_max: Option<u64>,
}

/// `[cluster]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    /// This instance, also its vantage name (default: `server.identity`).
    pub name: Option<String>,
    /// One or more servers of one NATS cluster.
    pub nats: Option<Vec<String>>,
    /// NATS credentials (a `.creds` file of a JWT and an NKey seed).
    pub credentials_file: Option<String>,
    /// The key-value bucket of shared changes.
    pub bucket: Option<String>,
    /// `"majority"`, a count (`2`) or a fraction (`"0.5"`) of the vantage points heard from.
    pub health_quorum: Option<toml::Value>,
    /// A vantage point's report older than this does not vote.
    pub report_max_age: Option<FileDuration>,
    /// Copies JetStream keeps of the shared changes (default 3 with three or more NATS
    /// servers listed, else 1); at most the NATS cluster's size.
    pub replicas: Option<i64>,
}
