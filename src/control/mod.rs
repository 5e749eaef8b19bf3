//! The controller: the one task that changes what the server runs. Reloads (SIGHUP, the API),
//! API changes and shutdown all arrive here as [`Command`]s, one at a time, so two changes can
//! never interleave and none is lost: each is validated whole, written to the state file, and
//! only then published and acknowledged.

pub mod state;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::app::{AppError, build_snapshot, clock, lay_over};
use crate::config::overlay::{ManualFailover, Refusal, StrategyChange};
use crate::config::{Config, ConfigError, FileRegion, Problem, Source};
use crate::dns::server::DnsServer;
use crate::health::prober::{self, HealthTasks, SharedTable, lock};
use crate::health::state::Observation;
use crate::health::table::HealthTable;
use crate::metrics::{FailoverKind, Observers};
use crate::snapshot::{Snapshot, SnapshotStore};
use state::{FailoverEvent, HISTORY_LEN, Persisted, StateFile};

/// A change an operator asks for through the API.
#[derive(Debug, Clone)]
pub enum Change {
    AddRegion(Box<FileRegion>),
    RemoveRegion(String),
    SetWeight { region: String, endpoint: IpAddr, weight: i64 },
    SetDrained { region: String, endpoint: IpAddr, drained: bool },
    SetStrategy(StrategyChange),
    TriggerFailover(ManualFailover),
    ClearFailover { pool: String, from_region: Option<String> },
}

/// Why a change was not made.
#[derive(Debug, Clone)]
pub enum Refused {
    /// Names what does not exist or clashes (404, 409, 422).
    Refusal(Refusal),
    /// The configuration it would make is invalid: every problem, with its field (422).
    Invalid(Vec<Problem>),
    /// It could not be saved, so it was not made (503).
    Unsaved(String),
    /// Probes could not be run (their HTTP client could not be built) (500).
    Probe(String),
    /// The server is shutting down.
    Stopped,
}

/// One endpoint's result of a probe run on demand.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProbeOutcome {
    pub region: String,
    pub endpoint: String,
    /// "up", "degraded" or "failed".
    pub result: String,
    pub rtt_ms: f64,
    pub detail: String,
}

/// What the controller is asked to do.
#[allow(clippy::large_enum_variant)] // a few a minute; boxing would buy nothing
pub enum Command {
    Reload(oneshot::Sender<Result<u64, String>>),
    Change(Change, oneshot::Sender<Result<u64, Refused>>),
    Probe(String, oneshot::Sender<Result<Vec<ProbeOutcome>, Refused>>),
    Shutdown(oneshot::Sender<()>),
}

/// A handle to the controller, for signals, the API and tests.
#[derive(Clone)]
pub struct Control {
    commands: mpsc::Sender<Command>,
    /// The changes in force and the failover history, as last saved.
    persisted: watch::Receiver<Arc<Persisted>>,
}

impl Control {
    /// Reloads configuration, zones and geo database; the new generation, or why not.
    ///
    /// # Errors
    /// The reload was rejected (the running snapshot stays), with the messages of `check-config`.
    pub async fn reload(&self) -> Result<u64, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Reload(reply)).await.map_err(|_| "the server is stopping".to_owned())?;
        answer.await.unwrap_or_else(|_| Err("the server is stopping".into()))
    }

    /// Makes a change; the generation that serves it once it is saved and published.
    ///
    /// # Errors
    /// See [`Refused`]; nothing was changed.
    pub async fn change(&self, change: Change) -> Result<u64, Refused> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Change(change, reply)).await.map_err(|_| Refused::Stopped)?;
        answer.await.unwrap_or(Err(Refused::Stopped))
    }

    /// Probes a region's endpoints now; their results also feed the health state.
    ///
    /// # Errors
    /// No such region.
    pub async fn probe(&self, region: &str) -> Result<Vec<ProbeOutcome>, Refused> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Probe(region.to_owned(), reply)).await.map_err(|_| Refused::Stopped)?;
        answer.await.unwrap_or(Err(Refused::Stopped))
    }

    /// Stops serving, within the grace period.
    pub async fn shutdown(&self) {
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Shutdown(reply)).await.is_ok() {
            let _ = answer.await;
        }
    }

    /// The changes in force and the failover history.
    pub fn persisted(&self) -> Arc<Persisted> {
        self.persisted.borrow().clone()
    }

    async fn send(&self, command: Command) -> Result<(), ()> {
        self.commands.send(command).await.map_err(|_| ())
    }
}

