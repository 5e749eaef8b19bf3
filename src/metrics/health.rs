//! Health series: probe round-trip times as a histogram, probe results, state transitions
//! and failovers. Counted by the writer (the controller), never by queries.
//!
//! No lock: each series is a set of atomics behind an `Arc`, and the map of series is
//! replaced whole (copied, once per new endpoint, state or pool) when one is added, so the
//! `/metrics` page reads it without ever waiting on the writer (STYLE.md section 11).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::text::{Kind, Page};
use super::{EndpointLabel, EndpointState, FailoverKind, ProbeResult};

/// Upper bounds of the RTT histogram buckets, with their `le` labels (the `+Inf` bucket
/// follows). From 1 ms on a LAN to 10 s, the longest check timeout worth measuring.
const RTT_BUCKETS: [(&str, Duration); 13] = [
    ("0.001", Duration::from_millis(1)),
    ("0.0025", Duration::from_micros(2500)),
    ("0.005", Duration::from_millis(5)),
    ("0.01", Duration::from_millis(10)),
    ("0.025", Duration::from_millis(25)),
    ("0.05", Duration::from_millis(50)),
    ("0.1", Duration::from_millis(100)),
    ("0.25", Duration::from_millis(250)),
    ("0.5", Duration::from_millis(500)),
    ("1", Duration::from_secs(1)),
    ("2.5", Duration::from_millis(2500)),
    ("5", Duration::from_secs(5)),
    ("10", Duration::from_secs(10)),
];

/// One endpoint's probes.
#[derive(Debug, Default)]
struct ProbeSeries {
    /// Observations per bucket, not yet cumulative; the last is `+Inf`.
    rtt: [AtomicU64; RTT_BUCKETS.len() + 1],
    rtt_sum_nanos: AtomicU64,
    /// By `ProbeResult as usize`.
    results: [AtomicU64; ProbeResult::ALL.len()],
}

/// Everything health-related, keyed by labels and sorted for the page. Cloning copies the
/// keys and shares the counters.
#[derive(Debug, Default, Clone)]
pub(super) struct HealthSeries {
    /// By (region, address).
    probes: BTreeMap<(String, String), Arc<ProbeSeries>>,
    /// By (region, address, new state).
    transitions: BTreeMap<(String, String, EndpointState), Arc<AtomicU64>>,
    /// By (pool, kind).
    failovers: BTreeMap<(String, FailoverKind), Arc<AtomicU64>>,
    /// By (region, address): the smoothed load as `f64` bits, while a report counts.
    loads: BTreeMap<(String, String), Arc<AtomicU64>>,
}

/// The health series, read by the page and extended by the writer without a lock.
#[derive(Debug, Default)]
pub(super) struct SharedHealthSeries(arc_swap::ArcSwap<HealthSeries>);

impl SharedHealthSeries {
    /// The counter `find` picks, added by `add` to a copy of the map first if it is missing.
    fn counter<T>(&self, find: impl Fn(&HealthSeries) -> Option<T>, add: impl Fn(&mut HealthSeries)) -> T {
        if let Some(found) = find(&self.0.load()) {
            return found;
        }
        self.0.rcu(|current| {
            let mut next = HealthSeries::clone(current);
            add(&mut next);
            next
        });
        find(&self.0.load()).expect("the series was just added")
    }

