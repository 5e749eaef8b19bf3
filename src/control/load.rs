//! One way to load: from a configuration source and the saved API changes to everything a
//! server needs to run (the validated configuration, its zones and geo database built into a
//! snapshot, the health table, and for a start the API's token and TLS configuration).
//!
//! `serve`, SIGHUP, `POST /api/v1/reload`, `check-config` and `explain` all call [`prepare`],
//! so `check-config`'s verdict on the files is the one `serve` and a reload reach, down to
//! which saved changes they set aside, by name (binding, the serving user and the state
//! directory's lock are `serve`'s alone). Reads files, never a clock: the instant the health
//! table starts from is passed in.

use std::sync::Arc;
use std::time::Instant;

use crate::config::overlay::LaidOver;
use crate::config::{ApiConfig, ConfigError, Overlay, Problem, Source};
use crate::health::table::HealthTable;
use crate::metrics::Observers;
use crate::snapshot::Snapshot;

/// Whether [`prepare`] reads the API's token and TLS files. `check-config` has them read
/// as a start would; `serve` reads them first, as root, before it drops privileges and
/// reads the rest ([`read_api_files`]); a reload keeps the running ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFiles {
    Read,
    Skip,
}

/// Everything a server runs on, checked and ready.
pub struct Prepared {
    pub source: Source,
    /// Generation 0: the writer numbers it when it publishes.
    pub snapshot: Snapshot,
    /// Every endpoint in its initial state; the snapshot holds its view.
    pub table: HealthTable,
    /// The saved changes in force. When some were set aside, `set_aside` names them and the
    /// state file must be rewritten with these.
    pub changes: Overlay,
    /// Saved changes that were left out, each named; empty when all fit.
    pub set_aside: Vec<String>,
    /// Whether the state file must be rewritten (some saved changes made the file invalid).
    pub rewrite_state: bool,
    /// The admin API's token and TLS configuration, when asked for ([`ApiFiles::Read`])
    /// and the configuration has `[api]`.
    pub api: Option<ApiStart>,
}

/// The admin API's credentials as the API reads them: replaced whole by a reload that could
/// read the files again, lock-free for the API to read.
pub type ApiCredentials = Arc<arc_swap::ArcSwap<ApiStart>>;

/// What the admin API needs from files, read before root is dropped.
pub struct ApiStart {
    /// The tokens it takes; none: every authenticated route answers 401.
    pub tokens: Vec<ApiToken>,
    /// `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A token as read, with its name. `Debug` shows the name alone.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: String,
    pub secret: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Why a source cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read, parsed, or is invalid on its own.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Zone files, the geo database, pools, the token or TLS files: every problem at once.
    #[error("{} problem(s) in the zone data, geo database, pools or files of {origin}:\n{}", .problems.len(), lines(.problems))]
    Problems { origin: String, problems: Vec<Problem> },
}

fn lines(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// `source` with the machine's CPU count (what `server.workers` defaults to) handed to its
/// validation: read here, at the edge, so that validation itself reads nothing.
pub fn with_machine(mut source: Source) -> Source {
    source.set_cpus(std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    source
}

/// Reads the API's tokens and its TLS certificate and key. A token from an environment
/// variable that is unset is not taken.
///
/// # Errors
/// Every file that cannot be used, together, and two names given one token (the changes it
/// makes could not say which).
pub fn read_api_files(api: &ApiConfig) -> Result<ApiStart, Vec<Problem>> {
    match reread_api_files(api) {
        ApiReread { tokens: Ok(tokens), tls: Ok(tls) } => Ok(ApiStart { tokens, tls }),
        ApiReread { tokens, tls } => {
            Err(tokens.err().into_iter().flatten().chain(tls.err().into_iter().flatten()).collect())
        }
    }
}

/// The API's tokens and its TLS configuration, each read on its own: a reload puts in force
/// whichever could be read (a rotated token file is not held back by a key only root reads).
pub struct ApiReread {
    pub tokens: Result<Vec<ApiToken>, Vec<Problem>>,
    pub tls: Result<Option<Arc<rustls::ServerConfig>>, Vec<Problem>>,
}

/// Reads the API's tokens and its TLS certificate and key, each on its own.
pub fn reread_api_files(api: &ApiConfig) -> ApiReread {
    ApiReread { tokens: read_tokens(api), tls: read_tls(api) }
}

fn read_tls(api: &ApiConfig) -> Result<Option<Arc<rustls::ServerConfig>>, Vec<Problem>> {
    api.tls.as_ref().map(crate::config::tls::server_config).transpose().map_err(|p| vec![p])
}

fn read_tokens(api: &ApiConfig) -> Result<Vec<ApiToken>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut tokens: Vec<ApiToken> = Vec::new();
    for named in &api.tokens {
        match named.read() {
            Ok(Some(secret)) => match tokens.iter().find(|t| t.secret == secret) {
                Some(same) => problems.push(Problem::new(
                    named.at.clone(),
                    format!("token {} is token {} too: give each name a token of its own", named.name, same.name),
                )),
                None => tokens.push(ApiToken { name: named.name.clone(), secret }),
            },
            Ok(None) => {}
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() { Ok(tokens) } else { Err(problems) }
}

/// The NATS credentials file `[cluster]` names, read as `serve` reads it at start.
///
/// # Errors
/// It cannot be read (a problem at `cluster.credentials_file`).
pub fn read_cluster_credentials(path: &std::path::Path) -> Result<String, Problem> {
    crate::files::read_to_string(path, 64 * 1024)
        .map_err(|e| Problem::new("cluster.credentials_file", format!("cannot read {}: {e}", path.display())))
}

/// Prepares `source` with the saved `changes` laid over it.
///
/// # Errors
/// The configuration is invalid on its own (then only its problems are known), or anything
/// it names cannot be used: the API's files, zone files and the geo database together, then
/// the pools (which need the zones).
pub fn prepare(
    source: Source,
    changes: &Overlay,
    api_files: ApiFiles,
    observers: Option<&Observers>,
    now: Instant,
) -> Result<Prepared, LoadError> {
    let source = with_machine(source);
    let LaidOver { config, kept, left_out } = source.lay_over(changes)?;
    let mut problems = Vec::new();
    let api = match (&config.api, api_files) {
        (Some(api), ApiFiles::Read) => read_api_files(api).map_err(|mut found| problems.append(&mut found)).ok(),
        _ => None,
    };
    // The cluster's credentials, read where the API's files are (serve reads them as root).
    let credentials = config.cluster.as_ref().and_then(|c| c.credentials_file.as_ref());
    if let (Some(path), ApiFiles::Read) = (credentials, api_files)
        && let Err(problem) = read_cluster_credentials(path)
    {
        problems.push(problem);
    }
    let mut table = HealthTable::new(&config, now);
    // The writer's first table: API weight ramps saved before a restart go on from where the
    // wall clock says they are.
    table.start_ramps(None, now, super::unix_now_millis());
    let view = table.view(now);
    let snapshot = Snapshot::load(0, Arc::new(config), view, observers).map_err(|mut found| {
        problems.append(&mut found);
    });
    match snapshot {
        Ok(snapshot) if problems.is_empty() => Ok(Prepared {
            source,
            snapshot,
            table,
            rewrite_state: kept.is_some(),
            changes: kept.unwrap_or_else(|| changes.clone()),
            set_aside: left_out,
            api,
        }),
        _ => Err(LoadError::Problems { origin: source.origin.clone(), problems }),
    }
}
