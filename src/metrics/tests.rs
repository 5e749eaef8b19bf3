use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::slots::QTYPES;
use super::text::Page;
use super::*;
use crate::health::state::{Observation, Status};

/// Label pairs in page order, unescaped.
type Labels = Vec<(String, String)>;

/// One sample line, unescaped.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Labels,
    value: f64,
}

/// A page parsed back, after checking it the way a strict scraper would.
#[derive(Debug)]
struct Parsed {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Parsed {
    /// The value of the one sample with this name and exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: Labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.samples.iter().find(|s| s.name == name && s.labels == want).map(|s| s.value)
    }

    fn named(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
}

/// Parses the text format 0.0.4 strictly; panics with the line on the first fault.
fn parse(page: &str) -> Parsed {
    assert!(page.ends_with('\n'), "a page ends with a line feed");
    let mut types = BTreeMap::new();
    let mut helps = HashSet::new();
    let mut samples = Vec::new();
    let mut current: Option<String> = None;
    let mut finished = HashSet::new();
    let mut series = HashSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap_or_else(|| panic!("HELP without text: {line}"));
            assert!(helps.insert(name.to_owned()), "second HELP for {name}");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("TYPE without a type: {line}"));
            assert!(matches!(kind, "counter" | "gauge" | "histogram"), "type {kind:?} in {line}");
            assert!(helps.contains(name), "TYPE before HELP: {line}");
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "second TYPE for {name}");
            if let Some(previous) = current.replace(name.to_owned()) {
                finished.insert(previous);
            }
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "stray line {line:?}");
            let sample = parse_sample(line);
            let family = family_of(&sample.name, &types).unwrap_or_else(|| panic!("no TYPE for {line}"));
            assert_eq!(current.as_deref(), Some(family.as_str()), "sample outside its family's group: {line}");
            assert!(!finished.contains(&family));
            assert!(series.insert((sample.name.clone(), sample.labels.clone())), "duplicate series {line}");
            samples.push(sample);
        }
    }
    let parsed = Parsed { types, samples };
    check_histograms(&parsed);
    parsed
}

/// The family a sample belongs to: its own name, or a histogram's for its series.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> Option<String> {
    if types.contains_key(name) {
        return Some(name.to_owned());
    }
    ["_bucket", "_sum", "_count"]
        .iter()
        .filter_map(|suffix| name.strip_suffix(suffix))
        .find(|base| types.get(*base).map(String::as_str) == Some("histogram"))
        .map(str::to_owned)
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(is_name(name, true), "bad metric name in {line}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            let eq = rest.find('=').unwrap_or_else(|| panic!("label without '=': {line}"));
            let label = &rest[..eq];
            assert!(is_name(label, false), "bad label name {label:?} in {line}");
            rest = rest[eq + 1..].strip_prefix('"').unwrap_or_else(|| panic!("unquoted value: {line}"));
            let (value, after) = unescape(rest).unwrap_or_else(|| panic!("bad escaping: {line}"));
            assert!(!labels.iter().any(|(l, _)| l == label), "label {label} twice: {line}");
            labels.push((label.to_owned(), value));
            rest = after;
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else {
                rest = rest.strip_prefix('}').unwrap_or_else(|| panic!("labels not closed: {line}"));
                break;
            }
        }
    }
    let text = rest.strip_prefix(' ').unwrap_or_else(|| panic!("no space before the value: {line}"));
    let value = match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => {
            assert!(text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'), "value {text:?}: {line}");
            text.parse().unwrap_or_else(|_| panic!("value {text:?}: {line}"))
        }
    };
    Sample { name: name.to_owned(), labels, value }
}

fn is_name(name: &str, colon: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic() || c == '_' || (colon && c == ':') || (!first && c.is_ascii_digit())
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

/// A label value up to its closing quote, unescaped, and what follows the quote.
fn unescape(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                '\\' => value.push('\\'),
                '"' => value.push('"'),
                'n' => value.push('\n'),
                _ => return None,
            },
            c => value.push(c),
        }
    }
    None
}

