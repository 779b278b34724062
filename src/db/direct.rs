//! Reading SQLite on the calling thread. sqlx runs each SQLite connection on a worker
//! thread and hands every statement, and its result, across threads: on this project's
//! 2-core machine that costs about 0.1 ms a statement, more than a lineage walk level
//! takes to run. A walk runs many small statements back to back, so it takes one of the
//! server's own read connections ([`Readers`]) and runs them all through rusqlite, with
//! the connection's prepared-statement cache, on this thread. Where the database cannot
//! be opened twice (in memory) it borrows one pooled connection's handle from sqlx
//! instead (`lock_handle`: one hand-off).
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sea_orm::{DatabaseConnection, DbBackend};

use super::error::{DbError, Result};

/// Called with the text of each statement a direct session runs.
pub type Observer = Arc<dyn Fn(&str) + Send + Sync>;

/// How a server uses direct sessions; tests and benchmarks choose, the server takes the
/// default.
#[derive(Clone, Default)]
pub struct DirectOptions {
    /// Reads go through sqlx's pool only, never a direct session (benchmarks compare
    /// the two; tests check they agree).
    pub via_sqlx: bool,
    /// Sees each statement direct sessions run: sea-orm's metric callback does not, so
    /// whoever counts statements (the tests' N+1 guards) passes one here as well.
    pub observer: Option<Observer>,
}

/// A SQLite connection used on this thread: a read connection ([`Readers`], or one
/// borrowed from sqlx's pool by [`with_sqlite`]), or the OpenLineage writer's own
/// ([`Session::open_writer`]). Behind a
/// mutex only so that `&Session` may be shared with the registry's async write path;
/// one thread uses it at a time.
pub struct Session {
    conn: std::sync::Mutex<rusqlite::Connection>,
    /// Whether statements may write (the writer's own connection) or only read.
    writes: bool,
    observer: Option<Observer>,
}

/// The most rows `Session::query_as_up_to` makes room for before reading: a page's
/// limit is bounded, but a caller's count should not decide an allocation unchecked.
pub const ROOM_MADE: usize = 4096;

impl Session {
    fn new(conn: rusqlite::Connection, writes: bool, observer: Option<Observer>) -> Self {
        conn.set_prepared_statement_cache_capacity(64);
        Self {
            conn: std::sync::Mutex::new(conn),
            writes,
            observer,
        }
    }

    /// A connection of its own on `db`'s SQLite file, for a writer that keeps it (and its
    /// page and statement caches) for good. None when `db` is not a SQLite file.
    pub fn open_writer(
        db: &DatabaseConnection,
        options: &DirectOptions,
    ) -> Result<Option<Session>> {
        if options.via_sqlx {
            return Ok(None);
        }
        let Some(file) = super::sqlite_file(db) else {
            return Ok(None);
        };
        let conn = open_connection(&file)?;
        // as sqlx's connections are set up (db::connect); temp_store (open_connection)
        // keeps statement journals and sorts in memory, where on disk each batch created
        // and deleted temporary files
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        Ok(Some(Self::new(conn, true, options.observer.clone())))
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        // a panic mid-statement leaves nothing half-done that the caller cannot roll back
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The first column of the first row as text (None without a row or for NULL): the
    /// walk's statements fold their results into one JSON value.
    pub fn query_text(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<String>> {
        let rows = self.query_rows(sql, params, |row| row.get::<_, Option<String>>(0))?;
        Ok(rows.into_iter().next().flatten())
    }

    /// Every row, each mapped by `map`.
    pub fn query_rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        mut map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(observe) = &self.observer {
            observe(sql);
        }
        let conn = self.connection();
        let mut statement = self.prepare(&conn, sql)?;
        let mut rows = statement.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(map(row)?);
        }
        Ok(out)
    }

    /// Every row, deserialized by column name (matched to the fields once per statement:
    /// `db::rows`).
    pub fn query_as<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<T>> {
        self.query_as_up_to(sql, params, 0)
    }

