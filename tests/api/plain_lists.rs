//! Listed models and versions whose selection asks only for plain fields are built
//! without async-graphql's resolvers (`graphql::nodes::plain_nodes`); they must answer
//! byte for byte as the resolvers do. A fragment in an item's selection sends the item
//! to the resolvers, so each query below is asked twice: as it is, and with its
//! selections' first field inside an inline fragment (`... { id }`). (Not a directive:
//! async-graphql drops `@skip` and `@include` from the document before it executes it.)
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    plain_model_and_version_lists_answer_as_resolvers_do,
    selections_the_plain_path_leaves_alone_still_answer_as_graphql_says,
    plain_version_connections_answer_as_resolvers_do,
);

/// Every plain field of a registered model and of a model version.
const MODEL: &str = "id kind name externalId description customProperties createTime \
    lastUpdateTime revision owner state readme maturity language tasks provider logo license \
    licenseLink libraryName __typename";
const VERSION: &str = "id kind name externalId description customProperties createTime \
    lastUpdateTime revision author state registeredModelId __typename";

/// The same query with its every selection's first field inside an inline fragment,
/// which no plain path takes.
fn through_resolvers(query: &str) -> String {
    query
        .replace("{ id ", "{ ... { id } ")
        .replace("{ name ", "{ ... { name } ")
}

/// Asks `query` as it is and through the resolvers: both raw bodies must be equal, and
/// free of errors. Returns the data.
async fn same_both_ways(app: &TestApp, query: &str) -> Value {
    let body = same_body_both_ways(app, query, json!({})).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// Asks `query` with `variables` as it is and through the resolvers: both raw bodies,
/// errors and all, must be equal. Returns the body.
async fn same_body_both_ways(app: &TestApp, query: &str, variables: Value) -> Value {
    let forced = through_resolvers(query);
    assert_ne!(forced, query, "the query has a field to force");
    let plain = app.gql_text_at(&app.base, query, variables.clone()).await;
    let resolved = app.gql_text_at(&app.base, &forced, variables).await;
    assert_eq!(plain, resolved, "query: {query}");
    serde_json::from_str(&plain).expect("a JSON body")
}

async fn seed(app: &TestApp) {
    app.ok(
        r#"mutation {
            full: createRegisteredModel(input: {name: "plain-full", externalId: "pf-ext",
                description: "every field", owner: "ana", readme: "read me",
                maturity: "Production", language: ["en", "fr"], tasks: [], provider: "acme", logo: "data:,",
                license: "apache-2.0", licenseLink: "https://example.com/l",
                libraryName: "transformers",
                customProperties: {team: "ml", epochs: 3, rate: 0.5, ok: true,
                    nested: {k: [1, "two", null]}, empty: {}, text: "é \" \\ \n"}}) { id }
            v1: registerModel(input: {name: "plain-full", version: "v1", uri: "s3://p/1",
                author: "bo", versionDescription: "first", customProperties: {acc: 0.75}}) { id }
            v2: registerModel(input: {name: "plain-full", version: "v2", uri: "s3://p/2"}) { id }
            bare: createRegisteredModel(input: {name: "plain-bare"}) { id }
            a1: registerModel(input: {name: "plain-archived", version: "a1", uri: "s3://a/1"}) { id }
            a2: registerModel(input: {name: "plain-archived", version: "a2", uri: "s3://a/2"}) { id }
        }"#,
        json!({}),
    )
    .await;
    let archived = app
        .ok(
            r#"{ modelVersion(modelName: "plain-archived", name: "a2") { id } }"#,
            json!({}),
        )
        .await;
    app.ok(
        "mutation($v: ID!) { updateModelVersion(id: $v, input: {state: ARCHIVED}) { id } }",
        json!({"v": archived["modelVersion"]["id"]}),
    )
    .await;
}

