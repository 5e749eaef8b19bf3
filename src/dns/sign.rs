//! The sign stage: for a query with DO=1 (RFC 3225, RFC 4035 section 3.1) to a signed zone,
//! adds the RRSIG of every authoritative RRset of the answer, and NSEC records for what it
//! denies, the compact way (RFC 9824):
//!
//! | answer | what is added |
//! |---|---|
//! | data (zone, pool, wildcard) | RRSIG of each RRset; a wildcard's as if the name existed |
//! | name does not exist | NSEC at the name, next `\000.name`, types RRSIG NSEC NXNAME; RCODE NOERROR, or NXDOMAIN when the query set CO |
//! | no data of the type | NSEC at the name with the types there (A and AAAA for a pool, less the type denied) |
//! | empty non-terminal | NSEC at the name with RRSIG and NSEC alone |
//! | referral | the cut's DS and its RRSIG, else an NSEC at the cut with NS: no DS (RFC 4035 section 3.1.4.1) |
//!
//! Not signed: a referral's NS set and glue (not authoritative, RFC 4035 section 2.2). Every
//! RRSIG follows the RRset it covers, so that the encoders keep or drop the two together.
//!
//! Signatures come from the shared cache ([`SignatureCache`]); the data signed is built in
//! a buffer each thread reuses, so a cache hit allocates nothing. Signed data are dated from
//! the snapshot's `signing_now`, set by the writer: no clock is read here.

use std::cell::RefCell;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RData, RecordType};

use super::request::{Asked, Question};
use super::response::{Answer, Denial, Rrs, Section};
use crate::dnssec::ZoneKeys;
use crate::dnssec::cache::{SignatureCache, sign_uncached};
use crate::dnssec::nsec::{self, NXNAME};
use crate::dnssec::rrsig::{self, Made, Scratch, ToSign};
use crate::snapshot::Snapshot;
use crate::zone::name::NameKey;
use crate::zone::{Lookup, Zone};

thread_local! {
    /// The signed data's buffers, reused between answers.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The most addresses of one pool answer, for their data on the stack.
const MAX_ADDRESSES: usize = 16;

/// Signs `answer` when the query asked for DNSSEC records and a zone of the answer is signed;
/// leaves every other answer as it is.
pub fn sign<'s>(snapshot: &'s Snapshot, asked: &Asked<'_>, answer: &mut Answer<'s>, cache: &SignatureCache) {
    if snapshot.signing.is_empty() {
        return;
    }
    let Some(edns) = asked.edns.filter(|e| e.dnssec_ok) else { return };
    let Some(question) = asked.question.as_ref().filter(|q| q.qclass == DNSClass::IN) else { return };
    if !matches!(answer.metadata.response_code, ResponseCode::NoError | ResponseCode::NXDomain) {
        return;
    }
    SCRATCH.with_borrow_mut(|scratch| {
        if let Some(denial) = answer.denial {
            deny(snapshot, answer, denial, question, edns.compact_ok);
        }
        let negative = matches!(answer.denial, Some(Denial::NoName { .. }));
        sign_section(snapshot, &mut answer.answers, cache, scratch, negative, false);
        sign_section(snapshot, &mut answer.authorities, cache, scratch, negative, false);
        // Additional data may be glue, below a cut: each is looked up.
        sign_section(snapshot, &mut answer.additionals, cache, scratch, negative, true);
    });
}

