//! The answers of point 4 of the foundation issue, one behaviour per test, over real UDP and
//! TCP against a real server.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

use crate::support::TestServer;
use crate::support::client::{self, Q};

fn names(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| format!("{} {}", r.name.to_lowercase(), r.record_type())).collect()
}

fn soa_ttl(message: &Message) -> u32 {
    let soa = message.authorities.iter().find(|r| r.record_type() == RecordType::SOA);
    soa.expect("an SOA in the authority section").ttl
}

#[test]
fn authoritative_answer_sets_aa_echoes_id_and_rd_and_never_sets_ra() {
    let server = TestServer::start();
    for rd in [false, true] {
        let q = Q { id: 0xbeef, rd, ..Q::new("www.example.test.", RecordType::A) };
        let reply = client::udp(server.addr, &q);
        assert_eq!(reply.metadata.id, 0xbeef);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        assert!(reply.metadata.authoritative);
        assert_eq!(reply.metadata.recursion_desired, rd);
        assert!(!reply.metadata.recursion_available);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 2);
    }
}

#[test]
fn question_is_echoed_with_the_clients_letter_case_and_names_match_without_case() {
    let server = TestServer::start();
    let mut query = Q::new("www.example.test.", RecordType::A).no_edns().bytes();
    // Mixed case written into the wire name itself: 3www7example4test0.
    query[12..30].copy_from_slice(b"\x03wWw\x07ExAmPlE\x04tEsT\x00");
    let bytes = client::udp_exchange(server.addr, &query, client::ANSWER_WAIT).expect("a reply");
    assert_eq!(&bytes[12..34], &query[12..34], "the question comes back octet for octet");
    let reply = Message::from_vec(&bytes).unwrap();
    assert_eq!(reply.answers.len(), 2, "the name matched without regard to case");
    let reply = client::udp(server.addr, &Q::new("MIXED.CASE.example.test.", RecordType::A));
    assert_eq!(reply.answers.len(), 1);
}

#[test]
fn nxdomain_carries_the_soa_with_ttl_min_of_soa_ttl_and_minimum() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("nonexistent.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(reply.metadata.authoritative);
    assert!(reply.answers.is_empty());
    // The SOA TTL is 3600 and its MINIMUM 600 (RFC 2308 section 3).
    assert_eq!(soa_ttl(&reply), 600);
}

#[test]
fn nodata_carries_the_soa_in_the_authority_section() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("mail.example.test.", RecordType::AAAA));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    assert_eq!(soa_ttl(&reply), 600);
}

#[test]
fn empty_non_terminal_gets_nodata_not_nxdomain() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("ent.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "RFC 8020");
    assert!(reply.answers.is_empty());
    assert_eq!(soa_ttl(&reply), 600);
}

#[test]
fn wildcard_synthesises_records_owned_by_the_query_name() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("Any.Thing.wild.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&reply.answers), ["any.thing.wild.example.test. A"]);
    let reply = client::udp(server.addr, &Q::new("x.cwild.example.test.", RecordType::A));
    assert_eq!(names(&reply.answers), ["x.cwild.example.test. CNAME", "www.example.test. A", "www.example.test. A"]);
}

#[test]
fn wildcard_does_not_match_names_that_exist_or_lie_below_them() {
    let server = TestServer::start();
    // exists.wild owns AAAA only: A there is NODATA, not the wildcard's A (RFC 4592 section 2.2).
    let reply = client::udp(server.addr, &Q::new("exists.wild.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    // Below an existing name the closest encloser is that name, which has no wildcard child.
    let reply = client::udp(server.addr, &Q::new("x.exists.wild.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn no_wildcard_is_synthesised_where_the_zone_has_none() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("nope.ent.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
}

#[test]
fn cname_chain_inside_our_zones_is_followed_in_the_answer() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("alias2.example.test.", RecordType::A));
    assert_eq!(
        names(&reply.answers),
        ["alias2.example.test. CNAME", "alias.example.test. CNAME", "www.example.test. A", "www.example.test. A"]
    );
    assert!(reply.metadata.authoritative);
}

#[test]
fn cname_query_returns_the_cname_itself() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("alias.example.test.", RecordType::CNAME));
    assert_eq!(names(&reply.answers), ["alias.example.test. CNAME"]);
}

#[test]
fn cname_to_an_out_of_zone_target_returns_the_cname_alone() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("outside.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&reply.answers), ["outside.example.test. CNAME"]);
    assert!(reply.authorities.is_empty());
}

