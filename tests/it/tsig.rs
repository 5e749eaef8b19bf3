//! TSIG (RFC 8945) against the real server over real UDP and TCP: queries signed by `kdig`
//! and `dig` are answered and signed (each tool verifies the answer itself), and every error
//! of section 5.2, over both transports, from requests signed here by an independent
//! implementation (whole buffers concatenated and hashed, as the RFC defines the digests),
//! whose answers' MACs are checked the same way.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use hickory_proto::rr::RecordType;
use meridian::tsig::{Found, find};

use crate::support::client::{ANSWER_WAIT, Q, tcp_connect, tcp_recv, tcp_send, udp_exchange};
use crate::support::{API_TOML, TEST_ZONE, TempDir, TestServer};

/// The hmac-sha256 key, as `keymgr -t xfr.example.com hmac-sha256` prints it.
const SECRET: &str = "LvvGfgeg4v5PkwUdn4RctkLzvu4P9VHrf8xMsk0gBfQ=";
const KEYMGR_FILE: &str = "# hmac-sha256:xfr.example.com:LvvGfgeg4v5PkwUdn4RctkLzvu4P9VHrf8xMsk0gBfQ=\nkey:\n  - id: xfr.example.com\n    algorithm: hmac-sha256\n    secret: LvvGfgeg4v5PkwUdn4RctkLzvu4P9VHrf8xMsk0gBfQ=\n";
/// The hmac-sha512 key, as `tsig-keygen -a hmac-sha512 sha512.example` writes it.
const SHA512_SECRET: &str = "Q2hhbmdlIG1lOiBhIHNlY3JldCBvZiBzaXh0eS1mb3VyIG9jdGV0cywgZm9yIHRoZSB0ZXN0cyBhbG9uZSE=";
const XFR: &[u8] = b"\x03xfr\x07example\x03com\x00";
const HMAC_SHA256: &[u8] = b"\x0bhmac-sha256\x00";

fn keys_toml() -> String {
    "[[key]]\nname = \"xfr.example.com.\"\nsecret_file = \"xfr.key\"\n\
     [[key]]\nname = \"sha512.example.\"\nalgorithm = \"hmac-sha512\"\nsecret_file = \"sha512.key\"\n"
        .to_owned()
}

/// A zone whose `chain. TXT` answer is a CNAME that fits in 512 octets and a TXT RRset
/// that does not, and whose `mid. TXT` answer fits in 512 octets alone but not signed.
fn chain_zone() -> String {
    let mut zone = "$ORIGIN tsig.test.\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\n\
                    ns1 A 192.0.2.1\nchain CNAME big\n"
        .to_owned();
    for i in 0..5 {
        zone.push_str(&format!("mid TXT \"{i}{}\"\n", "x".repeat(68)));
    }
    for i in 0..8 {
        zone.push_str(&format!("big TXT \"record {i} of a TXT RRset that does not fit in 512 octets, padded out\"\n"));
    }
    zone
}

fn server() -> TestServer {
    let bind = format!("key \"sha512.example\" {{\n\talgorithm hmac-sha512;\n\tsecret \"{SHA512_SECRET}\";\n}};\n");
    TestServer::with_config(
        "identity = \"meridian-test\"",
        &[("example.test.zone", TEST_ZONE), ("tsig.test.zone", &chain_zone())],
        &format!("{API_TOML}{}", keys_toml()),
        &[("xfr.key", KEYMGR_FILE.as_bytes()), ("sha512.key", bind.as_bytes())],
    )
}

fn secret(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), &parts.concat()).as_ref().to_vec()
}

/// How the test signs a request.
struct Signing<'a> {
    key_name: &'a [u8],
    key: Vec<u8>,
    time: u64,
    /// Octets of the MAC sent: 32 is the full HMAC-SHA256.
    mac_len: usize,
}

impl Signing<'_> {
    fn good() -> Self {
        Signing { key_name: XFR, key: secret(SECRET), time: unix_now(), mac_len: 32 }
    }
}

