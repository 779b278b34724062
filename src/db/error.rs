//! What went wrong talking to a database, in terms the registry acts on: which
//! constraint refused a row, or a failure it can only report. Driver types stop here.
use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr};

#[derive(Clone, Debug, thiserror::Error)]
pub enum DbError {
    /// A unique index refused a row.
    #[error("unique constraint {} refused the row", .0.name())]
    Unique(Constraint),
    /// A row named a row that does not exist.
    #[error("a foreign key refused the row")]
    ForeignKey,
    /// The transaction lost to a concurrent one and was rolled back: a deadlock, a
    /// serialization failure, a lock not granted in time, or on a Galera cluster a
    /// certification conflict (reported as a deadlock). Running it again may succeed.
    #[error("the transaction lost to a concurrent one: {0}")]
    Contention(String),
    /// Anything else: the driver's text, for the logs.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// The schema's unique indexes (`migration/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// `ux_node_name`: a name within its kind and parent.
    NodeName,
    /// `ux_node_external_id`
    NodeExternalId,
    /// `ux_lineage_edge`: one edge per source, target and kind.
    LineageEdge,
    /// A unique index this list does not know (a primary key, say).
    Unknown,
}

/// Each index by name (as PostgreSQL reports it) and by the columns SQLite reports,
/// which names no index.
const UNIQUE_INDEXES: [(Constraint, &str, &str); 3] = [
    (
        Constraint::NodeName,
        "ux_node_name",
        "node.kind, node.scope_id, node.namespace, node.name",
    ),
    (
        Constraint::NodeExternalId,
        "ux_node_external_id",
        "node.external_id",
    ),
    (
        Constraint::LineageEdge,
        "ux_lineage_edge",
        "lineage_edge.source_id, lineage_edge.target_id, lineage_edge.kind",
    ),
];

impl Constraint {
    pub fn name(self) -> &'static str {
        UNIQUE_INDEXES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("(unknown)", |(_, name, _)| name)
    }

    fn by_name(name: &str) -> Self {
        UNIQUE_INDEXES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map_or(Self::Unknown, |(c, _, _)| *c)
    }

    /// From MySQL/MariaDB's "Duplicate entry '...' for key 'name'" (MySQL 8 writes
    /// `table.name`).
    fn by_mysql_message(message: &str) -> Self {
        let key = message
            .rsplit_once(" for key '")
            .and_then(|(_, rest)| rest.strip_suffix('\''))
            .unwrap_or_default();
        Self::by_name(key.rsplit('.').next().unwrap_or(key))
    }

    /// From SQLite's "UNIQUE constraint failed: table.col, table.col".
    fn by_sqlite_message(message: &str) -> Self {
        let columns = message
            .strip_prefix("UNIQUE constraint failed: ")
            .unwrap_or(message);
        UNIQUE_INDEXES
            .iter()
            .find(|(_, _, cols)| *cols == columns)
            .map_or(Self::Unknown, |(c, _, _)| *c)
    }
}

impl From<DbErr> for DbError {
    fn from(err: DbErr) -> Self {
        if let DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) = &err
            && let sea_orm::sqlx::Error::Database(db) = e.deref()
        {
            let mysql = db.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>();
            match db.kind() {
                sea_orm::sqlx::error::ErrorKind::UniqueViolation => {
                    return Self::Unique(match (db.constraint(), mysql) {
                        (Some(name), _) => Constraint::by_name(name),
                        (None, Some(_)) => Constraint::by_mysql_message(db.message()),
                        (None, None) => Constraint::by_sqlite_message(db.message()),
                    });
                }
                sea_orm::sqlx::error::ErrorKind::ForeignKeyViolation => return Self::ForeignKey,
                _ => {}
            }
            let code = db.code();
            let number = mysql.map(|e| e.number());
            if is_contention(code.as_deref(), number) {
                return Self::Contention(db.message().to_owned());
            }
        }
        Self::Other(err.to_string())
    }
}

/// PostgreSQL's serialization failure (40001), deadlock (40P01) and lock not available
/// (55P03); MySQL/MariaDB's deadlock (1213, SQLSTATE 40001, also Galera's certification
/// failure) and lock wait timeout (1205).
fn is_contention(sqlstate: Option<&str>, mysql_number: Option<u16>) -> bool {
    matches!(sqlstate, Some("40001" | "40P01" | "55P03"))
        || matches!(mysql_number, Some(1205 | 1213))
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        if let rusqlite::Error::SqliteFailure(failure, detail) = &err {
            match failure.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    return Self::Unique(Constraint::by_sqlite_message(
                        detail.as_deref().unwrap_or_default(),
                    ));
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return Self::ForeignKey,
                _ => {}
            }
        }
        Self::Other(format!("sqlite: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct SQLite session names the index that refused a row as sqlx's path does.
    #[test]
    fn sqlite_failures_name_the_constraint() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE node (id INTEGER PRIMARY KEY, external_id TEXT);
             CREATE UNIQUE INDEX ux_node_external_id ON node (external_id);
             CREATE TABLE child (id INTEGER PRIMARY KEY, node_id INTEGER REFERENCES node(id));
             INSERT INTO node (id, external_id) VALUES (1, 'run-1');",
        )
        .unwrap();
        let clash = conn
            .execute("INSERT INTO node (id, external_id) VALUES (2, 'run-1')", [])
            .unwrap_err();
        assert!(
            matches!(
                DbError::from(clash),
                DbError::Unique(Constraint::NodeExternalId)
            ),
            "external id clash"
        );
        let dangling = conn
            .execute("INSERT INTO child (id, node_id) VALUES (1, 99)", [])
            .unwrap_err();
        assert!(matches!(DbError::from(dangling), DbError::ForeignKey));
        let syntax = conn
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert!(matches!(DbError::from(syntax), DbError::Other(_)));
    }

    #[test]
    fn indexes_are_known_by_name_and_by_columns() {
        for (constraint, name, columns) in UNIQUE_INDEXES {
            assert_eq!(Constraint::by_name(name), constraint);
            assert_eq!(
                Constraint::by_sqlite_message(&format!("UNIQUE constraint failed: {columns}")),
                constraint
            );
            assert_eq!(constraint.name(), name);
        }
        assert_eq!(Constraint::by_name("pk_node_property"), Constraint::Unknown);
    }

    #[test]
    fn mysql_duplicates_name_their_key() {
        assert_eq!(
            Constraint::by_mysql_message("Duplicate entry 'a-0--x' for key 'ux_node_name'"),
            Constraint::NodeName
        );
        assert_eq!(
            Constraint::by_mysql_message(
                "Duplicate entry '1-2-INPUT' for key 'lineage_edge.ux_lineage_edge'"
            ),
            Constraint::LineageEdge
        );
        assert_eq!(
            Constraint::by_mysql_message("Duplicate entry '7' for key 'PRIMARY'"),
            Constraint::Unknown
        );
    }

    #[test]
    fn contention_is_known_on_both_servers() {
        assert!(is_contention(Some("40P01"), None));
        assert!(is_contention(Some("40001"), Some(1213)));
        assert!(is_contention(Some("HY000"), Some(1205)));
        assert!(!is_contention(Some("23505"), None));
        assert!(!is_contention(Some("42000"), Some(1064)));
    }
}
