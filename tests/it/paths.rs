//! The fast UDP path (our parser for the common query shape) and the general one (hickory's
//! parser for everything) must give the same bytes for every query of the differential corpus
//! and of the malformed-packet table, so they never drift. And our encoder must say what
//! hickory's says: the same message once parsed (only name compression differs: ours points
//! into the question, hickory's does not).

use std::net::SocketAddr;

use hickory_proto::op::Message;
use meridian::config::dnstap::{Collector, DnstapConfig};
use meridian::dns::pipeline::{Answerer, Path};
use meridian::dns::response::Salt;
use meridian::dnstap::Tap;
use meridian::metrics::Observers;

use crate::differential::{Transport, corpus};
use crate::support::{TempDir, all_zones};

#[test]
fn fast_and_general_paths_answer_byte_for_byte_alike() {
    let dir = TempDir::new("paths");
    let mut toml = "[server]\nidentity = \"meridian-test\"\n".to_owned();
    for (file, text) in all_zones() {
        dir.write(file, text);
        toml.push_str(&format!("[[zone]]\nfile = \"{file}\"\n"));
    }
    let config = dir.write("meridian.toml", &toml);
    let snapshot = crate::support::load_snapshot(&config, None);
    let answerer = Answerer::new(Observers::default());
    let source: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let mut queries: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .filter(|(_, t)| *t == Transport::Udp)
        .map(|(q, _)| (format!("{q:?}"), q.bytes()))
        .collect();
    queries.extend(crate::malformed::table().into_iter().map(|(what, bytes, _)| (what.to_owned(), bytes)));
    assert!(queries.len() > 500, "the corpus: {}", queries.len());
    let (mut fast, mut general, mut hickory) = (Vec::new(), Vec::new(), Vec::new());
    let (mut compared, mut smaller, mut written_by_ours) = (0, 0, std::collections::BTreeSet::new());
    let shown = |b: &[u8]| Message::from_vec(b).map(|m| m.to_string()).unwrap_or_else(|e| format!("unparsable: {e}"));
    for (what, bytes) in &queries {
        let salt = Salt::default();
        let a = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::Fast, &mut fast);
        let b = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::General, &mut general);
        let c = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::Hickory, &mut hickory);
        assert!(a == b && b == c, "{what}: one path answers, another does not");
        if !a {
            continue;
        }
        assert!(fast == general, "{what}:\nfast:    {}\ngeneral: {}", shown(&fast), shown(&general));
        assert_eq!(shown(&fast), shown(&hickory), "{what}: our encoder and hickory's say different things");
        assert!(fast.len() <= hickory.len(), "{what}: ours is longer ({} > {})", fast.len(), hickory.len());
        smaller += usize::from(fast.len() < hickory.len());
        compared += 1;
        // Ours wrote it when the octets differ: hickory's encoder, ours falls back to, gives
        // the same octets as the Hickory path.
        if fast != hickory {
            let message = Message::from_vec(&fast).expect("parsed above");
            written_by_ours.extend(message.answers.iter().map(|r| r.record_type()));
        }
    }
    assert!(compared > 500, "{compared} answers compared");
    assert!(smaller > 300, "our encoder compressed only {smaller} of {compared} answers further");
    // The types the test zone holds for this: each prepared at load and written by ours.
    use hickory_proto::rr::RecordType::{HINFO, HTTPS, NAPTR, SSHFP, SVCB, TLSA};
    for rtype in [HINFO, NAPTR, SSHFP, TLSA, SVCB, HTTPS] {
        assert!(written_by_ours.contains(&rtype), "no {rtype} answer written by our encoder: {written_by_ours:?}");
    }
}

