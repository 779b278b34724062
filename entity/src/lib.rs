//! SeaORM entities for the modelgraph store. Tables only: the rules live in `registry`.
pub mod api_token;
pub mod change;
pub mod lineage_edge;
pub mod metric_history;
pub mod model_alias;
pub mod node;
pub mod node_property;
pub mod release_decision;
pub mod release_request;
pub mod role_grant;
pub mod webhook;
pub mod webhook_delivery;