#[test]
fn cname_to_a_missing_name_gives_nxdomain_with_the_chain() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("dangling.example.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain, "RFC 6604: the RCODE is the last name's");
    assert_eq!(names(&reply.answers), ["dangling.example.test. CNAME"]);
    assert_eq!(soa_ttl(&reply), 600);
}

#[test]
fn cname_loop_ends_after_each_cname_once() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("loop1.example.test.", RecordType::A));
    assert_eq!(names(&reply.answers), ["loop1.example.test. CNAME", "loop2.example.test. CNAME"]);
}

/// A server of the test zone and the two zones beside it whose CNAMEs lead into it.
fn three_zones() -> TestServer {
    TestServer::with_zones("identity = \"meridian-test\"", &crate::support::all_zones())
}

/// The SOA in the authority section: its owner and TTL.
fn soa_of(message: &Message) -> (String, u32) {
    let soa = message.authorities.iter().find(|r| r.record_type() == RecordType::SOA);
    let soa = soa.unwrap_or_else(|| panic!("an SOA in the authority section: {message:?}"));
    (soa.name.to_lowercase().to_string(), soa.ttl)
}

#[test]
fn a_cname_into_another_served_zone_is_followed_into_that_zone() {
    let server = three_zones();
    for (name, expected) in [
        ("into.second.test.", &["into.second.test. CNAME", "www.example.test. A", "www.example.test. A"][..]),
        (
            "chain.second.test.",
            &[
                "chain.second.test. CNAME",
                "alias2.example.test. CNAME",
                "alias.example.test. CNAME",
                "www.example.test. A",
                "www.example.test. A",
            ],
        ),
        ("wild.second.test.", &["wild.second.test. CNAME", "anything.wild.example.test. A"]),
    ] {
        for (transport, reply) in [
            ("UDP", client::udp(server.addr, &Q::new(name, RecordType::A))),
            ("TCP", client::tcp(server.addr, &Q::new(name, RecordType::A))),
        ] {
            assert_eq!(names(&reply.answers), expected, "{name} over {transport}");
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name} over {transport}");
            assert!(reply.metadata.authoritative, "{name} over {transport}: every record is ours");
            assert!(reply.authorities.is_empty(), "{name} over {transport}: {reply:?}");
        }
    }
}

#[test]
fn a_cname_chain_through_several_zones_and_back_is_followed_and_a_loop_through_them_ends() {
    let server = three_zones();
    let reply = client::udp(server.addr, &Q::new("there.second.test.", RecordType::A));
    assert_eq!(names(&reply.answers), ["there.second.test. CNAME", "hop.third.test. CNAME", "back.second.test. A"]);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    let reply = client::udp(server.addr, &Q::new("loop.second.test.", RecordType::A));
    assert_eq!(names(&reply.answers), ["loop.second.test. CNAME", "loop.third.test. CNAME"], "each CNAME once");
}

#[test]
fn across_zones_the_rcode_and_the_soa_are_those_of_the_last_name() {
    let server = three_zones();
    // RFC 6604 section 2.1: the RCODE is the last name's; the SOA is its zone's (example.test.,
    // negative TTL 600), not the zone asked about (second.test., negative TTL 300).
    let reply = client::udp(server.addr, &Q::new("missing.second.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(names(&reply.answers), ["missing.second.test. CNAME"]);
    assert_eq!(soa_of(&reply), ("example.test.".to_owned(), 600));
    // A name that exists there without the type asked: NODATA, with that zone's SOA.
    let reply = client::udp(server.addr, &Q::new("mailer.second.test.", RecordType::TXT));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&reply.answers), ["mailer.second.test. CNAME"]);
    assert_eq!(soa_of(&reply), ("example.test.".to_owned(), 600));
    assert!(reply.metadata.authoritative);
}

#[test]
fn across_zones_a_target_outside_every_zone_ends_the_chain_and_one_below_a_cut_gets_a_referral() {
    let server = three_zones();
    let reply = client::udp(server.addr, &Q::new("away.second.test.", RecordType::A));
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(names(&reply.answers), ["away.second.test. CNAME", "outside.example.test. CNAME"]);
    assert!(reply.authorities.is_empty(), "{reply:?}");
    let reply = client::udp(server.addr, &Q::new("referred.second.test.", RecordType::A));
    assert_eq!(names(&reply.answers), ["referred.second.test. CNAME"]);
    assert_eq!(names(&reply.authorities), ["sub.example.test. NS", "sub.example.test. NS"]);
    assert!(names(&reply.additionals).contains(&"ns.sub.example.test. A".to_owned()), "glue: {reply:?}");
    assert!(reply.metadata.authoritative, "the CNAME is ours, so AA stays set");
}

