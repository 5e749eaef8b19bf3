//! The admin API over real HTTP: authentication, every route, every class of bad request, and
//! changes that show in DNS answers right after their 2xx and survive a restart (restarts
//! themselves: `restart.rs`).

use std::collections::BTreeSet;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::http::{Api, TOKEN};
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TestServer, servable};

pub const REGIONS: &str = "[[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\" } ]\n\
                       [[region]]\nname = \"b\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n\
                       [[region]]\nname = \"spare\"\nendpoints = [ { address = \"203.0.113.1\" } ]\n";
pub const POOL: &str =
    "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\", \"b\"]\nmax_answers = 8\n";

fn server_with(more: &str) -> TestServer {
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{REGIONS}{more}{POOL}"), &[])
}

pub fn server() -> TestServer {
    server_with("")
}

/// The A records the pool answers with, sorted.
pub fn answer(server: &TestServer) -> Vec<String> {
    client::a_records(server.addr, "www.lb.test.")
}

pub fn ok(reply: &crate::support::http::Reply) -> serde_json::Value {
    assert!((200..300).contains(&reply.status), "expected 2xx, got {} {}", reply.status, reply.body);
    reply.json()
}

/// Every route, with a body that would be accepted.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/lb/status", ""),
    ("GET", "/api/v1/lb/regions", ""),
    ("GET", "/api/v1/lb/regions/a", ""),
    ("POST", "/api/v1/lb/regions", r#"{"name":"c","endpoints":[{"address":"192.0.2.9"}]}"#),
    ("DELETE", "/api/v1/lb/regions/spare", ""),
    ("PATCH", "/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":2}"#),
    ("POST", "/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""),
    ("POST", "/api/v1/lb/regions/a/endpoints/192.0.2.1/undrain", ""),
    ("PUT", "/api/v1/lb/regions/a/endpoints/192.0.2.1/load", r#"{"load":0.5}"#),
    ("PUT", "/api/v1/lb/strategy", r#"{"pool":"www.lb.test.","strategy":"weighted"}"#),
    ("POST", "/api/v1/lb/health/check", r#"{"region":"a"}"#),
    ("GET", "/api/v1/lb/health/history", ""),
    ("POST", "/api/v1/lb/failover/trigger", r#"{"pool":"www.lb.test.","from_region":"a","to_region":"b"}"#),
    ("POST", "/api/v1/lb/failover/clear", r#"{"pool":"www.lb.test."}"#),
    ("GET", "/api/v1/lb/failover/status", ""),
    ("GET", "/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.99", ""),
    ("GET", "/api/v1/lb/analytics?window=1h", ""),
    ("GET", "/api/v1/cluster", ""),
    ("GET", "/api/v1/changes", ""),
    // Change 1 is the region added above.
    ("DELETE", "/api/v1/changes/1", ""),
    ("POST", "/api/v1/reload", ""),
    ("GET", "/api/v1/openapi.json", ""),
];

#[test]
fn every_route_but_healthz_needs_the_token_and_answers_with_it() {
    // 80 refusals from one address: above the failed-authentication limit's default.
    let server = TestServer::with_config(
        "",
        &[("lb.test.zone", LB_ZONE)],
        &format!("{API_TOML}max_failed_auth = 1000\n{REGIONS}{POOL}"),
        &[],
    );
    let api = server.api();
    let healthz = api.send("GET", "/healthz", None, None);
    assert_eq!(healthz.status, 200, "{}", healthz.body);
    assert_eq!(healthz.json()["status"], "ok");
    for &(method, path, body) in ROUTES {
        let body = Some(body).filter(|b| !b.is_empty());
        for token in [None, Some("wrong-token"), Some("test-token-012345678"), Some("")] {
            let reply = api.send(method, path, body, token);
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}: {}", reply.body);
            assert!(reply.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{}", reply.head);
            assert!(!reply.body.contains(TOKEN), "the token is never echoed");
        }
    }
    // The same routes, in order, with the token: each is accepted.
    for &(method, path, body) in ROUTES {
        let reply = api.send(method, path, Some(body).filter(|b| !b.is_empty()), Some(TOKEN));
        assert!((200..300).contains(&reply.status), "{method} {path}: {} {}", reply.status, reply.body);
        assert!(reply.head.to_ascii_lowercase().contains("content-type: application/json"), "{}", reply.head);
    }
}

#[test]
fn the_openapi_document_lists_every_route() {
    let server = server();
    let doc = ok(&server.api().get("/api/v1/openapi.json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    for &(method, path, _) in ROUTES {
        let template = template(path);
        let entry = paths.get(&template).unwrap_or_else(|| panic!("{template} is not documented"));
        assert!(entry.get(method.to_lowercase()).is_some(), "{method} {template} is not documented");
    }
    assert!(paths.contains_key("/healthz") && paths.contains_key("/metrics"));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let status = &doc["paths"]["/api/v1/lb/status"]["get"]["responses"];
    assert!(status["429"]["headers"]["Retry-After"].is_object(), "{status}");
    assert_eq!(status["401"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["paths"]["/healthz"]["get"]["responses"].get("429").is_none(), "/healthz needs no token");
}

#[test]
fn status_and_regions_describe_pools_regions_and_endpoints() {
    let server = server();
    let api = server.api();
    let status = ok(&api.get("/api/v1/lb/status"));
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["generation"].as_u64().unwrap() >= 1);
    assert_eq!(status["zones"][0]["origin"], "lb.test.");
    let pool = &status["pools"][0];
    assert_eq!((pool["name"].as_str(), pool["policy"].as_str()), (Some("www.lb.test."), Some("priority")));
    assert_eq!(pool["answer_set"][0]["endpoints"], serde_json::json!(["192.0.2.1", "192.0.2.2"]));
    assert_eq!(pool["all_down"], false);

    let regions = ok(&api.get("/api/v1/lb/regions"));
    let names: Vec<&str> = regions.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "spare"]);
    let a = ok(&api.get("/api/v1/lb/regions/a"));
    assert_eq!(a["pools"], serde_json::json!(["www.lb.test."]));
    assert_eq!(a["endpoints"][1]["address"], "192.0.2.2");
    assert_eq!((a["endpoints"][1]["weight"].as_u64(), a["endpoints"][1]["health"].as_str()), (Some(1), Some("up")));
    let missing = api.get("/api/v1/lb/regions/nowhere");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error().1, "region");
}

#[test]
fn drains_weights_and_strategies_show_in_dns_answers_right_after_their_2xx() {
    let server = server();
    let api = server.api();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    ok(&api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    assert_eq!(answer(&server), ["192.0.2.2"]);
    ok(&api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/undrain", ""));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    ok(&api.patch("/api/v1/lb/regions/a/endpoints/192.0.2.2", r#"{"weight": 0}"#));
    assert_eq!(answer(&server), ["192.0.2.1"]);
    let region = ok(&api.get("/api/v1/lb/regions/a"));
    assert_eq!(region["endpoints"][1]["weight"], 0);
    ok(&api.put(
        "/api/v1/lb/strategy",
        r#"{"pool":"www.lb.test","strategy":"priority","parameters":{"regions":["b","a"]}}"#,
    ));
    assert_eq!(answer(&server), ["198.51.100.1"]);
    // A region added through the API takes traffic once the pool lists it.
    ok(&api.post("/api/v1/lb/regions", r#"{"name":"c","endpoints":[{"address":"192.0.2.77"}]}"#));
    ok(&api.put(
        "/api/v1/lb/strategy",
        r#"{"pool":"www.lb.test.","strategy":"priority","parameters":{"regions":["c","a"]}}"#,
    ));
    assert_eq!(answer(&server), ["192.0.2.77"]);
    let status = ok(&api.get("/api/v1/lb/status"));
    assert_eq!(status["pools"][0]["answer_set"][0]["region"], "c");
}

#[test]
fn a_manual_failover_moves_a_regions_clients_until_cleared() {
    let server = server();
    let api = server.api();
    let trigger = r#"{"pool":"www.lb.test.","from_region":"a","to_region":"b"}"#;
    ok(&api.post("/api/v1/lb/failover/trigger", trigger));
    assert_eq!(answer(&server), ["198.51.100.1"]);
    let status = ok(&api.get("/api/v1/lb/failover/status"));
    assert_eq!(status["manual"][0]["from_region"], "a");
    assert_eq!(status["history"][0]["action"], "trigger");
    let explained = ok(&api.get("/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.99"));
    assert!(explained["steering"]["reason"].as_str().unwrap().contains("failed over by hand"), "{explained}");
    ok(&api.post("/api/v1/lb/failover/clear", r#"{"pool":"www.lb.test.","from_region":"a"}"#));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    let status = ok(&api.get("/api/v1/lb/failover/status"));
    assert_eq!(status["manual"], serde_json::json!([]));
    assert_eq!(status["history"][1]["action"], "clear");
    let again = api.post("/api/v1/lb/failover/clear", r#"{"pool":"www.lb.test."}"#);
    assert_eq!(again.status, 404, "{}", again.body);
}

#[test]
fn bad_requests_get_a_4xx_naming_the_field_and_change_nothing() {
    let server = server();
    let api = server.api();
    let before = ok(&api.get("/api/v1/lb/status"))["generation"].clone();
    let big =
        format!(r#"{{"name":"c","endpoints":[{{"address":"192.0.2.9"}}],"countries":["{}"]}}"#, "x".repeat(70_000));
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", "/api/v1/lb/regions", r#"{"name": "c", "endpoints": ["#, 400, ""),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","endpoints":[{"address":"192.0.2.9"}],"colour":"red"}"#,
            422,
            "colour",
        ),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","endpoints":[{"adress":"192.0.2.9"}]}"#,
            422,
            "endpoints[0].adress",
        ),
        ("POST", "/api/v1/lb/regions", r#"{"endpoints":[{"address":"192.0.2.9"}]}"#, 422, "name"),
        ("POST", "/api/v1/lb/regions", r#"{"name":"a","endpoints":[{"address":"192.0.2.9"}]}"#, 409, "name"),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","endpoints":[{"address":"192.0.2.999"}]}"#,
            422,
            "endpoints[0].address",
        ),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","endpoints":[{"address":"192.0.2.9","weight":-1}]}"#,
            422,
            "endpoints[0].weight",
        ),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","location":{"lat":123,"lon":0},"endpoints":[{"address":"192.0.2.9"}]}"#,
            422,
            "location",
        ),
        (
            "POST",
            "/api/v1/lb/regions",
            r#"{"name":"c","countries":["XX"],"endpoints":[{"address":"192.0.2.9"}]}"#,
            422,
            "countries[0]",
        ),
        ("POST", "/api/v1/lb/regions", &big, 413, ""),
        ("PUT", "/api/v1/lb/strategy", &big, 413, ""),
        (
            "POST",
            "/api/v1/lb/failover/trigger",
            r#"{"pool":"nope.lb.test.","from_region":"a","to_region":"b"}"#,
            404,
            "pool",
        ),
        ("POST", "/api/v1/lb/failover/trigger", r#"{"pool":"www.lb.test.","from_region":"a"}"#, 422, "to_region"),
        ("POST", "/api/v1/lb/failover/clear", r#"{"pool":"www.lb.test.","region":"a"}"#, 422, "region"),
        ("POST", "/api/v1/lb/health/check", r#"{"region":"a","now":true}"#, 422, "now"),
        (
            "PUT",
            "/api/v1/lb/strategy",
            r#"{"pool":"www.lb.test.","strategy":"weighted","parameters":{"colour":1}}"#,
            422,
            "parameters.colour",
        ),
        ("DELETE", "/api/v1/lb/regions/a", "", 409, "region"),
        ("DELETE", "/api/v1/lb/regions/nowhere", "", 404, "region"),
        ("PATCH", "/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":-5}"#, 422, "weight"),
        ("PATCH", "/api/v1/lb/regions/a/endpoints/192.0.2.1", r#"{"weight":"heavy"}"#, 422, "weight"),
        ("PATCH", "/api/v1/lb/regions/a/endpoints/not-an-ip", r#"{"weight":1}"#, 422, "endpoint"),
        ("PATCH", "/api/v1/lb/regions/a/endpoints/192.0.2.77", r#"{"weight":1}"#, 404, "endpoint"),
        ("PATCH", "/api/v1/lb/regions/nowhere/endpoints/192.0.2.1", r#"{"weight":1}"#, 404, "region"),
        ("POST", "/api/v1/lb/regions/a/endpoints/192.0.2.77/drain", "", 404, "endpoint"),
        ("PUT", "/api/v1/lb/strategy", r#"{"pool":"nope.lb.test.","strategy":"geo"}"#, 404, "pool"),
        ("PUT", "/api/v1/lb/strategy", r#"{"pool":"www.lb.test.","strategy":"fastest"}"#, 422, "strategy"),
        (
            "PUT",
            "/api/v1/lb/strategy",
            r#"{"pool":"www.lb.test.","strategy":"weighted","parameters":{"max_answers":99}}"#,
            422,
            "parameters.max_answers",
        ),
        (
            "PUT",
            "/api/v1/lb/strategy",
            r#"{"pool":"www.lb.test.","strategy":"weighted","parameters":{"regions":["a","nowhere"]}}"#,
            422,
            "parameters.regions[1]",
        ),
        ("PUT", "/api/v1/lb/strategy", r#"{"pool":"www.lb.test.","strategy":"geo"}"#, 422, "strategy"),
        (
            "POST",
            "/api/v1/lb/failover/trigger",
            r#"{"pool":"www.lb.test.","from_region":"a","to_region":"spare"}"#,
            404,
            "to_region",
        ),
        (
            "POST",
            "/api/v1/lb/failover/trigger",
            r#"{"pool":"www.lb.test.","from_region":"a","to_region":"a"}"#,
            422,
            "to_region",
        ),
        ("POST", "/api/v1/lb/health/check", r#"{"region":"nowhere"}"#, 404, "region"),
        ("GET", "/api/v1/lb/health/history?limit=0", "", 400, "limit"),
        ("GET", "/api/v1/lb/health/history?limit=many", "", 400, "limit"),
        ("GET", "/api/v1/lb/health/history?region=nowhere", "", 404, "region"),
        ("GET", "/api/v1/lb/explain?name=www.lb.test.&client=not-an-address", "", 400, "client"),
        ("GET", "/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.1&type=BOGUS", "", 422, "type"),
        ("GET", "/api/v1/nothing-here", "", 404, ""),
        ("DELETE", "/api/v1/lb/status", "", 405, ""),
    ];
    for &(method, path, body, status, field) in cases {
        let reply = api.send(method, path, Some(body).filter(|b| !b.is_empty()), Some(TOKEN));
        let shown = &reply.body[..reply.body.len().min(300)];
        assert_eq!(reply.status, status, "{method} {path} {}: {shown}", &body[..body.len().min(80)]);
        let (error, named) = reply.error();
        assert!(!error.is_empty(), "{method} {path}: no error text in {shown}");
        assert_eq!(named, field, "{method} {path}: {shown}");
    }
    // Without a JSON content type.
    let raw = format!(
        "POST /api/v1/lb/regions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    assert_eq!(api.raw(raw.as_bytes()).status, 415);
    let after = ok(&api.get("/api/v1/lb/status"));
    assert_eq!(after["generation"], before, "no refused request changed anything");
    assert_eq!(ok(&api.get("/api/v1/lb/regions")).as_array().unwrap().len(), 3);
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
}

#[test]
fn probes_on_demand_feed_health_and_its_history() {
    let target = HealthTarget::start();
    let check = format!(
        "check = {{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"1h\", timeout = \"2s\", rise = 1, fall = 1 }}\n",
        target.addr.port()
    );
    let regions = REGIONS.replacen("name = \"a\"\n", &format!("name = \"a\"\n{check}"), 1);
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{regions}{POOL}"), &[]);
    let api = server.api();
    let results = ok(&api.post("/api/v1/lb/health/check", r#"{"region":"a"}"#));
    assert_eq!(results.as_array().unwrap().len(), 2, "{results}");
    assert_eq!(results[0]["result"], "up", "{results}");
    target.set_status(503);
    let results = ok(&api.post("/api/v1/lb/health/check", r#"{"region":"a"}"#));
    assert_eq!(results[0]["result"], "failed", "{results}");
    assert!(results[0]["detail"].as_str().unwrap().contains("503"), "{results}");
    // fall = 1: that result takes region a down, and b answers.
    server.wait_for_snapshot(Duration::from_secs(5), "region a down on the on-demand result", |s| {
        !servable(s, "192.0.2.1") && !servable(s, "192.0.2.2")
    });
    assert_eq!(answer(&server), ["198.51.100.1"], "region b answers for a");
    let history = ok(&api.get("/api/v1/lb/health/history?region=a&endpoint=192.0.2.1&limit=5"));
    assert_eq!((history[0]["from"].as_str(), history[0]["to"].as_str()), (Some("up"), Some("down")), "{history}");
    assert!(history[0]["detail"].as_str().unwrap().contains("503"));
    let region = ok(&api.get("/api/v1/lb/regions/a"));
    assert_eq!(region["endpoints"][0]["health"], "down");
    assert!(region["endpoints"][0]["rtt"]["max_ms"].as_f64().is_some(), "{region}");
    let failovers = ok(&api.get("/api/v1/lb/failover/status"));
    assert_eq!(failovers["automatic"][0]["region"], "a", "{failovers}");
    assert_eq!(failovers["automatic"][0]["next_region"], "b", "{failovers}");
    assert_eq!(failovers["automatic_history"][0]["event"], "failed over", "{failovers}");
    let none = api.get("/api/v1/lb/health/history?endpoint=192.0.2.250");
    assert_eq!(none.status, 404);
}

/// Whether `text` is an RFC 3339 time as the API writes them, checked character by character
/// (not by the parser the server shares): `2026-12-02T14:26:26Z`, or with `.123` milliseconds.
fn is_rfc3339_utc(text: &str) -> bool {
    let shape = match text.len() {
        20 => "dddd-dd-ddTdd:dd:ddZ",
        24 => "dddd-dd-ddTdd:dd:dd.dddZ",
        _ => return false,
    };
    let fits = text.bytes().zip(shape.bytes()).all(|(c, s)| if s == b'd' { c.is_ascii_digit() } else { c == s });
    let field = |from: usize| text[from..from + 2].parse::<u32>().unwrap_or(99);
    fits && (1..=12).contains(&field(5))
        && (1..=31).contains(&field(8))
        && field(11) < 24
        && field(14) < 60
        && field(17) < 60
}

/// Checks every time in `value` (found at `path`): a key naming a point in time (`at`, `since`,
/// `..._at`) holds an RFC 3339 UTC string from within `window` (Unix milliseconds), no number
/// anywhere looks like Unix seconds or milliseconds of these years, and a number whose key
/// names a duration says its unit (`_secs`, `_ms`). Returns how many times it checked.
fn check_times(path: &str, value: &serde_json::Value, window: (u64, u64), units: bool) -> usize {
    use serde_json::Value;
    let mut checked = 0;
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                checked += check_times(&format!("{path}[{i}]"), item, window, units);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let at = format!("{path}.{key}");
                if matches!(key.as_str(), "at" | "since") || key.ends_with("_at") {
                    let text = item.as_str().unwrap_or_else(|| panic!("{at} is not an RFC 3339 string: {item}"));
                    assert!(is_rfc3339_utc(text), "{at}: {text:?} is not RFC 3339 in UTC");
                    let millis = meridian::timestamp::parse_rfc3339(text).expect("the server's parser reads it");
                    assert!((window.0..=window.1).contains(&millis), "{at}: {text} is not the time of this test");
                    checked += 1;
                }
                let is_duration = ["ttl", "uptime", "timeout", "interval", "hold", "delay", "rtt", "age"]
                    .iter()
                    .any(|word| key.contains(word));
                if units && is_duration && item.is_number() {
                    assert!(
                        ["_secs", "_ms"].iter().any(|unit| key.ends_with(unit)),
                        "{at}: a duration without its unit"
                    );
                }
                checked += check_times(&at, item, window, units);
            }
        }
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or_default();
            let unix_like = (1.0e9..1.0e10).contains(&n) || (1.0e12..1.0e13).contains(&n);
            assert!(!unix_like, "{path}: {n} looks like a raw Unix time");
        }
        _ => {}
    }
    checked
}

#[test]
fn every_time_the_api_gives_is_rfc3339_in_utc_and_every_duration_names_its_unit() {
    let unix_millis = || {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
        u64::try_from(since.as_millis()).expect("milliseconds fit")
    };
    let started = unix_millis() - 1_000; // whole seconds of the state file round down
    let target = HealthTarget::start();
    let check = format!(
        "check = {{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"1h\", timeout = \"2s\", rise = 1, fall = 1 }}\n",
        target.addr.port()
    );
    let regions = REGIONS.replacen("name = \"a\"\n", &format!("name = \"a\"\n{check}"), 1);
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{regions}{POOL}"), &[]);
    let api = server.api();
    // Something to show at every time there is: a health transition and the failover it makes,
    // a manual failover triggered, cleared and triggered again.
    target.set_status(503);
    ok(&api.post("/api/v1/lb/health/check", r#"{"region":"a"}"#));
    server.wait_for_snapshot(Duration::from_secs(5), "region a down", |s| !servable(s, "192.0.2.1"));
    let failover = r#"{"pool":"www.lb.test.","from_region":"b","to_region":"a"}"#;
    ok(&api.post("/api/v1/lb/failover/trigger", failover));
    ok(&api.post("/api/v1/lb/failover/clear", r#"{"pool":"www.lb.test."}"#));
    ok(&api.post("/api/v1/lb/failover/trigger", failover));
    let mut times = 0;
    for route in [
        "/healthz",
        "/api/v1/lb/status",
        "/api/v1/lb/regions",
        "/api/v1/lb/regions/a",
        "/api/v1/lb/health/history",
        "/api/v1/lb/failover/status",
        "/api/v1/lb/analytics?window=1h",
        "/api/v1/lb/explain?name=www.lb.test.&client=192.0.2.99",
    ] {
        let answer = ok(&api.get(route));
        times += check_times(route, &answer, (started, unix_millis()), true);
    }
    let probed = ok(&api.post("/api/v1/lb/health/check", r#"{"region":"a"}"#));
    times += check_times("/api/v1/lb/health/check", &probed, (started, unix_millis()), true);
    // The 4 endpoints' since, a's 2 again, the history's 2 transitions, the automatic
    // failover, the manual one in force and the 3 manual events.
    assert_eq!(times, 4 + 2 + 2 + 1 + 1 + 3, "times checked");
    let history = ok(&api.get("/api/v1/lb/health/history"));
    let at = history[0]["at"].as_str().unwrap();
    assert_eq!(at.len(), 24, "a transition is timed to the millisecond: {at}");
    let status = ok(&api.get("/api/v1/lb/failover/status"));
    let since = status["manual"][0]["since"].as_str().unwrap();
    assert_eq!(since.len(), 20, "a manual failover is kept to the second: {since}");
    // The OpenAPI document says so.
    let doc = ok(&api.get("/api/v1/openapi.json"));
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in
        [("HistoryEvent", "at"), ("EndpointInfo", "since"), ("RegionEvent", "at"), ("ManualFailoverInfo", "since")]
    {
        assert_eq!(
            schemas[schema]["properties"][field]["format"], "date-time",
            "{schema}.{field}: {}",
            schemas[schema]
        );
    }
}

#[test]
fn reload_through_the_api_changes_answers_or_is_refused_with_check_configs_message() {
    let zone = |note: &str| format!("{LB_ZONE}note TXT \"{note}\"\n");
    let mut server = server();
    let api = server.api();
    let note = |server: &TestServer| {
        let reply = client::udp(server.addr, &Q::new("note.lb.test.", RecordType::TXT));
        reply.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
    };
    server.write("lb.test.zone", &zone("first"));
    let generation = ok(&api.post("/api/v1/reload", ""))["generation"].as_u64().unwrap();
    assert_eq!(note(&server), "first");
    server.write("lb.test.zone", &format!("{}www.example.com. A 192.0.2.1\n", zone("second")));
    let refused = api.post("/api/v1/reload", "");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.error().0.contains("is out of zone"), "{}", refused.body);
    assert_eq!(note(&server), "first");
    assert_eq!(ok(&api.get("/healthz"))["generation"].as_u64(), Some(generation));
    // An API change survives a reload from the file.
    ok(&api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    server.write("lb.test.zone", &zone("third"));
    server.reload().expect("a valid reload");
    assert_eq!(note(&server), "third");
    assert_eq!(answer(&server), ["192.0.2.2"]);
}

#[test]
fn concurrent_api_writes_are_all_applied_and_saved() {
    let mut server = server();
    let api: Api = server.api();
    let writers: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let body = format!(r#"{{"name":"r{i}","endpoints":[{{"address":"10.0.0.{}"}}]}}"#, i + 1);
                api.post("/api/v1/lb/regions", &body).status
            })
        })
        .collect();
    let weights: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                api.patch("/api/v1/lb/regions/a/endpoints/192.0.2.1", &format!(r#"{{"weight":{}}}"#, i + 1)).status
            })
        })
        .collect();
    for writer in writers {
        assert_eq!(writer.join().unwrap(), 201);
    }
    for writer in weights {
        assert_eq!(writer.join().unwrap(), 200);
    }
    let count = |server: &TestServer| ok(&server.api().get("/api/v1/lb/regions")).as_array().unwrap().len();
    let weight = |server: &TestServer| ok(&server.api().get("/api/v1/lb/regions/a"))["endpoints"][0]["weight"].as_u64();
    assert_eq!(count(&server), 19);
    let last = weight(&server).unwrap();
    assert!((1..=8).contains(&last), "one of the weights sent: {last}");
    server.restart();
    assert_eq!(count(&server), 19, "every acknowledged change was saved");
    assert_eq!(weight(&server), Some(last), "and the last weight");
}

#[test]
fn a_failover_loop_and_a_change_that_would_switch_off_a_failover_are_refused() {
    let server = server();
    let api = server.api();
    ok(&api.post("/api/v1/lb/failover/trigger", r#"{"pool":"www.lb.test.","from_region":"a","to_region":"b"}"#));
    let looped =
        api.post("/api/v1/lb/failover/trigger", r#"{"pool":"www.lb.test.","from_region":"b","to_region":"a"}"#);
    assert_eq!(looped.status, 409, "{}", looped.body);
    assert_eq!(looped.error().1, "to_region");
    // Taking region a out of the pool would quietly end the failover from a.
    let strategy = r#"{"pool":"www.lb.test.","strategy":"priority","parameters":{"regions":["b","spare"]}}"#;
    let refused = api.put("/api/v1/lb/strategy", strategy);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.error().1, "parameters.regions");
    assert_eq!(answer(&server), ["198.51.100.1"], "the failover is still in force");
}

#[test]
fn without_a_configured_token_every_route_but_healthz_and_metrics_answers_401() {
    // 54 refusals from one address, none of them the client's fault: nothing may lock it out.
    let toml = "state_dir = \"state\"\n[api]\nlisten = \"127.0.0.1:0\"\n\
                token_env = \"MERIDIAN_TEST_NO_SUCH_VARIABLE\"\nlockout_exempt = []\n";
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{toml}{REGIONS}{POOL}"), &[]);
    let api = server.api();
    assert_eq!(api.send("GET", "/healthz", None, None).status, 200);
    assert_eq!(api.send("GET", "/metrics", None, None).status, 200);
    let before = ok(&api.send("GET", "/healthz", None, None))["generation"].clone();
    for &(method, path, body) in ROUTES {
        let body = Some(body).filter(|b| !b.is_empty());
        for token in [None, Some(TOKEN), Some("")] {
            let reply = api.send(method, path, body, token);
            assert_eq!(reply.status, 401, "{method} {path} with {token:?}: {}", reply.body);
            assert!(reply.error().0.contains("no API token is configured"), "{method} {path}: {}", reply.body);
        }
    }
    // Refused before the handler: no change was made, no reload run.
    assert_eq!(ok(&api.send("GET", "/healthz", None, None))["generation"], before);
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
}

/// The router's routes, as (method, path template), read from `src/api/mod.rs`: every
/// `.route("PATH", get(..).post(..))` but the two that need no token.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs")).unwrap();
    let mut routes = BTreeSet::new();
    for line in source.lines() {
        let Some(rest) = line.trim().strip_prefix(".route(\"") else { continue };
        let (path, handlers) = rest.split_once('"').expect("a quoted path");
        if path == "/healthz" || path == "/metrics" {
            continue;
        }
        let methods: Vec<&str> = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .filter(|m| handlers.contains(&format!(" {m}(")) || handlers.contains(&format!(".{m}(")))
            .collect();
        assert!(!methods.is_empty(), "no method in {line}");
        routes.extend(methods.into_iter().map(|m| (m.to_uppercase(), path.to_owned())));
    }
    routes
}

/// A path of [`ROUTES`] as the router writes it: its query left out, its segments named.
fn template(path: &str) -> String {
    path.split('?')
        .next()
        .unwrap()
        .replace("/regions/a/endpoints/192.0.2.1", "/regions/{region}/endpoints/{endpoint}")
        .replace("/regions/a", "/regions/{region}")
        .replace("/regions/spare", "/regions/{region}")
        .replace("/changes/1", "/changes/{id}")
}

#[test]
fn the_route_list_the_tests_use_is_every_authenticated_route_of_the_router() {
    let listed: BTreeSet<(String, String)> =
        ROUTES.iter().map(|&(method, path, _)| (method.to_owned(), template(path))).collect();
    let routed = router_routes();
    assert!(routed.len() >= 17, "the router was read: {routed:?}");
    assert_eq!(listed, routed, "ROUTES (left) and the router in src/api/mod.rs (right)");
}

#[test]
fn a_change_that_cannot_be_saved_is_refused_and_not_made() {
    let server = server();
    let api = server.api();
    let before = ok(&api.get("/healthz"))["generation"].clone();
    // A directory where the temporary state file would go: the write fails (even as root).
    fs::create_dir_all(server.dir().join("state").join("state.json.tmp")).unwrap();
    let refused = api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", "");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.error().0.contains("could not be saved"), "{}", refused.body);
    assert_eq!(ok(&api.get("/healthz"))["generation"], before);
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "not made");
    let metrics = api.get("/metrics").body;
    assert!(!metrics.contains("state=\"drained\"} 1"), "{metrics}");
}

#[test]
fn api_changes_do_not_hold_back_a_probe_that_is_taking_an_endpoint_down() {
    let target = HealthTarget::start();
    let check = format!(
        "check = {{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"300ms\", timeout = \"400ms\", rise = 1, fall = 1 }}\n",
        target.addr.port()
    );
    let regions = REGIONS.replacen("name = \"a\"\n", &format!("name = \"a\"\n{check}"), 1);
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{regions}{POOL}"), &[]);
    let api = server.api();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    // The target now hangs: a probe needs its whole 400 ms timeout to fail. Changes keep
    // coming every 100 ms (the sleep sets their pace); each must leave the probes in flight
    // alone.
    target.set_hang(true);
    let busy = AtomicBool::new(true);
    std::thread::scope(|scope| {
        // Stops the changes however the wait ends, so the scope can join their thread.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&busy);
        scope.spawn(|| {
            let mut weight = 1;
            while busy.load(Ordering::Relaxed) {
                weight = weight % 9 + 1;
                ok(&api.patch("/api/v1/lb/regions/b/endpoints/198.51.100.1", &format!(r#"{{"weight":{weight}}}"#)));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        server.wait_for_snapshot(Duration::from_secs(5), "region a down while the API was busy", |s| {
            !servable(s, "192.0.2.1") && !servable(s, "192.0.2.2")
        });
    });
    assert_eq!(answer(&server), ["198.51.100.1"], "region b answers for a");
}

/// Region names the rule refuses: NUL, line breaks, a bidirectional override, a path
/// separator, dot segments, and names too long.
fn bad_region_names() -> Vec<String> {
    let mut names: Vec<String> =
        ["c\0d", "c\nd", "c\r\nd", "ab\u{202e}cd", "c/d", "/", ".", "..", "c d", "caf\u{e9}"].map(String::from).into();
    names.push("c".repeat(64));
    names.push("c".repeat(5_000));
    names
}

/// The rule's words, as every refusal of a bad name states them.
const RULE: &str = "1 to 63 characters, each an ASCII letter, digit, '-', '_' or '.'";

#[test]
fn a_region_named_outside_the_rule_is_refused_with_422_and_the_rule_and_not_saved() {
    let server = server();
    let api = server.api();
    let before = ok(&api.get("/api/v1/lb/status"))["generation"].clone();
    for name in bad_region_names() {
        let body = serde_json::json!({ "name": name, "endpoints": [{ "address": "192.0.2.9" }] }).to_string();
        let reply = api.post("/api/v1/lb/regions", &body);
        let shown = &reply.body[..reply.body.len().min(300)];
        assert_eq!(reply.status, 422, "{name:?}: {shown}");
        let (error, field) = reply.error();
        assert_eq!(field, "name", "{name:?}: {shown}");
        assert!(error.contains(RULE), "{name:?}: the rule is in the message: {error}");
        assert!(error.len() < 300, "{name:?}: the name is quoted cut short: {error}");
        assert!(!error.contains(['\0', '\n', '\r', '\u{202e}']), "{name:?}: quoted escaped: {error:?}");
    }
    assert_eq!(ok(&api.get("/api/v1/lb/status"))["generation"], before, "nothing changed");
    assert_eq!(ok(&api.get("/api/v1/lb/regions")).as_array().unwrap().len(), 3);
    let state = server.dir().join("state").join("state.json");
    let saved = fs::read_to_string(&state).unwrap_or_default();
    assert!(!saved.contains("192.0.2.9"), "nothing saved: {saved}");
    let metrics = api.get("/metrics").body;
    assert!(!metrics.contains(['\0', '\u{202e}']), "{metrics}");
}

#[test]
fn saved_regions_named_outside_the_rule_are_set_aside_at_start_and_by_check_config() {
    let mut server = server();
    let state_dir = server.dir().join("state");
    fs::create_dir_all(&state_dir).unwrap();
    let mut added: Vec<serde_json::Value> = bad_region_names()
        .into_iter()
        .map(|name| serde_json::json!({ "name": name, "endpoints": [{ "address": "192.0.2.9" }] }))
        .collect();
    // One name of 10 MB, as a state file edited by hand may hold.
    added.push(serde_json::json!({ "name": "x".repeat(10 << 20), "endpoints": [{ "address": "192.0.2.9" }] }));
    let saved = serde_json::json!({
        "format": 1,
        "changes": {
            "regions_added": added,
            "weights": [{ "region": "a", "endpoint": "192.0.2.1", "weight": 7 }],
        },
    });
    fs::write(state_dir.join("state.json"), saved.to_string()).unwrap();
    let config = server.dir().join("meridian.toml");
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check-config", config.to_str().unwrap()])
        .current_dir(server.dir())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "serve starts on it, so check-config passes it: {checked:?}");
    let set_aside: Vec<&str> = out.lines().filter(|l| l.contains("would set aside")).collect();
    assert_eq!(set_aside.len(), 13, "each bad region is listed: {}", &out[..out.len().min(2_000)]);
    assert!(set_aside.iter().all(|l| l.contains("regions_added") && l.len() < 1_000), "{set_aside:?}");
    assert!(out.contains(r"c\u0000d") && out.contains(r"ab\u{202e}cd"), "named, escaped: {out}");
    assert!(!out.contains(['\0', '\u{202e}']), "{out:?}");

    server.restart();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "the file's configuration is served");
    let regions = ok(&server.api().get("/api/v1/lb/regions"));
    let names: Vec<&str> = regions.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b", "spare"]);
    assert_eq!(regions[0]["endpoints"][0]["weight"], 7, "the change that fits stays in force");
    let saved = fs::read_to_string(state_dir.join("state.json")).unwrap();
    assert!(!saved.contains("192.0.2.9") && saved.len() < 10_000, "rewritten without them: {} bytes", saved.len());
    let aside = fs::read_dir(&state_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("state.json.rejected-"))
        .count();
    assert_eq!(aside, 1, "the old state is kept aside for the operator");
}

#[test]
fn check_config_refuses_a_file_region_named_outside_the_rule_naming_the_field() {
    let dir = crate::support::TempDir::new("names");
    dir.write("lb.test.zone", LB_ZONE);
    let config = dir.write(
        "meridian.toml",
        &format!(
            "[[zone]]\nfile = \"lb.test.zone\"\n{}{POOL}",
            REGIONS.replace("name = \"b\"", "name = \"b\\u202Eb\"")
        ),
    );
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check-config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "{checked:?}");
    assert!(err.contains("region[1].name") && err.contains(RULE) && err.contains(r"b\u{202e}b"), "{err}");
    assert!(!err.contains('\u{202e}'), "{err:?}");
}
