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
use super::quorum::Verdict;
use super::state::{EndpointHealth, Observation, Status, Thresholds, Transition};
use super::view::{EndpointView, HealthView};
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
            })
            .collect();
        let targets = targets.into();
        Self { slots, regions, pools, targets, region_events: Arc::default(), region_events_total: 0 }
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
            if let Some(transition) = slot.health.observe(seen, now, slot.thresholds) {
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
        let was = slot.effective();
        let before = self.servable_regions();
        self.slots[endpoint].votes = Some(Arc::new(VoteSummary { verdict, since }));
        let changed = self.slots[endpoint].effective() != was;
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
        let regions_down = self
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
        let short_ttl = self
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
        let preferred = self.pools.iter().map(|p| p.preferred.map(|r| r as u8)).collect();
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
        HealthView::new(endpoints, regions_down, short_ttl, preferred).with_held_back(held_back)
    }

    /// When the view changes with no probe result: the end of a pool's short-TTL hold or of a
    /// region's failback delay.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let holds = self.pools.iter().filter_map(|p| p.changed_at.map(|at| at + p.hold));
        let failbacks =
            self.pools.iter().flat_map(|p| p.recovered_at.iter().flatten().map(move |at| *at + p.failback_delay));
        holds.chain(failbacks).filter(|&at| at > now).min()
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
}
