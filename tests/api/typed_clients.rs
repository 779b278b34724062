//! What typed clients (graphql-codegen, Apollo, gql with a schema) rely on: selections
//! over every artifact kind validate, the `Artifact` interface carries what each kind
//! has, scalars say their spec, and 64-bit integers stay exact where JSON numbers cannot.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    one_selection_reads_the_value_of_metrics_and_parameters,
    the_artifact_interface_has_uri_and_its_parents,
    int64_properties_stay_exact_in_the_kubeflow_string_form,
);

async fn run_with_metric_and_parameter(app: &TestApp) -> (Value, Value) {
    let made = app
        .ok(
            r#"mutation { e: createExperiment(input: {name: "typed"}) { id } }"#,
            json!({}),
        )
        .await;
    let run = app
        .ok(
            "mutation($e: ID!) { createExperimentRun(input: {experimentId: $e, name: \"r\"}) { id } }",
            json!({"e": made["e"]["id"]}),
        )
        .await;
    let run = run["createExperimentRun"]["id"].clone();
    app.ok(
        r#"mutation($r: ID!) {
            m: createMetric(input: {experimentRunId: $r, name: "auc", value: 0.91, step: 3}) { id }
            p: createParameter(input: {experimentRunId: $r, name: "optimizer", value: "adam"}) { id }
        }"#,
        json!({"r": run}),
    )
    .await;
    (made["e"]["id"].clone(), run)
}

/// `... on Metric { value } ... on Parameter { value }` was a validation error (Float
/// against String under one response key); both are `MetadataValue` now, answered as a
/// JSON number and a JSON string, with `numberValue` / `stringValue` typed.
async fn one_selection_reads_the_value_of_metrics_and_parameters(app: &TestApp) {
    let (_, run) = run_with_metric_and_parameter(app).await;
    let answer = app
        .gql(
            r#"query($r: ID!) { experimentRun(id: $r) { artifacts(artifactTypes: [METRIC, PARAMETER], orderBy: {field: NAME, direction: ASC}) {
                nodes { name ... on Metric { value numberValue step } ... on Parameter { value stringValue } } } } }"#,
            json!({"r": run}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let nodes = &answer["data"]["experimentRun"]["artifacts"]["nodes"];
    assert_eq!(
        nodes,
        &json!([
            {"name": "auc", "value": 0.91, "numberValue": 0.91, "step": 3},
            {"name": "optimizer", "value": "adam", "stringValue": "adam"},
        ])
    );
}

/// `uri`, `modelVersion` and `experimentRun` are selectable on the interface itself.
async fn the_artifact_interface_has_uri_and_its_parents(app: &TestApp) {
    let (_, run) = run_with_metric_and_parameter(app).await;
    let model = app
        .ok(
            r#"mutation { registerModel(input: {name: "typed-model", version: "v1", uri: "s3://m/typed.onnx"}) { id } }"#,
            json!({}),
        )
        .await;
    let version = model["registerModel"]["id"].clone();
    let answer = app
        .gql(
            r#"query($r: ID!, $v: ID!) {
                run: experimentRun(id: $r) { artifacts(orderBy: {field: NAME, direction: ASC}) { nodes { name uri modelVersion { id } experimentRun { id } } } }
                version: modelVersion(id: $v) { artifacts { nodes { uri modelVersion { id } experimentRun { id } } } }
            }"#,
            json!({"r": run, "v": version}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(
        answer["data"]["run"]["artifacts"]["nodes"][0],
        json!({"name": "auc", "uri": null, "modelVersion": null, "experimentRun": {"id": run}})
    );
    assert_eq!(
        answer["data"]["version"]["artifacts"]["nodes"][0],
        json!({"uri": "s3://m/typed.onnx", "modelVersion": {"id": version}, "experimentRun": null})
    );
    // and the SDL says which spec DateTime follows
    assert!(modelgraph::graphql::sdl().contains(
        r#"scalar DateTime @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")"#
    ));
}

/// 2^53 + 1 is not a JavaScript number. An int property written through GraphQL keeps
/// all 64 bits: GraphQL's JSON text carries it exactly (a 64-bit reader keeps it), and
/// Kubeflow's REST form carries it as a string, exact for any reader.
async fn int64_properties_stay_exact_in_the_kubeflow_string_form(app: &TestApp) {
    let big = "9007199254740993";
    let made = app
        .gql_text_at(
            &app.base,
            &format!(
                r#"mutation {{ createRegisteredModel(input: {{name: "big-ints", customProperties: {{rows: {big}, max: 9223372036854775807}}}}) {{ id customProperties }} }}"#
            ),
            json!({}),
        )
        .await;
    assert!(made.contains(&format!("\"rows\":{big}")), "{made}");
    assert!(made.contains("\"max\":9223372036854775807"), "{made}");
    let made: Value = serde_json::from_str(&made).unwrap();
    let id = made["data"]["createRegisteredModel"]["id"]
        .as_str()
        .unwrap();
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/model_registry/v1alpha3/registered_models/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // the raw text, not a parse through f64
    assert!(body.contains(&format!("\"int_value\":\"{big}\"")), "{body}");
    assert!(
        body.contains("\"int_value\":\"9223372036854775807\""),
        "{body}"
    );
}
