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
    endpoint.weight_now(q.health) * spare_milli(q.health.load(endpoint.health).unwrap_or(fill))
}

/// What an endpoint without a report counts as in `endpoints`: the average of the others.
pub(super) fn fill(pool: &Pool, endpoints: &[PoolEndpoint], q: &Query<'_>) -> f32 {
    average_load(endpoints, q, |e| serves(pool, e, q))
}

fn serves(pool: &Pool, e: &PoolEndpoint, q: &Query<'_>) -> bool {
    e.weight_now(q.health) > 0 && q.health.is_servable(e.health) && !q.health.is_shed(pool.index, e.health)
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

#[cfg(test)]
mod tests {
    use super::super::tests::{region, steering};
    use super::super::{Family, Query, decide};
    use crate::health::view::HealthView;

    const DRAWS: u64 = 20_000;

    /// Answers per endpoint (by address) over [`DRAWS`] queries with random draws.
    fn shares(s: &super::super::tests::Setup, health: &HealthView) -> std::collections::HashMap<String, f64> {
        let mut counts = std::collections::HashMap::new();
        for i in 0..DRAWS {
            let q = Query {
                client: "198.51.100.7".parse().unwrap(),
                client_prefix: 32,
                family: Family::V4,
                geo: None,
                asn: None,
                health,
                turn: i,
                random: crate::splitmix::splitmix64(i),
            };
            for e in decide(&s.pools[0], &q).endpoints.iter() {
                *counts.entry(e.address.to_string()).or_insert(0.0) += 1.0 / DRAWS as f64;
            }
        }
        counts
    }

    fn assert_near(shares: &std::collections::HashMap<String, f64>, expected: &[(&str, f64)]) {
        for (address, want) in expected {
            let got = shares.get(*address).copied().unwrap_or(0.0);
            assert!((got - want).abs() <= 0.03, "{address}: {got:.3}, expected {want:.3} ± 0.03 ({shares:?})");
        }
    }

    #[test]
    fn endpoints_are_drawn_by_spare_capacity_times_weight_within_three_percent() {
        let regions = region("a", "", &[("192.0.2.1", 1), ("192.0.2.2", 2), ("192.0.2.3", 1)]);
        let s = steering(&regions, "policy = \"least_loaded\"\nregions = [\"a\"]", None);
        // Spare 0.8 × 1, 0.5 × 2, 0.9 × 1: tickets 0.8 : 1.0 : 0.9 of 2.7.
        let health = HealthView::all_up(3).with_loads(vec![Some(0.2), Some(0.5), Some(0.1)], vec![Vec::new()]);
        assert_near(
            &shares(&s, &health),
            &[("192.0.2.1", 0.8 / 2.7), ("192.0.2.2", 1.0 / 2.7), ("192.0.2.3", 0.9 / 2.7)],
        );
        // Full and over full count with the floor: 0.05 each against 1.0 for the idle one.
        let health = HealthView::all_up(3).with_loads(vec![Some(1.0), Some(0.0), Some(3.0)], vec![Vec::new()]);
        assert_near(
            &shares(&s, &health),
            &[("192.0.2.1", 0.05 / 2.1), ("192.0.2.2", 2.0 / 2.1), ("192.0.2.3", 0.05 / 2.1)],
        );
        // One unknown counts as the average of the others (0.6): spare 0.4 × 2.
        let health = HealthView::all_up(3).with_loads(vec![Some(0.2), None, Some(1.0)], vec![Vec::new()]);
        assert_near(
            &shares(&s, &health),
            &[("192.0.2.1", 0.8 / 1.65), ("192.0.2.2", 0.8 / 1.65), ("192.0.2.3", 0.05 / 1.65)],
        );
    }

    #[test]
    fn regions_are_drawn_by_their_endpoints_spare_capacity() {
        let regions =
            [region("a", "", &[("192.0.2.1", 1)]), region("b", "", &[("192.0.2.2", 1), ("192.0.2.3", 1)])].concat();
        let s = steering(&regions, "policy = \"least_loaded\"\nregions = [\"a\", \"b\"]", None);
        // a: 0.9; b: 0.3 + 0.3 = 0.6.
        let health = HealthView::all_up(3).with_loads(vec![Some(0.1), Some(0.7), Some(0.7)], vec![Vec::new()]);
        assert_near(&shares(&s, &health), &[("192.0.2.1", 0.6), ("192.0.2.2", 0.2), ("192.0.2.3", 0.2)]);
    }

    #[test]
    fn shed_endpoints_leave_the_answers_and_a_wholly_shed_region_hands_over() {
        let regions =
            [region("a", "", &[("192.0.2.1", 1), ("192.0.2.2", 1)]), region("b", "", &[("192.0.2.3", 1)])].concat();
        let s = steering(&regions, "policy = \"priority\"\nregions = [\"a\", \"b\"]", None);
        let health = HealthView::all_up(3).with_loads(vec![None; 3], vec![vec![0]]);
        assert_near(&shares(&s, &health), &[("192.0.2.1", 0.0), ("192.0.2.2", 1.0), ("192.0.2.3", 0.0)]);
        let health = HealthView::all_up(3).with_loads(vec![None; 3], vec![vec![0, 1]]);
        assert_near(&shares(&s, &health), &[("192.0.2.3", 1.0)]);
        assert!(super::super::servable_regions(&s.pools[0], &health) == 1, "a shows as unable to serve");
    }
}
