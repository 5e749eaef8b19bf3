//! Bearer-token authentication: no session, the token checked on every request in constant
//! time, and never logged or echoed. An address that fails too often gets 429 until its
//! window passes, whatever it sends (see `lockout`). The name of the token that matched goes
//! with the request ([`TokenName`]), so a change records who made it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::listener::Client;
use super::{ApiError, Shared, clock};

/// The name of the token a request was authenticated with (`[[api.token]]`'s `name`, or
/// "default"): a request extension every authenticated handler can take.
#[derive(Debug, Clone)]
pub struct TokenName(pub Arc<str>);

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
            matched = Some(TokenName(token.name.as_str().into()));
        }
    }
    match matched {
        Some(name) => {
            request.extensions_mut().insert(name);
            next.run(request).await
        }
        None => failed(&shared, client, "the token is not valid"),
    }
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
    fn tokens_match_only_when_equal() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(!same(b"s3cret", b"s3cret!"));
        assert!(!same(b"s3cret", b"S3cret"));
        assert!(!same(b"s3cret", b""));
    }
}
