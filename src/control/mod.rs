//! The controller: the one writer. It owns the configuration, the saved API changes and the
//! health table, and it alone publishes. Reloads (SIGHUP, the API), API changes, probe
//! results and shutdown all arrive here, one at a time, so two changes can never interleave
//! and none is lost: an API change is validated whole, written to the state file, and only
//! then published and acknowledged; a probe result is applied to the health table, and a
//! batch of them published once.
//!
//! What readers see is published as immutable values: the [`Snapshot`] queries read, and
//! beside it a [`Published`] (the snapshot, the health table as of that moment, the saved
//! changes) that the API reads. Neither is ever locked (STYLE.md sections 4 and 11).

mod health;
pub mod leases;
pub mod load;
mod loader;
pub mod pools;
pub mod shared;
pub mod state;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};
use tokio::time;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::changes::Stamp;
use crate::config::names::{clipped_text, plain_path};
use crate::config::overlay::endpoints::{Registration, target_of};
use crate::config::overlay::{ManualFailover, Refusal, StrategyChange};
use crate::config::{Config, ConfigError, FileConfig, FileRegion, Problem, Source};
use crate::dns::server::DnsServer;
use crate::health::prober::{self, HealthTasks, Report};
use crate::health::table::HealthTable;
use crate::metrics::{FailoverKind, Observers};
use crate::snapshot::{Snapshot, SnapshotStore};
pub use health::ProbeOutcome;
use leases::{LeaseKey, LeaseView, Leases};
use load::{ApiFiles, LoadError, Prepared};
use loader::Loaders;
use pools::PoolServing;
use state::{FailoverEvent, HISTORY_LEN, Persisted, StateFile};

/// What the writer last published for the API: a snapshot and, consistent with it (endpoint
/// indexes shift when a region comes or goes), the health table, the saved changes, the
/// configuration file they are laid over, and whether each pool can serve.
#[derive(Debug)]
pub struct Published {
    pub snapshot: Arc<Snapshot>,
    pub health: Arc<HealthTable>,
    pub persisted: Arc<Persisted>,
    /// The configuration file as written, as last read: what each change overrides.
    pub file: Arc<FileConfig>,
    /// Each of the snapshot's pools, in pool order: its regions that can serve.
    pub pools: Arc<[PoolServing]>,
    /// With `[cluster]`: the members heard from, and the connection's state.
    pub cluster: Option<(Arc<shared::ClusterView>, Arc<shared::ClusterStatus>)>,
    /// The leases of registered endpoints, each with its expiry as last renewed.
    pub leases: Arc<LeaseView>,
}

/// A change an operator asks for through the API.
#[derive(Debug, Clone)]
pub enum Change {
    AddRegion(Box<FileRegion>),
    RemoveRegion(String),
    SetWeight {
        region: String,
        endpoint: IpAddr,
        weight: i64,
        /// Reached linearly over this time rather than at once.
        over: Option<Duration>,
    },
    SetDrained {
        region: String,
        endpoint: IpAddr,
        drained: bool,
    },
    SetStrategy(StrategyChange),
    TriggerFailover(ManualFailover),
    ClearFailover {
        pool: String,
        from_region: Option<String>,
    },
    /// Takes out every setting of the change with this id: they follow the file again.
    Revert(u64),
    /// Registers endpoints into a region (`PUT`, or a bulk `POST` when `bulk`), each
    /// replacing the region's endpoint of its address, with a lease when it has a `ttl`.
    PutEndpoints {
        region: String,
        items: Vec<Registration>,
        bulk: bool,
    },
    /// Takes an endpoint out of its region; its last, while a pool lists it, only `force`d.
    RemoveEndpoint {
        region: String,
        address: String,
        force: bool,
    },
    /// Removes the registered endpoints whose leases ran out (the writer's own change).
    ExpireLeases(Vec<LeaseKey>),
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

/// What the controller is asked to do.
#[allow(clippy::large_enum_variant)] // a few a minute; boxing would buy nothing
pub enum Command {
    Reload(oneshot::Sender<Result<Reloaded, String>>),
    /// A change, and the name of the token that asked for it.
    Change(Change, String, oneshot::Sender<Result<u64, Refused>>),
    Probe(String, oneshot::Sender<Result<Vec<ProbeOutcome>, Refused>>),
    /// The shared log's value at a revision, as the cluster edge read it.
    Remote {
        revision: u64,
        value: Vec<u8>,
    },
    /// Another vantage point's vote on an endpoint ("region/address"), as it arrived.
    Vote {
        vantage: String,
        endpoint: String,
        down: bool,
    },
    /// A pushed load report for the endpoint "region/address"; answered false if it has none.
    Load {
        endpoint: String,
        load: f64,
        reply: oneshot::Sender<bool>,
    },
    /// Renews the lease of a registered endpoint; answers its TTL.
    Heartbeat(LeaseKey, oneshot::Sender<Result<Duration, Refused>>),
    /// Another instance of the cluster renewed a lease.
    Renewed(LeaseKey),
    Shutdown(oneshot::Sender<()>),
}

/// What a reload put in force.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The generation that serves it.
    pub generation: u64,
    /// Zones whose change was refused (their served version kept), each with why.
    pub refused_zones: Vec<String>,
}

/// A handle to the controller, for signals, the API and tests.
#[derive(Clone)]
pub struct Control {
    commands: mpsc::Sender<Command>,
    /// What the writer last published; lock-free to read.
    published: Arc<ArcSwap<Published>>,
}

impl Control {
    /// Reloads configuration, zones and geo database; the new generation, or why not.
    ///
    /// # Errors
    /// The reload was rejected (the running snapshot stays), with the messages of `check-config`.
    pub async fn reload(&self) -> Result<u64, String> {
        self.reload_reporting().await.map(|r| r.generation)
    }

