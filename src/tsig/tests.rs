//! Verification and signing against digests computed here the long way, from the RFC's
//! definitions: whole buffers concatenated and hashed at once.

use aws_lc_rs::hmac;

use super::*;
use crate::config::{Algorithm, KeyConfig, SecretSource};

const SECRET: &[u8] = b"thirty-two octets of shared key!";
const NOW: u64 = 1_700_000_000;

fn keys() -> Keys {
    let config = |name: &[u8], algorithm| KeyConfig {
        wire_name: name.to_vec(),
        name: String::from_utf8_lossy(name).into_owned(),
        algorithm,
        secret: SecretSource::Env("UNUSED".into()),
        at: "key[0]".into(),
    };
    let sha256 = Key::new(&config(b"\x03xfr\x07example\x00", Algorithm::HmacSha256), SECRET);
    let sha1 = Key::new(&config(b"\x03old\x07example\x00", Algorithm::HmacSha1), SECRET);
    Keys { keys: vec![sha256, sha1] }
}

fn hmac_of(algorithm: hmac::Algorithm, parts: &[&[u8]]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(algorithm, SECRET), &parts.concat()).as_ref().to_vec()
}

/// `a.example. A`, ID 0x1234, RD, with no additional records.
fn query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
    q
}

/// `message` signed as a request by a client: its TSIG record appended, the MAC cut to
/// `mac_len` octets (and then with `tamper` applied to the message).
fn signed(message: &[u8], name: &[u8], algorithm: Algorithm, time: u64, mac_len: usize) -> Vec<u8> {
    let hash = match algorithm {
        Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        _ => hmac::HMAC_SHA256,
    };
    let variables =
        [name, &[0, 255, 0, 0, 0, 0], algorithm.wire(), &time.to_be_bytes()[2..], &[1, 44, 0, 0, 0, 0]].concat();
    let mac = hmac_of(hash, &[message, &variables]);
    let mut out = message.to_vec();
    out.extend_from_slice(name);
    out.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    let mut rdata = algorithm.wire().to_vec();
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&[1, 44]);
    rdata.extend_from_slice(&(mac_len as u16).to_be_bytes());
    rdata.extend_from_slice(&mac[..mac_len.min(mac.len())]);
    rdata.extend(std::iter::repeat_n(0, mac_len.saturating_sub(mac.len())));
    rdata.extend_from_slice(&[0x12, 0x34, 0, 0, 0, 0]);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    out[11] += 1;
    out
}

fn checked<'k>(keys: &'k Keys, message: &[u8], now: u64) -> Result<Verified<'k>, Rejection<'k>> {
    let Found::Signed(tsig) = find(message) else { panic!("no TSIG found") };
    verify(keys, message, &tsig, now)
}

fn outcome(result: Result<Verified<'_>, Rejection<'_>>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(Rejection::Unsigned(e)) => format!("unsigned {e:?}"),
        Err(Rejection::Signed(e, _)) => format!("signed {e:?}"),
        Err(Rejection::FormErr) => "FORMERR".into(),
    }
}

#[test]
fn requests_are_checked_as_rfc_8945_section_5_2_orders() {
    let keys = keys();
    let (xfr, old, sha256) = (&b"\x03xfr\x07example\x00"[..], &b"\x03old\x07example\x00"[..], Algorithm::HmacSha256);
    let mut tampered = signed(&query(), xfr, sha256, NOW, 32);
    tampered[13] = b'b'; // the question's name, after signing
    let mut upper = signed(&query(), xfr, sha256, NOW, 32);
    let owner = query().len();
    upper[owner + 1..owner + 4].copy_from_slice(b"XFR"); // names compare in lowercase
    let table: [(&str, Vec<u8>, u64, &str); 11] = [
        ("good", signed(&query(), xfr, sha256, NOW, 32), NOW, "ok"),
        ("good, key name in capitals", upper, NOW, "ok"),
        ("hmac-sha1 for old peers", signed(&query(), old, Algorithm::HmacSha1, NOW, 20), NOW, "ok"),
        ("unknown key", signed(&query(), b"\x02no\x00", sha256, NOW, 32), NOW, "unsigned BadKey"),
        ("the key's name, another algorithm", signed(&query(), old, sha256, NOW, 32), NOW, "unsigned BadKey"),
        ("message changed", tampered, NOW, "unsigned BadSig"),
        ("signed 301 s ago", signed(&query(), xfr, sha256, NOW - 301, 32), NOW, "signed BadTime"),
        ("signed 300 s ahead", signed(&query(), xfr, sha256, NOW + 300, 32), NOW, "ok"),
        ("truncated to half", signed(&query(), xfr, sha256, NOW, 16), NOW, "signed BadTrunc"),
        ("truncated below half", signed(&query(), xfr, sha256, NOW, 15), NOW, "FORMERR"),
        ("longer than the hash", signed(&query(), xfr, sha256, NOW, 33), NOW, "FORMERR"),
    ];
    for (what, message, now, expected) in table {
        assert_eq!(outcome(checked(&keys, &message, now)), expected, "{what}");
    }
    let sha1_short = signed(&query(), old, Algorithm::HmacSha1, NOW, 9);
    assert_eq!(outcome(checked(&keys, &sha1_short, NOW)), "FORMERR", "below 10 octets even where half is less");
    // A bad MAC is found before a bad time: the order of section 5.2.
    let mut stale = signed(&query(), xfr, sha256, NOW - 1000, 32);
    stale[13] = b'b';
    assert_eq!(outcome(checked(&keys, &stale, NOW)), "unsigned BadSig");
}

