//! `import-graph`'s bulk path: a generated graph loads whole (nodes, edges, one change
//! each), walks over it agree with the files, and a bad file is refused naming its line,
//! with nothing written. On PostgreSQL a superuser's import skips the per-row reference
//! checks inside its own transactions only, and a role that may not skip them imports
//! with them.
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use modelgraph::gen_graph::{Shape, generate};
use modelgraph::registry::RegistryError;
use modelgraph::registry::bulk::{ImportStats, ReferenceChecks, import_graph};
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    an_imported_graph_answers_as_its_files_say,
    a_bad_edge_is_refused_before_anything_is_written,
    an_edge_listed_twice_is_written_once,
    edges_are_written_in_their_unique_indexs_order,
    nodes_are_numbered_in_their_name_indexs_order_and_created_in_the_files,
    a_name_given_twice_is_refused_before_anything_is_written,
    an_id_given_twice_is_refused_before_anything_is_written,
    ids_far_apart_join_the_edges_they_name,
    a_load_that_fails_leaves_every_index_and_the_store_writable,
);

struct Files {
    /// CSV id -> (kind, name)
    nodes: HashMap<u64, (String, String)>,
    /// (source, target, kind), CSV ids
    edges: Vec<(u64, u64, String)>,
}

fn read(dir: &Path) -> Files {
    let text = std::fs::read_to_string(dir.join("nodes.csv")).unwrap();
    let nodes = text
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                cells[0].parse().unwrap(),
                (cells[1].to_owned(), cells[2].to_owned()),
            )
        })
        .collect();
    let text = std::fs::read_to_string(dir.join("edges.csv")).unwrap();
    let edges = text
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                cells[0].parse().unwrap(),
                cells[1].parse().unwrap(),
                cells[2].to_owned(),
            )
        })
        .collect();
    Files { nodes, edges }
}

async fn an_imported_graph_answers_as_its_files_say(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    // about 21,000 nodes and 28,000 edges: several batches of each, so that on
    // PostgreSQL two are written at once (`registry::bulk`'s streams)
    let shape = Shape {
        runs: 7000,
        seed: 7,
        ..Shape::default()
    };
    let generated = generate(&shape, dir.path(), |_| {}).unwrap();
    let files = read(dir.path());
    assert_eq!(files.nodes.len() as u64, generated.nodes);
    let nodes_before = app.count_rows("node").await;
    let changes_before = app.count_rows("change").await;
    let indexes_before = indexes(app).await;
    let stats = import_graph(
        &app.db,
        &dir.path().join("nodes.csv"),
        &dir.path().join("edges.csv"),
        |_, _, _| {},
    )
    .await
    .expect("import");
    assert_eq!(stats.nodes as u64, generated.nodes);
    assert_eq!(stats.edges as u64, generated.edges);
    // the test role is a superuser: PostgreSQL's row-by-row reference checks are
    // skipped, and SQLite's on the import's own connection to a file
    let skipped =
        app.db.get_database_backend() == DbBackend::Postgres || app.sqlite_file().is_some();
    let want = match skipped {
        true => ReferenceChecks::Skipped,
        false => ReferenceChecks::Checked,
    };
    assert_eq!(stats.reference_checks, want);
    references_are_still_checked(&app.db).await;
    // a load into a small store builds the secondary indexes after: all there again
    assert_eq!(indexes(app).await, indexes_before);
    assert_analyzed(app).await;
    // the three containers, then every node; one change per node and per edge
    let containers = 3;
    assert_eq!(
        app.count_rows("node").await - nodes_before,
        generated.nodes as i64 + containers
    );
    assert_eq!(app.count_rows("lineage_edge").await, generated.edges as i64);
    let changes = app.count_rows("change").await - changes_before;
    assert_eq!(
        changes,
        generated.nodes as i64 + generated.edges as i64 + containers,
        "one change per node and per edge"
    );
    // each edge's change is filed under its source's kind
    let filed = app
        .count(
            r#"SELECT COUNT(*) AS n FROM "change" c JOIN "node" s ON s."id" = c."node_id"
               WHERE c."operation" = 'EDGE_ADD' AND c."node_kind" = s."kind""#,
        )
        .await;
    assert_eq!(filed, generated.edges as i64);

    // node ids by name (names are unique in the generated graph)
    let by_name: HashMap<&str, u64> = files
        .nodes
        .iter()
        .map(|(id, (_, name))| (name.as_str(), *id))
        .collect();
    let latest_versions = app
        .ok(
            r#"{ modelVersions(first: 5, orderBy: {field: CREATE_TIME, direction: DESC}) { nodes { id name } } }"#,
            json!({}),
        )
        .await;
    let versions = latest_versions["modelVersions"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(versions.len(), 5);
    for version in versions {
        let csv_id = by_name[version["name"].as_str().unwrap()];
        let data = app
            .ok(
                r#"query($s: [ID!]!) { lineage(start: $s, direction: UPSTREAM, maxDepth: 3, first: 10000) {
                    nodes { depth node { name } } } }"#,
                json!({"s": [version["id"]]}),
            )
            .await;
        let got: BTreeSet<(String, u64)> = data["lineage"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["node"]["name"].as_str().unwrap().to_owned(),
                    n["depth"].as_u64().unwrap(),
                )
            })
            .collect();
        // the files' own BFS
        let mut depth: HashMap<u64, u64> = HashMap::from([(csv_id, 0)]);
        let mut frontier = vec![csv_id];
        for level in 1..=3 {
            let mut next = Vec::new();
            for id in frontier {
                for (source, _, _) in files.edges.iter().filter(|(_, t, _)| *t == id) {
                    if !depth.contains_key(source) {
                        depth.insert(*source, level);
                        next.push(*source);
                    }
                }
            }
            frontier = next;
        }
        let want: BTreeSet<(String, u64)> = depth
            .into_iter()
            .filter(|(_, d)| *d > 0)
            .map(|(id, d)| (files.nodes[&id].1.clone(), d))
            .collect();
        assert!(
            !want.is_empty(),
            "version {csv_id} has no lineage in the files"
        );
        assert_eq!(got, want, "upstream of {}", version["name"]);
    }
}