    /// `query_as`, with room made first for `most` rows (at most [`ROOM_MADE`]).
    pub fn query_as_up_to<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        most: usize,
    ) -> Result<Vec<T>> {
        if let Some(observe) = &self.observer {
            observe(sql);
        }
        let conn = self.connection();
        let mut statement = self.prepare(&conn, sql)?;
        let mut columns = super::rows::Columns::of(&statement);
        let mut rows = statement.query(params)?;
        let mut out = Vec::with_capacity(most.min(ROOM_MADE));
        while let Some(row) = rows.next()? {
            out.push(
                columns
                    .read(row)
                    .map_err(|e| DbError::Other(format!("sqlite: a row does not fit: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Runs a statement (rows it returns are dropped); the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl rusqlite::Params) -> Result<u64> {
        if let Some(observe) = &self.observer {
            observe(sql);
        }
        let conn = self.connection();
        let mut statement = self.prepare(&conn, sql)?;
        let mut rows = statement.query(params)?;
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(if statement.readonly() {
            0
        } else {
            conn.changes()
        })
    }

    /// Runs `sql`, prepared once, for each row of values in `rows` (bound by position),
    /// and returns, for each, the rowid it inserted, or None where it changed nothing (a
    /// conflict it was told to ignore). A bulk load writes this way: one single-row
    /// statement stepped per row costs SQLite less than parsing and binding a built
    /// multi-row one, and builds nothing per batch. The observer sees it once, as one
    /// statement: its rows are steps on this thread, not round trips.
    pub fn insert_each<P: rusqlite::Params>(
        &self,
        sql: &str,
        rows: impl IntoIterator<Item = P>,
    ) -> Result<Vec<Option<i64>>> {
        if let Some(observe) = &self.observer {
            observe(sql);
        }
        let conn = self.connection();
        let mut statement = self.prepare(&conn, sql)?;
        let rows = rows.into_iter();
        let mut ids = Vec::with_capacity(rows.size_hint().0);
        for row in rows {
            let changed = statement.execute(row)?;
            ids.push((changed > 0).then(|| conn.last_insert_rowid()));
        }
        Ok(ids)
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> Result<bool> {
        Ok(!self.connection().is_autocommit())
    }

    /// A cached prepared statement. A borrowed session only reads: it must hand the
    /// connection back to sqlx as it found it, outside any transaction.
    fn prepare<'c>(
        &self,
        conn: &'c rusqlite::Connection,
        sql: &str,
    ) -> Result<rusqlite::CachedStatement<'c>> {
        let statement = conn.prepare_cached(sql)?;
        if !self.writes && !statement.readonly() {
            return Err(DbError::Other(format!(
                "a direct session only reads: {sql}"
            )));
        }
        Ok(statement)
    }
}

/// `?1, ?2, ..., ?n`: the positional parameters of a single-row statement of `n` values.
pub fn positional_marks(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Query plans that do not depend on bound values (SQLite's QPSG). Without it SQLite
/// compiles a statement again whenever a parameter its plan looked at is bound anew, and
/// it looks at every `LIMIT ?`, which sea-orm binds for every page and `.one()`.
fn stable_plans(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// [`stable_plans`] for a new sqlx connection (the pool's `after_connect`).
pub(crate) async fn stable_plans_sqlx(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> std::result::Result<(), sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    // SAFETY: as in `with_sqlite`: the view neither outlives `handle` nor closes it
    let view = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }
        .and_then(|view| stable_plans(&view).map(|()| view))
        .map_err(|e| sea_orm::sqlx::Error::Configuration(Box::new(e)))?;
    drop(view);
    Ok(())
}

/// Read connections of the server's own on its SQLite file, kept between requests with
/// their prepared statements: a walk takes one, runs on this thread and puts it back,
/// with no hand-off to sqlx's driver thread and no statement compiled again. Connections
/// open when first needed, at most `MOST_OPEN` of them; when all are busy, or the file
/// cannot be opened again (a read-only mount, say), a read borrows a pooled sqlx
/// connection instead.
/// Empty for PostgreSQL and in-memory SQLite, where [`Readers::run`] borrows a pooled
/// sqlx connection instead.
#[derive(Clone, Default)]
pub struct Readers {
    own: Option<Arc<OwnReaders>>,
    options: DirectOptions,
}

struct OwnReaders {
    file: PathBuf,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
    /// Connections open, idle or in use.
    open: AtomicUsize,
    /// Whether a failed open has been reported (once: it may fail again on every walk).
    warned: AtomicBool,
}

/// Read connections open at most: file handles stay bounded however many walks run at
/// once, and more than the cores would only wait for each other.
const MOST_OPEN: usize = 8;

/// A leased connection's place in [`OwnReaders::open`]: freed when the lease ends
/// without the connection going back (it was closed, or `f` panicked).
struct Lease<'a> {
    own: &'a OwnReaders,
    returned: bool,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if !self.returned {
            self.own.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Readers {
    /// Readers on `db`'s SQLite file (none for PostgreSQL or an in-memory database).
    pub fn new(db: &DatabaseConnection, options: &DirectOptions) -> Self {
        Self {
            options: options.clone(),
            own: super::sqlite_file(db).map(|file| {
                Arc::new(OwnReaders {
                    file,
                    idle: std::sync::Mutex::new(Vec::new()),
                    open: AtomicUsize::new(0),
                    warned: AtomicBool::new(false),
                })
            }),
        }
    }

    /// Runs `f` on a read connection on this thread: one of these readers, or else one
    /// of `db`'s pooled SQLite connections. None when `db` is not SQLite.
    pub async fn run<R, E: From<DbError>>(
        &self,
        db: &DatabaseConnection,
        f: impl FnOnce(&Session) -> Result<R, E>,
    ) -> Result<Option<R>, E> {
        if self.options.via_sqlx {
            return Ok(None);
        }
        let observer = self.options.observer.clone();
        let Some(own) = &self.own else {
            return with_sqlite(db, observer, f).await;
        };
        let Some((conn, mut lease)) = own.lease() else {
            return with_sqlite(db, observer, f).await;
        };
        let session = Session::new(conn, false, observer);
        let out = f(&session);
        let conn = session
            .conn
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // reads run in autocommit, so a read that failed part-way leaves no transaction
        // open; a connection that is in one anyway is closed, not kept
        if conn.is_autocommit() {
            own.idle().push(conn);
            lease.returned = true;
        }
        out.map(Some)
    }
}

impl OwnReaders {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, or a new one while fewer than `MOST_OPEN` are open. None when
    /// all are busy or the file cannot be opened.
    fn lease(&self) -> Option<(rusqlite::Connection, Lease<'_>)> {
        if let Some(conn) = self.idle().pop() {
            return Some((
                conn,
                Lease {
                    own: self,
                    returned: false,
                },
            ));
        }
        if self.open.fetch_add(1, Ordering::Relaxed) >= MOST_OPEN {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let lease = Lease {
            own: self,
            returned: false,
        };
        match open_connection(&self.file) {
            Ok(conn) => Some((conn, lease)),
            Err(err) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %err, file = %self.file.display(),
                        "cannot open a read connection of our own; walks borrow sqlx's");
                }
                None
            }
        }
    }
}

/// A connection of our own on `file`, set up as sqlx's are (db::connect) with plans that
/// do not depend on bound values and temporary data in memory.
fn open_connection(file: &std::path::Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(file)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    stable_plans(&conn)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA mmap_size = {}; PRAGMA cache_size = {};
         PRAGMA temp_store = MEMORY;",
        super::MMAP_BYTES,
        super::CACHE_KIB
    ))?;
    Ok(conn)
}

/// Runs `f` on one of `db`'s pooled SQLite connections, on this thread. None when `db` is
/// not SQLite.
async fn with_sqlite<R, E: From<DbError>>(
    db: &DatabaseConnection,
    observer: Option<Observer>,
    f: impl FnOnce(&Session) -> Result<R, E>,
) -> Result<Option<R>, E> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(None);
    }
    let pool = db.get_sqlite_connection_pool();
    let mut pooled = pool
        .acquire()
        .await
        .map_err(|e| DbError::Other(format!("sqlite: {e}")))?;
    let mut handle = pooled
        .lock_handle()
        .await
        .map_err(|e| DbError::Other(format!("sqlite: {e}")))?;
    let raw = handle.as_raw_handle();
    // SAFETY: while `handle` lives, sqlx's worker leaves this connection alone; the
    // rusqlite view does not close the connection and is dropped before `handle`.
    let conn = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }.map_err(DbError::from)?;
    let session = Session::new(conn, false, observer);
    let out = f(&session);
    drop(session);
    drop(handle);
    out.map(Some)
}

