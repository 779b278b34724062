//! What an attacker or a careless client sends: deep nesting in every parser, NUL
//! characters, oversized bodies, non-JSON writes, other origins, a panicking handler.
//! Each is refused with a clear 4xx naming the limit (or answered 500 for the panic),
//! writes nothing, and leaves the server serving.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    deep_filter_query_parentheses_are_refused_on_every_door,
    deep_graphql_text_is_refused_before_parsing,
    deep_json_bodies_are_refused_on_every_door,
    custom_properties_nest_to_a_bound,
    nul_characters_are_refused_on_every_store,
    nul_characters_in_reads_are_refused_naming_where,
    filter_query_values_must_fit_their_field,
    oversized_bodies_are_413_on_every_door,
    writes_must_be_json,
);

const LEVELS: usize = 100_000;

/// The server still answers a plain query.
async fn still_serving(app: &TestApp) {
    let data = app
        .ok("{ registeredModels { totalCount } }", json!({}))
        .await;
    assert!(data["registeredModels"]["totalCount"].is_number(), "{data}");
}

fn parenthesised(levels: usize) -> String {
    format!("{}name = 'x'{}", "(".repeat(levels), ")".repeat(levels))
}

async fn deep_filter_query_parentheses_are_refused_on_every_door(app: &TestApp) {
    // REST: the issue's 4 KB query string (a URL holds no more than that in practice)
    let path = format!(
        "/api/model_registry/v1/registered_models?filterQuery={}",
        parenthesised(2_000)
            .replace('(', "%28")
            .replace(')', "%29")
            .replace(' ', "%20")
            .replace('\'', "%27")
    );
    let (status, text) = app.call("GET", &path, None).await;
    assert_eq!(status, 400, "{}", &text[..text.len().min(300)]);
    assert!(text.contains("at most 64"), "{text}");
    for levels in [2_000, LEVELS] {
        let query = parenthesised(levels);
        let (code, message) = app
            .err(
                "query($q: String) { registeredModels(filterQuery: $q) { totalCount } }",
                json!({"q": query}),
            )
            .await;
        assert_eq!(code, "LIMIT_EXCEEDED", "{message}");
    }
    // 64 levels are fine
    app.ok(
        "query($q: String) { registeredModels(filterQuery: $q) { totalCount } }",
        json!({"q": parenthesised(64)}),
    )
    .await;
    still_serving(app).await;
}

async fn deep_graphql_text_is_refused_before_parsing(app: &TestApp) {
    let cases = [
        // a list argument
        format!(
            "{{ __typename(x: {}1{}) }}",
            "[".repeat(LEVELS),
            "]".repeat(LEVELS)
        ),
        // an object argument
        format!(
            "{{ __typename(x: {}1{}) }}",
            "{a: ".repeat(LEVELS),
            "}".repeat(LEVELS)
        ),
        // selection sets
        format!("{}{}", "{ a ".repeat(LEVELS), "}".repeat(LEVELS)),
        // unbalanced brackets
        "(".repeat(LEVELS),
    ];
    for query in cases {
        let (code, message) = app.err(&query, json!({})).await;
        assert_eq!(code, "LIMIT_EXCEEDED", "{}", &query[..40]);
        assert!(message.contains("at most 64"), "{message}");
    }
    still_serving(app).await;
}

async fn deep_json_bodies_are_refused_on_every_door(app: &TestApp) {
    let deep = format!("{}1{}", "[".repeat(LEVELS), "]".repeat(LEVELS));
    let doors = [
        (
            "/graphql",
            format!(r#"{{"query": "{{ __typename }}", "variables": {{"a": {deep}}}}}"#),
        ),
        (
            "/api/model_registry/v1/registered_models",
            format!(r#"{{"name": "x", "customProperties": {deep}}}"#),
        ),
        ("/api/v1/lineage", format!(r#"{{"eventType": {deep}}}"#)),
    ];
    let before = app.count_rows("node").await;
    for (path, body) in doors {
        let res = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("recursion limit"), "{path}: {text}");
    }
    assert_eq!(app.count_rows("node").await, before);
    still_serving(app).await;
}

async fn custom_properties_nest_to_a_bound(app: &TestApp) {
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({"k": deep});
    }
    let (code, message) = app
        .err(
            r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "deep", customProperties: $cp}) { id } }"#,
            json!({"cp": {"keep": 1, "deep": deep}}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(
        message.contains("customProperties.deep") && message.contains("at most 32"),
        "{message}"
    );
    assert_eq!(app.count_rows("node").await, 0);
}

async fn nul_characters_are_refused_on_every_store(app: &TestApp) {
    let cases = [
        (
            r#"mutation($d: String) { createRegisteredModel(input: {name: "m", description: $d}) { id } }"#,
            json!({"d": "a\u{0}b"}),
            "description",
        ),
        (
            r#"mutation($cp: JSON) { createRegisteredModel(input: {name: "m", customProperties: $cp}) { id } }"#,
            json!({"cp": {"s": "a\u{0}b"}}),
            "customProperties.s",
        ),
        (
            r#"mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }"#,
            json!({"n": "a\u{0}b"}),
            "name",
        ),
    ];
    for (query, variables, field) in cases {
        let body = app.gql(query, variables).await;
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "INVALID_INPUT", "{body}");
        assert_eq!(err["extensions"]["field"], field, "{body}");
    }
    let event = json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z",
        "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
        "run": {"runId": "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b09"},
        "job": {"namespace": "ns", "name": "j"},
        "inputs": [{"namespace": "s3://a\u{0}b", "name": "in.csv"}], "outputs": [],
    });
    let (status, text) = app.call("POST", "/api/v1/lineage", Some(&event)).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("NUL"), "{text}");
    assert_eq!(app.count_rows("node").await, 0);
}

