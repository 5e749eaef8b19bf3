//! Sockets: binds UDP sockets (one per worker) and a TCP listener per listen address; the UDP
//! workers (`udp.rs`) serve the former, hickory's `Server` frames TCP (RFC 7766) and runs our
//! handler on the latter.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::TcpListener;
use tracing::warn;

use super::handler::{Answerer, Handler};
use super::udp;
use crate::metrics::Observers;
use crate::snapshot::SnapshotStore;

/// Responses queued per TCP connection before its reader waits.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts at finding a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;

/// UDP sockets (one per worker, sharing the address with `SO_REUSEPORT`) and a TCP listener
/// on the same address.
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
        match TcpListener::bind(bound).await {
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

/// The DNS server: UDP workers and hickory's TCP server.
pub struct DnsServer {
    tcp: Server<Handler>,
    udp: udp::Workers,
}

/// Starts serving on the bound listeners.
///
/// # Errors
/// A UDP worker cannot be started.
pub fn serve(
    listeners: Vec<Listener>,
    store: Arc<SnapshotStore>,
    observers: Observers,
    tcp_idle_timeout: Duration,
) -> io::Result<DnsServer> {
    let answerer = Arc::new(Answerer::new(observers));
    let mut tcp = Server::new(Handler::new(store.clone(), answerer.clone()));
    let mut sockets = Vec::new();
    for Listener { udp, tcp: listener } in listeners {
        sockets.extend(udp);
        tcp.register_listener(listener, tcp_idle_timeout, TCP_RESPONSE_BUFFER);
    }
    let udp = udp::start(sockets, store, answerer)?;
    Ok(DnsServer { tcp, udp })
}

impl DnsServer {
    /// Stops accepting, lets in-flight queries finish; the error of a TCP listener that failed.
    ///
    /// # Errors
    /// A TCP listener failed while stopping.
    pub async fn shutdown_gracefully(&mut self) -> Result<(), String> {
        let udp = std::mem::replace(&mut self.udp, udp::Workers::none());
        let stopped = tokio::task::spawn_blocking(move || udp.stop());
        let tcp = self.tcp.shutdown_gracefully().await.map_err(|e| e.to_string());
        let _ = stopped.await;
        tcp
    }
}
