//! Reload (SIGHUP): a good one changes the answers, a bad one is refused and changes nothing,
//! and health state survives it.

use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{RData, RecordType};

use crate::steering::LB_ZONE;
use crate::support::client::{self, Q};
use crate::support::target::HealthTarget;
use crate::support::{TestServer, servable};

fn txt(server: &TestServer) -> String {
    let reply = client::udp(server.addr, &Q::new("note.lb.test.", RecordType::TXT));
    reply.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
}

fn a(reply: &Message) -> Vec<String> {
    reply.answers.iter().filter_map(|r| if let RData::A(a) = &r.data { Some(a.to_string()) } else { None }).collect()
}

#[test]
fn a_good_reload_changes_the_answers_and_a_bad_one_changes_nothing() {
    let zone = |note: &str| format!("{LB_ZONE}note TXT \"{note}\"\n");
    let mut server = TestServer::with_zones("", &[("lb.test.zone", &zone("first"))]);
    assert_eq!(txt(&server), "first");
    server.write("lb.test.zone", &zone("second"));
    let generation = server.reload().expect("a valid reload");
    assert!(generation >= 2);
    assert_eq!(txt(&server), "second", "visible at once after the reload");
    // Out-of-zone data: refused with check-config's message; the running zone stays.
    server.write("lb.test.zone", &format!("{}www.example.com. A 192.0.2.1\n", zone("third")));
    let error = server.reload().expect_err("an invalid zone");
    assert!(error.contains("is out of zone"), "{error}");
    assert_eq!(txt(&server), "second");
}

#[test]
fn health_state_survives_a_reload() {
    let target = HealthTarget::start();
    let check = format!(
        "{{ type = \"http\", address = \"127.0.0.1\", port = {}, interval = \"100ms\", timeout = \"500ms\", rise = 3, fall = 1 }}",
        target.addr.port()
    );
    let toml = format!(
        "[[region]]\nname = \"r\"\nendpoints = [ {{ address = \"192.0.2.1\", check = {check} }}, {{ address = \"192.0.2.2\" }} ]\n\
         [[pool]]\nname = \"www.lb.test.\"\npolicy = \"priority\"\nregions = [\"r\"]\n"
    );
    let mut server = TestServer::with_config("", &[("lb.test.zone", LB_ZONE)], &toml, &[]);
    target.set_status(503);
    server.wait_for_snapshot(Duration::from_secs(5), "192.0.2.1 down", |s| !servable(s, "192.0.2.1"));
    assert_eq!(
        a(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))),
        ["192.0.2.2"],
        "only the healthy one"
    );
    // From now on the target hangs, so a fresh probe needs its whole 500 ms timeout to fail.
    // Reload: the endpoint stays down (its state carries over rather than restarting at its
    // initial "up"), with no window in which it is served.
    target.set_hang(true);
    server.write("lb.test.zone", &format!("{LB_ZONE}note TXT \"reloaded\"\n"));
    server.reload().expect("a valid reload");
    assert_eq!(txt(&server), "reloaded");
    for _ in 0..10 {
        assert_eq!(a(&client::udp(server.addr, &Q::new("www.lb.test.", RecordType::A))), ["192.0.2.2"]);
    }
}
