//! Traffic analytics: per pool, the share of answers by region, endpoint, client country and
//! continent, and RCODE rates, over sliding windows of 1 minute, 15 minutes and 1 hour.
//!
//! Time comes in as a tick, [`BUCKET_SECS`] seconds long; each pool keeps a ring of
//! [`RING_BUCKETS`] buckets (an hour and a spare). A window of N minutes sums the last N*6
//! buckets, the current partial one included. Recording an answer is a few relaxed atomic adds
//! into fixed arrays: no lock, no map, no allocation.
//!
//! Regions and endpoints get slots by name, on first sight, never reused: a pool's slots
//! survive snapshot rebuilds because [`Analytics`] lives as long as the process. Probe RTT
//! statistics are not here: see `health::history::RttStats`.
//!
//! Pure: no clock, sockets or tasks.

mod bucket;
pub mod rcode;
mod summary;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::geo::CONTINENTS;

pub use bucket::{MAX_ENDPOINT_SLOTS, MAX_REGION_SLOTS, RING_BUCKETS};
use bucket::{NO_REGION, REGION_OVERFLOW, Ring};
use rcode::rcode_slot;
use summary::Totals;
pub use summary::{Place, Rate, Share, Summary, Window, WindowError};

/// Seconds per tick, and per bucket.
pub const BUCKET_SECS: u64 = 10;

/// The tick of a moment `elapsed` after the edge's epoch (e.g. process start, from a
/// monotonic clock, so that wall-clock steps do not move buckets).
pub fn tick(elapsed: Duration) -> u64 {
    elapsed.as_secs() / BUCKET_SECS
}

/// The analytics of every pool, by name. `Send + Sync`; keep one for the process.
#[derive(Debug, Default)]
pub struct Analytics {
    pools: Mutex<BTreeMap<String, Arc<PoolAnalytics>>>,
}

impl Analytics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The analytics of pool `name`, created on first sight. Not hot: locks, and the first
    /// call for a name allocates the pool's ring (about 1.5 MB).
    pub fn pool(&self, name: &str) -> Arc<PoolAnalytics> {
        let mut pools = lock(&self.pools);
        Arc::clone(pools.entry(name.to_owned()).or_insert_with(|| Arc::new(PoolAnalytics::new())))
    }

    /// Forgets the pools `keep` says no to, e.g. pools gone from the configuration after a
    /// reload. Snapshots still holding their `Arc` keep counting into them until dropped.
    pub fn retain(&self, mut keep: impl FnMut(&str) -> bool) {
        lock(&self.pools).retain(|name, _| keep(name));
    }
}

/// The slot names of one pool, in slot order.
#[derive(Debug, Default, Clone)]
struct Names {
    regions: Vec<String>,
    endpoints: Vec<String>,
}

/// Which names a slot is of.
#[derive(Debug, Clone, Copy)]
enum SlotKind {
    Region,
    Endpoint,
}

impl Names {
    fn list(&self, kind: SlotKind) -> &Vec<String> {
        match kind {
            SlotKind::Region => &self.regions,
            SlotKind::Endpoint => &self.endpoints,
        }
    }

    fn list_mut(&mut self, kind: SlotKind) -> &mut Vec<String> {
        match kind {
            SlotKind::Region => &mut self.regions,
            SlotKind::Endpoint => &mut self.endpoints,
        }
    }
}

/// One pool's counts over the last hour.
pub struct PoolAnalytics {
    ring: Ring,
    /// Replaced whole (copied) when the snapshot builder adds a name, so a summary for the
    /// API never waits on the writer, nor the writer on it.
    names: ArcSwap<Names>,
}

impl fmt::Debug for PoolAnalytics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolAnalytics").field("names", &self.names).finish_non_exhaustive()
    }
}

impl Default for PoolAnalytics {
    fn default() -> Self {
        Self::new()
    }
}

impl PoolAnalytics {
    /// Empty analytics, not kept in any [`Analytics`]. Allocates the ring (about 1.5 MB).
    pub fn new() -> Self {
        Self { ring: Ring::new(), names: ArcSwap::default() }
    }