/// The TSIG record of `message` signed as section 4.3.1 says, and the MAC sent.
fn tsig_record(message: &[u8], s: &Signing<'_>) -> (Vec<u8>, Vec<u8>) {
    let time = &s.time.to_be_bytes()[2..];
    let variables = [s.key_name, &[0, 255, 0, 0, 0, 0], HMAC_SHA256, time, &[1, 44, 0, 0, 0, 0]].concat();
    let mut mac = hmac_sha256(&s.key, &[message, &variables]);
    mac.truncate(s.mac_len);
    let mut rdata = [HMAC_SHA256, time, &[1, 44], &(mac.len() as u16).to_be_bytes(), &mac].concat();
    rdata.extend_from_slice(&message[..2]); // Original ID
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    let record = [s.key_name, &[0, 250, 0, 255, 0, 0, 0, 0], &(rdata.len() as u16).to_be_bytes(), &rdata].concat();
    (record, mac)
}

/// `query` signed: its TSIG record appended and counted.
fn signed(query: &[u8], s: &Signing<'_>) -> (Vec<u8>, Vec<u8>) {
    let (record, mac) = tsig_record(query, s);
    let mut out = [query, &record].concat();
    out[11] += 1;
    (out, mac)
}

fn query(name: &str, rtype: RecordType) -> Vec<u8> {
    Q { id: 0x7519, ..Q::new(name, rtype) }.no_edns().bytes()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transport {
    Udp,
    Tcp,
}

fn exchange(addr: SocketAddr, transport: Transport, message: &[u8]) -> Vec<u8> {
    match transport {
        Transport::Udp => udp_exchange(addr, message, ANSWER_WAIT).expect("a UDP answer"),
        Transport::Tcp => {
            let mut stream = tcp_connect(addr);
            tcp_send(&mut stream, message);
            tcp_recv(&mut stream).expect("a TCP answer")
        }
    }
}

fn rcode(response: &[u8]) -> u8 {
    response[3] & 0x0f
}

fn counts(response: &[u8]) -> [u16; 4] {
    [4, 6, 8, 10].map(|i| u16::from_be_bytes([response[i], response[i + 1]]))
}

/// Whether the response's TSIG MAC is the one section 5.3 defines for a response to a
/// request whose MAC was `request_mac`: computed here over whole buffers.
fn verifies(response: &[u8], request_mac: &[u8], key: &[u8]) -> bool {
    let Found::Signed(tsig) = find(response) else { return false };
    let mut message = response[..tsig.start].to_vec();
    message[11] -= 1;
    message[..2].copy_from_slice(&tsig.original_id.to_be_bytes());
    let variables = [
        tsig.key_name.as_slice(),
        &[0, 255, 0, 0, 0, 0],
        tsig.algorithm.as_slice(),
        &tsig.time_signed.to_be_bytes()[2..],
        &tsig.fudge.to_be_bytes(),
        &tsig.error.to_be_bytes(),
        &(tsig.other.len() as u16).to_be_bytes(),
        tsig.other,
    ]
    .concat();
    let size = (request_mac.len() as u16).to_be_bytes();
    tsig.mac == hmac_sha256(key, &[&size, request_mac, &message, &variables]).as_slice()
}

/// The TSIG error and MAC length of a response's TSIG record.
fn tsig_error(response: &[u8]) -> Option<(u16, usize)> {
    match find(response) {
        Found::Signed(tsig) => Some((tsig.error, tsig.mac.len())),
        _ => None,
    }
}

#[test]
fn a_signed_query_is_answered_and_signed_over_udp_and_tcp() {
    let server = server();
    for transport in [Transport::Udp, Transport::Tcp] {
        let (request, mac) = signed(&query("www.example.test.", RecordType::A), &Signing::good());
        let response = exchange(server.addr, transport, &request);
        assert_eq!(rcode(&response), 0, "{transport:?}");
        assert_eq!(counts(&response), [1, 2, 0, 1], "{transport:?}: the answers, and the TSIG record");
        assert_eq!(tsig_error(&response), Some((0, 32)), "{transport:?}");
        assert!(verifies(&response, &mac, &secret(SECRET)), "{transport:?}: the response's MAC");
        let mut tampered = response.clone();
        let in_the_mac = tampered.len() - 40;
        tampered[in_the_mac] ^= 1;
        assert!(!verifies(&tampered, &mac, &secret(SECRET)), "the check can fail");
    }
    // Unsigned queries are answered as ever, unsigned.
    let plain = exchange(server.addr, Transport::Udp, &query("www.example.test.", RecordType::A));
    assert_eq!((rcode(&plain), counts(&plain)), (0, [1, 2, 0, 0]));
}

/// Runs `tool` (kdig or dig) with `args` against the server and returns what it printed.
fn run_tool(tool: &str, server: &TestServer, args: &[&str]) -> String {
    let port = server.addr.port().to_string();
    let output = Command::new(tool)
        .args(["@127.0.0.1", "-p", &port, "+time=3", "+retry=0"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn kdig_and_dig_verify_the_signed_answers_with_keys_read_from_keymgr_and_tsig_keygen_files() {
    let server = server();
    let sha256 = format!("hmac-sha256:xfr.example.com:{SECRET}");
    let sha512 = format!("hmac-sha512:sha512.example:{SHA512_SECRET}");
    for key in [&sha256, &sha512] {
        for tcp in ["+notcp", "+tcp"] {
            let kdig = run_tool("kdig", &server, &["-y", key, tcp, "www.example.test", "A"]);
            assert!(kdig.contains("status: NOERROR") && kdig.contains("192.0.2.10"), "{kdig}");
            assert!(kdig.contains("TSIG PSEUDOSECTION") && !kdig.contains("WARNING"), "kdig verified it: {kdig}");
            let dig = run_tool("dig", &server, &["-y", key, tcp, "www.example.test", "A"]);
            assert!(dig.contains("status: NOERROR") && dig.contains("TSIG PSEUDOSECTION"), "{dig}");
            assert!(
                !dig.contains("Couldn't verify") && !dig.contains("could not be validated"),
                "dig verified it: {dig}"
            );
        }
    }
    // The tools do notice a bad signature: a wrong secret gets BADSIG, which they report.
    let wrong = "hmac-sha256:xfr.example.com:LvvGfgeg4v5PkwUdn4RctkLzvu4P9VHrf8xMsk0gBfA=";
    let kdig = run_tool("kdig", &server, &["-y", wrong, "www.example.test", "A"]);
    assert!(kdig.contains("BADSIG") && kdig.contains("WARNING"), "{kdig}");
    // dig's hmac-sha256-128 truncates the MAC to 16 octets: allowed by the RFC, not by
    // Meridian's policy (BADTRUNC).
    let truncated = format!("hmac-sha256-128:xfr.example.com:{SECRET}");
    let dig = run_tool("dig", &server, &["-y", &truncated, "www.example.test", "A"]);
    assert!(dig.contains("status: NOTAUTH") && dig.contains("BADTRUNC"), "{dig}");
}

#[test]
fn each_tsig_error_gets_the_answer_rfc_8945_gives_over_udp_and_tcp() {
    let server = server();
    let now = unix_now();
    let ask = || query("www.example.test.", RecordType::A);
    for transport in [Transport::Udp, Transport::Tcp] {
        let t = format!("{transport:?}");
        // An unknown key: NOTAUTH, BADKEY, unsigned (an empty MAC).
        let other = b"\x05other\x07example\x00";
        let (request, _) = signed(&ask(), &Signing { key_name: other, ..Signing::good() });
        let response = exchange(server.addr, transport, &request);
        assert_eq!((rcode(&response), tsig_error(&response)), (9, Some((17, 0))), "{t}: BADKEY");
        assert_eq!(&response[..2], &request[..2], "{t}: the request's ID");
        // A wrong MAC: NOTAUTH, BADSIG, unsigned.
        let (request, _) = signed(&ask(), &Signing { key: b"not the key".to_vec(), ..Signing::good() });
        let response = exchange(server.addr, transport, &request);
        assert_eq!((rcode(&response), tsig_error(&response)), (9, Some((16, 0))), "{t}: BADSIG");
        // Signed an hour ago: NOTAUTH, BADTIME, signed with the key, the request's time in
        // Time Signed and the server's in Other Data.
        let (request, mac) = signed(&ask(), &Signing { time: now - 3600, ..Signing::good() });
        let response = exchange(server.addr, transport, &request);
        assert_eq!((rcode(&response), tsig_error(&response)), (9, Some((18, 32))), "{t}: BADTIME");
        assert!(verifies(&response, &mac, &secret(SECRET)), "{t}: the BADTIME answer is signed");
        let Found::Signed(answer) = find(&response) else { unreachable!() };
        let mut server_time = [0u8; 8];
        server_time[2..].copy_from_slice(answer.other);
        let server_time = u64::from_be_bytes(server_time);
        assert_eq!(answer.time_signed, now - 3600, "{t}");
        assert!(server_time.abs_diff(unix_now()) <= 5, "{t}: the server's time, {server_time}");
        // A MAC truncated to 16 octets, which the RFC allows: NOTAUTH, BADTRUNC, signed.
        let (request, mac) = signed(&ask(), &Signing { mac_len: 16, ..Signing::good() });
        let response = exchange(server.addr, transport, &request);
        assert_eq!((rcode(&response), tsig_error(&response)), (9, Some((22, 32))), "{t}: BADTRUNC");
        assert!(verifies(&response, &mac, &secret(SECRET)), "{t}: signed with the truncated MAC first");
        // A MAC of 8 octets, which no signer may send: FORMERR.
        let (request, _) = signed(&ask(), &Signing { mac_len: 8, ..Signing::good() });
        let response = exchange(server.addr, transport, &request);
        assert_eq!((rcode(&response), tsig_error(&response)), (1, None), "{t}: MAC too short");
        // A TSIG record that is not last, and two of them: FORMERR.
        let (mut not_last, _) = signed(&ask(), &Signing::good());
        not_last.extend_from_slice(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00");
        not_last[11] += 1;
        let (one, _) = signed(&ask(), &Signing::good());
        let (record, _) = tsig_record(&ask(), &Signing::good());
        let mut two = [&one[..], &record].concat();
        two[11] += 1;
        let mut in_answers = one.clone();
        in_answers[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]); // the record counted as an answer
        for (what, request) in [("not last", not_last), ("two", two), ("in the answer section", in_answers)] {
            let response = exchange(server.addr, transport, &request);
            assert_eq!((rcode(&response), tsig_error(&response)), (1, None), "{t}: TSIG {what}");
        }
    }
    // Each counted by its result, over both transports.
    let metrics = server.api().get("/metrics").body;
    for (result, count) in
        [("verified", 0), ("badkey", 2), ("badsig", 2), ("badtime", 2), ("badtrunc", 2), ("formerr", 8)]
    {
        let line = format!("meridian_tsig_requests_total{{result=\"{result}\"}} {count}\n");
        assert!(metrics.contains(&line), "no {line:?} in\n{metrics}");
    }
}

#[test]
fn a_signed_answer_too_large_for_udp_is_the_question_alone_signed_with_tc() {
    let server = server();
    // Unsigned, the CNAME that fits goes with TC; signed, section 5.3 wants the question alone.
    let unsigned = exchange(server.addr, Transport::Udp, &query("chain.tsig.test.", RecordType::TXT));
    assert_eq!((unsigned[2] & 0x02, counts(&unsigned)), (0x02, [1, 1, 0, 0]), "the CNAME, TC");
    let (request, mac) = signed(&query("chain.tsig.test.", RecordType::TXT), &Signing::good());
    let response = exchange(server.addr, Transport::Udp, &request);
    assert!(response.len() <= 512, "{} octets", response.len());
    assert_ne!(response[2] & 0x02, 0, "TC");
    assert_eq!((rcode(&response), counts(&response)), (0, [1, 0, 0, 1]), "the question and the TSIG record");
    assert!(verifies(&response, &mac, &secret(SECRET)));
    let response = exchange(server.addr, Transport::Tcp, &request);
    assert_eq!(response[2] & 0x02, 0, "whole over TCP");
    assert_eq!(counts(&response), [1, 9, 0, 1], "the CNAME and the TXT RRset, signed");
    assert!(verifies(&response, &mac, &secret(SECRET)));
    // An answer that fits alone but not with its TSIG record: the record's room is kept.
    let unsigned = exchange(server.addr, Transport::Udp, &query("mid.tsig.test.", RecordType::TXT));
    assert_eq!((unsigned[2] & 0x02, counts(&unsigned)), (0, [1, 5, 0, 0]), "{} octets", unsigned.len());
    let (request, mac) = signed(&query("mid.tsig.test.", RecordType::TXT), &Signing::good());
    let response = exchange(server.addr, Transport::Udp, &request);
    assert!(response.len() <= 512, "{} octets", response.len());
    assert_eq!((response[2] & 0x02, counts(&response)), (0x02, [1, 0, 0, 1]));
    assert!(verifies(&response, &mac, &secret(SECRET)));
}

#[test]
fn a_reload_reads_the_keys_again() {
    let mut server = server();
    let new_secret = "bmV3IHNlY3JldCwgcm90YXRlZCBpbiBieSBhIHJlbG9hZCEh";
    server.write("xfr.key", new_secret);
    server.reload().expect("reloaded");
    let ask = query("www.example.test.", RecordType::A);
    let (old, _) = signed(&ask, &Signing::good());
    let response = exchange(server.addr, Transport::Udp, &old);
    assert_eq!((rcode(&response), tsig_error(&response)), (9, Some((16, 0))), "the old secret is gone");
    let (new, mac) = signed(&ask, &Signing { key: secret(new_secret), ..Signing::good() });
    let response = exchange(server.addr, Transport::Udp, &new);
    assert!(rcode(&response) == 0 && verifies(&response, &mac, &secret(new_secret)));
    // A key file that cannot be read fails the reload, named, and the running keys stay.
    std::fs::remove_file(server.dir().join("xfr.key")).unwrap();
    let error = server.reload().expect_err("a missing key file");
    assert!(error.contains("key[0] \"xfr.example.com.\".secret_file"), "{error}");
    assert!(!error.contains(new_secret), "{error}");
    assert_eq!(rcode(&exchange(server.addr, Transport::Udp, &new)), 0);
}

#[test]
fn check_config_reads_the_secret_from_the_environment_and_names_what_is_missing() {
    let dir = TempDir::new("tsig");
    dir.write("example.test.zone", TEST_ZONE);
    let config = dir.write(
        "meridian.toml",
        "[[zone]]\nfile = \"example.test.zone\"\n[[key]]\nname = \"xfr.example.com.\"\nsecret_env = \"MERIDIAN_TEST_TSIG\"\n",
    );
    let check = |env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_meridian"));
        command.args(["check-config", config.to_str().unwrap()]).env_remove("MERIDIAN_TEST_TSIG");
        if let Some(value) = env {
            command.env("MERIDIAN_TEST_TSIG", value);
        }
        let output = command.output().expect("run meridian");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    assert_eq!(check(Some(SECRET)), (true, String::new()));
    let (ok, err) = check(None);
    assert!(
        !ok && err
            .contains("key[0] \"xfr.example.com.\".secret_env: the environment variable MERIDIAN_TEST_TSIG is not set"),
        "{err}"
    );
    let (ok, err) = check(Some("not base64 at all!"));
    assert!(!ok && err.contains("is not base64") && !err.contains("not base64 at all"), "{err}");
}
