//! The geo database: a MaxMind-format `.mmdb`, read whole into memory and decoded once.
//!
//! The file is read into memory the process owns, never mapped: a file rewritten in place
//! under a mapping (`cp new.mmdb geoip/dbip-country.mmdb`) changes the bytes the search tree
//! is walked over, and cut short it leaves pages that fault with SIGBUS on the next IPv6
//! lookup. Read whole, the file can then change in any way without effect until a reload
//! reads it again, and a file cut short or half written at that moment fails to load and is
//! refused with the rest of the reload.
//!
//! At load every network is visited once and each distinct record decoded into a
//! [`Location`] (records are shared between networks, so a country database holds a few
//! hundred), and the IPv4 networks are flattened into a table of ranges. An IPv4 query
//! searches that table; an IPv6 query walks the search tree and maps the record's offset to
//! its location: no decoding and no allocation per query. Records may be GeoIP2/GeoLite2 shaped
//! (`country.iso_code`, `continent.code`, `location.latitude`) or flat as DB-IP's lite
//! databases from ip-location-db (`country_code`); a missing continent or position is taken
//! from the compiled-in country table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

use super::file::read_database;
use super::{Coordinates, Location, code, country_facts};

/// Why a geo database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file itself: missing, not a regular file, too large, or changed while read.
    #[error(transparent)]
    File(#[from] super::file::ReadError),
    /// Also what a file cut short or still being written gives: its metadata, at the end, is
    /// missing.
    #[error("geo database {} is not a whole MaxMind DB (cut short, or still being written?): {source}", .path.display())]
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

/// An open geo database with its records decoded.
pub struct GeoDb {
    /// The whole file, owned: IPv6 lookups walk its search tree.
    reader: Reader<Vec<u8>>,
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
    /// Reads a database file whole and decodes its records; the file is not read again.
    ///
    /// # Errors
    /// The file cannot be read, is not a regular file, is larger than
    /// [`MAX_DATABASE_BYTES`](super::file::MAX_DATABASE_BYTES), changed while it was read, is not a MaxMind DB (a file cut
    /// short or half written is not), or a record cannot be decoded.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::from_bytes(read_database(path)?, path)
    }

    /// Reads a database from bytes (tests, or a file read whole).
    ///
    /// # Errors
    /// Not a MaxMind DB, or a record cannot be decoded.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Open { path: name.into(), source })?;
        let mut locations = Vec::new();
        let mut by_offset = HashMap::new();
        let mut networks = 0;
        let mut v4 = Vec::new();
        index_reader(&reader, &mut locations, &mut by_offset, &mut networks, &mut v4)
            .map_err(|source| GeoError::Read { path: name.into(), source })?;
        let description = reader.metadata().database_type.clone();
        Ok(Self { reader, locations, by_offset, v4: V4Table::new(v4), networks, description })
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

    /// Starts fetching, for every address of a batch, the parts of the IPv4 table its lookup
    /// will read, so that the batch waits on memory about once rather than once per lookup:
    /// first the index entries of all the addresses, then (the index now at hand) the ranges
    /// each will scan. A lookup of a client spread over a large table otherwise spends most
    /// of its time waiting for these lines. Only hints to the processor: no result changes.
    pub fn prefetch(&self, addrs: &[IpAddr]) {
        let v4 = || addrs.iter().filter_map(|a| if let IpAddr::V4(v4) = a { Some(u32::from(*v4)) } else { None });
        v4().for_each(|a| self.v4.prefetch_index(a));
        v4().for_each(|a| self.v4.prefetch_ranges(a));
    }

    /// The same lookup through the database's own search tree.
    pub fn locate_in_tree(&self, addr: IpAddr) -> Option<Located> {
        let result = self.reader.lookup(addr).ok()?;
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

/// A network without a record, in [`V4Range::location`].
const NO_LOCATION: LocationId = LocationId::MAX;
/// Addresses the flattened table does not cover (the tree answers for them).
const NOT_COVERED: LocationId = LocationId::MAX - 1;

/// One IPv4 network of the database, as read: its first address, its prefix and its location.
#[derive(Debug, Clone, Copy)]
struct V4Entry {
    start: u32,
    prefix: u8,
    location: LocationId,
}

impl V4Entry {
    fn new(start: u32, prefix: u8, location: LocationId) -> Self {
        Self { start, prefix, location }
    }

    fn end(&self) -> u32 {
        self.start | u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0)
    }
}

/// A run of addresses with one location: from `start` to the next range's start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct V4Range {
    start: u32,
    location: LocationId,
}

