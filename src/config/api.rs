//! `[api]`: where the admin API listens, how it authenticates, whether it speaks TLS, and the
//! limits that keep a client from wearing it down (sizes, timeouts, connections, failed
//! authentications). Pure: certificate files are named here and read by the API when it starts
//! and by `check-config`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::names::shown;
use super::{Problem, bounded, bounded_in, secs};

/// The address the admin API listens on by default.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8053";

/// `[api]` as written. One token source at most. `Debug` leaves the token out, so no log line
/// or error can show it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileApi {
    pub listen: Option<String>,
    /// The bearer token itself (prefer `token_file` or `token_env`: a config file is often world-readable).
    pub token: Option<String>,
    /// A file holding the token (surrounding whitespace ignored).
    pub token_file: Option<String>,
    /// An environment variable holding the token.
    pub token_env: Option<String>,
    /// PEM certificate chain, leaf first; with `tls_key`, the API speaks only HTTPS.
    pub tls_cert: Option<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub tls_key: Option<String>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: Option<u64>,
    /// The largest request head (request line and headers), in bytes.
    pub max_header_bytes: Option<u64>,
    /// Connections served at once; more are closed as they arrive.
    pub max_connections: Option<u64>,
    /// Connections served at once from one address (an IPv6 client by its /64).
    pub max_connections_per_client: Option<u64>,
    /// Seconds a client has to send a whole request head (and a TLS handshake), also between
    /// requests on a kept-alive connection.
    pub header_timeout_secs: Option<u64>,
    /// Seconds from a request's head to its answer, body included.
    pub request_timeout_secs: Option<u64>,
    /// Failed authentications from one address within the window before it is refused.
    pub max_failed_auth: Option<u32>,
    pub failed_auth_window_secs: Option<u64>,
    /// Networks whose failed authentications never lock them out (default: loopback), so
    /// that an operator on the machine is not locked out of their own server.
    pub lockout_exempt: Option<Vec<String>>,
    /// The HTTP status of `/healthz` while a pool is down: 200 (the default) or 503.
    pub healthz_degraded_status: Option<i64>,
}

impl fmt::Debug for FileApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileApi")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("token_env", &self.token_env)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("healthz_degraded_status", &self.healthz_degraded_status)
            .finish_non_exhaustive()
    }
}

/// `[api]` after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub token: TokenSource,
    /// `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    pub limits: ApiLimits,
    /// Failed authentications from these networks are counted in metrics but never lock the
    /// address out.
    pub lockout_exempt: Vec<IpNet>,
    /// The HTTP status `/healthz` answers with while a pool is down: 200 or 503.
    pub healthz_degraded_status: u16,
}

/// The certificate chain and key the API serves HTTPS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What one client may ask of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub max_failed_auth: u32,
    pub failed_auth_window: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        validate_limits(&FileApi::default(), &mut Vec::new())
    }
}

/// Where the API's bearer token comes from. Read when the API starts (an edge), never logged:
/// `Debug` shows where it comes from, not what it is.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    Inline(String),
    File(PathBuf),
    Env(String),
}

impl TokenSource {
    /// Reads the token from where the configuration says; `None` when the environment
    /// variable is unset or empty (every authenticated route then answers 401). The token
    /// itself is never logged or put in a message.
    ///
    /// # Errors
    /// A token file that cannot be read or is empty.
    pub fn read(&self) -> Result<Option<String>, Problem> {
        match self {
            Self::Inline(token) => Ok(Some(token.clone())),
            Self::File(path) => {
                let fail = |why: String| Problem::new("api.token_file", why);
                // A token is tens of octets; a file of more is a mistake, not a token.
                let text = crate::files::read_to_string(path, 64 * 1024)
                    .map_err(|e| fail(format!("cannot read the token file {}: {e}", path.display())))?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(fail(format!("the token file {} is empty", path.display())));
                }
                Ok(Some(token.to_owned()))
            }
            Self::Env(name) => Ok(std::env::var(name).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())),
        }
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Env(name) => write!(f, "Env({name})"),
        }
    }
}

