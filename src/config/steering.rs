//! Validation of `[geoip]`, `[[region]]` and `[[pool]]`: names resolved to indexes, addresses,
//! codes and coordinates checked, every problem named with its path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use ipnet::IpNet;

use super::file::{FileCoordinates, FilePool, FileRegion};
use super::health::{self, CheckConfig, ManualState, WhenAllDown};
use super::names::{check_region_name, item_path, not_a_domain_name, shown};
use super::{Problem, bounded, bounded_in};
use crate::geo::{CONTINENTS, Coordinates, code, country_facts};
use std::time::Duration;

/// The most regions one pool may list: decisions order them on the stack.
pub const MAX_POOL_REGIONS: usize = 32;

/// The largest weight an endpoint may have.
const MAX_WEIGHT: i64 = 1_000_000;

/// A region after validation.
#[derive(Debug, Clone)]
pub struct RegionConfig {
    pub name: String,
    pub location: Option<Coordinates>,
    pub countries: Vec<[u8; 2]>,
    pub continents: Vec<[u8; 2]>,
    pub bias_km: f64,
    pub endpoints: Vec<EndpointConfig>,
    /// Fewer servable endpoints than this and the region is down as a whole: a count, or
    /// a fraction of its endpoints when below 1. 0: no threshold.
    pub min_healthy: f64,
}

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub address: IpAddr,
    pub weight: u32,
    /// Its own check, or its region's; none means always up.
    pub check: Option<CheckConfig>,
    /// Its own manual state, or its region's.
    pub state: ManualState,
    pub backup: bool,
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
}

impl PolicyKind {
    pub const NAMES: [&'static str; 8] =
        ["geo", "nearest", "weighted", "round_robin", "random", "hash", "priority", "latency"];

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
}

pub fn validate_geoip(database: Option<String>, base: &Path) -> Option<PathBuf> {
    database.map(|d| base.join(d))
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
        let bias_km = region.bias_km.unwrap_or(0.0);
        if !bias_km.is_finite() || bias_km.abs() > 20_000.0 {
            problems.push(Problem::new(
                format!("{at}.bias_km"),
                format!("{bias_km} is outside the range -20000 to 20000 kilometres"),
            ));
        }
        let region_check = region.check.as_ref().and_then(|c| health::check(c, &format!("{at}.check"), problems));
        let region_state = health::manual_state(region.state.as_deref(), &format!("{at}.state"), problems);
        let endpoints = validate_endpoints(&region, &at, region_check.as_ref(), region_state, problems);
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
            bias_km,
            endpoints,
            min_healthy,
        });
    }
    valid
}

fn validate_endpoints(
    region: &FileRegion,
    at: &str,
    region_check: Option<&CheckConfig>,
    region_state: ManualState,
    problems: &mut Vec<Problem>,
) -> Vec<EndpointConfig> {
    if region.endpoints.is_empty() && !region.emptied {
        problems.push(Problem::new(format!("{at}.endpoints"), "a region needs at least one endpoint"));
    }
    let mut endpoints = Vec::new();
    let addresses: Vec<Option<IpAddr>> = region.endpoints.iter().map(|e| e.address.parse().ok()).collect();
    for (j, e) in region.endpoints.iter().enumerate() {
        let Some(address) = addresses[j] else {
            let at = item_path(&format!("{at}.endpoints"), j, None);
            problems.push(Problem::new(format!("{at}.address"), format!("{} is not an IP address", shown(&e.address))));
            continue;
        };
        let at = item_path(&format!("{at}.endpoints"), j, Some(&address.to_string()));
        let weight = match e.weight.unwrap_or(1) {
            w @ 0..=MAX_WEIGHT => w as u32,
            w => {
                problems
                    .push(Problem::new(format!("{at}.weight"), format!("{w} is outside the range 0 to {MAX_WEIGHT}")));
                continue;
            }
        };
        if let Some(first) = addresses[..j].iter().position(|a| *a == Some(address)) {
            problems.push(Problem::new(
                format!("{at}.address"),
                format!("{address} is also endpoints[{first}]: a region lists an address once"),
            ));
        }
        let check = match &e.check {
            Some(c) => health::check(c, &format!("{at}.check"), problems),
            None => region_check.cloned(),
        };
        let state = match health::manual_state(e.state.as_deref(), &format!("{at}.state"), problems) {
            ManualState::Auto => region_state,
            own => own,
        };
        endpoints.push(EndpointConfig { address, weight, check, state, backup: e.backup });
    }
    endpoints
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
        for (j, o) in pool.overrides.iter().enumerate() {
            let net = o.subnet.parse::<IpNet>();
            let idx = region_index(&o.region).filter(|idx| order.contains(idx));
            match (net, idx) {
                (Ok(net), Some(idx)) => overrides.push((net.trunc(), idx)),
                (Err(_), _) => problems.push(Problem::new(
                    format!("{at}.overrides[{j}].subnet"),
                    format!("{} is not a subnet such as 198.51.100.0/24", shown(&o.subnet)),
                )),
                (_, None) => problems.push(Problem::new(
                    format!("{at}.overrides[{j}].region"),
                    format!("{} is not one of this pool's regions", shown(&o.region)),
                )),
            }
        }
        let fallback_location =
            pool.fallback_location.and_then(|c| coordinates(c, &format!("{at}.fallback_location"), problems));
        let ttl_secs = bounded_in(pool.ttl, 30, 0..=86_400, " seconds", format!("{at}.ttl"), problems) as u32;
        let max_answers = bounded(pool.max_answers, 8, 1..=16, format!("{at}.max_answers"), problems) as usize;
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
        valid.push(PoolConfig {
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
