//! DNSSEC online signing, judged by an independent validator: BIND's `delv`, given the
//! zone's DNSKEY as its trust anchor, asks the real server over UDP and TCP and must say
//! "fully validated" for static data, pool answers for clients of two regions (delv binds
//! to 127.0.0.2, located in Germany, and 127.0.0.3, in the US), a CNAME into a pool, a
//! wildcard, NODATA, an empty non-terminal, a name that does not exist (compact denial),
//! the DNSKEY and CDS sets, and the DS proofs of a delegation with and without DS. Keys
//! made by `meridian keygen` (read by BIND's `dnssec-dsfromkey`) and by BIND's
//! `dnssec-keygen` (read by Meridian), ECDSA P-256 and Ed25519.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::client::{self, Q};
use crate::support::geo::{Place, city_db};
use crate::support::{API_TOML, TempDir, TestServer};

const ZONE: &str = "$ORIGIN signed.test.\n$TTL 300\n@ SOA ns host 1 3600 600 86400 60\n@ NS ns\n\
                    ns A 192.0.2.53\nstatic A 192.0.2.10\nstatic AAAA 2001:db8::10\nalias CNAME www\n\
                    *.wild TXT \"wildcard\"\na.b.ent A 192.0.2.99\nsub NS ns.sub\nns.sub A 192.0.2.77\n\
                    big TXT \"{FILL}\" \"{FILL}\" \"{FILL}\" \"{FILL}\"\n\
                    secure NS ns.secure\nsecure DS 12345 13 2 \
                    0000000000000000000000000000000000000000000000000000000000000000\n";

/// A TXT RRset of 4 strings of 100 octets: about 420 octets, so that it fits a 512-octet
/// response alone but not with its RRSIG.
fn zone_text() -> String {
    ZONE.replace("{FILL}", &"x".repeat(100))
}

const POOL: &str = r#"
[geoip]
database = "geo.mmdb"

[[region]]
name = "alpha"
countries = ["DE"]
endpoints = [ { address = "192.0.2.1" }, { address = "2001:db8:1::1" } ]

[[region]]
name = "beta"
countries = ["US"]
endpoints = [ { address = "192.0.2.2" } ]

[[pool]]
name = "www.signed.test."
policy = "geo"
regions = ["alpha", "beta"]

[[pool]]
name = "v4.signed.test."
policy = "geo"
regions = ["beta"]
"#;

/// 127.0.0.2 and 198.51.100.0/24 are in Germany (region alpha), 127.0.0.3 and
/// 203.0.113.0/24 in the US (region beta).
fn geo_db() -> Vec<u8> {
    let place = |network, country, continent| Place { network, country, continent: Some(continent), coordinates: None };
    city_db(&[
        place("127.0.0.2/32", "DE", "EU"),
        place("127.0.0.3/32", "US", "NA"),
        place("198.51.100.0/24", "DE", "EU"),
        place("203.0.113.0/24", "US", "NA"),
    ])
}

/// A server of the signed zone with the key pair at `stem` (written in `keys`).
fn server(keys: &TempDir, stem: &str) -> TestServer {
    let key = |suffix: &str| std::fs::read(keys.path().join(format!("{stem}{suffix}"))).expect("key file");
    let (public, private) = (key(".key"), key(".private"));
    let more = format!("{API_TOML}[[zone]]\nfile = \"signed.test.zone\"\ndnssec = {{ keys = [\"{stem}\"] }}\n{POOL}");
    let zone = zone_text();
    let files: [(&str, &[u8]); 4] = [
        ("signed.test.zone", zone.as_bytes()),
        ("geo.mmdb", &geo_db()),
        (&format!("{stem}.key"), &public),
        (&format!("{stem}.private"), &private),
    ];
    TestServer::with_config("", &[], &more, &files)
}

