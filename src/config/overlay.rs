//! Changes made through the admin API, kept over the configuration file.
//!
//! An [`Overlay`] is laid over the file as written ([`super::FileConfig`]) before validation,
//! so a region added through the API gets exactly the checks a region in the file gets, and a
//! reload or a restart re-applies the changes over whatever the file now says. Pure: the state
//! file that keeps it lives at the edge (`control::state`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::file::{FileConfig, FileCoordinates, FileDuration, FileEndpoint, FilePool, FileRegion};
use super::names::{check_region_name, clipped_text, shown};
use super::ramp::WeightRamp;
use super::stamp::{AddedRegion, RemovedRegion, Stamp};
use super::{Config, PolicyKind, Problem};

pub mod endpoints;

/// Every change made through the API, in a form that survives a restart. Each entry carries
/// the stamp of the change that last set it (`changes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Regions added, in the order added; they follow the file's regions.
    #[serde(default)]
    pub regions_added: Vec<AddedRegion>,
    /// Regions of the file taken out.
    #[serde(default)]
    pub regions_removed: Vec<RemovedRegion>,
    #[serde(default)]
    pub weights: Vec<WeightChange>,
    #[serde(default)]
    pub endpoint_states: Vec<EndpointStateChange>,
    #[serde(default)]
    pub strategies: Vec<StrategyChange>,
    #[serde(default)]
    pub failovers: Vec<ManualFailover>,
    /// Endpoints registered into regions (`PUT .../endpoints/{address}`), each replacing the
    /// region's own endpoint of that address, or added after its endpoints.
    #[serde(default)]
    pub endpoints_added: Vec<AddedEndpoint>,
    /// Endpoints of the file (or of a region added) taken out of their region.
    #[serde(default)]
    pub endpoints_removed: Vec<RemovedEndpoint>,
}

/// An endpoint registered into a region through the API: the fields of an endpoint of a
/// `[[region]]` table, and the lease it is kept under, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedEndpoint {
    pub region: String,
    pub endpoint: FileEndpoint,
    /// The lease: the endpoint is removed unless renewed within this long ("30s"). The expiry
    /// itself is the writer's, in memory: after a restart every lease gets a full TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<FileDuration>,
    #[serde(default)]
    pub stamp: Stamp,
}

/// An endpoint taken out of its region through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedEndpoint {
    pub region: String,
    /// As the region lists it.
    pub address: String,
    #[serde(default)]
    pub stamp: Stamp,
}

/// An endpoint's weight set by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightChange {
    pub region: String,
    pub endpoint: IpAddr,
    pub weight: i64,
    /// Set when the weight is reached over a time rather than at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp: Option<WeightRamp>,
    #[serde(default)]
    pub stamp: Stamp,
}

/// An endpoint drained (`drain`) or put back under its checks (`auto`) by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointStateChange {
    pub region: String,
    pub endpoint: IpAddr,
    pub state: String,
    #[serde(default)]
    pub stamp: Stamp,
}

/// A pool's policy and its parameters, changed by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyChange {
    /// The pool's name, e.g. "www.lb.example." (the trailing dot may be left out).
    pub pool: String,
    /// One of geo, nearest, weighted, round_robin, random, hash, priority, latency, least_loaded.
    pub strategy: String,
    #[serde(default)]
    pub parameters: StrategyParameters,
    #[serde(default)]
    pub stamp: Stamp,
}

/// Pool settings a strategy change may set alongside the policy; absent ones stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyParameters {
    /// The pool's regions, in order: how a region added through the API starts taking traffic.
    pub regions: Option<Vec<String>>,
    pub max_answers: Option<i64>,
    pub hash_prefix_v4: Option<i64>,
    pub hash_prefix_v6: Option<i64>,
    pub latency_margin_pct: Option<i64>,
    pub latency_margin: Option<FileDuration>,
    pub failback_delay: Option<FileDuration>,
    pub fallback_location: Option<FileCoordinates>,
    /// "next" or "spread".
    pub spill: Option<String>,
    pub spill_regions: Option<i64>,
    /// "fail_open", "servfail" or "nodata".
    pub when_all_down: Option<String>,
}

/// One region's share of a pool sent to another by hand, until cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualFailover {
    pub pool: String,
    pub from_region: String,
    pub to_region: String,
    /// Seconds since the Unix epoch when it was triggered.
    #[serde(default)]
    pub since: u64,
    #[serde(default)]
    pub stamp: Stamp,
}

/// How much of a saved change a message about it quotes.
const SHOWN_CHANGE_CHARS: usize = 300;

/// Why a change was not made: what the API answers with 404, 409 or 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Names something that does not exist.
    NotFound { field: String, message: String },
    /// Clashes with what exists.
    Conflict { field: String, message: String },
    /// A value that cannot be right whatever else exists.
    Invalid { field: String, message: String },
}

