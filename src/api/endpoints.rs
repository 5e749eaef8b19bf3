//! Endpoints as a resource: registered into a region (`PUT`, or many at once with a bulk
//! `POST`), taken out (`DELETE`), and kept alive by heartbeats when registered with a lease.
//! A body is an endpoint of a `[[region]]` table of the configuration file, plus `ttl`, and is
//! validated as one: the change is laid over the file and the whole checked.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::Shared;
use super::auth::{RegisterOnly, TokenName};
use super::error::{ApiError, Body, ErrorBody, path_rejection, query_rejection};
use super::status::Applied;
use crate::config::FileDuration;
use crate::config::FileEndpoint;
use crate::config::names::shown;
use crate::config::overlay::endpoints::{Registration, target_of};
use crate::config::overlay::same_endpoint;
use crate::control::Change;

/// Endpoints one bulk registration may carry.
const MAX_BULK: usize = 1_000;

/// An endpoint as registered: the fields of an endpoint of a `[[region]]` table (`address`
/// may be left out of a `PUT`: the path gives it), and `ttl`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // read as JSON and checked field by field; here for the OpenAPI document
pub struct RegistrationBody {
    #[serde(flatten)]
    pub endpoint: FileEndpoint,
    /// A lease: the endpoint is removed unless renewed (by the same `PUT` or a heartbeat)
    /// within this long: "30s", "2m", or seconds as a number; 1s to 24h. Absent: no lease.
    #[schema(value_type = Option<String>, example = "30s")]
    pub ttl: Option<FileDuration>,
}

/// A bulk registration: every endpoint is registered in one change, or none is.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // read as JSON and checked field by field; here for the OpenAPI document
pub struct BulkBody {
    pub endpoints: Vec<RegistrationBody>,
}

/// A lease renewed.
#[derive(Serialize, ToSchema)]
pub struct Renewed {
    /// Seconds until it runs out unless renewed again: a full TTL.
    pub ttl_secs: f64,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Remove the last endpoint of a region a pool lists (the region goes down and its
    /// clients fail over).
    #[serde(default)]
    pub force: bool,
}

/// One registration out of a JSON object: `ttl` taken out, the rest an endpoint. `at` is the
/// field prefix of its errors ("" or "endpoints[3].").
fn registration(value: Value, path_address: Option<&str>, at: &str) -> Result<Registration, ApiError> {
    let Value::Object(mut fields) = value else {
        return Err(ApiError::unprocessable("an endpoint is a JSON object", at.trim_end_matches('.')));
    };
    let ttl = match fields.remove("ttl") {
        None | Some(Value::Null) => None,
        Some(ttl) => Some(
            serde_json::from_value::<FileDuration>(ttl)
                .map_err(|e| ApiError::unprocessable(format!("not a duration: {e}"), &format!("{at}ttl")))?,
        ),
    };
    if let Some(target) = path_address {
        // The path names the endpoint: an address, or else a name endpoint's name. The body
        // may leave it out or repeat it, not name another.
        let (key, other) =
            if target.parse::<std::net::IpAddr>().is_ok() { ("address", "name") } else { ("name", "address") };
        if let Some(given) = fields.get(other).filter(|v| !v.is_null()) {
            let message = format!("{given} is not the endpoint of the path, {}", shown(target));
            return Err(ApiError::unprocessable(message, other));
        }
        match fields.get(key) {
            None | Some(Value::Null) => {
                fields.insert(key.into(), Value::String(target.to_owned()));
            }
            Some(Value::String(given)) if same_endpoint(given, target) => {}
            Some(given) => {
                let message = format!("{given} is not the {key} of the path, {}", shown(target));
                return Err(ApiError::unprocessable(message, key));
            }
        }
    }
    let endpoint = serde_json::from_value::<FileEndpoint>(Value::Object(fields)).map_err(|e| {
        let text = e.to_string();
        let field = text.split('`').nth(1).filter(|_| text.contains("field `")).unwrap_or("");
        ApiError::unprocessable(text.clone(), format!("{at}{field}").trim_end_matches('.'))
    })?;
    Ok(Registration { endpoint, ttl })
}

/// What a registration-scoped token may not do: set an endpoint's `state`, or register over
/// or remove an endpoint the API did not register (one of the configuration file). Checked
/// against the changes in force; an admin token (`scope` None) may do all of it.
fn registrant_may(
    shared: &Shared,
    scope: Option<&Extension<RegisterOnly>>,
    region: &str,
    items: &[(&str, &Registration)],
    target: Option<&str>,
) -> Result<(), ApiError> {
    if scope.is_none() {
        return Ok(());
    }
    for (at, item) in items {
        if item.endpoint.state.is_some() {
            let message = "a registration token may not set an endpoint's state (drain, force_up): that takes an \
                           admin token";
            return Err(ApiError::new(StatusCode::FORBIDDEN, message, Some(&format!("{at}state"))));
        }
    }
    let published = shared.0.control.published();
    let targets = items.iter().map(|(_, i)| target_of(&i.endpoint)).chain(target);
    for target in targets {
        if published.persisted.changes.is_configured_endpoint(&published.file, region, target) {
            let message = format!(
                "{} is an endpoint of region {} in the configuration file, not one registered through the API: a \
                 registration token may not replace or remove it (that takes an admin token)",
                shown(target),
                shown(region)
            );
            return Err(ApiError::new(StatusCode::FORBIDDEN, message, None));
        }
    }
    Ok(())
}

fn endpoint_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), ApiError> {
    let Path((region, address)) = path.map_err(path_rejection)?;
    Ok((region, address))
}

