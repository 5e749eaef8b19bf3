//! Hot functions of a geo answer: ECS parsing, the database lookup, `decide` for a geo pool,
//! and the whole pure answer. The database has 131,072 networks (more than the 100,000 the
//! geo issue asks for), spread over 200 countries on 5 continents.
//!
//! Run: `cargo bench --bench steering`. Read the `time:` middle figure, per call.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use meridian::config::Config;
use meridian::dns::request::Asked;
use meridian::dns::{ecs, response, wire};
use meridian::geo::mmdb::GeoDb;
use meridian::snapshot::Snapshot;
use meridian::splitmix::splitmix64;
use meridian::steering::{Family, Query as SteerQuery, decide};
use meridian::zone::parse::parse;
use meridian::zone::{Zone, Zones};
use mmdb_writer::{Value, Writer};

const NETWORKS: u32 = 131_072;
const COUNTRIES: [&str; 10] = ["DE", "FR", "GB", "US", "CA", "BR", "JP", "IN", "AU", "ZA"];

/// /24 networks from 10.0.0.0 upwards, each in one of a few hundred places.
fn database() -> GeoDb {
    let mut writer = Writer::new("bench-city");
    for i in 0..NETWORKS {
        let net = ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap();
        let place = splitmix64(u64::from(i / 64)) % 200;
        let country = COUNTRIES[(place % 10) as usize];
        let record = Value::map([
            ("country", Value::map([("iso_code", Value::from(country))])),
            (
                "location",
                Value::map([
                    ("latitude", Value::from((place % 90) as f64)),
                    ("longitude", Value::from(place as f64 - 100.0)),
                ]),
            ),
        ]);
        writer.insert_value(net, record).unwrap();
    }
    GeoDb::from_bytes(writer.to_bytes().unwrap(), Path::new("bench")).unwrap()
}

const CONFIG: &str = r#"
zones_dir = "unused"
[geoip]
database = "unused.mmdb"
[[region]]
name = "eu"
countries = ["DE", "FR", "GB"]
continents = ["EU", "AF"]
endpoints = [ { address = "192.0.2.1" }, { address = "192.0.2.2" } ]
[[region]]
name = "us"
countries = ["US", "CA"]
continents = ["NA", "SA"]
endpoints = [ { address = "198.51.100.1" }, { address = "198.51.100.2" } ]
[[region]]
name = "ap"
continents = ["AS", "OC"]
endpoints = [ { address = "203.0.113.1" } ]
[[pool]]
name = "www.lb.test."
policy = "geo"
regions = ["us", "eu", "ap"]
max_answers = 2
"#;

fn snapshot() -> Snapshot {
    let config = Arc::new(Config::from_toml(CONFIG, Path::new(""), "bench").unwrap());
    let zone = "$ORIGIN lb.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n";
    let file = parse(zone, None).unwrap();
    let zones = Zones::new(vec![Zone::build(file.origin.unwrap(), file.entries).unwrap()]);
    let health = meridian::health::view::HealthView::all_up(config.endpoints().count());
    Snapshot::build(1, config, zones, Some(Arc::new(database())), None, health, None).unwrap()
}

fn clients() -> Vec<IpAddr> {
    (0..4096u64).map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + (splitmix64(i) as u32 % (NETWORKS << 8))))).collect()
}

/// A query for the pool with an ECS option for `client`/24, as a resolver sends it.
fn request(client: IpAddr) -> Request {
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii("www.lb.test.").unwrap(), RecordType::A));
    let mut bytes = message.to_vec().unwrap();
    let IpAddr::V4(v4) = client else { unreachable!("IPv4 clients only") };
    let o = v4.octets();
    bytes.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, o[0], o[1], o[2]]);
    bytes[11] = 1;
    Request::from_bytes(bytes, SocketAddr::from(([127, 0, 0, 1], 5300)), Protocol::Udp).unwrap()
}

fn benches(c: &mut Criterion) {
    let snapshot = snapshot();
    let clients = clients();
    let pool = &snapshot.steering.pools[0];
    let geo = snapshot.steering.geo.as_deref().unwrap();
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % clients.len();
        clients[i]
    };
    c.bench_function("geo lookup (131k networks)", |b| b.iter(|| black_box(geo.locate(black_box(next())))));
    c.bench_function("decide geo pool (131k networks)", |b| {
        b.iter(|| {
            let q = SteerQuery {
                client: next(),
                client_prefix: 24,
                family: Family::V4,
                geo: Some(geo),
                asn: None,
                health: &snapshot.health,
                turn: 0,
                random: 0,
            };
            black_box(decide(pool, black_box(&q)).region)
        })
    });
    let requests: Vec<Request> = clients.iter().take(256).map(|&c| request(c)).collect();
    let mut j = 0usize;
    c.bench_function("ecs parse from the wire", |b| {
        b.iter(|| {
            j = (j + 1) % requests.len();
            black_box(ecs::find(black_box(requests[j].as_slice())))
        })
    });
    c.bench_function("request parse (fast path)", |b| {
        b.iter(|| {
            j = (j + 1) % requests.len();
            let asked = Asked::parse(black_box(requests[j].as_slice()), requests[j].src().ip(), requests[j].protocol());
            black_box(asked.map(|a| a.question_count))
        })
    });
    let mut out = Vec::with_capacity(65_535);
    c.bench_function("response encode (geo answer with ECS)", |b| {
        let request = &requests[0];
        let asked = Asked::parse(request.as_slice(), request.src().ip(), request.protocol()).expect("common shape");
        let mut answer = response::answer(&snapshot, &asked, response::Salt::default()).expect("an answer");
        b.iter(|| black_box(wire::encode(black_box(&mut answer), asked.question_bytes, 1232, &mut out)))
    });
    c.bench_function("whole answer for a geo pool with ECS", |b| {
        b.iter(|| {
            j = (j + 1) % requests.len();
            let request = &requests[j];
            let asked = Asked::parse(request.as_slice(), request.src().ip(), request.protocol()).expect("common shape");
            let answer = response::answer(&snapshot, &asked, response::Salt::default());
            black_box(answer.map(|a| a.answers.len()))
        })
    });
}

criterion_group!(steering, benches);
criterion_main!(steering);
