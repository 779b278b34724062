//! Connecting to SQLite, PostgreSQL or MySQL/MariaDB and migrating; SQLite gets WAL, a
//! busy timeout and foreign keys, MySQL/MariaDB standard SQL quoting and PostgreSQL's
//! isolation level.
pub mod backup;
pub mod direct;
pub mod error;
pub mod exec;
pub mod ids;
pub mod recordset;
pub mod rows;
pub mod writer;

pub use error::DbError;

use std::path::PathBuf;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseArgs;

/// How much of a SQLite file is memory-mapped.
pub(crate) const MMAP_BYTES: u64 = 1 << 30;
/// Page cache per SQLite connection, in KiB (negative: SQLite's unit for KiB).
pub(crate) const CACHE_KIB: i64 = -16 * 1024;

/// Turns off SQLite's allocation statistics for the process (what its documentation
/// recommends, as the build option `SQLITE_DEFAULT_MEMSTATUS=0`): with them on, every
/// allocation and free SQLite makes takes a process-wide mutex to count it. Nothing here
/// reads them. Call it first, before any connection: SQLite refuses the setting once it
/// has started (then it changes nothing, and the statistics stay on).
pub fn configure_sqlite() {
    // SAFETY: sqlite3_config may only be called while no other thread uses SQLite; the
    // command calls this before it opens any connection.
    let code = unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int)
    };
    if code != rusqlite::ffi::SQLITE_OK {
        tracing::debug!(code, "SQLite's allocation statistics stay on");
    }
}

/// Connects (and, on SQLite, creates the file). Fails within `--connect-timeout`,
/// saying which database (its password hidden) and why.
pub async fn connect(args: &DatabaseArgs) -> Result<DatabaseConnection, DbErr> {
    let shown = shown_url(&args.database_url);
    if let Some(file) = sqlite_path(&args.database_url)
        && let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
        && !dir.is_dir()
    {
        return Err(DbErr::Custom(format!(
            "cannot open the SQLite database {}: the directory {} does not exist",
            file.display(),
            dir.display()
        )));
    }
    let attempt = tokio::time::timeout(args.connect_timeout, connect_pool(args)).await;
    match attempt {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(err)) => Err(DbErr::Custom(format!(
            "cannot connect to the database at {shown}: {}",
            reason(&err)
        ))),
        Err(_) => Err(DbErr::Custom(format!(
            "cannot connect to the database at {shown}: no answer within {} (--connect-timeout)",
            humantime::format_duration(args.connect_timeout)
        ))),
    }
}

/// The database a URL names, as messages show it: no password, no options.
pub fn shown_url(url: &str) -> String {
    if let Some(file) = sqlite_path(url) {
        return format!("sqlite {}", file.display());
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "(an unparsable --database-url)".into(),
    }
}

/// The file a SQLite URL names; None for PostgreSQL and in-memory databases.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The cause a person can act on, not the driver's wrapping of it.
fn reason(err: &DbErr) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        text = c.to_string();
        cause = c.source();
    }
    text
}

/// A pooled connection idle this long is checked (pinged) before it is handed out: one
/// the server, a proxy or a firewall dropped is then replaced, not failed on. A busy one
/// is not: sqlx pings on every acquire by default, one more round trip before every
/// statement outside a transaction, which doubled a PostgreSQL walk level's cost.
const PING_IF_IDLE: Duration = Duration::from_secs(30);

fn pool_options(args: &DatabaseArgs) -> ConnectOptions {
    let mut opts = ConnectOptions::new(args.database_url.clone());
    opts.max_connections(args.max_connections)
        .min_connections(1)
        .connect_timeout(args.connect_timeout)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire_if_idle_for(PING_IF_IDLE)
        .sqlx_logging(args.log_sql)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .map_sqlx_sqlite_pool_opts(|o| {
            o.after_connect(|conn, _| Box::pin(direct::stable_plans_sqlx(conn)))
        })
        .map_sqlx_mysql_pool_opts(|o| o.after_connect(|conn, _| Box::pin(mysql_session(conn))))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
                // read the file through a memory map, not a copy per page read, and keep
                // more pages per connection: lineage walks touch pages all over the edge
                // and node indexes
                .pragma("mmap_size", MMAP_BYTES.to_string())
                .pragma("cache_size", CACHE_KIB.to_string())
        });
    opts
}

