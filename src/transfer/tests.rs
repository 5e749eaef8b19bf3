use std::path::Path;

use hickory_proto::rr::RData;

use super::*;
use crate::zone::parse::parse;

const REGIONS: &str = "[[region]]\nname = \"eu\"\nendpoints = [{ address = \"192.0.2.10\" }]\n\
[[region]]\nname = \"us\"\nendpoints = [{ address = \"198.51.100.10\" }]\n";

/// A configuration of one zone source with `settings` (its `[[zone]]` keys) and a pool.
fn config(settings: &str, pool_regions: &str) -> Config {
    let toml = format!(
        "[[zone]]\nfile = \"t.zone\"\n{settings}\n{REGIONS}[[pool]]\nname = \"lb.t.\"\npolicy = \"priority\"\nregions = [{pool_regions}]\nttl = 30\n"
    );
    crate::config::Source::from_toml(&toml, Path::new(""), "test").unwrap().validate().unwrap()
}

/// The zone `t.` at `serial`, with `www` at `address`.
fn zones(serial: u32, address: &str) -> Zones {
    let text = format!("$ORIGIN t.\n$TTL 60\n@ SOA ns h {serial} 1 1 1 1\n@ NS ns\nns A 192.0.2.53\nwww A {address}\n");
    let file = parse(&text, None).unwrap();
    Zones::new(vec![Zone::build(file.origin.unwrap(), file.entries).unwrap()])
}

/// A served version, as the writer keeps it: its zones and what `carry` made of them.
struct Version {
    zones: Zones,
    carried: Carried,
}

fn serve(previous: Option<&Version>, mut zones: Zones, config: &Config, now: u64) -> Version {
    let steering = Steering::build(config, None, None, &zones).unwrap();
    let carried = carry(previous.map(|v| (&v.zones, &v.carried.transfers)), &mut zones, &steering, config, now);
    Version { zones, carried }
}

const T: &[u8] = b"\x01t\x00";

fn www(version: &Version) -> String {
    let zone = version.zones.get(T).unwrap();
    records(zone, &[]).find(|r| r.name.to_ascii() == "www.t.").map(|r| r.data.to_string()).unwrap()
}

fn served(version: &Version) -> &Served {
    version.carried.transfers.get(T).unwrap()
}

#[test]
fn a_change_without_a_new_serial_is_refused_and_the_served_version_kept() {
    let config = config("transfer = { allow = [\"192.0.2.0/24\"] }", "\"eu\"");
    let first = serve(None, zones(10, "192.0.2.1"), &config, 0);
    assert_eq!(first.carried.changed.len(), 1, "a new zone is news");
    let same_serial = serve(Some(&first), zones(10, "192.0.2.2"), &config, 0);
    assert_eq!(www(&same_serial), "192.0.2.1", "the served version stays");
    assert_eq!(same_serial.carried.refused.len(), 1);
    assert!(same_serial.carried.refused[0].contains("serial did not (10)"), "{:?}", same_serial.carried.refused);
    assert!(same_serial.carried.changed.is_empty(), "nothing to NOTIFY");
    let backwards = serve(Some(&first), zones(9, "192.0.2.2"), &config, 0);
    assert_eq!(www(&backwards), "192.0.2.1");
    assert!(backwards.carried.refused[0].contains("went back from 10 to 9"), "{:?}", backwards.carried.refused);
    let raised = serve(Some(&first), zones(11, "192.0.2.2"), &config, 0);
    assert_eq!((www(&raised), served(&raised).serial), ("192.0.2.2".into(), 11));
    assert!(raised.carried.refused.is_empty());
}