/// A trust anchor file for delv: the zone's key as a static key.
fn anchor(dir: &TempDir, key_file: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(key_file).expect("key file");
    let line = text.lines().find(|l| !l.starts_with(';') && l.contains("DNSKEY")).expect("a DNSKEY line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields.iter().position(|f| *f == "DNSKEY").unwrap();
    let key: String = fields[at + 4..].concat();
    let (flags, algorithm) = (fields[at + 1], fields[at + 3]);
    let anchor = format!("trust-anchors {{ signed.test. static-key {flags} 3 {algorithm} \"{key}\"; }};\n");
    dir.write("anchor.conf", &anchor)
}

/// delv's output for `name`/`rtype` asked of `server` from `source`, over TCP when `tcp`.
fn delv(server: SocketAddr, anchor: &Path, source: &str, name: &str, rtype: &str, tcp: bool) -> String {
    let mut command = Command::new("delv");
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string(), "-b", source, "-a"])
        .arg(anchor)
        .args(["+root=signed.test", if tcp { "+tcp" } else { "+notcp" }, name, rtype]);
    let output = command.output().expect("run delv (bind9-dnsutils)");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Every case delv must validate, over UDP and TCP: (source, name, type, what the output
/// must hold besides the verdict).
fn validates_everything(server: &TestServer, anchor: &Path) {
    let cases: [(&str, &str, &str, &str, &str); 15] = [
        ("127.0.0.2", "static.signed.test", "A", "; fully validated", "192.0.2.10"),
        ("127.0.0.2", "static.signed.test", "AAAA", "; fully validated", "2001:db8::10"),
        ("127.0.0.2", "www.signed.test", "A", "; fully validated", "192.0.2.1"),
        ("127.0.0.3", "www.signed.test", "A", "; fully validated", "192.0.2.2"),
        ("127.0.0.2", "www.signed.test", "AAAA", "; fully validated", "2001:db8:1::1"),
        // The pool has no IPv6 endpoint: NODATA, whose NSEC lists A but not the type denied.
        ("127.0.0.3", "v4.signed.test", "AAAA", "negative response, fully validated", "v4.signed.test. A RRSIG NSEC"),
        // Another type at a pool name: its NSEC lists A and AAAA, whichever family answers.
        (
            "127.0.0.3",
            "v4.signed.test",
            "TXT",
            "negative response, fully validated",
            "v4.signed.test. A AAAA RRSIG NSEC",
        ),
        ("127.0.0.3", "alias.signed.test", "A", "; fully validated", "192.0.2.2"),
        ("127.0.0.2", "x.wild.signed.test", "TXT", "; fully validated", "\"wildcard\""),
        ("127.0.0.2", "static.signed.test", "TXT", "negative response, fully validated", "A AAAA RRSIG NSEC"),
        (
            "127.0.0.2",
            "ent.signed.test",
            "A",
            "negative response, fully validated",
            "NSEC \\000.ent.signed.test. RRSIG NSEC",
        ),
        ("127.0.0.2", "nope.signed.test", "A", "negative response, fully validated", "RRSIG NSEC TYPE128"),
        ("127.0.0.2", "signed.test", "DNSKEY", "; fully validated", "DNSKEY"),
        ("127.0.0.2", "sub.signed.test", "DS", "negative response, fully validated", "NS RRSIG NSEC"),
        ("127.0.0.2", "secure.signed.test", "DS", "; fully validated", "12345 13 2"),
    ];
    for tcp in [false, true] {
        for (source, name, rtype, verdict, holds) in cases {
            let out = delv(server.addr, anchor, source, name, rtype, tcp);
            assert!(
                out.contains(verdict) && out.contains(holds),
                "delv {name} {rtype} from {source} (tcp: {tcp}): wanted {verdict:?} and {holds:?}:\n{out}"
            );
        }
    }
}

#[test]
fn delv_validates_answers_signed_with_a_meridian_keygen_ecdsa_key() {
    let keys = TempDir::new("dnssec-keys");
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "--out"])
        .arg(keys.path())
        .output()
        .expect("run meridian keygen");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let stem_path = String::from_utf8(made.stdout).unwrap();
    let stem = Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned();
    assert!(stem.starts_with("Ksigned.test.+013+"), "{stem}");
    let private = keys.path().join(format!("{stem}.private"));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&private).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the private key is the owner's alone");
    // BIND's tools read the key as written: the DS it computes is the one `meridian ds` gives.
    let bind_ds = Command::new("dnssec-dsfromkey").args(["-2"]).arg(keys.path().join(format!("{stem}.key"))).output();
    let bind_ds = String::from_utf8(bind_ds.expect("run dnssec-dsfromkey").stdout).unwrap();
    let tag = stem.rsplit('+').next().unwrap().trim_start_matches('0');
    assert!(bind_ds.starts_with(&format!("signed.test. IN DS {tag} 13 2 ")), "{bind_ds}");
    let server = server(&keys, &stem);
    let config = server.dir().join("meridian.toml");
    let ours =
        Command::new(env!("CARGO_BIN_EXE_meridian")).args(["ds", "--config"]).arg(&config).arg("signed.test").output();
    let ours = String::from_utf8(ours.expect("run meridian ds").stdout).unwrap();
    assert_eq!(ours.lines().next(), bind_ds.lines().next(), "meridian ds and dnssec-dsfromkey agree");
    let anchor = anchor(&keys, &keys.path().join(format!("{stem}.key")));
    validates_everything(&server, &anchor);
}

