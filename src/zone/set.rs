//! `Zones`: every zone we serve, found by the longest origin that encloses a name.

use super::load::return_freed_memory;
use super::name::NameKey;
use super::{NameMap, Zone};

/// The served zones, keyed by origin.
#[derive(Debug, Default)]
pub struct Zones {
    by_origin: NameMap<Zone>,
}

impl Zones {
    /// Indexes zones by origin; the loader has already refused two zones with one origin.
    pub fn new(zones: Vec<Zone>) -> Self {
        Self { by_origin: zones.into_iter().map(|z| (z.origin_key.clone(), z)).collect() }
    }

    /// The zone whose origin is the closest ancestor of `name` (or `name` itself): a child
    /// zone we also serve wins over its parent (RFC 1034 section 4.3.2, step 2).
    pub fn find(&self, name: &NameKey) -> Option<&Zone> {
        let labels = name.labels();
        (0..=labels.count()).rev().find_map(|n| self.by_origin.get(labels.suffix(name, n)))
    }

    /// The zone enclosing the parent side of `zone`'s apex, if we serve one: DS records
    /// live there (RFC 4035 section 3.1.4.1).
    pub fn parent_of(&self, zone: &Zone) -> Option<&Zone> {
        let key = NameKey::from_wire(&zone.origin_key)?;
        let labels = key.labels();
        (0..labels.count()).rev().find_map(|n| self.by_origin.get(labels.suffix(&key, n)))
    }

    /// Makes `name` exist in the zone that holds it (see [`Zone::ensure_name`]).
    pub fn ensure_name(&mut self, name: &hickory_proto::rr::Name) {
        let key = NameKey::new(name);
        let labels = key.labels();
        let origin =
            (0..=labels.count()).rev().map(|n| labels.suffix(&key, n)).find(|s| self.by_origin.contains_key(*s));
        if let Some(origin) = origin.map(<[u8]>::to_vec)
            && let Some(zone) = self.by_origin.get_mut(&origin[..])
        {
            zone.ensure_name(name);
        }
    }

    /// The zone whose origin is exactly `origin` (lowercase wire form), to change as a
    /// snapshot is built.
    pub fn by_origin_mut(&mut self, origin: &[u8]) -> Option<&mut Zone> {
        self.by_origin.get_mut(origin)
    }

    /// The zone at exactly this origin.
    pub fn get(&self, origin: &[u8]) -> Option<&Zone> {
        self.by_origin.get(origin)
    }

    /// The zone at exactly this origin, to change before the zones are published.
    pub fn get_mut(&mut self, origin: &[u8]) -> Option<&mut Zone> {
        self.by_origin.get_mut(origin)
    }

    /// Adds a zone, or replaces the one at its origin.
    pub fn insert(&mut self, zone: Zone) {
        self.by_origin.insert(zone.origin_key.clone(), zone);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Zone> {
        self.by_origin.values()
    }

    pub fn len(&self) -> usize {
        self.by_origin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_origin.is_empty()
    }
}

/// The zones of a replaced snapshot are freed where its last reader lets go of it (the
/// writer, or a worker still answering from it): their pages go back to the system there and
/// then, rather than stay with the allocator as RSS (see [`return_freed_memory`]).
impl Drop for Zones {
    fn drop(&mut self) {
        let zones = std::mem::take(&mut self.by_origin);
        if !zones.is_empty() {
            drop(zones);
            return_freed_memory();
        }
    }
}
