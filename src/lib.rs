//! Meridian: an authoritative GeoDNS load balancer.
//!
//! # Layout
//!
//! - `config`: the TOML as written (`file`) and its validated meaning (`Config`).
//! - `zone`: RFC 1035 master files parsed (`parse`), read from disk (`load`) and built into
//!   lookup trees (`Zone`, `Zones`), keyed by lowercase wire names (`name`).
//! - `snapshot`: the immutable `Snapshot` each query reads, and the store that publishes it.
//! - `dns`: the pure answer path (`response`, `fit`) and the edges that serve it (`handler`,
//!   `server`).
//! - `app`: wiring, start-up and shutdown.
//!
//! Dependencies point inward: `zone`, `config` and `dns::response` know nothing of sockets.

pub mod app;
pub mod config;
pub mod dns;
pub mod explain;
pub mod geo;
pub mod health;
pub mod snapshot;
pub mod steering;
pub mod zone;