/// The UDP workers prefetch the geo table for a batch by the client subnet they read cheaply
/// from each query: that hint must be the subnet the answer then steers by, whenever our
/// parser reads one.
#[test]
fn the_prefetch_hint_is_the_client_subnet_the_parser_reads() {
    use meridian::dns::request::{Asked, client_subnet_hint};
    let source: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    use crate::support::client::Q;
    use hickory_proto::rr::RecordType;
    let mut queries: Vec<Vec<u8>> = corpus().into_iter().map(|(q, _)| q.bytes()).collect();
    queries.extend(crate::malformed::table().into_iter().map(|(_, bytes, _)| bytes));
    for subnet in ["81.2.69.0/24", "8.8.8.0/24", "1.1.1.1/32", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/48", "::/0"] {
        for rtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
            queries.push(Q::new("www.lb.test.", rtype).ecs(subnet).bytes());
            queries.push(Q::new("a.rather.long.name.in.example.test.", rtype).ecs(subnet).payload(4096).bytes());
        }
    }
    let mut with_subnet = 0;
    for bytes in &queries {
        let hint = client_subnet_hint(bytes);
        let parsed = Asked::parse(bytes, source.ip(), hickory_server::net::xfer::Protocol::Udp);
        if let Some(Ok(Some(subnet))) = parsed.as_ref().map(|a| a.ecs) {
            assert_eq!(hint, Some(subnet.address), "{bytes:02x?}");
            with_subnet += 1;
        } else if parsed.is_some() {
            assert_eq!(hint, None, "a hint for a query without a client subnet: {bytes:02x?}");
        }
    }
    assert!(with_subnet >= 10, "only {with_subnet} queries of the corpus have a client subnet");
}

/// Heap allocations one UDP answer makes on the fast path, once warm, for `query`.
fn allocations_per_answer(answerer: &Answerer, snapshot: &meridian::snapshot::Snapshot, query: &[u8]) -> f64 {
    let source: SocketAddr = "192.0.2.200:5300".parse().unwrap();
    let mut out = Vec::with_capacity(65_535);
    let answer = |out: &mut Vec<u8>| {
        assert!(answerer.answer_udp_by(snapshot, query, source, Salt::default(), Path::Fast, out));
    };
    for _ in 0..16 {
        answer(&mut out);
    }
    let before = crate::support::alloc::count();
    for _ in 0..1000 {
        answer(&mut out);
    }
    (crate::support::alloc::count() - before) as f64 / 1000.0
}

#[test]
fn a_udp_answer_allocates_nothing_once_warm() {
    use crate::steering::{LB_ZONE, REGIONS, test_db};
    use crate::support::client::Q;
    use crate::support::geo::asn_db;
    use hickory_proto::rr::RecordType;
    let dir = TempDir::new("alloc");
    dir.write("lb.test.zone", LB_ZONE);
    std::fs::write(dir.path().join("geo.mmdb"), test_db()).unwrap();
    std::fs::write(dir.path().join("asn.mmdb"), asn_db(&[("198.51.100.0/23", 64500)])).unwrap();
    let regions =
        REGIONS.replace("database = \"geo.mmdb\"\n", "database = \"geo.mmdb\"\nasn_database = \"asn.mmdb\"\n");
    let pool = "[[region]]\nname = \"isp\"\nasns = [64500]\nendpoints = [ { address = \"192.0.2.9\" } ]\n\
                [[region]]\nname = \"cdn\"\nendpoints = [ { name = \"edge.cdn.example.\" } ]\n\
                [[pool]]\nname = \"www.lb.test.\"\npolicy = \"geo\"\nregions = [\"beta\", \"alpha\", \"gamma\", \"isp\"]\n\
                [[pool]]\nname = \"named.lb.test.\"\npolicy = \"priority\"\nregions = [\"cdn\"]\n";
    let config = dir.write("meridian.toml", &format!("[[zone]]\nfile = \"lb.test.zone\"\n{regions}{pool}"));
    let snapshot = crate::support::load_snapshot(&config, Some(&Observers::default()));
    let geo = Q::new("www.lb.test.", RecordType::A).ecs("203.0.113.0/24").bytes();
    let asn = Q::new("www.lb.test.", RecordType::A).ecs("198.51.100.0/24").bytes();
    let cname = Q::new("named.lb.test.", RecordType::AAAA).ecs("198.51.100.0/24").bytes();
    let static_ = Q::new("lb.test.", RecordType::SOA).bytes();
    let nxdomain = Q::new("nope.other.lb.test.", RecordType::TXT).bytes();
    // Without dnstap, then with it logging queries and responses: each answer's exchange is
    // copied into a pooled record and queued for the writer thread, which gives it back.
    let observers = Observers::default();
    let (tap, writer) = Tap::new(&dnstap_config(&dir), "alloc-test", observers.metrics.clone());
    let answerers = [
        ("", Answerer::new(Observers::default())),
        (" with dnstap", Answerer::new(observers.clone()).with_tap(Some(tap))),
    ];
    for (with, answerer) in &answerers {
        let geo_allocations = allocations_per_answer(answerer, &snapshot, &geo);
        let asn_allocations = allocations_per_answer(answerer, &snapshot, &asn);
        let cname_allocations = allocations_per_answer(answerer, &snapshot, &cname);
        let static_allocations = allocations_per_answer(answerer, &snapshot, &static_);
        let negative_allocations = allocations_per_answer(answerer, &snapshot, &nxdomain);
        eprintln!(
            "allocations per answer{with}: geo {geo_allocations}, asn {asn_allocations}, cname {cname_allocations}, \
             static {static_allocations}, negative {negative_allocations}"
        );
        assert_eq!(geo_allocations, 0.0, "a geo answer with ECS{with}");
        assert_eq!(asn_allocations, 0.0, "a geo answer steered by the client's ASN{with}");
        assert_eq!(cname_allocations, 0.0, "a name endpoint's CNAME{with}");
        assert_eq!(static_allocations, 0.0, "a static answer{with}");
        assert_eq!(negative_allocations, 0.0, "a negative answer{with}");
    }
    drop(answerers);
    writer.stop();
    // Every exchange was copied and queued (none dropped for want of a record): the writer,
    // with no collector, counted each of its two messages.
    let gauges = meridian::metrics::Gauges {
        generation: 0,
        endpoints: &[],
        pools: &[],
        version: "",
        uptime: std::time::Duration::ZERO,
    };
    let page = observers.metrics.render(&gauges);
    assert!(page.contains("meridian_dnstap_dropped_total{reason=\"queue_full\"} 0\n"), "{page}");
    assert!(
        page.contains(&format!("meridian_dnstap_dropped_total{{reason=\"no_collector\"}} {}\n", 5 * 1016 * 2)),
        "{page}"
    );
}