/// Edges to nodes that do not exist are refused on every pooled connection at once: the
/// import skipped the checks inside its own transactions (PostgreSQL) or on its own
/// connection (SQLite), not for the server's connections after.
async fn references_are_still_checked(db: &sea_orm::DatabaseConnection) {
    let attempts = (0..8).map(|i| async move {
        let txn = sea_orm::TransactionTrait::begin(db).await.unwrap();
        let sql = format!(
            "INSERT INTO lineage_edge (source_id, target_id, kind, create_time) \
             VALUES ({}, {}, 'INPUT', 0)",
            -1 - i,
            -100 - i
        );
        let refused = txn
            .execute_unprepared(&sql)
            .await
            .expect_err("a dangling edge");
        txn.rollback().await.unwrap();
        refused.to_string()
    });
    for refused in futures_util::future::join_all(attempts).await {
        assert!(refused.to_lowercase().contains("foreign key"), "{refused}");
    }
}

/// On PostgreSQL, a role that may not set `session_replication_role` (no superuser)
/// imports with every row checked, and the import is whole all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_skip_reference_checks_imports_with_them() {
    let url = crate::helpers::postgres_url();
    let admin = sea_orm::Database::connect(&url).await.unwrap();
    let name = format!("mg_importer_{}", uuid::Uuid::new_v4().simple());
    for sql in [
        format!("CREATE ROLE {name} LOGIN NOSUPERUSER"),
        format!("CREATE SCHEMA {name} AUTHORIZATION {name}"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap();
    }
    // the same server and database, as the new role, in its own schema
    let rest = url.split_once('@').map_or(url.as_str(), |(_, rest)| rest);
    let sep = if rest.contains('?') { '&' } else { '?' };
    let as_role = format!("postgres://{name}@{rest}{sep}options=-c%20search_path%3D{name}");
    let outcome = async {
        let db = crate::helpers::connect(&as_role).await;
        modelgraph::db::migrate(&db).await.expect("migrate");
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape {
            runs: 300,
            seed: 3,
            ..Shape::default()
        };
        let generated = generate(&shape, dir.path(), |_| {}).unwrap();
        let stats = import_graph(
            &db,
            &dir.path().join("nodes.csv"),
            &dir.path().join("edges.csv"),
            |_, _, _| {},
        )
        .await
        .expect("import as a role that is not a superuser");
        assert_eq!(stats.reference_checks, ReferenceChecks::Checked);
        assert_eq!(stats.edges as u64, generated.edges);
        let edges = db
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT COUNT(*) AS n FROM lineage_edge",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(edges as u64, generated.edges);
        db.close().await.unwrap();
    };
    let result = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;
    for sql in [
        format!("DROP SCHEMA {name} CASCADE"),
        format!("DROP ROLE {name}"),
    ] {
        admin.execute_unprepared(&sql).await.unwrap();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The planner has statistics of the tables walks and lists read, as the import left them.
async fn assert_analyzed(app: &TestApp) {
    let sql = match app.db.get_database_backend() {
        // column statistics, which only ANALYZE writes (CREATE INDEX also sets the
        // table's row estimate, so that would not tell)
        DbBackend::Postgres => {
            "SELECT COUNT(DISTINCT tablename) AS n FROM pg_stats \
             WHERE schemaname = current_schema() AND tablename IN ('node', 'lineage_edge')"
        }
        // InnoDB keeps estimates of its own whether analysed or not
        DbBackend::MySql => return,
        _ => {
            "SELECT COUNT(DISTINCT tbl) AS n FROM sqlite_stat1 \
             WHERE tbl IN ('node', 'lineage_edge')"
        }
    };
    assert_eq!(
        app.count(sql).await,
        2,
        "statistics of node and lineage_edge"
    );
}

/// The definitions of the indexes on the tables an import fills, sorted.
async fn indexes(app: &TestApp) -> Vec<String> {
    let sql = match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT indexdef AS d FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename IN ('node', 'lineage_edge', 'change') ORDER BY 1"
        }
        sea_orm::DbBackend::MySql => {
            "SELECT CONCAT(table_name, '.', index_name, ': ', \
             GROUP_CONCAT(column_name ORDER BY seq_in_index)) AS d \
             FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name IN ('node', 'lineage_edge', 'change') \
             GROUP BY table_name, index_name ORDER BY 1"
        }
        _ => {
            "SELECT COALESCE(sql, name) AS d FROM sqlite_master WHERE type = 'index' \
             AND tbl_name IN ('node', 'lineage_edge', 'change') ORDER BY 1"
        }
    };
    let rows = app.rows(sql).await;
    let found: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "d").unwrap())
        .collect();
    assert!(found.len() >= 10, "{found:?}");
    found
}

