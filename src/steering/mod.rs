//! Steering: which endpoints of a pool answer a client. Pure: everything a decision looks at
//! is in the snapshot or in [`Query`]; randomness and round-robin turns are passed in.
//!
//! Each policy orders the pool's regions for this client ([`Order`]); the first region with
//! a servable endpoint of the asked family serves, so a region with nothing to give hands
//! over to the policy's own next choice. Within the region, up to `max_answers` endpoints are
//! chosen by weight.

mod build;
mod geo;
mod hash;
pub mod latency;
mod least_loaded;
mod nearest;
mod priority;
mod random;
mod round_robin;
mod servable;
mod weighted;

use std::net::IpAddr;

use hickory_proto::rr::{Name, Record};

pub use build::Steering;
pub use servable::{can_serve, servable_regions};

use crate::config::{PolicyKind, WhenAllDown};
use crate::geo::asn::{AsnDb, AsnLocated};
use crate::geo::mmdb::{GeoDb, Located, LocationId};
use crate::geo::overrides::Overrides;
use crate::geo::{Coordinates, Location};
use crate::health::view::HealthView;
use crate::splitmix::splitmix64;

/// The most addresses one answer carries (and `max_answers` allows).
pub const MAX_ANSWERS: usize = 16;
/// The most regions a pool may list (the configuration checks it).
pub const MAX_REGIONS: usize = crate::config::steering::MAX_POOL_REGIONS;

/// Address family of the question: A asks for IPv4, AAAA for IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4 = 0,
    V6 = 1,
}

/// One endpoint of a region as a pool answers with it: its record is owned by the pool name
/// with the pool's TTL, built once with the snapshot.
#[derive(Debug, Clone)]
pub struct PoolEndpoint {
    /// Unspecified for a name endpoint (see `name`).
    pub address: IpAddr,
    /// A name endpoint's target: its record is a CNAME to it, and it stands in both families'
    /// lists, since a CNAME answers A and AAAA alike.
    pub name: Option<EndpointName>,
    pub weight: u32,
    /// Index into the health view.
    pub health: usize,
    pub record: Record,
    /// The same record with the pool's failover TTL.
    pub failover_record: Record,
    /// Octets the record takes encoded on its own, for the UDP size check.
    pub wire_len: usize,
    /// Served only when no other endpoint of its region can be.
    pub backup: bool,
}

impl PoolEndpoint {
    /// Its weight as answers follow it now, in thousandths: its configured weight, or where
    /// a ramp or slow start has got to (the health view carries those, published by the
    /// writer: no clock is read here).
    pub fn weight_now(&self, health: &HealthView) -> u64 {
        health.weight_milli(self.health, self.weight)
    }
}

/// A name endpoint's target, encoded once with the snapshot so that answering with it
/// allocates nothing.
#[derive(Debug, Clone)]
pub struct EndpointName {
    pub name: Name,
    /// The name in wire form (uncompressed), as the UDP encoder writes it.
    pub wire: Box<[u8]>,
}

/// A region as one pool sees it.
#[derive(Debug, Clone)]
pub struct PoolRegion {
    /// Index into `Steering::regions`.
    pub region: usize,
    pub name: String,
    pub location: Option<Coordinates>,
    pub bias_km: f64,
    /// Endpoints by family, in configuration order (a name endpoint in both).
    pub endpoints: [Vec<PoolEndpoint>; 2],
    /// Its endpoints are names: it answers with one CNAME, whatever `max_answers` says.
    pub is_named: bool,
    /// A stable per-region seed for rendezvous hashing.
    pub hash_seed: u64,
}

impl PoolEndpoint {
    /// Its address, or its name: how metrics, analytics and the API name it.
    pub fn label(&self) -> String {
        self.name.as_ref().map_or_else(|| self.address.to_string(), |n| n.name.to_string())
    }
}

impl PoolRegion {
    /// Each endpoint once, in family order (a name endpoint stands in both families' lists).
    pub fn each_endpoint(&self) -> impl Iterator<Item = &PoolEndpoint> {
        let [v4, v6] = &self.endpoints;
        v4.iter().chain(v6.iter().filter(|e| e.name.is_none()))
    }
}

