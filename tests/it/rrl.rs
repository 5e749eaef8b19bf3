//! Response rate limiting over real UDP: a flood from one /24 is limited (some answers
//! slipped as empty TC=1 responses, the rest dropped; `slip = 0` drops them all, `slip = 1`
//! slips them all) while other prefixes, other responses and exempt prefixes are answered in
//! full.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::client::Q;
use crate::support::{API_TOML, TestServer};

/// A server limiting 5 identical responses a second (burst 5) to a /24, every 2nd limited
/// response slipped, 127.0.2.0/24 exempt.
fn limited() -> TestServer {
    limiting(2)
}

/// As [`limited`], with every `slip`-th limited response slipped (0: none, all dropped).
fn limiting(slip: u32) -> TestServer {
    let rrl = format!("[rrl]\nenabled = true\nrate = 5\nslip = {slip}\nexempt = [\"127.0.2.0/24\"]\n");
    TestServer::with_config(
        "workers = 2",
        &[("example.test.zone", crate::support::TEST_ZONE)],
        &format!("{API_TOML}{rrl}"),
        &[],
    )
}

/// What came back for a burst of queries sent at once from `from`.
#[derive(Debug, Default)]
struct Outcome {
    full: usize,
    slipped: usize,
    silent: usize,
    /// From the first query sent to the follow-up's answer, when every query was handled.
    elapsed: Duration,
}

/// The ID of the query sent after a burst; the burst's are 1000 and up.
const FOLLOW_UP_ID: u16 = 0xf00d;

/// Sends every query at once from `from`, then a follow-up query on the same socket, and
/// reads replies until the follow-up's answer; each reply must answer one of the queries,
/// once. The server answers one socket's datagrams in the order they came, so every reply the
/// burst gets comes before the follow-up's answer: what has not come by then never will. The
/// follow-up (the root's SOA, REFUSED) is the first of its kind from the prefix, so it is
/// never limited.
fn burst(server: SocketAddr, from: IpAddr, queries: &[Vec<u8>]) -> Outcome {
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).expect("bind a client address on loopback");
    socket.set_read_timeout(Some(crate::support::client::ANSWER_WAIT)).unwrap();
    let started = Instant::now();
    for query in queries {
        socket.send_to(query, server).unwrap();
    }
    let follow_up = Q { id: FOLLOW_UP_ID, ..Q::new(".", RecordType::SOA) }.no_edns();
    socket.send_to(&follow_up.bytes(), server).unwrap();
    let mut waiting: HashSet<u16> = queries.iter().map(|q| u16::from_be_bytes([q[0], q[1]])).collect();
    assert_eq!(waiting.len(), queries.len(), "distinct IDs");
    assert!(!waiting.contains(&FOLLOW_UP_ID));
    let mut outcome = Outcome::default();
    let mut buf = [0u8; 4096];
    loop {
        assert!(started.elapsed() < Duration::from_secs(10), "no answer to the follow-up within 10 s: {outcome:?}");
        let len = socket.recv(&mut buf).unwrap_or_else(|e| panic!("no reply within the wait ({e}): {outcome:?}"));
        let reply = Message::from_vec(&buf[..len]).expect("a reply that parses");
        if reply.metadata.id == FOLLOW_UP_ID {
            assert!(!reply.metadata.truncation, "the follow-up is not limited: {reply:?}");
            break;
        }
        assert!(waiting.remove(&reply.metadata.id), "a reply to a query of ours, once: {}", reply.metadata.id);
        if reply.metadata.truncation {
            assert!(reply.answers.is_empty() && reply.authorities.is_empty(), "a slipped reply is empty: {reply:?}");
            assert_eq!(reply.queries.len(), 1, "a slipped reply keeps the question");
            outcome.slipped += 1;
        } else {
            assert!(!reply.answers.is_empty() || !reply.authorities.is_empty(), "{reply:?}");
            outcome.full += 1;
        }
    }
    outcome.elapsed = started.elapsed();
    outcome.silent = waiting.len();
    outcome
}

fn queries(count: usize, name: impl Fn(usize) -> String, rtype: RecordType) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut bytes = Q::new(&name(i), rtype).bytes();
            bytes[..2].copy_from_slice(&(i as u16 + 1000).to_be_bytes());
            bytes
        })
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// At most the burst plus the rate over the time the flood took (and one for rounding).
fn most_allowed(outcome: &Outcome) -> usize {
    5 + (5.0 * outcome.elapsed.as_secs_f64()).ceil() as usize + 1
}

/// `meridian_rrl_limited_total{action}` on a metrics page.
fn held_back(page: &str, action: &str) -> usize {
    let line = format!("meridian_rrl_limited_total{{action=\"{action}\"}} ");
    let found = page.lines().find_map(|l| l.strip_prefix(line.as_str())).unwrap_or_else(|| panic!("{line} in {page}"));
    found.trim().parse().unwrap()
}

