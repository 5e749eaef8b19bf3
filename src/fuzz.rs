//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs` call these) and the properties
//! they check beyond "no panic". `tests/it/fuzz.rs` replays the committed corpus and every
//! crash ever found through the same functions on the stable toolchain, so a regression fails
//! `cargo test` (and CI) without a fuzzer.
//!
//! Each function takes arbitrary bytes and panics only when a property fails.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{DNSClass, Name};

use crate::config::{FileRegion, Overlay, Source};
use crate::dns::pipeline::{Answerer, Path};
use crate::dns::response::Salt;
use crate::dns::tcp;
use crate::geo::mmdb::GeoDb;
use crate::metrics::Observers;
use crate::snapshot::Snapshot;
use crate::zone::Zones;
use crate::zone::{Zone, parse};

/// The zone the answer target serves: every record type the server knows, a delegation with
/// glue and DS, CNAME chains, a wildcard, an empty non-terminal (the integration tests' zone).
const ZONE: &str = include_str!("../tests/fixtures/example.test.zone");
/// A geo pool, a weighted pool and a priority pool over three regions, beside that zone.
const CONFIG: &str = r#"
[server]
identity = "meridian-fuzz"
[[zone]]
file = "example.test.zone"
[geoip]
database = "geoip/dbip-country.mmdb"
[[region]]
name = "us"
continents = ["NA", "SA"]
location = { lat = 38.9, lon = -77.0 }
endpoints = [ { address = "192.0.2.1" }, { address = "2001:db8::1" } ]
[[region]]
name = "eu"
continents = ["EU", "AF"]
location = { lat = 50.1, lon = 8.7 }
endpoints = [ { address = "192.0.2.2", weight = 3 }, { address = "192.0.2.3" } ]
[[region]]
name = "ap"
countries = ["JP", "AU"]
location = { lat = 35.7, lon = 139.7 }
endpoints = [ { address = "192.0.2.4" } ]
[[pool]]
name = "geo.example.test."
policy = "geo"
regions = ["us", "eu", "ap"]
overrides = [ { subnet = "198.51.100.0/24", region = "ap" } ]
[[pool]]
name = "weighted.example.test."
policy = "weighted"
regions = ["eu", "us"]
[[pool]]
name = "nearest.example.test."
policy = "nearest"
regions = ["us", "eu", "ap"]
"#;

struct Harness {
    snapshot: Snapshot,
    answerer: Answerer,
    origin: Name,
}

/// One snapshot for the life of the fuzzing process: building it (the geo database above all)
/// takes a second, an answer microseconds.
fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let config =
            Source::from_toml(CONFIG, root, "fuzz").and_then(|s| s.validate()).expect("the fuzz configuration");
        let origin = Name::from_ascii("example.test.").expect("a name");
        let file = parse::parse(ZONE, Some(origin.clone())).expect("the test zone parses");
        let zone = Zone::build(origin.clone(), file.entries).expect("the test zone builds");
        let geo = GeoDb::open(&root.join("geoip/dbip-country.mmdb")).expect("the shipped geo database");
        let health = crate::health::view::HealthView::all_up(config.endpoints().count());
        let snapshot =
            Snapshot::build(1, Arc::new(config), Zones::new(vec![zone]), Some(Arc::new(geo)), None, health, None)
                .expect("the fuzz snapshot");
        Harness { snapshot, answerer: Answerer::new(Observers::default()), origin }
    })
}

