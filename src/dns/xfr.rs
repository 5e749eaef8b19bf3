//! Zone transfers out over TCP: AXFR (RFC 5936) and IXFR (RFC 1995), from one snapshot.
//!
//! A TCP connection hands a transfer request here instead of to the answer pipeline
//! ([`is_transfer`]); [`Transfer::start`] decides what to send, whole, from the snapshot it
//! is given (one consistent version for the whole transfer), and [`Transfer::next_message`]
//! writes it one message at a time, so the connection writes each before the next is built.
//! Off the query path: this allocates (the records to send are listed at the start).
//!
//! ```text
//!   AXFR                      SOA, every record, pools as their fallback sets, SOA
//!   IXFR, client current      SOA                             (RFC 1995 section 2)
//!   IXFR, in the journal      SOA, (old SOA, removed, new SOA, added)..., SOA  (section 4)
//!   IXFR, older or a gap      as AXFR                                          (section 4)
//!   not allowed, not ours     REFUSED
//! ```
//!
//! Messages hold up to [`SOFT_LIMIT`] octets of records, names compressed within each, and
//! never more than 65,535 less room for a TSIG record. Each message is handed to a
//! [`Sign`]er before it goes: where TSIG signs every message of the stream (RFC 8945 section
//! 5.3.1).

use std::net::SocketAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use crate::snapshot::Snapshot;
use crate::transfer::{self, serial};
use crate::zone::name::NameKey;

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;
/// A message takes records until it holds this many octets: names compress only against
/// the first 16 KiB of a message (a pointer has 14 bits), so larger messages save little.
const SOFT_LIMIT: usize = 16 * 1024;
/// What a message may hold: 65,535 (RFC 1035 section 4.2.2) less room for a TSIG record.
const HARD_LIMIT: usize = 65_535 - 512;

/// Signs each message of a transfer before it is sent; TSIG's multi-message signer (RFC 8945
/// section 5.3.1) implements it.
pub trait Sign {
    /// Adds what the message needs (a TSIG record, its count) to `message`, a whole DNS
    /// message; `first` is true of the first message of the stream.
    fn sign(&mut self, message: &mut Vec<u8>, first: bool);
}

/// Messages sent as they are: a request that was not signed.
pub struct Unsigned;

impl Sign for Unsigned {
    fn sign(&mut self, _message: &mut Vec<u8>, _first: bool) {}
}

