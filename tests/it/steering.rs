//! Geo steering over real UDP and TCP, against a real `.mmdb` built for the test.

use std::net::IpAddr;
use std::path::Path;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{RData, RecordType};
use meridian::geo::mmdb::GeoDb;

use crate::support::TestServer;
use crate::support::client::{self, Q};
use crate::support::geo::{Place, city_db};

pub const LB_ZONE: &str = "$ORIGIN lb.test.\n$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 192.0.2.53\n\
                           cdn CNAME www\nwww TXT \"a pool name may own other types\"\n*.lb.test. MX 10 mail\n";

/// 198.51.100.0/24 and 2001:db8:100::/48 are in Germany, 203.0.113.0/24 in the US,
/// 100.64.0.0/10 in France (Europe, but no region lists FR), 127.0.0.0/8 in Australia.
pub fn test_db() -> Vec<u8> {
    let place = |network, country, continent, lat, lon| Place {
        network,
        country,
        continent: Some(continent),
        coordinates: Some((lat, lon)),
    };
    city_db(&[
        place("198.51.100.0/24", "DE", "EU", 52.5, 13.4),
        place("2001:db8:100::/48", "DE", "EU", 52.5, 13.4),
        place("203.0.113.0/24", "US", "NA", 40.7, -74.0),
        place("100.64.0.0/10", "FR", "EU", 48.9, 2.3),
        place("127.0.0.0/8", "AU", "OC", -33.9, 151.2),
    ])
}

pub const REGIONS: &str = r#"
[geoip]
database = "geo.mmdb"

[[region]]
name = "alpha"
location = { lat = 50.1, lon = 8.7 }
countries = ["DE"]
continents = ["EU"]
endpoints = [ { address = "192.0.2.1" }, { address = "2001:db8:1::1" } ]

[[region]]
name = "beta"
location = { lat = 39.0, lon = -77.5 }
countries = ["US"]
endpoints = [ { address = "192.0.2.2" }, { address = "2001:db8:2::2" } ]

[[region]]
name = "gamma"
location = { lat = -33.9, lon = 151.2 }
continents = ["OC"]
endpoints = [ { address = "192.0.2.3" } ]
"#;

const POOLS: &str = r#"
[[pool]]
name = "www.lb.test."
policy = "geo"
regions = ["beta", "alpha", "gamma"]
ttl = 20
overrides = [ { subnet = "198.51.100.128/25", region = "gamma" } ]

[[pool]]
name = "v4only.lb.test."
policy = "priority"
regions = ["gamma"]

[[pool]]
name = "noecs.lb.test."
policy = "geo"
regions = ["beta", "alpha", "gamma"]
ecs = false

[[pool]]
name = "capped.lb.test."
policy = "geo"
regions = ["beta", "alpha", "gamma"]
ecs_max_scope_v4 = 20
"#;

fn server() -> TestServer {
    let db = test_db();
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{REGIONS}{POOLS}"), &[("geo.mmdb", &db)])
}

fn addresses(reply: &Message) -> Vec<String> {
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.to_string()),
            RData::AAAA(a) => Some(a.to_string()),
            _ => None,
        })
        .collect()
}

/// The SCOPE PREFIX-LENGTH of the ECS option in a reply, if it has one.
pub fn scope(reply: &Message) -> Option<u8> {
    match reply.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(subnet) => Some(subnet.scope_prefix()),
        _ => None,
    }
}

#[test]
fn ecs_steers_each_mapped_subnet_to_its_region_with_the_database_prefix_as_scope() {
    let server = server();
    let cases = [
        // The database says /24, but the pool overrides 198.51.100.128/25: the answer for
        // this client holds for its /25 only.
        ("198.51.100.0/24", RecordType::A, "192.0.2.1", 25),
        ("203.0.113.0/24", RecordType::A, "192.0.2.2", 24),
        ("2001:db8:100::/56", RecordType::AAAA, "2001:db8:1::1", 48),
        ("203.0.113.0/24", RecordType::AAAA, "2001:db8:2::2", 24),
    ];
    for (subnet, rtype, expected, expected_scope) in cases {
        for reply in [
            client::udp(server.addr, &Q::new("www.lb.test.", rtype).ecs(subnet)),
            client::tcp(server.addr, &Q::new("www.lb.test.", rtype).ecs(subnet)),
        ] {
            assert_eq!(addresses(&reply), [expected], "{subnet} {rtype}");
            assert_eq!(scope(&reply), Some(expected_scope), "{subnet} {rtype}");
            assert!(reply.metadata.authoritative);
            assert_eq!(reply.answers[0].ttl, 20);
        }
    }
}