/// Every plain field of both types, under `nodes` and `edges { node }`, with aliases, a
/// model without versions and one whose newest version is archived, and pages of the
/// version list: one answer whichever path builds it.
async fn plain_model_and_version_lists_answer_as_resolvers_do(app: &TestApp) {
    seed(app).await;
    let data = same_both_ways(
        app,
        &format!(
            r#"{{ registeredModels(first: 10, filter: {{name: {{contains: "plain-"}}}}) {{
                nodes {{ {MODEL} latestVersion {{ {VERSION} }} }} }} }}"#
        ),
    )
    .await;
    let models = data["registeredModels"]["nodes"].as_array().expect("nodes");
    assert_eq!(models.len(), 3, "{data:#}");
    let by_name = |name: &str| {
        models
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {data:#}"))
    };
    let full = by_name("plain-full");
    assert_eq!(full["owner"], "ana");
    assert_eq!(full["language"], json!(["en", "fr"]));
    assert_eq!(full["tasks"], json!([]));
    assert_eq!(by_name("plain-bare")["language"], json!([]));
    assert_eq!(
        full["customProperties"]["nested"],
        json!({"k": [1, "two", null]})
    );
    assert_eq!(full["customProperties"]["rate"], json!(0.5));
    assert_eq!(full["latestVersion"]["name"], "v2");
    assert_eq!(full["latestVersion"]["state"], "LIVE");
    assert_eq!(full["__typename"], "RegisteredModel");
    assert_eq!(by_name("plain-bare")["latestVersion"], Value::Null);
    assert_eq!(by_name("plain-archived")["latestVersion"]["name"], "a1");

    same_both_ways(
        app,
        &format!(
            r#"{{ registeredModels(first: 2) {{ edges {{ cursor node {{ id {MODEL} }} }}
                    nodes {{ id latest: latestVersion {{ id v: name at: createTime }} n: name }} }}
                modelVersions(first: 10) {{ nodes {{ id {VERSION} }} }}
                last: modelVersions(last: 2) {{ edges {{ node {{ id author }} }} pageInfo {{ hasPreviousPage }} }} }}"#
        ),
    )
    .await;
    let versions = same_both_ways(
        app,
        &format!(r#"{{ modelVersions(first: 10) {{ nodes {{ id {VERSION} }} }} }}"#),
    )
    .await;
    let listed = versions["modelVersions"]["nodes"]
        .as_array()
        .expect("nodes");
    assert_eq!(listed.len(), 4, "{versions:#}");
    assert!(
        listed
            .iter()
            .any(|v| v["state"] == "ARCHIVED" && v["name"] == "a2"),
        "{versions:#}"
    );
    assert!(
        listed
            .iter()
            .any(|v| v["author"] == "bo" && v["customProperties"] == json!({"acc": 0.75})),
        "{versions:#}"
    );
}

/// Fragments, directives, repeated response keys and fields with arguments take the
/// resolvers, and still answer as GraphQL says: repeated keys merge, fragments apply
/// by type, `@skip` leaves a field out.
async fn selections_the_plain_path_leaves_alone_still_answer_as_graphql_says(app: &TestApp) {
    seed(app).await;
    let data = app
        .ok(
            r#"{ registeredModels(first: 10, filter: {name: {eq: "plain-full"}}) { nodes {
                name name
                ... on RegisteredModel { owner }
                ...F
                description @skip(if: true)
                latestVersion { name name ... on ModelVersion { author } }
                versions(first: 1) { nodes { name } }
            } } }
            fragment F on Node { id kind }"#,
            json!({}),
        )
        .await;
    let model = &data["registeredModels"]["nodes"][0];
    assert_eq!(
        model,
        &json!({
            "name": "plain-full",
            "owner": "ana",
            "id": model["id"],
            "kind": "REGISTERED_MODEL",
            "latestVersion": {"name": "v2", "author": null},
            "versions": {"nodes": [{"name": "v1"}]},
        }),
        "{data:#}"
    );
    assert!(model["id"].is_string(), "{data:#}");
    // a plain selection beside one that is not, under aliases: each its own way
    same_both_ways(
        app,
        r#"{ plain: registeredModels(first: 10) { nodes { id name latestVersion { name } } }
             not: registeredModels(first: 10) { nodes { id name latestVersion { name aliases } } } }"#,
    )
    .await;
}

