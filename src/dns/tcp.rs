//! DNS over TCP (RFC 7766): an accept loop per listener and a task per connection, which
//! reads two-octet length-prefixed messages (RFC 1035 section 4.2.2), answers each with the
//! answer function UDP uses, and writes the responses back in the order the queries came
//! (RFC 7766 section 6.2.1.1 allows either order).
//!
//! What one client may hold is bounded, so that a flood of connections never stops UDP or
//! other TCP clients (RFC 7766 section 10 lists these options):
//!
//! - connections open at once, in total and per client address: past the per-client limit a
//!   connection is accepted and closed at once, so its client learns quickly rather than
//!   waiting in the listen queue; at the total limit the connection idle longest is closed to
//!   make room (section 6.2.3 lets a server under pressure close idle connections), so that a
//!   few addresses holding idle connections cannot lock everyone else out, and only when none
//!   is idle is the new one closed at once;
//! - the idle timeout: no query begun within it and the server closes (section 6.2.3);
//! - the query timeout: a message begun but not finished, or a response not written, within it
//!   closes the connection, so a slow sender cannot hold its slot forever.
//!
//! The limits are read from the current snapshot when a connection is accepted, so a reload
//! applies them to new connections. The counts and the list of idle connections are the only
//! shared state, a `Mutex` taken on accept, close, and when a connection starts or stops
//! waiting for a query, never per UDP query. Not rate limited (`rrl`): over TCP the
//! handshake proves the source address, so there is nothing to reflect.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::pipeline::{Answerer, Salts};
use crate::clients::{self, PerClient};
use crate::config::TcpLimits;
use crate::metrics::{Registry, TcpRefusal, TcpTimeout};
use crate::snapshot::{Snapshot, SnapshotStore};

/// Octets of the length prefix (RFC 1035 section 4.2.2).
const PREFIX_LEN: usize = 2;
/// Room made for a message whose length is not yet known: most queries fit.
const READ_CHUNK: usize = 512;
/// Buffers larger than this are given back once empty, so that an idle connection holds
/// little memory after a large response.
const KEEP_CAPACITY: usize = 4096;
/// The most octets of responses one round answers before writing them. A client may send
/// thousands of pipelined queries in one read; answered in rounds, neither the responses a
/// connection buffers nor the time it runs without yielding grow with what it sends.
const ROUND_OUTPUT: usize = 16 * 1024;
/// How long the accept loop pauses after an error such as running out of file descriptors,
/// which would otherwise repeat at once (the listener stays readable).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The TCP side of the server: its accept loops and connections.
pub struct TcpServer {
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// What every connection shares.
struct Shared {
    store: Arc<SnapshotStore>,
    answerer: Arc<Answerer>,
    metrics: Arc<Registry>,
    open: Mutex<OpenConnections>,
    /// Numbers connections, so that each draws its own salts.
    accepted: AtomicU64,
}

/// Starts an accept loop on every listener.
pub fn start(
    listeners: Vec<TcpListener>,
    store: Arc<SnapshotStore>,
    answerer: Arc<Answerer>,
    metrics: Arc<Registry>,
) -> TcpServer {
    let shared = Arc::new(Shared {
        store,
        answerer,
        metrics,
        open: Mutex::new(OpenConnections::default()),
        accepted: AtomicU64::new(0),
    });
    let (stop, tasks) = (CancellationToken::new(), TaskTracker::new());
    for listener in listeners {
        tasks.spawn(accept(listener, shared.clone(), stop.clone(), tasks.clone()));
    }
    TcpServer { stop, tasks }
}

impl TcpServer {
    /// Stops accepting and closes every connection once the responses to the queries it has
    /// received are written (a write the client does not read is abandoned).
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken, tasks: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_one_connection(&error) => continue,
            Err(error) => {
                warn!(%error, "TCP accept failed; pausing before the next");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = sleep(ACCEPT_PAUSE) => continue,
                }
            }
        };
        let limits = shared.store.guard().config.server.tcp;
        let client = clients::key(peer.ip());
        let admitted = lock(&shared.open).admit(client, &limits);
        if let Err(refusal) = admitted {
            shared.metrics.record_tcp_refused(refusal);
            debug!(%peer, ?refusal, "TCP connection over the limit; closed");
            drop(stream); // closed at once: the client learns now, not after a timeout
            continue;
        }
        shared.metrics.record_tcp_connection(true);
        let slot = Slot { shared: shared.clone(), client, idle: None, evicted: CancellationToken::new() };
        let salts = shared.answerer.salts(shared.accepted.fetch_add(1, Ordering::Relaxed));
        let connection = Connection { stream, peer, limits, salts, response: Vec::new(), slot };
        tasks.spawn(connection.serve(stop.clone()));
    }
}

