//! The release workflow: model aliases (some protected), release requests and the
//! decisions on them.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ModelAlias {
    Table,
    ModelId,
    Alias,
    VersionId,
    SetBy,
    SetAt,
    Protected,
    RequiredApprovals,
}

#[derive(DeriveIden)]
enum ReleaseRequest {
    Table,
    Id,
    ModelId,
    VersionId,
    Alias,
    State,
    Note,
    RequestedBy,
    RequestedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum ReleaseDecision {
    Table,
    RequestId,
    DecidedBy,
    At,
    Approve,
    Note,
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
                    .table(ModelAlias::Table)
                    .col(big_integer(ModelAlias::ModelId))
                    .col(crate::mysql::key_text(manager, ModelAlias::Alias, 63))
                    // none while a protected alias waits for its first release
                    .col(big_integer_null(ModelAlias::VersionId))
                    .col(text(ModelAlias::SetBy))
                    .col(big_integer(ModelAlias::SetAt))
                    .col(boolean(ModelAlias::Protected).default(false))
                    .col(integer(ModelAlias::RequiredApprovals).default(1))
                    .primary_key(
                        Index::create()
                            .col(ModelAlias::ModelId)
                            .col(ModelAlias::Alias),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_model_alias_model")
                            .from(ModelAlias::Table, ModelAlias::ModelId)
                            .to(Node::Table, Node::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_model_alias_version")
                            .from(ModelAlias::Table, ModelAlias::VersionId)
                            .to(Node::Table, Node::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_model_alias_version")
                    .table(ModelAlias::Table)
                    .col(ModelAlias::VersionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseRequest::Table)
                    .col(big_pk_auto(ReleaseRequest::Id))
                    .col(big_integer(ReleaseRequest::ModelId))
                    .col(big_integer(ReleaseRequest::VersionId))
                    .col(text(ReleaseRequest::Alias))
                    .col(crate::mysql::key_text(manager, ReleaseRequest::State, 32))
                    .col(text_null(ReleaseRequest::Note))
                    .col(text(ReleaseRequest::RequestedBy))
                    .col(big_integer(ReleaseRequest::RequestedAt))
                    .col(big_integer_null(ReleaseRequest::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_release_request_version")
                            .from(ReleaseRequest::Table, ReleaseRequest::VersionId)
                            .to(Node::Table, Node::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_release_request_model")
                    .table(ReleaseRequest::Table)
                    .col(ReleaseRequest::ModelId)
                    .col(ReleaseRequest::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseDecision::Table)
                    .col(big_integer(ReleaseDecision::RequestId))
                    .col(crate::mysql::key_text(
                        manager,
                        ReleaseDecision::DecidedBy,
                        512,
                    ))
                    .col(big_integer(ReleaseDecision::At))
                    .col(boolean(ReleaseDecision::Approve))
                    .col(text_null(ReleaseDecision::Note))
                    // one decision per person per request
                    .primary_key(
                        Index::create()
                            .col(ReleaseDecision::RequestId)
                            .col(ReleaseDecision::DecidedBy),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_release_decision_request")
                            .from(ReleaseDecision::Table, ReleaseDecision::RequestId)
                            .to(ReleaseRequest::Table, ReleaseRequest::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ReleaseDecision::Table.into_iden(),
            ReleaseRequest::Table.into_iden(),
            ModelAlias::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
