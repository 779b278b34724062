//! The change log: every committed write, through every door, leaves its changes with
//! who made them; refused and rolled-back writes and replays leave none; `sequence` is
//! gap-free and in commit order; `node(asOf:)` rebuilds a node's past.
use modelgraph::auth::{Role, tokens};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::identity::{call_as, gql_as};
use crate::on_both;

on_both!(
    every_door_records_its_writes_with_actor_and_door,
    refused_and_replayed_writes_record_nothing,
    nodes_read_as_of_a_time,
    sequences_stay_gap_free_under_concurrent_writers,
);

const CHANGES: &str = r#"query($f: ChangeFilter) { changes(filter: $f, first: 100) {
    edges { cursor } nodes { sequence actor via operation nodeId otherNodeId before after node { id kind } } } }"#;

async fn changes(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let answer = gql_as(app, Some(token), CHANGES, json!({"f": filter})).await;
    assert!(answer.body["errors"].is_null(), "{}", answer.body);
    answer.body["data"]["changes"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn every_door_records_its_writes_with_actor_and_door(app: &TestApp) {
    let admin = tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap()
        .token;
    let ed = tokens::create(&app.db, "ed", Role::Editor, None)
        .await
        .unwrap()
        .token;
    let made = gql_as(
        app,
        Some(&ed),
        r#"mutation { createRegisteredModel(input: {name: "m", description: "first", customProperties: {a: 1}}) { id } }"#,
        json!({}),
    )
    .await;
    let id = made.body["data"]["createRegisteredModel"]["id"].clone();
    let updated = gql_as(
        app,
        Some(&ed),
        r#"mutation($id: ID!) { updateRegisteredModel(id: $id, input: {description: "second", state: ARCHIVED}) { revision } }"#,
        json!({"id": id}),
    )
    .await;
    assert!(updated.body["errors"].is_null(), "{}", updated.body);
    let rest = call_as(
        app,
        Some(&ed),
        "POST",
        &format!(
            "/api/model_registry/v1/registered_models/{}/versions",
            id.as_str().unwrap()
        ),
        Some(&json!({"name": "v1"})),
        &[],
    )
    .await;
    assert_eq!(rest.status, 201, "{}", rest.body);
    let event = json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b40"}, "job": {"namespace": "ns", "name": "j"},
        "inputs": [{"namespace": "s3://b", "name": "in.csv"}], "outputs": [],
    });
    let ol = call_as(app, Some(&ed), "POST", "/api/v1/lineage", Some(&event), &[]).await;
    assert_eq!(ol.status, 201, "{}", ol.body);

    let all = changes(app, &admin, json!({})).await;
    // newest first, sequences gap-free
    let seqs: Vec<i64> = all
        .iter()
        .map(|c| c["sequence"].as_i64().unwrap())
        .collect();
    let mut expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    expected.reverse();
    assert_eq!(seqs, expected, "{all:#?}");
    assert!(all.iter().all(|c| c["actor"] == "ed"), "{all:#?}");

    let of_model = changes(app, &admin, json!({"nodeIds": [id]})).await;
    let ops: Vec<&str> = of_model
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["ARCHIVE", "CREATE"], "{of_model:#?}");
    let archive = &of_model[0];
    assert_eq!(archive["via"], "GRAPHQL");
    assert_eq!(
        archive["before"],
        json!({"description": "first", "state": "LIVE", "revision": 1})
    );
    assert_eq!(
        archive["after"],
        json!({"description": "second", "state": "ARCHIVED", "revision": 2})
    );
    let create = &of_model[1];
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["name"], "m");
    assert_eq!(create["after"]["customProperties"], json!({"a": 1}));
    assert_eq!(create["node"]["kind"], "REGISTERED_MODEL");

    let by_rest: Vec<&Value> = all.iter().filter(|c| c["via"] == "REST").collect();
    assert_eq!(by_rest.len(), 1, "{all:#?}");
    assert_eq!(by_rest[0]["after"]["name"], "v1");
    let by_ol: Vec<&str> = all
        .iter()
        .filter(|c| c["via"] == "OPENLINEAGE")
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    // the job (experiment), its run, the dataset, and the INPUT edge
    assert_eq!(
        by_ol.iter().filter(|o| **o == "CREATE").count(),
        3,
        "{by_ol:?}"
    );
    assert_eq!(
        by_ol.iter().filter(|o| **o == "EDGE_ADD").count(),
        1,
        "{by_ol:?}"
    );
    let edge = all.iter().find(|c| c["operation"] == "EDGE_ADD").unwrap();
    assert_eq!(edge["after"]["kind"], "INPUT");
    assert!(edge["otherNodeId"].is_string());
    // an edge's change is of its source's kind: the dataset the run read
    let of_datasets = changes(app, &admin, json!({"kinds": ["DATASET"]})).await;
    let ops: Vec<&str> = of_datasets
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["EDGE_ADD", "CREATE"], "{of_datasets:#?}");

    // the same through the node's own history, paged
    let history = gql_as(
        app,
        Some(&admin),
        r#"query($id: ID!) { node(id: $id) { ... on RegisteredModel { history(first: 1) { pageInfo { hasNextPage endCursor } nodes { operation } } } } }"#,
        json!({"id": id}),
    )
    .await;
    let page = &history.body["data"]["node"]["history"];
    assert_eq!(page["nodes"][0]["operation"], "ARCHIVE", "{}", history.body);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = gql_as(
        app,
        Some(&admin),
        r#"query($id: ID!, $after: String) { node(id: $id) { history(first: 5, after: $after) { pageInfo { hasNextPage } nodes { operation } } } }"#,
        json!({"id": id, "after": page["pageInfo"]["endCursor"]}),
    )
    .await;
    let rest_of = &next.body["data"]["node"]["history"];
    assert_eq!(
        rest_of["nodes"],
        json!([{"operation": "CREATE"}]),
        "{}",
        next.body
    );
    assert_eq!(rest_of["pageInfo"]["hasNextPage"], false);
    // filters: by actor, operation and kind
    let none = changes(app, &admin, json!({"actors": ["someone-else"]})).await;
    assert!(none.is_empty());
    let creates = changes(
        app,
        &admin,
        json!({"operations": ["CREATE"], "kinds": ["MODEL_VERSION"]}),
    )
    .await;
    assert_eq!(creates.len(), 1, "{creates:#?}");
}

