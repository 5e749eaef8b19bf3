//! The API's listener: accepts connections, speaks TLS when configured, and serves each with
//! hyper's HTTP/1.1 under limits that keep one client from wearing the API down.
//!
//! - at most `max_connections` at once, and `max_connections_per_client` from one address (an
//!   IPv6 client by its /64): a connection beyond either is closed as it arrives, so one
//!   client cannot take every connection and lock the operators out;
//! - a request head (request line and headers) above `max_header_bytes`, or with more than
//!   hyper's 100 headers, gets 431 and the connection is closed;
//! - a client has `header_timeout` to finish a TLS handshake and each request head; hyper
//!   starts that clock whenever it waits for a head, so it is also the idle timeout of a
//!   kept-alive connection, and a slow-loris client is cut off;
//! - a request has `request_timeout` from its head to its answer (body and handler), else 408.
//!
//! Bodies are limited by the router (`DefaultBodyLimit`, chunked or not). Each request
//! carries the client's address as a [`Client`] extension, for the failed-authentication limit.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use tracing::{debug, warn};

use super::ApiError;
use crate::clients::{self, PerClient};
use crate::config::ApiLimits;
use crate::control::load::ApiCredentials;

/// The address a request came from, in its extensions.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub SocketAddr);

/// What every connection is served with.
struct Serving {
    router: Router,
    /// Over TLS: the certificate and key in force when a connection arrives.
    tls: Option<ApiCredentials>,
    http: http1::Builder,
    header_timeout: Duration,
    request_timeout: Duration,
    cancel: CancellationToken,
}

/// Accepts connections until `cancel`, then lets each finish its request in flight.
pub async fn run(
    listener: TcpListener,
    router: Router,
    tls: Option<ApiCredentials>,
    limits: ApiLimits,
    cancel: CancellationToken,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes)
        // hyper refuses a read buffer under 8 KiB; above the head limit, a buffer only holds
        // body bytes on their way to the handler.
        .max_buf_size(limits.max_header_bytes.max(8_192));
    let serving = Arc::new(Serving {
        router,
        tls,
        http,
        header_timeout: limits.header_timeout,
        request_timeout: limits.request_timeout,
        cancel: cancel.clone(),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(Mutex::new(PerClient::default()));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: wait a little rather than spin.
                warn!(%error, "admin API: cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(own) = ClientSlot::take(&per_client, client.ip(), limits.max_connections_per_client) else {
            debug!(%client, max = limits.max_connections_per_client, "admin API: too many connections from one client; closing a new one");
            continue; // dropping the stream closes it
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!(%client, max = limits.max_connections, "admin API: too many connections; closing a new one");
            continue;
        };
        tokio::spawn(serve_connection(stream, client, (slot, own), serving.clone()));
    }
}

/// One connection counted against its client's share, given back when dropped.
struct ClientSlot {
    counts: Arc<Mutex<PerClient>>,
    client: IpAddr,
}

impl ClientSlot {
    /// Counts a connection from `address`, unless its client already holds `max`.
    fn take(counts: &Arc<Mutex<PerClient>>, address: IpAddr, max: usize) -> Option<Self> {
        let client = clients::key(address);
        let mut held = lock(counts);
        if held.held(client) >= max {
            return None;
        }
        held.add(client);
        Some(Self { counts: counts.clone(), client })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        lock(&self.counts).remove(self.client);
    }
}

/// A count is whole after each section, so a poisoned lock is used as it is.
fn lock(counts: &Mutex<PerClient>) -> std::sync::MutexGuard<'_, PerClient> {
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn serve_connection(
    stream: TcpStream,
    client: SocketAddr,
    _slots: (OwnedSemaphorePermit, ClientSlot),
    serving: Arc<Serving>,
) {
    let _ = stream.set_nodelay(true);
    let Some(config) = serving.tls.as_ref().and_then(|credentials| credentials.load().tls.clone()) else {
        return serve_http(stream, client, &serving).await;
    };
    let tls = TlsAcceptor::from(config);
    match tokio::time::timeout(serving.header_timeout, tls.accept(stream)).await {
        Ok(Ok(stream)) => serve_http(stream, client, &serving).await,
        Ok(Err(error)) => debug!(%client, %error, "admin API: TLS handshake failed"),
        Err(_) => debug!(%client, "admin API: TLS handshake timed out"),
    }
}

async fn serve_http<S>(stream: S, client: SocketAddr, serving: &Serving)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (router, request_timeout) = (serving.router.clone(), serving.request_timeout);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(Client(client));
        let mut router = router.clone();
        async move {
            let answer = tokio::time::timeout(request_timeout, router.call(request)).await;
            Ok::<_, Infallible>(match answer {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => timed_out(),
            })
        }
    });
    let connection = serving.http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = serving.cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = served {
        // Timeouts, oversized heads, clients gone: theirs to fix, so not above debug.
        debug!(%client, %error, "admin API: connection ended");
    }
}

/// 408, and the connection closed: the rest of a slow body is not worth waiting for.
fn timed_out() -> Response {
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request was not complete and answered within api.request_timeout_secs",
        None,
    )
    .into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
