//! Node indexes that leave out the nodes no read of them can find.
//!
//! `ix_node_model_version`, `ix_node_registered_model` and `ix_node_parent_create` now
//! hold only the nodes that have the column set: every read of them asks for ids (`=`,
//! `IN`, `= ANY`), which no NULL matches, and most nodes have none (datasets, artifacts
//! and models have no parent; only serving nodes name a model or a version). Every node
//! write, and an import's index builds, paid for those NULL entries. Partial on SQLite
//! and PostgreSQL; MySQL/MariaDB has no partial indexes and keeps them whole.
//!
//! Runs in one transaction on every store, SQLite included, so its statements share one
//! connection (which sees its own schema changes) and a failure leaves the store as it
//! was.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Node {
    Table,
    ParentId,
    Kind,
    CreateTime,
    Id,
    ModelVersionId,
    RegisteredModelId,
}

/// The node indexes made partial, by name and columns; each holds the nodes whose first
/// column is set.
const NODE_INDEXES: [(&str, &[Node]); 3] = [
    ("ix_node_model_version", &[Node::ModelVersionId]),
    ("ix_node_registered_model", &[Node::RegisteredModelId]),
    (
        "ix_node_parent_create",
        &[Node::ParentId, Node::Kind, Node::CreateTime, Node::Id],
    ),
];

/// Builds the node indexes again, partial or whole (on MySQL/MariaDB, nothing: they
/// stay whole).
async fn node_indexes_again(manager: &SchemaManager<'_>, partial: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::MySql {
        return Ok(());
    }
    for (name, cols) in NODE_INDEXES {
        manager
            .drop_index(Index::drop().name(name).table(Node::Table).to_owned())
            .await?;
        let mut index = Index::create().name(name).table(Node::Table).to_owned();
        for col in cols {
            index.col(*col);
        }
        if partial {
            index.and_where(Expr::col(cols[0]).is_not_null());
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        node_indexes_again(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        node_indexes_again(manager, false).await
    }
}