/// Buckets cumulative with rising `le`, ending in `+Inf` equal to `_count`, and a `_sum`.
fn check_histograms(parsed: &Parsed) {
    for (family, _) in parsed.types.iter().filter(|(_, kind)| *kind == "histogram") {
        let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in parsed.named(&format!("{family}_bucket")) {
            let le = s.labels.iter().find(|(l, _)| l == "le").expect("a bucket has le");
            let le = if le.1 == "+Inf" { f64::INFINITY } else { le.1.parse().expect("le is a number") };
            let rest: Labels = s.labels.iter().filter(|(l, _)| l != "le").cloned().collect();
            groups.entry(rest).or_default().push((le, s.value));
        }
        for (labels, buckets) in &groups {
            assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{family} {labels:?}");
            let (last_le, last) = *buckets.last().expect("at least one bucket");
            assert_eq!(last_le, f64::INFINITY, "{family} {labels:?} ends in +Inf");
            let find = |suffix: &str| {
                parsed
                    .samples
                    .iter()
                    .find(|s| s.name == format!("{family}{suffix}") && &s.labels == labels)
                    .map(|s| s.value)
            };
            assert_eq!(find("_count"), Some(last), "{family} {labels:?}: +Inf equals _count");
            assert!(find("_sum").is_some(), "{family} {labels:?} has a _sum");
        }
        assert_eq!(parsed.named(&format!("{family}_count")).len(), groups.len());
    }
}

fn gauges<'a>(endpoints: &'a [EndpointGauge<'a>]) -> Gauges<'a> {
    Gauges { generation: 7, endpoints, pools: &[], version: "0.1.0", uptime: Duration::from_millis(1500) }
}

fn ep<'a>(region: &'a str, address: &'a str) -> EndpointLabel<'a> {
    EndpointLabel { region, address }
}

fn two_regions() -> Vec<(&'static str, Vec<(usize, String)>)> {
    vec![
        ("eu", vec![(3, "192.0.2.1".to_owned()), (4, "192.0.2.2".to_owned())]),
        ("us", vec![(9, "198.51.100.1".to_owned())]),
    ]
}

#[test]
fn registry_is_shareable_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Registry>();
    assert_send_sync::<PoolHandles>();
}

#[test]
fn qtypes_map_to_their_slots() {
    let qtypes = [(1, "A"), (28, "AAAA"), (65, "HTTPS"), (257, "CAA"), (252, "AXFR"), (0, "other"), (99, "other")];
    for (qtype, label) in qtypes.into_iter().chain([(65535, "other"), (258, "other")]) {
        assert_eq!(qtype_label(qtype_slot(qtype)), label, "qtype {qtype}");
    }
    // The match in `qtype_slot` agrees with the table, and no two types share a slot.
    let slots: HashSet<usize> = QTYPES.iter().map(|(n, _)| qtype_slot(*n)).collect();
    assert_eq!(slots.len(), QTYPES.len());
    for (n, name) in QTYPES {
        assert_eq!(qtype_label(qtype_slot(n)), name);
    }
    assert_eq!(qtype_label(QTYPE_SLOTS - 1), "other");
}

#[test]
fn queries_are_counted_by_transport_type_and_rcode_and_zeros_are_left_out() {
    let registry = Registry::new();
    let empty = parse(&registry.render(&gauges(&[])));
    assert_eq!(empty.types.get("meridian_queries_total").map(String::as_str), Some("counter"));
    assert!(empty.named("meridian_queries_total").is_empty());
    for (transport, qtype, rcode) in [(Transport::Udp, 1, 0), (Transport::Udp, 1, 0), (Transport::Tcp, 28, 3)] {
        registry.record_query(transport, qtype, rcode);
    }
    registry.record_query(Transport::Udp, 4242, 16); // an unknown type answered BADVERS
    registry.record_ecs_tailored();
    let page = parse(&registry.render(&gauges(&[])));
    let q = |t, qt, rc| page.value("meridian_queries_total", &[("transport", t), ("qtype", qt), ("rcode", rc)]);
    assert_eq!(q("udp", "A", "NOERROR"), Some(2.0));
    assert_eq!(q("tcp", "AAAA", "NXDOMAIN"), Some(1.0));
    assert_eq!(q("udp", "other", "other"), Some(1.0));
    assert_eq!(page.named("meridian_queries_total").len(), 3, "only non-zero series");
    assert_eq!(page.value("meridian_ecs_tailored_answers_total", &[]), Some(1.0));
}

