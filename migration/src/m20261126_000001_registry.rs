//! The registry: one `node` table for every kind (one global id space), the typed
//! custom-property index used by filters, and the lineage edge table.
use sea_orm_migration::{prelude::*, schema::*};

use crate::mysql::{byte_wise_text, indexed_text, key_text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Node {
    Table,
    Id,
    Kind,
    Name,
    Namespace,
    ParentId,
    ParentKind,
    ScopeId,
    ExternalId,
    Description,
    Owner,
    State,
    CustomProperties,
    CreateTime,
    LastUpdateTime,
    Revision,
    Uri,
    ModelFormatName,
    ModelFormatVersion,
    StorageKey,
    StoragePath,
    ServiceAccountName,
    ModelSourceKind,
    ModelSourceClass,
    ModelSourceGroup,
    ModelSourceId,
    ModelSourceName,
    Digest,
    SourceType,
    Source,
    DatasetSchema,
    Profile,
    MetricValue,
    MetricTimestamp,
    MetricStep,
    ParameterValue,
    ParameterType,
    StartTime,
    EndTime,
    Status,
    RegisteredModelId,
    ModelVersionId,
    Runtime,
    Readme,
    Maturity,
    Language,
    Tasks,
    Provider,
    Logo,
    License,
    LicenseLink,
    LibraryName,
}

#[derive(DeriveIden)]
enum NodeProperty {
    Table,
    NodeId,
    Key,
    ValueType,
    IntValue,
    DoubleValue,
    StringValue,
    BoolValue,
}

#[derive(DeriveIden, Clone, Copy)]
enum LineageEdge {
    Table,
    Id,
    SourceId,
    TargetId,
    Kind,
    Properties,
    CreateTime,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        byte_wise_text(manager).await?;
        manager
            .create_table(
                Table::create()
                    .table(Node::Table)
                    .col(big_pk_auto(Node::Id))
                    .col(string_len(Node::Kind, 32))
                    .col(text(Node::Name))
                    .col(text(Node::Namespace).default(""))
                    .col(big_integer_null(Node::ParentId))
                    .col(string_len_null(Node::ParentKind, 32))
                    // parent id, or 0 for top-level kinds: NULLs never clash in a unique index
                    .col(big_integer(Node::ScopeId))
                    .col(text_null(Node::ExternalId))
                    .col(text_null(Node::Description))
                    .col(text_null(Node::Owner))
                    .col(string_len(Node::State, 32))
                    .col(text(Node::CustomProperties))
                    .col(big_integer(Node::CreateTime))
                    .col(big_integer(Node::LastUpdateTime))
                    .col(big_integer(Node::Revision))
                    .col(text_null(Node::Uri))
                    .col(text_null(Node::ModelFormatName))
                    .col(text_null(Node::ModelFormatVersion))
                    .col(text_null(Node::StorageKey))
                    .col(text_null(Node::StoragePath))
                    .col(text_null(Node::ServiceAccountName))
                    .col(text_null(Node::ModelSourceKind))
                    .col(text_null(Node::ModelSourceClass))
                    .col(text_null(Node::ModelSourceGroup))
                    .col(text_null(Node::ModelSourceId))
                    .col(text_null(Node::ModelSourceName))
                    .col(text_null(Node::Digest))
                    .col(text_null(Node::SourceType))
                    .col(text_null(Node::Source))
                    .col(text_null(Node::DatasetSchema))
                    .col(text_null(Node::Profile))
                    .col(double_null(Node::MetricValue))
                    .col(big_integer_null(Node::MetricTimestamp))
                    .col(big_integer_null(Node::MetricStep))
                    .col(text_null(Node::ParameterValue))
                    .col(string_len_null(Node::ParameterType, 16))
                    .col(big_integer_null(Node::StartTime))
                    .col(big_integer_null(Node::EndTime))
                    .col(string_len_null(Node::Status, 16))
                    .col(big_integer_null(Node::RegisteredModelId))
                    .col(big_integer_null(Node::ModelVersionId))
                    .col(text_null(Node::Runtime))
                    .col(text_null(Node::Readme))
                    .col(text_null(Node::Maturity))
                    .col(text_null(Node::Language))
                    .col(text_null(Node::Tasks))
                    .col(text_null(Node::Provider))
                    .col(text_null(Node::Logo))
                    .col(text_null(Node::License))
                    .col(text_null(Node::LicenseLink))
                    .col(text_null(Node::LibraryName))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_node_parent")
                            .from(Node::Table, Node::ParentId)
                            .to(Node::Table, Node::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_node_registered_model")
                            .from(Node::Table, Node::RegisteredModelId)
                            .to(Node::Table, Node::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_node_model_version")
                            .from(Node::Table, Node::ModelVersionId)
                            .to(Node::Table, Node::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ux_node_name",
                &[Node::Kind, Node::ScopeId, Node::Namespace, Node::Name][..],
            ),
            ("ux_node_external_id", &[Node::ExternalId][..]),
        ] {
            let mut index = Index::create()
                .name(name)
                .table(Node::Table)
                .unique()
                .to_owned();
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index).await?;
        }
        for (name, cols) in [
            (
                "ix_node_kind_create",
                &[Node::Kind, Node::CreateTime, Node::Id][..],
            ),
            (
                "ix_node_kind_update",
                &[Node::Kind, Node::LastUpdateTime, Node::Id][..],
            ),
            ("ix_node_parent", &[Node::ParentId, Node::Kind][..]),
            ("ix_node_model_version", &[Node::ModelVersionId][..]),
            ("ix_node_registered_model", &[Node::RegisteredModelId][..]),
        ] {
            let mut index = Index::create().name(name).table(Node::Table).to_owned();
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(NodeProperty::Table)
                    .col(big_integer(NodeProperty::NodeId))
                    .col(key_text(manager, NodeProperty::Key, 255))
                    .col(string_len(NodeProperty::ValueType, 8))
                    .col(big_integer_null(NodeProperty::IntValue))
                    .col(double_null(NodeProperty::DoubleValue))
                    .col(text_null(NodeProperty::StringValue))
                    .col(boolean_null(NodeProperty::BoolValue))
                    .primary_key(
                        Index::create()
                            .col(NodeProperty::NodeId)
                            .col(NodeProperty::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_node_property_node")
                            .from(NodeProperty::Table, NodeProperty::NodeId)
                            .to(Node::Table, Node::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_node_property_key_string")
                    .table(NodeProperty::Table)
                    .col(NodeProperty::Key)
                    .col(indexed_text(manager, NodeProperty::StringValue, 255))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_node_property_key_double")
                    .table(NodeProperty::Table)
                    .col(NodeProperty::Key)
                    .col(NodeProperty::DoubleValue)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LineageEdge::Table)
                    .col(big_pk_auto(LineageEdge::Id))
                    .col(big_integer(LineageEdge::SourceId))
                    .col(big_integer(LineageEdge::TargetId))
                    .col(string_len(LineageEdge::Kind, 16))
                    .col(text_null(LineageEdge::Properties))
                    .col(big_integer(LineageEdge::CreateTime))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lineage_edge_source")
                            .from(LineageEdge::Table, LineageEdge::SourceId)
                            .to(Node::Table, Node::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lineage_edge_target")
                            .from(LineageEdge::Table, LineageEdge::TargetId)
                            .to(Node::Table, Node::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_lineage_edge")
                    .table(LineageEdge::Table)
                    .col(LineageEdge::SourceId)
                    .col(LineageEdge::TargetId)
                    .col(LineageEdge::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // walks go upstream by target and downstream by source; the covering columns
        // let a frontier step read edges without touching the table
        for (name, near, far) in [
            (
                "ix_lineage_edge_target",
                LineageEdge::TargetId,
                LineageEdge::SourceId,
            ),
            (
                "ix_lineage_edge_source",
                LineageEdge::SourceId,
                LineageEdge::TargetId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LineageEdge::Table)
                        .col(near)
                        .col(far)
                        .col(LineageEdge::Kind)
                        .col(LineageEdge::CreateTime)
                        .col(LineageEdge::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LineageEdge::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(NodeProperty::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Node::Table).to_owned())
            .await
    }
}
