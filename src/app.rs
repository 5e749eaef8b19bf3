//! Wiring: load the first snapshot, bind, serve, and shut down on a signal with a deadline.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::api;
use crate::config::{ConfigError, Source};
use crate::control::load::{self, ApiFiles, LoadError, Prepared};
use crate::control::state::{self, Persisted, StateError, StateFile, StateLock};
use crate::control::{Control, Controller, unix_now};
use crate::dns::server;
use crate::metrics::Observers;
use crate::snapshot::SnapshotStore;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Zone files and the geo database are read as the serving user: say which.
    #[error("{source}\n(read as {user})")]
    LoadAs { user: String, source: LoadError },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Bind(#[from] io::Error),
    #[error(transparent)]
    Api(#[from] api::StartError),
    #[error(transparent)]
    Privileges(#[from] crate::privileges::PrivilegeError),
    #[error(transparent)]
    State(#[from] StateError),
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
    /// The state directory, held for as long as this server runs.
    _state_lock: Option<StateLock>,
}

/// Loads the configuration with the saved API changes laid over it, binds and starts serving.
/// `path` is where reloads read the configuration again (`None`: the embedded default).
///
/// # Errors
/// Invalid configuration or zone data, or an address that cannot be bound.
pub async fn start(source: Source, path: Option<PathBuf>) -> Result<Running, AppError> {
    start_as(source, path, false).await
}

/// As [`start`]; with `drop_root`, a process started as root binds every socket and reads
/// the API's token and TLS files, then becomes `server.user`: the state directory (whose
/// files that user controls), the saved changes, the zone files and the geo database are
/// read only as that user (STYLE.md section 11), who first proves it can write the state
/// directory and locks it. No task that serves or probes runs as root.
///
/// # Errors
/// As [`start`], a user that cannot be become (see `privileges::drop_root`), and a state
/// directory that cannot be written or is held by another process.
pub async fn start_as(source: Source, path: Option<PathBuf>, drop_root: bool) -> Result<Running, AppError> {
    info!(version = env!("CARGO_PKG_VERSION"), "meridian starting");
    let source = load::with_machine(source);
    // The file alone says what is bound and who serves: saved API changes change neither.
    let file = source.validate()?;
    let api_files = match &file.api {
        Some(api) => Some(
            load::read_api_files(api)
                .map_err(|problems| LoadError::Problems { origin: source.origin.clone(), problems })?,
        ),
        None => None,
    };
    // Read as root, as the API's files are: the serving user may not be able to.
    let cluster_credentials = match file.cluster.as_ref().and_then(|c| c.credentials_file.as_ref()) {
        Some(path) => Some(
            load::read_cluster_credentials(path)
                .map_err(|problem| LoadError::Problems { origin: source.origin.clone(), problems: vec![problem] })?,
        ),
        None => None,
    };
    server::raise_fd_limit(&file.server);
    let listeners = server::bind(&file.server.listen, file.server.workers).await?;
    let addrs = listeners.iter().map(server::Listener::local_addr).collect::<io::Result<Vec<_>>>()?;
    let api_listener = match &file.api {
        Some(settings) => Some(api::bind(settings.listen).await?),
        None => None,
    };
    // Absolute, so that messages name the directory wherever the server was started.
    let state_dir = source.state_dir().map(|dir| std::path::absolute(&dir).unwrap_or(dir));
    let identity = if drop_root {
        if let Some(dir) = &state_dir {
            StateFile::create_dir(dir)?; // root may create it; only the serving user reads it
        }
        crate::privileges::drop_root(file.server.user.as_deref(), state_dir.as_deref(), path.is_none())?
    } else {
        crate::privileges::Identity::Unchanged { uid: current_uid() }
    };
    let user = identity.to_string();
    let (mut state, state_lock) = match &state_dir {
        Some(dir) => {
            let as_user = |e: StateError| StateError::As { user: user.clone(), source: Box::new(e) };
            let state = StateFile::open(dir).map_err(as_user)?;
            let lock = state.claim(&user, unix_now())?;
            (Some(state), Some(lock))
        }
        None => (None, None),
    };
    if let Some(path) = &path {
        // A reload reads the configuration again, as this user: say so now, not at the
        // first SIGHUP.
        if let Err(error) = crate::files::read(path, crate::files::SMALL_FILE) {
            warn!(path = %path.display(), %user, %error, "the configuration file cannot be read as the serving user: reloads will fail");
        }
    }
    let mut persisted = read_saved(state.as_mut());
    let observers = Observers::default();
    let prepared = load::prepare(source, &persisted.changes, ApiFiles::Skip, Some(&observers), clock())
        .map_err(|error| AppError::LoadAs { user: user.clone(), source: error })?;
    let Prepared { source, mut snapshot, table, changes, set_aside, rewrite_state, .. } = prepared;
    for change in &set_aside {
        warn!(%change, "saved API change left out: the configuration file no longer allows it");
    }
    if rewrite_state {
        persisted.changes = changes;
        if let Some(file) = state.as_mut() {
            file.replace_rejected(&persisted, unix_now());
        }
    }
    log_loaded(&snapshot);
    let config = snapshot.config.clone();
    snapshot.generation = 1;
    // Signatures are dated from now; the writer moves this on as validity windows pass.
    snapshot.signing_now = unix_now();
    if config.cluster.is_some() {
        snapshot.cluster_revision = persisted.revision;
    }
    // Serials as served from now on (`serial = "auto"` takes the time).
    snapshot.carry_transfers(None, crate::control::unix_now());
    let store = Arc::new(SnapshotStore::new(snapshot));
    let server = server::serve(listeners, store.clone(), observers.clone())?;
    for addr in &addrs {
        info!(%addr, "listening on UDP and TCP");
    }
    let cancel = CancellationToken::new();
    let api_credentials = api_files.map(|files| Arc::new(arc_swap::ArcSwap::from_pointee(files)));
    let cluster = config.cluster.clone().map(|settings| (settings, crate::control::shared::SharedLog::new()));
    let cluster_status = cluster.as_ref().map(|_| Arc::new(crate::control::shared::ClusterStatus::default()));
    let (own_votes, own_votes_out) = match &cluster {
        Some(_) => {
            let (sender, receiver) = tokio::sync::mpsc::channel(1024);
            (Some(sender), Some(receiver))
        }
        None => (None, None),
    };
    let (own_renewals, own_renewals_out) = match &cluster {
        Some(_) => {
            let (sender, receiver) = tokio::sync::mpsc::channel(4096);
            (Some(sender), Some(receiver))
        }
        None => (None, None),
    };
    tokio::spawn(advance_ticks(observers.tick.clone(), cancel.child_token()));
    let controller = Controller {
        observers: observers.clone(),
        store: store.clone(),
        server,
        config: config.clone(),
        table,
        source,
        path,
        persisted,
        state,
        cancel: cancel.clone(),
        api_credentials: api_credentials.clone(),
        shared_log: cluster.as_ref().map(|(_, (log, _))| log.clone()),
        own_votes,
        cluster_status: cluster_status.clone(),
        own_renewals,
    };
    let (control, controller) = controller.spawn();
    if let (Some((settings, (_, writes))), Some(own_votes), Some(own_renewals), Some(cluster_status)) =
        (cluster, own_votes_out, own_renewals_out, cluster_status)
    {
        let run = crate::cluster::run(
            settings,
            cluster_credentials,
            control.clone(),
            writes,
            (own_votes, own_renewals),
            cluster_status.clone(),
            cancel.child_token(),
        );
        tokio::spawn(run);
    }
    let api_addr = match (api_listener, api_credentials, &config.api) {
        (Some(listener), Some(credentials), Some(settings)) => {
            api::log_tokens(&credentials.load().tokens, &settings.tokens);
            let tls = credentials.load().tls.is_some();
            let shared = api::Shared::new(
                store.clone(),
                control.clone(),
                observers,
                credentials,
                settings.limits,
                settings.lockout_exempt.clone(),
                settings.healthz_degraded_status,
            );
            Some(api::serve(listener, tls, shared, cancel.child_token())?)
        }
        _ => None,
    };
    Ok(Running { addrs, api_addr, store, control, controller, _state_lock: state_lock })
}

/// What was loaded, at info.
fn log_loaded(snapshot: &crate::snapshot::Snapshot) {
    for zone in snapshot.zones.iter() {
        info!(zone = %zone.origin, records = zone.record_count, "zone loaded");
    }
    if let Some(geo) = &snapshot.steering.geo {
        info!(networks = geo.networks, locations = geo.location_count(), kind = %geo.description, "geo database loaded");
    }
    for pool in &snapshot.steering.pools {
        info!(pool = %pool.name, policy = pool.policy.name(), regions = pool.regions.len(), "pool ready");
    }
}

fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
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

/// The saved changes of a claimed state directory. A state file that cannot be read or
/// parsed is reported and moved aside, never deleted; the server then starts without it.
fn read_saved(file: Option<&mut StateFile>) -> Persisted {
    let empty = Persisted { format: state::FORMAT, ..Default::default() };
    let Some(file) = file else { return empty };
    match file.load() {
        Ok(persisted) => {
            let count = persisted.changes.count();
            if count > 0 {
                info!(changes = count, path = %file.path().display(), "saved API changes loaded");
            }
            persisted
        }
        Err(error) => {
            let reason = if matches!(error, StateError::Corrupt { .. }) { "corrupt" } else { "unreadable" };
            error!(%error, "the state file cannot be used; serving the configuration without its changes");
            match file.set_aside(reason, unix_now()) {
                Ok(path) => warn!(path = %path.display(), "the state file is kept aside for the operator"),
                Err(error) => error!(%error, "the state file cannot be moved aside; API changes will be refused"),
            }
            empty
        }
    }
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

/// The server reads the real clock where it starts (the first health table) and for the
/// analytics tick: an edge.
#[allow(clippy::disallowed_methods)]
fn clock() -> std::time::Instant {
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
