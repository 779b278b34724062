//! A counter row per registered model: the number the next unnamed version gets, so
//! numbering costs one statement however many versions the model has. Filled here from
//! the versions already named with a number.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VersionCounter {
    Table,
    ModelId,
    LastNumber,
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
                    .table(VersionCounter::Table)
                    .col(
                        ColumnDef::new(VersionCounter::ModelId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(VersionCounter::LastNumber)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VersionCounter::Table, VersionCounter::ModelId)
                            .to(Node::Table, Node::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // names of 1-18 digits are numbers (19 could overflow a BIGINT)
        let numbered = match manager.get_database_backend() {
            DbBackend::Postgres => r#""name" ~ '^[0-9]{1,18}$'"#,
            DbBackend::MySql => r#""name" REGEXP '^[0-9]{1,18}$'"#,
            _ => r#"length("name") BETWEEN 1 AND 18 AND "name" NOT GLOB '*[^0-9]*'"#,
        };
        let cast = match manager.get_database_backend() {
            DbBackend::Postgres => "BIGINT",
            DbBackend::MySql => "SIGNED",
            _ => "INTEGER",
        };
        manager
            .get_connection()
            .execute_unprepared(&format!(
                r#"INSERT INTO "version_counter" ("model_id", "last_number")
                   SELECT "parent_id", MAX(CAST("name" AS {cast})) FROM "node"
                   WHERE "kind" = 'MODEL_VERSION' AND "parent_id" IS NOT NULL AND {numbered}
                   GROUP BY "parent_id""#
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(VersionCounter::Table).to_owned())
            .await
    }
}
