//! Zones: master files loaded into a tree built once for lookups.
//!
//! A [`Zone`] maps each name (as a lowercase wire key) to its node, empty non-terminals
//! included, so that a lookup walks down from the apex one label at a time and meets
//! delegations, the closest encloser and wildcards in one pass (RFC 1034 section 4.3.2,
//! RFC 4592). Nothing here reads files: `load.rs` does, and hands text to `parse.rs`.

pub mod load;
pub mod name;
pub mod parse;
mod set;
mod wire_set;

pub use set::Zones;
pub use wire_set::{WireSet, rdata_of};

use std::collections::HashMap;

use hickory_proto::ProtoError;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use name::{NameKey, key_of, label_count};
use parse::Entry;

/// The records of one name and type, with equal TTLs and no duplicates (RFC 2181 section 5).
///
/// Addresses and text, the bulk of a large zone, are held in wire form alone: a hickory
/// `Record` takes 272 octets before its data, which made a 250,000-record zone take 3.8 times
/// the memory Knot DNS takes. Other types are also kept as hickory's records, for the answer
/// path reads into them (CNAME, NS, MX and SRV targets, the SOA) or hickory encodes them.
#[derive(Debug, Clone)]
pub struct Rrset {
    pub rtype: RecordType,
    /// The TTL of every record (RFC 2181 section 5.2).
    pub ttl: u32,
    len: usize,
    /// hickory's records, when kept (see above); empty otherwise.
    kept: Box<[Record]>,
    /// Octets the records take on the wire, each encoded on its own: an upper bound on what
    /// they take in a message (where names compress against earlier ones too), so that most
    /// answers skip measuring whether they fit a UDP datagram.
    pub wire_len: usize,
    /// The records' data encoded once, for the UDP encoder (`None`: hickory encodes them).
    pub wire: Option<WireSet>,
}

impl Rrset {
    /// An RRset of one name's records of one type, deduplicated, with their data encoded.
    fn new(owner_len: usize, members: Vec<Member>) -> Self {
        let first = &members[0].record;
        let (rtype, ttl, class, len) = (first.record_type(), first.ttl, u16::from(first.dns_class), members.len());
        // Each record on its own: owner, type, class, TTL, RDLENGTH (RFC 1035 section 4.1.3).
        let wire_len = members.iter().map(|m| owner_len + 10 + m.rdata.len()).sum();
        let wire = WireSet::new(&first.name, class, &first.data, members.iter().map(|m| &m.rdata[..]));
        let is_wire_only = wire.is_some() && matches!(rtype, RecordType::A | RecordType::AAAA | RecordType::TXT);
        let kept = match is_wire_only {
            true => Box::default(),
            false => members.into_iter().map(|m| m.record).collect(),
        };
        Self { rtype, ttl, len, kept, wire_len, wire }
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true of a built zone's sets: an RRset has at least one record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// hickory's records of the set, when they are kept: for every type but A, AAAA and TXT
    /// (see [`Rrset`]); empty for those, whose records [`Rrset::decoded`] makes.
    pub fn kept(&self) -> &[Record] {
        &self.kept
    }

    /// Whether the records are held in wire form alone (see [`Rrset::kept`]).
    pub fn is_wire_only(&self) -> bool {
        self.kept.len() != self.len
    }

    /// Every record of the set as hickory's, decoded from wire form where not kept. It
    /// allocates: for the paths off the UDP encoder (hickory's encoder, wildcards, explain).
    pub fn decoded(&self) -> Vec<Record> {
        match &self.wire {
            Some(wire) if self.is_wire_only() => wire.decode(self.rtype, self.ttl),
            _ => self.kept.to_vec(),
        }
    }

    /// The same records with another TTL.
    fn with_ttl(&self, ttl: u32) -> Self {
        let mut set = self.clone();
        set.ttl = ttl;
        set.kept.iter_mut().for_each(|r| r.ttl = ttl);
        set
    }
}

/// Octets a record takes encoded on its own.
pub fn uncompressed_len(record: &Record) -> usize {
    let mut buf = Vec::new();
    let mut encoder = BinEncoder::new(&mut buf);
    // A fresh encoder has only this record's own names to point back to.
    match record.emit(&mut encoder) {
        Ok(()) => buf.len(),
        Err(_) => usize::from(u16::MAX),
    }
}

/// A record on its way into an RRset: the line it came from and its data in wire form,
/// encoded once for the checks and the [`WireSet`].
struct Member {
    line: usize,
    record: Record,
    rdata: Box<[u8]>,
}

/// All data at one name. Empty for an empty non-terminal (RFC 8020).
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Sorted by type code: there are few per name, so a scan beats a map.
    pub rrsets: Vec<Rrset>,
}

