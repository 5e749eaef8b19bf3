//! The UDP edge: datagrams from sources no answer can rightly go to (port 0, the unspecified
//! address, broadcast, multicast) are dropped unanswered and counted in
//! `meridian_dropped_total{reason}`, as hickory's server drops them. As root the datagrams
//! are forged with a raw socket and go through the kernel to the server's real socket; where
//! raw sockets are refused they go through the pipeline with a forged source instead.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use meridian::dns::pipeline::Answerer;
use meridian::dns::response::Salt;
use meridian::metrics::{Gauges, Observers};

use crate::support::client::{self, Q};
use crate::support::{API_TOML, TEST_ZONE, TempDir, TestServer};

/// The forged sources, the reason each is dropped for, and whether a raw socket can send
/// from it: Linux writes its own address over a zero source (raw(7): "Source Address: Filled
/// in when zero"), so the unspecified address goes through the pipeline only.
const FORGED: [(&str, &str, bool); 4] = [
    ("127.0.0.1:0", "source_port_zero", true),
    ("0.0.0.0:5300", "unspecified", false),
    ("255.255.255.255:5300", "broadcast", true),
    ("224.0.0.1:5300", "multicast", true),
];

/// `meridian_dropped_total{reason}` on a metrics page; 0 when absent.
fn dropped(page: &str, reason: &str) -> u64 {
    let prefix = format!("meridian_dropped_total{{reason=\"{reason}\"}} ");
    page.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map_or(0, |n| n.trim().parse().unwrap())
}

/// UDP A queries answered NOERROR, from a metrics page.
fn answered(page: &str) -> u64 {
    let prefix = r#"meridian_queries_total{transport="udp",qtype="A",rcode="NOERROR"} "#;
    page.lines().find_map(|l| l.strip_prefix(prefix)).map_or(0, |n| n.trim().parse().unwrap())
}

/// An IPv4 datagram from `from` to `to` carrying `payload` over UDP, sent through a raw
/// socket (`IPPROTO_RAW`: we write the IP header, so the source is what we say).
fn send_forged(from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) -> std::io::Result<()> {
    let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]; // IPv4, DF, TTL 64, UDP
    packet.extend_from_slice(&from.ip().octets());
    packet.extend_from_slice(&to.ip().octets());
    let total = (20 + 8 + payload.len()) as u16;
    packet[2..4].copy_from_slice(&total.to_be_bytes()); // the kernel fills in the checksum
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    packet.extend_from_slice(&[0, 0]); // no UDP checksum (RFC 768: allowed over IPv4)
    packet.extend_from_slice(payload);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::RAW, Some(socket2::Protocol::from(255)))?;
    socket.send_to(&packet, &SocketAddr::V4(to).into())?;
    Ok(())
}

#[test]
fn datagrams_from_unanswerable_sources_are_dropped_and_counted() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let server = TestServer::with_config("", &[("example.test.zone", TEST_ZONE)], API_TOML, &[]);
    let SocketAddr::V4(to) = server.addr else { panic!("the test server listens on 127.0.0.1") };
    let query = Q::new("www.example.test.", RecordType::A).bytes();
    let before = answered(&server.api().get("/metrics").body);
    let mut unforged = Vec::new();
    for (from, reason, forgeable) in FORGED {
        if !(root && forgeable && send_forged(from.parse().unwrap(), to, &query).is_ok()) {
            unforged.push((from, reason));
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while dropped(&server.api().get("/metrics").body, reason) == 0 {
            assert!(Instant::now() < deadline, "no datagram from {from} counted as {reason} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!("forged with a raw socket: {}; through the pipeline: {unforged:?}", FORGED.len() - unforged.len());
    // Each counted once and none answered, while a real client still is.
    let page = server.api().get("/metrics").body;
    for (from, reason, _) in FORGED {
        assert!(dropped(&page, reason) <= 1, "{from}: {reason} counted more than once:\n{page}");
    }
    assert_eq!(answered(&page), before, "a forged query was answered:\n{page}");
    let reply = client::udp_exchange(server.addr, &query, Duration::from_secs(5));
    assert!(reply.is_some(), "a query from a real source is answered");
    assert_eq!(answered(&server.api().get("/metrics").body), before + 1);
    through_the_pipeline(&query, &unforged);
}

/// The sources no raw socket could send from, forged where the UDP workers hand datagrams to
/// the pipeline.
fn through_the_pipeline(query: &[u8], forged: &[(&str, &str)]) {
    let dir = TempDir::new("udp-edge");
    dir.write("example.test.zone", TEST_ZONE);
    let config = dir.write("meridian.toml", "[[zone]]\nfile = \"example.test.zone\"\n");
    let snapshot = crate::support::load_snapshot(&config, None);
    let answerer = Answerer::new(Observers::default());
    let mut out = Vec::new();
    for (from, _) in forged {
        let answered = answerer.answer_udp(&snapshot, query, from.parse().unwrap(), Salt::default(), &mut out);
        assert!(!answered, "a datagram from {from} was answered");
    }
    let real = SocketAddr::from((Ipv4Addr::LOCALHOST, 5300));
    assert!(answerer.answer_udp(&snapshot, query, real, Salt::default(), &mut out));
    let gauges = Gauges { generation: 1, endpoints: &[], pools: &[], version: "test", uptime: Duration::ZERO };
    let page = answerer.observers().metrics.render(&gauges);
    for (from, reason) in forged {
        assert_eq!(dropped(&page, reason), 1, "{from}: {reason}");
    }
}
