//! Restarts: the API's changes kept in `state_dir/state.json` are laid over the configuration
//! file again; a saved change the file no longer allows, and a state file that cannot be read
//! or parsed, are set aside for the operator (`state.json.rejected-<time>`, `.unreadable-`,
//! `.corrupt-`), never deleted, while the rest is served; without `state_dir`, changes last
//! until the process ends. Each over real HTTP and UDP against a server stopped and started
//! again on the same files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::api::{POOL, REGIONS, answer, ok, server};
use crate::steering::LB_ZONE;
use crate::support::TestServer;
use crate::support::http::TOKEN;

/// The files of `state_dir` set aside as `state.json.<reason>-<unix seconds>`.
fn set_aside(server: &TestServer, reason: &str) -> Vec<PathBuf> {
    let prefix = format!("state.json.{reason}-");
    let mut found: Vec<PathBuf> = fs::read_dir(server.dir().join("state"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.strip_prefix(&prefix).is_some_and(|time| !time.is_empty() && time.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    found.sort();
    found
}

/// The names of the regions the API lists.
fn region_names(server: &TestServer) -> Vec<String> {
    let regions = ok(&server.api().get("/api/v1/lb/regions"));
    regions.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()).collect()
}

fn state_file(server: &TestServer) -> PathBuf {
    server.dir().join("state").join("state.json")
}

#[test]
fn changes_made_through_the_api_survive_a_restart() {
    let mut server = server();
    let api = server.api();
    ok(&api.post("/api/v1/lb/regions", r#"{"name":"c","endpoints":[{"address":"192.0.2.77"}]}"#));
    ok(&api.put(
        "/api/v1/lb/strategy",
        r#"{"pool":"www.lb.test.","strategy":"priority","parameters":{"regions":["c","a"]}}"#,
    ));
    ok(&api.delete("/api/v1/lb/regions/spare"));
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.77"]);
    assert_eq!(region_names(&server), ["a", "b", "c"]);
}

#[test]
fn a_corrupt_state_file_is_kept_aside_and_the_configuration_served_and_saved_over_again() {
    let mut server = server();
    ok(&server.api().post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    let garbled = "{ \"format\": 1, \"changes\": { \"regions_added\": [ ";
    fs::write(state_file(&server), garbled).unwrap();
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "the configuration alone is served");
    let aside = set_aside(&server, "corrupt");
    assert_eq!(aside.len(), 1, "the corrupt file is kept aside");
    assert_eq!(fs::read_to_string(&aside[0]).unwrap(), garbled, "as it was");
    // And new changes are saved again.
    ok(&server.api().post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.2"]);
}

#[test]
fn a_saved_change_the_file_no_longer_allows_is_set_aside_while_the_rest_is_saved_again_and_served() {
    let mut server = server();
    let api = server.api();
    ok(&api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    ok(&api.delete("/api/v1/lb/regions/spare"));
    ok(&api.patch("/api/v1/lb/regions/b/endpoints/198.51.100.1", r#"{"weight":7}"#));
    let saved = fs::read_to_string(state_file(&server)).unwrap();
    // The operator edits the file: the pool now lists the region the API removed, so the
    // removal would leave the pool naming a region that is not there.
    let config = fs::read_to_string(server.dir().join("meridian.toml")).unwrap();
    assert!(config.contains("regions = [\"a\", \"b\"]"), "{config}");
    server.write("meridian.toml", &config.replace("regions = [\"a\", \"b\"]", "regions = [\"a\", \"b\", \"spare\"]"));
    server.restart();

    // The removal is left out, the drain and the weight stay in force and are served.
    assert_eq!(region_names(&server), ["a", "b", "spare"], "the removal is left out");
    assert_eq!(answer(&server), ["192.0.2.2"], "the drain is served");
    let b = ok(&server.api().get("/api/v1/lb/regions/b"));
    assert_eq!(b["endpoints"][0]["weight"], 7, "the weight is in force: {b}");
    // The old state file is kept aside, whole, and the changes still in force saved again.
    let aside = set_aside(&server, "rejected");
    assert_eq!(aside.len(), 1, "the old state is kept aside for the operator");
    assert_eq!(fs::read_to_string(&aside[0]).unwrap(), saved, "as it was");
    let resaved: serde_json::Value = serde_json::from_str(&fs::read_to_string(state_file(&server)).unwrap()).unwrap();
    let changes = &resaved["changes"];
    assert_eq!(changes["regions_removed"], serde_json::json!([]), "{resaved}");
    assert_eq!(changes["endpoint_states"][0]["endpoint"], "192.0.2.1", "{resaved}");
    assert_eq!(changes["weights"][0]["weight"], 7, "{resaved}");
    // What was saved again fits the file: the next start sets nothing more aside.
    server.restart();
    assert_eq!(set_aside(&server, "rejected"), aside);
    assert_eq!(answer(&server), ["192.0.2.2"]);
}

/// Makes `path` a file one octet past what the server reads of a state file (sparse: no
/// disk taken), so that it cannot be read; its content, if it were read, is not JSON.
fn make_too_large_to_read(path: &Path) {
    let file = fs::File::create(path).unwrap();
    file.set_len(meridian::control::state::MAX_STATE_BYTES + 1).unwrap();
}

#[test]
fn an_unreadable_state_file_is_set_aside_as_unreadable_and_the_configuration_served() {
    let mut server = server();
    ok(&server.api().post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    make_too_large_to_read(&state_file(&server));
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "the configuration alone is served");
    let aside = set_aside(&server, "unreadable");
    assert_eq!(aside.len(), 1, "the unreadable file is kept aside as such");
    assert_eq!(fs::metadata(&aside[0]).unwrap().len(), meridian::control::state::MAX_STATE_BYTES + 1, "untouched");
    assert!(set_aside(&server, "corrupt").is_empty(), "it was never read, so never judged corrupt");
    // Saves are not blocked: a new change is kept across the next restart.
    ok(&server.api().post("/api/v1/lb/regions/a/endpoints/192.0.2.2/drain", ""));
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.1"]);
}

#[test]
fn without_state_dir_changes_are_served_until_the_process_ends() {
    let api = format!("[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n");
    let mut server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{api}{REGIONS}{POOL}"), &[]);
    ok(&server.api().post("/api/v1/lb/regions/a/endpoints/192.0.2.1/drain", ""));
    ok(&server.api().post("/api/v1/lb/regions", r#"{"name":"c","endpoints":[{"address":"192.0.2.77"}]}"#));
    assert_eq!(answer(&server), ["192.0.2.2"], "served once acknowledged");
    assert_eq!(region_names(&server), ["a", "b", "spare", "c"]);
    let mut files: Vec<String> =
        fs::read_dir(server.dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["lb.test.zone", "meridian.toml"], "nothing is written anywhere");
    server.restart();
    assert_eq!(answer(&server), ["192.0.2.1", "192.0.2.2"], "gone with the process");
    assert_eq!(region_names(&server), ["a", "b", "spare"]);
}