impl Node {
    pub fn get(&self, rtype: RecordType) -> Option<&Rrset> {
        self.rrsets.iter().find(|set| set.rtype == rtype)
    }
}

/// An authoritative zone, ready for lookups.
/// Names (wire form, lowercase) to what they own. Hashed with FxHash rather than SipHash:
/// every query hashes a few names, and the keys are the operator's, never the client's, so
/// a client can only look up, not fill buckets (no hash flooding to defend against).
pub(crate) type NameMap<V> = HashMap<Box<[u8]>, V, rustc_hash::FxBuildHasher>;

#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub origin_key: Box<[u8]>,
    origin_labels: usize,
    nodes: NameMap<Node>,
    /// The SOA with TTL min(SOA TTL, MINIMUM), for negative answers (RFC 2308 section 3).
    pub negative_soa: Rrset,
    pub record_count: usize,
    /// The index of the configuration's zone source it was loaded from (its transfer
    /// settings); 0 for a zone built otherwise.
    pub source: usize,
}

/// Where a lookup of a name inside a zone ends (RFC 1034 section 4.3.2, step 3).
#[derive(Debug)]
pub enum Lookup<'z> {
    /// The name exists (possibly as an empty non-terminal).
    Exact(&'z Node),
    /// The name does not exist, but a wildcard at its closest encloser does (RFC 4592).
    Wildcard(&'z Node),
    /// The name is at or below a zone cut: the node holding the NS RRset of the cut.
    Delegation(&'z Node),
    NxDomain,
}

/// Why zone data was rejected, with the line it was found on where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneProblem {
    pub line: Option<usize>,
    pub message: String,
}

impl ZoneProblem {
    fn at(line: usize, message: impl Into<String>) -> Self {
        Self { line: Some(line), message: message.into() }
    }
}

impl Zone {
    /// Builds a zone from parsed entries, checking what RFC 1034 and 2181 require of it.
    ///
    /// # Errors
    /// Out-of-zone data, no SOA or more than one, an SOA off the apex, CNAME beside other
    /// data, no NS at the apex.
    pub fn build(origin: Name, entries: Vec<Entry>) -> Result<Self, Vec<ZoneProblem>> {
        let mut problems = Vec::new();
        let origin_key = key_of(&origin);
        let mut record_count = 0;
        // Each entry's name key, sorted so that a name's entries are together in file order:
        // a sort of small pairs, rather than a map of growing vectors of whole records that
        // made a large zone's load take several times its final size.
        let mut order: Vec<(Box<[u8]>, usize)> = Vec::with_capacity(entries.len());
        for (at, entry) in entries.iter().enumerate() {
            let key = key_of(&entry.record.name);
            if !is_at_or_below(&key, &origin_key) {
                problems.push(ZoneProblem::at(
                    entry.line,
                    format!("{} is out of zone: not at or below {origin}", entry.record.name),
                ));
                continue;
            }
            if entry.record.record_type() == RecordType::SOA && key != origin_key {
                problems.push(ZoneProblem::at(
                    entry.line,
                    format!("SOA at {} is not at the apex {origin}", entry.record.name),
                ));
                continue;
            }
            record_count += 1;
            order.push((key, at));
        }
        order.sort_unstable();
        let names = 1 + order.windows(2).filter(|pair| pair[0].0 != pair[1].0).count();
        let mut nodes = NameMap::with_capacity_and_hasher(names, Default::default());
        let mut entries: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
        let mut order = order.into_iter().peekable();
        while let Some((key, first)) = order.next() {
            let mut group: Vec<Entry> = entries[first].take().into_iter().collect();
            while let Some((_, at)) = order.next_if(|(next, _)| *next == key) {
                group.extend(entries[at].take());
            }
            check_cname_alone(&group, &mut problems);
            let rrsets = group_rrsets(key.len(), group, &mut problems);
            nodes.insert(key, Node { rrsets });
        }
        drop(entries);
        add_empty_non_terminals(&mut nodes, &origin_key);
        let apex = nodes.get(&origin_key);
        let soa = apex.and_then(|n| n.get(RecordType::SOA)).cloned();
        if apex.and_then(|n| n.get(RecordType::NS)).is_none() {
            problems.push(ZoneProblem { line: None, message: format!("no NS records at the apex {origin}") });
        }
        let Some(soa) = soa else {
            problems.push(ZoneProblem { line: None, message: format!("no SOA record at the apex {origin}") });
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        };
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(problems);
        }
        let negative_soa = match soa.kept().first().map(|r| &r.data) {
            Some(RData::SOA(data)) => soa.with_ttl(soa.ttl.min(data.minimum)),
            _ => soa,
        };
        let origin_labels = label_count(&origin_key);
        Ok(Self { origin, origin_key, origin_labels, nodes, negative_soa, record_count, source: 0 })
    }

    /// The SOA record at the apex.
    pub fn soa(&self) -> &Record {
        self.apex().get(RecordType::SOA).and_then(|set| set.kept().first()).expect("build() requires one SOA, kept")
    }

    /// The zone's serial (RFC 1035 section 3.3.13).
    pub fn serial(&self) -> u32 {
        match &self.soa().data {
            RData::SOA(soa) => soa.serial,
            _ => 0,
        }
    }

    /// Serves the zone with another serial: the SOA at the apex and the one negative answers
    /// carry are rewritten (for `serial = "auto"`).
    pub fn set_serial(&mut self, serial: u32) {
        let mut record = self.soa().clone();
        let RData::SOA(soa) = &mut record.data else { return };
        soa.serial = serial;
        let minimum = soa.minimum;
        let Ok(rdata) = rdata_of(&record.data) else { return };
        let set = Rrset::new(self.origin_key.len(), vec![Member { line: 0, record, rdata }]);
        self.negative_soa = set.with_ttl(set.ttl.min(minimum));
        if let Some(apex) = self.nodes.get_mut(&self.origin_key)
            && let Some(slot) = apex.rrsets.iter_mut().find(|s| s.rtype == RecordType::SOA)
        {
            *slot = set;
        }
    }

    /// Every name with its data, the apex first, then in no particular order (empty
    /// non-terminals included, with no data).
    pub fn nodes(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        let apex = std::iter::once((&*self.origin_key, self.apex()));
        apex.chain(self.nodes.iter().filter(|(k, _)| **k != self.origin_key).map(|(k, n)| (&**k, n)))
    }

    /// Makes a name exist (with no data) if it does not, with its empty non-terminals: a pool
    /// name owns data the zone file does not list, and must block wildcards and answer NODATA
    /// for other types like any other existing name (RFC 4592 section 2.2, RFC 8020).
    pub fn ensure_name(&mut self, name: &Name) {
        let key = key_of(name);
        if is_at_or_below(&key, &self.origin_key) {
            self.nodes.entry(key.clone()).or_default();
            let mut single = NameMap::from_iter([(key, Node::default())]);
            add_empty_non_terminals(&mut single, &self.origin_key);
            for (ancestor, node) in single {
                self.nodes.entry(ancestor).or_insert(node);
            }
        }
    }

    /// Adds records made for the apex (a signed zone's DNSKEY, CDS and CDNSKEY): each type's
    /// records replace any the zone file had of that type.
    pub fn add_apex_records(&mut self, records: Vec<Record>) {
        let entries = records.into_iter().map(|record| Entry { line: 0, record }).collect();
        let mut problems = Vec::new();
        let sets = group_rrsets(self.origin_key.len(), entries, &mut problems);
        let Some(apex) = self.nodes.get_mut(&self.origin_key) else { return };
        for set in sets {
            apex.rrsets.retain(|s| s.rtype != set.rtype);
            self.record_count += set.len();
            apex.rrsets.push(set);
        }
        apex.rrsets.sort_by_key(|set| u16::from(set.rtype));
    }

    /// The apex node: SOA and NS live here.
    pub fn apex(&self) -> &Node {
        self.nodes.get(&self.origin_key).expect("build() refuses a zone without apex data")
    }

    /// The node at exactly this name, ignoring cuts (for glue and additional data).
    pub fn node(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// Looks up a name at or below the origin.
    ///
    /// Walks down from the apex: the first node with NS below the apex is a cut, except that
    /// DS at the cut itself belongs to this (the parent) side (RFC 4035 section 3.1.4.1).
    /// The first missing name means the last found one is the closest encloser, where a
    /// wildcard may match (RFC 4592 section 3.3.1).
    pub fn lookup(&self, qname: &NameKey, qtype: RecordType) -> Lookup<'_> {
        let labels = qname.labels();
        let total = labels.count();
        for n in self.origin_labels + 1..=total {
            let Some(node) = self.nodes.get(labels.suffix(qname, n)) else {
                let encloser = labels.suffix(qname, n - 1);
                return match NameKey::wildcard_of(encloser).and_then(|w| self.nodes.get(w.as_bytes())) {
                    Some(wildcard) => self.below_wildcard(wildcard, qtype),
                    None => Lookup::NxDomain,
                };
            };
            let is_cut = node.get(RecordType::NS).is_some();
            if is_cut && !(n == total && qtype == RecordType::DS) {
                return Lookup::Delegation(node);
            }
            if n == total {
                return Lookup::Exact(node);
            }
        }
        Lookup::Exact(self.apex())
    }

    fn below_wildcard<'z>(&'z self, wildcard: &'z Node, qtype: RecordType) -> Lookup<'z> {
        // A wildcard owning NS would be a delegation; RFC 4592 section 4.2 discourages it
        // and we answer it as one rather than synthesise a cut.
        if wildcard.get(RecordType::NS).is_some() && qtype != RecordType::DS {
            return Lookup::Delegation(wildcard);
        }
        Lookup::Wildcard(wildcard)
    }
}

