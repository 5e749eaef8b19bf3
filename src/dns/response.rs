//! The answer path: a pure function from a request and a snapshot to a response.
//!
//! No sockets, clock or randomness: `answer` is unit-tested with requests built from bytes.
//! It follows RFC 1034 section 4.3.2 (with RFC 2308 negative answers, RFC 4592 wildcards,
//! RFC 6604 CNAME chains, RFC 8020 empty non-terminals and RFC 8482 ANY) and RFC 6891 for
//! EDNS. Every request gets a response with the right RCODE, except responses (QR=1), which
//! get none. The answer is built whole: fitting it into the client's size (RFC 2181 section
//! 9) is the encoder's work (`wire`, `fallback`), which measures with the octets it writes.

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{CNAME, HTTPS, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use std::net::IpAddr;
use std::sync::Arc;

use super::ecs::ClientSubnet;
use super::request::{Asked, AskedEdns, Question};
use crate::config::{ServerConfig, WhenAllDown};
use crate::dnssec::nsec::NXNAME;
use crate::dnssec::rrsig::Made;
use crate::geo::mmdb::Located;
use crate::snapshot::Snapshot;
use crate::steering::{Decision, Family, Picked, Pool, Query, decide};
use crate::zone::name::NameKey;
use crate::zone::{Lookup, Node, Rrset, Zone, is_at_or_below};

/// The longest CNAME chain we follow; longer ones are answered as far as followed.
const MAX_CNAME_CHAIN: usize = 12;
/// The Extended DNS Error option code and the info-code for "Not Authoritative" (RFC 8914).
const EDE_OPTION: u16 = 15;
const EDE_NOT_AUTHORITATIVE: u16 = 20;

/// Records for one section: an RRset of a zone, or records made for this response
/// (wildcard synthesis, CHAOS identity).
#[derive(Debug)]
pub enum Rrs<'s> {
    Set(&'s Rrset),
    Owned(Vec<Record>),
    /// The endpoints a pool chose for this client.
    Endpoints(Picked<'s>),
    /// A record the sign stage made: an RRSIG (shared with the signature cache) or an NSEC.
    Made(Arc<Made>),
}

impl<'s> Rrs<'s> {
    /// The records as hickory's, borrowed. A zone RRset held in wire form alone (A, AAAA,
    /// TXT: see [`Rrset::kept`]) has none to lend: the paths that need hickory's records for
    /// every RRset (its encoder, `explain`) call [`Answer::decode_wire_only`] first, and
    /// counts come from [`Rrs::len`].
    pub fn records<'a>(&'a self) -> RrsRecords<'a, 's> {
        match self {
            Rrs::Set(set) => RrsRecords::Slice(set.kept().iter()),
            Rrs::Owned(records) => RrsRecords::Slice(records.iter()),
            Rrs::Endpoints(picked) => RrsRecords::Endpoints(picked, 0),
            Rrs::Made(made) => RrsRecords::Slice(std::slice::from_ref(&made.record).iter()),
        }
    }

    /// How many records: what the header counts.
    pub fn len(&self) -> usize {
        match self {
            Rrs::Set(set) => set.len(),
            Rrs::Owned(records) => records.len(),
            Rrs::Endpoints(picked) => picked.len(),
            Rrs::Made(_) => 1,
        }
    }

    /// Whether this is an RRSIG the sign stage made: it goes with the RRset before it, and
    /// the two are kept or left out together when the response is fitted.
    pub fn is_signature(&self) -> bool {
        matches!(self, Rrs::Made(made) if made.rtype == RecordType::RRSIG)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How many entries of `section` from `at` go together: the RRset there and the RRSIGs
/// after it (RFC 4035 section 3.1.1: an RRset goes with its signatures, or TC is set).
pub fn group_len(section: &[Rrs<'_>], at: usize) -> usize {
    1 + section.get(at + 1..).unwrap_or_default().iter().take_while(|r| r.is_signature()).count()
}

/// The records of one [`Rrs`], without allocating.
pub enum RrsRecords<'a, 's> {
    Slice(std::slice::Iter<'a, Record>),
    Endpoints(&'a Picked<'s>, usize),
}

impl<'a> Iterator for RrsRecords<'a, '_> {
    type Item = &'a Record;

    fn next(&mut self) -> Option<&'a Record> {
        match self {
            RrsRecords::Slice(iter) => iter.next(),
            RrsRecords::Endpoints(picked, at) => {
                let record = picked.record(*at)?;
                *at += 1;
                Some(record)
            }
        }
    }
}

/// What a response denies, for the sign stage's NSEC records (RFC 9824, RFC 4035 section
/// 3.1.3): set by the answer stage where it answers NXDOMAIN, NODATA or a referral. The name
/// denied is the question's, or the last CNAME target in the answer (RFC 6604).
#[derive(Debug, Clone, Copy)]
pub enum Denial<'s> {
    /// The name does not exist in `zone`.
    NoName { zone: &'s Zone },
    /// The name exists without the type asked: its data (the wildcard's when one matched,
    /// empty for an empty non-terminal), and whether it is a pool name (which owns A and AAAA).
    NoType { zone: &'s Zone, node: Option<&'s Node>, pool: bool },
    /// A referral at `cut`: its DS, or an NSEC proving there is none.
    Referral { zone: &'s Zone, cut: &'s Node },
}

/// A round-robin turn and a random draw for steering, from the caller (STYLE.md section 3).
#[derive(Debug, Clone, Copy, Default)]
pub struct Salt {
    pub turn: u64,
    pub random: u64,
}

/// What steering decided for this response, for `meridian explain` and the ECS scope.
#[derive(Debug, Clone, Copy)]
pub struct Steered<'s> {
    pub pool: &'s Pool,
    pub decision: Decision<'s>,
    /// The address steering used, and whether it came from ECS.
    pub client: IpAddr,
    /// The geo database's view of `client`, looked up once per query: by the policy, or for
    /// the pool's analytics when the policy does not locate (weighted, hash...).
    pub located: Option<Located>,
    pub from_ecs: bool,
    /// 96 when the ECS subnet was IPv4-mapped IPv6 and steering used its IPv4 part.
    pub scope_offset: u8,
}

/// The RRsets of one section, held inline: most answers have one or two.
pub type Section<'s> = smallvec::SmallVec<[Rrs<'s>; 3]>;

/// A response ready to encode: header, sections of whole RRsets, and the OPT record.
#[derive(Debug)]
pub struct Answer<'s> {
    pub metadata: Metadata,
    pub answers: Section<'s>,
    pub authorities: Section<'s>,
    pub additionals: Section<'s>,
    /// Our OPT record, without the client subnet option (kept apart in `ecs`, so that echoing
    /// it allocates nothing).
    pub edns: Option<Edns>,
    /// The client subnet option to echo (RFC 7871 section 7.2.1), when there is an OPT record.
    pub ecs: Option<hickory_proto::rr::rdata::opt::ClientSubnet>,
    /// How many of the first additional RRsets the response needs (a referral's in-domain
    /// glue): dropping one of them for size sets TC (RFC 9471 section 3).
    pub required_additionals: usize,
    /// Whether the question goes back as the client wrote it; not when it cannot be read
    /// back on its own (see `has_compression_pointer`).
    pub echo_question: bool,
    /// The steering decision, when a pool answered.
    pub steered: Option<Steered<'s>>,
    /// What the answer denies, for the sign stage.
    pub denial: Option<Denial<'s>>,
}

