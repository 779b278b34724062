//! Create, read and update every kind through GraphQL.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    register_model_creates_model_version_and_artifact,
    every_kind_round_trips,
    updates_bump_revision_and_stale_revision_conflicts,
    custom_properties_keep_their_types,
    version_names_count_up_and_survive_concurrent_writers,
    unnamed_versions_count_past_numbered_names,
    version_counters_start_from_the_versions_already_there,
    node_and_nodes_resolve_any_kind,
);

async fn register_model_creates_model_version_and_artifact(app: &TestApp) {
    let data = app
        .ok(
            r#"mutation { registerModel(input: {name: "mnist", version: "v1", uri: "s3://b/mnist.onnx",
                modelFormatName: "onnx", modelFormatVersion: "1", author: "ada",
                versionDescription: "first", customProperties: {accuracy: 0.97}}) {
                id name author description state
                registeredModel { id name owner }
                artifacts { totalCount nodes { name artifactType ... on ModelArtifact { uri modelFormatName modelFormatVersion } } } } }"#,
            json!({}),
        )
        .await;
    let v = &data["registerModel"];
    assert_eq!(v["name"], "v1");
    assert_eq!(v["author"], "ada");
    assert_eq!(v["description"], "first");
    assert_eq!(v["state"], "LIVE");
    assert_eq!(v["registeredModel"]["name"], "mnist");
    assert_eq!(v["registeredModel"]["owner"], "ada");
    assert_eq!(v["artifacts"]["totalCount"], 1);
    let a = &v["artifacts"]["nodes"][0];
    assert_eq!(a["artifactType"], "MODEL_ARTIFACT");
    assert_eq!(a["uri"], "s3://b/mnist.onnx");
    assert_eq!(a["modelFormatName"], "onnx");

    // a second version reuses the model; a duplicate version is refused and writes nothing
    let again = app
        .ok(r#"mutation { registerModel(input: {name: "mnist", version: "v2", uri: "s3://b/2"}) { registeredModel { id } } }"#, json!({}))
        .await;
    assert_eq!(
        again["registerModel"]["registeredModel"]["id"],
        v["registeredModel"]["id"]
    );
    let nodes_before = app.count_rows("node").await;
    let (code, _) = app
        .err(r#"mutation { registerModel(input: {name: "mnist", version: "v2", uri: "s3://b/3"}) { id } }"#, json!({}))
        .await;
    assert_eq!(code, "ALREADY_EXISTS");
    assert_eq!(app.count_rows("node").await, nodes_before);
}

async fn create(app: &TestApp, mutation: &str, input: Value) -> Value {
    let field = mutation;
    let q = format!(
        "mutation($input: {}!) {{ {field}(input: $input) {{ id kind name revision createTime lastUpdateTime }} }}",
        input_type(field)
    );
    app.ok(&q, json!({"input": input})).await[field].clone()
}

fn input_type(field: &str) -> String {
    let mut name = field.to_owned();
    name[..1].make_ascii_uppercase();
    format!("{name}Input")
}

async fn every_kind_round_trips(app: &TestApp) {
    let model = create(app, "createRegisteredModel", json!({"name": "m", "owner": "o", "description": "d",
        "readme": "# hi", "language": ["en"], "tasks": ["text-generation"], "license": "apache-2.0"})).await;
    assert_eq!(model["kind"], "REGISTERED_MODEL");
    assert_eq!(model["revision"], 1);
    let version = create(
        app,
        "createModelVersion",
        json!({"registeredModelId": model["id"], "name": "1", "author": "a"}),
    )
    .await;
    let artifact = create(
        app,
        "createModelArtifact",
        json!({"modelVersionId": version["id"], "name": "weights",
        "uri": "s3://w", "modelFormatName": "onnx", "storageKey": "k", "modelSourceKind": "kfp"}),
    )
    .await;
    let doc = create(
        app,
        "createDocArtifact",
        json!({"modelVersionId": version["id"], "name": "card", "uri": "s3://card.md"}),
    )
    .await;
    let experiment = create(
        app,
        "createExperiment",
        json!({"name": "exp", "owner": "o"}),
    )
    .await;
    let run = create(
        app,
        "createExperimentRun",
        json!({"experimentId": experiment["id"], "name": "run-1",
        "status": "FINISHED", "startTime": "2026-01-02T03:04:05Z"}),
    )
    .await;
    let dataset = create(app, "createDataset", json!({"experimentRunId": run["id"], "name": "train",
        "uri": "s3://train", "digest": "sha256:1", "sourceType": "s3", "schema": "{}", "profile": "p"})).await;
    let metric = create(
        app,
        "createMetric",
        json!({"experimentRunId": run["id"], "name": "loss", "value": 0.25, "step": 3,
        "timestamp": "2026-01-02T03:04:05Z"}),
    )
    .await;
    let parameter = create(
        app,
        "createParameter",
        json!({"experimentRunId": run["id"], "name": "lr", "value": "0.1",
        "parameterType": "NUMBER"}),
    )
    .await;
    let env = create(app, "createServingEnvironment", json!({"name": "prod"})).await;
    let isvc = create(app, "createInferenceService", json!({"servingEnvironmentId": env["id"],
        "registeredModelId": model["id"], "modelVersionId": version["id"], "name": "mnist-svc", "runtime": "triton"})).await;
    let serve = create(
        app,
        "createServeModel",
        json!({"inferenceServiceId": isvc["id"], "modelVersionId": version["id"],
        "lastKnownState": "RUNNING"}),
    )
    .await;

    let ids: Vec<&Value> = vec![
        &model["id"],
        &version["id"],
        &artifact["id"],
        &doc["id"],
        &experiment["id"],
        &run["id"],
        &dataset["id"],
        &metric["id"],
        &parameter["id"],
        &env["id"],
        &isvc["id"],
        &serve["id"],
    ];
    let mut unique: Vec<String> = ids.iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 12, "ids are global across kinds");

    let data = app.ok(r#"query($m: ID!, $r: ID!, $e: ID!, $i: ID!) {
        registeredModel(id: $m) { name owner readme language tasks license
            versions { totalCount nodes { name author artifacts { totalCount nodes { name artifactType } } } } }
        experiment(id: $e) { name runs { nodes { name status startTime
            artifacts(artifactTypes: [METRIC, PARAMETER, DATASET]) { totalCount nodes {
                name ... on Metric { value step timestamp } ... on Parameter { value parameterType }
                ... on Dataset { uri digest sourceType schema profile experimentRunId } } } } } }
        experimentRun(id: $r) { experiment { name } }
        inferenceService(id: $i) { runtime desiredState servingEnvironment { name } registeredModel { name }
            modelVersion { name } serves { totalCount nodes { lastKnownState modelVersion { name } } } }
        servingEnvironment(name: "prod") { inferenceServices { totalCount } }
    }"#, json!({"m": model["id"], "r": run["id"], "e": experiment["id"], "i": isvc["id"]})).await;
    let m = &data["registeredModel"];
    assert_eq!(m["readme"], "# hi");
    assert_eq!(m["language"], json!(["en"]));
    assert_eq!(m["versions"]["totalCount"], 1);
    assert_eq!(m["versions"]["nodes"][0]["artifacts"]["totalCount"], 2);
    let run_node = &data["experiment"]["runs"]["nodes"][0];
    assert_eq!(run_node["status"], "FINISHED");
    assert_eq!(run_node["startTime"], "2026-01-02T03:04:05+00:00");
    assert_eq!(run_node["artifacts"]["totalCount"], 3);
    let arts = run_node["artifacts"]["nodes"].as_array().unwrap();
    let metric_node = arts.iter().find(|a| a["name"] == "loss").unwrap();
    assert_eq!(metric_node["value"], 0.25);
    assert_eq!(metric_node["step"], 3);
    let param_node = arts.iter().find(|a| a["name"] == "lr").unwrap();
    assert_eq!(param_node["parameterType"], "NUMBER");
    let ds = arts.iter().find(|a| a["name"] == "train").unwrap();
    assert_eq!(ds["digest"], "sha256:1");
    assert_eq!(ds["experimentRunId"], run["id"]);
    assert_eq!(data["experimentRun"]["experiment"]["name"], "exp");
    let svc = &data["inferenceService"];
    assert_eq!(svc["runtime"], "triton");
    assert_eq!(svc["desiredState"], "DEPLOYED");
    assert_eq!(svc["modelVersion"]["name"], "1");
    assert_eq!(svc["serves"]["nodes"][0]["lastKnownState"], "RUNNING");
    assert_eq!(
        data["servingEnvironment"]["inferenceServices"]["totalCount"],
        1
    );

    // standalone artifacts are allowed, as Kubeflow's POST /artifacts allows
    let lone = create(
        app,
        "createDocArtifact",
        json!({"name": "lonely", "uri": "s3://x"}),
    )
    .await;
    let got = app
        .ok(
            r#"query($id: ID!) { artifact(id: $id) { name modelVersionId experimentRunId } }"#,
            json!({"id": lone["id"]}),
        )
        .await;
    assert_eq!(got["artifact"]["name"], "lonely");
    assert!(got["artifact"]["modelVersionId"].is_null());
}

