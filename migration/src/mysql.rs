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

pub fn is_mysql(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == DbBackend::MySql
}
