//! A receiver of changes: its URL, which changes, and how far it has got.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// The change filter, as JSON.
    pub filter: String,
    /// Signs each body (HMAC-SHA256); never shown.
    pub secret: String,
    pub active: bool,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Every matching change up to this sequence is delivered, or given up on.
    pub cursor: i64,
    /// Failed attempts at the next change.
    pub attempts: i32,
    /// When the next change first failed.
    pub failing_since: Option<i64>,
    /// Not retried before (ms since the epoch).
    pub next_attempt_at: i64,
    /// The server delivering, and until when: one server per webhook at a time.
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
