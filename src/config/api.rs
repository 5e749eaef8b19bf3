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
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::names::{REGION_NAME_RULE, check_region_name, shown};
use super::{Problem, bounded, bounded_in, secs};

/// The address the admin API listens on by default.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8053";

/// `[api]` as written. One source at most for the token named "default", and any number of
/// named ones. `Debug` leaves the token out, so no log line or error can show it.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileApi {
    pub listen: Option<String>,
    /// The bearer token itself (prefer `token_file` or `token_env`: a config file is often
    /// world-readable), or `[[api.token]]` tables: tokens with names.
    pub token: Option<FileToken>,
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
            .field("token", &self.token)
            .field("token_file", &self.token_file)
            .field("token_env", &self.token_env)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("healthz_degraded_status", &self.healthz_degraded_status)
            .finish_non_exhaustive()
    }
}

/// `token` in `[api]`: the token itself, or `[[api.token]]` tables. `Debug` shows no token.
#[derive(Clone)]
pub enum FileToken {
    Inline(String),
    Named(Vec<FileNamedToken>),
}

/// `[[api.token]]`: a token with a name, which every change made with it is recorded under.
/// It holds no token, only where to find one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNamedToken {
    pub name: String,
    /// A file holding the token (surrounding whitespace ignored).
    pub file: Option<String>,
    /// An environment variable holding it.
    pub env: Option<String>,
    /// `"all"` (the default) or `"register"`: registration of endpoints in `regions` only.
    pub scope: Option<String>,
    /// With `scope = "register"`: the regions the token may register endpoints in.
    pub regions: Option<Vec<String>>,
}

/// What a token may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TokenScope {
    /// Every route.
    #[default]
    All,
    /// Registering, removing and heart-beating endpoints of these regions, and reading them;
    /// every other route answers 403.
    Register(Vec<String>),
}

impl fmt::Debug for FileToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::Named(tokens) => f.debug_tuple("Named").field(tokens).finish(),
        }
    }
}

impl<'de> Deserialize<'de> for FileToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TokenOrTables;
        impl<'de> Visitor<'de> for TokenOrTables {
            type Value = FileToken;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the token as a string, or [[api.token]] tables each with a name and a file or env")
            }

            fn visit_str<E: de::Error>(self, token: &str) -> Result<FileToken, E> {
                Ok(FileToken::Inline(token.to_owned()))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileToken, A::Error> {
                let mut tokens = Vec::new();
                while let Some(token) = seq.next_element()? {
                    tokens.push(token);
                }
                Ok(FileToken::Named(tokens))
            }
        }
        deserializer.deserialize_any(TokenOrTables)
    }
}

/// The name of the token `token`, `token_file` or `token_env` gives.
pub const DEFAULT_TOKEN_NAME: &str = "default";

/// `[api]` after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// Every token the API takes, by name: "default" (`token`, `token_file`, `token_env` or,
    /// without any token configured, `MERIDIAN_API_TOKEN`), then `[[api.token]]` in order.
    pub tokens: Vec<NamedToken>,
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

/// A token the API takes: its name, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedToken {
    pub name: String,
    pub source: TokenSource,
    /// Where the configuration gives it, for messages: "api.token_file", "api.token[1].file".
    pub at: String,
    pub scope: TokenScope,
}

