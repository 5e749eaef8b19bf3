//! The health tasks: one probe task per distinct target, and one writer that applies results
//! to the [`HealthTable`] and publishes a new snapshot when the view changes. Queries never
//! wait on any of this: they read whichever health view was published last.
//!
//! The table sits behind a `std::sync::Mutex` shared with the admin API, which reads it for
//! reports; every section under the lock is short and never awaits (STYLE.md section 7).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{self, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::probe::{ProbeError, ProbeResult, Prober};
use super::state::Observation;
use super::table::HealthTable;
use crate::metrics::{EndpointLabel, FailoverKind, Registry};
use crate::snapshot::SnapshotStore;
use crate::splitmix::splitmix64;

/// Probes in flight at once, over all targets.
const MAX_CONCURRENT_PROBES: usize = 64;

/// The health table, shared by the writer (which changes it) and the API (which reads it).
pub type SharedTable = Arc<Mutex<HealthTable>>;

/// Locks the table; a panic elsewhere while it was held does not make it unreadable (every
/// change to it is a whole `observe`, so it is never left half-done).
pub fn lock(table: &SharedTable) -> MutexGuard<'_, HealthTable> {
    table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A probe result on its way to the writer: target index, result, when it was taken.
pub type Report = (usize, ProbeResult, Instant);

/// The running health tasks. After [`HealthTasks::stop`] the table is left as it stood, so a
/// reload keeps what is known of the endpoints it still has.
pub struct HealthTasks {
    cancel: CancellationToken,
    probes: JoinSet<()>,
    writer: Option<JoinHandle<()>>,
    /// Where results go; the API sends the results of the probes it runs on demand here.
    results: Option<mpsc::Sender<Report>>,
}

/// Starts probing every target of `table`; its view is already in the published snapshot.
///
/// # Errors
/// An HTTP client cannot be built.
pub fn start(store: Arc<SnapshotStore>, table: SharedTable, metrics: Arc<Registry>) -> Result<HealthTasks, ProbeError> {
    let cancel = CancellationToken::new();
    let mut probes = JoinSet::new();
    let targets = lock(&table).targets().to_vec();
    if targets.is_empty() {
        return Ok(HealthTasks { cancel, probes, writer: None, results: None });
    }
    let (results, inbox) = mpsc::channel(1024);
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
    for (i, target) in targets.iter().enumerate() {
        let prober = Prober::new(target.clone())?;
        probes.spawn(probe_loop(i, prober, limit.clone(), results.clone(), cancel.clone()));
    }
    info!(targets = targets.len(), "health checks started");
    let writer = tokio::spawn(write_loop(table, store, inbox, metrics, cancel.clone()));
    Ok(HealthTasks { cancel, probes, writer: Some(writer), results: Some(results) })
}

impl HealthTasks {
    /// Stops every probe and the writer. Probes in flight are dropped; the writer is waited
    /// for, so that once this returns nothing publishes a health view any more.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        self.probes.abort_all();
        while self.probes.join_next().await.is_some() {}
        if let Some(writer) = self.writer.take() {
            writer.abort();
            let _ = writer.await;
        }
    }

    /// Where results of probes run on demand go, as if their probe task had sent them;
    /// `None` when nothing is checked.
    pub fn sender(&self) -> Option<mpsc::Sender<Report>> {
        self.results.clone()
    }
}

/// Probes `targets` once each, now, concurrently; returns the results in the same order.
///
/// # Errors
/// An HTTP client cannot be built.
pub async fn probe_now(targets: &[(usize, super::table::Target)]) -> Result<Vec<Report>, ProbeError> {
    let probers = targets.iter().map(|(_, t)| Prober::new(t.clone())).collect::<Result<Vec<_>, _>>()?;
    let mut set = JoinSet::new();
    for (position, ((index, _), prober)) in targets.iter().zip(probers).enumerate() {
        let index = *index;
        set.spawn(async move { (position, (index, prober.probe().await, clock())) });
    }
    let mut reports: Vec<Option<Report>> = vec![None; targets.len()];
    while let Some(done) = set.join_next().await {
        if let Ok((position, report)) = done {
            reports[position] = Some(report);
        }
    }
    Ok(reports.into_iter().flatten().collect())
}

