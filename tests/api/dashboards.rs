//! What dashboards ask in one hop: a version's or a run's metrics and parameters,
//! typed and picked by name, and inference services looked up by the names people use.
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    metrics_and_parameters_are_one_hop_from_versions_and_runs,
    inference_services_are_found_by_environment_and_name,
    runs_sort_by_a_metric_or_a_parameter_and_page_through,
    artifact_filter_fields_combine_with_and,
    model_lists_read_latest_versions_ahead_and_agree_with_one_model_reads,
    lists_reading_some_columns_agree_with_whole_reads,
);

/// Lists read only the columns their selection shows (`graphql::columns`): every field
/// that narrows a read answers what a one-model read (every column) answers, beside a
/// field that does not narrow, and two lists under aliases whose latest versions read
/// different columns each get theirs, and what a node links to (versions, aliases,
/// history, lineage) answers as a whole read does; a server reading through sqlx only (no direct
/// SQLite session) answers the same.
async fn lists_reading_some_columns_agree_with_whole_reads(app: &TestApp) {
    app.ok(
        r#"mutation {
            m: createRegisteredModel(input: {name: "narrow-m", externalId: "narrow-ext",
                description: "about", owner: "ana", readme: "read me",
                maturity: "Production", language: ["en", "fr"], tasks: ["ranking"],
                provider: "acme", logo: "data:,", license: "apache-2.0",
                licenseLink: "https://example.com/l", libraryName: "transformers",
                customProperties: {team: "ml", epochs: 3}}) { id }
            v: registerModel(input: {name: "narrow-m", version: "v1", uri: "s3://n/1",
                author: "bo", versionDescription: "first", customProperties: {acc: 0.5}}) { id }
        }"#,
        json!({}),
    )
    .await;
    let version = "id kind name externalId description customProperties createTime lastUpdateTime revision state author __typename";
    let model = "id kind name externalId description owner customProperties createTime lastUpdateTime revision state readme maturity language tasks provider logo license licenseLink libraryName __typename";
    let one = app
        .ok(
            &format!(
                r#"{{ registeredModel(name: "narrow-m") {{ {model}
                    latestVersion {{ {version} registeredModelId }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let whole = &one["registeredModel"];
    let lists = format!(
        r#"{{ narrow: registeredModels(filter: {{name: {{eq: "narrow-m"}}}}) {{
                nodes {{ {model} latestVersion {{ {version} }} }} }}
            ids: registeredModels(filter: {{name: {{eq: "narrow-m"}}}}) {{
                edges {{ cursor node {{ id latestVersion {{ id }} }} }} }}
            wide: registeredModels(filter: {{name: {{eq: "narrow-m"}}}}) {{
                nodes {{ readme latestVersion {{ registeredModelId }} }} }} }}"#
    );
    let listed = app.ok(&lists, json!({})).await;
    let via_sqlx = app.server_via_sqlx().await;
    let again: serde_json::Value =
        serde_json::from_str(&app.gql_text_at(&via_sqlx, &lists, json!({})).await).unwrap();
    assert_eq!(again["data"], listed, "through sqlx only");
    let narrow = &listed["narrow"]["nodes"][0];
    for field in model.split(' ') {
        assert_eq!(narrow[field], whole[field], "registered model {field}");
    }
    for field in version.split(' ') {
        assert_eq!(
            narrow["latestVersion"][field], whole["latestVersion"][field],
            "latest version {field}"
        );
    }
    assert_eq!(narrow["externalId"], "narrow-ext");
    assert_eq!(narrow["owner"], "ana");
    assert_eq!(narrow["latestVersion"]["author"], "bo");
    assert_eq!(narrow["latestVersion"]["description"], "first");
    assert_eq!(narrow["language"], json!(["en", "fr"]));
    assert_eq!(narrow["tasks"], json!(["ranking"]));
    assert_eq!(narrow["libraryName"], "transformers");
    // a model's card is read by its columns: no statement of the narrow list reads a
    // column it does not show, as one reading every column does (each by name)
    app.reset_statements();
    let narrow_only = format!(
        r#"{{ registeredModels(filter: {{name: {{eq: "narrow-m"}}}}) {{
            nodes {{ {model} latestVersion {{ {version} }} }} }} }}"#
    );
    assert_eq!(
        app.ok(&narrow_only, json!({})).await["registeredModels"],
        listed["narrow"]
    );
    let wide: Vec<_> = app
        .whole_statements()
        .into_iter()
        .filter(|s| s.contains("model_format_name"))
        .collect();
    assert!(wide.is_empty(), "read every column: {wide:#?}");
    let ids = &listed["ids"]["edges"][0]["node"];
    assert_eq!(ids["latestVersion"]["id"], whole["latestVersion"]["id"]);
    // what a node links to is read by its id, so a narrow list answers it as a whole
    // read does
    let ids = app
        .ok(
            r#"{ registeredModel(name: "narrow-m") { id latestVersion { id } } }"#,
            json!({}),
        )
        .await;
    let ids = &ids["registeredModel"];
    app.ok(
        "mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: \"prod\", versionId: $v) { alias } }",
        json!({"m": ids["id"], "v": ids["latestVersion"]["id"]}),
    )
    .await;
    let links = "versions { nodes { id name author } } aliases { alias versionId } history(first: 10) { nodes { id } }
        upstream(maxDepth: 2) { truncated nodes { node { id } } }
        downstream(maxDepth: 2) { truncated nodes { node { id } } }";
    let version_links = "aliases artifacts { nodes { id } } deployments { id } history(first: 10) { nodes { id } }
        upstream(maxDepth: 2) { nodes { node { id } } } downstream(maxDepth: 2) { nodes { node { id } } }";
    let one = app
        .ok(
            &format!(
                r#"{{ registeredModel(name: "narrow-m") {{ {links} latestVersion {{ {version_links} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    let listed_links = app
        .ok(
            &format!(
                r#"{{ registeredModels(filter: {{name: {{eq: "narrow-m"}}}}) {{
                    nodes {{ {links} latestVersion {{ {version_links} }} }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        listed_links["registeredModels"]["nodes"][0], one["registeredModel"],
        "links of a narrow list"
    );
    let model = &one["registeredModel"];
    assert_eq!(model["versions"]["nodes"][0]["author"], "bo", "{one}");
    assert_eq!(model["aliases"][0]["alias"], "prod", "{one}");
    assert_eq!(model["latestVersion"]["aliases"][0], "prod", "{one}");
    assert!(
        !model["history"]["nodes"].as_array().unwrap().is_empty(),
        "{one}"
    );
    assert!(
        !model["latestVersion"]["artifacts"]["nodes"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{one}"
    );
    let wide = &listed["wide"]["nodes"][0];
    assert_eq!(wide["readme"], "read me");
    assert_eq!(
        wide["latestVersion"]["registeredModelId"],
        whole["latestVersion"]["registeredModelId"]
    );
}

/// `registeredModels` reads its page's latest versions ahead (one statement) instead of
/// batching a hundred resolvers: every way of selecting the field (nodes, edges, twice
/// under aliases, in a fragment) answers what a one-model read answers, for a model
/// without versions and one whose newest version is archived too.
async fn model_lists_read_latest_versions_ahead_and_agree_with_one_model_reads(app: &TestApp) {
    let made = app
        .ok(
            r#"mutation {
                a1: registerModel(input: {name: "ahead-a", version: "v1", uri: "s3://a/1"}) { id }
                a2: registerModel(input: {name: "ahead-a", version: "v2", uri: "s3://a/2"}) { id }
                b: createRegisteredModel(input: {name: "ahead-b"}) { id }
                c1: registerModel(input: {name: "ahead-c", version: "v1", uri: "s3://c/1"}) { id }
                c2: registerModel(input: {name: "ahead-c", version: "v2", uri: "s3://c/2"}) { id }
            }"#,
            json!({}),
        )
        .await;
    app.ok(
        "mutation($v: ID!) { updateModelVersion(id: $v, input: {state: ARCHIVED}) { id } }",
        json!({"v": made["c2"]["id"]}),
    )
    .await;
    let expected = json!({"ahead-a": "v2", "ahead-b": null, "ahead-c": "v1"});
    for (name, latest) in expected.as_object().unwrap() {
        let one = app
            .ok(
                "query($n: String!) { registeredModel(name: $n) { latestVersion { name } } }",
                json!({"n": name}),
            )
            .await;
        assert_eq!(
            &one["registeredModel"]["latestVersion"]["name"], latest,
            "{name}"
        );
    }
    let listed = app
        .ok(
            r#"query { registeredModels(first: 10, filter: {name: {contains: "ahead-"}}) {
                nodes { name latestVersion { name } again: latestVersion { name } ...Latest }
                edges { node { name latestVersion { name } } } } }
            fragment Latest on RegisteredModel { viaFragment: latestVersion { name } }"#,
            json!({}),
        )
        .await;
    let models = &listed["registeredModels"];
    assert_eq!(models["nodes"].as_array().unwrap().len(), 3);
    for (model, edge) in models["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(models["edges"].as_array().unwrap())
    {
        let latest = &expected[model["name"].as_str().unwrap()];
        for field in ["latestVersion", "again", "viaFragment"] {
            assert_eq!(&model[field]["name"], latest, "{field} of {model}");
            if latest.is_null() {
                assert!(model[field].is_null(), "{field} of {model}");
            }
        }
        assert_eq!(&edge["node"]["latestVersion"]["name"], latest, "{edge}");
    }
}

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

const RUNS: &str = r#"query($e: ID!, $o: ValueOrder, $first: Int, $after: String, $last: Int, $before: String) {
    experimentRuns(filter: {experimentId: $e}, orderByValue: $o, first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage } edges { cursor node { name } } } }"#;

