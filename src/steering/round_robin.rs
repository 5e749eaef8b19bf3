//! `round_robin`: each turn starts one region further round the pool's order.

use super::{Order, Pool};

pub(super) fn order(pool: &Pool, turn: u64) -> Order {
    ring_from(pool, (turn % pool.regions.len().max(1) as u64) as usize)
}

/// The pool's regions starting at `start` and wrapping round.
pub(super) fn ring_from(pool: &Pool, start: usize) -> Order {
    let n = pool.regions.len();
    let mut order = Order::empty();
    (0..n).for_each(|k| order.push(((start + k) % n) as u8));
    order
}
