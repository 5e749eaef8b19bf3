//! Gradual shifts, as the README's "Gradual shifts" promises them: a weight set through the
//! API over a time moves answer shares toward the new weight and shows in the API and in
//! `meridian ctl regions`; an endpoint whose check comes back gets a small share first and its
//! full share later (`slow_start`); a restart mid-ramp continues the ramp. Over real HTTP
//! targets, a real server and real queries; shares are measured against the weights the
//! server published before and after each batch, so a slow machine moves the bounds, not the
//! verdict.

use std::process::Command;
use std::time::Duration;

use crate::api::ok;
use crate::health::check;
use crate::steering::LB_ZONE;
use crate::support::client;
use crate::support::http::TOKEN;
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TestServer, endpoint, servable};
use meridian::snapshot::Snapshot;

/// Queries per batch: a share's standard deviation is at most 1.2 % at this count, so the
/// 6 % slack below is five of them.
const QUERIES: u32 = 1800;
const SLACK: f64 = 0.06;
const LIMIT: Duration = Duration::from_secs(10);

/// Region `a`: 192.0.2.1 (`first`, TOML fields inside its table) and 192.0.2.2 at weight
/// `other`, in a weighted pool answering one address at a time; `region` adds fields to the
/// region.
fn server(region: &str, first: &str, other: u32) -> TestServer {
    let toml = format!(
        "{API_TOML}[[region]]\nname = \"a\"\n{region}\nendpoints = [ {{ address = \"192.0.2.1\"{first} }}, \
         {{ address = \"192.0.2.2\", weight = {other} }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"weighted\"\nregions = [\"a\"]\nmax_answers = 1\n"
    );
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[])
}

/// The weight answers follow for `address` in a snapshot.
fn weight(snapshot: &Snapshot, address: &str) -> f64 {
    let index = endpoint(snapshot, address);
    let configured = snapshot.config.endpoints().nth(index).map_or(0, |(_, _, e)| e.weight);
    snapshot.health.weight_milli(index, configured) as f64 / 1000.0
}

/// 192.0.2.1's share of [`QUERIES`] answers, and the share its published weight gave it
/// before and after them (ramps move one way, so every answer's lies between).
fn share_of_first(server: &TestServer) -> (f64, f64, f64) {
    let expected = |s: &Snapshot| {
        let (first, second) = (weight(s, "192.0.2.1"), weight(s, "192.0.2.2"));
        first / (first + second)
    };
    let before = expected(&server.snapshot());
    let hits = (0..QUERIES).filter(|_| client::a_records(server.addr, "www.lb.test.") == ["192.0.2.1"]).count();
    let after = expected(&server.snapshot());
    (hits as f64 / f64::from(QUERIES), before.min(after), before.max(after))
}

fn assert_share_within(share: (f64, f64, f64), what: &str) {
    let (measured, low, high) = share;
    assert!(
        (low - SLACK..=high + SLACK).contains(&measured),
        "{what}: 192.0.2.1 had {measured:.3} of the answers; its weight gave it {low:.3} to {high:.3}"
    );
}

