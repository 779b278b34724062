//! Nodes indexed by kind and id, so that a list of one kind in id order (the Kubeflow
//! REST lists' default order, GraphQL's `orderBy: {field: ID}`) reads its page from the
//! index in order. Without it PostgreSQL walked the primary key and skipped every node
//! of another kind (868,000 of them before a page of 101 model versions, in a 1M-node
//! store: 165 ms), and MariaDB and SQLite read every node of the kind and sorted them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Node {
    Table,
    Kind,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_node_kind_id")
                    .table(Node::Table)
                    .col(Node::Kind)
                    .col(Node::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_node_kind_id")
                    .table(Node::Table)
                    .to_owned(),
            )
            .await
    }
}
