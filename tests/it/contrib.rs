//! What `contrib/` ships: Prometheus alerting rules that `promtool` accepts, a Grafana dashboard
//! that is valid JSON with a query in every panel that parses as PromQL, every `meridian_*`
//! metric either names one a real server exports, and the systemd unit the README shows.
//!
//! `promtool` comes with Debian's `prometheus` package (`.ci/run` installs it). Without it
//! these checks print a notice and skip, except when `CI` is set, where a missing `promtool`
//! fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::steering::LB_ZONE;
use crate::support::{API_TOML, TempDir, TestServer};

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib").join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(contrib(file)).unwrap_or_else(|e| panic!("contrib/{file}: {e}"))
}

/// `promtool check rules FILE`, or `None` (with a notice) when promtool is missing outside CI.
fn promtool_check_rules(file: &Path) -> Option<std::process::Output> {
    match Command::new("promtool").args(["check", "rules"]).arg(file).output() {
        Ok(output) => Some(output),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "promtool is missing and CI is set: apt-get install prometheus (.ci/run does)"
            );
            eprintln!("NOTICE: promtool not found (apt-get install prometheus); the rules are not checked");
            None
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    }
}

#[test]
fn promtool_accepts_the_alerting_rules() {
    let Some(output) = promtool_check_rules(&contrib("prometheus/meridian-alerts.yml")) else { return };
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// Every query of the dashboard: panel targets, then template variables' queries.
fn dashboard_queries(dashboard: &serde_json::Value) -> (Vec<(String, String)>, Vec<String>) {
    let mut exprs = Vec::new();
    let panels = dashboard["panels"].as_array().expect("a panels array");
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        let title = panel["title"].as_str().unwrap_or_default().to_owned();
        assert!(!title.is_empty(), "a panel without a title: {panel}");
        let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("panel {title:?} has no targets"));
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default().trim().to_owned();
            assert!(!expr.is_empty(), "panel {title:?} has an empty query");
            exprs.push((title.clone(), expr));
        }
    }
    let variables = dashboard["templating"]["list"].as_array().expect("templating.list");
    let templates = variables.iter().filter_map(|v| v["definition"].as_str().map(str::to_owned)).collect();
    (exprs, templates)
}

#[test]
fn the_dashboard_is_valid_json_and_every_panel_query_parses() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana/meridian.json")).expect("contrib/grafana/meridian.json is valid JSON");
    assert_eq!(dashboard["title"], "Meridian");
    let (exprs, _) = dashboard_queries(&dashboard);
    assert!(exprs.len() >= 20, "{} queries", exprs.len());
    // Grafana's variables filled in as Grafana would, then each query as a recording rule:
    // promtool parses every expression with Prometheus' own parser.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, expr)) in exprs.iter().enumerate() {
        let expr = expr.replace("$__rate_interval", "1m").replace("$instance", ".*").replace("$pool", ".*");
        assert!(!expr.contains('$'), "panel {title:?}: a variable left in {expr}");
        rules.push_str(&format!("      - record: dashboard:query_{i}\n        expr: {}\n", serde_json::json!(expr)));
    }
    let dir = TempDir::new("contrib");
    let file = dir.write("dashboard-rules.yml", &rules);
    let Some(output) = promtool_check_rules(&file) else { return };
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `meridian_*` names in `text`.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("meridian_") {
        if text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // inside another word
        }
        let name: String = text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        names.insert(name);
    }
    names
}

/// What a real server's `/metrics` declares: every family of a `# TYPE` line, with the
/// `_bucket`, `_sum` and `_count` series of histograms.
fn exported() -> BTreeSet<String> {
    let regions = "[[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" } ]\n\
                   [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\"]\n";
    // A member of a cluster whose NATS is not there: its cluster series are on the page
    // within a second (the writer judges the votes every second), with the rest.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cluster = format!("[cluster]\nname = \"test\"\nnats = [\"nats://127.0.0.1:{closed}\"]\n");
    let toml = format!("{API_TOML}{regions}{cluster}");
    let server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[]);
    let mut page = server.api().send("GET", "/metrics", None, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !page.body.contains("# TYPE meridian_cluster_isolated ") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        page = server.api().send("GET", "/metrics", None, None);
    }
    assert_eq!(page.status, 200);
    assert!(page.body.contains("# TYPE meridian_cluster_isolated "), "no cluster series within 10 s:\n{}", page.body);
    let mut names = BTreeSet::new();
    for line in page.body.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
        if kind == "histogram" {
            names.extend(["_bucket", "_sum", "_count"].map(|s| format!("{name}{s}")));
        }
        names.insert(name.to_owned());
    }
    names
}

#[test]
fn every_metric_the_rules_and_the_dashboard_use_is_one_the_server_exports() {
    let exported = exported();
    assert!(exported.contains("meridian_pool_up") && exported.contains("meridian_probe_rtt_seconds_bucket"));
    let rules = read("prometheus/meridian-alerts.yml");
    let dashboard: serde_json::Value = serde_json::from_str(&read("grafana/meridian.json")).expect("valid JSON");
    let (exprs, templates) = dashboard_queries(&dashboard);
    let queries: Vec<String> = exprs.into_iter().map(|(_, e)| e).chain(templates).collect();
    for (file, used) in [
        ("prometheus/meridian-alerts.yml", metric_names(&rules)),
        ("grafana/meridian.json", metric_names(&queries.join("\n"))),
    ] {
        assert!(used.len() >= 10, "{file}: {used:?}");
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "contrib/{file} uses metrics the server does not export: {unknown:?}");
    }
}

#[test]
fn the_systemd_unit_in_the_readme_is_the_shipped_file() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let unit = read("systemd/meridian.service");
    let block = readme.split("```ini\n").nth(1).and_then(|rest| rest.split("```").next()).expect("the README's unit");
    assert_eq!(block, unit, "README's unit and contrib/systemd/meridian.service differ");
    assert!(unit.contains("ExecStart=/usr/local/bin/meridian serve"), "{unit}");
    assert!(readme.contains("contrib/systemd/meridian.service"), "the README points at the file");
}
