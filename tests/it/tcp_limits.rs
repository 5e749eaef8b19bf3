//! TCP limits (RFC 7766 sections 6.2 and 10): connections past the per-client limit are closed
//! at once, and at the total limit the connection idle longest gives way, while UDP and other
//! clients are answered; idle and slow connections are
//! closed by their timeouts; shutdown closes what is open; the metrics count all of it.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::client::{self, ANSWER_WAIT, Q};
use crate::support::{API_TOML, TEST_ZONE, TestServer};

/// How long a test waits for the server to close a connection it should close.
const CLOSE_WAIT: Duration = Duration::from_secs(8);

fn query(id: u16) -> Vec<u8> {
    Q { id, ..Q::new("www.example.test.", RecordType::A) }.bytes()
}

/// A message with its two-octet length (RFC 1035 section 4.2.2).
fn framed(message: &[u8]) -> Vec<u8> {
    let mut framed = (message.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(message);
    framed
}

/// A TCP connection to `to` from `from` (any loopback address is ours on Linux).
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let from: IpAddr = from.parse().expect("test address");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.bind(&SocketAddr::new(from, 0).into()).expect("bind the client socket");
    socket.connect_timeout(&to.into(), ANSWER_WAIT).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(ANSWER_WAIT)).expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Asks one query on `stream` and says whether it was answered with the query's ID.
fn is_answered(stream: &mut TcpStream, id: u16) -> bool {
    if stream.write_all(&framed(&query(id))).is_err() {
        return false;
    }
    client::tcp_recv(stream).and_then(|reply| Message::from_vec(&reply).ok()).is_some_and(|m| m.metadata.id == id)
}

/// A connection past a limit: accepted by the kernel, then closed by the server with no
/// answer to the query sent on it.
fn assert_refused(mut stream: TcpStream, what: &str) {
    let _ = stream.write_all(&framed(&query(0xbad))); // the server may have closed already
    let took = client::wait_for_close(&mut stream, ANSWER_WAIT, what);
    assert!(took < ANSWER_WAIT, "{what}: closed after {took:?}");
}

/// Polls `cond` until it holds, within `within`: for what real sockets do (a connection's
/// end reaching the server), which no snapshot publication marks.
fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_udp_answered(server: &TestServer) {
    assert_eq!(client::udp(server.addr, &Q::new("www.example.test.", RecordType::A)).answers.len(), 2);
}

#[test]
fn past_the_total_limit_the_connection_idle_longest_makes_room_while_udp_is_served() {
    let server = TestServer::with_server_toml("tcp_max_connections = 5");
    // Five connections, from two addresses, each answered and then idle: all five are counted.
    let mut held: Vec<TcpStream> =
        (0..5).map(|i| connect_from(if i % 2 == 0 { "127.0.0.1" } else { "127.0.0.3" }, server.addr)).collect();
    for (i, stream) in held.iter_mut().enumerate() {
        assert!(is_answered(stream, i as u16), "held connection {i}");
    }
    // A sixth, from a third address, is served; the connection idle longest is closed for it,
    // so a few addresses holding idle connections cannot keep everyone else out.
    let mut sixth = connect_from("127.0.0.4", server.addr);
    assert!(is_answered(&mut sixth, 6), "the sixth connection");
    client::wait_for_close(&mut held[0], CLOSE_WAIT, "the connection idle longest, for the sixth");
    assert_udp_answered(&server);
    // The others are still served; each answer makes it the most recently idle.
    for (i, stream) in held.iter_mut().enumerate().skip(1) {
        assert!(is_answered(stream, 40 + i as u16), "held connection {i}");
    }
    // So a seventh makes the sixth, now idle longest, give way.
    let mut seventh = connect_from("127.0.0.4", server.addr);
    assert!(is_answered(&mut seventh, 7), "the seventh connection");
    client::wait_for_close(&mut sixth, CLOSE_WAIT, "the sixth, for the seventh");
    assert!(held.iter_mut().skip(1).all(|s| is_answered(s, 50)), "the held connections are still served");
}

#[test]
fn past_the_per_client_limit_that_address_is_closed_while_another_is_served() {
    let server = TestServer::with_server_toml("tcp_max_connections_per_client = 3");
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.1", server.addr)).collect();
    for (i, stream) in held.iter_mut().enumerate() {
        assert!(is_answered(stream, i as u16), "held connection {i}");
    }
    assert_refused(connect_from("127.0.0.1", server.addr), "a fourth connection from 127.0.0.1");
    let mut other = connect_from("127.0.0.3", server.addr);
    assert!(is_answered(&mut other, 9), "a connection from 127.0.0.3");
    assert_udp_answered(&server);
    assert!(held.iter_mut().all(|s| is_answered(s, 10)), "the held connections are still served");
}

