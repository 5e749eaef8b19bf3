//! What happened to an endpoint: its last transitions and its probe round-trip times.
//! Pure and bounded: a fixed number of events and samples per endpoint.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::state::Status;

/// Transitions kept per endpoint.
pub const HISTORY_LEN: usize = 32;
/// RTT samples kept per endpoint for the p95.
pub const RTT_WINDOW: usize = 64;
/// Weight of a new sample in the moving average (linkerd's EWMA uses a decay; a fixed
/// alpha is enough at one sample per interval).
const EWMA_ALPHA: f64 = 0.3;

/// One transition, with what the probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    pub from: Status,
    pub to: Status,
    /// "HTTP 503", "connection refused", "held down after flapping"...
    pub detail: String,
}

/// The last transitions of an endpoint, oldest first.
#[derive(Debug, Clone, Default)]
pub struct History {
    events: VecDeque<Event>,
}

impl History {
    pub fn record(&mut self, event: Event) {
        if self.events.len() == HISTORY_LEN {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }
}

/// Round-trip times of an endpoint's probes.
#[derive(Debug, Clone, Default)]
pub struct RttStats {
    pub last: Option<Duration>,
    pub ewma: Option<Duration>,
    pub min: Option<Duration>,
    pub max: Option<Duration>,
    window: VecDeque<Duration>,
}

impl RttStats {
    pub fn add(&mut self, rtt: Duration) {
        self.last = Some(rtt);
        self.ewma = Some(match self.ewma {
            None => rtt,
            Some(avg) => avg.mul_f64(1.0 - EWMA_ALPHA) + rtt.mul_f64(EWMA_ALPHA),
        });
        self.min = Some(self.min.map_or(rtt, |m| m.min(rtt)));
        self.max = Some(self.max.map_or(rtt, |m| m.max(rtt)));
        if self.window.len() == RTT_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(rtt);
    }

    /// The mean over the last [`RTT_WINDOW`] samples.
    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.window.len()).ok().filter(|&n| n > 0)?;
        Some(self.window.iter().sum::<Duration>() / n)
    }

    /// The 95th percentile over the last [`RTT_WINDOW`] samples (nearest rank).
    pub fn p95(&self) -> Option<Duration> {
        if self.window.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = self.window.iter().copied().collect();
        sorted.sort();
        let rank = (sorted.len() * 95).div_ceil(100).max(1);
        Some(sorted[rank - 1])
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_32_events_and_drops_older_ones() {
        let t0 = Instant::now();
        let mut history = History::default();
        for i in 0..40u64 {
            history.record(Event {
                at: t0 + Duration::from_secs(i),
                from: Status::Up,
                to: Status::Down,
                detail: i.to_string(),
            });
        }
        let kept: Vec<&str> = history.events().map(|e| e.detail.as_str()).collect();
        assert_eq!(kept.len(), HISTORY_LEN);
        assert_eq!((kept[0], kept[HISTORY_LEN - 1]), ("8", "39"));
    }

    #[test]
    fn rtt_stats_keep_min_max_last_mean_and_p95_and_none_before_a_sample() {
        let mut stats = RttStats::default();
        assert_eq!((stats.mean(), stats.p95(), stats.min), (None, None, None));
        for ms in [10u64, 20, 30, 40, 1000] {
            stats.add(Duration::from_millis(ms));
        }
        assert_eq!(stats.min, Some(Duration::from_millis(10)));
        assert_eq!(stats.max, Some(Duration::from_millis(1000)));
        assert_eq!(stats.last, Some(Duration::from_millis(1000)));
        assert_eq!(stats.p95(), Some(Duration::from_millis(1000)));
        assert_eq!(stats.mean(), Some(Duration::from_millis(220)));
    }

    #[test]
    fn the_moving_average_weighs_each_new_rtt_by_0_3() {
        let mut stats = RttStats::default();
        for ms in [10u64, 20, 30, 40, 1000] {
            stats.add(Duration::from_millis(ms));
        }
        // 10, then 0.7*10+0.3*20 = 13, 18.1, 24.67, 317.27 ms
        let ewma = stats.ewma.unwrap().as_secs_f64() * 1000.0;
        assert!((ewma - 317.27).abs() < 0.1, "{ewma}");
    }

    #[test]
    fn p95_is_the_nearest_rank_over_the_last_64_samples() {
        let mut many = RttStats::default();
        (1..=100u64).for_each(|ms| many.add(Duration::from_millis(ms)));
        // The window holds 37..=100: its 95th percentile by nearest rank is the 61st, 97.
        assert_eq!(many.p95(), Some(Duration::from_millis(97)));
    }
}
