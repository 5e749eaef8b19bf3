//! Traffic analytics: per pool, where answers went (regions, endpoints), who asked (countries,
//! continents) and RCODE rates over a sliding window; and probe RTT statistics per endpoint.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Shared;
use super::error::{ApiError, ErrorBody, query_rejection};
use super::regions::RttInfo;
use crate::analytics::{Summary, Window};
use crate::config::names::shown;
use crate::config::overlay::same_pool;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// Only this pool (default: every pool).
    pub pool: Option<String>,
    /// "1m", "15m" (the default) or "1h".
    pub window: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AnalyticsReport {
    pub window: String,
    pub pools: Vec<PoolReport>,
    /// Probe round-trip times per checked endpoint, over its last 64 probes (min and max
    /// since start).
    pub probes: Vec<ProbeStats>,
}

#[derive(Serialize, ToSchema)]
pub struct PoolReport {
    pub pool: String,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Serialize, ToSchema)]
pub struct ProbeStats {
    pub region: String,
    pub endpoint: String,
    pub avg_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// Answer shares per region, endpoint, client country and continent, and RCODE rates, over
/// the last 1 min, 15 min or 1 h; and probe RTT statistics.
#[utoipa::path(get, path = "/api/v1/lb/analytics", tag = "analytics", params(AnalyticsQuery),
    responses((status = 200, body = AnalyticsReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn analytics(
    State(shared): State<Shared>,
    query: Result<Query<AnalyticsQuery>, QueryRejection>,
) -> Result<Json<AnalyticsReport>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let window: Window = match q.window.as_deref() {
        None => Window::FifteenMinutes,
        Some(text) => text
            .parse()
            .map_err(|e: crate::analytics::WindowError| ApiError::bad_request(e.to_string(), Some("window")))?,
    };
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    let pools: Vec<_> = snapshot
        .steering
        .pools
        .iter()
        .filter(|p| q.pool.as_deref().is_none_or(|wanted| same_pool(&p.name.to_ascii(), wanted)))
        .collect();
    if let Some(wanted) = &q.pool
        && pools.is_empty()
    {
        return Err(ApiError::not_found(format!("no pool {}", shown(wanted)), "pool"));
    }
    let tick = shared.0.observers.tick();
    let pools = pools
        .iter()
        .filter_map(|p| {
            let observer = snapshot.observers.pool(p.index)?;
            Some(PoolReport { pool: p.name.to_string(), summary: observer.analytics.summary(tick, window) })
        })
        .collect();
    let mut probes = Vec::new();
    for (index, region, endpoint) in snapshot.config.endpoints() {
        let Some(report) = table.endpoint(index).filter(|r| r.target.is_some()) else { continue };
        let rtt = RttInfo::of(report.rtt);
        probes.push(ProbeStats {
            region: region.name.clone(),
            endpoint: endpoint.target().to_string(),
            avg_ms: rtt.avg_ms,
            min_ms: rtt.min_ms,
            max_ms: rtt.max_ms,
            p95_ms: rtt.p95_ms,
        });
    }
    Ok(Json(AnalyticsReport { window: window.to_string(), pools, probes }))
}