async fn oversized_bodies_are_413_on_every_door(app: &TestApp) {
    // the default bound is 1 MiB
    let big = "x".repeat(1024 * 1024 + 1);
    for path in [
        "/api/model_registry/v1/registered_models",
        "/api/v1/lineage",
        "/graphql",
    ] {
        let res = app
            .client
            .post(format!("{}{path}", app.base))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name": "{big}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 413, "{path}");
        let body: Value = res.json().await.unwrap();
        let code = if path == "/graphql" {
            body["errors"][0]["extensions"]["code"].clone()
        } else {
            body["code"].clone()
        };
        assert!(
            code == "LIMIT_EXCEEDED" || code == "Payload Too Large",
            "{path}: {body}"
        );
    }
    assert_eq!(app.count_rows("node").await, 0);
}

/// A browser sends `text/plain` and form posts cross-site without asking first: such a
/// write must never run.
async fn writes_must_be_json(app: &TestApp) {
    let writes = [
        (
            "/graphql",
            r#"{"query": "mutation { createRegisteredModel(input: {name: \"csrf\"}) { id } }"}"#,
        ),
        (
            "/api/model_registry/v1/registered_models",
            r#"{"name": "csrf"}"#,
        ),
        (
            "/api/v1/lineage",
            r#"{"eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z", "producer": "p", "schemaURL": "s", "run": {"runId": "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b0a"}, "job": {"namespace": "ns", "name": "csrf"}}"#,
        ),
    ];
    for (path, body) in writes {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let res = app
                .client
                .post(format!("{}{path}", app.base))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 415, "{path} as {content_type}");
        }
    }
    assert_eq!(app.count_rows("node").await, 0);
    // with no content type at all (as scripts send) the body is read as JSON
    let res = app
        .client
        .post(format!("{}/graphql", app.base))
        .body(
            r#"{"query": "mutation { createRegisteredModel(input: {name: \"script\"}) { id } }"}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(app.count_rows("node").await, 1);
    // with the JSON type the same GraphQL write runs
    let (status, text) = app
        .call(
            "POST",
            "/graphql",
            Some(&serde_json::from_str::<Value>(writes[0].1).unwrap()),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(app.count_rows("node").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let routes = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            panic!("a handler bug");
            #[allow(unreachable_code)]
            ""
        }),
    );
    let base = app.server_with_routes(routes).await;
    for _ in 0..3 {
        let res = app.client.get(format!("{base}/boom")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 500);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "Internal Server Error");
        assert_eq!(body["message"], "internal error", "no panic text leaks");
    }
    still_serving(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_origins_get_no_cors_allowance() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "{:?}",
        res.headers()
    );
    app.finish().await;
}

/// REST pages hold at most `--max-page-size` items, whatever `pageSize` asks (absent and
/// 0 included), with a token for the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_pages_are_capped_at_the_maximum_page_size() {
    let limits = modelgraph::config::Limits {
        max_page_size: 5,
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    for i in 0..7 {
        let body = json!({"name": format!("m{i}")});
        let path = "/api/model_registry/v1/registered_models";
        assert_eq!(app.call("POST", path, Some(&body)).await.0, 201);
    }
    for query in ["", "?pageSize=0", "?pageSize=1000000"] {
        let path = format!("/api/model_registry/v1/registered_models{query}");
        let (status, text) = app.call("GET", &path, None).await;
        assert_eq!(status, 200, "{text}");
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(page["size"], 5, "{query}: {page}");
        assert_eq!(page["pageSize"], 5, "{query}");
        let token = page["nextPageToken"].as_str().unwrap();
        assert!(!token.is_empty(), "{query}: more remain");
        let rest = format!("/api/model_registry/v1/registered_models?nextPageToken={token}");
        let (_, text) = app.call("GET", &rest, None).await;
        let page: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(page["size"], 2, "{query}: {page}");
        assert_eq!(page["nextPageToken"], "");
    }
    app.finish().await;
}

