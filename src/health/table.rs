//! The health of every endpoint, as the writer keeps it: pure, with time passed in. It maps
//! probe targets to endpoints, applies results, and builds the [`HealthView`] queries read.
//!
//! For `latency` pools it keeps the regions' RTTs and the region each pool prefers, as data:
//! the choice itself is the latency policy's (`steering::latency::steer`), which the writer
//! applies after each result, since health sits below steering and cannot call it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::history::{Event, History, RttStats};
use super::load::{self as load_report, EndpointLoad, LoadFrom};
use super::quorum::Verdict;
use super::ramp::{self, Ramp, SlowStart};
use super::state::{EndpointHealth, Observation, Status, Thresholds, Transition};
use super::view::{EndpointView, HealthView};
use crate::config::load::{LoadConfig, Shed};
use crate::config::ramp::WeightRamp;
use crate::config::{CheckConfig, Config, ManualState};

/// What one probe task checks: a check and the address it goes to. Endpoints that share
/// both share the target, so each is probed once (PowerDNS issue 8261).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub check: CheckConfig,
    /// The address probed: the check's `address`, else the endpoint's. Unused for a name
    /// endpoint whose check names no address: the prober resolves `name` at each probe.
    pub address: IpAddr,
    /// A name endpoint's name: resolved for each probe (unless the check names an address),
    /// and the default `Host` and SNI.
    pub name: Option<hickory_proto::rr::Name>,
}

#[derive(Debug, Clone)]
struct Slot {
    target: Option<usize>,
    manual: ManualState,
    health: EndpointHealth,
    thresholds: Thresholds,
    /// "region/address", for logs.
    name: Arc<str>,
    /// Shared with the copies the writer publishes for the API, and copied only when a
    /// result changes them, so that publishing the table stays cheap (`Arc::make_mut`).
    history: Arc<History>,
    rtt: Arc<RttStats>,
    /// With a cluster: the vantage points' verdict and since when it stands (`None`:
    /// standalone, or not judged yet; this instance's own status decides).
    votes: Option<Arc<VoteSummary>>,
    /// Its weight in force: where an API ramp ends.
    weight: u32,
    /// An API weight ramp as saved (wall clock), and as placed on the writer's clock by
    /// [`HealthTable::start_ramps`] while it moves.
    saved_ramp: Option<WeightRamp>,
    ramp: Option<Ramp>,
    /// Its `slow_start` (zero: none), and the slow start since it last came back.
    slow_start: Duration,
    slow: Option<SlowStart>,
    load_config: LoadConfig,
    /// Its load as the last reports left it (aged out once past `expires`).
    load: Option<EndpointLoad>,
    /// Why the probe's last load reading failed, if it did.
    load_error: Option<Arc<str>>,
    /// An IPv6 endpoint (for the last servable endpoint of a family, never shed).
    v6: bool,
}

/// The vantage points' verdict on one endpoint, and since when it has stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoteSummary {
    pub verdict: Verdict,
    pub since: Instant,
}

impl VoteSummary {
    /// "down: 2 of 3 vantage points say down (eu-1, us-1)".
    pub fn text(&self) -> String {
        let v = &self.verdict;
        let names: Vec<&str> = v.down_votes.iter().map(|v| &**v).collect();
        let word = if v.down { "down" } else { "up" };
        let mut text = format!("{word}: {} of {} vantage points say down", names.len(), v.voters);
        if !names.is_empty() {
            text.push_str(&format!(" ({})", names.join(", ")));
        }
        if v.own_view {
            text.push_str("; too few votes for the quorum, this instance's own view decides");
        }
        text
    }
}

impl Slot {
    /// Whether answers may carry it by its manual state and status (its weight aside).
    fn in_service(&self) -> bool {
        match self.manual {
            ManualState::Drain => false,
            ManualState::ForceUp => true,
            ManualState::Auto => self.effective() != Status::Down,
        }
    }

    /// Whether it takes a share of answers: in service, with a weight above 0 or a ramp
    /// still moving (as of `now`).
    fn in_rotation(&self, now: Instant) -> bool {
        self.in_service() && (self.weight > 0 || self.ramp.is_some_and(|r| now < r.end))
    }

    /// It came back at `now`: its slow start begins (none without `slow_start`).
    fn begin_slow_start(&mut self, now: Instant) {
        if !self.slow_start.is_zero() && self.weight > 0 {
            self.slow = Some(SlowStart { since: now, length: self.slow_start });
        }
    }

    /// Whether a ramp or a slow start still moves its weight at `t`.
    fn is_ramping(&self, t: Instant) -> bool {
        self.ramp.is_some_and(|r| t < r.end) || self.slow.is_some_and(|s| t < s.end())
    }

    /// The status answers follow: the cluster's verdict where there is one, else this
    /// instance's own (a degraded endpoint the quorum keeps up stays degraded).
    fn effective(&self) -> Status {
        match (self.votes.as_ref().map(|v| v.verdict.down), self.health.status()) {
            (Some(true), _) => Status::Down,
            (Some(false), Status::Down) => Status::Up,
            (_, status) => status,
        }
    }
}

#[derive(Debug, Clone)]
struct PoolSlots {
    name: String,
    region_names: Vec<String>,
    endpoints: Vec<usize>,
    /// Each of the pool's regions (in pool order) as its endpoints.
    regions: Vec<std::ops::Range<usize>>,
    hold: Duration,
    changed_at: Option<Instant>,
    /// The region a `latency` pool prefers now (index into its regions), as
    /// `steering::latency` last chose it.
    preferred: Option<usize>,
    failback_delay: Duration,
    /// Per region of the pool: since when it can serve again after being unable to.
    recovered_at: Vec<Option<Instant>>,
    shed: Option<Shed>,
    /// Per endpoint of `endpoints`: whether it is above the pool's `shed.high` (and not yet
    /// back below `low`).
    shedding: Vec<bool>,
}

/// Every endpoint's health, in configuration order (the health indexes of the steering).
/// The writer publishes a copy after each batch of probe results: the parts that rarely
/// change are shared, so a copy costs a few allocations, not one per event kept.
#[derive(Debug, Clone)]
pub struct HealthTable {
    slots: Vec<Slot>,
    /// Per region: its endpoints and `min_healthy`.
    regions: Vec<(std::ops::Range<usize>, f64)>,
    pools: Vec<PoolSlots>,
    targets: Arc<[Target]>,
    /// Regions of pools that could no longer serve, or could again: automatic failovers.
    region_events: Arc<VecDeque<RegionEvent>>,
    /// Region events ever recorded, so a reader can tell which are new.
    region_events_total: u64,
    /// Ramped weights are computed as of whole seconds counted from here (see `ramp`).
    epoch: Instant,
}

