//! `least_loaded`: least connections, or least of any resource, as far as DNS can go. A region
//! is drawn with probability proportional to the spare capacity × weight of its servable
//! endpoints of the asked family, and an endpoint within it the same way; the other regions
//! follow by descending spare capacity, for the hand-over.
//!
//! Spare capacity is `1 - load` (the endpoint's smoothed report, a fraction of its capacity),
//! never below [`FLOOR`]: a full endpoint still gets a twentieth of an idle one's share, so it
//! is never starved of the traffic whose end shows in its next report, and a report stuck at
//! "full" cannot take it out of the answers (that is `shed`'s job, with its hysteresis). An
//! endpoint with no report that counts is taken to be as loaded as the average of the
//! endpoints beside it that have one (idle when none has): neither flooded for being new
//! nor starved for being silent.

use super::{MAX_REGIONS, Order, Pool, PoolEndpoint, Query};

/// The least spare capacity an endpoint counts with, in thousandths.
pub const FLOOR_MILLI: u64 = 50;

/// Spare capacity in thousandths (for integer tickets): [`FLOOR_MILLI`] to 1000.
fn spare_milli(load: f32) -> u64 {
    let spare = (1.0 - f64::from(load)).clamp(0.0, 1.0);
    ((spare * 1000.0).round() as u64).max(FLOOR_MILLI)
}

/// The average load of the endpoints that report one, among those `counts` keeps.
fn average_load(endpoints: &[PoolEndpoint], q: &Query<'_>, counts: impl Fn(&PoolEndpoint) -> bool) -> f32 {
    let (sum, n) = endpoints
        .iter()
        .filter(|e| counts(e))
        .filter_map(|e| q.health.load(e.health))
        .fold((0.0f32, 0u32), |(sum, n), load| (sum + load, n + 1));
    if n == 0 { 0.0 } else { sum / n as f32 }
}

/// The tickets an endpoint draws with: weight × spare capacity in thousandths. `fill` stands
/// in for a load not known.
pub(super) fn tickets(endpoint: &PoolEndpoint, q: &Query<'_>, fill: f32) -> u64 {
    u64::from(endpoint.weight) * spare_milli(q.health.load(endpoint.health).unwrap_or(fill))
}

/// What an endpoint without a report counts as in `endpoints`: the average of the others.
pub(super) fn fill(pool: &Pool, endpoints: &[PoolEndpoint], q: &Query<'_>) -> f32 {
    average_load(endpoints, q, |e| serves(pool, e, q))
}

fn serves(pool: &Pool, e: &PoolEndpoint, q: &Query<'_>) -> bool {
    e.weight > 0 && q.health.is_servable(e.health) && !q.health.is_shed(pool.index, e.health)
}

pub(super) fn order(pool: &Pool, q: &Query<'_>) -> Order {
    let mut spare = [(0u8, 0u64); MAX_REGIONS];
    let n = pool.regions.len().min(MAX_REGIONS);
    for (i, region) in pool.regions.iter().take(n).enumerate() {
        let endpoints = &region.endpoints[q.family as usize];
        let fill = fill(pool, endpoints, q);
        let sum = endpoints.iter().filter(|e| serves(pool, e, q)).map(|e| tickets(e, q, fill)).sum();
        spare[i] = (i as u8, sum);
    }
    let total: u64 = spare[..n].iter().map(|s| s.1).sum();
    let mut order = Order::empty();
    if total > 0 {
        let mut ticket = q.random % total;
        for &(i, s) in &spare[..n] {
            if ticket < s {
                order.push(i);
                break;
            }
            ticket -= s;
        }
    }
    spare[..n].sort_by_key(|s| std::cmp::Reverse(s.1));
    spare[..n].iter().for_each(|(i, _)| order.push(*i));
    order
}