/// The IPv4 space cut into ranges of one location each, sorted, with an index of where the
/// ranges of each /20 begin.
///
/// Neighbouring networks with the same location are merged, as gdnsd does: an answer
/// depends only on the location, so the scope of an answer is the widest prefix around the
/// client that stays inside its range (RFC 7871 section 7.2.1: a shorter scope is valid and
/// lets resolvers cache one answer for more clients). The shipped country database's
/// ~600,000 IPv4 networks merge to ~356,000 ranges.
///
/// A lookup is bound by cache misses, not instructions, so the index is laid out for few
/// dependent loads: the /16's first range and the /20's offset from it are read at once (both
/// follow from the address), and a /20 holds at most a few dozen ranges (17 in the shipped
/// database), scanned in a line or three rather than searched. A binary search over a /16's
/// up to 256 ranges cost 8 % of all the CPU of a geo answer, mostly waiting on memory.
struct V4Table {
    ranges: Box<[V4Range]>,
    /// `first[b]`: the index of the first range starting at or after `b << 16`; one more
    /// entry, the number of ranges, ends the last /16.
    first: Box<[u32]>,
    /// `offset[k]`: the index of the first range starting at or after `k << 12`, less
    /// `first[k >> 4]`. It fits: fifteen /20s hold at most 61,440 ranges (one per address).
    offset: Box<[u16]>,
}

impl V4Table {
    fn new(mut entries: Vec<V4Entry>) -> Self {
        entries.sort_unstable_by_key(|e| (e.start, e.prefix));
        let mut ranges: Vec<V4Range> = Vec::new();
        let mut push = |start: u32, location: LocationId| match ranges.last() {
            Some(last) if last.location == location => {}
            _ => ranges.push(V4Range { start, location }),
        };
        // The next address not yet covered; None once the whole space is.
        let mut next = Some(0u32);
        for entry in &entries {
            let Some(from) = next else { break };
            if entry.end() < from {
                continue; // inside a network already covered (the tree holds no overlaps)
            }
            if entry.start > from {
                push(from, NOT_COVERED);
            }
            push(entry.start.max(from), entry.location);
            next = entry.end().checked_add(1);
        }
        if let Some(from) = next {
            push(from, NOT_COVERED);
        }
        Self::index(ranges)
    }

    fn index(ranges: Vec<V4Range>) -> Self {
        let mut first = Vec::with_capacity(65_537);
        let mut offset = Vec::with_capacity(1 << 20);
        let mut at = 0;
        for block in 0..1u64 << 20 {
            while at < ranges.len() && u64::from(ranges[at].start) < block << 12 {
                at += 1;
            }
            if block % 16 == 0 {
                first.push(at as u32);
            }
            offset.push((at - *first.last().expect("pushed at block 0") as usize) as u16);
        }
        first.push(ranges.len() as u32);
        Self { ranges: ranges.into_boxed_slice(), first: first.into_boxed_slice(), offset: offset.into_boxed_slice() }
    }

    /// The ranges to scan for `addr`: those starting in its /20, and the last one before
    /// (ranges[0] starts at 0, so there is one), as indexes `from..high`.
    fn span(&self, addr: u32) -> Option<(usize, usize)> {
        let block = (addr >> 12) as usize;
        let base = *self.first.get(block >> 4)? as usize;
        let low = base + usize::from(*self.offset.get(block)?);
        let high = match block % 16 {
            15 => *self.first.get((block >> 4) + 1)? as usize,
            _ => base + usize::from(*self.offset.get(block + 1)?),
        };
        Some((low.saturating_sub(1), high))
    }

    /// The range holding `addr` and the widest prefix around it inside the range; `None`
    /// when the table does not cover it (the tree does).
    fn find(&self, addr: u32) -> Option<Located> {
        // A scan, so that the loads do not wait on each other; a made-up database with
        // thousands of networks in one /20 is slower to search, not wrong.
        let (from, high) = self.span(addr)?;
        let candidates = self.ranges.get(from..high)?;
        let at = from + candidates.iter().filter(|r| r.start <= addr).count().checked_sub(1)?;
        let range = self.ranges[at];
        if range.location == NOT_COVERED {
            return None;
        }
        let after = self.ranges.get(at + 1).map(|r| r.start);
        Some(Located {
            location: (range.location != NO_LOCATION).then_some(range.location),
            prefix_len: widest_prefix(addr, range.start, after),
        })
    }

