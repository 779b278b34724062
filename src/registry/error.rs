//! The one error type of the registry layer; each door maps it to its own wire format.
use sea_orm::{DbErr, SqlErr};

#[derive(Clone, Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// The stable code every door reports (`extensions.code` in GraphQL, `code` in REST).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "NOT_FOUND",
            Self::AlreadyExists(_) => "ALREADY_EXISTS",
            Self::InvalidInput { .. } => "INVALID_INPUT",
            Self::Conflict(_) => "CONFLICT",
            Self::LimitExceeded(_) => "LIMIT_EXCEEDED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message a client may see: internal details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<DbErr> for RegistryError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                Self::AlreadyExists(unique_violation_message(&detail))
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                Self::invalid("id", "refers to an object that does not exist")
            }
            _ => Self::Internal(err.to_string()),
        }
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        if let rusqlite::Error::SqliteFailure(failure, detail) = &err {
            let detail = detail.as_deref().unwrap_or_default();
            match failure.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    return Self::AlreadyExists(unique_violation_message(detail));
                }
                ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
                    return Self::invalid("id", "refers to an object that does not exist");
                }
                _ => {}
            }
        }
        Self::Internal(format!("sqlite: {err}"))
    }
}

/// Turns a driver's unique-violation text into a message naming what clashed.
fn unique_violation_message(detail: &str) -> String {
    if detail.contains("external_id") {
        "an object with this externalId already exists".to_owned()
    } else if detail.contains("ux_lineage_edge") || detail.contains("lineage_edge") {
        "this lineage edge already exists".to_owned()
    } else {
        "an object with this name already exists in its parent".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::RegistryError;

    /// A direct SQLite session reports clashes as the sqlx path does.
    #[test]
    fn sqlite_constraint_failures_map_like_sqlx_ones() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE node (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE);
             CREATE TABLE child (id INTEGER PRIMARY KEY, node_id INTEGER REFERENCES node(id));
             INSERT INTO node (id, external_id) VALUES (1, 'run-1');",
        )
        .unwrap();
        let clash = conn
            .execute("INSERT INTO node (id, external_id) VALUES (2, 'run-1')", [])
            .unwrap_err();
        match RegistryError::from(clash) {
            RegistryError::AlreadyExists(msg) => assert!(msg.contains("externalId"), "{msg}"),
            other => panic!("expected ALREADY_EXISTS, got {other:?}"),
        }
        let dangling = conn
            .execute("INSERT INTO child (id, node_id) VALUES (1, 99)", [])
            .unwrap_err();
        assert_eq!(RegistryError::from(dangling).code(), "INVALID_INPUT");
        let syntax = conn
            .execute("INSERT INTO nowhere VALUES (1)", [])
            .unwrap_err();
        assert_eq!(RegistryError::from(syntax).code(), "INTERNAL");
    }
}