#[test]
fn a_connection_idle_after_its_answer_is_closed_after_the_idle_timeout() {
    let server = TestServer::with_server_toml("tcp_idle_timeout_secs = 1\ntcp_query_timeout_secs = 30");
    let mut stream = client::tcp_connect(server.addr);
    assert!(is_answered(&mut stream, 1));
    let took = client::wait_for_close(&mut stream, CLOSE_WAIT, "the idle connection");
    assert!(took >= Duration::from_millis(800), "closed after {took:?}, before the idle timeout");
}

#[test]
fn a_slow_loris_is_closed_after_the_query_timeout_while_others_are_answered() {
    let server = TestServer::with_server_toml("tcp_idle_timeout_secs = 30\ntcp_query_timeout_secs = 1");
    // One octet of a length prefix, and nothing more.
    let mut half_prefix = client::tcp_connect(server.addr);
    half_prefix.write_all(&[0]).unwrap();
    let started = Instant::now();
    // A whole prefix and part of the message, then an octet every 200 ms: activity does not
    // extend the time a message may take to arrive.
    let mut trickle = client::tcp_connect(server.addr);
    let bytes = query(2);
    trickle.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
    trickle.write_all(&bytes[..4]).unwrap();
    let mut sent = 4;
    while started.elapsed() < Duration::from_millis(1500) && sent < bytes.len() - 1 {
        assert!(is_answered(&mut client::tcp_connect(server.addr), 3), "another TCP client");
        assert_udp_answered(&server);
        std::thread::sleep(Duration::from_millis(200));
        if trickle.write_all(&bytes[sent..sent + 1]).is_err() {
            break; // closed already
        }
        sent += 1;
    }
    for (what, stream) in [("half a prefix", &mut half_prefix), ("a trickled message", &mut trickle)] {
        client::wait_for_close(stream, CLOSE_WAIT, what);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(10), "{what}: closed after {took:?}");
    }
}

#[test]
fn hundreds_of_pipelined_queries_are_all_answered_in_order() {
    let server = TestServer::start();
    let mut stream = client::tcp_connect(server.addr);
    // 300 queries in one write, a large answer among them, and the last one split in two.
    let mut burst = Vec::new();
    for id in 0..300u16 {
        let (name, rtype) =
            if id == 150 { ("huge.example.test.", RecordType::TXT) } else { ("www.example.test.", RecordType::A) };
        burst.extend_from_slice(&framed(&Q { id, ..Q::new(name, rtype) }.bytes()));
    }
    let split = burst.len() - 10;
    stream.write_all(&burst[..split]).unwrap();
    let mut ids = Vec::new();
    for _ in 0..299 {
        ids.push(Message::from_vec(&client::tcp_recv(&mut stream).expect("an answer")).unwrap().metadata.id);
    }
    stream.write_all(&burst[split..]).unwrap();
    ids.push(Message::from_vec(&client::tcp_recv(&mut stream).expect("the last answer")).unwrap().metadata.id);
    assert_eq!(ids, (0..300).collect::<Vec<u16>>());
}

#[test]
fn shutdown_closes_open_connections_within_the_grace_period() {
    let server = TestServer::with_server_toml("tcp_idle_timeout_secs = 600\nshutdown_grace_secs = 3");
    let mut idle = client::tcp_connect(server.addr);
    let mut partial = client::tcp_connect(server.addr);
    assert!(is_answered(&mut idle, 1));
    partial.write_all(&[0]).unwrap();
    let started = Instant::now();
    drop(server); // shuts down, as SIGTERM does
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    client::wait_for_close(&mut idle, Duration::from_secs(1), "the idle connection at shutdown");
    client::wait_for_close(&mut partial, Duration::from_secs(1), "the partial query at shutdown");
}

