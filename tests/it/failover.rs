//! What a pool does when its regions fail, recover or slow down, as the README's "Health
//! checks and failover" promises it: `when_all_down = "nodata"`, `spill = "spread"`,
//! `failback_delay` and `latency_margin_pct`, over real targets, a real server and real queries
//! (the steering unit tests decide the same from made-up health views).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::health::{LIMIT, addresses, ask, check, server};
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;
use crate::support::{TestServer, pool, servable};

#[test]
fn a_pool_may_answer_nodata_with_the_soa_when_all_is_down() {
    let target = HealthTarget::start();
    target.set_status(500);
    let regions = format!(
        "[[region]]\nname = \"one\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n",
        check(&target, "")
    );
    let server = server(&regions, "policy = \"priority\"\nregions = [\"one\"]\nwhen_all_down = \"nodata\"");
    server.wait_for_snapshot(LIMIT, "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    let reply = ask(&server);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "NODATA, not an error");
    assert!(reply.answers.is_empty(), "{:?}", reply.answers);
    let soa = reply.authorities.iter().find(|r| r.record_type() == RecordType::SOA);
    assert_eq!(soa.map(|r| r.name.to_string()).as_deref(), Some("lb.test."), "{:?}", reply.authorities);
}

/// Four regions a, b, c, d (192.0.2.1 to .4); only a is checked, on `target`.
fn four_regions(target: &HealthTarget) -> String {
    let mut regions = format!(
        "[[region]]\nname = \"a\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n",
        check(target, "")
    );
    for (i, name) in ["b", "c", "d"].iter().enumerate() {
        regions.push_str(&format!(
            "[[region]]\nname = \"{name}\"\nendpoints = [ {{ address = \"192.0.2.{}\" }} ]\n",
            i + 2
        ));
    }
    regions
}

#[test]
fn spill_spread_shares_a_failed_regions_clients_over_the_next_two_regions_by_subnet() {
    let target = HealthTarget::start();
    let server = server(
        &four_regions(&target),
        "policy = \"priority\"\nregions = [\"a\", \"b\", \"c\", \"d\"]\nspill = \"spread\"\nspill_regions = 2",
    );
    let subnets: Vec<String> = (0..60).map(|i| format!("10.{i}.0.0/24")).collect();
    let answer =
        |subnet: &str| addresses(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs(subnet)));
    assert!(subnets.iter().all(|s| answer(s) == ["192.0.2.1"]), "a serves everyone while up");
    target.set_status(503);
    server.wait_for_snapshot(LIMIT, "a down", |s| !servable(s, "192.0.2.1"));
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for subnet in &subnets {
        let got = answer(subnet);
        assert_eq!(got.len(), 1, "{subnet}: {got:?}");
        // Another client of the same /24 (hash_prefix_v4, 24 by default) goes the same way.
        let neighbour = subnet.replace(".0/24", ".128/25");
        assert_eq!(answer(&neighbour), got, "{neighbour} goes where {subnet} goes");
        *counts.entry(got[0].clone()).or_default() += 1;
    }
    // Spread over b and c, the next two choices; d, the third, gets none.
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["192.0.2.2", "192.0.2.3"], "{counts:?}");
    assert!(counts.values().all(|&n| n >= 15), "spread, not all to one: {counts:?}");
}

#[test]
fn a_recovered_region_waits_out_its_failback_delay_before_it_serves_again() {
    let target = HealthTarget::start();
    let regions = format!(
        "[[region]]\nname = \"primary\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"backup\"\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
        check(&target, "")
    );
    let server =
        server(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]\nfailback_delay = \"1s\"");
    let www = pool(&server.snapshot(), "www.lb.test.");
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "the primary");
    target.set_status(503);
    server.wait_for_snapshot(LIMIT, "the primary down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "failover to the backup");
    // The primary recovers only after this instant, so its delay cannot end before 1 s from it.
    let recovering = Instant::now();
    target.set_status(200);
    let held = server.wait_for_snapshot(LIMIT, "the primary up and held back", |s| {
        servable(s, "192.0.2.1") && s.health.is_held_back(www, 0)
    });
    assert_eq!(addresses(&ask(&server)), ["192.0.2.2"], "the backup still answers during the delay");
    server.wait_for_snapshot(LIMIT, "the failback delay over", |s| {
        s.generation > held.generation && !s.health.is_held_back(www, 0)
    });
    assert!(recovering.elapsed() >= Duration::from_secs(1), "failed back after {:?}", recovering.elapsed());
    assert_eq!(addresses(&ask(&server)), ["192.0.2.1"], "the primary again");
}

/// The region (index into the pool's regions) `name` prefers in the server's snapshot now.
fn preferred(server: &TestServer, name: &str) -> Option<u8> {
    let snapshot = server.snapshot();
    snapshot.health.preferred_region(pool(&snapshot, name))
}

#[test]
fn a_latency_pool_switches_only_for_a_region_faster_by_latency_margin_pct() {
    // Two pools over the same regions: www with the default margin (20 %) and loose with 95 %.
    // Once near answers in about half far's time, www moves to it and loose does not.
    let (far, near) = (HealthTarget::start(), HealthTarget::start());
    far.set_delay(Duration::from_millis(200));
    near.set_hang(true); // unmeasured until far is preferred
    let timed = |t: &HealthTarget| check(t, "").replace("timeout = \"500ms\"", "timeout = \"1s\"");
    let regions = format!(
        "[[region]]\nname = \"far\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"near\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
        timed(&far),
        timed(&near)
    );
    let server = server(
        &regions,
        "policy = \"latency\"\nregions = [\"far\", \"near\"]\n\
         [[pool]]\nname = \"loose.lb.test.\"\npolicy = \"latency\"\nregions = [\"far\", \"near\"]\nlatency_margin_pct = 95",
    );
    let (www, loose) = (pool(&server.snapshot(), "www.lb.test."), pool(&server.snapshot(), "loose.lb.test."));
    // Indexes into the pools' regions: 0 is far, 1 is near.
    server.wait_for_snapshot(LIMIT, "both pools on far", |s| {
        s.health.preferred_region(www) == Some(0) && s.health.preferred_region(loose) == Some(0)
    });
    near.set_delay(Duration::from_millis(100));
    near.set_hang(false);
    server.wait_for_snapshot(Duration::from_secs(8), "www on near", |s| s.health.preferred_region(www) == Some(1));
    // Ten more probes of near bring its average close to 100 ms: half far's 200, never 95 %
    // faster (a probe slower than its 1 s timeout fails and is not averaged).
    let probes = near.requests();
    near.wait_for_requests(probes + 10, LIMIT, "ten more probes of near");
    assert_eq!(preferred(&server, "loose.lb.test."), Some(0), "loose stays on far");
    let loose_answer = addresses(&client::udp(server.addr, &Q::new("loose.lb.test.", RecordType::A)));
    assert_eq!((addresses(&ask(&server)), loose_answer), (vec!["192.0.2.2".into()], vec!["192.0.2.1".into()]));
}
