//! Validation of `[geoip]`, `[[region]]` and `[[pool]]`: names resolved to indexes, addresses,
//! codes and coordinates checked, every problem named with its path.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use ipnet::IpNet;

use super::file::{FileCoordinates, FileEndpoint, FilePool, FileRegion};
use super::health::{self, CheckConfig, ManualState, WhenAllDown};
use super::load::{self, LoadConfig, Shed};
use super::names::{check_region_name, item_path, not_a_domain_name, shown};
use super::ramp::{WeightRamp, ramp_length};
use super::{Problem, bounded, bounded_in};
use crate::geo::{CONTINENTS, Coordinates, code, country_facts};
use std::time::Duration;

/// The most regions one pool may list: decisions order them on the stack.
pub const MAX_POOL_REGIONS: usize = 32;

/// The largest weight an endpoint may have.
pub const MAX_WEIGHT: i64 = 1_000_000;

/// A region after validation.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    pub name: String,
    pub location: Option<Coordinates>,
    pub countries: Vec<[u8; 2]>,
    pub continents: Vec<[u8; 2]>,
    /// Autonomous systems `geo` sends here before countries and continents.
    pub asns: Vec<u32>,
    pub bias_km: f64,
    /// All addresses, or all names (never both: see [`validate_regions`]).
    pub endpoints: Vec<EndpointConfig>,
    /// Fewer servable endpoints than this and the region is down as a whole: a count, or
    /// a fraction of its endpoints when below 1. 0: no threshold.
    pub min_healthy: f64,
}

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The address answered and probed; unspecified (0.0.0.0) for a name endpoint, which
    /// answers with `name` instead: [`EndpointConfig::target`] says which.
    pub address: IpAddr,
    /// A name endpoint's domain name (fully qualified), answered as a CNAME.
    pub name: Option<Name>,
    pub weight: u32,
    /// Its own check, or its region's; none means always up.
    pub check: Option<CheckConfig>,
    /// Its own manual state, or its region's.
    pub state: ManualState,
    pub backup: bool,
    /// Its own `slow_start`, or its region's; zero: none.
    pub slow_start: Duration,
    /// A weight change made through the API over a time, still moving or not: `weight` is
    /// where it ends.
    pub ramp: Option<WeightRamp>,
    /// How its load reports are taken (where a probe reads them is on its check).
    pub load: LoadConfig,
}

/// What an endpoint answers with: its address, or its name (a CNAME). Shown as the address
/// or the name with its final dot, which is how the API, `ctl`, logs and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointTarget<'a> {
    Address(IpAddr),
    Name(&'a Name),
}

impl fmt::Display for EndpointTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => write!(f, "{address}"),
            Self::Name(name) => write!(f, "{name}"),
        }
    }
}

impl EndpointConfig {
    /// The address or the name this endpoint answers with.
    pub fn target(&self) -> EndpointTarget<'_> {
        match &self.name {
            Some(name) => EndpointTarget::Name(name),
            None => EndpointTarget::Address(self.address),
        }
    }
}

/// How a pool chooses a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Geo,
    Nearest,
    Weighted,
    RoundRobin,
    Random,
    Hash,
    Priority,
    /// The region whose endpoints answer probes fastest, with hysteresis.
    Latency,
    /// Regions and endpoints drawn by spare capacity (reported load) × weight.
    LeastLoaded,
}

