//! Load reports as the writer keeps them: a moving average per endpoint that ages out, and the
//! shedding hysteresis over it. Pure, with time passed in: the writer hands in each report
//! (read by a probe, or pushed through the API) and the instant it arrived.
//!
//! ```text
//!            load > high
//!   serving ─────────────▶ shed
//!      ▲                    │
//!      └────────────────────┘
//!   load < low, or no report younger than max_age
//! ```

use std::time::{Duration, Instant};

use crate::config::load::{LoadConfig, Shed};

/// Where a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadFrom {
    /// Read by the health check's probe (a body, a header, a metrics page).
    Probe,
    /// Pushed through the API.
    Push,
}

impl LoadFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Push => "push",
        }
    }
}

/// An endpoint's load as reports left it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointLoad {
    /// The moving average: what steering and shedding read.
    pub smoothed: f64,
    /// The last report as it came (a fraction of capacity).
    pub last: f64,
    pub from: LoadFrom,
    /// When the last report came.
    pub at: Instant,
    /// When it stops counting, if no report follows.
    pub expires: Instant,
}

impl EndpointLoad {
    /// Whether it still counts at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        now < self.expires
    }
}

/// The load after a report of `value` (a fraction of capacity) at `now`.
///
/// The average is exponentially weighted by time, with half-life `config.smoothing`: a report
/// one half-life after the last moves the average half way to it, whatever the interval
/// between reports, so a pushed burst weighs no more than a probe's steady beat (linkerd's
/// `Ewma` decays the same way). A first report, or one after the last has aged out, stands
/// as it is: there is nothing to average it with.
pub fn observe(
    previous: Option<&EndpointLoad>,
    value: f64,
    from: LoadFrom,
    now: Instant,
    config: LoadConfig,
) -> EndpointLoad {
    let smoothed = match previous.filter(|p| p.is_fresh(now)) {
        Some(p) if !config.smoothing.is_zero() => {
            let elapsed = now.saturating_duration_since(p.at).as_secs_f64();
            let kept = 0.5f64.powf(elapsed / config.smoothing.as_secs_f64());
            p.smoothed * kept + value * (1.0 - kept)
        }
        _ => value,
    };
    EndpointLoad { smoothed, last: value, from, at: now, expires: now + config.max_age }
}

/// The load steering reads at `now`: the average, while it counts.
pub fn current(load: Option<&EndpointLoad>, now: Instant) -> Option<f64> {
    load.filter(|l| l.is_fresh(now)).map(|l| l.smoothed)
}

/// Whether an endpoint sheds, given whether it did and its load now: it leaves above `high`
/// and comes back below `low`; with no load known, it serves.
pub fn is_shedding(was: bool, load: Option<f64>, shed: Shed) -> bool {
    match load {
        None => false,
        Some(load) if was => load >= shed.low,
        Some(load) => load > shed.high,
    }
}

/// The time until a report stops counting, for the API.
pub fn expires_in(load: &EndpointLoad, now: Instant) -> Duration {
    load.expires.saturating_duration_since(now)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use super::*;

    fn config(smoothing_secs: u64, max_age_secs: u64) -> LoadConfig {
        LoadConfig {
            capacity: 1.0,
            max_age: Duration::from_secs(max_age_secs),
            smoothing: Duration::from_secs(smoothing_secs),
        }
    }

    #[test]
    fn a_report_one_half_life_later_moves_the_average_half_way() {
        let (t0, c) = (Instant::now(), config(10, 30));
        let at = |s| t0 + Duration::from_secs(s);
        let first = observe(None, 0.2, LoadFrom::Probe, at(0), c);
        assert_eq!(first.smoothed, 0.2, "a first report stands as it is");
        let second = observe(Some(&first), 0.6, LoadFrom::Probe, at(10), c);
        assert!((second.smoothed - 0.4).abs() < 1e-9, "{}", second.smoothed);
        let third = observe(Some(&second), 0.6, LoadFrom::Probe, at(30), c);
        assert!((third.smoothed - 0.55).abs() < 1e-9, "two half-lives: three quarters of the way, {}", third.smoothed);
        assert_eq!(third.last, 0.6);
        let unsmoothed = observe(Some(&first), 0.6, LoadFrom::Probe, at(1), config(0, 30));
        assert_eq!(unsmoothed.smoothed, 0.6, "smoothing 0: each report stands");
    }

    #[test]
    fn a_pushed_report_counts_until_max_age_then_nothing_is_known() {
        let (t0, c) = (Instant::now(), config(10, 30));
        let at = |s| t0 + Duration::from_secs(s);
        let pushed = observe(None, 0.9, LoadFrom::Push, at(0), c);
        assert_eq!(current(Some(&pushed), at(29)), Some(0.9));
        assert_eq!(current(Some(&pushed), at(30)), None, "a dead feeder cannot pin the endpoint");
        assert_eq!(expires_in(&pushed, at(20)), Duration::from_secs(10));
        // A report after the last aged out starts afresh rather than averaging with it.
        let again = observe(Some(&pushed), 0.1, LoadFrom::Push, at(40), c);
        assert_eq!(again.smoothed, 0.1);
    }

    #[test]
    fn shedding_leaves_above_high_and_returns_only_below_low() {
        let shed = Shed { high: 0.9, low: 0.75 };
        let mut was = false;
        let mut seen = Vec::new();
        for load in [0.5, 0.9, 0.95, 0.85, 0.76, 0.75, 0.74, 0.8, 0.91] {
            was = is_shedding(was, Some(load), shed);
            seen.push(was);
        }
        assert_eq!(seen, [false, false, true, true, true, true, false, false, true]);
        assert!(!is_shedding(true, None, shed), "no load known: it serves");
    }
}