    /// As [`Control::reload`], with the zones whose change it refused.
    ///
    /// # Errors
    /// As [`Control::reload`].
    pub async fn reload_reporting(&self) -> Result<Reloaded, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Reload(reply)).await.map_err(|_| "the server is stopping".to_owned())?;
        answer.await.unwrap_or_else(|_| Err("the server is stopping".into()))
    }

    /// Makes a change, recorded as made with the token named `token`; the generation that
    /// serves it once it is saved and published.
    ///
    /// # Errors
    /// See [`Refused`]; nothing was changed.
    pub async fn change(&self, change: Change, token: &str) -> Result<u64, Refused> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Change(change, token.to_owned(), reply)).await.map_err(|_| Refused::Stopped)?;
        answer.await.unwrap_or(Err(Refused::Stopped))
    }

    /// Renews the lease of `address` in `region` for a full TTL; answers the TTL. Cheap: no
    /// validation, no state-file write, nothing published.
    ///
    /// # Errors
    /// No such registered endpoint (404), or one without a lease (409).
    pub async fn heartbeat(&self, region: &str, address: &str) -> Result<Duration, Refused> {
        let (reply, answer) = oneshot::channel();
        let key = LeaseKey::new(region, address);
        self.send(Command::Heartbeat(key, reply)).await.map_err(|_| Refused::Stopped)?;
        answer.await.unwrap_or(Err(Refused::Stopped))
    }

    /// Probes a region's endpoints now; their results are also queued for the health state
    /// like any probe's (and dropped, as every result in flight, if a change of the probe
    /// targets comes before they are applied).
    ///
    /// # Errors
    /// No such region.
    pub async fn probe(&self, region: &str) -> Result<Vec<ProbeOutcome>, Refused> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Probe(region.to_owned(), reply)).await.map_err(|_| Refused::Stopped)?;
        answer.await.unwrap_or(Err(Refused::Stopped))
    }

    /// Hands the writer the shared log's value at `revision` (the cluster edge's watch): it is
    /// applied when newer than what is in force.
    pub async fn remote(&self, revision: u64, value: Vec<u8>) {
        let _ = self.send(Command::Remote { revision, value }).await;
    }

    /// Hands the writer another vantage point's vote; dropped when the writer is busy, as a
    /// newer vote follows within a probe interval.
    pub fn vote(&self, vantage: String, endpoint: String, down: bool) {
        let _ = self.commands.try_send(Command::Vote { vantage, endpoint, down });
    }

    /// Hands the writer a pushed load report (a fraction of capacity) for an endpoint; whether
    /// the endpoint exists. Applied and published before this returns.
    ///
    /// # Errors
    /// The server is stopping.
    pub async fn push_load(&self, region: &str, address: IpAddr, load: f64) -> Result<bool, Refused> {
        let (reply, answer) = oneshot::channel();
        let endpoint = format!("{region}/{address}");
        self.send(Command::Load { endpoint, load, reply }).await.map_err(|_| Refused::Stopped)?;
        answer.await.map_err(|_| Refused::Stopped)
    }

    /// Hands the writer a lease renewal another instance heard; dropped when the writer is
    /// busy (the lease's next heartbeat renews it again).
    pub fn renewed(&self, key: LeaseKey) {
        let _ = self.commands.try_send(Command::Renewed(key));
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
        self.published.load().persisted.clone()
    }

    /// The snapshot, health table and saved changes as last published, consistent with each
    /// other. Lock-free: the writer swaps a new value in; it never changes this one.
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
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
    /// The health of every endpoint; the writer alone changes it.
    pub table: HealthTable,
    pub source: Source,
    /// Where a reload reads the configuration; `None`: the embedded default.
    pub path: Option<PathBuf>,
    pub persisted: Persisted,
    pub state: Option<StateFile>,
    /// Stops the API and other tasks started beside the DNS server.
    pub cancel: CancellationToken,
    pub observers: Observers,
    /// The API's token and TLS configuration, when it serves: a reload reads their files
    /// again and replaces them.
    pub api_credentials: Option<load::ApiCredentials>,
    /// With `[cluster]`: where changes are written before they are made.
    pub shared_log: Option<shared::SharedLog>,
    /// With `[cluster]`: where this instance's votes go for the other instances.
    pub own_votes: Option<mpsc::Sender<shared::OwnVote>>,
    /// With `[cluster]`: the connection's state, as its edge keeps it.
    pub cluster_status: Option<Arc<shared::ClusterStatus>>,
    /// With `[cluster]`: where this instance's lease renewals go for the other instances.
    pub own_renewals: Option<mpsc::Sender<LeaseKey>>,
}

/// The controller as it runs: what it owns, the probes it started and where their results
/// arrive, and where it publishes for the API.
struct Writer {
    own: Controller,
    /// The other vantage points' latest votes (with `[cluster]`).
    votes: crate::health::quorum::Votes,
    /// Whether no other vantage point has a fresh vote (with `[cluster]`).
    isolated: bool,
    /// When every endpoint is judged again, as votes age out (with `[cluster]`).
    next_judgement: Instant,
    /// When the writer started, and whether isolation was said: an instance hears no one
    /// in its first moments, which is no news.
    started: Instant,
    isolation_warned: bool,
    /// `own.source.file`, shared with what is published (read again only by a reload).
    file: Arc<FileConfig>,
    probes: Option<HealthTasks>,
    reports: Option<mpsc::Receiver<Report>>,
    published: Arc<ArcSwap<Published>>,
    /// The threads reloads are built on, in turns (see `loader`).
    loaders: Loaders,
    /// NOTIFY being sent, by zone and secondary: a newer serial's replaces an older one's.
    notifying: std::collections::HashMap<(hickory_proto::rr::Name, std::net::SocketAddr), CancellationToken>,
    /// When `publish_health` last judged the view: load reports that aged out before this
    /// were logged and let go, and the table's next change is counted from it.
    loads_checked: Instant,
    /// When each registered endpoint's lease runs out.
    leases: Leases,
}

/// The token name the writer's own removals of expired registrations are recorded under.
const LEASE_TOKEN: &str = "lease-expiry";

/// Probe results taken in one go before publishing: a burst of results publishes once.
const REPORTS_PER_PUBLISH: usize = 256;

/// How often the writer notes that it is turning (`meridian_writer_heartbeat_timestamp_seconds`),
/// even with nothing to do: a heartbeat that stops means a writer stuck in a command, and then
/// no health change, API change or reload is applied.
const HEARTBEAT: Duration = Duration::from_secs(10);

impl Controller {
    /// Starts the controller task (which starts the health checks); the handle sends it
    /// commands and reads what it publishes. The store must hold the first snapshot, built
    /// with `table`'s view.
    pub fn spawn(self) -> (Control, tokio::task::JoinHandle<()>) {
        let (commands, inbox) = mpsc::channel(64);
        let snapshot = self.store.load();
        let pools: Arc<[PoolServing]> = pools::of(&snapshot).into();
        pools::log_flips(&[], &pools); // a pool that starts with no region able to serve
        self.observers.metrics.record_writer_heartbeat(unix_now());
        let file = Arc::new(self.source.file.clone());
        let first = Published {
            snapshot,
            health: Arc::new(self.table.clone()),
            persisted: Arc::new(self.persisted.clone()),
            file: file.clone(),
            pools,
            cluster: self.cluster_status.clone().map(|status| (Arc::default(), status)),
            leases: Arc::default(),
        };
        let published = Arc::new(ArcSwap::from_pointee(first));
        let writer = Writer {
            own: self,
            file,
            votes: crate::health::quorum::Votes::default(),
            // Until the others are heard; said in the log only once report_max_age has passed.
            isolated: true,
            isolation_warned: false,
            started: clock(),
            next_judgement: clock(),
            probes: None,
            reports: None,
            published: published.clone(),
            loaders: Loaders::default(),
            notifying: Default::default(),
            loads_checked: clock(),
            leases: Leases::default(),
        };
        let task = tokio::spawn(writer.run(inbox));
        (Control { commands, published }, task)
    }
}