impl PolicyKind {
    pub const NAMES: [&'static str; 9] =
        ["geo", "nearest", "weighted", "round_robin", "random", "hash", "priority", "latency", "least_loaded"];

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "geo" => Self::Geo,
            "nearest" => Self::Nearest,
            "weighted" => Self::Weighted,
            "round_robin" => Self::RoundRobin,
            "random" => Self::Random,
            "hash" => Self::Hash,
            "priority" => Self::Priority,
            "latency" => Self::Latency,
            "least_loaded" => Self::LeastLoaded,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Whether the policy reads the client's location from the database.
    pub fn needs_geo(self) -> bool {
        matches!(self, Self::Geo | Self::Nearest)
    }
}

/// A pool after validation; regions are indexes into `Config::regions`, in priority order.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub at: String,
    pub name: Name,
    pub policy: PolicyKind,
    pub regions: Vec<usize>,
    pub ttl_secs: u32,
    pub max_answers: usize,
    pub overrides: Vec<(IpNet, usize)>,
    /// `{ asn = .., region = .. }` overrides: (autonomous system, index into `Config::regions`).
    pub asn_overrides: Vec<(u32, usize)>,
    pub fallback_location: Option<Coordinates>,
    pub hash_prefix_v4: u8,
    pub hash_prefix_v6: u8,
    pub ecs: bool,
    pub ecs_max_scope_v4: u8,
    pub ecs_max_scope_v6: u8,
    pub failover_ttl_secs: u32,
    pub failover_ttl_hold: Duration,
    pub when_all_down: WhenAllDown,
    /// `latency`: switch regions only when another is faster by this share and this time.
    pub latency_margin_pct: f64,
    pub latency_margin: Duration,
    /// When the first choice cannot serve, spread its clients over this many next choices.
    pub spill_regions: usize,
    /// How long a recovered region waits before it takes traffic back (`priority`).
    pub failback_delay: Duration,
    /// Manual failovers in force: (from, to) as indexes into `Config::regions`; the first
    /// region's clients go to the second (set through the API, see `overlay.rs`).
    pub failovers: Vec<(usize, usize)>,
    /// Endpoints above `high` leave the answers until they fall below `low`.
    pub shed: Option<Shed>,
}

pub fn validate_geoip(database: Option<String>, base: &Path) -> Option<PathBuf> {
    database.map(|d| base.join(d))
}

/// An autonomous system number as written: 1 to 4294967295 (RFC 6793's four octets; 0 is
/// reserved, RFC 7607, and never announced).
fn asn(value: i64, at: &str, problems: &mut Vec<Problem>) -> Option<u32> {
    match u32::try_from(value) {
        Ok(asn) if asn > 0 => Some(asn),
        _ => {
            problems.push(Problem::new(at, format!("{value} is not an autonomous system number (1 to 4294967295)")));
            None
        }
    }
}

/// Without `[geoip] asn_database`, no pool may steer by autonomous system: neither an `asn`
/// override nor a `geo` pool whose regions list `asns`.
pub fn check_asns_have_database(pools: &[PoolConfig], regions: &[RegionConfig], problems: &mut Vec<Problem>) {
    const ADD: &str = "add [geoip] asn_database = \"...\" (see the README, Targeting by network)";
    for pool in pools {
        if !pool.asn_overrides.is_empty() {
            problems.push(Problem::new(
                format!("{}.overrides", pool.at),
                format!("an override by asn needs an ASN database: {ADD}"),
            ));
        }
        let listing = pool.regions.iter().find(|&&r| !regions[r].asns.is_empty());
        if let (PolicyKind::Geo, Some(&r)) = (pool.policy, listing) {
            problems.push(Problem::new(
                format!("{}.policy", pool.at),
                format!("region {} lists asns, which geo matches in an ASN database: {ADD}", shown(&regions[r].name)),
            ));
        }
    }
}

fn coordinates(c: FileCoordinates, at: &str, problems: &mut Vec<Problem>) -> Option<Coordinates> {
    let ok = (-90.0..=90.0).contains(&c.lat) && (-180.0..=180.0).contains(&c.lon);
    if !ok {
        problems.push(Problem::new(
            at,
            format!("lat {} lon {} is not a point on Earth: lat is -90 to 90, lon -180 to 180", c.lat, c.lon),
        ));
        return None;
    }
    Some(Coordinates { lat: c.lat, lon: c.lon })
}

