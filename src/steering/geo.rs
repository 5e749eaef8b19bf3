//! `geo`: the client's autonomous system maps to a region (with an ASN database), else its
//! country, else its continent, else the fallback. The maps from each database location and
//! each listed ASN to a region are built with the snapshot.

use super::{Order, Pool, Query, Ranked, Reason, fallback_order, find_asn, locate};
use crate::geo::asn::AsnLocated;

pub(super) fn rank(pool: &Pool, q: &Query<'_>, asn: Option<AsnLocated>) -> Ranked {
    // A network's operator is a sharper signal than its country (issue 18): a listed ASN
    // wins, and the answer then depends on the ASN network alone.
    if let Some((a, number)) = asn.and_then(|a| Some((a, a.asn?)))
        && let Some(region) = find_asn(&pool.asn_map, number)
    {
        let order = Order::first_then(region, fallback_order(pool));
        return Ranked { order, reason: Reason::Asn(number), scope: a.prefix_len, located: None };
    }
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
