//! Building the steering tables once per snapshot: pools with their records, per-location
//! region maps for `geo`, and checks against the served zones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{RData, Record, RecordType};

use super::{EndpointName, Family, GeoMatch, Pool, PoolEndpoint, PoolRegion};
use crate::config::{Config, PolicyKind, PoolConfig, Problem, RegionConfig};
use crate::geo::asn::AsnDb;
use crate::geo::mmdb::GeoDb;
use crate::geo::overrides::Overrides;
use crate::splitmix::splitmix64;
use crate::zone::name::NameKey;
use crate::zone::{Lookup, Zones, uncompressed_len};

/// Up to this many pools, a lookup compares names one by one instead of hashing.
const LINEAR_POOLS: usize = 8;

/// Everything steering needs, built with the snapshot.
#[derive(Debug, Default)]
pub struct Steering {
    pub geo: Option<Arc<GeoDb>>,
    /// The ASN database (`[geoip] asn_database`).
    pub asn: Option<Arc<AsnDb>>,
    pub pools: Vec<Pool>,
    by_name: HashMap<Box<[u8]>, usize>,
    /// Each pool's key, in pool order.
    keys: Vec<Box<[u8]>>,
}

impl Steering {
    /// Builds pools from the configuration; checks that each pool lives in a served zone.
    ///
    /// # Errors
    /// A pool outside every zone, at or below a delegation, or where the zone already has
    /// A, AAAA or CNAME data (any data, for a pool that may answer with a name).
    pub fn build(
        config: &Config,
        geo: Option<Arc<GeoDb>>,
        asn: Option<Arc<AsnDb>>,
        zones: &Zones,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut first_endpoint = Vec::with_capacity(config.regions.len());
        let mut endpoints = 0;
        for region in &config.regions {
            first_endpoint.push(endpoints);
            endpoints += region.endpoints.len();
        }
        let mut pools = Vec::new();
        let mut by_name = HashMap::new();
        for pool in &config.pools {
            let has_names = pool.regions.iter().any(|&r| config.regions[r].endpoints.iter().any(|e| e.name.is_some()));
            check_place(pool, has_names, zones, &mut problems);
            check_not_itself(pool, &config.regions, &mut problems);
            let built = build_pool(pools.len(), pool, &config.regions, &first_endpoint, geo.as_deref());
            by_name.insert(NameKey::new(&pool.name).as_bytes().into(), pools.len());
            pools.push(built);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let keys = config.pools.iter().map(|p| NameKey::new(&p.name).as_bytes().into()).collect();
        Ok(Self { geo, asn, pools, by_name, keys })
    }

    /// The pool at exactly this name, if any.
    pub fn pool(&self, key: &[u8]) -> Option<&Pool> {
        // Every query asks this, most with a name no pool has: a few pools are compared
        // faster than a name is hashed.
        if self.pools.len() <= LINEAR_POOLS {
            return self.pools.iter().zip(&self.keys).find(|(_, k)| k.as_ref() == key).map(|(p, _)| p);
        }
        self.by_name.get(key).map(|&i| &self.pools[i])
    }
}

fn check_place(pool: &PoolConfig, has_names: bool, zones: &Zones, problems: &mut Vec<Problem>) {
    let at = format!("{}.name", pool.at);
    let key = NameKey::new(&pool.name);
    let Some(zone) = zones.find(&key) else {
        problems.push(Problem::new(at, format!("{} is not inside any served zone", pool.name)));
        return;
    };
    match zone.lookup(&key, RecordType::A) {
        Lookup::Delegation(_) => {
            problems.push(Problem::new(at, format!("{} is at or below a delegation in {}", pool.name, zone.origin)));
        }
        Lookup::Exact(node) if has_names => {
            // RFC 2181 section 10.1: "If a CNAME RR is present at a node, no other data should
            // be present", and an apex must hold SOA and NS.
            if let Some(set) = node.rrsets.first() {
                problems.push(Problem::new(
                    at,
                    format!(
                        "{} already has {} records in zone {}; a pool with name endpoints answers with a CNAME there, and a CNAME owner holds no other data (RFC 2181 section 10.1)",
                        pool.name, set.rtype, zone.origin
                    ),
                ));
            }
        }
        Lookup::Exact(node) => {
            if let Some(set) =
                node.rrsets.iter().find(|s| matches!(s.rtype, RecordType::A | RecordType::AAAA | RecordType::CNAME))
            {
                problems.push(Problem::new(
                    at,
                    format!(
                        "{} already has {} records in zone {}; the pool answers A and AAAA there",
                        pool.name, set.rtype, zone.origin
                    ),
                ));
            }
        }
        Lookup::Wildcard(_) | Lookup::NxDomain => {}
    }
}

/// A name endpoint that is the pool's own name would answer with a CNAME to itself, a loop
/// every resolver gives up on (RFC 1034 section 3.6.2: "CNAME chains should be followed and
/// CNAME loops signalled as an error").
fn check_not_itself(pool: &PoolConfig, regions: &[RegionConfig], problems: &mut Vec<Problem>) {
    for &r in &pool.regions {
        if regions[r].endpoints.iter().any(|e| e.name.as_ref() == Some(&pool.name)) {
            problems.push(Problem::new(
                format!("{}.regions", pool.at),
                format!(
                    "region {} names {} itself: the pool would answer with a CNAME to itself",
                    crate::config::names::shown(&regions[r].name),
                    pool.name
                ),
            ));
        }
    }
}

fn build_pool(
    index: usize,
    pool: &PoolConfig,
    regions: &[RegionConfig],
    first_endpoint: &[usize],
    geo: Option<&GeoDb>,
) -> Pool {
    let pool_regions: Vec<PoolRegion> =
        pool.regions.iter().map(|&idx| pool_region(pool, idx, &regions[idx], first_endpoint[idx])).collect();
    let position = |idx: usize| pool.regions.iter().position(|&r| r == idx).map(|p| p as u8);
    let overrides =
        Overrides::new(pool.overrides.iter().filter_map(|&(net, idx)| Some((net, position(idx)?))).collect());
    let geo_table = match (pool.policy, geo) {
        (PolicyKind::Geo, Some(geo)) => geo_table(pool, regions, geo),
        _ => Vec::new(),
    };
    let asn_overrides = sorted_asns(pool.asn_overrides.iter().filter_map(|&(asn, idx)| Some((asn, position(idx)?))));
    let asn_map = match pool.policy {
        PolicyKind::Geo => sorted_asns(
            pool_regions
                .iter()
                .enumerate()
                .flat_map(|(i, r)| regions[r.region].asns.iter().map(move |&a| (a, i as u8))),
        ),
        _ => Vec::new(),
    };
    let has_names = pool_regions.iter().any(|r| r.is_named);
    let all_endpoints = [0, 1].map(|family| {
        pool_regions.iter().flat_map(|r| r.endpoints[family].iter().cloned()).take(super::MAX_ANSWERS).collect()
    });
    let failovers = pool.failovers.iter().filter_map(|&(from, to)| Some((position(from)?, position(to)?))).collect();
    let name_wire = hickory_proto::serialize::binary::BinEncodable::to_bytes(&pool.name).unwrap_or_default();
    Pool {
        name_wire: name_wire.into_boxed_slice(),
        failovers,
        index,
        failover_ttl_secs: pool.failover_ttl_secs,
        when_all_down: pool.when_all_down,
        spill_regions: pool.spill_regions,
        all_endpoints,
        name: pool.name.clone(),
        policy: pool.policy,
        ttl_secs: pool.ttl_secs,
        max_answers: pool.max_answers,
        regions: pool_regions,
        overrides,
        asn_overrides,
        asn_map,
        has_names,
        geo_table,
        fallback_location: pool.fallback_location,
        hash_prefix: [pool.hash_prefix_v4, pool.hash_prefix_v6],
        ecs: pool.ecs,
        ecs_max_scope: [pool.ecs_max_scope_v4, pool.ecs_max_scope_v6],
    }
}

fn pool_region(pool: &PoolConfig, idx: usize, region: &RegionConfig, first_endpoint: usize) -> PoolRegion {
    let mut endpoints: [Vec<PoolEndpoint>; 2] = [Vec::new(), Vec::new()];
    for (j, e) in region.endpoints.iter().enumerate() {
        let (families, data): (&[Family], _) = match (&e.name, e.address) {
            // A CNAME answers a question of either family.
            (Some(name), _) => (&[Family::V4, Family::V6], RData::CNAME(CNAME(name.clone()))),
            (None, IpAddr::V4(a)) => (&[Family::V4], RData::A(A(a))),
            (None, IpAddr::V6(a)) => (&[Family::V6], RData::AAAA(AAAA(a))),
        };
        let name = e.name.as_ref().map(|name| EndpointName {
            name: name.clone(),
            wire: hickory_proto::serialize::binary::BinEncodable::to_bytes(name).unwrap_or_default().into(),
        });
        let record = Record::from_rdata(pool.name.clone(), pool.ttl_secs, data);
        let mut failover_record = record.clone();
        failover_record.ttl = pool.failover_ttl_secs.min(pool.ttl_secs);
        let endpoint = PoolEndpoint {
            address: e.address,
            name,
            weight: e.weight,
            health: first_endpoint + j,
            wire_len: uncompressed_len(&record),
            record,
            failover_record,
            backup: e.backup,
        };
        for &family in families {
            endpoints[family as usize].push(endpoint.clone());
        }
    }
    let hash_seed =
        region.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    PoolRegion {
        region: idx,
        name: region.name.clone(),
        location: region.location,
        bias_km: region.bias_km,
        endpoints,
        is_named: region.endpoints.iter().any(|e| e.name.is_some()),
        hash_seed: splitmix64(hash_seed),
    }
}

/// (asn, region) pairs sorted by ASN for a binary search, the first region of each ASN kept
/// (pool order).
fn sorted_asns(pairs: impl Iterator<Item = (u32, u8)>) -> Vec<(u32, u8)> {
    let mut list: Vec<(u32, u8)> = pairs.collect();
    list.sort_by_key(|&(asn, _)| asn); // stable: the first region of an ASN stays first
    list.dedup_by_key(|&mut (asn, _)| asn);
    list
}

/// For each database location, the first of the pool's regions (in pool order) listing its
/// country, else the first listing its continent.
fn geo_table(pool: &PoolConfig, regions: &[RegionConfig], geo: &GeoDb) -> Vec<Option<GeoMatch>> {
    (0..geo.location_count() as u32)
        .map(|id| {
            let place = geo.location(id);
            let find = |has: &dyn Fn(&RegionConfig) -> bool| pool.regions.iter().position(|&r| has(&regions[r]));
            if let Some(country) = place.country
                && let Some(i) = find(&|r| r.countries.contains(&country))
            {
                return Some(GeoMatch { region: i as u8, by_country: true });
            }
            let continent = place.continent?;
            find(&|r| r.continents.contains(&continent)).map(|i| GeoMatch { region: i as u8, by_country: false })
        })
        .collect()
}
