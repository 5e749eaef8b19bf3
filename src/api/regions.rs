//! Regions and their endpoints, weights, drains, and pool strategies.

use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::TokenName;
use super::error::{ApiError, Body, ErrorBody, path_rejection};
use super::status::Applied;
use super::{Shared, timestamp_of};
use crate::config::FileRegion;
use crate::config::names::shown;
use crate::config::overlay::{StrategyChange, StrategyParameters};
use crate::control::Change;
use crate::geo::code_str;
use crate::health::history::RttStats;
use crate::health::state::Status;
use crate::health::table::HealthTable;
use crate::snapshot::Snapshot;

#[derive(Serialize, ToSchema)]
pub struct RegionInfo {
    pub name: String,
    pub location: Option<Coordinates>,
    pub countries: Vec<String>,
    pub continents: Vec<String>,
    pub min_healthy: f64,
    /// Down as a whole (fewer servable endpoints than `min_healthy`).
    pub down: bool,
    /// The pools that list it.
    pub pools: Vec<String>,
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointInfo {
    /// The endpoint's IP address, or for a name endpoint its name (how paths and `ctl` name it).
    pub address: String,
    /// A name endpoint's name (answered as a CNAME to it); absent for an address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its weight in force (where a ramp ends).
    pub weight: u32,
    /// The weight answers follow now, to the thousandth: `weight`, or where a ramp or a slow
    /// start has got to.
    pub effective_weight: f64,
    /// Present while its weight moves.
    pub ramp: Option<RampInfo>,
    pub backup: bool,
    /// "http", "https" or "tcp"; absent when unchecked.
    pub check: Option<String>,
    /// What the checks say: "up", "degraded" or "down".
    pub health: &'static str,
    /// "auto", "drain" or "force_up".
    pub manual: &'static str,
    /// Whether answers may carry it now: its health allows it and its weight is above 0.
    pub servable: bool,
    /// When `health` last changed (or the server started): RFC 3339 in UTC, to the millisecond.
    #[schema(format = DateTime)]
    pub since: Option<String>,
    pub rtt: RttInfo,
    /// With `[cluster]`: the vantage points' votes on it; `health` is this instance's own view,
    /// and answers follow the votes.
    pub votes: Option<VotesInfo>,
    /// Its reported load; absent when no report was ever taken.
    pub load: Option<LoadInfo>,
    /// The pools that leave it out of their answers for its load (`shed`).
    pub shed_in: Vec<String>,
}

/// An endpoint's reported load.
#[derive(Serialize, ToSchema)]
pub struct LoadInfo {
    /// The smoothed load steering reads, a fraction of capacity (1 is full); absent once the
    /// last report aged out.
    pub smoothed: Option<f64>,
    /// The last report as it came.
    pub last: f64,
    /// "probe" or "push".
    pub source: &'static str,
    /// When the last report came (RFC 3339).
    #[schema(format = DateTime)]
    pub at: String,
    /// Seconds until it stops counting without another report (0: aged out).
    pub expires_in_secs: f64,
    /// Why the probe's last reading failed, if it did.
    pub error: Option<String>,
}

impl LoadInfo {
    fn of(report: &crate::health::table::EndpointReport<'_>) -> Option<Self> {
        let now = super::clock();
        let load = report.load;
        if load.is_none() && report.load_error.is_none() {
            return None;
        }
        let round = |v: f64| (v * 1e4).round() / 1e4;
        Some(Self {
            smoothed: crate::health::load::current(load, now).map(round),
            last: load.map_or(0.0, |l| round(l.last)),
            source: load.map_or("probe", |l| l.from.as_str()),
            at: load.map_or_else(String::new, |l| timestamp_of(l.at)),
            expires_in_secs: load.map_or(0.0, |l| crate::health::load::expires_in(l, now).as_secs_f64()),
            error: report.load_error.map(str::to_owned),
        })
    }
}

/// An endpoint's weight on the move: a weight change made over a time, a slow start after it
/// came back, or both (then the slow start's share of the ramped weight).
#[derive(Serialize, ToSchema)]
pub struct RampInfo {
    /// The weight it reaches.
    pub to: u32,
    /// When it reaches it (RFC 3339).
    #[schema(format = DateTime)]
    pub until: String,
    /// The weight change's ramp, when one moves.
    pub weight_ramp: Option<WeightRampInfo>,
    /// The slow start's end, when one runs (RFC 3339).
    #[schema(format = DateTime)]
    pub slow_start_until: Option<String>,
}

/// A weight change made over a time.
#[derive(Serialize, ToSchema)]
pub struct WeightRampInfo {
    /// The weight it started from.
    pub from: f64,
    #[schema(format = DateTime)]
    pub started: String,
    #[schema(format = DateTime)]
    pub until: String,
}

impl RampInfo {
    fn of(report: &crate::health::table::RampReport) -> Self {
        Self {
            to: report.to,
            until: instant_time(report.until),
            weight_ramp: report.ramp.map(|r| WeightRampInfo {
                from: r.from,
                started: instant_time(r.start),
                until: instant_time(r.end),
            }),
            slow_start_until: report.slow_start.map(|s| instant_time(s.end())),
        }
    }
}

/// An instant, past or future, as the API writes times (RFC 3339 in UTC, to the millisecond).
pub(super) fn instant_time(at: std::time::Instant) -> String {
    let now = super::clock();
    let unix_ms = crate::control::unix_now_millis();
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let at_ms = if at >= now { unix_ms.saturating_add(ms(at - now)) } else { unix_ms.saturating_sub(ms(now - at)) };
    crate::timestamp::rfc3339_millis(at_ms)
}

/// The vantage points' votes on an endpoint.
#[derive(Serialize, ToSchema)]
pub struct VotesInfo {
    /// What answers follow: "down" or "up".
    pub verdict: &'static str,
    /// The vantage points saying down.
    pub down_votes: Vec<String>,
    /// Vantage points with a fresh vote, this instance included.
    pub voters: usize,
    /// Down votes needed for down.
    pub needed: usize,
    /// Too few votes for the quorum: this instance's own view decides.
    pub own_view: bool,
    /// Since when the verdict stands (RFC 3339).
    #[schema(format = DateTime)]
    pub since: String,
    /// "down: 2 of 3 vantage points say down (eu-1, us-1)".
    pub text: String,
}

impl VotesInfo {
    pub fn of(votes: &crate::health::table::VoteSummary) -> Self {
        let v = &votes.verdict;
        Self {
            verdict: if v.down { "down" } else { "up" },
            down_votes: v.down_votes.iter().map(ToString::to_string).collect(),
            voters: v.voters,
            needed: v.needed,
            own_view: v.own_view,
            since: super::timestamp_of(votes.since),
            text: votes.text(),
        }
    }
}

/// Probe round-trip times in milliseconds, over the last 64 probes (avg, p95) or since start.
#[derive(Serialize, ToSchema)]
pub struct RttInfo {
    pub last_ms: Option<f64>,
    pub avg_ms: Option<f64>,
    pub ewma_ms: Option<f64>,
    pub min_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

impl RttInfo {
    /// An endpoint's probe statistics in milliseconds (to the microsecond).
    pub fn of(rtt: &RttStats) -> Self {
        let ms = |d: Option<std::time::Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
        Self {
            last_ms: ms(rtt.last),
            avg_ms: ms(rtt.mean()),
            ewma_ms: ms(rtt.ewma),
            min_ms: ms(rtt.min),
            max_ms: ms(rtt.max),
            p95_ms: ms(rtt.p95()),
        }
    }
}

fn region_info(snapshot: &Snapshot, table: &HealthTable, index: usize) -> RegionInfo {
    let now = super::clock();
    let region = &snapshot.config.regions[index];
    let first = snapshot.config.first_endpoint(index);
    let endpoints = region
        .endpoints
        .iter()
        .enumerate()
        .map(|(j, e)| {
            let report = table.endpoint(first + j);
            let milli = snapshot.health.weight_milli(first + j, e.weight);
            EndpointInfo {
                address: e.target().to_string(),
                name: e.name.as_ref().map(ToString::to_string),
                weight: e.weight,
                effective_weight: milli as f64 / f64::from(crate::health::ramp::MILLI),
                ramp: table.ramp_of(first + j, now).as_ref().map(RampInfo::of),
                backup: e.backup,
                check: e.check.as_ref().map(|c| c.kind.as_str().to_owned()),
                health: report.map_or(Status::Up, |r| r.status).as_str(),
                manual: e.state.as_str(),
                // Weight 0 keeps an endpoint configured but out of every answer.
                servable: milli > 0 && snapshot.health.is_servable(first + j),
                since: report.map(|r| timestamp_of(r.since)),
                rtt: RttInfo::of(report.map_or(&RttStats::default(), |r| r.rtt)),
                votes: report.and_then(|r| r.votes).map(VotesInfo::of),
                load: report.as_ref().and_then(LoadInfo::of),
                shed_in: snapshot
                    .config
                    .pools
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| snapshot.health.is_shed(*p, first + j))
                    .map(|(_, p)| p.name.to_string())
                    .collect(),
            }
        })
        .collect();
    RegionInfo {
        name: region.name.clone(),
        location: region.location.map(|c| Coordinates { lat: c.lat, lon: c.lon }),
        countries: region.countries.iter().map(|c| code_str(c).to_owned()).collect(),
        continents: region.continents.iter().map(|c| code_str(c).to_owned()).collect(),
        min_healthy: region.min_healthy,
        down: snapshot.health.is_region_down(index),
        pools: snapshot
            .config
            .pools
            .iter()
            .filter(|p| p.regions.contains(&index))
            .map(|p| p.name.to_string())
            .collect(),
        endpoints,
    }
}

/// Every region with its endpoints, weights, health and probe RTT statistics.
#[utoipa::path(get, path = "/api/v1/lb/regions", tag = "regions",
    responses((status = 200, body = Vec<RegionInfo>), (status = 401, body = ErrorBody)))]