pub fn validate_regions(regions: Vec<FileRegion>, problems: &mut Vec<Problem>) -> Vec<RegionConfig> {
    let mut seen = HashMap::new();
    let mut valid = Vec::new();
    for (i, region) in regions.into_iter().enumerate() {
        let named = check_region_name(&region.name);
        let at = item_path("region", i, named.is_ok().then_some(region.name.as_str()));
        if let Err(message) = named {
            problems.push(Problem::new(format!("{at}.name"), message));
        } else if let Some(first) = seen.get(&region.name) {
            problems.push(Problem::new(
                format!("{at}.name"),
                format!("{} is also the name of region[{first}]: region names are unique", shown(&region.name)),
            ));
        } else {
            seen.insert(region.name.clone(), i);
        }
        let location = region.location.and_then(|c| coordinates(c, &format!("{at}.location"), problems));
        let mut countries = Vec::new();
        for (j, c) in region.countries.iter().enumerate() {
            match code(c).filter(|c| country_facts(*c).is_some()) {
                Some(c) => countries.push(c),
                None => problems.push(Problem::new(
                    format!("{at}.countries[{j}]"),
                    format!("{} is not an ISO 3166-1 alpha-2 country code", shown(c)),
                )),
            }
        }
        let mut continents = Vec::new();
        for (j, c) in region.continents.iter().enumerate() {
            match code(c).filter(|c| CONTINENTS.iter().any(|k| k.as_bytes() == c)) {
                Some(c) => continents.push(c),
                None => problems.push(Problem::new(
                    format!("{at}.continents[{j}]"),
                    format!("{} is not one of {}", shown(c), CONTINENTS.join(", ")),
                )),
            }
        }
        let mut asns = Vec::new();
        for (j, &n) in region.asns.iter().enumerate() {
            if let Some(n) = asn(n, &format!("{at}.asns[{j}]"), problems) {
                asns.push(n);
            }
        }
        let bias_km = region.bias_km.unwrap_or(0.0);
        if !bias_km.is_finite() || bias_km.abs() > 20_000.0 {
            problems.push(Problem::new(
                format!("{at}.bias_km"),
                format!("{bias_km} is outside the range -20000 to 20000 kilometres"),
            ));
        }
        let region_check = region.check.as_ref().and_then(|c| health::check(c, &format!("{at}.check"), problems));
        let region_state = health::manual_state(region.state.as_deref(), &format!("{at}.state"), problems);
        let region_slow_start =
            region.slow_start.as_ref().and_then(|d| ramp_length(d, &format!("{at}.slow_start"), problems));
        let inherited = Inherited { check: region_check.as_ref(), state: region_state, slow_start: region_slow_start };
        let endpoints = validate_endpoints(&region, &at, inherited, problems);
        let min_healthy = region.min_healthy.unwrap_or(0.0);
        if !(0.0..=1000.0).contains(&min_healthy) {
            problems.push(Problem::new(
                format!("{at}.min_healthy"),
                format!("{min_healthy} is neither a count of endpoints (1 to 1000) nor a fraction of them (0 to 1)"),
            ));
        }
        valid.push(RegionConfig {
            name: region.name,
            location,
            countries,
            continents,
            asns,
            bias_km,
            endpoints,
            min_healthy,
        });
    }
    valid
}

/// What a region's endpoints take from it unless they say otherwise.
#[derive(Clone, Copy)]
struct Inherited<'r> {
    check: Option<&'r CheckConfig>,
    state: ManualState,
    slow_start: Option<Duration>,
}

