//! Answering requests: the [`Answerer`] the UDP workers and the TCP connections share (the
//! answer function, the counters, the random seed), from message bytes to response bytes.
//!
//! hickory's `Catalog` is not used: it takes an async lock per lookup, and its EDNS and
//! truncation handling differ from what we need (see `response.rs` and `fit.rs`).

use std::net::SocketAddr;

use hickory_proto::op::Edns;
use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tracing::debug;

use super::request::Asked;
use super::response::{self, Answer, Salt};
use super::rrl::{RateTable, Verdict};
use super::wire;
use crate::metrics::{Observers, Transport};
use crate::snapshot::Snapshot;
use crate::splitmix::splitmix64;

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;

/// What answers requests, over UDP and TCP alike.
pub struct Answerer {
    observers: Observers,
    /// Seeds the random draws, so that two servers do not draw alike.
    seed: u64,
    /// Response rate limiting's buckets, used when the configuration turns it on.
    rate_limits: RateTable,
}

/// How a UDP datagram is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Our parser for the common query shape and our encoder, each falling back to hickory
    /// for what they do not cover.
    Fast,
    /// hickory's parser for every query, then our encoder as on the fast path.
    General,
    /// hickory's parser and encoder for everything, as before our own UDP path (tests
    /// compare the messages, which differ only in how names are compressed).
    Hickory,
}

/// Round-robin turns and random draws for one worker: no atomic shared between workers.
pub struct Salts {
    turn: u64,
    seed: u64,
}

impl Salts {
    pub fn take(&mut self) -> Salt {
        self.turn = self.turn.wrapping_add(1);
        Salt { turn: self.turn, random: splitmix64(self.turn ^ self.seed) }
    }
}

