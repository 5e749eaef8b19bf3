//! `geo`: the client's country maps to a region, else its continent, else the fallback.
//! The map from each database location to a region is built with the snapshot.

use super::{Order, Pool, Query, Ranked, Reason, fallback_order, locate};

pub(super) fn rank(pool: &Pool, q: &Query<'_>) -> Ranked {
    let (located, location) = locate(q);
    // The answer depends on the database network the client fell in, found or not.
    let scope = located.map_or(0, |l| l.prefix_len);
    let fallback = fallback_order(pool);
    let Some((id, place)) = location else {
        return Ranked { order: fallback, reason: Reason::Fallback, scope, located };
    };
    let matched = pool.geo_table.get(id as usize).copied().flatten();
    let reason = match matched {
        Some(m) if m.by_country => place.country.map(Reason::Country),
        Some(_) => place.continent.map(Reason::Continent),
        None => None,
    };
    match (matched, reason) {
        (Some(m), Some(reason)) => Ranked { order: Order::first_then(m.region, fallback), reason, scope, located },
        _ => Ranked { order: fallback, reason: Reason::Fallback, scope, located },
    }
}