pub(crate) fn is_at_or_below(key: &[u8], origin: &[u8]) -> bool {
    // Step over whole labels until what is left is as long as the origin: only a suffix on a
    // label boundary counts ("xexample.com" is not below "example.com"). A key with fewer
    // labels than the origin steps past that point and is not below it.
    let mut at = 0;
    while at + origin.len() < key.len() {
        at += 1 + usize::from(key[at]);
    }
    at + origin.len() == key.len() && key[at..] == *origin
}

/// RFC 1034 section 3.6.2 and RFC 2181 section 10.1: a CNAME is alone at its name.
fn check_cname_alone(entries: &[Entry], problems: &mut Vec<ZoneProblem>) {
    let cnames: Vec<&Entry> = entries.iter().filter(|e| e.record.record_type() == RecordType::CNAME).collect();
    if cnames.is_empty() {
        return;
    }
    if let Some(second) = cnames.get(1) {
        problems.push(ZoneProblem::at(second.line, format!("a second CNAME at {}", second.record.name)));
    }
    if let Some(other) = entries.iter().find(|e| e.record.record_type() != RecordType::CNAME) {
        let line = other.line.max(cnames[0].line);
        problems.push(ZoneProblem::at(
            line,
            format!(
                "CNAME beside other data at {} ({} at line {})",
                other.record.name,
                other.record.record_type(),
                other.line
            ),
        ));
    }
}

