//! Policies without sockets: pools built from TOML, databases built in memory, fixed salts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use mmdb_writer::{Value, Writer};

use super::*;
use crate::config::Config;
use crate::geo::asn::AsnDb;
use crate::geo::mmdb::GeoDb;
use crate::health::view::EndpointView;
use crate::zone::parse::parse;
use crate::zone::{Zone, Zones};

const ZONE: &str = "$ORIGIN lb.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n";

/// Steering for one pool named `p.lb.test.` over the given regions.
/// Steering and the health view its queries read (every endpoint up until a test says not).
pub(super) struct Setup {
    pub(super) steering: Steering,
    pub(super) health: HealthView,
}

impl std::ops::Deref for Setup {
    type Target = Steering;

    fn deref(&self) -> &Steering {
        &self.steering
    }
}

pub(super) fn steering(regions: &str, pool: &str, geo: Option<GeoDb>) -> Setup {
    steering_by_asn(regions, pool, geo, None)
}

/// As [`steering`], with an ASN database too.
pub(super) fn steering_by_asn(regions: &str, pool: &str, geo: Option<GeoDb>, asn: Option<AsnDb>) -> Setup {
    let mut geoip = String::new();
    if geo.is_some() || asn.is_some() {
        geoip.push_str("[geoip]\n");
    }
    if geo.is_some() {
        geoip.push_str("database = \"unused.mmdb\"\n");
    }
    if asn.is_some() {
        geoip.push_str("asn_database = \"unused-asn.mmdb\"\n");
    }
    let toml = format!("zones_dir = \"z\"\n{geoip}{regions}\n[[pool]]\nname = \"p.lb.test.\"\n{pool}\n");
    let config = Config::from_toml(&toml, Path::new(""), "test").expect("valid test configuration");
    let file = parse(ZONE, None).unwrap();
    let zones = Zones::new(vec![Zone::build(file.origin.unwrap(), file.entries).unwrap()]);
    let steering = Steering::build(&config, geo.map(Arc::new), asn.map(Arc::new), &zones).expect("pool builds");
    let endpoints = config.regions.iter().map(|r| r.endpoints.len()).sum();
    Setup { steering, health: HealthView::all_up(endpoints) }
}

pub(super) fn region(name: &str, extra: &str, endpoints: &[(&str, u32)]) -> String {
    let list: Vec<String> = endpoints.iter().map(|(a, w)| format!("{{ address = \"{a}\", weight = {w} }}")).collect();
    format!("[[region]]\nname = \"{name}\"\n{extra}\nendpoints = [ {} ]\n", list.join(", "))
}

fn query<'a>(s: &'a Setup, client: &str, turn: u64, random: u64) -> Query<'a> {
    let client: IpAddr = client.parse().unwrap();
    Query {
        client,
        client_prefix: if client.is_ipv4() { 32 } else { 128 },
        family: if client.is_ipv4() { Family::V4 } else { Family::V6 },
        geo: s.geo.as_deref(),
        asn: s.asn.as_deref(),
        health: &s.health,
        turn,
        random,
    }
}

fn region_of(s: &Setup, q: &Query<'_>) -> Option<String> {
    let pool = &s.pools[0];
    decide(pool, q).region.map(|r| pool.regions[r].name.clone())
}

fn city_db(places: &[(&str, &str, &str, f64, f64)]) -> GeoDb {
    let mut writer = Writer::new("test-city");
    for (net, country, continent, lat, lon) in places {
        let record = Value::map([
            ("country", Value::map([("iso_code", Value::from(*country))])),
            ("continent", Value::map([("code", Value::from(*continent))])),
            ("location", Value::map([("latitude", Value::from(*lat)), ("longitude", Value::from(*lon))])),
        ]);
        writer.insert_value(net.parse::<ipnet::IpNet>().unwrap(), record).unwrap();
    }
    GeoDb::from_bytes(writer.to_bytes().unwrap(), Path::new("test")).unwrap()
}

