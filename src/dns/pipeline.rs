//! The answer pipeline: every query, over UDP or TCP, from the fuzz targets or from
//! `meridian explain`, goes through the same stages, each a function of its own:
//!
//! ```text
//!   message ─▶ screen ─▶ decode ─▶ answer ─▶ rate limit ─▶ sign ─▶ observe ─▶ encode ─▶ response
//!   (octets)   (UDP:     Decoded   Answer    Limited       (DO=1)  (counters)  Encoded   (octets)
//!              source)
//! ```
//!
//! - [`screen`]: drops UDP datagrams from sources no answer can rightly go to.
//! - [`authenticate`]: TSIG (RFC 8945): a request that carries a TSIG record is verified
//!   before it is answered (or gets the NOTAUTH or FORMERR answer section 5.2 gives), and
//!   its response is signed after it is encoded ([`sign`]). A request without one is only
//!   looked at: no clock is read, nothing allocated.
//! - [`decode`]: our parser for the common query shape, hickory's for the rest.
//! - answer: [`response::answer_query`], pure: the snapshot and the query in, the answer out.
//! - [`rate_limit`]: response rate limiting (UDP only) sends, slips or drops the answer.
//! - sign: [`sign::sign`], DNSSEC records for DO=1 queries to signed zones. After rate
//!   limiting, so that it judges the answer as the zone gives it (an NXDOMAIN before compact
//!   denial makes it NOERROR) and an answer dropped or slipped costs no signature.
//! - [`observe`]: counts what goes out (a few atomic adds through handles resolved with the
//!   snapshot); the place for dnstap.
//! - [`encode`]: our encoder, which fits the answer to the client's size as it writes it,
//!   or hickory's for the answers ours does not cover (`fallback.rs`), measuring likewise.
//! - dnstap ([`Answerer::tapped`]): around the others, when `[dnstap]` is on, the query as
//!   received and the response as sent go to the dnstap writer (`crate::dnstap`), sampled
//!   before anything is copied, never waiting.
//!
//! Each stage's output is a small value the next takes, and [`Answerer`] chains them: a new
//! stage (TSIG verification before answer, DNSSEC signing after it) is one more function and
//! one more line there. hickory's `Catalog` is not used: it takes an async lock per lookup,
//! and its EDNS and truncation handling differ from what we need.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Header, MessageType, Metadata, ResponseCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use tracing::debug;

use super::fallback::{self, Fallback};
use super::request::Asked;
use super::response::{self, Answer, Salt};
use super::rrl::{RateTable, Verdict};
use super::sign;
use super::wire;
use crate::config::{RrlConfig, ServerConfig};
use crate::dnssec::cache::SignatureCache;
use crate::dnstap::Tap;
use crate::metrics::{Dropped, Observers, Registry, Transport, TsigResult};
use crate::snapshot::Snapshot;
use crate::splitmix::splitmix64;
use crate::tsig::{self, Found, Rejection, Signer, TsigError};

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;
/// Slots of the signature cache: the most RRSIGs kept (each a few hundred octets), far
/// more than the distinct RRsets of a zone's steady answers (CoreDNS keeps 10,000).
const SIGNATURE_SLOTS: usize = 16_384;

/// What answers requests, over UDP and TCP alike: the counters, the random seed and the rate
/// limiting buckets the stages share.
pub struct Answerer {
    observers: Observers,
    /// Seeds the random draws, so that two servers do not draw alike.
    seed: u64,
    /// Response rate limiting's buckets, used when the configuration turns it on.
    rate_limits: RateTable,
    /// Seconds since the Unix epoch: read only for a request that carries a TSIG record.
    clock: fn() -> u64,
    /// DNSSEC signatures, shared by every worker (`dns::sign`).
    signatures: SignatureCache,
    /// dnstap's query-path end, when `[dnstap]` is on.
    tap: Option<Arc<Tap>>,
}

/// Which parser reads a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// Ours for the common shape ([`Asked::parse`]), hickory's for the rest.
    Ours,
    /// hickory's for every message.
    Hickory,
}

