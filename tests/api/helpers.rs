//! Spawns the real server on port 0 against a fresh database (a SQLite file, a
//! PostgreSQL schema of its own, or a MySQL/MariaDB database of its own) and talks HTTP
//! to it.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use modelgraph::auth::AuthConfig;
use modelgraph::config::{DatabaseArgs, Limits};
use modelgraph::db::direct::DirectOptions;
use modelgraph::{AppState, db};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// Every store a suite runs on.
pub const STORES: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: DatabaseConnection,
    limits: Limits,
    statements: Arc<AtomicU64>,
    statement_log: Arc<std::sync::Mutex<Vec<String>>>,
    /// A PostgreSQL or MySQL test's admin connection and the statement that drops its
    /// schema or database, run when the test ends, passed or not.
    cleanup: Option<(DatabaseConnection, String)>,
    _dir: Option<tempfile::TempDir>,
    /// Each server's stop signal.
    servers: std::sync::Mutex<Vec<tokio::sync::oneshot::Sender<()>>>,
}

pub fn postgres_url() -> String {
    std::env::var("MODELGRAPH_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "MODELGRAPH_TEST_POSTGRES_URL is not set: every suite runs on PostgreSQL too \
             (e.g. postgres://postgres@127.0.0.1:5432/test)"
        )
    })
}

pub fn mysql_url() -> String {
    std::env::var("MODELGRAPH_TEST_MYSQL_URL").unwrap_or_else(|_| {
        panic!(
            "MODELGRAPH_TEST_MYSQL_URL is not set: every suite runs on MySQL/MariaDB too \
             (e.g. mysql://root@127.0.0.1:3306/test)"
        )
    })
}

/// The server's URL with `database` in place of the database it names.
pub fn mysql_database_url(database: &str) -> String {
    let mut url = url::Url::parse(&mysql_url()).expect("MODELGRAPH_TEST_MYSQL_URL parses");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// What the statement that asks whether any token exists reads from (its names
/// unquoted: MySQL/MariaDB quote them otherwise).
const TOKENS_EXIST_PROBE: &str = "FROM api_token) AS sub_query";

/// A new MySQL/MariaDB database's name, and the statements that create and drop it.
pub fn mysql_database() -> (String, String, String) {
    let name = format!("mg_{}", uuid::Uuid::new_v4().simple());
    let create = format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    let drop = format!("DROP DATABASE IF EXISTS {name}");
    (name, create, drop)
}

/// The URL a test's cleanup connects to for `backend`.
fn admin_url(backend: Backend) -> String {
    match backend {
        Backend::Mysql => mysql_url(),
        _ => postgres_url(),
    }
}

pub async fn connect(url: &str) -> DatabaseConnection {
    db::connect(&DatabaseArgs {
        database_url: url.to_owned(),
        log_sql: false,
        max_connections: 5,
        connect_timeout: std::time::Duration::from_secs(5),
    })
    .await
    .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Limits::default()).await
}

pub async fn spawn_app_with(backend: Backend, limits: Limits) -> TestApp {
    spawn_app_authenticating(backend, limits, AuthConfig::default()).await
}

/// A server that authenticates as `auth` says.
pub async fn spawn_app_authenticating(
    backend: Backend,
    limits: Limits,
    auth: AuthConfig,
) -> TestApp {
    let (mut conn, dir, cleanup) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (connect(&url).await, Some(dir), None)
        }
        Backend::Postgres => {
            let url = postgres_url();
            let admin = connect(&url).await;
            let schema = format!("mg_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            let sep = if url.contains('?') { '&' } else { '?' };
            let scoped = format!("{url}{sep}options=-c%20search_path%3D{schema}");
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            (connect(&scoped).await, None, Some((admin, drop)))
        }
        Backend::Mysql => {
            let admin = connect(&mysql_url()).await;
            let (name, create, drop) = mysql_database();
            admin
                .execute_unprepared(&create)
                .await
                .expect("create database");
            (
                connect(&mysql_database_url(&name)).await,
                None,
                Some((admin, drop)),
            )
        }
    };
    let statements = Arc::new(AtomicU64::new(0));
    let counter = statements.clone();
    let statement_log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = statement_log.clone();
    let record: Arc<dyn Fn(&str) + Send + Sync> = Arc::new(move |sql: &str| {
        // an open server asks at most once a second whether tokens exist yet
        // (`auth::Auth::enabled`): a statement of the clock, not of the operation counted
        if sql.replace(['"', '`'], "").contains(TOKENS_EXIST_PROBE) {
            return;
        }
        counter.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut log) = log.lock() {
            log.push(sql.to_owned());
        }
    });
    // statements through sea-orm, and those that direct SQLite sessions run
    let direct = DirectOptions {
        via_sqlx: false,
        observer: Some(record.clone()),
    };
    conn.set_metric_callback(move |info| record(&info.statement.sql));
    db::migrate(&conn).await.expect("migrate");
    let mut app = TestApp {
        base: String::new(),
        client: reqwest::Client::new(),
        db: conn.clone(),
        limits: limits.clone(),
        statements,
        statement_log,
        cleanup,
        _dir: dir,
        servers: Default::default(),
    };
    let state = AppState::with_direct(conn, limits, direct).with_auth(auth);
    app.base = app.serve(state).await;
    app
}

