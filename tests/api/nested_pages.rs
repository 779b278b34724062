//! Nested lists page each parent in the database: a parent's `versions(first: 3)` reads
//! four of its versions, not all of them, and pages both ways with cursors as top-level
//! lists do; `totalCount` counts them all.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;
use crate::rest::{call, model_and_version};

on_both!(
    nested_lists_read_only_their_page,
    nested_lists_page_forwards_and_backwards,
    nested_lists_page_attached_children,
    nested_lists_refuse_unknown_bare_properties,
    nested_lists_read_only_the_columns_their_items_show,
    nested_lists_that_differ_in_any_argument_read_apart,
    nested_lists_keep_their_order_whatever_order_rows_were_written_in,
);

fn names(conn: &Value) -> Vec<&str> {
    conn["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["name"].as_str().expect("a name"))
        .collect()
}

/// Models `a` (versions v0..v6), `b` (v0, v1) and `c` (none); returns a's id.
async fn seed(app: &TestApp) -> String {
    let mut first = String::new();
    for (model, versions) in [("a", 7), ("b", 2), ("c", 0)] {
        let created = app
            .ok(
                "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
                json!({"n": model}),
            )
            .await;
        let id = created["createRegisteredModel"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        for v in 0..versions {
            app.ok(
                "mutation($m: ID!, $n: String!) { createModelVersion(input: {registeredModelId: $m, name: $n}) { id } }",
                json!({"m": id, "n": format!("v{v}")}),
            )
            .await;
        }
        if first.is_empty() {
            first = id;
        }
    }
    first
}

async fn nested_lists_read_only_their_page(app: &TestApp) {
    seed(app).await;
    app.reset_statements();
    let data = app
        .ok(
            r#"{ registeredModels(orderBy: {field: NAME}) { nodes { name versions(first: 3) {
                totalCount pageInfo { hasNextPage hasPreviousPage } nodes { name } } } } }"#,
            json!({}),
        )
        .await;
    let models = data["registeredModels"]["nodes"].as_array().unwrap();
    let got: Vec<(&str, Vec<&str>, i64, bool)> = models
        .iter()
        .map(|m| {
            let versions = &m["versions"];
            (
                m["name"].as_str().unwrap(),
                names(versions),
                versions["totalCount"].as_i64().unwrap(),
                versions["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a", vec!["v0", "v1", "v2"], 7, true),
            ("b", vec!["v0", "v1"], 2, false),
            ("c", vec![], 0, false),
        ]
    );
    assert!(
        models
            .iter()
            .all(|m| m["versions"]["pageInfo"]["hasPreviousPage"] == false)
    );
    // each model's versions are read a page at a time in the database, four at most (a
    // subquery per model with a LIMIT, or numbered per model on MySQL/MariaDB): a model's
    // page costs its size, not its number of versions
    let log = app.statement_log();
    let bounded = |s: &String| {
        // (a space after the text: the limit may end it)
        let flat = s.replace(['"', '`', '(', ')'], "") + " ";
        flat.contains("LIMIT 4 ") || flat.contains("rn <= 4 ")
    };
    assert!(
        log.iter().any(bounded),
        "no statement reads the versions a page per model:\n{log:#?}"
    );
    // without totalCount, nothing counts them
    app.reset_statements();
    app.ok(
        "{ registeredModels { nodes { versions(first: 1) { nodes { name } } } } }",
        json!({}),
    )
    .await;
    let log = app.statement_log();
    assert!(
        !log.iter().any(|s| s.contains("COUNT(")),
        "a nested list counted without totalCount asked: {log:#?}"
    );
}

/// A page of model `m`'s versions.
async fn versions_page(app: &TestApp, m: &str, mut vars: Value) -> Value {
    let q = r#"query($m: ID!, $first: Int, $after: String, $last: Int, $before: String, $order: OrderBy) {
        registeredModel(id: $m) { versions(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
            totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { name } } } }"#;
    vars["m"] = json!(m);
    app.ok(q, vars).await["registeredModel"]["versions"].clone()
}

