//! The changes log: every API change in force, as an operator sees and undoes it.
//!
//! Each entry of an [`Overlay`] (a weight, a drain, a strategy, a region added or removed, a
//! manual failover) carries the [`Stamp`] of the change that last set it: an id that is never
//! given twice within a state, when it was made, the name of the token that made it, and what
//! it did in one line. Entries that share an id are one change (a region replaced is one
//! removed and one added): listed together and reverted together. For each change this module
//! says which settings of the configuration file it overrides, what the file says of them,
//! and which of them a new version of the file has changed under it.
//!
//! Pure: the time and the token's name come from the writer, the file is a value.

use serde::Serialize;
use serde_json::{Value, json};

use super::file::{FileConfig, FileEndpoint, FilePool, FileRegion};
use super::names::{clipped_text, shown};
use super::overlay::endpoints::target_of;
use super::overlay::{
    AddedEndpoint, EndpointStateChange, ManualFailover, Overlay, Refusal, RemovedEndpoint, StrategyChange,
    StrategyParameters, WeightChange, same_endpoint, same_pool,
};
pub use super::stamp::{AddedRegion, RemovedRegion, Stamp};
use super::{ConfigError, Source};

/// One setting a change overrides: what the configuration file says of it, and what the
/// change says.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The setting in the operator's words: "region a endpoint 192.0.2.1 weight".
    pub setting: String,
    /// The file's value, its default where the file leaves out a weight or a drain state;
    /// `Some(Null)`: the file does not set it; `None`: the file has no such thing (a region
    /// the change added, an endpoint of one, a manual failover).
    pub file: Option<Value>,
    /// The change's value; `Null` when the change takes the thing out (a region removed).
    pub change: Value,
}

/// A change in force: its stamp, and every setting it overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeInForce {
    pub stamp: Stamp,
    pub overrides: Vec<Override>,
}

/// A setting the configuration file changed under a change that still overrides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadowed {
    pub stamp: Stamp,
    pub setting: String,
    /// What the file said before, and says now.
    pub before: Value,
    pub after: Value,
    /// What the change says, and the answers follow.
    pub change: Value,
}

/// A weight the file leaves out (`config::steering` gives endpoints this one).
const DEFAULT_WEIGHT: i64 = 1;

/// How much of a value (a whole region, say) a summary or a log line quotes.
const SHOWN_VALUE_CHARS: usize = 300;

