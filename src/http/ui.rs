//! The web UI and GraphiQL, built from `ui/` (`ui/dist`, committed) and embedded in the
//! binary: `GET /graphql` is GraphiQL from pinned assets, `/assets/*` the app's
//! content-hashed files (cached for a year), and any other `GET` outside the API the
//! app's `index.html` (never cached), whose router shows the page for that path.
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::HttpError;
use crate::registry::RegistryError;

#[derive(rust_embed::Embed)]
#[folder = "ui/dist/"]
struct Built;

/// Paths that belong to the API: they keep their own 404s.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/graphql")
        || path.starts_with("/healthz")
        || path.starts_with("/readyz")
        || path == "/metrics"
}

fn file(name: &str, cache: &'static str) -> Option<Response> {
    let found = Built::get(name)?;
    let mime = found.metadata.mimetype();
    let mut response = found.data.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}

const NO_CACHE: &str = "no-cache";
const FOREVER: &str = "public, max-age=31536000, immutable";

/// `GET /graphql`: GraphiQL, served from the binary.
pub async fn graphiql() -> Response {
    file("graphiql.html", NO_CACHE).unwrap_or_else(missing_build)
}

/// Whatever no route took: an asset, the app for a client-side route, or the API's 404.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let reads = method == Method::GET || method == Method::HEAD;
    if !reads || is_api(path) {
        return HttpError::from(RegistryError::NotFound("no such route".into())).into_response();
    }
    if let Some(asset) = path.strip_prefix("/assets/") {
        return file(&format!("assets/{asset}"), FOREVER).unwrap_or_else(|| {
            HttpError::from(RegistryError::NotFound(format!("no asset {asset}"))).into_response()
        });
    }
    file("index.html", NO_CACHE).unwrap_or_else(missing_build)
}

fn missing_build() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the web UI was not built into this binary: run `npm ci && npm run build` in ui/",
    )
        .into_response()
}
