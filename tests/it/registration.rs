//! Service registration (issue 23), against the real binary over real sockets: endpoints
//! registered into regions and taken out through the API, leases kept alive by heartbeats
//! and expired by the writer, bulk registration, registration-scoped tokens, and
//! registrations acknowledged before a `kill -9`.

use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::support::TempDir;
use crate::support::client::{self, Q};
use crate::support::http::{Api, TOKEN};
use crate::support::serve::{Served, serve_command};
use crate::support::target::HealthTarget;

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// The token of `[[api.token]] name = "eu-register"`, registration in region `a` only.
const REGISTER_TOKEN: &str = "register-token-abcdef0123456789";

/// Region `a` (192.0.2.1) behind `www.lb.test.` (priority: every servable endpoint of `a`
/// answers), region `b` (198.51.100.1) listed by no pool, a state directory, and two tokens:
/// the operator's (`TOKEN`) and one that may only register in `a`.
fn config(dir: &TempDir) -> std::path::PathBuf {
    dir.write("lb.test.zone", crate::steering::LB_ZONE);
    dir.write("register.token", REGISTER_TOKEN);
    dir.write(
        "meridian.toml",
        "state_dir = \"state\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\n\
         [[api.token]]\nname = \"ops\"\nenv = \"MERIDIAN_TEST_TOKEN\"\n\
         [[api.token]]\nname = \"eu-register\"\nfile = \"register.token\"\nscope = \"register\"\nregions = [\"a\"]\n\
         [[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
         [[region]]\nname = \"b\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\"]\n",
    )
}

fn start(dir: &TempDir, config: &std::path::Path) -> (Served, Api) {
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN);
    let served = serve_command(command, &["serve", "--config", config.to_str().unwrap()], dir.path());
    let api = Api { addr: served.api() };
    (served, api)
}

fn answers(served: &Served) -> Vec<String> {
    let reply = client::udp(served.addr, &Q::new("www.lb.test.", RecordType::A));
    let mut found: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
    found.sort();
    found
}

