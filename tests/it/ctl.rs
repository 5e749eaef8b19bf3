//! `meridian ctl`, the real binary against a real server's admin API: tables, `--json`, changes
//! that show in DNS answers, the API's errors, the token never printed, and a closed port.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::steering::LB_ZONE;
use crate::support::client;
use crate::support::http::TOKEN;
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TempDir, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

const REGIONS: &str = "[[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\" } ]\n\
                       [[region]]\nname = \"b\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n";
const POOL: &str = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\", \"b\"]\n";

fn server_with(regions: &str) -> TestServer {
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{regions}{POOL}"), &[])
}

fn server() -> TestServer {
    server_with(REGIONS)
}

fn url(server: &TestServer) -> String {
    format!("http://{}", server.api().addr)
}

/// `meridian ctl ARGS` with nothing from this process's environment: no token, no address.
fn bare(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.arg("ctl").args(args);
    for name in ["MERIDIAN_API", "MERIDIAN_API_TOKEN", "MERIDIAN_API_TOKEN_FILE"] {
        command.env_remove(name);
    }
    command
}

/// `meridian ctl --api URL --token TOKEN ARGS`.
fn ctl(server: &TestServer, args: &[&str]) -> Output {
    let mut command = bare(&["--api", &url(server), "--token", TOKEN, "--timeout", "20"]);
    command.args(args).output().expect("run meridian ctl")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Stdout of a command that must succeed.
fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Stderr of a command that must fail with exit code 1, and nothing on stdout.
fn failed(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "stdout: {}\nstderr: {}", stdout(output), stderr(output));
    assert_eq!(stdout(output), "");
    stderr(output)
}

/// The A records the pool answers with, sorted.
fn answer(server: &TestServer) -> Vec<String> {
    client::a_records(server.addr, "www.lb.test.")
}

#[test]
fn status_prints_the_pools_answer_set_and_json_is_the_apis_answer() {
    let server = server();
    let table = ok(&ctl(&server, &["status"]));
    assert!(table.contains(&format!("version     {}\n", env!("CARGO_PKG_VERSION"))), "{table}");
    assert!(table.contains("zones       lb.test. ("), "{table}");
    assert!(table.contains("POOL          POLICY    TTL  REGION  CAN-SERVE  ENDPOINTS\n"), "{table}");
    assert!(table.contains("www.lb.test.  priority"), "{table}");
    assert!(table.contains("  a       yes        192.0.2.1, 192.0.2.2\n"), "{table}");
    assert!(table.contains("  b       yes        198.51.100.1\n"), "{table}");

    // --json, before or after the command, is the API's answer (uptime aside, which moves).
    let without_uptime = |mut json: serde_json::Value| {
        json.as_object_mut().expect("an object").remove("uptime_secs");
        json
    };
    let from_api = without_uptime(server.api().get("/api/v1/lb/status").json());
    for args in [&["--json", "status"], &["status", "--json"]] {
        let printed = ok(&ctl(&server, args));
        let json: serde_json::Value = serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
        assert_eq!(without_uptime(json), from_api, "{args:?}");
    }
}

#[test]
fn drain_weight_and_strategy_show_in_dns_answers_and_undrain_restores() {
    let server = server();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    let printed = ok(&ctl(&server, &["drain", "a/192.0.2.1"]));
    assert!(printed.starts_with("a/192.0.2.1 drained (generation "), "{printed}");
    assert_eq!(answer(&server), ["192.0.2.2"]);
    let regions = ok(&ctl(&server, &["regions", "a"]));
    assert!(regions.contains("a       192.0.2.1       1  up      drain   no"), "{regions}");
    ok(&ctl(&server, &["undrain", "a/192.0.2.1"]));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);

    ok(&ctl(&server, &["weight", "a/192.0.2.2", "0"]));
    assert_eq!(answer(&server), ["192.0.2.1"]);
    let printed = ok(&ctl(&server, &["strategy", "--pool", "www.lb.test.", "priority", "--regions", "b,a"]));
    assert!(printed.starts_with("www.lb.test.: strategy set to priority, regions b, a (generation"), "{printed}");
    assert_eq!(answer(&server), ["198.51.100.1"]);
}

