//! Names as endpoints (issue 18, part 5): a pool whose chosen region lists names answers with
//! a CNAME, over real UDP and TCP; its check resolves the name through the system resolver
//! (`localhost`, to the test's HTTP target) and sends the name as `Host`; when the check fails
//! the pool hands over to a region of addresses.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::api::ok;
use crate::health::LIMIT;
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;
use crate::support::{API_TOML, TestServer};

/// Nothing at `www`, so a pool there may answer with a CNAME; `host` has addresses of ours.
const ZONE: &str = "$ORIGIN lb.test.\n$TTL 300\n@ SOA ns host 1 2 3 4 60\n@ NS ns\nns A 192.0.2.53\n\
                    host A 192.0.2.77\nhost AAAA 2001:db8::77\n";

/// Region `cdn` (the name `localhost`, checked on `target` by name) before region `own`
/// (192.0.2.1), in a `priority` pool `www.lb.test.`; `more`: more pools.
fn server(target: &HealthTarget, more: &str) -> TestServer {
    let toml = format!(
        "{API_TOML}[[region]]\nname = \"cdn\"\nendpoints = [ {{ name = \"localhost\" }} ]\n\
         check = {{ type = \"http\", port = {}, path = \"/health\", interval = \"100ms\", timeout = \"500ms\", rise = 2, fall = 2 }}\n\
         [[region]]\nname = \"own\"\nendpoints = [ {{ address = \"192.0.2.1\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"cdn\", \"own\"]\nttl = 30\nfailover_ttl = 5\nmax_answers = 4\n{more}",
        target.addr.port()
    );
    TestServer::with_config("", &[("lb.test.zone", ZONE)], &toml, &[])
}

/// The answer section as (owner, type, TTL, data) text.
fn answers(reply: &Message) -> Vec<(String, RecordType, u32, String)> {
    reply.answers.iter().map(|r| (r.name.to_string(), r.record_type(), r.ttl, r.data.to_string())).collect()
}

fn cname(owner: &str, ttl: u32, target: &str) -> (String, RecordType, u32, String) {
    (owner.to_owned(), RecordType::CNAME, ttl, target.to_owned())
}

#[test]
fn a_name_endpoint_is_answered_as_a_cname_and_failed_over_when_its_check_fails() {
    let target = HealthTarget::start();
    let server = server(&target, "");
    target.wait_for_requests(1, LIMIT, "a probe of localhost");
    assert_eq!(target.last_host(), format!("localhost:{}", target.addr.port()), "Host is the name");
    for rtype in [RecordType::A, RecordType::AAAA, RecordType::TXT, RecordType::MX, RecordType::CNAME, RecordType::ANY]
    {
        let q = Q::new("www.lb.test.", rtype);
        for (transport, reply) in [("udp", client::udp(server.addr, &q)), ("tcp", client::tcp(server.addr, &q))] {
            assert_eq!(reply.metadata.response_code, ResponseCode::NoError, "{rtype} over {transport}");
            assert!(reply.metadata.authoritative, "{rtype} over {transport}");
            // One CNAME whatever `max_answers` says; `localhost.` is not ours, so not chased
            // (RFC 1034 section 3.6.2): the resolver follows it.
            assert_eq!(answers(&reply), [cname("www.lb.test.", 30, "localhost.")], "{rtype} over {transport}");
            assert!(reply.authorities.is_empty() && reply.additionals.is_empty(), "{rtype} over {transport}");
        }
    }
    target.set_status(503);
    server.wait_for_snapshot(LIMIT, "the name endpoint down", |s| !s.health.is_servable(0));
    for (transport, reply) in [
        ("udp", client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
        ("tcp", client::tcp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
    ] {
        let got: Vec<String> = reply.answers.iter().map(|r| format!("{} {}", r.record_type(), r.data)).collect();
        assert_eq!(got, ["A 192.0.2.1"], "failed over to the addresses, over {transport}");
        assert_eq!(reply.answers[0].ttl, 5, "the failover TTL");
    }
    // The addresses answer A; another type has no data there now.
    let txt = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::TXT));
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    assert!(txt.answers.is_empty(), "{:?}", txt.answers);
    assert_eq!(txt.authorities.first().map(|r| r.record_type()), Some(RecordType::SOA));
    target.set_status(200);
    server.wait_for_snapshot(LIMIT, "the name endpoint back", |s| s.health.is_servable(0));
    let back = client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A));
    assert_eq!(back.answers.first().map(|r| r.record_type()), Some(RecordType::CNAME));
}

