//! What an operator trips over (issue 16): `explain` that asks the running server, NODATA by
//! design counted as such, token rotation on reload, the loopback lockout exemption, weight 0
//! in `ctl regions`, and a strategy change that conflicts with the file's override. The real
//! binary against a real server.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::http::TOKEN;
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TestServer, servable};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");
const LIMIT: Duration = Duration::from_secs(10);

/// Region `us` (192.0.2.1, checked on `target`) first, then `eu` (198.51.100.1), IPv4 only.
fn server(target: &HealthTarget, more: &str) -> TestServer {
    let regions = format!(
        "[[region]]\nname = \"us\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {{ type = \"http\", \
         address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"100ms\", timeout = \"500ms\", \
         rise = 1, fall = 1 }} }} ]\n\
         [[region]]\nname = \"eu\"\nendpoints = [ {{ address = \"198.51.100.1\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"us\", \"eu\"]\nttl = 30\n\
         failover_ttl = 5\nfailover_ttl_hold = \"1h\"\n{more}",
        target.addr.port()
    );
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{regions}"), &[])
}

/// `meridian ARGS` with nothing from this process's environment that names an API or token.
fn meridian(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args);
    for name in ["MERIDIAN_API", "MERIDIAN_API_TOKEN", "MERIDIAN_API_TOKEN_FILE"] {
        command.env_remove(name);
    }
    command.output().expect("run meridian")
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn url(server: &TestServer) -> String {
    format!("http://{}", server.api().addr)
}

/// `meridian explain` of the pool asked of `server`'s API, as JSON.
fn explain_live(server: &TestServer, rtype: &str) -> Value {
    let url = url(server);
    let args = ["explain", "--api", &url, "--token", TOKEN, "--client", "127.0.0.1", "--json", "www.lb.test.", rtype];
    serde_json::from_str(&ok(&meridian(&args))).expect("JSON")
}

#[test]
fn explain_asks_the_running_server_and_shows_the_ttl_it_sends() {
    let target = HealthTarget::start();
    let server = server(&target, "");
    let live = explain_live(&server, "A");
    assert_eq!((live["source"].as_str(), live["steering"]["region"].as_str()), (Some("live"), Some("us")), "{live}");
    assert_eq!(live["steering"]["ttl_secs"], 30, "{live}");

    target.set_status(503);
    server.wait_for_snapshot(LIMIT, "us down", |s| !servable(s, "192.0.2.1"));
    let sent = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A));
    assert_eq!(sent.answers.len(), 1);
    let live = explain_live(&server, "A");
    assert_eq!(live["steering"]["region"], "eu", "the live decision: {live}");
    assert_eq!(live["steering"]["ttl_secs"], u64::from(sent.answers[0].ttl), "the TTL actually sent: {live}");
    assert_eq!(
        (live["steering"]["ttl_secs"].as_u64(), live["steering"]["failover_ttl"].as_bool()),
        (Some(5), Some(true))
    );
    let answers: Vec<String> = sent.answers.iter().map(ToString::to_string).collect();
    assert_eq!(live["answers"], serde_json::json!(answers));
    let url = url(&server);
    let text = ok(&meridian(&["explain", "--api", &url, "--token", TOKEN, "--client", "127.0.0.1", "www.lb.test."]));
    assert!(text.starts_with("source    live (snapshot generation "), "{text}");
    assert!(text.contains("ttl 5 s, the failover TTL while health is unsettled)"), "{text}");

    // With eu drained too, no region can serve: the pool fails open, and explain says so
    // rather than name a region.
    assert_eq!(server.api().post("/api/v1/lb/regions/eu/endpoints/198.51.100.1/drain", "").status, 200);
    let live = explain_live(&server, "A");
    let reason = live["steering"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("no region of the pool can serve: failing open"), "{reason}");
    assert_eq!(server.api().post("/api/v1/lb/regions/eu/endpoints/198.51.100.1/undrain", "").status, 200);
    // From the file alone, the answer is the one a fresh start gives, and it says so.
    let config = server.dir().join("meridian.toml");
    let offline = meridian(&["explain", "--config", config.to_str().unwrap(), "--client", "127.0.0.1", "www.lb.test."]);
    let (text, note) = (ok(&offline), String::from_utf8_lossy(&offline.stderr).into_owned());
    assert!(
        note.contains("this is an offline answer from") && note.contains("every endpoint in its initial"),
        "{note}"
    );
    assert!(text.contains("decision  us is first in priority order"), "{text}");
}

#[test]
fn explain_with_an_api_that_does_not_answer_fails_rather_than_guess() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let api = format!("http://{closed}");
    let output = meridian(&["explain", "--api", &api, "--token", "t", "--timeout", "5", "--client", "192.0.2.9", "x."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot connect to the API"), "{error}");
    assert!(output.stdout.is_empty());
}

#[test]
fn aaaa_to_an_ipv4_only_pool_is_nodata_by_design_not_an_outage() {
    let target = HealthTarget::start();
    let server = server(&target, "");
    let reply = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::AAAA));
    assert_eq!((reply.metadata.response_code, reply.answers.len()), (ResponseCode::NoError, 0), "NODATA");
    let metrics = server.api().get("/metrics").body;
    let sample = |name: &str| {
        let line = format!("{name}{{pool=\"www.lb.test.\"}} ");
        metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map(str::to_owned)
    };
    assert_eq!(sample("meridian_pool_all_down_answers_total").as_deref(), Some("0"), "{metrics}");
    assert_eq!(sample("meridian_pool_no_family_answers_total").as_deref(), Some("1"), "{metrics}");
    let live = explain_live(&server, "AAAA");
    let reason = live["steering"]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "us is first in priority order; the pool has no IPv6 endpoint in any region: NODATA by design, not an outage"
    );
    assert_eq!(
        (live["steering"]["no_endpoint_of_family"].as_bool(), live["steering"]["scope"].as_u64()),
        (Some(true), Some(0))
    );
    let analytics = server.api().get("/api/v1/lb/analytics?pool=www.lb.test.&window=1m").json();
    assert!(!analytics.to_string().contains("(none)"), "no answer counted as no region's: {analytics}");
}