pub async fn list(State(shared): State<Shared>) -> Json<Vec<RegionInfo>> {
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    Json((0..snapshot.config.regions.len()).map(|i| region_info(snapshot, table, i)).collect())
}

/// One region.
#[utoipa::path(get, path = "/api/v1/lb/regions/{region}", tag = "regions",
    params(("region" = String, Path, description = "The region's name")),
    responses((status = 200, body = RegionInfo), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(shared): State<Shared>,
    region: Result<Path<String>, PathRejection>,
) -> Result<Json<RegionInfo>, ApiError> {
    let Path(region) = region.map_err(path_rejection)?;
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    let index = snapshot
        .config
        .regions
        .iter()
        .position(|r| r.name == region)
        .ok_or_else(|| ApiError::not_found(format!("no region {}", shown(&region)), "region"))?;
    Ok(Json(region_info(snapshot, table, index)))
}

/// Adds a region: the same fields as a `[[region]]` table of the configuration file. It takes
/// traffic once a pool lists it (a strategy change does not add regions to pools; edit the file
/// and reload for that), and its endpoints are probed at once.
#[utoipa::path(post, path = "/api/v1/lb/regions", tag = "regions", request_body = FileRegion,
    responses((status = 201, body = Applied), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    Body(region): Body<FileRegion>,
) -> Result<(StatusCode, Json<Applied>), ApiError> {
    let generation = shared.0.control.change(Change::AddRegion(Box::new(region)), &token.0).await?;
    Ok((StatusCode::CREATED, Json(Applied { generation })))
}

