//! The pre-encoded form of an RRset, made once when a zone is built: the owner name and
//! each record's data in wire form with every name written whole, so that the response
//! encoder (`dns::wire`) copies octets and compresses names (RFC 1035 section 4.1.4) without
//! going through hickory's encoder per query. Zone data, so it lives with the zone: `dns`
//! reads it, and nothing here knows of `dns`.

use hickory_proto::rr::Record;
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
    /// The wire form of an RRset's records, or `None` for a type whose data may hold names
    /// compressed against each other (the encoder leaves those to hickory).
    pub fn of(records: &[Record]) -> Option<Self> {
        let first = records.first()?;
        let owner = first.name.to_bytes().ok()?.into_boxed_slice();
        let rdata = records.iter().map(rdata_of).collect::<Option<Vec<_>>>()?;
        Some(Self { owner, class: u16::from(first.dns_class), rdata: rdata.into_boxed_slice() })
    }
}

/// One record's data with names written whole: hickory encodes each name on its own (a fresh
/// encoder has nothing to point back to), and SOA, the one prepared type with two names, is
/// put together here.
fn rdata_of(record: &Record) -> Option<Box<[u8]>> {
    use hickory_proto::rr::RData;
    let bytes = match &record.data {
        RData::SOA(soa) => {
            let mut out = soa.mname.to_bytes().ok()?;
            out.extend(soa.rname.to_bytes().ok()?);
            for n in [soa.serial, soa.refresh as u32, soa.retry as u32, soa.expire as u32, soa.minimum] {
                out.extend(n.to_be_bytes());
            }
            out
        }
        RData::A(_)
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
        | RData::Unknown { .. } => record.data.to_bytes().ok()?,
        _ => return None,
    };
    Some(bytes.into_boxed_slice())
}