/// A load-balanced name, ready for decisions.
#[derive(Debug)]
pub struct Pool {
    /// Index in `Steering::pools` (and in the health view's per-pool flags and the snapshot's
    /// `metrics::PoolObservers`).
    pub index: usize,
    pub name: Name,
    pub policy: PolicyKind,
    pub ttl_secs: u32,
    pub max_answers: usize,
    pub regions: Vec<PoolRegion>,
    pub overrides: Overrides<u8>,
    /// `{ asn = .. }` overrides: (autonomous system, index into `regions`), sorted.
    pub asn_overrides: Vec<(u32, u8)>,
    /// For `geo`: autonomous system -> the first region listing it (index into `regions`),
    /// sorted.
    pub asn_map: Vec<(u32, u8)>,
    /// Some region answers with a name: every type asked at the pool's name is steered (a
    /// CNAME owner holds no other data, RFC 2181 section 10.1).
    pub has_names: bool,
    /// For `geo`: location id -> the region its country (or else continent) maps to.
    pub geo_table: Vec<Option<GeoMatch>>,
    pub fallback_location: Option<Coordinates>,
    pub hash_prefix: [u8; 2],
    pub ecs: bool,
    pub ecs_max_scope: [u8; 2],
    pub failover_ttl_secs: u32,
    pub when_all_down: WhenAllDown,
    /// 1: a first choice that cannot serve hands over to the next; more: spread over that many.
    pub spill_regions: usize,
    /// Every configured endpoint by family, for failing open when none is servable.
    pub all_endpoints: [Vec<PoolEndpoint>; 2],
    /// Manual failovers in force, as (from, to) indexes into `regions`: every client that
    /// would go to `from` goes to `to` instead, and `from` is never tried.
    pub failovers: Vec<(u8, u8)>,
    /// The name in wire form, as the UDP encoder writes it.
    pub name_wire: Box<[u8]>,
}

/// A place mapped to a region: by its country, or else by its continent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoMatch {
    /// Index into `Pool::regions`.
    pub region: u8,
    pub by_country: bool,
}

/// What a decision looks at besides the pool.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The address steering uses: the ECS address when the query had one, else the source.
    pub client: IpAddr,
    /// Significant bits of `client`: the ECS SOURCE PREFIX-LENGTH, or the full length.
    pub client_prefix: u8,
    pub family: Family,
    pub geo: Option<&'a GeoDb>,
    pub asn: Option<&'a AsnDb>,
    pub health: &'a HealthView,
    /// A round-robin turn and a random draw, from the caller.
    pub turn: u64,
    pub random: u64,
}

/// Why a region was chosen, for `meridian explain`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reason {
    Override {
        prefix_len: u8,
    },
    /// An `asn` override: the client's network belongs to this autonomous system.
    AsnOverride {
        asn: u32,
    },
    /// `geo`: a region lists the client's autonomous system.
    Asn(u32),
    Country([u8; 2]),
    Continent([u8; 2]),
    /// The client was not located, or its place maps to no region.
    Fallback,
    Nearest {
        km: f64,
    },
    Weighted,
    RoundRobin {
        turn: u64,
    },
    Random,
    Hash {
        prefix_len: u8,
    },
    Priority,
    /// The region whose endpoints answer probes fastest (`None`: not measured yet).
    Latency {
        measured: bool,
    },
    /// Drawn by spare capacity (reported load) × weight.
    LeastLoaded,
    /// The policy's first choice had no servable endpoint of the family; this is its next.
    NextInOrder {
        position: usize,
    },
    /// The policy chose `from`, which an operator failed over to this region.
    ManualFailover {
        from: u8,
    },
}

/// What was decided, and why. `endpoints` borrows from the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'s> {
    /// Index into `pool.regions` of the region that serves, if any could.
    pub region: Option<usize>,
    pub endpoints: Picked<'s>,
    /// The ECS SCOPE PREFIX-LENGTH this answer depends on (RFC 7871 section 7.2.1).
    pub scope: u8,
    pub reason: Reason,
    /// The database's view of the client, when the policy looked it up.
    pub located: Option<Located>,
    /// The ASN database's view of the client, when the pool steers by autonomous system.
    pub asn: Option<AsnLocated>,
    /// No endpoint of the pool could be served.
    pub all_down: bool,
    /// The pool has no endpoint of the family asked for in any region (AAAA to an IPv4-only
    /// pool): NODATA by design, not an outage. `region` is the policy's choice for the client.
    pub no_endpoint_of_family: bool,
}

