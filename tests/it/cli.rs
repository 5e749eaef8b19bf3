//! The real `meridian` binary: `check-config` and `serve`, good and bad input, signals.

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::support::client::{self, Q};
use crate::support::http::{Api, TOKEN};
use crate::support::serve::{Served, serve_command};
use crate::support::{TEST_ZONE, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(BIN).args(args).current_dir(dir).output().expect("run meridian")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a config naming one zone file with the given text, and runs check-config on it.
fn check_zone(zone: &str) -> Output {
    let dir = TempDir::new("cli");
    dir.write("z.zone", zone);
    let config = dir.write("meridian.toml", "[[zone]]\nfile = \"z.zone\"\n");
    run(&["check-config", config.to_str().unwrap()], dir.path())
}

const SOA: &str = "$ORIGIN example.test.\n$TTL 300\n@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\n";

#[test]
fn check_config_accepts_a_good_configuration() {
    let dir = TempDir::new("cli");
    dir.write("example.test.zone", TEST_ZONE);
    let config =
        dir.write("meridian.toml", "[server]\nlisten = [\"127.0.0.1:5353\"]\n[[zone]]\nfile = \"example.test.zone\"\n");
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (1 zone(s)"));
}

#[test]
fn check_config_reports_every_problem_with_its_path_and_value() {
    let dir = TempDir::new("cli");
    let config = dir.write(
        "meridian.toml",
        "[server]\nlisten = [\"127.0.0.1\", \"[::1]:53\"]\nmax_udp_payload = 100\n[[zone]]\nfile = \"missing.zone\"\n",
    );
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("server.listen[0]: \"127.0.0.1\" is not ADDR:PORT"), "{err}");
    assert!(err.contains("server.max_udp_payload: 100 is outside the range 512 to 4096 bytes"), "{err}");
    // The zone file is checked only once the configuration itself is valid.
    let config =
        dir.write("meridian.toml", "[[zone]]\nfile = \"missing.zone\"\n[[zone]]\nfile = \"also-missing.zone\"\n");
    let err = stderr(&run(&["check-config", config.to_str().unwrap()], dir.path()));
    assert!(err.contains("zone[0].file: cannot read"), "{err}");
    assert!(err.contains("missing.zone: No such file or directory"), "{err}");
    assert!(err.contains("zone[1].file: cannot read"), "{err}");
}

#[test]
fn check_config_quotes_values_as_written_states_limits_and_names_regions_and_pools() {
    let dir = TempDir::new("cli");
    let config = dir.write(
        "meridian.toml",
        r#"zones_dir = "zones"
[[region]]
name = "eu"
endpoints = [ { address = "192.0.2.1", weight = -2 } ]
check = { type = "http", interval = "2 seconds", expect = [999, "300-200"] }
[[region]]
name = "ap"
endpoints = [ { address = "192.0.2.2" } ]
check = { type = "http", interval = "2s", timeout = "10s" }
[[pool]]
name = "www.example.test."
policy = "priority"
regions = ["eu", "ap"]
ttl = 99999999
"#,
    );
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let expected = format!(
        r#"error: 6 problem(s) in {}:
  region[0] "eu".check.expect[0]: 999 is not a status code: an HTTP status code is 100 to 599
  region[0] "eu".check.expect[1]: "300-200" is not a status code: a range is FIRST-LAST, both 100 to 599 and FIRST no greater than LAST, such as "200-299"
  region[0] "eu".check.interval: "2 seconds" is not a duration: write a whole number and a unit (ms, s, m or h), such as "500ms", "5s", "2m" or "1h"
  region[0] "eu".endpoints[0] "192.0.2.1".weight: -2 is outside the range 0 to 1000000
  region[1] "ap".check.timeout: "10s" is longer than 8s (4 intervals of 2s), the longest a timeout may be
  pool[0] "www.example.test.".ttl: 99999999 is outside the range 0 to 86400 seconds
"#,
        config.display()
    );
    assert_eq!(stderr(&output), expected);

    // A value of the wrong type names what the setting takes, not a Rust type.
    let config = dir.write(
        "meridian.toml",
        r#"zones_dir = "zones"
[[region]]
name = "eu"
endpoints = [ { address = "192.0.2.1" } ]
check = { type = "tcp", interval = 2.5 }
"#,
    );
    let err = stderr(&run(&["check-config", config.to_str().unwrap()], dir.path()));
    let expected = r#"invalid type: floating point `2.5`, expected a duration: a whole number of seconds, or text such as "500ms", "5s", "2m" or "1h""#;
    assert!(err.ends_with(&format!("{expected}\n")), "{err}");
    assert!(!err.contains("FileDuration") && !err.contains("untagged"), "{err}");
}

#[test]
fn check_config_rejects_unknown_keys_and_bad_toml() {
    let dir = TempDir::new("cli");
    let config = dir.write("meridian.toml", "[server]\nlisten_on = [\"127.0.0.1:53\"]\n");
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown field `listen_on`"), "{}", stderr(&output));
    let config = dir.write("meridian.toml", "[server\n");
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("not valid TOML"), "{}", stderr(&output));
    let output = run(&["check-config", "/nonexistent/meridian.toml"], dir.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cannot read /nonexistent/meridian.toml"), "{}", stderr(&output));
}

#[test]
fn bad_zone_files_are_reported_with_file_and_line() {
    let cases = [
        ("a syntax error", format!("{SOA}www IN A 300.1.2.3\n"), "z.zone:6: bad A RDATA"),
        ("a line with no type", format!("{SOA}www IN 300\n"), "z.zone:6: the entry has no record type"),
        (
            "out-of-zone data",
            format!("{SOA}www.example.com. IN A 192.0.2.1\n"),
            "z.zone:6: www.example.com. is out of zone",
        ),
        (
            "CNAME beside other data",
            format!("{SOA}www IN A 192.0.2.1\nwww IN CNAME ns1\n"),
            "z.zone:7: CNAME beside other data",
        ),
        ("two SOA records", format!("{SOA}@ IN SOA ns1 host 2 2 3 4 5\n"), "z.zone:6: a second SOA"),
        (
            "an SOA off the apex",
            format!("{SOA}sub IN SOA ns1 host 2 2 3 4 5\n"),
            "z.zone:6: SOA at sub.example.test. is not at the apex",
        ),
        ("no SOA", "$ORIGIN example.test.\n$TTL 300\n@ IN NS ns1\n".to_owned(), "no SOA record at the apex"),
        ("an unclosed parenthesis", format!("{SOA}www IN TXT ( \"a\"\n"), "z.zone:6: '(' is never closed"),
        ("an unknown type", format!("{SOA}www IN BOGUS 1\n"), "z.zone:6: \"BOGUS\" is not a record type"),
        ("a class other than IN", format!("{SOA}www CH A 192.0.2.1\n"), "z.zone:6: class CH is not served"),
        ("a relative name without an origin", "$TTL 300\nwww IN A 192.0.2.1\n".to_owned(), "z.zone:2: relative name"),
        // Records that could never be sent (RFC 1035 sections 2.3.4, 3.3 and 4.2.2).
        (
            "a TXT string over 255 octets",
            format!("{SOA}www IN TXT ok \"{}\"\n", "s".repeat(256)),
            "z.zone:6: the TXT data of www.example.test. holds a string of 256 octets",
        ),
        ("a label over 63 octets", format!("{SOA}{} IN A 192.0.2.1\n", "l".repeat(64)), "z.zone:6: \"llll"),
        (
            "an RRset no response can hold",
            format!(
                "{SOA}{}",
                (0..4094).map(|i| format!("www IN A 10.0.{}.{}\n", i / 256, i % 256)).collect::<String>()
            ),
            "z.zone:4099: the A RRset of www.example.test. (4094 records) cannot be sent",
        ),
    ];
    for (what, zone, message) in cases {
        let output = check_zone(&zone);
        assert!(!output.status.success(), "{what}: accepted");
        assert!(stderr(&output).contains(message), "{what}: expected {message:?} in:\n{}", stderr(&output));
    }
}

#[test]
fn serve_refuses_to_start_on_a_bad_configuration() {
    let dir = TempDir::new("cli");
    dir.write("z.zone", &format!("{SOA}www.example.com. IN A 192.0.2.1\n"));
    let config = dir.write("meridian.toml", "[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"z.zone\"\n");
    let mut child =
        Command::new(BIN).args(["serve", "--config", config.to_str().unwrap()]).stderr(Stdio::piped()).spawn().unwrap();
    let status = wait_with_deadline(&mut child, Duration::from_secs(10)).expect("serve exits on bad zone data");
    assert!(!status.success());
}

/// Starts `meridian serve` with `args` in `dir` and waits for its first listening line.
fn serve(args: &[&str], dir: &std::path::Path) -> Served {
    serve_command(Command::new(BIN), args, dir)
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serve_answers_on_the_embedded_default_and_stops_on_sigterm() {
    // The embedded default serves zones/ relative to the working directory: the repository.
    let mut served = serve(
        &["serve", "--listen", "127.0.0.1:0", "--api", "127.0.0.1:0"],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    let reply = client::udp(served.addr, &Q::new("www.example.com.", RecordType::A));
    assert!(reply.metadata.authoritative);
    assert!(!reply.answers.is_empty());
    let reply = client::tcp(served.addr, &Q::new("example.com.", RecordType::SOA));
    assert_eq!(reply.answers.len(), 1);
    let pid = served.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = wait_with_deadline(&mut served.child, Duration::from_secs(10)).expect("exits within 10 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn check_config_refuses_pools_outside_the_zones_or_over_zone_data() {
    let dir = TempDir::new("cli");
    dir.write("z.zone", &format!("{SOA}taken IN A 192.0.2.9\nsub IN NS ns.elsewhere.\n"));
    let config = dir.write(
        "meridian.toml",
        "[[zone]]\nfile = \"z.zone\"\n[[region]]\nname = \"r\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
         [[pool]]\nname = \"www.example.org.\"\npolicy = \"priority\"\nregions = [\"r\"]\n\
         [[pool]]\nname = \"taken.example.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n\
         [[pool]]\nname = \"x.sub.example.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n\
         [[pool]]\nname = \"ok.example.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n",
    );
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains(r#"pool[0] "www.example.org.".name: www.example.org. is not inside any served zone"#),
        "{err}"
    );
    assert!(err.contains(r#"pool[1] "taken.example.test.".name: taken.example.test. already has A records"#), "{err}");
    assert!(
        err.contains(r#"pool[2] "x.sub.example.test.".name: x.sub.example.test. is at or below a delegation"#),
        "{err}"
    );
    assert!(!err.contains("pool[3]"), "{err}");
}

#[test]
fn sighup_reloads_the_zones_from_disk() {
    let dir = TempDir::new("cli");
    let zone = |note: &str| format!("{SOA}note IN TXT \"{note}\"\n");
    dir.write("z.zone", &zone("before"));
    let config = dir.write("meridian.toml", "[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"z.zone\"\n");
    let served = serve(&["serve", "--config", config.to_str().unwrap()], dir.path());
    let note = || {
        let reply = client::udp(served.addr, &Q::new("note.example.test.", RecordType::TXT));
        reply.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
    };
    assert_eq!(note(), "before");
    dir.write("z.zone", &zone("after"));
    let pid = served.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    // A child process: no snapshot to wait on here, so poll its answers with a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while note() != "after" {
        assert!(Instant::now() < deadline, "the reload did not show within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn api_changes_acknowledged_before_a_kill_9_are_there_after_a_restart() {
    let dir = TempDir::new("cli");
    dir.write("lb.test.zone", crate::steering::LB_ZONE);
    let config = dir.write(
        "meridian.toml",
        "state_dir = \"state\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"MERIDIAN_TEST_TOKEN\"\n\
         [[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\"]\n",
    );
    let start = || {
        let mut child = Command::new(BIN);
        child.env("MERIDIAN_TEST_TOKEN", TOKEN);
        serve_command(child, &["serve", "--config", config.to_str().unwrap()], dir.path())
    };
    let answer = |served: &Served| {
        let reply = client::udp(served.addr, &Q::new("www.lb.test.", RecordType::A));
        reply.answers.iter().map(|r| r.data.to_string()).collect::<Vec<_>>()
    };
    let mut served = start();
    let api = Api { addr: served.api() };
    let created = api.post("/api/v1/lb/regions", r#"{"name":"c","endpoints":[{"address":"192.0.2.77"}]}"#);
    assert_eq!(created.status, 201, "{}", created.body);
    let strategy = r#"{"pool":"www.lb.test.","strategy":"priority","parameters":{"regions":["c","a"]}}"#;
    assert_eq!(api.put("/api/v1/lb/strategy", strategy).status, 200);
    assert_eq!(answer(&served), ["192.0.2.77"]);
    for weight in 1..=20 {
        let body = format!(r#"{{"weight":{weight}}}"#);
        assert_eq!(api.patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", &body).status, 200);
    }
    // SIGKILL right after the last acknowledgement: no shutdown code runs.
    served.child.kill().unwrap();
    served.child.wait().unwrap();

    let served = start();
    assert_eq!(answer(&served), ["192.0.2.77"], "the added region answers after the restart");
    let region = Api { addr: served.api() }.get("/api/v1/lb/regions/a").json();
    assert_eq!(region["endpoints"][0]["weight"], 20, "the last acknowledged weight: {region}");
    // check-config sees the saved changes too.
    let output = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(String::from_utf8_lossy(&output.stdout).contains("3 saved API change(s)"), "{output:?}");
}

#[test]
fn ten_thousand_idle_tcp_connections_stop_neither_udp_nor_new_tcp_clients() {
    let dir = TempDir::new("cli");
    dir.write("example.test.zone", TEST_ZONE);
    // A process of its own, so that its 10,000 sockets and the test's are counted apart; limits
    // with room for them all from one address, and for the fresh TCP client beside them.
    let config = dir.write(
        "meridian.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\ntcp_idle_timeout_secs = 600\nworkers = 1\n\
         tcp_max_connections = 10100\ntcp_max_connections_per_client = 10000\n[[zone]]\nfile = \"example.test.zone\"\n",
    );
    let served = serve(&["serve", "--config", config.to_str().unwrap()], dir.path());
    let query = Q::new("www.example.test.", RecordType::A);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut idle = Vec::with_capacity(10_000);
    while idle.len() < 10_000 {
        assert!(Instant::now() < deadline, "only {} connections opened within 60 s", idle.len());
        match connect_from_another_address(served.addr) {
            Ok(stream) => idle.push(stream),
            Err(error) => panic!("connection {} refused: {error}", idle.len()),
        }
        // Every thousand, the server still answers over UDP and a fresh TCP connection.
        if idle.len() % 1000 == 0 {
            assert!(!client::udp(served.addr, &query).answers.is_empty(), "UDP after {} connections", idle.len());
        }
    }
    for _ in 0..100 {
        assert!(!client::udp(served.addr, &query).answers.is_empty());
    }
    assert!(!client::tcp(served.addr, &query).answers.is_empty(), "a new TCP client beside 10,000 idle ones");
    // The idle connections are still open: a query on the first one is answered.
    let mut first = idle.swap_remove(0);
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client::tcp_send(&mut first, &query.bytes());
    assert!(client::tcp_recv(&mut first).is_some(), "the first idle connection was kept");
}

/// A TCP connection to `to` from 127.0.0.2: its 10,000 local ports then never collide with a
/// port another test has just found free on 127.0.0.1 and is about to bind (Knot's, say).
///
/// The local port is chosen at connect, for the whole address pair, not at bind
/// (IP_BIND_ADDRESS_NO_PORT): bind alone must find a port no socket on 127.0.0.2 holds, and
/// once a run has left 10,000 of them in TIME_WAIT, that search slowed the next run's
/// connections past the deadline.
fn connect_from_another_address(to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::AsRawFd;
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, and an int option of the size given.
    let set = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    socket.bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// CPU ticks (user + system) each thread of process `pid` has used, by thread name.
fn thread_ticks(pid: u32) -> Vec<(String, u64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads");
    tasks
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("stat")).ok()?;
            // pid (comm) state ...: comm may hold spaces, so split after its closing parenthesis.
            let (head, rest) = stat.rsplit_once(") ")?;
            let name = head.split_once(" (")?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat, 12 and 13 after the state.
            Some((name, fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?))
        })
        .collect()
}

#[test]
fn udp_workers_share_the_queries_of_many_clients() {
    let dir = TempDir::new("cli");
    dir.write("example.test.zone", TEST_ZONE);
    let config = dir.write(
        "meridian.toml",
        "[server]\nlisten = [\"127.0.0.1:0\"]\nworkers = 2\n[[zone]]\nfile = \"example.test.zone\"\n",
    );
    let served = serve(&["serve", "--config", config.to_str().unwrap()], dir.path());
    let query = Q::new("www.example.test.", RecordType::A).bytes();
    // 32 clients, each its own source port: SO_REUSEPORT spreads them over the two workers'
    // sockets by a hash of the addresses and ports.
    let clients: Vec<std::net::UdpSocket> = (0..32)
        .map(|_| {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            socket.connect(served.addr).unwrap();
            socket
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 512];
    for round in 0..600 {
        assert!(Instant::now() < deadline, "round {round} after 60 s");
        for socket in &clients {
            socket.send(&query).unwrap();
        }
        for socket in &clients {
            let len = socket.recv(&mut buf).unwrap_or_else(|e| panic!("round {round}: no answer: {e}"));
            assert_eq!(&buf[..2], &query[..2], "the answer to our query");
            assert!(len > query.len());
        }
    }
    let ticks = thread_ticks(served.child.id());
    let worker = |name: &str| ticks.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
    let (first, second) = (worker("meridian-udp-0"), worker("meridian-udp-1"));
    // 19,200 answers at a few microseconds each: tens of ticks in all, and both workers
    // had a share (a hash sending all 32 clients to one socket has odds of 2^-31).
    assert!(first.is_some_and(|t| t > 0) && second.is_some_and(|t| t > 0), "per-thread ticks: {ticks:?}");
}

/// The real, effective, saved and filesystem ids on a `Uid:` or `Gid:` line of
/// /proc/PID/status.
fn ids(pid: u32, line: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's status");
    let found = status.lines().find_map(|l| l.strip_prefix(line)).unwrap_or_else(|| panic!("{line} in {status}"));
    found.split_whitespace().map(|n| n.parse().unwrap()).collect()
}

#[test]
fn started_as_root_it_serves_as_an_unprivileged_user_and_still_saves_changes() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: nothing to drop (CI runs as root and checks this)");
        return;
    }
    let dir = TempDir::new("cli");
    dir.write("lb.test.zone", crate::steering::LB_ZONE);
    let config = |user: &str| {
        dir.write(
            "meridian.toml",
            &format!(
                "state_dir = \"state\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n{user}\n[[zone]]\nfile = \"lb.test.zone\"\n\
                 [api]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"MERIDIAN_TEST_TOKEN\"\n\
                 [[region]]\nname = \"a\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
                 [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\"]\n"
            ),
        )
    };
    let path = config("user = \"nobody\"");
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["serve", "--config", path.to_str().unwrap()], dir.path());
    let api = Api { addr: served.api() };
    let pid = served.child.id();
    // Root is dropped once the server has started: wait for it (bounded), then look closer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ids(pid, "Uid:")[1] == 0 {
        assert!(Instant::now() < deadline, "still root 10 s after starting");
        std::thread::sleep(Duration::from_millis(10));
    }
    let nobody = {
        let output = Command::new("id").args(["-u", "nobody"]).output().unwrap();
        String::from_utf8_lossy(&output.stdout).trim().parse::<u32>().unwrap()
    };
    assert_eq!(ids(pid, "Uid:"), [nobody; 4], "real, effective, saved and filesystem uid");
    // Every thread, not only the first: the UDP workers, the runtime's, the prober's.
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let status = std::fs::read_to_string(task.path().join("status")).unwrap();
        let uids = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap().split_whitespace();
        assert!(uids.map(|n| n.parse::<u32>().unwrap()).all(|u| u == nobody), "thread {:?}: {status}", task.path());
    }
    assert!(ids(pid, "Gid:").iter().all(|&g| g != 0), "no root group: {:?}", ids(pid, "Gid:"));
    let groups = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let groups = groups.lines().find_map(|l| l.strip_prefix("Groups:")).unwrap().to_owned();
    assert!(!groups.split_whitespace().any(|g| g == "0"), "supplementary groups: {groups}");
    // It still answers and still saves what the API acknowledges (the state directory was
    // handed over, mode 0700).
    assert!(!client::udp(served.addr, &Q::new("www.lb.test.", RecordType::A)).answers.is_empty());
    let drained = api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", "");
    assert_eq!(drained.status, 200, "{}", drained.body);
    let state = dir.path().join("state");
    let meta = std::fs::metadata(state.join("state.json")).expect("the change was saved");
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.uid(), nobody);
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
    drop(served);

    // Root itself, or a user that does not exist: it refuses to serve, saying why.
    for (user, says) in [("root", "never serves as root"), ("no-such-user-here", "no such user")] {
        let path = config(&format!("user = \"{user}\""));
        let output = run(&["serve", "--config", path.to_str().unwrap()], dir.path());
        assert!(!output.status.success(), "{user}: {output:?}");
        assert!(stderr(&output).contains(says), "{user}: {}", stderr(&output));
    }
}

/// The uid of a user of the system, by name.
fn uid_of(user: &str) -> u32 {
    let output = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap()
}

#[test]
fn started_as_root_by_hand_from_a_checkout_it_serves_as_the_checkouts_owner() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: nothing to drop (CI runs as root and checks this)");
        return;
    }
    // A developer's checkout (owned by `daemon` here), its state directory inside it: run by
    // hand, the server serves as the checkout's owner; under a service manager, as nobody.
    for (service_manager, user) in [(false, "daemon"), (true, "nobody")] {
        let dir = TempDir::new("checkout");
        let path = stateful_config(&dir, "state", None);
        let owner = uid_of("daemon");
        std::os::unix::fs::chown(dir.path(), Some(owner), Some(owner)).unwrap();
        let mut command = Command::new(BIN);
        command.env("MERIDIAN_TEST_TOKEN", TOKEN).env_remove("SUDO_UID").env_remove("NOTIFY_SOCKET");
        if service_manager {
            command.env("INVOCATION_ID", "0123456789abcdef");
        } else {
            command.env_remove("INVOCATION_ID");
        }
        let served = serve_command(command, &["serve", "--config", path.to_str().unwrap()], dir.path());
        let pid = served.child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while ids(pid, "Uid:")[1] == 0 {
            assert!(Instant::now() < deadline, "still root 10 s after starting");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(ids(pid, "Uid:"), [uid_of(user); 4], "service manager {service_manager}");
        use std::os::unix::fs::MetadataExt;
        let state = std::fs::metadata(dir.path().join("state")).unwrap();
        assert_eq!(state.uid(), uid_of(user), "the state directory is {user}'s");
    }
}

/// A configuration with a state directory, an admin API whose token is read from
/// `token_file` (when given), and one priority pool over region `a`.
fn stateful_config(dir: &TempDir, state_dir: &str, token_file: Option<&str>) -> std::path::PathBuf {
    dir.write("lb.test.zone", crate::steering::LB_ZONE);
    let token =
        token_file.map_or("token_env = \"MERIDIAN_TEST_TOKEN\"".to_owned(), |f| format!("token_file = \"{f}\""));
    dir.write(
        "meridian.toml",
        &format!(
            "state_dir = \"{state_dir}\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\n{token}\n\
             [[region]]\nname = \"a\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\"]\n"
        ),
    )
}

#[test]
fn check_config_and_serve_both_refuse_a_missing_token_file() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", Some("no-such-token"));
    let checked = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!checked.status.success(), "check-config passed what serve refuses: {checked:?}");
    assert!(
        stderr(&checked).contains("api.token_file") && stderr(&checked).contains("no-such-token"),
        "{}",
        stderr(&checked)
    );
    let served = refused(Command::new(BIN).args(["serve", "--config", config.to_str().unwrap()]), dir.path());
    assert!(stderr(&served).contains("no-such-token"), "{}", stderr(&served));
    // With the file there, both accept it.
    dir.write("no-such-token", "s3cret\n");
    let checked = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(checked.status.success(), "{checked:?}");
}

#[test]
fn saved_changes_the_file_no_longer_allows_are_set_aside_alike_by_check_config_and_serve() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", None);
    // A saved region (written by hand, or by a build that allowed it) that makes the
    // configuration invalid once laid over the file; the weight still fits.
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let saved = r#"{"format":1,"changes":{"regions_added":[{"name":"c","endpoints":[{"address":"not-an-ip"}]}],
            "weights":[{"region":"a","endpoint":"192.0.2.1","weight":7}]}}"#;
    dir.write("state/state.json", saved);
    let checked = run(&["check-config", config.to_str().unwrap()], dir.path());
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "serve starts on it, so check-config passes it: {checked:?}");
    assert!(out.contains("would set aside") && out.contains("regions_added") && out.contains("not-an-ip"), "{out}");
    assert!(out.contains("1 saved API change(s) in force"), "the weight stays: {out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state/state.json")).unwrap(),
        saved,
        "check-config changes nothing"
    );

    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
    let region = Api { addr: served.api() }.get("/api/v1/lb/regions/a").json();
    assert_eq!(region["endpoints"][0]["weight"], 7, "the change that fits is in force: {region}");
    assert_eq!(region["endpoints"].as_array().map(Vec::len), Some(1), "{region}");
    let aside: Vec<String> =
        names_in(&dir.path().join("state")).into_iter().filter(|n| n.starts_with("state.json.rejected-")).collect();
    assert_eq!(aside.len(), 1, "the old state is kept aside for the operator");
    let saved = std::fs::read_to_string(dir.path().join("state/state.json")).unwrap();
    assert!(!saved.contains("not-an-ip") && saved.contains("\"weight\": 7"), "{saved}");
}