#[test]
fn weighted_regions_take_shares_within_one_percent_of_their_weights() {
    let regions = [
        region("one", "", &[("192.0.2.1", 1)]),
        region("three", "", &[("192.0.2.3", 3)]),
        region("six", "", &[("192.0.2.6", 6)]),
    ];
    let s = steering(&regions.concat(), "policy = \"weighted\"\nregions = [\"one\", \"three\", \"six\"]", None);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..10_000u64 {
        *counts.entry(region_of(&s, &query(&s, "192.0.2.200", i, splitmix64(i))).unwrap()).or_default() += 1;
    }
    for (name, weight) in [("one", 0.1), ("three", 0.3), ("six", 0.6)] {
        let share = f64::from(counts[name]) / 10_000.0;
        assert!((share - weight).abs() < 0.01, "{name}: {share}");
    }
}

#[test]
fn ramped_weights_in_the_view_weigh_regions_and_a_ramp_to_0_serves_until_its_end() {
    // Region "new" slow-starts its endpoint of weight 1 (a tenth: 100 thousandths) against
    // "old" at weight 1, while its other endpoint ramps down from 1 to 0 (halfway): the region
    // weighs what its endpoints weigh now.
    let regions = [region("old", "", &[("192.0.2.1", 1)]), region("new", "", &[("192.0.2.2", 1), ("192.0.2.3", 0)])];
    let mut s = steering(&regions.concat(), "policy = \"weighted\"\nregions = [\"old\", \"new\"]", None);
    s.health = HealthView::all_up(3).with_weights(vec![1_000, 100, 500]);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..20_000u64 {
        *counts.entry(region_of(&s, &query(&s, "192.0.2.200", i, splitmix64(i))).unwrap()).or_default() += 1;
    }
    let share = f64::from(counts["new"]) / 20_000.0;
    assert!((share - 600.0 / 1_600.0).abs() < 0.015, "new weighs 0.1 + 0.5 of 1.6: {share}");
    // 192.0.2.3 is ramping down to weight 0: it still serves, by its weight now.
    assert!(can_serve(&s.pools[0], 1, &s.health));
    s.health = HealthView::all_up(3).with_weights(vec![1_000, 0, 0]);
    assert!(!can_serve(&s.pools[0], 1, &s.health), "at its end, weight 0: out");
}

#[test]
fn endpoints_within_a_region_are_drawn_by_weight() {
    let regions = region("r", "", &[("192.0.2.1", 1), ("192.0.2.2", 2), ("192.0.2.7", 7)]);
    let s = steering(&regions, "policy = \"priority\"\nregions = [\"r\"]\nmax_answers = 1", None);
    let mut counts: HashMap<IpAddr, u32> = HashMap::new();
    for i in 0..10_000u64 {
        let decision = decide(&s.pools[0], &query(&s, "192.0.2.200", i, splitmix64(i)));
        assert_eq!(decision.endpoints.len(), 1);
        *counts.entry(decision.endpoints.get(0).unwrap().address).or_default() += 1;
    }
    for (address, weight) in [("192.0.2.1", 0.1), ("192.0.2.2", 0.2), ("192.0.2.7", 0.7)] {
        let share = f64::from(counts[&address.parse::<IpAddr>().unwrap()]) / 10_000.0;
        assert!((share - weight).abs() < 0.01, "{address}: {share}");
    }
}

fn four_regions() -> String {
    ["a", "b", "c", "d"].iter().enumerate().map(|(i, n)| region(n, "", &[(&format!("192.0.2.{}", i + 1), 1)])).collect()
}

#[test]
fn hash_keeps_a_client_on_its_region_whatever_its_host_bits() {
    let s = steering(&four_regions(), "policy = \"hash\"\nregions = [\"a\", \"b\", \"c\", \"d\"]", None);
    for net in 0..200u32 {
        let base = format!("10.{}.{}", net / 256, net % 256);
        let first = region_of(&s, &query(&s, &format!("{base}.1"), 0, 1));
        for host in [2, 77, 254] {
            assert_eq!(region_of(&s, &query(&s, &format!("{base}.{host}"), host, host)), first, "{base}.{host}");
        }
    }
}

