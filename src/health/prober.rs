//! The health tasks: one probe task per distinct target, and one writer that applies results
//! to the [`HealthTable`] and publishes a new snapshot when the view changes. Queries never
//! wait on any of this: they read whichever health view was published last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{self, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::probe::{ProbeError, ProbeResult, Prober};
use super::table::HealthTable;
use crate::snapshot::SnapshotStore;
use crate::steering::splitmix64;

/// Probes in flight at once, over all targets.
const MAX_CONCURRENT_PROBES: usize = 64;

/// The running health tasks. [`HealthTasks::stop`] hands the table back, so that a reload
/// keeps what is known of the endpoints it still has.
pub struct HealthTasks {
    cancel: CancellationToken,
    probes: JoinSet<()>,
    writer: Option<JoinHandle<HealthTable>>,
    /// The table, when there is nothing to probe and so no writer holds it.
    idle: Option<HealthTable>,
}

/// Starts probing every target of `table`; its view is already in the published snapshot.
///
/// # Errors
/// An HTTP client cannot be built.
pub fn start(store: Arc<SnapshotStore>, table: HealthTable) -> Result<HealthTasks, ProbeError> {
    let cancel = CancellationToken::new();
    let mut probes = JoinSet::new();
    if table.targets().is_empty() {
        return Ok(HealthTasks { cancel, probes, writer: None, idle: Some(table) });
    }
    let (results, inbox) = mpsc::channel(1024);
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
    for (i, target) in table.targets().iter().enumerate() {
        let prober = Prober::new(target.clone())?;
        probes.spawn(probe_loop(i, prober, limit.clone(), results.clone(), cancel.clone()));
    }
    info!(targets = table.targets().len(), "health checks started");
    let writer = tokio::spawn(write_loop(table, store, inbox, cancel.clone()));
    Ok(HealthTasks { cancel, probes, writer: Some(writer), idle: None })
}

impl HealthTasks {
    /// Stops every probe and the writer, within `grace`; returns the table as it stood.
    pub async fn stop(mut self, grace: Duration) -> Option<HealthTable> {
        self.cancel.cancel();
        let probes = &mut self.probes;
        let _ = time::timeout(grace, async { while probes.join_next().await.is_some() {} }).await;
        match self.writer.take() {
            Some(writer) => time::timeout(grace, writer).await.ok().and_then(Result::ok),
            None => self.idle.take(),
        }
    }
}

/// Probes one target at its interval: first at once, then on ticks offset by a per-target
/// jitter so targets sharing an interval do not fire together.
async fn probe_loop(
    index: usize,
    prober: Prober,
    limit: Arc<Semaphore>,
    results: mpsc::Sender<(usize, ProbeResult, Instant)>,
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
    mut table: HealthTable,
    store: Arc<SnapshotStore>,
    mut inbox: mpsc::Receiver<(usize, ProbeResult, Instant)>,
    cancel: CancellationToken,
) -> HealthTable {
    let mut published = table.view(clock());
    loop {
        let wake = table.next_change(clock());
        let expiry = async {
            match wake {
                Some(at) => time::sleep_until(time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return table,
            _ = expiry => {}
            message = inbox.recv() => match message {
                None => return table,
                Some((target, result, at)) => apply(&mut table, target, &result, at),
            },
        }
        // Publish only on a change: a transition, or a short-TTL hold that has run out (which
        // a result arriving just after it would otherwise hide from the timer).
        let view = table.view(clock());
        if view != published {
            store.publish(store.load().with_health(view.clone()));
            published = view;
        }
    }
}

fn apply(table: &mut HealthTable, target: usize, result: &ProbeResult, at: Instant) {
    debug!(target, observation = ?result.observation, rtt = ?result.rtt, detail = %result.detail, "probe");
    let changes = table.observe(target, result.observation, result.rtt, &result.detail, at);
    for change in &changes {
        let t = change.transition;
        if t.held {
            warn!(endpoint = %change.endpoint, from = ?t.from, to = ?t.to, detail = %result.detail, "endpoint flapping: held down");
        } else {
            info!(endpoint = %change.endpoint, from = ?t.from, to = ?t.to, detail = %result.detail, rtt = ?result.rtt, "endpoint health changed");
        }
    }
}

/// The health tasks read the real clock: they are an edge (STYLE.md section 3).
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}
