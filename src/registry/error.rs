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
    /// The transaction lost to a concurrent one (a deadlock, a serialization failure, a
    /// Galera certification conflict): `CONFLICT` to clients, and running the whole
    /// transaction again may succeed (`registry::history::transact!` does).
    #[error("{0}")]
    Contention(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// No credential, or one that does not check out.
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller without the role this needs.
    #[error("{0}")]
    Forbidden(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// The codes clients see; DESIGN.md lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    NotFound,
    AlreadyExists,
    InvalidInput,
    Conflict,
    LimitExceeded,
    Unauthenticated,
    Forbidden,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::InvalidInput => "INVALID_INPUT",
            Self::Conflict => "CONFLICT",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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

    /// The stable code every door reports (`extensions.code` in GraphQL; the HTTP
    /// status elsewhere, `http::error::status_of`).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::InvalidInput { .. } => ErrorCode::InvalidInput,
            Self::Conflict(_) | Self::Contention(_) => ErrorCode::Conflict,
            Self::LimitExceeded(_) => ErrorCode::LimitExceeded,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Logs the details of an internal error, which no client sees.
    pub fn log_internal(&self) {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
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
            DbError::Contention(_) => Self::Contention(
                "another write to the same objects won at the same time: retry".to_owned(),
            ),
            DbError::Other(detail) => Self::Internal(detail),
        }
    }
}

impl From<DbErr> for RegistryError {
    fn from(err: DbErr) -> Self {
        DbError::from(err).into()
    }
}
