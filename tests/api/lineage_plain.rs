//! Walk entries that ask only for plain fields are built without async-graphql's
//! resolvers (`graphql::nodes::plain`); they must answer byte for byte as the resolvers
//! do, for every kind of node.
use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    plain_entries_answer_as_resolvers_do_for_every_kind_a_walk_lists,
    every_kind_reads_back_with_its_type_name,
    fragments_on_walk_entries_read_each_kinds_own_fields,
    repeated_keys_and_a_second_node_merge_as_graphql_says,
);

/// The kinds lineage edges join: registered models, experiments, serving environments
/// and serve models are parents or records, never walked to.
const WALKED_KINDS: [&str; 8] = [
    "DATASET",
    "EXPERIMENT_RUN",
    "MODEL_ARTIFACT",
    "DOC_ARTIFACT",
    "METRIC",
    "PARAMETER",
    "MODEL_VERSION",
    "INFERENCE_SERVICE",
];

fn id(data: &Value, field: &str) -> String {
    data[field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {data}"))
        .to_owned()
}

/// The id of what `mutation(input: {input})` creates.
async fn create(app: &TestApp, mutation: &str, input: &str, variables: Value) -> String {
    let params: Vec<String> = variables
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, _)| format!("${name}: ID!"))
        .collect();
    let params = if params.is_empty() {
        String::new()
    } else {
        format!("({})", params.join(", "))
    };
    let query = format!("mutation{params} {{ {mutation}(input: {{{input}}}) {{ id }} }}");
    id(&app.ok(&query, variables).await, mutation)
}

/// A pipeline from a raw dataset to a deployed model: one node of every walked kind
/// downstream of `raw`, plus the parents and records no walk lists. Returns the raw
/// dataset's id and every node's id.
async fn pipeline(app: &TestApp) -> (String, Vec<String>) {
    let model = app
        .ok(
            r#"mutation { registerModel(input: {name: "churn", version: "v1", uri: "s3://m/v1"}) {
                id registeredModel { id } artifacts { nodes { id } } } }"#,
            json!({}),
        )
        .await;
    let v1 = id(&model, "registerModel");
    let churn = model["registerModel"]["registeredModel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let v1_file = model["registerModel"]["artifacts"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = create(
        app,
        "createDataset",
        r#"name: "raw", uri: "s3://raw""#,
        json!({}),
    )
    .await;
    let clean = create(
        app,
        "createDataset",
        r#"name: "clean", uri: "s3://clean""#,
        json!({}),
    )
    .await;
    app.ok(
        r#"mutation($e: [LineageEdgeInput!]!) { addLineageEdges(edges: $e) { id } }"#,
        json!({"e": [{"source": raw, "target": clean, "kind": "DERIVED_FROM"}]}),
    )
    .await;
    let exp = create(app, "createExperiment", r#"name: "exp""#, json!({})).await;
    let run = app
        .ok(
            r#"mutation($exp: ID!, $clean: ID!) { recordRun(input: {experimentId: $exp, name: "train",
                status: FINISHED, inputs: [$clean],
                outputs: [{artifactType: MODEL_ARTIFACT, name: "weights", uri: "s3://w"},
                          {artifactType: DOC_ARTIFACT, name: "card", uri: "s3://card"}],
                metrics: [{name: "auc", value: 0.91}], parameters: [{name: "lr", value: 0.1}],
                outputModelVersions: [{registeredModelName: "churn", name: "v2", uri: "s3://m/v2"}]})
                { id outputs { id kind } } }"#,
            json!({"exp": exp, "clean": clean}),
        )
        .await;
    let run_id = id(&run, "recordRun");
    let outputs: Vec<(String, String)> = run["recordRun"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let v2 = outputs
        .iter()
        .find(|(_, k)| k == "MODEL_VERSION")
        .expect("v2 is an output")
        .0
        .clone();
    let prod = create(
        app,
        "createServingEnvironment",
        r#"name: "prod""#,
        json!({}),
    )
    .await;
    let api = create(
        app,
        "createInferenceService",
        r#"servingEnvironmentId: $env, registeredModelId: $model, modelVersionId: $v, name: "api""#,
        json!({"env": prod, "model": churn, "v": v2}),
    )
    .await;
    let serve = create(
        app,
        "createServeModel",
        r#"inferenceServiceId: $svc, modelVersionId: $v, name: "serve-1""#,
        json!({"svc": api, "v": v2}),
    )
    .await;
    let mut all = vec![
        churn,
        v1,
        v1_file,
        raw.clone(),
        clean,
        exp,
        run_id,
        prod,
        api,
        serve,
    ];
    all.extend(outputs.into_iter().map(|(id, _)| id));
    (raw, all)
}

