//! The OpenLineage writer. On a SQLite file, requests hand their parsed event to one
//! writer thread and wait for the outcome; it writes whatever has queued up meanwhile in
//! one transaction (group commit), so under load a transaction's fixed costs, and the
//! lookups of the jobs, datasets and runs events share (kept in its cache), are paid once
//! per batch, not once per event. SQLite takes one write transaction at a time anyway.
//! The thread writes through a SQLite connection of its own, on the thread itself
//! (`db::direct`): sqlx would hand each statement to a worker thread and back, which cost
//! more than the statements. An event that fails takes nothing else down: a failed batch
//! is written again event by event.
//!
//! On PostgreSQL a task on the server's runtime does the same through the pool; its cache
//! starts over whenever the change log shows another writer (here or on another server)
//! committed. Each request writing its
//! own event in a transaction of its own measured slower with 8 clients (447 events/s
//! against 604-673): concurrent events insert the same datasets, so they waited on each
//! other's row locks and retried, and every commit took the change counter's lock. SQLite
//! in memory, which only sqlx's own connections share, still writes per request.
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use futures_util::FutureExt;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{mpsc, oneshot};

use super::event::Event;
use super::ingest::{NodeCache, OpenBatch, retryable, write_batch, write_batch_direct};
use crate::db::direct::{DirectOptions, Session};
use crate::registry::history::Actor;
use crate::registry::{RegistryError, Result};

/// The most events written in one transaction.
const MAX_BATCH: usize = 256;
/// Events waiting for the writer before senders wait too (backpressure).
const QUEUE: usize = 4096;

type Job = (Event, Actor, oneshot::Sender<Result<()>>);

/// A handle on the writer (a thread started on first use).
#[derive(Clone)]
pub struct Ingester {
    db: DatabaseConnection,
    direct: DirectOptions,
    /// The writer thread's queue; None where each request writes its own event.
    queue: Arc<OnceLock<Option<mpsc::Sender<Job>>>>,
}

impl Ingester {
    pub fn new(db: DatabaseConnection, direct: DirectOptions) -> Self {
        Self {
            db,
            direct,
            queue: Arc::default(),
        }
    }

