//! The catalog zone (RFC 9432, schema version 2): one zone listing every zone served, so that
//! a secondary configured as its consumer follows zones added and removed without a
//! configuration change of its own.
//!
//! ```text
//! catalog.meridian.invalid.                     SOA  invalid. invalid. <serial> 3600 600 2419200 0
//! catalog.meridian.invalid.                     NS   invalid.
//! version.catalog.meridian.invalid.             TXT  "2"
//! <id>.zones.catalog.meridian.invalid.          PTR  example.com.
//! ```
//!
//! Each member's id is a hash of its name (RFC 9432 section 4.1: unique within the catalog,
//! and "SHOULD" stay the same while the member does), so restarts and reloads keep it.

use hickory_proto::rr::rdata::{NS, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};

use crate::config::transfer::{DEFAULT_JOURNAL_MAX, SerialPolicy, TransferAcl, ZoneSettings};
use crate::config::{Config, Problem};
use crate::zone::parse::Entry;
use crate::zone::{Zone, Zones};

/// RFC 9432 section 4: the catalog's records have no use for resolvers; TTL 0 as the examples.
const TTL: u32 = 0;

/// The catalog zone listing every zone of `zones` (but itself), with serial 1: the writer
/// gives it its serial ([`super::carry`], as a zone with `serial = "auto"`).
///
/// # Errors
/// A zone file already serves the catalog's name.
pub fn build(name: &Name, zones: &Zones) -> Result<Zone, Problem> {
    let key = crate::zone::name::NameKey::new(name);
    if zones.get(key.as_bytes()).is_some() {
        return Err(Problem::new(
            "catalog",
            format!("{name} is also a zone file's origin: give the catalog a name of its own"),
        ));
    }
    let mut members: Vec<&Name> = zones.iter().map(|z| &z.origin).collect();
    members.sort();
    let problem = |e: hickory_proto::ProtoError| Problem::new("catalog", format!("{name}: {e}"));
    let invalid = Name::from_ascii("invalid.").map_err(problem)?;
    let at = |label: &str| Name::from_ascii(label).and_then(|l| l.append_domain(name)).map_err(problem);
    let soa = SOA::new(invalid.clone(), invalid.clone(), 1, 3600, 600, 2_419_200, 0);
    let mut records = vec![
        Record::from_rdata(name.clone(), TTL, RData::SOA(soa)),
        Record::from_rdata(name.clone(), TTL, RData::NS(NS(invalid))),
        Record::from_rdata(at("version")?, TTL, RData::TXT(TXT::new(vec!["2".into()]))),
    ];
    for member in members {
        let owner = at(&format!("{}.zones", member_id(member)))?;
        records.push(Record::from_rdata(owner, TTL, RData::PTR(PTR(member.clone()))));
    }
    let entries = records.into_iter().map(|record| Entry { line: 0, record }).collect();
    Zone::build(name.clone(), entries).map_err(|problems| {
        let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        Problem::new("catalog", messages.join("; "))
    })
}

/// A member zone's id: 16 hex digits of a hash of its name in lowercase wire form (FNV-1a,
/// fixed across versions and machines).
pub fn member_id(zone: &Name) -> String {
    let key = crate::zone::name::NameKey::new(zone);
    let hash =
        key.as_bytes().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// Who may transfer the catalog and whom it notifies: anyone who may transfer one of its
/// zones (a consumer is a secondary of them), and every zone's NOTIFY targets.
pub fn settings(config: &Config) -> (Vec<TransferAcl>, ZoneSettings) {
    let acls: Vec<TransferAcl> = config.zone_settings.iter().filter_map(|s| s.transfer.clone()).collect();
    let mut notify: Vec<std::net::SocketAddr> =
        config.zone_settings.iter().flat_map(|s| s.notify.iter().copied()).collect();
    notify.sort();
    notify.dedup();
    let settings =
        ZoneSettings { transfer: None, notify, serial: SerialPolicy::Auto, journal_max: DEFAULT_JOURNAL_MAX };
    (acls, settings)
}