/// Groups one name's entries into RRsets sorted by type, dropping duplicate records and
/// giving each set the TTL of its first record (RFC 2181 section 5.2 forbids differing TTLs).
/// Records that cannot be encoded, and RRsets no message can hold, are refused.
fn group_rrsets(owner_len: usize, entries: Vec<Entry>, problems: &mut Vec<ZoneProblem>) -> Vec<Rrset> {
    let mut sets: Vec<OpenRrset> = Vec::new();
    for Entry { line, mut record } in entries {
        let rdata = match rdata_of(&record.data) {
            Ok(rdata) => rdata,
            Err(e) => {
                problems.push(ZoneProblem::at(line, unencodable(&record, &e)));
                continue;
            }
        };
        let rtype = record.record_type();
        let Some(set) = sets.iter_mut().find(|set| set.members[0].record.record_type() == rtype) else {
            sets.push(OpenRrset::new(Member { line, record, rdata }));
            continue;
        };
        if rtype == RecordType::SOA {
            problems.push(ZoneProblem::at(line, format!("a second SOA at {}", record.name)));
            continue;
        }
        record.ttl = set.members[0].record.ttl;
        set.insert(Member { line, record, rdata });
    }
    sets.retain(|set| match too_big(owner_len, &set.members) {
        Some(problem) => {
            problems.push(problem);
            false
        }
        None => true,
    });
    sets.sort_by_key(|set| u16::from(set.members[0].record.record_type()));
    sets.into_iter().map(|set| Rrset::new(owner_len, set.members)).collect()
}

/// An RRset still being filled: its records in file order and, once it holds more than a
/// few, the hashes of their data, so that dropping a duplicate takes one lookup rather than a
/// scan of the set (which made a name with 100,000 records take 27 s to load).
struct OpenRrset {
    members: Vec<Member>,
    /// The hash of each record's data to the first member with data of that hash.
    seen: HashMap<u64, usize, rustc_hash::FxBuildHasher>,
}

/// Up to this many records, a scan finds a duplicate faster than a map is built.
const SCAN_MAX: usize = 8;

impl OpenRrset {
    fn new(first: Member) -> Self {
        Self { members: vec![first], seen: HashMap::default() }
    }

