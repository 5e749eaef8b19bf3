//! Probes: one TCP connect or HTTP(S) request to a target, with a deadline. An edge: this
//! reads the clock and talks to the network; what it returns feeds the pure state machine.
//!
//! A health target is run by someone else and may answer anything, so every read from it is
//! bounded (issue 15, where an endless body with `body = "ok"` took 2.2 GB):
//! - the whole probe, connect to last byte, ends within the check's `timeout`;
//! - the response head (status line and headers) within [`MAX_HEAD_BYTES`] and
//!   [`MAX_HEADERS`] fields, else the probe fails;
//! - the body is read only for a `body` check, and then only until `body` is found or
//!   `max_body_bytes` have been read: a longer body is judged on its first `max_body_bytes`,
//!   as HAProxy's `http-check expect string` looks only in its check buffer and Envoy's
//!   `receive` payload match in its `response_buffer_size`;
//! - HTTP/1.1 only, no redirects followed (a 3xx is judged by `expect` like any status, as
//!   HAProxy and Envoy do), no proxy, no decompression, one connection per probe.

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, HOST, USER_AGENT as USER_AGENT_HEADER};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::state::Observation;
use super::table::Target;
use crate::config::load::LoadRead;
use crate::config::names::{shown, shown_duration};
use crate::config::{CheckConfig, CheckKind};

/// The `User-Agent` of every HTTP probe.
pub const USER_AGENT: &str = concat!("meridian/", env!("CARGO_PKG_VERSION"));

/// The most bytes a response head may take: hyper's read buffer limit, which a head must fit
/// in whole (hyper's own default is about 400 KiB; its minimum, 8 KiB). A health answer's
/// head is a few hundred bytes; 16 KiB is the admin API's own limit and HAProxy's default
/// `tune.bufsize`.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most header fields a response may have (hyper's default, set here so it is stated).
pub const MAX_HEADERS: usize = 100;

/// One probe's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    pub observation: Observation,
    pub rtt: Duration,
    /// What was seen: "HTTP 503", "connection refused", "timed out after 2s"...
    pub detail: String,
    /// The load read with it (the value as read, before division by capacity), or why none
    /// could be read; `None` when the check reads no load.
    pub load: Option<Result<f64, String>>,
}

/// Why a prober could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the TLS client for {target}: {source}")]
pub struct ProbeError {
    target: String,
    source: rustls::Error,
}

/// The most addresses of a name endpoint probed: a load balancer's name resolves to a few.
pub const MAX_RESOLVED: usize = 4;

/// Probes one target again and again.
pub struct Prober {
    target: Target,
    /// A name endpoint's name to resolve at each probe (without its final dot), when its
    /// check names no address.
    resolve: Option<String>,
    http: Option<Http>,
}

