//! `nearest`: regions by great-circle distance from the client, each less its `bias_km`
//! (as Route 53's geoproximity bias: a positive bias draws clients from farther away).

use super::{MAX_REGIONS, Order, Pool, Query, Ranked, Reason, fallback_order, locate};
use crate::geo::Coordinates;
use crate::geo::distance::km;

pub(super) fn rank(pool: &Pool, q: &Query<'_>) -> Ranked {
    let (located, location) = locate(q);
    let scope = located.map_or(0, |l| l.prefix_len);
    match location.and_then(|(_, place)| place.coordinates) {
        Some(from) => {
            let order = order_from(pool, from);
            let first = order.iter().next().map(|i| &pool.regions[usize::from(i)]);
            let km = first.and_then(|r| r.location).map_or(0.0, |to| km(from, to));
            Ranked { order, reason: Reason::Nearest { km }, scope, located }
        }
        None => Ranked { order: fallback_order(pool), reason: Reason::Fallback, scope, located },
    }
}

/// The pool's regions by biased distance from `from`; regions without a location come last,
/// in pool order. Ties keep pool order.
pub(super) fn order_from(pool: &Pool, from: Coordinates) -> Order {
    let mut ranked = [(0u8, f64::INFINITY); MAX_REGIONS];
    let n = pool.regions.len().min(MAX_REGIONS);
    for (i, region) in pool.regions.iter().take(n).enumerate() {
        let distance = region.location.map_or(f64::INFINITY, |to| km(from, to) - region.bias_km);
        ranked[i] = (i as u8, distance);
    }
    ranked[..n].sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut order = Order::empty();
    ranked[..n].iter().for_each(|(i, _)| order.push(*i));
    order
}
