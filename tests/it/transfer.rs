//! Zone transfers out, NOTIFY and the catalog zone, with Knot DNS as the secondary: Knot
//! (started here on a free port, Meridian its primary) must hold what Meridian serves, pools
//! as their fallback sets, follow a reload through NOTIFY and IXFR, take a large zone whole,
//! and, as a catalog consumer, pick up a zone added to Meridian.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::client::{self, Q};
use crate::support::{API_TOML, TempDir, TestServer};

/// How long Knot may take to follow a change (NOTIFY, then a transfer).
const FOLLOW: Duration = Duration::from_secs(15);

const ZONE: &str = "$ORIGIN xfr.test.\n$TTL 300\n\
@ SOA ns1 hostmaster 10 3600 600 86400 60\n\
@ NS ns1\n\
ns1 A 192.0.2.53\n\
www A 192.0.2.1\n\
www AAAA 2001:db8::1\n\
@ MX 10 mail\n\
mail A 192.0.2.25\n\
txt TXT \"one\" \"two\"\n";

/// Two regions; a client with no location gets `eu` (the pool's first), its two endpoints
/// of weight above 0 (not the one of weight 0), heaviest first.
const POOL: &str = "[[region]]\nname = \"eu\"\n\
endpoints = [{ address = \"192.0.2.10\" }, { address = \"192.0.2.11\", weight = 3 }, { address = \"192.0.2.12\", weight = 0 }, { address = \"2001:db8::10\" }]\n\
[[region]]\nname = \"us\"\nendpoints = [{ address = \"198.51.100.10\" }]\n\
[[pool]]\nname = \"lb.xfr.test.\"\npolicy = \"weighted\"\nregions = [\"eu\", \"us\"]\nttl = 30\n";

fn free_port() -> u16 {
    // Bound and released: a small race with other processes, which the readiness wait catches.
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("free port").port()
}

fn knotd() -> Option<&'static str> {
    let found = ["/usr/sbin/knotd", "/usr/bin/knotd"].into_iter().find(|p| std::path::Path::new(p).exists());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "knotd is not installed, and CI is set (apt-get install knot)");
        eprintln!("\n!!!!!! SKIPPING a transfer test: knotd is not installed (apt-get install knot) !!!!!!\n");
    }
    found
}

/// Knot DNS as a secondary of Meridian: killed on drop.
struct Secondary {
    addr: SocketAddr,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Secondary {
    /// Starts knotd on `port` with `primary` as the primary of `zones`, and, when
    /// `catalog` is given, as the consumer of that catalog zone.
    fn start(knotd: &str, port: u16, primary: SocketAddr, zones: &[&str], catalog: Option<&str>) -> Self {
        let dir = TempDir::new("knot-secondary");
        let storage = dir.path().display();
        let mut config = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: {storage}\n\
             database:\n    storage: {storage}\n\
             log:\n  - target: stderr\n    any: info\n\
             remote:\n  - id: meridian\n    address: {}@{}\n\
             acl:\n  - id: from_meridian\n    address: 127.0.0.1\n    action: notify\n\
             \x20 - id: to_tests\n    address: 127.0.0.1\n    action: transfer\n\
             template:\n  - id: default\n    storage: {storage}\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n\
             \x20 - id: members\n    storage: {storage}\n    master: meridian\n    acl: [from_meridian, to_tests]\n    zonefile-sync: -1\n    zonefile-load: none\n    journal-content: changes\n\
             zone:\n",
            primary.ip(),
            primary.port()
        );
        for zone in zones {
            config.push_str(&format!("  - domain: {zone}\n    master: meridian\n    acl: [from_meridian, to_tests]\n"));
        }
        if let Some(catalog) = catalog {
            config.push_str(&format!(
                "  - domain: {catalog}\n    master: meridian\n    acl: [from_meridian, to_tests]\n    catalog-role: interpret\n    catalog-template: members\n"
            ));
        }
        let config = dir.write("knot.conf", &config);
        let log = dir.path().join("knot.log");
        let child = Command::new(knotd)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("knot log"))
            .spawn()
            .expect("start knotd");
        Self { addr: SocketAddr::from(([127, 0, 0, 1], port)), child, log, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until Knot answers `zone`'s SOA with `serial`.
    fn wait_for_serial(&self, zone: &str, serial: u32) {
        let deadline = Instant::now() + FOLLOW;
        let probe = Q::new(zone, RecordType::SOA).bytes();
        while Instant::now() < deadline {
            let reply = client::udp_exchange(self.addr, &probe, Duration::from_millis(200));
            if reply.and_then(|r| Message::from_vec(&r).ok()).is_some_and(|m| soa_serial(&m) == Some(serial)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50)); // polling a child process (STYLE.md 8)
        }
        panic!("Knot did not serve {zone} at serial {serial} within {FOLLOW:?}; its log:\n{}", self.log());
    }
}