/// Adds the NSEC (or a referral's DS) the denial calls for, and gives a nonexistent name
/// its compact RCODE.
fn deny<'s>(
    snapshot: &'s Snapshot,
    answer: &mut Answer<'s>,
    denial: Denial<'s>,
    question: &Question<'_>,
    compact_ok: bool,
) {
    let qname = &question.key;
    let signed = |zone: &Zone| snapshot.signing.zone(&zone.origin_key).is_some();
    match denial {
        Denial::NoName { zone } if signed(zone) => {
            let name = denied_name(answer, qname);
            // RFC 9824 section 3.1: NOERROR, unless the client says it reads the NXNAME type
            // (the CO flag, section 4), which then gets its NXDOMAIN back.
            if !compact_ok {
                answer.metadata.response_code = ResponseCode::NoError;
            }
            push_nsec(answer, name.as_bytes(), &[NXNAME], zone.negative_soa.ttl);
        }
        Denial::NoType { zone, node, pool } if signed(zone) => {
            let name = denied_name(answer, qname);
            let mut types: Vec<u16> = node.iter().flat_map(|n| n.rrsets.iter()).map(|s| u16::from(s.rtype)).collect();
            if pool {
                types.extend([u16::from(RecordType::A), u16::from(RecordType::AAAA)]);
            }
            // A pool with no endpoint of the family asked: the pool owns A and AAAA, but
            // not the type this NODATA denies, which the bitmap must not claim.
            types.retain(|&t| t != u16::from(question.qtype));
            push_nsec(answer, name.as_bytes(), &types, zone.negative_soa.ttl);
        }
        Denial::Referral { zone, cut } if signed(zone) => {
            if let Some(ds) = cut.get(RecordType::DS) {
                answer.authorities.push(Rrs::Set(ds));
                return;
            }
            let Some(ns) = cut.get(RecordType::NS) else { return };
            let Some(owner) = ns.kept().first().map(|r| NameKey::new(&r.name)) else { return };
            // Only NS: at a cut, the parent is authoritative for nothing else but DS.
            push_nsec(answer, owner.as_bytes(), &[u16::from(RecordType::NS)], zone.negative_soa.ttl);
        }
        _ => {}
    }
}

/// The name a denial is about: the last CNAME target of the answer, else the question's.
fn denied_name(answer: &Answer<'_>, qname: &NameKey) -> NameKey {
    let target = answer.answers.last().and_then(|rrs| rrs.records().last()).and_then(|r| match &r.data {
        RData::CNAME(cname) => Some(NameKey::new(&cname.0)),
        _ => None,
    });
    target.unwrap_or_else(|| qname.clone())
}

fn push_nsec(answer: &mut Answer<'_>, owner: &[u8], types: &[u16], ttl: u32) {
    let rdata = nsec::compact_rdata(owner, types);
    if let Some(made) = Made::new(owner, RecordType::NSEC, ttl, rdata, Box::default()) {
        answer.authorities.push(Rrs::Made(Arc::new(made)));
    }
}

/// Puts after each RRset of `section` that a signed zone is authoritative for its RRSIGs.
fn sign_section<'s>(
    snapshot: &'s Snapshot,
    section: &mut Section<'s>,
    cache: &SignatureCache,
    scratch: &mut Scratch,
    negative: bool,
    may_be_glue: bool,
) {
    if section.is_empty() {
        return;
    }
    let unsigned = std::mem::take(section);
    for rrs in unsigned {
        let at = section.len();
        let set = describe(&rrs);
        section.push(rrs);
        let Some((owner, rtype)) = set else { continue };
        let Some(keys) = signer(snapshot, &owner, rtype, may_be_glue) else { continue };
        let window = keys.validity.window_at(snapshot.signing_now);
        // The NSEC of a name that does not exist is the client's choice of name: signed
        // every time, kept out of the cache where it would only push useful entries out.
        let uncached = negative && rtype == RecordType::NSEC;
        let to_sign = ToSign { owner: owner.as_bytes(), rtype, ttl: ttl_of(&section[at]) };
        for key in keys.signers(rtype) {
            with_rdata(&section[at], |rdata| rrsig::signed_data(scratch, key, window, to_sign, rdata));
            let made = match uncached {
                true => sign_uncached(scratch, key, to_sign, &cache.counts),
                false => cache.signature(scratch, key, to_sign),
            };
            if let Ok(made) = made {
                section.push(Rrs::Made(made));
            }
        }
    }
}

