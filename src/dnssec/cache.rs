//! The signature cache: RRSIGs by the exact data they sign, shared by every worker.
//!
//! The key is the signed data itself (RFC 4034 section 3.1.8.1): the RRSIG's fields (type,
//! algorithm, labels, original TTL, inception, expiration, key tag, signer) and the RRset's
//! records in canonical form, so (owner, type, class, TTL, the exact data, key, window) as
//! the issue asks, compared in full on every hit, with the key's own identity (two keys
//! may share a tag): a hash collision costs a signature, never a wrong one. A new validity window changes the key, so old entries simply stop matching.
//!
//! A fixed table of slots, each an `ArcSwapOption`: a hit is one lock-free load, a
//! comparison and a reference count increment; a miss signs and replaces the slot's entry
//! (direct-mapped: the newest wins). So the cache is bounded by its slot count, never
//! locked, and shared by the UDP workers and TCP connections alike; per-worker caches would
//! sign each set once per worker and hold each signature that many times.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwapOption;

use super::key::{KeyError, SigningKey};
use super::rrsig::{self, Made, Scratch, ToSign};

/// The signatures made and found, for the metrics.
#[derive(Debug, Default)]
pub struct CacheCounts {
    pub made: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Slots holding a signature.
    pub filled: AtomicUsize,
    /// Slots in all.
    pub capacity: AtomicUsize,
}

/// RRSIGs by their signed data; see the module's documentation.
pub struct SignatureCache {
    slots: Box<[ArcSwapOption<Made>]>,
    /// Seeds the slot hash, so that which names share a slot cannot be worked out offline.
    seed: u64,
    /// Shared with the metrics registry, which shows them.
    pub counts: Arc<CacheCounts>,
}

impl std::fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignatureCache({} slots)", self.slots.len())
    }
}

impl SignatureCache {
    /// A cache of `capacity` slots (at least one); `seed` spreads entries over them.
    pub fn new(capacity: usize, seed: u64) -> Self {
        Self::with_counts(capacity, seed, Arc::default())
    }

    /// As [`SignatureCache::new`], feeding `counts` (the metrics registry's).
    pub fn with_counts(capacity: usize, seed: u64, counts: Arc<CacheCounts>) -> Self {
        let slots: Box<[ArcSwapOption<Made>]> = (0..capacity.max(1)).map(|_| ArcSwapOption::empty()).collect();
        counts.capacity.store(slots.len(), Ordering::Relaxed);
        Self { slots, seed, counts }
    }

    /// How many slots: the most signatures held.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The RRSIG by `key` of the data [`rrsig::signed_data`] wrote into `scratch`: from the
    /// cache, or signed now and kept.
    ///
    /// # Errors
    /// The key could not sign.
    pub fn signature(&self, scratch: &Scratch, key: &SigningKey, set: ToSign<'_>) -> Result<Arc<Made>, KeyError> {
        let hash = rustc_hash::FxBuildHasher.hash_one((self.seed, &scratch.signed[..]));
        let slot = &self.slots[(hash as usize) % self.slots.len()];
        if let Some(found) = &*slot.load()
            && found.key_id == key.id
            && *found.signed == scratch.signed[..]
        {
            self.counts.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(found.clone());
        }
        self.counts.misses.fetch_add(1, Ordering::Relaxed);
        let made = Arc::new(rrsig::sign(scratch, key, set)?);
        self.counts.made.fetch_add(1, Ordering::Relaxed);
        if slot.swap(Some(made.clone())).is_none() {
            self.counts.filled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(made)
    }
}

/// Signs without the cache: for records made per query whose owner the client chose (the
/// NSEC of a name that does not exist), which would only push useful entries out.
///
/// # Errors
/// The key could not sign.
pub fn sign_uncached(
    scratch: &Scratch,
    key: &SigningKey,
    set: ToSign<'_>,
    counts: &CacheCounts,
) -> Result<Arc<Made>, KeyError> {
    let made = rrsig::sign(scratch, key, set)?;
    counts.made.fetch_add(1, Ordering::Relaxed);
    Ok(Arc::new(made))
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::{Name, RecordType};

    use super::*;
    use crate::dnssec::key::Algorithm;
    use crate::dnssec::window::Window;

    fn key() -> SigningKey {
        SigningKey::generate(&Name::from_ascii("example.com.").unwrap(), Algorithm::EcdsaP256Sha256, true).unwrap()
    }

    const OWNER: &[u8] = b"\x03www\x07example\x03com\x00";

    fn fill(scratch: &mut Scratch, key: &SigningKey, window: Window, address: [u8; 4]) -> ToSign<'static> {
        let set = ToSign { owner: OWNER, rtype: RecordType::A, ttl: 60 };
        rrsig::signed_data(scratch, key, window, set, [&address[..]].into_iter());
        set
    }

    #[test]
    fn the_same_set_is_signed_once_and_found_after() {
        let (cache, key, mut scratch) = (SignatureCache::new(64, 7), key(), Scratch::default());
        let window = Window { inception: 100, expiration: 200 };
        let set = fill(&mut scratch, &key, window, [192, 0, 2, 1]);
        let first = cache.signature(&scratch, &key, set).unwrap();
        let again = cache.signature(&scratch, &key, set).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a hit returns the signature made");
        assert_eq!(cache.counts.made.load(Ordering::Relaxed), 1);
        assert_eq!(cache.counts.hits.load(Ordering::Relaxed), 1);
        // Other data, or the next window, is another signature.
        let other = fill(&mut scratch, &key, window, [192, 0, 2, 2]);
        assert!(!Arc::ptr_eq(&first, &cache.signature(&scratch, &key, other).unwrap()));
        let next = fill(&mut scratch, &key, Window { inception: 200, expiration: 300 }, [192, 0, 2, 1]);
        let renewed = cache.signature(&scratch, &key, next).unwrap();
        assert!(!Arc::ptr_eq(&first, &renewed), "a new window re-signs");
        assert_eq!(&renewed.rdata[8..16], &[0, 0, 1, 44, 0, 0, 0, 200], "expiration then inception");
        assert_eq!(cache.counts.made.load(Ordering::Relaxed), 3);
        // Another key, even of the same tag, signs anew.
        let mut other = self::key();
        other.tag = key.tag;
        let set = fill(&mut scratch, &other, window, [192, 0, 2, 1]);
        let theirs = cache.signature(&scratch, &other, set).unwrap();
        assert_eq!(theirs.key_id, other.id);
        assert_eq!(cache.counts.made.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn holds_no_more_than_its_slots() {
        let (cache, key, mut scratch) = (SignatureCache::new(8, 1), key(), Scratch::default());
        let window = Window { inception: 100, expiration: 200 };
        for i in 0..200u8 {
            let set = fill(&mut scratch, &key, window, [10, 0, 0, i]);
            cache.signature(&scratch, &key, set).unwrap();
        }
        let held = cache.slots.iter().filter(|s| s.load().is_some()).count();
        assert!(held <= 8 && cache.counts.filled.load(Ordering::Relaxed) == held, "{held}");
        assert_eq!(cache.counts.made.load(Ordering::Relaxed), 200);
    }
}