/// dnstap logging queries and responses to a collector that is not there.
fn dnstap_config(dir: &TempDir) -> DnstapConfig {
    DnstapConfig {
        collector: Collector::Unix(dir.path().join("no-collector.sock")),
        log_queries: true,
        log_responses: true,
        identity: None,
        version: "test".into(),
        sample: 1,
        queue_size: 4096,
    }
}

/// The geo database is asked once per query: for a policy that does not locate the client
/// (weighted), the answer stage locates it when the pool keeps analytics, and observe counts
/// the country from that rather than looking the client up again; without analytics nobody
/// asks.
#[test]
fn the_answer_stage_locates_the_client_once_for_analytics() {
    use crate::steering::{LB_ZONE, REGIONS, test_db};
    use crate::support::client::Q;
    use hickory_proto::rr::RecordType;
    use hickory_server::net::xfer::Protocol;
    use meridian::analytics::Window;
    use meridian::dns::pipeline::Limited;
    use meridian::dns::pipeline::{Decoded, Parser, decode};
    use meridian::dns::response::answer_query;
    let dir = TempDir::new("located");
    dir.write("lb.test.zone", LB_ZONE);
    std::fs::write(dir.path().join("geo.mmdb"), test_db()).unwrap();
    let pool = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"weighted\"\nregions = [\"alpha\", \"beta\"]\n";
    let config = dir.write("meridian.toml", &format!("[[zone]]\nfile = \"lb.test.zone\"\n{REGIONS}{pool}"));
    let query = Q::new("www.lb.test.", RecordType::A).ecs("198.51.100.0/24").bytes();
    let source: SocketAddr = "192.0.2.200:5300".parse().unwrap();
    for (observers, located) in [(Some(Observers::default()), true), (None, false)] {
        let snapshot = crate::support::load_snapshot(&config, observers.as_ref());
        let mut held = None;
        let Decoded::Query(asked) = decode(&query, source, Protocol::Udp, Parser::Ours, &mut held) else { panic!() };
        let answer = answer_query(&snapshot, &asked, Salt::default());
        let steered = answer.steered.expect("the pool answered");
        assert!(steered.decision.located.is_none(), "a weighted pool does not locate");
        assert_eq!(steered.located.is_some(), located, "with analytics: {}", observers.is_some());
        let Some(observers) = observers else { continue };
        let prefix = steered.located.unwrap().prefix_len;
        assert_eq!(prefix, 24, "the ECS subnet's network in the database");
        // Observe takes the country from the answer: one query, counted for Germany.
        meridian::dns::pipeline::observe(&observers, &snapshot, &asked, &answer, Limited::Sent);
        let summary = observers.analytics.pool("www.lb.test.").summary(observers.tick(), Window::OneMinute);
        let countries: Vec<(&str, u64)> = summary.countries.iter().map(|c| (c.code.as_str(), c.answers)).collect();
        assert_eq!((summary.answers, countries), (1, vec![("DE", 1)]));
    }
}

