//! Registry list reads, the requests dashboards send most: models with and without their
//! latest version and properties, with a page of their versions, with the fields a
//! Kubeflow REST body holds, versions, and the same through Kubeflow REST, at page
//! sizes 10, 100 and 1000, over HTTP to a server on a fresh database. One connection:
//! p50 and p95 latency; eight: requests per second. SQLite, PostgreSQL with
//! `--postgres` and MySQL/MariaDB with `--mysql`, printed side by side.
//!
//! cargo bench --bench registry -- [--models 200] [--versions 5] [--requests 200]
//!     [--seconds 3] [--postgres URL] [--mysql URL] [--via-sqlx] [--only TEXT]
//!     [--no-sqlite]
//!
//! `--no-sqlite` measures only the stores named (for a profile of one store's reads,
//! e.g. under `valgrind --tool=callgrind`).
//!
//! `--via-sqlx` reads SQLite through sqlx's pool only, as every list did before lists
//! read through the server's own connections (`db::direct::read_on`).
// the server's allocator (src/main.rs), so the numbers are the server's
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::db::direct::DirectOptions;
use modelgraph::{AppState, db};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

struct Options {
    models: usize,
    versions: usize,
    requests: usize,
    seconds: f64,
    via_sqlx: bool,
    /// Only the reads whose label holds this text (for a profile of one read).
    only: Option<String>,
}

/// One read: a label and how to send it.
struct Read {
    label: String,
    method: reqwest::Method,
    path: String,
    body: Option<Value>,
}

fn reads() -> Vec<Read> {
    let gql = |label: String, query: String| Read {
        label,
        method: reqwest::Method::POST,
        path: "/graphql".into(),
        body: Some(json!({ "query": query })),
    };
    let mut reads = Vec::new();
    for size in [10, 100, 1000] {
        reads.push(gql(
            format!("GraphQL models {size}: id name"),
            format!("{{ registeredModels(first: {size}) {{ nodes {{ id name }} }} }}"),
        ));
        reads.push(gql(
            format!("GraphQL models {size}: + latestVersion"),
            format!(
                "{{ registeredModels(first: {size}) {{ nodes {{ id name latestVersion {{ id name }} }} }} }}"
            ),
        ));
        reads.push(gql(
            format!("GraphQL models {size}: + latestVersion + customProperties"),
            format!(
                "{{ registeredModels(first: {size}) {{ nodes {{ id name customProperties latestVersion {{ id name customProperties }} }} }} }}"
            ),
        ));
        reads.push(gql(
            format!("GraphQL models {size}: + versions(first: 3)"),
            format!(
                "{{ registeredModels(first: {size}) {{ nodes {{ id name versions(first: 3) {{ nodes {{ id name }} }} }} }} }}"
            ),
        ));
        reads.push(gql(
            format!("GraphQL versions {size}: id name"),
            format!("{{ modelVersions(first: {size}) {{ nodes {{ id name }} }} }}"),
        ));
        // the fields a Kubeflow REST body of a model holds, for REST against GraphQL
        // with the same fields (1000 of them is over the default complexity bound)
        if size <= 100 {
            reads.push(gql(
            format!("GraphQL models {size}: REST's fields"),
            format!(
                "{{ registeredModels(first: {size}) {{ nodes {{ id name externalId description owner state customProperties createTime lastUpdateTime readme maturity language tasks provider logo license licenseLink libraryName }} }} }}"
            ),
            ));
        }
        reads.push(Read {
            label: format!("REST models {size}"),
            method: reqwest::Method::GET,
            path: format!("/api/model_registry/v1alpha3/registered_models?pageSize={size}"),
            body: None,
        });
    }
    reads
}

async fn send(client: &reqwest::Client, base: &str, read: &Read) {
    let mut request = client.request(read.method.clone(), format!("{base}{}", read.path));
    if let Some(body) = &read.body {
        request = request.json(body);
    }
    let res = request.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.expect("body");
    assert!(
        status.is_success() && !text.contains("\"errors\""),
        "{}: {status} {text}",
        read.label
    );
}

