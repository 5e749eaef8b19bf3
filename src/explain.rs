//! `meridian explain`: the answer a client would get, and every step of why.
//!
//! It builds the same query a resolver would send and runs it through the server's own
//! pipeline (`dns::pipeline`: decode, answer, which calls `steering::decide`, and encode, which
//! fits the answer to the query's 1,232 octets), so the explanation cannot drift from the
//! answer. Rate limiting and observing are left out: an explanation is not a query served.
//! Round-robin and random pools show the answer for turn 0.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};
use hickory_server::net::xfer::Protocol;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::dns::pipeline::{self, Decoded, Encoder, Parser};
use crate::dns::response::{self, Answer, Salt};
use crate::geo::code_str;
use crate::snapshot::Snapshot;
use crate::steering::Reason;

/// Why an explanation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0:?} is not a domain name")]
    Name(String),
    #[error("{0:?} is not a record type")]
    Type(String),
    #[error("--ecs {0:?} is not a subnet such as 198.51.100.0/24")]
    Ecs(String),
    #[error("cannot build the query: {0}")]
    Query(String),
}

/// What the server would answer, and why.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explanation {
    /// Whose answer this is: `live` (a running server's, with its health, drains, failovers
    /// and API changes) or `offline` (from a configuration file, every endpoint in its initial
    /// health state).
    pub source: String,
    /// The snapshot generation that answered, when live.
    pub generation: Option<u64>,
    pub name: String,
    pub rtype: String,
    #[schema(value_type = String)]
    pub client: IpAddr,
    pub ecs: Option<String>,
    pub rcode: String,
    pub authoritative: bool,
    pub answers: Vec<String>,
    pub authority: Vec<String>,
    /// The SCOPE PREFIX-LENGTH of the ECS option in the answer, when the query had one.
    pub ecs_scope: Option<u8>,
    pub steering: Option<SteeringStep>,
    /// With `[cluster]`, live only: the vantage points' votes on the pool's checked endpoints.
    #[serde(default)]
    pub votes: Vec<String>,
    /// Live only: the pool's endpoints whose weight is on the move (a weight change over a
    /// time, a slow start), where it is, where it goes and by when.
    #[serde(default)]
    pub ramps: Vec<String>,
}

/// The steering part of an explanation.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SteeringStep {
    pub pool: String,
    pub policy: String,
    /// The address steering used and where it came from ("ecs" or "source").
    #[schema(value_type = String)]
    pub located_address: IpAddr,
    pub address_from: String,
    pub database_network_prefix: Option<u8>,
    pub country: Option<String>,
    pub continent: Option<String>,
    pub coordinates: Option<(f64, f64)>,
    pub reason: String,
    pub region: Option<String>,
    /// The client's autonomous system and its network's prefix length, when the pool steers
    /// by ASN (`asn` is absent when the network has no number in the database).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn_network_prefix: Option<u8>,
    /// The addresses answered, or the name (a CNAME).
    pub endpoints: Vec<String>,
    /// The TTL the answer's records are sent with: the pool's `ttl`, or its `failover_ttl`
    /// while a failover is in force or the pool fails open.
    pub ttl_secs: u32,
    /// `ttl_secs` is the failover TTL.
    pub failover_ttl: bool,
    /// The pool has no endpoint of the family asked for in any region: NODATA by design.
    pub no_endpoint_of_family: bool,
    pub scope: u8,
    /// The reported load of each endpoint of the region chosen that has one: "192.0.2.1 0.73",
    /// "192.0.2.2 0.95 (shed)".
    pub loads: Vec<String>,
}

/// Explains the answer to `name`/`rtype` for a client at `client`, optionally behind a
/// resolver that sends `ecs`, from `snapshot` as it is (`source` says whose it is).
///
/// # Errors
/// A bad name, type or subnet.
pub fn explain(
    snapshot: &Snapshot,
    name: &str,
    rtype: &str,
    client: IpAddr,
    ecs: Option<&str>,
) -> Result<Explanation, ExplainError> {
    let mut qname = Name::from_ascii(name).map_err(|_| ExplainError::Name(name.into()))?;
    qname.set_fqdn(true);
    let qtype: RecordType = rtype.to_ascii_uppercase().parse().map_err(|_| ExplainError::Type(rtype.into()))?;
    let subnet =
        ecs.map(|e| e.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| ExplainError::Ecs(e.into()))).transpose()?;
    let mut message = Message::new(0x4d52, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(qname.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    if let Some(net) = subnet {
        edns.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(net.addr(), net.prefix_len(), 0)));
    }
    message.set_edns(edns);
    let bytes = message.to_vec().map_err(|e| ExplainError::Query(e.to_string()))?;
    let source = SocketAddr::new(client, 53000);
    let mut held = None;
    let asked = match pipeline::decode(&bytes, source, Protocol::Udp, Parser::Ours, &mut held) {
        Decoded::Query(asked) => asked,
        Decoded::Response | Decoded::Malformed => return Err(ExplainError::Query("no answer".into())),
    };
    let mut answer = response::answer_query(snapshot, &asked, Salt::default());
    let limit = pipeline::size_limit(&asked, &snapshot.config.server);
    pipeline::encode(&mut answer, &asked, limit, Encoder::Ours, &mut Vec::new());
    answer.decode_wire_only(); // to show every record as text
    Ok(describe(snapshot, &qname, qtype, client, subnet, &answer))
}