#[test]
fn delv_validates_answers_signed_with_a_dnssec_keygen_ed25519_key() {
    let keys = TempDir::new("dnssec-bind-keys");
    let made = Command::new("dnssec-keygen")
        .args(["-a", "ED25519", "-f", "KSK", "-K"])
        .arg(keys.path())
        .arg("signed.test")
        .output()
        .expect("run dnssec-keygen (bind9-utils)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let stem = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let server = server(&keys, &stem);
    let anchor = anchor(&keys, &keys.path().join(format!("{stem}.key")));
    validates_everything(&server, &anchor);
}

/// A query with DO set, and CO when `compact_ok` (the bit after DO, RFC 9824 section 4).
fn signed_query(server: &TestServer, name: &str, rtype: RecordType, compact_ok: bool) -> Message {
    let q = Q { dnssec_ok: true, ..Q::new(name, rtype) };
    let mut bytes = q.bytes();
    let flags = bytes.len() - 4; // the OPT record ends with its flags' two octets, then RDLENGTH 0
    if compact_ok {
        bytes[flags] |= 0x40;
    }
    let reply = client::udp_exchange(server.addr, &bytes, client::ANSWER_WAIT).expect("an answer");
    Message::from_vec(&reply).expect("a message")
}

#[test]
fn compact_denial_keeps_nxdomain_for_a_client_that_sets_co_and_do_0_is_unsigned() {
    let keys = TempDir::new("dnssec-co");
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "-a", "ed25519", "--out"])
        .arg(keys.path())
        .output()
        .expect("run meridian keygen");
    let stem_path = String::from_utf8(made.stdout).unwrap();
    let stem = Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned();
    let server = server(&keys, &stem);
    let types = |reply: &Message| reply.authorities.iter().map(|r| r.record_type()).collect::<Vec<_>>();
    let plain = signed_query(&server, "nope.signed.test.", RecordType::A, false);
    assert_eq!(plain.metadata.response_code, ResponseCode::NoError, "compact denial: NOERROR without CO");
    assert_eq!(types(&plain), [RecordType::SOA, RecordType::RRSIG, RecordType::NSEC, RecordType::RRSIG]);
    let co = signed_query(&server, "nope.signed.test.", RecordType::A, true);
    assert_eq!(co.metadata.response_code, ResponseCode::NXDomain, "CO set: NXDOMAIN");
    assert_eq!(types(&co), types(&plain));
    // DO=0: as an unsigned zone answers, no DNSSEC record anywhere.
    let unsigned = client::udp(server.addr, &Q::new("nope.signed.test.", RecordType::A));
    assert_eq!(unsigned.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(types(&unsigned), [RecordType::SOA]);
    let unsigned = client::udp(server.addr, &Q::new("static.signed.test.", RecordType::A));
    assert!(unsigned.answers.iter().all(|r| r.record_type() == RecordType::A));
    // An explicit NXNAME query is a format error (RFC 9824 section 3.5).
    let nxname = signed_query(&server, "static.signed.test.", RecordType::Unknown(128), false);
    assert_eq!(nxname.metadata.response_code, ResponseCode::FormErr);
    // A referral: NS unsigned, the NSEC proving no DS signed, glue unsigned.
    let referral = signed_query(&server, "host.sub.signed.test.", RecordType::A, false);
    assert_eq!(types(&referral), [RecordType::NS, RecordType::NSEC, RecordType::RRSIG]);
    assert!(referral.additionals.iter().all(|r| r.record_type() == RecordType::A), "glue is not signed");
    let with_ds = signed_query(&server, "host.secure.signed.test.", RecordType::A, false);
    assert_eq!(types(&with_ds), [RecordType::NS, RecordType::DS, RecordType::RRSIG]);
}

