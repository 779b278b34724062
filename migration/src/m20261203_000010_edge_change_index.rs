//! The change log's index by an edge's other end holds only the changes that have one
//! (edges added or removed, releases): every node change (1M of the 2.4M change rows an
//! imported 1M-node graph writes) left a NULL entry that no read looks up (every read
//! of it asks for ids, which no NULL matches).
//! Built again as a partial index on SQLite and PostgreSQL; MySQL/MariaDB has no partial
//! indexes and keeps the whole one.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Change {
    Table,
    OtherNodeId,
    Sequence,
}

/// The whole index, as migration 5 made it.
const WHOLE: &str = "ix_change_other_node";
/// The partial one.
const PARTIAL: &str = "ix_change_other_end";

fn index(name: &str) -> IndexCreateStatement {
    let mut index = Index::create()
        .name(name)
        .table(Change::Table)
        .col(Change::OtherNodeId)
        .col(Change::Sequence)
        .to_owned();
    if name == PARTIAL {
        index.and_where(Expr::col(Change::OtherNodeId).is_not_null());
    }
    index
}

/// Creates the index `to`, then drops `from`: under another name, since on SQLite a
/// pooled connection's copy of the schema may still hold an index just dropped through
/// another, and `CREATE INDEX` is checked against that copy.
async fn replace(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == sea_orm::DbBackend::MySql {
        return Ok(());
    }
    manager.create_index(index(to)).await?;
    manager
        .drop_index(Index::drop().name(from).table(Change::Table).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, WHOLE, PARTIAL).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, PARTIAL, WHOLE).await
    }
}
