//! Failover at DNS level: real health targets served by the test, a real server, real queries.
//!
//! Each test changes a target, waits for the server to publish a snapshot whose health view
//! shows the change (on the store's `watch`, not a timer), then asserts on the DNS answer.

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use meridian::config::FileCheck;
use meridian::health::probe::{ProbeResult, Prober};
use meridian::health::state::Observation;
use meridian::health::table::Target;

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;
use crate::support::{TestServer, degraded, pool, servable};

pub const LIMIT: Duration = Duration::from_secs(5);

/// A check on `target` that reacts within a few hundred milliseconds.
pub fn check(target: &HealthTarget, extra: &str) -> String {
    format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"100ms\", \
         timeout = \"500ms\", rise = 2, fall = 2 {extra} }}",
        target.addr.port()
    )
}

/// A server for `regions` with the pool `www.lb.test.` (`pool`: its policy, regions, more
/// settings, and more pools after it).
pub fn server(regions: &str, pool: &str) -> TestServer {
    let toml = format!("{regions}\n[[pool]]\nname = \"www.lb.test.\"\nfailover_ttl = 5\nttl = 30\n{pool}\n");
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[])
}

/// The A records of a reply, sorted.
pub fn addresses(reply: &Message) -> Vec<String> {
    let mut list: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            _ => None,
        })
        .collect();
    list.sort();
    list
}

/// The pool's answer to a client on 127.0.0.1, over UDP.
pub fn ask(server: &TestServer) -> Message {
    client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))
}

#[test]
fn a_failing_endpoint_leaves_the_answers_with_short_ttls_and_returns_after_rise() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"primary\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, ""),
        check(&b, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"primary\"]\nfailover_ttl_hold = \"1s\"");
    let first = ask(&server);
    assert_eq!(addresses(&first), ["192.0.2.1", "192.0.2.2"], "endpoints are up until probed");
    assert!(first.answers.iter().all(|r| r.ttl <= 30));
    a.set_status(503);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    let failed = ask(&server);
    assert_eq!(addresses(&failed), ["192.0.2.2"], "failover");
    assert_eq!(failed.answers[0].ttl, 5, "failover_ttl while an endpoint is down");
    a.set_status(200);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 up after rise", |s| servable(s, "192.0.2.1"));
    let back = ask(&server);
    assert_eq!(addresses(&back), ["192.0.2.1", "192.0.2.2"], "recovery");
    assert_eq!(back.answers[0].ttl, 5, "still short just after the change (failover_ttl_hold)");
    let www = pool(&server.snapshot(), "www.lb.test.");
    server.wait_for_snapshot(LIMIT, "the pool's TTL no longer short", |s| !s.health.is_short_ttl(www));
    assert!(ask(&server).answers.iter().all(|r| r.ttl == 30), "the pool TTL again");
    assert!(a.last_user_agent().starts_with("meridian/"), "{}", a.last_user_agent());
}

#[test]
fn priority_fails_over_to_the_next_region_and_back() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"primary\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"backup\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
        check(&a, ""),
        check(&b, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "the primary");
    a.set_status(503);
    server.wait_for_snapshot(LIMIT, "the primary down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "failover to the backup");
    a.set_status(200);
    server.wait_for_snapshot(LIMIT, "the primary up again", |s| servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "failback to the primary");
}

#[test]
fn when_every_endpoint_is_down_the_pool_fails_open_at_the_failover_ttl() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"one\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"two\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
        check(&a, ""),
        check(&b, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"one\", \"two\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "region one");
    a.set_status(500);
    b.set_status(500);
    server.wait_for_snapshot(LIMIT, "both endpoints down", |s| !servable(s, "192.0.2.1") && !servable(s, "192.0.2.2"));
    let open = ask(&server);
    assert_eq!(addresses(&open), ["192.0.2.1", "192.0.2.2"], "fail open");
    assert!(open.answers.iter().all(|r| r.ttl == 5), "at the failover TTL");
}

