//! Lineage walk benchmark: loads a graph written by `bench/gen_graph.py` through the
//! registry's bulk path, then times upstream and downstream walks from 50 late start
//! nodes at several depths, through the GraphQL schema in-process and over HTTP.
//!
//! cargo bench --bench lineage -- --nodes DIR/nodes.csv --edges DIR/edges.csv \
//!     [--postgres postgres://postgres@127.0.0.1:5432/test] [--mysql mysql://root@127.0.0.1:3306/test] \
//!     [--reps 3] [--sqlite FILE] [--depths 1,5,10,20,50] [--directions UPSTREAM,DOWNSTREAM]
//!
//! `--sqlite FILE` keeps the SQLite database in FILE, and a later run with the same FILE
//! walks it without loading the graph again; `--pg-schema NAME` does the same for
//! PostgreSQL (the graph stays in schema NAME), `--my-database NAME` for MySQL/MariaDB
//! (the graph stays in database NAME). `--via-sqlx` walks SQLite through the sqlx
//! driver instead of a direct session, to compare the two.
// the server's allocator (src/main.rs), so the numbers are the server's
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::db::direct::DirectOptions;
use modelgraph::{AppState, db, graphql};
use sea_orm::{ConnectionTrait, DatabaseConnection, FromQueryResult, Statement};
use serde_json::json;

const DEPTHS: &str = "1,5,10,20,50";
const QUERY: &str = "query($s: [ID!]!, $d: LineageDirection!, $m: Int!) { lineage(start: $s, direction: $d, maxDepth: $m, first: 10000) { truncated nodes { depth node { id kind name } } } }";

struct Args {
    nodes: String,
    edges: String,
    postgres: Option<String>,
    sqlite: Option<String>,
    pg_schema: Option<String>,
    mysql: Option<String>,
    my_database: Option<String>,
    reps: usize,
    depths: Vec<u32>,
    directions: Vec<String>,
    direct: DirectOptions,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        nodes: String::new(),
        edges: String::new(),
        postgres: None,
        sqlite: None,
        pg_schema: None,
        mysql: None,
        my_database: None,
        reps: 3,
        depths: list(DEPTHS),
        directions: list("UPSTREAM,DOWNSTREAM"),
        direct: DirectOptions::default(),
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--nodes" => a.nodes = it.next().expect("--nodes PATH"),
            "--edges" => a.edges = it.next().expect("--edges PATH"),
            "--postgres" => a.postgres = it.next(),
            "--sqlite" => a.sqlite = it.next(),
            "--pg-schema" => a.pg_schema = it.next(),
            "--mysql" => a.mysql = it.next(),
            "--my-database" => a.my_database = it.next(),
            "--via-sqlx" => a.direct.via_sqlx = true,
            "--reps" => a.reps = it.next().and_then(|r| r.parse().ok()).expect("--reps N"),
            "--depths" => a.depths = list(&it.next().expect("--depths 1,5,...")),
            "--directions" => a.directions = list(&it.next().expect("--directions UPSTREAM,...")),
            _ => {} // cargo bench passes --bench
        }
    }
    if a.nodes.is_empty() || a.edges.is_empty() {
        eprintln!(
            "usage: cargo bench --bench lineage -- --nodes nodes.csv --edges edges.csv [--postgres URL] [--mysql URL] [--reps N]"
        );
        std::process::exit(2);
    }
    a
}

/// A comma-separated list.
fn list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',')
        .map(|item| item.trim().parse().ok().expect("a comma-separated list"))
        .collect()
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

#[derive(FromQueryResult)]
struct Id {
    id: i64,
}

async fn connect(url: &str) -> DatabaseConnection {
    db::connect(&DatabaseArgs {
        database_url: url.to_owned(),
        log_sql: false,
        max_connections: 4,
        connect_timeout: std::time::Duration::from_secs(5),
    })
    .await
    .expect("connect")
}

