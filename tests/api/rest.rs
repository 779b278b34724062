//! The Kubeflow REST door over HTTP: bodies, lists, find-one, upserts, errors, and the
//! lineage its facts imply, seen through GraphQL (one store, same ids).
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    rest_and_graphql_share_one_store,
    rest_find_one_hits_and_misses,
    rest_patch_keeps_what_it_does_not_mention,
    rest_errors_name_their_status_and_write_nothing,
    rest_health_probes_answer,
    rest_requires_what_the_spec_requires,
    rest_not_found_says_not_found,
    rest_refuses_unknown_fields,
    rest_artifacts_filter_by_run_and_experiment,
    rest_lists_page_with_tokens,
    rest_artifacts_upsert_and_imply_lineage
);

/// A Kubeflow REST call under `/v1/`: the status and the JSON body (text if not JSON).
pub(crate) async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let path = format!("/api/model_registry/v1{path}");
    let (status, text) = app.call(method, &path, body.as_ref()).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A model made through REST: its id (as REST writes it, typed properties and all).
async fn create_mnist(app: &TestApp) -> String {
    let (status, model) = call(app, "POST", "/registered_models", Some(json!({"name": "mnist", "owner": "x",
        "customProperties": {"epochs": {"metadataType": "MetadataIntValue", "int_value": "3"},
                             "acc": {"metadataType": "MetadataDoubleValue", "double_value": 3.0}}}))).await;
    assert_eq!(status, 201, "{model}");
    let id = model["id"].as_str().unwrap().to_owned();
    assert_eq!(model["customProperties"]["epochs"]["int_value"], "3");
    assert!(
        model["createTimeSinceEpoch"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    id
}

async fn rest_and_graphql_share_one_store(app: &TestApp) {
    let id = create_mnist(app).await;
    // the same object through GraphQL, typed values intact
    let data = app
        .ok(
            "query($id: ID!) { registeredModel(id: $id) { name owner customProperties } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        data["registeredModel"]["customProperties"],
        json!({"epochs": 3, "acc": 3.0})
    );
    // and a GraphQL object through REST, under both prefixes
    let created = app
        .ok(
            r#"mutation { createExperiment(input: {name: "exp", owner: "o"}) { id } }"#,
            json!({}),
        )
        .await;
    let exp = created["createExperiment"]["id"].as_str().unwrap();
    for prefix in ["v1", "v1alpha3"] {
        let path = format!("/api/model_registry/{prefix}/experiments/{exp}");
        let (status, text) = app.call("GET", &path, None).await;
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["name"], "exp");
        assert_eq!(body["state"], "LIVE");
    }
}

async fn rest_find_one_hits_and_misses(app: &TestApp) {
    let id = create_mnist(app).await;
    // find-one: hit and miss
    let (status, found) = call(app, "GET", "/registered_model?name=mnist", None).await;
    assert_eq!((status, found["id"].as_str()), (200, Some(id.as_str())));
    let (status, missing) = call(app, "GET", "/registered_model?name=nope", None).await;
    assert_eq!(status, 404);
    // as Kubeflow's server answers: code is the status text, message names what
    assert_eq!(missing["code"], "Not Found", "{missing}");
    assert!(missing["message"].is_string(), "{missing}");
}

async fn rest_patch_keeps_what_it_does_not_mention(app: &TestApp) {
    let id = create_mnist(app).await;
    // patch keeps what it does not mention
    let (status, patched) = call(
        app,
        "PATCH",
        &format!("/registered_models/{id}"),
        Some(json!({"description": "d", "state": "ARCHIVED"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            patched["description"].as_str(),
            patched["state"].as_str(),
            patched["owner"].as_str()
        ),
        (Some("d"), Some("ARCHIVED"), Some("x"))
    );
}

async fn rest_errors_name_their_status_and_write_nothing(app: &TestApp) {
    create_mnist(app).await;
    // errors: {code, message} with the right status, never 500
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        (
            "POST",
            "/registered_models",
            Some(json!({"name": "mnist"})),
            409,
        ),
        ("GET", "/registered_models/999999", None, 404),
        ("GET", "/registered_models/abc", None, 400),
        (
            "POST",
            "/model_versions",
            Some(json!({"name": "v", "registeredModelId": "999999"})),
            404,
        ),
        ("POST", "/registered_models", Some(json!({"name": 7})), 400),
        (
            "POST",
            "/registered_models",
            Some(json!({"name": "x", "state": "NOPE"})),
            400,
        ),
        (
            "POST",
            "/registered_models",
            Some(
                json!({"name": "x", "customProperties": {"a": {"metadataType": "MetadataIntValue", "int_value": "x"}}}),
            ),
            400,
        ),
        ("GET", "/registered_models?nextPageToken=garbage", None, 400),
        (
            "GET",
            "/registered_models?filterQuery=name%20%3D",
            None,
            400,
        ),
        ("GET", "/registered_models?orderBy=COLOUR", None, 400),
    ];
    let before = app.count_rows("node").await;
    for (method, path, body, want) in cases {
        let (status, body) = call(app, method, path, body).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        let text = reqwest::StatusCode::from_u16(want)
            .unwrap()
            .canonical_reason()
            .unwrap();
        assert_eq!(body["code"], text, "{method} {path}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    let res = app
        .client
        .post(format!(
            "{}/api/model_registry/v1/registered_models",
            app.base
        ))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a body that is not JSON");
    assert_eq!(
        app.count_rows("node").await,
        before,
        "refused requests wrote nothing"
    );
}

async fn rest_health_probes_answer(app: &TestApp) {
    for probe in ["/readyz/isDirty", "/readyz/health"] {
        assert_eq!(app.call("GET", probe, None).await.0, 200, "{probe}");
    }
}

async fn rest_lists_page_with_tokens(app: &TestApp) {
    for i in 0..7 {
        let (status, _) = call(app, "POST", "/registered_models", Some(json!({"name": format!("m{i}"), "customProperties": {"rank": {"metadataType": "MetadataIntValue", "int_value": i.to_string()}}}))).await;
        assert_eq!(status, 201);
    }
    for (order, sort) in [
        ("ID", "ASC"),
        ("CREATE_TIME", "DESC"),
        ("LAST_UPDATE_TIME", "ASC"),
    ] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let (status, page) = call(app, "GET", &format!("/registered_models?pageSize=3&orderBy={order}&sortOrder={sort}&nextPageToken={token}"), None).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["size"], page["items"].as_array().unwrap().len());
            assert_eq!(page["pageSize"], 3);
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["name"].as_str().unwrap().to_owned()),
            );
            token = page["nextPageToken"].as_str().unwrap().to_owned();
            if token.is_empty() {
                break;
            }
        }
        let mut want: Vec<String> = (0..7).map(|i| format!("m{i}")).collect();
        if sort == "DESC" {
            want.reverse();
        }
        assert_eq!(seen, want, "{order} {sort}");
    }
    let (_, all) = call(app, "GET", "/registered_models", None).await;
    assert_eq!(all["size"], 7);
    assert_eq!(all["nextPageToken"], "");
    let (_, filtered) = call(
        app,
        "GET",
        "/registered_models?filterQuery=rank.int_value%20%3E%3D%205%20OR%20name%20%3D%20%27m0%27",
        None,
    )
    .await;
    let names: Vec<&str> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["m0", "m5", "m6"]);
}