/// Up to [`MAX_ANSWERS`] endpoints of one region, without allocating: the region's
/// endpoints and the positions chosen among them.
#[derive(Debug, Clone, Copy)]
pub struct Picked<'s> {
    endpoints: &'s [PoolEndpoint],
    /// The pool's name in wire form: the owner of every record.
    owner: &'s [u8],
    chosen: [u16; MAX_ANSWERS],
    len: u8,
    /// Answer with the failover TTL.
    pub failover: bool,
}

impl<'s> Picked<'s> {
    fn new(endpoints: &'s [PoolEndpoint], owner: &'s [u8]) -> Self {
        Self { endpoints, owner, chosen: [0; MAX_ANSWERS], len: 0, failover: false }
    }

    /// The owner name of the records, in wire form.
    pub fn owner(&self) -> &'s [u8] {
        self.owner
    }

    fn push(&mut self, position: usize) {
        if usize::from(self.len) < MAX_ANSWERS {
            self.chosen[usize::from(self.len)] = position as u16;
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'s PoolEndpoint> + '_ {
        (0..self.len()).filter_map(|at| self.get(at))
    }

    /// The record to answer with for the endpoint at `at`.
    pub fn record(&self, at: usize) -> Option<&'s Record> {
        let endpoint = self.get(at)?;
        Some(if self.failover { &endpoint.failover_record } else { &endpoint.record })
    }

    pub fn get(&self, at: usize) -> Option<&'s PoolEndpoint> {
        let endpoints = self.endpoints;
        self.chosen[..self.len()].get(at).and_then(|&p| endpoints.get(usize::from(p)))
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The regions to try, best first, as indexes into `pool.regions`.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    items: [u8; MAX_REGIONS],
    len: usize,
}

impl Order {
    fn empty() -> Self {
        Self { items: [0; MAX_REGIONS], len: 0 }
    }

    /// The pool's own order.
    fn pool(pool: &Pool) -> Self {
        let mut order = Self::empty();
        (0..pool.regions.len()).for_each(|i| order.push(i as u8));
        order
    }

    /// `first`, then the rest of `rest` in its order.
    fn first_then(first: u8, rest: Order) -> Self {
        let mut order = Self::empty();
        order.push(first);
        rest.iter().for_each(|i| order.push(i));
        order
    }