#[test]
fn a_reload_puts_a_new_token_file_in_force() {
    let dir_toml = "[api]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\n";
    let pool = "[[region]]\nname = \"us\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
                [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"us\"]\n";
    let mut server = TestServer::with_config(
        "",
        &[("lb.test.zone", LB_ZONE)],
        &format!("{dir_toml}{pool}"),
        &[("token", b"old-token-0123456789\n")],
    );
    let api = server.api();
    let status = |token: &str| api.send("GET", "/api/v1/lb/status", None, Some(token)).status;
    assert_eq!((status("old-token-0123456789"), status("new-token-0123456789")), (200, 401));
    server.write("token", "new-token-0123456789\n");
    server.reload().expect("reload");
    assert_eq!((status("old-token-0123456789"), status("new-token-0123456789")), (401, 200), "rotated");
    // A token file that cannot be used leaves the token in force (and the rest of the reload).
    server.write("token", "\n");
    server.reload().expect("the reload stands");
    assert_eq!(status("new-token-0123456789"), 200, "kept");
}

#[test]
fn loopback_is_never_locked_out_unless_the_exemption_is_removed() {
    for (exempt, locked) in [("", false), ("lockout_exempt = [\"192.0.2.0/24\"]\n", true)] {
        let toml = format!("[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\nmax_failed_auth = 3\n{exempt}");
        let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[]);
        let api = server.api();
        for n in 0..5 {
            let status = api.send("GET", "/api/v1/lb/status", None, Some(&format!("wrong-{n}"))).status;
            assert!(status == 401 || (locked && n >= 3 && status == 429), "{exempt:?} failure {n}: {status}");
        }
        let right = api.send("GET", "/api/v1/lb/status", None, Some(TOKEN)).status;
        assert_eq!(right, if locked { 429 } else { 200 }, "{exempt:?}");
    }
}

#[test]
fn ctl_regions_says_a_weight_0_endpoint_is_not_servable() {
    let target = HealthTarget::start();
    let server = server(&target, "");
    let url = url(&server);
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", "--api", &url, "--token", TOKEN];
        all.extend(args);
        meridian(&all)
    };
    ok(&ctl(&["weight", "eu/198.51.100.1", "0"]));
    let table = ok(&ctl(&["regions", "eu"]));
    let row = table.lines().find(|l| l.contains("198.51.100.1")).expect(&table);
    assert!(row.contains("no (weight 0)"), "{table}");
    let json: Value = serde_json::from_str(&ok(&ctl(&["regions", "eu", "--json"]))).unwrap();
    assert_eq!(json["endpoints"][0]["servable"], false, "{json}");
}

#[test]
fn a_strategy_change_that_conflicts_with_the_files_override_says_so() {
    let target = HealthTarget::start();
    let server = server(&target, "overrides = [ { subnet = \"10.0.0.0/8\", region = \"us\" } ]\n");
    let url = url(&server);
    let output = meridian(&[
        "ctl",
        "--api",
        &url,
        "--token",
        TOKEN,
        "strategy",
        "--pool",
        "www.lb.test.",
        "priority",
        "--regions",
        "eu",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("conflicts with the pool's overrides[0].region in the configuration file")
            && error.contains("(field: parameters.regions)")
            && !error.contains("parameters.overrides"),
        "{error}"
    );
}

#[test]
fn a_token_file_is_rotated_by_a_reload_even_when_the_tls_key_cannot_be_read_again() {
    use crate::api_security::request;
    use crate::support::tls::SelfSigned;
    let cert = SelfSigned::new();
    let toml =
        "[api]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n";
    let files: &[(&str, &[u8])] = &[
        ("token", b"old-token-0123456789\n"),
        ("cert.pem", cert.cert_pem.as_bytes()),
        ("key.pem", cert.key_pem.as_bytes()),
    ];
    let mut server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], toml, files);
    let addr = server.api().addr;
    let status = |token: &str| cert.https(addr, &request("GET", "/api/v1/lb/status", Some(token))).0.status;
    assert_eq!((status("old-token-0123456789"), status("new-token-0123456789")), (200, 401));
    // The key is now unusable (as one only root can read is to the serving user), the token
    // file rotated: the token is renewed, the certificate and key in force are kept.
    server.write("key.pem", "not a key\n");
    server.write("token", "new-token-0123456789\n");
    server.reload().expect("the reload stands");
    assert_eq!((status("old-token-0123456789"), status("new-token-0123456789")), (401, 200), "over the kept TLS");
}