/// Target `answer`: a datagram from the network, answered as the UDP workers answer it.
///
/// Properties: the fast path (our parser) and the general one (hickory's) answer alike, byte
/// for byte; an answer parses back, carries the query's ID and (when it has one) its
/// question, fits what the client allowed over UDP (512 octets without EDNS, RFC 1035 section
/// 4.2.1; else the smaller of its payload size and ours, RFC 6891 section 6.2.5), and has AA
/// set only for names in our zone (RFC 1035 section 4.1.1) or the CHAOS identity names.
pub fn answer(data: &[u8]) {
    let h = harness();
    // The first octet picks the source, so sources with and without a database network meet
    // the same queries.
    let Some((&pick, datagram)) = data.split_first() else { return };
    let source: SocketAddr = match pick % 4 {
        0 => "127.0.0.1:5300",
        1 => "81.2.69.160:5300",
        2 => "[2001:db8::53]:5300",
        _ => "1.1.1.1:5300",
    }
    .parse()
    .expect("an address");
    let (mut fast, mut general) = (Vec::new(), Vec::new());
    let salt = Salt { turn: u64::from(pick), random: u64::from(pick) << 7 };
    let answered = h.answerer.answer_udp_by(&h.snapshot, datagram, source, salt, Path::Fast, &mut fast);
    let answered_too = h.answerer.answer_udp_by(&h.snapshot, datagram, source, salt, Path::General, &mut general);
    assert_eq!(answered, answered_too, "one path answers, the other does not");
    if !answered {
        return;
    }
    assert_eq!(fast, general, "the fast and general paths differ");
    let response = Message::from_vec(&fast).unwrap_or_else(|e| panic!("our answer does not parse: {e}: {fast:02x?}"));
    assert_eq!(&fast[..2], &datagram[..2], "the answer carries the query's ID");
    assert_eq!(response.metadata.message_type, MessageType::Response);
    let query = Message::from_vec(datagram).ok();
    let allowed = match query.as_ref().and_then(|q| q.edns.as_ref()) {
        Some(edns) => edns.max_payload().clamp(512, h.snapshot.config.server.max_udp_payload),
        None => 512,
    };
    assert!(fast.len() <= usize::from(allowed), "{} octets over UDP where {allowed} are allowed", fast.len());
    if let (Some(asked), Some(echoed)) = (query.as_ref().and_then(|q| q.queries.first()), response.queries.first()) {
        assert_eq!(asked, echoed, "the question goes back as asked");
        assert_eq!(asked.name().to_ascii(), echoed.name().to_ascii(), "in the client's case");
    }
    if response.metadata.authoritative {
        let question = response.queries.first().expect("an authoritative answer has a question");
        let ours = h.origin.zone_of(question.name()) || question.query_class() == DNSClass::CH;
        assert!(ours, "AA for {} outside our zone", question.name());
    }
}

/// Target `tcp`: a TCP byte stream (RFC 1035 section 4.2.2 framing, RFC 7766), arriving in
/// reads cut where the first octet says, answered as a connection answers it.
///
/// Properties: how the stream is cut into reads changes nothing (the same responses, the same
/// verdict); every response has its length prefix, parses back and carries the ID of the
/// message it answers, in order; nothing is consumed past what arrived.
pub fn tcp(data: &[u8]) {
    let h = harness();
    let Some((&cut, stream)) = data.split_first() else { return };
    let peer: SocketAddr = "192.0.2.7:40000".parse().expect("an address");
    let run = |step: usize| {
        let (mut salts, mut response, mut output) = (h.answerer.salts(0), Vec::new(), Vec::new());
        let (mut input, mut at, mut answerable) = (Vec::new(), 0, true);
        while at < stream.len() && answerable {
            let end = (at + step).min(stream.len());
            input.extend_from_slice(&stream[at..end]);
            at = end;
            // As a connection does: rounds until what has arrived holds no whole message.
            loop {
                let (consumed, ok) =
                    tcp::answer_frames(&h.answerer, &h.snapshot, peer, &mut salts, &input, &mut response, &mut output);
                assert!(consumed <= input.len(), "consumed {consumed} of {}", input.len());
                input.drain(..consumed);
                answerable = ok;
                if consumed == 0 || !ok {
                    break;
                }
            }
        }
        (output, answerable)
    };
    let (whole, verdict) = run(stream.len().max(1));
    let (cut_up, cut_verdict) = run(usize::from(cut % 64) + 1);
    assert_eq!(verdict, cut_verdict, "the verdict depends on how the stream was cut");
    assert!(whole == cut_up, "the responses depend on how the stream was cut");
    // The responses, in order, answer the messages, in order.
    let (mut queries, mut responses) = (stream, whole.as_slice());
    while let Some(response) = frame(&mut responses) {
        let Some(query) = frame(&mut queries) else { panic!("more responses than messages") };
        let message = Message::from_vec(response).unwrap_or_else(|e| panic!("a TCP answer that does not parse: {e}"));
        assert_eq!(message.metadata.message_type, MessageType::Response);
        assert_eq!(&response[..2], &query[..2], "the answer carries its query's ID");
    }
    assert!(responses.is_empty(), "a response without its whole length");
}