async fn plain_entries_answer_as_resolvers_do_for_every_kind_a_walk_lists(app: &TestApp) {
    let (raw, _) = pipeline(app).await;
    // a fragment in the entries' selection sends them through the resolvers (a
    // directive would not: async-graphql drops `@skip` and `@include` before executing)
    let query = |depth: &str| {
        format!(
            r#"query($s: [ID!]!) {{ lineage(start: $s, direction: BOTH, maxDepth: 10) {{
                nodes {{ __typename {depth} direction d2: depth
                    node {{ __typename id kind name createTime n: name k: kind }} }} }} }}"#
        )
    };
    let plain = app
        .gql_text_at(&app.base, &query("depth"), json!({"s": [raw]}))
        .await;
    let resolved = app
        .gql_text_at(&app.base, &query("... { depth }"), json!({"s": [raw]}))
        .await;
    assert_eq!(plain, resolved, "the two paths answered differently");
    let body: Value = serde_json::from_str(&plain).unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    let entries = body["data"]["lineage"]["nodes"].as_array().unwrap();
    let kinds: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, WALKED_KINDS.into_iter().collect());
    // every entry's values are its own (names and types differ per kind)
    let names: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), entries.len(), "{body:#}");
    let typenames: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["node"]["__typename"].as_str().unwrap())
        .collect();
    assert_eq!(typenames.len(), WALKED_KINDS.len(), "{typenames:?}");
}

/// The plain path names each kind's GraphQL type without resolving a node; every kind
/// (walked or not) must read back as the resolvers name it.
async fn every_kind_reads_back_with_its_type_name(app: &TestApp) {
    let (_, all) = pipeline(app).await;
    let data = app
        .ok(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename kind } }",
            json!({"ids": all}),
        )
        .await;
    let mut kinds = BTreeSet::new();
    for node in data["nodes"].as_array().unwrap() {
        let kind: modelgraph::registry::NodeKind = node["kind"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            node["__typename"],
            modelgraph::graphql::nodes::type_name(kind),
            "{node}"
        );
        kinds.insert(kind);
    }
    assert_eq!(kinds.len(), 12, "one node of every kind: {kinds:?}");
}

async fn fragments_on_walk_entries_read_each_kinds_own_fields(app: &TestApp) {
    let (raw, _) = pipeline(app).await;
    let walked = app
        .ok(
            r#"query($s: [ID!]!) { lineage(start: $s, direction: DOWNSTREAM, maxDepth: 10) {
                nodes { node { id
                    ... on Dataset { uri }
                    ... on ExperimentRun { status }
                    ... on ModelArtifact { uri }
                    ... on DocArtifact { uri }
                    ... on Metric { value }
                    ... on Parameter { value }
                    ... on ModelVersion { registeredModel { name } }
                    ... on InferenceService { modelVersion { name } } } } } }"#,
            json!({"s": [raw]}),
        )
        .await;
    let walked = walked["lineage"]["nodes"].as_array().unwrap();
    assert_eq!(walked.len(), WALKED_KINDS.len());
    for entry in walked {
        let node = &entry["node"];
        // the same fields read through `node(id)`, outside any walk
        let direct = app
            .ok(
                r#"query($id: ID!) { node(id: $id) { id
                    ... on Dataset { uri }
                    ... on ExperimentRun { status }
                    ... on ModelArtifact { uri }
                    ... on DocArtifact { uri }
                    ... on Metric { value }
                    ... on Parameter { value }
                    ... on ModelVersion { registeredModel { name } }
                    ... on InferenceService { modelVersion { name } } } }"#,
                json!({"id": node["id"]}),
            )
            .await;
        assert_eq!(node, &direct["node"]);
        assert_eq!(
            node.as_object().unwrap().len(),
            2,
            "id and its own field: {node}"
        );
    }
}

async fn repeated_keys_and_a_second_node_merge_as_graphql_says(app: &TestApp) {
    let (raw, _) = pipeline(app).await;
    let plain = app
        .ok(
            r#"query($s: [ID!]!) { lineage(start: $s, direction: DOWNSTREAM, maxDepth: 10) {
                nodes { depth direction node { id name } } } }"#,
            json!({"s": [raw]}),
        )
        .await;
    let merged = app
        .ok(
            r#"query($s: [ID!]!) { lineage(start: $s, direction: DOWNSTREAM, maxDepth: 10) {
                nodes { depth depth direction node { id id } other: node { name } } } }"#,
            json!({"s": [raw]}),
        )
        .await;
    let entries = plain["lineage"]["nodes"].as_array().unwrap();
    let merged = merged["lineage"]["nodes"].as_array().unwrap();
    assert_eq!(merged.len(), entries.len());
    for (m, e) in merged.iter().zip(entries) {
        assert_eq!(
            m,
            &json!({"depth": e["depth"], "direction": e["direction"],
                "node": {"id": e["node"]["id"]}, "other": {"name": e["node"]["name"]}})
        );
    }
}