impl<'s> Answer<'s> {
    fn new(metadata: Metadata, edns: Option<Edns>) -> Self {
        Self {
            metadata,
            answers: Section::new(),
            authorities: Section::new(),
            additionals: Section::new(),
            edns,
            ecs: None,
            required_additionals: 0,
            echo_question: true,
            steered: None,
            denial: None,
        }
    }

    /// Makes the response what response rate limiting slips, as Knot and BIND do: no records
    /// and TC=1, so that a real client retries over TCP (RFC 7766 section 5).
    pub fn slip(&mut self) {
        self.answers.clear();
        self.authorities.clear();
        self.additionals.clear();
        self.required_additionals = 0;
        self.metadata.truncation = true;
        // No pool's records go out: nothing to count for one (the ECS echo is already set).
        self.steered = None;
    }

    /// Leaves out the optional options of our OPT record (NSID, Extended DNS Errors), the
    /// first thing given up when the response does not fit; `false` when there were none. The
    /// client subnet option, kept apart in `ecs`, stays (RFC 7871 section 7.2.1 asks that it
    /// be echoed), and so does the OPT record itself (RFC 6891 section 7).
    pub fn strip_optional_options(&mut self) -> bool {
        let Some(edns) = self.edns.as_mut().filter(|e| !e.options().as_ref().is_empty()) else { return false };
        let mut bare = Edns::new();
        bare.set_max_payload(edns.max_payload());
        bare.set_version(edns.version());
        bare.set_dnssec_ok(edns.flags().dnssec_ok);
        *edns = bare;
        true
    }