/// Region events kept.
pub const REGION_EVENTS: usize = 200;

/// A pool's region that stopped being able to serve (its clients fail over) or could again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionEvent {
    pub at: Instant,
    pub pool: String,
    pub region: String,
    pub servable: bool,
}

/// One endpoint's health as the API shows it.
#[derive(Debug, Clone, Copy)]
pub struct EndpointReport<'t> {
    pub status: Status,
    pub since: Instant,
    /// When a hold after flapping ends, if one was set (it may have ended already).
    pub held_until: Option<Instant>,
    pub manual: ManualState,
    /// Its probe target (index into [`HealthTable::targets`]), if it is checked.
    pub target: Option<usize>,
    pub history: &'t History,
    pub rtt: &'t RttStats,
    /// With a cluster: the votes behind the verdict answers follow.
    pub votes: Option<&'t VoteSummary>,
    /// Its load as the last reports left it (it may have aged out: see `expires`).
    pub load: Option<&'t EndpointLoad>,
    pub load_error: Option<&'t str>,
    pub load_config: LoadConfig,
}

/// An endpoint that started or stopped shedding in a pool, for the log.
#[derive(Debug, Clone)]
pub struct ShedChange {
    pub pool: String,
    pub endpoint: String,
    pub shedding: bool,
    pub load: f64,
}

/// An endpoint's weight on the move, for the API.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RampReport {
    /// Its weight once every ramp has run.
    pub to: u32,
    pub until: Instant,
    pub ramp: Option<Ramp>,
    pub slow_start: Option<SlowStart>,
}

/// A change of one endpoint, for logs and history.
#[derive(Debug, Clone)]
pub struct Change {
    pub endpoint: String,
    pub transition: Transition,
}

fn thresholds(check: &CheckConfig) -> Thresholds {
    Thresholds {
        rise: check.rise,
        fall: check.fall,
        flap_limit: check.flap_limit,
        flap_window: check.flap_window,
        hold_down: check.hold_down,
    }
}

impl HealthTable {
    /// Every endpoint in its initial state: its check's `initial`, or up without a check.
    pub fn new(config: &Config, now: Instant) -> Self {
        let mut slots = Vec::new();
        let mut regions = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        let mut index: HashMap<Target, usize> = HashMap::new();
        for region in &config.regions {
            let first = slots.len();
            for endpoint in &region.endpoints {
                let target = endpoint.check.as_ref().map(|check| {
                    let address = check.address.unwrap_or(endpoint.address);
                    let target = Target { check: check.clone(), address, name: endpoint.name.clone() };
                    *index.entry(target.clone()).or_insert_with(|| {
                        targets.push(target);
                        targets.len() - 1
                    })
                });
                let initial = endpoint.check.as_ref().is_none_or(|c| c.initial_up);
                let status = if initial { Status::Up } else { Status::Down };
                let t = endpoint.check.as_ref().map_or(
                    Thresholds {
                        rise: 1,
                        fall: 1,
                        flap_limit: 100,
                        flap_window: Duration::ZERO,
                        hold_down: Duration::ZERO,
                    },
                    thresholds,
                );
                slots.push(Slot {
                    target,
                    manual: endpoint.state,
                    health: EndpointHealth::new(status, now),
                    thresholds: t,
                    name: format!("{}/{}", region.name, endpoint.target()).into(),
                    history: Arc::default(),
                    rtt: Arc::default(),
                    votes: None,
                    weight: endpoint.weight,
                    saved_ramp: endpoint.ramp.clone(),
                    ramp: None,
                    slow_start: endpoint.slow_start,
                    slow: None,
                    load_config: endpoint.load,
                    load: None,
                    load_error: None,
                    v6: endpoint.address.is_ipv6(),
                });
            }
            regions.push((first..slots.len(), region.min_healthy));
        }
        let pools = config
            .pools
            .iter()
            .map(|pool| PoolSlots {
                name: pool.name.to_string(),
                region_names: pool.regions.iter().map(|&r| config.regions[r].name.clone()).collect(),
                endpoints: pool.regions.iter().flat_map(|&r| regions[r].0.clone()).collect(),
                regions: pool.regions.iter().map(|&r| regions[r].0.clone()).collect(),
                hold: pool.failover_ttl_hold,
                changed_at: None,
                preferred: None,
                failback_delay: pool.failback_delay,
                recovered_at: vec![None; pool.regions.len()],
                shed: pool.shed,
                shedding: vec![false; pool.regions.iter().map(|&r| regions[r].0.len()).sum()],
            })
            .collect();
        let targets = targets.into();
        Self { slots, regions, pools, targets, region_events: Arc::default(), region_events_total: 0, epoch: now }
    }

    /// Puts the table's weight ramps in motion as it takes over from `old` at `now`, which
    /// the wall clock reads as `unix_ms`: API ramps still moving are placed on the writer's
    /// clock, slow starts in progress go on, and an endpoint that comes back with this table
    /// (undrained, its weight raised from 0, or added) begins its slow start. With no `old`
    /// (the first table of a start) nothing comes back: every endpoint starts together.
    /// Call it after [`HealthTable::carry_over`], which brings the endpoints' health.
    pub fn start_ramps(&mut self, old: Option<&HealthTable>, now: Instant, unix_ms: u64) {
        // Ticks on whole seconds of the wall clock, so every instance of a cluster steps alike.
        self.epoch = now.checked_sub(Duration::from_millis(unix_ms % 1000)).unwrap_or(now);
        for slot in &mut self.slots {
            let to = f64::from(slot.weight);
            let moving = slot.saved_ramp.as_ref().filter(|r| r.is_moving(unix_ms));
            slot.ramp = moving.map(|r| Ramp::anchor(r, to, now, unix_ms));
            let Some(old) = old else { continue };
            match old.slots.iter().find(|o| o.name == slot.name) {
                Some(previous) => {
                    slot.slow = previous.slow.map(|s| SlowStart { length: slot.slow_start, ..s });
                    // A ramp from weight 0 is gradual already: no slow start on top. Any other
                    // return (undrained mid-ramp included) slow-starts, on the ramped weight.
                    let from_zero = slot.ramp.is_some_and(|r| r.from <= 0.0);
                    if !previous.in_rotation(now) && slot.in_rotation(now) && !from_zero {
                        slot.begin_slow_start(now);
                    }
                }
                None => slot.begin_slow_start(now),
            }
            if slot.slow_start.is_zero() {
                slot.slow = None;
            }
        }
    }

