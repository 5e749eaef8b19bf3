//! The pre-encoded form of an RRset, made once when a zone is built: the owner name and
//! each record's data in wire form with every name written whole, so that the response
//! encoder (`dns::wire`) copies octets and compresses names (RFC 1035 section 4.1.4) without
//! going through hickory's encoder per query. Zone data, so it lives with the zone: `dns`
//! reads it, and nothing here knows of `dns`.

use hickory_proto::ProtoError;
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::BinEncodable;

/// The record data of an RRset, encoded once with every name uncompressed.
#[derive(Debug, Clone)]
pub struct WireSet {
    /// The owner name as loaded (its case kept).
    pub owner: Box<[u8]>,
    pub class: u16,
    pub rdata: Box<[Box<[u8]>]>,
}

impl WireSet {
    /// The wire form of an RRset from its records' data encoded by [`rdata_of`], or `None`
    /// for a type whose data may hold names compressed against each other (the encoder
    /// leaves those to hickory).
    pub(super) fn new(owner: &Name, class: u16, first: &RData, rdata: Vec<Box<[u8]>>) -> Option<Self> {
        if !is_prepared(first) {
            return None;
        }
        let owner = owner.to_bytes().ok()?.into_boxed_slice();
        Some(Self { owner, class, rdata: rdata.into_boxed_slice() })
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
pub(super) fn rdata_of(data: &RData) -> Result<Box<[u8]>, ProtoError> {
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
