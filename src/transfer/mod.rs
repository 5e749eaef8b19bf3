//! What zone transfers send: for each zone, who may transfer it, the serial served, its
//! pools' records as transferred, and the journal of differences IXFR answers from.
//!
//! Pure: the writer hands in the zones it served before, the zones just loaded and the
//! time, and [`carry`] decides each zone's serial (RFC 1982), keeps the served version of a
//! zone whose data changed without its serial being raised, and adds one difference to the
//! journal of each zone whose serial moved. The DNS edge (`dns::xfr`) reads the result from
//! the snapshot; nothing here touches a socket or the clock.
//!
//! A pool's name is transferred with its fallback set ([`fallback_records`]), taken when the
//! zone's serial is: a change of pools, weights or health never changes what a serial means,
//! so two transfers of one serial always send the same records (RFC 1995 section 2).

pub mod catalog;
pub mod journal;
pub mod serial;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::config::Config;
use crate::config::transfer::{SerialPolicy, TransferAcl, ZoneSettings};
use crate::steering::{Family, Steering};
use crate::zone::name::NameKey;
use crate::zone::{NameMap, Zone, Zones};
pub use journal::{Diff, Journal};

/// Every zone's transfer state, by origin (lowercase wire form).
#[derive(Debug, Default)]
pub struct Transfers {
    by_origin: NameMap<Arc<Served>>,
}

/// One zone as transfers see it.
#[derive(Debug)]
pub struct Served {
    /// Who may transfer the zone: any of these (one for a zone; the catalog takes every
    /// zone's, see `catalog`). Empty: nobody.
    pub acls: Vec<TransferAcl>,
    /// Secondaries told of a new serial.
    pub notify: Vec<SocketAddr>,
    pub serial: u32,
    /// The zone's pools' records as transferred, taken with the serial.
    pub pool_records: Arc<[Record]>,
    pub journal: Arc<Journal>,
}

impl Served {
    /// Whether a request from `source`, verified with the TSIG key `key` (none when unsigned),
    /// may transfer the zone.
    pub fn permits(&self, source: IpAddr, key: Option<&Name>) -> bool {
        self.acls.iter().any(|acl| acl.permits(source, key))
    }

    /// Whether `source` may send NOTIFY for the zone (RFC 1996 section 3.10 leaves whom to
    /// accept to the server): an address the zone may be transferred to, or one it notifies.
    pub fn accepts_notify(&self, source: IpAddr, key: Option<&Name>) -> bool {
        let source = source.to_canonical();
        self.permits(source, key) || self.notify.iter().any(|target| target.ip().to_canonical() == source)
    }
}

impl Transfers {
    /// The zone at this origin.
    pub fn get(&self, origin: &[u8]) -> Option<&Served> {
        self.by_origin.get(origin).map(|s| &**s)
    }
}

/// What [`carry`] decided.
#[derive(Debug, Default)]
pub struct Carried {
    pub transfers: Transfers,
    /// Zones whose change was refused (their served version kept), each with why.
    pub refused: Vec<String>,
    /// Zones served with a new serial (new zones included), with it: the ones to NOTIFY.
    pub changed: Vec<(Name, u32)>,
}

/// Decides each zone's serial and transfer state for a new set of `zones`, from the ones
/// served before (`previous`, none at start). `now_unix` is the serial `serial = "auto"`
/// takes (see [`serial::auto`]). Refused zones are put back in `zones` as served.
pub fn carry(
    previous: Option<(&Zones, &Transfers)>,
    zones: &mut Zones,
    steering: &Steering,
    config: &Config,
    now_unix: u64,
) -> Carried {
    let mut carried = Carried::default();
    let origins: Vec<Box<[u8]>> = zones.iter().map(|z| z.origin_key.clone()).collect();
    let catalog_key = config.catalog.as_ref().map(|c| NameKey::new(c).as_bytes().to_vec());
    for origin in origins {
        let is_catalog = catalog_key.as_deref() == Some(&*origin);
        let (acls, settings) = if is_catalog {
            catalog::settings(config)
        } else {
            let zone = zones.get(&origin).expect("listed above");
            let settings = config.zone_settings.get(zone.source).cloned().unwrap_or_else(ZoneSettings::none);
            (settings.transfer.clone().into_iter().collect(), settings)
        };
        let before = previous.and_then(|(z, t)| Some((z.get(&origin)?, t.get(&origin)?)));
        let pools = fallback_records(steering, zones, &origin);
        let zone = zones.get_mut(&origin).expect("listed above");
        let decided = decide(before, zone, &settings, pools, now_unix);
        let served = match decided {
            Decided::Kept(served) => served,
            Decided::Refused { served, why } => {
                let kept = before.map(|(z, _)| z.clone()).expect("a refusal keeps a served version");
                carried.refused.push(format!("zone {}: {why}; still serving serial {}", kept.origin, served.serial));
                zones.insert(kept);
                served
            }
            Decided::New(served) => {
                carried.changed.push((zone.origin.clone(), served.serial));
                served
            }
        };
        carried
            .transfers
            .by_origin
            .insert(origin, Arc::new(Served { acls, notify: settings.notify.clone(), ..served }));
    }
    // A kept zone may lack a pool name added since; give each its place again.
    for pool in &steering.pools {
        zones.ensure_name(&pool.name);
    }
    carried
}

