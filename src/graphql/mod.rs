//! The GraphQL API: one query and one mutation type per domain area, merged; the HTTP
//! handler with its limits; the SDL.
use std::panic::AssertUnwindSafe;

use async_graphql::parser::types::OperationType;
use async_graphql::{
    BatchRequest, BatchResponse, Context, ID, MergedObject, Object, Schema, SchemaBuilder,
};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

pub mod access;
mod artifacts;
mod columns;
pub mod documents;
pub mod errors;
mod experiments;
mod facets;
mod filters;
pub mod history;
pub mod lineage;
pub mod loaders;
mod models;
mod mutation;
pub mod nodes;
mod pagination;
pub mod release;
mod serving;
pub mod subscriptions;
pub mod threads;
pub mod types;
pub mod webhooks;

use crate::AppState;
use crate::auth::{Principal, Role};
use crate::registry::history::{Actor, Via};
use crate::registry::{ErrorCode, read};
use errors::{GqlResult, error_response, tag_errors};
use loaders::Loaders;
use nodes::{Node, node_of};
use types::{parse_id, parse_ids};

/// What resolvers need, in one call each.
pub trait ContextExt {
    fn state(&self) -> &AppState;
    fn loaders(&self) -> &Loaders;
    /// Who runs the operation.
    fn principal(&self) -> &Principal;
    /// Who writes, through this door.
    fn actor(&self) -> Actor {
        Actor::new(self.principal().subject.clone(), Via::Graphql)
    }
}

// every context: a field's, and a selection's (`nodes::plain_nodes` builds items from one)
impl<T> ContextExt for async_graphql::ContextBase<'_, T> {
    fn state(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn principal(&self) -> &Principal {
        self.data_unchecked::<Principal>()
    }

    fn loaders(&self) -> &Loaders {
        self.data_unchecked::<Loaders>()
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any registry object by its global id; null when there is none. With `asOf`, its
    /// own fields as they were then, rebuilt from the change log (null if it did not
    /// exist yet); what it links to is read as it is now.
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    ) -> async_graphql::Result<Option<Node>> {
        let id = parse_id(&id, "id").gql()?;
        let db = &ctx.state().db;
        let Some(found) = read::find_node(db, id).await.gql()? else {
            return Ok(None);
        };
        let found = match as_of {
            Some(t) => crate::registry::history::as_of(db, found, types::millis(&t))
                .await
                .gql()?,
            None => Some(found),
        };
        found.map(node_of).transpose().gql()
    }

    /// Objects by global id, in the order asked; null where there is none.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> async_graphql::Result<Vec<Option<Node>>> {
        let ids = parse_ids(&ids, "ids").gql()?;
        let state = ctx.state();
        let found = crate::db::direct::read_on!(&state.db, &state.readers, |conn| {
            read::find_nodes(conn, &ids)
        })
        .await
        .gql()?;
        let mut by_id: std::collections::HashMap<i64, _> =
            found.into_iter().map(|n| (n.id, n)).collect();
        ids.iter()
            .map(|id| by_id.remove(id).map(node_of).transpose().gql())
            .collect()
    }
}

/// Every read: nodes by id, lists of each kind, lineage walks and paths, the change log,
/// aliases and release requests, and who the caller is. Queries need READER (API tokens,
/// role grants and webhooks ADMIN).
#[derive(MergedObject, Default)]
pub struct Query(
    NodeQuery,
    models::ModelQuery,
    artifacts::ArtifactQuery,
    experiments::ExperimentQuery,
    serving::ServingQuery,
    lineage::LineageQuery,
    history::HistoryQuery,
    access::AccessQuery,
    release::ReleaseQuery,
    webhooks::WebhookQuery,
);

/// Every write: create and update each kind, lineage edges, runs and models recorded at
/// once, aliases and releases, tokens, role grants and webhooks. Mutations need EDITOR
/// (release decisions APPROVER; tokens, grants, protected aliases and webhooks ADMIN); a
/// refused mutation changes nothing.
#[derive(MergedObject, Default)]
pub struct Mutation(
    models::ModelMutation,
    artifacts::ArtifactMutation,
    experiments::ExperimentMutation,
    serving::ServingMutation,
    lineage::LineageMutation,
    access::AccessMutation,
    release::ReleaseMutation,
    webhooks::WebhookMutation,
);

pub type AppSchema = Schema<Query, Mutation, subscriptions::SubscriptionRoot>;

/// The schema without data or limits: what `modelgraph schema` prints.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, subscriptions::SubscriptionRoot> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscriptions::SubscriptionRoot,
    )
    .register_output_type::<Node>()
    .register_output_type::<nodes::Artifact>()
    .register_output_type::<nodes::LineageNode>()
}

