//! What queries feed, and the handles they feed it through: [`Observers`] lives as long as
//! the process; [`PoolObservers`] is resolved from it for each snapshot's pools, so that the
//! query path does one indexed load and a few atomic adds (STYLE.md section 9).
//!
//! Steering knows nothing of this: a pool is found here by its index (`steering::Pool::index`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{PoolHandles, Registry};
use crate::analytics::{Analytics, PoolAnalytics};
use crate::steering::{Pool, Steering};

/// What queries feed, for the life of the process: the metrics registry, the traffic
/// analytics, and the analytics clock (10-second ticks, advanced by a task at the edge so a
/// query reads an atomic instead of the clock).
#[derive(Debug, Clone, Default)]
pub struct Observers {
    pub metrics: Arc<Registry>,
    pub analytics: Arc<Analytics>,
    pub tick: Arc<AtomicU64>,
}

impl Observers {
    /// The current analytics tick.
    pub fn tick(&self) -> u64 {
        self.tick.load(Ordering::Relaxed)
    }

    /// Resolves the handles of every pool of `steering`, for the snapshot built with it.
    ///
    /// Not hot: locks and allocates. Call it while building a snapshot, never per query.
    pub fn resolve(&self, steering: &Steering) -> PoolObservers {
        // `Pool::index` is the pool's position in `steering.pools`, so the table is indexed
        // the same way.
        PoolObservers { pools: steering.pools.iter().map(|pool| self.resolve_pool(pool)).collect() }
    }

    fn resolve_pool(&self, pool: &Pool) -> PoolObserver {
        let name = pool.name.to_string();
        let members: Vec<(&str, Vec<(usize, String)>)> = pool
            .regions
            .iter()
            .map(|r| {
                let endpoints = r.each_endpoint().map(|e| (e.health, e.label())).collect();
                (r.name.as_str(), endpoints)
            })
            .collect();
        let analytics = self.analytics.pool(&name);
        let region_slots = pool.regions.iter().map(|r| analytics.region_slot(&r.name)).collect();
        let mut endpoint_slots = Vec::new();
        for region in &pool.regions {
            for e in region.each_endpoint() {
                if endpoint_slots.len() <= e.health {
                    endpoint_slots.resize(e.health + 1, usize::MAX);
                }
                endpoint_slots[e.health] = analytics.endpoint_slot(&format!("{}/{}", region.name, e.label()));
            }
        }
        PoolObserver { metrics: self.metrics.pool_handles(&name, &members), analytics, region_slots, endpoint_slots }
    }
}

/// One pool's metric handles and analytics slots: an answer of the pool costs a few atomic
/// adds through them, with no label formatting, map lookup or allocation.
#[derive(Debug)]
pub struct PoolObserver {
    pub metrics: PoolHandles,
    pub analytics: Arc<PoolAnalytics>,
    /// The analytics slot of each of the pool's regions, in pool order.
    pub region_slots: Vec<usize>,
    /// The analytics slot of each endpoint, by its health index (`usize::MAX`: not this pool's).
    pub endpoint_slots: Vec<usize>,
}

/// Every pool's [`PoolObserver`] for one snapshot, by pool index. Empty for a snapshot built
/// without [`Observers`] (`check-config`, tests): its answers are counted nowhere.
#[derive(Debug, Default)]
pub struct PoolObservers {
    pools: Box<[PoolObserver]>,
}

impl PoolObservers {
    /// The observer of the pool at `index` (`steering::Pool::index`); `None` when this
    /// snapshot counts nothing. Hot path: one bounds-checked load.
    pub fn pool(&self, index: usize) -> Option<&PoolObserver> {
        self.pools.get(index)
    }
}
