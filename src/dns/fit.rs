//! Fitting a response into the size the client allows over UDP.
//!
//! RFC 2181 section 9: whole RRsets are dropped, never part of one; TC is set when data the
//! answer needs did not fit, and not when only additional data was left out. RFC 6891
//! section 7: the OPT record stays in a truncated response. We measure with the same encoder
//! and name compression hickory sends with, so what fits here fits on the wire.

use std::cell::RefCell;

use hickory_proto::op::Edns;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::response::{Answer, Rrs};

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;

thread_local! {
    /// Reused between responses so that measuring allocates nothing once warm.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Drops trailing RRsets until the response fits in `limit` octets, setting TC where needed.
pub fn fit(response: &mut Answer<'_>, question: &[u8], limit: usize) {
    let opt_len = response.edns.as_ref().map_or(0, opt_wire_len);
    let budget = limit.saturating_sub(opt_len);
    let upper_bound = HEADER_LEN
        + question.len()
        + [&response.answers, &response.authorities, &response.additionals]
            .iter()
            .flat_map(|section| section.iter())
            .map(upper_len)
            .sum::<usize>();
    if upper_bound <= budget {
        return; // the common case: it fits even without compression
    }
    let kept = SCRATCH.with_borrow_mut(|buf| measure(response, question, budget, buf));
    let truncated = kept[0] < response.answers.len()
        || kept[1] < response.authorities.len()
        || (kept[2] < response.additionals.len() && response.additionals_required);
    response.answers.truncate(kept[0]);
    response.authorities.truncate(kept[1]);
    response.additionals.truncate(kept[2]);
    response.metadata.truncation |= truncated;
}

/// How many RRsets of each section fit in `budget`, in order; once one section overflows,
/// the sections after it get nothing (the response is truncated there).
fn measure(response: &Answer<'_>, question: &[u8], budget: usize, buf: &mut Vec<u8>) -> [usize; 3] {
    buf.clear();
    let mut encoder = BinEncoder::new(buf);
    let mut kept = [0usize; 3];
    if encoder.emit_vec(&[0; HEADER_LEN]).is_err() || encoder.emit_vec(question).is_err() {
        return kept;
    }
    if !question.is_empty() {
        // As hickory does when it echoes the question, so later names compress against it.
        encoder.store_label_pointer(HEADER_LEN, HEADER_LEN + question.len());
    }
    let sections = [&response.answers, &response.authorities, &response.additionals];
    for (i, section) in sections.iter().enumerate() {
        for rrs in section.iter() {
            if !emit_all(&mut encoder, rrs.records()) || encoder.offset() > budget {
                return kept;
            }
            kept[i] += 1;
        }
    }
    kept
}

fn emit_all(encoder: &mut BinEncoder<'_>, records: &[Record]) -> bool {
    records.iter().all(|r| r.emit(encoder).is_ok())
}

/// An upper bound on an RRset's size: exact for zone RRsets (measured at load), generous for
/// records made per response.
fn upper_len(rrs: &Rrs<'_>) -> usize {
    match rrs {
        Rrs::Set(set) => set.wire_len,
        Rrs::Owned(_) => usize::from(u16::MAX),
    }
}

/// The OPT pseudo-record: root name, type, class, TTL, RDLENGTH, then each option's code,
/// length and data (RFC 6891 section 6.1.2).
fn opt_wire_len(edns: &Edns) -> usize {
    1 + 2
        + 2
        + 4
        + 2
        + edns
            .options()
            .as_ref()
            .iter()
            .map(|(_, o)| 4 + usize::from(o.len()))
            .sum::<usize>()
}
