//! Status, explanation, reload and liveness.

use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, query_rejection};
use super::{Shared, clock};
use crate::explain::{ExplainError, Explanation};
use crate::snapshot::Snapshot;
use crate::steering::{Pool, PoolEndpoint};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// "ok", or "degraded" while some pool has no region that can serve.
    pub status: &'static str,
    pub generation: u64,
    /// The pools no region of which can serve now (their answers follow `when_all_down`).
    pub pools_down: Vec<String>,
}

/// Liveness, without a token: the server answers, which snapshot it serves, and whether every
/// pool can serve. 200 even when degraded, unless `api.healthz_degraded_status = 503`.
#[utoipa::path(get, path = "/healthz", tag = "status", security(()),
    responses((status = 200, body = Health, description = "ok, or degraded by default"),
        (status = 503, body = Health, description = "degraded, with healthz_degraded_status = 503")))]
pub async fn healthz(State(shared): State<Shared>) -> (StatusCode, Json<Health>) {
    let published = shared.published();
    let pools_down: Vec<String> = published.pools.iter().filter(|p| !p.is_up()).map(|p| p.pool.clone()).collect();
    let (code, status) =
        if pools_down.is_empty() { (StatusCode::OK, "ok") } else { (shared.0.healthz_degraded_status, "degraded") };
    (code, Json(Health { status, generation: published.snapshot.generation, pools_down }))
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    pub version: &'static str,
    /// The server's identity (NSID, `id.server`), when configured.
    pub identity: Option<String>,
    pub uptime_secs: u64,
    /// The snapshot generation queries are answered from.
    pub generation: u64,
    pub zones: Vec<ZoneStatus>,
    pub pools: Vec<PoolStatus>,
}

#[derive(Serialize, ToSchema)]
pub struct ZoneStatus {
    pub origin: String,
    pub records: usize,
    /// The zone's DNSSEC keys, when its answers are signed; empty when they are not.
    pub keys: Vec<KeyStatus>,
}

/// One DNSSEC key of a zone.
#[derive(Serialize, ToSchema)]
pub struct KeyStatus {
    /// The key tag (RFC 4034 appendix B).
    pub tag: u16,
    /// 13 (ECDSAP256SHA256) or 15 (ED25519).
    pub algorithm: u8,
    /// 257 (a KSK, or a CSK) or 256 (a ZSK).
    pub flags: u16,
    /// In the DNSKEY set but signing nothing (pre-publication).
    pub publish_only: bool,
    /// The DS record (SHA-256) to give the parent, for a key with the SEP flag.
    pub ds: Option<String>,
    /// The key's files, without `.key` / `.private`.
    pub file: String,
}

#[derive(Serialize, ToSchema)]
pub struct PoolStatus {
    pub name: String,
    pub policy: &'static str,
    /// The TTL answers carry while the pool is healthy, in seconds.
    pub ttl_secs: u32,
    /// Whether answers carry the failover TTL now (an endpoint unhealthy, or a recent change).
    pub failover_ttl_in_force: bool,
    /// The regions in pool order, with the endpoints each can answer with now.
    pub answer_set: Vec<RegionAnswer>,
    /// No region can serve (regions failed over from by hand are never tried): the pool fails
    /// open (or answers as `when_all_down` says).
    pub all_down: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RegionAnswer {
    pub region: String,
    pub can_serve: bool,
    /// Servable endpoints, IPv4 then IPv6.
    pub endpoints: Vec<String>,
    /// Where a manual failover sends this region's clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_over_to: Option<String>,
}

/// Version, uptime, generation, zones, and every pool with its policy and current answer set.
#[utoipa::path(get, path = "/api/v1/lb/status", tag = "status",
    responses((status = 200, body = Status), (status = 401, body = super::error::ErrorBody)))]
pub async fn status(State(shared): State<Shared>) -> Json<Status> {
    let snapshot = shared.0.store.load();
    Json(Status {
        version: env!("CARGO_PKG_VERSION"),
        identity: snapshot.config.server.identity.clone(),
        uptime_secs: clock().saturating_duration_since(shared.0.started).as_secs(),
        generation: snapshot.generation,
        zones: snapshot
            .zones
            .iter()
            .map(|z| ZoneStatus { origin: z.origin.to_string(), records: z.record_count, keys: keys_of(&snapshot, z) })
            .collect(),
        pools: snapshot.steering.pools.iter().map(|p| pool_status(&snapshot, p)).collect(),
    })
}

fn pool_status(snapshot: &Snapshot, pool: &Pool) -> PoolStatus {
    let health = &snapshot.health;
    let answer_set: Vec<RegionAnswer> = pool
        .regions
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let endpoints: Vec<String> = region
                .each_endpoint()
                .filter(|e| e.weight_now(health) > 0 && health.is_servable(e.health))
                .map(PoolEndpoint::label)
                .collect();
            let failed_over_to = pool
                .failovers
                .iter()
                .find(|(from, _)| usize::from(*from) == i)
                .map(|&(_, to)| pool.regions[usize::from(to)].name.clone());
            RegionAnswer {
                region: region.name.clone(),
                can_serve: !health.is_region_down(region.region) && !endpoints.is_empty(),
                endpoints,
                failed_over_to,
            }
        })
        .collect();
    PoolStatus {
        name: pool.name.to_string(),
        policy: pool.policy.name(),
        ttl_secs: pool.ttl_secs,
        failover_ttl_in_force: health.is_short_ttl(pool.index),
        // Not `any(can_serve)`: a region failed over from by hand is never tried.
        all_down: crate::steering::servable_regions(pool, health) == 0,
        answer_set,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    /// The name asked for.
    pub name: String,
    /// The record type (default A).
    #[serde(rename = "type")]
    pub rtype: Option<String>,
    /// The address the query comes from.
    #[param(value_type = String)]
    pub client: IpAddr,
    /// The EDNS Client Subnet a resolver sends, e.g. 198.51.100.0/24.
    pub ecs: Option<String>,
}

