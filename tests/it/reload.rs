//! Reload (SIGHUP): a good one changes the answers, a bad one is refused and changes nothing,
//! and health state survives it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::geo::flat_db;
use crate::support::target::HealthTarget;
use crate::support::{TestServer, servable};

fn txt(server: &TestServer) -> String {
    let reply = client::udp(server.addr, &Q::new("note.lb.test.", RecordType::TXT));
    reply.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
}

fn a(reply: &Message) -> Vec<String> {
    reply.answers.iter().filter_map(|r| if let RData::A(a) = &r.data { Some(a.to_string()) } else { None }).collect()
}

#[test]
fn a_good_reload_changes_the_answers_and_a_bad_one_changes_nothing() {
    let zone = |note: &str| format!("{LB_ZONE}note TXT \"{note}\"\n");
    let mut server = TestServer::with_zones("", &[("lb.test.zone", &zone("first"))]);
    assert_eq!(txt(&server), "first");
    server.write("lb.test.zone", &zone("second"));
    let generation = server.reload().expect("a valid reload");
    assert!(generation >= 2);
    assert_eq!(txt(&server), "second", "visible at once after the reload");
    // Out-of-zone data: refused with check-config's message; the running zone stays.
    server.write("lb.test.zone", &format!("{}www.example.com. A 192.0.2.1\n", zone("third")));
    let error = server.reload().expect_err("an invalid zone");
    assert!(error.contains("is out of zone"), "{error}");
    assert_eq!(txt(&server), "second");
}

#[test]
fn health_state_survives_a_reload() {
    let target = HealthTarget::start();
    let check = format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"100ms\", timeout = \"500ms\", rise = 3, fall = 1 }}",
        target.addr.port()
    );
    let toml = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {check} }}, {{ address = \"192.0.2.2\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n"
    );
    let mut server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[]);
    target.set_status(503);
    server.wait_for_snapshot(Duration::from_secs(5), "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(
        a(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
        ["192.0.2.2"],
        "only the healthy one"
    );
    // From now on the target hangs, so a fresh probe needs its whole 500 ms timeout to fail.
    // Reload: the endpoint stays down (its state carries over rather than restarting at its
    // initial "up"), with no window in which it is served.
    target.set_hang(true);
    server.write("lb.test.zone", &format!("{LB_ZONE}note TXT \"reloaded\"\n"));
    server.reload().expect("a valid reload");
    assert_eq!(txt(&server), "reloaded");
    for _ in 0..10 {
        assert_eq!(a(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))), ["192.0.2.2"]);
    }
}

/// A country database where 198.51.100.0/24 and 2001:db8:100::/48 are in `country`, with
/// 4,096 more IPv6 networks around them: the search tree then spans many pages, so an IPv6
/// lookup reads past the first page of the file, where a truncated file has nothing left.
fn geo_db(country: &str) -> Vec<u8> {
    let filler: Vec<String> = (0..4096).map(|i| format!("2001:db8:{:x}:{:x}::/64", i / 16, i % 16 + 1)).collect();
    let mut places: Vec<(&str, &str)> = filler.iter().map(|net| (net.as_str(), "JP")).collect();
    places.extend([("198.51.100.0/24", country), ("2001:db8:100::/48", country)]);
    flat_db(&places)
}

const GEO_POOL: &str = r#"
[geoip]
database = "geo.mmdb"

[[region]]
name = "other"
endpoints = [ { address = "192.0.2.9" }, { address = "2001:db8:9::9" } ]

[[region]]
name = "de"
countries = ["DE"]
endpoints = [ { address = "192.0.2.1" }, { address = "2001:db8:1::1" } ]

[[region]]
name = "us"
countries = ["US"]
endpoints = [ { address = "192.0.2.2" }, { address = "2001:db8:2::2" } ]

[[pool]]
name = "www.lb.test."
policy = "geo"
regions = ["other", "de", "us"]
"#;

/// The answers for an IPv4 client (A) and an IPv6 client (A and AAAA) of the mapped networks,
/// each asked over UDP with ECS.
fn geo_answers(server: &TestServer) -> Vec<Vec<String>> {
    let ask = |subnet: &str, rtype| {
        let reply = client::udp(server.addr, &Q::new("www.lb.test.", rtype).ecs(subnet));
        reply.answers.iter().map(|r| r.data.to_string()).collect()
    };
    vec![
        ask("198.51.100.0/24", RecordType::A),
        ask("2001:db8:100::/56", RecordType::A),
        ask("2001:db8:100::/56", RecordType::AAAA),
    ]
}

/// Writes `bytes` over the file as `cp` does: the same inode, truncated, then written.
fn overwrite_in_place(path: &Path, bytes: &[u8]) {
    let inode = fs::metadata(path).expect("the database exists").ino();
    let mut file = fs::OpenOptions::new().write(true).truncate(true).open(path).expect("open for rewriting");
    file.write_all(bytes).expect("rewrite");
    drop(file);
    assert_eq!(fs::metadata(path).expect("still there").ino(), inode, "rewritten in place");
}

#[test]
fn a_geo_database_rewritten_in_place_changes_nothing_until_a_reload_accepts_it() {
    let germany = geo_db("DE");
    let mut server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], GEO_POOL, &[("geo.mmdb", &germany)]);
    let path = server.dir().join("geo.mmdb");
    let in_germany = [vec!["192.0.2.1"], vec!["192.0.2.1"], vec!["2001:db8:1::1"]];
    assert_eq!(geo_answers(&server), in_germany);

    // Rewritten with other data, then cut short (a copy interrupted, a full disk): the server
    // answers from what it loaded.
    let usa = geo_db("US");
    overwrite_in_place(&path, &usa);
    for _ in 0..3 {
        assert_eq!(geo_answers(&server), in_germany, "after an in-place rewrite");
    }
    // Cut to its first page, a lookup walks off the end of what is left; cut to nothing,
    // it has nowhere to start. Through a live memory map either was SIGBUS.
    for cut in [4096, 4, 0] {
        overwrite_in_place(&path, &usa[..cut]);
        for _ in 0..3 {
            assert_eq!(geo_answers(&server), in_germany, "after truncation to {cut} octets");
        }
    }

    // A reload finds the file truncated, then half written: refused as a whole, the database
    // named; the previous one still answers.
    for (cut, what) in [(4, "truncated"), (usa.len() / 2, "half written")] {
        overwrite_in_place(&path, &usa[..cut]);
        let error = server.reload().expect_err(what);
        assert!(error.contains("geoip.database") && error.contains("geo.mmdb"), "{what}: {error}");
        assert_eq!(geo_answers(&server), in_germany, "after a refused reload of a {what} file");
    }

    // Whole again: a reload is how the new database takes effect.
    overwrite_in_place(&path, &usa);
    server.reload().expect("a complete database");
    assert_eq!(geo_answers(&server), [vec!["192.0.2.2"], vec!["192.0.2.2"], vec!["2001:db8:2::2"]]);
}
