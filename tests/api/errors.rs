//! Bad input gets the right code and writes nothing; limits give LIMIT_EXCEEDED.
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::on_both;

on_both!(
    bad_input_is_refused_and_writes_nothing,
    names_are_unique_in_their_scope
);

async fn bad_input_is_refused_and_writes_nothing(app: &TestApp) {
    app.ok(
        r#"mutation { createRegisteredModel(input: {name: "m"}) { id } }"#,
        json!({}),
    )
    .await;
    let before = app.count_rows("node").await;
    let props_before = app.count_rows("node_property").await;
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        // unknown parent id
        (
            r#"mutation { createModelVersion(input: {registeredModelId: "987654"}) { id } }"#,
            json!({}),
            "NOT_FOUND",
        ),
        // parent of the wrong kind
        (
            r#"mutation { createExperimentRun(input: {experimentId: "1"}) { id } }"#,
            json!({}),
            "INVALID_INPUT",
        ),
        // an id that is not an id
        (
            r#"mutation { createModelVersion(input: {registeredModelId: "abc"}) { id } }"#,
            json!({}),
            "INVALID_INPUT",
        ),
        // wrong enum value
        (
            r#"mutation { createRegisteredModel(input: {name: "x", state: DELETED}) { id } }"#,
            json!({}),
            "INVALID_INPUT",
        ),
        (
            r#"mutation($s: RegisteredModelState) { createRegisteredModel(input: {name: "x", state: $s}) { id } }"#,
            json!({"s": "NOPE"}),
            "INVALID_INPUT",
        ),
        // malformed customProperties
        (
            r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "x", customProperties: $cp}) { id } }"#,
            json!({"cp": "not an object"}),
            "INVALID_INPUT",
        ),
        (
            r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "x", customProperties: $cp}) { id } }"#,
            json!({"cp": {"a": [1, 2]}}),
            "INVALID_INPUT",
        ),
        (
            r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "x", customProperties: $cp}) { id } }"#,
            json!({"cp": {"a": null}}),
            "INVALID_INPUT",
        ),
        // over-long and empty names, control characters
        (
            r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
            json!({"n": "x".repeat(256)}),
            "INVALID_INPUT",
        ),
        (
            r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
            json!({"n": ""}),
            "INVALID_INPUT",
        ),
        (
            r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
            json!({"n": "a\u{7}b"}),
            "INVALID_INPUT",
        ),
        // over-long description
        (
            r#"mutation($d: String!) { createRegisteredModel(input: {name: "y", description: $d}) { id } }"#,
            json!({"d": "x".repeat(64 * 1024 + 1)}),
            "INVALID_INPUT",
        ),
        // an unknown field
        (
            r#"mutation { createRegisteredModel(input: {name: "x", colour: "red"}) { id } }"#,
            json!({}),
            "INVALID_INPUT",
        ),
        // registerModel: a bad version name must not leave a model behind
        (
            r#"mutation($v: String!) { registerModel(input: {name: "fresh", version: $v, uri: "s3://x"}) { id } }"#,
            json!({"v": "v".repeat(300)}),
            "INVALID_INPUT",
        ),
        // syntax error
        (
            r#"mutation { createRegisteredModel(input: {name: "x"} { id } }"#,
            json!({}),
            "INVALID_INPUT",
        ),
    ];
    for (query, vars, want) in cases {
        let (code, message) = app.err(query, vars.clone()).await;
        assert_eq!(code, want, "{query} {vars}: {message}");
        assert!(!message.is_empty());
    }
    // the message names the field
    let (_, message) = app
        .err(
            r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
            json!({"n": "x".repeat(256)}),
        )
        .await;
    assert!(message.contains("name"), "{message}");
    let (_, message) = app
        .err(r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "x", customProperties: $cp}) { id } }"#, json!({"cp": 7}))
        .await;
    assert!(message.contains("customProperties"), "{message}");
    assert_eq!(
        app.count_rows("node").await,
        before,
        "a refused request wrote nodes"
    );
    assert_eq!(app.count_rows("node_property").await, props_before);
    // updates of unknown ids
    let (code, _) = app
        .err(
            r#"mutation { updateRegisteredModel(id: "999999", input: {description: "x"}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn names_are_unique_in_their_scope(app: &TestApp) {
    let m1 = app
        .ok(
            r#"mutation { createRegisteredModel(input: {name: "a", externalId: "ext-1"}) { id } }"#,
            json!({}),
        )
        .await;
    let m2 = app
        .ok(
            r#"mutation { createRegisteredModel(input: {name: "b"}) { id } }"#,
            json!({}),
        )
        .await;
    let clash = [
        r#"mutation { createRegisteredModel(input: {name: "a"}) { id } }"#,
        r#"mutation { createExperiment(input: {name: "e", externalId: "ext-1"}) { id } }"#,
    ];
    for q in clash {
        let (code, message) = app.err(q, json!({})).await;
        assert_eq!(code, "ALREADY_EXISTS", "{q}: {message}");
    }
    // version names are unique within a model, not across models
    let v = r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m, name: "v1"}) { id } }"#;
    app.ok(v, json!({"m": m1["createRegisteredModel"]["id"]}))
        .await;
    app.ok(v, json!({"m": m2["createRegisteredModel"]["id"]}))
        .await;
    let (code, _) = app
        .err(v, json!({"m": m1["createRegisteredModel"]["id"]}))
        .await;
    assert_eq!(code, "ALREADY_EXISTS");
    // experiments and models live in separate name spaces
    app.ok(
        r#"mutation { createExperiment(input: {name: "a"}) { id } }"#,
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn limits_give_limit_exceeded() {
    let limits = modelgraph::config::Limits {
        max_query_depth: 4,
        max_batch: 2,
        max_body_bytes: 2048,
        max_page_size: 10,
        ..Default::default()
    };
    let app = spawn_app_with(Backend::Sqlite, limits).await;
    // the doors around GraphQL: the playground and the probes
    let page = app
        .client
        .get(format!("{}/graphql", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
    for probe in ["healthz", "readyz"] {
        let res = app
            .client
            .get(format!("{}/{probe}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{probe}");
    }
    let (code, _) = app
        .err("{ registeredModels { nodes { versions { nodes { registeredModel { versions { nodes { name } } } } } } } }", json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let (code, _) = app
        .err("{ registeredModels(first: 11) { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    let batch = json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}, {"query": "{ __typename }"}]);
    let body: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body}"
    );
    let ok_batch =
        json!([{"query": "{ __typename }"}, {"query": "{ registeredModels { totalCount } }"}]);
    let body: serde_json::Value = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&ok_batch)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body[1]["data"]["registeredModels"]["totalCount"], 0,
        "{body}"
    );
    let res = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(&json!({"query": format!("{{ __typename }} # {}", "x".repeat(4096))}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    app.finish().await;
}