/// What an HTTP(S) probe sends, and where, prepared once.
struct Http {
    /// The connector and the name for SNI and verification; `Err` if `host` is no valid name,
    /// which fails each probe rather than the whole server.
    tls: Option<(TlsConnector, Result<ServerName<'static>, String>)>,
    method: Method,
    /// The `Host` header: `host`, or the address, with the port unless it is the scheme's.
    host: String,
    path: String,
}

/// What a probe saw: passed or not, the status if an answer came, and a description.
type Outcome = (bool, Option<u16>, String);

impl Prober {
    /// # Errors
    /// The TLS client cannot be built (the platform's root certificates).
    pub fn new(target: Target) -> Result<Self, ProbeError> {
        let check = &target.check;
        let socket = SocketAddr::new(target.address, check.port);
        // A name goes out without its final dot: as `Host` (RFC 9110 section 7.2), as SNI (RFC
        // 6066 section 3: "The hostname is represented ... without a trailing dot"), and to the
        // system resolver, whose hosts file knows `localhost` but not `localhost.`.
        let name = target.name.as_ref().map(|n| n.to_ascii().trim_end_matches('.').to_owned());
        let http = match check.kind {
            CheckKind::Tcp => None,
            CheckKind::Http => Some(Http::new(check, socket, None, name.as_deref())),
            CheckKind::Https => {
                let config = tls_config(check.verify_tls)
                    .map_err(|source| ProbeError { target: format!("{socket}{}", check.path), source })?;
                Some(Http::new(check, socket, Some(TlsConnector::from(config)), name.as_deref()))
            }
        };
        let resolve = name.filter(|_| check.address.is_none());
        Ok(Self { target, resolve, http })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs one probe, from connect to last byte within the check's `timeout`.
    #[allow(clippy::disallowed_methods)] // a probe measures its round trip on the real clock
    pub async fn probe(&self) -> ProbeResult {
        let started = Instant::now();
        let check = &self.target.check;
        let mut load = None;
        let exchange = async {
            match &self.resolve {
                None => self.exchange(self.target.address, &mut load).await,
                Some(name) => self.exchange_resolved(name, &mut load).await,
            }
        };
        let (ok, status, detail) = tokio::time::timeout(check.timeout, exchange)
            .await
            .unwrap_or_else(|_| (false, None, format!("timed out after {}", shown_duration(check.timeout))));
        let rtt = started.elapsed();
        let in_ranges = |ranges: &[(u16, u16)], code: u16| ranges.iter().any(|(a, b)| (*a..=*b).contains(&code));
        let observation = match status {
            _ if !ok => Observation::Failed,
            Some(code) if in_ranges(&check.degraded_status, code) => Observation::Degraded,
            _ if check.degraded_rtt.is_some_and(|limit| rtt > limit) => Observation::Degraded,
            _ => Observation::Ok,
        };
        if let Some(LoadRead::Prometheus { url, metric }) = &check.load {
            // A page of its own, fetched with the check: it has its own `timeout`.
            let fetched =
                tokio::time::timeout(check.timeout, super::load_read::scrape(url, metric, check.source)).await;
            load =
                Some(fetched.unwrap_or_else(|_| {
                    Err(format!("{} not read within {}", url.text, shown_duration(check.timeout)))
                }));
        } else if check.load.is_some() && load.is_none() && ok {
            load = Some(Err("the answer carried no load".into()));
        }
        ProbeResult { observation, rtt, detail, load }
    }
}

impl Prober {
    /// One exchange with one address.
    async fn exchange(&self, address: IpAddr, load: &mut Option<Result<f64, String>>) -> Outcome {
        let check = &self.target.check;
        let socket = SocketAddr::new(address, check.port);
        match &self.http {
            None => tcp(socket, check.source).await,
            Some(http) => http.exchange(socket, check, load).await,
        }
    }

