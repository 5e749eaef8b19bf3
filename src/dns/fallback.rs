//! hickory's encoder, behind the encode stage, for the answers ours (`wire.rs`) does not
//! cover: records made for the response (wildcard synthesis, CHAOS) and types whose data was
//! not prepared at load.
//!
//! Like ours, it measures with the encoder that writes. RFC 2181 section 9: whole RRsets are
//! dropped, never part of one; TC is set when data the answer needs did not fit, and not when
//! only additional data was left out. RFC 6891 section 7: the OPT record stays in a truncated
//! response. The fit is measured with hickory's encoder and name compression, so what fits
//! here fits in the message hickory then writes.

use std::cell::RefCell;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, BinEncoder};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use super::request::Asked;
use super::response::{Answer, Rrs, group_len};

/// Octets of a DNS header (RFC 1035 section 4.1.1).
const HEADER_LEN: usize = 12;

thread_local! {
    /// Reused between responses so that measuring allocates nothing once warm.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Beyond this many records, hickory stops remembering names to compress against, so the
/// per-RRset sizes measured at load may no longer bound the message: measure instead.
const SHORTCUT_MAX_RECORDS: usize = 32;

/// What hickory's encoder made of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// `out` holds the response.
    Written,
    /// The question cannot be read back on its own: the caller answers FORMERR.
    Unreadable,
    /// hickory could not encode it: `out` holds a SERVFAIL header.
    Failed,
}

/// Fits `answer` into `limit` octets as measured by hickory's encoder, then writes it with
/// that encoder into `out`.
pub fn encode(answer: &mut Answer<'_>, asked: &Asked<'_>, limit: usize, out: &mut Vec<u8>) -> Fallback {
    out.clear();
    // hickory's encoder reads hickory's records, which addresses and text are not kept as.
    answer.decode_wire_only();
    let question = if answer.echo_question { asked.question_bytes } else { &[] };
    fit(answer, question, limit);
    let edns = answer.edns_with_ecs();
    let queries = match answer.echo_question {
        true => Queries::read(&mut BinDecoder::new(asked.question_bytes), asked.question_count),
        false => Ok(empty_question()),
    };
    let Ok(question) = queries.as_ref() else { return Fallback::Unreadable };
    let response = hickory_message(answer, question, edns.as_ref());
    let mut encoder = BinEncoder::new(out);
    // `fit` measured under this bound less our OPT record, so what it kept fits here too.
    encoder.set_max_size(u16::try_from(limit).unwrap_or(u16::MAX));
    if response.destructive_emit(&mut encoder).is_err() {
        out.clear();
        let mut failed = answer.metadata;
        failed.response_code = ResponseCode::ServFail;
        emit_header(&failed, out);
        return Fallback::Failed;
    }
    Fallback::Written
}

/// A response of a header alone; `false` if even that cannot be written.
pub fn emit_header(metadata: &Metadata, out: &mut Vec<u8>) -> bool {
    let header = Header { metadata: *metadata, counts: HeaderCounts::default() };
    header.emit(&mut BinEncoder::new(out)).is_ok()
}

/// Makes the response fit in `limit` octets: first by leaving out optional EDNS options
/// (NSID, Extended DNS Errors), then by dropping trailing RRsets, setting TC where needed.
fn fit(response: &mut Answer<'_>, question: &[u8], limit: usize) {
    let kept = SCRATCH.with_borrow_mut(|buf| measure(response, question, limit, buf));
    if kept == response.counts() {
        return;
    }
    response.strip_optional_options();
    let kept = SCRATCH.with_borrow_mut(|buf| measure(response, question, limit, buf));
    response.keep(kept);
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
        return response.counts(); // the common case: it fits without measuring
    }
    buf.clear();
    let mut encoder = BinEncoder::new(buf);
    // hickory's encoder writes a name whole before it points back for its tail, so a record
    // may pass the limit for a moment and fail where its final octets would fit: bounded as
    // the message will be, the measure fails where the message would.
    encoder.set_max_size(u16::try_from(budget).unwrap_or(u16::MAX));
    let mut kept = [0usize; 3];
    if encoder.emit_vec(&[0; HEADER_LEN]).is_err() || encoder.emit_vec(question).is_err() || encoder.offset() > budget {
        return kept;
    }
    if !question.is_empty() {
        // As hickory does when it echoes the question, so later names compress against it.
        encoder.store_label_pointer(HEADER_LEN, HEADER_LEN + question.len());
    }
    for (i, section) in sections.iter().enumerate() {
        let mut j = 0;
        // An RRset and its signatures are one group, kept or left out together.
        while j < section.len() {
            let group = group_len(section, j);
            let records = section[j..j + group].iter().flat_map(Rrs::records);
            if !emit_all(&mut encoder, records) || encoder.offset() > budget {
                return kept;
            }
            kept[i] += group;
            j += group;
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
        Rrs::Made(made) => made.wire_len(),
    }
}

/// The OPT pseudo-record: root name, type, class, TTL, RDLENGTH, then each option's code,
/// length and data (RFC 6891 section 6.1.2).
fn opt_wire_len(edns: &Edns) -> usize {
    1 + 2 + 2 + 4 + 2 + edns.options().as_ref().iter().map(|(_, o)| 4 + usize::from(o.len())).sum::<usize>()
}

/// The answer as hickory's message, for hickory's encoder.
fn hickory_message<'q, 'a>(
    answer: &'a Answer<'_>,
    question: &'q Queries,
    edns: Option<&'q Edns>,
) -> MessageResponse<
    'q,
    'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
    impl Iterator<Item = &'a Record> + Send + 'a,
> {
    MessageResponseBuilder::new(question, edns).build(
        answer.metadata,
        Answer::records(&answer.answers),
        Answer::records(&answer.authorities),
        std::iter::empty(),
        Answer::records(&answer.additionals),
    )
}

fn empty_question() -> Queries {
    Queries::read(&mut BinDecoder::new(&[]), 0).expect("reading zero questions cannot fail")
}
