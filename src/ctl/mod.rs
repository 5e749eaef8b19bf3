//! `meridian ctl`: a command-line client of the admin API, as `knotc` and `gdnsdctl` are for
//! their servers. Each command is one request: [`request_of`] maps the command to its method,
//! path and body, [`client`] sends it, and [`render`] turns the answer into tables for people;
//! `--json` prints the answer as the API gave it, for scripts.
//!
//! An edge, but a small one: it owns a socket for one request and never reads the clock. The
//! token is sent and never printed, not even in an error.

mod client;
mod render;
mod table;

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use client::Client;

use crate::config::names::shown;

/// The API address when neither `--api` nor `MERIDIAN_API` gives one.
pub const DEFAULT_API: &str = "http://127.0.0.1:8053";

/// `meridian ctl`: where the API is, how to authenticate, and what to ask. Not `Debug`: it holds
/// the token.
#[derive(Args)]
pub struct CtlArgs {
    #[command(flatten)]
    pub connection: ApiArgs,
    /// Print the API's JSON answer as it is, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// Where the admin API is and how to reach it: shared by `ctl` and `explain`. None of these
/// carries the token into an error or a log.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The admin API's base URL (a bare HOST:PORT means http) [default: http://127.0.0.1:8053].
    #[arg(long, global = true, env = "MERIDIAN_API", value_name = "URL")]
    pub api: Option<String>,
    /// The API token (default: $MERIDIAN_API_TOKEN). Prefer --token-file: arguments show in `ps`.
    #[arg(long, global = true, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,
    /// A file holding the API token (default: $MERIDIAN_API_TOKEN_FILE).
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificates to trust for an https --api, instead of the system's
    /// (a self-signed certificate, or a private CA).
    #[arg(long, global = true, env = "MERIDIAN_API_CACERT", value_name = "PATH")]
    pub cacert: Option<PathBuf>,
    /// Give up on a request after this many seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

impl ApiArgs {
    /// The API's base URL as given, or the default.
    pub fn url(&self) -> &str {
        self.api.as_deref().unwrap_or(DEFAULT_API)
    }
}

/// What to ask the API.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Version, uptime, generation, zones, and the regions and endpoints each pool answers with now.
    Status,
    /// Regions and their endpoints: weight, health, drain state, probe round-trip times.
    Regions {
        /// Only this region.
        region: Option<String>,
    },
    /// Stop answering with an endpoint, even when its pool fails open.
    Drain {
        /// The endpoint: its region, a slash, its address (eu/192.0.2.10, eu/2001:db8::10).
        #[arg(value_name = "REGION/ADDRESS", value_parser = EndpointRef::parse)]
        endpoint: EndpointRef,
    },
    /// Put a drained endpoint back under its health checks.
    Undrain {
        /// The endpoint: its region, a slash, its address (eu/192.0.2.10, eu/2001:db8::10).
        #[arg(value_name = "REGION/ADDRESS", value_parser = EndpointRef::parse)]
        endpoint: EndpointRef,
    },
    /// Set an endpoint's weight (0 takes it out of rotation), at once or ramped over a time.
    Weight {
        /// The endpoint: its region, a slash, its address (eu/192.0.2.10, eu/2001:db8::10).
        #[arg(value_name = "REGION/ADDRESS", value_parser = EndpointRef::parse)]
        endpoint: EndpointRef,
        /// Its share of its region's answers, relative to the others' weights (0: none).
        weight: u32,
        /// Reach the weight linearly over this time (10m, 1h; at most 24h), from the weight
        /// answers follow now.
        #[arg(long, value_name = "DURATION")]
        over: Option<String>,
    },
    /// Push an endpoint's load (a fraction of its capacity, 1 being full): it steers
    /// least_loaded pools and shedding until the endpoint's load.max_age passes.
    Load {
        /// The endpoint: its region, a slash, its address (eu/192.0.2.10, eu/2001:db8::10).
        #[arg(value_name = "REGION/ADDRESS", value_parser = EndpointRef::parse)]
        endpoint: EndpointRef,
        /// Its load: 0 (idle) to 10, 1 being full.
        load: f64,
    },
    /// Change a pool's policy (geo, nearest, weighted, round_robin, random, hash, priority, latency,
    /// least_loaded).
    Strategy {
        /// The pool's name (www.example.com.).
        #[arg(long)]
        pool: String,
        /// The policy: geo, nearest, weighted, round_robin, random, hash, priority, latency or least_loaded.
        strategy: String,
        /// The pool's regions, in order, comma-separated.
        #[arg(long, value_delimiter = ',', value_name = "REGION,...")]
        regions: Vec<String>,
    },
    /// Without flags, list failovers; with --from and --to, send a region's clients elsewhere;
    /// with --clear, end manual failovers.
    Failover(FailoverArgs),
    /// Probe every checked endpoint of a region now (results count towards their health).
    Check {
        /// The region whose endpoints are probed.
        region: String,
    },
    /// Health transitions of endpoints, newest first.
    History {
        /// Only this region's endpoints.
        #[arg(long)]
        region: Option<String>,
        /// Only this endpoint (its IP address).
        #[arg(long, value_name = "ADDRESS")]
        endpoint: Option<String>,
        /// At most this many events (the server's default is 100).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Answer shares per pool (regions, endpoints, countries, continents, RCODEs) and probe
    /// round-trip times.
    Analytics {
        /// Only this pool.
        #[arg(long)]
        pool: Option<String>,
        /// 1m, 15m or 1h (the server's default without it).
        #[arg(long)]
        window: Option<String>,
    },
    /// API changes in force: id, time, the token's name and what each did; with --diff,
    /// each against the configuration file's settings it overrides.
    Changes {
        /// Show each change as a diff against the configuration file.
        #[arg(long)]
        diff: bool,
    },
    /// Revert an API change (its id from `ctl changes`): its settings follow the file again.
    Revert {
        /// The change's id.
        #[arg(value_name = "ID")]
        id: u64,
    },
    /// Re-read the configuration, zone files and geo database.
    Reload,
    /// The cluster: NATS connection, the revision of shared changes applied, members heard.
    Cluster,
}

/// `ctl failover`'s flags: none (status), --pool --from --to (trigger), or --pool --clear.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("action").args(["to", "clear"])))]
pub struct FailoverArgs {
    /// The pool's name (www.example.com.).
    #[arg(long, requires = "action")]
    pub pool: Option<String>,
    /// The region whose clients move (with --clear: end only its failover).
    #[arg(long, value_name = "REGION", requires = "pool")]
    pub from: Option<String>,
    /// Where they go.
    #[arg(long, value_name = "REGION", requires = "from")]
    pub to: Option<String>,
    /// End the pool's manual failovers (only the one from --from, if given).
    #[arg(long, requires = "pool")]
    pub clear: bool,
}

/// An endpoint as `REGION/ADDRESS`. IPv6 addresses hold ':' but never '/', so the first '/'
/// ends the region: `eu/2001:db8::1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRef {
    pub region: String,
    pub address: String,
}