#[test]
fn pool_counters_survive_a_second_resolution_with_the_same_labels() {
    let registry = Registry::new();
    let first = registry.pool_handles("www.example.com.", &two_regions());
    first.record_answer(Some(0), [3, 4].into_iter());
    first.record_answer(None, [9].into_iter()); // all down: failing open with a us endpoint
    // The rebuild drops 192.0.2.2 and adds 192.0.2.3; indexes move, labels decide.
    let rebuilt = [
        ("eu", vec![(5, "192.0.2.1".to_owned()), (6, "192.0.2.3".to_owned())]),
        ("us", vec![(2, "198.51.100.1".to_owned())]),
    ];
    let second = registry.pool_handles("www.example.com.", &rebuilt);
    second.record_answer(Some(0), [5, 6].into_iter());
    second.record_answer(Some(1), [2].into_iter());
    first.record_answer(Some(1), [9].into_iter()); // handles of the old snapshot still count
    let page = parse(&registry.render(&gauges(&[])));
    let pool = "www.example.com.";
    let endpoint = |r, e| page.value("meridian_pool_answers_total", &[("pool", pool), ("region", r), ("endpoint", e)]);
    assert_eq!(endpoint("eu", "192.0.2.1"), Some(2.0));
    assert_eq!(endpoint("eu", "192.0.2.2"), Some(1.0), "kept after leaving the configuration");
    assert_eq!(endpoint("eu", "192.0.2.3"), Some(1.0));
    assert_eq!(endpoint("us", "198.51.100.1"), Some(3.0));
    let region = |r| page.value("meridian_pool_region_answers_total", &[("pool", pool), ("region", r)]);
    assert_eq!((region("eu"), region("us")), (Some(2.0), Some(2.0)));
    assert_eq!(page.value("meridian_pool_all_down_answers_total", &[("pool", pool)]), Some(1.0));
}

#[test]
fn observers_resolved_for_a_snapshot_are_found_by_pool_index() {
    let toml = "zones_dir = \"z\"\n\
        [[region]]\nname = \"eu\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
        [[region]]\nname = \"us\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n\
        [[pool]]\nname = \"a.lb.test.\"\npolicy = \"priority\"\nregions = [\"eu\"]\n\
        [[pool]]\nname = \"b.lb.test.\"\npolicy = \"priority\"\nregions = [\"eu\", \"us\"]\n";
    let config = crate::config::Config::from_toml(toml, std::path::Path::new(""), "test").unwrap();
    let zone = crate::zone::parse::parse(
        "$ORIGIN lb.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n",
        None,
    )
    .unwrap();
    let zone = crate::zone::Zone::build(zone.origin.unwrap(), zone.entries).unwrap();
    let steering = crate::steering::Steering::build(&config, None, None, &crate::zone::Zones::new(vec![zone])).unwrap();
    let observers = Observers::default();
    let resolved = observers.resolve(&steering);
    let b = resolved.pool(steering.pools[1].index).expect("every pool is resolved");
    assert_eq!(b.region_slots.len(), 2);
    b.metrics.record_answer(Some(1), [1].into_iter()); // us, 198.51.100.1 (health index 1)
    assert!(resolved.pool(2).is_none(), "past the last pool");
    assert!(PoolObservers::default().pool(0).is_none(), "a snapshot built without observers counts nothing");
    let page = parse(&observers.metrics.render(&gauges(&[])));
    let answers = |pool, region, endpoint| {
        page.value("meridian_pool_answers_total", &[("pool", pool), ("region", region), ("endpoint", endpoint)])
    };
    assert_eq!(answers("b.lb.test.", "us", "198.51.100.1"), Some(1.0));
    assert_eq!(answers("a.lb.test.", "eu", "192.0.2.1"), Some(0.0), "the other pool's series, resolved at zero");
}

