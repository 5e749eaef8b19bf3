//! Malformed input: hand-made datagrams and broken TCP framings. Each gets FORMERR where a
//! header can be read, or is dropped; nothing panics, and the server answers the next query.

use std::io::Write;
use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::TestServer;
use crate::support::client::{self, ANSWER_WAIT, Q};

/// What a malformed datagram must get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// No reply at all: no header to answer, or a response we must not answer.
    Dropped,
    /// A reply with this RCODE and the query's ID.
    Rcode(ResponseCode),
}

/// A header with ID 0x4d52, RD clear, and the given counts.
fn header(flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0x4d, 0x52];
    for n in [flags, qd, an, ns, ar] {
        h.extend_from_slice(&n.to_be_bytes());
    }
    h
}

/// `www.example.test. IN A` as a question.
fn question() -> Vec<u8> {
    let mut q = b"\x03www\x07example\x04test\x00".to_vec();
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// An OPT record with the given RDATA.
fn opt(rdata: &[u8]) -> Vec<u8> {
    let mut r = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0];
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

pub fn table() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let formerr = Rcode(ResponseCode::FormErr);
    let q = question();
    let long_name: Vec<u8> = (0..130).flat_map(|_| [1u8, b'a']).chain([0, 0, 1, 0, 1]).collect();
    vec![
        ("an empty datagram", vec![], Dropped),
        ("one octet", vec![0x4d], Dropped),
        ("eleven octets: a header cut short", header(0, 1, 0, 0, 0)[..11].to_vec(), Dropped),
        ("a header alone claiming a question", header(0, 1, 0, 0, 0), formerr),
        ("a header with QDCOUNT 0", header(0, 0, 0, 0, 0), formerr),
        ("a question name cut mid-label", cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x07exa"]), formerr),
        ("a question name with no root label", cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x07example"]), formerr),
        ("a question without QTYPE and QCLASS", cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x00"]), formerr),
        ("a question with half a QCLASS", cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x00\x00\x01\x00"]), formerr),
        ("a label of 64 octets", cat(&[&header(0, 1, 0, 0, 0), &[64], &[b'a'; 64], &[0, 0, 1, 0, 1]]), formerr),
        ("a name over 255 octets", cat(&[&header(0, 1, 0, 0, 0), &long_name]), formerr),
        ("a compression pointer to itself", cat(&[&header(0, 1, 0, 0, 0), &[0xc0, 12, 0, 1, 0, 1]]), formerr),
        ("a compression pointer past the end", cat(&[&header(0, 1, 0, 0, 0), &[0xc0, 200, 0, 1, 0, 1]]), formerr),
        (
            "a compression pointer loop of two",
            cat(&[&header(0, 1, 0, 0, 0), &[1, b'a', 0xc0, 14, 0, 1, 0, 1]]),
            formerr,
        ),
        ("a pointer into the header", cat(&[&header(0, 1, 0, 0, 0), &[0xc0, 2, 0, 1, 0, 1]]), formerr),
        ("the reserved label type 0x40", cat(&[&header(0, 1, 0, 0, 0), &[0x41, b'a', 0, 0, 1, 0, 1]]), formerr),
        ("the reserved label type 0x80", cat(&[&header(0, 1, 0, 0, 0), &[0x81, b'a', 0, 0, 1, 0, 1]]), formerr),
        ("QDCOUNT 2 with one question", cat(&[&header(0, 2, 0, 0, 0), &q]), formerr),
        ("QDCOUNT 65535 with one question", cat(&[&header(0, 0xffff, 0, 0, 0), &q]), formerr),
        ("ANCOUNT 1 with no answer", cat(&[&header(0, 1, 1, 0, 0), &q]), formerr),
        ("NSCOUNT 1 with half a record", cat(&[&header(0, 1, 0, 1, 0), &q, &[0, 0, 1, 0]]), formerr),
        ("ARCOUNT 65535 with one OPT", cat(&[&header(0, 1, 0, 0, 0xffff), &q, &opt(&[])]), formerr),
        ("an OPT record cut short", cat(&[&header(0, 1, 0, 0, 1), &q, &opt(&[])[..7]]), formerr),
        ("an OPT RDLENGTH past the end", cat(&[&header(0, 1, 0, 0, 1), &q, &opt(&[])[..9], &[0, 40]]), formerr),
        ("an EDNS option longer than the OPT", cat(&[&header(0, 1, 0, 0, 1), &q, &opt(&[0, 8, 0, 10, 1, 2])]), formerr),
        ("an EDNS option header cut short", cat(&[&header(0, 1, 0, 0, 1), &q, &opt(&[0, 8, 0])]), formerr),
        ("two OPT records", cat(&[&header(0, 1, 0, 0, 2), &q, &opt(&[]), &opt(&[])]), formerr),
        ("an OPT record in the answer section", cat(&[&header(0, 1, 1, 0, 0), &q, &opt(&[])]), formerr),
        (
            "a client subnet option with a bad family",
            cat(&[&header(0, 1, 0, 0, 1), &q, &opt(&[0, 8, 0, 4, 0, 9, 24, 0])]),
            formerr,
        ),
        (
            "a record whose RDLENGTH overruns",
            cat(&[&header(0, 1, 1, 0, 0), &q, &[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1, 2]]),
            formerr,
        ),
        (
            "an A record with 3 octets of RDATA",
            cat(&[&header(0, 1, 1, 0, 0), &q, &[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3]]),
            formerr,
        ),
        ("a response (QR=1)", cat(&[&header(0x8000, 1, 0, 0, 0), &q]), Dropped),
        (
            "a response with an answer",
            cat(&[&header(0x8400, 1, 1, 0, 0), &q, &[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]]),
            Dropped,
        ),
        ("random octets behind a header", cat(&[&header(0, 1, 0, 0, 0), &[0xff; 40]]), formerr),
        (
            "QCLASS 0",
            cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x07example\x04test\x00\x00\x01\x00\x00"]),
            Rcode(ResponseCode::Refused),
        ),
        ("an unassigned opcode", cat(&[&header(0x3000, 1, 0, 0, 0), &q]), Rcode(ResponseCode::NotImp)),
    ]
}

fn assert_still_answers(addr: SocketAddr, after: &str) {
    let reply = client::udp(addr, &Q::new("www.example.test.", RecordType::A));
    assert_eq!(reply.answers.len(), 2, "no good answer after {after}");
}

#[test]
fn malformed_datagrams_get_formerr_or_are_dropped_and_the_server_answers_the_next_query() {
    let server = TestServer::start();
    let table = table();
    assert!(table.len() >= 30, "{} cases", table.len());
    let mut wrong = Vec::new();
    for (what, bytes, expect) in table {
        let reply = match expect {
            // Sure, not hoped: a follow-up query on the same socket comes back first otherwise.
            Expect::Dropped => client::udp_unanswered(server.addr, &bytes),
            Expect::Rcode(_) => client::udp_exchange(server.addr, &bytes, ANSWER_WAIT),
        };
        let got = match reply {
            None => Expect::Dropped,
            Some(reply) => match Message::from_vec(&reply) {
                Ok(m) if m.metadata.id == 0x4d52 => Expect::Rcode(m.metadata.response_code),
                Ok(m) => panic!("{what}: reply with ID {:#x}", m.metadata.id),
                Err(e) => panic!("{what}: unparsable reply {reply:?}: {e}"),
            },
        };
        if got != expect {
            wrong.push(format!("{what}: expected {expect:?}, got {got:?}"));
        }
        assert_still_answers(server.addr, what);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// How one broken TCP stream must end.
struct Broken {
    what: &'static str,
    bytes: Vec<u8>,
    /// The client closes its side after `bytes` (the server sees the end of the stream).
    then_close: bool,
    /// Responses to read before the close: queries ahead of the broken message are answered.
    answered: usize,
}

#[test]
fn broken_tcp_framing_closes_only_that_connection() {
    // Timeouts far past the wait for each close, so that only the broken message can close it.
    let server = TestServer::with_server_toml("tcp_idle_timeout_secs = 60\ntcp_query_timeout_secs = 60");
    let good = Q::new("www.example.test.", RecordType::A).bytes();
    let mut response = good.clone();
    response[2] |= 0x80; // QR=1
    let framed = |message: &[u8]| cat(&[&(message.len() as u16).to_be_bytes(), message]);
    let broken = |what, bytes, then_close, answered| Broken { what, bytes, then_close, answered };
    let cases = [
        broken("half a length prefix, then close", vec![0], true, 0),
        broken("a length longer than what follows, then close", cat(&[&[0x01, 0x00], &good]), true, 0),
        broken("a length of 65535 and a few octets, then close", cat(&[&[0xff, 0xff], &[1, 2, 3]]), true, 0),
        // The README: "a message shorter than a header, or a response, closes the connection".
        broken("a zero length", vec![0, 0], false, 0),
        broken("a frame of one octet", vec![0, 1, 0x4d], false, 0),
        broken("a frame shorter than a header", framed(&good[..11]), false, 0),
        broken("a response (QR=1)", framed(&response), false, 0),
        broken("a frame of garbage (0xee: QR=1, a response)", framed(&[0xee; 20]), false, 0),
        broken("a query, then a response behind it", cat(&[&framed(&good), &framed(&response)]), false, 1),
    ];
    // A healthy connection opened first must be unaffected by every broken one.
    let mut healthy = client::tcp_connect(server.addr);
    for Broken { what, bytes, then_close, answered } in cases {
        let mut stream = client::tcp_connect(server.addr);
        stream.write_all(&bytes).expect(what);
        if then_close {
            stream.shutdown(std::net::Shutdown::Write).expect(what);
        }
        for _ in 0..answered {
            let reply = client::tcp_recv(&mut stream).unwrap_or_else(|| panic!("{what}: no answer before the close"));
            assert_eq!(Message::from_vec(&reply).unwrap().answers.len(), 2, "{what}");
        }
        client::wait_for_close(&mut stream, ANSWER_WAIT, what);
        client::tcp_send(&mut healthy, &good);
        let reply = client::tcp_recv(&mut healthy).unwrap_or_else(|| panic!("healthy connection lost after {what}"));
        assert_eq!(Message::from_vec(&reply).unwrap().answers.len(), 2, "{what}");
        let fresh = client::tcp(server.addr, &Q::new("www.example.test.", RecordType::A));
        assert_eq!(fresh.answers.len(), 2, "new connection after {what}");
        assert_still_answers(server.addr, what);
    }
}

#[test]
fn a_malformed_message_on_tcp_gets_formerr_and_the_connection_serves_the_next() {
    let server = TestServer::start();
    let mut stream = client::tcp_connect(server.addr);
    client::tcp_send(&mut stream, &cat(&[&header(0, 1, 0, 0, 0), b"\x03www\x07exa"]));
    let reply = Message::from_vec(&client::tcp_recv(&mut stream).expect("FORMERR")).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    client::tcp_send(&mut stream, &Q::new("www.example.test.", RecordType::A).bytes());
    let reply = Message::from_vec(&client::tcp_recv(&mut stream).expect("an answer")).unwrap();
    assert_eq!(reply.answers.len(), 2);
}

#[test]
fn a_malformed_message_between_pipelined_queries_gets_formerr_in_its_place() {
    let server = TestServer::start();
    let mut stream = client::tcp_connect(server.addr);
    let good = |id: u16| Q { id, ..Q::new("www.example.test.", RecordType::A) }.bytes();
    let mut broken = cat(&[&header(0, 1, 0, 0, 0), &[0xff; 40]]);
    broken[..2].copy_from_slice(&2u16.to_be_bytes());
    let mut pipeline = Vec::new();
    for message in [good(1), broken, good(3)] {
        pipeline.extend_from_slice(&(message.len() as u16).to_be_bytes());
        pipeline.extend_from_slice(&message);
    }
    stream.write_all(&pipeline).unwrap();
    // Each reply is read whole: its ID, RCODE, answers and length (FORMERR is a header alone).
    let replies: Vec<(u16, ResponseCode, usize, usize)> = (0..3)
        .map(|_| client::tcp_recv(&mut stream).expect("a reply"))
        .map(|bytes| (Message::from_vec(&bytes).unwrap(), bytes.len()))
        .map(|(m, len)| (m.metadata.id, m.metadata.response_code, m.answers.len(), len))
        .collect();
    let answer_len = replies[0].3;
    assert_eq!(
        replies,
        [
            (1, ResponseCode::NoError, 2, answer_len),
            (2, ResponseCode::FormErr, 0, 12),
            (3, ResponseCode::NoError, 2, answer_len)
        ]
    );
}
