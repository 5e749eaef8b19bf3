//! The answer path without sockets: requests built from bytes, a snapshot built from text.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use super::*;
use crate::config::Config;
use crate::zone::parse::parse;
use crate::zone::{Zone, Zones};

/// The answer to a request as hickory parsed it (the general path).
fn answer<'s>(snapshot: &'s Snapshot, request: &Request, salt: Salt) -> Option<Answer<'s>> {
    super::answer(snapshot, &Asked::from_request(request), salt)
}

/// A snapshot serving one zone, built from its text (no files, no geo database).
pub(crate) fn snapshot(zone_text: &str) -> Snapshot {
    snapshot_with_identity(zone_text, "unit")
}

fn snapshot_with_identity(zone_text: &str, identity: &str) -> Snapshot {
    let toml = format!("zones_dir = \"z\"\n[server]\nidentity = \"{identity}\"\n");
    let config = Config::from_toml(&toml, Path::new(""), "test").unwrap();
    let file = parse(zone_text, None).unwrap();
    let zone = Zone::build(file.origin.unwrap(), file.entries).unwrap();
    Snapshot {
        generation: 1,
        config: Arc::new(config),
        zones: Arc::new(Zones::new(vec![zone])),
        steering: Default::default(),
        observers: Default::default(),
        health: Default::default(),
    }
}

fn request(
    name: &str,
    rtype: RecordType,
    edns: Option<u16>,
    protocol: Protocol,
    tweak: impl FnOnce(&mut Message),
) -> Request {
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(payload) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        message.set_edns(e);
    }
    tweak(&mut message);
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    Request::from_bytes(message.to_vec().unwrap(), src, protocol).unwrap()
}

fn udp(name: &str, rtype: RecordType) -> Request {
    request(name, rtype, Some(1232), Protocol::Udp, |_| {})
}

