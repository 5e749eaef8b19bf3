//! NOTIFY out (RFC 1996): tells a zone's secondaries that its serial changed, so that they
//! transfer it now rather than at their next refresh.
//!
//! The writer starts one task per zone and secondary when it publishes a new serial; a newer
//! serial's task replaces an older one's. Each sends NOTIFY over UDP and waits for the
//! answer (same ID, QR set, opcode NOTIFY, from the secondary's address), sending again
//! after 1, 2, 4, 8 and 16 seconds: six tries in about half a minute, then it gives up with
//! a warning (RFC 1996 section 3.6: "a master ... periodically sends a NOTIFY request ...
//! until either too many copies have been sent (a 'timeout'), an ICMP message indicating
//! that the port is unreachable, or until a NOTIFY response is received"). Off the query
//! path: these are the writer's side effects.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Tries, and the wait for an answer after each (doubling).
const TRIES: u32 = 6;
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// The NOTIFY message for the zone of `soa` (RFC 1996 section 3.7: the question is the
/// zone's SOA, and the answer section "may contain" the new SOA, which a secondary may use
/// as a hint; BIND and Knot send it).
pub fn message(id: u16, soa: &Record) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    message.add_query(Query::query(soa.name.clone(), RecordType::SOA));
    message.add_answer(soa.clone());
    message.to_vec().unwrap_or_default()
}

/// Whether `answer` acknowledges the NOTIFY with this `id`.
pub fn is_acknowledgement(answer: &[u8], id: u16) -> bool {
    let Ok(answer) = Message::from_vec(answer) else { return false };
    answer.metadata.id == id
        && answer.metadata.message_type == MessageType::Response
        && answer.metadata.op_code == OpCode::Notify
}

/// Sends NOTIFY for the zone of `soa` to `target` until it is acknowledged, the tries run
/// out, or `stop` is cancelled. `id` is the message ID (random, from the caller).
pub async fn notify(soa: Record, target: SocketAddr, id: u16, stop: CancellationToken) {
    let zone = soa.name.clone();
    let serial = match &soa.data {
        RData::SOA(data) => data.serial,
        _ => 0,
    };
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(socket) => socket,
        Err(error) => return warn!(%zone, %target, %error, "NOTIFY not sent: no UDP socket"),
    };
    let request = message(id, &soa);
    let mut wait = FIRST_WAIT;
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=TRIES {
        if let Err(error) = socket.send_to(&request, target).await {
            debug!(%zone, %target, %error, attempt, "NOTIFY not sent");
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return,
                received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)) => received,
            };
            match received {
                Ok(Ok((len, from))) if from == target && is_acknowledgement(&buf[..len], id) => {
                    return info!(%zone, serial, %target, attempt, "NOTIFY acknowledged");
                }
                Ok(Ok(_)) => continue,        // not the answer: someone else's datagram
                Ok(Err(_)) | Err(_) => break, // unreachable port, or no answer in time
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            () = tokio::time::sleep_until(deadline) => {}
        }
        wait *= 2;
    }
    warn!(%zone, serial, %target, tries = TRIES, "NOTIFY not acknowledged; the secondary will see the serial at its next refresh");
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::SOA;

    #[test]
    fn an_answer_acknowledges_only_its_own_notify() {
        let soa = SOA::new("ns.example.test.".parse().unwrap(), "h.example.test.".parse().unwrap(), 12, 1, 1, 1, 1);
        let soa = Record::from_rdata("example.test.".parse().unwrap(), 60, RData::SOA(soa));
        let request = Message::from_vec(&message(7, &soa)).unwrap();
        assert_eq!(request.answers, [soa], "the new SOA as a hint");
        assert_eq!(request.metadata.op_code, OpCode::Notify);
        assert!(request.metadata.authoritative);
        assert_eq!(request.queries[0].query_type(), RecordType::SOA);
        let mut answer = request.clone();
        answer.metadata.message_type = MessageType::Response;
        assert!(is_acknowledgement(&answer.to_vec().unwrap(), 7));
        assert!(!is_acknowledgement(&answer.to_vec().unwrap(), 8), "another ID");
        assert!(!is_acknowledgement(&request.to_vec().unwrap(), 7), "a query is no answer");
    }
}
