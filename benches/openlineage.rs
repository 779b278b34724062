//! OpenLineage ingestion throughput: POSTs run events (START and COMPLETE of jobs that
//! read two datasets and write one, with a schema facet) over HTTP to a server on a fresh
//! database, from several concurrent clients, and prints events per second.
//!
//! cargo bench --bench openlineage -- [--events 20000] [--clients 8] [--servers 1] [--postgres URL] [--mysql URL]
//!
//! With `--servers N` (PostgreSQL and MariaDB) N servers share the database, each with its
//! own writer, and client k posts to server k mod N: each writer sees the others' commits
//! and starts its cache over.
// the server's allocator (src/main.rs), so the numbers are the server's
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::{AppState, db};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

fn event(i: usize, complete: bool) -> Value {
    let job = i % 200;
    let run = format!("01930000-0000-7000-8000-{:012x}", i / 2);
    json!({
        "eventType": if complete { "COMPLETE" } else { "START" },
        "eventTime": "2026-11-26T10:00:00Z",
        "producer": "https://example.com/bench",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run, "facets": {}},
        "job": {"namespace": "bench", "name": format!("job-{job}")},
        "inputs": [
            {"namespace": "s3://lake", "name": format!("raw/{}.parquet", job), "facets": {"schema": {
                "_producer": "p", "_schemaURL": "s", "fields": [{"name": "id", "type": "int"}, {"name": "v", "type": "double"}]}}},
            {"namespace": "s3://lake", "name": "shared/dim.parquet"},
        ],
        "outputs": if complete {
            json!([{"namespace": "s3://lake", "name": format!("out/{}-{}.parquet", job, i / 400)}])
        } else {
            json!([])
        },
    })
}

async fn run(label: &str, url: &str, events: usize, clients: usize, servers: usize) {
    let mut endpoints = Vec::new();
    for _ in 0..servers {
        let conn = db::connect(&DatabaseArgs {
            database_url: url.to_owned(),
            log_sql: false,
            max_connections: 8,
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .await
        .expect("connect");
        db::migrate(&conn).await.expect("migrate");
        let state = AppState::new(conn, Limits::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        endpoints.push(format!(
            "http://{}/api/v1/lineage",
            listener.local_addr().expect("addr")
        ));
        tokio::spawn(modelgraph::serve(listener, state, std::future::pending()));
    }
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..events)
            .map(|i| serde_json::to_vec(&event(i, i % 2 == 1)).expect("json"))
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let endpoint = endpoints[k % endpoints.len()].clone();
        let (bodies, next) = (bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= bodies.len() {
                    break;
                }
                let res = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .body(bodies[i].clone())
                    .send()
                    .await
                    .expect("post");
                assert_eq!(
                    res.status(),
                    201,
                    "{}",
                    res.text().await.unwrap_or_default()
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {label} | {servers} | {events} | {clients} | {secs:.1} | {:.0} |",
        events as f64 / secs
    );
}

/// A connection to the server at `url` that makes and drops the run's schema or database.
async fn admin(url: &str) -> sea_orm::DatabaseConnection {
    db::connect(&DatabaseArgs {
        database_url: url.to_owned(),
        log_sql: false,
        max_connections: 2,
        connect_timeout: std::time::Duration::from_secs(5),
    })
    .await
    .expect("connect")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut events, mut clients, mut servers, mut postgres, mut mysql) =
        (20_000usize, 8usize, 1usize, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => {
                events = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--events N")
            }
            "--clients" => {
                clients = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--clients N")
            }
            "--servers" => {
                servers = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--servers N (at least 1)")
            }
            "--postgres" => postgres = args.next(),
            "--mysql" => mysql = args.next(),
            _ => {}
        }
    }
    println!(
        "| database | servers | events | clients | seconds | events/s |\n|---|---|---|---|---|---|"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    run(
        "SQLite",
        &format!("sqlite://{}?mode=rwc", dir.path().join("ol.db").display()),
        events,
        clients,
        1,
    )
    .await;
    if let Some(url) = postgres {
        let conn = admin(&url).await;
        let schema = format!("olbench_{}", std::process::id());
        conn.execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        run(
            "PostgreSQL",
            &format!("{url}{sep}options=-c%20search_path%3D{schema}"),
            events,
            clients,
            servers,
        )
        .await;
        conn.execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop");
    }
    if let Some(url) = mysql {
        let conn = admin(&url).await;
        let name = format!("olbench_{}", std::process::id());
        conn.execute_unprepared(&format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .expect("database");
        let mut scoped = url::Url::parse(&url).expect("a MySQL URL");
        scoped.set_path(&format!("/{name}"));
        run("MariaDB", scoped.as_str(), events, clients, servers).await;
        conn.execute_unprepared(&format!("DROP DATABASE {name}"))
            .await
            .expect("drop");
    }
}