#[test]
fn name_at_or_below_a_delegation_gets_a_referral_with_glue_and_no_aa() {
    let server = TestServer::start();
    for name in ["sub.example.test.", "deep.below.sub.example.test.", "ns.sub.example.test."] {
        let reply = client::udp(server.addr, &Q::new(name, RecordType::A));
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(!reply.metadata.authoritative, "{name}: a referral is not authoritative");
        assert!(reply.answers.is_empty(), "{name}");
        assert_eq!(names(&reply.authorities), ["sub.example.test. NS", "sub.example.test. NS"], "{name}");
        assert_eq!(names(&reply.additionals), ["ns.sub.example.test. A", "ns.sub.example.test. AAAA"], "{name}");
    }
}

#[test]
fn ds_at_a_delegation_is_answered_by_the_parent_side() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("sub.example.test.", RecordType::DS));
    assert!(reply.metadata.authoritative);
    assert_eq!(names(&reply.answers), ["sub.example.test. DS"]);
    let reply = client::udp(server.addr, &Q::new("nodsub.example.test.", RecordType::DS));
    assert!(reply.metadata.authoritative);
    assert!(reply.answers.is_empty(), "no DS: NODATA from the parent");
    assert_eq!(soa_ttl(&reply), 600);
}

#[test]
fn apex_ns_comes_with_in_zone_addresses_in_the_additional_section() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q::new("example.test.", RecordType::NS));
    assert_eq!(reply.answers.len(), 3);
    let mut additional = names(&reply.additionals);
    additional.sort();
    assert_eq!(additional, ["ns1.example.test. A", "ns1.example.test. AAAA", "ns2.example.test. A"]);
}

#[test]
fn names_outside_our_zones_are_refused() {
    let server = TestServer::start();
    for name in ["test.", "other.test.", ".", "example.com.", "example.test.evil."] {
        let reply = client::udp(server.addr, &Q::new(name, RecordType::A));
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(!reply.metadata.authoritative, "{name}");
        assert!(reply.answers.is_empty() && reply.authorities.is_empty(), "{name}");
    }
}

#[test]
fn opcodes_other_than_query_get_notimp() {
    let server = TestServer::start();
    // NOTIFY is answered (REFUSED unless from a peer the zone names: see transfer.rs).
    for op_code in [OpCode::Update, OpCode::Status] {
        let q = Q { op_code, ..Q::new("example.test.", RecordType::SOA) };
        let reply = client::udp(server.addr, &q);
        assert_eq!(reply.metadata.response_code, ResponseCode::NotImp, "{op_code:?}");
        assert_eq!(reply.metadata.op_code, op_code);
    }
}

#[test]
fn a_response_gets_no_answer() {
    let server = TestServer::start();
    let mut bytes = Q::new("www.example.test.", RecordType::A).bytes();
    bytes[2] |= 0x80; // QR=1
    assert_eq!(client::udp_unanswered(server.addr, &bytes), None);
    assert_eq!(client::udp(server.addr, &Q::new("www.example.test.", RecordType::A)).answers.len(), 2);
}

#[test]
fn qdcount_other_than_one_gets_formerr() {
    let server = TestServer::start();
    let one = Q::new("www.example.test.", RecordType::A).no_edns().bytes();
    let mut none = one[..12].to_vec();
    none[5] = 0;
    let mut two = one.clone();
    two[5] = 2;
    two.extend_from_slice(&one[12..]);
    for (what, bytes) in [("QDCOUNT=0", none), ("QDCOUNT=2", two)] {
        let reply = client::udp_exchange(server.addr, &bytes, client::ANSWER_WAIT).expect(what);
        let reply = Message::from_vec(&reply).expect(what);
        assert_eq!(reply.metadata.response_code, ResponseCode::FormErr, "{what}");
        assert!(reply.answers.is_empty(), "{what}");
    }
}

#[test]
fn opt_is_in_the_answer_only_when_the_query_had_one() {
    let server = TestServer::start();
    assert!(client::udp(server.addr, &Q::new("www.example.test.", RecordType::A)).edns.is_some());
    assert!(client::udp(server.addr, &Q::new("www.example.test.", RecordType::A).no_edns()).edns.is_none());
    let refused = client::udp(server.addr, &Q::new("other.test.", RecordType::A).no_edns());
    assert!(refused.edns.is_none());
}

