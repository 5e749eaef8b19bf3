//! Endpoints registered into regions, and taken out of them, through the API: overlay entries
//! laid over the file with the rest, so an endpoint put through the API gets exactly the checks
//! an endpoint of a `[[region]]` table gets. A registration may carry a lease (`ttl`); the
//! expiry itself is the writer's, kept in memory (`control`). Pure.

use std::time::Duration;

use super::{AddedEndpoint, Overlay, Refusal, RemovedEndpoint, same_address, same_endpoint};
use crate::config::Problem;
use crate::config::file::{FileConfig, FileDuration, FileEndpoint};
use crate::config::names::shown;
use crate::config::stamp::Stamp;

/// The shortest lease: a heartbeat a second is as often as anyone should renew.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// The longest lease: past a day, an instance that died unannounced lingers too long.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// One endpoint as a registration sends it: the endpoint's fields, and its lease if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub endpoint: FileEndpoint,
    pub ttl: Option<FileDuration>,
}

/// A lease's TTL as written, checked: 1 s to 24 h.
///
/// # Errors
/// Not a duration, or outside the range; the message says which.
pub fn lease_ttl(ttl: &FileDuration) -> Result<Duration, String> {
    let mut problems = Vec::new();
    let parsed = crate::config::health::duration(ttl, "ttl", &mut problems);
    match parsed {
        Some(d) if (MIN_LEASE..=MAX_LEASE).contains(&d) => Ok(d),
        Some(_) => Err(format!("{ttl} is outside the range 1s to 24h a lease may have")),
        None => Err(problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join("; ")),
    }
}

impl Overlay {
    /// Lays the endpoints taken out and registered over `file` (after the regions added and
    /// removed, before weights and drains). A region left without endpoints this way is
    /// marked `emptied`: down, not invalid.
    pub(super) fn apply_endpoints(&self, file: &mut FileConfig, skipped: &mut Vec<Problem>) {
        for removed in &self.endpoints_removed {
            let region = file.region.iter_mut().find(|r| r.name == removed.region);
            let Some(region) = region else {
                skipped.push(no_region("state.endpoints_removed", &removed.region));
                continue;
            };
            match region.endpoints.iter().position(|e| same_endpoint(&e.address, &removed.address)) {
                Some(i) => {
                    region.endpoints.remove(i);
                    region.emptied |= region.endpoints.is_empty();
                }
                None => skipped.push(Problem::new(
                    "state.endpoints_removed",
                    format!("region {} no longer has endpoint {}", shown(&removed.region), shown(&removed.address)),
                )),
            }
        }
        for added in &self.endpoints_added {
            let Some(region) = file.region.iter_mut().find(|r| r.name == added.region) else {
                skipped.push(no_region("state.endpoints_added", &added.region));
                continue;
            };
            match region.endpoints.iter().position(|e| same_endpoint(&e.address, &added.endpoint.address)) {
                Some(i) => region.endpoints[i] = added.endpoint.clone(),
                None => region.endpoints.push(added.endpoint.clone()),
            }
        }
    }

    /// Registers endpoints into a region, each replacing the region's endpoint of the same
    /// address (with the weight or drain set on it before). `bulk`: the refusals name
    /// `endpoints[k].field`, else `field`.
    ///
    /// # Errors
    /// No such region, no endpoint, an address twice, or a lease out of range.
    pub fn put_endpoints(
        &mut self,
        file: &FileConfig,
        region: &str,
        items: Vec<Registration>,
        bulk: bool,
    ) -> Result<(), Refusal> {
        if !self.merged(file).region.iter().any(|r| r.name == region) {
            return Err(Refusal::not_found("region", format!("no region {}", shown(region))));
        }
        if items.is_empty() {
            return Err(Refusal::invalid("endpoints", "no endpoint to register: send a list of one or more".into()));
        }
        let field = |k: usize, name: &str| if bulk { format!("endpoints[{k}].{name}") } else { name.to_owned() };
        for (k, item) in items.iter().enumerate() {
            if let Some(ttl) = &item.ttl {
                lease_ttl(ttl).map_err(|message| Refusal::invalid(&field(k, "ttl"), message))?;
            }
            if let Some(first) = items[..k].iter().position(|e| same_endpoint(&e.endpoint.address, &item.endpoint.address))
            {
                let message = format!("{} is also endpoints[{first}]: a list registers an address once", shown(&item.endpoint.address));
                return Err(Refusal::invalid(&field(k, "address"), message));
            }
        }
        for Registration { endpoint, ttl } in items {
            self.forget_endpoint(region, &endpoint.address);
            self.endpoints_added.push(AddedEndpoint { region: region.into(), endpoint, ttl, stamp: Stamp::default() });
        }
        Ok(())
    }

    /// Takes an endpoint out of its region. The last endpoint of a region a pool lists is
    /// taken out only when `force`d: the region is then down and its clients fail over.
    ///
    /// # Errors
    /// No such region or endpoint, or the last endpoint of a region a pool lists, unforced.
    pub fn remove_endpoint(&mut self, file: &FileConfig, region: &str, address: &str, force: bool) -> Result<(), Refusal> {
        let merged = self.merged(file);
        let Some(r) = merged.region.iter().find(|r| r.name == region) else {
            return Err(Refusal::not_found("region", format!("no region {}", shown(region))));
        };
        if !r.endpoints.iter().any(|e| same_endpoint(&e.address, address)) {
            let message = format!("region {} has no endpoint {}", shown(region), shown(address));
            return Err(Refusal::not_found("endpoint", message));
        }
        let pool = merged.pool.iter().find(|p| p.regions.iter().any(|n| n == region));
        if let (1, Some(pool), false) = (r.endpoints.len(), pool, force) {
            let message = format!(
                "{} is the last endpoint of region {}, which pool {} lists: without it the region is down and its \
                 clients fail over; send force=true to remove it all the same",
                shown(address),
                shown(region),
                shown(&pool.name)
            );
            return Err(Refusal::conflict("endpoint", message));
        }
        self.forget_endpoint(region, address);
        // What the file (or a region added) lists is kept out by a removal; an endpoint this
        // overlay registered is gone with its entry.
        let underneath = self.merged(file);
        let listed = underneath
            .region
            .iter()
            .find(|r| r.name == region)
            .and_then(|r| r.endpoints.iter().find(|e| same_endpoint(&e.address, address)));
        if let Some(listed) = listed {
            let address = listed.address.clone();
            self.endpoints_removed.push(RemovedEndpoint { region: region.into(), address, stamp: Stamp::default() });
        }
        Ok(())
    }

    /// The registration of `address` in `region`, if the API registered it.
    pub fn registration(&self, region: &str, address: &str) -> Option<&AddedEndpoint> {
        self.endpoints_added.iter().find(|e| e.region == region && same_endpoint(&e.endpoint.address, address))
    }

    /// Drops every change made to one endpoint: a registration replaces it whole.
    fn forget_endpoint(&mut self, region: &str, address: &str) {
        let here = |r: &str, a: &str| r == region && same_endpoint(a, address);
        self.endpoints_added.retain(|e| !here(&e.region, &e.endpoint.address));
        self.endpoints_removed.retain(|e| !here(&e.region, &e.address));
        self.weights.retain(|w| !(w.region == region && same_address(address, w.endpoint)));
        self.endpoint_states.retain(|s| !(s.region == region && same_address(address, s.endpoint)));
    }
}

fn no_region(at: &str, region: &str) -> Problem {
    Problem::new(at, format!("no region {}", shown(region)))
}
