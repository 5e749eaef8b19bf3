//! `meridian explain` runs the real binary and must agree with the server's answer.

use std::process::Command;

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::steering::{LB_ZONE, REGIONS, test_db};
use crate::support::client::{self, Q};
use crate::support::geo::flat_db;
use crate::support::{TempDir, TestServer};

const POOL: &str = "[[pool]]\nname = \"www.lb.test.\"\npolicy = \"geo\"\nregions = [\"beta\", \"alpha\", \"gamma\"]\n";

fn explain(dir: &TempDir, args: &[&str]) -> String {
    let config = dir.path().join("meridian.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("explain")
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .expect("run meridian explain");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn config_dir(db: &[u8]) -> TempDir {
    let dir = TempDir::new("explain");
    dir.write("lb.test.zone", LB_ZONE);
    std::fs::write(dir.path().join("geo.mmdb"), db).unwrap();
    dir.write("meridian.toml", &format!("[[zone]]\nfile = \"lb.test.zone\"\n{REGIONS}{POOL}"));
    dir
}

#[test]
fn explain_gives_the_servers_answer_for_the_same_client() {
    let db = test_db();
    let dir = config_dir(&db);
    let server =
        TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &format!("{REGIONS}{POOL}"), &[("geo.mmdb", &db)]);
    let cases = [
        (Some("198.51.100.0/24"), RecordType::A),
        (Some("2001:db8:100::/48"), RecordType::AAAA),
        (Some("203.0.113.0/24"), RecordType::A),
        (Some("10.0.0.0/8"), RecordType::A),
        (None, RecordType::A),
    ];
    for (ecs, rtype) in cases {
        let mut q = Q::new("www.lb.test.", rtype);
        let mut args = vec!["--client", "127.0.0.1", "--json"];
        if let Some(ecs) = ecs {
            q = q.ecs(ecs);
            args.extend(["--ecs", ecs]);
        }
        let rtype_text = rtype.to_string();
        args.extend(["www.lb.test.", rtype_text.as_str()]);
        let reply = client::udp(server.addr, &q);
        let served: Vec<String> = reply.answers.iter().map(|r| r.to_string()).collect();
        let explained: Value = serde_json::from_str(&explain(&dir, &args)).expect("JSON");
        let answers: Vec<String> =
            explained["answers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
        assert_eq!(answers, served, "{ecs:?} {rtype}");
        let scope = reply.edns.as_ref().and_then(|e| match e.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet) {
            Some(hickory_proto::rr::rdata::opt::EdnsOption::Subnet(s)) => Some(u64::from(s.scope_prefix())),
            _ => None,
        });
        assert_eq!(explained["ecs_scope"].as_u64(), scope, "{ecs:?} {rtype}");
        assert!(explained["steering"]["reason"].is_string());
    }
}

#[test]
fn explain_says_why_in_text() {
    let dir = config_dir(&test_db());
    let text = explain(&dir, &["--client", "192.0.2.99", "--ecs", "198.51.100.0/24", "www.lb.test.", "A"]);
    assert!(text.contains("client    198.51.100.0 (from ecs)"), "{text}");
    assert!(text.contains("location  country DE, continent EU, database network /24"), "{text}");
    assert!(text.contains("decision  country DE maps to alpha"), "{text}");
    assert!(text.contains("answer    www.lb.test. 30 IN A 192.0.2.1"), "{text}");
    assert!(text.contains("ECS in the answer: SCOPE PREFIX-LENGTH 24"), "{text}");
}

#[test]
fn explain_reads_a_country_only_database() {
    // DB-IP's lite shape: only a country code; the continent comes from the compiled table.
    let dir = config_dir(&flat_db(&[("198.51.100.0/24", "FR")]));
    let text = explain(&dir, &["--client", "198.51.100.7", "www.lb.test.", "A"]);
    assert!(text.contains("country FR, continent EU"), "{text}");
    assert!(text.contains("decision  continent EU maps to alpha"), "{text}");
}

#[test]
fn explain_lays_the_saved_api_changes_over_the_file_as_the_server_does() {
    let db = test_db();
    let dir = config_dir(&db);
    let config = std::fs::read_to_string(dir.path().join("meridian.toml")).unwrap();
    dir.write("meridian.toml", &format!("state_dir = \"state\"\n{config}"));
    let args = ["--client", "127.0.0.1", "--json", "--ecs", "198.51.100.0/24", "www.lb.test.", "A"];
    let before: Value = serde_json::from_str(&explain(&dir, &args)).unwrap();
    let answered = before["answers"].as_array().unwrap().len();
    assert!(answered > 0, "{before}");
    // A drain saved by the API takes the region's address out, in the server and in explain.
    let address = before["answers"][0].as_str().unwrap().split_whitespace().last().unwrap().to_owned();
    let region = before["steering"]["region"].as_str().map(str::to_owned);
    let region = region.unwrap_or_else(|| panic!("explain names the region: {before}"));
    std::fs::create_dir(dir.path().join("state")).unwrap();
    dir.write(
        "state/state.json",
        &format!(
            r#"{{"format":1,"changes":{{"endpoint_states":[{{"region":"{region}","endpoint":"{address}","state":"drain"}}]}}}}"#
        ),
    );
    let after: Value = serde_json::from_str(&explain(&dir, &args)).unwrap();
    let answers: Vec<&str> = after["answers"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(!answers.iter().any(|a| a.ends_with(&address)), "{address} was drained: {after}");
}
