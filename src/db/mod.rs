//! Connecting to SQLite or PostgreSQL and migrating; SQLite gets WAL, a busy timeout and
//! foreign keys.
pub mod direct;
pub mod error;
pub mod exec;
pub mod ids;
pub mod writer;

pub use error::DbError;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

use crate::config::DatabaseArgs;

/// How much of a SQLite file is memory-mapped.
pub(crate) const MMAP_BYTES: u64 = 1 << 30;
/// Page cache per SQLite connection, in KiB (negative: SQLite's unit for KiB).
pub(crate) const CACHE_KIB: i64 = -16 * 1024;

pub async fn connect(args: &DatabaseArgs) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(args.database_url.clone());
    opts.max_connections(args.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(args.log_sql)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .map_sqlx_sqlite_pool_opts(|o| {
            o.after_connect(|conn, _| Box::pin(direct::stable_plans_sqlx(conn)))
        })
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
    Database::connect(opts).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}
