//! The admin API (axum): JSON in and out, on its own listener. An edge: it reads what the
//! controller last published (the snapshot, the health table, the saved changes: one
//! immutable value, never locked), and sends every change to the controller, which
//! validates, saves and publishes it before the API answers 2xx.
//!
//! Every route but `GET /healthz` and `GET /metrics` needs `Authorization: Bearer <token>`,
//! and an address that fails it too often is refused for a while (`lockout`). The listener
//! (`listener`) serves plain HTTP or HTTPS (`tls`) under size, time and connection limits.
//! The whole API is described by the OpenAPI document at `GET /api/v1/openapi.json`,
//! generated from these handlers (utoipa), so it cannot drift from them.

mod analytics;
mod auth;
mod changes;
mod cluster;
mod error;
mod failover;
mod health;
mod listener;
mod lockout;
mod metrics;
mod openapi;
mod regions;
mod status;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{ApiLimits, NamedToken};
use crate::control::load::{ApiCredentials, ApiToken};
use crate::control::{Control, Published};
use crate::metrics::Observers;
use crate::snapshot::SnapshotStore;

pub use error::ApiError;

/// What every handler reads.
#[derive(Clone)]
pub struct Shared(Arc<Inner>);

struct Inner {
    store: Arc<SnapshotStore>,
    control: Control,
    observers: Observers,
    /// The token (`None`: none is configured, and every authenticated route answers 401) and
    /// the TLS configuration, as a reload last read them.
    credentials: ApiCredentials,
    limits: ApiLimits,
    /// Networks never locked out for failed authentications (`api.lockout_exempt`).
    lockout_exempt: Vec<ipnet::IpNet>,
    /// The status of `/healthz` while a pool is down (`api.healthz_degraded_status`).
    healthz_degraded_status: axum::http::StatusCode,
    lockout: Mutex<lockout::Lockout>,
    started: Instant,
}

impl Shared {
    pub fn new(
        store: Arc<SnapshotStore>,
        control: Control,
        observers: Observers,
        credentials: ApiCredentials,
        limits: ApiLimits,
        lockout_exempt: Vec<ipnet::IpNet>,
        healthz_degraded_status: u16,
    ) -> Self {
        let lockout = lockout::Lockout::new(limits.max_failed_auth, limits.failed_auth_window, lockout::CAPACITY);
        let lockout = Mutex::new(lockout);
        // The configuration allows 200 and 503 only; anything else is taken as 200.
        let healthz_degraded_status =
            axum::http::StatusCode::from_u16(healthz_degraded_status).unwrap_or(axum::http::StatusCode::OK);
        Self(Arc::new(Inner {
            store,
            control,
            observers,
            credentials,
            limits,
            lockout_exempt,
            healthz_degraded_status,
            lockout,
            started: clock(),
        }))
    }

    /// Whether failed authentications from `client` may lock it out.
    fn may_lock_out(&self, client: std::net::IpAddr) -> bool {
        !self.0.lockout_exempt.iter().any(|net| net.contains(&client))
    }

    /// The failed-authentication table. Held for a lookup or an insert, never across an
    /// `.await`; a panic cannot leave it inconsistent, so a poisoned lock is used as it is.
    fn lockout(&self) -> MutexGuard<'_, lockout::Lockout> {
        self.0.lockout.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    /// What the controller last published: the snapshot with the health table and saved
    /// changes that go with it (endpoint indexes shift when a region comes or goes). No lock:
    /// the controller swaps in a new value and never changes this one.
    fn published(&self) -> Arc<Published> {
        self.0.control.published()
    }
}

/// Why the admin API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("admin API: cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("admin API: the listener's address cannot be read: {0}")]
    Address(io::Error),
}

/// Binds the API's listener, so that a taken port stops the start with a clear error.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
}

/// Says at start which tokens the API takes, by name, and warns when it takes none; a token
/// itself is never logged.
pub fn log_tokens(read: &[ApiToken], configured: &[NamedToken]) {
    if read.is_empty() {
        let sources: Vec<String> = configured.iter().map(|t| format!("{} ({:?})", t.name, t.source)).collect();
        warn!(
            sources = %sources.join(", "),
            "the admin API has no token: every route but /healthz and /metrics answers 401 until one is set"
        );
    } else {
        let names: Vec<&str> = read.iter().map(|t| t.name.as_str()).collect();
        info!(tokens = %names.join(", "), "the admin API takes these tokens, by name");
    }
}

/// Serves the API on `listener` (over TLS when `tls`, with the certificate in force at each
/// connection) until `cancel`; returns the bound address.
///
/// # Errors
/// The listener's address cannot be read.
pub fn serve(
    listener: TcpListener,
    tls: bool,
    shared: Shared,
    cancel: CancellationToken,
) -> Result<SocketAddr, StartError> {
    let addr = listener.local_addr().map_err(StartError::Address)?;
    let (limits, scheme) = (shared.0.limits, if tls { "https" } else { "http" });
    let tls = tls.then(|| shared.0.credentials.clone());
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
        .route("/api/v1/lb/regions/{region}/endpoints/{endpoint}/load", put(regions::push_load))
        .route("/api/v1/lb/strategy", put(regions::set_strategy))
        .route("/api/v1/lb/health/check", post(health::check))
        .route("/api/v1/lb/health/history", get(health::history))
        .route("/api/v1/lb/failover/trigger", post(failover::trigger))
        .route("/api/v1/lb/failover/clear", post(failover::clear))
        .route("/api/v1/lb/failover/status", get(failover::status))
        .route("/api/v1/lb/explain", get(status::explain))
        .route("/api/v1/lb/analytics", get(analytics::analytics))
        .route("/api/v1/cluster", get(cluster::cluster))
        .route("/api/v1/changes", get(changes::list))
        .route("/api/v1/changes/{id}", delete(changes::revert))
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

/// An instant in the past as the API writes times: RFC 3339 in UTC, to the millisecond (the
/// wall clock now, less the time since).
fn timestamp_of(at: Instant) -> String {
    let ago = u64::try_from(clock().saturating_duration_since(at).as_millis()).unwrap_or(u64::MAX);
    crate::timestamp::rfc3339_millis(crate::control::unix_now_millis().saturating_sub(ago))
}

/// Seconds since the Unix epoch, as the state file keeps them, as the API writes times: RFC
/// 3339 in UTC; 0 (a saved change from before times were kept) is no time.
fn timestamp_of_unix(unix_secs: u64) -> Option<String> {
    (unix_secs > 0).then(|| crate::timestamp::rfc3339(unix_secs))
}
