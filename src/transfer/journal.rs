//! The journal: the differences between the versions of a zone this process has served,
//! for IXFR (RFC 1995). Kept in memory for the last `journal_max` serials; a restart starts
//! it empty, and a secondary older than it gets the whole zone (RFC 1995 section 4).

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::Record;

use super::{record_key, records};
use crate::zone::Zone;

/// The difference from one version of a zone to the next.
#[derive(Debug)]
pub struct Diff {
    /// The SOA of the version before, and of the version after.
    pub old_soa: Record,
    pub new_soa: Record,
    /// Records of the version before that are not in the version after.
    pub removed: Vec<Record>,
    /// Records of the version after that were not in the version before.
    pub added: Vec<Record>,
}

impl Diff {
    /// What changed from `old` (with its pools' records) to `new` (with its).
    pub fn between(old: &Zone, old_pools: &[Record], new: &Zone, new_pools: &[Record]) -> Self {
        let before: HashMap<Vec<u8>, Record> = records(old, old_pools).map(|r| (record_key(&r), r)).collect();
        let mut after: HashMap<Vec<u8>, Record> = records(new, new_pools).map(|r| (record_key(&r), r)).collect();
        let mut removed = Vec::new();
        for (key, record) in before {
            if after.remove(&key).is_none() {
                removed.push(record);
            }
        }
        // What is left of `after` was not in `before`.
        let added = after.into_values().collect();
        Self { old_soa: old.soa().clone(), new_soa: new.soa().clone(), removed, added }
    }

    pub fn from_serial(&self) -> u32 {
        serial_of(&self.old_soa)
    }

    pub fn to_serial(&self) -> u32 {
        serial_of(&self.new_soa)
    }
}

fn serial_of(soa: &Record) -> u32 {
    match &soa.data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        _ => 0,
    }
}

/// The differences kept, oldest first, each following the one before.
#[derive(Debug, Default)]
pub struct Journal {
    diffs: Vec<Arc<Diff>>,
}

impl Journal {
    /// This journal with `diff` added at the end, keeping the last `most`.
    pub fn with(&self, diff: Diff, most: usize) -> Self {
        let mut diffs = self.diffs.clone();
        // A difference that does not follow the last one leaves a gap: start again from it.
        if diffs.last().is_some_and(|last| last.to_serial() != diff.from_serial()) {
            diffs.clear();
        }
        diffs.push(Arc::new(diff));
        let excess = diffs.len().saturating_sub(most);
        diffs.drain(..excess);
        Self { diffs }
    }

    /// The differences from `serial` to the current version, when the journal reaches back
    /// to it; `None` for a serial it does not hold (older than the journal, or never served).
    pub fn since(&self, serial: u32) -> Option<&[Arc<Diff>]> {
        let at = self.diffs.iter().position(|d| d.from_serial() == serial)?;
        Some(&self.diffs[at..])
    }

    pub fn len(&self) -> usize {
        self.diffs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diffs.is_empty()
    }
}
