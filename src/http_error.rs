//! The error answer of the HTTP doors other than GraphQL (Kubeflow REST, OpenLineage):
//! `{code, message}` as Kubeflow's own server writes it, `code` being the HTTP status
//! text and the status the one the registry error's code calls for.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::registry::{ErrorCode, RegistryError};

#[derive(Debug)]
pub struct HttpError(pub RegistryError);

impl From<RegistryError> for HttpError {
    fn from(e: RegistryError) -> Self {
        Self(e)
    }
}

/// The HTTP status of each registry error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::InvalidInput | ErrorCode::LimitExceeded => StatusCode::BAD_REQUEST,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.0.log_internal();
        let status = status_of(self.0.code());
        let body = json!({
            "code": status.canonical_reason().unwrap_or("Error"),
            "message": self.0.public_message(),
        });
        (status, axum::Json(body)).into_response()
    }
}
