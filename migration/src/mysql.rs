//! What MySQL/MariaDB needs spelled differently: a TEXT column cannot be (part of) a
//! primary key, nor sit in an ordinary index without a prefix length. SQLite and
//! PostgreSQL keep TEXT; on MySQL/MariaDB these columns are VARCHARs as long as what the
//! server lets in (names and property keys 255 characters, aliases 63).
use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

/// A text column that is part of a key: TEXT, or on MySQL/MariaDB `VARCHAR(chars)`.
pub fn key_text<T: IntoIden>(manager: &SchemaManager, col: T, chars: u32) -> ColumnDef {
    if is_mysql(manager) {
        string_len(col, chars)
    } else {
        text(col)
    }
}

/// An index column over unbounded text: on MySQL/MariaDB only its first `chars`
/// characters are indexed (lookups still compare the whole value).
pub fn indexed_text<T: IntoIden>(manager: &SchemaManager, col: T, chars: u32) -> IndexColumn {
    if is_mysql(manager) {
        IndexColumn::from((col, chars))
    } else {
        IndexColumn::from(col)
    }
}

/// Makes the tables created after it compare text byte for byte, as on SQLite and
/// PostgreSQL: MySQL's default collation folds case, and "Model" and "model" would be
/// one name. Run once, before the first table.
pub async fn byte_wise_text(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if is_mysql(manager) {
        manager
            .get_connection()
            .execute_unprepared("ALTER DATABASE CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            .await?;
    }
    Ok(())
}

pub fn is_mysql(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == DbBackend::MySql
}