    /// Keeps the first `kept` RRsets of each section (answer, authority, additional), those
    /// that fit. RFC 2181 section 9: TC is set when data the answer needs was left out, not
    /// when only additional data was, unless it is a referral's in-domain glue (RFC 9471
    /// section 3).
    pub fn keep(&mut self, kept: [usize; 3]) {
        let truncated = kept[0] < self.answers.len()
            || kept[1] < self.authorities.len()
            || kept[2] < self.required_additionals.min(self.additionals.len());
        self.answers.truncate(kept[0]);
        self.authorities.truncate(kept[1]);
        self.additionals.truncate(kept[2]);
        self.metadata.truncation |= truncated;
    }

    /// Replaces each zone RRset held in wire form alone with its records decoded, so that
    /// [`Rrs::records`] lends every record: for hickory's encoder and `explain`, which read
    /// them all. It allocates, which the UDP encoder's path never does.
    pub fn decode_wire_only(&mut self) {
        for section in [&mut self.answers, &mut self.authorities, &mut self.additionals] {
            for rrs in section.iter_mut() {
                if let Rrs::Set(set) = rrs
                    && set.is_wire_only()
                {
                    *rrs = Rrs::Owned(set.decoded());
                }
            }
        }
    }

    /// How many RRsets each section holds.
    pub fn counts(&self) -> [usize; 3] {
        [self.answers.len(), self.authorities.len(), self.additionals.len()]
    }

    /// The three sections in order: answer, authority, additional.
    pub fn sections(&self) -> [&Section<'s>; 3] {
        [&self.answers, &self.authorities, &self.additionals]
    }

    fn rcode(mut self, code: ResponseCode) -> Self {
        self.metadata.response_code = code;
        self
    }

    /// Our OPT record with every option, the client subnet included (for hickory's encoder).
    pub fn edns_with_ecs(&self) -> Option<Edns> {
        let mut edns = self.edns.clone()?;
        if let Some(subnet) = self.ecs {
            edns.options_mut().insert(EdnsOption::Subnet(subnet));
        }
        Some(edns)
    }

    /// Iterates over one section's records in order.
    pub fn records<'a>(section: &'a [Rrs<'s>]) -> impl Iterator<Item = &'a Record> + Send + 'a {
        section.iter().flat_map(|rrs| rrs.records())
    }
}

/// Answers one request from one snapshot. `None` means send nothing (the request is itself a
/// response, RFC 1035 section 4.1.1).
pub fn answer<'s>(snapshot: &'s Snapshot, asked: &Asked<'_>, salt: Salt) -> Option<Answer<'s>> {
    (!is_response(asked)).then(|| answer_query(snapshot, asked, salt))
}

/// Whether the message is itself a response, which gets no answer (RFC 1035 section 4.1.1).
pub fn is_response(asked: &Asked<'_>) -> bool {
    asked.metadata.message_type == MessageType::Response
}

