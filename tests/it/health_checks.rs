//! What a health check sends and how it is judged and run, as the README's "Health checks and
//! failover" promises it: `expect`, `method`, the `Host` header, `initial = "down"`, at most 64
//! probes in flight, transitions logged at `info`. Real targets served by the test, a real
//! server (in process, or the real binary for its log), real queries.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::health::{LIMIT, addresses, ask, check, server};
use crate::steering::LB_ZONE;
use crate::support::target::HealthTarget;
use crate::support::{TempDir, servable};

/// A region `r` of two endpoints: 192.0.2.1 checked by `check`, 192.0.2.2 unchecked (always
/// up), so the answers show whether the checked one is served.
fn checked_and_unchecked(check: &str) -> String {
    format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {check} }}, \
         {{ address = \"192.0.2.2\" }} ]\n"
    )
}

const PRIORITY_R: &str = "policy = \"priority\"\nregions = [\"r\"]";

#[test]
fn expect_passes_only_the_statuses_it_lists() {
    let target = HealthTarget::start(); // 200, which the default 200-399 would pass
    let server = server(&checked_and_unchecked(&check(&target, ", expect = [301]")), PRIORITY_R);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down on a 200", |s| !servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "200 is not in [301]");
    target.set_status(301);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 up on a 301", |s| servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "301 is");
}

#[test]
fn http_checks_send_the_configured_method_and_get_by_default() {
    let (head, plain) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, \
         {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&head, ", method = \"HEAD\""),
        check(&plain, "")
    );
    let _server = server(&regions, PRIORITY_R);
    // The target records the request line before it counts the request.
    head.wait_for_requests(1, LIMIT, "probe with method HEAD");
    plain.wait_for_requests(1, LIMIT, "probe with the default method");
    assert_eq!((head.last_method().as_str(), plain.last_method().as_str()), ("HEAD", "GET"));
}

#[test]
fn http_checks_send_host_as_the_host_header_with_the_port_and_else_the_address() {
    let (named, unnamed) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, \
         {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&named, ", host = \"health.example\""),
        check(&unnamed, "")
    );
    let _server = server(&regions, PRIORITY_R);
    named.wait_for_requests(1, LIMIT, "probe with a host");
    unnamed.wait_for_requests(1, LIMIT, "probe without a host");
    // Probed on 127.0.0.1 at a port other than 80: the port is part of Host (RFC 9110
    // section 7.2), and without `host` the address stands in for the name.
    assert_eq!(named.last_host(), format!("health.example:{}", named.addr.port()));
    assert_eq!(unnamed.last_host(), format!("127.0.0.1:{}", unnamed.addr.port()));
}

#[test]
fn an_endpoint_with_initial_down_is_not_served_until_its_checks_pass() {
    // Both targets hang, so no probe of either ends before the test lets go: what is served
    // until then is each endpoint's initial state.
    let (starts_down, starts_up) = (HealthTarget::start(), HealthTarget::start());
    starts_down.set_hang(true);
    starts_up.set_hang(true);
    let slow = |t: &HealthTarget, extra: &str| check(t, extra).replace("timeout = \"500ms\"", "timeout = \"3s\"");
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, \
         {{ address = \"192.0.2.2\", check = {} }} ]\n",
        slow(&starts_down, ", initial = \"down\""),
        slow(&starts_up, "")
    );
    let server = server(&regions, PRIORITY_R);
    starts_down.wait_for_requests(1, LIMIT, "first probe of the endpoint starting down");
    let first = server.snapshot();
    assert!(!servable(&first, "192.0.2.1") && servable(&first, "192.0.2.2"), "{:?}", first.health);
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "not served before a result");
    starts_down.set_hang(false);
    starts_up.set_hang(false);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 up after rise", |s| servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "served once its checks pass");
}

#[test]
fn at_most_64_probes_are_in_flight_at_once() {
    // 70 distinct targets (one path each) on one target that holds every request for 2 s, long
    // enough for the first round to overlap on a loaded machine: with no limit all 70 would be
    // held at once. Each is probed once at start, the next round 5 to 10 s later.
    let target = HealthTarget::start();
    target.set_delay(Duration::from_secs(2));
    let endpoints: Vec<String> = (1..=70)
        .map(|i| {
            let check = format!(
                "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health/{i}\", \
                 interval = \"10s\", timeout = \"4s\" }}",
                target.addr.port()
            );
            format!("{{ address = \"192.0.2.{i}\", check = {check} }}")
        })
        .collect();
    let regions = format!("[[region]]\nname = \"r\"\nendpoints = [ {} ]\n", endpoints.join(", "));
    let _server = server(&regions, PRIORITY_R);
    target.wait_for_requests(70, Duration::from_secs(10), "probe of each of the 70 targets");
    // The target counts a request from its arrival until just before it answers, within the
    // probe's permit: never more than the probes in flight.
    assert_eq!(target.most_in_flight(), 64, "the most requests held at once");
}

/// The real `meridian serve`, killed on drop, and the lines it writes to stderr.
struct Logging {
    child: Child,
    lines: mpsc::Receiver<String>,
    _dir: TempDir,
}

impl Logging {
    /// Starts the binary on `config` (beside the test zone) with its default log filter.
    fn start(config: &str) -> Self {
        let dir = TempDir::new("logging");
        // Started as root, the server reads its zones as `nobody`.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        dir.write("lb.test.zone", LB_ZONE);
        let path = dir.write("meridian.toml", config);
        let mut child = Command::new(env!("CARGO_BIN_EXE_meridian"))
            .args(["serve", "--config", path.to_str().expect("a UTF-8 path")])
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start meridian serve");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines, _dir: dir }
    }

    /// Reads lines until one has every part of `parts`, within `limit`; returns the lines read,
    /// that one last. Panics naming `what` with the lines read.
    fn wait_for_line(&self, parts: &[&str], limit: Duration, what: &str) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut read = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = parts.iter().all(|p| line.contains(p));
                    read.push(line);
                    if found {
                        return read;
                    }
                }
                Err(_) => panic!("no {what} within {limit:?}; the log:\n{}", read.join("\n")),
            }
        }
    }
}

impl Drop for Logging {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn transitions_are_logged_at_info_and_single_probes_are_not() {
    let target = HealthTarget::start();
    target.set_status(503);
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n{}\
         [[pool]]\nname = \"www.lb.test.\"\n{PRIORITY_R}\n",
        checked_and_unchecked(&check(&target, ""))
    );
    let served = Logging::start(&config);
    // fall = 2: two failed probes, then the transition; rise = 2 the same way back.
    let mut log = served.wait_for_line(
        &[" INFO ", "endpoint health changed", "r/192.0.2.1", "to=down", "HTTP 503"],
        Duration::from_secs(10),
        "transition to down logged at info",
    );
    target.set_status(200);
    log.extend(served.wait_for_line(
        &[" INFO ", "endpoint health changed", "r/192.0.2.1", "to=up"],
        Duration::from_secs(10),
        "transition back up logged at info",
    ));
    assert!(target.requests() >= 4, "{} probes", target.requests());
    // The default filter is `info`: the probes themselves are logged at `debug`, unseen.
    let probes: Vec<&String> = log.iter().filter(|l| l.contains(": probe ")).collect();
    assert!(probes.is_empty(), "single probes logged at the default level: {probes:?}");
}
