//! The dnstap writer: one thread that takes records from the answering threads, encodes them
//! (prost, into a buffer it reuses), writes them to the collector in Frame Streams, and gives
//! the records back to the pool. An edge: it owns the socket and reads the clock for its
//! backoff.
//!
//! ```text
//!                 connect + READY/ACCEPT/START
//!   waiting ───────────────────────────────────▶ connected ──stop──▶ STOP, FINISH (≤ 1 s)
//!     ▲  │ failed: wait 0.1 s, doubling to 5 s        │
//!     │  └──────────────┘                             │ write failed, or the collector
//!     └───────────────────────────────────────────────┘ closed its end
//! ```
//!
//! While waiting, records are taken and dropped (counted as `no_collector`), so that a
//! collector that comes back gets new messages, not ones queued before it went away.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hickory_server::net::xfer::Protocol;
use prost::Message as _;
use tracing::{debug, info, warn};

use super::frames::{self, Control};
use super::proto::{Dnstap, DnstapType, Message, MessageType, SocketFamily, SocketProtocol};
use super::{Logged, Record};
use crate::config::dnstap::{Collector, DnstapConfig};
use crate::metrics::{DnstapDropped, Registry};

/// How often an idle writer wakes: to see whether it should stop, reconnect, or notice a
/// collector that went away while nothing was sent.
const WAKE: Duration = Duration::from_millis(100);
/// The first wait after a failed connection; it doubles up to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts (BIND's `fstrm-set-reopen-interval` default).
const MOST_BACKOFF: Duration = Duration::from_secs(5);
/// How long connecting and the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one write may block before the collector counts as gone: meanwhile the queue
/// fills and new messages are dropped, never the answers.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the collector has to answer STOP with FINISH at shutdown.
const FINISH_TIMEOUT: Duration = Duration::from_secs(1);
/// Records encoded into one write at most.
const BATCH: usize = 256;

/// The writer thread, stopped by [`Writer::stop`].
pub struct Writer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the thread. It connects as whoever the process is by then: after root is
    /// dropped, the serving user.
    pub(super) fn start(
        config: &DnstapConfig,
        identity: &str,
        logged: Logged,
        filled: Receiver<Box<Record>>,
        free: Sender<Box<Record>>,
        metrics: Arc<Registry>,
    ) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let mut template = Dnstap {
            identity: Some(identity.as_bytes().to_vec()),
            version: Some(config.version.as_bytes().to_vec()),
            r#type: DnstapType::Message as i32,
            message: Some(Message::default()),
        };
        if let Some(message) = template.message.as_mut() {
            message.query_address = Some(Vec::with_capacity(16));
        }
        let mut state = State {
            collector: config.collector.clone(),
            logged,
            filled,
            free,
            metrics,
            link: None,
            backoff: FIRST_BACKOFF,
            next_attempt: now(),
            reported: false,
            template,
            out: Vec::with_capacity(64 * 1024),
        };
        let flag = stop.clone();
        let thread = thread::Builder::new().name("meridian-dnstap".into()).spawn(move || state.run(&flag));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                warn!(%error, "cannot start the dnstap writer; queries are not logged");
                None
            }
        };
        Writer { stop, thread }
    }

    /// Stops the thread: it writes what is queued, ends the stream (STOP, then FINISH from
    /// the collector, waited for up to a second) and exits.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection to the collector.
