//! The Kubeflow Model Registry REST API (the same routes under `/v1alpha3/` and `/v1/`),
//! thin over `registry/`: same store, same ids as GraphQL.
use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use entity::node;
use serde_json::Value;

mod convert;
mod list;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::http::error::HttpError;
use crate::registry::artifacts::upsert_artifact;
use crate::registry::history::{Actor, Via};
use crate::registry::read::{find_node, kind_of};
use crate::registry::{NodeKind, RegistryError, read, write};
use convert::{Body, artifact_kind, fields_in};
use list::{ListArgs, bodies, find_one, list_nodes, metric_history};

type Reply = Result<Response, HttpError>;
type Params = Query<HashMap<String, String>>;

fn ok(status: StatusCode, body: impl serde::Serialize) -> Reply {
    Ok((status, axum::Json(body)).into_response())
}

fn parse_body(body: Result<Bytes, BytesRejection>) -> Result<Value, HttpError> {
    let bytes = body.map_err(HttpError::body)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RegistryError::invalid("body", format!("is not valid JSON: {e}")).into())
}

fn path_id(raw: &str, field: &str) -> Result<i64, HttpError> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| RegistryError::invalid(field, format!("{raw:?} is not a valid id")).into())
}

/// A node of one of `kinds`, or 404.
async fn node_of(state: &AppState, kinds: &[NodeKind], id: i64) -> Result<node::Model, HttpError> {
    find_node(&state.db, id)
        .await?
        .filter(|n| kind_of(n).is_ok_and(|k| kinds.contains(&k)))
        .ok_or_else(|| RegistryError::not_found(format!("{} {id}", kinds[0].label())).into())
}

async fn one(state: &AppState, n: &node::Model) -> Result<Value, HttpError> {
    Ok(bodies(state, std::slice::from_ref(n))
        .await?
        .pop()
        .unwrap_or_default())
}

fn get_route(kinds: &'static [NodeKind]) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Path(id): Path<String>| async move {
            let n = node_of(&state, kinds, path_id(&id, "id")?).await?;
            ok(StatusCode::OK, one(&state, &n).await?)
        },
    )
    .patch(
        move |State(state): State<AppState>,
              Path(id): Path<String>,
              Caller(actor): Caller,
              body: Result<Bytes, BytesRejection>| async move {
            let id = path_id(&id, "id")?;
            let body = parse_body(body)?;
            let current = node_of(&state, kinds, id).await?;
            let kind = kind_of(&current)?;
            let b = Body::of(&body)?;
            b.known_fields(kind)?;
            if kind.is_artifact() && b.str("artifactType")?.is_some() && artifact_kind(&b)? != kind
            {
                return Err(RegistryError::invalid(
                    "artifactType",
                    format!(
                        "artifact {id} is a {}",
                        kind.artifact_type().unwrap_or_default()
                    ),
                )
                .into());
            }
            let mut fields = fields_in(kind, &b)?;
            // names are fixed once set (Kubeflow), and so are parents
            fields.name = None;
            if kind == NodeKind::InferenceService {
                fields.registered_model_id = None;
            }
            let updated = write::update(&state.db, &actor, kind, id, fields, None).await?;
            ok(StatusCode::OK, one(&state, &updated).await?)
        },
    )
}

/// The fields Kubeflow's spec marks required in each kind's `...Create` body (an empty
/// string counts as left out). GraphQL is looser: it numbers unnamed versions.
fn required(kind: NodeKind) -> &'static [&'static str] {
    match kind {
        NodeKind::RegisteredModel | NodeKind::Experiment | NodeKind::ServingEnvironment => {
            &["name"]
        }
        NodeKind::ModelVersion => &["name", "registeredModelId"],
        NodeKind::ExperimentRun => &["experimentId"],
        NodeKind::InferenceService => &["registeredModelId", "servingEnvironmentId"],
        NodeKind::ServeModel => &["modelVersionId"],
        _ => &[],
    }
}