/// [`answer`] for a message known not to be a response: the pipeline's answer stage calls it
/// directly, as an answer is about a kilobyte and unwrapping it from an `Option` copies it.
/// The response is whole: the encoder fits it to the client's size.
pub fn answer_query<'s>(snapshot: &'s Snapshot, asked: &Asked<'_>, salt: Salt) -> Answer<'s> {
    let meta = &asked.metadata;
    let server = &snapshot.config.server;
    let edns = asked.edns.as_ref().map(|e| response_edns(e, server));
    let mut response = Answer::new(Metadata::response_from_request(meta), edns);
    // A question pointing into the header cannot go back as written, whatever the answer
    // (BADVERS and NOTIMP included: the fuzzer found a NOTIMP echoing such a pointer, which
    // then pointed at the response's own flags).
    let points_back = has_compression_pointer(asked.question_bytes);
    response.echo_question = !points_back;
    // RFC 6891 section 6.1.3: a version we do not implement gets BADVERS and our version, 0.
    if asked.edns.as_ref().is_some_and(|e| e.version > 0) {
        return response.rcode(ResponseCode::BADVERS);
    }
    let is_notify = meta.op_code == OpCode::Notify;
    if meta.op_code != OpCode::Query && !is_notify {
        // UPDATE changes nothing here: we have no dynamic zones.
        return response.rcode(ResponseCode::NotImp);
    }
    let Some(question) = asked.question.as_ref().filter(|_| asked.question_count == 1) else {
        // RFC 9619: a query has exactly one question.
        return response.rcode(ResponseCode::FormErr);
    };
    if points_back {
        // The only earlier octets a lone question can point to are the header's: not a name.
        return response.rcode(ResponseCode::FormErr);
    }
    if is_notify {
        return notify_in(response, snapshot, asked, question);
    }
    // RFC 7871 section 6: a malformed ECS option gets FORMERR, whatever the question.
    let Ok(ecs) = asked.ecs else { return response.rcode(ResponseCode::FormErr) };
    match question.qclass {
        DNSClass::IN => {}
        DNSClass::CH => {
            // 0 until this instance applied a revision of the shared log; none standalone.
            let revision = snapshot.config.cluster.as_ref().map(|_| snapshot.cluster_revision.unwrap_or(0));
            return chaos(response, question, server, revision);
        }
        _ => return response.rcode(ResponseCode::Refused),
    }
    if matches!(question.qtype, RecordType::AXFR | RecordType::IXFR) {
        return transfer_over_udp(response, snapshot, asked, question);
    }
    let qname = question.key.clone();
    let mut zone = match snapshot.zones.find(&qname) {
        Some(zone) => zone,
        // Not ours: we never recurse, and refusing is what RFC 1034 leaves to us.
        None => return not_authoritative(response),
    };
    if question.qtype == RecordType::DS && qname.as_bytes() == &*zone.origin_key {
        // DS lives on the parent side of a cut (RFC 4035 section 3.1.4.1).
        zone = snapshot.zones.parent_of(zone).unwrap_or(zone);
    }
    // RFC 9824 section 3.5: "If an explicit query for the NXNAME RR type is received, the
    // DNS server MUST return a Format Error" (by the servers that deny with it: signed zones).
    if u16::from(question.qtype) == NXNAME && snapshot.signing.zone(&zone.origin_key).is_some() {
        return response.rcode(ResponseCode::FormErr);
    }
    let client = Client { source: asked.source, ecs, salt };
    resolve(&mut response, snapshot, zone, qname, question, &client);
    if let Some(ecs) = ecs {
        echo_ecs(&mut response, ecs);
    }
    response
}

/// The TSIG key a request was verified with: none until the TSIG stage hands it over, so
/// a zone whose transfers need a key refuses them here.
fn verified_key<'a>(_asked: &'a Asked<'_>) -> Option<&'a Name> {
    None
}

/// A transfer asked over UDP. AXFR is TCP's alone (RFC 5936 section 4.2): REFUSED. IXFR from
/// a client the zone may be transferred to gets the SOA alone, the current serial: the
/// client then knows whether to ask again over TCP (RFC 1995 section 2: "If the UDP reply
/// does not fit, the query is responded to with a single SOA record of the server's current
/// version"); over TCP the connection answers transfers itself (`xfr`).
fn transfer_over_udp<'s>(
    mut response: Answer<'s>,
    snapshot: &'s Snapshot,
    asked: &Asked<'_>,
    question: &Question<'_>,
) -> Answer<'s> {
    let key = question.key.as_bytes();
    let zone = snapshot.zones.get(key);
    let allowed = snapshot.transfers.get(key).is_some_and(|s| s.permits(asked.source, verified_key(asked)));
    let (Some(zone), true, RecordType::IXFR) = (zone, allowed, question.qtype) else {
        return response.rcode(ResponseCode::Refused);
    };
    let Some(soa) = zone.apex().get(RecordType::SOA) else { return response.rcode(ResponseCode::ServFail) };
    response.metadata.authoritative = true;
    response.answers.push(Rrs::Set(soa));
    response
}