/// How a family is named to people.
fn family_name(qtype: RecordType) -> &'static str {
    if qtype == RecordType::AAAA { "IPv6" } else { "IPv4" }
}

fn describe(
    snapshot: &Snapshot,
    qname: &Name,
    qtype: RecordType,
    client: IpAddr,
    subnet: Option<IpNet>,
    answer: &Answer<'_>,
) -> Explanation {
    let lines = |section| Answer::records(section).map(ToString::to_string).collect();
    let ecs_scope = answer.ecs.map(|s| s.scope_prefix());
    let steering = answer.steered.map(|s| {
        let d = s.decision;
        let place =
            d.located.and_then(|l| l.location).zip(snapshot.steering.geo.as_deref()).map(|(id, geo)| *geo.location(id));
        let failover_ttl = d.endpoints.failover;
        let mut reason = reason_text(d.reason, s.pool, d.region);
        if d.all_down {
            use crate::config::WhenAllDown;
            reason = match s.pool.when_all_down {
                WhenAllDown::FailOpen => "no region of the pool can serve: failing open, with every endpoint not \
                                          drained or at weight 0, at the failover TTL"
                    .to_owned(),
                WhenAllDown::ServFail => "no region of the pool can serve: SERVFAIL (when_all_down)".to_owned(),
                WhenAllDown::NoData => "no region of the pool can serve: NODATA (when_all_down)".to_owned(),
            };
        }
        if d.no_endpoint_of_family {
            reason.push_str(&format!(
                "; the pool has no {} endpoint in any region: NODATA by design, not an outage",
                family_name(qtype)
            ));
        }
        SteeringStep {
            pool: s.pool.name.to_string(),
            policy: s.pool.policy.name().to_owned(),
            located_address: s.client,
            address_from: (if s.from_ecs { "ecs" } else { "source" }).to_owned(),
            database_network_prefix: d.located.map(|l| l.prefix_len),
            country: place.and_then(|p| p.country).map(|c| code_str(&c).to_owned()),
            continent: place.and_then(|p| p.continent).map(|c| code_str(&c).to_owned()),
            coordinates: place.and_then(|p| p.coordinates).map(|c| (round2(c.lat), round2(c.lon))),
            reason,
            region: d.region.map(|r| s.pool.regions[r].name.clone()),
            asn: d.asn.and_then(|a| a.asn),
            asn_network_prefix: d.asn.map(|a| a.prefix_len),
            endpoints: d.endpoints.iter().map(crate::steering::PoolEndpoint::label).collect(),
            ttl_secs: if failover_ttl { s.pool.failover_ttl_secs.min(s.pool.ttl_secs) } else { s.pool.ttl_secs },
            failover_ttl,
            no_endpoint_of_family: d.no_endpoint_of_family,
            scope: d.scope,
            loads: loads(snapshot, s.pool, d.region, qtype),
        }
    });
    Explanation {
        source: "offline".to_owned(),
        generation: None,
        name: qname.to_string(),
        rtype: qtype.to_string(),
        client,
        ecs: subnet.map(|n| n.to_string()),
        // As dig shows it: NOERROR, NXDOMAIN, REFUSED...
        rcode: format!("{:?}", answer.metadata.response_code).to_uppercase(),
        authoritative: answer.metadata.authoritative,
        answers: lines(&answer.answers),
        authority: lines(&answer.authorities),
        ecs_scope,
        steering,
        votes: Vec::new(),
        ramps: Vec::new(),
    }
}

