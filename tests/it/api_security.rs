//! The admin API's limits, each opened past its edge over real sockets: failed
//! authentications per address, head and body sizes, connections, and the head, idle and
//! request timeouts. Every wait has a deadline and ends on a condition.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::http::{Api, Reply, TOKEN};
use crate::support::{API_TOML, TEST_ZONE, TestServer};

const STATUS: &str = "/api/v1/lb/status";

/// A server whose `[api]` table has `api` added to the test settings.
fn server(api: &str) -> TestServer {
    TestServer::with_config("", &[("example.test.zone", TEST_ZONE)], &format!("{API_TOML}{api}\n"), &[])
}

/// A request that closes its connection, with the token given (`None`: no Authorization).
pub fn request(method: &str, path: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("{method} {path} HTTP/1.1\r\nHost: meridian\r\nConnection: close\r\n{auth}\r\n").into_bytes()
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to the API");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Reads until the server closes the connection; how long that took. A read that times out
/// means the server kept it open, and fails the test.
pub fn wait_for_close(stream: &mut TcpStream, started: Instant) -> Duration {
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return started.elapsed();
            }
            Err(e) => panic!("the server kept the connection open ({e}) after {:?}", started.elapsed()),
        }
    }
}

#[test]
fn eleven_bad_tokens_then_429_even_with_the_right_token_while_another_address_is_served() {
    // Loopback is exempt by default (the operator's own address): exempt nothing here.
    let server = server("lockout_exempt = []");
    let api = server.api();
    for n in 1..=10 {
        let reply = api.send("GET", STATUS, None, Some(&format!("wrong-{n}")));
        assert_eq!(reply.status, 401, "failure {n}: {}", reply.body);
    }
    let refused = api.send("GET", STATUS, None, Some("wrong-11"));
    assert_eq!(refused.status, 429, "{}", refused.body);
    for reply in [refused, api.get(STATUS), api.send("GET", STATUS, None, None)] {
        assert_eq!(reply.status, 429, "the right token too: {}", reply.body);
        let retry: u64 = reply.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(reply.error().0.contains("too many failed authentications"), "{}", reply.body);
    }
    assert_eq!(api.send("GET", "/healthz", None, None).status, 200, "/healthz needs no token");
    let metrics = api.send("GET", "/metrics", None, None);
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("\nmeridian_api_auth_failures_total 10\n"), "{}", metrics.body);
    let other = api.raw_from(IpAddr::from([127, 0, 0, 2]), &request("GET", STATUS, Some(TOKEN)));
    assert_eq!(other.status, 200, "another address is served: {}", other.body);
}

#[test]
fn successes_neither_count_toward_the_lockout_nor_reset_the_count() {
    let server = server("max_failed_auth = 4\nlockout_exempt = []");
    let api = server.api();
    // Three failures with a success after each: six requests, more than the limit, yet the
    // successes are served (they do not count) and the failures go on adding up (the
    // successes do not reset them).
    for n in 1..=3 {
        let failed = api.send("GET", STATUS, None, Some(&format!("wrong-{n}")));
        assert_eq!(failed.status, 401, "failure {n}: {}", failed.body);
        let served = api.get(STATUS);
        assert_eq!(served.status, 200, "the success after failure {n}: {}", served.body);
    }
    // The fourth failure reaches the limit: it is answered 401, and from then on the address
    // is refused, the right token too.
    let fourth = api.send("GET", STATUS, None, Some("wrong-4"));
    assert_eq!(fourth.status, 401, "{}", fourth.body);
    let refused = api.get(STATUS);
    assert_eq!(refused.status, 429, "locked out exactly when the failures alone reach 4: {}", refused.body);
}