/// Everything the controller owns.
pub struct Controller {
    pub store: Arc<SnapshotStore>,
    pub server: DnsServer,
    pub config: Arc<Config>,
    pub health: Option<HealthTasks>,
    pub table: SharedTable,
    pub source: Source,
    /// Where a reload reads the configuration; `None`: the embedded default.
    pub path: Option<PathBuf>,
    pub persisted: Persisted,
    pub state: Option<StateFile>,
    /// Stops the API and other tasks started beside the DNS server.
    pub cancel: CancellationToken,
    pub observers: Observers,
}

impl Controller {
    /// Starts the controller task; the handle sends it commands.
    pub fn spawn(self) -> (Control, tokio::task::JoinHandle<()>) {
        let (commands, inbox) = mpsc::channel(64);
        let (published, persisted) = watch::channel(Arc::new(self.persisted.clone()));
        let task = tokio::spawn(self.run(inbox, published));
        (Control { commands, persisted }, task)
    }

    async fn run(mut self, mut inbox: mpsc::Receiver<Command>, published: watch::Sender<Arc<Persisted>>) {
        while let Some(command) = inbox.recv().await {
            match command {
                Command::Reload(reply) => {
                    let result = self.reload().await;
                    self.observers.metrics.record_reload(result.is_ok());
                    match &result {
                        Ok(generation) => info!(generation, "configuration reloaded"),
                        Err(error) => error!(%error, "reload rejected; still serving the previous configuration"),
                    }
                    published.send_replace(Arc::new(self.persisted.clone()));
                    let _ = reply.send(result.map_err(|e| e.to_string()));
                }
                Command::Change(change, reply) => {
                    let result = self.change(change).await;
                    published.send_replace(Arc::new(self.persisted.clone()));
                    let _ = reply.send(result);
                }
                Command::Probe(region, reply) => self.probe(&region, reply),
                Command::Shutdown(reply) => {
                    self.shutdown().await;
                    let _ = reply.send(());
                    return;
                }
            }
        }
        self.shutdown().await;
    }