#[test]
fn a_cname_into_our_zones_is_followed_as_a_static_one_is() {
    let target = HealthTarget::start();
    let more = "[[region]]\nname = \"inside\"\nendpoints = [ { name = \"host.lb.test.\" } ]\n\
                [[pool]]\nname = \"app.lb.test.\"\npolicy = \"priority\"\nregions = [\"inside\"]\nttl = 40\n\
                [[region]]\nname = \"chain\"\nendpoints = [ { name = \"www.lb.test.\" } ]\n\
                [[pool]]\nname = \"chain.lb.test.\"\npolicy = \"priority\"\nregions = [\"chain\"]\nttl = 50\n";
    let server = server(&target, more);
    for transport in ["udp", "tcp"] {
        let ask = |name: &str, rtype| {
            let q = Q::new(name, rtype);
            if transport == "udp" { client::udp(server.addr, &q) } else { client::tcp(server.addr, &q) }
        };
        let a = ask("app.lb.test.", RecordType::A);
        assert!(a.metadata.authoritative);
        assert_eq!(
            answers(&a),
            [
                cname("app.lb.test.", 40, "host.lb.test."),
                ("host.lb.test.".into(), RecordType::A, 300, "192.0.2.77".into())
            ],
            "over {transport}"
        );
        let aaaa = ask("app.lb.test.", RecordType::AAAA);
        assert_eq!(
            aaaa.answers.iter().map(|r| r.record_type()).collect::<Vec<_>>(),
            [RecordType::CNAME, RecordType::AAAA]
        );
        // The target has no MX: the CNAME, then NODATA for the target (RFC 2308 section 2.2).
        let mx = ask("app.lb.test.", RecordType::MX);
        assert_eq!(answers(&mx), [cname("app.lb.test.", 40, "host.lb.test.")]);
        assert_eq!(mx.authorities.first().map(|r| r.record_type()), Some(RecordType::SOA));
        // A pool's name leading to another pool: each steers its own step.
        let chain = ask("chain.lb.test.", RecordType::A);
        assert_eq!(
            answers(&chain),
            [cname("chain.lb.test.", 50, "www.lb.test."), cname("www.lb.test.", 30, "localhost.")],
            "over {transport}"
        );
    }
}

#[test]
fn the_api_history_and_explain_name_a_name_endpoint() {
    let target = HealthTarget::start();
    target.set_status(503);
    let server = server(&target, "");
    server.wait_for_snapshot(LIMIT, "the name endpoint down", |s| !s.health.is_servable(0));
    let api = server.api();
    let region = ok(&api.get("/api/v1/lb/regions/cdn"));
    let endpoint = &region["endpoints"][0];
    assert_eq!((endpoint["address"].as_str(), endpoint["name"].as_str()), (Some("localhost."), Some("localhost.")));
    assert_eq!(endpoint["health"], "down", "{region}");
    let own = ok(&api.get("/api/v1/lb/regions/own"));
    assert!(own["endpoints"][0].get("name").is_none(), "an address has no name: {own}");
    // History finds it by its name, with or without the final dot.
    for asked in ["localhost", "LOCALHOST."] {
        let history = ok(&api.get(&format!("/api/v1/lb/health/history?endpoint={asked}")));
        let events = history.as_array().expect("a list");
        assert!(!events.is_empty() && events.iter().all(|e| e["endpoint"] == "localhost."), "{history}");
    }
    target.set_status(200);
    server.wait_for_snapshot(LIMIT, "the name endpoint back", |s| s.health.is_servable(0));
    let explained = ok(&api.get("/api/v1/lb/explain?name=www.lb.test.&type=AAAA&client=192.0.2.9"));
    let steering = &explained["steering"];
    assert_eq!(steering["region"], "cdn", "{explained}");
    assert_eq!(steering["endpoints"], serde_json::json!(["localhost."]), "{explained}");
    // Just back: the failover TTL for the hold after a change.
    assert_eq!(explained["answers"], serde_json::json!(["www.lb.test. 5 IN CNAME localhost."]), "{explained}");
}