#[test]
fn the_journal_answers_from_each_kept_serial_and_forgets_past_journal_max() {
    let config = config("journal_max = 2\nnotify = [\"192.0.2.53\"]", "\"eu\"");
    let mut version = serve(None, zones(1, "192.0.2.1"), &config, 0);
    for serial in 2..=4u32 {
        version = serve(Some(&version), zones(serial, &format!("192.0.2.{serial}")), &config, 0);
    }
    let journal = &served(&version).journal;
    assert_eq!(journal.len(), 2);
    assert!(journal.since(1).is_none(), "serial 1 is past journal_max: the whole zone instead");
    let from_two = journal.since(2).unwrap();
    assert_eq!(from_two.iter().map(|d| (d.from_serial(), d.to_serial())).collect::<Vec<_>>(), [(2, 3), (3, 4)]);
    let last = &journal.since(3).unwrap()[0];
    let shown = |records: &[Record]| records.iter().map(|r| r.data.to_string()).collect::<Vec<_>>();
    assert_eq!(
        (shown(&last.removed), shown(&last.added)),
        (vec!["192.0.2.3".to_owned()], vec!["192.0.2.4".to_owned()])
    );
    assert!(journal.since(4).is_none(), "the current serial has no difference to send");
}

#[test]
fn pools_are_transferred_as_of_their_serial() {
    let settings = "transfer = { allow = [\"192.0.2.0/24\"] }";
    let eu = config(settings, "\"eu\", \"us\"");
    let us_first = config(settings, "\"us\", \"eu\"");
    let first = serve(None, zones(1, "192.0.2.1"), &eu, 0);
    let shown = |v: &Version| served(v).pool_records.iter().map(|r| r.data.to_string()).collect::<Vec<_>>();
    assert_eq!(shown(&first), ["192.0.2.10"], "the fallback set: the first region's endpoints");
    // The pool changes, the zone does not: no new serial, and the same records under it.
    let pool_moved = serve(Some(&first), zones(1, "192.0.2.1"), &us_first, 0);
    assert!(pool_moved.carried.refused.is_empty() && pool_moved.carried.changed.is_empty());
    assert_eq!(shown(&pool_moved), ["192.0.2.10"]);
    // With the next serial the pool's records follow, in the difference too.
    let next = serve(Some(&pool_moved), zones(2, "192.0.2.1"), &us_first, 0);
    assert_eq!(shown(&next), ["198.51.100.10"]);
    let diff = &served(&next).journal.since(1).unwrap()[0];
    let names = |records: &[Record]| records.iter().map(|r| format!("{} {}", r.name, r.data)).collect::<Vec<_>>();
    assert_eq!(names(&diff.removed), ["lb.t. 192.0.2.10"]);
    assert_eq!(names(&diff.added), ["lb.t. 198.51.100.10"]);
}

#[test]
fn an_auto_serial_moves_with_the_data_alone() {
    let config = config("serial = \"auto\"", "\"eu\"");
    let first = serve(None, zones(1, "192.0.2.1"), &config, 1_800_000_000);
    assert_eq!(served(&first).serial, 1_800_000_000);
    let soa = |v: &Version| match &v.zones.get(T).unwrap().soa().data {
        RData::SOA(soa) => soa.serial,
        _ => 0,
    };
    assert_eq!(soa(&first), 1_800_000_000, "the zone is served with it");
    let same = serve(Some(&first), zones(1, "192.0.2.1"), &config, 1_800_000_100);
    assert_eq!((served(&same).serial, soa(&same)), (1_800_000_000, 1_800_000_000));
    assert!(same.carried.changed.is_empty());
    let changed = serve(Some(&same), zones(1, "192.0.2.2"), &config, 1_800_000_000);
    assert_eq!(served(&changed).serial, 1_800_000_001, "the clock did not move: one more");
    assert_eq!(changed.carried.changed.len(), 1);
    assert_eq!(served(&changed).journal.since(1_800_000_000).map(<[_]>::len), Some(1));
}

#[test]
fn a_zone_nobody_may_transfer_takes_its_data_as_written() {
    let config = config("", "\"eu\"");
    let first = serve(None, zones(10, "192.0.2.1"), &config, 0);
    let same_serial = serve(Some(&first), zones(10, "192.0.2.2"), &config, 0);
    assert_eq!(www(&same_serial), "192.0.2.2");
    assert!(same_serial.carried.refused.is_empty());
    assert!(served(&same_serial).journal.is_empty());
}