/// With DO=1 to a signed zone, a warm answer whose signatures are in the cache allocates
/// nothing either: the signed data is built in a buffer each thread reuses, and the
/// signature comes from the cache by reference count. A denial's NSEC is made per answer.
#[test]
fn a_signed_udp_answer_allocates_nothing_once_its_signature_is_cached() {
    use crate::steering::{LB_ZONE, REGIONS, test_db};
    use crate::support::client::Q;
    use hickory_proto::rr::{Name, RecordType};
    use meridian::dnssec::key::{Algorithm, SigningKey};
    let dir = TempDir::new("alloc-signed");
    dir.write("lb.test.zone", LB_ZONE);
    std::fs::write(dir.path().join("geo.mmdb"), test_db()).unwrap();
    let key = SigningKey::generate(&Name::from_ascii("lb.test.").unwrap(), Algorithm::EcdsaP256Sha256, true).unwrap();
    dir.write("k.key", &key.key_file("20250101000000"));
    dir.write("k.private", &key.private_file("20250101000000").unwrap());
    let pool = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"geo\"\nregions = [\"beta\", \"alpha\", \"gamma\"]\n";
    let zone = "[[zone]]\nfile = \"lb.test.zone\"\ndnssec = { keys = [\"k\"] }\n";
    let config = dir.write("meridian.toml", &format!("{zone}{REGIONS}{pool}"));
    let snapshot = crate::support::load_snapshot(&config, Some(&Observers::default()));
    let signed = |q: Q| Q { dnssec_ok: true, ..q }.bytes();
    let geo = signed(Q::new("www.lb.test.", RecordType::A).ecs("198.51.100.0/24"));
    let static_ = signed(Q::new("lb.test.", RecordType::SOA));
    let nodata = signed(Q::new("www.lb.test.", RecordType::CAA));
    // Signed, as the test means: each answer carries RRSIGs (and NODATA its NSEC).
    let answerer = Answerer::new(Observers::default());
    for (query, types) in [(&geo, 2), (&static_, 2), (&nodata, 4)] {
        let mut out = Vec::new();
        let source: SocketAddr = "192.0.2.200:5300".parse().unwrap();
        assert!(answerer.answer_udp_by(&snapshot, query, source, Salt::default(), Path::Fast, &mut out));
        let reply = hickory_proto::op::Message::from_vec(&out).unwrap();
        let rrsigs = reply.answers.iter().chain(&reply.authorities).filter(|r| r.record_type() == RecordType::RRSIG);
        assert_eq!(reply.answers.len() + reply.authorities.len(), types, "{reply:?}");
        assert!(rrsigs.count() >= 1, "{reply:?}");
    }
    let geo_allocations = allocations_per_answer(&answerer, &snapshot, &geo);
    let static_allocations = allocations_per_answer(&answerer, &snapshot, &static_);
    let nodata_allocations = allocations_per_answer(&answerer, &snapshot, &nodata);
    eprintln!(
        "allocations per signed answer: geo {geo_allocations}, static {static_allocations}, nodata {nodata_allocations}"
    );
    assert_eq!(geo_allocations, 0.0, "a signed geo answer with ECS");
    assert_eq!(static_allocations, 0.0, "a signed static answer");
}