/// NOTIFY received (RFC 1996): we are the primary of our zones, so it changes nothing; an
/// address the zone may be transferred to or notifies (a peer) gets NOERROR for the zone's
/// SOA (section 3.7), anyone else REFUSED.
fn notify_in<'s>(
    mut response: Answer<'s>,
    snapshot: &'s Snapshot,
    asked: &Asked<'_>,
    question: &Question<'_>,
) -> Answer<'s> {
    let key = question.key.as_bytes();
    let accepted = question.qclass == DNSClass::IN
        && question.qtype == RecordType::SOA
        && snapshot.transfers.get(key).is_some_and(|s| s.accepts_notify(asked.source, verified_key(asked)));
    if !accepted {
        return response.rcode(ResponseCode::Refused);
    }
    response.metadata.authoritative = true;
    response
}

/// Who asked: the source address, the ECS option if any, and the caller's salt.
struct Client {
    source: IpAddr,
    ecs: Option<ClientSubnet>,
    salt: Salt,
}

/// RFC 7871 section 7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echoed, with the SCOPE
/// PREFIX-LENGTH the answer depended on: 0 unless a pool tailored it to the client.
fn echo_ecs(response: &mut Answer<'_>, ecs: ClientSubnet) {
    let scope = response
        .steered
        .filter(|s| s.from_ecs && s.decision.scope > 0)
        .map_or(0, |s| s.decision.scope + s.scope_offset);
    if response.edns.is_some() {
        response.ecs = Some(hickory_proto::rr::rdata::opt::ClientSubnet::new(ecs.address, ecs.source_prefix, scope));
    }
}

/// Whether a question's name uses a compression pointer (RFC 1035 section 4.1.4).
fn has_compression_pointer(question: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&len) = question.get(at) {
        if len == 0 {
            return false;
        }
        if len & 0xc0 != 0 {
            return true;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// Our OPT record: version 0, our payload size, DO copied (RFC 3225 section 3), NSID when
/// asked for and configured (RFC 5001 section 2.3). Other options are not echoed.
fn response_edns(request: &AskedEdns, server: &ServerConfig) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(server.max_udp_payload);
    edns.set_version(0);
    edns.set_dnssec_ok(request.dnssec_ok);
    if let Some(identity) = &server.identity {
        // "The name server MUST ignore any NSID payload data that might be present in the query."
        if request.nsid
            && let Ok(payload) = NSIDPayload::new(identity.as_bytes())
        {
            edns.options_mut().insert(EdnsOption::NSID(payload));
        }
    }
    edns
}

/// REFUSED for a name outside our zones, with Extended DNS Error 20, "Not Authoritative"
/// (RFC 8914 section 4.21), when the client speaks EDNS, so it can tell why.
fn not_authoritative(mut response: Answer<'_>) -> Answer<'_> {
    if let Some(edns) = response.edns.as_mut() {
        edns.options_mut().insert(EdnsOption::Unknown(EDE_OPTION, EDE_NOT_AUTHORITATIVE.to_be_bytes().to_vec()));
    }
    response.rcode(ResponseCode::Refused)
}

/// CHAOS class: `id.server` and `hostname.bind` TXT give the identity (RFC 4892 section 2);
/// in a cluster, `revision.meridian` TXT the revision of the shared changes in force;
/// anything else is refused, never ignored.
fn chaos<'s>(
    mut response: Answer<'s>,
    question: &Question<'_>,
    server: &ServerConfig,
    revision: Option<u64>,
) -> Answer<'s> {
    const ID_NAMES: [&[u8]; 2] = [b"\x02id\x06server\x00", b"\x08hostname\x04bind\x00"];
    const REVISION: &[u8] = b"\x08revision\x08meridian\x00";
    let text = if ID_NAMES.contains(&question.key.as_bytes()) {
        server.identity.clone()
    } else if question.key.as_bytes() == REVISION {
        revision.map(|r| r.to_string())
    } else {
        None
    };
    let Some(identity) = text.filter(|_| matches!(question.qtype, RecordType::TXT | RecordType::ANY)) else {
        return response.rcode(ResponseCode::Refused);
    };
    let owner = question.hickory_name();
    let mut record = Record::from_rdata(owner, 0, RData::TXT(TXT::new(vec![identity])));
    record.dns_class = DNSClass::CH;
    // Not zone data, so not authoritative: Knot and NSD leave AA clear here too.
    response.answers.push(Rrs::Owned(vec![record]));
    response
}

