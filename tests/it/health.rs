//! Failover at DNS level: real health targets served by the test, a real server, real queries.

use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::steering::LB_ZONE;
use crate::support::TestServer;
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;

/// A check on `target` that reacts within a few hundred milliseconds.
fn check(target: &HealthTarget, extra: &str) -> String {
    format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"100ms\", \
         timeout = \"500ms\", rise = 2, fall = 2 {extra} }}",
        target.addr.port()
    )
}

fn server(regions: &str, pool: &str) -> TestServer {
    let toml = format!("{regions}\n[[pool]]\nname = \"www.lb.test.\"\nfailover_ttl = 5\nttl = 30\n{pool}\n");
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[])
}

fn addresses(reply: &Message) -> Vec<String> {
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

/// Queries until `done` holds, polling every 20 ms, for at most `limit`.
fn wait_for(server: &TestServer, limit: Duration, what: &str, done: impl Fn(&Message) -> bool) -> Message {
    let deadline = Instant::now() + limit;
    loop {
        let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A));
        if done(&reply) {
            return reply;
        }
        assert!(Instant::now() < deadline, "no {what} within {limit:?}; last answer {:?}", addresses(&reply));
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let first = wait_for(&server, Duration::from_secs(5), "both endpoints", |m| addresses(m).len() == 2);
    assert!(first.answers.iter().all(|r| r.ttl <= 30));
    a.set_status(503);
    let failed = wait_for(&server, Duration::from_secs(5), "failover", |m| addresses(m) == ["192.0.2.2"]);
    assert_eq!(failed.answers[0].ttl, 5, "failover_ttl while an endpoint is down");
    a.set_status(200);
    let back = wait_for(&server, Duration::from_secs(5), "recovery", |m| addresses(m).len() == 2);
    assert_eq!(back.answers[0].ttl, 5, "still short just after the change (failover_ttl_hold)");
    wait_for(&server, Duration::from_secs(5), "the pool TTL again", |m| m.answers.iter().all(|r| r.ttl == 30));
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
    wait_for(&server, Duration::from_secs(5), "primary", |m| addresses(m) == ["192.0.2.1"]);
    a.set_status(503);
    wait_for(&server, Duration::from_secs(5), "failover to backup", |m| addresses(m) == ["192.0.2.2"]);
    a.set_status(200);
    wait_for(&server, Duration::from_secs(5), "failback to primary", |m| addresses(m) == ["192.0.2.1"]);
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
    wait_for(&server, Duration::from_secs(5), "one", |m| addresses(m) == ["192.0.2.1"]);
    a.set_status(500);
    b.set_status(500);
    let open = wait_for(&server, Duration::from_secs(5), "fail open", |m| addresses(m).len() == 2);
    assert!(open.answers.iter().all(|r| r.ttl == 5));
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
    wait_for(&server, Duration::from_secs(5), "SERVFAIL", |m| m.metadata.response_code == ResponseCode::ServFail);
}

#[test]
fn a_degraded_endpoint_is_served_only_when_no_healthy_one_remains() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let degraded = ", degraded_status = [429]";
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, degraded),
        check(&b, degraded)
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    wait_for(&server, Duration::from_secs(5), "both", |m| addresses(m).len() == 2);
    a.set_status(429);
    wait_for(&server, Duration::from_secs(5), "a left out", |m| addresses(m) == ["192.0.2.2"]);
    b.set_status(503);
    wait_for(&server, Duration::from_secs(5), "degraded a served", |m| addresses(m) == ["192.0.2.1"]);
}

#[test]
fn tcp_checks_and_drained_and_backup_endpoints() {
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
    wait_for(&server, Duration::from_secs(5), "only the primary", |m| addresses(m) == ["192.0.2.1"]);
    a.stop();
    wait_for(&server, Duration::from_secs(5), "the backup", |m| addresses(m) == ["192.0.2.2"]);
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
    let before = fast.requests();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3);
    while fast.requests() < before + 10 {
        assert!(Instant::now() < deadline, "the fast target got {} probes", fast.requests() - before);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started.elapsed() < Duration::from_millis(1900), "10 probes took {:?}", started.elapsed());
    drop(server);
}

#[test]
fn a_body_mismatch_fails_and_a_slow_answer_degrades() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let regions = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {} }}, {{ address = \"192.0.2.2\", check = {} }} ]\n",
        check(&a, ", body = \"ok\""),
        check(&b, ", degraded_rtt = \"150ms\"")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"r\"]");
    wait_for(&server, Duration::from_secs(5), "both", |m| addresses(m).len() == 2);
    a.set_body("maintenance");
    wait_for(&server, Duration::from_secs(5), "a out on its body", |m| addresses(m) == ["192.0.2.2"]);
    a.set_body("ok");
    b.set_delay(Duration::from_millis(300));
    // b answers 200 but slowly: degraded, so the healthy a alone is served.
    wait_for(&server, Duration::from_secs(8), "slow b left out", |m| addresses(m) == ["192.0.2.1"]);
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
    wait_for(&server, Duration::from_secs(5), "the faster region", |m| addresses(m) == ["192.0.2.2"]);
    // Now the other way round, by far more than the 20 % and 5 ms margin.
    fast.set_delay(Duration::from_millis(250));
    slow.set_delay(Duration::ZERO);
    wait_for(&server, Duration::from_secs(8), "a switch to the now faster region", |m| addresses(m) == ["192.0.2.1"]);
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
    // probe's first request has reached its target: wait for both.
    wait_for(&server, Duration::from_secs(15), "only the unverified endpoint, probed", |m| {
        addresses(m) == ["192.0.2.2"] && lax.requests() > 0
    });
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
    wait_for(&server, Duration::from_secs(5), "the first answers", |m| !addresses(m).is_empty());
    let before = answers(&server);
    assert!(before.iter().any(|a| a == &["192.0.2.2"]), "some clients hash to r1: {before:?}");
    targets[1].set_status(503);
    wait_for(&server, Duration::from_secs(5), "r1 out", |_| answers(&server).iter().all(|a| a != &["192.0.2.2"]));
    let after = answers(&server);
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
    wait_for(&server, Duration::from_secs(5), "answers", |m| !addresses(m).is_empty());
    assert_eq!(
        (ask("198.51.100.0/24"), ask("203.0.113.0/24")),
        (vec!["192.0.2.1".to_owned()], vec!["192.0.2.2".to_owned()])
    );
    targets[1].set_status(503);
    wait_for(&server, Duration::from_secs(5), "the US client moved", |_| ask("203.0.113.0/24") != ["192.0.2.2"]);
    assert_eq!(ask("203.0.113.0/24"), ["192.0.2.3"], "to the pool's fallback order");
    assert_eq!(ask("198.51.100.0/24"), ["192.0.2.1"], "the German client stays");
    assert_eq!(
        addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
        ["192.0.2.3"],
        "127.0.0.1 (OC) stays"
    );
}
