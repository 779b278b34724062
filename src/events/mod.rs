//! The change log's readers. `Feed` wakes subscribers when changes commit: at once for
//! writes through this server, and within `POLL` for writes through other servers or
//! processes sharing the database (it watches the log's highest sequence). Subscribers
//! read the log itself from their own cursor, so a missed wake-up delays a change and
//! never loses it, and a slow subscriber holds nothing up. With nobody subscribed the
//! watcher rests instead of polling.
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use entity::change;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::watch;

use crate::registry::Result;
use crate::registry::history::ChangeFilter;

/// How often the log is checked for changes committed elsewhere.
pub const POLL: Duration = Duration::from_millis(300);

/// Changes read per wake-up and subscriber, at most.
pub const BATCH: u64 = 200;

#[derive(Clone)]
pub struct Feed {
    db: DatabaseConnection,
    /// The highest sequence known to be committed.
    latest: watch::Sender<i64>,
    started: Arc<std::sync::Once>,
    /// Wakes a resting watcher when someone subscribes.
    wanted: Arc<tokio::sync::Notify>,
    /// Wakes the watcher to read the log's end now (a PostgreSQL notification).
    poked: Arc<tokio::sync::Notify>,
}

impl Feed {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            latest: watch::channel(0).0,
            started: Arc::new(std::sync::Once::new()),
            wanted: Arc::new(tokio::sync::Notify::new()),
            poked: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// A receiver that changes when new changes commit (the watcher starts with the
    /// first subscriber).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.started.call_once(|| {
            let feed = self.clone();
            tokio::spawn(async move { feed.watch().await });
            if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
                let feed = self.clone();
                tokio::spawn(async move { feed.listen().await });
            }
        });
        let receiver = self.latest.subscribe();
        self.wanted.notify_one();
        receiver
    }

    /// PostgreSQL: LISTEN for commits with changes (on any server) and wake the
    /// watcher, which reads the log's end itself: the channel is database-wide, so a
    /// notification may come from a store in another schema, whose sequence says nothing
    /// about ours. The poll stays as the backstop, so a lost notification only delays.
    async fn listen(self) {
        loop {
            let pool = self.db.get_postgres_connection_pool();
            let listening = async {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(crate::registry::history::CHANNEL).await?;
                loop {
                    listener.recv().await?;
                    self.poked.notify_one();
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            if let Err(err) = listening.await {
                tracing::warn!(error = %err, "listening for changes failed; polling meanwhile");
            }
            tokio::time::sleep(POLL * 10).await;
        }
    }

    async fn watch(self) {
        loop {
            if self.latest.receiver_count() == 0 {
                // a permit left by a subscribe since the last check returns at once
                self.wanted.notified().await;
                continue;
            }
            match highest(&self.db).await {
                Ok(seq) => {
                    self.latest.send_if_modified(|latest| {
                        let newer = seq > *latest;
                        if newer {
                            *latest = seq;
                        }
                        newer
                    });
                }
                Err(err) => tracing::warn!(error = %err, "reading the change log's end failed"),
            }
            tokio::select! {
                () = crate::registry::history::committed().notified() => {}
                () = self.poked.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// The highest committed sequence (0 for an empty log).
pub async fn highest(db: &DatabaseConnection) -> Result<i64> {
    let row: Option<change::Model> = change::Entity::find()
        .order_by_desc(change::Column::Sequence)
        .limit(1)
        .one(db)
        .await?;
    Ok(row.map_or(0, |c| c.sequence))
}

/// Changes matching `filter` after the sequence `after`, oldest first.
pub async fn after(
    db: &DatabaseConnection,
    filter: &ChangeFilter,
    after: i64,
    limit: u64,
) -> Result<Vec<change::Model>> {
    let mut query = change::Entity::find().filter(change::Column::Sequence.gt(after));
    query = crate::registry::history::filtered(query, filter);
    Ok(query
        .order_by_asc(change::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?)
}
