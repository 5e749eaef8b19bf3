//! An endpoint's effective weight as it moves: a weight ramp set through the API (anchored
//! from wall-clock time to the writer's instants) times a slow start after it came back.
//! Pure, with time passed in: the writer computes weights as of a whole-second tick, so that
//! the view queries read changes at most once a second while a ramp moves, and not at all
//! when none does. Queries read the published weights; they never compute one.
//!
//! Weights are kept in thousandths ([`MILLI`]) so that a slow start of an endpoint of weight
//! 1 has room to move (from 0.1 to 1).

use std::time::{Duration, Instant};

use crate::config::ramp::{SLOW_START_FROM, WeightRamp, linear};

/// Thousandths of a weight per weight.
pub const MILLI: u32 = 1000;

/// How often a moving ramp's weight steps.
pub const TICK: Duration = Duration::from_secs(1);

/// A weight ramp on the writer's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    pub from: f64,
    pub start: Instant,
    pub end: Instant,
}

impl Ramp {
    /// The saved ramp to `to` placed on the monotonic clock: `now` is `unix_ms` on the wall
    /// clock. A start the monotonic clock cannot represent (on platforms whose instants begin
    /// at boot) is replaced by `now` and the weight reached by then: the same line from here on.
    pub fn anchor(saved: &WeightRamp, to: f64, now: Instant, unix_ms: u64) -> Self {
        let end = now + Duration::from_millis(saved.until_ms.saturating_sub(unix_ms));
        if saved.started_ms > unix_ms {
            // Made by an instance whose clock runs ahead of this one's: it starts later here.
            return Self { from: saved.from, start: now + Duration::from_millis(saved.started_ms - unix_ms), end };
        }
        match now.checked_sub(Duration::from_millis(unix_ms - saved.started_ms)) {
            Some(start) => Self { from: saved.from, start, end },
            None => Self { from: saved.weight_at(to, unix_ms), start: now, end },
        }
    }

    /// The weight at `t` on the way to `to`.
    pub fn weight_at(&self, to: f64, t: Instant) -> f64 {
        linear(self.from, to, t.saturating_duration_since(self.start), self.end.saturating_duration_since(self.start))
    }
}

/// A slow start: since when, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowStart {
    pub since: Instant,
    pub length: Duration,
}

impl SlowStart {
    /// The share of its weight an endpoint gets at `t`: [`SLOW_START_FROM`] when it came
    /// back, rising linearly to all of it at the end.
    pub fn share_at(&self, t: Instant) -> f64 {
        linear(SLOW_START_FROM, 1.0, t.saturating_duration_since(self.since), self.length)
    }

    pub fn end(&self) -> Instant {
        self.since + self.length
    }
}

/// The weight answers follow at `t`, in thousandths: `weight` as ramped, times the slow
/// start's share. A weight above 0 never rounds to nothing while it ramps.
pub fn effective_milli(weight: u32, ramp: Option<&Ramp>, slow: Option<&SlowStart>, t: Instant) -> u32 {
    let base = ramp.map_or(f64::from(weight), |r| r.weight_at(f64::from(weight), t));
    let share = slow.map_or(1.0, |s| s.share_at(t));
    let milli = (base * share * f64::from(MILLI)).round();
    if milli <= 0.0 && base > 0.0 { 1 } else { milli.clamp(0.0, f64::from(u32::MAX)) as u32 }
}

/// The whole-second tick at or before `t`, counted from `epoch`: weights are computed as of
/// this instant, so all ramps step together.
pub fn tick_at(epoch: Instant, t: Instant) -> Instant {
    let since = t.saturating_duration_since(epoch);
    epoch + Duration::from_secs(since.as_secs())
}