impl Refusal {
    fn not_found(field: &str, message: String) -> Self {
        Self::NotFound { field: field.into(), message }
    }
    fn conflict(field: &str, message: String) -> Self {
        Self::Conflict { field: field.into(), message }
    }
    fn invalid(field: &str, message: String) -> Self {
        Self::Invalid { field: field.into(), message }
    }
}

/// A configuration with saved API changes laid over it, and what had to be left out.
#[derive(Debug)]
pub struct LaidOver {
    pub config: Config,
    /// The changes still in force, when some made the configuration invalid and were left
    /// out (`None`: all of them were kept, and the state file needs no rewrite).
    pub kept: Option<Overlay>,
    /// Each saved change left out, named: those that made the configuration invalid, then
    /// those that no longer fit the file (a weight of an endpoint it no longer has, say).
    pub left_out: Vec<String>,
}

impl super::Source {
    /// Validates the file with `changes` laid over it. Changes that make it invalid are left
    /// out one by one, in the order they were made; the rest are kept. Pure: the caller logs,
    /// saves and reports, so that `serve`, a reload and `check-config` say the same.
    ///
    /// # Errors
    /// The file is invalid on its own.
    pub fn lay_over(&self, changes: &Overlay) -> Result<LaidOver, super::ConfigError> {
        let (config, skipped, kept, mut left_out) = match self.validate_with(changes) {
            Ok((config, skipped)) => (config, skipped, None, Vec::new()),
            Err(_) => {
                self.validate()?;
                let (kept, dropped) = changes.prune(|candidate| self.validate_with(candidate).is_ok());
                let (config, skipped) = self.validate_with(&kept)?;
                (config, skipped, Some(kept), dropped)
            }
        };
        left_out.extend(skipped.iter().map(ToString::to_string));
        Ok(LaidOver { config, kept, left_out })
    }
}

/// Pool names compare without case and without the trailing dot.
pub fn same_pool(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

fn same_address(written: &str, address: IpAddr) -> bool {
    written.parse::<IpAddr>().is_ok_and(|a| a == address)
}

/// Whether two endpoints as written are the same: equal addresses however written
/// (`2001:db8::1` and `2001:DB8:0::1`), else the same text without case or a final dot
/// (names).
pub fn same_endpoint(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.')),
    }
}

impl Overlay {
    /// How many changes are kept.
    pub fn count(&self) -> usize {
        self.regions_added.len()
            + self.regions_removed.len()
            + self.weights.len()
            + self.endpoint_states.len()
            + self.strategies.len()
            + self.failovers.len()
            + self.endpoints_added.len()
            + self.endpoints_removed.len()
    }

    /// Lays the changes over `file`. Changes that no longer fit what the file says (an
    /// endpoint the file has since dropped, say) are left out, each reported in `skipped`.
    pub fn apply(&self, mut file: FileConfig, skipped: &mut Vec<Problem>) -> FileConfig {
        for RemovedRegion { name, .. } in &self.regions_removed {
            match file.region.iter().position(|r| &r.name == name) {
                Some(i) => {
                    file.region.remove(i);
                }
                None => {
                    skipped.push(Problem::new("state.regions_removed", format!("no region {} to remove", shown(name))))
                }
            }
        }
        for AddedRegion { region, .. } in &self.regions_added {
            if file.region.iter().any(|r| r.name == region.name) {
                skipped.push(Problem::new(
                    "state.regions_added",
                    format!("region {} is now in the configuration file; the file's wins", shown(&region.name)),
                ));
            } else {
                file.region.push(region.clone());
            }
        }
        self.apply_endpoints(&mut file, skipped);
        for change in &self.weights {
            match find_endpoint(&mut file, &change.region, change.endpoint) {
                Some(endpoint) => endpoint.weight = Some(change.weight),
                None => skipped.push(gone("state.weights", &change.region, change.endpoint)),
            }
        }
        for change in &self.endpoint_states {
            match find_endpoint(&mut file, &change.region, change.endpoint) {
                Some(endpoint) => endpoint.state = Some(change.state.clone()),
                None => skipped.push(gone("state.endpoint_states", &change.region, change.endpoint)),
            }
        }
        for change in &self.strategies {
            match file.pool.iter_mut().find(|p| same_pool(&p.name, &change.pool)) {
                Some(pool) => set_strategy(pool, change),
                None => skipped.push(Problem::new("state.strategies", format!("no pool {}", shown(&change.pool)))),
            }
        }
        file
    }