    /// A name endpoint: resolves `name` through the system resolver now (so a provider's
    /// changes of address are followed at each interval), then probes its first
    /// [`MAX_RESOLVED`] addresses in turn, until one passes. The name is up when any of them
    /// is: its provider takes its own dead addresses out of the name's answers, and a client
    /// retries the next address; down when none is, or the name resolves to none.
    async fn exchange_resolved(&self, name: &str, load: &mut Option<Result<f64, String>>) -> Outcome {
        let addresses: Vec<IpAddr> = match tokio::net::lookup_host((name, self.target.check.port)).await {
            Ok(found) => found.map(|s| s.ip()).take(MAX_RESOLVED).collect(),
            Err(e) => return (false, None, format!("cannot resolve {name}: {e}")),
        };
        if addresses.is_empty() {
            return (false, None, format!("{name} resolves to no address"));
        }
        let mut failures = Vec::new();
        for address in addresses {
            let (ok, status, detail) = self.exchange(address, load).await;
            if ok {
                return (ok, status, format!("{detail} from {address} ({name})"));
            }
            failures.push(format!("{address}: {detail}"));
        }
        (false, None, format!("{name}: {}", failures.join("; ")))
    }
}

/// A TCP connection to `addr`, from `source` when given (`server.probe_source`).
async fn connect(addr: SocketAddr, source: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(source) = source else { return TcpStream::connect(addr).await };
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

async fn tcp(addr: SocketAddr, source: Option<std::net::IpAddr>) -> Outcome {
    match connect(addr, source).await {
        Ok(_) => (true, None, "connected".into()), // closed at once: nothing is read
        Err(e) => (false, None, e.to_string()),
    }
}

impl Http {
    /// `endpoint_name`: a name endpoint's name, the `Host` and SNI unless `host` is set.
    fn new(check: &CheckConfig, socket: SocketAddr, tls: Option<TlsConnector>, endpoint_name: Option<&str>) -> Self {
        let host_name = check.host.clone().or_else(|| endpoint_name.map(str::to_owned));
        let name = host_name.clone().unwrap_or_else(|| match socket.ip() {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        });
        let default_port = if tls.is_some() { 443 } else { 80 };
        let host = if check.port == default_port { name } else { format!("{name}:{}", check.port) };
        // SNI carries `host`; without one, the address (rustls then sends no SNI, RFC 6066
        // section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName").
        let server_name = match &host_name {
            Some(host) => ServerName::try_from(host.clone()).map_err(|e| format!("host {}: {e}", shown(host))),
            None => Ok(ServerName::from(socket.ip())),
        };
        Self {
            tls: tls.map(|connector| (connector, server_name)),
            // Validated: one of GET, HEAD, POST, OPTIONS.
            method: Method::from_bytes(check.method.as_bytes()).unwrap_or(Method::GET),
            host,
            path: check.path.clone(),
        }
    }

    /// Connects (always to the target's address, whatever `host` says), shakes hands over TLS
    /// for `https`, and asks.
    async fn exchange(
        &self,
        socket: SocketAddr,
        check: &CheckConfig,
        load: &mut Option<Result<f64, String>>,
    ) -> Outcome {
        let stream = match connect(socket, check.source).await {
            Ok(stream) => stream,
            Err(e) => return (false, None, e.to_string()),
        };
        let _ = stream.set_nodelay(true); // the request goes out in one write anyway
        let Some((connector, name)) = &self.tls else {
            return self.ask(TokioIo::new(stream), check, load).await;
        };
        let name = match name {
            Ok(name) => name.clone(),
            Err(e) => return (false, None, e.clone()),
        };
        match connector.connect(name, stream).await {
            Ok(stream) => self.ask(TokioIo::new(stream), check, load).await,
            Err(e) => (false, None, format!("TLS: {e}")),
        }
    }

    /// Sends the request over a fresh HTTP/1.1 connection and judges the answer.
    async fn ask<T>(&self, io: T, check: &CheckConfig, load: &mut Option<Result<f64, String>>) -> Outcome
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut builder = http1::Builder::new();
        builder.max_buf_size(MAX_HEAD_BYTES).max_headers(MAX_HEADERS);
        let (mut sender, connection) = match builder.handshake::<T, String>(io).await {
            Ok(parts) => parts,
            Err(e) => return (false, None, describe(&e)),
        };
        // The connection is driven inside this probe, not on a task of its own, so that the
        // probe's timeout drops it and its socket: nothing of a probe outlives it.
        let driven = async {
            let _ = connection.await;
            std::future::pending::<Outcome>().await // the answer's body may still be queued
        };
        let request = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header(HOST, &self.host)
            .header(USER_AGENT_HEADER, USER_AGENT)
            .header(CONNECTION, "close")
            .body(String::new());
        let request = match request {
            Ok(request) => request,
            Err(e) => return (false, None, format!("cannot send {} {}: {e}", self.method, shown(&self.path))),
        };
        let answered = async {
            match sender.send_request(request).await {
                Ok(response) => judge(response, check, load).await,
                Err(e) => (false, None, describe(&e)),
            }
        };
        tokio::select! {
            outcome = answered => outcome,
            outcome = driven => outcome,
        }
    }
}

/// Judges an answer on its status and, for a `body` check, its first `max_body_bytes`; reads
/// the load from it when the check says where.
async fn judge(
    response: hyper::Response<Incoming>,
    check: &CheckConfig,
    load: &mut Option<Result<f64, String>>,
) -> Outcome {
    let code = response.status().as_u16();
    let expected = check.expect.iter().any(|(a, b)| (*a..=*b).contains(&code));
    match &check.load {
        Some(LoadRead::Header(name)) => *load = Some(super::load_read::from_header(response.headers(), name)),
        Some(LoadRead::Json(pointer)) if expected => return judge_json(response, check, pointer, load).await,
        _ => {}
    }
    let degraded = check.degraded_status.iter().any(|(a, b)| (*a..=*b).contains(&code));
    if !expected {
        // A degraded status (429...) is up but degraded; its body is not what `body` expects.
        return (degraded, Some(code), format!("HTTP {code}"));
    }
    let Some(needle) = &check.body else {
        return (true, Some(code), format!("HTTP {code}")); // the body is never read
    };
    let mut scan = BodyScan::new(needle.as_bytes(), check.max_body_bytes);
    match scan_body(response.into_body(), &mut scan).await {
        Ok(Scan::Found) => (true, Some(code), format!("HTTP {code}")),
        Ok(Scan::Searching) => (false, Some(code), format!("HTTP {code}, body without {}", shown(needle))),
        Ok(Scan::LimitReached) => (
            false,
            Some(code),
            format!("HTTP {code}, no {} in the first {} bytes of the body", shown(needle), check.max_body_bytes),
        ),
        Err(e) => (false, Some(code), format!("HTTP {code}, body: {}", describe(&e))),
    }
}

/// Judges an expected answer whose body carries the load as JSON: the body is read whole, up
/// to `max_body_bytes` (a longer one gives no load, and is judged on those first bytes), then
/// searched for `body` and parsed.
async fn judge_json(
    response: hyper::Response<Incoming>,
    check: &CheckConfig,
    pointer: &str,
    load: &mut Option<Result<f64, String>>,
) -> Outcome {
    let code = response.status().as_u16();
    let (body, whole) = match super::load_read::read_body(response.into_body(), check.max_body_bytes).await {
        Ok(read) => read,
        Err(e) => {
            let e = describe(&e);
            *load = Some(Err(format!("body: {e}")));
            return (false, Some(code), format!("HTTP {code}, body: {e}"));
        }
    };
    *load = Some(if whole {
        super::load_read::from_json(&body, pointer)
    } else {
        Err(format!("the body is longer than max_body_bytes ({} bytes): no JSON read", check.max_body_bytes))
    });
    match &check.body {
        Some(needle) if !needle.is_empty() && !contains(&body, needle.as_bytes()) => {
            (false, Some(code), format!("HTTP {code}, body without {}", shown(needle)))
        }
        _ => (true, Some(code), format!("HTTP {code}")),
    }
}

/// Feeds the body to `scan` as it arrives, until it finds the needle, reaches its limit or the
/// body ends (then [`Scan::Searching`]). Nothing is kept but `scan`'s few bytes.
async fn scan_body(mut body: Incoming, scan: &mut BodyScan<'_>) -> Result<Scan, hyper::Error> {
    if scan.needle.is_empty() {
        return Ok(Scan::Found); // `body = ""`: found in any body, even none
    }
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            match scan.feed(&data) {
                Scan::Searching => {}
                done => return Ok(done),
            }
        }
    }
    Ok(Scan::Searching)
}

