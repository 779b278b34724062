//! Every registry object (every kind) is one row here, so ids are global across kinds.
use sea_orm::entity::prelude::*;

/// Deserialize: the OpenLineage writer maps rows it reads through rusqlite by column name.
/// Serialize: the change log keeps fields by column name.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "node")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub parent_id: Option<i64>,
    pub parent_kind: Option<String>,
    pub scope_id: i64,
    pub external_id: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub state: String,
    pub custom_properties: String,
    pub create_time: i64,
    pub last_update_time: i64,
    pub revision: i64,
    pub uri: Option<String>,
    pub model_format_name: Option<String>,
    pub model_format_version: Option<String>,
    pub storage_key: Option<String>,
    pub storage_path: Option<String>,
    pub service_account_name: Option<String>,
    pub model_source_kind: Option<String>,
    pub model_source_class: Option<String>,
    pub model_source_group: Option<String>,
    pub model_source_id: Option<String>,
    pub model_source_name: Option<String>,
    pub digest: Option<String>,
    pub source_type: Option<String>,
    pub source: Option<String>,
    pub dataset_schema: Option<String>,
    pub profile: Option<String>,
    pub metric_value: Option<f64>,
    pub metric_timestamp: Option<i64>,
    pub metric_step: Option<i64>,
    pub parameter_value: Option<String>,
    pub parameter_type: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub status: Option<String>,
    pub registered_model_id: Option<i64>,
    pub model_version_id: Option<i64>,
    pub runtime: Option<String>,
    pub readme: Option<String>,
    pub maturity: Option<String>,
    pub language: Option<String>,
    pub tasks: Option<String>,
    pub provider: Option<String>,
    pub logo: Option<String>,
    pub license: Option<String>,
    pub license_link: Option<String>,
    pub library_name: Option<String>,
    /// OpenLineage facets, as a JSON object keyed by facet name.
    pub facets: Option<String>,
    /// The run that spawned this run (OpenLineage's parent run facet).
    pub parent_run_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