async fn nested_lists_page_forwards_and_backwards(app: &TestApp) {
    let a = seed(app).await;
    let page = |vars: Value| versions_page(app, &a, vars);
    // forwards, three at a time
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let p = page(json!({"first": 3, "after": after})).await;
        assert_eq!(p["totalCount"], 7);
        assert_eq!(p["pageInfo"]["hasPreviousPage"], after.is_some());
        seen.extend(names(&p).into_iter().map(str::to_owned));
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = p["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
    // backwards from the end, then before the first of that page
    let last = page(json!({"last": 2})).await;
    assert_eq!(names(&last), ["v5", "v6"]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    let before = last["pageInfo"]["startCursor"].as_str().unwrap().to_owned();
    let earlier = page(json!({"last": 2, "before": before})).await;
    assert_eq!(names(&earlier), ["v3", "v4"]);
    assert_eq!(earlier["pageInfo"]["hasNextPage"], true);
    // between two cursors
    let after = page(json!({"first": 1})).await["pageInfo"]["endCursor"].clone();
    let between = page(json!({"first": 10, "after": after, "before": before})).await;
    assert_eq!(names(&between), ["v1", "v2", "v3", "v4"]);
    // another order, and an empty page
    let order = json!({"field": "NAME", "direction": "DESC"});
    let desc = page(json!({"first": 2, "order": order})).await;
    assert_eq!(names(&desc), ["v6", "v5"]);
    let after = desc["pageInfo"]["endCursor"].clone();
    let next = page(json!({"first": 2, "after": after, "order": order})).await;
    assert_eq!(names(&next), ["v4", "v3"]);
    let none = page(json!({"first": 0})).await;
    assert_eq!(
        (names(&none).len(), none["totalCount"].as_i64()),
        (0, Some(7))
    );
}

/// A run's artifacts are its own and those attached to it (INPUT edges); two runs' pages
/// are read together, each paged on its own, an artifact attached to both on both.
async fn nested_lists_page_attached_children(app: &TestApp) {
    let (_, version) = model_and_version(app).await;
    let (status, weights) = call(
        app,
        "POST",
        &format!("/model_versions/{version}/artifacts"),
        Some(json!({"artifactType": "model-artifact", "name": "m-weights", "uri": "s3://w"})),
    )
    .await;
    assert_eq!(status, 201, "{weights}");
    let (_, exp) = call(app, "POST", "/experiments", Some(json!({"name": "e"}))).await;
    let mut runs = Vec::new();
    for (run, metrics) in [
        ("r1", ["a-loss", "b-acc", "z-f1"].as_slice()),
        ("r2", &["c-auc"]),
    ] {
        let (status, created) = call(
            app,
            "POST",
            "/experiment_runs",
            Some(json!({"experimentId": exp["id"], "name": run})),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        for name in metrics {
            let (status, body) = call(
                app,
                "POST",
                &format!("/experiment_runs/{id}/artifacts"),
                Some(json!({"artifactType": "metric", "name": name, "value": 1.0})),
            )
            .await;
            assert!(status == 200 || status == 201, "{body}");
        }
        let (status, body) = call(
            app,
            "POST",
            &format!("/experiment_runs/{id}/artifacts"),
            Some(json!({"id": weights["id"], "artifactType": "model-artifact"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        runs.push(id);
    }
    let data = app
        .ok(
            r#"{ experimentRuns(orderBy: {field: NAME}) { nodes { name
                artifacts(first: 2, orderBy: {field: NAME}) { totalCount pageInfo { hasNextPage endCursor } nodes { name } } } } }"#,
            json!({}),
        )
        .await;
    let got: Vec<(Vec<&str>, i64, bool)> = data["experimentRuns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let a = &r["artifacts"];
            (
                names(a),
                a["totalCount"].as_i64().unwrap(),
                a["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (vec!["a-loss", "b-acc"], 4, true),
            (vec!["c-auc", "m-weights"], 2, false),
        ]
    );
    let after = data["experimentRuns"]["nodes"][0]["artifacts"]["pageInfo"]["endCursor"].clone();
    let rest_of = app
        .ok(
            r#"query($r: ID!, $after: String) { experimentRun(id: $r) {
                artifacts(first: 2, after: $after, orderBy: {field: NAME}) { pageInfo { hasNextPage hasPreviousPage } nodes { name } } } }"#,
            json!({"r": runs[0], "after": after}),
        )
        .await;
    let page = &rest_of["experimentRun"]["artifacts"];
    assert_eq!(names(page), ["m-weights", "z-f1"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);
}

/// A nested list's `filterQuery` is checked as a top-level list's is: a bare name that is
/// no field and no property of any version is refused, named, not an empty page.
async fn nested_lists_refuse_unknown_bare_properties(app: &TestApp) {
    let a = seed(app).await;
    let q = "query($m: ID!, $q: String) { registeredModel(id: $m) { versions(filterQuery: $q) { nodes { name } } } }";
    let (code, message) = app.err(q, json!({"m": a, "q": "nmae = 'v1'"})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(
        message.starts_with("filterQuery: ") && message.contains(r#""nmae""#),
        "{message}"
    );
    let found = app.ok(q, json!({"m": a, "q": "name = 'v1'"})).await;
    assert_eq!(names(&found["registeredModel"]["versions"]), ["v1"]);
}

/// A nested list reads only the columns its items show, as a top-level list does, and
/// the list it is nested in reads no more for it; two selections of one list that show different fields are read together, with the
/// columns of both, and each gets its own.
async fn nested_lists_read_only_the_columns_their_items_show(app: &TestApp) {
    let created = app
        .ok(
            r#"mutation { createRegisteredModel(input: {name: "m"}) { id } }"#,
            json!({}),
        )
        .await;
    let m = created["createRegisteredModel"]["id"].clone();
    for v in 0..3 {
        app.ok(
            "mutation($m: ID!, $n: String!, $d: String!) { createModelVersion(input: {registeredModelId: $m, name: $n, description: $d, author: \"ann\"}) { id } }",
            json!({"m": m, "n": format!("v{v}"), "d": format!("about v{v}")}),
        )
        .await;
    }
    // the page's statement: the one bounded by a page of two (three rows)
    let page_reads = |log: Vec<String>| -> Vec<String> {
        log.into_iter()
            .map(|s| s.replace(['"', '`', '(', ')'], "") + " ")
            .filter(|s| s.contains("LIMIT 3 ") || s.contains("rn <= 3 "))
            .collect()
    };
    app.reset_statements();
    let data = app
        .ok(
            "{ registeredModels { nodes { versions(first: 2) { nodes { id name createTime } } } } }",
            json!({}),
        )
        .await;
    let versions = &data["registeredModels"]["nodes"][0]["versions"];
    assert_eq!(names(versions), ["v0", "v1"]);
    let log = app.whole_statements();
    // nor does the models' page read every column for a list nested in its items
    let wide: Vec<_> = log
        .iter()
        .filter(|s| s.contains(".*") || s.contains("description"))
        .collect();
    assert!(wide.is_empty(), "read every column: {wide:#?}");
    let reads = page_reads(log);
    assert_eq!(reads.len(), 1, "{reads:#?}");
    assert!(
        !reads[0].contains("node.*") && !reads[0].contains("description"),
        "a page of names read every column: {}",
        reads[0]
    );

    app.reset_statements();
    let data = app
        .ok(
            "{ registeredModels { nodes { plain: versions(first: 2) { nodes { name } }
                full: versions(first: 2) { nodes { name description author } } } } }",
            json!({}),
        )
        .await;
    let model = &data["registeredModels"]["nodes"][0];
    assert_eq!(names(&model["plain"]), ["v0", "v1"]);
    assert_eq!(
        model["full"]["nodes"],
        json!([
            {"name": "v0", "description": "about v0", "author": "ann"},
            {"name": "v1", "description": "about v1", "author": "ann"},
        ])
    );
    let reads = page_reads(app.whole_statements());
    assert_eq!(
        reads.len(),
        1,
        "two selections of one list, read apart: {reads:#?}"
    );
    assert!(reads[0].contains("description"), "{}", reads[0]);
}

/// Each parent's nested list makes its own loader key; keys are told apart by every
/// argument (filter, filterQuery, order, page, cursor), so lists that differ in any one
/// answer apart, and equal ones share one statement.
async fn nested_lists_that_differ_in_any_argument_read_apart(app: &TestApp) {
    seed(app).await;
    let after = app
        .ok(
            r#"{ registeredModel(name: "a") { versions(first: 2) { pageInfo { endCursor } } } }"#,
            json!({}),
        )
        .await["registeredModel"]["versions"]["pageInfo"]["endCursor"]
        .clone();
    app.reset_statements();
    let data = app
        .ok(
            r#"query($after: String) { registeredModels(orderBy: {field: NAME}) { nodes { name
                eq1: versions(filter: {name: {eq: "v1"}}) { nodes { name } }
                eq2: versions(filter: {name: {eq: "v2"}}) { nodes { name } }
                eq1again: versions(filter: {name: {eq: "v1"}}) { nodes { name } }
                query0: versions(filterQuery: "name = 'v0'") { nodes { name } }
                desc: versions(first: 2, orderBy: {field: NAME, direction: DESC}) { nodes { name } }
                asc: versions(first: 2) { nodes { name } }
                next: versions(first: 2, after: $after) { nodes { name } }
            } } }"#,
            json!({ "after": after }),
        )
        .await;
    let models = data["registeredModels"]["nodes"].as_array().unwrap();
    let a = &models[0];
    assert_eq!(a["name"], "a");
    assert_eq!(names(&a["eq1"]), ["v1"]);
    assert_eq!(names(&a["eq2"]), ["v2"]);
    assert_eq!(names(&a["eq1again"]), ["v1"]);
    assert_eq!(names(&a["query0"]), ["v0"]);
    assert_eq!(names(&a["desc"]), ["v6", "v5"]);
    assert_eq!(names(&a["asc"]), ["v0", "v1"]);
    assert_eq!(names(&a["next"]), ["v2", "v3"]);
    let b = &models[1];
    assert_eq!(names(&b["eq1"]), ["v1"]);
    assert_eq!(names(&b["eq2"]), Vec::<&str>::new());
    assert_eq!(names(&b["desc"]), ["v1", "v0"]);
    // one statement per distinct list: eq1 and eq1again share one
    let pages = app
        .statement_log()
        .into_iter()
        .filter(|s| s.contains("parent_id"))
        .count();
    assert_eq!(pages, 6, "{:#?}", app.statement_log());
}

