//! Bearer-token authentication: no session, the token checked on every request in constant
//! time, and never logged or echoed. An address that fails too often gets 429 until its
//! window passes, whatever it sends (see `lockout`). The name of the token that matched goes
//! with the request ([`TokenName`]), so a change records who made it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::listener::Client;
use super::{ApiError, Shared, clock};
use crate::config::api::TokenScope;

/// The name of the token a request was authenticated with (`[[api.token]]`'s `name`, or
/// "default"): a request extension every authenticated handler can take.
#[derive(Debug, Clone)]
pub struct TokenName(pub Arc<str>);

/// Present on a request authenticated with a `scope = "register"` token: such a token may
/// only touch endpoints registered through the API, and may not set their `state`.
#[derive(Debug, Clone, Copy)]
pub struct RegisterOnly;

pub async fn require_token(State(shared): State<Shared>, mut request: Request, next: Next) -> Response {
    // The listener always sets it; without it (a router served some other way) no address counts.
    // An exempt address (loopback by default: the operator's own) is never locked out.
    let client = request.extensions().get::<Client>().map(|client| client.0.ip()).filter(|&ip| shared.may_lock_out(ip));
    let now = clock();
    if let Some(wait) = client.and_then(|client| shared.lockout().refused_for(client, now)) {
        return too_many(wait);
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let credentials = shared.0.credentials.load();
    if credentials.tokens.is_empty() {
        return unauthorized(
            "no API token is configured on the server: set api.token_env, token_file or token, or [[api.token]]",
        );
    }
    let Some(given) = given else { return failed(&shared, client, "send Authorization: Bearer <token>") };
    // Every token is compared, so that the time taken does not tell which one came close.
    let mut matched = None;
    for token in &credentials.tokens {
        if same(token.secret.as_bytes(), given.as_bytes()) && matched.is_none() {
            matched = Some(token);
        }
    }
    let Some(token) = matched else { return failed(&shared, client, "the token is not valid") };
    if let TokenScope::Register(regions) = &token.scope
        && !registers(request.method(), request.uri().path(), regions)
    {
        let why = format!(
            "token {} may only register, remove and renew endpoints of regions {} (and read those regions)",
            token.name,
            regions.join(", ")
        );
        return ApiError::new(StatusCode::FORBIDDEN, why, None).into_response();
    }
    if matches!(token.scope, TokenScope::Register(_)) {
        request.extensions_mut().insert(RegisterOnly);
    }
    request.extensions_mut().insert(TokenName(token.name.as_str().into()));
    next.run(request).await
}

/// Whether a registration-scoped token may make this request: `GET` of one of its regions,
/// a bulk `POST` of endpoints into one, `PUT` or `DELETE` of one endpoint, its heartbeat.
/// The path is compared as sent: a region name escaped in it is refused, not decoded.
fn registers(method: &Method, path: &str, regions: &[String]) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/lb/regions/") else { return false };
    let parts: Vec<&str> = rest.split('/').collect();
    let Some(region) = parts.first() else { return false };
    if !regions.iter().any(|r| r == region) {
        return false;
    }
    matches!(
        (method, &parts[1..]),
        (&Method::GET, [])
            | (&Method::POST, ["endpoints"])
            | (&Method::PUT | &Method::DELETE, ["endpoints", _])
            | (&Method::POST, ["endpoints", _, "heartbeat"])
    )
}

/// A missing or wrong token: counted against the client's address. A server without a token
/// is its operator's mistake, not the client's, and counts nothing.
fn failed(shared: &Shared, client: Option<IpAddr>, why: &str) -> Response {
    shared.0.observers.metrics.record_api_auth_failure();
    if let Some(client) = client
        && shared.lockout().fail(client, clock())
    {
        let limits = &shared.0.limits;
        warn!(
            %client,
            failures = limits.max_failed_auth,
            window_secs = limits.failed_auth_window.as_secs(),
            "admin API: too many failed authentications; refusing the address for a window"
        );
    }
    unauthorized(why)
}

/// 429 with Retry-After in whole seconds, rounded up so a client that waits that long is let in.
fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let why = format!("too many failed authentications from this address: try again in {secs} s");
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, why, None).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

fn unauthorized(why: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, why, None).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"meridian\""));
    response
}

/// Compares in time that depends on the lengths only, not on where the first difference is.
fn same(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = u64::from(expected.len() != given.len());
    for i in 0..expected.len().max(given.len()) {
        let a = expected.get(i).copied().unwrap_or(0);
        let b = given.get(i).copied().unwrap_or(0xff);
        difference |= u64::from(a ^ b);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn a_registration_token_reaches_its_regions_endpoints_only() {
        use super::{Method, registers};
        let regions = ["eu-west".to_owned()];
        let allowed = [
            (Method::GET, "/api/v1/lb/regions/eu-west"),
            (Method::POST, "/api/v1/lb/regions/eu-west/endpoints"),
            (Method::PUT, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1"),
            (Method::DELETE, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1"),
            (Method::POST, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1/heartbeat"),
        ];
        for (method, path) in allowed {
            assert!(registers(&method, path, &regions), "{method} {path}");
        }
        let refused = [
            (Method::GET, "/api/v1/lb/regions"),
            (Method::DELETE, "/api/v1/lb/regions/eu-west"),
            (Method::PUT, "/api/v1/lb/regions/us-east/endpoints/192.0.2.1"),
            (Method::PATCH, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1"),
            (Method::POST, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1/drain"),
            (Method::PUT, "/api/v1/lb/regions/eu-west/endpoints/192.0.2.1/x"),
            (Method::PUT, "/api/v1/lb/regions/eu%2Dwest/endpoints/192.0.2.1"),
            (Method::PUT, "/api/v1/lb/strategy"),
            (Method::POST, "/api/v1/reload"),
        ];
        for (method, path) in refused {
            assert!(!registers(&method, path, &regions), "{method} {path}");
        }
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(!same(b"s3cret", b"s3cret!"));
        assert!(!same(b"s3cret", b"S3cret"));
        assert!(!same(b"s3cret", b""));
    }
}
