//! Our own response encoder: writes an [`Answer`] into a buffer the caller reuses, from
//! record data encoded once when the zone was loaded, compressing names (RFC 1035 section
//! 4.1.4) against those already written. No allocation.
//!
//! It fits the response into the client's size while writing it (RFC 2181 section 9: whole
//! RRsets are dropped, never part of one, TC set when data the answer needs did not fit; RFC
//! 6891 section 7: the OPT record stays), so what is measured is what is sent.
//!
//! It covers what answers are made of on the hot paths: zone RRsets and pool endpoints. An
//! answer with records made for the response (wildcard synthesis, CHAOS) or a type whose data
//! was not prepared returns `false`, and the caller encodes it with hickory (`fallback.rs`),
//! which then measures with hickory's encoder in the same way.

use hickory_proto::op::Edns;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};

use super::response::{Answer, Rrs};
use crate::steering::Picked;
use crate::zone::Rrset;

/// Octets of a DNS header.
const HEADER_LEN: usize = 12;
/// Names remembered for compression; later ones are written whole.
const MAX_NAMES: usize = 64;
/// Offsets a compression pointer can reach (14 bits).
const MAX_POINTER: usize = 0x3fff;

/// Writes `answer` for `question` (the question section as sent) into `out`, fitting it into
/// `limit` octets as it goes: RRsets are written in order, and the first that passes the
/// budget (the limit less our OPT record) is taken back, with everything after it. Before
/// giving up records, the optional EDNS options are left out (see
/// [`Answer::strip_optional_options`]). `answer` is left as it was sent (see
/// [`Answer::keep`]), so the size check and the message are the same octets.
///
/// `false` when the answer holds something not prepared here (see [`is_prepared`]) or even
/// its header, question and OPT record do not fit; `out` then holds nothing useful and the
/// caller encodes with hickory instead.
pub fn encode(answer: &mut Answer<'_>, question: &[u8], limit: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    if !is_prepared(answer) {
        return false;
    }
    let question = if answer.echo_question { question } else { &[] };
    let mut w = Writer { out, names: [0; MAX_NAMES], count: 0 };
    w.out.extend_from_slice(&[0; HEADER_LEN]); // written once the sections are fitted
    if !question.is_empty() {
        w.out.extend_from_slice(question);
        w.remember(HEADER_LEN);
    }
    let kept = w.fitted_sections(answer, limit);
    answer.keep(kept);
    let rcode = u16::from(answer.metadata.response_code);
    if let Some(edns) = &answer.edns {
        w.opt(edns, answer.ecs.as_ref(), rcode);
    }
    w.header(answer, !question.is_empty());
    w.out.len() <= limit
}

/// Whether every RRset of `answer` is one this encoder writes: zone RRsets whose data was
/// prepared at load ([`WireSet`](crate::zone::WireSet)) and pool endpoints. Records made for
/// this response (wildcard synthesis, CHAOS) are not.
pub fn is_prepared(answer: &Answer<'_>) -> bool {
    answer.sections().iter().flat_map(|s| s.iter()).all(|rrs| match rrs {
        Rrs::Set(set) => set.wire.is_some(),
        Rrs::Endpoints(_) => true,
        Rrs::Owned(_) => false,
    })
}

/// The length of our OPT record, client subnet included (RFC 6891 section 6.1.2: root name,
/// type, class, TTL, RDLENGTH, then each option's code, length and data; RFC 7871 section 6).
fn opt_len(answer: &Answer<'_>) -> usize {
    let Some(edns) = &answer.edns else { return 0 };
    let options: usize = edns.options().as_ref().iter().map(|(_, o)| 4 + usize::from(o.len())).sum();
    let ecs = answer.ecs.as_ref().map_or(0, |s| 4 + 4 + usize::from(s.source_prefix()).div_ceil(8));
    1 + 2 + 2 + 4 + 2 + options + ecs
}

fn count(section: &[Rrs<'_>]) -> u16 {
    section.iter().map(Rrs::len).sum::<usize>() as u16
}

struct Writer<'b> {
    out: &'b mut Vec<u8>,
    /// Offsets of names already written whole (each of their label starts is a suffix).
    names: [u16; MAX_NAMES],
    count: usize,
}

