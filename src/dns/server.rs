//! Sockets: binds a UDP socket and a TCP listener per listen address and hands them to
//! hickory's `Server`, which frames TCP (RFC 7766) and runs our handler.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tracing::warn;

use super::handler::Handler;
use crate::metrics::Observers;
use crate::snapshot::SnapshotStore;

/// Responses queued per TCP connection before its reader waits.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts at finding a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;

/// A UDP socket and a TCP listener on the same address.
pub struct Listener {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

impl Listener {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// Binds every address. Port 0 picks one port free for both protocols. An IPv6 address the
/// machine does not have is skipped with a warning, as long as another address is bound.
///
/// # Errors
/// An address that cannot be bound (in use, no permission), or none bound at all.
pub async fn bind(addrs: &[SocketAddr]) -> io::Result<Vec<Listener>> {
    let mut listeners = Vec::new();
    for &addr in addrs {
        match bind_one(addr).await {
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

async fn bind_one(addr: SocketAddr) -> io::Result<Listener> {
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await?;
        let tcp = TcpListener::bind(addr).await?;
        return Ok(Listener { udp, tcp });
    }
    let mut last_error = None;
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok(Listener { udp, tcp }),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
}

/// Starts serving on the bound listeners.
pub fn serve(
    listeners: Vec<Listener>,
    store: Arc<SnapshotStore>,
    observers: Observers,
    tcp_idle_timeout: Duration,
) -> Server<Handler> {
    let mut server = Server::new(Handler::new(store, observers));
    for Listener { udp, tcp } in listeners {
        server.register_socket(udp);
        server.register_listener(tcp, tcp_idle_timeout, TCP_RESPONSE_BUFFER);
    }
    server
}