    /// The slot of region `name`: the same for the same name on every call. Past
    /// [`MAX_REGION_SLOTS`] names, the shared overflow slot. Not hot: copies the names when
    /// `name` is new.
    pub fn region_slot(&self, name: &str) -> usize {
        self.slot(name, MAX_REGION_SLOTS, SlotKind::Region)
    }

    /// The slot of an endpoint, labelled `region/address`: the same for the same label on
    /// every call. Past [`MAX_ENDPOINT_SLOTS`] labels, the shared overflow slot. Not hot:
    /// copies the names when `label` is new.
    pub fn endpoint_slot(&self, label: &str) -> usize {
        self.slot(label, MAX_ENDPOINT_SLOTS, SlotKind::Endpoint)
    }

    fn slot(&self, name: &str, capacity: usize, kind: SlotKind) -> usize {
        if let Some(slot) = self.names.load().list(kind).iter().position(|n| n == name) {
            return slot;
        }
        let mut slot = capacity;
        self.names.rcu(|current| {
            let mut next = Names::clone(current);
            slot = slot_of(next.list_mut(kind), name, capacity);
            next
        });
        slot
    }

    /// Counts one answer at `tick`: from the region in `region_slot` (`None` when no region
    /// could serve), with the endpoints in `endpoint_slots`, to a client in `country` and
    /// `continent` (uppercase ASCII codes; anything else counts as unknown), with `rcode`.
    /// Slots past the last count in the overflow slot.
    ///
    /// Hot path: relaxed atomic adds into fixed arrays, no lock and no allocation. The first
    /// answer of a tick also zeroes the bucket it reuses; answers recorded by other threads
    /// during that reset are lost.
    pub fn record(
        &self,
        tick: u64,
        region_slot: Option<usize>,
        endpoint_slots: impl Iterator<Item = usize>,
        country: Option<[u8; 2]>,
        continent: Option<[u8; 2]>,
        rcode: u16,
    ) {
        let Some(bucket) = self.ring.for_writing(tick) else {
            return;
        };
        let add = |counter: &AtomicU32| counter.fetch_add(1, Ordering::Relaxed);
        add(&bucket.regions[region_slot.map_or(NO_REGION, |s| s.min(REGION_OVERFLOW))]);
        for slot in endpoint_slots {
            add(&bucket.endpoints[slot.min(MAX_ENDPOINT_SLOTS)]);
        }
        add(&bucket.countries[country_slot(country)]);
        add(&bucket.continents[continent_slot(continent)]);
        add(&bucket.rcodes[rcode_slot(rcode)]);
    }

    /// The answers of the `window` ending at `now_tick`. Buckets the ring has reused for
    /// another tick, or is resetting, count as empty. Not hot: reads every bucket of the
    /// window and loads the slot names (no lock).
    pub fn summary(&self, now_tick: u64, window: Window) -> Summary {
        let mut totals = Totals::default();
        let mut one = Totals::default();
        let first = now_tick.saturating_sub(window.buckets() - 1);
        for tick in first..=now_tick {
            if self.ring.read(tick, |bucket| one.load(bucket)) {
                totals.add(&one);
            }
        }
        let names = self.names.load();
        totals.summarize(window, &names.regions, &names.endpoints)
    }
}

/// The index of `name` in `names`, added if new and there is room; else `capacity`.
fn slot_of(names: &mut Vec<String>, name: &str, capacity: usize) -> usize {
    if let Some(slot) = names.iter().position(|n| n == name) {
        return slot;
    }
    if names.len() == capacity {
        return capacity;
    }
    names.push(name.to_owned());
    names.len() - 1
}

/// `AA` is 0, `AB` 1, ..., `ZZ` 675; anything but two uppercase ASCII letters is unknown.
fn country_slot(country: Option<[u8; 2]>) -> usize {
    match country {
        Some([a @ b'A'..=b'Z', b @ b'A'..=b'Z']) => usize::from(a - b'A') * 26 + usize::from(b - b'A'),
        _ => 26 * 26,
    }
}

/// The index in `geo::CONTINENTS`, else unknown.
fn continent_slot(continent: Option<[u8; 2]>) -> usize {
    continent.and_then(|c| CONTINENTS.iter().position(|k| k.as_bytes() == c)).unwrap_or(CONTINENTS.len())
}

/// A poisoned lock still holds valid names and pools: use it as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