#[test]
fn a_flood_from_one_prefix_is_limited_while_others_are_answered_in_full() {
    let server = limited();
    let flood = queries(100, |_| "www.example.test.".into(), RecordType::A);
    let limited = burst(server.addr, ip("127.0.0.1"), &flood);
    assert!((5..=most_allowed(&limited)).contains(&limited.full), "{limited:?}");
    // Each limited response slips with odds of 1 in 2: about half of the 90-odd.
    let held = limited.slipped + limited.silent;
    assert_eq!(held, 100 - limited.full);
    assert!((held / 4..=held * 3 / 4).contains(&limited.slipped), "{limited:?}");

    // Another /24 (127.0.1.0/24) has buckets of its own: its burst is answered in full.
    let other = burst(server.addr, ip("127.0.1.1"), &queries(5, |_| "www.example.test.".into(), RecordType::A));
    assert_eq!((other.full, other.slipped, other.silent), (5, 0, 0), "{other:?}");
    // The flooding prefix still gets other responses: another RRset is another bucket.
    let soa = burst(server.addr, ip("127.0.0.2"), &queries(5, |_| "example.test.".into(), RecordType::SOA));
    assert_eq!((soa.full, soa.slipped, soa.silent), (5, 0, 0), "{soa:?}");
    // An exempt prefix is never limited.
    let exempt = burst(server.addr, ip("127.0.2.9"), &flood);
    assert_eq!((exempt.full, exempt.slipped, exempt.silent), (100, 0, 0), "{exempt:?}");

    // The metrics count what was held back.
    let page = server.api().get("/metrics").body;
    assert_eq!((held_back(&page, "dropped"), held_back(&page, "slipped")), (limited.silent, limited.slipped));
    // A dropped response was not answered: the query counters leave it out (205 A queries
    // sent in all, from the flood, the other prefix and the exempt one).
    let answered = page
        .lines()
        .find_map(|l| l.strip_prefix(r#"meridian_queries_total{transport="udp",qtype="A",rcode="NOERROR"} "#))
        .unwrap_or_else(|| panic!("UDP A NOERROR in {page}"));
    assert_eq!(answered.trim().parse::<usize>().unwrap(), 205 - limited.silent);
}

#[test]
fn random_names_that_do_not_exist_share_the_zones_bucket() {
    let server = limited();
    // A random-subdomain flood: every name different, every answer NXDOMAIN from one zone.
    let names = queries(60, |i| format!("nope-{i}-{}.example.test.", i * 7919 % 1000), RecordType::A);
    let outcome = burst(server.addr, ip("127.0.3.1"), &names);
    assert!((5..=most_allowed(&outcome)).contains(&outcome.full), "{outcome:?}");
    // The client's case does not open new buckets either (RFC 4343).
    let cased = queries(
        40,
        |i| if i % 2 == 0 { "WWW.example.test.".into() } else { "www.EXAMPLE.test.".into() },
        RecordType::A,
    );
    let outcome = burst(server.addr, ip("127.0.4.1"), &cased);
    assert!((5..=most_allowed(&outcome)).contains(&outcome.full), "{outcome:?}");
}

#[test]
fn without_rrl_a_flood_is_answered_in_full() {
    let server = TestServer::start();
    let flood = queries(100, |_| "www.example.test.".into(), RecordType::A);
    let outcome = burst(server.addr, ip("127.0.0.1"), &flood);
    assert_eq!((outcome.full, outcome.slipped, outcome.silent), (100, 0, 0), "{outcome:?}");
}

#[test]
fn tcp_is_never_rate_limited() {
    let server = limited();
    // Over TCP the handshake proves the source: 100 identical queries in one write, from the
    // /24 a UDP flood would have limited after 5, are all answered in full.
    let mut stream = crate::support::client::tcp_connect(server.addr);
    let mut pipeline = Vec::new();
    for id in 0..100u16 {
        let bytes = Q { id, ..Q::new("www.example.test.", RecordType::A) }.bytes();
        pipeline.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        pipeline.extend_from_slice(&bytes);
    }
    std::io::Write::write_all(&mut stream, &pipeline).unwrap();
    for id in 0..100u16 {
        let reply = crate::support::client::tcp_recv(&mut stream).unwrap_or_else(|| panic!("answer {id}"));
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!((reply.metadata.id, reply.metadata.truncation, reply.answers.len()), (id, false, 2));
    }
    let page = server.api().get("/metrics").body;
    assert!(page.contains("meridian_rrl_limited_total{action=\"dropped\"} 0"), "{page}");
}

#[test]
fn with_slip_0_every_limited_response_is_dropped() {
    let server = limiting(0);
    let outcome = burst(server.addr, ip("127.0.5.1"), &queries(60, |_| "www.example.test.".into(), RecordType::A));
    assert!((5..=most_allowed(&outcome)).contains(&outcome.full), "{outcome:?}");
    assert_eq!((outcome.slipped, outcome.silent), (0, 60 - outcome.full), "none slipped, the rest dropped");
    let page = server.api().get("/metrics").body;
    assert_eq!((held_back(&page, "dropped"), held_back(&page, "slipped")), (outcome.silent, 0));
}

#[test]
fn with_slip_1_every_limited_response_is_truncated() {
    let server = limiting(1);
    let outcome = burst(server.addr, ip("127.0.6.1"), &queries(60, |_| "www.example.test.".into(), RecordType::A));
    assert!((5..=most_allowed(&outcome)).contains(&outcome.full), "{outcome:?}");
    assert_eq!((outcome.slipped, outcome.silent), (60 - outcome.full, 0), "all slipped with TC=1, none dropped");
    let page = server.api().get("/metrics").body;
    assert_eq!((held_back(&page, "dropped"), held_back(&page, "slipped")), (0, outcome.slipped));
}