/// A model's `versions` connection is built plainly too when its items are plain: every
/// connection field (`__typename`, `totalCount`, `nodes`, `edges` with cursors,
/// `pageInfo`), arguments from literals and variables, filters, orders, cursors from
/// either path paging the other, and arguments the resolver refuses: one answer
/// whichever path builds it, errors included.
async fn plain_version_connections_answer_as_resolvers_do(app: &TestApp) {
    seed(app).await;
    let connection = "__typename totalCount nodes { id name } \
        edges { __typename cursor node { id name } } \
        pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }";
    let data = same_both_ways(
        app,
        &format!(
            r#"{{ registeredModels(first: 10, orderBy: {{field: NAME}}) {{ nodes {{ id name
                versions {{ {connection} }}
                first1: versions(first: 1) {{ {connection} }}
                byName: versions(last: 1, orderBy: {{field: NAME, direction: DESC}}) {{ {connection} }}
                filtered: versions(filter: {{name: {{eq: "v2"}}}}) {{ nodes {{ id {VERSION} }} }}
                query: versions(filterQuery: "name = 'v1'") {{ nodes {{ id name }} }}
                latestVersion {{ id name }}
            }} }} }}"#
        ),
    )
    .await;
    let full = &data["registeredModels"]["nodes"][2];
    assert_eq!(full["name"], "plain-full", "{data:#}");
    assert_eq!(full["versions"]["totalCount"], 2);
    assert_eq!(full["versions"]["__typename"], "ModelVersionConnection");
    assert_eq!(full["versions"]["edges"][1]["node"]["name"], "v2");
    assert_eq!(full["first1"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(full["byName"]["nodes"][0]["name"], "v1");
    assert_eq!(full["byName"]["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(full["filtered"]["nodes"][0]["author"], Value::Null);
    assert_eq!(full["query"]["nodes"][0]["name"], "v1");
    let bare = &data["registeredModels"]["nodes"][1];
    assert_eq!(bare["versions"]["pageInfo"]["startCursor"], Value::Null);
    assert_eq!(bare["versions"]["nodes"], json!([]));

    // variables, and the plain path's cursor taken by the resolvers' next page
    // (each field the forcing wraps in a fragment ends its line: errors' locations stay)
    let paged = "query($first: Int, $after: String) { registeredModels(filter: {name: {eq: \"plain-full\"}}) { nodes { id \n\
        versions(first: $first, after: $after) { nodes { id name } pageInfo { hasNextPage endCursor } } } } }";
    let page = same_body_both_ways(app, paged, json!({"first": 1})).await;
    let end =
        page["data"]["registeredModels"]["nodes"][0]["versions"]["pageInfo"]["endCursor"].clone();
    assert!(end.is_string(), "{page:#}");
    let next = same_body_both_ways(app, paged, json!({"first": 1, "after": end})).await;
    let versions = &next["data"]["registeredModels"]["nodes"][0]["versions"];
    assert_eq!(versions["nodes"][0]["name"], "v2", "{next:#}");
    assert_eq!(versions["pageInfo"]["hasNextPage"], false);

    // arguments the resolver refuses: the same errors, at the same paths
    for (query, variables) in [
        (paged, json!({"first": -1})),
        (paged, json!({"first": 1, "after": "not a cursor"})),
        (
            "{ registeredModels { nodes { id \n versions(first: 1, last: 1) { nodes { id } } } } }",
            json!({}),
        ),
        (
            "{ registeredModels { nodes { id \n versions(filterQuery: \"name = \") { nodes { id } } } } }",
            json!({}),
        ),
    ] {
        let body = same_body_both_ways(app, query, variables).await;
        assert!(body["errors"].is_array(), "{body:#}");
    }
}
