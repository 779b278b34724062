//! `GET /metrics`: Prometheus text format, scraped after a mixed workload; every family
//! is there with counts above zero.
use std::collections::HashMap;

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

/// Samples by metric name (labels kept in the key), after checking every line is
/// exposition format: `# HELP`/`# TYPE` comments or `name{labels} value`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn sum(samples: &HashMap<String, f64>, name: &str, having: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name) && having.iter().all(|h| series.contains(h))
        })
        .map(|(_, v)| *v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_cover_every_door_after_a_mixed_workload() {
    let app = spawn_app(Backend::Sqlite).await;
    let model = app
        .ok(
            r#"mutation Register { createRegisteredModel(input: {name: "scraped"}) { id } }"#,
            json!({}),
        )
        .await;
    let id = model["createRegisteredModel"]["id"].clone();
    // a webhook that has delivered nothing yet (this test server runs no delivery worker)
    let hook = app
        .ok(
            r#"mutation { createWebhook(url: "https://hooks.example.com/in", secret: "s3cret-s3cret") { id } }"#,
            json!({}),
        )
        .await;
    let hook = hook["createWebhook"]["id"].as_str().unwrap().to_owned();
    app.ok(
        "query Walk($id: ID!) { lineage(start: [$id]) { nodes { node { id } } } }",
        json!({"id": id}),
    )
    .await;
    // a GraphQL error
    app.gql(
        r#"query Broken { registeredModels(filterQuery: "name = ") { totalCount } }"#,
        json!({}),
    )
    .await;
    // REST
    let (status, _) = app
        .call(
            "GET",
            "/api/model_registry/v1alpha3/registered_models",
            None,
        )
        .await;
    assert_eq!(status, 200);
    // OpenLineage: one ingested, one refused
    let event = json!({
        "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z",
        "producer": "https://example.com/p", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0190a8d0-0000-7000-8000-000000000001"},
        "job": {"namespace": "ns", "name": "job"},
        "inputs": [{"namespace": "ns", "name": "in"}], "outputs": []
    });
    assert_eq!(
        app.call("POST", "/api/v1/lineage", Some(&event)).await.0,
        201
    );
    assert_eq!(
        app.call("POST", "/api/v1/lineage", Some(&json!([])))
            .await
            .0,
        400
    );

    let res = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let samples = parse(&res.text().await.unwrap());

    for (door, operation) in [
        ("graphql", "Register"),
        ("graphql", "Walk"),
        ("rest", "-"),
        ("openlineage", "-"),
    ] {
        let labels = [
            &format!("door=\"{door}\"") as &str,
            &format!("operation=\"{operation}\""),
        ];
        assert!(
            sum(&samples, "modelgraph_requests_total", &labels) >= 1.0,
            "{door} {operation}"
        );
        assert!(
            sum(
                &samples,
                "modelgraph_request_duration_seconds_count",
                &labels
            ) >= 1.0,
            "{door} {operation}"
        );
    }
    assert!(sum(&samples, "modelgraph_requests_total", &["status=\"400\""]) >= 1.0);
    assert!(
        sum(
            &samples,
            "modelgraph_graphql_errors_total",
            &["code=\"INVALID_INPUT\""]
        ) >= 1.0
    );
    assert!(sum(&samples, "modelgraph_lineage_walk_nodes_count", &[]) >= 1.0);
    assert!(
        sum(
            &samples,
            "modelgraph_openlineage_events_total",
            &["outcome=\"ingested\""]
        ) >= 1.0
    );
    assert!(
        sum(
            &samples,
            "modelgraph_openlineage_events_total",
            &["outcome=\"refused\""]
        ) >= 1.0
    );
    assert!(sum(&samples, "modelgraph_db_pool_max_connections", &[]) >= 1.0);
    // the pool's gauges are there (their values move with the pool)
    for state in ["in_use", "idle"] {
        let series = format!("modelgraph_db_pool_connections{{state=\"{state}\"}}");
        assert!(samples.contains_key(&series), "no {state} gauge");
    }
    // GraphQL operations on their threads: this scrape is no operation, so none runs
    for state in ["running", "waiting"] {
        let series = format!("modelgraph_graphql_operations{{state=\"{state}\"}}");
        assert_eq!(samples.get(&series), Some(&0.0), "{series}");
    }
    // the change log's end, and the webhook behind it by every change since it was made
    // (after the model's, the first change)
    let end = sum(&samples, "modelgraph_change_log_sequence", &[]);
    assert!(end >= 2.0, "{end}");
    let lag = format!("modelgraph_webhook_lag_changes{{webhook=\"{hook}\"}}");
    assert_eq!(samples.get(&lag), Some(&(end - 1.0)), "{lag}");
    app.finish().await;
}

/// Client-chosen operation names become labels only up to a cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_names_cannot_grow_the_metrics_without_bound() {
    let app = spawn_app(Backend::Sqlite).await;
    for i in 0..(modelgraph::metrics::MAX_OPERATIONS + 20) {
        app.gql(
            &format!("query Flood{i} {{ viewer {{ subject }} }}"),
            json!({}),
        )
        .await;
    }
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = parse(&text);
    let distinct: std::collections::HashSet<&str> = samples
        .keys()
        .filter(|k| k.starts_with("modelgraph_requests_total{"))
        .filter_map(|k| k.split("operation=\"").nth(1)?.split('"').next())
        .collect();
    assert!(
        distinct.len() <= modelgraph::metrics::MAX_OPERATIONS + 2,
        "{}",
        distinct.len()
    );
    assert!(distinct.contains("other"));
    app.finish().await;
}