/// Polls `cond` every 20 ms until it holds; panics naming `what` after `limit`.
fn within(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check(target: &HealthTarget) -> String {
    format!(
        "{{\"type\": \"http\", \"address\": \"127.0.0.1\", \"port\": {}, \"interval\": \"200ms\", \"timeout\": \"150ms\", \"rise\": 1, \"fall\": 1}}",
        target.addr.port()
    )
}

#[test]
fn a_registered_endpoint_answers_at_once_with_its_probes_and_leaves_with_them_when_removed() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let target = HealthTarget::start();
    assert_eq!(answers(&served), ["192.0.2.1"]);

    let body = format!(r#"{{"weight": 2, "check": {}}}"#, check(&target));
    let put = api.put("/api/v1/lb/regions/a/endpoints/192.0.2.10", &body);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(answers(&served), ["192.0.2.1", "192.0.2.10"], "in the answers on the first query after the 2xx");
    target.wait_for_requests(2, Duration::from_secs(5), "probes of the registered endpoint");
    let region = api.get("/api/v1/lb/regions/a").json();
    assert_eq!(region["endpoints"][1]["weight"], 2, "{region}");
    assert_eq!(region["endpoints"][1]["check"], "http", "{region}");
    let changes = api.get("/api/v1/changes").json();
    assert!(changes.to_string().contains("a/192.0.2.10 registered"), "in the changes log: {changes}");

    let removed = api.delete("/api/v1/lb/regions/a/endpoints/192.0.2.10");
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(answers(&served), ["192.0.2.1"], "out of the answers on the first query after the 2xx");
    // The probes stopped with the answer: a probe in flight may still land, none after it.
    let settled = target.requests() + 1;
    let quiet = Instant::now() + Duration::from_secs(1);
    while Instant::now() < quiet {
        assert!(target.requests() <= settled, "probes of a removed endpoint go on: {}", target.requests());
        std::thread::sleep(Duration::from_millis(50));
    }

    // The last endpoint of a region a pool lists goes only when forced.
    let last = api.delete("/api/v1/lb/regions/a/endpoints/192.0.2.1");
    assert_eq!(last.status, 409, "{}", last.body);
    assert!(last.body.contains("?force=true (ctl endpoint remove --force)"), "{}", last.body);
    assert_eq!(api.delete("/api/v1/lb/regions/a/endpoints/192.0.2.1?force=true").status, 200);
    assert!(answers(&served).is_empty(), "region a is empty: the pool has nothing to answer with");
    assert_eq!(api.delete("/api/v1/lb/regions/a/endpoints/192.0.2.1").status, 404);
}

/// The value of the one sample of `family` on the page whose labels hold `endpoint="..."`.
fn endpoint_sample(page: &str, family: &str, endpoint: &str) -> Option<f64> {
    let label = format!("endpoint=\"{endpoint}\"");
    let line = page.lines().find(|l| l.starts_with(&format!("{family}{{")) && l.contains(&label))?;
    line.rsplit(' ').next()?.parse().ok()
}

#[test]
fn a_removed_endpoint_takes_its_metric_series_with_it_and_the_others_keep_counting() {
    let dir = TempDir::new("reg-metrics");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let target = HealthTarget::start();
    let body = format!(r#"{{"check": {}}}"#, check(&target));
    assert_eq!(api.put("/api/v1/lb/regions/a/endpoints/192.0.2.10", &body).status, 200);
    for _ in 0..3 {
        assert_eq!(answers(&served), ["192.0.2.1", "192.0.2.10"]);
    }
    target.wait_for_requests(2, Duration::from_secs(5), "probes of the registered endpoint");
    within(Duration::from_secs(5), "the registered endpoint's probe series", || {
        endpoint_sample(&api.get("/metrics").body, "meridian_probes_total", "192.0.2.10").is_some()
    });
    let page = api.get("/metrics").body;
    assert_eq!(endpoint_sample(&page, "meridian_pool_answers_total", "192.0.2.10"), Some(3.0), "{page}");
    assert_eq!(endpoint_sample(&page, "meridian_pool_answers_total", "192.0.2.1"), Some(3.0), "{page}");

    assert_eq!(api.delete("/api/v1/lb/regions/a/endpoints/192.0.2.10").status, 200);
    // A probe in flight when the change went in may still land: the page settles within
    // a probe's timeout, and then shows nothing of the endpoint.
    within(Duration::from_secs(2), "no series of the removed endpoint", || {
        !api.get("/metrics").body.contains("192.0.2.10")
    });
    let page = api.get("/metrics").body;
    let left: Vec<&str> = page.lines().filter(|l| l.contains("192.0.2.10")).collect();
    assert!(left.is_empty(), "series of a removed endpoint stay: {left:?}");
    assert_eq!(endpoint_sample(&page, "meridian_pool_answers_total", "192.0.2.1"), Some(3.0), "kept its count");
    assert_eq!(answers(&served), ["192.0.2.1"]);
    let page = api.get("/metrics").body;
    assert_eq!(endpoint_sample(&page, "meridian_pool_answers_total", "192.0.2.1"), Some(4.0), "counts on");
}

#[test]
fn a_lease_renewed_by_heartbeats_stays_and_expires_within_a_second_of_its_end() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let put = api.put("/api/v1/lb/regions/a/endpoints/192.0.2.20", r#"{"ttl": "1s"}"#);
    assert_eq!(put.status, 200, "{}", put.body);
    // Three TTLs of heartbeats, every 300 ms.
    let renewing = Instant::now();
    while renewing.elapsed() < Duration::from_secs(3) {
        let beat = api.post("/api/v1/lb/regions/a/endpoints/192.0.2.20/heartbeat", "");
        assert_eq!(beat.status, 200, "{}", beat.body);
        assert_eq!(beat.json()["ttl_secs"], 1.0);
        assert!(answers(&served).contains(&"192.0.2.20".to_owned()), "renewed, it stays");
        std::thread::sleep(Duration::from_millis(300));
    }
    let region = api.get("/api/v1/lb/regions/a").json();
    let left = region["endpoints"][1]["lease"]["remaining_secs"].as_f64().expect("a lease");
    assert!(left > 0.0 && left <= 1.0, "{region}");
    let last_beat = Instant::now();
    assert_eq!(api.post("/api/v1/lb/regions/a/endpoints/192.0.2.20/heartbeat", "").status, 200);
    within(Duration::from_secs(3), "the expiry", || answers(&served) == ["192.0.2.1"]);
    let gone_after = last_beat.elapsed();
    assert!(
        gone_after >= Duration::from_millis(900) && gone_after < Duration::from_secs(2),
        "out of the answers {gone_after:?} after the last heartbeat, with a 1 s lease"
    );
    served.wait_for_log("registration expired", 1, Duration::from_secs(2));
    let metrics = api.get("/metrics").body;
    assert!(metrics.contains("meridian_registrations_expired_total 1"), "{metrics}");
    let beat = api.post("/api/v1/lb/regions/a/endpoints/192.0.2.20/heartbeat", "");
    assert_eq!(beat.status, 404, "expired: register again: {}", beat.body);
    let unleased = api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/heartbeat", "");
    assert_eq!(unleased.status, 409, "{}", unleased.body);
}

#[test]
fn a_restart_keeps_a_lease_with_at_least_one_full_ttl() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (mut served, api) = start(&dir, &config);
    let put = api.put("/api/v1/lb/regions/a/endpoints/192.0.2.30", r#"{"ttl": "3s"}"#);
    assert_eq!(put.status, 200, "{}", put.body);
    // Most of the lease gone before the restart.
    std::thread::sleep(Duration::from_secs(2));
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let (served, api) = start(&dir, &config);
    let restarted = Instant::now();
    assert!(answers(&served).contains(&"192.0.2.30".to_owned()), "the lease survived the restart");
    let region = api.get("/api/v1/lb/regions/a").json();
    let left = region["endpoints"][1]["lease"]["remaining_secs"].as_f64().expect("a lease");
    assert!(left > 2.5, "a full TTL after the restart, not what was left: {region}");
    within(Duration::from_secs(6), "the expiry after the restart", || answers(&served) == ["192.0.2.1"]);
    assert!(restarted.elapsed() >= Duration::from_millis(2_500), "expired {:?} after the restart", restarted.elapsed());
}

#[test]
fn bulk_registration_is_all_or_nothing_and_names_the_bad_item() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let bad = r#"{"endpoints": [{"address": "192.0.2.41"}, {"address": "192.0.2.42", "weight": 3},
        {"address": "not-an-address"}]}"#;
    let refused = api.post("/api/v1/lb/regions/a/endpoints", bad);
    assert_eq!(refused.status, 422, "{}", refused.body);
    let (error, field) = refused.error();
    assert!(error.contains("not-an-address"), "{error}");
    assert_eq!(field, "endpoints[2].address");
    assert_eq!(answers(&served), ["192.0.2.1"], "none of the list was registered");
    let out_of_range = r#"[{"address": "192.0.2.41"}, {"address": "192.0.2.42", "weight": 2000000}]"#;
    let refused = api.post("/api/v1/lb/regions/a/endpoints", out_of_range);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("endpoints[1].weight"), "{}", refused.body);

    let good = r#"{"endpoints": [{"address": "192.0.2.41"}, {"address": "192.0.2.42", "ttl": "1h"}]}"#;
    let made = api.post("/api/v1/lb/regions/a/endpoints", good);
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(answers(&served), ["192.0.2.1", "192.0.2.41", "192.0.2.42"]);
    let changes = api.get("/api/v1/changes").json();
    assert!(changes.to_string().contains("2 endpoints registered in a"), "one change: {changes}");
}

