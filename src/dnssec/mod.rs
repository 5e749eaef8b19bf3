//! DNSSEC online signing: each zone's keys ([`ZoneKeys`], read by `load`), signatures made
//! per RRset in canonical form (`rrsig`) and kept in a bounded cache shared by the workers
//! (`cache`), validity windows aligned to fixed boundaries (`window`), and NSEC records for
//! compact denial of existence (`nsec`, RFC 9824).
//!
//! Pure but for `load`, which reads key files through `files`: no sockets and no clock (the
//! time a window is taken at is passed in). The answer pipeline's sign stage
//! (`dns::sign`) puts these together.

pub mod cache;
pub mod key;
pub mod keyfiles;
pub mod load;
pub mod nsec;
pub mod rrsig;
pub mod window;

use std::collections::HashMap;
use std::path::PathBuf;

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use key::SigningKey;
use window::Validity;

/// One key of a zone, as configured.
#[derive(Debug)]
pub struct ZoneKey {
    pub key: SigningKey,
    /// In the DNSKEY set, signing nothing (pre-publication).
    pub publish_only: bool,
    /// The key's files, without `.key` / `.private`.
    pub file: PathBuf,
}

/// A signed zone's keys and signature validity.
#[derive(Debug)]
pub struct ZoneKeys {
    /// The zone's origin, lowercase wire form.
    pub origin: Box<[u8]>,
    pub origin_name: Name,
    pub keys: Vec<ZoneKey>,
    pub validity: Validity,
    /// Whether CDS and CDNSKEY are published (RFC 7344, RFC 8078).
    pub cds: bool,
}

impl ZoneKeys {
    /// The keys that sign RRsets of `rtype`: the key-signing keys (SEP set) sign the apex
    /// key sets (DNSKEY, CDS, CDNSKEY), the zone-signing keys everything else; a zone with
    /// keys of one kind only (a CSK) signs everything with them. Publish-only keys sign
    /// nothing.
    pub fn signers(&self, rtype: RecordType) -> impl Iterator<Item = &SigningKey> {
        let active = || self.keys.iter().filter(|k| !k.publish_only).map(|k| &k.key);
        let has_ksk = active().any(SigningKey::is_sep);
        let has_zsk = active().any(|k| !k.is_sep());
        let is_key_set = matches!(rtype, RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY);
        active().filter(move |k| if is_key_set { k.is_sep() || !has_ksk } else { !k.is_sep() || !has_zsk })
    }

    /// The records this zone's apex gains: DNSKEY for every key, and with `cds`, CDS (SHA-256)
    /// and CDNSKEY for each signing SEP key (RFC 7344 section 4), all with `ttl`.
    pub fn apex_records(&self, ttl: u32) -> Vec<Record> {
        let record = |rtype: RecordType, data: &[u8]| {
            let data = RData::Unknown { code: rtype, rdata: NULL::with(data.to_vec()) };
            Record::from_rdata(self.origin_name.clone(), ttl, data)
        };
        let mut records: Vec<Record> = self.keys.iter().map(|k| record(RecordType::DNSKEY, &k.key.dnskey)).collect();
        if self.cds {
            for k in self.keys.iter().filter(|k| !k.publish_only && k.key.is_sep()) {
                records.push(record(RecordType::CDS, &k.key.ds_rdata()));
                records.push(record(RecordType::CDNSKEY, &k.key.dnskey));
            }
        }
        records
    }
}

/// Every signed zone's keys, by origin (lowercase wire form).
#[derive(Debug, Default)]
pub struct Signing {
    zones: HashMap<Box<[u8]>, ZoneKeys, rustc_hash::FxBuildHasher>,
}

impl Signing {
    pub fn new(zones: Vec<ZoneKeys>) -> Self {
        Self { zones: zones.into_iter().map(|z| (z.origin.clone(), z)).collect() }
    }

    /// The keys of the zone whose origin is `origin`, if it is signed.
    pub fn zone(&self, origin: &[u8]) -> Option<&ZoneKeys> {
        if self.zones.is_empty() {
            return None;
        }
        self.zones.get(origin)
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ZoneKeys> {
        self.zones.values()
    }

    /// The earliest time after `unix_secs` at which some zone's validity window moves.
    pub fn next_change(&self, unix_secs: u64) -> Option<u64> {
        self.zones.values().map(|z| z.validity.next_change(unix_secs)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::key::Algorithm;

    fn keys(specs: &[(bool, bool)]) -> ZoneKeys {
        let origin_name = Name::from_ascii("example.com.").unwrap();
        let keys = specs
            .iter()
            .map(|&(sep, publish_only)| ZoneKey {
                key: SigningKey::generate(&origin_name, Algorithm::Ed25519, sep).unwrap(),
                publish_only,
                file: PathBuf::new(),
            })
            .collect();
        ZoneKeys {
            origin: key::canonical_owner(&origin_name),
            origin_name,
            keys,
            validity: Validity::default(),
            cds: true,
        }
    }

    fn signing(zone: &ZoneKeys, rtype: RecordType) -> Vec<u16> {
        zone.signers(rtype).map(|k| k.flags).collect()
    }

    #[test]
    fn a_csk_signs_everything_a_pair_splits_the_work_and_publish_only_signs_nothing() {
        let csk = keys(&[(true, false)]);
        assert_eq!((signing(&csk, RecordType::A), signing(&csk, RecordType::DNSKEY)), (vec![257], vec![257]));
        let pair = keys(&[(true, false), (false, false)]);
        assert_eq!((signing(&pair, RecordType::A), signing(&pair, RecordType::DNSKEY)), (vec![256], vec![257]));
        assert_eq!(signing(&pair, RecordType::CDS), vec![257]);
        let rolling = keys(&[(true, false), (true, true)]);
        assert_eq!(signing(&rolling, RecordType::A), vec![257], "the pre-published key signs nothing");
        // Both keys are in the DNSKEY set; CDS and CDNSKEY only for the signing one.
        let types: Vec<RecordType> = rolling.apex_records(300).iter().map(Record::record_type).collect();
        assert_eq!(types, [RecordType::DNSKEY, RecordType::DNSKEY, RecordType::CDS, RecordType::CDNSKEY]);
    }
}
