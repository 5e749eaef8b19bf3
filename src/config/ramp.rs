//! Gradual shifts of weight: `slow_start` (a returning endpoint's weight ramped up from a tenth)
//! and weight changes made through the API over a time (`{"weight": 10, "over": "10m"}`).
//!
//! A ramp set through the API is kept in wall-clock time (milliseconds since the Unix epoch),
//! so that a restart, or another instance of a cluster reading the shared log, continues the
//! same ramp rather than starting it again. Pure: the writer passes the time in.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Problem;
use super::file::FileDuration;
use super::names::shown_duration;

/// The longest a weight ramp or a slow start may take.
pub const MAX_RAMP: Duration = Duration::from_secs(24 * 3600);

/// Where a slow start begins, as a share of the endpoint's weight: HAProxy's `slowstart`
/// and Envoy's slow start mode also begin low rather than at nothing, so that a returning
/// endpoint gets the few answers that show it works.
pub const SLOW_START_FROM: f64 = 0.1;

/// A weight change made through the API over a time: from `from` (the weight answers
/// followed when it was made, mid-ramp or not) to the change's weight, linearly between
/// `started_ms` and `until_ms`. A ramp whose end has passed is simply the new weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightRamp {
    pub from: f64,
    /// Milliseconds since the Unix epoch.
    pub started_ms: u64,
    pub until_ms: u64,
}

impl WeightRamp {
    /// The weight at `now_ms` on the way to `to`.
    pub fn weight_at(&self, to: f64, now_ms: u64) -> f64 {
        let elapsed = Duration::from_millis(now_ms.saturating_sub(self.started_ms));
        let length = Duration::from_millis(self.until_ms.saturating_sub(self.started_ms));
        linear(self.from, to, elapsed, length)
    }

    /// Whether the ramp still moves at `now_ms`.
    pub fn is_moving(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms
    }
}

/// The point `elapsed` into a straight line from `from` to `to` that takes `length`: `from`
/// at its start, `to` at its end and after.
pub fn linear(from: f64, to: f64, elapsed: Duration, length: Duration) -> f64 {
    if elapsed >= length {
        return to;
    }
    from + (to - from) * (elapsed.as_secs_f64() / length.as_secs_f64())
}

/// A ramp's length as the API or the file gives it: more than nothing and at most
/// [`MAX_RAMP`]. `at` names the field in a problem.
pub fn ramp_length(value: &FileDuration, at: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let length = super::health::duration(value, at, problems)?;
    if length.is_zero() || length > MAX_RAMP {
        problems.push(Problem::new(
            at,
            format!("{value} is not a ramp's length: more than 0 and at most {}", shown_duration(MAX_RAMP)),
        ));
        return None;
    }
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ramp_is_its_start_at_the_start_halfway_in_the_middle_and_its_target_at_and_after_the_end() {
        let ramp = WeightRamp { from: 3.0, started_ms: 10_000, until_ms: 20_000 };
        assert_eq!(ramp.weight_at(10.0, 10_000), 3.0);
        assert_eq!(ramp.weight_at(10.0, 5_000), 3.0, "before its start (a clock set back)");
        assert_eq!(ramp.weight_at(10.0, 15_000), 6.5);
        assert_eq!(ramp.weight_at(10.0, 20_000), 10.0);
        assert_eq!(ramp.weight_at(10.0, 90_000), 10.0);
        assert!(ramp.is_moving(19_999) && !ramp.is_moving(20_000));
        let down = WeightRamp { from: 10.0, started_ms: 0, until_ms: 4_000 };
        assert_eq!(down.weight_at(0.0, 1_000), 7.5, "ramps go down as well");
    }

    #[test]
    fn a_ramps_length_is_positive_and_at_most_a_day() {
        let mut problems = Vec::new();
        let text = |t: &str| FileDuration::Text(t.into());
        assert_eq!(ramp_length(&text("10m"), "over", &mut problems), Some(Duration::from_secs(600)));
        assert_eq!(ramp_length(&FileDuration::Secs(86_400), "over", &mut problems), Some(MAX_RAMP));
        assert!(problems.is_empty());
        for bad in [text("0s"), text("25h"), FileDuration::Secs(-1), text("soon")] {
            assert_eq!(ramp_length(&bad, "over", &mut problems), None, "{bad}");
        }
        assert_eq!(problems.len(), 4);
        assert!(problems.iter().all(|p| p.at == "over"));
        assert!(problems[1].message.contains("at most 24h"), "{}", problems[1].message);
    }
}