/// RFC 1034 section 4.3.2 step 3 onwards, for a name inside `zone`: follows CNAMEs through
/// every zone we serve, and fills the sections.
fn resolve<'s>(
    response: &mut Answer<'s>,
    snapshot: &'s Snapshot,
    mut zone: &'s Zone,
    mut key: NameKey,
    question: &Question<'_>,
    client: &Client,
) {
    let qtype = question.qtype;
    response.metadata.authoritative = true;
    // The name being looked up, when it is a CNAME target rather than the question.
    let mut target: Option<&'s Name> = None;
    for _ in 0..MAX_CNAME_CHAIN {
        // A pool answers A, AAAA and ANY; one with name endpoints answers every type, as a
        // CNAME would (RFC 1034 section 3.6.2).
        let pool = snapshot.steering.pool(key.as_bytes());
        let steering = match pool {
            Some(pool) if pool.has_names || matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) => {
                Some(steer(response, snapshot, zone, pool, qtype, client))
            }
            _ => None,
        };
        let next = match steering {
            Some(Some(next)) => next,
            Some(None) => return,
            None => {
                let lookup = zone.lookup(&key, qtype);
                let (node, synthesised) = match lookup {
                    Lookup::Exact(node) => (node, false),
                    Lookup::Wildcard(node) => (node, true),
                    Lookup::Delegation(cut) => return referral(response, zone, cut),
                    Lookup::NxDomain => {
                        // RFC 6604 section 2.1: the RCODE describes the last name in the chain.
                        response.metadata.response_code = ResponseCode::NXDomain;
                        response.denial = Some(Denial::NoName { zone });
                        return response.authorities.push(Rrs::Set(&zone.negative_soa));
                    }
                };
                let owner = || target.cloned().unwrap_or_else(|| question.hickory_name());
                let set = match qtype {
                    // RFC 8482 section 4.1: answer ANY with one RRset rather than all of them.
                    RecordType::ANY => node.rrsets.first(),
                    _ => node.get(qtype),
                };
                if let Some(set) = set {
                    response.answers.push(rrs(set, synthesised, &owner));
                    return additional_for(response, zone, set);
                }
                let Some(cname) = node.get(RecordType::CNAME) else {
                    // NODATA: the name exists, the type does not (RFC 2308 section 2.2).
                    response.denial = Some(Denial::NoType { zone, node: Some(node), pool: pool.is_some() });
                    return response.authorities.push(Rrs::Set(&zone.negative_soa));
                };
                response.answers.push(rrs(cname, synthesised, &owner));
                let Some(RData::CNAME(CNAME(next))) = cname.kept().first().map(|r| &r.data) else {
                    return;
                };
                next
            }
        };
        key = NameKey::new(next);
        if is_loop(response, next) {
            return;
        }
        match snapshot.zones.find(&key) {
            Some(next_zone) => zone = next_zone,
            // Out of our zones: the resolver follows it from here (RFC 1034 section 3.6.2).
            None => return,
        }
        target = Some(next);
    }
}

