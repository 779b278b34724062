//! OpenLineage ingestion (`POST /api/v1/lineage`) and a Marquez-shaped read
//! (`GET /api/v1/lineage`), thin over `registry/` and `lineage/`.
use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub mod event;
pub mod ingest;
pub mod marquez;
pub mod writer;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::http::error::HttpError;
use crate::registry::RegistryError;
use crate::registry::history::{Actor, Via};

async fn post_event(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    principal.require(Role::Editor)?;
    let bytes = body.map_err(HttpError::body)?;
    let ingested = async {
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::invalid("body", format!("is not valid JSON: {e}")))?;
        let event = event::parse(&value, state.limits.max_event_datasets)?;
        let actor = Actor::new(principal.subject, Via::OpenLineage);
        state.ingester.ingest(event, actor).await
    }
    .await;
    crate::metrics::openlineage_event(ingested.is_ok());
    ingested?;
    Ok(StatusCode::CREATED.into_response())
}

async fn get_lineage(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, HttpError> {
    principal.require(Role::Reader)?;
    let node_id = q
        .get("nodeId")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RegistryError::invalid("nodeId", "is required"))?;
    let depth = match q.get("depth") {
        None => 20,
        Some(d) => d.parse::<u32>().map_err(|_| {
            RegistryError::invalid("depth", format!("{d:?} is not a non-negative integer"))
        })?,
    };
    // the walk runs its SQLite statements on the calling thread: keep them off the
    // async workers, as GraphQL's walks are (graphql::execute)
    let node_id = node_id.clone();
    let handle = tokio::runtime::Handle::current();
    let graph = tokio::task::spawn_blocking(move || {
        handle.block_on(marquez::graph(&state, &node_id, depth))
    })
    .await
    .map_err(|e| RegistryError::Internal(format!("the lineage read stopped: {e}")))??;
    Ok((StatusCode::OK, axum::Json(graph)).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/lineage", get(get_lineage).post(post_event))
}