/// Which encoder writes an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoder {
    /// Ours ([`wire::encode`]), hickory's for the answers ours does not cover.
    Ours,
    /// hickory's for every answer.
    Hickory,
}

/// The parser and encoder a query goes through: always [`Route::SERVING`] when serving; the
/// others exist for the tests and fuzz targets that hold the paths to each other ([`Path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    parser: Parser,
    encoder: Encoder,
}

impl Route {
    const SERVING: Route = Route { parser: Parser::Ours, encoder: Encoder::Ours };
}

/// How a UDP datagram is read and written, for tests and fuzzing: the answers must not
/// depend on it (byte for byte between `Fast` and `General`; record for record with
/// `Hickory`, whose encoder compresses names less).
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// As served: our parser and encoder, each falling back to hickory's.
    Fast,
    /// hickory's parser for every query, then our encoder as served.
    General,
    /// hickory's parser and encoder for everything.
    Hickory,
}

#[cfg(any(test, feature = "fuzzing"))]
impl Path {
    fn route(self) -> Route {
        match self {
            Path::Fast => Route::SERVING,
            Path::General => Route { parser: Parser::Hickory, encoder: Encoder::Ours },
            Path::Hickory => Route { parser: Parser::Hickory, encoder: Encoder::Hickory },
        }
    }
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
        Self {
            signatures: SignatureCache::with_counts(
                SIGNATURE_SLOTS,
                splitmix64(seed ^ 1),
                observers.metrics.signature_counts(),
            ),
            observers,
            seed,
            rate_limits: RateTable::new(splitmix64(seed)),
            clock: system_clock,
            tap: None,
        }
    }

    /// As [`Answerer::new`], with the clock TSIG reads (tests pass a fixed one).
    pub fn with_clock(observers: Observers, clock: fn() -> u64) -> Self {
        Self { clock, ..Self::new(observers) }
    }

    /// Logs what it answers to dnstap through `tap`.
    pub fn with_tap(mut self, tap: Option<Arc<Tap>>) -> Self {
        self.tap = tap;
        self
    }

    /// Salts for worker `worker`: its turns start apart from the other workers'.
    pub fn salts(&self, worker: u64) -> Salts {
        Salts { turn: splitmix64(worker ^ self.seed), seed: self.seed }
    }

    /// The clock the TSIG stage reads (seconds since the Unix epoch), for the edges that
    /// sign later messages of a response themselves (a zone transfer over TCP).
    pub fn clock(&self) -> fn() -> u64 {
        self.clock
    }

    /// The signature cache the sign stage keeps (for its metrics).
    pub fn signatures(&self) -> &SignatureCache {
        &self.signatures
    }

    /// The counters the stages feed.
    pub fn observers(&self) -> &Observers {
        &self.observers
    }

    /// Before a batch of datagrams is answered: starts fetching the geo table's lines for
    /// the client subnet of each, so that their lookups do not each wait on memory in turn
    /// (see [`GeoDb::prefetch`](crate::geo::mmdb::GeoDb::prefetch)). Changes no answer.
    pub fn prefetch<'m>(&self, snapshot: &Snapshot, datagrams: impl Iterator<Item = &'m [u8]>) {
        const MOST: usize = 64;
        let Some(geo) = snapshot.steering.geo.as_deref() else { return };
        let mut subnets = [IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED); MOST];
        let mut count = 0;
        for datagram in datagrams.take(MOST) {
            if let Some(address) = super::request::client_subnet_hint(datagram) {
                subnets[count] = address;
                count += 1;
            }
        }
        geo.prefetch(&subnets[..count]);
    }

    /// Answers one UDP datagram from `source` into `out`; `false` means send nothing (a
    /// source screened out, a response, bytes too short to hold a header, a dropped answer).
    pub fn answer_udp(
        &self,
        snapshot: &Snapshot,
        datagram: &[u8],
        source: SocketAddr,
        salt: Salt,
        out: &mut Vec<u8>,
    ) -> bool {
        if let Err(reason) = screen(source) {
            out.clear(); // as `run` leaves it when it sends nothing
            self.observers.metrics.record_dropped(reason);
            return false;
        }
        self.tapped(snapshot, datagram, source, Protocol::Udp, salt, Route::SERVING, out)
    }

    /// As [`Answerer::answer_udp`] (sources are not screened), the way `path` says: the
    /// tests and fuzz targets hold the paths to each other.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn answer_udp_by(
        &self,
        snapshot: &Snapshot,
        datagram: &[u8],
        source: SocketAddr,
        salt: Salt,
        path: Path,
        out: &mut Vec<u8>,
    ) -> bool {
        self.tapped(snapshot, datagram, source, Protocol::Udp, salt, path.route(), out)
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
        self.tapped(snapshot, message, source, Protocol::Tcp, salt, Route::SERVING, out)
    }

    /// The dnstap stage, around the others: when this exchange is sampled, the query as
    /// received and the response as written go to the dnstap writer (the wire octets, ECS and
    /// all). Copies into a pooled record and never waits: nothing allocated, no lock taken.
    #[allow(clippy::too_many_arguments)] // as `run`
    fn tapped(
        &self,
        snapshot: &Snapshot,
        message: &[u8],
        source: SocketAddr,
        protocol: Protocol,
        salt: Salt,
        route: Route,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((tap, sampled)) = self.tap.as_ref().and_then(|tap| Some((tap, tap.sample(salt.turn)?))) else {
            return self.run(snapshot, message, source, protocol, salt, route, out);
        };
        let sent = self.run(snapshot, message, source, protocol, salt, route, out);
        tap.record(sampled, message, sent.then_some(out.as_slice()), source, protocol);
        sent
    }

    /// The stages, in order, for one message.
    #[allow(clippy::too_many_arguments)] // the public wrappers above fix two of them
    fn run(
        &self,
        snapshot: &Snapshot,
        message: &[u8],
        source: SocketAddr,
        protocol: Protocol,
        salt: Salt,
        route: Route,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear(); // it may hold an earlier response, which a FORMERR header would not replace
        // A signed request is answered from its message without the TSIG record.
        let mut unsigned = Vec::new();
        let (message, mut signer) =
            match authenticate(snapshot, message, self.clock, &self.observers.metrics, &mut unsigned, out) {
                Authenticated::Unsigned => (message, None),
                Authenticated::Verified(signer, now) => (&unsigned[..], Some((signer, now))),
                Authenticated::Answered(sent) => return sent,
            };
        let mut held = None;
        // Matched by reference: the query (a few hundred octets) is read where it was decoded.
        let decoded = decode(message, source, protocol, route.parser, &mut held);
        let asked = match &decoded {
            Decoded::Query(asked) => asked,
            Decoded::Response => return false,
            Decoded::Malformed => return format_error(message, out) && sign(signer.as_mut(), None, out),
        };
        let mut answer = response::answer_query(snapshot, asked, salt);
        let limited = rate_limit(&self.rate_limits, &snapshot.config.rrl, asked, &mut answer);
        if limited == Limited::Sent {
            sign::sign(snapshot, asked, &mut answer, &self.signatures);
        }
        observe(&self.observers, snapshot, asked, &answer, limited);
        if limited == Limited::Dropped {
            return false;
        }
        let room = signer.as_ref().map_or(0, |(signer, _)| signer.record_len());
        let limit = size_limit(asked, &snapshot.config.server).saturating_sub(room);
        let sent = match encode(&mut answer, asked, limit, route.encoder, out) {
            Encoded::Ours | Encoded::Hickory | Encoded::ServFail => true,
            Encoded::Unreadable => format_error(message, out),
        };
        let question = answer.echo_question.then_some(asked.question_bytes.len());
        sent && sign(signer.as_mut(), question, out)
    }
}