#[test]
fn hash_moves_only_the_clients_of_a_region_that_goes() {
    let mut s = steering(&four_regions(), "policy = \"hash\"\nregions = [\"a\", \"b\", \"c\", \"d\"]", None);
    let clients: Vec<String> = (0..10_000u32).map(|i| format!("10.{}.{}.1", i / 256, i % 256)).collect();
    let before: Vec<_> = clients.iter().map(|c| region_of(&s, &query(&s, c, 0, 0)).unwrap()).collect();
    let on_c = before.iter().filter(|r| *r == "c").count();
    assert!((2_000..3_000).contains(&on_c), "a fair share lands on c: {on_c}");
    // Region c fails (its only endpoint, health index 2, goes down) ...
    s.health.set_servable(2, false);
    let failed: Vec<_> = clients.iter().map(|c| region_of(&s, &query(&s, c, 0, 0)).unwrap()).collect();
    // ... or is removed from the pool's configuration.
    let removed = steering(&four_regions(), "policy = \"hash\"\nregions = [\"a\", \"b\", \"d\"]", None);
    let without: Vec<_> = clients.iter().map(|c| region_of(&removed, &query(&removed, c, 0, 0)).unwrap()).collect();
    for i in 0..clients.len() {
        if before[i] == "c" {
            assert_ne!(failed[i], "c");
            assert_eq!(failed[i], without[i], "{}: the failed and removed cases agree", clients[i]);
        } else {
            assert_eq!(failed[i], before[i], "{} moved although its region stayed", clients[i]);
            assert_eq!(without[i], before[i], "{} moved although its region stayed", clients[i]);
        }
    }
}

fn paris_db() -> GeoDb {
    city_db(&[("192.0.2.0/24", "FR", "EU", 48.86, 2.35), ("198.51.100.0/24", "JP", "AS", 35.68, 139.69)])
}

#[test]
fn nearest_picks_the_closest_region_and_bias_draws_clients_further() {
    let regions = region("london", "location = { lat = 51.51, lon = -0.13 }", &[("203.0.113.1", 1)])
        + &region("frankfurt", "location = { lat = 50.11, lon = 8.68 }", &[("203.0.113.2", 1)]);
    let s = steering(&regions, "policy = \"nearest\"\nregions = [\"frankfurt\", \"london\"]", Some(paris_db()));
    let q = query(&s, "192.0.2.9", 0, 0);
    assert_eq!(region_of(&s, &q).as_deref(), Some("london"), "Paris-London 344 km, Paris-Frankfurt 478 km");
    let decision = decide(&s.pools[0], &q);
    assert!(matches!(decision.reason, Reason::Nearest { km } if (330.0..360.0).contains(&km)), "{:?}", decision.reason);
    assert_eq!(decision.scope, 24);
    let biased = region("london", "location = { lat = 51.51, lon = -0.13 }", &[("203.0.113.1", 1)])
        + &region("frankfurt", "location = { lat = 50.11, lon = 8.68 }\nbias_km = 200.0", &[("203.0.113.2", 1)]);
    let s = steering(&biased, "policy = \"nearest\"\nregions = [\"frankfurt\", \"london\"]", Some(paris_db()));
    assert_eq!(region_of(&s, &query(&s, "192.0.2.9", 0, 0)).as_deref(), Some("frankfurt"));
    // A client the database does not know falls to the pool's order.
    assert_eq!(region_of(&s, &query(&s, "203.0.113.77", 0, 0)).as_deref(), Some("frankfurt"));
}

#[test]
fn priority_serves_in_order_fails_over_and_fails_back() {
    let regions = region("primary", "", &[("192.0.2.1", 1)]) + &region("backup", "", &[("192.0.2.2", 1)]);
    let mut s = steering(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]", None);
    assert_eq!(region_of(&s, &query(&s, "192.0.2.9", 0, 0)).as_deref(), Some("primary"));
    s.health.set_servable(0, false);
    let decision = decide(&s.pools[0], &query(&s, "192.0.2.9", 0, 0));
    assert_eq!(decision.reason, Reason::NextInOrder { position: 1 });
    assert_eq!(region_of(&s, &query(&s, "192.0.2.9", 0, 0)).as_deref(), Some("backup"));
    s.health.set_servable(0, true);
    assert_eq!(region_of(&s, &query(&s, "192.0.2.9", 0, 0)).as_deref(), Some("primary"), "fails back");
    s.health.set_servable(0, false);
    s.health.set_servable(1, false);
    assert_eq!(decide(&s.pools[0], &query(&s, "192.0.2.9", 0, 0)).region, None);
}