#[test]
fn a_pool_may_answer_servfail_when_all_is_down() {
    let a = HealthTarget::start();
    let regions = format!(
        "[[region]]\nname = \"one\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n",
        check(&a, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"one\"]\nwhen_all_down = \"servfail\"");
    a.set_status(500);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(ask(&server).metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn a_degraded_endpoint_is_served_only_when_no_healthy_one_remains() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let on_429 = ", degraded_status = [429]";
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, on_429),
        check(&b, on_429)
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "both");
    a.set_status(429);
    server.wait_for_snapshot(LIMIT, "192.0.2.1 degraded", |s| degraded(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "degraded a left out");
    b.set_status(503);
    server.wait_for_snapshot(LIMIT, "192.0.2.2 down", |s| !servable(s, "192.0.2.2"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "degraded a served");
}

#[test]
fn the_backup_serves_only_once_a_tcp_check_takes_the_primary_down_and_a_drained_endpoint_never_does() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let tcp = |t: &HealthTarget| {
        format!(
            "{{ type = \"tcp\", address = \"127.0.0.1\", port = {}, interval = \"100ms\", timeout = \"500ms\", rise = 1, fall = 1 }}",
            t.addr.port()
        )
    };
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {}, backup = true }}, \
         {{ address = \"192.0.2.3\", state = \"drain\" }} ]\n",
        tcp(&a),
        tcp(&b)
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "only the primary: not the backup, not the drained");
    a.stop();
    server.wait_for_snapshot(LIMIT, "the primary down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "the backup");
}

#[test]
fn a_hanging_target_does_not_slow_the_others() {
    let (slow, fast) = (HealthTarget::start(), HealthTarget::start());
    slow.set_hang(true);
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&slow, "").replace("timeout = \"500ms\"", "timeout = \"2s\""),
        check(&fast, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    // The slow target hangs for its whole 2 s timeout; the fast one keeps its 100 ms pace.
    // Successful probes publish nothing: the waits are on the targets' own counts.
    slow.wait_for_requests(1, LIMIT, "first probe of the hanging target");
    let before = fast.requests();
    let started = Instant::now();
    fast.wait_for_requests(before + 10, Duration::from_secs(3), "10 probes of the fast target");
    assert!(started.elapsed() < Duration::from_millis(1900), "10 probes took {:?}", started.elapsed());
    assert_eq!(slow.requests(), 1, "the hanging target's one probe was still hanging all along");
    drop(server);
}

#[test]
fn an_answer_without_the_expected_body_takes_the_endpoint_out_until_it_has_it_again() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, ", body = \"ok\""),
        check(&b, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "both");
    a.set_body("maintenance");
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "a out on its body");
    a.set_body("ok");
    server.wait_for_snapshot(LIMIT, "192.0.2.1 up again", |s| servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "a back with its body");
}

#[test]
fn an_answer_slower_than_degraded_rtt_leaves_the_endpoint_out_while_a_healthy_one_remains() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, ""),
        check(&b, ", degraded_rtt = \"150ms\"")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1", "192.0.2.2"], "both");
    b.set_delay(Duration::from_millis(300));
    // b answers 200 but slowly: degraded, so the healthy a alone is served.
    server.wait_for_snapshot(Duration::from_secs(8), "b degraded, a healthy", |s| {
        servable(s, "192.0.2.1") && !degraded(s, "192.0.2.1") && degraded(s, "192.0.2.2")
    });
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "slow b left out");
}

#[test]
fn a_latency_pool_follows_the_faster_target() {
    let (slow, fast) = (HealthTarget::start(), HealthTarget::start());
    slow.set_delay(Duration::from_millis(120));
    let regions = format!(
        "[[region]]\nname = \"far\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"near\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
        check(&slow, ""),
        check(&fast, "")
    );
    let server = server(&regions, "policy = \"latency\"\nregions = [\"far\", \"near\"]");
    let www = pool(&server.snapshot(), "www.lb.test.");
    // Indexes into the pool's regions: 0 is "far", 1 is "near".
    server.wait_for_snapshot(LIMIT, "near measured faster", |s| s.health.preferred_region(www) == Some(1));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "the faster region");
    // Now the other way round, by far more than the 20 % and 5 ms margin.
    fast.set_delay(Duration::from_millis(250));
    slow.set_delay(Duration::ZERO);
    server.wait_for_snapshot(Duration::from_secs(8), "far measured faster", |s| {
        s.health.preferred_region(www) == Some(0)
    });
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "a switch to the now faster region");
}

