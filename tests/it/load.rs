//! Load reports steering real answers: HTTP targets served by the test report their load in a
//! JSON body, a header and a Prometheus page; the API takes pushed reports. Each test changes a
//! load, waits for the snapshot whose view shows it (on the store's `watch`), then counts what
//! real UDP queries are answered with.

use std::collections::HashMap;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::health::{addresses, ask, check};
use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TestServer, endpoint, pool};

const LIMIT: Duration = Duration::from_secs(10);

/// Queries asked to measure answer shares: a share's standard deviation is at most 1.2 %.
const QUERIES: usize = 1500;

/// The share of `QUERIES` answers carrying each address.
fn shares(server: &TestServer) -> HashMap<String, f64> {
    let mut counts = HashMap::new();
    for _ in 0..QUERIES {
        for address in addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))) {
            *counts.entry(address).or_insert(0.0) += 1.0 / QUERIES as f64;
        }
    }
    counts
}

/// Each address's share within 0.06 (five standard deviations) of what is expected.
fn assert_shares(server: &TestServer, expected: &[(&str, f64)], what: &str) {
    let got = shares(server);
    for (address, want) in expected {
        let share = got.get(*address).copied().unwrap_or(0.0);
        assert!((share - want).abs() < 0.06, "{what}: {address} had {share:.3}, expected {want:.3} ({got:?})");
    }
}

/// Waits for the view to show each endpoint's load within 0.01 of what is given.
fn wait_for_loads(server: &TestServer, loads: &[(&str, f64)], what: &str) {
    server.wait_for_snapshot(LIMIT, what, |s| {
        loads.iter().all(|(address, want)| {
            s.health.load(endpoint(s, address)).is_some_and(|l| (f64::from(l) - want).abs() < 0.01)
        })
    });
}

fn server(regions: &str, pool: &str, api: bool) -> TestServer {
    let top = if api { API_TOML } else { "" };
    let toml = format!("{top}{regions}\n[[pool]]\nname = \"www.lb.test.\"\nfailover_ttl = 5\nttl = 30\n{pool}\n");
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[])
}

