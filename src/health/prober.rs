//! The health tasks: one probe task per distinct target, each sending its results to the
//! writer (the controller) over a channel, like every other source of change. The writer
//! applies them to its [`HealthTable`](super::table::HealthTable) and publishes; nothing
//! here holds the table or publishes anything.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
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

/// The running probe tasks of one set of targets. Their results go to the receiver
/// [`start`] returned; once it is dropped (the targets changed), results of these tasks
/// can no longer reach the writer, so none is applied to a table it does not belong to.
pub struct HealthTasks {
    cancel: CancellationToken,
    probes: JoinSet<()>,
    results: mpsc::Sender<Report>,
}

/// Starts probing every target, spread over their intervals by `seed` (see `probe_loop`); the
/// writer receives their results on the returned channel.
///
/// # Errors
/// An HTTP client cannot be built.
pub fn start(targets: &[Target], seed: u64) -> Result<(HealthTasks, mpsc::Receiver<Report>), ProbeError> {
    let cancel = CancellationToken::new();
    let mut probes = JoinSet::new();
    let (results, inbox) = mpsc::channel(REPORTS_QUEUED);
    let limit = Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES));
    for (i, target) in targets.iter().enumerate() {
        let prober = Prober::new(target.clone())?;
        probes.spawn(probe_loop(i, seed, prober, limit.clone(), results.clone(), cancel.clone()));
    }
    if !targets.is_empty() {
        info!(targets = targets.len(), "health checks started");
    }
    Ok((HealthTasks { cancel, probes, results }, inbox))
}

impl HealthTasks {
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
    results: mpsc::Sender<Report>,
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
        if results.send((index, result, clock())).await.is_err() {
            return; // the writer has stopped
        }
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