/// The metric's value on the page, 0 when absent.
fn metric(page: &str, name: &str) -> u64 {
    page.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0)
}

#[test]
fn the_same_answer_is_signed_once_and_the_api_shows_the_keys_and_their_ds() {
    let keys = TempDir::new("dnssec-metrics");
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "--out"])
        .arg(keys.path())
        .output()
        .expect("run meridian keygen");
    let stem_path = String::from_utf8(made.stdout).unwrap();
    let stem = Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned();
    let server = server(&keys, &stem);
    let api = server.api();
    let before = api.get("/metrics").body;
    assert_eq!(metric(&before, "meridian_dnssec_cache_capacity"), 16_384);
    for _ in 0..10 {
        let reply = signed_query(&server, "static.signed.test.", RecordType::A, false);
        assert_eq!(reply.answers.len(), 2);
    }
    let after = api.get("/metrics").body;
    let made = metric(&after, "meridian_dnssec_signatures_total") - metric(&before, "meridian_dnssec_signatures_total");
    let hits = metric(&after, "meridian_dnssec_cache_hits_total") - metric(&before, "meridian_dnssec_cache_hits_total");
    assert_eq!((made, hits), (1, 9), "one signature made, then found nine times:\n{after}");
    assert!(metric(&after, "meridian_dnssec_cache_entries") >= 1);
    let status = api.get("/api/v1/lb/status").json();
    let key = &status["zones"][0]["keys"][0];
    let tag = stem.rsplit('+').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        (key["tag"].as_u64(), key["algorithm"].as_u64(), key["flags"].as_u64()),
        (Some(tag), Some(13), Some(257))
    );
    let ds = key["ds"].as_str().unwrap();
    assert!(ds.starts_with(&format!("signed.test. IN DS {tag} 13 2 ")), "{ds}");
}

#[test]
fn an_rrset_and_its_signature_fit_together_or_the_answer_is_truncated() {
    let keys = TempDir::new("dnssec-fit");
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "--out"])
        .arg(keys.path())
        .output()
        .expect("run meridian keygen");
    let stem_path = String::from_utf8(made.stdout).unwrap();
    let stem = Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned();
    let server = server(&keys, &stem);
    let q = |payload| Q { dnssec_ok: true, ..Q::new("big.signed.test.", RecordType::TXT).payload(payload) };
    // 512 octets: the TXT RRset alone would fit, with its RRSIG it does not: neither goes,
    // and TC sends the client to TCP (RFC 4035 section 3.1.1, RFC 2181 section 9).
    let small = client::udp(server.addr, &q(512));
    assert!(small.metadata.truncation && small.answers.is_empty(), "{small:?}");
    let unsigned = client::udp(server.addr, &Q { dnssec_ok: false, ..q(512) });
    assert!(!unsigned.metadata.truncation && unsigned.answers.len() == 1, "DO=0 fits as before");
    let types = |m: &Message| m.answers.iter().map(|r| r.record_type()).collect::<Vec<_>>();
    let large = client::udp(server.addr, &q(1232));
    assert_eq!(types(&large), [RecordType::TXT, RecordType::RRSIG]);
    assert!(!large.metadata.truncation);
    let tcp = client::tcp(server.addr, &q(512));
    assert_eq!(types(&tcp), [RecordType::TXT, RecordType::RRSIG], "TCP carries it all");
}