#[test]
fn the_refusal_ends_when_its_window_has_passed() {
    let server = server("max_failed_auth = 2\nfailed_auth_window_secs = 1\nlockout_exempt = []");
    let api = server.api();
    assert_eq!(api.send("GET", STATUS, None, Some("wrong")).status, 401);
    assert_eq!(api.send("GET", STATUS, None, Some("wrong")).status, 401);
    let refused = api.get(STATUS);
    assert_eq!((refused.status, refused.header("retry-after")), (429, Some("1")), "{}", refused.head);
    // The window runs on the server's real clock and publishes nothing: poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api.get(STATUS).status != 200 {
        assert!(Instant::now() < deadline, "still refused after 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn heads_above_the_size_limit_or_with_too_many_headers_get_431() {
    let server = server("max_header_bytes = 2048");
    let api = server.api();
    let with = |headers: &str| {
        let head =
            format!("GET {STATUS} HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n");
        api.raw(format!("{head}{headers}\r\n").as_bytes())
    };
    assert_eq!(with(&format!("X-Pad: {}\r\n", "a".repeat(1_500))).status, 200, "under the limit");
    let big = with(&format!("X-Pad: {}\r\n", "a".repeat(4_000)));
    assert_eq!(big.status, 431, "{}", big.head);
    let many: String = (0..101).map(|n| format!("X-{n}: v\r\n")).collect();
    assert_eq!(with(&many).status, 431, "more than 100 headers");
}

#[test]
fn bodies_above_the_limit_get_413_chunked_or_not() {
    let server = server("max_body_bytes = 1024");
    let api = server.api();
    let head = |framing: &str| {
        format!(
            "POST /api/v1/lb/health/check HTTP/1.1\r\nHost: m\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n"
        )
    };
    let padded = format!("{{\"region\":\"{}\"}}", "a".repeat(3_000));
    let chunks: String =
        padded.as_bytes().chunks(500).map(|c| format!("{:x}\r\n{}\r\n", c.len(), String::from_utf8_lossy(c))).collect();
    let chunked = api.raw(format!("{}{chunks}0\r\n\r\n", head("Transfer-Encoding: chunked")).as_bytes());
    assert_eq!(chunked.status, 413, "{}", chunked.body);
    let sized = api.raw(format!("{}{padded}", head(&format!("Content-Length: {}", padded.len()))).as_bytes());
    assert_eq!(sized.status, 413, "{}", sized.body);
    // A small chunked body is read and answered: an unknown region.
    let small = "{\"region\":\"nowhere\"}";
    let reply =
        api.raw(format!("{}{:x}\r\n{small}\r\n0\r\n\r\n", head("Transfer-Encoding: chunked"), small.len()).as_bytes());
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[test]
fn a_slow_loris_is_cut_off_within_the_header_timeout() {
    let server = server("header_timeout_secs = 1");
    let mut stream = connect(server.api().addr);
    let started = Instant::now();
    let mut writer = stream.try_clone().unwrap();
    // One byte of an endless header every 50 ms, until the server closes the connection.
    let loris = std::thread::spawn(move || {
        let mut sent = writer.write_all(b"GET /healthz HTTP/1.1\r\nHost: m\r\nX-Slow: ");
        while sent.is_ok() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
            sent = writer.write_all(b"a");
        }
    });
    let closed = wait_for_close(&mut stream, started);
    assert!(closed >= Duration::from_millis(900) && closed < Duration::from_secs(3), "closed after {closed:?}");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    loris.join().unwrap();
}

#[test]
fn silent_and_idle_kept_alive_connections_are_closed_after_the_header_timeout() {
    let server = server("header_timeout_secs = 1");
    let addr = server.api().addr;
    let mut silent = connect(addr);
    let closed = wait_for_close(&mut silent, Instant::now());
    assert!(closed < Duration::from_secs(3), "a silent connection closed after {closed:?}");

    let mut kept = connect(addr);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: m\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    while !answer.ends_with(b"}") {
        let n = kept.read(&mut buffer).expect("an answer");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..n]);
    }
    assert_eq!(Reply::parse(&answer).status, 200);
    let closed = wait_for_close(&mut kept, Instant::now());
    assert!(closed < Duration::from_secs(3), "an idle kept-alive connection closed after {closed:?}");
}

#[test]
fn a_body_that_never_arrives_gets_408_within_the_request_timeout() {
    let server = server("request_timeout_secs = 1");
    let mut stream = connect(server.api().addr);
    let started = Instant::now();
    let head = format!(
        "POST /api/v1/lb/health/check HTTP/1.1\r\nHost: m\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"region\":"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let reply = Reply::parse(&bytes);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(started.elapsed() < Duration::from_secs(3), "answered after {:?}", started.elapsed());
}

/// The status of `GET /healthz` on a new connection, or `None` if the server closes it.
fn healthz(addr: SocketAddr) -> Option<u16> {
    let mut stream = connect(addr);
    stream.write_all(&request("GET", "/healthz", None)).ok()?;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes.starts_with(b"HTTP/1.1 ").then(|| Reply::parse(&bytes).status)
}

#[test]
fn one_client_address_cannot_take_every_connection() {
    let server = server("max_connections = 10\nmax_connections_per_client = 2");
    let addr = server.api().addr;
    let _held: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
    let mut third = connect(addr);
    let closed = wait_for_close(&mut third, Instant::now());
    assert!(closed < Duration::from_secs(3), "a third connection from one address closed after {closed:?}");
    assert_eq!(healthz(addr), None, "no third connection from 127.0.0.1");
    // Another address still gets in, with room under the total.
    let other = {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::from(([127, 0, 0, 3], 0)).into()).unwrap();
        socket.connect_timeout(&addr.into(), Duration::from_secs(5)).unwrap();
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream
    };
    let mut other = other;
    other.write_all(&request("GET", "/healthz", None)).unwrap();
    let mut bytes = Vec::new();
    let _ = other.read_to_end(&mut bytes);
    assert!(bytes.starts_with(b"HTTP/1.1 200"), "127.0.0.3: {}", String::from_utf8_lossy(&bytes));
}

#[test]
fn connections_beyond_the_limit_are_closed_until_one_ends() {
    let server = server("max_connections = 3");
    let addr = server.api().addr;
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(addr)).collect();
    let mut extra = connect(addr);
    let closed = wait_for_close(&mut extra, Instant::now());
    assert!(closed < Duration::from_secs(3), "the fourth connection closed after {closed:?}");
    assert_eq!(healthz(addr), None, "no slot while three are open");
    drop(open.pop());
    // The slot frees when the server sees the socket close, which publishes nothing: poll.
    let deadline = Instant::now() + Duration::from_secs(10);
    while healthz(addr) != Some(200) {
        assert!(Instant::now() < deadline, "no slot freed within 10 s of a connection ending");
        std::thread::sleep(Duration::from_millis(20));
    }
    let api = Api { addr };
    assert_eq!(api.get(STATUS).status, 200);
}
