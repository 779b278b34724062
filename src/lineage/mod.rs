//! Lineage: the edge rules, recording edges, and walking the graph (level by level, each
//! node expanded once) and finding paths.
pub mod edges;
pub mod path;
pub mod walk;

pub use edges::{EdgeKind, NewEdge};
pub use walk::{Direction, WalkParams};

use std::collections::HashMap;

use entity::node;
use sea_orm::ConnectionTrait;

use crate::registry::read::find_nodes;
use crate::registry::{RegistryError, Result};
use walk::{WalkResult, hydrate, walk_groups};

/// Walk results with every node they mention.
#[derive(Debug, Default)]
pub struct Walked {
    pub results: Vec<WalkResult>,
    pub nodes: HashMap<i64, node::Model>,
}

/// Walks each group of start nodes (a group walks together); `field` names the start
/// argument in errors. Statements: one for the starts, one per level and direction, one
/// for the nodes found.
pub async fn walk_nodes<C: ConnectionTrait>(
    conn: &C,
    groups: &[Vec<i64>],
    params: &WalkParams,
    field: &str,
) -> Result<Walked> {
    let mut ids: Vec<i64> = groups.iter().flatten().copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut nodes: HashMap<i64, node::Model> = find_nodes(conn, &ids)
        .await?
        .into_iter()
        .map(|n| (n.id, n))
        .collect();
    if let Some(missing) = ids.iter().find(|id| !nodes.contains_key(id)) {
        return Err(RegistryError::NotFound(format!(
            "{field}: no node with id {missing}"
        )));
    }
    let times: HashMap<i64, i64> = nodes.values().map(|n| (n.id, n.create_time)).collect();
    let results = walk_groups(conn, groups, params, &times).await?;
    let found: Vec<WalkResult> = results
        .iter()
        .map(|r| WalkResult {
            entries: r.entries.clone(),
            ..Default::default()
        })
        .collect();
    nodes.extend(hydrate(conn, &found).await?);
    Ok(Walked { results, nodes })
}