/// Removes a region no pool lists (409 while one does).
#[utoipa::path(delete, path = "/api/v1/lb/regions/{region}", tag = "regions",
    params(("region" = String, Path, description = "The region's name")),
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    region: Result<Path<String>, PathRejection>,
) -> Result<Json<Applied>, ApiError> {
    let Path(region) = region.map_err(path_rejection)?;
    let generation = shared.0.control.change(Change::RemoveRegion(region), &token.0).await?;
    Ok(Json(Applied { generation }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightBody {
    /// 0 to 1000000; 0 takes the endpoint out of rotation.
    pub weight: i64,
    /// Reach the weight linearly over this time (`"10m"`, more than 0 and at most `"24h"`),
    /// from the weight answers follow now; without it, at once.
    pub over: Option<crate::config::FileDuration>,
}

fn endpoint_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, IpAddr), ApiError> {
    let Path((region, endpoint)) = path.map_err(path_rejection)?;
    let address = endpoint
        .parse::<IpAddr>()
        .map_err(|_| ApiError::unprocessable(format!("{} is not an IP address", shown(&endpoint)), "endpoint"))?;
    Ok((region, address))
}

/// Sets an endpoint's weight, at once or, with `over`, ramped linearly from the weight answers
/// follow now (a ramp under way included); the change records the ramp's wall-clock start and
/// end, so a restart or another instance of a cluster continues it.
#[utoipa::path(patch, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}", tag = "regions",
    params(("region" = String, Path), ("endpoint" = String, Path, description = "The endpoint's IP address")),
    request_body = WeightBody,
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_weight(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    path: Result<Path<(String, String)>, PathRejection>,
    Body(body): Body<WeightBody>,
) -> Result<Json<Applied>, ApiError> {
    let (region, endpoint) = endpoint_path(path)?;
    let mut problems = Vec::new();
    let over = body.over.as_ref().map(|over| crate::config::ramp::ramp_length(over, "over", &mut problems));
    if let Some(problem) = problems.into_iter().next() {
        return Err(ApiError::unprocessable(problem.message, "over"));
    }
    let change = Change::SetWeight { region, endpoint, weight: body.weight, over: over.flatten() };
    let generation = shared.0.control.change(change, &token.0).await?;
    Ok(Json(Applied { generation }))
}

/// Drains an endpoint: it is never answered with, not even when its pool fails open.
#[utoipa::path(post, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}/drain", tag = "regions",
    params(("region" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody)))]
