//! One way to load: from a configuration source and the saved API changes to everything a
//! server needs to run (the validated configuration, its zones and geo database built into a
//! snapshot, the health table, and for a start the API's token and TLS configuration).
//!
//! `serve`, SIGHUP, `POST /api/v1/reload` and `check-config` all call [`prepare`], so
//! `check-config`'s verdict is exactly whether `serve` would start, and what a reload would
//! do: which saved changes it would set aside, by name. Reads files, never a clock: the
//! instant the health table starts from is passed in.

use std::sync::Arc;
use std::time::Instant;

use crate::config::overlay::LaidOver;
use crate::config::{ConfigError, Overlay, Problem, Source};
use crate::health::table::HealthTable;
use crate::metrics::Observers;
use crate::snapshot::Snapshot;

/// What is being prepared: a start reads what only a start uses (the API's token and TLS
/// files, which a reload keeps as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Start,
    Reload,
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
    /// The admin API's token and TLS configuration, for a start with `[api]`.
    pub api: Option<ApiStart>,
}

/// What the admin API needs from files, read before root is dropped.
pub struct ApiStart {
    /// `None`: no token configured; every authenticated route answers 401.
    pub token: Option<String>,
    /// `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
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

/// Prepares `source` with the saved `changes` laid over it. The machine's CPU count (what
/// `server.workers` defaults to) is read here, at the edge, and handed to validation.
///
/// # Errors
/// The configuration is invalid on its own, or anything it names cannot be used; every
/// problem found is reported together.
pub fn prepare(
    source: Source,
    changes: &Overlay,
    purpose: Purpose,
    observers: Option<&Observers>,
    now: Instant,
) -> Result<Prepared, LoadError> {
    let mut source = source;
    source.set_cpus(std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let LaidOver { config, kept, left_out } = source.lay_over(changes)?;
    let mut problems = Vec::new();
    let api = match (&config.api, purpose) {
        (Some(api), Purpose::Start) => {
            let token = api.token.read().unwrap_or_else(|p| {
                problems.push(p);
                None
            });
            let tls = api
                .tls
                .as_ref()
                .and_then(|files| crate::config::tls::server_config(files).map_err(|p| problems.push(p)).ok());
            Some(ApiStart { token, tls })
        }
        _ => None,
    };
    let table = HealthTable::new(&config, now);
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
