//! The ASN database: a MaxMind-format `.mmdb` whose records carry `autonomous_system_number`
//! (GeoLite2-ASN, DB-IP's ASN Lite, or one built from an open data set with
//! `geoip/tools/asn-mmdb.py`), read whole and decoded once, as the country database is
//! (`mmdb.rs`, through `file.rs`: bounded, never mapped).
//!
//! At load every record's number is decoded once and kept by its offset; a query walks the
//! search tree and maps the record's offset to its number: no decoding and no allocation per
//! query. Pure apart from [`AsnDb::open`], which reads the file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};
use serde::Deserialize;

use super::file::read_database;
use super::mmdb::GeoError;

/// Where an ASN lookup landed: the network's autonomous system, if the database has one for
/// it, and the network's prefix length, which is what an answer steered by it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsnLocated {
    pub asn: Option<u32>,
    pub prefix_len: u8,
}

/// An open ASN database with its records decoded.
pub struct AsnDb {
    reader: Reader<Vec<u8>>,
    by_offset: HashMap<usize, u32>,
    /// Networks with a number, counted at load.
    pub networks: usize,
    pub description: String,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnDb").field("networks", &self.networks).finish()
    }
}

/// One record; other fields (`autonomous_system_organization`) are skipped.
#[derive(Deserialize)]
struct Record {
    autonomous_system_number: Option<u32>,
}

impl AsnDb {
    /// Reads a database file whole and decodes its records; the file is not read again.
    ///
    /// # Errors
    /// As [`GeoDb::open`](super::mmdb::GeoDb::open); and a database none of whose records
    /// has an `autonomous_system_number` (a country database named by mistake).
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        Self::from_bytes(read_database(path)?, path)
    }

    /// Reads a database from bytes (tests, or a file read whole).
    ///
    /// # Errors
    /// Not a MaxMind DB, a record cannot be decoded, or no record has a number.
    pub fn from_bytes(bytes: Vec<u8>, name: &Path) -> Result<Self, GeoError> {
        let path = || PathBuf::from(name);
        let reader = Reader::from_source(bytes).map_err(|source| GeoError::Open { path: path(), source })?;
        let mut by_offset = HashMap::new();
        let mut networks = 0;
        index(&reader, &mut by_offset, &mut networks).map_err(|source| GeoError::Read { path: path(), source })?;
        if networks > 0 && by_offset.values().all(|&n| n == 0) {
            let source = MaxMindDbError::invalid_input("no record has an autonomous_system_number");
            return Err(GeoError::Read { path: path(), source });
        }
        by_offset.retain(|_, n| *n != 0);
        let description = reader.metadata().database_type.clone();
        Ok(Self { reader, by_offset, networks, description })
    }

    /// The database network holding `addr`, and its autonomous system if it has one.
    pub fn locate(&self, addr: IpAddr) -> Option<AsnLocated> {
        let result = self.reader.lookup(addr).ok()?;
        let prefix_len = result.network().ok()?.prefix();
        let asn = result.offset().and_then(|offset| self.by_offset.get(&offset).copied());
        Some(AsnLocated { asn, prefix_len })
    }
}

/// Decodes each distinct record once; a record without a number is kept as 0 (none).
fn index<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    by_offset: &mut HashMap<usize, u32>,
    networks: &mut usize,
) -> Result<(), MaxMindDbError> {
    for item in reader.networks(WithinOptions::default())? {
        let item = item?;
        let Some(offset) = item.offset() else { continue };
        *networks += 1;
        if by_offset.contains_key(&offset) {
            continue;
        }
        let asn = item.decode::<Record>()?.and_then(|r| r.autonomous_system_number).unwrap_or(0);
        by_offset.insert(offset, asn);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mmdb_writer::{Value, Writer};

    use super::*;

    fn db(networks: &[(&str, u32)]) -> Vec<u8> {
        let mut writer = Writer::new("Meridian-Test-ASN");
        for (network, asn) in networks {
            let mut record = BTreeMap::new();
            record.insert("autonomous_system_number".to_owned(), Value::from(*asn));
            record.insert("autonomous_system_organization".to_owned(), Value::from("Example"));
            writer.insert_value(network.parse::<ipnet::IpNet>().unwrap(), Value::map(record)).unwrap();
        }
        writer.to_bytes().unwrap()
    }

    #[test]
    fn an_address_gets_its_network_number_and_prefix() {
        let db = AsnDb::from_bytes(db(&[("192.0.2.0/24", 64500), ("2001:db8::/32", 64501)]), Path::new("t")).unwrap();
        let at = |a: &str| db.locate(a.parse().unwrap());
        assert_eq!(at("192.0.2.77"), Some(AsnLocated { asn: Some(64500), prefix_len: 24 }));
        assert_eq!(at("2001:db8:1::1"), Some(AsnLocated { asn: Some(64501), prefix_len: 32 }));
        let outside = at("198.51.100.1").unwrap();
        assert_eq!(outside.asn, None, "no network there");
        assert!(outside.prefix_len < 24, "{outside:?}: the gap's prefix, not the address");
    }

    #[test]
    fn a_database_without_numbers_is_refused() {
        let mut writer = Writer::new("Meridian-Test-Country");
        writer
            .insert_value(
                "192.0.2.0/24".parse::<ipnet::IpNet>().unwrap(),
                Value::map([("country_code", Value::from("DE"))]),
            )
            .unwrap();
        let error = AsnDb::from_bytes(writer.to_bytes().unwrap(), Path::new("country.mmdb")).unwrap_err();
        assert!(error.to_string().contains("autonomous_system_number"), "{error}");
    }
}
