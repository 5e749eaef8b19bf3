//! Test support: a real server on 127.0.0.1, and a small client over real UDP and TCP.

pub mod alloc;
pub mod client;
pub mod geo;
pub mod http;
pub mod serve;
pub mod target;
pub mod tls;

use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hickory_proto::rr::Name;
use meridian::app::{self, Running};
use meridian::config::Source;
use meridian::snapshot::Snapshot;

/// The test zone: a delegation with glue and DS, CNAME chains in and out of the zone, an
/// empty non-terminal, a wildcard, a TXT RRset too big for 512 octets, and most types.
pub const TEST_ZONE: &str = include_str!("../../fixtures/example.test.zone");

/// The zones served beside the test zone where CNAMEs from one served zone into another are
/// tested: chains from `second.test.` into `example.test.`, and through `third.test.` and back.
pub const OTHER_ZONES: [(&str, &str); 2] = [
    ("second.test.zone", include_str!("../../fixtures/second.test.zone")),
    ("third.test.zone", include_str!("../../fixtures/third.test.zone")),
];

/// The test zone and [`OTHER_ZONES`], as [`TestServer::with_zones`] takes them.
pub fn all_zones() -> Vec<(&'static str, &'static str)> {
    std::iter::once(("example.test.zone", TEST_ZONE)).chain(OTHER_ZONES).collect()
}

/// An admin API on a free port with the test token, and a state directory.
pub const API_TOML: &str =
    "state_dir = \"state\"\n[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"test-token-0123456789\"\n";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("meridian-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A Meridian server running in its own runtime on 127.0.0.1, on a free port.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin API, when the configuration has `[api]`.
    pub api: Option<http::Api>,
    running: Option<Running>,
    runtime: tokio::runtime::Runtime,
    dir: TempDir,
}

impl TestServer {
    /// Serves the test zone with the default server settings.
    pub fn start() -> Self {
        Self::with_server_toml("identity = \"meridian-test\"")
    }

    /// Serves the test zone; `server` is the body of the `[server]` table (no `listen`).
    pub fn with_server_toml(server: &str) -> Self {
        Self::with_zones(server, &[("example.test.zone", TEST_ZONE)])
    }

    /// Serves the given zone files.
    pub fn with_zones(server: &str, zones: &[(&str, &str)]) -> Self {
        Self::with_config(server, zones, "", &[])
    }

    /// Serves zone files with more configuration (`[geoip]`, regions, pools) and more
    /// files (a geo database) beside them. Top-level keys at the start of `more_toml`
    /// (`state_dir`) go before every table.
    pub fn with_config(server: &str, zones: &[(&str, &str)], more_toml: &str, files: &[(&str, &[u8])]) -> Self {
        let dir = TempDir::new("server");
        let split = more_toml.find("\n[").map_or(more_toml.len(), |i| i + 1);
        let split = if more_toml.starts_with('[') { 0 } else { split };
        let (top, more_toml) = more_toml.split_at(split);
        let mut toml = format!("{top}[server]\nlisten = [\"127.0.0.1:0\"]\n{server}\n");
        for (file, text) in zones {
            dir.write(file, text);
            toml.push_str(&format!("[[zone]]\nfile = \"{file}\"\n"));
        }
        for (file, bytes) in files {
            fs::write(dir.path().join(file), bytes).expect("write test file");
        }
        toml.push_str(more_toml);
        let config_path = dir.write("meridian.toml", &toml);
        let source = Source::read(&config_path).expect("test configuration is valid");
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        let running = runtime.block_on(app::start(source, Some(config_path))).expect("server starts");
        let addr = running.addrs[0];
        let api = running.api_addr.map(|addr| http::Api { addr });
        Self { addr, api, running: Some(running), runtime, dir }
    }
}

impl TestServer {
    /// The admin API (the configuration must have `[api]`, as [`API_TOML`] gives).
    pub fn api(&self) -> http::Api {
        self.api.expect("the test configuration has [api]")
    }

