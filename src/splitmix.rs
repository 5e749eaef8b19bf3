//! SplitMix64, the one mixing step every module that turns a value into a spread-out number
//! shares: seeds for rate-limit tables and weighted draws, per-region hash seeds, probe jitter.
//!
//! A leaf: it imports nothing from the crate, so the steering, health, geo and DNS code that
//! use it depend on none of each other through it.

/// SplitMix64: a fast, well-mixed step for seeding draws (Steele, Lea, Flood 2014).
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
