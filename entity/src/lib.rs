//! SeaORM entities for the modelgraph store. Tables only: the rules live in `registry`.
pub mod lineage_edge;
pub mod metric_history;
pub mod node;
pub mod node_property;
