//! The health of one endpoint: a pure state machine over probe results, with time passed in.
//!
//! ```text
//!            fall x Failed                 rise x Ok (not while held)
//!   Up ---------------------------> Down ---------------------------> Up
//!   Up ---- fall x Degraded ----> Degraded ---- rise x Ok ----------> Up
//!   Degraded -- fall x Failed --> Down -- rise x Degraded --> Degraded
//! ```
//! A streak counts consecutive results that point the same way away from the current
//! status; any other result breaks it. More than `flap_limit` falls to Down within
//! `flap_window` hold the endpoint Down for `hold_down` (a circuit breaker).

use std::time::{Duration, Instant};

/// What the checks say of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Up,
    /// Up, but slow or answering with a status such as 429: served only when no Up endpoint
    /// remains in its region.
    Degraded,
    Down,
}

impl Status {
    /// The status in the operators' words, as the API, the metrics page and `meridian ctl`
    /// all show it: `up`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Down => "down",
        }
    }
}

/// One probe result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    Ok,
    Degraded,
    Failed,
}

impl Observation {
    fn points_to(self) -> Status {
        match self {
            Observation::Ok => Status::Up,
            Observation::Degraded => Status::Degraded,
            Observation::Failed => Status::Down,
        }
    }
}

/// The thresholds of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub rise: u32,
    pub fall: u32,
    pub flap_limit: u32,
    pub flap_window: Duration,
    pub hold_down: Duration,
}

/// A change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub at: Instant,
    /// The change put the endpoint on hold (it flapped too often).
    pub held: bool,
}

/// Falls remembered for flap detection; more than this can never be needed.
const MAX_FLAPS: usize = 16;

#[derive(Debug, Clone)]
pub struct EndpointHealth {
    status: Status,
    since: Instant,
    streak: u32,
    /// Where the streak points.
    toward: Status,
    falls: [Option<Instant>; MAX_FLAPS],
    held_until: Option<Instant>,
}