pub fn build_schema(limits: &crate::config::Limits) -> AppSchema {
    schema_builder()
        .limit_depth(limits.max_query_depth)
        .limit_complexity(limits.max_complexity)
        .finish()
}

/// The SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    // with `@specifiedBy` on the scalars that have a spec (DateTime: RFC 3339)
    schema_builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// `GET /graphql/ws`: subscriptions over `graphql-transport-ws`. The credential comes in
/// `connection_init`'s payload (`{"Authorization": "Bearer ..."}`), checked as every
/// door checks one; connections and subscriptions per connection are capped.
pub async fn websocket(
    State(state): State<AppState>,
    protocol: async_graphql_axum::GraphQLProtocol,
    extensions: axum::http::Extensions,
    upgrade: axum::extract::WebSocketUpgrade,
) -> Response {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|p| p.0.ip());
    let Ok(permit) = state.websockets.clone().try_acquire_owned() else {
        let msg = format!(
            "at most {} subscription connections are open at once (--max-websockets)",
            state.limits.max_websockets
        );
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &error_response(msg, ErrorCode::LimitExceeded),
        );
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let _permit = permit;
            let mut data = async_graphql::Data::default();
            data.insert(state.clone());
            data.insert(subscriptions::OpenSubscriptions::default());
            // the events' nested fields load in batches, as a query's do
            data.insert(loaders::spawned_loaders(
                state.db.clone(),
                state.readers.clone(),
            ));
            let auth = state.auth.clone();
            // the server's own WebSocket pings keep a quiet subscription's socket inside
            // --idle-timeout (clients answer them without being asked to)
            let every = (state.limits.idle_timeout / 3).min(std::time::Duration::from_secs(20));
            let (socket_sink, socket_stream) = futures_util::StreamExt::split(socket);
            let (sink, outgoing) = futures_channel::mpsc::channel(64);
            // a client that answers no ping, or takes nothing, for this long is too far
            // behind (clients answer pings as they read)
            let stalled = (state.limits.idle_timeout / 2).min(std::time::Duration::from_secs(30));
            let heard = Heard::default();
            let socket_stream = {
                let heard = heard.clone();
                futures_util::StreamExt::inspect(socket_stream, move |_| heard.now())
            };
            let pinger = tokio::spawn(send_with_pings(
                socket_sink,
                outgoing,
                Pace {
                    every,
                    stalled,
                    heard,
                },
            ));
            async_graphql_axum::GraphQLWebSocket::new_with_pair(
                sink,
                socket_stream,
                state.schema.clone(),
                protocol,
            )
            .with_data(data)
            .on_connection_init(move |payload| async move {
                let principal = connection_principal(&auth, &payload, peer).await?;
                let mut data = async_graphql::Data::default();
                data.insert(principal);
                Ok(data)
            })
            .serve()
            .await;
            // the GraphQL side is done and its sink dropped: the pinger sends what is
            // left (a close frame, say) and ends
            let _ = pinger.await;
        })
}

/// Why a subscriber is closed when it stopped taking messages: its subscriptions resume
/// from the log with `afterSequence`, so nothing is lost by closing it.
pub const TOO_SLOW: &str = "too far behind: reconnect and resubscribe with afterSequence";

/// When the client was last heard from (any frame, a pong included).
#[derive(Clone)]
struct Heard(std::sync::Arc<std::sync::Mutex<tokio::time::Instant>>);

impl Default for Heard {
    fn default() -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(
            tokio::time::Instant::now(),
        )))
    }
}

impl Heard {
    fn now(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = tokio::time::Instant::now();
    }

