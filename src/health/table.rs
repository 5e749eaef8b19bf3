//! The health of every endpoint, as the writer keeps it: pure, with time passed in. It maps
//! probe targets to endpoints, applies results, and builds the [`HealthView`] queries read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::state::{EndpointHealth, Observation, Status, Thresholds, Transition};
use crate::config::{CheckConfig, Config, ManualState};
use crate::steering::{EndpointView, HealthView};

/// What one probe task checks: a check and the address it goes to. Endpoints that share
/// both share the target, so each is probed once (PowerDNS issue 8261).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub check: CheckConfig,
    pub address: IpAddr,
}

#[derive(Debug, Clone)]
struct Slot {
    target: Option<usize>,
    manual: ManualState,
    health: EndpointHealth,
    thresholds: Thresholds,
    /// "region/address", for logs.
    name: String,
}

#[derive(Debug, Clone)]
struct PoolSlots {
    endpoints: Vec<usize>,
    hold: Duration,
    changed_at: Option<Instant>,
}

/// Every endpoint's health, in configuration order (the health indexes of the steering).
#[derive(Debug, Clone)]
pub struct HealthTable {
    slots: Vec<Slot>,
    /// Per region: its endpoints and `min_healthy`.
    regions: Vec<(std::ops::Range<usize>, f64)>,
    pools: Vec<PoolSlots>,
    targets: Vec<Target>,
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
                    let target = Target {
                        check: check.clone(),
                        address: check.address.unwrap_or(endpoint.address),
                    };
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
                    name: format!("{}/{}", region.name, endpoint.address),
                });
            }
            regions.push((first..slots.len(), region.min_healthy));
        }
        let pools = config
            .pools
            .iter()
            .map(|pool| PoolSlots {
                endpoints: pool.regions.iter().flat_map(|&r| regions[r].0.clone()).collect(),
                hold: pool.failover_ttl_hold,
                changed_at: None,
            })
            .collect();
        Self {
            slots,
            regions,
            pools,
            targets,
        }
    }

    /// The distinct probe targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Applies one probe result of `target` to every endpoint it checks.
    pub fn observe(&mut self, target: usize, seen: Observation, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.target != Some(target) {
                continue;
            }
            if let Some(transition) = slot.health.observe(seen, now, slot.thresholds) {
                changes.push((
                    i,
                    Change {
                        endpoint: slot.name.clone(),
                        transition,
                    },
                ));
            }
        }
        for pool in &mut self.pools {
            if changes.iter().any(|(i, _)| pool.endpoints.contains(i)) {
                pool.changed_at = Some(now);
            }
        }
        changes.into_iter().map(|(_, c)| c).collect()
    }

    /// The view queries read, as of `now`.
    pub fn view(&self, now: Instant) -> HealthView {
        let endpoints: Vec<EndpointView> = self
            .slots
            .iter()
            .map(|slot| match slot.manual {
                ManualState::Drain => EndpointView {
                    servable: false,
                    degraded: false,
                },
                ManualState::ForceUp => EndpointView {
                    servable: true,
                    degraded: false,
                },
                ManualState::Auto => EndpointView {
                    servable: slot.health.status() != Status::Down,
                    degraded: slot.health.status() == Status::Degraded,
                },
            })
            .collect();
        let regions_down = self
            .regions
            .iter()
            .map(|(range, min_healthy)| {
                let servable = endpoints[range.clone()].iter().filter(|e| e.servable).count();
                let needed = if *min_healthy < 1.0 {
                    (min_healthy * range.len() as f64).ceil()
                } else {
                    *min_healthy
                };
                *min_healthy > 0.0 && (servable as f64) < needed
            })
            .collect();
        let short_ttl = self
            .pools
            .iter()
            .map(|pool| {
                let unhealthy = pool
                    .endpoints
                    .iter()
                    .any(|&i| self.slots[i].health.status() != Status::Up);
                let recent = pool.changed_at.is_some_and(|at| now < at + pool.hold);
                unhealthy || recent
            })
            .collect();
        HealthView::new(endpoints, regions_down, short_ttl)
    }

    /// When the view changes with no probe result: the end of a pool's short-TTL hold.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        self.pools
            .iter()
            .filter_map(|p| p.changed_at.map(|at| at + p.hold))
            .filter(|&at| at > now)
            .min()
    }
}