/// A pool answers A or AAAA (ANY gets A, RFC 8482) with the endpoints steering chose; when
/// they are a name, it answers any type with a CNAME to it, and returns the name when the
/// resolution goes on there (RFC 1034 section 4.3.2 step 3a: not for a question of type CNAME
/// or ANY, which the CNAME itself answers).
fn steer<'s>(
    response: &mut Answer<'s>,
    snapshot: &'s Snapshot,
    zone: &'s Zone,
    pool: &'s Pool,
    qtype: RecordType,
    client: &Client,
) -> Option<&'s Name> {
    let (address, prefix, from_ecs, scope_offset) = match client.ecs {
        // SOURCE PREFIX-LENGTH 0 asks that no client information be used (RFC 7871 section 7.1.2).
        Some(ecs) if pool.ecs && ecs.source_prefix > 0 => match ecs.address {
            // An IPv4-mapped IPv6 subnet is an IPv4 subnet: locate it as one, and give the
            // scope back in the family it came in.
            IpAddr::V6(v6) if ecs.source_prefix > 96 && v6.to_ipv4_mapped().is_some() => {
                (v6.to_canonical(), ecs.source_prefix - 96, true, 96)
            }
            _ => (ecs.address, ecs.source_prefix, true, 0),
        },
        // A dual-stack socket shows IPv4 clients as ::ffff:a.b.c.d.
        _ => {
            let source = client.source.to_canonical();
            (source, if source.is_ipv4() { 32 } else { 128 }, false, 0)
        }
    };
    let family = if qtype == RecordType::AAAA { Family::V6 } else { Family::V4 };
    let query = Query {
        client: address,
        client_prefix: prefix,
        family,
        geo: snapshot.steering.geo.as_deref(),
        asn: snapshot.steering.asn.as_deref(),
        health: &snapshot.health,
        turn: client.salt.turn,
        random: client.salt.random,
    };
    let mut decision = decide(pool, &query);
    if let Some(earlier) = response.steered.filter(|s| s.scope_offset == scope_offset) {
        // A pool's CNAME led to this pool: the answer depends on both decisions.
        decision.scope = decision.scope.max(earlier.decision.scope);
    }
    // The pool's analytics count answers by the client's country: when the policy did not
    // locate the client, it is located here, so that no query is looked up twice.
    let counted = snapshot.observers.pool(pool.index).is_some();
    let located = match (decision.located, counted, query.geo) {
        (None, true, Some(geo)) => geo.locate(address),
        (located, _, _) => located,
    };
    response.steered = Some(Steered { pool, decision, client: address, located, from_ecs, scope_offset });
    if decision.all_down && pool.when_all_down == WhenAllDown::ServFail {
        response.metadata.authoritative = false;
        response.metadata.response_code = ResponseCode::ServFail;
        return None;
    }
    if decision.endpoints.is_empty() {
        let key = NameKey::from_wire(&pool.name_wire);
        let node = key.as_ref().and_then(|k| zone.node(k.as_bytes()));
        response.denial = Some(Denial::NoType { zone, node, pool: true });
        // No address of this family to give (or none servable, with `nodata`): NODATA
        // (RFC 2308 section 2.2). An outage's NODATA is cached no longer than the failover
        // TTL, so resolvers see the recovery soon.
        if decision.all_down {
            let soa = zone.negative_soa.kept().iter().map(|r| {
                let mut r = r.clone();
                r.ttl = r.ttl.min(pool.failover_ttl_secs);
                r
            });
            response.authorities.push(Rrs::Owned(soa.collect()));
            return None;
        }
        response.authorities.push(Rrs::Set(&zone.negative_soa));
        return None;
    }
    match decision.endpoints.get(0).and_then(|e| e.name.as_ref()) {
        Some(name) => {
            response.answers.push(Rrs::Endpoints(decision.endpoints));
            (!matches!(qtype, RecordType::CNAME | RecordType::ANY)).then_some(&name.name)
        }
        None if matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) => {
            response.answers.push(Rrs::Endpoints(decision.endpoints));
            None
        }
        None => {
            // Addresses chosen for a question of another type: the name has none (NODATA).
            response.authorities.push(Rrs::Set(&zone.negative_soa));
            None
        }
    }
}

/// The records of `set`, renamed to the query name when synthesised from a wildcard
/// (RFC 4592 section 3.3.1: "the owner name of the synthesized RR is QNAME").
fn rrs<'s>(set: &'s Rrset, synthesised: bool, owner: &dyn Fn() -> Name) -> Rrs<'s> {
    if !synthesised {
        return Rrs::Set(set);
    }
    let owner = owner();
    Rrs::Owned(
        set.decoded()
            .into_iter()
            .map(|mut record| {
                record.name = owner.clone();
                record
            })
            .collect(),
    )
}

