//! One attempt to deliver one change to one webhook.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i64,
    /// The change's sequence.
    pub sequence: i64,
    /// 1 for the first attempt at this change.
    pub attempt: i32,
    /// DELIVERED, FAILED (retried later) or GAVE_UP.
    pub outcome: String,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why it failed: the status, a timeout, a refused connection.
    pub error: Option<String>,
    pub latency_ms: i64,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
