//! Lookups the API makes on every request read an index on every store, not the whole
//! node table: by kind, scope, namespace and name, and by external id. (MariaDB enforces
//! a unique index over long text with a hash its optimizer cannot search, so these
//! lookups need indexes of their own there.)
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::helpers::TestApp;

crate::on_both!(lookups_by_name_and_external_id_read_an_index);

async fn lookups_by_name_and_external_id_read_an_index(app: &TestApp) {
    // enough rows that reading them all would cost more than an index
    for i in 0..300 {
        app.ok(
            "mutation($n: String!, $x: String!) { createDataset(input: {name: $n, externalId: $x}) { id } }",
            json!({"n": format!("d-{i}"), "x": format!("ext-{i}")}),
        )
        .await;
    }
    let backend = app.db.get_database_backend();
    let analyze = match backend {
        DbBackend::Postgres => "ANALYZE node",
        DbBackend::MySql => r#"ANALYZE TABLE "node""#,
        _ => "ANALYZE",
    };
    app.db.execute_unprepared(analyze).await.expect("analyze");
    for lookup in [
        r#""kind" = 'DATASET' AND "scope_id" = 0 AND "namespace" = '' AND "name" = 'd-7'"#,
        r#""external_id" = 'ext-7'"#,
    ] {
        let query = format!(r#"SELECT "id" FROM "node" WHERE {lookup}"#);
        let plan = plan(app, &query).await;
        let indexed = match backend {
            DbBackend::Sqlite => {
                plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX")
            }
            DbBackend::Postgres => plan.contains("Index"),
            _ => !plan.is_empty(),
        };
        assert!(indexed, "{query} reads no index: {plan}");
    }
}

/// The store's plan for `query`, as text: SQLite's and PostgreSQL's plan lines, or the
/// keys MySQL/MariaDB would read (empty when it scans the table).
async fn plan(app: &TestApp, query: &str) -> String {
    let backend = app.db.get_database_backend();
    let explain = match backend {
        DbBackend::Sqlite => format!("EXPLAIN QUERY PLAN {query}"),
        _ => format!("EXPLAIN {query}"),
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(backend, explain))
        .await
        .expect("explain");
    rows.iter()
        .filter_map(|row| match backend {
            DbBackend::Sqlite => row.try_get::<String>("", "detail").ok(),
            DbBackend::Postgres => row.try_get::<String>("", "QUERY PLAN").ok(),
            _ => row.try_get::<Option<String>>("", "key").ok().flatten(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
