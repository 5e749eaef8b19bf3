use hickory_proto::rr::{Name, RData, RecordType};

use super::*;

fn records(text: &str) -> Vec<Entry> {
    parse(text, None).expect("valid master file").entries
}

fn error(text: &str) -> SyntaxError {
    parse(text, None).expect_err("invalid master file")
}

#[test]
fn relative_names_take_the_origin_blank_owners_the_last_one_and_missing_ttls_the_default() {
    let entries = records(
        "$ORIGIN example.test.\n$TTL 1h\n@ IN SOA ns1 host ( 1 2 3\n 4 5 ) ; comment\n  IN NS ns1\nwww 60 A 192.0.2.1\n\tAAAA 2001:db8::1\nmail.other. IN 30 A 192.0.2.2\n",
    );
    let shown: Vec<(usize, String, u32, RecordType)> =
        entries.iter().map(|e| (e.line, e.record.name.to_string(), e.record.ttl, e.record.record_type())).collect();
    assert_eq!(
        shown,
        [
            (3, "example.test.".into(), 3600, RecordType::SOA),
            (5, "example.test.".into(), 3600, RecordType::NS),
            (6, "www.example.test.".into(), 60, RecordType::A),
            (7, "www.example.test.".into(), 3600, RecordType::AAAA),
            (8, "mail.other.".into(), 30, RecordType::A),
        ]
    );
    let RData::NS(ns) = &entries[1].record.data else { panic!("NS") };
    assert_eq!(ns.0, Name::from_ascii("ns1.example.test.").unwrap(), "RDATA names are relative to $ORIGIN");
}

#[test]
fn txt_keeps_multiple_quoted_strings_with_spaces_and_semicolons() {
    let entries = records("$ORIGIN t.\n$TTL 60\nx TXT \"a b\" \"c;d\" e \"\\\"q\\\"\"\n");
    let RData::TXT(txt) = &entries[0].record.data else { panic!("TXT") };
    let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
    assert_eq!(strings, [&b"a b"[..], b"c;d", b"e", b"\"q\""]);
}

#[test]
fn the_rfc_3597_generic_form_reads_unknown_and_known_types() {
    let entries =
        records("$ORIGIN t.\n$TTL 60\nx TYPE65280 \\# 3 abcdef\ny A \\# 4 C0000201\nz TYPE1 \\# 4 c0 00 02 02\n");
    assert!(matches!(&entries[0].record.data, RData::Unknown { rdata, .. } if rdata.anything == [0xab, 0xcd, 0xef]));
    assert_eq!(entries[1].record.data.to_string(), "192.0.2.1");
    assert_eq!(entries[2].record.record_type(), RecordType::A, "TYPE1 is A");
}

#[test]
fn ds_is_kept_as_opaque_rdata() {
    let entries = records("$ORIGIN t.\n$TTL 60\nsub DS 257 13 2 ABCD\n");
    let RData::Unknown { code, rdata } = &entries[0].record.data else { panic!("DS") };
    assert_eq!(*code, RecordType::DS);
    assert_eq!(rdata.anything, [1, 1, 13, 2, 0xab, 0xcd]);
}

#[test]
fn syntax_errors_name_their_line_and_fault() {
    let cases = [
        ("$ORIGIN t.\n$TTL 60\nx IN\n", 3, "no record type"),
        ("$ORIGIN t.\n$TTL 60\n\nx A 1.2.3\n", 4, "bad A RDATA"),
        ("$ORIGIN t.\nx A 192.0.2.1\n", 2, "no TTL"),
        ("$ORIGIN t.\n$TTL 60\nx TXT \"open\n", 3, "past the end of the line"),
        ("$ORIGIN t.\n$TTL 60\nx TXT ( a\n", 3, "never closed"),
        ("$ORIGIN t.\n$TTL 60\nx TXT a )\n", 3, "without '('"),
        ("$ORIGIN t.\n$TTL 60\nx TYPE99 1\n", 3, "generic form"),
        ("$ORIGIN t.\n$TTL 60\nx A \\# 5 c0000201\n", 3, "says 5 octets but 4"),
        ("$INCLUDE other.zone\n", 1, "not supported"),
        ("$TTL 60\nx A 192.0.2.1\n", 2, "no $ORIGIN"),
        ("$ORIGIN t.\n$TTL forever\n", 2, "not a TTL"),
        ("$ORIGIN t.\n$TTL 60\n  A 192.0.2.1\n", 3, "no owner"),
        ("$ORIGIN t.\n$TTL 60\nx TXT a\\\ny A 192.0.2.1\n", 3, "backslash at the end of a line"),
        ("$ORIGIN t.\n$TTL 60\nx TXT a\\", 3, "backslash at the end of a line"),
        ("$ORIGIN t.\n$TTL 60\nx TYPE99 \\# 2 a\u{e9}1\n", 3, "is not hex"),
        ("$ORIGIN t.\n$TTL 60\nx TYPE99 \\# 1 +f\n", 3, "is not hex"),
        ("$ORIGIN t.\n$TTL 60\nx DS 1 1 1 a\u{e9}1\n", 3, "is not hex"),
    ];
    for (text, line, message) in cases {
        let e = error(text);
        assert_eq!(e.line, line, "{text:?}: {e:?}");
        assert!(e.message.contains(message), "{text:?}: {e:?}");
    }
}

