//! Answer counters per pool, region and endpoint: created by label when a snapshot is built,
//! kept for the life of the process so a rebuild with the same labels counts on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::text::{Kind, Page};

type Counter = Arc<AtomicU64>;

/// Every answer counter ever resolved, by its labels. Sorted, so the page is too.
#[derive(Debug, Default)]
pub(super) struct AnswerCounters {
    /// (pool, region, endpoint address).
    endpoints: BTreeMap<(String, String, String), Counter>,
    /// (pool, region).
    regions: BTreeMap<(String, String), Counter>,
    /// pool.
    all_down: BTreeMap<String, Counter>,
}

impl AnswerCounters {
    /// The handles of one pool; see [`super::Registry::pool_handles`].
    pub(super) fn resolve(&mut self, pool: &str, regions: &[(&str, Vec<(usize, String)>)]) -> PoolHandles {
        let mut region_counters = Vec::with_capacity(regions.len());
        let mut endpoints: Vec<Option<Counter>> = Vec::new();
        for (region, members) in regions {
            region_counters.push(counter(&mut self.regions, (pool.to_owned(), (*region).to_owned())));
            for (index, address) in members {
                if endpoints.len() <= *index {
                    endpoints.resize(index + 1, None);
                }
                let labels = (pool.to_owned(), (*region).to_owned(), address.clone());
                endpoints[*index] = Some(counter(&mut self.endpoints, labels));
            }
        }
        PoolHandles {
            regions: region_counters.into(),
            endpoints: endpoints.into(),
            all_down: counter(&mut self.all_down, pool.to_owned()),
        }
    }

    pub(super) fn render(&self, page: &mut Page) {
        let name = "meridian_pool_answers_total";
        page.family(name, Kind::Counter, "Answers per pool, region and endpoint; an answer counts once per endpoint.");
        for ((pool, region, endpoint), n) in &self.endpoints {
            page.sample(name, &[("pool", pool), ("region", region), ("endpoint", endpoint)], load(n));
        }
        let name = "meridian_pool_region_answers_total";
        page.family(name, Kind::Counter, "Answers per pool and the region they came from.");
        for ((pool, region), n) in &self.regions {
            page.sample(name, &[("pool", pool), ("region", region)], load(n));
        }
        let name = "meridian_pool_all_down_answers_total";
        page.family(name, Kind::Counter, "Answers given with no region able to serve (failing open or empty).");
        for (pool, n) in &self.all_down {
            page.sample(name, &[("pool", pool)], load(n));
        }
    }
}

/// The counter under `key`, created at zero the first time.
fn counter<K: Ord>(map: &mut BTreeMap<K, Counter>, key: K) -> Counter {
    Arc::clone(map.entry(key).or_default())
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The answer counters of one pool, resolved when the snapshot is built, so an answer costs
/// a few atomic adds. Cloning shares the counters.
///
/// `PoolHandles::default()` counts into counters no page shows: for pools built without a
/// registry, as in tests.
#[derive(Debug, Clone, Default)]
pub struct PoolHandles {
    /// By region index in the pool.
    regions: Box<[Counter]>,
    /// By global endpoint index; `None` for endpoints not in this pool.
    endpoints: Box<[Option<Counter>]>,
    all_down: Counter,
}

impl PoolHandles {
    /// Counts one answer of this pool: from region `region` (its index in the pool's regions),
    /// or `None` when no region could serve; with these endpoints (global endpoint indexes).
    ///
    /// Hot path: one relaxed atomic add per endpoint plus one, no lock and no allocation.
    /// Indexes this pool was not resolved with are not counted.
    pub fn record_answer(&self, region: Option<usize>, endpoints: impl Iterator<Item = usize>) {
        let region = match region {
            Some(r) => self.regions.get(r),
            None => Some(&self.all_down),
        };
        if let Some(counter) = region {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        for index in endpoints {
            if let Some(Some(counter)) = self.endpoints.get(index) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