#[test]
fn https_checks_verify_the_certificate_unless_told_not_to_and_send_the_host_as_sni() {
    let (strict, lax) = (HealthTarget::start_tls(), HealthTarget::start_tls());
    let https = |t: &HealthTarget, verify: bool| {
        format!(
            "{{ type = \"https\", address = \"127.0.0.1\", port = {}, host = \"health.test\", path = \"/health\", \
             interval = \"100ms\", timeout = \"1s\", rise = 1, fall = 1, verify_tls = {verify} }}",
            t.addr.port()
        )
    };
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        https(&strict, true),
        https(&lax, false)
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    // The self-signed certificate fails verification: only the opted-out check passes.
    // Bounded generously: TLS handshakes on a loaded 2-core machine can take a while.
    // Endpoints are up until probed, so the strict probe's failure can show before the lax
    // probe's first request has reached its target: wait for both. A passing probe publishes
    // nothing, so the lax one is waited for on its target.
    let limit = Duration::from_secs(15);
    server.wait_for_snapshot(limit, "the verified endpoint down", |s| !servable(s, "192.0.2.1"));
    lax.wait_for_requests(1, limit, "probe of the unverified endpoint");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "only the unverified endpoint");
    // The target records the server name once the handshake is done, before it reads the
    // request, so a counted request has its name recorded.
    assert_eq!(lax.last_server_name(), "health.test");
}

#[test]
fn a_failed_region_moves_only_its_own_clients_in_a_hash_pool() {
    let targets = [HealthTarget::start(), HealthTarget::start(), HealthTarget::start()];
    let mut regions = String::new();
    for (i, t) in targets.iter().enumerate() {
        regions.push_str(&format!(
            "[[region]]\nname = \"r{i}\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.{}\" }} ]\n",
            check(t, ""),
            i + 1
        ));
    }
    let server = server(&regions, "policy = \"hash\"\nregions = [\"r0\", \"r1\", \"r2\"]");
    let subnets: Vec<String> = (0..60).map(|i| format!("10.{i}.0.0/24")).collect();
    let answers = |server: &TestServer| -> Vec<Vec<String>> {
        subnets
            .iter()
            .map(|s| addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs(s))))
            .collect()
    };
    let before = answers(&server);
    assert!(before.iter().any(|a| a == &["192.0.2.2"]), "some clients hash to r1: {before:?}");
    targets[1].set_status(503);
    server.wait_for_snapshot(LIMIT, "r1 down", |s| !servable(s, "192.0.2.2"));
    let after = answers(&server);
    assert!(after.iter().all(|a| a != &["192.0.2.2"]), "r1 out: {after:?}");
    for (i, (was, now)) in before.iter().zip(&after).enumerate() {
        if was != &["192.0.2.2"] {
            assert_eq!(was, now, "{} moved although its region is up", subnets[i]);
        }
    }
}

#[test]
fn a_failed_region_moves_only_its_own_clients_in_a_geo_pool() {
    let targets = [HealthTarget::start(), HealthTarget::start(), HealthTarget::start()];
    let db = crate::steering::test_db();
    let regions = format!(
        "[geoip]\ndatabase = \"geo.mmdb\"\n\
         [[region]]\nname = \"alpha\"\ncountries = [\"DE\"]\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"beta\"\ncountries = [\"US\"]\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n\
         [[region]]\nname = \"gamma\"\ncontinents = [\"OC\"]\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.3\" }} ]\n",
        check(&targets[0], ""),
        check(&targets[1], ""),
        check(&targets[2], "")
    );
    let toml = format!(
        "{regions}\n[[pool]]\nname = \"www.lb.test.\"\npolicy = \"geo\"\nregions = [\"gamma\", \"alpha\", \"beta\"]\n"
    );
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[("geo.mmdb", &db)]);
    let ask = |subnet: &str| addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs(subnet)));
    assert_eq!(
        (ask("198.51.100.0/24"), ask("203.0.113.0/24")),
        (vec!["192.0.2.1".to_owned()], vec!["192.0.2.2".to_owned()])
    );
    targets[1].set_status(503);
    server.wait_for_snapshot(LIMIT, "beta down", |s| !servable(s, "192.0.2.2"));
    assert_eq!(ask("203.0.113.0/24"), ["192.0.2.3"], "the US client moved, to the pool's fallback order");
    assert_eq!(ask("198.51.100.0/24"), ["192.0.2.1"], "the German client stays");
    assert_eq!(
        addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
        ["192.0.2.3"],
        "127.0.0.1 (OC) stays"
    );
}

