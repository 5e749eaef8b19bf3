//! Bearer-token authentication: no session, the token checked on every request in constant
//! time, and never logged or echoed.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Shared};

pub async fn require_token(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match (&shared.0.token, given) {
        (Some(token), Some(given)) if same(token.as_bytes(), given.as_bytes()) => next.run(request).await,
        (None, _) => unauthorized("no API token is configured on the server: set api.token_env, token_file or token"),
        (_, None) => unauthorized("send Authorization: Bearer <token>"),
        (_, Some(_)) => unauthorized("the token is not valid"),
    }
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
