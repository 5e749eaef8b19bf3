//! Probes: one TCP connect or HTTP(S) request to a target, with a deadline. An edge: this
//! reads the clock and talks to the network; what it returns feeds the pure state machine.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::state::Observation;
use super::table::Target;
use crate::config::CheckKind;

/// The `User-Agent` of every HTTP probe.
pub const USER_AGENT: &str = concat!("meridian/", env!("CARGO_PKG_VERSION"));

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub observation: Observation,
    pub rtt: Duration,
    /// What was seen: "HTTP 503", "connection refused", "timed out after 2s"...
    pub detail: String,
}

/// Why a prober could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for {target}: {source}")]
pub struct ProbeError {
    target: String,
    source: reqwest::Error,
}

/// Probes one target again and again.
pub struct Prober {
    target: Target,
    http: Option<reqwest::Client>,
    url: String,
}

impl Prober {
    /// # Errors
    /// The HTTP client cannot be built (its TLS configuration).
    pub fn new(target: Target) -> Result<Self, ProbeError> {
        let check = &target.check;
        let socket = SocketAddr::new(target.address, check.port);
        let scheme = match check.kind {
            CheckKind::Https => "https",
            _ => "http",
        };
        let authority = match (&check.host, target.address) {
            (Some(host), _) => host.clone(),
            (None, IpAddr::V6(a)) => format!("[{a}]"),
            (None, IpAddr::V4(a)) => a.to_string(),
        };
        let url = format!("{scheme}://{authority}:{}{}", check.port, check.path);
        let http = match check.kind {
            CheckKind::Tcp => None,
            CheckKind::Http | CheckKind::Https => {
                let mut builder = reqwest::Client::builder()
                    .user_agent(USER_AGENT)
                    .timeout(check.timeout)
                    .connect_timeout(check.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .pool_max_idle_per_host(0)
                    .tls_danger_accept_invalid_certs(!check.verify_tls);
                if let Some(host) = &check.host {
                    // Connect to the target's address while Host and SNI carry the name.
                    builder = builder.resolve(host, socket);
                }
                let client = builder.build().map_err(|source| ProbeError { target: url.clone(), source })?;
                Some(client)
            }
        };
        Ok(Self { target, http, url })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs one probe.
    #[allow(clippy::disallowed_methods)] // a probe measures its round trip on the real clock
    pub async fn probe(&self) -> ProbeResult {
        let started = Instant::now();
        let check = &self.target.check;
        let (ok, status, detail) = match &self.http {
            None => tcp(SocketAddr::new(self.target.address, check.port), check.timeout).await,
            Some(client) => self.http(client).await,
        };
        let rtt = started.elapsed();
        let in_ranges = |ranges: &[(u16, u16)], code: u16| ranges.iter().any(|(a, b)| (*a..=*b).contains(&code));
        let observation = match status {
            _ if !ok => Observation::Failed,
            Some(code) if in_ranges(&check.degraded_status, code) => Observation::Degraded,
            _ if check.degraded_rtt.is_some_and(|limit| rtt > limit) => Observation::Degraded,
            _ => Observation::Ok,
        };
        ProbeResult { observation, rtt, detail }
    }

    async fn http(&self, client: &reqwest::Client) -> (bool, Option<u16>, String) {
        let check = &self.target.check;
        let method = reqwest::Method::from_bytes(check.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let response = match client.request(method, &self.url).send().await {
            Ok(response) => response,
            Err(e) => return (false, None, describe(&e)),
        };
        let code = response.status().as_u16();
        let expected = check.expect.iter().any(|(a, b)| (*a..=*b).contains(&code));
        let degraded = check.degraded_status.iter().any(|(a, b)| (*a..=*b).contains(&code));
        if !expected {
            // A degraded status (429...) is up but degraded; its body is not what `body` expects.
            return (degraded, Some(code), format!("HTTP {code}"));
        }
        if let Some(needle) = &check.body {
            match response.text().await {
                Ok(body) if body.contains(needle.as_str()) => {}
                Ok(_) => return (false, Some(code), format!("HTTP {code}, body without {needle:?}")),
                Err(e) => return (false, Some(code), describe(&e)),
            }
        }
        (true, Some(code), format!("HTTP {code}"))
    }
}

async fn tcp(addr: SocketAddr, timeout: Duration) -> (bool, Option<u16>, String) {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => (true, None, "connected".into()),
        Ok(Err(e)) => (false, None, e.to_string()),
        Err(_) => (false, None, format!("no connection within {timeout:?}")),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