/// Runs a read written once against [`Exec`](super::exec::Exec) on one of the server's
/// own SQLite read connections, on this thread ([`Readers::run`]: no hand-off to sqlx's
/// driver thread per statement, statements kept prepared), or through sea-orm where the
/// store has none (PostgreSQL): `read_on!(&state.db, &state.readers, |conn| read::list(conn,
/// ...))` evaluates to the read's `Result`. The read must not wait on anything but its
/// statements (a direct session's complete at once; `exec::now` checks).
macro_rules! read_on {
    ($db:expr, $readers:expr, |$conn:ident| $read:expr) => {
        async {
            let db = $db;
            let direct = $readers
                .run(db, |$conn| {
                    $crate::db::exec::now($read)
                        .map_err(Into::into)
                        .and_then(|read| read)
                })
                .await?;
            match direct {
                Some(out) => Ok(out),
                None => {
                    let $conn = db;
                    $read.await
                }
            }
        }
    };
}
pub(crate) use read_on;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseArgs;

    fn stable(session: &Session) -> Result<bool> {
        Ok(session
            .connection()
            .db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?)
    }

    async fn sqlite_file_db(dir: &tempfile::TempDir) -> DatabaseConnection {
        crate::db::connect(&DatabaseArgs {
            database_url: format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
            log_sql: false,
            max_connections: 2,
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .await
        .unwrap()
    }

    /// `insert_each` gives each row's rowid, and None for a row a conflict clause
    /// ignored, whatever the row before it inserted.
    #[tokio::test]
    async fn insert_each_tells_inserted_rows_from_ignored_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_file_db(&dir).await;
        let session = Session::open_writer(&db, &DirectOptions::default())
            .unwrap()
            .unwrap();
        session
            .execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE)", [])
            .unwrap();
        let ids = session
            .insert_each(
                "INSERT INTO t (k) VALUES (?1) ON CONFLICT (k) DO NOTHING",
                [["a"], ["b"], ["a"], ["c"], ["b"]],
            )
            .unwrap();
        assert_eq!(ids, [Some(1), Some(2), None, Some(3), None]);
        let refused = session.insert_each("INSERT INTO t (k) VALUES (?1)", [["a"]]);
        assert!(matches!(refused, Err(DbError::Unique(_))), "{refused:?}");
    }

    /// A walk's read connection is the server's own: kept between reads (with its
    /// prepared statements), it sees what sqlx's connections committed since, and it only
    /// reads. An in-memory database, which cannot be opened twice, borrows sqlx's.
    #[tokio::test]
    async fn readers_are_kept_see_new_writes_and_only_read() {
        use sea_orm::ConnectionTrait;
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_file_db(&dir).await;
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let readers = Readers::new(&db, &DirectOptions::default());
        let own = readers.own.clone().expect("a SQLite file has readers");
        let count = |s: &Session| s.query_text("SELECT CAST(COUNT(*) AS TEXT) FROM t", []);
        assert_eq!(
            readers.run(&db, count).await.unwrap(),
            Some(Some("0".into()))
        );
        db.execute_unprepared("INSERT INTO t VALUES (1), (2)")
            .await
            .unwrap();
        assert_eq!(
            readers.run(&db, count).await.unwrap(),
            Some(Some("2".into()))
        );
        // one connection served both reads and is kept for the next
        assert_eq!(own.idle().len(), 1);
        assert_eq!(own.open.load(Ordering::Relaxed), 1);
        let refused = readers
            .run(&db, |s| s.execute("INSERT INTO t VALUES (3)", []))
            .await;
        assert!(matches!(refused.unwrap_err(), DbError::Other(_)));
        assert_eq!(
            readers.run(&db, count).await.unwrap(),
            Some(Some("2".into()))
        );

        // a file that cannot be opened again: the read borrows sqlx's connection
        let unopenable = Readers {
            own: Some(Arc::new(OwnReaders {
                file: dir.path().join("no-such-dir").join("t.db"),
                idle: std::sync::Mutex::new(Vec::new()),
                open: AtomicUsize::new(0),
                warned: AtomicBool::new(false),
            })),
            options: DirectOptions::default(),
        };
        for _ in 0..2 {
            assert_eq!(
                unopenable.run(&db, count).await.unwrap(),
                Some(Some("2".into()))
            );
        }
        let tried = unopenable.own.as_ref().unwrap();
        assert!(tried.warned.load(Ordering::Relaxed));
        assert_eq!(tried.open.load(Ordering::Relaxed), 0);

        let memory = crate::db::connect(&DatabaseArgs {
            database_url: "sqlite::memory:".into(),
            log_sql: false,
            max_connections: 1,
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .await
        .unwrap();
        let borrowed = Readers::new(&memory, &DirectOptions::default());
        assert!(borrowed.own.is_none());
        assert_eq!(
            borrowed
                .run(&memory, |s| s.query_text("SELECT 'x'", []))
                .await
                .unwrap(),
            Some(Some("x".into()))
        );
    }

    /// Pooled and writer connections keep their query plans whatever is bound, so a
    /// cached `LIMIT ?` statement is not compiled again on each use.
    #[tokio::test]
    async fn sqlite_connections_plan_independently_of_bound_values() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_file_db(&dir).await;
        assert_eq!(with_sqlite(&db, None, stable).await.unwrap(), Some(true));
        assert_eq!(
            Readers::new(&db, &DirectOptions::default())
                .run(&db, stable)
                .await
                .unwrap(),
            Some(true)
        );
        let writer = Session::open_writer(&db, &DirectOptions::default())
            .unwrap()
            .expect("a SQLite file");
        assert!(stable(&writer).unwrap());
        // a writer session writes; a borrowed one refuses to
        writer.execute("CREATE TABLE t (x INTEGER)", []).unwrap();
        assert_eq!(
            writer.execute("INSERT INTO t VALUES (1), (2)", []).unwrap(),
            2
        );
        let refused = with_sqlite(&db, None, |s| s.execute("INSERT INTO t VALUES (3)", [])).await;
        assert!(matches!(refused.unwrap_err(), DbError::Other(_)));
    }
}