    fn last(&self) -> tokio::time::Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How the sender paces a connection.
struct Pace {
    /// A ping this often.
    every: std::time::Duration,
    /// A ping unanswered, or a message not taken, for this long: too far behind.
    stalled: std::time::Duration,
    heard: Heard,
}

/// Forwards what the GraphQL side sends to the socket, with a ping frame every
/// `pace.every`. What waits for a slow client is bounded (this channel, the socket's
/// buffers). A client that answers no ping for `pace.stalled` (it stopped reading, or
/// reads too slowly to reach the ping) is told it fell behind (close code 1008, reason
/// `TOO_SLOW`) and disconnected; one whose buffers stay full that long is disconnected.
/// Neither holds up a writer or another subscriber meanwhile.
async fn send_with_pings(
    mut socket: futures_util::stream::SplitSink<
        axum::extract::ws::WebSocket,
        axum::extract::ws::Message,
    >,
    mut outgoing: futures_channel::mpsc::Receiver<axum::extract::ws::Message>,
    pace: Pace,
) {
    use axum::extract::ws::{CloseFrame, Message, close_code};
    use futures_util::{SinkExt, StreamExt};
    let mut ticks = tokio::time::interval(pace.every);
    ticks.tick().await;
    // the first ping not answered yet
    let mut unanswered: Option<tokio::time::Instant> = None;
    let behind = loop {
        let message = tokio::select! {
            next = outgoing.next() => match next {
                Some(message) => message,
                None => break false,
            },
            _ = ticks.tick() => {
                let now = tokio::time::Instant::now();
                match unanswered {
                    Some(sent) if pace.heard.last() >= sent => unanswered = Some(now),
                    Some(sent) if now - sent >= pace.stalled => break true,
                    Some(_) => {}
                    None => unanswered = Some(now),
                }
                Message::Ping(Vec::new().into())
            }
        };
        match tokio::time::timeout(pace.stalled, socket.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break false,
            Err(_) => break true,
        }
    };
    if behind {
        tracing::info!("closing a subscriber that fell too far behind");
        let close = Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: TOO_SLOW.into(),
        }));
        // queued behind what the client has not read yet, if there is room
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), socket.send(close)).await;
        return;
    }
    let _ = socket.close().await;
}

