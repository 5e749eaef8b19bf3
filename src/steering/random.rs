//! `random`: a region drawn uniformly; the rest follow round the pool's order.

use super::round_robin::ring_from;
use super::{Order, Pool};

pub(super) fn order(pool: &Pool, random: u64) -> Order {
    ring_from(pool, (random % pool.regions.len().max(1) as u64) as usize)
}
