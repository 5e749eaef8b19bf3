use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RecordType};

use super::*;
use crate::config::transfer::TransferAcl;

fn request(zone: &str, rtype: RecordType) -> Vec<u8> {
    let mut message = Message::new(0x1234, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(zone).unwrap(), rtype));
    message.to_vec().unwrap()
}

#[test]
fn transfer_requests_are_told_from_queries_by_their_header_and_question() {
    assert!(is_transfer(&request("example.test.", RecordType::AXFR)));
    assert!(is_transfer(&request("example.test.", RecordType::IXFR)));
    assert!(!is_transfer(&request("example.test.", RecordType::SOA)));
    let mut response = request("example.test.", RecordType::AXFR);
    response[2] |= 0x80;
    assert!(!is_transfer(&response), "a response");
    let mut notify = request("example.test.", RecordType::AXFR);
    notify[2] |= 4 << 3;
    assert!(!is_transfer(&notify), "another opcode");
    assert!(!is_transfer(&request("example.test.", RecordType::AXFR)[..20]), "cut short");
    assert!(!is_transfer(&[]));
}

/// Counts the messages it signs, and checks the first is said to be first.
struct Counting(usize);

impl Sign for Counting {
    fn sign(&mut self, _message: &mut Vec<u8>, first: bool) {
        assert_eq!(first, self.0 == 0);
        self.0 += 1;
    }
}

#[test]
fn a_large_zone_goes_in_messages_each_within_the_limit_soa_first_and_last() {
    let mut text = String::from("$ORIGIN big.test.\n$TTL 60\n@ SOA ns h 7 1 1 1 1\n@ NS ns\nns A 192.0.2.53\n");
    for i in 0..20_000u32 {
        text.push_str(&format!("host-{i} TXT \"{}\"\n", "x".repeat(40)));
    }
    let mut snapshot = crate::dns::response::tests::snapshot(&text);
    let config = Arc::make_mut(&mut snapshot.config);
    config.zone_settings = vec![crate::config::transfer::ZoneSettings {
        transfer: Some(TransferAcl { allow: vec!["192.0.2.0/24".parse().unwrap()], key: None }),
        ..Default::default()
    }];
    let steering = snapshot.steering.clone();
    let mut zones = std::mem::take(Arc::get_mut(&mut snapshot.zones).unwrap());
    snapshot.transfers = Arc::new(crate::transfer::carry(None, &mut zones, &steering, &snapshot.config, 0).transfers);
    snapshot.zones = Arc::new(zones);

    let peer: SocketAddr = "192.0.2.9:5300".parse().unwrap();
    let mut transfer = Transfer::start(&snapshot, &request("big.test.", RecordType::AXFR), peer, None);
    assert_eq!(transfer.record_count(), 20_004, "SOA, NS, A, 20,000 TXT, SOA");
    let (mut signer, mut out, mut records) = (Counting(0), Vec::new(), Vec::new());
    while transfer.next_message(&mut signer, &mut out) {
        assert!(out.len() <= HARD_LIMIT, "a message of {} octets", out.len());
        let message = Message::from_vec(&out).expect("each message parses on its own");
        assert_eq!((message.metadata.id, message.metadata.authoritative), (0x1234, true));
        assert_eq!(message.queries.len(), usize::from(signer.0 == 1), "the question in the first message alone");
        records.extend(message.answers);
    }
    assert!(signer.0 > 10, "{} messages", signer.0);
    assert_eq!(records.len(), 20_004);
    assert_eq!(records.first().map(|r| r.record_type()), Some(RecordType::SOA));
    assert_eq!(records.last().map(|r| r.record_type()), Some(RecordType::SOA));
    assert_eq!(records.iter().filter(|r| r.record_type() == RecordType::SOA).count(), 2);

    // Not allowed: one REFUSED message, no records.
    let stranger: SocketAddr = "198.51.100.1:5300".parse().unwrap();
    let mut refused = Transfer::start(&snapshot, &request("big.test.", RecordType::AXFR), stranger, None);
    assert!(refused.next_message(&mut Unsigned, &mut out));
    let message = Message::from_vec(&out).unwrap();
    assert_eq!((message.metadata.response_code, message.answers.len()), (ResponseCode::Refused, 0));
    assert!(!refused.next_message(&mut Unsigned, &mut out), "and nothing after it");

    // IXFR with no SOA in the authority section cannot be read (RFC 1995 section 3).
    let mut bad = Transfer::start(&snapshot, &request("big.test.", RecordType::IXFR), peer, None);
    assert!(bad.next_message(&mut Unsigned, &mut out));
    assert_eq!(Message::from_vec(&out).unwrap().metadata.response_code, ResponseCode::FormErr);
    // An IXFR from a serial the journal does not hold gets the whole zone.
    let mut message = Message::from_vec(&request("big.test.", RecordType::IXFR)).unwrap();
    let soa = SOA::new(Name::root(), Name::root(), 3, 0, 0, 0, 0);
    message.add_authority(Record::from_rdata(Name::from_ascii("big.test.").unwrap(), 0, RData::SOA(soa)));
    let older = Transfer::start(&snapshot, &message.to_vec().unwrap(), peer, None);
    assert_eq!((older.kind, older.record_count()), ("IXFR as AXFR", 20_004));
}