/// Registers an endpoint into a region, or replaces the one of that address (its weight or
/// drain set by the API goes with it). Validated as an endpoint of the configuration file;
/// in the answers on the first query after the answer, its probes started. With `ttl`, it is
/// removed unless renewed within the TTL; sending it again renews it.
#[utoipa::path(put, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}", tag = "registration",
    params(("region" = String, Path), ("endpoint" = String, Path, description = "The endpoint's address, or a name endpoint's name")),
    request_body = RegistrationBody,
    responses((status = 200, body = Applied), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn put(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    scope: Option<Extension<RegisterOnly>>,
    path: Result<Path<(String, String)>, PathRejection>,
    Body(body): Body<Value>,
) -> Result<Json<Applied>, ApiError> {
    let (region, address) = endpoint_path(path)?;
    let item = registration(body, Some(&address), "")?;
    registrant_may(&shared, scope.as_ref(), &region, &[("", &item)], None)?;
    let change = Change::PutEndpoints { region, items: vec![item], bulk: false };
    let generation = shared.0.control.change(change, &token.0).await?;
    Ok(Json(Applied { generation }))
}

/// Registers several endpoints into a region in one change: all of them, or none (the
/// refusal names the item, `endpoints[3].weight`). The body is `{"endpoints": [...]}` or the
/// list itself; at most 1000.
#[utoipa::path(post, path = "/api/v1/lb/regions/{region}/endpoints", tag = "registration",
    params(("region" = String, Path)), request_body = BulkBody,
    responses((status = 200, body = Applied), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn bulk(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    scope: Option<Extension<RegisterOnly>>,
    region: Result<Path<String>, PathRejection>,
    Body(body): Body<Value>,
) -> Result<Json<Applied>, ApiError> {
    let Path(region) = region.map_err(path_rejection)?;
    let list = match body {
        Value::Array(list) => list,
        Value::Object(mut fields) => match (fields.remove("endpoints"), fields.keys().next()) {
            (_, Some(other)) => {
                return Err(ApiError::unprocessable(format!("unknown field {}", shown(other)), other));
            }
            (Some(Value::Array(list)), None) => list,
            _ => return Err(ApiError::unprocessable("send the endpoints as a list", "endpoints")),
        },
        _ => return Err(ApiError::unprocessable("send {\"endpoints\": [...]}", "endpoints")),
    };
    if list.len() > MAX_BULK {
        let message = format!("{} endpoints: one registration takes at most {MAX_BULK}", list.len());
        return Err(ApiError::unprocessable(message, "endpoints"));
    }
    let items = list
        .into_iter()
        .enumerate()
        .map(|(k, item)| registration(item, None, &format!("endpoints[{k}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let named: Vec<String> = (0..items.len()).map(|k| format!("endpoints[{k}].")).collect();
    let checked: Vec<(&str, &Registration)> = named.iter().map(String::as_str).zip(&items).collect();
    registrant_may(&shared, scope.as_ref(), &region, &checked, None)?;
    let change = Change::PutEndpoints { region, items, bulk: true };
    let generation = shared.0.control.change(change, &token.0).await?;
    Ok(Json(Applied { generation }))
}

/// Takes an endpoint out of its region: it leaves the answers and its probes stop at once.
/// 409 when it is the last endpoint of a region a pool lists, unless `force=true`.
#[utoipa::path(delete, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}", tag = "registration",
    params(("region" = String, Path), ("endpoint" = String, Path), RemoveQuery),
    responses((status = 200, body = Applied), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(shared): State<Shared>,
    Extension(token): Extension<TokenName>,
    scope: Option<Extension<RegisterOnly>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Json<Applied>, ApiError> {
    let (region, address) = endpoint_path(path)?;
    registrant_may(&shared, scope.as_ref(), &region, &[], Some(&address))?;
    let Query(RemoveQuery { force }) = query.map_err(query_rejection)?;
    let generation = shared.0.control.change(Change::RemoveEndpoint { region, address, force }, &token.0).await?;
    Ok(Json(Applied { generation }))
}

/// Renews a registered endpoint's lease for a full TTL. Cheap: nothing is validated, saved
/// or published. 404 for an endpoint not registered (expired, say: register it again), 409
/// for one registered without a lease.
#[utoipa::path(post, path = "/api/v1/lb/regions/{region}/endpoints/{endpoint}/heartbeat", tag = "registration",
    params(("region" = String, Path), ("endpoint" = String, Path)),
    responses((status = 200, body = Renewed), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn heartbeat(
    State(shared): State<Shared>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(StatusCode, Json<Renewed>), ApiError> {
    let (region, address) = endpoint_path(path)?;
    let ttl: Duration = shared.0.control.heartbeat(&region, &address).await?;
    Ok((StatusCode::OK, Json(Renewed { ttl_secs: ttl.as_secs_f64() })))
}
