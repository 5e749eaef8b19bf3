//! `hash`: rendezvous (highest random weight) hashing of the client's subnet, so a client
//! keeps its region, and removing one of N regions moves only the clients of that region
//! (Thaler and Ravishankar, 1998).

use std::net::IpAddr;

use super::{MAX_REGIONS, Order, Pool, Query, Ranked, Reason};
use crate::splitmix::splitmix64;

pub(super) fn rank(pool: &Pool, q: &Query<'_>) -> Ranked {
    let prefix_len = pool.hash_prefix[q.family_of_client()].min(q.client_prefix);
    let key = subnet_key(q.client, prefix_len);
    Ranked { order: order_for(pool, key), reason: Reason::Hash { prefix_len }, scope: prefix_len, located: None }
}

/// The client's subnet (the address cut to `prefix_len` bits) as a 64-bit key.
pub(super) fn subnet_key(addr: IpAddr, prefix_len: u8) -> u64 {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let keep = u32::from(prefix_len).min(width);
    let masked = if keep == 0 { 0 } else { bits >> (width - keep) << (width - keep) };
    splitmix64((masked as u64) ^ splitmix64((masked >> 64) as u64 ^ u64::from(width)))
}

/// Regions by descending score hash(client, region).
pub(super) fn order_for(pool: &Pool, key: u64) -> Order {
    let mut scored = [(0u8, 0u64); MAX_REGIONS];
    let n = pool.regions.len().min(MAX_REGIONS);
    for (i, region) in pool.regions.iter().take(n).enumerate() {
        scored[i] = (i as u8, splitmix64(key ^ region.hash_seed));
    }
    scored[..n].sort_by_key(|s| std::cmp::Reverse(s.1));
    let mut order = Order::empty();
    scored[..n].iter().for_each(|(i, _)| order.push(*i));
    order
}

impl Query<'_> {
    fn family_of_client(&self) -> usize {
        usize::from(self.client.is_ipv6())
    }
}
