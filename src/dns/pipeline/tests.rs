//! Each stage on its own, with messages built from bytes and snapshots built from text.

use std::net::SocketAddr;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use super::*;
use crate::dns::response::tests::{ZONE, request, snapshot, snapshot_with_identity};
use crate::dns::response::{Answer, Rrs};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn records(section: &[Rrs<'_>]) -> usize {
    section.iter().map(Rrs::len).sum()
}

#[test]
fn screen_drops_sources_no_answer_can_go_to() {
    let table = [
        ("192.0.2.1:5300", Ok(())),
        ("[2001:db8::1]:5300", Ok(())),
        ("127.0.0.1:53", Ok(())),
        ("192.0.2.1:0", Err(Dropped::SourcePortZero)),
        ("[2001:db8::1]:0", Err(Dropped::SourcePortZero)),
        ("0.0.0.0:5300", Err(Dropped::Unspecified)),
        ("[::]:5300", Err(Dropped::Unspecified)),
        ("[::ffff:0.0.0.0]:5300", Err(Dropped::Unspecified)),
        ("255.255.255.255:5300", Err(Dropped::Broadcast)),
        ("[::ffff:255.255.255.255]:5300", Err(Dropped::Broadcast)),
        ("224.0.0.1:5300", Err(Dropped::Multicast)),
        ("239.255.255.250:1900", Err(Dropped::Multicast)),
        ("[ff02::1]:5300", Err(Dropped::Multicast)),
        ("[::ffff:224.0.0.251]:5353", Err(Dropped::Multicast)),
        // A subnet's broadcast address cannot be told from a host's without the netmask.
        ("192.0.2.255:5300", Ok(())),
    ];
    for (source, expected) in table {
        assert_eq!(screen(addr(source)), expected, "{source}");
    }
}

/// `www.example.test. A` with ID 7, as sent: our parser's common shape.
fn common_query() -> Vec<u8> {
    request("www.example.test.", RecordType::A, Some(1232), Protocol::Udp, |_| {}).as_slice().to_vec()
}

#[test]
fn decode_reads_the_common_shape_itself_and_the_rest_with_hickory() {
    let source = addr("192.0.2.1:5300");
    let query = common_query();
    let mut held = None;
    let Decoded::Query(asked) = decode(&query, source, Protocol::Udp, Parser::Ours, &mut held) else { panic!() };
    assert_eq!(asked.question_bytes.as_ptr(), query[12..].as_ptr(), "borrowed from the message");
    assert!(held.is_none(), "no hickory request for the common shape");
    let mut held = None;
    let Decoded::Query(asked) = decode(&query, source, Protocol::Udp, Parser::Hickory, &mut held) else { panic!() };
    assert_eq!(asked.question.map(|q| q.qtype), Some(RecordType::A));
    assert!(held.is_some(), "hickory's request is held for the query to borrow");
    // Two questions: not the common shape, so hickory reads it (and the answer stage says FORMERR).
    let mut two = query.clone();
    two[5] = 2;
    let question = two[12..two.len() - 11].to_vec();
    two.splice(12..12, question);
    two.truncate(two.len() - 11); // without the OPT record, to keep the counts right
    two[11] = 0;
    let mut held = None;
    let decoded = decode(&two, source, Protocol::Udp, Parser::Ours, &mut held);
    assert!(matches!(decoded, Decoded::Query(ref a) if a.question_count == 2), "{decoded:?}");
    assert!(held.is_some());
}

#[test]
fn decode_sets_responses_and_unreadable_messages_apart() {
    let source = addr("192.0.2.1:5300");
    let mut response = common_query();
    response[2] |= 0x80; // QR
    for parser in [Parser::Ours, Parser::Hickory] {
        assert!(matches!(decode(&response, source, Protocol::Udp, parser, &mut None), Decoded::Response));
        let cut = &common_query()[..20];
        assert!(matches!(decode(cut, source, Protocol::Udp, parser, &mut None), Decoded::Malformed));
    }
}

#[test]
fn format_error_answers_queries_with_a_header_only() {
    let mut out = vec![1, 2, 3];
    let query = common_query();
    assert!(format_error(&query[..20], &mut out));
    let header = Message::from_vec(&out).unwrap();
    assert_eq!((header.metadata.id, header.metadata.response_code), (7, ResponseCode::FormErr));
    assert_eq!(header.metadata.message_type, MessageType::Response);
    assert!(!format_error(&query[..11], &mut out), "shorter than a header");
    assert!(out.is_empty(), "an earlier response is not left behind");
    let mut response = query.clone();
    response[2] |= 0x80;
    assert!(!format_error(&response[..20], &mut out), "a response is never answered");
}

/// RRL at one response a second, every limited one slipped (`slip`) or none (`slip` 0).
fn rrl(slip: u32) -> RrlConfig {
    RrlConfig { enabled: true, rate: 1, burst: 1, slip, ..RrlConfig::default() }
}

#[test]
fn rate_limit_slips_or_drops_over_udp_only() {
    let snap = snapshot(ZONE);
    let table = RateTable::new(1);
    let request = request("www.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    let asked = Asked::from_request(&request);
    let mut answer = response::answer_query(&snap, &asked, Salt::default());
    assert_eq!(rate_limit(&table, &RrlConfig::default(), &asked, &mut answer), Limited::Sent, "off by default");
    assert_eq!(rate_limit(&table, &rrl(1), &asked, &mut answer), Limited::Sent, "the burst");
    assert_eq!(rate_limit(&table, &rrl(1), &asked, &mut answer), Limited::Slipped);
    assert!(answer.answers.is_empty() && answer.metadata.truncation, "a slip is empty with TC");
    let mut answer = response::answer_query(&snap, &asked, Salt::default());
    assert_eq!(rate_limit(&table, &rrl(0), &asked, &mut answer), Limited::Dropped);
    assert_eq!(records(&answer.answers), 1, "a dropped answer is left alone");
    let tcp = self::request("www.example.test.", RecordType::A, None, Protocol::Tcp, |_| {});
    let asked = Asked::from_request(&tcp);
    assert_eq!(rate_limit(&table, &rrl(0), &asked, &mut answer), Limited::Sent, "TCP is never limited");
}

#[test]
fn observe_counts_what_rate_limiting_let_out() {
    let snap = snapshot(ZONE);
    let observers = Observers::default();
    let request = request("www.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    let asked = Asked::from_request(&request);
    let answer = response::answer_query(&snap, &asked, Salt::default());
    let page = |observers: &Observers| {
        let gauges = crate::metrics::Gauges {
            generation: 1,
            endpoints: &[],
            pools: &[],
            version: "t",
            uptime: Default::default(),
        };
        observers.metrics.render(&gauges)
    };
    let answered = "meridian_queries_total{transport=\"udp\",qtype=\"A\",rcode=\"NOERROR\"}";
    observe(&observers, &snap, &asked, &answer, Limited::Dropped);
    assert!(!page(&observers).contains(answered), "a dropped answer was not answered");
    assert!(page(&observers).contains("meridian_rrl_limited_total{action=\"dropped\"} 1"));
    observe(&observers, &snap, &asked, &answer, Limited::Slipped);
    observe(&observers, &snap, &asked, &answer, Limited::Sent);
    let page = page(&observers);
    assert!(page.contains(&format!("{answered} 2")), "{page}");
    assert!(page.contains("meridian_rrl_limited_total{action=\"slipped\"} 1"));
}

#[test]
fn size_limit_is_the_smaller_payload_over_udp_and_the_length_prefix_over_tcp() {
    let snap = snapshot(ZONE);
    let server = &snap.config.server;
    let ours = usize::from(server.max_udp_payload);
    let table = [
        (None, Protocol::Udp, 512),
        (Some(100), Protocol::Udp, 512),
        (Some(600), Protocol::Udp, 600.min(ours)),
        (Some(65_000), Protocol::Udp, ours),
        (None, Protocol::Tcp, 65_535),
        (Some(600), Protocol::Tcp, 65_535),
    ];
    for (payload, protocol, expected) in table {
        let request = request("www.example.test.", RecordType::A, payload, protocol, |_| {});
        assert_eq!(size_limit(&Asked::from_request(&request), server), expected, "{payload:?} over {protocol:?}");
    }
}

/// A delegation whose glue takes about 700 octets: more than 512, less than 1232.
fn wide_delegation() -> String {
    let mut text = ZONE.to_owned();
    for i in 0..12 {
        text.push_str(&format!("sub NS ns{i}.sub\nns{i}.sub A 192.0.2.{i}\nns{i}.sub AAAA 2001:db8::{i}\n"));
    }
    text
}

/// Runs answer and encode for `request` with `encoder`: the answer as sent, which encoder
/// wrote it, and the octets.
fn encoded<'s>(snap: &'s Snapshot, request: &Request, encoder: Encoder) -> (Answer<'s>, Encoded, Vec<u8>) {
    let asked = Asked::from_request(request);
    let mut answer = response::answer_query(snap, &asked, Salt::default());
    let mut out = Vec::new();
    let encoded = encode(&mut answer, &asked, size_limit(&asked, &snap.config.server), encoder, &mut out);
    (answer, encoded, out)
}

const ENCODERS: [Encoder; 2] = [Encoder::Ours, Encoder::Hickory];

#[test]
fn the_answer_stage_leaves_fitting_to_the_encoder() {
    let snap = snapshot(&wide_delegation());
    let request = request("x.sub.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    let answer = response::answer_query(&snap, &Asked::from_request(&request), Salt::default());
    assert_eq!(records(&answer.additionals), 24, "all the glue, whatever the size");
    assert!(!answer.metadata.truncation);
}

#[test]
fn a_referral_whose_glue_does_not_fit_is_truncated() {
    let snap = snapshot(&wide_delegation());
    for encoder in ENCODERS {
        let small = request("x.sub.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
        let (answer, _, out) = encoded(&snap, &small, encoder);
        assert!(!answer.metadata.authoritative);
        assert!(records(&answer.additionals) < 24, "{encoder:?}");
        assert!(answer.metadata.truncation, "{encoder:?}: RFC 9471: in-domain glue that does not fit sets TC");
        assert!(Message::from_vec(&out).unwrap().metadata.truncation, "{encoder:?}: TC as sent");
        let large = request("x.sub.example.test.", RecordType::A, Some(1232), Protocol::Udp, |_| {});
        let (answer, _, _) = encoded(&snap, &large, encoder);
        assert_eq!((records(&answer.authorities), records(&answer.additionals)), (12, 24), "{encoder:?}");
        assert!(!answer.metadata.truncation, "{encoder:?}");
    }
}

#[test]
fn leaving_out_optional_additional_data_does_not_set_tc() {
    let mut text = ZONE.to_owned();
    for i in 0..20 {
        text.push_str(&format!("@ MX {i} mx{i}\nmx{i} A 192.0.2.{i}\nmx{i} AAAA 2001:db8::{i}\n"));
    }
    let snap = snapshot(&text);
    for encoder in ENCODERS {
        let request = request("example.test.", RecordType::MX, None, Protocol::Udp, |_| {});
        let (answer, _, out) = encoded(&snap, &request, encoder);
        assert_eq!(records(&answer.answers), 20, "{encoder:?}");
        assert!(records(&answer.additionals) < 40, "{encoder:?}");
        assert!(!answer.metadata.truncation, "{encoder:?}: RFC 2181 section 9: additional data is optional");
        assert_eq!(Message::from_vec(&out).unwrap().additionals.len(), records(&answer.additionals), "{encoder:?}");
    }
}

#[test]
fn tcp_is_never_truncated() {
    let snap = snapshot(&wide_delegation());
    for encoder in ENCODERS {
        let request = request("x.sub.example.test.", RecordType::A, None, Protocol::Tcp, |_| {});
        let (answer, _, _) = encoded(&snap, &request, encoder);
        assert_eq!(records(&answer.additionals), 24, "{encoder:?}");
        assert!(!answer.metadata.truncation, "{encoder:?}");
    }
}

#[test]
fn what_the_encoder_measures_is_what_it_sends() {
    let snap = snapshot(&wide_delegation());
    for payload in [None, Some(512), Some(600), Some(700), Some(800), Some(1232)] {
        for encoder in ENCODERS {
            let request = request("x.sub.example.test.", RecordType::A, payload, Protocol::Udp, |_| {});
            let (answer, written_by, out) = encoded(&snap, &request, encoder);
            let expected = if encoder == Encoder::Ours { Encoded::Ours } else { Encoded::Hickory };
            assert_eq!(written_by, expected, "{encoder:?}, payload {payload:?}: no silent fallback");
            let limit = usize::from(payload.unwrap_or(512));
            assert!(out.len() <= limit, "{encoder:?}, payload {payload:?}: {} octets", out.len());
            let sent = Message::from_vec(&out).unwrap();
            assert_eq!(sent.additionals.len(), records(&answer.additionals), "{encoder:?}, {payload:?}");
            assert_eq!(sent.metadata.truncation, answer.metadata.truncation, "{encoder:?}, {payload:?}");
        }
    }
}

#[test]
fn our_encoder_writes_prepared_answers_and_hickory_the_rest() {
    let snap = snapshot(&format!("{ZONE}*.wild A 192.0.2.9\n"));
    let prepared = request("www.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    assert_eq!(encoded(&snap, &prepared, Encoder::Ours).1, Encoded::Ours);
    assert_eq!(encoded(&snap, &prepared, Encoder::Hickory).1, Encoded::Hickory);
    let synthesised = request("x.wild.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
    let (answer, encoded_by, out) = encoded(&snap, &synthesised, Encoder::Ours);
    assert_eq!(encoded_by, Encoded::Hickory, "records made from a wildcard are not prepared");
    assert_eq!(records(&answer.answers), 1);
    assert_eq!(Message::from_vec(&out).unwrap().answers[0].name.to_string(), "x.wild.example.test.");
}

fn with_nsid(m: &mut Message) {
    if let Some(edns) = m.edns.as_mut() {
        edns.options_mut().insert(EdnsOption::Unknown(3, Vec::new()));
    }
}

#[test]
fn optional_edns_options_are_left_out_before_records_when_space_runs_short() {
    let identity = "i".repeat(255);
    let snap = snapshot_with_identity(&wide_delegation(), &identity);
    let chaos = request("hostname.bind.", RecordType::TXT, Some(512), Protocol::Udp, |m| {
        m.queries[0].query_class = DNSClass::CH;
        with_nsid(m);
    });
    let (answer, _, out) = encoded(&snap, &chaos, Encoder::Ours);
    assert!(out.len() <= 512);
    assert_eq!(records(&answer.answers), 1, "the identity itself still fits once NSID is dropped");
    assert!(answer.edns.as_ref().unwrap().options().as_ref().is_empty());
    let long_name = format!("{}.example.com.", ["a".repeat(60), "b".repeat(60), "c".repeat(60)].join("."));
    let refused = request(&long_name, RecordType::A, Some(512), Protocol::Udp, with_nsid);
    let (answer, _, out) = encoded(&snap, &refused, Encoder::Ours);
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert!(out.len() <= 512);
    // Our encoder: NSID goes before the glue does.
    for encoder in ENCODERS {
        let referral = request("x.sub.example.test.", RecordType::A, Some(700), Protocol::Udp, with_nsid);
        let (answer, _, out) = encoded(&snap, &referral, encoder);
        assert!(out.len() <= 700, "{encoder:?}");
        assert!(answer.edns.as_ref().unwrap().options().as_ref().is_empty(), "{encoder:?}: NSID left out");
        assert!(Message::from_vec(&out).unwrap().edns.unwrap().options().as_ref().is_empty());
    }
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
    for encoder in ENCODERS {
        let request = request("x.sub.example.test.", RecordType::A, None, Protocol::Udp, |_| {});
        let (answer, _, _) = encoded(&snap, &request, encoder);
        assert!(records(&answer.additionals) < 25, "{encoder:?}: sibling glue was left out");
        let mut answer = answer;
        answer.decode_wire_only(); // glue addresses are held in wire form
        assert_eq!(answer.additionals[0].records().next().unwrap().name.to_string(), "ns.sub.example.test.");
        assert!(!answer.metadata.truncation, "{encoder:?}: RFC 9471: sibling glue is optional");
    }
}

#[test]
fn a_screened_source_is_counted_and_not_answered() {
    let snap = snapshot(ZONE);
    let answerer = Answerer::new(Observers::default());
    let query = common_query();
    let mut out = Vec::new();
    assert!(answerer.answer_udp(&snap, &query, addr("192.0.2.1:5300"), Salt::default(), &mut out));
    for source in ["192.0.2.1:0", "0.0.0.0:53", "255.255.255.255:53", "[ff02::1]:53"] {
        assert!(!answerer.answer_udp(&snap, &query, addr(source), Salt::default(), &mut out), "{source}");
        assert!(out.is_empty(), "{source}");
    }
    let gauges =
        crate::metrics::Gauges { generation: 1, endpoints: &[], pools: &[], version: "t", uptime: Default::default() };
    let page = answerer.observers().metrics.render(&gauges);
    for reason in ["source_port_zero", "unspecified", "broadcast", "multicast"] {
        assert!(page.contains(&format!("meridian_dropped_total{{reason=\"{reason}\"}} 1")), "{reason}:\n{page}");
    }
}