/// Who a WebSocket connection is, from its `connection_init` payload.
async fn connection_principal(
    auth: &crate::auth::Authenticator,
    payload: &serde_json::Value,
    peer: Option<std::net::IpAddr>,
) -> async_graphql::Result<Principal> {
    let mut headers = axum::http::HeaderMap::new();
    let credential = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(serde_json::Value::as_str));
    if let Some(value) = credential {
        let value = HeaderValue::from_str(value)
            .map_err(|_| async_graphql::Error::new("the Authorization value is not valid"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let principal = auth.principal(&headers, peer).await.gql()?;
    if principal.role.is_none() && !principal.authenticated {
        return Err(crate::registry::RegistryError::Unauthenticated(
            "a credential is required: send {\"Authorization\": \"Bearer <token>\"} in connection_init"
                .into(),
        ))
        .gql();
    }
    Ok(principal)
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Runs one operation on one of the operation threads (`threads`), with its loaders'
/// batches as local tasks of that thread, within `--request-timeout` (the wait for a
/// thread included): past it the operation's tasks (and the database work they wait on)
/// are dropped and the answer is LIMIT_EXCEEDED.
pub async fn execute(
    state: &AppState,
    principal: &Principal,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let state = state.clone();
    let handle = tokio::runtime::Handle::current();
    let (request, shape) = state.documents.prepare(request);
    let reads = shape.operation_type(&request) != Some(OperationType::Mutation);
    // every operation of a batch is checked; fields needing more carry a RoleGuard
    let needed = if reads { Role::Reader } else { Role::Editor };
    if let Err(err) = principal.require(needed) {
        return error_response(err.public_message(), err.code());
    }
    let principal = principal.clone();
    // (a mutation's inputs are checked field by field where they are written)
    if reads && let Some(at) = shape.nul_argument(&request) {
        return error_response(
            format!("{at}: may not contain NUL characters"),
            ErrorCode::InvalidInput,
        );
    }
    let budget = state.limits.request_timeout;
    // the request with what its resolvers read from the context
    let with_data = move |state: AppState, loaders: loaders::Loaders| {
        request
            .data(state)
            .data(principal)
            .data(loaders)
            .data(nodes::PlainPlans::default())
    };
    let outcome = if reads && !shape.walks() {
        // a read without walks is bounded by page sizes and the complexity bound: it is
        // answered on this task, its loaders' batches polled beside it, with no hand-off
        // to an operation thread and back (two thread wakes, more than a small read costs)
        let _running = state.operation_threads.count_running();
        let inbox = loaders::Inbox::default();
        let loaders =
            loaders::inline_loaders(state.db.clone(), state.readers.clone(), inbox.clone());
        let request = with_data(state.clone(), loaders);
        let operation = loaders::inline(state.schema.execute(request), inbox);
        AssertUnwindSafe(tokio::time::timeout(budget, operation))
            .catch_unwind()
            .await
            .ok()
    } else {
        let queued = tokio::time::Instant::now();
        let threads = state.operation_threads.clone();
        threads
            .run(move || {
                let left = budget.saturating_sub(queued.elapsed());
                let loaders = loaders::loaders(state.db.clone(), state.readers.clone());
                let request = with_data(state.clone(), loaders);
                let local = tokio::task::LocalSet::new();
                // a local task, not run_until's own future: local tasks take turns in one
                // queue, which is what lets a batch wait for the resolvers (see `loaders`);
                // dropping the LocalSet when the budget runs out drops them all
                handle.block_on(local.run_until(async move {
                    let operation =
                        tokio::task::spawn_local(
                            async move { state.schema.execute(request).await },
                        );
                    // a local task fails to join only by panicking
                    tokio::time::timeout(left, async { operation.await.ok() })
                        .await
                        .transpose()
                }))
            })
            .await
            .flatten()
    };
    match outcome {
        Some(Ok(response)) => response,
        Some(Err(_elapsed)) => over_budget(budget),
        None => {
            tracing::error!("a GraphQL operation panicked");
            error_response("internal error", ErrorCode::Internal)
        }
    }
}

fn over_budget(budget: std::time::Duration) -> async_graphql::Response {
    let msg = format!(
        "the request took longer than {} (--request-timeout)",
        humantime::format_duration(budget)
    );
    error_response(msg, ErrorCode::LimitExceeded)
}

/// `POST /graphql`: single or batched requests, bounded in body size and batch length.
pub async fn graphql(State(state): State<AppState>, request: Request<Body>) -> Response {
    let limits = &state.limits;
    // set by the authentication layer; a request that somehow skipped it may do nothing
    let principal = request
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(|| Principal {
            subject: crate::auth::ANONYMOUS.to_owned(),
            role: None,
            authenticated: false,
        });
    let bytes = match axum::body::to_bytes(request.into_body(), limits.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let msg = format!(
                "request body is larger than {} bytes",
                limits.max_body_bytes
            );
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &error_response(msg, ErrorCode::LimitExceeded),
            );
        }
    };
    let batch: BatchRequest = match serde_json::from_slice(&bytes) {
        Ok(batch) => batch,
        Err(err) => {
            let msg = format!("request body is not a GraphQL request: {err}");
            return json_response(
                StatusCode::BAD_REQUEST,
                &error_response(msg, ErrorCode::InvalidInput),
            );
        }
    };
    let requests = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(list) if list.len() > limits.max_batch => {
            let msg = format!(
                "a batch holds at most {} operations (got {})",
                limits.max_batch,
                list.len()
            );
            return json_response(
                StatusCode::OK,
                &error_response(msg, ErrorCode::LimitExceeded),
            );
        }
        BatchRequest::Batch(list) => list,
    };
    let single = requests.len() == 1 && !bytes.trim_ascii_start().starts_with(b"[");
    // for the access log
    let operations = crate::http::Operations(
        requests
            .iter()
            .map(|r| {
                r.operation_name
                    .clone()
                    .or_else(|| documents::first_operation_name(&r.query))
                    .unwrap_or_else(|| "-".into())
            })
            .collect::<Vec<_>>()
            .join(","),
    );
    let mut responses = Vec::with_capacity(requests.len());
    for r in requests {
        // the parser recurses per bracket: bound the nesting before it runs
        let depth = documents::nesting(&r.query);
        let mut response = if depth > documents::MAX_NESTING {
            let msg = format!(
                "the query's brackets nest {depth} deep; at most {} are allowed",
                documents::MAX_NESTING
            );
            error_response(msg, ErrorCode::LimitExceeded)
        } else {
            execute(&state, &principal, r).await
        };
        tag_errors(&mut response);
        for error in &response.errors {
            if let Some(async_graphql::Value::String(code)) =
                error.extensions.as_ref().and_then(|x| x.get("code"))
            {
                crate::metrics::graphql_error(code);
            }
        }
        responses.push(response);
    }
    // an operation refused for want of a credential answers 401, as the other doors do
    let unauthenticated = responses.iter().any(|r| {
        r.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .is_some_and(|c| {
                    *c == async_graphql::Value::from(ErrorCode::Unauthenticated.as_str())
                })
        })
    });
    let body = if single {
        BatchResponse::Single(responses.pop().expect("one response"))
    } else {
        BatchResponse::Batch(responses)
    };
    let mut response = match serde_json::to_vec(&body) {
        Ok(bytes) if unauthenticated => (
            StatusCode::UNAUTHORIZED,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::WWW_AUTHENTICATE, crate::http::error::challenge()),
            ],
            bytes,
        )
            .into_response(),
        Ok(bytes) if bytes.len() <= limits.max_response_bytes => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Ok(bytes) => {
            let msg = format!(
                "the response would be {} bytes; at most {} are sent (--max-response-bytes): \
                 ask for fewer items or fields",
                bytes.len(),
                limits.max_response_bytes
            );
            json_response(
                StatusCode::OK,
                &error_response(msg, ErrorCode::LimitExceeded),
            )
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    response.extensions_mut().insert(operations);
    response
}
