//! GraphQL execution as the spec says it: response keys in the order the query asked for
//! them, a failed nullable field is null with its error, and a failed non-null field
//! makes its nearest nullable parent null (up to `data: null`).
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    failed_nullable_root_field_is_null_beside_the_others,
    failed_non_null_field_nulls_the_nearest_nullable_parent,
    failed_non_null_field_under_a_nullable_root_field_nulls_that_field,
    keys_follow_the_query_order,
    keys_follow_the_query_order_through_fragments_and_aliases,
);

async fn register(app: &TestApp) {
    app.ok(
        r#"mutation { registerModel(input: {name: "mnist", version: "v1", uri: "s3://b/mnist.onnx"}) { id } }"#,
        json!({}),
    )
    .await;
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

async fn failed_nullable_root_field_is_null_beside_the_others(app: &TestApp) {
    register(app).await;
    let body = app
        .gql(
            r#"{ a: modelVersion(name: "v1") { id } b: registeredModel(name: "mnist") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(keys(&body["data"]), ["a", "b"], "{body:#}");
    assert!(body["data"]["a"].is_null(), "{body:#}");
    assert!(body["data"]["b"]["id"].is_string(), "{body:#}");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["path"], json!(["a"]));
    assert_eq!(errors[0]["extensions"]["code"], "INVALID_INPUT");
}

async fn failed_non_null_field_nulls_the_nearest_nullable_parent(app: &TestApp) {
    register(app).await;
    // upstream is LineageGraph!, nodes [RegisteredModel!]!, registeredModels a non-null
    // connection: nothing between the error and the root may be null, so data is null
    let body = app
        .gql(
            r#"{ registeredModels { nodes { name upstream(maxDepth: 999) { truncated } } } }"#,
            json!({}),
        )
        .await;
    assert!(
        body.as_object().unwrap().contains_key("data"),
        "data must be present (null): {body:#}"
    );
    assert!(body["data"].is_null(), "{body:#}");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["extensions"]["code"], "LIMIT_EXCEEDED");
    assert_eq!(
        errors[0]["path"],
        json!(["registeredModels", "nodes", 0, "upstream"])
    );
}

async fn failed_non_null_field_under_a_nullable_root_field_nulls_that_field(app: &TestApp) {
    register(app).await;
    // registeredModel is nullable: it becomes null, the sibling root field stays
    let body = app
        .gql(
            r#"{ m: registeredModel(name: "mnist") { name upstream(maxDepth: 999) { truncated } }
                 n: registeredModel(name: "mnist") { name } }"#,
            json!({}),
        )
        .await;
    assert_eq!(keys(&body["data"]), ["m", "n"], "{body:#}");
    assert!(body["data"]["m"].is_null(), "{body:#}");
    assert_eq!(body["data"]["n"]["name"], "mnist");
    assert_eq!(body["errors"][0]["path"], json!(["m", "upstream"]));
}

async fn keys_follow_the_query_order(app: &TestApp) {
    register(app).await;
    let data = app
        .ok(
            r#"{ registeredModel(name: "mnist") { name latestVersion { name id } id } }"#,
            json!({}),
        )
        .await;
    let model = &data["registeredModel"];
    assert_eq!(keys(model), ["name", "latestVersion", "id"]);
    assert_eq!(keys(&model["latestVersion"]), ["name", "id"]);
}

async fn keys_follow_the_query_order_through_fragments_and_aliases(app: &TestApp) {
    register(app).await;
    let data = app
        .ok(
            r#"query { z: registeredModels { totalCount nodes { ...Late createTime
                  a: name } } y: __typename }
               fragment Late on RegisteredModel { versions { nodes { id name } } id }"#,
            json!({}),
        )
        .await;
    assert_eq!(keys(&data), ["z", "y"]);
    assert_eq!(keys(&data["z"]), ["totalCount", "nodes"]);
    let node = &data["z"]["nodes"][0];
    assert_eq!(keys(node), ["versions", "id", "createTime", "a"]);
}