#[test]
fn round_robin_turns_through_the_regions_and_random_follows_its_draw() {
    let s = steering(&four_regions(), "policy = \"round_robin\"\nregions = [\"a\", \"b\", \"c\", \"d\"]", None);
    let turns: Vec<_> = (0..6).map(|t| region_of(&s, &query(&s, "192.0.2.9", t, 0)).unwrap()).collect();
    assert_eq!(turns, ["a", "b", "c", "d", "a", "b"]);
    let s = steering(&four_regions(), "policy = \"random\"\nregions = [\"a\", \"b\", \"c\", \"d\"]", None);
    let draws: Vec<_> = (0..4).map(|r| region_of(&s, &query(&s, "192.0.2.9", 0, r)).unwrap()).collect();
    assert_eq!(draws, ["a", "b", "c", "d"]);
}

#[test]
fn geo_maps_country_then_continent_then_falls_back_and_overrides_win() {
    let db = city_db(&[
        ("192.0.2.0/25", "DE", "EU", 51.0, 10.0),
        ("192.0.2.128/25", "FR", "EU", 47.0, 2.0),
        ("198.51.100.0/24", "BR", "SA", -10.0, -50.0),
    ]);
    let regions = region("us", "countries = [\"US\"]", &[("203.0.113.1", 1)])
        + &region("de", "countries = [\"DE\"]", &[("203.0.113.2", 1)])
        + &region("eu", "continents = [\"EU\"]", &[("203.0.113.3", 1)]);
    let pool = "policy = \"geo\"\nregions = [\"us\", \"de\", \"eu\"]\noverrides = [ { subnet = \"192.0.2.64/26\", region = \"us\" } ]";
    let s = steering(&regions, pool, Some(db));
    let cases = [
        // The database network is a /25, but its /26 next door is overridden: scope 26.
        ("192.0.2.10", "de", Reason::Country(*b"DE"), 26),
        ("192.0.2.200", "eu", Reason::Continent(*b"EU"), 25),
        ("198.51.100.1", "us", Reason::Fallback, 24),
        ("192.0.2.70", "us", Reason::Override { prefix_len: 26 }, 26),
    ];
    for (client, region, reason, scope) in cases {
        let decision = decide(&s.pools[0], &query(&s, client, 0, 0));
        assert_eq!(decision.region.map(|r| s.pools[0].regions[r].name.as_str()), Some(region), "{client}");
        assert_eq!(decision.reason, reason, "{client}");
        assert_eq!(decision.scope, scope, "{client}");
    }
}

#[test]
fn a_country_only_database_gets_continent_and_centroid_from_the_table() {
    let mut writer = Writer::new("test-country");
    writer
        .insert_value(
            "192.0.2.0/24".parse::<ipnet::IpNet>().unwrap(),
            Value::map([("country_code", Value::from("JP"))]),
        )
        .unwrap();
    let db = GeoDb::from_bytes(writer.to_bytes().unwrap(), Path::new("test")).unwrap();
    let located = db.locate("192.0.2.1".parse().unwrap()).unwrap();
    let place = db.location(located.location.unwrap());
    assert_eq!(place.country, Some(*b"JP"));
    assert_eq!(place.continent, Some(*b"AS"));
    let at = place.coordinates.unwrap();
    assert!((25.0..45.0).contains(&at.lat) && (125.0..150.0).contains(&at.lon), "{at:?}");
}

#[test]
fn when_the_override_region_cannot_serve_the_policys_own_order_follows() {
    let db = city_db(&[("192.0.2.0/24", "DE", "EU", 51.0, 10.0)]);
    let regions = region("us", "countries = [\"US\"]", &[("203.0.113.1", 1)])
        + &region("de", "countries = [\"DE\"]", &[("203.0.113.2", 1), ("2001:db8::2", 1)])
        + &region("v4only", "", &[("203.0.113.3", 1)]);
    let pool = "policy = \"geo\"\nregions = [\"us\", \"de\", \"v4only\"]\noverrides = [ { subnet = \"192.0.2.0/24\", region = \"v4only\" } ]";
    let s = steering(&regions, pool, Some(db));
    let mut q = query(&s, "192.0.2.10", 0, 0);
    q.family = Family::V6;
    let decision = decide(&s.pools[0], &q);
    // v4only has no AAAA: the geo policy's choice for a German client (de) serves, not the
    // pool's first region (us).
    assert_eq!(decision.region.map(|r| s.pools[0].regions[r].name.as_str()), Some("de"));
    assert_eq!(decision.reason, Reason::NextInOrder { position: 1 });
}