#[test]
fn failover_moves_a_regions_answers_until_cleared() {
    let server = server();
    ok(&ctl(&server, &["failover", "--pool", "www.lb.test.", "--from", "a", "--to", "b"]));
    assert_eq!(answer(&server), ["198.51.100.1"]);
    let status = ok(&ctl(&server, &["failover"]));
    assert!(
        status.starts_with("manual failovers:\nPOOL          FROM  TO  SINCE\nwww.lb.test.  a     b   20"),
        "{status}"
    );
    assert!(status.contains("  www.lb.test.  trigger  a     b\n"), "{status}");
    let listed = ok(&ctl(&server, &["status"]));
    assert!(listed.contains("192.0.2.1, 192.0.2.2 (failed over to b)"), "{listed}");

    ok(&ctl(&server, &["failover", "--pool", "www.lb.test.", "--clear"]));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    assert!(ok(&ctl(&server, &["failover"])).starts_with("manual failovers: none\n"));
    // Half a failover is a usage error: clap's exit code 2, and nothing was asked.
    let half = ctl(&server, &["failover", "--pool", "www.lb.test.", "--from", "a"]);
    assert_eq!(half.status.code(), Some(2), "{}", stderr(&half));
}

#[test]
fn a_wrong_or_missing_token_is_refused_and_never_printed() {
    let server = server();
    let secret = "wrong-secret-token-4711";
    let output = bare(&["--api", &url(&server), "--token", secret, "status"]).output().unwrap();
    let error = failed(&output);
    assert_eq!(error, "error: 401 Unauthorized: the token is not valid\n");
    let file = TempDir::new("ctl");
    let path = file.write("token", &format!("{secret}\n"));
    let output = bare(&["--api", &url(&server), "--token-file", path.to_str().unwrap(), "drain", "a/192.0.2.1"])
        .output()
        .unwrap();
    let error = failed(&output);
    assert!(error.contains("401 Unauthorized") && !error.contains(secret), "{error}");

    let output = bare(&["--api", &url(&server), "status"]).output().unwrap();
    assert!(failed(&output).starts_with("error: no API token: give --token-file or --token"), "{}", stderr(&output));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "nothing was changed");
}

