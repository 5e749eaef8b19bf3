//! Wiring: load the first snapshot, bind, serve, and shut down on a signal with a deadline.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_server::Server;
use tokio::task::JoinSet;
use tokio::time;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{Config, Problem};
use crate::dns::handler::Handler;
use crate::dns::server;
use crate::geo::mmdb::GeoDb;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::zone::{Zones, load};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{} problem(s) in the zone data, geo database or pools:\n{}", .0.len(), lines(.0))]
    Zones(Vec<Problem>),
    #[error(transparent)]
    Bind(#[from] io::Error),
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
    /// Stops the health tasks.
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

/// Loads, binds and starts serving.
///
/// # Errors
/// Invalid zone data or an address that cannot be bound.
pub async fn start(config: Config) -> Result<Running, AppError> {
    info!(version = env!("CARGO_PKG_VERSION"), "meridian starting");
    let config = Arc::new(config);
    let snapshot = build_snapshot(config.clone(), 1)?;
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
    let store = Arc::new(SnapshotStore::new(snapshot));
    let server = server::serve(listeners, store.clone(), config.server.tcp_idle_timeout);
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();
    crate::health::prober::spawn(store.clone(), &config, cancel.clone(), &mut tasks)
        .map_err(|e| AppError::Zones(vec![Problem::new("region.check", e.to_string())]))?;
    for addr in &addrs {
        info!(%addr, "listening on UDP and TCP");
    }
    Ok(Running { addrs, store, server, config, cancel, tasks })
}

impl Running {
    /// Stops accepting, lets in-flight queries finish, and gives up after the grace period.
    pub async fn shutdown(mut self) {
        let grace = self.config.server.shutdown_grace;
        self.cancel.cancel();
        let tasks = &mut self.tasks;
        let _ = time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        match time::timeout(grace, self.server.shutdown_gracefully()).await {
            Ok(Ok(())) => info!("stopped"),
            Ok(Err(error)) => warn!(%error, "a listener failed while stopping"),
            Err(_) => warn!(?grace, "still busy after the grace period; exiting anyway"),
        }
    }
}

/// Serves until SIGTERM or SIGINT.
///
/// # Errors
/// As [`start`].
pub async fn serve(config: Config) -> Result<(), AppError> {
    let running = start(config).await?;
    shutdown_signal().await;
    info!("shutting down");
    running.shutdown().await;
    Ok(())
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