impl Writer<'_> {
    /// Writes the RRsets of every section that fit in `limit` with our OPT record after them,
    /// and returns how many of each were written; once one RRset does not fit, the sections
    /// after it get nothing (RFC 2181 section 9: whole RRsets, in order).
    fn fitted_sections(&mut self, answer: &mut Answer<'_>, limit: usize) -> [usize; 3] {
        let mut budget = limit.saturating_sub(opt_len(answer));
        let mut kept = [0usize; 3];
        if !self.fits(answer, limit, &mut budget) {
            return kept;
        }
        // By index: leaving out the optional options changes the answer between two RRsets.
        for (i, len) in answer.counts().into_iter().enumerate() {
            for j in 0..len {
                let (at, names) = (self.out.len(), self.count);
                self.rrs(&answer.sections()[i][j]);
                if !self.fits(answer, limit, &mut budget) {
                    self.out.truncate(at);
                    self.count = names; // names written past `at` are gone
                    return kept;
                }
                kept[i] += 1;
            }
        }
        kept
    }

    /// Whether what is written so far leaves room for our OPT record within `limit`, once the
    /// optional options are left out if that is what it takes.
    fn fits(&self, answer: &mut Answer<'_>, limit: usize, budget: &mut usize) -> bool {
        if self.out.len() > *budget && answer.strip_optional_options() {
            *budget = limit.saturating_sub(opt_len(answer));
        }
        self.out.len() <= *budget
    }

    fn rrs(&mut self, rrs: &Rrs<'_>) {
        match rrs {
            Rrs::Set(set) => self.rrset(set),
            Rrs::Endpoints(picked) => self.endpoints(picked),
            // Never here: `is_prepared` sends these to hickory's encoder.
            Rrs::Owned(_) => {}
        }
    }

    /// The header (RFC 1035 section 4.1.1), over the placeholder at the start of the message.
    fn header(&mut self, answer: &Answer<'_>, has_question: bool) {
        let meta = &answer.metadata;
        let counts = [
            u16::from(has_question),
            count(&answer.answers),
            count(&answer.authorities),
            count(&answer.additionals) + u16::from(answer.edns.is_some()),
        ];
        let rcode = u16::from(meta.response_code);
        let flags = (u16::from(meta.message_type == hickory_proto::op::MessageType::Response) << 15)
            | (u16::from(u8::from(meta.op_code)) & 0xf) << 11
            | u16::from(meta.authoritative) << 10
            | u16::from(meta.truncation) << 9
            | u16::from(meta.recursion_desired) << 8
            | u16::from(meta.recursion_available) << 7
            | u16::from(meta.authentic_data) << 5
            | u16::from(meta.checking_disabled) << 4
            | (rcode & 0xf);
        let mut header = [0u8; HEADER_LEN];
        header[..2].copy_from_slice(&meta.id.to_be_bytes());
        header[2..4].copy_from_slice(&flags.to_be_bytes());
        for (i, n) in counts.into_iter().enumerate() {
            header[4 + 2 * i..6 + 2 * i].copy_from_slice(&n.to_be_bytes());
        }
        self.out[..HEADER_LEN].copy_from_slice(&header);
    }

    fn remember(&mut self, at: usize) {
        if at <= MAX_POINTER && self.count < MAX_NAMES {
            self.names[self.count] = at as u16;
            self.count += 1;
        }
    }

    fn rrset(&mut self, set: &Rrset) {
        let Some(wire) = &set.wire else { return };
        for rdata in wire.rdata() {
            self.name(&wire.owner);
            self.fixed(u16::from(set.rtype), wire.class, set.ttl);
            self.rdata(set.rtype, rdata);
        }
    }

    fn endpoints(&mut self, picked: &Picked<'_>) {
        for at in 0..picked.len() {
            let (Some(endpoint), Some(record)) = (picked.get(at), picked.record(at)) else { continue };
            self.name(picked.owner());
            if let Some(name) = &endpoint.name {
                self.fixed(u16::from(RecordType::CNAME), 1, record.ttl);
                self.rdata(RecordType::CNAME, &name.wire);
                continue;
            }
            match endpoint.address {
                std::net::IpAddr::V4(a) => {
                    self.fixed(1, 1, record.ttl);
                    self.out.extend_from_slice(&4u16.to_be_bytes());
                    self.out.extend_from_slice(&a.octets());
                }
                std::net::IpAddr::V6(a) => {
                    self.fixed(28, 1, record.ttl);
                    self.out.extend_from_slice(&16u16.to_be_bytes());
                    self.out.extend_from_slice(&a.octets());
                }
            }
        }
    }

    fn fixed(&mut self, rtype: u16, class: u16, ttl: u32) {
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&class.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
    }

    /// RDLENGTH and the data, compressing the names of the RFC 1035 types that allow it
    /// (RFC 3597 section 4); SRV, SVCB and the rest go as prepared.
    fn rdata(&mut self, rtype: RecordType, rdata: &[u8]) {
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        match rtype {
            RecordType::NS | RecordType::CNAME | RecordType::PTR => self.name(rdata),
            RecordType::MX if rdata.len() > 2 => {
                self.out.extend_from_slice(&rdata[..2]);
                self.name(&rdata[2..]);
            }
            RecordType::SOA => {
                let mname = name_len(rdata);
                let rname = name_len(&rdata[mname..]);
                self.name(&rdata[..mname]);
                self.name(&rdata[mname..mname + rname]);
                self.out.extend_from_slice(&rdata[mname + rname..]);
            }
            _ => self.out.extend_from_slice(rdata),
        }
        let length = (self.out.len() - length_at - 2) as u16;
        self.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
    }

    /// Writes an uncompressed wire name, pointing at the longest suffix already written.
    fn name(&mut self, name: &[u8]) {
        let mut at = 0;
        let start = self.out.len();
        while let Some(&len) = name.get(at) {
            if len == 0 {
                break;
            }
            if let Some(pointer) = self.find(&name[at..]) {
                self.out.extend_from_slice(&name[..at]);
                self.out.extend_from_slice(&(0xc000 | pointer).to_be_bytes());
                if at > 0 {
                    self.remember(start);
                }
                return;
            }
            at += 1 + usize::from(len);
        }
        self.out.extend_from_slice(&name[..(at + 1).min(name.len())]);
        if at > 0 {
            self.remember(start);
        }
    }

    /// An offset in the message where `suffix` is written (as a whole name or a name's tail).
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        for &start in &self.names[..self.count] {
            let mut at = usize::from(start);
            // Each label start of the name written there is a candidate.
            loop {
                if equal_names(self.out, at, suffix) {
                    return u16::try_from(at).ok().filter(|&p| usize::from(p) <= MAX_POINTER);
                }
                match self.out.get(at) {
                    Some(&len) if len > 0 && len & 0xc0 == 0 => at += 1 + usize::from(len),
                    _ => break,
                }
            }
        }
        None
    }

    /// Our OPT record (RFC 6891 section 6.1.2).
    fn opt(&mut self, edns: &Edns, ecs: Option<&ClientSubnet>, rcode: u16) {
        self.out.push(0);
        self.out.extend_from_slice(&41u16.to_be_bytes());
        self.out.extend_from_slice(&edns.max_payload().to_be_bytes());
        let ttl = (u32::from(rcode >> 4) & 0xff) << 24
            | u32::from(edns.version()) << 16
            | u32::from(edns.flags().dnssec_ok) << 15;
        self.out.extend_from_slice(&ttl.to_be_bytes());
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        // A fixed order, whatever the map's: NSID, client subnet, then the rest by code.
        let mut options: [Option<&EdnsOption>; 8] = [None; 8];
        let mut n = 0;
        for (_, option) in edns.options().as_ref().iter() {
            if n < options.len() {
                options[n] = Some(option);
                n += 1;
            }
        }
        let code = |o: &EdnsOption| u16::from(hickory_proto::rr::rdata::opt::EdnsCode::from(o));
        options[..n].sort_by_key(|o| o.map(code));
        let subnet_code = u16::from(hickory_proto::rr::rdata::opt::EdnsCode::Subnet);
        let mut ecs = ecs;
        for option in options[..n].iter().flatten() {
            if code(option) > subnet_code
                && let Some(subnet) = ecs.take()
            {
                self.option(&EdnsOption::Subnet(*subnet));
            }
            self.option(option);
        }
        if let Some(subnet) = ecs {
            self.option(&EdnsOption::Subnet(*subnet));
        }
        let length = (self.out.len() - length_at - 2) as u16;
        self.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
    }

    fn option(&mut self, option: &EdnsOption) {
        let code = u16::from(hickory_proto::rr::rdata::opt::EdnsCode::from(option));
        self.out.extend_from_slice(&code.to_be_bytes());
        let length_at = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        match option {
            EdnsOption::Subnet(subnet) => self.subnet(subnet),
            EdnsOption::NSID(payload) => self.out.extend_from_slice(payload.as_ref()),
            EdnsOption::Unknown(_, data) => self.out.extend_from_slice(data),
            _ => {}
        }
        let length = (self.out.len() - length_at - 2) as u16;
        self.out[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
    }

    /// FAMILY, SOURCE and SCOPE PREFIX-LENGTH, and as many address octets as SOURCE covers
    /// (RFC 7871 section 6).
    fn subnet(&mut self, subnet: &ClientSubnet) {
        let source = subnet.source_prefix();
        let octets = usize::from(source).div_ceil(8);
        match subnet.addr() {
            std::net::IpAddr::V4(a) => {
                self.out.extend_from_slice(&1u16.to_be_bytes());
                self.out.extend_from_slice(&[source, subnet.scope_prefix()]);
                self.out.extend_from_slice(&a.octets()[..octets.min(4)]);
            }
            std::net::IpAddr::V6(a) => {
                self.out.extend_from_slice(&2u16.to_be_bytes());
                self.out.extend_from_slice(&[source, subnet.scope_prefix()]);
                self.out.extend_from_slice(&a.octets()[..octets.min(16)]);
            }
        }
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

/// Whether the name at `at` in `message` (following pointers) equals the uncompressed
/// `name`, ignoring ASCII case (RFC 4343).
fn equal_names(message: &[u8], mut at: usize, name: &[u8]) -> bool {
    let mut i = 0;
    for _ in 0..128 {
        let Some(&len) = message.get(at) else { return false };
        if len & 0xc0 == 0xc0 {
            let Some(&low) = message.get(at + 1) else { return false };
            at = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            continue;
        }
        let Some(&want) = name.get(i) else { return false };
        if len != want {
            return false;
        }
        if len == 0 {
            return true;
        }
        let end = at + 1 + usize::from(len);
        let (Some(have), Some(expected)) = (message.get(at + 1..end), name.get(i + 1..i + 1 + usize::from(len))) else {
            return false;
        };
        if !have.eq_ignore_ascii_case(expected) {
            return false;
        }
        at = end;
        i += 1 + usize::from(len);
    }
    false
}
