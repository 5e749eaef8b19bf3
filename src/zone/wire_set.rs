//! The pre-encoded form of an RRset, made once when a zone is built: the owner name and
//! each record's data in wire form with every name written whole, so that the response
//! encoder (`dns::wire`) copies octets and compresses names (RFC 1035 section 4.1.4) without
//! going through hickory's encoder per query. Zone data, so it lives with the zone: `dns`
//! reads it, and nothing here knows of `dns`.

use hickory_proto::ProtoError;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, Restrict};

/// The record data of an RRset, encoded once with every name uncompressed.
#[derive(Debug, Clone)]
pub struct WireSet {
    /// The owner name as loaded (its case kept).
    pub owner: Box<[u8]>,
    pub class: u16,
    /// Each record's RDLENGTH (RFC 1035 section 4.1.3) and data, one after another: one
    /// allocation per RRset rather than one per record.
    rdata: Box<[u8]>,
}

impl WireSet {
    /// The wire form of an RRset from its records' data encoded by [`rdata_of`], or `None`
    /// for a type whose data may hold names compressed against each other (the encoder
    /// leaves those to hickory).
    pub(super) fn new<'a>(
        owner: &Name,
        class: u16,
        first: &RData,
        rdata: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Option<Self> {
        if !is_prepared(first) {
            return None;
        }
        let owner = owner.to_bytes().ok()?.into_boxed_slice();
        let mut all = Vec::with_capacity(rdata.clone().map(|r| 2 + r.len()).sum());
        for data in rdata {
            // `rdata_of` refuses data over 65,535 octets, so the length fits.
            all.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
            all.extend_from_slice(data);
        }
        Some(Self { owner, class, rdata: all.into_boxed_slice() })
    }

    /// Each record's data, in order.
    pub fn rdata(&self) -> Rdata<'_> {
        Rdata { rest: &self.rdata }
    }

    /// The records as hickory's, decoded from the wire form; data that does not decode (it
    /// was encoded by hickory, so none should) is left out.
    pub(super) fn decode(&self, rtype: RecordType, ttl: u32) -> Vec<Record> {
        let Ok(owner) = Name::from_bytes(&self.owner) else { return Vec::new() };
        let decode = |data: &[u8]| {
            let mut decoder = BinDecoder::new(data);
            let length = Restrict::new(u16::try_from(data.len()).ok()?);
            let data = RData::read(&mut decoder, rtype, length).ok()?;
            let mut record = Record::from_rdata(owner.clone(), ttl, data);
            record.dns_class = DNSClass::from(self.class);
            Some(record)
        };
        self.rdata().filter_map(decode).collect()
    }
}

/// The records' data of a [`WireSet`], without allocating.
pub struct Rdata<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Rdata<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (length, rest) = self.rest.split_first_chunk::<2>()?;
        let (data, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*length)))?;
        self.rest = rest;
        Some(data)
    }
}

/// Whether the response encoder writes data like this from its prepared form: the types
/// whose names it knows how to find (and compress only where RFC 3597 section 4 allows) or
/// that hold none. DS is kept as opaque data (`Unknown`), like the types we do not know.
fn is_prepared(data: &RData) -> bool {
    matches!(
        data,
        RData::SOA(_)
            | RData::A(_)
            | RData::AAAA(_)
            | RData::TXT(_)
            | RData::NS(_)
            | RData::CNAME(_)
            | RData::PTR(_)
            | RData::MX(_)
            | RData::SRV(_)
            | RData::CAA(_)
            | RData::HINFO(_)
            | RData::NAPTR(_)
            | RData::SSHFP(_)
            | RData::TLSA(_)
            | RData::SVCB(_)
            | RData::HTTPS(_)
            | RData::Unknown { .. }
    )
}

/// One record's data with names written whole: hickory encodes each name on its own (a fresh
/// encoder has nothing to point back to), and SOA, the one prepared type with two names, is
/// put together here.
///
/// # Errors
/// Data that cannot be encoded at all: a character-string over 255 octets (RFC 1035 section
/// 3.3), or data over the 65,535 octets RDLENGTH can count (section 4.1.3).
pub fn rdata_of(data: &RData) -> Result<Box<[u8]>, ProtoError> {
    let bytes = match data {
        RData::SOA(soa) => {
            let mut out = soa.mname.to_bytes()?;
            out.extend(soa.rname.to_bytes()?);
            for n in [soa.serial, soa.refresh as u32, soa.retry as u32, soa.expire as u32, soa.minimum] {
                out.extend(n.to_be_bytes());
            }
            out
        }
        _ => data.to_bytes()?,
    };
    Ok(bytes.into_boxed_slice())
}