#[test]
fn a_registration_token_registers_in_its_region_and_is_refused_elsewhere() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let token = Some(REGISTER_TOKEN);
    let send = |method: &str, path: &str, body: Option<&str>| api.send(method, path, body, token);
    let put = send("PUT", "/api/v1/lb/regions/a/endpoints/192.0.2.50", Some(r#"{"ttl": "1h"}"#));
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(answers(&served).contains(&"192.0.2.50".to_owned()));
    assert_eq!(send("POST", "/api/v1/lb/regions/a/endpoints/192.0.2.50/heartbeat", Some("")).status, 200);
    assert_eq!(send("GET", "/api/v1/lb/regions/a", None).status, 200);
    let changes = api.get("/api/v1/changes").json();
    assert!(changes.to_string().contains("eu-register"), "recorded under the token's name: {changes}");
    for (method, path, body) in [
        ("PUT", "/api/v1/lb/regions/b/endpoints/198.51.100.9", Some("{}")),
        ("PATCH", "/api/v1/lb/regions/a/endpoints/192.0.2.50", Some(r#"{"weight": 5}"#)),
        ("POST", "/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", Some("")),
        ("PUT", "/api/v1/lb/strategy", Some(r#"{"pool": "www.lb.test.", "strategy": "weighted"}"#)),
        ("POST", "/api/v1/reload", Some("")),
        ("GET", "/api/v1/lb/regions", None),
    ] {
        let refused = send(method, path, body);
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.body);
        assert!(refused.body.contains("may only register"), "{}", refused.body);
    }
    assert_eq!(send("DELETE", "/api/v1/lb/regions/a/endpoints/192.0.2.50", None).status, 200);
    assert_eq!(answers(&served), ["192.0.2.1"]);
}

#[test]
fn registrations_acknowledged_before_a_kill_9_are_all_there_after_a_restart() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (mut served, api) = start(&dir, &config);
    // A burst from a thread while the server is killed under it: every 2xx must survive.
    let burst = std::thread::spawn(move || {
        let mut acknowledged = Vec::new();
        for i in 2..=250u32 {
            let path = format!("/api/v1/lb/regions/b/endpoints/198.51.100.{i}");
            match api.try_send("PUT", &path, Some(r#"{"ttl": "1h"}"#), Some(TOKEN)) {
                Some(reply) if reply.status == 200 => acknowledged.push(format!("198.51.100.{i}")),
                Some(reply) => panic!("{path}: {} {}", reply.status, reply.body),
                None => break,
            }
        }
        acknowledged
    });
    let api_addr = api.addr;
    within(Duration::from_secs(30), "twenty registrations", || {
        Api { addr: api_addr }.get("/api/v1/lb/regions/b").json()["endpoints"].as_array().map_or(0, Vec::len) > 20
    });
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let acknowledged = burst.join().unwrap();
    assert!(acknowledged.len() >= 20, "{}", acknowledged.len());

    let (_served, api) = start(&dir, &config);
    let region = api.get("/api/v1/lb/regions/b").json();
    let listed: Vec<&str> =
        region["endpoints"].as_array().unwrap().iter().filter_map(|e| e["address"].as_str()).collect();
    for address in &acknowledged {
        assert!(listed.contains(&address.as_str()), "{address} was acknowledged and is gone after kill -9");
    }
}

#[test]
fn in_a_cluster_heartbeats_to_one_instance_keep_the_lease_on_every_one() {
    use crate::cluster::{Instance, Nats};
    let Some(nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    let path = "/api/v1/lb/regions/a/endpoints/192.0.2.60";
    within(Duration::from_secs(20), "the shared log open", || {
        one.api.send("PUT", path, Some(r#"{"ttl": "2s"}"#), Some(TOKEN)).status != 503
    });
    let has = |instance: &Instance| instance.answer().contains(&"192.0.2.60".to_owned());
    within(Duration::from_secs(2), "the registration on the other instance", || has(&two));
    // Heartbeats to the second instance only, for three TTLs: the first keeps it too.
    let renewing = Instant::now();
    while renewing.elapsed() < Duration::from_secs(6) {
        let beat = two.api.post(&format!("{path}/heartbeat"), "");
        assert_eq!(beat.status, 200, "{}", beat.body);
        assert!(has(&one) && has(&two), "renewed through the other instance, it stays on both");
        std::thread::sleep(Duration::from_millis(400));
    }
    let stopped = Instant::now();
    within(Duration::from_secs(5), "the expiry on both", || !has(&one) && !has(&two));
    assert!(stopped.elapsed() < Duration::from_secs(3), "gone {:?} after the last heartbeat", stopped.elapsed());
}

#[test]
fn a_registration_neither_restarts_nor_repeats_the_probes_of_other_endpoints() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let (first, second) = (HealthTarget::start(), HealthTarget::start());
    // An hour between probes: any second probe of the first target is a restart's.
    let hourly = |target: &HealthTarget| check(target).replace("\"200ms\"", "\"1h\"").replace("\"150ms\"", "\"2s\"");
    let put = |address: &str, target: &HealthTarget| {
        let reply = api
            .put(&format!("/api/v1/lb/regions/a/endpoints/{address}"), &format!(r#"{{"check": {}}}"#, hourly(target)));
        assert_eq!(reply.status, 200, "{}", reply.body);
    };
    put("192.0.2.71", &first);
    first.wait_for_requests(1, Duration::from_secs(5), "the first endpoint's first probe");
    let others = [second, HealthTarget::start(), HealthTarget::start()];
    for (i, (address, target)) in ["192.0.2.72", "192.0.2.73", "192.0.2.74"].into_iter().zip(&others).enumerate() {
        put(address, target);
        target.wait_for_requests(1, Duration::from_secs(5), "the new endpoint's probe, at once");
        assert_eq!(first.requests(), 1, "registration {i} probed the first endpoint again");
    }
    assert!(answers(&served).contains(&"192.0.2.74".to_owned()));
}

/// `config` with region `n` of name endpoints (issue 18), listed by no pool.
fn config_with_names(dir: &TempDir) -> std::path::PathBuf {
    let path = config(dir);
    let text = std::fs::read_to_string(&path).unwrap();
    let names = "[[region]]\nname = \"n\"\nendpoints = [ { name = \"one.cdn.test.\" } ]\n[[pool]]";
    dir.write("meridian.toml", &text.replacen("[[pool]]", names, 1))
}

fn region_endpoints(api: &Api, region: &str) -> String {
    let shown = api.get(&format!("/api/v1/lb/regions/{region}"));
    assert_eq!(shown.status, 200, "{}", shown.body);
    shown.body
}

#[test]
fn name_endpoints_register_and_leave_by_their_name_and_never_replace_each_other() {
    let dir = TempDir::new("reg");
    let config = config_with_names(&dir);
    let (_served, api) = start(&dir, &config);
    let bulk = r#"[{"name": "two.cdn.test."}, {"name": "three.cdn.test.", "weight": 2}]"#;
    let made = api.post("/api/v1/lb/regions/n/endpoints", bulk);
    assert_eq!(made.status, 200, "{}", made.body);
    let shown = region_endpoints(&api, "n");
    for name in ["one.cdn.test.", "two.cdn.test.", "three.cdn.test."] {
        assert!(shown.contains(name), "{name} stays after a bulk registration of names: {shown}");
    }
    // By name in the path: an empty body, or the same name (without its final dot).
    let put = api.put("/api/v1/lb/regions/n/endpoints/four.cdn.test.", r#"{"ttl": "1h"}"#);
    assert_eq!(put.status, 200, "{}", put.body);
    let put = api.put("/api/v1/lb/regions/n/endpoints/five.cdn.test.", r#"{"name": "five.cdn.test"}"#);
    assert_eq!(put.status, 200, "{}", put.body);
    let other = api.put("/api/v1/lb/regions/n/endpoints/six.cdn.test.", r#"{"name": "seven.cdn.test."}"#);
    assert_eq!(other.status, 422, "{}", other.body);
    let beat = api.post("/api/v1/lb/regions/n/endpoints/four.cdn.test./heartbeat", "");
    assert_eq!(beat.status, 200, "{}", beat.body);
    let shown = region_endpoints(&api, "n");
    for name in ["one.cdn.test.", "two.cdn.test.", "three.cdn.test.", "four.cdn.test.", "five.cdn.test."] {
        assert!(shown.contains(name), "{name}: {shown}");
    }
    assert_eq!(api.delete("/api/v1/lb/regions/n/endpoints/two.cdn.test.").status, 200);
    assert_eq!(api.delete("/api/v1/lb/regions/n/endpoints/one.cdn.test.").status, 200);
    let shown = region_endpoints(&api, "n");
    assert!(!shown.contains("two.cdn.test.") && !shown.contains("one.cdn.test."), "{shown}");
    assert!(shown.contains("three.cdn.test.") && shown.contains("four.cdn.test."), "{shown}");
    assert_eq!(api.delete("/api/v1/lb/regions/n/endpoints/one.cdn.test.").status, 404);
    let changes = api.get("/api/v1/changes").json().to_string();
    assert!(changes.contains("n/four.cdn.test. registered (lease"), "named in the changes log: {changes}");
}

#[test]
fn a_registration_token_may_not_touch_the_files_endpoints_nor_set_state() {
    let dir = TempDir::new("reg");
    let config = config(&dir);
    let (served, api) = start(&dir, &config);
    let send = |method: &str, path: &str, body: Option<&str>| api.send(method, path, body, Some(REGISTER_TOKEN));
    let file = "/api/v1/lb/regions/a/endpoints/192.0.2.1";
    for (method, path, body, why) in [
        ("PUT", file, Some(r#"{"weight": 1000}"#), "configuration file"),
        ("DELETE", "/api/v1/lb/regions/a/endpoints/192.0.2.1?force=true", None, "configuration file"),
        ("POST", "/api/v1/lb/regions/a/endpoints", Some(r#"[{"address": "192.0.2.1"}]"#), "configuration file"),
        ("PUT", "/api/v1/lb/regions/a/endpoints/192.0.2.60", Some(r#"{"state": "force_up"}"#), "state"),
    ] {
        let refused = send(method, path, body);
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.body);
        assert!(refused.body.contains(why), "{}", refused.body);
    }
    assert_eq!(answers(&served), ["192.0.2.1"], "nothing was changed");
    // Its own registrations it may replace and remove; the operator's token may do it all.
    assert_eq!(send("PUT", "/api/v1/lb/regions/a/endpoints/192.0.2.60", Some("{}")).status, 200);
    assert_eq!(send("PUT", "/api/v1/lb/regions/a/endpoints/192.0.2.60", Some(r#"{"weight": 3}"#)).status, 200);
    assert_eq!(send("DELETE", "/api/v1/lb/regions/a/endpoints/192.0.2.60", None).status, 200);
    let admin = api.put(file, r#"{"weight": 4, "state": "force_up"}"#);
    assert_eq!(admin.status, 200, "{}", admin.body);
    // Registered by the operator over the file's, it is still the file's endpoint underneath.
    assert_eq!(send("DELETE", file, None).status, 403, "the file's endpoint, whoever registered over it");
    assert_eq!(send("PUT", file, Some("{}")).status, 403);
}
