//! `priority`: the pool's order as written: the first region serves while it can, the next
//! when it cannot, and traffic fails back when the first can serve again, after the pool's
//! `failback_delay` if it has one (regions within it are tried after the others).

use super::{Order, Pool};
use crate::health::view::HealthView;

pub(super) fn order(pool: &Pool, health: &HealthView) -> Order {
    let mut order = Order::empty();
    (0..pool.regions.len()).filter(|&r| !health.is_held_back(pool.index, r)).for_each(|r| order.push(r as u8));
    (0..pool.regions.len()).for_each(|r| order.push(r as u8));
    order
}