    /// Takes over what `old` knew of the endpoints both tables have (same region, address
    /// and check), so that a reload neither resets their state nor loses their history.
    pub fn carry_over(&mut self, old: &HealthTable) {
        for slot in &mut self.slots {
            let target = slot.target.map(|t| &self.targets[t]);
            let same = old.slots.iter().find(|o| o.name == slot.name && o.target.map(|t| &old.targets[t]) == target);
            if let Some(previous) = same {
                slot.health = previous.health.clone();
                slot.history = previous.history.clone();
                slot.rtt = previous.rtt.clone();
                slot.votes.clone_from(&previous.votes);
            }
            // Load is the endpoint's, whatever its check: kept by name.
            if let Some(previous) = old.slots.iter().find(|o| o.name == slot.name) {
                slot.load = previous.load;
                slot.load_error.clone_from(&previous.load_error);
            }
        }
        // A pool keeps its short-TTL hold, its latency choice and its regions' failback delays,
        // matched by pool and region name, so that a change elsewhere does not end them early.
        for pool in &mut self.pools {
            let Some(previous) = old.pools.iter().find(|p| p.name == pool.name) else { continue };
            pool.changed_at = previous.changed_at;
            let old_index = |r: usize| previous.region_names.iter().position(|n| *n == pool.region_names[r]);
            pool.preferred = previous.preferred.and_then(|p| {
                let name = previous.region_names.get(p)?;
                pool.region_names.iter().position(|n| n == name)
            });
            for r in 0..pool.region_names.len() {
                if let Some(o) = old_index(r) {
                    pool.recovered_at[r] = previous.recovered_at[o];
                }
            }
            if pool.shed.is_some() {
                for (k, slot) in pool.endpoints.iter().enumerate() {
                    let name = &self.slots[*slot].name;
                    let before = previous.endpoints.iter().position(|&o| old.slots[o].name == *name);
                    pool.shedding[k] = before.is_some_and(|b| previous.shedding[b]);
                }
            }
        }
        self.region_events.clone_from(&old.region_events);
        self.region_events_total = old.region_events_total;
    }