/// Seconds since the Unix epoch, for TSIG's time check and signatures: the answer path's one
/// clock, read only for a request that carries a TSIG record.
#[allow(clippy::disallowed_methods)] // the edge's clock, handed to the pure TSIG code
fn system_clock() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What the TSIG stage made of a request.
#[allow(clippy::large_enum_variant)] // as `Decoded`: unboxed, so an unsigned request allocates nothing
pub enum Authenticated<'k> {
    /// No TSIG record: answered as it is.
    Unsigned,
    /// Verified at the time given (seconds since the Unix epoch): answered from the message
    /// without its TSIG record, and the response signed with this signer.
    Verified(Signer<'k>, u64),
    /// Not answered further: `out` holds the NOTAUTH or FORMERR answer when `true`, and
    /// nothing is sent when `false` (a response, which is never answered).
    Answered(bool),
}

/// The TSIG stage (RFC 8945 section 5.2): finds the request's TSIG record and verifies it
/// with the snapshot's keys, reading `clock` only when there is one. A verified request's
/// message without the record (ARCOUNT one less) is left in `unsigned`; a request that
/// fails gets its answer in `out`: FORMERR for a TSIG record out of place or unreadable or a
/// MAC of a size no signer may send, else NOTAUTH with the TSIG error (see
/// [`tsig::write_error`]). Each signed request is counted in `metrics` by its result.
pub fn authenticate<'k>(
    snapshot: &'k Snapshot,
    message: &[u8],
    clock: fn() -> u64,
    metrics: &Registry,
    unsigned: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Authenticated<'k> {
    let tsig = match tsig::find(message) {
        Found::Unsigned => return Authenticated::Unsigned,
        Found::Malformed if message.get(2).is_some_and(|flags| flags & 0x80 == 0) => {
            metrics.record_tsig(TsigResult::FormErr);
            return Authenticated::Answered(format_error(message, out));
        }
        Found::Malformed => return Authenticated::Answered(false), // a response: never answered
        Found::Signed(tsig) => tsig,
    };
    if message[2] & 0x80 != 0 {
        return Authenticated::Answered(false); // a response: never answered (RFC 1035 4.1.1)
    }
    let now = clock();
    let verdict = tsig::verify(&snapshot.keys, message, &tsig, now);
    metrics.record_tsig(match &verdict {
        Ok(_) => TsigResult::Verified,
        Err(Rejection::FormErr) => TsigResult::FormErr,
        Err(Rejection::Unsigned(error) | Rejection::Signed(error, _)) => match error {
            TsigError::BadKey => TsigResult::BadKey,
            TsigError::BadSig => TsigResult::BadSig,
            TsigError::BadTime => TsigResult::BadTime,
            TsigError::BadTrunc => TsigResult::BadTrunc,
        },
    });
    match verdict {
        Ok(verified) => {
            unsigned.extend_from_slice(&message[..tsig.start]);
            let additionals = u16::from_be_bytes([unsigned[10], unsigned[11]]) - 1; // it counted the TSIG
            unsigned[10..12].copy_from_slice(&additionals.to_be_bytes());
            Authenticated::Verified(Signer::new(&verified), now)
        }
        Err(Rejection::FormErr) => Authenticated::Answered(format_error(message, out)),
        Err(Rejection::Unsigned(error)) => {
            tsig::write_error(message, &tsig, error, None, now, out);
            Authenticated::Answered(true)
        }
        Err(Rejection::Signed(error, verified)) => {
            tsig::write_error(message, &tsig, error, Some(&verified), now, out);
            Authenticated::Answered(true)
        }
    }
}