#[test]
fn the_given_origin_is_used_without_origin_directive() {
    let file = parse("$TTL 60\nwww A 192.0.2.1\n", Some(Name::from_ascii("given.test.").unwrap())).unwrap();
    assert_eq!(file.entries[0].record.name.to_string(), "www.given.test.");
}

#[test]
fn hinfo_naptr_sshfp_tlsa_svcb_and_https_records_parse_as_their_types() {
    let entries = records(
        "$ORIGIN t.\n$TTL 60\nh HINFO \"x86\" \"linux\"\nn NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:a@t!\" .\n\
         s SSHFP 1 1 0123456789abcdef0123456789abcdef01234567\n_443._tcp TLSA 3 1 1 0123456789abcdef\n\
         svc SVCB 1 . alpn=h2\nweb HTTPS 1 . alpn=h2,h3\n",
    );
    let types: Vec<RecordType> = entries.iter().map(|e| e.record.record_type()).collect();
    assert_eq!(
        types,
        [
            RecordType::HINFO,
            RecordType::NAPTR,
            RecordType::SSHFP,
            RecordType::TLSA,
            RecordType::SVCB,
            RecordType::HTTPS
        ]
    );
}

/// RFC 9460 section 2.1: a TargetName is a domain name like any other in a master file,
/// relative to the origin unless it ends in a dot; "." stays the root (RFC 9460 section 2.5).
#[test]
fn a_relative_svcb_or_https_target_is_relative_to_the_origin() {
    let entries = records(
        "$ORIGIN t.\n$TTL 60\nalt HTTPS 0 web\nsvc SVCB 1 web.other. alpn=h2\nweb HTTPS 1 . alpn=h2\n\
         $ORIGIN sub.t.\nx SVCB 2 svc port=53\n",
    );
    let targets: Vec<String> = entries
        .iter()
        .map(|e| match &e.record.data {
            RData::SVCB(svcb) | RData::HTTPS(HTTPS(svcb)) => svcb.target_name.to_string(),
            other => panic!("not SVCB or HTTPS: {other:?}"),
        })
        .collect();
    assert_eq!(targets, ["web.t.", "web.other.", ".", "svc.sub.t."]);
}

#[test]
fn names_over_255_octets_and_labels_over_63_are_refused_with_their_line() {
    // RFC 1035 section 2.3.4: labels of 63 octets or less, names of 255 or less. Labels of
    // 63, 61, 61, 61 and "t" take 64 + 3 * 62 + 2 + 1 = 255 octets; "x" more makes 256, as
    // does a relative 64 + 3 octets in front of the 189 of the origin.
    let label = |n: usize| "l".repeat(n);
    let longest = format!("{}.{}.{}.{}.t.", label(63), label(61), label(61), label(61));
    assert_eq!(records(&format!("$TTL 60\n{longest} A 192.0.2.1\n")).len(), 1, "255 octets fit");
    let cases = [
        format!("$TTL 60\n{}.t. A 192.0.2.1\n", label(64)),
        format!("$TTL 60\nx{longest} A 192.0.2.1\n"),
        format!("$ORIGIN {}.{}.{}.t.\n$TTL 60\n{}.xy A 192.0.2.1\n", label(61), label(61), label(61), label(63)),
        format!("$ORIGIN t.\n$TTL 60\nx CNAME x{longest}\n"),
        format!("$ORIGIN t.\n$TTL 60\nx MX 10 {}.t.\n", label(64)),
    ];
    for text in cases {
        let e = error(&text);
        assert_eq!(e.line, text.lines().count(), "{e:?}");
        assert!(e.message.contains("exceed"), "{e:?}");
    }
}