    /// Sets the validated pools' manual failovers; ones whose pool or regions are gone are
    /// left out and reported in `skipped`.
    pub fn apply_failovers(&self, config: &mut Config, skipped: &mut Vec<Problem>) {
        for failover in &self.failovers {
            // A state file edited by hand may hold what the API refuses: a region failed over
            // to itself, or a loop; either would take regions out of every answer.
            if failover.from_region == failover.to_region || self.loops(failover) {
                skipped.push(Problem::new(
                    "state.failovers",
                    format!(
                        "{} to {} in pool {} would make a loop",
                        shown(&failover.from_region),
                        shown(&failover.to_region),
                        shown(&failover.pool)
                    ),
                ));
                continue;
            }
            let region = |name: &str| config.regions.iter().position(|r| r.name == name);
            let (from, to) = (region(&failover.from_region), region(&failover.to_region));
            let pool = config.pools.iter_mut().find(|p| same_pool(&p.name.to_ascii(), &failover.pool));
            match (pool, from, to) {
                (Some(pool), Some(from), Some(to)) if pool.regions.contains(&from) && pool.regions.contains(&to) => {
                    pool.failovers.push((from, to));
                }
                _ => skipped.push(Problem::new(
                    "state.failovers",
                    format!(
                        "pool {} no longer has regions {} and {}",
                        shown(&failover.pool),
                        shown(&failover.from_region),
                        shown(&failover.to_region)
                    ),
                )),
            }
        }
    }

    /// Whether following failovers on from `failover.to_region` comes back to its `from_region`.
    fn loops(&self, failover: &ManualFailover) -> bool {
        let mut next = failover.to_region.as_str();
        for _ in 0..=self.failovers.len() {
            match self.failovers.iter().find(|f| same_pool(&f.pool, &failover.pool) && f.from_region == next) {
                Some(f) if f.to_region == failover.from_region => return true,
                Some(f) => next = &f.to_region,
                None => return false,
            }
        }
        true
    }

    /// The changes kept when each is laid over the file in turn and those that `valid` refuses
    /// are left out (a saved change the file no longer allows, say), and a description of each
    /// left out.
    pub fn prune(&self, valid: impl Fn(&Overlay) -> bool) -> (Overlay, Vec<String>) {
        let mut kept = Overlay::default();
        let mut dropped = Vec::new();
        macro_rules! each {
            ($($list:ident),*) => {$(
                for item in &self.$list {
                    kept.$list.push(item.clone());
                    if !valid(&kept) {
                        kept.$list.pop();
                        // Logged and printed by check-config: cut short, since a state file
                        // edited by hand may hold a value of any size.
                        let item = serde_json::to_string(item).unwrap_or_default();
                        dropped.push(format!("{}: {}", stringify!($list), clipped_text(&item, SHOWN_CHANGE_CHARS)));
                    }
                }
            )*};
        }
        each!(
            regions_removed,
            regions_added,
            endpoints_removed,
            endpoints_added,
            weights,
            endpoint_states,
            strategies,
            failovers
        );
        (kept, dropped)
    }

    /// Adds a region; it must not clash with one that exists (`file` with this overlay laid over).
    ///
    /// # Errors
    /// A region of that name exists.
    pub fn add_region(&mut self, file: &FileConfig, region: FileRegion) -> Result<(), Refusal> {
        // Checked here as well as in validation, so the API refuses a bad name before
        // anything else about the region, with the rule in the message.
        check_region_name(&region.name).map_err(|message| Refusal::invalid("name", message))?;
        if self.merged(file).region.iter().any(|r| r.name == region.name) {
            return Err(Refusal::conflict("name", format!("region {} already exists", shown(&region.name))));
        }
        self.regions_removed.retain(|r| r.name != region.name);
        // Keep the file's region out: the one added replaces it, whatever it said.
        if file.region.iter().any(|r| r.name == region.name) {
            self.regions_removed.push(RemovedRegion::new(region.name.clone()));
        }
        self.forget_region(&region.name);
        self.regions_added.push(AddedRegion::new(region));
        Ok(())
    }

    /// Removes a region that no pool lists.
    ///
    /// # Errors
    /// No such region, or a pool still lists it.
    pub fn remove_region(&mut self, file: &FileConfig, name: &str) -> Result<(), Refusal> {
        let merged = self.merged(file);
        if !merged.region.iter().any(|r| r.name == name) {
            return Err(Refusal::not_found("region", format!("no region {}", shown(name))));
        }
        if let Some(pool) = merged.pool.iter().find(|p| p.regions.iter().any(|r| r == name)) {
            return Err(Refusal::conflict(
                "region",
                format!("pool {} still lists region {}: take it out of the pool first", shown(&pool.name), shown(name)),
            ));
        }
        self.regions_added.retain(|r| r.region.name != name);
        // The region is in the file, or it was added: a file's region is kept out by a removal
        // of this change's own (even one a replacement had made), an added one by dropping it.
        self.regions_removed.retain(|r| r.name != name);
        if file.region.iter().any(|r| r.name == name) {
            self.regions_removed.push(RemovedRegion::new(name.to_owned()));
        }
        self.forget_region(name);
        Ok(())
    }

    /// Sets an endpoint's weight.
    ///
    /// # Errors
    /// No such region or endpoint.
    pub fn set_weight(
        &mut self,
        file: &FileConfig,
        region: &str,
        endpoint: IpAddr,
        weight: i64,
    ) -> Result<(), Refusal> {
        self.check_endpoint(file, region, endpoint)?;
        self.weights.retain(|w| !(w.region == region && w.endpoint == endpoint));
        self.weights.push(WeightChange {
            region: region.into(),
            endpoint,
            weight,
            ramp: None,
            stamp: Stamp::default(),
        });
        Ok(())
    }