/// Takes one length-prefixed message off the front of `input`.
fn frame<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::from(u16::from_be_bytes([*input.first()?, *input.get(1)?]));
    let message = input.get(2..2 + len)?;
    *input = &input[2 + len..];
    Some(message)
}

/// Target `zone`: a zone file as an operator might write it (or mangle it).
///
/// Properties: parsing and building never panic; a zone that builds answers for its apex.
pub fn zone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let origin = Name::from_ascii("example.test.").expect("a name");
    let Ok(file) = parse::parse(&text, Some(origin.clone())) else { return };
    let origin = file.origin.clone().unwrap_or(origin);
    if let Ok(zone) = Zone::build(origin, file.entries) {
        assert!(zone.record_count > 0, "a zone that builds has its SOA and NS at least");
    }
}

/// Target `config`: the configuration file, the saved state of API changes laid over it, and
/// the JSON bodies the API takes. The first octet says which.
///
/// Property: errors, never panics; a configuration that validates validates again the same.
pub fn config(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let base = std::path::Path::new("/nonexistent-fuzz-base");
    match pick % 3 {
        0 => {
            let Ok(source) = Source::from_toml(&text, base, "fuzz") else { return };
            if let Ok(config) = source.validate() {
                let again = source.validate().expect("validation is deterministic");
                assert_eq!(format!("{config:?}"), format!("{again:?}"));
            }
        }
        1 => {
            // Saved changes laid over the fuzz configuration, as a restart does.
            let Ok(overlay) = serde_json::from_slice::<Overlay>(rest) else { return };
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let source = Source::from_toml(CONFIG, root, "fuzz").expect("the fuzz configuration");
            let _ = source.validate_with(&overlay);
        }
        _ => {
            let _ = serde_json::from_slice::<FileRegion>(rest);
            let _ = serde_json::from_slice::<crate::config::overlay::StrategyChange>(rest);
        }
    }
}

/// Target `edns`: the option parsers on their own: the client subnet option's data (RFC 7871
/// section 6) and a whole message through the fast parser.
///
/// Properties: a client subnet that parses has a prefix within its family and no address bits
/// past it (RFC 7871 section 6: they must be zero); the fast parser takes only what hickory's
/// parser takes too.
pub fn edns(data: &[u8]) {
    if let Ok(subnet) = crate::dns::ecs::parse(data) {
        let (bits, width) = match subnet.address {
            std::net::IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
            std::net::IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        assert!(subnet.source_prefix <= width, "{subnet:?}");
        let past = u128::MAX.checked_shr(u32::from(subnet.source_prefix)).unwrap_or(0);
        assert_eq!(bits & past, 0, "address bits past the source prefix: {subnet:?}");
    }
    let source = std::net::IpAddr::from([192, 0, 2, 1]);
    let fast = crate::dns::request::Asked::parse(data, source, hickory_server::net::xfer::Protocol::Udp);
    if fast.is_some() {
        assert!(Message::from_vec(data).is_ok(), "the fast parser took a message hickory's refuses");
    }
}
