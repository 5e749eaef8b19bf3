//! Health series: probe round-trip times as a histogram, probe results, state transitions
//! and failovers. Written by the health writer and the control task, never by queries.

use std::collections::BTreeMap;
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
    rtt: [u64; RTT_BUCKETS.len() + 1],
    rtt_sum: Duration,
    /// By `ProbeResult as usize`.
    results: [u64; ProbeResult::ALL.len()],
}

/// Everything health-related, keyed by labels and sorted for the page.
#[derive(Debug, Default)]
pub(super) struct HealthSeries {
    /// By (region, address).
    probes: BTreeMap<(String, String), ProbeSeries>,
    /// By (region, address, new state).
    transitions: BTreeMap<(String, String, EndpointState), u64>,
    /// By (pool, kind).
    failovers: BTreeMap<(String, FailoverKind), u64>,
}

impl HealthSeries {
    pub(super) fn record_probe(&mut self, endpoint: EndpointLabel<'_>, rtt: Option<Duration>, result: ProbeResult) {
        let series = self.probes.entry(endpoint.key()).or_default();
        series.results[result as usize] += 1;
        if let Some(rtt) = rtt {
            // `le` is inclusive: an RTT of exactly 1 ms counts in the 0.001 bucket.
            let bucket = RTT_BUCKETS.iter().position(|(_, bound)| rtt <= *bound).unwrap_or(RTT_BUCKETS.len());
            series.rtt[bucket] += 1;
            series.rtt_sum = series.rtt_sum.saturating_add(rtt);
        }
    }

    pub(super) fn record_transition(&mut self, endpoint: EndpointLabel<'_>, to: EndpointState) {
        let (region, address) = endpoint.key();
        *self.transitions.entry((region, address, to)).or_default() += 1;
    }

    pub(super) fn record_failover(&mut self, pool: &str, kind: FailoverKind) {
        *self.failovers.entry((pool.to_owned(), kind)).or_default() += 1;
    }

    pub(super) fn render(&self, page: &mut Page) {
        self.render_probes(page);
        let name = "meridian_health_transitions_total";
        page.family(name, Kind::Counter, "Changes of an endpoint's health state, by the state entered.");
        for ((region, endpoint, to), n) in &self.transitions {
            page.sample(name, &[("region", region), ("endpoint", endpoint), ("to", to.as_str())], *n);
        }
        let name = "meridian_failovers_total";
        page.family(name, Kind::Counter, "Failovers of a pool to other regions, by hand or by health.");
        for ((pool, kind), n) in &self.failovers {
            page.sample(name, &[("pool", pool), ("kind", kind.as_str())], *n);
        }
    }

    fn render_probes(&self, page: &mut Page) {
        let name = "meridian_probe_rtt_seconds";
        page.family(name, Kind::Histogram, "Round-trip time of health probes that got a response.");
        for ((region, endpoint), series) in &self.probes {
            let mut cumulative = 0;
            for (i, n) in series.rtt.iter().enumerate() {
                cumulative += n;
                let le = RTT_BUCKETS.get(i).map_or("+Inf", |(le, _)| le);
                page.sample(
                    "meridian_probe_rtt_seconds_bucket",
                    &[("region", region), ("endpoint", endpoint), ("le", le)],
                    cumulative,
                );
            }
            let labels = [("region", region.as_str()), ("endpoint", endpoint.as_str())];
            page.sample("meridian_probe_rtt_seconds_sum", &labels, series.rtt_sum.as_secs_f64());
            page.sample("meridian_probe_rtt_seconds_count", &labels, cumulative);
        }
        let name = "meridian_probes_total";
        page.family(name, Kind::Counter, "Health probes by result.");
        for ((region, endpoint), series) in &self.probes {
            for result in ProbeResult::ALL {
                let labels =
                    [("region", region.as_str()), ("endpoint", endpoint.as_str()), ("result", result.as_str())];
                page.sample(name, &labels, series.results[result as usize]);
            }
        }
    }
}