/// Model `m` with version `v1`, created through REST: the model and the version's id.
pub(crate) async fn model_and_version(app: &TestApp) -> (Value, String) {
    let (_, model) = call(
        app,
        "POST",
        "/registered_models",
        Some(json!({"name": "m"})),
    )
    .await;
    let (status, version) = call(
        app,
        "POST",
        &format!(
            "/registered_models/{}/versions",
            model["id"].as_str().unwrap()
        ),
        Some(json!({"name": "v1"})),
    )
    .await;
    assert_eq!(status, 201, "{version}");
    (model, version["id"].as_str().unwrap().to_owned())
}

async fn rest_artifacts_upsert_and_imply_lineage(app: &TestApp) {
    let (model, v) = model_and_version(app).await;
    let art = json!({"artifactType": "model-artifact", "name": "weights", "uri": "s3://w", "modelFormatName": "onnx"});
    let (status, a) = call(
        app,
        "POST",
        &format!("/model_versions/{v}/artifacts"),
        Some(art.clone()),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    let (status, again) = call(
        app,
        "POST",
        &format!("/model_versions/{v}/artifacts"),
        Some(json!({"artifactType": "model-artifact", "name": "weights", "uri": "s3://w2"})),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["id"].as_str(), again["uri"].as_str()),
        (a["id"].as_str(), Some("s3://w2"))
    );
    let (_, exp) = call(app, "POST", "/experiments", Some(json!({"name": "e"}))).await;
    let (status, run) = call(
        app,
        "POST",
        "/experiment_runs",
        Some(json!({"experimentId": exp["id"], "name": "r1"})),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    let r = run["id"].as_str().unwrap().to_owned();
    // a metric logged twice: one artifact, two history entries
    for (value, step) in [(0.5, 1), (0.7, 2)] {
        call(
            app,
            "POST",
            &format!("/experiment_runs/{r}/artifacts"),
            Some(json!({"artifactType": "metric", "name": "acc", "value": value, "step": step})),
        )
        .await;
    }
    let (_, history) = call(
        app,
        "GET",
        &format!("/experiment_runs/{r}/metric_history?name=acc"),
        None,
    )
    .await;
    let values: Vec<f64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [0.5, 0.7]);
    let (_, run_artifacts) = call(
        app,
        "GET",
        &format!("/experiment_runs/{r}/artifacts?artifactType=metric"),
        None,
    )
    .await;
    assert_eq!(run_artifacts["size"], 1);
    assert_eq!(
        run_artifacts["items"][0]["experimentRunId"].as_str(),
        Some(r.as_str())
    );
    assert_eq!(run_artifacts["items"][0]["experimentId"], exp["id"]);
    // attaching the existing model artifact to the run makes it an INPUT of the run
    let (status, _) = call(
        app,
        "POST",
        &format!("/experiment_runs/{r}/artifacts"),
        Some(json!({"id": a["id"], "artifactType": "model-artifact"})),
    )
    .await;
    assert_eq!(status, 200);
    // an inference service on the version is DEPLOYED_AS
    let (_, env) = call(
        app,
        "POST",
        "/serving_environments",
        Some(json!({"name": "prod"})),
    )
    .await;
    let (status, svc) = call(
        app,
        "POST",
        "/inference_services",
        Some(json!({"name": "svc", "servingEnvironmentId": env["id"],
        "registeredModelId": model["id"], "modelVersionId": v})),
    )
    .await;
    assert_eq!(status, 200, "{svc}");
    let (status, served) = call(
        app,
        "GET",
        &format!(
            "/inference_services/{}/version",
            svc["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!((status, served["id"].as_str()), (200, Some(v.as_str())));
    let data = app
        .ok("query($v: ID!, $r: ID!) { modelVersion(id: $v) { deployments { name } upstream(maxDepth: 1) { nodes { node { name kind } } } }
             experimentRun(id: $r) { inputs { name } outputs { name } } }", json!({"v": v, "r": r}))
        .await;
    assert_eq!(
        data["modelVersion"]["deployments"],
        json!([{"name": "svc"}])
    );
    assert_eq!(
        data["modelVersion"]["upstream"]["nodes"][0]["node"]["name"],
        "weights"
    );
    assert_eq!(
        data["experimentRun"]["inputs"],
        json!([{"name": "weights"}])
    );
    assert_eq!(data["experimentRun"]["outputs"], json!([{"name": "acc"}]));
    // GraphQL lists what REST lists: the attached artifact is among the run's artifacts
    let listed = app
        .ok("query($r: ID!) { experimentRun(id: $r) { artifacts(orderBy: {field: NAME}) { totalCount nodes { name } } }
             artifacts(filter: {artifactType: [METRIC]}) { totalCount } }", json!({"r": r}))
        .await;
    assert_eq!(
        listed["experimentRun"]["artifacts"]["nodes"],
        json!([{"name": "acc"}, {"name": "weights"}])
    );
    assert_eq!(listed["artifacts"]["totalCount"], 1);
    // a service naming no version serves the model's latest, and is DEPLOYED_AS it
    let (_, other) = call(
        app,
        "POST",
        "/inference_services",
        Some(
            json!({"name": "svc-latest", "servingEnvironmentId": env["id"],
        "registeredModelId": model["id"]}),
        ),
    )
    .await;
    let deployed = app
        .ok(
            "query($v: ID!) { modelVersion(id: $v) { deployments { name } } }",
            json!({"v": v}),
        )
        .await;
    assert_eq!(
        deployed["modelVersion"]["deployments"],
        json!([{"name": "svc"}, {"name": "svc-latest"}]),
        "{other}"
    );
}

/// As Kubeflow's spec says: a version needs a name and a model; an empty string counts
/// as left out (an empty externalId sets none, an empty artifact name gets one made up).
async fn rest_requires_what_the_spec_requires(app: &TestApp) {
    let model = create_mnist(app).await;
    let before = app.count_rows("node").await;
    for body in [
        json!({"registeredModelId": model}),
        json!({"registeredModelId": model, "name": ""}),
        json!({"registeredModelId": model, "name": null}),
    ] {
        let (status, err) = call(app, "POST", "/model_versions", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["message"], "name: is required", "{err}");
    }
    let (status, err) = call(app, "POST", "/model_versions", Some(json!({"name": "v1"}))).await;
    assert_eq!(status, 400);
    assert_eq!(err["message"], "registeredModelId: is required");
    assert_eq!(app.count_rows("node").await, before, "nothing written");
    let (status, version) = call(
        app,
        "POST",
        "/model_versions",
        Some(json!({"registeredModelId": model, "name": "v1", "externalId": ""})),
    )
    .await;
    assert_eq!(status, 201, "{version}");
    assert!(
        version.get("externalId").is_none_or(Value::is_null),
        "{version}"
    );
    let path = format!(
        "/model_versions/{}/artifacts",
        version["id"].as_str().unwrap()
    );
    let (status, artifact) = call(
        app,
        "POST",
        &path,
        Some(json!({"artifactType": "model-artifact", "name": "", "uri": "s3://x"})),
    )
    .await;
    assert_eq!(status, 201, "{artifact}");
    assert!(
        !artifact["name"].as_str().unwrap().is_empty(),
        "a name is made up: {artifact}"
    );
}

/// Every missing id reads the same way, whichever route names it.
async fn rest_not_found_says_not_found(app: &TestApp) {
    for (method, path, body) in [
        ("GET", "/registered_models/123456", None),
        (
            "POST",
            "/model_versions/123456/artifacts",
            Some(json!({"artifactType": "model-artifact", "name": "a", "uri": "s3://a"})),
        ),
        (
            "POST",
            "/model_versions",
            Some(json!({"name": "v", "registeredModelId": "123456"})),
        ),
    ] {
        let (status, err) = call(app, method, path, body).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("123456") && message.ends_with("not found"),
            "{method} {path}: {message}"
        );
    }
}

/// Bodies are decoded strictly, as Kubeflow's server does: a field the spec does not
/// give the kind is 400 naming it, on create, update and upsert, and nothing is written.
async fn rest_refuses_unknown_fields(app: &TestApp) {
    let model = create_mnist(app).await;
    let before = app.count_rows("node").await;
    let cases = [
        (
            "POST",
            "/registered_models".to_owned(),
            json!({"name": "m2", "ext_id": "x"}),
        ),
        (
            "PATCH",
            format!("/registered_models/{model}"),
            json!({"description": "d", "ext_id": "x"}),
        ),
        (
            "POST",
            "/model_versions".to_owned(),
            json!({"name": "v", "registeredModelId": model, "modelFormatName": "onnx"}),
        ),
    ];
    for (method, path, body) in cases {
        let (status, err) = call(app, method, &path, Some(body)).await;
        assert_eq!(status, 400, "{method} {path}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("unknown field"), "{message}");
    }
    assert_eq!(app.count_rows("node").await, before);
    // read-only fields a client echoes back are fine
    let (status, _) = call(
        app,
        "PATCH",
        &format!("/registered_models/{model}"),
        Some(json!({"id": model, "createTimeSinceEpoch": "1", "description": "d"})),
    )
    .await;
    assert_eq!(status, 200);
}

/// Artifacts filter by the run they were logged in and by its experiment, ids given as
/// strings or numbers, as Kubeflow's clients send them.
async fn rest_artifacts_filter_by_run_and_experiment(app: &TestApp) {
    let (_, exp) = call(app, "POST", "/experiments", Some(json!({"name": "e"}))).await;
    let exp = exp["id"].as_str().unwrap().to_owned();
    let mut runs = Vec::new();
    for r in 0..2 {
        let (status, run) = call(
            app,
            "POST",
            "/experiment_runs",
            Some(json!({"experimentId": exp, "name": format!("r{r}")})),
        )
        .await;
        assert_eq!(status, 201, "{run}");
        let run = run["id"].as_str().unwrap().to_owned();
        for a in 0..2 {
            let body = json!({"artifactType": "metric", "name": format!("m{r}{a}"), "value": 1.0});
            let path = format!("/experiment_runs/{run}/artifacts");
            let (status, made) = call(app, "POST", &path, Some(body)).await;
            assert_eq!(status, 201, "{made}");
        }
        runs.push(run);
    }
    // an artifact in no run
    let (status, _) = call(
        app,
        "POST",
        "/artifacts",
        Some(json!({"artifactType": "metric", "name": "loose", "value": 1.0})),
    )
    .await;
    assert_eq!(status, 201);
    let names = |page: &Value| -> Vec<String> {
        let mut names: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let filtered = |query: &str| {
        let path = format!(
            "/artifacts?filterQuery={}",
            query
                .replace(' ', "%20")
                .replace('\'', "%27")
                .replace('=', "%3D")
        );
        async move { call(app, "GET", &path, None).await }
    };
    let query = format!("experimentRunId IN ('{}', {})", runs[0], runs[1]);
    let (status, page) = filtered(&query).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["m00", "m01", "m10", "m11"]);
    let query = format!("experimentRunId = '{}'", runs[1]);
    let (_, page) = filtered(&query).await;
    assert_eq!(names(&page), ["m10", "m11"]);
    let query = format!("experimentId = '{exp}'");
    let (_, page) = filtered(&query).await;
    assert_eq!(names(&page), ["m00", "m01", "m10", "m11"]);
    let (status, _) = filtered("experimentId = 'x'").await;
    assert_eq!(status, 400);
}
