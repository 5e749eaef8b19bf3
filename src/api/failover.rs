//! Manual failovers, and the failovers health has made.

use axum::Json;
use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::TokenName;
use super::error::{ApiError, Body, ErrorBody};
use super::status::Applied;
use super::{Shared, timestamp_of, timestamp_of_unix};
use crate::config::overlay::ManualFailover;
use crate::control::Change;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    pub pool: String,
    pub from_region: String,
    pub to_region: String,
}

/// Sends every client of `from_region` in `pool` to `to_region`, until cleared; survives
/// restarts.
#[utoipa::path(post, path = "/api/v1/lb/failover/trigger", tag = "failover", request_body = TriggerBody,
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn trigger(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    Body(body): Body<TriggerBody>,
) -> Result<Json<Applied>, ApiError> {
    let TriggerBody { pool, from_region, to_region } = body;
    let failover = ManualFailover { pool, from_region, to_region, since: 0, stamp: Default::default() };
    let generation = shared.0.control.change(Change::TriggerFailover(failover), &token.0).await?;
    Ok(Json(Applied { generation }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearBody {
    pub pool: String,
    /// Only the failover from this region; without it, every manual failover of the pool.
    pub from_region: Option<String>,
}

/// Ends manual failovers of a pool.
#[utoipa::path(post, path = "/api/v1/lb/failover/clear", tag = "failover", request_body = ClearBody,
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody)))]
pub async fn clear(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    Body(body): Body<ClearBody>,
) -> Result<Json<Applied>, ApiError> {
    let change = Change::ClearFailover { pool: body.pool, from_region: body.from_region };
    let generation = shared.0.control.change(change, &token.0).await?;
    Ok(Json(Applied { generation }))
}

#[derive(Serialize, ToSchema)]
pub struct FailoverStatus {
    /// Manual failovers in force.
    pub manual: Vec<ManualFailoverInfo>,
    /// Regions health has taken out of a pool now, and where their clients go.
    pub automatic: Vec<AutomaticFailover>,
    /// Manual failovers triggered and cleared, oldest first.
    pub history: Vec<ManualFailoverEvent>,
    /// Regions health took out of pools and gave back, oldest first (since start; the last 200).
    pub automatic_history: Vec<RegionEvent>,
}

/// A manual failover in force.
#[derive(Serialize, ToSchema)]
pub struct ManualFailoverInfo {
    pub pool: String,
    pub from_region: String,
    pub to_region: String,
    /// When it was triggered: RFC 3339 in UTC, to the second; absent when not known.
    #[schema(format = DateTime)]
    pub since: Option<String>,
}

/// A manual failover triggered or cleared.
#[derive(Serialize, ToSchema)]
pub struct ManualFailoverEvent {
    /// When: RFC 3339 in UTC, to the second; absent when not known.
    #[schema(format = DateTime)]
    pub at: Option<String>,
    pub pool: String,
    /// "trigger" or "clear".
    pub action: String,
    pub from_region: String,
    pub to_region: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegionEvent {
    /// When: RFC 3339 in UTC, to the millisecond.
    #[schema(format = DateTime)]
    pub at: String,
    pub pool: String,
    pub region: String,
    /// "failed over" (it could no longer serve) or "recovered".
    pub event: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct AutomaticFailover {
    pub pool: String,
    pub region: String,
    /// "region down" (below min_healthy) or "no servable endpoint".
    pub reason: &'static str,
    /// The next region in pool order that can serve, if any (policies such as geo may spread
    /// clients differently; `explain` shows one client's answer).
    pub next_region: Option<String>,
}

/// Manual and automatic failovers in force, and the history of manual ones.
#[utoipa::path(get, path = "/api/v1/lb/failover/status", tag = "failover",
    responses((status = 200, body = FailoverStatus), (status = 401, body = ErrorBody)))]
pub async fn status(State(shared): State<Shared>) -> Json<FailoverStatus> {
    // One publication: the manual failovers, the health and the events all of one moment.
    let published = shared.published();
    let (persisted, snapshot) = (&published.persisted, &published.snapshot);
    let health = &snapshot.health;
    let mut automatic = Vec::new();
    for pool in &snapshot.steering.pools {
        let servable = |r: &crate::steering::PoolRegion| {
            r.endpoints.iter().flatten().any(|e| e.weight_now(health) > 0 && health.is_servable(e.health))
        };
        let can_serve = |r: &crate::steering::PoolRegion| !health.is_region_down(r.region) && servable(r);
        for region in pool.regions.iter().filter(|r| !can_serve(r)) {
            automatic.push(AutomaticFailover {
                pool: pool.name.to_string(),
                region: region.name.clone(),
                reason: if health.is_region_down(region.region) { "region down" } else { "no servable endpoint" },
                next_region: pool.regions.iter().find(|r| can_serve(r)).map(|r| r.name.clone()),
            });
        }
    }
    let automatic_history = published
        .health
        .region_events()
        .map(|e| RegionEvent {
            at: timestamp_of(e.at),
            pool: e.pool.clone(),
            region: e.region.clone(),
            event: if e.servable { "recovered" } else { "failed over" },
        })
        .collect();
    let manual = persisted
        .changes
        .failovers
        .iter()
        .map(|f| ManualFailoverInfo {
            pool: f.pool.clone(),
            from_region: f.from_region.clone(),
            to_region: f.to_region.clone(),
            since: timestamp_of_unix(f.since),
        })
        .collect();
    let history = persisted
        .failover_history
        .iter()
        .map(|e| ManualFailoverEvent {
            at: timestamp_of_unix(e.at),
            pool: e.pool.clone(),
            action: e.action.clone(),
            from_region: e.from_region.clone(),
            to_region: e.to_region.clone(),
        })
        .collect();
    Json(FailoverStatus { manual, automatic, history, automatic_history })
}