fn soa_serial(message: &Message) -> Option<u32> {
    message.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// `kdig AXFR` of `zone` from `server`: its records, one normalised line each, sorted (the
/// closing SOA left out), and kdig's summary line.
fn axfr(server: SocketAddr, zone: &str) -> (Vec<String>, String) {
    let output = Command::new("kdig")
        .args([format!("@{}", server.ip()), "-p".into(), server.port().to_string(), zone.into(), "AXFR".into()])
        .args(["+nocomments", "+time=5", "+retry=0"])
        .output()
        .expect("run kdig (apt-get install knot-dnsutils)");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let summary = text.lines().find(|l| l.starts_with(";; Received")).unwrap_or_default().to_owned();
    let mut records: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase())
        .collect();
    records.sort();
    records.dedup(); // the SOA comes first and last
    (records, summary)
}

fn meridian(knot_port: u16, zones: &[(&str, &str)], more: &str) -> TestServer {
    let mut toml = String::new();
    for (file, _) in zones {
        toml.push_str(&format!(
            "[[zone]]\nfile = \"{file}\"\ntransfer = {{ allow = [\"127.0.0.1\"] }}\nnotify = [\"127.0.0.1:{knot_port}\"]\n"
        ));
    }
    toml.push_str(more);
    TestServer::with_config("", &[], &toml, &zones.iter().map(|(f, t)| (*f, t.as_bytes())).collect::<Vec<_>>())
}

#[test]
fn knot_as_a_secondary_holds_the_zone_and_follows_a_reload_through_notify_and_ixfr() {
    let Some(knotd) = knotd() else { return };
    let knot_port = free_port();
    let mut server = meridian(knot_port, &[("xfr.test.zone", ZONE)], POOL);
    let knot = Secondary::start(knotd, knot_port, server.addr, &["xfr.test."], None);
    knot.wait_for_serial("xfr.test.", 10);

    let (ours, _) = axfr(server.addr, "xfr.test.");
    let (theirs, _) = axfr(knot.addr, "xfr.test.");
    assert_eq!(theirs, ours, "Knot's copy is Meridian's zone");
    let pool: Vec<&String> = ours.iter().filter(|r| r.starts_with("lb.xfr.test.")).collect();
    assert_eq!(
        pool,
        ["lb.xfr.test. 30 in a 192.0.2.10", "lb.xfr.test. 30 in a 192.0.2.11", "lb.xfr.test. 30 in aaaa 2001:db8::10"],
        "the pool as its fallback set, at its TTL: the first region's endpoints in rotation"
    );

    // A new serial: Knot hears of it by NOTIFY and takes the difference by IXFR.
    let changed = ZONE.replace(" 10 3600", " 11 3600").replace("www A 192.0.2.1", "www A 192.0.2.2");
    server.write("xfr.test.zone", &changed);
    server.reload().expect("reload");
    knot.wait_for_serial("xfr.test.", 11);
    let (theirs, _) = axfr(knot.addr, "xfr.test.");
    assert!(theirs.contains(&"www.xfr.test. 300 in a 192.0.2.2".to_owned()), "{theirs:?}");
    assert!(!theirs.contains(&"www.xfr.test. 300 in a 192.0.2.1".to_owned()), "{theirs:?}");
    assert_eq!(theirs, axfr(server.addr, "xfr.test.").0);
    let log = knot.log();
    assert!(
        log.lines().any(|l| l.contains("notify, incoming, remote 127.0.0.1@") && l.contains("serial 11")),
        "Knot was sent NOTIFY with the new serial: {log}"
    );
    assert!(
        log.lines().any(|l| l.contains("IXFR, incoming") && l.contains("finished")),
        "Knot took the change by IXFR: {log}"
    );
}

