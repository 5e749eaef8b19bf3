//! Probes on demand, and the health history.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Body, ErrorBody, query_rejection};
use super::{Shared, timestamp_of};
use crate::config::names::shown;
use crate::config::steering::EndpointTarget;
use crate::control::ProbeOutcome;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    pub region: String,
}

/// Probes every checked endpoint of a region now and answers with the results, which also
/// count towards the endpoints' health (rise and fall) as a scheduled probe's would.
#[utoipa::path(post, path = "/api/v1/lb/health/check", tag = "health", request_body = CheckBody,
    responses((status = 200, body = Vec<ProbeOutcome>), (status = 404, body = ErrorBody)))]
pub async fn check(
    State(shared): State<Shared>,
    Body(body): Body<CheckBody>,
) -> Result<Json<Vec<ProbeOutcome>>, ApiError> {
    Ok(Json(shared.0.control.probe(&body.region).await?))
}

/// The most events one answer carries.
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this region's endpoints.
    pub region: Option<String>,
    /// Only this endpoint (its IP address, or its name).
    pub endpoint: Option<String>,
    /// At most this many events, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryEvent {
    pub region: String,
    pub endpoint: String,
    /// When: RFC 3339 in UTC, to the millisecond ("2026-12-02T14:26:26.123Z").
    #[schema(format = DateTime)]
    pub at: String,
    pub from: &'static str,
    pub to: &'static str,
    /// What the probe saw: "HTTP 503", "connection refused"...
    pub detail: String,
}

/// Health transitions of endpoints, newest first.
#[utoipa::path(get, path = "/api/v1/lb/health/history", tag = "health", params(HistoryQuery),
    responses((status = 200, body = Vec<HistoryEvent>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(shared): State<Shared>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<HistoryEvent>>, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} is not within 1..={MAX_LIMIT}"), Some("limit")));
    }
    let published = shared.published();
    let (table, snapshot) = (&*published.health, &*published.snapshot);
    let regions = &snapshot.config.regions;
    if let Some(name) = &q.region
        && !regions.iter().any(|r| &r.name == name)
    {
        return Err(ApiError::not_found(format!("no region {}", shown(name)), "region"));
    }
    // An address, or a name endpoint's name (with or without its final dot, in any case).
    let wanted_name;
    let wanted_endpoint = match &q.endpoint {
        Some(text) => Some(match text.parse::<std::net::IpAddr>() {
            Ok(address) => EndpointTarget::Address(address),
            Err(_) => match hickory_proto::rr::Name::from_ascii(text) {
                Ok(mut name) if !text.is_empty() => {
                    name.set_fqdn(true);
                    wanted_name = name;
                    EndpointTarget::Name(&wanted_name)
                }
                _ => {
                    let message = format!("{} is not an IP address or a domain name", shown(text));
                    return Err(ApiError::bad_request(message, Some("endpoint")));
                }
            },
        }),
        None => None,
    };
    let mut events = Vec::new();
    let mut endpoint_seen = false;
    let wanted = |region: &str, target: EndpointTarget<'_>| {
        q.region.as_deref().is_none_or(|r| r == region) && wanted_endpoint.is_none_or(|w| w == target)
    };
    for (index, region, endpoint) in snapshot.config.endpoints().filter(|(_, r, e)| wanted(&r.name, e.target())) {
        endpoint_seen = true;
        let Some(report) = table.endpoint(index) else { continue };
        events.extend(report.history.events().map(|e| (e.at, e, region, endpoint)));
    }
    if wanted_endpoint.is_some() && !endpoint_seen {
        return Err(ApiError::not_found("no such endpoint", "endpoint"));
    }
    events.sort_by_key(|&(at, ..)| std::cmp::Reverse(at));
    events.truncate(limit);
    let events = events
        .into_iter()
        .map(|(at, e, region, endpoint)| HistoryEvent {
            region: region.name.clone(),
            endpoint: endpoint.target().to_string(),
            at: timestamp_of(at),
            from: e.from.as_str(),
            to: e.to.as_str(),
            detail: e.detail.clone(),
        })
        .collect();
    Ok(Json(events))
}
