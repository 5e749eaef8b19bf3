//! Prometheus metrics and traffic analytics: after a known set of queries, the exposition
//! parses and its counters, and the analytics shares, match what was sent.

use std::collections::BTreeMap;

use hickory_proto::rr::RecordType;

use crate::steering::{LB_ZONE, REGIONS, test_db};
use crate::support::client::{self, Q};
use crate::support::{API_TOML, TestServer};

const POOL: &str = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"geo\"\nregions = [\"beta\", \"alpha\", \"gamma\"]\n";

fn server() -> TestServer {
    let db = test_db();
    let toml = format!("{API_TOML}{REGIONS}{POOL}");
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[("geo.mmdb", &db)])
}

/// One sample: its labels and value.
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// Parses the text exposition strictly: every sample's family is declared by a TYPE line
/// before it, label values are quoted with valid escapes, values are numbers.
fn parse(page: &str) -> Samples {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Samples::new();
    for line in page.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "declared twice: {line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("closing brace"), line)),
            None => (series, BTreeMap::new()),
        };
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(types.contains_key(name) || types.contains_key(family), "no TYPE before {line}");
        samples.entry(name.to_owned()).or_default().push((labels, value));
    }
    samples
}

fn parse_labels(text: &str, line: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let name: String = chars.by_ref().take_while(|&c| c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "unquoted label value: {line}");
        let mut value = String::new();
        loop {
            match chars.next().unwrap_or_else(|| panic!("unterminated value: {line}")) {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c @ ('\\' | '"')) => value.push(c),
                    other => panic!("bad escape {other:?}: {line}"),
                },
                c => value.push(c),
            }
        }
        labels.insert(name, value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The value of the sample of `name` with exactly these labels (0 when absent).
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    samples.get(name).and_then(|s| s.iter().find(|(l, _)| *l == wanted)).map_or(0.0, |(_, v)| *v)
}

#[test]
fn after_known_queries_the_exposition_parses_and_its_counters_match() {
    let server = server();
    let api = server.api();
    let www = |subnet: &str| Q::new("www.lb.test.", RecordType::A).ecs(subnet);
    for _ in 0..4 {
        assert_eq!(client::udp(server.addr, &www("198.51.100.0/24")).answers.len(), 1);
    }
    for _ in 0..2 {
        assert_eq!(client::tcp(server.addr, &www("203.0.113.0/24")).answers.len(), 1);
    }
    for _ in 0..3 {
        client::udp(server.addr, &Q::new("www.example.org.", RecordType::A));
    }
    client::udp(server.addr, &Q::new("lb.test.", RecordType::SOA));
    let reply = api.send("GET", "/metrics", None, None);
    assert_eq!(reply.status, 200, "no token needed: {}", reply.body);
    assert!(reply.head.contains("text/plain; version=0.0.4"), "{}", reply.head);
    let m = parse(&reply.body);
    let queries = |transport, qtype, rcode| {
        value(&m, "meridian_queries_total", &[("transport", transport), ("qtype", qtype), ("rcode", rcode)])
    };
    assert_eq!(queries("udp", "A", "NOERROR"), 4.0);
    assert_eq!(queries("tcp", "A", "NOERROR"), 2.0);
    assert_eq!(queries("udp", "A", "REFUSED"), 3.0);
    assert_eq!(queries("udp", "SOA", "NOERROR"), 1.0);
    assert_eq!(value(&m, "meridian_ecs_tailored_answers_total", &[]), 6.0);
    let region = |r| value(&m, "meridian_pool_region_answers_total", &[("pool", "www.lb.test."), ("region", r)]);
    assert_eq!((region("alpha"), region("beta"), region("gamma")), (4.0, 2.0, 0.0));
    let endpoint = &[("pool", "www.lb.test."), ("region", "alpha"), ("endpoint", "192.0.2.1")];
    assert_eq!(value(&m, "meridian_pool_answers_total", endpoint), 4.0);
    assert_eq!(value(&m, "meridian_endpoint_up", &[("region", "alpha"), ("endpoint", "192.0.2.1")]), 1.0);
    let generation = api.get("/healthz").json()["generation"].as_f64().unwrap();
    assert_eq!(value(&m, "meridian_snapshot_generation", &[]), generation);
    assert_eq!(value(&m, "meridian_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // Reloads, drains and manual failovers count too.
    assert_eq!(api.post("/api/v1/reload", "").status, 200);
    assert_eq!(api.post("/api/v1/lb/regions/alpha/endpoints/192.0.2.1/drain", "").status, 200);
    let trigger = r#"{"pool":"www.lb.test.","from_region":"beta","to_region":"gamma"}"#;
    assert_eq!(api.post("/api/v1/lb/failover/trigger", trigger).status, 200);
    let m = parse(&api.get("/metrics").body);
    assert_eq!(value(&m, "meridian_reloads_total", &[("result", "ok")]), 1.0);
    let drained = &[("region", "alpha"), ("endpoint", "192.0.2.1"), ("state", "drained")];
    assert_eq!(value(&m, "meridian_endpoint_state", drained), 1.0);
    assert_eq!(value(&m, "meridian_endpoint_up", &[("region", "alpha"), ("endpoint", "192.0.2.1")]), 0.0);
    assert_eq!(value(&m, "meridian_failovers_total", &[("pool", "www.lb.test."), ("kind", "manual")]), 1.0);
    let udp_a = &[("transport", "udp"), ("qtype", "A"), ("rcode", "NOERROR")];
    assert_eq!(value(&m, "meridian_queries_total", udp_a), 4.0, "counters survive the reload and the changes");
}

#[test]
fn analytics_show_where_answers_went_and_who_asked() {
    let server = server();
    let api = server.api();
    for _ in 0..3 {
        client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("198.51.100.0/24"));
    }
    client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs("203.0.113.0/24"));
    let report = api.get("/api/v1/lb/analytics?pool=www.lb.test&window=1m");
    assert_eq!(report.status, 200, "{}", report.body);
    let report = report.json();
    assert_eq!(report["window"], "1m");
    let pool = &report["pools"][0];
    assert_eq!((pool["pool"].as_str(), pool["answers"].as_u64()), (Some("www.lb.test."), Some(4)), "{report}");
    assert_eq!(
        (pool["regions"][0]["name"].as_str(), pool["regions"][0]["share"].as_f64()),
        (Some("alpha"), Some(0.75))
    );
    assert_eq!(
        (pool["countries"][0]["code"].as_str(), pool["countries"][0]["answers"].as_u64()),
        (Some("DE"), Some(3))
    );
    assert_eq!(
        (pool["continents"][1]["code"].as_str(), pool["continents"][1]["answers"].as_u64()),
        (Some("NA"), Some(1))
    );
    assert_eq!((pool["rcodes"][0]["rcode"].as_str(), pool["rcodes"][0]["rate"].as_f64()), (Some("NOERROR"), Some(1.0)));
    assert_eq!(api.get("/api/v1/lb/analytics?window=2h").status, 400);
    assert_eq!(api.get("/api/v1/lb/analytics?pool=nope.lb.test.").status, 404);
    let all = api.get("/api/v1/lb/analytics").json();
    assert_eq!(all["window"], "15m");
    assert_eq!(all["pools"].as_array().unwrap().len(), 1);
}