    /// Starts fetching the index entries a lookup of `addr` reads.
    fn prefetch_index(&self, addr: u32) {
        let block = (addr >> 12) as usize;
        if let (Some(first), Some(offset)) = (self.first.get(block >> 4), self.offset.get(block)) {
            prefetch(first);
            prefetch(offset);
        }
    }

    /// Starts fetching the ranges a lookup of `addr` scans (and the one after, for the
    /// scope); reads the index entries, so it pays once [`V4Table::prefetch_index`] has run.
    fn prefetch_ranges(&self, addr: u32) {
        if let Some((from, high)) = self.span(addr)
            && let (Some(first), Some(last)) =
                (self.ranges.get(from), self.ranges.get(high.min(self.ranges.len().saturating_sub(1))))
        {
            prefetch(first);
            prefetch(last);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ranges.len()
    }
}

/// Asks the processor to bring the cache line holding `item` closer (a hint: nothing else
/// happens, and elsewhere than on x86-64 not even that).
#[inline]
fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 loads nothing into the program and cannot fault, whatever the address;
    // this one is of a live reference besides.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(item).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// The shortest prefix length whose block around `addr` lies in `[start, after)`.
///
/// The block of length `p` around `addr` holds `start - 1` exactly when the two agree on
/// their first `p` bits, so it stays clear of it from one bit past their common prefix on;
/// the same for `after`, the first address past the range.
fn widest_prefix(addr: u32, start: u32, after: Option<u32>) -> u8 {
    let clear_of = |outside: u32| (addr ^ outside).leading_zeros() + 1;
    let below = start.checked_sub(1).map_or(0, clear_of);
    let above = after.map_or(0, clear_of);
    below.max(above).min(32) as u8
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
    use crate::splitmix::splitmix64;

    /// The flattened IPv4 table must say what the tree says, for every address tried: the
    /// same location, and a scope no longer than the database network's whose whole block
    /// has that location. Tried: `tries` addresses at random, then the edges, where a scan
    /// off by one lands in the neighbouring range.
    fn agrees(db: &GeoDb, tries: u64) {
        let mut state = 7;
        let mut batch = Vec::new();
        for i in 0..tries {
            state = splitmix64(state ^ i);
            batch.push(state as u32);
            // As the UDP workers do: the batch's lines prefetched, then each looked up.
            if batch.len() == 32 || i + 1 == tries {
                prefetch_v4(db, &batch);
                batch.drain(..).for_each(|a| agrees_at(db, a));
            }
        }
        let edges = edges(db);
        prefetch_v4(db, &edges);
        edges.into_iter().for_each(|a| agrees_at(db, a));
    }

    /// The ends of the address space, of the index's first and last /20 and /16, and the
    /// first address of each range with the last one before it: of every range of a small
    /// table, of some thousands spread over a large one.
    fn edges(db: &GeoDb) -> Vec<u32> {
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        let mut edges: Vec<u32> = ["0.0.0.0", "0.0.15.255", "0.0.16.0", "0.0.255.255", "0.1.0.0"]
            .into_iter()
            .chain(["255.254.255.255", "255.255.0.0", "255.255.239.255", "255.255.240.0", "255.255.255.255"])
            .map(ip)
            .collect();
        let step = (db.v4.len() / 4096).max(1);
        for range in db.v4.ranges.iter().step_by(step) {
            edges.push(range.start);
            edges.extend(range.start.checked_sub(1));
        }
        edges
    }

    fn prefetch_v4(db: &GeoDb, addrs: &[u32]) {
        db.prefetch(&addrs.iter().map(|&a| IpAddr::V4(Ipv4Addr::from(a))).collect::<Vec<_>>());
    }

    fn agrees_at(db: &GeoDb, addr: u32) {
        let located = |a: u32| db.locate(IpAddr::V4(Ipv4Addr::from(a)));
        let in_tree = |a: u32| db.locate_in_tree(IpAddr::V4(Ipv4Addr::from(a)));
        let (table, tree) = (located(addr).unwrap(), in_tree(addr).unwrap());
        let shown = Ipv4Addr::from(addr);
        assert_eq!(table.location, tree.location, "{shown}");
        assert!(table.prefix_len <= tree.prefix_len, "{shown}: {table:?} {tree:?}");
        let mask = u32::MAX.checked_shl(32 - u32::from(table.prefix_len)).unwrap_or(0);
        for edge in [addr & mask, addr | !mask] {
            assert_eq!(in_tree(edge).unwrap().location, tree.location, "{shown}: block edge {}", Ipv4Addr::from(edge));
        }
    }

    #[test]
    fn the_widest_prefix_stays_inside_the_range() {
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(widest_prefix(ip("9.9.9.9"), 0, None), 0);
        assert_eq!(widest_prefix(ip("1.2.3.4"), ip("1.2.3.0"), Some(ip("1.2.4.0"))), 24);
        assert_eq!(widest_prefix(ip("1.0.0.1"), ip("1.0.0.0"), Some(ip("1.2.3.0"))), 15);
        assert_eq!(widest_prefix(ip("1.2.2.1"), ip("1.0.0.0"), Some(ip("1.2.3.0"))), 24);
        assert_eq!(widest_prefix(ip("255.255.255.255"), ip("255.255.255.255"), None), 32);
        assert_eq!(widest_prefix(0, 0, Some(1)), 32);
    }

    #[test]
    fn neighbouring_networks_of_one_location_merge() {
        let mut writer = mmdb_writer::Writer::new("test");
        let country = |c: &str| mmdb_writer::Value::map([("country_code", mmdb_writer::Value::from(c))]);
        for (net, c) in [("1.2.0.0/25", "DE"), ("1.2.0.128/25", "DE"), ("1.2.1.0/24", "DE"), ("1.2.2.0/24", "FR")] {
            writer.insert_value(net.parse::<ipnet::IpNet>().unwrap(), country(c)).unwrap();
        }
        let db = GeoDb::from_bytes(writer.to_bytes().unwrap(), Path::new("test")).unwrap();
        let scope = |a: &str| db.locate(a.parse().unwrap()).unwrap().prefix_len;
        // Three DE networks make one range, 1.2.0.0/23; FR next door keeps its /24.
        assert_eq!((scope("1.2.0.1"), scope("1.2.1.200"), scope("1.2.2.9")), (23, 23, 24));
        for addr in ["1.2.0.1", "1.2.1.200", "1.2.2.9", "1.2.3.1", "0.0.0.1"] {
            agrees_at(&db, u32::from(addr.parse::<Ipv4Addr>().unwrap()));
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
            agrees_at(&db, u32::from(addr.parse::<Ipv4Addr>().unwrap()));
        }
        let japan = db.locate("1.2.3.4".parse().unwrap()).unwrap();
        assert_eq!((japan.prefix_len, db.location(japan.location.unwrap()).country), (24, Some(*b"JP")));
    }

    #[test]
    fn the_ipv4_table_agrees_with_the_tree_on_the_shipped_database() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("geoip/dbip-country.mmdb");
        let db = GeoDb::open(&path).unwrap();
        // Merged, the ranges are far fewer than the database's IPv4 networks, but many still.
        assert!(db.v4.len() > 20_000, "{} IPv4 ranges", db.v4.len());
        eprintln!("{} IPv4 ranges", db.v4.len());
        agrees(&db, 200_000);
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;

    /// What a reload meets when a copy is under way or was cut off: every part of a database
    /// short of the whole is refused with an error (never a panic), and the whole loads.
    #[test]
    fn a_database_cut_anywhere_short_of_its_end_is_refused() {
        let mut writer = mmdb_writer::Writer::new("test");
        let country = |c: &str| mmdb_writer::Value::map([("country_code", mmdb_writer::Value::from(c))]);
        for (net, c) in [("1.2.0.0/16", "DE"), ("2001:db8::/32", "FR"), ("2001:db8:100::/48", "US")] {
            writer.insert_value(net.parse::<ipnet::IpNet>().unwrap(), country(c)).unwrap();
        }
        let bytes = writer.to_bytes().unwrap();
        for cut in 0..bytes.len() {
            let error = GeoDb::from_bytes(bytes[..cut].to_vec(), Path::new("cut.mmdb")).unwrap_err();
            assert!(error.to_string().contains("cut.mmdb"), "cut at {cut}: {error}");
        }
        let db = GeoDb::from_bytes(bytes, Path::new("whole.mmdb")).unwrap();
        let us = db.locate("2001:db8:100::1".parse().unwrap()).unwrap();
        assert_eq!((us.prefix_len, db.location(us.location.unwrap()).country), (48, Some(*b"US")));
    }
}