#[test]
fn edns_version_above_zero_gets_badvers_with_version_zero() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q { edns_version: 1, ..Q::new("www.example.test.", RecordType::A) });
    // BADVERS is 16, an extended RCODE (hickory decodes 16 under its other name, BADSIG).
    assert_eq!(u16::from(reply.metadata.response_code), 16);
    let edns = reply.edns.expect("BADVERS comes in an OPT record");
    assert_eq!(edns.version(), 0);
    assert!(reply.answers.is_empty());
}

#[test]
fn do_bit_is_copied_and_unknown_options_and_flags_are_not_echoed() {
    let server = TestServer::start();
    let mut bytes = Q { dnssec_ok: true, ..Q::new("www.example.test.", RecordType::A) }.bytes();
    // Append an unknown option (code 65001) to the OPT record and set an unknown flag bit.
    let opt = bytes.len() - 11;
    assert_eq!(&bytes[opt..opt + 3], &[0, 0, 41], "the OPT record is last");
    bytes[opt + 7] |= 0x01; // a Z flag bit
    bytes[opt + 10] = 6; // RDLENGTH
    bytes.extend_from_slice(&[0xfd, 0xe9, 0, 2, 0xab, 0xcd]);
    let reply = Message::from_vec(&client::udp_exchange(server.addr, &bytes, client::ANSWER_WAIT).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    let edns = reply.edns.expect("an OPT record");
    assert!(edns.flags().dnssec_ok, "DO copied (RFC 3225)");
    assert_eq!(edns.flags().z, 0, "unknown flags are not echoed");
    assert!(edns.options().as_ref().is_empty(), "unknown options are not echoed");
}

#[test]
fn two_opt_records_get_formerr() {
    let server = TestServer::start();
    let mut bytes = Q::new("www.example.test.", RecordType::A).bytes();
    let opt = bytes[bytes.len() - 11..].to_vec();
    bytes.extend_from_slice(&opt);
    bytes[11] = 2; // ARCOUNT
    let reply = Message::from_vec(&client::udp_exchange(server.addr, &bytes, client::ANSWER_WAIT).unwrap()).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr, "RFC 6891 section 6.1.1");
}

#[test]
fn a_payload_below_512_counts_as_512() {
    let server = TestServer::start();
    // About 300 octets: over the 100 the client claims, within the 512 it is held to.
    let reply = client::udp(server.addr, &Q::new("example.test.", RecordType::NS).payload(100));
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 3);
}

#[test]
fn udp_answer_fits_the_clients_payload_and_truncates_whole_rrsets_keeping_opt() {
    let server = TestServer::start();
    // big: 12 TXT records, about 1 kB. No EDNS: 512 octets, so it cannot fit.
    let q = Q::new("big.example.test.", RecordType::TXT);
    let bytes = client::udp_exchange(server.addr, &q.clone().no_edns().bytes(), client::ANSWER_WAIT).unwrap();
    assert!(bytes.len() <= 512);
    let reply = Message::from_vec(&bytes).unwrap();
    assert!(reply.metadata.truncation);
    assert!(reply.answers.is_empty(), "never a partial RRset (RFC 2181 section 9)");
    // A payload below 512 counts as 512 (RFC 6891 section 6.2.5); the OPT record stays.
    let bytes = client::udp_exchange(server.addr, &q.clone().payload(100).bytes(), client::ANSWER_WAIT).unwrap();
    assert!(bytes.len() <= 512);
    let reply = Message::from_vec(&bytes).unwrap();
    assert!(reply.metadata.truncation);
    assert!(reply.edns.is_some(), "RFC 6891 section 7: OPT kept in a truncated response");
    // With 1232 it fits whole.
    let reply = client::udp(server.addr, &q.clone().payload(1232));
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 12);
    // huge is over 1232: a 4096 payload is still capped at our 1232.
    let huge = Q::new("huge.example.test.", RecordType::TXT).payload(4096);
    let bytes = client::udp_exchange(server.addr, &huge.bytes(), client::ANSWER_WAIT).unwrap();
    assert!(bytes.len() <= 1232, "{} octets", bytes.len());
    assert!(Message::from_vec(&bytes).unwrap().metadata.truncation);
}

#[test]
fn tcp_gets_the_full_answer() {
    let server = TestServer::start();
    let reply = client::tcp(server.addr, &Q::new("huge.example.test.", RecordType::TXT).no_edns());
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.answers.len(), 16);
}

#[test]
fn configured_payload_limit_caps_udp_answers() {
    let server = TestServer::with_server_toml("max_udp_payload = 512");
    let reply = client::udp(server.addr, &Q::new("big.example.test.", RecordType::TXT).payload(4096));
    assert!(reply.metadata.truncation);
    assert_eq!(reply.edns.expect("OPT").max_payload(), 512, "we advertise our own limit");
}