/// Signs the response in `out` to a verified request (RFC 8945 section 5.3); `true`, for the
/// caller's `&&`. A truncated response (TC) goes as section 5.3 says: "If the TSIG record
/// cannot be added without causing the message to be truncated, the server MUST alter the
/// response so that a TSIG can be included. This response contains only the question and a
/// TSIG record, has the TC bit set, and has an RCODE of 0 (NOERROR)." `question` is the
/// length of the question echoed, if it was.
pub fn sign(signer: Option<&mut (Signer<'_>, u64)>, question: Option<usize>, out: &mut Vec<u8>) -> bool {
    let Some((signer, now)) = signer else { return true };
    if out.len() >= HEADER_LEN && out[2] & 0x02 != 0 {
        let question = question.unwrap_or(0);
        out.truncate(HEADER_LEN + question);
        out[3] &= 0xf0; // NOERROR
        out[4..12].copy_from_slice(&[0, u8::from(question > 0), 0, 0, 0, 0, 0, 0]);
    }
    signer.sign(out, *now);
    true
}

/// UDP sources no answer can rightly go to, as hickory's server refuses them
/// (`sanitize_src_address`): port 0, which no socket sends from (RFC 768 gives it to a
/// sender that expects no reply); the unspecified address, which only a host that does not
/// yet know its own sends from; and broadcast and multicast groups (RFC 1122 section
/// 3.2.1.3: a source address "MUST NOT" be broadcast or multicast), which an answer would be
/// sent to in full, to many: a reflection waiting to happen.
///
/// # Errors
/// The source is one of those, and why.
pub fn screen(source: SocketAddr) -> Result<(), Dropped> {
    if source.port() == 0 {
        return Err(Dropped::SourcePortZero);
    }
    // A dual-stack socket shows IPv4 sources as ::ffff:a.b.c.d: judge them as IPv4.
    match source.ip().to_canonical() {
        ip if ip.is_unspecified() => Err(Dropped::Unspecified),
        IpAddr::V4(v4) if v4.is_broadcast() => Err(Dropped::Broadcast),
        ip if ip.is_multicast() => Err(Dropped::Multicast),
        _ => Ok(()),
    }
}

/// What the decode stage made of a message.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxed, the query would cost an allocation per message
pub enum Decoded<'m> {
    /// A query to answer.
    Query(Asked<'m>),
    /// A response (QR=1): never answered (RFC 1035 section 4.1.1: answering responses
    /// invites reflection loops).
    Response,
    /// Not a message we can read: FORMERR when it has a header and is a query
    /// ([`format_error`]).
    Malformed,
}

/// Reads a message with `parser`. What our parser does not take goes to hickory's, whose
/// request is kept in `held` for the query to borrow.
pub fn decode<'m>(
    message: &'m [u8],
    source: SocketAddr,
    protocol: Protocol,
    parser: Parser,
    held: &'m mut Option<Request>,
) -> Decoded<'m> {
    let ours = match parser {
        Parser::Ours => Asked::parse(message, source.ip(), protocol),
        Parser::Hickory => None,
    };
    let asked = match ours {
        Some(asked) => asked,
        None => match Request::from_bytes(message.to_vec(), source, protocol) {
            Ok(request) => Asked::from_request(held.insert(request)),
            Err(error) => {
                debug!(%error, %source, "malformed query");
                return Decoded::Malformed;
            }
        },
    };
    if response::is_response(&asked) {
        return Decoded::Response;
    }
    Decoded::Query(asked)
}

