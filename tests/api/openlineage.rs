//! OpenLineage events over HTTP: mapping, replays, order, bad events, the Marquez read.
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both;

on_both!(
    openlineage_runs_become_lineage,
    replaying_events_writes_nothing,
    marquez_read_folds_runs_into_jobs,
    marquez_read_refuses_a_depth_over_the_walk_bound,
    openlineage_refuses_bad_events_and_writes_nothing,
    openlineage_concurrent_events_fail_alone_and_see_other_writers,
    wide_events_write_their_datasets_in_bulk,
    marquez_not_found_names_the_node_as_asked,
    two_servers_ingesting_one_store_see_each_others_writes,
    an_event_reads_its_runs_and_its_jobs_in_one_statement_each,
    a_new_run_without_a_parent_is_inserted_without_a_read,
);

const RUN: &str = "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b01";

fn event(kind: &str, time: &str, run: &str, inputs: Value, outputs: Value) -> Value {
    json!({
        "eventType": kind, "eventTime": time, "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run, "facets": {}}, "job": {"namespace": "ml", "name": "train"},
        "inputs": inputs, "outputs": outputs,
    })
}

async fn post(app: &TestApp, body: &Value) -> (u16, String) {
    app.call("POST", "/api/v1/lineage", Some(body)).await
}

