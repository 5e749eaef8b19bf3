//! One integration-test binary: a real server on 127.0.0.1, real UDP and TCP.

// Tests are an edge: their deadlines are measured on the real clock.
#![allow(clippy::disallowed_methods)]

/// Counts allocations per thread (`support::alloc`), for the allocation test.
#[global_allocator]
static ALLOCATOR: support::alloc::Counting = support::alloc::Counting;

mod api;
mod api_security;
mod api_tls;
mod asn;
mod changes;
mod cli;
mod cluster;
mod contrib;
mod ctl;
mod differential;
mod dns;
mod dnssec;
mod dnstap;
mod explain;
mod failover;
mod fuzz;
mod health;
mod health_checks;
mod install;
mod layout;
mod load;
mod malformed;
mod metrics;
mod names;
mod operator;
mod paths;
mod pool_health;
mod ramp;
mod registration;
mod reload;
mod restart;
mod rrl;
mod steering;
mod support;
mod tcp;
mod tcp_limits;
mod transfer;
mod tsig;
mod udp_edge;
mod zone_memory;