/// What response rate limiting did with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Not limited: sent as it is.
    Sent,
    /// Over the rate: made empty with TC=1 ([`Answer::slip`]) and sent.
    Slipped,
    /// Over the rate: not sent.
    Dropped,
}

/// Response rate limiting (`rrl.rs`), over UDP when the configuration turns it on. Over TCP
/// the source address is proven by the handshake, so there is nothing to reflect (as Knot's
/// mod-rrl).
pub fn rate_limit(table: &RateTable, rrl: &RrlConfig, asked: &Asked<'_>, answer: &mut Answer<'_>) -> Limited {
    if !rrl.enabled || asked.protocol != Protocol::Udp {
        return Limited::Sent;
    }
    match table.verdict(rrl, asked.source, answer) {
        Verdict::Send => Limited::Sent,
        Verdict::Slip => {
            answer.slip();
            Limited::Slipped
        }
        Verdict::Drop => Limited::Dropped,
    }
}

/// Counts the answer once rate limiting has ruled: what is dropped was not answered, and
/// what is slipped carries no pool's records. A few atomic adds through handles resolved with
/// the snapshot; the client was located by the answer stage, never here.
pub fn observe(observers: &Observers, snapshot: &Snapshot, asked: &Asked<'_>, answer: &Answer<'_>, limited: Limited) {
    match limited {
        Limited::Sent => {}
        Limited::Slipped => observers.metrics.record_rate_limited(false),
        Limited::Dropped => return observers.metrics.record_rate_limited(true),
    }
    let transport = if asked.protocol == Protocol::Udp { Transport::Udp } else { Transport::Tcp };
    let qtype = asked.question.as_ref().map_or(0, |q| u16::from(q.qtype));
    let rcode = u16::from(answer.metadata.response_code);
    observers.metrics.record_query(transport, qtype, rcode);
    let Some(steered) = &answer.steered else { return };
    let (pool, decision) = (steered.pool, &steered.decision);
    if steered.from_ecs && decision.scope > 0 {
        observers.metrics.record_ecs_tailored();
    }
    let Some(observer) = snapshot.observers.pool(pool.index) else { return };
    if decision.no_endpoint_of_family {
        observer.metrics.record_no_family();
    } else {
        observer.metrics.record_answer(decision.region, decision.endpoints.iter().map(|e| e.health));
    }
    let geo = snapshot.steering.geo.as_deref();
    let place = geo.zip(steered.located.and_then(|l| l.location)).map(|(g, id)| g.location(id));
    observer.metrics.record_country(place.and_then(|p| p.country));
    observer.analytics.record(
        observers.tick(),
        decision.region.and_then(|r| observer.region_slots.get(r).copied()),
        decision.endpoints.iter().filter_map(|e| observer.endpoint_slots.get(e.health).copied()),
        place.and_then(|p| p.country),
        place.and_then(|p| p.continent),
        rcode,
    );
}

