//! What a query asks: its header, its question and its EDNS, as the answer function reads
//! them ([`Asked`]).
//!
//! Two ways in. [`Asked::parse`] reads the common shape of a query straight from the datagram
//! (a header, one question, at most an OPT record whose only options are a client subnet),
//! without allocating; anything else it leaves to hickory's parser, whose result
//! [`Asked::from_request`] reads. A test runs every query of the differential and malformed
//! corpora both ways and requires byte-identical answers, so the two cannot drift.

use std::net::IpAddr;

use hickory_proto::op::{Header, Metadata};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use super::ecs::{self, ClientSubnet, EcsError};
use crate::zone::name::NameKey;

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;
/// The OPT record type (RFC 6891 section 6.1.1).
const OPT_TYPE: u16 = 41;
/// The CO flag among the EDNS flags, the bit after DO (RFC 9824 section 4).
const COMPACT_OK: u16 = 0x4000;
/// The client subnet option (RFC 7871 section 6).
const ECS_OPTION: u16 = 8;

/// A query as the answer function reads it. Borrows the message.
#[derive(Debug, Clone)]
pub struct Asked<'a> {
    pub metadata: Metadata,
    /// How many questions the query has.
    pub question_count: usize,
    /// The question section as sent, echoed in the response.
    pub question_bytes: &'a [u8],
    /// The question, when there is exactly one.
    pub question: Option<Question<'a>>,
    pub edns: Option<AskedEdns>,
    /// The client subnet option, read once (RFC 7871 section 6): none without an OPT record,
    /// an error when it is malformed.
    pub ecs: Result<Option<ClientSubnet>, EcsError>,
    pub protocol: Protocol,
    pub source: IpAddr,
}

/// The one question of a query.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    /// The name as sent (its case kept), in wire form; empty when it uses a compression
    /// pointer, which a lone question cannot rightly do.
    pub name: &'a [u8],
    /// The name folded to lowercase, for lookups.
    pub key: NameKey,
    pub qtype: RecordType,
    pub qclass: DNSClass,
}

/// The query's OPT record (RFC 6891 section 6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskedEdns {
    pub version: u8,
    /// The requestor's UDP payload size, as sent.
    pub max_payload: u16,
    pub dnssec_ok: bool,
    /// The Compact Answers OK flag (RFC 9824 section 4): a denied name may keep NXDOMAIN.
    pub compact_ok: bool,
    /// Whether it asks for the name server identifier (RFC 5001).
    pub nsid: bool,
}

impl<'a> Asked<'a> {
    /// Reads the common shape of a query without allocating; `None` for anything else (more
    /// records, other EDNS options, compression, trailing octets...), which hickory reads.
    pub fn parse(message: &'a [u8], source: IpAddr, protocol: Protocol) -> Option<Self> {
        let header = Header::read(&mut BinDecoder::new(message.get(..HEADER_LEN)?)).ok()?;
        let counts = header.counts;
        if counts.queries != 1 || counts.answers != 0 || counts.authorities != 0 || counts.additionals > 1 {
            return None;
        }
        let name_len = wire_name_len(message, HEADER_LEN)?;
        let question_end = HEADER_LEN + name_len + 4;
        let fixed = message.get(HEADER_LEN + name_len..question_end)?;
        let qtype = RecordType::from(u16::from_be_bytes([fixed[0], fixed[1]]));
        let qclass = DNSClass::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        let name = &message[HEADER_LEN..HEADER_LEN + name_len];
        let (edns, ecs) = match counts.additionals {
            1 => read_opt(message, question_end).map(|(edns, ecs)| (Some(edns), ecs))?,
            _ if message.len() != question_end => return None,
            _ => (None, None),
        };
        Some(Self {
            metadata: header.metadata,
            question_count: 1,
            question_bytes: &message[HEADER_LEN..question_end],
            question: Some(Question { name, key: NameKey::from_wire(name)?, qtype, qclass }),
            edns,
            ecs: Ok(ecs),
            protocol,
            source,
        })
    }

