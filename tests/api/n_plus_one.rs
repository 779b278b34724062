//! The N+1 guard: the statements one nested request issues must not grow with the data.
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both;

on_both!(nested_lists_do_not_grow_with_the_data);

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
        ... on ModelArtifact { uri modelVersion { name registeredModel { name } } } } } } } } } }"#;

async fn measure(app: &TestApp) -> (u64, usize) {
    app.reset_statements();
    let data = app.ok(QUERY, json!({})).await;
    let count = app.statements();
    let models = data["registeredModels"]["nodes"].as_array().unwrap().len();
    (count, models)
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
    assert!(large <= 12, "one request took {large} statements");
}
