//! The one error type of the registry layer; each door maps it to its own wire format.
use sea_orm::DbErr;

use crate::db::error::{Constraint, DbError};

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

impl From<DbError> for RegistryError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unique(constraint) => Self::AlreadyExists(
                match constraint {
                    Constraint::NodeExternalId => "an object with this externalId already exists",
                    Constraint::LineageEdge => "this lineage edge already exists",
                    Constraint::NodeName | Constraint::Unknown => {
                        "an object with this name already exists in its parent"
                    }
                }
                .to_owned(),
            ),
            DbError::ForeignKey => Self::invalid("id", "refers to an object that does not exist"),
            DbError::Other(detail) => Self::Internal(detail),
        }
    }
}

impl From<DbErr> for RegistryError {
    fn from(err: DbErr) -> Self {
        DbError::from(err).into()
    }
}