/// The loads of the chosen region's endpoints of the family asked, as `explain` prints them.
fn loads(snapshot: &Snapshot, pool: &crate::steering::Pool, region: Option<usize>, qtype: RecordType) -> Vec<String> {
    let Some(region) = region.and_then(|r| pool.regions.get(r)) else { return Vec::new() };
    let family = usize::from(qtype == RecordType::AAAA);
    let health = &snapshot.health;
    let line = |e: &crate::steering::PoolEndpoint| {
        let shed = if health.is_shed(pool.index, e.health) { " (shed)" } else { "" };
        health.load(e.health).map(|load| format!("{} {load:.2}{shed}", e.address))
    };
    region.endpoints[family].iter().filter_map(line).collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn reason_text(reason: Reason, pool: &crate::steering::Pool, region: Option<usize>) -> String {
    let region = region.map_or("none", |r| pool.regions[r].name.as_str());
    match reason {
        Reason::Override { prefix_len } => format!("a CIDR override (/{prefix_len}) maps the client to {region}"),
        Reason::AsnOverride { asn } => format!("an ASN override maps AS{asn} to {region}"),
        Reason::Asn(asn) => format!("AS{asn} maps to {region}"),
        Reason::Country(c) => format!("country {} maps to {region}", code_str(&c)),
        Reason::Continent(c) => format!("continent {} maps to {region}", code_str(&c)),
        Reason::Fallback => format!("no map entry for the client: fallback to {region}"),
        Reason::Nearest { km } => format!("{region} is nearest, {km:.0} km away (after bias)"),
        Reason::Weighted => format!("{region} drawn by weight"),
        Reason::LeastLoaded => format!("{region} drawn by spare capacity (reported load) × weight"),
        Reason::RoundRobin { turn } => format!("round robin turn {turn}: {region}"),
        Reason::Random => format!("{region} drawn at random"),
        Reason::Hash { prefix_len } => format!("the client's /{prefix_len} hashes to {region}"),
        Reason::Priority => format!("{region} is first in priority order"),
        Reason::Latency { measured: true } => format!("{region} answers probes fastest"),
        Reason::Latency { measured: false } => format!("no probe RTT measured yet: {region}, first in order"),
        Reason::ManualFailover { from } => {
            format!("the policy chose {}, failed over by hand to {region}", pool.regions[usize::from(from)].name)
        }
        Reason::NextInOrder { position } => {
            format!(
                "the policy's earlier choices cannot serve (down, drained, failed over from, or no endpoint of \
                 this family); its choice {} is {region}",
                position + 1
            )
        }
    }
}

impl Explanation {
    /// The explanation as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(generation) = self.generation {
            out.push_str(&format!("source    {} (snapshot generation {generation})\n", self.source));
        }
        out.push_str(&format!("query     {} {} from {}", self.name, self.rtype, self.client));
        if let Some(ecs) = &self.ecs {
            out.push_str(&format!(" with ECS {ecs}"));
        }
        out.push_str(&format!(
            "\nresponse  {}{}\n",
            self.rcode,
            if self.authoritative { ", authoritative" } else { "" }
        ));
        if let Some(s) = &self.steering {
            let ttl = if s.failover_ttl { ", the failover TTL while health is unsettled" } else { "" };
            out.push_str(&format!("pool      {} (policy {}, ttl {} s{ttl})\n", s.pool, s.policy, s.ttl_secs));
            out.push_str(&format!("client    {} (from {})\n", s.located_address, s.address_from));
            match s.database_network_prefix {
                Some(prefix) => {
                    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
                    out.push_str(&format!(
                        "location  country {}, continent {}, database network /{prefix}",
                        show(&s.country),
                        show(&s.continent)
                    ));
                    if let Some((lat, lon)) = s.coordinates {
                        out.push_str(&format!(", at {lat:.2}, {lon:.2}"));
                    }
                    out.push('\n');
                }
                None => out.push_str("location  not looked up\n"),
            }
            match (s.asn, s.asn_network_prefix) {
                (Some(asn), Some(prefix)) => {
                    out.push_str(&format!("network   AS{asn}, ASN database network /{prefix}\n"))
                }
                (None, Some(prefix)) => {
                    out.push_str(&format!("network   no AS number, ASN database network /{prefix}\n"))
                }
                _ => {}
            }
            out.push_str(&format!("decision  {}\n", s.reason));
            let endpoints: Vec<String> = s.endpoints.iter().map(ToString::to_string).collect();
            out.push_str(&format!(
                "endpoints {}\n",
                if endpoints.is_empty() { "none".into() } else { endpoints.join(", ") }
            ));
            if !s.loads.is_empty() {
                out.push_str(&format!("loads     {}\n", s.loads.join(", ")));
            }
            if s.address_from == "ecs" {
                out.push_str(&format!("ecs scope {}\n", s.scope));
            } else {
                out.push_str("ecs scope 0 (not steered by a client subnet)\n");
            }
        }
        for line in &self.votes {
            out.push_str(&format!("votes     {line}\n"));
        }
        for line in &self.ramps {
            out.push_str(&format!("weight    {line}\n"));
        }
        for line in &self.answers {
            out.push_str(&format!("answer    {line}\n"));
        }
        for line in &self.authority {
            out.push_str(&format!("authority {line}\n"));
        }
        if let Some(scope) = self.ecs_scope {
            out.push_str(&format!("ECS in the answer: SCOPE PREFIX-LENGTH {scope}\n"));
        }
        out
    }
}
