//! `HealthTarget`: a real HTTP server on 127.0.0.1 whose status, delay, body and headers the
//! test sets, including hostile answers: an endless body, a huge header, a redirect. It
//! records what it is asked (method, Host, User-Agent, SNI) and how many requests it holds
//! at once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

#[derive(Default)]
struct Settings {
    status: AtomicU16,
    delay_ms: AtomicU64,
    hang: AtomicBool,
    stopped: AtomicBool,
    requests: Mutex<u64>,
    /// Told of each request, for [`HealthTarget::wait_for_requests`].
    request_came: Condvar,
    body: Mutex<String>,
    /// Stream the body without end (no length; the body, then `x` until the client leaves).
    endless: AtomicBool,
    /// The size of an `x-padding` header added to each answer; 0 for none.
    header_bytes: AtomicUsize,
    /// A `location` header added to each answer.
    location: Mutex<Option<String>>,
    /// One more header (name, value) added to each answer.
    extra_header: Mutex<Option<(String, String)>>,
    user_agent: Mutex<String>,
    /// The method and `Host` header of the last request.
    method: Mutex<String>,
    host: Mutex<String>,
    /// Requests read and not yet answered, and the most there have been at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// The server name a TLS client asked for.
    sni: Mutex<String>,
    /// Connections from this address are closed unanswered: a target that fails for one
    /// vantage point only.
    refuse_from: Mutex<Option<std::net::IpAddr>>,
}

/// A health endpoint served by the test itself.
pub struct HealthTarget {
    pub addr: SocketAddr,
    settings: Arc<Settings>,
}

impl HealthTarget {
    /// Starts answering 200 "ok" on a free port.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// The same over TLS, with a self-signed certificate for `health.test`.
    pub fn start_tls() -> Self {
        let cert = CertificateDer::from(include_bytes!("../../fixtures/self-signed-cert.der").to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            include_bytes!("../../fixtures/self-signed-key.der").to_vec(),
        ));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("the test certificate");
        Self::start_with(Some(Arc::new(config)))
    }

    fn start_with(tls: Option<Arc<ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind health target");
        let addr = listener.local_addr().unwrap();
        let settings = Arc::new(Settings::default());
        settings.status.store(200, Ordering::SeqCst);
        *settings.body.lock().unwrap() = "ok".into();
        let shared = settings.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stopped.load(Ordering::SeqCst) {
                    return; // drops the listener: connections are refused from now on
                }
                let Ok(stream) = stream else { continue };
                let refused = *shared.refuse_from.lock().unwrap();
                if refused.is_some() && stream.peer_addr().ok().map(|p| p.ip()) == refused {
                    continue; // closed unanswered
                }
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                let shared = shared.clone();
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => serve(stream, &shared),
                    Some(config) => {
                        let Ok(connection) = ServerConnection::new(config) else { return };
                        let mut tls = StreamOwned::new(connection, stream);
                        let _ = tls.sock.set_read_timeout(Some(Duration::from_secs(5)));
                        // Complete the handshake first, so the server name is known.
                        while tls.conn.is_handshaking() {
                            if tls.conn.complete_io(&mut tls.sock).is_err() {
                                return;
                            }
                        }
                        if let Some(name) = tls.conn.server_name() {
                            *shared.sni.lock().unwrap() = name.to_owned();
                        }
                        serve(tls, &shared);
                    }
                });
            }
        });
        Self { addr, settings }
    }

    /// Closes connections from `address` unanswered (`None`: answers everyone).
    pub fn refuse_from(&self, address: Option<std::net::IpAddr>) {
        *self.settings.refuse_from.lock().unwrap() = address;
    }

    pub fn set_status(&self, status: u16) {
        self.settings.status.store(status, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.settings.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Accept connections but never answer.
    pub fn set_hang(&self, hang: bool) {
        self.settings.hang.store(hang, Ordering::SeqCst);
    }

    pub fn set_body(&self, body: &str) {
        *self.settings.body.lock().unwrap() = body.into();
    }

    /// Answers with the body, then `x` for ever, with no length: the answer ends only when the
    /// client closes the connection.
    pub fn set_endless(&self, endless: bool) {
        self.settings.endless.store(endless, Ordering::SeqCst);
    }

    /// Adds an `x-padding` header of `bytes` bytes to each answer (0: none).
    pub fn set_header_bytes(&self, bytes: usize) {
        self.settings.header_bytes.store(bytes, Ordering::SeqCst);
    }

    /// Adds `location: URL` to each answer (with a 3xx status, a redirect).
    pub fn set_location(&self, url: &str) {
        *self.settings.location.lock().unwrap() = Some(url.into());
    }

    /// Adds `name: value` to each answer (a load report, say).
    pub fn set_header(&self, name: &str, value: &str) {
        *self.settings.extra_header.lock().unwrap() = Some((name.into(), value.into()));
    }

    /// How many requests it has had.
    pub fn requests(&self) -> u64 {
        *self.settings.requests.lock().unwrap()
    }

    /// Waits until it has had `count` requests in all, woken by each request; panics after
    /// `limit` naming `what`.
    pub fn wait_for_requests(&self, count: u64, limit: Duration, what: &str) {
        let requests = self.settings.requests.lock().unwrap();
        let (requests, _) = self.settings.request_came.wait_timeout_while(requests, limit, |n| *n < count).unwrap();
        let had = *requests;
        drop(requests);
        assert!(had >= count, "no {what} within {limit:?}: {had} requests of {count}");
    }

    /// The User-Agent of the last request.
    pub fn last_user_agent(&self) -> String {
        self.settings.user_agent.lock().unwrap().clone()
    }

    /// The method of the last request ("GET", "HEAD"...).
    pub fn last_method(&self) -> String {
        self.settings.method.lock().unwrap().clone()
    }

    /// The `Host` header of the last request.
    pub fn last_host(&self) -> String {
        self.settings.host.lock().unwrap().clone()
    }

    /// The most requests it has held at once: read whole and not yet answered (a hanging or
    /// delayed answer holds its request).
    pub fn most_in_flight(&self) -> usize {
        self.settings.most_in_flight.load(Ordering::SeqCst)
    }

    /// The server name (SNI) of the last TLS handshake.
    pub fn last_server_name(&self) -> String {
        self.settings.sni.lock().unwrap().clone()
    }

    /// Closes the listening socket: connections are refused from now on.
    pub fn stop(&self) {
        self.settings.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)); // wakes accept()
    }
}