    /// Sets an endpoint's weight to be reached linearly over `over` from `now_ms` (milliseconds
    /// since the Unix epoch), starting from the weight answers follow now: the point an
    /// earlier ramp has reached, or the weight in force. Slow start is health's and is not
    /// counted in.
    ///
    /// # Errors
    /// No such region or endpoint.
    pub fn ramp_weight(
        &mut self,
        file: &FileConfig,
        region: &str,
        endpoint: IpAddr,
        weight: i64,
        over: std::time::Duration,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        self.check_endpoint(file, region, endpoint)?;
        let earlier = self.weights.iter().find(|w| w.region == region && w.endpoint == endpoint);
        let from = match earlier.and_then(|w| Some((w.ramp.as_ref()?, w.weight))) {
            Some((ramp, to)) => ramp.weight_at(to as f64, now_ms),
            None => {
                let set = find_endpoint(&mut self.merged(file), region, endpoint).and_then(|e| e.weight);
                set.unwrap_or(1) as f64
            }
        };
        // Kept to the thousandth the answers use, and within the weights validation allows.
        let from = (from.clamp(0.0, super::steering::MAX_WEIGHT as f64) * 1000.0).round() / 1000.0;
        let until_ms = now_ms.saturating_add(u64::try_from(over.as_millis()).unwrap_or(u64::MAX));
        let ramp = WeightRamp { from, started_ms: now_ms, until_ms };
        self.weights.retain(|w| !(w.region == region && w.endpoint == endpoint));
        let stamp = Stamp::default();
        self.weights.push(WeightChange { region: region.into(), endpoint, weight, ramp: Some(ramp), stamp });
        Ok(())
    }

    /// Hands each weight ramp to the validated endpoint it ramps (the weight itself was laid
    /// over the file by [`Overlay::apply`]).
    pub fn apply_ramps(&self, config: &mut Config) {
        for change in &self.weights {
            let Some(ramp) = &change.ramp else { continue };
            let region = config.regions.iter_mut().find(|r| r.name == change.region);
            if let Some(e) = region.and_then(|r| r.endpoints.iter_mut().find(|e| e.address == change.endpoint)) {
                e.ramp = Some(ramp.clone());
            }
        }
    }

    /// Drains an endpoint (never served), or puts it back under its checks.
    ///
    /// # Errors
    /// No such region or endpoint.
    pub fn set_drained(
        &mut self,
        file: &FileConfig,
        region: &str,
        endpoint: IpAddr,
        drained: bool,
    ) -> Result<(), Refusal> {
        self.check_endpoint(file, region, endpoint)?;
        self.endpoint_states.retain(|s| !(s.region == region && s.endpoint == endpoint));
        // Undraining gives the endpoint back to what the file says of it (`force_up`, say),
        // unless the file itself drains it: then only an explicit `auto` undrains it.
        let drained_by_file = find_endpoint(&mut self.merged(file), region, endpoint)
            .is_some_and(|e| e.state.as_deref() == Some("drain"));
        let state = match (drained, drained_by_file) {
            (true, _) => "drain",
            (false, true) => "auto",
            (false, false) => return Ok(()),
        };
        let stamp = Stamp::default();
        self.endpoint_states.push(EndpointStateChange { region: region.into(), endpoint, state: state.into(), stamp });
        Ok(())
    }

    /// Changes a pool's policy and parameters.
    ///
    /// # Errors
    /// No such pool, or no such policy.
    pub fn set_strategy(&mut self, file: &FileConfig, change: StrategyChange) -> Result<(), Refusal> {
        if PolicyKind::parse(&change.strategy).is_none() {
            return Err(Refusal::invalid(
                "strategy",
                format!("{} is not one of {}", shown(&change.strategy), PolicyKind::NAMES.join(", ")),
            ));
        }
        let Some(pool) = file.pool.iter().find(|p| same_pool(&p.name, &change.pool)) else {
            return Err(Refusal::not_found("pool", format!("no pool {}", shown(&change.pool))));
        };
        let pool_name = pool.name.clone();
        // Parameters accumulate: a later change keeps what an earlier one set unless it sets it.
        let parameters = match self.strategies.iter().find(|s| same_pool(&s.pool, &pool_name)) {
            Some(earlier) => merge_parameters(&earlier.parameters, change.parameters),
            None => change.parameters,
        };
        self.strategies.retain(|s| !same_pool(&s.pool, &pool_name));
        let stamp = Stamp::default();
        self.strategies.push(StrategyChange { pool: pool_name, strategy: change.strategy, parameters, stamp });
        Ok(())
    }