#[test]
fn indexes_a_pool_was_not_resolved_with_are_not_counted() {
    let registry = Registry::new();
    let handles = registry.pool_handles("p.", &two_regions());
    handles.record_answer(Some(7), [0, 5, 1000].into_iter());
    PoolHandles::default().record_answer(Some(0), [0].into_iter());
    let page = parse(&registry.render(&gauges(&[])));
    let total: f64 =
        ["meridian_pool_answers_total", "meridian_pool_region_answers_total", "meridian_pool_all_down_answers_total"]
            .iter()
            .flat_map(|name| page.named(name))
            .map(|s| s.value)
            .sum();
    assert_eq!(total, 0.0);
    assert_eq!(page.named("meridian_pool_answers_total").len(), 3, "resolved series show at zero");
}

#[test]
fn the_whole_page_parses_strictly() {
    let registry = Arc::new(Registry::new());
    registry.record_query(Transport::Udp, 1, 0);
    registry.pool_handles("a.example.", &two_regions()).record_answer(Some(1), [9].into_iter());
    let (eu1, us1) = (ep("eu", "192.0.2.1"), ep("us", "198.51.100.1"));
    for ms in [1, 3, 30, 30, 700, 20_000] {
        registry.record_probe(eu1, Some(Duration::from_millis(ms)), ProbeResult::Ok);
    }
    registry.record_probe(us1, None, ProbeResult::Fail);
    registry.record_probe(us1, Some(Duration::from_millis(2)), Observation::Degraded.into());
    registry.record_transition(us1, Status::Down.into());
    registry.record_transition(us1, EndpointState::Up);
    registry.record_transition(us1, EndpointState::Down);
    registry.record_failover("a.example.", FailoverKind::Automatic);
    registry.record_reload(true);
    registry.record_reload(false);
    registry.record_reload(true);
    registry.record_api_auth_failure();
    let endpoints = [
        EndpointGauge { endpoint: us1, state: EndpointState::Down, servable: false, held_down: false },
        EndpointGauge { endpoint: eu1, state: EndpointState::Degraded, servable: true, held_down: false },
    ];
    let text = registry.render(&gauges(&endpoints));
    let page = parse(&text);
    assert_eq!(text, registry.render(&gauges(&endpoints)), "equal state renders equally");
    for family in [
        "meridian_build_info",
        "meridian_uptime_seconds",
        "meridian_snapshot_generation",
        "meridian_reloads_total",
        "meridian_failovers_total",
        "meridian_health_transitions_total",
        "meridian_probes_total",
        "meridian_endpoint_state",
    ] {
        assert!(page.types.contains_key(family), "{family} declared");
    }
    assert_eq!(page.types["meridian_probe_rtt_seconds"], "histogram");
    assert_eq!(page.value("meridian_build_info", &[("version", "0.1.0")]), Some(1.0));
    assert_eq!(page.value("meridian_uptime_seconds", &[]), Some(1.5));
    assert_eq!(page.value("meridian_snapshot_generation", &[]), Some(7.0));
    assert_eq!(page.value("meridian_reloads_total", &[("result", "ok")]), Some(2.0));
    assert_eq!(page.value("meridian_reloads_total", &[("result", "error")]), Some(1.0));
    assert_eq!(page.value("meridian_api_auth_failures_total", &[]), Some(1.0));
    let failovers = page.value("meridian_failovers_total", &[("pool", "a.example."), ("kind", "automatic")]);
    assert_eq!(failovers, Some(1.0));
    let to = |state| {
        let labels = [("region", "us"), ("endpoint", "198.51.100.1"), ("to", state)];
        page.value("meridian_health_transitions_total", &labels)
    };
    assert_eq!((to("down"), to("up"), to("degraded")), (Some(2.0), Some(1.0), None));
    let probes = |e: EndpointLabel<'_>, result| {
        let labels = [("region", e.region), ("endpoint", e.address), ("result", result)];
        page.value("meridian_probes_total", &labels)
    };
    assert_eq!((probes(us1, "ok"), probes(us1, "degraded"), probes(us1, "fail")), (Some(0.0), Some(1.0), Some(1.0)));
    assert_eq!(probes(eu1, "ok"), Some(6.0));
    // Endpoints come out sorted, whatever order the snapshot gave.
    let up: Vec<(&str, f64)> =
        page.named("meridian_endpoint_up").iter().map(|s| (s.labels[0].1.as_str(), s.value)).collect();
    assert_eq!(up, [("eu", 1.0), ("us", 0.0)]);
    let state = |e: EndpointLabel<'_>, s| {
        page.value("meridian_endpoint_state", &[("region", e.region), ("endpoint", e.address), ("state", s)])
    };
    assert_eq!((state(eu1, "degraded"), state(eu1, "up"), state(us1, "down")), (Some(1.0), Some(0.0), Some(1.0)));
    assert_eq!(page.named("meridian_endpoint_state").len(), 2 * 4);
}