/// A validator that sends ECS: dnspython asks for the DNSKEY set, checks it holds the key
/// whose DS is given (the trust anchor) and validates its signature, then asks for the name
/// with the client subnet and validates the answer with that key set; it prints the
/// addresses, sorted, and the ECS scope.
const ECS_VALIDATOR: &str = r#"
import sys
import dns._features
# dnspython 2.9 asks for cryptography 50 to turn validation on (when dns.dnssec is imported);
# the ECDSA and Ed25519 calls it makes are older than that (an image may carry 48).
dns._features.force("dnssec", True)
import dns.dnssec, dns.edns, dns.message, dns.name, dns.query, dns.rdataclass, dns.rdatatype
addr, port, name, subnet, anchor_ds, tcp = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] == "tcp"
zone = dns.name.from_text("signed.test.")
IN, RRSIG = dns.rdataclass.IN, dns.rdatatype.RRSIG
def ask(qname, rdtype, options=()):
    q = dns.message.make_query(qname, rdtype, want_dnssec=True, use_edns=0, options=list(options))
    return (dns.query.tcp if tcp else dns.query.udp)(q, addr, port=port, timeout=3)
keys = ask(zone, "DNSKEY")
dnskey = keys.find_rrset(keys.answer, zone, IN, dns.rdatatype.DNSKEY)
if not any(str(dns.dnssec.make_ds(zone, k, "SHA256")).upper() == anchor_ds.upper() for k in dnskey):
    sys.exit("no key of the DNSKEY set has the anchor's DS")
sigs = keys.find_rrset(keys.answer, zone, IN, RRSIG, dns.rdatatype.DNSKEY)
dns.dnssec.validate(dnskey, sigs, {zone: dnskey})
qname = dns.name.from_text(name)
reply = ask(qname, "A", [dns.edns.ECSOption.from_text(subnet)])
cname = reply.get_rrset(reply.answer, qname, IN, dns.rdatatype.CNAME)
if cname is not None:
    dns.dnssec.validate(cname, reply.find_rrset(reply.answer, qname, IN, RRSIG, dns.rdatatype.CNAME), {zone: dnskey})
    qname = cname[0].target
a = reply.find_rrset(reply.answer, qname, IN, dns.rdatatype.A)
dns.dnssec.validate(a, reply.find_rrset(reply.answer, qname, IN, RRSIG, dns.rdatatype.A), {zone: dnskey})
scope = [o.scopelen for o in reply.options if isinstance(o, dns.edns.ECSOption)]
print(" ".join(sorted(r.address for r in a)), "scope", scope[0] if scope else "-")
"#;

