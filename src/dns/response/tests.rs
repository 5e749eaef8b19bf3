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

pub(crate) fn snapshot_with_identity(zone_text: &str, identity: &str) -> Snapshot {
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
        keys: Default::default(),
        cluster_revision: None,
        signing: Default::default(),
        signing_now: 0,
        transfers: Default::default(),
    }
}

pub(crate) fn request(
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
    section.iter().map(Rrs::len).sum()
}

pub(crate) const ZONE: &str =
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
fn chaos_id_server_is_answered_with_the_identity_and_other_chaos_names_are_refused() {
    let snap = snapshot(ZONE);
    let id = request("id.server.", RecordType::TXT, None, Protocol::Udp, |m| m.queries[0].query_class = DNSClass::CH);
    let answer = answer(&snap, &id, Salt::default()).unwrap();
    assert_eq!(answer.answers[0].records().next().unwrap().data.to_string(), "unit");
    let version =
        request("version.bind.", RecordType::TXT, None, Protocol::Udp, |m| m.queries[0].query_class = DNSClass::CH);
    assert_eq!(self::answer(&snap, &version, Salt::default()).unwrap().metadata.response_code, ResponseCode::Refused);
}

/// RFC 9460 section 4.1: an SVCB or HTTPS answer carries the A, AAAA and same-type RRsets of
/// its TargetNames in the zone; a "." target (the owner, or no service) and a target outside
/// the zone add nothing, and nothing goes in twice.
#[test]
fn svcb_and_https_answers_carry_their_targets_addresses() {
    let zone = "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n\
                web A 192.0.2.2\nweb AAAA 2001:db8::2\nweb HTTPS 1 . alpn=h2\nalt HTTPS 0 web\n\
                me HTTPS 1 me alpn=h2\nme A 192.0.2.3\nsvc SVCB 1 web alpn=h2\nsvc SVCB 2 web port=8443\nsvc SVCB 3 other.example. alpn=h3\n";
    let snap = snapshot(zone);
    let additional = |name: &str, rtype: RecordType| {
        let mut answer = answer(&snap, &udp(name, rtype), Salt::default()).unwrap();
        answer.decode_wire_only();
        Answer::records(&answer.additionals).map(|r| format!("{} {}", r.name, r.record_type())).collect::<Vec<_>>()
    };
    let web = ["web.example.test. A", "web.example.test. AAAA"];
    assert_eq!(additional("alt.example.test.", RecordType::HTTPS), [web[0], web[1], "web.example.test. HTTPS"]);
    assert_eq!(additional("svc.example.test.", RecordType::SVCB), web, "two records with one target: added once");
    assert_eq!(additional("web.example.test.", RecordType::HTTPS), Vec::<String>::new(), "\".\": nothing");
    assert_eq!(additional("me.example.test.", RecordType::HTTPS), ["me.example.test. A"], "not the answer again");
}
