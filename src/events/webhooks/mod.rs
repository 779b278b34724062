//! Webhooks: each change matching a webhook's filter is POSTed to its URL as JSON,
//! signed with its secret (`X-Modelgraph-Signature: sha256=<hex HMAC-SHA256 of the
//! body>`), in sequence order, at least once, retried with exponential backoff for
//! `--webhook-retry-for` (24 h). Each webhook keeps a cursor into the change log, so
//! deliveries survive restarts; a lease on the webhook's row makes one server at a time
//! deliver it, so with several servers each change reaches it once, not once per server.
mod deliver;
pub mod target;

use std::time::Duration;

use chrono::SecondsFormat;
use entity::{change, webhook, webhook_delivery};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

pub use deliver::start;

use crate::registry::history::{ChangeFilter, api_fields};
use crate::registry::time::{datetime, now_ms};
use crate::registry::{RegistryError, Result};

/// Webhooks one database may hold.
pub const MAX_WEBHOOKS: u64 = 100;
/// Longest secret accepted.
pub const MAX_SECRET_BYTES: usize = 1024;
/// Longest wait between two attempts at one change.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How deliveries are made (`serve` flags).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Loopback and private targets allowed (`--webhook-allow-private`).
    pub allow_private: bool,
    /// Longest one POST may take (`--webhook-timeout`).
    pub timeout: Duration,
    /// The wait before the first retry, doubled after each failure up to an hour
    /// (`--webhook-backoff`).
    pub backoff: Duration,
    /// How long one change is retried before it is given up (`--webhook-retry-for`).
    pub retry_for: Duration,
    /// Webhooks delivered at once by one server.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            retry_for: Duration::from_secs(24 * 3600),
            concurrency: 16,
        }
    }
}

impl WebhookSettings {
    /// The wait after the `attempts`th failure in a row.
    pub fn backoff_after(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF.max(self.backoff))
    }

    /// How long a server holds a webhook while it delivers: long enough for a POST to
    /// time out twice, short enough that another server takes over soon after a crash.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// What a delivery attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Failed; the change is retried later.
    Failed,
    /// Failed for longer than `--webhook-retry-for`; the webhook moved on.
    GaveUp,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Delivered, Outcome::Failed, Outcome::GaveUp];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "DELIVERED",
            Self::Failed => "FAILED",
            Self::GaveUp => "GAVE_UP",
        }
    }
}

fn check_secret(secret: &str) -> Result<()> {
    if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
        return Err(RegistryError::invalid(
            "secret",
            format!("must be 1 to {MAX_SECRET_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A webhook to create.
pub struct NewWebhook {
    pub url: String,
    pub filter: ChangeFilter,
    pub secret: String,
    pub active: bool,
}

/// Creates a webhook. It receives the changes committed from now on, or from the
/// filter's `afterSequence` when it names one.
pub async fn create(
    db: &DatabaseConnection,
    settings: &WebhookSettings,
    created_by: &str,
    new: NewWebhook,
) -> Result<webhook::Model> {
    target::check_url(&new.url, settings.allow_private)?;
    check_secret(&new.secret)?;
    if webhook::Entity::find().count(db).await? >= MAX_WEBHOOKS {
        return Err(RegistryError::LimitExceeded(format!(
            "at most {MAX_WEBHOOKS} webhooks; delete one first"
        )));
    }
    let cursor = match new.filter.after_sequence {
        Some(seq) => seq.max(0),
        None => super::highest(db).await?,
    };
    let now = now_ms();
    Ok(webhook::ActiveModel {
        url: Set(new.url),
        filter: Set(stored_filter(&new.filter)?),
        secret: Set(new.secret),
        active: Set(new.active),
        created_by: Set(created_by.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        cursor: Set(cursor),
        attempts: Set(0),
        failing_since: Set(None),
        next_attempt_at: Set(0),
        lease_owner: Set(None),
        lease_until: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// What `updateWebhook` changes; what is None stays.
#[derive(Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub filter: Option<ChangeFilter>,
    pub secret: Option<String>,
    pub active: Option<bool>,
}

/// Updates a webhook; a waiting retry is tried at once (the receiver may be fixed).
pub async fn update(
    db: &DatabaseConnection,
    settings: &WebhookSettings,
    id: i64,
    changes: WebhookChanges,
) -> Result<webhook::Model> {
    let row = get(db, id).await?;
    let mut active: webhook::ActiveModel = row.into();
    if let Some(url) = changes.url {
        target::check_url(&url, settings.allow_private)?;
        active.url = Set(url);
    }
    if let Some(secret) = changes.secret {
        check_secret(&secret)?;
        active.secret = Set(secret);
    }
    if let Some(filter) = changes.filter {
        active.filter = Set(stored_filter(&filter)?);
    }
    if let Some(on) = changes.active {
        active.active = Set(on);
    }
    active.updated_at = Set(now_ms());
    active.next_attempt_at = Set(0);
    Ok(active.update(db).await?)
}

/// Deletes a webhook and its delivery records.
pub async fn delete(db: &DatabaseConnection, id: i64) -> Result<webhook::Model> {
    let row = get(db, id).await?;
    webhook::Entity::delete_by_id(id).exec(db).await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .exec(db)
        .await?;
    Ok(row)
}

pub async fn get(db: &DatabaseConnection, id: i64) -> Result<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| RegistryError::not_found(format!("webhook {id}")))
}

/// Every webhook, oldest first (there are at most `MAX_WEBHOOKS`).
pub async fn list(db: &DatabaseConnection) -> Result<Vec<webhook::Model>> {
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .limit(MAX_WEBHOOKS)
        .all(db)
        .await?)
}

/// A webhook's delivery attempts, newest first, before the attempt `before`.
pub async fn deliveries(
    db: &DatabaseConnection,
    webhook_id: i64,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>> {
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id));
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The filter as stored.
fn stored_filter(filter: &ChangeFilter) -> Result<String> {
    serde_json::to_string(filter).map_err(|e| RegistryError::Internal(e.to_string()))
}

/// The filter a webhook was stored with.
pub fn filter_of(row: &webhook::Model) -> Result<ChangeFilter> {
    serde_json::from_str(&row.filter)
        .map_err(|e| RegistryError::Internal(format!("webhook {} filter: {e}", row.id)))
}

/// The JSON body POSTed for one change: the change with the fields GraphQL's `Change`
/// has, and the webhook it goes to. The same bytes on every attempt.
pub fn body(webhook_id: i64, change: &change::Model) -> Vec<u8> {
    let id = |n: Option<i64>| n.map(|n| n.to_string());
    let value = json!({
        "webhookId": webhook_id.to_string(),
        "change": {
            "id": change.sequence.to_string(),
            "sequence": change.sequence,
            "at": datetime(change.at).to_rfc3339_opts(SecondsFormat::Millis, true),
            "actor": change.actor,
            "via": change.via,
            "operation": change.operation,
            "nodeId": id(change.node_id),
            "nodeKind": change.node_kind,
            "otherNodeId": id(change.other_node_id),
            "before": change.before.as_deref().map(api_fields).unwrap_or(Value::Null),
            "after": change.after.as_deref().map(api_fields).unwrap_or(Value::Null),
        }
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`, the `X-Modelgraph-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2
        let sig = signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let s = WebhookSettings::default();
        assert_eq!(s.backoff_after(1), Duration::from_secs(1));
        assert_eq!(s.backoff_after(2), Duration::from_secs(2));
        assert_eq!(s.backoff_after(5), Duration::from_secs(16));
        assert_eq!(s.backoff_after(40), MAX_BACKOFF);
    }
}
