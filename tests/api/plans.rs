//! Lookups the API makes on every request read an index on every store, not the whole
//! node table: by kind, scope, namespace and name, and by external id. (MariaDB enforces
//! a unique index over long text with a hash its optimizer cannot search, so these
//! lookups need indexes of their own there.) A node's changes are read through the change
//! log's indexes by either end, the one by an edge's other end holding only the changes
//! that have one. Reads by parent, registered model and model version go through indexes
//! that hold only the nodes with the column set.
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

use modelgraph::registry::children::ChildList;
use modelgraph::registry::columns::NodeColumns;
use modelgraph::registry::edges::EdgeKind;
use modelgraph::registry::page::PagePlan;
use modelgraph::registry::read::latest_versions_statement;
use modelgraph::registry::{Filter, NodeKind, Order};

use crate::helpers::TestApp;

crate::on_both!(
    lookups_by_name_and_external_id_read_an_index,
    a_nodes_changes_read_the_index_of_edge_changes_only,
    reads_by_parent_model_or_version_read_indexes_of_the_nodes_that_have_one,
    lists_by_id_read_a_kinds_nodes_in_order_from_an_index,
    the_latest_versions_of_many_models_probe_each_model_once,
    nested_pages_read_each_parents_children_from_its_index,
);

async fn lookups_by_name_and_external_id_read_an_index(app: &TestApp) {
    // enough rows that reading them all would cost more than an index
    for i in 0..300 {
        app.ok(
            "mutation($n: String!, $x: String!) { createDataset(input: {name: $n, externalId: $x}) { id } }",
            json!({"n": format!("d-{i}"), "x": format!("ext-{i}")}),
        )
        .await;
    }
    analyze(app).await;
    let backend = app.db.get_database_backend();
    for lookup in [
        r#""kind" = 'DATASET' AND "scope_id" = 0 AND "namespace" = '' AND "name" = 'd-7'"#,
        r#""external_id" = 'ext-7'"#,
    ] {
        let query = format!(r#"SELECT "id" FROM "node" WHERE {lookup}"#);
        let plan = plan(&app.db, &query).await;
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

/// A node's history and the change feed's filter by node read the changes naming it at
/// either end (`history::filtered`). The index by the other end leaves out the rows
/// without one (every node's own change): on SQLite and PostgreSQL it is partial, and
/// the read still goes through it. MySQL/MariaDB has no partial indexes.
async fn a_nodes_changes_read_the_index_of_edge_changes_only(app: &TestApp) {
    let backend = app.db.get_database_backend();
    if backend == DbBackend::MySql {
        return;
    }
    assert_partial(app, "ix_change_other_end", "other_node_id").await;
    let query =
        r#"SELECT "sequence" FROM "change" WHERE "node_id" IN (1, 2) OR "other_node_id" IN (1, 2)"#;
    let plan = plan_with_indexes(app, query).await;
    assert!(plan.contains("ix_change_other_end"), "{plan}");
}

/// Reads by parent, by registered model and by model version (lists of a model's
/// versions, a version's artifacts and serving nodes, `latestVersion`) ask for ids, which
/// no NULL matches: on SQLite and PostgreSQL their indexes hold only the nodes that have
/// the column set (most nodes have none), and the reads, by one id or several, still go
/// through them.
async fn reads_by_parent_model_or_version_read_indexes_of_the_nodes_that_have_one(app: &TestApp) {
    let backend = app.db.get_database_backend();
    if backend == DbBackend::MySql {
        return;
    }
    for (index, column) in [
        ("ix_node_parent_create", "parent_id"),
        ("ix_node_registered_model", "registered_model_id"),
        ("ix_node_model_version", "model_version_id"),
    ] {
        assert_partial(app, index, column).await;
        for query in [
            format!(r#"SELECT "id" FROM "node" WHERE "{column}" = 7"#),
            format!(r#"SELECT "id" FROM "node" WHERE "{column}" IN (7, 8, 9)"#),
        ] {
            let plan = plan_with_indexes(app, &query).await;
            assert!(plan.contains(index), "{query}: {plan}");
        }
    }
}

/// A list in id order (the Kubeflow REST lists' default, GraphQL's `orderBy: {field:
/// ID}`) reads its kind's nodes from an index already in that order, both ways and from
/// a cursor: not every node of the table, filtered (PostgreSQL's walk of its primary key
/// read 868,000 other nodes for a page of 101 versions of a 1M-node store, 165 ms), nor
/// every node of the kind, sorted (MariaDB's filesort, SQLite's temporary B-tree).
async fn lists_by_id_read_a_kinds_nodes_in_order_from_an_index(app: &TestApp) {
    // a few models among many datasets, created in between
    for i in 0..200 {
        app.ok(
            "mutation($n: String!) { createDataset(input: {name: $n}) { id } }",
            json!({"n": format!("d-{i}")}),
        )
        .await;
        if i % 10 == 0 {
            app.ok(
                "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
                json!({"n": format!("m-{i}")}),
            )
            .await;
        }
    }
    analyze(app).await;
    let backend = app.db.get_database_backend();
    let models = r#""node"."kind" = 'REGISTERED_MODEL'"#;
    for query in [
        format!(
            r#"SELECT "node"."id", "node"."name" FROM "node" WHERE {models} ORDER BY "node"."id" ASC LIMIT 11"#
        ),
        format!(
            r#"SELECT "node"."id", "node"."name" FROM "node" WHERE {models} ORDER BY "node"."id" DESC LIMIT 11"#
        ),
        format!(
            r#"SELECT "node"."id", "node"."name" FROM "node" WHERE {models} AND "node"."id" > 5 ORDER BY "node"."id" ASC LIMIT 11"#
        ),
    ] {
        match backend {
            DbBackend::MySql => {
                let explain = Statement::from_string(backend, format!("EXPLAIN {query}"));
                let rows = app.db.query_all_raw(explain).await.expect("explain");
                for row in rows {
                    let key: Option<String> = row.try_get("", "key").expect("key");
                    let extra: Option<String> = row.try_get("", "Extra").expect("Extra");
                    let extra = extra.unwrap_or_default();
                    assert!(
                        key.is_some() && !extra.contains("filesort"),
                        "{query}: key {key:?}, {extra}"
                    );
                }
            }
            _ => {
                let plan = plan_with_indexes(app, &query).await;
                let (in_order, sorted) = match backend {
                    DbBackend::Postgres => (
                        plan.contains("Index") && !plan.contains("Filter"),
                        plan.contains("Sort"),
                    ),
                    _ => (plan.contains("USING"), plan.contains("TEMP B-TREE")),
                };
                assert!(in_order && !sorted, "{query}: {plan}");
            }
        }
    }
}

/// The latest versions of a page of models (`latestVersion` in a list, the Kubeflow
/// REST door's) are one statement that probes the (parent, kind, creation, id) index
/// once per model, and read the rows found by id. MariaDB merged the table of probes
/// into its join and ran each probe twice (`ANALYZE` counted 2 loops a model).
async fn the_latest_versions_of_many_models_probe_each_model_once(app: &TestApp) {
    let mut expected = Vec::new();
    for m in 0..12 {
        let mut model = 0;
        let mut versions = Vec::new();
        for v in 0..3 {
            let (m_id, v_id) = register(app, &format!("m-{m}"), &format!("v{v}")).await;
            model = m_id;
            versions.push(v_id);
        }
        // every third model's newest version archived: the one before it is the latest
        if m % 3 == 0 {
            app.ok(
                "mutation($id: ID!) { updateModelVersion(id: $id, input: {state: ARCHIVED}) { id } }",
                json!({"id": versions[2].to_string()}),
            )
            .await;
            expected.push((model, versions[1]));
        } else {
            expected.push((model, versions[2]));
        }
    }
    let bare = app
        .ok(
            "mutation { createRegisteredModel(input: {name: \"bare\"}) { id } }",
            json!({}),
        )
        .await;
    analyze(app).await;
    let mut models: Vec<i64> = expected.iter().map(|(m, _)| *m).collect();
    models.push(
        bare["createRegisteredModel"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let backend = app.db.get_database_backend();
    let statement = latest_versions_statement(backend, &models, NodeColumns::ALL);
    let mut found: Vec<(i64, i64)> = app
        .db
        .query_all_raw(statement.clone())
        .await
        .expect("latest versions")
        .iter()
        .map(|row| {
            let id: i64 = row.try_get("", "id").unwrap();
            let parent: Option<i64> = row.try_get("", "parent_id").unwrap();
            (parent.unwrap(), id)
        })
        .collect();
    found.sort_unstable();
    expected.sort_unstable();
    assert_eq!(found, expected);

    // how many times the statement ran its probe of versions, by the store's own count
    let explain = match backend {
        DbBackend::MySql => "ANALYZE FORMAT=JSON",
        DbBackend::Postgres => "EXPLAIN (ANALYZE, FORMAT JSON)",
        _ => return, // SQLite counts no loops
    };
    let mut analyzed = statement;
    analyzed.sql = format!("{explain} {}", analyzed.sql);
    let row = app
        .db
        .query_one_raw(analyzed)
        .await
        .expect("analyze")
        .unwrap();
    let (plan, probes) = match backend {
        // not quite JSON: with ANSI_QUOTES its conditions hold unescaped quotes
        DbBackend::MySql => {
            let plan: String = row.try_get_by_index(0).unwrap();
            let probes = mariadb_probe_loops(&plan);
            (plan, probes)
        }
        _ => {
            let plan: serde_json::Value = row.try_get_by_index(0).unwrap();
            let probes = postgres_probe_loops(&plan);
            (format!("{plan:#}"), probes)
        }
    };
    assert_eq!(probes, vec![models.len() as u64], "{plan}");
}

/// The loops of every scan of the versions' table (`"v"`) in MariaDB's `ANALYZE FORMAT=JSON`.
fn mariadb_probe_loops(plan: &str) -> Vec<u64> {
    plan.split(r#""table_name": "v""#)
        .skip(1)
        .filter_map(|scan| {
            let (_, after) = scan.split_once(r#""r_loops": "#)?;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The loops of every scan of the versions' table (`"v"`) in PostgreSQL's JSON plan.
fn postgres_probe_loops(plan: &serde_json::Value) -> Vec<u64> {
    let mut loops = Vec::new();
    let mut stack = vec![plan];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Object(fields) => {
                if fields.get("Alias").and_then(|a| a.as_str()) == Some("v")
                    && let Some(n) = fields.get("Actual Loops").and_then(|n| n.as_u64())
                {
                    loops.push(n);
                }
                stack.extend(fields.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    loops
}

/// A nested list (`registeredModels { nodes { versions(first: 3) ... } }`) reads each
/// parent's children from the index by parent, on a store without statistics too (a new
/// one, before the store gathers them): MariaDB, which numbers each parent's children,
/// scanned the whole node table twice for ten parents when its statistics said the
/// table was empty (`Rows_examined` 4,690 for 40 rows in the registry benchmark).
async fn nested_pages_read_each_parents_children_from_its_index(app: &TestApp) {
    let mut models = Vec::new();
    for m in 0..20 {
        for v in 0..4 {
            let (model, _) = register(app, &format!("m-{m}"), &format!("v{v}")).await;
            if v == 0 {
                models.push(model);
            }
        }
    }
    // nodes without a parent, as most of a store's are
    for i in 0..200 {
        app.ok(
            "mutation($n: String!) { createDataset(input: {name: $n}) { id } }",
            json!({"n": format!("d-{i}")}),
        )
        .await;
    }
    let kinds = [NodeKind::ModelVersion];
    let filter = Filter::default();
    // every parent's children: where reading the whole table costs least
    let models = &models[..];
    let list = ChildList {
        kinds: &kinds,
        filter: &filter,
        order: Order::default(),
        attached_by: None,
        columns: NodeColumns::ALL,
    };
    let plan = PagePlan {
        size: 3,
        backward: false,
        after: None,
        before: None,
    };
    // and a version's artifacts: its children and the nodes attached to it by an edge
    let versions: Vec<i64> = app
        .rows("SELECT id FROM node WHERE kind = 'MODEL_VERSION' ORDER BY id")
        .await
        .iter()
        .map(|row| row.try_get("", "id").unwrap())
        .collect();
    let artifact_kinds = [NodeKind::ModelArtifact];
    let artifacts = ChildList {
        kinds: &artifact_kinds,
        attached_by: Some(EdgeKind::PartOf),
        ..list
    };
    let statements = [
        list.page_statement(&app.db, models, &plan),
        list.count_statement(&app.db, models),
        artifacts.page_statement(&app.db, &versions, &plan),
        artifacts.count_statement(&app.db, &versions),
    ]
    .map(|statement| statement.expect("statement"));
    for statement in &statements {
        assert_reads_no_whole_node_table(app, statement.clone()).await;
        // with a larger store's statistics (the registry benchmark's 2,200 nodes, 200
        // parents) MariaDB read every node once per block of parents unless told which
        // index to use: too many rows to make here
        if app.db.get_database_backend() == DbBackend::MySql {
            assert!(
                statement
                    .sql
                    .contains("FORCE INDEX (`ix_node_parent_create`)"),
                "{}",
                statement.sql
            );
        }
    }
    // and once the store has its statistics (a small table: MariaDB then preferred
    // reading every node once per block of parents)
    analyze(app).await;
    for statement in statements {
        assert_reads_no_whole_node_table(app, statement).await;
    }
    let artifact_counts = artifacts.counts(&app.db, &versions).await.expect("counts");
    assert!(
        versions.iter().all(|v| artifact_counts[v] == 1),
        "{artifact_counts:?}"
    );
    // and the pages are right
    let pages = list.pages(&app.db, models, &plan).await.expect("pages");
    let counts = list.counts(&app.db, models).await.expect("counts");
    for model in models {
        let page = &pages[model];
        assert_eq!(page.items.len(), 3);
        assert!(page.has_next);
        assert!(page.items.iter().all(|v| v.parent_id == Some(*model)));
        assert_eq!(counts[model], 4);
    }
}

/// Asserts that the store's plan for `statement` reads no whole table or index of nodes.
async fn assert_reads_no_whole_node_table(app: &TestApp, statement: Statement) {
    let backend = app.db.get_database_backend();
    let mut explain = statement.clone();
    explain.sql = match backend {
        DbBackend::Sqlite => format!("EXPLAIN QUERY PLAN {}", statement.sql),
        _ => format!("EXPLAIN {}", statement.sql),
    };
    let txn = app.db.begin().await.expect("begin");
    if backend == DbBackend::Postgres {
        // PostgreSQL scans a table this small whatever its indexes: asked not to, it
        // must have an index to read instead
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("set");
    }
    let rows = txn.query_all_raw(explain).await.expect("explain");
    txn.rollback().await.expect("rollback");
    let scans: Vec<String> = rows
        .iter()
        .filter_map(|row| match backend {
            DbBackend::MySql => {
                let table: Option<String> = row.try_get("", "table").ok()?;
                let access: Option<String> = row.try_get("", "type").ok()?;
                // `ALL` reads the table, `index` a whole index
                let whole = matches!(access.as_deref(), Some("ALL" | "index"));
                (table.as_deref() == Some("node") && whole).then(|| format!("{access:?}"))
            }
            DbBackend::Postgres => {
                let line: String = row.try_get("", "QUERY PLAN").ok()?;
                line.contains("Seq Scan on node").then_some(line)
            }
            _ => {
                let detail: String = row.try_get("", "detail").ok()?;
                detail.starts_with("SCAN node").then_some(detail)
            }
        })
        .collect();
    assert!(scans.is_empty(), "{}: {scans:?}", statement.sql);
}

/// Registers version `version` of model `model`: (the model's id, the version's id).
async fn register(app: &TestApp, model: &str, version: &str) -> (i64, i64) {
    let registered = app
        .ok(
            "mutation($n: String!, $v: String!) { registerModel(input: {name: $n, version: $v, uri: \"s3://b/m\"}) { id registeredModelId } }",
            json!({"n": model, "v": version}),
        )
        .await;
    let id = |field: &str| -> i64 {
        registered["registerModel"][field]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("{field} in {registered}"))
    };
    (id("registeredModelId"), id("id"))
}

/// Asserts that `index` exists and holds only the rows whose `column` is set: its
/// definition (SQLite's `sqlite_master.sql`, PostgreSQL's `pg_indexes.indexdef`) ends in
/// a `WHERE` naming the column as `IS NOT NULL`.
async fn assert_partial(app: &TestApp, index: &str, column: &str) {
    let backend = app.db.get_database_backend();
    let definition = match backend {
        DbBackend::Postgres => format!(
            "SELECT indexdef AS d FROM pg_indexes \
             WHERE schemaname = current_schema() AND indexname = '{index}'"
        ),
        _ => format!("SELECT sql AS d FROM sqlite_master WHERE name = '{index}'"),
    };
    let definition: String = app
        .db
        .query_one_raw(Statement::from_string(backend, definition))
        .await
        .expect("index")
        .unwrap_or_else(|| panic!("{index} exists"))
        .try_get("", "d")
        .unwrap();
    let condition = definition.split_once("WHERE").map(|(_, c)| c);
    assert!(
        condition.is_some_and(|c| c.contains(column) && c.contains("IS NOT NULL")),
        "{definition}"
    );
}

/// Has the store gather the node table's statistics, which its plans are made from.
async fn analyze(app: &TestApp) {
    let analyze = match app.db.get_database_backend() {
        DbBackend::Postgres => "ANALYZE node",
        DbBackend::MySql => r#"ANALYZE TABLE "node""#,
        _ => "ANALYZE",
    };
    app.db.execute_unprepared(analyze).await.expect("analyze");
}

/// [`plan`] in a transaction that, on PostgreSQL, turns sequential scans off: the test
/// stores are small enough that it would scan them whatever their indexes.
async fn plan_with_indexes(app: &TestApp, query: &str) -> String {
    let txn = app.db.begin().await.expect("begin");
    if app.db.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL enable_seqscan = off")
            .await
            .expect("set");
    }
    let plan = plan(&txn, query).await;
    txn.rollback().await.expect("rollback");
    plan
}

/// The store's plan for `query`, as text: SQLite's and PostgreSQL's plan lines, or the
/// keys MySQL/MariaDB would read (empty when it scans the table).
async fn plan(db: &impl ConnectionTrait, query: &str) -> String {
    let backend = db.get_database_backend();
    let explain = match backend {
        DbBackend::Sqlite => format!("EXPLAIN QUERY PLAN {query}"),
        _ => format!("EXPLAIN {query}"),
    };
    let rows = db
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