impl TestApp {
    /// Sends one GraphQL request; returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let res = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request");
        res.json().await.expect("json body")
    }

    /// The raw body of a GraphQL response from the server at `base` (for byte-for-byte
    /// comparisons).
    pub async fn gql_text_at(&self, base: &str, query: &str, variables: Value) -> String {
        self.client
            .post(format!("{base}/graphql"))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("a body")
    }

    /// Any request to `path` (from the server's root) with an optional JSON body: the
    /// status and the body's text.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let res = request.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.text().await.expect("a body"))
    }

    /// The `data` of a request that must succeed.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(
            body.get("errors")
                .is_none_or(|e| e.as_array().is_none_or(Vec::is_empty)),
            "unexpected errors: {body:#}\nquery: {query}"
        );
        body["data"].clone()
    }

    /// The first error's `extensions.code` of a request that must fail.
    pub async fn err(&self, query: &str, variables: Value) -> (String, String) {
        let body = self.gql(query, variables).await;
        let err = &body["errors"][0];
        assert!(
            err.is_object(),
            "expected an error: {body:#}\nquery: {query}"
        );
        (
            err["extensions"]["code"]
                .as_str()
                .unwrap_or("<none>")
                .to_owned(),
            err["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    pub fn reset_statements(&self) {
        self.statements.store(0, Ordering::SeqCst);
        if let Ok(mut log) = self.statement_log.lock() {
            log.clear();
        }
    }

    /// The statements run since the last reset, each from its first FROM on (what it
    /// reads and how, not which columns).
    pub fn statement_log(&self) -> Vec<String> {
        self.whole_statements()
            .into_iter()
            .map(|sql| match sql.find(" FROM ") {
                Some(start) => sql[start..].to_owned(),
                None => sql,
            })
            .collect()
    }

    /// The statements run since the last reset, whole.
    pub fn whole_statements(&self) -> Vec<String> {
        self.statement_log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::SeqCst)
    }

    /// Rows in a table: to prove a failed request wrote nothing.
    pub async fn count_rows(&self, table: &str) -> i64 {
        self.count(&format!(r#"SELECT COUNT(*) AS n FROM "{table}""#))
            .await
    }

    /// The count `sql` answers, in one row with a column `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        let rows = self.rows(sql).await;
        let row = rows.first().expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// The rows `sql` answers on this app's store.
    pub async fn rows(&self, sql: impl Into<String>) -> Vec<sea_orm::QueryResult> {
        self.db
            .query_all_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                sql.into(),
            ))
            .await
            .unwrap_or_else(|e| panic!("query failed: {e}"))
    }

    /// Serves `state` on a port of its own until the app ends; its base URL.
    async fn serve(&self, state: AppState) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(modelgraph::serve(listener, state, async {
            let _ = rx.await;
        }));
        self.servers.lock().unwrap().push(tx);
        format!("http://{addr}")
    }

    /// The SQLite file a SQLite test serves from.
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        modelgraph::db::sqlite_file(&self.db)
    }

    /// A second server on the same database that reads through sqlx's pool only, never
    /// a direct SQLite session; its base URL.
    pub async fn server_via_sqlx(&self) -> String {
        let direct = DirectOptions {
            via_sqlx: true,
            observer: None,
        };
        let state = AppState::with_direct(self.db.clone(), self.limits.clone(), direct);
        self.serve(state).await
    }

    fn stop_servers(&self) {
        let servers = std::mem::take(&mut *self.servers.lock().unwrap_or_else(|p| p.into_inner()));
        for tx in servers {
            let _ = tx.send(());
        }
    }

    /// A server of `routes` alone, on the same database, inside the layers every door
    /// runs in (`modelgraph::http::layers`); its base URL.
    pub async fn server_with_routes(&self, routes: axum::Router<AppState>) -> String {
        let state = AppState::new(self.db.clone(), self.limits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = modelgraph::http::layers(routes, state);
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        self.servers.lock().unwrap().push(tx);
        format!("http://{addr}")
    }

    /// Stops the servers and drops a PostgreSQL test's schema.
    pub async fn finish(mut self) {
        self.stop_servers();
        if let Some((admin, drop)) = self.cleanup.take() {
            let _ = admin.execute_unprepared(&drop).await;
        }
    }
}

impl Drop for TestApp {
    /// A test that panicked never reached `finish`: its schema or database is dropped
    /// here, through a connection on a runtime of its own (a destructor cannot await).
    fn drop(&mut self) {
        self.stop_servers();
        let Some((admin, drop)) = self.cleanup.take() else {
            return;
        };
        let url = admin_url(match admin.get_database_backend() {
            sea_orm::DbBackend::MySql => Backend::Mysql,
            _ => Backend::Postgres,
        });
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                connect(&url)
                    .await
                    .execute_unprepared(&drop)
                    .await
                    .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test schema: {dropped:?}");
        }
    }
}

/// Runs one async test body on every store: SQLite, PostgreSQL and MySQL/MariaDB.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use $crate::helpers::{Backend, spawn_app};

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = spawn_app(Backend::Sqlite).await;
                    super::$name(&app).await;
                    app.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = spawn_app(Backend::Postgres).await;
                    super::$name(&app).await;
                    app.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    let app = spawn_app(Backend::Mysql).await;
                    super::$name(&app).await;
                    app.finish().await;
                }
            }
        )*
    };
}
