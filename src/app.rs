//! Wiring: load the first snapshot, bind, serve, and shut down on a signal with a deadline.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hickory_server::Server;
use tokio::time;
use tracing::{error, info, warn};

use crate::config::{Config, ConfigError, Problem};
use crate::dns::handler::Handler;
use crate::dns::server;
use crate::geo::mmdb::GeoDb;
use crate::health::probe::ProbeError;
use crate::health::prober::{self, HealthTasks};
use crate::health::table::HealthTable;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::zone::{Zones, load};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{} problem(s) in the zone data, geo database or pools:\n{}", .0.len(), lines(.0))]
    Zones(Vec<Problem>),
    #[error(transparent)]
    Bind(#[from] io::Error),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("health checks: {0}")]
    Health(#[from] ProbeError),
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// Loads the zones a configuration names and builds the snapshot `serve` would start with.
/// `check-config` calls this too, so it checks exactly what `serve` would load.
///
/// # Errors
/// Every problem of every zone file.
pub fn build_snapshot(config: Arc<Config>, generation: u64) -> Result<Snapshot, AppError> {
    let zones = Zones::new(load::load_all(&config.zones).map_err(AppError::Zones)?);
    let geo = match &config.geoip {
        Some(path) => {
            let db =
                GeoDb::open(path).map_err(|e| AppError::Zones(vec![Problem::new("geoip.database", e.to_string())]))?;
            Some(Arc::new(db))
        }
        None => None,
    };
    Snapshot::build(generation, config, zones, geo).map_err(AppError::Zones)
}

/// A server that is running: where it listens, and how to stop it.
pub struct Running {
    /// The bound addresses; each serves UDP and TCP on the same port.
    pub addrs: Vec<SocketAddr>,
    pub store: Arc<SnapshotStore>,
    server: Server<Handler>,
    config: Arc<Config>,
    health: Option<HealthTasks>,
    /// Where a reload reads the configuration from; `None`: the embedded default.
    source: Option<PathBuf>,
}

/// Loads, binds and starts serving.
///
/// # Errors
/// Invalid zone data or an address that cannot be bound.
pub async fn start(config: Config) -> Result<Running, AppError> {
    info!(version = env!("CARGO_PKG_VERSION"), "meridian starting");
    let config = Arc::new(config);
    let mut snapshot = build_snapshot(config.clone(), 1)?;
    for zone in snapshot.zones.iter() {
        info!(zone = %zone.origin, records = zone.record_count, "zone loaded");
    }
    if let Some(geo) = &snapshot.steering.geo {
        info!(networks = geo.networks, locations = geo.location_count(), kind = %geo.description, "geo database loaded");
    }
    for pool in &snapshot.steering.pools {
        info!(pool = %pool.name, policy = pool.policy.name(), regions = pool.regions.len(), "pool ready");
    }
    let listeners = server::bind(&config.server.listen).await?;
    let addrs = listeners.iter().map(server::Listener::local_addr).collect::<io::Result<Vec<_>>>()?;
    let table = health_table(&mut snapshot, None);
    let store = Arc::new(SnapshotStore::new(snapshot));
    let server = server::serve(listeners, store.clone(), config.server.tcp_idle_timeout);
    let health = Some(prober::start(store.clone(), table)?);
    for addr in &addrs {
        info!(%addr, "listening on UDP and TCP");
    }
    Ok(Running { addrs, store, server, config, health, source: None })
}

impl Running {
    /// Reloads from where the configuration came from (SIGHUP does this).
    ///
    /// # Errors
    /// As [`Running::reload_with`], and a configuration file that cannot be read.
    pub async fn reload(&mut self) -> Result<u64, AppError> {
        let config = match &self.source {
            Some(path) => Config::read(path)?,
            None => Config::embedded_default()?,
        };
        self.reload_with(config).await
    }

    /// Rebuilds the snapshot from `config` and the files it names, and publishes it. Health
    /// state of endpoints that are still there is kept; probes of endpoints that are gone stop.
    /// The listen addresses stay as bound.
    ///
    /// # Errors
    /// Invalid zone data, geo database or pools: the running snapshot stays.
    pub async fn reload_with(&mut self, mut config: Config) -> Result<u64, AppError> {
        if config.server.listen != self.config.server.listen {
            warn!("listen addresses change only with a restart; keeping the bound ones");
            config.server.listen.clone_from(&self.config.server.listen);
        }
        let config = Arc::new(config);
        let generation = self.store.load().generation + 1;
        let mut snapshot = build_snapshot(config.clone(), generation)?;
        let grace = self.config.server.shutdown_grace;
        let old = match self.health.take() {
            Some(tasks) => tasks.stop(grace).await,
            None => None,
        };
        let table = health_table(&mut snapshot, old.as_ref());
        self.store.publish(snapshot);
        self.config = config;
        self.health = Some(prober::start(self.store.clone(), table)?);
        Ok(generation)
    }

    /// Where a reload reads the configuration: a file, or the embedded default (`None`).
    pub fn set_source(&mut self, source: Option<PathBuf>) {
        self.source = source;
    }

    /// Stops accepting, lets in-flight queries finish, and gives up after the grace period.
    pub async fn shutdown(mut self) {
        let grace = self.config.server.shutdown_grace;
        if let Some(health) = self.health.take() {
            health.stop(grace).await;
        }
        match time::timeout(grace, self.server.shutdown_gracefully()).await {
            Ok(Ok(())) => info!("stopped"),
            Ok(Err(error)) => warn!(%error, "a listener failed while stopping"),
            Err(_) => warn!(?grace, "still busy after the grace period; exiting anyway"),
        }
    }
}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads from `source` (the embedded default when
/// `None`).
///
/// # Errors
/// As [`start`].
pub async fn serve(config: Config, source: Option<PathBuf>) -> Result<(), AppError> {
    // Listen for SIGHUP before anything is announced, so an early one cannot end the process.
    let mut hangups = Hangups::new();
    let mut running = start(config).await?;
    running.source = source;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = hangups.next() => match running.reload().await {
                Ok(generation) => info!(generation, "configuration reloaded"),
                Err(error) => error!(%error, "reload rejected; still serving the previous configuration"),
            },
        }
    }
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// SIGHUPs, as a stream of reload requests; none where there is no such signal.
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    fn new() -> Self {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
            if let Err(error) = &signal {
                warn!(%error, "cannot listen for SIGHUP; reload needs a restart");
            }
            Self { signal: signal.ok() }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            signal.recv().await;
            return;
        }
        std::future::pending::<()>().await
    }
}

/// The health table for a snapshot about to be published, taking over what `old` knew of the
/// endpoints still configured; the snapshot gets its view.
fn health_table(snapshot: &mut Snapshot, old: Option<&HealthTable>) -> HealthTable {
    let now = clock();
    let mut table = HealthTable::new(&snapshot.config, now);
    if let Some(old) = old {
        table.carry_over(old);
    }
    snapshot.health = Arc::new(table.view(now));
    table
}

/// The health tables read the real clock when the server (re)builds them: an edge.
#[allow(clippy::disallowed_methods)]
fn clock() -> std::time::Instant {
    std::time::Instant::now()
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