#[test]
fn the_scope_cap_follows_the_client_address_family() {
    let db = city_db(&[("2001:db8:100::/48", "DE", "EU", 51.0, 10.0)]);
    let regions = region("de", "countries = [\"DE\"]", &[("203.0.113.2", 1)]);
    let s = steering(&regions, "policy = \"geo\"\nregions = [\"de\"]\necs_max_scope_v4 = 20", Some(db));
    // An IPv6 client asking for A: the IPv6 cap (128) applies, not the IPv4 one.
    let mut q = query(&s, "2001:db8:100::1", 0, 0);
    q.family = Family::V4;
    let decision = decide(&s.pools[0], &q);
    assert_eq!(decision.region, Some(0));
    assert_eq!(decision.scope, 48);
}

#[test]
fn spill_spread_shares_a_failed_regions_clients_over_the_next_choices() {
    let mut s = steering(
        &four_regions(),
        "policy = \"priority\"\nregions = [\"a\", \"b\", \"c\", \"d\"]\nspill = \"spread\"\nspill_regions = 2",
        None,
    );
    s.health.set_servable(0, false); // a goes down
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..2_000u32 {
        let (client, neighbour) = (format!("10.{}.{}.1", i / 256, i % 256), format!("10.{}.{}.9", i / 256, i % 256));
        let first = region_of(&s, &query(&s, &client, 0, 0)).unwrap();
        assert_eq!(region_of(&s, &query(&s, &neighbour, 7, 7)).unwrap(), first, "a client keeps its spill region");
        *counts.entry(first).or_default() += 1;
    }
    assert_eq!(counts.len(), 2, "{counts:?}");
    assert!((800..1200).contains(&counts["b"]) && (800..1200).contains(&counts["c"]), "{counts:?}");
}

#[test]
fn latency_pools_follow_the_region_the_health_view_prefers() {
    let mut s = steering(&four_regions(), "policy = \"latency\"\nregions = [\"a\", \"b\", \"c\", \"d\"]", None);
    assert_eq!(region_of(&s, &query(&s, "192.0.2.9", 0, 0)).as_deref(), Some("a"), "unmeasured: pool order");
    let endpoints = (0..4).map(|_| EndpointView { servable: true, degraded: false, drained: false }).collect();
    s.health = HealthView::new(endpoints, vec![false; 4], vec![false], vec![Some(2)]);
    let decision = decide(&s.pools[0], &query(&s, "192.0.2.9", 0, 0));
    assert_eq!(decision.region, Some(2));
    assert_eq!(decision.reason, Reason::Latency { measured: true });
    assert_eq!(decision.scope, 0);
}

#[test]
fn a_manual_failover_sends_a_regions_clients_to_another_and_never_tries_it() {
    let regions = format!(
        "{}{}{}",
        region("a", "", &[("192.0.2.1", 1)]),
        region("b", "", &[("192.0.2.2", 1)]),
        region("c", "", &[("192.0.2.3", 1)])
    );
    let mut s = steering(&regions, "policy = \"priority\"\nregions = [\"a\", \"b\", \"c\"]", None);
    let pools = &mut s.steering.pools;
    pools[0].failovers = vec![(0, 2)];
    let q = query(&s, "198.51.100.1", 0, 0);
    let decision = decide(&s.pools[0], &q);
    assert_eq!(region_of(&s, &q).as_deref(), Some("c"), "a's clients go to c, not to b next in order");
    assert_eq!(decision.reason, Reason::ManualFailover { from: 0 });

    // c down: the order a (failed over), b, c (down) leaves b.
    s.health.set_servable(2, false);
    let q = query(&s, "198.51.100.1", 0, 0);
    assert_eq!(region_of(&s, &q).as_deref(), Some("b"));

    // A cycle sends nobody to either region.
    s.health.set_servable(2, true);
    s.steering.pools[0].failovers = vec![(0, 1), (1, 0)];
    let q = query(&s, "198.51.100.1", 0, 0);
    assert_eq!(region_of(&s, &q).as_deref(), Some("c"));
}