/// The edges `rest` picks and orders (`e` the edge, `s` and `t` its ends), as their ends'
/// names.
async fn edges_by_name(app: &TestApp, rest: &str) -> Vec<(String, String)> {
    let rows = app
        .rows(format!(
            r#"SELECT s."name" AS "source", t."name" AS "target" FROM "lineage_edge" e
               JOIN "node" s ON s."id" = e."source_id"
               JOIN "node" t ON t."id" = e."target_id"
               WHERE {rest}"#
        ))
        .await;
    rows.iter()
        .map(|r| {
            (
                r.try_get("", "source").unwrap(),
                r.try_get("", "target").unwrap(),
            )
        })
        .collect()
}

/// Imports a `nodes.csv` and an `edges.csv` holding these contents.
async fn import_csv(app: &TestApp, nodes: &str, edges: &str) -> Result<ImportStats, RegistryError> {
    let dir = tempfile::tempdir().unwrap();
    let (nodes_csv, edges_csv) = (dir.path().join("nodes.csv"), dir.path().join("edges.csv"));
    std::fs::write(&nodes_csv, nodes).unwrap();
    std::fs::write(&edges_csv, edges).unwrap();
    import_graph(&app.db, &nodes_csv, &edges_csv, |_, _, _| {}).await
}

async fn a_bad_edge_is_refused_before_anything_is_written(app: &TestApp) {
    let nodes_before = app.count_rows("node").await;
    let changes_before = app.count_rows("change").await;
    let err = import_csv(
        app,
        "id,kind,name\n1,DATASET,raw\n2,EXPERIMENT_RUN,train\n3,MODEL_VERSION,v1\n",
        "source,target,kind\n1,2,INPUT\n2,9,OUTPUT\n",
    )
    .await
    .expect_err("an edge to a node not in the file");
    let text = err.to_string();
    assert!(text.contains("edges.csv:3"), "{text}");
    assert!(text.contains("node 9"), "{text}");
    assert_eq!(
        app.count_rows("node").await,
        nodes_before,
        "nodes were written"
    );
    assert_eq!(app.count_rows("change").await, changes_before);
    assert_eq!(app.count_rows("lineage_edge").await, 0);
}