    /// Sends a pool's traffic for one region to another until cleared; replaces a failover
    /// from the same region.
    ///
    /// # Errors
    /// No such pool, a region the pool does not list, or the same region twice.
    pub fn trigger_failover(&mut self, file: &FileConfig, mut failover: ManualFailover) -> Result<(), Refusal> {
        let merged = self.merged(file);
        let Some(pool) = merged.pool.iter().find(|p| same_pool(&p.name, &failover.pool)) else {
            return Err(Refusal::not_found("pool", format!("no pool {}", shown(&failover.pool))));
        };
        for (field, region) in [("from_region", &failover.from_region), ("to_region", &failover.to_region)] {
            if !pool.regions.iter().any(|r| r == region) {
                return Err(Refusal::not_found(
                    field,
                    format!("pool {} has no region {}", shown(&pool.name), shown(region)),
                ));
            }
        }
        if failover.from_region == failover.to_region {
            return Err(Refusal::invalid("to_region", "a region cannot fail over to itself".into()));
        }
        failover.pool.clone_from(&pool.name);
        failover.stamp = Stamp::default();
        // Refuse a loop (a to b while b goes to a): it would leave neither region any clients.
        let mut next = failover.to_region.clone();
        for _ in 0..=self.failovers.len() {
            match self.failovers.iter().find(|f| same_pool(&f.pool, &failover.pool) && f.from_region == next) {
                Some(f) if f.to_region == failover.from_region => {
                    return Err(Refusal::conflict(
                        "to_region",
                        format!(
                            "{} is failed over to {}: this would make a loop",
                            shown(&f.from_region),
                            shown(&f.to_region)
                        ),
                    ));
                }
                Some(f) => next.clone_from(&f.to_region),
                None => break,
            }
        }
        self.failovers.retain(|f| !(same_pool(&f.pool, &failover.pool) && f.from_region == failover.from_region));
        self.failovers.push(failover);
        Ok(())
    }

    /// Ends the manual failovers of a pool (all of them, or the one from `from_region`);
    /// returns those ended.
    ///
    /// # Errors
    /// None in force matches.
    pub fn clear_failover(&mut self, pool: &str, from_region: Option<&str>) -> Result<Vec<ManualFailover>, Refusal> {
        let matches = |f: &ManualFailover| same_pool(&f.pool, pool) && from_region.is_none_or(|r| f.from_region == r);
        let cleared: Vec<ManualFailover> = self.failovers.iter().filter(|f| matches(f)).cloned().collect();
        if cleared.is_empty() {
            return Err(Refusal::not_found("pool", format!("no manual failover in force for pool {}", shown(pool))));
        }
        self.failovers.retain(|f| !matches(f));
        Ok(cleared)
    }

    /// The file with these changes laid over it.
    pub fn merged(&self, file: &FileConfig) -> FileConfig {
        self.apply(file.clone(), &mut Vec::new())
    }

    fn check_endpoint(&self, file: &FileConfig, region: &str, endpoint: IpAddr) -> Result<(), Refusal> {
        let merged = self.merged(file);
        let Some(r) = merged.region.iter().find(|r| r.name == region) else {
            return Err(Refusal::not_found("region", format!("no region {}", shown(region))));
        };
        if !r.endpoints.iter().any(|e| same_address(&e.address, endpoint)) {
            return Err(Refusal::not_found("endpoint", format!("region {} has no endpoint {endpoint}", shown(region))));
        }
        Ok(())
    }

    /// Drops the changes made to a region that is being replaced or removed.
    fn forget_region(&mut self, name: &str) {
        self.weights.retain(|w| w.region != name);
        self.endpoint_states.retain(|s| s.region != name);
        self.endpoints_added.retain(|e| e.region != name);
        self.endpoints_removed.retain(|e| e.region != name);
    }
}

fn gone(at: &str, region: &str, endpoint: IpAddr) -> Problem {
    Problem::new(at, format!("region {} no longer has endpoint {endpoint}", shown(region)))
}

fn find_endpoint<'f>(
    file: &'f mut FileConfig,
    region: &str,
    address: IpAddr,
) -> Option<&'f mut super::file::FileEndpoint> {
    let region = file.region.iter_mut().find(|r| r.name == region)?;
    region.endpoints.iter_mut().find(|e| same_address(&e.address, address))
}

impl StrategyParameters {
    /// The pool keys a strategy change can set (`set_strategy` below sets each).
    pub const FIELDS: [&'static str; 11] = [
        "regions",
        "max_answers",
        "hash_prefix_v4",
        "hash_prefix_v6",
        "latency_margin_pct",
        "latency_margin",
        "failback_delay",
        "fallback_location",
        "spill",
        "spill_regions",
        "when_all_down",
    ];
}

fn set_strategy(pool: &mut FilePool, change: &StrategyChange) {
    let p = change.parameters.clone();
    pool.policy.clone_from(&change.strategy);
    macro_rules! set {
        ($($field:ident),*) => { $( if p.$field.is_some() { pool.$field = p.$field; } )* };
    }
    if let Some(regions) = p.regions {
        pool.regions = regions;
    }
    set!(
        max_answers,
        hash_prefix_v4,
        hash_prefix_v6,
        latency_margin_pct,
        latency_margin,
        failback_delay,
        fallback_location,
        spill,
        spill_regions,
        when_all_down
    );
}