#[test]
fn probe_rtts_fall_in_inclusive_buckets() {
    let registry = Registry::new();
    let e = ep("eu", "192.0.2.1");
    for ms in [1, 3, 30, 30, 700, 20_000] {
        registry.record_probe(e, Some(Duration::from_millis(ms)), ProbeResult::Ok);
    }
    registry.record_probe(e, None, ProbeResult::Fail); // no response: no RTT
    let page = parse(&registry.render(&gauges(&[])));
    let bucket = |le| {
        page.value("meridian_probe_rtt_seconds_bucket", &[("region", "eu"), ("endpoint", "192.0.2.1"), ("le", le)])
    };
    let table =
        [("0.001", 1.0), ("0.0025", 1.0), ("0.005", 2.0), ("0.025", 2.0), ("0.05", 4.0), ("1", 5.0), ("10", 5.0)];
    for (le, want) in table.into_iter().chain([("+Inf", 6.0)]) {
        assert_eq!(bucket(le), Some(want), "le {le}");
    }
    let labels = [("region", "eu"), ("endpoint", "192.0.2.1")];
    assert_eq!(page.value("meridian_probe_rtt_seconds_count", &labels), Some(6.0));
    let sum = page.value("meridian_probe_rtt_seconds_sum", &labels).unwrap();
    assert!((sum - 20.764).abs() < 1e-9, "{sum}");
}

