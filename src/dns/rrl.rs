//! Response rate limiting (RRL), as Knot's `mod-rrl` and BIND's `rate-limit`: a server that
//! answers spoofed queries becomes a reflector in amplification attacks, so identical
//! responses to one client prefix are limited to a rate, and every `slip`-th limited response
//! goes out as an empty truncated one (TC=1), so that a real client behind the prefix retries
//! over TCP, which cannot be spoofed.
//!
//! UDP only. What counts as "identical" ([`response_key`]) follows BIND's classes: answers
//! are keyed by the RRset they carry, negative answers (NXDOMAIN, NODATA) by the zone, so that
//! a flood of random names is one bucket, and errors by their RCODE.
//!
//! The buckets are a fixed table of atomics shared by every worker, each slot one word: a tag
//! of the key and the "theoretical arrival time" of the generic cell rate algorithm (GCRA,
//! the token bucket in one timestamp). No lock, no allocation; two keys meeting in one slot
//! share a bucket (the tag tells them apart on most meetings, and the newcomer takes it
//! over). The admission itself ([`RateTable::admit`]) takes the time as an argument.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hickory_proto::op::ResponseCode;

use super::response::{Answer, Rrs};
use crate::config::RrlConfig;
use crate::splitmix::splitmix64;

/// Slots in the table: 2^18 words, 2 MiB of address space, of which only the slots used are
/// ever touched. Knot's default is 393,241 buckets.
const SLOTS: usize = 1 << 18;
/// Time in the table counts 1/65,536ths of a second, in the low 48 bits of a slot (for
/// 136 years); the high 16 bits hold the key's tag.
const TICKS_PER_SECOND: u64 = 1 << 16;
const TIME_BITS: u32 = 48;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Send,
    /// Over the rate: send an empty response with TC=1 instead.
    Slip,
    /// Over the rate: send nothing.
    Drop,
}

/// The buckets, shared by every UDP worker for the life of the process.
pub struct RateTable {
    slots: Box<[AtomicU64]>,
    /// Limited responses so far, for `slip`.
    limited: AtomicU64,
    /// Keys are hashed with it, so that nobody outside can aim at one slot.
    seed: u64,
    epoch: Instant,
}

impl RateTable {
    #[allow(clippy::disallowed_methods)] // the table's epoch: the clock is read at the edge
    pub fn new(seed: u64) -> Self {
        Self { slots: zeroed_slots(), limited: AtomicU64::new(0), seed, epoch: Instant::now() }
    }

    /// Now, in the table's ticks.
    pub fn now(&self) -> u64 {
        let elapsed = self.epoch.elapsed();
        elapsed.as_secs() * TICKS_PER_SECOND + u64::from(elapsed.subsec_nanos()) * TICKS_PER_SECOND / 1_000_000_000
    }

