//! A pool none of whose regions can serve: the real binary logs it once at error (and once
//! when it comes back), `/metrics` shows `meridian_pool_up` 0 and no servable region, and
//! `/healthz` says `degraded` with the pool, as 200 or, by setting, 503. Real HTTP health
//! targets, real probes, a real server.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::http::{Api, TOKEN};
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TempDir, TestServer, servable};

const LIMIT: Duration = Duration::from_secs(15);

/// A check on `target` that reacts within a few hundred milliseconds.
fn check(target: &HealthTarget) -> String {
    format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"100ms\", \
         timeout = \"500ms\", rise = 2, fall = 2 }}",
        target.addr.port()
    )
}

/// Regions `one` and `two` (IPv4 endpoints only), each checked on its own target, and the
/// pool `www.lb.test.` over both.
fn regions_and_pool(a: &HealthTarget, b: &HealthTarget) -> String {
    format!(
        "[[region]]\nname = \"one\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[region]]\nname = \"two\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"one\", \"two\"]\n",
        check(a),
        check(b)
    )
}

/// `meridian serve` as a child process (`support::serve`), with its DNS and API addresses.
struct Served {
    served: crate::support::serve::Served,
    dns: SocketAddr,
    api: Api,
}

impl Served {
    fn start(dir: &TempDir, config: &std::path::Path) -> Self {
        let args = ["serve", "--config", config.to_str().unwrap()];
        let served =
            crate::support::serve::serve_command(Command::new(env!("CARGO_BIN_EXE_meridian")), &args, dir.path());
        let (dns, api) = (served.addr, Api { addr: served.api() });
        Self { served, dns, api }
    }

    /// The first log line holding `parts`, waited for with a deadline.
    fn wait_for_line(&self, parts: &str) -> String {
        self.served.wait_for_log(parts, 1, LIMIT).remove(0)
    }

    /// The log lines holding `text`.
    fn lines(&self, text: &str) -> Vec<String> {
        self.served.lines(text)
    }