impl EndpointRef {
    /// Parses `REGION/ADDRESS`.
    ///
    /// # Errors
    /// No '/', or an empty region or address.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('/') {
            Some((region, address)) if !region.is_empty() && !address.is_empty() => {
                Ok(Self { region: region.to_owned(), address: address.to_owned() })
            }
            _ => Err(format!("{} is not REGION/ADDRESS, e.g. eu/192.0.2.1 or eu/2001:db8::1", shown(text))),
        }
    }
}

impl fmt::Display for EndpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.region, self.address)
    }
}

/// Why a `ctl` command failed. None of these carries the token.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Token(String),
    #[error("--api {} is not usable: {reason}", shown(.url))]
    Url { url: String, reason: String },
    #[error("--cacert {}: {reason}", .path.display())]
    CaCert { path: PathBuf, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("cannot connect to the API at {url}: {reason} (is the server's [api] listening there? see --api)")]
    Connect { url: String, reason: String },
    /// TLS refused the server's certificate: a `--cacert` matter, not a listening one.
    #[error("the API at {url} presented a certificate that cannot be trusted: {reason}{}", certificate_hint(.reason))]
    Certificate { url: String, reason: String },
    #[error("no answer from the API at {url} within {secs}s (see --timeout)")]
    Timeout { url: String, secs: u64 },
    #[error("the request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    /// The API answered with an error status.
    #[error("{}", api_text(.status, .message, .field.as_deref(), .problems))]
    Api { status: String, message: String, field: Option<String>, problems: Vec<(String, String)> },
    #[error("the answer from {url} is not JSON: {reason}")]
    NotJson { url: String, reason: String },
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
}

/// `404 Not Found: no region "x" (field: region)`, then one line per problem when there are
/// several.
fn api_text(status: &str, message: &str, field: Option<&str>, problems: &[(String, String)]) -> String {
    let mut text = format!("{status}: {message}");
    if let Some(field) = field {
        text.push_str(&format!(" (field: {field})"));
    }
    for (field, error) in problems {
        text.push_str(&format!("\n  {field}: {error}"));
    }
    text
}

/// One request to the API, and how to show its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Path segments under the base URL, not yet encoded.
    pub path: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub view: View,
}

