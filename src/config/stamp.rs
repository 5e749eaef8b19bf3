//! Who made an API change, when, and what it did: the stamp every overlay entry carries, and
//! the region entries that carry one (`overlay` keeps them, `changes` reads them). Pure.

use serde::de::{Deserializer, Error as _};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::FileRegion;

/// Who made a change, when, and what it did; kept with every entry the change set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stamp {
    /// The change's number, never given twice within a state; 0 until it is numbered (an
    /// entry saved before changes had ids, or one a change has just made).
    pub id: u64,
    /// Seconds since the Unix epoch when it was made; 0: not known (saved before ids).
    #[serde(default)]
    pub at: u64,
    /// The name of the API token that made it; empty: not known (saved before ids).
    #[serde(default)]
    pub token: String,
    /// What it did: "weight of a/192.0.2.1 set to 0".
    #[serde(default)]
    pub summary: String,
}

/// A region added through the API: the fields of a `[[region]]` table, and its stamp.
///
/// The state file writes it as the region's own fields with `stamp` beside them; one saved
/// before changes had ids is the region alone.
#[derive(Debug, Clone, PartialEq)]
pub struct AddedRegion {
    pub region: FileRegion,
    pub stamp: Stamp,
}

/// A region of the file taken out through the API. Saved before changes had ids, it is the
/// region's name alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedRegion {
    pub name: String,
    pub stamp: Stamp,
}

impl AddedRegion {
    /// A region not yet stamped.
    pub fn new(region: FileRegion) -> Self {
        Self { region, stamp: Stamp::default() }
    }
}

impl RemovedRegion {
    /// A removal not yet stamped.
    pub fn new(name: String) -> Self {
        Self { name, stamp: Stamp::default() }
    }
}

impl Serialize for AddedRegion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Stamped<'a> {
            #[serde(flatten)]
            region: &'a FileRegion,
            stamp: &'a Stamp,
        }
        Stamped { region: &self.region, stamp: &self.stamp }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AddedRegion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        let stamp = match value.as_object_mut().and_then(|fields| fields.remove("stamp")) {
            Some(stamp) => serde_json::from_value(stamp).map_err(D::Error::custom)?,
            None => Stamp::default(),
        };
        // The region's own fields, still with unknown ones refused.
        let region = serde_json::from_value(value).map_err(D::Error::custom)?;
        Ok(Self { region, stamp })
    }
}

impl<'de> Deserialize<'de> for RemovedRegion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Stamped {
            name: String,
            #[serde(default)]
            stamp: Stamp,
        }
        match Value::deserialize(deserializer)? {
            Value::String(name) => Ok(Self::new(name)),
            value => {
                let Stamped { name, stamp } = serde_json::from_value(value).map_err(D::Error::custom)?;
                Ok(Self { name, stamp })
            }
        }
    }
}
