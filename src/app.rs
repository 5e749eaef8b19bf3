//! Wiring: load the first snapshot, bind, serve, and shut down on a signal with a deadline.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::api;
use crate::config::{Config, ConfigError, Overlay, Problem, Source};
use crate::control::state::{self, Persisted, StateError, StateFile};
use crate::control::{self, Control, Controller};
use crate::dns::server;
use crate::geo::mmdb::GeoDb;
use crate::health::probe::ProbeError;
use crate::health::prober;
use crate::health::table::HealthTable;
use crate::metrics::Observers;
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
    #[error("admin API: {0}")]
    Api(String),
    #[error(transparent)]
    Privileges(#[from] crate::privileges::PrivilegeError),
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// Loads the zones a configuration names and builds the snapshot `serve` would start with.
/// `check-config` calls this too, so it checks exactly what `serve` would load.
///
/// # Errors
/// Every problem of every zone file.
pub fn build_snapshot(
    config: Arc<Config>,
    generation: u64,
    observers: Option<&Observers>,
) -> Result<Snapshot, AppError> {
    let zones = Zones::new(load::load_all(&config.zones).map_err(AppError::Zones)?);
    let geo = match &config.geoip {
        Some(path) => {
            let db =
                GeoDb::open(path).map_err(|e| AppError::Zones(vec![Problem::new("geoip.database", e.to_string())]))?;
            Some(Arc::new(db))
        }
        None => None,
    };
    Snapshot::build(generation, config, zones, geo, observers).map_err(AppError::Zones)
}

/// A server that is running: where it listens, and the handle that changes and stops it.
pub struct Running {
    /// The bound addresses; each serves UDP and TCP on the same port.
    pub addrs: Vec<SocketAddr>,
    /// Where the admin API listens, when it is configured.
    pub api_addr: Option<SocketAddr>,
    pub store: Arc<SnapshotStore>,
    pub control: Control,
    controller: JoinHandle<()>,
}

/// Loads the configuration with the saved API changes laid over it, binds and starts serving.
/// `path` is where reloads read the configuration again (`None`: the embedded default).
///
/// # Errors
/// Invalid configuration or zone data, or an address that cannot be bound.
pub async fn start(source: Source, path: Option<PathBuf>) -> Result<Running, AppError> {
    start_as(source, path, false).await
}

/// As [`start`]; with `drop_root`, a process started as root becomes `server.user` once every
/// socket is bound and every file it needs as root is read (state directory, TLS key, token),
/// before any task that serves or probes is spawned: no query is answered as root.
///
/// # Errors
/// As [`start`], and a user that cannot be become (see `privileges::drop_root`).
pub async fn start_as(mut source: Source, path: Option<PathBuf>, drop_root: bool) -> Result<Running, AppError> {
    info!(version = env!("CARGO_PKG_VERSION"), "meridian starting");
    source.set_cpus(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let state_dir = source.file.state_dir.as_ref().map(|dir| source.base.join(dir));
    let (state, persisted) = open_state(state_dir.clone());
    let (config, state, persisted) = with_saved_changes(&source, state, persisted)?;
    let config = Arc::new(config);
    let observers = Observers::default();
    let mut snapshot = build_snapshot(config.clone(), 1, Some(&observers))?;
    for zone in snapshot.zones.iter() {
        info!(zone = %zone.origin, records = zone.record_count, "zone loaded");
    }
    if let Some(geo) = &snapshot.steering.geo {
        info!(networks = geo.networks, locations = geo.location_count(), kind = %geo.description, "geo database loaded");
    }
    for pool in &snapshot.steering.pools {
        info!(pool = %pool.name, policy = pool.policy.name(), regions = pool.regions.len(), "pool ready");
    }
    server::raise_fd_limit(&config.server);
    let listeners = server::bind(&config.server.listen, config.server.workers).await?;
    let addrs = listeners.iter().map(server::Listener::local_addr).collect::<io::Result<Vec<_>>>()?;
    let api = match &config.api {
        Some(api) => {
            let tls = api.tls.as_ref().map(api::tls::acceptor).transpose()?;
            Some((api::bind(api.listen).await?, tls, api::token(&api.token)?))
        }
        None => None,
    };
    if drop_root {
        crate::privileges::drop_root(config.server.user.as_deref(), state_dir.as_deref())?;
    }
    let table = Arc::new(Mutex::new(health_table(&mut snapshot)));
    let store = Arc::new(SnapshotStore::new(snapshot));
    let server = server::serve(listeners, store.clone(), observers.clone())?;
    let health = Some(prober::start(store.clone(), table.clone(), observers.metrics.clone())?);
    for addr in &addrs {
        info!(%addr, "listening on UDP and TCP");
    }
    let cancel = CancellationToken::new();
    tokio::spawn(advance_ticks(observers.tick.clone(), cancel.child_token()));
    let controller = Controller {
        observers: observers.clone(),
        store: store.clone(),
        server,
        config: config.clone(),
        health,
        table: table.clone(),
        source,
        path,
        persisted,
        state,
        cancel: cancel.clone(),
    };
    let (control, controller) = controller.spawn();
    let api_addr = match (api, &config.api) {
        (Some((listener, tls, token)), Some(settings)) => {
            let shared = api::Shared::new(store.clone(), control.clone(), table, observers, token, settings.limits);
            Some(api::serve(listener, tls, shared, cancel.child_token())?)
        }
        _ => None,
    };
    Ok(Running { addrs, api_addr, store, control, controller })
}

impl Running {
    /// Reloads from where the configuration came from, as SIGHUP does.
    ///
    /// # Errors
    /// The reload was rejected (the running snapshot stays), with the messages of `check-config`.
    pub async fn reload(&self) -> Result<u64, String> {
        self.control.reload().await
    }

    /// Stops accepting, lets in-flight queries finish, and gives up after the grace period.
    pub async fn shutdown(self) {
        self.control.shutdown().await;
        let _ = self.controller.await;
    }
}

/// Opens the state directory and reads the saved changes. A state file that cannot be read
/// or parsed is reported and moved aside, never deleted; the server then starts without it.
fn open_state(dir: Option<PathBuf>) -> (Option<StateFile>, Persisted) {
    let empty = Persisted { format: state::FORMAT, ..Default::default() };
    let Some(dir) = dir else { return (None, empty) };
    let mut file = match StateFile::open(&dir) {
        Ok(file) => file,
        Err(error) => {
            error!(%error, "API changes cannot be saved; they will be refused until this is fixed");
            return (Some(StateFile::unusable(&dir)), empty);
        }
    };
    match file.load() {
        Ok(persisted) => {
            let count = persisted.changes.count();
            if count > 0 {
                info!(changes = count, path = %file.path().display(), "saved API changes loaded");
            }
            (Some(file), persisted)
        }
        Err(error) => {
            let reason = if matches!(error, StateError::Corrupt { .. }) { "corrupt" } else { "unreadable" };
            error!(%error, "the state file cannot be used; serving the configuration without its changes");
            set_aside(&mut file, reason);
            (Some(file), empty)
        }
    }
}

fn set_aside(file: &mut StateFile, reason: &str) {
    match file.set_aside(reason, control::unix_now()) {
        Ok(path) => warn!(path = %path.display(), "the state file is kept aside for the operator"),
        Err(error) => error!(%error, "the state file cannot be moved aside; API changes will be refused"),
    }
}

/// The configuration with the saved changes laid over it. Saved changes that the file no
/// longer allows are left out one by one (each reported); the state file is then kept aside and
/// the changes still valid saved in its place.
fn with_saved_changes(
    source: &Source,
    mut state: Option<StateFile>,
    mut persisted: Persisted,
) -> Result<(Config, Option<StateFile>, Persisted), AppError> {
    let (config, kept) = lay_over(source, &persisted.changes)?;
    if let Some(kept) = kept {
        persisted.changes = kept;
        if let Some(file) = state.as_mut() {
            set_aside(file, "rejected");
            if let Err(error) = file.save(&persisted) {
                error!(%error, "the saved API changes that are still valid could not be saved again");
            }
        }
    }
    Ok((config, state, persisted))
}

/// Validates `source` with `changes` laid over it. When some changes make it invalid, they are
/// left out one by one, each reported, and the changes kept come back too.
///
/// # Errors
/// The file is invalid on its own.
pub(crate) fn lay_over(source: &Source, changes: &Overlay) -> Result<(Config, Option<Overlay>), ConfigError> {
    let (config, skipped, kept) = match source.validate_with(changes) {
        Ok((config, skipped)) => (config, skipped, None),
        Err(error) => {
            source.validate()?;
            error!(%error, "saved API changes no longer make a valid configuration; leaving those out");
            let (kept, dropped) = changes.prune(|candidate| source.validate_with(candidate).is_ok());
            for change in &dropped {
                warn!(%change, "saved API change left out");
            }
            let (config, skipped) = source.validate_with(&kept)?;
            (config, skipped, Some(kept))
        }
    };
    for problem in &skipped {
        warn!(%problem, "a saved API change no longer fits the configuration file; left out");
    }
    Ok((config, kept))
}

/// Serves until SIGTERM or SIGINT; SIGHUP reloads from `path` (the embedded default when
/// `None`).
///
/// # Errors
/// As [`start`].
pub async fn serve(source: Source, path: Option<PathBuf>) -> Result<(), AppError> {
    // Listen for SIGHUP before anything is announced, so an early one cannot end the process.
    let mut hangups = Hangups::new();
    let stop = shutdown_signal();
    // Started as root (to bind port 53, say): serve as an unprivileged user, or not at all.
    let running = start_as(source, path, true).await?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            // The controller logs the outcome.
            _ = hangups.next() => { let _ = running.reload().await; }
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

/// The first health table, every endpoint in its initial state; the snapshot gets its view.
/// (Later ones are built by the controller, which carries health over: `Controller::install`.)
fn health_table(snapshot: &mut Snapshot) -> HealthTable {
    let now = clock();
    let table = HealthTable::new(&snapshot.config, now);
    snapshot.health = Arc::new(table.view(now));
    table
}

/// Advances the analytics clock every second, so that queries read an atomic rather than the
/// clock: an edge.
async fn advance_ticks(tick: Arc<std::sync::atomic::AtomicU64>, cancel: CancellationToken) {
    let started = clock();
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = every.tick() => tick.store(crate::analytics::tick(started.elapsed()), std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// The health tables read the real clock when the server (re)builds them: an edge.
#[allow(clippy::disallowed_methods)]
pub(crate) fn clock() -> std::time::Instant {
    std::time::Instant::now()
}

/// SIGTERM or SIGINT. The handlers are installed when this is called, not when the future
/// is first polled, so that a signal sent while the server is still starting (dropping root,
/// say) stops it cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Ok(mut only), Err(error)) | (Err(error), Ok(mut only)) => {
                    warn!(%error, "cannot listen for one of SIGTERM and SIGINT; the other stops the server");
                    only.recv().await;
                }
                (Err(error), Err(_)) => {
                    warn!(%error, "cannot listen for SIGTERM or SIGINT; stop the server with SIGKILL");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