/// One entry of an overlay, whatever its kind.
#[derive(Clone, Copy)]
enum Entry<'a> {
    Removed(&'a RemovedRegion),
    Added(&'a AddedRegion),
    Weight(&'a WeightChange),
    State(&'a EndpointStateChange),
    Strategy(&'a StrategyChange),
    Failover(&'a ManualFailover),
    EndpointRemoved(&'a RemovedEndpoint),
    EndpointAdded(&'a AddedEndpoint),
}

impl<'a> Entry<'a> {
    fn stamp(self) -> &'a Stamp {
        match self {
            Self::Removed(e) => &e.stamp,
            Self::Added(e) => &e.stamp,
            Self::Weight(e) => &e.stamp,
            Self::State(e) => &e.stamp,
            Self::Strategy(e) => &e.stamp,
            Self::Failover(e) => &e.stamp,
            Self::EndpointRemoved(e) => &e.stamp,
            Self::EndpointAdded(e) => &e.stamp,
        }
    }

    /// What setting it made, in one line.
    fn summary(self) -> String {
        match self {
            Self::Removed(e) => format!("region {} removed", named(&e.name)),
            Self::Added(e) => format!("region {} added ({})", named(&e.region.name), endpoints(&e.region)),
            Self::Weight(e) => {
                let mut text = format!("weight of {}/{} set to {}", named(&e.region), e.endpoint, e.weight);
                if let Some(ramp) = &e.ramp {
                    let over = std::time::Duration::from_millis(ramp.until_ms.saturating_sub(ramp.started_ms));
                    text.push_str(&format!(" over {} from {}", super::names::shown_duration(over), ramp.from));
                }
                text
            }
            Self::State(e) => match e.state.as_str() {
                "drain" => format!("{}/{} drained", named(&e.region), e.endpoint),
                "auto" => format!("{}/{} undrained, against the file's drain", named(&e.region), e.endpoint),
                other => format!("state of {}/{} set to {}", named(&e.region), e.endpoint, shown(other)),
            },
            Self::Strategy(e) => {
                let mut text = format!("strategy of {} set to {}", named(&e.pool), named(&e.strategy));
                let set: Vec<String> = parameters(&e.parameters)
                    .into_iter()
                    .map(|(key, value)| match value {
                        Value::Array(items) => {
                            let items: Vec<String> = items.iter().map(plain).collect();
                            format!("{key} {}", items.join(", "))
                        }
                        value => format!("{key} {}", plain(&value)),
                    })
                    .collect();
                if !set.is_empty() {
                    text.push_str(&format!(" ({})", set.join("; ")));
                }
                text
            }
            Self::Failover(e) => format!(
                "clients of {} in {} failed over to {}",
                named(&e.from_region),
                named(&e.pool),
                named(&e.to_region)
            ),
            Self::EndpointRemoved(e) => format!("{}/{} removed", named(&e.region), named(&e.address)),
            Self::EndpointAdded(e) => match &e.ttl {
                Some(ttl) => format!("{}/{} registered (lease {ttl})", named(&e.region), named(target_of(&e.endpoint))),
                None => format!("{}/{} registered", named(&e.region), named(target_of(&e.endpoint))),
            },
        }
    }

    /// The settings it overrides, with what `file` says of each.
    fn overrides(self, file: &FileConfig) -> Vec<Override> {
        match self {
            Self::Removed(e) => vec![Override {
                setting: format!("region {}", named(&e.name)),
                file: file_region(file, &e.name).map(to_json),
                change: Value::Null,
            }],
            Self::Added(e) => vec![Override {
                setting: format!("region {}", named(&e.region.name)),
                file: file_region(file, &e.region.name).map(to_json),
                change: to_json(&e.region),
            }],
            Self::Weight(e) => vec![Override {
                setting: format!("region {} endpoint {} weight", named(&e.region), e.endpoint),
                file: file_endpoint(file, &e.region, e.endpoint)
                    .map(|(_, endpoint)| json!(endpoint.weight.unwrap_or(DEFAULT_WEIGHT))),
                change: json!(e.weight),
            }],
            Self::State(e) => vec![Override {
                setting: format!("region {} endpoint {} state", named(&e.region), e.endpoint),
                file: file_endpoint(file, &e.region, e.endpoint)
                    .map(|(region, endpoint)| json!(state_of(region, endpoint))),
                change: json!(e.state),
            }],
            Self::Strategy(e) => {
                let pool = file.pool.iter().find(|p| same_pool(&p.name, &e.pool));
                let setting = |key: &str| format!("pool {} {key}", named(&e.pool));
                let mut overrides = vec![Override {
                    setting: setting("policy"),
                    file: pool.map(|p| json!(p.policy)),
                    change: json!(e.strategy),
                }];
                for (key, value) in parameters(&e.parameters) {
                    overrides.push(Override {
                        setting: setting(key),
                        file: pool.map(|p| pool_setting(p, key)),
                        change: value,
                    });
                }
                overrides
            }
            Self::Failover(e) => vec![Override {
                setting: format!("pool {} failover of region {}", named(&e.pool), named(&e.from_region)),
                file: None,
                change: json!(e.to_region),
            }],
            Self::EndpointRemoved(e) => vec![Override {
                setting: format!("region {} endpoint {}", named(&e.region), named(&e.address)),
                file: listed_endpoint(file, &e.region, &e.address).map(to_json),
                change: Value::Null,
            }],
            Self::EndpointAdded(e) => vec![Override {
                setting: format!("region {} endpoint {}", named(&e.region), named(target_of(&e.endpoint))),
                file: listed_endpoint(file, &e.region, target_of(&e.endpoint)).map(to_json),
                change: to_json(&e.endpoint),
            }],
        }
    }
}

impl Overlay {
    /// Every entry, in the order they are laid over the file.
    fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        let removed = self.regions_removed.iter().map(Entry::Removed);
        let added = self.regions_added.iter().map(Entry::Added);
        let weights = self.weights.iter().map(Entry::Weight);
        let states = self.endpoint_states.iter().map(Entry::State);
        let strategies = self.strategies.iter().map(Entry::Strategy);
        let failovers = self.failovers.iter().map(Entry::Failover);
        let endpoints_removed = self.endpoints_removed.iter().map(Entry::EndpointRemoved);
        let endpoints_added = self.endpoints_added.iter().map(Entry::EndpointAdded);
        removed
            .chain(added)
            .chain(weights)
            .chain(states)
            .chain(strategies)
            .chain(failovers)
            .chain(endpoints_removed)
            .chain(endpoints_added)
    }

    /// Every entry's stamp, in the order of [`Overlay::entries`].
    fn stamps_mut(&mut self) -> impl Iterator<Item = &mut Stamp> {
        let removed = self.regions_removed.iter_mut().map(|e| &mut e.stamp);
        let added = self.regions_added.iter_mut().map(|e| &mut e.stamp);
        let weights = self.weights.iter_mut().map(|e| &mut e.stamp);
        let states = self.endpoint_states.iter_mut().map(|e| &mut e.stamp);
        let strategies = self.strategies.iter_mut().map(|e| &mut e.stamp);
        let failovers = self.failovers.iter_mut().map(|e| &mut e.stamp);
        let endpoints_removed = self.endpoints_removed.iter_mut().map(|e| &mut e.stamp);
        let endpoints_added = self.endpoints_added.iter_mut().map(|e| &mut e.stamp);
        removed
            .chain(added)
            .chain(weights)
            .chain(states)
            .chain(strategies)
            .chain(failovers)
            .chain(endpoints_removed)
            .chain(endpoints_added)
    }

    /// The highest id of a change in force (0 with none).
    pub fn highest_id(&self) -> u64 {
        self.entries().map(|e| e.stamp().id).max().unwrap_or(0)
    }

    /// Stamps the entries a change has just made (those not yet numbered) as change `id`,
    /// made at `at` (seconds since the Unix epoch) with the token named `token`; returns the
    /// stamp, or `None` when the change left no entry (an undrain that gives an endpoint back
    /// to the file, a failover cleared).
    pub fn stamp_new(&mut self, id: u64, at: u64, token: &str) -> Option<Stamp> {
        let new: Vec<Entry<'_>> = self.entries().filter(|e| e.stamp().id == 0).collect();
        if new.is_empty() {
            return None;
        }
        let stamp = Stamp { id, at, token: token.to_owned(), summary: summary_of(&new) };
        for unnumbered in self.stamps_mut().filter(|s| s.id == 0) {
            unnumbered.clone_from(&stamp);
        }
        Some(stamp)
    }

    /// Numbers the entries saved before changes had ids, after `last_id` (the highest id ever
    /// given, which this raises): each is a change of its own, but a region removed and added
    /// back under the same name, which was one change (a region replaced). Their time and
    /// token are not known.
    pub fn number_unnumbered(&mut self, last_id: &mut u64) {
        *last_id = (*last_id).max(self.highest_id());
        let replaced: Vec<String> = self
            .regions_removed
            .iter()
            .filter(|r| {
                r.stamp.id == 0 && self.regions_added.iter().any(|a| a.stamp.id == 0 && a.region.name == r.name)
            })
            .map(|r| r.name.clone())
            .collect();
        for name in replaced {
            *last_id += 1;
            let removed = self.regions_removed.iter().position(|r| r.name == name && r.stamp.id == 0);
            let added = self.regions_added.iter().position(|a| a.region.name == name && a.stamp.id == 0);
            let (Some(removed), Some(added)) = (removed, added) else { continue };
            let summary =
                summary_of(&[Entry::Removed(&self.regions_removed[removed]), Entry::Added(&self.regions_added[added])]);
            let stamp = Stamp { id: *last_id, summary, ..Stamp::default() };
            self.regions_removed[removed].stamp.clone_from(&stamp);
            self.regions_added[added].stamp = stamp;
        }
        let summaries: Vec<String> = self.entries().filter(|e| e.stamp().id == 0).map(Entry::summary).collect();
        for (stamp, summary) in self.stamps_mut().filter(|s| s.id == 0).zip(summaries) {
            *last_id += 1;
            *stamp = Stamp { id: *last_id, summary, ..Stamp::default() };
        }
    }

    /// Every change in force, by id, with the settings of `file` it overrides.
    pub fn in_force(&self, file: &FileConfig) -> Vec<ChangeInForce> {
        let mut changes: Vec<ChangeInForce> = Vec::new();
        for entry in self.entries() {
            let overrides = entry.overrides(file);
            let Some(change) = changes.iter_mut().find(|c| c.stamp.id == entry.stamp().id) else {
                changes.push(ChangeInForce { stamp: entry.stamp().clone(), overrides });
                continue;
            };
            for new in overrides {
                // A region replaced: removed, then added; the added one is what is in force.
                match change.overrides.iter_mut().find(|o| o.setting == new.setting) {
                    Some(earlier) => earlier.change = new.change,
                    None => change.overrides.push(new),
                }
            }
        }
        changes.sort_by_key(|c| c.stamp.id);
        changes
    }

    /// Takes out every entry of change `id`.
    ///
    /// # Errors
    /// No change `id` is in force.
    pub fn revert(&mut self, id: u64) -> Result<(), Refusal> {
        let before = self.count();
        self.regions_removed.retain(|e| e.stamp.id != id);
        self.regions_added.retain(|e| e.stamp.id != id);
        self.weights.retain(|e| e.stamp.id != id);
        self.endpoint_states.retain(|e| e.stamp.id != id);
        self.strategies.retain(|e| e.stamp.id != id);
        self.failovers.retain(|e| e.stamp.id != id);
        self.endpoints_removed.retain(|e| e.stamp.id != id);
        self.endpoints_added.retain(|e| e.stamp.id != id);
        if self.count() == before {
            return Err(Refusal::NotFound {
                field: "id".into(),
                message: format!("no change {id} is in force (GET /api/v1/changes lists them)"),
            });
        }
        Ok(())
    }

    /// The settings these changes override that `after` (the file as now read) says
    /// otherwise than `before` (the file as read until now): the change still wins, and
    /// the operator should hear that the edit does not show. A setting whose region,
    /// endpoint or pool either file lacks is not one: the change then no longer applies
    /// (and is left out with its own warning), or it added what the file did not have.
    pub fn shadowed(&self, before: &FileConfig, after: &FileConfig) -> Vec<Shadowed> {
        let mut found: Vec<Shadowed> = Vec::new();
        for entry in self.entries() {
            for (old, new) in entry.overrides(before).into_iter().zip(entry.overrides(after)) {
                let (Some(before), Some(after)) = (old.file, new.file) else { continue };
                let id = entry.stamp().id;
                if before == after || found.iter().any(|s| s.stamp.id == id && s.setting == new.setting) {
                    continue;
                }
                found.push(Shadowed {
                    stamp: entry.stamp().clone(),
                    setting: new.setting,
                    before,
                    after,
                    change: new.change,
                });
            }
        }
        found
    }

    /// The stamps of the changes in force, one per change, by id.
    fn stamps(&self) -> Vec<&Stamp> {
        let mut stamps: Vec<&Stamp> = self.entries().map(Entry::stamp).collect();
        stamps.sort_by_key(|s| s.id);
        stamps.dedup_by_key(|s| s.id);
        stamps
    }
}

impl Source {
    /// `changes` with change `id` reverted, checked as any change is: the configuration they
    /// make with the file must be valid, and must not switch off another change in force.
    ///
    /// # Errors
    /// No change `id` is in force (not found), or reverting it alone would leave the
    /// configuration invalid or switch off other changes (a conflict, naming the problems and
    /// the changes that depend on it).
    pub fn revert(&self, changes: &Overlay, id: u64) -> Result<Overlay, Refusal> {
        let mut reverted = changes.clone();
        reverted.revert(id)?;
        let in_force = self.trouble(changes);
        let trouble = self.trouble(&reverted);
        if trouble.problems.is_empty() && trouble.skipped.len() <= in_force.skipped.len() {
            return Ok(reverted);
        }
        let stamps = changes.stamps();
        let reverting = stamps.iter().find(|s| s.id == id).map_or_else(String::new, |s| described(s));
        let why = if trouble.problems.is_empty() {
            format!("would switch off other changes in force: {}", trouble.skipped.join("; "))
        } else {
            format!("would make the configuration invalid: {}", trouble.problems.join("; "))
        };
        let mut message = format!("reverting change {reverting} {why}");
        // The changes whose revert, with this one's, leaves fewer problems: what it depends on.
        let dependents: Vec<String> = stamps
            .iter()
            .filter(|s| s.id != id)
            .filter(|s| {
                let mut both = reverted.clone();
                both.revert(s.id).is_ok() && self.trouble(&both).weight() < trouble.weight()
            })
            .map(|s| described(s))
            .collect();
        if !dependents.is_empty() {
            message.push_str(&format!("; revert first what depends on it: change {}", dependents.join(", change ")));
        }
        Err(Refusal::Conflict { field: "id".into(), message })
    }

    /// What is wrong with the configuration `changes` make with the file.
    fn trouble(&self, changes: &Overlay) -> Trouble {
        match self.validate_with(changes) {
            Ok((_, skipped)) => {
                Trouble { problems: Vec::new(), skipped: skipped.iter().map(|p| p.message.clone()).collect() }
            }
            Err(ConfigError::Invalid { problems, .. }) => {
                Trouble { problems: problems.iter().map(ToString::to_string).collect(), skipped: Vec::new() }
            }
            Err(other) => Trouble { problems: vec![other.to_string()], skipped: Vec::new() },
        }
    }
}

/// The problems of a configuration, and the changes it leaves out.
struct Trouble {
    problems: Vec<String>,
    skipped: Vec<String>,
}

impl Trouble {
    /// How bad it is, to compare: invalid values first, then changes left out.
    fn weight(&self) -> (usize, usize) {
        (self.problems.len(), self.skipped.len())
    }
}

/// "3 (weight of a/192.0.2.1 set to 0)".
fn described(stamp: &Stamp) -> String {
    format!("{} ({})", stamp.id, stamp.summary)
}

/// The one line of a change that made `entries`.
fn summary_of(entries: &[Entry<'_>]) -> String {
    let replaced = entries.iter().find_map(|e| match e {
        Entry::Added(added)
            if entries.iter().any(|r| matches!(r, Entry::Removed(removed) if removed.name == added.region.name)) =>
        {
            Some(added)
        }
        _ => None,
    });
    if let Some(added) = replaced {
        return format!("region {} replaced ({})", named(&added.region.name), endpoints(&added.region));
    }
    // A bulk registration: one line, however many endpoints.
    let registered: Vec<&AddedEndpoint> =
        entries.iter().filter_map(|e| if let Entry::EndpointAdded(a) = e { Some(*a) } else { None }).collect();
    if registered.len() > 1 && registered.len() == entries.len() {
        return format!("{} endpoints registered in {}", registered.len(), named(&registered[0].region));
    }
    entries.iter().map(|e| e.summary()).collect::<Vec<_>>().join("; ")
}

fn endpoints(region: &FileRegion) -> String {
    match region.endpoints.len() {
        1 => "1 endpoint".to_owned(),
        n => format!("{n} endpoints"),
    }
}

/// A name as a summary or a setting writes it: as it is when it is printable ASCII of a
/// sensible length (every region name the rule allows, every pool name), else quoted, escaped
/// and cut short (a state file edited by hand may hold anything).
fn named(text: &str) -> String {
    if (1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) {
        text.to_owned()
    } else {
        shown(text)
    }
}

/// A JSON value in a summary: text as it is (via [`named`]), anything else as JSON, cut short.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => named(text),
        other => clipped_text(&other.to_string(), SHOWN_VALUE_CHARS),
    }
}

fn to_json<T: Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn file_region<'f>(file: &'f FileConfig, name: &str) -> Option<&'f FileRegion> {
    file.region.iter().find(|r| r.name == name)
}

fn file_endpoint<'f>(
    file: &'f FileConfig,
    region: &str,
    address: std::net::IpAddr,
) -> Option<(&'f FileRegion, &'f FileEndpoint)> {
    let region = file_region(file, region)?;
    let endpoint =
        region.endpoints.iter().find(|e| e.address.parse::<std::net::IpAddr>().is_ok_and(|a| a == address))?;
    Some((region, endpoint))
}

/// An endpoint's manual state as the file gives it: its own, else its region's ("auto" is no
/// state of its own), else "auto".
/// An endpoint as the file lists it in a region, matched however its address is written.
fn listed_endpoint<'f>(file: &'f FileConfig, region: &str, address: &str) -> Option<&'f FileEndpoint> {
    file_region(file, region)?.endpoints.iter().find(|e| same_endpoint(target_of(e), address))
}