/// `meridian ctl --api URL --token TOKEN ARGS`, which must succeed; its standard output.
fn ctl(server: &TestServer, args: &[&str]) -> String {
    let url = format!("http://{}", server.api().addr);
    let output = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["ctl", "--api", &url, "--token", TOKEN, "--timeout", "20"])
        .args(args)
        .env_remove("MERIDIAN_API")
        .env_remove("MERIDIAN_API_TOKEN")
        .env_remove("MERIDIAN_API_TOKEN_FILE")
        .output()
        .expect("run meridian ctl");
    assert!(output.status.success(), "ctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The API's view of 192.0.2.1.
fn first_endpoint(server: &TestServer) -> serde_json::Value {
    let region = ok(&server.api().get("/api/v1/lb/regions/a"));
    region["endpoints"][0].clone()
}

#[test]
fn a_weight_set_over_a_time_moves_answer_shares_and_shows_where_it_is_and_by_when() {
    let server = server("", ", weight = 1", 19);
    assert_share_within(share_of_first(&server), "before the change (1 of 20)");
    let reply = server.api().patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":19,"over":"8s"}"#);
    ok(&reply);
    let shown = first_endpoint(&server);
    assert_eq!(shown["weight"], 19, "{shown}");
    assert_eq!(shown["ramp"]["to"], 19, "{shown}");
    assert_eq!(shown["ramp"]["weight_ramp"]["from"], 1.0, "{shown}");
    assert!(shown["ramp"]["until"].is_string() && shown["ramp"]["slow_start_until"].is_null(), "{shown}");
    let effective = shown["effective_weight"].as_f64().unwrap();
    assert!((1.0..19.0).contains(&effective), "{shown}");
    let table = ctl(&server, &["regions"]);
    let row = table.lines().find(|l| l.contains("192.0.2.1")).unwrap_or_default().to_owned();
    assert!(row.contains(" → 19 by ") && row.contains(" UTC"), "{table}");
    let explained = ok(&server.api().get("/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.99"));
    let ramps = explained["ramps"].to_string();
    assert!(ramps.contains("a/192.0.2.1 at ") && ramps.contains(" → 19 by "), "{explained}");
    let changes = ok(&server.api().get("/api/v1/changes"));
    let summary = changes.to_string();
    assert!(summary.contains("weight of a/192.0.2.1 set to 19 over 8s from 1"), "{summary}");
    // Part way: the share follows the published weight, well short of half.
    server.wait_for_snapshot(LIMIT, "192.0.2.1 at weight 3 or more", |s| weight(s, "192.0.2.1") >= 3.0);
    let part_way = share_of_first(&server);
    assert_share_within(part_way, "part way");
    // The end: weight 19 against 19, half the answers; nothing moves any more.
    let done = server.wait_for_snapshot(LIMIT, "192.0.2.1 at 19", |s| weight(s, "192.0.2.1") == 19.0);
    let at_end = share_of_first(&server);
    assert_share_within(at_end, "at the end");
    assert!(at_end.0 > part_way.0, "shares moved toward the new weight: {part_way:?} then {at_end:?}");
    assert!(first_endpoint(&server)["ramp"].is_null());
    // Nothing to wait for: that nothing comes is the point, over a bounded watch.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(server.snapshot().generation, done.generation, "no snapshot published once the ramp is done");
}

#[test]
fn an_endpoint_whose_check_comes_back_slow_starts_from_a_tenth_of_its_weight() {
    let target = HealthTarget::start();
    let server = server("slow_start = \"6s\"", &format!(", check = {}", check(&target, "")), 1);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 up", |s| servable(s, "192.0.2.1"));
    assert_share_within(share_of_first(&server), "never down: no slow start (half)");
    target.set_status(503);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    target.set_status(200);
    let back = server.wait_for_snapshot(LIMIT, "192.0.2.1 back", |s| servable(s, "192.0.2.1"));
    assert!(weight(&back, "192.0.2.1") < 0.4, "back with a small share: {}", weight(&back, "192.0.2.1"));
    let shown = first_endpoint(&server);
    assert!(shown["ramp"]["slow_start_until"].is_string() && shown["ramp"]["to"] == 1, "{shown}");
    let table = ctl(&server, &["regions"]);
    assert!(table.contains("a/192.0.2.1: slow start until "), "{table}");
    let early = share_of_first(&server);
    assert_share_within(early, "early in the slow start");
    server.wait_for_snapshot(LIMIT, "192.0.2.1 at full weight", |s| weight(s, "192.0.2.1") == 1.0);
    let full = share_of_first(&server);
    assert_share_within(full, "after the slow start");
    assert!(full.0 > early.0 + 0.1, "a small share first, its full share later: {early:?} then {full:?}");
}

#[test]
fn a_restart_mid_ramp_continues_the_ramp_rather_than_starting_it_again() {
    let mut server = server("", ", weight = 1", 1);
    let reply = server.api().patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":41,"over":"40s"}"#);
    ok(&reply);
    let before = server.wait_for_snapshot(LIMIT, "192.0.2.1 at weight 4 or more", |s| weight(s, "192.0.2.1") >= 4.0);
    let ramp = first_endpoint(&server)["ramp"].clone();
    server.restart();
    let after = weight(&server.snapshot(), "192.0.2.1");
    assert!(after >= weight(&before, "192.0.2.1") && after < 41.0, "went on from where it was: {after}");
    let shown = first_endpoint(&server);
    assert_eq!(shown["ramp"]["weight_ramp"]["from"], 1.0, "{shown}");
    // The same wall-clock start and end (to the millisecond; the instants are placed anew).
    let millis = |v: &serde_json::Value| meridian::timestamp::parse_rfc3339(v.as_str().unwrap()).unwrap();
    let start = |r: &serde_json::Value| millis(&r["weight_ramp"]["started"]);
    assert!(start(&shown["ramp"]).abs_diff(start(&ramp)) <= 2, "{shown} {ramp}");
    assert!(millis(&shown["ramp"]["until"]).abs_diff(millis(&ramp["until"])) <= 2, "{shown} {ramp}");
}

#[test]
fn a_ramp_longer_than_a_day_or_of_nothing_is_refused_naming_over() {
    let server = server("", "", 1);
    for over in ["\"0s\"", "\"25h\"", "\"soon\"", "-5"] {
        let body = format!(r#"{{"weight":5,"over":{over}}}"#);
        let reply = server.api().patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", &body);
        assert_eq!(reply.status, 422, "{over}: {}", reply.body);
        let (error, field) = reply.error();
        assert_eq!(field, "over", "{over}: {error}");
    }
    assert!(first_endpoint(&server)["ramp"].is_null(), "nothing changed");
}

#[test]
fn check_config_names_a_slow_start_out_of_bounds_by_its_path() {
    let dir = crate::support::TempDir::new("ramp");
    let config = dir.write(
        "meridian.toml",
        "zones_dir = \"zones\"\n[[region]]\nname = \"eu\"\nslow_start = \"2d\"\n\
         endpoints = [ { address = \"192.0.2.1\", slow_start = \"48h\" } ]\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check-config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .expect("run meridian check-config");
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains(r#"region[0] "eu".slow_start: "2d" is not a duration"#), "{err}");
    assert!(
        err.contains(r#"region[0] "eu".endpoints[0] "192.0.2.1".slow_start: "48h" is not a ramp's length: more than 0 and at most 24h"#),
        "{err}"
    );
}
