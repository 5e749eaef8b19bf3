//! dnstap query logging: the queries Meridian receives and the responses it sends, as dnstap
//! messages (`AUTH_QUERY`, `AUTH_RESPONSE`) in Frame Streams to a collector on a Unix socket
//! or TCP (`fstrm_capture`, `dnstap`, vector, dnscollector, ...).
//!
//! ```text
//!   answering threads ──(try_send)──▶ filled ──▶ writer thread ──▶ collector
//!          ▲                                          │
//!          └──────────(try_recv)──── free ◀───────────┘
//! ```
//!
//! The answering threads ([`Tap::record`]) copy the query and the response into a record
//! taken from a pool of preallocated ones (`free`) and queue it (`filled`); neither step
//! blocks, locks or allocates. With no free record (the collector slow or gone) the message
//! is dropped and counted: an answer never waits on logging. One writer thread (`writer`)
//! encodes each record with prost, writes it, returns it to the pool, and reconnects with
//! backoff when the collector goes away, dropping (and counting) what arrives meanwhile.
//!
//! The writer connects only as the serving user: it starts after root is dropped, and root
//! never connects to the socket (STYLE.md section 11: a path in a directory another user
//! controls could be a planted link to a socket only root may write to).

pub mod frames;
pub mod proto;
mod writer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use hickory_server::net::xfer::Protocol;

use crate::config::dnstap::DnstapConfig;
use crate::metrics::{DnstapDropped, Registry};
use crate::splitmix::splitmix64;

pub use writer::Writer;

/// The octets a record holds for the query and for the response before it must grow (and is
/// shrunk back once written): a query with ECS, a response within the default UDP payload.
const QUERY_ROOM: usize = 512;
const RESPONSE_ROOM: usize = 1536;

/// Which messages of an exchange are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    pub queries: bool,
    pub responses: bool,
}

/// One exchange on its way to the writer: the query as received, the response as sent
/// (empty when none was), who asked, over what, and when.
pub struct Record {
    pub client: SocketAddr,
    pub protocol: Protocol,
    /// Since the Unix epoch.
    pub query_time: Duration,
    pub response_time: Duration,
    pub query: Vec<u8>,
    pub response: Vec<u8>,
}

impl Record {
    fn new() -> Box<Self> {
        Box::new(Self {
            client: SocketAddr::from(([0, 0, 0, 0], 0)),
            protocol: Protocol::Udp,
            query_time: Duration::ZERO,
            response_time: Duration::ZERO,
            query: Vec::with_capacity(QUERY_ROOM),
            response: Vec::with_capacity(RESPONSE_ROOM),
        })
    }

    /// Gives back what a large message made it take, so that the pool stays its size.
    fn shrink(&mut self) {
        self.query.clear();
        self.response.clear();
        self.query.shrink_to(QUERY_ROOM);
        self.response.shrink_to(RESPONSE_ROOM);
    }
}

/// The answering threads' end: shared by every UDP worker and TCP connection.
pub struct Tap {
    logged: Logged,
    sample: u64,
    /// Decorrelates sampling from the steering draws made with the same salt.
    seed: u64,
    free: Receiver<Box<Record>>,
    filled: Sender<Box<Record>>,
    metrics: Arc<Registry>,
}

/// A sampled exchange: when its query was received.
#[derive(Debug, Clone, Copy)]
pub struct Sampled {
    received: Duration,
}

