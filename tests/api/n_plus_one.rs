//! The N+1 guard: the statements one nested request issues must not grow with the data.
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    nested_lists_do_not_grow_with_the_data,
    aliases_and_decisions_do_not_grow_with_the_data,
);

async fn seed(app: &TestApp, models: usize, versions: usize, artifacts: usize, offset: usize) {
    for m in 0..models {
        let model = app
            .ok(
                r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
                json!({"n": format!("model-{}", m + offset)}),
            )
            .await;
        for _ in 0..versions {
            let v = app
                .ok(r#"mutation($m: ID!) { createModelVersion(input: {registeredModelId: $m}) { id } }"#, json!({"m": model["createRegisteredModel"]["id"]}))
                .await;
            app.ok(
                r#"mutation($v: ID!) { createMetric(input: {modelVersionId: $v, name: "auc", value: 0.9}) { id } }"#,
                json!({"v": v["createModelVersion"]["id"]}),
            )
            .await;
            for a in 0..artifacts {
                app.ok(
                    r#"mutation($v: ID!, $n: String!) { createModelArtifact(input: {modelVersionId: $v, name: $n, uri: "s3://x"}) { id } }"#,
                    json!({"v": v["createModelVersion"]["id"], "n": format!("a{a}")}),
                )
                .await;
            }
        }
    }
}

const QUERY: &str = r#"{ registeredModels(first: 100) { totalCount nodes { name latestVersion { name }
    versions { totalCount nodes { name registeredModel { name } artifacts { totalCount nodes { name
        ... on ModelArtifact { uri modelVersion { name registeredModel { name } } } } }
        metrics(filter: {name: {eq: "auc"}}) { nodes { name value } }
        parameters { totalCount nodes { name value } } } } } } }"#;

/// The fewest statements of three runs: a busy machine can split one batch in two (two
/// loads at different depths that usually meet), never merge what grows with the data.
async fn measure(app: &TestApp) -> (u64, usize) {
    let mut fewest = u64::MAX;
    let mut models = 0;
    for _ in 0..3 {
        app.reset_statements();
        let data = app.ok(QUERY, json!({})).await;
        fewest = fewest.min(app.statements());
        models = data["registeredModels"]["nodes"].as_array().unwrap().len();
    }
    (fewest, models)
}

async fn nested_lists_do_not_grow_with_the_data(app: &TestApp) {
    seed(app, 5, 5, 3, 0).await;
    let (small, n) = measure(app).await;
    assert_eq!(n, 5);
    seed(app, 45, 5, 3, 5).await;
    let (large, n) = measure(app).await;
    assert_eq!(n, 50);
    assert_eq!(
        small,
        large,
        "statements grew with the data: {small} for 5 models, {large} for 50:\n{:#?}",
        app.statement_log()
    );
    assert!(large <= 15, "one request took {large} statements");
}

const RELEASES: &str = r#"{ registeredModels(first: 100) { nodes { name aliases { alias version { name } }
    versions { nodes { name aliases } } } }
  releaseRequests(first: 100) { nodes { alias version { name } decisions { by approve } } } }"#;

/// Models with two versions, `stable` on the first, and a rejected request to release
/// the second as `next`.
async fn seed_releases(app: &TestApp, editor: &str, approver: &str, from: usize, to: usize) {
    use crate::identity::gql_as;
    let ok = |token: &'static str, answer: crate::identity::Answer| {
        assert!(answer.body["errors"].is_null(), "{token}: {}", answer.body);
        answer.body["data"].clone()
    };
    for m in from..to {
        let model = ok(
            "editor",
            gql_as(
                app,
                Some(editor),
                "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
                json!({"n": format!("rel-{m}")}),
            )
            .await,
        );
        let model = &model["createRegisteredModel"]["id"];
        let mut versions = Vec::new();
        for v in ["v1", "v2"] {
            let data = ok("editor", gql_as(app, Some(editor), "mutation($m: ID!, $n: String!) { createModelVersion(input: {registeredModelId: $m, name: $n}) { id } }", json!({"m": model, "n": v})).await);
            versions.push(data["createModelVersion"]["id"].clone());
        }
        ok("editor", gql_as(app, Some(editor), r#"mutation($m: ID!, $v: ID!) { setModelAlias(modelId: $m, alias: "stable", versionId: $v) { alias } }"#, json!({"m": model, "v": versions[0]})).await);
        let request = ok(
            "editor",
            gql_as(
                app,
                Some(editor),
                r#"mutation($v: ID!) { requestRelease(versionId: $v, alias: "next") { id } }"#,
                json!({"v": versions[1]}),
            )
            .await,
        );
        ok(
            "approver",
            gql_as(
                app,
                Some(approver),
                r#"mutation($id: ID!) { rejectRelease(id: $id, note: "not yet") { id } }"#,
                json!({"id": request["requestRelease"]["id"]}),
            )
            .await,
        );
    }
}

async fn aliases_and_decisions_do_not_grow_with_the_data(app: &TestApp) {
    use modelgraph::auth::{Role, tokens};
    tokens::create(&app.db, "root", Role::Admin, None)
        .await
        .unwrap();
    let editor = tokens::create(&app.db, "ed", Role::Editor, None)
        .await
        .unwrap()
        .token;
    let approver = tokens::create(&app.db, "ap", Role::Approver, None)
        .await
        .unwrap()
        .token;
    let measure = || async {
        // a token's first use is noted in the background: out of the count
        crate::identity::gql_as(app, Some(&editor), "{ viewer { subject } }", json!({})).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        app.reset_statements();
        let answer = crate::identity::gql_as(app, Some(&editor), RELEASES, json!({})).await;
        assert!(answer.body["errors"].is_null(), "{}", answer.body);
        let count = app.statements();
        let data = &answer.body["data"];
        let models = data["registeredModels"]["nodes"]
            .as_array()
            .unwrap()
            .clone();
        for model in &models {
            assert_eq!(model["aliases"][0]["alias"], "stable");
            assert_eq!(model["aliases"][0]["version"]["name"], "v1");
            assert_eq!(model["versions"]["nodes"][0]["aliases"], json!(["stable"]));
            assert_eq!(model["versions"]["nodes"][1]["aliases"], json!([]));
        }
        for request in data["releaseRequests"]["nodes"].as_array().unwrap() {
            assert_eq!(
                request["decisions"],
                json!([{"by": "ap", "approve": false}])
            );
        }
        (count, models.len(), app.statement_log())
    };
    seed_releases(app, &editor, &approver, 0, 3).await;
    let (small, n, small_log) = measure().await;
    assert_eq!(n, 3);
    seed_releases(app, &editor, &approver, 3, 15).await;
    let (large, n, large_log) = measure().await;
    assert_eq!(n, 15);
    // one statement per loaded field: the token, models, requests, the models' aliases,
    // versions, the versions' aliases, decisions, and nodes by id (the aliases' and the
    // requests' versions, in one batch or two as the resolvers happen to meet)
    assert!(
        small <= 9 && large <= 9,
        "statements grew with the data: {small} for 3 models, {large} for 15:\n{small_log:#?}\n{large_log:#?}",
    );
}