/// Each parent's rows are put in order after they are read when the order is by a
/// number (the statement does not sort them): versions updated in the reverse of their
/// creation, listed by update time both ways and paged from either end, come back in
/// the order of their updates for every model of the page.
async fn nested_lists_keep_their_order_whatever_order_rows_were_written_in(app: &TestApp) {
    seed(app).await;
    let listed = |query: &'static str| async move {
        let data = app.ok(query, json!({})).await;
        let model = |name: &str| {
            data["registeredModels"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"] == name)
                .cloned()
                .unwrap()
        };
        (model("a"), model("b"))
    };
    let (a, b) =
        listed("{ registeredModels { nodes { name versions { nodes { id name } } } } }").await;
    // updated newest first, a millisecond or more apart, the two models in turn
    let mut updates: Vec<Value> = Vec::new();
    for model in [&a, &b] {
        let mut versions = model["versions"]["nodes"].as_array().unwrap().clone();
        versions.reverse();
        updates.extend(versions);
    }
    for version in &updates {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        app.ok(
            "mutation($v: ID!) { updateModelVersion(id: $v, input: {description: \"touched\"}) { id } }",
            json!({"v": version["id"]}),
        )
        .await;
    }
    let (a, b) = listed(
        "{ registeredModels(orderBy: {field: NAME}) { nodes { name
            asc: versions(orderBy: {field: LAST_UPDATE_TIME}) { nodes { name } }
            desc: versions(first: 3, orderBy: {field: LAST_UPDATE_TIME, direction: DESC}) { nodes { name } }
            last: versions(last: 2, orderBy: {field: LAST_UPDATE_TIME}) { nodes { name } }
            byId: versions(orderBy: {field: ID, direction: DESC}) { nodes { name } } } } }",
    )
    .await;
    assert_eq!(names(&a["asc"]), ["v6", "v5", "v4", "v3", "v2", "v1", "v0"]);
    assert_eq!(names(&a["desc"]), ["v0", "v1", "v2"]);
    assert_eq!(names(&a["last"]), ["v1", "v0"]);
    assert_eq!(
        names(&a["byId"]),
        ["v6", "v5", "v4", "v3", "v2", "v1", "v0"]
    );
    assert_eq!(names(&b["asc"]), ["v1", "v0"]);
    assert_eq!(names(&b["desc"]), ["v0", "v1"]);
    assert_eq!(names(&b["last"]), ["v1", "v0"]);
    assert_eq!(names(&b["byId"]), ["v1", "v0"]);
}