#[test]
fn label_values_are_escaped() {
    let registry = Registry::new();
    let pool = "we\"ird\\pool\nname";
    registry.record_failover(pool, FailoverKind::Manual);
    registry.record_transition(ep("a\\b", "\"q\""), EndpointState::Drained);
    let text = registry.render(&gauges(&[]));
    assert!(text.contains(r#"pool="we\"ird\\pool\nname""#), "{text}");
    let page = parse(&text);
    assert_eq!(page.value("meridian_failovers_total", &[("pool", pool), ("kind", "manual")]), Some(1.0));
    let labels = [("region", "a\\b"), ("endpoint", "\"q\""), ("to", "drained")];
    assert_eq!(page.value("meridian_health_transitions_total", &labels), Some(1.0));
}

#[test]
fn values_use_the_formats_spellings() {
    let mut page = Page::default();
    page.family("x", text::Kind::Gauge, "a \\ help\ntext");
    for value in [0.25, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e21, 3.0] {
        page.sample("x", &[], value);
    }
    page.sample("x", &[], u64::MAX);
    let text = page.finish();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r"# HELP x a \\ help\ntext");
    assert_eq!(
        &lines[2..],
        ["x 0.25", "x +Inf", "x -Inf", "x NaN", "x 1000000000000000000000", "x 3", "x 18446744073709551615"]
    );
}

#[test]
fn the_test_parser_refuses_what_a_strict_scraper_would() {
    let head = "# HELP x h\n# TYPE x counter\n";
    let histogram = "# HELP h h\n# TYPE h histogram\n";
    let bad = [
        "x 1\n".to_owned(),                   // no TYPE
        format!("{head}x 1"),                 // no final line feed
        format!("{head}x{{a=\"b\\t\"}} 1\n"), // not an escape the format has
        format!("{head}x{{a=\"b\"c\"}} 1\n"), // a bare quote
        format!("{head}x{{a=\"b\",}} 1\n"),   // a trailing comma
        format!("{head}x 1\nx 2\n"),          // the same series twice
        format!("{head}# TYPE x gauge\n"),    // a second TYPE
        format!("{head}{histogram}x 1\n"),    // outside its group
        format!("{histogram}h_bucket{{le=\"1\"}} 2\nh_bucket{{le=\"+Inf\"}} 1\nh_count 1\nh_sum 0\n"),
        format!("{histogram}h_bucket{{le=\"1\"}} 1\nh_count 1\nh_sum 0\n"), // no +Inf
        format!("{histogram}h_bucket{{le=\"+Inf\"}} 1\nh_count 2\nh_sum 0\n"),
    ];
    for page in bad {
        assert!(std::panic::catch_unwind(|| parse(&page)).is_err(), "accepted {page:?}");
    }
    parse(&format!("{head}x{{a=\"\\\\\\\"\\n\"}} 1\n{histogram}h_bucket{{le=\"+Inf\"}} 1\nh_sum 0.5\nh_count 1\n"));
}

#[test]
fn the_last_reload_shows_as_successful_until_one_is_rejected_and_again_after_a_good_one() {
    let registry = Registry::new();
    let reload = |registry: &Registry| {
        parse(&registry.render(&gauges(&[]))).value("meridian_config_last_reload_successful", &[])
    };
    assert_eq!(reload(&registry), Some(1.0), "no reload yet: the file's");
    registry.record_reload(false);
    assert_eq!(reload(&registry), Some(0.0));
    registry.record_reload(true);
    assert_eq!(reload(&registry), Some(1.0), "until the next good reload");
}

#[test]
fn the_writer_heartbeat_is_the_unix_time_last_recorded_and_0_before() {
    let registry = Registry::new();
    let heartbeat = |registry: &Registry| {
        parse(&registry.render(&gauges(&[]))).value("meridian_writer_heartbeat_timestamp_seconds", &[])
    };
    assert_eq!(heartbeat(&registry), Some(0.0));
    registry.record_writer_heartbeat(1_700_000_000);
    assert_eq!(heartbeat(&registry), Some(1_700_000_000.0));
}

#[test]
fn pools_show_up_or_down_and_their_regions_sorted_by_pool_and_held_down_endpoints_show() {
    let registry = Registry::new();
    let page = parse(&registry.render(&gauges(&[])));
    for family in ["meridian_pool_up", "meridian_pool_servable_regions", "meridian_endpoint_held_down"] {
        assert!(page.types.contains_key(family), "{family} declared before any pool or endpoint");
    }
    let pools = [
        PoolGauge { pool: "b.example.", regions: 2, servable_regions: 0 },
        PoolGauge { pool: "a.example.", regions: 3, servable_regions: 2 },
    ];
    let endpoints = [EndpointGauge {
        endpoint: ep("eu", "192.0.2.1"),
        state: EndpointState::Down,
        servable: false,
        held_down: true,
    }];
    let state = Gauges { pools: &pools, ..gauges(&endpoints) };
    let page = parse(&registry.render(&state));
    let up: Vec<(&str, f64)> =
        page.named("meridian_pool_up").iter().map(|s| (s.labels[0].1.as_str(), s.value)).collect();
    assert_eq!(up, [("a.example.", 1.0), ("b.example.", 0.0)], "sorted by pool");
    assert_eq!(page.value("meridian_pool_servable_regions", &[("pool", "a.example.")]), Some(2.0));
    assert_eq!(page.value("meridian_pool_regions", &[("pool", "a.example.")]), Some(3.0));
    assert_eq!(page.value("meridian_endpoint_held_down", &[("region", "eu"), ("endpoint", "192.0.2.1")]), Some(1.0));
}

#[test]
fn answers_count_by_client_country_with_unknown_for_none_or_a_malformed_code() {
    let registry = Registry::new();
    let handles = registry.pool_handles("b.example.", &two_regions());
    for country in [Some(*b"DE"), Some(*b"DE"), Some(*b"US"), None, Some(*b"d1")] {
        handles.record_country(country);
    }
    let page = parse(&registry.render(&gauges(&[])));
    let country = |c| page.value("meridian_pool_country_answers_total", &[("pool", "b.example."), ("country", c)]);
    assert_eq!(
        (country("DE"), country("US"), country("unknown"), country("FR")),
        (Some(2.0), Some(1.0), Some(2.0), None),
        "only countries seen"
    );
}