fn state_of<'f>(region: &'f FileRegion, endpoint: &'f FileEndpoint) -> &'f str {
    match endpoint.state.as_deref() {
        Some(own) if own != "auto" => own,
        _ => region.state.as_deref().unwrap_or("auto"),
    }
}

/// The parameters a strategy change sets, by name, in the order of
/// [`StrategyParameters::FIELDS`].
fn parameters(p: &StrategyParameters) -> Vec<(&'static str, Value)> {
    let values = [
        to_json(&p.regions),
        to_json(p.max_answers),
        to_json(p.hash_prefix_v4),
        to_json(p.hash_prefix_v6),
        to_json(p.latency_margin_pct),
        to_json(&p.latency_margin),
        to_json(&p.failback_delay),
        to_json(p.fallback_location),
        to_json(&p.spill),
        to_json(p.spill_regions),
        to_json(&p.when_all_down),
    ];
    StrategyParameters::FIELDS.into_iter().zip(values).filter(|(_, value)| !value.is_null()).collect()
}

/// A pool's setting as the file writes it (`Null`: not set).
fn pool_setting(pool: &FilePool, key: &str) -> Value {
    match key {
        "regions" => to_json(&pool.regions),
        "max_answers" => to_json(pool.max_answers),
        "hash_prefix_v4" => to_json(pool.hash_prefix_v4),
        "hash_prefix_v6" => to_json(pool.hash_prefix_v6),
        "latency_margin_pct" => to_json(pool.latency_margin_pct),
        "latency_margin" => to_json(&pool.latency_margin),
        "failback_delay" => to_json(&pool.failback_delay),
        "fallback_location" => to_json(pool.fallback_location),
        "spill" => to_json(&pool.spill),
        "spill_regions" => to_json(pool.spill_regions),
        "when_all_down" => to_json(&pool.when_all_down),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests;
