//! Who may do what (API tokens, role grants) and what was done (the change log).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    KeyId,
    SecretHash,
    Subject,
    Role,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum RoleGrant {
    Table,
    Subject,
    Role,
    GrantedAt,
    GrantedBy,
}

#[derive(DeriveIden)]
enum Change {
    Table,
    Sequence,
    At,
    Actor,
    Via,
    Operation,
    NodeId,
    NodeKind,
    OtherNodeId,
    Before,
    After,
}

#[derive(DeriveIden)]
enum ChangeCounter {
    Table,
    Id,
    LastSequence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .col(big_pk_auto(ApiToken::Id))
                    .col(text(ApiToken::KeyId).unique_key())
                    .col(text(ApiToken::SecretHash))
                    .col(text(ApiToken::Subject))
                    .col(text(ApiToken::Role))
                    .col(big_integer(ApiToken::CreatedAt))
                    .col(big_integer_null(ApiToken::ExpiresAt))
                    .col(big_integer_null(ApiToken::RevokedAt))
                    .col(big_integer_null(ApiToken::LastUsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoleGrant::Table)
                    .col(crate::mysql::key_text(manager, RoleGrant::Subject, 512))
                    .col(crate::mysql::key_text(manager, RoleGrant::Role, 64))
                    .col(big_integer(RoleGrant::GrantedAt))
                    .col(text(RoleGrant::GrantedBy))
                    .primary_key(Index::create().col(RoleGrant::Subject).col(RoleGrant::Role))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Change::Table)
                    .col(big_integer(Change::Sequence).primary_key())
                    .col(big_integer(Change::At))
                    .col(text(Change::Actor))
                    .col(text(Change::Via))
                    .col(text(Change::Operation))
                    .col(big_integer_null(Change::NodeId))
                    .col(text_null(Change::NodeKind))
                    .col(big_integer_null(Change::OtherNodeId))
                    .col(text_null(Change::Before))
                    .col(text_null(Change::After))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_change_node", Change::NodeId),
            ("ix_change_other_node", Change::OtherNodeId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Change::Table)
                        .col(column)
                        .col(Change::Sequence)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_change_at")
                    .table(Change::Table)
                    .col(Change::At)
                    .to_owned(),
            )
            .await?;
        // one row: the last sequence handed out; bumping it in a write's transaction
        // orders commits and leaves no gaps (a rolled-back bump is rolled back too)
        manager
            .create_table(
                Table::create()
                    .table(ChangeCounter::Table)
                    .col(integer(ChangeCounter::Id).primary_key())
                    .col(big_integer(ChangeCounter::LastSequence))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(ChangeCounter::Table)
                    .columns([ChangeCounter::Id, ChangeCounter::LastSequence])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ChangeCounter::Table.into_iden(),
            Change::Table.into_iden(),
            RoleGrant::Table.into_iden(),
            ApiToken::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
