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

/// Beyond this many records, hickory stops remembering names to compress against, so the
/// per-RRset sizes measured at load may no longer bound the message: measure instead.
const SHORTCUT_MAX_RECORDS: usize = 32;

/// Makes the response fit in `limit` octets: first by leaving out optional EDNS options
/// (NSID, Extended DNS Errors), then by dropping trailing RRsets, setting TC where needed.
pub fn fit(response: &mut Answer<'_>, question: &[u8], limit: usize) {
    let kept = SCRATCH.with_borrow_mut(|buf| measure(response, question, limit, buf));
    if kept == counts(response) {
        return;
    }
    if let Some(edns) = response.edns.as_mut().filter(|e| !e.options().as_ref().is_empty()) {
        *edns = without_options(edns);
    }
    let kept = SCRATCH.with_borrow_mut(|buf| measure(response, question, limit, buf));
    let truncated = kept[0] < response.answers.len()
        || kept[1] < response.authorities.len()
        || kept[2] < response.required_additionals.min(response.additionals.len());
    response.answers.truncate(kept[0]);
    response.authorities.truncate(kept[1]);
    response.additionals.truncate(kept[2]);
    response.metadata.truncation |= truncated;
}

fn counts(response: &Answer<'_>) -> [usize; 3] {
    [response.answers.len(), response.authorities.len(), response.additionals.len()]
}

/// Our OPT record without its optional options (NSID, Extended DNS Errors); the client
/// subnet option, kept apart in the answer, stays (RFC 7871 section 7.2.1 asks that it be
/// echoed).
fn without_options(edns: &Edns) -> Edns {
    let mut bare = Edns::new();
    bare.set_max_payload(edns.max_payload());
    bare.set_version(edns.version());
    bare.set_dnssec_ok(edns.flags().dnssec_ok);
    bare
}

/// How many RRsets of each section fit in `limit`, in order; once one section overflows,
/// the sections after it get nothing (the response is truncated there).
fn measure(response: &Answer<'_>, question: &[u8], limit: usize, buf: &mut Vec<u8>) -> [usize; 3] {
    let ecs = response.ecs.as_ref().map_or(0, |s| 4 + 4 + usize::from(s.source_prefix()).div_ceil(8));
    let budget = limit.saturating_sub(response.edns.as_ref().map_or(0, opt_wire_len) + ecs);
    let sections = [&response.answers, &response.authorities, &response.additionals];
    let records: usize = sections.iter().flat_map(|s| s.iter()).map(|rrs| rrs.records().count()).sum();
    let upper_bound =
        HEADER_LEN + question.len() + sections.iter().flat_map(|s| s.iter()).map(upper_len).sum::<usize>();
    if upper_bound <= budget && records <= SHORTCUT_MAX_RECORDS {
        return counts(response); // the common case: it fits without measuring
    }
    buf.clear();
    let mut encoder = BinEncoder::new(buf);
    let mut kept = [0usize; 3];
    if encoder.emit_vec(&[0; HEADER_LEN]).is_err() || encoder.emit_vec(question).is_err() || encoder.offset() > budget {
        return kept;
    }
    if !question.is_empty() {
        // As hickory does when it echoes the question, so later names compress against it.
        encoder.store_label_pointer(HEADER_LEN, HEADER_LEN + question.len());
    }
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

fn emit_all<'a>(encoder: &mut BinEncoder<'_>, mut records: impl Iterator<Item = &'a Record>) -> bool {
    records.all(|r| r.emit(encoder).is_ok())
}

/// An upper bound on an RRset's size: from sizes measured at load for zone RRsets and pool
/// endpoints, generous for records made per response.
fn upper_len(rrs: &Rrs<'_>) -> usize {
    match rrs {
        Rrs::Set(set) => set.wire_len,
        Rrs::Endpoints(picked) => picked.iter().map(|e| e.wire_len).sum(),
        Rrs::Owned(_) => usize::from(u16::MAX),
    }
}

/// The OPT pseudo-record: root name, type, class, TTL, RDLENGTH, then each option's code,
/// length and data (RFC 6891 section 6.1.2).
fn opt_wire_len(edns: &Edns) -> usize {
    1 + 2 + 2 + 4 + 2 + edns.options().as_ref().iter().map(|(_, o)| 4 + usize::from(o.len())).sum::<usize>()
}
