//! Schema migrations, one file per migration; a landed migration is never edited for a
//! store it has run on (MySQL/MariaDB, added later, got its own column types in
//! [`mysql`]).
pub use sea_orm_migration::prelude::*;

mod m20261126_000001_registry;
mod m20261126_000002_metric_history;
mod m20261126_000003_openlineage;
mod m20261130_000004_version_counter;
mod m20261130_000005_identity_history;
mod m20261130_000006_release;
mod m20261130_000007_webhooks;
mod m20261201_000008_latest_version_index;
mod m20261201_000009_mysql_lookup_indexes;
mod m20261203_000010_edge_change_index;
mod m20261204_000011_sparse_indexes;
mod m20261205_000012_kind_id_index;
mod mysql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_registry::Migration),
            Box::new(m20261126_000002_metric_history::Migration),
            Box::new(m20261126_000003_openlineage::Migration),
            Box::new(m20261130_000004_version_counter::Migration),
            Box::new(m20261130_000005_identity_history::Migration),
            Box::new(m20261130_000006_release::Migration),
            Box::new(m20261130_000007_webhooks::Migration),
            Box::new(m20261201_000008_latest_version_index::Migration),
            Box::new(m20261201_000009_mysql_lookup_indexes::Migration),
            Box::new(m20261203_000010_edge_change_index::Migration),
            Box::new(m20261204_000011_sparse_indexes::Migration),
            Box::new(m20261205_000012_kind_id_index::Migration),
        ]
    }
}
