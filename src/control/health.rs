//! Health as the writer handles it: a probe result applied to its table with the logs and
//! metrics it causes, and probes run on demand for the API.

use std::collections::BTreeSet;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::Refused;
use crate::config::Config;
use crate::config::names::shown;
use crate::config::overlay::Refusal;
use crate::health::load::LoadFrom;
use crate::health::probe::ProbeResult;
use crate::health::prober::{self, Report};
use crate::health::state::Observation;
use crate::health::table::{HealthTable, ShedChange, Target};
use crate::metrics::{EndpointLabel, FailoverKind, Registry};
use crate::steering::Steering;

/// One endpoint's result of a probe run on demand.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProbeOutcome {
    pub region: String,
    pub endpoint: String,
    /// "up", "degraded", "failed", or "unchecked" (no health check configured).
    pub result: String,
    pub rtt_ms: f64,
    pub detail: String,
}

/// Applies one probe result of `target` to the table; logs transitions and region failovers
/// and counts them.
pub(super) fn apply(table: &mut HealthTable, target: usize, result: &ProbeResult, at: Instant, metrics: &Registry) {
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
    if let Some(load) = &result.load {
        observe_load(table, target, load, at, metrics);
    }
    for change in &changes {
        metrics.record_transition(label(&change.endpoint), change.transition.to.into());
        let t = change.transition;
        if t.held {
            warn!(endpoint = %change.endpoint, from = %t.from.as_str(), to = %t.to.as_str(), detail = %result.detail, "endpoint flapping: held down");
        } else {
            info!(endpoint = %change.endpoint, from = %t.from.as_str(), to = %t.to.as_str(), detail = %result.detail, rtt = ?result.rtt, "endpoint health changed");
        }
    }
}

/// Applies a probe's load reading to each endpoint its target checks.
fn observe_load(table: &mut HealthTable, target: usize, load: &Result<f64, String>, at: Instant, metrics: &Registry) {
    for endpoint in table.endpoints_of_target(target) {
        match load {
            Ok(value) => {
                let (smoothed, shed) = table.observe_load(endpoint, *value, LoadFrom::Probe, at);
                if let Some((name, _)) = table.name_of(endpoint) {
                    metrics.set_endpoint_load(label(name), Some(smoothed));
                }
                log_shed(&shed);
            }
            Err(error) => {
                if let Some((name, _)) = table.name_of(endpoint) {
                    debug!(endpoint = %name, %error, "load not read");
                }
                table.set_load_error(endpoint, error);
            }
        }
    }
}

/// A pushed load report for the endpoint named "region/address"; false if there is none.
pub(super) fn push_load(table: &mut HealthTable, name: &str, load: f64, at: Instant, metrics: &Registry) -> bool {
    let Some(endpoint) = table.index_of(name) else { return false };
    let (smoothed, shed) = table.observe_load(endpoint, load, LoadFrom::Push, at);
    debug!(endpoint = %name, load, smoothed, "load pushed");
    metrics.set_endpoint_load(label(name), Some(smoothed));
    log_shed(&shed);
    true
}

/// Reports that aged out since `since`: their series go, and shedding follows what is known.
pub(super) fn expire_loads(table: &mut HealthTable, since: Instant, now: Instant, metrics: &Registry) {
    for endpoint in table.expired_loads(since, now) {
        if let Some((name, _)) = table.name_of(endpoint) {
            info!(endpoint = %name, "load report aged out (no report within max_age): its load is not known");
            metrics.set_endpoint_load(label(name), None);
        }
    }
    log_shed(&table.update_shedding(now));
}

fn log_shed(changes: &[ShedChange]) {
    for c in changes {
        if c.shedding {
            warn!(pool = %c.pool, endpoint = %c.endpoint, load = c.load, "endpoint over the pool's shed.high: left out of its answers");
        } else {
            info!(pool = %c.pool, endpoint = %c.endpoint, load = c.load, "endpoint under the pool's shed.low (or its load aged out): answered again");
        }
    }
}