fn validate_endpoints(
    region: &FileRegion,
    region_at: &str,
    inherited: Inherited<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<EndpointConfig> {
    let Inherited { check: region_check, state: region_state, .. } = inherited;
    let at = region_at;
    if region.endpoints.is_empty() {
        problems.push(Problem::new(format!("{at}.endpoints"), "a region needs at least one endpoint"));
    }
    check_not_mixed(region, at, problems);
    let mut endpoints = Vec::new();
    let targets: Vec<Option<Target>> = region.endpoints.iter().map(target).collect();
    for (j, e) in region.endpoints.iter().enumerate() {
        let Some(target) = &targets[j] else {
            let at = item_path(&format!("{at}.endpoints"), j, None);
            problems.push(target_problem(e, &at));
            continue;
        };
        let at = item_path(&format!("{at}.endpoints"), j, Some(&target.to_string()));
        let weight = match e.weight.unwrap_or(1) {
            w @ 0..=MAX_WEIGHT => w as u32,
            w => {
                problems
                    .push(Problem::new(format!("{at}.weight"), format!("{w} is outside the range 0 to {MAX_WEIGHT}")));
                continue;
            }
        };
        if let Some(first) = targets[..j].iter().position(|t| t.as_ref() == Some(target)) {
            let (key, what) = match target {
                Target::Address(_) => ("address", "an address"),
                Target::Name(_) => ("name", "a name"),
            };
            problems.push(Problem::new(
                format!("{at}.{key}"),
                format!("{target} is also endpoints[{first}]: a region lists {what} once"),
            ));
        }
        let mut check = match &e.check {
            Some(c) => health::check(c, &format!("{at}.check"), problems),
            None => region_check.cloned(),
        };
        // The endpoint's own load table is checked at its path; the region's at the region's
        // path, with each endpoint's check, and each problem said once.
        let (load, read) = match &e.load {
            Some(own) => load::load(Some(own), check.as_ref(), &format!("{at}.load"), problems),
            None => {
                let mut inherited = Vec::new();
                let taken =
                    load::load(region.load.as_ref(), check.as_ref(), &format!("{region_at}.load"), &mut inherited);
                inherited.retain(|p| !problems.contains(p));
                problems.extend(inherited);
                taken
            }
        };
        if let Some(check) = check.as_mut() {
            check.load = read;
        }
        let state = match health::manual_state(e.state.as_deref(), &format!("{at}.state"), problems) {
            ManualState::Auto => region_state,
            own => own,
        };
        let slow_start = match &e.slow_start {
            Some(d) => ramp_length(d, &format!("{at}.slow_start"), problems),
            None => inherited.slow_start,
        };
        let (address, name) = match target {
            Target::Address(address) => (*address, None),
            Target::Name(name) => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), Some(name.clone())),
        };
        endpoints.push(EndpointConfig {
            address,
            name,
            weight,
            check,
            state,
            backup: e.backup,
            slow_start: slow_start.unwrap_or(Duration::ZERO),
            ramp: None,
            load,
        });
    }
    endpoints
}

/// An endpoint as written, parsed: an address or a fully qualified name.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Address(IpAddr),
    Name(Name),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(address) => write!(f, "{address}"),
            Self::Name(name) => write!(f, "{name}"),
        }
    }
}

/// The endpoint's address or name, if it has exactly one and it parses. Names compare as DNS
/// names do, without regard to case.
fn target(e: &FileEndpoint) -> Option<Target> {
    match (&e.name, e.address.is_empty()) {
        (None, false) => e.address.parse().ok().map(Target::Address),
        (Some(name), true) => {
            let mut name = Name::from_ascii(name).ok().filter(|n| !n.is_root())?;
            name.set_fqdn(true);
            Some(Target::Name(name))
        }
        _ => None,
    }
}

/// Why [`target`] found none.
fn target_problem(e: &FileEndpoint, at: &str) -> Problem {
    match (&e.name, e.address.is_empty()) {
        (None, true) => Problem::new(at, "an endpoint needs an address, or a name"),
        (Some(_), false) => Problem::new(
            at,
            format!("{} has both an address and a name: an endpoint is one or the other", shown(&e.address)),
        ),
        (Some(name), true) => match Name::from_ascii(name) {
            Err(error) => Problem::new(format!("{at}.name"), not_a_domain_name(name, &error.to_string())),
            Ok(_) => {
                Problem::new(format!("{at}.name"), format!("{} is the root: a name endpoint names a host", shown(name)))
            }
        },
        (None, false) => Problem::new(format!("{at}.address"), format!("{} is not an IP address", shown(&e.address))),
    }
}

