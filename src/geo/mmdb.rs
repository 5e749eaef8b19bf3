//! The geo database: a MaxMind-format `.mmdb`, memory-mapped, decoded once.
//!
//! At load every network is visited once and each distinct record decoded into a
//! [`Location`] (records are shared between networks, so a country database holds a few
//! hundred). A query then only walks the search tree and maps the record's offset to its
//! location: no decoding and no allocation per query. Records may be GeoIP2/GeoLite2 shaped
//! (`country.iso_code`, `continent.code`, `location.latitude`) or flat as DB-IP's lite
//! databases from ip-location-db (`country_code`); a missing continent or position is taken
//! from the compiled-in country table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

use super::{Coordinates, Location, code, country_facts};

/// Why a geo database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("cannot open geo database {}: {source}", .path.display())]
    Open { path: PathBuf, source: MaxMindDbError },
    #[error("geo database {}: {source}", .path.display())]
    Read { path: PathBuf, source: MaxMindDbError },
}

/// Index of a decoded location in [`GeoDb::locations`].
pub type LocationId = u32;

/// Where a lookup landed: the location (if the network has data) and the prefix length of
/// the database network holding the address, which is what the answer depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    pub location: Option<LocationId>,
    pub prefix_len: u8,
}

enum Source {
    Mapped(Reader<maxminddb::Mmap>),
    Memory(Reader<Vec<u8>>),
}

/// An open geo database with its records decoded.
pub struct GeoDb {
    source: Source,
    locations: Vec<Location>,
    by_offset: HashMap<usize, LocationId>,
    /// Networks with data, counted at load.
    pub networks: usize,
    pub description: String,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("networks", &self.networks).field("locations", &self.locations.len()).finish()
    }
}

/// One record, in either shape; unknown fields are skipped.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    country: Option<Named<'a>>,
    #[serde(borrow)]
    registered_country: Option<Named<'a>>,
    #[serde(borrow)]
    continent: Option<Continent<'a>>,
    location: Option<Position>,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct Named<'a> {
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Continent<'a> {
    code: Option<&'a str>,
}

#[derive(Deserialize)]
struct Position {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

impl Record<'_> {
    fn location(&self) -> Location {
        let country = self
            .country_code
            .or(self.country.as_ref().and_then(|c| c.iso_code))
            .or(self.registered_country.as_ref().and_then(|c| c.iso_code))
            .and_then(code);
        let facts = country.and_then(country_facts);
        let continent = self.continent.as_ref().and_then(|c| c.code).and_then(code).or(facts.map(|f| f.0));
        let (lat, lon) = match &self.location {
            Some(p) => (p.latitude, p.longitude),
            None => (self.latitude, self.longitude),
        };
        let coordinates = match (lat, lon) {
            (Some(lat), Some(lon)) if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {
                Some(Coordinates { lat, lon })
            }
            _ => facts.and_then(|f| f.1),
        };
        Location { country, continent, coordinates }
    }
}

impl GeoDb {
    /// Maps a database file and decodes its records.
    ///
    /// # Errors
    /// The file cannot be opened, is not a MaxMind DB, or a record cannot be decoded.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        // SAFETY: the mapping is read-only. Changing the file in place while it is mapped
        // would show the new bytes to readers; operators replace database files by rename
        // (a new inode), as the refresh script does, which leaves this mapping intact.
        let reader =
            unsafe { Reader::open_mmap(path) }.map_err(|source| GeoError::Open { path: path.into(), source })?;
        Self::index(Source::Mapped(reader), path)
    }

    /// Reads a database from bytes (tests, or a file read whole).
    ///
    /// # Errors
    /// Not a MaxMind DB, or a record cannot be decoded.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Open { path: name.into(), source })?;
        Self::index(Source::Memory(reader), name)
    }

    fn index(source: Source, path: &Path) -> Result<Self, GeoError> {
        let read = |source| GeoError::Read { path: path.into(), source };
        let mut locations = Vec::new();
        let mut by_offset = HashMap::new();
        let mut networks = 0;
        let description;
        match &source {
            Source::Mapped(r) => {
                description = r.metadata().database_type.clone();
                index_reader(r, &mut locations, &mut by_offset, &mut networks).map_err(read)?;
            }
            Source::Memory(r) => {
                description = r.metadata().database_type.clone();
                index_reader(r, &mut locations, &mut by_offset, &mut networks).map_err(read)?;
            }
        }
        Ok(Self { source, locations, by_offset, networks, description })
    }

    /// The database network holding `addr`, and its location if the network has data.
    pub fn locate(&self, addr: IpAddr) -> Option<Located> {
        match &self.source {
            Source::Mapped(r) => self.locate_in(r, addr),
            Source::Memory(r) => self.locate_in(r, addr),
        }
    }

    fn locate_in<S: AsRef<[u8]>>(&self, reader: &Reader<S>, addr: IpAddr) -> Option<Located> {
        let result = reader.lookup(addr).ok()?;
        let prefix_len = result.network().ok()?.prefix();
        let location = result.offset().and_then(|offset| self.by_offset.get(&offset).copied());
        Some(Located { location, prefix_len })
    }

    pub fn location(&self, id: LocationId) -> &Location {
        &self.locations[id as usize]
    }

    /// How many distinct locations the database holds.
    pub fn location_count(&self) -> usize {
        self.locations.len()
    }
}

fn index_reader<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    locations: &mut Vec<Location>,
    by_offset: &mut HashMap<usize, LocationId>,
    networks: &mut usize,
) -> Result<(), MaxMindDbError> {
    let mut interned: HashMap<[u64; 3], LocationId> = HashMap::new();
    for item in reader.networks(WithinOptions::default())? {
        let item = item?;
        let Some(offset) = item.offset() else { continue };
        *networks += 1;
        if by_offset.contains_key(&offset) {
            continue;
        }
        let location = item.decode::<Record<'_>>()?.map(|r| r.location()).unwrap_or_default();
        // Identical locations under different records share one entry.
        let key = location_key(&location);
        let id = *interned.entry(key).or_insert_with(|| {
            locations.push(location);
            (locations.len() - 1) as LocationId
        });
        by_offset.insert(offset, id);
    }
    Ok(())
}

fn location_key(l: &Location) -> [u64; 3] {
    let codes = |c: Option<[u8; 2]>| c.map_or(0, |c| u64::from(u16::from_be_bytes(c)) + 1);
    let (lat, lon) = l.coordinates.map_or((u64::MAX, u64::MAX), |c| (c.lat.to_bits(), c.lon.to_bits()));
    [codes(l.country) << 20 | codes(l.continent), lat, lon]
}