#[test]
fn a_failback_delay_ends_on_the_writers_timer_without_another_probe() {
    // One probe at start, the next 30 to 60 s later: only the writer's own timer can end the
    // failback delay within the test's limit.
    let target = HealthTarget::start();
    let slow = format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"60s\", \
         timeout = \"500ms\", rise = 1, fall = 1, initial = \"down\" }}",
        target.addr.port()
    );
    let regions = format!(
        "[[region]]\nname = \"primary\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {slow} }} ]\n\
         [[region]]\nname = \"backup\"\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n"
    );
    let server =
        server(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]\nfailback_delay = \"1s\"");
    let www = pool(&server.snapshot(), "www.lb.test.");
    let held = server.wait_for_snapshot(LIMIT, "primary up, held back", |s| {
        servable(s, "192.0.2.1") && s.health.is_held_back(www, 0)
    });
    let started = Instant::now();
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "the backup answers during the delay");
    server.wait_for_snapshot(LIMIT, "the failback delay over", |s| {
        s.generation > held.generation && !s.health.is_held_back(www, 0)
    });
    assert!(started.elapsed() < Duration::from_secs(5), "ended by the timer, not a probe");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "primary again");
    assert_eq!(target.requests(), 1, "no other probe came in between");
}

/// The resident set of this process in KiB, from /proc/self/status: the in-process server's
/// memory is the test's.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmRSS in kB")
}

/// Set in the process [`an_endless_body_is_judged_on_its_first_bytes_within_the_timeout_and_memory_stays_bounded`]
/// runs itself in.
const ALONE: &str = "MERIDIAN_TEST_ALONE";

