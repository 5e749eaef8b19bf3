use hickory_proto::rr::{Name, RData, RecordType};

use super::name::NameKey;
use super::parse::parse;
use super::*;

const ZONE: &str = "$ORIGIN example.test.\n$TTL 3600\n@ SOA ns1 host 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\n\
                    www A 192.0.2.2\nwww A 192.0.2.2\nwww 60 A 192.0.2.3\na.b.ent TXT x\n*.wild A 192.0.2.4\n\
                    sub NS ns.sub\nns.sub A 192.0.2.5\nsub DS 1 13 2 AB\n";

fn zone(text: &str) -> Result<Zone, Vec<ZoneProblem>> {
    let file = parse(text, None).expect("syntax");
    Zone::build(file.origin.expect("origin"), file.entries)
}

fn key(name: &str) -> NameKey {
    NameKey::new(&Name::from_ascii(name).unwrap())
}

fn kind(lookup: Lookup<'_>) -> &'static str {
    match lookup {
        Lookup::Exact(node) if node.rrsets.is_empty() => "empty",
        Lookup::Exact(_) => "exact",
        Lookup::Wildcard(_) => "wildcard",
        Lookup::Delegation(_) => "delegation",
        Lookup::NxDomain => "nxdomain",
    }
}

#[test]
fn lookups_find_names_cuts_wildcards_and_empty_non_terminals() {
    let zone = zone(ZONE).unwrap();
    let cases = [
        ("example.test.", RecordType::A, "exact"),
        ("WWW.example.test.", RecordType::A, "exact"),
        ("ent.example.test.", RecordType::A, "empty"),
        ("b.ent.example.test.", RecordType::A, "empty"),
        ("x.b.ent.example.test.", RecordType::A, "nxdomain"),
        ("x.wild.example.test.", RecordType::A, "wildcard"),
        ("y.x.wild.example.test.", RecordType::A, "wildcard"),
        ("wild.example.test.", RecordType::A, "empty"),
        ("sub.example.test.", RecordType::A, "delegation"),
        ("sub.example.test.", RecordType::DS, "exact"),
        ("ns.sub.example.test.", RecordType::A, "delegation"),
        ("ns.sub.example.test.", RecordType::DS, "delegation"),
        ("nope.example.test.", RecordType::A, "nxdomain"),
    ];
    for (name, rtype, expected) in cases {
        assert_eq!(kind(zone.lookup(&key(name), rtype)), expected, "{name} {rtype}");
    }
}

#[test]
fn rrsets_drop_duplicates_and_share_the_first_ttl() {
    let zone = zone(ZONE).unwrap();
    let Lookup::Exact(node) = zone.lookup(&key("www.example.test."), RecordType::A) else { panic!("www") };
    let set = node.get(RecordType::A).unwrap();
    assert_eq!(set.len(), 2, "the duplicate record is dropped (RFC 2181 section 5)");
    assert_eq!(set.ttl, 3600, "one TTL per RRset (RFC 2181 section 5.2)");
    assert!(set.decoded().iter().all(|r| r.ttl == 3600));
    assert!(set.wire_len >= 2 * (17 + 10 + 4));
}

#[test]
fn negative_soa_ttl_is_the_smaller_of_ttl_and_minimum() {
    assert_eq!(zone(ZONE).unwrap().negative_soa.kept()[0].ttl, 300);
    let long_minimum = ZONE.replace("1 2 3 4 300", "1 2 3 4 86400");
    assert_eq!(zone(&long_minimum).unwrap().negative_soa.kept()[0].ttl, 3600);
}

#[test]
fn invalid_zones_are_refused_with_lines() {
    let base = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n";
    let cases = [
        (format!("{base}x.other. A 192.0.2.1\n"), Some(5), "out of zone"),
        (format!("{base}xexample.test. A 192.0.2.1\n"), Some(5), "out of zone"),
        (format!("{base}www A 192.0.2.1\nwww CNAME ns1\n"), Some(6), "CNAME beside other data"),
        (format!("{base}www CNAME a\nwww CNAME b\n"), Some(6), "a second CNAME"),
        (format!("{base}@ SOA ns2 host 1 2 3 4 5\n"), Some(5), "a second SOA"),
        ("$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n".to_owned(), None, "no NS records"),
        ("$ORIGIN example.test.\n$TTL 60\n@ NS ns1\n".to_owned(), None, "no SOA record"),
    ];
    for (text, line, message) in cases {
        let problems = zone(&text).expect_err(message);
        assert!(problems.iter().any(|p| p.line == line && p.message.contains(message)), "{message}: {problems:?}");
    }
}

#[test]
fn zones_find_the_closest_enclosing_origin_and_the_parent_side() {
    let parent = zone(ZONE).unwrap();
    let child = zone("$ORIGIN sub.example.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.5\n").unwrap();
    let zones = Zones::new(vec![parent, child]);
    let origin = |name: &str| zones.find(&key(name)).map(|z| z.origin.to_string());
    assert_eq!(origin("www.example.test.").as_deref(), Some("example.test."));
    assert_eq!(origin("ns.sub.example.test.").as_deref(), Some("sub.example.test."));
    assert_eq!(origin("example.com."), None);
    let child = zones.find(&key("sub.example.test.")).unwrap();
    assert_eq!(zones.parent_of(child).map(|z| z.origin.to_string()).as_deref(), Some("example.test."));
}

#[test]
fn a_name_above_the_origin_is_not_below_it() {
    // One label holding the octets "\x01a\x01b": the same trailing octets as a.b., fewer labels.
    assert!(!is_at_or_below(b"\x04\x01a\x01b\x00", b"\x01a\x01b\x00"));
    assert!(!is_at_or_below(b"\x00", b"\x01b\x00"));
    assert!(!is_at_or_below(b"\x08xexample\x00", b"\x07example\x00"));
    assert!(is_at_or_below(b"\x01x\x07example\x00", b"\x07example\x00"));
    assert!(is_at_or_below(b"\x07example\x00", b"\x07example\x00"));
    assert!(is_at_or_below(b"\x07example\x00", b"\x00"));
}

#[test]
fn an_mx_whose_generic_target_has_fewer_labels_than_the_origin_is_answered() {
    // RFC 3597 lets RDATA hold any wire name: here one label of the octets "\x01a\x01b".
    let zone = zone("$ORIGIN a.b.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\n@ MX \\# 8 0001 040161016200\n").unwrap();
    let Lookup::Exact(apex) = zone.lookup(&key("a.b."), RecordType::MX) else { panic!("apex") };
    let RData::MX(mx) = &apex.get(RecordType::MX).unwrap().kept()[0].data else { panic!("MX") };
    let target = NameKey::new(&mx.exchange);
    assert!(!is_at_or_below(target.as_bytes(), &zone.origin_key));
}

/// A zone with `extra` after the SOA and NS; problems of the build (syntax errors panic).
fn problems_with(extra: &str) -> Vec<ZoneProblem> {
    let text = format!("$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n{extra}");
    zone(&text).err().unwrap_or_default()
}

#[test]
fn strings_over_255_octets_are_refused_with_their_line() {
    // RFC 1035 section 3.3: a character-string has one length octet.
    let (fits, over) = ("s".repeat(255), "s".repeat(256));
    assert_eq!(problems_with(&format!("x TXT \"{fits}\"\nh HINFO {fits} b\n")), []);
    for record in [format!("x TXT a \"{over}\""), format!("h HINFO a {over}")] {
        let problems = problems_with(&format!("ok A 192.0.2.1\n{record}\n"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, Some(6));
        assert!(problems[0].message.contains("a string of 256 octets"), "{problems:?}");
    }
}

#[test]
fn rdata_over_65535_octets_is_refused_with_its_line() {
    // RDLENGTH is 16 bits (RFC 1035 section 3.2.1): 257 strings of 1 + 255 octets hold 65,792.
    let strings = vec![format!("\"{}\"", "t".repeat(255)); 257].join(" ");
    let problems = problems_with(&format!("x TXT {strings}\n"));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, Some(5));
    assert!(problems[0].message.contains("the TXT data of x.example.test. is over 65,535 octets"), "{problems:?}");
}

#[test]
fn an_rrset_whose_smallest_response_exceeds_65535_octets_is_refused() {
    // Header 12, question 18 + 4, then 16 octets per A record (pointer, type, class, TTL,
    // RDLENGTH, address): 4,093 records make 65,522 octets, the 4,094th 65,538.
    let records = |n: u32| (0..n).map(|i| format!("big A 10.{}.{}.1\n", i / 256, i % 256)).collect::<String>();
    assert_eq!(problems_with(&records(4093)), []);
    let problems = problems_with(&records(4094));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].line, Some(4 + 4094), "the line of the record that takes it over");
    assert!(problems[0].message.contains("the A RRset of big.example.test. (4094 records) cannot be sent"));
    assert!(problems[0].message.contains("smallest response is 65538 octets"), "{problems:?}");
    // Names in NS data may be compressed to a pointer, so they count as 2 octets at most.
    // 4,600 records of at least 14 octets fit (64,434 octets), 4,700 do not (65,834).
    let targets = |n: u32| (0..n).map(|i| format!("sub NS ns{i}.sub\n")).collect::<String>();
    assert_eq!(problems_with(&targets(4600)), []);
    let problems = problems_with(&targets(4700));
    assert!(problems.iter().any(|p| p.message.contains("the NS RRset of sub.example.test.")), "{problems:?}");
}

