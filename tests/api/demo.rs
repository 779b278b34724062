//! The README's demo queries, run against `seed-demo` data: they must say what the README
//! claims.
use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(readme_demo_queries_answer_what_they_claim);

/// The ```graphql block after `<!-- demo-query: NAME -->` in README.md.
pub(crate) fn readme_query(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let marker = format!("<!-- demo-query: {name} -->");
    let at = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no {marker}"));
    let rest = &readme[at..];
    let start = rest.find("```graphql\n").expect("a graphql block") + "```graphql\n".len();
    let end = rest[start..].find("```").expect("end of block");
    rest[start..start + end].to_owned()
}

fn names(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn readme_demo_queries_answer_what_they_claim(app: &TestApp) {
    let demo = modelgraph::demo::seed(&app.db).await.expect("seed");
    assert!(!demo.already_there);
    assert!(
        modelgraph::demo::seed(&app.db)
            .await
            .expect("seed again")
            .already_there,
        "seed-demo is idempotent"
    );
    let nodes_after = app.count_rows("node").await;

    let trained = app.ok(&readme_query("trained-on"), json!({})).await;
    let svc = &trained["servingEnvironment"]["inferenceServices"]["nodes"][0];
    assert_eq!(svc["modelVersion"]["name"], "v2");
    assert_eq!(
        names(&svc["upstream"]["nodes"]),
        BTreeSet::from([
            "customer-features".into(),
            "customer-events-clean".into(),
            "customer-events-raw".into()
        ])
    );

    let fed = app.ok(&readme_query("fed-into"), json!({})).await;
    let reached = &fed["datasets"]["nodes"][0]["downstream"]["nodes"];
    let services: BTreeSet<String> = reached
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "INFERENCE_SERVICE")
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        services,
        BTreeSet::from([
            "churn-api".into(),
            "churn-edge".into(),
            "churn-api-staging".into()
        ])
    );

    // the README's ids are those of a fresh database
    assert_eq!(
        (demo.raw_dataset, demo.distilled_version),
        (2, 27),
        "update the ids in README's path query"
    );
    let path = app.ok(&readme_query("path"), json!({})).await;
    let nodes = path["lineagePath"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.first().unwrap()["name"], "customer-events-raw");
    assert_eq!(nodes.last().unwrap()["name"], "v1");
    assert_eq!(
        path["lineagePath"]["edges"].as_array().unwrap().len(),
        nodes.len() - 1
    );
    assert_eq!(app.count_rows("node").await, nodes_after);
}
