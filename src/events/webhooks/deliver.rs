//! The delivery worker every server runs. It looks for webhooks with changes past
//! their cursor (when this server commits, and every `POLL` for other servers' commits),
//! takes a lease on each it will deliver, and POSTs their changes one by one in sequence
//! order, moving the cursor after each answer in 2xx. A failure stops that webhook until
//! its backoff has passed; other webhooks go on.
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entity::{change, webhook, webhook_delivery};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use tokio::sync::Semaphore;

use super::{Outcome, WebhookSettings, body, filter_of, signature, target};
use crate::registry::Result;
use crate::registry::time::now_ms;

/// How often webhooks are checked for changes committed by other servers.
pub const POLL: Duration = Duration::from_secs(1);
/// Changes read from the log at once for one webhook.
const BATCH: u64 = 100;

/// Starts delivering webhooks from this server until the process ends.
pub fn start(db: DatabaseConnection, settings: WebhookSettings) -> tokio::task::JoinHandle<()> {
    let worker = Worker {
        owner: uuid::Uuid::new_v4().to_string(),
        client: client(&settings),
        slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
        busy: Arc::default(),
        db,
        settings,
    };
    tokio::spawn(worker.run())
}

fn client(settings: &WebhookSettings) -> reqwest::Client {
    reqwest::Client::builder()
        // a redirect could lead anywhere; the receiver's URL is the one configured
        .redirect(reqwest::redirect::Policy::none())
        // a proxy would resolve names where the private-address check can't see
        .no_proxy()
        .timeout(settings.timeout)
        .dns_resolver(Arc::new(target::Resolver {
            allow_private: settings.allow_private,
        }))
        .user_agent(concat!("modelgraph-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the webhook HTTP client builds")
}

#[derive(Clone)]
struct Worker {
    db: DatabaseConnection,
    settings: WebhookSettings,
    /// This server, as the holder of leases.
    owner: String,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    /// Webhooks this server is delivering now.
    busy: Arc<Mutex<HashSet<i64>>>,
}

impl Worker {
    async fn run(self) {
        loop {
            if let Err(err) = self.round().await {
                tracing::warn!(error = %err, "looking for webhook deliveries failed");
            }
            tokio::select! {
                () = crate::registry::history::committed().notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Starts delivering every webhook that is due and has changes past its cursor.
    async fn round(&self) -> Result<()> {
        let now = now_ms();
        let due: Vec<webhook::Model> = webhook::Entity::find()
            .filter(webhook::Column::Active.eq(true))
            .filter(webhook::Column::NextAttemptAt.lte(now))
            .limit(super::MAX_WEBHOOKS)
            .all(&self.db)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let high = crate::events::highest(&self.db).await?;
        for hook in due {
            let leased_elsewhere = hook.lease_owner.as_ref().is_some_and(|o| *o != self.owner)
                && hook.lease_until.is_some_and(|until| until > now);
            if hook.cursor >= high || leased_elsewhere {
                continue;
            }
            if !self.busy.lock().expect("busy set").insert(hook.id) {
                continue;
            }
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                self.busy.lock().expect("busy set").remove(&hook.id);
                break;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let id = hook.id;
                match worker.claim(id).await {
                    Ok(true) => {
                        if let Err(err) = worker.deliver(id).await {
                            tracing::warn!(webhook = id, error = %err, "webhook delivery stopped");
                        }
                        let _ = worker.release(id).await;
                    }
                    Ok(false) => {}
                    Err(err) => {
                        tracing::warn!(webhook = id, error = %err, "leasing a webhook failed")
                    }
                }
                worker.busy.lock().expect("busy set").remove(&id);
            });
        }
        Ok(())
    }

    fn lease_until(&self) -> i64 {
        now_ms() + i64::try_from(self.settings.lease().as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Takes the webhook's lease if nobody else holds it; one statement, so two
    /// servers can't both win.
    async fn claim(&self, id: i64) -> Result<bool> {
        let now = now_ms();
        let done = webhook::Entity::update_many()
            .col_expr(webhook::Column::LeaseOwner, Expr::value(self.owner.clone()))
            .col_expr(webhook::Column::LeaseUntil, Expr::value(self.lease_until()))
            .filter(webhook::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(webhook::Column::LeaseOwner.is_null())
                    .add(webhook::Column::LeaseOwner.eq(self.owner.clone()))
                    .add(webhook::Column::LeaseUntil.lt(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    async fn release(&self, id: i64) -> Result<()> {
        webhook::Entity::update_many()
            .col_expr(
                webhook::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(webhook::Column::Id.eq(id))
            .filter(webhook::Column::LeaseOwner.eq(self.owner.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Moves the cursor past `sequence` (and renews the lease) if this server still
    /// holds the webhook; false when it lost it, or the webhook is gone.
    async fn advance(&self, id: i64, sequence: i64) -> Result<bool> {
        let done = webhook::Entity::update_many()
            .col_expr(webhook::Column::Cursor, Expr::value(sequence))
            .col_expr(webhook::Column::Attempts, Expr::value(0))
            .col_expr(
                webhook::Column::FailingSince,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(webhook::Column::NextAttemptAt, Expr::value(0i64))
            .col_expr(webhook::Column::LeaseUntil, Expr::value(self.lease_until()))
            .filter(webhook::Column::Id.eq(id))
            .filter(webhook::Column::LeaseOwner.eq(self.owner.clone()))
            .filter(webhook::Column::Cursor.lt(sequence))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// After a failure: when to try again.
    async fn postpone(&self, id: i64, attempts: i32, failing_since: i64) -> Result<()> {
        let wait = self.settings.backoff_after(attempts);
        let next = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        webhook::Entity::update_many()
            .col_expr(webhook::Column::Attempts, Expr::value(attempts))
            .col_expr(webhook::Column::FailingSince, Expr::value(failing_since))
            .col_expr(webhook::Column::NextAttemptAt, Expr::value(next))
            .filter(webhook::Column::Id.eq(id))
            .filter(webhook::Column::LeaseOwner.eq(self.owner.clone()))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Delivers the webhook's changes in order until it is caught up, a delivery
    /// fails, or the lease is lost.
    async fn deliver(&self, id: i64) -> Result<()> {
        loop {
            let Some(hook) = webhook::Entity::find_by_id(id).one(&self.db).await? else {
                return Ok(());
            };
            if !hook.active || hook.lease_owner.as_deref() != Some(self.owner.as_str()) {
                return Ok(());
            }
            let high = crate::events::highest(&self.db).await?;
            if hook.cursor >= high {
                return Ok(());
            }
            let filter = filter_of(&hook)?;
            let batch: Vec<change::Model> =
                crate::events::after(&self.db, &filter, hook.cursor, BATCH)
                    .await?
                    .into_iter()
                    .filter(|c| c.sequence <= high)
                    .collect();
            let whole = (batch.len() as u64) < BATCH;
            let mut attempts = hook.attempts;
            let mut failing_since = hook.failing_since;
            for change in &batch {
                let attempt = attempts + 1;
                let sent = self.post(&hook, change, attempt).await;
                let now = now_ms();
                let since = failing_since.unwrap_or(now);
                let outcome = match &sent.result {
                    Ok(_) => Outcome::Delivered,
                    Err(_) if now - since >= retry_for_ms(&self.settings) => Outcome::GaveUp,
                    Err(_) => Outcome::Failed,
                };
                self.record(&hook, change.sequence, attempt, outcome, &sent)
                    .await?;
                match outcome {
                    Outcome::Delivered | Outcome::GaveUp => {
                        if outcome == Outcome::GaveUp {
                            tracing::warn!(
                                webhook = id,
                                sequence = change.sequence,
                                attempts = attempt,
                                "webhook change given up"
                            );
                        }
                        if !self.advance(id, change.sequence).await? {
                            return Ok(());
                        }
                        attempts = 0;
                        failing_since = None;
                    }
                    Outcome::Failed => {
                        self.postpone(id, attempt, since).await?;
                        return Ok(());
                    }
                }
            }
            if whole && !self.advance(id, high).await? {
                // nothing after the last match, or the cursor was there already
                return Ok(());
            }
        }
    }

    /// One POST of one change.
    async fn post(&self, hook: &webhook::Model, change: &change::Model, attempt: i32) -> Sent {
        let started = Instant::now();
        let result = async {
            let url = target::check_url(&hook.url, self.settings.allow_private)
                .map_err(|e| Failure::refused(e.to_string()))?;
            let body = body(hook.id, change);
            let response = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Modelgraph-Signature", signature(&hook.secret, &body))
                .header("X-Modelgraph-Webhook", hook.id.to_string())
                .header("X-Modelgraph-Sequence", change.sequence.to_string())
                .header("X-Modelgraph-Attempt", attempt.to_string())
                .body(body)
                .send()
                .await
                .map_err(|e| Failure::of(&e, self.settings.timeout))?;
            let status = response.status();
            if status.is_success() {
                Ok(status.as_u16())
            } else {
                Err(Failure {
                    status: Some(status.as_u16()),
                    error: format!("the receiver answered {status}"),
                })
            }
        }
        .await;
        Sent {
            latency: started.elapsed(),
            result,
        }
    }

    async fn record(
        &self,
        hook: &webhook::Model,
        sequence: i64,
        attempt: i32,
        outcome: Outcome,
        sent: &Sent,
    ) -> Result<()> {
        let (status, error) = match &sent.result {
            Ok(status) => (Some(*status), None),
            Err(f) => (f.status, Some(f.error.clone())),
        };
        webhook_delivery::ActiveModel {
            webhook_id: Set(hook.id),
            sequence: Set(sequence),
            attempt: Set(attempt),
            outcome: Set(outcome.as_str().to_owned()),
            status_code: Set(status.map(i32::from)),
            error: Set(error),
            latency_ms: Set(i64::try_from(sent.latency.as_millis()).unwrap_or(i64::MAX)),
            at: Set(now_ms()),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }
}

fn retry_for_ms(settings: &WebhookSettings) -> i64 {
    i64::try_from(settings.retry_for.as_millis()).unwrap_or(i64::MAX)
}

/// One attempt: the receiver's 2xx status, or why it failed; and how long it took.
struct Sent {
    latency: Duration,
    result: std::result::Result<u16, Failure>,
}

struct Failure {
    status: Option<u16>,
    error: String,
}

impl Failure {
    fn refused(error: String) -> Self {
        Self {
            status: None,
            error,
        }
    }

    fn of(err: &reqwest::Error, timeout: Duration) -> Self {
        let error = if err.is_timeout() {
            format!("no answer within {}", humantime::format_duration(timeout))
        } else if err.is_connect() {
            format!("could not connect: {}", source_chain(err))
        } else {
            format!("the request failed: {}", source_chain(err))
        };
        Self::refused(error)
    }
}

/// An error and its causes, as one line.
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
