//! One 10-second bucket of a pool's counts, and the ring of them.
//!
//! A bucket carries the tick it counts. The first writer of a newer tick claims it: it swaps
//! the old tick for `RESETTING`, zeroes the counts and then publishes the new tick, so readers
//! never mix the counts of two ticks. Writers that arrive while a bucket is being reset drop
//! their counts rather than wait: this is analytics, not billing, and the window for it is the
//! time to zero about a thousand counters, once per bucket per 10 seconds.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use super::rcode::RCODE_SLOTS;

/// Region slots named on first sight; later names share the overflow slot.
pub const MAX_REGION_SLOTS: usize = 64;
/// Endpoint slots named on first sight; later labels share the overflow slot.
pub const MAX_ENDPOINT_SLOTS: usize = 256;
/// Buckets in the ring: an hour of 10-second buckets and one spare, so the writer of the
/// next tick never resets a bucket a reader of this tick still counts.
pub const RING_BUCKETS: usize = 361;

/// Counters per region slot, then the overflow slot, then answers with no region.
pub(super) const REGION_COUNTERS: usize = MAX_REGION_SLOTS + 2;
pub(super) const REGION_OVERFLOW: usize = MAX_REGION_SLOTS;
pub(super) const NO_REGION: usize = MAX_REGION_SLOTS + 1;
pub(super) const ENDPOINT_COUNTERS: usize = MAX_ENDPOINT_SLOTS + 1;
/// Every pair of uppercase ASCII letters, then unknown.
pub(super) const COUNTRY_COUNTERS: usize = 26 * 26 + 1;
/// `geo::CONTINENTS` in order, then unknown.
pub(super) const CONTINENT_COUNTERS: usize = crate::geo::CONTINENTS.len() + 1;

/// The tick of a bucket being reset; no real tick gets near it.
const RESETTING: u64 = u64::MAX;

/// The counts of one tick. 32 bits hold 400 million answers a second for 10 seconds.
pub(super) struct Bucket {
    tick: AtomicU64,
    pub(super) regions: [AtomicU32; REGION_COUNTERS],
    pub(super) endpoints: [AtomicU32; ENDPOINT_COUNTERS],
    pub(super) countries: [AtomicU32; COUNTRY_COUNTERS],
    pub(super) continents: [AtomicU32; CONTINENT_COUNTERS],
    pub(super) rcodes: [AtomicU32; RCODE_SLOTS],
}

impl Bucket {
    /// An empty bucket of tick 0: counting nothing, so it is right for tick 0 too.
    const fn new() -> Self {
        Self {
            tick: AtomicU64::new(0),
            regions: [const { AtomicU32::new(0) }; REGION_COUNTERS],
            endpoints: [const { AtomicU32::new(0) }; ENDPOINT_COUNTERS],
            countries: [const { AtomicU32::new(0) }; COUNTRY_COUNTERS],
            continents: [const { AtomicU32::new(0) }; CONTINENT_COUNTERS],
            rcodes: [const { AtomicU32::new(0) }; RCODE_SLOTS],
        }
    }

    fn counters(&self) -> impl Iterator<Item = &AtomicU32> {
        self.regions.iter().chain(&self.endpoints).chain(&self.countries).chain(&self.continents).chain(&self.rcodes)
    }
}

/// The ring of buckets of one pool.
pub(super) struct Ring {
    buckets: Box<[Bucket]>,
}

impl Ring {
    pub(super) fn new() -> Self {
        Self { buckets: (0..RING_BUCKETS).map(|_| Bucket::new()).collect() }
    }

    fn slot(&self, tick: u64) -> &Bucket {
        // The remainder is below RING_BUCKETS, so it fits a usize.
        &self.buckets[(tick % RING_BUCKETS as u64) as usize]
    }

    /// The bucket to count `tick` in, claimed and zeroed if it last counted an older tick.
    /// `None` while another writer resets it, or when it already counts a newer tick (this
    /// writer is an hour late): the count is dropped.
    pub(super) fn for_writing(&self, tick: u64) -> Option<&Bucket> {
        let bucket = self.slot(tick);
        let seen = bucket.tick.load(Ordering::Acquire);
        if seen == tick {
            return Some(bucket);
        }
        if seen > tick {
            return None; // RESETTING, or newer
        }
        match bucket.tick.compare_exchange(seen, RESETTING, Ordering::Acquire, Ordering::Acquire) {
            Ok(_) => {
                bucket.counters().for_each(|c| c.store(0, Ordering::Relaxed));
                bucket.tick.store(tick, Ordering::Release);
                Some(bucket)
            }
            Err(now) => (now == tick).then_some(bucket),
        }
    }

    /// Hands the bucket of `tick` to `load`, and says whether it counted that tick both before
    /// and after: if not, what `load` saw may belong to another tick and must be dropped.
    pub(super) fn read(&self, tick: u64, load: impl FnOnce(&Bucket)) -> bool {
        let bucket = self.slot(tick);
        if bucket.tick.load(Ordering::Acquire) != tick {
            return false;
        }
        load(bucket);
        // As in a seqlock: the counter loads above stay before the second look at the tick.
        fence(Ordering::Acquire);
        bucket.tick.load(Ordering::Relaxed) == tick
    }
}