    /// The value of a `/metrics` sample, written as it appears on the page (`name{labels}`).
    fn metric(&self, series: &str) -> Option<f64> {
        let page = self.api.send("GET", "/metrics", None, None).body;
        page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Polls `/metrics` until `series` has `value`.
    fn wait_for_metric(&self, series: &str, value: f64) {
        let deadline = Instant::now() + LIMIT;
        while self.metric(series) != Some(value) {
            assert!(Instant::now() < deadline, "{series} not {value} within {LIMIT:?}: {:?}", self.metric(series));
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls until `read` gives at least `floor`.
    fn wait_for_metric_above(&self, read: &dyn Fn(&Served) -> Option<f64>, floor: f64) {
        let deadline = Instant::now() + LIMIT;
        while read(self).is_none_or(|v| v < floor) {
            assert!(Instant::now() < deadline, "not {floor} within {LIMIT:?}: {:?}", read(self));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const UP: &str = "meridian_pool_up{pool=\"www.lb.test.\"}";
const SERVABLE: &str = "meridian_pool_servable_regions{pool=\"www.lb.test.\"}";
const DOWN_LINE: &str = "pool down: no region it lists can serve";
const BACK_LINE: &str = "pool can serve again";

#[test]
fn a_pool_with_every_region_down_is_logged_once_exported_and_shown_by_healthz_until_it_recovers() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let dir = TempDir::new("pool-health");
    dir.write("lb.test.zone", LB_ZONE);
    let config = dir.write(
        "meridian.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n{}",
            regions_and_pool(&a, &b)
        ),
    );
    let served = Served::start(&dir, &config);
    // Every endpoint up, and none of IPv6: AAAA gets NODATA by design, and the pool is up.
    let aaaa = client::udp(served.dns, &Q::new("www.lb.test.", RecordType::AAAA));
    assert_eq!((aaaa.metadata.response_code, aaaa.answers.len()), (ResponseCode::NoError, 0));
    served.wait_for_metric(UP, 1.0);
    assert_eq!(served.metric(SERVABLE), Some(2.0));
    assert_eq!(served.metric("meridian_pool_regions{pool=\"www.lb.test.\"}"), Some(2.0));
    let healthz = served.api.send("GET", "/healthz", None, None);
    assert_eq!((healthz.status, healthz.json()["status"].as_str()), (200, Some("ok")), "{}", healthz.body);
    assert_eq!(healthz.json()["pools_down"], serde_json::json!([]));

    a.set_status(503);
    served.wait_for_metric(SERVABLE, 1.0);
    assert_eq!(served.metric(UP), Some(1.0), "one region left: up");
    assert!(served.lines(DOWN_LINE).is_empty(), "one region down is a failover, not a pool down");
    b.set_status(503);
    served.wait_for_metric(UP, 0.0);
    assert_eq!(served.metric(SERVABLE), Some(0.0));
    let healthz = served.api.send("GET", "/healthz", None, None);
    assert_eq!(healthz.status, 200, "degraded is still 200 by default");
    assert_eq!(healthz.json()["status"], "degraded", "{}", healthz.body);
    assert_eq!(healthz.json()["pools_down"], serde_json::json!(["www.lb.test."]));
    let line = served.wait_for_line(DOWN_LINE);
    assert!(line.contains("ERROR") && line.contains("pool=www.lb.test."), "{line}");
    assert!(line.contains("fail open"), "says what the answers are now: {line}");
    // Queries, more probe rounds, and a change published while it stays down (a new
    // snapshot, still with no region able to serve) log nothing more.
    for _ in 0..5 {
        client::udp(served.dns, &Q::new("www.lb.test.", RecordType::A));
    }
    let weight = served.api.patch("/api/v1/lb/regions/one/endpoints/192.0.2.1", r#"{"weight": 5}"#);
    assert_eq!(weight.status, 200, "{}", weight.body);
    assert_eq!(served.metric(UP), Some(0.0), "still down after the change");
    let probes = |s: &Served| s.metric("meridian_probes_total{region=\"two\",endpoint=\"192.0.2.2\",result=\"fail\"}");
    let seen = probes(&served).expect("probes counted");
    served.wait_for_metric_above(&probes, seen + 4.0); // a few more rounds, each published
    assert_eq!(served.lines(DOWN_LINE).len(), 1, "once per transition: {:#?}", served.lines(DOWN_LINE));

    b.set_status(200);
    served.wait_for_metric(UP, 1.0);
    assert_eq!(served.metric(SERVABLE), Some(1.0));
    let line = served.wait_for_line(BACK_LINE);
    assert!(line.contains("INFO") && line.contains("pool=www.lb.test."), "{line}");
    let healthz = served.api.send("GET", "/healthz", None, None).json();
    assert_eq!((healthz["status"].as_str(), &healthz["pools_down"]), (Some("ok"), &serde_json::json!([])));
    assert_eq!(served.lines(DOWN_LINE).len(), 1);
    assert_eq!(served.lines(BACK_LINE).len(), 1);
}

#[test]
fn healthz_answers_503_while_a_pool_is_down_when_configured_to() {
    let (a, b) = (HealthTarget::start(), HealthTarget::start());
    let toml = format!("{API_TOML}healthz_degraded_status = 503\n{}", regions_and_pool(&a, &b));
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[]);
    let api = server.api();
    assert_eq!(api.send("GET", "/healthz", None, None).status, 200, "every pool up");
    a.set_status(500);
    b.set_status(500);
    server.wait_for_snapshot(LIMIT, "both regions down", |s| !servable(s, "192.0.2.1") && !servable(s, "192.0.2.2"));
    let healthz = api.send("GET", "/healthz", None, None);
    assert_eq!(healthz.status, 503, "{}", healthz.body);
    assert_eq!(healthz.json()["pools_down"], serde_json::json!(["www.lb.test."]));
    a.set_status(200);
    server.wait_for_snapshot(LIMIT, "region one back", |s| servable(s, "192.0.2.1"));
    assert_eq!(api.send("GET", "/healthz", None, None).status, 200);
}