impl EndpointHealth {
    pub fn new(status: Status, now: Instant) -> Self {
        Self { status, since: now, streak: 0, toward: status, falls: [None; MAX_FLAPS], held_until: None }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn since(&self) -> Instant {
        self.since
    }

    /// When the hold ends, if the endpoint is held down.
    pub fn held_until(&self) -> Option<Instant> {
        self.held_until
    }

    /// Records one probe result; returns the transition if this result changes the status.
    pub fn observe(&mut self, seen: Observation, now: Instant, t: Thresholds) -> Option<Transition> {
        let target = seen.points_to();
        if self.held_until.is_some_and(|until| now >= until) {
            self.held_until = None;
        }
        // Count by direction, not by exact result: from Down every non-failure counts toward
        // rising, from Up every non-success toward falling, so results that alternate between
        // two bad (or two good) kinds still make a run. The run lands on the worst it saw.
        let (counts, needed) = match self.status {
            Status::Down => (target != Status::Down && self.held_until.is_none(), t.rise),
            Status::Up => (target != Status::Up, t.fall),
            Status::Degraded if target == Status::Up => (self.toward != Status::Down, t.rise),
            Status::Degraded => (target == Status::Down && self.toward != Status::Up, t.fall),
        };
        if !counts {
            self.streak = 0;
            self.toward = self.status;
            // From Degraded, a result in the other direction starts a run of its own.
            if self.status == Status::Degraded && target != Status::Degraded {
                self.streak = 1;
                self.toward = target;
                return self.land(now, t, if target == Status::Up { t.rise } else { t.fall });
            }
            return None;
        }
        self.streak += 1;
        self.toward = if self.streak == 1 { target } else { worse(self.toward, target) };
        self.land(now, t, needed)
    }

    /// Makes the transition the current run points to once it is long enough.
    fn land(&mut self, now: Instant, t: Thresholds, needed: u32) -> Option<Transition> {
        if self.streak < needed || self.toward == self.status {
            return None;
        }
        let to = self.toward;
        let held = to == Status::Down && self.record_fall(now, t);
        let transition = Transition { from: self.status, to, at: now, held };
        self.status = to;
        self.since = now;
        self.streak = 0;
        self.toward = to;
        Some(transition)
    }

    /// Remembers a fall; true if it makes too many within the window (and starts a hold).
    fn record_fall(&mut self, now: Instant, t: Thresholds) -> bool {
        for slot in self.falls.iter_mut() {
            if slot.is_some_and(|at| now.duration_since(at) > t.flap_window) {
                *slot = None;
            }
        }
        match self.falls.iter_mut().find(|s| s.is_none()) {
            Some(free) => *free = Some(now),
            None => {
                let oldest = self.falls.iter_mut().min_by_key(|s| s.unwrap_or(now)).expect("MAX_FLAPS > 0");
                *oldest = Some(now);
            }
        }
        let recent = self.falls.iter().flatten().count();
        if recent > t.flap_limit as usize {
            self.held_until = Some(now + t.hold_down);
            return true;
        }
        false
    }
}

/// The more severe of two statuses: Down, then Degraded, then Up.
fn worse(a: Status, b: Status) -> Status {
    let rank = |s| match s {
        Status::Up => 0,
        Status::Degraded => 1,
        Status::Down => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
// Tests take one real instant as a base and make up every later one from it.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        rise: 2,
        fall: 3,
        flap_limit: 2,
        flap_window: Duration::from_secs(60),
        hold_down: Duration::from_secs(30),
    };

    fn run(h: &mut EndpointHealth, t0: Instant, steps: &[(Observation, u64)]) -> Vec<Option<Status>> {
        steps.iter().map(|&(o, s)| h.observe(o, t0 + Duration::from_secs(s), T).map(|tr| tr.to)).collect()
    }

    use Observation::{Degraded as D, Failed as F, Ok as K};

    #[test]
    fn goes_down_only_after_fall_consecutive_failures() {
        let t0 = Instant::now();
        let mut h = EndpointHealth::new(Status::Up, t0);
        // The success at 2 s resets the run.
        let seen = run(&mut h, t0, &[(F, 1), (K, 2), (F, 3), (F, 4), (F, 5)]);
        assert_eq!(seen, [None, None, None, None, Some(Status::Down)]);
        assert_eq!(h.since(), t0 + Duration::from_secs(5));
    }

    #[test]
    fn comes_up_after_rise_consecutive_successes() {
        let t0 = Instant::now();
        let mut h = EndpointHealth::new(Status::Down, t0);
        assert_eq!(run(&mut h, t0, &[(K, 1), (F, 2), (K, 3), (K, 4)]), [None, None, None, Some(Status::Up)]);
    }

    #[test]
    fn degraded_comes_and_goes_with_its_own_streaks() {
        let t0 = Instant::now();
        let mut h = EndpointHealth::new(Status::Up, t0);
        let seen = run(&mut h, t0, &[(D, 1), (D, 2), (D, 3), (K, 4), (K, 5), (D, 6), (F, 7), (F, 8)]);
        // Three bad results in a row from Up: down, the worst of them.
        assert_eq!(seen, [None, None, Some(Status::Degraded), None, Some(Status::Up), None, None, Some(Status::Down)]);
        // From Down, degraded results bring it back as Degraded after `rise`.
        assert_eq!(run(&mut h, t0, &[(D, 10), (D, 11)]), [None, Some(Status::Degraded)]);
    }

    #[test]
    fn alternating_results_of_one_direction_still_make_a_run() {
        let t0 = Instant::now();
        // Down, answering fast and slow in turn: every probe succeeds, so it rises (degraded).
        let mut h = EndpointHealth::new(Status::Down, t0);
        assert_eq!(run(&mut h, t0, &[(K, 1), (D, 2)]), [None, Some(Status::Degraded)]);
        // Up, timing out and answering 429 in turn: it falls, to the worst it saw.
        let mut h = EndpointHealth::new(Status::Up, t0);
        assert_eq!(run(&mut h, t0, &[(F, 1), (D, 2), (F, 3)]), [None, None, Some(Status::Down)]);
    }

    #[test]
    fn flapping_more_than_the_limit_holds_it_down() {
        let t0 = Instant::now();
        let mut h = EndpointHealth::new(Status::Up, t0);
        let flap = |h: &mut EndpointHealth, start: u64| {
            run(h, t0, &[(F, start), (F, start + 1), (F, start + 2), (K, start + 3), (K, start + 4)])
        };
        assert_eq!(flap(&mut h, 0)[4], Some(Status::Up));
        assert_eq!(flap(&mut h, 5)[4], Some(Status::Up));
        // The third fall within 60 s is one more than the limit of 2: held for 30 s.
        let third = run(&mut h, t0, &[(F, 10), (F, 11), (F, 12)]);
        assert_eq!(third[2], Some(Status::Down));
        assert_eq!(h.held_until(), Some(t0 + Duration::from_secs(42)));
        assert_eq!(run(&mut h, t0, &[(K, 13), (K, 14), (K, 20), (K, 41)]), [None; 4], "no rise while held");
        assert_eq!(run(&mut h, t0, &[(K, 42), (K, 43)]), [None, Some(Status::Up)], "rises once the hold ends");
    }

    #[test]
    fn falls_outside_the_window_are_forgotten() {
        let t0 = Instant::now();
        let mut h = EndpointHealth::new(Status::Up, t0);
        for start in [0, 100, 200, 300] {
            let seen = run(&mut h, t0, &[(F, start), (F, start + 1), (F, start + 2), (K, start + 3), (K, start + 4)]);
            assert_eq!(seen[4], Some(Status::Up), "fall at {start}s is the only one in its window");
        }
        assert_eq!(h.held_until(), None);
    }
}
