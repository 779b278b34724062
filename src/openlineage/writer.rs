//! The OpenLineage writer. On SQLite, requests hand their parsed event to one writer task
//! and wait for the outcome; it writes whatever has queued up meanwhile in one transaction
//! (group commit), so under load a transaction's fixed costs, and the lookups of the jobs,
//! datasets and runs events share (kept in its cache), are paid once per batch, not once
//! per event. SQLite takes one write transaction at a time anyway. An event that fails
//! takes nothing else down: a failed batch is written again event by event.
//!
//! On PostgreSQL each request writes its event in a transaction of its own, many at once
//! from the pool: measured with 8 clients, that beat batching writers (fewer, longer
//! transactions taking the same rows' locks).
use std::sync::{Arc, OnceLock};

use sea_orm::sqlx::sqlite::SqlitePoolOptions;
use sea_orm::{DatabaseConnection, DbBackend, SqlxSqliteConnector};
use tokio::sync::{mpsc, oneshot};

use super::event::Event;
use super::ingest::{NodeCache, write_batch};
use crate::registry::{RegistryError, Result};

/// The most events written in one transaction.
const MAX_BATCH: usize = 256;
/// Events waiting for a writer before senders wait too (backpressure).
const QUEUE: usize = 4096;

type Job = (Event, oneshot::Sender<Result<()>>);

/// A handle on the writer (a task started on first use, inside the server's runtime).
#[derive(Clone)]
pub struct Ingester {
    db: DatabaseConnection,
    queue: Arc<OnceLock<mpsc::Sender<Job>>>,
}

impl Ingester {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: Arc::default(),
        }
    }

    /// Writes `event` (on SQLite with whatever else is queued) and returns once it is
    /// committed.
    pub async fn ingest(&self, event: Event) -> Result<()> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return write_batch(&self.db, &mut NodeCache::default(), &[&event]).await;
        }
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(run(writer_connection(&self.db), rx));
            tx
        });
        let (done, outcome) = oneshot::channel();
        let stopped = || RegistryError::Internal("the OpenLineage writer stopped".into());
        queue.send((event, done)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// The connection a writer writes on. On SQLite it is one of its own: a write through any
/// other connection of a pool makes the others drop their page caches, so a writer that
/// took whichever pooled connection was free would read its pages from the file again on
/// every batch.
fn writer_connection(db: &DatabaseConnection) -> DatabaseConnection {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let options = db.get_sqlite_connection_pool().connect_options();
            // one connection for good: its page cache and data_version baseline last
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_lazy_with((*options).clone());
            SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        }
        _ => db.clone(),
    }
}

async fn run(db: DatabaseConnection, mut queue: mpsc::Receiver<Job>) {
    let mut cache = NodeCache::default();
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // a batch runs as a task of its own so that a panic fails its requests, not the
        // writer; the cache it held is dropped with it
        let db = db.clone();
        let batch = std::mem::take(&mut jobs);
        let mut held = std::mem::take(&mut cache);
        cache = tokio::spawn(async move {
            write_jobs(&db, &mut held, batch).await;
            held
        })
        .await
        .unwrap_or_default();
    }
}

async fn write_jobs(db: &DatabaseConnection, cache: &mut NodeCache, jobs: Vec<Job>) {
    let events: Vec<&Event> = jobs.iter().map(|(e, _)| e).collect();
    let outcome = write_batch(db, cache, &events).await;
    // only an event's own fault is worth writing each event alone for; a database that
    // fails (busy, I/O) fails the whole batch
    let retry_alone = outcome
        .as_ref()
        .is_err_and(|err| caused_by_event(err) && jobs.len() > 1);
    if !retry_alone {
        for (_, done) in jobs {
            // the request may have gone away; its event is written all the same
            let _ = done.send(outcome.clone());
        }
        return;
    }
    // some event failed: write each alone so only the bad ones fail
    for (event, done) in jobs {
        let outcome = write_batch(db, cache, &[&event]).await;
        let _ = done.send(outcome);
    }
}

/// Whether an event (rather than the database) caused this error when writing it.
fn caused_by_event(err: &RegistryError) -> bool {
    !matches!(err, RegistryError::Internal(_))
}
