//! Versions indexed by model, kind and creation: a model's latest version is then the
//! first entry of its range of the index, found without sorting its versions (what the
//! batched `latestVersion` read asks for every listed model). It replaces the index on
//! (parent_id, kind), a prefix of this one, so a write updates as many indexes as before.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Node {
    Table,
    ParentId,
    Kind,
    CreateTime,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_node_parent_create")
                    .table(Node::Table)
                    .col(Node::ParentId)
                    .col(Node::Kind)
                    .col(Node::CreateTime)
                    .col(Node::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_node_parent")
                    .table(Node::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_node_parent")
                    .table(Node::Table)
                    .col(Node::ParentId)
                    .col(Node::Kind)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_node_parent_create")
                    .table(Node::Table)
                    .to_owned(),
            )
            .await
    }
}