    fn push(&mut self, region: u8) {
        if self.len < MAX_REGIONS && !self.items[..self.len].contains(&region) {
            self.items[self.len] = region;
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.items[..self.len].iter().copied()
    }

    /// Each region failed over from replaced by the one it goes to (chains are followed a few
    /// steps); a region failed over from is never tried.
    fn fail_over(&self, failovers: &[(u8, u8)]) -> Self {
        let target = |mut region: u8| {
            for _ in 0..MAX_REGIONS {
                match failovers.iter().find(|(from, _)| *from == region) {
                    Some(&(_, to)) => region = to,
                    None => return Some(region),
                }
            }
            None // a cycle: nowhere to go
        };
        let mut order = Self::empty();
        self.iter().filter_map(target).for_each(|r| order.push(r));
        order
    }
}

/// A policy's verdict before health and family are applied.
struct Ranked {
    order: Order,
    reason: Reason,
    scope: u8,
    located: Option<Located>,
}

/// The region an autonomous system maps to in a sorted (asn, region) list.
fn find_asn(list: &[(u32, u8)], asn: u32) -> Option<u8> {
    list.binary_search_by_key(&asn, |(a, _)| *a).ok().map(|at| list[at].1)
}

/// Decides which endpoints of `pool` answer this query.
pub fn decide<'s>(pool: &'s Pool, q: &Query<'_>) -> Decision<'s> {
    // One ASN lookup per query at most, shared by the overrides and the `geo` map.
    let asn = match q.asn {
        Some(db) if !pool.asn_overrides.is_empty() || !pool.asn_map.is_empty() => db.locate(q.client),
        _ => None,
    };
    let mut policy = rank(pool, q, asn);
    // CIDR overrides win over everything, then ASN overrides, then the policy; if the
    // override's region has nothing to give, the policy's own order for this client follows.
    // An ASN override's answer depends on the client's ASN network.
    let by_asn = || {
        let (located, number) = asn.and_then(|a| Some((a, a.asn?)))?;
        let region = find_asn(&pool.asn_overrides, number)?;
        Some(((region, located.prefix_len), Reason::AsnOverride { asn: number }))
    };
    let (overridden, override_reason) = match pool.overrides.find(q.client) {
        Some((region, prefix_len)) => (Some((region, prefix_len)), Some(Reason::Override { prefix_len })),
        None => by_asn().map_or((None, None), |(o, r)| (Some(o), Some(r))),
    };
    // Whatever served, the answer depended on the client's ASN network (found in the
    // overrides or the map, or not).
    if let Some(a) = asn {
        policy.scope = policy.scope.max(a.prefix_len);
    }
    let (mut order, mut first_reason) = match (overridden, override_reason) {
        (Some((region, _)), Some(reason)) => (Order::first_then(region, policy.order), reason),
        _ => (policy.order, policy.reason),
    };
    if !pool.failovers.is_empty() {
        if let Some(from) = order.iter().next().filter(|first| pool.failovers.iter().any(|(f, _)| f == first)) {
            first_reason = Reason::ManualFailover { from };
        }
        order = order.fail_over(&pool.failovers);
    }
    let family = q.family as usize;
    if pool.all_endpoints[family].is_empty() {
        // Nothing of this family anywhere: the same NODATA for every client, so it depends on
        // no part of the client's address (scope 0, RFC 7871 section 7.2.1).
        return Decision {
            region: order.iter().next().map(usize::from),
            endpoints: Picked::new(&[], &pool.name_wire),
            scope: 0,
            reason: first_reason,
            located: policy.located,
            asn,
            all_down: false,
            no_endpoint_of_family: true,
        };
    }
    // With `spill = "spread"`, the clients of a first choice that cannot serve are spread over
    // the next `spill_regions` choices by their subnet, rather than all sent to the next one.
    let mut spill: [Option<(usize, u8, Picked<'s>)>; MAX_SPILL] = [None; MAX_SPILL];
    let mut spilled = 0;
    for (position, idx) in order.iter().enumerate() {
        let region = &pool.regions[usize::from(idx)];
        if q.health.is_region_down(region.region) {
            continue;
        }
        // A name region answers with one CNAME: a CNAME RRset holds one record (RFC 2181
        // section 10.1).
        let max = if region.is_named { 1 } else { pool.max_answers };
        let mut picked = pick_endpoints(pool, &region.endpoints[family], max, q);
        picked.failover = q.health.is_short_ttl(pool.index);
        if picked.is_empty() {
            continue;
        }
        if position == 0 || pool.spill_regions <= 1 {
            return chosen(pool, q, &policy, overridden, first_reason, position, idx, picked, asn);
        }
        spill[spilled] = Some((position, idx, picked));
        spilled += 1;
        if spilled == pool.spill_regions.min(MAX_SPILL) {
            break;
        }
    }
    if spilled > 0 {
        let prefix = pool.hash_prefix[usize::from(q.client.is_ipv6())].min(q.client_prefix);
        let pick = (hash::subnet_key(q.client, prefix) % spilled as u64) as usize;
        if let Some((position, idx, picked)) = spill[pick] {
            return chosen(pool, q, &policy, overridden, first_reason, position, idx, picked, asn);
        }
    }
    all_down(pool, q, first_reason, policy.located, asn)
}

/// Most regions a spill spreads over.
const MAX_SPILL: usize = 8;

/// The decision for the region at `position` of the order.
#[allow(clippy::too_many_arguments)]
fn chosen<'s>(
    pool: &'s Pool,
    q: &Query<'_>,
    policy: &Ranked,
    overridden: Option<(u8, u8)>,
    first_reason: Reason,
    position: usize,
    idx: u8,
    picked: Picked<'s>,
    asn: Option<AsnLocated>,
) -> Decision<'s> {
    let reason = if position == 0 { first_reason } else { Reason::NextInOrder { position } };
    // The answer depends on what chose the region: the override alone when it served, else the
    // policy's view too (and the client's subnet when spilled). Either way it must not reach
    // over other overrides' subnets.
    let mut depends_on = match overridden {
        Some((_, prefix_len)) if position == 0 => prefix_len,
        Some((_, prefix_len)) => prefix_len.max(policy.scope),
        None => policy.scope,
    };
    if position > 0 && pool.spill_regions > 1 {
        depends_on = depends_on.max(pool.hash_prefix[usize::from(q.client.is_ipv6())].min(q.client_prefix));
    }
    let scope = cap_scope(pool, q, depends_on.max(pool.overrides.separation(q.client)));
    Decision {
        region: Some(usize::from(idx)),
        endpoints: picked,
        scope,
        reason,
        located: policy.located,
        asn,
        all_down: false,
        no_endpoint_of_family: false,
    }
}

/// No region can serve: fail open with every configured endpoint at the failover TTL (as
/// gdnsd and Route 53 do), unless the pool asks for SERVFAIL or NODATA.
fn all_down<'s>(
    pool: &'s Pool,
    q: &Query<'_>,
    reason: Reason,
    located: Option<Located>,
    asn: Option<AsnLocated>,
) -> Decision<'s> {
    let all = &pool.all_endpoints[q.family as usize];
    let mut endpoints = Picked::new(all, &pool.name_wire);
    if pool.when_all_down == WhenAllDown::FailOpen {
        // Every configured endpoint, whatever its checks say, but not those taken out by hand
        // (drained, or weight 0). Names and addresses never share an answer: when the first
        // is a name, it alone (a CNAME RRset holds one record); else the addresses.
        let wanted = |e: &PoolEndpoint| e.weight_now(q.health) > 0 && !q.health.endpoint(e.health).drained;
        let first_named = all.iter().find(|e| wanted(e)).is_some_and(|e| e.name.is_some());
        let fits = |e: &PoolEndpoint| e.name.is_some() == first_named;
        let take = if first_named { 1 } else { MAX_ANSWERS };
        all.iter().enumerate().filter(|(_, e)| wanted(e) && fits(e)).take(take).for_each(|(i, _)| endpoints.push(i));
        endpoints.failover = true;
    }
    let (all_down, no_endpoint_of_family) = (true, false);
    Decision { region: None, endpoints, scope: 0, reason, located, asn, all_down, no_endpoint_of_family }
}

