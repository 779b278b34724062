//! What dashboards ask in one hop: a version's or a run's metrics and parameters,
//! typed and picked by name, and inference services looked up by the names people use.
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    metrics_and_parameters_are_one_hop_from_versions_and_runs,
    inference_services_are_found_by_environment_and_name,
);

async fn metrics_and_parameters_are_one_hop_from_versions_and_runs(app: &TestApp) {
    let made = app
        .ok(
            r#"mutation {
                v: registerModel(input: {name: "dash", version: "v1", uri: "s3://d/m.onnx"}) { id }
                e: createExperiment(input: {name: "dash-exp"}) { id }
            }"#,
            json!({}),
        )
        .await;
    let version = made["v"]["id"].clone();
    let run = app
        .ok(
            "mutation($e: ID!) { createExperimentRun(input: {experimentId: $e, name: \"r1\"}) { id } }",
            json!({"e": made["e"]["id"]}),
        )
        .await["createExperimentRun"]["id"]
        .clone();
    app.ok(
        r#"mutation($v: ID!, $r: ID!) {
            a: createMetric(input: {modelVersionId: $v, name: "auc", value: 0.93}) { id }
            b: createMetric(input: {modelVersionId: $v, name: "loss", value: 0.2}) { id }
            c: createParameter(input: {modelVersionId: $v, name: "lr", value: "0.01"}) { id }
            d: createMetric(input: {experimentRunId: $r, name: "auc", value: 0.88, step: 7}) { id }
            e: createParameter(input: {experimentRunId: $r, name: "optimizer", value: "adam"}) { id }
            f: createModelArtifact(input: {experimentRunId: $r, name: "weights", uri: "s3://w"}) { id }
        }"#,
        json!({"v": version, "r": run}),
    )
    .await;
    let answer = app
        .ok(
            r#"query($v: ID!, $r: ID!) {
                modelVersion(id: $v) {
                    auc: metrics(filter: {name: {eq: "auc"}}) { totalCount nodes { name value numberValue } }
                    all: metrics(orderBy: {field: NAME, direction: ASC}) { nodes { name } }
                    parameters { nodes { name value stringValue } }
                }
                experimentRun(id: $r) {
                    metrics { nodes { name numberValue step } }
                    parameters(filter: {name: {in: ["optimizer", "none"]}}) { nodes { name stringValue } }
                }
            }"#,
            json!({"v": version, "r": run}),
        )
        .await;
    let v = &answer["modelVersion"];
    assert_eq!(
        v["auc"],
        json!({"totalCount": 1, "nodes": [{"name": "auc", "value": 0.93, "numberValue": 0.93}]})
    );
    assert_eq!(
        v["all"]["nodes"],
        json!([{"name": "auc"}, {"name": "loss"}])
    );
    assert_eq!(
        v["parameters"]["nodes"],
        json!([{"name": "lr", "value": "0.01", "stringValue": "0.01"}])
    );
    let r = &answer["experimentRun"];
    // only metrics: the run's model artifact and parameter are not among them
    assert_eq!(
        r["metrics"]["nodes"],
        json!([{"name": "auc", "numberValue": 0.88, "step": 7}])
    );
    assert_eq!(
        r["parameters"]["nodes"],
        json!([{"name": "optimizer", "stringValue": "adam"}])
    );
}

async fn inference_services_are_found_by_environment_and_name(app: &TestApp) {
    let made = app
        .ok(
            r#"mutation {
                prod: createServingEnvironment(input: {name: "prod"}) { id }
                stage: createServingEnvironment(input: {name: "stage"}) { id }
                m: createRegisteredModel(input: {name: "svc-model"}) { id }
            }"#,
            json!({}),
        )
        .await;
    let service = |env: &str| json!({"e": made[env]["id"], "m": made["m"]["id"]});
    let q = r#"mutation($e: ID!, $m: ID!) { createInferenceService(input: {servingEnvironmentId: $e, registeredModelId: $m, name: "api"}) { id } }"#;
    let prod = app.ok(q, service("prod")).await["createInferenceService"]["id"].clone();
    let stage = app.ok(q, service("stage")).await["createInferenceService"]["id"].clone();
    assert_ne!(prod, stage);
    let answer = app
        .ok(
            r#"{
                prod: inferenceService(environmentName: "prod", name: "api") { id name }
                stage: inferenceService(environmentName: "stage", name: "api") { id }
                nowhere: inferenceService(environmentName: "nowhere", name: "api") { id }
                nothing: inferenceService(environmentName: "prod", name: "nope") { id }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(answer["prod"], json!({"id": prod, "name": "api"}));
    assert_eq!(answer["stage"]["id"], stage);
    assert!(answer["nowhere"].is_null() && answer["nothing"].is_null());
    let by_id = app
        .ok(
            "query($id: ID!) { inferenceService(id: $id) { name } }",
            json!({"id": prod}),
        )
        .await;
    assert_eq!(by_id["inferenceService"]["name"], "api");
    // half a name is a clear error, not a guess
    let half = app
        .gql(r#"{ inferenceService(name: "api") { id } }"#, json!({}))
        .await;
    assert_eq!(
        half["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{half}"
    );
}
