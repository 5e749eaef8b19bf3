//! UDP without a task per request: each listen address has `workers` sockets (bound with
//! `SO_REUSEPORT`, so the kernel spreads clients over them), and each socket has a thread of
//! its own, which receives a batch of datagrams with one `recvmmsg`, answers each through the
//! pipeline (`pipeline.rs`) from one snapshot into buffers it reuses, and sends the answers
//! with `sendmmsg`. One answer the kernel refuses to send is counted and skipped; the rest of
//! the batch still goes out.
//!
//! hickory's UDP server receives one datagram per syscall, copies it, spawns a task per
//! request and returns the response through a channel; this loop does none of that. TCP has
//! its own server (`tcp.rs`).

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tracing::{debug, warn};

use super::pipeline::{Answerer, Salts};
use crate::metrics::Dropped;
use crate::snapshot::{Snapshot, SnapshotStore};

/// Datagrams received (and answered) per system call.
const BATCH: usize = 32;
/// The largest query we read; anything longer is cut short by the kernel and dropped (a
/// query is a header, one question and an OPT record: a few hundred octets at most).
const MAX_QUERY: usize = 4096;
/// The largest response we send (RFC 6891: no client may ask for more than 65535).
const MAX_RESPONSE: usize = 65_535;
/// How often a blocked worker wakes to see whether it should stop.
const WAKE: Duration = Duration::from_millis(100);

/// The UDP workers: one thread per socket.
pub struct Workers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// The workers' sockets, to wake them when stopping (their threads own them).
    fds: Vec<std::os::fd::RawFd>,
}

/// Starts a worker thread per socket.
///
/// # Errors
/// A socket option cannot be set or a thread cannot be spawned.
pub fn start(sockets: Vec<UdpSocket>, store: Arc<SnapshotStore>, answerer: Arc<Answerer>) -> io::Result<Workers> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::with_capacity(sockets.len());
    let fds = sockets.iter().map(AsRawFd::as_raw_fd).collect();
    for (i, socket) in sockets.into_iter().enumerate() {
        socket.set_read_timeout(Some(WAKE))?;
        let (store, answerer, stop) = (store.clone(), answerer.clone(), stop.clone());
        let thread = thread::Builder::new()
            .name(format!("meridian-udp-{i}"))
            .spawn(move || serve(&socket, &store, &answerer, &stop, i as u64))?;
        threads.push(thread);
    }
    Ok(Workers { stop, threads, fds })
}

impl Workers {
    /// No workers (what is left once they are stopped).
    pub fn none() -> Self {
        Self { stop: Arc::new(AtomicBool::new(true)), threads: Vec::new(), fds: Vec::new() }
    }