/// One arm per policy and no `_ =>`, so a new policy does not compile until handled.
fn rank(pool: &Pool, q: &Query<'_>, asn: Option<AsnLocated>) -> Ranked {
    let plain = |order, reason| Ranked { order, reason, scope: 0, located: None };
    match pool.policy {
        PolicyKind::Geo => geo::rank(pool, q, asn),
        PolicyKind::Nearest => nearest::rank(pool, q),
        PolicyKind::Weighted => plain(weighted::order(pool, q), Reason::Weighted),
        PolicyKind::RoundRobin => plain(round_robin::order(pool, q.turn), Reason::RoundRobin { turn: q.turn }),
        PolicyKind::Random => plain(random::order(pool, q.random), Reason::Random),
        PolicyKind::Hash => hash::rank(pool, q),
        PolicyKind::Priority => plain(priority::order(pool, q.health), Reason::Priority),
        PolicyKind::Latency => latency::rank(pool, q),
        PolicyKind::LeastLoaded => plain(least_loaded::order(pool, q), Reason::LeastLoaded),
    }
}

/// The endpoints a client with no location gets when every endpoint is up: what a zone
/// transfer carries for the pool's name, so that a secondary knowing nothing of steering
/// answers sensibly. The first region of the policy's order for such a client (for `geo` and
/// `nearest` the fallback, for the others the pool's own order) that has endpoints of the
/// family in rotation (weight above 0; backups only when no other), up to `max_answers`,
/// heaviest first. Manual failovers and drains, being moments, are not looked at.
pub fn fallback_set(pool: &Pool, family: Family) -> Vec<&PoolEndpoint> {
    let order = match pool.policy {
        PolicyKind::Geo | PolicyKind::Nearest => fallback_order(pool),
        _ => Order::pool(pool),
    };
    for region in order.iter() {
        let endpoints = &pool.regions[usize::from(region)].endpoints[family as usize];
        let live = |backup: bool| endpoints.iter().filter(move |e| e.weight > 0 && e.backup == backup);
        let mut chosen: Vec<&PoolEndpoint> = live(false).collect();
        if chosen.is_empty() {
            chosen = live(true).collect();
        }
        if chosen.is_empty() {
            continue;
        }
        chosen.sort_by_key(|e| std::cmp::Reverse(e.weight)); // stable: configuration order within a weight
        chosen.truncate(pool.max_answers);
        return chosen;
    }
    Vec::new()
}

