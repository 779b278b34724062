//! Every value a run logs for a metric, in order (the metric artifact keeps the latest).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MetricHistory {
    Table,
    Id,
    RunId,
    MetricId,
    Name,
    Value,
    Step,
    Timestamp,
    CreateTime,
}

#[derive(DeriveIden)]
enum Node {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MetricHistory::Table)
                    .col(big_pk_auto(MetricHistory::Id))
                    .col(big_integer(MetricHistory::RunId))
                    .col(big_integer(MetricHistory::MetricId))
                    .col(crate::mysql::key_text(manager, MetricHistory::Name, 255))
                    .col(double_null(MetricHistory::Value))
                    .col(big_integer_null(MetricHistory::Step))
                    .col(big_integer_null(MetricHistory::Timestamp))
                    .col(big_integer(MetricHistory::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_metric_history_run")
                            .from(MetricHistory::Table, MetricHistory::RunId)
                            .to(Node::Table, Node::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_metric_history_metric")
                            .from(MetricHistory::Table, MetricHistory::MetricId)
                            .to(Node::Table, Node::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_metric_history_run")
                    .table(MetricHistory::Table)
                    .col(MetricHistory::RunId)
                    .col(MetricHistory::Name)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MetricHistory::Table).to_owned())
            .await
    }
}
