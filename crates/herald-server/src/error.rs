//! The API's one error format: `{"error": {"code", "message", "field"?}}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_domain::FieldError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this needs the permission {}", .0.as_str())]
    Forbidden(herald_domain::Permission),
    /// Granting a role that carries a permission the caller lacks on that scope.
    #[error("granting {role} needs every permission it carries; you lack {} here", .missing.as_str())]
    Escalation {
        role: String,
        missing: herald_domain::Permission,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body is larger than the server accepts")]
    TooLarge,
    #[error("the body must be JSON, sent with `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{}", .0.message)]
    Conflict(FieldError),
    /// The database cannot serve now (unreachable, full, shutting down): try again shortly.
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: unauthorized, forbidden, not_found, malformed_json, payload_too_large,
    /// unsupported_media_type, invalid_field, conflict, unavailable, internal; method_not_allowed
    /// and bad_request for requests no handler could take.
    code: &'static str,
    message: String,
    /// The offending field, as a dotted path (`config.webhook_url`, `events[1]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ErrorBody {
    fn new(code: &'static str, message: String, field: Option<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        }
    }
}

/// Gives every error answer of the API the one JSON format, including those made below the
/// handlers: 405 for a method a path does not take, 400 for a path segment that does not
/// decode. The status and headers (`Allow` on a 405) stay; axum's plain-text reason becomes the
/// message.
pub(crate) async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // These bodies are axum's one-line reasons; anything longer is cut, not buffered.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let (code, field) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", None),
        StatusCode::BAD_REQUEST if text.starts_with("Invalid URL") => {
            ("bad_request", Some("path".to_owned()))
        }
        StatusCode::BAD_REQUEST => ("bad_request", None),
        StatusCode::NOT_FOUND => ("not_found", None),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", Some("body".to_owned())),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", Some("content-type".to_owned()))
        }
        status if status.is_server_error() => ("internal", None),
        _ => ("http_error", None),
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            format!("this path does not take this method; it takes: {allowed}")
        }
        (_, false) => text,
        (_, true) => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&ErrorBody::new(code, message, field))
        .expect("an error body serialises");
    Response::from_parts(parts, axum::body::Body::from(body))
}

impl ApiError {
    /// A failure of the server's own; one caused by the database being unavailable becomes
    /// [`ApiError::Unavailable`].
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        if caused_by_unavailable_store(&error) {
            tracing::warn!(error = %crate::error_chain(&error), "answering 503: the database is unavailable");
            return ApiError::Unavailable;
        }
        ApiError::Internal(Box::new(error))
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldError::new(field, message))
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::Invalid(error)
    }
}

impl From<herald_store::StoreError> for ApiError {
    fn from(error: herald_store::StoreError) -> Self {
        ApiError::internal(error)
    }
}

/// How long a client should wait before trying again after a 503.
const RETRY_AFTER_SECONDS: &str = "1";

fn caused_by_unavailable_store(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        let store = error
            .downcast_ref::<herald_store::StoreError>()
            .or_else(|| {
                error
                    .downcast_ref::<std::sync::Arc<herald_store::StoreError>>()
                    .map(|arc| arc.as_ref())
            });
        if store.is_some_and(|e| e.is_unavailable()) {
            return true;
        }
        current = error.source();
    }
    false
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field, message) = match &self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
                self.to_string(),
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None, self.to_string()),
            ApiError::Escalation { .. } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                Some("role".into()),
                self.to_string(),
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None, self.to_string()),
            ApiError::MalformedJson(_) => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                Some("body".into()),
                self.to_string(),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Some("body".into()),
                self.to_string(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("content-type".into()),
                self.to_string(),
            ),
            ApiError::Invalid(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some(e.field.clone()),
                e.message.clone(),
            ),
            ApiError::Conflict(e) => (
                StatusCode::CONFLICT,
                "conflict",
                Some(e.field.clone()),
                e.message.clone(),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                None,
                self.to_string(),
            ),
            ApiError::Internal(cause) => {
                tracing::error!(error = %crate::error_chain(cause.as_ref()), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    None,
                    "internal error".to_owned(),
                )
            }
        };
        let body = ErrorBody::new(code, message, field);
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
