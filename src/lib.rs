//! Meridian: an authoritative GeoDNS load balancer.
//!
//! # Layout
//!
//! Modules from the leaves to the edges: each imports only from modules listed before it
//! (`tests/it/layout.rs` fails on an import that points back up, or a module missing here).
//!
//! - `splitmix`: the SplitMix64 mixing step that steering, health, geo and DNS share.
//! - `timestamp`: times since the Unix epoch as RFC 3339 in UTC, and back, for the API and `ctl`.
//! - `files`: reading the files a configuration names, safely when the reader is root: no
//!   link followed where another user could plant one, regular files only, bounded sizes.
//! - `clients`: a client's key (an IPv6 client by its /64) and per-client counts, for the
//!   TCP server's and the API's limits.
//! - `geo`: the geo database decoded once (`mmdb`), the ASN database (`asn`), CIDR overrides,
//!   distances, the country table.
//! - `config`: the TOML as written (`file`) and its validated meaning (`Config`), the API
//!   changes laid over it (`overlay`, with the endpoints registered and taken out through
//!   the API in `overlay::endpoints`) and each one's id, stamp, overrides and revert
//!   (`changes`), weight ramps and `slow_start` as written and saved (`ramp`), the
//!   region-name rule (`names`), load sources and shedding (`load`), and the API's TLS files
//!   read (`tls`).
//! - `tsig`: TSIG (RFC 8945): the `[[key]]` secrets read (`Keys`), a message's TSIG record
//!   found without allocating (`find`), a request verified (`verify`), responses signed, one
//!   or each of a multi-message TCP response (`Signer`), and the NOTAUTH answers to requests
//!   that fail (`write_error`). Pure, with time passed in.
//! - `zone`: RFC 1035 master files parsed (`parse`), read from disk (`load`) and built into
//!   lookup trees (`Zone`, `Zones`), keyed by lowercase wire names (`name`), each RRset's data
//!   encoded once for the response encoder (`WireSet`).
//! - `dnssec`: online signing's parts: keys in BIND's file format (`key`, read by `load`),
//!   RRSIGs over canonical RRsets (`rrsig`), the bounded signature cache the workers share
//!   (`cache`), validity windows aligned to fixed boundaries (`window`), and compact denial's
//!   NSEC records (`nsec`).
//! - `health`: the pure endpoint state machine (`state`), every endpoint's health and the view
//!   queries read (`table`, `history`, `view`), weights as ramps and slow starts move them
//!   (`ramp`), load reports smoothed, aged out and shed with hysteresis (`load`), and the
//!   probes that feed it (`probe`, `prober`, and `load_read`, which reads a load from a body,
//!   a header or a metrics page), which send their results to the controller and publish
//!   nothing.
//! - `steering`: pools, the policies and `decide`, over an immutable `health::view::HealthView`;
//!   the latency policy's choice of region (`latency`), the draw by spare capacity
//!   (`least_loaded`); which of a pool's regions can answer now (`servable`).
//! - `transfer`: what zone transfers send: each zone's serial (RFC 1982, `serial = "auto"`),
//!   who may transfer it, its pools' fallback sets, the journal IXFR answers from, and the
//!   catalog zone (RFC 9432).
//! - `analytics`: per-pool answer shares (regions, endpoints, countries, continents, RCODEs)
//!   over sliding windows of 1 min, 15 min and 1 h, in a ring of 10-second buckets.
//! - `metrics`: the process-lifetime Prometheus registry, per-pool handles resolved with each
//!   snapshot (`observers`), and the text exposition page.
//! - `snapshot`: the immutable `Snapshot` each query reads, loaded from the zone files and geo
//!   database a configuration names, and the store that publishes it.
//! - `dnstap`: query logging: the query path's end (`Tap`: sample, copy into a pooled
//!   record, queue without waiting), the writer thread that sends Frame Streams (`frames`) of
//!   dnstap messages (`proto`, the official schema's) to a collector, reconnecting with backoff.
//! - `dns`: the answer pipeline (`pipeline`: decode, answer, rate limit, observe, encode),
//!   the pure answer (`response`), the parser (`request`, `ecs`), the encoders (`wire`,
//!   `fallback`), and the edges that serve it (`udp`, `tcp`, `server`).
//! - `explain`: `meridian explain`, running the server's own answer path.
//! - `control`: the one writer: the controller task that owns the configuration, the saved
//!   changes and the health table, takes reloads, API changes, probe results and shutdown,
//!   and publishes; the one way to load (`load`), and the threads reloads take turns on
//!   (`loader`); the state file (`state`); the shared log of changes as the writer asks for
//!   its writes (`shared`); the leases of registered endpoints and when each runs out
//!   (`leases`); each pool's servable regions as published, and the one log line
//!   when a pool goes down or comes back (`pools`).
//! - `cluster`: the NATS JetStream edge of a cluster of instances: serves the writer's
//!   shared-log writes (compare-and-set on a revision) and hands it newer shared values.
//! - `api`: the admin REST API (axum), one file per resource, and its OpenAPI document.
//! - `ctl`: `meridian ctl`, a client of the admin API: one request per command, its answer as
//!   tables (`render`, `table`) or as JSON.
//! - `privileges`: serving as an unprivileged user when started as root.
//! - `app`: wiring, start-up, and the signals that reload and stop.
//! - `fuzz`: the fuzz targets' bodies and properties, shared with the corpus replay test
//!   (compiled with the `fuzzing` feature only).
//!
//! The pure core (`config` but its `tls` file reader, `zone` but `load`, `geo`, `steering`,
//! `health::state`, `health::table`, the answer stage of `dns`) knows nothing of sockets,
//! tasks or the clock.

pub mod analytics;
pub mod api;
pub mod app;
pub mod clients;
pub mod cluster;
pub mod config;
pub mod control;
pub mod ctl;
pub mod dns;
pub mod dnssec;
pub mod dnstap;
pub mod explain;
pub mod files;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod privileges;
pub mod snapshot;
pub mod splitmix;
pub mod steering;
pub mod timestamp;
pub mod transfer;
pub mod tsig;
pub mod zone;
