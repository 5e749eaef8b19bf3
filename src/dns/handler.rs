//! Our hickory `RequestHandler`: load one snapshot, answer, send.
//!
//! hickory's `Catalog` is not used: it takes an async lock per lookup, and its EDNS and
//! truncation handling differ from what we need (see `response.rs` and `fit.rs`).

use std::sync::Arc;

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_proto::serialize::binary::BinDecoder;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use tracing::debug;

use std::sync::atomic::{AtomicU64, Ordering};

use super::response::{self, Answer, Salt};
use crate::steering::splitmix64;

use crate::metrics::{Observers, Transport};
use crate::snapshot::{Snapshot, SnapshotStore};
use hickory_server::net::xfer::Protocol;

/// Answers every request from the current snapshot.
pub struct Handler {
    store: Arc<SnapshotStore>,
    observers: Observers,
    /// Round-robin turns: one atomic add per query, no lock.
    turns: AtomicU64,
    /// Seeds the random draws, so that two servers do not draw alike.
    seed: u64,
}

impl Handler {
    pub fn new(store: Arc<SnapshotStore>, observers: Observers) -> Self {
        // std seeds RandomState from the OS: enough to spread load; nothing here needs
        // cryptographic randomness.
        let seed = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u64);
        Self { store, observers, turns: AtomicU64::new(0), seed }
    }

    /// Counts the answer: a few atomic adds through handles resolved with the snapshot.
    fn observe(&self, snapshot: &Snapshot, request: &Request, answer: &Answer<'_>) {
        let transport = if request.protocol() == Protocol::Udp { Transport::Udp } else { Transport::Tcp };
        let qtype = request.queries.queries().first().map_or(0, |q| u16::from(q.query_type()));
        let rcode = u16::from(answer.metadata.response_code);
        self.observers.metrics.record_query(transport, qtype, rcode);
        let Some(steered) = &answer.steered else { return };
        let (pool, decision) = (steered.pool, &steered.decision);
        if steered.from_ecs && decision.scope > 0 {
            self.observers.metrics.record_ecs_tailored();
        }
        pool.observers.metrics.record_answer(decision.region, decision.endpoints.iter().map(|e| e.health));
        let Some(analytics) = &pool.observers.analytics else { return };
        // Policies that do not locate the client (weighted, hash...) still get its country,
        // when there is a database.
        let geo = snapshot.steering.geo.as_deref();
        let located = decision.located.or_else(|| geo.and_then(|g| g.locate(steered.client)));
        let place = geo.zip(located.and_then(|l| l.location)).map(|(g, id)| g.location(id));
        let slots = &pool.observers;
        analytics.record(
            self.observers.tick(),
            decision.region.and_then(|r| slots.region_slots.get(r).copied()),
            decision.endpoints.iter().filter_map(|e| slots.endpoint_slots.get(e.health).copied()),
            place.and_then(|p| p.country),
            place.and_then(|p| p.continent),
            rcode,
        );
    }

    fn salt(&self) -> Salt {
        let turn = self.turns.fetch_add(1, Ordering::Relaxed);
        Salt { turn, random: splitmix64(turn ^ self.seed) }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        // One snapshot for the whole request; the answer borrows from it until it is sent.
        let snapshot = self.store.load();
        let Some(answer) = response::answer(&snapshot, request, self.salt()) else {
            return no_response(&request.metadata);
        };
        self.observe(&snapshot, request, &answer);
        let Answer { metadata, answers, authorities, additionals, edns, echo_question, .. } = &answer;
        let no_question = empty_question();
        let question = if *echo_question { &request.queries } else { &no_question };
        let message = MessageResponseBuilder::new(question, edns.as_ref()).build(
            *metadata,
            Answer::records(answers),
            Answer::records(authorities),
            std::iter::empty(),
            Answer::records(additionals),
        );
        match response_handle.send_response(message).await {
            Ok(info) => info,
            Err(error) => {
                debug!(%error, src = %request.src(), "could not send a response");
                let mut failed = *metadata;
                failed.response_code = ResponseCode::ServFail;
                no_response(&failed)
            }
        }
    }
}

fn empty_question() -> Queries {
    Queries::read(&mut BinDecoder::new(&[]), 0).expect("reading zero questions cannot fail")
}

fn no_response(metadata: &Metadata) -> ResponseInfo {
    ResponseInfo::from(Header { metadata: *metadata, counts: HeaderCounts::default() })
}