/// A SQLite file deleted under a running server: its writes would be acknowledged and
/// lost, so readiness fails (every probe) and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_sqlite_file_is_deleted() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    for probe in ["/readyz", "/readyz/health"] {
        assert_eq!(app.call("GET", probe, None).await.0, 200, "{probe}");
    }
    let file = app.sqlite_file().expect("a SQLite file");
    std::fs::remove_file(&file).unwrap();
    for probe in ["/readyz", "/readyz/health"] {
        let (status, text) = app.call("GET", probe, None).await;
        assert_eq!(status, 503, "{probe}: {text}");
        assert!(text.contains("deleted or replaced"), "{text}");
    }
    app.finish().await;
}

/// An OpenLineage event names at most `--max-event-datasets` inputs and outputs; one
/// over is refused whole, naming the list and the flag, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openlineage_events_name_a_bounded_number_of_datasets() {
    let limits = modelgraph::config::Limits {
        max_event_datasets: 10,
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    let inputs = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"namespace": "s3://b", "name": format!("in-{i}")}))
            .collect()
    };
    let event = |n: usize| {
        json!({
            "eventType": "COMPLETE", "eventTime": "2026-01-01T10:00:00Z",
            "producer": "https://example.com/p",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
            "run": {"runId": "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b0b"},
            "job": {"namespace": "ns", "name": "wide"},
            "inputs": inputs(n), "outputs": [],
        })
    };
    let (status, text) = app.call("POST", "/api/v1/lineage", Some(&event(11))).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("inputs") && text.contains("--max-event-datasets"),
        "{text}"
    );
    assert_eq!(app.count_rows("node").await, 0);
    let (status, text) = app.call("POST", "/api/v1/lineage", Some(&event(10))).await;
    assert_eq!(status, 201, "{text}");
    app.finish().await;
}

/// Every request has a time budget: a write stuck behind another process's lock on
/// the SQLite file is answered LIMIT_EXCEEDED (GraphQL) or 503 (REST) once it is spent,
/// naming the bound, long before SQLite's own 10 s busy wait ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_their_time_budget_are_refused() {
    let limits = modelgraph::config::Limits {
        request_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    let file = app.sqlite_file().expect("a SQLite file");
    let holder = rusqlite::Connection::open(&file).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let (code, message) = app
        .err(
            r#"mutation { createRegisteredModel(input: {name: "stuck"}) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("--request-timeout"), "{message}");
    let body = json!({"name": "stuck-too"});
    let (status, text) = app
        .call(
            "POST",
            "/api/model_registry/v1/registered_models",
            Some(&body),
        )
        .await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("--request-timeout"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    holder.execute_batch("ROLLBACK").unwrap();
    app.finish().await;
}

/// A GraphQL answer larger than `--max-response-bytes` is replaced by LIMIT_EXCEEDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_over_the_size_bound_are_refused() {
    let limits = modelgraph::config::Limits {
        max_response_bytes: 600,
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, limits).await;
    for i in 0..20 {
        app.ok(
            &format!(
                r#"mutation {{ createRegisteredModel(input: {{name: "model-{i}"}}) {{ id }} }}"#
            ),
            json!({}),
        )
        .await;
    }
    app.ok("{ registeredModels(first: 2) { nodes { id } } }", json!({}))
        .await;
    let (code, message) = app
        .err(
            "{ registeredModels { nodes { id name createTime } } }",
            json!({}),
        )
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("--max-response-bytes"), "{message}");
    app.finish().await;
}

