//! The `modelgraph` binary's own doors: `token create/list/revoke`, and `serve` refusing
//! to open an unauthenticated server to the network.
use std::process::{Command, Output};

use crate::helpers::{
    Backend, STORES, mysql_database, mysql_database_url, mysql_url, postgres_url,
};

pub(crate) fn modelgraph(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgraph"))
        .args(args)
        .env("MODELGRAPH_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh database for the binary: a SQLite file, a PostgreSQL schema of its own, or a
/// MySQL/MariaDB database of its own. Made and dropped outside any async runtime.
pub(crate) struct Store {
    pub(crate) url: String,
    _dir: Option<tempfile::TempDir>,
    pub(crate) schema: Option<String>,
    /// The admin URL and statement that drop the schema or database.
    drop: Option<(String, String)>,
}

impl Store {
    pub(crate) fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    schema: None,
                    drop: None,
                }
            }
            Backend::Postgres => {
                let base = postgres_url();
                let schema = format!("mg_{}", uuid::Uuid::new_v4().simple());
                admin_sql(&base, &format!("CREATE SCHEMA {schema}"));
                let sep = if base.contains('?') { '&' } else { '?' };
                Self {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    _dir: None,
                    drop: Some((base, format!("DROP SCHEMA {schema} CASCADE"))),
                    schema: Some(schema),
                }
            }
            Backend::Mysql => {
                let (name, create, drop) = mysql_database();
                admin_sql(&mysql_url(), &create);
                Self {
                    url: mysql_database_url(&name),
                    _dir: None,
                    schema: None,
                    drop: Some((mysql_url(), drop)),
                }
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((url, sql)) = &self.drop {
            admin_sql(url, sql);
        }
    }
}

/// Runs one statement on the database at `url` (any store sea-orm reaches).
fn admin_sql(url: &str, sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(url).await.expect("connect");
        conn.execute_unprepared(sql).await.expect(sql);
    });
}

#[test]
fn tokens_are_made_listed_and_revoked_from_the_cli() {
    for backend in STORES {
        let store = Store::new(backend);
        // the first token must be an ADMIN's
        let refused = modelgraph(
            &["token", "create", "--subject", "ci", "--role", "READER"],
            &store.url,
        );
        assert!(!refused.status.success());
        assert!(
            text(&refused.stderr).contains("first token must be an ADMIN"),
            "{}",
            text(&refused.stderr)
        );
        let made = modelgraph(
            &[
                "token",
                "create",
                "--subject",
                "alice",
                "--role",
                "ADMIN",
                "--expires-in",
                "30d",
            ],
            &store.url,
        );
        assert!(made.status.success(), "{}", text(&made.stderr));
        let out = text(&made.stdout);
        let token = out.lines().last().unwrap().trim();
        assert!(token.starts_with("mg_"), "{out}");
        assert!(out.contains("authentication is now on"), "{out}");
        let second = modelgraph(
            &["token", "create", "--subject", "ci", "--role", "EDITOR"],
            &store.url,
        );
        assert!(second.status.success(), "{}", text(&second.stderr));
        assert!(!text(&second.stdout).contains("authentication is now on"));
        let listed = text(&modelgraph(&["token", "list"], &store.url).stdout);
        assert!(
            listed.contains("alice\tADMIN") && listed.contains("ci\tEDITOR"),
            "{listed}"
        );
        assert!(!listed.contains(&token[20..]), "a secret was listed");
        let id = listed
            .lines()
            .find(|l| l.contains("\tci\t"))
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_owned();
        let revoked = modelgraph(&["token", "revoke", &id], &store.url);
        assert!(revoked.status.success(), "{}", text(&revoked.stderr));
        let listed = text(&modelgraph(&["token", "list"], &store.url).stdout);
        let line = listed.lines().find(|l| l.contains("\tci\t")).unwrap();
        assert!(!line.ends_with("\tno"), "{line}");
    }
}

#[test]
fn an_open_server_will_not_listen_beyond_loopback() {
    let store = Store::new(Backend::Sqlite);
    let refused = modelgraph(&["serve", "--bind", "0.0.0.0:0"], &store.url);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("no authentication") && err.contains("--allow-anonymous"),
        "{err}"
    );
}

/// CLI commands that write leave changes too, by the CLI's user, via CLI.
#[test]
fn cli_writes_are_in_the_change_log() {
    let store = Store::new(Backend::Sqlite);
    let seeded = modelgraph(&["seed-demo"], &store.url);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (total, by_cli) = rt.block_on(async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let conn = sea_orm::Database::connect(&store.url).await.unwrap();
        let total = entity::change::Entity::find().count(&conn).await.unwrap();
        let by_cli = entity::change::Entity::find()
            .filter(entity::change::Column::Via.eq("CLI"))
            .count(&conn)
            .await
            .unwrap();
        (total, by_cli)
    });
    assert!(total > 10, "{total} changes");
    assert_eq!(total, by_cli);
}

/// Start-up failures: quick, once, naming what failed, exit non-zero.
#[test]
fn start_up_failures_name_what_failed_once_and_quickly() {
    let run = |args: &[&str], url: &str| {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_modelgraph"))
            .args(args)
            .env("MODELGRAPH_DATABASE_URL", url)
            .env("RUST_LOG", "error")
            .output()
            .expect("the binary runs");
        (out, started.elapsed())
    };
    // a PostgreSQL nobody answers at (a non-routable address): a few seconds, the host named
    let (out, took) = run(
        &["migrate", "--connect-timeout", "2s"],
        "postgres://someone:hunter2@10.255.255.1:5432/registry",
    );
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    assert!(err.contains("10.255.255.1:5432"), "{err}");
    assert!(!err.contains("hunter2"), "the password is shown: {err}");
    assert_eq!(err.matches("cannot connect").count(), 1, "{err}");
    // a SQLite file in a directory that is not there: the path named
    let (out, _) = run(&["migrate"], "sqlite:///no/such/dir/registry.db?mode=rwc");
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("/no/such/dir"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("/no/such/dir")).count(),
        1,
        "{err}"
    );
    // a port in use: the address named
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let (out, _) = run(&["serve", "--bind", &addr], &url);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.matches(&addr).count(), 1, "{err}");
}
