//! The changes log (issue 17, point 3): the API changes in force, each with its id, time, the
//! name of the token that made it, a summary and the file settings it overrides; reverted one
//! by one through the writer (and the shared log of a cluster); shown by the real
//! `meridian ctl`; and a reload that finds the file changed under a change says so.

use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::steering::LB_ZONE;
use crate::support::client;
use crate::support::http::{Api, Reply, TOKEN};
use crate::support::serve::serve_command;
use crate::support::{API_TOML, TempDir, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

const REGIONS: &str = "[[region]]\nname = \"a\"\n\
                       endpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\", weight = 3 } ]\n\
                       [[region]]\nname = \"b\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n";
const POOL: &str = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\", \"b\"]\n";

const WEIGHT_1: &str = "/api/v1/lb/regions/a/endpoints/192.0.2.1";
const DRAIN_2: &str = "/api/v1/lb/regions/a/endpoints/192.0.2.2/drain";

fn server() -> TestServer {
    TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{API_TOML}{REGIONS}{POOL}"), &[])
}

/// The A records of the pool, sorted.
fn answer(server: &TestServer) -> Vec<String> {
    client::a_records(server.addr, "www.lb.test.")
}

/// The JSON of a 2xx answer.
fn ok(reply: &Reply) -> Value {
    assert!((200..300).contains(&reply.status), "{} {}", reply.status, reply.body);
    reply.json()
}

fn changes(api: &Api) -> Value {
    ok(&api.get("/api/v1/changes"))
}

fn ids(api: &Api) -> Vec<u64> {
    changes(api).as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect()
}

/// `meridian ctl --api URL --token TOKEN ARGS`.
fn ctl(api: &Api, args: &[&str]) -> Output {
    let url = format!("http://{}", api.addr);
    let mut command = Command::new(BIN);
    command.args(["ctl", "--api", &url, "--token", TOKEN, "--timeout", "20"]).args(args);
    command.env_remove("MERIDIAN_API").env_remove("MERIDIAN_API_TOKEN").env_remove("MERIDIAN_API_TOKEN_FILE");
    command.output().expect("run meridian ctl")
}

/// Stdout of a command that must succeed.
fn ctl_ok(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "exit {:?}\nstdout: {stdout}\nstderr: {stderr}", output.status);
    stdout.into_owned()
}

