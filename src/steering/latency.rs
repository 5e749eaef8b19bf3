//! `latency`: the region whose endpoints answer probes fastest serves first, then the pool's
//! order. The choice moves only past a margin, so answers do not flap between regions of
//! nearly equal speed.
//!
//! The choice has a memory (the region preferred now), which the health table keeps beside
//! the RTTs it is made from. [`prefer`] is the choice itself, pure; [`steer`] makes it for every
//! `latency` pool of a table, and the health writer calls it after each probe result it applies
//! (health sits below steering, so the table cannot call it). [`rank`] orders a query's regions
//! from the preference the snapshot's health view carries.

use std::time::Duration;

use super::{Order, Pool, Query, Ranked, Reason};
use crate::config::{Config, PolicyKind, PoolConfig};
use crate::health::table::HealthTable;

/// Hysteresis: another region replaces the current one only when faster by both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyMargin {
    /// Of the current region's RTT: `latency_margin_pct` / 100.
    pub fraction: f64,
    pub absolute: Duration,
}

impl LatencyMargin {
    /// The margin a pool is configured with (`latency_margin_pct`, `latency_margin`).
    pub fn of(pool: &PoolConfig) -> Self {
        Self { fraction: pool.latency_margin_pct / 100.0, absolute: pool.latency_margin }
    }
}

/// The region to prefer (index into `rtts`, the pool's regions): the fastest by RTT average,
/// but `current` stays unless the fastest beats it by `margin` both relatively and absolutely.
/// A current region with no RTT (down, or never measured) is replaced; with no RTT at all,
/// there is no preference.
pub fn prefer(current: Option<usize>, rtts: &[Option<Duration>], margin: LatencyMargin) -> Option<usize> {
    let best = rtts.iter().enumerate().filter_map(|(i, r)| r.map(|r| (i, r))).min_by_key(|(_, r)| *r)?;
    let Some((now_idx, now_rtt)) = current.and_then(|c| rtts.get(c).copied().flatten().map(|r| (c, r))) else {
        return Some(best.0);
    };
    let faster_by = now_rtt.saturating_sub(best.1);
    let switch = faster_by > margin.absolute && faster_by.as_secs_f64() > now_rtt.as_secs_f64() * margin.fraction;
    Some(if switch { best.0 } else { now_idx })
}

/// Re-chooses the region each `latency` pool of `config` prefers, from the RTTs in `table`
/// (built from the same configuration), and records it there. The writer calls this after
/// each probe result it applies to the table, before it builds the view it publishes.
pub fn steer(table: &mut HealthTable, config: &Config) {
    for (index, pool) in config.pools.iter().enumerate().filter(|(_, p)| p.policy == PolicyKind::Latency) {
        let preferred = prefer(table.preferred_region(index), &table.region_rtts(index), LatencyMargin::of(pool));
        table.set_preferred_region(index, preferred);
    }
}

/// The preferred region first, then the pool's order; the pool's order alone until a region
/// has been measured.
pub(super) fn rank(pool: &Pool, q: &Query<'_>) -> Ranked {
    let (order, measured) = match q.health.preferred_region(pool.index) {
        Some(fastest) => (Order::first_then(fastest, Order::pool(pool)), true),
        None => (Order::pool(pool), false),
    };
    Ranked { order, reason: Reason::Latency { measured }, scope: 0, located: None }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use super::*;
    use crate::health::state::Observation;

    const MARGIN: LatencyMargin = LatencyMargin { fraction: 0.2, absolute: Duration::from_millis(5) };

    fn ms(list: &[Option<u64>]) -> Vec<Option<Duration>> {
        list.iter().map(|m| m.map(Duration::from_millis)).collect()
    }

    #[test]
    fn switches_only_past_both_margins() {
        let cases = [
            ("no current choice: the fastest", None, ms(&[Some(50), Some(20), None]), Some(1)),
            ("10% faster is not enough to leave region 0", Some(0), ms(&[Some(50), Some(45)]), Some(0)),
            ("40% and 20 ms faster is", Some(0), ms(&[Some(50), Some(30)]), Some(1)),
            ("50% faster but only 3 ms: stays (the absolute margin)", Some(0), ms(&[Some(6), Some(3)]), Some(0)),
            ("the current region lost its RTT (down): move", Some(0), ms(&[None, Some(30)]), Some(1)),
            ("nothing measured: no preference", Some(0), ms(&[None, None]), None),
        ];
        for (what, current, rtts, expected) in cases {
            assert_eq!(prefer(current, &rtts, MARGIN), expected, "{what}");
        }
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
    fn steer_follows_the_table_rtts_of_latency_pools_only() {
        let check = "{ type = \"tcp\", address = \"127.0.0.1\", port = PORT, interval = \"1s\", rise = 1, fall = 1 }";
        let toml = format!(
            "zones_dir = \"z\"\n\
             [[region]]\nname = \"far\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             [[region]]\nname = \"near\"\ncheck = {}\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n\
             [[pool]]\nname = \"p.test.\"\npolicy = \"priority\"\nregions = [\"far\", \"near\"]\n\
             [[pool]]\nname = \"l.test.\"\npolicy = \"latency\"\nregions = [\"far\", \"near\"]\n",
            check.replace("PORT", "9"),
            check.replace("PORT", "10"),
        );
        let config = Config::from_toml(&toml, Path::new(""), "test").unwrap();
        let t0 = Instant::now();
        let mut table = HealthTable::new(&config, t0);
        let steps = [
            (0, Observation::Ok, 40, Some(0), "far measured alone"),
            (1, Observation::Ok, 10, Some(1), "near faster by 30 ms and 75%"),
            (1, Observation::Failed, 0, Some(0), "near down: its RTT no longer counts"),
        ];
        for (s, (target, seen, rtt_ms, expected, what)) in steps.into_iter().enumerate() {
            let at = t0 + Duration::from_secs(s as u64);
            table.observe(target, seen, Duration::from_millis(rtt_ms), "probe", at);
            steer(&mut table, &config);
            assert_eq!(table.preferred_region(1), expected, "{what}");
            assert_eq!(table.view(at).preferred_region(1), expected.map(|r| r as u8), "{what}: the view carries it");
            assert_eq!(table.preferred_region(0), None, "a priority pool has no preference");
        }
    }
}