/// Complexity counts the items a list asks for with `first`, and a walk's `first` per
/// hundred nodes: many aliased large lists are refused before any is read, one is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_counts_what_lists_and_walks_ask_for() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let list = |i: usize| format!("d{i}: datasets(first: 1000) {{ nodes {{ id name uri }} }}");
    app.ok(&format!("{{ {} }}", list(0)), json!({})).await;
    let many: Vec<String> = (0..11).map(list).collect();
    let (code, message) = app
        .err(&format!("{{ {} }}", many.join(" ")), json!({}))
        .await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("--max-complexity"), "{message}");
    let id = app
        .ok(
            r#"mutation { createDataset(input: {name: "d"}) { id } }"#,
            json!({}),
        )
        .await["createDataset"]["id"]
        .clone();
    let walk = |i: usize| {
        format!("w{i}: lineage(start: $s, first: 10000) {{ nodes {{ node {{ id }} }} }}")
    };
    let query = |n: usize| {
        let walks: Vec<String> = (0..n).map(walk).collect();
        format!("query($s: [ID!]!) {{ {} }}", walks.join(" "))
    };
    app.ok(&query(1), json!({"s": [id]})).await;
    let (code, _) = app.err(&query(100), json!({"s": [id]})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    // connections nested in a list multiply: 100 models x 1000 versions each is refused
    let nested = [
        "{ registeredModels(first: 100) { nodes { versions(first: 1000) { nodes { id } } } } }",
        "{ modelVersions(first: 100) { nodes { artifacts(first: 1000) { nodes { id } } } } }",
        "{ experiments(first: 100) { nodes { runs(first: 1000) { nodes { id } } } } }",
        "{ servingEnvironments(first: 100) { nodes { inferenceServices(last: 1000) { nodes { id } } } } }",
        "{ registeredModels(first: 100) { nodes { history(first: 1000) { nodes { sequence } } } } }",
    ];
    for q in nested {
        let (code, message) = app.err(q, json!({})).await;
        assert_eq!(code, "LIMIT_EXCEEDED", "{q}: {message}");
    }
    app.ok(
        "{ registeredModels(first: 10) { nodes { versions(first: 100) { nodes { id } } } } }",
        json!({}),
    )
    .await;
    app.finish().await;
}

/// Reads asking for a NUL (which nothing holds) are refused before they run, naming the
/// argument, instead of failing inside PostgreSQL.
async fn nul_characters_in_reads_are_refused_naming_where(app: &TestApp) {
    let reads = [
        (
            r#"{ datasets(filter: {owner: "\u0000"}) { totalCount } }"#,
            "datasets.filter",
        ),
        (
            r#"{ registeredModels(filter: {name: {contains: "a\u0000"}}) { totalCount } }"#,
            "registeredModels.filter",
        ),
        (
            r#"{ registeredModel(name: "\u0000") { id } }"#,
            "registeredModel.name",
        ),
        (
            r#"{ experiments(filter: {customProperties: [{key: "a\u0000", op: EXISTS}]}) { totalCount } }"#,
            "experiments.filter",
        ),
        (
            r#"{ registeredModels(filterQuery: "name = '\u0000'") { totalCount } }"#,
            "registeredModels.filterQuery",
        ),
    ];
    for (query, at) in reads {
        let (code, message) = app.err(query, json!({})).await;
        assert_eq!(code, "INVALID_INPUT", "{query}: {message}");
        assert!(
            message.starts_with(at) && message.contains("NUL"),
            "{query}: {message}"
        );
    }
    let (code, message) = app
        .err(
            "query($n: String!) { registeredModel(name: $n) { id } }",
            json!({"n": "x\u{0}"}),
        )
        .await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.starts_with("$n"), "{message}");
    for path in [
        "/api/model_registry/v1/registered_models?filterQuery=name%20%3D%20%27%00%27",
        "/api/model_registry/v1/registered_model?name=%00",
    ] {
        let (status, text) = app.call("GET", path, None).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("NUL"), "{path}: {text}");
    }
    still_serving(app).await;
}

/// A built-in field compares with values of its own type; `name = 1` is an error that
/// names the field, on both stores and both doors (it was a 500 on PostgreSQL).
async fn filter_query_values_must_fit_their_field(app: &TestApp) {
    for q in [
        "name = 1",
        "name != true",
        "desiredState < 1",
        "lastUpdateTimeSinceEpoch = ''",
    ] {
        let (code, message) = app
            .err(
                "query($q: String!) { registeredModels(filterQuery: $q) { totalCount } }",
                json!({"q": q}),
            )
            .await;
        assert_eq!(code, "INVALID_INPUT", "{q}: {message}");
        let field = q.split(' ').next().unwrap();
        assert!(message.contains(field), "{q}: {message}");
    }
    let (status, text) = app
        .call(
            "GET",
            "/api/model_registry/v1/registered_models?filterQuery=name%20%3D%201",
            None,
        )
        .await;
    assert_eq!(status, 400, "{text}");
    // a quoted epoch is still read as a number
    let data = app
        .ok(
            r#"{ registeredModels(filterQuery: "createTimeSinceEpoch > '0'") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert!(data["registeredModels"]["totalCount"].is_number());
}