/// The body field naming a kind's parent, which a nested route's path supplies instead.
fn parent_key(kind: NodeKind) -> Option<&'static str> {
    match kind {
        NodeKind::ModelVersion => Some("registeredModelId"),
        NodeKind::ExperimentRun => Some("experimentId"),
        NodeKind::InferenceService => Some("servingEnvironmentId"),
        _ => None,
    }
}

/// Where a create takes its parent from: the path, or a body field.
#[derive(Clone, Copy)]
enum ParentFrom {
    None,
    Body(&'static str),
    Path,
}

async fn create(
    state: &AppState,
    actor: &Actor,
    kind: Option<NodeKind>,
    parent: ParentFrom,
    path_parent: Option<i64>,
    body: Value,
    status: StatusCode,
) -> Reply {
    let b = Body::of(&body)?;
    let kind = match kind {
        Some(k) => k,
        None => artifact_kind(&b)?,
    };
    b.known_fields(kind)?;
    for key in required(kind) {
        let from_path = matches!(parent, ParentFrom::Path) && Some(*key) == parent_key(kind);
        if !from_path && !b.has(key) {
            return Err(RegistryError::invalid(*key, "is required").into());
        }
    }
    let mut fields = fields_in(kind, &b)?;
    fields.parent_id = match parent {
        ParentFrom::None => None,
        ParentFrom::Body(key) => b.id(key)?,
        ParentFrom::Path => path_parent,
    };
    if kind.is_artifact() && fields.parent_id.is_none() {
        // an artifact posted with the run that logged it lives under that run
        fields.parent_id = b.id("experimentRunId")?;
    }
    let created = write::create(&state.db, actor, kind, fields).await?;
    ok(status, one(state, &created).await?)
}

fn collection(
    kind: Option<NodeKind>,
    kinds: &'static [NodeKind],
    parent: ParentFrom,
    created: StatusCode,
) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Query(q): Params| async move {
            let args = ListArgs::parse(&q, kinds)?;
            ok(StatusCode::OK, list_nodes(&state, &args, None).await?)
        },
    )
    .post(
        move |State(state): State<AppState>,
              Caller(actor): Caller,
              body: Result<Bytes, BytesRejection>| async move {
            create(
                &state,
                &actor,
                kind,
                parent,
                None,
                parse_body(body)?,
                created,
            )
            .await
        },
    )
}

fn find_route(kinds: &'static [NodeKind]) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Query(q): Params| async move {
            let n = find_one(&state, kinds, &q).await?;
            ok(StatusCode::OK, one(&state, &n).await?)
        },
    )
}

/// `GET/POST /{parent}/{id}/{children}`: list a parent's children, create one under it.
fn children(
    parent_kind: NodeKind,
    kind: NodeKind,
    kinds: &'static [NodeKind],
) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Path(id): Path<String>, Query(q): Params| async move {
            let id = path_id(&id, "id")?;
            node_of(&state, &[parent_kind], id).await?;
            let mut args = ListArgs::parse(&q, kinds)?;
            args.filter.parent_ids = Some(vec![id]);
            ok(StatusCode::OK, list_nodes(&state, &args, None).await?)
        },
    )
    .post(
        move |State(state): State<AppState>,
              Path(id): Path<String>,
              Caller(actor): Caller,
              body: Result<Bytes, BytesRejection>| async move {
            let id = path_id(&id, "id")?;
            node_of(&state, &[parent_kind], id).await?;
            create(
                &state,
                &actor,
                Some(kind),
                ParentFrom::Path,
                Some(id),
                parse_body(body)?,
                StatusCode::CREATED,
            )
            .await
        },
    )
}