/// A name region: `{ name = .. }` endpoints with weights.
fn named_region(name: &str, endpoints: &[(&str, u32)]) -> String {
    let list: Vec<String> = endpoints.iter().map(|(n, w)| format!("{{ name = \"{n}\", weight = {w} }}")).collect();
    format!("[[region]]\nname = \"{name}\"\nendpoints = [ {} ]\n", list.join(", "))
}

#[test]
fn a_name_region_answers_one_name_of_either_family_drawn_by_weight() {
    let regions = named_region("cdn", &[("a.cdn.example.", 1), ("b.cdn.example.", 3)]);
    let s = steering(&regions, "policy = \"priority\"\nregions = [\"cdn\"]\nmax_answers = 8", None);
    assert!(s.pools[0].has_names);
    let mut counts: HashMap<String, u32> = HashMap::new();
    for i in 0..4_000u64 {
        for family in [Family::V4, Family::V6] {
            let q = Query { family, ..query(&s, "192.0.2.200", i, splitmix64(i)) };
            let decision = decide(&s.pools[0], &q);
            assert_eq!(decision.endpoints.len(), 1, "one CNAME, whatever max_answers says");
            let name = decision.endpoints.get(0).unwrap().name.as_ref().expect("a name endpoint");
            *counts.entry(name.name.to_string()).or_default() += 1;
        }
    }
    let share = f64::from(counts["b.cdn.example."]) / 8_000.0;
    assert!((share - 0.75).abs() < 0.03, "{counts:?}");
}

#[test]
fn a_name_region_that_cannot_serve_hands_over_to_addresses() {
    let regions = [named_region("cdn", &[("a.cdn.example.", 1)]), region("own", "", &[("192.0.2.1", 1)])].concat();
    let mut s = steering(&regions, "policy = \"priority\"\nregions = [\"cdn\", \"own\"]", None);
    let first = decide(&s.pools[0], &query(&s, "192.0.2.200", 0, 0));
    assert_eq!(first.region, Some(0));
    s.health.set_servable(0, false);
    let next = decide(&s.pools[0], &query(&s, "192.0.2.200", 0, 0));
    assert_eq!(next.region, Some(1));
    let endpoint = next.endpoints.get(0).unwrap();
    assert!(endpoint.name.is_none());
    assert_eq!(endpoint.address, "192.0.2.1".parse::<IpAddr>().unwrap());
}

#[test]
fn failing_open_never_mixes_a_name_with_addresses() {
    let regions =
        [named_region("cdn", &[("a.cdn.example.", 1), ("b.cdn.example.", 1)]), region("own", "", &[("192.0.2.1", 1)])]
            .concat();
    let mut s = steering(&regions, "policy = \"priority\"\nregions = [\"cdn\", \"own\"]", None);
    (0..3).for_each(|e| s.health.set_servable(e, false));
    let decision = decide(&s.pools[0], &query(&s, "192.0.2.200", 0, 0));
    assert!(decision.all_down);
    let names: Vec<_> = decision.endpoints.iter().map(|e| e.name.as_ref().map(|n| n.name.to_string())).collect();
    assert_eq!(names, [Some("a.cdn.example.".to_owned())]);
}

fn asn_db(networks: &[(&str, u32)]) -> AsnDb {
    let mut writer = Writer::new("test-asn");
    for (net, asn) in networks {
        let record = Value::map([("autonomous_system_number", Value::from(*asn))]);
        writer.insert_value(net.parse::<ipnet::IpNet>().unwrap(), record).unwrap();
    }
    AsnDb::from_bytes(writer.to_bytes().unwrap(), Path::new("test-asn")).unwrap()
}

