//! HTTP plumbing every door shares: the `{code, message}` error answer (`error.rs`) and
//! the layers every route runs inside (body bound, JSON-only writes, CORS, panics
//! answered as 500s, tracing).
pub mod conn;
pub mod error;
pub mod ui;

use std::any::Any;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::registry::{ErrorCode, RegistryError};

/// Wraps `routes` in the layers every door runs inside.
pub fn layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .layer(middleware::from_fn_with_state(state.clone(), time_budget))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), read_body))
        .layer(middleware::from_fn(json_only))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .layer(cors(&state.cors_origins))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// The GraphQL operations a request ran, by name, for the access log.
#[derive(Clone, Debug)]
pub struct Operations(pub String);

/// Which door a path belongs to.
fn door(path: &str) -> &'static str {
    if path.starts_with("/graphql") {
        "graphql"
    } else if path.starts_with("/api/v1/lineage") {
        "openlineage"
    } else if path.starts_with("/api/") {
        "rest"
    } else if path.starts_with("/healthz") || path.starts_with("/readyz") || path == "/metrics" {
        "probe"
    } else {
        "ui"
    }
}

/// One line per request at info level (target `access`): method, path (never the query
/// string, never a header), door, GraphQL operation names, status, duration and a
/// request id, which the answer carries as `x-request-id`.
async fn access_log(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut response = next.run(request).await;
    let operations = response
        .extensions()
        .get::<Operations>()
        .map(|o| o.0.clone())
        .unwrap_or_default();
    let door = door(&path);
    let seconds = started.elapsed().as_secs_f64();
    crate::metrics::request(door, &operations, response.status().as_u16(), seconds);
    tracing::info!(
        target: "access",
        method = %method,
        path = %path,
        door,
        operation = %operations,
        status = response.status().as_u16(),
        duration_ms = seconds * 1000.0,
        request_id = %id,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
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
        return refuse(
            &request,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidInput,
            "request bodies must be JSON: send Content-Type: application/json".into(),
        );
    }
    next.run(request).await
}

/// The body is read whole before any handler runs, within `--max-body-bytes` (413) and
/// `--body-read-timeout` counted from the headers (408, and the connection is closed: a
/// client that trickles its body holds nothing for long).
async fn read_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.limits;
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, limits.max_body_bytes);
    let bytes = match tokio::time::timeout(limits.body_read_timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(err)) => {
            let request = Request::from_parts(parts, Body::empty());
            let (status, code, message) = match body_failure(&err) {
                BodyFailure::TooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::LimitExceeded,
                    format!(
                        "the request body is larger than {} bytes (--max-body-bytes)",
                        limits.max_body_bytes
                    ),
                ),
                BodyFailure::Idle => (
                    StatusCode::REQUEST_TIMEOUT,
                    ErrorCode::LimitExceeded,
                    "no byte of the request body arrived for --idle-timeout".to_owned(),
                ),
                BodyFailure::Other => (
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidInput,
                    format!("the request body could not be read: {err}"),
                ),
            };
            return refuse(&request, status, code, message);
        }
        Err(_elapsed) => {
            let request = Request::from_parts(parts, Body::empty());
            let message = format!(
                "the request body did not arrive within {} (--body-read-timeout)",
                humantime::format_duration(limits.body_read_timeout)
            );
            let mut response = refuse(
                &request,
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::LimitExceeded,
                message,
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

enum BodyFailure {
    TooLarge,
    /// The connection's idle bound ended it (`conn::IdleBound`).
    Idle,
    Other,
}

fn body_failure(err: &axum::Error) -> BodyFailure {
    let mut cause = std::error::Error::source(err);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return BodyFailure::TooLarge;
        }
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return BodyFailure::Idle;
        }
        cause = error.source();
    }
    BodyFailure::Other
}

/// Who the request is (`auth::Authenticator`), put in its extensions for the doors'
/// role checks. A credential that does not check out, or none where one is needed, is
/// 401 with `WWW-Authenticate: Bearer`. Health probes, GraphiQL and the web UI's pages
/// stay open.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    let open = path.starts_with("/healthz")
        || path.starts_with("/readyz")
        // scraped by Prometheus: counts and timings, no data
        || path == "/metrics"
        || (path == "/graphql" && reads)
        // a WebSocket sends its credential in connection_init
        || path == "/graphql/ws"
        // the web UI's pages and assets: the app sends the credential with its queries
        || (reads && !ui::is_api(path));
    if open {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let principal = match state.auth.principal(request.headers(), peer).await {
        Ok(p) if p.role.is_none() && !p.authenticated => Err(RegistryError::Unauthenticated(
            "a credential is required: send Authorization: Bearer <token>".into(),
        )),
        other => other,
    };
    match principal {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(err) => {
            let code = err.code();
            let status = if code == ErrorCode::Unauthenticated {
                StatusCode::UNAUTHORIZED
            } else {
                error::status_of(code)
            };
            err.log_internal();
            let mut response = refuse(&request, status, code, err.public_message());
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, error::challenge());
            }
            response
        }
    }
}

/// A refusal before any handler ran, in the shape of the door asked: a GraphQL error
/// with `extensions.code` on `/graphql`, `{code, message}` (the HTTP status text) on
/// the others.
fn refuse(request: &Request, status: StatusCode, code: ErrorCode, message: String) -> Response {
    let body = if request.uri().path() == "/graphql" {
        json!({"errors": [{"message": message, "extensions": {"code": code.as_str()}}]})
    } else {
        json!({"code": status.canonical_reason(), "message": message})
    };
    (status, axum::Json(body)).into_response()
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