/// Drops the metric series of endpoints that `table` and `steering` (the configuration now
/// in force) no longer have: per-endpoint series would otherwise stay, frozen, until restart.
pub(super) fn prune_metrics(table: &HealthTable, steering: &Steering, metrics: &Registry) {
    let health: BTreeSet<&str> = (0..table.len()).filter_map(|i| table.name_of(i)).map(|(n, _)| &**n).collect();
    let mut answered: BTreeSet<(String, String, String)> = BTreeSet::new();
    for pool in &steering.pools {
        let name = pool.name.to_string();
        for region in &pool.regions {
            for e in region.each_endpoint() {
                answered.insert((name.clone(), region.name.clone(), e.label()));
            }
        }
    }
    metrics.retain_endpoints(
        |e| health.contains(format!("{}/{}", e.region, e.address).as_str()),
        |pool, e| answered.contains(&(pool.to_owned(), e.region.to_owned(), e.address.to_owned())),
    );
}

/// "region/address" as metric labels (addresses hold no '/').
fn label(name: &str) -> EndpointLabel<'_> {
    let (region, address) = name.rsplit_once('/').unwrap_or((name, ""));
    EndpointLabel { region, address }
}

/// Probes a region's checked endpoints now in a task of its own, answers `reply` with each
/// endpoint's outcome, and sends the results to the writer (`sender`) as a probe task would.
pub(super) fn probe_region(
    config: &Config,
    table: &HealthTable,
    region: &str,
    sender: Option<mpsc::Sender<Report>>,
    reply: oneshot::Sender<Result<Vec<ProbeOutcome>, Refused>>,
) {
    let Some(index) = config.regions.iter().position(|r| r.name == region) else {
        let refusal = Refusal::NotFound { field: "region".into(), message: format!("no region {}", shown(region)) };
        let _ = reply.send(Err(Refused::Refusal(refusal)));
        return;
    };
    let first = config.first_endpoint(index);
    let endpoints: Vec<(String, Option<usize>)> = config.regions[index]
        .endpoints
        .iter()
        .enumerate()
        .map(|(j, e)| (e.target().to_string(), table.endpoint(first + j).and_then(|r| r.target)))
        .collect();
    let mut targets: Vec<(usize, Target)> = Vec::new();
    for &(_, target) in &endpoints {
        if let Some(t) = target.filter(|t| !targets.iter().any(|(i, _)| i == t)) {
            targets.push((t, table.targets()[t].clone()));
        }
    }
    let region = region.to_owned();
    tokio::spawn(async move {
        let reports = match prober::probe_now(&targets).await {
            Ok(reports) => reports,
            Err(e) => {
                let _ = reply.send(Err(Refused::Probe(e.to_string())));
                return;
            }
        };
        let outcomes = endpoints.iter().map(|(address, target)| outcome(&region, address, *target, &reports)).collect();
        if let Some(sender) = sender {
            for report in reports {
                let _ = sender.send(report).await;
            }
        }
        let _ = reply.send(Ok(outcomes));
    });
}

fn outcome(region: &str, address: &str, target: Option<usize>, reports: &[Report]) -> ProbeOutcome {
    let report = target.and_then(|t| reports.iter().find(|(i, _, _)| *i == t));
    let (result, rtt_ms, detail) = match report {
        Some((_, result, _)) => {
            let word = match result.observation {
                Observation::Ok => "up",
                Observation::Degraded => "degraded",
                Observation::Failed => "failed",
            };
            (word, result.rtt.as_secs_f64() * 1000.0, result.detail.clone())
        }
        None => ("unchecked", 0.0, "no health check configured".to_owned()),
    };
    ProbeOutcome { region: region.to_owned(), endpoint: address.to_owned(), result: result.into(), rtt_ms, detail }
}