/// Where a [`BodyScan`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Found,
    /// Not found yet; more of the body may be read.
    Searching,
    /// Not found in the first `limit` bytes; no more may be read.
    LimitReached,
}

/// Looks for a needle in a body that arrives in pieces, over at most `limit` bytes of it. It
/// keeps the last `needle.len() - 1` bytes it saw, for a needle split between two pieces,
/// and nothing else of the body.
#[derive(Debug)]
pub struct BodyScan<'a> {
    needle: &'a [u8],
    limit: usize,
    read: usize,
    tail: Vec<u8>,
}

impl<'a> BodyScan<'a> {
    pub fn new(needle: &'a [u8], limit: usize) -> Self {
        Self { needle, limit, read: 0, tail: Vec::new() }
    }

    /// Looks at the next piece of the body, only as far as the limit allows.
    pub fn feed(&mut self, piece: &[u8]) -> Scan {
        if self.needle.is_empty() {
            return Scan::Found;
        }
        let piece = &piece[..piece.len().min(self.limit - self.read)];
        self.read += piece.len();
        let overlap = self.needle.len() - 1;
        // The seam: what was kept of earlier pieces and the start of this one, for a needle
        // split between them; then this piece itself, where it lies, with no copy.
        let mut seam = std::mem::take(&mut self.tail);
        seam.extend_from_slice(&piece[..piece.len().min(overlap)]);
        if contains(&seam, self.needle) || contains(piece, self.needle) {
            return Scan::Found;
        }
        self.tail = if piece.len() >= overlap {
            piece[piece.len() - overlap..].to_vec()
        } else {
            seam.split_off(seam.len().saturating_sub(overlap))
        };
        if self.read >= self.limit { Scan::LimitReached } else { Scan::Searching }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The TLS client: the platform's roots (as reqwest's `rustls` feature has), or, with
/// `verify_tls = false`, any certificate, though the handshake's signatures are still checked.
fn tls_config(verify: bool) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = if verify {
        Arc::new(rustls_platform_verifier::Verifier::new(provider)?)
    } else {
        Arc::new(AnyCertificate(provider))
    };
    let mut config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()]; // the probe speaks HTTP/1.1 only
    Ok(Arc::new(config))
}