/// Whether a message asks for a zone transfer (a query with one question of type AXFR or
/// IXFR): read from the header and question alone, without allocating.
pub fn is_transfer(message: &[u8]) -> bool {
    let Some(header) = message.get(..HEADER_LEN) else { return false };
    let is_query = header[2] & 0x80 == 0 && (header[2] >> 3) & 0x0f == 0;
    if !is_query || u16::from_be_bytes([header[4], header[5]]) != 1 {
        return false;
    }
    let mut at = HEADER_LEN;
    while let Some(&len) = message.get(at) {
        if len == 0 {
            let qtype = message.get(at + 1..at + 3).map(|t| u16::from_be_bytes([t[0], t[1]]));
            return matches!(qtype, Some(251 | 252));
        }
        if len & 0xc0 != 0 {
            return false;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// One transfer's answer: the records to send, in order, and where it is.
pub struct Transfer {
    id: u16,
    recursion_desired: bool,
    rcode: ResponseCode,
    /// The question as asked, in its first message.
    question: Option<(Name, RecordType)>,
    records: Vec<Record>,
    at: usize,
    /// Whether a message was written (a refusal is one message with no records).
    started: bool,
    /// What was sent, for the log: "AXFR", "IXFR", "IXFR up to date", "IXFR as AXFR".
    pub kind: &'static str,
}

impl Transfer {
    /// What to send for the transfer `request` from `peer`, verified with the TSIG key `key`
    /// (none when unsigned), from `snapshot`. A request that cannot be read, for a zone we
    /// do not serve, or from a client not allowed gets one message: FORMERR or REFUSED.
    pub fn start(snapshot: &Snapshot, request: &[u8], peer: SocketAddr, key: Option<&Name>) -> Self {
        let mut transfer = Self {
            id: request.get(..2).map_or(0, |id| u16::from_be_bytes([id[0], id[1]])),
            recursion_desired: request.get(2).is_some_and(|b| b & 1 != 0),
            rcode: ResponseCode::Refused,
            question: None,
            records: Vec::new(),
            at: 0,
            started: false,
            kind: "refused",
        };
        let Ok(message) = hickory_proto::op::Message::from_vec(request) else {
            transfer.rcode = ResponseCode::FormErr;
            return transfer;
        };
        let Some(query) = message.queries.first() else { return transfer };
        let (qname, qtype) = (query.name().clone(), query.query_type());
        transfer.question = Some((qname.clone(), qtype));
        let origin = NameKey::new(&qname);
        let (Some(zone), Some(served)) =
            (snapshot.zones.get(origin.as_bytes()), snapshot.transfers.get(origin.as_bytes()))
        else {
            return transfer; // not a zone we serve (RFC 5936 section 2.2.1: REFUSED will do)
        };
        if !served.permits(peer.ip(), key) {
            return transfer;
        }
        transfer.rcode = ResponseCode::NoError;
        let soa = zone.soa().clone();
        let whole = |soa: &Record| {
            let mut records = vec![soa.clone()];
            records.extend(transfer::records(zone, &served.pool_records));
            records.push(soa.clone());
            records
        };
        if qtype == RecordType::AXFR {
            transfer.kind = "AXFR";
            transfer.records = whole(&soa);
            return transfer;
        }
        // RFC 1995 section 3: the authority section holds the client's SOA.
        let client = message.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
        let Some(client) = client else {
            transfer.rcode = ResponseCode::FormErr;
            return transfer;
        };
        let current = served.serial;
        if client == current || serial::is_after(client, current) {
            transfer.kind = "IXFR up to date";
            transfer.records = vec![soa];
            return transfer;
        }
        match served.journal.since(client) {
            Some(diffs) => {
                transfer.kind = "IXFR";
                let mut records = vec![soa.clone()];
                for diff in diffs {
                    records.push(diff.old_soa.clone());
                    records.extend(diff.removed.iter().cloned());
                    records.push(diff.new_soa.clone());
                    records.extend(diff.added.iter().cloned());
                }
                records.push(soa);
                transfer.records = records;
            }
            None => {
                transfer.kind = "IXFR as AXFR";
                transfer.records = whole(&soa);
            }
        }
        transfer
    }

    /// How many records the transfer sends.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Whether the transfer sends records (and not a refusal).
    pub fn is_refused(&self) -> bool {
        self.rcode != ResponseCode::NoError
    }

    /// Writes the next message into `out` (without its TCP length prefix), signed by
    /// `signer`; `false` when the transfer is over and nothing was written.
    pub fn next_message(&mut self, signer: &mut dyn Sign, out: &mut Vec<u8>) -> bool {
        if self.started && self.at >= self.records.len() {
            return false;
        }
        out.clear();
        let first = !self.started;
        self.started = true;
        let mut encoder = BinEncoder::new(out);
        encoder.set_max_size(HARD_LIMIT as u16);
        let mut header = [0u8; HEADER_LEN];
        header[..2].copy_from_slice(&self.id.to_be_bytes());
        // QR, AA (RFC 5936 section 2.2.1), RD copied; opcode QUERY.
        header[2] = 0x80 | 0x04 | u8::from(self.recursion_desired);
        header[3] = u16::from(self.rcode) as u8 & 0x0f;
        let _ = encoder.emit_vec(&header);
        let mut questions = 0u16;
        if let Some((name, qtype)) = self.question.as_ref().filter(|_| first) {
            let written = name.emit(&mut encoder).and_then(|()| {
                encoder.emit_u16(u16::from(*qtype))?;
                encoder.emit_u16(1)
            });
            if written.is_ok() {
                questions = 1;
            }
        }
        let mut answers = 0u16;
        while let Some(record) = self.records.get(self.at) {
            if encoder.offset() >= SOFT_LIMIT {
                break;
            }
            let before = encoder.offset();
            if record.emit(&mut encoder).is_err() {
                encoder.set_offset(before);
                encoder.trim();
                if answers == 0 {
                    // Alone it does not fit: the zone's checks keep such records out.
                    self.at += 1;
                    continue;
                }
                break;
            }
            answers += 1;
            self.at += 1;
        }
        drop(encoder);
        out[4..6].copy_from_slice(&questions.to_be_bytes());
        out[6..8].copy_from_slice(&answers.to_be_bytes());
        signer.sign(out, first);
        true
    }
}

#[cfg(test)]
mod tests;