#[test]
fn metrics_count_open_refused_and_timed_out_connections() {
    let server = TestServer::with_config(
        "tcp_max_connections = 4\ntcp_max_connections_per_client = 2\ntcp_idle_timeout_secs = 3\n\
         tcp_query_timeout_secs = 1",
        &[("example.test.zone", TEST_ZONE)],
        API_TOML,
        &[],
    );
    let metric = |series: &str| -> u64 {
        let page = server.api().get("/metrics").body;
        let prefix = format!("{series} ");
        let found = page.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
        found.unwrap_or_else(|| panic!("{series} in {page}")).trim().parse().unwrap()
    };
    // Answered: each counted, and held for the 3 s of the idle timeout, enough for the
    // refusals below. The total is checked first, so the per-client refusal comes while there
    // is room in the total.
    let mut held = Vec::new();
    for (i, from) in ["127.0.0.1", "127.0.0.1", "127.0.0.3"].into_iter().enumerate() {
        held.push(connect_from(from, server.addr));
        assert!(is_answered(&mut held[i], i as u16));
    }
    assert_refused(connect_from("127.0.0.1", server.addr), "a third from 127.0.0.1");
    held.push(connect_from("127.0.0.3", server.addr));
    assert!(is_answered(&mut held[3], 3));
    assert_eq!(metric("meridian_tcp_connections"), 4);
    // A fifth in all is served, and the connection idle longest closed to make room for it.
    held.push(connect_from("127.0.0.4", server.addr));
    assert!(is_answered(&mut held[4], 4), "a fifth in all");
    client::wait_for_close(&mut held[0], CLOSE_WAIT, "the connection idle longest, for the fifth");
    held.remove(0);
    eventually(CLOSE_WAIT, "four open", || metric("meridian_tcp_connections") == 4);
    assert_eq!(metric("meridian_tcp_timeouts_total{kind=\"evicted\"}"), 1);
    assert_eq!(metric("meridian_tcp_refused_total{reason=\"per_client\"}"), 1);
    assert_eq!(metric("meridian_tcp_refused_total{reason=\"total\"}"), 0);
    // The four time out idle; then a slow one times out within its query.
    for stream in &mut held {
        client::wait_for_close(stream, CLOSE_WAIT, "an idle connection");
    }
    eventually(CLOSE_WAIT, "no connection open", || metric("meridian_tcp_connections") == 0);
    let mut slow = client::tcp_connect(server.addr);
    slow.write_all(&[0]).unwrap();
    client::wait_for_close(&mut slow, CLOSE_WAIT, "the slow query");
    eventually(CLOSE_WAIT, "no connection open", || metric("meridian_tcp_connections") == 0);
    assert_eq!(metric("meridian_tcp_timeouts_total{kind=\"idle\"}"), 4);
    assert_eq!(metric("meridian_tcp_timeouts_total{kind=\"query\"}"), 1);
    assert_eq!(metric("meridian_tcp_refused_total{reason=\"per_client\"}"), 1, "counted once each");
    assert_eq!(metric("meridian_tcp_timeouts_total{kind=\"evicted\"}"), 1);
}

/// `meridian serve` (the real binary, whose process limits are its own) started with the
/// open-files limit `soft` and `hard`, `tcp_max_connections = max`, in a directory the serving
/// user can read (started as root, it serves as `nobody`).
fn serve_with_open_files_limit(
    dir: &crate::support::TempDir,
    soft: u64,
    hard: u64,
    max: u32,
) -> crate::support::serve::Served {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.write("example.test.zone", TEST_ZONE);
    let config = dir.write(
        "meridian.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 1\ntcp_max_connections = {max}\n\
             tcp_max_connections_per_client = {max}\n[[zone]]\nfile = \"example.test.zone\"\n"
        ),
    );
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"));
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: setrlimit is async-signal-safe and reads only `limit`, a copy owned by the closure.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    crate::support::serve::serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path())
}

/// The soft and hard open-files limits of a process, from `/proc/PID/limits`.
fn open_files_limit(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("the server's limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_else(|| panic!("{limits}"));
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    (numbers[0], numbers[1])
}

#[test]
fn the_open_files_limit_is_raised_to_the_hard_limit_when_tcp_max_connections_needs_it() {
    let dir = crate::support::TempDir::new("nofile");
    // 1,000 connections need more than 128 descriptors: the soft limit goes up to the hard one
    // by the time the server listens.
    let served = serve_with_open_files_limit(&dir, 128, 4096, 1000);
    assert_eq!(open_files_limit(served.child.id()), (4096, 4096), "raised to the hard limit");
    // And it takes what the old soft limit could not: 200 connections at once, each answered.
    let mut open: Vec<TcpStream> = (0..200).map(|_| client::tcp_connect(served.addr)).collect();
    for (i, stream) in open.iter_mut().enumerate() {
        assert!(is_answered(stream, i as u16), "connection {i} of 200, past the old soft limit of 128");
    }
    drop(open);
    drop(served);
    // 10 connections fit in 512 descriptors: the limit is left as it was.
    let served = serve_with_open_files_limit(&dir, 512, 4096, 10);
    assert_eq!(open_files_limit(served.child.id()), (512, 4096), "left alone when it is enough");
}