async fn updates_bump_revision_and_stale_revision_conflicts(app: &TestApp) {
    let model = create(app, "createRegisteredModel", json!({"name": "m"})).await;
    let q = r#"mutation($id: ID!, $rev: Int) { updateRegisteredModel(id: $id, expectedRevision: $rev,
        input: {description: "new", state: ARCHIVED}) { revision description state createTime lastUpdateTime } }"#;
    let updated =
        app.ok(q, json!({"id": model["id"], "rev": 1})).await["updateRegisteredModel"].clone();
    assert_eq!(updated["revision"], 2);
    assert_eq!(updated["description"], "new");
    assert_eq!(updated["state"], "ARCHIVED");
    assert_eq!(updated["createTime"], model["createTime"]);
    let (code, msg) = app.err(q, json!({"id": model["id"], "rev": 1})).await;
    assert_eq!(code, "CONFLICT", "{msg}");
    // no expectedRevision: last writer wins
    let again = app.ok(q, json!({"id": model["id"]})).await;
    assert_eq!(again["updateRegisteredModel"]["revision"], 3);
    // updating through the wrong kind's mutation is NOT_FOUND
    let (code, _) = app
        .err(
            r#"mutation($id: ID!) { updateExperiment(id: $id, input: {description: "x"}) { id } }"#,
            json!({"id": model["id"]}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
}

async fn custom_properties_keep_their_types(app: &TestApp) {
    let q = r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "typed", customProperties: $cp}) { id customProperties } }"#;
    let cp =
        json!({"i": 3, "d": 3.0, "f": 0.5, "s": "x", "b": true, "o": {"nested": [1, 2], "k": "v"}});
    let created = app.ok(q, json!({"cp": cp})).await;
    let got = &created["createRegisteredModel"]["customProperties"];
    assert_eq!(got, &cp);
    // 3.0 stays a double on the wire
    let raw = app
        .client
        .post(format!("{}/graphql", app.base))
        .json(
            &json!({"query": "query($id: ID!) { registeredModel(id: $id) { customProperties } }",
            "variables": {"id": created["createRegisteredModel"]["id"]}}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(raw.contains("\"d\":3.0"), "{raw}");
    assert!(
        raw.contains("\"i\":3,") || raw.contains("\"i\":3}"),
        "{raw}"
    );
}

async fn version_names_count_up_and_survive_concurrent_writers(app: &TestApp) {
    let model = create(app, "createRegisteredModel", json!({"name": "auto"})).await;
    let q = r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m}) { name } }"#;
    let mut tasks = Vec::new();
    // a request that named nothing never meets a name clash, however many race
    const WRITERS: u32 = 48;
    for _ in 0..WRITERS {
        let client = app.client.clone();
        let url = format!("{}/graphql", app.base);
        let body = json!({"query": q, "variables": {"m": model["id"]}});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut names = Vec::new();
    for t in tasks {
        let body = t.await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        names.push(
            body["data"]["createModelVersion"]["name"]
                .as_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    names.sort();
    assert_eq!(names, (1..=WRITERS).collect::<Vec<_>>());
}

async fn unnamed_version(app: &TestApp, model: &Value) -> String {
    let q = r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m}) { name } }"#;
    let data = app.ok(q, json!({"m": model["id"]})).await;
    data["createModelVersion"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn named_version(app: &TestApp, model: &Value, name: &str) {
    let input = json!({"registeredModelId": model["id"], "name": name});
    create(app, "createModelVersion", input).await;
}

/// Numbering skips past any version named with a number, through any door, and each
/// model counts on its own.
async fn unnamed_versions_count_past_numbered_names(app: &TestApp) {
    let model = create(app, "createRegisteredModel", json!({"name": "numbered"})).await;
    assert_eq!(unnamed_version(app, &model).await, "1");
    named_version(app, &model, "10").await;
    named_version(app, &model, "v99").await;
    named_version(app, &model, "0003").await;
    assert_eq!(unnamed_version(app, &model).await, "11");
    let path = format!(
        "/api/model_registry/v1/registered_models/{}/versions",
        model["id"].as_str().unwrap()
    );
    let (status, text) = app.call("POST", &path, Some(&json!({"name": "15"}))).await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(unnamed_version(app, &model).await, "16");
    let other = create(app, "createRegisteredModel", json!({"name": "other"})).await;
    assert_eq!(unnamed_version(app, &other).await, "1");
}

/// A store made before the counters existed: numbering continues after the highest
/// numbered version of each model.
async fn version_counters_start_from_the_versions_already_there(app: &TestApp) {
    use migration::{Migrator, MigratorTrait};
    let model = create(app, "createRegisteredModel", json!({"name": "old"})).await;
    for name in ["3", "v7", "12", "1234567890123456789012"] {
        named_version(app, &model, name).await;
    }
    let empty = create(app, "createRegisteredModel", json!({"name": "empty"})).await;
    // back to before the version counters (the migrations after them go too), and up
    let after_counters = Migrator::migrations().len() - 3;
    Migrator::down(&app.db, Some(after_counters as u32))
        .await
        .expect("down");
    Migrator::up(&app.db, None).await.expect("up");
    assert_eq!(unnamed_version(app, &model).await, "13");
    assert_eq!(unnamed_version(app, &empty).await, "1");
}

async fn node_and_nodes_resolve_any_kind(app: &TestApp) {
    let e = create(app, "createExperiment", json!({"name": "e"})).await;
    let env = create(app, "createServingEnvironment", json!({"name": "env"})).await;
    let data = app
        .ok(
            r#"query($a: ID!, $b: ID!) { node(id: $a) { id kind ... on Experiment { name } }
            nodes(ids: [$b, "999999", $a]) { id kind } }"#,
            json!({"a": e["id"], "b": env["id"]}),
        )
        .await;
    assert_eq!(data["node"]["kind"], "EXPERIMENT");
    assert_eq!(data["node"]["name"], "e");
    assert_eq!(data["nodes"][0]["kind"], "SERVING_ENVIRONMENT");
    assert!(data["nodes"][1].is_null());
    assert_eq!(data["nodes"][2]["id"], e["id"]);
    let none = app.ok(r#"{ node(id: "424242") { id } }"#, json!({})).await;
    assert!(none["node"].is_null());
}
