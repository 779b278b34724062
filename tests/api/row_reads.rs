//! Rows read by place: on PostgreSQL and MySQL/MariaDB the registry maps rows of
//! numbers, booleans and text into their structs by column place (`db::rows::by_place`)
//! instead of through sea-orm's lookups by name. Both must read every node alike, whole or with only some
//! of its columns; rows with other types go through sea-orm as before.
use entity::node;
use modelgraph::db::{exec, rows};
use modelgraph::registry::columns::NodeColumns;
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryOrder, Statement};
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(rows_read_by_place_match_rows_read_by_name);

/// Nodes of several kinds, with NULLs, text, whole and fractional numbers.
async fn seed(app: &TestApp) {
    let model = app
        .ok(
            r#"mutation($p: JSON) { createRegisteredModel(input: {name: "m", owner: "ann", customProperties: $p}) { id } }"#,
            json!({"p": {"team": "vision", "layers": 12}}),
        )
        .await;
    let version = app
        .ok(
            r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m, name: "v1", description: "quoted \"text\" and ünïcode", author: "bob"}) { id } }"#,
            json!({"m": model["createRegisteredModel"]["id"]}),
        )
        .await;
    let v = &version["createModelVersion"]["id"];
    app.ok(
        r#"mutation($v: ID!) { createMetric(input: {modelVersionId: $v, name: "auc", value: 0.25}) { id } }"#,
        json!({"v": v}),
    )
    .await;
    app.ok(
        r#"mutation($v: ID!) { createModelArtifact(input: {modelVersionId: $v, name: "weights", uri: "s3://w"}) { id } }"#,
        json!({"v": v}),
    )
    .await;
}

async fn rows_read_by_place_match_rows_read_by_name(app: &TestApp) {
    seed(app).await;
    let db = &app.db;
    let backend = db.get_database_backend();
    // sea-orm's own mapping, by name
    let whole_by_name = node::Entity::find()
        .order_by_asc(node::Column::Id)
        .all(db)
        .await
        .expect("read by name");
    assert!(whole_by_name.len() >= 4, "{whole_by_name:#?}");
    // the registry's, by place where the store allows
    let whole = node::Entity::find().order_by_asc(node::Column::Id);
    let by_place: Vec<node::Model> = exec::all(db, &whole).await.expect("read by place");
    assert_eq!(by_place, whole_by_name);
    let metric = by_place
        .iter()
        .find(|n| n.kind == "METRIC")
        .expect("a metric");
    assert_eq!(metric.metric_value, Some(0.25));

    // only some columns: the others read as None either way
    let some = NodeColumns::required().with(node::Column::Description);
    let pruned = some
        .select(node::Entity::find())
        .order_by_asc(node::Column::Id);
    let by_place: Vec<node::Model> = exec::all(db, &pruned).await.expect("pruned by place");
    let by_name = pruned.all(db).await.expect("pruned by name");
    assert_eq!(by_place, by_name);
    let version = by_place.iter().find(|n| n.name == "v1").expect("v1");
    assert_eq!(
        version.description.as_deref(),
        Some("quoted \"text\" and ünïcode")
    );
    assert_eq!(version.owner, None, "a column not read");

    // which rows go by place: PostgreSQL's and MySQL/MariaDB's of numbers, booleans and
    // text only
    let raw = |sql: &str| db.query_all_raw(Statement::from_string(backend, sql.to_owned()));
    let plain = raw("SELECT 7 AS id, 'a' AS name").await.expect("plain");
    let dated = raw("SELECT 7 AS id, CURRENT_TIMESTAMP AS at")
        .await
        .expect("dated");
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Pair {
        id: i64,
        name: Option<String>,
    }
    match backend {
        DbBackend::Sqlite => assert!(
            rows::by_place::<Pair>(&plain).is_none(),
            "SQLite through sqlx is left to sea-orm"
        ),
        _ => {
            // every column of a node is one of those
            let nodes = raw("SELECT * FROM node ORDER BY id").await.expect("nodes");
            let read = rows::by_place::<node::Model>(&nodes).expect("nodes read by place");
            assert_eq!(read.expect("nodes fit"), whole_by_name);
            let read = rows::by_place::<Pair>(&plain).expect("read by place");
            assert_eq!(
                read.expect("fits"),
                [Pair {
                    id: 7,
                    name: Some("a".into())
                }]
            );
            assert!(
                rows::by_place::<Pair>(&dated).is_none(),
                "a timestamp column is left to sea-orm"
            );
            // a row that does not fit is an error naming why, not a panic
            let wrong = raw("SELECT 'seven' AS id").await.expect("wrong");
            let err = rows::by_place::<Pair>(&wrong)
                .expect("read by place")
                .expect_err("text is no id");
            assert!(err.to_string().contains("seven"), "{err}");
        }
    }
}
