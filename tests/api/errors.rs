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

/// A server with small bounds, so each test can go over one.
async fn limited() -> TestApp {
    let limits = modelgraph::config::Limits {
        max_query_depth: 4,
        max_complexity: 40,
        max_batch: 2,
        max_body_bytes: 2048,
        max_page_size: 10,
        ..Default::default()
    };
    spawn_app_with(Backend::Sqlite, limits).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_and_the_probes_answer() {
    let app = limited().await;
    let (status, page) = app.call("GET", "/graphql", None).await;
    assert_eq!(status, 200);
    assert!(page.to_lowercase().contains("graphiql"));
    // the playground runs subscriptions too (its script, served from the binary, says where)
    let script = page
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a script");
    assert!(script.starts_with("/assets/"), "{script}");
    let (status, code) = app.call("GET", script, None).await;
    assert_eq!(status, 200);
    assert!(
        code.contains("/graphql/ws"),
        "no subscription endpoint in GraphiQL"
    );
    for probe in ["/healthz", "/readyz"] {
        assert_eq!(app.call("GET", probe, None).await.0, 200, "{probe}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_nested_too_deep_is_limit_exceeded_naming_the_bound() {
    let app = limited().await;
    let (code, message) = app
        .err("{ registeredModels { nodes { versions { nodes { registeredModel { versions { nodes { name } } } } } } } }", json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(
        message.contains("at most 4") && message.contains("--max-query-depth"),
        "{message}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_too_complex_is_limit_exceeded_naming_the_bound() {
    let app = limited().await;
    // each alias counts two fields: 42 over a bound of 40
    let fields = (0..21)
        .map(|i| format!("m{i}: registeredModels {{ totalCount }}"))
        .collect::<Vec<_>>();
    let (code, message) = app
        .err(&format!("{{ {} }}", fields.join(" ")), json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(
        message.contains("at most 40") && message.contains("--max-complexity"),
        "{message}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_query_is_invalid_input() {
    let app = limited().await;
    for query in [
        "{ registeredModels { nope } }",
        "{ registeredModels {",
        "query { a: node }",
    ] {
        let (code, _) = app.err(query, json!({})).await;
        assert_eq!(code, "INVALID_INPUT", "{query}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_maximum_is_limit_exceeded() {
    let app = limited().await;
    let (code, _) = app
        .err("{ registeredModels(first: 11) { totalCount } }", json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_bounded() {
    let app = limited().await;
    let batch = json!([{"query": "{ __typename }"}, {"query": "{ __typename }"}, {"query": "{ __typename }"}]);
    let (status, text) = app.call("POST", "/graphql", Some(&batch)).await;
    assert_eq!(status, 200);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{body}"
    );
    let ok_batch =
        json!([{"query": "{ __typename }"}, {"query": "{ registeredModels { totalCount } }"}]);
    let (_, text) = app.call("POST", "/graphql", Some(&ok_batch)).await;
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        body[1]["data"]["registeredModels"]["totalCount"], 0,
        "{body}"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_maximum_is_413() {
    let app = limited().await;
    let body = json!({"query": format!("{{ __typename }} # {}", "x".repeat(4096))});
    let (status, text) = app.call("POST", "/graphql", Some(&body)).await;
    assert_eq!(status, 413);
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    app.finish().await;
}