fn names(answer: &serde_json::Value) -> Vec<String> {
    answer["experimentRuns"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn cursor(answer: &serde_json::Value, at: usize) -> serde_json::Value {
    answer["experimentRuns"]["edges"][at]["cursor"].clone()
}

/// Runs by a metric's value (numbers) or a parameter's (text), ties by id, runs without
/// it last either way, keyset-paged forwards and backwards.
async fn runs_sort_by_a_metric_or_a_parameter_and_page_through(app: &TestApp) {
    let e = app
        .ok(
            r#"mutation { createExperiment(input: {name: "sweep"}) { id } }"#,
            json!({}),
        )
        .await["createExperiment"]["id"]
        .clone();
    // (name, auc, optimizer); r3 has neither; 10 sorts above 9 as a number
    let runs = [
        ("r1", Some(0.5), Some("sgd")),
        ("r2", Some(10.0), Some("adam")),
        ("r3", None, None),
        ("r4", Some(9.0), Some("rmsprop")),
        ("r5", Some(10.0), None),
    ];
    for (name, auc, optimizer) in runs {
        let run = app
            .ok(
                "mutation($e: ID!, $n: String!) { createExperimentRun(input: {experimentId: $e, name: $n}) { id } }",
                json!({"e": e, "n": name}),
            )
            .await["createExperimentRun"]["id"]
            .clone();
        if let Some(auc) = auc {
            app.ok(
                "mutation($r: ID!, $v: Float!) { createMetric(input: {experimentRunId: $r, name: \"auc\", value: $v}) { id } }",
                json!({"r": run, "v": auc}),
            )
            .await;
        }
        if let Some(opt) = optimizer {
            app.ok(
                "mutation($r: ID!, $v: String!) { createParameter(input: {experimentRunId: $r, name: \"optimizer\", value: $v}) { id } }",
                json!({"r": run, "v": opt}),
            )
            .await;
        }
    }
    let by = |o: serde_json::Value, extra: serde_json::Value| {
        let mut vars = json!({"e": e, "o": o});
        for (k, v) in extra.as_object().unwrap() {
            vars[k] = v.clone();
        }
        vars
    };
    let auc_desc = json!({"metric": "auc"});
    let all = app.ok(RUNS, by(auc_desc.clone(), json!({}))).await;
    assert_eq!(names(&all), ["r5", "r2", "r4", "r1", "r3"]);
    assert_eq!(all["experimentRuns"]["totalCount"], 5);
    let asc = app
        .ok(
            RUNS,
            by(json!({"metric": "auc", "direction": "ASC"}), json!({})),
        )
        .await;
    assert_eq!(names(&asc), ["r1", "r4", "r2", "r5", "r3"]);
    let text = app
        .ok(
            RUNS,
            by(
                json!({"parameter": "optimizer", "direction": "ASC"}),
                json!({}),
            ),
        )
        .await;
    assert_eq!(names(&text), ["r2", "r4", "r1", "r3", "r5"]);

    // forwards two at a time, across the tie and into the runs without a value
    let one = app
        .ok(RUNS, by(auc_desc.clone(), json!({"first": 2})))
        .await;
    assert_eq!(names(&one), ["r5", "r2"]);
    assert_eq!(
        one["experimentRuns"]["pageInfo"],
        json!({"hasNextPage": true, "hasPreviousPage": false})
    );
    let two = app
        .ok(
            RUNS,
            by(
                auc_desc.clone(),
                json!({"first": 2, "after": cursor(&one, 1)}),
            ),
        )
        .await;
    assert_eq!(names(&two), ["r4", "r1"]);
    let three = app
        .ok(
            RUNS,
            by(
                auc_desc.clone(),
                json!({"first": 2, "after": cursor(&two, 1)}),
            ),
        )
        .await;
    assert_eq!(names(&three), ["r3"]);
    assert_eq!(
        three["experimentRuns"]["pageInfo"],
        json!({"hasNextPage": false, "hasPreviousPage": true})
    );
    // backwards from the end, and from before the run without a value
    let end = app.ok(RUNS, by(auc_desc.clone(), json!({"last": 2}))).await;
    assert_eq!(names(&end), ["r1", "r3"]);
    let back = app
        .ok(
            RUNS,
            by(
                auc_desc.clone(),
                json!({"last": 2, "before": cursor(&end, 1)}),
            ),
        )
        .await;
    assert_eq!(names(&back), ["r4", "r1"]);
    let back = app
        .ok(
            RUNS,
            by(
                auc_desc.clone(),
                json!({"last": 2, "before": cursor(&back, 0)}),
            ),
        )
        .await;
    assert_eq!(names(&back), ["r5", "r2"]);

    // a cursor of another order, or two orders at once, is refused
    let wrong = app
        .gql(
            RUNS,
            by(
                json!({"parameter": "optimizer"}),
                json!({"after": cursor(&one, 0)}),
            ),
        )
        .await;
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{wrong}"
    );
    let both = app
        .gql(
            r#"query($e: ID!) { experimentRuns(filter: {experimentId: $e}, orderBy: {field: NAME}, orderByValue: {metric: "auc"}) { totalCount } }"#,
            json!({"e": e}),
        )
        .await;
    assert_eq!(
        both["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{both}"
    );
    let neither = app
        .gql(
            r#"query($e: ID!) { experimentRuns(filter: {experimentId: $e}, orderByValue: {}) { totalCount } }"#,
            json!({"e": e}),
        )
        .await;
    assert_eq!(
        neither["errors"][0]["extensions"]["code"], "INVALID_INPUT",
        "{neither}"
    );
}

/// `artifacts(filter: {modelVersionId, experimentRunId})` asks for artifacts under both:
/// an artifact has one parent, so none; it used to answer the run's (the second field
/// replaced the first).
async fn artifact_filter_fields_combine_with_and(app: &TestApp) {
    let made = app
        .ok(
            r#"mutation {
                v: registerModel(input: {name: "and-model", version: "v1", uri: "s3://a/m"}) { id }
                e: createExperiment(input: {name: "and-exp"}) { id }
            }"#,
            json!({}),
        )
        .await;
    let run = app
        .ok(
            "mutation($e: ID!) { createExperimentRun(input: {experimentId: $e, name: \"r\"}) { id } }",
            json!({"e": made["e"]["id"]}),
        )
        .await["createExperimentRun"]["id"]
        .clone();
    app.ok(
        r#"mutation($r: ID!) { createMetric(input: {experimentRunId: $r, name: "auc", value: 1.0}) { id } }"#,
        json!({"r": run}),
    )
    .await;
    let q = r#"query($v: ID, $r: ID) { artifacts(filter: {modelVersionId: $v, experimentRunId: $r}) { totalCount } }"#;
    let count = |v: serde_json::Value| v["artifacts"]["totalCount"].as_i64().unwrap();
    let version = made["v"]["id"].clone();
    assert_eq!(count(app.ok(q, json!({"v": version})).await), 1);
    assert_eq!(count(app.ok(q, json!({"r": run})).await), 1);
    assert_eq!(count(app.ok(q, json!({"v": version, "r": run})).await), 0);
}