/// How an answer is shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Status,
    Regions,
    /// A change made: what was asked, shown with the generation that serves it.
    Applied(String),
    Failovers,
    Checks,
    History,
    Analytics,
    /// The changes in force: a table, or (`diff`) each against the file.
    Changes {
        diff: bool,
    },
    Reloaded,
    /// `meridian explain` prints it itself.
    Explained,
    Cluster,
}

impl Request {
    fn new(method: Method, path: &[&str], view: View) -> Self {
        let path = ["api", "v1"].iter().chain(path).map(|s| (*s).to_owned()).collect();
        Self { method, path, query: Vec::new(), body: None, view }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn query(mut self, key: &'static str, value: Option<String>) -> Self {
        self.query.extend(value.map(|v| (key, v)));
        self
    }
}

/// The request a command makes. Pure: the routes are those of `api::router`.
pub fn request_of(command: &CtlCommand) -> Request {
    use CtlCommand as C;
    match command {
        C::Status => Request::new(Method::GET, &["lb", "status"], View::Status),
        C::Regions { region: None } => Request::new(Method::GET, &["lb", "regions"], View::Regions),
        C::Regions { region: Some(region) } => Request::new(Method::GET, &["lb", "regions", region], View::Regions),
        C::Drain { endpoint: e } => {
            Request::new(Method::POST, &endpoint_path(e, &["drain"]), View::Applied(format!("{e} drained")))
        }
        C::Undrain { endpoint: e } => {
            let what = format!("{e} undrained: back under its checks");
            Request::new(Method::POST, &endpoint_path(e, &["undrain"]), View::Applied(what))
        }
        C::Weight { endpoint: e, weight, over: None } => {
            let what = format!("{e} weight set to {weight}");
            Request::new(Method::PATCH, &endpoint_path(e, &[]), View::Applied(what)).body(json!({ "weight": weight }))
        }
        C::Weight { endpoint: e, weight, over: Some(over) } => {
            let what = format!("{e} weight ramping to {weight} over {over}");
            let body = json!({ "weight": weight, "over": over });
            Request::new(Method::PATCH, &endpoint_path(e, &[]), View::Applied(what)).body(body)
        }
        C::Load { endpoint: e, load } => {
            let what = format!("{e} load {load} reported");
            Request::new(Method::PUT, &endpoint_path(e, &["load"]), View::Applied(what)).body(json!({ "load": load }))
        }
        C::Strategy { pool, strategy, regions } => strategy_request(pool, strategy, regions),
        C::Failover(args) => failover_request(args),
        C::Check { region } => {
            Request::new(Method::POST, &["lb", "health", "check"], View::Checks).body(json!({ "region": region }))
        }
        C::History { region, endpoint, limit } => {
            Request::new(Method::GET, &["lb", "health", "history"], View::History)
                .query("region", region.clone())
                .query("endpoint", endpoint.clone())
                .query("limit", limit.map(|n| n.to_string()))
        }
        C::Analytics { pool, window } => Request::new(Method::GET, &["lb", "analytics"], View::Analytics)
            .query("pool", pool.clone())
            .query("window", window.clone()),
        C::Changes { diff } => Request::new(Method::GET, &["changes"], View::Changes { diff: *diff }),
        C::Revert { id } => {
            let what = format!("change {id} reverted: its settings follow the configuration file");
            Request::new(Method::DELETE, &["changes", &id.to_string()], View::Applied(what))
        }
        C::Reload => Request::new(Method::POST, &["reload"], View::Reloaded),
        C::Cluster => Request::new(Method::GET, &["cluster"], View::Cluster),
    }
}

/// `lb/regions/{region}/endpoints/{address}`, then `rest`.
fn endpoint_path<'a>(endpoint: &'a EndpointRef, rest: &[&'a str]) -> Vec<&'a str> {
    let mut path = vec!["lb", "regions", &endpoint.region, "endpoints", &endpoint.address];
    path.extend(rest);
    path
}

fn strategy_request(pool: &str, strategy: &str, regions: &[String]) -> Request {
    let mut what = format!("{pool}: strategy set to {strategy}");
    let mut body = json!({ "pool": pool, "strategy": strategy });
    if !regions.is_empty() {
        what.push_str(&format!(", regions {}", regions.join(", ")));
        body["parameters"] = json!({ "regions": regions });
    }
    Request::new(Method::PUT, &["lb", "strategy"], View::Applied(what)).body(body)
}

fn failover_request(args: &FailoverArgs) -> Request {
    match (&args.pool, &args.from, &args.to, args.clear) {
        (Some(pool), from, None, true) => {
            let what = match from {
                Some(from) => format!("{pool}: the manual failover of {from} cleared"),
                None => format!("{pool}: manual failovers cleared"),
            };
            Request::new(Method::POST, &["lb", "failover", "clear"], View::Applied(what))
                .body(json!({ "pool": pool, "from_region": from }))
        }
        (Some(pool), Some(from), Some(to), false) => {
            let what = format!("{pool}: clients of {from} failed over to {to}");
            Request::new(Method::POST, &["lb", "failover", "trigger"], View::Applied(what))
                .body(json!({ "pool": pool, "from_region": from, "to_region": to }))
        }
        // clap's `requires` leaves only the bare command here.
        _ => Request::new(Method::GET, &["lb", "failover", "status"], View::Failovers),
    }
}

/// The answer as people read it.
pub fn render(view: &View, answer: &Value) -> String {
    match view {
        View::Status => render::status(answer),
        View::Regions => render::regions(answer),
        View::Applied(what) => render::applied(what, answer),
        View::Failovers => render::failovers(answer),
        View::Checks => render::checks(answer),
        View::History => render::history(answer),
        View::Analytics => render::analytics(answer),
        View::Changes { diff: false } => render::changes(answer),
        View::Changes { diff: true } => render::changes_diff(answer),
        View::Reloaded => render::reloaded(answer),
        View::Cluster => render::cluster(answer),
        View::Explained => serde_json::to_string_pretty(answer).unwrap_or_default() + "\n",
    }
}

/// Runs one `ctl` command: a current-thread runtime for one request, then the answer on stdout.
///
/// # Errors
/// No token, a bad `--api`, no connection or answer, or an error answer from the API.
pub fn run(args: CtlArgs) -> Result<(), CtlError> {
    let request = request_of(&args.command);
    let answer = fetch(&args.connection, &request)?;
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string());
        text.push('\n');
        text
    } else {
        render(&request.view, &answer)
    };
    print(&text)
}