    /// Writes `event` (on SQLite with whatever else is queued) and returns once it is
    /// committed.
    pub async fn ingest(&self, event: Event, actor: Actor) -> Result<()> {
        let Some(queue) = self.queue.get_or_init(|| start(&self.db, &self.direct)) else {
            return write_batch(&self.db, &mut NodeCache::default(), &[(&event, &actor)]).await;
        };
        let (done, outcome) = oneshot::channel();
        let stopped = || RegistryError::Internal("the OpenLineage writer stopped".into());
        queue
            .send((event, actor, done))
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Starts the writer: on PostgreSQL and MySQL/MariaDB a task on the server's runtime; on a SQLite file a
/// thread with a connection of its own. None on SQLite in memory, or if that connection
/// cannot be opened.
fn start(db: &DatabaseConnection, direct: &DirectOptions) -> Option<mpsc::Sender<Job>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(QUEUE);
        runtime.spawn(run_pooled(db.clone(), rx));
        return Some(tx);
    }
    let session = match Session::open_writer(db, direct) {
        Ok(Some(session)) => session,
        Ok(None) => return None,
        Err(err) => {
            tracing::warn!(%err, "OpenLineage writer: no connection of its own; writing per request");
            return None;
        }
    };
    let (tx, rx) = mpsc::channel(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("openlineage-writer".into())
        .spawn(move || run(session, rx));
    match spawned {
        Ok(_) => Some(tx),
        Err(err) => {
            tracing::warn!(%err, "OpenLineage writer: no thread; writing per request");
            None
        }
    }
}

/// The writer thread: until every handle is gone, takes what has queued up (up to
/// MAX_BATCH events) and writes it.
fn run(session: Session, mut queue: mpsc::Receiver<Job>) {
    let mut cache = NodeCache::default();
    while let Some(job) = queue.blocking_recv() {
        let mut jobs = vec![job];
        take_queued(&mut queue, &mut jobs);
        // a panic fails this batch's requests (their senders are dropped), not the writer
        let written = catch_unwind(AssertUnwindSafe(|| write_jobs(&session, &mut cache, jobs)));
        if written.is_err() {
            cache = NodeCache::default();
            if session.in_transaction().unwrap_or(true) {
                let _ = session.execute("ROLLBACK", []);
            }
        }
    }
}

/// The PostgreSQL writer: until every handle is gone, takes what has queued up (up to
/// MAX_BATCH events) and writes it in one transaction through the pool. Its cache holds
/// only while the change log shows no one else wrote (`ingest::NodeCache`).
async fn run_pooled(db: DatabaseConnection, mut queue: mpsc::Receiver<Job>) {
    let mut cache = NodeCache::default();
    while let Some(job) = queue.recv().await {
        let mut jobs = vec![job];
        take_queued(&mut queue, &mut jobs);
        // a panic fails this batch's requests (their senders are dropped), not the writer
        let written = AssertUnwindSafe(write_jobs_pooled(&db, &mut cache, &mut queue, jobs))
            .catch_unwind()
            .await;
        if written.is_err() {
            cache = NodeCache::default();
        }
    }
}

async fn write_jobs_pooled(
    db: &DatabaseConnection,
    cache: &mut NodeCache,
    queue: &mut mpsc::Receiver<Job>,
    mut jobs: Vec<Job>,
) {
    let outcome = write_growing(db, cache, queue, &mut jobs).await;
    for (event, actor, done) in answer(jobs, outcome) {
        let outcome = write_batch(db, cache, &[(&event, &actor)]).await;
        let _ = done.send(outcome);
    }
}

/// Writes `jobs` in one transaction, and before committing takes in, round by round, the
/// jobs that queued up while it was written (up to MAX_BATCH in all): with clients that
/// each wait for their answer, the events that arrive during one batch would otherwise
/// wait for it to commit and pay another batch's fixed costs. Each round is one read of
/// the jobs, datasets and runs it names, one insert of its new runs, one update of the
/// runs it changes and one edge insert; the commit is shared. Only a writer alone on its store grows its batches: with another
/// server writing the same store, growing halved ingestion (longer-held locks, and whole
/// grown batches written again after a conflict). A conflict writes them all again, from
/// the database, without taking in more.
async fn write_growing(
    db: &DatabaseConnection,
    cache: &mut NodeCache,
    queue: &mut mpsc::Receiver<Job>,
    jobs: &mut Vec<Job>,
) -> Result<()> {
    let Some((_, first, _)) = jobs.first() else {
        return Ok(());
    };
    let mut batch = OpenBatch::begin(db, cache, first).await?;
    let mut applied = 0;
    let written = loop {
        let round: Vec<(&Event, &Actor)> = jobs[applied..].iter().map(|(e, a, _)| (e, a)).collect();
        if let Err(err) = batch.apply(&round).await {
            break Err(err);
        }
        applied = jobs.len();
        if !batch.alone() {
            break Ok(());
        }
        take_queued(queue, jobs);
        if jobs.len() == applied {
            break Ok(());
        }
    };
    match written {
        Ok(()) => batch.commit().await,
        Err(err) => {
            let again = retryable(&err);
            let _ = batch.rollback(&err).await;
            if !again {
                return Err(err);
            }
            let events: Vec<(&Event, &Actor)> = jobs.iter().map(|(e, a, _)| (e, a)).collect();
            write_batch(db, cache, &events).await
        }
    }
}

/// Adds to `jobs` what has queued up, up to MAX_BATCH jobs in all, without waiting.
fn take_queued(queue: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
}

fn write_jobs(session: &Session, cache: &mut NodeCache, jobs: Vec<Job>) {
    let _turn = crate::db::writer::turn_blocking();
    let events: Vec<(&Event, &Actor)> = jobs.iter().map(|(e, a, _)| (e, a)).collect();
    let outcome = write_batch_direct(session, cache, &events);
    drop(events);
    for (event, actor, done) in answer(jobs, outcome) {
        let outcome = write_batch_direct(session, cache, &[(&event, &actor)]);
        let _ = done.send(outcome);
    }
}

/// Gives every job of a batch the batch's outcome, or, when an event's own fault failed
/// a batch of several, returns the jobs to write again each alone, so only the bad ones
/// fail. A database that fails (busy, I/O) fails the whole batch.
fn answer(jobs: Vec<Job>, outcome: Result<()>) -> Vec<Job> {
    let retry_alone = outcome
        .as_ref()
        .is_err_and(|err| caused_by_event(err) && jobs.len() > 1);
    if retry_alone {
        return jobs;
    }
    for (_, _, done) in jobs {
        // the request may have gone away; its event is written all the same
        let _ = done.send(outcome.clone());
    }
    Vec::new()
}

/// Whether an event (rather than the database) caused this error when writing it.
fn caused_by_event(err: &RegistryError) -> bool {
    !matches!(err, RegistryError::Internal(_))
}
