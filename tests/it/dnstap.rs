//! dnstap, checked with the tools operators read it with: `fstrm_capture` (Debian's
//! fstrm-bin) is the collector and writes a capture file, `dnstap-read` (bind9-dnsutils)
//! decodes it. Without them these tests print a notice and skip, except under CI, where
//! they fail.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::support::client::{Q, tcp, udp_exchange};
use crate::support::{API_TOML, TEST_ZONE, TempDir, TestServer};

/// How long anything here may take before the test fails.
const LIMIT: Duration = Duration::from_secs(20);

/// `fstrm_capture` writing what it receives to `file`, stopped (and its file closed) by
/// [`Capture::decode`], killed on drop.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    /// Listens on `where_` (`-u PATH` or `-a ADDR -p PORT`); `None` (with a notice) when the
    /// tools are not installed, outside CI.
    fn start(where_: &[&str], file: &Path) -> Option<Capture> {
        let installed = |tool: &str| Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
        if !["fstrm_capture", "dnstap-read"].iter().all(|t| installed(t).is_ok_and(|o| o.status.success())) {
            assert!(
                std::env::var_os("CI").is_none(),
                "fstrm_capture or dnstap-read missing: CI must run the dnstap tests"
            );
            eprintln!(
                "NOTICE: fstrm_capture (fstrm-bin) or dnstap-read (bind9-dnsutils) missing: dnstap tests SKIPPED"
            );
            return None;
        }
        let child = Command::new("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap"])
            .args(where_)
            .arg("-w")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fstrm_capture");
        Some(Capture { child, file: file.to_owned() })
    }

    /// Stops the collector as an operator would (SIGTERM: it closes its file), whatever it
    /// has not read yet left unread.
    fn stop(&mut self) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        // SAFETY: kill with a pid this test spawned and has not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + LIMIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "fstrm_capture did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the collector and decodes its file with `dnstap-read -y`: one YAML document per
    /// message. Stop the server first, so that the collector has read everything: the server
    /// ends the stream with STOP and waits for the collector's FINISH.
    fn decode(mut self) -> Vec<String> {
        self.stop();
        let read = Command::new("dnstap-read").arg("-y").arg(&self.file).output().expect("run dnstap-read");
        assert!(read.status.success(), "dnstap-read: {}", String::from_utf8_lossy(&read.stderr));
        String::from_utf8(read.stdout).unwrap().split("\n---").map(str::to_owned).collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server's `/metrics` sample `series` (as written on the page, labels and all).
fn metric(server: &TestServer, series: &str) -> Option<f64> {
    let page = server.api().send("GET", "/metrics", None, None).body;
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls `/metrics` until `holds` is true of `series`.
fn wait_for_metric(server: &TestServer, series: &str, holds: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(value) = metric(server, series).filter(|v| holds(*v)) {
            return value;
        }
        assert!(Instant::now() < deadline, "{series} not as expected within {LIMIT:?}: {:?}", metric(server, series));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dropped(server: &TestServer) -> f64 {
    ["queue_full", "no_collector"]
        .iter()
        .map(|r| metric(server, &format!("meridian_dnstap_dropped_total{{reason=\"{r}\"}}")).unwrap())
        .sum()
}

/// The client subnet of query `i`: each query of a burst carries its own.
fn subnet(burst: u8, i: usize) -> String {
    format!("{}.{}.{}.0/24", 10 + burst, i / 256, i % 256)
}

/// Sends `count` UDP queries with ECS (burst `burst`) and `tcp_count` over TCP; every one
/// must be answered.
fn send_burst(addr: SocketAddr, burst: u8, count: usize, tcp_count: usize) {
    for i in 0..count {
        let query = Q::new("www.example.test.", RecordType::A).ecs(&subnet(burst, i)).bytes();
        assert!(udp_exchange(addr, &query, Duration::from_secs(2)).is_some(), "query {i} of burst {burst} unanswered");
    }
    for i in count..count + tcp_count {
        let answer = tcp(addr, &Q::new("www.example.test.", RecordType::A).ecs(&subnet(burst, i)));
        assert!(!answer.answers.is_empty(), "TCP query {i} of burst {burst}: {answer}");
    }
}

/// The messages of `kind` (`AUTH_QUERY`, `AUTH_RESPONSE`) whose decoded message carries
/// `CLIENT-SUBNET: subnet`.
fn with_subnet<'d>(documents: &'d [String], kind: &str, subnet: &str) -> Vec<&'d String> {
    let option = format!("CLIENT-SUBNET: {subnet}/");
    documents.iter().filter(|d| d.contains(&format!("type: {kind}\n")) && d.contains(&option)).collect()
}

fn server_with(dnstap: &str) -> TestServer {
    let more = format!("{API_TOML}[dnstap]\n{dnstap}\n");
    TestServer::with_config("identity = \"dnstap-test\"", &[("example.test.zone", TEST_ZONE)], &more, &[])
}

#[test]
fn every_query_of_a_burst_is_logged_with_its_ecs_option_and_its_response() {
    let dir = TempDir::new("dnstap");
    let socket = dir.path().join("dnstap.sock");
    let Some(capture) = Capture::start(&["-u", socket.to_str().unwrap()], &dir.path().join("burst.fstrm")) else {
        return;
    };
    let server = server_with(&format!("socket = \"{}\"", socket.display()));
    wait_for_metric(&server, "meridian_dnstap_connected", |v| v == 1.0);
    let (udp_count, tcp_count) = (200, 20);
    send_burst(server.addr, 1, udp_count, tcp_count);
    let messages = 2.0 * (udp_count + tcp_count) as f64;
    wait_for_metric(&server, "meridian_dnstap_sent_total", |v| v >= messages);
    assert_eq!(dropped(&server), 0.0, "nothing dropped with a collector keeping up");
    drop(server); // shut down: what is queued is written, then STOP, and the collector's FINISH
    let documents = capture.decode();
    for i in 0..udp_count + tcp_count {
        let protocol = if i < udp_count { "UDP" } else { "TCP" };
        let queries = with_subnet(&documents, "AUTH_QUERY", &subnet(1, i));
        assert_eq!(queries.len(), 1, "query {i}: {} logged with its ECS option", queries.len());
        let query = queries[0];
        for field in [
            "identity: dnstap-test\n",
            &format!("version: meridian {}\n", env!("CARGO_PKG_VERSION")),
            "socket_family: INET\n",
            &format!("socket_protocol: {protocol}\n"),
            "query_address: \"127.0.0.1\"\n",
            "'www.example.test. IN A'",
        ] {
            assert!(query.contains(field), "query {i} lacks {field:?}:\n{query}");
        }
        let responses = with_subnet(&documents, "AUTH_RESPONSE", &subnet(1, i));
        assert_eq!(responses.len(), 1, "response {i}");
        assert!(responses[0].contains("flags: qr aa"), "response {i} as sent:\n{}", responses[0]);
        assert!(responses[0].contains("ANSWER_SECTION"), "response {i} as sent:\n{}", responses[0]);
    }
}

#[test]
fn a_stopped_collector_costs_no_answer_counts_drops_and_is_reconnected_when_back() {
    let dir = TempDir::new("dnstap");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let listen = ["-a", "127.0.0.1", "-p", &port];
    let Some(mut first) = Capture::start(&listen, &dir.path().join("first.fstrm")) else { return };
    // Queries only: half the messages; a queue the outage's burst overflows.
    let server = server_with(&format!("tcp = \"127.0.0.1:{port}\"\nlog_responses = false\nqueue_size = 64"));
    wait_for_metric(&server, "meridian_dnstap_connected", |v| v == 1.0);
    send_burst(server.addr, 1, 50, 0);
    wait_for_metric(&server, "meridian_dnstap_sent_total", |v| v >= 50.0);
    first.stop();

    // The collector is gone: every query is still answered, and what is not sent is counted.
    send_burst(server.addr, 2, 300, 10);
    wait_for_metric(&server, "meridian_dnstap_connected", |v| v == 0.0);
    let deadline = Instant::now() + LIMIT;
    let sent_before = loop {
        // Every message is sent or counted as dropped, once the writer has taken it.
        let sent = metric(&server, "meridian_dnstap_sent_total").unwrap();
        if sent + dropped(&server) >= 360.0 {
            break sent;
        }
        assert!(Instant::now() < deadline, "{sent} sent and {} dropped of 360", dropped(&server));
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(dropped(&server) >= 250.0, "messages dropped while the collector is gone are counted");

    // Back: the writer reconnects (within its backoff) and new messages arrive.
    let Some(second) = Capture::start(&listen, &dir.path().join("second.fstrm")) else { return };
    wait_for_metric(&server, "meridian_dnstap_connected", |v| v == 1.0);
    send_burst(server.addr, 3, 40, 0);
    wait_for_metric(&server, "meridian_dnstap_sent_total", |v| v >= sent_before + 40.0);
    drop(server);
    let documents = second.decode();
    assert!(!documents.iter().any(|d| d.contains("AUTH_RESPONSE")), "log_responses = false");
    for i in 0..40 {
        assert_eq!(with_subnet(&documents, "AUTH_QUERY", &subnet(3, i)).len(), 1, "query {i} after the reconnection");
    }
    assert!(with_subnet(&documents, "AUTH_QUERY", &subnet(2, 0)).is_empty(), "nothing queued while it was gone");
}
