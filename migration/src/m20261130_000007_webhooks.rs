//! Webhooks: where matching changes are POSTed, how far each has got through the change
//! log (its cursor, retries and delivery lease), and every delivery attempt.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhook {
    Table,
    Id,
    Url,
    Filter,
    Secret,
    Active,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    Cursor,
    Attempts,
    FailingSince,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    WebhookId,
    Sequence,
    Attempt,
    Outcome,
    StatusCode,
    Error,
    LatencyMs,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhook::Table)
                    .col(big_pk_auto(Webhook::Id))
                    .col(text(Webhook::Url))
                    // the ChangeFilter, as JSON
                    .col(text(Webhook::Filter))
                    .col(text(Webhook::Secret))
                    .col(boolean(Webhook::Active).default(true))
                    .col(text(Webhook::CreatedBy))
                    .col(big_integer(Webhook::CreatedAt))
                    .col(big_integer(Webhook::UpdatedAt))
                    // every matching change up to this sequence is delivered or given up
                    .col(big_integer(Webhook::Cursor))
                    // failed attempts at the change after the cursor
                    .col(integer(Webhook::Attempts).default(0))
                    .col(big_integer_null(Webhook::FailingSince))
                    .col(big_integer(Webhook::NextAttemptAt).default(0))
                    // the server delivering, until when (several servers share the work)
                    .col(text_null(Webhook::LeaseOwner))
                    .col(big_integer_null(Webhook::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .col(big_pk_auto(WebhookDelivery::Id))
                    .col(big_integer(WebhookDelivery::WebhookId))
                    .col(big_integer(WebhookDelivery::Sequence))
                    .col(integer(WebhookDelivery::Attempt))
                    .col(text(WebhookDelivery::Outcome))
                    .col(integer_null(WebhookDelivery::StatusCode))
                    .col(text_null(WebhookDelivery::Error))
                    .col(big_integer(WebhookDelivery::LatencyMs))
                    .col(big_integer(WebhookDelivery::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_delivery_webhook")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::WebhookId)
                    .col(WebhookDelivery::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDelivery::Table.into_iden(),
            Webhook::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