impl Tap {
    /// The query path's end and the writer, joined by two queues of `config.queue_size`
    /// records each, all preallocated here.
    pub fn new(config: &DnstapConfig, identity: &str, metrics: Arc<Registry>) -> (Arc<Tap>, Writer) {
        let (free_in, free) = crossbeam_channel::bounded(config.queue_size);
        let (filled, filled_out) = crossbeam_channel::bounded(config.queue_size);
        for _ in 0..config.queue_size {
            let _ = free_in.try_send(Record::new());
        }
        metrics.enable_dnstap();
        let logged = Logged { queries: config.log_queries, responses: config.log_responses };
        let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 1u64);
        let tap = Tap { logged, sample: u64::from(config.sample), seed, free, filled, metrics: metrics.clone() };
        let writer = Writer::start(config, identity, logged, filled_out, free_in, metrics);
        (Arc::new(tap), writer)
    }

    /// Whether this exchange is logged (`turn`: a number that differs from query to query,
    /// the salt's turn), and if so when its query was received. Decided before anything is
    /// copied; one in `sample`, chosen by a hash of `turn`, so that the logged queries are
    /// not those of one round-robin position or random draw.
    pub fn sample(&self, turn: u64) -> Option<Sampled> {
        is_sampled(turn, self.seed, self.sample).then(|| Sampled { received: unix_now() })
    }

    /// Hands the exchange to the writer: `query` as received, `response` as sent (`None`:
    /// nothing was sent). Never blocks: with no free record the exchange is dropped and
    /// counted. Messages that are themselves responses (QR=1), or too short to hold a DNS
    /// header, are not logged: they were not queries.
    pub fn record(
        &self,
        sampled: Sampled,
        query: &[u8],
        response: Option<&[u8]>,
        client: SocketAddr,
        protocol: Protocol,
    ) {
        if query.len() < 12 || query[2] & 0x80 != 0 {
            return;
        }
        let response = response.filter(|_| self.logged.responses);
        let messages = u64::from(self.logged.queries) + u64::from(response.is_some());
        if messages == 0 {
            return; // only responses are logged, and none was sent
        }
        let Ok(mut record) = self.free.try_recv() else {
            self.metrics.record_dnstap_dropped(DnstapDropped::QueueFull, messages);
            return;
        };
        record.client = client;
        record.protocol = protocol;
        record.query_time = sampled.received;
        record.query.clear();
        if self.logged.queries {
            record.query.extend_from_slice(query);
        }
        record.response.clear();
        if let Some(response) = response {
            record.response_time = unix_now();
            record.response.extend_from_slice(response);
        }
        // The two queues hold every record between them, so `filled` has room for this one.
        let _ = self.filled.try_send(record);
    }
}

/// One turn in `sample` on average, by a hash of the turn and `seed`.
fn is_sampled(turn: u64, seed: u64, sample: u64) -> bool {
    sample <= 1 || splitmix64(turn ^ seed).is_multiple_of(sample)
}

/// The wall clock, for dnstap's times: read only for sampled exchanges, at the edge that
/// logs them.
#[allow(clippy::disallowed_methods)]
fn unix_now() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// The identity dnstap messages carry when `[dnstap] identity` is not set: `server.identity`,
/// else the host name.
pub fn default_identity(server_identity: Option<&str>) -> String {
    if let Some(identity) = server_identity {
        return identity.to_owned();
    }
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` octets into the buffer.
    if unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } != 0 {
        return "meridian".to_owned();
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    String::from_utf8_lossy(&name[..len]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_in_sample_is_logged_whatever_the_turns_residue() {
        assert!((0..1000).all(|turn| is_sampled(turn, 7, 1)), "sample = 1: every query");
        // Turns a round-robin of 4 would give position 0: the sample must not be only those,
        // nor miss them.
        for sample in [2u64, 4, 10] {
            let logged = (0..40_000u64).filter(|&turn| is_sampled(turn, 0x5eed, sample)).count() as f64;
            let expected = 40_000.0 / sample as f64;
            assert!((logged - expected).abs() < expected * 0.1, "sample {sample}: {logged} of 40000");
            let at_zero = (0..40_000u64).step_by(4).filter(|&turn| is_sampled(turn, 0x5eed, sample)).count() as f64;
            assert!((at_zero - expected / 4.0).abs() < expected / 4.0 * 0.15, "sample {sample}: {at_zero} of 10000");
        }
    }
}
