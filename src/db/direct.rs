//! Reading SQLite on the calling thread. sqlx runs each SQLite connection on a worker
//! thread and hands every statement, and its result, across threads: on this project's
//! 2-core machine that costs about 0.1 ms a statement, more than a lineage walk level
//! takes to run. A walk runs many small statements back to back, so it borrows one pooled
//! connection's handle (sqlx's `lock_handle`: one hand-off) and runs them all through
//! rusqlite, with rusqlite's prepared-statement cache, on this thread.
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use sea_orm::{DatabaseConnection, DbBackend};

use crate::registry::{RegistryError, Result};

/// Whether walks use direct sessions; benchmarks turn them off to compare.
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns direct sessions on or off for this process (off: walks go through sqlx).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Called with the text of each statement a direct session runs.
pub type Observer = Arc<dyn Fn(&str) + Send + Sync>;

/// Observers by database file: sea-orm's metric callback does not see direct sessions,
/// so whoever counts statements (the tests' N+1 guards) registers here as well.
static OBSERVERS: RwLock<Vec<(PathBuf, Observer)>> = RwLock::new(Vec::new());

/// Calls `observer` with each statement that direct sessions run on `db`'s file.
pub fn observe(db: &DatabaseConnection, observer: Observer) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_owned();
    if let Ok(mut all) = OBSERVERS.write() {
        all.retain(|(f, _)| *f != file);
        all.push((file, observer));
    }
}

fn observer_of(file: &std::path::Path) -> Option<Observer> {
    let all = OBSERVERS.read().ok()?;
    all.iter().find(|(f, _)| f == file).map(|(_, o)| o.clone())
}

/// One borrowed SQLite connection, used on this thread.
pub struct Session {
    conn: rusqlite::Connection,
    observer: Option<Observer>,
}

impl Session {
    /// The first column of the first row as text (None without a row or for NULL): the
    /// walk's statements fold their results into one JSON value.
    pub fn query_text(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<String>> {
        if let Some(observe) = &self.observer {
            observe(sql);
        }
        let mut statement = self.prepare(sql)?;
        let mut rows = statement.query(params).map_err(internal)?;
        match rows.next().map_err(internal)? {
            Some(row) => row.get::<_, Option<String>>(0).map_err(internal),
            None => Ok(None),
        }
    }

    /// A cached prepared statement; only reads: a session must hand the connection back
    /// to sqlx as it found it, outside any transaction.
    fn prepare(&self, sql: &str) -> Result<rusqlite::CachedStatement<'_>> {
        let statement = self.conn.prepare_cached(sql).map_err(internal)?;
        if !statement.readonly() {
            return Err(RegistryError::Internal(format!(
                "a direct session only reads: {sql}"
            )));
        }
        Ok(statement)
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
        let mut statement = self.prepare(sql)?;
        let mut rows = statement.query(params).map_err(internal)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(internal)? {
            out.push(map(row).map_err(internal)?);
        }
        Ok(out)
    }
}

fn internal(err: rusqlite::Error) -> RegistryError {
    RegistryError::Internal(format!("sqlite: {err}"))
}

/// Runs `f` on one of `db`'s pooled SQLite connections, on this thread. None when `db` is
/// not SQLite.
pub async fn with_sqlite<R>(
    db: &DatabaseConnection,
    f: impl FnOnce(&Session) -> Result<R>,
) -> Result<Option<R>> {
    if db.get_database_backend() != DbBackend::Sqlite
        || !ENABLED.load(std::sync::atomic::Ordering::Relaxed)
    {
        return Ok(None);
    }
    let pool = db.get_sqlite_connection_pool();
    let observer = observer_of(pool.connect_options().get_filename());
    let mut pooled = pool
        .acquire()
        .await
        .map_err(|e| RegistryError::Internal(format!("sqlite: {e}")))?;
    let mut handle = pooled
        .lock_handle()
        .await
        .map_err(|e| RegistryError::Internal(format!("sqlite: {e}")))?;
    let raw = handle.as_raw_handle();
    // SAFETY: while `handle` lives, sqlx's worker leaves this connection alone; the
    // rusqlite view does not close the connection and is dropped before `handle`.
    let conn = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) }.map_err(internal)?;
    let session = Session { conn, observer };
    let out = f(&session);
    drop(session);
    drop(handle);
    out.map(Some)
}