/// `GET/POST /{model_versions|experiment_runs}/{id}/artifacts`: attached artifacts; upsert.
fn attached_artifacts(owner_kind: NodeKind, edge: &'static str) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Path(id): Path<String>, Query(q): Params| async move {
            let id = path_id(&id, "id")?;
            node_of(&state, &[owner_kind], id).await?;
            let mut args = ListArgs::parse(&q, &NodeKind::ARTIFACTS)?;
            args.filter.attached_to = Some((id, edge));
            ok(StatusCode::OK, list_nodes(&state, &args, None).await?)
        },
    )
    .post(
        move |State(state): State<AppState>,
              Path(id): Path<String>,
              Caller(actor): Caller,
              body: Result<Bytes, BytesRejection>| async move {
            let owner = path_id(&id, "id")?;
            let body = parse_body(body)?;
            let b = Body::of(&body)?;
            let kind = artifact_kind(&b)?;
            b.known_fields(kind)?;
            let fields = fields_in(kind, &b)?;
            let existing = b.id("id")?;
            let (artifact, created) =
                upsert_artifact(&state.db, &actor, owner_kind, owner, kind, fields, existing)
                    .await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            ok(status, one(&state, &artifact).await?)
        },
    )
}

fn history_route(for_run: bool) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, path: Option<Path<String>>, Query(q): Params| async move {
            let run = match (for_run, path) {
                (true, Some(Path(id))) => {
                    let id = path_id(&id, "id")?;
                    node_of(&state, &[NodeKind::ExperimentRun], id).await?;
                    Some(id)
                }
                _ => None,
            };
            ok(StatusCode::OK, metric_history(&state, run, &q).await?)
        },
    )
}

/// `GET /inference_services/{id}/model` and `/version`.
fn served(version: bool) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Path(id): Path<String>| async move {
            let svc = node_of(&state, &[NodeKind::InferenceService], path_id(&id, "id")?).await?;
            let found = if !version {
                match svc.registered_model_id {
                    Some(m) => find_node(&state.db, m).await?,
                    None => None,
                }
            } else {
                read::served_version(&state.db, &svc).await?
            };
            let n = found.ok_or_else(|| {
                RegistryError::not_found(if version {
                    "served model version"
                } else {
                    "served registered model"
                })
            })?;
            ok(StatusCode::OK, one(&state, &n).await?)
        },
    )
}

const RM: &[NodeKind] = &[NodeKind::RegisteredModel];
const MV: &[NodeKind] = &[NodeKind::ModelVersion];
const MA: &[NodeKind] = &[NodeKind::ModelArtifact];
const EXP: &[NodeKind] = &[NodeKind::Experiment];
const RUN: &[NodeKind] = &[NodeKind::ExperimentRun];
const ENV: &[NodeKind] = &[NodeKind::ServingEnvironment];
const ISVC: &[NodeKind] = &[NodeKind::InferenceService];
const SERVE: &[NodeKind] = &[NodeKind::ServeModel];