/// A CNAME whose target already owns a CNAME in the answer closes a loop: stop there.
fn is_loop(response: &Answer<'_>, next: &Name) -> bool {
    response.answers.iter().any(|rrs| rrs.records().any(|r| r.name.eq_ignore_root(next)))
}

/// A referral (RFC 1034 section 4.3.2 step 3b): not authoritative, the cut's NS RRset in the
/// authority section and the glue we hold in the additional section.
fn referral<'s>(response: &mut Answer<'s>, zone: &'s Zone, cut: &'s Node) {
    let Some(ns) = cut.get(RecordType::NS) else { return };
    // AA stays set if a CNAME of ours led here: those records are authoritative.
    response.metadata.authoritative = !response.answers.is_empty();
    response.authorities.push(Rrs::Set(ns));
    response.denial = Some(Denial::Referral { zone, cut });
    // In-domain glue (at or below the cut) first: without it the referral cannot be
    // followed. Sibling glue elsewhere in this zone follows, and may be left out.
    let Some(cut) = ns.kept().first() else { return };
    let cut_name = NameKey::new(&cut.name);
    add_addresses(response, zone, ns, cut_name.as_bytes());
    response.required_additionals = response.additionals.len();
    add_addresses(response, zone, ns, &zone.origin_key);
}

/// Additional section processing (RFC 1034 section 3.6, RFC 1035 section 3.3): addresses of
/// the name servers, mail exchangers and service targets that live in this zone. For SVCB
/// and HTTPS, RFC 9460 section 4.1: "authoritative DNS servers SHOULD return A, AAAA, and
/// SVCB records in the Additional section for any TargetNames that are in the zone" (the
/// RRset of the answer's own type there, as Knot does). A pool name holds no A or AAAA in its
/// zone, so addresses steered per client never go there (section 4.4 leaves out what would
/// not suit every client).
fn additional_for<'s>(response: &mut Answer<'s>, zone: &'s Zone, set: &'s Rrset) {
    match set.rtype {
        RecordType::NS | RecordType::MX | RecordType::SRV => {
            add_at_targets(response, zone, set, &zone.origin_key, &[RecordType::A, RecordType::AAAA]);
        }
        RecordType::SVCB | RecordType::HTTPS => {
            add_at_targets(response, zone, set, &zone.origin_key, &[RecordType::A, RecordType::AAAA, set.rtype]);
        }
        _ => {}
    }
}

/// Adds the A and AAAA RRsets of the targets of `set` that lie at or below `within`.
fn add_addresses<'s>(response: &mut Answer<'s>, zone: &'s Zone, set: &'s Rrset, within: &[u8]) {
    add_at_targets(response, zone, set, within, &[RecordType::A, RecordType::AAAA]);
}

/// Adds the RRsets of `types` owned by the targets of `set` that lie at or below `within`,
/// each once and none already in the answer. A TargetName of "." names no other host (RFC
/// 9460 section 2.5: the owner itself, or no service at all).
fn add_at_targets<'s>(response: &mut Answer<'s>, zone: &'s Zone, set: &'s Rrset, within: &[u8], types: &[RecordType]) {
    for record in set.kept() {
        let target = match &record.data {
            RData::NS(ns) => &ns.0,
            RData::MX(mx) => &mx.exchange,
            RData::SRV(srv) => &srv.target,
            RData::SVCB(svcb) | RData::HTTPS(HTTPS(svcb)) if !svcb.target_name.is_root() => &svcb.target_name,
            _ => continue,
        };
        let key = NameKey::new(target);
        if !is_at_or_below(key.as_bytes(), within) {
            continue;
        }
        let Some(node) = zone.node(key.as_bytes()) else {
            continue;
        };
        for &rtype in types {
            let Some(found) = node.get(rtype) else { continue };
            let is_in =
                |section: &Section<'_>| section.iter().any(|r| matches!(r, Rrs::Set(s) if std::ptr::eq(*s, found)));
            if !is_in(&response.additionals) && !is_in(&response.answers) {
                response.additionals.push(Rrs::Set(found));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