/// The first whole-second tick after `t`.
pub fn next_tick(epoch: Instant, t: Instant) -> Instant {
    tick_at(epoch, t) + TICK
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use super::*;

    #[test]
    fn an_anchored_ramp_keeps_its_wall_clock_times() {
        let now = Instant::now() + Duration::from_secs(100); // room to go back
        let saved = WeightRamp { from: 3.0, started_ms: 1_000_000, until_ms: 1_010_000 };
        // Made 4 s before the wall clock reads 1_004_000: 6 s to go.
        let ramp = Ramp::anchor(&saved, 10.0, now, 1_004_000);
        assert_eq!(ramp.start, now - Duration::from_secs(4));
        assert_eq!(ramp.end, now + Duration::from_secs(6));
        assert!((ramp.weight_at(10.0, now) - 5.8).abs() < 1e-9, "4 s of 10 s from 3 to 10");
        assert_eq!(ramp.weight_at(10.0, now + Duration::from_secs(6)), 10.0);
        // Made later by an instance whose clock runs 2 s ahead: it starts 2 s from now here.
        let ahead = WeightRamp { from: 3.0, started_ms: 1_006_000, until_ms: 1_016_000 };
        assert_eq!(Ramp::anchor(&ahead, 10.0, now, 1_004_000).start, now + Duration::from_secs(2));
    }

    #[test]
    fn ramps_at_their_start_middle_and_end() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let ramp = Ramp { from: 3.0, start: t0, end: at(10) };
        assert_eq!(effective_milli(10, Some(&ramp), None, t0), 3_000);
        assert_eq!(effective_milli(10, Some(&ramp), None, at(5)), 6_500);
        assert_eq!(effective_milli(10, Some(&ramp), None, at(10)), 10_000);
        assert_eq!(effective_milli(10, Some(&ramp), None, at(99)), 10_000, "past the end: the new weight");
        assert_eq!(effective_milli(10, None, None, at(5)), 10_000, "no ramp");
    }

    #[test]
    fn slow_start_begins_at_a_tenth_and_multiplies_a_ramp() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let slow = SlowStart { since: t0, length: Duration::from_secs(100) };
        assert_eq!(effective_milli(1, None, Some(&slow), t0), 100, "a tenth of weight 1");
        assert_eq!(effective_milli(1, None, Some(&slow), at(50)), 550);
        assert_eq!(effective_milli(1, None, Some(&slow), at(100)), 1_000);
        assert_eq!(slow.end(), at(100));
        let ramp = Ramp { from: 0.0, start: t0, end: at(100) };
        assert_eq!(effective_milli(20, Some(&ramp), Some(&slow), at(50)), 5_500, "10 x 0.55");
        assert_eq!(effective_milli(0, None, Some(&slow), at(50)), 0, "weight 0 stays out");
        let tiny = Ramp { from: 0.0, start: t0, end: at(86_400) };
        assert_eq!(effective_milli(1, Some(&tiny), None, at(1)), 1, "above 0 never rounds to nothing");
    }

    #[test]
    fn a_new_ramp_from_mid_ramp_starts_where_the_first_had_got_to() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let first = Ramp { from: 2.0, start: t0, end: at(10) };
        let reached = first.weight_at(12.0, at(4));
        assert!((reached - 6.0).abs() < 1e-9);
        let second = Ramp { from: reached, start: at(4), end: at(8) };
        assert_eq!(effective_milli(0, Some(&second), None, at(4)), 6_000, "no jump at the new change");
        assert_eq!(effective_milli(0, Some(&second), None, at(6)), 3_000);
        assert_eq!(effective_milli(0, Some(&second), None, at(8)), 0);
    }

    #[test]
    fn ticks_are_whole_seconds_from_the_epoch() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        assert_eq!(tick_at(t0, ms(2_999)), ms(2_000));
        assert_eq!(tick_at(t0, ms(3_000)), ms(3_000));
        assert_eq!(next_tick(t0, ms(2_999)), ms(3_000));
        assert_eq!(next_tick(t0, ms(3_000)), ms(4_000));
    }
}