/// Every operation of the Kubeflow OpenAPI spec, relative to a version prefix.
fn api() -> Router<AppState> {
    use NodeKind as K;
    Router::new()
        .route("/artifact", find_route(&NodeKind::ARTIFACTS))
        .route(
            "/artifacts",
            collection(
                None,
                &NodeKind::ARTIFACTS,
                ParentFrom::None,
                StatusCode::CREATED,
            ),
        )
        .route("/artifacts/{id}", get_route(&NodeKind::ARTIFACTS))
        .route("/experiment", find_route(EXP))
        .route("/experiment_run", find_route(RUN))
        .route(
            "/experiment_runs",
            collection(
                Some(K::ExperimentRun),
                RUN,
                ParentFrom::Body("experimentId"),
                StatusCode::CREATED,
            ),
        )
        .route("/experiment_runs/metric_history", history_route(false))
        .route("/experiment_runs/{id}", get_route(RUN))
        .route(
            "/experiment_runs/{id}/artifacts",
            attached_artifacts(K::ExperimentRun, "INPUT"),
        )
        .route("/experiment_runs/{id}/metric_history", history_route(true))
        .route(
            "/experiments",
            collection(
                Some(K::Experiment),
                EXP,
                ParentFrom::None,
                StatusCode::CREATED,
            ),
        )
        .route("/experiments/{id}", get_route(EXP))
        .route(
            "/experiments/{id}/experiment_runs",
            children(K::Experiment, K::ExperimentRun, RUN),
        )
        .route("/inference_service", find_route(ISVC))
        .route(
            "/inference_services",
            collection(
                Some(K::InferenceService),
                ISVC,
                ParentFrom::Body("servingEnvironmentId"),
                StatusCode::OK,
            ),
        )
        .route("/inference_services/{id}", get_route(ISVC))
        .route("/inference_services/{id}/model", served(false))
        .route(
            "/inference_services/{id}/serves",
            children(K::InferenceService, K::ServeModel, SERVE),
        )
        .route("/inference_services/{id}/version", served(true))
        .route("/model_artifact", find_route(MA))
        .route(
            "/model_artifacts",
            collection(
                Some(K::ModelArtifact),
                MA,
                ParentFrom::None,
                StatusCode::CREATED,
            ),
        )
        .route("/model_artifacts/{id}", get_route(MA))
        .route("/model_version", find_route(MV))
        .route(
            "/model_versions",
            collection(
                Some(K::ModelVersion),
                MV,
                ParentFrom::Body("registeredModelId"),
                StatusCode::CREATED,
            ),
        )
        .route("/model_versions/{id}", get_route(MV))
        .route(
            "/model_versions/{id}/artifacts",
            attached_artifacts(K::ModelVersion, "PART_OF"),
        )
        .route("/registered_model", find_route(RM))
        .route(
            "/registered_models",
            collection(
                Some(K::RegisteredModel),
                RM,
                ParentFrom::None,
                StatusCode::CREATED,
            ),
        )
        .route("/registered_models/{id}", get_route(RM))
        .route(
            "/registered_models/{id}/versions",
            children(K::RegisteredModel, K::ModelVersion, MV),
        )
        .route("/serving_environment", find_route(ENV))
        .route(
            "/serving_environments",
            collection(
                Some(K::ServingEnvironment),
                ENV,
                ParentFrom::None,
                StatusCode::CREATED,
            ),
        )
        .route("/serving_environments/{id}", get_route(ENV))
        .route(
            "/serving_environments/{id}/inference_services",
            children(K::ServingEnvironment, K::InferenceService, ISVC),
        )
}

/// Both prefixes, plus Kubeflow's readiness probes.
pub fn router() -> Router<AppState> {
    Router::new()
        .nest(
            "/api/model_registry/v1alpha3",
            api().layer(axum::middleware::from_fn(roles)),
        )
        .nest(
            "/api/model_registry/v1",
            api().layer(axum::middleware::from_fn(roles)),
        )
        .layer(axum::middleware::from_fn(no_nul_in_query))
        .route("/readyz/health", get(ready))
        .route("/readyz/isDirty", get(ready))
    // unknown paths get the app-wide fallback (`http::ui`): a 404 under /api/
}

/// Reading needs READER; writing (POST, PATCH, ...) EDITOR.
async fn roles(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let needed = match *request.method() {
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS => {
            Role::Reader
        }
        _ => Role::Editor,
    };
    let allowed = request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| RegistryError::Unauthenticated("a credential is required".into()))
        .and_then(|p| p.require(needed));
    match allowed {
        Ok(()) => next.run(request).await,
        Err(err) => HttpError::from(err).into_response(),
    }
}

/// Who writes through this door, as the authentication layer found.
struct Caller(Actor);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, HttpError> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or_else(|| RegistryError::Unauthenticated("a credential is required".into()))?;
        Ok(Self(Actor::new(principal.subject.clone(), Via::Rest)))
    }
}

/// A query parameter holding a NUL can match nothing (writes refuse them) and
/// PostgreSQL cannot even compare one: refused before any handler, naming it.
async fn no_nul_in_query(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(query) = request.uri().query() {
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if name.contains('\0') || value.contains('\0') {
                let err =
                    RegistryError::invalid(name.into_owned(), "may not contain NUL characters");
                return HttpError::from(err).into_response();
            }
        }
    }
    next.run(request).await
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.ready().await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}