    /// The server's directory (its configuration, zones and state directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server, as a shutdown does, and starts it again on the same files.
    pub fn restart(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
        let path = self.dir.path().join("meridian.toml");
        let source = Source::read(&path).expect("test configuration is valid");
        // The stopped server's sockets close as its tasks end; on a loaded machine that can
        // trail the shutdown by a moment: try again while the address is still in use.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let running = loop {
            match self.runtime.block_on(app::start(source.clone(), Some(path.clone()))) {
                Ok(running) => break running,
                Err(e) if e.to_string().contains("in use") && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("server restarts: {e}"),
            }
        };
        self.addr = running.addrs[0];
        self.api = running.api_addr.map(|addr| http::Api { addr });
        self.running = Some(running);
    }

    /// Rewrites one of the server's files (a zone, the configuration).
    pub fn write(&self, file: &str, text: &str) {
        self.dir.write(file, text);
    }

    /// Reloads from the configuration file, as SIGHUP does; the error's text on failure.
    pub fn reload(&mut self) -> Result<u64, String> {
        let running = self.running.as_ref().expect("running");
        self.runtime.block_on(running.reload())
    }

    /// The snapshot queries are answered from now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.running.as_ref().expect("running").store.load()
    }

    /// Waits until the server has published a snapshot for which `cond` holds (the current
    /// one counts), and returns that snapshot. Woken by the store's `watch` at each
    /// publication, never by a timer (STYLE.md example 8); `limit` only bounds a failure.
    /// What the API reads is published before the `watch` fires, so the API shows the change
    /// as soon as this returns.
    ///
    /// # Panics
    /// When no such snapshot is published within `limit`: names `what` and shows the last
    /// published snapshot's generation and health view.
    pub fn wait_for_snapshot(
        &self,
        limit: Duration,
        what: &str,
        mut cond: impl FnMut(&Snapshot) -> bool,
    ) -> Arc<Snapshot> {
        let store = &self.running.as_ref().expect("running").store;
        let mut changed = store.subscribe();
        let mut found = None;
        let holds = |_: &u64| {
            let snapshot = store.load();
            let holds = cond(&snapshot);
            found = holds.then_some(snapshot);
            holds
        };
        // The timer is made inside the runtime, which it needs.
        let waited = self.runtime.block_on(async { tokio::time::timeout(limit, changed.wait_for(holds)).await });
        match (waited, found) {
            (Ok(Ok(_)), Some(snapshot)) => snapshot,
            (waited, _) => {
                let last = store.load();
                let why = if matches!(waited, Ok(Err(_))) { " (the server stopped publishing)" } else { "" };
                panic!(
                    "no snapshot with {what} within {limit:?}{why}; last published: generation {}, health {:?}",
                    last.generation, last.health
                )
            }
        }
    }
}

/// The index of the endpoint at `address` in a snapshot's health view: endpoints count in
/// configuration order, region by region (the first region listing the address).
pub fn endpoint(snapshot: &Snapshot, address: &str) -> usize {
    let address: IpAddr = address.parse().expect("an IP address");
    let config = &snapshot.config;
    config
        .regions
        .iter()
        .enumerate()
        .find_map(|(r, region)| {
            region.endpoints.iter().position(|e| e.address == address).map(|i| config.first_endpoint(r) + i)
        })
        .unwrap_or_else(|| panic!("no endpoint {address} in the configuration"))
}

/// Whether the snapshot lets queries be answered with the endpoint at `address`.
pub fn servable(snapshot: &Snapshot, address: &str) -> bool {
    snapshot.health.is_servable(endpoint(snapshot, address))
}

/// Whether the snapshot has the endpoint at `address` up but degraded.
pub fn degraded(snapshot: &Snapshot, address: &str) -> bool {
    snapshot.health.endpoint(endpoint(snapshot, address)).degraded
}

/// The index of pool `name` in a snapshot (its short-TTL flag, its preferred region).
pub fn pool(snapshot: &Snapshot, name: &str) -> usize {
    let name = Name::from_ascii(name).expect("a pool name");
    let pools = &snapshot.config.pools;
    pools.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("no pool {name}"))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
    }
}

/// The snapshot `serve` would start with for the configuration file at `path` (every endpoint
/// in its initial state), loaded by the server's own loader.
#[allow(clippy::disallowed_methods)] // the first health table's instant
pub fn load_snapshot(path: &Path, observers: Option<&meridian::metrics::Observers>) -> meridian::snapshot::Snapshot {
    use meridian::control::load::{ApiFiles, prepare};
    let source = Source::read(path).expect("a valid configuration");
    let prepared = prepare(source, &Default::default(), ApiFiles::Skip, observers, std::time::Instant::now());
    let mut snapshot = prepared.expect("the configuration loads").snapshot;
    snapshot.generation = 1;
    snapshot
}
