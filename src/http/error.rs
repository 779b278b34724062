//! The error answer of the HTTP doors other than GraphQL (Kubeflow REST, OpenLineage):
//! `{code, message}` as Kubeflow's own server writes it, `code` being the HTTP status
//! text and the status the one the registry error's code calls for.
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::registry::{ErrorCode, RegistryError};

#[derive(Debug)]
pub enum HttpError {
    Registry(RegistryError),
    /// The body was larger than `--max-body-bytes`.
    BodyTooLarge,
}

impl From<RegistryError> for HttpError {
    fn from(e: RegistryError) -> Self {
        Self::Registry(e)
    }
}

impl HttpError {
    /// A body that could not be read: too large (413), or cut short (400).
    pub fn body(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::BodyTooLarge
        } else {
            RegistryError::invalid("body", rejection.body_text()).into()
        }
    }
}

/// The HTTP status of each registry error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::InvalidInput | ErrorCode::LimitExceeded => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Registry(err) => {
                err.log_internal();
                (status_of(err.code()), err.public_message())
            }
            Self::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is larger than the server takes (--max-body-bytes)".into(),
            ),
        };
        let body = json!({
            "code": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge());
        }
        response
    }
}

/// The `WWW-Authenticate` value of every 401.
pub fn challenge() -> HeaderValue {
    HeaderValue::from_static(r#"Bearer realm="modelgraph""#)
}