/// The MAC of a signed response, read back.
fn mac_of(response: &[u8]) -> Vec<u8> {
    let Found::Signed(tsig) = find(response) else { panic!("the response has no TSIG record") };
    assert_eq!((tsig.error, tsig.original_id), (0, u16::from_be_bytes([response[0], response[1]])));
    tsig.mac.to_vec()
}

/// `response` as it was before its TSIG record was appended.
fn unsigned(response: &[u8]) -> Vec<u8> {
    let Found::Signed(tsig) = find(response) else { panic!() };
    let mut out = response[..tsig.start].to_vec();
    out[11] -= 1;
    out
}

#[test]
fn multi_message_responses_chain_each_mac_to_the_prior_one() {
    let keys = keys();
    let request = signed(&query(), b"\x03xfr\x07example\x00", Algorithm::HmacSha256, NOW, 32);
    let verified = checked(&keys, &request, NOW).unwrap();
    let request_mac = find(&request).map_signed().mac.to_vec();
    let mut signer = Signer::new(&verified);
    let messages: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            let mut m = query();
            m[2] |= 0x80; // a response
            m[1] = i; // each its own
            m
        })
        .collect();
    assert_eq!(signer.pass(&messages[0]), Err(MustSign), "the first message is signed");
    let mut first = messages[0].clone();
    signer.sign(&mut first, NOW);
    assert_eq!(first.len(), messages[0].len() + signer.record_len(), "record_len is what sign appends");
    signer.pass(&messages[1]).unwrap();
    let mut third = messages[2].clone();
    signer.sign(&mut third, NOW + 1);
    let mut fourth = messages[3].clone();
    signer.sign(&mut fourth, NOW + 2);
    assert_eq!(unsigned(&first), messages[0], "ARCOUNT counts the record, and nothing else changed");

    let sha256 = hmac::HMAC_SHA256;
    let size = |mac: &[u8]| (mac.len() as u16).to_be_bytes();
    let variables = |time: u64| {
        [
            &b"\x03xfr\x07example\x00"[..],
            &[0, 255, 0, 0, 0, 0],
            Algorithm::HmacSha256.wire(),
            &time.to_be_bytes()[2..],
            &[1, 44, 0, 0, 0, 0],
        ]
        .concat()
    };
    let timers = |time: u64| [&time.to_be_bytes()[2..], &[1u8, 44][..]].concat();
    let mac1 = hmac_of(sha256, &[&size(&request_mac), &request_mac, &messages[0], &variables(NOW)]);
    assert_eq!(mac_of(&first), mac1, "section 5.3: the request's MAC, the message, the variables");
    let mac3 = hmac_of(sha256, &[&size(&mac1), &mac1, &messages[1], &messages[2], &timers(NOW + 1)]);
    assert_eq!(mac_of(&third), mac3, "section 5.3.1: the prior MAC, the unsigned message, this one, the timers");
    let mac4 = hmac_of(sha256, &[&size(&mac3), &mac3, &messages[3], &timers(NOW + 2)]);
    assert_eq!(mac_of(&fourth), mac4);

    let mut ninety_nine = Signer::new(&verified);
    ninety_nine.sign(&mut messages[0].clone(), NOW);
    for _ in 0..99 {
        ninety_nine.pass(&messages[1]).unwrap();
    }
    assert_eq!(ninety_nine.pass(&messages[1]), Err(MustSign), "the 100th is signed");
}

#[test]
fn key_and_mac_errors_go_unsigned_and_time_errors_signed_with_the_server_time() {
    let keys = keys();
    let request = signed(&query(), b"\x03xfr\x07example\x00", Algorithm::HmacSha256, NOW - 1000, 32);
    let Found::Signed(tsig) = find(&request) else { panic!() };
    let mut out = Vec::new();
    write_error(&request, &tsig, TsigError::BadSig, None, NOW, &mut out);
    assert_eq!(&out[..4], &[0x12, 0x34, 0x81, 9], "the ID, QR and RD, NOTAUTH");
    assert_eq!(&out[4..12], &[0, 1, 0, 0, 0, 0, 0, 1], "the question and the TSIG record");
    let Found::Signed(answer) = find(&out) else { panic!() };
    assert_eq!((answer.error, answer.mac.len(), answer.time_signed), (16, 0, NOW - 1000), "unsigned");

    let Err(Rejection::Signed(TsigError::BadTime, verified)) = verify(&keys, &request, &tsig, NOW) else { panic!() };
    write_error(&request, &tsig, TsigError::BadTime, Some(&verified), NOW, &mut out);
    let Found::Signed(answer) = find(&out) else { panic!() };
    assert_eq!((answer.error, answer.time_signed, answer.fudge), (18, NOW - 1000, 300), "the request's time");
    assert_eq!(answer.other, &NOW.to_be_bytes()[2..], "the server's time in Other Data");
    let variables = [
        &b"\x03xfr\x07example\x00"[..],
        &[0, 255, 0, 0, 0, 0],
        Algorithm::HmacSha256.wire(),
        &(NOW - 1000).to_be_bytes()[2..],
        &[1, 44, 0, 18, 0, 6],
        &NOW.to_be_bytes()[2..],
    ]
    .concat();
    let expected = hmac_of(hmac::HMAC_SHA256, &[&[0, 32], tsig.mac, &unsigned(&out), &variables]);
    assert_eq!(answer.mac, expected, "signed as any response to the request");
}

trait SignedExt<'m> {
    fn map_signed(self) -> Tsig<'m>;
}

impl<'m> SignedExt<'m> for Found<'m> {
    fn map_signed(self) -> Tsig<'m> {
        match self {
            Found::Signed(tsig) => tsig,
            other => panic!("{other:?}"),
        }
    }
}
