//! A lineage edge, pointing the way data flows (source -> target).
use sea_orm::entity::prelude::*;

/// Deserialize: rows read through rusqlite are mapped by column name.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "lineage_edge")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    pub target_id: i64,
    pub kind: String,
    pub properties: Option<String>,
    pub create_time: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