#[test]
fn a_zone_of_fifty_thousand_records_transfers_whole() {
    let Some(knotd) = knotd() else { return };
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\n",
    );
    for i in 0..49_997u32 {
        zone.push_str(&format!("h{i} A 10.{}.{}.{}\n", i >> 16, (i >> 8) & 0xff, i & 0xff));
    }
    let knot_port = free_port();
    let server = meridian(knot_port, &[("big.test.zone", &zone)], "");
    let (ours, summary) = axfr(server.addr, "big.test.");
    assert_eq!(ours.len(), 50_000, "every record once (SOA counted once): {summary}");
    let messages: usize = summary.split(['(', ' ']).find_map(|w| w.parse().ok()).unwrap_or(0);
    assert!(messages > 10, "sent in several messages, each at most 64 KiB: {summary}");
    let knot = Secondary::start(knotd, knot_port, server.addr, &["big.test."], None);
    knot.wait_for_serial("big.test.", 1);
    let (theirs, _) = axfr(knot.addr, "big.test.");
    assert_eq!(theirs.len(), 50_000);
    assert!(theirs == ours, "Knot's copy of the large zone is Meridian's");
}

#[test]
fn a_knot_catalog_consumer_picks_up_a_zone_added_to_meridian() {
    let Some(knotd) = knotd() else { return };
    let knot_port = free_port();
    let catalog = "catalog = \"catalog.meridian.invalid.\"\n";
    let mut server = TestServer::with_config(
        "",
        &[],
        &format!(
            "{catalog}[[zone]]\nfile = \"xfr.test.zone\"\ntransfer = {{ allow = [\"127.0.0.1\"] }}\nnotify = [\"127.0.0.1:{knot_port}\"]\n"
        ),
        &[("xfr.test.zone", ZONE.as_bytes())],
    );
    let knot = Secondary::start(knotd, knot_port, server.addr, &[], Some("catalog.meridian.invalid."));
    knot.wait_for_serial("xfr.test.", 10); // a member, from the catalog alone

    let added = ZONE.replace("xfr.test.", "added.test.");
    server.write("added.test.zone", &added);
    let config = std::fs::read_to_string(server.dir().join("meridian.toml")).expect("config");
    server.write(
        "meridian.toml",
        &format!(
            "{config}[[zone]]\nfile = \"added.test.zone\"\ntransfer = {{ allow = [\"127.0.0.1\"] }}\nnotify = [\"127.0.0.1:{knot_port}\"]\n"
        ),
    );
    server.reload().expect("reload");
    knot.wait_for_serial("added.test.", 10);
    let (theirs, _) = axfr(knot.addr, "added.test.");
    assert_eq!(theirs, axfr(server.addr, "added.test.").0, "the new member's copy is whole");
}

