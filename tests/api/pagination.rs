//! Relay connections: keyset cursors both ways, totalCount, every order and filter.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(pages_forwards_and_backwards, orders_and_filters);

async fn names(conn: &Value) -> Vec<String> {
    conn["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn pages_forwards_and_backwards(app: &TestApp) {
    for i in 0..7 {
        app.ok(
            &format!(r#"mutation {{ createExperiment(input: {{name: "e{i}"}}) {{ id }} }}"#),
            json!({}),
        )
        .await;
    }
    let q = r#"query($first: Int, $after: String, $last: Int, $before: String) {
        experiments(first: $first, after: $after, last: $last, before: $before, orderBy: {field: NAME}) {
            totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            edges { cursor node { name } } } }"#;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = app.ok(q, json!({"first": 3, "after": after})).await["experiments"].clone();
        assert_eq!(page["totalCount"], 7);
        seen.extend(names(&page).await);
        assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some());
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, (0..7).map(|i| format!("e{i}")).collect::<Vec<_>>());

    let mut back = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = app.ok(q, json!({"last": 3, "before": before})).await["experiments"].clone();
        let mut chunk = names(&page).await;
        chunk.extend(back);
        back = chunk;
        if page["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        before = page["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(back, seen);

    // a cursor from another ordering is refused
    let page = app.ok(q, json!({"first": 1})).await;
    let cursor = page["experiments"]["pageInfo"]["endCursor"].clone();
    let (code, _) = app
        .err(r#"query($c: String) { experiments(after: $c, orderBy: {field: CREATE_TIME}) { totalCount } }"#, json!({"c": cursor}))
        .await;
    assert_eq!(code, "INVALID_INPUT");
    let (code, _) = app
        .err(
            r#"{ experiments(after: "garbage") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT");
}

async fn orders_and_filters(app: &TestApp) {
    let specs = [
        ("beta", "ann", 3, "LIVE"),
        ("alpha", "bob", 1, "ARCHIVED"),
        ("gamma", "ann", 2, "LIVE"),
    ];
    for (name, owner, rank, state) in specs {
        app.ok(
            r#"mutation($n: String!, $o: String!, $r: Int!, $s: RegisteredModelState!) {
                createRegisteredModel(input: {name: $n, owner: $o, state: $s, customProperties: {rank: $r, tag: "t"}}) { id } }"#,
            json!({"n": name, "o": owner, "r": rank, "s": state}),
        )
        .await;
    }
    let list = |order: &str, filter: &str| {
        format!(
            "{{ registeredModels(orderBy: {order}, filter: {filter}) {{ totalCount edges {{ node {{ name }} }} }} }}"
        )
    };
    let by = |order: &str, filter: &str| {
        let q = list(order, filter);
        async move { app.ok(&q, json!({})).await["registeredModels"].clone() }
    };
    assert_eq!(
        names(&by("{field: NAME}", "{}").await).await,
        ["alpha", "beta", "gamma"]
    );
    assert_eq!(
        names(&by("{field: NAME, direction: DESC}", "{}").await).await,
        ["gamma", "beta", "alpha"]
    );
    assert_eq!(
        names(&by("{field: CREATE_TIME}", "{}").await).await,
        ["beta", "alpha", "gamma"]
    );
    assert_eq!(
        names(&by("{field: ID, direction: DESC}", "{}").await).await,
        ["gamma", "alpha", "beta"]
    );
    assert_eq!(
        names(&by("{field: LAST_UPDATE_TIME}", "{}").await).await,
        ["beta", "alpha", "gamma"]
    );
    let filtered = by("{field: NAME}", r#"{owner: "ann"}"#).await;
    assert_eq!(filtered["totalCount"], 2);
    assert_eq!(names(&filtered).await, ["beta", "gamma"]);
    assert_eq!(
        names(&by("{field: NAME}", "{state: ARCHIVED}").await).await,
        ["alpha"]
    );
    assert_eq!(
        names(&by("{field: NAME}", r#"{name: {contains: "AM"}}"#).await).await,
        ["gamma"]
    );
    assert_eq!(
        names(
            &by(
                "{field: NAME}",
                r#"{name: {in: ["alpha", "gamma", "zeta"]}}"#
            )
            .await
        )
        .await,
        ["alpha", "gamma"]
    );
    assert_eq!(
        names(&by("{field: NAME}", r#"{name: {eq: "beta"}}"#).await).await,
        ["beta"]
    );
    assert_eq!(
        names(
            &by(
                "{field: NAME}",
                r#"{customProperties: [{key: "rank", op: GTE, value: 2}]}"#
            )
            .await
        )
        .await,
        ["beta", "gamma"]
    );
    assert_eq!(
        names(&by("{field: NAME}", r#"{customProperties: [{key: "rank", op: LT, value: 2.5}, {key: "tag", value: "t"}]}"#).await).await,
        ["alpha", "gamma"]
    );
    assert_eq!(
        names(
            &by(
                "{field: NAME}",
                r#"{customProperties: [{key: "missing", op: EXISTS}]}"#
            )
            .await
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        names(
            &by(
                "{field: NAME}",
                r#"{createdAfter: "2000-01-01T00:00:00Z", createdBefore: "2999-01-01T00:00:00Z"}"#
            )
            .await
        )
        .await
        .len(),
        3
    );
    assert_eq!(
        names(&by("{field: NAME}", r#"{updatedAfter: "2999-01-01T00:00:00Z"}"#).await)
            .await
            .len(),
        0
    );

    // filterQuery, the Kubeflow syntax, works alongside the typed filter
    let data = app
        .ok(r#"{ registeredModels(filterQuery: "rank > 1 AND (owner = 'ann' OR name = 'alpha')", orderBy: {field: NAME}) { edges { node { name } } } }"#, json!({}))
        .await;
    assert_eq!(names(&data["registeredModels"]).await, ["beta", "gamma"]);
    let (code, message) = app
        .err(
            r#"{ registeredModels(filterQuery: "name = ") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("position"), "{message}");
    // a name that is no field and no property any model has is a mistake, not an empty
    // result: refused, named, with the fields listed
    for (query, named) in [("nmae = 'x'", "nmae"), ("metrics.auc > 0.9", "metrics.auc")] {
        let (code, message) = app
            .err(
                "query($q: String) { registeredModels(filterQuery: $q) { totalCount } }",
                json!({ "q": query }),
            )
            .await;
        assert_eq!(code, "INVALID_INPUT", "{query}");
        assert!(
            message.starts_with("filterQuery: ")
                && message.contains(&format!("{named:?}"))
                && message.contains("createTimeSinceEpoch"),
            "{message}"
        );
    }
    let (status, body) = app
        .call(
            "GET",
            "/api/model_registry/v1/registered_models?filterQuery=nmae%20%3D%20%27x%27",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("nmae"), "{body}");
    // a property asked for by its type is taken as asked, even one nothing has
    let data = app
        .ok(
            r#"{ registeredModels(filterQuery: "nmae.string_value = 'x'") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["registeredModels"]["totalCount"], 0);
}
