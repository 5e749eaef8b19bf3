//! The health tasks: one probe task per distinct target, each sending its results to the
//! writer (the controller) over a channel, like every other source of change. The writer
//! applies them to its [`HealthTable`](super::table::HealthTable) and publishes; nothing
//! here holds the table or publishes anything.
//!
//! When the targets change (a region or an endpoint added or taken out), the tasks of the
//! targets kept go on at their own pace under their new index ([`HealthTasks::retarget`]):
//! only a new target is probed at once, and only a target gone stops, so registering one
//! endpoint does not probe every other again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{self, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::probe::{ProbeError, ProbeResult, Prober};
use super::table::Target;
use crate::splitmix::splitmix64;

/// Probes in flight at once, over all targets.
const MAX_CONCURRENT_PROBES: usize = 64;

/// Results a writer has not taken yet before probes wait for it.
const REPORTS_QUEUED: usize = 1024;

/// A probe result on its way to the writer: target index, result, when it was taken.
pub type Report = (usize, ProbeResult, Instant);

/// The running probe tasks of a set of targets. Their results go to the receiver [`start`]
/// (or the last [`HealthTasks::retarget`]) returned; once it is dropped, results sent on it
/// can no longer reach the writer, so none is applied to a table it does not belong to.
pub struct HealthTasks {
    cancel: CancellationToken,
    probes: JoinSet<()>,
    results: mpsc::Sender<Report>,
    /// Each target's task: how to stop it, and where it sends.
    running: HashMap<Target, Running>,
    limit: Arc<Semaphore>,
    seed: u64,
}

struct Running {
    cancel: CancellationToken,
    abort: AbortHandle,
    route: Arc<Mutex<Route>>,
}

/// Where a task's results go: its target's index in the current targets, and the current
/// channel. Changed together, under the lock, when the targets change.
struct Route {
    index: usize,
    results: mpsc::Sender<Report>,
}

/// Starts probing every target, spread over their intervals by `seed` (see `probe_loop`); the
/// writer receives their results on the returned channel.
///
/// # Errors
/// An HTTP client cannot be built.
pub fn start(targets: &[Target], seed: u64) -> Result<(HealthTasks, mpsc::Receiver<Report>), ProbeError> {
    let (results, _) = mpsc::channel(1);
    let mut tasks = HealthTasks {
        cancel: CancellationToken::new(),
        probes: JoinSet::new(),
        results,
        running: HashMap::new(),
        limit: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
        seed,
    };
    let inbox = tasks.retarget(targets)?;
    if !targets.is_empty() {
        info!(targets = targets.len(), "health checks started");
    }
    Ok((tasks, inbox))
}

impl HealthTasks {
    /// Probes `targets` from now on; the results arrive on the returned channel, and none
    /// sent before can. A target kept goes on probing at its pace, under its new index; a new
    /// one is probed at once; one no longer there stops (a probe in flight is dropped).
    ///
    /// # Errors
    /// An HTTP client for a new target cannot be built; nothing was changed.
    pub fn retarget(&mut self, targets: &[Target]) -> Result<mpsc::Receiver<Report>, ProbeError> {
        let new: Vec<(usize, Prober)> = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !self.running.contains_key(*t))
            .map(|(i, t)| Prober::new(t.clone()).map(|p| (i, p)))
            .collect::<Result<_, _>>()?;
        let (results, inbox) = mpsc::channel(REPORTS_QUEUED);
        let mut kept = HashMap::with_capacity(targets.len());
        for (i, target) in targets.iter().enumerate() {
            if let Some(running) = self.running.remove(target) {
                *running.route.lock().unwrap_or_else(PoisonError::into_inner) =
                    Route { index: i, results: results.clone() };
                kept.insert(target.clone(), running);
            }
        }
        for (_, gone) in self.running.drain() {
            gone.cancel.cancel();
            gone.abort.abort();
        }
        for (i, prober) in new {
            let target = prober.target().clone();
            let route = Arc::new(Mutex::new(Route { index: i, results: results.clone() }));
            let cancel = self.cancel.child_token();
            let task = probe_loop(i, self.seed, prober, self.limit.clone(), route.clone(), cancel.clone());
            let abort = self.probes.spawn(task);
            kept.insert(target, Running { cancel, abort, route });
        }
        self.running = kept;
        self.results = results;
        // Tasks stopped by an earlier change: their slots are freed as they finish.
        while self.probes.try_join_next().is_some() {}
        Ok(inbox)
    }

    /// Stops every probe; probes in flight are dropped. Once this returns no probe of these
    /// tasks sends a result any more.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        self.probes.abort_all();
        while self.probes.join_next().await.is_some() {}
    }

    /// Where results of probes run on demand go, as if their probe task had sent them.
    pub fn sender(&self) -> mpsc::Sender<Report> {
        self.results.clone()
    }
}

/// Probes `targets` once each, now, concurrently; returns the results in the same order.
///
/// # Errors
/// An HTTP client cannot be built.
pub async fn probe_now(targets: &[(usize, Target)]) -> Result<Vec<Report>, ProbeError> {
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
    seed: u64,
    prober: Prober,
    limit: Arc<Semaphore>,
    route: Arc<Mutex<Route>>,
    cancel: CancellationToken,
) {
    let interval = prober.target().check.interval;
    // The first probe runs at once; the second comes between half an interval and one
    // interval later, spread by target so that targets sharing an interval do not fire together.
    // `seed` differs between the instances of a cluster, so that their probes of one target
    // are spread over the interval rather than arriving together.
    let jitter = interval.mul_f64(0.5 + (splitmix64(index as u64 ^ seed) % 1000) as f64 / 2000.0);
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
        // The index and channel of now: a result sent on a channel the writer has since
        // replaced is never read, so none lands on an endpoint it was not taken for.
        let (index, results) = {
            let route = route.lock().unwrap_or_else(PoisonError::into_inner);
            (route.index, route.results.clone())
        };
        // An error: the writer replaced or dropped the channel; it stops this task if it is done.
        let _ = results.send((index, result, clock())).await;
    }
}

async fn probe_with_permit(prober: &Prober, limit: &Semaphore) -> ProbeResult {
    let _permit = limit.acquire().await;
    prober.probe().await
}

/// The health tasks read the real clock: they are an edge (STYLE.md section 3).
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}