/// Errors that concern one connection only (it was reset before it was accepted).
fn is_one_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    matches!(error.kind(), ConnectionAborted | ConnectionReset | Interrupted)
}

/// How many connections are open, in total and per client (see [`clients::key`]), and which
/// of them wait for a query.
#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    by_client: PerClient,
    /// Connections waiting for their next query, by a number taken when they began to wait:
    /// the first has waited longest. Cancelling its token closes it.
    idle: BTreeMap<u64, CancellationToken>,
    next_idle: u64,
}

impl OpenConnections {
    /// Counts one more connection from `client`, or says which limit it would pass. At the
    /// total limit the connection idle longest is told to close and the new one is counted
    /// at once: the total passes the limit by the connections still closing, for as long as
    /// they take to see it (their next poll).
    fn admit(&mut self, client: IpAddr, limits: &TcpLimits) -> Result<(), TcpRefusal> {
        let full = self.total >= limits.max_connections;
        if full && self.idle.is_empty() {
            return Err(TcpRefusal::Total);
        }
        if self.by_client.held(client) >= limits.max_connections_per_client {
            return Err(TcpRefusal::PerClient);
        }
        if full && let Some((_, longest)) = self.idle.pop_first() {
            longest.cancel();
        }
        self.by_client.add(client);
        self.total += 1;
        Ok(())
    }

    /// Lists a connection as waiting for a query; the number takes it off again.
    fn wait(&mut self, token: CancellationToken) -> u64 {
        let number = self.next_idle;
        self.next_idle += 1;
        self.idle.insert(number, token);
        number
    }

    /// Takes a connection off the waiting list (it is reading a query, or closing).
    fn stop_waiting(&mut self, number: u64) {
        self.idle.remove(&number);
    }

    /// Counts one connection from `client` fewer.
    fn release(&mut self, client: IpAddr) {
        self.total = self.total.saturating_sub(1);
        self.by_client.remove(client);
    }
}

/// A connection's place in the counts, given back when the connection ends however it ends.
struct Slot {
    shared: Arc<Shared>,
    client: IpAddr,
    /// Its number on the waiting list while it waits for a query.
    idle: Option<u64>,
    /// Cancelled when the connection, idle, is closed to make room for a new one.
    evicted: CancellationToken,
}

impl Slot {
    /// Lists the connection as waiting for a query, and so as one that may be closed to make
    /// room.
    fn wait(&mut self) {
        self.idle = Some(lock(&self.shared.open).wait(self.evicted.clone()));
    }

    fn stop_waiting(&mut self) {
        if let Some(number) = self.idle.take() {
            lock(&self.shared.open).stop_waiting(number);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.shared.open);
        if let Some(number) = self.idle.take() {
            open.stop_waiting(number);
        }
        open.release(self.client);
        self.shared.metrics.record_tcp_connection(false);
    }
}

/// The counts are whole after every section (one add or one remove), so a poisoned lock is
/// used as it is.
fn lock(open: &Mutex<OpenConnections>) -> std::sync::MutexGuard<'_, OpenConnections> {
    open.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One accepted connection.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    limits: TcpLimits,
    salts: Salts,
    /// One response as encoded, before its length prefix is known.
    response: Vec<u8>,
    slot: Slot,
}

