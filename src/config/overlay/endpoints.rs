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

/// What an endpoint is known by in the overlay, the API and the leases: its address, or a
/// name endpoint's name (a region's endpoints are all one or all the other).
pub fn target_of(e: &FileEndpoint) -> &str {
    match (&e.name, e.address.is_empty()) {
        (Some(name), true) => name,
        _ => &e.address,
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
            match region.endpoints.iter().position(|e| same_endpoint(target_of(e), &removed.address)) {
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
            match region.endpoints.iter().position(|e| same_endpoint(target_of(e), target_of(&added.endpoint))) {
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
            if let Some(first) =
                items[..k].iter().position(|e| same_endpoint(target_of(&e.endpoint), target_of(&item.endpoint)))
            {
                let message = format!(
                    "{} is also endpoints[{first}]: a list registers an endpoint once",
                    shown(target_of(&item.endpoint))
                );
                let at = if item.endpoint.address.is_empty() { "name" } else { "address" };
                return Err(Refusal::invalid(&field(k, at), message));
            }
        }
        for Registration { endpoint, ttl } in items {
            self.forget_endpoint(region, target_of(&endpoint));
            self.endpoints_added.push(AddedEndpoint { region: region.into(), endpoint, ttl, stamp: Stamp::default() });
        }
        Ok(())
    }

    /// Takes an endpoint out of its region. The last endpoint of a region a pool lists is
    /// taken out only when `force`d: the region is then down and its clients fail over.
    ///
    /// # Errors
    /// No such region or endpoint, or the last endpoint of a region a pool lists, unforced.
    pub fn remove_endpoint(
        &mut self,
        file: &FileConfig,
        region: &str,
        address: &str,
        force: bool,
    ) -> Result<(), Refusal> {
        let merged = self.merged(file);
        let Some(r) = merged.region.iter().find(|r| r.name == region) else {
            return Err(Refusal::not_found("region", format!("no region {}", shown(region))));
        };
        if !r.endpoints.iter().any(|e| same_endpoint(target_of(e), address)) {
            let message = format!("region {} has no endpoint {}", shown(region), shown(address));
            return Err(Refusal::not_found("endpoint", message));
        }
        let pool = merged.pool.iter().find(|p| p.regions.iter().any(|n| n == region));
        if let (1, Some(pool), false) = (r.endpoints.len(), pool, force) {
            let message = format!(
                "{} is the last endpoint of region {}, which pool {} lists: without it the region is down and its \
                 clients fail over; send ?force=true (ctl endpoint remove --force) to remove it all the same",
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
            .and_then(|r| r.endpoints.iter().find(|e| same_endpoint(target_of(e), address)));
        if let Some(listed) = listed {
            let address = target_of(listed).to_owned();
            self.endpoints_removed.push(RemovedEndpoint { region: region.into(), address, stamp: Stamp::default() });
        }
        Ok(())
    }

    /// The registration of `target` (an address, or a name endpoint's name) in `region`, if
    /// the API registered it.
    pub fn registration(&self, region: &str, target: &str) -> Option<&AddedEndpoint> {
        self.endpoints_added.iter().find(|e| e.region == region && same_endpoint(target_of(&e.endpoint), target))
    }

    /// Whether `target` is an endpoint of `region` underneath the API's registrations: one of
    /// the file, or of a region added whole (registered over since, or not). A
    /// registration-scoped token may not touch it.
    pub fn is_configured_endpoint(&self, file: &FileConfig, region: &str, target: &str) -> bool {
        let mut underneath = self.clone();
        underneath.endpoints_added.retain(|e| !(e.region == region && same_endpoint(target_of(&e.endpoint), target)));
        underneath.endpoints_removed.retain(|e| !(e.region == region && same_endpoint(&e.address, target)));
        underneath
            .merged(file)
            .region
            .iter()
            .find(|r| r.name == region)
            .is_some_and(|r| r.endpoints.iter().any(|e| same_endpoint(target_of(e), target)))
    }

    /// Drops every change made to one endpoint: a registration replaces it whole.
    fn forget_endpoint(&mut self, region: &str, address: &str) {
        let here = |r: &str, a: &str| r == region && same_endpoint(a, address);
        self.endpoints_added.retain(|e| !here(&e.region, target_of(&e.endpoint)));
        self.endpoints_removed.retain(|e| !here(&e.region, &e.address));
        self.weights.retain(|w| !(w.region == region && same_address(address, w.endpoint)));
        self.endpoint_states.retain(|s| !(s.region == region && same_address(address, s.endpoint)));
    }
}

fn no_region(at: &str, region: &str) -> Problem {
    Problem::new(at, format!("no region {}", shown(region)))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Source;

    const TOML: &str = r#"
        zones_dir = "zones"
        [[region]]
        name = "a"
        endpoints = [ { address = "192.0.2.1" }, { address = "192.0.2.2", weight = 5 } ]
        [[region]]
        name = "b"
        endpoints = [ { address = "198.51.100.1" } ]
        [[pool]]
        name = "www.example.com."
        policy = "weighted"
        regions = ["a"]
    "#;

    fn source() -> Source {
        Source::from_toml(TOML, Path::new(""), "test").unwrap()
    }

    fn item(address: &str, weight: Option<i64>, ttl: Option<&str>) -> Registration {
        let endpoint = serde_json::from_value(serde_json::json!({ "address": address, "weight": weight })).unwrap();
        Registration { endpoint, ttl: ttl.map(|t| FileDuration::Text(t.into())) }
    }

    fn addresses(source: &Source, overlay: &Overlay, region: usize) -> Vec<String> {
        let (config, skipped) = source.validate_with(overlay).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        config.regions[region].endpoints.iter().map(|e| format!("{}*{}", e.address, e.weight)).collect()
    }

    #[test]
    fn a_registration_adds_or_replaces_and_a_removal_takes_out() {
        let source = source();
        let file = &source.file;
        let mut overlay = Overlay::default();
        overlay.set_weight(file, "a", "192.0.2.2".parse().unwrap(), 9).unwrap();
        overlay
            .put_endpoints(
                file,
                "a",
                vec![item("192.0.2.2", Some(3), None), item("192.0.2.3", None, Some("30s"))],
                true,
            )
            .unwrap();
        assert!(overlay.weights.is_empty(), "a registration replaces the endpoint whole, weight set by hand and all");
        assert_eq!(addresses(&source, &overlay, 0), ["192.0.2.1*1", "192.0.2.2*3", "192.0.2.3*1"]);
        assert_eq!(
            overlay.registration("a", "192.0.2.3").and_then(|r| r.ttl.clone()),
            Some(FileDuration::Text("30s".into()))
        );

        overlay.remove_endpoint(file, "a", "192.0.2.3", false).unwrap();
        assert!(overlay.endpoints_removed.is_empty(), "a registered endpoint goes with its entry");
        overlay.remove_endpoint(file, "a", "192.0.2.2", false).unwrap();
        assert_eq!(overlay.endpoints_removed.len(), 1, "the file's endpoint is kept out by a removal");
        assert_eq!(addresses(&source, &overlay, 0), ["192.0.2.1*1"]);
        let text = serde_json::to_string(&overlay).unwrap();
        assert_eq!(serde_json::from_str::<Overlay>(&text).unwrap(), overlay);
    }

    #[test]
    fn the_last_endpoint_of_a_listed_region_goes_only_when_forced_and_leaves_it_empty_not_invalid() {
        let source = source();
        let file = &source.file;
        let mut overlay = Overlay::default();
        overlay.remove_endpoint(file, "a", "192.0.2.1", false).unwrap();
        let refused = overlay.remove_endpoint(file, "a", "192.0.2.2", false);
        assert!(
            matches!(&refused, Err(Refusal::Conflict { message, .. }) if message.contains("force=true")),
            "{refused:?}"
        );
        overlay.remove_endpoint(file, "a", "192.0.2.2", true).unwrap();
        assert!(addresses(&source, &overlay, 0).is_empty());
        // A region no pool lists is emptied without force.
        overlay.remove_endpoint(file, "b", "198.51.100.1", false).unwrap();
        assert!(addresses(&source, &overlay, 1).is_empty());
        // A file with an empty region is still refused.
        let empty = TOML.replace(r#"endpoints = [ { address = "198.51.100.1" } ]"#, "endpoints = []");
        let error = Source::from_toml(&empty, Path::new(""), "test").unwrap().validate().unwrap_err().to_string();
        assert!(error.contains("a region needs at least one endpoint"), "{error}");
    }

    #[test]
    fn refusals_name_the_item_and_leave_nothing_behind() {
        let source = source();
        let file = &source.file;
        let mut overlay = Overlay::default();
        let refused = |r: Result<(), Refusal>| match r {
            Err(Refusal::Invalid { field, .. } | Refusal::NotFound { field, .. } | Refusal::Conflict { field, .. }) => {
                field
            }
            Ok(()) => panic!("not refused"),
        };
        let twice = vec![item("192.0.2.7", None, None), item("192.0.2.7", None, None)];
        assert_eq!(refused(overlay.put_endpoints(file, "a", twice, true)), "endpoints[1].address");
        let long = vec![item("192.0.2.7", None, Some("2d"))];
        assert_eq!(refused(overlay.put_endpoints(file, "a", long, false)), "ttl");
        let short = vec![item("192.0.2.7", None, Some("500ms"))];
        assert_eq!(refused(overlay.put_endpoints(file, "a", short, true)), "endpoints[0].ttl");
        assert_eq!(refused(overlay.put_endpoints(file, "nope", vec![item("192.0.2.7", None, None)], false)), "region");
        assert_eq!(refused(overlay.put_endpoints(file, "a", vec![], true)), "endpoints");
        assert_eq!(refused(overlay.remove_endpoint(file, "a", "192.0.2.99", true)), "endpoint");
        assert_eq!(overlay, Overlay::default());
        assert_eq!(lease_ttl(&FileDuration::Text("30s".into())), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn a_registration_of_a_region_removed_since_is_left_out_with_a_reason() {
        let source = source();
        let mut overlay = Overlay::default();
        overlay.put_endpoints(&source.file, "b", vec![item("198.51.100.2", None, None)], false).unwrap();
        overlay.remove_region(&source.file, "b").unwrap();
        assert!(overlay.endpoints_added.is_empty(), "a region removed takes its registrations");
        overlay.endpoints_added.push(AddedEndpoint {
            region: "gone".into(),
            endpoint: item("192.0.2.9", None, None).endpoint,
            ttl: None,
            stamp: Stamp::default(),
        });
        let (_, skipped) = source.validate_with(&overlay).unwrap();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
    }
}