impl NamedToken {
    /// Reads the token, as [`TokenSource::read`] does.
    ///
    /// # Errors
    /// A token file that cannot be read or is empty.
    pub fn read(&self) -> Result<Option<String>, Problem> {
        self.source.read(&self.at)
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
    /// Reads the token from where the configuration says (`at`, for messages); `None` when
    /// the environment variable is unset or empty (the token is then not taken). The token
    /// itself is never logged or put in a message.
    ///
    /// # Errors
    /// A token file that cannot be read or is empty.
    pub fn read(&self, at: &str) -> Result<Option<String>, Problem> {
        match self {
            Self::Inline(token) => Ok(Some(token.clone())),
            Self::File(path) => {
                let fail = |why: String| Problem::new(at, why);
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
    let (inline, named) = match api.token {
        Some(FileToken::Inline(token)) => (Some(token), Vec::new()),
        Some(FileToken::Named(named)) => (None, named),
        None => (None, Vec::new()),
    };
    let default = match (inline, api.token_file, api.token_env) {
        (Some(token), None, None) if token.trim().is_empty() => {
            problems.push(Problem::new("api.token", "is empty"));
            return None;
        }
        (Some(token), None, None) => Some((TokenSource::Inline(token.trim().to_owned()), "api.token")),
        (None, Some(file), None) => Some((TokenSource::File(base.join(file)), "api.token_file")),
        (None, None, Some(name)) if !name.is_empty() => Some((TokenSource::Env(name), "api.token_env")),
        // Named tokens only: those, and no token from the environment the operator did not ask for.
        (None, None, None) if !named.is_empty() => None,
        (None, None, None) => Some((TokenSource::Env("MERIDIAN_API_TOKEN".into()), "api.token_env")),
        _ => {
            problems
                .push(Problem::new("api", "give one of token, token_file or token_env (or none: MERIDIAN_API_TOKEN)"));
            return None;
        }
    };
    let mut tokens: Vec<NamedToken> = default
        .map(|(source, at)| NamedToken {
            name: DEFAULT_TOKEN_NAME.into(),
            source,
            at: at.into(),
            scope: TokenScope::All,
        })
        .into_iter()
        .collect();
    let before = problems.len();
    for (i, token) in named.into_iter().enumerate() {
        if let Some(token) = validate_named(i, token, &tokens, base, problems) {
            tokens.push(token);
        }
    }
    let lockout_exempt = validate_exempt(api.lockout_exempt.as_deref(), problems)?;
    (problems.len() == before).then_some(ApiConfig {
        listen,
        tokens,
        tls,
        limits,
        lockout_exempt,
        healthz_degraded_status,
    })
}

/// `[[api.token]]` number `i`: a name of its own (the rule region names follow: it goes into
/// log lines, the API's answers and the state file), and one of a file or an environment
/// variable.
fn validate_named(
    i: usize,
    token: FileNamedToken,
    earlier: &[NamedToken],
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<NamedToken> {
    let at = format!("api.token[{i}]");
    if check_region_name(&token.name).is_err() {
        let message = format!("{} is not a token name: a token name is {REGION_NAME_RULE}", shown(&token.name));
        problems.push(Problem::new(format!("{at}.name"), message));
        return None;
    }
    if earlier.iter().any(|t| t.name == token.name) {
        let message = format!("{} names another token too: each token has a name of its own", shown(&token.name));
        problems.push(Problem::new(format!("{at}.name"), message));
        return None;
    }
    let scope = token_scope(token.scope.as_deref(), token.regions, &at, problems)?;
    let (source, at) = match (token.file, token.env) {
        (Some(file), None) => (TokenSource::File(base.join(file)), format!("{at}.file")),
        (None, Some(env)) if !env.is_empty() => (TokenSource::Env(env), format!("{at}.env")),
        _ => {
            problems.push(Problem::new(at, "give one of file or env: where the token is"));
            return None;
        }
    };
    Some(NamedToken { name: token.name, source, at, scope })
}

/// A token's `scope` and `regions`: `register` needs one region or more, named by the rule
/// region names follow; `regions` means nothing without it.
fn token_scope(
    scope: Option<&str>,
    regions: Option<Vec<String>>,
    at: &str,
    problems: &mut Vec<Problem>,
) -> Option<TokenScope> {
    match (scope.unwrap_or("all"), regions) {
        ("all", None) => Some(TokenScope::All),
        ("all", Some(_)) => {
            let message = "regions limit a token with scope = \"register\" only: set the scope, or leave regions out";
            problems.push(Problem::new(format!("{at}.regions"), message));
            None
        }
        ("register", Some(regions)) if !regions.is_empty() => {
            for (j, region) in regions.iter().enumerate() {
                if let Err(message) = check_region_name(region) {
                    problems.push(Problem::new(format!("{at}.regions[{j}]"), message));
                    return None;
                }
            }
            Some(TokenScope::Register(regions))
        }
        ("register", _) => {
            let message =
                "a token with scope = \"register\" needs regions = [...]: the regions it may register endpoints in";
            problems.push(Problem::new(format!("{at}.regions"), message));
            None
        }
        (other, _) => {
            problems.push(Problem::new(format!("{at}.scope"), format!("{} is not one of all, register", shown(other))));
            None
        }
    }
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