/// Why a connection ends.
enum Close {
    /// The client closed, the connection failed, or the server is stopping.
    Done,
    /// A message we do not answer (no header, or a response): the client does not speak DNS
    /// to us, and after it the framing cannot be trusted.
    Unanswerable,
    Timeout(TcpTimeout),
}

impl Connection {
    /// Serves the connection until the client closes it, a timeout or a bad message closes
    /// it, or the server stops.
    ///
    /// ```text
    ///            all of a message read          responses written
    ///   idle ──first octet──▶ reading ──────────▶ answering ──────────▶ idle
    ///    │ idle_timeout         │ query_timeout       │ query_timeout
    ///    ▼                      ▼                     ▼
    ///  closed                 closed                closed
    /// ```
    async fn serve(mut self, stop: CancellationToken) {
        let close = self.exchange(&stop).await;
        match close {
            Close::Done => {}
            Close::Unanswerable => debug!(peer = %self.peer, "unanswerable message over TCP; closing"),
            Close::Timeout(kind) => {
                debug!(peer = %self.peer, ?kind, "TCP connection timed out");
                self.slot.shared.metrics.record_tcp_timeout(kind);
            }
        }
    }

    async fn exchange(&mut self, stop: &CancellationToken) -> Close {
        let _ = self.stream.set_nodelay(true); // each write is whole responses
        let (mut input, mut output) = (Vec::new(), Vec::new());
        // When the first octet of the message not yet complete arrived.
        let mut begun: Option<Instant> = None;
        loop {
            // A zone transfer is answered apart, message by message (`xfr`).
            if let Some(request) = next_message(&input).filter(|m| super::xfr::is_transfer(m)) {
                let (request, len) = (request.to_vec(), PREFIX_LEN + request.len());
                input.drain(..len);
                if let Err(close) = self.transfer(&request, stop).await {
                    return close;
                }
                if input.is_empty() {
                    begun = None;
                }
                continue;
            }
            let (consumed, answerable) = self.answer_all(&input, &mut output);
            input.drain(..consumed);
            if !output.is_empty() {
                // `biased`: a response ready at once is written even when the server stops.
                let written = tokio::select! {
                    biased;
                    written = timeout(self.limits.query_timeout, self.stream.write_all(&output)) => written,
                    _ = stop.cancelled() => return Close::Done,
                };
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Close::Done,
                    Err(_) => return Close::Timeout(TcpTimeout::Query),
                }
                recycle(&mut output);
            }
            if !answerable {
                return Close::Unanswerable;
            }
            if consumed > 0 && next_message(&input).is_some() {
                continue; // the round was full: answer the rest of what was read first
            }
            if input.is_empty() {
                begun = None;
                recycle(&mut input);
            } else if consumed > 0 || begun.is_none() {
                begun = Some(Instant::now()); // what is left is the start of the next message
            }
            let (deadline, kind) = match begun {
                None => (Instant::now() + self.limits.idle_timeout, TcpTimeout::Idle),
                Some(at) => (at + self.limits.query_timeout, TcpTimeout::Query),
            };
            make_room(&mut input);
            // Waiting for a query, the connection may be closed to make room for a new one.
            if begun.is_none() {
                self.slot.wait();
            }
            let read = tokio::select! {
                _ = stop.cancelled() => return Close::Done,
                _ = self.slot.evicted.cancelled() => return Close::Timeout(TcpTimeout::Evicted),
                read = timeout_at(deadline, self.stream.read_buf(&mut input)) => read,
            };
            self.slot.stop_waiting();
            match read {
                Ok(Ok(0) | Err(_)) => return Close::Done,
                Ok(Ok(_)) => {}
                Err(_) => return Close::Timeout(kind),
            }
            if begun.is_none() {
                begun = Some(Instant::now());
            }
        }
    }

    /// Sends a zone transfer (`xfr`) from the snapshot in force when it was asked for, each
    /// message written before the next is built, each within the query timeout.
    async fn transfer(&mut self, request: &[u8], stop: &CancellationToken) -> Result<(), Close> {
        let snapshot = self.slot.shared.store.load();
        let answerer = &self.slot.shared.answerer;
        let (mut unsigned, mut answered) = (Vec::new(), Vec::new());
        // The TSIG stage first (RFC 8945 section 5.2): a signed request is verified, and every
        // message of its transfer signed (section 5.3.1); one that fails gets its NOTAUTH.
        let verified = match super::pipeline::authenticate(
            &snapshot,
            request,
            answerer.clock(),
            &answerer.observers().metrics,
            &mut unsigned,
            &mut answered,
        ) {
            super::pipeline::Authenticated::Unsigned => None,
            super::pipeline::Authenticated::Verified(signer, now) => Some((signer, now)),
            super::pipeline::Authenticated::Answered(false) => return Ok(()),
            super::pipeline::Authenticated::Answered(true) => return self.write_framed(&answered, stop).await,
        };
        let key =
            verified.as_ref().and_then(|(signer, _)| hickory_proto::rr::Name::from_ascii(&signer.key().name).ok());
        let request = if verified.is_some() { &unsigned[..] } else { request };
        let mut transfer = super::xfr::Transfer::start(&snapshot, request, self.peer, key.as_ref());
        let mut signer: Box<dyn super::xfr::Sign + Send> = match verified {
            Some((signer, now)) => Box::new(TsigSign(signer, now)),
            None => Box::new(super::xfr::Unsigned),
        };
        let mut message = Vec::new();
        let mut messages = 0usize;
        while transfer.next_message(&mut *signer, &mut message) {
            let len = u16::try_from(message.len()).map_err(|_| Close::Unanswerable)?;
            let mut framed = Vec::with_capacity(PREFIX_LEN + message.len());
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&message);
            let written = tokio::select! {
                biased;
                written = timeout(self.limits.query_timeout, self.stream.write_all(&framed)) => written,
                _ = stop.cancelled() => return Err(Close::Done),
            };
            match written {
                Ok(Ok(())) => messages += 1,
                Ok(Err(_)) => return Err(Close::Done),
                Err(_) => return Err(Close::Timeout(TcpTimeout::Query)),
            }
        }
        let (peer, kind, records) = (self.peer, transfer.kind, transfer.record_count());
        match transfer.is_refused() {
            true => info!(%peer, "zone transfer refused"),
            false => info!(%peer, kind, records, messages, "zone transfer sent"),
        }
        Ok(())
    }

    /// Writes one message with its length prefix, within the query timeout.
    async fn write_framed(&mut self, message: &[u8], stop: &CancellationToken) -> Result<(), Close> {
        let len = u16::try_from(message.len()).map_err(|_| Close::Unanswerable)?;
        let mut framed = Vec::with_capacity(PREFIX_LEN + message.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(message);
        let written = tokio::select! {
            biased;
            written = timeout(self.limits.query_timeout, self.stream.write_all(&framed)) => written,
            _ = stop.cancelled() => return Err(Close::Done),
        };
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Close::Done),
            Err(_) => Err(Close::Timeout(TcpTimeout::Query)),
        }
    }

    /// Answers every whole message in `input` into `output`, from one snapshot; see
    /// [`answer_frames`].
    fn answer_all(&mut self, input: &[u8], output: &mut Vec<u8>) -> (usize, bool) {
        let snapshot = self.slot.shared.store.guard();
        let (answerer, peer) = (&self.slot.shared.answerer, self.peer);
        answer_frames(answerer, &snapshot, peer, &mut self.salts, input, &mut self.response, output)
    }
}