    /// The distinct probe targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Applies one probe result of `target` to every endpoint it checks.
    pub fn observe(
        &mut self,
        target: usize,
        seen: Observation,
        rtt: Duration,
        detail: &str,
        now: Instant,
    ) -> Vec<Change> {
        let before = self.servable_regions();
        let mut changes = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.target != Some(target) {
                continue;
            }
            if seen != Observation::Failed {
                Arc::make_mut(&mut slot.rtt).add(rtt);
            }
            let was_in_service = slot.in_service();
            if let Some(transition) = slot.health.observe(seen, now, slot.thresholds) {
                if !was_in_service && slot.in_service() {
                    slot.begin_slow_start(now);
                }
                let detail =
                    if transition.held { format!("{detail}; held down after flapping") } else { detail.to_owned() };
                Arc::make_mut(&mut slot.history).record(Event {
                    at: now,
                    from: transition.from,
                    to: transition.to,
                    detail,
                });
                changes.push((i, Change { endpoint: slot.name.to_string(), transition }));
            }
        }
        for pool in &mut self.pools {
            if changes.iter().any(|(i, _)| pool.endpoints.contains(i)) {
                pool.changed_at = Some(now);
            }
        }
        self.track_recoveries(&before, now);
        self.note_region_changes(&before, now);
        changes.into_iter().map(|(_, c)| c).collect()
    }

    /// Takes a load report for an endpoint at `now`: a probe's reading is divided by the
    /// endpoint's capacity, a pushed one is a fraction already. Updates the pools' shedding and
    /// returns what started or stopped shedding, and the load steering now reads.
    pub fn observe_load(
        &mut self,
        endpoint: usize,
        value: f64,
        from: LoadFrom,
        now: Instant,
    ) -> (f64, Vec<ShedChange>) {
        let Some(slot) = self.slots.get_mut(endpoint) else { return (0.0, Vec::new()) };
        let fraction = match from {
            LoadFrom::Probe => value / slot.load_config.capacity,
            LoadFrom::Push => value,
        };
        // Bounded as pushes are: a runaway reading does not swamp the average for long.
        let fraction = fraction.clamp(0.0, crate::config::load::MAX_LOAD);
        slot.load = Some(load_report::observe(slot.load.as_ref(), fraction, from, now, slot.load_config));
        if from == LoadFrom::Probe {
            slot.load_error = None;
        }
        let smoothed = slot.load.map_or(fraction, |l| l.smoothed);
        (smoothed, self.update_shedding(now))
    }

    /// Notes that a probe could not read an endpoint's load: its last report ages out as usual.
    pub fn set_load_error(&mut self, endpoint: usize, error: &str) {
        if let Some(slot) = self.slots.get_mut(endpoint) {
            slot.load_error = Some(error.into());
        }
    }

    /// Applies every pool's shedding hysteresis to the loads as of `now` (reports age out);
    /// a pool whose shedding changed starts its failover-TTL hold, as after a health change.
    pub fn update_shedding(&mut self, now: Instant) -> Vec<ShedChange> {
        let mut changes = Vec::new();
        for pool in &mut self.pools {
            let Some(shed) = pool.shed else { continue };
            for (k, &i) in pool.endpoints.iter().enumerate() {
                let slot = &self.slots[i];
                let load = load_report::current(slot.load.as_ref(), now);
                let shedding = load_report::is_shedding(pool.shedding[k], load, shed);
                if shedding != pool.shedding[k] {
                    pool.shedding[k] = shedding;
                    pool.changed_at = Some(now);
                    let (endpoint, load) = (slot.name.to_string(), load.unwrap_or(0.0));
                    changes.push(ShedChange { pool: pool.name.clone(), endpoint, shedding, load });
                }
            }
        }
        changes
    }

    /// The endpoints (indexes) whose load reports have aged out by `now` but were fresh
    /// before: their load is no longer known.
    pub fn expired_loads(&self, since: Instant, now: Instant) -> Vec<usize> {
        let gone = |l: &EndpointLoad| l.expires > since && l.expires <= now;
        self.slots.iter().enumerate().filter(|(_, s)| s.load.as_ref().is_some_and(gone)).map(|(i, _)| i).collect()
    }

    /// Sets the cluster's verdict on an endpoint (its `since` kept while it says the same);
    /// whether the status answers follow changed. Region failovers it causes are recorded as
    /// a probe result's are.
    pub fn set_verdict(&mut self, endpoint: usize, verdict: Verdict, now: Instant) -> bool {
        let Some(slot) = self.slots.get(endpoint) else { return false };
        let since = match &slot.votes {
            Some(previous) if previous.verdict == verdict => return false,
            Some(previous) if previous.verdict.down == verdict.down => previous.since,
            _ => now,
        };
        let (was, was_in_service) = (slot.effective(), slot.in_service());
        let before = self.servable_regions();
        self.slots[endpoint].votes = Some(Arc::new(VoteSummary { verdict, since }));
        let changed = self.slots[endpoint].effective() != was;
        if !was_in_service && self.slots[endpoint].in_service() {
            self.slots[endpoint].begin_slow_start(now);
        }
        if changed {
            for pool in &mut self.pools {
                if pool.endpoints.contains(&endpoint) {
                    pool.changed_at = Some(now);
                }
            }
        }
        self.track_recoveries(&before, now);
        self.note_region_changes(&before, now);
        changed
    }

    /// This instance's own status of an endpoint, its vote: down or not.
    pub fn own_down(&self, endpoint: usize) -> bool {
        self.slots.get(endpoint).is_some_and(|s| s.health.status() == Status::Down)
    }

    /// The status answers follow (the cluster's verdict, else this instance's own).
    pub fn effective_status(&self, endpoint: usize) -> Option<Status> {
        self.slots.get(endpoint).map(Slot::effective)
    }

    /// An endpoint's "region/address" name, and whether it is checked.
    pub fn name_of(&self, endpoint: usize) -> Option<(&Arc<str>, bool)> {
        self.slots.get(endpoint).map(|s| (&s.name, s.target.is_some()))
    }

    /// The index of the endpoint named "region/address".
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| &*s.name == name)
    }

    /// The endpoints (indexes) a target checks.
    pub fn endpoints_of_target(&self, target: usize) -> Vec<usize> {
        self.slots.iter().enumerate().filter(|(_, s)| s.target == Some(target)).map(|(i, _)| i).collect()
    }

    /// How many endpoints the table has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no endpoint.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Records a region event for each pool region whose servability differs from `before`.
    fn note_region_changes(&mut self, before: &[Vec<bool>], now: Instant) {
        let after = self.servable_regions();
        for (p, pool) in self.pools.iter().enumerate() {
            for (r, name) in pool.region_names.iter().enumerate() {
                if before[p][r] != after[p][r] {
                    let region_events = Arc::make_mut(&mut self.region_events);
                    if region_events.len() == REGION_EVENTS {
                        region_events.pop_front();
                    }
                    let (pool, region, servable) = (pool.name.clone(), name.clone(), after[p][r]);
                    region_events.push_back(RegionEvent { at: now, pool, region, servable });
                    self.region_events_total += 1;
                }
            }
        }
    }

    /// Notes when a pool's region becomes servable again after it could not serve, for
    /// `failback_delay`; `before` says which regions could serve before this result.
    fn track_recoveries(&mut self, before: &[Vec<bool>], now: Instant) {
        for (p, pool) in self.pools.iter_mut().enumerate() {
            if pool.failback_delay.is_zero() {
                continue;
            }
            for (r, range) in pool.regions.iter().enumerate() {
                if !before[p][r] && region_servable(&self.slots, range.clone()) {
                    pool.recovered_at[r] = Some(now);
                }
            }
        }
    }

    /// Automatic failovers and recoveries, oldest first.
    pub fn region_events(&self) -> impl DoubleEndedIterator<Item = &RegionEvent> {
        self.region_events.iter()
    }

    /// How many region events were ever recorded (more than are kept).
    pub fn region_events_total(&self) -> u64 {
        self.region_events_total
    }

    /// The "region/address" names of the endpoints a target checks.
    pub fn names_of_target(&self, target: usize) -> impl Iterator<Item = &str> {
        self.slots.iter().filter(move |s| s.target == Some(target)).map(|s| &*s.name)
    }

    /// Which of each pool's regions can serve now.
    fn servable_regions(&self) -> Vec<Vec<bool>> {
        self.pools.iter().map(|p| p.regions.iter().map(|r| region_servable(&self.slots, r.clone())).collect()).collect()
    }

    /// Per region of pool `pool` (index in the configuration), in pool order: the lowest RTT
    /// average among its endpoints that are not down, `None` where none is measured. Empty
    /// for a pool the table does not have.
    pub fn region_rtts(&self, pool: usize) -> Vec<Option<Duration>> {
        let Some(pool) = self.pools.get(pool) else { return Vec::new() };
        let fastest = |range: &std::ops::Range<usize>| {
            let up = self.slots[range.clone()].iter().filter(|s| s.effective() != Status::Down);
            up.filter_map(|s| s.rtt.ewma).min()
        };
        pool.regions.iter().map(fastest).collect()
    }

    /// The region a `latency` pool prefers now (index into its regions), if any.
    pub fn preferred_region(&self, pool: usize) -> Option<usize> {
        self.pools.get(pool).and_then(|p| p.preferred)
    }

    /// Records the region the latency policy chose for `pool`; a pool the table does not have
    /// is left alone.
    pub fn set_preferred_region(&mut self, pool: usize, region: Option<usize>) {
        if let Some(p) = self.pools.get_mut(pool) {
            p.preferred = region;
        }
    }

    /// Everything known of an endpoint, by its index (configuration order), for the API.
    pub fn endpoint(&self, endpoint: usize) -> Option<EndpointReport<'_>> {
        self.slots.get(endpoint).map(|s| EndpointReport {
            status: s.health.status(),
            since: s.health.since(),
            held_until: s.health.held_until(),
            manual: s.manual,
            target: s.target,
            history: &s.history,
            rtt: &s.rtt,
            votes: s.votes.as_deref(),
            load: s.load.as_ref(),
            load_error: s.load_error.as_deref(),
            load_config: s.load_config,
        })
    }

    /// The view queries read, as of `now`.
    pub fn view(&self, now: Instant) -> HealthView {
        let endpoints: Vec<EndpointView> = self
            .slots
            .iter()
            .map(|slot| match slot.manual {
                ManualState::Drain => EndpointView { servable: false, degraded: false, drained: true },
                ManualState::ForceUp => EndpointView { servable: true, degraded: false, drained: false },
                ManualState::Auto => EndpointView {
                    servable: slot.effective() != Status::Down,
                    degraded: slot.effective() == Status::Degraded,
                    drained: false,
                },
            })
            .collect();
        let regions_down: Vec<bool> = self
            .regions
            .iter()
            .map(|(range, min_healthy)| {
                let servable = endpoints[range.clone()].iter().filter(|e| e.servable).count();
                // A fraction of the region's endpoints; the epsilon keeps 0.28 x 25 at 7, not 8.
                let needed =
                    if *min_healthy < 1.0 { (min_healthy * range.len() as f64 - 1e-9).ceil() } else { *min_healthy };
                *min_healthy > 0.0 && (servable as f64) < needed
            })
            .collect();
        let short_ttl: Vec<bool> = self
            .pools
            .iter()
            .map(|pool| {
                // Endpoints under a manual state are what the operator wants; only checked ones count.
                let unhealthy = pool
                    .endpoints
                    .iter()
                    .any(|&i| self.slots[i].manual == ManualState::Auto && self.slots[i].effective() != Status::Up);
                let recent = pool.changed_at.is_some_and(|at| now < at + pool.hold);
                unhealthy || recent
            })
            .collect();
        let shed = self.shed_endpoints(&endpoints, &regions_down);
        let short_ttl = short_ttl
            .into_iter()
            .zip(&shed)
            .map(|(short, shed): (bool, &Vec<u32>)| short || !shed.is_empty())
            .collect();
        let loads = self.slots.iter().map(|s| load_report::current(s.load.as_ref(), now).map(|l| l as f32)).collect();
        let preferred = self.pools.iter().map(|p| p.preferred.map(|r| r as u8)).collect();
        // Weights as of the last whole second: the view moves at most once a second.
        let tick = ramp::tick_at(self.epoch, now);
        let weights = if self.slots.iter().any(|s| s.is_ramping(tick)) {
            let moving = |s: &Slot| (s.ramp.filter(|r| tick < r.end), s.slow.filter(|w| tick < w.end()));
            self.slots
                .iter()
                .map(|s| {
                    let (ramp, slow) = moving(s);
                    ramp::effective_milli(s.weight, ramp.as_ref(), slow.as_ref(), tick)
                })
                .collect()
        } else {
            Vec::new()
        };
        let held_back = self
            .pools
            .iter()
            .map(|p| {
                p.recovered_at.iter().enumerate().fold(0u32, |mask, (r, at)| match at {
                    Some(at) if now < *at + p.failback_delay && r < 32 => mask | 1 << r,
                    _ => mask,
                })
            })
            .collect();
        HealthView::new(endpoints, regions_down, short_ttl, preferred)
            .with_held_back(held_back)
            .with_weights(weights)
            .with_loads(loads, shed)
    }

    /// Per pool, the endpoints (health indexes, sorted) that leave its answers for their load:
    /// those shedding, but never the last servable endpoint of a family. When every servable
    /// endpoint of a family sheds, the least loaded of them stays (an overloaded answer beats
    /// none, and its load goes on being measured).
    fn shed_endpoints(&self, endpoints: &[EndpointView], regions_down: &[bool]) -> Vec<Vec<u32>> {
        let region_of = |i: usize| self.regions.iter().position(|(range, _)| range.contains(&i));
        let servable = |i: usize| {
            endpoints[i].servable && self.slots[i].weight > 0 && !region_of(i).is_some_and(|r| regions_down[r])
        };
        let load = |i: usize| self.slots[i].load.map_or(0.0, |l| l.smoothed);
        self.pools
            .iter()
            .map(|pool| {
                if !pool.shedding.iter().any(|s| *s) {
                    return Vec::new();
                }
                let mut shed: Vec<u32> = Vec::new();
                for v6 in [false, true] {
                    let family = || pool.endpoints.iter().enumerate().filter(move |(_, i)| self.slots[**i].v6 == v6);
                    let serving = family().filter(|(k, i)| servable(**i) && !pool.shedding[*k]).count();
                    let mut shedding: Vec<usize> =
                        family().filter(|(k, i)| servable(**i) && pool.shedding[*k]).map(|(_, i)| *i).collect();
                    if serving == 0 && !shedding.is_empty() {
                        // The last servable endpoint is never shed: keep the least loaded.
                        let keep = shedding.iter().enumerate().min_by(|a, b| load(*a.1).total_cmp(&load(*b.1)));
                        let keep = keep.map_or(0, |(k, _)| k);
                        shedding.remove(keep);
                    }
                    shed.extend(shedding.iter().map(|&i| i as u32));
                }
                shed.sort_unstable();
                shed
            })
            .collect()
    }

    /// When the view changes with no probe result: the end of a pool's short-TTL hold, of a
    /// region's failback delay or of a load report's max age, or the next second while a
    /// weight ramps.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let holds = self.pools.iter().filter_map(|p| p.changed_at.map(|at| at + p.hold));
        let failbacks =
            self.pools.iter().flat_map(|p| p.recovered_at.iter().flatten().map(move |at| *at + p.failback_delay));
        let expiries = self.slots.iter().filter_map(|s| s.load.map(|l| l.expires));
        let ramping = self.slots.iter().any(|s| s.is_ramping(ramp::tick_at(self.epoch, now)));
        let step = ramping.then(|| ramp::next_tick(self.epoch, now));
        holds.chain(failbacks).chain(expiries).filter(|&at| at > now).chain(step).min()
    }

    /// An endpoint's weight on the move at `now`, if it is: where it goes and by when, and
    /// what moves it (an API ramp, a slow start, or both).
    pub fn ramp_of(&self, endpoint: usize, now: Instant) -> Option<RampReport> {
        let slot = self.slots.get(endpoint)?;
        let ramp = slot.ramp.filter(|r| now < r.end);
        let slow_start = slot.slow.filter(|s| now < s.end() && slot.in_service());
        let until = ramp.map(|r| r.end).into_iter().chain(slow_start.map(|s| s.end())).max()?;
        Some(RampReport { to: slot.weight, until, ramp, slow_start })
    }
}

