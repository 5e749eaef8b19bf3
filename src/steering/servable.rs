//! Which of a pool's regions can serve an answer now: what tells an operator that a pool is
//! up, partly failed over, or down. Pure, over the same health view and pool tables
//! [`super::decide`] reads, so it cannot disagree with the answers.
//!
//! A pool is down when none of its regions could give an answer of either family. A region
//! with no endpoint of one family is not down for it: that family's question gets NODATA by
//! design, and the other family is still answered.

use super::{Family, Pool};
use crate::health::view::HealthView;

/// Whether region `region` of the pool (an index into `pool.regions`) could answer now: it is
/// not failed over from by hand (such a region is never tried), not down as a whole (fewer
/// servable endpoints than its `min_healthy`), and it has an endpoint of either family that
/// health lets answer, whose weight is above 0 and which the pool does not shed for its load.
pub fn can_serve(pool: &Pool, region: usize, health: &HealthView) -> bool {
    let Some(r) = pool.regions.get(region) else { return false };
    if pool.failovers.iter().any(|&(from, _)| usize::from(from) == region) || health.is_region_down(r.region) {
        return false;
    }
    [Family::V4, Family::V6]
        .iter()
        .flat_map(|&f| r.endpoints[f as usize].iter())
        .any(|e| e.weight_now(health) > 0 && health.is_servable(e.health) && !health.is_shed(pool.index, e.health))
}

/// How many of the pool's regions could answer now (see [`can_serve`]); 0: the pool is down,
/// and its answers follow its `when_all_down`.
pub fn servable_regions(pool: &Pool, health: &HealthView) -> usize {
    (0..pool.regions.len()).filter(|&r| can_serve(pool, r, health)).count()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{region, steering};
    use super::*;

    /// Regions `a` (two IPv4 endpoints, the second at weight 0), `b` (IPv6 only, min_healthy 1)
    /// and `c` (IPv4 only): endpoint indexes 0, 1 | 2 | 3.
    fn setup() -> super::super::tests::Setup {
        let regions = [
            region("a", "", &[("192.0.2.1", 1), ("192.0.2.2", 0)]),
            region("b", "min_healthy = 1", &[("2001:db8::1", 1)]),
            region("c", "", &[("192.0.2.3", 1)]),
        ]
        .concat();
        steering(&regions, "policy = \"priority\"\nregions = [\"a\", \"b\", \"c\"]", None)
    }

    #[test]
    fn counts_regions_that_could_answer_either_family() {
        let mut s = setup();
        let all = |s: &super::super::tests::Setup| servable_regions(&s.pools[0], &s.health);
        assert_eq!(all(&s), 3, "b has no IPv4 and c no IPv6: each still answers its family");
        s.health.set_servable(0, false);
        assert_eq!(all(&s), 2, "a's other endpoint has weight 0: it never answers");
        assert!(!can_serve(&s.pools[0], 0, &s.health));
        s.health.set_servable(2, false);
        s.health.set_servable(3, false);
        assert_eq!(all(&s), 0, "the pool is down");
        s.health.set_servable(2, true);
        assert_eq!(all(&s), 1, "an IPv6-only region brings the pool back");
        assert!(!can_serve(&s.pools[0], 7, &s.health), "no such region");
    }

    #[test]
    fn a_region_down_as_a_whole_or_failed_over_from_cannot_serve() {
        let mut s = setup();
        let down = HealthView::new(vec![], vec![false, true, false], vec![], vec![]);
        assert_eq!(servable_regions(&s.pools[0], &down), 2, "b is below its min_healthy");
        s.steering.pools[0].failovers = vec![(0, 2)];
        assert!(!can_serve(&s.pools[0], 0, &s.health), "a is failed over to c: never tried");
        assert_eq!(servable_regions(&s.pools[0], &s.health), 2);
    }
}