#[test]
fn a_continent_maps_when_the_country_does_not_and_unknown_clients_get_the_fallback() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("100.64.1.0/24"));
    assert_eq!(addresses(&reply), ["192.0.2.1"], "FR is in EU, which alpha lists");
    assert_eq!(scope(&reply), Some(10));
    // 10.1.2.0/24 is in no network of the database: the pool's first region, with the scope
    // of the empty database network it fell in.
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("10.1.2.0/24"));
    assert_eq!(addresses(&reply), ["192.0.2.2"]);
    let db = GeoDb::from_bytes(test_db(), Path::new("test")).unwrap();
    let expected = db.locate("10.1.2.0".parse::<IpAddr>().unwrap()).unwrap().prefix_len;
    assert_eq!(scope(&reply), Some(expected));
    assert!(expected > 0 && expected < 24, "{expected}");
}

#[test]
fn an_override_wins_over_the_database_with_its_own_prefix_as_scope() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("198.51.100.128/25"));
    assert_eq!(addresses(&reply), ["192.0.2.3"]);
    assert_eq!(scope(&reply), Some(25));
}

#[test]
fn without_ecs_the_source_address_is_located() {
    let server = server();
    // The test talks from 127.0.0.1, which the database puts in Australia (OC: gamma).
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A));
    assert_eq!(addresses(&reply), ["192.0.2.3"]);
    assert_eq!(scope(&reply), None, "no ECS option without one in the query");
}

#[test]
fn answers_that_do_not_depend_on_the_client_echo_scope_zero() {
    let server = server();
    for q in [
        Q::new("lb.test.", RecordType::NS),
        Q::new("nx.lb.test.", RecordType::A),
        Q::new("www.lb.test.", RecordType::TXT),
        Q::new("v4only.lb.test.", RecordType::A),
    ] {
        let reply = client::udp(server.addr, &q.clone().ecs("198.51.100.0/24"));
        assert_eq!(scope(&reply), Some(0), "{q:?}");
    }
}

#[test]
fn malformed_ecs_options_get_formerr_over_udp_and_tcp() {
    let server = server();
    let cases: [(&str, Vec<u8>); 6] = [
        ("unknown family", vec![0, 3, 24, 0, 198, 51, 100]),
        ("address longer than source needs", vec![0, 1, 24, 0, 198, 51, 100, 7]),
        ("address shorter than source needs", vec![0, 1, 24, 0, 198, 51]),
        ("bits set beyond source", vec![0, 1, 20, 0, 198, 51, 100]),
        ("non-zero scope in a query", vec![0, 1, 24, 16, 198, 51, 100]),
        ("source longer than the address", vec![0, 1, 33, 0, 1, 2, 3, 4, 5]),
    ];
    for (what, data) in cases {
        let q = Q { option: Some((8, data)), ..Q::new("www.lb.test.", RecordType::A) };
        let udp = client::udp_exchange(server.addr, &q.bytes(), client::ANSWER_WAIT).expect(what);
        assert_eq!(Message::from_vec(&udp).unwrap().metadata.response_code, ResponseCode::FormErr, "{what} over UDP");
        assert_eq!(client::tcp(server.addr, &q).metadata.response_code, ResponseCode::FormErr, "{what} over TCP");
    }
}

#[test]
fn a_cname_to_a_pool_is_followed() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("cdn.lb.test.", RecordType::A).ecs("203.0.113.0/24"));
    assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addresses(&reply), ["192.0.2.2"]);
    assert_eq!(scope(&reply), Some(24));
}

#[test]
fn a_family_the_pool_lacks_gets_nodata_with_the_soa() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("v4only.lb.test.", RecordType::AAAA));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn a_pool_with_ecs_off_answers_by_the_resolver_address() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("noecs.lb.test.", RecordType::A).ecs("203.0.113.0/24"));
    assert_eq!(addresses(&reply), ["192.0.2.3"], "127.0.0.1 is in Australia");
    assert_eq!(scope(&reply), Some(0));
}

#[test]
fn a_pool_caps_the_scope_it_returns() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("capped.lb.test.", RecordType::A).ecs("198.51.100.0/24"));
    assert_eq!(addresses(&reply), ["192.0.2.1"]);
    assert_eq!(scope(&reply), Some(20));
}

#[test]
fn an_ipv4_mapped_ecs_subnet_is_located_as_ipv4_and_answered_in_its_own_family() {
    let server = server();
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("::ffff:203.0.113.0/120"));
    assert_eq!(addresses(&reply), ["192.0.2.2"], "203.0.113.0/24 is in the US");
    assert_eq!(scope(&reply), Some(120), "the /24 in IPv4-mapped terms");
}

#[test]
fn a_pool_name_exists_so_a_wildcard_does_not_cover_it() {
    let server = server();
    // *.lb.test owns MX; v4only.lb.test is a pool the zone file does not list.
    let reply = client::udp(server.addr, &Q::new("v4only.lb.test.", RecordType::MX));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty(), "RFC 4592: an existing name is not synthesised");
    let reply = client::udp(server.addr, &Q::new("other.lb.test.", RecordType::MX));
    assert_eq!(reply.answers.len(), 1, "the wildcard still covers names that do not exist");
    let reply = client::udp(server.addr, &Q::new("x.v4only.lb.test.", RecordType::MX));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain, "the closest encloser is the pool name");
}
