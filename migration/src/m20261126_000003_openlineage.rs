//! OpenLineage facets kept on nodes (datasets, jobs, runs), and a run's parent run.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Node {
    Table,
    Facets,
    ParentRunId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // one column per statement: SQLite alters a table one column at a time
        manager
            .alter_table(
                Table::alter()
                    .table(Node::Table)
                    .add_column(text_null(Node::Facets))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Node::Table)
                    .add_column(big_integer_null(Node::ParentRunId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Node::Table)
                    .drop_column(Node::ParentRunId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Node::Table)
                    .drop_column(Node::Facets)
                    .to_owned(),
            )
            .await
    }
}