#[test]
fn any_gets_a_minimal_answer_of_one_rrset() {
    let server = TestServer::start();
    for reply in [
        client::udp(server.addr, &Q::new("example.test.", RecordType::ANY)),
        client::tcp(server.addr, &Q::new("example.test.", RecordType::ANY)),
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        let types: std::collections::BTreeSet<_> = reply.answers.iter().map(Record::record_type).collect();
        assert_eq!(types.len(), 1, "RFC 8482: one RRset, got {types:?}");
    }
}

#[test]
fn zone_transfers_are_refused() {
    let server = TestServer::start();
    for rtype in [RecordType::AXFR, RecordType::IXFR] {
        let q = Q::new("example.test.", rtype);
        assert_eq!(client::tcp(server.addr, &q).metadata.response_code, ResponseCode::Refused, "{rtype} over TCP");
        assert_eq!(client::udp(server.addr, &q).metadata.response_code, ResponseCode::Refused, "{rtype} over UDP");
    }
}

#[test]
fn chaos_identity_is_answered_and_other_chaos_queries_are_refused() {
    let server = TestServer::start();
    for name in ["id.server.", "HOSTNAME.BIND."] {
        let reply = client::udp(server.addr, &Q::new(name, RecordType::TXT).class(DNSClass::CH));
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{name}");
        let RData::TXT(txt) = &reply.answers[0].data else { panic!("{name}: not TXT") };
        assert_eq!(txt.to_string(), "meridian-test");
        assert_eq!(reply.answers[0].dns_class, DNSClass::CH);
    }
    for q in [
        Q::new("version.bind.", RecordType::TXT).class(DNSClass::CH),
        Q::new("id.server.", RecordType::A).class(DNSClass::CH),
        Q::new("www.example.test.", RecordType::A).class(DNSClass::HS),
    ] {
        assert_eq!(client::udp(server.addr, &q).metadata.response_code, ResponseCode::Refused, "{q:?}");
    }
}

#[test]
fn chaos_identity_is_refused_when_no_identity_is_configured() {
    let server = TestServer::with_server_toml("");
    let reply = client::udp(server.addr, &Q::new("id.server.", RecordType::TXT).class(DNSClass::CH));
    assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
    let reply = client::udp(server.addr, &Q { nsid: true, ..Q::new("www.example.test.", RecordType::A) });
    assert!(reply.edns.expect("OPT").options().as_ref().is_empty(), "no NSID without an identity");
}

#[test]
fn nsid_is_returned_when_asked_for() {
    let server = TestServer::start();
    let reply = client::udp(server.addr, &Q { nsid: true, ..Q::new("www.example.test.", RecordType::A) });
    let edns = reply.edns.expect("OPT");
    let nsid = edns.options().as_ref().iter().find_map(|(_, o)| match o {
        EdnsOption::NSID(payload) => Some(payload.as_ref().to_vec()),
        _ => None,
    });
    assert_eq!(nsid.as_deref(), Some(&b"meridian-test"[..]));
    let plain = client::udp(server.addr, &Q::new("www.example.test.", RecordType::A));
    assert!(plain.edns.unwrap().options().as_ref().is_empty(), "no NSID unless asked (RFC 5001)");
}

#[test]
fn every_record_type_of_the_zone_is_served() {
    let server = TestServer::start();
    let cases = [
        ("example.test.", RecordType::MX, "10 mail.example.test."),
        ("example.test.", RecordType::TXT, "v=spf1mx-all"),
        ("example.test.", RecordType::CAA, "issue"),
        ("_sip._tcp.example.test.", RecordType::SRV, "5060 sip.example.test."),
        ("1.2.0.192.in-addr.example.test.", RecordType::PTR, "www.example.test."),
        ("www.example.test.", RecordType::AAAA, "2001:db8::10"),
        ("generic.example.test.", RecordType::A, "192.0.2.2"),
    ];
    for (name, rtype, expected) in cases {
        let reply = client::udp(server.addr, &Q::new(name, rtype));
        let text: Vec<String> = reply.answers.iter().map(|r| r.data.to_string()).collect();
        assert!(text.iter().any(|t| t.contains(expected)), "{name} {rtype}: {text:?}");
    }
    let reply = client::udp(server.addr, &Q::new("unknown.example.test.", RecordType::Unknown(65280)));
    let RData::Unknown { rdata, .. } = &reply.answers[0].data else { panic!("not opaque RDATA") };
    assert_eq!(rdata.anything, [0xc0, 0, 2, 1], "RFC 3597 generic RDATA served as written");
}
