//! modelgraph: a model registry whose data is a lineage graph, served over GraphQL, the
//! Kubeflow Model Registry REST API and OpenLineage.
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::routing::get;
use sea_orm::DatabaseConnection;

pub mod auth;
pub mod config;
pub mod db;
pub mod demo;
pub mod events;
pub mod gen_graph;
pub mod graphql;
pub mod http;
pub mod lineage;
pub mod metrics;
pub mod openlineage;
pub mod registry;
pub mod rest;

use config::Limits;
use db::direct::DirectOptions;
use graphql::AppSchema;

/// What every request handler shares: one [`Shared`] behind an `Arc`, so handing it to
/// a handler (axum clones the state for every request, and middleware again) is one
/// reference count, not one per connection pool, cache and channel it holds.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    pub db: DatabaseConnection,
    /// Read connections of the server's own for lineage walks on a SQLite file.
    pub readers: db::direct::Readers,
    pub limits: Arc<Limits>,
    pub schema: AppSchema,
    /// Parsed GraphQL queries, kept by their text.
    pub documents: graphql::documents::Documents,
    /// The OpenLineage writer, which batches concurrent events into one transaction.
    pub ingester: openlineage::writer::Ingester,
    /// Origins allowed to make cross-origin requests (`--cors-origins`); none by default.
    pub cors_origins: Arc<Vec<HeaderValue>>,
    /// The SQLite file served, to notice it deleted or replaced under the server.
    pub store_file: Option<db::StoreFile>,
    /// The threads GraphQL operations run on (`--max-concurrent-operations`).
    pub operation_threads: graphql::threads::OperationThreads,
    /// Who requests are (tokens, OIDC, a trusted proxy header).
    pub auth: auth::Authenticator,
    /// Wakes subscriptions when changes commit.
    pub feed: events::Feed,
    /// WebSocket connections left (`--max-websockets`).
    pub websockets: Arc<tokio::sync::Semaphore>,
    /// How webhooks are checked and delivered (`--webhook-*`).
    pub webhooks: Arc<events::webhooks::WebhookSettings>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, limits: Limits) -> Self {
        Self::with_direct(db, limits, DirectOptions::default())
    }

    /// As `new`, with how SQLite is read and written directly chosen (`db::direct`):
    /// tests observe statements, benchmarks compare the sqlx path.
    pub fn with_direct(db: DatabaseConnection, limits: Limits, direct: DirectOptions) -> Self {
        metrics::install();
        let schema = graphql::build_schema(&limits);
        Self(Arc::new(Shared {
            auth: auth::Authenticator::new(db.clone(), auth::AuthConfig::default()),
            feed: events::Feed::new(db.clone()),
            websockets: Arc::new(tokio::sync::Semaphore::new(limits.max_websockets)),
            webhooks: Arc::default(),
            ingester: openlineage::writer::Ingester::new(db.clone(), direct.clone()),
            readers: db::direct::Readers::new(&db, &direct),
            store_file: db::StoreFile::of(&db),
            operation_threads: graphql::threads::OperationThreads::new(
                limits.max_concurrent_operations,
            ),
            db,
            limits: Arc::new(limits),
            schema,
            documents: Default::default(),
            cors_origins: Arc::default(),
        }))
    }

    /// Authenticates requests as `config` says.
    pub fn with_auth(mut self, config: auth::AuthConfig) -> Self {
        let auth = auth::Authenticator::new(self.db.clone(), config);
        Arc::make_mut(&mut self.0).auth = auth;
        self
    }

    /// Checks webhooks' targets as `settings` say (the worker is started apart, by
    /// `events::webhooks::start`).
    pub fn with_webhooks(mut self, settings: events::webhooks::WebhookSettings) -> Self {
        Arc::make_mut(&mut self.0).webhooks = Arc::new(settings);
        self
    }

    /// Allows cross-origin requests from `origins`.
    pub fn with_cors_origins(mut self, origins: Vec<HeaderValue>) -> Self {
        Arc::make_mut(&mut self.0).cors_origins = Arc::new(origins);
        self
    }
}

/// The whole HTTP surface; tests drive it over a real socket.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/graphql", get(http::ui::graphiql).post(graphql::graphql))
        .route("/graphql/ws", get(graphql::websocket))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .merge(rest::router())
        .merge(openlineage::router())
        .fallback(http::ui::fallback);
    http::layers(routes, state)
}

/// `GET /metrics`, Prometheus text format.
async fn metrics_page(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&state).await,
    )
        .into_response()
}

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.ready().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

impl AppState {
    /// Ready when the database answers and, on SQLite, the file at the path is still
    /// the one the server opened. What is wrong is logged; the answer says which.
    pub async fn ready(&self) -> Result<(), &'static str> {
        if let Some(file) = &self.store_file
            && let Err(why) = file.check()
        {
            tracing::error!(error = %why, "the SQLite file is gone: writes would be lost");
            return Err("database file deleted or replaced");
        }
        self.db.ping().await.map_err(|err| {
            tracing::warn!(error = %err, "database not reachable");
            "database unreachable"
        })
    }
}

/// Starts serving on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.connections();
    http::conn::serve(listener, app(state), limits, shutdown).await
}