#[test]
fn rrsets_keep_file_order_and_drop_duplicates_whatever_their_number() {
    // Duplicates come in any order and case (names in data compare without regard to case,
    // RFC 4343); strings in TXT data are compared as written.
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!("many A 10.0.{}.{}\n", i / 250, i % 250));
        if i % 3 == 0 {
            text.push_str(&format!("many A 10.0.{}.{}\n", i / 500, i % 250));
        }
    }
    text.push_str("mx MX 10 Mail.example.test.\nmx MX 10 mail.EXAMPLE.test.\nmx MX 20 mail.example.test.\n");
    text.push_str("t TXT \"A\"\nt TXT \"a\"\nt TXT \"A\"\n");
    let zone = zone(&format!("$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n{text}")).unwrap();
    let data = |name: &str, rtype| {
        let Lookup::Exact(node) = zone.lookup(&key(name), rtype) else { panic!("{name}") };
        node.get(rtype).unwrap().decoded().iter().map(|r| r.data.to_string()).collect::<Vec<_>>()
    };
    let expected: Vec<String> = (0..3000).map(|i| format!("10.0.{}.{}", i / 250, i % 250)).collect();
    assert_eq!(data("many.example.test.", RecordType::A), expected);
    assert_eq!(data("mx.example.test.", RecordType::MX), ["10 mail.example.test.", "20 mail.example.test."]);
    assert_eq!(data("t.example.test.", RecordType::TXT), ["A", "a"]);
}