/// The answer a client would get and every step of why, as `meridian explain` prints it.
#[utoipa::path(get, path = "/api/v1/lb/explain", tag = "status", params(ExplainQuery),
    responses((status = 200, body = Explanation), (status = 400, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn explain(
    State(shared): State<Shared>,
    query: Result<Query<ExplainQuery>, QueryRejection>,
) -> Result<Json<Explanation>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let published = shared.published();
    let snapshot = &published.snapshot;
    let rtype = q.rtype.as_deref().unwrap_or("A");
    let live = |mut explanation: Explanation| {
        explanation.source = "live".to_owned();
        explanation.generation = Some(snapshot.generation);
        explanation.votes = votes_of(&published, explanation.steering.as_ref().map(|s| s.pool.as_str()));
        explanation.ramps = ramps_of(&published, explanation.steering.as_ref().map(|s| s.pool.as_str()));
        Json(explanation)
    };
    crate::explain::explain(snapshot, &q.name, rtype, q.client, q.ecs.as_deref()).map(live).map_err(|e| {
        let field = match e {
            ExplainError::Name(_) => "name",
            ExplainError::Type(_) => "type",
            ExplainError::Ecs(_) => "ecs",
            ExplainError::Query(_) => "name",
        };
        ApiError::unprocessable(e.to_string(), field)
    })
}

/// With `[cluster]`: the vantage points' votes on each checked endpoint of the pool, one line
/// each ("eu/192.0.2.1 down: 2 of 3 vantage points say down (eu-1, us-1) since ...").
fn votes_of(published: &crate::control::Published, pool: Option<&str>) -> Vec<String> {
    let snapshot = &published.snapshot;
    let Some(pool) = pool.and_then(|name| snapshot.steering.pools.iter().find(|p| p.name.to_string() == name)) else {
        return Vec::new();
    };
    snapshot
        .config
        .endpoints()
        .filter(|(_, region, _)| pool.regions.iter().any(|r| r.name == region.name))
        .filter_map(|(index, region, endpoint)| {
            let votes = published.health.endpoint(index)?.votes?;
            Some(format!(
                "{}/{} {} since {}",
                region.name,
                endpoint.target(),
                votes.text(),
                super::timestamp_of(votes.since)
            ))
        })
        .collect()
}

/// The pool's endpoints whose weight moves, one line each ("a/192.0.2.1 at 3.4 → 10 by
/// 2026-12-02T14:32:05.000Z, a weight change over a time").
fn ramps_of(published: &crate::control::Published, pool: Option<&str>) -> Vec<String> {
    let snapshot = &published.snapshot;
    let Some(pool) = pool.and_then(|name| snapshot.steering.pools.iter().find(|p| p.name.to_string() == name)) else {
        return Vec::new();
    };
    let now = super::clock();
    snapshot
        .config
        .endpoints()
        .filter(|(_, region, _)| pool.regions.iter().any(|r| r.name == region.name))
        .filter_map(|(index, region, endpoint)| {
            let ramp = published.health.ramp_of(index, now)?;
            let weight = snapshot.health.weight_milli(index, endpoint.weight) as f64 / 1000.0;
            let why = match (ramp.ramp.is_some(), ramp.slow_start.is_some()) {
                (true, true) => "a weight change over a time, and a slow start",
                (true, false) => "a weight change over a time",
                _ => "a slow start after it came back",
            };
            let until = super::regions::instant_time(ramp.until);
            Some(format!("{}/{} at {weight} → {} by {until}, {why}", region.name, endpoint.address, ramp.to))
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct Applied {
    /// The snapshot generation that serves the change; it is in force when this answer is sent.
    pub generation: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    /// The snapshot generation that serves the reload; it is in force when this answer is sent.
    pub generation: u64,
    /// Zones whose change this reload refused, each with why (their data changed without a
    /// new serial, or their serial went back): they keep the version they served.
    pub refused_zones: Vec<String>,
}

/// Re-reads the configuration, zone files and geo database. An invalid one is rejected with the
/// messages of `check-config`, and the running snapshot stays; a zone whose change cannot be
/// served (see `refused_zones`) keeps its served version while the rest goes ahead.
#[utoipa::path(post, path = "/api/v1/reload", tag = "status",
    responses((status = 200, body = Reloaded), (status = 422, body = super::error::ErrorBody)))]
pub async fn reload(State(shared): State<Shared>) -> Result<Json<Reloaded>, ApiError> {
    match shared.0.control.reload_reporting().await {
        Ok(reloaded) => Ok(Json(Reloaded { generation: reloaded.generation, refused_zones: reloaded.refused_zones })),
        Err(error) => Err(ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, error, None)),
    }
}

/// The keys of a zone's signing, if it is signed.
fn keys_of(snapshot: &Snapshot, zone: &crate::zone::Zone) -> Vec<KeyStatus> {
    let Some(keys) = snapshot.signing.zone(&zone.origin_key) else { return Vec::new() };
    keys.keys
        .iter()
        .map(|k| KeyStatus {
            tag: k.key.tag,
            algorithm: k.key.algorithm.number(),
            flags: k.key.flags,
            publish_only: k.publish_only,
            ds: k.key.is_sep().then(|| k.key.ds_text(None)),
            file: k.file.display().to_string(),
        })
        .collect()
}