/// Whether any endpoint of a region can be served, by its manual state and status.
fn region_servable(slots: &[Slot], range: std::ops::Range<usize>) -> bool {
    slots[range].iter().any(|s| match s.manual {
        ManualState::Drain => false,
        ManualState::ForceUp => true,
        ManualState::Auto => s.effective() != Status::Down,
    })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod table_tests {
    use std::path::Path;

    use super::*;

    const CHECK: &str = "{ type = \"tcp\", address = \"127.0.0.1\", port = 9, interval = \"1s\", rise = 1, fall = 1 }";

    fn table(regions: &str, pool: &str) -> HealthTable {
        let toml = format!("zones_dir = \"z\"\n{regions}\n[[pool]]\nname = \"p.test.\"\n{pool}\n");
        HealthTable::new(&Config::from_toml(&toml, Path::new(""), "test").unwrap(), Instant::now())
    }

    #[test]
    fn endpoints_sharing_a_check_share_one_target() {
        let regions = format!(
            "[[region]]\nname = \"a\"\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.1\" }}, {{ address = \"192.0.2.2\" }} ]\n\
             [[region]]\nname = \"b\"\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.3\" }} ]\n"
        );
        let t = table(&regions, "policy = \"priority\"\nregions = [\"a\", \"b\"]");
        assert_eq!(t.targets().len(), 1, "one probe for three endpoints behind one health URL");
    }

    /// Region a: min_healthy 0.5 over two checked endpoints (each its own target) and one
    /// forced up; region b drained; a priority pool over both, with a 10 s short-TTL hold.
    fn manual_states_table() -> HealthTable {
        let regions = format!(
            "[[region]]\nname = \"a\"\nmin_healthy = 0.5\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.1\" }}, \
             {{ address = \"192.0.2.2\", check = {} }}, {{ address = \"192.0.2.3\", state = \"force_up\" }} ]\n\
             [[region]]\nname = \"b\"\nstate = \"drain\"\nendpoints = [ {{ address = \"192.0.2.4\" }} ]\n",
            CHECK.replace("port = 9", "port = 10")
        );
        table(&regions, "policy = \"priority\"\nregions = [\"a\", \"b\"]\nfailover_ttl_hold = \"10s\"")
    }

    /// Both checked endpoints of [`manual_states_table`]'s region a fail at `at`.
    fn fail_both_checked(t: &mut HealthTable, at: Instant) {
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", at);
        t.observe(1, Observation::Failed, Duration::ZERO, "refused", at);
    }

    #[test]
    fn a_forced_up_endpoint_stays_servable_and_a_drained_regions_endpoints_never_are() {
        let mut t = manual_states_table();
        let t0 = Instant::now();
        let view = t.view(t0);
        assert!(view.is_servable(0) && view.is_servable(1) && view.is_servable(2));
        assert!(!view.is_servable(3), "drained with its region");
        fail_both_checked(&mut t, t0);
        let view = t.view(t0);
        assert!(!view.is_servable(0) && !view.is_servable(1), "the checked endpoints are down");
        assert!(view.is_servable(2), "forced up: checks ignored");
    }

    #[test]
    fn a_region_with_fewer_servable_endpoints_than_min_healthy_is_down_until_they_return() {
        let mut t = manual_states_table();
        let t0 = Instant::now();
        assert!(!t.view(t0).is_region_down(0));
        // 1 of 3 servable is below half.
        fail_both_checked(&mut t, t0);
        assert!(t.view(t0).is_region_down(0));
        t.observe(0, Observation::Ok, Duration::from_millis(3), "connected", t0 + Duration::from_secs(1));
        assert!(!t.view(t0 + Duration::from_secs(2)).is_region_down(0), "2 of 3 again");
    }

    #[test]
    fn ttls_are_short_while_an_endpoint_is_down_and_for_failover_ttl_hold_after_the_last_change() {
        let mut t = manual_states_table();
        let t0 = Instant::now();
        assert!(!t.view(t0).is_short_ttl(0));
        fail_both_checked(&mut t, t0);
        assert!(t.view(t0).is_short_ttl(0), "an endpoint is down");
        t.observe(0, Observation::Ok, Duration::from_millis(3), "connected", t0 + Duration::from_secs(1));
        t.observe(1, Observation::Ok, Duration::from_millis(3), "connected", t0 + Duration::from_secs(1));
        assert!(t.view(t0 + Duration::from_secs(2)).is_short_ttl(0), "within failover_ttl_hold of the change");
        assert!(!t.view(t0 + Duration::from_secs(12)).is_short_ttl(0), "the hold is over");
        assert_eq!(t.next_change(t0 + Duration::from_secs(2)), Some(t0 + Duration::from_secs(11)));
    }

    #[test]
    fn an_endpoints_report_holds_its_transitions_and_last_rtt() {
        let mut t = manual_states_table();
        let t0 = Instant::now();
        fail_both_checked(&mut t, t0);
        t.observe(0, Observation::Ok, Duration::from_millis(3), "connected", t0 + Duration::from_secs(1));
        let report = t.endpoint(0).unwrap();
        assert_eq!(report.history.events().map(|e| e.detail.as_str()).collect::<Vec<_>>(), ["refused", "connected"]);
        assert_eq!(report.rtt.last, Some(Duration::from_millis(3)));
    }

    #[test]
    fn a_recovered_region_waits_out_the_failback_delay() {
        let regions = format!(
            "[[region]]\nname = \"primary\"\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             [[region]]\nname = \"backup\"\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n"
        );
        let mut t =
            table(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]\nfailback_delay = \"30s\"");
        let t0 = Instant::now();
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", t0);
        assert!(!t.view(t0).is_held_back(0, 0));
        t.observe(0, Observation::Ok, Duration::ZERO, "connected", t0 + Duration::from_secs(5));
        assert!(t.view(t0 + Duration::from_secs(6)).is_held_back(0, 0), "up again, but within the delay");
        assert!(!t.view(t0 + Duration::from_secs(36)).is_held_back(0, 0), "the delay is over");
        assert_eq!(t.next_change(t0 + Duration::from_secs(20)), Some(t0 + Duration::from_secs(35)));
    }

    #[test]
    fn a_rebuilt_table_keeps_failback_delays_holds_and_region_events() {
        let regions = format!(
            "[[region]]\nname = \"primary\"\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
             [[region]]\nname = \"backup\"\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n"
        );
        let pool = "policy = \"priority\"\nregions = [\"primary\", \"backup\"]\nfailback_delay = \"30s\"\nfailover_ttl_hold = \"60s\"";
        let mut t = table(&regions, pool);
        let t0 = Instant::now();
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", t0);
        t.observe(0, Observation::Ok, Duration::ZERO, "connected", t0 + Duration::from_secs(5));
        // A rebuild (an API change, a reload) with a region added in front.
        let more = format!("[[region]]\nname = \"new\"\nendpoints = [ {{ address = \"192.0.2.7\" }} ]\n{regions}");
        let mut rebuilt = table(&more, pool);
        rebuilt.carry_over(&t);
        let view = rebuilt.view(t0 + Duration::from_secs(6));
        assert!(view.is_held_back(0, 0), "primary is still within its failback delay");
        assert!(view.is_short_ttl(0), "still within the failover TTL hold");
        let events: Vec<bool> = rebuilt.region_events().map(|e| e.servable).collect();
        assert_eq!(events, [false, true], "primary failed over, then recovered");
        assert_eq!(rebuilt.region_events_total(), 2);
    }

    #[test]
    fn a_region_that_kept_serving_is_not_held_back() {
        let regions = format!(
            "[[region]]\nname = \"primary\"\ncheck = {CHECK}\nendpoints = [ {{ address = \"192.0.2.1\" }}, \
             {{ address = \"192.0.2.9\", check = {} }} ]\n[[region]]\nname = \"backup\"\nendpoints = [ {{ address = \"192.0.2.2\" }} ]\n",
            CHECK.replace("port = 9", "port = 10")
        );
        let mut t =
            table(&regions, "policy = \"priority\"\nregions = [\"primary\", \"backup\"]\nfailback_delay = \"30s\"");
        let t0 = Instant::now();
        // One of primary's two endpoints goes down and comes back; the other never left.
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", t0);
        t.observe(0, Observation::Ok, Duration::ZERO, "connected", t0 + Duration::from_secs(1));
        assert!(!t.view(t0 + Duration::from_secs(2)).is_held_back(0, 0));
    }

    /// Two checked endpoints of weight 10 (each its own target) with a 10 s slow start, in a
    /// weighted pool with no short-TTL hold; its ramps tick from `t0`.
    fn slow_start_table(t0: Instant) -> HealthTable {
        let other = CHECK.replace("port = 9", "port = 10");
        let regions = format!(
            "[[region]]\nname = \"a\"\nslow_start = \"10s\"\nendpoints = [ {{ address = \"192.0.2.1\", weight = 10, \
             check = {CHECK} }}, {{ address = \"192.0.2.2\", weight = 10, check = {other} }} ]\n"
        );
        let mut t = table(&regions, "policy = \"weighted\"\nregions = [\"a\"]\nfailover_ttl_hold = \"0s\"");
        t.start_ramps(None, t0, 0);
        t
    }

    #[test]
    fn an_endpoint_back_up_slow_starts_from_a_tenth_of_its_weight() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut t = slow_start_table(t0);
        assert_eq!(t.view(t0).weight_milli(0, 10), 10_000, "the first table: no slow start");
        assert_eq!(t.next_change(t0), None, "nothing moves: no wakeups");
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", at(0));
        t.observe(0, Observation::Ok, Duration::ZERO, "connected", at(1_000));
        let weights = |ms| (t.view(at(ms)).weight_milli(0, 10), t.view(at(ms)).weight_milli(1, 10));
        assert_eq!(weights(1_000), (1_000, 10_000), "back: a tenth of 10");
        assert_eq!(weights(6_000), (5_500, 10_000), "halfway: 0.1 + 0.9 x 0.5 of it");
        assert_eq!(weights(6_900), (5_500, 10_000), "weights step on whole seconds");
        assert_eq!(weights(11_000), (10_000, 10_000), "done");
        assert_eq!(t.next_change(at(6_400)), Some(at(7_000)), "the next second while it moves");
        assert_eq!(t.next_change(at(11_000)), None, "and no wakeups once it is done");
        let report = t.ramp_of(0, at(3_000)).unwrap();
        assert_eq!((report.to, report.until, report.ramp), (10, at(11_000), None));
        assert_eq!(t.ramp_of(1, at(3_000)), None);
        // A success of an endpoint that was never down is no return.
        t.observe(1, Observation::Ok, Duration::ZERO, "connected", at(12_000));
        assert_eq!(t.ramp_of(1, at(12_000)), None, "it never left");
    }

    #[test]
    fn an_undrained_or_added_endpoint_slow_starts_and_one_that_stayed_goes_on_as_it_was() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let region = |first: &str, more: &str| {
            format!(
                "[[region]]\nname = \"a\"\nslow_start = \"10s\"\nendpoints = [ {{ address = \"192.0.2.1\"{first} }}, \
                 {{ address = \"192.0.2.2\" }}{more} ]\n"
            )
        };
        let pool = "policy = \"weighted\"\nregions = [\"a\"]";
        let mut old = table(&region(", state = \"drain\"", ""), pool);
        old.start_ramps(None, t0, 0);
        let added = region("", ", { address = \"192.0.2.3\" }");
        let mut new = table(&added, pool);
        new.carry_over(&old);
        new.start_ramps(Some(&old), at(2_000), 2_000);
        let view = new.view(at(2_000));
        assert_eq!(view.weight_milli(0, 1), 100, "undrained: a tenth");
        assert_eq!(view.weight_milli(1, 1), 1_000, "in service all along");
        assert_eq!(view.weight_milli(2, 1), 100, "added");
        // A later change that keeps them carries the slow starts on.
        let mut again = table(&added, pool);
        again.carry_over(&new);
        again.start_ramps(Some(&new), at(7_000), 7_000);
        assert_eq!(again.view(at(7_000)).weight_milli(0, 1), 550, "5 s of 10 s in");
    }

    #[test]
    fn an_endpoint_undrained_during_a_weight_ramp_slow_starts_on_the_ramped_weight() {
        let t0 = Instant::now();
        let toml = |state: &str| {
            format!(
                "zones_dir = \"z\"\n[[region]]\nname = \"a\"\nslow_start = \"10s\"\nendpoints = [ {{ address = \"192.0.2.1\", \
                 weight = 10{state} }} ]\n[[pool]]\nname = \"p.test.\"\npolicy = \"weighted\"\nregions = [\"a\"]\n"
            )
        };
        let ramped = |state: &str| {
            let mut config = Config::from_toml(&toml(state), Path::new(""), "test").unwrap();
            config.regions[0].endpoints[0].ramp = Some(WeightRamp { from: 2.0, started_ms: 10_000, until_ms: 30_000 });
            config
        };
        let mut drained = HealthTable::new(&ramped(", state = \"drain\""), t0);
        drained.start_ramps(None, t0, 10_000);
        let mut back = HealthTable::new(&ramped(""), t0);
        back.carry_over(&drained);
        back.start_ramps(Some(&drained), t0, 10_000);
        assert_eq!(back.view(t0).weight_milli(0, 10), 200, "a tenth of the ramp's 2");
        assert!(back.ramp_of(0, t0).unwrap().slow_start.is_some(), "the slow start is shown");
    }

    #[test]
    fn an_api_ramp_continues_from_the_wall_clock_and_a_slow_start_multiplies_it() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let toml = format!(
            "zones_dir = \"z\"\n[[region]]\nname = \"a\"\nslow_start = \"10s\"\nendpoints = [ {{ address = \"192.0.2.1\", \
             weight = 10, check = {CHECK} }} ]\n[[pool]]\nname = \"p.test.\"\npolicy = \"weighted\"\nregions = [\"a\"]\n"
        );
        let mut config = Config::from_toml(&toml, Path::new(""), "test").unwrap();
        config.regions[0].endpoints[0].ramp = Some(WeightRamp { from: 2.0, started_ms: 10_000, until_ms: 20_000 });
        let mut t = HealthTable::new(&config, t0);
        // A restart 5 s into the ramp: it goes on from 6, not from 2.
        t.start_ramps(None, t0, 15_000);
        assert_eq!(t.view(t0).weight_milli(0, 10), 6_000);
        assert_eq!(t.view(at(5_000)).weight_milli(0, 10), 10_000);
        let report = t.ramp_of(0, t0).unwrap();
        assert_eq!((report.until, report.ramp.map(|r| r.from)), (at(5_000), Some(2.0)));
        // Down and back up 1 s later: the slow start's share of the ramped weight.
        t.observe(0, Observation::Failed, Duration::ZERO, "refused", t0);
        t.observe(0, Observation::Ok, Duration::ZERO, "connected", at(1_000));
        assert_eq!(t.view(at(1_000)).weight_milli(0, 10), 680, "a tenth of 6.8");
        assert_eq!(t.ramp_of(0, at(1_000)).unwrap().until, at(11_000), "the later of the two ends");
        // A ramp whose end passed is simply the weight.
        let mut later = HealthTable::new(&config, t0);
        later.start_ramps(None, t0, 25_000);
        assert_eq!(later.view(t0).weight_milli(0, 10), 10_000);
        assert_eq!(later.next_change(t0), None);
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // one real instant as a base for made-up ones
mod load_tests {
    use std::path::Path;

