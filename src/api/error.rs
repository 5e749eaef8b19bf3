//! Errors as the API answers them: a status and `{"error": "...", "field": "..."}`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::config::names::plain_serde;
use crate::config::overlay::Refusal;
use crate::control::Refused;

/// A refused request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for a person.
    pub error: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, when there were several (a region with two bad endpoints, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub error: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, field: Option<&str>) -> Self {
        let field = field.filter(|f| !f.is_empty()).map(str::to_owned);
        Self { status, body: ErrorBody { error: error.into(), field, problems: Vec::new() } }
    }

    pub fn not_found(error: impl Into<String>, field: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, error, Some(field))
    }

    pub fn unprocessable(error: impl Into<String>, field: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error, Some(field))
    }

    pub fn bad_request(error: impl Into<String>, field: Option<&str>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Refusal(Refusal::NotFound { field, message }) => Self::not_found(message, &field),
            Refused::Refusal(Refusal::Conflict { field, message }) => {
                Self::new(StatusCode::CONFLICT, message, Some(&field))
            }
            Refused::Refusal(Refusal::Invalid { field, message }) => Self::unprocessable(message, &field),
            Refused::Invalid(problems) => {
                let first = problems.first().map(|p| (p.at.clone(), p.message.clone())).unwrap_or_default();
                let mut error = Self::unprocessable(first.1, &first.0);
                if problems.len() > 1 {
                    error.body.problems =
                        problems.into_iter().map(|p| FieldProblem { field: p.at, error: p.message }).collect();
                }
                error
            }
            Refused::Unsaved(why) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the change could not be saved, so it was not made: {why}"),
                None,
            ),
            Refused::Probe(why) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot probe: {why}"), None),
            Refused::Stopped => Self::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down", None),
        }
    }
}

/// A JSON body whose every rejection is an [`ApiError`]: 400 for malformed JSON, 415 without
/// a JSON content type, 413 over the size limit, 422 for unknown or missing fields and wrong
/// types (with the field named).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: endpoints[0]: unknown field `x`, ..."
            let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, rest)| rest);
            ApiError::unprocessable(plain_serde(detail, "an object"), &field_of(detail))
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::bad_request(format!("malformed JSON: {text}"), None),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the body as Content-Type: application/json", None)
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than the limit (api.max_body_bytes)",
            None,
        ),
        _ => ApiError::new(status, text, None),
    }
}

/// The field a serde message is about: "unknown field `x`" or "missing field `x`", after the
/// path serde gives ("endpoints[0]: ...").
fn field_of(detail: &str) -> String {
    let (path, message) = match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => (path, message),
        _ => ("", detail),
    };
    let named = message.split('`').nth(1).filter(|_| message.contains("field `"));
    match (path, named) {
        ("" | ".", Some(name)) => name.to_owned(),
        // An unknown field's path already ends with it.
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (path, Some(name)) => format!("{path}.{name}"),
        (path, None) => path.to_owned(),
    }
}

/// A path parameter that could not be read.
pub fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::bad_request(rejection.body_text(), None)
}

/// Query parameters that could not be read.
pub fn query_rejection(rejection: QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let detail = text.split_once("string: ").map_or(text.as_str(), |(_, rest)| rest);
    ApiError::bad_request(plain_serde(detail, "an object"), Some(&field_of(detail)))
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route: see GET /api/v1/openapi.json", None)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method", None)
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn the_field_is_read_from_serde_messages() {
        assert_eq!(field_of("unknown field `colour`, expected one of `name`, `endpoints`"), "colour");
        assert_eq!(field_of("endpoints[0]: unknown field `adress`, expected `address`"), "endpoints[0].adress");
        assert_eq!(field_of("endpoints[0].adress: unknown field `adress`, expected `address`"), "endpoints[0].adress");
        assert_eq!(field_of("colour: unknown field `colour`, expected `name`"), "colour");
        assert_eq!(field_of("missing field `name` at line 1 column 2"), "name");
        assert_eq!(field_of("weight: invalid type: string \"x\", expected i64"), "weight");
    }
}