impl Drop for HealthTarget {
    fn drop(&mut self) {
        self.settings.hang.store(false, Ordering::SeqCst);
        self.stop();
    }
}

fn serve(mut stream: impl Read + Write, settings: &Settings) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&request);
    // Recorded before the request is counted, so a test woken by the count reads them.
    *settings.method.lock().unwrap() = text.split(' ').next().unwrap_or_default().to_owned();
    for (name, slot) in [("host", &settings.host), ("user-agent", &settings.user_agent)] {
        if let Some(value) = header(&text, name) {
            *slot.lock().unwrap() = value.to_owned();
        }
    }
    // Counted from here until just before the answer is written: within the time the
    // client waits, so the most at once is never more than the client had in flight.
    let held = settings.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    settings.most_in_flight.fetch_max(held, Ordering::SeqCst);
    *settings.requests.lock().unwrap() += 1;
    settings.request_came.notify_all();
    // Hang until the test lets go (bounded: the probe's own timeout closes its side first).
    for _ in 0..500 {
        if !settings.hang.load(Ordering::SeqCst) {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let delay = settings.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        thread::sleep(Duration::from_millis(delay));
    }
    settings.in_flight.fetch_sub(1, Ordering::SeqCst);
    let status = settings.status.load(Ordering::SeqCst);
    let body = settings.body.lock().unwrap().clone();
    let mut head = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
    let padding = settings.header_bytes.load(Ordering::SeqCst);
    if padding > 0 {
        head.push_str(&format!("x-padding: {}\r\n", "a".repeat(padding)));
    }
    if let Some(url) = settings.location.lock().unwrap().as_deref() {
        head.push_str(&format!("location: {url}\r\n"));
    }
    if let Some((name, value)) = settings.extra_header.lock().unwrap().as_ref() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !settings.endless.load(Ordering::SeqCst) {
        let _ = stream.write_all(format!("{head}content-length: {}\r\n\r\n{body}", body.len()).as_bytes());
        return;
    }
    // No length and `connection: close`: the body ends when the connection does (RFC 9112
    // section 6.3), so a client that reads it all reads for ever. A write fails (or times out,
    // set by the caller) once the client has gone, and the thread ends.
    if stream.write_all(format!("{head}\r\n{body}").as_bytes()).is_err() {
        return;
    }
    let filler = vec![b'x'; 64 * 1024];
    while !settings.stopped.load(Ordering::SeqCst) {
        if stream.write_all(&filler).is_err() {
            return;
        }
    }
}

/// The value of the header `name` (any case) in a request head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (field, value) = line.split_once(':')?;
        field.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