#[test]
fn transfers_and_notify_from_a_client_not_allowed_are_refused() {
    let server = TestServer::with_config(
        "",
        &[],
        "[[zone]]\nfile = \"xfr.test.zone\"\ntransfer = { allow = [\"192.0.2.0/24\"] }\n\
         [[zone]]\nfile = \"open.test.zone\"\ntransfer = { allow = [\"127.0.0.0/8\"] }\n",
        &[("xfr.test.zone", ZONE.as_bytes()), ("open.test.zone", ZONE.replace("xfr.test.", "open.test.").as_bytes())],
    );
    for rtype in [RecordType::AXFR, RecordType::IXFR] {
        let reply = client::tcp(server.addr, &Q::new("xfr.test.", rtype).no_edns());
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "{rtype} over TCP");
        assert!(reply.answers.is_empty());
    }
    let reply = client::udp(server.addr, &Q::new("xfr.test.", RecordType::IXFR));
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "IXFR over UDP");
    let reply = client::tcp(server.addr, &Q::new("nowhere.test.", RecordType::AXFR).no_edns());
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "a zone we do not serve");
    // Allowed: AXFR over UDP is still refused (RFC 5936 section 4.2: TCP only); IXFR over UDP
    // gets the current SOA alone.
    let reply = client::udp(server.addr, &Q::new("open.test.", RecordType::AXFR));
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "AXFR over UDP");
    let reply = client::udp(server.addr, &Q::new("open.test.", RecordType::IXFR));
    assert_eq!((reply.metadata.response_code, soa_serial(&reply)), (ResponseCode::NoError, Some(10)));
    assert_eq!(reply.answers.len(), 1);

    let mut notify = Q::new("xfr.test.", RecordType::SOA);
    notify.op_code = OpCode::Notify;
    let reply = client::udp(server.addr, &notify);
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "NOTIFY from a stranger");
    notify.name = "open.test.".into();
    let reply = client::udp(server.addr, &notify);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "NOTIFY from a peer");
    assert_eq!(reply.metadata.op_code, OpCode::Notify);
}

#[test]
fn a_reload_that_changes_data_without_a_new_serial_keeps_the_zone_unless_the_serial_is_auto() {
    let mut server = TestServer::with_config(
        "",
        &[],
        &format!(
            "{API_TOML}[[zone]]\nfile = \"xfr.test.zone\"\ntransfer = {{ allow = [\"127.0.0.1\"] }}\n\
         [[zone]]\nfile = \"auto.test.zone\"\nserial = \"auto\"\ntransfer = {{ allow = [\"127.0.0.1\"] }}\n"
        ),
        &[("xfr.test.zone", ZONE.as_bytes()), ("auto.test.zone", ZONE.replace("xfr.test.", "auto.test.").as_bytes())],
    );
    let serial_of =
        |server: &TestServer, zone: &str| soa_serial(&client::udp(server.addr, &Q::new(zone, RecordType::SOA)));
    let auto_before = serial_of(&server, "auto.test.").expect("SOA");
    assert!(auto_before > 1_700_000_000, "auto: the time at start ({auto_before})");
    // The same data again: no serial moves.
    server.reload().expect("reload");
    assert_eq!(serial_of(&server, "auto.test."), Some(auto_before));

    server.write("xfr.test.zone", &ZONE.replace("www A 192.0.2.1", "www A 192.0.2.9"));
    server.write(
        "auto.test.zone",
        &ZONE.replace("xfr.test.", "auto.test.").replace("www A 192.0.2.1", "www A 192.0.2.9"),
    );
    let reloaded = server.api().post("/api/v1/reload", "");
    assert_eq!(reloaded.status, 200, "the reload goes ahead for the other zones: {}", reloaded.body);
    let refused = reloaded.json()["refused_zones"].clone();
    assert!(
        refused
            .as_array()
            .is_some_and(|r| r.len() == 1 && r[0].as_str().unwrap().contains("zone xfr.test.: its data changed")),
        "the reload result names the refused zone: {refused}"
    );
    assert_eq!(client::a_records(server.addr, "www.xfr.test."), ["192.0.2.1"], "the served version is kept");
    assert_eq!(serial_of(&server, "xfr.test."), Some(10));
    assert_eq!(client::a_records(server.addr, "www.auto.test."), ["192.0.2.9"], "auto takes the change");
    let auto_after = serial_of(&server, "auto.test.").expect("SOA");
    assert!(auto_after > auto_before, "and raises the serial: {auto_before} -> {auto_after}");

    // IXFR from the first serial: the difference, not the whole zone.
    let mut ixfr = Q::new("auto.test.", RecordType::IXFR).no_edns();
    ixfr.id = 7;
    let mut bytes = ixfr.bytes();
    append_soa_authority(&mut bytes, "auto.test.", auto_before);
    let mut stream = client::tcp_connect(server.addr);
    client::tcp_send(&mut stream, &bytes);
    let reply = Message::from_vec(&client::tcp_recv(&mut stream).expect("IXFR answer")).expect("parses");
    let text: Vec<String> = reply.answers.iter().map(|r| r.to_string()).collect();
    assert_eq!(reply.answers.len(), 6, "SOA, old SOA, removed, new SOA, added, SOA: {text:#?}");
    assert!(text[2].contains("192.0.2.1") && text[4].contains("192.0.2.9"), "{text:#?}");
}