    /// Stops every worker: each finishes the batch in hand and exits within [`WAKE`].
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for &fd in &self.fds {
            // Wakes a worker blocked in recvmmsg at once (Linux returns 0 after SHUT_RD); the
            // socket stays open until its thread drops it.
            // SAFETY: the fd belongs to a socket its worker thread still holds.
            unsafe { libc::shutdown(fd, libc::SHUT_RD) };
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Buffers for one batch, reused from batch to batch.
struct Batch {
    queries: Vec<[u8; MAX_QUERY]>,
    responses: Vec<Vec<u8>>,
    addresses: Vec<libc::sockaddr_storage>,
    recv_iov: Vec<libc::iovec>,
    recv_headers: Vec<libc::mmsghdr>,
    send_iov: Vec<libc::iovec>,
    send_headers: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new() -> Self {
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which all
        // zeroes is a valid value.
        let zeroed = || unsafe { MaybeUninit::<libc::sockaddr_storage>::zeroed().assume_init() };
        Self {
            queries: vec![[0; MAX_QUERY]; BATCH],
            responses: (0..BATCH).map(|_| Vec::with_capacity(MAX_RESPONSE)).collect(),
            addresses: (0..BATCH).map(|_| zeroed()).collect(),
            recv_iov: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            recv_headers: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            send_iov: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            send_headers: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
        }
    }

    /// Points the receive headers at the query buffers and address slots.
    fn arm(&mut self) {
        for i in 0..BATCH {
            self.recv_iov[i] = libc::iovec { iov_base: self.queries[i].as_mut_ptr().cast(), iov_len: MAX_QUERY };
            let header = &mut self.recv_headers[i];
            header.msg_hdr.msg_name = (&raw mut self.addresses[i]).cast();
            header.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = &raw mut self.recv_iov[i];
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_control = std::ptr::null_mut();
            header.msg_hdr.msg_controllen = 0;
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
    }
}

fn serve(socket: &UdpSocket, store: &SnapshotStore, answerer: &Answerer, stop: &AtomicBool, worker: u64) {
    let fd = socket.as_raw_fd();
    let mut batch = Batch::new();
    let mut salts = answerer.salts(worker);
    while !stop.load(Ordering::Relaxed) {
        batch.arm();
        // Block for the first datagram only (MSG_WAITFORONE), then take what else is queued.
        // SAFETY: the headers point into `batch`, which outlives the call; BATCH entries.
        let received = unsafe {
            let headers = batch.recv_headers.as_mut_ptr();
            libc::recvmmsg(fd, headers, BATCH as libc::c_uint, libc::MSG_WAITFORONE, std::ptr::null_mut())
        };
        if received < 0 {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => continue,
                _ => {
                    warn!(%error, "UDP receive failed");
                    thread::sleep(WAKE);
                    continue;
                }
            }
        }
        let received = received as usize;
        if received == 0 {
            continue; // woken to stop
        }
        // One snapshot for the whole batch: each query is answered from one consistent view.
        let snapshot = store.guard();
        if received > 1 {
            let lengths = batch.recv_headers[..received].iter().map(|h| h.msg_len as usize);
            answerer.prefetch(&snapshot, batch.queries.iter().zip(lengths).map(|(q, len)| &q[..len.min(MAX_QUERY)]));
        }
        let replies = batch.answer(received, &snapshot, answerer, &mut salts);
        drop(snapshot);
        for _ in 0..send_all(fd, &mut batch.send_headers[..replies]) {
            answerer.observers().metrics.record_dropped(Dropped::SendFailed);
        }
    }
}

impl Batch {
    /// Answers the `received` datagrams into the response buffers and points a send header
    /// at each answer; returns how many there are to send.
    fn answer(&mut self, received: usize, snapshot: &Snapshot, answerer: &Answerer, salts: &mut Salts) -> usize {
        let mut replies = 0;
        for i in 0..received {
            let header = &self.recv_headers[i];
            let len = header.msg_len as usize;
            let namelen = header.msg_hdr.msg_namelen;
            // A datagram longer than our buffer was cut short: not a query we can read.
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                continue;
            }
            let Some(source) = socket_addr(&self.addresses[i]) else { continue };
            let out = &mut self.responses[replies];
            if !answerer.answer_udp(snapshot, &self.queries[i][..len], source, salts.take(), out) {
                continue;
            }
            self.send_iov[replies] = libc::iovec { iov_base: out.as_mut_ptr().cast(), iov_len: out.len() };
            let send = &mut self.send_headers[replies];
            send.msg_hdr.msg_name = (&raw mut self.addresses[i]).cast();
            send.msg_hdr.msg_namelen = namelen;
            send.msg_hdr.msg_iov = &raw mut self.send_iov[replies];
            send.msg_hdr.msg_iovlen = 1;
            send.msg_len = 0;
            replies += 1;
        }
        replies
    }
}

/// The address the kernel wrote into `storage`, if it is IPv4 or IPv6.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large
            // enough and aligned for.
            let v4 = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in>()) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*(std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>()) };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let addr = std::net::SocketAddrV6::new(ip, u16::from_be(v6.sin6_port), v6.sin6_flowinfo, v6.sin6_scope_id);
            Some(SocketAddr::V6(addr))
        }
        _ => None,
    }
}