fn merge_parameters(earlier: &StrategyParameters, later: StrategyParameters) -> StrategyParameters {
    let e = earlier.clone();
    StrategyParameters {
        regions: later.regions.or(e.regions),
        max_answers: later.max_answers.or(e.max_answers),
        hash_prefix_v4: later.hash_prefix_v4.or(e.hash_prefix_v4),
        hash_prefix_v6: later.hash_prefix_v6.or(e.hash_prefix_v6),
        latency_margin_pct: later.latency_margin_pct.or(e.latency_margin_pct),
        latency_margin: later.latency_margin.or(e.latency_margin),
        failback_delay: later.failback_delay.or(e.failback_delay),
        fallback_location: later.fallback_location.or(e.fallback_location),
        spill: later.spill.or(e.spill),
        spill_regions: later.spill_regions.or(e.spill_regions),
        when_all_down: later.when_all_down.or(e.when_all_down),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;
    use std::path::Path;

    const TOML: &str = r#"
        zones_dir = "zones"
        [[region]]
        name = "a"
        endpoints = [ { address = "192.0.2.1" }, { address = "192.0.2.2" } ]
        [[region]]
        name = "b"
        endpoints = [ { address = "198.51.100.1" } ]
        [[region]]
        name = "spare"
        endpoints = [ { address = "203.0.113.1" } ]
        [[pool]]
        name = "www.example.com."
        policy = "weighted"
        regions = ["a", "b"]
    "#;

    fn source() -> Source {
        Source::from_toml(TOML, Path::new(""), "test").unwrap()
    }

    fn region(name: &str, address: &str) -> FileRegion {
        serde_json::from_value(serde_json::json!({ "name": name, "endpoints": [{ "address": address }] })).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_added_region_is_validated_with_the_file() {
        let source = source();
        let mut overlay = Overlay::default();
        overlay.add_region(&source.file, region("c", "192.0.2.9")).unwrap();
        let (config, skipped) = source.validate_with(&overlay).unwrap();
        assert!(skipped.is_empty());
        assert_eq!(config.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["a", "b", "spare", "c"]);

        let mut bad = Overlay::default();
        bad.add_region(&source.file, region("d", "not-an-address")).unwrap();
        let error = source.validate_with(&bad).unwrap_err().to_string();
        assert!(
            error.contains(r#"region[3] "d".endpoints[0].address: "not-an-address" is not an IP address"#),
            "{error}"
        );
    }

    #[test]
    fn a_weight_ramp_starts_from_the_weight_in_force_and_a_new_one_from_where_the_last_got_to() {
        let source = source();
        let (file, mut overlay) = (&source.file, Overlay::default());
        let over = |s| std::time::Duration::from_secs(s);
        overlay.ramp_weight(file, "a", ip("192.0.2.1"), 10, over(10), 100_000).unwrap();
        let ramp = |o: &Overlay| o.weights[0].ramp.clone().unwrap();
        assert_eq!(ramp(&overlay), WeightRamp { from: 1.0, started_ms: 100_000, until_ms: 110_000 }, "the file's 1");
        // Halfway (5.5), a ramp down to 0 over 4 s begins.
        overlay.ramp_weight(file, "a", ip("192.0.2.1"), 0, over(4), 105_000).unwrap();
        assert_eq!(overlay.weights.len(), 1, "the new change replaces the old");
        assert_eq!(ramp(&overlay), WeightRamp { from: 5.5, started_ms: 105_000, until_ms: 109_000 });
        let (config, skipped) = source.validate_with(&overlay).unwrap();
        assert!(skipped.is_empty());
        let endpoint = &config.regions[0].endpoints[0];
        assert_eq!((endpoint.weight, endpoint.ramp.clone()), (0, Some(ramp(&overlay))), "where it ends, and how");
        assert_eq!(config.regions[0].endpoints[1].ramp, None);
        // Ended ramps are weights like others: the next starts from the weight.
        overlay.ramp_weight(file, "a", ip("192.0.2.1"), 4, over(4), 200_000).unwrap();
        assert_eq!(ramp(&overlay).from, 0.0);
        overlay.set_weight(file, "a", ip("192.0.2.1"), 2).unwrap();
        assert_eq!(overlay.weights[0].ramp, None, "a weight set at once ends a ramp");
        let unknown = overlay.ramp_weight(file, "a", ip("192.0.2.99"), 3, over(4), 0);
        assert!(matches!(unknown, Err(Refusal::NotFound { .. })));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let source = source();
        let mut overlay = Overlay::default();
        let file = &source.file;
        assert!(matches!(overlay.add_region(file, region("a", "192.0.2.9")), Err(Refusal::Conflict { .. })));
        assert!(matches!(overlay.remove_region(file, "a"), Err(Refusal::Conflict { .. })), "a pool lists it");
        assert!(matches!(overlay.remove_region(file, "nope"), Err(Refusal::NotFound { .. })));
        assert!(matches!(overlay.set_weight(file, "a", ip("192.0.2.99"), 3), Err(Refusal::NotFound { .. })));
        let strategy = |pool: &str, s: &str| StrategyChange {
            pool: pool.into(),
            strategy: s.into(),
            parameters: StrategyParameters::default(),
            stamp: Stamp::default(),
        };
        assert!(matches!(overlay.set_strategy(file, strategy("nope.example.", "geo")), Err(Refusal::NotFound { .. })));
        assert!(matches!(
            overlay.set_strategy(file, strategy("www.example.com", "fastest")),
            Err(Refusal::Invalid { .. })
        ));
        let failover = |from: &str, to: &str| ManualFailover {
            pool: "WWW.example.com".into(),
            from_region: from.into(),
            to_region: to.into(),
            since: 0,
            stamp: Stamp::default(),
        };
        assert!(matches!(overlay.trigger_failover(file, failover("a", "spare")), Err(Refusal::NotFound { .. })));
        assert!(matches!(overlay.trigger_failover(file, failover("a", "a")), Err(Refusal::Invalid { .. })));
        assert!(matches!(overlay.clear_failover("www.example.com", None), Err(Refusal::NotFound { .. })));
        assert_eq!(overlay, Overlay::default(), "a refused change leaves nothing behind");
    }

    #[test]
    fn changes_apply_over_the_file_and_survive_a_round_trip() {
        let source = source();
        let file = &source.file;
        let mut overlay = Overlay::default();
        overlay.set_weight(file, "a", ip("192.0.2.1"), 7).unwrap();
        overlay.set_drained(file, "a", ip("192.0.2.2"), true).unwrap();
        overlay.remove_region(file, "spare").unwrap();
        overlay
            .set_strategy(
                file,
                StrategyChange {
                    pool: "www.example.com".into(),
                    strategy: "priority".into(),
                    parameters: StrategyParameters { max_answers: Some(1), ..Default::default() },
                    stamp: Stamp::default(),
                },
            )
            .unwrap();
        overlay
            .trigger_failover(
                file,
                ManualFailover {
                    pool: "www.example.com".into(),
                    from_region: "a".into(),
                    to_region: "b".into(),
                    since: 5,
                    stamp: Stamp::default(),
                },
            )
            .unwrap();
        let text = serde_json::to_string(&overlay).unwrap();
        let back: Overlay = serde_json::from_str(&text).unwrap();
        assert_eq!(back, overlay);

        let (config, skipped) = source.validate_with(&back).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(config.regions.len(), 2);
        assert_eq!(config.regions[0].endpoints[0].weight, 7);
        assert_eq!(config.regions[0].endpoints[1].state, crate::config::ManualState::Drain);
        assert_eq!(config.pools[0].policy, PolicyKind::Priority);
        assert_eq!(config.pools[0].max_answers, 1);
        assert_eq!(config.pools[0].failovers, vec![(0, 1)]);

        overlay.set_drained(file, "a", ip("192.0.2.2"), false).unwrap();
        let (config, _) = source.validate_with(&overlay).unwrap();
        assert_eq!(config.regions[0].endpoints[1].state, crate::config::ManualState::Auto);
        assert_eq!(overlay.clear_failover("www.example.com.", Some("a")).unwrap().len(), 1);
    }

    #[test]
    fn changes_the_file_no_longer_fits_are_skipped_and_reported() {
        let source = source();
        let mut overlay = Overlay::default();
        overlay.weights.push(WeightChange {
            region: "a".into(),
            endpoint: ip("192.0.2.77"),
            weight: 2,
            ramp: None,
            stamp: Stamp::default(),
        });
        overlay.regions_removed.push(RemovedRegion::new("gone".into()));
        overlay.failovers.push(ManualFailover {
            pool: "www.example.com".into(),
            from_region: "a".into(),
            to_region: "spare".into(),
            since: 0,
            stamp: Stamp::default(),
        });
        let (config, skipped) = source.validate_with(&overlay).unwrap();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert_eq!(config.regions.len(), 3);
        assert!(config.pools[0].failovers.is_empty());
    }

    #[test]
    fn undrain_gives_the_endpoint_back_to_what_the_file_says() {
        let toml = TOML.replace("{ address = \"192.0.2.2\" }", "{ address = \"192.0.2.2\", state = \"force_up\" }");
        let source = Source::from_toml(&toml, Path::new(""), "test").unwrap();
        let mut overlay = Overlay::default();
        overlay.set_drained(&source.file, "a", ip("192.0.2.2"), true).unwrap();
        overlay.set_drained(&source.file, "a", ip("192.0.2.2"), false).unwrap();
        assert!(overlay.endpoint_states.is_empty(), "nothing saved: the file's force_up applies again");
        let (config, _) = source.validate_with(&overlay).unwrap();
        assert_eq!(config.regions[0].endpoints[1].state, crate::config::ManualState::ForceUp);
        // Drained by the file: undraining must say so explicitly.
        let toml = TOML.replace("{ address = \"192.0.2.2\" }", "{ address = \"192.0.2.2\", state = \"drain\" }");
        let source = Source::from_toml(&toml, Path::new(""), "test").unwrap();
        overlay.set_drained(&source.file, "a", ip("192.0.2.2"), false).unwrap();
        let (config, _) = source.validate_with(&overlay).unwrap();
        assert_eq!(config.regions[0].endpoints[1].state, crate::config::ManualState::Auto);
    }

    #[test]
    fn a_file_region_removed_added_and_removed_again_is_listed_once() {
        let source = source();
        let mut overlay = Overlay::default();
        overlay.remove_region(&source.file, "spare").unwrap();
        overlay.add_region(&source.file, region("spare", "192.0.2.10")).unwrap();
        overlay.remove_region(&source.file, "spare").unwrap();
        assert_eq!(overlay.regions_removed, [RemovedRegion::new("spare".into())]);
        let (_, skipped) = source.validate_with(&overlay).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn loops_and_self_failovers_from_a_hand_edited_file_are_left_out() {
        let source = source();
        let mut overlay = Overlay::default();
        let failover = |from: &str, to: &str| ManualFailover {
            pool: "www.example.com.".into(),
            from_region: from.into(),
            to_region: to.into(),
            since: 0,
            stamp: Stamp::default(),
        };
        overlay.failovers = vec![failover("a", "a"), failover("a", "b"), failover("b", "a")];
        let (config, skipped) = source.validate_with(&overlay).unwrap();
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(config.pools[0].failovers.is_empty());
    }

    #[test]
    fn pruning_keeps_the_changes_the_file_still_allows() {
        let source = source();
        let mut overlay = Overlay::default();
        overlay.weights.push(WeightChange {
            region: "a".into(),
            endpoint: ip("192.0.2.1"),
            weight: 5,
            ramp: None,
            stamp: Stamp::default(),
        });
        overlay.weights.push(WeightChange {
            region: "a".into(),
            endpoint: ip("192.0.2.2"),
            weight: -3,
            ramp: None,
            stamp: Stamp::default(),
        });
        overlay.regions_added.push(AddedRegion::new(region("c", "192.0.2.9")));
        assert!(source.validate_with(&overlay).is_err());
        let (kept, dropped) = overlay.prune(|o| source.validate_with(o).is_ok());
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        assert!(dropped[0].contains("-3"), "{dropped:?}");
        assert_eq!((kept.weights.len(), kept.regions_added.len()), (1, 1));
    }

    #[test]
    fn saved_regions_with_names_outside_the_rule_are_set_aside_and_described_briefly() {
        let source = source();
        let mut saved = Overlay::default();
        let huge = "x".repeat(10 << 20);
        for name in ["c\0", "c\n", "c\u{202e}", "c/d", "..", huge.as_str()] {
            saved.regions_added.push(AddedRegion::new(region(name, "192.0.2.9")));
        }
        saved.regions_added.push(AddedRegion::new(region("fine", "192.0.2.10")));
        saved.regions_removed.push(RemovedRegion::new(huge.clone()));
        let laid = source.lay_over(&saved).unwrap();
        let names: Vec<&str> = laid.config.regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "spare", "fine"]);
        let kept = laid.kept.expect("the state file is rewritten without them");
        assert_eq!(kept.regions_added.len(), 1);
        assert_eq!(
            laid.left_out.len(),
            7,
            "{:?}",
            laid.left_out.iter().map(|l| &l[..l.len().min(80)]).collect::<Vec<_>>()
        );
        for line in &laid.left_out {
            assert!(line.len() < 600, "each is described cut short: {} bytes", line.len());
            assert!(!line.contains(['\0', '\n', '\u{202e}']), "and escaped: {line}");
        }
    }

    #[test]
    fn the_api_refuses_a_region_name_outside_the_rule_before_anything_else() {
        let source = source();
        let mut overlay = Overlay::default();
        for name in ["", "c\0", "c\nd", "c\u{202e}", "c/d", ".", "..", &"c".repeat(64)] {
            match overlay.add_region(&source.file, region(name, "not-an-address")) {
                Err(Refusal::Invalid { field, message }) => {
                    assert_eq!(field, "name");
                    assert!(message.contains(crate::config::names::REGION_NAME_RULE), "{message}");
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
        assert_eq!(overlay, Overlay::default(), "nothing kept");
    }

    #[test]
    fn an_added_region_can_be_removed_and_added_again() {
        let source = source();
        let file = &source.file;
        let mut overlay = Overlay::default();
        overlay.add_region(file, region("c", "192.0.2.9")).unwrap();
        overlay.set_weight(file, "c", ip("192.0.2.9"), 4).unwrap();
        overlay.remove_region(file, "c").unwrap();
        assert_eq!(overlay, Overlay::default());
        overlay.remove_region(file, "spare").unwrap();
        overlay.add_region(file, region("spare", "192.0.2.10")).unwrap();
        let (config, skipped) = source.validate_with(&overlay).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(config.regions[2].endpoints[0].address, ip("192.0.2.10"));
    }
}