    /// Whether one more response with `key` may go out at `now` (ticks): at most `rate` a
    /// second in the long run, and `burst` back to back.
    pub fn admit(&self, key: u64, now: u64, rate: u32, burst: u32) -> bool {
        let key = splitmix64(key ^ self.seed);
        let slot = &self.slots[key as usize % SLOTS];
        let tag = key >> TIME_BITS;
        let interval = TICKS_PER_SECOND / u64::from(rate.max(1));
        let tolerance = interval * u64::from(burst.max(1) - 1);
        let now = now & TIME_MASK;
        let mut current = slot.load(Ordering::Relaxed);
        loop {
            let arrival = match current {
                // Ours (a zero slot is nobody's): the bucket is where its last response left it.
                word if word != 0 && word >> TIME_BITS == tag => (word & TIME_MASK).max(now),
                // Empty, or another key's: start afresh.
                _ => now,
            };
            if arrival > now + tolerance {
                return false;
            }
            let next = tag << TIME_BITS | ((arrival + interval) & TIME_MASK);
            match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// What to do with `answer` to `client` under `config`, now.
    pub fn verdict(&self, config: &RrlConfig, client: IpAddr, answer: &Answer<'_>) -> Verdict {
        if config.exempt.iter().any(|net| net.contains(&client)) {
            return Verdict::Send;
        }
        let key = response_key(config, client, answer);
        if self.admit(key, self.now(), config.rate, config.burst) {
            return Verdict::Send;
        }
        // A roll rather than a shared count (as Knot's rrl_slip_roll): with a count, two
        // floods arriving in turn could leave one bucket's real clients never told to retry
        // over TCP. The roll mixes the key with a per-response counter, so it is spread fairly.
        let limited = self.limited.fetch_add(1, Ordering::Relaxed);
        match config.slip {
            0 => Verdict::Drop,
            slip if splitmix64(key ^ limited).is_multiple_of(u64::from(slip)) => Verdict::Slip,
            _ => Verdict::Drop,
        }
    }
}

/// `SLOTS` zeroed slots, straight from the allocator's zeroed memory: the kernel maps pages
/// on first write, so an idle table costs no resident memory.
fn zeroed_slots() -> Box<[AtomicU64]> {
    let layout = std::alloc::Layout::array::<AtomicU64>(SLOTS).expect("a fixed, small size");
    // SAFETY: the layout is non-zero in size; all zeroes is a valid AtomicU64 (the layout of
    // a u64), and the box takes the allocation with the layout it was made with.
    unsafe {
        let memory = std::alloc::alloc_zeroed(layout).cast::<AtomicU64>();
        if memory.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(memory, SLOTS))
    }
}

/// The bucket a response falls in: the client's prefix and what the response is.
///
/// An RRset, a zone's negative answers or a delegation is identified by its address in the
/// snapshot (stable for the snapshot's life, and names compare case-insensitively by then,
/// so a client cannot escape its bucket by changing the case of the name, RFC 4343).
pub fn response_key(config: &RrlConfig, client: IpAddr, answer: &Answer<'_>) -> u64 {
    let prefix = match client {
        IpAddr::V4(v4) => u64::from(u32::from(v4) & mask32(config.ipv4_prefix)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & mask128(config.ipv6_prefix);
            // Prefixes up to /64 live in the high half; longer ones fold the low half in.
            (bits >> 64) as u64 ^ splitmix64(bits as u64)
        }
    };
    let family = u64::from(client.is_ipv6());
    let code = u64::from(u16::from(answer.metadata.response_code));
    let what = match (answer.metadata.response_code, answer.answers.first(), answer.authorities.first()) {
        (ResponseCode::NoError, Some(first), _) => 1 << 60 | identity(first),
        // NODATA and referrals: the SOA or the delegation's NS set.
        (ResponseCode::NoError, None, Some(first)) => 2 << 60 | identity(first),
        (ResponseCode::NXDomain, _, Some(first)) => 3 << 60 | identity(first),
        // Errors, empty or not: one bucket per RCODE.
        _ => 4 << 60 | code,
    };
    splitmix64(splitmix64(prefix ^ family << 63) ^ what)
}

/// One section entry as a number: the RRset's or pool's address, or for records made for
/// this response (wildcards), their type and owner-independent class.
fn identity(rrs: &Rrs<'_>) -> u64 {
    match rrs {
        Rrs::Set(set) => std::ptr::from_ref(*set) as u64,
        Rrs::Endpoints(picked) => picked.owner().as_ptr() as u64,
        Rrs::Owned(records) => records.first().map_or(0, |r| u64::from(u16::from(r.record_type()))),
        Rrs::Made(made) => std::sync::Arc::as_ptr(made) as u64,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = TICKS_PER_SECOND;

    #[test]
    fn a_key_is_admitted_its_burst_at_once_then_at_the_rate() {
        let table = RateTable::new(1);
        let t0 = 10 * SECOND;
        // A burst of 5 at once, then nothing more within the same instant.
        let sent = (0..20).filter(|_| table.admit(42, t0, 5, 5)).count();
        assert_eq!(sent, 5);
        // One interval (1/5 s) later, one more.
        assert!(table.admit(42, t0 + SECOND / 5, 5, 5));
        assert!(!table.admit(42, t0 + SECOND / 5, 5, 5));
        // Over ten seconds at 100 queries a second: the burst plus ten seconds' worth.
        let sent = (0..1000).filter(|i| table.admit(7, t0 + i * SECOND / 100, 5, 5)).count();
        assert!((50..=56).contains(&sent), "{sent}");
    }

    #[test]
    fn keys_have_buckets_of_their_own() {
        let table = RateTable::new(2);
        let t0 = SECOND;
        assert_eq!((0..10).filter(|_| table.admit(1, t0, 2, 2)).count(), 2);
        assert_eq!((0..10).filter(|_| table.admit(2, t0, 2, 2)).count(), 2);
        // A full second later the first key has its burst back.
        assert_eq!((0..10).filter(|_| table.admit(1, t0 + SECOND, 2, 2)).count(), 2);
    }

    #[test]
    fn masks_keep_the_prefix() {
        assert_eq!(mask32(24), 0xffff_ff00);
        assert_eq!(mask32(0), 0);
        assert_eq!(mask32(32), u32::MAX);
        assert_eq!(mask128(56), u128::MAX << 72);
        assert_eq!(mask128(128), u128::MAX);
    }
}