#[test]
fn a_second_server_on_the_same_state_directory_is_refused() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", None);
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let first = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
    // A state file the second would set aside if it read it: it must not touch it before it
    // holds the directory, so the refused server leaves it exactly as it is.
    let garbled = "{ not json, written by hand while the first server runs";
    dir.write("state/state.json", garbled);
    let mut second = Command::new(BIN);
    second.args(["serve", "--config", config.to_str().unwrap()]).env("MERIDIAN_TEST_TOKEN", TOKEN);
    let output = refused(&mut second, dir.path());
    assert_eq!(std::fs::read_to_string(dir.path().join("state/state.json")).unwrap(), garbled);
    let names = names_in(&dir.path().join("state"));
    assert!(!names.iter().any(|n| n.contains("corrupt") || n.contains("rejected")), "{names:?}");
    let text = stderr(&output);
    assert!(text.contains("in use by another meridian process"), "{text}");
    assert!(text.contains(&dir.path().join("state").display().to_string()), "names the directory: {text}");
    // The first is undisturbed.
    assert!(!client::udp(first.addr, &Q::new("www.lb.test.", RecordType::A)).answers.is_empty());
}

#[test]
fn a_state_dir_that_is_not_a_directory_fails_check_config_and_serve() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", None);
    dir.write("state", "a file where the directory should be\n");
    let checked = run(&["check-config", config.to_str().unwrap()], dir.path());
    assert!(!checked.status.success(), "{checked:?}");
    assert!(stderr(&checked).contains("is not a directory"), "{}", stderr(&checked));
    let served = refused(Command::new(BIN).args(["serve", "--config", config.to_str().unwrap()]), dir.path());
    assert!(stderr(&served).contains("state directory"), "{}", stderr(&served));
}

