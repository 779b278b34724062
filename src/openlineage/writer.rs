//! Writer tasks for OpenLineage events. Requests hand their parsed event to a writer and
//! wait for the outcome; the writer writes whatever has queued up meanwhile in one
//! transaction (group commit), so under load a transaction's fixed costs and the nodes
//! events share (jobs, datasets) are paid once per batch, not once per event. An event
//! that fails takes nothing else down: a failed batch is written again event by event.
//!
//! SQLite has one writer (it takes one write transaction at a time anyway). PostgreSQL has
//! [`POSTGRES_WRITERS`], and events go to a writer by their job, so a run's events meet
//! in one writer's cache and writers seldom touch the same rows.
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
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
/// Writer tasks on PostgreSQL, each with a transaction of its own.
pub const POSTGRES_WRITERS: usize = 8;

type Job = (Event, oneshot::Sender<Result<()>>);

/// A handle on the writer task, started on first use (inside the server's runtime).
#[derive(Clone)]
pub struct Ingester {
    db: DatabaseConnection,
    queues: Arc<OnceLock<Vec<mpsc::Sender<Job>>>>,
}

impl Ingester {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queues: Arc::default(),
        }
    }

    /// Writes `event` (with whatever else is queued) and returns once it is committed.
    pub async fn ingest(&self, event: Event) -> Result<()> {
        let queues = self.queues.get_or_init(|| {
            let writers = match self.db.get_database_backend() {
                DbBackend::Sqlite => 1,
                _ => POSTGRES_WRITERS,
            };
            (0..writers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(run(writer_connection(&self.db), rx));
                    tx
                })
                .collect()
        });
        let queue = &queues[writer_of(&event, queues.len())];
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
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*options).clone());
            SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
        }
        _ => db.clone(),
    }
}

/// The writer for `event`: by its job (a dataset event by its dataset).
fn writer_of(event: &Event, writers: usize) -> usize {
    if writers <= 1 {
        return 0;
    }
    let mut h = DefaultHasher::new();
    match event {
        Event::Run(run) => (&run.job.namespace, &run.job.name).hash(&mut h),
        Event::Job { job, .. } => (&job.namespace, &job.name).hash(&mut h),
        Event::Dataset { dataset, .. } => (&dataset.namespace, &dataset.name).hash(&mut h),
    }
    (h.finish() % writers as u64) as usize
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
    if outcome.is_ok() || jobs.len() == 1 {
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
