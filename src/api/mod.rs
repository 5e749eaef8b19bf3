//! The admin API (axum): JSON in and out, on its own listener. An edge: it reads snapshots and
//! the health table, and sends every change to the controller, which validates, saves and
//! publishes it before the API answers 2xx.
//!
//! Every route but `GET /healthz` and `GET /metrics` needs `Authorization: Bearer <token>`,
//! and an address that fails it too often is refused for a while (`lockout`). The listener
//! (`listener`) serves plain HTTP or HTTPS (`tls`) under size, time and connection limits.
//! The whole API is described by the OpenAPI document at `GET /api/v1/openapi.json`,
//! generated from these handlers (utoipa), so it cannot drift from them.

mod analytics;
mod auth;
mod error;
mod failover;
mod health;
mod listener;
mod lockout;
mod metrics;
mod openapi;
mod regions;
mod status;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::app::AppError;
use crate::config::{ApiLimits, TokenSource};
use crate::control::Control;
use crate::health::prober::{SharedTable, lock};
use crate::health::table::HealthTable;
use crate::metrics::Observers;
use crate::snapshot::Snapshot;
use crate::snapshot::SnapshotStore;

pub use error::ApiError;

/// What every handler reads.
#[derive(Clone)]
pub struct Shared(Arc<Inner>);

struct Inner {
    store: Arc<SnapshotStore>,
    control: Control,
    table: SharedTable,
    observers: Observers,
    /// `None`: no token is configured, and every authenticated route answers 401.
    token: Option<String>,
    limits: ApiLimits,
    lockout: Mutex<lockout::Lockout>,
    started: Instant,
}

impl Shared {
    pub fn new(
        store: Arc<SnapshotStore>,
        control: Control,
        table: SharedTable,
        observers: Observers,
        token: Option<String>,
        limits: ApiLimits,
    ) -> Self {
        let lockout = lockout::Lockout::new(limits.max_failed_auth, limits.failed_auth_window, lockout::CAPACITY);
        let lockout = Mutex::new(lockout);
        Self(Arc::new(Inner { store, control, table, observers, token, limits, lockout, started: clock() }))
    }

    /// The failed-authentication table. Held for a lookup or an insert, never across an
    /// `.await`; a panic cannot leave it inconsistent, so a poisoned lock is used as it is.
    fn lockout(&self) -> MutexGuard<'_, lockout::Lockout> {
        self.0.lockout.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    /// The health table and the snapshot it belongs to. The table is locked first, and the
    /// controller and the health writer publish while holding it, so the two always match
    /// (endpoint indexes shift when a region comes or goes).
    fn health_and_snapshot(&self) -> (MutexGuard<'_, HealthTable>, Arc<Snapshot>) {
        let table = lock(&self.0.table);
        let snapshot = self.0.store.load();
        (table, snapshot)
    }
}

/// Binds the API's listener, so that a taken port stops the start with a clear error.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, AppError> {
    TcpListener::bind(addr).await.map_err(|e| AppError::Api(format!("cannot listen on {addr}: {e}")))
}

/// Reads the token from where the configuration says. The token itself is never logged.
///
/// # Errors
/// A token file that cannot be read or is empty.
pub fn token(source: &TokenSource) -> Result<Option<String>, AppError> {
    let token = match source {
        TokenSource::Inline(token) => Some(token.clone()),
        TokenSource::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| AppError::Api(format!("cannot read the token file {}: {e}", path.display())))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(AppError::Api(format!("the token file {} is empty", path.display())));
            }
            Some(token.to_owned())
        }
        TokenSource::Env(name) => std::env::var(name).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    if token.is_none() {
        warn!(
            source = ?source,
            "the admin API has no token: every route but /healthz and /metrics answers 401 until one is set"
        );
    }
    Ok(token)
}

/// Serves the API on `listener` (over TLS with `tls`) until `cancel`; returns the bound address.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Shared,
    cancel: CancellationToken,
) -> Result<SocketAddr, AppError> {
    let addr = listener.local_addr().map_err(|e| AppError::Api(e.to_string()))?;
    let (limits, scheme) = (shared.0.limits, if tls.is_some() { "https" } else { "http" });
    tokio::spawn(listener::run(listener, router(shared), tls, limits, cancel));
    info!(%scheme, %addr, "admin API listening");
    Ok(addr)
}

/// Every route; all but the first two need the token.
pub fn router(shared: Shared) -> Router {
    let limit = shared.0.limits.max_body_bytes;
    let authenticated = Router::new()
        .route("/api/v1/lb/status", get(status::status))
        .route("/api/v1/lb/regions", get(regions::list).post(regions::add))
        .route("/api/v1/lb/regions/{region}", get(regions::one).delete(regions::remove))
        .route("/api/v1/lb/regions/{region}/endpoints/{endpoint}", patch(regions::set_weight))
        .route("/api/v1/lb/regions/{region}/endpoints/{endpoint}/drain", post(regions::drain))
        .route("/api/v1/lb/regions/{region}/endpoints/{endpoint}/undrain", post(regions::undrain))
        .route("/api/v1/lb/strategy", put(regions::set_strategy))
        .route("/api/v1/lb/health/check", post(health::check))
        .route("/api/v1/lb/health/history", get(health::history))
        .route("/api/v1/lb/failover/trigger", post(failover::trigger))
        .route("/api/v1/lb/failover/clear", post(failover::clear))
        .route("/api/v1/lb/failover/status", get(failover::status))
        .route("/api/v1/lb/explain", get(status::explain))
        .route("/api/v1/lb/analytics", get(analytics::analytics))
        .route("/api/v1/reload", post(status::reload))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route_layer(axum::middleware::from_fn_with_state(shared.clone(), auth::require_token));
    Router::new()
        .route("/healthz", get(status::healthz))
        .route("/metrics", get(metrics::metrics))
        .merge(authenticated)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

/// The API reads the clock for uptime and event times: an edge.
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

/// Seconds since the Unix epoch of an instant in the past.
fn unix_of(at: Instant) -> u64 {
    crate::control::unix_now().saturating_sub(clock().saturating_duration_since(at).as_secs())
}
