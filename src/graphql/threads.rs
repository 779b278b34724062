//! The threads GraphQL operations run on: a fixed set, made at start-up. An operation
//! runs its resolvers and their loaders' batches as local tasks of one thread (see
//! `loaders`), so each needs a thread of its own while it runs. Tokio's blocking pool
//! would make a new thread whenever none was idle at that instant, and every thread that
//! ever ran an operation keeps the memory its allocator handed it: 64 concurrent writers
//! left 1 GB behind. Here operations queue for one of `--max-concurrent-operations`
//! threads instead.
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct OperationThreads {
    queue: flume::Sender<Job>,
    load: Arc<Load>,
}

/// Operations running on the threads, and waiting for one (`GET /metrics`).
#[derive(Default)]
pub struct Load {
    pub running: AtomicUsize,
    pub waiting: AtomicUsize,
}

impl OperationThreads {
    /// Starts `count` threads; 0 starts one per core. Measured with 64 concurrent
    /// writers on 2 cores, 2 threads wrote as fast as 4, 8 or 16 on SQLite and on
    /// PostgreSQL, and each thread more kept about 12-25 MB.
    pub fn new(count: usize) -> Self {
        let count = match count {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        // a queue every thread takes from: a job wakes one idle thread (a receiver shared
        // behind a lock woke a second one, to wait on the queue in the first one's place)
        let (queue, jobs) = flume::bounded::<Job>(1024);
        for n in 0..count {
            let jobs = jobs.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("graphql-{n}"))
                .spawn(move || {
                    while let Ok(job) = jobs.recv() {
                        // a panicking operation fails its own request, not the thread
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "could not start a GraphQL operation thread");
            }
        }
        Self {
            queue,
            load: Arc::default(),
        }
    }

    /// How many operations run and wait now.
    pub fn load(&self) -> (usize, usize) {
        (
            self.load.running.load(Ordering::Relaxed),
            self.load.waiting.load(Ordering::Relaxed),
        )
    }

    /// Counts an operation answered outside the threads (a read on its request's own
    /// task) as running until the guard drops.
    pub fn count_running(&self) -> Running {
        self.load.running.fetch_add(1, Ordering::Relaxed);
        Running(self.load.clone())
    }

    /// Runs `f` on one of the threads once one is free; None if it panicked.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (done, outcome) = oneshot::channel();
        let load = self.load.clone();
        load.waiting.fetch_add(1, Ordering::Relaxed);
        // counted out when a thread takes the job, or when the job is dropped unrun
        let waiting = Waiting(load.clone());
        let job: Job = Box::new(move || {
            drop(waiting);
            load.running.fetch_add(1, Ordering::Relaxed);
            let _running = Running(load);
            let _ = done.send(f());
        });
        self.queue.send_async(job).await.ok()?;
        outcome.await.ok()
    }
}

struct Waiting(Arc<Load>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An operation counted as running, until dropped.
pub struct Running(Arc<Load>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_fixed_threads_and_a_panic_fails_only_its_own() {
        let threads = OperationThreads::new(2);
        let mut names = std::collections::BTreeSet::new();
        for _ in 0..20 {
            let name = threads
                .run(|| std::thread::current().name().unwrap_or("").to_owned())
                .await
                .unwrap();
            names.insert(name);
        }
        assert!(names.iter().all(|n| n.starts_with("graphql-")), "{names:?}");
        assert!(names.len() <= 2);
        assert_eq!(threads.run(|| -> u8 { panic!("a bug") }).await, None);
        assert_eq!(
            threads.run(|| 7).await,
            Some(7),
            "still serving after a panic"
        );
    }
}