async fn seed(base: &str, options: &Options) {
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        let (client, base, next) = (client.clone(), base.to_owned(), next.clone());
        let versions = options.versions;
        let models = options.models;
        tasks.push(tokio::spawn(async move {
            loop {
                let m = next.fetch_add(1, Ordering::SeqCst);
                if m >= models {
                    break;
                }
                for v in 0..versions {
                    let query = "mutation($n: String!, $v: String!) { registerModel(input: {name: $n, version: $v, uri: \"s3://bench/m\", customProperties: {team: \"ml\", accuracy: 0.9, epochs: 3}}) { id } }";
                    let res: Value = client
                        .post(format!("{base}/graphql"))
                        .json(&json!({"query": query, "variables": {"n": format!("model-{m:04}"), "v": format!("v{v}")}}))
                        .send()
                        .await
                        .expect("seed")
                        .json()
                        .await
                        .expect("seed json");
                    assert!(res["errors"].is_null(), "{res}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("seeder");
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// (p50 ms, p95 ms) on one connection, and requests/s on eight.
async fn measure(base: &str, read: &Read, options: &Options) -> (f64, f64, f64) {
    let client = reqwest::Client::new();
    for _ in 0..10 {
        send(&client, base, read).await;
    }
    let mut times = Vec::with_capacity(options.requests);
    for _ in 0..options.requests {
        let started = Instant::now();
        send(&client, base, read).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let read = Arc::new(Read {
        label: read.label.clone(),
        method: read.method.clone(),
        path: read.path.clone(),
        body: read.body.clone(),
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (stop, done, read, base) = (stop.clone(), done.clone(), read.clone(), base.to_owned());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                send(&client, &base, &read).await;
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("reader");
    }
    let rate = done.load(Ordering::SeqCst) as f64 / started.elapsed().as_secs_f64();
    (percentile(&times, 0.5), percentile(&times, 0.95), rate)
}

/// A connection to the server at `url` that makes and drops the run's schema or database.
async fn admin(url: &str) -> sea_orm::DatabaseConnection {
    db::connect(&DatabaseArgs {
        database_url: url.to_owned(),
        log_sql: false,
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect")
}

/// Serves `url`, seeds it, and measures every read: label -> (p50, p95, req/s).
async fn run(url: &str, options: &Options) -> BTreeMap<usize, (String, (f64, f64, f64))> {
    let conn = db::connect(&DatabaseArgs {
        database_url: url.to_owned(),
        log_sql: false,
        max_connections: 10,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .expect("connect");
    db::migrate(&conn).await.expect("migrate");
    let direct = DirectOptions {
        via_sqlx: options.via_sqlx,
        ..Default::default()
    };
    let state_db = conn.clone();
    let state = AppState::with_direct(conn, Limits::default(), direct);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(modelgraph::serve(listener, state, std::future::pending()));
    seed(&base, options).await;
    // statistics, as autovacuum gathers them within a minute of a load: without them
    // PostgreSQL guesses its plans (latestVersion walks the wrong index, 20x slower)
    if state_db.get_database_backend() == sea_orm::DbBackend::Postgres {
        state_db
            .execute_unprepared("ANALYZE")
            .await
            .expect("analyze");
    }
    let mut results = BTreeMap::new();
    let only = options.only.as_deref().unwrap_or("");
    for (i, read) in reads().iter().enumerate() {
        if !read.label.contains(only) {
            continue;
        }
        results.insert(i, (read.label.clone(), measure(&base, read, options).await));
    }
    results
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        models: 200,
        versions: 5,
        requests: 200,
        seconds: 3.0,
        via_sqlx: false,
        only: None,
    };
    let (mut postgres, mut mysql) = (None, None);
    let mut with_sqlite = true;
    let number = |v: Option<String>, flag: &str| -> f64 {
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} N"))
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "--models" => options.models = number(args.next(), "--models") as usize,
            "--versions" => options.versions = number(args.next(), "--versions") as usize,
            "--requests" => options.requests = number(args.next(), "--requests") as usize,
            "--seconds" => options.seconds = number(args.next(), "--seconds"),
            "--postgres" => postgres = args.next(),
            "--mysql" => mysql = args.next(),
            "--via-sqlx" => options.via_sqlx = true,
            "--only" => options.only = args.next(),
            "--no-sqlite" => with_sqlite = false,
            // `cargo bench` passes `--bench`
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // each store's results, side by side
    let mut stores = Vec::new();
    if with_sqlite {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("registry.db").display()
        );
        stores.push(("SQLite", run(&url, &options).await));
    }
    if let Some(url) = postgres {
        let admin = admin(&url).await;
        let schema = format!("regbench_{}", std::process::id());
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("schema");
        let sep = if url.contains('?') { '&' } else { '?' };
        stores.push((
            "PostgreSQL",
            run(
                &format!("{url}{sep}options=-c%20search_path%3D{schema}"),
                &options,
            )
            .await,
        ));
        admin
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .expect("drop");
    }
    if let Some(url) = mysql {
        let admin = admin(&url).await;
        let name = format!("regbench_{}", std::process::id());
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .expect("database");
        let mut scoped = url::Url::parse(&url).expect("a MySQL URL");
        scoped.set_path(&format!("/{name}"));
        stores.push(("MariaDB", run(scoped.as_str(), &options).await));
        admin
            .execute_unprepared(&format!("DROP DATABASE {name}"))
            .await
            .expect("drop");
    }
    println!(
        "{} models x {} versions; p50/p95 ms on 1 connection, requests/s on 8{}\n",
        options.models,
        options.versions,
        if options.via_sqlx {
            "; SQLite read through sqlx only (--via-sqlx)"
        } else {
            ""
        }
    );
    let mut header = String::from("| read |");
    let mut rule = String::from("|---|");
    for (store, _) in &stores {
        header.push_str(&format!(" {store} p50 | p95 | req/s (8) |"));
        rule.push_str("---|---|---|");
    }
    println!("{header}\n{rule}");
    let Some((_, first)) = stores.first() else {
        panic!("no store to measure: --no-sqlite needs --postgres or --mysql");
    };
    for (i, (label, _)) in first {
        let mut line = format!("| {label} |");
        for (_, results) in &stores {
            let cells = results
                .get(i)
                .map(|(_, (p50, p95, rate))| format!(" {p50:.2} | {p95:.2} | {rate:.0} |"))
                .unwrap_or_else(|| " - | - | - |".into());
            line.push_str(&cells);
        }
        println!("{line}");
    }
}