fn count(section: &[Rrs<'_>]) -> usize {
    Answer::records(section).count()
}

const ZONE: &str =
    "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n";

#[test]
fn answers_copy_id_rd_and_cd_and_set_aa() {
    let snap = snapshot(ZONE);
    let req = request("www.example.test.", RecordType::A, None, Protocol::Udp, |m| {
        m.metadata.recursion_desired = true;
        m.metadata.checking_disabled = true;
    });
    let answer = answer(&snap, &req, Salt::default()).unwrap();
    let m = answer.metadata;
    assert_eq!((m.id, m.authoritative, m.recursion_desired, m.checking_disabled), (7, true, true, true));
    assert!(!m.recursion_available);
    assert_eq!(count(&answer.answers), 1);
    assert!(answer.edns.is_none(), "no OPT without one in the query");
}

#[test]
fn a_response_is_never_answered() {
    let snap = snapshot(ZONE);
    let req = request("www.example.test.", RecordType::A, None, Protocol::Udp, |m| {
        m.metadata.message_type = MessageType::Response
    });
    assert!(answer(&snap, &req, Salt::default()).is_none());
}

#[test]
fn refusal_outside_our_zones_carries_extended_error_not_authoritative() {
    let snap = snapshot(ZONE);
    let answer = answer(&snap, &udp("example.com.", RecordType::A), Salt::default()).unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    let options = answer.edns.as_ref().unwrap().options().as_ref().to_vec();
    assert!(matches!(&options[..], [(_, EdnsOption::Unknown(15, data))] if data == &[0, 20]), "{options:?}");
}

#[test]
fn chaos_identity_and_refusal() {
    let snap = snapshot(ZONE);
    let id = request("id.server.", RecordType::TXT, None, Protocol::Udp, |m| m.queries[0].query_class = DNSClass::CH);
    let answer = answer(&snap, &id, Salt::default()).unwrap();
    assert_eq!(answer.answers[0].records().next().unwrap().data.to_string(), "unit");
    let version =
        request("version.bind.", RecordType::TXT, None, Protocol::Udp, |m| m.queries[0].query_class = DNSClass::CH);
    assert_eq!(self::answer(&snap, &version, Salt::default()).unwrap().metadata.response_code, ResponseCode::Refused);
}

/// A delegation whose glue takes about 700 octets: more than 512, less than 1232.
fn wide_delegation() -> String {
    let mut text = ZONE.to_owned();
    for i in 0..12 {
        text.push_str(&format!("sub NS ns{i}.sub\nns{i}.sub A 192.0.2.{i}\nns{i}.sub AAAA 2001:db8::{i}\n"));
    }
    text
}

#[test]
fn a_referral_whose_glue_does_not_fit_is_truncated() {
    let snap = snapshot(&wide_delegation());
    let small =
        answer(&snap, &request("x.sub.example.test.", RecordType::A, None, Protocol::Udp, |_| {}), Salt::default())
            .unwrap();
    assert!(!small.metadata.authoritative);
    assert!(count(&small.additionals) < 24);
    assert!(small.metadata.truncation, "RFC 9471: in-domain glue that does not fit sets TC");
    let large = answer(&snap, &udp("x.sub.example.test.", RecordType::A), Salt::default()).unwrap();
    assert_eq!((count(&large.authorities), count(&large.additionals)), (12, 24));
    assert!(!large.metadata.truncation);
}

#[test]
fn leaving_out_optional_additional_data_does_not_set_tc() {
    let mut text = ZONE.to_owned();
    for i in 0..20 {
        text.push_str(&format!("@ MX {i} mx{i}\nmx{i} A 192.0.2.{i}\nmx{i} AAAA 2001:db8::{i}\n"));
    }
    let snap = snapshot(&text);
    let answer =
        answer(&snap, &request("example.test.", RecordType::MX, None, Protocol::Udp, |_| {}), Salt::default()).unwrap();
    assert_eq!(count(&answer.answers), 20);
    assert!(count(&answer.additionals) < 40);
    assert!(!answer.metadata.truncation, "RFC 2181 section 9: additional data is optional");
}

#[test]
fn tcp_is_never_truncated() {
    let snap = snapshot(&wide_delegation());
    let answer =
        answer(&snap, &request("x.sub.example.test.", RecordType::A, None, Protocol::Tcp, |_| {}), Salt::default())
            .unwrap();
    assert_eq!(count(&answer.additionals), 24);
    assert!(!answer.metadata.truncation);
}

#[test]
fn fitted_answers_encode_within_the_limit() {
    let snap = snapshot(&wide_delegation());
    for payload in [None, Some(512), Some(600), Some(800), Some(1232)] {
        let req = request("x.sub.example.test.", RecordType::A, payload, Protocol::Udp, |_| {});
        let answer = answer(&snap, &req, Salt::default()).unwrap();
        let limit = usize::from(payload.unwrap_or(512));
        let len = encoded_len(&req, &answer);
        assert!(len <= limit, "payload {payload:?}: {len} octets");
    }
}

/// Encodes an answer as hickory will send it, and returns its length.
fn encoded_len(req: &Request, answer: &Answer<'_>) -> usize {
    let mut message = Message::new(7, MessageType::Response, OpCode::Query);
    message.metadata = answer.metadata;
    if answer.echo_question {
        message.add_query(req.queries.queries()[0].original().clone());
    }
    message.add_answers(Answer::records(&answer.answers).cloned());
    message.add_authorities(Answer::records(&answer.authorities).cloned());
    message.add_additionals(Answer::records(&answer.additionals).cloned());
    if let Some(edns) = answer.edns.clone() {
        message.set_edns(edns);
    }
    message.to_vec().unwrap().len()
}

fn with_nsid(m: &mut Message) {
    if let Some(edns) = m.edns.as_mut() {
        edns.options_mut().insert(EdnsOption::Unknown(3, Vec::new()));
    }
}

#[test]
fn optional_edns_options_are_left_out_before_records_when_space_runs_short() {
    let identity = "i".repeat(255);
    let snap = snapshot_with_identity(ZONE, &identity);
    let chaos = request("hostname.bind.", RecordType::TXT, Some(512), Protocol::Udp, |m| {
        m.queries[0].query_class = DNSClass::CH;
        with_nsid(m);
    });
    let answer = answer(&snap, &chaos, Salt::default()).unwrap();
    assert!(encoded_len(&chaos, &answer) <= 512);
    assert_eq!(count(&answer.answers), 1, "the identity itself still fits once NSID is dropped");
    assert!(answer.edns.as_ref().unwrap().options().as_ref().is_empty());
    let long_name = format!("{}.example.com.", ["a".repeat(60), "b".repeat(60), "c".repeat(60)].join("."));
    let refused = request(&long_name, RecordType::A, Some(512), Protocol::Udp, with_nsid);
    let answer = self::answer(&snap, &refused, Salt::default()).unwrap();
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert!(encoded_len(&refused, &answer) <= 512);
}

#[test]
fn only_missing_in_domain_glue_truncates_a_referral() {
    // The cut's own server (in-domain glue) and twelve siblings elsewhere in the parent zone.
    let mut text = ZONE.to_owned();
    text.push_str("sub NS ns.sub\nns.sub A 192.0.2.99\n");
    for i in 0..12 {
        text.push_str(&format!("sub NS sibling{i}\nsibling{i} A 192.0.2.{i}\nsibling{i} AAAA 2001:db8::{i}\n"));
    }
    let snap = snapshot(&text);
    let req = request("x.sub.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    let answer = answer(&snap, &req, Salt::default()).unwrap();
    assert!(count(&answer.additionals) < 25, "sibling glue was left out");
    assert_eq!(answer.additionals[0].records().next().unwrap().name.to_string(), "ns.sub.example.test.");
    assert!(!answer.metadata.truncation, "RFC 9471: sibling glue is optional");
}