pub(super) fn validate_api(api: FileApi, base: &Path, problems: &mut Vec<Problem>) -> Option<ApiConfig> {
    let limits = validate_limits(&api, problems);
    // Load balancers that health-check DNS servers take anything but 2xx as "take me out":
    // the operator chooses whether a down pool should (503) or should not (200).
    let healthz_degraded_status = match api.healthz_degraded_status {
        None => 200,
        Some(status @ (200 | 503)) => status as u16,
        Some(other) => {
            let message = format!("{other} is not 200 or 503 (the status /healthz answers while a pool is down)");
            problems.push(Problem::new("api.healthz_degraded_status", message));
            200
        }
    };
    let listen_text = api.listen.as_deref().unwrap_or(DEFAULT_API_LISTEN);
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            problems.push(Problem::new(
                "api.listen",
                format!("{} is not ADDR:PORT (IPv6 as [::1]:8053)", shown(listen_text)),
            ));
            return None;
        }
    };
    let tls = match (api.tls_cert, api.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert: base.join(cert), key: base.join(key) }),
        (None, None) => None,
        (Some(_), None) => {
            problems.push(Problem::new("api.tls_key", "missing: tls_cert needs the certificate's private key"));
            return None;
        }
        (None, Some(_)) => {
            problems.push(Problem::new("api.tls_cert", "missing: tls_key needs the certificate it belongs to"));
            return None;
        }
    };
    let token = match (api.token, api.token_file, api.token_env) {
        (Some(token), None, None) if token.trim().is_empty() => {
            problems.push(Problem::new("api.token", "is empty"));
            return None;
        }
        (Some(token), None, None) => TokenSource::Inline(token.trim().to_owned()),
        (None, Some(file), None) => TokenSource::File(base.join(file)),
        (None, None, Some(name)) if !name.is_empty() => TokenSource::Env(name),
        (None, None, None) => TokenSource::Env("MERIDIAN_API_TOKEN".into()),
        _ => {
            problems
                .push(Problem::new("api", "give one of token, token_file or token_env (or none: MERIDIAN_API_TOKEN)"));
            return None;
        }
    };
    let lockout_exempt = validate_exempt(api.lockout_exempt.as_deref(), problems)?;
    Some(ApiConfig { listen, token, tls, limits, lockout_exempt, healthz_degraded_status })
}

/// The default: loopback, IPv4 and IPv6.
pub const DEFAULT_LOCKOUT_EXEMPT: [&str; 2] = ["127.0.0.0/8", "::1/128"];

fn validate_exempt(given: Option<&[String]>, problems: &mut Vec<Problem>) -> Option<Vec<IpNet>> {
    let default: Vec<String> = DEFAULT_LOCKOUT_EXEMPT.iter().map(|s| (*s).to_owned()).collect();
    let mut networks = Vec::new();
    let before = problems.len();
    for (i, text) in given.unwrap_or(&default).iter().enumerate() {
        match text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from)) {
            Ok(net) => networks.push(net.trunc()),
            Err(_) => problems.push(Problem::new(
                format!("api.lockout_exempt[{i}]"),
                format!("{text:?} is not a network such as 192.0.2.0/24, 2001:db8::/32 or an address"),
            )),
        }
    }
    (problems.len() == before).then_some(networks)
}

/// Defaults fit an API a few people and scripts use: 64 KiB bodies, 16 KiB heads, 256
/// connections and 32 from one client, 10 s for a head, 30 s for a request, 10 failed
/// authentications a minute.
fn validate_limits(api: &FileApi, problems: &mut Vec<Problem>) -> ApiLimits {
    let max_body_bytes =
        bounded_in(api.max_body_bytes, 65_536, 1_024..=16 << 20, " bytes", "api.max_body_bytes", problems);
    let max_header_bytes =
        bounded_in(api.max_header_bytes, 16_384, 1_024..=1 << 20, " bytes", "api.max_header_bytes", problems);
    let max_connections = bounded(api.max_connections, 256, 1..=65_536, "api.max_connections", problems);
    let per_client =
        bounded(api.max_connections_per_client, 32, 1..=65_536, "api.max_connections_per_client", problems);
    ApiLimits {
        max_body_bytes: max_body_bytes as usize,
        max_header_bytes: max_header_bytes as usize,
        max_connections: max_connections as usize,
        // A client can hold no more than every connection there is.
        max_connections_per_client: per_client.min(max_connections) as usize,
        header_timeout: secs(api.header_timeout_secs, 10, 1..=300, "api.header_timeout_secs", problems),
        request_timeout: secs(api.request_timeout_secs, 30, 1..=3_600, "api.request_timeout_secs", problems),
        max_failed_auth: bounded(api.max_failed_auth, 10, 1..=10_000, "api.max_failed_auth", problems),
        failed_auth_window: secs(api.failed_auth_window_secs, 60, 1..=86_400, "api.failed_auth_window_secs", problems),
    }
}
