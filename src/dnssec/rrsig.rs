//! RRSIG records: the signed data of an RRset in canonical form (RFC 4034 sections 3.1.8.1
//! and 6), and the records made per response ([`Made`]: RRSIG and NSEC), held in wire form
//! for our encoder and as hickory's records for its.

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinDecodable;

use super::key::SigningKey;
use super::window::Window;

/// A record made for a response: an RRSIG (cached, see `cache`) or an NSEC.
#[derive(Debug)]
pub struct Made {
    /// The owner, lowercase wire form.
    pub owner: Box<[u8]>,
    pub rtype: RecordType,
    pub ttl: u32,
    /// The record's data, whose names are never compressed (RFC 4034 sections 3.1.7, 4.1.1).
    pub rdata: Box<[u8]>,
    /// The same record as hickory's (opaque data), for its encoder.
    pub record: Record,
    /// For a cached RRSIG: the signed data without the signature, compared on every hit.
    pub signed: Box<[u8]>,
    /// For an RRSIG: the [`SigningKey::id`] of the key that made it.
    pub key_id: u64,
}

impl Made {
    /// A record from its parts; `None` when the owner is not a name (never for ours).
    pub fn new(owner: &[u8], rtype: RecordType, ttl: u32, rdata: Vec<u8>, signed: Box<[u8]>) -> Option<Self> {
        let name = Name::from_bytes(owner).ok()?;
        let mut record =
            Record::from_rdata(name, ttl, RData::Unknown { code: rtype, rdata: NULL::with(rdata.clone()) });
        record.dns_class = DNSClass::IN;
        Some(Self { owner: owner.into(), rtype, ttl, rdata: rdata.into(), record, signed, key_id: 0 })
    }

    /// Octets the record takes on its own, owner uncompressed.
    pub fn wire_len(&self) -> usize {
        self.owner.len() + 10 + self.rdata.len()
    }
}

/// One RRset to sign, its records' data as on the wire (names uncompressed, any case).
#[derive(Debug, Clone, Copy)]
pub struct ToSign<'a> {
    /// The owner, lowercase wire form.
    pub owner: &'a [u8],
    pub rtype: RecordType,
    pub ttl: u32,
}

/// Buffers reused from one signature to the next, so that a cache hit allocates nothing.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Each record's data in canonical form, one after another.
    rdata: Vec<u8>,
    /// Where each record's data lies in `rdata`.
    ranges: Vec<(usize, usize)>,
    /// The signed data: the RRSIG's fields, then the records (RFC 4034 section 3.1.8.1).
    pub signed: Vec<u8>,
}

/// The number of labels of an owner for RRSIG's Labels field: the root and a leading
/// wildcard label not counted (RFC 4034 section 3.1.3).
pub fn labels_of(owner: &[u8]) -> u8 {
    let mut count = 0u8;
    let mut at = 0;
    while let Some(&len) = owner.get(at) {
        if len == 0 {
            break;
        }
        if !(at == 0 && len == 1 && owner.get(1) == Some(&b'*')) {
            count += 1;
        }
        at += 1 + usize::from(len);
    }
    count
}

/// Writes into `scratch.signed` the data `key` signs for `set` in `window`: the RRSIG RDATA
/// without its signature, then each record in canonical form and order, duplicates left
/// out (RFC 4034 sections 3.1.8.1, 6.2 and 6.3).
pub fn signed_data<'d>(
    scratch: &mut Scratch,
    key: &SigningKey,
    window: Window,
    set: ToSign<'_>,
    rdata: impl Iterator<Item = &'d [u8]>,
) {
    scratch.rdata.clear();
    scratch.ranges.clear();
    for data in rdata {
        let start = scratch.rdata.len();
        scratch.rdata.extend_from_slice(data);
        lowercase_names(set.rtype, &mut scratch.rdata[start..]);
        scratch.ranges.push((start, scratch.rdata.len()));
    }
    let all = &scratch.rdata;
    scratch.ranges.sort_unstable_by(|a, b| all[a.0..a.1].cmp(&all[b.0..b.1]));
    scratch.ranges.dedup_by(|a, b| all[a.0..a.1] == all[b.0..b.1]);
    let out = &mut scratch.signed;
    out.clear();
    rrsig_fields(out, key, window, set);
    for &(start, end) in &scratch.ranges {
        out.extend_from_slice(set.owner);
        out.extend_from_slice(&u16::from(set.rtype).to_be_bytes());
        out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        out.extend_from_slice(&set.ttl.to_be_bytes());
        out.extend_from_slice(&((end - start) as u16).to_be_bytes());
        out.extend_from_slice(&all[start..end]);
    }
}