/// A training run posted as COMPLETE, then START (out of order), reading a dataset with
/// a schema facet and writing one with column lineage; returns both events.
async fn post_training_run(app: &TestApp) -> (Value, Value) {
    let schema = json!({"schema": {"_producer": "p", "_schemaURL": "s", "fields": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}]}});
    let inputs = json!([{"namespace": "s3://bucket", "name": "train.csv", "facets": schema}]);
    let lineage = json!({"columnLineage": {"_producer": "p", "_schemaURL": "s", "fields": {"pred": {"inputFields": [
        {"namespace": "s3://bucket", "name": "train.csv", "field": "x", "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}]}]}}}});
    let outputs =
        json!([{"namespace": "postgres://db:5432", "name": "public.preds", "facets": lineage}]);
    // COMPLETE first, then START: still FINISHED with both times
    let complete = event(
        "COMPLETE",
        "2026-01-01T10:05:00Z",
        RUN,
        inputs.clone(),
        outputs,
    );
    assert_eq!(post(app, &complete).await.0, 201);
    let start = event(
        "START",
        "2026-01-01T10:00:00Z",
        RUN,
        json!([{"namespace": "s3://bucket", "name": "train.csv"}]),
        json!([]),
    );
    assert_eq!(post(app, &start).await.0, 201);
    (complete, start)
}

const RUN_QUERY: &str = r#"{ experimentRuns(filter: {externalId: "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b01"}) { nodes { status startTime endTime revision experiment { name namespace } } }
        datasets(filter: {namespace: "s3://bucket"}) { nodes { name uri revision schemaFields { name type } consumedBy { externalId } } }
        preds: datasets(filter: {name: {eq: "public.preds"}}) { nodes { columnLineage { field inputs { name field transformations { type subtype } } } producedBy { status } } } }"#;

async fn openlineage_runs_become_lineage(app: &TestApp) {
    post_training_run(app).await;
    let data = app.ok(RUN_QUERY, json!({})).await;
    let run = &data["experimentRuns"]["nodes"][0];
    assert_eq!(run["status"], "FINISHED");
    assert_eq!(run["startTime"], "2026-01-01T10:00:00+00:00");
    assert_eq!(run["endTime"], "2026-01-01T10:05:00+00:00");
    assert_eq!(
        run["experiment"],
        json!({"name": "train", "namespace": "ml"})
    );
    let by_name = app
        .ok(r#"{ a: experiment(name: "train") { namespace } b: experiment(name: "train", namespace: "ml") { namespace } }"#, json!({}))
        .await;
    assert_eq!(
        (
            by_name["a"]["namespace"].as_str(),
            by_name["b"]["namespace"].as_str()
        ),
        (Some("ml"), Some("ml"))
    );
    let train = &data["datasets"]["nodes"][0];
    assert_eq!(train["uri"], "s3://bucket/train.csv");
    assert_eq!(
        train["schemaFields"],
        json!([{"name": "x", "type": "double"}, {"name": "y", "type": "double"}]),
        "a facet-less event keeps the schema"
    );
    assert_eq!(train["consumedBy"][0]["externalId"], RUN);
    let col = &data["preds"]["nodes"][0]["columnLineage"][0];
    assert_eq!(col["field"], "pred");
    assert_eq!(
        col["inputs"][0]["transformations"][0],
        json!({"type": "DIRECT", "subtype": "TRANSFORMATION"})
    );
}

async fn replaying_events_writes_nothing(app: &TestApp) {
    let (complete, start) = post_training_run(app).await;
    let before = app.ok(RUN_QUERY, json!({})).await;
    let nodes = app.count_rows("node").await;
    let edges = app.count_rows("lineage_edge").await;
    assert_eq!(post(app, &complete).await.0, 201);
    assert_eq!(post(app, &start).await.0, 201);
    assert_eq!(
        (
            app.count_rows("node").await,
            app.count_rows("lineage_edge").await
        ),
        (nodes, edges)
    );
    let again = app.ok(RUN_QUERY, json!({})).await;
    assert_eq!(again, before);
}

async fn marquez_read_folds_runs_into_jobs(app: &TestApp) {
    post_training_run(app).await;
    // the Marquez-shaped read, with a namespace that has a port
    let (status, text) = app
        .call(
            "GET",
            "/api/v1/lineage?nodeId=dataset:postgres://db:5432:public.preds&depth=2",
            None,
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let graph: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = graph["graph"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "dataset:postgres://db:5432:public.preds",
            "dataset:s3://bucket:train.csv",
            "job:ml:train"
        ]
    );
    let job = graph["graph"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "JOB")
        .unwrap();
    assert_eq!(
        job["inEdges"],
        json!([{"origin": "dataset:s3://bucket:train.csv", "destination": "job:ml:train"}])
    );
    assert_eq!(
        job["outEdges"],
        json!([{"origin": "job:ml:train", "destination": "dataset:postgres://db:5432:public.preds"}])
    );
    let (status, _) = app
        .call(
            "GET",
            "/api/v1/lineage?nodeId=dataset:s3://bucket:missing&depth=2",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn openlineage_refuses_bad_events_and_writes_nothing(app: &TestApp) {
    let good = event(
        "START",
        "2026-01-01T10:00:00Z",
        RUN,
        json!([{"namespace": "ns", "name": "a"}]),
        json!([]),
    );
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut e = good.clone();
    e["run"].as_object_mut().unwrap().remove("runId");
    cases.push((e, "run.runId"));
    let mut e = good.clone();
    e["run"]["runId"] = json!("not-a-uuid");
    cases.push((e, "run.runId"));
    let mut e = good.clone();
    e["eventTime"] = json!("yesterday");
    cases.push((e, "eventTime"));
    let mut e = good.clone();
    e["inputs"] = json!({"namespace": "ns"});
    cases.push((e, "inputs"));
    let mut e = good.clone();
    e["inputs"][0].as_object_mut().unwrap().remove("name");
    cases.push((e, "inputs[0].name"));
    let mut e = good.clone();
    e["eventType"] = json!("FINISHED");
    cases.push((e, "eventType"));
    // the event itself is named, not an empty path
    cases.push((json!(["not", "an", "event"]), "event: must be an object"));
    for (body, path) in cases {
        let (status, text) = post(app, &body).await;
        assert_eq!(status, 400, "{text}");
        let err: Value = serde_json::from_str(&text).unwrap();
        assert!(
            err["message"].as_str().unwrap().starts_with(path),
            "{path}: {err}"
        );
    }
    assert_eq!(app.count_rows("node").await, 0);
    assert_eq!(post(app, &good).await.0, 201);
    assert!(app.count_rows("node").await > 0);
}

/// Concurrent events are written in shared transactions: one that fails (its runId is a
/// registered model's externalId) must fail alone, and a dataset changed through GraphQL
/// meanwhile must take the next event's facets without losing that change.
async fn openlineage_concurrent_events_fail_alone_and_see_other_writers(app: &TestApp) {
    const TAKEN: &str = "0192e2a5-0000-7000-8000-0000000000ff";
    app.ok(
        r#"mutation($x: String) { createRegisteredModel(input: {name: "m", externalId: $x}) { id } }"#,
        json!({"x": TAKEN}),
    )
    .await;
    let input = json!([{"namespace": "ns", "name": "shared"}]);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let run = if i == 17 {
            TAKEN.to_owned()
        } else {
            format!("0192e2a5-0000-7000-8000-{i:012x}")
        };
        let body = event(
            "START",
            "2026-01-01T10:00:00Z",
            &run,
            input.clone(),
            json!([]),
        );
        let (client, url) = (app.client.clone(), format!("{}/api/v1/lineage", app.base));
        tasks.spawn(async move {
            let res = client.post(url).json(&body).send().await.unwrap();
            (i, res.status().as_u16(), res.text().await.unwrap())
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, status, text) = done.unwrap();
        if i == 17 {
            assert_eq!(status, 400, "{text}");
            assert!(text.contains("run.runId"), "{text}");
        } else {
            assert_eq!(status, 201, "event {i}: {text}");
        }
    }
    let q = r#"{ experimentRuns(first: 100) { nodes { externalId } }
        datasets(filter: {namespace: "ns"}) { nodes { id name description schemaFields { name } consumedBy { externalId } } } }"#;
    let data = app.ok(q, json!({})).await;
    assert_eq!(
        data["experimentRuns"]["nodes"].as_array().unwrap().len(),
        29
    );
    let shared = &data["datasets"]["nodes"][0];
    assert_eq!(shared["name"], "shared");
    assert_eq!(shared["consumedBy"].as_array().unwrap().len(), 29);
    app.ok(
        r#"mutation($id: ID!) { updateDataset(id: $id, input: {description: "kept"}) { id } }"#,
        json!({"id": shared["id"]}),
    )
    .await;
    let schema = json!({"schema": {"_producer": "p", "_schemaURL": "s", "fields": [{"name": "x", "type": "int"}]}});
    let again = event(
        "COMPLETE",
        "2026-01-01T10:05:00Z",
        "0192e2a5-0000-7000-8000-000000000001",
        json!([{"namespace": "ns", "name": "shared", "facets": schema}]),
        json!([]),
    );
    let (status, text) = post(app, &again).await;
    assert_eq!(status, 201, "{text}");
    let data = app.ok(q, json!({})).await;
    let shared = &data["datasets"]["nodes"][0];
    assert_eq!(shared["description"], "kept");
    assert_eq!(shared["schemaFields"], json!([{"name": "x"}]));
    // a run whose externalId changed through GraphQL: an event for its old runId must not
    // land on it (the new run it asks for clashes with the old run's name instead)
    const OLD: &str = "0192e2a5-0000-7000-8000-000000000002";
    let warm = event("RUNNING", "2026-01-01T10:01:00Z", OLD, json!([]), json!([]));
    assert_eq!(post(app, &warm).await.0, 201);
    let run = app
        .ok(
            r#"query($x: String) { experimentRuns(filter: {externalId: $x}) { nodes { id } } }"#,
            json!({"x": OLD}),
        )
        .await["experimentRuns"]["nodes"][0]["id"]
        .clone();
    app.ok(
        r#"mutation($id: ID!) { updateExperimentRun(id: $id, input: {externalId: "renamed"}) { id } }"#,
        json!({"id": run}),
    )
    .await;
    // RUNNING changes nothing on the run itself, so only the cache could have known it
    let input = json!([{"namespace": "ns", "name": "after-rename"}]);
    let (status, text) = post(
        app,
        &event("RUNNING", "2026-01-01T10:06:00Z", OLD, input, json!([])),
    )
    .await;
    assert_eq!(status, 409, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "Conflict", "{text}");
    assert!(
        body["message"].as_str().unwrap().contains("already exists"),
        "{text}"
    );
    let renamed = app
        .ok(
            r#"query { experimentRuns(filter: {externalId: "renamed"}) { nodes { id status inputs { name } } } }"#,
            json!({}),
        )
        .await;
    let renamed = &renamed["experimentRuns"]["nodes"][0];
    assert_eq!(renamed["id"], run);
    assert_eq!(renamed["status"], "RUNNING");
    assert_eq!(renamed["inputs"], json!([{"name": "shared"}]));
}

/// A Marquez hop is two edges (dataset -> job -> dataset): `depth` over half the lineage
/// depth bound is refused as GraphQL refuses `maxDepth`, not quietly walked shorter.
async fn marquez_read_refuses_a_depth_over_the_walk_bound(app: &TestApp) {
    let inputs = json!([{"namespace": "s3://bucket", "name": "in.csv"}]);
    let run = "6f7d1c7e-0d3c-4a8e-9b0e-3f1f5c2d4a10";
    let (status, text) = post(
        app,
        &event("COMPLETE", "2026-01-01T10:00:00Z", run, inputs, json!([])),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let get = |depth: u32| async move {
        let path = format!("/api/v1/lineage?nodeId=dataset:s3://bucket:in.csv&depth={depth}");
        let (status, text) = app.call("GET", &path, None).await;
        (status, serde_json::from_str::<Value>(&text).unwrap())
    };
    // the default bound is 50 edges: 25 hops
    let (status, body) = get(25).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["graph"].as_array().is_some_and(|g| !g.is_empty()),
        "{body}"
    );
    let (status, body) = get(26).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "Bad Request");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("depth") && message.contains("25"),
        "{message}"
    );
}

/// An event naming many datasets costs a few statements, not several per dataset, new
/// or known; every dataset and edge is written all the same.
async fn wide_events_write_their_datasets_in_bulk(app: &TestApp) {
    let statements_for = |width: usize, run: &'static str| {
        let inputs: Vec<Value> = (0..width)
            .map(|i| json!({"namespace": "s3://wide", "name": format!("in-{i}")}))
            .collect();
        let outputs = json!([{"namespace": "s3://wide", "name": "out"}]);
        event(
            "COMPLETE",
            "2026-01-01T10:00:00Z",
            run,
            json!(inputs),
            outputs,
        )
    };
    let mut counts = Vec::new();
    for (width, run) in [
        (10, "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b10"),
        (900, "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b11"),
        (900, "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b12"),
    ] {
        let body = statements_for(width, run);
        app.reset_statements();
        let (status, text) = post(app, &body).await;
        assert_eq!(status, 201, "{text}");
        counts.push(app.statements());
    }
    // 10 new datasets; 890 new and 10 known; 900 known
    let (small, wide, known) = (counts[0], counts[1], counts[2]);
    assert!(
        wide <= small + 8,
        "900 inputs ran {wide} statements, 10 ran {small}"
    );
    assert!(
        known <= small + 8,
        "900 known inputs ran {known} statements, 10 ran {small}"
    );
    let data = app
        .ok(
            r#"{ datasets(first: 1000, filter: {namespace: "s3://wide"}) { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["datasets"]["totalCount"], 901);
    let run = app
        .ok(
            r#"{ experimentRuns(filter: {externalId: "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9b12"}) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let id = run["experimentRuns"]["nodes"][0]["id"].clone();
    let walk = app
        .ok(
            r#"query($id: ID!) { lineage(start: [$id], direction: UPSTREAM, maxDepth: 1, first: 2000) { nodes { node { id } } truncated } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(walk["lineage"]["truncated"], false);
    assert_eq!(walk["lineage"]["nodes"].as_array().unwrap().len(), 900);
}

/// A missing node is named as the client wrote it, never as an internal value.
async fn marquez_not_found_names_the_node_as_asked(app: &TestApp) {
    let (status, text) = app
        .call("GET", "/api/v1/lineage?nodeId=dataset:nope:x", None)
        .await;
    assert_eq!(status, 404, "{text}");
    assert!(
        text.contains("lineage node dataset:nope:x not found"),
        "{text}"
    );
    assert!(!text.contains("Dataset {"), "{text}");
}

/// Two servers on one store, each with its own OpenLineage writer (and its cache): what
/// one writes, the other's next batch sees, whether through GraphQL or OpenLineage.
async fn two_servers_ingesting_one_store_see_each_others_writes(app: &TestApp) {
    let other = app.server_via_sqlx().await;
    let post_to = |base: String, body: Value| {
        let client = app.client.clone();
        async move {
            let res = client
                .post(format!("{base}/api/v1/lineage"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    const RUN_A: &str = "0192e2a5-0000-7000-8000-00000000a001";
    const RUN_B: &str = "0192e2a5-0000-7000-8000-00000000b001";
    let ds = |name: &str| json!([{"namespace": "two", "name": name}]);
    // the first server learns the run (its writer caches it)
    let start = event("START", "2026-01-01T10:00:00Z", RUN_A, ds("in"), json!([]));
    assert_eq!(post_to(app.base.clone(), start).await.0, 201);
    let run = app
        .ok(
            r#"query($x: String) { experimentRuns(filter: {externalId: $x}) { nodes { id } } }"#,
            json!({"x": RUN_A}),
        )
        .await["experimentRuns"]["nodes"][0]["id"]
        .clone();
    // the second server renames it through GraphQL
    let renamed = app
        .gql_text_at(
            &other,
            r#"mutation($id: ID!) { updateExperimentRun(id: $id, input: {externalId: "renamed-a"}) { id } }"#,
            json!({"id": run}),
        )
        .await;
    assert!(!renamed.contains("\"errors\""), "{renamed}");
    // an event for the old runId must not land on the renamed run
    let late = event(
        "RUNNING",
        "2026-01-01T10:01:00Z",
        RUN_A,
        ds("late"),
        json!([]),
    );
    let (status, text) = post_to(app.base.clone(), late).await;
    assert_eq!(status, 409, "{text}");
    // both servers ingest events of one run: one run, both inputs, the last state
    let b_start = event("START", "2026-01-01T11:00:00Z", RUN_B, ds("b1"), json!([]));
    assert_eq!(post_to(other.clone(), b_start).await.0, 201);
    let a_running = event(
        "RUNNING",
        "2026-01-01T11:01:00Z",
        RUN_B,
        ds("b2"),
        json!([]),
    );
    assert_eq!(post_to(app.base.clone(), a_running).await.0, 201);
    let b_done = event(
        "COMPLETE",
        "2026-01-01T11:02:00Z",
        RUN_B,
        json!([]),
        ds("b-out"),
    );
    assert_eq!(post_to(other.clone(), b_done).await.0, 201);
    let again = event(
        "RUNNING",
        "2026-01-01T11:01:30Z",
        RUN_B,
        ds("b3"),
        json!([]),
    );
    assert_eq!(post_to(app.base.clone(), again).await.0, 201);
    let data = app
        .ok(
            r#"query($x: String) { experimentRuns(filter: {externalId: $x}) { nodes { status inputs { name } outputs { name } } } }"#,
            json!({"x": RUN_B}),
        )
        .await;
    let runs = data["experimentRuns"]["nodes"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{data}");
    let mut inputs: Vec<&str> = runs[0]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    inputs.sort_unstable();
    assert_eq!(inputs, ["b1", "b2", "b3"]);
    assert_eq!(runs[0]["outputs"], json!([{"name": "b-out"}]));
    // COMPLETE came before the later-posted, earlier-timed RUNNING: the run stays done
    assert_eq!(runs[0]["status"], "FINISHED", "{data}");
}

/// Reads of nodes in `log` (statements from `FROM "node"` on) that name `column` in
/// their conditions: `"name"` for jobs and datasets, `external_id` for runs.
fn node_reads(log: &[String], column: &str) -> usize {
    log.iter()
        .map(|s| s.replace('`', "\""))
        .filter(|s| s.starts_with(r#" FROM "node""#) && s.contains(column))
        .count()
}

/// The run of this externalId, with the fields `selection` names.
async fn run_by_external_id(app: &TestApp, run: &str, selection: &str) -> Value {
    let query = format!(
        "query($x: String) {{ experimentRuns(filter: {{externalId: $x}}) {{ nodes {{ {selection} }} }} }}"
    );
    let data = app.ok(&query, json!({"x": run})).await;
    data["experimentRuns"]["nodes"][0].clone()
}

/// The runs an event names (its own and its parent) are read together, new or known:
/// one statement by external id, not one per run; and so are their jobs (`train` and
/// `pipeline`): one statement by namespace and name, not one per job.
async fn an_event_reads_its_runs_and_its_jobs_in_one_statement_each(app: &TestApp) {
    let child = "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9c01";
    let parent = "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9c02";
    let mut body = event("START", "2026-01-01T10:00:00Z", child, json!([]), json!([]));
    body["run"]["facets"]["parent"] = json!({"_producer": "p", "_schemaURL": "s",
        "run": {"runId": parent}, "job": {"namespace": "ml", "name": "pipeline"}});
    // both runs new, then both known to a server that has not cached them
    let fresh = app.server_via_sqlx().await;
    for (round, base) in [("new", &app.base), ("known", &fresh)] {
        app.reset_statements();
        let res = app
            .client
            .post(format!("{base}/api/v1/lineage"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, text) = (res.status().as_u16(), res.text().await.unwrap());
        assert_eq!(status, 201, "{text}");
        let log = app.statement_log();
        assert_eq!(node_reads(&log, "external_id"), 1, "{round} runs: {log:#?}");
        // the event names no dataset: every read by name is a job's
        assert_eq!(node_reads(&log, r#""name""#), 1, "{round} jobs: {log:#?}");
        body["eventType"] = json!("COMPLETE");
        body["eventTime"] = json!("2026-01-01T10:05:00Z");
    }
    let runs = app
        .ok(
            r#"{ experimentRuns(filter: {externalId: "0192e2a5-7d6c-7a35-b4d0-1f6e2c1a9c01"}) { nodes { status parentRun { externalId } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        runs["experimentRuns"]["nodes"][0],
        json!({"status": "FINISHED", "parentRun": {"externalId": parent}})
    );
}

/// A START of a new run without a parent costs its insert and no read by runId where
/// an insert can skip a taken externalId (PostgreSQL, SQLite; before, one read that
/// found nothing); MariaDB still reads first. A run that is there already (here
/// created through GraphQL with that externalId, so the writer has not cached it) is
/// read after the insert skips it, and updated.
async fn a_new_run_without_a_parent_is_inserted_without_a_read(app: &TestApp) {
    let reads_first = app.db.get_database_backend() == sea_orm::DbBackend::MySql;
    let fresh = "0192e2a5-0000-7000-8000-000000000500";
    app.reset_statements();
    let (status, text) = post(
        app,
        &event("START", "2026-01-01T10:00:00Z", fresh, json!([]), json!([])),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let log = app.statement_log();
    assert_eq!(
        node_reads(&log, "external_id"),
        usize::from(reads_first),
        "{log:#?}"
    );

    let known = "0192e2a5-0000-7000-8000-000000000501";
    let experiment = app
        .ok(
            r#"{ experiments(first: 1) { nodes { id name } } }"#,
            json!({}),
        )
        .await;
    let experiment = &experiment["experiments"]["nodes"][0];
    assert_eq!(experiment["name"], "train", "{experiment}");
    app.ok(
        r#"mutation($e: ID!, $x: String) { createExperimentRun(input: {experimentId: $e, name: "made by hand", externalId: $x}) { id } }"#,
        json!({"e": experiment["id"], "x": known}),
    )
    .await;
    let (status, text) = post(
        app,
        &event("START", "2026-01-01T10:00:00Z", known, json!([]), json!([])),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(
        run_by_external_id(app, known, "name startTime revision").await,
        json!({"name": "made by hand", "startTime": "2026-01-01T10:00:00+00:00", "revision": 2})
    );
}

/// A run posted before each held batch.
const WARM_UP: &str = "0192e2a5-0000-7000-8000-0000000001aa";

/// A START of each run, each reading a dataset of its own.
fn starts_reading_own_input(runs: &[&str]) -> Vec<Value> {
    runs.iter()
        .map(|run| {
            let input = json!([{"namespace": "ns", "name": format!("in-{run}")}]);
            event("START", "2026-01-01T10:00:00Z", run, input, json!([]))
        })
        .collect()
}

/// Posts the events, the first alone and the rest while the writer's batch of the first
/// is held at its first statement (a read of the change counter, locked here); returns
/// each request's status and body. A START of [`WARM_UP`] goes first, so the writer's
/// last batch is the latest write; the statement log starts after it.
async fn post_while_a_batch_waits(app: &TestApp, bodies: &[Value]) -> Vec<(u16, String)> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let send = |body: &Value| {
        let body = body.clone();
        let (client, url) = (app.client.clone(), format!("{}/api/v1/lineage", app.base));
        tokio::spawn(async move {
            let res = client.post(url).json(&body).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        })
    };
    // a batch grows only when no one else wrote since the writer's last: one first
    let (status, text) = send(&starts_reading_own_input(&[WARM_UP])[0])
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    app.reset_statements();
    let lock = app.db.begin().await.unwrap();
    lock.execute_unprepared(r#"LOCK TABLE "change_counter" IN ACCESS EXCLUSIVE MODE"#)
        .await
        .unwrap();
    let mut tasks = vec![send(&bodies[0])];
    let waiting = r#"SELECT COUNT(*) AS n FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND query LIKE '%change_counter%'
          AND pid <> pg_backend_pid()"#;
    let mut held = false;
    for _ in 0..200 {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                waiting,
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            held = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(held, "the writer never waited on the change counter");
    tasks.extend(bodies[1..].iter().map(send));
    // the other requests reach the writer's queue while its batch waits
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    lock.rollback().await.unwrap();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Every run's event was answered 201 (answers in the runs' order).
fn assert_created(runs: &[&str], answers: &[(u16, String)]) {
    assert_eq!(runs.len(), answers.len());
    for (run, (status, text)) in runs.iter().zip(answers) {
        assert_eq!(*status, 201, "{run}: {text}");
    }
}

/// Transactions that wrote the runs named (distinct `xmin`s of their rows).
async fn transactions_of(app: &TestApp, runs: &[&str]) -> i64 {
    use sea_orm::ConnectionTrait;
    let ids: Vec<String> = runs.iter().map(|r| format!("'{r}'")).collect();
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                r#"SELECT COUNT(DISTINCT xmin::text) AS n FROM "node" WHERE "external_id" IN ({})"#,
                ids.join(", ")
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Statements of the log that insert nodes, and that update them (the log keeps a
/// statement from its FROM on: an UPDATE from a table of rows shows as that FROM, joined
/// on each row's read revision).
fn node_writes(log: &[String]) -> (usize, usize) {
    let count = |marks: &[&str]| {
        log.iter()
            .filter(|s| marks.iter().any(|m| s.contains(m)))
            .count()
    };
    (
        count(&[r#"INSERT INTO "node""#]),
        count(&[r#"UPDATE "node""#, r#""v"."read_revision""#]),
    )
}

/// A round of events writes the runs it starts in one INSERT and those it finishes in
/// one UPDATE, however many (PostgreSQL's writer; the batch held as above is two rounds:
/// the first event, then the three taken in). Before, each run was its own statement:
/// four inserts, then four updates. A START and a COMPLETE of one run in the same round
/// leave it as applying them one by one would: finished, with both times, and both
/// changes in its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_writes_its_new_runs_in_one_insert_and_its_updates_in_one_update_on_postgres() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let runs = [
        "0192e2a5-0000-7000-8000-000000000200",
        "0192e2a5-0000-7000-8000-000000000201",
        "0192e2a5-0000-7000-8000-000000000202",
        "0192e2a5-0000-7000-8000-000000000203",
    ];
    let bodies = |kind: &str, time: &str, runs: &[&str]| -> Vec<Value> {
        runs.iter()
            .map(|run| event(kind, time, run, json!([]), json!([])))
            .collect()
    };
    let started = "2026-01-01T10:00:00Z";
    let finished = "2026-01-01T10:05:00Z";
    for (kind, time, writes) in [("START", started, (2, 0)), ("COMPLETE", finished, (0, 2))] {
        let answers = post_while_a_batch_waits(&app, &bodies(kind, time, &runs)).await;
        assert_created(&runs, &answers);
        let log = app.statement_log();
        assert_eq!(node_writes(&log), writes, "{kind}: {log:#?}");
    }

    // one run started and finished in one round, in whichever order the two arrive
    const BOTH: &str = "0192e2a5-0000-7000-8000-000000000210";
    let mut both = bodies("START", started, &[runs[0]]);
    both.extend(bodies("START", started, &[BOTH]));
    both.extend(bodies("COMPLETE", finished, &[BOTH]));
    for (status, text) in post_while_a_batch_waits(&app, &both).await {
        assert_eq!(status, 201, "{text}");
    }
    // a later event updates it from the revision the round wrote
    let facet = json!({"_producer": "p", "_schemaURL": "s", "note": "late"});
    let mut late = bodies("OTHER", finished, &[BOTH]).remove(0);
    late["run"]["facets"]["note"] = facet;
    let (status, text) = post(&app, &late).await;
    assert_eq!(status, 201, "{text}");

    let data = app
        .ok(
            r#"{ experimentRuns(first: 20) { nodes { externalId status startTime endTime revision
                 history { nodes { operation } } } } }"#,
            json!({}),
        )
        .await;
    let nodes = data["experimentRuns"]["nodes"].as_array().unwrap();
    let run = |id: &str| {
        nodes
            .iter()
            .find(|n| n["externalId"] == id)
            .unwrap()
            .clone()
    };
    for id in runs.iter().chain(&[BOTH]) {
        let n = run(id);
        assert_eq!(n["status"], "FINISHED", "{n}");
        assert_eq!(n["startTime"], "2026-01-01T10:00:00+00:00", "{n}");
        assert_eq!(n["endTime"], "2026-01-01T10:05:00+00:00", "{n}");
    }
    let n = run(runs[0]);
    assert_eq!(n["revision"], 2, "{n}");
    let n = run(BOTH);
    assert_eq!(n["revision"], 3, "{n}");
    assert_eq!(
        n["history"]["nodes"],
        json!([{"operation": "UPDATE"}, {"operation": "UPDATE"}, {"operation": "CREATE"}]),
        "{n}"
    );
    app.finish().await;
}

/// A run another transaction is creating at the same moment (as another server would,
/// given the START and the COMPLETE of one run) is waited for and updated, not a reason
/// to write the whole batch again (PostgreSQL). The other transaction's row is held
/// uncommitted until the writer waits on it. A batch written again starts from an empty
/// cache and reads its job again (before: one read by name); now the job stays cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_created_meanwhile_elsewhere_is_updated_not_written_again_on_postgres() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    const ELSEWHERE: &str = "0192e2a5-0000-7000-8000-000000000300";
    let started = "2026-01-01T10:00:00Z";
    let (status, text) = post(
        &app,
        &event("START", started, WARM_UP, json!([]), json!([])),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let sql = |s: String| sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, s);
    let other = app.db.begin().await.unwrap();
    let job = other
        .query_one_raw(sql(
            r#"SELECT "id" FROM "node" WHERE "kind" = 'EXPERIMENT' AND "name" = 'train'"#.into(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "id")
        .unwrap();
    other
        .execute_unprepared(&format!(
            r#"INSERT INTO "node" ("kind", "name", "namespace", "parent_id", "parent_kind",
                 "scope_id", "external_id", "state", "custom_properties", "create_time",
                 "last_update_time", "revision", "status")
               VALUES ('EXPERIMENT_RUN', '{ELSEWHERE}', '', {job}, 'EXPERIMENT', {job},
                 '{ELSEWHERE}', 'LIVE', '{{}}', 0, 0, 1, 'RUNNING')"#
        ))
        .await
        .unwrap();
    app.reset_statements();
    let body = event("START", started, ELSEWHERE, json!([]), json!([]));
    let (client, url) = (app.client.clone(), format!("{}/api/v1/lineage", app.base));
    let task = tokio::spawn(async move {
        let res = client.post(url).json(&body).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    });
    let waiting = r#"SELECT COUNT(*) AS n FROM pg_stat_activity
        WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO "node"%'
          AND pid <> pg_backend_pid()"#;
    let mut held = false;
    for _ in 0..200 {
        let row = app
            .db
            .query_one_raw(sql(waiting.into()))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            held = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        held,
        "the writer never waited on the other transaction's run"
    );
    other.commit().await.unwrap();
    let (status, text) = task.await.unwrap();
    assert_eq!(status, 201, "{text}");
    let log = app.statement_log();
    assert_eq!(node_reads(&log, r#""name""#), 0, "{log:#?}");
    assert_eq!(
        run_by_external_id(&app, ELSEWHERE, "status startTime revision").await,
        json!({"status": "RUNNING", "startTime": "2026-01-01T10:00:00+00:00", "revision": 2})
    );
    app.finish().await;
}

/// When another server writes, a writer forgets only the nodes the change log shows it
/// changed (PostgreSQL): here the run the other server finished, read again by its
/// runId, while the job and the dataset it only read stay cached (before, the cache
/// started over and both were read again by name). The event then applies to the run
/// as the other server left it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_servers_writes_evict_only_the_nodes_they_changed_on_postgres() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let other = app.server_via_sqlx().await;
    const RUN: &str = "0192e2a5-0000-7000-8000-000000000400";
    let input = json!([{"namespace": "ns", "name": "kept"}]);
    let start = event(
        "START",
        "2026-01-01T10:00:00Z",
        RUN,
        input.clone(),
        json!([]),
    );
    let (status, text) = post(&app, &start).await;
    assert_eq!(status, 201, "{text}");
    let complete = event(
        "COMPLETE",
        "2026-01-01T10:05:00Z",
        RUN,
        input.clone(),
        json!([]),
    );
    let res = app
        .client
        .post(format!("{other}/api/v1/lineage"))
        .json(&complete)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());

    app.reset_statements();
    let mut note = event("OTHER", "2026-01-01T10:06:00Z", RUN, input, json!([]));
    note["run"]["facets"]["note"] = json!({"_producer": "p", "_schemaURL": "s", "n": 1});
    let (status, text) = post(&app, &note).await;
    assert_eq!(status, 201, "{text}");
    let log = app.statement_log();
    let again = node_reads(&log, r#""name""#);
    assert_eq!(again, 0, "jobs and datasets read again: {log:#?}");
    assert_eq!(
        node_reads(&log, "external_id"),
        1,
        "the run read again: {log:#?}"
    );
    assert_eq!(
        run_by_external_id(&app, RUN, "status revision").await,
        json!({"status": "FINISHED", "revision": 3})
    );
    app.finish().await;
}

/// The writer's statements keep probing indexes as a new store grows (PostgreSQL). After
/// five runs of a statement PostgreSQL caches a generic plan, planned for the table as
/// it was then; on a new store that is an almost empty `node`, and the run update's
/// generic plan (a hash join over a sequential scan) read every node for each batch until
/// autovacuum's first `ANALYZE`. And a lookup of datasets by a list of names read every
/// dataset of their namespace through the name index, keeping those named (a filter, not
/// a condition of the index). Here 40 runs start and finish on a new store, the
/// namespace then gains 20,000 datasets, and 30 more runs, each writing two new datasets
/// there, finish without a sequential scan of `node` (one per run before: 30) and
/// fetching a few rows each through its indexes (each lookup fetched 20,000 before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_plans_for_the_store_as_it_grows_on_postgres() {
    use sea_orm::ConnectionTrait;
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    async fn start_and_finish(app: &TestApp, runs: std::ops::Range<usize>) {
        for i in runs {
            let run = format!("0192e2a5-0000-7000-8000-{i:012x}");
            let inputs = json!([{"namespace": "ns", "name": "in"}]);
            let outputs = json!([
                {"namespace": "ns", "name": format!("out-{i}-a")},
                {"namespace": "ns", "name": format!("out-{i}-b")},
            ]);
            for (kind, time) in [("START", "10:00"), ("COMPLETE", "10:05")] {
                let at = format!("2026-01-01T{time}:00Z");
                let (status, text) = post(
                    app,
                    &event(kind, &at, &run, inputs.clone(), outputs.clone()),
                )
                .await;
                assert_eq!(status, 201, "{text}");
            }
        }
    }
    /// `node`'s sequential scans, rows fetched through indexes and rows updated as the
    /// statistics show them once they count at least `updated` rows updated (each
    /// backend reports its counts within about a second of its last transaction).
    async fn node_stats(app: &TestApp, updated: i64) -> (i64, i64, i64) {
        let stat = |column: &str| {
            format!(
                r#"SELECT COALESCE({column}, 0) AS n FROM pg_stat_user_tables WHERE relid = '"node"'::regclass"#
            )
        };
        for _ in 0..100 {
            let rows = app.count(&stat("n_tup_upd")).await;
            if rows >= updated {
                // the other backends' counts, reported on the same clock
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                return (
                    app.count(&stat("seq_scan")).await,
                    app.count(&stat("idx_tup_fetch")).await,
                    app.count(&stat("n_tup_upd")).await,
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("the statistics never counted {updated} updated rows of node");
    }
    start_and_finish(&app, 0..40).await;
    app.db
        .execute_unprepared(
            r#"INSERT INTO "node" ("kind", "name", "namespace", "scope_id", "state", "custom_properties", "create_time", "last_update_time", "revision")
               SELECT 'DATASET', 'grown-' || i, 'ns', 0, 'UNKNOWN', '{}', 0, 0, 1 FROM generate_series(1, 20000) AS i"#,
        )
        .await
        .unwrap();
    let (scans, fetched, updated) = node_stats(&app, 40).await;
    start_and_finish(&app, 40..70).await;
    let (scans_after, fetched_after, _) = node_stats(&app, updated + 30).await;
    assert!(
        scans_after - scans < 5,
        "30 runs scanned node {} times once it had grown",
        scans_after - scans
    );
    assert!(
        fetched_after - fetched < 3_000,
        "30 runs fetched {} rows of node through its indexes",
        fetched_after - fetched
    );
    app.finish().await;
}

/// Events that arrive while a batch is written join it before it commits (PostgreSQL's
/// writer): a batch held at its first statement takes in the three events that queue up
/// meanwhile, so all four runs share one transaction (one `xmin`; two before: the first
/// alone, then the rest). An event that fails among those taken in fails alone, and the
/// others are written and answered. (A batch grows only when no one else has written
/// since the writer's last: the model created between the two rounds would stop it, so
/// each round posts a warm-up event first.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arriving_during_a_batch_join_it_on_postgres() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await;
    let runs = [
        "0192e2a5-0000-7000-8000-000000000100",
        "0192e2a5-0000-7000-8000-000000000101",
        "0192e2a5-0000-7000-8000-000000000102",
        "0192e2a5-0000-7000-8000-000000000103",
    ];
    let answers = post_while_a_batch_waits(&app, &starts_reading_own_input(&runs)).await;
    assert_created(&runs, &answers);
    assert_eq!(transactions_of(&app, &runs).await, 1);

    const TAKEN: &str = "0192e2a5-0000-7000-8000-0000000001ff";
    app.ok(
        r#"mutation($x: String) { createRegisteredModel(input: {name: "m", externalId: $x}) { id } }"#,
        json!({"x": TAKEN}),
    )
    .await;
    let more = [
        "0192e2a5-0000-7000-8000-000000000110",
        "0192e2a5-0000-7000-8000-000000000111",
        TAKEN,
        "0192e2a5-0000-7000-8000-000000000112",
    ];
    let answers = post_while_a_batch_waits(&app, &starts_reading_own_input(&more)).await;
    for (run, (status, text)) in more.iter().zip(&answers) {
        if *run == TAKEN {
            assert_eq!(*status, 400, "{text}");
            assert!(text.contains("run.runId"), "{text}");
        } else {
            assert_eq!(*status, 201, "{run}: {text}");
        }
    }
    // every good run was written, with its input edge
    let data = app
        .ok(
            r#"{ experimentRuns(first: 20) { nodes { externalId inputs { name } } } }"#,
            json!({}),
        )
        .await;
    let mut written: Vec<(String, String)> = data["experimentRuns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["externalId"].as_str().unwrap().to_owned(),
                n["inputs"][0]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    written.sort();
    let mut expected: Vec<(String, String)> = runs
        .iter()
        .chain(&more)
        .chain(&[WARM_UP])
        .filter(|r| **r != TAKEN)
        .map(|r| (r.to_string(), format!("in-{r}")))
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    app.finish().await;
}