#[test]
fn addresses_and_text_are_held_in_wire_form_and_decode_to_what_was_loaded() {
    let text = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nWWW A 192.0.2.1\nwww A 192.0.2.2\n\
                www AAAA 2001:db8::1\nwww TXT \"a b\" c\nwww MX 10 mail\n";
    let file = parse(text, None).unwrap();
    let mut loaded: Vec<Record> = file.entries.iter().skip(2).map(|e| e.record.clone()).collect();
    loaded.sort_by_key(|r| u16::from(r.record_type())); // sets are sorted by type code
    let zone = Zone::build(file.origin.unwrap(), file.entries).unwrap();
    let Lookup::Exact(node) = zone.lookup(&key("www.example.test."), RecordType::A) else { panic!("www") };
    let mut decoded = Vec::new();
    for set in &node.rrsets {
        let is_address_or_text = matches!(set.rtype, RecordType::A | RecordType::AAAA | RecordType::TXT);
        assert_eq!(set.is_wire_only(), is_address_or_text, "{}", set.rtype);
        assert_eq!(set.kept().is_empty(), is_address_or_text, "{}", set.rtype);
        assert_eq!(set.wire.as_ref().unwrap().rdata().count(), set.len());
        decoded.extend(set.decoded());
    }
    assert_eq!(decoded, loaded, "owner (with its case), class, TTL and data");
    let shown = |records: &[Record]| records.iter().map(|r| r.name.to_string()).collect::<Vec<_>>();
    assert_eq!(shown(&decoded), shown(&loaded), "owner names as loaded, case included");
}
