//! A request to point an alias at a version, decided by approvers.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "release_request")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model_id: i64,
    pub version_id: i64,
    pub alias: String,
    /// PENDING, APPROVED, REJECTED or CANCELLED.
    pub state: String,
    pub note: Option<String>,
    pub requested_by: String,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