enum Link {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Link {
    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Link::Unix(s) => s,
            Link::Tcp(s) => s,
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Link::Unix(s) => s.as_raw_fd(),
            Link::Tcp(s) => s.as_raw_fd(),
        }
    }

    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Link::Unix(s) => s.set_read_timeout(Some(timeout)),
            Link::Tcp(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Link::Unix(s) => s.set_write_timeout(Some(timeout)),
            Link::Tcp(s) => s.set_write_timeout(Some(timeout)),
        }
    }

    /// Whether the collector closed its end (or wrote to us, which a collector never does
    /// between ACCEPT and FINISH): the socket is readable. Does not wait.
    fn is_closed(&self) -> bool {
        let mut poll = libc::pollfd { fd: self.fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one pollfd, which `poll` is; a timeout of 0 does not wait.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready > 0 && poll.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Connects and makes the bidirectional handshake: READY, ACCEPT, START.
    fn open(collector: &Collector) -> io::Result<Link> {
        let link = match collector {
            Collector::Unix(path) => {
                // With a timeout: a collector whose backlog is full would hold a plain connect.
                let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
                socket.connect_timeout(&socket2::SockAddr::unix(path)?, HANDSHAKE_TIMEOUT)?;
                Link::Unix(UnixStream::from(std::os::fd::OwnedFd::from(socket)))
            }
            Collector::Tcp(addr) => Link::Tcp(TcpStream::connect_timeout(addr, HANDSHAKE_TIMEOUT)?),
        };
        let mut link = link;
        link.set_read_timeout(HANDSHAKE_TIMEOUT)?;
        link.set_write_timeout(HANDSHAKE_TIMEOUT)?;
        let mut out = Vec::new();
        frames::write_control(Control::Ready, &mut out);
        link.stream().write_all(&out)?;
        read_control(link.stream(), Control::Accept)?;
        out.clear();
        frames::write_control(Control::Start, &mut out);
        link.stream().write_all(&out)?;
        link.set_write_timeout(WRITE_TIMEOUT)?;
        Ok(link)
    }

    /// Ends the stream: STOP, then FINISH from the collector, waited for a little.
    fn close(mut self) {
        let mut out = Vec::new();
        frames::write_control(Control::Stop, &mut out);
        if self.stream().write_all(&out).is_ok()
            && self.set_read_timeout(FINISH_TIMEOUT).is_ok()
            && let Err(error) = read_control(self.stream(), Control::Finish)
        {
            debug!(%error, "no FINISH from the dnstap collector");
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Reads one control frame and checks it is `expected`.
fn read_control(stream: &mut dyn ReadWrite, expected: Control) -> io::Result<()> {
    let mut head = [0u8; 8];
    stream.read_exact(&mut head)?;
    let len = frames::control_len(head).map_err(io::Error::other)?;
    let mut body = [0u8; frames::MAX_CONTROL_LEN];
    stream.read_exact(&mut body[..len])?;
    frames::check_control(&body[..len], expected).map_err(io::Error::other)
}

/// The writer thread's state.
struct State {
    collector: Collector,
    logged: Logged,
    filled: Receiver<Box<Record>>,
    free: Sender<Box<Record>>,
    metrics: Arc<Registry>,
    link: Option<Link>,
    backoff: Duration,
    next_attempt: Instant,
    /// A failure has been logged at warn since the last connection: the next are at debug.
    reported: bool,
    /// The message every record is encoded through, its buffers reused.
    template: Dnstap,
    /// The frames of one batch.
    out: Vec<u8>,
}

impl State {
    fn run(&mut self, stop: &AtomicBool) {
        let mut batch: Vec<Box<Record>> = Vec::with_capacity(BATCH);
        while !stop.load(Ordering::Relaxed) {
            self.check_link();
            match self.filled.recv_timeout(WAKE) {
                Ok(record) => batch.push(record),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            batch.extend(self.filled.try_iter().take(BATCH - 1));
            if self.link.as_ref().is_some_and(Link::is_closed) {
                self.lost(&io::Error::new(io::ErrorKind::ConnectionReset, "the collector closed the connection"));
            }
            self.send(&mut batch);
        }
        // Stopping: what is queued now goes out, then the stream ends.
        loop {
            batch.extend(self.filled.try_iter().take(BATCH));
            if batch.is_empty() {
                break;
            }
            self.send(&mut batch);
        }
        if let Some(link) = self.link.take() {
            link.close();
        }
        self.metrics.set_dnstap_connected(false);
    }

    /// Connects when there is no link and the backoff allows; drops a link whose collector
    /// went away.
    fn check_link(&mut self) {
        if self.link.as_ref().is_some_and(Link::is_closed) {
            self.lost(&io::Error::new(io::ErrorKind::ConnectionReset, "the collector closed the connection"));
        }
        if self.link.is_some() || now() < self.next_attempt {
            return;
        }
        match Link::open(&self.collector) {
            Ok(link) => {
                info!(collector = %self.collector, "dnstap collector connected");
                self.link = Some(link);
                self.backoff = FIRST_BACKOFF;
                self.reported = false;
                self.metrics.set_dnstap_connected(true);
            }
            Err(error) => {
                if self.reported {
                    debug!(collector = %self.collector, %error, "dnstap collector still unreachable");
                } else {
                    warn!(collector = %self.collector, %error, "cannot reach the dnstap collector; retrying, with messages dropped meanwhile");
                    self.reported = true;
                }
                self.next_attempt = now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MOST_BACKOFF);
            }
        }
    }

    /// The link failed: drop it and try again after the first backoff.
    fn lost(&mut self, error: &io::Error) {
        if self.link.take().is_some() {
            warn!(collector = %self.collector, %error, "dnstap collector lost; reconnecting");
            self.reported = true;
            self.metrics.set_dnstap_connected(false);
            self.next_attempt = now() + FIRST_BACKOFF;
            self.backoff = FIRST_BACKOFF * 2;
        }
    }

    /// Writes the batch (or drops it, counted, with no collector) and gives its records back.
    #[allow(clippy::vec_box)] // the boxes travel back to the pool: moving them moves a pointer
    fn send(&mut self, batch: &mut Vec<Box<Record>>) {
        if batch.is_empty() {
            return;
        }
        let messages: u64 = batch.iter().map(|r| messages_of(r)).sum();
        if self.link.is_some() {
            self.out.clear();
            for record in batch.iter_mut() {
                encode(&mut self.template, record, self.logged, &mut self.out);
            }
            let written = self.link.as_mut().map(|link| link.stream().write_all(&self.out));
            match written {
                Some(Ok(())) => self.metrics.record_dnstap_sent(messages),
                Some(Err(error)) => {
                    self.lost(&error);
                    self.metrics.record_dnstap_dropped(DnstapDropped::NoCollector, messages);
                }
                None => {}
            }
            if self.out.capacity() > 1 << 20 {
                self.out = Vec::with_capacity(64 * 1024);
            }
        } else {
            self.metrics.record_dnstap_dropped(DnstapDropped::NoCollector, messages);
        }
        for mut record in batch.drain(..) {
            record.shrink();
            let _ = self.free.try_send(record);
        }
    }
}

/// The dnstap messages a record makes: its query, its response, or both.
fn messages_of(record: &Record) -> u64 {
    u64::from(!record.query.is_empty()) + u64::from(!record.response.is_empty())
}

/// Appends the record's messages to `out` as data frames: `AUTH_QUERY` with the query as
/// received, `AUTH_RESPONSE` with the response as sent, each with the client's address and
/// port, the transport and the times. The record's octets are lent to the message and taken
/// back, so nothing is copied or allocated once the buffers have grown.
fn encode(template: &mut Dnstap, record: &mut Record, logged: Logged, out: &mut Vec<u8>) {
    let Some(message) = template.message.as_mut() else { return };
    let ip = record.client.ip().to_canonical();
    let address = message.query_address.get_or_insert_default();
    address.clear();
    match ip {
        std::net::IpAddr::V4(v4) => address.extend_from_slice(&v4.octets()),
        std::net::IpAddr::V6(v6) => address.extend_from_slice(&v6.octets()),
    }
    message.socket_family = Some(if ip.is_ipv4() { SocketFamily::Inet } else { SocketFamily::Inet6 } as i32);
    let protocol = if record.protocol == Protocol::Udp { SocketProtocol::Udp } else { SocketProtocol::Tcp };
    message.socket_protocol = Some(protocol as i32);
    message.query_port = Some(u32::from(record.client.port()));
    message.query_time_sec = Some(record.query_time.as_secs());
    message.query_time_nsec = Some(record.query_time.subsec_nanos());
    if logged.queries && !record.query.is_empty() {
        message.r#type = MessageType::AuthQuery as i32;
        message.query_message = Some(std::mem::take(&mut record.query));
        frame(template, out);
        if let Some(query) = template.message.as_mut().and_then(|m| m.query_message.take()) {
            record.query = query;
        }
    }
    let Some(message) = template.message.as_mut() else { return };
    if !record.response.is_empty() {
        message.r#type = MessageType::AuthResponse as i32;
        message.response_time_sec = Some(record.response_time.as_secs());
        message.response_time_nsec = Some(record.response_time.subsec_nanos());
        message.response_message = Some(std::mem::take(&mut record.response));
        frame(template, out);
        if let Some(message) = template.message.as_mut() {
            record.response = message.response_message.take().unwrap_or_default();
            message.response_time_sec = None;
            message.response_time_nsec = None;
        }
    }
}

/// Appends `message` as one data frame.
fn frame(message: &Dnstap, out: &mut Vec<u8>) {
    let len = message.encoded_len();
    frames::write_data(len as u32, out);
    let _ = message.encode(out); // a Vec grows: it never runs out of room
}

/// The writer's clock, for its backoff: an edge.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}