/// Sends one request to the API `connection` names (a current-thread runtime for it) and
/// returns its JSON answer.
///
/// # Errors
/// No token, a bad `--api`, no connection or answer, or an error answer from the API.
pub fn fetch(connection: &ApiArgs, request: &Request) -> Result<Value, CtlError> {
    let base = client::base_url(connection.url())?;
    let token = token(connection, |name| std::env::var(name).ok())?;
    let roots = match &connection.cacert {
        Some(path) => Some(client::roots(path)?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CtlError::Runtime)?;
    runtime.block_on(async {
        let client = Client::new(base, &token, roots, Duration::from_secs(connection.timeout))?;
        client.send(request).await
    })
}

/// The request `meridian explain` makes of a running server.
pub fn explain_request(name: &str, rtype: &str, client: std::net::IpAddr, ecs: Option<&str>) -> Request {
    Request::new(Method::GET, &["lb", "explain"], View::Explained)
        .query("name", Some(name.to_owned()))
        .query("type", Some(rtype.to_owned()))
        .query("client", Some(client.to_string()))
        .query("ecs", ecs.map(str::to_owned))
}

/// The token from the first of --token, --token-file, `MERIDIAN_API_TOKEN` and
/// `MERIDIAN_API_TOKEN_FILE` that is set; `env` reads the environment.
fn token(args: &ApiArgs, env: impl Fn(&str) -> Option<String>) -> Result<String, CtlError> {
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    if let Some(token) = given(args.token.clone()) {
        return Ok(token.trim().to_owned());
    }
    if let Some(path) = &args.token_file {
        return read_token(path);
    }
    if let Some(token) = given(env("MERIDIAN_API_TOKEN")) {
        return Ok(token.trim().to_owned());
    }
    if let Some(path) = given(env("MERIDIAN_API_TOKEN_FILE")) {
        return read_token(&PathBuf::from(path));
    }
    Err(CtlError::Token(
        "no API token: give --token-file or --token, or set MERIDIAN_API_TOKEN_FILE or MERIDIAN_API_TOKEN".into(),
    ))
}

fn read_token(path: &std::path::Path) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CtlError::Token(format!("cannot read the token file {}: {e}", path.display())))?;
    match text.trim() {
        "" => Err(CtlError::Token(format!("the token file {} is empty", path.display()))),
        token => Ok(token.to_owned()),
    }
}

/// Writes the output; a reader that went away (`| head`) is not an error.
fn print(text: &str) -> Result<(), CtlError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        written => written.map_err(CtlError::Output),
    }
}

/// What to do about a refused certificate, where the reason says.
fn certificate_hint(reason: &str) -> &'static str {
    if reason.contains("CaUsedAsEndEntity") {
        " (it is a CA certificate, CA:TRUE, which TLS refuses as a server's own: make the API's \
         certificate with `-addext basicConstraints=critical,CA:FALSE`, as the README's recipe does)"
    } else {
        " (see --cacert: the certificate, or the CA that signed it, in PEM)"
    }
}

#[cfg(test)]
mod tests;