#[test]
fn the_address_and_token_come_from_the_environment() {
    let server = server();
    let output = bare(&["status"])
        .env("MERIDIAN_API", server.api().addr.to_string())
        .env("MERIDIAN_API_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(ok(&output).contains("www.lb.test."));
    let dir = TempDir::new("ctl");
    let path = dir.write("token", &format!("{TOKEN}\n"));
    let output = bare(&["--api", &url(&server), "regions"]).env("MERIDIAN_API_TOKEN_FILE", &path).output().unwrap();
    assert!(ok(&output).contains("198.51.100.1"));
    // A flag beats the environment.
    let output = bare(&["--api", &url(&server), "--token", TOKEN, "status"])
        .env("MERIDIAN_API_TOKEN", "stale-token")
        .output()
        .unwrap();
    ok(&output);
}

#[test]
fn an_unknown_region_exits_1_with_the_apis_message_and_field() {
    let server = server();
    let error = failed(&ctl(&server, &["regions", "nowhere"]));
    assert_eq!(error, "error: 404 Not Found: no region \"nowhere\" (field: region)\n");
    let error = failed(&ctl(&server, &["drain", "nowhere/192.0.2.1"]));
    assert!(error.starts_with("error: 404 Not Found: ") && error.contains("(field: region)"), "{error}");
    let error = failed(&ctl(&server, &["weight", "a/not-an-ip", "3"]));
    assert_eq!(error, "error: 422 Unprocessable Entity: \"not-an-ip\" is not an IP address (field: endpoint)\n");
}

#[test]
fn check_and_history_show_a_probe_taking_an_endpoint_down() {
    let target = HealthTarget::start();
    let check = format!(
        "check = {{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"1h\", timeout = \"2s\", rise = 1, fall = 1 }}\n",
        target.addr.port()
    );
    let server = server_with(&REGIONS.replacen("name = \"a\"\n", &format!("name = \"a\"\n{check}"), 1));
    assert_eq!(ok(&ctl(&server, &["history"])), "no health transitions\n");
    target.set_status(503);
    let checks = ok(&ctl(&server, &["check", "a"]));
    assert!(checks.starts_with("ENDPOINT   RESULT"), "{checks}");
    assert!(checks.contains("\n192.0.2.1  failed") && checks.contains("503"), "{checks}");

    let history = ok(&ctl(&server, &["history", "--region", "a", "--limit", "5"]));
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("TIME                     REGION  ENDPOINT   FROM  TO    DETAIL"), "{history}");
    let first = lines[1];
    // "2026-01-02 03:04:05 UTC": the API's RFC 3339 time as people read it.
    let time = &first[..23];
    let separators = [4, 7, 10, 13, 16, 19, 20, 21, 22];
    assert!(time.bytes().enumerate().all(|(i, b)| separators.contains(&i) || b.is_ascii_digit()), "{history}");
    assert_eq!((&time[4..5], &time[10..11], &time[13..14], &time[19..]), ("-", " ", ":", " UTC"), "{history}");
    assert!(first.contains("  a       192.0.2.1  up    down  ") && first.contains("503"), "{history}");
    let json = ok(&ctl(&server, &["history", "--json", "--endpoint", "192.0.2.1"]));
    let events: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(events[0]["to"], "down", "{json}");
    // The table shows the very time the API gave, to the second.
    let at = events[0]["at"].as_str().expect("an RFC 3339 string");
    assert_eq!(format!("{} {} UTC", &at[..10], &at[11..19]), time, "{json}");
}

#[test]
fn reload_prints_the_new_generation_or_the_servers_refusal() {
    let server = server();
    let before = server.api().get("/healthz").json()["generation"].as_u64().unwrap();
    let printed = ok(&ctl(&server, &["reload"]));
    let generation: u64 = printed.strip_prefix("reloaded: generation ").and_then(|g| g.trim().parse().ok()).unwrap();
    assert!(generation > before, "{printed}");
    server.write("lb.test.zone", &format!("{LB_ZONE}www.example.com. A 192.0.2.1\n"));
    let error = failed(&ctl(&server, &["reload"]));
    assert!(error.starts_with("error: 422 Unprocessable Entity: ") && error.contains("is out of zone"), "{error}");
}

#[test]
fn a_closed_port_is_a_clear_error_within_the_timeout() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // dropped: closed
    let api = format!("http://{closed}");
    let started = Instant::now();
    let output = bare(&["--api", &api, "--token", TOKEN, "--timeout", "5", "status"]).output().unwrap();
    let error = failed(&output);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(error.starts_with(&format!("error: cannot connect to the API at {api}/api/v1/lb/status: ")), "{error}");
    assert!(error.to_lowercase().contains("connection refused") && !error.contains(TOKEN), "{error}");
    let bad = bare(&["--api", "ftp://127.0.0.1/", "--token", TOKEN, "status"]).output().unwrap();
    assert!(failed(&bad).contains("--api \"ftp://127.0.0.1/\" is not usable"), "{}", stderr(&bad));
}

/// Help works without a server or token, and says where the address and token come from.
#[test]
fn help_names_the_environment_variables() {
    let output = bare(&["--help"]).current_dir(Path::new("/")).output().unwrap();
    let help = ok(&output);
    for name in ["MERIDIAN_API", "MERIDIAN_API_TOKEN", "MERIDIAN_API_TOKEN_FILE", "failover", "analytics"] {
        assert!(help.contains(name), "{name} missing from:\n{help}");
    }
}
