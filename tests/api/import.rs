//! `import-graph`'s bulk path: a generated graph loads whole (nodes, edges, one change
//! each), walks over it agree with the files, and a bad file is refused naming its line,
//! with nothing written.
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use modelgraph::gen_graph::{Shape, generate};
use modelgraph::registry::bulk::import_graph;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    an_imported_graph_answers_as_its_files_say,
    a_bad_edge_is_refused_before_anything_is_written,
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
    let shape = Shape {
        runs: 1500,
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
    // a load into a small store builds the secondary indexes after: all there again
    assert_eq!(indexes(app).await, indexes_before);
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

/// The definitions of the indexes on the tables an import fills, sorted.
async fn indexes(app: &TestApp) -> Vec<String> {
    use sea_orm::ConnectionTrait;
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
    let rows = app
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    let found: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "d").unwrap())
        .collect();
    assert!(found.len() >= 10, "{found:?}");
    found
}

async fn a_bad_edge_is_refused_before_anything_is_written(app: &TestApp) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nodes.csv"),
        "id,kind,name\n1,DATASET,raw\n2,EXPERIMENT_RUN,train\n3,MODEL_VERSION,v1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("edges.csv"),
        "source,target,kind\n1,2,INPUT\n2,9,OUTPUT\n",
    )
    .unwrap();
    let nodes_before = app.count_rows("node").await;
    let changes_before = app.count_rows("change").await;
    let err = import_graph(
        &app.db,
        &dir.path().join("nodes.csv"),
        &dir.path().join("edges.csv"),
        |_, _, _| {},
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
