//! Whether each pool can answer, as published: how many of its regions can serve, and the one
//! log line when a pool goes down (no region it lists can serve) or comes back. The writer
//! compares the pools before and after each publication, so a pool's fall is logged once,
//! never per query or per probe result. The API shows the same values on `/healthz` and
//! `/metrics`.

use tracing::{error, info};

use crate::config::WhenAllDown;
use crate::snapshot::Snapshot;
use crate::steering::servable_regions;

/// One pool's state in a published snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolServing {
    /// The pool's name, as `www.example.com.`.
    pub pool: String,
    /// Regions the pool lists.
    pub regions: usize,
    /// Regions that could answer now (`steering::servable_regions`); 0: the pool is down.
    pub servable_regions: usize,
    pub when_all_down: WhenAllDown,
}

impl PoolServing {
    /// Whether some region of the pool can answer.
    pub fn is_up(&self) -> bool {
        self.servable_regions > 0
    }
}

/// Every pool of `snapshot`, in pool order.
pub fn of(snapshot: &Snapshot) -> Vec<PoolServing> {
    snapshot
        .steering
        .pools
        .iter()
        .map(|pool| PoolServing {
            pool: pool.name.to_string(),
            regions: pool.regions.len(),
            servable_regions: servable_regions(pool, &snapshot.health),
            when_all_down: pool.when_all_down,
        })
        .collect()
}

/// The pools of `after` whose up or down state differs from `before`, by name. A pool new in
/// `after` (at start, or added by a reload) counts as having been up: one that starts down is
/// reported, one that starts up is not. Pools gone from `after` are not reported.
pub fn flips<'a>(before: &[PoolServing], after: &'a [PoolServing]) -> Vec<&'a PoolServing> {
    let was_up = |pool: &PoolServing| before.iter().find(|b| b.pool == pool.pool).is_none_or(PoolServing::is_up);
    after.iter().filter(|p| was_up(p) != p.is_up()).collect()
}

/// Logs each pool of `after` that went down (at error) or came back (at info) since `before`.
pub fn log_flips(before: &[PoolServing], after: &[PoolServing]) {
    for pool in flips(before, after) {
        if pool.is_up() {
            info!(pool = %pool.pool, servable_regions = pool.servable_regions, regions = pool.regions, "pool can serve again");
        } else {
            let answers = match pool.when_all_down {
                WhenAllDown::FailOpen => "every configured endpoint at the failover TTL (fail open)",
                WhenAllDown::ServFail => "SERVFAIL",
                WhenAllDown::NoData => "NODATA",
            };
            error!(pool = %pool.pool, regions = pool.regions, answers, "pool down: no region it lists can serve");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, servable_regions: usize) -> PoolServing {
        PoolServing { pool: name.into(), regions: 2, servable_regions, when_all_down: WhenAllDown::FailOpen }
    }

    #[test]
    fn only_a_change_between_up_and_down_flips() {
        let names = |flipped: Vec<&PoolServing>| flipped.iter().map(|p| p.pool.clone()).collect::<Vec<_>>();
        let before = [pool("a.", 2), pool("b.", 0), pool("c.", 1), pool("gone.", 0)];
        // a: 2 -> 1 regions is no flip; b comes back; c goes down; d is new and down; e new and up.
        let after = [pool("a.", 1), pool("b.", 1), pool("c.", 0), pool("d.", 0), pool("e.", 2)];
        assert_eq!(names(flips(&before, &after)), ["b.", "c.", "d."]);
        assert!(flips(&after, &after).is_empty(), "no change, no flip: nothing logged twice");
        assert!(flips(&[], &[pool("a.", 1)]).is_empty(), "a pool that starts up is not news");
    }
}
