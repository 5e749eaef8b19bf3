//! Signature validity windows, aligned to fixed boundaries so that every instance and every
//! cache entry signing in the same period writes the same inception and expiration.
//!
//! Periods of `lifetime - refresh` (7 days by default, in whole days) are counted from the
//! Unix epoch, so they start at 00:00 UTC. In a period starting at `start`, signatures run
//! from `start - inception_offset` (clocks that lag are covered) to `start + lifetime`, so
//! a signature made at the last moment of its period still has `refresh` (7 days) to run:
//! a resolver holding it for a whole TTL never sees it expire. Time is passed in.

use std::time::Duration;

const DAY_SECS: u64 = 86_400;

/// When signatures start and stop being valid, and how often they are remade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// How far before the period's start the inception lies (default 1 hour).
    pub inception_offset: Duration,
    /// From the period's start to the expiration (default 14 days).
    pub lifetime: Duration,
    /// The least validity a signature has left when a new period starts (default 7 days).
    pub refresh: Duration,
}

impl Default for Validity {
    fn default() -> Self {
        Self {
            inception_offset: Duration::from_secs(3600),
            lifetime: Duration::from_secs(14 * DAY_SECS),
            refresh: Duration::from_secs(7 * DAY_SECS),
        }
    }
}

/// RRSIG inception and expiration, as seconds since the epoch (RFC 4034 section 3.1.5: serial
/// number arithmetic on 32 bits, so the low 32 bits are what goes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub inception: u64,
    pub expiration: u64,
}

impl Validity {
    /// Why these settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.refresh >= self.lifetime {
            return Some(format!(
                "refresh ({}s) must be shorter than the validity ({}s)",
                self.refresh.as_secs(),
                self.lifetime.as_secs()
            ));
        }
        if self.period_days() == 0 {
            return Some("validity less refresh must be at least one day".into());
        }
        None
    }

    /// Whole days between two periods' starts.
    fn period_days(&self) -> u64 {
        self.lifetime.saturating_sub(self.refresh).as_secs() / DAY_SECS
    }

    /// The window of the period holding `unix_secs`.
    pub fn window_at(&self, unix_secs: u64) -> Window {
        let period = self.period_days().max(1) * DAY_SECS;
        let start = unix_secs - unix_secs % period;
        Window {
            inception: start.saturating_sub(self.inception_offset.as_secs()),
            expiration: start + self.lifetime.as_secs(),
        }
    }

    /// When the period holding `unix_secs` ends: the next window starts there.
    pub fn next_change(&self, unix_secs: u64) -> u64 {
        let period = self.period_days().max(1) * DAY_SECS;
        unix_secs - unix_secs % period + period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-03-05T00:00:00Z, a Wednesday: day 20152 since the epoch, 2878 weeks and 6 days.
    const MARCH_5: u64 = 20_152 * DAY_SECS;

    #[test]
    fn windows_are_the_same_all_through_a_period_and_move_at_its_end() {
        let validity = Validity::default();
        let start = MARCH_5 - 6 * DAY_SECS; // the period's start: a multiple of 7 days
        let expected = Window { inception: start - 3600, expiration: start + 14 * DAY_SECS };
        for at in [start, start + 1, MARCH_5 + 12 * 3600, start + 7 * DAY_SECS - 1] {
            assert_eq!(validity.window_at(at), expected, "at {at}");
        }
        let next = validity.window_at(start + 7 * DAY_SECS);
        assert_eq!(next.inception, start + 7 * DAY_SECS - 3600);
        assert_eq!(validity.next_change(MARCH_5), start + 7 * DAY_SECS);
    }

    #[test]
    fn a_signature_always_has_refresh_left_when_it_stops_being_made() {
        let validity = Validity::default();
        for at in (0..30).map(|d| MARCH_5 + d * DAY_SECS + 7) {
            let window = validity.window_at(at);
            let last = validity.next_change(at) - 1;
            assert!(window.expiration - last > 7 * DAY_SECS - 1, "at {at}");
            assert!(window.inception <= at - 3600, "inception before now less the offset");
        }
    }

    #[test]
    fn other_settings_and_their_problems() {
        let daily = Validity {
            inception_offset: Duration::ZERO,
            lifetime: Duration::from_secs(3 * DAY_SECS),
            refresh: Duration::from_secs(2 * DAY_SECS),
        };
        assert_eq!(daily.window_at(MARCH_5 + 5), Window { inception: MARCH_5, expiration: MARCH_5 + 3 * DAY_SECS });
        assert!(daily.problem().is_none());
        let backwards = Validity { refresh: Duration::from_secs(20 * DAY_SECS), ..Validity::default() };
        assert!(backwards.problem().unwrap().contains("shorter"));
        let short = Validity { refresh: Duration::from_secs(14 * DAY_SECS - 60), ..Validity::default() };
        assert!(short.problem().unwrap().contains("one day"));
    }
}