#[test]
fn answer_shares_follow_loads_read_from_a_json_body_a_header_and_a_metrics_page() {
    let (json, header, metrics) = (HealthTarget::start(), HealthTarget::start(), HealthTarget::start());
    json.set_body(r#"{"stats": {"connections": 100}}"#);
    header.set_header("X-Load", "0.5");
    metrics.set_body("# TYPE conns gauge\nconns{state=\"idle\"} 3\nconns{state=\"active\"} 7.2\n");
    let regions = format!(
        "[[region]]\nname = \"a\"\nendpoints = [ \
         {{ address = \"192.0.2.1\", check = {}, load = {{ json = \"/stats/connections\", capacity = 1000, smoothing = 0 }} }}, \
         {{ address = \"192.0.2.2\", check = {}, load = {{ header = \"X-Load\", smoothing = 0 }} }}, \
         {{ address = \"192.0.2.3\", check = {}, load = {{ prometheus = \"http://127.0.0.1:{}/metrics\", \
            metric = 'conns{{state=\"active\"}}', capacity = 8, smoothing = 0 }} }} ]\n",
        check(&json, ""),
        check(&header, ""),
        check(&metrics, ""),
        metrics.addr.port()
    );
    let server = server(&regions, "policy = \"least_loaded\"\nregions = [\"a\"]", false);
    // Loads 0.1, 0.5 and 0.9: spare 0.9, 0.5 and 0.1 of 1.5.
    wait_for_loads(&server, &[("192.0.2.1", 0.1), ("192.0.2.2", 0.5), ("192.0.2.3", 0.9)], "the three loads read");
    assert_eq!(ask(&server).answers.len(), 1, "least_loaded answers with one address by default");
    assert_shares(&server, &[("192.0.2.1", 0.6), ("192.0.2.2", 0.333), ("192.0.2.3", 0.067)], "loads 0.1, 0.5, 0.9");
    // The loads turn round, and so do the answers.
    json.set_body(r#"{"stats": {"connections": 900}}"#);
    metrics.set_body("conns{state=\"active\"} 0.8\n");
    wait_for_loads(&server, &[("192.0.2.1", 0.9), ("192.0.2.3", 0.1)], "the new loads read");
    assert_shares(&server, &[("192.0.2.1", 0.067), ("192.0.2.2", 0.333), ("192.0.2.3", 0.6)], "loads 0.9, 0.5, 0.1");
}

#[test]
fn an_endpoint_over_high_leaves_the_answers_and_returns_only_below_low() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    a.set_body(r#"{"load": 0.2}"#);
    b.set_body(r#"{"load": 0.2}"#);
    let regions = format!(
        "[[region]]\nname = \"a\"\nload = {{ json = \"/load\", smoothing = 0 }}\nendpoints = [ \
         {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, ""),
        check(&b, "")
    );
    let server = server(
        &regions,
        "policy = \"weighted\"\nregions = [\"a\"]\nfailover_ttl_hold = \"0s\"\nshed = { high = 0.8, low = 0.5 }",
        false,
    );
    wait_for_loads(&server, &[("192.0.2.1", 0.2), ("192.0.2.2", 0.2)], "both loads read");
    let both = ask(&server);
    assert_eq!(addresses(&both), ["192.0.2.1", "192.0.2.2"]);
    assert!(both.answers.iter().all(|r| r.ttl == 30), "the pool's TTL while nothing sheds");
    let shed = |s: &meridian::snapshot::Snapshot| s.health.is_shed(pool(s, "www.lb.test."), endpoint(s, "192.0.2.1"));
    a.set_body(r#"{"load": 0.95}"#);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 shed", shed);
    let one = ask(&server);
    assert_eq!(addresses(&one), ["192.0.2.2"], "over high: out of the answers");
    assert!(one.answers.iter().all(|r| r.ttl == 5), "the failover TTL while anything sheds");
    // Between low and high: still out, however many probes read it.
    a.set_body(r#"{"load": 0.6}"#);
    wait_for_loads(&server, &[("192.0.2.1", 0.6)], "0.6 read");
    let seen = a.requests();
    a.wait_for_requests(seen + 3, LIMIT, "three more probes");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "under high but over low: still shed");
    a.set_body(r#"{"load": 0.4}"#);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 back", |s| !shed(s));
    let back = ask(&server);
    assert_eq!(addresses(&back), ["192.0.2.1", "192.0.2.2"], "under low: answered again");
    assert!(back.answers.iter().all(|r| r.ttl == 30), "the pool's TTL again");
    // Both over high: the last servable endpoint is never shed.
    a.set_body(r#"{"load": 0.97}"#);
    b.set_body(r#"{"load": 0.99}"#);
    wait_for_loads(&server, &[("192.0.2.1", 0.97), ("192.0.2.2", 0.99)], "both over high");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "the less loaded one stays");
}

#[test]
fn a_pushed_report_moves_answers_at_once_and_ages_out() {
    let regions = "[[region]]\nname = \"a\"\nload = { max_age = \"2s\", smoothing = 0 }\n\
                   endpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\" } ]\n";
    let server = server(regions, "policy = \"least_loaded\"\nregions = [\"a\"]", true);
    let api = server.api();
    assert_shares(&server, &[("192.0.2.1", 0.5), ("192.0.2.2", 0.5)], "no load known: by weight");
    for (address, load) in [("192.0.2.1", 0.9), ("192.0.2.2", 0.1)] {
        let pushed =
            api.put(&format!("/api/v1/lb/regions/a/endpoints/{address}/load"), &format!("{{\"load\": {load}}}"));
        assert_eq!(pushed.status, 200, "{}", pushed.body);
    }
    // No wait: the answer to a push comes once the report is published.
    assert_shares(&server, &[("192.0.2.1", 0.1), ("192.0.2.2", 0.9)], "0.9 and 0.1 pushed");
    let shown = api.get("/api/v1/lb/regions/a").json();
    let load = &shown["endpoints"][0]["load"];
    assert_eq!((load["smoothed"].as_f64(), load["source"].as_str()), (Some(0.9), Some("push")), "{shown}");
    let explained = api.get("/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.99").json();
    let loads = explained["steering"]["loads"].to_string();
    assert!(loads.contains("192.0.2.1 0.90") && loads.contains("192.0.2.2 0.10"), "{explained}");
    let page = api.get("/metrics").body;
    assert!(page.contains("meridian_endpoint_load{region=\"a\",endpoint=\"192.0.2.1\"} 0.9"), "{page}");
    let aged_out = |s: &meridian::snapshot::Snapshot| {
        ["192.0.2.1", "192.0.2.2"].iter().all(|a| s.health.load(endpoint(s, a)).is_none())
    };
    server.wait_for_snapshot(LIMIT, "the pushed reports aged out", aged_out);
    assert_shares(&server, &[("192.0.2.1", 0.5), ("192.0.2.2", 0.5)], "aged out: by weight again");
    assert!(!api.get("/metrics").body.contains("meridian_endpoint_load{"), "the series goes with the report");
    // Bad pushes: a clear error naming the field.
    for (path, body, status, field) in [
        ("/api/v1/lb/regions/a/endpoints/192.0.2.1/load", r#"{"load": 11}"#, 422, "load"),
        ("/api/v1/lb/regions/a/endpoints/192.0.2.1/load", r#"{"load": -0.1}"#, 422, "load"),
        ("/api/v1/lb/regions/a/endpoints/192.0.2.9/load", r#"{"load": 0.5}"#, 404, "endpoint"),
        ("/api/v1/lb/regions/nope/endpoints/192.0.2.1/load", r#"{"load": 0.5}"#, 404, "endpoint"),
        ("/api/v1/lb/regions/a/endpoints/not-an-ip/load", r#"{"load": 0.5}"#, 422, "endpoint"),
    ] {
        let reply = api.put(path, body);
        assert_eq!((reply.status, reply.error().1.as_str()), (status, field), "{path} {body}: {}", reply.body);
    }
    let reply = api.put("/api/v1/lb/regions/a/endpoints/192.0.2.1/load", r#"{"load": "high"}"#);
    assert_eq!(reply.status, 422, "{}", reply.body);
}

#[test]
fn check_config_names_the_path_of_each_bad_load_and_shed_setting() {
    let dir = crate::support::TempDir::new("load");
    let config = dir.write(
        "meridian.toml",
        r#"zones_dir = "zones"
[[region]]
name = "eu"
check = { type = "tcp", port = 80 }
load = { json = "/conns", capacity = 0 }
endpoints = [ { address = "192.0.2.1" },
              { address = "192.0.2.2", load = { prometheus = "https://10.0.0.5/metrics", metric = "9bad" } },
              { address = "192.0.2.3", load = { header = "X Load", max_age = "0s" } } ]
[[pool]]
name = "www.lb.example."
policy = "least_loaded"
regions = ["eu"]
shed = { high = 0.7, low = 0.8 }
"#,
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "region[0] \"eu\".load.capacity: 0 is not a capacity",
        "region[0] \"eu\".load: json and header read the load from an HTTP answer",
        "region[0] \"eu\".endpoints[1] \"192.0.2.2\".load.prometheus: \"https://10.0.0.5/metrics\" is not a metrics URL",
        "region[0] \"eu\".endpoints[1] \"192.0.2.2\".load.metric: \"9bad\" is not a metric",
        "region[0] \"eu\".endpoints[2] \"192.0.2.3\".load.header: \"X Load\" is not a header name",
        "region[0] \"eu\".endpoints[2] \"192.0.2.3\".load.max_age: 0s would let no report count",
        "pool[0] \"www.lb.example.\".shed.low: 0.8 is not below high (0.7)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert_eq!(err.matches("capacity: 0 is not a capacity").count(), 1, "a region's problem is said once:\n{err}");
}