#[test]
fn a_state_dir_the_serving_user_cannot_write_stops_the_start_naming_dir_and_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the serving user is the current one (CI runs as root and checks this)");
        return;
    }
    let dir = TempDir::new("cli");
    // `nobody` cannot pass through `private` (root's, mode 0700) to reach its state directory.
    std::fs::create_dir(dir.path().join("private")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("private"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = stateful_config(&dir, "private/state", None);
    let text = std::fs::read_to_string(&config).unwrap().replace("[server]\n", "[server]\nuser = \"nobody\"\n");
    std::fs::write(&config, text).unwrap();
    let mut command = Command::new(BIN);
    command.args(["serve", "--config", config.to_str().unwrap()]).env("MERIDIAN_TEST_TOKEN", TOKEN);
    let output = refused(&mut command, dir.path());
    let text = stderr(&output);
    assert!(text.contains("private/state") && text.contains("nobody") && text.contains("ermission denied"), "{text}");
    assert!(text.contains("cannot reach the state directory"), "not 'cannot create': it exists: {text}");
}

/// The output of `meridian serve` that must refuse to start: it fails (within 20 s, rather
/// than hanging the test should a regression let it serve) with a failing status.
fn refused(command: &mut Command, dir: &std::path::Path) -> Output {
    let mut child = command.current_dir(dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if wait_with_deadline(&mut child, Duration::from_secs(20)).is_none() {
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        panic!("serve started when it must refuse: {}", stderr(&output));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "{output:?}");
    output
}

#[test]
fn a_save_that_fills_the_disk_answers_503_and_leaves_no_partial_file() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", None);
    // Files of at most 1 KiB (bash's `ulimit -f` counts KiB), with SIGXFSZ ignored so that a
    // write past it fails with EFBIG, as a full disk fails one with ENOSPC.
    let mut command = Command::new("bash");
    command.args(["-c", "trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"", BIN]).env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
    let api = Api { addr: served.api() };
    let endpoints: Vec<String> = (1..=40).map(|i| format!(r#"{{"address":"198.51.100.{i}"}}"#)).collect();
    let big = format!(r#"{{"name":"big","endpoints":[{}]}}"#, endpoints.join(","));
    let refused = api.post("/api/v1/lb/regions", &big);
    assert_eq!(refused.status, 503, "{}", refused.body);
    let state = dir.path().join("state");
    assert!(!state.join("state.json.tmp").exists(), "no partial state file is left behind");
    assert_eq!(api.get("/api/v1/lb/regions/big").status, 404, "not made, since not saved");
    // A change that fits is saved and made.
    assert_eq!(api.patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":3}"#).status, 200);
    let saved = std::fs::read_to_string(state.join("state.json")).unwrap();
    assert!(saved.contains("\"weight\": 3"), "{saved}");
}

#[test]
fn a_directory_where_saves_write_is_moved_aside_at_start() {
    let dir = TempDir::new("cli");
    let config = stateful_config(&dir, "state", None);
    std::fs::create_dir_all(dir.path().join("state/state.json.tmp")).unwrap();
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
    let api = Api { addr: served.api() };
    let changed = api.patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":3}"#);
    assert_eq!(changed.status, 200, "saves work: {}", changed.body);
    let names = names_in(&dir.path().join("state"));
    assert!(names.iter().any(|n| n.starts_with("state.json.tmp.unusable-")), "kept for the operator: {names:?}");
}

#[test]
fn started_as_root_nothing_planted_in_the_state_directory_is_followed_read_or_written_by_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: nothing to plant against (CI runs as root and checks this)");
        return;
    }
    use std::os::unix::fs::{PermissionsExt, symlink};
    let outside = TempDir::new("victim");
    let victim = outside.write("victim", "root's file, mode 0600\n");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Saved changes the file rejects make the server rewrite the state file at start: the
    // moment a planted state.json.tmp would be written through.
    let rejected = r#"{"format":1,"changes":{"regions_added":[{"name":"c","endpoints":[{"address":"not-an-ip"}]}]}}"#;
    type Plant = fn(&std::path::Path, &std::path::Path, &str);
    let plants: [(&str, Plant); 4] = [
        ("state.json.tmp linked to root's file", |state, victim, rejected| {
            std::fs::write(state.join("state.json"), rejected).unwrap();
            symlink(victim, state.join("state.json.tmp")).unwrap();
        }),
        ("state.json linked to /dev/zero", |state, _, _| symlink("/dev/zero", state.join("state.json")).unwrap()),
        ("state.json linked to root's file", |state, victim, _| symlink(victim, state.join("state.json")).unwrap()),
        ("state.json a FIFO", |state, _, _| {
            let path = std::ffi::CString::new(state.join("state.json").to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        }),
    ];
    for (what, plant) in plants {
        let dir = TempDir::new("cli");
        let config = stateful_config(&dir, "state", None);
        let text = std::fs::read_to_string(&config).unwrap().replace("[server]\n", "[server]\nuser = \"nobody\"\n");
        std::fs::write(&config, text).unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        plant(&state, &victim, rejected);
        std::os::unix::fs::lchown(&state, Some(65534), Some(65534)).unwrap(); // the serving user's
        // check-config, run as root, neither hangs nor follows the plant.
        let mut check = Command::new(BIN);
        check.args(["check-config", config.to_str().unwrap()]).current_dir(dir.path());
        let mut child = check.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let exited = wait_with_deadline(&mut child, Duration::from_secs(20));
        let _ = child.kill();
        assert!(exited.is_some(), "{what}: check-config hung");
        // serve starts (the plant is set aside or refused as the serving user) and serves.
        let mut command = Command::new(BIN);
        command.env("MERIDIAN_TEST_TOKEN", TOKEN);
        let served = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
        assert!(!client::udp(served.addr, &Q::new("www.lb.test.", RecordType::A)).answers.is_empty(), "{what}");
        drop(served);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's file, mode 0600\n", "{what}: written through");
    }
}

/// The names of the entries of `dir`.
fn names_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect()
}

#[test]
fn without_the_subcommand_the_options_of_serve_are_taken_as_the_synopsis_says() {
    // `meridian [serve] [--config FILE] [--listen ADDR:PORT]...`
    let dir = TempDir::new("cli");
    let path = stateful_config(&dir, "state", None);
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["--config", path.to_str().unwrap(), "--listen", "127.0.0.1:0"], dir.path());
    assert!(!client::udp(served.addr, &Q::new("www.lb.test.", RecordType::A)).answers.is_empty());
}
