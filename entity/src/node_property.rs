//! One row per custom property, typed, so filters compare ints, doubles, strings and bools in SQL.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_property")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub value_type: String,
    pub int_value: Option<i64>,
    pub double_value: Option<f64>,
    pub string_value: Option<String>,
    pub bool_value: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
