//! `weighted`: a region drawn by the weight of its servable endpoints of the asked family (as
//! ramps and slow starts have them now); the others follow by descending weight.

use super::{MAX_REGIONS, Order, Pool, Query};

pub(super) fn order(pool: &Pool, q: &Query<'_>) -> Order {
    let mut weights = [(0u8, 0u64); MAX_REGIONS];
    let n = pool.regions.len().min(MAX_REGIONS);
    for (i, region) in pool.regions.iter().take(n).enumerate() {
        let weight = region.endpoints[q.family as usize]
            .iter()
            .filter(|e| q.health.is_servable(e.health))
            .map(|e| e.weight_now(q.health))
            .sum();
        weights[i] = (i as u8, weight);
    }
    let total: u64 = weights[..n].iter().map(|w| w.1).sum();
    let mut order = Order::empty();
    if total > 0 {
        let mut ticket = q.random % total;
        for &(i, w) in &weights[..n] {
            if ticket < w {
                order.push(i);
                break;
            }
            ticket -= w;
        }
    }
    weights[..n].sort_by_key(|w| std::cmp::Reverse(w.1));
    weights[..n].iter().for_each(|(i, _)| order.push(*i));
    order
}
