//! Meridian: an authoritative GeoDNS load balancer.
//!
//! # Layout
//!
//! - `config`: the TOML as written (`file`) and its validated meaning (`Config`).
//! - `zone`: RFC 1035 master files parsed (`parse`), read from disk (`load`) and built into
//!   lookup trees (`Zone`, `Zones`), keyed by lowercase wire names (`name`), each RRset's data
//!   encoded once for the response encoder (`WireSet`). Imports nothing from `dns`.
//! - `snapshot`: the immutable `Snapshot` each query reads, and the store that publishes it.
//! - `dns`: the answer pipeline (`pipeline`: decode, answer, rate limit, observe, encode),
//!   the pure answer (`response`), the parser (`request`, `ecs`), the encoders (`wire`,
//!   `fallback`), and the edges that serve it (`udp`, `tcp`, `server`).
//! - `geo`: the geo database decoded once (`mmdb`), CIDR overrides, distances, the country table.
//! - `steering`: pools, the policies and `decide`, over an immutable `HealthView`.
//! - `health`: the pure endpoint state machine (`state`), every endpoint's health and the view
//!   built from it (`table`, `history`), and the edges that probe and publish (`probe`, `prober`).
//! - `explain`: `meridian explain`, running the server's own answer path.
//! - `metrics`: the process-lifetime Prometheus registry, per-pool handles resolved with each
//!   snapshot, and the text exposition page.
//! - `analytics`: per-pool answer shares (regions, endpoints, countries, continents, RCODEs)
//!   over sliding windows of 1 min, 15 min and 1 h, in a ring of 10-second buckets.
//! - `control`: the controller task that owns every change (reloads, API changes, shutdown),
//!   and the state file that keeps API changes across restarts (`state`).
//! - `api`: the admin REST API (axum), one file per resource, and its OpenAPI document.
//! - `ctl`: `meridian ctl`, a client of the admin API: one request per command, its answer as
//!   tables (`render`, `table`) or as JSON.
//! - `app`: wiring, start-up, and the signals that reload and stop; `privileges`: serving as an
//!   unprivileged user when started as root.
//! - `fuzz` (feature `fuzzing` only): the fuzz targets' bodies and properties, shared with the
//!   corpus replay test.
//!
//! Dependencies point inward: `zone`, `config`, `geo`, `steering`, `health::state`,
//! `health::table` and `dns::response` know nothing of sockets or tasks.

pub mod analytics;
pub mod api;
pub mod app;
pub mod clients;
pub mod config;
pub mod control;
pub mod ctl;
pub mod dns;
pub mod explain;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod privileges;
pub mod snapshot;
pub mod steering;
pub mod zone;
