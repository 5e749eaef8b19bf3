//! Sockets: binds, per listen address, `workers` UDP sockets (sharing the address with
//! `SO_REUSEPORT`) and a TCP listener; a UDP thread per socket (`udp.rs`) serves the former, our TCP server (`tcp.rs`, RFC 7766, with connection
//! limits and timeouts) the latter. Makes sure the process may open the file descriptors the
//! TCP limits need.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use super::pipeline::Answerer;
use super::{tcp, udp};
use crate::config::ServerConfig;
use crate::metrics::Observers;
use crate::snapshot::SnapshotStore;

/// Attempts at finding a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;

/// `workers` UDP sockets sharing one address with `SO_REUSEPORT` (each gets a thread of its
/// own), and a TCP listener on the same address.
pub struct Listener {
    pub udp: Vec<std::net::UdpSocket>,
    pub tcp: TcpListener,
}

impl Listener {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Binds every address, with `workers` UDP sockets each. Port 0 picks one port free for both
/// protocols. An IPv6 address the machine does not have is skipped with a warning, as long as
/// another address is bound.
///
/// # Errors
/// An address that cannot be bound (in use, no permission), or none bound at all.
pub async fn bind(addrs: &[SocketAddr], workers: usize) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for &addr in addrs {
        match bind_one(addr, workers).await {
            Ok(listener) => listeners.push(listener),
            Err(e) if addr.is_ipv6() && is_missing_address(&e) => {
                warn!(%addr, error = %e, "IPv6 address not available here; not listening on it");
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))),
        }
    }
    if listeners.is_empty() {
        return Err(io::Error::new(io::ErrorKind::AddrNotAvailable, "no listen address could be bound"));
    }
    Ok(listeners)
}

fn is_missing_address(e: &io::Error) -> bool {
    // EAFNOSUPPORT has no ErrorKind of its own.
    e.kind() == io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(97)
}

async fn bind_one(addr: SocketAddr, workers: usize) -> io::Result<Listener> {
    let mut last_error = None;
    let attempts = if addr.port() == 0 { PORT_ATTEMPTS } else { 1 };
    for _ in 0..attempts {
        let first = udp::bind_reuse_port(addr)?;
        let bound = first.local_addr()?;
        match listen_tcp(bound) {
            Ok(tcp) => {
                let mut sockets = vec![first];
                for _ in 1..workers {
                    sockets.push(udp::bind_reuse_port(bound)?);
                }
                return Ok(Listener { udp: sockets, tcp });
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

/// Connections the kernel completes and queues for the accept loop before it drops new SYNs.
/// tokio's default (1,024) overflowed when clients connected faster than the loop accepted
/// for a moment (`TcpExtListenOverflows`), and each dropped SYN cost its client a one-second
/// retransmission; the kernel caps this at `net.core.somaxconn` (4,096 since Linux 5.4).
const TCP_BACKLOG: u32 = 4096;

/// The TCP listener on `addr`, as `TcpListener::bind` makes it (`SO_REUSEADDR`) but with a
/// backlog of [`TCP_BACKLOG`].
fn listen_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(TCP_BACKLOG)
}

/// File descriptors the process needs beside TCP connections: listeners, UDP sockets, the
/// API's connections, health probes, zone files, the geo database, logs.
const OTHER_FILES: u64 = 256;

/// Raises the soft limit on open files to the hard limit when the TCP limits need more than
/// it allows (the usual soft limit is 1,024); warns when even the hard limit is short, since
/// accepting then fails with "too many open files" before `tcp_max_connections` is reached.
/// An edge: reads and sets the process's limits.
pub fn raise_fd_limit(server: &ServerConfig) {
    let sockets = server.listen.len() as u64 * (server.workers as u64 + 1);
    let needed = server.tcp.max_connections as u64 + sockets + OTHER_FILES;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= needed {
        return;
    }
    if limit.rlim_max > limit.rlim_cur {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit reads one rlimit; raising the soft limit up to the hard one
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            info!(from = limit.rlim_cur, to = raised.rlim_cur, "raised the open-files limit for the TCP limits");
            limit = raised;
        }
    }
    if limit.rlim_cur < needed {
        warn!(
            limit = limit.rlim_cur,
            needed,
            "the open-files limit is below what tcp_max_connections needs; raise it (LimitNOFILE= \
             under systemd, ulimit -n) or lower server.tcp_max_connections"
        );
    }
}

/// The DNS server: UDP workers and our TCP server, and the dnstap writer they log to.
pub struct DnsServer {
    tcp: tcp::TcpServer,
    udp: udp::Workers,
    dnstap: Option<crate::dnstap::Writer>,
}

/// Starts serving on the bound listeners, with the dnstap writer when the snapshot's
/// configuration has `[dnstap]` (it connects as the process is now: after root was dropped).
///
/// # Errors
/// A UDP worker cannot be started.
pub fn serve(listeners: Vec<Listener>, store: Arc<SnapshotStore>, observers: Observers) -> io::Result<DnsServer> {
    let metrics = observers.metrics.clone();
    let config = store.load().config.clone();
    let (tap, dnstap) = match &config.dnstap {
        Some(settings) => {
            let identity = settings
                .identity
                .clone()
                .unwrap_or_else(|| crate::dnstap::default_identity(config.server.identity.as_deref()));
            let (tap, writer) = crate::dnstap::Tap::new(settings, &identity, metrics.clone());
            (Some(tap), Some(writer))
        }
        None => (None, None),
    };
    let answerer = Arc::new(Answerer::new(observers).with_tap(tap));
    let (mut sockets, mut tcp_listeners) = (Vec::new(), Vec::new());
    for Listener { udp, tcp } in listeners {
        sockets.extend(udp);
        tcp_listeners.push(tcp);
    }
    let udp = udp::start(sockets, store.clone(), answerer.clone())?;
    let tcp = tcp::start(tcp_listeners, store, answerer, metrics);
    Ok(DnsServer { tcp, udp, dnstap })
}

impl DnsServer {
    /// Stops accepting, lets in-flight queries finish and closes every connection.
    pub async fn shutdown_gracefully(&mut self) {
        let udp = std::mem::replace(&mut self.udp, udp::Workers::none());
        let stopped = tokio::task::spawn_blocking(move || udp.stop());
        self.tcp.stop().await;
        let _ = stopped.await;
        // Last: what the answers of the draining connections logged goes out before STOP.
        if let Some(writer) = self.dnstap.take() {
            let _ = tokio::task::spawn_blocking(move || writer.stop()).await;
        }
    }
}