/// Stderr of a command that must fail with exit code 1.
fn ctl_failed(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn changes_in_force_are_listed_with_id_time_token_summary_and_the_file_settings_they_override() {
    let server = server();
    let api = server.api();
    let before = unix_now();
    ok(&api.patch(WEIGHT_1, r#"{"weight": 0}"#));
    ok(&api.post(DRAIN_2, ""));
    ok(&api.put("/api/v1/lb/strategy", r#"{"pool": "www.lb.test.", "strategy": "weighted"}"#));
    ok(&api.post("/api/v1/lb/regions", r#"{"name": "c", "endpoints": [{"address": "192.0.2.77"}]}"#));
    let listed = changes(&api);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4, "{listed:?}");
    for (change, id) in listed.iter().zip(1..) {
        assert_eq!(change["id"], id, "{change}");
        assert_eq!(change["token"], "default", "the single token's name: {change}");
        let at = meridian::timestamp::parse_rfc3339(change["at"].as_str().unwrap()).expect("RFC 3339") / 1000;
        assert!((before..=unix_now()).contains(&at), "{change}");
    }
    let summary_and_overrides = |i: usize| (listed[i]["summary"].clone(), listed[i]["overrides"].clone());
    assert_eq!(
        summary_and_overrides(0),
        (
            json!("weight of a/192.0.2.1 set to 0"),
            json!([{"setting": "region a endpoint 192.0.2.1 weight", "file": 1, "change": 0}])
        )
    );
    assert_eq!(
        summary_and_overrides(1),
        (
            json!("a/192.0.2.2 drained"),
            json!([{"setting": "region a endpoint 192.0.2.2 state", "file": "auto", "change": "drain"}])
        )
    );
    assert_eq!(
        summary_and_overrides(2),
        (
            json!("strategy of www.lb.test. set to weighted"),
            json!([{"setting": "pool www.lb.test. policy", "file": "priority", "change": "weighted"}])
        )
    );
    let (summary, overrides) = summary_and_overrides(3);
    assert_eq!(summary, "region c added (1 endpoint)");
    assert_eq!((&overrides[0]["setting"], &overrides[0]["file"]), (&json!("region c"), &Value::Null));
    assert_eq!(overrides[0]["change"]["endpoints"][0]["address"], "192.0.2.77");

    // Setting the weight again is a new change, which the weight's setting now belongs to.
    ok(&api.patch(WEIGHT_1, r#"{"weight": 2}"#));
    assert_eq!(ids(&api), [2, 3, 4, 5]);
    assert_eq!(changes(&api)[3]["summary"], "weight of a/192.0.2.1 set to 2");
}

#[test]
fn ctl_changes_lists_them_and_shows_each_as_a_diff_against_the_file() {
    let server = server();
    let api = server.api();
    assert_eq!(
        ctl_ok(&ctl(&api, &["changes"])),
        "no API changes in force: the configuration file decides every setting\n"
    );
    ctl_ok(&ctl(&api, &["weight", "a/192.0.2.2", "0"]));
    ctl_ok(&ctl(&api, &["drain", "a/192.0.2.1"]));
    let table = ctl_ok(&ctl(&api, &["changes"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("ID  TIME") && lines[0].ends_with("TOKEN    SUMMARY"), "{table}");
    assert!(
        lines[1].starts_with(" 1  20") && lines[1].ends_with(" UTC  default  weight of a/192.0.2.2 set to 0"),
        "{table}"
    );
    assert!(lines[2].starts_with(" 2  20") && lines[2].ends_with(" UTC  default  a/192.0.2.1 drained"), "{table}");

    let diff = ctl_ok(&ctl(&api, &["changes", "--diff"]));
    let lines: Vec<&str> = diff.lines().collect();
    assert_eq!(lines[..2], ["--- the configuration file", "+++ with the API changes in force"], "{diff}");
    assert!(
        lines[2].starts_with("@@ change 1 at 20")
            && lines[2].ends_with(" UTC by default: weight of a/192.0.2.2 set to 0"),
        "{diff}"
    );
    assert_eq!(
        lines[3..5],
        ["-region a endpoint 192.0.2.2 weight = 3", "+region a endpoint 192.0.2.2 weight = 0"],
        "{diff}"
    );
    assert!(lines[5].starts_with("@@ change 2 at ") && lines[5].ends_with(": a/192.0.2.1 drained"), "{diff}");
    assert_eq!(
        lines[6..],
        ["-region a endpoint 192.0.2.1 state = \"auto\"", "+region a endpoint 192.0.2.1 state = \"drain\""],
        "{diff}"
    );

    let json: Value = serde_json::from_str(&ctl_ok(&ctl(&api, &["--json", "changes"]))).unwrap();
    assert_eq!(json, changes(&api), "--json is the API's answer");
}

#[test]
fn reverting_a_change_gives_its_settings_back_to_the_file_in_the_answers_for_good() {
    let mut server = server();
    let api = server.api();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
    ctl_ok(&ctl(&api, &["weight", "a/192.0.2.1", "0"]));
    ctl_ok(&ctl(&api, &["drain", "a/192.0.2.2"]));
    assert_eq!(answer(&server), ["198.51.100.1"], "region a cannot serve: priority goes on to b");
    let printed = ctl_ok(&ctl(&api, &["revert", "1"]));
    assert!(
        printed.starts_with("change 1 reverted: its settings follow the configuration file (generation "),
        "{printed}"
    );
    assert_eq!(answer(&server), ["192.0.2.1"], "192.0.2.1 has the file's weight again; 192.0.2.2 stays drained");
    assert_eq!(ids(&api), [2]);

    server.restart();
    let api = server.api();
    assert_eq!(answer(&server), ["192.0.2.1"], "the revert was saved");
    assert_eq!(ids(&api), [2]);
    ok(&api.patch(WEIGHT_1, r#"{"weight": 4}"#));
    assert_eq!(ids(&api), [2, 3], "an id is never given twice, not even after a revert and a restart");
    ok(&api.delete("/api/v1/changes/2"));
    ok(&api.delete("/api/v1/changes/3"));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "the file's settings, all of them");
    assert_eq!(changes(&api), json!([]));
}

#[test]
fn a_revert_that_would_leave_the_configuration_invalid_is_refused_and_changes_nothing() {
    let server = server();
    let api = server.api();
    ok(&api.post("/api/v1/lb/regions", r#"{"name": "c", "endpoints": [{"address": "192.0.2.77"}]}"#));
    let strategy = r#"{"pool": "www.lb.test.", "strategy": "priority", "parameters": {"regions": ["c", "a"]}}"#;
    ok(&api.put("/api/v1/lb/strategy", strategy));
    assert_eq!(answer(&server), ["192.0.2.77"]);
    let generation = ok(&api.get("/api/v1/lb/status"))["generation"].clone();

    let refused = api.delete("/api/v1/changes/1");
    assert_eq!(refused.status, 409, "{}", refused.body);
    let (error, field) = refused.error();
    assert_eq!(field, "id");
    assert!(
        error.starts_with("reverting change 1 (region c added (1 endpoint)) would make the configuration invalid: "),
        "{error}"
    );
    assert!(error.contains(r#"no region "c""#) || error.contains(r#""c""#), "names what breaks: {error}");
    assert!(
        error.ends_with(
            "revert first what depends on it: change 2 (strategy of www.lb.test. set to priority (regions c, a))"
        ),
        "{error}"
    );
    assert_eq!(ok(&api.get("/api/v1/lb/status"))["generation"], generation, "nothing published");
    assert_eq!(answer(&server), ["192.0.2.77"]);
    assert_eq!(ids(&api), [1, 2]);
    let stderr = ctl_failed(&ctl(&api, &["revert", "1"]));
    assert!(stderr.starts_with("error: 409 Conflict: reverting change 1 (region c added (1 endpoint))"), "{stderr}");

    // In the order it names, both go.
    ok(&api.delete("/api/v1/changes/2"));
    ok(&api.delete("/api/v1/changes/1"));
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"]);
}

#[test]
fn an_unknown_change_id_is_404_and_one_that_is_no_number_400() {
    let server = server();
    let api = server.api();
    ok(&api.patch(WEIGHT_1, r#"{"weight": 0}"#));
    let unknown = api.delete("/api/v1/changes/99");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.error(), ("no change 99 is in force (GET /api/v1/changes lists them)".into(), "id".into()));
    for bad in ["x", "0", "-1", "1.5"] {
        let reply = api.delete(&format!("/api/v1/changes/{bad}"));
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
        assert_eq!(reply.error().1, "id", "{bad}");
    }
    assert_eq!(ids(&api), [1], "nothing was reverted");
    let stderr = ctl_failed(&ctl(&api, &["revert", "99"]));
    assert_eq!(stderr, "error: 404 Not Found: no change 99 is in force (GET /api/v1/changes lists them) (field: id)\n");
    for (method, path) in [("GET", "/api/v1/changes"), ("DELETE", "/api/v1/changes/1")] {
        assert_eq!(api.send(method, path, None, None).status, 401, "{method} {path} needs the token");
    }
}

#[test]
fn each_change_records_the_name_of_the_token_that_made_it() {
    let toml = format!(
        "state_dir = \"state\"\n[api]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"default-token\"\n\
         [[api.token]]\nname = \"ops\"\nfile = \"ops-token\"\n[[api.token]]\nname = \"ci\"\nfile = \"ci-token\"\n\
         {REGIONS}{POOL}"
    );
    let files: [(&str, &[u8]); 3] = [
        ("default-token", TOKEN.as_bytes()),
        ("ops-token", b"ops-secret-0123456789\n"),
        ("ci-token", b"ci-secret-0123456789"),
    ];
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &files);
    let api = server.api();
    let with = |token: &str, method: &str, path: &str, body: &str| api.send(method, path, Some(body), Some(token));
    ok(&with("ops-secret-0123456789", "PATCH", WEIGHT_1, r#"{"weight": 0}"#));
    ok(&with("ci-secret-0123456789", "POST", DRAIN_2, ""));
    ok(&with(TOKEN, "PUT", "/api/v1/lb/strategy", r#"{"pool": "www.lb.test.", "strategy": "weighted"}"#));
    assert_eq!(with("ops-secret", "POST", DRAIN_2, "").status, 401, "a token is whole or nothing");
    let reverted_by = with("ci-secret-0123456789", "DELETE", "/api/v1/changes/3", "");
    ok(&reverted_by);
    let tokens: Vec<(u64, String)> = changes(&api)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c["token"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(tokens, [(1, "ops".to_owned()), (2, "ci".to_owned())]);
}

#[test]
fn a_state_file_from_before_change_ids_loads_and_its_changes_get_ids() {
    let mut server = server();
    let state = server.dir().join("state").join("state.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    // As a build from before change ids wrote it.
    let saved = json!({
        "format": 1,
        "changes": {
            "regions_added": [{ "name": "c", "endpoints": [{ "address": "192.0.2.77" }] }],
            "weights": [{ "region": "a", "endpoint": "192.0.2.1", "weight": 0 }],
            "endpoint_states": [{ "region": "a", "endpoint": "192.0.2.2", "state": "drain" }],
        },
        "failover_history": []
    });
    std::fs::write(&state, saved.to_string()).unwrap();
    server.restart();
    let api = server.api();
    assert_eq!(answer(&server), ["198.51.100.1"], "the saved changes are in force");
    let listed = changes(&api);
    let seen: Vec<(u64, &str, &Value, &Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_u64().unwrap(), c["summary"].as_str().unwrap(), &c["at"], &c["token"]))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "region c added (1 endpoint)", &Value::Null, &Value::Null),
            (2, "weight of a/192.0.2.1 set to 0", &Value::Null, &Value::Null),
            (3, "a/192.0.2.2 drained", &Value::Null, &Value::Null),
        ],
        "numbered in order; when and by whom is not known"
    );
    ok(&api.delete("/api/v1/changes/3"));
    assert_eq!(answer(&server), ["192.0.2.2"]);
    ok(&api.patch(WEIGHT_1, r#"{"weight": 1}"#));
    assert_eq!(ids(&api), [1, 4]);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(written["last_change_id"], 4);
    assert_eq!(written["changes"]["regions_added"][0]["stamp"]["id"], 1, "{written}");
}

#[test]
fn a_reload_warns_when_the_file_changes_a_setting_a_saved_change_overrides() {
    let dir = TempDir::new("changes");
    dir.write("lb.test.zone", LB_ZONE);
    let config = |weights: (u32, u32)| {
        format!(
            "state_dir = \"state\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[[zone]]\nfile = \"lb.test.zone\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"MERIDIAN_TEST_TOKEN\"\n\
             [[api.token]]\nname = \"ops\"\nenv = \"MERIDIAN_TEST_OPS_TOKEN\"\n\
             [[region]]\nname = \"a\"\n\
             endpoints = [ {{ address = \"192.0.2.1\", weight = {} }}, {{ address = \"192.0.2.2\", weight = {} }} ]\n\
             [[region]]\nname = \"b\"\nendpoints = [ {{ address = \"198.51.100.1\" }} ]\n{POOL}",
            weights.0, weights.1
        )
    };
    let path = dir.write("meridian.toml", &config((1, 1)));
    let mut command = Command::new(BIN);
    command.env("MERIDIAN_TEST_TOKEN", TOKEN).env("MERIDIAN_TEST_OPS_TOKEN", "ops-secret-0123456789");
    let served = serve_command(command, &["serve", "--config", path.to_str().unwrap()], dir.path());
    let api = Api { addr: served.api() };
    let reply = api.send("PATCH", WEIGHT_1, Some(r#"{"weight": 0}"#), Some("ops-secret-0123456789"));
    ok(&reply);
    assert_eq!(changes(&api)[0]["token"], "ops", "a token from the environment, by its name");

    // An edit of a setting no change overrides: no warning.
    dir.write("meridian.toml", &config((1, 2)));
    ok(&api.post("/api/v1/reload", ""));
    // The overridden weight edited: the change still decides it, and the log says so.
    dir.write("meridian.toml", &config((5, 2)));
    ok(&api.post("/api/v1/reload", ""));
    let warned = served.wait_for_log("changed a setting that a saved API change overrides", 1, Duration::from_secs(10));
    assert_eq!(warned.len(), 1, "the first reload warned of nothing: {warned:?}");
    let line = &warned[0];
    assert!(line.contains(" WARN "), "{line}");
    for field in [
        "change=1",
        "summary=weight of a/192.0.2.1 set to 0",
        "setting=region a endpoint 192.0.2.1 weight",
        "file_before=1",
        "file_now=5",
        "in_force=0",
    ] {
        assert!(line.contains(field), "{field} in: {line}");
    }
    assert_eq!(client::a_records(served.addr, "www.lb.test."), ["192.0.2.2"], "the change still decides");
    assert!(!line.contains("ops-secret") && !line.contains(TOKEN), "{line}");
}

#[test]
fn a_revert_on_one_instance_of_a_cluster_is_in_every_instances_answers() {
    use crate::cluster::{Instance, Nats, within};
    let Some(nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    let drain = "/api/v1/lb/regions/a/endpoints/192.0.2.1/drain";
    // 503 until the instance's connection to the shared log is up.
    assert!(within(Duration::from_secs(20), || one.api.post(drain, "").status != 503));
    assert!(within(Duration::from_secs(2), || two.answer() == ["192.0.2.2"]), "{:?}", two.answer());
    assert_eq!(ids(&two.api), [1], "the change and its id are shared");
    ok(&two.api.delete("/api/v1/changes/1"));
    for instance in [&one, &two] {
        assert!(
            within(Duration::from_secs(2), || instance.answer() == ["192.0.2.1", "192.0.2.2"]),
            "{:?}",
            instance.answer()
        );
        assert!(within(Duration::from_secs(2), || ids(&instance.api).is_empty()));
    }
    assert!(within(Duration::from_secs(20), || one.api.post(drain, "").status == 200));
    assert_eq!(ids(&one.api), [2], "the next id, cluster-wide");
}