#[test]
fn answers_are_counted_by_the_clients_country() {
    let server = server();
    for subnet in ["198.51.100.0/24", "198.51.100.0/24", "203.0.113.0/24"] {
        client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A).ecs(subnet));
    }
    let m = parse(&server.api().get("/metrics").body);
    let country = |c| value(&m, "meridian_pool_country_answers_total", &[("pool", "www.lb.test."), ("country", c)]);
    assert_eq!((country("DE"), country("US")), (2.0, 1.0));
}

#[test]
fn the_writer_heartbeat_is_the_unix_time_of_its_last_turn() {
    let started = meridian::control::unix_now();
    let server = server();
    let m = parse(&server.api().get("/metrics").body);
    let heartbeat = value(&m, "meridian_writer_heartbeat_timestamp_seconds", &[]);
    let now = meridian::control::unix_now();
    assert!((started as f64..=now as f64).contains(&heartbeat), "{started} <= {heartbeat} <= {now}");
}

#[test]
fn config_last_reload_successful_is_0_after_a_rejected_reload_until_a_good_one() {
    let server = server();
    let api = server.api();
    let m = parse(&api.get("/metrics").body);
    assert_eq!(value(&m, "meridian_config_last_reload_successful", &[]), 1.0);
    let path = server.dir().join("meridian.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    server.write("meridian.toml", &format!("{good}\n[server\n")); // not TOML: rejected
    assert_eq!(api.post("/api/v1/reload", "").status, 422);
    let m = parse(&api.get("/metrics").body);
    assert_eq!(value(&m, "meridian_config_last_reload_successful", &[]), 0.0, "the file is not what is served");
    assert_eq!(value(&m, "meridian_reloads_total", &[("result", "error")]), 1.0);
    server.write("meridian.toml", &good);
    assert_eq!(api.post("/api/v1/reload", "").status, 200);
    let m = parse(&api.get("/metrics").body);
    assert_eq!(value(&m, "meridian_config_last_reload_successful", &[]), 1.0);
}