impl Answerer {
    pub fn new(observers: Observers) -> Self {
        // std seeds RandomState from the OS: enough to spread load; nothing here needs
        // cryptographic randomness.
        let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u64);
        Self { observers, seed, rate_limits: RateTable::new(splitmix64(seed)) }
    }

    /// Salts for worker `worker`: its turns start apart from the other workers'.
    pub fn salts(&self, worker: u64) -> Salts {
        Salts { turn: splitmix64(worker ^ self.seed), seed: self.seed }
    }

    /// Before a batch of datagrams is answered: starts fetching the geo table's lines for
    /// the client subnet of each, so that their lookups do not each wait on memory in turn
    /// (see [`GeoDb::prefetch`](crate::geo::mmdb::GeoDb::prefetch)). Changes no answer.
    pub fn prefetch<'m>(&self, snapshot: &Snapshot, datagrams: impl Iterator<Item = &'m [u8]>) {
        const MOST: usize = 64;
        let Some(geo) = snapshot.steering.geo.as_deref() else { return };
        let mut subnets = [std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED); MOST];
        let mut count = 0;
        for datagram in datagrams.take(MOST) {
            if let Some(address) = super::request::client_subnet_hint(datagram) {
                subnets[count] = address;
                count += 1;
            }
        }
        geo.prefetch(&subnets[..count]);
    }

    /// Answers one UDP datagram into `out`; `false` means send nothing (a response, or bytes
    /// too short to hold a header).
    pub fn answer_udp(
        &self,
        snapshot: &Snapshot,
        datagram: &[u8],
        source: SocketAddr,
        salt: Salt,
        out: &mut Vec<u8>,
    ) -> bool {
        self.answer_udp_by(snapshot, datagram, source, salt, Path::Fast, out)
    }

    /// As [`Answerer::answer_udp`], the way `path` says: a test holds the two to each other.
    pub fn answer_udp_by(
        &self,
        snapshot: &Snapshot,
        datagram: &[u8],
        source: SocketAddr,
        salt: Salt,
        path: Path,
        out: &mut Vec<u8>,
    ) -> bool {
        self.answer_message(snapshot, datagram, source, Protocol::Udp, salt, path, out)
    }

    /// Answers one message received over TCP (without its length prefix) into `out`, as UDP
    /// is answered but never rate limited and never truncated; `false` means send nothing.
    pub fn answer_tcp(
        &self,
        snapshot: &Snapshot,
        message: &[u8],
        source: SocketAddr,
        salt: Salt,
        out: &mut Vec<u8>,
    ) -> bool {
        self.answer_message(snapshot, message, source, Protocol::Tcp, salt, Path::Fast, out)
    }

    #[allow(clippy::too_many_arguments)] // the public wrappers above fix two of them
    fn answer_message(
        &self,
        snapshot: &Snapshot,
        message: &[u8],
        source: SocketAddr,
        protocol: Protocol,
        salt: Salt,
        path: Path,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear(); // it may hold an earlier response, which a FORMERR header would not replace
        // The common shape is read without hickory; the rest goes through its parser.
        // Borrowed where it was read rather than moved: it is a few hundred octets.
        let (general, general_asked);
        let fast = match path {
            Path::Fast => Asked::parse(message, source.ip(), protocol),
            Path::General | Path::Hickory => None,
        };
        let asked: &Asked<'_> = match &fast {
            Some(asked) => asked,
            None => match Request::from_bytes(message.to_vec(), source, protocol) {
                Ok(request) => {
                    general = request;
                    general_asked = Asked::from_request(&general);
                    &general_asked
                }
                Err(error) => {
                    debug!(%error, %source, "malformed query");
                    return format_error(message, out);
                }
            },
        };
        if response::is_response(asked) {
            return false;
        }
        let mut answer = response::answer_query(snapshot, asked, salt);
        let rrl = &snapshot.config.rrl;
        // Over TCP the source address is proven by the handshake, so there is nothing to
        // reflect: rate limiting is for UDP only (as Knot's mod-rrl).
        if rrl.enabled && protocol == Protocol::Udp {
            match self.rate_limits.verdict(rrl, source.ip(), &answer) {
                Verdict::Send => {}
                Verdict::Slip => {
                    self.observers.metrics.record_rate_limited(false);
                    answer = answer.slipped();
                }
                Verdict::Drop => {
                    self.observers.metrics.record_rate_limited(true);
                    return false;
                }
            }
        }
        // Counted once the verdict is in: what is dropped was not answered, and what is
        // slipped carries no pool's records.
        self.observe(snapshot, asked, &answer);
        // Over TCP the two-octet length is the only limit (RFC 7766 section 8).
        let limit = response::udp_limit(asked, &snapshot.config.server);
        if path != Path::Hickory && wire::encode(&answer, asked.question_bytes, limit, out) {
            return true;
        }
        // Records made for this response, or data not prepared: hickory encodes it.
        out.clear();
        let edns = answer.edns_with_ecs();
        let metadata = answer.metadata;
        let queries = match answer.echo_question {
            true => Queries::read(&mut BinDecoder::new(asked.question_bytes), asked.question_count),
            false => Ok(empty_question()),
        };
        let Ok(question) = queries.as_ref() else { return format_error(message, out) };
        let response = hickory_message(&answer, question, edns.as_ref());
        let mut encoder = BinEncoder::new(out);
        // As hickory's UDP responses are bounded; `fit` has already made the answer fit the
        // client's size, so this only guards against a bug there.
        encoder.set_max_size(match protocol {
            Protocol::Udp => edns.as_ref().map_or(512, |e| e.max_payload()),
            _ => u16::MAX,
        });
        if response.destructive_emit(&mut encoder).is_err() {
            out.clear();
            let mut failed = metadata;
            failed.response_code = ResponseCode::ServFail;
            return emit_header(&failed, out);
        }
        true
    }

    /// Counts the answer: a few atomic adds through handles resolved with the snapshot.
    fn observe(&self, snapshot: &Snapshot, asked: &Asked<'_>, answer: &Answer<'_>) {
        let transport = if asked.protocol == Protocol::Udp { Transport::Udp } else { Transport::Tcp };
        let qtype = asked.question.as_ref().map_or(0, |q| u16::from(q.qtype));
        let rcode = u16::from(answer.metadata.response_code);
        self.observers.metrics.record_query(transport, qtype, rcode);
        let Some(steered) = &answer.steered else { return };
        let (pool, decision) = (steered.pool, &steered.decision);
        if steered.from_ecs && decision.scope > 0 {
            self.observers.metrics.record_ecs_tailored();
        }
        let Some(observer) = snapshot.observers.pool(pool.index) else { return };
        observer.metrics.record_answer(decision.region, decision.endpoints.iter().map(|e| e.health));
        // Policies that do not locate the client (weighted, hash...) still get its country,
        // when there is a database.
        let geo = snapshot.steering.geo.as_deref();
        let located = decision.located.or_else(|| geo.and_then(|g| g.locate(steered.client)));
        let place = geo.zip(located.and_then(|l| l.location)).map(|(g, id)| g.location(id));
        observer.analytics.record(
            self.observers.tick(),
            decision.region.and_then(|r| observer.region_slots.get(r).copied()),
            decision.endpoints.iter().filter_map(|e| observer.endpoint_slots.get(e.health).copied()),
            place.and_then(|p| p.country),
            place.and_then(|p| p.continent),
            rcode,
        );
    }
}

/// A query we cannot read: FORMERR with its ID and opcode when it has a header and is a
/// query; nothing when it is shorter than a header or is itself a response (RFC 1035
/// section 4.1.1: answering responses invites reflection loops).
fn format_error(datagram: &[u8], out: &mut Vec<u8>) -> bool {
    if datagram.len() < HEADER_LEN {
        return false;
    }
    let Ok(header) = Header::read(&mut BinDecoder::new(datagram)) else { return false };
    if header.metadata.message_type == MessageType::Response {
        return false;
    }
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    emit_header(&metadata, out)
}

/// A response of a header alone.
fn emit_header(metadata: &Metadata, out: &mut Vec<u8>) -> bool {
    let header = Header { metadata: *metadata, counts: HeaderCounts::default() };
    hickory_proto::serialize::binary::BinEncodable::emit(&header, &mut BinEncoder::new(out)).is_ok()
}

/// The answer as hickory's message, for hickory's encoder (what ours does not cover).
fn hickory_message<'q, 'a>(
    answer: &'a Answer<'_>,
    question: &'q Queries,
    edns: Option<&'q Edns>,
) -> MessageResponse<
    'q,
    'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
> {
    MessageResponseBuilder::new(question, edns).build(
        answer.metadata,
        Answer::records(&answer.answers),
        Answer::records(&answer.authorities),
        std::iter::empty(),
        Answer::records(&answer.additionals),
    )
}

fn empty_question() -> Queries {
    Queries::read(&mut BinDecoder::new(&[]), 0).expect("reading zero questions cannot fail")
}
