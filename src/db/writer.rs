//! The SQLite write queue: one write transaction at a time per process, queued here
//! instead of in SQLite's busy handler, which sleeps in steps of milliseconds and does not
//! wake when the lock frees. Every writer (the registry's transactions, the OpenLineage
//! writer thread) takes its turn here.
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Mutex, MutexGuard};

static SQLITE_WRITER: Mutex<()> = Mutex::const_new(());

/// Held for the life of a write transaction; None where the database queues writers
/// itself (PostgreSQL).
pub type WriterTurn = Option<MutexGuard<'static, ()>>;

/// Waits for the write turn on `db` (at once on PostgreSQL).
pub async fn turn(db: &DatabaseConnection) -> WriterTurn {
    match db.get_database_backend() {
        DbBackend::Sqlite => Some(SQLITE_WRITER.lock().await),
        _ => None,
    }
}

/// The SQLite write turn for a thread outside the async runtime (the OpenLineage
/// writer's), which then writes through a connection of its own.
pub fn turn_blocking() -> MutexGuard<'static, ()> {
    SQLITE_WRITER.blocking_lock()
}