    use super::*;

    /// One region of three IPv4 endpoints and one IPv6, a pool shedding above 0.9 until below
    /// 0.75, with loads kept 60 s.
    fn table() -> HealthTable {
        let toml = "zones_dir = \"z\"\n[[region]]\nname = \"a\"\nload = { max_age = \"60s\", smoothing = 0 }\n\
                    endpoints = [ { address = \"192.0.2.1\" }, { address = \"192.0.2.2\" }, { address = \"192.0.2.3\" }, \
                    { address = \"2001:db8::1\" } ]\n\
                    [[pool]]\nname = \"p.test.\"\npolicy = \"weighted\"\nregions = [\"a\"]\nshed = { high = 0.9, low = 0.75 }\n";
        HealthTable::new(&Config::from_toml(toml, Path::new(""), "test").unwrap(), Instant::now())
    }

    #[test]
    fn an_endpoint_over_high_is_shed_until_under_low_and_the_ttl_is_short_meanwhile() {
        let (mut t, t0) = (table(), Instant::now());
        let at = |s| t0 + Duration::from_secs(s);
        t.observe_load(0, 0.95, LoadFrom::Push, at(1));
        let view = t.view(at(1));
        assert!(view.is_shed(0, 0) && !view.is_shed(0, 1), "over high");
        assert!(view.is_short_ttl(0), "the failover TTL while anything sheds");
        t.observe_load(0, 0.8, LoadFrom::Push, at(2));
        assert!(t.view(at(2)).is_shed(0, 0), "between low and high: still shed");
        let (_, changes) = t.observe_load(0, 0.7, LoadFrom::Push, at(3));
        assert!(!t.view(at(3)).is_shed(0, 0), "under low: back");
        assert_eq!(changes.len(), 1);
        assert!(!changes[0].shedding);
    }