#[test]
fn an_endless_body_is_judged_on_its_first_bytes_within_the_timeout_and_memory_stays_bounded() {
    // The resident set is the whole process's, and other tests run beside this one in this
    // process: the test runs again, alone, in a process of its own.
    if std::env::var_os(ALONE).is_none() {
        let name = "health::an_endless_body_is_judged_on_its_first_bytes_within_the_timeout_and_memory_stays_bounded";
        let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", name, "--test-threads=1"])
            .env(ALONE, "1")
            .output()
            .expect("the test binary runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains("1 passed"), "alone, it failed:\n{text}");
        return;
    }
    // The case: interval 1 s, timeout 2 s, `body = "ok"`, a target streaming without
    // end. One target never says "ok", the other says it first and then streams on.
    let (without, with) = (HealthTarget::start(), HealthTarget::start());
    without.set_body("");
    for target in [&without, &with] {
        target.set_endless(true);
    }
    let endless = |t: &HealthTarget| {
        format!(
            "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"1s\", \
             timeout = \"2s\", rise = 1, fall = 1, body = \"ok\" }}",
            t.addr.port()
        )
    };
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        endless(&without),
        endless(&with)
    );
    let before = rss_kib();
    let started = Instant::now();
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    // Decided on the first 64 KiB, long before the 2 s timeout (plus slack for a loaded machine).
    server.wait_for_snapshot(Duration::from_millis(1500), "the target without \"ok\" down", |s| {
        !servable(s, "192.0.2.1")
    });
    assert!(started.elapsed() < Duration::from_millis(1500), "decided after {:?}", started.elapsed());
    // Several probes of each; the memory is sampled all along, so a leak fails early instead of
    // filling the machine.
    let mut peak = before;
    let deadline = Instant::now() + Duration::from_secs(10);
    while with.requests() < 4 || without.requests() < 4 {
        peak = peak.max(rss_kib());
        assert!(peak < before + 50 * 1024, "RSS grew from {before} KiB to {peak} KiB");
        assert!(Instant::now() < deadline, "no 4 probes of each target within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let snapshot = server.snapshot();
    assert!(!servable(&snapshot, "192.0.2.1"), "no \"ok\" in the first bytes: down");
    assert!(servable(&snapshot, "192.0.2.2"), "\"ok\" in the first bytes: up, whatever follows");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"]);
}

/// A prober of `target` with the check `{ type = "http", ... }` plus `extra` (TOML lines).
fn prober(target: &HealthTarget, extra: &str) -> Prober {
    let kind = if extra.contains("type =") { "" } else { "type = \"http\"\n" };
    let text = format!("{kind}address = \"127.0.0.1\"\nport = {}\npath = \"/health\"\n{extra}", target.addr.port());
    let file: FileCheck = toml::from_str(&text).expect("a check table");
    let mut problems = Vec::new();
    let check = meridian::config::health::check(&file, "check", &mut problems)
        .unwrap_or_else(|| panic!("{text}: {problems:?}"));
    Prober::new(Target { check, address: target.addr.ip(), name: None }).expect("a prober")
}

/// One probe, on a runtime of its own.
fn probe(prober: &Prober) -> ProbeResult {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(prober.probe())
}

#[test]
fn a_response_head_over_16_kib_fails_the_probe() {
    let target = HealthTarget::start();
    target.set_header_bytes(15_000);
    let result = probe(&prober(&target, ""));
    assert_eq!(result.observation, Observation::Ok, "a 15,000-byte header fits: {result:?}");
    // Under hyper's default limit of about 400 KiB, which the probe used to have.
    target.set_header_bytes(64 * 1024);
    let result = probe(&prober(&target, ""));
    assert_eq!(result.observation, Observation::Failed, "{result:?}");
    assert!(result.detail.contains("response head over 16384 bytes"), "{result:?}");
}

#[test]
fn redirects_are_judged_by_their_status_and_never_followed() {
    let (redirecting, elsewhere) = (HealthTarget::start(), HealthTarget::start());
    redirecting.set_status(302);
    redirecting.set_location(&format!("http://127.0.0.1:{}/health", elsewhere.addr.port()));
    let result = probe(&prober(&redirecting, ""));
    assert_eq!((result.observation, result.detail.as_str()), (Observation::Ok, "HTTP 302"), "within 200-399");
    let result = probe(&prober(&redirecting, "expect = [200]"));
    assert_eq!((result.observation, result.detail.as_str()), (Observation::Failed, "HTTP 302"));
    let result = probe(&prober(&redirecting, "body = \"ok\""));
    assert_eq!(result.observation, Observation::Ok, "the redirect's own body holds \"ok\": {result:?}");
    assert_eq!(elsewhere.requests(), 0, "the redirect was followed");
}

#[test]
fn max_body_bytes_bounds_where_the_body_is_looked_for() {
    let target = HealthTarget::start();
    target.set_body(&format!("{}ok", "x".repeat(100)));
    let result = probe(&prober(&target, "body = \"ok\"\nmax_body_bytes = 101"));
    assert_eq!(result.observation, Observation::Failed, "{result:?}");
    assert_eq!(result.detail, "HTTP 200, no \"ok\" in the first 101 bytes of the body");
    let result = probe(&prober(&target, "body = \"ok\"\nmax_body_bytes = 102"));
    assert_eq!(result.observation, Observation::Ok, "{result:?}");
    let result = probe(&prober(&target, "body = \"nowhere\""));
    assert_eq!(result.detail, "HTTP 200, body without \"nowhere\"", "the body ended first");
}

#[test]
fn an_endless_body_is_not_read_at_all_without_a_body_check_and_bounded_over_https() {
    let target = HealthTarget::start();
    target.set_endless(true);
    let started = Instant::now();
    let result = probe(&prober(&target, "timeout = \"2s\""));
    assert_eq!(result.observation, Observation::Ok, "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());

    let tls = HealthTarget::start_tls();
    tls.set_endless(true);
    tls.set_body("");
    let https = "type = \"https\"\nverify_tls = false\ntimeout = \"2s\"\nbody = \"ok\"";
    let started = Instant::now();
    let result = probe(&prober(&tls, https));
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}: {result:?}", started.elapsed());
    assert_eq!(result.observation, Observation::Failed, "{result:?}");
    assert_eq!(result.detail, "HTTP 200, no \"ok\" in the first 65536 bytes of the body");
}