/// Where clients go when their place maps to no region: nearest to the pool's fallback
/// location when it has one, else the pool's order.
fn fallback_order(pool: &Pool) -> Order {
    match pool.fallback_location {
        Some(from) => nearest::order_from(pool, from),
        None => Order::pool(pool),
    }
}

/// The scope, capped by the pool's settings for the client address's family (not the
/// question's: an IPv6 subnet may ask for A records) and by that family's length.
fn cap_scope(pool: &Pool, q: &Query<'_>, scope: u8) -> u8 {
    let (cap, width) = match q.client {
        IpAddr::V4(_) => (pool.ecs_max_scope[0], 32),
        IpAddr::V6(_) => (pool.ecs_max_scope[1], 128),
    };
    scope.min(cap).min(width)
}

/// The client's location from the database, if it is known.
fn locate<'g>(q: &Query<'g>) -> (Option<Located>, Option<(LocationId, &'g Location)>) {
    let Some(geo) = q.geo else { return (None, None) };
    let located = geo.locate(q.client);
    let location = located.and_then(|l| l.location).map(|id| (id, geo.location(id)));
    (located, location)
}

/// Up to `max_answers` servable endpoints: all of them when they fit, else a weighted draw
/// without replacement seeded by the caller's random value (so answers spread by weight; for
/// `least_loaded`, by weight × spare capacity). Endpoints the pool sheds for their load are
/// left out, as unservable ones are.
fn pick_endpoints<'s>(pool: &'s Pool, endpoints: &'s [PoolEndpoint], max: usize, q: &Query<'_>) -> Picked<'s> {
    let owner = &pool.name_wire[..];
    // Tiers, best first: healthy, then degraded, then backups healthy, then backups degraded.
    // Weight 0 takes an endpoint out of rotation without removing it from the configuration;
    // positions past u16 cannot be recorded (no region comes near that many endpoints).
    let tier = |i: usize, e: &PoolEndpoint| -> Option<u8> {
        let view = q.health.endpoint(e.health);
        let shed = q.health.is_shed(pool.index, e.health);
        (i <= usize::from(u16::MAX) && e.weight_now(q.health) > 0 && view.servable && !shed)
            .then_some(u8::from(view.degraded) + 2 * u8::from(e.backup))
    };
    let Some(best) = endpoints.iter().enumerate().filter_map(|(i, e)| tier(i, e)).min() else {
        return Picked::new(endpoints, owner);
    };
    let in_tier = |i: usize, e: &PoolEndpoint| tier(i, e) == Some(best);
    let mut picked = Picked::new(endpoints, owner);
    let count = endpoints.iter().enumerate().filter(|(i, e)| in_tier(*i, e)).count();
    if count <= max {
        endpoints.iter().enumerate().filter(|(i, e)| in_tier(*i, e)).for_each(|(i, _)| picked.push(i));
        return picked;
    }
    let least_loaded = pool.policy == PolicyKind::LeastLoaded;
    let fill = if least_loaded { least_loaded::fill(pool, endpoints, q) } else { 0.0 };
    let tickets =
        |e: &PoolEndpoint| if least_loaded { least_loaded::tickets(e, q, fill) } else { e.weight_now(q.health) };
    let mut state = q.random;
    while picked.len() < max {
        let taken = |i: usize| picked.chosen[..picked.len()].contains(&(i as u16));
        let open = |(i, e): &(usize, &PoolEndpoint)| in_tier(*i, e) && !taken(*i);
        let total: u64 = endpoints.iter().enumerate().filter(open).map(|(_, e)| tickets(e)).sum();
        if total == 0 {
            break;
        }
        state = splitmix64(state);
        let mut ticket = state % total;
        let chosen = endpoints.iter().enumerate().filter(open).find(|(_, e)| {
            let w = tickets(e);
            let hit = ticket < w;
            ticket = ticket.saturating_sub(w);
            hit
        });
        match chosen {
            Some((i, _)) => picked.push(i),
            None => break,
        }
    }
    picked
}

#[cfg(test)]
mod tests;