/// Sends every prepared response and returns how many the kernel refused. `sendmmsg` stops
/// at the first datagram it cannot send: it returns how many went before it (that error is
/// lost, sendmmsg(2)), and the next call, starting there, fails with it. That datagram (an
/// unreachable source, say) is skipped, as a lost UDP answer would be, and the rest of the
/// batch is sent on.
fn send_all(fd: i32, headers: &mut [libc::mmsghdr]) -> usize {
    let (mut at, mut failed) = (0, 0);
    while at < headers.len() {
        let left = &mut headers[at..];
        // SAFETY: the headers point into the batch's buffers, alive for the call.
        let sent = unsafe { libc::sendmmsg(fd, left.as_mut_ptr(), left.len() as libc::c_uint, 0) };
        match usize::try_from(sent) {
            Ok(sent) if sent > 0 => at += sent,
            _ => {
                let error = io::Error::last_os_error();
                if sent < 0 && error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                debug!(%error, "UDP send failed; skipping a response");
                at += 1;
                failed += 1;
            }
        }
    }
    failed
}

/// A UDP socket bound to `addr` with `SO_REUSEPORT`, so that each worker can have its own.
///
/// # Errors
/// The address cannot be bound.
pub fn bind_reuse_port(addr: SocketAddr) -> io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A send header for `payload` to `to`, with the storage it points into.
    fn header(to: SocketAddr, payload: &mut [u8]) -> (libc::mmsghdr, Box<libc::sockaddr_storage>, Box<libc::iovec>) {
        let storage: socket2::SockAddr = to.into();
        // SAFETY: all zeroes is a valid sockaddr_storage and mmsghdr.
        let mut address: Box<libc::sockaddr_storage> = Box::new(unsafe { mem::zeroed() });
        // SAFETY: SockAddr holds at most a sockaddr_storage's worth, of its stated length.
        unsafe {
            std::ptr::copy_nonoverlapping(
                storage.as_ptr().cast::<u8>(),
                (&raw mut *address).cast::<u8>(),
                storage.len() as usize,
            )
        };
        let mut iov = Box::new(libc::iovec { iov_base: payload.as_mut_ptr().cast(), iov_len: payload.len() });
        let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
        header.msg_hdr.msg_name = (&raw mut *address).cast();
        header.msg_hdr.msg_namelen = storage.len();
        header.msg_hdr.msg_iov = &raw mut *iov;
        header.msg_hdr.msg_iovlen = 1;
        (header, address, iov)
    }

    #[test]
    fn one_unsendable_datagram_does_not_cost_the_rest_of_the_batch() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let receivers: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for r in &receivers {
            r.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let to = |i: usize| receivers[i].local_addr().unwrap();
        // Port 0 (EINVAL) and an IPv6 address on an IPv4 socket cannot be sent to; each sits
        // between datagrams that can.
        let destinations = [to(0), "127.0.0.1:0".parse().unwrap(), to(1), "[::1]:53".parse().unwrap(), to(2)];
        let mut payloads: Vec<[u8; 1]> = (0..destinations.len() as u8).map(|i| [i]).collect();
        let mut held = Vec::new();
        let mut headers: Vec<libc::mmsghdr> = Vec::new();
        for (to, payload) in destinations.iter().zip(payloads.iter_mut()) {
            let (header, address, iov) = header(*to, payload);
            headers.push(header);
            held.push((address, iov));
        }
        assert_eq!(send_all(sender.as_raw_fd(), &mut headers), 2, "two refused, counted");
        for (receiver, expected) in receivers.iter().zip([0u8, 2, 4]) {
            let mut buf = [0u8; 4];
            let (len, _) = receiver.recv_from(&mut buf).expect("the datagram after a refused one went out");
            assert_eq!(&buf[..len], &[expected]);
        }
    }
}
