//! The failed-authentication limit: an address that fails to authenticate `max_failures` times
//! within `window` is refused (429) on every authenticated route, even with the right token,
//! for a whole window from its last counted failure. Successes neither count nor reset the
//! count, so a guesser sharing an address with a real client gains nothing from it.
//!
//! Pure, with time passed in (STYLE section 3): the API edge reads the clock and locks the
//! table. The table holds at most `capacity` addresses; when a new one arrives at a full
//! table, expired records go first, then the oldest of those not refused (a locked-out address
//! must not be freed by failing once from enough others), so many addresses cannot exhaust memory.
//! IPv6 clients count by /64, the block one host usually has, so that one host cannot walk
//! through its own addresses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::clients;

/// Addresses remembered at once by default: far above the clients an admin API has, small
/// enough (about 160 KiB) not to matter.
pub const CAPACITY: usize = 4_096;

/// Failed authentications per client address.
#[derive(Debug)]
pub struct Lockout {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    clients: HashMap<IpAddr, Record>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    /// When the current window began: the first failure of the run, or the failure that
    /// reached the limit (so the refusal lasts a whole window).
    since: Instant,
    failures: u32,
}

impl Lockout {
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self { max_failures: max_failures.max(1), window, capacity: capacity.max(1), clients: HashMap::new() }
    }

    /// How long `client` is still refused at `now`, or `None` when it may try.
    pub fn refused_for(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let record = self.clients.get(&clients::key(client))?;
        let left = (record.since + self.window).checked_duration_since(now).filter(|left| !left.is_zero())?;
        (record.failures >= self.max_failures).then_some(left)
    }

    /// Counts one failed authentication from `client` at `now`; true when this one reaches
    /// the limit, so the caller can log the refusal once.
    pub fn fail(&mut self, client: IpAddr, now: Instant) -> bool {
        let key = clients::key(client);
        if !self.clients.contains_key(&key) && self.clients.len() >= self.capacity {
            self.make_room(now);
        }
        let window = self.window;
        let record = self.clients.entry(key).or_insert(Record { since: now, failures: 0 });
        if now >= record.since + window {
            *record = Record { since: now, failures: 0 };
        }
        record.failures = record.failures.saturating_add(1);
        if record.failures == self.max_failures {
            record.since = now;
            return true;
        }
        false
    }

    /// Addresses remembered now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    fn make_room(&mut self, now: Instant) {
        let (window, max_failures) = (self.window, self.max_failures);
        self.clients.retain(|_, record| now < record.since + window);
        // Addresses still counting go before refused ones; only a table of refused addresses
        // gives up the one whose refusal ends first.
        let order = |record: &Record| (record.failures >= max_failures, record.since);
        if self.clients.len() >= self.capacity
            && let Some(oldest) = self.clients.iter().min_by_key(|(_, record)| order(record)).map(|(key, _)| *key)
        {
            self.clients.remove(&oldest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_limit_refuses_an_address_for_a_window_from_the_failure_that_reached_it() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut lockout = Lockout::new(3, Duration::from_secs(60), CAPACITY);
        let client = ip("192.0.2.1");
        assert!(!lockout.fail(client, at(0)));
        assert!(!lockout.fail(client, at(10)));
        assert_eq!(lockout.refused_for(client, at(11)), None, "two failures of three");
        assert!(lockout.fail(client, at(20)), "the third reaches the limit");
        assert_eq!(lockout.refused_for(client, at(20)), Some(Duration::from_secs(60)));
        assert_eq!(lockout.refused_for(client, at(79)), Some(Duration::from_secs(1)));
        assert_eq!(lockout.refused_for(ip("192.0.2.2"), at(30)), None, "another address is not refused");
        assert_eq!(lockout.refused_for(client, at(80)), None, "the window has passed");
        assert!(!lockout.fail(client, at(80)), "and the count starts again");
        assert_eq!(lockout.refused_for(client, at(81)), None);
    }

    #[test]
    fn failures_spread_wider_than_the_window_never_reach_the_limit() {
        let t0 = Instant::now();
        let mut lockout = Lockout::new(3, Duration::from_secs(60), CAPACITY);
        let client = ip("192.0.2.1");
        for s in [0, 30, 60, 90, 120, 150] {
            assert!(!lockout.fail(client, t0 + Duration::from_secs(s)), "at {s}s");
        }
        assert_eq!(lockout.refused_for(client, t0 + Duration::from_secs(151)), None);
    }

    #[test]
    fn ipv6_clients_count_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let t0 = Instant::now();
        let mut lockout = Lockout::new(2, Duration::from_secs(60), CAPACITY);
        lockout.fail(ip("2001:db8:1:2::1"), t0);
        assert!(lockout.fail(ip("2001:db8:1:2:ffff::9"), t0), "the same /64");
        assert!(lockout.refused_for(ip("2001:db8:1:2::77"), t0).is_some());
        assert_eq!(lockout.refused_for(ip("2001:db8:1:3::1"), t0), None, "another /64");
        lockout.fail(ip("::ffff:192.0.2.7"), t0);
        assert!(lockout.fail(ip("192.0.2.7"), t0));
        assert!(lockout.refused_for(ip("::ffff:192.0.2.7"), t0).is_some());
    }

    #[test]
    fn a_full_table_drops_expired_records_then_the_oldest() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut lockout = Lockout::new(1, Duration::from_secs(60), 3);
        lockout.fail(ip("192.0.2.1"), at(0));
        lockout.fail(ip("192.0.2.2"), at(10));
        lockout.fail(ip("192.0.2.3"), at(20));
        lockout.fail(ip("192.0.2.4"), at(61));
        assert_eq!(lockout.len(), 3, "the expired first record made room");
        assert_eq!(lockout.refused_for(ip("192.0.2.1"), at(61)), None);
        lockout.fail(ip("192.0.2.5"), at(62));
        assert_eq!(lockout.len(), 3);
        assert_eq!(lockout.refused_for(ip("192.0.2.2"), at(62)), None, "the oldest live record went");
        for kept in ["192.0.2.3", "192.0.2.4", "192.0.2.5"] {
            assert!(lockout.refused_for(ip(kept), at(62)).is_some(), "{kept}");
        }
        for n in 0..1_000u32 {
            lockout.fail(IpAddr::from(n.to_be_bytes()), at(63));
        }
        assert_eq!(lockout.len(), 3, "never more than the capacity");
    }

    #[test]
    fn failing_once_from_many_addresses_does_not_free_a_refused_one() {
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        let mut lockout = Lockout::new(3, Duration::from_secs(60), 4);
        let guesser = ip("2001:db8:1:1::1");
        for s in 0..3 {
            lockout.fail(guesser, at(s));
        }
        assert!(lockout.refused_for(guesser, at(3)).is_some());
        // The guesser's other /64s fill the table, each with one failure, again and again.
        for n in 0..100u16 {
            lockout.fail(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2 + n, 0, 0, 0, 1)), at(4));
        }
        assert!(lockout.refused_for(guesser, at(5)).is_some(), "still refused");
        assert_eq!(lockout.len(), 4);
    }
}