pub async fn drain(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Applied>, ApiError> {
    set_drained(shared, &token, path, true).await
}

/// Puts a drained endpoint back under its health checks.
#[utoipa::path(post, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}/undrain", tag = "regions",
    params(("region" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody)))]
pub async fn undrain(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Applied>, ApiError> {
    set_drained(shared, &token, path, false).await
}

async fn set_drained(
    shared: Shared,
    token: &TokenName,
    path: Result<Path<(String, String)>, PathRejection>,
    drained: bool,
) -> Result<Json<Applied>, ApiError> {
    let (region, endpoint) = endpoint_path(path)?;
    let generation = shared.0.control.change(Change::SetDrained { region, endpoint, drained }, &token.0).await?;
    Ok(Json(Applied { generation }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBody {
    /// The endpoint's load as a fraction of its capacity: 0 (idle) to 10, 1 being full.
    pub load: f64,
}

/// Pushes an endpoint's load (an NS1-style data feed): smoothed with its other reports, it
/// steers `least_loaded` pools and shedding at once, and stops counting after the endpoint's
/// `load.max_age` unless another report follows. Not a change: not saved, not in the changes
/// log, not shared with a cluster (each instance takes its own feed).
#[utoipa::path(put, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}/load", tag = "regions",
    params(("region" = String, Path), ("endpoint" = String, Path, description = "The endpoint's IP address")),
    request_body = LoadBody,
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn push_load(
    State(shared): State<Shared>,
    path: Result<Path<(String, String)>, PathRejection>,
    Body(body): Body<LoadBody>,
) -> Result<Json<Applied>, ApiError> {
    let (region, endpoint) = endpoint_path(path)?;
    let max = crate::config::load::MAX_LOAD;
    if !(body.load.is_finite() && (0.0..=max).contains(&body.load)) {
        let message = format!("{} is not a load: a fraction of capacity from 0 to {max} (1 is full)", body.load);
        return Err(ApiError::unprocessable(message, "load"));
    }
    if !shared.0.control.push_load(&region, endpoint, body.load).await? {
        let message = format!("region {} has no endpoint {endpoint}", shown(&region));
        return Err(ApiError::not_found(message, "endpoint"));
    }
    Ok(Json(Applied { generation: shared.published().snapshot.generation }))
}

/// A pool's policy and its parameters, changed by hand.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyBody {
    /// The pool's name, e.g. "www.lb.example." (the trailing dot may be left out).
    pub pool: String,
    /// One of geo, nearest, weighted, round_robin, random, hash, priority, latency, least_loaded.
    pub strategy: String,
    #[serde(default)]
    pub parameters: StrategyParameters,
}

/// Changes a pool's policy, and optionally its parameters (absent ones stay as they are).
#[utoipa::path(put, path = "/api/v1/lb/strategy", tag = "pools", request_body = StrategyBody,
    responses((status = 200, body = Applied), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_strategy(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    Body(body): Body<StrategyBody>,
) -> Result<Json<Applied>, ApiError> {
    let StrategyBody { pool, strategy, parameters } = body;
    let change = StrategyChange { pool, strategy, parameters, stamp: Default::default() };
    let generation = shared.0.control.change(Change::SetStrategy(change), &token.0).await?;
    Ok(Json(Applied { generation }))
}
