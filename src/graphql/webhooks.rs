//! Webhooks over GraphQL (ADMIN): `createWebhook`, `updateWebhook`, `deleteWebhook`,
//! `webhooks`, `webhookDeliveries`. Delivery itself is `events::webhooks`.
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery};

use super::ContextExt;
use super::access::RoleGuard;
use super::errors::GqlResult;
use super::history::{ChangeFilter, ChangeOperation};
use super::types::{NodeKind, datetime, parse_id, to_id};
use crate::auth;
use crate::events::webhooks::{self as hooks, NewWebhook, Outcome, WebhookChanges};
use crate::registry::RegistryError;
use crate::registry::history::ChangeFilter as RegChangeFilter;

/// Where matching changes are POSTed.
pub struct Webhook(pub webhook::Model);

/// A URL every committed change matching `filter` is POSTed to, in sequence order and at
/// least once, signed in `X-Modelgraph-Signature` (an HMAC-SHA256 of the body keyed with
/// the secret). A receiver should treat a repeated `sequence` as already seen.
#[Object]
impl Webhook {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Which changes it receives.
    async fn filter(&self) -> async_graphql::Result<WebhookFilter> {
        Ok(WebhookFilter(hooks::filter_of(&self.0).gql()?))
    }
    /// Paused webhooks keep their place and catch up when resumed.
    async fn active(&self) -> bool {
        self.0.active
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn created_at(&self) -> DateTime<Utc> {
        datetime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        datetime(self.0.updated_at)
    }
    /// Every matching change up to this sequence has been delivered (or given up on).
    async fn delivered_through(&self) -> i64 {
        self.0.cursor
    }
    /// Failed attempts in a row at the next change (0 when all is well).
    async fn failed_attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next change first failed, while it keeps failing.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since.map(datetime)
    }
    /// When the failing change is tried again.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.attempts > 0).then(|| datetime(self.0.next_attempt_at))
    }
}

/// A webhook's change filter, as it was given (the secret is never shown).
pub struct WebhookFilter(RegChangeFilter);

/// A webhook's change filter, as it was given; every condition set must hold.
#[Object]
impl WebhookFilter {
    async fn node_ids(&self) -> Option<Vec<ID>> {
        self.0
            .node_ids
            .as_ref()
            .map(|ids| ids.iter().copied().map(to_id).collect())
    }
    async fn kinds(&self) -> Option<Vec<NodeKind>> {
        self.0
            .kinds
            .as_ref()
            .map(|kinds| kinds.iter().filter_map(|k| NodeKind::from_db(k)).collect())
    }
    async fn actors(&self) -> Option<&[String]> {
        self.0.actors.as_deref()
    }
    async fn operations(&self) -> Option<Vec<ChangeOperation>> {
        self.0
            .operations
            .as_ref()
            .map(|ops| ops.iter().map(|o| ChangeOperation::from(*o)).collect())
    }
    async fn since(&self) -> Option<DateTime<Utc>> {
        self.0.since.map(datetime)
    }
    async fn until(&self) -> Option<DateTime<Utc>> {
        self.0.until.map(datetime)
    }
}

/// What one delivery attempt came to.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "Outcome")]
pub enum WebhookDeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It did not; the change is tried again after a backoff.
    Failed,
    /// It kept failing for `--webhook-retry-for`; the webhook moved on.
    GaveUp,
}

/// One attempt to deliver one change.
pub struct WebhookDelivery(pub webhook_delivery::Model);

/// One attempt to deliver one change to a webhook; every attempt is recorded.
#[Object]
impl WebhookDelivery {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }
    async fn webhook_id(&self) -> ID {
        to_id(self.0.webhook_id)
    }
    /// The change's sequence.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }
    /// 1 for the first attempt at this change.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    async fn outcome(&self) -> async_graphql::Result<WebhookDeliveryOutcome> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == self.0.outcome)
            .map(WebhookDeliveryOutcome::from)
            .ok_or_else(|| RegistryError::Internal(format!("stored outcome {:?}", self.0.outcome)))
            .gql()
    }
    /// The receiver's HTTP status, when it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    /// Why it failed: the status, a timeout, a refused connection.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// From sending the request to the answer (or the failure).
    async fn latency_ms(&self) -> i64 {
        self.0.latency_ms
    }
    async fn at(&self) -> DateTime<Utc> {
        datetime(self.0.at)
    }
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook, oldest first (ADMIN).
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        let rows = hooks::list(&ctx.state().db).await.gql()?;
        Ok(rows.into_iter().map(Webhook).collect())
    }

    /// One webhook's delivery attempts, newest first (ADMIN).
    #[graphql(
        guard = "RoleGuard(auth::Role::Admin)",
        complexity = "crate::graphql::pagination::list_complexity(child_complexity, first, None)"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, WebhookDelivery>> {
        let id = parse_id(&webhook_id, "webhookId").gql()?;
        let db = &ctx.state().db;
        hooks::get(db, id).await.gql()?;
        let (first, before) = super::pagination::descending_window(ctx, first, after)?;
        let rows = hooks::deliveries(db, id, before, first + 1).await.gql()?;
        Ok(super::pagination::descending_page(
            rows,
            first,
            before,
            |d| d.id,
            WebhookDelivery,
        ))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// POSTs every change matching `filter` committed from now on (or after the
    /// filter's `afterSequence`) to `url`, signed with `secret` (ADMIN). Only http and
    /// https; loopback and private targets only with `--webhook-allow-private`.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        url: String,
        filter: Option<ChangeFilter>,
        secret: String,
        #[graphql(default = true)] active: bool,
    ) -> async_graphql::Result<Webhook> {
        let filter = filter.unwrap_or_default().registry().gql()?;
        let state = ctx.state();
        let new = NewWebhook {
            url,
            filter,
            secret,
            active,
        };
        let row = hooks::create(&state.db, &state.webhooks, &ctx.principal().subject, new)
            .await
            .gql()?;
        Ok(Webhook(row))
    }

    /// Changes a webhook's URL, filter, secret or whether it is active (ADMIN); a
    /// failing change is tried again at once.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: ID,
        url: Option<String>,
        filter: Option<ChangeFilter>,
        secret: Option<String>,
        active: Option<bool>,
    ) -> async_graphql::Result<Webhook> {
        let id = parse_id(&id, "id").gql()?;
        let changes = WebhookChanges {
            url,
            filter: filter.map(|f| f.registry()).transpose().gql()?,
            secret,
            active,
        };
        let state = ctx.state();
        let row = hooks::update(&state.db, &state.webhooks, id, changes)
            .await
            .gql()?;
        Ok(Webhook(row))
    }

    /// Deletes a webhook and its delivery records (ADMIN); what it was.
    #[graphql(guard = "RoleGuard(auth::Role::Admin)")]
    async fn delete_webhook(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Webhook> {
        let id = parse_id(&id, "id").gql()?;
        let row = hooks::delete(&ctx.state().db, id).await.gql()?;
        Ok(Webhook(row))
    }
}