/// The zone keys that sign an RRset of `rtype` at `owner`, when a signed zone is
/// authoritative for it: not a cut's NS set or glue (looked for when the RRset is NS or
/// `may_be_glue`: the answer stage puts data below a cut nowhere else), not an RRSIG. DS
/// is signed by the parent (RFC 4035 section 2.4).
fn signer<'s>(snapshot: &'s Snapshot, owner: &NameKey, rtype: RecordType, may_be_glue: bool) -> Option<&'s ZoneKeys> {
    if rtype == RecordType::RRSIG {
        return None;
    }
    let mut zone = snapshot.zones.find(owner)?;
    if rtype == RecordType::DS && owner.as_bytes() == &*zone.origin_key {
        zone = snapshot.zones.parent_of(zone)?;
    }
    let keys = snapshot.signing.zone(&zone.origin_key)?;
    let at_apex = owner.as_bytes() == &*zone.origin_key;
    if !at_apex && (rtype == RecordType::NS || may_be_glue) {
        // At or below a cut, the data is the child's: a referral's NS, or glue.
        if matches!(zone.lookup(owner, rtype), Lookup::Delegation(_)) {
            return None;
        }
    }
    Some(keys)
}

/// The owner (lowercase) and type of an entry; `None` for one made empty.
fn describe(rrs: &Rrs<'_>) -> Option<(NameKey, RecordType)> {
    match rrs {
        Rrs::Set(set) => {
            let owner = match &set.wire {
                Some(wire) => NameKey::from_wire(&wire.owner)?,
                None => NameKey::new(&set.kept().first()?.name),
            };
            Some((owner, set.rtype))
        }
        Rrs::Endpoints(picked) => {
            let rtype = match picked.get(0)?.address {
                std::net::IpAddr::V4(_) => RecordType::A,
                std::net::IpAddr::V6(_) => RecordType::AAAA,
            };
            Some((NameKey::from_wire(picked.owner())?, rtype))
        }
        Rrs::Owned(records) => records.first().map(|r| (NameKey::new(&r.name), r.record_type())),
        Rrs::Made(made) => Some((NameKey::from_wire(&made.owner)?, made.rtype)),
    }
}

fn ttl_of(rrs: &Rrs<'_>) -> u32 {
    match rrs {
        Rrs::Set(set) => set.ttl,
        Rrs::Endpoints(picked) => picked.record(0).map_or(0, |r| r.ttl),
        Rrs::Owned(records) => records.first().map_or(0, |r| r.ttl),
        Rrs::Made(made) => made.ttl,
    }
}

/// Calls `f` with the records' data of an entry as on the wire, names uncompressed.
fn with_rdata(rrs: &Rrs<'_>, f: impl FnOnce(&mut dyn Iterator<Item = &[u8]>)) {
    match rrs {
        Rrs::Set(set) if set.wire.is_some() => {
            if let Some(wire) = &set.wire {
                f(&mut wire.rdata());
            }
        }
        Rrs::Endpoints(picked) => {
            let mut addresses = [[0u8; 16]; MAX_ADDRESSES];
            let mut lengths = [0usize; MAX_ADDRESSES];
            for (i, endpoint) in picked.iter().take(MAX_ADDRESSES).enumerate() {
                lengths[i] = match endpoint.address {
                    std::net::IpAddr::V4(a) => {
                        addresses[i][..4].copy_from_slice(&a.octets());
                        4
                    }
                    std::net::IpAddr::V6(a) => {
                        addresses[i] = a.octets();
                        16
                    }
                };
            }
            let count = picked.len().min(MAX_ADDRESSES);
            f(&mut addresses[..count].iter().zip(lengths).map(|(a, n)| &a[..n]));
        }
        Rrs::Made(made) => f(&mut std::iter::once(&made.rdata[..])),
        Rrs::Set(_) | Rrs::Owned(_) => {
            // Records made per response (wildcards), or a type whose data was not prepared.
            let records: Vec<_> = rrs.records().cloned().collect();
            let encoded: Vec<Box<[u8]>> = records.iter().filter_map(|r| crate::zone::rdata_of(&r.data).ok()).collect();
            f(&mut encoded.iter().map(|d| &d[..]));
        }
    }
}