/// The RRSIG RDATA up to the signature (RFC 4034 section 3.1).
fn rrsig_fields(out: &mut Vec<u8>, key: &SigningKey, window: Window, set: ToSign<'_>) {
    out.extend_from_slice(&u16::from(set.rtype).to_be_bytes());
    out.push(key.algorithm.number());
    out.push(labels_of(set.owner));
    out.extend_from_slice(&set.ttl.to_be_bytes());
    // Serial number arithmetic on 32 bits (RFC 4034 section 3.1.5): the low 32 bits.
    out.extend_from_slice(&(window.expiration as u32).to_be_bytes());
    out.extend_from_slice(&(window.inception as u32).to_be_bytes());
    out.extend_from_slice(&key.tag.to_be_bytes());
    out.extend_from_slice(&key.owner);
}

/// The octets of the RRSIG fields before the records, for a signer name of `signer_len`.
fn fields_len(signer_len: usize) -> usize {
    18 + signer_len
}

/// Signs what [`signed_data`] wrote: the RRSIG record for it.
///
/// # Errors
/// The key could not sign.
pub fn sign(scratch: &Scratch, key: &SigningKey, set: ToSign<'_>) -> Result<Made, super::key::KeyError> {
    let signature = key.sign(&scratch.signed)?;
    let fields = &scratch.signed[..fields_len(key.owner.len())];
    let mut rdata = Vec::with_capacity(fields.len() + signature.len());
    rdata.extend_from_slice(fields);
    rdata.extend_from_slice(&signature);
    let mut made = Made::new(set.owner, RecordType::RRSIG, set.ttl, rdata, scratch.signed.clone().into())
        .ok_or(super::key::KeyError::Sign)?;
    made.key_id = key.id;
    Ok(made)
}

/// Folds to lowercase the names in data of the types RFC 4034 section 6.2 lists (as
/// updated by RFC 6840 section 5.1) that we hold: the name octets only, whose label lengths
/// (at most 63) are below every ASCII capital, so folding the whole name is safe.
fn lowercase_names(rtype: RecordType, data: &mut [u8]) {
    let skip = match rtype {
        RecordType::NS | RecordType::CNAME | RecordType::PTR => 0,
        RecordType::MX => 2,
        RecordType::SRV => 6,
        RecordType::SOA => {
            let mname = name_len(data);
            let both = mname + name_len(&data[mname..]);
            data[..both].make_ascii_lowercase();
            return;
        }
        _ => return,
    };
    if let Some(name) = data.get_mut(skip..) {
        let len = name_len(name);
        name[..len].make_ascii_lowercase();
    }
}

/// The length of the uncompressed name at the start of `wire`, root label included.
fn name_len(wire: &[u8]) -> usize {
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    at.min(wire.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::key::Algorithm;

    #[test]
    fn labels_leave_out_the_root_and_a_wildcard() {
        assert_eq!(labels_of(b"\x03www\x07example\x03com\x00"), 3);
        assert_eq!(labels_of(b"\x01*\x07example\x03com\x00"), 2);
        assert_eq!(labels_of(b"\x00"), 0);
    }

    #[test]
    fn signed_data_is_canonical_sorted_and_without_duplicates() {
        let zone = Name::from_ascii("example.com.").unwrap();
        let key = SigningKey::generate(&zone, Algorithm::Ed25519, true).unwrap();
        let window = Window { inception: 10, expiration: 20 };
        let owner = b"\x02ns\x07example\x03com\x00";
        let set = ToSign { owner, rtype: RecordType::NS, ttl: 300 };
        let (b, a) = (&b"\x01B\x07Example\x03com\x00"[..], &b"\x01a\x07example\x03com\x00"[..]);
        let mut scratch = Scratch::default();
        signed_data(&mut scratch, &key, window, set, [b, a, b].into_iter());
        let fields = fields_len(key.owner.len());
        let records = &scratch.signed[fields..];
        let rr = |data: &[u8]| [&owner[..], &[0, 2, 0, 1, 0, 0, 1, 44, 0, data.len() as u8], data].concat();
        assert_eq!(records, [rr(a), rr(b"\x01b\x07example\x03com\x00")].concat());
        assert_eq!(&scratch.signed[..4], &[0, 2, 15, 3]); // NS, algorithm 15, three labels
        let made = sign(&scratch, &key, set).unwrap();
        assert_eq!(made.rdata.len(), fields + 64);
    }
}