#[test]
fn a_pool_answer_to_clients_of_two_regions_by_ecs_validates_in_dnspython() {
    let keys = TempDir::new("dnssec-ecs");
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "--out"])
        .arg(keys.path())
        .output()
        .expect("run meridian keygen");
    let stem_path = String::from_utf8(made.stdout).unwrap();
    let stem = Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned();
    let server = server(&keys, &stem);
    let config = server.dir().join("meridian.toml");
    let ds =
        Command::new(env!("CARGO_BIN_EXE_meridian")).args(["ds", "--config"]).arg(&config).arg("signed.test").output();
    let ds = String::from_utf8(ds.expect("run meridian ds").stdout).unwrap();
    // "signed.test. IN DS <tag> 13 2 <hex>": the rdata, as dnspython prints a DS.
    let anchor = ds.lines().next().unwrap().split(" IN DS ").nth(1).unwrap().to_owned();
    let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    for transport in ["udp", "tcp"] {
        for (subnet, expected) in [("198.51.100.0/24", "192.0.2.1 scope 24"), ("203.0.113.0/24", "192.0.2.2 scope 24")]
        {
            for name in ["www.signed.test.", "alias.signed.test."] {
                let args = [&ip, &port, name, subnet, &anchor, transport];
                let out = Command::new("python3").arg("-c").arg(ECS_VALIDATOR).args(args).output();
                let out = out.expect("run python3 (dnspython, see .ci/run)");
                let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                assert!(out.status.success(), "{name} for {subnet} over {transport} does not validate:\n{stderr}");
                assert_eq!(stdout.trim(), expected, "{name} for {subnet} over {transport}");
            }
        }
    }
}

/// `meridian keygen` into `dir`; the key's file stem.
fn keygen(dir: &TempDir, algorithm: &str) -> String {
    let made = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["keygen", "signed.test", "-a", algorithm, "--out"])
        .arg(dir.path())
        .output()
        .expect("run meridian keygen");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let stem_path = String::from_utf8(made.stdout).unwrap();
    Path::new(stem_path.trim()).file_name().unwrap().to_str().unwrap().to_owned()
}

/// A rollover by pre-publication (README, DNSSEC): the new key is published first and signs
/// nothing, then signs while the old one stays published; at each step the DNSKEY set holds
/// both, and answers validate against the key that signs, with no step in between.
#[test]
fn a_key_rolls_over_by_pre_publication_with_answers_valid_at_every_step() {
    let keys = TempDir::new("dnssec-roll");
    let (old, new) = (keygen(&keys, "ecdsap256sha256"), keygen(&keys, "ed25519"));
    let mut server = server(&keys, &old);
    let copy = |stem: &str| {
        for suffix in [".key", ".private"] {
            let text = std::fs::read_to_string(keys.path().join(format!("{stem}{suffix}"))).unwrap();
            server.write(&format!("{stem}{suffix}"), &text);
        }
    };
    copy(&new);
    let config = |signing: &str, published: &str| {
        let keys = format!("keys = [\"{signing}\", {{ file = \"{published}\", publish_only = true }}]");
        format!("{API_TOML}[[zone]]\nfile = \"signed.test.zone\"\ndnssec = {{ {keys} }}\n{POOL}")
    };
    let anchor_of = |stem: &str| anchor(&keys, &keys.path().join(format!("{stem}.key")));
    let dnskeys = |server: &TestServer| {
        let reply = signed_query(server, "signed.test.", RecordType::DNSKEY, false);
        let sigs = reply.answers.iter().filter(|r| r.record_type() == RecordType::RRSIG).count();
        (reply.answers.len() - sigs, sigs)
    };
    for (signing, published) in [(&old, &new), (&new, &old)] {
        server.write("meridian.toml", &config(signing, published));
        server.reload().expect("the reload takes the keys");
        assert_eq!(dnskeys(&server), (2, 1), "both keys published, one signing ({signing})");
        let anchor = anchor_of(signing);
        for (name, rtype) in [("www.signed.test", "A"), ("nope.signed.test", "A"), ("signed.test", "DNSKEY")] {
            let out = delv(server.addr, &anchor, "127.0.0.2", name, rtype, false);
            assert!(out.contains("fully validated"), "{name} {rtype} signed by {signing}:\n{out}");
        }
        let other = delv(server.addr, &anchor_of(published), "127.0.0.2", "www.signed.test", "A", false);
        assert!(!other.contains("fully validated"), "the publish-only key signs nothing:\n{other}");
    }
}