async fn run(label: &str, conn: DatabaseConnection, a: &Args) {
    db::migrate(&conn).await.expect("migrate");
    let loaded = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM node",
        ))
        .await
        .expect("count")
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or(0);
    if loaded > 0 {
        println!("\n### {label}: walking the {loaded} nodes already loaded\n");
    } else {
        let stats = modelgraph::registry::bulk::import_graph(
            &conn,
            a.nodes.as_ref(),
            a.edges.as_ref(),
            |_, _, _| {},
        )
        .await
        .expect("import");
        println!(
            "\n### {label}: {} nodes, {} edges loaded in {:.1} s ({:.0} rows/s)\n",
            stats.nodes,
            stats.edges,
            stats.seconds,
            (stats.nodes + stats.edges) as f64 / stats.seconds
        );
    }
    let starts: Vec<i64> = Id::find_by_statement(Statement::from_string(
        conn.get_database_backend(),
        "SELECT id FROM node WHERE kind IN ('MODEL_VERSION', 'INFERENCE_SERVICE') ORDER BY create_time DESC, id DESC LIMIT 50".to_owned(),
    ))
    .all(&conn)
    .await
    .expect("starts")
    .into_iter()
    .map(|r| r.id)
    .collect();
    let state = AppState::with_direct(conn.clone(), Limits::default(), a.direct.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(modelgraph::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    let client = reqwest::Client::new();
    println!(
        "| direction | depth | nodes (mean) | in-process p50 ms | p95 ms | HTTP p50 ms | p95 ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for direction in &a.directions {
        for &depth in &a.depths {
            let mut local = Vec::new();
            let mut http = Vec::new();
            let mut reached = 0usize;
            for rep in 0..=a.reps {
                for id in &starts {
                    let vars = json!({"s": [id.to_string()], "d": direction, "m": depth});
                    let request = async_graphql::Request::new(QUERY)
                        .variables(async_graphql::Variables::from_json(vars.clone()));
                    let t = Instant::now();
                    let response =
                        graphql::execute(&state, &modelgraph::auth::Principal::open(), request)
                            .await;
                    let took = t.elapsed();
                    assert!(response.errors.is_empty(), "{:?}", response.errors);
                    let t = Instant::now();
                    let body: serde_json::Value = client
                        .post(&url)
                        .json(&json!({"query": QUERY, "variables": vars}))
                        .send()
                        .await
                        .expect("http")
                        .json()
                        .await
                        .expect("json");
                    let took_http = t.elapsed();
                    // the first round warms caches and is not counted
                    if rep > 0 {
                        local.push(took);
                        http.push(took_http);
                        reached += body["data"]["lineage"]["nodes"]
                            .as_array()
                            .map_or(0, Vec::len);
                    }
                }
            }
            println!(
                "| {direction} | {depth} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
                reached as f64 / local.len() as f64,
                percentile(&mut local, 0.5),
                percentile(&mut local, 0.95),
                percentile(&mut http, 0.5),
                percentile(&mut http, 0.95),
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = match &a.sqlite {
        Some(file) => std::path::PathBuf::from(file),
        None => dir.path().join("bench.db"),
    };
    let sqlite = format!("sqlite://{}?mode=rwc", file.display());
    run("SQLite", connect(&sqlite).await, &a).await;
    if let Some(url) = &a.postgres {
        let admin = connect(url).await;
        let schema = match &a.pg_schema {
            Some(kept) => {
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {kept}"))
                    .await
                    .expect("schema");
                kept.clone()
            }
            None => {
                let schema = format!("bench_{}", std::process::id());
                admin
                    .execute_unprepared(&format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                    ))
                    .await
                    .expect("schema");
                schema
            }
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        run(
            "PostgreSQL",
            connect(&format!("{url}{sep}options=-c%20search_path%3D{schema}")).await,
            &a,
        )
        .await;
        if a.pg_schema.is_none() {
            admin
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await
                .expect("drop");
        }
    }
    if let Some(url) = &a.mysql {
        let admin = connect(url).await;
        let name = a
            .my_database
            .clone()
            .unwrap_or_else(|| format!("bench_{}", std::process::id()));
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
            .await
            .expect("database");
        let mut scoped = url::Url::parse(url).expect("a MySQL URL");
        scoped.set_path(&format!("/{name}"));
        run("MariaDB", connect(scoped.as_str()).await, &a).await;
        if a.my_database.is_none() {
            admin
                .execute_unprepared(&format!("DROP DATABASE {name}"))
                .await
                .expect("drop");
        }
    }
}