#[test]
fn an_asn_ranks_above_the_country_and_scopes_the_answer_to_its_network() {
    let geo = city_db(&[("198.51.100.0/24", "DE", "EU", 51.0, 9.0), ("203.0.113.0/24", "DE", "EU", 51.0, 9.0)]);
    let asn = asn_db(&[("198.51.100.0/22", 64500), ("203.0.113.0/25", 64501)]);
    let regions = [
        region("de", "countries = [\"DE\"]", &[("192.0.2.1", 1)]),
        region("isp", "asns = [64500]", &[("192.0.2.2", 1)]),
    ]
    .concat();
    let s = steering_by_asn(&regions, "policy = \"geo\"\nregions = [\"de\", \"isp\"]", Some(geo), Some(asn));
    let by_asn = decide(&s.pools[0], &query(&s, "198.51.100.7", 0, 0));
    assert_eq!(by_asn.region, Some(1));
    assert_eq!(by_asn.reason, Reason::Asn(64500));
    assert_eq!(by_asn.scope, 22, "the ASN network's prefix");
    assert_eq!(by_asn.asn, Some(AsnLocated { asn: Some(64500), prefix_len: 22 }));
    // AS64501 is listed nowhere: the country decides, and the answer depends on both networks.
    let by_country = decide(&s.pools[0], &query(&s, "203.0.113.7", 0, 0));
    assert_eq!((by_country.region, by_country.reason), (Some(0), Reason::Country(*b"DE")));
    assert_eq!(by_country.scope, 25, "the longer of the country's /24 and the ASN's /25");
}

#[test]
fn an_asn_override_wins_over_the_policy_and_a_subnet_override_over_it() {
    let asn = asn_db(&[("198.51.100.0/23", 64500)]);
    let regions = [region("a", "", &[("192.0.2.1", 1)]), region("b", "", &[("192.0.2.2", 1)])].concat();
    let pool = "policy = \"priority\"\nregions = [\"a\", \"b\"]\noverrides = [ { asn = 64500, region = \"b\" }, { subnet = \"198.51.101.0/24\", region = \"a\" } ]";
    let s = steering_by_asn(&regions, pool, None, Some(asn));
    let overridden = decide(&s.pools[0], &query(&s, "198.51.100.9", 0, 0));
    assert_eq!((overridden.region, overridden.reason), (Some(1), Reason::AsnOverride { asn: 64500 }));
    assert_eq!(overridden.scope, 24, "the ASN network's /23, kept off the subnet override's /24");
    let by_subnet = decide(&s.pools[0], &query(&s, "198.51.101.9", 0, 0));
    assert_eq!((by_subnet.region, by_subnet.reason), (Some(0), Reason::Override { prefix_len: 24 }));
    let other = decide(&s.pools[0], &query(&s, "192.0.2.200", 0, 0));
    assert_eq!((other.region, other.reason), (Some(0), Reason::Priority));
}

#[test]
fn a_pool_that_may_answer_a_name_needs_its_name_free_of_other_data() {
    let config = |endpoint: &str| {
        let toml = format!(
            "zones_dir = \"z\"\n[[region]]\nname = \"r\"\nendpoints = [ {endpoint} ]\n\
             [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n"
        );
        Config::from_toml(&toml, Path::new(""), "test").unwrap()
    };
    let zone = format!("{ZONE}www TXT \"something\"\n");
    let file = parse(&zone, None).unwrap();
    let zones = Zones::new(vec![Zone::build(file.origin.unwrap(), file.entries).unwrap()]);
    // Addresses share the name with other types; a CNAME may not (RFC 2181 section 10.1).
    assert!(Steering::build(&config("{ address = \"192.0.2.1\" }"), None, None, &zones).is_ok());
    let problems = Steering::build(&config("{ name = \"edge.cdn.example.\" }"), None, None, &zones).unwrap_err();
    let text = problems[0].to_string();
    assert!(text.starts_with("pool[0] \"www.lb.test.\".name: www.lb.test. already has TXT records"), "{text}");
    // Nor may a name be the pool's own: a CNAME to itself.
    let problems = Steering::build(&config("{ name = \"WWW.lb.test\" }"), None, None, &zones).unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.contains(&"pool[0] \"www.lb.test.\".regions: region \"r\" names www.lb.test. itself: the pool would answer with a CNAME to itself".to_owned()),
        "{text:?}"
    );
}
