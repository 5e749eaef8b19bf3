//! Answer counters per pool, region and endpoint: created by label when a snapshot is built,
//! kept for the life of the process so a rebuild with the same labels counts on.
//!
//! No lock: the map of counters is replaced whole (copied, keys only: the counters are
//! shared) when a snapshot brings labels it does not have yet, so the `/metrics` page never
//! waits on the writer that builds snapshots (STYLE.md section 11).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::text::{Kind, Page};

type Counter = Arc<AtomicU64>;

/// Country slots: `AA` to `ZZ`, then unknown (no database, an address it does not place, or
/// a place without a country).
const COUNTRY_SLOTS: usize = 26 * 26 + 1;

/// One pool's answers by the client's country, by slot: a fixed array, so an answer costs one
/// atomic add and no lookup.
#[derive(Debug)]
pub(super) struct CountryCounters([AtomicU64; COUNTRY_SLOTS]);

impl Default for CountryCounters {
    fn default() -> Self {
        Self([const { AtomicU64::new(0) }; COUNTRY_SLOTS])
    }
}

/// `AA` is 0, ..., `ZZ` 675; anything but two uppercase ASCII letters is unknown (676).
fn country_slot(country: Option<[u8; 2]>) -> usize {
    match country {
        Some([a @ b'A'..=b'Z', b @ b'A'..=b'Z']) => usize::from(a - b'A') * 26 + usize::from(b - b'A'),
        _ => COUNTRY_SLOTS - 1,
    }
}

/// The `country` label of a slot.
fn country_label(slot: usize) -> String {
    if slot >= COUNTRY_SLOTS - 1 {
        return "unknown".to_owned();
    }
    let letter = |n: usize| char::from(b'A' + n as u8);
    [letter(slot / 26), letter(slot % 26)].iter().collect()
}

/// Every answer counter ever resolved, by its labels. Sorted, so the page is too.
#[derive(Debug, Default, Clone)]
pub(super) struct AnswerCounters {
    /// (pool, region, endpoint address).
    endpoints: BTreeMap<(String, String, String), Counter>,
    /// (pool, region).
    regions: BTreeMap<(String, String), Counter>,
    /// pool.
    all_down: BTreeMap<String, Counter>,
    /// pool: NODATA because the pool has no endpoint of the family asked for.
    no_family: BTreeMap<String, Counter>,
    /// pool.
    countries: BTreeMap<String, Arc<CountryCounters>>,
}

/// The answer counters, read by the page and extended by the snapshot builder without a lock.
#[derive(Debug, Default)]
pub(super) struct SharedAnswerCounters(arc_swap::ArcSwap<AnswerCounters>);

impl SharedAnswerCounters {
    /// The handles of one pool; see [`super::Registry::pool_handles`]. Copies the map only
    /// when some of the pool's labels are new.
    pub(super) fn resolve(&self, pool: &str, regions: &[(&str, Vec<(usize, String)>)]) -> PoolHandles {
        if let Some(handles) = self.0.load().find(pool, regions) {
            return handles;
        }
        self.0.rcu(|current| {
            let mut next = AnswerCounters::clone(current);
            next.add(pool, regions);
            next
        });
        self.0.load().find(pool, regions).expect("the pool's counters were just added")
    }

    /// Drops the answer counters of every (pool, region, endpoint) `keep` refuses (one no
    /// snapshot in force resolves). Copies the map only when something goes; the counters
    /// kept keep their values, and handles of an older snapshot still count, unseen.
    pub(super) fn retain_endpoints(&self, keep: impl Fn(&str, &str, &str) -> bool) {
        if self.0.load().endpoints.keys().all(|(p, r, a)| keep(p, r, a)) {
            return;
        }
        self.0.rcu(|current| {
            let mut next = AnswerCounters::clone(current);
            next.endpoints.retain(|(p, r, a), _| keep(p, r, a));
            next
        });
    }

    pub(super) fn render(&self, page: &mut Page) {
        self.0.load().render(page);
    }
}

impl AnswerCounters {
    /// The handles of one pool, when every counter it needs exists.
    fn find(&self, pool: &str, regions: &[(&str, Vec<(usize, String)>)]) -> Option<PoolHandles> {
        let mut region_counters = Vec::with_capacity(regions.len());
        let mut endpoints: Vec<Option<Counter>> = Vec::new();
        for (region, members) in regions {
            region_counters.push(self.regions.get(&(pool.to_owned(), (*region).to_owned()))?.clone());
            for (index, address) in members {
                if endpoints.len() <= *index {
                    endpoints.resize(index + 1, None);
                }
                let labels = (pool.to_owned(), (*region).to_owned(), address.clone());
                endpoints[*index] = Some(self.endpoints.get(&labels)?.clone());
            }
        }
        let all_down = self.all_down.get(pool)?.clone();
        let no_family = self.no_family.get(pool)?.clone();
        let countries = self.countries.get(pool)?.clone();
        let endpoints = endpoints.into();
        Some(PoolHandles { regions: region_counters.into(), endpoints, all_down, no_family, countries })
    }

    /// Adds counters at zero for the labels of a pool not seen before.
    fn add(&mut self, pool: &str, regions: &[(&str, Vec<(usize, String)>)]) {
        for (region, members) in regions {
            self.regions.entry((pool.to_owned(), (*region).to_owned())).or_default();
            for (_, address) in members {
                self.endpoints.entry((pool.to_owned(), (*region).to_owned(), address.clone())).or_default();
            }
        }
        self.all_down.entry(pool.to_owned()).or_default();
        self.no_family.entry(pool.to_owned()).or_default();
        self.countries.entry(pool.to_owned()).or_default();
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
        let name = "meridian_pool_no_family_answers_total";
        page.family(
            name,
            Kind::Counter,
            "NODATA answers by design: the pool has no endpoint of the family asked for (AAAA to an IPv4-only pool).",
        );
        for (pool, n) in &self.no_family {
            page.sample(name, &[("pool", pool)], load(n));
        }
        let name = "meridian_pool_country_answers_total";
        page.family(name, Kind::Counter, "Answers per pool by the client's country (ISO 3166-1 alpha-2, or unknown).");
        for (pool, counters) in &self.countries {
            // Only the countries seen: a pool's page stays as long as its audience is wide.
            for (slot, n) in counters.0.iter().enumerate().filter(|(_, n)| load(n) > 0) {
                page.sample(name, &[("pool", pool), ("country", &country_label(slot))], load(n));
            }
        }
    }
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
    no_family: Counter,
    countries: Arc<CountryCounters>,
}

impl PoolHandles {
    /// Counts one NODATA answer given because the pool has no endpoint of the family asked
    /// for: by design, neither a region's answer nor an outage. Hot path: one atomic add.
    pub fn record_no_family(&self) {
        self.no_family.fetch_add(1, Ordering::Relaxed);
    }

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

    /// Counts one answer of this pool to a client in `country` (uppercase ISO 3166-1 alpha-2;
    /// anything else, or `None`, counts as unknown). Hot path: one relaxed atomic add.
    pub fn record_country(&self, country: Option<[u8; 2]>) {
        self.countries.0[country_slot(country)].fetch_add(1, Ordering::Relaxed);
    }
}