/// What became of one zone.
enum Decided {
    /// The same version as before.
    Kept(Served),
    /// A new version (or a new zone).
    New(Served),
    /// The change cannot be served: the version before is kept.
    Refused { served: Served, why: String },
}

fn decide(
    before: Option<(&Zone, &Served)>,
    zone: &mut Zone,
    settings: &ZoneSettings,
    pools: Vec<Record>,
    now_unix: u64,
) -> Decided {
    let written = zone.serial();
    let Some((old_zone, old)) = before else {
        let serial = match settings.serial {
            SerialPolicy::Auto => serial::auto(written, None, now_unix),
            SerialPolicy::AsWritten => written,
        };
        zone.set_serial(serial);
        return Decided::New(served(serial, pools.into(), Arc::default()));
    };
    if settings.serial == SerialPolicy::AsWritten && settings.transfer.is_none() && settings.notify.is_empty() {
        // Nobody may transfer the zone, so no copy can go stale: its data is taken as written,
        // whatever its serial, and it keeps no journal (see the README, Zone transfers).
        let decided = served(written, pools.into(), Arc::default());
        return if written == old.serial { Decided::Kept(decided) } else { Decided::New(decided) };
    }
    let same_data = content(old_zone) == content(zone);
    let kept = || served(old.serial, old.pool_records.clone(), old.journal.clone());
    let serial = match (settings.serial, same_data) {
        (SerialPolicy::Auto, true) => {
            zone.set_serial(old.serial);
            return Decided::Kept(kept());
        }
        (SerialPolicy::Auto, false) => serial::auto(written, Some(old.serial), now_unix),
        (SerialPolicy::AsWritten, _) if written == old.serial => {
            if same_data {
                return Decided::Kept(kept());
            }
            let why = format!(
                "its data changed but its serial did not ({written}): raise the SOA serial (or set serial = \"auto\")"
            );
            return Decided::Refused { served: kept(), why };
        }
        (SerialPolicy::AsWritten, _) if !serial::is_after(written, old.serial) => {
            let why = format!(
                "its serial went back from {} to {written} (RFC 1982): secondaries would never take it",
                old.serial
            );
            return Decided::Refused { served: kept(), why };
        }
        (SerialPolicy::AsWritten, _) => written,
    };
    zone.set_serial(serial);
    let pools: Arc<[Record]> = pools.into();
    let diff = Diff::between(old_zone, &old.pool_records, zone, &pools);
    let journal = Arc::new(old.journal.with(diff, settings.journal_max));
    Decided::New(served(serial, pools, journal))
}

fn served(serial: u32, pool_records: Arc<[Record]>, journal: Arc<Journal>) -> Served {
    Served { acls: Vec::new(), notify: Vec::new(), serial, pool_records, journal }
}

/// A record's identity for comparing versions: its wire form, owner lowercased.
pub(crate) fn record_key(record: &Record) -> Vec<u8> {
    use hickory_proto::serialize::binary::BinEncodable;
    let mut record = record.clone();
    record.name = record.name.to_lowercase();
    record.to_bytes().unwrap_or_default()
}

/// The records of a zone version, by identity, with its SOA's serial left out: two
/// versions alike here differ in their serial alone.
fn content(zone: &Zone) -> HashSet<Vec<u8>> {
    let mut keys: HashSet<Vec<u8>> = records(zone, &[]).map(|r| record_key(&r)).collect();
    let mut soa = zone.soa().clone();
    if let RData::SOA(data) = &mut soa.data {
        data.serial = 0;
    }
    keys.insert(record_key(&soa));
    keys
}

/// Every record of a zone version but its SOA: the zone's data, then `pools`. An AXFR sends
/// them between two copies of the SOA (RFC 5936 section 2.2).
pub fn records<'z>(zone: &'z Zone, pools: &'z [Record]) -> impl Iterator<Item = Record> + 'z {
    let data = zone.nodes().flat_map(|(_, node)| node.rrsets.iter()).filter(|set| set.rtype != RecordType::SOA);
    data.flat_map(|set| set.decoded()).chain(pools.iter().cloned())
}

/// The records every pool living in the zone at `origin` is transferred with: its fallback
/// set for each family ([`crate::steering::fallback_set`]), at the pool's TTL.
pub fn fallback_records(steering: &Steering, zones: &Zones, origin: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    for pool in &steering.pools {
        let key = NameKey::new(&pool.name);
        if zones.find(&key).map(|z| &*z.origin_key) != Some(origin) {
            continue;
        }
        for family in [Family::V4, Family::V6] {
            out.extend(crate::steering::fallback_set(pool, family).into_iter().map(|e| e.record.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests;