    /// Reads what hickory parsed.
    pub fn from_request(request: &'a Request) -> Self {
        let question_bytes = request.queries.as_bytes();
        let question = match request.queries.queries() {
            [query] => {
                let query = query.original();
                // The name's octets as sent; none when it is compressed (answered FORMERR).
                let name = wire_name_len(question_bytes, 0).map_or(&[][..], |len| &question_bytes[..len]);
                Some(Question {
                    name,
                    key: NameKey::new(query.name()),
                    qtype: query.query_type(),
                    qclass: query.query_class(),
                })
            }
            _ => None,
        };
        let edns = request.edns.as_ref().map(|e| AskedEdns {
            version: e.version(),
            max_payload: e.max_payload(),
            dnssec_ok: e.flags().dnssec_ok,
            compact_ok: e.flags().z & COMPACT_OK != 0,
            nsid: e.option(EdnsCode::NSID).is_some(),
        });
        let ecs = if edns.is_some() { ecs::find(request.as_slice()) } else { Ok(None) };
        Self {
            metadata: request.metadata,
            question_count: request.queries.queries().len(),
            question_bytes,
            question,
            edns,
            ecs,
            protocol: request.protocol(),
            source: request.src().ip(),
        }
    }
}

impl Question<'_> {
    /// The name as a hickory `Name`, in the case it was sent (for records made per query:
    /// wildcard synthesis, CHAOS); allocates, so only those rare paths call it.
    pub fn hickory_name(&self) -> Name {
        let labels = Labels { wire: self.name, at: 0 };
        Name::from_labels(labels)
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .unwrap_or_else(|_| Name::root())
    }
}

/// The labels of an uncompressed wire name.
struct Labels<'a> {
    wire: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.get(self.at)?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.at + 1..self.at + 1 + len)?;
        self.at += 1 + len;
        Some(label)
    }
}

/// The length of the uncompressed name at `at`, root label included; `None` if it is
/// compressed, too long, or runs past the message.
fn wire_name_len(message: &[u8], at: usize) -> Option<usize> {
    let mut end = at;
    loop {
        let len = usize::from(*message.get(end)?);
        if len == 0 {
            let total = end + 1 - at;
            return (total <= 255).then_some(total);
        }
        if len > 63 {
            return None; // a compression pointer, or a reserved label type
        }
        end += 1 + len;
        if end - at > 255 {
            return None;
        }
    }
}

/// The client subnet address of a query of the common shape, read cheaply and without
/// checking the rest: a hint of which address steering will locate, so that the UDP worker
/// can start fetching the geo table for a whole batch before answering it. A wrong or
/// missing hint costs a wasted fetch, never a wrong answer: [`Asked::parse`] decides.
pub fn client_subnet_hint(message: &[u8]) -> Option<IpAddr> {
    let counts = message.get(4..HEADER_LEN)?;
    // One question, and one additional record (the OPT record) after it.
    if counts != [0, 1, 0, 0, 0, 0, 0, 1] {
        return None;
    }
    let at = HEADER_LEN + wire_name_len(message, HEADER_LEN)? + 4;
    // OPT's fixed part (root owner, type, class, TTL, RDLENGTH), then the first option.
    let option = message.get(at + 11..)?;
    if u16::from_be_bytes([*option.first()?, *option.get(1)?]) != ECS_OPTION {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*option.get(2)?, *option.get(3)?]));
    ecs::parse(option.get(4..4 + len)?).ok().map(|subnet| subnet.address)
}

/// The OPT record at `at`, which must end the message: root owner, type 41, options that are
/// well formed, of which only a valid client subnet is taken here (and returned).
fn read_opt(message: &[u8], at: usize) -> Option<(AskedEdns, Option<ClientSubnet>)> {
    let fixed = message.get(at..at + 11)?;
    if fixed[0] != 0 || u16::from_be_bytes([fixed[1], fixed[2]]) != OPT_TYPE {
        return None;
    }
    let max_payload = u16::from_be_bytes([fixed[3], fixed[4]]);
    let ttl = u32::from_be_bytes([fixed[5], fixed[6], fixed[7], fixed[8]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[9], fixed[10]]));
    let options = message.get(at + 11..)?;
    if options.len() != rdlen {
        return None;
    }
    let mut offset = 0;
    let mut subnet = None;
    while offset < options.len() {
        let head = options.get(offset..offset + 4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = options.get(offset + 4..offset + 4 + len)?;
        // Only a well-formed client subnet, once: everything else (and every error, which
        // hickory and RFC 7871 section 6 answer in their own ways) takes the general path.
        if code != ECS_OPTION || subnet.is_some() {
            return None;
        }
        subnet = Some(ecs::parse(data).ok()?);
        offset += 4 + len;
    }
    let edns = AskedEdns {
        version: (ttl >> 16) as u8,
        max_payload,
        dnssec_ok: ttl & 0x8000 != 0,
        compact_ok: ttl as u16 & COMPACT_OK != 0,
        nsid: false,
    };
    Some((edns, subnet))
}