/// A name the nodes file gives twice (same kind) is refused naming both lines, before
/// anything is written: the store's unique name index would otherwise refuse it
/// partway through the load, after earlier batches went in.
/// Nodes go in sorted by kind and name, the unique name index's order, whatever the
/// file's order, so each insert lands at the end of that index; their creation times
/// still follow the file.
async fn nodes_are_numbered_in_their_name_indexs_order_and_created_in_the_files(app: &TestApp) {
    let last_node = app
        .count(r#"SELECT COALESCE(MAX("id"), 0) AS "n" FROM "node""#)
        .await;
    import_csv(
        app,
        "id,kind,name\n1,EXPERIMENT_RUN,named-b\n2,DATASET,named-z\n\
         3,MODEL_VERSION,named-a\n4,DATASET,named-a\n",
        "source,target,kind\n",
    )
    .await
    .expect("import");
    let named = |order: &str| {
        let sql = format!(
            r#"SELECT "kind", "name" FROM "node"
               WHERE "id" > {last_node} AND "name" LIKE 'named-%' ORDER BY {order}"#
        );
        async move {
            let rows = app.rows(sql).await;
            rows.iter()
                .map(|r| {
                    let kind: String = r.try_get("", "kind").unwrap();
                    let name: String = r.try_get("", "name").unwrap();
                    format!("{kind} {name}")
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        named(r#""id""#).await,
        [
            "DATASET named-a",
            "DATASET named-z",
            "EXPERIMENT_RUN named-b",
            "MODEL_VERSION named-a"
        ],
        "nodes by id"
    );
    assert_eq!(
        named(r#""create_time", "id""#).await,
        [
            "EXPERIMENT_RUN named-b",
            "DATASET named-z",
            "MODEL_VERSION named-a",
            "DATASET named-a"
        ],
        "nodes by creation time"
    );
}

async fn a_name_given_twice_is_refused_before_anything_is_written(app: &TestApp) {
    let nodes_before = app.count_rows("node").await;
    let changes_before = app.count_rows("change").await;
    let err = import_csv(
        app,
        "id,kind,name\n1,DATASET,twice\n2,EXPERIMENT_RUN,twice\n3,DATASET,other\n\
         4,DATASET,twice\n",
        "source,target,kind\n1,2,INPUT\n",
    )
    .await
    .expect_err("a dataset named twice");
    let text = err.to_string();
    assert!(text.contains("nodes.csv:5"), "{text}");
    assert!(
        text.contains("\"twice\"") && text.contains("line 2"),
        "{text}"
    );
    assert_eq!(app.count_rows("node").await, nodes_before);
    assert_eq!(app.count_rows("change").await, changes_before);
}

async fn an_id_given_twice_is_refused_before_anything_is_written(app: &TestApp) {
    let nodes_before = app.count_rows("node").await;
    // ids in a close range, and far apart (each kept its own way)
    for ids in [[1i64, 2, 1], [5, 9_000_000_000, 5]] {
        let err = import_csv(
            app,
            &format!(
                "id,kind,name\n{},DATASET,id-a\n\n{},EXPERIMENT_RUN,id-b\n{},DATASET,id-c\n",
                ids[0], ids[1], ids[2]
            ),
            "source,target,kind\n",
        )
        .await
        .expect_err("an id given twice");
        let text = err.to_string();
        assert!(
            text.contains("nodes.csv:5") && text.contains("line 2"),
            "{text}"
        );
    }
    assert_eq!(app.count_rows("node").await, nodes_before);
}

/// Ids the file spreads far apart (negative, and near the ends of i64) still name the
/// nodes their edges join.
async fn ids_far_apart_join_the_edges_they_name(app: &TestApp) {
    let stats = import_csv(
        app,
        &format!(
            "id,kind,name\n{},DATASET,far-raw\n-3,EXPERIMENT_RUN,far-train\n\
             {},MODEL_VERSION,far-v1\n",
            i64::MAX,
            i64::MIN
        ),
        &format!(
            "source,target,kind\n{},-3,INPUT\n-3,{},OUTPUT\n",
            i64::MAX,
            i64::MIN
        ),
    )
    .await
    .expect("import");
    assert_eq!(stats.edges, 2);
    let joined = edges_by_name(app, r#"s."name" LIKE 'far-%' ORDER BY s."name""#).await;
    assert_eq!(
        joined,
        [
            ("far-raw".to_owned(), "far-train".to_owned()),
            ("far-train".to_owned(), "far-v1".to_owned())
        ]
    );
}

/// A load the store refuses in its nodes stage (a name it already holds) names the node,
/// still builds again the indexes it dropped, leaves none of the refused batch behind,
/// and on SQLite hands the store back from its node-stage settings: a server then writes
/// as before.
async fn a_load_that_fails_leaves_every_index_and_the_store_writable(app: &TestApp) {
    app.ok(
        r#"mutation { createDataset(input: { name: "fail-a" }) { id } }"#,
        json!({}),
    )
    .await;
    let indexes_before = indexes(app).await;
    let nodes_before = app.count_rows("node").await;
    // more nodes than the store holds with the import's three containers, so the
    // import drops the secondary indexes before the load
    let err = import_csv(
        app,
        "id,kind,name\n1,DATASET,fail-b\n2,DATASET,fail-c\n3,DATASET,fail-d\n\
         4,DATASET,fail-e\n5,DATASET,fail-f\n6,DATASET,fail-a\n",
        "source,target,kind\n",
    )
    .await
    .expect_err("a name the store holds");
    let text = err.to_string();
    assert!(
        text.contains("node 6") && text.contains("\"fail-a\""),
        "the error names the node: {text}"
    );
    assert_eq!(indexes(app).await, indexes_before, "indexes built again");
    let containers = 3;
    assert_eq!(
        app.count_rows("node").await,
        nodes_before + containers,
        "the refused batch left nodes behind"
    );
    let created = app
        .ok(
            r#"mutation { createDataset(input: { name: "fail-b" }) { id name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(created["createDataset"]["name"], "fail-b");
}

/// The column arrays bulk writes bind (`db::recordset`) come back from PostgreSQL as the
/// values they were made of: quotes, backslashes, commas, braces, the text NULL, empty
/// text, non-ASCII text, JSON, real NULLs and large numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_arrays_read_back_as_their_values_on_postgres() {
    use modelgraph::db::recordset::{column_arrays, names, unnest};
    use sea_orm::Value;
    let db = crate::helpers::connect(&crate::helpers::postgres_url()).await;
    let columns = [("n", "bigint"), ("t", "text")];
    let texts = [
        Some(r#"a "quoted" \ back\slash"#),
        Some("commas, {braces}, (parens)"),
        Some("NULL"),
        Some(""),
        Some("ünïcödé ✓ 模型"),
        Some(r#"{"x": [1, "two"], "y": null}"#),
        None,
        Some("  spaced  "),
    ];
    let rows: Vec<[Value; 2]> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let n = if i == 6 {
                None
            } else {
                Some(i64::MAX - i as i64)
            };
            [n.into(), t.map(str::to_owned).into()]
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {}",
        names("v", &columns),
        unnest(1, "v", &columns)
    );
    let arrays = column_arrays(&columns, &rows);
    let back = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            arrays,
        ))
        .await
        .unwrap();
    assert_eq!(back.len(), texts.len());
    for (i, (row, want)) in back.iter().zip(texts).enumerate() {
        let n: Option<i64> = row.try_get("", "n").unwrap();
        let t: Option<String> = row.try_get("", "t").unwrap();
        let want_n = if i == 6 {
            None
        } else {
            Some(i64::MAX - i as i64)
        };
        assert_eq!(n, want_n, "row {i}");
        assert_eq!(t.as_deref(), want, "row {i}");
    }
}

async fn an_edge_listed_twice_is_written_once(app: &TestApp) {
    let nodes_before = app.count_rows("node").await;
    let edges_before = app.count_rows("lineage_edge").await;
    let changes_before = app.count_rows("change").await;
    let stats = import_csv(
        app,
        "id,kind,name\n1,DATASET,twice-raw\n2,EXPERIMENT_RUN,twice-train\n",
        "source,target,kind\n1,2,INPUT\n1,2,INPUT\n",
    )
    .await
    .expect("import");
    assert_eq!(stats.edges, 1, "the repeated line counts once");
    assert_eq!(app.count_rows("lineage_edge").await - edges_before, 1);
    // one change per node written (containers included) and one for the edge: none for
    // the repeat
    let nodes_added = app.count_rows("node").await - nodes_before;
    assert_eq!(
        app.count_rows("change").await - changes_before,
        nodes_added + 1
    );
}

/// Edges go in sorted by (source, target, kind), the unique index's order, whatever the
/// file's order: on a large graph each insert then lands beside the last one.
async fn edges_are_written_in_their_unique_indexs_order(app: &TestApp) {
    let last_edge = app
        .count(r#"SELECT COALESCE(MAX("id"), 0) AS "n" FROM "lineage_edge""#)
        .await;
    let stats = import_csv(
        app,
        "id,kind,name\n1,DATASET,order-a\n2,DATASET,order-b\n\
         3,EXPERIMENT_RUN,order-r\n4,EXPERIMENT_RUN,order-s\n",
        "source,target,kind\n2,4,INPUT\n1,3,INPUT\n2,3,INPUT\n1,4,INPUT\n2,4,INPUT\n",
    )
    .await
    .expect("import");
    assert_eq!(stats.edges, 4, "the repeated line counts once");
    let written = edges_by_name(app, &format!(r#"e."id" > {last_edge} ORDER BY e."id""#)).await;
    let want = [
        ("order-a", "order-r"),
        ("order-a", "order-s"),
        ("order-b", "order-r"),
        ("order-b", "order-s"),
    ];
    assert_eq!(
        written,
        want.map(|(s, t)| (s.to_owned(), t.to_owned())).to_vec(),
        "edges by id"
    );
}
