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
    /// Every IPv4 network of the tree, flattened, so that an IPv4 lookup is a short search
    /// rather than a walk of up to 32 tree nodes spread over the file.
    v4: V4Table,
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
        let mut v4 = Vec::new();
        let description;
        match &source {
            Source::Mapped(r) => {
                description = r.metadata().database_type.clone();
                index_reader(r, &mut locations, &mut by_offset, &mut networks, &mut v4).map_err(read)?;
            }
            Source::Memory(r) => {
                description = r.metadata().database_type.clone();
                index_reader(r, &mut locations, &mut by_offset, &mut networks, &mut v4).map_err(read)?;
            }
        }
        Ok(Self { source, locations, by_offset, v4: V4Table::new(v4), networks, description })
    }

    /// The database network holding `addr`, and its location if the network has data.
    pub fn locate(&self, addr: IpAddr) -> Option<Located> {
        if let IpAddr::V4(v4) = addr
            && let Some(found) = self.v4.find(u32::from(v4))
        {
            return Some(found);
        }
        self.locate_in_tree(addr)
    }

    /// The same lookup through the database's own search tree.
    pub fn locate_in_tree(&self, addr: IpAddr) -> Option<Located> {
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
    v4: &mut Vec<V4Entry>,
) -> Result<(), MaxMindDbError> {
    let mut interned: HashMap<[u64; 3], LocationId> = HashMap::new();
    // Networks without data too: a lookup there still learns how far the gap reaches.
    for item in reader.networks(WithinOptions::default().include_networks_without_data())? {
        let item = item?;
        let v4_network = match item.network()? {
            ipnetwork::IpNetwork::V4(net) => Some(net),
            ipnetwork::IpNetwork::V6(_) => None,
        };
        let Some(offset) = item.offset() else {
            if let Some(net) = v4_network {
                v4.push(V4Entry::new(u32::from(net.network()), net.prefix(), NO_LOCATION));
            }
            continue;
        };
        *networks += 1;
        if let Some(&id) = by_offset.get(&offset) {
            if let Some(net) = v4_network {
                v4.push(V4Entry::new(u32::from(net.network()), net.prefix(), id));
            }
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
        if let Some(net) = v4_network {
            v4.push(V4Entry::new(u32::from(net.network()), net.prefix(), id));
        }
    }
    Ok(())
}

/// A network without a record, in [`V4Entry::location`].
const NO_LOCATION: LocationId = LocationId::MAX;

/// One IPv4 network: its first and last address, its prefix and its location.
#[derive(Debug, Clone, Copy)]
struct V4Entry {
    start: u32,
    end: u32,
    location: LocationId,
    prefix: u8,
}

impl V4Entry {
    fn new(start: u32, prefix: u8, location: LocationId) -> Self {
        let size = if prefix == 0 { u32::MAX } else { (1u32 << (32 - u32::from(prefix))) - 1 };
        Self { start, end: start.saturating_add(size), location, prefix }
    }
}

/// The IPv4 networks sorted by address, and for each /16 where its networks begin. The
/// starts searched are kept apart from the rest, so that a lookup reads few cache lines.
struct V4Table {
    starts: Box<[u32]>,
    entries: Box<[V4Entry]>,
    /// `buckets[b]`: the index of the first entry starting at or after `b << 16`.
    buckets: Box<[u32]>,
}

impl V4Table {
    fn new(mut entries: Vec<V4Entry>) -> Self {
        entries.sort_unstable_by_key(|e| e.start);
        let mut buckets = Vec::with_capacity(65_537);
        let mut at = 0;
        for bucket in 0..=65_536u64 {
            while at < entries.len() && u64::from(entries[at].start) < bucket << 16 {
                at += 1;
            }
            buckets.push(at as u32);
        }
        let starts = entries.iter().map(|e| e.start).collect();
        Self { starts, entries: entries.into_boxed_slice(), buckets: buckets.into_boxed_slice() }
    }

    /// The network holding `addr`; `None` when the table does not cover it (the tree does).
    fn find(&self, addr: u32) -> Option<Located> {
        let bucket = (addr >> 16) as usize;
        // The network holding addr starts in this /16, or is the last one starting before it.
        let low = (*self.buckets.get(bucket)? as usize).saturating_sub(1);
        let high = *self.buckets.get(bucket + 1)? as usize;
        let candidates = self.starts.get(low..high)?;
        let after = candidates.partition_point(|&start| start <= addr);
        let entry = self.entries.get(low + after.checked_sub(1)?)?;
        (addr <= entry.end).then(|| Located {
            location: (entry.location != NO_LOCATION).then_some(entry.location),
            prefix_len: entry.prefix,
        })
    }
}

fn location_key(l: &Location) -> [u64; 3] {
    let codes = |c: Option<[u8; 2]>| c.map_or(0, |c| u64::from(u16::from_be_bytes(c)) + 1);
    let (lat, lon) = l.coordinates.map_or((u64::MAX, u64::MAX), |c| (c.lat.to_bits(), c.lon.to_bits()));
    [codes(l.country) << 20 | codes(l.continent), lat, lon]
}

#[cfg(test)]
mod table_tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::steering::splitmix64;

    /// The flattened IPv4 table must say what the tree says, for every address tried.
    fn agrees(db: &GeoDb, tries: u64) {
        let mut state = 7;
        for i in 0..tries {
            state = splitmix64(state ^ i);
            let addr = IpAddr::V4(Ipv4Addr::from(state as u32));
            assert_eq!(db.locate(addr), db.locate_in_tree(addr), "{addr}");
        }
    }

    #[test]
    fn the_ipv4_table_agrees_with_the_tree_with_gaps_and_nested_networks() {
        let mut writer = mmdb_writer::Writer::new("test");
        let country = |c: &str| mmdb_writer::Value::map([("country_code", mmdb_writer::Value::from(c))]);
        for (net, c) in [("1.0.0.0/8", "AU"), ("1.2.3.0/24", "JP"), ("10.0.0.0/16", "DE"), ("255.255.255.255/32", "US")]
        {
            writer.insert_value(net.parse::<ipnet::IpNet>().unwrap(), country(c)).unwrap();
        }
        let db = GeoDb::from_bytes(writer.to_bytes().unwrap(), Path::new("test")).unwrap();
        agrees(&db, 20_000);
        for addr in ["1.2.3.4", "1.2.4.1", "10.0.255.255", "10.1.0.0", "0.0.0.0", "255.255.255.255", "9.9.9.9"] {
            let addr: IpAddr = addr.parse().unwrap();
            assert_eq!(db.locate(addr), db.locate_in_tree(addr), "{addr}");
        }
        let japan = db.locate("1.2.3.4".parse().unwrap()).unwrap();
        assert_eq!((japan.prefix_len, db.location(japan.location.unwrap()).country), (24, Some(*b"JP")));
    }

    #[test]
    fn the_ipv4_table_agrees_with_the_tree_on_the_shipped_database() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/dbip-country.mmdb");
        let db = GeoDb::open(&path).unwrap();
        assert!(db.v4.entries.len() > 100_000, "{} IPv4 networks", db.v4.entries.len());
        agrees(&db, 200_000);
    }
}
