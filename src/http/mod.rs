//! HTTP plumbing every door shares: the `{code, message}` error answer (`error.rs`) and
//! the layers every route runs inside (body bound, JSON-only writes, CORS, panics
//! answered as 500s, tracing).
pub mod error;

use std::any::Any;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;

/// Wraps `routes` in the layers every door runs inside.
pub fn layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(middleware::from_fn_with_state(state.clone(), time_budget))
        .layer(middleware::from_fn(json_only))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .layer(cors(&state.cors_origins))
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(state)
}

/// Cross-origin requests only from the origins listed (`--cors-origins`); none by
/// default, so a page elsewhere can neither read answers nor send JSON writes (they need
/// a preflight that fails).
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION, header::ACCEPT])
}

/// Writes carry JSON: a POST, PUT or PATCH with another content type (`text/plain`, a
/// form) is what a browser sends cross-site without asking first, so it is refused with
/// 415 before any handler runs. A body with no content type at all is read as JSON: a
/// browser always names one, and scripts often send none.
async fn json_only(request: Request, next: Next) -> Response {
    let writes = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    let content_type = request.headers().get(header::CONTENT_TYPE);
    if writes && content_type.is_some() && !is_json(content_type) {
        let message = "request bodies must be JSON: send Content-Type: application/json";
        return if request.uri().path() == "/graphql" {
            let body =
                json!({"errors": [{"message": message, "extensions": {"code": "INVALID_INPUT"}}]});
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, axum::Json(body)).into_response()
        } else {
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            let body = json!({"code": status.canonical_reason(), "message": message});
            (status, axum::Json(body)).into_response()
        };
    }
    next.run(request).await
}

/// A request gets `--request-timeout`; past it the handler (and the database work it
/// waits on) is dropped and the answer is 503 naming the bound. GraphQL keeps its own
/// budget, which also stops the thread its operation runs on (`graphql::execute`).
async fn time_budget(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/graphql" {
        return next.run(request).await;
    }
    let budget = state.limits.request_timeout;
    match tokio::time::timeout(budget, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            let message = format!(
                "the request took longer than {} (--request-timeout)",
                humantime::format_duration(budget)
            );
            let body = json!({"code": status.canonical_reason(), "message": message});
            (status, axum::Json(body)).into_response()
        }
    }
}

/// `application/json` or any `+json` type, parameters (charset) aside.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.rsplit_once('+').is_some_and(|(kind, suffix)| {
            kind.to_ascii_lowercase().starts_with("application/")
                && suffix.eq_ignore_ascii_case("json")
        })
}

/// A handler that panicked answers 500 (the process keeps serving); what it said goes
/// to the log, not to the client.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a request handler panicked");
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    let body = json!({"code": status.canonical_reason(), "message": "internal error"});
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let ok = |v: &str| is_json(Some(&HeaderValue::from_str(v).unwrap()));
        assert!(ok("application/json"));
        assert!(ok("application/json; charset=utf-8"));
        assert!(ok("Application/JSON"));
        assert!(ok("application/graphql-response+json"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/x-www-form-urlencoded"));
        assert!(!ok("multipart/form-data; boundary=x"));
        assert!(!ok("text/plain+json"));
        assert!(!is_json(None));
    }
}
