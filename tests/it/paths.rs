//! The fast UDP path (our parser for the common query shape) and the general one (hickory's
//! parser for everything) must give the same bytes for every query of the differential corpus
//! and of the malformed-packet table, so they never drift. And our encoder must say what
//! hickory's says: the same message once parsed (only name compression differs: ours points
//! into the question, hickory's does not).

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::Message;
use meridian::app::build_snapshot;
use meridian::config::Config;
use meridian::dns::handler::{Answerer, Path};
use meridian::dns::response::Salt;
use meridian::metrics::Observers;

use crate::differential::{Transport, corpus};
use crate::support::{TEST_ZONE, TempDir};

#[test]
fn fast_and_general_paths_answer_byte_for_byte_alike() {
    let dir = TempDir::new("paths");
    dir.write("example.test.zone", TEST_ZONE);
    let config =
        dir.write("meridian.toml", "[server]\nidentity = \"meridian-test\"\n[[zone]]\nfile = \"example.test.zone\"\n");
    let snapshot = build_snapshot(Arc::new(Config::read(&config).unwrap()), 1, None).unwrap();
    let answerer = Answerer::new(Observers::default());
    let source: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let mut queries: Vec<(String, Vec<u8>)> = corpus()
        .into_iter()
        .filter(|(_, t)| *t == Transport::Udp)
        .map(|(q, _)| (format!("{q:?}"), q.bytes()))
        .collect();
    queries.extend(crate::malformed::table().into_iter().map(|(what, bytes, _)| (what.to_owned(), bytes)));
    assert!(queries.len() > 500, "the corpus: {}", queries.len());
    let (mut fast, mut general, mut hickory) = (Vec::new(), Vec::new(), Vec::new());
    let (mut compared, mut smaller) = (0, 0);
    let shown = |b: &[u8]| Message::from_vec(b).map(|m| m.to_string()).unwrap_or_else(|e| format!("unparsable: {e}"));
    for (what, bytes) in &queries {
        let salt = Salt::default();
        let a = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::Fast, &mut fast);
        let b = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::General, &mut general);
        let c = answerer.answer_udp_by(&snapshot, bytes, source, salt, Path::Hickory, &mut hickory);
        assert!(a == b && b == c, "{what}: one path answers, another does not");
        if !a {
            continue;
        }
        assert!(fast == general, "{what}:\nfast:    {}\ngeneral: {}", shown(&fast), shown(&general));
        assert_eq!(shown(&fast), shown(&hickory), "{what}: our encoder and hickory's say different things");
        assert!(fast.len() <= hickory.len(), "{what}: ours is longer ({} > {})", fast.len(), hickory.len());
        smaller += usize::from(fast.len() < hickory.len());
        compared += 1;
    }
    assert!(compared > 500, "{compared} answers compared");
    assert!(smaller > 300, "our encoder compressed only {smaller} of {compared} answers further");
}