/// Probes one target at its interval: first at once, then on ticks offset by a per-target
/// jitter so targets sharing an interval do not fire together.
async fn probe_loop(
    index: usize,
    prober: Prober,
    limit: Arc<Semaphore>,
    results: mpsc::Sender<Report>,
    cancel: CancellationToken,
) {
    let interval = prober.target().check.interval;
    // The first probe runs at once; the second comes between half an interval and one
    // interval later, spread by target so that targets sharing an interval do not fire together.
    let jitter = interval.mul_f64(0.5 + (splitmix64(index as u64) % 1000) as f64 / 2000.0);
    let mut ticks = time::interval_at(time::Instant::now() + jitter, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
        }
        first = false;
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            result = probe_with_permit(&prober, &limit) => result,
        };
        if results.send((index, result, clock())).await.is_err() {
            return; // the writer has stopped
        }
    }
}

async fn probe_with_permit(prober: &Prober, limit: &Semaphore) -> ProbeResult {
    let _permit = limit.acquire().await;
    prober.probe().await
}

/// Applies results and publishes changes; also republishes when a pool's short-TTL hold ends.
async fn write_loop(
    table: SharedTable,
    store: Arc<SnapshotStore>,
    mut inbox: mpsc::Receiver<Report>,
    metrics: Arc<Registry>,
    cancel: CancellationToken,
) {
    loop {
        let wake = lock(&table).next_change(clock());
        let expiry = async {
            match wake {
                Some(at) => time::sleep_until(time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = expiry => {}
            message = inbox.recv() => match message {
                None => return,
                Some((target, result, at)) => {
                    let mut table = lock(&table);
                    apply(&mut table, target, &result, at, &metrics);
                    // The latency policy re-chooses from the RTTs this result moved. The store's
                    // configuration is the table's: the controller replaces both under the lock.
                    crate::steering::latency::steer(&mut table, &store.load().config);
                }
            },
        }
        // Publish only on a change: a transition, or a short-TTL hold that has run out (which
        // a result arriving just after it would otherwise hide from the timer). Under the lock,
        // so that a new configuration (published by the controller under it too) and this view
        // never cross: the view always matches the snapshot it is published with.
        let table = lock(&table);
        let view = table.view(clock());
        let current = store.load();
        if *current.health != view {
            store.publish(current.with_health(view));
        }
    }
}

fn apply(table: &mut HealthTable, target: usize, result: &ProbeResult, at: Instant, metrics: &Registry) {
    debug!(target, observation = ?result.observation, rtt = ?result.rtt, detail = %result.detail, "probe");
    let rtt = (result.observation != Observation::Failed).then_some(result.rtt);
    for name in table.names_of_target(target) {
        metrics.record_probe(label(name), rtt, result.observation.into());
    }
    let events = table.region_events_total();
    let changes = table.observe(target, result.observation, result.rtt, &result.detail, at);
    let added = usize::try_from(table.region_events_total() - events).unwrap_or(usize::MAX);
    for event in table.region_events().rev().take(added) {
        if event.servable {
            info!(pool = %event.pool, region = %event.region, "region can serve again");
        } else {
            warn!(pool = %event.pool, region = %event.region, "region cannot serve: its clients fail over");
            metrics.record_failover(&event.pool, FailoverKind::Automatic);
        }
    }
    for change in &changes {
        metrics.record_transition(label(&change.endpoint), change.transition.to.into());
        let t = change.transition;
        if t.held {
            warn!(endpoint = %change.endpoint, from = ?t.from, to = ?t.to, detail = %result.detail, "endpoint flapping: held down");
        } else {
            info!(endpoint = %change.endpoint, from = ?t.from, to = ?t.to, detail = %result.detail, rtt = ?result.rtt, "endpoint health changed");
        }
    }
}

/// "region/address" as metric labels (addresses hold no '/').
fn label(name: &str) -> EndpointLabel<'_> {
    let (region, address) = name.rsplit_once('/').unwrap_or((name, ""));
    EndpointLabel { region, address }
}

/// The health tasks read the real clock: they are an edge (STYLE.md section 3).
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}