impl Writer {
    async fn run(mut self, mut inbox: mpsc::Receiver<Command>) {
        self.start_probes();
        self.leases.sync(&self.own.persisted.changes, clock(), unix_now_millis());
        self.publish_health();
        // Secondaries hear of every zone at start, as BIND and Knot tell them on loading.
        let snapshot = self.own.store.load();
        let zones: Vec<(hickory_proto::rr::Name, u32)> =
            snapshot.zones.iter().map(|z| (z.origin.clone(), z.serial())).collect();
        self.notify(&snapshot, &zones);
        let mut heartbeat = time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
        loop {
            self.expire_leases().await;
            // From the instant the view was last judged, not from now: an expiry, hold or step
            // that fell due while a command kept the writer busy is published at once rather
            // than skipped as past.
            let mut wake = self.own.table.next_change(self.loads_checked);
            if let Some(at) = self.leases.next_expiry() {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
            if self.own.config.cluster.is_some() {
                // Votes age out: judge again every second, however busy the writer is.
                if clock() >= self.next_judgement {
                    self.next_judgement = clock() + Duration::from_secs(1);
                    self.judge_all();
                    self.publish_health();
                }
                wake = Some(wake.map_or(self.next_judgement, |w| w.min(self.next_judgement)));
            }
            if let Some(at) = self.signing_wake() {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
            tokio::select! {
                biased;
                command = inbox.recv() => match command {
                    None => break,
                    Some(Command::Shutdown(reply)) => {
                        self.shutdown().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(command) => self.handle(command).await,
                },
                Some(report) = next_report(&mut self.reports) => {
                    self.observe(report);
                    for _ in 1..REPORTS_PER_PUBLISH {
                        let Some(Ok(more)) = self.reports.as_mut().map(mpsc::Receiver::try_recv) else { break };
                        self.observe(more);
                    }
                    self.publish_health();
                }
                () = sleep_until(wake) => self.publish_health(),
                _ = heartbeat.tick() => self.own.observers.metrics.record_writer_heartbeat(unix_now()),
            }
        }
        self.shutdown().await;
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Reload(reply) => {
                let result = self.reload().await;
                self.own.observers.metrics.record_reload(result.is_ok());
                match &result {
                    Ok(reloaded) => info!(generation = reloaded.generation, "configuration reloaded"),
                    Err(error) => error!(%error, "reload rejected; still serving the previous configuration"),
                }
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }
            Command::Change(change, token, reply) => {
                // A registration sent again renews its lease.
                let renewed: Vec<LeaseKey> = match &change {
                    Change::PutEndpoints { region, items, .. } => {
                        items.iter().map(|i| LeaseKey::new(region, target_of(&i.endpoint))).collect()
                    }
                    _ => Vec::new(),
                };
                let result = self.change(change, &token).await;
                if result.is_ok() {
                    for key in &renewed {
                        self.leases.renew(key, clock(), unix_now_millis());
                    }
                }
                let _ = reply.send(result);
            }
            Command::Heartbeat(key, reply) => {
                let renewed = self.heartbeat(&key);
                if renewed.is_ok()
                    && let Some(out) = &self.own.own_renewals
                {
                    // Dropped when the edge is behind: the next heartbeat is shared again.
                    let _ = out.try_send(key);
                }
                let _ = reply.send(renewed);
            }
            Command::Renewed(key) => {
                self.leases.renew(&key, clock(), unix_now_millis());
            }
            Command::Probe(region, reply) => self.probe(&region, reply),
            Command::Remote { revision, value } => self.apply_remote(revision, &value).await,
            Command::Vote { vantage, endpoint, down } => {
                self.own.observers.metrics.record_cluster_report(&vantage);
                // A vote on an endpoint this instance does not have is not kept: a peer with
                // another configuration, or a hostile publisher, cannot grow the table.
                if let Some(index) = self.own.table.index_of(&endpoint) {
                    self.votes.record(&endpoint, &vantage, down, clock());
                    if self.judge(index) {
                        self.publish_health();
                    }
                }
            }
            Command::Load { endpoint, load, reply } => {
                let now = clock();
                let known = health::push_load(&mut self.own.table, &endpoint, load, now, &self.own.observers.metrics);
                if known {
                    self.publish_health();
                }
                let _ = reply.send(known);
            }
            Command::Shutdown(_) => unreachable!("handled by run"),
        }
    }

    /// Applies one probe result to the table (logs and metrics included), then lets the
    /// latency policy re-choose from the RTTs it moved; publishes nothing.
    fn observe(&mut self, (target, result, at): Report) {
        health::apply(&mut self.own.table, target, &result, at, &self.own.observers.metrics);
        if self.own.config.cluster.is_some() {
            let rtt_ms = (result.observation != crate::health::state::Observation::Failed)
                .then_some(result.rtt.as_secs_f64() * 1e3);
            for endpoint in self.own.table.endpoints_of_target(target) {
                self.share_vote(endpoint, rtt_ms);
                self.judge(endpoint);
            }
        }
        crate::steering::latency::steer(&mut self.own.table, &self.own.config);
    }

    /// Sends this instance's vote on an endpoint to the cluster edge; dropped when the edge
    /// is behind (the next probe votes again).
    fn share_vote(&self, endpoint: usize, rtt_ms: Option<f64>) {
        let (Some(out), Some((name, _))) = (&self.own.own_votes, self.own.table.name_of(endpoint)) else { return };
        let status = self.own.table.endpoint(endpoint).map_or(crate::health::state::Status::Up, |r| r.status);
        let vote = shared::OwnVote {
            endpoint: name.clone(),
            down: self.own.table.own_down(endpoint),
            status: status.as_str(),
            rtt_ms,
        };
        let _ = out.try_send(vote);
    }

    /// Applies the vantage points' quorum to one checked endpoint; whether what answers
    /// follow changed (then logged).
    fn judge(&mut self, endpoint: usize) -> bool {
        let Some(cluster) = &self.own.config.cluster else { return false };
        let Some((name, true)) = self.own.table.name_of(endpoint) else { return false };
        let now = clock();
        let own_down = self.own.table.own_down(endpoint);
        let verdict =
            self.votes.verdict(name, &cluster.name, own_down, cluster.health_quorum, cluster.report_max_age, now);
        let name = name.clone();
        let changed = self.own.table.set_verdict(endpoint, verdict.clone(), now);
        if changed {
            let by: Vec<&str> = verdict.down_votes.iter().map(|v| &**v).collect();
            let word = if verdict.down { "down" } else { "up" };
            info!(
                endpoint = %name,
                down_votes = %by.join(", "),
                voters = verdict.voters,
                needed = verdict.needed,
                own_view = verdict.own_view,
                "cluster verdict: {word}: {} of {} vantage points say down",
                by.len(),
                verdict.voters
            );
        }
        changed
    }

    /// The cluster's members as the API shows them.
    fn cluster_view(&self) -> Arc<shared::ClusterView> {
        let Some(cluster) = &self.own.config.cluster else { return Arc::default() };
        let mut members = self.votes.members(cluster.report_max_age, clock());
        members.retain(|(v, _)| **v != *cluster.name);
        Arc::new(shared::ClusterView { members, isolated: self.isolated })
    }

    /// Judges every checked endpoint again (votes age out) and notes whether this instance
    /// hears from no other vantage point.
    fn judge_all(&mut self) {
        let Some(cluster) = &self.own.config.cluster else { return };
        let heard = self.votes.members(cluster.report_max_age, clock());
        let others = heard.iter().filter(|(v, _)| **v != *cluster.name).count();
        let isolated = others == 0;
        let settled = clock().saturating_duration_since(self.started) > cluster.report_max_age;
        if isolated && settled && !self.isolation_warned {
            self.isolation_warned = true;
            warn!("cluster: no other vantage point reported within report_max_age: health is this instance's own view");
        }
        if !isolated && self.isolated {
            self.isolation_warned = false;
            info!(members = others + 1, "cluster: other vantage points report: health is decided by quorum");
        }
        self.isolated = isolated;
        self.own.observers.metrics.set_cluster(isolated, others + 1);
        for endpoint in 0..self.own.table.len() {
            self.judge(endpoint);
        }
    }

    /// Publishes the health table for the API, and a new snapshot when the view queries
    /// read has changed (a transition, or a short-TTL hold or failback delay that ran out).
    fn publish_health(&mut self) {
        let now = clock();
        health::expire_loads(&mut self.own.table, self.loads_checked, now, &self.own.observers.metrics);
        self.loads_checked = now;
        let view = self.own.table.view(now);
        let current = self.own.store.load();
        let snapshot = if *current.health == view { current } else { Arc::new(current.with_health(view)) };
        self.publish(snapshot);
    }

    /// The one place anything is published: first what the API reads, then the snapshot
    /// (whose `watch` tells waiters), so a waiter that sees the generation sees both. A pool
    /// that goes down or comes back with this snapshot is logged here, once.
    fn publish(&mut self, snapshot: Arc<Snapshot>) {
        let snapshot = self.dated(snapshot);
        let changed = !Arc::ptr_eq(&snapshot, &self.own.store.load());
        let before = self.published.load().pools.clone();
        let pools = if changed {
            let after: Arc<[PoolServing]> = pools::of(&snapshot).into();
            pools::log_flips(&before, &after);
            after
        } else {
            before
        };
        self.published.store(Arc::new(Published {
            snapshot: snapshot.clone(),
            health: Arc::new(self.own.table.clone()),
            persisted: Arc::new(self.own.persisted.clone()),
            file: self.file.clone(),
            pools,
            cluster: self.own.cluster_status.clone().map(|status| (self.cluster_view(), status)),
            leases: self.leases.view(),
        }));
        if changed {
            self.own.store.publish(snapshot);
        }
    }

    /// `snapshot`, or the same with its signatures dated from now when a signed zone's
    /// validity window has moved since it was dated (see `dnssec::window`): the one place
    /// the signing time moves on, so queries never read the clock.
    fn dated(&self, snapshot: Arc<Snapshot>) -> Arc<Snapshot> {
        let now = unix_now();
        if !snapshot.is_signing_stale(now) {
            return snapshot;
        }
        let mut dated = snapshot.with_signing_now(now);
        if Arc::ptr_eq(&snapshot, &self.own.store.load()) {
            dated.generation += 1; // replaces the snapshot in force: a new publication
        }
        Arc::new(dated)
    }

    /// When the next signed zone's validity window starts (a second after, so that the
    /// system clock has passed it when the writer wakes): the writer wakes to date the
    /// snapshot's signatures anew.
    fn signing_wake(&self) -> Option<Instant> {
        let snapshot = self.own.store.load();
        let next = snapshot.signing.next_change(snapshot.signing_now)?;
        let wait = next.saturating_sub(unix_now()) + 1;
        Some(clock() + Duration::from_secs(wait))
    }

    /// Starts probing the table's targets; their results come to this writer.
    fn start_probes(&mut self) {
        // Each instance of a cluster spreads its probes by its own name; standalone, by none.
        let seed = self
            .own
            .config
            .cluster
            .as_ref()
            .map_or(0, |c| c.name.bytes().fold(0u64, |h, b| crate::splitmix::splitmix64(h ^ u64::from(b))));
        match prober::start(self.own.table.targets(), seed) {
            Ok((tasks, reports)) => {
                self.probes = Some(tasks);
                self.reports = Some(reports);
            }
            // The snapshot is in force whatever happens next: a prober that cannot start
            // (its TLS client cannot be built) leaves health as it stands, loudly.
            Err(error) => error!(%error, "health checks cannot start; health stays as it was"),
        }
    }

    /// Rebuilds everything from the files, with the API's changes laid over them.
    async fn reload(&mut self) -> Result<Reloaded, LoadError> {
        let (path, changes, observers) =
            (self.own.path.clone(), self.own.persisted.changes.clone(), self.own.observers.clone());
        // `[api]` is restart-only: its token and TLS files are read again from the running paths.
        let api = self.own.api_credentials.as_ref().and(self.own.config.api.clone());
        let served = self.own.store.load();
        // Reading zone files and a geo database takes a while: off the runtime's threads, on
        // the loading thread whose turn it is. The writer waits; nothing else changes.
        let (mut prepared, credentials, carried) = self
            .loaders
            .run(move || {
                let source = match &path {
                    Some(path) => Source::read(path)?,
                    None => Source::embedded_default()?,
                };
                let mut prepared = load::prepare(source, &changes, ApiFiles::Skip, Some(&observers), clock())?;
                // Diffing zones takes a while too: here, off the runtime's threads.
                let carried = prepared.snapshot.carry_transfers(Some(&served), unix_now());
                Ok::<_, LoadError>((prepared, api.as_ref().map(load::reread_api_files), carried))
            })
            .await?;
        for refused in &carried.refused {
            warn!(%refused, "reload: a zone's change is refused; the rest of the reload goes ahead");
        }
        self.keep_restart_only(&mut prepared);
        for change in &prepared.set_aside {
            warn!(%change, "saved API change left out: the configuration file no longer allows it");
        }
        let Prepared { source, snapshot, table, changes, rewrite_state, .. } = prepared;
        log_shadowed(&changes, &self.own.source.file, &source.file);
        self.own.source = source;
        self.file = Arc::new(self.own.source.file.clone());
        if rewrite_state {
            // The file no longer allows some saved changes: keep the old state aside and save
            // the rest, so that later changes are checked against what is in force.
            self.own.persisted.changes = changes;
            if let Some(state) = self.own.state.as_mut() {
                state.replace_rejected(&self.own.persisted, unix_now());
            }
        }
        let generation = self.install(snapshot, table).await;
        self.notify(&self.own.store.load(), &carried.changed);
        self.renew_api_credentials(credentials);
        // Analytics of pools the configuration no longer has are dropped (about 1.5 MB each).
        let pools: Vec<String> = self.own.config.pools.iter().map(|p| p.name.to_string()).collect();
        self.own.observers.analytics.retain(|name| pools.iter().any(|p| p == name));
        Ok(Reloaded { generation, refused_zones: carried.refused })
    }

    /// Puts the API's token and TLS files as a reload read them in force. Files the serving
    /// user cannot read (kept readable by root alone, read at start before root was dropped)
    /// or that are broken leave the running credentials in place, with a warning: the rest of
    /// the reload stands. Neither the token nor a key is ever logged.
    /// Sends NOTIFY for each of `zones` at its new serial to the secondaries it lists (see
    /// `dns::notify`), replacing any NOTIFY of an older serial still being sent.
    fn notify(&mut self, snapshot: &Snapshot, zones: &[(hickory_proto::rr::Name, u32)]) {
        for (zone, serial) in zones {
            let key = crate::zone::name::NameKey::new(zone);
            let (Some(served), Some(soa)) =
                (snapshot.transfers.get(key.as_bytes()), snapshot.zones.get(key.as_bytes()).map(|z| z.soa()))
            else {
                continue;
            };
            for &target in &served.notify {
                let stop = self.own.cancel.child_token();
                if let Some(older) = self.notifying.insert((zone.clone(), target), stop.clone()) {
                    older.cancel();
                }
                let id = (crate::splitmix::splitmix64(unix_now_millis() ^ u64::from(*serial) ^ target.port() as u64)
                    >> 48) as u16;
                tokio::spawn(crate::dns::notify::notify(soa.clone(), target, id, stop));
            }
        }
        self.notifying.retain(|_, stop| !stop.is_cancelled());
    }

    fn renew_api_credentials(&self, read: Option<load::ApiReread>) {
        let (Some(running), Some(read)) = (&self.own.api_credentials, read) else { return };
        let current = running.load_full();
        let unreadable = |what: &str, problems: &[Problem]| {
            let problems = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            warn!(
                %problems,
                "reload could not read the admin API's {what} again: the API keeps the one in force (files only \
                 root can read are read at start alone: restart, or let the serving user read them, e.g. with \
                 systemd's LoadCredential=)"
            );
        };
        let tokens = match read.tokens {
            Ok(tokens) => {
                let names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
                let changed = current.tokens != tokens;
                info!(changed, tokens = %names.join(", "), "reload read the admin API's tokens again; new requests use them");
                tokens
            }
            Err(problems) => {
                unreadable("tokens", &problems);
                current.tokens.clone()
            }
        };
        let tls = match read.tls {
            Ok(Some(tls)) => {
                info!("reload read the admin API's TLS certificate and key again; new connections use them");
                Some(tls)
            }
            Ok(None) => None,
            Err(problems) => {
                unreadable("TLS certificate and key", &problems);
                current.tls.clone()
            }
        };
        running.store(Arc::new(load::ApiStart { tokens, tls }));
    }

    /// Listen addresses, `[api]`, `state_dir`, `[cluster]` and `[dnstap]` change only with a restart: a reload keeps
    /// the running ones.
    fn keep_restart_only(&self, prepared: &mut Prepared) {
        let running = &self.own.config;
        let config = Arc::make_mut(&mut prepared.snapshot.config);
        if config.server.listen != running.server.listen {
            warn!("listen addresses change only with a restart; keeping the bound ones");
            config.server.listen.clone_from(&running.server.listen);
        }
        if config.api != running.api || config.state_dir != running.state_dir {
            warn!("[api] and state_dir change only with a restart; keeping the running ones");
        }
        config.api.clone_from(&running.api);
        config.state_dir.clone_from(&running.state_dir);
        if config.cluster != running.cluster {
            warn!("[cluster] changes only with a restart; keeping the running one");
            config.cluster.clone_from(&running.cluster);
        }
        if config.dnstap != running.dnstap {
            warn!("[dnstap] changes only with a restart; keeping the running one");
            config.dnstap.clone_from(&running.dnstap);
        }
        if config.server.tcp != running.server.tcp {
            crate::dns::server::raise_fd_limit(&config.server); // new TCP limits apply to new connections
        }
    }

    /// Validates a change whole, saves it (with a cluster, first writes it to the shared log
    /// against the revision it was validated on), then publishes it; nothing is half-applied.
    /// A write that loses a race to another instance is validated again on the state that
    /// won, and made or refused on it.
    async fn change(&mut self, change: Change, token: &str) -> Result<u64, Refused> {
        const RACES: usize = 32;
        for _ in 0..RACES {
            let mut staged = self.stage(change.clone(), token)?;
            if let Some(log) = &self.own.shared_log {
                let mut value = staged.persisted.clone();
                value.revision = None;
                let bytes = serde_json::to_vec(&value).map_err(|e| Refused::Unsaved(e.to_string()))?;
                match log.write(bytes, self.own.persisted.revision).await {
                    Ok(revision) => staged.persisted.revision = Some(revision),
                    Err(shared::LogError::Conflict { latest }) => {
                        if let Some((revision, value)) = latest {
                            self.apply_remote(revision, &value).await;
                        }
                        continue;
                    }
                    Err(shared::LogError::Unavailable(why)) => {
                        warn!(%why, "an API change could not be written to the cluster's shared log; not made");
                        return Err(Refused::Unsaved(format!(
                            "the cluster's shared log cannot be written ({why}); nothing was changed"
                        )));
                    }
                }
            }
            return self.commit(staged).await;
        }
        Err(Refused::Refusal(Refusal::Conflict {
            field: String::new(),
            message: format!(
                "other instances changed the shared state {RACES} times while this change was made: send it again"
            ),
        }))
    }

    /// The change laid over the changes in force, its new settings stamped with the next id,
    /// the time and `token`'s name, validated whole and built into a snapshot; nothing is
    /// saved or published yet.
    fn stage(&self, change: Change, token: &str) -> Result<Staged, Refused> {
        let mut persisted = self.own.persisted.clone();
        let changes = &mut persisted.changes;
        let file = &self.own.source.file;
        let refused = Refused::Refusal;
        let mut kind = FieldMap::of(&change);
        let now = unix_now();
        let mut triggered = None;
        let mut reverted = None;
        match change {
            Change::AddRegion(region) => changes.add_region(file, *region).map_err(refused)?,
            Change::RemoveRegion(name) => {
                changes.remove_region(file, &name).map_err(refused)?;
            }
            Change::SetWeight { region, endpoint, weight, over: None } => {
                changes.set_weight(file, &region, endpoint, weight).map_err(refused)?;
            }
            Change::SetWeight { region, endpoint, weight, over: Some(over) } => {
                changes.ramp_weight(file, &region, endpoint, weight, over, unix_now_millis()).map_err(refused)?;
            }
            Change::SetDrained { region, endpoint, drained } => {
                changes.set_drained(file, &region, endpoint, drained).map_err(refused)?;
            }
            Change::SetStrategy(strategy) => changes.set_strategy(file, strategy).map_err(refused)?,
            Change::TriggerFailover(mut failover) => {
                failover.since = now;
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
            Change::Revert(id) => {
                *changes = self.own.source.revert(changes, id).map_err(refused)?;
                reverted = Some(id);
            }
            Change::PutEndpoints { region, items, bulk } => {
                let addresses: Vec<String> = items.iter().map(|i| target_of(&i.endpoint).to_owned()).collect();
                changes.put_endpoints(file, &region, items, bulk).map_err(refused)?;
                kind = FieldMap::endpoints(&changes.merged(file), &region, &addresses, bulk);
            }
            Change::RemoveEndpoint { region, address, force } => {
                changes.remove_endpoint(file, &region, &address, force).map_err(refused)?;
            }
            Change::ExpireLeases(keys) => {
                let mut removed = 0;
                for key in keys {
                    // Only what is still registered under a lease: a PUT without one since keeps it.
                    if changes.registration(&key.region, &key.address).is_some_and(|r| r.ttl.is_some()) {
                        changes.remove_endpoint(file, &key.region, &key.address, true).map_err(refused)?;
                        removed += 1;
                    }
                }
                if removed == 0 {
                    return Err(refused(Refusal::NotFound {
                        field: String::new(),
                        message: "no lease ran out".into(),
                    }));
                }
            }
        }
        let id = persisted.last_change_id + 1;
        let stamp = persisted.changes.stamp_new(id, now, token);
        if stamp.is_some() {
            persisted.last_change_id = id;
        }
        let (mut config, skipped) = self.own.source.validate_with(&persisted.changes).map_err(|e| kind.invalid(e))?;
        // A change must not quietly switch off another (a pool's regions changed under a
        // manual failover, say): refuse it, naming what it would switch off.
        let before = self.own.source.validate_with(&self.own.persisted.changes).map_or(0, |(_, s)| s.len());
        if skipped.len() > before {
            let what: Vec<String> = skipped.iter().map(|p| p.message.clone()).collect();
            let message = format!("this would switch off other changes in force: {}", what.join("; "));
            let field = if matches!(kind, FieldMap::Strategy) { "parameters.regions" } else { "" };
            return Err(Refused::Refusal(Refusal::Conflict { field: field.into(), message }));
        }
        config.server.listen.clone_from(&self.own.config.server.listen);
        let observers = Some(&self.own.observers);
        let snapshot =
            self.own.store.load().rebuild(Arc::new(config), observers).map_err(|p| kind.invalid_problems(p))?;
        let table = HealthTable::new(&snapshot.config, clock());
        Ok(Staged { persisted, snapshot, table, triggered, stamp, reverted, token: token.to_owned() })
    }

    /// Saves a staged change locally and publishes it; its generation.
    async fn commit(&mut self, staged: Staged) -> Result<u64, Refused> {
        let Staged { persisted, snapshot, table, triggered, stamp, reverted, token } = staged;
        if let Some(state) = &self.own.state
            && let Err(e) = state.save(&persisted)
        {
            if self.own.shared_log.is_none() {
                error!(error = %e, "an API change could not be saved; not made");
                return Err(Refused::Unsaved(e.to_string()));
            }
            // The shared log holds it: this instance serves it, and catches up from the log
            // after a restart.
            error!(error = %e, "an API change in the cluster's shared log could not be saved locally");
        }
        self.own.persisted = persisted;
        let generation = self.install(snapshot, table).await;
        if let Some(pool) = triggered {
            self.own.observers.metrics.record_failover(&pool, FailoverKind::Manual);
        }
        if let Some(revision) = self.own.persisted.revision {
            self.own.observers.metrics.set_cluster_revision(revision);
        }
        let revision = self.own.persisted.revision;
        match (stamp, reverted) {
            (Some(stamp), _) => {
                info!(generation, revision, change = stamp.id, %token, summary = %stamp.summary, "API change applied");
            }
            (None, Some(id)) => info!(generation, revision, change = id, %token, "API change reverted"),
            (None, None) => info!(generation, revision, %token, "API change applied"),
        }
        Ok(generation)
    }

    /// The shared log's value at `revision`, applied when newer than what is in force: laid
    /// over this instance's file through the same validation as a change of its own (what no
    /// longer fits is left out, with a warning), saved locally, then published.
    async fn apply_remote(&mut self, revision: u64, value: &[u8]) {
        if self.own.persisted.revision.is_some_and(|applied| applied >= revision) {
            return;
        }
        let mut remote: Persisted = match serde_json::from_slice(value) {
            Ok(remote) => remote,
            Err(error) => {
                error!(revision, %error, "the cluster's shared changes cannot be read; keeping the state in force");
                return;
            }
        };
        remote.revision = Some(revision);
        remote.number_changes();
        let (mut config, skipped) = match self.own.source.validate_with(&remote.changes) {
            Ok(validated) => validated,
            Err(error) => {
                error!(revision, %error, "the cluster's shared changes do not fit this instance's configuration; keeping the state in force");
                return;
            }
        };
        for problem in &skipped {
            warn!(revision, change = %problem, "a shared change does not fit this instance's configuration: left out");
        }
        config.server.listen.clone_from(&self.own.config.server.listen);
        let snapshot = match self.own.store.load().rebuild(Arc::new(config), Some(&self.own.observers)) {
            Ok(snapshot) => snapshot,
            Err(problems) => {
                let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
                error!(revision, problems = %problems.join("; "), "the cluster's shared changes cannot be served here; keeping the state in force");
                return;
            }
        };
        let table = HealthTable::new(&snapshot.config, clock());
        if let Some(state) = &self.own.state
            && let Err(error) = state.save(&remote)
        {
            error!(%error, "the cluster's shared changes could not be saved locally; serving them");
        }
        self.own.persisted = remote;
        let generation = self.install(snapshot, table).await;
        self.own.observers.metrics.set_cluster_revision(revision);
        info!(revision, generation, "shared changes applied");
    }

    /// Publishes `snapshot` one generation on, with `table` taking over the health of the
    /// endpoints it keeps; returns its generation. The probes go on undisturbed when the
    /// change leaves the probe targets as they were (weights, drains, strategies, failovers);
    /// otherwise the probes of the targets kept go on at their pace, a new target is probed
    /// at once and one gone stops, and results sent before the change can no longer arrive.
    async fn install(&mut self, mut snapshot: Snapshot, mut table: HealthTable) -> u64 {
        let retarget = table.targets() != self.own.table.targets();
        if retarget && let Some(tasks) = self.probes.as_mut() {
            // Probes of the targets kept go on; new ones start at once, gone ones stop.
            match tasks.retarget(table.targets()) {
                Ok(reports) => self.reports = Some(reports),
                Err(error) => {
                    error!(%error, "health checks cannot follow the change; stopping them");
                    if let Some(tasks) = self.probes.take() {
                        tasks.stop().await;
                    }
                    self.reports = None;
                }
            }
        }
        let restart = self.probes.is_none();
        table.carry_over(&self.own.table);
        table.start_ramps(Some(&self.own.table), clock(), unix_now_millis());
        self.votes.retain(|endpoint| table.index_of(endpoint).is_some());
        snapshot.health = Arc::new(table.view(clock()));
        snapshot.generation = self.own.store.load().generation + 1;
        snapshot.cluster_revision = self.own.persisted.revision;
        let generation = snapshot.generation;
        self.own.table = table;
        self.own.config = snapshot.config.clone();
        self.leases.sync(&self.own.persisted.changes, clock(), unix_now_millis());
        let snapshot = Arc::new(snapshot);
        health::prune_metrics(&self.own.table, &snapshot.steering, &self.own.observers.metrics);
        self.publish(snapshot);
        if restart {
            self.start_probes();
        }
        generation
    }

    /// Renews a lease; its TTL, or why not.
    fn heartbeat(&mut self, key: &LeaseKey) -> Result<Duration, Refused> {
        if let Some(ttl) = self.leases.renew(key, clock(), unix_now_millis()) {
            return Ok(ttl);
        }
        let (region, address) = (&key.region, &key.address);
        let listed = self.own.config.regions.iter().find(|r| r.name == *region);
        let Some(listed) = listed else {
            return Err(Refused::Refusal(Refusal::NotFound {
                field: "region".into(),
                message: format!("no region {}", crate::config::names::shown(region)),
            }));
        };
        if listed.endpoints.iter().any(|e| LeaseKey::new(region, &e.target().to_string()) == *key) {
            return Err(Refused::Refusal(Refusal::Conflict {
                field: "endpoint".into(),
                message: format!(
                    "{address} in region {} holds no lease: register it with a ttl (PUT) to renew it by heartbeats",
                    crate::config::names::shown(region)
                ),
            }));
        }
        Err(Refused::Refusal(Refusal::NotFound {
            field: "endpoint".into(),
            message: format!("region {} has no endpoint {address}", crate::config::names::shown(region)),
        }))
    }

    /// Removes the registered endpoints whose leases have run out, as one change: they leave
    /// the answers with the snapshot it publishes. One that cannot be removed now (the shared
    /// log cannot be written) is tried again a second later.
    async fn expire_leases(&mut self) {
        let now = clock();
        let due = self.leases.expired(now);
        if due.is_empty() {
            return;
        }
        let keys: Vec<LeaseKey> = due.iter().map(|(k, _)| k.clone()).collect();
        match self.change(Change::ExpireLeases(keys.clone()), LEASE_TOKEN).await {
            Ok(generation) => {
                for (key, ttl) in &due {
                    warn!(
                        region = %key.region,
                        endpoint = %key.address,
                        ttl_secs = ttl.as_secs_f64(),
                        generation,
                        "registration expired: its lease ran out unrenewed; the endpoint is removed"
                    );
                }
                self.own.observers.metrics.record_registrations_expired(due.len());
            }
            Err(Refused::Refusal(Refusal::NotFound { .. })) => {}
            Err(error) => {
                error!(
                    ?error,
                    endpoints = keys.len(),
                    "registrations whose lease ran out cannot be removed now; trying again in 1 s"
                );
                self.leases.postpone(&keys, now + Duration::from_secs(1));
            }
        }
    }

    /// Probes a region's checked endpoints now, without holding up other commands; their
    /// results come back to this writer like any other.
    fn probe(&self, region: &str, reply: oneshot::Sender<Result<Vec<ProbeOutcome>, Refused>>) {
        let sender = self.probes.as_ref().map(HealthTasks::sender);
        health::probe_region(&self.own.config, &self.own.table, region, sender, reply);
    }

    /// Stops the API, the probes and the DNS server, within the grace period.
    async fn shutdown(mut self) {
        let grace = self.own.config.server.shutdown_grace;
        self.own.cancel.cancel();
        if let Some(health) = self.probes.take() {
            let _ = time::timeout(grace, health.stop()).await;
        }
        match time::timeout(grace, self.own.server.shutdown_gracefully()).await {
            Ok(()) => info!("stopped"),
            Err(_) => warn!(?grace, "still busy after the grace period; exiting anyway"),
        }
    }
}

/// The next probe result; never, while no probes run.
async fn next_report(reports: &mut Option<mpsc::Receiver<Report>>) -> Option<Report> {
    match reports {
        Some(reports) => reports.recv().await,
        None => std::future::pending().await,
    }
}

/// Until `at`; never, without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => time::sleep_until(time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The writer reads the real clock: it is an edge (STYLE.md section 3), and hands the
/// instant to the pure code it drives.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

/// Warns of each setting a reload finds changed in the file (`before` to `after`) while a
/// saved change overrides it: the edit does not show in the answers, and the operator should
/// hear why, and how to let the file's value through.
fn log_shadowed(changes: &crate::config::Overlay, before: &FileConfig, after: &FileConfig) {
    // A whole region is a long value: cut short, as other quoted values are.
    let shown = |value: &serde_json::Value| clipped_text(&value.to_string(), 300);
    for shadowed in changes.shadowed(before, after) {
        warn!(
            change = shadowed.stamp.id,
            summary = %shadowed.stamp.summary,
            setting = %shadowed.setting,
            file_before = %shown(&shadowed.before),
            file_now = %shown(&shadowed.after),
            in_force = %shown(&shadowed.change),
            "the configuration file changed a setting that a saved API change overrides: the change still \
             decides it (meridian ctl revert <change> lets the file's value through)"
        );
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

/// A change validated and built, not yet saved or published.
struct Staged {
    persisted: Persisted,
    snapshot: Snapshot,
    table: HealthTable,
    /// The pool a manual failover was triggered in, for its metric.
    triggered: Option<String>,
    /// What the change set, for the log (none: it only took settings out).
    stamp: Option<Stamp>,
    /// The id of the change it reverted.
    reverted: Option<u64>,
    /// The name of the token that asked for it.
    token: String,
}

/// How the configuration paths of a change's problems map to the fields of its request.
#[derive(Debug, Clone)]
enum FieldMap {
    /// A region in the body: `region[N].endpoints[0].address` is `endpoints[0].address`.
    Region,
    /// `PATCH` of a weight: the field is `weight`.
    Weight,
    /// A strategy: `pool[N].policy` is `strategy`, other keys are `parameters.KEY`.
    Strategy,
    /// Endpoints registered into region `region` (its index in the merged file), the body's
    /// item `k` at `positions[k]` among the region's endpoints: `region[N].endpoints[J].weight`
    /// is `endpoints[k].weight` in a bulk body, `weight` in a single one.
    Endpoints {
        region: usize,
        positions: Vec<Option<usize>>,
        bulk: bool,
    },
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

    /// The request field of a problem at the configuration path `at`; a problem outside the
    /// request keeps its path, names and all (`region[1] "b".endpoints[0]`).
    fn endpoints(merged: &FileConfig, region: &str, addresses: &[String], bulk: bool) -> Self {
        let index = merged.region.iter().position(|r| r.name == region).unwrap_or(usize::MAX);
        let listed = merged.region.get(index).map_or(&[][..], |r| &r.endpoints[..]);
        let positions = addresses
            .iter()
            .map(|a| listed.iter().position(|e| crate::config::overlay::same_endpoint(target_of(e), a)))
            .collect();
        Self::Endpoints { region: index, positions, bulk }
    }

    fn field(&self, at: &str) -> String {
        let plain = plain_path(at);
        if let Self::Endpoints { region, positions, bulk } = self {
            let item = plain
                .strip_prefix(&format!("region[{region}].endpoints["))
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(j, rest)| Some((j.parse::<usize>().ok()?, rest.trim_start_matches('.'))))
                .and_then(|(j, rest)| Some((positions.iter().position(|&p| p == Some(j))?, rest)));
            return match (item, bulk) {
                (Some((k, "")), true) => format!("endpoints[{k}]"),
                (Some((k, rest)), true) => format!("endpoints[{k}].{rest}"),
                (Some((_, "")), false) => "address".into(),
                (Some((_, rest)), false) => rest.to_owned(),
                (None, _) => at.to_owned(),
            };
        }
        let inner = match plain.split_once("].") {
            Some((head, rest)) if head.starts_with("region[") || head.starts_with("pool[") => rest,
            _ => &plain,
        };
        match self {
            Self::Region => inner.to_owned(),
            Self::Weight if inner.ends_with(".weight") => "weight".into(),
            Self::Strategy if inner == "policy" => "strategy".into(),
            Self::Strategy if plain.starts_with("pool[") => format!("parameters.{inner}"),
            _ => at.to_owned(),
        }
    }

    fn invalid_problems(&self, problems: Vec<Problem>) -> Refused {
        Refused::Invalid(problems.into_iter().map(|p| self.problem(p)).collect())
    }

    /// A problem as the request's sender should read it. A strategy change can make a part of
    /// the pool it never sent invalid (an override in the file naming a region the new
    /// regions leave out): that is said as the file's, with what would resolve it.
    fn problem(&self, p: Problem) -> Problem {
        let plain = plain_path(&p.at);
        let inner = plain.split_once("].").filter(|(head, _)| head.starts_with("pool[")).map(|(_, rest)| rest);
        match (self, inner) {
            (Self::Strategy, Some(inner)) if !is_strategy_field(inner) => {
                let field = if p.message.contains("region") { "parameters.regions" } else { "strategy" };
                let message = format!(
                    "conflicts with the pool's {inner} in the configuration file: {}; keep what it names in the \
                     change (e.g. the region in `regions`), or change the file and reload",
                    p.message
                );
                Problem::new(field, message)
            }
            _ => Problem::new(self.field(&p.at), p.message),
        }
    }

    fn invalid(&self, error: ConfigError) -> Refused {
        match error {
            ConfigError::Invalid { problems, .. } => self.invalid_problems(problems),
            other => Refused::Invalid(vec![Problem::new("", other.to_string())]),
        }
    }
}

/// Whether a pool's configuration key (`regions`, `overrides[0].region`, ...) is one a
/// strategy change can set, so a problem with it is the change's own.
fn is_strategy_field(inner: &str) -> bool {
    let key = inner.split(['[', '.']).next().unwrap_or(inner);
    key == "policy" || crate::config::overlay::StrategyParameters::FIELDS.contains(&key)
}

/// Seconds since the Unix epoch, for the state file and the API: an edge.
pub fn unix_now() -> u64 {
    unix_now_millis() / 1000
}

/// Milliseconds since the Unix epoch, for the API's times: an edge.
#[allow(clippy::disallowed_methods)]
pub fn unix_now_millis() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