/// Answers the whole messages at the start of `input` (RFC 1035 section 4.2.2 framing) into
/// `output`, each response with its length prefix, until [`ROUND_OUTPUT`] octets have been
/// added (call again for the rest); `response` is scratch space. Returns the octets consumed
/// and `false` when a message cannot be answered (the responses before it are still in
/// `output`). Pure apart from the counters: the fuzz target `tcp` feeds it streams cut at
/// every point.
pub fn answer_frames(
    answerer: &Answerer,
    snapshot: &Snapshot,
    peer: SocketAddr,
    salts: &mut Salts,
    input: &[u8],
    response: &mut Vec<u8>,
    output: &mut Vec<u8>,
) -> (usize, bool) {
    let (mut consumed, start) = (0, output.len());
    while output.len() - start < ROUND_OUTPUT
        && let Some(message) = next_message(&input[consumed..])
    {
        if super::xfr::is_transfer(message) {
            break; // the connection sends it apart, message by message
        }
        consumed += PREFIX_LEN + message.len();
        if !answerer.answer_tcp(snapshot, message, peer, salts.take(), response) {
            return (consumed, false);
        }
        // Responses are at most 65,535 octets: the encoders are bounded by it.
        let Ok(len) = u16::try_from(response.len()) else { return (consumed, false) };
        output.extend_from_slice(&len.to_be_bytes());
        output.extend_from_slice(response);
    }
    recycle(response);
    (consumed, true)
}