    #[test]
    fn the_last_servable_endpoint_of_a_family_is_never_shed() {
        let (mut t, t0) = (table(), Instant::now());
        for (endpoint, load) in [(0, 0.99), (1, 0.95), (2, 0.97), (3, 0.99)] {
            t.observe_load(endpoint, load, LoadFrom::Push, t0);
        }
        let view = t.view(t0);
        let shed: Vec<bool> = (0..4).map(|i| view.is_shed(0, i)).collect();
        assert_eq!(shed, [true, false, true, false], "the least loaded IPv4 one stays, and the only IPv6 one");
    }

    #[test]
    fn a_shed_endpoints_report_that_ages_out_returns_it_and_the_view_changes_then() {
        let (mut t, t0) = (table(), Instant::now());
        t.observe_load(0, 0.95, LoadFrom::Push, t0);
        assert_eq!(t.next_change(t0), Some(t0 + Duration::from_secs(60)), "the report's max age");
        let later = t0 + Duration::from_secs(60);
        assert_eq!(t.expired_loads(t0, later), [0]);
        t.update_shedding(later);
        let view = t.view(later);
        assert!(!view.is_shed(0, 0) && view.load(0).is_none(), "no load known: it serves");
    }

    #[test]
    fn a_probe_reading_is_divided_by_capacity() {
        let toml = "zones_dir = \"z\"\n[[region]]\nname = \"a\"\n\
                    check = { type = \"http\", address = \"127.0.0.1\", port = 9, interval = \"1s\" }\n\
                    load = { json = \"/connections\", capacity = 1000, smoothing = 0 }\n\
                    endpoints = [ { address = \"192.0.2.1\" } ]\n\
                    [[pool]]\nname = \"p.test.\"\npolicy = \"least_loaded\"\nregions = [\"a\"]\n";
        let mut t = HealthTable::new(&Config::from_toml(toml, Path::new(""), "test").unwrap(), Instant::now());
        let t0 = Instant::now();
        assert_eq!(t.observe_load(0, 730.0, LoadFrom::Probe, t0).0, 0.73);
        assert_eq!(t.observe_load(0, 0.5, LoadFrom::Push, t0).0, 0.5, "a push is a fraction already");
        assert_eq!(t.endpoint(0).unwrap().load_config.max_age, Duration::from_secs(3), "3 × the check interval");
    }
}