    /// Rebuilds everything from the files, with the API's changes laid over them.
    async fn reload(&mut self) -> Result<u64, AppError> {
        let mut source = match &self.path {
            Some(path) => Source::read(path)?,
            None => Source::embedded_default()?,
        };
        source.set_cpus(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let (mut config, kept) = lay_over(&source, &self.persisted.changes)?;
        if config.server.listen != self.config.server.listen {
            warn!("listen addresses change only with a restart; keeping the bound ones");
            config.server.listen.clone_from(&self.config.server.listen);
        }
        if config.api.as_ref().map(|a| (a.listen, &a.token)) != self.config.api.as_ref().map(|a| (a.listen, &a.token))
            || config.state_dir != self.config.state_dir
        {
            warn!("[api] and state_dir change only with a restart; keeping the running ones");
        }
        config.api.clone_from(&self.config.api);
        config.state_dir.clone_from(&self.config.state_dir);
        if config.server.tcp != self.config.server.tcp {
            crate::dns::server::raise_fd_limit(&config.server); // new TCP limits apply to new connections
        }
        let snapshot = build_snapshot(Arc::new(config), 0, Some(&self.observers))?;
        self.source = source;
        if let Some(kept) = kept {
            // The file no longer allows some saved changes: keep the old state aside and save
            // the rest, so that later changes are checked against what is in force.
            self.persisted.changes = kept;
            if let Some(state) = self.state.as_mut() {
                if let Err(error) = state.set_aside("rejected", unix_now()) {
                    error!(%error, "the state file cannot be moved aside");
                }
                if let Err(error) = state.save(&self.persisted) {
                    error!(%error, "the saved API changes that are still valid could not be saved again");
                }
            }
        }
        let generation = self.install(snapshot).await;
        // Analytics of pools the configuration no longer has are dropped (about 1.5 MB each).
        let pools: Vec<String> = self.config.pools.iter().map(|p| p.name.to_string()).collect();
        self.observers.analytics.retain(|name| pools.iter().any(|p| p == name));
        Ok(generation)
    }

    /// Validates a change whole, saves it, then publishes it; nothing is half-applied.
    async fn change(&mut self, change: Change) -> Result<u64, Refused> {
        let mut persisted = self.persisted.clone();
        let changes = &mut persisted.changes;
        let file = &self.source.file;
        let refused = Refused::Refusal;
        let kind = FieldMap::of(&change);
        let mut triggered = None;
        match change {
            Change::AddRegion(region) => changes.add_region(file, *region).map_err(refused)?,
            Change::RemoveRegion(name) => {
                changes.remove_region(file, &name).map_err(refused)?;
            }
            Change::SetWeight { region, endpoint, weight } => {
                changes.set_weight(file, &region, endpoint, weight).map_err(refused)?;
            }
            Change::SetDrained { region, endpoint, drained } => {
                changes.set_drained(file, &region, endpoint, drained).map_err(refused)?;
            }
            Change::SetStrategy(strategy) => changes.set_strategy(file, strategy).map_err(refused)?,
            Change::TriggerFailover(mut failover) => {
                failover.since = unix_now();
                changes.trigger_failover(file, failover).map_err(refused)?;
                let f = changes.failovers.last().cloned().expect("just added");
                record(&mut persisted.failover_history, &f, "trigger");
                triggered = Some(f.pool);
            }
            Change::ClearFailover { pool, from_region } => {
                for f in changes.clear_failover(&pool, from_region.as_deref()).map_err(refused)? {
                    record(&mut persisted.failover_history, &f, "clear");
                }
            }
        }
        let (mut config, skipped) = self.source.validate_with(&persisted.changes).map_err(|e| kind.invalid(e))?;
        // A change must not quietly switch off another (a pool's regions changed under a
        // manual failover, say): refuse it, naming what it would switch off.
        let before = self.source.validate_with(&self.persisted.changes).map_or(0, |(_, s)| s.len());
        if skipped.len() > before {
            let what: Vec<String> = skipped.iter().map(|p| p.message.clone()).collect();
            let message = format!("this would switch off other changes in force: {}", what.join("; "));
            let field = if matches!(kind, FieldMap::Strategy) { "parameters.regions" } else { "" };
            return Err(Refused::Refusal(Refusal::Conflict { field: field.into(), message }));
        }
        config.server.listen.clone_from(&self.config.server.listen);
        let snapshot =
            self.store.load().rebuild(Arc::new(config), Some(&self.observers)).map_err(|p| kind.invalid_problems(p))?;
        if let Some(state) = &self.state {
            state.save(&persisted).map_err(|e| {
                error!(error = %e, "an API change could not be saved; not made");
                Refused::Unsaved(e.to_string())
            })?;
        }
        self.persisted = persisted;
        let generation = self.install(snapshot).await;
        if let Some(pool) = triggered {
            self.observers.metrics.record_failover(&pool, FailoverKind::Manual);
        }
        info!(generation, "API change applied");
        Ok(generation)
    }

    /// Publishes `snapshot` one generation on, with the health of endpoints it keeps; returns
    /// its generation. The probes go on undisturbed when the change leaves the probe targets as
    /// they were (weights, drains, strategies, failovers); otherwise they restart.
    async fn install(&mut self, mut snapshot: Snapshot) -> u64 {
        let now = clock();
        let mut table = HealthTable::new(&snapshot.config, now);
        let restart = table.targets() != lock(&self.table).targets() || self.health.is_none();
        if restart && let Some(tasks) = self.health.take() {
            tasks.stop().await;
        }
        let generation = {
            // Under the table lock, as the health writer publishes: the new table, the new
            // configuration and its view go out together, and generations never repeat.
            let mut current = lock(&self.table);
            table.carry_over(&current);
            snapshot.health = Arc::new(table.view(now));
            snapshot.generation = self.store.load().generation + 1;
            *current = table;
            self.config = snapshot.config.clone();
            let generation = snapshot.generation;
            self.store.publish(snapshot);
            generation
        };
        if restart {
            // The snapshot is in force whatever happens next: a prober that cannot start (its
            // TLS client cannot be built) leaves health as it stands, loudly.
            match prober::start(self.store.clone(), self.table.clone(), self.observers.metrics.clone()) {
                Ok(tasks) => self.health = Some(tasks),
                Err(error) => error!(%error, "health checks cannot start; health stays as it was"),
            }
        }
        generation
    }

    /// Probes a region's checked endpoints now, without holding up other commands.
    fn probe(&self, region: &str, reply: oneshot::Sender<Result<Vec<ProbeOutcome>, Refused>>) {
        let Some(start) = self.config.regions.iter().position(|r| r.name == region) else {
            let refusal = Refusal::NotFound { field: "region".into(), message: format!("no region {region:?}") };
            let _ = reply.send(Err(Refused::Refusal(refusal)));
            return;
        };
        let first = self.config.first_endpoint(start);
        let (endpoints, targets) = {
            let table = lock(&self.table);
            let endpoints: Vec<(String, Option<usize>)> = self.config.regions[start]
                .endpoints
                .iter()
                .enumerate()
                .map(|(j, e)| (e.address.to_string(), table.endpoint(first + j).and_then(|r| r.target)))
                .collect();
            let mut targets: Vec<(usize, crate::health::table::Target)> = Vec::new();
            for &(_, target) in &endpoints {
                if let Some(t) = target.filter(|t| !targets.iter().any(|(i, _)| i == t)) {
                    targets.push((t, table.targets()[t].clone()));
                }
            }
            (endpoints, targets)
        };
        let sender = self.health.as_ref().map(HealthTasks::sender);
        let region = region.to_owned();
        tokio::spawn(async move {
            let reports = match prober::probe_now(&targets).await {
                Ok(reports) => reports,
                Err(e) => {
                    let _ = reply.send(Err(Refused::Probe(e.to_string())));
                    return;
                }
            };
            let outcomes = endpoints
                .iter()
                .map(|(address, target)| {
                    let report = target.and_then(|t| reports.iter().find(|(i, _, _)| *i == t));
                    match report {
                        Some((_, result, _)) => ProbeOutcome {
                            region: region.clone(),
                            endpoint: address.clone(),
                            result: match result.observation {
                                Observation::Ok => "up",
                                Observation::Degraded => "degraded",
                                Observation::Failed => "failed",
                            }
                            .into(),
                            rtt_ms: result.rtt.as_secs_f64() * 1000.0,
                            detail: result.detail.clone(),
                        },
                        None => ProbeOutcome {
                            region: region.clone(),
                            endpoint: address.clone(),
                            result: "unchecked".into(),
                            rtt_ms: 0.0,
                            detail: "no health check configured".into(),
                        },
                    }
                })
                .collect();
            if let Some(Some(sender)) = sender {
                for report in reports {
                    let _ = sender.send(report).await;
                }
            }
            let _ = reply.send(Ok(outcomes));
        });
    }

    /// Stops the API, the probes and the DNS server, within the grace period.
    async fn shutdown(mut self) {
        let grace = self.config.server.shutdown_grace;
        self.cancel.cancel();
        if let Some(health) = self.health.take() {
            let _ = time::timeout(grace, health.stop()).await;
        }
        match time::timeout(grace, self.server.shutdown_gracefully()).await {
            Ok(()) => info!("stopped"),
            Err(_) => warn!(?grace, "still busy after the grace period; exiting anyway"),
        }
    }
}

fn record(history: &mut Vec<FailoverEvent>, failover: &ManualFailover, action: &str) {
    if history.len() >= HISTORY_LEN {
        history.remove(0);
    }
    history.push(FailoverEvent {
        at: unix_now(),
        pool: failover.pool.clone(),
        action: action.into(),
        from_region: failover.from_region.clone(),
        to_region: failover.to_region.clone(),
    });
}

/// How the configuration paths of a change's problems map to the fields of its request.
#[derive(Debug, Clone, Copy)]
enum FieldMap {
    /// A region in the body: `region[N].endpoints[0].address` is `endpoints[0].address`.
    Region,
    /// `PATCH` of a weight: the field is `weight`.
    Weight,
    /// A strategy: `pool[N].policy` is `strategy`, other keys are `parameters.KEY`.
    Strategy,
    Other,
}

impl FieldMap {
    fn of(change: &Change) -> Self {
        match change {
            Change::AddRegion(_) => Self::Region,
            Change::SetWeight { .. } => Self::Weight,
            Change::SetStrategy(_) => Self::Strategy,
            _ => Self::Other,
        }
    }

    fn field(self, at: &str) -> String {
        let inner = match at.split_once("].") {
            Some((head, rest)) if head.starts_with("region[") || head.starts_with("pool[") => rest,
            _ => at,
        };
        match self {
            Self::Region => inner.to_owned(),
            Self::Weight if inner.ends_with(".weight") => "weight".into(),
            Self::Strategy if inner == "policy" => "strategy".into(),
            Self::Strategy if at.starts_with("pool[") => format!("parameters.{inner}"),
            _ => at.to_owned(),
        }
    }

    fn invalid_problems(self, problems: Vec<Problem>) -> Refused {
        Refused::Invalid(problems.into_iter().map(|p| Problem::new(self.field(&p.at), p.message)).collect())
    }

    fn invalid(self, error: ConfigError) -> Refused {
        match error {
            ConfigError::Invalid { problems, .. } => self.invalid_problems(problems),
            other => Refused::Invalid(vec![Problem::new("", other.to_string())]),
        }
    }
}

/// Seconds since the Unix epoch, for the state file and the API: an edge.
#[allow(clippy::disallowed_methods)]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
