//! `modelgraph backup` / `restore` on SQLite, taken while a server keeps writing, and the
//! README's `pg_dump` / `pg_restore` commands on PostgreSQL.
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::cli::{Store, modelgraph};
use crate::helpers::{Backend, postgres_url};
use crate::webhooks::Server;

pub(crate) fn said(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The models in a SQLite store file, and its change log's sequences.
fn read_store(path: &Path) -> (Vec<String>, Vec<i64>) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok", "{}", path.display());
    let mut names = conn
        .prepare("SELECT name FROM node WHERE kind = 'REGISTERED_MODEL'")
        .unwrap();
    let names: Vec<String> = names
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut seqs = conn
        .prepare("SELECT sequence FROM change ORDER BY sequence")
        .unwrap();
    let seqs: Vec<i64> = seqs
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (names, seqs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_writes_holds_every_acknowledged_write_and_restores() {
    let store = Store::new(Backend::Sqlite);
    let server = Arc::new(Server::start(&store.url, &[]).await);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (server, acknowledged, stop) = (server.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("w{w}-{n}");
                server
                    .gql(
                        "mutation($n: String!) { createRegisteredModel(input: {name: $n}) { id } }",
                        json!({"n": name}),
                    )
                    .await;
                acknowledged.lock().unwrap().push(name);
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    // every write acknowledged before the backup begins is in the copy
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(before.len() > 20, "the writers got going: {}", before.len());
    let (url, to) = (store.url.clone(), copy.display().to_string());
    let out = tokio::task::spawn_blocking(move || modelgraph(&["backup", "--to", &to], &url))
        .await
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("backed up "),
        "{}",
        said(&out)
    );
    // the writers went on during the backup
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let after = acknowledged.lock().unwrap().len();
    assert!(after > before.len(), "writes went on");

    let (names, seqs) = read_store(&copy);
    for name in &before {
        assert!(
            names.contains(name),
            "{name} was acknowledged before the backup"
        );
    }
    // a consistent moment: the change log is gap-free, one CREATE per model
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert_eq!(seqs.len(), names.len());
    assert!(names.len() < after, "the copy is a moment, not the end");
    assert!(!dir.path().join("copy.db.partial").exists());

    // restored into a fresh store, a server serves it and writes on after it
    let restored = dir.path().join("restored.db");
    let out = modelgraph(
        &["restore", "--from", &copy.display().to_string()],
        &sqlite_url(&restored),
    );
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(read_store(&restored), (names.clone(), seqs.clone()));
    let again = Server::start(&sqlite_url(&restored), &[]).await;
    let found = again
        .gql(
            "query($n: String!) { registeredModel(name: $n) { name } }",
            json!({"n": before[0]}),
        )
        .await;
    assert_eq!(found["registeredModel"]["name"], before[0].as_str());
    again
        .gql(
            r#"mutation { createRegisteredModel(input: {name: "after-restore"}) { id } }"#,
            json!({}),
        )
        .await;
    let changes = again
        .gql("{ changes(first: 1) { nodes { sequence } } }", json!({}))
        .await;
    assert_eq!(
        changes["changes"]["nodes"][0]["sequence"],
        seqs.len() as i64 + 1
    );
}

#[test]
fn backup_and_restore_refuse_what_they_cannot_do_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL: pointed at pg_dump
    let out = modelgraph(
        &[
            "backup",
            "--to",
            &dir.path().join("x.db").display().to_string(),
        ],
        &postgres_url(),
    );
    assert!(!out.status.success());
    assert!(said(&out).contains("pg_dump"), "{}", said(&out));
    // no store at that path
    let missing = dir.path().join("missing.db");
    let out = modelgraph(
        &[
            "backup",
            "--to",
            &dir.path().join("y.db").display().to_string(),
        ],
        &format!("sqlite://{}", missing.display()),
    );
    assert!(!out.status.success());
    assert!(said(&out).contains("no SQLite store at"), "{}", said(&out));
    // a file that is not a modelgraph store is refused before the store is touched
    let store = Store::new(Backend::Sqlite);
    let made = modelgraph(&["seed-demo"], &store.url);
    assert!(made.status.success(), "{}", said(&made));
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just some bytes").unwrap();
    let out = modelgraph(
        &["restore", "--from", &junk.display().to_string()],
        &store.url,
    );
    assert!(!out.status.success());
    assert!(said(&out).contains("junk.db"), "{}", said(&out));
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let out = modelgraph(
        &["restore", "--from", &other.display().to_string()],
        &store.url,
    );
    assert!(!out.status.success());
    assert!(
        said(&out).contains("not a modelgraph store"),
        "{}",
        said(&out)
    );
    let path = store
        .url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap();
    let (names, _) = read_store(Path::new(path));
    assert!(names.contains(&"churn-classifier".to_owned()), "{names:?}");
}

/// The README's PostgreSQL commands, scoped to this test's schema.
#[test]
fn postgres_backs_up_with_pg_dump_and_restores_with_pg_restore() {
    let store = Store::new(Backend::Postgres);
    let schema = store.schema.clone().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Server::start(&store.url, &[]).await;
        server
            .gql(
                r#"mutation { createRegisteredModel(input: {name: "kept"}) { id } }"#,
                json!({}),
            )
            .await;
    });
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("modelgraph.dump");
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program).args(args).output().unwrap();
        assert!(out.status.success(), "{program}: {}", said(&out));
    };
    let base = postgres_url();
    let dump_s = dump.display().to_string();
    run(
        "pg_dump",
        &[
            "--format=custom",
            "--schema",
            &schema,
            "--file",
            &dump_s,
            &base,
        ],
    );
    run(
        "psql",
        &[&base, "-c", &format!("DROP SCHEMA {schema} CASCADE")],
    );
    run(
        "pg_restore",
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--dbname",
            &base,
            &dump_s,
        ],
    );
    runtime.block_on(async {
        let server = Server::start(&store.url, &[]).await;
        let found = server
            .gql(r#"{ registeredModel(name: "kept") { name } }"#, json!({}))
            .await;
        assert_eq!(found["registeredModel"]["name"], "kept");
        server
            .gql(
                r#"mutation { createRegisteredModel(input: {name: "after"}) { id } }"#,
                json!({}),
            )
            .await;
        let changes = server
            .gql("{ changes(first: 1) { nodes { sequence } } }", json!({}))
            .await;
        assert_eq!(changes["changes"]["nodes"][0]["sequence"], 2);
    });
}