/// Every MySQL/MariaDB connection reads the SQL the other stores read: identifiers in
/// double quotes (`ANSI_QUOTES`; the statements written by hand quote that way), and
/// PostgreSQL's isolation level, READ COMMITTED, so a transaction's reads see what others
/// committed before them, as the registry's revision checks and counters expect.
///
/// On a Galera node, reads are causal (`wsrep_sync_wait = 1`): a node acknowledges a
/// commit once every node has certified it, but the others apply it a moment later, so
/// without the wait a version created through one server right after its model was
/// created through another could find no model ("node 1 not found", seen under load).
/// Each read then waits until its node has applied what the cluster committed before it.
async fn mysql_session(
    conn: &mut sea_orm::sqlx::MySqlConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Executor;
    conn.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
        .await?;
    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await?;
    let wsrep: Option<(String, String)> = sea_orm::sqlx::query_as("SHOW VARIABLES LIKE 'wsrep_on'")
        .fetch_optional(&mut *conn)
        .await?;
    if wsrep.is_some_and(|(_, on)| on.eq_ignore_ascii_case("ON")) {
        conn.execute("SET SESSION wsrep_sync_wait = 1").await?;
    }
    Ok(())
}

async fn connect_pool(args: &DatabaseArgs) -> Result<DatabaseConnection, DbErr> {
    Database::connect(pool_options(args)).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// The `n`th (from 1) bound parameter as `backend` spells it: `$n` on PostgreSQL, `?n`
/// on SQLite, and on MySQL/MariaDB `?`, which binds by position only (a statement that
/// uses a parameter twice there binds its value twice).
pub fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        DbBackend::MySql => "?".to_owned(),
        _ => format!("?{n}"),
    }
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        DbBackend::MySql => "mysql",
        _ => "other",
    }
}

/// The file of a SQLite database on disk; None for PostgreSQL and in-memory SQLite.
pub fn sqlite_file(db: &DatabaseConnection) -> Option<PathBuf> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_owned();
    let name = file.to_string_lossy();
    // sqlx names in-memory databases `file:sqlx-in-memory-N`, shared between its own
    // connections only
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") {
        return None;
    }
    Some(file)
}

/// The SQLite file a server opened, known by its device and inode: a file deleted or
/// replaced under a running server is no longer the one the server writes to (its
/// writes would be acknowledged and lost), and readiness must say so.
#[derive(Clone, Debug)]
pub struct StoreFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl StoreFile {
    /// The file `db` serves from; None for PostgreSQL and in-memory SQLite.
    pub fn of(db: &DatabaseConnection) -> Option<Self> {
        let path = sqlite_file(db)?;
        let identity = identity(&path).ok()?;
        Some(Self { path, identity })
    }

    /// Fails, naming the path, once the path no longer names the file opened.
    pub fn check(&self) -> Result<(), String> {
        match identity(&self.path) {
            Ok(now) if now == self.identity => Ok(()),
            Ok(_) => Err(format!(
                "{} was replaced by another file after the server opened it",
                self.path.display()
            )),
            Err(err) => Err(format!("{}: {err}", self.path.display())),
        }
    }
}

fn identity(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_connections_are_pinged_only_after_idling() {
        let args = DatabaseArgs {
            database_url: "postgres://postgres@127.0.0.1:5432/test".into(),
            log_sql: false,
            max_connections: 2,
            connect_timeout: Duration::from_secs(5),
        };
        let opts = pool_options(&args);
        // a ping before every statement would cost a round trip each
        assert!(!opts.get_test_before_acquire());
        assert_eq!(opts.get_max_connections(), Some(2));
    }
}
