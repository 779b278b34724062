//! `GET /metrics` in Prometheus text format (the `metrics` facade with its Prometheus
//! exporter): requests and their latency per door and GraphQL operation, GraphQL error
//! codes, the database pool, operations running and queued, lineage walk sizes,
//! OpenLineage events ingested and refused, the change log's end and webhooks' lag.
//! Operation names come from clients, so at most `MAX_OPERATIONS` distinct ones become
//! labels (later ones count as `other`): no client can grow the registry without bound.
use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DbBackend;

/// Distinct GraphQL operation names kept as labels.
pub const MAX_OPERATIONS: usize = 200;
/// Longest operation name kept as a label.
const MAX_OPERATION_CHARS: usize = 64;

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const WALK_BUCKETS: &[f64] = &[
    0.0, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0,
];

fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("modelgraph_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("modelgraph_lineage_walk_nodes".into()),
                    WALK_BUCKETS,
                )
            })
            .expect("bucket bounds are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // another recorder already installed (a test process with several servers)
        // leaves this one unused; the first server's handle renders for all
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Starts recording (once per process).
pub fn install() {
    handle();
}

/// The operation name as a label: known names up to the cap, else `other`. Read-mostly:
/// a request takes the read lock, and the write lock only for a name not seen yet.
fn operation_label(name: &str) -> String {
    static SEEN: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();
    if name.is_empty() {
        return "-".into();
    }
    let name: String = name.chars().take(MAX_OPERATION_CHARS).collect();
    let seen = SEEN.get_or_init(Default::default);
    if seen
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&name)
    {
        return name;
    }
    let mut seen = seen.write().unwrap_or_else(|e| e.into_inner());
    if seen.contains(&name) || seen.len() < MAX_OPERATIONS {
        seen.insert(name.clone());
        return name;
    }
    "other".into()
}

/// One answered request.
pub fn request(door: &'static str, operations: &str, status: u16, seconds: f64) {
    let operation = operation_label(operations);
    let status = status.to_string();
    metrics::counter!(
        "modelgraph_requests_total",
        "door" => door,
        "operation" => operation.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "modelgraph_request_duration_seconds",
        "door" => door,
        "operation" => operation
    )
    .record(seconds);
}

/// A GraphQL error, by its `extensions.code`.
pub fn graphql_error(code: &str) {
    metrics::counter!("modelgraph_graphql_errors_total", "code" => code.to_owned()).increment(1);
}

/// How many nodes one lineage walk reached.
pub fn walk(nodes: usize) {
    metrics::histogram!("modelgraph_lineage_walk_nodes").record(nodes as f64);
}

/// An OpenLineage event, ingested or refused.
pub fn openlineage_event(ingested: bool) {
    let outcome = if ingested { "ingested" } else { "refused" };
    metrics::counter!("modelgraph_openlineage_events_total", "outcome" => outcome).increment(1);
}

/// The exposition: what was recorded, and what is measured at the scrape: the database
/// pool, GraphQL operations running and waiting for a thread, the change log's end and
/// how far each webhook is behind it.
pub async fn render(state: &crate::AppState) -> String {
    let db = &state.db;
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            )
        }
        DbBackend::MySql => {
            let pool = db.get_mysql_connection_pool();
            (
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    };
    metrics::gauge!("modelgraph_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("modelgraph_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("modelgraph_db_pool_max_connections").set(f64::from(max));
    let (running, waiting) = state.operation_threads.load();
    metrics::gauge!("modelgraph_graphql_operations", "state" => "running").set(running as f64);
    metrics::gauge!("modelgraph_graphql_operations", "state" => "waiting").set(waiting as f64);
    if let Ok(end) = crate::events::highest(db).await {
        metrics::gauge!("modelgraph_change_log_sequence").set(end as f64);
        if let Ok(hooks) = crate::events::webhooks::list(db).await {
            for hook in hooks.iter().filter(|h| h.active) {
                metrics::gauge!("modelgraph_webhook_lag_changes", "webhook" => hook.id.to_string())
                    .set((end - hook.cursor).max(0) as f64);
            }
        }
    }
    handle().render()
}
