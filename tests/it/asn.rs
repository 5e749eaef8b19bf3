//! Targeting by network (issue 18, part 6): an ASN database built for the test, a region
//! listing ASNs in a `geo` pool and an `asn` override, over real UDP and TCP, with the ECS
//! scope the ASN network's prefix; and `meridian explain` printing the ASN.

use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::health::addresses;
use crate::steering::{scope, test_db};
use crate::support::client::{self, Q};
use crate::support::geo::asn_db;
use crate::support::{TempDir, TestServer};

const ZONE: &str = "$ORIGIN lb.test.\n$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 192.0.2.53\n";

/// 198.51.100.0/23 is AS64500 (and the country database puts 198.51.100.0/24 in Germany);
/// 203.0.113.0/25 is AS64501 (the United States, which no region lists).
fn test_asn_db() -> Vec<u8> {
    asn_db(&[("198.51.100.0/23", 64500), ("203.0.113.0/25", 64501)])
}

const CONFIG: &str = r#"
[geoip]
database = "geo.mmdb"
asn_database = "asn.mmdb"

[[region]]
name = "de"
countries = ["DE"]
endpoints = [ { address = "192.0.2.1" } ]

[[region]]
name = "isp"
asns = [64500]
endpoints = [ { address = "192.0.2.2" } ]

[[pool]]
name = "www.lb.test."
policy = "geo"
regions = ["de", "isp"]

[[pool]]
name = "ovr.lb.test."
policy = "priority"
regions = ["de", "isp"]
overrides = [ { asn = 64501, region = "isp" } ]
"#;

#[test]
fn an_asn_map_and_an_asn_override_steer_with_the_asn_networks_scope_over_udp_and_tcp() {
    let (geo, asn) = (test_db(), test_asn_db());
    let server =
        TestServer::with_config("", &[("lb.test.zone", ZONE)], CONFIG, &[("geo.mmdb", &geo), ("asn.mmdb", &asn)]);
    let cases = [
        // AS64500 is listed by isp: it wins over the client's country (DE, listed by de), and
        // the answer holds for the whole ASN network, the /23.
        ("www.lb.test.", "198.51.100.0/24", "192.0.2.2", 23),
        // AS64501 is listed nowhere: the country decides (US: no region, the fallback), and
        // the answer depends on the ASN network (/25) and the country network (/24).
        ("www.lb.test.", "203.0.113.0/24", "192.0.2.1", 25),
        // The override sends AS64501 to isp, for its network.
        ("ovr.lb.test.", "203.0.113.0/24", "192.0.2.2", 25),
        // AS64500 has no override: priority's first region, for the ASN network looked up.
        ("ovr.lb.test.", "198.51.100.0/24", "192.0.2.1", 23),
    ];
    for (name, subnet, expected, expected_scope) in cases {
        let q = Q::new(name, RecordType::A).ecs(subnet);
        for (transport, reply) in [("udp", client::udp(server.addr, &q)), ("tcp", client::tcp(server.addr, &q))] {
            assert_eq!(addresses(&reply), [expected], "{name} for {subnet} over {transport}");
            assert_eq!(scope(&reply), Some(expected_scope), "{name} for {subnet} over {transport}");
        }
    }
}

#[test]
fn explain_prints_the_asn_and_its_network() {
    let dir = TempDir::new("explain-asn");
    dir.write("lb.test.zone", ZONE);
    std::fs::write(dir.path().join("geo.mmdb"), test_db()).unwrap();
    std::fs::write(dir.path().join("asn.mmdb"), test_asn_db()).unwrap();
    dir.write("meridian.toml", &format!("[[zone]]\nfile = \"lb.test.zone\"\n{CONFIG}"));
    let output = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["explain", "--config"])
        .arg(dir.path().join("meridian.toml"))
        .args(["--client", "127.0.0.1", "--ecs", "198.51.100.0/24", "www.lb.test.", "A"])
        .output()
        .expect("run meridian explain");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("network   AS64500, ASN database network /23\n"), "{text}");
    assert!(text.contains("decision  AS64500 maps to isp\n"), "{text}");
    assert!(text.contains("endpoints 192.0.2.2\n"), "{text}");
    assert!(text.contains("ecs scope 23\n"), "{text}");
}