/// Adds the client's SOA (RFC 1995 section 3) to a query built without one.
fn append_soa_authority(bytes: &mut Vec<u8>, zone: &str, serial: u32) {
    let mut message = Message::from_vec(bytes).expect("query");
    let soa = hickory_proto::rr::rdata::SOA::new(
        "ns1.example.".parse().unwrap(),
        "h.example.".parse().unwrap(),
        serial,
        0,
        0,
        0,
        0,
    );
    message.add_authority(hickory_proto::rr::Record::from_rdata(zone.parse().unwrap(), 0, RData::SOA(soa)));
    *bytes = message.to_vec().expect("encode");
}

#[test]
fn a_tsig_signed_axfr_is_signed_in_every_message_and_an_unsigned_one_refused() {
    const SECRET: &str = "LvvGfgeg4v5PkwUdn4RctkLzvu4P9VHrf8xMsk0gBfQ=";
    let mut zone = String::from(ZONE);
    for i in 0..3_000 {
        zone.push_str(&format!("h{i} TXT \"{}\"\n", "x".repeat(30)));
    }
    let server = TestServer::with_config(
        "",
        &[],
        "[[key]]\nname = \"xfr.example.com.\"\nsecret_file = \"xfr.key\"\n\
         [[zone]]\nfile = \"xfr.test.zone\"\ntransfer = { allow = [\"127.0.0.1\"], key = \"xfr.example.com.\" }\n",
        &[("xfr.test.zone", zone.as_bytes()), ("xfr.key", format!("{SECRET}\n").as_bytes())],
    );
    let output = Command::new("kdig")
        .args([format!("@{}", server.addr.ip()), "-p".into(), server.addr.port().to_string()])
        .args(["-y", &format!("hmac-sha256:xfr.example.com:{SECRET}"), "xfr.test.", "AXFR", "+time=5", "+retry=0"])
        .output()
        .expect("run kdig");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    // kdig checks the TSIG of every message and stops at the first that fails.
    assert!(!text.contains(";; ERROR") && !text.contains(";; WARNING"), "{text}");
    let summary = text.lines().find(|l| l.starts_with(";; Received")).unwrap_or_default();
    let messages: usize = summary.split(['(', ' ']).find_map(|w| w.parse().ok()).unwrap_or(0);
    assert!(messages > 3, "several messages: {summary}");
    assert!(summary.contains(" 3009 records"), "the whole zone, the SOA twice: {summary}");
    assert!(text.contains("xfr.example.com.") && text.contains("TSIG"), "signed: {text}");

    // dig checks every TSIG record of a transfer (kdig only the first message's).
    let output = Command::new("dig")
        .args([format!("@{}", server.addr.ip()), "-p".into(), server.addr.port().to_string()])
        .args(["-y", &format!("hmac-sha256:xfr.example.com:{SECRET}"), "xfr.test.", "AXFR", "+time=5", "+tries=1"])
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(!text.contains("failure") && !text.contains("Couldn't") && !text.contains("error"), "{text}");
    assert!(text.contains("XFR size: 3009 records"), "{text}");

    let reply = client::tcp(server.addr, &Q::new("xfr.test.", RecordType::AXFR).no_edns());
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "unsigned: the zone needs the key");
}
