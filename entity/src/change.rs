//! One committed change: who, through which door, what, to which node, before and after.
use sea_orm::entity::prelude::*;

/// Deserialize: rows read through rusqlite are mapped by column name.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "change")]
pub struct Model {
    /// Gap-free, strictly increasing commit order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sequence: i64,
    pub at: i64,
    pub actor: String,
    pub via: String,
    pub operation: String,
    pub node_id: Option<i64>,
    pub node_kind: Option<String>,
    /// The edge's other end, for edge changes.
    pub other_node_id: Option<i64>,
    /// JSON object of the fields that changed, as they were.
    pub before: Option<String>,
    /// JSON object of the fields that changed, as they became.
    pub after: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