/// A region answers with addresses or with a name, never both: a CNAME owner has no other
/// data (RFC 1034 section 3.6.2, RFC 2181 section 10.1), so one answer cannot hold a name and
/// addresses, and a region whose answer depended on which of its endpoints is drawn would
/// flip between the two.
fn check_not_mixed(region: &FileRegion, at: &str, problems: &mut Vec<Problem>) {
    let named = region.endpoints.iter().position(|e| e.name.is_some());
    let addressed = region.endpoints.iter().position(|e| e.name.is_none() && !e.address.is_empty());
    if let (Some(name), Some(address)) = (named, addressed) {
        problems.push(Problem::new(
            format!("{at}.endpoints"),
            format!(
                "endpoints[{address}] is an address and endpoints[{name}] a name: a region's endpoints are all addresses or all names (put the names in a region of their own)"
            ),
        ));
    }
}

pub fn validate_pools(pools: Vec<FilePool>, regions: &[RegionConfig], problems: &mut Vec<Problem>) -> Vec<PoolConfig> {
    let region_index = |name: &str| regions.iter().position(|r| r.name == name);
    let mut names = HashMap::new();
    let mut valid = Vec::new();
    for (i, pool) in pools.into_iter().enumerate() {
        let parsed = Name::from_ascii(&pool.name);
        let at = item_path("pool", i, parsed.is_ok().then_some(pool.name.as_str()));
        let name = match parsed {
            Ok(mut name) => {
                name.set_fqdn(true);
                if let Some(first) = names.get(&name.to_lowercase()) {
                    problems.push(Problem::new(
                        format!("{at}.name"),
                        format!("{} is also the name of pool[{first}]: pool names are unique", shown(&pool.name)),
                    ));
                } else {
                    names.insert(name.to_lowercase(), i);
                }
                name
            }
            Err(e) => {
                problems.push(Problem::new(format!("{at}.name"), not_a_domain_name(&pool.name, &e.to_string())));
                continue;
            }
        };
        let Some(policy) = PolicyKind::parse(&pool.policy) else {
            problems.push(Problem::new(
                format!("{at}.policy"),
                format!("{} is not one of {}", shown(&pool.policy), PolicyKind::NAMES.join(", ")),
            ));
            continue;
        };
        let mut order = Vec::new();
        for (j, r) in pool.regions.iter().enumerate() {
            match region_index(r) {
                Some(idx) if order.contains(&idx) => {
                    problems.push(Problem::new(format!("{at}.regions[{j}]"), format!("{} is listed twice", shown(r))))
                }
                Some(idx) => order.push(idx),
                None => problems
                    .push(Problem::new(format!("{at}.regions[{j}]"), format!("no region is named {}", shown(r)))),
            }
        }
        if pool.regions.is_empty() || pool.regions.len() > MAX_POOL_REGIONS {
            problems.push(Problem::new(
                format!("{at}.regions"),
                format!("{} regions are listed: a pool lists 1 to {MAX_POOL_REGIONS}", pool.regions.len()),
            ));
        }
        if policy == PolicyKind::Nearest {
            for &idx in &order {
                if regions[idx].location.is_none() {
                    problems.push(Problem::new(
                        format!("{at}.policy"),
                        format!(
                            "nearest needs a location for each region, and region {} has none: add location = {{ lat = ..., lon = ... }}",
                            shown(&regions[idx].name)
                        ),
                    ));
                }
            }
        }
        let mut overrides = Vec::new();
        let mut asn_overrides: Vec<(u32, usize)> = Vec::new();
        for (j, o) in pool.overrides.iter().enumerate() {
            let at = format!("{at}.overrides[{j}]");
            let idx = region_index(&o.region).filter(|idx| order.contains(idx));
            if idx.is_none() {
                problems.push(Problem::new(
                    format!("{at}.region"),
                    format!("{} is not one of this pool's regions", shown(&o.region)),
                ));
            }
            match (&o.subnet, o.asn) {
                (Some(subnet), None) => match (subnet.parse::<IpNet>(), idx) {
                    (Ok(net), Some(idx)) => overrides.push((net.trunc(), idx)),
                    (Ok(_), None) => {}
                    (Err(_), _) => problems.push(Problem::new(
                        format!("{at}.subnet"),
                        format!("{} is not a subnet such as 198.51.100.0/24", shown(subnet)),
                    )),
                },
                (None, Some(n)) => {
                    let n = asn(n, &format!("{at}.asn"), problems);
                    if let Some(n) = n
                        && asn_overrides.iter().any(|(a, _)| *a == n)
                    {
                        problems.push(Problem::new(format!("{at}.asn"), format!("AS{n} has an override already")));
                    } else if let (Some(n), Some(idx)) = (n, idx) {
                        asn_overrides.push((n, idx));
                    }
                }
                (Some(_), Some(_)) => problems.push(Problem::new(
                    at,
                    "an override names a subnet or an asn, not both: write one override for each",
                )),
                (None, None) => problems.push(Problem::new(at, "an override needs a subnet or an asn")),
            }
        }
        let fallback_location =
            pool.fallback_location.and_then(|c| coordinates(c, &format!("{at}.fallback_location"), problems));
        let ttl_secs = bounded_in(pool.ttl, 30, 0..=86_400, " seconds", format!("{at}.ttl"), problems) as u32;
        // least_loaded steers by the one address a resolver holds: more in an answer and the
        // resolver, not the load, picks among them.
        let default_answers = if policy == PolicyKind::LeastLoaded { 1 } else { 8 };
        let max_answers =
            bounded(pool.max_answers, default_answers, 1..=16, format!("{at}.max_answers"), problems) as usize;
        let hash_prefix_v4 =
            bounded_in(pool.hash_prefix_v4, 24, 0..=32, " bits", format!("{at}.hash_prefix_v4"), problems) as u8;
        let hash_prefix_v6 =
            bounded_in(pool.hash_prefix_v6, 56, 0..=128, " bits", format!("{at}.hash_prefix_v6"), problems) as u8;
        let ecs_max_scope_v4 =
            bounded_in(pool.ecs_max_scope_v4, 32, 0..=32, " bits", format!("{at}.ecs_max_scope_v4"), problems) as u8;
        let ecs_max_scope_v6 =
            bounded_in(pool.ecs_max_scope_v6, 128, 0..=128, " bits", format!("{at}.ecs_max_scope_v6"), problems) as u8;
        let failover_ttl_secs =
            bounded_in(pool.failover_ttl, 5, 0..=86_400, " seconds", format!("{at}.failover_ttl"), problems) as u32;
        let failover_ttl_hold = health::duration_or(
            pool.failover_ttl_hold.as_ref(),
            Duration::from_secs(60),
            &format!("{at}.failover_ttl_hold"),
            problems,
        );
        let when_all_down =
            health::when_all_down(pool.when_all_down.as_deref(), &format!("{at}.when_all_down"), problems);
        let latency_margin_pct =
            bounded_in(pool.latency_margin_pct, 20, 0..=100, " percent", format!("{at}.latency_margin_pct"), problems)
                as f64;
        let latency_margin = health::duration_or(
            pool.latency_margin.as_ref(),
            Duration::from_millis(5),
            &format!("{at}.latency_margin"),
            problems,
        );
        let spill_regions = match pool.spill.as_deref() {
            None | Some("next") => 1,
            Some("spread") => bounded(pool.spill_regions, 2, 1..=8, format!("{at}.spill_regions"), problems) as usize,
            Some(other) => {
                problems
                    .push(Problem::new(format!("{at}.spill"), format!("{} is not one of next, spread", shown(other))));
                1
            }
        };
        let failback_delay = health::duration_or(
            pool.failback_delay.as_ref(),
            Duration::ZERO,
            &format!("{at}.failback_delay"),
            problems,
        );
        let shed = load::shed(pool.shed.as_ref(), &format!("{at}.shed"), problems);
        valid.push(PoolConfig {
            shed,
            failovers: Vec::new(),
            failback_delay,
            latency_margin_pct,
            latency_margin,
            spill_regions,
            failover_ttl_secs,
            failover_ttl_hold,
            when_all_down,
            at,
            name,
            policy,
            regions: order,
            ttl_secs,
            max_answers,
            overrides,
            asn_overrides,
            fallback_location,
            hash_prefix_v4,
            hash_prefix_v6,
            ecs: pool.ecs.unwrap_or(true),
            ecs_max_scope_v4,
            ecs_max_scope_v6,
        });
    }
    valid
}