async fn refused_and_replayed_writes_record_nothing(app: &TestApp) {
    let admin = tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap()
        .token;
    let reader = tokens::create(&app.db, "re", Role::Reader, None)
        .await
        .unwrap()
        .token;
    // refused: no role, bad input, a duplicate name (rolled back after its insert failed)
    gql_as(
        app,
        Some(&reader),
        r#"mutation { createRegisteredModel(input: {name: "x"}) { id } }"#,
        json!({}),
    )
    .await;
    gql_as(
        app,
        Some(&admin),
        r#"mutation { createRegisteredModel(input: {name: ""}) { id } }"#,
        json!({}),
    )
    .await;
    gql_as(
        app,
        Some(&admin),
        r#"mutation { createRegisteredModel(input: {name: "dup"}) { id } }"#,
        json!({}),
    )
    .await;
    let dup = gql_as(
        app,
        Some(&admin),
        r#"mutation { createRegisteredModel(input: {name: "dup"}) { id } }"#,
        json!({}),
    )
    .await;
    assert!(dup.body["errors"].is_array());
    // a registerModel whose version clashes: the model it created is rolled back too
    let event = json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b41"}, "job": {"namespace": "ns", "name": "j"},
        "inputs": [{"namespace": "s3://b", "name": "in.csv"}], "outputs": [],
    });
    for _ in 0..2 {
        let ol = call_as(
            app,
            Some(&admin),
            "POST",
            "/api/v1/lineage",
            Some(&event),
            &[],
        )
        .await;
        assert_eq!(ol.status, 201);
    }
    let all = changes(app, &admin, json!({})).await;
    let ops: Vec<&str> = all
        .iter()
        .map(|c| c["operation"].as_str().unwrap())
        .collect();
    // "dup" once, and the event once: job, run, dataset, edge
    assert_eq!(ops.len(), 5, "{all:#?}");
    assert_eq!(ops.iter().filter(|o| **o == "CREATE").count(), 4);
    let seqs: Vec<i64> = all
        .iter()
        .map(|c| c["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![5, 4, 3, 2, 1], "a refused write left a gap");
}

async fn nodes_read_as_of_a_time(app: &TestApp) {
    let made = app
        .ok(
            r#"mutation { createRegisteredModel(input: {name: "t", description: "one", customProperties: {stage: "dev"}}) { id createTime } }"#,
            json!({}),
        )
        .await;
    let id = made["createRegisteredModel"]["id"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    app.ok(
        r#"mutation($id: ID!) { updateRegisteredModel(id: $id, input: {description: "two", customProperties: {stage: "prod"}}) { revision } }"#,
        json!({"id": id}),
    )
    .await;
    let q = r#"query($id: ID!, $t: DateTime) { node(id: $id, asOf: $t) { ... on RegisteredModel { description customProperties revision } } }"#;
    let then = app.ok(q, json!({"id": id, "t": between})).await;
    assert_eq!(
        then["node"],
        json!({"description": "one", "customProperties": {"stage": "dev"}, "revision": 1})
    );
    let now = app.ok(q, json!({"id": id, "t": null})).await;
    assert_eq!(now["node"]["description"], "two");
    assert_eq!(now["node"]["revision"], 2);
    let before_it = app
        .ok(q, json!({"id": id, "t": "2000-01-01T00:00:00Z"}))
        .await;
    assert!(before_it["node"].is_null());
}

/// Sixteen writers at once: every change gets its own number, none is skipped, and the
/// numbers follow the commits.
async fn sequences_stay_gap_free_under_concurrent_writers(app: &TestApp) {
    let q = r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#;
    let mut tasks = Vec::new();
    for w in 0..16 {
        let client = app.client.clone();
        let url = format!("{}/graphql", app.base);
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let body = json!({"query": q, "variables": {"n": format!("w{w}-{i}")}});
                let res: Value = client
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(res["errors"].is_null(), "{res}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let data = app
        .ok(
            "{ changes(first: 1000) { nodes { sequence nodeId } } }",
            json!({}),
        )
        .await;
    let rows = data["changes"]["nodes"].as_array().unwrap();
    assert_eq!(rows.len(), 80);
    let mut seqs: Vec<i64> = rows
        .iter()
        .map(|c| c["sequence"].as_i64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
}
