//! The HTTP edge of `ctl`: one request to the admin API, with the token and a deadline, and its
//! answer as JSON or as a [`CtlError`]. The token goes in a header marked sensitive and is never
//! part of an error.

use std::path::Path;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Certificate, StatusCode, Url};
use serde_json::Value;

use super::{CtlError, Request};

/// A client of one server's admin API.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    timeout: Duration,
}

impl Client {
    /// A client of the API at `base`, sending `token`; every request ends within `timeout`.
    /// With `roots`, an https server's certificate must chain to one of them (and only them).
    ///
    /// # Errors
    /// The token cannot be sent in a header, or the HTTP client cannot be built.
    pub fn new(base: Url, token: &str, roots: Option<Vec<Certificate>>, timeout: Duration) -> Result<Self, CtlError> {
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| CtlError::Token("the token holds characters a header cannot carry".into()))?;
        authorization.set_sensitive(true);
        let mut http = reqwest::Client::builder();
        if let Some(roots) = roots {
            http = http.tls_certs_only(roots);
        }
        let http = http
            .user_agent(concat!("meridian-ctl/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout)
            // The admin API is an internal address; a proxy from the environment would only be
            // a surprise (and would see the token).
            .no_proxy()
            // The API never redirects: one that does is not the API, and must not get the token.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CtlError::Client(innermost(&e)))?;
        Ok(Self { http, base, authorization, timeout })
    }

    /// Sends the request; the answer's JSON (`null` for an empty body) on a 2xx.
    ///
    /// # Errors
    /// No connection, no answer within the timeout, an error status (with the API's message),
    /// or an answer that is not JSON.
    pub async fn send(&self, request: &Request) -> Result<Value, CtlError> {
        let url = url_of(&self.base, &request.path, &request.query);
        let mut builder =
            self.http.request(request.method.clone(), url.clone()).header(AUTHORIZATION, &self.authorization);
        if let Some(body) = &request.body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let fail = |e: reqwest::Error| self.transport_error(&url, &e);
        let response = builder.send().await.map_err(fail)?;
        let status = response.status();
        let bytes = read_bounded(response).await.map_err(|e| match e {
            Bounded::Transport(e) => fail(e),
            Bounded::TooLarge => CtlError::NotJson {
                url: url.to_string(),
                reason: format!("an answer of more than {MAX_ANSWER_BYTES} octets"),
            },
        })?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| CtlError::NotJson { url: url.to_string(), reason: e.to_string() })
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> CtlError {
        let url = url.to_string();
        if error.is_timeout() {
            CtlError::Timeout { url, secs: self.timeout.as_secs() }
        } else if error.is_connect() {
            let reason = innermost(error);
            // rustls says "invalid peer certificate: ...": the server answered, TLS refused it.
            if reason.contains("certificate") {
                return CtlError::Certificate { url, reason };
            }
            CtlError::Connect { url, reason }
        } else {
            let mut reason = innermost(error);
            // A TLS server read as plain HTTP answers with a handshake record, not a status line.
            if url.starts_with("http://") && reason.contains("invalid HTTP version") {
                reason.push_str("; the API may speak HTTPS: give --api https://...");
            }
            CtlError::Transport { url, reason }
        }
    }
}

/// The certificates of a `--cacert` PEM file.
///
/// # Errors
/// The file cannot be read or holds no PEM certificate.
pub fn roots(path: &Path) -> Result<Vec<Certificate>, CtlError> {
    let fail = |reason: String| CtlError::CaCert { path: path.to_owned(), reason };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    match Certificate::from_pem_bundle(&pem) {
        Ok(roots) if !roots.is_empty() => Ok(roots),
        Ok(_) => Err(fail("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into())),
        Err(e) => Err(fail(innermost(&e))),
    }
}

/// The URL of an API path under `base` (which may have a path of its own, behind a proxy).
/// Each segment is percent-encoded, so a region named `a/b` stays one segment.
pub fn url_of(base: &Url, path: &[String], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(path);
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

/// Parses `--api`: an http or https URL; a bare `HOST:PORT` is taken as `http://HOST:PORT`.
///
/// # Errors
/// Not a URL, another scheme, or no host.
pub fn base_url(text: &str) -> Result<Url, CtlError> {
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    let bad = |reason: &str| CtlError::Url { url: text.to_owned(), reason: reason.to_owned() };
    let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(bad("it names no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    Ok(url)
}

/// An error answer: the API's `{"error", "field", "problems"}`, or the body as text from
/// something else (a proxy in front, say).
pub fn api_error(status: StatusCode, body: &[u8]) -> CtlError {
    let (message, field, problems) = match serde_json::from_slice::<Value>(body) {
        Ok(json) if json["error"].is_string() => {
            let text = |v: &Value, key: &str| v[key].as_str().map(str::to_owned);
            let problems = json["problems"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .map(|p| (text(p, "field").unwrap_or_default(), text(p, "error").unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            (text(&json, "error").unwrap_or_default(), text(&json, "field"), problems)
        }
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(300).map(|c| if c.is_control() { ' ' } else { c }).collect();
            (if text.is_empty() { "no details".to_owned() } else { text }, None, Vec::new())
        }
    };
    CtlError::Api { status: status.to_string(), message, field, problems }
}

/// The deepest cause of a transport error ("Connection refused (os error 111)"): reqwest's own
/// message is only "error sending request".
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}

/// The largest answer read: the API's largest (analytics of many pools) is far smaller.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

enum Bounded {
    Transport(reqwest::Error),
    TooLarge,
}

/// The body of `response`, read chunk by chunk up to [`MAX_ANSWER_BYTES`].
async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, Bounded> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Bounded::Transport)? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(Bounded::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &[&str]) -> Vec<String> {
        path.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn paths_are_joined_under_the_base_and_each_segment_is_encoded() {
        let base = base_url("http://127.0.0.1:8053").unwrap();
        let url = url_of(&base, &segments(&["api", "v1", "lb", "regions", "eu/west", "endpoints", "2001:db8::1"]), &[]);
        assert_eq!(url.as_str(), "http://127.0.0.1:8053/api/v1/lb/regions/eu%2Fwest/endpoints/2001:db8::1");
        let behind_proxy = base_url("https://lb.example/meridian/").unwrap();
        let url = url_of(
            &behind_proxy,
            &segments(&["api", "v1", "lb", "health", "history"]),
            &[("region", "a b".to_owned()), ("limit", "5".to_owned())],
        );
        assert_eq!(url.as_str(), "https://lb.example/meridian/api/v1/lb/health/history?region=a+b&limit=5");
    }

    #[test]
    fn the_base_url_must_be_http_with_a_host() {
        assert_eq!(base_url("127.0.0.1:8053").unwrap().as_str(), "http://127.0.0.1:8053/");
        assert_eq!(base_url("[::1]:8053").unwrap().as_str(), "http://[::1]:8053/");
        for bad in ["ftp://host/", "http://", "http://host/?x=1", "not a url at all"] {
            let error = base_url(bad).unwrap_err().to_string();
            assert!(error.starts_with(&format!("--api {bad:?} is not usable")), "{bad}: {error}");
        }
    }

    #[test]
    fn error_answers_keep_the_status_message_field_and_problems() {
        let body = br#"{"error":"no region \"x\"","field":"region"}"#;
        assert_eq!(
            api_error(StatusCode::NOT_FOUND, body).to_string(),
            "404 Not Found: no region \"x\" (field: region)"
        );
        let body =
            br#"{"error":"bad","field":"a","problems":[{"field":"a","error":"bad"},{"field":"b","error":"worse"}]}"#;
        assert_eq!(
            api_error(StatusCode::UNPROCESSABLE_ENTITY, body).to_string(),
            "422 Unprocessable Entity: bad (field: a)\n  a: bad\n  b: worse"
        );
        assert_eq!(
            api_error(StatusCode::UNAUTHORIZED, br#"{"error":"the token is not valid"}"#).to_string(),
            "401 Unauthorized: the token is not valid"
        );
        assert_eq!(
            api_error(StatusCode::BAD_GATEWAY, b"<html>\nbad gateway</html>").to_string(),
            "502 Bad Gateway: <html> bad gateway</html>"
        );
        assert_eq!(api_error(StatusCode::BAD_GATEWAY, b"").to_string(), "502 Bad Gateway: no details");
    }
}