/// The largest response this request may get: over UDP min(the client's payload, counted
/// as at least 512, and ours), 512 without EDNS (RFC 6891 sections 6.2.3 and 6.2.5); over
/// TCP the two-octet length is the only limit (RFC 7766 section 8).
pub fn size_limit(asked: &Asked<'_>, server: &ServerConfig) -> usize {
    if asked.protocol != Protocol::Udp {
        return usize::from(u16::MAX);
    }
    match &asked.edns {
        Some(edns) => usize::from(edns.max_payload.max(512).min(server.max_udp_payload)),
        None => 512,
    }
}

/// Which encoder wrote the response, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// Ours wrote it.
    Ours,
    /// hickory's wrote it (records made for this response, data not prepared at load).
    Hickory,
    /// hickory's could not: `out` holds a SERVFAIL header.
    ServFail,
    /// The question cannot be read back on its own: nothing written; answer FORMERR.
    Unreadable,
}

/// Fits `answer` into `limit` octets and writes it into `out`, with the encoder that measured
/// it: ours when it covers the answer, else hickory's. `answer` is left as it was sent
/// (records left out, TC), for `explain` to show.
pub fn encode(
    answer: &mut Answer<'_>,
    asked: &Asked<'_>,
    limit: usize,
    encoder: Encoder,
    out: &mut Vec<u8>,
) -> Encoded {
    if encoder == Encoder::Ours && wire::encode(answer, asked.question_bytes, limit, out) {
        return Encoded::Ours;
    }
    match fallback::encode(answer, asked, limit, out) {
        Fallback::Written => Encoded::Hickory,
        Fallback::Failed => Encoded::ServFail,
        Fallback::Unreadable => Encoded::Unreadable,
    }
}

/// A message we cannot read: FORMERR with its ID and opcode when it has a header and is a
/// query; nothing when it is shorter than a header or is itself a response (RFC 1035
/// section 4.1.1: answering responses invites reflection loops).
pub fn format_error(message: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if message.len() < HEADER_LEN {
        return false;
    }
    let Ok(header) = Header::read(&mut BinDecoder::new(message)) else { return false };
    if header.metadata.message_type == MessageType::Response {
        return false;
    }
    let mut metadata = Metadata::response_from_request(&header.metadata);
    metadata.response_code = ResponseCode::FormErr;
    fallback::emit_header(&metadata, out)
}

#[cfg(test)]
mod tests;