    /// Adds a record unless one with equal data is there (RFC 2181 section 5: an RRset holds
    /// no duplicates). Equal data is compared as hickory does, names without regard to case,
    /// and hashed alike (`Name`'s hash folds case too).
    fn insert(&mut self, member: Member) {
        let data = &member.record.data;
        if self.members.len() < SCAN_MAX {
            if !self.members.iter().any(|m| m.record.data == *data) {
                self.members.push(member);
            }
            return;
        }
        if self.seen.is_empty() {
            for (at, m) in self.members.iter().enumerate() {
                self.seen.entry(hash_of(&m.record.data)).or_insert(at);
            }
        }
        let hash = hash_of(data);
        match self.seen.get(&hash) {
            None => {
                self.seen.insert(hash, self.members.len());
            }
            // Two different data of one hash are rare: only then is the set scanned.
            Some(&at) if self.members[at].record.data != *data => {
                if self.members.iter().any(|m| m.record.data == *data) {
                    return;
                }
            }
            Some(_) => return,
        }
        self.members.push(member);
    }
}

fn hash_of(data: &RData) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(data)
}

/// Why a record's data cannot be put on the wire, in the operator's terms.
fn unencodable(record: &Record, error: &ProtoError) -> String {
    let (rtype, name) = (record.record_type(), &record.name);
    match error {
        // RFC 1035 section 3.3: "<character-string> is a single length octet followed by
        // that number of characters."
        ProtoError::CharacterDataTooLong { len, .. } => format!(
            "the {rtype} data of {name} holds a string of {len} octets: a string is at most 255 \
             (RFC 1035 section 3.3); split it into several quoted strings"
        ),
        // The encoder stops at 65,535 octets, all that RDLENGTH can count (section 3.2.1).
        ProtoError::MaxBufferSizeExceeded(_) => format!(
            "the {rtype} data of {name} is over 65,535 octets, more than its 16-bit length can count \
             (RFC 1035 section 3.2.1)"
        ),
        other => format!("the {rtype} data of {name} cannot be encoded: {other}"),
    }
}

/// The most octets of a DNS message: over TCP its length is a 16-bit prefix (RFC 1035
/// section 4.2.2), and UDP carries less.
const MAX_MESSAGE_LEN: usize = 65_535;

/// An RRset that no response can hold, even alone and compressed as far as it could be:
/// the header, the question for its own name, and each record with its owner as a 2-octet
/// pointer (RFC 1035 section 4.1.4) and every name in its data that may be compressed counted
/// as one too. RFC 2181 section 9 lets a server drop RRsets that do not fit, never part of
/// one, so such a set is answered TC=1 with no data forever, over UDP and TCP alike. The
/// problem names the line of the record that takes the set over the limit.
fn too_big(owner_len: usize, set: &[Member]) -> Option<ZoneProblem> {
    const HEADER_LEN: usize = 12;
    let mut len = HEADER_LEN + owner_len + 4; // question: QNAME, QTYPE, QCLASS (section 4.1.2)
    let mut over = None;
    for member in set {
        len += 2 + 10 + smallest_rdata(member.record.record_type(), &member.rdata);
        if len > MAX_MESSAGE_LEN && over.is_none() {
            over = Some(member.line);
        }
    }
    let first = &set[0].record;
    over.map(|line| {
        ZoneProblem::at(
            line,
            format!(
                "the {} RRset of {} ({} records) cannot be sent: its smallest response is {len} octets, \
                 over the {MAX_MESSAGE_LEN} of a DNS message (RFC 1035 section 4.2.2)",
                first.record_type(),
                first.name,
                set.len()
            ),
        )
    })
}

/// The fewest octets this data can take in a message: names the encoder may compress (RFC
/// 3597 section 4: those of the RFC 1035 types) as a pointer at best.
fn smallest_rdata(rtype: RecordType, rdata: &[u8]) -> usize {
    const POINTER_LEN: usize = 2;
    match rtype {
        RecordType::NS | RecordType::CNAME | RecordType::PTR => rdata.len().min(POINTER_LEN),
        RecordType::MX => 2 + rdata.len().saturating_sub(2).min(POINTER_LEN),
        // MNAME and RNAME as pointers, then five 32-bit numbers (section 3.3.13).
        RecordType::SOA => rdata.len().min(2 * POINTER_LEN + 20),
        _ => rdata.len(),
    }
}

/// Every name between a record's owner and the origin exists, if only as an empty
/// non-terminal, so that it answers NODATA rather than NXDOMAIN (RFC 8020).
fn add_empty_non_terminals(nodes: &mut NameMap<Node>, origin: &[u8]) {
    let owners: Vec<Box<[u8]>> = nodes.keys().cloned().collect();
    for owner in owners {
        let mut at = 0;
        let mut key = &owner[..];
        while key.len() > origin.len() {
            at += 1 + usize::from(owner[at]);
            key = &owner[at..];
            nodes.entry(key.into()).or_default();
        }
    }
}

#[cfg(test)]
mod tests;