    pub(super) fn record_probe(&self, endpoint: EndpointLabel<'_>, rtt: Option<Duration>, result: ProbeResult) {
        let key = endpoint.key();
        let series = self.counter(
            |s| s.probes.get(&key).cloned(),
            |s| {
                s.probes.entry(key.clone()).or_default();
            },
        );
        series.results[result as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(rtt) = rtt {
            // `le` is inclusive: an RTT of exactly 1 ms counts in the 0.001 bucket.
            let bucket = RTT_BUCKETS.iter().position(|(_, bound)| rtt <= *bound).unwrap_or(RTT_BUCKETS.len());
            series.rtt[bucket].fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
            series.rtt_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    pub(super) fn record_transition(&self, endpoint: EndpointLabel<'_>, to: EndpointState) {
        let (region, address) = endpoint.key();
        let key = (region, address, to);
        let n = self.counter(
            |s| s.transitions.get(&key).cloned(),
            |s| {
                s.transitions.entry(key.clone()).or_default();
            },
        );
        n.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn record_failover(&self, pool: &str, kind: FailoverKind) {
        let key = (pool.to_owned(), kind);
        let n = self.counter(
            |s| s.failovers.get(&key).cloned(),
            |s| {
                s.failovers.entry(key.clone()).or_default();
            },
        );
        n.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets an endpoint's load, or takes its series away when no report counts.
    pub(super) fn set_load(&self, endpoint: EndpointLabel<'_>, load: Option<f64>) {
        let key = endpoint.key();
        match load {
            Some(load) => {
                let gauge = self.counter(
                    |s| s.loads.get(&key).cloned(),
                    |s| {
                        s.loads.entry(key.clone()).or_default();
                    },
                );
                gauge.store(load.to_bits(), Ordering::Relaxed);
            }
            None if self.0.load().loads.contains_key(&key) => {
                self.0.rcu(|current| {
                    let mut next = HealthSeries::clone(current);
                    next.loads.remove(&key);
                    next
                });
            }
            None => {}
        }
    }

    /// Drops the series of every endpoint `keep` refuses (one no longer configured), so
    /// that a fleet whose endpoints come and go does not grow the page without bound. Copies
    /// the map only when something goes; the series of endpoints kept keep their values.
    pub(super) fn retain_endpoints(&self, keep: impl Fn(EndpointLabel<'_>) -> bool) {
        let kept = |region: &str, address: &str| keep(EndpointLabel { region, address });
        let current = self.0.load();
        let stale = current.probes.keys().chain(current.loads.keys()).any(|(r, a)| !kept(r, a))
            || current.transitions.keys().any(|(r, a, _)| !kept(r, a));
        if !stale {
            return;
        }
        self.0.rcu(|current| {
            let mut next = HealthSeries::clone(current);
            next.probes.retain(|(r, a), _| kept(r, a));
            next.loads.retain(|(r, a), _| kept(r, a));
            next.transitions.retain(|(r, a, _), _| kept(r, a));
            next
        });
    }

    pub(super) fn render(&self, page: &mut Page) {
        self.0.load().render(page);
    }
}

impl HealthSeries {
    pub(super) fn render(&self, page: &mut Page) {
        self.render_probes(page);
        let name = "meridian_health_transitions_total";
        page.family(name, Kind::Counter, "Changes of an endpoint's health state, by the state entered.");
        for ((region, endpoint, to), n) in &self.transitions {
            let n = n.load(Ordering::Relaxed);
            page.sample(name, &[("region", region), ("endpoint", endpoint), ("to", to.as_str())], n);
        }
        let name = "meridian_endpoint_load";
        page.family(name, Kind::Gauge, "An endpoint's smoothed reported load, a fraction of its capacity (1 is full).");
        for ((region, endpoint), load) in &self.loads {
            page.sample(
                name,
                &[("region", region), ("endpoint", endpoint)],
                f64::from_bits(load.load(Ordering::Relaxed)),
            );
        }
        let name = "meridian_failovers_total";
        page.family(name, Kind::Counter, "Failovers of a pool to other regions, by hand or by health.");
        for ((pool, kind), n) in &self.failovers {
            page.sample(name, &[("pool", pool), ("kind", kind.as_str())], n.load(Ordering::Relaxed));
        }
    }

    fn render_probes(&self, page: &mut Page) {
        let name = "meridian_probe_rtt_seconds";
        page.family(name, Kind::Histogram, "Round-trip time of health probes that got a response.");
        for ((region, endpoint), series) in &self.probes {
            let mut cumulative = 0;
            for (i, n) in series.rtt.iter().enumerate() {
                cumulative += n.load(Ordering::Relaxed);
                let le = RTT_BUCKETS.get(i).map_or("+Inf", |(le, _)| le);
                page.sample(
                    "meridian_probe_rtt_seconds_bucket",
                    &[("region", region), ("endpoint", endpoint), ("le", le)],
                    cumulative,
                );
            }
            let labels = [("region", region.as_str()), ("endpoint", endpoint.as_str())];
            let sum = Duration::from_nanos(series.rtt_sum_nanos.load(Ordering::Relaxed));
            page.sample("meridian_probe_rtt_seconds_sum", &labels, sum.as_secs_f64());
            page.sample("meridian_probe_rtt_seconds_count", &labels, cumulative);
        }
        let name = "meridian_probes_total";
        page.family(name, Kind::Counter, "Health probes by result.");
        for ((region, endpoint), series) in &self.probes {
            for result in ProbeResult::ALL {
                let labels =
                    [("region", region.as_str()), ("endpoint", endpoint.as_str()), ("result", result.as_str())];
                page.sample(name, &labels, series.results[result as usize].load(Ordering::Relaxed));
            }
        }
    }
}
