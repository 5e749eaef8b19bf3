//! TCP per RFC 7766: framing, pipelining, idle timeout, many connections at once.

use std::io::Write;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::TestServer;
use crate::support::client::{self, Q};

#[test]
fn pipelined_queries_on_one_connection_are_all_answered() {
    let server = TestServer::start();
    let mut stream = client::tcp_connect(server.addr);
    let names = ["www.example.test.", "mail.example.test.", "nx.example.test.", "sip.example.test."];
    // All queries written before any answer is read (RFC 7766 section 6.2.1.1).
    let mut burst = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let bytes = Q { id: i as u16 + 1, ..Q::new(name, RecordType::A) }.bytes();
        burst.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        burst.extend_from_slice(&bytes);
    }
    stream.write_all(&burst).unwrap();
    let mut ids: Vec<u16> = (0..names.len())
        .map(|_| Message::from_vec(&client::tcp_recv(&mut stream).expect("an answer")).unwrap().metadata.id)
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let server = TestServer::with_server_toml("tcp_idle_timeout_secs = 1");
    let mut stream = client::tcp_connect(server.addr);
    let started = Instant::now();
    // EOF or a reset within the deadline; a read timeout, or data, fails.
    client::wait_for_close(&mut stream, Duration::from_secs(8), "the idle connection");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(8), "closed after {waited:?}");
}

#[test]
fn many_concurrent_connections_are_served() {
    // All 200 from 127.0.0.1: above the default per-client limit of 100.
    let server = TestServer::with_server_toml("tcp_max_connections_per_client = 200");
    let mut streams: Vec<_> = (0..200).map(|_| client::tcp_connect(server.addr)).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        client::tcp_send(stream, &Q { id: i as u16, ..Q::new("www.example.test.", RecordType::A) }.bytes());
    }
    for (i, stream) in streams.iter_mut().enumerate() {
        let reply = Message::from_vec(&client::tcp_recv(stream).expect("an answer")).unwrap();
        assert_eq!(reply.metadata.id, i as u16);
        assert_eq!(reply.answers.len(), 2);
    }
}

#[test]
fn a_slow_or_idle_connection_never_blocks_others() {
    let server = TestServer::start();
    // One connection sends half a length prefix and stalls; another sends nothing at all.
    let mut slow = client::tcp_connect(server.addr);
    slow.write_all(&[0]).unwrap();
    let _idle = client::tcp_connect(server.addr);
    for _ in 0..20 {
        assert_eq!(client::tcp(server.addr, &Q::new("www.example.test.", RecordType::A)).answers.len(), 2);
        assert_eq!(client::udp(server.addr, &Q::new("www.example.test.", RecordType::A)).answers.len(), 2);
    }
    // The slow one finishes its query later and is answered too.
    let bytes = Q::new("mail.example.test.", RecordType::A).bytes();
    slow.write_all(&[bytes.len() as u8]).unwrap();
    slow.write_all(&bytes).unwrap();
    let reply = Message::from_vec(&client::tcp_recv(&mut slow).expect("an answer")).unwrap();
    assert_eq!(reply.answers.len(), 1);
}
