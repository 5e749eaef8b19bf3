//! The leases of registered endpoints: when each runs out, kept by the writer in memory.
//!
//! A registration's TTL is an overlay entry (saved, and shared with a cluster); its expiry is
//! not: a heartbeat moves it on without a state-file write. After a restart every lease gets a
//! full TTL from the start, which is never less than what it had left (it cannot have had
//! more than a TTL). Time is passed in; the API reads each expiry through an atomic the writer
//! alone stores, so that a heartbeat publishes nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::Overlay;
use crate::config::overlay::endpoints::{lease_ttl, target_of};

/// A registered endpoint: its region and its address as the writer compares it (an IP address
/// in its canonical text, a name endpoint's name in lowercase with its final dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseKey {
    pub region: String,
    pub address: String,
}

impl LeaseKey {
    pub fn new(region: &str, address: &str) -> Self {
        let address = address
            .parse::<IpAddr>()
            .map_or_else(|_| format!("{}.", address.trim_end_matches('.').to_ascii_lowercase()), |ip| ip.to_string());
        Self { region: region.to_owned(), address }
    }
}

/// One lease as the API shows it: its TTL, and when it runs out (milliseconds since the Unix
/// epoch, moved on by each renewal).
#[derive(Debug, Clone)]
pub struct ShownLease {
    pub ttl: Duration,
    pub expires_unix_ms: Arc<AtomicU64>,
}

impl ShownLease {
    /// How long is left at `now_unix_ms`.
    pub fn remaining(&self, now_unix_ms: u64) -> Duration {
        Duration::from_millis(self.expires_unix_ms.load(Ordering::Relaxed).saturating_sub(now_unix_ms))
    }
}

/// Every lease as the API reads it; rebuilt when the registrations change, not on renewal.
pub type LeaseView = HashMap<LeaseKey, ShownLease>;

#[derive(Debug)]
struct Lease {
    ttl: Duration,
    /// The change that registered it: a registration sent again (here, or to another instance
    /// of a cluster) is a new change, and renews the lease.
    change: u64,
    expires: Instant,
    shown: ShownLease,
}

/// Every lease in force, with its expiry.
#[derive(Debug, Default)]
pub struct Leases {
    held: HashMap<LeaseKey, Lease>,
    view: Arc<LeaseView>,
}

/// Milliseconds since the Unix epoch at `at`, given both clocks at `now`.
fn unix_ms_at(at: Instant, now: Instant, now_unix_ms: u64) -> u64 {
    let ahead = u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
    now_unix_ms.saturating_add(ahead)
}

impl Leases {
    /// Takes in the leases of `changes`: one already held from the same change keeps its
    /// expiry, a new one (or one registered again) gets a full TTL from `now`, and one no
    /// longer registered is dropped.
    pub fn sync(&mut self, changes: &Overlay, now: Instant, now_unix_ms: u64) {
        let mut held = HashMap::new();
        for added in &changes.endpoints_added {
            let Some(ttl) = added.ttl.as_ref().and_then(|t| lease_ttl(t).ok()) else { continue };
            let key = LeaseKey::new(&added.region, target_of(&added.endpoint));
            let change = added.stamp.id;
            let lease = match self.held.remove(&key) {
                Some(lease) if lease.ttl == ttl && lease.change == change => lease,
                _ => {
                    let expires = now + ttl;
                    let shown = ShownLease { ttl, expires_unix_ms: Arc::new(AtomicU64::new(now_unix_ms + ms(ttl))) };
                    Lease { ttl, change, expires, shown }
                }
            };
            held.insert(key, lease);
        }
        self.held = held;
        self.view = Arc::new(self.held.iter().map(|(k, l)| (k.clone(), l.shown.clone())).collect());
    }

    /// Renews a lease: a full TTL from `now`. Its TTL, or `None` when `key` holds no lease.
    pub fn renew(&mut self, key: &LeaseKey, now: Instant, now_unix_ms: u64) -> Option<Duration> {
        let lease = self.held.get_mut(key)?;
        lease.expires = now + lease.ttl;
        lease.shown.expires_unix_ms.store(unix_ms_at(lease.expires, now, now_unix_ms), Ordering::Relaxed);
        Some(lease.ttl)
    }

    /// Moves the expiry of `keys` to `at` (a removal that could not be made is tried again then).
    pub fn postpone(&mut self, keys: &[LeaseKey], at: Instant) {
        for key in keys {
            if let Some(lease) = self.held.get_mut(key) {
                lease.expires = at;
            }
        }
    }

    /// When the next lease runs out.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.held.values().map(|l| l.expires).min()
    }

    /// The leases run out at `now`, with their TTLs.
    pub fn expired(&self, now: Instant) -> Vec<(LeaseKey, Duration)> {
        self.held.iter().filter(|(_, l)| l.expires <= now).map(|(k, l)| (k.clone(), l.ttl)).collect()
    }

    /// Every lease as the API shows it.
    pub fn view(&self) -> Arc<LeaseView> {
        self.view.clone()
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod tests {
    use super::*;
    use crate::config::overlay::AddedEndpoint;

    fn registered(address: &str, ttl: Option<&str>) -> AddedEndpoint {
        serde_json::from_value(serde_json::json!({
            "region": "a", "endpoint": { "address": address }, "ttl": ttl,
        }))
        .unwrap()
    }

    #[test]
    fn leases_run_out_unless_renewed_and_a_sync_keeps_their_expiry() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut changes = Overlay {
            endpoints_added: vec![registered("192.0.2.1", Some("10s")), registered("192.0.2.2", None)],
            ..Overlay::default()
        };
        let mut leases = Leases::default();
        leases.sync(&changes, t0, 1_000_000);
        assert_eq!(leases.len(), 1, "an endpoint without a ttl holds no lease");
        assert_eq!(leases.next_expiry(), Some(at(10)));
        let key = LeaseKey::new("a", "192.0.2.1");
        assert_eq!(leases.renew(&key, at(8), 1_008_000), Some(Duration::from_secs(10)));
        assert!(leases.expired(at(17)).is_empty(), "renewed at 8 s: runs until 18 s");
        assert_eq!(leases.view()[&key].remaining(1_010_000), Duration::from_secs(8));
        leases.sync(&changes, at(9), 1_009_000);
        assert_eq!(leases.next_expiry(), Some(at(18)), "a change elsewhere keeps the expiry");
        changes.endpoints_added[0].stamp.id = 7;
        leases.sync(&changes, at(12), 1_012_000);
        assert_eq!(leases.next_expiry(), Some(at(22)), "registered again (here or elsewhere): a full TTL");
        assert_eq!(leases.expired(at(22)), vec![(key.clone(), Duration::from_secs(10))]);
        assert_eq!(leases.renew(&LeaseKey::new("a", "192.0.2.2"), at(9), 0), None);
        changes.endpoints_added.truncate(0);
        leases.sync(&changes, at(9), 0);
        assert!(leases.is_empty() && leases.next_expiry().is_none());
    }

    #[test]
    fn addresses_compare_however_written() {
        assert_eq!(LeaseKey::new("a", "2001:DB8:0::1"), LeaseKey::new("a", "2001:db8::1"));
        assert_ne!(LeaseKey::new("a", "192.0.2.1"), LeaseKey::new("b", "192.0.2.1"));
    }
}