/// The first whole message of `input`, without its length prefix.
fn next_message(input: &[u8]) -> Option<&[u8]> {
    let prefix = input.get(..PREFIX_LEN)?;
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    input.get(PREFIX_LEN..PREFIX_LEN + len)
}

/// Makes room to read into: the rest of the message when its length is known (so a message
/// is read in as few reads as the network allows), else a chunk that most queries fit.
fn make_room(input: &mut Vec<u8>) {
    let wanted = match input.get(..PREFIX_LEN) {
        Some(prefix) => PREFIX_LEN + usize::from(u16::from_be_bytes([prefix[0], prefix[1]])),
        None => READ_CHUNK,
    };
    input.reserve(wanted.saturating_sub(input.len()).max(READ_CHUNK));
}

/// Empties a buffer, giving back a large allocation.
fn recycle(buffer: &mut Vec<u8>) {
    buffer.clear();
    if buffer.capacity() > KEEP_CAPACITY {
        *buffer = Vec::new();
    }
}

/// Signs every message of a transfer with the request's TSIG key (RFC 8945 section 5.3.1:
/// each one, which every verifier takes), at the time the request was verified.
struct TsigSign<'k>(crate::tsig::Signer<'k>, u64);

impl super::xfr::Sign for TsigSign<'_> {
    fn sign(&mut self, message: &mut Vec<u8>, _first: bool) {
        self.0.sign(message, self.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_client: usize) -> TcpLimits {
        TcpLimits {
            max_connections: total,
            max_connections_per_client: per_client,
            idle_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn admits_up_to_each_limit_and_counts_releases() {
        let (a, b, c): (IpAddr, IpAddr, IpAddr) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap(), "2001:db8::1".parse().unwrap());
        let limits = limits(3, 2);
        let mut open = OpenConnections::default();
        assert_eq!(open.admit(a, &limits), Ok(()));
        assert_eq!(open.admit(a, &limits), Ok(()));
        assert_eq!(open.admit(a, &limits), Err(TcpRefusal::PerClient));
        assert_eq!(open.admit(b, &limits), Ok(()));
        assert_eq!(open.admit(c, &limits), Err(TcpRefusal::Total), "the total is checked first");
        open.release(a);
        assert_eq!(open.admit(c, &limits), Ok(()));
        for client in [a, b, c] {
            open.release(client);
        }
        assert_eq!((open.total, open.by_client.clients()), (0, 0), "no address is kept once it has no connection");
    }

    #[test]
    fn at_the_total_limit_the_connection_idle_longest_makes_room() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let two = limits(2, 2);
        let mut open = OpenConnections::default();
        assert_eq!(open.admit(ip("192.0.2.1"), &two), Ok(()));
        assert_eq!(open.admit(ip("192.0.2.2"), &two), Ok(()));
        assert_eq!(open.admit(ip("192.0.2.3"), &two), Err(TcpRefusal::Total), "none idle: refused");
        let (first, second) = (CancellationToken::new(), CancellationToken::new());
        let first_number = open.wait(first.clone());
        open.wait(second.clone());
        assert_eq!(open.admit(ip("192.0.2.3"), &two), Ok(()));
        assert!(first.is_cancelled() && !second.is_cancelled(), "the one idle longest is closed");
        assert_eq!(open.total, 3, "counted until it has closed");
        open.stop_waiting(first_number); // as its slot does on closing
        open.release(ip("192.0.2.1"));
        // The per-client limit is checked before anyone is closed for the newcomer.
        let one_each = limits(2, 1);
        assert_eq!(open.admit(ip("192.0.2.3"), &one_each), Err(TcpRefusal::PerClient));
        assert!(!second.is_cancelled(), "no connection closed for a refused one");
    }

    #[test]
    fn messages_are_split_at_their_length_prefixes() {
        assert_eq!(next_message(&[]), None);
        assert_eq!(next_message(&[0]), None, "half a prefix");
        assert_eq!(next_message(&[0, 3, 1, 2]), None, "a message cut short");
        assert_eq!(next_message(&[0, 0, 9]), Some(&[][..]), "a zero length is a message of nothing");
        assert_eq!(next_message(&[0, 2, 1, 2, 0, 1]), Some(&[1, 2][..]), "the next one is left");
    }

    #[test]
    fn a_long_pipeline_is_answered_in_rounds_in_order() {
        let snapshot = crate::dns::response::tests::snapshot(
            "$ORIGIN t.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
        );
        let answerer = Answerer::new(crate::metrics::Observers::default());
        let mut salts = answerer.salts(0);
        // 2,000 queries for ns.t. A (ID = their number), in one read.
        let mut input = Vec::new();
        for id in 0..2000u16 {
            let mut query = id.to_be_bytes().to_vec();
            query.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'n', b's', 1, b't', 0, 0, 1, 0, 1]);
            input.extend_from_slice(&(query.len() as u16).to_be_bytes());
            input.extend_from_slice(&query);
        }
        let (mut ids, mut rounds, mut response) = (Vec::new(), 0, Vec::new());
        let peer: SocketAddr = "192.0.2.9:1000".parse().unwrap();
        while !input.is_empty() {
            let mut output = Vec::new();
            let (consumed, ok) =
                answer_frames(&answerer, &snapshot, peer, &mut salts, &input, &mut response, &mut output);
            assert!(ok && consumed > 0);
            // A round stops once it passes its budget, by at most one response.
            assert!(output.len() < ROUND_OUTPUT + 600, "a round of {} octets", output.len());
            input.drain(..consumed);
            let mut rest = output.as_slice();
            while let Some(message) = next_message(rest) {
                ids.push(u16::from_be_bytes([message[0], message[1]]));
                rest = &rest[PREFIX_LEN + message.len()..];
            }
            rounds += 1;
        }
        assert_eq!(ids, (0..2000).collect::<Vec<u16>>(), "every query answered once, in order");
        assert!(rounds > 3, "2,000 answers in {rounds} rounds");
    }

    #[test]
    fn room_is_made_for_the_whole_message_once_its_length_is_known() {
        let mut input = vec![0x10, 0x00];
        make_room(&mut input);
        assert!(input.capacity() >= 2 + 0x1000);
        let mut empty = Vec::new();
        make_room(&mut empty);
        assert!((READ_CHUNK..KEEP_CAPACITY).contains(&empty.capacity()));
    }
}
