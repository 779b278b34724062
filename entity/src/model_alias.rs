//! A name for one version of a model (`champion`, `production`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "model_alias")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub alias: String,
    /// None while a protected alias waits for its first release.
    pub version_id: Option<i64>,
    pub set_by: String,
    pub set_at: i64,
    /// Moves only through an approved release request.
    pub protected: bool,
    pub required_approvals: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