/// `verify_tls = false`: accepts any certificate for any name.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn describe(e: &hyper::Error) -> String {
    if e.is_parse_too_large() {
        return format!("response head over {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} header fields");
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` in order; the result after each.
    fn scan(needle: &str, limit: usize, pieces: &[&str]) -> Vec<Scan> {
        let mut scan = BodyScan::new(needle.as_bytes(), limit);
        pieces.iter().map(|p| scan.feed(p.as_bytes())).collect()
    }

    #[test]
    fn a_body_scan_finds_the_needle_across_pieces_and_looks_no_further_than_its_limit() {
        use Scan::{Found, LimitReached, Searching};
        let cases: &[(&str, usize, &[&str], &[Scan])] = &[
            ("ok", 100, &["status: ok"], &[Found]),
            ("ok", 100, &["status: o", "k"], &[Searching, Found]),
            ("healthy", 100, &["he", "al", "t", "hy"], &[Searching, Searching, Searching, Found]),
            ("ok", 100, &["nope", "still no"], &[Searching, Searching]),
            // Judged on the first `limit` bytes: a needle past them is not seen.
            ("ok", 4, &["xxxok"], &[LimitReached]),
            ("ok", 4, &["xx", "xok"], &[Searching, LimitReached]),
            ("ok", 5, &["xxx", "okxx"], &[Searching, Found]),
            ("ok", 1, &["o", "k"], &[LimitReached, LimitReached]),
            ("", 1, &["anything"], &[Found]),
        ];
        for (needle, limit, pieces, expected) in cases {
            assert_eq!(scan(needle, *limit, pieces), *expected, "{needle:?} in {pieces:?} up to {limit}");
        }
    }

    #[test]
    fn a_body_scan_keeps_only_a_needles_worth_of_the_body() {
        let mut scan = BodyScan::new(b"needle", 1 << 20);
        for _ in 0..100 {
            assert_eq!(scan.feed(&[b'x'; 4096]), Scan::Searching);
            assert!(scan.tail.capacity() <= 2 * 5, "kept {} bytes", scan.tail.capacity());
        }
    }
}
